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
      'testmode.start': '{where} 进入测试模式，至 {until}', 'testmode.extend': '{where} 的测试延长至 {until}',
      'testmode.end': '{where} 的测试结束', 'testmode.expire': '{where} 的测试到时结束',
      'testmode.by': '由 {who} 发起', 'testmode.ended_by': '由 {who} 结束', 'testmode.tests': '共测试 {n} 次',
      'testmode.zone': '{name}全区', 'testmode.room': '{name}',
      'devtest.masked': '{what}测试：只记录，不产生呼叫', 'devtest.raised': '{what}测试：照常报警（燃气从不屏蔽）',
      'devtest.window': '测试模式：{where}，由 {who} 发起',
      'devtest.call': '呼叫按钮', 'devtest.pull_cord': '卫生间拉绳', 'devtest.smoke': '烟感', 'devtest.gas': '燃气探测器',
      'audit.test_mode.start': '开始 {target} 的测试模式（{minutes} 分钟）', 'audit.test_mode.start_refused': '开始 {target} 的测试模式被拒绝',
      'audit.test_mode.end': '结束 {target} 的测试模式', 'audit.test_mode.end_refused': '结束 {target} 的测试模式被拒绝',
      'audit.test_mode.expire': '{target} 的测试模式到时结束（共测试 {n} 次）',
      'audit.device.test': '测试设备 {target}：{what}',
      'audit.handover.add': '记录交接班：{from} → {to}（未结束报警 {n} 个）', 'audit.drill.add': '记录{kind}（{minutes} 分钟，{n} 人参加）',
      'record.handover': '交接班：{from} → {to}', 'record.handover.open': '未结束报警 {n} 个',
      'record.round': '巡查 {round}：{status}，已查 {done}/{planned} 间', 'record.round.missing': '未查：{rooms}',
      'record.round.complete': '按时完成', 'record.round.late': '超时完成', 'record.round.missed': '漏查',
      'audit.round.add': '巡查 {round}：{status}（{done}/{planned}）', 'audit.round.checkin': '扫码签到 {target}',
      'audit.round.checkin_refused': '扫码签到 {target} 被拒绝', 'audit.monthly_report.add': '生成并上报 {month} 月报',
      'record.monthly': '{month} 月报：呼叫和报警 {n} 个', 
      'record.drill': '{kind}：{minutes} 分钟，{n} 人参加',
      'record.shift.day': '白班', 'record.shift.evening': '中班', 'record.shift.night': '夜班',
      'record.drill.fire': '消防演练', 'record.drill.evacuation': '疏散演练', 'record.drill.other': '其他演练',
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
      /* lamp patterns and buzzer levels (the point meanings are in common.js) */
      'lamp.0': '熄灭', 'lamp.1': '呼叫（红灯常亮）', 'lamp.2': '紧急（红灯慢闪）',
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
      'problem.storage': '{reason}，什么都没有改动；请稍后再试，呼叫和报警照常工作',
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
      'testmode.start': '{where} in test mode until {until}', 'testmode.extend': 'test of {where} extended to {until}',
      'testmode.end': 'test of {where} ended', 'testmode.expire': 'test of {where} ran out',
      'testmode.by': 'started by {who}', 'testmode.ended_by': 'ended by {who}', 'testmode.tests': '{n} tests',
      'testmode.zone': 'all of {name}', 'testmode.room': 'room {name}',
      'devtest.masked': '{what} tested: recorded, no call', 'devtest.raised': '{what} tested: alarmed as always (gas is never masked)',
      'devtest.window': 'test mode of {where}, started by {who}',
      'devtest.call': 'call button', 'devtest.pull_cord': 'bathroom pull cord', 'devtest.smoke': 'smoke detector', 'devtest.gas': 'gas detector',
      'audit.test_mode.start': 'Started the test mode of {target} ({minutes} minutes)', 'audit.test_mode.start_refused': 'Test mode of {target} refused',
      'audit.test_mode.end': 'Ended the test mode of {target}', 'audit.test_mode.end_refused': 'Ending the test mode of {target} refused',
      'audit.test_mode.expire': 'Test mode of {target} ran out ({n} tests)',
      'audit.device.test': 'Tested device {target}: {what}',
      'audit.handover.add': 'Recorded a handover: {from} → {to} ({n} alarms open)', 'audit.drill.add': 'Recorded a {kind} ({minutes} min, {n} people)',
      'record.handover': 'Handover: {from} → {to}', 'record.handover.open': '{n} alarms open',
      'record.round': 'Round {round}: {status}, {done} of {planned} rooms', 'record.round.missing': 'not checked: {rooms}',
      'record.round.complete': 'complete', 'record.round.late': 'late', 'record.round.missed': 'missed',
      'audit.round.add': 'Round {round}: {status} ({done}/{planned})', 'audit.round.checkin': 'Checked in {target} by QR code',
      'audit.round.checkin_refused': 'QR check-in at {target} refused', 'audit.monthly_report.add': 'Made and sent the report of {month}',
      'record.monthly': 'Report of {month}: {n} calls and alarms',
      'record.drill': '{kind}: {minutes} min, {n} people',
      'record.shift.day': 'day shift', 'record.shift.evening': 'evening shift', 'record.shift.night': 'night shift',
      'record.drill.fire': 'fire drill', 'record.drill.evacuation': 'evacuation drill', 'record.drill.other': 'other drill',
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
      /* lamp patterns and buzzer levels (the point meanings are in common.js) */
      'lamp.0': 'off', 'lamp.1': 'call (red, steady)',
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
      'problem.storage': '{reason}: nothing was changed; try again later, calls and alarms go on',
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
    case 'test_mode': {
      const name = (ctx.placeName && ctx.placeName(body.scope, body.target)) || body.target || '';
      const where = t(body.scope === 'zone' ? 'testmode.zone' : 'testmode.room', { name });
      const until = body.ends_ms ? WG.fmtTime(body.ends_ms).slice(11, 16) : '';
      const main = WG.tOr(`testmode.${body.phase}`, body.phase || '', { where, until });
      const sub = [t('testmode.by', { who: body.started_by || '' })];
      if (body.ended_by && body.ended_by !== 'timer') sub.push(t('testmode.ended_by', { who: body.ended_by }));
      if (body.phase === 'end' || body.phase === 'expire') sub.push(t('testmode.tests', { n: body.tests || 0 }));
      return { html: line(esc(main), esc(joinParts(sub))), title: '' };
    }
    case 'device_test': {
      const what = WG.tOr(`devtest.${body.kind}`, body.kind || '');
      const name = (ctx.placeName && ctx.placeName(body.test_scope, body.test_target)) || body.test_target || '';
      const where = t(body.test_scope === 'zone' ? 'testmode.zone' : 'testmode.room', { name });
      return {
        html: line(esc(t(body.masked === false ? 'devtest.raised' : 'devtest.masked', { what })),
          esc(t('devtest.window', { where, who: body.started_by || '' }))),
        title: body.point || '',
      };
    }
    case 'handover': {
      const sub = [WG.tOr(`record.shift.${body.shift}`, body.shift || ''), t('record.handover.open', { n: body.open_count ?? 0 })];
      if (body.notes) sub.push(body.notes);
      return { html: line(esc(t('record.handover', { from: body.from || '', to: body.to || '' })), esc(joinParts(sub))), title: '' };
    }
    case 'monthly_report':
      return { html: esc(t('record.monthly', { month: body.month || '', n: body.alarms ?? '' })), title: '' };
    case 'round': {
      const status = WG.tOr(`record.round.${body.status}`, body.status || '');
      const missing = (Array.isArray(body.rooms) ? body.rooms : []).filter((r) => !r.checked_ms).map((r) => r.room);
      return {
        html: line(esc(t('record.round', { round: body.round || '', status, done: body.done ?? '', planned: body.planned ?? '' })),
          missing.length ? esc(t('record.round.missing', { rooms: missing.join('、') })) : ''),
        title: '',
      };
    }
    case 'drill': {
      const kind = WG.tOr(`record.drill.${body.kind}`, body.kind || '');
      const people = Array.isArray(body.participants) ? body.participants : [];
      return {
        html: line(esc(t('record.drill', { kind, minutes: body.minutes ?? '', n: people.length })), esc(joinParts([body.scenario, people.join('、')]))),
        title: '',
      };
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
    case 'test_mode.start': case 'test_mode.start_refused': case 'test_mode.end': case 'test_mode.end_refused':
    case 'test_mode.expire':
      what = t(`audit.${a.action}`, { target, minutes: d.minutes ?? '', n: d.tests ?? 0 });
      refused = /_refused$/.test(a.action);
      if (refused && d.reason) detail = esc(t('audit.refusal', { reason: withoutPaths(d.reason) }));
      break;
    case 'device.test':
      what = t('audit.device.test', { target, what: WG.tOr(`devtest.${d.kind}`, d.kind || '') });
      break;
    case 'monthly_report.add':
      what = t('audit.monthly_report.add', { month: d.month || '' });
      break;
    case 'round.add':
      what = t('audit.round.add', {
        round: d.round || '', status: WG.tOr(`record.round.${d.status}`, d.status || ''), done: d.done ?? '', planned: d.planned ?? '',
      });
      break;
    case 'round.checkin': case 'round.checkin_refused':
      what = t(`audit.${a.action}`, { target });
      refused = a.action === 'round.checkin_refused';
      if (refused && d.reason) detail = esc(t('audit.refusal', { reason: withoutPaths(d.reason) }));
      break;
    case 'handover.add':
      what = t('audit.handover.add', { from: d.from || '', to: d.to || '', n: d.open_count ?? 0 });
      break;
    case 'drill.add':
      what = t('audit.drill.add', {
        kind: WG.tOr(`record.drill.${d.kind}`, d.kind || ''), minutes: d.minutes ?? '', n: d.participant_count ?? 0,
      });
      break;
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
      if (p.code === 'storage') args.reason = WG.storageText(args.reason);
      if (p.code && WG.has(`problem.${p.code}`)) return t(`problem.${p.code}`, args);
      return withoutPaths(p.message || p.error || '');
    }
    return withoutPaths(p);
  }

  return { event, audit, problem, withoutPaths, meaningName, pointValue, reasonWord, healthWord, whereFrom };
})();
