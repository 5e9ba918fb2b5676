/* Shared by every page: the session, the JSON API with its CSRF header,
 * the language (Chinese by default, English available) and small formatters.
 * No framework and no build step: the daemon serves these files as they are. */
'use strict';

const WG = (() => {
  const ROLES = ['none', 'station', 'nurse', 'manager', 'admin'];
  const strings = { zh: {}, en: {} };
  let session = null;

  const common = {
    zh: {
      'lang.switch': 'English', 'login.title': '登录', 'login.user': '用户名', 'login.password': '密码',
      'login.submit': '登录', 'login.bad': '用户名或密码错误', 'login.throttled': '尝试次数过多，请 {s} 秒后再试',
      'login.setup': '首次设置：用启动日志中的一次性令牌创建管理员', 'login.token': '一次性令牌',
      'logout': '退出', 'forbidden': '您的账号无权打开此页面', 'error.network': '无法连接网关',
      'role.station': '护士站显示屏', 'role.nurse': '护理员', 'role.manager': '设施管理员', 'role.admin': '系统管理员',
      /* One vocabulary for every page: priorities, alarm states and alarm kinds. */
      'state.raised': '待确认', 'state.acknowledged': '已确认 · {who}', 'state.acknowledged.anon': '已确认',
      'state.attended': '护理员已到位',
      'prio.fire': '火警', 'prio.emergency': '紧急', 'prio.urgent': '加急', 'prio.normal': '普通呼叫',
      'prio.technical': '技术报警', 'prio.advisory': '提示',
      'kind.call': '呼叫', 'kind.staff_call': '护理员求助', 'kind.pull_cord': '卫生间拉绳报警',
      'kind.bed_exit': '离床', 'kind.vital_signs': '生命体征异常', 'kind.gas_low': '燃气泄漏（低）',
      'kind.gas_high': '燃气泄漏（高）', 'kind.fire': '火警', 'kind.smoke': '烟雾报警',
      'kind.door_open_night': '夜间房门打开', 'kind.no_activity': '长时间无活动', 'kind.wandering': '走失风险',
      'kind.device_offline': '设备离线', 'kind.cord_unplugged': '呼叫线被拔出', 'kind.line_fault': '线路故障',
      'kind.battery_low': '电池电量低', 'kind.tamper': '设备被拆', 'kind.device_fault': '设备故障',
      'kind.gas_detector_fault': '燃气探测器故障', 'kind.valve_fault': '阀门故障',
      'kind.fire_zone_fault': '火警分区故障', 'kind.fire_zone_disabled': '火警分区被屏蔽',
      'kind.fire_supervisory': '火警监管信号', 'kind.fire_panel_power_fault': '火警控制器电源故障',
      'kind.action_failed': '联动动作失败', 'kind.storage_failing': '存储故障', 'kind.round_overdue': '巡查超时', 'kind.phone_offline': '护理员手机离线', 'kind.pager_line_down': '寻呼系统无应答',
      /* Device health reasons (reason_code of a device and of a device_offline alarm). */
      'reason.answering': '设备应答正常', 'reason.timeout': '设备无应答（超时）', 'reason.crc': '通信校验错误',
      'reason.exception': '设备返回错误码', 'reason.bad_reply': '设备应答无法识别', 'reason.connection': '通信连接中断',
      'reason.cable_cut': '线缆断开', 'reason.short_circuit': '线路短路', 'reason.chip_missing': '接口芯片缺失',
      'reason.line_busy': '通信线路被占用', 'reason.scripted': '模拟设定', 'reason.other': '其他原因',
      /* Why storage fails (storage_reason of the heartbeat, reason of a storage_failing alarm). */
      'storage.disk_full': '磁盘已满', 'storage.locked': '数据库被其他程序占用', 'storage.read_only': '存储只读',
      'storage.io_error': '磁盘读写错误', 'storage.size_limit': '数据库达到容量上限', 'storage.corrupt': '数据库已损坏',
      'storage.unknown': '原因不明',
      /* What an alarm's detail_code says, with its detail_args. */
      'detail.device_offline': '{reason}', 'detail.device_silent': '{s} 秒无应答',
      'detail.call': '按下呼叫按钮',
      'detail.gas_lel': '燃气浓度 {lel} %LEL（报警值 {low}）',
      'detail.gas_lel_high': '燃气浓度 {lel} %LEL（高限 {high}）：已关阀并启动排风',
      'detail.storage_failing': '{reason}，{waiting} 条事件等待写入',
      'detail.round_overdue': '还有 {missing} 间未查：{rooms}',
      'detail.phone_offline': '{name} 在岗，手机已 {seconds} 秒以上未连接',
      'detail.pager_line_down': '呼叫发不到寻呼机（手机和显示屏照常收到）',
      'detail.smoke': '探测到烟雾', 'detail.fire_zone': '火警分区 {zone} 报警', 'detail.pull_cord': '卫生间拉绳',
      'detail.presence_call': '护理员在房间时发出的呼叫', 'detail.bed_exit_night': '夜间离床',
      'detail.not_back_in_bed': '离床 {min} 分钟未回床', 'detail.vital_range': '{meaning} {value}，超出 {low}–{high}',
      'detail.door_open_night': '夜间房门打开超过 {s} 秒', 'detail.no_activity': '{hours} 小时无{meaning}记录',
      'detail.combination': '{n} 个条件在 {within_s} 秒内同时出现', 'detail.write_failed': '{meaning}输出失败：{reason}',
      'detail.cord_unplugged': '呼叫器或呼叫线从插座拔出', 'detail.line_fault': '监控线路断开：线缆被剪断或触点故障',
      'detail.battery_low': '电池电量低', 'detail.tamper': '防拆开关被打开', 'detail.device_fault': '设备报告故障',
      'detail.gas_detector_fault': '燃气探测器故障', 'detail.valve_fault': '燃气阀故障',
      'detail.fire_zone_fault': '火警分区 {zone} 故障', 'detail.fire_zone_disabled': '火警分区 {zone} 被屏蔽',
      'detail.fire_supervisory': '火警分区 {zone} 监管信号', 'detail.fire_panel_power_fault': '火警控制器电源故障',
      /* What a point measures (the meaning in detail_args). */
      'meaning.call_button': '呼叫按钮', 'meaning.call_button.1': '按下', 'meaning.call_button.0': '松开',
      'meaning.pull_cord': '卫生间拉绳', 'meaning.pull_cord.1': '已拉下', 'meaning.pull_cord.0': '已复原',
      'meaning.cord_unplugged': '呼叫线', 'meaning.cord_unplugged.1': '被拔出', 'meaning.cord_unplugged.0': '已插好',
      'meaning.presence': '护理员在场', 'meaning.presence.1': '在场', 'meaning.presence.0': '离开',
      'meaning.reset_button': '复位按钮', 'meaning.reset_button.1': '按下', 'meaning.reset_button.0': '松开',
      'meaning.in_bed': '床上', 'meaning.in_bed.1': '有人', 'meaning.in_bed.0': '无人', 'meaning.movement': '体动',
      'meaning.heart_rate': '心率', 'meaning.breathing_rate': '呼吸频率', 'meaning.fall_detected': '跌倒检测',
      'meaning.fall_detected.1': '疑似跌倒', 'meaning.fall_detected.0': '正常', 'meaning.door_open': '房门',
      'meaning.door_open.1': '打开', 'meaning.door_open.0': '关闭', 'meaning.pir_motion': '人体感应',
      'meaning.pir_motion.1': '有活动', 'meaning.pir_motion.0': '无活动', 'meaning.smoke': '烟感',
      'meaning.smoke.1': '有烟雾', 'meaning.smoke.0': '正常', 'meaning.fire_zone': '火警分区',
      'meaning.fire_zone.1': '火警', 'meaning.fire_zone.0': '正常', 'meaning.fire_fault': '火警分区故障',
      'meaning.fire_fault.1': '故障', 'meaning.fire_fault.0': '正常', 'meaning.fire_disabled': '火警分区屏蔽',
      'meaning.fire_disabled.1': '已屏蔽', 'meaning.fire_disabled.0': '正常', 'meaning.fire_supervisory': '火警监管',
      'meaning.fire_supervisory.1': '监管信号', 'meaning.fire_supervisory.0': '正常',
      'meaning.fire_power_fault': '火警控制器电源', 'meaning.fire_power_fault.1': '故障',
      'meaning.fire_power_fault.0': '正常', 'meaning.fire_loop': '火警回路', 'meaning.fire_address': '火警探测器地址', 'meaning.gas_lel': '燃气浓度', 'meaning.gas_fault': '燃气探测器',
      'meaning.gas_fault.1': '故障', 'meaning.gas_fault.0': '正常', 'meaning.gas_low_alarm': '燃气低报',
      'meaning.gas_low_alarm.1': '报警', 'meaning.gas_low_alarm.0': '正常', 'meaning.gas_high_alarm': '燃气高报',
      'meaning.gas_high_alarm.1': '报警', 'meaning.gas_high_alarm.0': '正常', 'meaning.gas_heartbeat': '燃气探测器心跳',
      'meaning.gas_warmup': '燃气探测器预热', 'meaning.gas_warmup.1': '预热中', 'meaning.gas_warmup.0': '就绪',
      'meaning.valve_closed': '燃气阀关到位', 'meaning.valve_closed.1': '是', 'meaning.valve_closed.0': '否',
      'meaning.valve_open': '燃气阀开到位', 'meaning.valve_open.1': '是', 'meaning.valve_open.0': '否',
      'meaning.valve_fault': '燃气阀', 'meaning.valve_fault.1': '故障', 'meaning.valve_fault.0': '正常',
      'meaning.valve_command': '燃气阀驱动', 'meaning.valve_command.1': '关阀', 'meaning.valve_command.0': '不动作',
      'meaning.fan_running': '排风扇', 'meaning.fan_running.1': '运行', 'meaning.fan_running.0': '停止',
      'meaning.fan_command': '排风扇驱动', 'meaning.fan_command.1': '运行', 'meaning.fan_command.0': '停止',
      'meaning.door_lamp': '门灯', 'meaning.corridor_lamp': '走廊灯', 'meaning.buzzer': '蜂鸣器',
      'meaning.fire_door_release': '防火门释放', 'meaning.fire_door_release.1': '释放',
      'meaning.fire_door_release.0': '保持', 'meaning.energy_kwh': '用电量', 'meaning.energy_export_kwh': '上网电量',
      'meaning.energy_total_kwh': '总电量（用电加上网）', 'meaning.power_w': '有功功率', 'meaning.voltage': '电压',
      'meaning.current': '电流', 'meaning.frequency': '频率', 'meaning.power_factor': '功率因数',
      'meaning.water_m3': '用水量', 'meaning.water_flow': '水流量', 'meaning.pipe_empty': '水管',
      'meaning.pipe_empty.1': '空管', 'meaning.pipe_empty.0': '有水', 'meaning.water_valve_open': '水阀开到位',
      'meaning.water_valve_open.1': '是', 'meaning.water_valve_open.0': '否',
      'meaning.water_valve_closed': '水阀关到位', 'meaning.water_valve_closed.1': '是',
      'meaning.water_valve_closed.0': '否', 'meaning.water_valve_command': '水阀驱动',
      'meaning.water_valve_command.1': '关阀', 'meaning.water_valve_command.0': '不动作',
      'meaning.battery_low': '电池', 'meaning.battery_low.1': '电量低', 'meaning.battery_low.0': '正常',
      'meaning.tamper': '防拆', 'meaning.tamper.1': '被拆开', 'meaning.tamper.0': '正常', 'meaning.line_fault': '线路',
      'meaning.line_fault.1': '故障', 'meaning.line_fault.0': '正常', 'meaning.device_fault': '设备自检',
      'meaning.device_fault.1': '故障', 'meaning.device_fault.0': '正常', 'meaning.valve_close': '燃气阀',
      /* A fire panel's zone, loop and detector address. */
      'fire.zone': '火警分区 {zone}', 'fire.point': '回路 {loop} · 地址 {address}', 'fire.address': '地址 {address}',
    },
    en: {
      'lang.switch': '中文', 'login.title': 'Log in', 'login.user': 'User name', 'login.password': 'Password',
      'login.submit': 'Log in', 'login.bad': 'Wrong user name or password', 'login.throttled': 'Too many attempts; try again in {s} s',
      'login.setup': 'First start: create the admin with the one-time token from the start-up log', 'login.token': 'One-time token',
      'logout': 'Log out', 'forbidden': 'Your account may not open this page', 'error.network': 'Cannot reach the gateway',
      'role.station': 'Station display', 'role.nurse': 'Nurse', 'role.manager': 'Facility manager', 'role.admin': 'Administrator',
      /* One vocabulary for every page: priorities, alarm states and alarm kinds. */
      'state.raised': 'waiting', 'state.acknowledged': 'acknowledged · {who}', 'state.acknowledged.anon': 'acknowledged',
      'state.attended': 'staff in the room',
      'prio.fire': 'Fire', 'prio.emergency': 'Emergency', 'prio.urgent': 'Urgent', 'prio.normal': 'Call',
      'prio.technical': 'Technical', 'prio.advisory': 'Advisory',
      'kind.call': 'Call', 'kind.staff_call': 'Staff needs help', 'kind.pull_cord': 'Bathroom pull cord',
      'kind.bed_exit': 'Out of bed', 'kind.vital_signs': 'Vital signs', 'kind.gas_low': 'Gas leak (low)',
      'kind.gas_high': 'Gas leak (high)', 'kind.fire': 'Fire', 'kind.smoke': 'Smoke',
      'kind.door_open_night': 'Door open at night', 'kind.no_activity': 'No activity', 'kind.wandering': 'Wandering',
      'kind.device_offline': 'Device offline', 'kind.cord_unplugged': 'Call cord unplugged', 'kind.line_fault': 'Line fault',
      'kind.battery_low': 'Battery low', 'kind.tamper': 'Tamper', 'kind.device_fault': 'Device fault',
      'kind.gas_detector_fault': 'Gas detector fault', 'kind.valve_fault': 'Valve fault',
      'kind.fire_zone_fault': 'Fire zone fault', 'kind.fire_zone_disabled': 'Fire zone disabled',
      'kind.fire_supervisory': 'Fire supervisory', 'kind.fire_panel_power_fault': 'Fire panel power fault',
      'kind.action_failed': 'Action failed', 'kind.storage_failing': 'Storage failing', 'kind.round_overdue': 'Round overdue', 'kind.phone_offline': 'Carer\'s phone offline', 'kind.pager_line_down': 'Pager system not answering',
      /* Device health reasons (reason_code of a device and of a device_offline alarm). */
      'reason.answering': 'answering', 'reason.timeout': 'no reply (timeout)', 'reason.crc': 'checksum errors',
      'reason.exception': 'the device returns an error code', 'reason.bad_reply': 'replies that make no sense',
      'reason.connection': 'connection lost', 'reason.cable_cut': 'cable cut', 'reason.short_circuit': 'short circuit',
      'reason.chip_missing': 'interface chip missing', 'reason.line_busy': 'line busy', 'reason.scripted': 'simulated',
      'reason.other': 'other cause',
      /* Why storage fails (storage_reason of the heartbeat, reason of a storage_failing alarm). */
      'storage.disk_full': 'disk full', 'storage.locked': 'database locked by another program',
      'storage.read_only': 'storage read-only', 'storage.io_error': 'disk read/write error',
      'storage.size_limit': 'database size limit reached', 'storage.corrupt': 'database corrupt',
      'storage.unknown': 'cause unknown',
      /* What an alarm's detail_code says, with its detail_args. */
      'detail.device_offline': '{reason}', 'detail.device_silent': 'no reply for {s} s',
      'detail.call': 'call button pressed',
      'detail.gas_lel': 'gas {lel} %LEL (alarm at {low})',
      'detail.gas_lel_high': 'gas {lel} %LEL (high limit {high}): valve closed, fan started',
      'detail.storage_failing': '{reason}; {waiting} events waiting to be saved',
      'detail.round_overdue': '{missing} rooms not checked yet: {rooms}',
      'detail.phone_offline': '{name} is on duty; their phone has not been connected for over {seconds} s',
      'detail.pager_line_down': 'calls do not reach the pagers (phones and the wall still get them)',
      'detail.smoke': 'smoke detected', 'detail.fire_zone': 'fire zone {zone} in alarm', 'detail.pull_cord': 'bathroom pull cord',
      'detail.presence_call': 'call while staff are in the room', 'detail.bed_exit_night': 'out of bed at night',
      'detail.not_back_in_bed': 'not back in bed after {min} min', 'detail.vital_range': '{meaning} {value}, outside {low}–{high}',
      'detail.door_open_night': 'door open at night for over {s} s', 'detail.no_activity': 'no {meaning} for {hours} h',
      'detail.combination': '{n} conditions within {within_s} s', 'detail.write_failed': '{meaning} output failed: {reason}',
      'detail.cord_unplugged': 'call pendant or cord pulled out of its socket',
      'detail.line_fault': 'supervised line open: cut wire or contact fault', 'detail.battery_low': 'battery low',
      'detail.tamper': 'tamper contact open', 'detail.device_fault': 'the device reports a fault',
      'detail.gas_detector_fault': 'gas detector fault', 'detail.valve_fault': 'gas valve fault',
      'detail.fire_zone_fault': 'fire zone {zone} fault', 'detail.fire_zone_disabled': 'fire zone {zone} disabled',
      'detail.fire_supervisory': 'fire zone {zone} supervisory signal', 'detail.fire_panel_power_fault': 'fire panel power fault',
      /* What a point measures (the meaning in detail_args). */
      'meaning.call_button': 'call button', 'meaning.call_button.1': 'pressed',
      'meaning.call_button.0': 'released', 'meaning.pull_cord': 'bathroom pull cord',
      'meaning.pull_cord.1': 'pulled', 'meaning.pull_cord.0': 'back', 'meaning.cord_unplugged': 'call cord',
      'meaning.cord_unplugged.1': 'unplugged', 'meaning.cord_unplugged.0': 'plugged in',
      'meaning.presence': 'staff presence', 'meaning.presence.1': 'present', 'meaning.presence.0': 'gone',
      'meaning.reset_button': 'reset button', 'meaning.reset_button.1': 'pressed',
      'meaning.reset_button.0': 'released', 'meaning.in_bed': 'bed', 'meaning.in_bed.1': 'occupied',
      'meaning.in_bed.0': 'empty', 'meaning.movement': 'movement', 'meaning.heart_rate': 'heart rate',
      'meaning.breathing_rate': 'breathing rate', 'meaning.fall_detected': 'fall detection',
      'meaning.fall_detected.1': 'fall suspected', 'meaning.fall_detected.0': 'normal',
      'meaning.door_open': 'door', 'meaning.door_open.1': 'open', 'meaning.door_open.0': 'closed',
      'meaning.pir_motion': 'motion sensor', 'meaning.pir_motion.1': 'motion',
      'meaning.pir_motion.0': 'no motion', 'meaning.smoke': 'smoke detector', 'meaning.smoke.1': 'smoke',
      'meaning.smoke.0': 'normal', 'meaning.fire_zone': 'fire zone', 'meaning.fire_zone.1': 'fire',
      'meaning.fire_zone.0': 'normal', 'meaning.fire_fault': 'fire zone fault',
      'meaning.fire_fault.1': 'fault', 'meaning.fire_fault.0': 'normal',
      'meaning.fire_disabled': 'fire zone disabled', 'meaning.fire_disabled.1': 'disabled',
      'meaning.fire_disabled.0': 'normal', 'meaning.fire_supervisory': 'fire supervisory',
      'meaning.fire_supervisory.1': 'supervisory', 'meaning.fire_supervisory.0': 'normal',
      'meaning.fire_power_fault': 'fire panel power', 'meaning.fire_power_fault.1': 'fault',
      'meaning.fire_power_fault.0': 'normal', 'meaning.fire_loop': 'fire loop', 'meaning.fire_address': 'fire detector address', 'meaning.gas_lel': 'gas concentration',
      'meaning.gas_fault': 'gas detector', 'meaning.gas_fault.1': 'fault', 'meaning.gas_fault.0': 'normal',
      'meaning.gas_low_alarm': 'gas low alarm', 'meaning.gas_low_alarm.1': 'alarm',
      'meaning.gas_low_alarm.0': 'normal', 'meaning.gas_high_alarm': 'gas high alarm',
      'meaning.gas_high_alarm.1': 'alarm', 'meaning.gas_high_alarm.0': 'normal',
      'meaning.gas_heartbeat': 'gas detector heartbeat', 'meaning.gas_warmup': 'gas detector warm-up',
      'meaning.gas_warmup.1': 'warming up', 'meaning.gas_warmup.0': 'ready',
      'meaning.valve_closed': 'gas valve closed', 'meaning.valve_closed.1': 'yes',
      'meaning.valve_closed.0': 'no', 'meaning.valve_open': 'gas valve open', 'meaning.valve_open.1': 'yes',
      'meaning.valve_open.0': 'no', 'meaning.valve_fault': 'gas valve', 'meaning.valve_fault.1': 'fault',
      'meaning.valve_fault.0': 'normal', 'meaning.valve_command': 'gas valve drive',
      'meaning.valve_command.1': 'close', 'meaning.valve_command.0': 'idle',
      'meaning.fan_running': 'exhaust fan', 'meaning.fan_running.1': 'running',
      'meaning.fan_running.0': 'stopped', 'meaning.fan_command': 'exhaust fan drive',
      'meaning.fan_command.1': 'run', 'meaning.fan_command.0': 'stop', 'meaning.door_lamp': 'door lamp',
      'meaning.corridor_lamp': 'corridor lamp', 'meaning.buzzer': 'buzzer',
      'meaning.fire_door_release': 'fire door release', 'meaning.fire_door_release.1': 'released',
      'meaning.fire_door_release.0': 'held', 'meaning.energy_kwh': 'energy imported',
      'meaning.energy_export_kwh': 'energy exported',
      'meaning.energy_total_kwh': 'energy total (import plus export)', 'meaning.power_w': 'active power',
      'meaning.voltage': 'voltage', 'meaning.current': 'current', 'meaning.frequency': 'frequency',
      'meaning.power_factor': 'power factor', 'meaning.water_m3': 'water volume',
      'meaning.water_flow': 'water flow', 'meaning.pipe_empty': 'water pipe', 'meaning.pipe_empty.1': 'empty',
      'meaning.pipe_empty.0': 'full', 'meaning.water_valve_open': 'water valve open',
      'meaning.water_valve_open.1': 'yes', 'meaning.water_valve_open.0': 'no',
      'meaning.water_valve_closed': 'water valve closed', 'meaning.water_valve_closed.1': 'yes',
      'meaning.water_valve_closed.0': 'no', 'meaning.water_valve_command': 'water valve drive',
      'meaning.water_valve_command.1': 'close', 'meaning.water_valve_command.0': 'idle',
      'meaning.battery_low': 'battery', 'meaning.battery_low.1': 'low', 'meaning.battery_low.0': 'normal',
      'meaning.tamper': 'tamper contact', 'meaning.tamper.1': 'opened', 'meaning.tamper.0': 'normal',
      'meaning.line_fault': 'line', 'meaning.line_fault.1': 'fault', 'meaning.line_fault.0': 'normal',
      'meaning.device_fault': 'device self-test', 'meaning.device_fault.1': 'fault',
      'meaning.device_fault.0': 'normal', 'meaning.valve_close': 'gas valve',
      /* A fire panel's zone, loop and detector address. */
      'fire.zone': 'zone {zone}', 'fire.point': 'loop {loop}, detector {address}', 'fire.address': 'detector {address}',
    },
  };

  function lang() {
    const stored = localStorage.getItem('wg.lang');
    return stored === 'en' || stored === 'zh' ? stored : 'zh';
  }

  /* Pages add their own tables: WG.addStrings({zh: {...}, en: {...}}). */
  function addStrings(tables) {
    for (const l of Object.keys(strings)) Object.assign(strings[l], common[l], tables[l] || {});
  }
  addStrings({});

  /* Whether key has a text (in the current language or in English). */
  function has(key) {
    return key in strings[lang()] || key in strings.en;
  }

  /* t(key) when the table has the key, else `fallback` (e.g. a code the
   * tables do not know yet, shown as it is rather than as a key). */
  function tOr(key, fallback, params) {
    return has(key) ? t(key, params) : fallback;
  }

  /* The text for key in the current language, {name} replaced from params. */
  function t(key, params) {
    const table = strings[lang()];
    let text = key in table ? table[key] : (key in strings.en ? strings.en[key] : key);
    if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
    return text;
  }

  function setLang(l) {
    localStorage.setItem('wg.lang', l);
    document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
    document.dispatchEvent(new CustomEvent('wg-lang', { detail: l }));
  }

  /* Fills every element with data-t="key" (text), data-t-placeholder or
   * data-t-aria-label. */
  function translatePage(root) {
    (root || document).querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
    (root || document).querySelectorAll('[data-t-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.tPlaceholder); });
    (root || document).querySelectorAll('[data-t-aria-label]').forEach((el) => { el.setAttribute('aria-label', t(el.dataset.tAriaLabel)); });
  }

  function roleAtLeast(role, min) {
    return ROLES.indexOf(role) >= ROLES.indexOf(min);
  }

  function loginUrl() {
    return 'login.html?next=' + encodeURIComponent(location.pathname + location.search);
  }

  /* The JSON API. Resolves to {status, data}; a 401 sends the page to the
   * login form. Never throws for an HTTP status; throws on a network error. */
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && session && session.csrf) headers['X-CSRF-Token'] = session.csrf;
    const response = await fetch(path, {
      method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    const type = response.headers.get('Content-Type') || '';
    if (type.startsWith('application/json')) data = await response.json();
    else data = await response.text();
    if (response.status === 401 && !path.endsWith('/login') && !path.endsWith('/setup')) {
      location.href = loginUrl();
    }
    return { status: response.status, data };
  }

  /* The current session, or null (not logged in). */
  async function loadSession() {
    const { status, data } = await api('GET', '/api/v1/session').catch(() => ({ status: 0 }));
    session = status === 200 ? data : null;
    return session;
  }

  /* Resolves to the session when its role is at least `min`; otherwise
   * goes to the login page (no session) or resolves to null (role too low). */
  async function requireRole(min) {
    const s = await loadSession();
    if (!s) { location.href = loginUrl(); return null; }
    return roleAtLeast(s.role, min) ? s : null;
  }

  async function logout() {
    await api('POST', '/api/v1/logout', {}).catch(() => {});
    session = null;
    location.href = loginUrl();
  }

  /* A new element with a class and text; text replaced only when it differs
   * (no needless layout work on pages that redraw every second). */
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

  function escape(text) {
    return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  /* Times are shown in the site's time zone (snapshot `timezone`, an IANA
   * name) once a page has set it, never the browser's or the host's; a
   * gateway that gives only `utc_offset_min` gets that fixed offset. */
  let timeZone = null;
  let zoneParts = null;
  let zoneOffsetMin = null;
  function setTimeZone(name, offsetMin) {
    zoneOffsetMin = Number.isFinite(offsetMin) ? offsetMin : null;
    if (!name) { zoneParts = null; timeZone = null; return; }
    try {
      zoneParts = new Intl.DateTimeFormat('en-GB', {
        timeZone: name, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
        hour: '2-digit', minute: '2-digit', second: '2-digit',
      });
      timeZone = name;
    } catch (e) {
      zoneParts = null; /* an unknown zone: the browser's, rather than nothing */
      timeZone = null;
    }
  }
  /* {year, month, day, hour, minute, second} of ms in the site's zone. */
  function wallParts(ms) {
    if (!zoneParts && zoneOffsetMin !== null) {
      const d = new Date(ms + zoneOffsetMin * 60000);
      return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
    }
    if (!zoneParts) {
      const d = new Date(ms);
      return { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds() };
    }
    const parts = {};
    for (const p of zoneParts.formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
    return parts;
  }
  /* The instant (ms) at which the site's clocks show the wall time
   * y-mo-d h:mi:s (for a time typed into a form). */
  function wallToMs(y, mo, d, h = 0, mi = 0, s = 0) {
    const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
    if (!zoneParts) return new Date(y, mo - 1, d, h, mi, s).getTime();
    let guess = asUtc;
    for (let i = 0; i < 3; i++) { /* the zone's offset at the guess, twice over a change of offset */
      const p = wallParts(guess);
      const shownAsUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
      const next = asUtc - (shownAsUtc - guess);
      if (next === guess) break;
      guess = next;
    }
    return guess;
  }
  /* "2026-11-23 14:05:09", in the site's zone. */
  function fmtTime(ms) {
    if (!ms) return '';
    const p = wallParts(ms);
    return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
  }

  /* A health reason code in words ("cable_cut" -> "线缆断开"); unknown codes are "other". */
  function reasonText(code) {
    return t(`reason.${code}`) === `reason.${code}` ? t('reason.other') : t(`reason.${code}`);
  }
  function storageText(code) {
    return code && t(`storage.${code}`) !== `storage.${code}` ? t(`storage.${code}`) : t('storage.unknown');
  }
  /* An alarm's detail in the page's language, from detail_code and
   * detail_args (docs/alarms.md): codes inside the arguments (reason_code,
   * a storage reason, a meaning) are put into words too. An alarm without
   * a code (journaled before codes existed), or with a code this page does
   * not know, says nothing more in Chinese (never the English `detail`);
   * English falls back to `detail`. */
  function alarmDetail(a) {
    const code = a && a.detail_code;
    const args = (a && a.detail_args && typeof a.detail_args === 'object') ? a.detail_args : {};
    const key = `detail.${code}`;
    if (code && (key in strings[lang()] || key in strings.en)) {
      const params = { ...args };
      if (args.reason_code) params.reason = reasonText(args.reason_code);
      else if (code === 'device_offline' || code === 'write_failed') params.reason = lang() === 'en' && args.reason ? args.reason : reasonText('other');
      if (code === 'storage_failing') params.reason = storageText(args.reason);
      if (args.meaning) {
        const words = t(`meaning.${args.meaning}`);
        params.meaning = words === `meaning.${args.meaning}` ? (lang() === 'en' ? args.meaning : '') : words;
      } else {
        params.meaning = '';
      }
      return t(key, params);
    }
    return lang() === 'en' && a && a.detail ? String(a.detail) : '';
  }

  /* "4:07" or "1:02:09" since ms. */
  function fmtElapsed(ms, now) {
    let s = Math.max(0, Math.floor(((now || Date.now()) - ms) / 1000));
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  }

  return {
    t, tOr, has, lang, setLang, addStrings, translatePage, api, loadSession, requireRole, logout, roleAtLeast,
    el, setText, escape, fmtTime, fmtElapsed, loginUrl, setTimeZone, timeZone: () => timeZone, wallParts, wallToMs,
    reasonText, storageText, alarmDetail,
    get session() { return session; },
  };
})();
