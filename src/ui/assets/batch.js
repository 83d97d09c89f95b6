// A batch's page: its times and record count, and its output operations, each with the jobs it
// ran (linked to their pages), refreshed in place while the batch runs.
'use strict';

(() => {
  const S = Sluice;
  const batchId = S.param('id');

  function setText(id, text) {
    document.getElementById(id).textContent = text;
  }

  function operationStatus(op) {
    if (op.failureReason) return {content: 'Failed', className: 'status-failed'};
    if (S.toMs(op.endTime) !== null) return 'Succeeded';
    if (S.toMs(op.startTime) !== null) return {content: 'Running', className: 'status-running'};
    return 'Queued';
  }

  function jobCells(job, id) {
    if (!job) return [String(id), '-', '-', '-'];
    const submitted = S.toMs(job.submissionTime);
    const end = S.toMs(job.completionTime) ?? (job.status === 'RUNNING' ? Date.now() : null);
    return [
      S.el('a', {href: `/jobs/job/?id=${job.jobId}`}, String(job.jobId)),
      submitted !== null && end !== null ? S.formatDuration(end - submitted) : '-',
      S.progress(job.numCompletedStages ?? 0, (job.stageIds || []).length,
                 job.numFailedStages ?? 0),
      S.progress(job.numCompletedTasks ?? 0, job.numTasks ?? 0, job.numFailedTasks ?? 0),
    ];
  }

  async function refresh() {
    if (batchId === null || !/^\d+$/.test(batchId)) {
      setText('batch-title', 'Missing or bad batch id (?id=<batch time in ms>)');
      return;
    }
    const [batch, operations] = await Promise.all([
      S.api(`/streaming/batches/${batchId}`), S.api(`/streaming/batches/${batchId}/operations`)]);
    const jobIds = [...new Set(operations.flatMap((op) => op.jobIds || []))];
    const jobs = new Map();
    await Promise.all(jobIds.map(async (id) => {
      jobs.set(id, await S.apiOrNull(`/jobs/${id}`));
    }));

    const interval = batch.batchDuration;
    setText('batch-title', `Details of batch at ${S.formatDate(Number(batchId), interval < 1000)}`);
    setText('batch-duration', S.formatDuration(interval));
    setText('input-size', S.formatNumber(batch.inputSize));
    setText('batch-status', batch.status);
    setText('scheduling-delay', S.formatDuration(batch.schedulingDelay));
    setText('processing-time', S.formatDuration(batch.processingTime));
    setText('total-delay', S.formatDuration(batch.totalDelay));

    // One row per job of each operation; the operation's own cells span its jobs' rows.
    const rows = [];
    for (const op of [...operations].sort((a, b) => a.outputOpId - b.outputOpId)) {
      const ids = op.jobIds && op.jobIds.length > 0 ? op.jobIds : [null];
      const span = ids.length;
      ids.forEach((id, i) => {
        const cells = id === null ? ['-', '-', '-', '-'] : jobCells(jobs.get(id), id);
        if (i === 0) {
          const status = operationStatus(op);
          rows.push([
            {content: String(op.outputOpId), rowspan: span},
            {content: op.description || op.name, rowspan: span},
            {content: S.formatDuration(op.duration), rowspan: span},
            typeof status === 'string' ? {content: status, rowspan: span} :
                                         {...status, rowspan: span},
            ...cells,
            {content: op.failureReason || '', className: 'error', rowspan: span},
          ]);
        } else {
          rows.push(cells);
        }
      });
    }
    S.fillTable(document.getElementById('output-ops-table'), rows, 'No output operations');
  }

  S.renderNav('streaming');
  S.poll(refresh);
})();
