/* The nurse-station wall display (docs/api.md "WebSocket /ws").
 *
 * One WebSocket (subprotocol wardgate.v1): the first message is a snapshot
 * that replaces everything; then alarm deltas by id and update counter (a
 * stale update is ignored, a reset alarm leaves), device health, a heartbeat
 * every second and the results of our acknowledgements. Silence from the
 * server for 3.5 s, or a closed socket, shows the lost-connection banner,
 * keeps the last known calls on screen marked stale, and reconnects with
 * back-off (0.5 s doubling to 5 s); the next snapshot replaces everything.
 *
 * Calls are sorted by priority, then age (oldest first). Colours and flashing
 * follow IEC 60601-1-8 (see display.css); sound is IEC-like bursts rendered
 * with WebAudio for the highest priority not yet acknowledged. Silencing
 * pauses the sound for 2 minutes (a new alarm of a higher priority ends the
 * pause) and never touches the visuals. There is no reset here: a call is
 * reset only at its origin. Every text from the server goes in through
 * textContent. */
'use strict';

(() => {
  WG.addStrings({
    zh: {
      'd.title': '护士站', 'd.count.calls': '呼叫', 'd.count.unack': '未确认', 'd.count.technical': '技术报警',
      'd.sound.enable': '启用声音', 'd.silence': '静音 2 分钟', 'd.silenced': '已静音 {t}',
      'd.sound.unsupported': '此浏览器不能发声',
      'd.conn.lost': '与网关的连接已中断', 'd.conn.detail': '正在重新连接（第 {n} 次）… 下方显示的是 {t} 的数据，可能已过期',
      'd.conn.never': '正在连接网关…', 'd.link.ok': '已连接 · {n} 台设备', 'd.link.offline': '离线 {n}',
      'd.link.connecting': '正在连接…', 'd.link.lost': '连接中断',
      'd.empty': '当前没有呼叫', 'd.more': '还有 {n} 个呼叫未显示（按优先级排序）',
      'd.technical.title': '技术报警', 'd.technical.none': '所有设备正常',
      'd.fire.title': '火警', 'd.fire.instruction': '请立即按消防应急预案处置',
      'd.fire.others': '另有 {n} 个呼叫/报警（其中紧急 {e} 个）', 'd.fire.others.none': '没有其他呼叫',
      'd.fire.show_calls': '查看呼叫列表', 'd.fire.expand': '全屏显示火警',
      'd.ack': '确认', 'd.ack.pending': '确认中…', 'd.ack.failed': '确认失败：{e}', 'd.ack.timeout': '网关没有应答',
      'd.ack.offline': '未连接网关', 'd.stale': '可能已过期', 'd.bed': '{b} 床', 'd.room': '{r}',
      'd.since': '{t} 起', 'd.escalated': '已升级 {n} 级', 'd.reannounced': '再次提醒',
      'site': '全院',
    },
    en: {
      'd.title': 'Nurse station', 'd.count.calls': 'calls', 'd.count.unack': 'not acknowledged',
      'd.count.technical': 'technical', 'd.sound.enable': 'Enable sound', 'd.silence': 'Silence 2 min',
      'd.silenced': 'Silenced {t}', 'd.sound.unsupported': 'This browser cannot play sound',
      'd.conn.lost': 'Connection to the gateway lost', 'd.conn.detail': 'Reconnecting (attempt {n})… the calls below are as of {t} and may be out of date',
      'd.conn.never': 'Connecting to the gateway…', 'd.link.ok': 'connected · {n} devices', 'd.link.offline': '{n} offline',
      'd.link.connecting': 'connecting…', 'd.link.lost': 'connection lost',
      'd.empty': 'No calls', 'd.more': '{n} more calls not shown (sorted by priority)',
      'd.technical.title': 'Technical', 'd.technical.none': 'All devices working',
      'd.fire.title': 'FIRE', 'd.fire.instruction': 'Follow the fire emergency plan now',
      'd.fire.others': '{n} other calls and alarms ({e} emergency)', 'd.fire.others.none': 'No other calls',
      'd.fire.show_calls': 'Show the calls', 'd.fire.expand': 'Full-screen fire view',
      'd.ack': 'Acknowledge', 'd.ack.pending': 'Sending…', 'd.ack.failed': 'Not acknowledged: {e}',
      'd.ack.timeout': 'the gateway did not answer', 'd.ack.offline': 'not connected', 'd.stale': 'may be out of date',
      'd.bed': 'Bed {b}', 'd.room': 'Room {r}', 'd.since': 'since {t}', 'd.escalated': 'escalated, level {n}',
      'd.reannounced': 'reminder',
      'site': 'Site',
    },
  });

  const $ = (id) => document.getElementById(id);
  const PRIORITY_RANK = { advisory: 0, technical: 1, normal: 2, urgent: 3, emergency: 4, fire: 5 };
  const TECHNICAL = new Set(['technical', 'advisory']);
  /* IEC 60601-1-8 priority of a call: colour, flash and sound. */
  function level(priority) {
    if (priority === 'fire' || priority === 'emergency') return 'high';
    if (priority === 'urgent') return 'medium';
    if (priority === 'normal') return 'low';
    return 'technical';
  }
  const FLASH_PERIOD_MS = { high: 500, medium: 1600 };
  const HEARTBEAT_TIMEOUT_MS = 3500;
  const CONNECT_TIMEOUT_MS = 5000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 5000;
  const ACK_TIMEOUT_MS = 5000;
  const SILENCE_MS = 120000;

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
    ackErrors: new Map(),    /* alarm id -> {text, until} */
    pendingAcks: new Map(),  /* ref -> {id, timer} */
    nextRef: 1,
    fireCollapsedFor: '',    /* the fire alarm ids the view was collapsed for */
  };
  const now = () => Date.now() + state.clockOffset;

  /* Test hooks: read-only views of what the page shows and plays. */
  const hooks = { bursts: [], connectEvents: [] };
  window.WGDisplay = hooks;

  function byDisplayOrder(a, b) {
    return (b.priority_level ?? PRIORITY_RANK[b.priority] ?? 0) - (a.priority_level ?? PRIORITY_RANK[a.priority] ?? 0)
      || (a.raised_ms || 0) - (b.raised_ms || 0)
      || String(a.id).localeCompare(String(b.id));
  }
  function activeAlarms() { return [...state.alarms.values()].sort(byDisplayOrder); }
  function isCall(a) { return !TECHNICAL.has(a.priority); }

  /* ---- small DOM helpers ---- */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function setText(node, text) {
    const value = String(text ?? '');
    if (node.textContent !== value) node.textContent = value;
  }
  function setAttr(node, name, value) {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  }
  /* Puts `wanted` children into `parent` in order, moving only what is out of
   * place (a moved node would restart its flashing). */
  function reorder(parent, wanted) {
    const keep = new Set(wanted);
    [...parent.children].forEach((child) => { if (!keep.has(child)) child.remove(); });
    wanted.forEach((node, i) => {
      if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
    });
  }

  function kindText(a) { const key = `kind.${a.kind}`; const t = WG.t(key); return t === key ? a.kind : t; }
  function bedText(a) {
    if (!a.bed) return '';
    const room = a.room || '';
    const label = room && a.bed.startsWith(`${room}-`) ? a.bed.slice(room.length + 1) : a.bed;
    return WG.t('d.bed', { b: label });
  }
  function roomText(a) {
    const name = a.room_name || a.room;
    if (name) return /^\d/.test(name) ? WG.t('d.room', { r: name }) : name;
    return a.zone_name || a.zone || a.device_label || a.device || WG.t('site');
  }
  function placeText(a) {
    return [a.zone_name || a.zone, a.room_name || a.room, a.bed ? bedText(a) : ''].filter(Boolean).join(' · ')
      || a.device_label || a.device || WG.t('site');
  }
  function stateText(a) {
    if (a.state === 'acknowledged') {
      return a.acknowledged_by ? WG.t('state.acknowledged', { who: a.acknowledged_by }) : WG.t('state.acknowledged.anon');
    }
    return WG.t(`state.${a.state}`);
  }
  function clockText(ms) { return WG.fmtTime(ms).slice(11); }
  function mayAck() { return WG.roleAtLeast(state.role, 'nurse'); }

  /* ---- acknowledging ---- */
  let socket = null;

  function acknowledge(id) {
    if (!socket || socket.readyState !== WebSocket.OPEN || !state.connected) {
      state.ackErrors.set(id, { text: WG.t('d.ack.failed', { e: WG.t('d.ack.offline') }), until: Date.now() + 8000 });
      render();
      return;
    }
    const ref = state.nextRef++;
    const timer = setTimeout(() => {
      if (!state.pendingAcks.delete(ref)) return;
      state.ackErrors.set(id, { text: WG.t('d.ack.failed', { e: WG.t('d.ack.timeout') }), until: Date.now() + 8000 });
      render();
    }, ACK_TIMEOUT_MS);
    state.pendingAcks.set(ref, { id, timer });
    state.ackErrors.delete(id);
    const csrf = (WG.session && WG.session.csrf) || (state.session && state.session.csrf) || '';
    socket.send(JSON.stringify({ type: 'ack', alarm: id, ref, csrf }));
    render();
  }
  function ackPending(id) { return [...state.pendingAcks.values()].some((p) => p.id === id); }

  function ackControls(container, a) {
    const wanted = mayAck() && a.state === 'raised';
    let button = container.querySelector('button.ack');
    if (wanted && !button) {
      button = el('button', 'ack');
      button.type = 'button';
      button.addEventListener('click', () => acknowledge(a.id));
      container.prepend(button);
    } else if (!wanted && button) {
      button.remove();
      button = null;
    }
    if (button) {
      const pending = ackPending(a.id);
      button.disabled = pending || !state.connected;
      setText(button, WG.t(pending ? 'd.ack.pending' : 'd.ack'));
    }
    let error = container.querySelector('.ack-error');
    const failure = state.ackErrors.get(a.id);
    if (failure && failure.until > Date.now()) {
      if (!error) { error = el('div', 'ack-error'); error.setAttribute('role', 'alert'); container.append(error); }
      setText(error, failure.text);
    } else if (error) {
      error.remove();
    }
  }

  /* ---- cards ---- */
  const cards = new Map(); /* id -> element, calls and technical alike */

  function syncFlash(node, lvl) {
    /* Every card of one priority flashes in step, whatever its age. */
    const period = FLASH_PERIOD_MS[lvl];
    const delay = period ? `-${Date.now() % period}ms` : '';
    if (node.dataset.flashLevel !== lvl) {
      node.dataset.flashLevel = lvl;
      node.style.animationDelay = delay;
      const lamp = node.querySelector('.lamp');
      if (lamp) lamp.style.animationDelay = delay;
    }
  }

  function callCard(a) {
    let node = cards.get(a.id);
    if (!node || !node.classList.contains('call')) {
      if (node) node.remove();
      node = el('article', 'call');
      node.append(el('div', 'lamp'));
      const where = el('div', 'where');
      where.append(el('span', 'room'), el('span', 'bed'));
      const what = el('div', 'what');
      what.append(el('span', 'kind'), el('span', 'resident'));
      const status = el('div', 'status');
      status.append(el('span', 'badge state'));
      const time = el('div', 'time');
      time.append(el('span', 'elapsed'), el('span', 'since'));
      node.append(where, what, status, time, el('div', 'actions'), el('span', 'stale-tag'));
      cards.set(a.id, node);
    }
    const lvl = level(a.priority);
    node.className = `call level-${lvl} prio-${a.priority}`;
    setAttr(node, 'data-alarm-id', a.id);
    setAttr(node, 'data-priority', a.priority);
    setAttr(node, 'data-state', a.state);
    setAttr(node, 'data-kind', a.kind);
    syncFlash(node, lvl);
    setText(node.querySelector('.room'), roomText(a));
    setText(node.querySelector('.bed'), bedText(a));
    setText(node.querySelector('.kind'), kindText(a));
    setText(node.querySelector('.resident'), a.resident_label || '');
    const badge = node.querySelector('.badge.state');
    badge.className = `badge state state-${a.state}`;
    setText(badge, stateText(a));
    const status = node.querySelector('.status');
    status.querySelectorAll('.escalated, .reannounced').forEach((b) => b.remove());
    if (a.escalation_level > 0 && a.state !== 'attended') status.append(el('span', 'badge escalated', WG.t('d.escalated', { n: a.escalation_level })));
    if (a.reannunciations > 0 && a.state === 'raised') status.append(el('span', 'badge reannounced', WG.t('d.reannounced')));
    setText(node.querySelector('.elapsed'), WG.fmtElapsed(a.raised_ms, now()));
    setText(node.querySelector('.since'), WG.t('d.since', { t: clockText(a.raised_ms) }));
    setText(node.querySelector('.stale-tag'), WG.t('d.stale'));
    node.setAttribute('aria-label', `${WG.t(`prio.${a.priority}`)} ${roomText(a)} ${bedText(a)} ${kindText(a)}`);
    ackControls(node.querySelector('.actions'), a);
    return node;
  }

  function techCard(a) {
    let node = cards.get(a.id);
    if (!node || !node.classList.contains('tech')) {
      if (node) node.remove();
      node = el('div', 'tech');
      node.append(el('div', 't-where'), el('div', 't-elapsed'), el('div', 't-kind'), el('div', 't-detail'),
        el('div', 't-actions'), el('span', 'stale-tag'));
      cards.set(a.id, node);
    }
    node.className = `tech prio-${a.priority}`;
    setAttr(node, 'data-alarm-id', a.id);
    setAttr(node, 'data-priority', a.priority);
    setAttr(node, 'data-state', a.state);
    setAttr(node, 'data-kind', a.kind);
    const where = [a.device_label || a.device, a.room_name || a.room].filter(Boolean);
    setText(node.querySelector('.t-where'), [...new Set(where)].join(' · ') || WG.t('site'));
    setText(node.querySelector('.t-kind'), kindText(a));
    setText(node.querySelector('.t-detail'), a.detail || '');
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
    return node;
  }

  /* ---- fire ---- */
  function fireItem(a) {
    const item = el('div', 'fire-item');
    item.dataset.alarmId = a.id;
    const left = el('div', 'f-left');
    left.append(el('div', 'f-where', placeText(a)),
      el('div', 'f-what', [kindText(a), a.device_label || a.device].filter(Boolean).join(' · ')));
    const right = el('div', 'f-right');
    if (a.state !== 'raised') right.append(el('div', 'f-state', stateText(a)));
    ackControls(right, a);
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
    setText(othersBox, others.length ? WG.t('d.fire.others', { n: others.length, e: emergencies }) : WG.t('d.fire.others.none'));
    /* The list is small and changes rarely: rebuilt, but only when it changed. */
    const signature = JSON.stringify([WG.lang(), fires.map((a) => [a.id, a.update, a.state]),
      fires.map((a) => ackPending(a.id)), [...state.ackErrors.keys()], state.role]);
    const list = $('fire-list');
    if (list.dataset.signature !== signature) {
      list.dataset.signature = signature;
      list.replaceChildren(...fires.map(fireItem));
    }
    setText(banner.querySelector('.fire-banner-where'), [...new Set(fires.map(placeText))].join(' ； '));
    view.classList.toggle('hidden', collapsed);
    banner.classList.toggle('hidden', !collapsed);
  }

  /* ---- the whole board ---- */
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
    Sound.renderButton();
  }

  function render() {
    const alarms = activeAlarms();
    for (const [id, failure] of state.ackErrors) if (failure.until <= Date.now()) state.ackErrors.delete(id);
    const calls = alarms.filter(isCall);
    const technical = alarms.filter((a) => !isCall(a));
    const board = $('calls');
    board.classList.toggle('two', calls.length > 5);
    reorder(board, calls.map(callCard));
    reorder($('technical-list'), technical.map(techCard));
    for (const [id, node] of cards) {
      if (!state.alarms.has(id)) { node.remove(); cards.delete(id); }
    }
    $('empty').classList.toggle('hidden', calls.length > 0 || !state.everConnected);
    $('technical-strip').classList.toggle('none', technical.length === 0);
    renderCounts(alarms);
    renderFire(alarms);
    renderLink();
    renderMore();
    Sound.update(alarms);
  }

  /* Cards that do not fit on the screen are counted at the bottom. */
  function renderMore() {
    const boardRect = $('board').getBoundingClientRect();
    let hidden = 0;
    $('calls').querySelectorAll('.call').forEach((card) => {
      if (card.getBoundingClientRect().bottom > boardRect.bottom - 2) hidden++;
    });
    const more = $('calls-more');
    more.classList.toggle('hidden', hidden === 0);
    setText(more, hidden ? WG.t('d.more', { n: hidden }) : '');
  }

  /* ---- sound (WebAudio) ---- */
  const Sound = (() => {
    const RANK = { low: 1, medium: 2, high: 3 };
    /* IEC 60601-1-8-like bursts: pulse start times (s) and the pause after the burst. */
    const BURSTS = {
      high: { f: 587, pulse: 0.15, starts: [0, 0.25, 0.5, 1.0, 1.25, 2.1, 2.35, 2.6, 3.1, 3.35], pause: 4.0 },
      medium: { f: 523, pulse: 0.2, starts: [0, 0.35, 0.7], pause: 6.0 },
      low: { f: 440, pulse: 0.2, starts: [0, 0.35], pause: 16.0 },
    };
    const AC = window.AudioContext || window.webkitAudioContext;
    let ctx = null;
    let master = null;
    let analyser = null;
    let wave = null;
    let burstGain = null;     /* the burst now playing (cut at once on silence or ack) */
    let timer = null;
    let playing = 0;          /* rank of the level being repeated (0 = none) */
    let wanted = 0;           /* rank of the highest unacknowledged priority */
    let unacked = new Set();  /* ids not acknowledged at the last update */
    let silencedUntil = 0;
    let silencedRank = 0;

    function context() {
      if (ctx || !AC) return ctx;
      ctx = new AC();
      master = ctx.createGain();
      master.gain.value = 0.5;
      analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      master.connect(analyser);
      analyser.connect(ctx.destination);
      /* A fundamental with 4 harmonics (IEC: at least 4 in 300-4000 Hz). */
      const real = new Float32Array([0, 0, 0, 0, 0, 0]);
      const imag = new Float32Array([0, 1, 0.6, 0.45, 0.35, 0.25]);
      wave = ctx.createPeriodicWave(real, imag);
      ctx.onstatechange = () => { renderButton(); if (unlocked()) schedule(true); else schedule(false); };
      return ctx;
    }
    function unlocked() { return !!ctx && ctx.state === 'running'; }
    function silenced() { return silencedUntil > Date.now(); }

    function stopBurst() {
      if (!burstGain) return;
      try {
        burstGain.gain.cancelScheduledValues(0);
        burstGain.gain.setValueAtTime(0, ctx.currentTime);
        burstGain.disconnect();
      } catch (e) { /* already gone */ }
      burstGain = null;
    }

    function playBurst(lvl) {
      const burst = BURSTS[lvl];
      stopBurst();
      const gain = ctx.createGain();
      gain.connect(master);
      burstGain = gain;
      const t0 = ctx.currentTime + 0.03;
      for (const start of burst.starts) {
        const osc = ctx.createOscillator();
        osc.setPeriodicWave(wave);
        osc.frequency.value = burst.f;
        const env = ctx.createGain();
        const t = t0 + start;
        const rise = burst.pulse * 0.15;
        env.gain.setValueAtTime(0, t);
        env.gain.linearRampToValueAtTime(1, t + rise);
        env.gain.setValueAtTime(1, t + burst.pulse - rise);
        env.gain.linearRampToValueAtTime(0, t + burst.pulse);
        osc.connect(env);
        env.connect(gain);
        osc.start(t);
        osc.stop(t + burst.pulse + 0.02);
      }
      hooks.bursts.push({ level: lvl, at: Date.now() });
      if (hooks.bursts.length > 200) hooks.bursts.shift();
      const length = burst.starts[burst.starts.length - 1] + burst.pulse;
      return (length + burst.pause) * 1000;
    }

    /* Plays the wanted level now (restart) or at its next repetition. */
    function schedule(restart) {
      const lvl = Object.keys(RANK).find((k) => RANK[k] === wanted);
      const audible = unlocked() && wanted > 0 && !silenced();
      if (!audible) {
        clearTimeout(timer);
        timer = null;
        playing = 0;
        stopBurst();
        renderButton();
        return;
      }
      if (!restart && playing === wanted && timer) return;
      clearTimeout(timer);
      playing = wanted;
      const next = playBurst(lvl);
      timer = setTimeout(() => { timer = null; schedule(true); }, next);
      renderButton();
    }

    /* Called after every change of the alarms. */
    function update(alarms) {
      const raised = alarms.filter((a) => a.state === 'raised' && a.priority !== 'advisory');
      const connectionRank = !state.connected && state.everConnected ? RANK.low : 0;
      wanted = Math.max(connectionRank, ...raised.map((a) => RANK[level(a.priority)] || RANK.low));
      const now2 = new Set(raised.map((a) => a.id));
      const fresh = raised.filter((a) => !unacked.has(a.id));
      unacked = now2;
      const freshRank = Math.max(0, ...fresh.map((a) => RANK[level(a.priority)] || RANK.low));
      /* A new alarm of a higher priority than the one silenced ends the pause. */
      if (silenced() && freshRank > silencedRank) silencedUntil = 0;
      schedule(fresh.length > 0 || wanted !== playing);
    }

    function silence() {
      if (silenced()) { silencedUntil = 0; schedule(true); return; }
      silencedUntil = Date.now() + SILENCE_MS;
      silencedRank = wanted;
      schedule(false);
    }

    /* Resuming is all: the context's statechange starts the sound. */
    function unlock() {
      if (!context() || unlocked()) return;
      ctx.resume().catch(() => { /* stays locked until the next gesture */ });
    }

    function renderButton() {
      const enable = $('sound-enable');
      const silenceButton = $('silence');
      if (!AC) {
        enable.classList.remove('hidden');
        enable.disabled = true;
        setText(enable.querySelector('span'), WG.t('d.sound.unsupported'));
      } else {
        enable.classList.toggle('hidden', unlocked());
      }
      const on = silenced();
      silenceButton.classList.toggle('active', on);
      silenceButton.setAttribute('aria-pressed', on ? 'true' : 'false');
      const left = Math.ceil((silencedUntil - Date.now()) / 1000);
      setText(silenceButton.querySelector('.text'), on ? WG.t('d.silenced', { t: `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` }) : WG.t('d.silence'));
      let mode = 'off';
      if (!unlocked()) mode = 'locked';
      else if (on) mode = 'silenced';
      else if (playing) mode = Object.keys(RANK).find((k) => RANK[k] === playing);
      document.body.dataset.sound = mode;
      if (!on && silencedUntil) { silencedUntil = 0; schedule(true); }
    }

    /* RMS of what is being played right now (tests, and a level meter if wanted). */
    function rms() {
      if (!analyser) return 0;
      const data = new Float32Array(analyser.fftSize);
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      return Math.sqrt(sum / data.length);
    }

    /* Try at once: a kiosk started with --autoplay-policy=no-user-gesture-required
     * needs no button. Otherwise the first click or key anywhere unlocks it. */
    function init() {
      if (context()) ctx.resume().catch(() => {});
      const onGesture = () => { if (!unlocked()) unlock(); };
      document.addEventListener('pointerdown', onGesture, true);
      document.addEventListener('keydown', onGesture, true);
      $('sound-enable').addEventListener('click', unlock);
      $('silence').addEventListener('click', silence);
      renderButton();
    }

    return { init, update, renderButton, rms, silenced, unlocked, state: () => document.body.dataset.sound };
  })();
  hooks.sound = Sound;
  hooks.acknowledge = (id) => acknowledge(id); /* what the button does; the server checks the role */

  /* ---- the connection ---- */
  let backoff = BACKOFF_MIN_MS;
  let reconnectTimer = null;
  let openedAt = 0;

  function wsUrl() { return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`; }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    state.attempts++;
    let sock;
    try {
      sock = new WebSocket(wsUrl(), 'wardgate.v1');
    } catch (e) {
      connectionLost('cannot open');
      return;
    }
    socket = sock;
    openedAt = Date.now();
    sock.onopen = () => { if (sock === socket) state.lastDataAt = Date.now(); };
    sock.onmessage = (event) => {
      if (sock !== socket) return;
      state.lastDataAt = Date.now();
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (msg && typeof msg === 'object') onMessage(msg);
    };
    sock.onclose = (event) => {
      if (sock !== socket) return;
      socket = null;
      connectionLost(`closed ${event.code}`);
    };
  }

  function connectionLost(why) {
    hooks.connectEvents.push({ what: 'lost', why, at: Date.now(), lastDataAt: state.lastDataAt });
    if (socket) { const s = socket; socket = null; try { s.close(); } catch (e) { /* closing */ } }
    state.connected = false;
    for (const [ref, p] of state.pendingAcks) { clearTimeout(p.timer); state.pendingAcks.delete(ref); }
    document.body.classList.toggle('stale', state.everConnected);
    renderConnLost();
    render();
    if (!reconnectTimer) {
      reconnectTimer = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
    /* After a few failures, see whether the session is gone (then: the login page). */
    if (state.attempts % 4 === 3) {
      fetch('/api/v1/session', { credentials: 'same-origin' }).then((r) => {
        if (r.status === 401) location.href = WG.loginUrl();
      }).catch(() => { /* the gateway is down: keep trying */ });
    }
  }

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
        n: state.attempts, t: state.lastSnapshotAt ? clockText(state.lastDataAt + state.clockOffset) : '—',
      }));
    }
  }

  /* The watchdog: no frame for 3.5 s (heartbeats come every second), or a
   * handshake hanging for 5 s, counts as a lost connection. */
  function watchdog() {
    if (!socket) return;
    const t = Date.now();
    if (socket.readyState === WebSocket.OPEN && state.connected && t - state.lastDataAt > HEARTBEAT_TIMEOUT_MS) {
      connectionLost('no heartbeat');
    } else if (!state.connected && t - openedAt > CONNECT_TIMEOUT_MS) {
      connectionLost('connect timeout');
    }
  }

  function onSnapshot(msg) {
    state.alarms.clear();
    state.gone.clear();
    for (const a of msg.alarms || []) if (a && a.id && a.state !== 'reset') state.alarms.set(a.id, a);
    if (typeof msg.ts_ms === 'number') state.clockOffset = msg.ts_ms - Date.now();
    state.site = msg.site || state.site;
    state.role = msg.role || state.role;
    state.username = msg.username || state.username;
    state.devicesTotal = (msg.devices && msg.devices.total) || 0;
    state.connected = true;
    state.everConnected = true;
    state.lastSnapshotAt = Date.now();
    state.attempts = 0;
    backoff = BACKOFF_MIN_MS;
    hooks.connectEvents.push({ what: 'snapshot', at: Date.now() });
    document.body.classList.remove('stale');
    renderHeader();
    renderConnLost();
    render();
  }

  function onAlarm(a) {
    if (!a || !a.id) return;
    const known = state.alarms.get(a.id);
    if (known && Number(known.update) >= Number(a.update)) return; /* stale */
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
    if (!msg.ok) state.ackErrors.set(pending.id, { text: WG.t('d.ack.failed', { e: msg.error || '?' }), until: Date.now() + 8000 });
    render();
  }

  function onMessage(msg) {
    switch (msg.type) {
      case 'snapshot': onSnapshot(msg); break;
      case 'alarm': if (state.connected) onAlarm(msg.alarm); break;
      case 'heartbeat': if (typeof msg.ts_ms === 'number') state.clockOffset = msg.ts_ms - Date.now(); break;
      case 'result': onResult(msg); break;
      case 'device': break; /* health shows through the device_offline alarms */
      default: break;
    }
  }

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

  /* ---- start ---- */
  /* Waits until the gateway answers at all: a display that comes up before
   * the gateway (after a power cut) must not end on the browser's error page. */
  async function gatewayReachable() {
    for (let delay = BACKOFF_MIN_MS; ; delay = Math.min(delay * 2, BACKOFF_MAX_MS)) {
      try {
        await fetch('/api/v1/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
        return;
      } catch (e) {
        state.attempts++;
        renderConnLost();
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async function start() {
    document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
    WG.translatePage();
    await gatewayReachable();
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
    $('logout').addEventListener('click', () => WG.logout());
    $('fire-show-calls').addEventListener('click', () => {
      state.fireCollapsedFor = activeAlarms().filter((a) => a.priority === 'fire').map((a) => a.id).sort().join(',');
      render();
    });
    $('fire-expand').addEventListener('click', () => { state.fireCollapsedFor = ''; render(); });
    document.addEventListener('wg-lang', applyLanguage);
    window.addEventListener('resize', renderMore);
    Sound.init();
    render();
    renderTime();
    /* The clock and the elapsed times tick on the second. */
    setTimeout(() => { renderTime(); setInterval(renderTime, 1000); }, 1000 - (Date.now() % 1000));
    setInterval(watchdog, 250);
    connect();
  }

  start();
})();
