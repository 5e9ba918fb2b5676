/* Names for ids, copied from the config into hash tables (jansson objects)
 * a worker thread may own; see labels.h. */
#include "web/labels.h"

#include <jansson.h>
#include <stdlib.h>

enum { ROOMS, ZONES, RESIDENTS, DEVICES, TABLES };

struct wg_labels {
    json_t *names[TABLES]; /* id -> name, empty names left out */
};

static void add(struct wg_labels *labels, int table, const char *id, const char *name)
{
    if (id && name && name[0])
        json_object_set_new(labels->names[table], id, json_string(name));
}

struct wg_labels *labels_of(const struct wg_config *config)
{
    struct wg_labels *labels = calloc(1, sizeof *labels);
    for (int t = 0; labels && t < TABLES; t++)
        if (!(labels->names[t] = json_object())) {
            labels_free(labels);
            return NULL;
        }
    if (!labels)
        return NULL;
    for (size_t i = 0; i < config->room_count; i++)
        add(labels, ROOMS, config->rooms[i].id, config->rooms[i].name);
    for (size_t i = 0; i < config->zone_count; i++)
        add(labels, ZONES, config->zones[i].id, config->zones[i].name);
    for (size_t i = 0; i < config->resident_count; i++)
        add(labels, RESIDENTS, config->residents[i].id, config->residents[i].label);
    for (size_t i = 0; i < config->device_count; i++)
        add(labels, DEVICES, config->devices[i].id, config->devices[i].label);
    return labels;
}

void labels_free(struct wg_labels *labels)
{
    if (!labels)
        return;
    for (int t = 0; t < TABLES; t++)
        json_decref(labels->names[t]);
    free(labels);
}

static const char *lookup(const struct wg_labels *labels, int table, const char *id)
{
    return labels && id ? json_string_value(json_object_get(labels->names[table], id)) : NULL;
}

const char *labels_room(const struct wg_labels *labels, const char *room_id)
{
    return lookup(labels, ROOMS, room_id);
}

const char *labels_zone(const struct wg_labels *labels, const char *zone_id)
{
    return lookup(labels, ZONES, zone_id);
}

const char *labels_resident(const struct wg_labels *labels, const char *resident_id)
{
    return lookup(labels, RESIDENTS, resident_id);
}

const char *labels_device(const struct wg_labels *labels, const char *device_id)
{
    return lookup(labels, DEVICES, device_id);
}
