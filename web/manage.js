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
  const TAB_ROLE = {
    devices: 'nurse', residents: 'manager', history: 'nurse', report: 'manager', monthly: 'manager', rounds: 'nurse', staff: 'nurse', records: 'nurse',
    tests: 'manager',
    users: 'admin', audit: 'manager',
  };
  const POLL_MS = 2000;
  const HISTORY_PAGE = 50;
  const DEFAULT_POLL_MS = 1000;

  WG.addStrings({
    zh: {
      'app.title': '设施管理', loading: '正在加载…', empty: '没有记录', refresh: '刷新',
      'tab.devices': '设备', 'tab.residents': '住户与床位', 'tab.history': '历史记录', 'tab.report': '响应时间',
      'tab.users': '用户', 'tab.audit': '审计日志',
      'forbidden.back': '返回设备列表', 'forbidden.action': '无权执行此操作：{error}',
      'error.http': '请求失败（{status}）：{error}', 'error.not_found': '没有这个对象：{id}',
      'filter.health': '状态', 'filter.room': '房间', 'filter.text': '搜索', 'filter.text.placeholder': '编号、名称、型号…',
      'filter.all': '全部', 'filter.site': '（全院）', 'tabs.label': '功能', close: '关闭',
      'health.online': '在线', 'health.suspect': '疑似故障', 'health.offline': '离线', 'health.unknown': '未知',
      'devices.summary': '共 {total} 台：{online} 在线，{suspect} 疑似故障，{offline} 离线，{unknown} 未知',
      'devices.shown': '（显示 {n} 台）',
      'device.add': '添加设备', 'device.edit': '编辑设备 {id}', 'device.new': '添加设备',
      'device.id': '编号', 'device.label': '名称', 'device.location': '位置', 'device.profile': '型号配置',
      'device.busaddr': '总线/地址', 'device.bus': '总线', 'device.address': '地址', 'device.health': '状态',
      'device.reason': '原因', 'device.values': '最新数值', 'device.counters': '错误计数', 'device.room': '房间',
      'device.bed': '床位', 'device.spot': '具体位置', 'device.poll_ms': '轮询周期（毫秒）', 'device.enabled': '启用',
      'device.disabled': '已停用', 'device.settings_kept': '驱动参数（settings）不在此处编辑，保存时原样保留。',
      'device.saved': '设备 {id} 已保存，网关已重新加载配置。', 'device.deleted': '设备 {id} 已删除',
      'device.confirm_delete': '确定删除设备 {id}？网关将停止监视它。', 'device.none': '（无）',
      edit: '编辑', delete: '删除', save: '保存', cancel: '取消', 'confirm.ok': '确定', 'confirm.title': '请确认',
      'errors.title': '未保存：', 'errors.field': '有问题的字段：{field}', 'errors.fields': '请检查：{fields}',
      'unsaved.title': '有未保存的修改', 'unsaved.text': '{what}有未保存的修改。放弃这些修改吗？', 'unsaved.keep': '继续编辑', 'unsaved.drop': '放弃修改',
      'unsaved.device': '设备编辑', 'unsaved.resident': '住户编辑', 'unsaved.password': '新密码',
      'res.bed_taken_note': '此床位已有住户 {occupant}',
      'residents.title': '住户', 'resident.add': '添加住户', 'resident.edit': '编辑住户 {id}', 'resident.new': '添加住户',
      'resident.id': '编号（匿名）', 'resident.label': '显示名称', 'resident.bed': '床位', 'resident.care_level': '护理等级',
      'resident.risks': '风险', 'resident.night': '夜间时段', 'resident.night_default': '（院内默认）',
      'resident.label_hint': '显示名称会出现在护士站屏幕上：只用称呼（如“王奶奶”），不要写全名。夜间时段格式 HH:MM-HH:MM，留空则用院内默认。',
      'resident.saved': '住户 {id} 已保存', 'resident.deleted': '住户 {id} 已删除', 'resident.confirm_delete': '确定删除住户 {id}？',
      'risk.fall': '跌倒风险', 'risk.wandering': '走失风险', 'risk.fall_from_bed': '坠床', 'risk.choking': '噎食',
      'risk.wrong_ingestion': '误食', 'risk.pressure_sore': '压疮', 'risk.scald': '烫伤', 'risk.harm': '他伤/自伤',
      'risk.activity_accident': '活动意外',
      'beds.title': '各房间床位', 'beds.hint': '床位标签用逗号分隔，如 A, B。床位编号为“房间-标签”。',
      'room.id': '房间', 'room.name': '名称', 'room.zone': '区域', 'room.beds': '床位标签', 'beds.saved': '房间 {id} 的床位已保存',
      'history.from': '从', 'history.to': '到', 'history.kind': '类型', 'history.priority': '最低优先级', 'history.priority_col': '优先级',
      'history.device': '设备', 'history.search': '查询', 'history.csv': '导出 CSV', 'history.time': '时间',
      'history.writes': '显示输出写入结果', 'history.what': '发生了什么', 'history.from_after_to': '“从”的时间晚于“到”的时间：请改正后再查询。',
      'history.writes_local': '输出写入结果已在本页隐藏（网关版本较旧，不能按此筛选；CSV 导出仍包含它们）。', 'history.writes_hidden': '本页隐藏了 {n} 条输出写入结果。',
      'history.detail': '详情', 'history.newest': '最新', 'history.newer': '较新', 'history.older': '较早',
      'history.page': '第 {n} 页',
      'event.alarm': '呼叫与报警', 'event.device_health': '设备状态', 'event.point': '测点变化', 'event.system': '系统',
      'event.test_mode': '测试模式', 'event.device_test': '设备测试', 'event.handover': '交接班', 'event.drill': '演练', 'event.round': '巡查', 'event.monthly_report': '月报',
      'report.days': '最近天数', 'report.load': '生成', 'report.export': '导出 CSV', 'report.window': '{from} 至 {to} 发出的呼叫与报警',
      'report.shift': '班次', 'report.hours': '时间', 'report.raised': '发出', 'report.acked': '已确认',
      'report.attended': '已到场', 'report.ack_p50': '确认 P50', 'report.ack_p90': '确认 P90',
      'report.attend_p50': '到场 P50', 'report.attend_p90': '到场 P90', 'report.long': '超时（>15 分）',
      'report.reset_unattended': '未到场即复位', 'report.open_unattended': '仍未到场',
      'report.long_waits': '等待超过 {min} 分钟', 'report.raised_at': '发出时间', 'report.wait': '等待',
      'report.outcome': '结果', 'report.no_long_waits': '没有超时等待', 'report.truncated': '（只列出最长的 {n} 条）',
      'shift.day': '白班', 'shift.evening': '中班', 'shift.night': '夜班', 'shift.all': '合计',
      'outcome.attended': '已到场（迟）', 'outcome.reset': '未到场即复位', 'outcome.open': '仍未处理',
      'users.add': '添加用户', 'users.username': '用户名', 'users.role': '角色', 'users.password': '密码（至少 10 位）',
      'users.created': '创建时间', 'users.last_login': '最近登录', 'users.reset_password': '重置密码',
      'users.new_password': '新密码（至少 10 位）', 'users.password_for': '重置 {user} 的密码',
      'users.added': '用户 {user} 已添加', 'users.deleted': '用户 {user} 已删除', 'users.role_changed': '{user} 的角色已改为 {role}',
      'users.password_changed': '{user} 的密码已重置', 'users.confirm_delete': '确定删除用户 {user}？其登录会话将结束。',
      'users.you': '（您）',
      'users.confirm_role': '把 {user} 的角色从“{from}”改为“{to}”？{user} 需要重新登录。', 'users.confirm_role_title': '修改角色',
      'users.confirm_admin': '把 {user} 设为系统管理员？系统管理员可以添加、删除用户并修改任何人的角色。{user} 需要重新登录。',
      'users.confirm_self': '您要把自己的角色从“{from}”改为“{to}”。您将失去用户管理权限，并立即退出登录；只有其他系统管理员能改回来。',
      'users.change_role': '修改角色', 'users.role_kept': '{user} 的角色未改变',
      'audit.actor': '操作人', 'audit.origin': '来源', 'audit.action': '操作内容', 'audit.target': '对象',
    },
    en: {
      'app.title': 'Facility management', loading: 'Loading…', empty: 'Nothing to show', refresh: 'Refresh',
      'tab.devices': 'Devices', 'tab.residents': 'Residents and beds', 'tab.history': 'History', 'tab.report': 'Response times',
      'tab.users': 'Users', 'tab.audit': 'Audit log',
      'forbidden.back': 'Back to the devices', 'forbidden.action': 'Not allowed: {error}',
      'error.http': 'Request failed ({status}): {error}', 'error.not_found': 'No such item: {id}',
      'filter.health': 'Health', 'filter.room': 'Room', 'filter.text': 'Search', 'filter.text.placeholder': 'id, label, profile…',
      'filter.all': 'All', 'filter.site': '(site-wide)', 'tabs.label': 'Sections', close: 'Close',
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
      edit: 'Edit', delete: 'Delete', save: 'Save', cancel: 'Cancel', 'confirm.ok': 'OK', 'confirm.title': 'Please confirm',
      'errors.title': 'Not saved:', 'errors.field': 'Field at fault: {field}', 'errors.fields': 'Please check: {fields}',
      'unsaved.title': 'Unsaved changes', 'unsaved.text': 'The {what} has unsaved changes. Discard them?', 'unsaved.keep': 'Keep editing', 'unsaved.drop': 'Discard changes',
      'unsaved.device': 'device editor', 'unsaved.resident': 'resident editor', 'unsaved.password': 'new password',
      'res.bed_taken_note': 'This bed is taken by {occupant}',
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
      'history.writes': 'Show output write results', 'history.what': 'What happened', 'history.from_after_to': '"From" is after "to": correct it and search again.',
      'history.writes_local': 'Output write results are hidden on this page (this gateway cannot filter them; the CSV export still has them).', 'history.writes_hidden': '{n} output write results hidden on this page.',
      'history.detail': 'Detail', 'history.newest': 'Newest', 'history.newer': 'Newer', 'history.older': 'Older',
      'history.page': 'page {n}',
      'event.alarm': 'call or alarm', 'event.device_health': 'device health', 'event.point': 'point change', 'event.system': 'system',
      'event.test_mode': 'test mode', 'event.device_test': 'device test', 'event.handover': 'handover', 'event.drill': 'drill', 'event.round': 'round', 'event.monthly_report': 'monthly report',
      'report.days': 'Last days', 'report.load': 'Show', 'report.export': 'Export CSV', 'report.window': 'Calls and alarms raised {from} to {to}',
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
      'users.confirm_role': 'Change the role of {user} from "{from}" to "{to}"? {user} will have to log in again.', 'users.confirm_role_title': 'Change a role',
      'users.confirm_admin': 'Make {user} an administrator? Administrators add and delete users and change anyone\'s role. {user} will have to log in again.',
      'users.confirm_self': 'You are changing your own role from "{from}" to "{to}". You lose user management and are logged out at once; only another administrator can change it back.',
      'users.change_role': 'Change role', 'users.role_kept': 'The role of {user} is unchanged',
      'audit.actor': 'Who', 'audit.origin': 'From', 'audit.action': 'What', 'audit.target': 'Target',
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
  /* serverFiltersWrites: null until known, then whether the server takes `write_results`. */
  const history = { stack: [], before: null, next: null, events: [], serverFiltersWrites: null };
  let report = null;
  let users = [];
  let auditEntries = [];

  const can = (min) => session && WG.roleAtLeast(session.role, min);
  /* The device test tab (manage-tests.js), given what the page shares. */
  const tests = WGTests.create({
    call: (method, path, body) => call(method, path, body),
    showMessage: (text, kind) => showMessage(text, kind),
    reportFailure: (res) => reportFailure(res),
    confirmDialog: (text, opts) => confirmDialog(text, opts),
    meta: () => meta,
    active: () => currentTab === 'tests',
  });
  /* The monthly report tab (manage-monthly.js). */
  const monthly = WGMonthly.create({
    call: (method, path, body) => call(method, path, body),
    reportFailure: (res) => reportFailure(res),
    siteName: () => (meta && meta.site && meta.site.name) || '',
  });
  /* The rounds tab (manage-rounds.js). */
  const rounds = WGRounds.create({
    call: (method, path, body) => call(method, path, body),
    reportFailure: (res) => reportFailure(res),
    can: (role) => can(role),
    meta: () => meta,
  });
  /* The staff tab (manage-staff.js): refreshed every 10 s while open. */
  const staff = WGStaff.create({
    call: (method, path, body) => call(method, path, body),
    reportFailure: (res) => reportFailure(res),
    can: (role) => can(role),
    meta: () => meta,
  });
  setInterval(() => { if (currentTab === 'staff' && !document.hidden) staff.load(); }, 10000);
  /* The handovers and drills tab (manage-records.js). */
  const records = WGRecords.create({
    call: (method, path, body) => call(method, path, body),
    showMessage: (text, kind) => showMessage(text, kind),
    reportFailure: (res) => reportFailure(res),
    can: (role) => can(role),
  });

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

  /* A refusal's headline in words: the code when the tables know it, else
   * the server's text without paths. */
  function errorText(res) {
    const data = res.data && typeof res.data === 'object' ? res.data : {};
    if (data.code && WG.has(`problem.${data.code}`)) return WGWords.problem(data, (f) => f);
    let text = data.error || data.message || (typeof res.data === 'string' && res.data) || String(res.status);
    /* The server's headline may repeat the first detail, which is listed anyway. */
    const first = Array.isArray(data.details) ? data.details[0] : null;
    const firstText = typeof first === 'string' ? first : first && typeof first === 'object' ? first.message : '';
    if (firstText && text.includes(firstText)) text = text.replace(firstText, '').replace(/[\s:：]+$/, '') || text;
    return WGWords.withoutPaths(text);
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

  /* Why a request failed, in words: refused for the user's role; storage
   * that could not take the change (the words say nothing was changed: no
   * HTTP status for a manager to read); else the status and the words. */
  function failureText(res) {
    if (res.status === 403) return t('forbidden.action', { error: errorText(res) });
    if (res.data && typeof res.data === 'object' && res.data.code === 'storage') return errorText(res);
    return t('error.http', { status: res.status, error: errorText(res) });
  }

  /* Shows a failed request in the message bar (403 and network errors already are). */
  function reportFailure(res) {
    if (res.status === 403 || res.status === 0) return;
    showMessage(failureText(res));
  }

  /* ---- confirmation ---- */
  /* Asks; resolves to true only for the OK button (Escape, Cancel: false).
   * The safe choice has the focus. */
  function confirmDialog(text, { title = t('confirm.title'), ok = t('confirm.ok'), cancel = t('cancel'), danger = true } = {}) {
    const dialog = $('#confirm-dialog');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = ok;
    $('#confirm-ok').className = danger ? 'danger' : 'primary';
    $('#confirm-cancel').textContent = cancel;
    dialog.returnValue = '';
    dialog.showModal();
    $('#confirm-cancel').focus();
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    });
  }

  /* ---- unsaved edits ---- */
  /* What a form holds now, to compare with what it held when it opened. */
  function formState(form) {
    return JSON.stringify($$('input, select, textarea', form).map((el) => (el.type === 'checkbox' ? el.checked : el.value)));
  }

  /* A dialog whose edits are never dropped silently: Escape, Cancel or a
   * route away ask first when something changed. `isDirty()` says whether
   * it has changed; `what` names it in the question; onClosed() runs as it
   * closes (at once, not a task later as the close event). Returns
   * close(force) for the page to close it (after asking unless force). */
  function guardDialog(dialog, isDirty, what, onClosed = () => {}) {
    let asking = false;
    let allowed = false;
    async function mayClose() {
      if (!isDirty()) return true;
      if (asking) return false;
      asking = true;
      try {
        return await confirmDialog(t('unsaved.text', { what: t(what) }), {
          title: t('unsaved.title'), ok: t('unsaved.drop'), cancel: t('unsaved.keep'),
        });
      } finally {
        asking = false;
      }
    }
    async function close(force) {
      if (!dialog.open) return true;
      if (!force && !(await mayClose())) return false;
      allowed = true;
      dialog.close();
      onClosed();
      return true;
    }
    dialog.addEventListener('cancel', (event) => {
      /* Escape: never drop edits without asking. */
      event.preventDefault();
      close(false);
    });
    dialog.addEventListener('close', () => {
      /* (The close event comes a task after close().) A close nobody
       * allowed (an Escape the browser would not let us cancel): open
       * again, edits intact, and ask. */
      if (allowed) { allowed = false; return; }
      if (isDirty() && dialog.isConnected) {
        dialog.showModal();
        close(false);
      } else {
        onClosed();
      }
    });
    return close;
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
  /* "name value" pairs; name(k) and value(k, v) put them in words. */
  function fmtPairs(obj, name = (k) => k, value = (k, v) => fmtValue(v)) {
    if (!obj || typeof obj !== 'object') return '';
    return Object.keys(obj).map((k) => `<span class="pair" title="${esc(k)}"><span class="k">${esc(name(k))}</span> ${esc(value(k, obj[k]))}</span>`).join(' ');
  }
  /* The meaning of a device's point (from its profile in meta), or ''. */
  function pointMeaning(deviceId, point) {
    const d = devices.find((x) => x.id === deviceId);
    const profile = d && meta ? (meta.profiles || []).find((p) => p.id === d.profile) : null;
    const def = profile && Array.isArray(profile.points) ? profile.points.find((p) => p.name === point) : null;
    return def ? def.meaning || '' : '';
  }
  function pointUnit(deviceId, point) {
    const d = devices.find((x) => x.id === deviceId);
    const profile = d && meta ? (meta.profiles || []).find((p) => p.id === d.profile) : null;
    const def = profile && Array.isArray(profile.points) ? profile.points.find((p) => p.name === point) : null;
    return def && def.unit ? ` ${def.unit}` : '';
  }
  function deviceValues(d) {
    return fmtPairs(d.values, (k) => WGWords.meaningName(pointMeaning(d.id, k), k), (k, v) => {
      const meaning = pointMeaning(d.id, k);
      const word = WGWords.pointValue(meaning, v);
      return typeof v === 'number' && word === WGWords.pointValue('', v) ? `${word}${pointUnit(d.id, k)}` : word;
    });
  }
  /* "总电表（meter-f1）": a device by its label, with its id. */
  function deviceName(id) {
    const d = devices.find((x) => x.id === id);
    if (!d || !d.label) return String(id || '');
    return WG.lang() === 'zh' ? `${d.label}（${id}）` : `${d.label} (${id})`;
  }
  function roomName(id) {
    if (!id || !meta) return id || '';
    const room = (meta.rooms || []).find((r) => String(r.id) === String(id));
    return room && room.name && room.name !== room.id ? `${room.id} ${room.name}` : String(id);
  }
  /* A test window's room (its name) or zone (its name). */
  function placeName(scope, id) {
    if (scope !== 'zone') return roomName(id);
    const zone = meta && (meta.zones || []).find((z) => z.id === id);
    return zone && zone.name ? zone.name : String(id || '');
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

  /* Closes every dialog at once (the page is forbidden: nothing to keep). */
  function closeDialogs() {
    editingDevice = null;
    editingResident = null;
    $('#reset-password').value = '';
    $$('dialog').forEach((d) => { if (d.open) d.close(); });
  }

  /* The hash of the editor that is open (its own URL), or null. */
  let editorHash = null;

  /* Leaving an open editor by the URL (the back button, a link): its edits
   * are not dropped without asking; kept, the URL goes back to the editor. */
  async function mayLeaveEditor() {
    const open = $('#device-editor').open ? closeDeviceEditor : $('#resident-editor').open ? closeResidentEditor : null;
    if (!open || !editorHash || location.hash === editorHash) return true;
    const leaving = location.hash;
    if (await open(false)) {
      if (location.hash !== leaving) location.hash = leaving;
      return true;
    }
    window.history.replaceState(null, '', editorHash);
    return false;
  }

  async function route() {
    if (!(await mayLeaveEditor())) return;
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
      if (!editing && $('#device-editor').open) await closeDeviceEditor(false);
      if (editing) await openDeviceEditor(action === 'edit' ? id : null);
    } else if (tab === 'residents') {
      if (entering || !editing) await loadResidents();
      if (!editing && $('#resident-editor').open) await closeResidentEditor(false);
      if (editing) openResidentEditor(action === 'edit' ? id : null);
    } else if (tab === 'history') {
      if (entering) {
        if (!devices.length) await pollDevices();
        await ensureResidents();
        fillHistoryFilters();
        await loadHistory(null, true);
      }
    } else if (tab === 'report') {
      if (entering) { await ensureResidents(); await loadReport(); }
    } else if (tab === 'monthly') {
      if (entering) await monthly.load();
    } else if (tab === 'rounds') {
      if (entering) await rounds.load();
    } else if (tab === 'staff') {
      if (entering) await staff.load();
    } else if (tab === 'records') {
      if (entering) await records.load();
    } else if (tab === 'tests') {
      if (entering) await tests.load();
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
      + `<td class="reason" title="${esc(d.reason || '')}">${esc(d.health === 'online' ? '' : WGWords.reasonWord(d.reason_code, d.reason))}</td>`
      + `<td class="values">${deviceValues(d)}</td>`
      + `<td class="counters">${fmtPairs(d.counters, (k) => WG.tOr(`counter.${k}`, k))}</td>`
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

  let deviceFormAtOpen = null;
  let closeDeviceEditor = async () => true; /* set in wire() */
  let closeResidentEditor = async () => true;
  let closePasswordDialog = async () => true;
  const deviceDirty = () => !!editingDevice && $('#device-editor').open && formState($('#device-form')) !== deviceFormAtOpen;

  const DEVICE_FIELDS = { id: 'dev-id', label: 'dev-label', bus: 'dev-bus', address: 'dev-address', profile: 'dev-profile',
    room: 'dev-room', bed: 'dev-bed', spot: 'dev-spot', poll_ms: 'dev-poll', enabled: 'dev-enabled' };

  function clearFormErrors(form, box) {
    $$('.invalid', form).forEach((el) => { el.classList.remove('invalid'); el.removeAttribute('aria-invalid'); });
    box.hidden = true;
    box.innerHTML = '';
  }

  /* A field's name as its form labels it ("" when the form has no such field). */
  function fieldLabel(form, fieldMap, field) {
    const label = fieldMap[field] && ($(`label[for="${fieldMap[field]}"]`, form) || $(`[data-field-label="${field}"]`, form));
    return label ? label.textContent.trim() : '';
  }

  function markInvalid(fieldMap, field) {
    const el = fieldMap[field] && document.getElementById(fieldMap[field]);
    if (el) { el.classList.add('invalid'); el.setAttribute('aria-invalid', 'true'); }
  }

  /* Problems in a form's error box: a headline, every field at fault named
   * and highlighted, each problem in words. problems: [{field, code, args,
   * message}] or loader lines. */
  function showProblems(form, box, fieldMap, headline, problems, fields) {
    clearFormErrors(form, box);
    const named = Array.from(new Set(fields.concat(problems.map((p) => (p && typeof p === 'object' ? p.field : null))).filter(Boolean)));
    named.forEach((f) => markInvalid(fieldMap, f));
    let html = `<p class="error-title">${esc(t('errors.title'))} ${esc(headline)}</p>`;
    const labels = named.map((f) => fieldLabel(form, fieldMap, f) || f);
    if (labels.length) html += `<p class="error-field">${esc(t(labels.length > 1 ? 'errors.fields' : 'errors.field', { field: labels[0], fields: labels.join('、') }))}</p>`;
    const lines = problems.map((p) => WGWords.problem(p, (f) => fieldLabel(form, fieldMap, f))).filter((x) => x && x !== headline);
    if (lines.length) html += `<ul class="details">${lines.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`;
    box.innerHTML = html;
    box.hidden = false;
    const first = $('.invalid', form);
    if (first) first.focus();
  }

  /* A refused change: the error in words, every field the server names
   * highlighted, its details listed (no server path). */
  function showFormErrors(form, box, fieldMap, res) {
    const data = res.data && typeof res.data === 'object' ? res.data : {};
    const status = failureText(res);
    const details = Array.isArray(data.details) ? data.details : [];
    const fields = [data.field].concat(Array.isArray(data.fields) ? data.fields : []).filter(Boolean);
    showProblems(form, box, fieldMap, status, details, fields);
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
    deviceFormAtOpen = formState(form);
    editorHash = location.hash;
    if (!dialog.open) dialog.showModal();
    (id ? $('#dev-label') : $('#dev-id')).focus();
  }

  /* What the device form lacks or has wrong before anything is sent:
   * every required field that is empty, an address or poll period that is
   * not a whole number. [] when it may go. */
  function deviceProblems() {
    const problems = [];
    const editing = editingDevice && editingDevice.id;
    const required = (field, el) => { if (!$(el).value.trim()) problems.push({ field, code: 'missing' }); };
    if (!editing) required('id', '#dev-id');
    required('bus', '#dev-bus');
    required('address', '#dev-address');
    required('profile', '#dev-profile');
    const address = $('#dev-address').value.trim();
    if (address && !/^\d+$/.test(address)) problems.push({ field: 'address', code: 'number' });
    const poll = $('#dev-poll').value.trim();
    if (poll && !/^\d+$/.test(poll)) problems.push({ field: 'poll_ms', code: 'number' });
    return problems;
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
    const problems = deviceProblems();
    if (problems.length) {
      showProblems($('#device-form'), $('#device-errors'), DEVICE_FIELDS, '', problems, []);
      return;
    }
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
        await closeDeviceEditor(true);
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

  /* The rooms with their bed labels. A row is updated in place, and an
   * input the manager has changed (or is typing in) keeps what was typed,
   * with its error, whatever re-renders the table: only a save or the
   * manager puts the saved labels back. */
  function renderRooms() {
    const rooms = meta ? meta.rooms || [] : [];
    const tbody = $('#room-table tbody');
    const rows = new Map($$('tr', tbody).map((tr) => [tr.dataset.id, tr]));
    rooms.forEach((r, i) => {
      const id = String(r.id);
      const labels = bedsOfRoom(r.id).map((b) => b.label).join(', ');
      const zone = (meta.zones || []).find((z) => z.id === r.zone);
      let tr = rows.get(id);
      rows.delete(id);
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.id = id;
        tr.innerHTML = `<td class="id">${esc(id)}</td><td class="name"></td><td class="zone"></td>`
          + `<td class="beds-cell"><input class="bed-labels" data-room="${esc(id)}" autocomplete="off"><div class="field-error" role="alert"></div></td>`
          + `<td><button type="button" class="room-beds-save" data-room="${esc(id)}"></button></td>`;
      }
      $('td.name', tr).textContent = r.name && r.name !== r.id ? r.name : '';
      $('td.zone', tr).textContent = zone && zone.name ? zone.name : r.zone || '';
      $('button.room-beds-save', tr).textContent = t('save');
      const input = $('input.bed-labels', tr);
      input.setAttribute('aria-label', `${t('room.beds')} ${id}`);
      const edited = input.dataset.saved !== undefined && input.value !== input.dataset.saved;
      if (!edited && document.activeElement !== input) input.value = labels;
      input.dataset.saved = labels;
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
    rows.forEach((tr) => tr.remove());
  }

  let residentFormAtOpen = null;
  const residentDirty = () => !!editingResident && $('#resident-editor').open && formState($('#resident-form')) !== residentFormAtOpen;

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
    /* Each bed names who lies in it, so a taken bed is seen before it is chosen. */
    const beds = allBeds().map((b) => {
      const occupant = bedOccupant(b.id, r.id);
      return [b.id, occupant ? `${b.id}（${residentName(occupant)}）` : b.id];
    });
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
    noteBedOccupant();
    residentFormAtOpen = formState($('#resident-form'));
    editorHash = location.hash;
    if (!dialog.open) dialog.showModal();
    (id ? $('#res-label') : $('#res-id')).focus();
  }

  /* The resident in bed `bed` other than `except`, or null. */
  function bedOccupant(bed, except) {
    return residents.find((x) => x.bed === bed && x.id !== except) || null;
  }
  function residentName(r) {
    return r.label ? `${r.id} ${r.label}` : r.id;
  }

  /* Under the bed select: who lies in the chosen bed, when someone else does. */
  function noteBedOccupant() {
    const note = $('#res-bed-note');
    const occupant = bedOccupant($('#res-bed').value, editingResident && editingResident.id);
    note.hidden = !occupant;
    note.className = occupant ? 'field-note warn' : 'field-note';
    note.textContent = occupant ? t('res.bed_taken_note', { occupant: residentName(occupant) }) : '';
  }

  /* What the resident form lacks or has wrong, before anything is sent. */
  function residentProblems() {
    const problems = [];
    const id = $('#res-id').value.trim();
    const editing = editingResident && editingResident.id;
    if (!editing && !id) problems.push({ field: 'id', code: 'missing' });
    else if (!editing && !/^R-[A-Z0-9]{2,16}$/.test(id)) problems.push({ field: 'id', code: 'resident_id' });
    const bed = $('#res-bed').value;
    if (!bed) problems.push({ field: 'bed', code: 'missing' });
    const occupant = bed && bedOccupant(bed, editing || id);
    if (occupant) problems.push({ field: 'bed', code: 'bed_taken', args: { bed, occupant: residentName(occupant) } });
    const night = $('#res-night').value.trim();
    if (night && !/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/.test(night)) problems.push({ field: 'night', code: 'night' });
    return problems;
  }

  async function saveResident(event) {
    event.preventDefault();
    const id = editingResident && editingResident.id;
    const problems = residentProblems();
    if (problems.length) {
      showProblems($('#resident-form'), $('#resident-errors'), RESIDENT_FIELDS, '', problems, []);
      return;
    }
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
        await closeResidentEditor(true);
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
    const typed = input.value;
    const beds = typed.split(/[,，、\s]+/).map((x) => x.trim()).filter(Boolean);
    input.classList.remove('invalid');
    input.removeAttribute('aria-invalid');
    err.textContent = '';
    /* A bed with a resident cannot go: say who lies there before asking. */
    const gone = bedsOfRoom(roomId).filter((b) => !beds.includes(b.label));
    const taken = gone.map((b) => ({ bed: b.id, occupant: bedOccupant(b.id, null) })).filter((x) => x.occupant);
    if (taken.length) {
      input.classList.add('invalid');
      input.setAttribute('aria-invalid', 'true');
      err.innerHTML = `<ul class="details">${taken.map((x) => `<li>${esc(WGWords.problem({ code: 'bed_occupied', args: { bed: x.bed, occupant: residentName(x.occupant) } }, () => ''))}</li>`).join('')}</ul>`;
      return;
    }
    const res = await call('PUT', `/api/v1/rooms/${encodeURIComponent(roomId)}/beds`, { beds }, { quiet403: true });
    if (res.status === 200) {
      showMessage(t('beds.saved', { id: roomId }), 'ok');
      /* What was saved is now the saved value; the table follows the reload. */
      if (input.value === typed) input.dataset.saved = input.value;
      await loadMeta();
      renderRooms();
      return;
    }
    input.classList.add('invalid');
    input.setAttribute('aria-invalid', 'true');
    const data = res.data && typeof res.data === 'object' ? res.data : {};
    const head = failureText(res);
    const details = (Array.isArray(data.details) ? data.details : []).map((d) => WGWords.problem(d, () => t('room.beds'))).filter((x) => x && x !== head);
    err.innerHTML = `${esc(head)}${details.length ? `<ul class="details">${details.map((d) => `<li>${esc(d)}</li>`).join('')}</ul>` : ''}`;
  }

  /* ================= History ================= */
  function fillHistoryFilters() {
    const room = $('#hist-room').value;
    fillSelect($('#hist-room'), roomOptions(t('filter.all')), room);
    const device = $('#hist-device').value;
    const ids = devices.map((d) => d.id).sort();
    fillSelect($('#hist-device'), [['', t('filter.all')]].concat(ids.map((id) => [id, id])), device);
  }

  /* A datetime-local value ("2026-11-23T14:05") as ms, read in the site's zone. */
  function inputMs(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || '');
    return m ? WG.wallToMs(+m[1], +m[2], +m[3], +m[4], +m[5], +(m[6] || 0)) : null;
  }

  /* The history's filters as query parameters (without paging). */
  function historyParams() {
    const p = new URLSearchParams();
    const from = inputMs($('#hist-from').value);
    const to = inputMs($('#hist-to').value);
    if (from !== null) p.set('from', String(from));
    if (to !== null) p.set('to', String(to));
    for (const [key, el] of [['kind', '#hist-kind'], ['priority', '#hist-priority'], ['room', '#hist-room'], ['device', '#hist-device']]) {
      if ($(el).value) p.set(key, $(el).value);
    }
    /* Output write results are left out unless asked for (docs/api.md `write_results`). */
    if (historyShowsWrites() && history.serverFiltersWrites !== false) p.set('write_results', '1');
    return p;
  }

  function historyShowsWrites() {
    return $('#hist-writes').checked || $('#hist-kind').value === 'write_result';
  }

  /* "From" after "to": said at the form, nothing asked. */
  function historyRangeOk() {
    const from = inputMs($('#hist-from').value);
    const to = inputMs($('#hist-to').value);
    const bad = from !== null && to !== null && from > to;
    const box = $('#history-form-error');
    box.hidden = !bad;
    box.textContent = bad ? t('history.from_after_to') : '';
    for (const el of ['#hist-from', '#hist-to']) {
      $(el).classList.toggle('invalid', bad);
      if (bad) $(el).setAttribute('aria-invalid', 'true'); else $(el).removeAttribute('aria-invalid');
    }
    return !bad;
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

  async function loadHistory(before, reset) {
    if (!historyRangeOk()) return;
    if (reset) { history.stack = []; }
    updateCsvLink();
    const p = historyParams();
    p.set('limit', String(HISTORY_PAGE));
    if (before) p.set('before', String(before));
    let res = await call('GET', `/api/v1/history?${p}`);
    if (res.status === 400 && res.data && res.data.field === 'write_results') {
      /* A gateway without the `write_results` filter: it sends everything, and
       * this page hides the write results itself. */
      history.serverFiltersWrites = false;
      p.delete('write_results');
      updateCsvLink();
      res = await call('GET', `/api/v1/history?${p}`);
    } else if (res.status === 200 && p.has('write_results')) {
      history.serverFiltersWrites = true;
    }
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

  /* Where an event happened, in words: room (and its name), bed, resident. */
  function eventPlace(e, body) {
    const residentId = e.resident || (body && body.resident) || '';
    const resident = residentId ? residents.find((r) => r.id === residentId) : null;
    const label = resident && resident.label ? resident.label : (body && body.resident_label) || '';
    return [e.room ? roomName(e.room) : '', e.bed || '', residentId ? (label ? `${label}（${residentId}）` : residentId) : '']
      .filter(Boolean).join(' · ');
  }

  function renderHistory() {
    const showWrites = historyShowsWrites();
    const shown = history.events.filter((e) => showWrites || e.kind !== 'write_result');
    const hidden = history.events.length - shown.length;
    const rows = shown.map((e) => {
      const pri = priorityName(e.priority);
      const body = eventBody(e);
      const what = WGWords.event(e, body, { pointMeaning, placeName });
      return `<tr data-seq="${esc(e.seq)}" class="kind-${esc(e.kind)}${pri ? ` pri-${esc(pri)}` : ''}">`
        + `<td class="time">${esc(WG.fmtTime(e.ts_ms))}</td>`
        + `<td class="kind">${esc(WG.tOr(`event.${e.kind}`, e.kind))}</td>`
        + `<td class="priority">${pri ? `<span class="pri pri-${esc(pri)}">${esc(t(`prio.${pri}`))}</span>` : ''}</td>`
        + `<td class="place">${esc(eventPlace(e, body))}</td><td class="device">${esc(e.device ? deviceName(e.device) : '')}</td>`
        + `<td class="detail"${what.title ? ` title="${esc(what.title)}"` : ''}>${what.html}</td></tr>`;
    });
    $('#history-table tbody').innerHTML = rows.join('');
    $('#history-empty').hidden = rows.length > 0;
    const note = $('#history-note');
    const notes = [];
    if (!showWrites && history.serverFiltersWrites === false) notes.push(t('history.writes_local'));
    if (hidden > 0) notes.push(t('history.writes_hidden', { n: hidden }));
    note.textContent = notes.join(' ');
    note.hidden = notes.length === 0;
    $('#hist-older').disabled = history.next === null || history.next === undefined || history.events.length === 0;
    $('#hist-newer').disabled = history.stack.length === 0;
    $('#hist-newest').disabled = history.stack.length === 0;
    $('#hist-page').textContent = t('history.page', { n: history.stack.length + 1 });
  }

  /* ================= Report ================= */
  let reportDays = null; /* the figures of each day of the window, or null */
  let reportRun = 0;

  async function loadReport() {
    const days = $('#report-days').value.trim() || '7';
    const run = ++reportRun;
    const res = await call('GET', `/api/v1/report/response?days=${encodeURIComponent(days)}`);
    if (run !== reportRun) return;
    if (res.status !== 200 || !res.data) {
      if (res.status === 403) { showForbidden(); return; }
      reportFailure(res);
      return;
    }
    report = res.data;
    reportDays = null;
    renderReport();
    await loadReportDays(run);
  }

  /* The figures per day for the charts (and the export): one report per
   * day of the window, in the site's time zone. */
  async function loadReportDays(run) {
    const status = $('#chart-status');
    if (!report || !(report.from_ms < report.to_ms)) return;
    $('#report-charts').hidden = false;
    status.textContent = t('chart.loading');
    try {
      const list = await WGReport.loadDays(report.from_ms, report.to_ms, async (from, to) => {
        const res = await call('GET', `/api/v1/report/response?from=${from}&to=${to}`);
        if (res.status !== 200 || !res.data || !res.data.overall) throw new Error(errorText(res));
        return res.data.overall;
      });
      if (run !== reportRun) return;
      reportDays = list;
      const any = list.some((d) => d.figures && d.figures.raised > 0);
      status.textContent = any ? '' : t('chart.none');
      drawReportCharts();
    } catch (e) {
      if (run !== reportRun) return;
      status.textContent = t('chart.failed', { error: e.message || String(e) });
    }
  }

  function drawReportCharts() {
    if (!report || !reportDays || currentTab !== 'report') return;
    WGReport.drawCharts(reportDays, typeof report.long_wait_s === 'number' ? report.long_wait_s : 900);
  }

  const shiftWord = (name) => WG.tOr(`shift.${name}`, name);
  const outcomeWord = (o) => WG.tOr(`outcome.${o}`, o || '');
  const kindWord = (k) => WG.tOr(`kind.${k}`, k || '');
  const priorityWord = (p) => (p ? WG.tOr(`prio.${p}`, p) : '');
  function waitPlace(w) {
    const resident = w.resident ? residents.find((r) => r.id === w.resident) : null;
    return [w.room ? roomName(w.room) : '', w.bed || '', resident && resident.label ? `${resident.label}（${w.resident}）` : w.resident || '']
      .filter(Boolean).join(' · ');
  }

  function exportReport() {
    if (!report) return;
    const text = WGReport.csv(report, reportDays, {
      shift: shiftWord, outcome: outcomeWord, kind: kindWord, place: waitPlace, room: roomName,
      priority: (p) => priorityWord(typeof p === 'number' ? priorityName(p) : p),
    });
    WGReport.download(WGReport.csvName(report), text);
  }

  function renderReport() {
    if (!report) return;
    const dur = WGReport.duration;
    const limit = typeof report.long_wait_s === 'number' ? report.long_wait_s : 900;
    const over = (s) => (typeof s === 'number' && s > limit ? ' class="late"' : '');
    const row = (name, hours, f, cls) => `<tr class="${cls}" data-shift="${esc(name)}"><td>${esc(shiftWord(name))}</td>`
      + `<td>${esc(hours)}</td><td>${esc(f.raised)}</td><td>${esc(f.acknowledged)}</td><td>${esc(f.attended)}</td>`
      + `<td${over(f.ack_p50_s)} data-s="${esc(f.ack_p50_s)}">${esc(dur(f.ack_p50_s))}</td><td${over(f.ack_p90_s)}>${esc(dur(f.ack_p90_s))}</td>`
      + `<td${over(f.attend_p50_s)}>${esc(dur(f.attend_p50_s))}</td><td${over(f.attend_p90_s)}>${esc(dur(f.attend_p90_s))}</td>`
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
      const pri = w.priority || priorityName(w.priority_level);
      return `<tr class="late-row"><td>${esc(WG.fmtTime(w.raised_ms))}</td>`
        + `<td>${esc(w.shift ? shiftWord(w.shift) : '–')}</td>`
        + `<td>${esc(waitPlace(w))}</td><td>${esc(kindWord(w.kind))}</td><td>${esc(priorityWord(pri))}</td>`
        + `<td class="late">${esc(dur(w.wait_s))}</td>`
        + `<td class="outcome-${esc(w.outcome)}">${esc(outcomeWord(w.outcome))}</td></tr>`;
    }).join('');
    $('#long-wait-empty').hidden = waits.length > 0;
    const count = report.overall && typeof report.overall.long_waits === 'number' ? report.overall.long_waits : waits.length;
    $('#report-long-count').textContent = `（${count}）${report.long_waits_truncated ? t('report.truncated', { n: waits.length }) : ''}`;
    if (WG.lang() === 'en') $('#report-long-count').textContent = `(${count})${report.long_waits_truncated ? ` ${t('report.truncated', { n: waits.length })}` : ''}`;
    $('#report-long-count').classList.toggle('late', count > 0);
    $('#report-long-title').textContent = t('report.long_waits', { min: Math.round(limit / 60) });
    WGReport.renderSplit(report, { shift: shiftWord, room: roomName });
    $('#report-export').disabled = false;
    drawReportCharts();
  }

  /* ================= Users ================= */
  async function loadUsers() {
    const res = await call('GET', '/api/v1/users');
    if (res.status === 200 && res.data && Array.isArray(res.data.users)) users = res.data.users;
    else { if (res.status === 403) { showForbidden(); return; } reportFailure(res); }
    renderUsers();
  }

  function roleOptions() { return ROLES.map((r) => [r, t(`role.${r}`)]); }

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
    err.textContent = failureText(res);
  }

  /* A role changes only after a confirmation that says what it means:
   * making an administrator, and above all an administrator demoting
   * themself (they lose user management and their session ends). Cancel
   * puts the old role back in the select; nothing is sent. */
  async function changeRole(select) {
    const user = select.dataset.user;
    const role = select.value;
    const known = users.find((u) => u.username === user);
    const previous = known ? known.role : '';
    if (!previous || previous === role) return;
    const self = session && user === session.username;
    const words = { user, from: t(`role.${previous}`), to: t(`role.${role}`) };
    const text = self ? t('users.confirm_self', words)
      : role === 'admin' ? t('users.confirm_admin', words) : t('users.confirm_role', words);
    const yes = await confirmDialog(text, { title: t('users.confirm_role_title'), ok: t('users.change_role'), danger: self || role === 'admin' });
    if (!yes) {
      select.value = previous;
      showMessage(t('users.role_kept', { user }), 'ok');
      select.focus();
      return;
    }
    const res = await call('PUT', `/api/v1/users/${encodeURIComponent(user)}`, { role });
    if (res.status === 200) {
      showMessage(t('users.role_changed', { user, role: t(`role.${role}`) }), 'ok');
      /* One's own role change ends one's session: on to the login page. */
      if (self) { await WG.loadSession(); if (!WG.session) { location.href = WG.loginUrl(); return; } }
    } else {
      reportFailure(res);
    }
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
      await closePasswordDialog(true);
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
  const alarmNames = new Map(); /* alarm id -> "呼叫 · 101 · 101-A", or '' while asked */

  async function loadAudit() {
    const res = await call('GET', '/api/v1/audit');
    if (res.status === 200 && res.data && Array.isArray(res.data.entries)) auditEntries = res.data.entries;
    else { if (res.status === 403) { showForbidden(); return; } reportFailure(res); }
    renderAudit();
    nameAuditAlarms();
  }

  /* The alarms the audit names only by id, looked up once each in the
   * journal (its kind and place), then the rows say what and where. */
  async function nameAuditAlarms() {
    const ids = Array.from(new Set(auditEntries.filter((a) => /^alarm\./.test(a.action) && a.target && !alarmNames.has(a.target))
      .map((a) => a.target))).slice(0, 40);
    if (!ids.length) return;
    ids.forEach((id) => alarmNames.set(id, ''));
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++];
        const res = await call('GET', `/api/v1/history?alarm=${encodeURIComponent(id)}&limit=1`, undefined, { quiet403: true });
        const e = res.status === 200 && res.data && Array.isArray(res.data.events) ? res.data.events[0] : null;
        const body = e ? eventBody(e) : null;
        if (e && body && typeof body === 'object') {
          alarmNames.set(id, [WG.tOr(`kind.${body.kind}`, body.kind || ''), eventPlace(e, body)].filter(Boolean).join(' · '));
        }
      }
    };
    await Promise.all([worker(), worker()]);
    if (currentTab === 'audit') renderAudit();
  }

  function renderAudit() {
    const ctx = { alarmName: (id) => alarmNames.get(id) || '', roleWord: (r) => WG.tOr(`role.${r}`, r) };
    $('#audit-table tbody').innerHTML = auditEntries.map((a) => {
      const w = WGWords.audit(a, ctx);
      return `<tr data-seq="${esc(a.seq)}" data-action="${esc(a.action)}"${w.refused ? ' class="audit-refused"' : ''}>`
        + `<td class="time">${esc(WG.fmtTime(a.ts_ms))}</td><td class="who">${esc(w.who)}</td>`
        + `<td class="from">${esc(w.from)}</td><td class="what">${w.what}</td><td class="detail">${w.detail}</td></tr>`;
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

  /* The site's time zone (snapshot `timezone`, contract 4): every time on
   * the page is the site's clock, whatever the browser's zone. Without one
   * (an older gateway) the browser's zone stays. */
  async function loadTimeZone() {
    let zone = meta && meta.site && typeof meta.site === 'object' ? meta.site.timezone : null;
    if (!zone) {
      const res = await call('GET', '/api/v1/snapshot', undefined, { quiet403: true });
      zone = res.status === 200 && res.data ? res.data.timezone : null;
    }
    const offset = meta && meta.site && typeof meta.site === 'object' ? meta.site.utc_offset_min : undefined;
    if (zone) WG.setTimeZone(zone, offset);
  }

  /* Residents' labels for places in history and the report (managers only;
   * a nurse sees resident ids). */
  async function ensureResidents() {
    if (residents.length || !can('manager')) return;
    const res = await call('GET', '/api/v1/residents', undefined, { quiet403: true });
    if (res.status === 200 && res.data && Array.isArray(res.data.residents)) residents = res.data.residents;
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
    $('#report-export').disabled = !report;
    if (currentTab === 'tests') tests.retranslate();
    if (currentTab === 'records') records.retranslate();
    if (currentTab === 'rounds') rounds.retranslate();
    if (currentTab === 'staff') staff.retranslate();
    if (currentTab === 'monthly') monthly.retranslate();
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
    closeDeviceEditor = guardDialog($('#device-editor'), deviceDirty, 'unsaved.device', () => {
      editingDevice = null;
      if (location.hash.startsWith('#devices/')) location.hash = '#devices';
    });
    closeResidentEditor = guardDialog($('#resident-editor'), residentDirty, 'unsaved.resident', () => {
      editingResident = null;
      if (location.hash.startsWith('#residents/')) location.hash = '#residents';
    });
    closePasswordDialog = guardDialog($('#password-dialog'), () => $('#reset-password').value !== '', 'unsaved.password');
    $('#device-cancel').addEventListener('click', () => closeDeviceEditor(false));
    $('#device-delete').addEventListener('click', async () => {
      const id = editingDevice && editingDevice.id;
      if (id && await deleteDevice(id)) closeDeviceEditor(true);
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
    $('#resident-cancel').addEventListener('click', () => closeResidentEditor(false));
    $('#resident-delete').addEventListener('click', async () => {
      const id = editingResident && editingResident.id;
      if (id && await deleteResident(id)) closeResidentEditor(true);
    });
    $('#res-bed').addEventListener('change', noteBedOccupant);

    $('#room-table tbody').addEventListener('click', (e) => {
      const button = e.target.closest('button.room-beds-save');
      if (button) saveRoomBeds(button.dataset.room);
    });

    $('#history-filters').addEventListener('submit', (e) => { e.preventDefault(); loadHistory(null, true); });
    $('#history-filters').addEventListener('change', (e) => {
      if (e.target.id === 'hist-from' || e.target.id === 'hist-to') historyRangeOk();
      updateCsvLink();
      if (e.target.id === 'hist-writes') loadHistory(null, true);
    });
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
    $('#report-export').addEventListener('click', exportReport);

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
    $('#password-cancel').addEventListener('click', () => closePasswordDialog(false));

    $('#audit-refresh').addEventListener('click', loadAudit);
    tests.wire();
    records.wire();
    rounds.wire();
    monthly.wire();
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
    await loadTimeZone();
    await route();
  }

  document.addEventListener('DOMContentLoaded', start);
})();
