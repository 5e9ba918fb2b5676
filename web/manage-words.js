/* The manager UI's words for what the journal, the audit log and a refusal
 * hold: history rows (alarm phases, point changes, device health, output
 * writes, meter summaries, system events), audit entries (logins, users,
 * configuration changes, acknowledgements) and form problems, as sentences
 * in the UI's language saying who, what and where. Never raw JSON: a shape
 * these tables do not know is shown as "name: value" pairs, a server path
 * never. manage.js calls WGWords.event, WGWords.audit and WGWords.problem
 * with a context that names rooms, beds, residents and devices. */
'use strict';

const WGWords = (() => {
  const t = WG.t;
  const esc = WG.escape;

  WG.addStrings({
    zh: {
      /* alarm phases, as a history row says them */
      'phase.raise': '发出', 'phase.ack': '已确认', 'phase.attend': '护理员已到场', 'phase.reset': '已结束',
      'phase.escalate': '升级提醒', 'phase.reannunciate': '再次提醒', 'phase.update': '内容更新',
      'alarm.ack_by': '由 {who} 确认', 'alarm.ack_from': '（{where}）', 'alarm.reset_by': '由 {who} 复位',
      'alarm.level': '第 {n} 级', 'alarm.reset_origin': '在现场复位或恢复正常',
      'from.display': '护士站显示屏', 'from.api': '管理界面', 'from.site': '现场',
      /* point changes */
      'point.changed': '{name}：{value}', 'point.was': '（之前：{value}）', 'point.on': '是', 'point.off': '否',
      'write.ok': '输出 {name} 设为 {value}：成功', 'write.failed': '输出 {name} 设为 {value}：失败',
      'write.reason': '原因：{reason}',
      'telemetry.title': '{minutes} 分钟读数汇总', 'telemetry.point': '{name} 平均 {avg}{unit}（{min}–{max}）',
      'health.changed': '设备状态：{health}', 'health.was': '（之前：{health}）', 'health.reason': '原因：{reason}',
      'system.started': '网关启动，监视 {devices} 台设备', 'system.stopped': '网关停止',
      'system.reloaded': '配置已重新加载，共 {devices} 台设备', 'system.other': '系统事件：{what}',
      'event.write_result': '输出写入', 'event.telemetry': '读数汇总',
      /* audit */
      'audit.cli': '命令行', 'audit.system': '网关自身', 'audit.unknown': '未知', 'audit.at': '（{where}）',
      'audit.login.ok': '登录（{role}）', 'audit.login.failed': '登录失败：{reason}', 'audit.login.locked': '登录锁定 {s} 秒（按{by}）',
      'audit.login.throttled': '尝试过多，登录被拒绝，{s} 秒后可再试（按{by}）', 'audit.logout': '退出登录',
      'audit.by.user': '用户名', 'audit.by.address': '来源地址',
      'audit.reason.wrong password': '密码错误', 'audit.reason.unknown user': '没有这个用户',
      'audit.setup.token': '生成首次设置令牌', 'audit.setup.failed': '首次设置失败（令牌无效）',
      'audit.setup.admin': '首次设置：创建系统管理员 {target}',
      'audit.user.add': '添加用户 {target}，角色：{role}', 'audit.user.delete': '删除用户 {target}（{role}）',
      'audit.user.update': '修改用户 {target}', 'audit.user.role': '角色：{from} → {to}', 'audit.user.password': '密码已重置',
      'audit.user.sessions': '结束 {n} 个登录会话',
      'audit.alarm.ack': '确认{what}', 'audit.alarm.ack_refused': '确认{what}被拒绝', 'audit.alarm.reset_refused': '远程复位{what}被拒绝（呼叫只能在现场复位）',
      'audit.alarm.generic': '报警', 'audit.refusal': '原因：{reason}',
      'audit.device.add': '添加设备 {target}', 'audit.device.update': '修改设备 {target}', 'audit.device.delete': '删除设备 {target}',
      'audit.resident.add': '添加住户 {target}', 'audit.resident.update': '修改住户 {target}', 'audit.resident.delete': '删除住户 {target}',
      'audit.room.beds': '修改房间 {target} 的床位', 'audit.config.edit': '修改配置 {target}', 'audit.other': '{action} {target}',
      'audit.field': '{name}：{from} → {to}', 'audit.empty': '（空）', 'audit.yes': '是', 'audit.no': '否',
      'audit.enabled.false': '已停用', 'audit.enabled.true': '已启用',
      /* point meanings (gateway/meaning.c) and switch states */
      'meaning.call_button': '呼叫按钮', 'meaning.call_button.1': '按下', 'meaning.call_button.0': '松开',
      'meaning.pull_cord': '卫生间拉绳', 'meaning.pull_cord.1': '已拉下', 'meaning.pull_cord.0': '已复原',
      'meaning.cord_unplugged': '呼叫线', 'meaning.cord_unplugged.1': '被拔出', 'meaning.cord_unplugged.0': '已插好',
      'meaning.presence': '护理员在场', 'meaning.presence.1': '在场', 'meaning.presence.0': '离开',
      'meaning.reset_button': '复位按钮', 'meaning.reset_button.1': '按下', 'meaning.reset_button.0': '松开',
      'meaning.in_bed': '床上', 'meaning.in_bed.1': '有人', 'meaning.in_bed.0': '无人', 'meaning.movement': '体动',
      'meaning.heart_rate': '心率', 'meaning.breathing_rate': '呼吸频率', 'meaning.fall_detected': '跌倒检测',
      'meaning.fall_detected.1': '疑似跌倒', 'meaning.fall_detected.0': '正常', 'meaning.door_open': '房门',
      'meaning.door_open.1': '打开', 'meaning.door_open.0': '关闭', 'meaning.pir_motion': '人体感应',
      'meaning.pir_motion.1': '有活动', 'meaning.pir_motion.0': '无活动', 'meaning.smoke': '烟感', 'meaning.smoke.1': '有烟雾',
      'meaning.smoke.0': '正常', 'meaning.fire_zone': '火警分区', 'meaning.fire_zone.1': '火警', 'meaning.fire_zone.0': '正常',
      'meaning.fire_fault': '火警分区故障', 'meaning.fire_fault.1': '故障', 'meaning.fire_fault.0': '正常',
      'meaning.fire_disabled': '火警分区屏蔽', 'meaning.fire_disabled.1': '已屏蔽', 'meaning.fire_disabled.0': '正常',
      'meaning.fire_supervisory': '火警监管', 'meaning.fire_supervisory.1': '监管信号', 'meaning.fire_supervisory.0': '正常',
      'meaning.fire_power_fault': '火警控制器电源', 'meaning.fire_power_fault.1': '故障', 'meaning.fire_power_fault.0': '正常',
      'meaning.gas_lel': '燃气浓度', 'meaning.gas_fault': '燃气探测器', 'meaning.gas_fault.1': '故障',
      'meaning.gas_fault.0': '正常', 'meaning.gas_low_alarm': '燃气低报', 'meaning.gas_low_alarm.1': '报警',
      'meaning.gas_low_alarm.0': '正常', 'meaning.gas_high_alarm': '燃气高报', 'meaning.gas_high_alarm.1': '报警',
      'meaning.gas_high_alarm.0': '正常', 'meaning.gas_heartbeat': '燃气探测器心跳', 'meaning.gas_warmup': '燃气探测器预热',
      'meaning.gas_warmup.1': '预热中', 'meaning.gas_warmup.0': '就绪', 'meaning.valve_closed': '燃气阀关到位',
      'meaning.valve_closed.1': '是', 'meaning.valve_closed.0': '否', 'meaning.valve_open': '燃气阀开到位',
      'meaning.valve_open.1': '是', 'meaning.valve_open.0': '否', 'meaning.valve_fault': '燃气阀',
      'meaning.valve_fault.1': '故障', 'meaning.valve_fault.0': '正常', 'meaning.valve_command': '燃气阀驱动',
      'meaning.valve_command.1': '关阀', 'meaning.valve_command.0': '不动作', 'meaning.fan_running': '排风扇',
      'meaning.fan_running.1': '运行', 'meaning.fan_running.0': '停止', 'meaning.fan_command': '排风扇驱动',
      'meaning.fan_command.1': '运行', 'meaning.fan_command.0': '停止', 'meaning.door_lamp': '门灯',
      'meaning.corridor_lamp': '走廊灯', 'meaning.buzzer': '蜂鸣器', 'meaning.fire_door_release': '防火门释放',
      'meaning.fire_door_release.1': '释放', 'meaning.fire_door_release.0': '保持', 'meaning.energy_kwh': '用电量',
      'meaning.energy_export_kwh': '上网电量', 'meaning.energy_total_kwh': '总电量（用电加上网）', 'meaning.power_w': '有功功率',
      'meaning.voltage': '电压', 'meaning.current': '电流', 'meaning.frequency': '频率', 'meaning.power_factor': '功率因数',
      'meaning.water_m3': '用水量', 'meaning.water_flow': '水流量', 'meaning.pipe_empty': '水管',
      'meaning.pipe_empty.1': '空管', 'meaning.pipe_empty.0': '有水', 'meaning.water_valve_open': '水阀开到位',
      'meaning.water_valve_open.1': '是', 'meaning.water_valve_open.0': '否', 'meaning.water_valve_closed': '水阀关到位',
      'meaning.water_valve_closed.1': '是', 'meaning.water_valve_closed.0': '否', 'meaning.water_valve_command': '水阀驱动',
      'meaning.water_valve_command.1': '关阀', 'meaning.water_valve_command.0': '不动作', 'meaning.battery_low': '电池',
      'meaning.battery_low.1': '电量低', 'meaning.battery_low.0': '正常', 'meaning.tamper': '防拆',
      'meaning.tamper.1': '被拆开', 'meaning.tamper.0': '正常', 'meaning.line_fault': '线路', 'meaning.line_fault.1': '故障',
      'meaning.line_fault.0': '正常', 'meaning.device_fault': '设备自检', 'meaning.device_fault.1': '故障',
      'meaning.device_fault.0': '正常', 'lamp.0': '熄灭', 'lamp.1': '呼叫（红灯常亮）', 'lamp.2': '紧急（红灯慢闪）',
      'lamp.3': '报警（红灯快闪）', 'lamp.4': '护理员在场（绿灯）', 'buzzer.0': '关闭', 'buzzer.1': '低', 'buzzer.2': '中',
      'buzzer.3': '高',
      /* driver error counters */
      'counter.timeout': '超时', 'counter.crc_error': '校验错误', 'counter.exception': '异常应答', 'counter.bad_reply': '无效应答',
      'counter.connection_error': '连接错误', 'counter.edge_resync': '边沿重同步', 'counter.bad_value': '无效数值',
      /* form problems */
      'problem.missing': '必须填写“{field}”', 'problem.type': '“{field}”的格式不对', 'problem.number': '“{field}”必须是整数',
      'problem.range': '“{field}”必须在 {min} 到 {max} 之间', 'problem.unknown_field': '不能修改“{field}”',
      'problem.exists': '编号 {id} 已被使用', 'problem.not_found': '没有这个对象：{id}',
      'problem.resident_id': '住户编号必须是 R- 加 2–16 位大写字母或数字（如 R-0001）',
      'problem.night': '夜间时段格式为 HH:MM-HH:MM（如 21:00-07:00）',
      'problem.bed_taken': '床位 {bed} 已有住户 {occupant}：请先把该住户移到其他床位',
      'problem.bed_occupied': '床位 {bed} 有住户 {occupant}，不能删除',
      'problem.address_taken': '总线 {bus} 上的地址 {address} 已被设备 {device} 使用',
      'problem.unknown_profile': '没有型号配置“{profile}”', 'problem.unknown_bus': '没有总线“{bus}”',
      'problem.unknown_room': '没有房间“{room}”', 'problem.unknown_bed': '没有床位“{bed}”',
      'problem.password_short': '密码至少 10 位', 'problem.username': '用户名为 1–32 位小写字母、数字或 . _ -',
      'problem.last_admin': '不能去掉最后一个系统管理员', 'problem.changed_on_disk': '配置文件刚被别人修改过，请刷新后再试',
      'problem.driver_refused': '驱动程序拒绝了这项设置', 'problem.config_file': '配置文件',
    },
    en: {
      'phase.raise': 'raised', 'phase.ack': 'acknowledged', 'phase.attend': 'staff in the room', 'phase.reset': 'ended',
      'phase.escalate': 'escalated', 'phase.reannunciate': 'reminded again', 'phase.update': 'updated',
      'alarm.ack_by': 'acknowledged by {who}', 'alarm.ack_from': ' ({where})', 'alarm.reset_by': 'reset by {who}',
      'alarm.level': 'level {n}', 'alarm.reset_origin': 'reset at its origin or back to normal',
      'from.display': 'station display', 'from.api': 'manager UI', 'from.site': 'on site',
      'point.changed': '{name}: {value}', 'point.was': ' (was {value})', 'point.on': 'yes', 'point.off': 'no',
      'write.ok': 'output {name} set to {value}: done', 'write.failed': 'output {name} set to {value}: failed',
      'write.reason': 'cause: {reason}',
      'telemetry.title': '{minutes}-minute summary of readings', 'telemetry.point': '{name} average {avg}{unit} ({min}–{max})',
      'health.changed': 'device health: {health}', 'health.was': ' (was {health})', 'health.reason': 'cause: {reason}',
      'system.started': 'gateway started, supervising {devices} devices', 'system.stopped': 'gateway stopped',
      'system.reloaded': 'configuration reloaded, {devices} devices', 'system.other': 'system event: {what}',
      'event.write_result': 'output write', 'event.telemetry': 'readings',
      'audit.cli': 'command line', 'audit.system': 'the gateway itself', 'audit.unknown': 'unknown', 'audit.at': ' ({where})',
      'audit.login.ok': 'logged in ({role})', 'audit.login.failed': 'login failed: {reason}', 'audit.login.locked': 'logins locked for {s} s (by {by})',
      'audit.login.throttled': 'too many attempts, login refused; retry in {s} s (by {by})', 'audit.logout': 'logged out',
      'audit.by.user': 'user name', 'audit.by.address': 'address',
      'audit.reason.wrong password': 'wrong password', 'audit.reason.unknown user': 'no such user',
      'audit.setup.token': 'one-time setup token made', 'audit.setup.failed': 'first setup failed (bad token)',
      'audit.setup.admin': 'first setup: administrator {target} created',
      'audit.user.add': 'user {target} added as {role}', 'audit.user.delete': 'user {target} deleted ({role})',
      'audit.user.update': 'user {target} changed', 'audit.user.role': 'role: {from} → {to}', 'audit.user.password': 'password reset',
      'audit.user.sessions': '{n} sessions ended',
      'audit.alarm.ack': 'acknowledged {what}', 'audit.alarm.ack_refused': 'acknowledging {what} refused', 'audit.alarm.reset_refused': 'remote reset of {what} refused (calls are reset at their origin)',
      'audit.alarm.generic': 'an alarm', 'audit.refusal': 'cause: {reason}',
      'audit.device.add': 'device {target} added', 'audit.device.update': 'device {target} changed', 'audit.device.delete': 'device {target} deleted',
      'audit.resident.add': 'resident {target} added', 'audit.resident.update': 'resident {target} changed', 'audit.resident.delete': 'resident {target} deleted',
      'audit.room.beds': 'beds of room {target} changed', 'audit.config.edit': 'configuration {target} changed', 'audit.other': '{action} {target}',
      'audit.field': '{name}: {from} → {to}', 'audit.empty': '(empty)', 'audit.yes': 'yes', 'audit.no': 'no',
      'audit.enabled.false': 'disabled', 'audit.enabled.true': 'enabled',
      /* point meanings (gateway/meaning.c) and switch states */
      'meaning.call_button': 'call button', 'meaning.call_button.1': 'pressed', 'meaning.call_button.0': 'released',
      'meaning.pull_cord': 'bathroom pull cord', 'meaning.pull_cord.1': 'pulled', 'meaning.pull_cord.0': 'back',
      'meaning.cord_unplugged': 'call cord', 'meaning.cord_unplugged.1': 'unplugged',
      'meaning.cord_unplugged.0': 'plugged in', 'meaning.presence': 'staff presence', 'meaning.presence.1': 'present',
      'meaning.presence.0': 'gone', 'meaning.reset_button': 'reset button', 'meaning.reset_button.1': 'pressed',
      'meaning.reset_button.0': 'released', 'meaning.in_bed': 'bed', 'meaning.in_bed.1': 'occupied',
      'meaning.in_bed.0': 'empty', 'meaning.movement': 'movement', 'meaning.heart_rate': 'heart rate',
      'meaning.breathing_rate': 'breathing rate', 'meaning.fall_detected': 'fall detection',
      'meaning.fall_detected.1': 'fall suspected', 'meaning.fall_detected.0': 'normal', 'meaning.door_open': 'door',
      'meaning.door_open.1': 'open', 'meaning.door_open.0': 'closed', 'meaning.pir_motion': 'motion sensor',
      'meaning.pir_motion.1': 'motion', 'meaning.pir_motion.0': 'no motion', 'meaning.smoke': 'smoke detector',
      'meaning.smoke.1': 'smoke', 'meaning.smoke.0': 'normal', 'meaning.fire_zone': 'fire zone',
      'meaning.fire_zone.1': 'fire', 'meaning.fire_zone.0': 'normal', 'meaning.fire_fault': 'fire zone fault',
      'meaning.fire_fault.1': 'fault', 'meaning.fire_fault.0': 'normal',
      'meaning.fire_disabled': 'fire zone disabled', 'meaning.fire_disabled.1': 'disabled',
      'meaning.fire_disabled.0': 'normal', 'meaning.fire_supervisory': 'fire supervisory',
      'meaning.fire_supervisory.1': 'supervisory', 'meaning.fire_supervisory.0': 'normal',
      'meaning.fire_power_fault': 'fire panel power', 'meaning.fire_power_fault.1': 'fault',
      'meaning.fire_power_fault.0': 'normal', 'meaning.gas_lel': 'gas concentration',
      'meaning.gas_fault': 'gas detector', 'meaning.gas_fault.1': 'fault', 'meaning.gas_fault.0': 'normal',
      'meaning.gas_low_alarm': 'gas low alarm', 'meaning.gas_low_alarm.1': 'alarm',
      'meaning.gas_low_alarm.0': 'normal', 'meaning.gas_high_alarm': 'gas high alarm',
      'meaning.gas_high_alarm.1': 'alarm', 'meaning.gas_high_alarm.0': 'normal',
      'meaning.gas_heartbeat': 'gas detector heartbeat', 'meaning.gas_warmup': 'gas detector warm-up',
      'meaning.gas_warmup.1': 'warming up', 'meaning.gas_warmup.0': 'ready',
      'meaning.valve_closed': 'gas valve closed', 'meaning.valve_closed.1': 'yes', 'meaning.valve_closed.0': 'no',
      'meaning.valve_open': 'gas valve open', 'meaning.valve_open.1': 'yes', 'meaning.valve_open.0': 'no',
      'meaning.valve_fault': 'gas valve', 'meaning.valve_fault.1': 'fault', 'meaning.valve_fault.0': 'normal',
      'meaning.valve_command': 'gas valve drive', 'meaning.valve_command.1': 'close',
      'meaning.valve_command.0': 'idle', 'meaning.fan_running': 'exhaust fan', 'meaning.fan_running.1': 'running',
      'meaning.fan_running.0': 'stopped', 'meaning.fan_command': 'exhaust fan drive', 'meaning.fan_command.1': 'run',
      'meaning.fan_command.0': 'stop', 'meaning.door_lamp': 'door lamp', 'meaning.corridor_lamp': 'corridor lamp',
      'meaning.buzzer': 'buzzer', 'meaning.fire_door_release': 'fire door release',
      'meaning.fire_door_release.1': 'released', 'meaning.fire_door_release.0': 'held',
      'meaning.energy_kwh': 'energy imported', 'meaning.energy_export_kwh': 'energy exported',
      'meaning.energy_total_kwh': 'energy total (import plus export)', 'meaning.power_w': 'active power',
      'meaning.voltage': 'voltage', 'meaning.current': 'current', 'meaning.frequency': 'frequency',
      'meaning.power_factor': 'power factor', 'meaning.water_m3': 'water volume', 'meaning.water_flow': 'water flow',
      'meaning.pipe_empty': 'water pipe', 'meaning.pipe_empty.1': 'empty', 'meaning.pipe_empty.0': 'full',
      'meaning.water_valve_open': 'water valve open', 'meaning.water_valve_open.1': 'yes',
      'meaning.water_valve_open.0': 'no', 'meaning.water_valve_closed': 'water valve closed',
      'meaning.water_valve_closed.1': 'yes', 'meaning.water_valve_closed.0': 'no',
      'meaning.water_valve_command': 'water valve drive', 'meaning.water_valve_command.1': 'close',
      'meaning.water_valve_command.0': 'idle', 'meaning.battery_low': 'battery', 'meaning.battery_low.1': 'low',
      'meaning.battery_low.0': 'normal', 'meaning.tamper': 'tamper contact', 'meaning.tamper.1': 'opened',
      'meaning.tamper.0': 'normal', 'meaning.line_fault': 'line', 'meaning.line_fault.1': 'fault',
      'meaning.line_fault.0': 'normal', 'meaning.device_fault': 'device self-test', 'meaning.device_fault.1': 'fault',
      'meaning.device_fault.0': 'normal', 'lamp.0': 'off', 'lamp.1': 'call (red, steady)',
      'lamp.2': 'emergency (red, slow flash)', 'lamp.3': 'alarm (red, fast flash)', 'lamp.4': 'staff present (green)',
      'buzzer.0': 'off', 'buzzer.1': 'low', 'buzzer.2': 'medium', 'buzzer.3': 'high',
      'counter.timeout': 'timeouts', 'counter.crc_error': 'CRC errors', 'counter.exception': 'exception replies', 'counter.bad_reply': 'bad replies',
      'counter.connection_error': 'connection errors', 'counter.edge_resync': 'edge resyncs', 'counter.bad_value': 'bad values',
      'problem.missing': '"{field}" is required', 'problem.type': '"{field}" has the wrong form', 'problem.number': '"{field}" must be a whole number',
      'problem.range': '"{field}" must be from {min} to {max}', 'problem.unknown_field': '"{field}" cannot be changed here',
      'problem.exists': 'the id {id} is already in use', 'problem.not_found': 'no such item: {id}',
      'problem.resident_id': 'a resident id is R- and 2–16 capital letters or digits (e.g. R-0001)',
      'problem.night': 'the night window is HH:MM-HH:MM (e.g. 21:00-07:00)',
      'problem.bed_taken': 'bed {bed} is taken by {occupant}: move that resident to another bed first',
      'problem.bed_occupied': 'bed {bed} cannot go: {occupant} lies there',
      'problem.address_taken': 'address {address} on bus {bus} is already used by device {device}',
      'problem.unknown_profile': 'there is no profile "{profile}"', 'problem.unknown_bus': 'there is no bus "{bus}"',
      'problem.unknown_room': 'there is no room "{room}"', 'problem.unknown_bed': 'there is no bed "{bed}"',
      'problem.password_short': 'a password has at least 10 characters', 'problem.username': 'a user name is 1–32 of a-z 0-9 . _ -',
      'problem.last_admin': 'the last administrator cannot go', 'problem.changed_on_disk': 'the configuration file was just changed by someone else; reload and try again',
      'problem.driver_refused': 'the driver refused this setting', 'problem.config_file': 'the configuration file',
    },
  });

  /* ---- small pieces ---- */
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const listSep = () => (WG.lang() === 'zh' ? '、' : ', ');
  const joinParts = (parts) => parts.filter(Boolean).join(WG.lang() === 'zh' ? '，' : '; ');

  function number(v) {
    if (typeof v !== 'number') return String(v ?? '');
    return Number.isInteger(v) ? String(v) : v.toLocaleString(WG.lang() === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: 2, useGrouping: false });
  }

  /* A server path or a "file:line:col: " prefix out of a text meant for a
   * manager (file:line stays in the daemon's log and --check). */
  function withoutPaths(text) {
    return String(text ?? '')
      .replace(/^\s*[^\s:]+:\d+(?::\d+)?:\s*/, '')
      .replace(/(^|[\s"'(])\/(?:[\w.@-]+\/)*[\w.@-]+(?::\d+(?::\d+)?)?/g, (m, pre) => `${pre}${t('problem.config_file')}`)
      .trim();
  }

  /* A point's meaning in words ("in_bed" -> 在床), else its own name. */
  function meaningName(meaning, fallback) {
    if (!meaning) return fallback || '';
    const m = /^(.*)_(\d+)$/.exec(meaning);
    if (WG.has(`meaning.${meaning}`)) return t(`meaning.${meaning}`);
    if (m && WG.has(`meaning.${m[1]}`)) return `${t(`meaning.${m[1]}`)} ${m[2]}`;
    return fallback || meaning;
  }
  /* A value of a point with that meaning: yes/no words for a switch. */
  function pointValue(meaning, value) {
    const base = meaning ? meaning.replace(/_\d+$/, '') : '';
    if ((base === 'door_lamp' || base === 'corridor_lamp') && WG.has(`lamp.${value}`)) return t(`lamp.${value}`);
    if (base === 'buzzer' && WG.has(`buzzer.${value}`)) return t(`buzzer.${value}`);
    if (typeof value === 'number' && (value === 0 || value === 1) && WG.has(`meaning.${base}.${value}`)) return t(`meaning.${base}.${value}`);
    if (typeof value === 'boolean') return t(value ? 'point.on' : 'point.off');
    return number(value);
  }

  /* "key: value" pairs for a shape no table knows (never JSON). */
  function pairs(obj) {
    if (!isObject(obj)) return esc(obj ?? '');
    return esc(Object.keys(obj).map((k) => {
      const v = obj[k];
      const text = Array.isArray(v) ? v.map((x) => (isObject(x) ? '…' : String(x))).join(listSep())
        : isObject(v) ? '…' : typeof v === 'number' ? number(v) : String(v ?? '');
      return `${k}: ${text}`;
    }).join(WG.lang() === 'zh' ? '；' : '; '));
  }

  /* "display ::ffff:10.0.0.5" -> 护士站显示屏（10.0.0.5） */
  function whereFrom(text) {
    if (!text) return '';
    const m = /^(display|api|site)\s*(.*)$/.exec(String(text));
    const address = (m ? m[2] : String(text)).replace(/^::ffff:/, '');
    if (!m) return address;
    return address ? `${t(`from.${m[1]}`)} ${address}` : t(`from.${m[1]}`);
  }

  /* An alarm's detail in words: the shared WG.alarmDetail (common.js,
   * detail_code and detail_args) when the page has it; else the English
   * detail in English only (the row's title keeps it for a technician). */
  function detailText(record) {
    if (typeof WG.alarmDetail === 'function') return WG.alarmDetail(record);
    return WG.lang() === 'en' ? String(record.detail || '') : '';
  }

  function healthWord(h) { return WG.tOr(`health.${h}`, h || ''); }
  function reasonWord(code, text) {
    if (code && code !== 'other') return WG.tOr(`reason.${code}`, text || code);
    if (code === 'other') return WG.lang() === 'en' && text ? `${t('reason.other')}: ${text}` : t('reason.other');
    return text || '';
  }

  /* ---- history rows ---- */

  /* The row's "what" as HTML: a first line and a smaller second one. ctx:
   * {deviceName(id), residentName(id)}. Returns {html, title} (title: the
   * original English text, for a technician's tooltip). */
  function event(e, body, ctx) {
    const line = (main, sub) => `${main}${sub ? `<span class="sub">${sub}</span>` : ''}`;
    if (!isObject(body)) return { html: esc(body ?? ''), title: '' };
    switch (e.kind) {
    case 'alarm': {
      const kind = WG.tOr(`kind.${body.kind}`, body.kind || '');
      const phase = body.phase ? WG.tOr(`phase.${body.phase}`, body.phase) : '';
      const sub = [];
      if (body.phase === 'ack' && body.acknowledged_by) {
        sub.push(t('alarm.ack_by', { who: body.acknowledged_by })
          + (body.acknowledged_from ? t('alarm.ack_from', { where: whereFrom(body.acknowledged_from) }) : ''));
      }
      if (body.phase === 'reset') sub.push(body.reset_by ? t('alarm.reset_by', { who: body.reset_by }) : t('alarm.reset_origin'));
      if (body.phase === 'escalate' && body.escalation_level) sub.push(t('alarm.level', { n: body.escalation_level }));
      const detail = detailText(body);
      if (detail) sub.push(detail);
      if (body.place) sub.unshift(String(body.place));
      return { html: line(`<strong>${esc(kind)}</strong> · ${esc(phase)}`, esc(joinParts(sub))), title: body.detail || '' };
    }
    case 'device_health': {
      const main = t('health.changed', { health: healthWord(body.health) })
        + (body.previous ? t('health.was', { health: healthWord(body.previous) }) : '');
      const reason = reasonWord(body.reason_code, body.reason);
      return { html: line(esc(main), reason && body.health !== 'online' ? esc(t('health.reason', { reason })) : ''), title: body.reason || '' };
    }
    case 'point': {
      const name = meaningName(body.meaning, body.point);
      let text = t('point.changed', { name, value: pointValue(body.meaning, body.value) });
      if (body.previous !== undefined) text += t('point.was', { value: pointValue(body.meaning, body.previous) });
      return { html: esc(text), title: body.point || '' };
    }
    case 'write_result': {
      const name = meaningName(ctx.pointMeaning ? ctx.pointMeaning(e.device, body.point) : '', body.point);
      const meaning = ctx.pointMeaning ? ctx.pointMeaning(e.device, body.point) : '';
      const main = t(body.ok ? 'write.ok' : 'write.failed', { name, value: pointValue(meaning, body.value) });
      const reason = body.ok ? '' : t('write.reason', { reason: reasonWord(body.reason_code, body.reason) });
      return { html: line(esc(main), esc(reason)), title: body.reason || '' };
    }
    case 'telemetry': {
      const minutes = body.interval_s ? Math.round(body.interval_s / 6) / 10 : '';
      const points = Array.isArray(body.points) ? body.points : [];
      const sub = points.map((p) => t('telemetry.point', {
        name: meaningName(p.meaning, p.point), avg: number(p.avg), unit: p.unit ? ` ${p.unit}` : '', min: number(p.min), max: number(p.max),
      }));
      return { html: line(esc(t('telemetry.title', { minutes })), esc(sub.join(listSep()))), title: '' };
    }
    case 'system': {
      const what = body.what;
      const known = { started: 'system.started', stopped: 'system.stopped', reloaded: 'system.reloaded' }[what];
      const text = known ? t(known, { devices: body.devices ?? '' }) : t('system.other', { what: WG.tOr(`system.${what}`, what || '') });
      return { html: esc(text), title: '' };
    }
    default:
      return { html: pairs(body), title: '' };
    }
  }

  /* ---- audit entries ---- */

  function fieldWord(section, name) {
    const key = { device: `device.${name === 'poll_ms' ? 'poll_ms' : name}`, resident: `resident.${name}`, room: `room.${name}` }[section];
    return key && WG.has(key) ? t(key) : name;
  }

  function valueWord(section, name, v) {
    if (v === undefined || v === null || v === '') return t('audit.empty');
    if (name === 'risks' && Array.isArray(v)) return v.map((r) => WG.tOr(`risk.${r}`, r)).join(listSep()) || t('audit.empty');
    if (name === 'enabled') return t(`audit.enabled.${v ? 'true' : 'false'}`);
    if (Array.isArray(v)) return v.join(listSep()) || t('audit.empty');
    if (typeof v === 'boolean') return t(v ? 'audit.yes' : 'audit.no');
    if (isObject(v)) return '…';
    return String(v);
  }

  /* The fields that differ between before and after, in words. */
  function changes(section, before, after) {
    const a = isObject(before) ? before : {};
    const b = isObject(after) ? after : {};
    const keys = Array.from(new Set(Object.keys(a).concat(Object.keys(b)))).filter((k) => k !== 'id');
    return keys.filter((k) => JSON.stringify(a[k] ?? null) !== JSON.stringify(b[k] ?? null)).map((k) => ({
      name: fieldWord(section, k), from: valueWord(section, k, a[k]), to: valueWord(section, k, b[k]),
    }));
  }

  function changeList(list, onlyNew) {
    return list.map((c) => `<span class="change">${esc(c.name)}${WG.lang() === 'zh' ? '：' : ': '}`
      + (onlyNew ? '' : `<span class="old">${esc(c.from)}</span> → `)
      + `${esc(c.to)}</span>`).join('');
  }

  function actorWord(a) {
    if (a.actor === 'wardgated') return t('audit.system');
    if (!a.actor || a.actor === '-') return t('audit.unknown');
    return String(a.actor);
  }
  function originWord(a) {
    if (!a.origin) return '';
    if (a.origin === 'command line') return t('audit.cli');
    return String(a.origin).replace(/^::ffff:/, '');
  }

  /* An audit entry as {who, from, what (HTML), detail (HTML), refused}.
   * ctx: {alarmName(id) -> words or '', roleWord(role)}. */
  function audit(a, ctx) {
    const d = isObject(a.detail) ? a.detail : {};
    const target = a.target ? String(a.target) : '';
    const role = (r) => (r ? ctx.roleWord(r) : '');
    let what = '';
    let detail = '';
    let refused = false;
    const [section] = String(a.action || '').split('.');
    switch (a.action) {
    case 'login.ok': what = t('audit.login.ok', { role: role(d.role) }); break;
    case 'login.failed':
      refused = true;
      what = t('audit.login.failed', { reason: WG.tOr(`audit.reason.${d.reason}`, d.reason || '') });
      if (target && target !== a.actor) detail = esc(target);
      break;
    case 'login.locked':
      refused = true;
      what = t('audit.login.locked', { s: d.lock_s ?? '', by: WG.tOr(`audit.by.${d.by}`, d.by || '') });
      break;
    case 'login.throttled':
      refused = true;
      what = t('audit.login.throttled', { s: d.retry_after_s ?? '', by: WG.tOr(`audit.by.${d.by}`, d.by || '') });
      break;
    case 'logout': what = t('audit.logout'); break;
    case 'setup.token':
      what = t('audit.setup.token');
      if (d.expires_ms) detail = esc(`→ ${WG.fmtTime(d.expires_ms)}`);
      break;
    case 'setup.failed': refused = true; what = t('audit.setup.failed'); break;
    case 'setup.admin': what = t('audit.setup.admin', { target }); break;
    case 'user.add': what = t('audit.user.add', { target, role: role(d.role) }); break;
    case 'user.delete': what = t('audit.user.delete', { target, role: role(d.role) }); break;
    case 'user.update': {
      what = t('audit.user.update', { target });
      const parts = [];
      if (d.role) parts.push(t('audit.user.role', { from: role(d.previous_role) || '?', to: role(d.role) }));
      if (d.password_changed) parts.push(t('audit.user.password'));
      if (d.sessions_ended) parts.push(t('audit.user.sessions', { n: d.sessions_ended }));
      detail = parts.map((p) => `<span class="change">${esc(p)}</span>`).join('');
      break;
    }
    case 'alarm.ack':
    case 'alarm.ack_refused':
    case 'alarm.reset_refused': {
      const name = (ctx.alarmName && ctx.alarmName(target)) || t('audit.alarm.generic');
      what = t(`audit.${a.action}`, { what: WG.lang() === 'zh' ? name : ` ${name}`.trimStart() });
      refused = a.action !== 'alarm.ack';
      if (a.action === 'alarm.ack_refused' && d.reason) detail = esc(t('audit.refusal', { reason: withoutPaths(d.reason) }));
      break;
    }
    case 'device.add': case 'device.update': case 'device.delete':
    case 'resident.add': case 'resident.update': case 'resident.delete':
    case 'room.beds': case 'config.edit': {
      what = t(`audit.${a.action}`, { target });
      const list = changes(section, d.before, d.after);
      const deleting = /\.delete$/.test(a.action);
      detail = deleting ? '' : changeList(list, /\.add$/.test(a.action));
      break;
    }
    default:
      what = t('audit.other', { action: a.action || '', target });
      detail = pairs(a.detail);
    }
    return { who: actorWord(a), from: originWord(a), what: esc(what), detail, refused };
  }

  /* ---- refusals ---- */

  /* One problem the server named, in words: {field, code, args, message}
   * (the code in words when the tables know it, else the message), or a
   * loader line as older servers sent it. fieldLabel(name) names a field
   * as the form labels it. */
  function problem(p, fieldLabel) {
    if (isObject(p)) {
      const args = { ...(isObject(p.args) ? p.args : {}) };
      const field = p.field || args.field;
      if (field) args.field = fieldLabel(field) || field;
      if (p.code && WG.has(`problem.${p.code}`)) return t(`problem.${p.code}`, args);
      return withoutPaths(p.message || p.error || '');
    }
    return withoutPaths(p);
  }

  return { event, audit, problem, withoutPaths, meaningName, pointValue, reasonWord, healthWord, whereFrom };
})();
