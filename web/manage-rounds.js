/* The manager page's rounds tab (巡查, GB 38600): each round of the site
 * (config rounds:) with the slot that runs now, room by room (checked when
 * and by whom, or not yet) and when it is due; the results of the last
 * week's rounds (complete, late, missed) from the journal; and, for a
 * manager, the rooms' QR codes to print and post in each room, made by the
 * gateway for the address this browser reaches it at. manage.js hands it
 * what the page shares and calls load() when the tab opens. */
'use strict';

const WGRounds = (() => {
  const t = WG.t;
  const esc = WG.escape;
  const DAY_MS = 86400000;

  WG.addStrings({
    zh: {
      'tab.rounds': '巡查',
      'rounds.none': '还没有设置巡查（配置文件的 rounds: 一节）',
      'rounds.head': '{zone} · {window} · 每 {every} 分钟一轮',
      'rounds.slot': '本轮 {from}–{to}，应在 {due} 前查完：已查 {done}/{planned} 间',
      'rounds.idle': '现在不在巡查时段',
      'rounds.checked': '{time} · {by}', 'rounds.missing': '未查',
      'rounds.recent': '最近 7 天的巡查', 'rounds.recent.none': '最近 7 天没有巡查结果',
      'rounds.col.slot': '轮次', 'rounds.col.zone': '区域', 'rounds.col.status': '结果', 'rounds.col.done': '已查/应查',
      'rounds.col.missing': '未查房间',
      'rounds.status.complete': '按时完成', 'rounds.status.late': '超时完成', 'rounds.status.missed': '漏查',
      'rounds.codes': '房间二维码', 'rounds.codes.show': '显示房间二维码', 'rounds.codes.print': '打印',
      'rounds.codes.hint': '打印后贴在每个房间门内。护理员用手机扫码即可签到，需要登录；只有在房间里扫码才能签到。',
      'rounds.codes.caption': '扫码签到巡查',
    },
    en: {
      'tab.rounds': 'Rounds',
      'rounds.none': 'No rounds are set up (the rounds: section of the configuration file)',
      'rounds.head': '{zone} · {window} · a round every {every} min',
      'rounds.slot': 'This round {from}–{to}, due by {due}: {done} of {planned} rooms checked',
      'rounds.idle': 'No round is due now',
      'rounds.checked': '{time} · {by}', 'rounds.missing': 'not yet',
      'rounds.recent': 'Rounds of the last 7 days', 'rounds.recent.none': 'No round results in the last 7 days',
      'rounds.col.slot': 'Round', 'rounds.col.zone': 'Zone', 'rounds.col.status': 'Result', 'rounds.col.done': 'Checked',
      'rounds.col.missing': 'Rooms missed',
      'rounds.status.complete': 'complete', 'rounds.status.late': 'late', 'rounds.status.missed': 'missed',
      'rounds.codes': 'Room codes', 'rounds.codes.show': 'Show the room codes', 'rounds.codes.print': 'Print',
      'rounds.codes.hint': 'Post each inside its room\'s door. Carers check in by scanning it with a phone, logged in; only a scan in the room checks in.',
      'rounds.codes.caption': 'Scan to check in',
    },
  });

  /* page: {call, reportFailure, can(role), meta()}. */
  function create(page) {
    const $ = (sel) => document.querySelector(sel);
    let rounds = [];
    let results = [];
    const hm = (ms) => WG.fmtTime(ms).slice(11, 16);
    const zoneName = (id) => {
      const zone = ((page.meta() || {}).zones || []).find((z) => z.id === id);
      return zone && zone.name ? zone.name : id;
    };

    function renderRounds() {
      $('#rounds-none').hidden = rounds.length > 0;
      $('#rounds-list').innerHTML = rounds.map((r) => {
        const head = `<h3>${esc(r.id)} <span class="sub">${esc(t('rounds.head', { zone: r.zone_name || r.zone, window: r.window, every: r.every_min }))}</span></h3>`;
        if (!r.slot) return `<section class="round" data-round="${esc(r.id)}">${head}<p class="muted">${esc(t('rounds.idle'))}</p></section>`;
        const s = r.slot;
        const overdue = s.done < s.planned && Date.now() >= s.due_ms;
        const rooms = s.rooms.map((x) => `<li class="${x.checked_ms ? 'checked' : 'missing'}" data-room="${esc(x.room)}">`
          + `<strong>${x.checked_ms ? '✓' : '✗'} ${esc(x.room_name || x.room)}</strong> `
          + `<span>${esc(x.checked_ms ? t('rounds.checked', { time: hm(x.checked_ms), by: x.by }) : t('rounds.missing'))}</span></li>`).join('');
        return `<section class="round" data-round="${esc(r.id)}">${head}`
          + `<p class="${overdue ? 'overdue' : ''}">${esc(t('rounds.slot', { from: hm(s.start_ms), to: hm(s.end_ms), due: hm(s.due_ms), done: s.done, planned: s.planned }))}</p>`
          + `<ul class="round-rooms">${rooms}</ul></section>`;
      }).join('');
    }

    function renderResults() {
      $('#round-results-empty').hidden = results.length > 0;
      $('#round-results').closest('.table-box').hidden = results.length === 0;
      $('#round-results tbody').innerHTML = results.map((e) => {
        const b = e.body || {};
        const missed = (b.rooms || []).filter((x) => !x.checked_ms).map((x) => x.room).join('、');
        return `<tr class="round-${esc(b.status)}"><td class="time">${esc(WG.fmtTime(b.slot_start_ms).slice(5, 16))}–${esc(hm(b.slot_end_ms))}</td>`
          + `<td>${esc(zoneName(b.zone))}</td><td class="status">${esc(WG.tOr(`rounds.status.${b.status}`, b.status || ''))}</td>`
          + `<td class="num">${esc(b.done)}/${esc(b.planned)}</td><td>${esc(missed || '–')}</td></tr>`;
      }).join('');
    }

    async function load() {
      const [status, history] = await Promise.all([
        page.call('GET', '/api/v1/rounds'),
        page.call('GET', `/api/v1/history?kind=round&from=${Date.now() - 7 * DAY_MS}&limit=200`),
      ]);
      if (status.status === 200 && status.data) rounds = status.data.rounds || [];
      else page.reportFailure(status);
      if (history.status === 200 && history.data) results = history.data.events || [];
      else page.reportFailure(history);
      renderRounds();
      renderResults();
      $('#round-codes-section').hidden = !page.can('manager') || rounds.length === 0;
    }

    async function showCodes() {
      const res = await page.call('GET', '/api/v1/rounds/rooms');
      if (res.status !== 200) { page.reportFailure(res); return false; }
      const origin = encodeURIComponent(location.origin);
      $('#round-codes').innerHTML = (res.data.rooms || []).map((r) => `<figure class="room-code" data-room="${esc(r.room)}">`
        + `<img src="/api/v1/rounds/qr/${encodeURIComponent(r.room)}?origin=${origin}" alt="${esc(r.room_name || r.room)}">`
        + `<figcaption><strong>${esc(r.room_name || r.room)}</strong> ${esc(r.zone_name || '')}<br>${esc(t('rounds.codes.caption'))}</figcaption></figure>`).join('');
      $('#round-codes').hidden = false;
      $('#round-codes-print').hidden = false;
      return true;
    }

    async function printCodes() {
      if ($('#round-codes').hidden && !(await showCodes())) return;
      const images = Array.from(document.querySelectorAll('#round-codes img'));
      await Promise.all(images.map((img) => (img.complete ? null : new Promise((r) => { img.onload = r; img.onerror = r; }))));
      document.body.classList.add('printing-codes');
      window.print();
      document.body.classList.remove('printing-codes');
    }

    return {
      wire() {
        $('#round-codes-show').addEventListener('click', showCodes);
        $('#round-codes-print').addEventListener('click', printCodes);
      },
      load,
      retranslate() { renderRounds(); renderResults(); },
    };
  }

  return { create };
})();
