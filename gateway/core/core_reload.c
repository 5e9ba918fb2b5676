/* A reload (SIGHUP, or the manager UI through the web bridge): the new
 * config is checked and the changed buses restarted; on any failure the
 * running config and drivers stay. Then the core switches over: device
 * state and outstanding writes carried by id, the engine rebuilt, the
 * attachments told (the uplink replaces its client when its settings
 * changed). */
#include "core/core_private.h"

int core_reload(struct wg_core *core)
{
    return core_reload_report(core, NULL);
}

/* Ends a refused or undone reload: the reasons to the log and `report`. */
static int refuse_reload(struct wg_core *core, struct wg_diag *report, const struct wg_diag *diag,
                         const char *why)
{
    diag_log(diag);
    for (size_t i = 0; report && i < diag->count; i++)
        diag_copy(report, diag, i);
    char summary[400];
    if (why)
        snprintf(summary, sizeof summary, "%s", why);
    else
        snprintf(summary, sizeof summary, "%zu error(s), the first: %s",
                 diag->count ? diag->count : 1, diag->count ? diag->messages[0] : "out of memory");
    if (why && report)
        diag_pos(report, NULL, 0, 0, "%s; the running configuration is kept", why);
    wg_err("reload: %s: %s; keeping the running configuration", core->config_path, summary);
    service_reload_done(false, summary);
    return -1;
}

int core_reload_report(struct wg_core *core, struct wg_diag *report)
{
    service_reloading();
    wg_notice("reload: reading %s", core->config_path);
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *next = config_load(core->config_path, &diag);
    struct wg_host_reload *change = NULL;
    struct device_state *next_states = NULL;
    /* Every driver whose bus changed validates its new section before anything is touched. */
    if (next)
        change = plugin_host_prepare(core->host, next,
                                     core_plugin_dir(core->plugin_dir_override, next), &diag);
    if (change)
        next_states = core_new_device_states(next);
    if (!next || !change || !next_states) {
        if (change && !next_states)
            diag_at(&diag, NULL, "out of memory");
        plugin_host_abandon(core->host, change);
        config_free(next);
        int rc = refuse_reload(core, report, &diag, NULL);
        diag_free(&diag);
        return rc;
    }
    diag_free(&diag);
    config_log_warnings(next);
    if (strcmp(next->storage.path, core->config->storage.path) != 0 ||
        next->storage.max_bytes != core->config->storage.max_bytes)
        wg_warn("reload: storage settings changed; they take effect at the next restart");
    if (strcmp(next->site.timezone, core->timezone) != 0)
        wg_warn("reload: site.timezone changed from %s to %s; local time (night windows, shifts, "
                "the times shown and sent) stays in %s until wardgated is restarted: the zone is "
                "set once, before any thread starts",
                core->timezone, next->site.timezone, core->timezone);
    struct wg_host_reload_summary buses;
    plugin_host_reload_summary(change, &buses);

    /* Restart the changed buses only; on a failure every bus runs as before. */
    char why[256];
    if (plugin_host_apply(core->host, change, why, sizeof why) != 0) {
        core_free_device_states(next_states, next->device_count);
        config_free(next);
        diag_init(&diag);
        int rc = refuse_reload(core, report, &diag, why);
        diag_free(&diag);
        return rc;
    }

    /* The reload happens: switch the core over. Nothing below waits. */
    core_close_buckets(core, true); /* they name devices of the running config */
    core_emit_all_polls(core);      /* so do the readings not yet sent */
    bool telemetry_changed =
        core_telemetry_of(next) != core_telemetry_of(core->config) ||
        next->uplink.telemetry_interval_s != core->config->uplink.telemetry_interval_s;
    if (telemetry_changed && core->jobs[JOB_TELEMETRY].period_ms > 0)
        core_job_telemetry(core); /* the interval so far, under the settings it had */
    if (telemetry_configure(core->telemetry, next) != 0)
        wg_crit("reload: out of memory configuring telemetry; it keeps the old site ids");
    core_flush(core);
    core_carry_device_states(core->config, core->devices, next, next_states);
    core_carry_outstanding(core, next);
    /* The engine carries its state over while the old config still exists. */
    if (engine_set_config(core->engine, next, clock_wall_ms(core->clock)) != 0)
        wg_crit("reload: out of memory rebuilding the alarm engine's state");
    /* Outputs of restarted buses are written again (unchanged values stay as they are). */
    for (size_t d = 0; d < next->device_count; d++)
        if (plugin_host_reload_restarts(change, d))
            engine_forget_outputs(core->engine, d);
    bool outbox_changed = next->uplink.enabled != core->config->uplink.enabled ||
                          next->uplink.outbox_max_bytes != core->config->uplink.outbox_max_bytes ||
                          next->uplink.outbox_max_age_h != core->config->uplink.outbox_max_age_h;
    telemetry_changed = telemetry_changed || next->uplink.enabled != core->config->uplink.enabled;
    struct wg_config *old_config = core->config;
    struct device_state *old_states = core->devices;
    core->config = next;
    core->devices = next_states;
    plugin_host_commit(core->host, change);             /* every bus now reads `next` */
    for (size_t i = 0; i < core->attachment_count; i++) /* the uplink's client, say */
        if (core->attachments[i].reloaded)
            core->attachments[i].reloaded(core->attachments[i].ctx, old_config, next);
    core_free_device_states(old_states, old_config->device_count);
    config_free(old_config);
    if (outbox_changed)
        core_apply_outbox_bound(core);
    if (telemetry_changed)
        core_init_telemetry_job(core);
    json_t *body =
        json_pack("{s:s, s:i, s:{s:i, s:i, s:i, s:i}}", "what", "reloaded", "devices",
                  (int)next->device_count, "buses", "kept", (int)buses.kept, "restarted",
                  (int)buses.restarted, "added", (int)buses.added, "removed", (int)buses.removed);
    if (body)
        core_emit(core, "system", -1, WG_NO_INDEX, body, WG_UPLINK_HEALTH,
                  clock_wall_ms(core->clock));
    core_flush(core);
    char summary[900];
    snprintf(summary, sizeof summary,
             "%zu devices on %zu buses; %zu buses kept running, restarted: %s, added: %s, "
             "removed: %s",
             next->device_count, next->bus_count, buses.kept,
             buses.restarted ? buses.restarted_ids : "none", buses.added ? buses.added_ids : "none",
             buses.removed ? buses.removed_ids : "none");
    wg_notice("reload: applied %s (%s)", core->config_path, summary);
    service_reload_done(true, summary);
    return 0;
}
