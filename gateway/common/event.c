/* Event ids: random UUID v4 text from getrandom(2); see event.h. */
#include "common/event.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Fills buf from getrandom(2), then /dev/urandom. Returns 0, or -1 if neither works. */
static int random_bytes(unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno != EINTR)
            break;
    }
    if (got == len)
        return 0;

    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0 || errno != EINTR)
            break;
    }
    close(fd);
    return got == len ? 0 : -1;
}

/* Last resort when the kernel gives no randomness: clock, pid and stack
 * address mixed with splitmix64. Unique in practice, not unpredictable. */
static void fallback_bytes(unsigned char *buf, size_t len)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    unsigned long long state =
        (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec;
    state ^= (unsigned long long)getpid() << 32;
    state ^= (unsigned long long)(uintptr_t)&now;
    for (size_t i = 0; i < len; i++) {
        unsigned long long z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        buf[i] = (unsigned char)(z ^ (z >> 31));
    }
}

void event_new_id(struct wg_event *event)
{
    unsigned char uuid[16];
    if (random_bytes(uuid, sizeof uuid) < 0)
        fallback_bytes(uuid, sizeof uuid);
    uuid[6] = (unsigned char)((uuid[6] & 0x0f) | 0x40); /* version 4 */
    uuid[8] = (unsigned char)((uuid[8] & 0x3f) | 0x80); /* RFC 4122 variant */

    static const char hex[] = "0123456789abcdef";
    char *out = event->id;
    for (size_t i = 0; i < sizeof uuid; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *out++ = '-';
        *out++ = hex[uuid[i] >> 4];
        *out++ = hex[uuid[i] & 0x0f];
    }
    *out = '\0';
}
