/* The response report's durations, charts and export, for manage.js:
 * durations in words down to tenths of a second; the paging split (per
 * shift: notified, accepted, reset; a table per carer and per room); the
 * figures of each day of
 * the window (one /api/v1/report/response request per day, in the site's
 * time zone); two charts drawn by uPlot (web/vendor/uplot, served by the
 * daemon: no CDN) of calls per day and response times per day against the
 * long-wait limit; and the whole report as a CSV file with a UTF-8 BOM (so
 * Excel on a Chinese Windows reads it right). */
'use strict';

const WGReport = (() => {
  const t = WG.t;
  const DAY_MS = 86400000;
  const PARALLEL = 3;

  WG.addStrings({
    zh: {
      'dur.tenths': '{s}秒', 'dur.s': '{s}秒', 'dur.ms': '{m}分{s}秒', 'dur.hm': '{h}小时{m}分',
      'chart.counts': '每日呼叫与报警', 'chart.times': '每日响应时间（分钟）', 'chart.raised': '发出',
      'chart.long': '超时', 'chart.ack_p50': '确认 P50', 'chart.ack_p90': '确认 P90', 'chart.attend_p50': '到场 P50',
      'chart.attend_p90': '到场 P90', 'chart.limit': '{min} 分钟限值', 'chart.loading': '正在计算每日数据…',
      'chart.failed': '每日数据未能读取（{error}），图表不完整', 'chart.none': '这段时间没有呼叫或报警',
      'chart.counts_alt': '{from} 至 {to} 每日发出的呼叫与报警，共 {raised} 个，其中超时 {long} 个',
      'chart.times_alt': '{from} 至 {to} 每日确认与到场时间的 P50 和 P90，以分钟计，{min} 分钟为限值',
      'chart.date': '{m}月{d}日',
      'csv.title': 'wardgate 响应时间报告', 'csv.window': '{from} 至 {to}', 'csv.day': '日期', 'csv.seconds': '（秒）',
      'csv.place': '位置', 'csv.resident': '住户',
      'split.paging_title': '通知到手机：接受、到场与复位', 'split.paging_note': '“通知→接受”从第一次通知手机算起到有人接受；“接受→到场”从接受到有人到场；“复位”从发出算起。',
      'split.paged': '已通知手机', 'split.accepted': '已接受', 'split.accept_p50': '通知→接受 P50', 'split.accept_p90': '通知→接受 P90',
      'split.accept_attend_p50': '接受→到场 P50', 'split.accept_attend_p90': '接受→到场 P90', 'split.reset_p50': '复位 P50', 'split.reset_p90': '复位 P90',
      'split.carers_title': '每位护理人员', 'split.carer': '姓名', 'split.own_accept_p50': '本人通知→接受 P50', 'split.own_accept_p90': '本人通知→接受 P90',
      'split.paged_to': '收到通知', 'split.declined': '拒绝', 'split.not_reached': '未送达', 'split.timed_out': '超时未接受',
      'split.no_carers': '这段时间没有呼叫通知到手机', 'split.rooms_title': '每个房间', 'split.room': '房间', 'split.no_rooms': '这段时间没有呼叫或报警',
      'split.no_room': '未指定房间', 'split.carer_name': '{name}（{user}）', 'split.count': '（{n}）',
      'split.carers_truncated': '（只列出接受最多的 {n} 位）', 'split.rooms_truncated': '（只列出呼叫最多的 {n} 个房间）',
    },
    en: {
      'dur.tenths': '{s} s', 'dur.s': '{s} s', 'dur.ms': '{m} min {s} s', 'dur.hm': '{h} h {m} min',
      'chart.counts': 'Calls and alarms per day', 'chart.times': 'Response times per day (minutes)', 'chart.raised': 'Raised',
      'chart.long': 'Long waits', 'chart.ack_p50': 'Ack p50', 'chart.ack_p90': 'Ack p90', 'chart.attend_p50': 'Attend p50',
      'chart.attend_p90': 'Attend p90', 'chart.limit': '{min}-minute limit', 'chart.loading': 'Working out the figures per day…',
      'chart.failed': 'The figures per day could not be read ({error}); the charts are incomplete', 'chart.none': 'No calls or alarms in this window',
      'chart.counts_alt': 'Calls and alarms raised per day from {from} to {to}: {raised} in all, {long} long waits',
      'chart.times_alt': 'p50 and p90 of acknowledge and attend times per day from {from} to {to}, in minutes, against the {min}-minute limit',
      'chart.date': '{mon} {d}',
      'csv.title': 'wardgate response report', 'csv.window': '{from} to {to}', 'csv.day': 'Date', 'csv.seconds': ' (s)',
      'csv.place': 'Place', 'csv.resident': 'Resident',
      'split.paging_title': 'Paged to phones: accepted, attended, reset', 'split.paging_note': '"Notified → accepted" runs from the first phone notified to the acceptance; "accepted → attended" from the acceptance to someone in the room; "reset" from the raise.',
      'split.paged': 'Paged', 'split.accepted': 'Accepted', 'split.accept_p50': 'Notified → accepted p50', 'split.accept_p90': 'Notified → accepted p90',
      'split.accept_attend_p50': 'Accepted → attended p50', 'split.accept_attend_p90': 'Accepted → attended p90', 'split.reset_p50': 'Reset p50', 'split.reset_p90': 'Reset p90',
      'split.carers_title': 'Per carer', 'split.carer': 'Name', 'split.own_accept_p50': 'Own page → accepted p50', 'split.own_accept_p90': 'Own page → accepted p90',
      'split.paged_to': 'Pages received', 'split.declined': 'Declined', 'split.not_reached': 'Not reached', 'split.timed_out': 'Not accepted in time',
      'split.no_carers': 'No calls were paged to phones in this window', 'split.rooms_title': 'Per room', 'split.room': 'Room', 'split.no_rooms': 'No calls or alarms in this window',
      'split.no_room': 'No room', 'split.carer_name': '{name} ({user})', 'split.count': '({n})',
      'split.carers_truncated': '(only the {n} who accepted most)', 'split.rooms_truncated': '(only the {n} rooms with the most calls)',
    },
  });

  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n) => String(n).padStart(2, '0');

  /* 0.4 秒, 42 秒, 4 分 07 秒, 1 小时 02 分; '–' for none. */
  function duration(s) {
    if (s === null || s === undefined || typeof s !== 'number' || !Number.isFinite(s) || s < 0) return '–';
    if (s < 9.95) return t('dur.tenths', { s: (Math.round(s * 10) / 10).toFixed(1) });
    const total = Math.round(s);
    if (total < 60) return t('dur.s', { s: total });
    if (total < 3600) return t('dur.ms', { m: Math.floor(total / 60), s: pad(total % 60) });
    return t('dur.hm', { h: Math.floor(total / 3600), m: pad(Math.floor((total % 3600) / 60)) });
  }

  function dayLabel(ms) {
    const p = WG.wallParts(ms);
    return t('chart.date', { m: p.month, d: p.day, mon: MONTHS[p.month - 1] });
  }
  function dateText(ms) {
    const p = WG.wallParts(ms);
    return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
  }

  /* The days of [fromMs, toMs) in the site's zone: [{start, end, label}],
   * the first and last cut to the window. */
  function days(fromMs, toMs) {
    const list = [];
    const p = WG.wallParts(fromMs);
    let midnight = WG.wallToMs(p.year, p.month, p.day);
    for (let guard = 0; midnight < toMs && guard < 400; guard++) {
      const q = WG.wallParts(midnight + DAY_MS + 3 * 3600000); /* past a DST change: still the next day */
      const next = WG.wallToMs(q.year, q.month, q.day);
      list.push({ midnight, start: Math.max(midnight, fromMs), end: Math.min(next, toMs) });
      midnight = next;
    }
    return list.filter((d) => d.end > d.start);
  }

  /* The figures of each day: fetchDay(from, to) resolves to a report's
   * `overall` or throws. Resolves to [{...day, figures}]. */
  async function loadDays(fromMs, toMs, fetchDay) {
    const list = days(fromMs, toMs);
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const day = list[next++];
        day.figures = await fetchDay(day.start, day.end);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, list.length) }, worker));
    return list;
  }

  /* ---- charts ---- */
  const charts = new Map(); /* element id -> uPlot */
  let resizeObserver = null;

  function destroyCharts() {
    charts.forEach((u) => u.destroy());
    charts.clear();
  }

  function plotWidth(el) { return Math.max(260, Math.floor(el.getBoundingClientRect().width)); }

  /* Ticks on whole days only (1, 2, 7, 14, 28 days apart), named in words. */
  function xAxis() {
    return {
      stroke: '#1d2430', grid: { stroke: '#e3e7ee' }, ticks: { stroke: '#c9d0da' },
      space: 64, incrs: [1, 2, 7, 14, 28].map((n) => n * 86400),
      values: (u, splits) => splits.map((s) => dayLabel(s * 1000)),
    };
  }
  function yAxis() {
    return { stroke: '#1d2430', grid: { stroke: '#e3e7ee' }, ticks: { stroke: '#c9d0da' }, size: 44 };
  }

  function draw(id, opts, data, alt) {
    const el = document.getElementById(id);
    if (!el || typeof uPlot !== 'function') return;
    el.innerHTML = '';
    const u = new uPlot({ width: plotWidth(el), height: 240, ...opts }, data, el);
    u.ctx.canvas.setAttribute('role', 'img');
    u.ctx.canvas.setAttribute('aria-label', alt);
    el.setAttribute('aria-label', alt);
    charts.set(id, u);
  }

  /* Draws both charts from the days with figures; limitS is the long-wait
   * limit in seconds. */
  function drawCharts(list, limitS) {
    destroyCharts();
    const withFigures = list.filter((d) => d.figures);
    if (!withFigures.length) return;
    const xs = withFigures.map((d) => d.midnight / 1000);
    const f = (key, scale = 1) => withFigures.map((d) => {
      const v = d.figures[key];
      return typeof v === 'number' && v >= 0 ? v / scale : null;
    });
    const zone = WG.timeZone();
    const tzDate = zone ? (ts) => uPlot.tzDate(new Date(ts * 1000), zone) : undefined;
    const from = dayLabel(withFigures[0].midnight);
    const to = dayLabel(withFigures[withFigures.length - 1].midnight);
    const sum = (key) => withFigures.reduce((n, d) => n + (d.figures[key] || 0), 0);
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 48] }) : undefined;
    const minutes = Math.round(limitS / 60);
    /* Half a day of room each side, so the first and last bars show whole. */
    const xRange = () => [xs[0] - 43200, xs[xs.length - 1] + 43200];
    const common = {
      tzDate, scales: { x: { time: true, range: xRange } }, cursor: { drag: { x: false, y: false } }, legend: { live: false },
    };
    const day = { label: t('csv.day') };

    draw('chart-counts', {
      ...common,
      axes: [xAxis(), yAxis()],
      scales: { ...common.scales, y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
      series: [
        day,
        { label: t('chart.raised'), stroke: '#1f5fbf', fill: 'rgba(31, 95, 191, .35)', paths: bars, points: { show: false } },
        { label: t('chart.long'), stroke: '#c62828', width: 2, points: { show: true, size: 7, fill: '#c62828' } },
      ],
    }, [xs, f('raised'), f('long_waits')], t('chart.counts_alt', { from, to, raised: sum('raised'), long: sum('long_waits') }));

    draw('chart-times', {
      ...common,
      axes: [xAxis(), yAxis()],
      scales: { ...common.scales, y: { range: (u, min, max) => [0, Math.max(minutes * 1.2, (max || 0) * 1.1)] } },
      series: [
        day,
        { label: t('chart.ack_p50'), stroke: '#1f5fbf', width: 2, points: { show: true, size: 6 } },
        { label: t('chart.ack_p90'), stroke: '#1f5fbf', width: 2, dash: [6, 4], points: { show: true, size: 6 } },
        { label: t('chart.attend_p50'), stroke: '#1e7b34', width: 2, points: { show: true, size: 6 } },
        { label: t('chart.attend_p90'), stroke: '#1e7b34', width: 2, dash: [6, 4], points: { show: true, size: 6 } },
        { label: t('chart.limit', { min: minutes }), stroke: '#c62828', width: 2, dash: [2, 4], points: { show: false } },
      ],
    }, [xs, f('ack_p50_s', 60), f('ack_p90_s', 60), f('attend_p50_s', 60), f('attend_p90_s', 60), xs.map(() => limitS / 60)],
    t('chart.times_alt', { from, to, min: minutes }));

    if (!resizeObserver && typeof ResizeObserver === 'function') {
      resizeObserver = new ResizeObserver(() => {
        charts.forEach((u, id) => {
          const el = document.getElementById(id);
          const width = el ? plotWidth(el) : 0;
          if (width && Math.abs(width - u.width) > 2) u.setSize({ width, height: 240 });
        });
      });
      ['chart-counts-box', 'chart-times-box'].forEach((id) => { const el = document.getElementById(id); if (el) resizeObserver.observe(el); });
    }
  }

  /* ---- the paging split ---- */

  const count = (v) => (typeof v === 'number' ? v : 0);
  const cell = (s, limit, attrs = '') => `<td${typeof s === 'number' && limit > 0 && s > limit ? ' class="late"' : ''}${attrs}>${WG.escape(duration(s))}</td>`;
  function carerName(c) {
    return c.name && c.name !== c.user ? t('split.carer_name', { name: c.name, user: c.user }) : c.user || '';
  }

  /* Fills the paging table per shift and the per-carer and per-room
   * tables. names: {shift(name), room(id)}. */
  function renderSplit(report, names) {
    const esc = WG.escape;
    const $ = (sel) => document.querySelector(sel);
    const limit = typeof report.long_wait_s === 'number' ? report.long_wait_s : 900;
    const shifts = (Array.isArray(report.shifts) ? report.shifts : []).map((s) => [s.name, s, 'shift']);
    if (report.overall) shifts.push(['all', report.overall, 'overall']);
    $('#report-paging-table tbody').innerHTML = shifts.map(([name, f, cls]) => `<tr class="${cls}" data-shift="${esc(name)}">`
      + `<td>${esc(names.shift(name))}</td><td>${esc(count(f.raised))}</td><td>${esc(count(f.paged))}</td><td>${esc(count(f.accepted))}</td>`
      + `${cell(f.accept_p50_s, 0, ` data-s="${esc(f.accept_p50_s)}"`)}${cell(f.accept_p90_s, 0)}`
      + `${cell(f.accept_attend_p50_s, 0)}${cell(f.accept_attend_p90_s, 0)}${cell(f.reset_p50_s, 0)}${cell(f.reset_p90_s, 0)}</tr>`).join('');

    const carers = Array.isArray(report.carers) ? report.carers : [];
    $('#report-carers tbody').innerHTML = carers.map((c) => `<tr data-user="${esc(c.user)}"><td>${esc(carerName(c))}</td>`
      + `<td>${esc(count(c.accepted))}</td>${cell(c.accept_p50_s, 0, ` data-s="${esc(c.accept_p50_s)}"`)}${cell(c.accept_p90_s, 0)}`
      + `${cell(c.accept_attend_p50_s, 0)}${cell(c.accept_attend_p90_s, 0)}<td>${esc(count(c.paged))}</td>`
      + `<td>${esc(count(c.declined))}</td><td${count(c.not_reached) > 0 ? ' class="late"' : ''}>${esc(count(c.not_reached))}</td>`
      + `<td>${esc(count(c.timed_out))}</td></tr>`).join('');
    $('#report-carers').closest('.table-box').hidden = carers.length === 0;
    $('#report-carers-empty').hidden = carers.length > 0;
    $('#report-carers-count').textContent = carers.length
      ? `${t('split.count', { n: carers.length })}${report.carers_truncated ? t('split.carers_truncated', { n: carers.length }) : ''}` : '';

    const rooms = Array.isArray(report.rooms) ? report.rooms : [];
    $('#report-rooms tbody').innerHTML = rooms.map((r) => `<tr data-room="${esc(r.room || '')}">`
      + `<td>${esc(r.room ? names.room(r.room) : t('split.no_room'))}</td><td>${esc(count(r.raised))}</td>`
      + `<td${count(r.long_waits) > 0 ? ' class="late"' : ''}>${esc(count(r.long_waits))}</td>`
      + `${cell(r.ack_p50_s, limit)}${cell(r.attend_p50_s, limit, ` data-s="${esc(r.attend_p50_s)}"`)}${cell(r.accept_p50_s, 0)}${cell(r.reset_p50_s, 0)}</tr>`).join('');
    $('#report-rooms').closest('.table-box').hidden = rooms.length === 0;
    $('#report-rooms-empty').hidden = rooms.length > 0;
    $('#report-rooms-count').textContent = rooms.length
      ? `${t('split.count', { n: rooms.length })}${report.rooms_truncated ? t('split.rooms_truncated', { n: rooms.length }) : ''}` : '';
  }

  /* ---- CSV ---- */

  /* A field: quoted when needed; a leading = + - @ is defused so a
   * spreadsheet never runs it as a formula (as the server's history CSV). */
  function csvField(value) {
    let text = value === null || value === undefined ? '' : String(value);
    if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) || text.startsWith("'") ? `"${text.replace(/"/g, '""')}"` : text;
  }
  const csvLine = (fields) => fields.map(csvField).join(',');
  const seconds = (v) => (typeof v === 'number' && v >= 0 ? (Math.round(v * 10) / 10).toFixed(1) : '');

  /* The report (and the days, when loaded) as CSV text with a BOM.
   * names: {shift(name), outcome(o), priority(p), kind(k), place(w), room(id)};
   * then the carers and the rooms when there are any. */
  function csv(report, list, names) {
    const figureHeads = [t('report.raised'), t('report.acked'), t('report.attended'),
      `${t('report.ack_p50')}${t('csv.seconds')}`, `${t('report.ack_p90')}${t('csv.seconds')}`,
      `${t('report.attend_p50')}${t('csv.seconds')}`, `${t('report.attend_p90')}${t('csv.seconds')}`,
      t('report.long'), t('report.reset_unattended'), t('report.open_unattended')];
    const figures = (f) => [f.raised, f.acknowledged, f.attended, seconds(f.ack_p50_s), seconds(f.ack_p90_s),
      seconds(f.attend_p50_s), seconds(f.attend_p90_s), f.long_waits, f.reset_unattended, f.open_unattended];
    const lines = [];
    lines.push(csvLine([t('csv.title'), t('csv.window', { from: WG.fmtTime(report.from_ms), to: WG.fmtTime(report.to_ms) })]));
    lines.push('');
    lines.push(csvLine([t('report.shift'), t('report.hours')].concat(figureHeads)));
    for (const s of report.shifts || []) lines.push(csvLine([names.shift(s.name), `${s.start || ''}–${s.end || ''}`].concat(figures(s))));
    if (report.overall) lines.push(csvLine([names.shift('all'), ''].concat(figures(report.overall))));
    const withFigures = (list || []).filter((d) => d.figures);
    if (withFigures.length) {
      lines.push('');
      lines.push(csvLine([t('csv.day')].concat(figureHeads)));
      for (const d of withFigures) lines.push(csvLine([dateText(d.midnight)].concat(figures(d.figures))));
    }
    const carers = report.carers || [];
    if (carers.length) {
      lines.push('');
      lines.push(csvLine([t('split.carer'), t('split.accepted')].concat(['split.own_accept_p50', 'split.own_accept_p90',
        'split.accept_attend_p50', 'split.accept_attend_p90'].map((k) => `${t(k)}${t('csv.seconds')}`),
      [t('split.paged_to'), t('split.declined'), t('split.not_reached'), t('split.timed_out')])));
      for (const c of carers) {
        lines.push(csvLine([carerName(c), c.accepted, seconds(c.accept_p50_s), seconds(c.accept_p90_s), seconds(c.accept_attend_p50_s),
          seconds(c.accept_attend_p90_s), c.paged, c.declined, c.not_reached, c.timed_out]));
      }
    }
    const rooms = report.rooms || [];
    if (rooms.length) {
      lines.push('');
      lines.push(csvLine([t('split.room'), t('report.raised'), t('report.long')].concat(['report.ack_p50', 'report.attend_p50',
        'split.accept_p50', 'split.reset_p50'].map((k) => `${t(k)}${t('csv.seconds')}`))));
      for (const r of rooms) {
        lines.push(csvLine([r.room ? (names.room ? names.room(r.room) : r.room) : t('split.no_room'), r.raised, r.long_waits,
          seconds(r.ack_p50_s), seconds(r.attend_p50_s), seconds(r.accept_p50_s), seconds(r.reset_p50_s)]));
      }
    }
    lines.push('');
    lines.push(csvLine([t('report.raised_at'), t('report.shift'), t('csv.place'), t('history.kind'), t('history.priority_col'),
      `${t('report.wait')}${t('csv.seconds')}`, t('report.outcome')]));
    for (const w of report.long_waits || []) {
      lines.push(csvLine([WG.fmtTime(w.raised_ms), w.shift ? names.shift(w.shift) : '', names.place(w), names.kind(w.kind),
        names.priority(w.priority), seconds(w.wait_s), names.outcome(w.outcome)]));
    }
    return `\uFEFF${lines.join('\r\n')}\r\n`;
  }

  function csvName(report) {
    const d = (ms) => dateText(ms).replace(/-/g, '');
    return `wardgate-response-${d(report.from_ms)}-${d(report.to_ms - 1)}.csv`;
  }

  /* Hands text to the browser as a download named `name`. */
  function download(name, text) {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  return { duration, days, loadDays, drawCharts, destroyCharts, renderSplit, csv, csvName, download, dayLabel };
})();
