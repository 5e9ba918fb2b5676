/* The manager page's records tab: shift handovers (交接班, GB 38600) and
 * drills (演练, JGJ/T 484: one every six months). A nurse or above hands
 * over (to whom, notes; the gateway adds the shift and the alarms and test
 * modes open at that moment); a manager records a drill (what, when, how
 * long, who took part). Both lists come from the journal (the history API,
 * kind handover and drill), newest first, with how long ago the last fire
 * and evacuation drills were. manage.js hands it what the page shares and
 * calls load() when the tab opens. */
'use strict';

const WGRecords = (() => {
  const t = WG.t;
  const esc = WG.escape;
  const DAY_MS = 86400000;
  const DRILL_DUE_DAYS = 183; /* JGJ/T 484: a drill every six months */

  WG.addStrings({
    zh: {
      'tab.records': '交接与演练',
      'handover.title': '交接班', 'handover.to': '接班人', 'handover.notes': '交接说明', 'handover.save': '记录交接',
      'handover.hint': '记录时会自动附上当前班次、交班人（您）以及此刻所有未结束的呼叫、报警和测试模式。',
      'handover.saved': '已记录交接：{from} → {to}，未结束报警 {n} 个',
      'handover.recent': '最近的交接记录', 'handover.none': '最近 30 天没有交接记录',
      'handover.line': '{shift} · {from} → {to}', 'handover.open': '未结束报警 {n} 个', 'handover.open.none': '没有未结束的报警',
      'handover.tests': '测试模式中：{list}',
      'shift.day': '白班', 'shift.evening': '中班', 'shift.night': '夜班',
      'drill.title': '演练记录', 'drill.kind': '类型', 'drill.started': '开始时间', 'drill.minutes': '用时（分钟）',
      'drill.scenario': '演练内容', 'drill.participants': '参加人员', 'drill.participants.hint': '每行一人，或用逗号分隔',
      'drill.notes': '备注', 'drill.save': '记录演练', 'drill.saved': '已记录演练：{kind}，{n} 人参加',
      'drill.kind.fire': '消防演练', 'drill.kind.evacuation': '疏散演练', 'drill.kind.other': '其他演练',
      'drill.recent': '最近一年的演练', 'drill.none': '最近一年没有演练记录',
      'drill.line': '{kind} · {minutes} 分钟 · {n} 人参加', 'drill.by': '记录人：{who}',
      'drill.since': '距上次{kind}：{days} 天', 'drill.never': '最近一年没有{kind}', 'drill.overdue': '（已超过半年，请安排演练）',
      'records.when': '时间', 'records.what': '内容', 'records.detail': '详情',
    },
    en: {
      'tab.records': 'Handovers and drills',
      'handover.title': 'Shift handover', 'handover.to': 'Handing over to', 'handover.notes': 'Notes', 'handover.save': 'Record the handover',
      'handover.hint': 'The record adds the shift, you as the one handing over, and every call, alarm and test mode open at this moment.',
      'handover.saved': 'Handover recorded: {from} → {to}, {n} alarms open',
      'handover.recent': 'Recent handovers', 'handover.none': 'No handover in the last 30 days',
      'handover.line': '{shift} · {from} → {to}', 'handover.open': '{n} alarms open', 'handover.open.none': 'no alarm open',
      'handover.tests': 'in test mode: {list}',
      'shift.day': 'day shift', 'shift.evening': 'evening shift', 'shift.night': 'night shift',
      'drill.title': 'Drills', 'drill.kind': 'Kind', 'drill.started': 'Started', 'drill.minutes': 'Took (minutes)',
      'drill.scenario': 'What was drilled', 'drill.participants': 'Who took part', 'drill.participants.hint': 'one per line, or separated by commas',
      'drill.notes': 'Notes', 'drill.save': 'Record the drill', 'drill.saved': 'Drill recorded: {kind}, {n} people',
      'drill.kind.fire': 'fire drill', 'drill.kind.evacuation': 'evacuation drill', 'drill.kind.other': 'other drill',
      'drill.recent': 'Drills in the last year', 'drill.none': 'No drill recorded in the last year',
      'drill.line': '{kind} · {minutes} min · {n} people', 'drill.by': 'recorded by {who}',
      'drill.since': 'Last {kind}: {days} days ago', 'drill.never': 'No {kind} in the last year', 'drill.overdue': ' (over six months: plan one)',
      'records.when': 'When', 'records.what': 'What', 'records.detail': 'Details',
    },
  });

  /* page: {call, showMessage, reportFailure, can(role), active()}. */
  function create(page) {
    const $ = (sel) => document.querySelector(sel);
    let handovers = [];
    let drills = [];

    const shiftWord = (s) => WG.tOr(`shift.${s}`, s || '');
    const drillKind = (k) => WG.tOr(`drill.kind.${k}`, k || '');

    function alarmLine(a) {
      const where = [a.room_name || a.room, a.bed ? a.bed.replace(/^.*-/, '') : ''].filter(Boolean).join(' ');
      return `${WG.tOr(`kind.${a.kind}`, a.kind)} · ${where || a.place || ''} · ${WG.fmtTime(a.raised_ms).slice(11, 16)}`;
    }

    function renderHandovers() {
      $('#handover-empty').hidden = handovers.length > 0;
      $('#handover-table tbody').innerHTML = handovers.map((e) => {
        const b = e.body || {};
        const open = Array.isArray(b.open_alarms) ? b.open_alarms : [];
        const tests = Array.isArray(b.test_modes) ? b.test_modes : [];
        const detail = [
          `<span class="sub">${esc(open.length ? t('handover.open', { n: open.length }) : t('handover.open.none'))}</span>`,
          open.length ? `<ul class="open-alarms">${open.map((a) => `<li>${esc(alarmLine(a))}</li>`).join('')}</ul>` : '',
          tests.length ? `<span class="sub">${esc(t('handover.tests', { list: tests.map((w) => w.target_name || w.target).join('、') }))}</span>` : '',
          b.notes ? `<p class="notes">${esc(b.notes)}</p>` : '',
        ].join('');
        return `<tr data-seq="${esc(e.seq)}"><td class="time">${esc(WG.fmtTime(e.ts_ms).slice(0, 16))}</td>`
          + `<td>${esc(t('handover.line', { shift: shiftWord(b.shift), from: b.from || '', to: b.to || '' }))}</td>`
          + `<td class="detail">${detail}</td></tr>`;
      }).join('');
    }

    function renderDrills() {
      $('#drill-empty').hidden = drills.length > 0;
      $('#drill-table tbody').innerHTML = drills.map((e) => {
        const b = e.body || {};
        const people = Array.isArray(b.participants) ? b.participants : [];
        return `<tr data-seq="${esc(e.seq)}"><td class="time">${esc(WG.fmtTime(b.started_ms).slice(0, 16))}</td>`
          + `<td>${esc(t('drill.line', { kind: drillKind(b.kind), minutes: b.minutes, n: people.length }))}</td>`
          + `<td class="detail">${esc(b.scenario || '')}<span class="sub">${esc(people.join('、'))}</span>`
          + `${b.notes ? `<p class="notes">${esc(b.notes)}</p>` : ''}<span class="sub">${esc(t('drill.by', { who: b.recorded_by || '' }))}</span></td></tr>`;
      }).join('');
      const now = Date.now();
      $('#drill-since').innerHTML = ['fire', 'evacuation'].map((kind) => {
        const last = drills.find((e) => e.body && e.body.kind === kind);
        if (!last) return `<li class="overdue">${esc(t('drill.never', { kind: drillKind(kind) }))}</li>`;
        const days = Math.max(0, Math.floor((now - last.body.started_ms) / DAY_MS));
        const overdue = days > DRILL_DUE_DAYS;
        return `<li class="${overdue ? 'overdue' : ''}">${esc(t('drill.since', { kind: drillKind(kind), days }) + (overdue ? t('drill.overdue') : ''))}</li>`;
      }).join('');
    }

    async function loadKind(kind, days) {
      const from = Date.now() - days * DAY_MS;
      const res = await page.call('GET', `/api/v1/history?kind=${kind}&from=${from}&limit=200`);
      if (res.status === 200 && res.data && Array.isArray(res.data.events)) return res.data.events;
      page.reportFailure(res);
      return [];
    }

    /* `just`: a record the gateway has just taken ({kind, record}). Its reply
     * may come before the journal's commit reaches the history, so it is
     * listed from the reply until the history has it. */
    async function load(just) {
      [handovers, drills] = await Promise.all([loadKind('handover', 30), loadKind('drill', 366)]);
      if (just) {
        const list = just.kind === 'handover' ? handovers : drills;
        const keys = just.kind === 'handover' ? ['from', 'to', 'notes', 'shift', 'open_count'] : ['kind', 'started_ms', 'minutes', 'scenario'];
        const same = (e) => e.body && keys.every((k) => e.body[k] === just.record[k]);
        if (!list.some(same)) list.unshift({ seq: 0, ts_ms: just.record.ts_ms, body: just.record });
      }
      drills.sort((a, b) => (b.body.started_ms || 0) - (a.body.started_ms || 0));
      renderHandovers();
      renderDrills();
      $('#drill-form').hidden = !page.can('manager');
      if (!$('#drill-started').value) $('#drill-started').value = WG.fmtTime(Date.now()).slice(0, 16).replace(' ', 'T');
    }

    function unmark(form) {
      form.querySelectorAll('[aria-invalid]').forEach((n) => n.removeAttribute('aria-invalid'));
    }

    /* The field the gateway named, marked and said next to the form. */
    function refusal(form, errorBox, res) {
      unmark(form);
      const data = res.data && typeof res.data === 'object' ? res.data : {};
      const field = data.field && form.querySelector(`[name="${data.field}"]`);
      if (field) field.setAttribute('aria-invalid', 'true');
      errorBox.textContent = data.error ? WGWords.withoutPaths(data.error) : String(res.status);
      if (res.status !== 400) page.reportFailure(res);
    }

    async function saveHandover(event) {
      event.preventDefault();
      const form = $('#handover-form');
      const body = { to: $('#handover-to').value.trim() };
      const notes = $('#handover-notes').value.trim();
      if (notes) body.notes = notes;
      const res = await page.call('POST', '/api/v1/handovers', body);
      if (res.status !== 200) { refusal(form, $('#handover-error'), res); return; }
      $('#handover-error').textContent = '';
      unmark(form);
      form.reset();
      const h = res.data.handover;
      page.showMessage(t('handover.saved', { from: h.from, to: h.to, n: h.open_count }), 'ok');
      await load({ kind: 'handover', record: h });
    }

    async function saveDrill(event) {
      event.preventDefault();
      const form = $('#drill-form');
      const participants = $('#drill-participants').value.split(/[\n,，、]/).map((s) => s.trim()).filter(Boolean);
      const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec($('#drill-started').value);
      const started = m ? WG.wallToMs(+m[1], +m[2], +m[3], +m[4], +m[5]) : null; /* the site's time zone */
      const body = {
        kind: $('#drill-kind').value, started_ms: started, minutes: Number($('#drill-minutes').value),
        scenario: $('#drill-scenario').value.trim(), participants,
      };
      const notes = $('#drill-notes').value.trim();
      if (notes) body.notes = notes;
      const res = await page.call('POST', '/api/v1/drills', body);
      if (res.status !== 200) { refusal(form, $('#drill-error'), res); return; }
      $('#drill-error').textContent = '';
      unmark(form);
      form.reset();
      const d = res.data.drill;
      page.showMessage(t('drill.saved', { kind: drillKind(d.kind), n: d.participant_count }), 'ok');
      await load({ kind: 'drill', record: d });
    }

    return {
      wire() {
        $('#handover-form').addEventListener('submit', saveHandover);
        $('#drill-form').addEventListener('submit', saveDrill);
      },
      load: () => load(),
      retranslate() { renderHandovers(); renderDrills(); },
    };
  }

  return { create };
})();
