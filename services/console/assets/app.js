// The console's pages: plain DOM, no build step. Every view fetches /api on the same
// origin and re-renders its data container every REFRESH_MS; forms sit outside those
// containers so a refresh never eats what the operator is typing.
'use strict';

const REFRESH_MS = 5000;
const AUTH_KEY = 'kafka-gateway-console-authorization';
let refreshTimer = null;
let overviewCache = null;
// Bumped on every navigation: a page whose answer arrives after the operator moved on
// (a slow topic list, say) must not draw over the page now shown.
let generation = 0;

class StaleRender extends Error {}

async function fresh(promise, mine) {
  const value = await promise;
  if (mine !== generation) throw new StaleRender();
  return value;
}

// ---------------------------------------------------------------- helpers

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// replaceChildren without the nulls that conditional parts leave (it would print "null").
function put(element, ...children) {
  element.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined));
}

function table(id, headers, rows) {
  return h('table', { id },
    h('thead', {}, h('tr', {}, headers.map((title) => h('th', {}, title)))),
    h('tbody', {}, rows));
}

function numberCell(value, className) {
  return h('td', { class: 'num ' + (className || '') }, value === null || value === undefined ? '–' : value);
}

class ApiError extends Error {
  constructor(status, message) {
    super(status + ': ' + message);
    this.status = status;
  }
}

async function api(path, options) {
  const init = Object.assign({ headers: {} }, options || {});
  const authorization = sessionStorage.getItem(AUTH_KEY);
  if (authorization) init.headers.Authorization = authorization;
  if (init.json !== undefined) {
    init.body = JSON.stringify(init.json);
    init.headers['Content-Type'] = 'application/json';
    delete init.json;
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (response.status === 401) {
    showLogin();
    throw new ApiError(401, (body && body.message) || 'authentication required');
  }
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.message) || text || response.statusText);
  }
  return body;
}

function notice(message) {
  const element = document.getElementById('notice');
  element.textContent = message || '';
  element.hidden = !message;
}

function showLogin() {
  document.getElementById('login').hidden = false;
}

function decoded(value) {
  if (!value) return h('span', { class: 'format' }, 'null');
  const label = value.format === 'schema' ? 'schema id ' + value.schema_id : value.format;
  return [h('span', { class: 'format' }, label), h('pre', {}, value.text)];
}

function isAdmin() {
  return !overviewCache || overviewCache.role === 'admin';
}

function chart(container, title, seriesLabels, data) {
  put(container);
  if (!data[0].length) {
    container.append(h('p', {}, 'no samples yet'));
    return;
  }
  const series = [{}].concat(seriesLabels.map((label, index) => ({
    label, stroke: ['#2f80ed', '#eb5757', '#27ae60'][index % 3], width: 2,
    scale: index === 0 ? 'y' : 'y' + index,
  })));
  const axes = [{}].concat(seriesLabels.map((label, index) => ({
    scale: index === 0 ? 'y' : 'y' + index, side: index === 0 ? 3 : 1, label,
    grid: { show: index === 0 },
  })));
  new uPlot({ title, width: 760, height: 240, series, axes }, data, container);
}

// ---------------------------------------------------------------- pages

const pages = {
  async overview(root, _name, _firstRender, mine) {
    const data = await fresh(api('/api/overview'), mine);
    overviewCache = data;
    put(root, 
      h('h2', {}, 'Cluster'),
      h('p', {}, 'cluster id ', h('code', { id: 'cluster-id' }, data.cluster_id || ('unknown: ' + data.cluster_id_error)),
        ' · bootstrap ', h('code', {}, data.bootstrap_servers), ' · ', data.topics, ' topics'),
      h('h2', {}, 'Brokers and their advertised listeners'),
      table('brokers', ['id', 'advertised listener'],
        data.brokers.map((b) => h('tr', {}, numberCell(b.id), h('td', {}, b.advertised)))),
      h('h2', {}, 'Services of this gateway'),
      h('p', { id: 'ready' }, data.readiness.ready ? 'ready' : 'not ready'),
      table('services', ['service', 'state', 'reason'],
        Object.entries(data.readiness.services).map(([name, state]) =>
          h('tr', { 'data-service': name }, h('td', {}, name),
            h('td', { class: 'state' }, state.state), h('td', {}, state.reason || '')))),
      data.readiness.kafka ? h('p', {}, 'kafka check: ',
        data.readiness.kafka.reachable ? 'reachable' : ('unreachable: ' + (data.readiness.kafka.error || ''))) : null,
    );
  },

  async topics(root, _name, _firstRender, mine) {
    const topics = await fresh(api('/api/topics'), mine);
    put(root, 
      h('h2', {}, 'Topics'),
      table('topics', ['topic', 'partitions', 'replication', 'records', 'records/s'],
        topics.filter((t) => !t.internal).map((t) => h('tr', { 'data-topic': t.name },
          h('td', {}, h('a', { href: '#/topics/' + encodeURIComponent(t.name) }, t.name)),
          numberCell(t.partitions, 'partitions'), numberCell(t.replication_factor),
          numberCell(t.records, 'records'),
          numberCell(t.records_per_second === null ? null : t.records_per_second.toFixed(1))))));
  },

  async topic(root, name, firstRender, mine) {
    if (firstRender) {
      const partitionsData = h('div', { id: 'topic-partitions' });
      const records = h('div', { id: 'topic-records' });
      const produceResult = h('p', { id: 'produce-result' });
      const browse = h('form', { id: 'browse', onsubmit: (e) => { e.preventDefault(); loadRecords(); } },
        h('label', {}, 'partition ', h('input', { id: 'browse-partition', placeholder: 'all', size: 4 })),
        h('label', {}, 'from offset ', h('input', { id: 'browse-offset', placeholder: 'oldest', size: 8 })),
        h('label', {}, 'or from time ', h('input', { id: 'browse-time', type: 'datetime-local', step: 1 })),
        h('label', {}, 'limit ', h('input', { id: 'browse-limit', value: 50, size: 4 })),
        h('button', { id: 'browse-go', type: 'submit' }, 'Browse'));
      const produce = h('form', { id: 'produce', onsubmit: (e) => { e.preventDefault(); produceRecord(); } },
        h('strong', {}, 'Produce a record '),
        h('label', {}, 'partition ', h('input', { id: 'produce-partition', placeholder: 'any', size: 4 })),
        h('label', {}, 'key ', h('input', { id: 'produce-key' })),
        h('label', {}, 'value ', h('input', { id: 'produce-value', size: 40 })),
        h('button', { id: 'produce-go', type: 'submit' }, 'Produce'), produceResult);
      put(root, h('h2', {}, 'Topic ', h('code', {}, name)), partitionsData,
        h('h2', {}, 'Records'), browse, records, h('h2', {}, 'Produce'),
        isAdmin() ? null : h('p', { class: 'format' }, 'your role is read-only: producing will be refused'), produce);

      async function loadRecords() {
        const params = new URLSearchParams();
        const partition = document.getElementById('browse-partition').value.trim();
        const offset = document.getElementById('browse-offset').value.trim();
        const time = document.getElementById('browse-time').value;
        if (partition) params.set('partition', partition);
        if (offset) params.set('offset', offset);
        else if (time) params.set('timestamp', String(new Date(time).getTime()));
        params.set('limit', document.getElementById('browse-limit').value.trim() || '50');
        put(records, h('p', {}, 'loading…'));
        try {
          const rows = await api('/api/topics/' + encodeURIComponent(name) + '/records?' + params);
          put(records, h('p', { id: 'records-count' }, rows.length + ' record(s)'),
            table('records', ['partition', 'offset', 'timestamp', 'key', 'value', 'headers'],
              rows.map((r) => h('tr', {},
                numberCell(r.partition, 'partition'), numberCell(r.offset, 'offset'),
                h('td', {}, r.timestamp === null ? '–' : new Date(r.timestamp).toISOString()),
                h('td', { class: 'key' }, decoded(r.key)), h('td', { class: 'value' }, decoded(r.value)),
                h('td', { class: 'headers' }, r.headers.map((hd) => h('div', {}, hd.key + ': ', decoded(hd.value))))))));
        } catch (error) {
          put(records, h('p', { class: 'error' }, String(error.message)));
        }
      }

      async function produceRecord() {
        const partition = document.getElementById('produce-partition').value.trim();
        const body = {
          key: document.getElementById('produce-key').value || null,
          value: document.getElementById('produce-value').value,
        };
        if (partition) body.partition = Number(partition);
        produceResult.className = '';
        produceResult.textContent = 'producing…';
        try {
          const answer = await api('/api/topics/' + encodeURIComponent(name) + '/records', { method: 'POST', json: body });
          produceResult.className = 'ok';
          produceResult.textContent = 'produced to partition ' + answer.partition + ' at offset ' + answer.offset;
        } catch (error) {
          produceResult.className = 'error';
          produceResult.textContent = 'refused: ' + error.message;
        }
      }
      loadRecords();
    }
    const detail = await fresh(api('/api/topics/' + encodeURIComponent(name)), mine);
    put(document.getElementById('topic-partitions'), 
      table('partitions', ['partition', 'leader', 'replicas', 'in sync', 'low', 'high', 'records'],
        detail.partitions.map((p) => h('tr', {}, numberCell(p.partition), numberCell(p.leader),
          h('td', {}, p.replicas.join(', ')), h('td', {}, p.in_sync_replicas.join(', ')),
          numberCell(p.low), numberCell(p.high),
          numberCell(p.low === null ? null : p.high - p.low)))));
  },

  async groups(root, _name, _firstRender, mine) {
    const groups = await fresh(api('/api/groups'), mine);
    put(root, h('h2', {}, 'Consumer groups'),
      table('groups', ['group', 'state', 'members', 'lag (records)'],
        groups.map((g) => h('tr', { 'data-group': g.group },
          h('td', {}, h('a', { href: '#/groups/' + encodeURIComponent(g.group) }, g.group)),
          h('td', {}, g.state), numberCell(g.members.length), numberCell(g.lag, 'lag')))));
  },

  async group(root, name, firstRender, mine) {
    if (firstRender) {
      put(root, h('h2', {}, 'Group ', h('code', {}, name)), h('div', { id: 'group-detail' }),
        h('h2', {}, 'Lag, last hour'), h('div', { id: 'group-chart', class: 'chart' }));
    }
    const g = await fresh(api('/api/groups/' + encodeURIComponent(name)), mine);
    put(document.getElementById('group-detail'), 
      h('p', {}, 'state ', h('strong', { id: 'group-state' }, g.state), ' · protocol ', g.protocol_type || '–'),
      h('h3', {}, 'Members'),
      table('group-members', ['member', 'client id', 'host', 'assignment'],
        g.members.map((m) => h('tr', {}, h('td', {}, m.id), h('td', {}, m.client_id), h('td', {}, m.host),
          h('td', {}, m.assignment.map((a) => a.topic + '-' + a.partition).join(', '))))),
      h('h3', {}, 'Lag per partition'),
      table('group-partitions', ['topic', 'partition', 'committed', 'high watermark', 'lag (records)', 'lag (seconds)'],
        g.partitions.map((p) => h('tr', { 'data-partition': p.topic + '-' + p.partition },
          h('td', {}, p.topic), numberCell(p.partition), numberCell(p.committed, 'committed'), numberCell(p.high),
          numberCell(p.lag, 'lag'), numberCell(p.lag_seconds === null ? null : p.lag_seconds.toFixed(1), 'lag-seconds')))));
    const history = g.history;
    chart(document.getElementById('group-chart'), 'lag of ' + name, ['records', 'seconds'], [
      history.map((s) => s.at / 1000), history.map((s) => s.lag), history.map((s) => s.lag_seconds)]);
  },

  async connectors(root, _name, firstRender, mine) {
    if (firstRender) {
      const validateResult = h('div', { id: 'validate-result' });
      const dryRunResult = h('div', { id: 'dry-run-result' });
      const configText = h('textarea', { id: 'connector-config', spellcheck: 'false' },
        '{\n  "name": "my-connector",\n  "connector.class": "FileStreamSource",\n  "topic": "my-topic",\n  "file": "/tmp/input.txt"\n}');
      const parseConfig = () => JSON.parse(configText.value);
      const plugin = (config) => {
        const parts = String(config['connector.class'] || '').split('.');
        return parts[parts.length - 1];
      };
      put(root, h('h2', {}, 'Connectors'), h('div', { id: 'connector-list' }),
        h('h2', {}, 'Create a connector'),
        h('div', { class: 'panel' }, h('p', {}, 'Configuration (JSON, with "name"):'), configText,
          h('p', {},
            h('button', { id: 'connector-validate', onclick: () => validate() }, 'Validate'),
            h('button', { id: 'connector-create', onclick: () => create() }, 'Create'),
            h('label', {}, ' dry run with ', h('input', { id: 'dry-run-samples', value: 3, size: 3 }), ' samples '),
            h('button', { id: 'dry-run-go', onclick: () => dryRun() }, 'Dry run')),
          validateResult, dryRunResult));

      async function validate() {
        try {
          const config = parseConfig();
          const answer = await api('/api/connect/connector-plugins/' + encodeURIComponent(plugin(config)) + '/config/validate',
            { method: 'PUT', json: config });
          put(validateResult, renderValidation(answer));
        } catch (error) {
          put(validateResult, h('p', { class: 'error' }, String(error.message)));
        }
      }
      async function create() {
        try {
          const config = parseConfig();
          const name = config.name;
          const answer = await api('/api/connect/connectors', { method: 'POST', json: { name, config } });
          put(validateResult, h('p', { class: 'ok', id: 'create-result' }, 'created ' + answer.name));
          refreshNow();
        } catch (error) {
          put(validateResult, h('p', { class: 'error', id: 'create-result' }, String(error.message)));
        }
      }
      async function dryRun() {
        try {
          const config = parseConfig();
          const samples = document.getElementById('dry-run-samples').value || '3';
          const answer = await api('/api/connect/connector-plugins/' + encodeURIComponent(plugin(config)) +
            '/config/dry-run?samples=' + encodeURIComponent(samples), { method: 'PUT', json: config });
          put(dryRunResult, 
            answer.validation ? renderValidation(answer.validation) : null,
            table('dry-run-outputs', ['input', 'output', 'error'], (answer.outputs || []).map((o) => h('tr', {},
              h('td', {}, h('pre', {}, JSON.stringify(o.input, null, 2))),
              h('td', {}, h('pre', {}, JSON.stringify(o.output, null, 2))),
              h('td', { class: o.error ? 'error' : '' }, o.error || '')))));
        } catch (error) {
          put(dryRunResult, h('p', { class: 'error' },
            error.status === 404 ? 'dry run not available on this worker' : String(error.message)));
        }
      }
    }
    const list = await fresh(api('/api/connect/connectors?expand=status&expand=info'), mine);
    const names = Object.keys(list).sort();
    const admin = isAdmin();
    const action = (name, verb) => async () => {
      const paths = {
        pause: ['PUT', '/pause'], resume: ['PUT', '/resume'], stop: ['PUT', '/stop'],
        restart: ['POST', '/restart?includeTasks=true&onlyFailed=false'],
      };
      const [method, suffix] = paths[verb];
      try {
        await api('/api/connect/connectors/' + encodeURIComponent(name) + suffix, { method });
        notice('');
      } catch (error) {
        notice(verb + ' ' + name + ' refused: ' + error.message);
      }
      refreshNow();
    };
    put(document.getElementById('connector-list'), 
      table('connectors', ['connector', 'type', 'state', 'worker', 'tasks', 'actions'],
        names.map((name) => {
          const status = list[name].status || {};
          const connector = status.connector || {};
          const tasks = status.tasks || [];
          return h('tr', { 'data-connector': name },
            h('td', {}, name), h('td', {}, (list[name].info || {}).type || status.type || ''),
            h('td', { class: 'state state-' + connector.state }, connector.state || ''),
            h('td', {}, connector.worker_id || ''),
            h('td', {}, tasks.map((t) => h('div', { class: 'task' },
              'task ' + t.id + ': ', h('span', { class: 'state-' + t.state }, t.state),
              t.trace ? h('details', {}, h('summary', {}, 'trace'), h('pre', {}, t.trace)) : null))),
            h('td', {}, ['pause', 'resume', 'restart', 'stop'].map((verb) =>
              h('button', { class: verb, disabled: !admin, title: admin ? null : 'needs the admin role', onclick: action(name, verb) }, verb))));
        })));
  },

  async mirror(root, _name, firstRender, mine) {
    if (firstRender) {
      put(root, h('h2', {}, 'Mirror'), h('div', { id: 'mirror-detail' }), h('div', { id: 'mirror-charts' }));
    }
    const view = await fresh(api('/api/mirror'), mine);
    const detail = document.getElementById('mirror-detail');
    if (!view.available) {
      put(detail, h('p', {}, 'no mirror runs in this gateway with its metrics listener enabled: mirror lag is read from there'));
      return;
    }
    put(detail, 
      h('h3', {}, 'Lag per topic'),
      view.topics.length ? table('mirror-topics', ['flow', 'topic', 'lag (records)', 'lag (seconds)'],
        view.topics.map((t) => h('tr', { 'data-topic': t.flow + '/' + t.topic }, h('td', {}, t.flow), h('td', {}, t.topic),
          numberCell(t.lag, 'lag'), numberCell(t.lag_seconds.toFixed(1), 'lag-seconds'))))
        : h('p', {}, 'no mirror flow runs in this gateway'),
      h('h3', {}, 'Checkpoint ages'),
      table('mirror-checkpoints', ['flow', 'group', 'age (seconds)'],
        view.checkpoints.map((c) => h('tr', {}, h('td', {}, c.flow), h('td', {}, c.group), numberCell(c.age_seconds.toFixed(1))))));
    const charts = document.getElementById('mirror-charts');
    put(charts);
    for (const [flow, history] of Object.entries(view.history)) {
      const container = h('div', { class: 'chart' });
      charts.append(container);
      chart(container, 'lag of ' + flow, ['records', 'seconds'], [
        history.map((s) => s.at / 1000), history.map((s) => s.lag), history.map((s) => s.lag_seconds)]);
    }
  },

  async schemas(root, _name, firstRender, mine) {
    if (firstRender) {
      put(root, h('h2', {}, 'Subjects'), h('div', { id: 'subjects' }),
        h('h2', {}, 'Compare two versions'),
        h('form', { id: 'schema-diff', onsubmit: (e) => { e.preventDefault(); diff(); } },
          h('label', {}, 'subject ', h('input', { id: 'diff-subject' })),
          h('label', {}, 'version ', h('input', { id: 'diff-left', size: 4, value: 1 })),
          h('label', {}, 'against ', h('input', { id: 'diff-right', size: 4, value: 'latest' })),
          h('button', { type: 'submit' }, 'Compare')),
        h('div', { id: 'diff-result' }));
      async function diff() {
        const result = document.getElementById('diff-result');
        const subject = encodeURIComponent(document.getElementById('diff-subject').value.trim());
        try {
          const [left, right] = await Promise.all(['diff-left', 'diff-right'].map((id) =>
            api('/api/schemas/subjects/' + subject + '/versions/' + encodeURIComponent(document.getElementById(id).value.trim()))));
          put(result, renderDiff(pretty(left.schema), pretty(right.schema)));
        } catch (error) {
          put(result, h('p', { class: 'error' }, String(error.message)));
        }
      }
    }
    const target = document.getElementById('subjects');
    try {
      const subjects = await fresh(api('/api/schemas/subjects'), mine);
      const rows = await fresh(Promise.all(subjects.sort().map(async (subject) =>
        [subject, await api('/api/schemas/subjects/' + encodeURIComponent(subject) + '/versions')])), mine);
      put(target, table('subjects-table', ['subject', 'versions'],
        rows.map(([subject, versions]) => h('tr', {}, h('td', {}, subject), h('td', {}, versions.join(', '))))));
    } catch (error) {
      if (error instanceof StaleRender) throw error;
      put(target, h('p', { class: 'error' }, String(error.message)));
    }
  },
};

function renderValidation(answer) {
  const rows = (answer.configs || []).map((c) => c.value).filter(Boolean);
  return h('div', {},
    h('p', { id: 'validate-summary', class: answer.error_count ? 'error' : 'ok' },
      (answer.error_count || 0) + ' error(s) for ' + (answer.name || 'plugin')),
    table('validate-keys', ['key', 'value', 'errors'], rows.map((v) => h('tr', { 'data-key': v.name },
      h('td', {}, v.name), h('td', {}, v.value === null ? '' : String(v.value)),
      h('td', { class: v.errors.length ? 'error' : '' }, v.errors.join('; '))))));
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
}

// Line diff by longest common subsequence: schemas are short, O(n·m) is fine.
function renderDiff(left, right) {
  const a = left.split('\n'); const b = right.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const lines = [];
  let i = 0; let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { lines.push(h('div', {}, '  ' + a[i])); i++; j++; }
    else if (j < b.length && (i >= a.length || lcs[i][j + 1] >= lcs[i + 1][j])) { lines.push(h('div', { class: 'diff-add' }, '+ ' + b[j])); j++; }
    else { lines.push(h('div', { class: 'diff-del' }, '- ' + a[i])); i++; }
  }
  return h('pre', { id: 'diff-lines' }, lines);
}

// ---------------------------------------------------------------- routing

function currentRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const section = parts[0] || 'overview';
  const name = parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : null;
  if (section === 'topics' && name) return { page: 'topic', nav: 'topics', name };
  if (section === 'groups' && name) return { page: 'group', nav: 'groups', name };
  return { page: pages[section] ? section : 'overview', nav: section, name };
}

async function render(firstRender) {
  const mine = generation;
  const route = currentRoute();
  const root = document.getElementById('page');
  for (const link of document.querySelectorAll('header nav a')) {
    link.classList.toggle('active', link.dataset.page === route.nav);
  }
  try {
    await pages[route.page](root, route.name, firstRender, mine);
    document.getElementById('last-refresh').textContent = new Date().toLocaleTimeString();
    document.body.dataset.loaded = route.page;
  } catch (error) {
    if (!(error instanceof StaleRender) && mine === generation) notice(error.message);
    return;
  }
  if (!document.getElementById('notice').textContent.includes('refused')) notice('');
}

function refreshNow() {
  render(false);
}

function navigate() {
  generation += 1;
  clearInterval(refreshTimer);
  document.body.dataset.loaded = '';
  render(true);
  refreshTimer = setInterval(() => render(false), REFRESH_MS);
}

async function whoami() {
  try {
    overviewCache = await api('/api/overview');
    document.getElementById('login').hidden = true;
    document.getElementById('whoami').textContent = overviewCache.principal
      ? overviewCache.principal + ' (' + overviewCache.role + ')' : '';
  } catch (_) { /* the notice shows it */ }
}

document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const user = document.getElementById('login-user').value;
  const password = document.getElementById('login-password').value;
  sessionStorage.setItem(AUTH_KEY, 'Basic ' + btoa(unescape(encodeURIComponent(user + ':' + password))));
  await whoami();
  navigate();
});
document.getElementById('refresh-seconds').textContent = String(REFRESH_MS / 1000);
window.addEventListener('hashchange', navigate);
whoami().then(navigate);
