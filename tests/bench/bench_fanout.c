/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fan-out benchmark over RESP, the same tool against any Redis-protocol
 * server: S subscriber connections SUBSCRIBE to one channel and are read in
 * one epoll loop that counts `message` pushes; one publisher connection, on
 * its own thread, sends M PUBLISH commands of a fixed payload size,
 * pipelined P at a time (send P, read P replies). Prints the publish rate
 * and the delivered messages/s (deliveries counted at the subscribers,
 * from the first PUBLISH sent to the last delivery received).
 *
 * Plain sockets, no client library, so the client cost is the same for
 * every server. The subscriber side parses just enough RESP (arrays, bulk
 * and simple strings, integers; RESP2 or RESP3 push) to count messages and
 * check their payload length.
 *
 * Usage: bench_fanout [-h host] [-p port] [-s subscribers] [-n messages]
 *                     [-d payload bytes] [-P pipeline] [-c channel]
 *                     [-t timeout seconds]
 * Output (one line, for scripts): delivered=<n> expected=<n>
 *   seconds=<s> publish_rate=<msg/s> delivered_rate=<msg/s>
 * Exit status 1 when not every message reached every subscriber.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    char *buf;
    size_t len, cap;
    long subscribed;    /* subscribe confirmations seen */
    long messages;
} conn;

static const char *host = "127.0.0.1";
static int port = 6379;
static int nsubs = 100;
static long nmsgs = 20000;
static int psize = 64;
static int pipeline = 64;
static const char *channel = "bench:fanout";
static int timeout_s = 120;
static atomic_long bad_payloads;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "bench_fanout: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "bench_fanout: bad host %s (IPv4 address)\n", host);
        exit(2);
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        p += w;
        n -= (size_t)w;
    }
}

/* ---- a minimal RESP reader ------------------------------------------------ */

/* Length of the line at p (up to \r\n) or -1 when incomplete. */
static long line_end(const char *p, size_t n) {
    const char *e = memchr(p, '\r', n);
    if (!e || (size_t)(e - p) + 1 >= n) return -1;
    return e - p;
}

/* One complete RESP value at p: returns its length, 0 when incomplete,
 * -1 on a protocol error. For a push/array whose first element is the
 * bulk "message", *kind = 1 and *plen = the length of its last element;
 * "subscribe" gives *kind = 2. */
static long value(const char *p, size_t n, int depth, int *kind, long *plen) {
    if (n < 1) return 0;
    long le = line_end(p, n);
    if (le < 0) return 0;
    long head = le + 2;
    char t = p[0];
    long v = strtol(p + 1, NULL, 10);
    switch (t) {
    case '+': case '-': case ':': case '_': case '#': case ',':
        return head;
    case '$':
        if (v < 0) return head;
        if ((size_t)(head + v + 2) > n) return 0;
        if (depth == 1 && kind) {
            if (v == 7 && !memcmp(p + head, "message", 7) && *kind == 0) *kind = 1;
            else if (v == 9 && !memcmp(p + head, "subscribe", 9) && *kind == 0) *kind = 2;
            else if (*kind == 1) *plen = v;
            else if (*kind == 0) *kind = -1;
        }
        return head + v + 2;
    case '*': case '>': {
        if (depth > 0) return -1; /* nested aggregates are not expected here */
        long at = head;
        for (long i = 0; i < v; i++) {
            long k = value(p + at, n - (size_t)at, depth + 1, kind, plen);
            if (k <= 0) return k;
            at += k;
        }
        return at;
    }
    default:
        return -1;
    }
}

/* Consume every complete value in c->buf. */
static int consume(conn *c) {
    size_t at = 0;
    for (;;) {
        int kind = 0;
        long plen = -1;
        long k = value(c->buf + at, c->len - at, 0, &kind, &plen);
        if (k < 0) return -1;
        if (k == 0) break;
        at += (size_t)k;
        if (kind == 1) {
            c->messages++;
            if (plen != psize) atomic_fetch_add(&bad_payloads, 1);
        } else if (kind == 2) {
            c->subscribed++;
        }
    }
    memmove(c->buf, c->buf + at, c->len - at);
    c->len -= at;
    return 0;
}

static int fill(conn *c) {
    for (;;) {
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 131072;
            c->buf = realloc(c->buf, c->cap);
            if (!c->buf) die("realloc");
        }
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r > 0) {
            c->len += (size_t)r;
            continue;
        }
        if (r == 0) return -1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -1;
    }
}

/* ---- publisher ------------------------------------------------------------ */

static atomic_int pub_go;
static double pub_t0, pub_t1;

static void *publisher(void *arg) {
    (void)arg;
    int fd = dial();
    char *payload = malloc((size_t)psize + 1);
    if (!payload) die("malloc");
    for (int i = 0; i < psize; i++) payload[i] = (char)('a' + i % 26);
    char cmd[256];
    int hl = snprintf(cmd, sizeof cmd, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%d\r\n", strlen(channel),
                      channel, psize);
    size_t one = (size_t)hl + (size_t)psize + 2;
    char *batch = malloc(one * (size_t)pipeline);
    if (!batch) die("malloc");
    for (int i = 0; i < pipeline; i++) {
        memcpy(batch + one * (size_t)i, cmd, (size_t)hl);
        memcpy(batch + one * (size_t)i + hl, payload, (size_t)psize);
        memcpy(batch + one * (size_t)i + hl + psize, "\r\n", 2);
    }
    conn rc = {.fd = fd};
    while (!atomic_load(&pub_go)) usleep(1000);
    pub_t0 = now_s();
    for (long sent = 0; sent < nmsgs;) {
        long k = nmsgs - sent < pipeline ? nmsgs - sent : pipeline;
        write_all(fd, batch, one * (size_t)k);
        sent += k;
        /* k integer replies */
        long got = 0;
        while (got < k) {
            if (rc.cap - rc.len < 4096) {
                rc.cap = rc.cap ? rc.cap * 2 : 65536;
                rc.buf = realloc(rc.buf, rc.cap);
                if (!rc.buf) die("realloc");
            }
            ssize_t r = read(fd, rc.buf + rc.len, rc.cap - rc.len);
            if (r <= 0) {
                if (r < 0 && errno == EINTR) continue;
                die("publisher read");
            }
            rc.len += (size_t)r;
            size_t at = 0;
            for (;;) {
                long e = line_end(rc.buf + at, rc.len - at);
                if (e < 0) break;
                if (rc.buf[at] != ':') {
                    fprintf(stderr, "bench_fanout: PUBLISH answered %.*s\n", (int)e, rc.buf + at);
                    exit(2);
                }
                at += (size_t)e + 2;
                got++;
            }
            memmove(rc.buf, rc.buf + at, rc.len - at);
            rc.len -= at;
        }
    }
    pub_t1 = now_s();
    close(fd);
    free(rc.buf);
    free(batch);
    free(payload);
    return NULL;
}

/* ---- main: subscribers ----------------------------------------------------- */

static void usage(void) {
    fprintf(stderr, "usage: bench_fanout [-h host] [-p port] [-s subscribers] [-n messages] "
                    "[-d payload bytes] [-P pipeline] [-c channel] [-t timeout seconds]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int o;
    while ((o = getopt(argc, argv, "h:p:s:n:d:P:c:t:")) != -1) {
        switch (o) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 's': nsubs = atoi(optarg); break;
        case 'n': nmsgs = atol(optarg); break;
        case 'd': psize = atoi(optarg); break;
        case 'P': pipeline = atoi(optarg); break;
        case 'c': channel = optarg; break;
        case 't': timeout_s = atoi(optarg); break;
        default: usage();
        }
    }
    if (port <= 0 || port > 65535 || nsubs < 1 || nsubs > 10000 || nmsgs < 1 || psize < 0 ||
        psize > (1 << 20) || pipeline < 1 || pipeline > 100000 || timeout_s < 1 || strlen(channel) > 200)
        usage();

    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    conn *subs = calloc((size_t)nsubs, sizeof *subs);
    if (!subs) die("calloc");
    char sub[300];
    int sl = snprintf(sub, sizeof sub, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", strlen(channel), channel);
    for (int i = 0; i < nsubs; i++) {
        subs[i].fd = dial();
        write_all(subs[i].fd, sub, (size_t)sl);
        fcntl(subs[i].fd, F_SETFL, fcntl(subs[i].fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, subs[i].fd, &ev)) die("epoll_ctl");
    }

    pthread_t pt;
    if (pthread_create(&pt, NULL, publisher, NULL)) die("pthread_create");

    long expected = nmsgs * nsubs, delivered = 0, confirmed = 0;
    double deadline = now_s() + timeout_s, t_last = 0;
    struct epoll_event evs[256];
    while (delivered < expected && now_s() < deadline) {
        int n = epoll_wait(ep, evs, 256, 200);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            conn *c = &subs[evs[i].data.u32];
            long before = c->messages, sb = c->subscribed;
            if (fill(c) < 0) {
                fprintf(stderr, "bench_fanout: subscriber %u disconnected after %ld messages\n",
                        evs[i].data.u32, c->messages);
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            }
            if (consume(c)) {
                fprintf(stderr, "bench_fanout: protocol error on subscriber %u\n", evs[i].data.u32);
                exit(2);
            }
            delivered += c->messages - before;
            confirmed += c->subscribed - sb;
        }
        if (delivered > 0) t_last = now_s();
        /* Publish only once every subscriber is confirmed. */
        if (confirmed == nsubs && !atomic_load(&pub_go)) atomic_store(&pub_go, 1);
    }
    if (!atomic_load(&pub_go)) {
        fprintf(stderr, "bench_fanout: only %ld of %d subscriptions confirmed\n", confirmed, nsubs);
        exit(2);
    }
    pthread_join(pt, NULL);
    double secs = t_last - pub_t0;
    printf("delivered=%ld expected=%ld seconds=%.3f publish_rate=%.0f delivered_rate=%.0f "
           "bad_payloads=%ld\n",
           delivered, expected, secs, (double)nmsgs / (pub_t1 - pub_t0), (double)delivered / secs,
           atomic_load(&bad_payloads));
    for (int i = 0; i < nsubs; i++) {
        close(subs[i].fd);
        free(subs[i].buf);
    }
    free(subs);
    close(ep);
    return delivered == expected && atomic_load(&bad_payloads) == 0 ? 0 : 1;
}
