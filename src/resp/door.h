/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the RESP door shared by the loop, the dispatcher and the
 * command families. Not a public header.
 *
 * Threads: everything here belongs to the loop thread except
 *  - rc__op, which a command hands to the store writer and which comes back
 *    through the door's lock-free completion stack (door->done);
 *  - a client's inbox (pub/sub messages): the hub's deliver callback stages
 *    (client, frame) pairs on the writer thread, and the hub's batch hook
 *    moves them into the clients' inboxes under door->qmu once per commit
 *    group. A frame is built once per event and variant and shared.
 *
 * Reply order: a client's replies leave in command order. A command that
 * writes gets a pending slot in the client's slot FIFO; while any slot is
 * pending, later replies go to slots behind it. Commands that read wait
 * (the client is "held") until the client's own writes have committed, so a
 * client always reads its own writes. Writes need not wait: the store's
 * writer applies requests in submission order.
 */
#ifndef RC_RESP_DOOR_H
#define RC_RESP_DOOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "redcar/api.h"
#include "redcar/auth.h"
#include "redcar/buf.h"
#include "redcar/config.h"
#include "redcar/hub.h"
#include "redcar/store.h"
#include "resp/parser.h"
#include "resp/reply.h"
#include "resp/resp.h"

#define RC__SOURCE "redcar://resp"

/* ---- command table -------------------------------------------------------- */
enum {
    RC_CF_WRITE = 1u << 0,    /* may append: runs without waiting for earlier writes */
    RC_CF_READ = 1u << 1,     /* reads the store */
    RC_CF_NOAUTH = 1u << 2,   /* allowed before AUTH */
    RC_CF_PUBSUB = 1u << 3,   /* allowed in RESP2 subscribed mode */
    RC_CF_NOMULTI = 1u << 4,  /* touches connection state: not queued by MULTI */
    RC_CF_TXCTL = 1u << 5,    /* MULTI/EXEC/DISCARD/WATCH...: runs even inside MULTI */
    RC_CF_FAST = 1u << 6,
    RC_CF_ADMIN = 1u << 7,
    RC_CF_KEY1 = 1u << 8,     /* key specs for COMMAND INFO: argv[1] */
    RC_CF_KEYS = 1u << 9,     /* argv[1..] */
    RC_CF_KEYPAIRS = 1u << 10,/* argv[1], argv[3], ... */
    RC_CF_KEY12 = 1u << 11,   /* argv[1], argv[2] */
    RC_CF_LOOPONLY = 1u << 12 /* reads that need the store's read API (no txn form) */
};

typedef struct rc__call rc__call;
typedef void (*rc__handler)(rc__call *c);

typedef struct rc__cmd {
    const char *name;
    int arity;
    unsigned flags;
    rc__handler fn;
    const char *summary;
} rc__cmd;

/* Handlers are declared by the table itself. */
#define RC_CMD(name, arity, flags, handler, summary) void handler(rc__call *c);
#include "resp/commands.def"
#undef RC_CMD

const rc__cmd *rc__r_cmd_find(const char *name, size_t len);
const rc__cmd *rc__r_cmd_table(size_t *n);

/* ---- pub/sub frames ---------------------------------------------------------- */
/* The encoded message (or pmessage) of one event for one variant (RESP2 or
 * RESP3, data or CEFORMAT json, pattern): built once on the writer thread,
 * shared by every subscriber it goes to, freed by the last reference. */
typedef struct rc__frame {
    atomic_uint refs;
    size_t len;
    char data[];
} rc__frame;
void rc__r_frame_unref(rc__frame *f);

/* A vector of frame references: a client's inbox. */
typedef struct rc__frames {
    rc__frame **v;
    size_t n, cap;
} rc__frames;
void rc__r_frames_push(rc__frames *q, rc__frame *f); /* takes the reference */
void rc__r_frames_clear(rc__frames *q);              /* drops every reference, keeps memory */
void rc__r_frames_free(rc__frames *q);

/* ---- connection ------------------------------------------------------------- */
typedef struct rc__client rc__client;
typedef struct rc__slot rc__slot;
typedef struct rc__op rc__op;

struct rc__slot {
    rc_buf buf;
    int ready;
    rc__slot *next;
};

typedef struct rc__watch {
    char *key;
    uint64_t mod_seq; /* 0 = absent */
    uint64_t head;    /* newest event with the key as subject (streams), 0 = none */
} rc__watch;

typedef struct rc__queued {
    size_t argc;
    char **argv;
    size_t *argvlen;
    const rc__cmd *cmd;
} rc__queued;

struct rc__client {
    uint64_t id;
    int fd;
    rc_resp *door;
    rc_resp_parser *parser;
    rc_buf out;            /* ready to send */
    size_t out_off;        /* bytes of out already sent */
    atomic_size_t out_len; /* out.len - out_off, read by the deliver callback */
    rc__slot *sh, *st;     /* slot FIFO */
    int pending;           /* writes in flight */
    int held;              /* `hold` is a command waiting for pending == 0 */
    int throttled;         /* too many writes in flight: input paused */
    rc_resp_cmd hold;
    atomic_int proto;
    int authed;
    /* Who AUTH/HELLO said (auth.c): role RC_AUTH_RO refuses writes; with
     * authed set and role RC_AUTH_NONE no credential is configured (full
     * access). user "" is the default user. */
    int role;
    char user[RC_AUTH_NAME_MAX + 1];
    int closing;           /* close after out is flushed (QUIT, protocol error) */
    int dead;              /* closed; freed when pending reaches 0 */
    unsigned ev_mask;      /* current epoll interest */
    char *name, *lib_name, *lib_ver;
    char addr[64], laddr[64];
    int64_t ctime_ms, last_ms;
    const char *last_cmd;
    /* MULTI / WATCH */
    int in_multi, multi_dirty;
    rc__queued *mq;
    size_t nmq, cap_mq;
    rc__watch *watch;
    size_t nwatch;
    /* pub/sub */
    rc_sub *sub;
    size_t nsubs;          /* channels + patterns */
    char **chans, **pats;  /* this client's subscriptions (the hub has no listing) */
    size_t nchans, npats;
    atomic_int ce_json;    /* CLIENT CEFORMAT json: messages are structured CloudEvents */
    size_t out_limit;      /* client-output-buffer-limit-pubsub at SUBSCRIBE; 0 = none */
    /* writer thread only (deliver callback and batch hook, under the hub lock) */
    size_t staged;         /* bytes staged for this client in the current batch */
    int w_overflow;        /* past out_limit: nothing more is staged */
    /* below: under door->qmu */
    rc__frames inbox;
    atomic_size_t in_bytes; /* bytes in inbox; read without the lock by deliver */
    int in_dirty, overflow;
    rc__client *dirty_next;
    /* loop only: the inbox taken from under the lock, not yet in out */
    rc__frames lq;
    int l_overflow;
    /* loop-only list of clients to service after a wake-up */
    int touched;
    rc__client *tnext;
    /* all clients list */
    rc__client *prev, *next;
    /* TLS (tls_io.c): the session, and the door's list of clients whose
     * decrypted input waits inside GnuTLS, where epoll cannot see it */
    rc_tls_conn *tls;
    rc__client *tls_pprev, *tls_pnext;
    int tls_pend;
};

/* ---- writes in flight ------------------------------------------------------ */
/* A transaction step: runs on the writer thread (inside the store's txn),
 * reads through tx, appends with rc_txn_append, writes its reply to w.
 * Command errors (WRONGTYPE, not an integer) are replies, not failures:
 * return RC_OK. A non-OK return rolls back and answers the error. */
typedef int (*rc__step_fn)(rc_txn *tx, void *arg, rc_resp_w *w, rc_err *err);

typedef enum { RC__R_OK, RC__R_INT, RC__R_PUBLISH, RC__R_STEP, RC__R_EXEC } rc__rkind;

struct rc__op {
    rc__client *cl;
    rc__slot *slot;
    rc_resp *door;
    rc__rkind kind;
    int proto;
    int64_t ival;
    rc__step_fn step;
    void *arg;
    void (*arg_free)(void *);
    int once;            /* the step must not run twice (rc__r_txn_once) */
    rc_buf reply;
    int status;
    rc_err err;
    /* a submission held until the end of the loop iteration (rc__r_submit) */
    rc_event **evs;      /* NULL: a transaction step */
    size_t nevs;
    rc_event *ev1;       /* evs points here when there is one event */
    rc__op *next;
};

/* ---- GET cache (cache.c) ------------------------------------------------------ */
typedef struct rc__cache rc__cache;
rc__cache *rc__r_cache_new(rc_hub *hub, size_t max_bytes);
void rc__r_cache_free(rc__cache *c);
uint64_t rc__r_cache_gen(rc__cache *c);
/* Writes the GET reply on a hit: 1 value, 2 cached absence; 0 miss. */
int rc__r_cache_get(rc__cache *c, const char *key, size_t klen, rc_resp_w *w, int64_t now_ms);
/* Fill after a store read that began at generation gen. */
void rc__r_cache_put(rc__cache *c, const char *key, size_t klen, const void *val, size_t vlen,
                     int present, int64_t expire_ms, uint64_t gen);

/* ---- the door ---------------------------------------------------------------- */
#define RC__PUBRING 16384

struct rc_resp {
    rc_store *st;
    rc_hub *hub;
    rc_config *cfg;
    rc__cache *cache;
    int lfd, epfd, evfd;
    int port;
    pthread_t th, exp_th;
    atomic_int stop;
    rc__client **byfd;
    size_t nbyfd;
    rc__client *all;
    rc__client *zombies;   /* closed, waiting for writes in flight */
    size_t nclients;
    uint64_t next_id;
    int64_t start_ms;
    /* completions: a lock-free stack (newest first); the push that finds
     * it empty wakes the loop, so one wake-up per drain */
    _Atomic(rc__op *) done;
    /* pub/sub inboxes, filled on the writer thread */
    pthread_mutex_t qmu;
    rc__client *dirty;
    int wake_armed;
    /* writer thread only (hub lock held): deliveries of the current batch,
     * and the frames built for its current event */
    struct rc__staged { rc__client *cl; rc__frame *f; } *stage;
    size_t nstage, capstage;
    struct rc__fcache { int proto, json; const char *pattern; rc__frame *f; } fcache[8];
    size_t nfcache;
    const rc_event *fc_ev;
    uint64_t fc_seq;
    int hooked;            /* rc__r_deliver_batch is a hub batch hook */
    /* loop only: writes held until the end of the loop iteration */
    rc__op *defer_h, *defer_t;
    /* settings read once per loop iteration and after CONFIG SET */
    size_t out_limit_normal;     /* client-output-buffer-limit-normal; 0 = none */
    int64_t idle_ms;             /* timeout in ms; 0 = never */
    atomic_size_t max_event;     /* max-event-size; read by steps on the writer thread */
    int64_t sweep_ms;            /* last idle sweep */
    int64_t cfg_ms;              /* last refresh of the settings above */
    /* PUBLISH receiver counts by seq: written by deliver, read by the
     * append completion, both on the store writer thread. */
    struct { uint64_t seq; uint32_t n; } pubring[RC__PUBRING];
    /* keyspace notifications */
    rc_sub *ks_sub;
    unsigned ks_flags;
    rc_buf ks_pending;     /* under qmu: encoded (key, event name) records */
    /* stats (loop thread) */
    uint64_t st_conns, st_cmds, st_rejected, st_slow_kills, st_proto_errs;
    uint64_t st_keyspace_hits, st_keyspace_misses;
    atomic_uint_fast64_t st_pubsub_msgs;
    int64_t lastsave_ms;
    /* TLS listener (tls-port) and its clients with buffered input */
    const rc_tls *tls;
    int tls_lfd, tls_port;
    rc__client *tls_pend;
};

/* ---- TLS (tls_io.c): the loop's hooks ------------------------------------------ */
/* At accept on the TLS listener: a session for the client. RC_OK or an error. */
int rc__r_tls_attach(rc__client *cl);
/* On each epoll event of a TLS client: RC_TLS_DONE at once when the
 * handshake is done (go on to read and write), else one handshake step:
 * DONE, AGAIN (wait; the epoll interest is set here) or FAILED (closed). */
int rc__r_tls_handshake(rc__client *cl);
/* After reading: remember a client with input buffered in GnuTLS. */
void rc__r_tls_note_pending(rc__client *cl);
/* Before epoll_wait: read for each client with buffered input that may
 * read now. Returns how many still wait (then epoll_wait must not block). */
int rc__r_tls_kick(rc_resp *d, void (*read)(rc__client *));
/* At close, before the fd is closed: close_notify, forget the session. */
void rc__r_tls_close(rc__client *cl);

/* ---- a command being run ------------------------------------------------------- */
struct rc__call {
    rc_resp *door;
    rc__client *cl;          /* NULL inside EXEC on the writer thread */
    size_t argc;
    char **argv;
    const size_t *argvlen;
    const rc__cmd *cmd;
    rc_resp_w w;             /* where the reply goes */
    rc_txn *tx;              /* non-NULL: inside EXEC's transaction */
    int status;              /* inside EXEC: a store failure that aborts it */
    rc_err err;
};

/* Submit a write. In the loop these go to the store asynchronously and the
 * reply comes later; inside EXEC they run on tx at once. Ownership of evs[i]
 * passes to the store whatever happens. */
void rc__r_append(rc__call *c, rc_event **evs, size_t n, rc__rkind kind, int64_t ival);
/* arg is freed with arg_free (may be NULL) when the step is done. The step
 * may run more than once (rc_store_txn_async_rerun): its only outcome is
 * what it writes to the store and to w, and w is reset before each run. */
void rc__r_txn(rc__call *c, rc__step_fn fn, void *arg, void (*arg_free)(void *));
/* The same for a step that must run once: it reaches state outside the
 * store's transaction (consumer groups, a whole EXEC). */
void rc__r_txn_once(rc__call *c, rc__step_fn fn, void *arg, void (*arg_free)(void *));

/* ---- reads (loop: pooled read connection; EXEC: the txn) ---------------------- */
typedef struct rc__val {
    rc_kv_kind kind;
    rc_buf v;            /* strings: the value (caller frees with rc_buf_free) */
    size_t n;            /* value_len: bytes / fields / elements */
    uint64_t mod_seq;
    int64_t expire_ms;
} rc__val;
/* RC_OK, RC_NOT_FOUND or an error. out->v must be initialised. */
int rc__r_get(rc_store *st, rc_txn *tx, const char *key, rc__val *out, rc_err *err);

/* Copies of some arguments for a step that runs later on the writer thread
 * (argv belongs to the parser). One allocation; free() it. */
typedef struct rc__args {
    size_t n;
    char **v;          /* NUL-terminated copies */
    size_t *len;
    int64_t i[4];      /* numbers the handler parsed */
    unsigned flags;
} rc__args;
rc__args *rc__r_args(const rc__call *c, size_t from, size_t to);
/* Append inside a step; ev NULL means out of memory. */
int rc__r_tx_append(rc_txn *tx, rc_event *ev, rc_err *err);
/* Read inside a step: *exists 0/1, RC_OK, or a store failure. */
int rc__r_tx_load(rc_txn *tx, const char *key, rc__val *v, int *exists, rc_err *err);

/* ---- helpers ----------------------------------------------------------------- */
int64_t rc__r_now_ms(void);
int rc__r_streq(const char *a, const char *lit); /* case-insensitive equality */
int rc__r_parse_i64(const char *s, size_t n, int64_t *out);  /* strict, like string2ll */
int rc__r_parse_ld(const char *s, size_t n, long double *out);
/* Reply the generic errors. */
void rc__r_err_syntax(rc__call *c);
void rc__r_err_int(rc__call *c);
void rc__r_err_wrongtype(rc_resp_w *w);
void rc__r_err_arity(rc__call *c);
void rc__r_reply_status(rc_resp_w *w, int code, const rc_err *err);
/* Keys are C strings in the store: a key with a NUL byte is refused. */
int rc__r_key_ok(rc__call *c, size_t i);
char *rc__r_strndup(const char *s, size_t n);

/* loop services used by commands */
rc_buf *rc__r_reply_target(rc__client *cl);    /* where a reply goes now (keeps order) */
rc__slot *rc__r_slot_pending(rc__client *cl);  /* a slot for a write in flight */
void rc__r_op_complete(rc__op *op);            /* writer thread: queue op for the loop */
void rc__r_op_finish(rc__op *op);              /* loop: op outcome into its slot; frees op */
/* Loop, at the end of each iteration: hand the held writes to the store in
 * command order, all at once, so the writer takes them as one group instead
 * of waking at the first and committing the rest in a later group. */
void rc__r_submit(rc_resp *d);
void rc__r_config_refresh(rc_resp *d);          /* loop: re-read the settings cached above */
/* max-event-size on this door: the size of an event as data plus attribute
 * bytes. fits() answers the error itself and returns 0 when it is over. */
size_t rc__r_event_size(const rc_event *ev);
int rc__r_event_fits(rc__call *c, const rc_event *ev);
void rc__r_inbox_dirty(rc_resp *d, rc__client *cl); /* under qmu: inbox has data (no wake) */
int rc__r_arm(rc_resp *d);                     /* under qmu: 1 = caller wakes the loop after unlock */
/* A client's epoll tag: its fd, and the low 32 bits of its id above it.
 * The loop checks both, so an event fetched for a client that was closed
 * earlier in the same epoll_wait batch cannot reach a new client that an
 * accept in that batch gave the same fd. */
static inline uint64_t rc__r_tag(const rc__client *cl) {
    return (uint64_t)(uint32_t)cl->id << 32 | (uint32_t)cl->fd;
}
void rc__r_wake(rc_resp *d);                   /* any thread: poke the loop's eventfd */
void rc__r_deliver_batch(void *door);          /* hub batch hook: staged deliveries to inboxes */
void rc__r_client_close(rc__client *cl, const char *why);
void rc__r_keyspace_flush(rc_resp *d);         /* loop: deliver keyspace notifications */
void rc__r_client_kill(rc__client *cl);          /* close after this command */
void rc__r_client_set_proto(rc__client *cl, int proto);
void rc__r_client_authed(rc__client *cl);
void rc__r_client_info(rc_resp *d, rc__client *cl, rc_buf *out);
rc__client *rc__r_client_by_id(rc_resp *d, uint64_t id);
void rc__r_flush_inbox(rc__client *cl);          /* move queued messages to out now */
void rc__r_pubsub_drop(rc__client *cl);          /* unsubscribe everything (RESET, close) */
void rc__r_multi_reset(rc__client *cl);          /* DISCARD/RESET: drop queue and watches */
void rc__r_keyspace_configure(rc_resp *d);       /* (re)read notify-keyspace-events */
/* A keyspace notification of class t (stream) that no event of the log
 * carries (consumer group changes), for the loop to send. On the writer
 * thread inside EXEC it is held (rc__r_keyspace_hold) until EXEC is done. */
void rc__r_keyspace_note(rc_resp *d, const char *key, const char *event);
/* Writer thread, around EXEC's commands: notes go to *held (NULL: stop
 * holding). rc__r_keyspace_release sends them (loop, after EXEC). */
void rc__r_keyspace_hold(rc_buf *held);
void rc__r_keyspace_release(rc_resp *d, rc_buf *held);

#endif
