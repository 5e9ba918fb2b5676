/* The store's failures in words: the status of a failed call and a message
 * naming the database file and the cause (SQLite's code, the OS error, what
 * the file system says when SQLite lost it). */
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

int store_fail(struct wg_store *store, enum wg_store_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int store_fail(struct wg_store *store, enum wg_store_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(store->error, sizeof store->error, fmt, ap);
    va_end(ap);
    store->status = status;
    store->last_sqlite_rc = 0;
    return -1;
}

const char *store_status_reason(enum wg_store_status status)
{
    switch (status) {
    case WG_STORE_LOCKED:
        return "locked";
    case WG_STORE_FULL:
        return "size_limit";
    case WG_STORE_CORRUPT:
        return "corrupt";
    case WG_STORE_IO:
        return "io_error";
    case WG_STORE_DISK_FULL:
        return "disk_full";
    case WG_STORE_READ_ONLY:
        return "read_only";
    case WG_STORE_OK:
    case WG_STORE_REFUSED:
        break;
    }
    return NULL;
}

bool store_status_retryable(enum wg_store_status status)
{
    return status != WG_STORE_OK && status != WG_STORE_REFUSED;
}

/* True when SQLITE_FULL came from max_page_count rather than the disk. */
bool store_at_size_limit(struct wg_store *store)
{
    if (store->max_pages <= 0)
        return false;
    int64_t pages = store_pragma_pages(store, ST_PAGE_COUNT);
    return pages >= store->max_pages;
}

/* What an extended SQLITE_IOERR code means, in words. */
static const char *io_operation(int rc)
{
    switch (rc) {
    case SQLITE_IOERR_READ:
    case SQLITE_IOERR_SHORT_READ:
        return "read failed";
    case SQLITE_IOERR_WRITE:
        return "write failed";
    case SQLITE_IOERR_FSYNC:
    case SQLITE_IOERR_DIR_FSYNC:
        return "fsync failed";
    case SQLITE_IOERR_TRUNCATE:
        return "truncate failed";
    case SQLITE_IOERR_SHMOPEN:
    case SQLITE_IOERR_SHMSIZE:
    case SQLITE_IOERR_SHMMAP:
        return "the -shm file failed";
    case SQLITE_IOERR_LOCK:
    case SQLITE_IOERR_RDLOCK:
    case SQLITE_IOERR_UNLOCK:
        return "file locking failed";
    default:
        return "I/O failed";
    }
}

/* "N MiB free on its filesystem", for disk-full and I/O error messages. */
static void describe_free_space(const char *path, char *out, size_t out_len)
{
    char *copy = strdup(path);
    struct statvfs fs;
    if (copy && statvfs(dirname(copy), &fs) == 0)
        snprintf(out, out_len, "%llu MiB free on its filesystem",
                 (unsigned long long)fs.f_bavail * fs.f_frsize / (1024 * 1024));
    else
        snprintf(out, out_len, "free space unknown");
    free(copy);
}

/* What the file system says when SQLite's I/O error came without an OS
 * error (it often loses errno on the way, a failed WAL write at commit for
 * one): a read-only mount, no free blocks, or else what writing a probe
 * file next to the database gives. 0 when writing works. */
static int file_system_errno(const char *path)
{
    char *copy = strdup(path);
    struct statvfs fs;
    int err = 0;
    if (copy && statvfs(dirname(copy), &fs) == 0) {
        if (fs.f_flag & ST_RDONLY)
            err = EROFS;
        else if (fs.f_bavail == 0)
            err = ENOSPC;
    }
    free(copy);
    if (err)
        return err;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s-wgprobe", path);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    char block[4096] = {0};
    ssize_t written = write(fd, block, sizeof block);
    if (written < 0)
        err = errno;
    else if ((size_t)written < sizeof block)
        err = ENOSPC;
    else if (fdatasync(fd) != 0)
        err = errno;
    close(fd);
    unlink(probe);
    return err;
}

/* Records a failed SQLite call `rc` made while `doing` something. */
int store_fail_sqlite(struct wg_store *store, int rc, const char *doing)
{
    char sqlite_msg[256];
    snprintf(sqlite_msg, sizeof sqlite_msg, "%s", store->db ? sqlite3_errmsg(store->db) : "");
    int sys_errno = store->db ? sqlite3_system_errno(store->db) : 0;
    if (sys_errno == 0 && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN))
        sys_errno = file_system_errno(store->path);
    int result = -1;
    char free_space[96] = "";
    if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL)
        describe_free_space(store->path, free_space, sizeof free_space);

    bool read_only_fs = sys_errno == EROFS;
    bool no_space = sys_errno == ENOSPC || sys_errno == EDQUOT || sys_errno == EFBIG;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        result = store_fail(store, WG_STORE_LOCKED,
                            "database %s is locked by another process (waited %d ms) while %s",
                            store->path, store->busy_timeout_ms, doing);
        break;
    case SQLITE_FULL:
        /* SQLite reports ENOSPC as SQLITE_FULL and clears the OS error, so
         * max_page_count is told apart by the page count, not by errno. */
        if (!no_space && store_at_size_limit(store))
            result = store_fail(store, WG_STORE_FULL,
                                "database %s is full: %s reached the size limit of %lld bytes "
                                "(storage.max_mb) and nothing more may be evicted",
                                store->path, doing, store->max_bytes);
        else
            result =
                store_fail(store, WG_STORE_DISK_FULL,
                           "database %s: the disk is full while %s (%s; the database is within "
                           "its own size limit): free space on the disk",
                           store->path, doing, free_space);
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        result = store_fail(store, WG_STORE_CORRUPT, "database %s is corrupt (%s) while %s",
                            store->path, sqlite_msg, doing);
        break;
    case SQLITE_IOERR:
        if (no_space)
            result = store_fail(store, WG_STORE_DISK_FULL,
                                "database %s: the disk is full while %s: %s: %s (%s)", store->path,
                                doing, io_operation(rc), strerror(sys_errno), free_space);
        else if (read_only_fs)
            result = store_fail(store, WG_STORE_READ_ONLY,
                                "database %s is on a read-only file system while %s: %s: %s",
                                store->path, doing, io_operation(rc), strerror(sys_errno));
        else
            result = store_fail(store, WG_STORE_IO,
                                "database %s: I/O error while %s: %s%s%s (SQLite code %d, %s)",
                                store->path, doing, io_operation(rc), sys_errno ? ": " : "",
                                sys_errno ? strerror(sys_errno) : "", rc, free_space);
        break;
    case SQLITE_READONLY:
        result =
            store_fail(store, WG_STORE_READ_ONLY, "database %s cannot be written while %s: %s%s%s",
                       store->path, doing, sqlite_msg, sys_errno ? ": " : "",
                       sys_errno ? strerror(sys_errno) : "");
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        result =
            store_fail(store, read_only_fs ? WG_STORE_READ_ONLY : WG_STORE_IO,
                       "database %s cannot be written while %s: %s%s%s", store->path, doing,
                       sqlite_msg, sys_errno ? ": " : "", sys_errno ? strerror(sys_errno) : "");
        break;
    default:
        result = store_fail(store, WG_STORE_IO, "database %s: %s failed: %s", store->path, doing,
                            sqlite_msg);
        break;
    }
    store->last_sqlite_rc = rc;
    return result;
}
