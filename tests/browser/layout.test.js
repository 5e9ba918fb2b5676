/* web/display-layout.js on its own, under node (no browser): for every mix
 * of up to 60 calls on the wall, a tablet and a phone, the plan fits the
 * board or scrolls only when even the densest sizes do not; a band is never
 * bigger than a more important one; pinned rows stay within their share and
 * include the oldest emergencies; nothing is lost. */
'use strict';

const path = require('path');
const lib = require('./lib');
const L = require(path.join(lib.ROOT, 'web', 'display-layout.js'));

const { ok } = lib;
const BOARDS = [['board', 1888, 860], ['board', 1248, 600], ['list', 374, 650]];
const RANK = { xs: 0, s: 1, m: 2, l: 3, xl: 4 };

function ids(prefix, n) { return Array.from({ length: n }, (_, i) => `${prefix}${i}`); }
function height(mode, size, n, width) {
  const rows = Math.ceil(n / L.columns(mode, size, width));
  return rows ? rows * L.SIZES[mode][size].h + (rows - 1) * L.GAP[mode] : 0;
}

const failures = { fit: [], order: [], scroll: [], pin: [], lost: [] };
let plans = 0;
for (const [mode, width, boardH] of BOARDS) {
  for (let high = 0; high <= 12; high += 3) {
    for (let urgent = 0; urgent <= 15; urgent += 5) {
      for (let normal = 0; normal <= 40; normal += 4) {
        for (let handled = 0; handled <= 30; handled += 10) {
          const bands = { high: ids('h', high), urgent: ids('u', urgent), normal: ids('n', normal), handled: ids('d', handled) };
          const plan = L.plan(bands, width, boardH, mode);
          plans++;
          const key = `${mode} ${width}x${boardH} ${high}/${urgent}/${normal}/${handled}`;
          const present = L.BANDS.filter((b) => bands[b].length);
          const total = present.reduce((s, b) => s + height(mode, plan.size[b], bands[b].length, width), 0)
            + Math.max(0, present.length - 1) * L.GAP[mode];
          if (!plan.scroll && total > boardH) failures.fit.push(key);
          const densest = present.every((b) => plan.size[b] === L.LADDERS[mode][b][L.LADDERS[mode][b].length - 1]);
          if (plan.scroll && !densest) failures.scroll.push(key);
          for (let i = 1; i < present.length; i++) {
            if (RANK[plan.size[present[i]]] > RANK[plan.size[present[i - 1]]]) failures.order.push(`${key}: ${JSON.stringify(plan.size)}`);
          }
          if (high && (!plan.pinned.length || plan.pinned.some((id, i) => id !== `h${i}`))) failures.pin.push(key);
          const pinnedH = height(mode, plan.size.high, plan.pinned.length, width);
          if (plan.scroll && plan.pinned.length > L.columns(mode, plan.size.high, width) && pinnedH > (boardH - L.PAGER_H) * 0.7 + 1) failures.pin.push(`${key}: ${pinnedH}`);
          if (!plan.scroll && plan.pinned.length !== high) failures.lost.push(key);
        }
      }
    }
  }
}
ok(failures.fit.length === 0, `a board that does not scroll holds every card (${plans} plans)`, failures.fit.slice(0, 5).join('\n'));
ok(failures.scroll.length === 0, 'it scrolls only once every band is at its densest', failures.scroll.slice(0, 5).join('\n'));
ok(failures.order.length === 0, 'no band is bigger than a more important one (weight by priority in size)', failures.order.slice(0, 5).join('\n'));
ok(failures.pin.length === 0, 'the oldest emergencies are pinned, within their share of a scrolling board', failures.pin.slice(0, 5).join('\n'));
ok(failures.lost.length === 0, 'when everything fits, every emergency is pinned', failures.lost.slice(0, 5).join('\n'));

/* The cases of issue 14, on the wall. */
const wall = (b) => L.plan(b, 1888, 860, 'board');
let p = wall({ normal: ids('n', 18) });
ok(!p.scroll, `18 normal calls all fit on the wall at once (size ${p.size.normal}, ${p.cols.normal} columns)`);
p = wall({ high: ids('h', 6), urgent: ids('u', 14), normal: ids('n', 40) });
ok(p.scroll && p.pinned.length === 6 && RANK[p.size.high] > RANK[p.size.urgent] && RANK[p.size.urgent] > RANK[p.size.normal],
  `60 calls: the 6 emergencies pinned, bigger than urgent, bigger than normal (${JSON.stringify(p.size)})`);
p = L.plan({ high: ids('h', 6), urgent: ids('u', 14), normal: ids('n', 40) }, 1248, 600, 'board');
ok(p.pinned.length === 6, `... and on a 1280x800 tablet too (${p.pinned.length} pinned)`);
ok(L.bandOf({ priority: 'fire', state: 'attended' }) === 'high' && L.bandOf({ priority: 'urgent', state: 'raised' }) === 'urgent'
  && L.bandOf({ priority: 'normal', state: 'acknowledged' }) === 'handled', 'bands: fire and emergency whatever the state; the rest by acknowledgement');

process.exit(lib.doneTesting() ? 1 : 0);
