/* The round check-in page a phone opens by scanning a room's QR code
 * (checkin.html?room=101&code=...): the carer logs in if need be (nurse or
 * above), the page sends the check-in at once and says, large, whether the
 * room is checked in for the round now due, and how far the round is; or
 * why not, in words. The code in the address proves the phone was in front
 * of the room's code: the gateway refuses any other. */
'use strict';

(() => {
  WG.addStrings({
    zh: {
      'checkin.title': '巡查签到', 'checkin.sending': '正在签到…',
      'checkin.ok': '{room} 已签到', 'checkin.ok.detail': '{time} · 本轮已查 {done}/{planned} 间',
      'checkin.bad_link': '这个链接不完整：请重新扫描房间里的二维码。',
      'checkin.wrong_code': '这不是这个房间的二维码：请扫描房间里张贴的二维码。',
      'checkin.not_due': '{room} 现在没有需要巡查的轮次，或本轮已经签到过。',
      'checkin.unknown': '没有这个房间：{room}',
      'checkin.role': '签到需要护理员或以上权限；当前登录：{user}',
      'checkin.failed': '签到没有成功（{status}）：请稍后再试，或告诉护士站。',
      'checkin.network': '连不上网关：请确认手机连着院内无线网络，再扫一次。',
      'checkin.user': '当前登录：{user}',
    },
    en: {
      'checkin.title': 'Round check-in', 'checkin.sending': 'Checking in…',
      'checkin.ok': '{room} checked in', 'checkin.ok.detail': '{time} · {done} of {planned} rooms done this round',
      'checkin.bad_link': 'This link is incomplete: scan the code in the room again.',
      'checkin.wrong_code': 'This is not this room\'s code: scan the code posted in the room.',
      'checkin.not_due': 'No round is due in {room} now, or it is checked in already.',
      'checkin.unknown': 'No such room: {room}',
      'checkin.role': 'Checking in needs the nurse role or higher; logged in: {user}',
      'checkin.failed': 'The check-in did not go through ({status}): try again later, or tell the nurse station.',
      'checkin.network': 'The gateway cannot be reached: check the phone is on the home\'s Wi-Fi and scan again.',
      'checkin.user': 'Logged in: {user}',
    },
  });
  const $ = (id) => document.getElementById(id);

  /* What is shown, as keys, so that switching the language says it again
   * without sending the check-in a second time. */
  let shown = null;

  function show(kind, key, params, detailKey, detailParams) {
    shown = { kind, key, params, detailKey, detailParams };
    $('checkin-state').className = `checkin-state ${kind}`;
    $('checkin-mark').textContent = kind === 'ok' ? '✓' : kind === 'error' ? '✗' : '…';
    $('checkin-text').textContent = WG.t(key, params);
    $('checkin-detail').textContent = detailKey ? WG.t(detailKey, detailParams) : '';
  }

  async function start() {
    document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
    WG.translatePage();
    $('lang-toggle').addEventListener('click', () => {
      WG.setLang(WG.lang() === 'zh' ? 'en' : 'zh');
      document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
      WG.translatePage();
      if (shown) show(shown.kind, shown.key, shown.params, shown.detailKey, shown.detailParams);
      if (WG.session) $('checkin-user').textContent = WG.t('checkin.user', { user: WG.session.username });
    });
    const params = new URLSearchParams(location.search);
    const room = params.get('room') || '';
    const code = params.get('code') || '';
    if (!room || !code) { show('error', 'checkin.bad_link'); return; }
    let session;
    try {
      session = await WG.requireRole('nurse');
    } catch (e) {
      show('error', 'checkin.network');
      return;
    }
    if (!session) {
      if (WG.session) show('error', 'checkin.role', { user: WG.session.username });
      return; /* otherwise on the way to the login page, which comes back here */
    }
    $('checkin-user').textContent = WG.t('checkin.user', { user: session.username });
    show('busy', 'checkin.sending');
    let res;
    try {
      res = await WG.api('POST', '/api/v1/rounds/checkin', { room, code });
    } catch (e) {
      show('error', 'checkin.network');
      return;
    }
    const data = res.data && typeof res.data === 'object' ? res.data : {};
    if (res.status === 200) {
      if (data.timezone) WG.setTimeZone(data.timezone, data.utc_offset_min);
      const round = (data.rounds || []).find((r) => r.slot && r.slot.rooms.some((x) => x.room === room));
      const slot = round ? round.slot : null;
      const name = slot ? (slot.rooms.find((x) => x.room === room).room_name || room) : room;
      show('ok', 'checkin.ok', { room: name }, slot ? 'checkin.ok.detail' : null, slot ? {
        time: WG.fmtTime(data.checked_ms).slice(11, 16), done: slot.done, planned: slot.planned,
      } : null);
      if (navigator.vibrate) navigator.vibrate(200);
    } else if (res.status === 403) {
      show('error', 'checkin.wrong_code');
    } else if (res.status === 409) {
      show('error', 'checkin.not_due', { room });
    } else if (res.status === 404) {
      show('error', 'checkin.unknown', { room });
    } else {
      show('error', 'checkin.failed', { status: res.status });
    }
  }

  start();
})();
