/* The login page and the station display as pages, against a real
 * wardgated started with no user at all:
 *   - the login page offers the first-admin form only while the gateway
 *     says setup is pending (GET /api/v1/setup), then never again;
 *   - axe-core (WCAG 2.1 A and AA) finds nothing serious or critical on the
 *     login page and on the display (calls of every priority, acknowledged,
 *     technical, fire, storage failing, the lost connection, English) at
 *     1920x1080, 1280x800 and 390x844;
 *   - the display's 退出 asks first, and a kiosk stays logged in on "keep";
 *   - a press on a card that appeared a moment ago is not taken as an
 *     acknowledgement; the same press a moment later is. */
'use strict';

const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const WAIT = 15000;
const SIZES = [[1920, 1080], [1280, 800], [390, 844]];

/* Every point meaning the gateway knows (gateway/common/meaning.c) has its words
 * in the one table both UIs read (web/common.js), in Chinese and English. */
function checkMeaningWords() {
  const root = path.join(__dirname, '..', '..');
  const names = [...fs.readFileSync(path.join(root, 'gateway/common/meaning.c'), 'utf8')
    .matchAll(/^\s*\{"([a-z_0-9]+)",/gm)].map((m) => m[1]);
  const common = fs.readFileSync(path.join(root, 'web/common.js'), 'utf8');
  const split = common.indexOf('\n    en: {');
  for (const [lang, text] of [['zh', common.slice(0, split)], ['en', common.slice(split)]]) {
    const missing = names.filter((n) => !text.includes(`'meaning.${n}':`));
    ok(names.length > 40 && missing.length === 0,
      `every point meaning (${names.length}) has its ${lang} words in common.js`, missing.join(', '));
  }
}

async function main() {
  checkMeaningWords();
  const dir = lib.scratchDir('pages');
  const port = await lib.freePort();
  const fifo = path.join(dir, 'sim.fifo');
  const config = lib.writeConfig(dir, port, `      control: ${fifo}`);
  fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace(/^devices:\n/m,
    'devices:\n  - {id: smoke-101, bus: sim1, address: 8, profile: smoke-detector, room: "101"}\n')
    .replace(/^rules:\n/m, 'rules:\n  - {id: smoke, kind: smoke, meaning: smoke, priority: fire, reset_on_normal: false}\n'));
  const db = path.join(dir, 'wardgate.db');
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  const base = daemon.url;
  const send = lib.fifoWriter(fifo);
  note(`wardgated on ${base}, scratch ${dir}`);
  const browser = await lib.launchBrowser();
  const pages = [];
  const page = async (viewport, options) => { const p = await lib.newPage(browser, null, viewport, options); pages.push(p); return p; };
  const axe = async (p, what) => {
    const bad = await lib.axeSerious(p);
    ok(bad.length === 0, `axe (WCAG 2.1 AA): nothing serious or critical on ${what}`,
      bad.map((v) => `${v.id} (${v.impact}): ${v.targets.join(', ')}: ${v.help}`).join('\n'));
  };
  try {
    /* ---- first start: setup is pending ---- */
    const first = await page({ width: 1280, height: 800 });
    await first.goto(`${base}/login.html`);
    await first.waitForSelector('#token-row:not(.hidden)', { timeout: WAIT });
    ok(await first.locator('#setup-switch').isVisible() && (await first.locator('h1').textContent()) === '首次设置',
      'with no user yet, the login page opens on the first-admin form (GET /api/v1/setup says it is pending)');
    for (const [width, height] of SIZES) {
      await first.setViewportSize({ width, height });
      await lib.screenshot(first, `pages-setup-${width}x${height}`);
      await axe(first, `the first-admin form at ${width}x${height}`);
    }
    const token = fs.readFileSync(path.join(dir, 'setup-token'), 'utf8').trim();
    await first.fill('#token', token);
    await first.fill('#username', 'admin1');
    await first.fill('#password', 'admin-pass-01');
    await Promise.all([first.waitForURL((u) => u.pathname === '/', { timeout: WAIT }), first.click('#login-submit')]);
    ok(true, 'the first admin is made on that form and lands on the display');
    const admin = async (method, url, body) => first.evaluate(async ([m, u, b]) => {
      const s = await (await fetch('/api/v1/session')).json();
      const r = await fetch(u, { method: m, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf }, body: JSON.stringify(b) });
      return r.status;
    }, [method, url, body]);
    ok(await admin('POST', '/api/v1/users', { username: 'nurse1', role: 'nurse', password: 'nurse-pass-12' }) === 201
      && await admin('POST', '/api/v1/users', { username: 'station1', role: 'station', password: 'station-pass-1' }) === 201,
    'the admin adds a nurse and the station account');

    /* ---- after setup: the login page only logs in ---- */
    const login = await page({ width: 1920, height: 1080 });
    for (const url of ['/login.html', '/login.html?setup']) {
      await login.goto(`${base}${url}`);
      await login.waitForFunction(() => document.title !== 'wardgate', null, { timeout: WAIT });
      await lib.sleep(500); /* the answer of GET /api/v1/setup */
      ok(await login.locator('#setup-switch').isHidden() && await login.locator('#token-row').isHidden()
        && (await login.locator('h1').textContent()) === '登录', `after setup, ${url} offers no first-admin form and no link to it`);
    }
    await login.fill('#username', 'nurse1');
    await login.fill('#password', 'wrong-password-1');
    await login.click('#login-submit');
    await login.waitForSelector('#login-error:not(.hidden)', { timeout: WAIT });
    for (const [width, height] of SIZES) {
      await login.setViewportSize({ width, height });
      await lib.screenshot(login, `pages-login-${width}x${height}`);
      await axe(login, `the login page with an error at ${width}x${height}`);
    }

    /* ---- the display, at every size, in every state ---- */
    const nurses = [];
    for (const [width, height] of SIZES) {
      const p = await page({ width, height });
      await p.addInitScript(() => { window.__WG_TEST_HOOKS__ = true; });
      await lib.login(p, base, 'nurse1', 'nurse-pass-12', '/');
      await p.waitForSelector('body:not(.connecting)', { timeout: WAIT });
      nurses.push({ p, tag: `${width}x${height}` });
    }
    const wall = nurses[0].p;
    for (const { p, tag } of nurses) await axe(p, `the empty display at ${tag}`);
    ok(await wall.locator('h1').count() === 1 && (await wall.locator('h1').textContent()) === '测试养老院', 'the display has one level-one heading: the site');

    /* A press on a card that has only just appeared is refused, kindly. The
     * press is made inside the page the moment the card is placed (its
     * data-moved-at set), so the guard is measured on the page's own clock:
     * a press from the test process could arrive after the guard's 450 ms
     * on a loaded machine, and then it is rightly taken. */
    await wall.evaluate(() => {
      window.__pressedFresh = new Promise((resolve) => {
        const watch = new MutationObserver(() => {
          const button = document.querySelector('.call[data-kind="call"] button.ack');
          const card = button && button.closest('[data-alarm-id]');
          if (!card || !card.dataset.movedAt) return;
          watch.disconnect();
          button.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true }));
          button.click();
          resolve(Date.now() - Number(card.dataset.movedAt));
        });
        watch.observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-moved-at'] });
      });
    });
    send('call-101A call 1');
    const pressedAfter = await wall.evaluate(() => window.__pressedFresh);
    note(`the fresh card was pressed ${pressedAfter} ms after it was placed`);
    const moved = await wall.waitForSelector('.call[data-kind="call"] .ack-error', { timeout: WAIT });
    ok((await moved.textContent()).includes('卡片刚刚移动过') && await wall.locator('.call[data-kind="call"]').getAttribute('data-state') === 'raised',
      'a press on a card that appeared a moment ago is not taken: the card says it just moved', await moved.textContent());
    await lib.sleep(600);
    await wall.locator('.call[data-kind="call"] button.ack').click();
    await wall.waitForSelector('.call[data-kind="call"][data-state="acknowledged"]', { timeout: WAIT });
    ok(true, '... the same press a moment later acknowledges it');

    send('call-101B call 1');
    send('cord-101 cord 1');
    send('call-102A call 1');
    send('meter-f1 health offline cable cut');
    await wall.waitForFunction(() => document.querySelectorAll('.call').length === 4 && document.querySelector('.tech'), null, { timeout: WAIT });
    for (const { p, tag } of nurses) {
      await p.waitForFunction(() => document.querySelectorAll('.call').length === 4, null, { timeout: WAIT });
      await lib.sleep(300);
      await lib.screenshot(p, `pages-display-calls-${tag}`);
      await axe(p, `the display with calls of each priority and a technical alarm at ${tag}`);
    }
    /* More technical alarms than the strip holds on a phone: it says how many more. */
    for (const d of ['bed-101A', 'call-101B', 'call-102A']) send(`${d} health offline test`);
    const phone = nurses[2].p;
    await phone.waitForFunction(() => document.querySelectorAll('.tech').length === 4, null, { timeout: WAIT });
    await lib.sleep(300);
    const more = await phone.evaluate(() => {
      const list = document.getElementById('technical-list').getBoundingClientRect();
      const out = [...document.querySelectorAll('.tech')].filter((t) => t.getBoundingClientRect().right > list.right + 1).length;
      const button = document.getElementById('technical-more');
      return { out, shown: !button.classList.contains('hidden'), count: Number(button.dataset.count), text: button.textContent };
    });
    ok(more.out > 0 && more.shown && more.count === more.out && more.text === `还有 ${more.out} 条`,
      `390x844: the technical strip counts the alarms out of view ("${more.text}")`, JSON.stringify(more));
    await lib.screenshot(phone, 'pages-display-technical-390x844');
    await axe(phone, 'the display with a full technical strip at 390x844');
    let presses = 0;
    while (presses < 10 && await phone.locator('#technical-more').isVisible()) {
      await phone.click('#technical-more');
      presses++;
      await lib.sleep(200);
    }
    const last = await phone.evaluate(() => {
      const list = document.getElementById('technical-list').getBoundingClientRect();
      const r = document.querySelector('.tech:last-child').getBoundingClientRect();
      return r.right <= list.right + 1 && r.left >= list.left - 1;
    });
    ok(last && presses <= more.count, `... and its button brings them into view, one by one (${presses} presses)`);
    for (const d of ['bed-101A', 'call-101B', 'call-102A']) send(`${d} health online`);
    await phone.waitForFunction(() => document.querySelectorAll('.tech').length === 1, null, { timeout: WAIT });

    /* Storage failing and a card not yet journaled, from injected frames
     * (display-contracts.test.js has them from a real locked database);
     * the daemon is paused so that no real heartbeat undoes them. */
    process.kill(daemon.proc.pid, 'SIGSTOP');
    try {
      for (const { p, tag } of nurses) {
        await p.evaluate(() => window.WGDisplay.inject({ type: 'heartbeat', ts_ms: Date.now(), storage: 'failing', storage_reason: 'disk_full', events_waiting: 4 }));
        await axe(p, `the display with the storage banner at ${tag}`);
        await lib.screenshot(p, `pages-display-storage-${tag}`);
      }
    } finally {
      process.kill(daemon.proc.pid, 'SIGCONT');
    }
    await wall.waitForSelector('#storage-banner.hidden', { state: 'attached', timeout: WAIT });
    send('smoke-101 smoke 1');
    for (const { p, tag } of nurses) {
      await p.waitForSelector('#fire-view:not(.hidden)', { timeout: WAIT });
      await axe(p, `the fire view at ${tag}`);
    }
    await wall.click('#fire-show-calls');
    await axe(wall, 'the display with the fire banner');
    await wall.click('#lang-toggle');
    await wall.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: WAIT });
    await axe(wall, 'the display in English');
    await lib.screenshot(wall, 'pages-display-english');
    await wall.click('#lang-toggle');
    process.kill(daemon.proc.pid, 'SIGSTOP');
    try {
      for (const { p, tag } of nurses) {
        await p.waitForSelector('#conn-lost:not(.hidden)', { timeout: WAIT });
        await axe(p, `the lost-connection view at ${tag}`);
        await lib.screenshot(p, `pages-display-lost-${tag}`);
      }
    } finally {
      process.kill(daemon.proc.pid, 'SIGCONT');
    }
    await wall.waitForSelector('#conn-lost.hidden', { state: 'attached', timeout: WAIT });

    /* ---- 退出 on the wall display asks first ---- */
    const kiosk = await page({ width: 1920, height: 1080 });
    await lib.login(kiosk, base, 'station1', 'station-pass-1', '/');
    await kiosk.waitForSelector('body:not(.connecting)', { timeout: WAIT });
    await kiosk.click('#fire-show-calls').catch(() => {});
    await kiosk.click('#logout');
    await kiosk.waitForSelector('#logout-dialog[open]', { timeout: WAIT });
    ok(/退出登录？/.test(await kiosk.locator('#logout-dialog').textContent()), 'one tap on 退出 asks first, saying the screen will show no calls');
    await lib.screenshot(kiosk, 'pages-kiosk-logout-ask');
    await axe(kiosk, 'the logout question');
    await kiosk.click('#logout-cancel');
    await lib.sleep(500);
    ok(new URL(kiosk.url()).pathname === '/' && await kiosk.locator('#logout-dialog[open]').count() === 0
      && (await kiosk.evaluate(() => fetch('/api/v1/session').then((r) => r.status))) === 200,
    '"keep showing calls" keeps the kiosk logged in');
    await kiosk.click('#logout');
    await kiosk.waitForSelector('#logout-dialog[open]', { timeout: WAIT });
    await Promise.all([kiosk.waitForURL((u) => u.pathname.endsWith('/login.html'), { timeout: WAIT }), kiosk.click('#logout-confirm')]);
    ok((await kiosk.evaluate(() => fetch('/api/v1/session').then((r) => r.status))) === 401, '"log out" logs it out');

    send('smoke-101 smoke 0');
    send('presence-101 reset 1');
    await lib.sleep(1500);
    send('presence-101 reset 0');
    const expected = /WebSocket connection to .* failed|Failed to load resource: the server responded with a status of (401|403)/;
    const unexpected = pages.flatMap((p) => p.consoleErrors.filter((e) => !expected.test(e)));
    ok(unexpected.length === 0, 'no script errors in any page', unexpected.join('\n'));
  } finally {
    await browser.close().catch(() => {});
    await daemon.stop('SIGTERM').catch(() => {});
    const bad = daemon.log().split('\n').filter((l) => /AddressSanitizer|runtime error/.test(l));
    ok(bad.length === 0, 'the daemon logged no sanitizer report', bad.join('\n'));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  lib.ok(false, 'the pages test ran to the end', e && e.stack);
  process.exit(1);
});
