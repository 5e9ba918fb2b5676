/* Paging as the station display and the manager page show it (issue 16),
 * against a real wardgated on the small test facility with a staff:
 * section: carer_a covers room 101, carer_b room 102, zone f2 (room 201,
 * added here) is covered by nobody. Each carer is "on duty with a phone"
 * through a display page of their own (its WebSocket is what the gateway
 * counts). The wall shows the zone nobody covers; a call in 101 shows
 * "李护工 已通知 …，等待手机确认"; carer_b's acceptance shows "王护工 正在赶来" and
 * the acknowledgement with 王护工's name; a call in 201 says nobody covers
 * the room; carer_b's page closing raises the phone_offline technical card
 * in words. The manager's staff tab shows who covers what now and next
 * shift. axe-core finds nothing serious; screenshots at 1920x1080, 1280x800
 * and 390x844. */
'use strict';

const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const { ok, note, pageApi } = lib;
const WAIT = 15000;
const PW = { carer_a: 'carer-a-pass-1', carer_b: 'carer-b-pass-1', station1: 'station-pass-1', manager1: 'manager-pass-1' };

function siteMinute() {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hourCycle: 'h23', hour: '2-digit', minute: '2-digit' })
    .formatToParts(new Date());
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return get('hour') * 60 + get('minute');
}
const hhmm = (m) => { const x = ((m % 1440) + 1440) % 1440; return `${String(Math.floor(x / 60)).padStart(2, '0')}:${String(x % 60).padStart(2, '0')}`; };

async function main() {
  const dir = lib.scratchDir('paging-wall');
  const port = await lib.freePort();
  const fifo = path.join(dir, 'sim.fifo');
  const config = lib.writeConfig(dir, port, `      control: ${fifo}`);
  let text = fs.readFileSync(config, 'utf8');
  text = text.replace('residents:\n', '  - id: f2\n    name: 二层\n    floor: 2\n    rooms:\n      - {id: "201", kind: resident, beds: [A]}\nresidents:\n');
  text = text.replace('  - {id: presence-102,', '  - {id: call-201A, bus: sim1, address: 11, profile: call-point, bed: 201-A}\n'
    + '  - {id: presence-201, bus: sim1, address: 12, profile: presence-reset, room: "201"}\n  - {id: presence-102,');
  const now = siteMinute();
  text += `staff:
  accept_s: 30
  delivery_s: 5
  phone_offline_s: 5
  shifts:
    - {id: day, name: 白班, window: "${hhmm(now - 120)}-${hhmm(now + 480)}"}
    - {id: night, name: 夜班, window: "${hhmm(now + 480)}-${hhmm(now - 120)}"}
  people:
    - {user: carer_a, name: 李护工, role: carer}
    - {user: carer_b, name: 王护工, role: carer}
  cover:
    day:
      - {user: carer_a, rooms: ["101"]}
      - {user: carer_b, rooms: ["102"]}
    night:
      - {user: carer_a, zones: [f1, f2]}
`;
  fs.writeFileSync(config, text);
  const db = path.join(dir, 'wardgate.db');
  for (const [user, role] of [['carer_a', 'nurse'], ['carer_b', 'nurse'], ['station1', 'station'], ['manager1', 'manager']]) {
    lib.addUser(config, db, user, role, PW[user]);
  }
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  note(`wardgated on ${daemon.url}, scratch ${dir}`);
  const press = lib.fifoWriter(fifo);
  const browser = await lib.launchBrowser();
  try {
    const wall = await lib.newPage(browser, 'zh');
    await lib.login(wall, daemon.url, 'station1', PW.station1, '/');
    const phoneA = await lib.newPage(browser, 'zh', { width: 390, height: 844 });
    await lib.login(phoneA, daemon.url, 'carer_a', PW.carer_a, '/');
    const phoneB = await lib.newPage(browser, 'zh', { width: 390, height: 844 });
    await lib.login(phoneB, daemon.url, 'carer_b', PW.carer_b, '/');

    await wall.waitForSelector('#cover-banner:not(.hidden)', { timeout: WAIT });
    const banner = await wall.textContent('#cover-banner');
    ok(/无人负责：二层/.test(banner) && /通知全体在班人员/.test(banner), 'the wall says zone 二层 is covered by nobody, in words', banner);

    press('call-101A call 1');
    await wall.waitForSelector('.call[data-kind="call"] .paging:not(:empty)', { timeout: WAIT });
    const waiting = await wall.textContent('.call[data-kind="call"] .paging');
    ok(/^李护工 已通知 \d+:\d\d，等待手机确认$/.test(waiting.trim()),
      'the call card says 李护工 was notified, how long ago, and that the phone has not confirmed yet', waiting);
    for (const vp of lib.VIEWPORTS) {
      await wall.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(300);
      const over = await wall.evaluate(() => {
        const line = document.querySelector('.call .paging');
        return line ? line.getBoundingClientRect().right - line.closest('.call').getBoundingClientRect().right : 0;
      });
      ok(over <= 1, `${vp.name}: the paging line stays inside its card`, `${over} px over`);
      await lib.screenshot(wall, `display-paging-notified-${vp.name}`);
    }
    await wall.setViewportSize({ width: 1920, height: 1080 });

    /* carer_b takes it although it went to carer_a: refused, it was not sent to them. */
    const id = await wall.getAttribute('.call[data-kind="call"]', 'data-alarm-id');
    const refused = await pageApi(phoneB, 'POST', `/api/v1/alarms/${id}/accept`, {});
    ok(refused.status === 403, 'carer_b cannot accept a call not sent to them (403)', JSON.stringify(refused));
    const accepted = await pageApi(phoneA, 'POST', `/api/v1/alarms/${id}/accept`, {});
    ok(accepted.status === 200, 'carer_a accepts it', JSON.stringify(accepted));
    await wall.waitForFunction(() => /正在赶来/.test(document.querySelector('.call[data-kind="call"] .paging').textContent), null, { timeout: WAIT });
    const coming = await wall.textContent('.call[data-kind="call"]');
    ok(/李护工 正在赶来/.test(coming) && /李护工/.test(await wall.textContent('.call[data-kind="call"] .badge.state')),
      'the wall shows 李护工 on the way, and the acknowledgement in 李护工\'s name', coming);

    press('call-201A call 1');
    await wall.waitForFunction(() => [...document.querySelectorAll('.call .paging')].some((n) => /这个房间无人负责/.test(n.textContent)),
      null, { timeout: WAIT });
    const nobody = await wall.evaluate(() => [...document.querySelectorAll('.call .paging')].map((n) => n.textContent).find((t) => /这个房间无人负责/.test(t)));
    ok(/已通知全体在班人员/.test(nobody) && /李护工/.test(nobody) && /王护工/.test(nobody),
      'a call in room 201 says nobody covers the room and both carers were notified', nobody);

    await phoneB.close();
    await wall.waitForSelector('.tech[data-kind="phone_offline"]', { timeout: WAIT });
    const tech = await wall.textContent('.tech[data-kind="phone_offline"]');
    ok(/护理员手机离线/.test(tech) && /王护工 在岗，手机已 5 秒以上未连接/.test(tech),
      'carer_b\'s phone going away is a technical card naming 王护工, in words', tech);
    for (const vp of lib.VIEWPORTS) {
      await wall.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(300);
      const found = await lib.axeSerious(wall);
      ok(found.length === 0, `axe: nothing serious on the wall at ${vp.name}`, JSON.stringify(found, null, 1));
      await lib.screenshot(wall, `display-paging-${vp.name}`);
    }

    const mgr = await lib.newPage(browser, 'zh');
    await lib.login(mgr, daemon.url, 'manager1', PW.manager1, '/manage.html#staff');
    await mgr.waitForSelector('#staff-table tr[data-user="carer_a"]', { timeout: WAIT });
    const rowA = await mgr.textContent('#staff-table tr[data-user="carer_a"]');
    const rowB = await mgr.textContent('#staff-table tr[data-user="carer_b"]');
    ok(/李护工/.test(rowA) && /护理员/.test(rowA) && /在岗/.test(rowA) && /已连接/.test(rowA) && /101 房间/.test(rowA)
      && /一层全区，二层全区/.test(rowA), 'the staff tab: 李护工 on duty, phone connected, room 101 now, 一层 and 二层 next shift', rowA);
    ok(/王护工/.test(rowB) && /未连接（已报警）/.test(rowB), 'the staff tab: 王护工\'s phone not connected, alarm raised', rowB);
    const shift = await mgr.textContent('#staff-shift');
    ok(/当前班次：白班/.test(shift) && /下一班：夜班/.test(await mgr.textContent('#staff-next')), 'the shift now and the next', shift);
    for (const vp of lib.VIEWPORTS) {
      await mgr.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(300);
      const found = await lib.axeSerious(mgr);
      ok(found.length === 0, `axe: nothing serious on the staff tab at ${vp.name}`, JSON.stringify(found, null, 1));
      const over = await mgr.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      ok(over <= 1, `staff tab ${vp.name}: the page does not run off the side`, `${over} px over`);
      await lib.screenshot(mgr, `manager-staff-${vp.name}`);
    }
    await mgr.click('#lang-toggle');
    ok(/Shift now: 白班/.test(await mgr.textContent('#staff-shift')) && /connected/.test(await mgr.textContent('#staff-table tr[data-user="carer_a"]')),
      'the staff tab in English');
    const errors = [wall, mgr, phoneA].flatMap((p) => p.consoleErrors).filter((e) => !/Failed to load resource/.test(e));
    ok(errors.length === 0, 'no console errors', errors.join('\n'));
  } finally {
    await browser.close();
    await daemon.stop();
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  ok(false, 'paging-wall.test.js ran to the end', e.stack);
  process.exit(lib.doneTesting() ? 1 : 0);
});
