/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The slow log: a ring of at most max_len entries under one mutex. The
 * threshold is an atomic so that a door decides "not slow" without the
 * lock; only operations that are logged take it. An entry's strings live
 * in one allocation with it, so dropping an entry is one free().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "redcar/slowlog.h"

struct rc_slowlog {
    pthread_mutex_t mu;
    atomic_int_fast64_t slower_than;
    atomic_uint_fast64_t gen_seen; /* config generation + 1 (0: never synced) */
    size_t max_len;
    uint64_t next_id;
    rc_slowlog_entry **ring; /* cap max_len; ring[(start + i) % cap], oldest first */
    size_t start, len;
};

static void lock_init(rc_slowlog *sl) {
    pthread_mutex_init(&sl->mu, NULL);
    atomic_init(&sl->slower_than, 10000);
    atomic_init(&sl->gen_seen, 0);
}

rc_slowlog *rc_slowlog_new(void) {
    rc_slowlog *sl = calloc(1, sizeof *sl);
    if (!sl) return NULL;
    lock_init(sl);
    rc_slowlog_configure(sl, 10000, 128);
    return sl;
}

static void drop_all(rc_slowlog *sl) {
    for (size_t i = 0; i < sl->len; i++) free(sl->ring[(sl->start + i) % sl->max_len]);
    sl->start = sl->len = 0;
}

void rc_slowlog_free(rc_slowlog *sl) {
    if (!sl) return;
    drop_all(sl);
    free(sl->ring);
    pthread_mutex_destroy(&sl->mu);
    free(sl);
}

static rc_slowlog process_log;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static void process_init(void) {
    lock_init(&process_log);
    rc_slowlog_configure(&process_log, 10000, 128);
}

rc_slowlog *rc_slowlog_process(void) {
    pthread_once(&process_once, process_init);
    return &process_log;
}

void rc_slowlog_configure(rc_slowlog *sl, int64_t slower_than_us, size_t max_len) {
    atomic_store(&sl->slower_than, slower_than_us < 0 ? -1 : slower_than_us);
    pthread_mutex_lock(&sl->mu);
    if (max_len != sl->max_len || !sl->ring) {
        rc_slowlog_entry **ring = max_len ? calloc(max_len, sizeof *ring) : NULL;
        if (max_len && !ring) { /* keep the old ring: better than losing it */
            pthread_mutex_unlock(&sl->mu);
            return;
        }
        size_t keep = sl->len < max_len ? sl->len : max_len, skip = sl->len - keep;
        for (size_t i = 0; i < sl->len; i++) {
            rc_slowlog_entry *e = sl->ring[(sl->start + i) % sl->max_len];
            if (i < skip) free(e);
            else ring[i - skip] = e;
        }
        free(sl->ring);
        sl->ring = ring;
        sl->max_len = max_len;
        sl->start = 0;
        sl->len = keep;
    }
    pthread_mutex_unlock(&sl->mu);
}

void rc_slowlog_sync(rc_slowlog *sl, rc_config *cfg) {
    uint64_t gen = rc_config_generation(cfg) + 1;
    if (atomic_load_explicit(&sl->gen_seen, memory_order_acquire) == gen) return;
    int64_t len = rc_config_int(cfg, "slowlog-max-len");
    rc_slowlog_configure(sl, rc_config_int(cfg, "slowlog-log-slower-than"), (size_t)len);
    atomic_store_explicit(&sl->gen_seen, gen, memory_order_release);
}

int64_t rc_slowlog_clock_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int rc_slowlog_enabled(rc_slowlog *sl) {
    return atomic_load_explicit(&sl->slower_than, memory_order_relaxed) >= 0;
}

int rc_slowlog_is_slow(rc_slowlog *sl, int64_t duration_us) {
    int64_t limit = atomic_load_explicit(&sl->slower_than, memory_order_relaxed);
    return limit >= 0 && duration_us >= limit;
}

/* Room for one shortened argument: the bytes kept plus Redis's suffix. */
#define SUFFIX_MAX 48

static rc_slowlog_entry *entry_new(size_t argc, const char *const *argv, const size_t *argvlen) {
    size_t n = argc > RC_SLOWLOG_MAX_ARGC ? RC_SLOWLOG_MAX_ARGC : argc, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = argvlen[i] > RC_SLOWLOG_MAX_ARGLEN ? RC_SLOWLOG_MAX_ARGLEN : argvlen[i];
        bytes += l + SUFFIX_MAX + 1;
    }
    rc_slowlog_entry *e = calloc(1, sizeof *e + n * (sizeof(char *) + sizeof(size_t)) + bytes);
    if (!e) return NULL;
    e->argc = n;
    e->argv = (char **)(e + 1);
    e->argvlen = (size_t *)(e->argv + n);
    char *p = (char *)(e->argvlen + n);
    for (size_t i = 0; i < n; i++) {
        e->argv[i] = p;
        int w;
        if (argc > RC_SLOWLOG_MAX_ARGC && i == n - 1) {
            /* As Redis: the last slot says how many arguments were left out. */
            w = snprintf(p, SUFFIX_MAX + 1, "... (%zu more arguments)", argc - n + 1);
        } else if (argvlen[i] > RC_SLOWLOG_MAX_ARGLEN) {
            memcpy(p, argv[i], RC_SLOWLOG_MAX_ARGLEN);
            w = RC_SLOWLOG_MAX_ARGLEN +
                snprintf(p + RC_SLOWLOG_MAX_ARGLEN, SUFFIX_MAX + 1, "... (%zu more bytes)",
                         argvlen[i] - RC_SLOWLOG_MAX_ARGLEN);
        } else {
            memcpy(p, argv[i], argvlen[i]);
            p[argvlen[i]] = '\0';
            w = (int)argvlen[i];
        }
        e->argvlen[i] = (size_t)w;
        p += (size_t)w + 1;
    }
    return e;
}

void rc_slowlog_record(rc_slowlog *sl, rc_slowlog_door door, int64_t duration_us, size_t argc,
                       const char *const *argv, const size_t *argvlen, const char *addr,
                       const char *name) {
    if (!rc_slowlog_is_slow(sl, duration_us)) return;
    rc_slowlog_entry *e = entry_new(argc, argv, argvlen);
    if (!e) return; /* the slow log is best effort: never fail the operation */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    e->ts_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    e->duration_us = duration_us;
    e->door = door;
    snprintf(e->addr, sizeof e->addr, "%s", addr ? addr : "");
    snprintf(e->name, sizeof e->name, "%s", name ? name : "");
    pthread_mutex_lock(&sl->mu);
    if (!sl->max_len) {
        pthread_mutex_unlock(&sl->mu);
        free(e);
        return;
    }
    e->id = sl->next_id++;
    if (sl->len == sl->max_len) {
        free(sl->ring[sl->start]);
        sl->ring[sl->start] = e;
        sl->start = (sl->start + 1) % sl->max_len;
    } else {
        sl->ring[(sl->start + sl->len) % sl->max_len] = e;
        sl->len++;
    }
    pthread_mutex_unlock(&sl->mu);
}

/* dst = src with its strings in a new block (returned; the caller frees it). */
static void *entry_copy(const rc_slowlog_entry *src, rc_slowlog_entry *dst) {
    size_t n = src->argc, bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += src->argvlen[i] + 1;
    char *blk = malloc(n * (sizeof(char *) + sizeof(size_t)) + bytes + 1);
    if (!blk) return NULL;
    *dst = *src;
    dst->argv = (char **)blk;
    dst->argvlen = (size_t *)(dst->argv + n);
    char *p = (char *)(dst->argvlen + n);
    for (size_t i = 0; i < n; i++) {
        memcpy(p, src->argv[i], src->argvlen[i] + 1);
        dst->argv[i] = p;
        dst->argvlen[i] = src->argvlen[i];
        p += src->argvlen[i] + 1;
    }
    return blk;
}

/* The copies' strings hang off a hidden allocation per entry, remembered
 * in a parallel array after the entries. */
size_t rc_slowlog_get(rc_slowlog *sl, size_t n, rc_slowlog_entry **out) {
    *out = NULL;
    pthread_mutex_lock(&sl->mu);
    size_t k = n < sl->len ? n : sl->len;
    rc_slowlog_entry *v = k ? calloc(k, sizeof *v + sizeof(void *)) : NULL;
    if (!v) {
        pthread_mutex_unlock(&sl->mu);
        return 0;
    }
    void **own = (void **)(v + k);
    for (size_t i = 0; i < k; i++) {
        const rc_slowlog_entry *e = sl->ring[(sl->start + sl->len - 1 - i) % sl->max_len];
        if (!(own[i] = entry_copy(e, &v[i]))) {
            pthread_mutex_unlock(&sl->mu);
            rc_slowlog_entries_free(v, k);
            return 0;
        }
    }
    pthread_mutex_unlock(&sl->mu);
    *out = v;
    return k;
}

void rc_slowlog_entries_free(rc_slowlog_entry *e, size_t n) {
    if (!e) return;
    void **own = (void **)(e + n);
    for (size_t i = 0; i < n; i++) free(own[i]);
    free(e);
}

size_t rc_slowlog_len(rc_slowlog *sl) {
    pthread_mutex_lock(&sl->mu);
    size_t n = sl->len;
    pthread_mutex_unlock(&sl->mu);
    return n;
}

void rc_slowlog_reset(rc_slowlog *sl) {
    pthread_mutex_lock(&sl->mu);
    drop_all(sl);
    pthread_mutex_unlock(&sl->mu);
}

const char *rc_slowlog_door_name(rc_slowlog_door door) {
    return door == RC_SLOWLOG_HTTP ? "http" : "resp";
}
