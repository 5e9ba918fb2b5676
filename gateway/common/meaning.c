/* The vocabulary of point meanings: one table saying what each word means,
 * its point kind and direction, and the unit it must carry. See meaning.h. */
#include "common/meaning.h"

#include <stdlib.h>
#include <string.h>

#define IN  WG_POINT_INPUT
#define OUT WG_POINT_OUTPUT
#define B   WG_POINT_BOOL
#define A   WG_POINT_ANALOG
#define C   WG_POINT_COUNTER

static const struct wg_meaning_info meanings[] = {
    /* Nurse call */
    {"call_button", B, IN, false, "", "bedside or chair call button; 1 = call"},
    {"pull_cord", B, IN, false, "", "bathroom pull cord; latching, 1 = pulled"},
    {"cord_unplugged", B, IN, false, "",
     "call pendant or cord pulled out of its socket; 1 = unplugged (must annunciate)"},
    {"presence", B, IN, false, "", "staff presence at the room door; 1 = staff present"},
    {"reset_button", B, IN, false, "",
     "reset (cancel) button at the origin of a call; 1 = pressed"},
    /* Bed sensor / radar */
    {"in_bed", B, IN, false, "", "someone is lying in the bed; 0 = bed empty"},
    {"movement", A, IN, false, "", "body movement intensity, 0..100"},
    {"heart_rate", A, IN, false, "bpm", "heart rate from the bed sensor"},
    {"breathing_rate", A, IN, false, "/min", "breathing rate from the bed sensor"},
    {"fall_detected", B, IN, false, "", "fall suspected by a radar or wearable; 1 = fall"},
    /* Room and doors */
    {"door_open", B, IN, false, "", "door contact (normally closed); 1 = open"},
    {"pir_motion", B, IN, false, "", "passive infrared motion detector; 1 = motion"},
    /* Fire */
    {"smoke", B, IN, false, "", "smoke detector dry contact; 1 = smoke"},
    {"fire_zone", B, IN, true, "", "fire-panel zone N in fire (GB/T 26875.3 component bit 1)"},
    {"fire_fault", B, IN, true, "", "fire-panel zone N in fault (component bit 2)"},
    {"fire_disabled", B, IN, true, "", "fire-panel zone N disabled / isolated (component bit 3)"},
    {"fire_supervisory", B, IN, true, "", "fire-panel zone N supervisory (component bit 4)"},
    {"fire_power_fault", B, IN, false, "", "fire panel main or backup power fault"},
    {"fire_loop", A, IN, false, "",
     "loop of the detector in fire the panel reports (GB/T 26875.3 component address); 0 = none"},
    {"fire_address", A, IN, false, "",
     "address on its loop of the detector in fire the panel reports; 0 = none"},
    /* Gas */
    {"gas_lel", A, IN, false, "%LEL", "combustible gas concentration"},
    {"gas_fault", B, IN, false, "", "gas detector in fault"},
    {"gas_low_alarm", B, IN, false, "", "gas detector's own low alarm"},
    {"gas_high_alarm", B, IN, false, "", "gas detector's own high alarm"},
    {"gas_heartbeat", B, IN, false, "", "gas detector heartbeat bit (toggles while alive)"},
    {"gas_warmup", B, IN, false, "", "gas detector warming up (readings not valid yet)"},
    {"valve_closed", B, IN, false, "", "gas shut-off valve end switch: closed"},
    {"valve_open", B, IN, false, "", "gas shut-off valve end switch: open"},
    {"valve_fault", B, IN, false, "", "gas shut-off valve fault"},
    {"valve_command", B, OUT, false, "",
     "gas shut-off valve drive; 1 = close (re-opening is manual, on site)"},
    {"fan_running", B, IN, false, "", "exhaust fan running feedback"},
    {"fan_command", B, OUT, false, "", "exhaust fan drive; 1 = run"},
    /* Outputs */
    {"door_lamp", A, OUT, false, "",
     "door lamp over the room door; a wg_lamp_code: 0 off, 1 call (red steady), 2 emergency "
     "(red 1 s/1 s), 3 alarm (red 0.3 s/0.3 s), 4 presence (green)"},
    {"corridor_lamp", A, OUT, false, "", "corridor lamp of a zone; a wg_lamp_code as door_lamp"},
    {"buzzer", A, OUT, false, "",
     "buzzer or sounder; a wg_buzzer_code: 0 off, 1 low, 2 medium, 3 high (IEC 60601-1-8 bursts)"},
    {"fire_door_release", B, OUT, false, "",
     "fire-door hold-open magnet; 1 = release (fail-safe: power off releases)"},
    /* Energy */
    {"energy_kwh", C, IN, false, "kWh", "imported active energy (from the grid), total"},
    {"energy_export_kwh", C, IN, false, "kWh", "exported active energy (to the grid), total"},
    {"energy_total_kwh", C, IN, false, "kWh",
     "active energy import plus export, total (what a meter's \"total kWh\" register counts)"},
    {"power_w", A, IN, false, "W", "active power, total"},
    {"voltage", A, IN, false, "V", "voltage (phase to neutral)"},
    {"current", A, IN, false, "A", "current"},
    {"frequency", A, IN, false, "Hz", "mains frequency"},
    {"power_factor", A, IN, false, "", "power factor, -1..1"},
    /* Water */
    {"water_m3", C, IN, false, "m3", "water volume, forward total"},
    {"water_flow", A, IN, false, "m3/h", "water flow rate"},
    {"pipe_empty", B, IN, false, "", "water meter reports an empty pipe"},
    {"water_valve_open", B, IN, false, "", "water meter valve open"},
    {"water_valve_closed", B, IN, false, "", "water meter valve closed"},
    {"water_valve_command", B, OUT, false, "", "water meter valve drive; 1 = close"},
    /* Device health */
    {"battery_low", B, IN, false, "", "device battery low"},
    {"tamper", B, IN, false, "", "device housing opened / tamper contact"},
    {"line_fault", B, IN, false, "",
     "supervised line fault: a cut wire or a normally-closed contact open"},
    {"device_fault", B, IN, false, "", "the device reports an internal fault"},
};

#undef IN
#undef OUT
#undef B
#undef A
#undef C

/* "fire_zone_12" -> base length 9, index 12. Returns false unless the text is
 * <base>_<1..999> without leading zeros. */
static bool split_index(const char *text, size_t base_len, int *index)
{
    const char *digits = text + base_len + 1;
    if (text[base_len] != '_' || !*digits || *digits == '0')
        return false;
    int value = 0;
    for (const char *p = digits; *p; p++) {
        if (*p < '0' || *p > '9' || p - digits >= 3)
            return false;
        value = value * 10 + (*p - '0');
    }
    *index = value;
    return true;
}

const struct wg_meaning_info *meaning_lookup(const char *meaning, int *index)
{
    int found_index = 0;
    const struct wg_meaning_info *found = NULL;
    if (meaning) {
        for (size_t i = 0; i < sizeof meanings / sizeof meanings[0] && !found; i++) {
            size_t len = strlen(meanings[i].name);
            if (strcmp(meaning, meanings[i].name) == 0)
                found = &meanings[i]; /* an indexed word without its number: index 0 */
            else if (meanings[i].indexed && strncmp(meaning, meanings[i].name, len) == 0 &&
                     split_index(meaning, len, &found_index))
                found = &meanings[i];
        }
    }
    if (index)
        *index = found ? found_index : 0;
    return found;
}

const struct wg_meaning_info *meaning_table(unsigned *count)
{
    if (count)
        *count = (unsigned)(sizeof meanings / sizeof meanings[0]);
    return meanings;
}

bool meaning_is_heartbeat(const char *meaning)
{
    static const char suffix[] = "_heartbeat";
    size_t len = meaning ? strlen(meaning) : 0;
    return len >= sizeof suffix - 1 && strcmp(meaning + len - (sizeof suffix - 1), suffix) == 0;
}
