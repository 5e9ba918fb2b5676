/* The config's espa: section (docs/espa.md): ESPA 4.4.4 output to a DECT
 * or pager system over a serial line. The tty and its character format,
 * the two stations' addresses, the text encoding, the timings, and how an
 * alarm's priority is coded (records 6 and 3). A person's call number is
 * theirs in staff.people (pager:, config_staff.c). */
#include "config/config_load_internal.h"

#include <string.h>

static const int bauds[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};

/* A single digit '1'..'9' (or '0'..'9' when `zero_ok`) at `key`; absent: unchanged. */
static bool read_digit(struct loader *ld, const struct wg_cfg_node *map, const char *key,
                       bool zero_ok, char *out)
{
    const struct wg_cfg_node *node = cfg_get(map, key);
    if (!node)
        return true;
    const char *text = cfg_scalar(node);
    if (!text || strlen(text) != 1 || text[0] < (zero_ok ? '0' : '1') || text[0] > '9') {
        diag_at(ld->diag, node, "%s: expected one digit %s to 9, got %s%s%s", key,
                zero_ok ? "0" : "1", text ? "\"" : "", text ? text : "a structure",
                text ? "\"" : "");
        return false;
    }
    *out = text[0];
    return true;
}

static void read_serial(struct loader *ld, const struct wg_cfg_node *espa, struct wg_espa *out)
{
    const struct wg_cfg_node *baud = cfg_get(espa, "baud");
    if (baud) {
        int value = 0;
        bool known = false;
        if (read_int(ld, espa, "baud", 1, 1000000, &value)) {
            for (size_t i = 0; i < sizeof bauds / sizeof bauds[0]; i++)
                known = known || bauds[i] == value;
            if (!known)
                diag_at(ld->diag, baud,
                        "baud: expected 1200, 2400, 4800, 9600, 19200, 38400, 57600 or 115200, "
                        "got %d",
                        value);
            else
                out->baud = value;
        }
    }
    const struct wg_cfg_node *bits = cfg_get(espa, "data_bits");
    if (bits) {
        int value = 0;
        if (read_int(ld, espa, "data_bits", 5, 9, &value) && value != 7 && value != 8)
            diag_at(ld->diag, bits, "data_bits: expected 7 or 8, got %d", value);
        else if (value)
            out->data_bits = value;
    }
    const struct wg_cfg_node *stop = cfg_get(espa, "stop_bits");
    if (stop)
        read_int(ld, espa, "stop_bits", 1, 2, &out->stop_bits);
    const char *parity = NULL;
    if (read_text(ld, espa, "parity", false, &parity) && parity) {
        static const char *const names[] = {"even", "odd", "none"};
        int index = name_index(names, 3, parity);
        if (index < 0)
            diag_at(ld->diag, cfg_get(espa, "parity"),
                    "parity: expected even, odd or none, got \"%s\"", parity);
        else
            out->parity = "EON"[index];
    }
    if (out->data_bits == 7 && out->parity == 'N' && bits)
        diag_at(ld->diag, bits,
                "data_bits: 7 bits without parity is not an ESPA character format: use 7 with "
                "parity even (the standard's) or 8");
}

/* priority_map: {fire: {priority: 2, beep: 3}, ...}: paged priorities only. */
static void read_priority_map(struct loader *ld, const struct wg_cfg_node *espa,
                              struct wg_espa *out)
{
    const struct wg_cfg_node *map = cfg_get(espa, "priority_map");
    if (!map || !expect_map(ld, map, "priority_map"))
        return;
    for (size_t i = 0; i < map->count; i++) {
        int priority = priority_from_name(map->keys[i]);
        if (priority < WG_PRIO_NORMAL) {
            diag_pos(ld->diag, map->items[i]->file, map->key_lines[i], map->key_columns[i],
                     "priority_map: expected normal, urgent, emergency or fire (the paged "
                     "priorities), got \"%s\"",
                     map->keys[i]);
            continue;
        }
        const struct wg_cfg_node *item = map->items[i];
        if (!expect_map(ld, item, map->keys[i]))
            continue;
        static const char *const keys[] = {"priority", "beep", NULL};
        cfg_only_keys_in(ld->diag, item, keys, "priority_map entry");
        read_digit(ld, item, "priority", false, &out->coding[priority].priority);
        read_digit(ld, item, "beep", false, &out->coding[priority].beep);
    }
}

void load_espa(struct loader *ld, const struct wg_cfg_node *espa)
{
    struct wg_espa *out = &ld->config->espa;
    *out = (struct wg_espa){.baud = 9600,
                            .data_bits = 7,
                            .parity = 'E',
                            .stop_bits = 1,
                            .address = '2',
                            .own_address = '1',
                            .encoding = "ascii",
                            .response_ms = 3000,
                            .retries = 3,
                            .poll_s = 30};
    /* Normal '1', high '2' (record 6); the beep codes rise with the priority. */
    out->coding[WG_PRIO_NORMAL] = (struct wg_espa_coding){'1', '1'};
    out->coding[WG_PRIO_URGENT] = (struct wg_espa_coding){'2', '2'};
    out->coding[WG_PRIO_EMERGENCY] = (struct wg_espa_coding){'2', '3'};
    out->coding[WG_PRIO_FIRE] = (struct wg_espa_coding){'2', '3'};
    if (!espa || !expect_map(ld, espa, "espa"))
        return;
    static const char *const keys[] = {"device",        "baud",         "data_bits",   "parity",
                                       "stop_bits",     "address",      "own_address", "encoding",
                                       "response_ms",   "retries",      "poll_s",      "call_type",
                                       "transmissions", "priority_map", NULL};
    cfg_only_keys_in(ld->diag, espa, keys, "espa");
    bool ok = cfg_require_in(ld->diag, espa, "device", "espa") &&
              read_path(ld, espa, "device", &out->device) && out->device && out->device[0];
    if (!ok && cfg_get(espa, "device") && out->device && !out->device[0])
        diag_at(ld->diag, cfg_get(espa, "device"),
                "device: expected the serial tty's path, e.g. /dev/ttyUSB0");
    read_serial(ld, espa, out);
    read_digit(ld, espa, "address", true, &out->address);
    read_digit(ld, espa, "own_address", true, &out->own_address);
    if (out->address == out->own_address)
        diag_at(ld->diag, cfg_get(espa, "own_address") ? cfg_get(espa, "own_address") : espa,
                "own_address: the paging system's address is '%c' too: the two stations need "
                "different addresses",
                out->address);
    const char *encoding = NULL;
    if (read_text(ld, espa, "encoding", false, &encoding) && encoding) {
        if (strcmp(encoding, "ascii") != 0 && strcmp(encoding, "gbk") != 0)
            diag_at(ld->diag, cfg_get(espa, "encoding"),
                    "encoding: expected ascii or gbk, got \"%s\"", encoding);
        else if (strcmp(encoding, "gbk") == 0 && out->data_bits != 8)
            diag_at(ld->diag, cfg_get(espa, "encoding"),
                    "encoding: gbk needs data_bits: 8 (its bytes use the eighth bit), the line "
                    "has %d",
                    out->data_bits);
        else
            out->encoding = encoding;
    }
    read_int(ld, espa, "response_ms", 100, 20000, &out->response_ms);
    read_int(ld, espa, "retries", 1, 9, &out->retries);
    read_int(ld, espa, "poll_s", 0, 3600, &out->poll_s);
    read_digit(ld, espa, "call_type", false, &out->call_type);
    read_digit(ld, espa, "transmissions", false, &out->transmissions);
    read_priority_map(ld, espa, out);
    out->enabled = true;
    /* Valid but probably not meant: nobody has a call number. */
    bool anyone = false;
    for (size_t i = 0; i < ld->config->staff.people_count; i++)
        anyone = anyone || ld->config->staff.people[i].pager;
    if (!anyone)
        diag_at(&ld->config->warnings, espa,
                "warning: espa: nobody in staff.people has a pager: (a call number); nothing "
                "will be sent");
}
