// The operations console in a real browser (issue #16): Debian's Chromium, headless, driven by
// playwright-core. It starts its own m2m-server with a temporary registry and two console users,
// and stops everything whatever happens. Steps:
//   sign in as admin; import an .xlsx of 50 devices generated here; see them listed; start a
//   simulated device and see it online within 2 s; reboot it from its page and see its reply;
//   sign in as a viewer: no reboot button, and the API refuses the request anyway (403); the
//   statistics chart shows the online device.
// Screenshots of every page go to $SCREENSHOT_DIR (default build/screenshots); with
// UPDATE_DOCS=1 the terminals page at 1280x800 is written to docs/console.png.
// Run: npm ci --prefix tests/browser && node tests/browser/console_test.mjs
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const bin = process.env.BIN_DIR || path.join(root, 'build', 'bin');
const shots = process.env.SCREENSHOT_DIR || path.join(root, 'build', 'screenshots');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 10000;  // the bound of every wait
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.error('✗ playwright-core is not installed: run scripts/setup (it runs npm ci in tests/browser)');
  process.exit(1);
}
if (!fs.existsSync(chromiumPath)) {
  console.error(`✗ no Chromium at ${chromiumPath}: run scripts/setup (apt-get install chromium)`);
  process.exit(1);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'm2m-console-browser-'));
const db = path.join(dir, 'm2m.db');
const children = [];
let browser;
let failed = false;
const overall = setTimeout(() => { console.error('✗ the whole test took more than 150 s'); cleanup(1); }, 150000);

function cleanup(code) {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const done = () => { fs.rmSync(dir, { recursive: true, force: true }); process.exit(code); };
  if (browser) browser.close().catch(() => {}).finally(done); else done();
}
process.on('SIGINT', () => cleanup(130));
process.on('SIGTERM', () => cleanup(143));

function admin(args, input) {
  const r = spawnSync(path.join(bin, 'm2m-server'), [...args, '--db', db], { input: input || '', encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`m2m-server ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

let stepNo = 0;
async function step(name, fn) {
  stepNo++;
  try {
    await fn();
    console.log(`✓ ${stepNo}. ${name}`);
  } catch (e) {
    console.log(`✗ ${stepNo}. ${name}: ${e.message}`);
    failed = true;
    throw e;
  }
}

function check(cond, what) { if (!cond) throw new Error(what); }

// Waits for the server's first event matching `pred` on its stdout (JSON Lines), bounded.
function serverEvents(proc) {
  const seen = [];
  const waiters = [];
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const ev = JSON.parse(line);
        seen.push(ev);
        for (const w of [...waiters]) if (w.pred(ev)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(ev); }
      } catch { /* not an event */ }
    }
  });
  return (pred, ms = WAIT) => {
    const hit = seen.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      waiters.push(w);
      setTimeout(() => reject(new Error('no matching server event within ' + ms + ' ms')), ms);
    });
  };
}

// An .xlsx of `rows` (first row: the header), written by Python's zipfile as a spreadsheet
// program would: inline strings in the first sheet.
function makeXlsx(file, rows) {
  const script = `
import json, sys, zipfile
rows = json.loads(sys.stdin.read())
def esc(v): return str(v).replace("&", "&amp;").replace("<", "&lt;")
cells = []
for r, row in enumerate(rows, 1):
    cells.append('<row r="%d">' % r + "".join('<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>' % (chr(65 + i), r, esc(v)) for i, v in enumerate(row)) + "</row>")
ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
    z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook %s xmlns:r="%s"><sheets><sheet name="Devices" sheetId="1" r:id="rId1"/></sheets></workbook>' % (ns, rel))
    z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="%s/worksheet" Target="worksheets/sheet1.xml"/></Relationships>' % rel)
    z.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet %s><sheetData>%s</sheetData></worksheet>' % (ns, "".join(cells)))
`;
  const r = spawnSync('python3', ['-c', script, file], { input: JSON.stringify(rows), encoding: 'utf8' });
  if (r.status !== 0) throw new Error('writing the .xlsx: ' + r.stderr);
}

async function signIn(page, base, user, pw) {
  await page.goto(base + '/#/terminals');
  await page.locator('#signin-user').fill(user, { timeout: WAIT });
  await page.locator('#signin-password').fill(pw);
  await page.locator('#signin-submit').click();
  await page.locator('#who-user').filter({ hasText: user }).waitFor({ timeout: WAIT });
}

async function shot(page, name) {
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, name + '.png') });
}

try {
  admin(['user', 'add', 'admin', '--role', 'admin', '--password-stdin'], 'admin-secret\n');
  admin(['user', 'add', 'viewer', '--role', 'viewer', '--password-stdin'], 'viewer-secret\n');
  const server = spawn(path.join(bin, 'm2m-server'), ['serve', '--db', db, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(server);
  const waitEvent = serverEvents(server);
  const listening = await waitEvent((e) => e.event === 'console_listening');
  const tcp = await waitEvent((e) => e.event === 'listening');
  const base = listening.url.replace(/\/$/, '');
  const devicePort = Number(tcp.tcp.split(':').pop());

  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('dialog', (d) => d.accept());
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });

  await step('an administrator signs in through the page', async () => {
    await page.goto(base + '/');
    await page.locator('#signin-user').waitFor({ timeout: WAIT });
    await shot(page, '01-sign-in');
    await page.locator('#signin-user').fill('admin');
    await page.locator('#signin-password').fill('wrong-password');
    await page.locator('#signin-submit').click();
    await page.locator('#signin-error').filter({ hasText: 'wrong user name or password' }).waitFor({ timeout: WAIT });
    await page.locator('#signin-password').fill('admin-secret');
    await page.locator('#signin-submit').click();
    await page.locator('#who-user').filter({ hasText: 'admin' }).waitFor({ timeout: WAIT });
    check((await page.locator('#who-role').textContent()) === 'admin', 'the header does not show the admin role');
    const cookies = await context.cookies();
    const c = cookies.find((x) => x.name === 'm2m_session');
    check(c && c.httpOnly && c.sameSite === 'Strict', 'the session cookie is not HttpOnly/SameSite=Strict: ' + JSON.stringify(c));
  });

  const ids = Array.from({ length: 50 }, (_, i) => (0x3000 + i).toString(16).toUpperCase().padStart(16, '0'));
  await step('an .xlsx of 50 devices is previewed and imported', async () => {
    const file = path.join(dir, 'devices.xlsx');
    makeXlsx(file, [['id', 'password', 'group', 'enabled', 'description', 'category'],
      ...ids.map((id, i) => [id, 'text:pw' + i, 'hall', '1', '空调 ' + i, 'AC'])]);
    await page.goto(base + '/#/import');
    await page.locator('[data-test=import-file]').setInputFiles(file);
    await page.locator('[data-test=import-summary]').filter({ hasText: '50 rows, 0 with errors' }).waitFor({ timeout: WAIT });
    check(await page.locator('[data-test=import-commit]').isEnabled(), 'Import all is not enabled');
    await shot(page, '02-import-preview');
    await page.locator('[data-test=import-commit]').click();
    await page.locator('[data-test=import-summary]').filter({ hasText: 'Imported 50 devices (50 new, 0 updated)' }).waitFor({ timeout: WAIT });
    await waitEvent((e) => e.event === 'console_change' && e.action === 'device_import' && e.imported === 50 && e.user === 'admin');
  });

  await step('the 50 devices are listed', async () => {
    const deadline = Date.now() + WAIT;
    await page.goto(base + '/#/terminals');
    for (;;) {  // the server's follower applies the import within a second
      await page.reload();
      await page.locator('[data-test=device-count]').filter({ hasText: /devices?$/ }).waitFor({ timeout: WAIT });
      if ((await page.locator('[data-test=device-count]').textContent()) === '50 devices') break;
      check(Date.now() < deadline, 'the list shows ' + (await page.locator('[data-test=device-count]').textContent()));
      await page.waitForTimeout(200);
    }
    const shown = await page.locator('tbody tr[data-device]').evaluateAll((rows) => rows.map((r) => r.dataset.device));
    check(JSON.stringify(shown) === JSON.stringify(ids), 'the first page lists ' + shown.slice(0, 3).join(',') + '…');
    check((await page.locator(`tr[data-device="${ids[7]}"]`).textContent()).includes('空调 7'), 'the description is not shown');
  });

  const dev = ids[3];
  await step('a simulated device is shown online within 2 s', async () => {
    await page.goto(base + '/#/device/' + dev);
    await page.locator('[data-test=device-online]').filter({ hasText: 'offline' }).waitFor({ timeout: WAIT });
    const sim = spawn(path.join(bin, 'm2m-simdevice'), ['-s', '127.0.0.1:' + devicePort, '--id', dev, '--password', 'text:pw3', '--reboot-time', '500ms'],
      { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(sim);
    const login = await waitEvent((e) => e.event === 'login' && e.device === dev);
    const t0 = Date.now();
    await page.locator('[data-test=device-online]').filter({ hasText: 'online TCP' }).waitFor({ timeout: 2000 });
    check(Date.now() - t0 <= 2000, 'online shown after ' + (Date.now() - t0) + ' ms');
    check(login.transport === 'tcp', 'the device did not log in over TCP');
    await page.locator('[data-test=live-log] [data-kind=presence]').first().waitFor({ timeout: WAIT });
    await shot(page, '03-device-online');
  });

  await step('the device is rebooted from its page and its reply is shown', async () => {
    await page.locator('[data-test=reboot]').click();
    await page.locator('[data-test=reply][data-status]').waitFor({ timeout: WAIT });
    const reply = JSON.parse(await page.locator('[data-test=reply]').textContent());
    check(reply.status === 'ok' && reply.type === 'term.reboot' && reply.device === dev, 'reply: ' + JSON.stringify(reply));
    const ev = await waitEvent((e) => e.event === 'route' && e.console_user === 'admin' && e.type === 'term.reboot');
    check(ev.device === dev, 'the route event names ' + ev.device);
    // The device goes away for its reboot time and logs in again: the live log shows both.
    await page.locator('[data-test=live-log] [data-kind=presence]', { hasText: 'offline' }).first().waitFor({ timeout: WAIT });
    await page.locator('[data-test=device-online]').filter({ hasText: 'online TCP' }).waitFor({ timeout: WAIT });
    await page.locator('[data-test=param-read]').selectOption('version');
    await page.locator('[data-test=read]').click();
    await page.locator('[data-test=reply]').filter({ hasText: '"software": "1.0.0"' }).waitFor({ timeout: WAIT });
    await shot(page, '04-device-reply');
  });

  await step('the statistics chart shows the online device', async () => {
    await page.goto(base + '/#/stats');
    const line = page.locator('[data-test=chart] path[data-series="hall"]');
    await line.waitFor({ state: 'attached', timeout: WAIT });
    check((await line.getAttribute('data-last')) === '1', 'the hall series ends at ' + (await line.getAttribute('data-last')));
    check((await page.locator('[data-test=legend]').textContent()).includes('hall: 1 online'), 'the legend does not say hall: 1 online');
    await shot(page, '05-statistics');
  });

  await step('the terminals page, for the README', async () => {
    await page.goto(base + '/#/terminals');
    await page.locator(`tr[data-device="${dev}"] [data-test=online]`).filter({ hasText: 'online' }).waitFor({ timeout: WAIT });
    await shot(page, '06-terminals');
    if (process.env.UPDATE_DOCS === '1') await page.screenshot({ path: path.join(root, 'docs', 'console.png') });
    for (const id of ['regions', 'groups', 'accounts', 'users', 'roles', 'guide']) {
      await page.goto(base + '/#/' + id);
      await page.locator('#view .card h1').first().waitFor({ timeout: WAIT });
      await page.waitForLoadState('networkidle');
      await shot(page, '07-' + id);
    }
  });

  await step('a viewer sees no reboot button, and the API refuses it anyway', async () => {
    await page.locator('#signout').click();
    await page.locator('#signin-user').waitFor({ timeout: WAIT });
    await signIn(page, base, 'viewer', 'viewer-secret');
    await page.goto(base + '/#/device/' + dev);
    await page.locator('[data-test=device-online]').waitFor({ timeout: WAIT });
    check((await page.locator('[data-test=reboot]').count()) === 0, 'a viewer is shown the reboot button');
    check((await page.locator('#menu [data-menu=users]').count()) === 0, 'a viewer is shown System users');
    const answer = await page.evaluate(async (id) => {
      const s = await (await fetch('/api/session')).json();
      const r = await fetch(`/api/devices/${id}/command`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
        body: JSON.stringify({ type: 'term.reboot' }) });
      return { status: r.status, body: await r.json(), role: s.role };
    }, dev);
    check(answer.role === 'viewer', 'signed in as ' + answer.role);
    check(answer.status === 403 && answer.body.error === 'forbidden', 'the API answered ' + JSON.stringify(answer));
    await shot(page, '08-viewer-device');
  });

  await step('no script errors on any page', async () => {
    check(pageErrors.length === 0, pageErrors.join(' | '));
  });
} catch {
  failed = true;
}
clearTimeout(overall);
console.log(failed ? 'console browser test: FAILED (screenshots: ' + shots + ')' : 'console browser test: all steps passed (screenshots: ' + shots + ')');
cleanup(failed ? 1 : 0);
