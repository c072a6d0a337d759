/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RESP door's event loop: one thread, epoll (level-triggered), non-
 * blocking sockets, no thread per client.
 *
 * Three things wake the loop: sockets, the eventfd that the store writer and
 * the hub poke when a write completed or a message is waiting, and stop.
 * Completions and messages cross threads only through door->qmu: the writer
 * thread never touches a socket or a client's output buffer.
 *
 * Trust boundary: everything read from a socket is untrusted; it goes to the
 * pure parser with limits (tighter before AUTH) and a protocol error closes
 * the connection after answering, as Redis does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "redcar/log.h"
#include "redcar/netaddr.h"
#include "redcar/procstats.h"
#include "resp/door.h"

/* Epoll tags besides the clients' (rc__r_tag: a client's low 32 bits are
 * its fd, never all ones, so these three cannot collide with one). */
#define TAG_LISTEN ((uint64_t)-1)
#define TAG_EVENT ((uint64_t)-2)
#define TAG_LISTEN_TLS ((uint64_t)-3)
#define READ_CHUNK (16 * 1024)
/* Most writes one client may have in flight; past it its input pauses, so a
 * pipelining client cannot queue unbounded work and memory. */
#define MAX_INFLIGHT 4096

static void client_close(rc__client *cl, const char *why);
static void client_process(rc__client *cl);
static void client_flush(rc__client *cl);
static void flush_lq(rc__client *cl);

int64_t rc__r_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- wake-ups from other threads ------------------------------------------ */

void rc__r_wake(rc_resp *d) {
    uint64_t one = 1;
    ssize_t n = write(d->evfd, &one, sizeof one);
    (void)n; /* EAGAIN means it is already signalled */
}

/* Under qmu. Returns 1 if the caller must wake the loop after unlocking. */
int rc__r_arm(rc_resp *d) {
    if (d->wake_armed) return 0;
    d->wake_armed = 1;
    return 1;
}

/* Writer thread, once per finished request: no lock, and only the push that
 * finds the stack empty (the first since the loop last took it) wakes the
 * loop, so a commit group of many requests costs one wake-up. */
void rc__r_op_complete(rc__op *op) {
    rc_resp *d = op->door;
    rc__op *old = atomic_load_explicit(&d->done, memory_order_relaxed);
    do {
        op->next = old;
    } while (!atomic_compare_exchange_weak_explicit(&d->done, &old, op, memory_order_release,
                                                    memory_order_relaxed));
    if (!old) rc__r_wake(d);
}

void rc__r_inbox_dirty(rc_resp *d, rc__client *cl) {
    /* under qmu */
    if (!cl->in_dirty) {
        cl->in_dirty = 1;
        cl->dirty_next = d->dirty;
        d->dirty = cl;
    }
}

/* ---- epoll interest ---------------------------------------------------------- */

static void set_interest(rc__client *cl) {
    if (cl->dead) return;
    unsigned want = 0;
    if (!cl->held && !cl->throttled && !cl->closing) want |= EPOLLIN;
    if (cl->out.len > cl->out_off) want |= EPOLLOUT;
    if (want == cl->ev_mask) return;
    struct epoll_event ev = {.events = want, .data.u64 = rc__r_tag(cl)};
    epoll_ctl(cl->door->epfd, EPOLL_CTL_MOD, cl->fd, &ev);
    cl->ev_mask = want;
}

/* ---- slots: replies in command order ----------------------------------------- */

rc_buf *rc__r_reply_target(rc__client *cl) {
    if (!cl->st) return &cl->out;
    if (cl->st->ready) return &cl->st->buf;
    rc__slot *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->ready = 1;
    cl->st->next = s;
    cl->st = s;
    return &s->buf;
}

rc__slot *rc__r_slot_pending(rc__client *cl) {
    rc__slot *s = calloc(1, sizeof *s);
    if (!s) abort();
    if (cl->st) cl->st->next = s;
    else cl->sh = s;
    cl->st = s;
    return s;
}

static void slots_drain(rc__client *cl) {
    while (cl->sh && cl->sh->ready) {
        rc__slot *s = cl->sh;
        if (s->buf.len) {
            if (cl->out.len == cl->out_off && s->buf.len > 4096) {
                /* hand over the buffer instead of copying a large reply */
                rc_buf_free(&cl->out);
                cl->out = s->buf;
                cl->out_off = 0;
                rc_buf_init(&s->buf);
            } else {
                rc_buf_append(&cl->out, s->buf.p, s->buf.len);
            }
        }
        cl->sh = s->next;
        if (!cl->sh) cl->st = NULL;
        rc_buf_free(&s->buf);
        free(s);
    }
}

static void slots_free(rc__client *cl) {
    while (cl->sh) {
        rc__slot *s = cl->sh;
        cl->sh = s->next;
        rc_buf_free(&s->buf);
        free(s);
    }
    cl->st = NULL;
}

/* ---- clients ------------------------------------------------------------------ */

static void limits_for(rc__client *cl, rc_resp_limits *l) {
    rc_resp *d = cl->door;
    if (cl->authed) rc_resp_limits_default(l);
    else rc_resp_limits_unauth(l);
    if (d->cfg) {
        int64_t mb = rc_config_int(d->cfg, "proto-max-multibulk");
        int64_t bl = rc_config_int(d->cfg, "proto-max-bulk-len");
        int64_t qb = rc_config_int(d->cfg, "client-query-buffer-limit");
        if (cl->authed) {
            l->max_args = (size_t)mb;
            l->max_bulk = (size_t)bl;
        }
        l->max_buffer = (size_t)qb;
    }
}

void rc__r_client_authed(rc__client *cl) {
    cl->authed = 1;
    rc_resp_limits l;
    limits_for(cl, &l);
    rc_resp_parser_set_limits(cl->parser, &l);
}

void rc__r_client_set_proto(rc__client *cl, int proto) { atomic_store(&cl->proto, proto); }

/* Any credential (requirepass or a user): new clients must AUTH. */
static int requirepass_set(rc_resp *d) { return d->cfg && rc_auth_required(d->cfg); }

static void accept_all(rc_resp *d, int lfd, int tls) {
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno == EMFILE || errno == ENFILE)
                RC_WARN("resp", "accept: %s (raise the open files limit)", strerror(errno));
            return;
        }
        d->st_conns++;
        int64_t maxc = d->cfg ? rc_config_int(d->cfg, "maxclients") : 10000;
        if ((int64_t)d->nclients >= maxc) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            ssize_t w = write(fd, msg, sizeof msg - 1);
            (void)w;
            close(fd);
            d->st_rejected++;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= d->nbyfd) {
            size_t n = d->nbyfd ? d->nbyfd : 1024;
            while (n <= (size_t)fd) n *= 2;
            rc__client **nb = realloc(d->byfd, n * sizeof *nb);
            if (!nb) {
                close(fd);
                continue;
            }
            memset(nb + d->nbyfd, 0, (n - d->nbyfd) * sizeof *nb);
            d->byfd = nb;
            d->nbyfd = n;
        }
        rc__client *cl = calloc(1, sizeof *cl);
        if (!cl) {
            close(fd);
            continue;
        }
        cl->id = ++d->next_id;
        cl->fd = fd;
        cl->door = d;
        atomic_init(&cl->proto, 2);
        atomic_init(&cl->out_len, 0);
        atomic_init(&cl->in_bytes, 0);
        cl->authed = !requirepass_set(d);
        cl->ctime_ms = cl->last_ms = rc__r_now_ms();
        cl->last_cmd = "NULL";
        rc_sockaddr_str((const struct sockaddr *)&ss, cl->addr, sizeof cl->addr);
        struct sockaddr_storage ls;
        socklen_t ll = sizeof ls;
        if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0)
            rc_sockaddr_str((const struct sockaddr *)&ls, cl->laddr, sizeof cl->laddr);
        rc_resp_limits l;
        limits_for(cl, &l);
        cl->parser = rc_resp_parser_new(&l);
        if (!cl->parser) {
            free(cl);
            close(fd);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = rc__r_tag(cl)};
        if ((tls && rc__r_tls_attach(cl) != RC_OK) || epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            rc_tls_conn_free(cl->tls);
            rc_resp_parser_free(cl->parser);
            free(cl);
            close(fd);
            continue;
        }
        cl->ev_mask = EPOLLIN;
        d->byfd[fd] = cl;
        cl->next = d->all;
        if (d->all) d->all->prev = cl;
        d->all = cl;
        d->nclients++;
        rc_procstats_add(RC_PROC_RESP_CLIENTS, 1);
    }
}

static void client_free(rc__client *cl) {
    rc__r_multi_reset(cl);
    free(cl->mq);
    free(cl->watch);
    slots_free(cl);
    rc_buf_free(&cl->out);
    rc__r_frames_free(&cl->inbox);
    rc__r_frames_free(&cl->lq);
    rc_resp_parser_free(cl->parser);
    free(cl->name);
    free(cl->lib_name);
    free(cl->lib_ver);
    free(cl);
}

/* Closing never frees: the client may still be referenced further up the
 * stack or by writes in flight. reap() frees dead clients at the end of a
 * loop iteration once their writes completed. */
static void client_close(rc__client *cl, const char *why) {
    rc_resp *d = cl->door;
    if (cl->dead) return;
    RC_DEBUG("resp", "client %llu (%s) closed: %s", (unsigned long long)cl->id, cl->addr, why);
    /* after unsubscribe returns no deliver callback runs for this client */
    rc__r_pubsub_drop(cl);
    pthread_mutex_lock(&d->qmu);
    if (cl->in_dirty) {
        rc__client **pp = &d->dirty;
        while (*pp && *pp != cl) pp = &(*pp)->dirty_next;
        if (*pp) *pp = cl->dirty_next;
        cl->in_dirty = 0;
    }
    pthread_mutex_unlock(&d->qmu);
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
    if (cl->tls) rc__r_tls_close(cl);
    close(cl->fd);
    d->byfd[cl->fd] = NULL;
    if (cl->prev) cl->prev->next = cl->next;
    else d->all = cl->next;
    if (cl->next) cl->next->prev = cl->prev;
    d->nclients--;
    rc_procstats_add(RC_PROC_RESP_CLIENTS, -1);
    cl->dead = 1;
    cl->held = 0;
    cl->prev = NULL;
    cl->next = d->zombies;
    if (d->zombies) d->zombies->prev = cl;
    d->zombies = cl;
}

void rc__r_client_close(rc__client *cl, const char *why) { client_close(cl, why); }

static void reap(rc_resp *d) {
    rc__client *cl = d->zombies;
    while (cl) {
        rc__client *next = cl->next;
        if (cl->pending == 0) {
            if (cl->prev) cl->prev->next = cl->next;
            else d->zombies = cl->next;
            if (cl->next) cl->next->prev = cl->prev;
            client_free(cl);
        }
        cl = next;
    }
}

void rc__r_client_kill(rc__client *cl) { cl->closing = 1; }

rc__client *rc__r_client_by_id(rc_resp *d, uint64_t id) {
    for (rc__client *c = d->all; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

void rc__r_config_refresh(rc_resp *d) {
    if (!d->cfg) return;
    d->out_limit_normal = (size_t)rc_config_int(d->cfg, "client-output-buffer-limit-normal");
    d->idle_ms = rc_config_int(d->cfg, "timeout") * 1000;
    atomic_store_explicit(&d->max_event, (size_t)rc_config_int(d->cfg, "max-event-size"),
                          memory_order_relaxed);
}

/* Bytes of replies produced and not sent yet (out, and the last slot when
 * it is filled: the one replies are appended to while writes are in flight). */
static size_t unsent(const rc__client *cl) {
    size_t n = cl->out.len - cl->out_off;
    if (cl->st && cl->st->ready) n += cl->st->buf.len;
    return n;
}

/* ---- socket I/O: every read and write of a client socket goes through
 * these two, plain or TLS. Same contract as read(2) and write(2): -1 with
 * errno (EAGAIN when it would block), 0 from sock_read at end of stream. */
static ssize_t sock_read(rc__client *cl, void *p, size_t n) {
    return cl->tls ? rc_tls_conn_read(cl->tls, p, n) : read(cl->fd, p, n);
}

static ssize_t sock_write(rc__client *cl, const void *p, size_t n) {
    return cl->tls ? rc_tls_conn_write(cl->tls, p, n) : write(cl->fd, p, n);
}

/* Write what out holds until the socket would block. Returns -1 on a
 * socket error (the caller closes), else 0. */
static int write_some(rc__client *cl) {
    while (cl->out.len > cl->out_off) {
        ssize_t n = sock_write(cl, cl->out.p + cl->out_off, cl->out.len - cl->out_off);
        if (n > 0) {
            cl->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return -1;
    }
    return 0;
}

/* client-output-buffer-limit-normal (subscribers have their own limit):
 * past it, after giving the socket what it takes now, the client is
 * disconnected, as Redis does for its `normal` class. Returns 1 if closed. */
static int over_out_limit(rc__client *cl) {
    size_t lim = cl->door->out_limit_normal;
    if (!lim || cl->nsubs || cl->dead || unsent(cl) <= lim) return 0;
    if (write_some(cl) == 0 && unsent(cl) <= lim) return 0;
    cl->door->st_slow_kills++;
    RC_WARN("resp", "client %llu (%s) disconnected: %zu bytes of unsent replies, over "
            "client-output-buffer-limit-normal", (unsigned long long)cl->id, cl->addr, unsent(cl));
    client_close(cl, "output buffer limit");
    return 1;
}

static void client_flush(rc__client *cl) {
    if (write_some(cl) < 0) {
        client_close(cl, "write error");
        return;
    }
    if (cl->out_off == cl->out.len) {
        cl->out_off = 0;
        rc_buf_reset(&cl->out);
        if (cl->out.cap > 1024 * 1024) rc_buf_free(&cl->out); /* give a burst's memory back */
    }
    atomic_store(&cl->out_len, cl->out.len - cl->out_off);
    if (cl->closing && cl->out.len == 0 && !cl->sh) {
        client_close(cl, "closed by command or protocol error");
        return;
    }
    set_interest(cl);
}

/* ---- input ---------------------------------------------------------------------- */

void rc__r_dispatch(rc__client *cl, rc_resp_cmd *cmd); /* dispatch.c */
int rc__r_dispatch_held(rc__client *cl);             /* dispatch.c */

static void client_process(rc__client *cl) {
    while (!cl->dead && !cl->closing) {
        if (cl->pending >= MAX_INFLIGHT) {
            cl->throttled = 1;
            break;
        }
        if (cl->held) {
            if (cl->pending > 0) break;
            if (!rc__r_dispatch_held(cl)) break;
            continue;
        }
        rc_resp_cmd cmd;
        int rc = rc_resp_parser_next(cl->parser, &cmd);
        if (rc == RC_RESP_NEED_MORE) break;
        if (rc == RC_RESP_ERROR) {
            rc_resp_w w = {rc__r_reply_target(cl), atomic_load(&cl->proto)};
            rc_resp_w_errorf(&w, "ERR Protocol error: %s", rc_resp_parser_error(cl->parser));
            cl->door->st_proto_errs++;
            RC_DEBUG("resp", "protocol error from client %llu (%s): %s", (unsigned long long)cl->id,
                    cl->addr, rc_resp_parser_error(cl->parser));
            cl->closing = 1;
            break;
        }
        rc__r_dispatch(cl, &cmd);
        if (over_out_limit(cl)) return;
    }
    slots_drain(cl);
    over_out_limit(cl);
}

static void client_read(rc__client *cl) {
    for (int rounds = 0; rounds < 4 && !cl->dead && !cl->held && !cl->throttled && !cl->closing;
         rounds++) {
        char *sp;
        size_t room = rc_resp_parser_space(cl->parser, READ_CHUNK, &sp);
        if (!room) {
            client_close(cl, "out of memory");
            return;
        }
        ssize_t n = sock_read(cl, sp, room);
        if (n == 0) {
            client_close(cl, "connection closed by peer");
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            client_close(cl, "read error");
            return;
        }
        if (rc_resp_parser_commit(cl->parser, (size_t)n) == RC_RESP_ERROR) {
            RC_WARN("resp", "closing client %llu (%s): %s", (unsigned long long)cl->id, cl->addr,
                    rc_resp_parser_error(cl->parser));
            client_close(cl, "query buffer limit");
            return;
        }
        cl->last_ms = rc__r_now_ms();
        client_process(cl);
        if ((size_t)n < room) break;
    }
    if (cl->tls) rc__r_tls_note_pending(cl);
    if (!cl->dead) client_flush(cl);
}

/* ---- completions and messages ----------------------------------------------------- */

void rc__r_op_finish(rc__op *op); /* dispatch.c: turns the outcome into reply bytes */

/* Under qmu: move a client's inbox to its loop-only list. */
static void take_inbox(rc__client *cl) {
    if (cl->overflow) cl->l_overflow = 1;
    if (!cl->inbox.n) return;
    if (!cl->lq.n) { /* the usual case: swap the vectors */
        rc__frames t = cl->lq;
        cl->lq = cl->inbox;
        cl->inbox = t;
    } else {
        for (size_t i = 0; i < cl->inbox.n; i++) rc__r_frames_push(&cl->lq, cl->inbox.v[i]);
        cl->inbox.n = 0;
    }
    atomic_store(&cl->in_bytes, 0);
}

static void drain_queue(rc_resp *d) {
    uint64_t v;
    ssize_t n = read(d->evfd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&d->qmu);
    /* Take the dirty clients and their inboxes onto loop-only lists: once
     * the lock is gone the writer may put them on d->dirty again. */
    rc__client *dirty = NULL;
    for (rc__client *c = d->dirty; c; c = c->dirty_next) {
        c->in_dirty = 0;
        take_inbox(c);
        if (!c->touched) {
            c->touched = 1;
            c->tnext = dirty;
            dirty = c;
        }
    }
    d->dirty = NULL;
    d->wake_armed = 0;
    int ks = d->ks_pending.len > 0;
    pthread_mutex_unlock(&d->qmu);
    /* Completions after the messages: the writer hands over a group's
     * messages before its answers, so taking them in this order answers
     * writers (PUBLISH) in the same pass as their group's messages. The
     * stack is newest first: reverse it to answer in order. Clients with
     * answers go first on the list (the writer is waiting on them). */
    rc__op *ops = NULL, *lifo = atomic_exchange_explicit(&d->done, NULL, memory_order_acquire);
    while (lifo) {
        rc__op *next = lifo->next;
        lifo->next = ops;
        ops = lifo;
        lifo = next;
    }

    while (ops) {
        rc__op *op = ops;
        ops = op->next;
        rc__client *cl = op->cl;
        rc__r_op_finish(op); /* fills the slot, frees op */
        cl->pending--;
        if (cl->dead) continue;
        if (!cl->touched) {
            cl->touched = 1;
            cl->tnext = dirty;
            dirty = cl;
        }
    }
    while (dirty) {
        rc__client *cl = dirty;
        dirty = cl->tnext;
        cl->touched = 0;
        if (cl->dead) continue;
        flush_lq(cl);
        if (cl->dead) continue;
        slots_drain(cl);
        if (over_out_limit(cl)) continue;
        if (cl->throttled && cl->pending < MAX_INFLIGHT / 2) {
            cl->throttled = 0;
            client_process(cl);
        } else if (cl->held && cl->pending == 0) {
            client_process(cl);
        }
        if (!cl->dead) client_flush(cl);
    }
    if (ks) {
        rc__r_keyspace_flush(d);
        for (rc__client *cl = d->all, *next; cl; cl = next) {
            next = cl->next;
            if (cl->nsubs) client_flush(cl);
        }
    }
}

/* Loop: the taken messages into out (one copy of each shared frame). */
static void flush_lq(rc__client *cl) {
    rc_resp *d = cl->door;
    if (cl->l_overflow) {
        rc__r_frames_clear(&cl->lq);
        d->st_slow_kills++;
        RC_WARN("resp", "client %llu (%s) disconnected: pub/sub output over "
                "client-output-buffer-limit-pubsub", (unsigned long long)cl->id, cl->addr);
        client_close(cl, "output buffer limit");
        return;
    }
    if (!cl->lq.n) return;
    size_t bytes = 0;
    for (size_t i = 0; i < cl->lq.n; i++) bytes += cl->lq.v[i]->len;
    if (cl->out.len == cl->out_off) {
        cl->out_off = 0;
        rc_buf_reset(&cl->out);
    }
    rc_buf_reserve(&cl->out, bytes);
    for (size_t i = 0; i < cl->lq.n; i++) {
        rc__frame *f = cl->lq.v[i];
        memcpy(cl->out.p + cl->out.len, f->data, f->len);
        cl->out.len += f->len;
        rc__r_frame_unref(f);
    }
    cl->lq.n = 0;
    if (cl->lq.cap > 4096) rc__r_frames_free(&cl->lq);
    atomic_store(&cl->out_len, cl->out.len - cl->out_off);
}

void rc__r_flush_inbox(rc__client *cl) {
    rc_resp *d = cl->door;
    if (cl->dead) return;
    pthread_mutex_lock(&d->qmu);
    take_inbox(cl);
    pthread_mutex_unlock(&d->qmu);
    flush_lq(cl);
}

/* ---- the thread ------------------------------------------------------------------ */

static void *expiry_main(void *arg) {
    rc_resp *d = arg;
    pthread_setname_np(pthread_self(), "rc-resp-expiry"); /* for top -H / perf */
    while (!atomic_load(&d->stop)) {
        rc_err err;
        rc_err_clear(&err);
        int n = rc_store_expire_due(d->st, 256, &err);
        if (n < 0 && -n != RC_SHUTDOWN)
            RC_WARN("resp", "active expiry: %s", rc_err_msg(&err));
        /* keep going at once while a backlog of expired keys remains */
        if (n < 256) {
            for (int i = 0; i < 10 && !atomic_load(&d->stop); i++) usleep(10 * 1000);
        }
    }
    return NULL;
}

/* `timeout`: close clients idle for longer than it, as Redis does. Not
 * subscribers, not clients waiting on their writes or blocked in XREAD
 * (pending > 0), not a client whose replies are still going out. */
static void sweep_idle(rc_resp *d, int64_t now) {
    if (!d->idle_ms || now - d->sweep_ms < 1000) return;
    d->sweep_ms = now;
    for (rc__client *cl = d->all, *next; cl; cl = next) {
        next = cl->next;
        if (cl->nsubs || cl->pending || cl->held || cl->out.len > cl->out_off) continue;
        if (now - cl->last_ms <= d->idle_ms) continue;
        RC_DEBUG("resp", "client %llu (%s) idle for over %llds: closed (timeout)",
                 (unsigned long long)cl->id, cl->addr, (long long)(d->idle_ms / 1000));
        client_close(cl, "idle timeout");
    }
}

static int any_pending(rc_resp *d) {
    if (d->zombies) return 1;
    for (rc__client *c = d->all; c; c = c->next)
        if (c->pending || c->out.len > c->out_off) return 1;
    return 0;
}

static void *loop_main(void *arg) {
    rc_resp *d = arg;
    pthread_setname_np(pthread_self(), "rc-resp");
    struct epoll_event evs[256];
    int64_t stop_deadline = 0;
    for (;;) {
        if (atomic_load(&d->stop)) {
            if (!stop_deadline) {
                stop_deadline = rc__r_now_ms() + 5000;
                epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->lfd, NULL);
                close(d->lfd);
                d->lfd = -1;
                if (d->tls_lfd >= 0) close(d->tls_lfd);
                d->tls_lfd = -1;
                /* no new commands: only finish what is in flight */
                for (rc__client *c = d->all; c; c = c->next) c->closing = 1;
            }
            if (!any_pending(d) || rc__r_now_ms() > stop_deadline) break;
        }
        int tls_busy = d->tls_pend ? rc__r_tls_kick(d, client_read) : 0;
        int n = epoll_wait(d->epfd, evs, 256, tls_busy ? 0 : stop_deadline ? 50 : 1000);
        int64_t now = rc__r_now_ms();
        if (now - d->cfg_ms >= 100) { /* CONFIG SET refreshes at once; this is for any other way */
            rc__r_config_refresh(d);
            d->cfg_ms = now;
        }
        int woken = 0;
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == TAG_LISTEN) {
                if (d->lfd >= 0) accept_all(d, d->lfd, 0);
            } else if (tag == TAG_LISTEN_TLS) {
                if (d->tls_lfd >= 0) accept_all(d, d->tls_lfd, 1);
            } else if (tag == TAG_EVENT) {
                woken = 1; /* after the reads: see below */
            } else {
                uint32_t fd = (uint32_t)tag;
                if (fd >= d->nbyfd) continue;
                rc__client *cl = d->byfd[fd];
                if (!cl || (uint32_t)cl->id != (uint32_t)(tag >> 32)) continue; /* closed meanwhile */
                if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                    if (!(evs[i].events & EPOLLIN)) {
                        client_close(cl, "socket error");
                        continue;
                    }
                }
                if (cl->tls && rc__r_tls_handshake(cl) != RC_TLS_DONE) continue;
                if (evs[i].events & EPOLLIN) client_read(cl);
                else if (evs[i].events & EPOLLOUT) client_flush(cl);
            }
        }
        /* The writes parsed from this round of reads go to the store
         * together (one group), and before the completions and messages
         * are written out, which can take a while with many subscribers. */
        rc__r_submit(d);
        /* also when the submit above ran its group here and answered */
        if (woken || atomic_load_explicit(&d->done, memory_order_relaxed)) {
            drain_queue(d);
            rc__r_submit(d); /* clients resumed by the drain */
        }
        sweep_idle(d, now);
        reap(d);
    }
    /* close everything */
    while (d->all) client_close(d->all, "server stopping");
    reap(d);
    return NULL;
}

static int raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    }
    return (int)(rl.rlim_cur > 1000000000 ? 1000000000 : rl.rlim_cur);
}

/* Returns the listening socket, or -1 with err set. */
static int listen_on(const char *host, int port, int *bound, rc_err *err) {
    struct addrinfo hints = {0}, *res = NULL;
    char ps[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host && *host ? host : "127.0.0.1", ps, &hints, &res);
    if (rc != 0) {
        rc_err_set(err, RC_INVALID, "resp: cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 511) == 0) break;
        close(fd);
        fd = -1;
    }
    int saved = errno;
    freeaddrinfo(res);
    if (fd < 0) {
        rc_err_set(err, RC_IO, "resp: cannot listen on %s:%d: %s", host, port, strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                      : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int rc_resp_start(rc_resp **out, const rc_resp_opts *o, rc_store *st, rc_hub *hub, rc_err *err) {
    *out = NULL;
    if (!o || !st || !hub) return rc_err_set(err, RC_INVALID, "resp: missing store, hub or options");
    rc_resp *d = calloc(1, sizeof *d);
    if (!d) return rc_err_set(err, RC_NOMEM, "out of memory");
    d->st = st;
    d->hub = hub;
    d->cfg = o->cfg;
    d->lfd = d->epfd = d->evfd = d->tls_lfd = -1;
    d->start_ms = d->lastsave_ms = rc__r_now_ms();
    pthread_mutex_init(&d->qmu, NULL);
    int nofile = raise_nofile();
    if (nofile > 0 && d->cfg && rc_config_int(d->cfg, "maxclients") + 64 > nofile)
        RC_WARN("resp", "open files limit %d is below maxclients + 64", nofile);
    int rc;
    if (o->host && (d->lfd = listen_on(o->host, o->port, &d->port, err)) < 0) {
        rc = err ? err->code : RC_IO;
        goto fail;
    }
    d->tls = o->tls;
    if (o->tls && (d->tls_lfd = listen_on(o->tls_host, o->tls_port, &d->tls_port, err)) < 0) {
        rc = err ? err->code : RC_IO;
        goto fail;
    }
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->epfd < 0 || d->evfd < 0) {
        rc = rc_err_set(err, RC_IO, "resp: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.u64 = TAG_LISTEN;
    if (d->lfd >= 0) epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->lfd, &ev);
    ev.data.u64 = TAG_LISTEN_TLS;
    if (d->tls_lfd >= 0) epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->tls_lfd, &ev);
    ev.data.u64 = TAG_EVENT;
    epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->evfd, &ev);
    rc__r_keyspace_configure(d);
    atomic_init(&d->max_event, 0);
    rc__r_config_refresh(d);
    if (rc_hub_add_batch_hook(hub, rc__r_deliver_batch, d) != RC_OK) {
        rc = rc_err_set(err, RC_NOMEM, "resp: out of memory");
        goto fail;
    }
    d->hooked = 1;
    if (!(d->cache = rc__r_cache_new(hub, 64u * 1024 * 1024))) {
        rc = rc_err_set(err, RC_NOMEM, "resp: cannot create the read cache");
        goto fail;
    }
    if (pthread_create(&d->th, NULL, loop_main, d) != 0) {
        rc = rc_err_set(err, RC_INTERNAL, "resp: cannot start thread");
        goto fail;
    }
    if (pthread_create(&d->exp_th, NULL, expiry_main, d) != 0) {
        atomic_store(&d->stop, 1);
        rc__r_wake(d);
        pthread_join(d->th, NULL);
        rc = rc_err_set(err, RC_INTERNAL, "resp: cannot start expiry thread");
        goto fail;
    }
    *out = d;
    return RC_OK;
fail:
    if (d->lfd >= 0) close(d->lfd);
    if (d->tls_lfd >= 0) close(d->tls_lfd);
    if (d->epfd >= 0) close(d->epfd);
    if (d->evfd >= 0) close(d->evfd);
    if (d->ks_sub) rc_hub_unsubscribe(hub, d->ks_sub);
    if (d->hooked) rc_hub_del_batch_hook(hub, rc__r_deliver_batch, d);
    rc__r_cache_free(d->cache);
    pthread_mutex_destroy(&d->qmu);
    free(d);
    return rc;
}

int rc_resp_port(const rc_resp *r) { return r ? r->port : 0; }
int rc_resp_tls_port(const rc_resp *r) { return r ? r->tls_port : 0; }

void rc_resp_stop(rc_resp *d) {
    if (!d) return;
    atomic_store(&d->stop, 1);
    rc__r_wake(d);
    pthread_join(d->th, NULL);
    pthread_join(d->exp_th, NULL);
    if (d->ks_sub) rc_hub_unsubscribe(d->hub, d->ks_sub);
    rc_hub_del_batch_hook(d->hub, rc__r_deliver_batch, d);
    rc__r_cache_free(d->cache);
    /* zombies left after the deadline: their completions may still come */
    while (d->zombies) {
        drain_queue(d);
        reap(d);
        if (d->zombies) usleep(1000);
    }
    drain_queue(d);
    close(d->epfd);
    close(d->evfd);
    if (d->lfd >= 0) close(d->lfd);
    if (d->tls_lfd >= 0) close(d->tls_lfd);
    free(d->byfd);
    rc_buf_free(&d->ks_pending);
    free(d->stage);
    pthread_mutex_destroy(&d->qmu);
    RC_INFO("resp", "stopped");
    free(d);
}
