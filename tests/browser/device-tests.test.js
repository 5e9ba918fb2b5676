/* Device test mode in the browser (issue 17, item 3), against a real
 * wardgated on the small test facility with its sim devices pressed through
 * the control FIFO: a manager starts room 101's test on the manager page's
 * test tab; the station display shows the test banner (where, until when,
 * by whom) in Chinese; a call pressed in room 101 shows there as "just
 * tested" and makes no call card, while room 102's call does; the test
 * report lists call-101A tested and the others not, untested first; the
 * history and the audit log say it in words; ending the test asks first and
 * the banner goes. axe-core finds nothing serious on the tab; screenshots
 * of the tab and the display at 1920x1080, 1280x800 and 390x844. */
'use strict';

const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const WAIT = 15000;
const PW = { manager: 'manager-pass-1', station: 'station-pass-1' };

async function main() {
  const dir = lib.scratchDir('device-tests');
  const port = await lib.freePort();
  const fifo = path.join(dir, 'sim.fifo');
  const config = lib.writeConfig(dir, port, `      control: ${fifo}`);
  const db = path.join(dir, 'wardgate.db');
  lib.addUser(config, db, 'manager1', 'manager', PW.manager);
  lib.addUser(config, db, 'station1', 'station', PW.station);
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  const send = lib.fifoWriter(fifo);
  note(`wardgated on ${daemon.url}, scratch ${dir}`);
  const browser = await lib.launchBrowser();
  try {
    const mgr = await lib.newPage(browser, 'zh');
    await lib.login(mgr, daemon.url, 'manager1', PW.manager, '/manage.html#tests');
    await mgr.waitForSelector('#view-tests:not([hidden]) #test-report tbody tr', { timeout: WAIT });
    const wall = await lib.newPage(browser, 'zh');
    await wall.addInitScript(() => { window.__WG_TEST_HOOKS__ = true; });
    await lib.login(wall, daemon.url, 'station1', PW.station, '/');
    await wall.waitForSelector('body:not(.connecting)', { timeout: WAIT });
    ok(await wall.locator('#test-banner').isHidden(), 'no test banner on the display before a test');

    const untested = await mgr.locator('#test-report tbody tr.untested').count();
    ok(untested >= 4, `the report lists every call point and cord as not tested yet (${untested})`);
    ok(await mgr.locator('#test-report tbody tr[data-device="presence-101"]').count() === 0,
      'presence buttons are not in the test report');

    /* ---- start ---- */
    await mgr.selectOption('#test-target', '101');
    await mgr.selectOption('#test-minutes', '15');
    await mgr.click('#test-form button[type=submit]');
    await mgr.waitForSelector('#test-windows tbody tr[data-target="101"]', { timeout: WAIT });
    const row = await mgr.textContent('#test-windows tbody tr[data-target="101"]');
    ok(/101/.test(row) && /manager1/.test(row), 'the running list shows room 101 and who started it', row);
    ok(/已进入测试模式/.test(await mgr.textContent('#message')), 'the page says the test started', await mgr.textContent('#message'));

    await wall.waitForSelector('#test-banner:not(.hidden)', { timeout: WAIT });
    const banner = await wall.textContent('#test-banner');
    ok(/设备测试中/.test(banner) && /101/.test(banner) && /manager1/.test(banner) && /至 \d\d:\d\d/.test(banner),
      'the display shows the test banner: where, until when, by whom', banner);

    /* ---- a press in the room under test, and one next door ---- */
    send('call-101A call 1');
    await wall.waitForFunction(() => /刚刚测试/.test(document.querySelector('#test-banner').textContent), null, { timeout: WAIT });
    const tested = await wall.textContent('#test-banner .test-last');
    ok(/呼叫按钮/.test(tested) && !/[a-z]{3,}/.test(tested.replace(/call-\S+/g, '')), 'the banner names the test in Chinese', tested);
    send('call-102A call 1');
    await wall.waitForFunction(() => document.querySelectorAll('.call[data-alarm-id]').length >= 1, null, { timeout: WAIT });
    await lib.sleep(500);
    const cards = await wall.locator('.call[data-alarm-id]').allTextContents();
    ok(cards.length === 1 && /102/.test(cards[0]), 'only room 102\'s call is a card; room 101\'s press is not', JSON.stringify(cards));

    for (const vp of lib.VIEWPORTS) {
      await wall.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(300);
      const over = await wall.evaluate(() => {
        const b = document.querySelector('#test-banner').getBoundingClientRect();
        return b.right - window.innerWidth;
      });
      ok(over <= 1, `display ${vp.name}: the test banner fits the screen`, `${over} px over`);
      await lib.screenshot(wall, `display-test-mode-${vp.name}`);
    }

    /* ---- the report, history and audit ---- */
    await mgr.click('#test-report-form button[type=submit]');
    await mgr.waitForSelector('#test-report tbody tr.tested[data-device="call-101A"]', { timeout: WAIT });
    const first = await mgr.getAttribute('#test-report tbody tr:first-child', 'class');
    ok(first === 'untested', 'untested devices come first', first);
    const summary = await mgr.textContent('#test-summary');
    ok(/已测 1 台/.test(summary) && /共测试 1 次/.test(summary), 'the summary counts one device tested once', summary);
    for (const vp of lib.VIEWPORTS) {
      await mgr.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(200);
      const found = await lib.axeSerious(mgr);
      ok(found.length === 0, `axe: nothing serious on the test tab at ${vp.name}`, JSON.stringify(found, null, 1));
      const over = await mgr.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      ok(over <= 1, `test tab ${vp.name}: the page does not run off the side`, `${over} px over`);
      await lib.screenshot(mgr, `manager-tests-${vp.name}`);
    }
    await mgr.setViewportSize({ width: 1920, height: 1080 });
    await mgr.evaluate(() => { location.hash = '#history'; });
    await mgr.selectOption('#hist-kind', 'device_test');
    await mgr.waitForFunction(() => /呼叫按钮测试/.test(document.querySelector('#history-table tbody').textContent), null, { timeout: WAIT });
    ok(true, 'the history says the device test in words (呼叫按钮测试：只记录，不产生呼叫)');
    await mgr.evaluate(() => { location.hash = '#audit'; });
    await mgr.waitForFunction(() => /开始 101 的测试模式/.test(document.querySelector('#audit-table tbody').textContent), null, { timeout: WAIT });
    const audit = await mgr.textContent('#audit-table tbody');
    ok(/测试设备 call-101A/.test(audit), 'the audit log says who started the test and which device was tested', audit.slice(0, 400));

    /* ---- a fault open past 2 h, escalated: the technical strip says so ---- */
    await wall.evaluate(() => {
      const raised = Date.now() - 2.5 * 3600000;
      window.WGDisplay.inject({ type: 'alarm', seq: null, phase: 'escalate', alarm: {
        id: 'fault-1', update: 2, state: 'raised', priority: 'technical', priority_level: 1, kind: 'line_fault',
        device: 'cord-101', device_label: '卫生间拉绳', room: '101', room_name: '101', raised_ms: raised,
        escalation_level: 2, detail: 'supervised line open', detail_code: 'line_fault', detail_args: {}, journaled: true } });
    });
    await wall.waitForSelector('.tech[data-alarm-id="fault-1"] .t-escalated', { timeout: WAIT });
    const tag = await wall.textContent('.tech[data-alarm-id="fault-1"] .t-escalated');
    ok(/超过 2 小时未修复，已上报主管/.test(tag), 'a technical alarm escalated after 2 h says so on the wall', tag);
    await wall.setViewportSize({ width: 1920, height: 1080 });
    await lib.screenshot(wall, 'display-fault-escalated-1920x1080');

    /* ---- end it ---- */
    await mgr.evaluate(() => { location.hash = '#tests'; });
    await mgr.click('#test-windows tbody tr[data-target="101"] button.test-end');
    await mgr.waitForSelector('#confirm-dialog[open]');
    ok(/真实呼叫/.test(await mgr.textContent('#confirm-dialog')), 'ending asks first and says calls will be real again');
    await mgr.click('#confirm-ok');
    await mgr.waitForSelector('#test-windows-empty:not([hidden])', { timeout: WAIT });
    await wall.waitForFunction(() => !/设备测试中/.test(document.querySelector('#test-banner').textContent), null, { timeout: WAIT });
    ok(true, 'the display drops the test from its banner when it ends');
    const errors = mgr.consoleErrors.concat(wall.consoleErrors).filter((e) => !/Failed to load resource/.test(e));
    ok(errors.length === 0, 'no console errors', errors.join('\n'));
  } finally {
    await browser.close();
    await daemon.stop();
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  ok(false, 'device-tests.test.js ran to the end', e.stack);
  process.exit(lib.doneTesting() ? 1 : 0);
});
