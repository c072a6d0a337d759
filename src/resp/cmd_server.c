/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server commands: INFO, COMMAND, CONFIG, DBSIZE, TIME, FLUSHDB/FLUSHALL,
 * LASTSAVE/SAVE/BGSAVE. COMMAND answers from the command table itself.
 * Saving is a no-op by design: every write is durable in the event log
 * before it is answered, so there is nothing to save.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "redcar/consumer.h"
#include "redcar/log.h"
#include "redcar/procstats.h"
#include "resp/door.h"
#include "resp/streamkey.h"

/* ---- INFO ------------------------------------------------------------------- */

static int want(const char *sections, const char *name) {
    if (!sections) return 1;
    if (rc__r_streq(sections, "all") || rc__r_streq(sections, "everything") ||
        rc__r_streq(sections, "default"))
        return 1;
    return rc__r_streq(sections, name);
}

static int consumer_line(const rc_consumer_info *ci, void *arg) {
    rc_buf_printf(arg, "consumer_%s:mode=%s,lag=%llu,pending=%llu,delivered=%llu,redelivered=%llu,"
                       "acked=%llu,dead_lettered=%llu\r\n",
                  ci->name, rc_consumer_mode_name(ci->mode), (unsigned long long)ci->lag,
                  (unsigned long long)ci->pending, (unsigned long long)ci->delivered,
                  (unsigned long long)ci->redelivered, (unsigned long long)ci->acked,
                  (unsigned long long)ci->dead);
    return 0;
}

void rc__r_cmd_info(rc__call *c) {
    rc_resp *d = c->door;
    rc_buf b = RC_BUF_INIT;
    int64_t now = rc__r_now_ms();
    /* Figures that /metrics and /info also show come from the same places
     * (procstats, the store's stats, the hub), so the doors agree. */
    int64_t uptime_ms = rc_procstats_uptime_ms();
    rc_store_stats s = {0};
    rc_store_stats_get(d->st, &s);
    int any = 0;
    for (size_t a = (c->argc > 1 ? 1 : 0); a < (c->argc > 1 ? c->argc : 1); a++) {
        const char *sec = c->argc > 1 ? c->argv[a] : NULL;
        if (want(sec, "server")) {
            struct utsname u;
            uname(&u);
            rc_buf_printf(&b, "# Server\r\nredis_version:7.2.0\r\nredcar_version:%s\r\n"
                              "redis_mode:standalone\r\nos:%s %s %s\r\nprocess_id:%d\r\n"
                              "tcp_port:%d\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
                              "server_time_usec:%lld\r\n\r\n",
                          RC_VERSION, u.sysname, u.release, u.machine, (int)getpid(), d->port,
                          (long long)(uptime_ms / 1000), (long long)(uptime_ms / 86400000),
                          (long long)now * 1000);
            any = 1;
        }
        if (want(sec, "clients")) {
            size_t subs = 0;
            for (rc__client *o = d->all; o; o = o->next)
                if (o->nsubs) subs++;
            rc_buf_printf(&b, "# Clients\r\nconnected_clients:%llu\r\nmaxclients:%lld\r\n"
                              "blocked_clients:0\r\npubsub_clients:%zu\r\nsse_clients:%llu\r\n"
                              "hub_subscribers:%zu\r\n\r\n",
                          (unsigned long long)rc_procstats_get(RC_PROC_RESP_CLIENTS),
                          d->cfg ? (long long)rc_config_int(d->cfg, "maxclients") : 10000LL, subs,
                          (unsigned long long)rc_procstats_get(RC_PROC_SSE_CLIENTS),
                          rc_hub_subscribers(d->hub));
            any = 1;
        }
        if (want(sec, "memory")) {
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            rc_buf_printf(&b, "# Memory\r\nused_memory_rss:%lld\r\nmaxmemory:0\r\n"
                              "maxmemory_policy:noeviction\r\n\r\n",
                          (long long)ru.ru_maxrss * 1024);
            any = 1;
        }
        if (want(sec, "persistence")) {
            rc_buf_printf(&b, "# Persistence\r\nloading:0\r\nasync_loading:0\r\n"
                              "durability:every write is committed to the event log before it is "
                              "answered\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\n"
                              "rdb_last_save_time:%lld\r\nrdb_last_bgsave_status:ok\r\n"
                              "aof_enabled:1\r\naof_rewrite_in_progress:0\r\n"
                              "aof_last_write_status:ok\r\nlog_head_seq:%llu\r\nlog_first_seq:%llu\r\n"
                              "log_trimmed:%llu\r\n"
                              "log_events:%llu\r\nlog_bytes:%llu\r\nlog_commits:%llu\r\n"
                              "log_appended:%llu\r\n\r\n",
                          (long long)(now / 1000), (unsigned long long)s.head_seq,
                          (unsigned long long)s.first_seq,
                          /* retention trims the front of a gapless log */
                          (unsigned long long)(s.first_seq > 1 ? s.first_seq - 1 : 0),
                          (unsigned long long)s.events,
                          (unsigned long long)s.bytes, (unsigned long long)s.commits,
                          (unsigned long long)s.appended);
            any = 1;
        }
        if (want(sec, "stats")) {
            rc_buf_printf(&b, "# Stats\r\ntotal_connections_received:%llu\r\n"
                              "total_commands_processed:%llu\r\nrejected_connections:%llu\r\n"
                              "pubsub_channels:%zu\r\npubsub_patterns:%zu\r\n"
                              "pubsub_messages_delivered:%llu\r\n"
                              "client_output_buffer_limit_disconnections:%llu\r\n"
                              "total_error_replies:0\r\nprotocol_errors:%llu\r\n"
                              "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n\r\n",
                          (unsigned long long)d->st_conns, (unsigned long long)d->st_cmds,
                          (unsigned long long)d->st_rejected, (size_t)0, rc_hub_numpat(d->hub),
                          (unsigned long long)atomic_load(&d->st_pubsub_msgs),
                          (unsigned long long)d->st_slow_kills, (unsigned long long)d->st_proto_errs,
                          (unsigned long long)d->st_keyspace_hits,
                          (unsigned long long)d->st_keyspace_misses);
            any = 1;
        }
        if (want(sec, "replication")) {
            rc_buf_puts(&b, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
            any = 1;
        }
        rc_store_cluster_info ci;
        if (want(sec, "cluster") && rc_store_cluster_info_get(d->st, &ci)) { /* docs/cluster.md */
            rc_buf_printf(&b, "# Cluster\r\ncluster_enabled:1\r\ncluster_connected:%d\r\n"
                              "cluster_serving:%d\r\ncluster_refusing_reason:%s\r\n"
                              "cluster_applied_seq:%llu\r\ncluster_stream_last_seq:%llu\r\n"
                              "cluster_lag:%llu\r\ncluster_published_messages:%llu\r\n"
                              "cluster_coalesced_requests:%llu\r\ncluster_waiting_requests:%llu\r\n\r\n",
                          ci.connected, !ci.refusing, ci.why, (unsigned long long)ci.applied,
                          (unsigned long long)ci.stream_last, (unsigned long long)ci.lag,
                          (unsigned long long)ci.published, (unsigned long long)ci.coalesced,
                          (unsigned long long)ci.waiting);
            any = 1;
        }
        if (want(sec, "keyspace")) {
            rc_buf_puts(&b, "# Keyspace\r\n");
            /* the KV keys, as DBSIZE: streams are listed by KEYS and SCAN
             * only (counting them walks the log; docs/streams.md) */
            if (s.keys)
                rc_buf_printf(&b, "db0:keys=%llu,expires=0,avg_ttl=0\r\n", (unsigned long long)s.keys);
            rc_buf_puts(&b, "\r\n");
            any = 1;
        }
        if (want(sec, "consumers")) {
            /* As /metrics' redcar_consumer_*{consumer=NAME}. */
            rc_buf_puts(&b, "# Consumers\r\n");
            rc_err err;
            rc_consumer_list(d->st, consumer_line, &b, &err);
            rc_buf_puts(&b, "\r\n");
            any = 1;
        }
    }
    (void)any;
    /* strip the last blank line like Redis */
    if (b.len >= 2) b.len -= 2;
    rc_resp_w_verbatim(&c->w, b.p ? b.p : "", b.len);
    rc_buf_free(&b);
}

/* ---- COMMAND ------------------------------------------------------------------- */

static void key_spec(const rc__cmd *k, int *first, int *last, int *step) {
    *first = *last = *step = 0;
    if (k->flags & RC_CF_KEY1) *first = *last = *step = 1;
    if (k->flags & RC_CF_KEYS) *first = 1, *last = -1, *step = 1;
    if (k->flags & RC_CF_KEYPAIRS) *first = 1, *last = -1, *step = 2;
    if (k->flags & RC_CF_KEY12) *first = 1, *last = 2, *step = 1;
}

static void command_info(rc_resp_w *w, const rc__cmd *k) {
    static const struct { unsigned f; const char *name; } fl[] = {
        {RC_CF_WRITE, "write"}, {RC_CF_READ, "readonly"}, {RC_CF_FAST, "fast"},
        {RC_CF_NOAUTH, "no_auth"}, {RC_CF_PUBSUB, "pubsub"}, {RC_CF_NOMULTI, "no_multi"},
        {RC_CF_ADMIN, "admin"},
    };
    size_t nf = 0;
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++)
        if (k->flags & fl[i].f) nf++;
    int first, last, step;
    key_spec(k, &first, &last, &step);
    rc_resp_w_array(w, 10);
    rc_resp_w_bulkstr(w, k->name);
    rc_resp_w_int(w, k->arity);
    rc_resp_w_set(w, nf);
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++)
        if (k->flags & fl[i].f) rc_resp_w_simple(w, fl[i].name);
    rc_resp_w_int(w, first);
    rc_resp_w_int(w, last);
    rc_resp_w_int(w, step);
    rc_resp_w_set(w, 0);   /* ACL categories */
    rc_resp_w_set(w, 0);   /* tips */
    rc_resp_w_array(w, 0); /* key specs */
    rc_resp_w_array(w, 0); /* subcommands */
}

static void command_doc(rc_resp_w *w, const rc__cmd *k) {
    rc_resp_w_bulkstr(w, k->name);
    rc_resp_w_map(w, 3);
    rc_resp_w_bulkstr(w, "summary");
    rc_resp_w_bulkstr(w, k->summary);
    rc_resp_w_bulkstr(w, "since");
    rc_resp_w_bulkstr(w, "1.0.0");
    rc_resp_w_bulkstr(w, "group");
    rc_resp_w_bulkstr(w, (k->flags & RC_CF_PUBSUB) ? "pubsub" : "generic");
}

void rc__r_cmd_command(rc__call *c) {
    size_t n;
    const rc__cmd *t = rc__r_cmd_table(&n);
    if (c->argc == 1) {
        rc_resp_w_array(&c->w, n);
        for (size_t i = 0; i < n; i++) command_info(&c->w, &t[i]);
        return;
    }
    const char *sub = c->argv[1];
    if (rc__r_streq(sub, "COUNT") && c->argc == 2) {
        rc_resp_w_int(&c->w, (int64_t)n);
    } else if (rc__r_streq(sub, "LIST")) {
        rc_resp_w_array(&c->w, n);
        for (size_t i = 0; i < n; i++) rc_resp_w_bulkstr(&c->w, t[i].name);
    } else if (rc__r_streq(sub, "INFO")) {
        if (c->argc == 2) {
            rc_resp_w_array(&c->w, n);
            for (size_t i = 0; i < n; i++) command_info(&c->w, &t[i]);
            return;
        }
        rc_resp_w_array(&c->w, c->argc - 2);
        for (size_t i = 2; i < c->argc; i++) {
            const rc__cmd *k = rc__r_cmd_find(c->argv[i], c->argvlen[i]);
            if (k) command_info(&c->w, k);
            else rc_resp_w_null_array(&c->w);
        }
    } else if (rc__r_streq(sub, "DOCS")) {
        if (c->argc == 2) {
            rc_resp_w_map(&c->w, n);
            for (size_t i = 0; i < n; i++) command_doc(&c->w, &t[i]);
            return;
        }
        size_t found = 0;
        for (size_t i = 2; i < c->argc; i++)
            if (rc__r_cmd_find(c->argv[i], c->argvlen[i])) found++;
        rc_resp_w_map(&c->w, found);
        for (size_t i = 2; i < c->argc; i++) {
            const rc__cmd *k = rc__r_cmd_find(c->argv[i], c->argvlen[i]);
            if (k) command_doc(&c->w, k);
        }
    } else if (rc__r_streq(sub, "GETKEYS") && c->argc >= 3) {
        const rc__cmd *k = rc__r_cmd_find(c->argv[2], c->argvlen[2]);
        if (!k) {
            rc_resp_w_error(&c->w, "ERR Invalid command specified");
            return;
        }
        int first, last, step;
        key_spec(k, &first, &last, &step);
        size_t argc = c->argc - 2;
        if (!first) {
            rc_resp_w_error(&c->w, "ERR The command has no key arguments");
            return;
        }
        size_t end = last < 0 ? argc - 1 : (size_t)last;
        if (end >= argc) end = argc - 1;
        size_t cnt = 0;
        for (size_t i = (size_t)first; i <= end; i += (size_t)step) cnt++;
        rc_resp_w_array(&c->w, cnt);
        for (size_t i = (size_t)first; i <= end; i += (size_t)step)
            rc_resp_w_bulk(&c->w, c->argv[i + 2], c->argvlen[i + 2]);
    } else {
        rc_resp_w_errorf(&c->w, "ERR unknown subcommand '%.64s'. Try COMMAND HELP.", sub);
    }
}

/* ---- CONFIG -------------------------------------------------------------------- */

typedef struct cfg_collect {
    rc_buf names;  /* NUL-separated pairs name\0value\0 */
    size_t n;
} cfg_collect;

static void cfg_each(void *arg, const char *name, const char *value) {
    cfg_collect *cc = arg;
    rc_buf_append(&cc->names, name, strlen(name) + 1);
    rc_buf_append(&cc->names, value, strlen(value) + 1);
    cc->n++;
}

void rc__r_cmd_config(rc__call *c) {
    rc_resp *d = c->door;
    const char *sub = c->argv[1];
    if (rc__r_streq(sub, "GET") && c->argc >= 3) {
        cfg_collect cc = {RC_BUF_INIT, 0};
        if (d->cfg)
            for (size_t i = 2; i < c->argc; i++) rc_config_each(d->cfg, c->argv[i], cfg_each, &cc);
        rc_resp_w_map(&c->w, cc.n);
        const char *p = cc.names.p;
        for (size_t i = 0; i < cc.n; i++) {
            rc_resp_w_bulkstr(&c->w, p);
            p += strlen(p) + 1;
            rc_resp_w_bulkstr(&c->w, p);
            p += strlen(p) + 1;
        }
        rc_buf_free(&cc.names);
    } else if (rc__r_streq(sub, "SET") && c->argc >= 4 && c->argc % 2 == 0) {
        if (!d->cfg) {
            rc_resp_w_error(&c->w, "ERR no configuration attached");
            return;
        }
        for (size_t i = 2; i < c->argc; i += 2) {
            rc_err err;
            rc_err_clear(&err);
            int rc = rc_config_set(d->cfg, c->argv[i], c->argv[i + 1], 1, &err);
            if (rc == RC_NOT_FOUND) {
                rc_resp_w_errorf(&c->w, "ERR Unknown option or number of arguments for CONFIG SET - '%.64s'",
                                 c->argv[i]);
                return;
            }
            if (rc) {
                rc_resp_w_errorf(&c->w, "ERR CONFIG SET failed (possibly related to argument '%.64s') - %s",
                                 c->argv[i], rc_err_msg(&err));
                return;
            }
            if (rc__r_streq(c->argv[i], "notify-keyspace-events")) rc__r_keyspace_configure(d);
            rc__r_config_refresh(d);
        }
        rc_resp_w_ok(&c->w);
    } else if (rc__r_streq(sub, "RESETSTAT") && c->argc == 2) {
        d->st_cmds = d->st_conns = d->st_rejected = d->st_slow_kills = d->st_proto_errs = 0;
        d->st_keyspace_hits = d->st_keyspace_misses = 0;
        rc_resp_w_ok(&c->w);
    } else if (rc__r_streq(sub, "REWRITE") && c->argc == 2) {
        rc_resp_w_error(&c->w, "ERR CONFIG REWRITE is not supported: settings come from the command line and config file");
    } else {
        rc_resp_w_errorf(&c->w, "ERR unknown subcommand or wrong number of arguments for '%.64s'. "
                                "Try CONFIG HELP.", sub);
    }
}

/* ---- keyspace-wide and time ---------------------------------------------------- */

void rc__r_cmd_dbsize(rc__call *c) {
    rc_kv_query q = {0};
    uint64_t n = 0;
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_kv_count(c->door->st, &q, &n, &err);
    if (rc) rc__r_reply_status(&c->w, rc, &err);
    else rc_resp_w_int(&c->w, (int64_t)n);
}

void rc__r_cmd_time(rc__call *c) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rc_resp_w_array(&c->w, 2);
    rc_resp_w_bulk_i64(&c->w, (int64_t)ts.tv_sec);
    rc_resp_w_bulk_i64(&c->w, (int64_t)(ts.tv_nsec / 1000));
}

typedef struct keylist {
    rc_event **evs;
    size_t n, cap;
} keylist;

static int collect_delete(const rc_kv_entry *e, void *arg) {
    keylist *kl = arg;
    if (kl->n == kl->cap) {
        size_t cap = kl->cap ? kl->cap * 2 : 64;
        rc_event **nv = realloc(kl->evs, cap * sizeof *nv);
        if (!nv) return 1;
        kl->evs = nv;
        kl->cap = cap;
    }
    rc_event *ev = rc_api_kv_event(RC__SOURCE, "delete", e->key, NULL, 0, NULL);
    if (!ev) return 1;
    kl->evs[kl->n++] = ev;
    return 0;
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: one batch of delete events, so history
 * shows what was removed; the batch is atomic. Streams go too, with DEL's
 * tombstone and their groups (rc__r_flush_streams), as KEYS lists them. */
void rc__r_cmd_flushdb(rc__call *c) {
    if (c->argc > 2 || (c->argc == 2 && !rc__r_streq(c->argv[1], "ASYNC") &&
                        !rc__r_streq(c->argv[1], "SYNC"))) {
        rc__r_err_syntax(c);
        return;
    }
    keylist kl = {0};
    rc_kv_query q = {0};
    q.keys_only = 1;
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_store_kv_range(c->door->st, &q, collect_delete, &kl, &err);
    if (rc) {
        rc_event_free_array(kl.evs, kl.n);
        rc__r_reply_status(&c->w, rc, &err);
        return;
    }
    if (rc__r_flush_streams(c, kl.evs, kl.n)) { /* took the events */
        free(kl.evs);
        return;
    }
    if (kl.n == 0) {
        free(kl.evs);
        rc_resp_w_ok(&c->w);
        return;
    }
    RC_INFO("resp", "FLUSHDB: deleting %zu keys", kl.n);
    rc__r_append(c, kl.evs, kl.n, RC__R_OK, 0);
    free(kl.evs);
}

void rc__r_cmd_lastsave(rc__call *c) {
    /* every acknowledged write is already durable: "now" is the honest answer */
    rc_resp_w_int(&c->w, rc__r_now_ms() / 1000);
}

void rc__r_cmd_save(rc__call *c) {
    rc_resp_w_ok(&c->w); /* no-op: the event log is durable at every acknowledged write */
}

void rc__r_cmd_bgsave(rc__call *c) {
    rc_resp_w_simple(&c->w, "Background saving started (no-op: the event log is always durable)");
}
