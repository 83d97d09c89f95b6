// The Stages page: every retained stage, as Active, Completed and Failed tables.
'use strict';

(() => {
  const S = Sluice;
  const content = document.getElementById('content');
  const sections = {};
  for (const [status, title] of [['ACTIVE', 'Active Stages'], ['COMPLETE', 'Completed Stages'],
                                 ['FAILED', 'Failed Stages']]) {
    const heading = S.el('h4', {}, title);
    content.append(heading);
    const headers = status === 'FAILED' ? [...S.kStageHeaders, 'Failure Reason'] : S.kStageHeaders;
    const table = S.makeTable(content, `${status.toLowerCase()}-stages-table`, headers);
    sections[status] = {heading, table, title};
  }

  async function refresh() {
    const stages = await S.api('/stages');
    const sorted = [...stages].sort((a, b) => b.stageId - a.stageId);
    const items = [];
    for (const [status, section] of Object.entries(sections)) {
      const selected = sorted.filter((s) => s.status === status);
      section.heading.textContent = `${section.title} (${selected.length})`;
      S.fillTable(section.table, S.stageRows(selected, status === 'FAILED'));
      items.push(S.el('li', {}, S.el('strong', {}, `${section.title}: `), String(selected.length)));
    }
    document.getElementById('summary').replaceChildren(...items);
  }

  S.renderNav('stages');
  S.poll(refresh);
})();
