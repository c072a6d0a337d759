/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The framework's ceiling: a trivial libmicrohttpd handler that reads a
 * POST body and answers 201 with the same small JSON body and headers as
 * the HTTP door's single-event answer. "The framework's ceiling" means the
 * daemon is set up exactly like the door's (src/http/mhd.c), in each of
 * the door's threading models (MHD's epoll or poll thread pool of THREADS,
 * or THREADS loops of our own: see "loop" below), with the same connection
 * memory pool (20 KB with the door's defaults, which MHD zeroes per
 * request), connection timeout, connection limit and listen backlog, and
 * MHD_ALLOW_SUSPEND_RESUME. Only the door's own code (request collection,
 * routing, decoding, the store, deferring each append) is missing, so
 * door/ceiling is the share of the framework's throughput the door keeps;
 * tests/bench/run_http.sh runs every model and takes the fastest as the
 * ceiling. It drives both with the same wrk load.
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
 * "poll" (the door's http-event-loop poll), "tpc" (a thread per
 * connection, MHD_USE_THREAD_PER_CONNECTION; THREADS is then ignored), or
 * "loop", the door's http-event-loop loop: THREADS threads of our own,
 * each running a daemon of its own in external epoll mode (MHD_run after a
 * poll on the daemon's epoll set), all sharing one listening socket. There
 * "defer" answers as the door answers an append: the first call returns
 * without an answer and without suspending, and the next MHD_run (after
 * the round, where the door runs its group commit) answers.
 *
 * Usage: bench_mhd_ceiling [PORT [THREADS [plain|defer|block [epoll|poll|tpc|loop]]]];
 * prints the port, runs until SIGINT/SIGTERM. Loopback only.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
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

static int defer_mode, block_mode, loop_mode;
static _Thread_local int again; /* loop mode: run again without waiting */
static _Thread_local unsigned deferred; /* loop mode: answers deferred this round */
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
    if (loop_mode && defer_mode && !strcmp(method, "POST") && r->deferred < 2) {
        /* the door's loop mode: unanswered on the first call (the round's
         * group commit runs after MHD_run), answered on the next */
        if (r->deferred++ == 0) {
            again = 1;
            deferred++;
            return MHD_YES;
        }
    } else if (defer_mode && !r->deferred && !strcmp(method, "POST")) {
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

/* Loop mode: one thread per daemon, as src/http/mhd.c's loop_main. */
static void *loop_main(void *arg) {
    struct MHD_Daemon *d = arg;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    struct pollfd pf = {di->epoll_fd, POLLIN, 0};
    for (;;) {
        int ms = -1;
        MHD_UNSIGNED_LONG_LONG to;
        if (again) ms = 0;
        else if (MHD_get_timeout(d, &to) == MHD_YES) ms = to > INT_MAX ? INT_MAX : (int)to;
        again = 0;
        poll(&pf, 1, ms);
        unsigned answered = deferred;
        deferred = 0;
        MHD_run(d);
        if (answered) MHD_run(d); /* as the door: the answers queued just now go out */
    }
    return NULL;
}

static struct MHD_Daemon *start(unsigned fl, int port, const struct sockaddr_in *a, int shared,
                                unsigned threads) {
    struct MHD_OptionItem v[] = {
        shared >= 0 ? (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, shared, NULL}
                    : (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)a},
        {threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    return MHD_start_daemon(
        fl | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
        on_request, NULL, MHD_OPTION_ARRAY, v,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)POOL_SIZE, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
    defer_mode = argc > 3 && !strcmp(argv[3], "defer");
    block_mode = argc > 3 && !strcmp(argv[3], "block");
    unsigned fl = MHD_USE_EPOLL_INTERNAL_THREAD;
    if (argc > 4 && !strcmp(argv[4], "poll")) fl = MHD_USE_POLL_INTERNAL_THREAD;
    if (argc > 4 && !strcmp(argv[4], "tpc"))
        fl = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    loop_mode = argc > 4 && !strcmp(argv[4], "loop");
    if (loop_mode) {
        fl = MHD_USE_EPOLL;
        block_mode = 0; /* a loop never blocks */
    }
    pthread_t rt;
    if (!loop_mode && (defer_mode || block_mode) && pthread_create(&rt, NULL, resumer, NULL)) {
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
    unsigned pool = (fl & MHD_USE_THREAD_PER_CONNECTION) || loop_mode || threads < 2 ? 0u : threads;
    struct MHD_Daemon *d = start(fl, port, &a, -1, pool);
    if (!d) {
        fprintf(stderr, "cannot start libmicrohttpd\n");
        return 1;
    }
    for (unsigned i = 0; loop_mode && i < threads; i++) {
        /* the others share the first one's listening socket */
        struct MHD_Daemon *di = d;
        if (i > 0) {
            const union MHD_DaemonInfo *li = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
            if (!li || !(di = start(fl, port, &a, li->listen_fd, 0))) {
                fprintf(stderr, "cannot start libmicrohttpd\n");
                return 1;
            }
        }
        pthread_t t;
        if (pthread_create(&t, NULL, loop_main, di)) {
            fprintf(stderr, "cannot start a loop thread\n");
            return 1;
        }
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on 127.0.0.1:%u\n", info ? info->port : (unsigned)port);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    /* Connections still suspended would make MHD_stop_daemon() abort;
     * the loops' daemons are in use by their threads till the exit. */
    if (!defer_mode && !loop_mode) MHD_stop_daemon(d);
    return 0;
}
