/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replay benchmark over the HTTP door, with one keep-alive connection and a
 * minimal HTTP/1.1 client on plain sockets (Content-Length and chunked
 * bodies), so the figure is the server's, not a client library's.
 *
 *   bench_replay -p PORT load   -n N [-b BATCH]   POST N small events in batches
 *   bench_replay -p PORT cursor -c NAME [-l LIMIT] create cursor NAME (start
 *       beginning), then GET /cursors/NAME/events?limit=LIMIT as NDJSON and
 *       POST /cursors/NAME/ack {"seqs":[last]} until a fetch comes back empty
 *   bench_replay -p PORT autoack -c NAME [-l LIMIT]  the same with
 *       GET ...?autoack=true: each fetch acknowledges itself, no POST
 *   bench_replay -p PORT events [-l LIMIT]         page GET /events?after=S&limit=LIMIT
 *       as NDJSON until a page comes back empty
 *
 * Every NDJSON line is checked: it must carry a "seq" greater than the one
 * before (no event twice, none out of order). Prints one line:
 *   mode=<m> events=<n> seconds=<s> rate=<events/s> requests=<n> bytes=<n>
 * and exits 1 when -e EXPECTED was given and the count differs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "bench_replay: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(2);
}

static void reserve(buf *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more + 1) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) die("%s", "out of memory");
    b->cap = cap;
}

static void put(buf *b, const char *s, size_t n) {
    reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- one keep-alive connection ------------------------------------------- */

static int fd = -1;
static int port = 0;
static buf in;          /* bytes read and not yet consumed */
static size_t in_off;
static uint64_t requests, bytes_in;

static void dial(void) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void send_all(const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("write: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

/* At least `want` unconsumed bytes in `in`. */
static void need(size_t want) {
    while (in.len - in_off < want) {
        if (in_off && in_off == in.len) in.len = in_off = 0;
        reserve(&in, 262144);
        ssize_t r = read(fd, in.p + in.len, in.cap - in.len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("%s", r == 0 ? "connection closed by the server" : strerror(errno));
        in.len += (size_t)r;
        bytes_in += (uint64_t)r;
        in.p[in.len] = 0;
    }
}

/* The unconsumed bytes up to and including the next CRLF. */
static char *line(size_t *n) {
    need(1);
    for (size_t scanned = 0;;) {
        char *s = in.p + in_off;
        char *e = memmem(s + scanned, in.len - in_off - scanned, "\r\n", 2);
        if (e) {
            *n = (size_t)(e - s) + 2;
            in_off += *n;
            return s;
        }
        scanned = in.len - in_off ? in.len - in_off - 1 : 0;
        need(in.len - in_off + 1);
    }
}

/* Send a request and read the whole response body into body; returns the
 * status. */
static int request(const char *method, const char *path, const char *ctype, const char *accept,
                   const char *payload, size_t plen, buf *body) {
    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: %s\r\n%s%s%sContent-Length: %zu\r\n\r\n",
                      method, path, accept, ctype ? "Content-Type: " : "", ctype ? ctype : "",
                      ctype ? "\r\n" : "", plen);
    send_all(head, (size_t)hl);
    if (plen) send_all(payload, plen);
    requests++;
    size_t n;
    char *l = line(&n);
    int status = 0;
    if (n < 12 || sscanf(l, "HTTP/1.%*d %d", &status) != 1) die("%s", "bad status line");
    long clen = -1;
    int chunked = 0;
    for (;;) {
        l = line(&n);
        if (n == 2) break;
        if (!strncasecmp(l, "Content-Length:", 15)) clen = strtol(l + 15, NULL, 10);
        if (!strncasecmp(l, "Transfer-Encoding:", 18) && strcasestr(l, "chunked")) chunked = 1;
    }
    body->len = 0;
    reserve(body, 0);
    body->p[0] = 0;
    if (chunked) {
        for (;;) {
            l = line(&n);
            long k = strtol(l, NULL, 16);
            if (k == 0) {
                while (line(&n), n != 2) {} /* trailers */
                break;
            }
            need((size_t)k + 2);
            put(body, in.p + in_off, (size_t)k);
            in_off += (size_t)k + 2;
        }
    } else if (clen > 0) {
        need((size_t)clen);
        put(body, in.p + in_off, (size_t)clen);
        in_off += (size_t)clen;
    }
    return status;
}

/* ---- NDJSON ----------------------------------------------------------------- */

/* Count lines, check seqs increase; *last = seq of the last line. */
static size_t scan_ndjson(const buf *b, uint64_t *last) {
    size_t n = 0;
    const char *p = b->p, *end = b->p + b->len;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        /* the last "seq": of the line (data may contain the word too) */
        const char *s = NULL;
        for (const char *q = p; (q = memmem(q, (size_t)(e - q), "\"seq\":", 6)); q += 6) s = q;
        if (!s) die("line without seq: %.200s", p);
        uint64_t seq = strtoull(s + 6, NULL, 10);
        if (seq <= *last) die("%s", "seq went backwards or repeated");
        *last = seq;
        n++;
        p = e + 1;
    }
    return n;
}

/* ---- modes ---------------------------------------------------------------------- */

static void load(long total, int batch) {
    buf body = {0}, resp = {0};
    double t0 = now_s();
    for (long done = 0; done < total;) {
        int k = total - done < batch ? (int)(total - done) : batch;
        body.len = 0;
        puts_(&body, "[");
        for (int i = 0; i < k; i++) {
            char ev[256];
            int n = snprintf(ev, sizeof ev,
                             "%s{\"specversion\":\"1.0\",\"id\":\"r-%ld\",\"source\":\"/bench/replay\","
                             "\"type\":\"com.example.tick\",\"subject\":\"ticks/%ld\",\"data\":{\"n\":%ld}}",
                             i ? "," : "", done + i, (done + i) % 100, done + i);
            put(&body, ev, (size_t)n);
        }
        puts_(&body, "]");
        int st = request("POST", "/events", "application/cloudevents-batch+json", "application/json",
                         body.p, body.len, &resp);
        if (st != 200 && st != 201) die("POST /events: %s", resp.p);
        done += k;
    }
    double secs = now_s() - t0;
    printf("mode=load events=%ld seconds=%.3f rate=%.0f requests=%" PRIu64 "\n", total, secs,
           (double)total / secs, requests);
    free(body.p);
    free(resp.p);
}

static uint64_t replay_cursor(const char *name, int limit, int autoack) {
    buf resp = {0};
    char path[512], body[256];
    int n = snprintf(body, sizeof body, "{\"name\":\"%s\",\"start\":\"beginning\"}", name);
    int st = request("POST", "/cursors", "application/json", "application/json", body, (size_t)n, &resp);
    if (st != 201) die("POST /cursors: %s", resp.p);
    uint64_t count = 0, last = 0;
    double t0 = now_s();
    for (;;) {
        snprintf(path, sizeof path, "/cursors/%s/events?limit=%d%s", name, limit,
                 autoack ? "&autoack=true" : "");
        st = request("GET", path, NULL, "application/x-ndjson", NULL, 0, &resp);
        if (st != 200) die("GET cursor events: %s", resp.p);
        uint64_t before = last;
        size_t k = scan_ndjson(&resp, &last);
        if (!k) break;
        count += k;
        (void)before;
        if (autoack) continue; /* the fetch acknowledged itself */
        n = snprintf(body, sizeof body, "{\"seqs\":[%" PRIu64 "]}", last);
        snprintf(path, sizeof path, "/cursors/%s/ack", name);
        st = request("POST", path, "application/json", "application/json", body, (size_t)n, &resp);
        if (st != 200) die("POST ack: %s", resp.p);
    }
    double secs = now_s() - t0;
    printf("mode=%s events=%" PRIu64 " seconds=%.3f rate=%.0f requests=%" PRIu64 " bytes=%" PRIu64 "\n",
           autoack ? "autoack" : "cursor", count, secs, (double)count / secs, requests, bytes_in);
    free(resp.p);
    return count;
}

static uint64_t replay_events(int limit) {
    buf resp = {0};
    char path[256];
    uint64_t count = 0, last = 0;
    double t0 = now_s();
    for (;;) {
        snprintf(path, sizeof path, "/events?after=%" PRIu64 "&limit=%d", last, limit);
        int st = request("GET", path, NULL, "application/x-ndjson", NULL, 0, &resp);
        if (st != 200) die("GET /events: %s", resp.p);
        size_t k = scan_ndjson(&resp, &last);
        if (!k) break;
        count += k;
    }
    double secs = now_s() - t0;
    printf("mode=events events=%" PRIu64 " seconds=%.3f rate=%.0f requests=%" PRIu64 " bytes=%" PRIu64 "\n",
           count, secs, (double)count / secs, requests, bytes_in);
    free(resp.p);
    return count;
}

static void usage(void) {
    fprintf(stderr, "usage: bench_replay -p PORT [-n N] [-b BATCH] [-c NAME] [-l LIMIT] [-e EXPECTED] "
                    "load|cursor|autoack|events\n");
    exit(2);
}

int main(int argc, char **argv) {
    long n = 1000000, expected = -1;
    int batch = 1000, limit = 10000, o;
    const char *name = "bench";
    while ((o = getopt(argc, argv, "p:n:b:c:l:e:")) != -1) {
        switch (o) {
        case 'p': port = atoi(optarg); break;
        case 'n': n = atol(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'c': name = optarg; break;
        case 'l': limit = atoi(optarg); break;
        case 'e': expected = atol(optarg); break;
        default: usage();
        }
    }
    if (optind != argc - 1 || port <= 0 || port > 65535 || n < 1 || batch < 1 || limit < 1 ||
        strlen(name) > 128 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                                  strlen(name))
        usage();
    dial();
    const char *mode = argv[optind];
    uint64_t got;
    if (!strcmp(mode, "load")) {
        load(n, batch);
        got = (uint64_t)n;
    } else if (!strcmp(mode, "cursor") || !strcmp(mode, "autoack")) {
        got = replay_cursor(name, limit, !strcmp(mode, "autoack"));
    } else if (!strcmp(mode, "events")) {
        got = replay_events(limit);
    } else {
        usage();
        return 2;
    }
    close(fd);
    free(in.p);
    if (expected >= 0 && got != (uint64_t)expected) {
        fprintf(stderr, "bench_replay: %" PRIu64 " events, expected %ld\n", got, expected);
        return 1;
    }
    return 0;
}
