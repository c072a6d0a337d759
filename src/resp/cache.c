/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A read cache for string GETs in front of the store's pooled read
 * connections, which cost a SQLite read transaction per GET (measured: the
 * loop spent its time in SQLite locking and page reads).
 *
 * Correctness comes from the log: the door subscribes to the hub for every
 * io.redcar.kv.* event (whichever door or the expiry wrote it) and the
 * deliver callback, on the store writer thread after the commit, drops the
 * key and bumps a generation counter. A reader notes the generation before
 * it reads the store and fills the cache only if no invalidation happened
 * meanwhile, so a value read before a commit can never outlive it. Expiry
 * times are checked on every hit. Memory is bounded; when full, whole
 * buckets are dropped in turn.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "resp/door.h"

#define NBUCKETS 65536

typedef struct centry {
    struct centry *next;
    size_t klen, vlen;
    int present;        /* 0: cached "no such key" */
    int64_t expire_ms;
    char *key, *val;
} centry;

struct rc__cache {
    pthread_mutex_t mu;
    atomic_uint_fast64_t gen;
    centry *b[NBUCKETS];
    size_t bytes, max_bytes, cursor;
    rc_sub *sub;
    rc_hub *hub;
};

static uint64_t hkey(const char *k, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
    return h;
}

static size_t esize(const centry *e) { return sizeof *e + e->klen + e->vlen + 2; }

static void drop_bucket(rc__cache *c, size_t i) {
    for (centry *e = c->b[i], *n; e; e = n) {
        n = e->next;
        c->bytes -= esize(e);
        free(e);
    }
    c->b[i] = NULL;
}

static void invalidate_locked(rc__cache *c, const char *key, size_t klen) {
    centry **pp = &c->b[hkey(key, klen) % NBUCKETS];
    while (*pp) {
        centry *e = *pp;
        if (e->klen == klen && memcmp(e->key, key, klen) == 0) {
            *pp = e->next;
            c->bytes -= esize(e);
            free(e);
            return;
        }
        pp = &e->next;
    }
}

/* Hub deliver callback: store writer thread, after the commit. */
static void on_kv_event(void *arg, const rc_delivery *d) {
    rc__cache *c = arg;
    const rc_event *ev = d->ev;
    pthread_mutex_lock(&c->mu);
    atomic_fetch_add(&c->gen, 1);
    if (ev->subject) invalidate_locked(c, ev->subject, strlen(ev->subject));
    const rc_ext *x = rc_event_ext(ev, "newkey");
    if (x && x->s) invalidate_locked(c, x->s, strlen(x->s));
    pthread_mutex_unlock(&c->mu);
}

static int kv_filter(void *arg, const rc_event *ev) {
    (void)arg;
    return ev->type && strncmp(ev->type, RC_KV_TYPE_PREFIX, sizeof RC_KV_TYPE_PREFIX - 1) == 0;
}

rc__cache *rc__r_cache_new(rc_hub *hub, size_t max_bytes) {
    rc__cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->gen, 0);
    c->max_bytes = max_bytes;
    c->hub = hub;
    rc_sub_opts o = {0};
    o.name = "redcar-resp-cache";
    o.deliver = on_kv_event;
    o.arg = c;
    o.filter = kv_filter;
    o.match_all = 1;
    o.observer = 1; /* internal: sees every cast mode, never a broadcast/unicast target */
    if (!(c->sub = rc_hub_subscribe(hub, &o))) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    return c;
}

void rc__r_cache_free(rc__cache *c) {
    if (!c) return;
    rc_hub_unsubscribe(c->hub, c->sub); /* no callback after this returns */
    for (size_t i = 0; i < NBUCKETS; i++) drop_bucket(c, i);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

uint64_t rc__r_cache_gen(rc__cache *c) { return atomic_load(&c->gen); }

int rc__r_cache_get(rc__cache *c, const char *key, size_t klen, rc_resp_w *w, int64_t now_ms) {
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    for (centry *e = c->b[hkey(key, klen) % NBUCKETS]; e; e = e->next) {
        if (e->klen != klen || memcmp(e->key, key, klen) != 0) continue;
        if (e->expire_ms && now_ms >= e->expire_ms) break; /* expired: read the store */
        if (e->present) rc_resp_w_bulk(w, e->val, e->vlen);
        else rc_resp_w_null(w);
        hit = e->present ? 1 : 2;
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void rc__r_cache_put(rc__cache *c, const char *key, size_t klen, const void *val, size_t vlen,
                     int present, int64_t expire_ms, uint64_t gen) {
    if (vlen > 64 * 1024) return;
    centry *e = malloc(sizeof *e + klen + vlen + 2);
    if (!e) return;
    e->klen = klen;
    e->vlen = vlen;
    e->present = present;
    e->expire_ms = expire_ms;
    e->key = (char *)(e + 1);
    e->val = e->key + klen + 1;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    if (vlen) memcpy(e->val, val, vlen);
    e->val[vlen] = '\0';
    pthread_mutex_lock(&c->mu);
    if (atomic_load(&c->gen) != gen) { /* a write landed while we read: do not cache */
        pthread_mutex_unlock(&c->mu);
        free(e);
        return;
    }
    invalidate_locked(c, key, klen);
    while (c->bytes + esize(e) > c->max_bytes && c->bytes > 0) {
        drop_bucket(c, c->cursor);
        c->cursor = (c->cursor + 1) % NBUCKETS;
    }
    size_t i = hkey(key, klen) % NBUCKETS;
    e->next = c->b[i];
    c->b[i] = e;
    c->bytes += esize(e);
    pthread_mutex_unlock(&c->mu);
}
