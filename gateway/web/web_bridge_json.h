/* The core's state as JSON, for the web API and the uplink's snapshot,
 * status and devices replies: built from the C views the core exposes
 * (core.h), so the core itself knows nothing of JSON. Core thread only. */
#ifndef WG_CORE_JSON_H
#define WG_CORE_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "core/core.h"

/* The active alarms as alarm_to_json records, display order, each with
 * "journaled" (false while its latest change is not journaled: docs/api.md);
 * NULL on no memory. */
json_t *core_active_alarms_json(struct wg_core *core);

/* Devices as JSON: id, label, profile, bus, location, health, reason,
 * reason_code, enabled; `detailed` adds address, poll_ms, spot, room, bed,
 * driver, the last values and the error counters. core_device_json: one
 * (detailed), or NULL when unknown. */
json_t *core_devices_json(struct wg_core *core, bool detailed);
json_t *core_device_json(struct wg_core *core, const char *device_id);
/* core_devices_json(core, false): the uplink's devices reply. */
json_t *core_device_summaries_json(struct wg_core *core);

/* {"devices": {"total", "online", "suspect", "offline", "unknown"}, "alarms_active"} */
json_t *core_status_json(struct wg_core *core);

#endif
