// The Environment page: the application and the settings its Context was made with.
'use strict';

(() => {
  const S = Sluice;
  const content = document.getElementById('content');
  content.append(S.el('h4', {}, 'Runtime Information'));
  const runtimeTable = S.makeTable(content, 'runtime-table', ['Name', 'Value']);
  content.append(S.el('h4', {}, 'Spark Properties'));
  const propertiesTable = S.makeTable(content, 'properties-table', ['Name', 'Value']);

  async function refresh() {
    const [app, environment] = await Promise.all([S.app(), S.api('/environment')]);
    const attempt = (app.attempts && app.attempts[0]) || {};
    const runtime = [['Application ID', app.id], ['Application Name', app.name],
                     ['Start Time', S.formatDate(S.toMs(attempt.startTime))]];
    if (attempt.sparkUser) runtime.push(['User', attempt.sparkUser]);
    if (attempt.appSparkVersion) runtime.push(['Version', attempt.appSparkVersion]);
    S.fillTable(runtimeTable, runtime);
    S.fillTable(propertiesTable, environment.sparkProperties || []);
  }

  S.renderNav('environment');
  S.poll(refresh);
})();
