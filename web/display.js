/* The nurse-station display (docs/api.md "WebSocket /ws"): the wall screen,
 * a tablet, a carer's phone.
 *
 * One WebSocket (subprotocol wardgate.v1): the first message is a snapshot
 * that replaces everything; then alarm deltas by id and update counter (a
 * stale update is ignored, a reset alarm leaves; the same update again only
 * to say it is now journaled), a heartbeat every second (with the storage
 * state) and the results of our acknowledgements. Silence from the server
 * for 3.5 s, or a closed socket, shows the lost-connection banner, keeps the
 * last known calls on screen marked stale, and reconnects with back-off
 * (0.5 s doubling to 5 s); the next snapshot replaces everything.
 *
 * Calls are sorted by priority, then age (oldest first), in bands: fire and
 * emergency, then calls nobody acknowledged, then calls in hand; the board's
 * card sizes come from display-layout.js. What does not fit scrolls under
 * the pinned emergencies, and a bar counts what is out of view with its
 * longest wait. Colours and flashing follow IEC 60601-1-8 (display.css);
 * sound is display-sound.js. There is no reset here: a call is reset only
 * at its origin. Every text from the server goes in through textContent. */
'use strict';

(() => {
  WG.addStrings({
    zh: {
      'd.title': '护士站', 'd.count.calls': '呼叫', 'd.count.unack': '未确认', 'd.count.technical': '技术报警',
      'd.calls.title': '呼叫', 'd.sound.enable': '启用声音', 'd.silence': '静音 2 分钟', 'd.silenced': '已静音 {t}',
      'd.sound.unsupported': '此浏览器不能发声',
      'd.conn.lost': '与网关的连接已中断', 'd.conn.detail': '正在重新连接（第 {n} 次）… 下方显示的是 {t} 的数据，可能已过期',
      'd.conn.never': '正在连接网关…', 'd.link.ok': '已连接 · {n} 台设备', 'd.link.offline': '离线 {n} 台',
      'd.link.connecting': '正在连接…', 'd.link.lost': '连接中断',
      'd.empty': '当前没有呼叫',
      'd.offscreen': '屏幕外还有 {n} 个呼叫', 'd.offscreen.unack': '（其中 {k} 个未确认）', 'd.offscreen.oldest': '最久已等 {t}',
      'd.scroll.up': '上一屏', 'd.scroll.down': '下一屏',
      'd.technical.title': '技术报警', 'd.technical.none': '所有设备正常', 'd.technical.more': '还有 {n} 条',
      'd.storage.title': '存储故障：新事件暂时无法保存',
      'd.storage.detail': '{reason}。{waiting} 条事件暂存在内存中等待写入。呼叫照常显示、照常确认；请立即通知维护人员。',
      'd.storage.detail.short': '{reason}。呼叫照常显示、照常确认；请立即通知维护人员。',
      'd.journal.pending': '未存档', 'd.journal.pending.long': '这条变化尚未写入存储',
      'd.fire.title': '火警', 'd.fire.instruction': '请立即按消防应急预案处置',
      'd.fire.others': '另有 {n} 个呼叫 · 最久已等 {t}', 'd.fire.others.emergency': '另有 {n} 个呼叫（其中紧急 {e} 个）· 最久已等 {t}',
      'd.fire.others.none': '没有其他呼叫',
      'd.fire.show_calls': '查看呼叫列表', 'd.fire.expand': '全屏显示火警',
      'd.ack': '确认', 'd.ack.pending': '确认中…', 'd.ack.failed': '确认失败：{e}', 'd.ack.timeout': '网关没有应答',
      'd.ack.offline': '未连接网关', 'd.ack.moved': '卡片刚刚移动过，请看清后再按', 'd.stale': '可能已过期',
      'd.ack.role': '需要护理员或更高权限', 'd.ack.gone': '这个呼叫已经结束', 'd.ack.attended': '这个呼叫已有人确认或已到场',
      'd.ack.refused': '网关拒绝了确认',
      'd.bed': '{b} 床', 'd.room': '{r}', 'd.since': '{t} 起', 'd.escalated': '已升级至第 {n} 级', 'd.reannounced': '再次提醒',
      'd.fault_escalated': '超过 {h} 小时未修复，已上报主管',
      'd.logout.title': '退出登录？', 'd.logout.text': '退出后，这块屏幕将不再显示呼叫，直到有人重新登录。',
      'd.logout.cancel': '继续显示呼叫', 'd.logout.confirm': '退出登录',
      'site': '全院',
    },
    en: {
      'd.title': 'Nurse station', 'd.count.calls': 'calls', 'd.count.unack': 'not acknowledged',
      'd.count.technical': 'technical', 'd.calls.title': 'Calls', 'd.sound.enable': 'Enable sound', 'd.silence': 'Silence 2 min',
      'd.silenced': 'Silenced {t}', 'd.sound.unsupported': 'This browser cannot play sound',
      'd.conn.lost': 'Connection to the gateway lost', 'd.conn.detail': 'Reconnecting (attempt {n})… the calls below are as of {t} and may be out of date',
      'd.conn.never': 'Connecting to the gateway…', 'd.link.ok': 'connected · {n} devices', 'd.link.offline': '{n} offline',
      'd.link.connecting': 'connecting…', 'd.link.lost': 'connection lost',
      'd.empty': 'No calls',
      'd.offscreen': '{n} more calls out of view', 'd.offscreen.unack': ' ({k} not acknowledged)', 'd.offscreen.oldest': 'longest wait {t}',
      'd.scroll.up': 'Previous screen', 'd.scroll.down': 'Next screen',
      'd.technical.title': 'Technical', 'd.technical.none': 'All devices working', 'd.technical.more': '{n} more',
      'd.storage.title': 'Storage failing: new events cannot be saved',
      'd.storage.detail': '{reason}. {waiting} events are held in memory, waiting to be saved. Calls still show and can be acknowledged; tell maintenance now.',
      'd.storage.detail.short': '{reason}. Calls still show and can be acknowledged; tell maintenance now.',
      'd.journal.pending': 'not saved yet', 'd.journal.pending.long': 'this change is not saved to storage yet',
      'd.fire.title': 'FIRE', 'd.fire.instruction': 'Follow the fire emergency plan now',
      'd.fire.others': '{n} other calls · longest wait {t}', 'd.fire.others.emergency': '{n} other calls ({e} emergency) · longest wait {t}',
      'd.fire.others.none': 'No other calls',
      'd.fire.show_calls': 'Show the calls', 'd.fire.expand': 'Full-screen fire view',
      'd.ack': 'Acknowledge', 'd.ack.pending': 'Sending…', 'd.ack.failed': 'Not acknowledged: {e}',
      'd.ack.timeout': 'the gateway did not answer', 'd.ack.offline': 'not connected',
      'd.ack.moved': 'The card just moved; check it and press again', 'd.stale': 'may be out of date',
      'd.ack.role': 'needs the nurse role or higher', 'd.ack.gone': 'this call has ended',
      'd.ack.attended': 'this call is already acknowledged or attended', 'd.ack.refused': 'the gateway refused it',
      'd.bed': 'Bed {b}', 'd.room': 'Room {r}', 'd.since': 'since {t}', 'd.escalated': 'escalated to level {n}',
      'd.fault_escalated': 'not fixed for over {h} h: the manager is told',
      'd.reannounced': 'reminder',
      'd.logout.title': 'Log out?', 'd.logout.text': 'After logging out this screen shows no calls until someone logs in again.',
      'd.logout.cancel': 'Keep showing calls', 'd.logout.confirm': 'Log out',
      'site': 'Site',
    },
  });

  const $ = (id) => document.getElementById(id);
  const PRIORITY_RANK = { advisory: 0, technical: 1, normal: 2, urgent: 3, emergency: 4, fire: 5 };
  const TECHNICAL = new Set(['technical', 'advisory']);
  /* Detail codes that only repeat what the kind already says on a card. */
  const REPEATS_KIND = new Set(['call', 'pull_cord', 'smoke', 'fire_zone']);
  const level = WGSound.level;
  const ACK_TIMEOUT_MS = 5000;
  const ACK_ERROR_MS = 8000;
  /* The server closes a socket that sends over 20 frames in 10 s: at most
   * 18 acknowledgements go by WebSocket in any 11 s, the rest by HTTP. */
  const WS_ACK_BUDGET = 18;
  const WS_ACK_WINDOW_MS = 11000;
  /* A press on a card that moved this recently is not taken as an
   * acknowledgement: the finger may have aimed at the card before it. */
  const MOVED_GUARD_MS = 450;
  const AUTO_SCROLL_MS = 10000;  /* the wall display shows the next screen of calls */
  const IDLE_MS = 30000;         /* ... once nobody has touched it for this long */
  const LOGOUT_DIALOG_MS = 20000;
  const LIST_QUERY = '(max-width: 759px), (max-height: 479px)'; /* the same as display.css */

  /* ---- state ---- */
  const state = {
    session: null,
    role: 'station',
    username: '',
    site: null,
    devicesTotal: 0,
    alarms: new Map(),       /* id -> alarm record (active ones only) */
    gone: new Map(),         /* id -> update of its reset, so a late delta cannot revive it */
    clockOffset: 0,          /* server ms - local ms */
    connected: false,
    everConnected: false,
    lastSnapshotAt: 0,
    lastDataAt: 0,
    attempts: 0,
    ackErrors: new Map(),    /* alarm id -> {key, params} or {refusal: the server's text}, and until */
    pendingAcks: new Map(),  /* ref -> {id, timer} */
    wsAckTimes: [],          /* when the last WebSocket acknowledgements went */
    nextRef: 1,
    fireCollapsedFor: '',    /* the fire alarm ids the view was collapsed for */
    storage: { failing: false, reason: null, waiting: null },
    lastTouch: 0,            /* the last time someone touched the board */
  };
  const now = () => Date.now() + state.clockOffset;
  const testBanner = WGTestBanner.create($('test-banner'), now);

  /* Test hooks: read-only views of what the page shows and plays. */
  const hooks = { bursts: [], connectEvents: [] };
  window.WGDisplay = hooks;

  function rank(a) { return a.priority_level ?? PRIORITY_RANK[a.priority] ?? 0; }
  function byDisplayOrder(a, b) {
    return rank(b) - rank(a) || (a.raised_ms || 0) - (b.raised_ms || 0) || String(a.id).localeCompare(String(b.id));
  }
  function activeAlarms() { return [...state.alarms.values()].sort(byDisplayOrder); }
  function isCall(a) { return !TECHNICAL.has(a.priority); }

  /* ---- small DOM helpers ---- */
  const { el, setText } = WG;
  function setAttr(node, name, value) {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  }
  function setClass(node, name) { if (node.className !== name) node.className = name; }
  /* Puts `wanted` children into `parent` in order, moving only what is out of
   * place (a moved node restarts its flashing: syncFlashes puts it back in step). */
  function reorder(parent, wanted) {
    const keep = new Set(wanted);
    [...parent.children].forEach((child) => { if (!keep.has(child)) child.remove(); });
    wanted.forEach((node, i) => {
      if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
    });
  }

  /* ---- words ---- */
  function kindText(a) { const key = `kind.${a.kind}`; const t = WG.t(key); return t === key ? a.kind : t; }
  function bedText(a) {
    if (!a.bed) return '';
    const room = a.room || '';
    const label = room && a.bed.startsWith(`${room}-`) ? a.bed.slice(room.length + 1) : a.bed;
    return WG.t('d.bed', { b: label });
  }
  /* The big name on a card: the mapped place of a detector or fire zone;
   * else the room ("204室" in Chinese, "Room 204" in English: a room whose
   * id is a number is named by it, never "Room 204室"); else the zone, the
   * device, the site. */
  function roomText(a) {
    if (a.place) return a.place;
    if (a.room && /^\d/.test(a.room)) {
      return WG.lang() === 'en' ? WG.t('d.room', { r: a.room }) : (a.room_name || a.room);
    }
    return a.room_name || a.room || a.zone_name || a.zone || a.device_label || a.device || WG.t('site');
  }
  /* The fire panel's zone, loop and address, when the alarm has them. */
  function fireZoneText(a) {
    const parts = [];
    if (a.fire_zone !== undefined && a.fire_zone !== null) parts.push(WG.t('fire.zone', { zone: a.fire_zone }));
    if (a.fire_loop !== undefined && a.fire_loop !== null && a.fire_address !== undefined && a.fire_address !== null) {
      parts.push(WG.t('fire.point', { loop: a.fire_loop, address: a.fire_address }));
    } else if (a.fire_address !== undefined && a.fire_address !== null) {
      parts.push(WG.t('fire.address', { address: a.fire_address }));
    }
    return parts.join(' · ');
  }
  function placeText(a) {
    const where = a.place ? [a.place] : [a.zone_name || a.zone, roomText(a), a.bed ? bedText(a) : ''];
    return [...new Set(where.filter(Boolean))].join(' · ') || a.device_label || a.device || WG.t('site');
  }
  function stateText(a) {
    if (a.state === 'acknowledged') {
      return a.acknowledged_by ? WG.t('state.acknowledged', { who: WGPaging.nameOf(a.acknowledged_by) })
        : WG.t('state.acknowledged.anon');
    }
    return WG.t(`state.${a.state}`);
  }
  /* The second line of a call: who, and what exactly (detail words; the
   * fire zone; a mapped place's room). */
  function subText(a) {
    const parts = [a.resident_label || ''];
    const zoneText = fireZoneText(a);
    if (zoneText) parts.push(zoneText);
    if (a.place && (a.room_name || a.room)) parts.push(a.room_name || a.room);
    const detail = REPEATS_KIND.has(a.detail_code) ? '' : WG.alarmDetail(a);
    if (detail && detail.toLowerCase() !== kindText(a).toLowerCase()) parts.push(detail);
    return parts.filter(Boolean).join(' · ');
  }
  function clockText(ms) { return WG.fmtTime(ms).slice(11); }
  function mayAck() { return WG.roleAtLeast(state.role, 'nurse'); }
  function oldestWait(list) {
    const first = Math.min(...list.map((a) => a.raised_ms || Infinity));
    return Number.isFinite(first) ? WG.fmtElapsed(first, now()) : '';
  }

  /* ---- acknowledging ---- */

  function ackFailed(id, key, params) {
    state.ackErrors.set(id, { key, params, until: Date.now() + ACK_ERROR_MS });
    render();
  }

  function acknowledge(id) {
    const socket = feed.open();
    if (!socket || !state.connected) {
      ackFailed(id, 'd.ack.failed', { e: WG.t('d.ack.offline') });
      return;
    }
    const ref = state.nextRef++;
    const timer = setTimeout(() => {
      if (!state.pendingAcks.delete(ref)) return;
      ackFailed(id, 'd.ack.failed', { e: WG.t('d.ack.timeout') });
    }, ACK_TIMEOUT_MS);
    state.pendingAcks.set(ref, { id, timer });
    state.ackErrors.delete(id);
    const csrf = (WG.session && WG.session.csrf) || (state.session && state.session.csrf) || '';
    const t = Date.now();
    state.wsAckTimes = state.wsAckTimes.filter((at) => t - at < WS_ACK_WINDOW_MS);
    if (state.wsAckTimes.length < WS_ACK_BUDGET) {
      state.wsAckTimes.push(t);
      socket.send(JSON.stringify({ type: 'ack', alarm: id, ref, csrf }));
    } else {
      /* Over the socket's frame budget: the same acknowledgement by HTTP. */
      WG.api('POST', `/api/v1/alarms/${encodeURIComponent(id)}/ack`, {})
        .then(({ status, data }) => onResult({ ref, ok: status === 200, error: data && data.error }))
        .catch(() => {
          const p = state.pendingAcks.get(ref);
          if (!p) return;
          clearTimeout(p.timer);
          state.pendingAcks.delete(ref);
          ackFailed(id, 'd.ack.failed', { e: WG.t('d.ack.offline') });
        });
    }
    render();
  }
  /* A refusal from the server (its English text) in the page's language. */
  function refusalText(error) {
    const text = String(error || '');
    if (WG.lang() === 'en') return text || WG.t('d.ack.refused');
    if (/nurse role/.test(text)) return WG.t('d.ack.role');
    if (/^no active alarm/.test(text)) return WG.t('d.ack.gone');
    if (/is already (acknowledged|attended|reset)/.test(text)) return WG.t('d.ack.attended');
    return WG.t('d.ack.refused');
  }
  function ackPending(id) { return [...state.pendingAcks.values()].some((p) => p.id === id); }

  /* The acknowledge button, or the state of the call, and any refusal. */
  function ackControls(container, a) {
    const wanted = mayAck() && a.state === 'raised';
    let button = container.querySelector('button.ack');
    if (wanted && !button) {
      button = el('button', 'ack');
      button.type = 'button';
      button.addEventListener('pointerdown', () => { button.dataset.pressedAt = String(Date.now()); });
      button.addEventListener('click', () => {
        const card = button.closest('[data-alarm-id]');
        const pressed = Number(button.dataset.pressedAt || Date.now());
        delete button.dataset.pressedAt;
        if (card && pressed - Number(card.dataset.movedAt || 0) < MOVED_GUARD_MS) {
          ackFailed(a.id, 'd.ack.moved');
          return;
        }
        acknowledge(a.id);
      });
      container.prepend(button);
    } else if (!wanted && button) {
      button.remove();
      button = null;
    }
    if (button) {
      const pending = ackPending(a.id);
      button.disabled = pending || !state.connected;
      setText(button, WG.t(pending ? 'd.ack.pending' : 'd.ack'));
      /* The place in the name: "确认 204室 A 床" for a screen reader. */
      button.setAttribute('aria-label', `${WG.t(pending ? 'd.ack.pending' : 'd.ack')} ${placeText(a)}`);
    }
    let error = container.querySelector('.ack-error');
    const failure = state.ackErrors.get(a.id);
    if (failure && failure.until > Date.now()) {
      if (!error) { error = el('div', 'ack-error'); error.setAttribute('role', 'alert'); container.append(error); }
      setText(error, failure.refusal !== undefined ? WG.t('d.ack.failed', { e: refusalText(failure.refusal) })
        : WG.t(failure.key, failure.params));
    } else if (error) {
      error.remove();
    }
  }

  /* ---- cards ---- */
  const cards = new Map(); /* id -> element, calls and technical alike */

  /* Every flashing thing flashes in step, whatever its age: each flash
   * animation (display.css, names starting "flash-" or "fire-") is set to
   * have started at the document's time origin, again whenever a card is
   * added or moved (which restarts its CSS animation). */
  function syncFlashes() {
    for (const animation of document.getAnimations()) {
      const name = animation.animationName || '';
      if ((name.startsWith('flash-') || name.startsWith('fire-')) && animation.startTime !== 0) animation.startTime = 0;
    }
  }

  /* Notes the cards whose place on screen changed (moved in the DOM, a new
   * size, scrolled), for the guard against presses aimed at another card. */
  function noteMoves(nodes) {
    const t = String(Date.now());
    for (const node of nodes) {
      const r = node.getBoundingClientRect();
      const key = `${Math.round(r.left)},${Math.round(r.top)},${Math.round(r.width)},${Math.round(r.height)}`;
      if (node.dataset.rect !== key) { node.dataset.rect = key; node.dataset.movedAt = t; }
    }
  }
  function callNodes() {
    return [...pinnedBand.children, ...WGLayout.BANDS.flatMap((b) => [...bandBoxes[b].children])];
  }

  function journalMark(parent, a) {
    let mark = parent.querySelector('.journal-pending');
    if (a.journaled === false) {
      if (!mark) { mark = el('span', 'journal-pending'); parent.append(mark); }
      setText(mark, WG.t('d.journal.pending'));
      mark.title = WG.t('d.journal.pending.long');
    } else if (mark) {
      mark.remove();
    }
  }

  function callCard(a, size) {
    let node = cards.get(a.id);
    if (!node || !node.classList.contains('call')) {
      if (node) node.remove();
      node = el('article', 'call');
      node.append(el('div', 'lamp'));
      const where = el('div', 'where');
      where.append(el('span', 'room'), el('span', 'bed'));
      const what = el('div', 'what');
      const sub = el('div', 'sub');
      sub.append(el('span', 'resident'), el('span', 'flags'), el('span', 'paging'));
      what.append(el('span', 'kind'), sub);
      const time = el('div', 'time');
      time.append(el('span', 'elapsed'), el('span', 'since'), el('span', 'stale-tag'));
      const actions = el('div', 'actions');
      actions.append(el('span', 'badge state'));
      node.append(where, what, time, actions);
      cards.set(a.id, node);
    }
    const lvl = level(a.priority);
    setClass(node, `call size-${size} level-${lvl} prio-${a.priority}`);
    setAttr(node, 'data-alarm-id', a.id);
    setAttr(node, 'data-priority', a.priority);
    setAttr(node, 'data-state', a.state);
    setAttr(node, 'data-kind', a.kind);
    setAttr(node, 'data-journaled', a.journaled === false ? 'false' : 'true');
    setText(node.querySelector('.room'), roomText(a));
    setText(node.querySelector('.bed'), a.place ? '' : bedText(a));
    setText(node.querySelector('.kind'), kindText(a));
    setText(node.querySelector('.resident'), subText(a));
    const paging = node.querySelector('.paging');
    setText(paging, WGPaging.summary(a, now()));
    paging.classList.toggle('coming', !!(a.paging && a.paging.accepted_by));
    const flags = node.querySelector('.flags');
    const escalated = a.escalation_level > 0 && a.state !== 'attended' ? WG.t('d.escalated', { n: a.escalation_level }) : '';
    const reannounced = a.reannunciations > 0 && a.state === 'raised' ? WG.t('d.reannounced') : '';
    for (const [cls, text] of [['escalated', escalated], ['reannounced', reannounced]]) {
      let flag = flags.querySelector(`.${cls}`);
      if (text && !flag) { flag = el('span', `flag ${cls}`); flags.append(flag); }
      if (flag && !text) flag.remove();
      else if (flag) setText(flag, text);
    }
    journalMark(flags, a);
    setText(node.querySelector('.elapsed'), WG.fmtElapsed(a.raised_ms, now()));
    setText(node.querySelector('.since'), WG.t('d.since', { t: clockText(a.raised_ms) }));
    setText(node.querySelector('.stale-tag'), WG.t('d.stale'));
    const badge = node.querySelector('.badge.state');
    setClass(badge, `badge state state-${a.state}`);
    setText(badge, stateText(a));
    node.setAttribute('aria-label', [WG.t(`prio.${a.priority}`), placeText(a), kindText(a), stateText(a)].join(' · '));
    ackControls(node.querySelector('.actions'), a);
    node.classList.toggle('has-ack', !!node.querySelector('button.ack'));
    return node;
  }

  function techCard(a) {
    let node = cards.get(a.id);
    if (!node || !node.classList.contains('tech')) {
      if (node) node.remove();
      node = el('div', 'tech');
      const head = el('div', 't-head');
      head.append(el('span', 't-kind'), el('span', 't-elapsed'));
      node.append(el('div', 't-where'), head, el('div', 't-detail'), el('div', 't-escalated'), el('div', 't-actions'),
        el('span', 'stale-tag'));
      cards.set(a.id, node);
    }
    setClass(node, `tech prio-${a.priority}`);
    setAttr(node, 'data-alarm-id', a.id);
    setAttr(node, 'data-priority', a.priority);
    setAttr(node, 'data-state', a.state);
    setAttr(node, 'data-kind', a.kind);
    setAttr(node, 'data-journaled', a.journaled === false ? 'false' : 'true');
    const where = a.kind === 'storage_failing' ? [WG.t('site')]
      : a.kind === 'phone_offline' ? [a.detail_args && a.detail_args.name, a.zone_name]
        : [a.device_label || a.device, a.place || a.room_name || a.room];
    setText(node.querySelector('.t-where'), [...new Set(where.filter(Boolean))].join(' · ') || WG.t('site'));
    setText(node.querySelector('.t-kind'), kindText(a));
    const detail = [WG.alarmDetail(a), fireZoneText(a)].filter(Boolean).join(' · ');
    setText(node.querySelector('.t-detail'), detail === kindText(a) ? '' : detail);
    /* A fault left open past escalation.fault_escalate_s (2 h) went to the manager. */
    const hours = Math.max(1, Math.floor((now() - a.raised_ms) / 3600000));
    setText(node.querySelector('.t-escalated'), a.escalation_level > 0 ? WG.t('d.fault_escalated', { h: hours }) : '');
    setText(node.querySelector('.t-elapsed'), WG.fmtElapsed(a.raised_ms, now()));
    setText(node.querySelector('.stale-tag'), WG.t('d.stale'));
    const actions = node.querySelector('.t-actions');
    ackControls(actions, a);
    let st = actions.querySelector('.t-state');
    if (a.state !== 'raised') {
      if (!st) { st = el('span', 't-state'); actions.append(st); }
      setText(st, stateText(a));
    } else if (st) {
      st.remove();
    }
    journalMark(actions, a);
    return node;
  }

  /* ---- fire ---- */
  function fireItem(a) {
    const item = el('div', 'fire-item');
    item.dataset.alarmId = a.id;
    const left = el('div', 'f-left');
    const zoneText = fireZoneText(a);
    left.append(el('div', 'f-where', placeText(a)));
    if (zoneText) left.append(el('div', 'f-zone', zoneText));
    left.append(el('div', 'f-what', [kindText(a), a.place ? (a.room_name || a.room) : '', a.device_label || a.device]
      .filter(Boolean).join(' · ')));
    const right = el('div', 'f-right');
    if (a.state !== 'raised') right.append(el('div', 'f-state', stateText(a)));
    ackControls(right, a);
    journalMark(right, a);
    item.append(left, el('div', 'f-elapsed', WG.fmtElapsed(a.raised_ms, now())), right);
    return item;
  }

  function renderFire(alarms) {
    const fires = alarms.filter((a) => a.priority === 'fire');
    const view = $('fire-view');
    const banner = $('fire-banner');
    document.body.classList.toggle('fire', fires.length > 0);
    if (!fires.length) {
      view.classList.add('hidden');
      banner.classList.add('hidden');
      state.fireCollapsedFor = '';
      return;
    }
    const ids = fires.map((a) => a.id).sort().join(',');
    /* Collapsed by a nurse to see the calls: stays so until another fire alarm arrives. */
    const collapsed = state.fireCollapsedFor !== '' && ids.split(',').every((id) => state.fireCollapsedFor.split(',').includes(id));
    const others = alarms.filter((a) => a.priority !== 'fire' && isCall(a));
    const emergencies = others.filter((a) => a.priority === 'emergency').length;
    const othersBox = $('fire-others');
    othersBox.classList.toggle('none', others.length === 0);
    othersBox.dataset.count = String(others.length);
    const othersKey = emergencies ? 'd.fire.others.emergency' : 'd.fire.others';
    setText(othersBox, others.length ? WG.t(othersKey, { n: others.length, e: emergencies, t: oldestWait(others) })
      : WG.t('d.fire.others.none'));
    /* The list is small and changes rarely: rebuilt, but only when it changed. */
    const signature = JSON.stringify([WG.lang(), fires.map((a) => [a.id, a.update, a.state, a.journaled]),
      fires.map((a) => ackPending(a.id)), [...state.ackErrors.keys()], state.role, state.connected]);
    const list = $('fire-list');
    if (list.dataset.signature !== signature) {
      list.dataset.signature = signature;
      list.replaceChildren(...fires.map(fireItem));
    }
    setText(banner.querySelector('.fire-banner-where'), [...new Set(fires.map((a) => [placeText(a), fireZoneText(a)]
      .filter(Boolean).join(' · ')))].join('；'));
    view.classList.toggle('hidden', collapsed);
    banner.classList.toggle('hidden', !collapsed);
  }

  /* ---- the board of calls ---- */
  const board = $('board');
  const scroller = $('calls');
  const pinnedBand = $('calls-pinned').querySelector('.band');
  const bandBoxes = Object.fromEntries([...scroller.querySelectorAll('.band')].map((b) => [b.dataset.band, b]));
  const listQuery = window.matchMedia(LIST_QUERY);
  let layout = null; /* the last plan of display-layout.js */

  function styleBand(box, mode, size, cols) {
    const geometry = WGLayout.SIZES[mode][size];
    box.dataset.size = size;
    box.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
    box.style.gridAutoRows = `${geometry.h}px`;
    box.style.gap = `${WGLayout.GAP[mode]}px`;
  }

  /* Sizes the calls for the board as it is now, and puts each card in the
   * pinned band or the scrolling part. */
  function layoutCalls(calls) {
    const mode = listQuery.matches ? 'list' : 'board';
    document.body.classList.toggle('layout-list', mode === 'list');
    document.body.classList.toggle('layout-board', mode === 'board');
    const bands = { high: [], urgent: [], normal: [], handled: [] };
    for (const a of calls) bands[WGLayout.bandOf(a)].push(a);
    const ids = Object.fromEntries(Object.entries(bands).map(([b, list]) => [b, list.map((a) => a.id)]));
    const style = getComputedStyle(board);
    const width = board.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const height = board.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    layout = WGLayout.plan(ids, width, height, mode);
    const pinned = new Set(layout.pinned);
    board.classList.toggle('scrolling', layout.scroll);
    styleBand(pinnedBand, mode, layout.size.high, layout.cols.high);
    reorder(pinnedBand, bands.high.filter((a) => pinned.has(a.id)).map((a) => callCard(a, layout.size.high)));
    for (const b of WGLayout.BANDS) {
      styleBand(bandBoxes[b], mode, layout.size[b], layout.cols[b]);
      const here = bands[b].filter((a) => !pinned.has(a.id));
      reorder(bandBoxes[b], here.map((a) => callCard(a, layout.size[b])));
      bandBoxes[b].classList.toggle('hidden', here.length === 0);
    }
    $('calls-pinned').classList.toggle('hidden', pinned.size === 0);
    noteMoves(callNodes());
    renderOffscreen();
  }

  /* The calls not fully in view (scrolled away), counted with their longest
   * wait in the bar under the board. */
  function offscreenCalls() {
    const box = scroller.getBoundingClientRect();
    const out = [];
    for (const b of WGLayout.BANDS) {
      for (const node of bandBoxes[b].children) {
        const r = node.getBoundingClientRect();
        if (r.top < box.top - 1 || r.bottom > box.bottom + 1 || r.height === 0) {
          const a = state.alarms.get(node.dataset.alarmId);
          if (a) out.push(a);
        }
      }
    }
    return out;
  }

  function renderOffscreen() {
    const bar = $('offscreen');
    const out = layout && layout.scroll ? offscreenCalls() : [];
    bar.classList.toggle('hidden', out.length === 0);
    bar.dataset.count = String(out.length);
    if (!out.length) {
      bar.removeAttribute('data-oldest-ms');
      scroller.classList.remove('more-above', 'more-below');
      return;
    }
    const unack = out.filter((a) => a.state === 'raised').length;
    const oldest = Math.min(...out.map((a) => a.raised_ms));
    bar.dataset.oldestMs = String(oldest);
    bar.dataset.priority = out.slice().sort(byDisplayOrder)[0].priority;
    setText(bar.querySelector('.off-text'), `${WG.t('d.offscreen', { n: out.length })}${unack ? WG.t('d.offscreen.unack', { k: unack }) : ''} · ${WG.t('d.offscreen.oldest', { t: WG.fmtElapsed(oldest, now()) })}`);
    const atTop = scroller.scrollTop <= 1;
    const atBottom = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1;
    $('scroll-up').disabled = atTop;
    $('scroll-down').disabled = atBottom;
    scroller.classList.toggle('more-above', !atTop);
    scroller.classList.toggle('more-below', !atBottom);
  }

  /* One screen further down (the first card cut off at the bottom comes to
   * the top) or up (the first cut off at the top comes to the bottom). */
  function scrollScreen(direction) {
    const box = scroller.getBoundingClientRect();
    const nodes = WGLayout.BANDS.flatMap((b) => [...bandBoxes[b].children]);
    let by = 0;
    if (direction > 0) {
      const next = nodes.find((n) => n.getBoundingClientRect().bottom > box.bottom + 1);
      if (next) by = next.getBoundingClientRect().top - box.top;
    } else {
      const prev = nodes.filter((n) => n.getBoundingClientRect().top < box.top - 1).pop();
      if (prev) by = prev.getBoundingClientRect().bottom - box.bottom;
    }
    if (by) scroller.scrollTop += by;
  }

  /* The wall display turns to the next screen of calls every 10 s, back to
   * the top after the last, unless someone touched it in the last 30 s. */
  function turnScreen() {
    if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1) scroller.scrollTop = 0;
    else scrollScreen(1);
  }
  function autoScroll() {
    if (!layout || !layout.scroll || listQuery.matches || Date.now() - state.lastTouch < IDLE_MS) return;
    turnScreen();
  }

  let scrollFrame = 0;
  function onScroll() {
    if (scrollFrame) return;
    scrollFrame = requestAnimationFrame(() => {
      scrollFrame = 0;
      noteMoves(callNodes());
      renderOffscreen();
    });
  }

  /* ---- technical strip ---- */
  function renderTechnicalMore() {
    const list = $('technical-list');
    const box = list.getBoundingClientRect();
    /* Those cut off on the right (the button scrolls that way; the header
     * counts them all). */
    const hidden = [...list.children].filter((n) => n.getBoundingClientRect().right > box.right + 1).length;
    const more = $('technical-more');
    more.classList.toggle('hidden', hidden === 0);
    more.dataset.count = String(hidden);
    setText(more, hidden ? WG.t('d.technical.more', { n: hidden }) : '');
  }

  /* ---- storage ---- */
  function renderStorage() {
    const banner = $('storage-banner');
    const s = state.storage;
    banner.classList.toggle('hidden', !s.failing);
    document.body.classList.toggle('storage-failing', s.failing);
    if (!s.failing) return;
    banner.dataset.reason = s.reason || '';
    setText(banner.querySelector('.storage-title'), WG.t('d.storage.title'));
    const reason = WG.storageText(s.reason);
    setText(banner.querySelector('.storage-detail'), Number.isFinite(s.waiting)
      ? WG.t('d.storage.detail', { reason, waiting: s.waiting }) : WG.t('d.storage.detail.short', { reason }));
  }

  /* ---- the whole page ---- */
  function renderCounts(alarms) {
    const calls = alarms.filter(isCall);
    const unack = calls.filter((a) => a.state === 'raised').length;
    const technical = alarms.length - calls.length;
    const set = (id, n) => {
      const box = $(id);
      setText(box.querySelector('.n'), n);
      box.classList.toggle('some', n > 0);
    };
    set('count-calls', calls.length);
    set('count-unack', unack);
    set('count-technical', technical);
  }

  function renderLink() {
    const text = $('link-text');
    if (state.connected) {
      const offline = [...state.alarms.values()].filter((a) => a.kind === 'device_offline').length;
      let t = WG.t('d.link.ok', { n: state.devicesTotal });
      if (offline) t += ` · ${WG.t('d.link.offline', { n: offline })}`;
      setText(text, t);
    } else {
      setText(text, WG.t(state.everConnected ? 'd.link.lost' : 'd.link.connecting'));
    }
  }

  function renderTime() {
    const t = now();
    const d = WG.fmtTime(t);
    const testing = testBanner.count;
    testBanner.render(); /* a window whose end has passed goes at once */
    if (testBanner.count !== testing) render();
    setText($('clock').querySelector('.time'), d.slice(11));
    setText($('clock').querySelector('.date'), d.slice(0, 10));
    for (const [id, node] of cards) {
      const a = state.alarms.get(id);
      if (!a) continue;
      const e = node.querySelector('.elapsed, .t-elapsed');
      if (e) setText(e, WG.fmtElapsed(a.raised_ms, t));
    }
    $('fire-list').querySelectorAll('.fire-item').forEach((item) => {
      const a = state.alarms.get(item.dataset.alarmId);
      if (a) setText(item.querySelector('.f-elapsed'), WG.fmtElapsed(a.raised_ms, t));
    });
    if (!state.connected) renderConnLost();
    if ([...state.ackErrors.values()].some((f) => f.until <= Date.now())) render();
    else { renderOffscreen(); renderFire(activeAlarms()); }
    sound.renderButton();
  }

  function render() {
    const alarms = activeAlarms();
    for (const [id, failure] of state.ackErrors) if (failure.until <= Date.now()) state.ackErrors.delete(id);
    const calls = alarms.filter(isCall);
    const technical = alarms.filter((a) => !isCall(a));
    layoutCalls(calls);
    reorder($('technical-list'), technical.map(techCard));
    for (const [id, node] of cards) {
      if (!state.alarms.has(id)) { node.remove(); cards.delete(id); }
    }
    $('empty').classList.toggle('hidden', calls.length > 0 || !state.everConnected);
    $('technical-strip').classList.toggle('none', technical.length === 0);
    renderTechnicalMore();
    renderCounts(alarms);
    renderFire(alarms);
    renderLink();
    renderStorage();
    syncFlashes();
    sound.update(alarms, !state.connected && state.everConnected);
  }

  /* ---- sound ---- */
  const sound = WGSound.create({
    enableButton: $('sound-enable'),
    silenceButton: $('silence'),
    onBurst: (lvl) => {
      hooks.bursts.push({ level: lvl, at: Date.now() });
      if (hooks.bursts.length > 200) hooks.bursts.shift();
    },
  });
  hooks.sound = sound;
  hooks.acknowledge = (id) => acknowledge(id); /* what the button does; the server checks the role */
  /* What is on screen, for the tests: the layout plan and the calls out of view. */
  hooks.layout = () => layout && { ...layout, offscreen: offscreenCalls().map((a) => a.id) };
  hooks.turnScreen = () => turnScreen(); /* what the wall does every 10 s when nobody touches it */

  /* ---- the connection (feed.js) ---- */
  const feed = WGFeed.create({
    state,
    onMessage: (msg) => onMessage(msg),
    onLost: (why) => {
      hooks.connectEvents.push({ what: 'lost', why, at: Date.now(), lastDataAt: state.lastDataAt });
      for (const [ref, p] of state.pendingAcks) { clearTimeout(p.timer); state.pendingAcks.delete(ref); }
      document.body.classList.toggle('stale', state.everConnected);
      renderConnLost();
      render();
    },
  });

  function renderConnLost() {
    const banner = $('conn-lost');
    /* Shown at once when an open connection is lost; before the first
     * snapshot only after a failed attempt (not during a normal page load). */
    const show = !state.connected && (state.everConnected || state.attempts > 1);
    banner.classList.toggle('hidden', !show);
    document.body.classList.toggle('connecting', !state.connected);
    if (show && !state.everConnected) {
      setText(banner.querySelector('.conn-title'), WG.t('d.conn.never'));
      setText(banner.querySelector('.conn-detail'), '');
    } else if (show) {
      setText(banner.querySelector('.conn-title'), WG.t('d.conn.lost'));
      setText(banner.querySelector('.conn-detail'), WG.t('d.conn.detail', {
        n: Math.max(1, state.attempts), t: state.lastSnapshotAt ? clockText(state.lastDataAt + state.clockOffset) : '—',
      }));
    }
  }

  /* The staff view (paging): people's names, and the zones nobody covers. */
  function setStaff(staff) {
    WGPaging.setStaff(staff);
    const text = WGPaging.uncoveredText(staff);
    const banner = $('cover-banner');
    banner.classList.toggle('hidden', !text);
    setText(banner.querySelector('.cover-text'), text);
  }

  function onSnapshot(msg) {
    state.alarms.clear();
    state.gone.clear();
    for (const a of msg.alarms || []) if (a && a.id && a.state !== 'reset') state.alarms.set(a.id, a);
    if (typeof msg.ts_ms === 'number') state.clockOffset = msg.ts_ms - Date.now();
    if (typeof msg.timezone === 'string' || typeof msg.utc_offset_min === 'number') {
      WG.setTimeZone(msg.timezone, msg.utc_offset_min);
    }
    state.site = msg.site || state.site;
    state.role = msg.role || state.role;
    state.username = msg.username || state.username;
    state.devicesTotal = (msg.devices && msg.devices.total) || 0;
    testBanner.setWindows(msg.test_modes);
    setStaff(msg.staff);
    state.connected = true;
    state.everConnected = true;
    state.lastSnapshotAt = Date.now();
    feed.snapshotTaken();
    hooks.connectEvents.push({ what: 'snapshot', at: Date.now() });
    document.body.classList.remove('stale');
    renderHeader();
    renderConnLost();
    render();
    renderTime();
  }

  function onAlarm(a) {
    if (!a || !a.id) return;
    const known = state.alarms.get(a.id);
    if (known) {
      const held = Number(known.update);
      const got = Number(a.update);
      /* The same update again only to say it is now in the journal. */
      const journaledNow = got === held && known.journaled === false && a.journaled === true;
      if (got < held || (got === held && !journaledNow)) return;
    }
    const gone = state.gone.get(a.id);
    if (gone !== undefined && gone >= Number(a.update)) return;
    if (a.state === 'reset') {
      state.alarms.delete(a.id);
      state.gone.set(a.id, Number(a.update));
      state.ackErrors.delete(a.id);
    } else {
      state.alarms.set(a.id, a);
    }
    render();
  }

  function onResult(msg) {
    const pending = state.pendingAcks.get(msg.ref);
    if (!pending) return;
    clearTimeout(pending.timer);
    state.pendingAcks.delete(msg.ref);
    if (!msg.ok) state.ackErrors.set(pending.id, { refusal: msg.error || '', until: Date.now() + ACK_ERROR_MS });
    render();
  }

  function onHeartbeat(msg) {
    hooks.heartbeat = { ...msg };
    if (typeof msg.ts_ms === 'number') state.clockOffset = msg.ts_ms - Date.now();
    const failing = msg.storage === 'failing';
    const next = {
      failing,
      reason: failing && typeof msg.storage_reason === 'string' ? msg.storage_reason : null,
      waiting: failing && Number.isFinite(msg.events_waiting) ? msg.events_waiting : null,
    };
    const s = state.storage;
    if (s.failing !== next.failing || s.reason !== next.reason || s.waiting !== next.waiting) {
      state.storage = next;
      render(); /* the banner moves the board down */
    }
  }

  function onMessage(msg) {
    switch (msg.type) {
      case 'snapshot': onSnapshot(msg); break;
      case 'alarm': if (state.connected) onAlarm(msg.alarm); break;
      case 'heartbeat': onHeartbeat(msg); break;
      case 'result': onResult(msg); break;
      case 'device': break; /* health shows through the device_offline alarms */
      case 'test_modes': testBanner.setWindows(msg.test_modes); render(); break;
      case 'staff': setStaff(msg.staff); render(); break;
      case 'device_test': testBanner.tested(msg.test); render(); break;
      default: break;
    }
  }
  /* Only with window.__WG_TEST_HOOKS__ set before the page loads: frames as
   * if from the server, to check how the page renders what a contract
   * promises. */
  if (window.__WG_TEST_HOOKS__) hooks.inject = (msg) => onMessage(msg);

  /* ---- header ---- */
  function renderHeader() {
    const name = (state.site && state.site.name) || 'wardgate';
    setText($('site-name'), name);
    document.title = `${name} · ${WG.t('d.title')}`;
    const user = $('user');
    setText(user.querySelector('.name'), state.username || (state.session && state.session.username) || '');
    setText(user.querySelector('.role'), WG.t(`role.${state.role}`));
  }

  function applyLanguage() {
    document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
    WG.translatePage();
    renderHeader();
    renderConnLost();
    render();
    renderTime();
  }

  /* Logging out stops the screen showing calls: asked first, and the
   * question goes away by itself so a wall display is never left on it. */
  function askLogout() {
    const dialog = $('logout-dialog');
    if (dialog.open) return;
    dialog.returnValue = '';
    dialog.showModal();
    const timer = setTimeout(() => { if (dialog.open) dialog.close('cancel'); }, LOGOUT_DIALOG_MS);
    dialog.addEventListener('close', () => {
      clearTimeout(timer);
      if (dialog.returnValue === 'logout') WG.logout();
    }, { once: true });
  }

  /* ---- start ---- */
  async function start() {
    document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
    WG.translatePage();
    await WGFeed.reachable(() => { state.attempts++; renderConnLost(); });
    state.attempts = 0;
    const session = await WG.requireRole('station');
    if (!session) {
      if (WG.session) $('forbidden').classList.remove('hidden');
      return;
    }
    state.session = session;
    state.role = session.role;
    state.username = session.username;
    renderHeader();
    $('lang-toggle').addEventListener('click', () => WG.setLang(WG.lang() === 'zh' ? 'en' : 'zh'));
    $('logout').addEventListener('click', askLogout);
    $('fire-show-calls').addEventListener('click', () => {
      state.fireCollapsedFor = activeAlarms().filter((a) => a.priority === 'fire').map((a) => a.id).sort().join(',');
      render();
    });
    $('fire-expand').addEventListener('click', () => { state.fireCollapsedFor = ''; render(); });
    $('scroll-up').addEventListener('click', () => scrollScreen(-1));
    $('scroll-down').addEventListener('click', () => scrollScreen(1));
    $('technical-more').addEventListener('click', () => {
      const list = $('technical-list');
      const box = list.getBoundingClientRect();
      const next = [...list.children].find((n) => n.getBoundingClientRect().right > box.right + 1);
      if (next) list.scrollLeft += next.getBoundingClientRect().left - box.left;
    });
    $('technical-list').addEventListener('scroll', renderTechnicalMore, { passive: true });
    scroller.addEventListener('scroll', onScroll, { passive: true });
    for (const type of ['pointerdown', 'wheel', 'touchstart', 'keydown']) {
      board.addEventListener(type, () => { state.lastTouch = Date.now(); }, { passive: true, capture: true });
    }
    document.addEventListener('wg-lang', applyLanguage);
    new ResizeObserver(() => render()).observe(board);
    listQuery.addEventListener('change', render);
    sound.init();
    render();
    renderTime();
    /* The clock and the elapsed times tick on the second. */
    setTimeout(() => { renderTime(); setInterval(renderTime, 1000); }, 1000 - (Date.now() % 1000));
    setInterval(autoScroll, AUTO_SCROLL_MS);
    feed.start();
  }

  start();
})();
