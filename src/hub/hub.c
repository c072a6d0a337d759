/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hub: who gets a committed event (see hub.h for the cast modes).
 *
 * Exact channel subscriptions live in a hash table from channel to the
 * subscribers of that channel, so an event costs one lookup however many
 * channels exist; only patterns and whole-log subscribers (SSE, cursors) are
 * walked per event. One mutex guards everything: publish runs on the single
 * store writer thread, and subscription changes are rare next to deliveries.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redcar/hub.h"

typedef struct chan {
    struct chan *next;  /* hash chain */
    char *name;
    rc_sub **subs;
    size_t n, cap;
} chan;

typedef struct pat {
    rc_sub *sub;
    char *glob;
} pat;

struct rc_sub {
    rc_sub *prev, *next;  /* all subscribers */
    char *name, *group;
    rc_hub_deliver_fn deliver;
    void *arg;
    rc_hub_filter_fn filter;
    void *filter_arg;
    int match_all;
    int observer;         /* sees what it matches whatever the cast mode */
    size_t nchan, npat;
    uint64_t mark;        /* publish pass that last selected it (dedup) */
};

typedef struct batch_hook {
    rc_hub_batch_fn fn;
    void *arg;
} batch_hook;

typedef struct group_rr {
    struct group_rr *next;
    char *name;
    uint64_t turn;
} group_rr;

struct rc_hub {
    pthread_mutex_t lock;
    pthread_cond_t moved;     /* head advanced */
    rc_sub *subs;
    size_t nsubs, nobservers;
    size_t nmatch_all;        /* subscribers with match_all: walked per event only if any */
    batch_hook *hooks;
    size_t nhooks;
    chan **buckets;
    size_t nbuckets, nchans;
    pat *pats;
    size_t npats, cappats;
    group_rr *groups;
    uint64_t head;
    uint64_t rr;              /* unicast turn */
    uint64_t pass;
    /* scratch list of candidate deliveries, reused across events */
    struct cand { rc_sub *sub; const char *pattern; int via_channel; } *cand;
    size_t ncand, capcand;
};

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) abort();
    return q;
}

static char *xstrdup(const char *s) {
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

const char *rc_event_channel(const rc_event *ev) { return ev->subject ? ev->subject : ev->type; }

rc_hub *rc_hub_new(void) {
    rc_hub *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->moved, &ca);
    pthread_condattr_destroy(&ca);
    h->nbuckets = 64;
    h->buckets = calloc(h->nbuckets, sizeof *h->buckets);
    if (!h->buckets) {
        free(h);
        return NULL;
    }
    return h;
}

static void sub_free(rc_sub *s) {
    free(s->name);
    free(s->group);
    free(s);
}

void rc_hub_free(rc_hub *h) {
    if (!h) return;
    for (size_t i = 0; i < h->nbuckets; i++) {
        for (chan *c = h->buckets[i], *n; c; c = n) {
            n = c->next;
            free(c->name);
            free(c->subs);
            free(c);
        }
    }
    for (size_t i = 0; i < h->npats; i++) free(h->pats[i].glob);
    for (rc_sub *s = h->subs, *n; s; s = n) {
        n = s->next;
        sub_free(s);
    }
    for (group_rr *g = h->groups, *n; g; g = n) {
        n = g->next;
        free(g->name);
        free(g);
    }
    free(h->buckets);
    free(h->pats);
    free(h->cand);
    free(h->hooks);
    pthread_cond_destroy(&h->moved);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* ---- channel table ------------------------------------------------------ */

static chan **chan_slot(rc_hub *h, const char *name) {
    chan **pp = &h->buckets[hash(name) & (h->nbuckets - 1)];
    while (*pp && strcmp((*pp)->name, name)) pp = &(*pp)->next;
    return pp;
}

static void grow_buckets(rc_hub *h) {
    size_t nb = h->nbuckets * 2;
    chan **b = calloc(nb, sizeof *b);
    if (!b) return; /* keep the old table: slower, still correct */
    for (size_t i = 0; i < h->nbuckets; i++) {
        for (chan *c = h->buckets[i], *n; c; c = n) {
            n = c->next;
            size_t k = hash(c->name) & (nb - 1);
            c->next = b[k];
            b[k] = c;
        }
    }
    free(h->buckets);
    h->buckets = b;
    h->nbuckets = nb;
}

int rc_sub_add_channel(rc_hub *h, rc_sub *s, const char *name) {
    pthread_mutex_lock(&h->lock);
    chan **pp = chan_slot(h, name);
    chan *c = *pp;
    int added = 1;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) abort();
        c->name = xstrdup(name);
        *pp = c;
        if (++h->nchans > h->nbuckets) grow_buckets(h);
    }
    for (size_t i = 0; i < c->n; i++)
        if (c->subs[i] == s) added = 0;
    if (added) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 4;
            c->subs = xrealloc(c->subs, c->cap * sizeof *c->subs);
        }
        c->subs[c->n++] = s;
        s->nchan++;
    }
    pthread_mutex_unlock(&h->lock);
    return added;
}

static int del_channel_locked(rc_hub *h, rc_sub *s, const char *name) {
    chan **pp = chan_slot(h, name);
    chan *c = *pp;
    if (!c) return 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->subs[i] != s) continue;
        c->subs[i] = c->subs[--c->n];
        s->nchan--;
        if (c->n == 0) {
            *pp = c->next;
            free(c->name);
            free(c->subs);
            free(c);
            h->nchans--;
        }
        return 1;
    }
    return 0;
}

int rc_sub_del_channel(rc_hub *h, rc_sub *s, const char *name) {
    pthread_mutex_lock(&h->lock);
    int r = del_channel_locked(h, s, name);
    pthread_mutex_unlock(&h->lock);
    return r;
}

int rc_sub_add_pattern(rc_hub *h, rc_sub *s, const char *glob) {
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->npats; i++) {
        if (h->pats[i].sub == s && !strcmp(h->pats[i].glob, glob)) {
            pthread_mutex_unlock(&h->lock);
            return 0;
        }
    }
    if (h->npats == h->cappats) {
        h->cappats = h->cappats ? h->cappats * 2 : 8;
        h->pats = xrealloc(h->pats, h->cappats * sizeof *h->pats);
    }
    h->pats[h->npats++] = (pat){s, xstrdup(glob)};
    s->npat++;
    pthread_mutex_unlock(&h->lock);
    return 1;
}

/* Keeps pattern order (Redis delivers pmessages in subscription order). */
static void remove_pattern_at(rc_hub *h, size_t i) {
    h->pats[i].sub->npat--;
    free(h->pats[i].glob);
    memmove(&h->pats[i], &h->pats[i + 1], (h->npats - i - 1) * sizeof *h->pats);
    h->npats--;
}

int rc_sub_del_pattern(rc_hub *h, rc_sub *s, const char *glob) {
    pthread_mutex_lock(&h->lock);
    int r = 0;
    for (size_t i = 0; i < h->npats; i++) {
        if (h->pats[i].sub == s && !strcmp(h->pats[i].glob, glob)) {
            remove_pattern_at(h, i);
            r = 1;
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}

size_t rc_sub_count(rc_hub *h, const rc_sub *s) {
    pthread_mutex_lock(&h->lock);
    size_t n = s->nchan + s->npat;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* ---- subscribers -------------------------------------------------------- */

/* A group's turn record goes with its last member. Called with the lock. */
static void group_drop_if_empty(rc_hub *h, const char *name) {
    for (rc_sub *s = h->subs; s; s = s->next)
        if (s->group && !strcmp(s->group, name)) return;
    for (group_rr **pp = &h->groups; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, name)) continue;
        group_rr *g = *pp;
        *pp = g->next;
        free(g->name);
        free(g);
        return;
    }
}

rc_sub *rc_hub_subscribe(rc_hub *h, const rc_sub_opts *o) {
    if (!o->deliver) return NULL;
    rc_sub *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->name = o->name ? strdup(o->name) : NULL;
    s->group = o->group ? strdup(o->group) : NULL;
    if ((o->name && !s->name) || (o->group && !s->group)) {
        sub_free(s);
        return NULL;
    }
    s->deliver = o->deliver;
    s->arg = o->arg;
    s->filter = o->filter;
    s->filter_arg = o->filter_arg;
    s->match_all = o->match_all;
    s->observer = o->observer ? 1 : 0;
    pthread_mutex_lock(&h->lock);
    s->next = h->subs;
    if (h->subs) h->subs->prev = s;
    h->subs = s;
    h->nsubs++;
    h->nobservers += (size_t)s->observer;
    h->nmatch_all += s->match_all ? 1 : 0;
    pthread_mutex_unlock(&h->lock);
    return s;
}

int rc_sub_set_name(rc_hub *h, rc_sub *s, const char *name) {
    char *n = name && *name ? strdup(name) : NULL;
    if (name && *name && !n) return RC_NOMEM;
    pthread_mutex_lock(&h->lock);
    free(s->name);
    s->name = n;
    pthread_mutex_unlock(&h->lock);
    return RC_OK;
}

void rc_hub_unsubscribe(rc_hub *h, rc_sub *s) {
    if (!s) return;
    pthread_mutex_lock(&h->lock);
    /* Channels: walk the table only if the subscriber has any. */
    for (size_t i = 0; s->nchan && i < h->nbuckets; i++) {
        for (chan *c = h->buckets[i], *n; c; c = n) {
            n = c->next;
            for (size_t k = 0; k < c->n; k++)
                if (c->subs[k] == s) {
                    del_channel_locked(h, s, c->name);
                    break;
                }
        }
    }
    for (size_t i = h->npats; i-- > 0;)
        if (h->pats[i].sub == s) remove_pattern_at(h, i);
    if (s->prev) s->prev->next = s->next;
    else h->subs = s->next;
    if (s->next) s->next->prev = s->prev;
    h->nsubs--;
    h->nobservers -= (size_t)s->observer;
    h->nmatch_all -= s->match_all ? 1 : 0;
    if (s->group) group_drop_if_empty(h, s->group);
    pthread_mutex_unlock(&h->lock);
    sub_free(s);
}

int rc_hub_add_batch_hook(rc_hub *h, rc_hub_batch_fn fn, void *arg) {
    pthread_mutex_lock(&h->lock);
    batch_hook *nh = realloc(h->hooks, (h->nhooks + 1) * sizeof *nh);
    if (!nh) {
        pthread_mutex_unlock(&h->lock);
        return RC_NOMEM;
    }
    h->hooks = nh;
    h->hooks[h->nhooks++] = (batch_hook){fn, arg};
    pthread_mutex_unlock(&h->lock);
    return RC_OK;
}

void rc_hub_del_batch_hook(rc_hub *h, rc_hub_batch_fn fn, void *arg) {
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nhooks; i++) {
        if (h->hooks[i].fn != fn || h->hooks[i].arg != arg) continue;
        h->hooks[i] = h->hooks[--h->nhooks];
        break;
    }
    pthread_mutex_unlock(&h->lock);
}

/* ---- introspection ------------------------------------------------------ */

size_t rc_hub_numsub(rc_hub *h, const char *channel) {
    pthread_mutex_lock(&h->lock);
    chan *c = *chan_slot(h, channel);
    size_t n = c ? c->n : 0;
    pthread_mutex_unlock(&h->lock);
    return n;
}

size_t rc_hub_numpat(rc_hub *h) {
    pthread_mutex_lock(&h->lock);
    size_t n = h->npats;
    pthread_mutex_unlock(&h->lock);
    return n;
}

size_t rc_hub_subscribers(rc_hub *h) {
    pthread_mutex_lock(&h->lock);
    size_t n = h->nsubs - h->nobservers; /* the server's own observers are not subscribers */
    pthread_mutex_unlock(&h->lock);
    return n;
}

void rc_hub_channels(rc_hub *h, const char *glob, rc_hub_channel_fn fn, void *arg) {
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->nbuckets; i++)
        for (chan *c = h->buckets[i]; c; c = c->next)
            if (!glob || rc_glob_match(glob, strlen(glob), c->name, strlen(c->name), 0)) fn(arg, c->name);
    pthread_mutex_unlock(&h->lock);
}

void rc_hub_set_head(rc_hub *h, uint64_t seq) {
    pthread_mutex_lock(&h->lock);
    if (seq > h->head) h->head = seq;
    pthread_mutex_unlock(&h->lock);
}

uint64_t rc_hub_head(rc_hub *h) {
    pthread_mutex_lock(&h->lock);
    uint64_t v = h->head;
    pthread_mutex_unlock(&h->lock);
    return v;
}

uint64_t rc_hub_wait(rc_hub *h, uint64_t after, int timeout_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    while (h->head <= after && timeout_ms > 0)
        if (pthread_cond_timedwait(&h->moved, &h->lock, &dl)) break;
    uint64_t v = h->head;
    pthread_mutex_unlock(&h->lock);
    return v;
}

/* ---- publishing --------------------------------------------------------- */

static void cand_push(rc_hub *h, rc_sub *s, const char *pattern, int via_channel) {
    if (h->ncand == h->capcand) {
        h->capcand = h->capcand ? h->capcand * 2 : 32;
        h->cand = xrealloc(h->cand, h->capcand * sizeof *h->cand);
    }
    h->cand[h->ncand++] = (struct cand){s, pattern, via_channel};
}

static group_rr *group_get(rc_hub *h, const char *name) {
    for (group_rr *g = h->groups; g; g = g->next)
        if (!strcmp(g->name, name)) return g;
    group_rr *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->name = xstrdup(name);
    g->next = h->groups;
    h->groups = g;
    return g;
}

static int passes(const rc_sub *s, const rc_event *ev) {
    return !s->filter || s->filter(s->filter_arg, ev);
}

static void deliver(rc_sub *s, const rc_event *ev, const char *channel, const char *pattern, int via) {
    rc_delivery d = {ev, channel, pattern, via};
    s->deliver(s->arg, &d);
}

/* Pick one candidate among those whose subscriber satisfies keep(), in turn. */
static struct cand *pick_one(rc_hub *h, uint64_t *turn, const char *name, int by_group) {
    size_t n = 0;
    h->pass++;
    for (size_t i = 0; i < h->ncand; i++) {
        rc_sub *s = h->cand[i].sub;
        const char *k = by_group ? s->group : NULL;
        if (by_group && (!k || strcmp(k, name))) continue;
        if (s->mark == h->pass) continue;
        s->mark = h->pass;
        n++;
    }
    if (!n) return NULL;
    size_t want = (size_t)((*turn)++ % n);
    h->pass++;
    for (size_t i = 0; i < h->ncand; i++) {
        rc_sub *s = h->cand[i].sub;
        if (by_group && (!s->group || strcmp(s->group, name))) continue;
        if (s->mark == h->pass) continue;
        s->mark = h->pass;
        if (want-- == 0) return &h->cand[i];
    }
    return NULL;
}

static void collect_matching(rc_hub *h, const rc_event *ev, const char *channel) {
    chan *c = *chan_slot(h, channel);
    for (size_t i = 0; c && i < c->n; i++)
        if (passes(c->subs[i], ev)) cand_push(h, c->subs[i], NULL, 1);
    size_t clen = strlen(channel);
    for (size_t i = 0; i < h->npats; i++) {
        pat *p = &h->pats[i];
        if (rc_glob_match(p->glob, strlen(p->glob), channel, clen, 0) && passes(p->sub, ev))
            cand_push(h, p->sub, p->glob, 0);
    }
    for (rc_sub *s = h->nmatch_all ? h->subs : NULL; s; s = s->next)
        if (s->match_all && passes(s, ev)) cand_push(h, s, NULL, 0);
}

/* Keep only the candidates that are addressees (not observers). */
static void drop_observers(rc_hub *h) {
    size_t k = 0;
    for (size_t i = 0; i < h->ncand; i++)
        if (!h->cand[i].sub->observer) h->cand[k++] = h->cand[i];
    h->ncand = k;
}

/* Broadcast and unicast choose among addressees; observers still see what
 * they match (a read cache must hear of every KV change, whoever the event
 * was cast to, and must not be handed events it did not ask for). */
static void observe(rc_hub *h, const rc_event *ev, const char *channel) {
    if (!h->nobservers) return;
    h->ncand = 0;
    collect_matching(h, ev, channel);
    size_t n = h->ncand;
    for (size_t i = 0; i < n; i++)
        if (h->cand[i].sub->observer)
            deliver(h->cand[i].sub, ev, channel, h->cand[i].pattern, h->cand[i].via_channel);
}

static void unicast(rc_hub *h, const rc_event *ev, const char *channel, const rc_ext *to) {
    if (to && to->s) {
        /* A named target: a subscriber by name, else a group member in turn. */
        for (rc_sub *s = h->subs; s; s = s->next)
            if (!s->observer && s->name && !strcmp(s->name, to->s)) {
                deliver(s, ev, channel, NULL, 1);
                return;
            }
        for (rc_sub *s = h->subs; s; s = s->next)
            if (!s->observer && s->group && !strcmp(s->group, to->s)) cand_push(h, s, NULL, 1);
        /* castto comes from the event, i.e. from clients: keep turn
         * state only for groups that exist, or every unknown name would
         * leave a record behind (unbounded memory, slower lookups). */
        if (!h->ncand) return;
        struct cand *c = pick_one(h, &group_get(h, to->s)->turn, to->s, 1);
        if (c) deliver(c->sub, ev, channel, c->pattern, c->via_channel);
        return;
    }
    collect_matching(h, ev, channel);
    drop_observers(h);
    struct cand *c = pick_one(h, &h->rr, NULL, 0);
    if (c) deliver(c->sub, ev, channel, c->pattern, c->via_channel);
}

static void publish_one(rc_hub *h, const rc_event *ev) {
    const char *channel = rc_event_channel(ev);
    const rc_ext *mode = rc_event_ext(ev, "castmode");
    const rc_ext *to = rc_event_ext(ev, "castto");
    const char *m = mode && mode->s ? mode->s : "multicast";
    h->ncand = 0;

    if (!strcmp(m, "broadcast")) {
        for (rc_sub *s = h->subs; s; s = s->next)
            if (!s->observer) deliver(s, ev, channel, NULL, 1);
        observe(h, ev, channel);
        return;
    }
    if (!strcmp(m, "unicast")) {
        unicast(h, ev, channel, to);
        observe(h, ev, channel);
        return;
    }
    /* multicast: everyone matching; a group counts as one subscriber. */
    collect_matching(h, ev, channel);
    size_t n = h->ncand;
    for (size_t i = 0; i < n; i++) {
        struct cand c = h->cand[i];
        if (!c.sub->group) {
            deliver(c.sub, ev, channel, c.pattern, c.via_channel);
            continue;
        }
        /* First candidate of its group in this pass: choose the member. */
        int seen = 0;
        for (size_t k = 0; k < i; k++)
            if (h->cand[k].sub->group && !strcmp(h->cand[k].sub->group, c.sub->group)) seen = 1;
        if (seen) continue;
        struct cand *pick = pick_one(h, &group_get(h, c.sub->group)->turn, c.sub->group, 1);
        if (pick) deliver(pick->sub, ev, channel, pick->pattern, pick->via_channel);
    }
}

void rc_hub_publish_hook(void *arg, rc_event *const *evs, size_t n) {
    rc_hub *h = arg;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < n; i++) {
        publish_one(h, evs[i]);
        if (evs[i]->seq > h->head) h->head = evs[i]->seq;
    }
    for (size_t i = 0; i < h->nhooks; i++) h->hooks[i].fn(h->hooks[i].arg);
    pthread_cond_broadcast(&h->moved);
    pthread_mutex_unlock(&h->lock);
}
