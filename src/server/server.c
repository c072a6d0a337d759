/* SPDX-License-Identifier: Apache-2.0 */
/* Process lifecycle: the order things start and stop in (see server.h). */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "redcar/auth.h"
#include "redcar/hub.h"
#include "redcar/log.h"
#include "redcar/push.h"
#include "redcar/retention.h"
#include "redcar/store.h"
#include "resp/resp.h"
#include "server/server.h"

int rc_server_split_addr(const char *addr, char *host, size_t hostlen, int *port) {
    const char *colon = strrchr(addr, ':');
    if (!colon) return RC_INVALID;
    const char *h = addr;
    size_t n = (size_t)(colon - addr);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen) return RC_INVALID;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = atoi(colon + 1);
    return RC_OK;
}

int rc_server_is_loopback(const char *host) {
    if (!strcasecmp(host, "localhost") || !strcmp(host, "::1")) return 1;
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* Like Redis's protected mode: a public bind without any credential (a
 * requirepass or a user) is almost always a mistake, so it needs an
 * explicit `protected-mode no`. The refusal goes to stderr too: whoever
 * started the process must see why it stopped, whatever the log target. */
static int check_protected(rc_config *cfg, const char *host, const char *door, const char *logfile) {
    if (rc_server_is_loopback(host) || !rc_config_int(cfg, "protected-mode")) return 0;
    if (rc_auth_required(cfg)) return 0;
    static const char why[] = "without credentials: set requirepass or add a user (--user NAME:ROLE:PASSWORD), "
                              "bind to loopback, or set protected-mode no";
    RC_ERROR("server", "refusing to bind %s to %s %s", door, host, why);
    if (strcmp(logfile, "stderr") && strcmp(logfile, "stdout"))
        fprintf(stderr, "redcar: refusing to bind %s to %s %s\n", door, host, why);
    return -1;
}

static void record_bound(rc_config *cfg, const char *name, const char *host, int port) {
    char addr[300];
    snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    rc_config_set(cfg, name, addr, 0, NULL);
}

int rc_server_run(rc_config *cfg) {
    char logfile[1024], level[16], fmt[16], dir[1024], fsync[16], haddr[300], raddr[300];
    char hhost[256], rhost[256];
    int hport, rport, code = 1;
    rc_log_level lvl;
    rc_config_str(cfg, "logfile", logfile, sizeof logfile);
    rc_config_str(cfg, "loglevel", level, sizeof level);
    rc_config_str(cfg, "log-format", fmt, sizeof fmt);
    rc_log_level_parse(level, &lvl);
    if (rc_log_open(logfile, lvl, !strcmp(fmt, "json")) != RC_OK) {
        fprintf(stderr, "redcar: cannot open log output '%s'\n", logfile);
        return 1;
    }
    rc_config_str(cfg, "http", haddr, sizeof haddr);
    rc_config_str(cfg, "resp", raddr, sizeof raddr);
    if (rc_server_split_addr(haddr, hhost, sizeof hhost, &hport) ||
        rc_server_split_addr(raddr, rhost, sizeof rhost, &rport)) {
        RC_ERROR("server", "bad listen address");
        return 1;
    }
    if (check_protected(cfg, hhost, "http", logfile) || check_protected(cfg, rhost, "resp", logfile)) return 1;

    /* Block the stop signals before any thread starts so that every thread
     * inherits the mask and only sigwait() below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Past a file-size limit (RLIMIT_FSIZE) a write must fail with EFBIG and
     * reach the client as a disk-full error, not kill the process. */
    signal(SIGXFSZ, SIG_IGN);

    rc_store_opts so;
    rc_store_opts_default(&so);
    so.dir = rc_config_str(cfg, "dir", dir, sizeof dir);
    so.fsync = !strcmp(rc_config_str(cfg, "fsync", fsync, sizeof fsync), "normal") ? RC_FSYNC_NORMAL
                                                                                  : RC_FSYNC_ALWAYS;
    rc_store *st = NULL;
    rc_hub *hub = NULL;
    rc_http *http = NULL;
    rc_resp *resp = NULL;
    rc_push *push = NULL;
    rc_retention *ret = NULL;
    rc_err err;
    rc_err_clear(&err);
    if (rc_store_open(&st, &so, &err) != RC_OK) {
        RC_ERROR("store", "cannot open %s: %s", dir, rc_err_msg(&err));
        /* A refused start (locked, read-only, full) must be visible to whoever
         * ran the command, not only in a log file they may not be watching. */
        if (strcmp(logfile, "stderr") && strcmp(logfile, "stdout"))
            fprintf(stderr, "redcar: cannot open %s: %s\n", dir, rc_err_msg(&err));
        goto done;
    }
    if (!(hub = rc_hub_new())) goto done;
    rc_store_set_commit_hook(st, rc_hub_publish_hook, hub);
    rc_store_stats stats;
    if (rc_store_stats_get(st, &stats) == RC_OK) rc_hub_set_head(hub, stats.head_seq);

    if (rc_retention_start(&ret, st, cfg, &err) != RC_OK) {
        RC_ERROR("store", "cannot start retention: %s", rc_err_msg(&err));
        goto done;
    }

    /* Webhooks: after the store and the hub they read from, before the
     * doors, so stored subscriptions resume before new events arrive. */
    if (rc_push_start(&push, st, hub, NULL, &err) != RC_OK) {
        RC_ERROR("push", "cannot start webhook delivery: %s", rc_err_msg(&err));
        goto done;
    }

    rc_http_opts ho = {hhost, hport, cfg};
    if (rc_http_start(&http, &ho, st, hub, &err) != RC_OK) {
        RC_ERROR("http", "cannot listen on %s: %s", haddr, rc_err_msg(&err));
        goto done;
    }
    RC_INFO("http", "listening on %s:%d", hhost, rc_http_port(http));
    rc_resp_opts ro = {rhost, rport, cfg};
    if (rc_resp_start(&resp, &ro, st, hub, &err) != RC_OK) {
        RC_ERROR("resp", "cannot listen on %s: %s", raddr, rc_err_msg(&err));
        goto done;
    }
    RC_INFO("resp", "listening on %s:%d", rhost, rc_resp_port(resp));
    /* With port 0 the settings would keep saying 0: record the ports actually
     * bound, so /info, INFO and CONFIG GET tell clients where to connect. */
    record_bound(cfg, "http", hhost, rc_http_port(http));
    record_bound(cfg, "resp", rhost, rc_resp_port(resp));
    RC_INFO("server", "redcar %s ready (data directory %s, fsync %s)", RC_VERSION, dir, fsync);

    int sig = 0;
    sigwait(&stop, &sig);
    RC_INFO("server", "received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    code = 0;
done:
    /* Doors first: they finish in-flight appends while the store still runs. */
    rc_resp_stop(resp);
    rc_http_stop(http);
    /* Webhooks next, while the store still runs: an attempt in flight is
     * aborted and its event stays pending for the next start. */
    rc_push_stop(push);
    rc_retention_stop(ret);
    rc_store_close(st);
    rc_hub_free(hub);
    if (code == 0) RC_INFO("server", "stopped cleanly");
    rc_log_close();
    return code;
}
