/* The site configuration model and its loader.
 *
 * One commented YAML file (config/facility.yaml is the example) describes the
 * site, zones/rooms/beds, residents, buses and devices, rules, escalation,
 * uplink, web and storage settings, and includes device-profile files
 * (config/profiles/\*.yaml). config_load() parses and checks all of it; every
 * problem is reported as "file:line:col: what was expected", unknown keys are
 * errors, and nothing half-valid is ever returned. Relative paths in the file
 * are resolved against the directory of the file that names them.
 *
 * A loaded wg_config is immutable and owns everything it points to,
 * including the YAML trees (so cfg nodes handed to drivers stay valid). */
#ifndef WG_CONFIG_H
#define WG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfgtree.h"
#include "drivers/plugin.h"

/* Call and alarm priority, low to high; the numeric order is the display order. */
enum wg_priority {
    WG_PRIO_ADVISORY = 0,
    WG_PRIO_TECHNICAL = 1,
    WG_PRIO_NORMAL = 2,
    WG_PRIO_URGENT = 3,
    WG_PRIO_EMERGENCY = 4,
    WG_PRIO_FIRE = 5,
};
const char *priority_name(enum wg_priority priority); /* "fire", "emergency", ... */
int priority_from_name(const char *name);             /* -1 if unknown */

/* GB 38600-2019 risk categories (bit flags for residents, one value for alarms). */
enum wg_risk {
    WG_RISK_NONE = 0,
    WG_RISK_CHOKING = 1u << 0,
    WG_RISK_WRONG_INGESTION = 1u << 1,
    WG_RISK_PRESSURE_SORE = 1u << 2,
    WG_RISK_SCALD = 1u << 3,
    WG_RISK_FALL_FROM_BED = 1u << 4,
    WG_RISK_FALL = 1u << 5,
    WG_RISK_WANDERING = 1u << 6,
    WG_RISK_HARM = 1u << 7,
    WG_RISK_ACTIVITY_ACCIDENT = 1u << 8,
};
const char *risk_name(enum wg_risk risk); /* "fall", "wandering", ... for a single bit */
int risk_from_name(const char *name);     /* the bit, or -1 */

/* A daily time window in minutes from local midnight; wraps when end <= start. */
struct wg_window {
    int start_min;
    int end_min;
};
bool window_contains(const struct wg_window *window, int minute_of_day);

struct wg_site {
    const char *id;       /* facility id used in MQTT topics: [a-z0-9-]+ */
    const char *name;     /* human name, any script */
    const char *district; /* district id: [a-z0-9-]+ */
    const char *timezone; /* IANA name, e.g. "Asia/Shanghai": local time is the site's (clock.h) */
    struct wg_window night; /* default night window, e.g. 21:00-07:00 */
};

struct wg_point_def {
    const char *name;
    const char *meaning;
    enum wg_point_kind kind;
    enum wg_point_direction direction;
    const char *unit;                 /* "" when none */
    const struct wg_cfg_node *source; /* driver-specific, may be NULL */
    const struct wg_cfg_node *node;   /* where it was defined */
};

struct wg_profile {
    const char *id;
    const char *vendor;
    const char *model;
    const char *description;
    bool synthetic; /* our own register map, not a vendor's */
    struct wg_point_def *points;
    size_t point_count;
    const char *file;
};

struct wg_zone {
    const char *id;
    const char *name;
    int floor;
};

struct wg_room {
    const char *id; /* unique in the site, e.g. "203" */
    const char *name;
    size_t zone; /* index into zones */
    const char
        *kind; /* "resident", "bathroom", "kitchen", "corridor", "common", "office", "stairwell" */
};

struct wg_bed {
    const char *id;    /* "<room>-<label>", e.g. "203-A" */
    const char *label; /* "A" */
    size_t room;       /* index into rooms */
};

struct wg_resident {
    const char *id;    /* pseudonymous id, e.g. "R-7F3A"; never a real name */
    const char *label; /* what the display shows, e.g. "王奶奶" or "Bed A"; may be "" */
    size_t bed;        /* index into beds */
    int care_level;    /* 1 (self-care) .. 5 (full care) */
    unsigned risks;    /* wg_risk bits */
    bool has_night;    /* own night window instead of the site's */
    struct wg_window night;
};

struct wg_bus {
    const char *id;
    const char *driver;                 /* plugin name, e.g. "modbus-rtu", "gpio", "sim" */
    const struct wg_cfg_node *settings; /* passed to the driver, may be NULL */
    const struct wg_cfg_node *node;
};

#define WG_NO_INDEX SIZE_MAX

/* Where a fire-panel zone, or a detector at a loop and address, is (a
 * device's `places:`): a room (and with it its zone), a whole site zone, or
 * only a name. Its alarm is raised there, so the room's door lamp and the
 * zone's corridor lamps and buzzers act, and shows the name. */
struct wg_place {
    int fire_zone;    /* panel zone N, or 0 when the entry is by loop and address */
    int loop;         /* with `address`: the component's loop, 0 when by zone */
    int address;      /* the component's address on its loop */
    size_t room;      /* index into rooms, or WG_NO_INDEX */
    size_t zone;      /* index into zones (the room's when a room is given), or WG_NO_INDEX */
    const char *name; /* what people read: the spot, else the room's or zone's name */
    const struct wg_cfg_node *node;
};

struct wg_device {
    const char *id;
    const char *label; /* "" when none */
    size_t bus;        /* index into buses */
    int address;
    size_t profile;          /* index into profiles */
    size_t room;             /* index into rooms, or WG_NO_INDEX for site-wide devices */
    size_t bed;              /* index into beds, or WG_NO_INDEX */
    const char *spot;        /* free text within the room, e.g. "bathroom"; "" when none */
    struct wg_place *places; /* fire panels: zones and loop/addresses mapped to places */
    size_t place_count;
    int poll_ms;
    bool enabled;
    const struct wg_cfg_node *settings; /* driver-specific, may be NULL */
    const struct wg_cfg_node *node;
};

enum wg_rule_kind {
    WG_RULE_CALL,        /* call button: normal call, emergency if staff present */
    WG_RULE_PULL_CORD,   /* bathroom pull cord: latching emergency */
    WG_RULE_PRESENCE,    /* presence / reset button: attends and resets at the origin */
    WG_RULE_BED_EXIT,    /* fall-risk residents, night window, follow-up escalation */
    WG_RULE_VITAL_RANGE, /* heart or breathing rate outside [low, high] for for_s */
    WG_RULE_GAS,         /* gas low / high thresholds (%LEL) */
    WG_RULE_FIRE_ZONE,   /* fire-panel zone bit */
    WG_RULE_SMOKE,       /* smoke detector dry contact */
    WG_RULE_DOOR_NIGHT,  /* door open at night for a wandering-risk resident */
    WG_RULE_WELLBEING,   /* no water/power use in a room for idle_hours within window */
    WG_RULE_COMBINE,     /* all conditions true within within_s */
};
const char *rule_kind_name(enum wg_rule_kind kind);

enum wg_compare { WG_CMP_EQ, WG_CMP_NE, WG_CMP_LT, WG_CMP_LE, WG_CMP_GT, WG_CMP_GE };

struct wg_condition {
    const char *meaning;
    enum wg_compare op;
    double value;
};

struct wg_rule {
    const char *id;
    enum wg_rule_kind kind;
    const char *meaning; /* the triggering point meaning (prefix match for fire_zone) */
    int priority;        /* wg_priority override, or -1 for the kind's default */
    int risk;            /* wg_risk bit, or 0 for the kind's default */
    double low, high;    /* vital_range bounds; gas low/high %LEL */
    int for_s;           /* how long a condition must hold before raising */
    int followup_s;      /* bed_exit: "not back in bed" after this many s; 0 = none */
    int idle_hours;      /* wellbeing */
    bool has_window;
    struct wg_window window; /* bed_exit/door_night: override of the night window; wellbeing: day */
    struct wg_condition *conditions; /* combine */
    size_t condition_count;
    int within_s;           /* combine */
    const char *alarm_kind; /* combine: the kind name it raises, e.g. "wandering" */
    bool reset_on_normal;   /* the device returning to normal resets the alarm (smoke, gas) */
    const char *reset_at;   /* rules whose alarms latch: a room or device id where they may also be
                               attended and reset (its reset device); NULL = their own room */
    const struct wg_cfg_node *node;
};

/* A patrol schedule (巡查, GB 38600): every resident room of `zone` is to
 * be checked in at (its presence or reset button, or its QR code) once in
 * every slot of every_min minutes from the window's start to its end. */
struct wg_round {
    const char *id;
    size_t zone; /* index into zones */
    struct wg_window window;
    int every_min; /* 15..720 */
    int grace_min; /* a slot not done this long after it starts: advisory alarm; 1..every_min */
};

/* Staff and paging to carers' phones (config staff:, issue 16). The care
 * role decides a person's step in a call's chain: carers and nurses first
 * (the room's, then the zone's), then floor leads, then managers. */
enum wg_care_role {
    WG_CARE_CARER = 0,
    WG_CARE_NURSE = 1,
    WG_CARE_FLOOR_LEAD = 2,
    WG_CARE_MANAGER = 3,
};
const char *care_role_name(int care_role); /* "carer", ...; "?" */
int care_role_from_name(const char *name); /* -1 if unknown */

struct wg_staff_member {
    const char *user;  /* the login name of their account */
    const char *name;  /* as the wall and the phones show them, e.g. "李护工" */
    int care_role;     /* enum wg_care_role */
    const char *pager; /* their ESPA 4.4.4 call number (1..16 digits), NULL when none */
};

struct wg_shift_def {
    const char *id;   /* "day", "night" ... */
    const char *name; /* "白班" */
    struct wg_window window;
};

/* One person's cover in one shift: zones and rooms (indexes). */
struct wg_cover {
    size_t shift;  /* index into shifts */
    size_t member; /* index into people */
    size_t *zones;
    size_t zone_count;
    size_t *rooms;
    size_t room_count;
};

struct wg_staffing {
    bool enabled;        /* a staff: section with people */
    int accept_s;        /* no one accepts within this: the next step (default 40) */
    int delivery_s;      /* a phone that has not confirmed receipt within this: not reached (5) */
    int phone_offline_s; /* on duty, no phone connected this long: technical alarm (60) */
    struct wg_shift_def *shifts;
    size_t shift_count;
    struct wg_staff_member *people;
    size_t people_count;
    struct wg_cover *covers;
    size_t cover_count;
};

struct wg_escalation_level {
    const char *name; /* "carer", "floor_lead", "manager", "district" */
    int after_s;      /* since the raise */
};

struct wg_escalation {
    int reannunciate_s;   /* acknowledged, not attended: re-annunciate after this (default 180) */
    int fault_escalate_s; /* a technical alarm still open after this goes to the manager's
                             level (default 7200: JGJ/T 484's 2 h) */
    struct wg_escalation_level *levels;
    size_t level_count;
};

struct wg_uplink {
    bool enabled;
    const char **brokers; /* URIs: tcp://host:1883, ssl://host:8883 */
    size_t broker_count;
    const char *client_id;
    const char *username;      /* "" when none */
    const char *password_file; /* "" when none; the secret never sits in the main file */
    const char *password;      /* read from password_file at load; "" when none */
    const char *topic_prefix;  /* e.g. "wardgate/v1"; district and site ids are appended */
    int mqtt_version;          /* 4 = MQTT 3.1.1 (default), 5 = MQTT 5 */
    int keepalive_s;
    int connect_timeout_s;
    int reconnect_min_s, reconnect_max_s;       /* back-off: doubles from min up to max */
    const char *ca_file, *cert_file, *key_file; /* "" when not used */
    int max_inflight;                           /* PUBLISHes awaiting their PUBACK, at most */
    long long max_message_bytes; /* the broker's limit; larger replies are split, events refused */
    long long outbox_max_bytes;
    int outbox_max_age_h;
    int heartbeat_s;
    int telemetry_interval_s;
    bool telemetry_per_read; /* telemetry_mode: per_read (each poll as it completes) or interval */
    int response_interval_s; /* response-time figures published this often */
    unsigned commands;       /* allow-list: WG_COMMAND_BIT()s (uplink_command.h) */
};

/* ESPA 4.4.4 output to a DECT or pager system over a serial line (config
 * espa:, docs/espa.md): a person with a pager is called there when paged. */
struct wg_espa_coding {
    char priority; /* record 6, '1'..'9' */
    char beep;     /* record 3, '1'..'9' */
};

struct wg_espa {
    bool enabled;         /* an espa: section */
    const char *device;   /* the serial tty, e.g. /dev/ttyUSB0 */
    int baud;             /* 1200 .. 115200 (default 9600) */
    int data_bits;        /* 7 (default) or 8 */
    char parity;          /* 'E' (default), 'O' or 'N' */
    int stop_bits;        /* 1 (default) or 2 */
    char address;         /* the paging system's address, '0'..'9' (default '2') */
    char own_address;     /* ours, the control station's (default '1') */
    const char *encoding; /* "ascii" (default) or "gbk" */
    int response_ms;      /* wait this long for ACK/NAK/EOT (default 3000) */
    int retries;          /* attempts of a selection or a block (default 3) */
    int poll_s;           /* poll the paging system this often when idle; 0 = never (30) */
    char call_type;       /* record 4, '1'..'9', or 0 = not sent (default) */
    char transmissions;   /* record 5, '1'..'9', or 0 = not sent (default) */
    struct wg_espa_coding coding[WG_PRIO_FIRE + 1]; /* by enum wg_priority */
};

struct wg_web {
    bool enabled;
    const char *listen; /* address, e.g. "0.0.0.0" or "127.0.0.1" */
    int port;
    const char *root;               /* static files; "" = the compiled-in default */
    const char *tls_cert, *tls_key; /* "" = plain HTTP */
    int tls_port;                   /* 0: `port` speaks HTTPS when tls_cert is given, else HTTP;
                                       set: HTTP on `port` and HTTPS on tls_port */
    const char *tls_ca;      /* the facility CA's certificate (PEM) served at /ca.crt; "" none */
    const char *public_host; /* the host name phones reach the gateway by; "" = the request's */
    const char *language;    /* "zh" (default) or "en" */
};

struct wg_storage {
    const char *path;      /* "" = the compiled-in default */
    long long max_bytes;   /* the database never grows beyond this */
    int readings_bucket_s; /* downsampling interval */
    int readings_retention_days;
    int events_retention_days; /* journal rows older than this may be pruned when space is short */
};

struct wg_config {
    const char *path;       /* the main file as given */
    const char *plugin_dir; /* "" = the compiled-in default */
    const char *log_level;  /* "info" unless set */
    struct wg_site site;
    struct wg_profile *profiles;
    size_t profile_count;
    struct wg_zone *zones;
    size_t zone_count;
    struct wg_room *rooms;
    size_t room_count;
    struct wg_bed *beds;
    size_t bed_count;
    struct wg_resident *residents;
    size_t resident_count;
    struct wg_bus *buses;
    size_t bus_count;
    struct wg_device *devices;
    size_t device_count;
    struct wg_rule *rules;
    size_t rule_count;
    struct wg_escalation escalation;
    struct wg_round *rounds;
    size_t round_count;
    struct wg_staffing staff;
    struct wg_uplink uplink;
    struct wg_espa espa;
    struct wg_web web;
    struct wg_storage storage;
    /* What is valid but probably not meant ("file:line:col: warning: ..."), e.g. fire
     * zones without a place; logged at start and reload, printed by --check. */
    struct wg_diag warnings;
    void *owned; /* trees and string arena; private to config_load.c */
};

/* Parses and checks `path` and the profile files it includes. Returns NULL
 * with at least one message in `diag` when anything is wrong. */
struct wg_config *config_load(const char *path, struct wg_diag *diag);
void config_free(struct wg_config *config);

/* Lookups by id; WG_NO_INDEX when absent. */
size_t config_find_device(const struct wg_config *config, const char *id);
size_t config_find_room(const struct wg_config *config, const char *id);
size_t config_find_bed(const struct wg_config *config, const char *id);
size_t config_find_bus(const struct wg_config *config, const char *id);
size_t config_find_profile(const struct wg_config *config, const char *id);
size_t config_find_zone(const struct wg_config *config, const char *id);
/* Whether room is a resident room of zone: the rooms a round of the zone checks. */
bool config_resident_room_in(const struct wg_config *config, size_t room, size_t zone);
/* The place a fire-panel device maps this zone (fire_zone > 0) or this loop
 * and address (loop > 0) to, or NULL. By loop and address first, then zone. */
const struct wg_place *config_fire_place(const struct wg_device *device, int fire_zone, int loop,
                                         int address);
/* Writes the warnings to the log. */
void config_log_warnings(const struct wg_config *config);
/* The resident in a bed, or WG_NO_INDEX. */
size_t config_resident_of_bed(const struct wg_config *config, size_t bed);

/* Whether an alarm of this rule stays until it is reset at its origin (a
 * presence/reset device in its room, or the rule's reset_at), rather than
 * ending by itself when its device returns to normal. */
bool rule_latches(const struct wg_rule *rule);

/* "zone/room/bed" (parts that exist), for messages. Writes into buf. */
const char *config_device_location(const struct wg_config *config, const struct wg_device *device,
                                   char *buf, size_t len);

#endif
