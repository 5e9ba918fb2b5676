/* The config's staff: section (issue 16): who the carers are (their login
 * name, the name the wall shows, their care role), the shifts, and per
 * shift who covers which zones and rooms; and the timings of paging their
 * phones (accept_s, delivery_s, phone_offline_s); a person's pager (the
 * call number the espa: output calls, config_espa.c). Claims made on a phone
 * at the start of a shift are not configuration: the core journals them. */
#include "config/config_load_internal.h"

#include <string.h>

#define STAFF_NAME_MAX   32 /* a login name's characters, as auth.h allows */
#define PAGER_DIGITS_MAX 16 /* an ESPA 4.4.4 call number's digits */

static const char *const care_roles[] = {"carer", "nurse", "floor_lead", "manager"};
#define CARE_ROLE_COUNT (sizeof care_roles / sizeof care_roles[0])

const char *care_role_name(int care_role)
{
    return care_role >= 0 && (size_t)care_role < CARE_ROLE_COUNT ? care_roles[care_role] : "?";
}

int care_role_from_name(const char *name)
{
    return name ? name_index(care_roles, CARE_ROLE_COUNT, name) : -1;
}

/* A login name as accounts have them: 1..32 of a-z 0-9 . _ - */
static bool user_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len < 1 || len > STAFF_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", name[i]))
            return false;
    return true;
}

/* pager: their ESPA 4.4.4 call number, 1..16 digits (docs/espa.md). */
static bool read_pager(struct loader *ld, const struct wg_cfg_node *item,
                       struct wg_staff_member *member)
{
    const struct wg_cfg_node *node = cfg_get(item, "pager");
    if (!node)
        return true;
    const char *text = cfg_scalar(node);
    size_t len = text ? strlen(text) : 0;
    bool ok = len >= 1 && len <= PAGER_DIGITS_MAX && strspn(text, "0123456789") == len;
    if (!ok) {
        diag_at(ld->diag, node,
                "pager: expected the call number, 1 to %d digits (e.g. \"1234\"), got %s%s%s",
                PAGER_DIGITS_MAX, text ? "\"" : "", text ? text : "a structure", text ? "\"" : "");
        return false;
    }
    member->pager = text;
    return true;
}

static bool load_shift(struct loader *ld, const struct wg_cfg_node *item,
                       struct wg_shift_def *shift, const struct wg_shift_def *before,
                       size_t before_count)
{
    static const char *const keys[] = {"id", "name", "window", NULL};
    cfg_only_keys_in(ld->diag, item, keys, "shift");
    bool ok =
        cfg_require_in(ld->diag, item, "id", "shift") && read_id(ld, item, "id", false, &shift->id);
    for (size_t j = 0; ok && j < before_count; j++)
        if (strcmp(before[j].id, shift->id) == 0) {
            diag_at(ld->diag, cfg_get(item, "id"), "id: shift \"%s\" is listed twice", shift->id);
            ok = false;
        }
    shift->name = shift->id;
    if (!read_text(ld, item, "name", false, &shift->name))
        ok = false;
    bool has_window = false;
    if (!cfg_require_in(ld->diag, item, "window", "shift") ||
        !read_window(ld, item, "window", &has_window, &shift->window))
        ok = false;
    return ok;
}

static bool load_member(struct loader *ld, const struct wg_cfg_node *item,
                        struct wg_staff_member *member, const struct wg_staff_member *before,
                        size_t before_count)
{
    static const char *const keys[] = {"user", "name", "role", "pager", NULL};
    cfg_only_keys_in(ld->diag, item, keys, "staff member");
    bool ok = cfg_require_in(ld->diag, item, "user", "staff member") &&
              read_text(ld, item, "user", false, &member->user) && member->user;
    if (ok && !user_name_ok(member->user)) {
        diag_at(ld->diag, cfg_get(item, "user"),
                "user: \"%s\" is not a login name (1 to %d characters of a-z 0-9 . _ -)",
                member->user, STAFF_NAME_MAX);
        ok = false;
    }
    for (size_t j = 0; ok && j < before_count; j++)
        if (strcmp(before[j].user, member->user) == 0) {
            diag_at(ld->diag, cfg_get(item, "user"), "user: \"%s\" is listed twice", member->user);
            ok = false;
        }
    member->name = member->user;
    if (!read_text(ld, item, "name", false, &member->name))
        ok = false;
    const char *role = NULL;
    if (!cfg_require_in(ld->diag, item, "role", "staff member") ||
        !read_text(ld, item, "role", false, &role) || !role) {
        ok = false;
    } else if ((member->care_role = care_role_from_name(role)) < 0) {
        diag_at(ld->diag, cfg_get(item, "role"),
                "role: expected carer, nurse, floor_lead or manager, got \"%s\"", role);
        ok = false;
    }
    return read_pager(ld, item, member) && ok;
}

/* A list of zone or room ids (`key` "zones" or "rooms") into indexes. */
static bool read_places(struct loader *ld, const struct wg_cfg_node *item, const char *key,
                        size_t **out, size_t *count)
{
    const struct wg_cfg_node *list = cfg_get(item, key);
    if (!list)
        return true;
    if (!expect_seq(ld, list, key))
        return false;
    *out = ld_alloc(ld, list->count, sizeof **out);
    if (!*out)
        return false;
    bool zones = strcmp(key, "zones") == 0, ok = true;
    for (size_t i = 0; i < list->count; i++) {
        const char *id = cfg_scalar(list->items[i]);
        size_t found = !id     ? WG_NO_INDEX
                       : zones ? config_find_zone(ld->config, id)
                               : config_find_room(ld->config, id);
        if (found == WG_NO_INDEX) {
            if (!ld->places_incomplete)
                diag_at(ld->diag, list->items[i], "%s: %s%s%s is not in %s", key, id ? "\"" : "",
                        id ? id : "a structure", id ? "\"" : "",
                        zones ? "zones" : "the rooms of zones");
            ok = false;
            continue;
        }
        (*out)[(*count)++] = found;
    }
    return ok;
}

static void load_shift_cover(struct loader *ld, const struct wg_cfg_node *list, size_t shift)
{
    struct wg_staffing *staff = &ld->config->staff;
    if (!expect_seq(ld, list, "cover"))
        return;
    for (size_t i = 0; i < list->count; i++) {
        const struct wg_cfg_node *item = list->items[i];
        static const char *const keys[] = {"user", "zones", "rooms", NULL};
        if (!expect_map(ld, item, "cover"))
            continue;
        cfg_only_keys_in(ld->diag, item, keys, "cover");
        const char *user = NULL;
        if (!cfg_require_in(ld->diag, item, "user", "cover") ||
            !read_text(ld, item, "user", false, &user) || !user)
            continue;
        size_t member = WG_NO_INDEX;
        for (size_t p = 0; p < staff->people_count; p++)
            if (strcmp(staff->people[p].user, user) == 0)
                member = p;
        if (member == WG_NO_INDEX) {
            diag_at(ld->diag, cfg_get(item, "user"), "user: \"%s\" is not in staff.people", user);
            continue;
        }
        for (size_t c = 0; c < staff->cover_count; c++)
            if (staff->covers[c].shift == shift && staff->covers[c].member == member) {
                diag_at(ld->diag, cfg_get(item, "user"),
                        "user: \"%s\" is listed twice in shift \"%s\"", user,
                        staff->shifts[shift].id);
                member = WG_NO_INDEX;
                break;
            }
        if (member == WG_NO_INDEX)
            continue;
        struct wg_cover cover = {.shift = shift, .member = member};
        bool ok = read_places(ld, item, "zones", &cover.zones, &cover.zone_count);
        ok = read_places(ld, item, "rooms", &cover.rooms, &cover.room_count) && ok;
        if (ok && cover.zone_count + cover.room_count == 0) {
            diag_at(ld->diag, item, "cover: \"%s\" covers no zone and no room", user);
            ok = false;
        }
        if (ok)
            staff->covers[staff->cover_count++] = cover;
    }
}

static void load_covers(struct loader *ld, const struct wg_cfg_node *cover)
{
    struct wg_staffing *staff = &ld->config->staff;
    if (!cover || !expect_map(ld, cover, "cover"))
        return;
    size_t total = 0;
    for (size_t i = 0; i < cover->count; i++)
        total += cover->items[i]->type == WG_CFG_SEQ ? cover->items[i]->count : 0;
    staff->covers = ld_alloc(ld, total, sizeof *staff->covers);
    if (!staff->covers)
        return;
    for (size_t i = 0; i < cover->count; i++) {
        size_t shift = WG_NO_INDEX;
        for (size_t s = 0; s < staff->shift_count; s++)
            if (strcmp(staff->shifts[s].id, cover->keys[i]) == 0)
                shift = s;
        if (shift == WG_NO_INDEX) {
            diag_pos(ld->diag, cover->items[i]->file, cover->key_lines[i], cover->key_columns[i],
                     "cover: \"%s\" is not one of staff.shifts", cover->keys[i]);
            continue;
        }
        load_shift_cover(ld, cover->items[i], shift);
    }
}

void load_staff(struct loader *ld, const struct wg_cfg_node *staff_node)
{
    struct wg_staffing *staff = &ld->config->staff;
    staff->accept_s = 40;
    staff->delivery_s = 5;
    staff->phone_offline_s = 60;
    if (!staff_node || !expect_map(ld, staff_node, "staff"))
        return;
    static const char *const keys[] = {
        "accept_s", "delivery_s", "phone_offline_s", "shifts", "people", "cover", NULL};
    cfg_only_keys_in(ld->diag, staff_node, keys, "staff");
    read_int(ld, staff_node, "accept_s", 5, 600, &staff->accept_s);
    read_int(ld, staff_node, "delivery_s", 1, 60, &staff->delivery_s);
    read_int(ld, staff_node, "phone_offline_s", 5, 3600, &staff->phone_offline_s);
    if (staff->delivery_s >= staff->accept_s)
        diag_at(ld->diag,
                cfg_get(staff_node, "delivery_s") ? cfg_get(staff_node, "delivery_s") : staff_node,
                "delivery_s: must be shorter than accept_s (%d s): a phone confirms receipt "
                "before anyone can be expected to accept",
                staff->accept_s);

    const struct wg_cfg_node *shifts = cfg_get(staff_node, "shifts");
    if (cfg_require_in(ld->diag, staff_node, "shifts", "staff") &&
        expect_seq(ld, shifts, "shifts")) {
        staff->shifts = ld_alloc(ld, shifts->count, sizeof *staff->shifts);
        for (size_t i = 0; staff->shifts && i < shifts->count; i++)
            if (expect_map(ld, shifts->items[i], "shift") &&
                load_shift(ld, shifts->items[i], &staff->shifts[staff->shift_count], staff->shifts,
                           staff->shift_count))
                staff->shift_count++;
    }
    const struct wg_cfg_node *people = cfg_get(staff_node, "people");
    if (cfg_require_in(ld->diag, staff_node, "people", "staff") &&
        expect_seq(ld, people, "people")) {
        staff->people = ld_alloc(ld, people->count, sizeof *staff->people);
        for (size_t i = 0; staff->people && i < people->count; i++)
            if (expect_map(ld, people->items[i], "staff member") &&
                load_member(ld, people->items[i], &staff->people[staff->people_count],
                            staff->people, staff->people_count))
                staff->people_count++;
    }
    load_covers(ld, cfg_get(staff_node, "cover"));
    staff->enabled = staff->people_count > 0;
}
