/* The facility manager's UI: devices with their live health, residents and
 * beds, history with CSV export, the response-time report, users and the
 * audit log. One page, one tab per hash route (#devices, #devices/edit/ID,
 * #devices/new, #residents, #residents/edit/ID, #residents/new, #history,
 * #report, #users, #audit).
 *
 * What a role may not do is hidden, but the server is the fence: every 403
 * it gives is shown as such. All text from the server goes through
 * WG.escape (or textContent). */
'use strict';

(() => {
  const RISKS = ['fall', 'wandering', 'fall_from_bed', 'choking', 'wrong_ingestion', 'pressure_sore', 'scald', 'harm',
    'activity_accident'];
  const PRIORITIES = ['advisory', 'technical', 'normal', 'urgent', 'emergency', 'fire'];
  const ROLES = ['station', 'nurse', 'manager', 'admin'];
  const TAB_ROLE = { devices: 'nurse', residents: 'manager', history: 'nurse', report: 'manager', users: 'admin', audit: 'manager' };
  const POLL_MS = 2000;
  const HISTORY_PAGE = 50;
  const DEFAULT_POLL_MS = 1000;

  WG.addStrings({
    zh: {
      'app.title': '设施管理', loading: '正在加载…', empty: '没有记录', refresh: '刷新',
      'tab.devices': '设备', 'tab.residents': '住户与床位', 'tab.history': '历史记录', 'tab.report': '响应时间',
      'tab.users': '用户', 'tab.audit': '审计日志',
      'forbidden.back': '返回设备列表', 'forbidden.action': '无权执行此操作：{error}',
      'error.http': '请求失败 ({status})：{error}', 'error.not_found': '没有这个对象：{id}',
      'filter.health': '状态', 'filter.room': '房间', 'filter.text': '搜索', 'filter.text.placeholder': '编号、名称、型号…',
      'filter.all': '全部', 'filter.site': '(全院)',
      'health.online': '在线', 'health.suspect': '疑似故障', 'health.offline': '离线', 'health.unknown': '未知',
      'devices.summary': '共 {total} 台：{online} 在线，{suspect} 疑似故障，{offline} 离线，{unknown} 未知',
      'devices.shown': '（显示 {n} 台）',
      'device.add': '添加设备', 'device.edit': '编辑设备 {id}', 'device.new': '添加设备',
      'device.id': '编号', 'device.label': '名称', 'device.location': '位置', 'device.profile': '型号配置',
      'device.busaddr': '总线/地址', 'device.bus': '总线', 'device.address': '地址', 'device.health': '状态',
      'device.reason': '原因', 'device.values': '最新数值', 'device.counters': '错误计数', 'device.room': '房间',
      'device.bed': '床位', 'device.spot': '具体位置', 'device.poll_ms': '轮询周期 (毫秒)', 'device.enabled': '启用',
      'device.disabled': '已停用', 'device.settings_kept': '驱动参数 (settings) 不在此处编辑，保存时原样保留。',
      'device.saved': '设备 {id} 已保存，网关已重新加载配置', 'device.deleted': '设备 {id} 已删除',
      'device.confirm_delete': '确定删除设备 {id}？网关将停止监视它。', 'device.none': '(无)',
      edit: '编辑', delete: '删除', save: '保存', cancel: '取消', 'confirm.ok': '确定',
      'errors.title': '未保存：', 'errors.field': '有问题的字段：{field}',
      'residents.title': '住户', 'resident.add': '添加住户', 'resident.edit': '编辑住户 {id}', 'resident.new': '添加住户',
      'resident.id': '编号 (匿名)', 'resident.label': '显示名称', 'resident.bed': '床位', 'resident.care_level': '护理等级',
      'resident.risks': '风险', 'resident.night': '夜间时段', 'resident.night_default': '(院内默认)',
      'resident.label_hint': '显示名称会出现在护士站屏幕上：只用称呼 (如“王奶奶”)，不要写全名。夜间时段格式 HH:MM-HH:MM，留空则用院内默认。',
      'resident.saved': '住户 {id} 已保存', 'resident.deleted': '住户 {id} 已删除', 'resident.confirm_delete': '确定删除住户 {id}？',
      'risk.fall': '跌倒风险', 'risk.wandering': '走失风险', 'risk.fall_from_bed': '坠床', 'risk.choking': '噎食',
      'risk.wrong_ingestion': '误食', 'risk.pressure_sore': '压疮', 'risk.scald': '烫伤', 'risk.harm': '他伤/自伤',
      'risk.activity_accident': '活动意外',
      'beds.title': '各房间床位', 'beds.hint': '床位标签用逗号分隔，如 A, B。床位编号为“房间-标签”。',
      'room.id': '房间', 'room.name': '名称', 'room.zone': '区域', 'room.beds': '床位标签', 'beds.saved': '房间 {id} 的床位已保存',
      'history.from': '从', 'history.to': '到', 'history.kind': '类型', 'history.priority': '最低优先级', 'history.priority_col': '优先级',
      'history.device': '设备', 'history.search': '查询', 'history.csv': '导出 CSV', 'history.time': '时间',
      'history.detail': '内容', 'history.newest': '最新', 'history.newer': '较新', 'history.older': '较早',
      'history.page': '第 {n} 页', 'history.was': '之前',
      'event.alarm': '呼叫/报警', 'event.device_health': '设备状态', 'event.point': '测点', 'event.system': '系统',
      'phase.raise': '发出', 'phase.ack': '已确认', 'phase.attend': '已到场', 'phase.reset': '已复位',
      'phase.escalate': '升级', 'phase.reannunciate': '再次提醒', 'phase.update': '更新',
      'report.days': '最近天数', 'report.load': '生成', 'report.window': '{from} 至 {to} 发出的呼叫与报警',
      'report.shift': '班次', 'report.hours': '时间', 'report.raised': '发出', 'report.acked': '已确认',
      'report.attended': '已到场', 'report.ack_p50': '确认 P50', 'report.ack_p90': '确认 P90',
      'report.attend_p50': '到场 P50', 'report.attend_p90': '到场 P90', 'report.long': '超时 (>15 分)',
      'report.reset_unattended': '未到场即复位', 'report.open_unattended': '仍未到场',
      'report.long_waits': '等待超过 {min} 分钟', 'report.raised_at': '发出时间', 'report.wait': '等待',
      'report.outcome': '结果', 'report.no_long_waits': '没有超时等待', 'report.truncated': '(只列出最长的 {n} 条)',
      'shift.day': '白班', 'shift.evening': '中班', 'shift.night': '夜班', 'shift.all': '合计',
      'outcome.attended': '已到场 (迟)', 'outcome.reset': '未到场即复位', 'outcome.open': '仍未处理',
      'users.add': '添加用户', 'users.username': '用户名', 'users.role': '角色', 'users.password': '密码 (至少 10 位)',
      'users.created': '创建时间', 'users.last_login': '最近登录', 'users.reset_password': '重置密码',
      'users.new_password': '新密码 (至少 10 位)', 'users.password_for': '重置 {user} 的密码',
      'users.added': '用户 {user} 已添加', 'users.deleted': '用户 {user} 已删除', 'users.role_changed': '{user} 的角色已改为 {role}',
      'users.password_changed': '{user} 的密码已重置', 'users.confirm_delete': '确定删除用户 {user}？其登录会话将结束。',
      'users.you': '(您)',
      'audit.actor': '操作人', 'audit.origin': '来源', 'audit.action': '操作', 'audit.target': '对象',
    },
    en: {
      'app.title': 'Facility management', loading: 'Loading…', empty: 'Nothing to show', refresh: 'Refresh',
      'tab.devices': 'Devices', 'tab.residents': 'Residents and beds', 'tab.history': 'History', 'tab.report': 'Response times',
      'tab.users': 'Users', 'tab.audit': 'Audit log',
      'forbidden.back': 'Back to the devices', 'forbidden.action': 'Not allowed: {error}',
      'error.http': 'Request failed ({status}): {error}', 'error.not_found': 'No such item: {id}',
      'filter.health': 'Health', 'filter.room': 'Room', 'filter.text': 'Search', 'filter.text.placeholder': 'id, label, profile…',
      'filter.all': 'All', 'filter.site': '(site-wide)',
      'health.online': 'online', 'health.suspect': 'suspect', 'health.offline': 'offline', 'health.unknown': 'unknown',
      'devices.summary': '{total} devices: {online} online, {suspect} suspect, {offline} offline, {unknown} unknown',
      'devices.shown': ' ({n} shown)',
      'device.add': 'Add device', 'device.edit': 'Edit device {id}', 'device.new': 'Add a device',
      'device.id': 'Id', 'device.label': 'Label', 'device.location': 'Location', 'device.profile': 'Profile',
      'device.busaddr': 'Bus / address', 'device.bus': 'Bus', 'device.address': 'Address', 'device.health': 'Health',
      'device.reason': 'Reason', 'device.values': 'Last values', 'device.counters': 'Error counters', 'device.room': 'Room',
      'device.bed': 'Bed', 'device.spot': 'Spot', 'device.poll_ms': 'Poll period (ms)', 'device.enabled': 'Enabled',
      'device.disabled': 'disabled', 'device.settings_kept': 'Driver settings are not edited here; they are kept as they are.',
      'device.saved': 'Device {id} saved; the gateway reloaded its configuration', 'device.deleted': 'Device {id} deleted',
      'device.confirm_delete': 'Delete device {id}? The gateway will stop supervising it.', 'device.none': '(none)',
      edit: 'Edit', delete: 'Delete', save: 'Save', cancel: 'Cancel', 'confirm.ok': 'OK',
      'errors.title': 'Not saved:', 'errors.field': 'Field at fault: {field}',
      'residents.title': 'Residents', 'resident.add': 'Add resident', 'resident.edit': 'Edit resident {id}', 'resident.new': 'Add a resident',
      'resident.id': 'Id (pseudonymous)', 'resident.label': 'Display label', 'resident.bed': 'Bed', 'resident.care_level': 'Care level',
      'resident.risks': 'Risks', 'resident.night': 'Night window', 'resident.night_default': '(site default)',
      'resident.label_hint': 'The label appears on the station display: a form of address only, never a full name. Night window as HH:MM-HH:MM; empty for the site\'s.',
      'resident.saved': 'Resident {id} saved', 'resident.deleted': 'Resident {id} deleted', 'resident.confirm_delete': 'Delete resident {id}?',
      'risk.fall': 'Fall risk', 'risk.wandering': 'Wandering risk', 'risk.fall_from_bed': 'fall from bed', 'risk.choking': 'choking',
      'risk.wrong_ingestion': 'wrong ingestion', 'risk.pressure_sore': 'pressure sore', 'risk.scald': 'scald', 'risk.harm': 'harm',
      'risk.activity_accident': 'activity accident',
      'beds.title': 'Beds per room', 'beds.hint': 'Bed labels separated by commas, e.g. A, B. A bed\'s id is "room-label".',
      'room.id': 'Room', 'room.name': 'Name', 'room.zone': 'Zone', 'room.beds': 'Bed labels', 'beds.saved': 'Beds of room {id} saved',
      'history.from': 'From', 'history.to': 'To', 'history.kind': 'Kind', 'history.priority': 'Lowest priority', 'history.priority_col': 'Priority',
      'history.device': 'Device', 'history.search': 'Search', 'history.csv': 'Export CSV', 'history.time': 'Time',
      'history.detail': 'Detail', 'history.newest': 'Newest', 'history.newer': 'Newer', 'history.older': 'Older',
      'history.page': 'page {n}', 'history.was': 'was',
      'event.alarm': 'call/alarm', 'event.device_health': 'device health', 'event.point': 'point', 'event.system': 'system',
      'phase.raise': 'raised', 'phase.ack': 'acknowledged', 'phase.attend': 'attended', 'phase.reset': 'reset',
      'phase.escalate': 'escalated', 'phase.reannunciate': 're-annunciated', 'phase.update': 'updated',
      'report.days': 'Last days', 'report.load': 'Show', 'report.window': 'Calls and alarms raised {from} to {to}',
      'report.shift': 'Shift', 'report.hours': 'Hours', 'report.raised': 'Raised', 'report.acked': 'Acknowledged',
      'report.attended': 'Attended', 'report.ack_p50': 'Ack p50', 'report.ack_p90': 'Ack p90',
      'report.attend_p50': 'Attend p50', 'report.attend_p90': 'Attend p90', 'report.long': 'Long waits (>15 min)',
      'report.reset_unattended': 'Reset unattended', 'report.open_unattended': 'Still open',
      'report.long_waits': 'Waits over {min} minutes', 'report.raised_at': 'Raised', 'report.wait': 'Wait',
      'report.outcome': 'Outcome', 'report.no_long_waits': 'No long waits', 'report.truncated': '(only the {n} longest are listed)',
      'shift.day': 'day', 'shift.evening': 'evening', 'shift.night': 'night', 'shift.all': 'all',
      'outcome.attended': 'attended (late)', 'outcome.reset': 'reset without attendance', 'outcome.open': 'still open',
      'users.add': 'Add user', 'users.username': 'User name', 'users.role': 'Role', 'users.password': 'Password (10+ characters)',
      'users.created': 'Created', 'users.last_login': 'Last login', 'users.reset_password': 'Reset password',
      'users.new_password': 'New password (10+ characters)', 'users.password_for': 'Reset the password of {user}',
      'users.added': 'User {user} added', 'users.deleted': 'User {user} deleted', 'users.role_changed': '{user} is now {role}',
      'users.password_changed': 'Password of {user} reset', 'users.confirm_delete': 'Delete user {user}? Their sessions end.',
      'users.you': '(you)',
      'audit.actor': 'Actor', 'audit.origin': 'Origin', 'audit.action': 'Action', 'audit.target': 'Target',
    },
  });

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const t = WG.t;
  const esc = WG.escape;

  let session = null;
  let meta = null;
  let devices = [];
  let residents = [];
  let currentTab = null;
  let pollTimer = null;
  let pollBusy = false;
  let editingDevice = null; /* the device as read when the editor opened; {} for a new one */
  let editingResident = null;
  let passwordUser = null;
  const history = { stack: [], before: null, next: null, events: [] };
  let report = null;
  let users = [];
  let auditEntries = [];

  const can = (min) => session && WG.roleAtLeast(session.role, min);

  /* ---- messages ---- */
  let messageTimer = null;
  function showMessage(text, kind = 'error') {
    const box = $('#message');
    $('#message-text').textContent = text;
    box.className = `message ${kind}`;
    box.hidden = false;
    clearTimeout(messageTimer);
    if (kind === 'ok') messageTimer = setTimeout(() => { box.hidden = true; }, 5000);
  }
  function hideMessage() { $('#message').hidden = true; }

  /* A 422 problem: {field, code, args, message} (docs/api.md); older servers sent text. */
  function detailText(d) { return typeof d === 'string' ? d : (d && d.message) || ''; }

  function errorText(res) {
    const data = res.data && typeof res.data === 'object' ? res.data : {};
    let text = data.error || (typeof res.data === 'string' && res.data) || String(res.status);
    /* The server's headline may repeat the first detail, which is listed anyway. */
    const first = Array.isArray(data.details) ? detailText(data.details[0]) : '';
    if (first && text.includes(first)) {
      text = text.replace(first, '').replace(/[\s:：]+$/, '') || text;
    }
    return text;
  }

  /* WG.api that never throws: a network error is status 0. A 403 is always
   * reported (unless the caller shows it itself: quiet403). */
  async function call(method, path, body, { quiet403 = false } = {}) {
    let res;
    try {
      res = await WG.api(method, path, body);
    } catch (e) {
      res = { status: 0, data: { error: t('error.network') } };
      showMessage(t('error.network'));
      return res;
    }
    if (res.status === 403 && !quiet403) showMessage(t('forbidden.action', { error: errorText(res) }));
    return res;
  }

  /* Shows a failed request in the message bar (403 and network errors already are). */
  function reportFailure(res) {
    if (res.status === 403 || res.status === 0) return;
    showMessage(t('error.http', { status: res.status, error: errorText(res) }));
  }

  /* ---- confirmation ---- */
  function confirmDialog(text) {
    const dialog = $('#confirm-dialog');
    $('#confirm-text').textContent = text;
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    });
  }

  /* ---- formatting ---- */
  function healthBadge(health) {
    const h = ['online', 'suspect', 'offline', 'unknown'].includes(health) ? health : 'unknown';
    return `<span class="health health-${h}">${esc(t(`health.${h}`))}</span>`;
  }
  function fmtValue(v) {
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toLocaleString('en', { maximumFractionDigits: 3, useGrouping: false });
    if (v === null || v === undefined) return '–';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  function fmtPairs(obj) {
    if (!obj || typeof obj !== 'object') return '';
    return Object.keys(obj).map((k) => `<span class="pair"><span class="k">${esc(k)}</span> ${esc(fmtValue(obj[k]))}</span>`).join(' ');
  }
  function fmtSeconds(s) {
    if (s === null || s === undefined || s < 0) return '–';
    const total = Math.round(s);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const sec = String(total % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  }
  function roomName(id) {
    if (!id || !meta) return id || '';
    const room = (meta.rooms || []).find((r) => String(r.id) === String(id));
    return room && room.name && room.name !== room.id ? `${room.id} ${room.name}` : String(id);
  }
  function bedsOfRoom(roomId) {
    if (!meta) return [];
    const beds = (meta.beds || []).filter((b) => String(b.room) === String(roomId));
    if (beds.length) return beds;
    const room = (meta.rooms || []).find((r) => String(r.id) === String(roomId));
    return room && Array.isArray(room.beds)
      ? room.beds.map((b) => (typeof b === 'object' ? b : { id: String(b).includes('-') ? String(b) : `${roomId}-${b}`, room: roomId, label: String(b).replace(`${roomId}-`, '') }))
      : [];
  }
  function allBeds() {
    if (!meta) return [];
    if (Array.isArray(meta.beds) && meta.beds.length) return meta.beds;
    return (meta.rooms || []).flatMap((r) => bedsOfRoom(r.id));
  }
  function roomOfBed(bedId) {
    const bed = allBeds().find((b) => b.id === bedId);
    return bed ? String(bed.room) : '';
  }
  function deviceLocation(d) {
    const loc = d.location || {};
    const room = loc.room || d.room || (d.bed ? roomOfBed(d.bed) : '');
    const bed = loc.bed || d.bed || '';
    const parts = [];
    if (room) parts.push(roomName(room));
    if (bed) parts.push(bed);
    if (d.spot) parts.push(d.spot);
    return parts.length ? parts.join(' · ') : t('filter.site');
  }
  function priorityName(p) {
    if (typeof p === 'number') return p >= 0 && p < PRIORITIES.length ? PRIORITIES[p] : '';
    return p || '';
  }
  function fillSelect(select, options, value) {
    select.innerHTML = options.map(([v, label]) => `<option value="${esc(v)}">${esc(label)}</option>`).join('');
    if (value !== undefined) select.value = value;
  }
  function roomOptions(firstLabel) {
    return [['', firstLabel]].concat((meta ? meta.rooms || [] : []).map((r) => [String(r.id), roomName(r.id)]));
  }

  /* ---- routing ---- */
  function parseHash() {
    const parts = location.hash.replace(/^#/, '').split('/');
    return { tab: parts[0] || 'devices', action: parts[1] || '', id: parts.slice(2).join('/') ? decodeURIComponent(parts.slice(2).join('/')) : '' };
  }

  function showForbidden() {
    $$('.view').forEach((v) => { v.hidden = true; });
    $('#forbidden').hidden = false;
    closeDialogs();
    stopPolling();
    currentTab = null;
    $$('#tabs a').forEach((a) => a.classList.remove('active'));
  }

  function closeDialogs() {
    $$('dialog').forEach((d) => { if (d.open) d.close(); });
  }

  async function route() {
    const { tab, action, id } = parseHash();
    if (!(tab in TAB_ROLE)) { location.hash = '#devices'; return; }
    const editing = action === 'edit' || action === 'new';
    if (!can(TAB_ROLE[tab]) || (editing && !can('manager'))) { showForbidden(); return; }
    $('#forbidden').hidden = true;
    $$('#tabs a').forEach((a) => a.classList.toggle('active', a.dataset.tab === tab));
    $$('.view').forEach((v) => { v.hidden = v.id !== `view-${tab}`; });
    const entering = currentTab !== tab;
    currentTab = tab;
    if (tab !== 'devices') stopPolling();
    if (tab === 'devices') {
      if (entering) { renderDevices(); startPolling(); }
      if (!editing && $('#device-editor').open) $('#device-editor').close();
      if (editing) await openDeviceEditor(action === 'edit' ? id : null);
    } else if (tab === 'residents') {
      if (entering || !editing) await loadResidents();
      if (!editing && $('#resident-editor').open) $('#resident-editor').close();
      if (editing) openResidentEditor(action === 'edit' ? id : null);
    } else if (tab === 'history') {
      if (entering) {
        if (!devices.length) await pollDevices();
        fillHistoryFilters();
        await loadHistory(null, true);
      }
    } else if (tab === 'report') {
      if (entering) await loadReport();
    } else if (tab === 'users') {
      if (entering) await loadUsers();
    } else if (tab === 'audit') {
      if (entering) await loadAudit();
    }
  }

  /* ================= Devices ================= */
  function startPolling() {
    stopPolling();
    pollDevices();
    pollTimer = setInterval(pollDevices, POLL_MS);
  }
  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  async function pollDevices() {
    if (pollBusy) return;
    pollBusy = true;
    try {
      const res = await call('GET', '/api/v1/devices', undefined, { quiet403: true });
      if (res.status === 200 && res.data && Array.isArray(res.data.devices)) {
        devices = res.data.devices;
        renderDevices();
      } else if (res.status === 403) {
        stopPolling();
        showForbidden();
      }
    } finally {
      pollBusy = false;
    }
  }

  function deviceMatches(d) {
    const health = $('#dev-filter-health').value;
    const room = $('#dev-filter-room').value;
    const text = $('#dev-filter-text').value.trim().toLowerCase();
    if (health && (d.health || 'unknown') !== health) return false;
    if (room) {
      const r = (d.location && d.location.room) || d.room || (d.bed ? roomOfBed(d.bed) : '');
      if (room === '-' ? r : String(r) !== room) return false;
    }
    if (text) {
      const hay = [d.id, d.label, d.profile, d.bus, d.spot, d.reason, d.bed, d.room, deviceLocation(d)].join(' ').toLowerCase();
      if (!hay.includes(text)) return false;
    }
    return true;
  }

  function deviceRow(d) {
    const manage = can('manager');
    const id = esc(d.id);
    return `<td class="id">${id}</td><td class="label">${esc(d.label)}</td>`
      + `<td class="location">${esc(deviceLocation(d))}</td><td class="profile">${esc(d.profile)}</td>`
      + `<td class="busaddr">${esc(d.bus)} / ${esc(d.address)}</td>`
      + `<td class="health-cell">${healthBadge(d.health)}${d.enabled === false ? ` <span class="tag">${esc(t('device.disabled'))}</span>` : ''}</td>`
      + `<td class="reason">${esc(d.reason)}</td><td class="values">${fmtPairs(d.values)}</td>`
      + `<td class="counters">${fmtPairs(d.counters)}</td>`
      + (manage ? `<td class="actions"><button type="button" class="device-edit" data-id="${id}">${esc(t('edit'))}</button>`
        + ` <button type="button" class="device-delete danger" data-id="${id}">${esc(t('delete'))}</button></td>` : '');
  }

  function renderDevices() {
    const tbody = $('#device-table tbody');
    const shown = devices.filter(deviceMatches);
    const rows = new Map($$('tr', tbody).map((tr) => [tr.dataset.id, tr]));
    shown.forEach((d, i) => {
      let tr = rows.get(d.id);
      rows.delete(d.id);
      if (!tr) { tr = document.createElement('tr'); tr.dataset.id = d.id; }
      const html = deviceRow(d);
      if (tr.dataset.html !== html) { tr.innerHTML = html; tr.dataset.html = html; }
      tr.className = `health-row-${d.health || 'unknown'}`;
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
    rows.forEach((tr) => tr.remove());
    $('#device-empty').hidden = shown.length > 0;
    const counts = { total: devices.length, online: 0, suspect: 0, offline: 0, unknown: 0 };
    devices.forEach((d) => { counts[d.health in counts ? d.health : 'unknown']++; });
    $('#dev-summary').textContent = t('devices.summary', counts) + (shown.length !== devices.length ? t('devices.shown', { n: shown.length }) : '');
  }

  function fillDeviceFilters() {
    const room = $('#dev-filter-room').value;
    fillSelect($('#dev-filter-room'), [['', t('filter.all')], ['-', t('filter.site')]].concat(roomOptions('').slice(1)), room);
  }

  function fillDeviceRoomBed(roomValue, bedValue) {
    fillSelect($('#dev-room'), roomOptions(t('filter.site')), roomValue);
    const beds = roomValue ? bedsOfRoom(roomValue) : allBeds();
    fillSelect($('#dev-bed'), [['', t('device.none')]].concat(beds.map((b) => [b.id, b.id])), bedValue);
  }

  const DEVICE_FIELDS = { id: 'dev-id', label: 'dev-label', bus: 'dev-bus', address: 'dev-address', profile: 'dev-profile',
    room: 'dev-room', bed: 'dev-bed', spot: 'dev-spot', poll_ms: 'dev-poll', enabled: 'dev-enabled' };

  function clearFormErrors(form, box) {
    $$('.invalid', form).forEach((el) => { el.classList.remove('invalid'); el.removeAttribute('aria-invalid'); });
    box.hidden = true;
    box.innerHTML = '';
  }

  /* A refused change: the error, the field at fault highlighted, the
   * loader's details (422) listed. */
  function showFormErrors(form, box, fieldMap, res) {
    clearFormErrors(form, box);
    const data = res.data && typeof res.data === 'object' ? res.data : {};
    const status = res.status === 403 ? t('forbidden.action', { error: errorText(res) }) : t('error.http', { status: res.status, error: errorText(res) });
    let html = `<p class="error-title">${esc(t('errors.title'))} ${esc(status)}</p>`;
    if (data.field) {
      const label = fieldMap[data.field] && $(`label[for="${fieldMap[data.field]}"]`, form);
      const name = label ? `${label.textContent} (${data.field})` : data.field;
      html += `<p class="error-field">${esc(t('errors.field', { field: name }))}</p>`;
      const el = fieldMap[data.field] && document.getElementById(fieldMap[data.field]);
      if (el) { el.classList.add('invalid'); el.setAttribute('aria-invalid', 'true'); }
    }
    if (Array.isArray(data.details) && data.details.length) {
      html += `<ul class="details">${data.details.map((d) => `<li>${esc(detailText(d))}</li>`).join('')}</ul>`;
    }
    box.innerHTML = html;
    box.hidden = false;
    const first = $('.invalid', form);
    if (first) first.focus();
  }

  async function openDeviceEditor(id) {
    if (!meta) await loadMeta();
    let d = {};
    if (id) {
      d = devices.find((x) => x.id === id);
      if (!d) {
        const res = await call('GET', `/api/v1/devices/${encodeURIComponent(id)}`);
        if (res.status !== 200) {
          if (res.status === 404) showMessage(t('error.not_found', { id })); else reportFailure(res);
          if (res.status === 403) { showForbidden(); return; }
          location.hash = '#devices';
          return;
        }
        d = res.data.device;
      }
    }
    const dialog = $('#device-editor');
    if (dialog.open && editingDevice && (editingDevice.id || '') === (d.id || '')) return;
    editingDevice = d;
    const form = $('#device-form');
    clearFormErrors(form, $('#device-errors'));
    $('#device-editor-title').textContent = id ? t('device.edit', { id }) : t('device.new');
    $('#dev-id').value = d.id || '';
    $('#dev-id').readOnly = !!id;
    $('#dev-label').value = d.label || '';
    const buses = (meta.buses || []).map((b) => [b.id, b.driver ? `${b.id} (${b.driver})` : b.id]);
    if (d.bus && !buses.find((b) => b[0] === d.bus)) buses.push([d.bus, d.bus]);
    fillSelect($('#dev-bus'), buses, d.bus || (buses[0] ? buses[0][0] : ''));
    $('#dev-address').value = d.address ?? '';
    const profiles = (meta.profiles || []).map((p) => [p.id, p.vendor || p.model ? `${p.id} — ${[p.vendor, p.model].filter(Boolean).join(' ')}` : p.id]);
    if (d.profile && !profiles.find((p) => p[0] === d.profile)) profiles.push([d.profile, d.profile]);
    fillSelect($('#dev-profile'), (id ? [] : [['', '']]).concat(profiles), d.profile || '');
    const room = (d.location && d.location.room) || d.room || (d.bed ? roomOfBed(d.bed) : '');
    fillDeviceRoomBed(room ? String(room) : '', d.bed || '');
    $('#dev-spot').value = d.spot || '';
    $('#dev-poll').value = d.poll_ms ?? '';
    $('#dev-poll').placeholder = String(DEFAULT_POLL_MS);
    $('#dev-enabled').checked = d.enabled !== false;
    $('#device-delete').hidden = !id;
    if (!dialog.open) dialog.showModal();
    (id ? $('#dev-label') : $('#dev-id')).focus();
  }

  function numberOrText(text) {
    const s = text.trim();
    return /^-?\d+$/.test(s) ? Number(s) : s;
  }

  /* The device object to send: what the form says; an optional field left
   * empty is left out (so the file keeps its defaults), unless it had a
   * value before, which is then cleared explicitly. */
  function deviceBody() {
    const before = editingDevice || {};
    const body = { id: $('#dev-id').value.trim() };
    const text = (key, el) => {
      const v = $(el).value.trim();
      if (v !== '' || (before[key] !== undefined && before[key] !== '' && before[key] !== null)) body[key] = v;
    };
    text('label', '#dev-label');
    body.bus = $('#dev-bus').value;
    const address = $('#dev-address').value.trim();
    if (address !== '') body.address = numberOrText(address);
    body.profile = $('#dev-profile').value;
    const bed = $('#dev-bed').value;
    const room = $('#dev-room').value;
    if (bed) body.bed = bed; else if (room) body.room = room;
    text('spot', '#dev-spot');
    const poll = $('#dev-poll').value.trim();
    if (poll !== '') {
      const value = numberOrText(poll);
      const was = before.poll_ms ?? DEFAULT_POLL_MS;
      if (!(value === DEFAULT_POLL_MS && was === DEFAULT_POLL_MS)) body.poll_ms = value;
    } else if (before.poll_ms !== undefined && before.poll_ms !== DEFAULT_POLL_MS) {
      body.poll_ms = DEFAULT_POLL_MS;
    }
    const enabled = $('#dev-enabled').checked;
    if (!enabled || before.enabled === false) body.enabled = enabled;
    return body;
  }

  async function saveDevice(event) {
    event.preventDefault();
    const id = editingDevice && editingDevice.id;
    const body = deviceBody();
    $('#device-save').disabled = true;
    try {
      const res = id
        ? await call('PUT', `/api/v1/devices/${encodeURIComponent(id)}`, body, { quiet403: true })
        : await call('POST', '/api/v1/devices', body, { quiet403: true });
      if (res.status === 200 || res.status === 201) {
        const saved = (res.data && res.data.device) || body;
        const i = devices.findIndex((x) => x.id === saved.id);
        if (i >= 0) devices[i] = { ...devices[i], ...saved }; else devices.push(saved);
        editingDevice = null;
        $('#device-editor').close();
        renderDevices();
        showMessage(t('device.saved', { id: saved.id }), 'ok');
        pollDevices();
      } else {
        showFormErrors($('#device-form'), $('#device-errors'), DEVICE_FIELDS, res);
      }
    } finally {
      $('#device-save').disabled = false;
    }
  }

  async function deleteDevice(id) {
    if (!(await confirmDialog(t('device.confirm_delete', { id })))) return false;
    const res = await call('DELETE', `/api/v1/devices/${encodeURIComponent(id)}`);
    if (res.status === 200 || res.status === 204) {
      devices = devices.filter((d) => d.id !== id);
      renderDevices();
      showMessage(t('device.deleted', { id }), 'ok');
      pollDevices();
      return true;
    }
    reportFailure(res);
    return false;
  }

  /* ================= Residents and beds ================= */
  async function loadResidents() {
    const res = await call('GET', '/api/v1/residents');
    if (res.status === 200 && res.data && Array.isArray(res.data.residents)) {
      residents = res.data.residents;
    } else {
      if (res.status === 403) { showForbidden(); return; }
      reportFailure(res);
    }
    renderResidents();
    renderRooms();
  }

  function riskBadges(risks) {
    const list = Array.isArray(risks) ? risks : [];
    const sorted = RISKS.filter((r) => list.includes(r)).concat(list.filter((r) => !RISKS.includes(r)));
    return sorted.map((r) => {
      const cls = r === 'fall' ? 'risk risk-fall' : r === 'wandering' ? 'risk risk-wandering' : 'risk';
      return `<span class="${cls}" data-risk="${esc(r)}">${esc(t(`risk.${r}`) === `risk.${r}` ? r : t(`risk.${r}`))}</span>`;
    }).join(' ');
  }

  function renderResidents() {
    const sorted = residents.slice().sort((a, b) => String(a.bed).localeCompare(String(b.bed), 'en', { numeric: true }));
    $('#resident-table tbody').innerHTML = sorted.map((r) => {
      const id = esc(r.id);
      const flags = Array.isArray(r.risks) ? r.risks : [];
      const cls = [flags.includes('fall') ? 'has-fall' : '', flags.includes('wandering') ? 'has-wandering' : ''].join(' ').trim();
      return `<tr data-id="${id}" class="${cls}"><td class="id">${id}</td><td class="label">${esc(r.label)}</td>`
        + `<td class="bed">${esc(r.bed)}</td><td class="care">${esc(r.care_level)}</td>`
        + `<td class="risks">${riskBadges(r.risks)}</td>`
        + `<td class="night">${r.night ? esc(r.night) : `<span class="muted">${esc(t('resident.night_default'))}</span>`}</td>`
        + `<td class="actions"><button type="button" class="resident-edit" data-id="${id}">${esc(t('edit'))}</button>`
        + ` <button type="button" class="resident-delete danger" data-id="${id}">${esc(t('delete'))}</button></td></tr>`;
    }).join('');
  }

  function renderRooms() {
    const rooms = meta ? meta.rooms || [] : [];
    $('#room-table tbody').innerHTML = rooms.map((r) => {
      const id = esc(r.id);
      const labels = bedsOfRoom(r.id).map((b) => b.label).join(', ');
      const zone = (meta.zones || []).find((z) => z.id === r.zone);
      return `<tr data-id="${id}"><td class="id">${id}</td><td>${esc(r.name)}</td><td>${esc(zone && zone.name ? zone.name : r.zone)}</td>`
        + `<td class="beds-cell"><input class="bed-labels" data-room="${id}" value="${esc(labels)}" aria-label="${esc(t('room.beds'))} ${id}"><div class="field-error"></div></td>`
        + `<td><button type="button" class="room-beds-save" data-room="${id}">${esc(t('save'))}</button></td></tr>`;
    }).join('');
  }

  const RESIDENT_FIELDS = { id: 'res-id', label: 'res-label', bed: 'res-bed', care_level: 'res-care', risks: 'res-risks', night: 'res-night' };

  async function openResidentEditor(id) {
    if (!meta) await loadMeta();
    let r = { care_level: 1, risks: [] };
    if (id) {
      r = residents.find((x) => x.id === id);
      if (!r) { showMessage(t('error.not_found', { id })); location.hash = '#residents'; return; }
    }
    const dialog = $('#resident-editor');
    if (dialog.open && editingResident && (editingResident.id || '') === (r.id || '')) return;
    editingResident = r;
    clearFormErrors($('#resident-form'), $('#resident-errors'));
    $('#resident-editor-title').textContent = id ? t('resident.edit', { id }) : t('resident.new');
    $('#res-id').value = r.id || '';
    $('#res-id').readOnly = !!id;
    $('#res-label').value = r.label || '';
    const beds = allBeds().map((b) => [b.id, b.id]);
    if (r.bed && !beds.find((b) => b[0] === r.bed)) beds.push([r.bed, r.bed]);
    fillSelect($('#res-bed'), (id ? [] : [['', '']]).concat(beds), r.bed || '');
    $('#res-care').value = String(r.care_level || 1);
    const risks = Array.isArray(r.risks) ? r.risks : [];
    $('#res-risks').innerHTML = RISKS.concat(risks.filter((x) => !RISKS.includes(x))).map((name) => {
      const cls = name === 'fall' || name === 'wandering' ? ` class="risk-${esc(name)}"` : '';
      return `<label${cls}><input type="checkbox" name="risk" value="${esc(name)}"${risks.includes(name) ? ' checked' : ''}> `
        + `${esc(t(`risk.${name}`) === `risk.${name}` ? name : t(`risk.${name}`))}</label>`;
    }).join('');
    $('#res-night').value = r.night || '';
    $('#resident-delete').hidden = !id;
    if (!dialog.open) dialog.showModal();
    (id ? $('#res-label') : $('#res-id')).focus();
  }

  async function saveResident(event) {
    event.preventDefault();
    const id = editingResident && editingResident.id;
    const care = $('#res-care').value;
    const label = $('#res-label').value.trim();
    const body = {
      id: $('#res-id').value.trim(),
      /* An empty label is left out (the file keeps no `label: ""`) unless it clears one. */
      label: label !== '' || (editingResident && editingResident.label) ? label : undefined,
      bed: $('#res-bed').value,
      care_level: /^\d+$/.test(care) ? Number(care) : care,
      risks: $$('#res-risks input:checked').map((el) => el.value),
      night: $('#res-night').value.trim() || null,
    };
    $('#resident-save').disabled = true;
    try {
      const res = id
        ? await call('PUT', `/api/v1/residents/${encodeURIComponent(id)}`, body, { quiet403: true })
        : await call('POST', '/api/v1/residents', body, { quiet403: true });
      if (res.status === 200 || res.status === 201) {
        editingResident = null;
        $('#resident-editor').close();
        showMessage(t('resident.saved', { id: body.id }), 'ok');
        await loadResidents();
      } else {
        showFormErrors($('#resident-form'), $('#resident-errors'), RESIDENT_FIELDS, res);
      }
    } finally {
      $('#resident-save').disabled = false;
    }
  }

  async function deleteResident(id) {
    if (!(await confirmDialog(t('resident.confirm_delete', { id })))) return false;
    const res = await call('DELETE', `/api/v1/residents/${encodeURIComponent(id)}`);
    if (res.status === 200 || res.status === 204) {
      showMessage(t('resident.deleted', { id }), 'ok');
      await loadResidents();
      return true;
    }
    reportFailure(res);
    return false;
  }

  async function saveRoomBeds(roomId) {
    const row = $(`#room-table tr[data-id="${CSS.escape(roomId)}"]`);
    const input = $('.bed-labels', row);
    const err = $('.field-error', row);
    const beds = input.value.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean);
    input.classList.remove('invalid');
    err.textContent = '';
    const res = await call('PUT', `/api/v1/rooms/${encodeURIComponent(roomId)}/beds`, { beds }, { quiet403: true });
    if (res.status === 200) {
      showMessage(t('beds.saved', { id: roomId }), 'ok');
      await loadMeta();
      renderRooms();
      return;
    }
    input.classList.add('invalid');
    const data = res.data && typeof res.data === 'object' ? res.data : {};
    const head = res.status === 403 ? t('forbidden.action', { error: errorText(res) }) : t('error.http', { status: res.status, error: errorText(res) });
    const details = Array.isArray(data.details) ? data.details : [];
    err.innerHTML = `${esc(head)}${details.length ? `<ul class="details">${details.map((d) => `<li>${esc(detailText(d))}</li>`).join('')}</ul>` : ''}`;
  }

  /* ================= History ================= */
  function fillHistoryFilters() {
    const room = $('#hist-room').value;
    fillSelect($('#hist-room'), roomOptions(t('filter.all')), room);
    const device = $('#hist-device').value;
    const ids = devices.map((d) => d.id).sort();
    fillSelect($('#hist-device'), [['', t('filter.all')]].concat(ids.map((id) => [id, id])), device);
  }

  function historyParams() {
    const p = new URLSearchParams();
    const from = $('#hist-from').value;
    const to = $('#hist-to').value;
    if (from) p.set('from', String(new Date(from).getTime()));
    if (to) p.set('to', String(new Date(to).getTime()));
    for (const [key, el] of [['kind', '#hist-kind'], ['priority', '#hist-priority'], ['room', '#hist-room'], ['device', '#hist-device']]) {
      if ($(el).value) p.set(key, $(el).value);
    }
    return p;
  }

  function updateCsvLink() {
    const p = historyParams();
    p.set('format', 'csv');
    $('#history-csv').href = `/api/v1/history?${p}`;
  }

  function eventBody(e) {
    let body = e.data !== undefined ? e.data : e.body;
    if (typeof body === 'string') { try { body = JSON.parse(body); } catch (x) { /* text as it is */ } }
    return body;
  }

  function eventDetail(e) {
    const body = eventBody(e);
    if (!body || typeof body !== 'object') return esc(body);
    if (e.kind === 'alarm') {
      const parts = [];
      if (body.phase) parts.push(t(`phase.${body.phase}`));
      if (body.kind) parts.push(body.kind);
      if (body.resident) parts.push(body.resident);
      if (body.detail) parts.push(body.detail);
      if (body.acknowledged_by) parts.push(`✓ ${body.acknowledged_by}`);
      return esc(parts.join(' · '));
    }
    if (e.kind === 'device_health' && body.health) {
      const was = body.previous ? ` <span class="muted">(${esc(t('history.was'))} ${esc(t(`health.${body.previous}`))})</span>` : '';
      return `${healthBadge(body.health)} ${esc(body.reason || '')}${was}`;
    }
    if (e.kind === 'point' && body.point !== undefined) {
      const was = body.previous !== undefined ? ` <span class="muted">(${esc(t('history.was'))} ${esc(fmtValue(body.previous))})</span>` : '';
      return `${esc(body.point)} = ${esc(fmtValue(body.value))}${was}`;
    }
    if (e.kind === 'system' && body.what) {
      const rest = Object.keys(body).filter((k) => k !== 'what');
      return `${esc(body.what)}${rest.length ? ` <span class="muted">${esc(rest.map((k) => `${k}: ${fmtValue(body[k])}`).join(', '))}</span>` : ''}`;
    }
    const text = JSON.stringify(body);
    return esc(text.length > 200 ? `${text.slice(0, 200)}…` : text);
  }

  async function loadHistory(before, reset) {
    if (reset) { history.stack = []; }
    updateCsvLink();
    const p = historyParams();
    p.set('limit', String(HISTORY_PAGE));
    if (before) p.set('before', String(before));
    const res = await call('GET', `/api/v1/history?${p}`);
    if (res.status !== 200 || !res.data) {
      if (res.status === 403) { showForbidden(); return; }
      reportFailure(res);
      return;
    }
    history.before = before;
    history.events = Array.isArray(res.data.events) ? res.data.events : [];
    history.next = res.data.next_before ?? null;
    renderHistory();
  }

  function renderHistory() {
    const rows = history.events.map((e) => {
      const pri = priorityName(e.priority);
      const loc = [e.room ? roomName(e.room) : '', e.bed || ''].filter(Boolean).join(' · ');
      let raw = '';
      try { raw = JSON.stringify(eventBody(e)); } catch (x) { raw = ''; }
      return `<tr data-seq="${esc(e.seq)}" class="kind-${esc(e.kind)}${pri ? ` pri-${esc(pri)}` : ''}">`
        + `<td class="time">${esc(WG.fmtTime(e.ts_ms))}</td>`
        + `<td class="kind">${esc(t(`event.${e.kind}`) === `event.${e.kind}` ? e.kind : t(`event.${e.kind}`))}</td>`
        + `<td class="priority">${pri ? `<span class="pri pri-${esc(pri)}">${esc(t(`prio.${pri}`))}</span>` : ''}</td>`
        + `<td>${esc(loc)}</td><td>${esc(e.device)}</td><td class="detail" title="${esc(raw)}">${eventDetail(e)}</td></tr>`;
    });
    $('#history-table tbody').innerHTML = rows.join('');
    $('#history-empty').hidden = rows.length > 0;
    $('#hist-older').disabled = history.next === null || history.next === undefined || history.events.length === 0;
    $('#hist-newer').disabled = history.stack.length === 0;
    $('#hist-newest').disabled = history.stack.length === 0;
    $('#hist-page').textContent = t('history.page', { n: history.stack.length + 1 });
  }

  /* ================= Report ================= */
  async function loadReport() {
    const days = $('#report-days').value.trim() || '7';
    const res = await call('GET', `/api/v1/report/response?days=${encodeURIComponent(days)}`);
    if (res.status !== 200 || !res.data) {
      if (res.status === 403) { showForbidden(); return; }
      reportFailure(res);
      return;
    }
    report = res.data;
    renderReport();
  }

  function renderReport() {
    if (!report) return;
    const limit = typeof report.long_wait_s === 'number' ? report.long_wait_s : 900;
    const over = (s) => (typeof s === 'number' && s > limit ? ' class="late"' : '');
    const row = (name, hours, f, cls) => `<tr class="${cls}" data-shift="${esc(name)}"><td>${esc(t(`shift.${name}`) === `shift.${name}` ? name : t(`shift.${name}`))}</td>`
      + `<td>${esc(hours)}</td><td>${esc(f.raised)}</td><td>${esc(f.acknowledged)}</td><td>${esc(f.attended)}</td>`
      + `<td${over(f.ack_p50_s)}>${fmtSeconds(f.ack_p50_s)}</td><td${over(f.ack_p90_s)}>${fmtSeconds(f.ack_p90_s)}</td>`
      + `<td${over(f.attend_p50_s)}>${fmtSeconds(f.attend_p50_s)}</td><td${over(f.attend_p90_s)}>${fmtSeconds(f.attend_p90_s)}</td>`
      + `<td${f.long_waits > 0 ? ' class="late"' : ''}>${esc(f.long_waits)}</td>`
      + `<td>${esc(f.reset_unattended)}</td><td>${esc(f.open_unattended)}</td></tr>`;
    const shifts = Array.isArray(report.shifts) ? report.shifts : [];
    $('#report-table tbody').innerHTML = shifts.map((s) => row(s.name, `${s.start || ''}–${s.end || ''}`, s, 'shift')).join('')
      + (report.overall ? row('all', '', report.overall, 'overall') : '');
    $('#report-window').textContent = t('report.window', {
      from: report.from_ms ? WG.fmtTime(report.from_ms).slice(0, 16) : report.from || '',
      to: report.to_ms ? WG.fmtTime(report.to_ms).slice(0, 16) : report.to || '',
    });
    const waits = Array.isArray(report.long_waits) ? report.long_waits : [];
    $('#long-wait-table tbody').innerHTML = waits.map((w) => {
      const loc = [w.room ? roomName(w.room) : '', w.bed || '', w.resident || ''].filter(Boolean).join(' · ');
      const pri = w.priority || priorityName(w.priority_level);
      return `<tr class="late-row"><td>${esc(WG.fmtTime(w.raised_ms))}</td>`
        + `<td>${esc(w.shift ? (t(`shift.${w.shift}`) === `shift.${w.shift}` ? w.shift : t(`shift.${w.shift}`)) : '–')}</td>`
        + `<td>${esc(loc)}</td><td>${esc(w.kind)}</td><td>${esc(t(`prio.${pri}`) === `prio.${pri}` ? pri : t(`prio.${pri}`))}</td>`
        + `<td class="late">${fmtSeconds(w.wait_s)}</td>`
        + `<td class="outcome-${esc(w.outcome)}">${esc(t(`outcome.${w.outcome}`) === `outcome.${w.outcome}` ? w.outcome : t(`outcome.${w.outcome}`))}</td></tr>`;
    }).join('');
    $('#long-wait-empty').hidden = waits.length > 0;
    const count = report.overall && typeof report.overall.long_waits === 'number' ? report.overall.long_waits : waits.length;
    $('#report-long-count').textContent = `(${count})${report.long_waits_truncated ? ` ${t('report.truncated', { n: waits.length })}` : ''}`;
    $('#report-long-count').classList.toggle('late', count > 0);
    $('#report-long-title').textContent = t('report.long_waits', { min: Math.round(limit / 60) });
  }

  /* ================= Users ================= */
  async function loadUsers() {
    const res = await call('GET', '/api/v1/users');
    if (res.status === 200 && res.data && Array.isArray(res.data.users)) users = res.data.users;
    else { if (res.status === 403) { showForbidden(); return; } reportFailure(res); }
    renderUsers();
  }

  function roleOptions() { return ROLES.map((r) => [r, `${t(`role.${r}`)} (${r})`]); }

  function renderUsers() {
    fillSelect($('#new-role'), roleOptions(), $('#new-role').value || 'nurse');
    $('#user-table tbody').innerHTML = users.map((u) => {
      const name = esc(u.username);
      const me = session && u.username === session.username;
      return `<tr data-user="${name}"><td class="username">${name}${me ? ` <span class="muted">${esc(t('users.you'))}</span>` : ''}</td>`
        + `<td><select class="user-role role-select" data-user="${name}" aria-label="${esc(t('users.role'))} ${name}">`
        + roleOptions().map(([v, l]) => `<option value="${esc(v)}"${v === u.role ? ' selected' : ''}>${esc(l)}</option>`).join('')
        + '</select></td>'
        + `<td>${esc(WG.fmtTime(u.created_ms))}</td><td>${esc(WG.fmtTime(u.last_login_ms))}</td>`
        + `<td class="actions"><button type="button" class="user-password" data-user="${name}">${esc(t('users.reset_password'))}</button>`
        + ` <button type="button" class="user-delete danger" data-user="${name}">${esc(t('delete'))}</button></td></tr>`;
    }).join('');
  }

  async function addUser(event) {
    event.preventDefault();
    const err = $('#user-add-error');
    err.textContent = '';
    $$('#user-add-form .invalid').forEach((el) => el.classList.remove('invalid'));
    const body = { username: $('#new-username').value.trim(), role: $('#new-role').value, password: $('#new-password').value };
    const res = await call('POST', '/api/v1/users', body, { quiet403: true });
    if (res.status === 200 || res.status === 201) {
      $('#new-username').value = '';
      $('#new-password').value = '';
      showMessage(t('users.added', { user: body.username }), 'ok');
      await loadUsers();
      return;
    }
    const data = res.data && typeof res.data === 'object' ? res.data : {};
    const el = { username: '#new-username', role: '#new-role', password: '#new-password' }[data.field];
    if (el) $(el).classList.add('invalid');
    err.textContent = res.status === 403 ? t('forbidden.action', { error: errorText(res) }) : t('error.http', { status: res.status, error: errorText(res) });
  }

  async function changeRole(select) {
    const user = select.dataset.user;
    const role = select.value;
    const res = await call('PUT', `/api/v1/users/${encodeURIComponent(user)}`, { role });
    if (res.status === 200) showMessage(t('users.role_changed', { user, role: t(`role.${role}`) }), 'ok');
    else reportFailure(res);
    await loadUsers();
  }

  function openPasswordDialog(user) {
    passwordUser = user;
    clearFormErrors($('#password-form'), $('#password-errors'));
    $('#password-title').textContent = t('users.password_for', { user });
    $('#reset-password').value = '';
    $('#password-dialog').showModal();
    $('#reset-password').focus();
  }

  async function savePassword(event) {
    event.preventDefault();
    const res = await call('PUT', `/api/v1/users/${encodeURIComponent(passwordUser)}`, { password: $('#reset-password').value }, { quiet403: true });
    if (res.status === 200) {
      $('#password-dialog').close();
      showMessage(t('users.password_changed', { user: passwordUser }), 'ok');
      return;
    }
    showFormErrors($('#password-form'), $('#password-errors'), { password: 'reset-password' }, res);
  }

  async function deleteUser(user) {
    if (!(await confirmDialog(t('users.confirm_delete', { user })))) return;
    const res = await call('DELETE', `/api/v1/users/${encodeURIComponent(user)}`);
    if (res.status === 200 || res.status === 204) showMessage(t('users.deleted', { user }), 'ok');
    else reportFailure(res);
    await loadUsers();
  }

  /* ================= Audit ================= */
  async function loadAudit() {
    const res = await call('GET', '/api/v1/audit');
    if (res.status === 200 && res.data && Array.isArray(res.data.entries)) auditEntries = res.data.entries;
    else { if (res.status === 403) { showForbidden(); return; } reportFailure(res); }
    renderAudit();
  }

  function renderAudit() {
    $('#audit-table tbody').innerHTML = auditEntries.map((a) => {
      let detail = a.detail;
      if (detail && typeof detail === 'object') detail = JSON.stringify(detail);
      detail = detail === undefined || detail === null ? '' : String(detail);
      const short = detail.length > 160 ? `${detail.slice(0, 160)}…` : detail;
      return `<tr><td>${esc(a.seq)}</td><td class="time">${esc(WG.fmtTime(a.ts_ms))}</td><td>${esc(a.actor)}</td>`
        + `<td>${esc(a.origin)}</td><td>${esc(a.action)}</td><td>${esc(a.target)}</td>`
        + `<td class="detail" title="${esc(detail)}">${esc(short)}</td></tr>`;
    }).join('');
  }

  /* ================= the page ================= */
  async function loadMeta() {
    const res = await call('GET', '/api/v1/meta', undefined, { quiet403: true });
    if (res.status === 200 && res.data) {
      meta = res.data;
      const site = meta.site && typeof meta.site === 'object' ? meta.site.name || meta.site.id : meta.site;
      $('#site-name').textContent = site || '';
      fillDeviceFilters();
    } else {
      meta = meta || { buses: [], profiles: [], rooms: [], beds: [], zones: [] };
      reportFailure(res);
    }
  }

  function retranslate() {
    document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
    WG.translatePage();
    document.title = `${t('app.title')} — wardgate`;
    if (session) $('#who-role').textContent = t(`role.${session.role}`);
    if (meta) fillDeviceFilters();
    renderDevices();
    if (currentTab === 'residents') { renderResidents(); renderRooms(); }
    if (currentTab === 'history') { fillHistoryFilters(); renderHistory(); }
    $('#report-long-title').textContent = t('report.long_waits', { min: 15 });
    if (currentTab === 'report') renderReport();
    if (currentTab === 'users') renderUsers();
    if (currentTab === 'audit') renderAudit();
  }

  function wire() {
    $('#lang-toggle').addEventListener('click', () => WG.setLang(WG.lang() === 'zh' ? 'en' : 'zh'));
    document.addEventListener('wg-lang', retranslate);
    $('#logout').addEventListener('click', () => WG.logout());
    $('#message-close').addEventListener('click', hideMessage);
    window.addEventListener('hashchange', route);

    for (const el of ['#dev-filter-health', '#dev-filter-room']) $(el).addEventListener('change', renderDevices);
    $('#dev-filter-text').addEventListener('input', renderDevices);
    $('#device-add').addEventListener('click', () => { location.hash = '#devices/new'; });
    $('#device-table tbody').addEventListener('click', (e) => {
      const button = e.target.closest('button');
      if (!button) return;
      if (button.classList.contains('device-edit')) location.hash = `#devices/edit/${encodeURIComponent(button.dataset.id)}`;
      if (button.classList.contains('device-delete')) deleteDevice(button.dataset.id);
    });
    $('#device-form').addEventListener('submit', saveDevice);
    $('#device-cancel').addEventListener('click', () => $('#device-editor').close());
    $('#device-delete').addEventListener('click', async () => {
      const id = editingDevice && editingDevice.id;
      if (id && await deleteDevice(id)) $('#device-editor').close();
    });
    $('#device-editor').addEventListener('close', () => {
      editingDevice = null;
      if (location.hash.startsWith('#devices/')) location.hash = '#devices';
    });
    $('#dev-room').addEventListener('change', () => {
      const bed = $('#dev-bed').value;
      const room = $('#dev-room').value;
      fillDeviceRoomBed(room, bed && (!room || roomOfBed(bed) === room) ? bed : '');
    });
    $('#dev-bed').addEventListener('change', () => {
      const bed = $('#dev-bed').value;
      if (bed) fillDeviceRoomBed(roomOfBed(bed), bed);
    });

    $('#resident-add').addEventListener('click', () => { location.hash = '#residents/new'; });
    $('#resident-table tbody').addEventListener('click', (e) => {
      const button = e.target.closest('button');
      if (!button) return;
      if (button.classList.contains('resident-edit')) location.hash = `#residents/edit/${encodeURIComponent(button.dataset.id)}`;
      if (button.classList.contains('resident-delete')) deleteResident(button.dataset.id);
    });
    $('#resident-form').addEventListener('submit', saveResident);
    $('#resident-cancel').addEventListener('click', () => $('#resident-editor').close());
    $('#resident-delete').addEventListener('click', async () => {
      const id = editingResident && editingResident.id;
      if (id && await deleteResident(id)) $('#resident-editor').close();
    });
    $('#resident-editor').addEventListener('close', () => {
      editingResident = null;
      if (location.hash.startsWith('#residents/')) location.hash = '#residents';
    });
    $('#room-table tbody').addEventListener('click', (e) => {
      const button = e.target.closest('button.room-beds-save');
      if (button) saveRoomBeds(button.dataset.room);
    });

    $('#history-filters').addEventListener('submit', (e) => { e.preventDefault(); loadHistory(null, true); });
    $('#history-filters').addEventListener('change', updateCsvLink);
    $('#hist-older').addEventListener('click', () => {
      if (history.next === null || history.next === undefined) return;
      history.stack.push(history.before);
      loadHistory(history.next);
    });
    $('#hist-newer').addEventListener('click', () => {
      if (!history.stack.length) return;
      loadHistory(history.stack.pop());
    });
    $('#hist-newest').addEventListener('click', () => loadHistory(null, true));

    $('#report-form').addEventListener('submit', (e) => { e.preventDefault(); loadReport(); });

    $('#user-add-form').addEventListener('submit', addUser);
    $('#user-table tbody').addEventListener('change', (e) => {
      if (e.target.classList.contains('user-role')) changeRole(e.target);
    });
    $('#user-table tbody').addEventListener('click', (e) => {
      const button = e.target.closest('button');
      if (!button) return;
      if (button.classList.contains('user-password')) openPasswordDialog(button.dataset.user);
      if (button.classList.contains('user-delete')) deleteUser(button.dataset.user);
    });
    $('#password-form').addEventListener('submit', savePassword);
    $('#password-cancel').addEventListener('click', () => $('#password-dialog').close());

    $('#audit-refresh').addEventListener('click', loadAudit);
  }

  async function start() {
    wire();
    retranslate();
    let s;
    try {
      s = await WG.requireRole('nurse');
    } catch (e) {
      s = null;
    }
    $('#loading').hidden = true;
    if (!s) {
      if (WG.session) {
        /* Logged in, but the role may not use this page (the station display's account). */
        session = WG.session;
        $('#who-user').textContent = session.username;
        $('#who-role').textContent = t(`role.${session.role}`);
        showForbidden();
        $('#forbidden p').hidden = true;
      }
      /* Otherwise requireRole is on its way to the login page. */
      return;
    }
    session = s;
    document.body.classList.add(`role-${session.role}`);
    document.body.classList.toggle('can-manage', can('manager'));
    document.body.classList.toggle('can-admin', can('admin'));
    $('#who-user').textContent = session.username;
    $('#who-role').textContent = t(`role.${session.role}`);
    $$('#tabs a').forEach((a) => { a.hidden = !can(a.dataset.minRole || 'nurse'); });
    $('#tabs').hidden = false;
    await loadMeta();
    await route();
  }

  document.addEventListener('DOMContentLoaded', start);
})();
