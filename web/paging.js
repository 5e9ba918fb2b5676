/* Paging in words (issue 16), for the station display and the carers'
 * phones: who was notified about a call and what became of it, from the
 * alarm's "paging" record (docs/api.md, "Staff and paging"), e.g.
 * "李护工 已通知 0:40 未接受" or "王护工 正在赶来 1:05"; and the zones nobody
 * covers now, from the staff view. Names are the staff's own (the record
 * carries them); a login name is put into a person's name with nameOf. */
'use strict';

window.WGPaging = (() => {
  WG.addStrings({
    zh: {
      'pg.coming': '{name} 正在赶来 {t}',
      'pg.waiting': '{name} 已通知 {t}，等待手机确认', 'pg.received': '{name} 已通知 {t} 未接受',
      'pg.accepted': '{name} 正在赶来', 'pg.declined': '{name} 拒绝：{reason}', 'pg.declined.bare': '{name} 拒绝',
      'pg.not_reached': '{name} 未送达', 'pg.timed_out': '{name} 已通知 {t} 未接受（超时）', 'pg.stood_down': '{name} 无需前往',
      'pg.step.room': '正在通知房间负责人', 'pg.step.zone': '正在通知区域护工', 'pg.step.everyone': '正在通知全体在班人员',
      'pg.step.floor_lead': '已通知组长', 'pg.step.manager': '已通知主管', 'pg.step.district': '已上报区平台',
      'pg.step.done': '所有人都已通知',
      'pg.no_cover': '这个房间无人负责：已通知全体在班人员',
      'pg.nobody': '没有可通知的在班人员',
      'pg.uncovered': '无人负责：{zones}。这些区域的呼叫会通知全体在班人员。',
      'pg.sep': '；', 'pg.list.sep': '、',
    },
    en: {
      'pg.coming': '{name} on the way {t}',
      'pg.waiting': '{name} paged {t} ago, waiting for the phone', 'pg.received': '{name} paged {t} ago, not accepted',
      'pg.accepted': '{name} on the way', 'pg.declined': '{name} declined: {reason}', 'pg.declined.bare': '{name} declined',
      'pg.not_reached': '{name} not reached', 'pg.timed_out': '{name} paged {t} ago, not accepted (timed out)', 'pg.stood_down': '{name} stood down',
      'pg.step.room': 'paging the room\'s carer', 'pg.step.zone': 'paging the zone\'s carers', 'pg.step.everyone': 'paging everyone on duty',
      'pg.step.floor_lead': 'floor lead paged', 'pg.step.manager': 'manager paged', 'pg.step.district': 'reported to the district',
      'pg.step.done': 'everyone paged',
      'pg.no_cover': 'Nobody covers this room: everyone on duty was paged',
      'pg.nobody': 'Nobody on duty could be paged',
      'pg.uncovered': 'Nobody covers {zones}: calls there go to everyone on duty.',
      'pg.sep': '; ', 'pg.list.sep': ', ',
    },
  });

  /* Login name -> the person's name, from the last staff view. */
  let names = new Map();

  function setStaff(staff) {
    names = new Map(((staff && staff.people) || []).map((p) => [p.user, p.name]));
  }
  function nameOf(user) { return names.get(user) || user; }

  /* One page in words; `name` overrides the person's (the phone says "(我)"). */
  function pageText(p, now, name) {
    const who = name || p.name || nameOf(p.user);
    const t = p.notified_ms ? WG.fmtElapsed(p.notified_ms, now) : '';
    switch (p.outcome) {
      case 'declined': return p.reason ? WG.t('pg.declined', { name: who, reason: p.reason }) : WG.t('pg.declined.bare', { name: who });
      case 'waiting': case 'received': case 'accepted': case 'not_reached': case 'timed_out': case 'stood_down':
        return WG.t(`pg.${p.outcome}`, { name: who, t });
      default: return who;
    }
  }

  /* Where the chain is: nobody covers the room, or the current step. */
  function stepText(paging) {
    if (!paging) return '';
    return paging.no_cover ? WG.t('pg.no_cover') : WG.tOr(`pg.step.${paging.step_kind}`, '');
  }

  /* One line for a call: who is on the way, else the current step's pages. */
  function summary(a, now) {
    const paging = a && a.paging;
    if (!paging || !Array.isArray(paging.pages)) return '';
    if (paging.accepted_by) {
      return WG.t('pg.coming', { name: paging.accepted_name || nameOf(paging.accepted_by), t: WG.fmtElapsed(paging.accepted_ms, now) });
    }
    const parts = [];
    if (paging.no_cover) parts.push(WG.t('pg.no_cover'));
    const step = Math.max(-1, ...paging.pages.map((p) => p.step));
    for (const p of paging.pages.filter((x) => x.step === step)) parts.push(pageText(p, now));
    if (paging.step_kind === 'district') parts.push(WG.t('pg.step.district'));
    if (!paging.pages.length && paging.step_kind !== 'district') parts.push(WG.t('pg.nobody'));
    return parts.filter(Boolean).join(WG.t('pg.sep'));
  }

  /* The zones nobody covers now, in words; '' when every zone is covered. */
  function uncoveredText(staff) {
    const zones = (staff && staff.uncovered_zones) || [];
    return zones.length ? WG.t('pg.uncovered', { zones: zones.map((z) => z.name || z.id).join(WG.t('pg.list.sep')) }) : '';
  }

  return { setStaff, nameOf, pageText, stepText, summary, uncoveredText };
})();
