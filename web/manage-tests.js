/* The manager page's device test tab (JGJ/T 484: call points and detectors
 * checked weekly): put a room or a whole zone into test mode for a set
 * time, see what is in test mode now and end it, and the report of which
 * call buttons, pull cords and detectors were tested in the last days and
 * which were not, printable. manage.js hands it what the page shares
 * (the API call, messages, the confirmation dialog, the site's rooms and
 * zones) and calls load() when the tab opens. */
'use strict';

const WGTests = (() => {
  const t = WG.t;
  const esc = WG.escape;

  WG.addStrings({
    zh: {
      'tab.tests': '设备测试',
      'tests.start.title': '开始测试', 'tests.target': '测试地点', 'tests.minutes': '时长',
      'tests.minutes.n': '{n} 分钟', 'tests.hours.n': '{n} 小时', 'tests.start': '开始测试',
      'tests.zone': '{name}（全区）', 'tests.room': '{name}',
      'tests.explain': '测试期间，这里按下的呼叫按钮、卫生间拉绳和烟感只记为测试，不产生呼叫；消防控制器的火警和燃气报警照常报警。到时自动结束，结束时仍处于按下状态的设备会立即报警。',
      'tests.running': '正在测试', 'tests.none': '现在没有地点处于测试模式',
      'tests.col.where': '地点', 'tests.col.started': '开始', 'tests.col.ends': '结束', 'tests.col.by': '发起人',
      'tests.col.tests': '已测', 'tests.col.action': '操作', 'tests.end': '结束测试', 'tests.extend': '延长',
      'tests.confirm_end': '结束 {where} 的测试？之后那里按下的按钮会产生真实呼叫。',
      'tests.started': '{where} 已进入测试模式，至 {until}', 'tests.ended': '{where} 的测试已结束',
      'tests.report': '测试情况', 'tests.days': '最近天数', 'tests.load': '查看', 'tests.print': '打印',
      'tests.summary': '{from} 至 {to}：应测 {due} 台，已测 {tested} 台，未测 {untested} 台，共测试 {n} 次',
      'tests.col.device': '设备', 'tests.col.kind': '类型', 'tests.col.count': '次数', 'tests.col.last': '最近测试',
      'tests.col.status': '状态', 'tests.tested': '已测', 'tests.untested': '未测',
      'tests.no_devices': '没有需要测试的设备（呼叫按钮、拉绳、烟感、燃气探测器）',
      'tests.kind.call': '呼叫按钮', 'tests.kind.pull_cord': '卫生间拉绳', 'tests.kind.smoke': '烟感',
      'tests.kind.gas': '燃气探测器',
    },
    en: {
      'tab.tests': 'Device tests',
      'tests.start.title': 'Start a test', 'tests.target': 'Where', 'tests.minutes': 'For',
      'tests.minutes.n': '{n} minutes', 'tests.hours.n': '{n} hours', 'tests.start': 'Start the test',
      'tests.zone': '{name} (whole zone)', 'tests.room': '{name}',
      'tests.explain': 'During a test, call buttons, bathroom pull cords and smoke detectors pressed here are recorded as tests, not calls; fire panels and gas still alarm. The test ends by itself; a device still pressed then alarms at once.',
      'tests.running': 'In test mode now', 'tests.none': 'Nothing is in test mode now',
      'tests.col.where': 'Where', 'tests.col.started': 'Started', 'tests.col.ends': 'Ends', 'tests.col.by': 'Started by',
      'tests.col.tests': 'Tested', 'tests.col.action': 'Action', 'tests.end': 'End the test', 'tests.extend': 'Extend',
      'tests.confirm_end': 'End the test of {where}? Buttons pressed there will make real calls again.',
      'tests.started': '{where} is in test mode until {until}', 'tests.ended': 'The test of {where} has ended',
      'tests.report': 'Tests done', 'tests.days': 'Last days', 'tests.load': 'Show', 'tests.print': 'Print',
      'tests.summary': '{from} to {to}: {due} devices due, {tested} tested, {untested} not tested, {n} tests in all',
      'tests.col.device': 'Device', 'tests.col.kind': 'Kind', 'tests.col.count': 'Tests', 'tests.col.last': 'Last tested',
      'tests.col.status': 'Status', 'tests.tested': 'tested', 'tests.untested': 'not tested',
      'tests.no_devices': 'No device needs testing (call buttons, pull cords, smoke and gas detectors)',
      'tests.kind.call': 'call button', 'tests.kind.pull_cord': 'bathroom pull cord', 'tests.kind.smoke': 'smoke detector',
      'tests.kind.gas': 'gas detector',
    },
  });

  const DURATIONS = [15, 30, 60, 120, 240];

  /* page: {call(method, path, body), showMessage(text, kind), reportFailure(res),
   * confirmDialog(text, opts), meta() -> {zones, rooms}, active() -> whether the tab shows}. */
  function create(page) {
    let windows = [];
    let lastReport = null;
    let timer = null;
    const $ = (sel) => document.querySelector(sel);

    function targetName(w) {
      const meta = page.meta() || {};
      if (w.scope === 'zone') {
        const z = (meta.zones || []).find((x) => x.id === w.target);
        return t('tests.zone', { name: w.target_name || (z && z.name) || w.target });
      }
      const r = (meta.rooms || []).find((x) => String(x.id) === String(w.target));
      return t('tests.room', { name: w.target_name || (r && r.name) || w.target });
    }

    function fillForm() {
      const meta = page.meta() || {};
      const select = $('#test-target');
      const chosen = select.value;
      const zones = (meta.zones || []).map((z) => `<option value="${esc(z.id)}">${esc(t('tests.zone', { name: z.name || z.id }))}</option>`);
      const rooms = (meta.rooms || []).map((r) => `<option value="${esc(r.id)}">${esc(t('tests.room', { name: r.name || r.id }))}</option>`);
      select.innerHTML = zones.concat(rooms).join('');
      if (chosen) select.value = chosen;
      const minutes = $('#test-minutes');
      const was = minutes.value || '30';
      minutes.innerHTML = DURATIONS.map((n) => `<option value="${n}">${esc(n < 60 ? t('tests.minutes.n', { n }) : t('tests.hours.n', { n: n / 60 }))}</option>`).join('');
      minutes.value = was;
    }

    function renderWindows() {
      const list = windows; /* the gateway's list: a browser's clock may be wrong */
      $('#test-windows-empty').hidden = list.length > 0;
      $('#test-windows').hidden = list.length === 0;
      /* The button right after the place: on a phone the later columns scroll out of view. */
      $('#test-windows tbody').innerHTML = list.map((w) => `<tr data-target="${esc(w.target)}">`
        + `<td class="where">${esc(targetName(w))}</td>`
        + `<td class="actions"><button type="button" class="danger test-end" data-target="${esc(w.target)}">${esc(t('tests.end'))}</button></td>`
        + `<td class="time">${esc(WG.fmtTime(w.ends_ms).slice(11, 16))}</td>`
        + `<td class="num">${esc(w.tests || 0)}</td><td class="wide-only">${esc(w.started_by)}</td>`
        + `<td class="time wide-only">${esc(WG.fmtTime(w.started_ms).slice(5, 16))}</td></tr>`).join('');
    }

    async function loadWindows() {
      const res = await page.call('GET', '/api/v1/test-mode');
      if (res.status === 200 && res.data && Array.isArray(res.data.test_modes)) windows = res.data.test_modes;
      else page.reportFailure(res);
      renderWindows();
    }

    async function start(event) {
      event.preventDefault();
      const target = $('#test-target').value;
      const minutes = Number($('#test-minutes').value);
      const res = await page.call('POST', '/api/v1/test-mode', { target, minutes });
      if (res.status !== 200) { page.reportFailure(res); return; }
      windows = res.data.test_modes || [];
      renderWindows();
      const w = windows.find((x) => x.target === target);
      page.showMessage(t('tests.started', { where: w ? targetName(w) : target, until: w ? WG.fmtTime(w.ends_ms).slice(11, 16) : '' }), 'ok');
    }

    async function end(target) {
      const w = windows.find((x) => x.target === target) || { target, scope: 'room' };
      if (!(await page.confirmDialog(t('tests.confirm_end', { where: targetName(w) }), { ok: t('tests.end') }))) return;
      const res = await page.call('DELETE', `/api/v1/test-mode/${encodeURIComponent(target)}`);
      if (res.status !== 200) { page.reportFailure(res); await loadWindows(); return; }
      windows = res.data.test_modes || [];
      renderWindows();
      page.showMessage(t('tests.ended', { where: targetName(w) }), 'ok');
      loadReport();
    }

    function renderReport(report) {
      lastReport = report;
      const devices = Array.isArray(report.devices) ? report.devices : [];
      $('#test-summary').textContent = t('tests.summary', {
        from: WG.fmtTime(report.from_ms).slice(0, 16), to: WG.fmtTime(report.to_ms).slice(0, 16),
        due: report.devices_due, tested: report.devices_tested, untested: report.devices_due - report.devices_tested, n: report.tests,
      });
      $('#test-report-empty').hidden = devices.length > 0;
      $('#test-report tbody').innerHTML = devices.map((d) => {
        const where = [d.zone_name, d.room_name || d.room].filter(Boolean).join(' · ');
        const status = d.tested ? `<span class="test-ok">✓ ${esc(t('tests.tested'))}</span>` : `<span class="test-missing">✗ ${esc(t('tests.untested'))}</span>`;
        const name = d.label && d.label !== d.id ? `${esc(d.label)}<span class="sub">${esc(d.id)}</span>` : esc(d.id);
        return `<tr data-device="${esc(d.id)}" class="${d.tested ? 'tested' : 'untested'}">`
          + `<td>${name}</td><td class="status">${status}</td><td>${esc(where)}</td>`
          + `<td>${esc(WG.tOr(`tests.kind.${d.test_kind}`, d.test_kind))}</td><td class="num">${esc(d.tests)}</td>`
          + `<td class="time">${esc(d.last_ms ? WG.fmtTime(d.last_ms).slice(0, 16) : '–')}</td></tr>`;
      }).join('');
    }

    /* With the running list: its counts of tests move with the report's. */
    async function loadReport() {
      const days = Math.min(92, Math.max(1, Number($('#test-days').value) || 7));
      const [res] = await Promise.all([page.call('GET', `/api/v1/report/tests?days=${days}`), loadWindows()]);
      if (res.status === 200 && res.data) renderReport(res.data);
      else page.reportFailure(res);
    }

    function wire() {
      $('#test-form').addEventListener('submit', start);
      $('#test-windows tbody').addEventListener('click', (e) => {
        const button = e.target.closest('button.test-end');
        if (button) end(button.dataset.target);
      });
      $('#test-report-form').addEventListener('submit', (e) => { e.preventDefault(); loadReport(); });
      $('#test-print').addEventListener('click', () => window.print());
    }

    return {
      wire,
      async load() {
        fillForm();
        await loadReport();
        clearInterval(timer);
        /* A window that runs out leaves the list; its tests show in the report. */
        timer = setInterval(() => { if (page.active()) loadWindows(); else clearInterval(timer); }, 15000);
      },
      retranslate() { fillForm(); renderWindows(); if (lastReport) renderReport(lastReport); },
    };
  }

  return { create };
})();
