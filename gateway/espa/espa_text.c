/* The display text an ESPA call carries (espa.h): where ("101A", or the
 * fire panel's place) and what, in words a small pager display can show,
 * in English capitals for ascii lines and in Chinese for gbk handsets
 * (the wall's words, web/common.js), encoded with iconv. */
#include "espa/espa.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>

/* The kinds that are paged (calls and safety alarms), in words. */
static const struct {
    const char *kind, *ascii, *chinese;
} words[] = {
    {"call", "CALL", "呼叫"},
    {"staff_call", "STAFF HELP", "护理员求助"},
    {"pull_cord", "PULL CORD", "卫生间拉绳报警"},
    {"bed_exit", "OUT OF BED", "离床"},
    {"vital_signs", "VITAL SIGNS", "生命体征异常"},
    {"gas_low", "GAS LOW", "燃气泄漏（低）"},
    {"gas_high", "GAS HIGH", "燃气泄漏（高）"},
    {"fire", "FIRE", "火警"},
    {"smoke", "SMOKE", "烟雾报警"},
    {"door_open_night", "DOOR OPEN", "夜间房门打开"},
    {"no_activity", "NO ACTIVITY", "长时间无活动"},
    {"wandering", "WANDERING", "走失风险"},
};

int espa_encode(const char *encoding, const char *utf8, char *out, size_t cap)
{
    if (!cap)
        return -1;
    out[0] = '\0';
    char target[32];
    snprintf(target, sizeof target, "%s//TRANSLIT", strcmp(encoding, "gbk") == 0 ? "GBK" : "ASCII");
    iconv_t cd = iconv_open(target, "UTF-8");
    if (cd == (iconv_t)-1)
        return -1;
    char clean[4 * ESPA_TEXT_MAX];
    snprintf(clean, sizeof clean, "%s", utf8 ? utf8 : "");
    for (char *c = clean; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7F)
            *c = ' ';
    size_t room = (cap - 1 < ESPA_TEXT_MAX ? cap - 1 : ESPA_TEXT_MAX);
    char *in = clean, *to = out;
    size_t in_left = strlen(clean), out_left = room;
    while (in_left > 0) {
        if (iconv(cd, &in, &in_left, &to, &out_left) != (size_t)-1)
            break;
        if (errno == E2BIG)
            break; /* cut at a character: iconv writes whole characters only */
        /* EILSEQ/EINVAL: not UTF-8 there; one '?' for the byte. */
        if (!out_left)
            break;
        *to++ = '?';
        out_left--;
        in++;
        in_left--;
    }
    iconv_close(cd);
    *to = '\0';
    /* A character that transliterated into a control one cannot break the block. */
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
    return 0;
}

/* Whether `text` is ASCII only. */
static bool ascii_only(const char *text)
{
    for (const char *c = text; *c; c++)
        if ((unsigned char)*c >= 0x80)
            return false;
    return true;
}

int espa_display_text(const char *encoding, const char *room, const char *bed, const char *place,
                      const char *kind, char *out, size_t cap)
{
    bool chinese = strcmp(encoding, "gbk") == 0;
    const char *what = NULL;
    char fallback[64];
    for (size_t i = 0; i < sizeof words / sizeof words[0] && !what; i++)
        if (kind && strcmp(kind, words[i].kind) == 0)
            what = chinese ? words[i].chinese : words[i].ascii;
    if (!what) { /* a kind without words: its name, in capitals */
        snprintf(fallback, sizeof fallback, "%s", kind ? kind : "ALARM");
        for (char *c = fallback; *c; c++)
            *c = *c == '_' ? ' ' : (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
        what = fallback;
    }
    /* The bed id is "<room>-<label>": the room and the label, "101A". */
    char where[160] = "";
    const char *label = bed && *bed ? strrchr(bed, '-') : NULL;
    if (room && *room)
        snprintf(where, sizeof where, "%s%s", room, label ? label + 1 : "");
    else if (place && *place && (chinese || ascii_only(place)))
        snprintf(where, sizeof where, "%s", place);
    char text[256];
    snprintf(text, sizeof text, "%s%s%s", where, where[0] ? " " : "", what);
    return espa_encode(encoding, text, out, cap);
}
