// A job's page (?id=<job id>): its status, times and tasks, and its stages.
'use strict';

(() => {
  const S = Sluice;
  const jobId = S.param('id');
  const content = document.getElementById('content');
  content.append(S.el('h4', {}, 'Stages'));
  const stagesTable = S.makeTable(content, 'job-stages-table', S.kStageHeaders);

  function item(label, value) {
    return S.el('li', {}, S.el('strong', {}, `${label}: `), value);
  }

  async function refresh() {
    const title = document.getElementById('page-title');
    if (jobId === null || !/^\d+$/.test(jobId)) {
      title.textContent = 'Missing or bad job id (?id=<job id>)';
      return;
    }
    const [job, stages] = await Promise.all([S.api(`/jobs/${jobId}`), S.api('/stages')]);
    title.textContent = `Details for Job ${job.jobId}`;
    const submitted = S.toMs(job.submissionTime);
    const end = S.toMs(job.completionTime) ?? (job.status === 'RUNNING' ? Date.now() : null);
    const ids = new Set(job.stageIds || []);
    const summary = [
      item('Status', job.status),
      item('Description', S.jobDescription(job)),
      item('Submitted', S.formatDate(submitted)),
      item('Duration', submitted !== null && end !== null ? S.formatDuration(end - submitted) : '-'),
      item('Tasks: Succeeded/Total', `${job.numCompletedTasks ?? 0}/${job.numTasks ?? 0}`),
    ];
    if (job.jobGroup) summary.push(item('Job Group', job.jobGroup));
    document.getElementById('summary').replaceChildren(...summary);
    const own = stages.filter((s) => ids.has(s.stageId)).sort((a, b) => b.stageId - a.stageId);
    S.fillTable(stagesTable, S.stageRows(own));
  }

  S.renderNav('jobs');
  S.poll(refresh);
})();
