/* The config's rounds: section, patrol schedules (巡查, GB 38600): per
 * zone, a daily window and the minutes between rounds, and the grace after
 * which a round not done is an advisory alarm. The rooms a round covers
 * are the zone's resident rooms, so a zone without one is refused. */
#include "config/config_load_internal.h"

#include <string.h>

#define ROUND_EVERY_MIN_LOW  15
#define ROUND_EVERY_MIN_HIGH 720

bool config_resident_room_in(const struct wg_config *config, size_t room, size_t zone)
{
    return room < config->room_count && config->rooms[room].zone == zone &&
           config->rooms[room].kind && strcmp(config->rooms[room].kind, "resident") == 0;
}

static bool zone_has_resident_room(const struct wg_config *config, size_t zone)
{
    for (size_t r = 0; r < config->room_count; r++)
        if (config_resident_room_in(config, r, zone))
            return true;
    return false;
}

static bool load_round(struct loader *ld, const struct wg_cfg_node *item, struct wg_round *round,
                       const struct wg_round *before, size_t before_count)
{
    static const char *const keys[] = {"id", "zone", "window", "every_min", "grace_min", NULL};
    struct wg_config *config = ld->config;
    cfg_only_keys_in(ld->diag, item, keys, "round");
    bool ok =
        cfg_require_in(ld->diag, item, "id", "round") && read_id(ld, item, "id", false, &round->id);
    for (size_t j = 0; ok && j < before_count; j++)
        if (strcmp(before[j].id, round->id) == 0) {
            diag_at(ld->diag, cfg_get(item, "id"), "id: round \"%s\" is listed twice", round->id);
            ok = false;
        }
    const char *zone = NULL;
    if (!cfg_require_in(ld->diag, item, "zone", "round") ||
        !read_text(ld, item, "zone", false, &zone) || !zone) {
        ok = false;
    } else {
        round->zone = resolve_ref(ld, item, "zone", config_find_zone(config, zone),
                                  ld->places_incomplete, "zone", " in zones");
        if (round->zone == WG_NO_INDEX) {
            ok = false;
        } else if (!zone_has_resident_room(config, round->zone)) {
            diag_at(ld->diag, cfg_get(item, "zone"),
                    "zone: zone \"%s\" has no resident room for a round to check", zone);
            ok = false;
        }
    }
    bool has_window = false;
    if (!cfg_require_in(ld->diag, item, "window", "round") ||
        !read_window(ld, item, "window", &has_window, &round->window))
        ok = false;
    if (!cfg_require_in(ld->diag, item, "every_min", "round") ||
        !read_int(ld, item, "every_min", ROUND_EVERY_MIN_LOW, ROUND_EVERY_MIN_HIGH,
                  &round->every_min))
        ok = false;
    round->grace_min = 30;
    if (!read_int(ld, item, "grace_min", 1, ROUND_EVERY_MIN_HIGH, &round->grace_min))
        ok = false;
    else if (ok && round->grace_min > round->every_min) {
        diag_at(ld->diag, cfg_get(item, "grace_min"),
                "grace_min: at most every_min (%d): a round must be due before the next starts",
                round->every_min);
        ok = false;
    }
    return ok;
}

void load_rounds(struct loader *ld, const struct wg_cfg_node *rounds)
{
    if (!rounds || !expect_seq(ld, rounds, "rounds"))
        return;
    struct wg_config *config = ld->config;
    config->rounds = ld_alloc(ld, rounds->count ? rounds->count : 1, sizeof *config->rounds);
    for (size_t i = 0; config->rounds && i < rounds->count; i++) {
        const struct wg_cfg_node *item = rounds->items[i];
        if (!expect_map(ld, item, "round"))
            continue;
        struct wg_round *round = &config->rounds[config->round_count];
        if (load_round(ld, item, round, config->rounds, config->round_count))
            config->round_count++;
    }
}
