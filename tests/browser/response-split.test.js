/* The response tab's paging split (issue 16, item 4), in headless Chromium
 * against a real wardgated whose journal holds a day of paged calls
 * (tests/integration/paging_history.py: four carers, five rooms): the
 * manager opens 响应时间; the paging table per shift, the per-carer and the
 * per-room tables show what the Python worked out from the same rows, in
 * Chinese (headers with no English words; durations in words), then in
 * English after the toggle; the CSV export has the carers and the rooms.
 * axe-core finds nothing serious; screenshots at
 * 1920x1080, 1280x800 and 390x844. */
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const WAIT = 20000;
const PW = 'manager-pass-1';

async function main() {
  const dir = lib.scratchDir('response-split');
  const port = await lib.freePort();
  const config = lib.writeConfig(dir, port);
  const db = path.join(dir, 'wardgate.db');
  lib.addUser(config, db, 'manager1', 'manager', PW);
  const made = JSON.parse(execFileSync('/usr/bin/python3', [path.join(lib.ROOT, 'tests/integration/paging_history.py'), db]).toString());
  const want = made.expected;
  note(`${made.rows} journal rows; ${want.overall.raised} calls, ${want.overall.paged} paged, ${want.carers.length} carers, ${want.rooms.length} rooms`);
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  const browser = await lib.launchBrowser();
  try {
    const mgr = await lib.newPage(browser, 'zh');
    await lib.login(mgr, daemon.url, 'manager1', PW, '/manage.html#report');
    await mgr.waitForSelector('#report-carers tbody tr', { timeout: WAIT });
    const dur = (s) => mgr.evaluate((v) => WGReport.duration(v), s);

    const all = await mgr.$$eval('#report-paging-table tbody tr[data-shift="all"] td', (tds) => tds.map((td) => td.textContent));
    ok(all[0] === '合计' && all[2] === String(want.overall.paged) && all[3] === String(want.overall.accepted),
      `paging per shift: all ${want.overall.paged} paged, ${want.overall.accepted} accepted`, all.join(' | '));
    ok(all[4] === await dur(want.overall.accept_p50_s) && all[5] === await dur(want.overall.accept_p90_s),
      `notified -> accepted p50 ${want.overall.accept_p50_s} s, p90 ${want.overall.accept_p90_s} s, in words (${all[4]}, ${all[5]})`, all.join(' | '));
    const shiftRows = await mgr.locator('#report-paging-table tbody tr.shift').count();
    ok(shiftRows === 3, 'a paging row per shift and the total', String(shiftRows));

    const users = await mgr.$$eval('#report-carers tbody tr', (trs) => trs.map((tr) => tr.dataset.user));
    ok(JSON.stringify(users) === JSON.stringify(want.carers.map((c) => c.user)),
      `a row per carer, the most accepted first (${users.join(', ')})`, JSON.stringify(want.carers.map((c) => [c.user, c.accepted])));
    const first = want.carers[0];
    const row = await mgr.$$eval(`#report-carers tbody tr[data-user="${first.user}"] td`, (tds) => tds.map((td) => td.textContent));
    ok(row[0] === `${first.name}（${first.user}）` && row[1] === String(first.accepted) && row[2] === await dur(first.accept_p50_s)
      && row[6] === String(first.paged) && row[7] === String(first.declined) && row[8] === String(first.not_reached)
      && row[9] === String(first.timed_out),
      `${first.name}: ${first.accepted} accepted, own page -> accepted p50 ${first.accept_p50_s} s, ${first.paged} pages, `
      + `${first.declined} declined, ${first.not_reached} not reached, ${first.timed_out} timed out`, row.join(' | '));

    const rooms = await mgr.$$eval('#report-rooms tbody tr', (trs) => trs.map((tr) => [tr.dataset.room, tr.children[1].textContent]));
    ok(JSON.stringify(rooms) === JSON.stringify(want.rooms.map((r) => [r.room, String(r.raised)])),
      `a row per room with its calls (${rooms.map((r) => r.join(': ')).join(', ')})`, JSON.stringify(want.rooms.map((r) => [r.room, r.raised])));

    const heads = await mgr.$$eval('#view-report thead, #view-report h2, #view-report p.summary', (els) => els.map((e) => e.textContent).join(' '));
    const english = heads.replace(/P[59]0/g, '').match(/[A-Za-z]{2,}/g);
    ok(!english, 'Chinese: headers and titles have no English words', (english || []).join(' '));
    const body = await mgr.$$eval('#report-paging-table tbody, #report-carers tbody, #report-rooms tbody', (els) => els.map((e) => e.textContent).join(' '));
    ok(!/[{}[\]"]|null|undefined|NaN/.test(body), 'no raw JSON, null or NaN in the tables', body.slice(0, 300));

    for (const vp of lib.VIEWPORTS) {
      await mgr.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(400);
      const found = await lib.axeSerious(mgr);
      ok(found.length === 0, `axe: nothing serious on the response tab at ${vp.name}`, JSON.stringify(found, null, 1));
      const over = await mgr.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      ok(over <= 1, `response tab ${vp.name}: the page does not run off the side (wide tables scroll in their box)`, `${over} px over`);
      /* The paging title just under the top bar (the tables' headers stick under it). */
      await mgr.evaluate(() => window.scrollTo(0, document.querySelector('#report-paging-title').getBoundingClientRect().top + window.scrollY - document.querySelector('header.top').getBoundingClientRect().height - 8));
      await lib.sleep(150);
      await lib.screenshot(mgr, `manager-response-split-${vp.name}`);
    }

    await mgr.setViewportSize({ width: 1280, height: 800 });
    const [download] = await Promise.all([mgr.waitForEvent('download', { timeout: WAIT }), mgr.click('#report-export')]);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    const carerLine = csv.split(/\r\n/).find((l) => l.startsWith(`${first.name}（${first.user}）,`)) || '';
    ok(/姓名,已接受,本人通知→接受 P50（秒）/.test(csv) && carerLine.split(',')[2] === first.accept_p50_s.toFixed(1)
      && /房间,发出,超时/.test(csv), 'the CSV export has the carers (seconds, to a tenth) and the rooms, headed in Chinese', carerLine);
    await mgr.click('#lang-toggle');
    await mgr.waitForFunction(() => /Per carer/.test(document.querySelector('#view-report').textContent));
    const enAll = await mgr.$$eval('#report-paging-table tbody tr[data-shift="all"] td', (tds) => tds.map((td) => td.textContent));
    ok(enAll[0] === 'all' && /\bs\b|min/.test(enAll[4]), 'English: the page says it in English after the toggle', enAll.join(' | '));
    const enRow = await mgr.textContent(`#report-carers tbody tr[data-user="${first.user}"] td`);
    ok(enRow === `${first.name} (${first.user})`, 'English: the carer named with their login', enRow);
    await mgr.evaluate(() => window.scrollTo(0, document.querySelector('#report-paging-title').getBoundingClientRect().top + window.scrollY - document.querySelector('header.top').getBoundingClientRect().height - 8));
    await lib.screenshot(mgr, 'manager-response-split-english');
    const errors = mgr.consoleErrors.filter((e) => !/Failed to load resource/.test(e));
    ok(errors.length === 0, 'no console errors', errors.join('\n'));
  } finally {
    await browser.close();
    await daemon.stop();
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  ok(false, 'response-split.test.js ran to the end', e.stack);
  process.exit(lib.doneTesting() ? 1 : 0);
});
