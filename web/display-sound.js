/* The station display's sound: IEC 60601-1-8-like bursts rendered with
 * WebAudio for the highest priority not yet acknowledged, and the silence
 * button. Silencing pauses the sound for 2 minutes (again ends the pause; a
 * new alarm of a higher priority than the one silenced ends it too) and never
 * touches what is shown. A lost connection sounds low.
 *
 * WGSound.level(priority) is the IEC priority of a call (colour, flash and
 * sound): fire and emergency high, urgent medium, normal low. */
'use strict';

const WGSound = (() => {
  function level(priority) {
    if (priority === 'fire' || priority === 'emergency') return 'high';
    if (priority === 'urgent') return 'medium';
    if (priority === 'normal') return 'low';
    return 'technical';
  }

  const SILENCE_MS = 120000;
  const RANK = { low: 1, medium: 2, high: 3 };
  /* Pulse start times (s) and the pause after the burst. */
  const BURSTS = {
    high: { f: 587, pulse: 0.15, starts: [0, 0.25, 0.5, 1.0, 1.25, 2.1, 2.35, 2.6, 3.1, 3.35], pause: 4.0 },
    medium: { f: 523, pulse: 0.2, starts: [0, 0.35, 0.7], pause: 6.0 },
    low: { f: 440, pulse: 0.2, starts: [0, 0.35], pause: 16.0 },
  };
  const AC = window.AudioContext || window.webkitAudioContext;

  /* A fundamental with 4 harmonics (IEC: at least 4 in 300-4000 Hz). */
  function harmonicWave(ctx) {
    return ctx.createPeriodicWave(new Float32Array([0, 0, 0, 0, 0, 0]), new Float32Array([0, 1, 0.6, 0.45, 0.35, 0.25]));
  }

  /* Schedules one burst of `lvl` ("high", "medium", "low") into `out`, each
   * pulse with a 15 % rise and fall; returns the burst's length and pause in ms. */
  function scheduleBurst(ctx, wave, lvl, out) {
    const burst = BURSTS[lvl] || BURSTS.low;
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
      env.connect(out);
      osc.start(t);
      osc.stop(t + burst.pulse + 0.02);
    }
    return (burst.starts[burst.starts.length - 1] + burst.pulse + burst.pause) * 1000;
  }

  /* enableButton, silenceButton: the page's two buttons; onBurst(level) is
   * told of every burst played (the test hooks). */
  function create({ enableButton, silenceButton, onBurst }) {
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
      wave = harmonicWave(ctx);
      ctx.onstatechange = () => { renderButton(); schedule(unlocked()); };
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
      stopBurst();
      const gain = ctx.createGain();
      gain.connect(master);
      burstGain = gain;
      const ms = scheduleBurst(ctx, wave, lvl, gain);
      onBurst(lvl);
      return ms;
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

    /* After every change: the active alarms, and whether the connection is
     * lost after having been up. */
    function update(alarms, connectionLost) {
      const raised = alarms.filter((a) => a.state === 'raised' && a.priority !== 'advisory');
      wanted = Math.max(connectionLost ? RANK.low : 0, ...raised.map((a) => RANK[level(a.priority)] || RANK.low));
      const now = new Set(raised.map((a) => a.id));
      const fresh = raised.filter((a) => !unacked.has(a.id));
      unacked = now;
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
      if (!AC) {
        enableButton.classList.remove('hidden');
        enableButton.disabled = true;
        enableButton.querySelector('span').textContent = WG.t('d.sound.unsupported');
      } else {
        enableButton.classList.toggle('hidden', unlocked());
      }
      const on = silenced();
      silenceButton.classList.toggle('active', on);
      silenceButton.setAttribute('aria-pressed', on ? 'true' : 'false');
      const left = Math.ceil((silencedUntil - Date.now()) / 1000);
      const text = on ? WG.t('d.silenced', { t: `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` }) : WG.t('d.silence');
      const label = silenceButton.querySelector('.text');
      if (label.textContent !== text) label.textContent = text;
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
      enableButton.addEventListener('click', unlock);
      silenceButton.addEventListener('click', silence);
      renderButton();
    }

    return { init, update, renderButton, rms, silenced, unlocked, state: () => document.body.dataset.sound };
  }

  return { level, create, harmonicWave, scheduleBurst };
})();
