/* The manager page's monthly report tab: the month's figures for
 * inspectors (GET /api/v1/report/monthly, docs/api.md): calls by hour of
 * day and the response-time bands as charts (uPlot, served by the daemon),
 * and in tables the response times split into acknowledge, attend and
 * reset, alarms by GB 38600 risk, bed exits and nuisance ones per bed,
 * device faults and how long each stayed open, rounds done against planned
 * and tests done against due; printable (the browser's print, or its
 * "save as PDF"). manage.js hands it what the page shares and calls load()
 * when the tab opens. */
'use strict';

const WGMonthly = (() => {
  const t = WG.t;
  const esc = WG.escape;

  WG.addStrings({
    zh: {
      'tab.monthly': '月报', 'monthly.calls': '呼叫', 'monthly.month': '月份', 'monthly.load': '生成', 'monthly.print': '打印 / 存为 PDF',
      'monthly.title': '{site} {month} 月度报告', 'monthly.alarms': '共发出呼叫和报警 {n} 个，其中呼叫 {calls} 个',
      'monthly.hours': '各时段的呼叫（按小时）', 'monthly.hours.alt': '{month} 每小时的呼叫数，共 {n} 个',
      'monthly.bands': '响应时间分布（呼叫数）', 'monthly.bands.alt': '{month} 确认、到场、复位用时的分布',
      'monthly.step.acknowledge': '确认', 'monthly.step.attend': '到场', 'monthly.step.reset': '复位',
      'monthly.col.step': '环节', 'monthly.col.count': '次数', 'monthly.col.p50': '中位数', 'monthly.col.p90': '90% 以内',
      'monthly.band.first': '{m} 分钟内', 'monthly.band': '{a}–{b} 分钟', 'monthly.band.last': '超过 {m} 分钟',
      'monthly.risks': '按风险分类的报警（GB 38600）', 'monthly.risks.none': '本月没有带风险分类的报警',
      'monthly.col.risk': '风险', 'monthly.col.alarms': '报警数',
      'monthly.beds': '离床报警', 'monthly.beds.none': '本月没有离床报警',
      'monthly.col.bed': '床位', 'monthly.col.total': '离床报警', 'monthly.col.nuisance': '自行回床（误报）',
      'monthly.faults': '设备故障：{n} 次，累计 {h} 小时', 'monthly.faults.none': '本月没有设备故障',
      'monthly.col.device': '设备', 'monthly.col.kind': '故障', 'monthly.col.raised': '发生', 'monthly.col.open': '持续',
      'monthly.still_open': '（月底仍未修复）',
      'monthly.rounds': '巡查：计划 {slots} 轮，按时完成 {complete} 轮，超时完成 {late} 轮，漏查 {missed} 轮；房间 {checked}/{planned} 间次',
      'monthly.rounds.none': '本月没有巡查计划',
      'monthly.tests': '设备测试：{devices} 台设备 × {weeks} 周 = 应测 {due} 次，已测 {done} 次（{pct}%）',
      'monthly.failed': '月报没有生成：{error}',
    },
    en: {
      'tab.monthly': 'Monthly report', 'monthly.calls': 'Calls', 'monthly.month': 'Month', 'monthly.load': 'Make', 'monthly.print': 'Print / save as PDF',
      'monthly.title': '{site}: report for {month}', 'monthly.alarms': '{n} calls and alarms raised, {calls} of them calls',
      'monthly.hours': 'Calls by hour of day', 'monthly.hours.alt': 'Calls per hour of day in {month}, {n} in all',
      'monthly.bands': 'Response times (calls)', 'monthly.bands.alt': 'Acknowledge, attend and reset times in {month}',
      'monthly.step.acknowledge': 'Acknowledge', 'monthly.step.attend': 'Attend', 'monthly.step.reset': 'Reset',
      'monthly.col.step': 'Step', 'monthly.col.count': 'Count', 'monthly.col.p50': 'Median', 'monthly.col.p90': '90% within',
      'monthly.band.first': 'within {m} min', 'monthly.band': '{a}–{b} min', 'monthly.band.last': 'over {m} min',
      'monthly.risks': 'Alarms by risk (GB 38600)', 'monthly.risks.none': 'No alarm with a risk this month',
      'monthly.col.risk': 'Risk', 'monthly.col.alarms': 'Alarms',
      'monthly.beds': 'Bed exits', 'monthly.beds.none': 'No bed exit this month',
      'monthly.col.bed': 'Bed', 'monthly.col.total': 'Bed exits', 'monthly.col.nuisance': 'Back in bed alone (nuisance)',
      'monthly.faults': 'Device faults: {n}, {h} h in all', 'monthly.faults.none': 'No device fault this month',
      'monthly.col.device': 'Device', 'monthly.col.kind': 'Fault', 'monthly.col.raised': 'Raised', 'monthly.col.open': 'Open for',
      'monthly.still_open': ' (still open at the end of the month)',
      'monthly.rounds': 'Rounds: {slots} planned, {complete} complete, {late} late, {missed} missed; rooms {checked}/{planned}',
      'monthly.rounds.none': 'No rounds were planned this month',
      'monthly.tests': 'Device tests: {devices} devices × {weeks} weeks = {due} due, {done} done ({pct}%)',
      'monthly.failed': 'The monthly report could not be made: {error}',
    },
  });

  /* page: {call, reportFailure, showMessage, siteName()}. */
  function create(page) {
    const $ = (sel) => document.querySelector(sel);
    const charts = []; /* {id, u} */
    let report = null;
    /* The charts follow their boxes (a window made narrower, a phone turned). */
    const resized = typeof ResizeObserver === 'function' ? new ResizeObserver(() => {
      charts.forEach(({ id, u }) => {
        const el = document.getElementById(id);
        const width = el ? Math.max(260, Math.floor(el.parentElement.getBoundingClientRect().width) - 24) : 0;
        if (width && Math.abs(width - u.width) > 2) u.setSize({ width, height: 240 });
      });
    }) : null;

    function lastMonth() {
      const p = WG.wallParts(Date.now());
      const year = p.month === 1 ? p.year - 1 : p.year;
      const month = p.month === 1 ? 12 : p.month - 1;
      return `${year}-${String(month).padStart(2, '0')}`;
    }

    function bandNames(limits) {
      const m = limits.map((s) => Math.round(s / 60));
      return [t('monthly.band.first', { m: m[0] }), ...m.slice(1).map((b, i) => t('monthly.band', { a: m[i], b })),
        t('monthly.band.last', { m: m[m.length - 1] })];
    }

    function draw(id, opts, data, alt) {
      const el = document.getElementById(id);
      if (!el || typeof uPlot !== 'function') return;
      el.innerHTML = '';
      const width = Math.max(260, Math.floor(el.parentElement.getBoundingClientRect().width) - 24);
      const u = new uPlot({ width, height: 240, ...opts }, data, el);
      u.ctx.canvas.setAttribute('role', 'img');
      u.ctx.canvas.setAttribute('aria-label', alt);
      el.setAttribute('aria-label', alt);
      charts.push({ id, u });
      if (resized) resized.observe(el.parentElement);
    }

    function drawCharts(r) {
      charts.splice(0).forEach(({ u }) => u.destroy());
      const axis = { stroke: '#1d2430', grid: { stroke: '#e3e7ee' }, ticks: { stroke: '#c9d0da' } };
      const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined;
      const hours = Array.from({ length: 24 }, (_, h) => h);
      const calls = r.calls_by_hour.reduce((a, b) => a + b, 0);
      draw('monthly-hours', {
        scales: { x: { time: false, range: [-0.6, 23.6] }, y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
        axes: [{ ...axis, values: (u, splits) => splits.map((s) => `${s}`), incrs: [1, 2, 3, 6] }, { ...axis, size: 44 }],
        cursor: { drag: { x: false, y: false } }, legend: { live: false },
        series: [{ label: '' }, { label: t('monthly.calls'), stroke: '#1f5fbf', fill: 'rgba(31, 95, 191, .35)', paths: bars, points: { show: false } }],
      }, [hours, r.calls_by_hour], t('monthly.hours.alt', { month: r.month, n: calls }));
      const names = bandNames(r.response.band_limits_s);
      const xs = names.map((_, i) => i);
      const colours = { acknowledge: '#1f5fbf', attend: '#1e7b34', reset: '#8a4b08' };
      draw('monthly-bands', {
        scales: { x: { time: false, range: [-0.5, xs.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
        axes: [{ ...axis, values: (u, splits) => splits.map((s) => (Number.isInteger(s) ? names[s] || '' : '')), incrs: [1], size: 40 }, { ...axis, size: 44 }],
        cursor: { drag: { x: false, y: false } }, legend: { live: false },
        series: [{ label: '' }, ...['acknowledge', 'attend', 'reset'].map((step) => ({
          label: t(`monthly.step.${step}`), stroke: colours[step], width: 2, points: { show: true, size: 7, fill: colours[step] },
        }))],
      }, [xs, r.response.acknowledge.bands, r.response.attend.bands, r.response.reset.bands], t('monthly.bands.alt', { month: r.month }));
    }

    const seconds = (s) => (s === null || s === undefined ? '–' : WGReport.duration(s));
    const table = (id, rows) => { $(`#${id} tbody`).innerHTML = rows.join(''); };

    function render(r) {
      $('#monthly-body').hidden = false;
      $('#monthly-title').textContent = t('monthly.title', { site: page.siteName(), month: r.month });
      $('#monthly-summary').textContent = t('monthly.alarms', { n: r.alarms, calls: r.response.calls });
      const names = bandNames(r.response.band_limits_s);
      $('#monthly-response thead tr').innerHTML = ['monthly.col.step', 'monthly.col.count', 'monthly.col.p50', 'monthly.col.p90']
        .map((k) => `<th>${esc(t(k))}</th>`).join('') + names.map((n) => `<th>${esc(n)}</th>`).join('');
      table('monthly-response', ['acknowledge', 'attend', 'reset'].map((step) => {
        const d = r.response[step];
        return `<tr data-step="${step}"><td>${esc(t(`monthly.step.${step}`))}</td><td class="num">${esc(d.count)}</td>`
          + `<td>${esc(seconds(d.p50_s))}</td><td>${esc(seconds(d.p90_s))}</td>${d.bands.map((n) => `<td class="num">${esc(n)}</td>`).join('')}</tr>`;
      }));
      const risks = Object.entries(r.alarms_by_risk).sort((a, b) => b[1] - a[1]);
      $('#monthly-risks-none').hidden = risks.length > 0;
      table('monthly-risks', risks.map(([risk, n]) => `<tr><td>${esc(WG.tOr(`risk.${risk}`, risk))}</td><td class="num">${esc(n)}</td></tr>`));
      $('#monthly-beds-none').hidden = r.bed_exits.length > 0;
      table('monthly-beds', r.bed_exits.slice().sort((a, b) => b.nuisance - a.nuisance || a.bed.localeCompare(b.bed))
        .map((b) => `<tr><td>${esc(b.bed)}</td><td class="num">${esc(b.total)}</td><td class="num">${esc(b.nuisance)}</td></tr>`));
      const f = r.device_faults;
      $('#monthly-faults-title').textContent = f.count ? t('monthly.faults', { n: f.count, h: f.open_hours.toFixed(1) }) : t('monthly.faults.none');
      table('monthly-faults', f.longest.slice(0, 20).map((x) => `<tr><td>${esc(x.device)}</td><td>${esc(WG.tOr(`kind.${x.kind}`, x.kind))}</td>`
        + `<td class="time">${esc(WG.fmtTime(x.raised_ms).slice(5, 16))}</td><td>${esc(WGReport.duration(x.open_s))}${x.reset_ms ? '' : esc(t('monthly.still_open'))}</td></tr>`));
      $('#monthly-faults').closest('.table-box').hidden = f.longest.length === 0;
      const ro = r.rounds;
      $('#monthly-rounds').textContent = ro.slots ? t('monthly.rounds', {
        slots: ro.slots, complete: ro.complete, late: ro.late, missed: ro.missed, checked: ro.rooms_checked, planned: ro.rooms_planned,
      }) : t('monthly.rounds.none');
      const te = r.tests;
      $('#monthly-tests').textContent = t('monthly.tests', { ...te, pct: te.due ? Math.round((te.done * 100) / te.due) : 0 });
      drawCharts(r);
    }

    async function load() {
      const input = $('#monthly-month');
      if (!input.value) input.value = lastMonth();
      const res = await page.call('GET', `/api/v1/report/monthly?month=${encodeURIComponent(input.value)}`);
      if (res.status !== 200 || !res.data) {
        $('#monthly-body').hidden = true;
        page.reportFailure(res);
        return;
      }
      report = res.data;
      render(report);
    }

    return {
      wire() {
        $('#monthly-form').addEventListener('submit', (e) => { e.preventDefault(); load(); });
        $('#monthly-print').addEventListener('click', () => window.print());
      },
      load,
      retranslate() { if (report) render(report); },
    };
  }

  return { create };
})();
