/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NATS side of cluster mode (see redcar/cluster.h, docs/cluster.md).
 * The only place that includes nats.h.
 *
 * - Publishing: js_PublishMsgAsync with Nats-Msg-Id and the expectations;
 *   the ack handler (a nats.c thread) hands each answer to the store by the
 *   token in the Rc-Token header.
 * - Applying: one thread pulls the stream from the local position + 1 with an
 *   ephemeral pull consumer and gives each message to rc_store_apply, in
 *   order. Any error, a failed apply, or a stream that has messages the
 *   consumer does not deliver (the server holding the consumer died) makes
 *   it start a new consumer from the local position.
 * - Seeding: a new node's empty data directory can start from a peer's
 *   snapshot (its GET /backup), which carries the peer's stream position.
 * - Refusal: when the local position is beyond the stream's last seq (the
 *   stream was recreated or lost) or before its first (trimmed), the node
 *   refuses writes instead of diverging.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <nats/nats.h>

#include "redcar/cluster.h"
#include "redcar/log.h"

#define STREAM "REDCAR"
#define SUBJECT "redcar.log"
#define DEDUP_WINDOW_NS (120LL * 1000000000LL) /* Nats-Msg-Id window: 2 minutes */
#define PUB_WAIT_MS 10000                       /* a publish not acked by then fails */
#define APPLY_WAIT_MS 60000                     /* a published write not applied by then fails */
#define FETCH_BATCH 256
#define FETCH_WAIT_MS 500
#define CHECK_EVERY_MS 1000                     /* stream info while idle */
#define SUBSCRIBE_WAIT_MS 1500                  /* creating the pull consumer */
#define MAX_SERVERS 16

struct rc_cluster {
    rc_store *st;
    natsOptions *no;
    natsConnection *nc;
    jsCtx *js;
    char nodeid[160];         /* Rc-Node: name/boot, unique per process */
    int replicas;
    pthread_t thread;
    int started;
    atomic_int stop;
    pthread_mutex_t mu;
    int refusing;             /* (mu) */
    uint64_t stream_last;     /* (mu) */
    char why[200];            /* (mu) */
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int nats_err(rc_err *err, natsStatus s, jsErrCode jerr, const char *what) {
    if (jerr)
        return rc_err_set(err, RC_BUSY, "cluster: %s: %s (JetStream error %d)", what,
                          natsStatus_GetText(s), (int)jerr);
    return rc_err_set(err, RC_BUSY, "cluster: %s: %s", what, natsStatus_GetText(s));
}

/* ---- publishing ----------------------------------------------------------- */

static void ack_handler(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void)js;
    rc_cluster *c = closure;
    const char *tok = NULL;
    if (natsMsgHeader_Get(msg, "Rc-Token", &tok) == NATS_OK && tok) {
        uint64_t token = strtoull(tok, NULL, 10);
        if (pa) {
            rc_store_published(c->st, token, RC_OK, pa->Sequence, pa->Duplicate, NULL);
        } else {
            rc_err e;
            int status = RC_BUSY;
            if (pae && pae->ErrCode == JSStreamWrongLastSequenceErr) {
                status = rc_err_set(&e, RC_CONFLICT, "cluster: the stream moved on");
            } else if (pae && pae->Err == NATS_TIMEOUT) {
                status = rc_err_set(&e, RC_TIMEOUT, "cluster: no acknowledgement from the stream "
                                                    "within %d ms (the write may still be stored: "
                                                    "retry it with the same source and id)",
                                    PUB_WAIT_MS);
            } else {
                rc_err_set(&e, RC_BUSY, "cluster: publish failed: %s",
                           pae && pae->ErrText ? pae->ErrText
                                               : natsStatus_GetText(pae ? pae->Err : NATS_ERR));
            }
            rc_store_published(c->st, token, status, 0, 0, &e);
        }
    }
    natsMsg_Destroy(msg);
}

static int publish(void *ctx, const rc_repl_pub *p, rc_err *err) {
    rc_cluster *c = ctx;
    natsMsg *m = NULL;
    char tok[24], exp[24], state[24];
    natsStatus s = natsMsg_Create(&m, SUBJECT, NULL, p->body, (int)p->len);
    snprintf(tok, sizeof tok, "%" PRIu64, p->token);
    if (s == NATS_OK) s = natsMsgHeader_Set(m, "Rc-Node", c->nodeid);
    if (s == NATS_OK) s = natsMsgHeader_Set(m, "Rc-Token", tok);
    if (s == NATS_OK && p->parts) s = natsMsgHeader_Set(m, "Rc-Parts", p->parts);
    if (s == NATS_OK && p->state_len) { /* consumer changes after the events (store.h) */
        snprintf(state, sizeof state, "%zu", p->state_len);
        s = natsMsgHeader_Set(m, "Rc-State", state);
    }
    if (s == NATS_OK && p->expect_seq != RC_EXPECT_ANY) {
        snprintf(exp, sizeof exp, "%" PRId64, p->expect_seq);
        s = natsMsgHeader_Set(m, "Rc-Expect-Seq", exp);
        if (s == NATS_OK && p->expect_subject)
            s = natsMsgHeader_Set(m, "Rc-Expect-Subject", p->expect_subject);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = p->msgid;
    po.MaxWait = PUB_WAIT_MS;
    /* Nats-Expected-Last-Sequence, not the per-subject header: a clustered
     * 2.9 stream checks the former against the proposals in flight too, the
     * latter only against what is already stored, which lets two racing
     * publishes both pass. It cannot say "empty" (0 means no check), hence
     * the genesis message. */
    if (p->has_expect_last) po.ExpectLastSeq = p->expect_last;
    if (s == NATS_OK) s = js_PublishMsgAsync(c->js, &m, &po);
    natsMsg_Destroy(m); /* no-op when the library took it */
    if (s != NATS_OK) return nats_err(err, s, 0, "publish");
    return RC_OK;
}

static void repl_state(void *ctx, int *connected, uint64_t *stream_last) {
    rc_cluster *c = ctx;
    *connected = c->nc && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
    pthread_mutex_lock(&c->mu);
    *stream_last = c->stream_last;
    pthread_mutex_unlock(&c->mu);
}

/* ---- the stream ------------------------------------------------------------ */

static int ensure_stream(rc_cluster *c, jsStreamInfo **out, rc_err *err) {
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(out, c->js, STREAM, NULL, &jerr);
    if (s == NATS_OK) return RC_OK;
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) return nats_err(err, s, jerr, "stream info");
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[] = {SUBJECT};
    sc.Name = STREAM;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    sc.Replicas = c->replicas;
    sc.Duplicates = DEDUP_WINDOW_NS;
    sc.DenyDelete = true;
    sc.DenyPurge = true;
    jerr = 0;
    s = js_AddStream(out, c->js, &sc, NULL, &jerr);
    if (s == NATS_OK) {
        RC_INFO("cluster", "created stream %s (subject %s, file storage, %d replicas)", STREAM, SUBJECT,
                c->replicas);
        return RC_OK;
    }
    /* another node created it first */
    if (js_GetStreamInfo(out, c->js, STREAM, NULL, NULL) == NATS_OK) return RC_OK;
    return nats_err(err, s, jerr, "creating the stream");
}

/* An empty stream gets one empty message first (every node may try: the
 * message id makes it one), so that a transaction's expectation "the
 * stream's last seq is P" always has P >= 1 to name. */
static int genesis(rc_cluster *c, rc_err *err) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = "rc1-genesis";
    po.MaxWait = PUB_WAIT_MS;
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_Publish(&pa, c->js, SUBJECT, "[]", 2, &po, &jerr);
    jsPubAck_Destroy(pa);
    return s == NATS_OK ? RC_OK : nats_err(err, s, jerr, "first message of the stream");
}

/* Compare the local position with the stream: refuse writes when they
 * cannot belong to each other. Returns 1 when serving. */
static int check_stream(rc_cluster *c, const jsStreamInfo *si) {
    uint64_t applied = rc_store_applied(c->st);
    uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
    char why[200] = "";
    if (applied > last)
        snprintf(why, sizeof why, "local store is ahead of the stream (local position %" PRIu64
                 ", stream last %" PRIu64 "): the stream was recreated or lost", applied, last);
    else if (si->State.Msgs && first > applied + 1)
        snprintf(why, sizeof why, "the stream no longer holds seq %" PRIu64 " (first %" PRIu64
                 "): catch up from a peer's snapshot", applied + 1, first);
    pthread_mutex_lock(&c->mu);
    c->stream_last = last;
    int was = c->refusing;
    c->refusing = why[0] != 0;
    snprintf(c->why, sizeof c->why, "%s", why);
    pthread_mutex_unlock(&c->mu);
    if (why[0] && !was) {
        RC_ERROR("cluster", "refusing writes: %s", why);
        rc_store_refuse_writes(c->st, RC_BUSY, why);
    } else if (!why[0] && was) {
        RC_INFO("cluster", "serving again");
        rc_store_refuse_writes(c->st, RC_OK, NULL);
    }
    return !why[0];
}

/* ---- the apply loop ---------------------------------------------------------- */

static natsSubscription *subscribe(rc_cluster *c, uint64_t from) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = STREAM;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from;
    so.Config.AckPolicy = js_AckNone;
    so.Config.InactiveThreshold = 30LL * 1000000000LL;
    /* Seen: with one of three servers dead, the first consumer request of a
     * fresh connection sometimes gets no answer; a short wait and a new
     * request beat the default 5 s. */
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = SUBSCRIBE_WAIT_MS;
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_PullSubscribe(&sub, c->js, SUBJECT, NULL, &jo, &so, &jerr);
    if (s != NATS_OK) {
        RC_DEBUG("cluster", "pull consumer from %" PRIu64 ": %s (%d)", from, natsStatus_GetText(s),
                 (int)jerr);
        return NULL;
    }
    RC_DEBUG("cluster", "applying the stream from seq %" PRIu64, from);
    return sub;
}

static int apply_msg(rc_cluster *c, natsMsg *msg, uint64_t *next) {
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return -1;
    uint64_t seq = meta->Sequence.Stream;
    int64_t ts = meta->Timestamp / 1000000;
    uint64_t behind = meta->NumPending; /* the stream's messages after this one */
    jsMsgMetaData_Destroy(meta);
    pthread_mutex_lock(&c->mu);
    if (seq + behind > c->stream_last) c->stream_last = seq + behind;
    pthread_mutex_unlock(&c->mu);
    if (seq < *next) return 0; /* already handed over */
    const char *node = NULL, *tok = NULL, *exp = NULL, *subj = NULL, *state = NULL, *parts = NULL;
    natsMsgHeader_Get(msg, "Rc-Node", &node);
    natsMsgHeader_Get(msg, "Rc-Token", &tok);
    natsMsgHeader_Get(msg, "Rc-Expect-Seq", &exp);
    natsMsgHeader_Get(msg, "Rc-Expect-Subject", &subj);
    natsMsgHeader_Get(msg, "Rc-State", &state);
    natsMsgHeader_Get(msg, "Rc-Parts", &parts);
    rc_repl_msg m = {.stream_seq = seq,
                     .time_ms = ts,
                     .mine = node && tok && !strcmp(node, c->nodeid),
                     .token = tok ? strtoull(tok, NULL, 10) : 0,
                     .expect_seq = exp ? strtoll(exp, NULL, 10) : RC_EXPECT_ANY,
                     .expect_subject = subj,
                     .body = natsMsg_GetData(msg),
                     .len = (size_t)natsMsg_GetDataLength(msg),
                     .state_len = state ? (size_t)strtoull(state, NULL, 10) : 0,
                     .parts = parts};
    rc_err err;
    rc_err_clear(&err);
    if (rc_store_apply(c->st, &m, &err) != RC_OK) {
        RC_WARN("cluster", "cannot queue stream seq %" PRIu64 ": %s", seq, rc_err_msg(&err));
        return -1;
    }
    *next = seq + 1;
    return 0;
}

static void *apply_main(void *arg) {
    rc_cluster *c = arg;
    pthread_setname_np(pthread_self(), "rc-apply");
    natsSubscription *sub = NULL;
    uint64_t next = rc_store_applied(c->st) + 1;
    int64_t last_check = 0;
    int64_t last_sweep = mono_ms();
    while (!atomic_load(&c->stop)) {
        rc_err why;
        if (mono_ms() - last_sweep >= CHECK_EVERY_MS) {
            last_sweep = mono_ms();
            int n = rc_store_sweep_pending(c->st, APPLY_WAIT_MS);
            if (n) RC_WARN("cluster", "%d writes published but not applied within %d ms: failed", n,
                           APPLY_WAIT_MS);
        }
        if (rc_store_apply_failed(c->st, &why)) {
            /* Start again from what is durable; what was queued after the
             * failed message fails its position check and is fetched again. */
            natsSubscription_Destroy(sub);
            sub = NULL;
            RC_DEBUG("cluster", "apply failed (%s): starting again from the local position",
                     rc_err_msg(&why));
            sleep_ms(200);
            next = rc_store_applied(c->st) + 1;
            /* A gap that comes back means the stream no longer holds what
             * comes next (trimmed): this refuses instead of looping. */
            jsStreamInfo *si = NULL;
            if (js_GetStreamInfo(&si, c->js, STREAM, NULL, NULL) == NATS_OK) check_stream(c, si);
            jsStreamInfo_Destroy(si);
            continue;
        }
        pthread_mutex_lock(&c->mu);
        int refusing = c->refusing;
        pthread_mutex_unlock(&c->mu);
        if (refusing) {
            /* Applying a stream that does not continue the local log would
             * mix two histories: wait (and look again) instead. */
            natsSubscription_Destroy(sub);
            sub = NULL;
            sleep_ms(CHECK_EVERY_MS);
            jsStreamInfo *si = NULL;
            if (js_GetStreamInfo(&si, c->js, STREAM, NULL, NULL) == NATS_OK) check_stream(c, si);
            jsStreamInfo_Destroy(si);
            next = rc_store_applied(c->st) + 1;
            continue;
        }
        if (!sub && !(sub = subscribe(c, next))) {
            sleep_ms(250);
            continue;
        }
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, sub, FETCH_BATCH, FETCH_WAIT_MS, &jerr);
        if (s == NATS_OK) {
            int bad = 0;
            for (int i = 0; i < list.Count && !bad; i++)
                if (apply_msg(c, list.Msgs[i], &next)) bad = 1;
            natsMsgList_Destroy(&list);
            if (bad) {
                natsSubscription_Destroy(sub);
                sub = NULL;
                next = rc_store_applied(c->st) + 1;
            }
            continue;
        }
        natsMsgList_Destroy(&list);
        if (s != NATS_TIMEOUT) {
            RC_DEBUG("cluster", "fetch: %s (%d): new consumer", natsStatus_GetText(s), (int)jerr);
            natsSubscription_Destroy(sub);
            sub = NULL;
            sleep_ms(100);
            continue;
        }
        /* Idle: is the stream ahead of what the consumer delivers? Then the
         * consumer is gone (its server died): start a new one. */
        int64_t now = mono_ms();
        if (now - last_check < CHECK_EVERY_MS) continue;
        last_check = now;
        jsStreamInfo *si = NULL;
        if (js_GetStreamInfo(&si, c->js, STREAM, NULL, NULL) == NATS_OK) {
            check_stream(c, si);
            if (si->State.LastSeq >= next) {
                natsSubscription_Destroy(sub);
                sub = NULL;
            }
            jsStreamInfo_Destroy(si);
        }
    }
    natsSubscription_Destroy(sub);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------ */

static int connect_all(rc_cluster *c, const rc_cluster_opts *o, rc_err *err) {
    char *urls = strdup(o->urls);
    const char *list[MAX_SERVERS];
    int n = 0;
    if (!urls) return rc_err_set(err, RC_NOMEM, "out of memory");
    for (char *save = NULL, *t = strtok_r(urls, ", ", &save); t && n < MAX_SERVERS;
         t = strtok_r(NULL, ", ", &save))
        list[n++] = t;
    natsStatus s = n ? natsOptions_Create(&c->no) : NATS_INVALID_ARG;
    if (s == NATS_OK) s = natsOptions_SetServers(c->no, list, n);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(c->no, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(c->no, 200);
    if (s == NATS_OK) s = natsOptions_SetTimeout(c->no, 2000);
    if (s == NATS_OK) s = natsOptions_SetName(c->no, c->nodeid);
    free(urls);
    if (s != NATS_OK) return nats_err(err, s, 0, "options (cluster URLs)");
    int64_t deadline = mono_ms() + o->connect_wait_ms;
    while ((s = natsConnection_Connect(&c->nc, c->no)) != NATS_OK && mono_ms() < deadline) sleep_ms(250);
    if (s != NATS_OK) return nats_err(err, s, 0, "cannot connect");
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    jo.PublishAsync.AckHandler = ack_handler;
    jo.PublishAsync.AckHandlerClosure = c;
    jo.PublishAsync.MaxPending = 8192;
    s = natsConnection_JetStream(&c->js, c->nc, &jo);
    if (s != NATS_OK) return nats_err(err, s, 0, "JetStream context");
    return RC_OK;
}

int rc_cluster_start(rc_cluster **out, const rc_cluster_opts *o, rc_store *st, rc_err *err) {
    *out = NULL;
    if (!o || !o->urls || !*o->urls || !o->node || !*o->node)
        return rc_err_set(err, RC_INVALID, "cluster: URLs and a node name are required");
    rc_cluster *c = calloc(1, sizeof *c);
    if (!c) return rc_err_set(err, RC_NOMEM, "out of memory");
    c->st = st;
    c->replicas = o->replicas > 0 ? o->replicas : 3;
    pthread_mutex_init(&c->mu, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* The boot part keeps a restarted process from taking answers meant
     * for the tokens of its previous life. */
    snprintf(c->nodeid, sizeof c->nodeid, "%s/%llx%x", o->node,
             (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec,
             (unsigned)getpid());
    int rc = connect_all(c, o, err);
    jsStreamInfo *si = NULL;
    int64_t deadline = mono_ms() + o->connect_wait_ms;
    /* A cluster that just started elects its leaders first: until then
     * requests time out or find no responders. */
    if (!rc)
        for (;;) {
            rc = ensure_stream(c, &si, err);
            if (!rc && si->State.LastSeq == 0) {
                jsStreamInfo_Destroy(si);
                si = NULL;
                if (!(rc = genesis(c, err))) rc = ensure_stream(c, &si, err);
            }
            if (!rc || mono_ms() >= deadline) break;
            RC_DEBUG("cluster", "waiting for the stream: %s", rc_err_msg(err));
            jsStreamInfo_Destroy(si);
            si = NULL;
            sleep_ms(500);
        }
    rc_replicator r = {publish, c, repl_state};
    if (!rc) rc = rc_store_set_replicator(st, &r, err);
    if (!rc) {
        check_stream(c, si);
        if (pthread_create(&c->thread, NULL, apply_main, c) != 0)
            rc = rc_err_set(err, RC_NOMEM, "cluster: cannot start the apply thread");
        else c->started = 1;
    }
    jsStreamInfo_Destroy(si);
    if (rc) {
        rc_cluster_stop(c);
        return rc;
    }
    RC_INFO("cluster", "node %s on stream %s, local position %" PRIu64, o->node, STREAM,
            rc_store_applied(st));
    *out = c;
    return RC_OK;
}

void rc_cluster_stop(rc_cluster *c) {
    if (!c) return;
    rc_store_refuse_writes(c->st, RC_SHUTDOWN, "shutting down");
    atomic_store(&c->stop, 1);
    if (c->started) pthread_join(c->thread, NULL);
    if (c->js) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 2000;
        js_PublishAsyncComplete(c->js, &po);
        jsCtx_Destroy(c->js);
    }
    if (c->nc) {
        natsConnection_Close(c->nc);
        natsConnection_Destroy(c->nc);
    }
    natsOptions_Destroy(c->no);
    pthread_mutex_destroy(&c->mu);
    free(c);
    nats_CloseAndWait(2000);
}

void rc_cluster_health_get(rc_cluster *c, rc_cluster_health *h) {
    memset(h, 0, sizeof *h);
    if (!c) return;
    h->connected = c->nc && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
    h->applied = rc_store_applied(c->st);
    pthread_mutex_lock(&c->mu);
    h->serving = !c->refusing;
    h->stream_last = c->stream_last;
    snprintf(h->why, sizeof h->why, "%s", c->why);
    pthread_mutex_unlock(&c->mu);
}

/* ---- seeding a new node from a peer's snapshot ------------------------------ */

int rc_cluster_seed(const char *url, const char *dir, rc_err *err) {
    char db[4096], tmp[4200];
    if (snprintf(db, sizeof db, "%s/redcar.db", dir) >= (int)sizeof db)
        return rc_err_set(err, RC_INVALID, "cluster: data directory path too long");
    if (access(db, F_OK) == 0) {
        RC_INFO("cluster", "%s exists: not seeding from %s", db, url);
        return RC_OK;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return rc_err_set(err, RC_IO, "cluster: cannot create %s: %s", dir, strerror(errno));
    snprintf(tmp, sizeof tmp, "%s.seed", db);
    FILE *f = fopen(tmp, "wb");
    if (!f) return rc_err_set(err, RC_IO, "cluster: cannot create %s: %s", tmp, strerror(errno));
    CURL *h = curl_easy_init();
    CURLcode cc = CURLE_FAILED_INIT;
    long code = 0;
    if (h) {
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(h);
    }
    /* The copy must be on disk before it is renamed into place. */
    int bad = cc != CURLE_OK || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, db) != 0) {
        unlink(tmp);
        return rc_err_set(err, RC_IO, "cluster: seeding from %s failed: %s (HTTP %ld)", url,
                          cc != CURLE_OK ? curl_easy_strerror(cc) : strerror(errno), code);
    }
    RC_INFO("cluster", "seeded %s from the snapshot at %s", db, url);
    return RC_OK;
}
