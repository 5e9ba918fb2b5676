/* Private to the configuration loader (config_load.c and the config_*.c
 * files that read one section each): the loader's state, the memory a
 * loaded config owns, the small readers every section uses, and each
 * section's entry point. Nothing outside gateway/config/ includes it; the
 * public API is config.h. */
#ifndef WG_CONFIG_LOAD_INTERNAL_H
#define WG_CONFIG_LOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/cfgtree.h"
#include "config/config.h"

#define MINUTES_PER_DAY 1440

/* ---- the loader's state (config_load.c) ---------------------------------------------------- */

struct config_owned; /* the trees and allocations a wg_config owns */

struct loader {
    struct wg_config *config;
    struct config_owned *owned;
    struct wg_diag *diag;
    size_t first_message;
    bool out_of_memory;
    /* Set when an item could not be registered (its id was unreadable), so
     * references to that section are not reported as unknown: no cascades. */
    bool profiles_incomplete;
    bool places_incomplete;
    bool buses_incomplete;
};

/* Doubles *array (of item_size items) when count has reached *capacity. */
bool grow_array(void **array, size_t *capacity, size_t count, size_t item_size);
void note_out_of_memory(struct loader *ld, const struct wg_cfg_node *node);
/* Zeroed memory owned by the config. n may be 0 (then one element is allocated). */
void *ld_alloc(struct loader *ld, size_t n, size_t size);
/* A formatted string owned by the config; NULL (noted) when out of memory. */
__attribute__((format(printf, 2, 3))) const char *ld_printf(struct loader *ld, const char *fmt,
                                                            ...);
/* Hands a tree to the config (freed with it); false (tree freed) when out of memory. */
bool own_tree(struct loader *ld, struct wg_cfg_node *tree);

/* ---- small readers (config_read.c) --------------------------------------------------------- */

bool read_int(struct loader *ld, const struct wg_cfg_node *map, const char *key, long long min,
              long long max, int *out);
bool read_text(struct loader *ld, const struct wg_cfg_node *map, const char *key, bool empty_ok,
               const char **out);
bool id_syntax_ok(const char *text, bool strict);
bool read_id(struct loader *ld, const struct wg_cfg_node *map, const char *key, bool strict,
             const char **out);
bool expect_map(struct loader *ld, const struct wg_cfg_node *node, const char *what);
bool expect_seq(struct loader *ld, const struct wg_cfg_node *node, const char *what);
bool read_window(struct loader *ld, const struct wg_cfg_node *map, const char *key, bool *present,
                 struct wg_window *out);
const char *resolve_path(struct loader *ld, const struct wg_cfg_node *node, const char *path);
bool read_path(struct loader *ld, const struct wg_cfg_node *map, const char *key, const char **out);
int name_index(const char *const *names, size_t count, const char *text);
size_t resolve_ref(struct loader *ld, const struct wg_cfg_node *map, const char *key, size_t found,
                   bool incomplete, const char *what, const char *hint);
void check_pair(struct loader *ld, const struct wg_cfg_node *map, const char *first,
                const char *second);

/* ---- the sections, in the order config_load() reads them ----------------------------------- */

void load_site(struct loader *ld, const struct wg_cfg_node *site); /* config_settings.c */
void load_plugins_and_log(struct loader *ld, const struct wg_cfg_node *plugins,
                          const struct wg_cfg_node *log);                /* config_settings.c */
void load_storage(struct loader *ld, const struct wg_cfg_node *storage); /* config_settings.c */
void load_profiles(struct loader *ld, const struct wg_cfg_node *list);   /* config_profiles.c */
void load_zones(struct loader *ld, const struct wg_cfg_node *zones);     /* config_zones.c */
void load_residents(struct loader *ld,
                    const struct wg_cfg_node *residents);                /* config_residents.c */
void load_buses(struct loader *ld, const struct wg_cfg_node *buses);     /* config_devices.c */
void load_devices(struct loader *ld, const struct wg_cfg_node *devices); /* config_devices.c */
void load_rules(struct loader *ld, const struct wg_cfg_node *rules);     /* config_rules.c */
void load_escalation(struct loader *ld, const struct wg_cfg_node *escalation); /* config_rules.c */
void load_rounds(struct loader *ld, const struct wg_cfg_node *rounds);         /* config_rounds.c */
void load_uplink(struct loader *ld, const struct wg_cfg_node *uplink);         /* config_uplink.c */
void load_staff(struct loader *ld, const struct wg_cfg_node *staff);           /* config_staff.c */
void load_espa(struct loader *ld, const struct wg_cfg_node *espa);             /* config_espa.c */
void load_web(struct loader *ld, const struct wg_cfg_node *web); /* config_settings.c */

/* ---- checks across sections (config_checks.c) ---------------------------------------------- */

void check_rule_points(struct loader *ld);
void check_rule_ends(struct loader *ld);
void warn_unmapped_fire_zones(struct loader *ld);

/* ---- fire-panel places (config_devices.c), also for the checks ----------------------------- */

/* The zone numbers in `zones` (ascending, no repeats) as "1-3, 5, 8". */
const char *zone_ranges(const int *zones, size_t count, char *buf, size_t len);
/* The fire zones a profile reports (its fire_zone_N points), ascending; returns the count. */
size_t profile_fire_zones(const struct wg_profile *profile, int *zones, size_t max);

#endif
