/* The station display's test-mode banner: which rooms and zones are in
 * device test mode and until when (a call button, pull cord or smoke
 * detector pressed there is recorded as a test, not raised as a call; fire
 * panels and gas still alarm), and the device tested last, for a minute.
 * Fed by the snapshot's test_modes, the test_modes messages (the whole list
 * each time) and device_test messages. A window whose end has passed is
 * hidden at once, without waiting for the gateway to say so. */
'use strict';

window.WGTestBanner = (() => {
  WG.addStrings({
    zh: {
      'd.test.title': '设备测试中：以下地点按下的呼叫按钮、拉绳和烟感只记为测试，不产生呼叫',
      'd.test.note': '消防控制器的火警和燃气报警照常报警。',
      'd.test.item': '{where} 至 {until}（{by} 发起，已测 {n} 次）',
      'd.test.zone': '{name}全区', 'd.test.room': '{name} 房间',
      'd.test.last': '刚刚测试：{where} {what}（{time}）',
      'd.test.kind.call': '呼叫按钮', 'd.test.kind.pull_cord': '卫生间拉绳', 'd.test.kind.smoke': '烟感',
      'd.test.kind.gas': '燃气探测器',
    },
    en: {
      'd.test.title': 'Device test in progress: call buttons, pull cords and smoke detectors pressed here are recorded as tests, not calls',
      'd.test.note': 'Fire panels and gas still alarm.',
      'd.test.item': '{where} until {until} (started by {by}, {n} tested)',
      'd.test.zone': 'all of {name}', 'd.test.room': 'room {name}',
      'd.test.last': 'Just tested: {where} {what} ({time})',
      'd.test.kind.call': 'call button', 'd.test.kind.pull_cord': 'bathroom pull cord', 'd.test.kind.smoke': 'smoke detector',
      'd.test.kind.gas': 'gas detector',
    },
  });

  const LAST_TEST_SHOWN_MS = 60000;

  function whereText(w) {
    const name = w.target_name || w.target;
    return w.scope === 'zone' ? WG.t('d.test.zone', { name }) : WG.t('d.test.room', { name });
  }

  /* `el` the banner; now() the gateway's time in ms. */
  function create(el, now) {
    let windows = [];
    let last = null; /* {test, at} */

    function running() {
      const t = now();
      return windows.filter((w) => Number(w.ends_ms) > t);
    }

    function render() {
      const list = running();
      const lastShown = last && Date.now() - last.at < LAST_TEST_SHOWN_MS;
      el.classList.toggle('hidden', list.length === 0 && !lastShown);
      document.body.classList.toggle('testing', list.length > 0);
      const items = el.querySelector('.test-items');
      items.replaceChildren(...list.map((w) => {
        const li = document.createElement('li');
        li.dataset.target = w.target;
        li.textContent = WG.t('d.test.item', {
          where: whereText(w), until: WG.fmtTime(Number(w.ends_ms)).slice(11, 16), by: w.started_by, n: w.tests || 0,
        });
        return li;
      }));
      el.querySelector('.test-title').textContent = list.length ? WG.t('d.test.title') : '';
      el.querySelector('.test-note').textContent = list.length ? WG.t('d.test.note') : '';
      const lastNode = el.querySelector('.test-last');
      if (lastShown) {
        const test = last.test;
        const room = test.room_name || test.room || '';
        lastNode.textContent = WG.t('d.test.last', {
          where: room ? WG.t('d.test.room', { name: room }) : (test.device_label || test.device),
          what: WG.tOr(`d.test.kind.${test.kind}`, test.kind),
          time: WG.fmtTime(Number(test.ts_ms)).slice(11, 19),
        });
      } else {
        lastNode.textContent = '';
      }
    }

    return {
      /* The whole list (snapshot, test_modes message). */
      setWindows(list) {
        windows = Array.isArray(list) ? list.filter((w) => w && w.target) : [];
        /* a window counts its tests: a device_test message does not repeat them */
        render();
      },
      tested(test) {
        if (!test || !test.device) return;
        last = { test, at: Date.now() };
        const w = windows.find((x) => x.target === test.room || x.target === test.zone);
        if (w) w.tests = (w.tests || 0) + 1;
        render();
      },
      render,
      get count() { return running().length; },
    };
  }

  return { create };
})();
