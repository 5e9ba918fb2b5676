/* Residents: the bed each one lies in, care level, GB 38600-2019 risks and
 * a night window of their own. */
#include "config/config_load_internal.h"

#include <string.h>

/* ---- residents ------------------------------------------------------------------------------ */

void load_residents(struct loader *ld, const struct wg_cfg_node *residents)
{
    static const char *const keys[] = {"id", "label", "bed", "care_level", "risks", "night", NULL};
    struct wg_config *config = ld->config;
    if (!residents || !expect_seq(ld, residents, "residents"))
        return;
    config->residents = ld_alloc(ld, residents->count, sizeof *config->residents);
    for (size_t i = 0; config->residents && i < residents->count; i++) {
        const struct wg_cfg_node *item = residents->items[i];
        if (!expect_map(ld, item, "resident"))
            continue;
        cfg_only_keys_in(ld->diag, item, keys, "resident");
        struct wg_resident *resident = &config->residents[config->resident_count];
        resident->label = "";
        resident->care_level = 1;
        bool ok = cfg_require_in(ld->diag, item, "id", "resident") &&
                  read_id(ld, item, "id", false, &resident->id);
        for (size_t j = 0; ok && j < config->resident_count; j++)
            if (strcmp(config->residents[j].id, resident->id) == 0) {
                diag_at(ld->diag, cfg_get(item, "id"), "resident id \"%s\" is used twice",
                        resident->id);
                diag_code(ld->diag, "exists", "{s:s, s:s}", "what", "resident", "id", resident->id);
                ok = false;
            }
        read_text(ld, item, "label", true, &resident->label);
        resident->bed = WG_NO_INDEX;
        const char *bed = NULL;
        if (cfg_require_in(ld->diag, item, "bed", "resident") &&
            read_text(ld, item, "bed", false, &bed) && bed) {
            resident->bed =
                resolve_ref(ld, item, "bed", config_find_bed(config, bed), ld->places_incomplete,
                            "bed", " (bed ids are <room>-<label>, e.g. \"203-A\")");
            for (size_t j = 0; resident->bed != WG_NO_INDEX && j < config->resident_count; j++)
                if (config->residents[j].bed == resident->bed) {
                    diag_at(ld->diag, cfg_get(item, "bed"),
                            "bed: bed \"%s\" is already taken by resident \"%s\"", bed,
                            config->residents[j].id);
                    diag_code(ld->diag, "bed_taken", "{s:s, s:s, s:s, s:s}", "bed", bed, "occupant",
                              config->residents[j].label[0] ? config->residents[j].label
                                                            : config->residents[j].id,
                              "resident", config->residents[j].id, "label",
                              config->residents[j].label);
                    ok = false;
                }
        }
        if (resident->bed == WG_NO_INDEX)
            ok = false;
        if (cfg_require_in(ld->diag, item, "care_level", "resident"))
            read_int(ld, item, "care_level", 1, 5, &resident->care_level);
        const struct wg_cfg_node *risks = cfg_get(item, "risks");
        if (risks && expect_seq(ld, risks, "risks")) {
            for (size_t j = 0; j < risks->count; j++) {
                int bit = risk_from_name(cfg_scalar(risks->items[j]));
                if (bit < 0)
                    diag_at(ld->diag, risks->items[j],
                            "risks: expected GB 38600 risk names (choking, wrong_ingestion, "
                            "pressure_sore, scald, fall_from_bed, fall, wandering, harm, "
                            "activity_accident), got \"%s\"",
                            cfg_scalar(risks->items[j]) ? cfg_scalar(risks->items[j]) : "?");
                else
                    resident->risks |= (unsigned)bit;
                if (bit < 0)
                    diag_code(ld->diag, "unknown_risk", "{s:s?}", "value",
                              cfg_scalar(risks->items[j]));
            }
        }
        read_window(ld, item, "night", &resident->has_night, &resident->night);
        if (ok)
            config->resident_count++;
    }
}
