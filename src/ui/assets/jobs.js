// The Jobs page: every retained job of the application (batch programs' and streaming batches'),
// as Active, Completed and Failed tables, refreshed in place.
'use strict';

(() => {
  const S = Sluice;
  const content = document.getElementById('content');
  const sections = {};
  for (const [status, title] of [['RUNNING', 'Active Jobs'], ['SUCCEEDED', 'Completed Jobs'],
                                 ['FAILED', 'Failed Jobs']]) {
    const heading = S.el('h4', {}, title);
    content.append(heading);
    const table = S.makeTable(content, `${status.toLowerCase()}-jobs-table`,
                              ['Job Id', 'Description', 'Submitted', 'Duration',
                               'Stages: Succeeded/Total', 'Tasks (for all stages): Succeeded/Total']);
    sections[status] = {heading, table, title};
  }

  function row(job) {
    const submitted = S.toMs(job.submissionTime);
    const end = S.toMs(job.completionTime) ?? (job.status === 'RUNNING' ? Date.now() : null);
    return [
      S.el('a', {href: `/jobs/job/?id=${job.jobId}`}, String(job.jobId)),
      S.jobDescription(job),
      S.formatDate(submitted),
      submitted !== null && end !== null ? S.formatDuration(end - submitted) : '-',
      S.progress(job.numCompletedStages ?? 0, (job.stageIds || []).length,
                 job.numFailedStages ?? 0),
      S.progress(job.numCompletedTasks ?? 0, job.numTasks ?? 0, job.numFailedTasks ?? 0),
    ];
  }

  async function refresh() {
    const [app, jobs] = await Promise.all([S.app(), S.api('/jobs')]);
    const sorted = [...jobs].sort((a, b) => b.jobId - a.jobId);
    const startMs = S.toMs(app.attempts && app.attempts[0] && app.attempts[0].startTime);
    const summary = document.getElementById('summary');
    const counts = {};
    for (const [status, section] of Object.entries(sections)) {
      const selected = sorted.filter((j) => j.status === status);
      counts[status] = selected.length;
      section.heading.textContent = `${section.title} (${selected.length})`;
      S.fillTable(section.table, selected.map(row));
    }
    summary.replaceChildren(
        S.el('li', {}, S.el('strong', {}, 'Total Uptime: '),
             startMs === null ? '-' : S.formatDurationVerbose(Date.now() - startMs)),
        S.el('li', {}, S.el('strong', {}, 'Active Jobs: '), String(counts.RUNNING)),
        S.el('li', {}, S.el('strong', {}, 'Completed Jobs: '), String(counts.SUCCEEDED)),
        S.el('li', {}, S.el('strong', {}, 'Failed Jobs: '), String(counts.FAILED)));
  }

  S.renderNav('jobs');
  S.poll(refresh);
})();
