/* vm_probe: the timing-sensitive steps of the gpio-sim test, run inside the
 * qemu guest next to wardgated (statically linked; the guest has only
 * busybox). It moves simulated wires through gpio-sim's sysfs `pull`
 * attribute and watches output lines through `value`.
 *
 *   vm_probe bounce DIR LINE PULSE_MS COUNT
 *       COUNT pulses of the contact (pull-down, then pull-up), PULSE_MS each:
 *       a bouncing contact of an active-low input.
 *   vm_probe sample DIR MS LINE...
 *       samples the lines every 0.5 ms for MS and prints per line
 *       "line=N changes=K on_ms=MEDIAN off_ms=MEDIAN" (medians of the
 *       complete on and off stretches, -1 when there were none).
 *   vm_probe latency DIR LINE COUNT LOG NEEDLE
 *       COUNT times: flips the wire, then waits until LOG has one more line
 *       containing NEEDLE (the daemon journaled the change); prints
 *       "latency n=K p50_us=X p99_us=Y max_us=Z" and one "sample_us=..." line.
 *   vm_probe watch DIR LINE STOPFILE MAX_MS
 *       reads the line's level every millisecond until STOPFILE exists (or
 *       MAX_MS passed); prints "watch line=N samples=K high=H low=L
 *       first_low_ms=T mean_interval_us=A max_interval_us=M ms=D" (T is -1
 *       when it never read 0; under qemu's TCG a "millisecond" sleep is longer).
 *   vm_probe api PORT USER PASSWORD METHOD PATH [BODY]
 *       logs in to the daemon's web API on 127.0.0.1:PORT (POST
 *       /api/v1/login, cookie and CSRF token), then sends METHOD PATH with
 *       the JSON BODY; prints "status=NNN" and the reply's body.
 * DIR is the chip's sysfs directory (…/gpio-sim.0/gpiochipN). */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINES   8
#define MAX_STRETCH 4096

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(long long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int write_attr(const char *dir, int line, const char *attr, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/sim_gpio%d/%s", dir, line, attr);
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, text, strlen(text)) < 0) {
        fprintf(stderr, "vm_probe: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int read_value(int fd)
{
    char c;
    if (pread(fd, &c, 1, 0) != 1)
        return -1;
    return c == '1';
}

static int compare_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static long long median(long long *values, int count)
{
    if (count == 0)
        return -1;
    qsort(values, (size_t)count, sizeof *values, compare_ll);
    return values[count / 2];
}

static int bounce(const char *dir, int line, int pulse_ms, int count)
{
    for (int i = 0; i < count; i++) {
        if (write_attr(dir, line, "pull", "pull-down") != 0)
            return 1;
        sleep_us(pulse_ms * 1000LL);
        if (write_attr(dir, line, "pull", "pull-up") != 0)
            return 1;
        sleep_us(pulse_ms * 1000LL);
    }
    return 0;
}

static int sample(const char *dir, int ms, int count, char **lines)
{
    int fds[MAX_LINES], levels[MAX_LINES], changes[MAX_LINES] = {0};
    long long since[MAX_LINES];
    static long long on[MAX_LINES][MAX_STRETCH], off[MAX_LINES][MAX_STRETCH];
    int on_n[MAX_LINES] = {0}, off_n[MAX_LINES] = {0};
    if (count > MAX_LINES)
        count = MAX_LINES;
    long long start = now_us();
    for (int i = 0; i < count; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/sim_gpio%s/value", dir, lines[i]);
        fds[i] = open(path, O_RDONLY);
        if (fds[i] < 0) {
            fprintf(stderr, "vm_probe: %s: %s\n", path, strerror(errno));
            return 1;
        }
        levels[i] = read_value(fds[i]);
        since[i] = -1; /* the first stretch is incomplete */
    }
    for (long long t = start; t - start < ms * 1000LL; t = now_us()) {
        for (int i = 0; i < count; i++) {
            int level = read_value(fds[i]);
            if (level < 0 || level == levels[i])
                continue;
            if (since[i] >= 0) {
                long long stretch = (t - since[i]) / 1000;
                if (levels[i] && on_n[i] < MAX_STRETCH)
                    on[i][on_n[i]++] = stretch;
                else if (!levels[i] && off_n[i] < MAX_STRETCH)
                    off[i][off_n[i]++] = stretch;
            }
            since[i] = t;
            levels[i] = level;
            changes[i]++;
        }
        sleep_us(500);
    }
    for (int i = 0; i < count; i++) {
        printf("line=%s changes=%d on_ms=%lld off_ms=%lld\n", lines[i], changes[i],
               median(on[i], on_n[i]), median(off[i], off_n[i]));
        close(fds[i]);
    }
    return 0;
}

/* Lines containing `needle` appended to the log since *offset (complete lines only). */
static int new_needles(int fd, long long *offset, const char *needle)
{
    static char text[1 << 16];
    ssize_t got = pread(fd, text, sizeof text - 1, *offset);
    if (got <= 0)
        return 0;
    text[got] = '\0';
    char *end = strrchr(text, '\n');
    if (!end)
        return 0;
    end[1] = '\0';
    *offset += end + 1 - text;
    int count = 0;
    for (char *at = text; (at = strstr(at, needle)) != NULL; at += strlen(needle))
        count++;
    return count;
}

static int latency(const char *dir, int line, int count, const char *log, const char *needle)
{
    long long *samples = calloc((size_t)count, sizeof *samples);
    if (!samples)
        return 1;
    int fd = open(log, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "vm_probe: %s: %s\n", log, strerror(errno));
        free(samples);
        return 1;
    }
    long long offset = lseek(fd, 0, SEEK_END);
    int n = 0;
    for (int i = 0; i < count; i++) {
        const char *pull = i % 2 == 0 ? "pull-down" : "pull-up";
        long long t0 = now_us();
        if (write_attr(dir, line, "pull", pull) != 0)
            break;
        int found = 0;
        while (!found && now_us() - t0 < 2000000) {
            sleep_us(100);
            found = new_needles(fd, &offset, needle);
        }
        if (!found) {
            fprintf(stderr, "vm_probe: no journal line within 2 s for change %d\n", i);
            break;
        }
        samples[n++] = now_us() - t0;
        sleep_us(20000); /* apart, so each change stands alone */
    }
    close(fd);
    printf("sample_us=");
    for (int i = 0; i < n; i++)
        printf("%s%lld", i ? "," : "", samples[i]);
    printf("\n");
    qsort(samples, (size_t)n, sizeof *samples, compare_ll);
    if (n > 0)
        printf("latency n=%d p50_us=%lld p99_us=%lld max_us=%lld\n", n, samples[n / 2],
               samples[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], samples[n - 1]);
    else
        printf("latency n=0\n");
    free(samples);
    return n == count ? 0 : 1;
}

static int watch(const char *dir, int line, const char *stop_file, int max_ms)
{
    char path[256];
    snprintf(path, sizeof path, "%s/sim_gpio%d/value", dir, line);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "vm_probe: %s: %s\n", path, strerror(errno));
        return 1;
    }
    long long start = now_us(), last = start, max_interval = 0, first_low = -1;
    long samples = 0, high = 0, low = 0;
    for (long long t = start; t - start < max_ms * 1000LL; t = now_us()) {
        int level = read_value(fd);
        samples++;
        if (level == 1) {
            high++;
        } else {
            low++;
            if (first_low < 0)
                first_low = (t - start) / 1000;
        }
        if (t - last > max_interval)
            max_interval = t - last;
        last = t;
        if (samples % 16 == 0 && access(stop_file, F_OK) == 0)
            break;
        sleep_us(1000);
    }
    close(fd);
    long long elapsed = now_us() - start;
    printf("watch line=%d samples=%ld high=%ld low=%ld first_low_ms=%lld mean_interval_us=%lld "
           "max_interval_us=%lld ms=%lld\n",
           line, samples, high, low, first_low, samples ? elapsed / samples : 0, max_interval,
           elapsed / 1000);
    return 0;
}

/* One HTTP/1.1 request to 127.0.0.1:port; the whole reply into `reply`.
 * Returns the status code, or -1. */
static int http(int port, const char *method, const char *path, const char *cookie,
                const char *csrf, const char *body, char *reply, size_t reply_size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((unsigned short)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fprintf(stderr, "vm_probe: connect to port %d: %s\n", port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char request[4096];
    int len = snprintf(request, sizeof request,
                       "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                       "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                       "%s%s%s%s%s%s\r\n%s",
                       method, path, port, body ? strlen(body) : 0, cookie ? "Cookie: " : "",
                       cookie ? cookie : "", cookie ? "\r\n" : "", csrf ? "X-CSRF-Token: " : "",
                       csrf ? csrf : "", csrf ? "\r\n" : "", body ? body : "");
    if (len < 0 || (size_t)len >= sizeof request || write(fd, request, (size_t)len) != len) {
        close(fd);
        return -1;
    }
    size_t used = 0;
    ssize_t got;
    while (used + 1 < reply_size && (got = read(fd, reply + used, reply_size - 1 - used)) > 0)
        used += (size_t)got;
    reply[used] = '\0';
    close(fd);
    int status = -1;
    if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

/* Copies the text after `key` (any case) up to one of `stops` into out. */
static int extract(const char *text, const char *key, const char *stops, char *out, size_t size)
{
    const char *at = strcasestr(text, key);
    if (!at)
        return -1;
    at += strlen(key);
    size_t n = strcspn(at, stops);
    if (n >= size)
        return -1;
    memcpy(out, at, n);
    out[n] = '\0';
    return 0;
}

static int api(int port, const char *user, const char *password, const char *method,
               const char *path, const char *body)
{
    static char reply[1 << 16];
    char login[512], cookie[160], csrf[160];
    snprintf(login, sizeof login, "{\"username\":\"%s\",\"password\":\"%s\"}", user, password);
    int status = http(port, "POST", "/api/v1/login", NULL, NULL, login, reply, sizeof reply);
    if (status != 200 || extract(reply, "Set-Cookie: ", ";\r\n", cookie, sizeof cookie) != 0 ||
        extract(reply, "\"csrf\":\"", "\"", csrf, sizeof csrf) != 0) {
        const char *text = strstr(reply, "\r\n\r\n");
        printf("status=%d\nlogin failed: %.300s\n", status, text ? text + 4 : reply);
        return 1;
    }
    status = http(port, method, path, cookie, csrf, body, reply, sizeof reply);
    const char *text = strstr(reply, "\r\n\r\n");
    printf("status=%d\n%s\n", status, text ? text + 4 : "");
    return status >= 200 && status < 300 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "watch") == 0)
        return watch(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]));
    if (argc >= 7 && strcmp(argv[1], "api") == 0)
        return api(atoi(argv[2]), argv[3], argv[4], argv[5], argv[6], argc > 7 ? argv[7] : NULL);
    if (argc >= 6 && strcmp(argv[1], "bounce") == 0)
        return bounce(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc >= 5 && strcmp(argv[1], "sample") == 0)
        return sample(argv[2], atoi(argv[3]), argc - 4, argv + 4);
    if (argc >= 7 && strcmp(argv[1], "latency") == 0)
        return latency(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5], argv[6]);
    fprintf(stderr, "usage: vm_probe bounce|sample|latency|watch|api ... (see the source)\n");
    return 2;
}
