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
      'pg.waiting': '{name} 已通知 {t} 未接受',
      'pg.not_reached': '{name} 未送达',
      'pg.timed_out': '{name} 超时未接受',
      'pg.declined': '{name} 拒绝：{reason}',
      'pg.stood_down': '{name} 已取消',
      'pg.no_cover': '无人负责此房间，已通知全部在岗人员',
      'pg.district': '已上报区平台',
      'pg.nobody': '没有可通知的在岗人员',
      'pg.uncovered': '无人负责：{zones}。这些区域的呼叫会通知全部在岗人员。',
      'pg.sep': '；',
    },
    en: {
      'pg.coming': '{name} on the way {t}',
      'pg.waiting': '{name} notified {t}, not accepted',
      'pg.not_reached': '{name} not reached',
      'pg.timed_out': '{name} did not accept in time',
      'pg.declined': '{name} declined: {reason}',
      'pg.stood_down': '{name} stood down',
      'pg.no_cover': 'Nobody covers this room: everyone on duty is notified',
      'pg.district': 'Reported to the district',
      'pg.nobody': 'Nobody on duty could be notified',
      'pg.uncovered': 'Nobody covers {zones}: calls there go to everyone on duty.',
      'pg.sep': '; ',
    },
  });

  /* Login name -> the person's name, from the last staff view. */
  let names = new Map();

  function setStaff(staff) {
    names = new Map(((staff && staff.people) || []).map((p) => [p.user, p.name]));
  }
  function nameOf(user) { return names.get(user) || user; }

  function pageText(p, now) {
    const name = p.name || nameOf(p.user);
    switch (p.outcome) {
      case 'waiting':
      case 'received': return WG.t('pg.waiting', { name, t: WG.fmtElapsed(p.notified_ms, now) });
      case 'not_reached': return WG.t('pg.not_reached', { name });
      case 'timed_out': return WG.t('pg.timed_out', { name });
      case 'declined': return WG.t('pg.declined', { name, reason: p.reason || '' });
      case 'stood_down': return WG.t('pg.stood_down', { name });
      default: return '';
    }
  }

  /* One line for a call: who is on the way, else the current step's pages. */
  function summary(a, now) {
    const paging = a && a.paging;
    if (!paging || !Array.isArray(paging.pages)) return '';
    const parts = [];
    if (paging.accepted_by) {
      parts.push(WG.t('pg.coming', { name: paging.accepted_name || nameOf(paging.accepted_by), t: WG.fmtElapsed(paging.accepted_ms, now) }));
    } else {
      if (paging.no_cover) parts.push(WG.t('pg.no_cover'));
      const step = Math.max(-1, ...paging.pages.map((p) => p.step));
      const current = paging.pages.filter((p) => p.step === step);
      for (const p of current) parts.push(pageText(p, now));
      if (paging.step_kind === 'district') parts.push(WG.t('pg.district'));
      if (!paging.pages.length && paging.step_kind !== 'district') parts.push(WG.t('pg.nobody'));
    }
    return parts.filter(Boolean).join(WG.t('pg.sep'));
  }

  /* The zones nobody covers now, in words; '' when every zone is covered. */
  function uncoveredText(staff) {
    const zones = (staff && staff.uncovered_zones) || [];
    return zones.length ? WG.t('pg.uncovered', { zones: zones.map((z) => z.name || z.id).join('、') }) : '';
  }

  return { setStaff, nameOf, pageText, summary, uncoveredText };
})();
