/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH. EXEC runs every queued command inside
 * ONE store transaction on the writer thread, so its writes are one atomic
 * append and its reads see exactly the state its writes build on. WATCH
 * remembers each key's mod_seq; EXEC's transaction compares them first and
 * answers a nil array (and writes nothing) when any changed. A stream key
 * changes with every event under its subject (an entry or a tombstone:
 * XADD, XDEL, XTRIM, DEL), so WATCH also remembers the subject's newest
 * seq; consumer group changes are no such events and, as in Redis, do not
 * count as changing the key.
 *
 * Commands that need the loop's read API or touch the connection (KEYS,
 * SCAN, HGETALL, SUBSCRIBE, CLIENT, ...) are refused at queue time and make
 * EXEC fail with EXECABORT, as any queue-time error does in Redis.
 */
#include <stdlib.h>
#include <string.h>

#include "resp/door.h"
#include "resp/streamkey.h"

void rc__r_multi_reset(rc__client *cl) {
    for (size_t i = 0; i < cl->nmq; i++) {
        for (size_t j = 0; j < cl->mq[i].argc; j++) free(cl->mq[i].argv[j]);
        free(cl->mq[i].argv);
        free(cl->mq[i].argvlen);
    }
    cl->nmq = 0;
    cl->in_multi = 0;
    cl->multi_dirty = 0;
    for (size_t i = 0; i < cl->nwatch; i++) free(cl->watch[i].key);
    free(cl->watch);
    cl->watch = NULL;
    cl->nwatch = 0;
}

void rc__r_cmd_multi(rc__call *c) {
    if (c->cl->in_multi) {
        rc_resp_w_error(&c->w, "ERR MULTI calls can not be nested");
        return;
    }
    c->cl->in_multi = 1;
    c->cl->multi_dirty = 0;
    rc_resp_w_ok(&c->w);
}

void rc__r_cmd_discard(rc__call *c) {
    if (!c->cl->in_multi) {
        rc_resp_w_error(&c->w, "ERR DISCARD without MULTI");
        return;
    }
    rc__r_multi_reset(c->cl);
    rc_resp_w_ok(&c->w);
}

void rc__r_cmd_watch(rc__call *c) {
    rc__client *cl = c->cl;
    if (cl->in_multi) {
        rc_resp_w_error(&c->w, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (size_t i = 1; i < c->argc; i++)
        if (!rc__r_key_ok(c, i)) return;
    rc__val v = {0};
    for (size_t i = 1; i < c->argc; i++) {
        rc_err err;
        uint64_t head = 0;
        int rc = rc__r_get(c->door->st, NULL, c->argv[i], &v, &err);
        if (rc == RC_OK || rc == RC_NOT_FOUND) {
            int r2 = rc__r_subject_head(c->door->st, NULL, c->argv[i], &head, &err);
            if (r2) rc = r2;
        }
        if (rc && rc != RC_NOT_FOUND) {
            rc__r_reply_status(&c->w, rc, &err);
            rc_buf_free(&v.v);
            return;
        }
        rc__watch *nw = realloc(cl->watch, (cl->nwatch + 1) * sizeof *nw);
        if (!nw) abort();
        cl->watch = nw;
        cl->watch[cl->nwatch].key = rc__r_strndup(c->argv[i], c->argvlen[i]);
        cl->watch[cl->nwatch].mod_seq = rc == RC_OK ? v.mod_seq : 0;
        cl->watch[cl->nwatch].head = head;
        cl->nwatch++;
    }
    rc_buf_free(&v.v);
    rc_resp_w_ok(&c->w);
}

void rc__r_cmd_unwatch(rc__call *c) {
    rc__client *cl = c->cl;
    for (size_t i = 0; i < cl->nwatch; i++) free(cl->watch[i].key);
    free(cl->watch);
    cl->watch = NULL;
    cl->nwatch = 0;
    rc_resp_w_ok(&c->w);
}

typedef struct exec_arg {
    rc_resp *door;
    rc__queued *q;
    size_t nq;
    rc__watch *watch;
    size_t nwatch;
    rc_buf notes; /* keyspace notes of its commands, sent after EXEC */
} exec_arg;

/* Runs once EXEC's outcome is known (loop; see rc__r_txn_once): only then
 * do the notes of its group commands leave. A failed EXEC has none (the
 * step drops them). */
static void exec_free(void *p) {
    exec_arg *x = p;
    rc__r_keyspace_release(x->door, &x->notes);
    rc_buf_free(&x->notes);
    for (size_t i = 0; i < x->nq; i++) {
        for (size_t j = 0; j < x->q[i].argc; j++) free(x->q[i].argv[j]);
        free(x->q[i].argv);
        free(x->q[i].argvlen);
    }
    free(x->q);
    for (size_t i = 0; i < x->nwatch; i++) free(x->watch[i].key);
    free(x->watch);
    free(x);
}

static int exec_step(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err) {
    exec_arg *x = arg;
    rc__val v = {0};
    for (size_t i = 0; i < x->nwatch; i++) {
        int rc = rc__r_get(NULL, tx, x->watch[i].key, &v, err);
        if (rc && rc != RC_NOT_FOUND) {
            rc_buf_free(&v.v);
            return rc;
        }
        uint64_t now = rc == RC_OK ? v.mod_seq : 0, head = 0;
        if ((rc = rc__r_subject_head(x->door->st, tx, x->watch[i].key, &head, err))) {
            rc_buf_free(&v.v);
            return rc;
        }
        if (now != x->watch[i].mod_seq || head != x->watch[i].head) {
            rc_buf_free(&v.v);
            rc_err_clear(err);
            rc_resp_w_null_array(w);
            return RC_OK;
        }
    }
    rc_buf_free(&v.v);
    rc_err_clear(err);
    rc_resp_w_array(w, x->nq);
    rc_buf_reset(&x->notes);
    rc__r_keyspace_hold(&x->notes);
    for (size_t i = 0; i < x->nq; i++) {
        rc__queued *q = &x->q[i];
        rc__call c = {.door = x->door, .cl = NULL, .argc = q->argc, .argv = q->argv,
                      .argvlen = q->argvlen, .cmd = q->cmd, .w = *w, .tx = tx};
        rc_err_clear(&c.err);
        q->cmd->fn(&c);
        if (c.status) {
            rc__r_keyspace_hold(NULL);
            rc_buf_reset(&x->notes); /* rolled back: nothing happened */
            *err = c.err;
            if (err->code != c.status) rc_err_set(err, c.status, "%s", rc_strerror(c.status));
            return c.status; /* rolls back every write of the transaction */
        }
    }
    rc__r_keyspace_hold(NULL);
    return RC_OK;
}

void rc__r_cmd_exec(rc__call *c) {
    rc__client *cl = c->cl;
    if (!cl->in_multi) {
        rc_resp_w_error(&c->w, "ERR EXEC without MULTI");
        return;
    }
    if (cl->multi_dirty) {
        rc__r_multi_reset(cl);
        rc_resp_w_error(&c->w, "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    exec_arg *x = calloc(1, sizeof *x);
    if (!x) abort();
    x->door = c->door;
    x->q = cl->mq;
    x->nq = cl->nmq;
    x->watch = cl->watch;
    x->nwatch = cl->nwatch;
    cl->mq = NULL;
    cl->nmq = cl->cap_mq = 0;
    cl->watch = NULL;
    cl->nwatch = 0;
    rc__r_multi_reset(cl);
    rc__r_txn_once(c, exec_step, x, exec_free);
}
