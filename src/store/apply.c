/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster mode, the store's side (docs/cluster.md): requests become messages
 * for the replicator, and messages of the stream are applied in stream order.
 *
 * - An append is encoded into one message (a JSON array of its events, each
 *   with its `time` stamped) and published; it waits in `pending` under a
 *   token until the local apply of its message answers it with the seqs
 *   the events got, or the replicator reports an error.
 * - A transaction function runs on the writer as a dry run at the local
 *   stream position P (its savepoint is rolled back); the events it
 *   appended are published with "expected last sequence P", together with
 *   what it changed in the consumer tables (cursors, groups, webhook
 *   subscriptions) as an SQLite changeset. If the stream moved on, the
 *   function runs again once the local store has applied more of it. A
 *   function that appends nothing and changes no consumer table (a read)
 *   commits locally.
 * - Applying a message is itself a transaction on the writer: it checks the
 *   position (stream_seq must be the local position + 1), sets the group
 *   clock to the message's stream time, checks the append's expectation,
 *   appends the events (UNIQUE(source, id) skips duplicates), applies the
 *   consumer changeset and records the position in cluster_pos, all in the
 *   group's SQLite transaction.
 *   Nothing in it reads a local clock or a random source, so every node
 *   derives the same seqs and the same KV view.
 *
 * Threads: publish answers arrive on the replicator's threads, applies
 * complete on the writer thread; `pending` and the positions are under cl->mu.
 * Completions are called without the lock held.
 */
/* The session extension (changesets of the consumer tables): in the
 * system library, declared by sqlite3.h only on request. */
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/log.h"
#include "store/store_int.h"

/* Transaction functions that keep losing the race for the stream's tail
 * give up after this many runs (RC_CONFLICT), so one hot key cannot hold a
 * client forever. */
#define TXN_MAX_RUNS 64
#define NBUCKETS 1024
/* Coalescing: plain appends are published at once while fewer than
 * MAX_FLYING of their messages wait for the stream's ack; beyond that they
 * queue, and each ack publishes what queued meanwhile as one message (at
 * most MAX_PARTS requests and about MAX_COALESCED bytes). Under load,
 * messages grow instead of multiplying; alone, a write waits for nothing. */
#define MAX_FLYING 16
#define MAX_PARTS 512
#define MAX_COALESCED (256 * 1024)
/* A private status: the dry run succeeded and rolled itself back. */
#define RC__DRY 1000

typedef enum { P_APPEND, P_TXN } pkind;

typedef struct pend {
    struct pend *next;        /* bucket chain, the waiting list, or the queue */
    rc_store *st;
    uint64_t token;
    int64_t since_ms;         /* when published (rc__now_ms), for rc_store_sweep_pending */
    pkind kind;
    rc__req *r;               /* append: the request (its events, for lookups) */
    rc_txn_fn fn;             /* txn: the user's function */
    void *fn_arg;
    rc_append_done done;
    void *arg;
    int runs;
    uint64_t expect_last;     /* txn: the position its last dry run read */
    int waiting;              /* on cl->waiting: dup (wait_seq) or txn rerun (> expect_last) */
    uint64_t wait_seq;
    rc_buf body;              /* events JSON, then state_len bytes of changeset */
    size_t state_len;
    char msgid[48];
    rc_append_item *items;    /* lookups of a duplicate */
    size_t n_items;
    uint64_t *more;           /* a coalesced message's lead: the other requests' tokens */
    size_t n_more;
    rc_err err;
} pend;

typedef struct rc__cluster {
    rc_replicator repl;
    pthread_mutex_t mu;
    pend *buckets[NBUCKETS];  /* (mu) published, waiting for their apply */
    pend *waiting;            /* (mu) waiting for the local position to advance */
    pend *q_head, *q_tail;    /* (mu) plain appends waiting to be coalesced */
    uint64_t flying[MAX_FLYING]; /* (mu) tokens of plain-append messages not yet acked */
    int n_flying;             /* (mu) */
    int flushing;             /* (mu) a thread is publishing the queue */
    uint64_t published;       /* (mu) messages published (stats) */
    uint64_t coalesced;       /* (mu) requests that shared a message with others (stats) */
    uint64_t next_token;      /* (mu) */
    uint64_t applied;         /* (mu) last applied and durable stream seq */
    int failed;               /* (mu) an apply failed: the loop must resync */
    rc_err fail_err;          /* (mu) */
    int refuse;               /* (mu) status refusing writes, 0 = none */
    char refuse_why[160];     /* (mu) */
    sqlite3_stmt *pos;        /* (writer) SELECT the position */
    sqlite3_stmt *put;        /* (writer) INSERT a position row */
} rc__cluster;

#define POS_SCHEMA                                                                            \
    "CREATE TABLE IF NOT EXISTS cluster_pos(stream_seq INTEGER PRIMARY KEY, head_seq INTEGER " \
    "NOT NULL)"

/* ---- pending requests --------------------------------------------------- */

static void pend_free(pend *p) {
    if (p->r) rc__req_free(p->r);
    rc_buf_free(&p->body);
    free(p->items);
    free(p->more);
    free(p);
}

/* Under mu. */
static void pend_put(rc__cluster *cl, pend *p) {
    pend **b = &cl->buckets[p->token % NBUCKETS];
    p->next = *b;
    *b = p;
}

static pend *pend_take(rc__cluster *cl, uint64_t token) {
    for (pend **pp = &cl->buckets[token % NBUCKETS]; *pp; pp = &(*pp)->next)
        if ((*pp)->token == token) {
            pend *p = *pp;
            *pp = p->next;
            p->next = NULL;
            return p;
        }
    return NULL;
}

static void pend_finish(pend *p, int status, const rc_err *err, const rc_append_item *items,
                        size_t n) {
    if (p->done) {
        if (status == RC_OK) p->done(p->arg, RC_OK, NULL, items, n);
        else p->done(p->arg, status, err, NULL, 0);
    }
    pend_free(p);
}

static void pend_fail(pend *p, int status, const char *fmt, const char *detail) {
    rc_err e;
    rc_err_set(&e, status, fmt, detail);
    pend_finish(p, status, &e, NULL, 0);
}

/* ---- the message id ------------------------------------------------------ */

/* Nats-Msg-Id: "rc1-" and two FNV-1a 64 lanes over the (source, id) pairs,
 * so a client's retry of the same events is recognised by the stream. */
static void make_msgid(rc_event *const *evs, size_t n, int64_t expect_seq, const char *expect_subject,
                       const void *extra, size_t n_extra, char out[48]) {
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
    /* A retry with another expectation is another request: its own id. */
    if (expect_seq != RC_EXPECT_ANY) {
        char e[48];
        snprintf(e, sizeof e, "%lld", (long long)expect_seq);
        for (const char *parts[2] = {e, expect_subject ? expect_subject : ""}, **pp = parts;
             pp < parts + 2; pp++)
            for (const unsigned char *c = (const unsigned char *)*pp; *c; c++) {
                a = (a ^ *c) * 0x100000001b3ULL;
                b = (b ^ (unsigned char)(*c + 0x5b)) * 0x100000001b3ULL;
            }
        a = (a ^ 0xfd) * 0x100000001b3ULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *parts[2] = {evs[i]->source, evs[i]->id};
        for (int k = 0; k < 2; k++) {
            for (const unsigned char *c = (const unsigned char *)parts[k]; *c; c++) {
                a = (a ^ *c) * 0x100000001b3ULL;
                b = (b ^ (unsigned char)(*c + 0x5b)) * 0x100000001b3ULL;
            }
            a = (a ^ 0xff) * 0x100000001b3ULL; /* separator: no byte of UTF-8 text */
            b = (b ^ 0xfe) * 0x100000001b3ULL;
        }
    }
    /* A transaction's consumer changes and the position they were made at:
     * two messages with the same ones are the same request. */
    for (const unsigned char *c = extra, *end = c + n_extra; c < end; c++) {
        a = (a ^ *c) * 0x100000001b3ULL;
        b = (b ^ (unsigned char)(*c + 0x5b)) * 0x100000001b3ULL;
    }
    snprintf(out, 48, "rc1-%016" PRIx64 "%016" PRIx64, a, b);
}

/* ---- publishing ---------------------------------------------------------- */

static int refused(rc__cluster *cl, rc_err *err) {
    pthread_mutex_lock(&cl->mu);
    int st = cl->refuse;
    if (st) rc_err_set(err, st, "cluster: %s", cl->refuse_why);
    pthread_mutex_unlock(&cl->mu);
    return st;
}

/* Register p under a new token and publish it. On error p is unregistered
 * and the caller still owns it. */
static int publish(rc_store *st, pend *p, int64_t expect_seq, const char *expect_subject,
                   int has_expect_last, rc_err *err) {
    rc__cluster *cl = st->cl;
    pthread_mutex_lock(&cl->mu);
    p->token = ++cl->next_token;
    p->since_ms = rc__now_ms();
    pend_put(cl, p);
    cl->published++;
    pthread_mutex_unlock(&cl->mu);
    rc_repl_pub m = {.token = p->token,
                     .msgid = p->msgid,
                     .body = p->body.p,
                     .len = p->body.len,
                     .state_len = p->state_len,
                     .has_expect_last = has_expect_last,
                     .expect_last = p->expect_last,
                     .expect_seq = expect_seq,
                     .expect_subject = expect_subject};
    int rc = cl->repl.publish(cl->repl.ctx, &m, err);
    if (rc) {
        pthread_mutex_lock(&cl->mu);
        pend_take(cl, p->token);
        pthread_mutex_unlock(&cl->mu);
    }
    return rc;
}


/* ---- coalescing plain appends ------------------------------------------- */

/* Under mu. */
static int fly_remove(rc__cluster *cl, uint64_t token) {
    for (int i = 0; i < cl->n_flying; i++)
        if (cl->flying[i] == token) {
            cl->flying[i] = cl->flying[--cl->n_flying];
            return 1;
        }
    return 0;
}

/* Publish p (its token already counted in flying) with the others of its
 * message (p->more, already in the buckets). On error nothing is
 * registered: the caller fails p and the others. */
static int publish_parts(rc_store *st, pend *p, const rc_buf *body, const char *parts,
                         const char *msgid, rc_err *err) {
    rc__cluster *cl = st->cl;
    pthread_mutex_lock(&cl->mu);
    p->since_ms = rc__now_ms();
    pend_put(cl, p);
    cl->published++;
    pthread_mutex_unlock(&cl->mu);
    rc_repl_pub m = {.token = p->token, .msgid = msgid, .body = body->p, .len = body->len,
                     .parts = parts, .expect_seq = RC_EXPECT_ANY};
    int rc = cl->repl.publish(cl->repl.ctx, &m, err);
    if (rc) {
        pthread_mutex_lock(&cl->mu);
        pend_take(cl, p->token);
        fly_remove(cl, p->token);
        pthread_mutex_unlock(&cl->mu);
    }
    return rc;
}

/* A request on its own: the message is exactly what it would have been
 * without coalescing (its id dedups a client's retry). */
static int publish_lead(rc_store *st, pend *p, rc_err *err) {
    return publish_parts(st, p, &p->body, NULL, p->msgid, err);
}

/* Publish what queued, as messages of up to MAX_PARTS requests, while
 * fewer than MAX_FLYING are in flight. Called after each ack (and so never
 * by the thread that queued a request: their errors come by completion). */
static void flush(rc_store *st) {
    rc__cluster *cl = st->cl;
    rc_buf body, parts;
    rc_buf_init(&body);
    rc_buf_init(&parts);
    pthread_mutex_lock(&cl->mu);
    if (cl->flushing) { /* re-entered from a synchronous ack: the loop below goes on */
        pthread_mutex_unlock(&cl->mu);
        return;
    }
    cl->flushing = 1;
    while (cl->q_head && cl->n_flying < MAX_FLYING) {
        /* Take a message's worth off the queue: ours alone from here. */
        pend *lead = cl->q_head, *last = lead;
        size_t n = 1, bytes = lead->body.len;
        while (last->next && n < MAX_PARTS && bytes + last->next->body.len <= MAX_COALESCED) {
            last = last->next;
            bytes += last->body.len;
            n++;
        }
        cl->q_head = last->next;
        if (!cl->q_head) cl->q_tail = NULL;
        last->next = NULL;
        cl->flying[cl->n_flying++] = lead->token;
        int refuse = cl->refuse;
        rc_err e;
        rc_err_clear(&e);
        if (refuse) rc_err_set(&e, refuse, "cluster: %s", cl->refuse_why);
        pthread_mutex_unlock(&cl->mu);

        int rc = refuse;
        uint64_t *more = n > 1 ? malloc((n - 1) * sizeof *more) : NULL;
        if (!rc && n > 1 && !more) rc = rc_err_set(&e, RC_NOMEM, "out of memory");
        if (!rc && n > 1) {
            /* One JSON array of every request's events; Rc-Parts tells the
             * apply where each request's events begin. The id is a hash of
             * the requests' ids: the same requests, the same message. */
            rc_buf_reset(&body);
            rc_buf_reset(&parts);
            rc_buf_putc(&body, '[');
            uint64_t h = 0xcbf29ce484222325ULL;
            size_t k = 0;
            for (pend *o = lead; o; o = o->next) {
                if (o != lead) more[k++] = o->token;
                if (body.len > 1) rc_buf_putc(&body, ',');
                rc_buf_append(&body, o->body.p + 1, o->body.len - 2); /* inside its [ ] */
                rc_buf_printf(&parts, "%s%" PRIu64 ":%zu", parts.len ? "," : "", o->token, o->r->n);
                for (const char *c = o->msgid; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
            }
            rc_buf_putc(&body, ']');
            rc_buf_putc(&parts, '\0');
            char msgid[48];
            snprintf(msgid, sizeof msgid, "rc1-c%016" PRIx64 "%08zx", h, n);
            pend *others = lead->next;
            lead->next = NULL;
            lead->more = more;
            lead->n_more = n - 1;
            pthread_mutex_lock(&cl->mu);
            cl->coalesced += n;
            for (pend *o = others, *nx; o; o = nx) { /* registered first: the ack may beat us */
                nx = o->next;
                o->since_ms = rc__now_ms();
                pend_put(cl, o);
            }
            pthread_mutex_unlock(&cl->mu);
            rc = publish_parts(st, lead, &body, parts.p, msgid, &e);
        } else if (!rc) {
            rc = publish_lead(st, lead, &e);
        } else {
            free(more);
            pthread_mutex_lock(&cl->mu);
            fly_remove(cl, lead->token);
            pthread_mutex_unlock(&cl->mu);
        }
        if (rc) { /* nothing published: fail the message's requests */
            pend *failed = lead->next ? lead->next : NULL; /* (still chained: not registered) */
            lead->next = NULL;
            if (lead->more) {
                pthread_mutex_lock(&cl->mu);
                for (size_t i = 0; i < lead->n_more; i++) {
                    pend *o = pend_take(cl, lead->more[i]);
                    if (o) {
                        o->next = failed;
                        failed = o;
                    }
                }
                pthread_mutex_unlock(&cl->mu);
            }
            pend_finish(lead, rc, &e, NULL, 0);
            while (failed) {
                pend *o = failed;
                failed = o->next;
                o->next = NULL;
                pend_finish(o, rc, &e, NULL, 0);
            }
        }
        pthread_mutex_lock(&cl->mu);
    }
    cl->flushing = 0;
    pthread_mutex_unlock(&cl->mu);
    rc_buf_free(&body);
    rc_buf_free(&parts);
}

int rc__cl_append(rc_store *st, rc__req *r, rc_err *err) {
    rc__cluster *cl = st->cl;
    int rc = refused(cl, err);
    if (rc) return rc;
    pend *p = calloc(1, sizeof *p);
    if (!p) return rc_err_set(err, RC_NOMEM, "out of memory");
    /* The payload must be final before it leaves: stamp `time` here. */
    char t[40];
    rc_time_format(rc__now_ms(), t, sizeof t);
    for (size_t i = 0; i < r->n; i++)
        if (!r->evs[i]->time && rc_event_set(r->evs[i], "time", t) != RC_OK) {
            free(p);
            return rc_err_set(err, RC_NOMEM, "out of memory");
        }
    p->st = st;
    p->kind = P_APPEND;
    rc_buf_init(&p->body);
    rc_event_encode_batch(r->evs, r->n, 0, &p->body);
    make_msgid(r->evs, r->n, r->expect_seq, r->expect_subject, NULL, 0, p->msgid);
    p->done = r->done;
    p->arg = r->arg;
    p->r = r;
    if (r->expect_seq == RC_EXPECT_ANY && r->n) {
        /* Coalescable: publish now while few are in flight, else queue for
         * the next ack (rc_store_published -> flush). Queued requests learn
         * a publish error from their completion, on the ack's thread. */
        pthread_mutex_lock(&cl->mu);
        if (!cl->q_head && !cl->flushing && cl->n_flying < MAX_FLYING) {
            p->token = ++cl->next_token;
            cl->flying[cl->n_flying++] = p->token;
            pthread_mutex_unlock(&cl->mu);
            rc = publish_lead(st, p, err);
        } else {
            p->token = ++cl->next_token;
            p->since_ms = rc__now_ms();
            if (cl->q_tail) cl->q_tail->next = p;
            else cl->q_head = p;
            cl->q_tail = p;
            pthread_mutex_unlock(&cl->mu);
            return RC_OK;
        }
    } else {
        rc = publish(st, p, r->expect_seq, r->expect_subject, 0, err);
    }
    if (rc) {
        p->r = NULL; /* the caller frees the request */
        pend_free(p);
    }
    return rc;
}

/* ---- transactions: dry runs --------------------------------------------- */

static int position_of(rc_store *st, sqlite3_stmt *s, uint64_t *pos, rc_err *err) {
    int rc = sqlite3_step(s);
    *pos = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? RC_OK : rc__sqlite_err(st->wdb, rc, err, "reading the stream position");
}

static int position(rc_store *st, uint64_t *pos, rc_err *err) {
    return position_of(st, st->cl->pos, pos, err);
}

/* The tables whose changes are replicated with a transaction's message:
 * consumer state (cursors, groups, their pending lists, webhook
 * subscriptions). The log and the KV view are derived from the events;
 * cluster_pos is each node's own. */
static const char *const repl_tables[] = {"consumers", "consumer_pending", "push_subscriptions"};

static int repl_table(void *ctx, const char *name) {
    (void)ctx;
    for (size_t i = 0; i < sizeof repl_tables / sizeof *repl_tables; i++)
        if (!strcmp(name, repl_tables[i])) return 1;
    return 0;
}

/* Undo everything the dry run did. Its own savepoint, not the request's:
 * a transaction opens that one at its first append, so table changes made
 * before it (a lease, then a dead-letter event) would otherwise stay. */
static void dry_undo(rc_store *st, rc__req *r) {
    if (!sqlite3_get_autocommit(st->wdb)) {
        sqlite3_exec(st->wdb, "ROLLBACK TO rc_dry", NULL, NULL, NULL);
        sqlite3_exec(st->wdb, "RELEASE rc_dry", NULL, NULL, NULL);
    }
    r->sp_open = 0; /* the request's savepoints were nested in rc_dry: gone */
}

static int dry_fn(rc_txn *tx, void *arg, rc_err *err) {
    pend *p = arg;
    rc_store *st = rc__txn_store(tx);
    rc__req *r = rc__txn_req(tx);
    int rc = position(st, &p->expect_last, err);
    if (rc) return rc;
    int s = sqlite3_exec(st->wdb, "SAVEPOINT rc_dry", NULL, NULL, NULL);
    if (s != SQLITE_OK) return rc__sqlite_err(st->wdb, s, err, "cluster: dry run");
    sqlite3_session *ses = NULL;
    s = sqlite3session_create(st->wdb, "main", &ses);
    if (s == SQLITE_OK) {
        sqlite3session_table_filter(ses, repl_table, NULL);
        s = sqlite3session_attach(ses, NULL);
    }
    if (s != SQLITE_OK) {
        rc = rc_err_set(err, RC_INTERNAL, "cluster: recording consumer changes: %s",
                        sqlite3_errstr(s));
        sqlite3session_delete(ses);
        dry_undo(st, r);
        return rc;
    }
    rc = p->fn(tx, p->fn_arg, err);
    int n_state = 0;
    void *state = NULL;
    if (!rc && (s = sqlite3session_changeset(ses, &n_state, &state)) != SQLITE_OK)
        rc = rc_err_set(err, RC_INTERNAL, "cluster: recording consumer changes: %s",
                        sqlite3_errstr(s));
    sqlite3session_delete(ses);
    if (!rc && r->n == 0 && n_state == 0) { /* a read: nothing to replicate, commit locally */
        sqlite3_free(state);
        s = sqlite3_exec(st->wdb, "RELEASE rc_dry", NULL, NULL, NULL);
        return s == SQLITE_OK ? RC_OK : rc__sqlite_err(st->wdb, s, err, "cluster: dry run");
    }
    if (!rc) {
        rc_buf_reset(&p->body);
        rc_event_encode_batch(r->evs, r->n, 0, &p->body);
        char at[24];
        int n_at = snprintf(at, sizeof at, "@%" PRIu64, p->expect_last);
        rc_buf_append(&p->body, at, (size_t)n_at); /* (hashed, then cut off below) */
        if (n_state) rc_buf_append(&p->body, state, (size_t)n_state);
        size_t json = p->body.len - (size_t)n_at - (size_t)n_state;
        make_msgid(r->evs, r->n, RC_EXPECT_ANY, NULL, n_state ? p->body.p + json : NULL,
                   n_state ? (size_t)n_at + (size_t)n_state : 0, p->msgid);
        if (n_state) memmove(p->body.p + json, p->body.p + json + n_at, (size_t)n_state);
        p->body.len -= (size_t)n_at;
        p->state_len = (size_t)n_state;
        rc = RC__DRY; /* roll it back: the changes come back through the stream */
    }
    sqlite3_free(state);
    dry_undo(st, r);
    return rc;
}

static void dry_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                     size_t n) {
    (void)items;
    (void)n;
    pend *p = arg;
    if (status != RC__DRY) { /* failed, or nothing to publish */
        pend_finish(p, status, err, NULL, 0);
        return;
    }
    rc_err e;
    rc_err_clear(&e);
    if (refused(p->st->cl, &e) || publish(p->st, p, RC_EXPECT_ANY, NULL, 1, &e) != RC_OK)
        pend_finish(p, e.code ? e.code : RC_BUSY, &e, NULL, 0);
}

/* Start (or restart) a dry run of p on the writer. Never waits for room in
 * the queue: it may be called on the writer thread itself. */
static int dry_run(pend *p, rc_err *err) {
    if (++p->runs > TXN_MAX_RUNS)
        return rc_err_set(err, RC_CONFLICT,
                          "cluster: the transaction lost the race for the stream's tail %d times",
                          TXN_MAX_RUNS);
    return rc__enqueue_txn(p->st, dry_fn, p, dry_done, p, 0, err);
}

int rc__cl_txn(rc_store *st, rc__req *r, rc_err *err) {
    int rc = refused(st->cl, err);
    if (rc) return rc;
    pend *p = calloc(1, sizeof *p);
    if (!p) return rc_err_set(err, RC_NOMEM, "out of memory");
    p->st = st;
    p->kind = P_TXN;
    rc_buf_init(&p->body);
    p->fn = r->fn;
    p->fn_arg = r->fn_arg;
    p->done = r->done;
    p->arg = r->arg;
    if ((rc = dry_run(p, err))) {
        pend_free(p);
        return rc;
    }
    rc__req_free(r);
    return RC_OK;
}

/* ---- duplicates: answer with the stored seqs ---------------------------- */

/* On the writer: the seqs of the events of a message the stream had already
 * taken (a client retry within the dedup window). */
static int lookup_fn(rc_txn *tx, void *arg, rc_err *err) {
    pend *p = arg;
    rc_store *st = rc__txn_store(tx);
    rc__req *r = p->r;
    free(p->items);
    p->items = calloc(r->n ? r->n : 1, sizeof *p->items);
    if (!p->items) return rc_err_set(err, RC_NOMEM, "out of memory");
    sqlite3_stmt *d = st->ws[WS_FIND_DUP];
    for (size_t i = 0; i < r->n; i++) {
        sqlite3_bind_text(d, 1, r->evs[i]->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(d, 2, r->evs[i]->id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(d);
        uint64_t seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(d, 0) : 0;
        sqlite3_reset(d);
        if (rc == SQLITE_DONE)
            /* the first attempt was refused at apply (its expectation failed) */
            return rc_err_set(err, RC_CONFLICT, "event %s: an earlier attempt with this source "
                                                "and id was refused", r->evs[i]->id);
        if (rc != SQLITE_ROW) return rc__sqlite_err(st->wdb, rc, err, "finding duplicate");
        p->items[i].seq = seq;
        p->items[i].duplicate = 1;
    }
    p->n_items = r->n;
    return RC_OK;
}

static void lookup_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                        size_t n) {
    (void)items;
    (void)n;
    pend *p = arg;
    pend_finish(p, status, err, p->items, p->n_items);
}

/* p's wait is over: a duplicate is looked up, a transaction runs again. */
static void resume(pend *p) {
    rc_err e;
    rc_err_clear(&e);
    int rc = p->kind == P_TXN ? dry_run(p, &e)
                              : rc__enqueue_txn(p->st, lookup_fn, p, lookup_done, p, 0, &e);
    if (rc) pend_finish(p, rc, &e, NULL, 0);
}

/* Under mu: move the waits that position `applied` ends onto *ready. */
static void collect_ready(rc__cluster *cl, pend **ready) {
    for (pend **pp = &cl->waiting; *pp;) {
        pend *p = *pp;
        int go = p->kind == P_TXN ? cl->applied > p->expect_last : cl->applied >= p->wait_seq;
        if (go) {
            *pp = p->next;
            p->next = *ready;
            *ready = p;
        } else {
            pp = &p->next;
        }
    }
}

static void resume_all(pend *ready) {
    while (ready) {
        pend *p = ready;
        ready = p->next;
        p->next = NULL;
        resume(p);
    }
}

void rc_store_published(rc_store *st, uint64_t token, int status, uint64_t stream_seq,
                        int duplicate, const rc_err *err) {
    rc__cluster *cl = st->cl;
    if (!cl) return;
    pthread_mutex_lock(&cl->mu);
    int flew = fly_remove(cl, token);
    pend *p = NULL, *ready = NULL, *failed = NULL;
    if (status != RC_OK || duplicate) p = pend_take(cl, token);
    /* A coalesced message: its other requests share the answer. */
    for (size_t i = 0; p && i < p->n_more; i++) {
        pend *o = pend_take(cl, p->more[i]);
        if (!o) continue;
        if (status == RC_OK) { /* duplicate: waits like its lead */
            o->wait_seq = stream_seq;
            o->next = cl->waiting;
            cl->waiting = o;
        } else {
            o->next = failed;
            failed = o;
        }
    }
    if (p && (status == RC_OK || (status == RC_CONFLICT && p->kind == P_TXN))) {
        /* A duplicate waits for the original message's apply; a transaction
         * that lost the race waits for more of the stream, then runs again. */
        p->wait_seq = stream_seq;
        p->next = cl->waiting;
        cl->waiting = p;
        p = NULL;
        collect_ready(cl, &ready);
    }
    pthread_mutex_unlock(&cl->mu);
    if (p) pend_finish(p, status, err, NULL, 0);
    while (failed) {
        pend *o = failed;
        failed = o->next;
        o->next = NULL;
        pend_finish(o, status, err, NULL, 0);
    }
    resume_all(ready);
    if (flew) flush(st); /* room in flight: what queued meanwhile goes as one message */
}

/* ---- applying the stream ------------------------------------------------- */

typedef struct applying {
    rc_store *st;
    uint64_t stream_seq;
    int64_t time_ms;
    int mine;
    uint64_t token;
    int64_t expect_seq;
    char *expect_subject;
    rc_event **evs;           /* decoded; owned until appended */
    size_t n;
    void *state;              /* consumer changeset (a copy), or NULL */
    size_t state_len;
    uint64_t *ptok;           /* a coalesced message: each request's token ... */
    size_t *pn;               /* ... and number of events, in body order */
    size_t n_parts;
    int bad;                  /* the body is not a batch of events: skipped */
    int refused;              /* its expectation failed: applied nothing */
    rc_err why;
} applying;

static void applying_free(applying *a) {
    for (size_t i = 0; i < a->n; i++) rc_event_free(a->evs[i]);
    free(a->evs);
    free(a->expect_subject);
    free(a->state);
    free(a->ptok);
    free(a->pn);
    free(a);
}

static int check_expect(rc_store *st, applying *a, rc_err *err) {
    const char *subject = a->expect_subject ? a->expect_subject : a->n ? a->evs[0]->subject : NULL;
    uint64_t latest = st->head;
    if (subject) {
        sqlite3_stmt *s = st->ws[WS_SUBJ_HEAD];
        sqlite3_bind_text(s, 1, subject, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        latest = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW) return rc__sqlite_err(st->wdb, rc, err, "checking expected seq");
    }
    if ((uint64_t)a->expect_seq != latest) {
        a->refused = 1;
        rc_err_set(&a->why, RC_CONFLICT, "expected seq %lld for %s%s, but the latest is %llu",
                   (long long)a->expect_seq, subject ? "subject " : "the log",
                   subject ? subject : "", (unsigned long long)latest);
    }
    return RC_OK;
}

/* A consumer changeset meets the state it was made from: every node holds
 * the same consumer tables at the same position, and the publisher's
 * expectation pinned that position. A conflict means a node's consumer
 * state diverged (say, a store from before cluster mode replicated it):
 * the stream's version wins, the same on every node, and it is logged. */
static int on_conflict(void *ctx, int kind, sqlite3_changeset_iter *it) {
    (void)it;
    ++*(int *)ctx;
    return kind == SQLITE_CHANGESET_DATA || kind == SQLITE_CHANGESET_CONFLICT
               ? SQLITE_CHANGESET_REPLACE
               : SQLITE_CHANGESET_OMIT;
}

static int apply_state(rc_store *st, applying *a, rc_err *err) {
    int conflicts = 0;
    int s = sqlite3changeset_apply(st->wdb, (int)a->state_len, a->state, NULL, on_conflict,
                                   &conflicts);
    if (s != SQLITE_OK) return rc__sqlite_err(st->wdb, s, err, "cluster: applying consumer changes");
    if (conflicts)
        RC_WARN("cluster", "stream seq %" PRIu64 ": %d consumer changes met a different local "
                "state; the stream's version was kept", a->stream_seq, conflicts);
    return RC_OK;
}

static int apply_fn(rc_txn *tx, void *arg, rc_err *err) {
    applying *a = arg;
    rc_store *st = rc__txn_store(tx);
    uint64_t pos;
    int rc = position(st, &pos, err);
    if (rc) return rc;
    if (a->stream_seq <= pos) return RC_OK; /* delivered again: already applied */
    if (a->stream_seq != pos + 1)
        return rc_err_set(err, RC_INTERNAL, "cluster: stream seq %" PRIu64 " after local position "
                          "%" PRIu64 " (a gap)", a->stream_seq, pos);
    /* One savepoint for the whole message (its events, its consumer
     * changes, its position), not one per event: a failure undoes it all. */
    rc__req *r = rc__txn_req(tx);
    int s = sqlite3_exec(st->wdb, "SAVEPOINT rc_ap", NULL, NULL, NULL);
    if (s != SQLITE_OK) return rc__sqlite_err(st->wdb, s, err, "cluster: apply");
    r->own_sp = 1;
    int64_t clock = st->now_ms;
    st->now_ms = a->time_ms; /* apply's clock is the stream's, the same on every node */
    if (!a->bad && a->expect_seq != RC_EXPECT_ANY) rc = check_expect(st, a, err);
    for (size_t i = 0; !rc && !a->bad && !a->refused && i < a->n; i++) {
        rc_event *ev = a->evs[i];
        a->evs[i] = NULL; /* rc_txn_append owns it from here */
        rc = rc_txn_append(tx, ev, NULL, err);
    }
    if (!rc && !a->bad && !a->refused && a->state) rc = apply_state(st, a, err);
    st->now_ms = clock;
    if (!rc) {
        sqlite3_stmt *put = st->cl->put;
        sqlite3_bind_int64(put, 1, (sqlite3_int64)a->stream_seq);
        sqlite3_bind_int64(put, 2, (sqlite3_int64)st->head);
        s = sqlite3_step(put);
        sqlite3_reset(put);
        if (s != SQLITE_DONE) rc = rc__sqlite_err(st->wdb, s, err, "recording the stream position");
    }
    r->own_sp = 0;
    r->sp_open = 0; /* (run_request restores head; nothing of ours for it to undo) */
    if (!sqlite3_get_autocommit(st->wdb)) {
        if (rc) sqlite3_exec(st->wdb, "ROLLBACK TO rc_ap", NULL, NULL, NULL);
        sqlite3_exec(st->wdb, "RELEASE rc_ap", NULL, NULL, NULL);
    }
    return rc;
}

static void apply_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                       size_t n) {
    applying *a = arg;
    rc__cluster *cl = a->st->cl;
    pend *p = NULL, *ready = NULL, *parts = NULL;
    pthread_mutex_lock(&cl->mu);
    if (status != RC_OK) {
        if (!cl->failed) {
            cl->failed = 1;
            cl->fail_err = *err;
        }
    } else {
        if (a->stream_seq > cl->applied) cl->applied = a->stream_seq;
        if (a->mine && a->n_parts) { /* in body order, for their share of items */
            pend **tail = &parts;
            for (size_t i = 0; i < a->n_parts; i++) {
                pend *o = pend_take(cl, a->ptok[i]);
                if (!o) continue; /* (failed meanwhile) */
                o->wait_seq = i; /* (reused: its part's index) */
                *tail = o;
                tail = &o->next;
            }
        } else if (a->mine) {
            p = pend_take(cl, a->token);
        }
        collect_ready(cl, &ready);
    }
    pthread_mutex_unlock(&cl->mu);
    if (parts) {
        size_t total = 0;
        for (size_t i = 0; i < a->n_parts; i++) total += a->pn[i];
        while (parts) {
            pend *o = parts;
            parts = o->next;
            o->next = NULL;
            size_t off = 0;
            for (size_t i = 0; i < o->wait_seq; i++) off += a->pn[i];
            if (a->bad || total != n) {
                if (!a->bad) rc_err_set(&a->why, RC_INTERNAL, "cluster: stream seq %" PRIu64
                                        " holds %zu events, its parts %zu", a->stream_seq, n, total);
                pend_finish(o, RC_INTERNAL, &a->why, NULL, 0);
            } else {
                pend_finish(o, RC_OK, NULL, items + off, a->pn[o->wait_seq]);
            }
        }
    }
    if (status != RC_OK)
        RC_WARN("cluster", "apply of stream seq %" PRIu64 " failed: %s", a->stream_seq,
                rc_err_msg(err));
    if (p) {
        if (a->refused) pend_finish(p, RC_CONFLICT, &a->why, NULL, 0);
        else if (a->bad) pend_finish(p, RC_INTERNAL, &a->why, NULL, 0);
        else pend_finish(p, RC_OK, NULL, items, n);
    }
    resume_all(ready);
    applying_free(a);
}

int rc_store_apply(rc_store *st, const rc_repl_msg *m, rc_err *err) {
    if (!st || !st->cl) return rc_err_set(err, RC_INVALID, "store: not in cluster mode");
    applying *a = calloc(1, sizeof *a);
    if (!a) return rc_err_set(err, RC_NOMEM, "out of memory");
    a->st = st;
    a->stream_seq = m->stream_seq;
    a->time_ms = m->time_ms;
    a->mine = m->mine;
    a->token = m->token;
    a->expect_seq = m->expect_seq;
    if (m->expect_subject && !(a->expect_subject = strdup(m->expect_subject))) {
        applying_free(a);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    if (m->parts) { /* "token:n,token:n,..." */
        size_t cap = 1;
        for (const char *c = m->parts; *c; c++) cap += *c == ',';
        a->ptok = malloc(cap * sizeof *a->ptok);
        a->pn = malloc(cap * sizeof *a->pn);
        if (!a->ptok || !a->pn) {
            applying_free(a);
            return rc_err_set(err, RC_NOMEM, "out of memory");
        }
        for (const char *c = m->parts; *c && a->n_parts < cap;) {
            char *end;
            a->ptok[a->n_parts] = strtoull(c, &end, 10);
            if (*end != ':') break;
            a->pn[a->n_parts++] = (size_t)strtoull(end + 1, &end, 10);
            c = *end == ',' ? end + 1 : end;
        }
    }
    size_t len = m->len;
    if (m->state_len) {
        if (m->state_len > len || !(a->state = malloc(m->state_len))) {
            applying_free(a);
            return m->state_len > len ? rc_err_set(err, RC_INVALID, "cluster: state beyond the body")
                                      : rc_err_set(err, RC_NOMEM, "out of memory");
        }
        len -= m->state_len;
        memcpy(a->state, (const char *)m->body + len, m->state_len);
        a->state_len = m->state_len;
    }
    /* Decoded here, on the apply loop's thread, so the writer only appends.
     * "[]" (the stream's first message) only moves the position. */
    if (!(len == 2 && !memcmp(m->body, "[]", 2)) &&
        rc_event_decode_batch(m->body, len, &a->evs, &a->n, &a->why) != RC_OK) {
        RC_WARN("cluster", "stream seq %" PRIu64 " is not a batch of CloudEvents (%s): skipped",
                m->stream_seq, rc_err_msg(&a->why));
        a->bad = 1;
        a->evs = NULL;
        a->n = 0;
    }
    int rc = rc__enqueue_txn(st, apply_fn, a, apply_done, a, 1, err);
    if (rc) applying_free(a);
    return rc;
}

uint64_t rc_store_applied(rc_store *st) {
    if (!st->cl) return 0;
    pthread_mutex_lock(&st->cl->mu);
    uint64_t v = st->cl->applied;
    pthread_mutex_unlock(&st->cl->mu);
    return v;
}

int rc_store_apply_failed(rc_store *st, rc_err *why) {
    if (!st->cl) return 0;
    pthread_mutex_lock(&st->cl->mu);
    int f = st->cl->failed;
    if (f && why) *why = st->cl->fail_err;
    st->cl->failed = 0;
    pthread_mutex_unlock(&st->cl->mu);
    return f;
}

/* Under mu: unlink every waiting request onto one list. */
static pend *take_all(rc__cluster *cl) {
    pend *all = cl->waiting;
    cl->waiting = NULL;
    if (cl->q_tail) { /* queued, not published */
        cl->q_tail->next = all;
        all = cl->q_head;
        cl->q_head = cl->q_tail = NULL;
    }
    for (size_t i = 0; i < NBUCKETS; i++)
        while (cl->buckets[i]) {
            pend *p = cl->buckets[i];
            cl->buckets[i] = p->next;
            p->next = all;
            all = p;
        }
    return all;
}

static void fail_list(pend *all, int status, const char *why) {
    while (all) {
        pend *p = all;
        all = p->next;
        pend_fail(p, status, "cluster: %s", why);
    }
}

int rc_store_sweep_pending(rc_store *st, int64_t max_age_ms) {
    rc__cluster *cl = st->cl;
    if (!cl) return 0;
    int64_t cut = rc__now_ms() - max_age_ms;
    pend *old = NULL;
    int n = 0;
    pthread_mutex_lock(&cl->mu);
    for (size_t i = 0; i < NBUCKETS; i++)
        for (pend **pp = &cl->buckets[i]; *pp;) {
            pend *p = *pp;
            if (p->since_ms < cut) {
                *pp = p->next;
                p->next = old;
                old = p;
                n++;
            } else {
                pp = &p->next;
            }
        }
    for (pend **pp = &cl->waiting; *pp;) { /* duplicates and reruns waiting for the position */
        pend *p = *pp;
        if (p->since_ms < cut) {
            *pp = p->next;
            p->next = old;
            old = p;
            n++;
        } else {
            pp = &p->next;
        }
    }
    pthread_mutex_unlock(&cl->mu);
    while (old) {
        pend *p = old;
        old = p->next;
        pend_fail(p, RC_TIMEOUT, "%s", "cluster: published, but not applied on this node in time "
                                       "(it may be stored: retry with the same source and id)");
    }
    return n;
}

void rc_store_refuse_writes(rc_store *st, int status, const char *why) {
    rc__cluster *cl = st->cl;
    if (!cl) return;
    char msg[160];
    snprintf(msg, sizeof msg, "%s", why ? why : "");
    pthread_mutex_lock(&cl->mu);
    cl->refuse = status;
    snprintf(cl->refuse_why, sizeof cl->refuse_why, "%s", msg);
    /* Nothing will be applied while refusing: what waits for its apply
     * gets the reason now rather than never (it may still be stored:
     * the same doubt as a publish timeout). */
    pend *all = status ? take_all(cl) : NULL;
    pthread_mutex_unlock(&cl->mu);
    fail_list(all, status, msg);
}

int rc_store_cluster_info_get(rc_store *st, rc_store_cluster_info *out) {
    rc__cluster *cl = st ? st->cl : NULL;
    if (!cl) return 0;
    memset(out, 0, sizeof *out);
    if (cl->repl.state) cl->repl.state(cl->repl.ctx, &out->connected, &out->stream_last);
    pthread_mutex_lock(&cl->mu);
    out->applied = cl->applied;
    out->published = cl->published;
    out->coalesced = cl->coalesced;
    for (size_t i = 0; i < NBUCKETS; i++)
        for (pend *p = cl->buckets[i]; p; p = p->next) out->waiting++;
    for (pend *p = cl->waiting; p; p = p->next) out->waiting++;
    for (pend *p = cl->q_head; p; p = p->next) out->waiting++;
    out->refusing = cl->refuse;
    snprintf(out->why, sizeof out->why, "%s", cl->refuse_why);
    pthread_mutex_unlock(&cl->mu);
    if (out->stream_last > out->applied) out->lag = out->stream_last - out->applied;
    return 1;
}

int rc_store_refusing(rc_store *st, char *why, size_t n) {
    if (!st || !st->cl) return 0;
    pthread_mutex_lock(&st->cl->mu);
    int status = st->cl->refuse;
    if (why && n) snprintf(why, n, "%s", st->cl->refuse_why);
    pthread_mutex_unlock(&st->cl->mu);
    return status;
}

/* ---- set-up and tear-down ------------------------------------------------ */

typedef struct setup {
    rc__cluster *cl;
    uint64_t pos;
} setup;

/* On the writer (it owns the write connection): the table and statements. */
static int setup_fn(rc_txn *tx, void *arg, rc_err *err) {
    setup *su = arg;
    rc_store *st = rc__txn_store(tx);
    int rc = sqlite3_exec(st->wdb, POS_SCHEMA, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->wdb, "SELECT coalesce(max(stream_seq),0) FROM cluster_pos", -1,
                                &su->cl->pos, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->wdb, "INSERT INTO cluster_pos(stream_seq,head_seq) VALUES(?1,?2)",
                                -1, &su->cl->put, NULL);
    if (rc != SQLITE_OK) return rc__sqlite_err(st->wdb, rc, err, "cluster: stream position table");
    return position_of(st, su->cl->pos, &su->pos, err);
}

int rc_store_set_replicator(rc_store *st, const rc_replicator *r, rc_err *err) {
    if (!st || !r || !r->publish) return rc_err_set(err, RC_INVALID, "store: no replicator");
    if (st->cl) return rc_err_set(err, RC_INVALID, "store: replicator already set");
    rc__cluster *cl = calloc(1, sizeof *cl);
    if (!cl) return rc_err_set(err, RC_NOMEM, "out of memory");
    cl->repl = *r;
    pthread_mutex_init(&cl->mu, NULL);
    setup su = {cl, 0};
    int rc = rc_store_txn(st, setup_fn, &su, err);
    if (rc) {
        sqlite3_finalize(cl->pos);
        sqlite3_finalize(cl->put);
        pthread_mutex_destroy(&cl->mu);
        free(cl);
        return rc;
    }
    cl->applied = su.pos;
    st->cl = cl; /* before any door starts: no request has seen NULL since */
    return RC_OK;
}

void rc__cl_free(rc_store *st) {
    rc__cluster *cl = st->cl;
    if (!cl) return;
    /* The replicator stopped before the store: what still waits never gets
     * its answer. */
    fail_list(take_all(cl), RC_SHUTDOWN, "shut down before the write was applied");
    sqlite3_finalize(cl->pos);
    sqlite3_finalize(cl->put);
    pthread_mutex_destroy(&cl->mu);
    free(cl);
    st->cl = NULL;
}
