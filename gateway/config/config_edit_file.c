/* config_edit_apply() and config_edit_restore(): the file read whole, the
 * edited text checked by config_load() from a temporary file beside it
 * (its messages pointed at the request's fields), then fsync, the previous
 * text kept as <file>.prev, rename, and fsync of the directory. */
#include "config/config_edit_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "common/log.h"

/* ---- writing the file ----------------------------------------------------------------------- */

/* The whole file; NULL with a 500 in `result`. Refuses a NUL byte (the text
 * is handled as a C string from here on). */
static char *read_config(const char *path, struct stat *st, size_t *length,
                         struct wg_edit_result *result)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        edit_refuse(result, 500, NULL, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    if (fstat(fd, st) != 0) {
        edit_refuse(result, 500, NULL, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st->st_mode)) {
        edit_refuse(result, 500, NULL, "%s is not a regular file", path);
        goto fail;
    }
    size_t capacity = (size_t)st->st_size + 1, used = 0;
    text = malloc(capacity);
    if (!text) {
        edit_refuse(result, 500, NULL, "out of memory reading %s", path);
        goto fail;
    }
    for (;;) {
        if (used + 1 == capacity) {
            char *grown = realloc(text, capacity * 2);
            if (!grown) {
                edit_refuse(result, 500, NULL, "out of memory reading %s", path);
                goto fail;
            }
            text = grown;
            capacity *= 2;
        }
        ssize_t got = read(fd, text + used, capacity - used - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            edit_refuse(result, 500, NULL, "cannot read %s: %s", path, strerror(errno));
            goto fail;
        }
        if (got == 0)
            break;
        used += (size_t)got;
    }
    text[used] = '\0';
    if (memchr(text, '\0', used)) {
        edit_refuse(result, 500, NULL, "%s contains a NUL byte; it is not a YAML text", path);
        goto fail;
    }
    close(fd);
    *length = used;
    return text;
fail:
    free(text);
    close(fd);
    return NULL;
}

static bool write_all(int fd, const char *text, size_t length)
{
    while (length) {
        ssize_t wrote = write(fd, text, length);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote <= 0) {
            if (wrote == 0)
                errno = EIO;
            return false;
        }
        text += wrote;
        length -= (size_t)wrote;
    }
    return true;
}

/* Replaces every `from` in `text` (owned) by `to`; returns the new text. */
static char *replace_all(char *text, const char *from, const char *to)
{
    if (!text || !*from || !strstr(text, from))
        return text;
    struct sbuf sb = {0};
    size_t from_length = strlen(from);
    for (const char *p = text; *p;) {
        const char *hit = strstr(p, from);
        if (!hit) {
            sb_str(&sb, p);
            break;
        }
        sb_add(&sb, p, (size_t)(hit - p));
        sb_str(&sb, to);
        p = hit + from_length;
    }
    char *replaced = sb_take(&sb);
    if (!replaced)
        return text;
    free(text);
    return replaced;
}

/* The problems as a manager reads them: no server path in their text (the
 * file's directory is left out), and the file itself named as in `path`. */
static void strip_paths(struct wg_diag *diag, const char *path, const char *dir)
{
    char *prefix = NULL;
    if (asprintf(&prefix, "%s/", dir) < 0)
        return;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (size_t i = 0; i < diag->count; i++) {
        diag->entries[i].text = replace_all(diag->entries[i].text, path, base);
        diag->entries[i].text = replace_all(diag->entries[i].text, prefix, "");
    }
    free(prefix);
}

/* The loader's messages name the temporary file; they should name the real one. */
static void rename_in_messages(struct wg_diag *diag, const char *from, const char *to)
{
    for (size_t i = 0; i < diag->count; i++)
        if (diag->entries[i].file && strcmp(diag->entries[i].file, from) == 0) {
            char *renamed = strdup(to);
            if (renamed) {
                free(diag->entries[i].file);
                diag->entries[i].file = renamed;
            }
        }
    for (size_t i = 0; i < diag->count; i++) {
        diag->messages[i] = replace_all(diag->messages[i], from, to);
        diag->entries[i].text = replace_all(diag->entries[i].text, from, to);
    }
}

/* A loader message "file:L:C: key: ..." (or 'missing required key "key"')
 * on a line of the changed item names the field at fault. */
static void field_from_messages(struct wg_edit_result *result, const struct field *fields,
                                const char *path, const struct span *span)
{
    for (size_t i = 0; fields && span->first_line && i < result->details.count; i++) {
        struct wg_diag_entry *entry = &result->details.entries[i];
        if (!entry->file || strcmp(entry->file, path) != 0 || entry->line < span->first_line ||
            entry->line > span->last_line || !entry->text)
            continue;
        const char *body = entry->text;
        for (const struct field *field = fields; field->name; field++) {
            size_t length = strlen(field->name);
            char missing[64];
            snprintf(missing, sizeof missing, "missing required key \"%s\"", field->name);
            if ((strncmp(body, field->name, length) == 0 && body[length] == ':') ||
                strncmp(body, missing, strlen(missing)) == 0) {
                snprintf(entry->field, sizeof entry->field, "%s", field->name);
                if (!result->field[0])
                    snprintf(result->field, sizeof result->field, "%s", field->name);
                break;
            }
        }
    }
}

/* <file>.prev becomes the file as it is now: a hard link (the file itself
 * is never missing), or a copy of `text` where links are not possible. */
static bool keep_previous(const char *path, const char *dir, const char *base, const char *text,
                          size_t length, mode_t mode, struct wg_edit_result *result)
{
    char *prev = NULL, *temp = NULL;
    bool ok = false;
    int fd = -1;
    if (asprintf(&prev, "%s.prev", path) < 0) {
        prev = NULL;
        edit_refuse(result, 500, NULL, "out of memory");
        return false;
    }
    if (unlink(prev) != 0 && errno != ENOENT) {
        edit_refuse(result, 500, NULL, "cannot replace %s: %s", prev, strerror(errno));
        goto done;
    }
    if (link(path, prev) == 0) {
        ok = true;
        goto done;
    }
    if (errno != EPERM && errno != EXDEV && errno != EMLINK && errno != ENOSYS &&
        errno != EOPNOTSUPP) {
        edit_refuse(result, 500, NULL, "cannot keep the previous version as %s: %s", prev,
                    strerror(errno));
        goto done;
    }
    if (asprintf(&temp, "%s/.%s.prev-XXXXXX", dir, base) < 0) {
        temp = NULL;
        edit_refuse(result, 500, NULL, "out of memory");
        goto done;
    }
    fd = mkstemp(temp);
    if (fd < 0) {
        edit_refuse(result, 500, NULL, "cannot create a temporary file in %s: %s", dir,
                    strerror(errno));
        goto done;
    }
    if (fchmod(fd, mode & 07777) != 0 || !write_all(fd, text, length) || fsync(fd) != 0) {
        edit_refuse(result, 500, NULL, "cannot write %s: %s", temp, strerror(errno));
        goto done;
    }
    int closing = fd;
    fd = -1;
    if (close(closing) != 0 || rename(temp, prev) != 0) {
        edit_refuse(result, 500, NULL, "cannot keep the previous version as %s: %s", prev,
                    strerror(errno));
        goto done;
    }
    ok = true;
done:
    if (fd >= 0)
        close(fd);
    if (temp && !ok && unlink(temp) != 0 && errno != ENOENT)
        wg_warn("config edit: cannot remove %s: %s", temp, strerror(errno));
    free(temp);
    free(prev);
    return ok;
}

static void fsync_directory(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        wg_warn("config edit: cannot fsync the directory %s: %s (the change is made; it may "
                "not survive a power cut)",
                dir, strerror(errno));
    if (fd >= 0)
        close(fd);
}

int config_edit_apply(const char *config_path, enum wg_edit_op op, const char *id,
                      const json_t *value, struct wg_edit_result *result)
{
    edit_result_init(result);
    char *text = NULL, *changed = NULL, *dir = NULL, *temp = NULL;
    const char *base = NULL;
    int fd = -1;
    bool temp_exists = false;
    if (!config_path || !*config_path) {
        edit_refuse(result, 500, NULL, "no configuration file");
        return -1;
    }
    struct stat link_st, st;
    if (lstat(config_path, &link_st) != 0) {
        edit_refuse(result, 500, NULL, "cannot read %s: %s", config_path, strerror(errno));
        return -1;
    }
    if (S_ISLNK(link_st.st_mode)) {
        edit_refuse(
            result, 500, NULL,
            "%s is a symbolic link: a change replaces the file, which would replace the link "
            "(start wardgated with -c naming the file itself, or edit it by hand)",
            config_path);
        return -1;
    }
    size_t length = 0;
    text = read_config(config_path, &st, &length, result);
    if (!text)
        return -1;
    struct span span;
    changed = edit_text(config_path, text, length, op, id, value, result, &span);
    if (!changed)
        goto fail;

    const char *slash = strrchr(config_path, '/');
    dir = slash ? strndup(config_path, slash == config_path ? 1 : (size_t)(slash - config_path))
                : strdup(".");
    base = slash ? slash + 1 : config_path;
    if (!dir || asprintf(&temp, "%s/.%s.edit-XXXXXX", dir, base) < 0) {
        temp = NULL;
        edit_refuse(result, 500, NULL, "out of memory");
        goto fail;
    }
    if (faccessat(AT_FDCWD, config_path, W_OK, AT_EACCESS) != 0) {
        edit_refuse(result, 500, NULL, "%s cannot be changed: %s", config_path, strerror(errno));
        goto fail;
    }
    fd = mkstemp(temp);
    if (fd < 0) {
        edit_refuse(result, 500, NULL,
                    "cannot create a temporary file in %s (needed to replace %s): %s", dir,
                    config_path, strerror(errno));
        goto fail;
    }
    temp_exists = true;
    if (fchmod(fd, st.st_mode & 07777) != 0) {
        edit_refuse(result, 500, NULL, "cannot set the mode of %s: %s", temp, strerror(errno));
        goto fail;
    }
    /* Keep the owner where allowed (root); otherwise the file becomes ours. */
    if (fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM) {
        edit_refuse(result, 500, NULL, "cannot set the owner of %s: %s", temp, strerror(errno));
        goto fail;
    }
    if (!write_all(fd, changed, strlen(changed))) {
        edit_refuse(result, 500, NULL, "cannot write %s: %s", temp, strerror(errno));
        goto fail;
    }

    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(temp, &diag);
    if (!config) {
        rename_in_messages(&diag, temp, config_path);
        /* file:line for the log; the reply names no server path. */
        for (size_t i = 0; i < diag.count; i++)
            wg_warn("config edit refused: %s", diag.messages[i]);
        strip_paths(&diag, config_path, dir);
        diag_free(&result->details);
        result->details = diag;
        edit_refuse(result, 422, NULL, "the configuration would not be valid with this change: %s",
                    diag.count && diag.entries[0].text ? diag.entries[0].text : "(no message)");
        field_from_messages(result, edit_op_kind(op) ? edit_op_kind(op)->fields : edit_beds_fields,
                            config_path, &span);
        goto fail;
    }
    config_free(config);
    diag_free(&diag);

    if (fsync(fd) != 0) {
        edit_refuse(result, 500, NULL, "cannot write %s: %s", temp, strerror(errno));
        goto fail;
    }
    int closing = fd;
    fd = -1;
    if (close(closing) != 0) {
        edit_refuse(result, 500, NULL, "cannot write %s: %s", temp, strerror(errno));
        goto fail;
    }
    struct stat now;
    if (lstat(config_path, &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev ||
        now.st_size != st.st_size || now.st_mtim.tv_sec != st.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != st.st_mtim.tv_nsec) {
        wg_warn("config edit: %s changed while a change was being made; nothing written",
                config_path);
        edit_refuse(result, 409, NULL,
                    "the configuration file changed while this change was being made; nothing was "
                    "written (try again)");
        goto fail;
    }
    if (!keep_previous(config_path, dir, base, text, length, st.st_mode, result))
        goto fail;
    if (rename(temp, config_path) != 0) {
        edit_refuse(result, 500, NULL, "cannot replace %s: %s", config_path, strerror(errno));
        goto fail;
    }
    temp_exists = false;
    fsync_directory(dir);
    free(text);
    free(changed);
    free(dir);
    free(temp);
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    if (temp_exists && unlink(temp) != 0)
        wg_warn("config edit: cannot remove %s: %s", temp, strerror(errno));
    json_decref(result->before);
    json_decref(result->after);
    result->before = result->after = NULL;
    free(text);
    free(changed);
    free(dir);
    free(temp);
    return -1;
}

int config_edit_restore(const char *config_path, char *err, size_t err_len)
{
    char *previous = NULL, *dir = NULL;
    const char *slash = strrchr(config_path, '/');
    int rc = -1;
    if (asprintf(&previous, "%s.prev", config_path) < 0) {
        previous = NULL;
        snprintf(err, err_len, "out of memory");
    } else if (!(dir = slash ? strndup(config_path,
                                       slash == config_path ? 1 : (size_t)(slash - config_path))
                             : strdup("."))) {
        snprintf(err, err_len, "out of memory");
    } else if (rename(previous, config_path) != 0) {
        snprintf(err, err_len, "putting back %s failed: %s", previous, strerror(errno));
    } else {
        fsync_directory(dir);
        rc = 0;
    }
    free(previous);
    free(dir);
    return rc;
}
