/* The facility manager UI (web/manage.html) in headless Chromium against a
 * real wardgated on the small test facility: a manager edits, adds and
 * deletes devices and edits a resident through the editors (and the
 * configuration file on disk follows, with <file>.prev kept); invalid edits
 * show the server's 400/422 and change nothing; a nurse cannot reach the
 * editor (no buttons, a direct link says forbidden, the server says 403);
 * history with CSV export; the response report; an admin adds a user who
 * can then log in; the audit log. Screenshots at each step. */
'use strict';

const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const PW = { station: 'station-pass-1', manager: 'manager-pass-1', nurse: 'nurse-pass-01', admin: 'admin-pass-01', carer: 'carer2-pass-1', carer2: 'carer2-pass-2' };
const WAIT = 15000;

/* The call point rings, the pull cord's unit goes silent and the bed sensor
 * flickers shortly after start, so the history has alarm, health and point
 * events, more than one page of them. */
const SCRIPT = [
  '      script:',
  '        - {at_ms: 800, device: call-101A, point: call, value: 1}',
  '        - {at_ms: 1200, device: cord-101, health: offline, reason: "test: unit unplugged"}',
  /* 70 in-bed changes (no rule uses them here): more than a history page. */
  '        - {at_ms: 1300, device: bed-101A, point: in_bed, value: 1, repeat: 70, every_ms: 10}',
].join('\n');

/* A JSON request from inside the page, with the page's session and CSRF token. */
async function pageApi(page, method, url, body) {
  return page.evaluate(async ([m, u, b]) => {
    const s = await (await fetch('/api/v1/session')).json().catch(() => ({}));
    const headers = { Accept: 'application/json' };
    if (b !== null) headers['Content-Type'] = 'application/json';
    if (m !== 'GET' && s.csrf) headers['X-CSRF-Token'] = s.csrf;
    const r = await fetch(u, { method: m, headers, body: b === null ? undefined : JSON.stringify(b) });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data };
  }, [method, url, body === undefined ? null : body]);
}

/* Console errors other than the browser's own line for a 4xx answer (which
 * several steps provoke on purpose). */
function realErrors(page) {
  return page.consoleErrors.filter((e) => !/Failed to load resource/.test(e));
}

async function waitRowText(page, selector, text) {
  await page.waitForFunction(([s, x]) => {
    const el = document.querySelector(s);
    return el && el.textContent === x;
  }, [selector, text], { timeout: WAIT });
}

async function setHash(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
}

/* Clicks Save in an editor and returns the API response to it. */
async function saveAndCapture(page, saveButton, method, urlPart) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().includes(urlPart) && r.request().method() === method, { timeout: WAIT }),
    page.click(saveButton),
  ]);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  return { status: resp.status(), data };
}

async function main() {
  const dir = lib.scratchDir('manager');
  const port = await lib.freePort();
  const config = lib.writeConfig(dir, port, SCRIPT);
  const db = path.join(dir, 'wardgate.db');
  for (const [name, role] of [['manager', 'manager'], ['nurse', 'nurse'], ['admin', 'admin'], ['station', 'station']]) {
    lib.addUser(config, db, name, role, PW[name]);
  }
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  let browser = null;
  const pages = [];
  const step = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      ok(false, `${name}: no exception`, e && e.stack ? e.stack : String(e));
      for (const p of pages) {
        if (p.isClosed()) continue;
        await lib.screenshot(p, `manager-FAILED-${name.replace(/\W+/g, '-')}-${pages.indexOf(p)}`).catch(() => {});
        /* An editor left open would block every later step. */
        await p.evaluate(() => document.querySelectorAll('dialog[open]').forEach((d) => d.close())).catch(() => {});
      }
    }
  };
  const newPage = async (lang) => {
    const p = await lib.newPage(browser, lang);
    p.setDefaultTimeout(WAIT);
    pages.push(p);
    return p;
  };

  try {
    await daemon.start();
    browser = await lib.launchBrowser();
    const base = daemon.url;
    const original = fs.readFileSync(config, 'utf8');

    /* ---------------- manager: the device list ---------------- */
    const mgr = await newPage();
    await step('manager logs in', async () => {
      await lib.login(mgr, base, 'manager', PW.manager, '/manage.html#devices');
      await mgr.waitForSelector('#device-table tr[data-id="meter-f1"]');
      ok(true, 'manager: the device list shows meter-f1');
      const rows = await mgr.locator('#device-table tbody tr').count();
      ok(rows === 8, 'manager: all 8 devices of the small facility are listed', `rows: ${rows}`);
      ok(await mgr.locator('html[lang="zh-CN"]').count() === 1 && /设备/.test(await mgr.textContent('#tabs a[data-tab="devices"]')),
        'manager: Chinese by default');
      const health = await mgr.textContent('#device-table tr[data-id="meter-f1"] .health');
      ok(/在线|疑似|离线|未知/.test(health), 'manager: meter-f1 shows a health state', health);
      ok(await mgr.locator('#device-add').isVisible(), 'manager: the add button is shown');
      ok(await mgr.locator('#tabs a[data-tab="users"]').isHidden(), 'manager: no users tab (admin only)');
      /* The pull cord's unit was set offline by the script: the list follows the daemon. */
      await mgr.waitForSelector('#device-table tr[data-id="cord-101"] .health-offline', { timeout: 20000 });
      ok(true, 'manager: cord-101 turns offline in the list (polled)');
      await mgr.selectOption('#dev-filter-health', 'offline');
      const offline = await mgr.locator('#device-table tbody tr').count();
      ok(offline >= 1 && offline < 7, 'manager: the health filter narrows the list', `rows: ${offline}`);
      await mgr.selectOption('#dev-filter-health', '');
      await mgr.fill('#dev-filter-text', 'meter');
      await mgr.waitForFunction(() => document.querySelectorAll('#device-table tbody tr').length === 1);
      ok(true, 'manager: the text filter finds meter-f1 alone');
      await mgr.fill('#dev-filter-text', '');
      await lib.screenshot(mgr, 'manager-01-devices');
    });

    /* ---------------- manager edits meter-f1 ---------------- */
    await step('manager edits a device', async () => {
      await mgr.click('#device-table tr[data-id="meter-f1"] button.device-edit');
      await mgr.waitForSelector('#device-editor[open]');
      ok(/#devices\/edit\/meter-f1$/.test(mgr.url()), 'editor: the URL names the device', mgr.url());
      ok(await mgr.inputValue('#dev-id') === 'meter-f1' && await mgr.locator('#dev-id').getAttribute('readonly') !== null,
        'editor: the id is shown and read-only');
      ok(await mgr.inputValue('#dev-profile') === 'eastron-sdm120' && await mgr.inputValue('#dev-bus') === 'sim1'
        && await mgr.inputValue('#dev-address') === '7', 'editor: profile, bus and address are filled in');
      await mgr.fill('#dev-label', '总电表 <101>');
      await mgr.fill('#dev-poll', '2000');
      await lib.screenshot(mgr, 'manager-02-device-editor');
      const res = await saveAndCapture(mgr, '#device-save', 'PUT', '/api/v1/devices/meter-f1');
      ok(res.status === 200, 'PUT /api/v1/devices/meter-f1 from the editor: 200', JSON.stringify(res));
      await mgr.waitForSelector('#device-editor', { state: 'hidden' });
      await waitRowText(mgr, '#device-table tr[data-id="meter-f1"] td.label', '总电表 <101>');
      ok(true, 'the list shows the new label (as text, not markup)');
      ok(await mgr.locator('#device-table tr[data-id="meter-f1"] td.label *').count() === 0, 'the label is escaped');
      const got = await pageApi(mgr, 'GET', '/api/v1/devices/meter-f1');
      const dev = got.data && got.data.device;
      ok(got.status === 200 && dev && dev.label === '总电表 <101>' && dev.poll_ms === 2000,
        'GET /api/v1/devices/meter-f1 has the new label and poll_ms', JSON.stringify(got));
      const text = fs.readFileSync(config, 'utf8');
      ok(text.includes('总电表 <101>') && /meter-f1[^\n]*2000|2000[^\n]*meter-f1|poll_ms: 2000/.test(text),
        'the configuration file has the change');
      ok(fs.existsSync(`${config}.prev`) && fs.readFileSync(`${config}.prev`, 'utf8') === original,
        '<file>.prev holds the previous version');
      const was = original.split('\n');
      const now = text.split('\n');
      const changed = now.filter((line, i) => line !== was[i]);
      ok(now.length === was.length && changed.length === 1 && /meter-f1/.test(changed[0]),
        'only meter-f1\'s line changed; the rest of the file (comments too) is byte for byte the same', changed.join('\n'));
      ok(await mgr.locator('#message.ok').isVisible(), 'a confirmation is shown');
      /* Still right after the next polls (the reloaded daemon says so too). */
      await lib.sleep(2500);
      ok(await mgr.textContent('#device-table tr[data-id="meter-f1"] td.label') === '总电表 <101>',
        'the change stays in the list after the next poll');
      await lib.screenshot(mgr, 'manager-03-device-saved');
    });

    /* ---------------- invalid edits change nothing ---------------- */
    await step('invalid device edits', async () => {
      const before = fs.readFileSync(config, 'utf8');
      const prevBefore = fs.readFileSync(`${config}.prev`, 'utf8');
      await setHash(mgr, '#devices/edit/meter-f1');
      await mgr.waitForSelector('#device-editor[open]');
      await mgr.fill('#dev-address', '70000');
      let res = await saveAndCapture(mgr, '#device-save', 'PUT', '/api/v1/devices/meter-f1');
      ok(res.status === 400 || res.status === 422, 'address 70000: refused with 400 or 422', JSON.stringify(res));
      await mgr.waitForSelector('#device-errors:not([hidden])');
      ok(await mgr.locator('#device-editor').isVisible(), 'address 70000: the editor stays open');
      const shown = await mgr.textContent('#device-errors');
      const expected = res.data && Array.isArray(res.data.details) && res.data.details.length ? res.data.details.map((d) => d.message) : [res.data && res.data.error];
      ok(shown.includes(String(res.status)) && expected.every((x) => x && shown.includes(x)), 'address 70000: the error is shown', shown);
      if (res.data && res.data.field) {
        const fieldId = { address: 'dev-address' }[res.data.field];
        ok(fieldId && await mgr.locator(`#${fieldId}.invalid`).count() === 1,
          `address 70000: the field "${res.data.field}" is highlighted`);
      }
      if (res.data && Array.isArray(res.data.details)) {
        ok(await mgr.locator('#device-errors ul.details li').count() === res.data.details.length, 'address 70000: the details are listed');
      }
      await lib.screenshot(mgr, 'manager-04-bad-address');
      ok(fs.readFileSync(config, 'utf8') === before, 'address 70000: the file is unchanged');

      /* An unknown profile: the select only offers real ones, so add one
       * the way a stale page or a crafted request would. */
      await mgr.fill('#dev-address', '7');
      await mgr.evaluate(() => {
        const o = document.createElement('option');
        o.value = 'no-such-profile';
        o.textContent = 'no-such-profile';
        document.querySelector('#dev-profile').appendChild(o);
      });
      await mgr.selectOption('#dev-profile', 'no-such-profile');
      res = await saveAndCapture(mgr, '#device-save', 'PUT', '/api/v1/devices/meter-f1');
      ok(res.status === 422, 'unknown profile: 422', JSON.stringify(res));
      await mgr.waitForFunction(() => /no-such-profile/.test(document.querySelector('#device-errors').textContent));
      const details = await mgr.locator('#device-errors ul.details li').count();
      ok(details >= 1 && res.data && Array.isArray(res.data.details) && details === res.data.details.length,
        'unknown profile: the loader\'s messages are listed', `${details} shown; ${JSON.stringify(res.data)}`);
      ok(res.data.details.every((d) => d.code && d.message && !d.message.includes(dir)) && !(await mgr.textContent('#device-errors')).includes(dir),
        'unknown profile: each problem has a code, and no server path is shown', JSON.stringify(res.data.details));
      await lib.screenshot(mgr, 'manager-05-unknown-profile');
      /* A 403 from the server (here: the CSRF header stripped on the way)
       * is shown as a refusal, not taken for a success. */
      await mgr.selectOption('#dev-profile', 'eastron-sdm120');
      await mgr.route('**/api/v1/devices/meter-f1', (route) => {
        const headers = { ...route.request().headers() };
        delete headers['x-csrf-token'];
        return route.continue({ headers });
      });
      res = await saveAndCapture(mgr, '#device-save', 'PUT', '/api/v1/devices/meter-f1');
      await mgr.unroute('**/api/v1/devices/meter-f1');
      ok(res.status === 403, 'no CSRF header: the server answers 403', JSON.stringify(res));
      await mgr.waitForFunction(() => /无权/.test(document.querySelector('#device-errors').textContent));
      ok(await mgr.locator('#device-editor').isVisible(),
        '403: the editor says the change is not allowed and stays open');
      await mgr.click('#device-cancel');
      await mgr.waitForSelector('#device-editor', { state: 'hidden' });
      await mgr.waitForFunction(() => location.hash === '#devices');
      ok(true, 'cancel: back to #devices');
      ok(fs.readFileSync(config, 'utf8') === before && fs.readFileSync(`${config}.prev`, 'utf8') === prevBefore,
        'unknown profile: the file and its .prev are unchanged');
      const got = await pageApi(mgr, 'GET', '/api/v1/devices/meter-f1');
      ok(got.status === 200 && got.data.device.profile === 'eastron-sdm120' && got.data.device.address === 7,
        'the running configuration is unchanged', JSON.stringify(got.data));
    });

    /* ---------------- add and delete a device ---------------- */
    await step('manager adds and deletes a device', async () => {
      await mgr.click('#device-add');
      await mgr.waitForSelector('#device-editor[open]');
      ok(await mgr.locator('#device-delete').isHidden(), 'new device: no delete button');
      await mgr.fill('#dev-id', 'door-102');
      await mgr.fill('#dev-label', '102 门磁');
      await mgr.selectOption('#dev-bus', 'sim1');
      await mgr.fill('#dev-address', '8');
      await mgr.selectOption('#dev-profile', 'door-contact');
      await mgr.selectOption('#dev-room', '102');
      await mgr.fill('#dev-spot', 'door');
      const res = await saveAndCapture(mgr, '#device-save', 'POST', '/api/v1/devices');
      ok(res.status === 201, 'POST /api/v1/devices: 201', JSON.stringify(res));
      await mgr.waitForSelector('#device-editor', { state: 'hidden' });
      await mgr.waitForSelector('#device-table tr[data-id="door-102"]');
      ok(true, 'the new device is listed');
      ok(fs.readFileSync(config, 'utf8').includes('door-102'), 'the new device is in the file');
      const got = await pageApi(mgr, 'GET', '/api/v1/devices/door-102');
      ok(got.status === 200 && got.data.device.profile === 'door-contact'
        && (got.data.device.room === '102' || (got.data.device.location && got.data.device.location.room === '102')),
      'GET /api/v1/devices/door-102 has it in room 102', JSON.stringify(got.data));
      await lib.screenshot(mgr, 'manager-06-device-added');

      await mgr.click('#device-table tr[data-id="door-102"] button.device-delete');
      await mgr.waitForSelector('#confirm-dialog[open]');
      ok(/door-102/.test(await mgr.textContent('#confirm-text')), 'delete asks for confirmation, naming the device');
      await lib.screenshot(mgr, 'manager-07-confirm-delete');
      const [del] = await Promise.all([
        mgr.waitForResponse((r) => r.url().includes('/api/v1/devices/door-102') && r.request().method() === 'DELETE'),
        mgr.click('#confirm-ok'),
      ]);
      ok(del.status() === 200, 'DELETE /api/v1/devices/door-102: 200', String(del.status()));
      await mgr.waitForSelector('#device-table tr[data-id="door-102"]', { state: 'detached' });
      ok(true, 'the deleted device leaves the list');
      ok(!fs.readFileSync(config, 'utf8').includes('door-102'), 'the deleted device is gone from the file');
      const gone = await pageApi(mgr, 'GET', '/api/v1/devices/door-102');
      ok(gone.status === 404, 'GET /api/v1/devices/door-102: 404 after the delete', String(gone.status));
    });

    /* ---------------- residents ---------------- */
    await step('manager edits a resident', async () => {
      await mgr.click('#tabs a[data-tab="residents"]');
      await mgr.waitForSelector('#resident-table tr[data-id="R-0002"]');
      ok(await mgr.locator('#resident-table tr[data-id="R-0001"] .risk-fall').count() === 1,
        'residents: R-0001 shows the fall-risk flag');
      ok(await mgr.locator('#resident-table tr[data-id="R-0002"] .risk-wandering').count() === 1
        && await mgr.locator('#resident-table tr[data-id="R-0002"] .risk-fall').count() === 0,
      'residents: R-0002 shows wandering, not fall');
      ok(await mgr.locator('#room-table tr[data-id="101"] input.bed-labels').inputValue() === 'A, B', 'beds: room 101 has A, B');
      await lib.screenshot(mgr, 'manager-08-residents');
      await mgr.click('#resident-table tr[data-id="R-0002"] button.resident-edit');
      await mgr.waitForSelector('#resident-editor[open]');
      ok(await mgr.locator('#res-risks input[value="wandering"]').isChecked(), 'resident editor: wandering is ticked');
      await mgr.check('#res-risks input[value="fall"]');
      await mgr.selectOption('#res-care', '3');
      await lib.screenshot(mgr, 'manager-09-resident-editor');
      const res = await saveAndCapture(mgr, '#resident-save', 'PUT', '/api/v1/residents/R-0002');
      ok(res.status === 200, 'PUT /api/v1/residents/R-0002: 200', JSON.stringify(res));
      await mgr.waitForSelector('#resident-editor', { state: 'hidden' });
      await mgr.waitForSelector('#resident-table tr[data-id="R-0002"] .risk-fall');
      ok(true, 'residents: R-0002 now shows the fall-risk flag');
      const got = await pageApi(mgr, 'GET', '/api/v1/residents');
      const r = got.data && got.data.residents.find((x) => x.id === 'R-0002');
      ok(r && r.risks.includes('fall') && r.risks.includes('wandering') && r.care_level === 3,
        'GET /api/v1/residents: R-0002 has fall and wandering, care level 3', JSON.stringify(r));
      const text = fs.readFileSync(config, 'utf8');
      const at = text.indexOf('R-0002');
      const line = at >= 0 ? text.slice(text.lastIndexOf('\n', at) + 1, text.indexOf('\n', at)) : '';
      ok(/fall/.test(line) && /wandering/.test(line) && !/label/.test(line), 'the file has R-0002\'s new risks (and no empty label)', line);
      await lib.screenshot(mgr, 'manager-10-resident-saved');
    });

    /* ---------------- beds and a new resident ---------------- */
    await step('manager edits beds, adds and deletes a resident', async () => {
      const row = '#room-table tr[data-id="102"]';
      await mgr.fill(`${row} input.bed-labels`, 'A, B');
      let [resp] = await Promise.all([
        mgr.waitForResponse((r) => r.url().endsWith('/api/v1/rooms/102/beds') && r.request().method() === 'PUT'),
        mgr.click(`${row} button.room-beds-save`),
      ]);
      ok(resp.status() === 200, 'beds: PUT /api/v1/rooms/102/beds ["A", "B"]: 200', String(resp.status()));
      ok(/\{id: "102"[^\n]*beds: \[A, B\]/.test(fs.readFileSync(config, 'utf8')), 'beds: the file has room 102 with beds A, B');
      await mgr.waitForFunction(() => document.querySelector('#room-table tr[data-id="102"] input.bed-labels').value === 'A, B');

      /* Bed A has a resident: removing it is refused by the loader. */
      const before = fs.readFileSync(config, 'utf8');
      await mgr.fill(`${row} input.bed-labels`, 'B');
      [resp] = await Promise.all([
        mgr.waitForResponse((r) => r.url().endsWith('/api/v1/rooms/102/beds') && r.request().method() === 'PUT'),
        mgr.click(`${row} button.room-beds-save`),
      ]);
      ok(resp.status() === 422, 'beds: removing bed 102-A (R-0002 lies there): 422', String(resp.status()));
      await mgr.waitForFunction((r) => /102-A/.test(document.querySelector(`${r} .field-error`).textContent), row);
      ok(await mgr.locator(`${row} input.bed-labels.invalid`).count() === 1, 'beds: the refusal is shown in the room\'s row');
      ok(fs.readFileSync(config, 'utf8') === before, 'beds: the file is unchanged after the refusal');
      await lib.screenshot(mgr, 'manager-10b-beds-refused');

      await mgr.click('#resident-add');
      await mgr.waitForSelector('#resident-editor[open]');
      await mgr.fill('#res-id', 'bad id');
      let res = await saveAndCapture(mgr, '#resident-save', 'POST', '/api/v1/residents');
      ok(res.status === 400, 'new resident with a bad id: 400', JSON.stringify(res));
      await mgr.waitForSelector('#resident-errors:not([hidden])');
      if (res.data && res.data.field === 'id') ok(await mgr.locator('#res-id.invalid').count() === 1, 'new resident: the id field is highlighted');
      await mgr.fill('#res-id', 'R-0003');
      await mgr.fill('#res-label', '李爷爷');
      await mgr.selectOption('#res-bed', '102-B');
      await mgr.selectOption('#res-care', '2');
      await mgr.check('#res-risks input[value="wandering"]');
      await mgr.fill('#res-night', '20:00-07:30');
      res = await saveAndCapture(mgr, '#resident-save', 'POST', '/api/v1/residents');
      ok(res.status === 201, 'POST /api/v1/residents R-0003 in the new bed 102-B: 201', JSON.stringify(res));
      await mgr.waitForSelector('#resident-table tr[data-id="R-0003"] .risk-wandering');
      ok(await mgr.textContent('#resident-table tr[data-id="R-0003"] td.night') === '20:00-07:30', 'new resident: listed with the wandering flag and night window');
      ok(fs.readFileSync(config, 'utf8').includes('R-0003'), 'new resident: in the file');

      await mgr.click('#resident-table tr[data-id="R-0003"] button.resident-delete');
      await mgr.waitForSelector('#confirm-dialog[open]');
      [resp] = await Promise.all([
        mgr.waitForResponse((r) => r.url().endsWith('/api/v1/residents/R-0003') && r.request().method() === 'DELETE'),
        mgr.click('#confirm-ok'),
      ]);
      ok(resp.status() === 200, 'DELETE /api/v1/residents/R-0003: 200', String(resp.status()));
      await mgr.waitForSelector('#resident-table tr[data-id="R-0003"]', { state: 'detached' });
      ok(!fs.readFileSync(config, 'utf8').includes('R-0003'), 'the deleted resident leaves the list and the file');
    });

    /* ---------------- the nurse ---------------- */
    const nurse = await newPage();
    await step('nurse cannot edit', async () => {
      await lib.login(nurse, base, 'nurse', PW.nurse, '/manage.html#devices');
      await nurse.waitForSelector('#device-table tr[data-id="meter-f1"]');
      ok(true, 'nurse: sees the device list');
      ok(await nurse.locator('#device-add').isHidden(), 'nurse: no add button');
      ok(await nurse.locator('#device-table button').count() === 0, 'nurse: no edit or delete buttons');
      ok(await nurse.locator('#tabs a[data-tab="residents"]').isHidden() && await nurse.locator('#tabs a[data-tab="users"]').isHidden()
        && await nurse.locator('#tabs a[data-tab="audit"]').isHidden() && await nurse.locator('#tabs a[data-tab="report"]').isHidden(),
      'nurse: only the devices and history tabs');
      await lib.screenshot(nurse, 'manager-11-nurse-devices');
      await setHash(nurse, '#devices/edit/meter-f1');
      await nurse.waitForSelector('#forbidden', { state: 'visible' });
      ok(await nurse.locator('#device-editor').isHidden(), 'nurse: #devices/edit/meter-f1 does not open the editor');
      ok(/无权/.test(await nurse.textContent('#forbidden')), 'nurse: it says forbidden');
      /* A fresh load of the link, too. */
      await nurse.goto(`${base}/manage.html#devices/new`);
      await nurse.waitForSelector('#forbidden', { state: 'visible' });
      ok(await nurse.locator('#device-editor').isHidden() && await nurse.locator('#view-devices').isHidden(),
        'nurse: loading manage.html#devices/new shows forbidden, no editor');
      await lib.screenshot(nurse, 'manager-12-nurse-forbidden');
      const before = fs.readFileSync(config, 'utf8');
      const put = await pageApi(nurse, 'PUT', '/api/v1/devices/meter-f1',
        { id: 'meter-f1', label: 'nurse was here', bus: 'sim1', address: 7, profile: 'eastron-sdm120', room: '101' });
      ok(put.status === 403, 'nurse: PUT /api/v1/devices/meter-f1 with the nurse\'s session and CSRF token: 403', JSON.stringify(put));
      const post = await pageApi(nurse, 'POST', '/api/v1/devices', { id: 'x-1', bus: 'sim1', address: 9, profile: 'call-point' });
      ok(post.status === 403, 'nurse: POST /api/v1/devices: 403', JSON.stringify(post));
      const residents = await pageApi(nurse, 'GET', '/api/v1/residents');
      ok(residents.status === 403, 'nurse: GET /api/v1/residents: 403', String(residents.status));
      ok(fs.readFileSync(config, 'utf8') === before, 'nurse: the file is unchanged');
      await setHash(nurse, '#residents');
      await nurse.waitForSelector('#forbidden', { state: 'visible' });
      ok(await nurse.locator('#view-residents').isHidden(), 'nurse: #residents shows forbidden');
      await setHash(nurse, '#history');
      await nurse.waitForSelector('#history-table tbody tr');
      ok(await nurse.locator('#forbidden').isHidden(), 'nurse: may read the history');
    });

    await step('station account', async () => {
      const station = await newPage();
      await lib.login(station, base, 'station', PW.station, '/manage.html#devices');
      await station.waitForSelector('#forbidden', { state: 'visible' });
      ok(await station.locator('#tabs').isHidden() && await station.locator('#view-devices').isHidden(),
        'station: the wall display\'s account gets forbidden, no tabs');
      await lib.screenshot(station, 'manager-12b-station-forbidden');
    });

    /* ---------------- history and CSV ---------------- */
    await step('history and CSV', async () => {
      await mgr.click('#tabs a[data-tab="history"]');
      await mgr.waitForSelector('#view-history', { state: 'visible' });
      const deadline = Date.now() + 20000;
      let rows = 0;
      while (Date.now() < deadline) {
        rows = await mgr.locator('#history-table tbody tr').count();
        if (rows > 0) break;
        await lib.sleep(1000);
        await mgr.click('#hist-search');
      }
      ok(rows > 0, 'history: events are listed', `rows: ${rows}`);
      const seqs = (await mgr.locator('#history-table tbody tr').evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.seq))))
        .filter((n) => !Number.isNaN(n));
      ok(seqs.length > 1 && seqs.every((s, i) => i === 0 || s < seqs[i - 1]), 'history: newest first', seqs.slice(0, 10).join(','));
      await lib.screenshot(mgr, 'manager-13-history');
      ok(await mgr.locator('#hist-older').isEnabled(), 'history: more than a page, "older" is offered');
      if (await mgr.locator('#hist-older').isEnabled()) {
        const [older] = await Promise.all([
          mgr.waitForResponse((r) => r.url().includes('/api/v1/history') && r.url().includes('before=')),
          mgr.click('#hist-older'),
        ]);
        ok(older.status() === 200, 'history: the next page is asked with before=', older.url());
        await mgr.waitForFunction((last) => {
          const first = document.querySelector('#history-table tbody tr');
          return first && Number(first.dataset.seq) < last;
        }, seqs[seqs.length - 1]);
        ok(true, 'history: the next page is older');
        await mgr.click('#hist-newest');
      } else {
        note('history: one page only, paging not exercised');
      }

      await mgr.selectOption('#hist-kind', 'alarm');
      await mgr.click('#hist-search');
      await mgr.waitForFunction(() => {
        const trs = [...document.querySelectorAll('#history-table tbody tr')];
        return trs.length > 0 && trs.every((tr) => tr.classList.contains('kind-alarm'));
      });
      ok(true, 'history: the kind filter shows alarm events only, and there are some');
      ok(/呼叫|call/.test(await mgr.textContent('#history-table tbody')), 'history: the call is listed');
      const href = await mgr.getAttribute('#history-csv', 'href');
      ok(/format=csv/.test(href) && /kind=alarm/.test(href), 'history: the CSV link carries the filters', href);
      const [download] = await Promise.all([mgr.waitForEvent('download', { timeout: WAIT }), mgr.click('#history-csv')]);
      const file = await download.path();
      const csv = file ? fs.readFileSync(file, 'utf8') : '';
      const lines = csv.split(/\r?\n/).filter((l) => l.length);
      ok(lines.length >= 2, 'CSV: downloaded, a header and at least one row', `${lines.length} lines; suggested ${download.suggestedFilename()}`);
      ok(lines.length > 0 && /^[A-Za-z_]+(,[A-Za-z_]+)+$/.test(lines[0].replace(/"/g, '')), 'CSV: the first line is a header row', lines[0]);
      note(`CSV header: ${lines[0]}`);
      await mgr.selectOption('#hist-kind', '');
      await mgr.click('#hist-search');
    });

    /* ---------------- report and audit ---------------- */
    await step('report and audit', async () => {
      await mgr.click('#tabs a[data-tab="report"]');
      await mgr.waitForSelector('#report-table tbody tr[data-shift="all"]');
      const shifts = await mgr.locator('#report-table tbody tr.shift').count();
      ok(shifts >= 3, 'report: a row per shift and the total', `shift rows: ${shifts}`);
      ok(/\d/.test(await mgr.textContent('#report-window')), 'report: the window is shown');
      await mgr.fill('#report-days', '30');
      const [resp] = await Promise.all([
        mgr.waitForResponse((r) => r.url().includes('/api/v1/report/response') && r.url().includes('days=30')),
        mgr.click('#report-form button[type="submit"]'),
      ]);
      ok(resp.status() === 200, 'report: 30 days asked and answered', String(resp.status()));
      await lib.screenshot(mgr, 'manager-14-report');

      await mgr.click('#tabs a[data-tab="audit"]');
      await mgr.waitForFunction(() => document.querySelectorAll('#audit-table tbody tr').length > 0);
      ok(/meter-f1/.test(await mgr.textContent('#audit-table tbody')), 'audit: the device change is listed');
      await lib.screenshot(mgr, 'manager-15-audit');

      await mgr.click('#lang-toggle');
      await mgr.waitForFunction(() => document.querySelector('#tabs a[data-tab="devices"]').textContent === 'Devices');
      ok(await mgr.locator('html[lang="en"]').count() === 1, 'English: the toggle switches the page');
      await mgr.click('#tabs a[data-tab="devices"]');
      await mgr.waitForSelector('#device-table tr[data-id="meter-f1"] .health');
      ok(/online|suspect|offline|unknown/.test(await mgr.textContent('#device-table tr[data-id="meter-f1"] .health')),
        'English: the device list is in English');
      await lib.screenshot(mgr, 'manager-16-english');
      await mgr.click('#lang-toggle');
    });

    /* ---------------- admin and users ---------------- */
    const admin = await newPage('en');
    await step('admin adds a user', async () => {
      await lib.login(admin, base, 'admin', PW.admin, '/manage.html#users');
      await admin.waitForSelector('#user-table tr[data-user="manager"]');
      ok(await admin.locator('#user-table tbody tr').count() === 4, 'admin: the four users are listed');
      await admin.fill('#new-username', 'carer2');
      await admin.selectOption('#new-role', 'nurse');
      await admin.fill('#new-password', PW.carer);
      const [resp] = await Promise.all([
        admin.waitForResponse((r) => r.url().endsWith('/api/v1/users') && r.request().method() === 'POST'),
        admin.click('#user-add'),
      ]);
      ok(resp.status() === 201 || resp.status() === 200, 'admin: POST /api/v1/users answered', String(resp.status()));
      await admin.waitForSelector('#user-table tr[data-user="carer2"]');
      ok(await admin.locator('#user-table tr[data-user="carer2"] select.user-role').inputValue() === 'nurse', 'admin: carer2 is listed as nurse');
      await lib.screenshot(admin, 'manager-17-users');

      const carer = await newPage();
      await lib.login(carer, base, 'carer2', PW.carer, '/manage.html#devices');
      await carer.waitForSelector('#device-table tr[data-id="meter-f1"]');
      ok(await carer.textContent('#who-user') === 'carer2', 'carer2 logs in and sees the device list');

      const short = await Promise.all([
        admin.waitForResponse((r) => r.url().endsWith('/api/v1/users') && r.request().method() === 'POST'),
        (async () => { await admin.fill('#new-username', 'shorty'); await admin.fill('#new-password', 'short'); await admin.click('#user-add'); })(),
      ]);
      ok(short[0].status() === 400, 'admin: a short password is refused (400)', String(short[0].status()));
      await admin.waitForFunction(() => document.querySelector('#user-add-error').textContent.length > 0);
      ok(/10/.test(await admin.textContent('#user-add-error')), 'admin: the refusal is shown', await admin.textContent('#user-add-error'));

      const [roleResp] = await Promise.all([
        admin.waitForResponse((r) => r.url().endsWith('/api/v1/users/carer2') && r.request().method() === 'PUT'),
        admin.selectOption('#user-table tr[data-user="carer2"] select.user-role', 'manager'),
      ]);
      ok(roleResp.status() === 200, 'admin: PUT /api/v1/users/carer2 {role} answered 200', String(roleResp.status()));
      let list = await pageApi(admin, 'GET', '/api/v1/users');
      ok(list.data && list.data.users.find((u) => u.username === 'carer2').role === 'manager', 'admin: carer2 made manager');

      await admin.click('#user-table tr[data-user="carer2"] button.user-password');
      await admin.waitForSelector('#password-dialog[open]');
      await admin.fill('#reset-password', PW.carer2);
      const [pw] = await Promise.all([
        admin.waitForResponse((r) => r.url().endsWith('/api/v1/users/carer2') && r.request().method() === 'PUT'),
        admin.click('#password-save'),
      ]);
      ok(pw.status() === 200, 'admin: password reset', String(pw.status()));
      await admin.waitForSelector('#password-dialog', { state: 'hidden' });
      const carer2 = await newPage();
      await lib.login(carer2, base, 'carer2', PW.carer2, '/manage.html#devices');
      await carer2.waitForSelector('#device-add', { state: 'visible' });
      ok(true, 'carer2 logs in with the new password, as a manager');

      await admin.click('#user-table tr[data-user="carer2"] button.user-delete');
      await admin.waitForSelector('#confirm-dialog[open]');
      await admin.click('#confirm-ok');
      await admin.waitForSelector('#user-table tr[data-user="carer2"]', { state: 'detached' });
      list = await pageApi(admin, 'GET', '/api/v1/users');
      ok(list.data && !list.data.users.find((u) => u.username === 'carer2'), 'admin: carer2 deleted');
      await lib.screenshot(admin, 'manager-18-user-deleted');
    });

    for (const [name, p] of [['manager', mgr], ['nurse', nurse], ['admin', admin]]) {
      const errors = realErrors(p);
      ok(errors.length === 0, `${name}'s page: no script errors`, errors.join('\n'));
    }
    const health = await fetch(`${base}/healthz`);
    ok(health.status === 200, 'the daemon is healthy at the end');
  } catch (e) {
    ok(false, 'manager UI test ran to the end', e && e.stack ? e.stack : String(e));
  } finally {
    if (browser) await browser.close().catch(() => {});
    await daemon.stop();
    if (lib.doneTesting() > 0 || process.env.KEEP_LOGS) note(`daemon log:\n${daemon.log().slice(-4000)}`);
    if (!process.env.KEEP_LOGS) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => { console.log(`not ok - ${e}`); process.exit(1); });
