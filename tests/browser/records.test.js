/* Shift handovers and drills on the manager page (issue 17, items 2 and 4),
 * in headless Chromium against a real wardgated on the small test facility
 * with its sim devices pressed through the control FIFO: a nurse hands over
 * while a call is open and the record lists it in words; an empty name is
 * refused next to the form with the field marked; a nurse sees no drill
 * form; a manager records a fire drill and the page says how long ago the
 * last one was; the history and the audit log say both in Chinese. axe-core
 * finds nothing serious; screenshots at 1920x1080, 1280x800 and 390x844. */
'use strict';

const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const WAIT = 15000;
const PW = { nurse: 'nurse-pass-001', manager: 'manager-pass-1' };

async function main() {
  const dir = lib.scratchDir('records');
  const port = await lib.freePort();
  const fifo = path.join(dir, 'sim.fifo');
  const config = lib.writeConfig(dir, port, `      control: ${fifo}`);
  const db = path.join(dir, 'wardgate.db');
  lib.addUser(config, db, 'nurse1', 'nurse', PW.nurse);
  lib.addUser(config, db, 'manager1', 'manager', PW.manager);
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  const send = lib.fifoWriter(fifo);
  note(`wardgated on ${daemon.url}, scratch ${dir}`);
  const browser = await lib.launchBrowser();
  try {
    /* ---- a nurse hands over with a call open ---- */
    send('call-101A call 1');
    const nurse = await lib.newPage(browser, 'zh');
    await lib.login(nurse, daemon.url, 'nurse1', PW.nurse, '/manage.html#records');
    await nurse.waitForSelector('#view-records:not([hidden]) #drill-since li', { timeout: WAIT });
    ok(await nurse.locator('#drill-form').isHidden(), 'a nurse sees no drill form');
    await nurse.waitForFunction(() => fetch('/api/v1/alarms').then((r) => r.json()).then((j) => j.alarms.length === 1), null, { timeout: WAIT });
    await nurse.click('#handover-form button[type=submit]');
    await nurse.waitForFunction(() => document.querySelector('#handover-error').textContent !== '', null, { timeout: WAIT });
    ok(await nurse.getAttribute('#handover-to', 'aria-invalid') === 'true',
      'an empty name is refused next to the form, the field marked', await nurse.textContent('#handover-error'));
    await nurse.fill('#handover-to', '李护工');
    await nurse.fill('#handover-notes', '101 王奶奶呼叫未复位，请跟进。');
    await nurse.click('#handover-form button[type=submit]');
    await nurse.waitForSelector('#handover-table tbody tr', { timeout: WAIT });
    const row = await nurse.textContent('#handover-table tbody tr');
    ok(/nurse1 → 李护工/.test(row) && /未结束报警 1 个/.test(row) && /呼叫 · 101/.test(row) && /请跟进/.test(row),
      'the handover lists who to whom, the open call in words and the notes', row);
    ok(/班/.test(row) && !/\b(day|evening|night)\b/.test(row), 'the shift is in Chinese', row);
    ok(/已记录交接/.test(await nurse.textContent('#message')), 'the page says the handover was recorded');
    ok(await nurse.getAttribute('#handover-to', 'aria-invalid') === null, 'the field is no longer marked');

    /* ---- a manager records a drill ---- */
    const mgr = await lib.newPage(browser, 'zh');
    await lib.login(mgr, daemon.url, 'manager1', PW.manager, '/manage.html#records');
    await mgr.waitForSelector('#view-records:not([hidden]) #drill-form:not([hidden])', { timeout: WAIT });
    const since = await mgr.textContent('#drill-since');
    ok(/最近一年没有消防演练/.test(since), 'before any drill the page says there was none in the last year', since);
    await mgr.selectOption('#drill-kind', 'fire');
    await mgr.fill('#drill-minutes', '25');
    await mgr.fill('#drill-scenario', '二层厨房起火，疏散二层住户至一层大厅');
    await mgr.fill('#drill-participants', '李护工\n王护士，张主任');
    await mgr.click('#drill-form button[type=submit]');
    await mgr.waitForSelector('#drill-table tbody tr', { timeout: WAIT });
    const drill = await mgr.textContent('#drill-table tbody tr');
    ok(/消防演练 · 25 分钟 · 3 人参加/.test(drill) && /李护工、王护士、张主任/.test(drill) && /manager1/.test(drill),
      'the drill is listed: kind, minutes, the three people, who recorded it', drill);
    ok(/距上次消防演练：0 天/.test(await mgr.textContent('#drill-since')), 'the page says the last fire drill was today',
      await mgr.textContent('#drill-since'));
    for (const vp of lib.VIEWPORTS) {
      await mgr.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(200);
      const found = await lib.axeSerious(mgr);
      ok(found.length === 0, `axe: nothing serious on the records tab at ${vp.name}`, JSON.stringify(found, null, 1));
      const over = await mgr.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      ok(over <= 1, `records tab ${vp.name}: the page does not run off the side`, `${over} px over`);
      await lib.screenshot(mgr, `manager-records-${vp.name}`);
      if (vp.width < 600) {
        await mgr.evaluate(() => document.querySelector('#handover-table').scrollIntoView());
        await lib.screenshot(mgr, `manager-records-${vp.name}-lists`);
      }
    }
    await mgr.setViewportSize({ width: 1920, height: 1080 });

    /* ---- in the history and the audit log ---- */
    await mgr.evaluate(() => { location.hash = '#history'; });
    await mgr.selectOption('#hist-kind', 'handover');
    await mgr.waitForFunction(() => /交接班：nurse1 → 李护工/.test(document.querySelector('#history-table tbody').textContent), null, { timeout: WAIT });
    ok(true, 'the history says the handover in words');
    await mgr.evaluate(() => { location.hash = '#audit'; });
    await mgr.waitForFunction(() => /记录交接班/.test(document.querySelector('#audit-table tbody').textContent)
      && /记录消防演练/.test(document.querySelector('#audit-table tbody').textContent), null, { timeout: WAIT });
    ok(true, 'the audit log says both records in words');
    const errors = mgr.consoleErrors.concat(nurse.consoleErrors).filter((e) => !/Failed to load resource/.test(e));
    ok(errors.length === 0, 'no console errors', errors.join('\n'));
  } finally {
    await browser.close();
    await daemon.stop();
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  ok(false, 'records.test.js ran to the end', e.stack);
  process.exit(lib.doneTesting() ? 1 : 0);
});
