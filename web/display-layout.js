/* How the station display sizes its calls: arithmetic only, no DOM (the
 * browser tests also run it under node).
 *
 * Calls come in bands, in this order:
 *   high     fire and emergency, whatever their state
 *   urgent   urgent, not acknowledged
 *   normal   normal, not acknowledged
 *   handled  urgent and normal that someone acknowledged or attends
 * Each band is a grid of equal cards. A card size fixes its height and the
 * narrowest it may be, so the columns follow from the board's width. Every
 * band starts at its most generous size; while the bands are taller than the
 * board, the least important band that still can gives up one size (handled
 * first, the high band last), so weight follows priority in size as well as
 * in colour.
 *
 * When even the densest sizes do not fit, the board scrolls: the first rows
 * of the high band stay on screen (pinned, at most PIN_SHARE of the board)
 * and the rest scrolls under them, above a bar that counts what is out of
 * view. Two sets of sizes: `board` (the wall display and tablets) and `list`
 * (phones: one card a row). */
'use strict';

const WGLayout = (() => {
  /* Card geometry in CSS px: height, and the narrowest a card may be. The
   * type inside each size is in display.css (.size-xl ...). */
  const SIZES = {
    board: {
      xl: { h: 164, minW: 1000 },
      l: { h: 128, minW: 820 },
      m: { h: 104, minW: 600 },
      s: { h: 86, minW: 440 },
      xs: { h: 72, minW: 360 },
    },
    list: {
      l: { h: 116, minW: 300 },
      m: { h: 92, minW: 300 },
      s: { h: 80, minW: 300 },
    },
  };
  /* Each band's sizes, from the most generous to the densest. */
  const LADDERS = {
    board: { high: ['xl', 'l', 'm'], urgent: ['l', 'm', 's'], normal: ['l', 'm', 's', 'xs'], handled: ['m', 's', 'xs'] },
    list: { high: ['l'], urgent: ['m'], normal: ['m', 's'], handled: ['s'] },
  };
  const BANDS = ['high', 'urgent', 'normal', 'handled'];
  const SHRINK_ORDER = ['handled', 'normal', 'urgent', 'high'];
  const GAP = { board: 12, list: 8 };  /* between cards, rows and bands */
  const PAGER_H = 64;                  /* the out-of-view bar, with its gap */
  const PIN_SHARE = 0.7;               /* pinned rows take at most this much of a scrolling board */

  /* The band of a call (technical and advisory alarms have none). */
  function bandOf(a) {
    if (a.priority === 'fire' || a.priority === 'emergency') return 'high';
    if (a.state === 'raised') return a.priority === 'urgent' ? 'urgent' : 'normal';
    return 'handled';
  }

  function columns(mode, size, width) {
    const gap = GAP[mode];
    return Math.max(1, Math.floor((width + gap) / (SIZES[mode][size].minW + gap)));
  }
  function rowsHeight(mode, size, rows) {
    return rows > 0 ? rows * SIZES[mode][size].h + (rows - 1) * GAP[mode] : 0;
  }
  function bandHeight(mode, size, count, width) {
    return rowsHeight(mode, size, Math.ceil(count / columns(mode, size, width)));
  }
  function totalHeight(mode, counts, size, width) {
    const present = BANDS.filter((b) => counts[b] > 0);
    return present.reduce((sum, b) => sum + bandHeight(mode, size[b], counts[b], width), 0)
      + Math.max(0, present.length - 1) * GAP[mode];
  }

  /* bands: {band: [id, ...]} each in display order; width, height: the
   * board in CSS px; mode: 'board' or 'list'. Returns
   *   {scroll, size: {band: size}, cols: {band: n}, height: {band: px},
   *    pinned: [ids of the high band kept on screen], gap}
   * With scroll false everything fits and every high call is pinned. */
  function plan(bands, width, height, mode) {
    const ladder = LADDERS[mode];
    const counts = {};
    const level = {};
    for (const b of BANDS) { counts[b] = (bands[b] || []).length; level[b] = 0; }
    const sizeNow = () => Object.fromEntries(BANDS.map((b) => [b, ladder[b][level[b]]]));
    const canShrink = (b) => counts[b] > 0 && level[b] < ladder[b].length - 1;
    while (totalHeight(mode, counts, sizeNow(), width) > height) {
      const b = SHRINK_ORDER.find(canShrink);
      if (!b) break;
      level[b]++;
    }
    const size = sizeNow();
    const cols = {};
    const bandPx = {};
    for (const b of BANDS) {
      cols[b] = columns(mode, size[b], width);
      bandPx[b] = bandHeight(mode, size[b], counts[b], width);
    }
    const high = bands.high || [];
    if (totalHeight(mode, counts, size, width) <= height) {
      return { scroll: false, size, cols, height: bandPx, pinned: [...high], gap: GAP[mode] };
    }
    /* Scrolling: pin whole rows of the high band, at least one. */
    const rowH = SIZES[mode][size.high].h + GAP[mode];
    const pinRows = Math.max(1, Math.floor(((height - PAGER_H) * PIN_SHARE + GAP[mode]) / rowH));
    return { scroll: true, size, cols, height: bandPx, pinned: high.slice(0, pinRows * cols.high), gap: GAP[mode] };
  }

  return { SIZES, LADDERS, BANDS, GAP, PAGER_H, bandOf, columns, plan };
})();

if (typeof module !== 'undefined') module.exports = WGLayout;
