/* The carer's phone (carer.html; docs/carer.md): the calls for me first,
 * then the rest, with who was paged and what they did; accept ("on my way")
 * or decline with a reason; the receipt that tells the gateway this phone
 * got a page; sound, vibration, a system notification and a wake lock once
 * duty is started; rooms claimed for the shift; the lost connection.
 *
 * The WebSocket (subprotocol wardgate.v1, docs/api.md) is read as the
 * station display reads it: a snapshot replaces everything, alarm deltas by
 * id and update counter, a heartbeat every second, silence for 3.5 s is a
 * lost connection (the last known state stays, greyed, under a banner) and
 * reconnects back off from 0.5 s to 5 s. Paging adds the alarm's `paging`,
 * the snapshot's `staff` and `me`, the `staff` message, and `notify`, sent
 * only to the phones of the person paged. This page sends nothing on the
 * socket: accept, decline, received and claim are HTTP. There is no reset
 * here: a call ends at its origin. Every text from the server goes in
 * through textContent. */
'use strict';

(() => {
  WG.addStrings({
    zh: {
      'c.title': '护理呼叫', 'c.forbidden': '这个页面需要护理员账号；当前登录：{user}',
      'c.care.carer': '护工', 'c.care.nurse': '护士', 'c.care.floor_lead': '组长', 'c.care.manager': '主管',
      'c.who': '{name} · {role}', 'c.not_staff': '账号 {user} 不在排班名单中：可以看呼叫，但不会收到通知。',
      'c.shift.on': '在班：{shift}（{start}–{end}）', 'c.shift.off': '现在不在班', 'c.shift.none': '现在没有排班',
      'c.shift.next': '下一班：{shift}，{start} 开始', 'c.cover': '负责：{what}', 'c.cover.none': '本班没有分给我的房间',
      'c.cover.next': '下一班负责：{what}', 'c.claimed': '我认领的：{rooms}', 'c.uncovered': '无人负责：{zones}',
      'c.zone.whole': '{zone}（整个区域）', 'c.list.sep': '、', 'c.room': '{r}室', 'c.bed': '{b}床',
      'c.start': '开始值班', 'c.start.hint': '按一下：来呼叫时响铃、振动、弹出通知，屏幕保持常亮。',
      'c.status.on': '值班中', 'c.status.sound': '响铃已开', 'c.status.nosound': '这个浏览器不能响铃',
      'c.status.wake': '屏幕常亮', 'c.status.nowake': '不能保持亮屏', 'c.status.notify': '通知已开',
      'c.status.nonotify': '通知未允许', 'c.status.vibrate.none': '不能振动',
      'c.mine': '我的呼叫', 'c.mine.empty': '现在没有给我的呼叫', 'c.rest': '其他呼叫', 'c.rest.empty': '没有其他呼叫',
      'c.count': '{n} 个',
      'c.accept': '我去处理', 'c.decline': '不能去', 'c.sending': '正在发送…',
      'c.onway.me': '我正在赶来', 'c.reset.hint': '请到房间内按复位键', 'c.onway': '{name} 正在赶来',
      'c.attended': '护理员已到位', 'c.name.me': '{name}（我）', 'c.stale': '可能已过期',
      'c.decline.title': '不能去 {room}？', 'c.decline.why': '原因', 'c.reason.busy': '正在处理另一呼叫',
      'c.reason.far': '不在附近', 'c.reason.other': '其他', 'c.reason.text': '说明（选“其他”时必填，最多 60 字）',
      'c.reason.empty': '请写明原因', 'c.decline.send': '发送', 'c.cancel': '取消',
      'c.err.403': '这个呼叫没有发给我', 'c.err.409': '这个呼叫已有人接受，或已到位、已复位', 'c.err.404': '这个呼叫已经结束',
      'c.err.400': '原因须为 1 到 60 个字，不能有特殊字符', 'c.err.network': '连不上网关，没有发出',
      'c.err.other': '没有成功（{status}），请再试', 'c.err.moved': '卡片刚刚移动过，请看清后再按',
      'c.err.role': '需要护理员账号',
      'c.conn.lost': '连接中断 — 显示的是 {t} 的情况，正在重新连接', 'c.conn.detail': '第 {n} 次重连…',
      'c.conn.never': '正在连接网关…',
      'c.offline': '手机没有网络（离线）：连上院内无线网络后会自动恢复',
      'c.insecure.title': '这个地址没有加密',
      'c.insecure.text': '所以这个页面不能通知、不能保持亮屏、不能离线打开。呼叫仍会显示，但手机锁屏后收不到提醒。请先设置手机，再用加密地址打开。',
      'c.insecure.link': '设置手机：安装本院证书',
      'c.claim.open': '认领房间', 'c.claim.title': '认领房间',
      'c.claim.help': '选出本班由我负责的房间。保存后代替我之前的认领；不选任何房间就是全部放弃。',
      'c.claim.none': '全部放弃', 'c.claim.save': '保存', 'c.claim.saved': '已认领：{rooms}', 'c.claim.released': '已放弃认领的房间',
      'c.claim.loading': '正在读取房间…', 'c.claim.unavailable': '网关没有提供房间列表',
      'c.n.title': '{room} {kind}', 'c.logout.ask': '退出后这部手机不再收到呼叫。确定退出吗？',
      'site': '全院',
    },
    en: {
      'c.title': 'Calls', 'c.forbidden': 'This page needs a nurse account; logged in: {user}',
      'c.care.carer': 'carer', 'c.care.nurse': 'nurse', 'c.care.floor_lead': 'floor lead', 'c.care.manager': 'manager',
      'c.who': '{name} · {role}', 'c.not_staff': '{user} is not on the staff list: calls show, but no pages come to this phone.',
      'c.shift.on': 'On duty: {shift} ({start}–{end})', 'c.shift.off': 'Not on duty now', 'c.shift.none': 'No shift now',
      'c.shift.next': 'Next shift: {shift}, from {start}', 'c.cover': 'Covering: {what}', 'c.cover.none': 'No rooms given to me this shift',
      'c.cover.next': 'Next shift covering: {what}', 'c.claimed': 'Claimed: {rooms}', 'c.uncovered': 'Nobody covers: {zones}',
      'c.zone.whole': '{zone} (whole zone)', 'c.list.sep': ', ', 'c.room': 'Room {r}', 'c.bed': 'bed {b}',
      'c.start': 'Start duty', 'c.start.hint': 'One press: calls ring, vibrate and pop up, and the screen stays on.',
      'c.status.on': 'On duty', 'c.status.sound': 'sound on', 'c.status.nosound': 'this browser cannot ring',
      'c.status.wake': 'screen kept on', 'c.status.nowake': 'cannot keep the screen on', 'c.status.notify': 'notifications on',
      'c.status.nonotify': 'notifications not allowed', 'c.status.vibrate.none': 'cannot vibrate',
      'c.mine': 'My calls', 'c.mine.empty': 'No calls for me now', 'c.rest': 'Other calls', 'c.rest.empty': 'No other calls',
      'c.count': '{n}',
      'c.accept': 'On my way', 'c.decline': 'Cannot go', 'c.sending': 'Sending…',
      'c.onway.me': 'I am on my way', 'c.reset.hint': 'Press the reset button in the room', 'c.onway': '{name} is on the way',
      'c.attended': 'staff in the room', 'c.name.me': '{name} (me)', 'c.stale': 'may be out of date',
      'c.decline.title': 'Cannot go to {room}?', 'c.decline.why': 'Why', 'c.reason.busy': 'Busy with another call',
      'c.reason.far': 'Not nearby', 'c.reason.other': 'Other', 'c.reason.text': 'Details (needed for "Other"; up to 60 characters)',
      'c.reason.empty': 'Say why', 'c.decline.send': 'Send', 'c.cancel': 'Cancel',
      'c.err.403': 'This call was not sent to me', 'c.err.409': 'Someone accepted this call, or it is attended or reset',
      'c.err.404': 'This call has ended', 'c.err.400': 'The reason must be 1 to 60 characters, no control characters',
      'c.err.network': 'The gateway cannot be reached; nothing was sent', 'c.err.other': 'That did not work ({status}); try again',
      'c.err.moved': 'The card just moved; check it and press again', 'c.err.role': 'Needs a nurse account',
      'c.conn.lost': 'Connection lost — showing things as they were at {t}; reconnecting', 'c.conn.detail': 'attempt {n}…',
      'c.conn.never': 'Connecting to the gateway…',
      'c.offline': 'The phone has no network (offline): it comes back by itself on the home\'s Wi-Fi',
      'c.insecure.title': 'This address is not encrypted (not HTTPS)',
      'c.insecure.text': 'So this page cannot notify, cannot keep the screen on and cannot open offline. Calls still show, but a locked phone gets no alert. Set up the phone first, then open the encrypted address.',
      'c.insecure.link': 'Set up this phone: install the home\'s certificate',
      'c.claim.open': 'Claim rooms', 'c.claim.title': 'Claim rooms',
      'c.claim.help': 'Pick the rooms you look after this shift. Saving replaces what you claimed before; none selected releases them all.',
      'c.claim.none': 'Release all', 'c.claim.save': 'Save', 'c.claim.saved': 'Claimed: {rooms}', 'c.claim.released': 'Claimed rooms released',
      'c.claim.loading': 'Loading rooms…', 'c.claim.unavailable': 'The gateway gave no room list',
      'c.n.title': '{room} {kind}', 'c.logout.ask': 'After logging out this phone gets no calls. Log out?',
      'site': 'Site',
    },
  });

  const $ = (id) => document.getElementById(id);
  const PRIORITY_RANK = { advisory: 0, technical: 1, normal: 2, urgent: 3, emergency: 4, fire: 5 };
  const ERROR_MS = 8000;
  const MOVED_GUARD_MS = 450;    /* a press on a card that just moved is not taken */
  const REMIND_MS = 15000;       /* a page not answered rings again */
  const REASON_MAX = 60;
  /* Detail codes that only repeat what the kind already says. */
  const REPEATS_KIND = new Set(['call', 'pull_cord', 'smoke', 'fire_zone']);
  const OPEN_OUTCOMES = new Set(['waiting', 'received', 'timed_out', 'not_reached']);

  const state = {
    session: null, username: '', role: '', site: null,
    alarms: new Map(),        /* id -> alarm (active only) */
    gone: new Map(),          /* id -> update of its reset */
    staff: null, me: null, meKnown: false,
    rooms: [],                /* [{id, name, zone}] from GET /api/v1/staff */
    zoneNames: new Map(), roomNames: new Map(),
    clockOffset: 0, connected: false, everConnected: false, lastDataAt: 0, attempts: 0,
    duty: false, wakeLock: null,
    busy: new Map(),          /* alarm id -> 'accept' | 'decline' in flight */
    errors: new Map(),        /* alarm id -> {key, params, until} */
    receiving: new Set(),     /* alarm ids with a receipt in flight */
    receiptFor: new Map(),    /* alarm id -> notified_ms whose receipt went */
    alertedFor: new Map(),    /* alarm id -> notified_ms (or the notify ts) alerted */
    lastAlertAt: new Map(),   /* alarm id -> when it last rang */
    waitingNotify: new Map(), /* alarm id -> ts of a notify whose alarm is not here yet */
    notice: null,             /* {key, params, until}: a line under the duty box */
  };
  const now = () => Date.now() + state.clockOffset;

  /* Read-only hooks for the browser test. */
  const hooks = { alerts: [], receipts: [], notifications: [], connectEvents: [] };
  window.WGCarer = hooks;

  /* ---- small helpers ---- */
  const { el, setText } = WG;
  function rank(a) { return a.priority_level ?? PRIORITY_RANK[a.priority] ?? 0; }
  const level = WGSound.level; /* IEC: fire and emergency high, urgent medium, normal low */
  function byOrder(a, b) {
    return rank(b) - rank(a) || (a.raised_ms || 0) - (b.raised_ms || 0) || String(a.id).localeCompare(String(b.id));
  }
  function list(items) { return items.filter(Boolean).join(WG.t('c.list.sep')); }
  function clock(ms) { return WG.fmtTime(ms).slice(11); }
  function hm(text) { return typeof text === 'string' ? text.slice(0, 5) : ''; }

  /* ---- words ---- */
  function kindText(a) { return WG.tOr(`kind.${a.kind}`, a.kind || ''); }
  function roomName(id, name) {
    const n = name || state.roomNames.get(id) || id || '';
    if (WG.lang() === 'en') return /^\d/.test(n) ? WG.t('c.room', { r: n }) : n;
    return /^\d+$/.test(n) ? WG.t('c.room', { r: n }) : n;
  }
  function zoneName(id) { return state.zoneNames.get(id) || id || ''; }
  function bedText(a) {
    if (!a.bed) return '';
    const label = a.room && a.bed.startsWith(`${a.room}-`) ? a.bed.slice(a.room.length + 1) : a.bed;
    return WG.t('c.bed', { b: label });
  }
  function whereText(a) {
    if (a.place) return a.place;
    if (a.room) return roomName(a.room, a.room_name);
    return a.device_label || a.zone_name || zoneName(a.zone) || a.device || WG.t('site');
  }
  function careRole(r) { return WG.tOr(`c.care.${r}`, ''); }
  function personName(p) {
    const name = p.name || p.user || '';
    return p.user && p.user === state.username ? WG.t('c.name.me', { name }) : name;
  }

  /* ---- whose calls ---- */
  function pagesOf(a) { return (a.paging && Array.isArray(a.paging.pages)) ? a.paging.pages : []; }
  /* My latest page on this alarm, or null. */
  function myPage(a) {
    const mine = pagesOf(a).filter((p) => p.user === state.username);
    mine.sort((x, y) => (x.step - y.step) || ((x.notified_ms || 0) - (y.notified_ms || 0)));
    return mine.length ? mine[mine.length - 1] : null;
  }
  function covers(a) {
    const me = state.me;
    if (!me) return false;
    const has = (arr, v) => Array.isArray(arr) && v && arr.includes(v);
    return has(me.rooms, a.room) || has(me.claimed, a.room) || has(me.zones, a.zone);
  }
  function isMine(a) { return !!myPage(a) || covers(a); }
  function acceptedByMe(a) { return !!(a.paging && a.paging.accepted_by && a.paging.accepted_by === state.username); }
  /* Accept and decline are offered on a call paged to me that nobody has
   * accepted, nobody is in the room for, and I have not answered. */
  function mayAnswer(a) {
    const p = myPage(a);
    return !!p && !!a.paging && !a.paging.accepted_by && a.state !== 'attended' && OPEN_OUTCOMES.has(p.outcome);
  }
  /* A page still ringing: sent to me, not yet answered, call still open. */
  function ringing(a) {
    const p = myPage(a);
    return !!p && (p.outcome === 'waiting' || p.outcome === 'received') && mayAnswer(a);
  }

  /* ---- the paging lines ---- */
  function pageLine(p) { return WGPaging.pageText(p, now(), personName(p)); }
  function stepText(a) {
    const pg = a.paging;
    if (!pg || pg.accepted_by || a.state === 'attended') return '';
    return WGPaging.stepText(pg);
  }
  /* What the card says about who is going. */
  function statusText(a) {
    if (acceptedByMe(a) && a.state !== 'attended') return { text: WG.t('c.onway.me'), hint: WG.t('c.reset.hint'), cls: 'me' };
    if (a.state === 'attended') return { text: WG.t('c.attended'), hint: acceptedByMe(a) ? WG.t('c.reset.hint') : '', cls: 'attended' };
    if (a.paging && a.paging.accepted_by) {
      return { text: WG.t('c.onway', { name: a.paging.accepted_name || a.paging.accepted_by }), hint: '', cls: 'other' };
    }
    if (a.state === 'acknowledged') {
      return { text: a.acknowledged_by ? WG.t('state.acknowledged', { who: a.acknowledged_by }) : WG.t('state.acknowledged.anon'), hint: '', cls: 'ack' };
    }
    return null;
  }
  function subText(a) {
    const parts = [a.resident_label || ''];
    if (a.place && (a.room_name || a.room)) parts.push(roomName(a.room, a.room_name));
    const detail = REPEATS_KIND.has(a.detail_code) ? '' : WG.alarmDetail(a);
    if (detail && detail.toLowerCase() !== kindText(a).toLowerCase()) parts.push(detail);
    return parts.filter(Boolean).join(' · ');
  }

  /* ---- the cards ---- */
  const cards = new Map(); /* id -> node */

  function cardShell(id) {
    const node = el('article', 'card');
    node.dataset.alarmId = id;
    const head = el('div', 'c-head');
    const where = el('h3', 'c-where');
    where.append(el('span', 'c-room'), el('span', 'c-bed'));
    head.append(where, el('span', 'c-elapsed'));
    const what = el('p', 'c-what');
    what.append(el('span', 'c-kind'), el('span', 'c-prio'));
    node.append(head, what, el('p', 'c-sub'), el('p', 'c-step'), el('ul', 'c-pages'),
      el('div', 'c-status'), el('div', 'c-actions'), el('p', 'c-error'), el('p', 'c-stale'));
    node.querySelector('.c-error').setAttribute('role', 'alert');
    return node;
  }

  function renderActions(node, a) {
    const box = node.querySelector('.c-actions');
    const busy = state.busy.get(a.id) || '';
    const show = mayAnswer(a);
    const key = show ? `${WG.lang()}|${busy}` : '';
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren();
    if (!show) return;
    const accept = el('button', 'accept', busy === 'accept' ? WG.t('c.sending') : WG.t('c.accept'));
    accept.type = 'button';
    accept.disabled = !!busy;
    accept.addEventListener('click', () => onAccept(a.id, node));
    const decline = el('button', 'decline', busy === 'decline' ? WG.t('c.sending') : WG.t('c.decline'));
    decline.type = 'button';
    decline.disabled = !!busy;
    decline.addEventListener('click', () => onDecline(a.id, node));
    box.append(accept, decline);
  }

  function renderCard(a, mine) {
    let node = cards.get(a.id);
    if (!node) { node = cardShell(a.id); cards.set(a.id, node); node.dataset.movedAt = String(Date.now()); }
    const lvl = level(a.priority);
    const cls = `card level-${lvl}${mine ? ' mine' : ''}${acceptedByMe(a) ? ' accepted-me' : ''}${ringing(a) ? ' ringing' : ''}`;
    if (node.className !== cls) node.className = cls;
    node.dataset.priority = a.priority || '';
    node.dataset.state = a.state || '';
    node.dataset.kind = a.kind || '';
    node.dataset.mine = mine ? 'true' : 'false';
    const p = myPage(a);
    node.dataset.myOutcome = p ? p.outcome : '';
    node.dataset.acceptedBy = (a.paging && a.paging.accepted_by) || '';
    setText(node.querySelector('.c-room'), whereText(a));
    setText(node.querySelector('.c-bed'), bedText(a));
    setText(node.querySelector('.c-elapsed'), WG.fmtElapsed(a.raised_ms, now()));
    setText(node.querySelector('.c-kind'), kindText(a));
    const prio = WG.t(`prio.${a.priority}`);
    setText(node.querySelector('.c-prio'), prio !== kindText(a) ? prio : '');
    setText(node.querySelector('.c-sub'), subText(a));
    setText(node.querySelector('.c-step'), stepText(a));
    const pagesBox = node.querySelector('.c-pages');
    const pages = [...pagesOf(a)].sort((x, y) => (x.step - y.step) || ((x.notified_ms || 0) - (y.notified_ms || 0)));
    while (pagesBox.children.length > pages.length) pagesBox.lastChild.remove();
    pages.forEach((pg, i) => {
      let li = pagesBox.children[i];
      if (!li) { li = el('li'); pagesBox.append(li); }
      const c = `page outcome-${pg.outcome}${pg.user === state.username ? ' me' : ''}`;
      if (li.className !== c) li.className = c;
      li.dataset.user = pg.user || '';
      setText(li, pageLine(pg));
    });
    const status = statusText(a);
    const statusBox = node.querySelector('.c-status');
    statusBox.className = `c-status${status ? ` status-${status.cls}` : ''}`;
    if (status) {
      if (!statusBox.firstChild) statusBox.append(el('p', 'c-status-text'), el('p', 'c-hint'));
      setText(statusBox.firstChild, status.text);
      setText(statusBox.lastChild, status.hint);
    } else {
      statusBox.replaceChildren();
    }
    renderActions(node, a);
    const err = state.errors.get(a.id);
    setText(node.querySelector('.c-error'), err && err.until > Date.now() ? WG.t(err.key, err.params) : '');
    setText(node.querySelector('.c-stale'), WG.t('c.stale'));
    return node;
  }

  /* Puts `wanted` into `parent` in order; a card that moves is marked. */
  function reorder(parent, wanted) {
    const keep = new Set(wanted);
    [...parent.children].forEach((child) => { if (!keep.has(child)) child.remove(); });
    wanted.forEach((node, i) => {
      if (parent.children[i] !== node) {
        parent.insertBefore(node, parent.children[i] || null);
        node.dataset.movedAt = String(Date.now());
      }
    });
  }

  function render() {
    for (const [id, e] of state.errors) if (e.until <= Date.now()) state.errors.delete(id);
    const all = [...state.alarms.values()].sort(byOrder);
    const mine = all.filter(isMine);
    const rest = all.filter((a) => !isMine(a));
    /* Calls paged to me and still open first among mine. */
    mine.sort((x, y) => (Number(ringing(y) || mayAnswer(y)) - Number(ringing(x) || mayAnswer(x))) || byOrder(x, y));
    reorder($('mine'), mine.map((a) => renderCard(a, true)));
    reorder($('rest'), rest.map((a) => renderCard(a, false)));
    for (const [id, node] of cards) if (!state.alarms.has(id)) { node.remove(); cards.delete(id); }
    const ready = state.everConnected;
    $('mine-empty').classList.toggle('hidden', mine.length > 0 || !ready);
    $('rest-empty').classList.toggle('hidden', rest.length > 0 || !ready);
    setText($('mine-count'), mine.length ? WG.t('c.count', { n: mine.length }) : '');
    setText($('rest-count'), rest.length ? WG.t('c.count', { n: rest.length }) : '');
    renderDuty();
    renderStatus();
    document.body.classList.toggle('ringing', mine.some(ringing));
    document.title = mine.some(ringing) ? `(${mine.filter(ringing).length}) ${WG.t('c.title')}` : WG.t('c.title');
  }

  /* The elapsed times and the paging lines tick every second. */
  function tick() {
    for (const [id, node] of cards) {
      const a = state.alarms.get(id);
      if (!a) continue;
      setText(node.querySelector('.c-elapsed'), WG.fmtElapsed(a.raised_ms, now()));
      const lis = node.querySelectorAll('.c-pages li');
      const pages = [...pagesOf(a)].sort((x, y) => (x.step - y.step) || ((x.notified_ms || 0) - (y.notified_ms || 0)));
      pages.forEach((pg, i) => { if (lis[i]) setText(lis[i], pageLine(pg)); });
    }
    if ([...state.errors.values()].some((e) => e.until <= Date.now())) render();
    if (!state.connected) renderConnLost();
    remind();
  }

  /* ---- duty: who I am, my shift, what I cover ---- */
  function renderDuty() {
    const me = state.me;
    const staff = state.staff;
    const name = (me && me.name) || state.username;
    setText($('duty-who'), me ? WG.t('c.who', { name, role: careRole(me.care_role) || WG.t(`role.${state.role}`) })
      : state.username);
    const shiftLine = $('duty-shift');
    const coverLine = $('duty-cover');
    const claimedLine = $('duty-claimed');
    const uncovered = $('duty-uncovered');
    $('claim-open').classList.toggle('hidden', !me || !state.rooms.length);
    if (!me) {
      setText(shiftLine, state.meKnown ? WG.t('c.not_staff', { user: state.username }) : '');
      setText(coverLine, '');
      setText(claimedLine, '');
      uncovered.classList.add('hidden');
      return;
    }
    const shift = staff && staff.shift;
    const next = staff && staff.next_shift;
    let line;
    if (me.on_duty && shift) line = WG.t('c.shift.on', { shift: shift.name || shift.id, start: hm(shift.start), end: hm(shift.end) });
    else line = shift ? WG.t('c.shift.off') : WG.t('c.shift.none');
    if (!me.on_duty && next) line += ` · ${WG.t('c.shift.next', { shift: next.name || next.id, start: hm(next.start) })}`;
    setText(shiftLine, line);
    const zones = (me.zones || []).map((z) => WG.t('c.zone.whole', { zone: zoneName(z) }));
    const rooms = (me.rooms || []).map((r) => roomName(r));
    if (me.on_duty) {
      setText(coverLine, zones.length || rooms.length ? WG.t('c.cover', { what: list([...zones, ...rooms]) }) : WG.t('c.cover.none'));
    } else {
      const nz = (me.next_zones || []).map((z) => WG.t('c.zone.whole', { zone: zoneName(z) }));
      const nr = (me.next_rooms || []).map((r) => roomName(r));
      setText(coverLine, nz.length || nr.length ? WG.t('c.cover.next', { what: list([...nz, ...nr]) }) : '');
    }
    const claimed = (me.claimed || []).map((r) => roomName(r));
    setText(claimedLine, claimed.length ? WG.t('c.claimed', { rooms: list(claimed) }) : '');
    const open = (staff && staff.uncovered_zones) || [];
    uncovered.classList.toggle('hidden', !open.length);
    setText(uncovered, open.length ? WG.t('c.uncovered', { zones: list(open.map((z) => z.name || zoneName(z.id))) }) : '');
  }

  /* ---- starting duty: sound, notifications, wake lock ---- */
  const AC = window.AudioContext || window.webkitAudioContext;
  let audio = null;
  /* Bursts as the station display's (display-sound.js): fire and emergency
   * the longest; vibration patterns to match. */
  const VIBRATE = {
    high: [400, 100, 400, 100, 400, 300, 400, 100, 400, 100, 400],
    medium: [400, 150, 400, 150, 400],
    low: [300, 150, 300],
  };
  function audioOn() { return !!audio && audio.state === 'running'; }
  function unlockAudio() {
    if (!AC) return;
    if (!audio) {
      try { audio = new AC(); } catch (e) { audio = null; return; }
      audio.onstatechange = renderStatus;
    }
    if (audio.state !== 'running') audio.resume().catch(() => {});
  }
  /* The wall's bursts (display-sound.js), on the phone's own context. */
  function playBurst(lvl) {
    if (!audioOn()) return false;
    const master = audio.createGain();
    master.gain.value = 0.6;
    master.connect(audio.destination);
    WGSound.scheduleBurst(audio, WGSound.harmonicWave(audio), lvl, master);
    return true;
  }

  async function takeWakeLock() {
    if (!state.duty || !('wakeLock' in navigator) || document.visibilityState !== 'visible') return;
    if (state.wakeLock && !state.wakeLock.released) return;
    try {
      state.wakeLock = await navigator.wakeLock.request('screen');
      state.wakeLock.addEventListener('release', renderStatus);
    } catch (e) {
      state.wakeLock = null;
    }
    renderStatus();
  }

  /* The gesture: sound and the wake lock at once; the notification question
   * after (a phone may leave it open for a while). */
  function startDuty() {
    state.duty = true;
    unlockAudio();
    takeWakeLock();
    if (navigator.vibrate) navigator.vibrate(60);
    hooks.dutyStarted = Date.now();
    renderStatus();
    render();
    if ('Notification' in window && window.isSecureContext && Notification.permission === 'default') {
      Promise.resolve(Notification.requestPermission()).catch(() => {}).then(renderStatus);
    }
  }

  function renderStatus() {
    $('start-box').classList.toggle('hidden', state.duty || !state.session);
    const box = $('duty-status');
    box.classList.toggle('hidden', !state.duty);
    if (!state.duty) return;
    const parts = [WG.t('c.status.on')];
    parts.push(audioOn() ? WG.t('c.status.sound') : WG.t('c.status.nosound'));
    parts.push(state.wakeLock && !state.wakeLock.released ? WG.t('c.status.wake') : WG.t('c.status.nowake'));
    if (window.isSecureContext && 'Notification' in window) {
      parts.push(Notification.permission === 'granted' ? WG.t('c.status.notify') : WG.t('c.status.nonotify'));
    }
    if (!navigator.vibrate) parts.push(WG.t('c.status.vibrate.none'));
    let text = parts.join(' · ');
    if (state.notice && state.notice.until > Date.now()) text += `\n${WG.t(state.notice.key, state.notice.params)}`;
    setText(box, text);
    box.classList.toggle('degraded', !audioOn() || !(state.wakeLock && !state.wakeLock.released));
  }

  /* ---- alerting: a new page to me rings, vibrates and, hidden, notifies ---- */
  let swRegistration = null;

  function alertFor(a, key) {
    state.lastAlertAt.set(a.id, Date.now());
    if (key !== undefined) state.alertedFor.set(a.id, key);
    const lvl = level(a.priority) === 'technical' ? 'low' : level(a.priority);
    const played = state.duty && playBurst(lvl);
    const vibrated = !!(state.duty && navigator.vibrate && navigator.vibrate(VIBRATE[lvl]));
    hooks.alerts.push({ id: a.id, level: lvl, played, vibrated, hidden: document.visibilityState === 'hidden', at: Date.now() });
    if (document.visibilityState === 'hidden') showNotification(a);
  }

  function showNotification(a) {
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    const title = WG.t('c.n.title', { room: [whereText(a), bedText(a)].filter(Boolean).join(' '), kind: kindText(a) });
    const body = [a.resident_label, WG.t(`prio.${a.priority}`), stepText(a)].filter(Boolean).join(' · ');
    const options = {
      body, tag: `alarm-${a.id}`, renotify: true, requireInteraction: level(a.priority) === 'high',
      icon: 'icons/carer.svg', badge: 'icons/carer.svg', data: { alarm: a.id, url: 'carer.html' },
      vibrate: VIBRATE[level(a.priority)] || VIBRATE.low,
    };
    hooks.notifications.push({ id: a.id, title, at: Date.now() });
    if (swRegistration) swRegistration.showNotification(title, options).catch(() => {});
    else { try { new Notification(title, options); } catch (e) { /* only through a service worker here */ } }
  }
  function closeNotification(id) {
    if (!swRegistration || !swRegistration.getNotifications) return;
    swRegistration.getNotifications({ tag: `alarm-${id}` }).then((list) => list.forEach((n) => n.close())).catch(() => {});
  }

  /* A call still ringing for me rings again every 15 s. */
  function remind() {
    if (!state.duty || !state.connected) return;
    for (const a of state.alarms.values()) {
      if (!ringing(a)) continue;
      if (Date.now() - (state.lastAlertAt.get(a.id) || 0) >= REMIND_MS) alertFor(a);
    }
  }

  /* ---- the receipt: this phone got the page ---- */
  function sendReceipt(id, notifiedMs) {
    if (state.receiving.has(id)) return;
    state.receiving.add(id);
    const sentAt = Date.now();
    WG.api('POST', `/api/v1/alarms/${encodeURIComponent(id)}/received`, {}).then(({ status, data }) => {
      hooks.receipts.push({ id, status, ms: Date.now() - sentAt, at: sentAt });
      if (status === 200) {
        if (notifiedMs !== undefined) state.receiptFor.set(id, notifiedMs);
        if (data && data.alarm) onAlarm(data.alarm);
      }
    }).catch(() => {
      hooks.receipts.push({ id, status: 0, ms: Date.now() - sentAt, at: sentAt });
    }).finally(() => { state.receiving.delete(id); });
  }
  /* Pages to me the gateway has not heard this phone confirm. */
  function confirmWaiting(a) {
    const p = myPage(a);
    if (!p || p.outcome !== 'waiting' || p.received_ms) return;
    if (state.receiptFor.get(a.id) !== p.notified_ms) sendReceipt(a.id, p.notified_ms);
    if (state.alertedFor.get(a.id) !== p.notified_ms && Date.now() - (state.lastAlertAt.get(a.id) || 0) > 3000) {
      alertFor(a, p.notified_ms);
    } else {
      state.alertedFor.set(a.id, p.notified_ms);
    }
  }

  function onNotify(msg) {
    const id = msg.alarm;
    if (typeof id !== 'string' || !id) return;
    hooks.lastNotify = { id, at: Date.now() };
    sendReceipt(id);
    const a = state.alarms.get(id);
    if (a) alertFor(a, msg.ts_ms);
    else state.waitingNotify.set(id, msg.ts_ms);
  }

  /* ---- accept and decline ---- */
  function failed(id, key, params) {
    state.errors.set(id, { key, params, until: Date.now() + ERROR_MS });
    render();
  }
  function statusKey(status) {
    if (status === 403) return 'c.err.403';
    if (status === 409) return 'c.err.409';
    if (status === 404) return 'c.err.404';
    if (status === 400) return 'c.err.400';
    return 'c.err.other';
  }
  function movedJustNow(node) { return Date.now() - Number(node.dataset.movedAt || 0) < MOVED_GUARD_MS; }

  async function answer(id, what, body) {
    state.busy.set(id, what);
    state.errors.delete(id);
    render();
    let res;
    try {
      res = await WG.api('POST', `/api/v1/alarms/${encodeURIComponent(id)}/${what}`, body);
    } catch (e) {
      state.busy.delete(id);
      failed(id, 'c.err.network');
      return null;
    }
    state.busy.delete(id);
    if (res.status === 200) {
      if (res.data && res.data.alarm) onAlarm(res.data.alarm);
      else render();
    } else {
      failed(id, statusKey(res.status), { status: res.status });
    }
    return res;
  }

  function onAccept(id, node) {
    if (movedJustNow(node)) { failed(id, 'c.err.moved'); return; }
    answer(id, 'accept', {});
  }

  let declining = null;
  function onDecline(id, node) {
    if (movedJustNow(node)) { failed(id, 'c.err.moved'); return; }
    const a = state.alarms.get(id);
    if (!a) return;
    declining = id;
    $('decline-title').textContent = WG.t('c.decline.title', { room: [whereText(a), bedText(a)].filter(Boolean).join(' ') });
    $('decline-error').classList.add('hidden');
    $('decline-text').value = '';
    $('decline-form').querySelector('input[value="busy"]').checked = true;
    $('decline-dialog').showModal();
  }
  function declineReason() {
    const choice = $('decline-form').querySelector('input[name="reason"]:checked');
    const text = $('decline-text').value.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, REASON_MAX);
    const base = choice && choice.value !== 'other' ? WG.t(`c.reason.${choice.value}`) : '';
    if (!base) return text;
    if (!text) return base;
    return `${base}：${text}`.slice(0, REASON_MAX);
  }
  async function sendDecline(event) {
    event.preventDefault();
    const reason = declineReason();
    const box = $('decline-error');
    if (!reason) { box.textContent = WG.t('c.reason.empty'); box.classList.remove('hidden'); $('decline-text').focus(); return; }
    const id = declining;
    $('decline-dialog').close();
    declining = null;
    if (id) await answer(id, 'decline', { reason });
  }

  /* ---- claiming rooms ---- */
  async function loadStaff() {
    let res;
    try { res = await WG.api('GET', '/api/v1/staff'); } catch (e) { return false; }
    if (res.status !== 200 || !res.data || typeof res.data !== 'object') return false;
    applyStaffReply(res.data);
    return true;
  }
  function applyStaffReply(data) {
    if (Array.isArray(data.rooms)) {
      state.rooms = data.rooms.filter((r) => r && r.id);
      for (const r of state.rooms) if (r.name) state.roomNames.set(r.id, r.name);
    }
    if (data.people) applyStaff(data, data.me);
  }
  function applyStaff(staff, me) {
    state.staff = staff;
    const people = Array.isArray(staff.people) ? staff.people : [];
    state.me = me !== undefined && me !== null ? me : (people.find((p) => p.user === state.username) || null);
    state.meKnown = true;
    for (const z of staff.uncovered_zones || []) if (z.id && z.name) state.zoneNames.set(z.id, z.name);
  }

  async function openClaim() {
    const listBox = $('claim-list');
    $('claim-error').classList.add('hidden');
    listBox.replaceChildren(el('p', 'notice-text', WG.t('c.claim.loading')));
    $('claim-dialog').showModal();
    await loadStaff();
    listBox.replaceChildren();
    if (!state.rooms.length) { listBox.append(el('p', 'notice-text', WG.t('c.claim.unavailable'))); return; }
    const claimed = new Set((state.me && state.me.claimed) || []);
    const byZone = new Map();
    for (const r of state.rooms) {
      if (!byZone.has(r.zone || '')) byZone.set(r.zone || '', []);
      byZone.get(r.zone || '').push(r);
    }
    for (const [zone, rooms] of byZone) {
      const set = el('fieldset', 'claim-zone');
      set.append(el('legend', '', zoneName(zone) || WG.t('site')));
      for (const r of rooms) {
        const label = el('label', 'choice claim-room');
        const box = el('input');
        box.type = 'checkbox';
        box.name = 'room';
        box.value = r.id;
        box.checked = claimed.has(r.id);
        label.append(box, el('span', '', roomName(r.id, r.name)));
        set.append(label);
      }
      listBox.append(set);
    }
  }
  async function saveClaim(rooms) {
    const errBox = $('claim-error');
    let res;
    try {
      res = await WG.api('POST', '/api/v1/staff/claim', { rooms });
    } catch (e) {
      errBox.textContent = WG.t('c.err.network');
      errBox.classList.remove('hidden');
      return;
    }
    if (res.status !== 200) {
      errBox.textContent = res.status === 403 ? WG.t('c.err.role') : WG.t('c.err.other', { status: res.status });
      errBox.classList.remove('hidden');
      return;
    }
    if (res.data && typeof res.data === 'object') applyStaffReply(res.data);
    $('claim-dialog').close();
    const names = rooms.map((r) => roomName(r));
    state.notice = rooms.length ? { key: 'c.claim.saved', params: { rooms: list(names) }, until: Date.now() + ERROR_MS }
      : { key: 'c.claim.released', until: Date.now() + ERROR_MS };
    setTimeout(renderStatus, ERROR_MS + 50);
    hooks.claimed = rooms;
    render();
    renderNoticeWhenOffDuty();
  }
  /* The claim's result shows under the start button too when duty is not started. */
  function renderNoticeWhenOffDuty() {
    if (state.duty) return;
    const hint = $('start-hint');
    if (state.notice && state.notice.until > Date.now()) {
      setText(hint, WG.t(state.notice.key, state.notice.params));
      setTimeout(() => setText(hint, WG.t('c.start.hint')), ERROR_MS);
    }
  }

  /* ---- the connection (feed.js) ---- */
  const feed = WGFeed.create({
    state,
    onMessage: (msg) => onMessage(msg),
    onLost: (why) => {
      hooks.connectEvents.push({ what: 'lost', why, at: Date.now() });
      document.body.classList.toggle('stale', state.everConnected);
      document.body.classList.add('connecting');
      renderConnLost();
    },
  });

  function renderConnLost() {
    const banner = $('conn-lost');
    const show = !state.connected && (state.everConnected || state.attempts > 1);
    banner.classList.toggle('hidden', !show);
    if (!show) return;
    if (!state.everConnected) {
      setText(banner.querySelector('.conn-title'), WG.t('c.conn.never'));
      setText(banner.querySelector('.conn-detail'), '');
    } else {
      setText(banner.querySelector('.conn-title'), WG.t('c.conn.lost', { t: clock(state.lastDataAt + state.clockOffset) }));
      setText(banner.querySelector('.conn-detail'), WG.t('c.conn.detail', { n: Math.max(1, state.attempts) }));
    }
  }

  function onSnapshot(msg) {
    state.alarms.clear();
    state.gone.clear();
    for (const a of msg.alarms || []) if (a && a.id && a.state !== 'reset') state.alarms.set(a.id, a);
    if (typeof msg.ts_ms === 'number') state.clockOffset = msg.ts_ms - Date.now();
    if (typeof msg.timezone === 'string' || typeof msg.utc_offset_min === 'number') WG.setTimeZone(msg.timezone, msg.utc_offset_min);
    state.site = msg.site || state.site;
    state.username = msg.username || state.username;
    state.role = msg.role || state.role;
    if (msg.staff && typeof msg.staff === 'object') applyStaff(msg.staff, msg.me);
    else if ('me' in msg) { state.me = msg.me || null; state.meKnown = true; }
    for (const a of state.alarms.values()) {
      if (a.zone && a.zone_name) state.zoneNames.set(a.zone, a.zone_name);
    }
    state.connected = true;
    state.everConnected = true;
    feed.snapshotTaken();
    hooks.connectEvents.push({ what: 'snapshot', at: Date.now() });
    document.body.classList.remove('stale', 'connecting');
    renderHeader();
    renderConnLost();
    render();
    for (const a of state.alarms.values()) confirmWaiting(a);
  }

  function onAlarm(a) {
    if (!a || !a.id) return;
    const known = state.alarms.get(a.id);
    /* Paging changes (a receipt, a timeout) may come with the same update:
     * only an older update is ignored. */
    if (known && Number(a.update) < Number(known.update)) return;
    const gone = state.gone.get(a.id);
    if (gone !== undefined && gone >= Number(a.update)) return;
    if (a.state === 'reset') {
      state.alarms.delete(a.id);
      state.gone.set(a.id, Number(a.update));
      state.errors.delete(a.id);
      closeNotification(a.id);
      if (declining === a.id && $('decline-dialog').open) $('decline-dialog').close();
    } else {
      state.alarms.set(a.id, a);
      if (a.zone && a.zone_name) state.zoneNames.set(a.zone, a.zone_name);
      if (state.waitingNotify.has(a.id)) {
        const ts = state.waitingNotify.get(a.id);
        state.waitingNotify.delete(a.id);
        alertFor(a, ts);
      }
      if (!mayAnswer(a)) closeNotification(a.id);
    }
    render();
    if (a.state !== 'reset') confirmWaiting(state.alarms.get(a.id));
  }

  function onHeartbeat(msg) {
    if (typeof msg.ts_ms === 'number') state.clockOffset = msg.ts_ms - Date.now();
  }

  function onMessage(msg) {
    switch (msg.type) {
      case 'snapshot': onSnapshot(msg); break;
      case 'alarm': if (state.connected) onAlarm(msg.alarm); break;
      case 'notify': if (state.connected) onNotify(msg); break;
      case 'staff': if (msg.staff && typeof msg.staff === 'object') { applyStaff(msg.staff); render(); } break;
      case 'heartbeat': onHeartbeat(msg); break;
      default: break;
    }
  }
  if (window.__WG_TEST_HOOKS__) hooks.inject = (msg) => { state.lastDataAt = Date.now(); onMessage(msg); };

  /* ---- header, language ---- */
  function renderHeader() {
    const name = (state.site && state.site.name) || '';
    setText($('site-name'), name);
  }
  function applyLanguage() {
    document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
    WG.translatePage();
    renderHeader();
    renderConnLost();
    renderOffline();
    render();
  }

  function renderOffline() {
    const off = navigator.onLine === false;
    const banner = $('offline');
    banner.classList.toggle('hidden', !off);
    setText(banner, off ? WG.t('c.offline') : '');
    document.body.classList.toggle('offline', off);
  }

  /* ---- HTTPS: service worker, or what is missing ---- */
  function setUpSecure() {
    const secure = window.isSecureContext === true;
    $('insecure').classList.toggle('hidden', secure);
    hooks.secure = secure;
    if (!secure || !('serviceWorker' in navigator)) return;
    navigator.serviceWorker.register('carer-sw.js', { scope: 'carer' }).then((reg) => {
      swRegistration = reg;
      hooks.serviceWorker = true;
    }).catch((e) => { hooks.serviceWorkerError = String(e); });
  }

  /* ---- start ---- */
  async function start() {
    document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
    WG.translatePage();
    $('lang-toggle').addEventListener('click', () => WG.setLang(WG.lang() === 'zh' ? 'en' : 'zh'));
    document.addEventListener('wg-lang', applyLanguage);
    window.addEventListener('online', renderOffline);
    window.addEventListener('offline', renderOffline);
    renderOffline();
    setUpSecure();
    renderStatus();
    await WGFeed.reachable(() => { state.attempts++; renderConnLost(); renderOffline(); });
    state.attempts = 0;
    const session = await WG.requireRole('nurse');
    if (!session) {
      if (WG.session) {
        $('forbidden').textContent = WG.t('c.forbidden', { user: WG.session.username });
        $('forbidden').classList.remove('hidden');
        $('duty').classList.add('hidden');
      }
      return;
    }
    state.session = session;
    state.username = session.username;
    state.role = session.role;
    $('duty').classList.remove('hidden');
    $('logout').addEventListener('click', () => { if (window.confirm(WG.t('c.logout.ask'))) WG.logout(); });
    $('start-duty').addEventListener('click', startDuty);
    document.addEventListener('pointerdown', () => { if (state.duty && !audioOn()) unlockAudio(); }, true);
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') takeWakeLock(); });
    $('claim-open').addEventListener('click', openClaim);
    $('claim-cancel').addEventListener('click', () => $('claim-dialog').close());
    $('claim-none').addEventListener('click', () => saveClaim([]));
    $('claim-form').addEventListener('submit', (e) => {
      e.preventDefault();
      saveClaim([...$('claim-list').querySelectorAll('input[name="room"]:checked')].map((b) => b.value));
    });
    $('decline-form').addEventListener('submit', sendDecline);
    $('decline-cancel').addEventListener('click', () => { declining = null; $('decline-dialog').close(); });
    WG.api('GET', '/api/v1/meta').then(({ status, data }) => {
      if (status !== 200 || !data) return;
      for (const z of data.zones || []) if (z.id) state.zoneNames.set(z.id, z.name || z.id);
      for (const r of data.rooms || []) if (r.id && r.name) state.roomNames.set(r.id, r.name);
      render();
    }).catch(() => {});
    loadStaff().then(render);
    renderStatus();
    render();
    setTimeout(() => { tick(); setInterval(tick, 1000); }, 1000 - (Date.now() % 1000));
    feed.start();
  }

  start();
})();
