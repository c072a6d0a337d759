/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The settings table. Every setting is one row; the command line, the
 * config file, --help and CONFIG GET/SET are all driven by it, so a new
 * setting is one line here and nothing else.
 *
 * Trust boundary: config files and CONFIG SET values are user input; every
 * value is parsed and bounds-checked before it replaces the old one.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redcar/auth.h"
#include "redcar/config.h"
#include "core/config_int.h"

/* T_SECRET: a password, stored only as "#<sha256 hex>" (see redcar/auth.h).
 * T_USERS: a list; each value given adds or replaces users (auth.h has the
 * grammar), "" clears it. */
typedef enum { T_STR, T_INT, T_SIZE, T_MS, T_BOOL, T_ENUM, T_ADDR, T_SECRET, T_USERS } cfg_type;

#define F_STARTUP 1 /* cannot change while running */
#define F_SECRET 2  /* never printed by CONFIG GET's value listing in logs */
#define F_PORT 4    /* T_ADDR: a bare PORT is taken too (Redis's tls-port); the server picks the host */

typedef struct {
    const char *name;
    cfg_type type;
    const char *def;
    int64_t min, max;
    const char *enums;   /* T_ENUM: "a|b|c" */
    char shortopt;       /* 0: none */
    const char *longopt; /* NULL: none */
    int flags;
    const char *help;
} cfg_row;

#define KB 1024LL
#define MB (1024LL * 1024)
#define GB (1024LL * 1024 * 1024)

static const cfg_row rows[] = {
    {"http", T_ADDR, "127.0.0.1:8519", 0, 0, NULL, 'a', "http", F_STARTUP, "HTTP listen address HOST:PORT (port 0 picks a free port)"},
    {"resp", T_ADDR, "127.0.0.1:6379", 0, 0, NULL, 'r', "resp", F_STARTUP, "RESP (Redis protocol) listen address HOST:PORT"},
    /* TLS (redcar/tls.h): Redis's names; one certificate serves both doors. */
    {"tls-port", T_ADDR, "", 0, 0, NULL, 0, "tls-port", F_STARTUP | F_PORT,
     "RESP over TLS listen address (a bare port binds the resp host; \"\" = off)"},
    {"https", T_ADDR, "", 0, 0, NULL, 0, "https", F_STARTUP | F_PORT,
     "HTTPS listen address (a bare port binds the http host; \"\" = off)"},
    {"tls-cert-file", T_STR, "", 0, 0, NULL, 0, "tls-cert-file", F_STARTUP,
     "PEM server certificate (then any intermediates) for tls-port and https"},
    {"tls-key-file", T_STR, "", 0, 0, NULL, 0, "tls-key-file", F_STARTUP, "PEM private key of tls-cert-file"},
    {"tls-ca-cert-file", T_STR, "", 0, 0, NULL, 0, "tls-ca-cert-file", F_STARTUP,
     "PEM CA certificates that sign client certificates"},
    {"tls-auth-clients", T_ENUM, "no", 0, 0, "no|optional|yes", 0, "tls-auth-clients", F_STARTUP,
     "client certificates: no = not asked, optional = verified if sent, yes = required"},
    {"dir", T_STR, "./redcar-data", 0, 0, NULL, 'd', "dir", F_STARTUP, "data directory (created on first start)"},
    {"logfile", T_STR, "stderr", 0, 0, NULL, 'o', "log", F_STARTUP, "log output: stdout, stderr or a file path"},
    {"loglevel", T_ENUM, "info", 0, 0, "debug|info|warn|error|off", 'l', "log-level", 0, "log level"},
    {"log-format", T_ENUM, "text", 0, 0, "text|json", 0, "log-format", F_STARTUP, "log line format"},
    {"fsync", T_ENUM, "always", 0, 0, "always|normal", 0, "fsync", F_STARTUP,
     "always: a commit survives power loss; normal: survives a process crash"},
    {"requirepass", T_SECRET, "", 0, 0, NULL, 0, "requirepass", F_SECRET,
     "password of the read-write `default` user: AUTH (RESP), bearer token (HTTP); kept as SHA-256, "
     "#<64 hex> is taken as a digest"},
    {"user", T_USERS, "", 0, 0, NULL, 0, "user", F_STARTUP | F_SECRET,
     "add a user, ROLE ro (read-only) or rw (read-write); repeatable; in a file: `user NAME ROLE PASSWORD`"},
    {"protected-mode", T_BOOL, "yes", 0, 1, NULL, 0, "protected-mode", F_STARTUP,
     "refuse non-loopback binds without credentials"},
    {"maxclients", T_INT, "10000", 1, 1000000, NULL, 0, "maxclients", 0, "most RESP clients at once"},
    {"http-max-body", T_SIZE, "16mb", 1, 4 * GB, NULL, 0, "http-max-body", 0, "largest HTTP request body"},
    {"http-timeout", T_MS, "30s", 1000, 3600000, NULL, 0, "http-timeout", F_STARTUP, "HTTP idle timeout (no byte in either direction)"},
    {"http-request-timeout", T_MS, "60s", 1000, 3600000, NULL, 0, "http-request-timeout", 0, "longest time to receive one HTTP request (headers and body), counted from the connection's start or its previous answer; bytes trickling in do not extend it"},
    {"http-max-header-size", T_SIZE, "8kb", 1 * KB, 1 * MB, NULL, 0, "http-max-header-size", F_STARTUP, "largest HTTP request line plus headers (431 beyond)"},
    {"http-max-headers", T_INT, "100", 1, 10000, NULL, 0, "http-max-headers", F_STARTUP, "most HTTP request headers (431 beyond)"},
    {"http-maxclients", T_INT, "10000", 1, 1000000, NULL, 0, "http-maxclients", F_STARTUP, "most HTTP connections at once (503 beyond)"},
    {"http-event-loop", T_ENUM, "loop", 0, 0, "loop|epoll|poll", 0, "http-event-loop", F_STARTUP, "loop: http-threads event loops of redcar's own, each running the group commit of its round's appends on its own thread (least CPU per request); epoll, poll: libmicrohttpd's pool of http-threads threads, waiting with epoll (scales to many connections) or poll"},
    {"http-threads", T_INT, "1", 1, 256, NULL, 0, "http-threads", F_STARTUP, "HTTP threads: event loops (http-event-loop loop; more take turns at the group commit, so one is usually best) or libmicrohttpd's pool (epoll, poll)"},
    {"sse-heartbeat", T_MS, "15s", 100, 3600000, NULL, 0, "sse-heartbeat", 0, "interval of SSE heartbeat comments"},
    {"proto-max-bulk-len", T_SIZE, "512mb", 1 * KB, 4 * GB, NULL, 0, "proto-max-bulk-len", 0, "largest RESP bulk string"},
    {"proto-max-multibulk", T_INT, "1048576", 1, 1LL << 31, NULL, 0, "proto-max-multibulk", 0, "most arguments of one RESP command"},
    {"client-query-buffer-limit", T_SIZE, "1gb", 1 * MB, 4 * GB, NULL, 0, "client-query-buffer-limit", 0,
     "most buffered input per RESP client"},
    {"client-output-buffer-limit-pubsub", T_SIZE, "32mb", 0, 4 * GB, NULL, 0, "client-output-buffer-limit-pubsub", 0,
     "subscriber output limit; past it the client is disconnected (0 = none)"},
    {"client-output-buffer-limit-normal", T_SIZE, "256mb", 0, 4 * GB, NULL, 0, "client-output-buffer-limit-normal", 0,
     "unsent replies of a RESP client (not a subscriber); past it the client is disconnected (0 = none)"},
    {"timeout", T_INT, "0", 0, 31536000, NULL, 0, "timeout", 0,
     "close a RESP client idle for this many seconds (0 = never; subscribers and blocked clients are exempt)"},
    {"notify-keyspace-events", T_STR, "", 0, 0, NULL, 0, "notify-keyspace-events", 0,
     "keyspace notification classes, as Redis (e.g. KEA)"},
    {"max-batch", T_INT, "10000", 1, 1000000, NULL, 0, "max-batch", 0, "most events in one batch"},
    {"max-event-size", T_SIZE, "1mb", 64, 1 * GB, NULL, 0, "max-event-size", 0, "largest encoded event"},
    {"slowlog-log-slower-than", T_INT, "10000", -1, 1LL << 40, NULL, 0, "slowlog-log-slower-than", 0,
     "log commands and HTTP requests slower than this many microseconds (-1 off, 0 everything)"},
    {"slowlog-max-len", T_INT, "128", 0, 1000000, NULL, 0, "slowlog-max-len", 0, "most entries kept in the slow log"},
    {"retention-max-age", T_MS, "0", 0, 100LL * 366 * 24 * 3600 * 1000, NULL, 0, "retention-max-age", 0,
     "trim events older than this from the front of the log (0 = keep all)"},
    {"retention-max-events", T_INT, "0", 0, 1LL << 62, NULL, 0, "retention-max-events", 0,
     "keep at most this many events in the log, trimming the oldest (0 = no limit)"},
    {"retention-max-bytes", T_SIZE, "0", 0, 1LL << 50, NULL, 0, "retention-max-bytes", 0,
     "trim the oldest events while the database uses more than this (0 = no limit)"},
    {"retention-interval", T_MS, "1s", 100, 3600000, NULL, 0, "retention-interval", 0,
     "how often the retention limits are checked"},
    {"cluster", T_STR, "", 0, 0, NULL, 0, "cluster", F_STARTUP,
     "cluster mode: NATS URLs nats://HOST:PORT[,...]; the JetStream stream is the system of record"},
    {"node", T_STR, "", 0, 0, NULL, 0, "node", F_STARTUP, "this node's name in the cluster (default: the host name)"},
    {"cluster-replicas", T_INT, "3", 1, 5, NULL, 0, "cluster-replicas", F_STARTUP,
     "replicas of the stream when this node creates it"},
    {"cluster-seed", T_STR, "", 0, 0, NULL, 0, "cluster-seed", F_STARTUP,
     "cluster mode: an empty data directory starts from this peer's snapshot (http://HOST:PORT/backup)"},
};
#define NROWS (sizeof rows / sizeof rows[0])

struct rc_config {
    pthread_mutex_t lock;
    char *val[NROWS];  /* canonical text */
    int64_t num[NROWS];/* parsed number for numeric types */
    /* Any T_SECRET or T_USERS row non-empty: the doors ask on every request,
     * so it is kept up to date here instead of being looked up each time. */
    atomic_int credentials;
    /* Bumped by every successful set: a reader caching a setting on a hot
     * path compares it instead of taking the lock each time. */
    atomic_uint_fast64_t generation;
};

static int find(const char *name) {
    for (size_t i = 0; i < NROWS; i++)
        if ((rows[i].name[0] | 32) == (name[0] | 32) && !strcasecmp(rows[i].name, name)) return (int)i;
    return -1;
}

/* Under cfg->lock, after a credential row changed. */
static void credentials_update(rc_config *cfg) {
    int any = 0;
    for (size_t i = 0; i < NROWS; i++)
        if ((rows[i].type == T_SECRET || rows[i].type == T_USERS) && cfg->val[i] && cfg->val[i][0]) any = 1;
    atomic_store(&cfg->credentials, any);
}

int rc__config_credentials(rc_config *cfg) { return atomic_load(&cfg->credentials); }

/* Parse "16mb", "30s", "yes"... into a number; RC_OK or RC_INVALID. */
static int parse_num(const cfg_row *r, const char *v, int64_t *out, rc_err *err) {
    if (r->type == T_BOOL) {
        if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1")) *out = 1;
        else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0")) *out = 0;
        else return rc_err_set(err, RC_INVALID, "%s: expected yes or no, got '%s'", r->name, v);
        return RC_OK;
    }
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || errno || (n < 0 && r->min >= 0))
        return rc_err_set(err, RC_INVALID, "%s: expected a non-negative number, got '%s'", r->name, v);
    int64_t mul = 1;
    if (r->type == T_SIZE) {
        if (!*end || !strcasecmp(end, "b")) mul = 1;
        else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb")) mul = KB;
        else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb")) mul = MB;
        else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb")) mul = GB;
        else return rc_err_set(err, RC_INVALID, "%s: unknown size unit '%s' (use b, kb, mb, gb)", r->name, end);
    } else if (r->type == T_MS) {
        if (!*end || !strcasecmp(end, "ms")) mul = 1;
        else if (!strcasecmp(end, "s")) mul = 1000;
        else if (!strcasecmp(end, "m")) mul = 60000;
        else if (!strcasecmp(end, "h")) mul = 3600000;
        else return rc_err_set(err, RC_INVALID, "%s: unknown duration unit '%s' (use ms, s, m, h)", r->name, end);
    } else if (*end) {
        return rc_err_set(err, RC_INVALID, "%s: expected an integer, got '%s'", r->name, v);
    }
    if (n > INT64_MAX / mul) return rc_err_set(err, RC_INVALID, "%s: value too large", r->name);
    n *= mul;
    if (n < r->min || n > r->max)
        return rc_err_set(err, RC_INVALID, "%s: %lld is out of range [%" PRId64 ", %" PRId64 "]", r->name, n,
                          r->min, r->max);
    *out = n;
    return RC_OK;
}

static int check_addr(const cfg_row *r, const char *v, rc_err *err) {
    if (!*v) return RC_OK; /* "": the listener is off */
    const char *colon = strrchr(v, ':'), *ps = colon ? colon + 1 : v;
    if ((!colon && !(r->flags & F_PORT)) || colon == v)
        return rc_err_set(err, RC_INVALID, "%s: expected %sHOST:PORT, got '%s'", r->name,
                          (r->flags & F_PORT) ? "PORT or " : "", v);
    char *end;
    errno = 0;
    long port = strtol(ps, &end, 10);
    if (end == ps || *end || errno || port < 0 || port > 65535)
        return rc_err_set(err, RC_INVALID, "%s: port must be 0..65535, got '%s'", r->name, ps);
    return RC_OK;
}

static int check_enum(const cfg_row *r, const char *v, rc_err *err) {
    size_t n = strlen(v);
    for (const char *p = r->enums; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncasecmp(p, v, n)) return RC_OK;
        p += len + (bar ? 1 : 0);
    }
    return rc_err_set(err, RC_INVALID, "%s: expected one of %s, got '%s'", r->name, r->enums, v);
}

static int set_row(rc_config *cfg, int i, const char *v, rc_err *err) {
    const cfg_row *r = &rows[i];
    int64_t num = 0;
    int rc = RC_OK;
    char secret[RC_AUTH_SECRET_LEN + 1];
    switch (r->type) {
    case T_STR: break;
    case T_SECRET:
        rc_auth_secret(v, secret);
        v = secret; /* the plaintext is not kept */
        break;
    case T_USERS: {
        char *merged = NULL;
        pthread_mutex_lock(&cfg->lock);
        rc = rc_auth_users_merge(cfg->val[i], v, &merged, err);
        if (rc == RC_OK) {
            free(cfg->val[i]);
            cfg->val[i] = merged;
            credentials_update(cfg);
        }
        pthread_mutex_unlock(&cfg->lock);
        return rc;
    }
    case T_ADDR: rc = check_addr(r, v, err); break;
    case T_ENUM: rc = check_enum(r, v, err); break;
    default: rc = parse_num(r, v, &num, err); break;
    }
    if (rc) return rc;
    char *copy = strdup(v);
    if (!copy) return rc_err_set(err, RC_NOMEM, "out of memory");
    if (r->type == T_ENUM)
        for (char *p = copy; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    pthread_mutex_lock(&cfg->lock);
    free(cfg->val[i]);
    cfg->val[i] = copy;
    cfg->num[i] = num;
    if (r->type == T_SECRET) credentials_update(cfg);
    pthread_mutex_unlock(&cfg->lock);
    atomic_fetch_add(&cfg->generation, 1);
    return RC_OK;
}

uint64_t rc_config_generation(rc_config *cfg) { return atomic_load(&cfg->generation); }

rc_config *rc_config_new(void) {
    rc_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    pthread_mutex_init(&cfg->lock, NULL);
    atomic_init(&cfg->credentials, 0);
    atomic_init(&cfg->generation, 0);
    for (size_t i = 0; i < NROWS; i++) {
        rc_err err;
        if (set_row(cfg, (int)i, rows[i].def, &err)) {
            /* A default that fails its own validation is a bug in the table. */
            fprintf(stderr, "config: bad default for %s: %s\n", rows[i].name, err.msg);
            abort();
        }
    }
    return cfg;
}

void rc_config_free(rc_config *cfg) {
    if (!cfg) return;
    for (size_t i = 0; i < NROWS; i++) free(cfg->val[i]);
    pthread_mutex_destroy(&cfg->lock);
    free(cfg);
}

int rc_config_set(rc_config *cfg, const char *name, const char *value, int runtime, rc_err *err) {
    int i = find(name);
    if (i < 0) return rc_err_set(err, RC_NOT_FOUND, "unknown setting '%s'", name);
    if (runtime && (rows[i].flags & F_STARTUP))
        return rc_err_set(err, RC_INVALID, "%s can only be set at start-up", rows[i].name);
    return set_row(cfg, i, value, err);
}

int rc_config_get(rc_config *cfg, const char *name, char *out, size_t outlen) {
    int i = find(name);
    if (i < 0) return RC_NOT_FOUND;
    pthread_mutex_lock(&cfg->lock);
    snprintf(out, outlen, "%s", cfg->val[i]);
    pthread_mutex_unlock(&cfg->lock);
    return RC_OK;
}

int64_t rc_config_int(rc_config *cfg, const char *name) {
    int i = find(name);
    if (i < 0 || rows[i].type == T_STR || rows[i].type == T_ENUM || rows[i].type == T_ADDR ||
        rows[i].type == T_SECRET || rows[i].type == T_USERS) {
        fprintf(stderr, "config: '%s' is not a numeric setting\n", name);
        abort();
    }
    pthread_mutex_lock(&cfg->lock);
    int64_t v = cfg->num[i];
    pthread_mutex_unlock(&cfg->lock);
    return v;
}

char *rc_config_dup(rc_config *cfg, const char *name) {
    int i = find(name);
    if (i < 0) return NULL;
    pthread_mutex_lock(&cfg->lock);
    char *v = strdup(cfg->val[i]);
    pthread_mutex_unlock(&cfg->lock);
    return v;
}

char *rc_config_str(rc_config *cfg, const char *name, char *out, size_t outlen) {
    if (rc_config_get(cfg, name, out, outlen) != RC_OK) {
        fprintf(stderr, "config: unknown setting '%s'\n", name);
        abort();
    }
    return out;
}

/* Minimal Redis-style glob (*, ?, [abc]) for CONFIG GET patterns. */
static int glob_ci(const char *p, const char *s) {
    for (; *p; p++, s++) {
        if (*p == '*') {
            while (p[1] == '*') p++;
            if (!p[1]) return 1;
            for (; *s; s++)
                if (glob_ci(p + 1, s)) return 1;
            return 0;
        }
        if (!*s) return 0;
        if (*p == '?') continue;
        if (*p == '[') {
            const char *q = p + 1;
            int hit = 0;
            for (; *q && *q != ']'; q++)
                if ((*q | 32) == (*s | 32)) hit = 1;
            if (!hit || !*q) return 0;
            p = q;
            continue;
        }
        if ((*p | 32) != (*s | 32)) return 0;
    }
    return !*s;
}

void rc_config_each(rc_config *cfg, const char *glob, rc_config_fn fn, void *arg) {
    for (size_t i = 0; i < NROWS; i++) {
        if (glob && !glob_ci(glob, rows[i].name)) continue;
        char *v = rc_config_dup(cfg, rows[i].name); /* lists can be long */
        if (!v) continue;
        fn(arg, rows[i].name, v);
        free(v);
    }
}

/* Split one config line into name and value; handles "quoted values" with
 * \" \\ \n escapes. Returns 0 for blank/comment, 1 for a pair, -1 on error. */
static int split_line(char *line, char **name, char **value) {
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#' || *p == '\n' || *p == '\r') return 0;
    *name = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
    if (*p) *p++ = '\0';
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '"' || *p == '\'') {
        char q = *p++, *w = p;
        *value = p;
        for (;; p++) {
            if (!*p) return -1; /* unbalanced quotes */
            if (*p == '\\' && p[1] && q == '"') {
                p++;
                *w++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
                continue;
            }
            if (*p == q) break;
            *w++ = *p;
        }
        *w = '\0';
        p++;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        return *p && *p != '#' ? -1 : 1;
    }
    *value = p;
    size_t n = strlen(p);
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) p[--n] = '\0';
    return 1;
}

/* Longest config line accepted, without its newline: a bound on the copy,
 * and a longer line is almost surely not a config file. */
#define LINE_MAX_LEN 4094
/* A config file is a handful of lines; refuse to slurp anything huge. */
#define FILE_MAX_LEN (16 * 1024 * 1024)

int rc_config_load_string(rc_config *cfg, const char *text, size_t len, const char *name, rc_err *err) {
    if (!name) name = "(config)";
    char *line = malloc(LINE_MAX_LEN + 1);
    if (!line) return rc_err_set(err, RC_NOMEM, "out of memory");
    int lineno = 0, rc = RC_OK;
    for (size_t pos = 0; pos < len && rc == RC_OK;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (n > LINE_MAX_LEN) {
            rc = rc_err_set(err, RC_INVALID, "%s:%d: line too long (more than %d bytes)", name, lineno,
                            LINE_MAX_LEN);
            break;
        }
        if (memchr(text + pos, '\0', n)) {
            rc = rc_err_set(err, RC_INVALID, "%s:%d: NUL byte in line", name, lineno);
            break;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        char *key, *value;
        int k = split_line(line, &key, &value);
        if (k == 0) continue;
        if (k < 0) {
            rc = rc_err_set(err, RC_INVALID, "%s:%d: unbalanced quotes or text after a quoted value", name,
                            lineno);
            break;
        }
        rc_err e;
        rc_err_clear(&e);
        if ((rc = rc_config_set(cfg, key, value, 0, &e)) != RC_OK) {
            rc_err_set(err, rc == RC_NOT_FOUND ? RC_INVALID : rc, "%s:%d: %s", name, lineno, e.msg);
            rc = rc == RC_NOT_FOUND ? RC_INVALID : rc;
        }
    }
    free(line);
    return rc;
}

int rc_config_load_file(rc_config *cfg, const char *path, rc_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return rc_err_set(err, RC_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    int rc = RC_OK;
    while (text) {
        if (len == cap) {
            if (cap >= FILE_MAX_LEN) {
                rc = rc_err_set(err, RC_INVALID, "%s: larger than %d bytes: not a config file", path,
                                FILE_MAX_LEN);
                break;
            }
            char *bigger = realloc(text, cap * 2);
            if (!bigger) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            cap *= 2;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) rc = rc_err_set(err, RC_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!text) return rc_err_set(err, RC_NOMEM, "out of memory");
    if (rc == RC_OK) rc = rc_config_load_string(cfg, text, len, path, err);
    free(text);
    return rc;
}

/* What a setting's value looks like, for --help and the default file. */
static const char *metavar(const cfg_row *r) {
    switch (r->type) {
    case T_ADDR: return (r->flags & F_PORT) ? "[HOST:]PORT" : "HOST:PORT";
    case T_INT: return "N";
    case T_SIZE: return "SIZE";
    case T_MS: return "DURATION";
    case T_BOOL: return "yes|no";
    case T_ENUM: return r->enums;
    case T_SECRET: return "PASSWORD";
    case T_USERS: return "NAME:ROLE:PASSWORD";
    default: return !strcmp(r->name, "dir") ? "DIR" : !strcmp(r->name, "logfile") ? "TARGET" : "TEXT";
    }
}

void rc_config_usage(FILE *out) {
    fprintf(out,
            "Usage: redcar [CONFIG_FILE] [OPTIONS]\n"
            "Redcar: a CloudEvents event store on SQLite with HTTP and Redis (RESP) doors.\n\n"
            "Options (each is also a config-file setting: `name value` per line; flags\n"
            "override the file; sizes take kb/mb/gb, durations ms/s/m/h):\n");
    for (size_t i = 0; i < NROWS; i++) {
        const cfg_row *r = &rows[i];
        char opt[96];
        if (r->shortopt) snprintf(opt, sizeof opt, "-%c, --%s %s", r->shortopt, r->longopt, metavar(r));
        else snprintf(opt, sizeof opt, "    --%s %s", r->longopt, metavar(r));
        fprintf(out, "  %-46s %s (default: %s)\n", opt, r->help, r->def[0] ? r->def : "\"\"");
    }
    fprintf(out, "  %-46s %s\n  %-46s %s\n  %-46s %s\n", "    --print-config",
            "print a commented config file with every default", "-h, --help", "show this help",
            "-v, --version", "print the version");
}

void rc_config_write_default(FILE *out) {
    fprintf(out,
            "## redcar.conf: settings of the Redcar event store, one `name value` per line.\n"
            "## Each setting below is commented out (`# name default`): remove the `# `\n"
            "## to change it. Command-line flags override this file\n"
            "## (redcar /etc/redcar/redcar.conf -l debug).\n"
            "## Generated by `redcar --print-config` from the settings table.\n");
    for (size_t i = 0; i < NROWS; i++) {
        const cfg_row *r = &rows[i];
        fprintf(out, "\n## %s (%s)%s\n", r->help, metavar(r),
                (r->flags & F_STARTUP) ? "; read at start-up only" : "");
        if (r->type == T_USERS)
            fprintf(out, "## One line per user, e.g. `user reader ro s3cret` or `user writer rw #<sha256 hex>`;\n"
                         "## the line below (an empty list) removes every user given before it.\n");
        fprintf(out, "# %s %s\n", r->name, r->def[0] ? r->def : "\"\"");
    }
}

int rc_config_parse_args(rc_config *cfg, int argc, char **argv, int *exit_now, rc_err *err) {
    struct option longs[NROWS + 4];
    char shorts[2 * NROWS + 8] = "hv";
    size_t ns = 2, nl = 0;
    for (size_t i = 0; i < NROWS; i++) {
        longs[nl++] = (struct option){rows[i].longopt, required_argument, NULL, 1000 + (int)i};
        if (rows[i].shortopt) {
            shorts[ns++] = rows[i].shortopt;
            shorts[ns++] = ':';
        }
    }
    shorts[ns] = '\0';
    longs[nl++] = (struct option){"help", no_argument, NULL, 'h'};
    longs[nl++] = (struct option){"version", no_argument, NULL, 'v'};
    longs[nl++] = (struct option){"print-config", no_argument, NULL, 'P'};
    longs[nl] = (struct option){NULL, 0, NULL, 0};
    *exit_now = 0;

    /* Two passes: the config file first (the only positional argument), then
     * the flags on top of it, whatever their order on the command line. */
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            /* skip values of options that take one */
            if (i > 1 && argv[i - 1][0] == '-' && !strchr(argv[i - 1], '=') &&
                strcmp(argv[i - 1], "-h") && strcmp(argv[i - 1], "--help") && strcmp(argv[i - 1], "-v") &&
                strcmp(argv[i - 1], "--version") && strcmp(argv[i - 1], "--print-config"))
                continue;
            if (file) return rc_err_set(err, RC_INVALID, "unexpected argument '%s' (one config file at most)", argv[i]);
            file = argv[i];
        }
    }
    if (file) {
        int rc = rc_config_load_file(cfg, file, err);
        if (rc) return rc;
    }
    opterr = 0;
    optind = 1;
    int c, li;
    while ((c = getopt_long(argc, argv, shorts, longs, &li)) != -1) {
        int row = -1;
        if (c == 'h') {
            rc_config_usage(stdout);
            *exit_now = 1;
            return RC_OK;
        } else if (c == 'P') {
            rc_config_write_default(stdout);
            *exit_now = 1;
            return RC_OK;
        } else if (c == 'v') {
            printf("redcar %s\n", RC_VERSION);
            *exit_now = 1;
            return RC_OK;
        } else if (c >= 1000) {
            row = c - 1000;
        } else if (c == '?' || c == ':') {
            if (optopt && optopt < 1000)
                return rc_err_set(err, RC_INVALID, "unknown option or missing value: -%c (see --help)", optopt);
            return rc_err_set(err, RC_INVALID, "unknown option or missing value: %s (see --help)", argv[optind - 1]);
        } else {
            for (size_t i = 0; i < NROWS; i++)
                if (rows[i].shortopt == c) row = (int)i;
        }
        if (row < 0) return rc_err_set(err, RC_INVALID, "unknown option (see --help)");
        int rc = set_row(cfg, row, optarg, err);
        if (rc) return rc;
    }
    return RC_OK;
}
