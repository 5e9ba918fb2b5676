/* Parsed profiles shared across buses, by content; see mb_profiles.h. */
#include "mb_profiles.h"

#include <stdbool.h>
#include <stdlib.h>

struct mb_shared_points {
    struct mb_point *points;
    size_t count;
    size_t users;
    struct mb_shared_points *next;
};

void mb_profiles_init(struct mb_profiles *profiles)
{
    pthread_mutex_init(&profiles->lock, NULL);
    profiles->first = NULL;
}

void mb_profiles_destroy(struct mb_profiles *profiles)
{
    struct mb_shared_points *entry = profiles->first;
    while (entry) { /* none left when every bus released its copy */
        struct mb_shared_points *next = entry->next;
        free(entry->points);
        free(entry);
        entry = next;
    }
    profiles->first = NULL;
    pthread_mutex_destroy(&profiles->lock);
}

static bool same_points(const struct mb_point *a, const struct mb_point *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!mb_point_same(&a[i], &b[i]))
            return false;
    return true;
}

const struct mb_point *mb_profiles_share(struct mb_profiles *profiles, struct mb_point *parsed,
                                         size_t count)
{
    pthread_mutex_lock(&profiles->lock);
    for (struct mb_shared_points *entry = profiles->first; entry; entry = entry->next) {
        if (entry->count == count && same_points(entry->points, parsed, count)) {
            entry->users++;
            pthread_mutex_unlock(&profiles->lock);
            free(parsed);
            return entry->points;
        }
    }
    struct mb_shared_points *entry = malloc(sizeof *entry);
    if (entry) {
        *entry = (struct mb_shared_points){
            .points = parsed, .count = count, .users = 1, .next = profiles->first};
        profiles->first = entry;
    }
    pthread_mutex_unlock(&profiles->lock);
    return entry ? parsed : NULL;
}

void mb_profiles_release(struct mb_profiles *profiles, const struct mb_point *points)
{
    pthread_mutex_lock(&profiles->lock);
    for (struct mb_shared_points **link = &profiles->first; *link; link = &(*link)->next) {
        struct mb_shared_points *entry = *link;
        if (entry->points != points)
            continue;
        if (--entry->users == 0) {
            *link = entry->next;
            free(entry->points);
            free(entry);
        }
        break;
    }
    pthread_mutex_unlock(&profiles->lock);
}

size_t mb_profiles_count(struct mb_profiles *profiles)
{
    pthread_mutex_lock(&profiles->lock);
    size_t count = 0;
    for (const struct mb_shared_points *entry = profiles->first; entry; entry = entry->next)
        count++;
    pthread_mutex_unlock(&profiles->lock);
    return count;
}
