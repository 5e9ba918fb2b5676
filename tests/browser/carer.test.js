/* The carer's phone (issue 16, item 2; web/carer.html, docs/carer.md)
 * against a real wardgated on the small test facility with staff and paging
 * (docs/config.md "Staff and paging"): two carers' phones and the wall.
 *
 * Room 101's call pages carer A first (A covers room 101): A's phone
 * confirms the receipt at once, rings, lists it under "my calls" with accept
 * and decline; A does nothing; after accept_s carer B (zone f1) is paged;
 * B accepts and is told to reset in the room; A's phone and the wall say
 * B is on the way; presence in the room attends and the room's reset button
 * resets it; both phones see it gone. A second call: A declines with a
 * reason, B is paged at once and sees why. Claiming rooms; the HTTP
 * contract's refusals; a hidden page's system notification; the lost
 * connection (the daemon stopped with SIGSTOP); the offline shell; the
 * words for a phone without HTTPS; English. axe-core finds nothing serious;
 * screenshots at 1920x1080, 1280x800 and 390x844. */
'use strict';

const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const { ok, note, pageApi } = lib;
const WAIT = 15000;
const ACCEPT_S = 20;
const DELIVERY_S = 4;
const PW = 'carer-pass-0001';
const STATION_PW = 'station-pass-1';

const STAFF = `staff:
  accept_s: ${ACCEPT_S}
  delivery_s: ${DELIVERY_S}
  phone_offline_s: 15
  shifts:
    - {id: day, name: 白班, window: "07:00-19:00"}
    - {id: night, name: 夜班, window: "19:00-07:00"}
  people:
    - {user: carer_a, name: 李护工, role: carer}
    - {user: carer_b, name: 王护工, role: carer}
    - {user: lead1, name: 赵组长, role: floor_lead}
  cover:
    day:   [{user: carer_a, rooms: ["101"]}, {user: carer_b, rooms: ["102"]}]
    night: [{user: carer_a, rooms: ["101"]}, {user: carer_b, rooms: ["102"]}]
`;

const card = (id) => `.card[data-alarm-id="${id}"]`;
const text = async (page, sel) => ((await page.locator(sel).first().textContent()) || '').replace(/\s+/g, ' ').trim();

async function main() {
  const dir = lib.scratchDir('carer');
  const port = await lib.freePort();
  const fifo = path.join(dir, 'sim.fifo');
  const config = lib.writeConfig(dir, port, `      control: ${fifo}`);
  fs.appendFileSync(config, `\n${STAFF}`);
  const db = path.join(dir, 'wardgate.db');
  for (const user of ['carer_a', 'carer_b', 'lead1']) lib.addUser(config, db, user, 'nurse', PW);
  lib.addUser(config, db, 'station1', 'station', STATION_PW);
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  const base = daemon.url;
  note(`wardgated on ${base}, scratch ${dir}`);
  const send = lib.fifoWriter(fifo);
  const browser = await lib.launchBrowser();
  const pages = [];
  let stopped = false;
  try {
    /* ---- logins: phone A through the redirect, phone B, the wall ---- */
    const phoneA = await lib.newPage(browser, 'zh', { width: 390, height: 844 }, { hasTouch: true });
    pages.push(phoneA);
    await phoneA.goto(`${base}/carer.html`);
    await phoneA.waitForURL(/login\.html/, { timeout: WAIT });
    const next = new URL(phoneA.url()).searchParams.get('next');
    ok(next === '/carer.html', 'without a session the carer page goes to the login page, next=/carer.html', phoneA.url());
    await phoneA.fill('#username', 'carer_a');
    await phoneA.fill('#password', PW);
    await Promise.all([phoneA.waitForURL(/carer\.html/, { timeout: WAIT }), phoneA.click('#login-submit')]);
    await phoneA.waitForSelector('body:not(.connecting)', { timeout: WAIT });
    ok(true, 'carer A logs in and lands back on the carer page, connected');

    const phoneB = await lib.newPage(browser, 'zh', { width: 390, height: 844 }, { hasTouch: true });
    pages.push(phoneB);
    await phoneB.context().grantPermissions(['notifications'], { origin: base });
    /* A page the test can hide (as a phone's page is when the screen is off). */
    await phoneB.addInitScript(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (window.__hidden ? 'hidden' : 'visible') });
    });
    await lib.login(phoneB, base, 'carer_b', PW, '/carer.html');
    await phoneB.waitForSelector('body:not(.connecting)', { timeout: WAIT });

    const wall = await lib.newPage(browser, 'zh');
    pages.push(wall);
    await lib.login(wall, base, 'station1', STATION_PW, '/');
    await wall.waitForSelector('body:not(.connecting)', { timeout: WAIT });

    /* ---- who I am and my duty ---- */
    await phoneA.waitForFunction(() => /李护工/.test(document.querySelector('#duty').textContent), null, { timeout: WAIT });
    const dutyA = await text(phoneA, '#duty');
    ok(/李护工 · 护工/.test(dutyA) && /在班：(白班|夜班)/.test(dutyA) && /负责：101室/.test(dutyA),
      'phone A says who is logged in, the shift and what A covers (room 101)', dutyA);
    const dutyB = await text(phoneB, '#duty');
    ok(/王护工 · 护工/.test(dutyB) && /负责：102室/.test(dutyB), 'phone B: 王护工 covers room 102', dutyB);
    ok(!/[A-Za-z]{2,}/.test(dutyA + dutyB), 'the duty boxes have no English or codes in them', dutyA + dutyB);
    const pwa = await phoneA.evaluate(async () => {
      const reg = await Promise.race([navigator.serviceWorker.ready, new Promise((r) => setTimeout(() => r(null), 5000))]);
      return { secure: window.isSecureContext, sw: !!reg, scope: reg && reg.scope };
    });
    ok(pwa.secure && pwa.sw && /\/carer$/.test(pwa.scope), 'on a secure origin the page registers carer-sw.js with scope /carer', JSON.stringify(pwa));
    const manifest = await phoneA.evaluate(async () => {
      const r = await fetch(document.querySelector('link[rel=manifest]').href);
      return { status: r.status, type: r.headers.get('content-type'), body: r.status === 200 ? await r.json().catch(() => null) : null };
    });
    ok(manifest.status === 200 && /application\/manifest\+json/.test(manifest.type || '') && manifest.body
      && manifest.body.name === '护理呼叫' && manifest.body.display === 'standalone' && manifest.body.start_url === 'carer.html',
    'carer.webmanifest is served as a manifest: 护理呼叫, standalone, start_url carer.html', JSON.stringify(manifest));

    /* ---- start duty (the gesture that unlocks sound), both phones ---- */
    for (const phone of [phoneA, phoneB]) {
      await phone.click('#start-duty');
      await phone.waitForSelector('#duty-status:not(.hidden)', { timeout: WAIT });
    }
    const statusA = await text(phoneA, '#duty-status');
    ok(/值班中/.test(statusA) && await phoneA.locator('#start-duty').isHidden(), 'start duty: the button goes and the page says it is on duty', statusA);
    ok(await phoneA.evaluate(() => !!window.WGCarer.dutyStarted), '... (the page took the gesture)');

    /* ---- claiming rooms ---- */
    await phoneA.click('#claim-open');
    await phoneA.waitForSelector('#claim-list input[value="102"]', { timeout: WAIT });
    await lib.screenshot(phoneA, 'carer-claim-390x844');
    const axeClaim = await lib.axeSerious(phoneA);
    ok(axeClaim.length === 0, 'axe: nothing serious with the claim dialog open', JSON.stringify(axeClaim, null, 1));
    await phoneA.check('#claim-list input[value="102"]');
    await phoneA.click('#claim-save');
    await phoneA.waitForFunction(() => /我认领的：102室/.test(document.querySelector('#duty-claimed').textContent), null, { timeout: WAIT });
    const staffA = await pageApi(phoneA, 'GET', '/api/v1/staff');
    ok(staffA.status === 200 && staffA.data.me && JSON.stringify(staffA.data.me.claimed) === '["102"]',
      'claiming room 102 from the page: the gateway has it, and the duty box says so', JSON.stringify(staffA.data && staffA.data.me));
    await phoneA.click('#claim-open');
    await phoneA.waitForSelector('#claim-list input[value="102"]:checked', { timeout: WAIT });
    await phoneA.click('#claim-none');
    await phoneA.waitForFunction(() => document.querySelector('#duty-claimed').textContent === '', null, { timeout: WAIT });
    const released = await pageApi(phoneA, 'GET', '/api/v1/staff');
    ok(released.data && released.data.me && released.data.me.claimed.length === 0, '"release all" gives the room back', JSON.stringify(released.data && released.data.me));

    /* ---- 1. room 101's call: phone A first ---- */
    const t0 = Date.now();
    send('call-101A call 1');
    await phoneA.waitForSelector('#mine .card[data-kind="call"] .accept', { timeout: WAIT });
    const shownA = Date.now() - t0;
    const alarmId = await phoneA.getAttribute('#mine .card[data-kind="call"]', 'data-alarm-id');
    note(`call -> accept button on phone A: ${shownA} ms`);
    ok(shownA < 3000, `the call is on phone A, under my calls, with accept and decline, within 3 s (${shownA} ms)`);
    const callA = await text(phoneA, card(alarmId));
    ok(/101室/.test(callA) && /A床/.test(callA) && /王奶奶/.test(callA) && /呼叫/.test(callA) && /普通呼叫/.test(callA),
      'the card says room, bed, resident, the kind and the priority in words', callA);
    await phoneA.waitForFunction((id) => window.WGCarer.receipts.some((r) => r.id === id && r.status === 200), alarmId, { timeout: 5000 });
    const receipt = (await phoneA.evaluate(() => window.WGCarer.receipts))[0];
    note(`receipt: POST received answered in ${receipt.ms} ms`);
    ok(receipt.status === 200 && receipt.at - t0 < 3000, `phone A confirms the receipt at once (${receipt.at - t0} ms after the press)`, JSON.stringify(receipt));
    const alerts = await phoneA.evaluate(() => window.WGCarer.alerts);
    ok(alerts.some((a) => a.id === alarmId && a.level === 'low' && a.played), 'phone A rings (a low-priority burst) for the new page', JSON.stringify(alerts));
    await phoneA.waitForFunction((id) => /李护工（我） 已通知 \d+:\d\d 未接受/.test(document.querySelector(`.card[data-alarm-id="${id}"] .c-pages`).textContent),
      alarmId, { timeout: 5000 });
    ok(true, 'its paging line says 李护工（我） 已通知 m:ss 未接受');
    await phoneB.waitForSelector(`#rest ${card(alarmId)}`, { timeout: WAIT });
    ok(await phoneB.locator(`${card(alarmId)} .accept`).count() === 0, 'phone B lists the call under other calls, without buttons: not paged yet');
    ok(await phoneA.locator('button', { hasText: '复位' }).count() === 0, 'there is no reset button');
    await lib.screenshot(phoneA, 'carer-paged-390x844');
    const axePaged = await lib.axeSerious(phoneA);
    ok(axePaged.length === 0, 'axe: nothing serious on a paged call at 390x844', JSON.stringify(axePaged, null, 1));

    /* ---- 2. A does nothing: after accept_s, B is paged ---- */
    await phoneB.evaluate(() => { window.__hidden = true; });
    await phoneB.waitForSelector(`#mine ${card(alarmId)} .accept`, { timeout: (ACCEPT_S + DELIVERY_S + 10) * 1000 });
    const pagedB = Date.now() - t0;
    note(`call -> phone B paged: ${pagedB} ms (accept_s ${ACCEPT_S} s)`);
    ok(pagedB >= (ACCEPT_S - 1) * 1000 && pagedB < (ACCEPT_S + DELIVERY_S + 5) * 1000,
      `B (the zone's next carer) is paged once A has not accepted within accept_s (${(pagedB / 1000).toFixed(1)} s): the call moves to B's calls`);
    const pagesOnB = await text(phoneB, `${card(alarmId)} .c-pages`);
    ok(/李护工 已通知 \d+:\d\d 未接受（超时）/.test(pagesOnB) && /王护工（我） 已通知/.test(pagesOnB),
      'phone B sees the chain: A paged and timed out, then B', pagesOnB);
    await phoneB.waitForFunction((id) => window.WGCarer.receipts.some((r) => r.id === id && r.status === 200), alarmId, { timeout: 5000 });
    ok(true, 'phone B confirms its receipt');
    const notes = await phoneB.evaluate(() => window.WGCarer.notifications);
    ok(notes.some((n) => n.id === alarmId && /101室 A床 呼叫/.test(n.title)), 'phone B, hidden, shows a system notification "101室 A床 呼叫"', JSON.stringify(notes));
    const shown = await phoneB.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration('carer');
      return reg ? (await reg.getNotifications()).map((n) => n.title) : null;
    }).catch((e) => String(e));
    note(`notifications the service worker holds on phone B: ${JSON.stringify(shown)}`);
    await phoneB.evaluate(() => { window.__hidden = false; });

    /* ---- 3. B accepts ---- */
    await lib.sleep(500); /* the moved-card guard */
    await phoneB.click(`${card(alarmId)} .accept`);
    await phoneB.waitForFunction((id) => /我正在赶来/.test(document.querySelector(`.card[data-alarm-id="${id}"] .c-status`).textContent), alarmId, { timeout: WAIT });
    const acceptedB = await text(phoneB, card(alarmId));
    ok(/请到房间内按复位键/.test(acceptedB) && await phoneB.locator(`${card(alarmId)} .accept`).count() === 0,
      'B accepts: the card says I am on my way and to reset in the room; no more buttons', acceptedB);
    ok(/李护工 .*超时/.test(acceptedB), '... and the rest of the chain stays visible', acceptedB);
    await phoneA.waitForFunction((id) => /王护工 正在赶来/.test(document.querySelector(`.card[data-alarm-id="${id}"]`).textContent), alarmId, { timeout: WAIT });
    ok(await phoneA.locator(`${card(alarmId)} .accept`).count() === 0, 'phone A: 王护工 正在赶来, and A\'s buttons are gone');
    const seen = await wall.waitForFunction((id) => /王护工 正在赶来/.test((document.querySelector(`.call[data-alarm-id="${id}"] .paging`) || {}).textContent || ''),
      alarmId, { timeout: WAIT }).then(() => true, () => false);
    ok(seen, 'the wall shows that 王护工 is on the way', await text(wall, `.call[data-alarm-id="${alarmId}"]`));
    ok(await phoneB.locator('button', { hasText: '复位' }).count() === 0, 'still no reset button anywhere');
    await lib.screenshot(phoneB, 'carer-accepted-390x844');
    for (const vp of lib.VIEWPORTS) {
      await phoneA.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(300);
      const found = await lib.axeSerious(phoneA);
      ok(found.length === 0, `axe: nothing serious on the carer page at ${vp.name}`, JSON.stringify(found, null, 1));
      const over = await phoneA.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      ok(over <= 1, `carer page ${vp.name}: nothing runs off the side`, `${over} px over`);
      await lib.screenshot(phoneA, `carer-${vp.name}`);
    }
    await phoneA.setViewportSize({ width: 390, height: 844 });
    await lib.screenshot(wall, 'carer-wall-on-the-way');

    /* ---- 4. presence attends, the reset button resets ---- */
    send('presence-101 presence 1');
    await phoneB.waitForSelector(`${card(alarmId)}[data-state="attended"]`, { timeout: WAIT });
    await phoneA.waitForSelector(`${card(alarmId)}[data-state="attended"]`, { timeout: WAIT });
    ok(/护理员已到位/.test(await text(phoneA, card(alarmId))), 'presence in the room: both phones say staff are in the room');
    send('presence-101 reset 1');
    send('presence-101 reset 0');
    await Promise.all([phoneA, phoneB, wall].map((p) => p.waitForSelector(`[data-alarm-id="${alarmId}"]`, { state: 'detached', timeout: WAIT })));
    ok(true, 'the room\'s reset button ends the call: gone from both phones and the wall');
    send('presence-101 presence 0');
    await lib.sleep(300);

    /* ---- 5. a second call: A declines with a reason, B is paged at once ---- */
    send('call-101B call 1');
    await phoneA.waitForSelector('#mine .card[data-kind="call"] .decline', { timeout: WAIT });
    const secondId = await phoneA.getAttribute('#mine .card[data-kind="call"]', 'data-alarm-id');
    await lib.sleep(500);
    await phoneA.click(`${card(secondId)} .decline`);
    await phoneA.waitForSelector('#decline-dialog[open]', { timeout: WAIT });
    ok(/不能去 101室 B床/.test(await text(phoneA, '#decline-title')), 'decline asks why, naming the room and bed');
    await phoneA.click('#decline-form input[value="other"]');
    await phoneA.click('#decline-send');
    ok(await phoneA.locator('#decline-error').isVisible() && /请写明原因/.test(await text(phoneA, '#decline-error')),
      '"other" with nothing written is not sent: it asks for the reason');
    ok((await phoneA.getAttribute('#decline-text', 'maxlength')) === '60', 'the reason takes up to 60 characters');
    await lib.screenshot(phoneA, 'carer-decline-390x844');
    const axeDecline = await lib.axeSerious(phoneA);
    ok(axeDecline.length === 0, 'axe: nothing serious with the decline dialog open', JSON.stringify(axeDecline, null, 1));
    await phoneA.click('#decline-form input[value="far"]');
    await phoneA.click('#decline-send');
    const declinedAt = Date.now();
    await phoneA.waitForFunction((id) => /李护工（我） 拒绝：不在附近/.test(document.querySelector(`.card[data-alarm-id="${id}"]`).textContent),
      secondId, { timeout: WAIT });
    ok(await phoneA.locator(`${card(secondId)} .accept`).count() === 0, 'A declined ("不在附近"): the card says so and the buttons go');
    await phoneB.waitForSelector(`${card(secondId)} .accept`, { timeout: WAIT });
    const pagedAfterDecline = Date.now() - declinedAt;
    ok(pagedAfterDecline < (ACCEPT_S - 5) * 1000, `B is paged at once after the decline (${pagedAfterDecline} ms), not after accept_s`);
    ok(/李护工 拒绝：不在附近/.test(await text(phoneB, card(secondId))), 'phone B sees why A is not going');

    /* ---- the HTTP contract's refusals ---- */
    const long = await pageApi(phoneB, 'POST', `/api/v1/alarms/${secondId}/decline`, { reason: '很'.repeat(61) });
    ok(long.status === 400 && long.data && long.data.field === 'reason', 'a reason over 60 characters: 400, field reason', JSON.stringify(long));
    const acceptB = await pageApi(phoneB, 'POST', `/api/v1/alarms/${secondId}/accept`, {});
    ok(acceptB.status === 200 && acceptB.data.alarm.paging.accepted_by === 'carer_b', 'B accepts by HTTP: 200 with the alarm', JSON.stringify(acceptB.data && acceptB.data.alarm && acceptB.data.alarm.paging));
    const lateA = await pageApi(phoneA, 'POST', `/api/v1/alarms/${secondId}/accept`, {});
    ok(lateA.status === 409 && typeof lateA.data.error === 'string', 'A accepting a call B accepted: 409', JSON.stringify(lateA));
    await phoneB.waitForFunction((id) => /我正在赶来/.test(document.querySelector(`.card[data-alarm-id="${id}"]`).textContent), secondId, { timeout: WAIT });
    ok(true, 'phone B follows an accept made elsewhere (the alarm delta)');
    send('call-102A call 1');
    await phoneB.waitForSelector('#mine .card[data-kind="call"][data-alarm-id]:not([data-alarm-id="' + secondId + '"])', { timeout: WAIT });
    const thirdId = await phoneB.evaluate((s) => [...document.querySelectorAll('#mine .card[data-kind="call"]')].map((c) => c.dataset.alarmId).find((i) => i !== s), secondId);
    await phoneA.waitForSelector(`#rest ${card(thirdId)}`, { timeout: WAIT });
    ok(true, 'room 102\'s call is under "other calls" on phone A (not A\'s room), under "my calls" on B');
    const notMine = await pageApi(phoneA, 'POST', `/api/v1/alarms/${thirdId}/accept`, {});
    ok(notMine.status === 403, 'A accepting a call never sent to A: 403', JSON.stringify(notMine));
    const unknown = await pageApi(phoneA, 'POST', '/api/v1/alarms/00000000-0000-4000-8000-000000000000/accept', {});
    ok(unknown.status === 404, 'an unknown alarm: 404', JSON.stringify(unknown));

    /* ---- English ---- */
    await phoneA.click('#lang-toggle');
    await phoneA.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: WAIT });
    const en = await text(phoneA, '#main');
    ok(/My calls/.test(en) && /Other calls/.test(en) && /王护工 is on the way/.test(en) && /Room 101/.test(en),
      'English with the toggle: headings, the room, who is on the way', en);
    await lib.screenshot(phoneA, 'carer-english-390x844');
    await phoneA.click('#lang-toggle');

    /* ---- 6. the lost connection ---- */
    const before = await phoneA.evaluate(() => document.querySelectorAll('.card').length);
    process.kill(daemon.proc.pid, 'SIGSTOP');
    stopped = true;
    const stopAt = Date.now();
    await phoneA.waitForSelector('#conn-lost:not(.hidden)', { timeout: 6000 });
    const lostAfter = Date.now() - stopAt;
    const banner = await text(phoneA, '#conn-lost');
    note(`daemon stopped -> banner: ${lostAfter} ms`);
    ok(lostAfter < 5000 && /连接中断 — 显示的是 \d\d:\d\d:\d\d 的情况，正在重新连接/.test(banner),
      `the daemon stopped: the banner says so within 5 s (${lostAfter} ms), with the time of what is shown`, banner);
    ok(await phoneA.evaluate(() => document.body.classList.contains('stale')) && await phoneA.evaluate(() => document.querySelectorAll('.card').length) === before,
      'the last known calls stay, greyed');
    const bannerBox = await phoneA.locator('#conn-lost').boundingBox();
    ok(bannerBox && bannerBox.width >= 389 && bannerBox.y <= 1, 'the banner spans the screen at the top', JSON.stringify(bannerBox));
    await lib.screenshot(phoneA, 'carer-connection-lost-390x844');
    process.kill(daemon.proc.pid, 'SIGCONT');
    stopped = false;
    await phoneA.waitForSelector('#conn-lost.hidden', { state: 'attached', timeout: WAIT });
    ok(!(await phoneA.evaluate(() => document.body.classList.contains('stale'))), 'the daemon back: a new snapshot, the banner and the grey go');

    /* ---- 7. the offline shell (service worker) ---- */
    const cached = await phoneA.evaluate(async () => {
      const urls = [];
      for (const k of await caches.keys()) for (const r of await (await caches.open(k)).keys()) urls.push(new URL(r.url).pathname);
      return urls;
    });
    ok(cached.includes('/carer.html') && cached.includes('/carer.js') && cached.includes('/common.js'), 'the service worker keeps the page\'s shell', JSON.stringify(cached));
    ok(!cached.some((u) => u.startsWith('/api/') || u === '/ws'), 'and nothing from /api/ or /ws', JSON.stringify(cached));
    /* The worker must control the page by now (it claims it on activation). */
    const controlled = await phoneA.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: WAIT })
      .then(() => true, () => false);
    ok(controlled, 'the service worker controls the page');
    if (controlled) {
      await phoneA.context().setOffline(true);
      await phoneA.reload({ waitUntil: 'domcontentloaded' }).catch(() => {});
      const offline = await phoneA.waitForSelector('#offline:not(.hidden)', { timeout: WAIT }).then(() => true, () => false);
      const offText = offline ? await text(phoneA, '#offline') : '';
      ok(offline && /离线/.test(offText) && (await text(phoneA, '#title')) === '护理呼叫',
        'without the network the page still opens from its kept copy and says it is offline', offText);
      await lib.screenshot(phoneA, 'carer-offline-390x844');
      await phoneA.context().setOffline(false);
      await phoneA.waitForSelector('body:not(.connecting)', { timeout: WAIT });
      ok(true, 'back online it connects again by itself');
    }

    /* ---- 8. no HTTPS: what is missing, in words ---- */
    const plain = await lib.newPage(browser, 'zh', { width: 390, height: 844 });
    pages.push(plain);
    await plain.addInitScript(() => Object.defineProperty(window, 'isSecureContext', { get: () => false }));
    await lib.login(plain, base, 'carer_a', PW, '/carer.html');
    await plain.waitForSelector('#insecure:not(.hidden)', { timeout: WAIT });
    const insecure = await text(plain, '#insecure');
    ok(/不能通知、不能保持亮屏、不能离线打开/.test(insecure) && (await plain.getAttribute('#insecure a', 'href')) === 'phone.html',
      'without HTTPS the page says what is missing and links to phone.html', insecure);
    ok(!/[A-Za-z]{2,}/.test(insecure), '... in Chinese only', insecure);
    await lib.screenshot(plain, 'carer-insecure-390x844');

    const errors = pages.flatMap((p) => p.consoleErrors).filter((e) => !/Failed to load resource|ERR_INTERNET_DISCONNECTED|Manifest/.test(e));
    ok(errors.length === 0, 'no console errors', errors.join('\n'));
  } finally {
    if (stopped) process.kill(daemon.proc.pid, 'SIGCONT');
    await browser.close();
    await daemon.stop();
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  ok(false, 'carer.test.js ran to the end', e.stack);
  process.exit(lib.doneTesting() ? 1 : 0);
});
