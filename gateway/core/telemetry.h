/* The lean telemetry path: readings to the district in their final MQTT
 * form, serialised once, through the outbox only.
 *
 * per_read (uplink.telemetry_mode): every completed poll of a device is one
 * record {"device","ts_ms","values":{point: number}}; the records of the
 * polls that complete within WG_TELEMETRY_BATCH_MS go in one `readings`
 * message (schema wardgate/readings/1). interval: each device's aggregates
 * of the interval (count, min, max, avg, last per point; a point read once
 * is its bare value) are records of `telemetry` messages
 * (wardgate/telemetry/3), all devices in as few
 * messages as fit. Either way a message is written once, compactly
 * (json_writer.h), kept under the broker's limit, and handed to the store
 * writer as an outbox-only row (journal_outbox): no journal event, no log
 * line, no parse. The uplink publishes the stored text as it is
 * (docs/mqtt.md). Each message carries a fresh UUID `id`, the idempotency
 * key for QoS 1 duplicates.
 *
 * Core thread only. */
#ifndef WG_TELEMETRY_H
#define WG_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/journal.h"

/* How long per_read records wait for company before their message goes. */
#define WG_TELEMETRY_BATCH_MS 10

struct wg_telemetry;

/* NULL when out of memory. */
struct wg_telemetry *telemetry_new(struct wg_journal *journal);
void telemetry_free(struct wg_telemetry *telemetry);
/* Takes the site, the mode and the message limit from `config` (copied). */
int telemetry_configure(struct wg_telemetry *telemetry, const struct wg_config *config);

/* per_read: one completed poll: the numeric points marked in `fresh`. */
void telemetry_add_poll(struct wg_telemetry *telemetry, const char *device, int64_t ts_ms,
                        const struct wg_profile *profile, const double *values, const bool *fresh,
                        int64_t now_mono_ms);
/* interval: a device's aggregates over [from_ms, to_ms] (points with a count). */
void telemetry_add_interval(struct wg_telemetry *telemetry, const char *device,
                            const struct wg_profile *profile,
                            const struct wg_reading_aggregate *aggregates, int64_t from_ms,
                            int64_t to_ms);
/* Closes the open message, if any, and queues it in the journal's batch
 * (the caller flushes the journal). */
void telemetry_flush(struct wg_telemetry *telemetry);
/* Milliseconds until the open per_read message is due (0: now), -1: none. */
int64_t telemetry_due_ms(const struct wg_telemetry *telemetry, int64_t now_mono_ms);

struct wg_telemetry_stats {
    uint64_t records, messages, bytes;
};
void telemetry_stats(const struct wg_telemetry *telemetry, struct wg_telemetry_stats *stats);

#endif
