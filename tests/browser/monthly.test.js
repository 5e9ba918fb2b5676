/* The monthly report on the manager page (issue 17, item 5), in headless
 * Chromium against a real wardgated whose journal holds a generated month
 * (tests/integration/monthly_history.py: October 2026): the manager picks
 * the month; the page shows in Chinese what the API computed (the totals,
 * the two charts, the response times by step and band, risks, bed exits,
 * faults, rounds, tests), no raw codes; printed (print media) the tabs and
 * the form are gone; Chromium's print to PDF makes a PDF of it. axe-core
 * finds nothing serious; screenshots at 1920x1080, 1280x800 and 390x844. */
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const WAIT = 20000;
const PW = 'manager-pass-1';

async function main() {
  const dir = lib.scratchDir('monthly');
  const port = await lib.freePort();
  const config = lib.writeConfig(dir, port);
  const db = path.join(dir, 'wardgate.db');
  lib.addUser(config, db, 'manager1', 'manager', PW);
  execFileSync('/usr/bin/python3', [path.join(lib.ROOT, 'tests/integration/monthly_history.py'), db]);
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  note(`wardgated on ${daemon.url}, scratch ${dir}`);
  const browser = await lib.launchBrowser();
  try {
    const mgr = await lib.newPage(browser, 'zh');
    await lib.login(mgr, daemon.url, 'manager1', PW, '/manage.html#monthly');
    await mgr.waitForSelector('#view-monthly:not([hidden]) #monthly-form', { timeout: WAIT });
    await mgr.fill('#monthly-month', '2026-10');
    await mgr.click('#monthly-form button[type=submit]');
    await mgr.waitForFunction(() => /2026-10/.test(document.querySelector('#monthly-title').textContent)
      && document.querySelectorAll('#view-monthly canvas').length >= 2, null, { timeout: WAIT });
    const api = await mgr.evaluate(() => fetch('/api/v1/report/monthly?month=2026-10').then((r) => r.json()));
    const summary = await mgr.textContent('#monthly-summary');
    ok(summary.includes(`共发出呼叫和报警 ${api.alarms} 个，其中呼叫 ${api.response.calls} 个`), 'the totals are the API\'s, in words', summary);
    const ack = await mgr.textContent('#monthly-response tr[data-step="acknowledge"]');
    ok(ack.includes('确认') && ack.includes(String(api.response.acknowledge.count)), 'the acknowledge row has its count', ack);
    const head = await mgr.textContent('#monthly-response thead');
    ok(/1 分钟内/.test(head) && /超过 30 分钟/.test(head), 'the bands are named in minutes', head);
    const risks = await mgr.textContent('#monthly-risks tbody');
    ok(/跌倒风险/.test(risks) && /走失风险/.test(risks) && !/\bfall\b|wandering/.test(risks), 'risks in Chinese', risks);
    const beds = await mgr.locator('#monthly-beds tbody tr').count();
    ok(beds === api.bed_exits.length, `a row per bed (${beds})`);
    const faults = await mgr.textContent('#monthly-faults-title');
    ok(faults.includes(`${api.device_faults.count} 次`), 'the faults are counted', faults);
    const faultRows = await mgr.textContent('#monthly-faults tbody');
    ok(!/device_offline|line_fault/.test(faultRows) && /设备离线|线路故障/.test(faultRows), 'fault kinds in words, no codes', faultRows.slice(0, 200));
    const rounds = await mgr.textContent('#monthly-rounds');
    ok(rounds.includes(`计划 ${api.rounds.slots} 轮`) && rounds.includes(`漏查 ${api.rounds.missed} 轮`), 'rounds done against planned', rounds);
    const tests = await mgr.textContent('#monthly-tests');
    ok(tests.includes(`应测 ${api.tests.due} 次，已测 ${api.tests.done} 次`), 'tests done against due', tests);
    for (const vp of lib.VIEWPORTS) {
      await mgr.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(400);
      const found = await lib.axeSerious(mgr);
      ok(found.length === 0, `axe: nothing serious on the monthly report at ${vp.name}`, JSON.stringify(found, null, 1));
      const over = await mgr.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      ok(over <= 1, `monthly report ${vp.name}: the page does not run off the side`, `${over} px over`);
      await lib.screenshot(mgr, `manager-monthly-${vp.name}`);
    }
    await mgr.setViewportSize({ width: 1280, height: 800 });
    await mgr.emulateMedia({ media: 'print' });
    const hidden = await mgr.evaluate(() => ['#tabs', '#monthly-form'].every((s) => getComputedStyle(document.querySelector(s)).display === 'none'));
    ok(hidden, 'printed, the tabs and the form are left out');
    const pdf = path.join(lib.BUILD, 'test-artifacts', 'monthly-2026-10.pdf');
    await mgr.pdf({ path: pdf, format: 'A4', printBackground: true });
    const bytes = fs.readFileSync(pdf);
    ok(bytes.slice(0, 5).toString() === '%PDF-' && bytes.length > 20000, `Chromium prints it to a PDF (${bytes.length} bytes)`);
    await mgr.emulateMedia({ media: 'screen' });
    const errors = mgr.consoleErrors.filter((e) => !/Failed to load resource/.test(e));
    ok(errors.length === 0, 'no console errors', errors.join('\n'));
  } finally {
    await browser.close();
    await daemon.stop();
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  ok(false, 'monthly.test.js ran to the end', e.stack);
  process.exit(lib.doneTesting() ? 1 : 0);
});
