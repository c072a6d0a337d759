/* SPDX-License-Identifier: Apache-2.0 */
/* Process lifecycle: the order things start and stop in (see server.h). */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/http.h"
#include "redcar/auth.h"
#include "redcar/cluster.h"
#include "redcar/hub.h"
#include "redcar/log.h"
#include "redcar/push.h"
#include "redcar/retention.h"
#include "redcar/store.h"
#include "redcar/tls.h"
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

/* A refused start must be visible to whoever ran the command, not only in
 * a log file they may not be watching. */
static void start_error(const char *logfile, const char *what, const char *msg) {
    RC_ERROR("server", "%s: %s", what, msg);
    if (strcmp(logfile, "stderr") && strcmp(logfile, "stdout")) fprintf(stderr, "redcar: %s: %s\n", what, msg);
}

/* A listener setting: 0 when "" (off), 1 with host and port, -1 when bad.
 * A bare PORT (tls-port 6380, as in Redis) binds near_host, the host of the
 * matching plain door. */
static int listener(rc_config *cfg, const char *name, const char *near_host, char *host, size_t hostlen,
                    int *port) {
    char addr[300];
    rc_config_str(cfg, name, addr, sizeof addr);
    if (!addr[0]) return 0;
    if (!strchr(addr, ':')) {
        snprintf(host, hostlen, "%s", near_host && *near_host ? near_host : "127.0.0.1");
        *port = atoi(addr);
        return 1;
    }
    return rc_server_split_addr(addr, host, hostlen, port) == RC_OK ? 1 : -1;
}

/* One certificate for both TLS listeners, read before anything starts so
 * that a bad file stops the start with the file and the reason. */
static int tls_load(rc_config *cfg, rc_tls **out, const char *logfile) {
    char cert[1024], key[1024], ca[1024], auth[16];
    rc_tls_opts to = {rc_config_str(cfg, "tls-cert-file", cert, sizeof cert),
                      rc_config_str(cfg, "tls-key-file", key, sizeof key),
                      rc_config_str(cfg, "tls-ca-cert-file", ca, sizeof ca), RC_TLS_AUTH_NO};
    rc_tls_auth_parse(rc_config_str(cfg, "tls-auth-clients", auth, sizeof auth), &to.auth);
    rc_err err;
    rc_err_clear(&err);
    if (rc_tls_new(out, &to, &err) != RC_OK) {
        start_error(logfile, "cannot set up TLS", rc_err_msg(&err));
        return -1;
    }
    RC_INFO("server", "tls: certificate %s, client certificates %s", cert, auth);
    return 0;
}

int rc_server_run(rc_config *cfg) {
    char logfile[1024], level[16], fmt[16], dir[1024], fsync[16], haddr[300], raddr[300];
    char hhost[256], rhost[256], shost[256], thost[256];
    int hport, rport, sport = 0, tport = 0, code = 1;
    int http_on, resp_on, https_on, rtls_on;
    rc_tls *tls = NULL;
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
    /* "" turns a listener off: e.g. TLS only, with http "" and resp "". */
    http_on = listener(cfg, "http", NULL, hhost, sizeof hhost, &hport);
    resp_on = listener(cfg, "resp", NULL, rhost, sizeof rhost, &rport);
    https_on = listener(cfg, "https", http_on > 0 ? hhost : NULL, shost, sizeof shost, &sport);
    rtls_on = listener(cfg, "tls-port", resp_on > 0 ? rhost : NULL, thost, sizeof thost, &tport);
    if (http_on < 0 || resp_on < 0 || https_on < 0 || rtls_on < 0) {
        RC_ERROR("server", "bad listen address");
        return 1;
    }
    if ((http_on && check_protected(cfg, hhost, "http", logfile)) ||
        (resp_on && check_protected(cfg, rhost, "resp", logfile)) ||
        (https_on && check_protected(cfg, shost, "https", logfile)) ||
        (rtls_on && check_protected(cfg, thost, "tls-port", logfile)))
        return 1;
    if ((https_on || rtls_on) && tls_load(cfg, &tls, logfile)) return 1;

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
    char seed[1024], curls[1024];
    rc_config_str(cfg, "cluster", curls, sizeof curls);
    if (*curls && *rc_config_str(cfg, "cluster-seed", seed, sizeof seed)) {
        rc_err serr;
        rc_err_clear(&serr);
        if (rc_cluster_seed(seed, dir, &serr) != RC_OK) {
            RC_ERROR("cluster", "%s", rc_err_msg(&serr));
            if (strcmp(logfile, "stderr") && strcmp(logfile, "stdout"))
                fprintf(stderr, "redcar: %s\n", rc_err_msg(&serr));
            return 1;
        }
    }
    rc_store *st = NULL;
    rc_hub *hub = NULL;
    rc_http *http = NULL, *https = NULL;
    rc_resp *resp = NULL;
    rc_push *push = NULL;
    rc_retention *ret = NULL;
    rc_cluster *cluster = NULL;
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

    /* Cluster mode: after the hub (applied events fan out) and before
     * anything that writes, so every write goes through the stream. */
    if (*curls) {
        char node[256];
        if (!*rc_config_str(cfg, "node", node, sizeof node) && gethostname(node, sizeof node) != 0)
            snprintf(node, sizeof node, "redcar");
        node[sizeof node - 1] = '\0';
        rc_cluster_opts co = {curls, node, (int)rc_config_int(cfg, "cluster-replicas"), 30000};
        if (rc_cluster_start(&cluster, &co, st, &err) != RC_OK) {
            RC_ERROR("cluster", "cannot join %s: %s", curls, rc_err_msg(&err));
            if (strcmp(logfile, "stderr") && strcmp(logfile, "stdout"))
                fprintf(stderr, "redcar: cannot join the cluster %s: %s\n", curls, rc_err_msg(&err));
            goto done;
        }
    }

    /* Webhooks: after the store and the hub they read from, before the
     * doors, so stored subscriptions resume before new events arrive. */
    if (rc_push_start(&push, st, hub, NULL, &err) != RC_OK) {
        RC_ERROR("push", "cannot start webhook delivery: %s", rc_err_msg(&err));
        goto done;
    }

    rc_http_opts ho = {hhost, hport, cfg, NULL};
    if (http_on && rc_http_start(&http, &ho, st, hub, &err) != RC_OK) {
        RC_ERROR("http", "cannot listen on %s: %s", haddr, rc_err_msg(&err));
        goto done;
    }
    if (http_on) RC_INFO("http", "listening on %s:%d", hhost, rc_http_port(http));
    /* HTTPS: a second libmicrohttpd daemon on the same routes and store. */
    rc_http_opts so_tls = {shost, sport, cfg, tls};
    if (https_on && rc_http_start(&https, &so_tls, st, hub, &err) != RC_OK) {
        RC_ERROR("https", "cannot listen on %s:%d: %s", shost, sport, rc_err_msg(&err));
        goto done;
    }
    if (https_on) RC_INFO("https", "listening on %s:%d", shost, rc_http_port(https));
    rc_resp_opts ro = {resp_on ? rhost : NULL, rport, cfg, rtls_on ? tls : NULL, thost, tport};
    if ((resp_on || rtls_on) && rc_resp_start(&resp, &ro, st, hub, &err) != RC_OK) {
        RC_ERROR("resp", "cannot listen: %s", rc_err_msg(&err));
        goto done;
    }
    if (resp_on) RC_INFO("resp", "listening on %s:%d", rhost, rc_resp_port(resp));
    if (rtls_on) RC_INFO("resp-tls", "listening on %s:%d", thost, rc_resp_tls_port(resp));
    /* With port 0 the settings would keep saying 0: record the ports actually
     * bound, so /info, INFO and CONFIG GET tell clients where to connect. */
    if (http_on) record_bound(cfg, "http", hhost, rc_http_port(http));
    if (resp_on) record_bound(cfg, "resp", rhost, rc_resp_port(resp));
    if (https_on) record_bound(cfg, "https", shost, rc_http_port(https));
    if (rtls_on) record_bound(cfg, "tls-port", thost, rc_resp_tls_port(resp));
    RC_INFO("server", "redcar %s ready (data directory %s, fsync %s)", RC_VERSION, dir, fsync);

    int sig = 0;
    sigwait(&stop, &sig);
    RC_INFO("server", "received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    code = 0;
done:
    /* Doors first: they finish in-flight appends while the store still runs. */
    rc_resp_stop(resp);
    rc_http_stop(http);
    rc_http_stop(https);
    /* Webhooks next, while the store still runs: an attempt in flight is
     * aborted and its event stays pending for the next start. */
    rc_push_stop(push);
    rc_retention_stop(ret);
    /* The apply loop last: the doors' in-flight writes waited for it. */
    rc_cluster_stop(cluster);
    rc_store_close(st);
    rc_hub_free(hub);
    rc_tls_free(tls); /* after the doors that borrow it */
    if (code == 0) RC_INFO("server", "stopped cleanly");
    rc_log_close();
    return code;
}
