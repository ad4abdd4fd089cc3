// The operations console (m2m-server serve --http; m2m-server(1), CONSOLE). One module, no
// framework, nothing fetched from elsewhere: the Content-Security-Policy allows only this
// origin. Every element is built with h() (text is always text: no innerHTML of data).
// The server decides what a role may do; this page only hides what it would refuse.

const $ = (sel) => document.querySelector(sel);
let session = null;      // {user, role, csrf, actions}
let liveSource = null;   // the device page's EventSource
let statsTimer = null;

// ---- helpers -------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function can(action) { return !!session && session.actions.includes(action); }

function toast(text, bad) {
  const t = $('#toast');
  t.textContent = text;
  t.className = 'toast' + (bad ? ' bad' : '');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.add('hidden'), bad ? 8000 : 3000);
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || ('HTTP ' + status));
    this.status = status;
    this.body = body;
  }
}

// Every call: JSON in and out, the CSRF token on changes, back to sign-in on 401.
async function api(method, path, body, raw) {
  const headers = {};
  if (method !== 'GET' && session) headers['X-CSRF-Token'] = session.csrf;
  let payload;
  if (raw) {
    payload = raw.data;
    headers['Content-Type'] = raw.type;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (r.status === 401 && path !== '/api/login') {
    showSignin('Your session ended: sign in again.');
    throw new ApiError(r.status, data);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// Runs an action and reports its failure where the user looks.
async function attempt(fn, where) {
  try {
    return await fn();
  } catch (e) {
    if (e.status === 401) return undefined;
    if (where) where.textContent = e.message;
    else toast(e.message, true);
    return undefined;
  }
}

function fmtTime(unix) {
  if (!unix) return '';
  const d = new Date(unix * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function onlineCell(d) {
  if (!d.online) return h('span', { class: 'pill off' }, 'offline');
  return h('span', {}, h('span', { class: 'pill on' }, 'online ' + (d.transport || '').toUpperCase()),
    ' ', h('span', { class: 'muted' }, d.peer || ''), d.since ? h('div', { class: 'muted' }, 'since ' + fmtTime(d.since)) : null);
}

// A modal form; resolves with the field values, or null when cancelled.
function dialog(title, fields, submitText) {
  return new Promise((resolve) => {
    const inputs = {};
    const err = h('p', { class: 'error' });
    const form = h('form', { method: 'dialog' }, h('h2', {}, title),
      fields.map((f) => {
        let input;
        if (f.options) {
          input = h('select', { name: f.name, 'data-test': 'field-' + f.name },
            f.options.map(([v, label]) => h('option', { value: v, selected: String(v) === String(f.value ?? '') }, label)));
        } else if (f.type === 'checkbox') {
          input = h('input', { type: 'checkbox', name: f.name, checked: f.value, 'data-test': 'field-' + f.name });
        } else {
          input = h('input', { name: f.name, type: f.type || 'text', value: f.value ?? '', placeholder: f.placeholder || '',
            required: f.required, 'data-test': 'field-' + f.name });
        }
        inputs[f.name] = input;
        return h('label', {}, f.label, ' ', input);
      }),
      err,
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'secondary', onclick: () => { dlg.close(); resolve(null); } }, 'Cancel'),
        h('button', { type: 'submit', 'data-test': 'dialog-submit' }, submitText || 'Save')));
    const dlg = h('dialog', {}, form);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const values = {};
      for (const [k, el] of Object.entries(inputs)) values[k] = el.type === 'checkbox' ? el.checked : el.value;
      dlg.close();
      dlg.remove();
      resolve(values);
    });
    dlg.addEventListener('cancel', () => { dlg.remove(); resolve(null); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// ---- sign-in and layout ----------------------------------------------------------------------

const MENU = [
  ['guide', 'Operation guide', '操作向导'],
  ['terminals', 'Terminals', '终端管理'],
  ['import', 'Device import', '导入设备'],
  ['accounts', 'Central servers', '中心服务器管理'],
  ['groups', 'User groups', '用户分组管理'],
  ['regions', 'Regions', '行政区域管理'],
  ['users', 'System users', '系统用户管理'],
  ['roles', 'Function modules', '功能模块管理'],
  ['stats', 'Online statistics', '上线统计'],
];

function showSignin(message) {
  session = null;
  stopLive();
  $('#app').classList.add('hidden');
  $('#signin').classList.remove('hidden');
  $('#signin-error').textContent = message || '';
  $('#signin-user').focus();
}

function showApp() {
  $('#signin').classList.add('hidden');
  $('#app').classList.remove('hidden');
  $('#who-user').textContent = session.user;
  $('#who-role').textContent = session.role;
  const menu = $('#menu');
  menu.replaceChildren(...MENU
    .filter(([id]) => id !== 'users' || can('users'))
    .filter(([id]) => id !== 'import' || can('manage'))
    .map(([id, en, zh]) => h('a', { href: '#/' + id, 'data-menu': id }, en, h('small', {}, zh))));
  route();
}

async function signin(ev) {
  ev.preventDefault();
  const err = $('#signin-error');
  err.textContent = '';
  try {
    session = await api('POST', '/api/login', { user: $('#signin-user').value, password: $('#signin-password').value });
    $('#signin-password').value = '';
    if (!location.hash || location.hash === '#/') location.hash = '#/terminals';
    showApp();
  } catch (e) {
    err.textContent = e.message;
  }
}

async function signout() {
  await attempt(() => api('POST', '/api/logout'));
  showSignin('Signed out.');
}

function stopLive() {
  if (liveSource) { liveSource.close(); liveSource = null; }
  if (statsTimer) { clearInterval(statsTimer); statsTimer = null; }
}

function route() {
  if (!session) return;
  stopLive();
  const [page, arg] = location.hash.replace(/^#\/?/, '').split('/');
  const id = page || 'terminals';
  for (const a of document.querySelectorAll('#menu a'))
    a.classList.toggle('active', a.dataset.menu === id || (id === 'device' && a.dataset.menu === 'terminals'));
  const view = $('#view');
  view.replaceChildren();
  const pages = { guide, terminals, device, import: importPage, accounts, groups, regions, users, roles, stats };
  (pages[id] || terminals)(view, arg && decodeURIComponent(arg));
}

// ---- operation guide ---------------------------------------------------------------------------

function guide(view) {
  view.append(h('div', { class: 'card' },
    h('h1', {}, 'Operation guide', h('small', {}, '操作向导')),
    h('p', {}, 'A first run, in four steps:'),
    h('ol', { class: 'steps' },
      h('li', {}, h('a', { href: '#/groups' }, 'Create a user group'), ' (用户分组): devices relay and meet only within their group. ',
        'Place it in a ', h('a', { href: '#/regions' }, 'region'), ' if you sort devices by place.'),
      h('li', {}, h('a', { href: '#/accounts' }, 'Create a central server account'), ' (中心服务器): the login of the application that ',
        'controls the devices of the groups it may see.'),
      h('li', {}, h('a', { href: '#/import' }, 'Import your devices'), ' from an Excel (.xlsx) or CSV file with the columns ',
        h('span', { class: 'mono' }, 'id,password,group,enabled,description,region,category'), ': check the preview, then import all.'),
      h('li', {}, h('a', { href: '#/terminals?online=1' }, 'Watch them come online'), ' in Terminals, and on ',
        h('a', { href: '#/stats' }, 'Online statistics'), '. A device\'s page reboots it, reads and writes its configuration and shows its data live.')),
    h('p', { class: 'muted' }, 'Signed in as ', session.user, ' (', session.role, '). ',
      can('manage') ? 'You may change the registry.' : 'You may look, not change: ask an administrator for the operator role.')));
}

// ---- terminals -----------------------------------------------------------------------------------

const lists = { groups: [], regions: [] };
async function loadLists() {
  const [g, r] = await Promise.all([api('GET', '/api/groups'), api('GET', '/api/regions')]);
  lists.groups = g.groups;
  lists.regions = r.regions;
}

function regionName(id) {
  const r = lists.regions.find((x) => x.id === id);
  return r ? r.name : '';
}

function regionOptions(empty) {
  return [['', empty]].concat(lists.regions.map((r) => [r.id, regionPath(r)]));
}

function regionPath(r) {
  const names = [r.name];
  let p = r.parent;
  for (let i = 0; p !== null && p !== undefined && i < 32; i++) {
    const up = lists.regions.find((x) => x.id === p);
    if (!up) break;
    names.unshift(up.name);
    p = up.parent;
  }
  return names.join(' / ');
}

async function terminals(view) {
  const err = h('p', { class: 'error' });
  const q = h('input', { placeholder: 'id or description', 'data-test': 'search' });
  const group = h('select', { 'data-test': 'filter-group' });
  const region = h('select', { 'data-test': 'filter-region' });
  const category = h('input', { placeholder: 'category', size: 10 });
  const online = h('select', { 'data-test': 'filter-online' }, h('option', { value: '' }, 'all'),
    h('option', { value: '1' }, 'online'), h('option', { value: '0' }, 'offline'));
  const body = h('tbody');
  const count = h('span', { class: 'muted', 'data-test': 'device-count' });
  const pageInfo = h('span', { class: 'muted' });
  let offset = 0;
  const limit = 50;
  const prev = h('button', { class: 'secondary', onclick: () => { offset = Math.max(0, offset - limit); load(); } }, '‹ Previous');
  const next = h('button', { class: 'secondary', onclick: () => { offset += limit; load(); } }, 'Next ›');
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  if (params.get('online')) online.value = params.get('online');

  async function load() {
    err.textContent = '';
    const p = new URLSearchParams({ offset, limit });
    if (q.value) p.set('q', q.value);
    if (group.value) p.set('group', group.value);
    if (region.value) p.set('region', region.value);
    if (category.value) p.set('category', category.value);
    if (online.value) p.set('online', online.value);
    const data = await attempt(() => api('GET', '/api/devices?' + p), err);
    if (!data) return;
    count.textContent = data.total + ' device' + (data.total === 1 ? '' : 's');
    pageInfo.textContent = data.total ? `${offset + 1}–${Math.min(offset + limit, data.total)} of ${data.total}` : '';
    prev.disabled = offset === 0;
    next.disabled = offset + limit >= data.total;
    body.replaceChildren(...data.devices.map((d) => h('tr', { 'data-device': d.id },
      h('td', { class: 'mono' }, h('a', { href: '#/device/' + d.id }, d.id)),
      h('td', {}, d.group),
      h('td', {}, d.region_name || ''),
      h('td', {}, d.category || ''),
      h('td', {}, d.description || ''),
      h('td', {}, d.enabled ? h('span', { class: 'pill' }, 'enabled') : h('span', { class: 'pill no' }, 'disabled')),
      h('td', { 'data-test': 'online' }, onlineCell(d)),
      h('td', { class: 'actions' }, can('manage') ? [
        h('button', { class: 'secondary', onclick: () => editDevice(d, load) }, 'Edit'),
        h('button', { class: 'secondary', onclick: () => setEnabled(d, !d.enabled, load) }, d.enabled ? 'Disable' : 'Enable'),
        h('button', { class: 'danger', onclick: () => removeDevice(d, load) }, 'Remove')] : null))));
  }

  await attempt(loadLists, err);
  group.replaceChildren(h('option', { value: '' }, 'all groups'), ...lists.groups.map((g) => h('option', { value: g.name }, g.name)));
  region.replaceChildren(...regionOptions('all regions').map(([v, l]) => h('option', { value: v }, l)));
  for (const el of [group, region, online]) el.addEventListener('change', () => { offset = 0; load(); });
  for (const el of [q, category]) el.addEventListener('input', () => { offset = 0; clearTimeout(load.t); load.t = setTimeout(load, 250); });

  view.append(h('div', { class: 'card' },
    h('h1', {}, 'Terminals', h('small', {}, '终端管理')),
    h('div', { class: 'row' },
      h('label', {}, 'Search', q), h('label', {}, 'Group', group), h('label', {}, 'Region', region),
      h('label', {}, 'Category', category), h('label', {}, 'State', online),
      can('manage') ? h('button', { 'data-test': 'add-device', onclick: () => addDevice(load) }, 'Add device') : null,
      h('button', { class: 'secondary', onclick: load }, 'Refresh'), count),
    err,
    h('table', {}, h('thead', {}, h('tr', {}, ['Id', 'Group', 'Region', 'Category', 'Description', 'Enabled', 'Online', ''].map((t) => h('th', {}, t)))), body),
    h('div', { class: 'pager' }, prev, next, pageInfo)));
  load();
}

function deviceFields(d) {
  return [
    { name: 'group', label: 'Group', value: d.group || 'default', required: true },
    { name: 'description', label: 'Description', value: d.description || '' },
    { name: 'region', label: 'Region', options: regionOptions('(the group\'s)'), value: d.own_region ?? '' },
    { name: 'category', label: 'Category', value: d.category || '' },
  ];
}

async function addDevice(reload) {
  await attempt(loadLists);
  const v = await dialog('Add device', [
    { name: 'id', label: 'Id (16 hex digits or MAC)', required: true },
    { name: 'password', label: 'Password (16 hex digits or text:…)', required: true },
    ...deviceFields({}),
    { name: 'enabled', label: 'Enabled', type: 'checkbox', value: true },
  ], 'Add');
  if (!v) return;
  const ok = await attempt(() => api('POST', '/api/devices', {
    id: v.id, password: v.password, group: v.group, description: v.description,
    region: v.region === '' ? null : Number(v.region), category: v.category, enabled: v.enabled,
  }));
  if (ok) { toast('Device ' + ok.device + ' added; it may log in now.'); setTimeout(reload, 1200); }
}

async function editDevice(d, reload) {
  await attempt(loadLists);
  const v = await dialog('Edit ' + d.id, [...deviceFields(d), { name: 'password', label: 'New password (empty: keep)', value: '' }]);
  if (!v) return;
  const change = { group: v.group, description: v.description, region: v.region === '' ? null : Number(v.region), category: v.category };
  if (v.password) change.password = v.password;
  const ok = await attempt(() => api('PATCH', '/api/devices/' + d.id, change));
  if (ok) { toast('Saved.'); setTimeout(reload, 1200); }
}

async function setEnabled(d, enabled, reload) {
  const ok = await attempt(() => api('PATCH', '/api/devices/' + d.id, { enabled }));
  if (ok) { toast(enabled ? 'Enabled.' : 'Disabled: its sessions end and its logins are refused.'); setTimeout(reload, 1200); }
}

async function removeDevice(d, reload) {
  if (!confirm('Remove device ' + d.id + '? Its sessions end and it can no longer log in.')) return;
  const ok = await attempt(() => api('DELETE', '/api/devices/' + d.id));
  if (ok) { toast('Removed.'); setTimeout(reload, 1200); }
}

// ---- one device ------------------------------------------------------------------------------------

const PARAMS = ['version', 'server', 'fallback_server', 'dns', 'send_wait', 'heartbeat_interval', 'rtc', 'write_timeout', 'read_timeout'];

async function device(view, id) {
  const err = h('p', { class: 'error' });
  const info = h('table', { class: 'kv' });
  const linked = h('ul');
  const reply = h('pre', { class: 'reply', 'data-test': 'reply' }, '—');
  const log = h('div', { class: 'log', 'data-test': 'live-log' });
  let current = null;

  async function load() {
    await attempt(loadLists, err);
    const d = await attempt(() => api('GET', '/api/devices/' + id), err);
    if (!d) return;
    current = d;
    const rows = [['Id', d.id], ['Group', d.group], ['Region', d.region_name || '—'], ['Category', d.category || '—'],
      ['Description', d.description || '—'], ['Enabled', d.enabled ? 'yes' : 'no']];
    info.replaceChildren(...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))),
      h('tr', {}, h('th', {}, 'Online'), h('td', { 'data-test': 'device-online' }, onlineCell(d))));
    linked.replaceChildren(...(d.associated.length ? d.associated.map((o) => h('li', {}, h('a', { href: '#/device/' + o, class: 'mono' }, o), ' ',
      can('manage') ? h('button', { class: 'danger', onclick: async () => {
        if (await attempt(() => api('DELETE', `/api/devices/${id}/associations/${o}`))) load();
      } }, 'Remove association') : null)) : [h('li', { class: 'muted' }, 'none')]));
  }

  async function send(type, body, what) {
    reply.textContent = what + ' …';
    try {
      const r = await api('POST', `/api/devices/${id}/command`, { type, body });
      reply.textContent = JSON.stringify(r, null, 2);
      reply.dataset.status = r.status;
    } catch (e) {
      reply.textContent = e.message;
      reply.dataset.status = 'error';
    }
  }

  const paramRead = h('select', { 'data-test': 'param-read' }, PARAMS.map((p) => h('option', { value: p }, p)));
  const paramWrite = h('select', { 'data-test': 'param-write' }, PARAMS.filter((p) => p !== 'version').map((p) => h('option', { value: p }, p)));
  const writeValue = h('input', { placeholder: 'value: 20, 1.2.3.4, {"host":"…","port":8266,"transport":"tcp"}', size: 38 });
  const downText = h('input', { placeholder: 'text to send', size: 30, 'data-test': 'downlink-text' });
  const downHex = h('input', { type: 'checkbox' });
  const fwSelect = h('select', { 'data-test': 'firmware' });
  const linkInput = h('input', { placeholder: 'device id', size: 18 });

  const controls = can('control') ? h('div', { class: 'card' },
    h('h2', {}, 'Live operations'),
    h('div', { class: 'row' },
      h('button', { 'data-test': 'reboot', onclick: () => { if (confirm('Reboot ' + id + '?')) send('term.reboot', {}, 'Rebooting'); } }, 'Reboot')),
    h('div', { class: 'row' }, h('label', {}, 'Read parameter', paramRead),
      h('button', { 'data-test': 'read', class: 'secondary', onclick: () => send('term.config_read', { param: paramRead.value }, 'Reading') }, 'Read')),
    h('div', { class: 'row' }, h('label', {}, 'Write parameter', paramWrite), h('label', {}, 'Value', writeValue),
      h('button', { class: 'secondary', onclick: () => {
        let value = writeValue.value.trim();
        if (/^[{"\d]/.test(value)) { try { value = JSON.parse(value); } catch { /* a plain string */ } }
        send('term.config_write', { param: paramWrite.value, value }, 'Writing');
      } }, 'Write')),
    h('div', { class: 'row' }, h('label', {}, 'Downlink', downText), h('label', {}, 'hex', downHex),
      h('button', { class: 'secondary', 'data-test': 'send-downlink', onclick: () =>
        send('data.downlink', downHex.checked ? { payload: downText.value } : { text: downText.value }, 'Sending') }, 'Send')),
    h('div', { class: 'row' }, h('label', {}, 'Firmware update', fwSelect),
      h('button', { class: 'secondary', onclick: () => {
        if (!fwSelect.value) return toast('No firmware: start the server with --firmware-dir DIR', true);
        if (confirm(`Update ${id} with ${fwSelect.value}?`)) send('term.ota_start', { file: fwSelect.value }, 'Starting the update');
      } }, 'Start update')),
    h('h3', {}, 'Device reply'), reply) : null;

  view.append(h('p', {}, h('a', { href: '#/terminals' }, '‹ Terminals')), err,
    h('div', { class: 'grid2' },
      h('div', {},
        h('div', { class: 'card' }, h('h1', { class: 'mono' }, id), info,
          can('manage') ? h('div', { class: 'row' },
            h('button', { class: 'secondary', onclick: () => current && editDevice(current, load) }, 'Edit'),
            h('button', { class: 'secondary', onclick: () => current && setEnabled(current, !current.enabled, load) }, 'Enable / disable')) : null),
        h('div', { class: 'card' }, h('h2', {}, 'Associated devices', h('small', {}, '关联设备')), linked,
          can('manage') ? h('div', { class: 'row' }, linkInput, h('button', { class: 'secondary', onclick: async () => {
            if (await attempt(() => api('POST', `/api/devices/${id}/associations`, { device: linkInput.value }))) { linkInput.value = ''; load(); }
          } }, 'Associate')) : null)),
      h('div', {}, controls,
        h('div', { class: 'card' }, h('h2', {}, 'Live: uplinks, events, logins'), log))));
  await load();
  if (can('control')) {
    const fw = await attempt(() => api('GET', '/api/firmware'));
    if (fw) fwSelect.replaceChildren(...(fw.files.length ? fw.files.map((f) => h('option', { value: f.name }, `${f.name} (${f.size} bytes)`))
      : [h('option', { value: '' }, fw.enabled ? 'no files in --firmware-dir' : 'none (serve --firmware-dir)')]));
  }
  liveSource = new EventSource('/api/events?device=' + encodeURIComponent(id));
  const add = (kind, data) => {
    const text = kind === 'presence' ? (data.online ? `online ${(data.transport || '').toUpperCase()} ${data.peer || ''}` : 'offline')
      : `${data.type} ${JSON.stringify(data.body ?? data.data ?? {})}`;
    log.prepend(h('div', { 'data-kind': kind }, fmtTime(data.ts), ' ', kind, ': ', text));
    while (log.childElementCount > 200) log.lastChild.remove();
    if (kind === 'presence') load();
  };
  for (const kind of ['uplink', 'event', 'presence']) liveSource.addEventListener(kind, (e) => add(kind, JSON.parse(e.data)));
}

// ---- import --------------------------------------------------------------------------------------

function importPage(view) {
  const file = h('input', { type: 'file', accept: '.xlsx,.csv,text/csv', 'data-test': 'import-file' });
  const err = h('p', { class: 'error', 'data-test': 'import-error' });
  const summary = h('p', { 'data-test': 'import-summary' });
  const body = h('tbody');
  const commit = h('button', { disabled: true, 'data-test': 'import-commit' }, 'Import all');
  let upload = null;

  async function preview() {
    err.textContent = '';
    summary.textContent = '';
    body.replaceChildren();
    commit.disabled = true;
    const f = file.files[0];
    if (!f) return;
    const xlsx = /\.xlsx$/i.test(f.name);
    upload = { data: await f.arrayBuffer(), type: xlsx ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/csv' };
    const r = await attempt(() => api('POST', '/api/import?commit=0', undefined, upload), err);
    if (!r) return;
    summary.textContent = `${r.total} row${r.total === 1 ? '' : 's'}, ${r.errors} with errors` +
      (r.errors ? ': fix them and choose the file again (nothing is imported while any row is wrong).' : ': ready to import.');
    summary.className = r.errors ? 'error' : 'ok';
    body.replaceChildren(...r.rows.map((x) => h('tr', { class: x.error ? 'bad' : '' },
      h('td', {}, x.row), h('td', { class: 'mono' }, x.id), h('td', {}, x.group), h('td', {}, x.enabled ? 'yes' : 'no'),
      h('td', {}, x.description), h('td', {}, x.region), h('td', {}, x.category), h('td', {}, x.action),
      h('td', { class: 'error' }, x.error || ''))));
    commit.disabled = r.errors > 0 || r.total === 0;
  }

  commit.addEventListener('click', async () => {
    commit.disabled = true;
    const r = await attempt(() => api('POST', '/api/import?commit=1', undefined, upload), err);
    if (r) {
      summary.textContent = `Imported ${r.imported} devices (${r.added} new, ${r.updated} updated). They appear in Terminals within a second.`;
      summary.className = 'ok';
    }
  });
  file.addEventListener('change', preview);
  view.append(h('div', { class: 'card' },
    h('h1', {}, 'Device import', h('small', {}, '导入设备 · 上传Excel文件')),
    h('p', {}, 'An Excel workbook (.xlsx, the first sheet) or a CSV file whose first row names the columns ',
      h('span', { class: 'mono' }, 'id,password,group,enabled,description'), ' and optionally ',
      h('span', { class: 'mono' }, 'region,category'), ' (as ', h('span', { class: 'mono' }, 'm2m-server device export'), ' writes them). ',
      'Existing ids are updated. All rows are imported in one transaction, or none.'),
    h('div', { class: 'row' }, file, commit), err, summary,
    h('table', {}, h('thead', {}, h('tr', {}, ['Row', 'Id', 'Group', 'Enabled', 'Description', 'Region', 'Category', 'Action', 'Error'].map((t) => h('th', {}, t)))), body)));
}

// ---- accounts, groups, regions ---------------------------------------------------------------------

async function accounts(view) {
  const err = h('p', { class: 'error' });
  const body = h('tbody');
  async function load() {
    const r = await attempt(() => api('GET', '/api/accounts'), err);
    if (!r) return;
    body.replaceChildren(...r.accounts.map((a) => h('tr', {},
      h('td', {}, a.id), h('td', {}, a.name), h('td', {}, a.groups.join(', ')),
      h('td', {}, a.enabled ? 'yes' : h('span', { class: 'pill no' }, 'disabled')),
      h('td', {}, a.online ? h('span', { class: 'pill on' }, 'logged in') : h('span', { class: 'pill off' }, 'no')),
      h('td', { class: 'actions' }, can('manage') ? [
        h('button', { class: 'secondary', onclick: async () => {
          const v = await dialog('Account ' + a.id, [
            { name: 'name', label: 'Name', value: a.name },
            { name: 'groups', label: 'Groups ("*" = all, or a;b)', value: a.groups.join(';') },
            { name: 'password', label: 'New password (empty: keep)' },
            { name: 'enabled', label: 'Enabled', type: 'checkbox', value: a.enabled }]);
          if (!v) return;
          const change = { name: v.name, groups: v.groups, enabled: v.enabled };
          if (v.password) change.password = v.password;
          if (await attempt(() => api('PATCH', '/api/accounts/' + a.id, change), err)) setTimeout(load, 1200);
        } }, 'Edit'),
        h('button', { class: 'danger', onclick: async () => {
          if (confirm('Remove account ' + a.id + '?') && await attempt(() => api('DELETE', '/api/accounts/' + a.id), err)) setTimeout(load, 1200);
        } }, 'Remove')] : null))));
  }
  view.append(h('div', { class: 'card' },
    h('h1', {}, 'Central servers', h('small', {}, '中心服务器管理')),
    h('p', { class: 'muted' }, 'Platform client accounts: applications and operators that log in to control the devices of their groups.'),
    can('manage') ? h('div', { class: 'row' }, h('button', { onclick: async () => {
      const v = await dialog('Add account', [
        { name: 'id', label: 'Account id (a number)', required: true },
        { name: 'name', label: 'Name' },
        { name: 'password', label: 'Password (16 hex digits or text:…)', required: true },
        { name: 'groups', label: 'Groups ("*" = all, or a;b)', value: 'default' }], 'Add');
      if (!v) return;
      if (await attempt(() => api('POST', '/api/accounts', { id: Number(v.id), name: v.name, password: v.password, groups: v.groups }), err))
        setTimeout(load, 1200);
    } }, 'Add account')) : null,
    err, h('table', {}, h('thead', {}, h('tr', {}, ['Id', 'Name', 'Groups', 'Enabled', 'Online', ''].map((t) => h('th', {}, t)))), body)));
  load();
}

async function groups(view) {
  const err = h('p', { class: 'error' });
  const body = h('tbody');
  async function load() {
    if (!await attempt(loadLists, err)) { /* loadLists returns nothing: errors are shown */ }
    body.replaceChildren(...lists.groups.map((g) => {
      const sel = h('select', { disabled: !can('manage') }, regionOptions('—').map(([v, l]) => h('option', { value: v, selected: String(v) === String(g.region ?? '') }, l)));
      sel.addEventListener('change', async () => {
        if (await attempt(() => api('PATCH', '/api/groups/' + encodeURIComponent(g.name), { region: sel.value === '' ? null : Number(sel.value) }), err))
          toast('Saved.');
      });
      return h('tr', {}, h('td', {}, g.name), h('td', {}, sel), h('td', {}, g.devices), h('td', {}, g.online),
        h('td', {}, h('a', { href: '#/terminals' }, 'devices')));
    }));
  }
  view.append(h('div', { class: 'card' },
    h('h1', {}, 'User groups', h('small', {}, '用户分组管理')),
    h('p', { class: 'muted' }, 'Devices relay data and meet for P2P only within their group; an account sees the groups it is given.'),
    can('manage') ? h('div', { class: 'row' }, h('button', { onclick: async () => {
      const v = await dialog('Add group', [{ name: 'name', label: 'Name', required: true }, { name: 'region', label: 'Region', options: regionOptions('—') }], 'Add');
      if (v && await attempt(() => api('POST', '/api/groups', { name: v.name, region: v.region === '' ? null : Number(v.region) }), err)) load();
    } }, 'Add group')) : null,
    err, h('table', {}, h('thead', {}, h('tr', {}, ['Group', 'Region', 'Devices', 'Online', ''].map((t) => h('th', {}, t)))), body)));
  load();
}

async function regions(view) {
  const err = h('p', { class: 'error' });
  const tree = h('div', { class: 'tree', 'data-test': 'region-tree' });
  async function load() {
    await attempt(loadLists, err);
    const children = (parent) => lists.regions.filter((r) => (r.parent ?? null) === parent);
    const branch = (parent) => {
      const kids = children(parent);
      if (!kids.length) return null;
      return h('ul', {}, kids.map((r) => h('li', {},
        h('span', { class: 'node' }, h('b', {}, r.name),
          h('span', { class: 'muted' }, `${r.groups} group${r.groups === 1 ? '' : 's'}, ${r.devices} device${r.devices === 1 ? '' : 's'}, ${r.online} online`),
          can('manage') ? [
            h('button', { class: 'secondary', onclick: async () => {
              const v = await dialog('Region ' + r.name, [{ name: 'name', label: 'Name', value: r.name },
                { name: 'parent', label: 'Inside', options: regionOptions('(top level)').filter(([id]) => id !== r.id), value: r.parent ?? '' }]);
              if (v && await attempt(() => api('PATCH', '/api/regions/' + r.id, { name: v.name, parent: v.parent === '' ? null : Number(v.parent) }), err)) load();
            } }, 'Edit'),
            h('button', { class: 'danger', onclick: async () => {
              if (await attempt(() => api('DELETE', '/api/regions/' + r.id), err)) load();
            } }, 'Remove')] : null),
        branch(r.id))));
    };
    tree.replaceChildren(branch(null) || h('p', { class: 'muted' }, 'No regions yet.'));
  }
  view.append(h('div', { class: 'card' },
    h('h1', {}, 'Regions', h('small', {}, '行政区域管理')),
    h('p', { class: 'muted' }, 'A tree of places. A group belongs to a region; a device is in its own region if it has one, else in its group\'s.'),
    can('manage') ? h('div', { class: 'row' }, h('button', { onclick: async () => {
      const v = await dialog('Add region', [{ name: 'name', label: 'Name', required: true }, { name: 'parent', label: 'Inside', options: regionOptions('(top level)') }], 'Add');
      if (v && await attempt(() => api('POST', '/api/regions', { name: v.name, parent: v.parent === '' ? null : Number(v.parent) }), err)) load();
    } }, 'Add region')) : null,
    err, tree));
  load();
}

// ---- users and roles -------------------------------------------------------------------------------

async function users(view) {
  const err = h('p', { class: 'error' });
  const body = h('tbody');
  async function load() {
    const r = await attempt(() => api('GET', '/api/users'), err);
    if (!r) return;
    body.replaceChildren(...r.users.map((u) => {
      const role = h('select', { disabled: u.name === session.user },
        ['admin', 'operator', 'viewer'].map((x) => h('option', { value: x, selected: x === u.role }, x)));
      role.addEventListener('change', async () => {
        if (await attempt(() => api('PATCH', '/api/users/' + encodeURIComponent(u.name), { role: role.value }), err)) toast('Role changed.');
      });
      return h('tr', {}, h('td', {}, u.name), h('td', {}, role), h('td', {}, u.enabled ? 'yes' : h('span', { class: 'pill no' }, 'disabled')),
        h('td', { class: 'actions' }, u.name === session.user ? h('span', { class: 'muted' }, 'you') : [
          h('button', { class: 'secondary', onclick: async () => {
            if (await attempt(() => api('PATCH', '/api/users/' + encodeURIComponent(u.name), { enabled: !u.enabled }), err)) load();
          } }, u.enabled ? 'Disable' : 'Enable'),
          h('button', { class: 'secondary', onclick: async () => {
            const v = await dialog('New password for ' + u.name, [{ name: 'password', label: 'Password (at least 8 characters)', type: 'password', required: true }]);
            if (v && await attempt(() => api('PATCH', '/api/users/' + encodeURIComponent(u.name), { password: v.password }), err)) toast('Password set.');
          } }, 'Password'),
          h('button', { class: 'danger', onclick: async () => {
            if (confirm('Remove console user ' + u.name + '?') && await attempt(() => api('DELETE', '/api/users/' + encodeURIComponent(u.name)), err)) load();
          } }, 'Remove')]));
    }));
  }
  view.append(h('div', { class: 'card' },
    h('h1', {}, 'System users', h('small', {}, '系统用户管理')),
    h('p', { class: 'muted' }, 'People who sign in to this console. Passwords are kept as Argon2id hashes only.'),
    h('div', { class: 'row' }, h('button', { onclick: async () => {
      const v = await dialog('Add user', [{ name: 'name', label: 'Name', required: true },
        { name: 'password', label: 'Password (at least 8 characters)', type: 'password', required: true },
        { name: 'role', label: 'Role', options: [['viewer', 'viewer'], ['operator', 'operator'], ['admin', 'admin']] }], 'Add');
      if (v && await attempt(() => api('POST', '/api/users', v), err)) load();
    } }, 'Add user')),
    err, h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'Role', 'Enabled', ''].map((t) => h('th', {}, t)))), body)));
  load();
}

async function roles(view) {
  const err = h('p', { class: 'error' });
  const r = await attempt(() => api('GET', '/api/roles'), err);
  const ACTIONS = [['view', 'See devices, accounts, groups, regions, statistics, live data'],
    ['control', 'Reboot, configure, send downlinks, update firmware'],
    ['manage', 'Add, edit, disable, remove and import devices; accounts, groups, regions'],
    ['users', 'Console users and their roles']];
  view.append(h('div', { class: 'card' },
    h('h1', {}, 'Function modules', h('small', {}, '功能模块管理')),
    h('p', { class: 'muted' }, 'What each role may do. The server checks it on every request; a button the role may not use is not shown.'),
    err,
    r ? h('table', { 'data-test': 'roles' }, h('thead', {}, h('tr', {}, h('th', {}, 'Action'), r.roles.map((x) => h('th', {}, x.role)))),
      h('tbody', {}, ACTIONS.map(([a, text]) => h('tr', {}, h('td', {}, h('b', {}, a), ' — ', text),
        r.roles.map((x) => h('td', {}, x.actions.includes(a) ? '✓' : '—')))))) : null));
}

// ---- online statistics ---------------------------------------------------------------------------

const COLORS = ['#1f5fa8', '#d9822b', '#1e7a34', '#b3261e', '#7048a8', '#0f8b8d', '#8a6d00', '#c2185b', '#546e7a', '#2e7d32'];

function chart(series, hours) {
  const W = 900, H = 300, L = 48, R = 12, T = 12, B = 28;
  const now = Date.now() / 1000;
  const t0 = now - hours * 3600;
  let max = 1;
  for (const s of series) for (const [, v] of s.points) max = Math.max(max, v);
  const x = (t) => L + (W - L - R) * (t - t0) / (now - t0);
  const y = (v) => H - B - (H - T - B) * v / max;
  const g = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', 'data-test': 'chart', role: 'img' });
  for (let i = 0; i <= 4; i++) {
    const v = Math.round(max * i / 4);
    g.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }), svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, v));
  }
  for (let i = 0; i <= 6; i++) {
    const t = t0 + (now - t0) * i / 6;
    const d = new Date(t * 1000);
    const label = hours > 24 ? `${d.getMonth() + 1}/${d.getDate()}` : `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    g.append(svg('text', { x: x(t), y: H - 8, 'text-anchor': 'middle' }, label));
  }
  g.append(svg('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }), svg('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  series.forEach((s, i) => {
    const pts = s.points.filter(([t]) => t >= t0 - 60);
    if (!pts.length) return;
    const d = pts.map(([t, v], k) => `${k ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const color = COLORS[i % COLORS.length];
    const line = svg('path', { class: 'line', d: pts.length === 1 ? `M${x(pts[0][0]) - 4},${y(pts[0][1])} h8` : d, stroke: color,
      'data-series': s.name, 'data-last': pts[pts.length - 1][1] });
    line.append(svg('title', {}, `${s.name}: ${pts[pts.length - 1][1]} online now`));
    const [lt, lv] = pts[pts.length - 1];
    g.append(line, svg('circle', { cx: x(lt).toFixed(1), cy: y(lv).toFixed(1), r: 3.5, fill: color }));
  });
  return g;
}

async function stats(view) {
  const err = h('p', { class: 'error' });
  const by = h('select', { 'data-test': 'stats-by' }, [['group', 'per group'], ['region', 'per region'], ['all', 'all devices']].map(([v, l]) => h('option', { value: v }, l)));
  const hours = h('select', {}, [[1, 'last hour'], [24, 'last 24 hours'], [168, 'last 7 days'], [720, 'last 30 days']].map(([v, l]) => h('option', { value: v, selected: v === 24 }, l)));
  const holder = h('div');
  const legend = h('div', { class: 'legend', 'data-test': 'legend' });
  async function load() {
    const r = await attempt(() => api('GET', `/api/stats?by=${by.value}&hours=${hours.value}`), err);
    if (!r) return;
    err.textContent = '';
    holder.replaceChildren(chart(r.series, Number(hours.value)));
    legend.replaceChildren(...r.series.map((s, i) => {
      const el = h('span', { 'data-series': s.name }, `${s.name}: ${s.points.length ? s.points[s.points.length - 1][1] : 0} online`);
      el.style.setProperty('--c', COLORS[i % COLORS.length]);
      return el;
    }));
    if (!r.series.length) legend.replaceChildren(h('span', { class: 'muted' }, by.value === 'region' ? 'No regions with devices yet.' : 'No devices yet.'));
  }
  by.addEventListener('change', load);
  hours.addEventListener('change', load);
  view.append(h('div', { class: 'card' },
    h('h1', {}, 'Online statistics', h('small', {}, '上线统计')),
    h('div', { class: 'row' }, h('label', {}, 'Series', by), h('label', {}, 'Period', hours),
      h('span', { class: 'muted' }, 'Sampled every minute, kept 30 days; the last point is now. Refreshed every 10 s.')),
    err, holder, legend));
  await load();
  statsTimer = setInterval(load, 10000);
}

// ---- start ------------------------------------------------------------------------------------------

window.addEventListener('hashchange', route);
$('#signin-form').addEventListener('submit', signin);
$('#signout').addEventListener('click', signout);
(async () => {
  try {
    session = await api('GET', '/api/session');
    showApp();
  } catch {
    showSignin('');
  }
})();
