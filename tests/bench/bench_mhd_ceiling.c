/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The framework's ceiling: a trivial libmicrohttpd handler that reads a
 * POST body and answers 201 with the same small JSON body and headers as
 * the HTTP door's single-event answer. "The framework's ceiling" means the
 * daemon is set up exactly like the door's (src/http/mhd.c): the same
 * threading model (MHD_USE_EPOLL_INTERNAL_THREAD with a thread pool of
 * http-threads, MHD_ALLOW_SUSPEND_RESUME), the same connection memory pool
 * (20 KB with the door's defaults, which MHD zeroes per request), connection timeout, connection
 * limit and listen backlog. Only the door's own code (request collection,
 * routing, decoding, the store, suspend/resume per append) is missing, so
 * door/ceiling is the share of the framework's throughput the door keeps.
 * tests/bench/run_http.sh drives both with the same wrk load.
 *
 * With a third argument "defer", each POST is answered the way the door
 * answers an append: the handler suspends the connection and another
 * thread resumes it (no store behind it). That is the ceiling of any
 * deferred answer on libmicrohttpd, and separates what suspend/resume
 * costs from what the door's own code costs. "block" instead blocks the
 * handler until another thread signals it (the alternative to
 * suspend/resume that src/http/mhd.c measured and rejected).
 *
 * A fourth argument picks how MHD's threads wait: "epoll" (default),
 * "poll" (the door's http-event-loop poll), or "tpc" (a thread per
 * connection, MHD_USE_THREAD_PER_CONNECTION; THREADS is then ignored).
 *
 * Usage: bench_mhd_ceiling [PORT [THREADS [plain|defer|block [epoll|poll|tpc]]]];
 * prints the port, runs until SIGINT/SIGTERM. Loopback only.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char answer[] = "{\"seq\":1,\"duplicate\":false}";

/* One request in "defer" mode; the resumer thread takes a list of them. */
typedef struct req {
    struct MHD_Connection *conn;
    int deferred;
    int done;
    pthread_cond_t cv;
    struct req *next;
} req;

static int defer_mode, block_mode;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static req *pending;

static void *resumer(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!pending) pthread_cond_wait(&cv, &mu);
        req *list = pending;
        pending = NULL;
        pthread_mutex_unlock(&mu);
        while (list) {
            req *r = list;
            list = r->next; /* r may be freed as soon as it is resumed */
            if (block_mode) {
                pthread_mutex_lock(&mu);
                r->done = 1;
                pthread_cond_signal(&r->cv);
                pthread_mutex_unlock(&mu);
            } else {
                MHD_resume_connection(r->conn);
            }
        }
        pthread_mutex_lock(&mu);
    }
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)cls, (void)url, (void)version, (void)upload;
    req *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        r->conn = conn;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* read and drop, like a body being collected */
        return MHD_YES;
    }
    if (block_mode && !strcmp(method, "POST")) {
        pthread_cond_init(&r->cv, NULL);
        pthread_mutex_lock(&mu);
        r->done = 0;
        r->next = pending;
        pending = r;
        pthread_cond_signal(&cv);
        while (!r->done) pthread_cond_wait(&r->cv, &mu);
        pthread_mutex_unlock(&mu);
        pthread_cond_destroy(&r->cv);
    }
    if (defer_mode && !r->deferred && !strcmp(method, "POST")) {
        r->deferred = 1;
        MHD_suspend_connection(conn);
        pthread_mutex_lock(&mu);
        r->next = pending;
        pending = r;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
        return MHD_YES;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof answer - 1, (void *)answer,
                                                                MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Location", "/events/1");
    enum MHD_Result ok =
        MHD_queue_response(conn, strcmp(method, "POST") ? MHD_HTTP_OK : MHD_HTTP_CREATED, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)conn, (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* Keep in step with src/http/mhd.c: its pool_size() with the default
 * http-max-header-size (8 KB) and http-max-headers (100). */
#define POOL_SIZE (20 * 1024)

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
    defer_mode = argc > 3 && !strcmp(argv[3], "defer");
    block_mode = argc > 3 && !strcmp(argv[3], "block");
    unsigned fl = MHD_USE_EPOLL_INTERNAL_THREAD;
    if (argc > 4 && !strcmp(argv[4], "poll")) fl = MHD_USE_POLL_INTERNAL_THREAD;
    if (argc > 4 && !strcmp(argv[4], "tpc"))
        fl = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    pthread_t rt;
    if ((defer_mode || block_mode) && pthread_create(&rt, NULL, resumer, NULL)) {
        fprintf(stderr, "cannot start the resumer thread\n");
        return 1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(
        fl | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL,
        on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
        MHD_OPTION_THREAD_POOL_SIZE, (fl & MHD_USE_THREAD_PER_CONNECTION) ? 0u : threads,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)POOL_SIZE, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot start libmicrohttpd\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on 127.0.0.1:%u\n", info ? info->port : (unsigned)port);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    /* Connections still suspended would make MHD_stop_daemon() abort. */
    if (!defer_mode) MHD_stop_daemon(d);
    return 0;
}
