// Shared by every page of the web UI: the tab bar, the REST API calls, Spark's formats for times,
// durations and sizes, DOM helpers and the live refresh (each page polls the API about once a
// second and updates itself in place, without reloading).
'use strict';

const Sluice = (() => {
  const kRefreshMs = 1000;
  let application = null;  // {id, name, ...} of /api/v1/applications

  async function fetchJson(url) {
    const response = await fetch(url, {cache: 'no-store'});
    if (!response.ok) {
      const error = new Error(`${url}: ${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  async function app() {
    if (application === null) {
      const apps = await fetchJson('/api/v1/applications');
      if (apps.length === 0) throw new Error('no application');
      application = apps[0];
    }
    return application;
  }

  // GET /api/v1/applications/<id><path>.
  async function api(path) {
    const {id} = await app();
    return fetchJson(`/api/v1/applications/${encodeURIComponent(id)}${path}`);
  }

  // Like api(), but null where the endpoint answers 404 (e.g. no StreamingContext yet).
  async function apiOrNull(path) {
    try {
      return await api(path);
    } catch (error) {
      if (error.status === 404) return null;
      throw error;
    }
  }

  // Milliseconds since the epoch of a REST date ("2024-05-01T10:00:00.000GMT") or a number.
  function toMs(date) {
    if (date === undefined || date === null) return null;
    if (typeof date === 'number') return date;
    const ms = Date.parse(String(date).replace(/GMT$/, 'Z'));
    return Number.isNaN(ms) ? null : ms;
  }

  function pad(n, width = 2) {
    return String(n).padStart(width, '0');
  }

  // "2024/05/01 10:00:00" in local time; with milliseconds when `withMs`.
  function formatDate(ms, withMs = false) {
    if (ms === null || ms === undefined) return '-';
    const d = new Date(ms);
    const text = `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return withMs ? `${text}.${pad(d.getMilliseconds(), 3)}` : text;
  }

  // Spark's short durations: "45 ms", "0.4 s", "12 s", "3.5 min", "2.0 h".
  function formatDuration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return '-';
    if (ms < 100) return `${Math.round(ms)} ms`;
    const seconds = ms / 1000;
    if (seconds < 1) return `${seconds.toFixed(1)} s`;
    if (seconds < 60) return `${Math.round(seconds)} s`;
    const minutes = seconds / 60;
    if (minutes < 60) return `${minutes.toFixed(1)} min`;
    return `${(minutes / 60).toFixed(1)} h`;
  }

  // Spark's long durations for "running for": "1 hour 2 minutes", "3 minutes 4 seconds".
  function formatDurationVerbose(ms) {
    const plural = (n, unit) => `${n} ${unit}${n === 1 ? '' : 's'}`;
    const total = Math.max(0, Math.floor(ms / 1000));
    const days = Math.floor(total / 86400);
    const hours = Math.floor(total / 3600) % 24;
    const minutes = Math.floor(total / 60) % 60;
    const seconds = total % 60;
    if (days > 0) return `${plural(days, 'day')} ${plural(hours, 'hour')}`;
    if (hours > 0) return `${plural(hours, 'hour')} ${plural(minutes, 'minute')}`;
    if (minutes > 0) return `${plural(minutes, 'minute')} ${plural(seconds, 'second')}`;
    return plural(seconds, 'second');
  }

  function formatBytes(bytes) {
    if (bytes === null || bytes === undefined) return '-';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      ++unit;
    }
    return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
  }

  function formatNumber(n, digits = 0) {
    if (n === null || n === undefined || Number.isNaN(n)) return '-';
    return Number(n).toLocaleString('en-US', {maximumFractionDigits: digits,
                                              minimumFractionDigits: digits});
  }

  // A DOM element: el('a', {href: '/x'}, 'text', child, ...). Text is never parsed as HTML.
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'className') {
        node.className = value;
      } else {
        node.setAttribute(name, value);
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // "succeeded/total" over a bar, as Spark's progress cells; `failed` noted after it.
  function progress(succeeded, total, failed = 0) {
    const width = total > 0 ? Math.min(100, (100 * succeeded) / total) : 0;
    const label = `${succeeded}/${total}` + (failed > 0 ? ` (${failed} failed)` : '');
    return el('div', {className: 'progress'}, el('div', {className: 'bar', style: `width: ${width}%`}),
              el('span', {className: 'text'}, label));
  }

  // Replaces the body of `table` with one row per element of `rows` (arrays of cells: text,
  // nodes, or {content, className, rowspan}); `empty` is shown when there are none.
  function fillTable(table, rows, empty = 'None') {
    const body = table.tBodies[0] || table.appendChild(document.createElement('tbody'));
    const columns = table.tHead ? table.tHead.rows[0].cells.length : 1;
    const fresh = document.createElement('tbody');
    if (rows.length === 0) {
      fresh.append(el('tr', {}, el('td', {colspan: columns, className: 'muted'}, empty)));
    }
    for (const row of rows) {
      const tr = document.createElement('tr');
      for (const cell of row) {
        if (cell !== null && typeof cell === 'object' && !(cell instanceof Node)) {
          tr.append(el('td', {className: cell.className, rowspan: cell.rowspan}, cell.content));
        } else {
          tr.append(el('td', {}, cell));
        }
      }
      fresh.append(tr);
    }
    // Unchanged rows stay as they are (a selection or a hovered link survives the refresh).
    if (fresh.innerHTML !== body.innerHTML) table.replaceChild(fresh, body);
  }

  // A table with the given column headers, under `parent`.
  function makeTable(parent, id, headers) {
    const table = el('table', {className: 'ui-table', id},
                     el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
                     el('tbody'));
    parent.append(table);
    return table;
  }

  function param(name) {
    return new URLSearchParams(window.location.search).get(name);
  }

  // The tab bar, with `active` ("jobs", "stages", "streaming", "environment") highlighted; the
  // Streaming tab only once a StreamingContext has started, as in Spark.
  async function renderNav(active) {
    const nav = document.getElementById('tabs');
    const tabs = [['jobs', 'Jobs', '/jobs/'], ['stages', 'Stages', '/stages/'],
                  ['environment', 'Environment', '/environment/']];
    let streaming = false;
    try {
      streaming = (await apiOrNull('/streaming/statistics')) !== null;
    } catch (error) {
      streaming = false;
    }
    if (streaming) tabs.push(['streaming', 'Streaming', '/streaming/']);
    const {name} = await app();
    nav.replaceChildren(
        el('span', {className: 'brand'}, 'Sluice'),
        ...tabs.map(([key, label, href]) =>
                        el('a', {className: key === active ? 'tab active' : 'tab', href}, label)),
        el('span', {className: 'app'}, `${name} application UI`));
  }

  // Runs `refresh` now and again about every second after each run ends; a failed run is shown
  // in #load-error and retried.
  function poll(refresh) {
    const errorBox = document.getElementById('load-error');
    const run = async () => {
      try {
        await refresh();
        if (errorBox) errorBox.textContent = '';
      } catch (error) {
        if (errorBox) errorBox.textContent = `Could not refresh: ${error.message}`;
      }
      window.setTimeout(run, kRefreshMs);
    };
    run();
  }

  function jobDescription(job) {
    return job.description || job.name || `Job ${job.jobId}`;
  }

  // Rows of Spark's stage table: Stage Id, Description, Submitted, Duration, Tasks,
  // Input, Output, Shuffle Read, Shuffle Write (records), and Failure Reason when `withFailure`.
  function stageRows(stages, withFailure = false) {
    const now = Date.now();
    return stages.map((s) => {
      const submitted = toMs(s.submissionTime);
      const end = toMs(s.completionTime) ?? (s.status === 'ACTIVE' ? now : null);
      const row = [
        String(s.stageId),
        s.description || s.name || '',
        formatDate(submitted),
        submitted !== null && end !== null ? formatDuration(end - submitted) : '-',
        progress(s.numCompleteTasks ?? 0, s.numTasks ?? 0, s.numFailedTasks ?? 0),
        formatNumber(s.inputRecords),
        formatNumber(s.outputRecords),
        formatNumber(s.shuffleReadRecords),
        formatNumber(s.shuffleWriteRecords),
      ];
      if (withFailure) row.push({content: s.failureReason || '', className: 'error'});
      return row;
    });
  }

  const kStageHeaders = ['Stage Id', 'Description', 'Submitted', 'Duration',
                         'Tasks: Succeeded/Total', 'Input Records', 'Output Records',
                         'Shuffle Read Records', 'Shuffle Write Records'];

  return {
    api, apiOrNull, app, el, fillTable, formatBytes, formatDate, formatDuration,
    formatDurationVerbose, formatNumber, jobDescription, kStageHeaders, makeTable, param, poll,
    progress, renderNav, stageRows, toMs,
  };
})();
