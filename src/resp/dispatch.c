/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dispatcher: finds a command in the table and checks existence, arity,
 * authentication, subscribed mode and MULTI rules before its handler runs;
 * then the write path (append or transaction step, in the loop or inside
 * EXEC) and the read path shared by every command family.
 *
 * Invariant: a reply is written exactly once per command, in command order
 * (see door.h on slots). Handlers either reply at once or hand one write to
 * rc__r_append()/rc__r_txn(), whose reply arrives when the store committed.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redcar/log.h"
#include "redcar/slowlog.h"
#include "resp/door.h"

/* ---- the table ---------------------------------------------------------------- */

static const rc__cmd table[] = {
#define RC_CMD(name, arity, flags, handler, summary) {#name, arity, flags, handler, summary},
#include "resp/commands.def"
#undef RC_CMD
};
#define NCMDS (sizeof table / sizeof table[0])

const rc__cmd *rc__r_cmd_table(size_t *n) {
    *n = NCMDS;
    return table;
}

/* Names are short: a case-insensitive hash into a small open-addressed index
 * built once keeps lookup O(1) without locale-dependent calls. */
#define HSLOTS 512
static const rc__cmd *hindex[HSLOTS];
static pthread_once_t hindex_once = PTHREAD_ONCE_INIT;

static unsigned hname(const char *s, size_t n) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned)tolower((unsigned char)s[i])) * 16777619u;
    return h;
}

static void hindex_build(void) {
    for (size_t i = 0; i < NCMDS; i++) {
        unsigned h = hname(table[i].name, strlen(table[i].name)) % HSLOTS;
        while (hindex[h]) h = (h + 1) % HSLOTS;
        hindex[h] = &table[i];
    }
}

const rc__cmd *rc__r_cmd_find(const char *name, size_t len) {
    pthread_once(&hindex_once, hindex_build);
    if (len == 0 || len > 32) return NULL;
    unsigned h = hname(name, len) % HSLOTS;
    while (hindex[h]) {
        const rc__cmd *k = hindex[h];
        if (strlen(k->name) == len && strncasecmp(k->name, name, len) == 0) return k;
        h = (h + 1) % HSLOTS;
    }
    return NULL;
}

/* ---- helpers -------------------------------------------------------------------- */

int rc__r_streq(const char *a, const char *lit) { return strcasecmp(a, lit) == 0; }

int rc__r_parse_i64(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    uint64_t v = 0;
    if (n == 0 || n > 20) return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        if (++i == n) return 0;
    }
    if (s[i] < '1' || s[i] > '9') return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return 0;
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v;
    }
    return 1;
}

int rc__r_parse_ld(const char *s, size_t n, long double *out) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp || isspace((unsigned char)s[0])) return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(tmp, &end);
    if (*end || errno == ERANGE || isnan(v)) return 0;
    *out = v;
    return 1;
}

void rc__r_err_syntax(rc__call *c) { rc_resp_w_error(&c->w, "ERR syntax error"); }
void rc__r_err_int(rc__call *c) {
    rc_resp_w_error(&c->w, "ERR value is not an integer or out of range");
}
void rc__r_err_wrongtype(rc_resp_w *w) {
    rc_resp_w_error(w, "WRONGTYPE Operation against a key holding the wrong kind of value");
}
void rc__r_err_arity(rc__call *c) {
    rc_resp_w_errorf(&c->w, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}
void rc__r_reply_status(rc_resp_w *w, int code, const rc_err *err) { rc_resp_w_status(w, code, err); }

int rc__r_key_ok(rc__call *c, size_t i) {
    if (memchr(c->argv[i], '\0', c->argvlen[i])) {
        rc_resp_w_error(&c->w, "ERR keys and channels may not contain NUL bytes");
        return 0;
    }
    return 1;
}

char *rc__r_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- reads -------------------------------------------------------------------- */

static void val_from(rc__val *out, const rc_kv_entry *e) {
    out->kind = e->kind;
    out->n = e->value_len;
    out->mod_seq = e->mod_seq;
    out->expire_ms = e->expire_ms;
    rc_buf_reset(&out->v);
    if (e->kind == RC_KV_STRING) rc_buf_append(&out->v, e->value ? e->value : "", e->value_len);
}

static int val_cb(const rc_kv_entry *e, void *arg) {
    val_from(arg, e);
    return 1;
}

int rc__r_get(rc_store *st, rc_txn *tx, const char *key, rc__val *out, rc_err *err) {
    if (tx) {
        rc_kv_entry e;
        int rc = rc_txn_kv_get(tx, key, &e, err);
        if (rc == RC_OK) val_from(out, &e);
        return rc;
    }
    return rc_store_kv_get(st, key, 0, val_cb, out, err);
}

rc__args *rc__r_args(const rc__call *c, size_t from, size_t to) {
    size_t n = to > from ? to - from : 0, bytes = 0;
    for (size_t i = from; i < to; i++) bytes += c->argvlen[i] + 1;
    rc__args *a = calloc(1, sizeof *a + n * (sizeof(char *) + sizeof(size_t)) + bytes);
    if (!a) abort();
    a->n = n;
    a->v = (char **)(a + 1);
    a->len = (size_t *)(a->v + n);
    char *p = (char *)(a->len + n);
    for (size_t i = 0; i < n; i++) {
        a->v[i] = p;
        a->len[i] = c->argvlen[from + i];
        memcpy(p, c->argv[from + i], a->len[i]);
        p[a->len[i]] = '\0';
        p += a->len[i] + 1;
    }
    return a;
}

/* ---- max-event-size -------------------------------------------------------------- */

static size_t slen(const char *s) { return s ? strlen(s) : 0; }

size_t rc__r_event_size(const rc_event *ev) {
    size_t n = ev->data_len + slen(ev->id) + slen(ev->source) + slen(ev->specversion) +
               slen(ev->type) + slen(ev->datacontenttype) + slen(ev->dataschema) +
               slen(ev->subject) + slen(ev->time);
    for (size_t i = 0; i < ev->n_ext; i++) n += slen(ev->ext[i].name) + slen(ev->ext[i].s) + 8;
    return n;
}

static int too_big(size_t limit, const rc_event *ev, rc_err *err) {
    if (!limit || !ev) return 0;
    size_t n = rc__r_event_size(ev);
    if (n <= limit) return 0;
    rc_err_set(err, RC_TOO_LARGE, "event of %zu bytes is larger than max-event-size (%zu)", n, limit);
    return 1;
}

int rc__r_event_fits(rc__call *c, const rc_event *ev) {
    rc_err err;
    if (!too_big(atomic_load_explicit(&c->door->max_event, memory_order_relaxed), ev, &err)) return 1;
    rc_resp_w_status(&c->w, RC_TOO_LARGE, &err);
    return 0;
}

/* Steps run on the writer thread; txn_trampoline sets the limit of the door
 * whose step runs, so rc__r_tx_append needs no door argument. */
static _Thread_local size_t tl_max_event;

int rc__r_tx_append(rc_txn *tx, rc_event *ev, rc_err *err) {
    if (!ev) return rc_err_set(err, RC_NOMEM, "out of memory");
    if (too_big(tl_max_event, ev, err)) {
        rc_event_free(ev);
        return RC_TOO_LARGE;
    }
    return rc_txn_append(tx, ev, NULL, err);
}

int rc__r_tx_load(rc_txn *tx, const char *key, rc__val *v, int *exists, rc_err *err) {
    int rc = rc__r_get(NULL, tx, key, v, err);
    *exists = rc == RC_OK;
    if (rc == RC_NOT_FOUND) {
        rc_err_clear(err);
        return RC_OK;
    }
    return rc;
}

/* ---- writes --------------------------------------------------------------------- */

static rc__op *op_new(rc__call *c, rc__rkind kind) {
    rc__op *op = calloc(1, sizeof *op);
    if (!op) abort();
    op->cl = c->cl;
    op->door = c->door;
    op->kind = kind;
    op->proto = c->w.proto;
    op->slot = rc__r_slot_pending(c->cl);
    c->cl->pending++;
    return op;
}

static void defer(rc__op *op) {
    rc_resp *d = op->door;
    op->next = NULL;
    if (d->defer_t) d->defer_t->next = op;
    else d->defer_h = op;
    d->defer_t = op;
}

static void append_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                        size_t n) {
    rc__op *op = arg;
    op->status = status;
    if (status != RC_OK && err) op->err = *err;
    if (status == RC_OK && op->kind == RC__R_PUBLISH && n > 0) {
        rc_resp *d = op->door;
        uint64_t seq = items[0].seq;
        size_t i = seq % RC__PUBRING;
        op->ival = d->pubring[i].seq == seq ? d->pubring[i].n : 0;
    }
    rc__r_op_complete(op);
}

void rc__r_append(rc__call *c, rc_event **evs, size_t n, rc__rkind kind, int64_t ival) {
    for (size_t i = 0; i < n; i++) {
        if (rc__r_event_fits(c, evs[i])) continue;
        for (size_t k = 0; k < n; k++) rc_event_free(evs[k]); /* nothing of it is stored */
        return;
    }
    if (c->tx) { /* inside EXEC: part of its single transaction */
        for (size_t i = 0; i < n; i++) {
            if (c->status) {
                rc_event_free(evs[i]);
                continue;
            }
            int rc = rc_txn_append(c->tx, evs[i], NULL, &c->err);
            if (rc) c->status = rc;
        }
        if (c->status) return;
        if (kind == RC__R_OK) rc_resp_w_ok(&c->w);
        else rc_resp_w_int(&c->w, ival);
        return;
    }
    rc__op *op = op_new(c, kind);
    op->ival = ival;
    op->nevs = n;
    if (n == 1) {
        op->ev1 = evs[0];
        op->evs = &op->ev1;
    } else {
        op->evs = malloc(n * sizeof *op->evs);
        if (!op->evs) abort();
        memcpy(op->evs, evs, n * sizeof *evs);
    }
    defer(op);
}

static int txn_trampoline(rc_txn *tx, void *arg, rc_err *err) {
    rc__op *op = arg;
    rc_buf_reset(&op->reply); /* a retried group runs the step again */
    rc_resp_w w = {&op->reply, op->proto};
    tl_max_event = atomic_load_explicit(&op->door->max_event, memory_order_relaxed);
    int rc = op->step(tx, op->arg, &w, err);
    if (rc && err) op->err = *err;
    return rc;
}

static void txn_done(void *arg, int status, const rc_err *err, const rc_append_item *items,
                     size_t n) {
    (void)items;
    (void)n;
    rc__op *op = arg;
    op->status = status;
    if (status != RC_OK && err && err->code == status) op->err = *err;
    rc__r_op_complete(op);
}

static void txn_submit(rc__call *c, rc__step_fn fn, void *arg, void (*arg_free)(void *),
                       int once) {
    if (c->tx) {
        if (!c->status) {
            int rc = fn(c->tx, arg, &c->w, &c->err);
            if (rc) c->status = rc;
        }
        if (arg_free) arg_free(arg);
        return;
    }
    rc__op *op = op_new(c, RC__R_STEP);
    op->step = fn;
    op->arg = arg;
    op->arg_free = arg_free;
    op->once = once;
    defer(op);
}

void rc__r_txn(rc__call *c, rc__step_fn fn, void *arg, void (*arg_free)(void *)) {
    txn_submit(c, fn, arg, arg_free, 0);
}

void rc__r_txn_once(rc__call *c, rc__step_fn fn, void *arg, void (*arg_free)(void *)) {
    txn_submit(c, fn, arg, arg_free, 1);
}

void rc__r_submit(rc_resp *d) {
    rc__op *op = d->defer_h;
    d->defer_h = d->defer_t = NULL;
    if (!op) return;
    /* One batch: the store may run the group right here (see
     * rc_store_batch_end), answering through the completion stack. */
    rc_store_batch_begin(d->st);
    while (op) {
        rc__op *next = op->next;
        rc_err err;
        rc_err_clear(&err);
        int rc;
        if (op->evs) {
            rc_event **evs = op->evs;
            int owned = evs != &op->ev1;
            op->evs = NULL; /* from here the writer thread may be using op */
            /* the store owns the events from here, whatever it answers */
            rc = rc_store_append_async(d->st, evs, op->nevs, NULL, append_done, op, &err);
            if (owned) free(evs);
        } else {
            rc = (op->once ? rc_store_txn_async : rc_store_txn_async_rerun)(
                d->st, txn_trampoline, op, txn_done, op, &err);
        }
        if (rc) {
            /* refused up front: no completion will come; answer through
             * the completion path like any other outcome */
            op->status = rc;
            op->err = err;
            rc__r_op_complete(op);
        }
        op = next;
    }
    rc_store_batch_end(d->st);
}

void rc__r_op_finish(rc__op *op) {
    rc__slot *s = op->slot;
    rc_resp_w w = {&s->buf, op->proto};
    if (op->status != RC_OK) {
        rc__r_reply_status(&w, op->status, &op->err);
    } else {
        switch (op->kind) {
        case RC__R_OK: rc_resp_w_ok(&w); break;
        case RC__R_INT:
        case RC__R_PUBLISH: rc_resp_w_int(&w, op->ival); break;
        case RC__R_STEP:
        case RC__R_EXEC:
            if (s->buf.len == 0) {
                rc_buf_free(&s->buf);
                s->buf = op->reply;
                rc_buf_init(&op->reply);
            } else {
                rc_buf_append(&s->buf, op->reply.p, op->reply.len);
            }
            break;
        }
    }
    s->ready = 1;
    if (op->arg_free) op->arg_free(op->arg);
    rc_buf_free(&op->reply);
    free(op);
}

/* ---- dispatch ----------------------------------------------------------------- */

static void unknown(rc_resp_w *w, const rc_resp_cmd *cmd) {
    char args[300];
    size_t n = 0;
    args[0] = '\0';
    for (size_t i = 1; i < cmd->argc && n < 128; i++) {
        int room = 128 - (int)n;
        int len = (int)(cmd->argvlen[i] < (size_t)room ? cmd->argvlen[i] : (size_t)room);
        int k = snprintf(args + n, sizeof args - n, "'%.*s' ", len, cmd->argv[i]);
        if (k < 0) break;
        n += (size_t)k;
        if (n >= sizeof args) n = sizeof args - 1;
    }
    rc_resp_w_errorf(w, "ERR unknown command '%.128s', with args beginning with: %s", cmd->argv[0],
                     args);
}

static int arity_ok(const rc__cmd *k, size_t argc) {
    return k->arity > 0 ? argc == (size_t)k->arity : argc >= (size_t)(-k->arity);
}

/* Commands a read-only user may not run: the table's writes and admin
 * commands, and FLUSHDB/FLUSHALL, which append delete events from the
 * loop's read path and so carry no write flag. EXEC is not one: what it runs
 * was checked as it was queued. */
static int needs_rw(const rc__cmd *k) {
    if (k->flags & RC_CF_TXCTL) return 0;
    return (k->flags & (RC_CF_WRITE | RC_CF_ADMIN)) || k->fn == rc__r_cmd_flushdb;
}

/* Authentication and role, the same inside and outside MULTI. 1: may run;
 * 0: the refusal was written. */
static int allowed(rc__client *cl, const rc__cmd *k, rc_resp_w *w) {
    if (!cl->authed && !(k->flags & RC_CF_NOAUTH)) {
        rc_resp_w_error(w, "NOAUTH Authentication required.");
        return 0;
    }
    if (cl->role == RC_AUTH_RO && needs_rw(k)) {
        rc_resp_w_errorf(w, "NOPERM this user has no permissions to run the '%s' command", k->name);
        return 0;
    }
    return 1;
}

static void queue_cmd(rc__client *cl, const rc__cmd *k, const rc_resp_cmd *cmd) {
    if (cl->nmq == cl->cap_mq) {
        size_t cap = cl->cap_mq ? cl->cap_mq * 2 : 8;
        rc__queued *q = realloc(cl->mq, cap * sizeof *q);
        if (!q) abort();
        cl->mq = q;
        cl->cap_mq = cap;
    }
    rc__queued *q = &cl->mq[cl->nmq++];
    q->cmd = k;
    q->argc = cmd->argc;
    q->argv = calloc(cmd->argc, sizeof *q->argv);
    q->argvlen = calloc(cmd->argc, sizeof *q->argvlen);
    if (!q->argv || !q->argvlen) abort();
    for (size_t i = 0; i < cmd->argc; i++) {
        q->argv[i] = rc__r_strndup(cmd->argv[i], cmd->argvlen[i]);
        q->argvlen[i] = cmd->argvlen[i];
    }
}

static void run(rc__client *cl, const rc__cmd *k, rc_resp_cmd *cmd) {
    rc_resp *d = cl->door;
    rc_resp_w w = {rc__r_reply_target(cl), atomic_load(&cl->proto)};
    d->st_cmds++;
    if (!k) {
        unknown(&w, cmd);
        return;
    }
    cl->last_cmd = k->name;
    if (!arity_ok(k, cmd->argc)) {
        rc_resp_w_errorf(&w, "ERR wrong number of arguments for '%s' command", k->name);
        return;
    }
    if (!allowed(cl, k, &w)) return;
    if (w.proto == 2 && cl->nsubs > 0 && !(k->flags & RC_CF_PUBSUB)) {
        rc_resp_w_errorf(&w, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                             "PING / QUIT / RESET are allowed in this context", k->name);
        return;
    }
    rc__call c = {.door = d, .cl = cl, .argc = cmd->argc, .argv = cmd->argv,
                  .argvlen = cmd->argvlen, .cmd = k, .w = w};
    /* The slow log times the handler only (a write's wait for durability
     * is not the loop's time, as in Redis); off, it costs an atomic load. */
    rc_slowlog *sl = rc_slowlog_process();
    if (d->cfg) rc_slowlog_sync(sl, d->cfg);
    if (!rc_slowlog_enabled(sl)) {
        k->fn(&c);
        return;
    }
    int64_t t0 = rc_slowlog_clock_us();
    k->fn(&c);
    rc_slowlog_record(sl, RC_SLOWLOG_RESP, rc_slowlog_clock_us() - t0, cmd->argc,
                      (const char *const *)cmd->argv, cmd->argvlen, cl->addr, cl->name);
}

void rc__r_dispatch(rc__client *cl, rc_resp_cmd *cmd) {
    const rc__cmd *k = rc__r_cmd_find(cmd->argv[0], cmd->argvlen[0]);
    if (cl->in_multi && !(k && (k->flags & RC_CF_TXCTL))) {
        rc_resp_w w = {rc__r_reply_target(cl), atomic_load(&cl->proto)};
        cl->door->st_cmds++;
        if (!k) {
            unknown(&w, cmd);
            cl->multi_dirty = 1;
        } else if (!arity_ok(k, cmd->argc)) {
            rc_resp_w_errorf(&w, "ERR wrong number of arguments for '%s' command", k->name);
            cl->multi_dirty = 1;
        } else if (!allowed(cl, k, &w)) {
            cl->multi_dirty = 1;
        } else if (k->flags & (RC_CF_NOMULTI | RC_CF_LOOPONLY)) {
            rc_resp_w_errorf(&w, "ERR Command '%s' is not allowed inside a transaction", k->name);
            cl->multi_dirty = 1;
        } else {
            queue_cmd(cl, k, cmd);
            rc_resp_w_simple(&w, "QUEUED");
        }
        return;
    }
    if (k && !(k->flags & RC_CF_WRITE) && cl->pending > 0) {
        /* a read waits for this client's writes: it must see them */
        cl->held = 1;
        cl->hold = *cmd;
        return;
    }
    run(cl, k, cmd);
}

int rc__r_dispatch_held(rc__client *cl) {
    cl->held = 0;
    rc_resp_cmd cmd = cl->hold;
    run(cl, rc__r_cmd_find(cmd.argv[0], cmd.argvlen[0]), &cmd);
    return 1;
}
