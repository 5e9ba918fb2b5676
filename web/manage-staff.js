/* The manager page's staff tab (人员与值班, issue 16): the shift now and
 * the next, and for each person of the staff list (config staff:) their
 * care role, whether they are on duty and their phone is connected, what
 * they cover now (zones, rooms, rooms claimed on the phone) and in the next
 * shift; and the zones nobody covers now, whose calls go to everyone on
 * duty. From GET /api/v1/staff; manage.js calls load() when the tab opens
 * and every 10 s while it is open. */
'use strict';

const WGStaff = (() => {
  const t = WG.t;
  const esc = WG.escape;

  WG.addStrings({
    zh: {
      'tab.staff': '人员与值班',
      'staff.none': '还没有设置呼叫通知到手机（配置文件的 staff: 一节）',
      'staff.shift': '当前班次：{name}（{start}–{end}）', 'staff.shift.none': '现在没有排班',
      'staff.next': '下一班：{name}（{start} 开始）',
      'staff.col.name': '姓名', 'staff.col.role': '岗位', 'staff.col.duty': '在岗', 'staff.col.phone': '手机',
      'staff.col.now': '本班负责', 'staff.col.next': '下一班负责',
      'staff.role.carer': '护理员', 'staff.role.nurse': '护士', 'staff.role.floor_lead': '楼层组长', 'staff.role.manager': '主管',
      'staff.on': '在岗', 'staff.off': '不在岗', 'staff.online': '已连接', 'staff.offline': '未连接',
      'staff.offline.alarm': '未连接（已报警）',
      'staff.zone': '{name}全区', 'staff.room': '{name} 房间', 'staff.claimed': '认领：{rooms}', 'staff.nothing': '–',
      'staff.timing': '{accept} 秒内无人接受就通知下一位；手机 {delivery} 秒内未确认收到算未送达；在岗手机断开 {offline} 秒报警。',
    },
    en: {
      'tab.staff': 'Staff',
      'staff.none': 'Paging to phones is not set up (the staff: section of the configuration file)',
      'staff.shift': 'Shift now: {name} ({start}–{end})', 'staff.shift.none': 'No shift runs now',
      'staff.next': 'Next shift: {name} (from {start})',
      'staff.col.name': 'Name', 'staff.col.role': 'Role', 'staff.col.duty': 'On duty', 'staff.col.phone': 'Phone',
      'staff.col.now': 'Covers now', 'staff.col.next': 'Covers next shift',
      'staff.role.carer': 'Carer', 'staff.role.nurse': 'Nurse', 'staff.role.floor_lead': 'Floor lead', 'staff.role.manager': 'Manager',
      'staff.on': 'on duty', 'staff.off': 'off duty', 'staff.online': 'connected', 'staff.offline': 'not connected',
      'staff.offline.alarm': 'not connected (alarm raised)',
      'staff.zone': 'all of {name}', 'staff.room': 'room {name}', 'staff.claimed': 'claimed: {rooms}', 'staff.nothing': '–',
      'staff.timing': 'Not accepted within {accept} s: the next person is told; a phone that does not confirm within {delivery} s is not reached; a phone on duty gone for {offline} s raises an alarm.',
    },
  });

  /* page: {call, reportFailure, can(role), meta()}. */
  function create(page) {
    const $ = (sel) => document.querySelector(sel);
    let staff = null;
    let missing = false;
    const zoneName = (id) => ((page.meta() || {}).zones || []).find((z) => z.id === id)?.name || id;
    const roomName = (id) => ((staff && staff.rooms) || []).find((r) => r.id === id)?.name || id;

    function coverText(zones, rooms, claimed) {
      const parts = [...(zones || []).map((z) => t('staff.zone', { name: zoneName(z) })),
        ...(rooms || []).map((r) => t('staff.room', { name: roomName(r) }))];
      if (claimed && claimed.length) parts.push(t('staff.claimed', { rooms: claimed.map(roomName).join('、') }));
      return parts.length ? parts.join('，') : t('staff.nothing');
    }

    function render() {
      $('#staff-none').hidden = !missing;
      $('#staff-body').hidden = missing || !staff;
      if (missing || !staff) return;
      const s = staff.shift, n = staff.next_shift;
      $('#staff-shift').textContent = s ? t('staff.shift', s) : t('staff.shift.none');
      $('#staff-next').textContent = n ? t('staff.next', n) : '';
      $('#staff-uncovered').textContent = WGPaging.uncoveredText(staff);
      $('#staff-uncovered').hidden = !(staff.uncovered_zones || []).length;
      $('#staff-timing').textContent = t('staff.timing', { accept: staff.accept_s, delivery: staff.delivery_s, offline: staff.phone_offline_s });
      $('#staff-table tbody').innerHTML = (staff.people || []).map((p) => {
        const phone = p.phone_online ? t('staff.online') : p.phone_alarm ? t('staff.offline.alarm') : t('staff.offline');
        return `<tr data-user="${esc(p.user)}" class="${p.on_duty ? 'on-duty' : 'off-duty'}">`
          + `<td><strong>${esc(p.name)}</strong> <span class="muted">${esc(p.user)}</span></td>`
          + `<td>${esc(WG.tOr(`staff.role.${p.care_role}`, p.care_role))}</td>`
          + `<td class="duty">${esc(p.on_duty ? t('staff.on') : t('staff.off'))}</td>`
          + `<td class="phone ${p.phone_online ? 'ok' : p.on_duty ? 'bad' : ''}">${esc(phone)}</td>`
          + `<td>${esc(coverText(p.zones, p.rooms, p.claimed))}</td>`
          + `<td>${esc(coverText(p.next_zones, p.next_rooms, []))}</td></tr>`;
      }).join('');
    }

    async function load() {
      const res = await page.call('GET', '/api/v1/staff');
      missing = res.status === 404;
      if (res.status === 200 && res.data) staff = res.data;
      else if (!missing) page.reportFailure(res);
      render();
    }

    return { wire() {}, load, retranslate: render };
  }

  return { create };
})();
