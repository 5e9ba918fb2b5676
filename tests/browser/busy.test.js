/* A busy night on the station display, against a real wardgated on a busy
 * floor (lib.js writeBusyConfig: 80 sim devices driven through the control
 * FIFO). At each screen size, 1920x1080 (the wall), 1280x800 (a tablet) and
 * 390x844 (a carer's phone), 60 calls of mixed priority are raised: 6 pull
 * cords (emergency), 14 restless residents (urgent), 40 call buttons
 * (normal). Then, as a nurse would:
 *   - every emergency is on screen, at its full size (no more than 6 at
 *     1280x800 and up: the phone pins what fits);
 *   - what is out of view is counted right, with its longest wait, by the
 *     bar under the board (checked against the cards' geometry and the API);
 *   - no card overlaps another, none is cut across its width;
 *   - every one of the 60 calls is acknowledged by clicking its own button,
 *     brought into view with the page's own "next screen" button;
 *   - then the calls are reset at their origin (cords, presence at the doors).
 * Takes about 3 minutes on a loaded 2-core machine (sizes from
 * WG_BUSY_SIZES, e.g. "390x844", to run fewer). */
'use strict';

const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const SIZES = (process.env.WG_BUSY_SIZES || '1920x1080,1280x800,390x844').split(',')
  .map((s) => s.split('x').map(Number));
const WAIT = 20000;
const STABLE_MS = 600; /* the page ignores presses on a card that moved within 450 ms */

/* What the page shows, measured: cards fully visible or not, the bar. */
function measure() {
  const scroller = document.getElementById('calls');
  const box = scroller.getBoundingClientRect();
  const inView = (r) => r.height > 0 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
  const cards = [...document.querySelectorAll('#calls-pinned .call, #calls .call')].map((node) => {
    const r = node.getBoundingClientRect();
    const pinned = !!node.closest('#calls-pinned');
    const ack = node.querySelector('button.ack');
    const ackBox = ack && ack.getBoundingClientRect();
    const room = node.querySelector('.room');
    return {
      id: node.dataset.alarmId, priority: node.dataset.priority, state: node.dataset.state, pinned,
      visible: pinned ? r.top >= 0 && r.bottom <= innerHeight && r.height > 0 : inView(r),
      rect: { left: r.left, top: r.top, right: r.right, bottom: r.bottom },
      ackInside: !ackBox || (ackBox.left >= r.left - 1 && ackBox.right <= r.right + 1 && ackBox.top >= r.top - 1 && ackBox.bottom <= r.bottom + 1),
      roomPx: parseFloat(getComputedStyle(room).fontSize),
      roomCut: room.scrollWidth > room.clientWidth + 1,
      size: [...node.classList].find((c) => c.startsWith('size-')),
    };
  });
  const bar = document.getElementById('offscreen');
  return {
    cards,
    bar: { shown: !bar.classList.contains('hidden'), count: Number(bar.dataset.count || 0),
      oldest: Number(bar.dataset.oldestMs || 0), text: bar.querySelector('.off-text').textContent },
    clock: Date.now(),
  };
}

function overlaps(cards) {
  const bad = [];
  const shown = cards.filter((c) => c.visible);
  for (let i = 0; i < shown.length; i++) {
    for (let j = i + 1; j < shown.length; j++) {
      const a = shown[i].rect;
      const b = shown[j].rect;
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) bad.push(`${shown[i].id}/${shown[j].id}`);
    }
  }
  return bad;
}

async function main() {
  const dir = lib.scratchDir('busy');
  const port = await lib.freePort();
  const fifo = path.join(dir, 'sim.fifo');
  const facility = lib.writeBusyConfig(dir, port, fifo);
  const db = path.join(dir, 'wardgate.db');
  lib.addUser(facility.file, db, 'nurse1', 'nurse', 'nurse-pass-12');
  const daemon = new lib.Daemon(facility.file, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  const send = lib.fifoWriter(fifo);
  note(`wardgated on ${daemon.url}, scratch ${dir}`);
  /* The calls in a mixed order: priorities interleaved, as a night goes. */
  const order = facility.calls.map((c, i) => facility.calls[(i * 17) % facility.calls.length]);
  const browser = await lib.launchBrowser();
  try {
    for (const [width, height] of SIZES) {
      const tag = `${width}x${height}`;
      const page = await lib.newPage(browser, null, { width, height });
      const api = async () => (await page.evaluate(() => fetch('/api/v1/alarms').then((r) => r.json()))).alarms;
      await lib.login(page, daemon.url, 'nurse1', 'nurse-pass-12', '/');
      await page.waitForSelector('body:not(.connecting)', { timeout: WAIT });

      /* ---- 60 calls ---- */
      let t0 = Date.now();
      for (const c of order) send(`${c.device} ${c.point} ${c.value}`);
      await page.waitForFunction(() => document.querySelectorAll('.call').length === 60, null, { timeout: 30000 });
      note(`${tag}: 60 calls raised through the FIFO and on the page in ${Date.now() - t0} ms`);
      let alarms = await api();
      ok(alarms.length === 60 && alarms.filter((a) => a.priority === 'emergency').length === 6
        && alarms.filter((a) => a.priority === 'urgent').length === 14, `${tag}: 60 calls active (6 emergency, 14 urgent, 40 normal)`,
      JSON.stringify(alarms.map((a) => a.priority)));
      await lib.sleep(1200); /* a second tick: the elapsed times move */
      await lib.screenshot(page, `busy-${tag}-60-raised`);

      const checkView = async (when) => {
        const m = await page.evaluate(measure);
        const byId = new Map((await api()).map((a) => [a.id, a]));
        const hidden = m.cards.filter((c) => !c.visible);
        const emergencies = m.cards.filter((c) => c.priority === 'emergency');
        if (width >= 1280) {
          ok(emergencies.length > 0 && emergencies.every((c) => c.visible && c.pinned && /size-(xl|l|m)/.test(c.size)),
            `${tag} ${when}: every emergency stays on screen at full size`, JSON.stringify(emergencies));
        } else {
          ok(emergencies.filter((c) => c.pinned).every((c) => c.visible) && emergencies.some((c) => c.pinned),
            `${tag} ${when}: the first emergencies are pinned on screen`, JSON.stringify(emergencies));
        }
        ok(m.bar.shown === hidden.length > 0 && m.bar.count === hidden.length,
          `${tag} ${when}: the bar counts the ${hidden.length} calls out of view (${m.bar.count})`, m.bar.text);
        if (hidden.length) {
          const oldest = Math.min(...hidden.map((c) => byId.get(c.id).raised_ms));
          ok(m.bar.oldest === oldest, `${tag} ${when}: ... with the longest wait among them`, `${m.bar.oldest} vs ${oldest}`);
          const elapsed = (ms) => { const s = Math.floor(ms / 1000); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`; };
          const near = [-1000, 0, 1000].map((d) => elapsed(m.clock - oldest + d));
          ok(near.some((e) => m.bar.text.includes(e)) && m.bar.text.includes(String(hidden.length)),
            `${tag} ${when}: ... which it says in words: "${m.bar.text}"`);
          const unack = hidden.filter((c) => c.state === 'raised').length;
          ok(unack === 0 || m.bar.text.includes(String(unack)), `${tag} ${when}: ... and how many of them nobody acknowledged (${unack})`, m.bar.text);
        }
        const bad = overlaps(m.cards);
        ok(bad.length === 0, `${tag} ${when}: no two cards overlap`, bad.join(' '));
        const visible = m.cards.filter((c) => c.visible);
        ok(visible.every((c) => c.ackInside && !c.roomCut), `${tag} ${when}: every card on screen shows its room whole and its button inside`,
          JSON.stringify(visible.filter((c) => !c.ackInside || c.roomCut)));
        const minRoom = Math.min(...visible.map((c) => c.roomPx));
        ok(minRoom >= (width >= 1280 ? 32 : 28), `${tag} ${when}: room numbers on screen are at least ${minRoom} px`);
        return m;
      };
      await checkView('with 60 calls');

      /* ---- the wall turns to the next screen by itself, round to the top ---- */
      if (width >= 1280) {
        const shown = async () => (await page.evaluate(measure)).cards.filter((c) => c.visible && !c.pinned).map((c) => c.id);
        const seen = new Set(await shown());
        let turnsToTop = 0;
        do {
          await page.evaluate(() => window.WGDisplay.turnScreen());
          await lib.sleep(100);
          (await shown()).forEach((id) => seen.add(id));
          turnsToTop++;
        } while (turnsToTop < 30 && await page.evaluate(() => document.getElementById('calls').scrollTop) > 0);
        const all = (await page.evaluate(measure)).cards.filter((c) => !c.pinned).length;
        ok(seen.size === all, `${tag}: turning screen by screen shows every call once round (${seen.size} of ${all} in ${turnsToTop} turns), then the top again`);
        await checkView('turned round');
      }

      /* ---- the call furthest out of view, reached with the page's own
       * "next screen" button and acknowledged first ---- */
      const farthest = (await page.evaluate(measure)).cards.filter((c) => !c.visible && c.state === 'raised').pop();
      let turns = 0;
      if (farthest) {
        const inView = () => page.evaluate(measure).then((m) => m.cards.find((c) => c.id === farthest.id).visible);
        while (!(await inView()) && turns < 30) {
          await page.locator('#scroll-down').click();
          turns++;
          await lib.sleep(100);
        }
        ok(await inView(), `${tag}: the last call out of view comes into view after ${turns} presses of "next screen"`);
        await lib.sleep(STABLE_MS);
        await lib.screenshot(page, `busy-${tag}-60-scrolled`);
        await page.locator(`.call[data-alarm-id="${farthest.id}"] button.ack`).click();
        await page.waitForSelector(`.call[data-alarm-id="${farthest.id}"][data-state="acknowledged"]`, { timeout: WAIT });
        ok(true, `${tag}: ... and is acknowledged there`);
        await checkView('scrolled down');
      } else {
        ok(false, `${tag}: with 60 calls some are out of view to reach by scrolling`);
      }

      /* ---- every call acknowledged from the page ---- */
      t0 = Date.now();
      let clicks = 1;
      let screens = 0;
      let direction = 1;
      let refused = 0;
      for (let guard = 0; guard < 400; guard++) {
        const raised = (await api()).filter((a) => a.state === 'raised');
        if (!raised.length) break;
        /* A button fully in view on a card that has not moved lately: the
         * last one, so that the cards before it stay where they are. */
        const target = await page.evaluate((stableMs) => {
          const scroller = document.getElementById('calls').getBoundingClientRect();
          const buttons = [...document.querySelectorAll('#calls-pinned button.ack, #calls button.ack')].filter((b) => {
            const r = b.getBoundingClientRect();
            const card = b.closest('.call');
            const pinned = !!b.closest('#calls-pinned');
            const inView = pinned ? r.top >= 0 && r.bottom <= innerHeight : r.top >= scroller.top && r.bottom <= scroller.bottom;
            return inView && !b.disabled && r.height > 0 && Date.now() - Number(card.dataset.movedAt || 0) > stableMs;
          });
          const pick = buttons.pop();
          return pick ? pick.closest('.call').dataset.alarmId : null;
        }, STABLE_MS);
        if (!target) {
          const anyInView = await page.evaluate(() => [...document.querySelectorAll('#calls-pinned button.ack, #calls button.ack')].some((b) => {
            const r = b.getBoundingClientRect();
            const box = document.getElementById('calls').getBoundingClientRect();
            return b.closest('#calls-pinned') || (r.top >= box.top && r.bottom <= box.bottom);
          }));
          if (!anyInView) {
            /* Nothing to press here: the next screen, or back up, as a nurse would. */
            let button = page.locator(direction > 0 ? '#scroll-down' : '#scroll-up');
            if (!(await button.isVisible()) || !(await button.isEnabled())) {
              direction = -direction; /* the end of the board: turn back */
              button = page.locator(direction > 0 ? '#scroll-down' : '#scroll-up');
            }
            await button.click({ timeout: 2000 }).then(() => { screens++; }).catch(() => {});
          }
          await lib.sleep(150);
          continue;
        }
        await page.locator(`.call[data-alarm-id="${target}"] button.ack`).click();
        clicks++;
        const done = await page.waitForFunction((id) => {
          const card = document.querySelector(`.call[data-alarm-id="${id}"]`);
          return card && (card.dataset.state !== 'raised' || card.querySelector('.ack-error')) ? card.dataset.state : null;
        }, target, { timeout: WAIT }).then((h) => h.jsonValue()).catch(() => 'timeout');
        if (done === 'raised') {
          refused++;
          note(`${tag}: press refused: ${await page.locator(`.call[data-alarm-id="${target}"] .ack-error`).textContent().catch(() => '?')}`);
          await lib.sleep(STABLE_MS);
        }
      }
      alarms = await api();
      const acked = alarms.filter((a) => a.state === 'acknowledged' && a.acknowledged_by === 'nurse1').length;
      note(`${tag}: ${clicks} presses, ${screens} screens turned, ${refused} refused, in ${Date.now() - t0} ms`);
      ok(acked === 60, `${tag}: all 60 calls acknowledged by nurse1 from the page (${acked})`);
      ok(clicks === 60 + refused, `${tag}: one press per call (${clicks} presses, ${refused} refused as the card had just moved)`);
      const errors = await page.locator('.ack-error').allTextContents();
      ok(errors.every((e) => /移动/.test(e)), 'no acknowledgement failed', errors.join(' | '));
      ok(await page.evaluate(() => window.WGDisplay.connectEvents.filter((e) => e.what === 'lost').length) === 0,
        `${tag}: the connection stayed up through 60 acknowledgements (the page keeps within the socket's frame limit)`);
      await page.evaluate(() => { const s = document.getElementById('calls'); s.scrollTop = 0; });
      await lib.sleep(300);
      await checkView('all acknowledged');
      await lib.screenshot(page, `busy-${tag}-60-acknowledged`);

      /* ---- reset at the origin ---- */
      for (const c of facility.calls) {
        /* A quiet resident (10: in range; 0 would read as an empty bed, which
         * does not end the alarm, and the sim empties beds in the daytime). */
        if (c.point === 'movement') send(`${c.device} movement 10`);
        else send(`${c.device} ${c.point} 0`);
      }
      for (const room of facility.rooms) send(`presence-${room} presence 1`);
      await page.waitForFunction(() => [...document.querySelectorAll('.call')].every((c) => c.dataset.state === 'attended'),
        null, { timeout: 30000 });
      for (const room of facility.rooms) send(`presence-${room} presence 0`);
      await page.waitForFunction(() => document.querySelectorAll('.call').length === 0, null, { timeout: 30000 }).catch(async (e) => {
        note(`left on the board: ${JSON.stringify((await api()).map((a) => [a.kind, a.room, a.state, a.condition_active]))}`);
        note(daemon.log().split('\n').filter((l) => /reset|refus/i.test(l)).slice(-15).join('\n# '));
        throw e;
      });
      ok((await api()).length === 0, `${tag}: the calls reset at their origin leave the board`);
      ok(page.consoleErrors.length === 0, `${tag}: no script errors`, page.consoleErrors.join('\n'));
      await page.context().close();
    }
  } finally {
    await browser.close().catch(() => {});
    await daemon.stop('SIGTERM').catch(() => {});
    const bad = daemon.log().split('\n').filter((l) => /AddressSanitizer|runtime error|\bcrit\b/.test(l));
    ok(bad.length === 0, 'the daemon logged no crash or sanitizer report', bad.join('\n'));
    require('fs').rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  lib.ok(false, 'the busy-night test ran to the end', e && e.stack);
  process.exit(1);
});
