/* What the station display makes of the fields other parts of the gateway
 * promise (BRIEF contracts 1-4), against a real wardgated:
 *   - storage failing: the database locked by another process while a call
 *     comes; the banner from the heartbeat (with its reason and the events
 *     waiting), the storage technical alarm, the call marked "not saved yet"
 *     until the journal has it, and all of it gone once the lock is released;
 *   - a fire-panel zone shows its mapped place and the zone number, in the
 *     fire view at 1920x1080, 1280x800 and 390x844;
 *   - times in the site's zone (Asia/Shanghai) on a browser in New York;
 *   - a device offline says why in words.
 * A field the server does not send yet is reported as a SKIP naming the
 * contract. Then the same renderings from injected frames (the page's
 * test-only hook), an addition to the real daemon, never instead of it. */
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const { ok, note, skip } = lib;
const WAIT = 15000;

/* Holds an exclusive lock on the database for `seconds` (Debian's python3
 * and its sqlite3 module); resolves once the lock is taken. */
function lockDatabase(db, seconds) {
  const script = 'import sqlite3, sys, time\n'
    + 'con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n'
    + 'con.execute("BEGIN EXCLUSIVE")\nprint("locked", flush=True)\n'
    + 'time.sleep(float(sys.argv[2]))\ncon.execute("COMMIT")\n';
  const child = spawn('/usr/bin/python3', ['-c', script, db, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve({ done }));
    child.once('exit', (code) => reject(new Error(`the lock script exited ${code}`)));
  });
}

/* The clock a person in `zone` reads at `ms`: "HH:MM:SS". */
function clockIn(zone, ms) {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    .format(new Date(ms));
}

async function main() {
  const dir = lib.scratchDir('contracts');
  const port = await lib.freePort();
  const fifo = path.join(dir, 'sim.fifo');
  const config = lib.writeConfig(dir, port, `      control: ${fifo}`);
  let text = fs.readFileSync(config, 'utf8');
  if (!/^\s+timezone:/m.test(text)) text = text.replace(/^(\s+)district: (.*)$/m, '$1district: $2\n$1timezone: Asia/Shanghai');
  /* A fire panel in room 101 whose zone 3 is mapped to a place (fire-panel
   * places: the semantics branch); without that key the loader refuses it. */
  const withPanel = text.replace(/^devices:\n/m, 'devices:\n'
    + '  - id: fire-panel\n    bus: sim1\n    address: 11\n    profile: fire-panel-gb26875\n    room: "101"\n'
    + '    places:\n      - {fire_zone: 3, room: "101", spot: 一层东侧走廊}\n')
    .replace(/^rules:\n/m, 'rules:\n  - {id: fire, kind: fire_zone}\n');
  fs.writeFileSync(config, withPanel);
  let places = true;
  try {
    execFileSync(lib.WARDGATED, ['-c', config, '--check', '--plugin-dir', path.join(lib.BUILD, 'plugins')], { stdio: 'pipe' });
  } catch (e) {
    places = false;
    note(`no fire-panel places in this build: ${String(e.stderr).split('\n').find((l) => /places/.test(l)) || e.message}`);
    fs.writeFileSync(config, text);
  }
  const db = path.join(dir, 'wardgate.db');
  lib.addUser(config, db, 'nurse1', 'nurse', 'nurse-pass-12');
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  const send = lib.fifoWriter(fifo);
  note(`wardgated on ${daemon.url}, scratch ${dir}`);
  const browser = await lib.launchBrowser();
  try {
    /* A nurse's display in New York, the home in Shanghai. */
    const pages = [];
    for (const [width, height] of [[1920, 1080], [1280, 800], [390, 844]]) {
      const page = await lib.newPage(browser, null, { width, height }, { timezoneId: 'America/New_York' });
      await page.addInitScript(() => { window.__WG_TEST_HOOKS__ = true; });
      await lib.login(page, daemon.url, 'nurse1', 'nurse-pass-12', '/');
      await page.waitForSelector('body:not(.connecting)', { timeout: WAIT });
      pages.push({ page, tag: `${width}x${height}` });
    }
    const wall = pages[0].page;
    const api = async (url) => wall.evaluate((u) => fetch(u).then((r) => r.json()), url);
    const alarmOf = async (device, kind) => (await api('/api/v1/alarms')).alarms.find((a) => a.device === device && (!kind || a.kind === kind));

    /* ---- the site's time zone ---- */
    const snapshot = await api('/api/v1/snapshot');
    if (snapshot.timezone) {
      const seen = await wall.evaluate(() => ({ clock: document.querySelector('#clock .time').textContent, at: Date.now() }));
      const expect = [-1000, 0, 1000].map((d) => clockIn(snapshot.timezone, seen.at + d));
      ok(snapshot.timezone === 'Asia/Shanghai' && expect.includes(seen.clock),
        `the clock shows the home's time (${snapshot.timezone}: ${seen.clock}), not the browser's (New York ${clockIn('America/New_York', seen.at)})`);
    } else {
      skip('the clock shows the home\'s time, not the browser\'s', 'the snapshot has no timezone yet (contract 4: semantics)');
    }

    let t0;
    /* ---- storage failing ----
     * Only where the core never waits for the disk (the store writer, whose
     * heartbeat always has storage_reason): before it, the core thread sat in
     * SQLite's busy timeout and the display saw a silent gateway instead. */
    const beat = await wall.evaluate(() => window.WGDisplay.heartbeat || {});
    if (!('storage_reason' in beat)) {
      skip('a storage failure shows the banner, with why and the events waiting, the storage alarm and unsaved calls marked',
        'the heartbeat has no storage_reason/events_waiting yet: the core still waits for the disk (contract 3: store)');
    } else {
      const lock = await lockDatabase(db, 6);
      t0 = Date.now();
      send('call-102A call 1');
      await wall.waitForSelector('#storage-banner:not(.hidden)', { timeout: WAIT });
      note(`database locked -> storage banner: ${Date.now() - t0} ms`);
      const heartbeat = await wall.evaluate(() => window.WGDisplay.heartbeat);
      const banner = await wall.locator('#storage-banner').textContent();
      ok(/存储故障/.test(banner) && /请立即通知维护人员/.test(banner), 'a storage failure shows the banner, in words', banner);
      const words = await wall.evaluate((r) => WG.storageText(r), heartbeat.storage_reason);
      ok(heartbeat.storage_reason === 'locked' && banner.includes(words), `... with why: "${words}"`, JSON.stringify(heartbeat));
      ok(Number.isFinite(heartbeat.events_waiting) && banner.includes(`${heartbeat.events_waiting} 条事件`),
        `... and how many events wait (${heartbeat.events_waiting})`, banner);
      await wall.waitForSelector('.tech[data-kind="storage_failing"]', { timeout: WAIT });
      const tech = await wall.locator('.tech[data-kind="storage_failing"]').textContent();
      ok(/存储故障/.test(tech) && tech.includes(words), 'the storage technical alarm is in the technical strip, in words', tech);
      const card = await wall.waitForSelector('.call[data-kind="call"]', { timeout: 8000 }).catch(() => null);
      const held = card && await card.evaluate((c) => ({ journaled: c.dataset.journaled, mark: (c.querySelector('.journal-pending') || {}).textContent }));
      if (held && held.journaled === 'false') {
        ok(held.mark === '未存档', 'the call raised while storage fails shows at once, marked "not saved yet"', JSON.stringify(held));
      } else {
        skip('the call raised while storage fails shows at once, marked "not saved yet"',
          `the call ${held ? 'came journaled' : 'waited for the disk'} (contract 1 journaled:false: store)`);
      }
      for (const { page, tag } of pages) await lib.screenshot(page, `contracts-storage-${tag}`);
      await lock.done;
      t0 = Date.now();
      await wall.waitForSelector('#storage-banner.hidden', { state: 'attached', timeout: WAIT });
      note(`lock released -> banner gone: ${Date.now() - t0} ms`);
      ok(true, 'the banner goes once storage works again');
      await wall.waitForSelector('.call[data-kind="call"][data-journaled="true"]', { timeout: WAIT });
      ok(await wall.locator('.call[data-kind="call"] .journal-pending').count() === 0, 'the call is no longer marked once journaled (replaced in place)');
      await wall.waitForSelector('.tech[data-kind="storage_failing"]', { state: 'detached', timeout: WAIT });
      ok(true, 'no storage alarm is left in the strip');
    }

    /* ---- a fire-panel zone at its place ---- */
    if (places) {
      t0 = Date.now();
      send('fire-panel zone3_fire 1');
      await wall.waitForSelector('#fire-view:not(.hidden)', { timeout: WAIT });
      note(`zone 3 in fire -> fire view: ${Date.now() - t0} ms`);
      const fire = await alarmOf('fire-panel');
      ok(fire && fire.place === '一层东侧走廊' && fire.fire_zone === 3, 'the alarm carries the place and the zone', JSON.stringify(fire));
      for (const { page, tag } of pages) {
        await page.waitForSelector('#fire-view:not(.hidden)', { timeout: WAIT });
        const item = await page.locator('#fire-list .fire-item').first().textContent();
        ok(item.includes('一层东侧走廊') && item.includes('火警分区 3'), `${tag}: the fire view shows the place and the zone number`, item);
        const box = await page.locator('#fire-list .fire-item .f-where').first().boundingBox();
        ok(box && box.x >= 0 && box.x + box.width <= page.viewportSize().width + 1, `${tag}: ... inside the screen`, JSON.stringify(box));
        await lib.screenshot(page, `contracts-fire-zone-${tag}`);
      }
      await wall.click('#fire-show-calls');
      const bannerWhere = await wall.locator('.fire-banner-where').textContent();
      ok(bannerWhere.includes('一层东侧走廊') && bannerWhere.includes('火警分区 3'), 'the fire banner names them too', bannerWhere);
      send('fire-panel zone3_fire 0');
      send('presence-101 reset 1');
      await lib.sleep(1500);
      send('presence-101 reset 0');
      await wall.waitForSelector('#fire-banner.hidden', { state: 'attached', timeout: WAIT });
      ok(true, 'the fire reset at its place ends the fire view');
    } else {
      skip('a fire-panel zone shows its mapped place and the zone number', 'the loader has no fire-panel places yet (contract 1 place/fire_zone: semantics)');
    }

    /* ---- a device offline says why ---- */
    send('meter-f1 health offline cable cut');
    await wall.waitForSelector('.tech[data-kind="device_offline"]', { timeout: WAIT });
    const offline = await alarmOf('meter-f1', 'device_offline');
    const techText = await wall.locator('.tech[data-kind="device_offline"]').textContent();
    if (offline.detail_code) {
      const words = await wall.evaluate((a) => WG.alarmDetail(a), offline);
      ok(words && techText.includes(words) && !/cable|driver/i.test(techText), `a device offline says why in words: "${words}"`, techText);
    } else {
      skip('a device offline says why in words', 'the alarm has no detail_code yet (contracts 1 and 2: semantics, reload)');
    }
    send('meter-f1 health online');
    await wall.waitForSelector('.tech[data-kind="device_offline"]', { state: 'detached', timeout: WAIT });

    /* ---- the same renderings from injected frames ---- */
    const rendered = await wall.evaluate(() => {
      const hook = window.WGDisplay.inject;
      const out = {};
      hook({ type: 'heartbeat', ts_ms: Date.now(), seq: 1, storage: 'failing', storage_reason: 'disk_full', events_waiting: 12 });
      out.banner = document.getElementById('storage-banner').textContent;
      out.bannerShown = !document.getElementById('storage-banner').classList.contains('hidden');
      const base = { id: 'inject-1', update: 5, state: 'raised', priority: 'urgent', priority_level: 3, kind: 'vital_signs',
        room: '102', room_name: '102', bed: '102-A', raised_ms: Date.now() - 65000,
        detail_code: 'vital_range', detail_args: { meaning: 'heart_rate', value: 150, low: 40, high: 130 } };
      hook({ type: 'alarm', seq: null, phase: 'raise', alarm: { ...base, journaled: false } });
      const card = () => document.querySelector('.call[data-alarm-id="inject-1"]');
      out.marked = card().dataset.journaled === 'false' && !!card().querySelector('.journal-pending');
      out.detail = card().querySelector('.resident').textContent;
      hook({ type: 'alarm', seq: 99, phase: 'raise', alarm: { ...base, journaled: true } });
      out.replaced = card().dataset.journaled === 'true' && !card().querySelector('.journal-pending');
      hook({ type: 'alarm', seq: null, phase: 'raise', alarm: { ...base, journaled: false } });
      out.noFlipBack = card().dataset.journaled === 'true';
      hook({ type: 'alarm', seq: 100, phase: 'raise', alarm: { id: 'inject-2', update: 1, state: 'raised', priority: 'fire', priority_level: 5,
        kind: 'fire', room: '101', room_name: '101', place: '三楼东侧走廊', fire_zone: 7, fire_loop: 2, fire_address: 31,
        raised_ms: Date.now(), detail_code: 'fire_zone', detail_args: { zone: 7, loop: 2, address: 31 }, journaled: true } });
      out.fire = document.querySelector('#fire-list .fire-item[data-alarm-id="inject-2"]').textContent;
      hook({ type: 'alarm', seq: 101, phase: 'raise', alarm: { id: 'inject-3', update: 1, state: 'raised', priority: 'technical', priority_level: 1,
        kind: 'device_offline', device: 'meter-f1', device_label: '一层电表', room: '101', raised_ms: Date.now(),
        detail_code: 'device_offline', detail_args: { reason_code: 'cable_cut', reason: 'cable cut' }, journaled: true } });
      out.tech = document.querySelector('.tech[data-alarm-id="inject-3"]').textContent;
      WG.setLang('en');
      out.techEn = document.querySelector('.tech[data-alarm-id="inject-3"]').textContent;
      out.bannerEn = document.getElementById('storage-banner').textContent;
      out.roomEn = card().querySelector('.room').textContent;
      WG.setLang('zh');
      for (const [id, update] of [['inject-1', 6], ['inject-2', 2], ['inject-3', 2]]) {
        hook({ type: 'alarm', seq: 102, phase: 'reset', alarm: { id, update, state: 'reset', priority: 'normal' } });
      }
      hook({ type: 'heartbeat', ts_ms: Date.now(), seq: 2, storage: 'ok' });
      out.bannerGone = document.getElementById('storage-banner').classList.contains('hidden');
      return out;
    });
    ok(rendered.bannerShown && rendered.banner.includes('磁盘已满') && rendered.banner.includes('12 条事件'),
      'injected: the storage banner names the reason and the events waiting', rendered.banner);
    ok(rendered.marked && rendered.replaced && rendered.noFlipBack,
      'injected: journaled:false marks the card; the same update with journaled:true clears it in place; nothing flips it back',
      JSON.stringify(rendered));
    ok(rendered.detail.includes('心率 150，超出 40–130'), 'injected: a vital-signs detail in words', rendered.detail);
    ok(rendered.fire.includes('三楼东侧走廊') && rendered.fire.includes('火警分区 7') && rendered.fire.includes('回路 2 · 地址 31'),
      'injected: a fire zone shows its place, zone, loop and address', rendered.fire);
    ok(rendered.tech.includes('线缆断开') && rendered.tech.includes('一层电表') && !/cable/.test(rendered.tech),
      'injected: a device offline says why in Chinese words', rendered.tech);
    ok(rendered.techEn.includes('cable cut') && rendered.bannerEn.includes('disk full') && rendered.roomEn === 'Room 102',
      'injected: ... and in English ("Room 102", never "Room 102室")', JSON.stringify([rendered.techEn, rendered.roomEn]));
    ok(rendered.bannerGone, 'injected: storage ok again hides the banner');
    ok(pages.every(({ page }) => page.consoleErrors.length === 0), 'no script errors',
      pages.flatMap(({ page }) => page.consoleErrors).join('\n'));
  } finally {
    await browser.close().catch(() => {});
    await daemon.stop('SIGTERM').catch(() => {});
    const bad = daemon.log().split('\n').filter((l) => /AddressSanitizer|runtime error/.test(l));
    ok(bad.length === 0, 'the daemon logged no sanitizer report', bad.join('\n'));
    if (process.env.KEEP_SCRATCH) note(`kept ${dir}`); else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  lib.ok(false, 'the contracts test ran to the end', e && e.stack);
  process.exit(1);
});
