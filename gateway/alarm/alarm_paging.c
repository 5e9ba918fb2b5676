/* The paging record an alarm carries (alarm.h, struct wg_paging): who was
 * notified at which step and what became of each notification, as JSON for
 * the journal, the displays, the phones and the district, and back after a
 * restart. The decisions (whom, when, the next step) are engine_paging.c's. */
#include "alarm/alarm.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"

static const char *const outcome_names[] = {"waiting",     "received",  "accepted",  "declined",
                                            "not_reached", "timed_out", "stood_down"};
static const char *const step_names[] = {"room",    "zone",     "everyone", "floor_lead",
                                         "manager", "district", "done"};
#define OUTCOME_COUNT (sizeof outcome_names / sizeof outcome_names[0])
#define STEP_COUNT    (sizeof step_names / sizeof step_names[0])

const char *page_outcome_name(int outcome)
{
    return outcome >= 0 && (size_t)outcome < OUTCOME_COUNT ? outcome_names[outcome] : "waiting";
}

const char *page_step_name(int step_kind)
{
    return step_kind >= 0 && (size_t)step_kind < STEP_COUNT ? step_names[step_kind] : "done";
}

static int index_of(const char *const *names, size_t count, const char *name, int fallback)
{
    for (size_t i = 0; name && i < count; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return fallback;
}

void paging_stand_down(struct wg_paging *paging)
{
    if (!paging->active)
        return;
    for (size_t i = 0; i < paging->page_count; i++)
        if (paging->pages[i].outcome == WG_PAGE_WAITING ||
            paging->pages[i].outcome == WG_PAGE_RECEIVED)
            paging->pages[i].outcome = WG_PAGE_STOOD_DOWN;
    paging->step_kind = WG_STEP_DONE;
}

static json_t *ms_or_zero(int64_t ms)
{
    return json_integer(ms > 0 ? ms : 0);
}

json_t *paging_to_json(const struct wg_paging *paging)
{
    if (!paging->active)
        return json_null();
    json_t *pages = json_array();
    for (size_t i = 0; pages && i < paging->page_count; i++) {
        const struct wg_page *page = &paging->pages[i];
        json_t *item =
            json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:s, s:s}", "user", page->user,
                      "name", page->name, "care_role", care_role_name(page->care_role), "step",
                      page->step, "notified_ms", ms_or_zero(page->notified_ms), "received_ms",
                      ms_or_zero(page->received_ms), "accepted_ms", ms_or_zero(page->accepted_ms),
                      "declined_ms", ms_or_zero(page->declined_ms), "reason", page->reason,
                      "outcome", page_outcome_name(page->outcome));
        if (!item || json_array_append_new(pages, item) != 0) {
            json_decref(pages);
            return json_null();
        }
    }
    const struct wg_page *accepted =
        paging->accepted >= 0 && (size_t)paging->accepted < paging->page_count
            ? &paging->pages[paging->accepted]
            : NULL;
    json_t *json =
        pages ? json_pack("{s:i, s:s, s:I, s:b, s:s, s:s, s:I, s:o}", "step", paging->step,
                          "step_kind", page_step_name(paging->step_kind), "step_ms",
                          (json_int_t)paging->step_ms, "no_cover", paging->no_cover, "accepted_by",
                          accepted ? accepted->user : "", "accepted_name",
                          accepted ? accepted->name : "", "accepted_ms",
                          (json_int_t)(accepted ? accepted->accepted_ms : 0), "pages", pages)
              : NULL;
    return json ? json : json_null();
}

static int64_t read_ms(const json_t *object, const char *key)
{
    json_int_t value = json_integer_value(json_object_get(object, key));
    return value > 0 ? (int64_t)value : 0;
}

static void read_text(char *out, size_t len, const json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));
    alarm_copy_text(out, len, text ? text : "");
}

void paging_from_json(struct wg_paging *paging, const json_t *json)
{
    memset(paging, 0, sizeof *paging);
    paging->accepted = -1;
    if (!json_is_object(json))
        return;
    paging->active = true;
    paging->step = (int)json_integer_value(json_object_get(json, "step"));
    paging->step_kind =
        index_of(step_names, STEP_COUNT, json_string_value(json_object_get(json, "step_kind")),
                 WG_STEP_DONE);
    paging->step_ms = read_ms(json, "step_ms");
    paging->no_cover = json_is_true(json_object_get(json, "no_cover"));
    const char *accepted_by = json_string_value(json_object_get(json, "accepted_by"));
    size_t index;
    json_t *item;
    json_array_foreach(json_object_get(json, "pages"), index, item)
    {
        if (paging->page_count == WG_ALARM_MAX_PAGES || !json_is_object(item))
            break;
        struct wg_page *page = &paging->pages[paging->page_count];
        read_text(page->user, sizeof page->user, item, "user");
        read_text(page->name, sizeof page->name, item, "name");
        int role = care_role_from_name(json_string_value(json_object_get(item, "care_role")));
        page->care_role = role < 0 ? WG_CARE_CARER : role;
        page->step = (int)json_integer_value(json_object_get(item, "step"));
        page->notified_ms = read_ms(item, "notified_ms");
        page->received_ms = read_ms(item, "received_ms");
        page->accepted_ms = read_ms(item, "accepted_ms");
        page->declined_ms = read_ms(item, "declined_ms");
        read_text(page->reason, sizeof page->reason, item, "reason");
        page->outcome =
            index_of(outcome_names, OUTCOME_COUNT,
                     json_string_value(json_object_get(item, "outcome")), WG_PAGE_WAITING);
        if (page->outcome == WG_PAGE_ACCEPTED && accepted_by &&
            strcmp(accepted_by, page->user) == 0)
            paging->accepted = (int)paging->page_count;
        paging->page_count++;
    }
}
