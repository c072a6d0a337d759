/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pub/sub: PUBLISH appends an io.redcar.message event (subject = channel,
 * data = message); SUBSCRIBE and friends register with the hub, whose
 * deliver callback runs on the store writer thread and only copies the
 * message into the client's inbox under door->qmu and wakes the loop.
 * A subscriber whose queued output passes client-output-buffer-limit-pubsub
 * is disconnected (logged and counted), like Redis.
 *
 * A subscriber receives the event's data bytes by default. After
 * `CLIENT CEFORMAT json` it receives the whole CloudEvent in the JSON event
 * format (with its `seq`), so any event on the log can be consumed in full.
 *
 * Keyspace notifications (notify-keyspace-events) are derived from the
 * io.redcar.kv.* events and the events of stream subjects (streamkey.h:
 * xadd, xdel, xtrim, del; consumer groups note theirs) and delivered by the door itself to its own
 * subscribers of __keyspace@0__:<key> / __keyevent@0__:<event>; they are
 * not events in the log.
 */
#include <stdlib.h>
#include <string.h>

#include "redcar/log.h"
#include "resp/door.h"
#include "resp/streamkey.h"

/* ---- delivery (store writer thread) -------------------------------------------- */

void rc__r_frame_unref(rc__frame *f) {
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) free(f);
}

void rc__r_frames_push(rc__frames *q, rc__frame *f) {
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        rc__frame **v = realloc(q->v, cap * sizeof *v);
        if (!v) abort();
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n++] = f;
}

void rc__r_frames_clear(rc__frames *q) {
    for (size_t i = 0; i < q->n; i++) rc__r_frame_unref(q->v[i]);
    q->n = 0;
}

void rc__r_frames_free(rc__frames *q) {
    rc__r_frames_clear(q);
    free(q->v);
    q->v = NULL;
    q->cap = 0;
}

static void fcache_drop(rc_resp *d) {
    for (size_t i = 0; i < d->nfcache; i++) rc__r_frame_unref(d->fcache[i].f);
    d->nfcache = 0;
    d->fc_ev = NULL;
    d->fc_seq = 0;
}

static rc__frame *frame_build(const rc_delivery *dl, int proto, int json) {
    const rc_event *ev = dl->ev;
    rc_buf b = RC_BUF_INIT, js = RC_BUF_INIT;
    const void *payload = ev->data ? (const void *)ev->data : "";
    size_t plen = ev->data_len;
    if (json) {
        rc_event_encode_json(ev, RC_ENC_SEQ, &js);
        payload = js.p;
        plen = js.len;
    }
    const char *chan = dl->channel ? dl->channel : rc_event_channel(ev);
    rc_buf_reserve(&b, sizeof(rc__frame) + plen + strlen(chan) + 64);
    b.len = sizeof(rc__frame); /* the header goes in front of the bytes */
    rc_resp_w w = {&b, proto};
    if (dl->pattern && !dl->via_channel) {
        rc_resp_w_push(&w, 4);
        rc_resp_w_bulk(&w, "pmessage", 8);
        rc_resp_w_bulkstr(&w, dl->pattern);
    } else {
        rc_resp_w_push(&w, 3);
        rc_resp_w_bulk(&w, "message", 7);
    }
    rc_resp_w_bulkstr(&w, chan);
    rc_resp_w_bulk(&w, payload, plen);
    rc_buf_free(&js);
    size_t len;
    rc__frame *f = (rc__frame *)rc_buf_detach(&b, &len);
    if (!f) abort();
    f->len = len - sizeof(rc__frame);
    atomic_init(&f->refs, 1);
    return f;
}

/* The frame of this delivery's variant, built on first use for the event;
 * returns a new reference. */
static rc__frame *frame_for(rc_resp *d, const rc_delivery *dl, int proto, int json) {
    if (d->fc_ev != dl->ev || d->fc_seq != dl->ev->seq) {
        fcache_drop(d);
        d->fc_ev = dl->ev;
        d->fc_seq = dl->ev->seq;
    }
    const char *pattern = dl->pattern && !dl->via_channel ? dl->pattern : NULL;
    for (size_t i = 0; i < d->nfcache; i++) {
        struct rc__fcache *e = &d->fcache[i];
        if (e->proto == proto && e->json == json &&
            (e->pattern == pattern || (e->pattern && pattern && !strcmp(e->pattern, pattern)))) {
            atomic_fetch_add(&e->f->refs, 1);
            return e->f;
        }
    }
    rc__frame *f = frame_build(dl, proto, json);
    if (d->nfcache < sizeof d->fcache / sizeof d->fcache[0]) {
        d->fcache[d->nfcache++] = (struct rc__fcache){proto, json, pattern, f};
        atomic_fetch_add(&f->refs, 1);
    }
    return f;
}

static void stage(rc_resp *d, rc__client *cl, rc__frame *f) {
    if (d->nstage == d->capstage) {
        size_t cap = d->capstage ? d->capstage * 2 : 256;
        struct rc__staged *v = realloc(d->stage, cap * sizeof *v);
        if (!v) abort();
        d->stage = v;
        d->capstage = cap;
    }
    d->stage[d->nstage++] = (struct rc__staged){cl, f};
}

/* The hub's deliver callback: runs on the writer thread with the hub
 * locked, so the staging area needs no lock of its own. */
static void deliver(void *arg, const rc_delivery *dl) {
    rc__client *cl = arg;
    rc_resp *d = cl->door;
    const rc_event *ev = dl->ev;
    if (ev->seq) { /* receiver count for the PUBLISH reply */
        size_t i = ev->seq % RC__PUBRING;
        if (d->pubring[i].seq != ev->seq) {
            d->pubring[i].seq = ev->seq;
            d->pubring[i].n = 0;
        }
        d->pubring[i].n++;
    }
    atomic_fetch_add(&d->st_pubsub_msgs, 1);
    if (cl->w_overflow) return;
    rc__frame *f = frame_for(d, dl, atomic_load(&cl->proto), atomic_load(&cl->ce_json));
    cl->staged += f->len;
    if (cl->out_limit &&
        cl->staged + atomic_load(&cl->in_bytes) + atomic_load(&cl->out_len) > cl->out_limit) {
        cl->w_overflow = 1;
        rc__r_frame_unref(f);
        f = NULL; /* staged as "over the limit" */
    }
    stage(d, cl, f);
}

void rc__r_deliver_batch(void *arg) {
    rc_resp *d = arg;
    fcache_drop(d);
    if (!d->nstage) return;
    pthread_mutex_lock(&d->qmu);
    for (size_t i = 0; i < d->nstage; i++) {
        rc__client *cl = d->stage[i].cl;
        rc__frame *f = d->stage[i].f;
        cl->staged = 0;
        if (!f) {
            cl->overflow = 1;
            rc__r_frames_clear(&cl->inbox);
            atomic_store(&cl->in_bytes, 0);
        } else if (cl->overflow) {
            rc__r_frame_unref(f);
            continue;
        } else {
            rc__r_frames_push(&cl->inbox, f);
            atomic_fetch_add(&cl->in_bytes, f->len);
        }
        rc__r_inbox_dirty(d, cl);
    }
    d->nstage = 0;
    int w = rc__r_arm(d);
    pthread_mutex_unlock(&d->qmu);
    if (w) rc__r_wake(d);
    if (d->capstage > 65536) { /* give a burst's memory back */
        free(d->stage);
        d->stage = NULL;
        d->capstage = 0;
    }
}

/* ---- subscriptions (loop thread) ------------------------------------------------ */

static int list_has(char **l, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i], s) == 0) return (int)i + 1;
    return 0;
}

static void list_add(char ***l, size_t *n, const char *s, size_t len) {
    char **nl = realloc(*l, (*n + 1) * sizeof *nl);
    if (!nl) abort();
    nl[*n] = rc__r_strndup(s, len);
    *l = nl;
    (*n)++;
}

static void list_del(char **l, size_t *n, int idx1) {
    free(l[idx1 - 1]);
    l[idx1 - 1] = l[*n - 1];
    (*n)--;
}

static int ensure_sub(rc__call *c) {
    rc__client *cl = c->cl;
    if (cl->sub) return 1;
    rc_sub_opts o = {0};
    o.name = cl->name;
    o.deliver = deliver;
    o.arg = cl;
    cl->out_limit = c->door->cfg ? (size_t)rc_config_int(c->door->cfg, "client-output-buffer-limit-pubsub")
                                 : 32u * 1024 * 1024;
    cl->sub = rc_hub_subscribe(c->door->hub, &o);
    if (!cl->sub) {
        rc_resp_w_error(&c->w, "ERR cannot subscribe: out of memory");
        return 0;
    }
    return 1;
}

static void confirm(rc__call *c, const char *kind, const char *name, size_t len) {
    rc_resp_w_push(&c->w, 3);
    rc_resp_w_bulkstr(&c->w, kind);
    if (name) rc_resp_w_bulk(&c->w, name, len);
    else rc_resp_w_null(&c->w);
    rc_resp_w_int(&c->w, (int64_t)c->cl->nsubs);
}

static void subscribe(rc__call *c, int pattern) {
    rc__client *cl = c->cl;
    for (size_t i = 1; i < c->argc; i++)
        if (!rc__r_key_ok(c, i)) return;
    if (!ensure_sub(c)) return;
    for (size_t i = 1; i < c->argc; i++) {
        const char *ch = c->argv[i];
        if (pattern) {
            if (!list_has(cl->pats, cl->npats, ch)) {
                rc_sub_add_pattern(c->door->hub, cl->sub, ch);
                list_add(&cl->pats, &cl->npats, ch, c->argvlen[i]);
            }
        } else if (!list_has(cl->chans, cl->nchans, ch)) {
            rc_sub_add_channel(c->door->hub, cl->sub, ch);
            list_add(&cl->chans, &cl->nchans, ch, c->argvlen[i]);
        }
        cl->nsubs = cl->nchans + cl->npats;
        confirm(c, pattern ? "psubscribe" : "subscribe", ch, c->argvlen[i]);
    }
}

static void unsubscribe(rc__call *c, int pattern) {
    rc__client *cl = c->cl;
    char ***l = pattern ? &cl->pats : &cl->chans;
    size_t *n = pattern ? &cl->npats : &cl->nchans;
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    /* messages already queued must reach the client before the confirmation */
    rc__r_flush_inbox(cl);
    if (c->argc == 1) {
        if (*n == 0) {
            confirm(c, kind, NULL, 0);
            return;
        }
        while (*n) {
            char *name = rc__r_strndup((*l)[*n - 1], strlen((*l)[*n - 1]));
            if (pattern) rc_sub_del_pattern(c->door->hub, cl->sub, name);
            else rc_sub_del_channel(c->door->hub, cl->sub, name);
            list_del(*l, n, (int)*n);
            cl->nsubs = cl->nchans + cl->npats;
            confirm(c, kind, name, strlen(name));
            free(name);
        }
        return;
    }
    for (size_t i = 1; i < c->argc; i++) {
        int at = list_has(*l, *n, c->argv[i]);
        if (at) {
            if (pattern) rc_sub_del_pattern(c->door->hub, cl->sub, c->argv[i]);
            else rc_sub_del_channel(c->door->hub, cl->sub, c->argv[i]);
            list_del(*l, n, at);
        }
        cl->nsubs = cl->nchans + cl->npats;
        confirm(c, kind, c->argv[i], c->argvlen[i]);
    }
}

void rc__r_pubsub_drop(rc__client *cl) {
    if (cl->sub) rc_hub_unsubscribe(cl->door->hub, cl->sub);
    cl->sub = NULL;
    for (size_t i = 0; i < cl->nchans; i++) free(cl->chans[i]);
    for (size_t i = 0; i < cl->npats; i++) free(cl->pats[i]);
    free(cl->chans);
    free(cl->pats);
    cl->chans = cl->pats = NULL;
    cl->nchans = cl->npats = cl->nsubs = 0;
}

void rc__r_cmd_subscribe(rc__call *c) { subscribe(c, 0); }
void rc__r_cmd_psubscribe(rc__call *c) { subscribe(c, 1); }
void rc__r_cmd_unsubscribe(rc__call *c) { unsubscribe(c, 0); }
void rc__r_cmd_punsubscribe(rc__call *c) { unsubscribe(c, 1); }

void rc__r_cmd_publish(rc__call *c) {
    if (!rc__r_key_ok(c, 1)) return;
    rc_event *ev = rc_api_message_event(RC__SOURCE, c->argv[1], c->argv[2], c->argvlen[2]);
    if (!ev) {
        rc_resp_w_error(&c->w, "ERR out of memory");
        return;
    }
    /* The loop reply counts the actual deliveries; inside EXEC the count of
     * channel subscribers now is the best available answer. */
    rc__r_append(c, &ev, 1, RC__R_PUBLISH, (int64_t)rc_hub_numsub(c->door->hub, c->argv[1]));
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* PUBSUB NUMPAT is the number of distinct patterns (Redis since 6.2: two
 * clients on "a.*" count once). The hub counts (subscriber, pattern) pairs,
 * so count over this door's own clients, which the loop thread owns. */
static int64_t distinct_patterns(rc_resp *d) {
    size_t n = 0;
    for (rc__client *cl = d->all; cl; cl = cl->next) n += cl->npats;
    if (n == 0) return 0;
    char **v = malloc(n * sizeof *v);
    if (!v) return -1;
    size_t at = 0;
    for (rc__client *cl = d->all; cl; cl = cl->next)
        for (size_t i = 0; i < cl->npats; i++) v[at++] = cl->pats[i];
    qsort(v, n, sizeof *v, str_cmp);
    int64_t distinct = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1], v[i]) != 0) distinct++;
    free(v);
    return distinct;
}

typedef struct chlist {
    rc_buf names;
    size_t n;
} chlist;

static void on_channel(void *arg, const char *ch) {
    chlist *l = arg;
    rc_buf_append(&l->names, ch, strlen(ch) + 1);
    l->n++;
}

void rc__r_cmd_pubsub(rc__call *c) {
    rc_hub *hub = c->door->hub;
    const char *sub = c->argv[1];
    if (rc__r_streq(sub, "CHANNELS") && c->argc <= 3) {
        chlist l = {RC_BUF_INIT, 0};
        rc_hub_channels(hub, c->argc == 3 ? c->argv[2] : NULL, on_channel, &l);
        rc_resp_w_array(&c->w, l.n);
        const char *p = l.names.p;
        for (size_t i = 0; i < l.n; i++) {
            rc_resp_w_bulkstr(&c->w, p);
            p += strlen(p) + 1;
        }
        rc_buf_free(&l.names);
    } else if (rc__r_streq(sub, "NUMSUB")) {
        rc_resp_w_map(&c->w, c->argc - 2);
        for (size_t i = 2; i < c->argc; i++) {
            rc_resp_w_bulk(&c->w, c->argv[i], c->argvlen[i]);
            rc_resp_w_int(&c->w, (int64_t)rc_hub_numsub(hub, c->argv[i]));
        }
    } else if (rc__r_streq(sub, "NUMPAT") && c->argc == 2) {
        int64_t n = distinct_patterns(c->door);
        if (n < 0) rc_resp_w_error(&c->w, "ERR out of memory");
        else rc_resp_w_int(&c->w, n);
    } else {
        rc_resp_w_errorf(&c->w, "ERR unknown subcommand or wrong number of arguments for '%.64s'. "
                                "Try PUBSUB HELP.", sub);
    }
}

/* ---- keyspace notifications ------------------------------------------------------ */

enum { KS_K = 1, KS_E = 2, KS_G = 4, KS_STR = 8, KS_LIST = 16, KS_HASH = 32, KS_EXP = 64, KS_STREAM = 128 };

static unsigned ks_parse(const char *s) {
    unsigned f = 0;
    for (; *s; s++) {
        switch (*s) {
        case 'K': f |= KS_K; break;
        case 'E': f |= KS_E; break;
        case 'g': f |= KS_G; break;
        case '$': f |= KS_STR; break;
        case 'l': f |= KS_LIST; break;
        case 'h': f |= KS_HASH; break;
        case 'x': f |= KS_EXP; break;
        case 't': f |= KS_STREAM; break;
        case 'A': f |= KS_G | KS_STR | KS_LIST | KS_HASH | KS_EXP | KS_STREAM; break;
        default: break; /* classes Redcar has no events for (z, s, m, n, e, d) */
        }
    }
    if (!(f & (KS_K | KS_E))) return 0;
    return f;
}

static const struct {
    const char *op;
    const char *name;
    unsigned cls;
} ks_map[] = {
    {"put", "set", KS_STR},        {"delete", "del", KS_G},       {"expired", "expired", KS_EXP},
    {"expire", "expire", KS_G},    {"rename", "rename_from", KS_G}, {"hset", "hset", KS_HASH},
    {"hdel", "hdel", KS_HASH},     {"lpush", "lpush", KS_LIST},   {"rpush", "rpush", KS_LIST},
    {"lpop", "lpop", KS_LIST},     {"rpop", "rpop", KS_LIST},
};

static void ks_record(rc_buf *b, const char *key, const char *name) {
    uint32_t kl = (uint32_t)strlen(key), nl = (uint32_t)strlen(name);
    rc_buf_append(b, &kl, sizeof kl);
    rc_buf_append(b, key, kl);
    rc_buf_append(b, &nl, sizeof nl);
    rc_buf_append(b, name, nl);
}

static int ks_filter(void *arg, const rc_event *ev) {
    (void)arg;
    return ev->type && ev->subject; /* KV events, and every event of a stream subject */
}

/* An event of a stream subject: its Redis event name, class t (or g). */
static void ks_stream(rc_resp *d, const rc_event *ev) {
    int generic;
    const char *name = rc__r_stream_event_name(ev, &generic);
    if (!name) return;
    pthread_mutex_lock(&d->qmu);
    int w = 0;
    if (d->ks_flags & (generic ? KS_G : KS_STREAM)) {
        ks_record(&d->ks_pending, ev->subject, name);
        w = rc__r_arm(d);
    }
    pthread_mutex_unlock(&d->qmu);
    if (w) rc__r_wake(d);
}

static _Thread_local rc_buf *tl_held; /* EXEC's notes (writer thread) */

void rc__r_keyspace_hold(rc_buf *held) { tl_held = held; }

void rc__r_keyspace_note(rc_resp *d, const char *key, const char *event) {
    if (tl_held) {
        ks_record(tl_held, key, event);
        return;
    }
    pthread_mutex_lock(&d->qmu);
    int w = 0;
    if (d->ks_flags & KS_STREAM) {
        ks_record(&d->ks_pending, key, event);
        w = rc__r_arm(d);
    }
    pthread_mutex_unlock(&d->qmu);
    if (w) rc__r_wake(d);
}

void rc__r_keyspace_release(rc_resp *d, rc_buf *held) {
    if (!held->len) return;
    pthread_mutex_lock(&d->qmu);
    int w = 0;
    if (d->ks_flags & KS_STREAM) {
        rc_buf_append(&d->ks_pending, held->p, held->len);
        w = rc__r_arm(d);
    }
    pthread_mutex_unlock(&d->qmu);
    rc_buf_reset(held);
    if (w) rc__r_wake(d);
}

static void ks_deliver(void *arg, const rc_delivery *dl) {
    rc_resp *d = arg;
    const rc_event *ev = dl->ev;
    if (strncmp(ev->type, RC_KV_TYPE_PREFIX, strlen(RC_KV_TYPE_PREFIX)) != 0) {
        ks_stream(d, ev);
        return;
    }
    const char *op = ev->type + strlen(RC_KV_TYPE_PREFIX);
    for (size_t i = 0; i < sizeof ks_map / sizeof ks_map[0]; i++) {
        if (strcmp(op, ks_map[i].op) != 0) continue;
        pthread_mutex_lock(&d->qmu);
        int w = 0;
        if (d->ks_flags & ks_map[i].cls) {
            const char *name = ks_map[i].name;
            if (!strcmp(op, "expire") && !rc_event_ext(ev, "expires")) name = "persist";
            ks_record(&d->ks_pending, ev->subject, name);
            if (!strcmp(op, "rename")) {
                const rc_ext *x = rc_event_ext(ev, "newkey");
                if (x && x->s) ks_record(&d->ks_pending, x->s, "rename_to");
            }
            w = rc__r_arm(d);
        }
        pthread_mutex_unlock(&d->qmu);
        if (w) rc__r_wake(d);
        return;
    }
}

void rc__r_keyspace_configure(rc_resp *d) {
    char s[64] = "";
    if (d->cfg) rc_config_str(d->cfg, "notify-keyspace-events", s, sizeof s);
    unsigned f = ks_parse(s);
    pthread_mutex_lock(&d->qmu);
    d->ks_flags = f;
    pthread_mutex_unlock(&d->qmu);
    if (f && !d->ks_sub) {
        rc_sub_opts o = {0};
        o.name = "redcar-resp-keyspace";
        o.deliver = ks_deliver;
        o.arg = d;
        o.filter = ks_filter;
        o.match_all = 1;
        o.observer = 1; /* internal: sees every cast mode, never a broadcast/unicast target */
        d->ks_sub = rc_hub_subscribe(d->hub, &o);
    } else if (!f && d->ks_sub) {
        rc_hub_unsubscribe(d->hub, d->ks_sub);
        d->ks_sub = NULL;
    }
}

static void ks_send(rc__client *cl, const char *chan, size_t clen, const char *msg) {
    rc_resp_w w = {&cl->out, atomic_load(&cl->proto)};
    if (list_has(cl->chans, cl->nchans, chan)) {
        rc_resp_w_push(&w, 3);
        rc_resp_w_bulk(&w, "message", 7);
        rc_resp_w_bulk(&w, chan, clen);
        rc_resp_w_bulkstr(&w, msg);
    }
    for (size_t i = 0; i < cl->npats; i++) {
        if (!rc_glob_match(cl->pats[i], strlen(cl->pats[i]), chan, clen, 0)) continue;
        rc_resp_w_push(&w, 4);
        rc_resp_w_bulk(&w, "pmessage", 8);
        rc_resp_w_bulkstr(&w, cl->pats[i]);
        rc_resp_w_bulk(&w, chan, clen);
        rc_resp_w_bulkstr(&w, msg);
    }
}

/* Loop thread: turn the queued records into messages for subscribers. */
void rc__r_keyspace_flush(rc_resp *d) {
    pthread_mutex_lock(&d->qmu);
    rc_buf b = d->ks_pending;
    unsigned f = d->ks_flags;
    rc_buf_init(&d->ks_pending);
    pthread_mutex_unlock(&d->qmu);
    size_t at = 0;
    rc_buf chan = RC_BUF_INIT;
    while (at + 4 <= b.len) {
        uint32_t kl, nl;
        memcpy(&kl, b.p + at, 4);
        const char *key = b.p + at + 4;
        memcpy(&nl, b.p + at + 4 + kl, 4);
        char *name = b.p + at + 8 + kl;
        at += 8 + kl + nl;
        char *keyz = rc__r_strndup(key, kl), *namez = rc__r_strndup(name, nl);
        for (rc__client *cl = d->all; cl; cl = cl->next) {
            if (!cl->nsubs) continue;
            if (f & KS_K) {
                rc_buf_reset(&chan);
                rc_buf_puts(&chan, "__keyspace@0__:");
                rc_buf_puts(&chan, keyz);
                ks_send(cl, chan.p, chan.len, namez);
            }
            if (f & KS_E) {
                rc_buf_reset(&chan);
                rc_buf_puts(&chan, "__keyevent@0__:");
                rc_buf_puts(&chan, namez);
                ks_send(cl, chan.p, chan.len, keyz);
            }
        }
        free(keyz);
        free(namez);
    }
    rc_buf_free(&chan);
    rc_buf_free(&b);
}
