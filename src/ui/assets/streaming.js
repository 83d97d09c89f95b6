// The Streaming page: the statistics header, timelines and histograms of input rate, scheduling
// delay, processing time and total delay, the receivers, Sluice's state and checkpoint charts
// and the Active and Completed Batches tables, refreshed in place about every second.
'use strict';

(() => {
  const S = Sluice;
  const kColors = ['#0658b1', '#e25a1c', '#2ca02c', '#9467bd', '#8c564b', '#17becf'];
  const kHistogramBins = 10;

  // ---- charts ----

  function timeTick(value) {
    const d = new Date(value);
    return [d.getHours(), d.getMinutes(), d.getSeconds()]
        .map((n) => String(n).padStart(2, '0')).join(':');
  }

  // A line chart of batch time -> value; `format` labels the y axis; a click on a point opens
  // that batch's page. With `withInterval`, a dashed line marks the batch interval.
  function timeline(canvasId, format, withInterval = false) {
    const datasets = [{label: 'value', data: [], borderColor: kColors[0], borderWidth: 1.5,
                       pointRadius: 2, backgroundColor: kColors[0]}];
    if (withInterval) {
      datasets.push({label: 'batch interval', data: [], borderColor: '#888', borderWidth: 1,
                     borderDash: [6, 4], pointRadius: 0});
    }
    return new Chart(document.getElementById(canvasId), {
      type: 'line',
      data: {datasets},
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        plugins: {legend: {display: false},
                  tooltip: {callbacks: {title: (items) => S.formatDate(items[0].parsed.x, true),
                                        label: (item) => format(item.parsed.y)}}},
        scales: {x: {type: 'linear', ticks: {callback: timeTick, maxTicksLimit: 6}},
                 y: {beginAtZero: true, ticks: {callback: format, maxTicksLimit: 5, precision: 0}}},
        onClick: (event, elements) => {
          const hit = elements.find((e) => e.datasetIndex === 0);
          if (hit) {
            const batchId = datasets[0].data[hit.index].x;
            window.location.href = `/streaming/batch/?id=${batchId}`;
          }
        },
      },
    });
  }

  function histogram(canvasId, format) {
    return new Chart(document.getElementById(canvasId), {
      type: 'bar',
      data: {labels: [], datasets: [{label: 'batches', data: [], backgroundColor: '#a3cfee',
                                     borderColor: kColors[0], borderWidth: 1}]},
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: 'y',
        plugins: {legend: {display: false}},
        scales: {x: {beginAtZero: true, title: {display: true, text: '#batches'},
                     ticks: {precision: 0}},
                 // The lowest bin at the bottom, level with the timeline's zero.
                 y: {reverse: true, ticks: {callback(value) {
                   return format(this.chart.data.labels[value]);
                 }}}},
      },
    });
  }

  function setTimeline(chart, points, intervalMs) {
    chart.data.datasets[0].data = points;
    if (chart.data.datasets.length > 1) {
      chart.data.datasets[1].data = points.length === 0 ? [] :
          [{x: points[0].x, y: intervalMs}, {x: points[points.length - 1].x, y: intervalMs}];
    }
    chart.update('none');
  }

  // Bins of equal width from 0 to the largest value, labelled by their lower bound.
  function setHistogram(chart, values) {
    const max = values.length === 0 ? 0 : Math.max(...values);
    const width = max > 0 ? max / kHistogramBins : 1;
    const counts = new Array(kHistogramBins).fill(0);
    for (const v of values) counts[Math.min(kHistogramBins - 1, Math.floor(v / width))] += 1;
    chart.data.labels = counts.map((_, i) => i * width);
    chart.data.datasets[0].data = counts;
    chart.update('none');
  }

  const rate = (v) => S.formatNumber(v, 2);
  const charts = {
    inputRate: [timeline('input-rate-timeline', rate), histogram('input-rate-histogram', rate)],
    schedulingDelay: [timeline('scheduling-delay-timeline', S.formatDuration),
                      histogram('scheduling-delay-histogram', S.formatDuration)],
    processingTime: [timeline('processing-time-timeline', S.formatDuration, true),
                     histogram('processing-time-histogram', S.formatDuration)],
    totalDelay: [timeline('total-delay-timeline', S.formatDuration),
                 histogram('total-delay-histogram', S.formatDuration)],
  };
  let stateChart = null;
  let checkpointChart = null;

  // ---- tables ----

  const tables = {};

  // The table under `parentId`, rebuilt when its headers change (the Error column comes and goes
  // with failures, as in Spark).
  function tableWith(parentId, id, headers) {
    const key = headers.join('|');
    if (!tables[id] || tables[id].key !== key) {
      const parent = document.getElementById(parentId);
      parent.replaceChildren();
      tables[id] = {key, table: S.makeTable(parent, id, headers)};
    }
    return tables[id].table;
  }

  function batchLink(batch, intervalMs) {
    return S.el('a', {href: `/streaming/batch/?id=${batch.batchId}`},
                S.formatDate(batch.batchId, intervalMs < 1000));
  }

  function outputOps(batch) {
    return S.progress(batch.numCompletedOutputOps ?? 0, batch.numTotalOutputOps ?? 0,
                      batch.numFailedOutputOps ?? 0);
  }

  function renderActiveBatches(active, intervalMs) {
    const withError = active.some((b) => b.firstFailureReason);
    const headers = ['Batch Time', 'Records', 'Scheduling Delay', 'Processing Time',
                     'Output Ops: Succeeded/Total', 'Status'];
    if (withError) headers.push('Error');
    const table = tableWith('active-batches', 'active-batches-table', headers);
    // Queued batches have later times than the processing one: newest first, as Spark.
    S.fillTable(table, active.map((b) => {
      const row = [batchLink(b, intervalMs), S.formatNumber(b.inputSize),
                   S.formatDuration(b.schedulingDelay), S.formatDuration(b.processingTime),
                   outputOps(b), b.status === 'QUEUED' ? 'queued' : 'processing'];
      if (withError) row.push({content: b.firstFailureReason || '', className: 'error'});
      return row;
    }));
    document.getElementById('active-batches-title').textContent =
        `Active Batches (${active.length})`;
  }

  function renderCompletedBatches(completed, total, intervalMs) {
    const withError = completed.some((b) => b.firstFailureReason);
    const headers = ['Batch Time', 'Records', 'Scheduling Delay', 'Processing Time',
                     'Total Delay', 'Output Ops: Succeeded/Total'];
    if (withError) headers.push('Error');
    const table = tableWith('completed-batches', 'completed-batches-table', headers);
    S.fillTable(table, completed.map((b) => {
      const row = [batchLink(b, intervalMs), S.formatNumber(b.inputSize),
                   S.formatDuration(b.schedulingDelay), S.formatDuration(b.processingTime),
                   S.formatDuration(b.totalDelay), outputOps(b)];
      if (withError) row.push({content: b.firstFailureReason || '', className: 'error'});
      return row;
    }));
    document.getElementById('completed-batches-title').textContent =
        `Completed Batches (last ${completed.length} out of ${total})`;
  }

  function renderReceivers(receivers) {
    const table = tableWith('receivers', 'receivers-table',
                            ['Receiver', 'Status', 'Avg Rate [events/sec]', 'Last Error']);
    S.fillTable(table, receivers.map((r) => [
      `${r.streamName} (stream ${r.streamId})`,
      {content: r.isActive ? 'ACTIVE' : 'INACTIVE', className: r.isActive ? '' : 'error'},
      S.formatNumber(r.avgEventRate, 2),
      {content: r.lastErrorMessage || '-', className: r.lastErrorMessage ? 'error' : ''},
    ]), 'No receivers');
  }

  // Sluice's state of each stateful stream: a table of the latest sizes, and keys (solid) and
  // bytes (dashed, right axis) over the retained batches.
  function renderState(streams) {
    const section = document.getElementById('state-section');
    section.hidden = streams.length === 0;
    if (streams.length === 0) return;
    const table = tableWith('state', 'state-table',
                            ['Stream', 'Keys', 'Size', 'Last Updated Batch']);
    S.fillTable(table, streams.map((s) => [
      s.name, S.formatNumber(s.keys), S.formatBytes(s.bytes),
      s.batchTime !== undefined ? S.formatDate(s.batchTime, true) : '-',
    ]));
    if (stateChart === null) {
      stateChart = new Chart(document.getElementById('state-timeline'), {
        type: 'line',
        data: {datasets: []},
        options: {
          animation: false, maintainAspectRatio: false, parsing: false,
          scales: {x: {type: 'linear', ticks: {callback: timeTick, maxTicksLimit: 6}},
                   keys: {position: 'left', beginAtZero: true, title: {display: true, text: 'keys'}},
                   bytes: {position: 'right', beginAtZero: true, grid: {drawOnChartArea: false},
                           ticks: {callback: S.formatBytes}}},
        },
      });
    }
    stateChart.data.datasets = streams.flatMap((s, i) => {
      const color = kColors[i % kColors.length];
      const history = s.history || [];
      return [
        {label: `${s.name} keys`, yAxisID: 'keys', borderColor: color, backgroundColor: color,
         pointRadius: 1, data: history.map(([t, keys]) => ({x: t, y: keys}))},
        {label: `${s.name} size`, yAxisID: 'bytes', borderColor: color, borderDash: [5, 3],
         pointRadius: 0, data: history.map(([t, , bytes]) => ({x: t, y: bytes}))},
      ];
    });
    stateChart.update('none');
  }

  // Sluice's checkpoints: how long each took (left axis) and its size (right axis).
  function renderCheckpoints(checkpoints) {
    const section = document.getElementById('checkpoint-section');
    section.hidden = checkpoints.length === 0;
    if (checkpoints.length === 0) return;
    const last = checkpoints[checkpoints.length - 1];
    document.getElementById('checkpoint-count').textContent = checkpoints.length;
    document.getElementById('checkpoint-full-count').textContent =
        checkpoints.filter((c) => c.full).length;
    document.getElementById('checkpoint-last').textContent =
        `batch ${S.formatDate(last.batchTime, true)}: ${S.formatDuration(last.duration)}, ` +
        `${S.formatBytes(last.bytes)}${last.full ? ' (full)' : ''}`;
    if (checkpointChart === null) {
      checkpointChart = new Chart(document.getElementById('checkpoint-timeline'), {
        type: 'line',
        data: {datasets: [
          {label: 'duration', yAxisID: 'duration', borderColor: kColors[0],
           backgroundColor: kColors[0], pointRadius: 2, data: []},
          {label: 'size', yAxisID: 'bytes', borderColor: kColors[1], backgroundColor: kColors[1],
           borderDash: [5, 3], pointRadius: 2, data: []},
        ]},
        options: {
          animation: false, maintainAspectRatio: false, parsing: false,
          scales: {x: {type: 'linear', ticks: {callback: timeTick, maxTicksLimit: 6}},
                   duration: {position: 'left', beginAtZero: true,
                              ticks: {callback: S.formatDuration}},
                   bytes: {position: 'right', beginAtZero: true, grid: {drawOnChartArea: false},
                           ticks: {callback: S.formatBytes}}},
        },
      });
    }
    checkpointChart.data.datasets[0].data = checkpoints.map((c) => ({x: c.batchTime, y: c.duration}));
    checkpointChart.data.datasets[1].data = checkpoints.map((c) => ({x: c.batchTime, y: c.bytes}));
    checkpointChart.update('none');
  }

  // ---- refresh ----

  function setText(id, text) {
    document.getElementById(id).textContent = text;
  }

  async function refresh() {
    const stats = await S.apiOrNull('/streaming/statistics');
    document.getElementById('no-streaming').hidden = stats !== null;
    if (stats === null) return;
    const [batches, receivers, state, checkpoints] = await Promise.all([
      S.api('/streaming/batches'), S.api('/streaming/receivers'),
      S.apiOrNull('/streaming/state'), S.apiOrNull('/streaming/checkpoints')]);
    const intervalMs = stats.batchDuration;
    const startMs = S.toMs(stats.startTime);

    setText('batch-interval', S.formatDuration(intervalMs));
    setText('running-for', startMs === null ? '-' : S.formatDurationVerbose(Date.now() - startMs));
    setText('start-time', S.formatDate(startMs));
    setText('completed-count', S.formatNumber(stats.numTotalCompletedBatches));
    setText('received-records', S.formatNumber(stats.numReceivedRecords));
    setText('avg-input-rate', S.formatNumber(stats.avgInputRate, 2));
    setText('avg-scheduling-delay', S.formatDuration(stats.avgSchedulingDelay));
    setText('avg-processing-time', S.formatDuration(stats.avgProcessingTime));
    setText('avg-total-delay', S.formatDuration(stats.avgTotalDelay));
    setText('receivers-summary', stats.numReceivers > 0 ?
        `Receivers: ${stats.numActiveReceivers} / ${stats.numReceivers} active` : '');

    const byTime = (a, b) => a.batchId - b.batchId;
    const completed = batches.filter((b) => b.status === 'COMPLETED').sort(byTime);
    const active = batches.filter((b) => b.status !== 'COMPLETED').sort(byTime).reverse();
    setText('timeline-count', completed.length);
    setText('timeline-active', active.length);
    setText('timeline-completed', completed.length);

    const series = (value) => completed.filter((b) => value(b) !== undefined && value(b) !== null)
                                  .map((b) => ({x: b.batchId, y: value(b)}));
    const inputRate = (b) => (intervalMs > 0 ? (b.inputSize * 1000) / intervalMs : 0);
    const update = ([line, hist], points) => {
      setTimeline(line, points, intervalMs);
      setHistogram(hist, points.map((p) => p.y));
    };
    update(charts.inputRate, series(inputRate));
    update(charts.schedulingDelay, series((b) => b.schedulingDelay));
    update(charts.processingTime, series((b) => b.processingTime));
    update(charts.totalDelay, series((b) => b.totalDelay));

    renderReceivers(receivers);
    renderState(state || []);
    renderCheckpoints(checkpoints || []);
    renderActiveBatches(active, intervalMs);
    renderCompletedBatches([...completed].reverse(), stats.numTotalCompletedBatches, intervalMs);
  }

  S.renderNav('streaming');
  S.poll(refresh);
})();
