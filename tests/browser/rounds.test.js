/* Rounds in the browser (issue 17, item 1), against a real wardgated on the
 * small test facility, whose round's slot began five minutes ago (so it is
 * overdue): the station display shows the overdue round in words on its
 * technical strip; a carer's phone opens a room's check-in link (as its QR
 * code holds it), logs in and is told, large, that the room is checked in;
 * a wrong code is refused in words; the manager page's rounds tab shows the
 * slot room by room and draws every room's QR code. axe-core finds nothing
 * serious; screenshots at 1920x1080, 1280x800 and 390x844. */
'use strict';

const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const WAIT = 15000;
const PW = { nurse: 'nurse-pass-001', manager: 'manager-pass-1', station: 'station-pass-1' };

/* Minutes since midnight in the site's zone (the small facility's). */
function siteMinute() {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hourCycle: 'h23', hour: '2-digit', minute: '2-digit' })
    .formatToParts(new Date());
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return get('hour') * 60 + get('minute');
}
const hhmm = (m) => { const x = ((m % 1440) + 1440) % 1440; return `${String(Math.floor(x / 60)).padStart(2, '0')}:${String(x % 60).padStart(2, '0')}`; };

const { pageApi } = lib;

async function main() {
  const dir = lib.scratchDir('rounds');
  const port = await lib.freePort();
  const fifo = path.join(dir, 'sim.fifo');
  const config = lib.writeConfig(dir, port, `      control: ${fifo}`);
  const start = siteMinute() - 5;
  fs.appendFileSync(config, `rounds:\n  - {id: test-f1, zone: f1, window: "${hhmm(start)}-${hhmm(start + 240)}", every_min: 120, grace_min: 1}\n`);
  const db = path.join(dir, 'wardgate.db');
  for (const [user, role] of [['nurse1', 'nurse'], ['manager1', 'manager'], ['station1', 'station']]) {
    lib.addUser(config, db, user, role, PW[role]);
  }
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  note(`wardgated on ${daemon.url}, scratch ${dir}`);
  const browser = await lib.launchBrowser();
  try {
    /* ---- the wall: the overdue round ---- */
    const wall = await lib.newPage(browser, 'zh');
    await lib.login(wall, daemon.url, 'station1', PW.station, '/');
    await wall.waitForSelector('.tech[data-kind="round_overdue"]', { timeout: WAIT });
    const card = await wall.textContent('.tech[data-kind="round_overdue"]');
    ok(/巡查超时/.test(card) && /还有 2 间未查：101, 102/.test(card) && /一层/.test(card),
      'the display shows the overdue round in words: where, how many rooms, which', card);

    /* ---- the manager's codes ---- */
    const mgr = await lib.newPage(browser, 'zh');
    await lib.login(mgr, daemon.url, 'manager1', PW.manager, '/manage.html#rounds');
    await mgr.waitForSelector('#view-rounds:not([hidden]) .round[data-round="test-f1"]', { timeout: WAIT });
    const rooms = await pageApi(mgr, 'GET', '/api/v1/rounds/rooms');
    const code = Object.fromEntries((rooms.data.rooms || []).map((r) => [r.room, r.code]));

    /* ---- a carer's phone: the link of room 102's code ---- */
    const phone = await lib.newPage(browser, 'zh', { width: 390, height: 844 });
    await phone.goto(`${daemon.url}/checkin.html?room=102&code=${code['102']}`);
    await phone.waitForURL(/login\.html/, { timeout: WAIT });
    await phone.fill('#username', 'nurse1');
    await phone.fill('#password', PW.nurse);
    await Promise.all([phone.waitForURL(/checkin\.html/, { timeout: WAIT }), phone.click('#login-submit')]);
    await phone.waitForSelector('.checkin-state.ok', { timeout: WAIT });
    const done = await phone.textContent('#checkin-state');
    ok(/102 已签到/.test(done) && /本轮已查 1\/2 间/.test(done), 'after logging in the phone says room 102 is checked in, 1 of 2', done);
    const siteNow = hhmm(siteMinute());
    ok(done.includes(siteNow) || done.includes(hhmm(siteMinute() - 1)), `... at the home's time (${siteNow}), not the phone's`, done);
    await lib.screenshot(phone, 'checkin-ok-390x844');
    await phone.click('#lang-toggle');
    const english = await phone.textContent('#checkin-state');
    ok(/102 checked in/.test(english) && /1 of 2 rooms/.test(english),
      'switching the language says it again in English, without checking in twice', english);
    await phone.click('#lang-toggle');
    await phone.goto(`${daemon.url}/checkin.html?room=101&code=${code['102']}`);
    await phone.waitForSelector('.checkin-state.error', { timeout: WAIT });
    const refused = await phone.textContent('#checkin-state');
    ok(/这不是这个房间的二维码/.test(refused), 'room 102\'s code at room 101 is refused in words', refused);
    await lib.screenshot(phone, 'checkin-refused-390x844');
    await phone.goto(`${daemon.url}/checkin.html?room=102`);
    await phone.waitForSelector('.checkin-state.error', { timeout: WAIT });
    ok(/链接不完整/.test(await phone.textContent('#checkin-state')), 'a link without its code says so');
    const axePhone = await lib.axeSerious(phone);
    ok(axePhone.length === 0, 'axe: nothing serious on the check-in page', JSON.stringify(axePhone, null, 1));

    await wall.waitForFunction(() => /还有 1 间未查：101/.test(document.querySelector('.tech[data-kind="round_overdue"]').textContent),
      null, { timeout: WAIT });
    ok(true, 'the display now names room 101 only');
    for (const vp of lib.VIEWPORTS) {
      await wall.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(300);
      await lib.screenshot(wall, `display-round-overdue-${vp.name}`);
    }

    /* ---- the rounds tab ---- */
    await mgr.evaluate(() => { location.hash = '#devices'; });
    await mgr.evaluate(() => { location.hash = '#rounds'; });
    await mgr.waitForSelector('.round[data-round="test-f1"] li.checked[data-room="102"]', { timeout: WAIT });
    const round = await mgr.textContent('.round[data-round="test-f1"]');
    ok(/已查 1\/2 间/.test(round) && /nurse1/.test(round) && /未查/.test(round),
      'the rounds tab shows the slot room by room: 102 by nurse1, 101 not yet', round);
    ok(await mgr.locator('.round[data-round="test-f1"] p.overdue').count() === 1, 'the slot past its grace is marked');
    await mgr.click('#round-codes-show');
    await mgr.waitForFunction(() => Array.from(document.querySelectorAll('#round-codes img')).length === 2
      && Array.from(document.querySelectorAll('#round-codes img')).every((i) => i.complete && i.naturalWidth > 0), null, { timeout: WAIT });
    ok(true, 'the manager sees both rooms\' QR codes drawn');
    for (const vp of lib.VIEWPORTS) {
      await mgr.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(300);
      const found = await lib.axeSerious(mgr);
      ok(found.length === 0, `axe: nothing serious on the rounds tab at ${vp.name}`, JSON.stringify(found, null, 1));
      const over = await mgr.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      ok(over <= 1, `rounds tab ${vp.name}: the page does not run off the side`, `${over} px over`);
      await lib.screenshot(mgr, `manager-rounds-${vp.name}`);
    }
    const errors = [wall, mgr, phone].flatMap((p) => p.consoleErrors).filter((e) => !/Failed to load resource/.test(e));
    ok(errors.length === 0, 'no console errors', errors.join('\n'));
  } finally {
    await browser.close();
    await daemon.stop();
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  ok(false, 'rounds.test.js ran to the end', e.stack);
  process.exit(lib.doneTesting() ? 1 : 0);
});
