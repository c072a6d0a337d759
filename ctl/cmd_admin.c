/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redcar-ctl backup | export | import: operations on the whole store.
 *
 *  backup FILE     GET /backup (a consistent SQLite copy taken while writes
 *                  continue) saved to FILE.part, checked (size announced by
 *                  the server, SQLite magic), fsync'ed, then renamed to FILE:
 *                  a FILE that exists is always a complete backup.
 *  export          the log as NDJSON of structured CloudEvents (each with its
 *                  seq), paged with GET /events?after=...&limit=10000.
 *  import FILE|-   NDJSON back in, in batches (application/cloudevents-batch
 *                  +json). Events keep source, id and time, so a re-run
 *                  appends nothing: the server answers duplicates, which are
 *                  counted. Into an empty store, seqs come out the same.
 *
 * Why these two GETs use a libcurl handle of their own and not client.c:
 * the shared client keeps a response in memory (capped), while a backup or
 * a 10000-event page goes straight to disk as it arrives.
 *
 * Output: a progress line on a terminal (progress.h), then one summary line
 * on stderr; -q prints nothing but errors; -w json prints the summary as
 * JSON on stdout (unless stdout carries the data).
 *
 * Trust boundary: what the server sends is untrusted; the backup is checked
 * before it replaces anything, export lines are passed through as bytes
 * (their seq read back with bounds), and error texts are printed cleaned.
 */
#include "cmd_admin.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "client.h"
#include "progress.h"

#define EXPORT_PAGE 10000
#define IMPORT_BATCH 1000
#define IMPORT_BATCH_BYTES (8u * 1024 * 1024) /* half the server's default http-max-body */
#define MAX_LINE (64u * 1024 * 1024)

const ctl_opt ctl_backup_opts[] = {
    {"force", 'f', 0, NULL, "replace FILE if it exists"},
    {"quiet", 'q', 0, NULL, "no progress line and no summary"},
    {0}};
const ctl_opt ctl_export_opts[] = {
    {"from", 0, 1, "SEQ", "first seq to export (default: the oldest stored)"},
    {"output", 'o', 1, "FILE", "write to FILE (default: stdout)"},
    {"quiet", 'q', 0, NULL, "no progress line and no summary"},
    {0}};
const ctl_opt ctl_import_opts[] = {
    {"batch", 'b', 1, "N", "events per request (default 1000)"},
    {"quiet", 'q', 0, NULL, "no progress line and no summary"},
    {0}};

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/* Ctrl-C ends a long operation cleanly (partial files removed). */
typedef struct sigsave {
    struct sigaction old_int, old_term;
} sigsave;

static void catch_signals(sigsave *s) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &s->old_int);
    sigaction(SIGTERM, &sa, &s->old_term);
}

static void restore_signals(const sigsave *s) {
    sigaction(SIGINT, &s->old_int, NULL);
    sigaction(SIGTERM, &s->old_term, NULL);
}

/* The Authorization header for requests made on a handle of this file's
 * own (the backup stream): the same token as every other request. */
static const char *auth_header(char *buf, size_t n) {
    const char *pw = ctl_client_token();
    if (!pw) return NULL;
    snprintf(buf, n, "Authorization: Bearer %s", pw);
    return buf;
}

static void print_json_summary(cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    if (s) puts(s);
    free(s);
    cJSON_Delete(j);
}

/* ---- streamed GET ------------------------------------------------------------------------- */

/* Receives the body of a 2xx answer; returns 0 to abort the transfer. */
typedef int (*body_fn)(void *arg, const char *p, size_t n);

typedef struct fetcher {
    ctl_ctx *ctx;
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
    /* per request */
    ctl_resp resp;          /* status, headers; body = an error answer's body */
    body_fn fn;
    void *arg;
    int checked, ok, aborted;
    ctl_progress *prog;     /* backup: bytes against Redcar-Backup-Size */
    uint64_t bytes;
} fetcher;

static size_t f_header(char *p, size_t size, size_t nmemb, void *arg) {
    fetcher *f = arg;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        rc_buf_reset(&f->resp.headers);
        return n;
    }
    size_t len = n;
    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r')) len--;
    if (len && f->resp.headers.len + len < 64 * 1024) {
        rc_buf_append(&f->resp.headers, p, len);
        rc_buf_putc(&f->resp.headers, '\n');
    }
    return n;
}

static size_t f_body(char *p, size_t size, size_t nmemb, void *arg) {
    fetcher *f = arg;
    size_t n = size * nmemb;
    if (!f->checked) {
        f->checked = 1;
        curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &f->resp.status);
        f->ok = f->resp.status >= 200 && f->resp.status < 300;
    }
    if (!f->ok) { /* an error answer: keep the start of it for the report */
        if (f->resp.body.len < 64 * 1024) rc_buf_append(&f->resp.body, p, n);
        return n;
    }
    f->bytes += n;
    if (!f->fn(f->arg, p, n)) {
        f->aborted = 1;
        return 0;
    }
    return n;
}

static int f_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    (void)dt, (void)dn, (void)ut, (void)un;
    fetcher *f = arg;
    if (f->prog) ctl_progress_update(f->prog, f->bytes);
    return interrupted ? 1 : 0;
}

static int fetcher_init(fetcher *f, ctl_ctx *ctx) {
    memset(f, 0, sizeof *f);
    f->ctx = ctx;
    ctl_resp_init(&f->resp);
    if (!(f->curl = curl_easy_init())) {
        fprintf(stderr, "redcar-ctl: cannot initialise libcurl\n");
        return CTL_EXIT_CONNECT;
    }
    return CTL_EXIT_OK;
}

static void fetcher_free(fetcher *f) {
    if (f->curl) curl_easy_cleanup(f->curl);
    ctl_resp_free(&f->resp);
}

/* GET path; the body of a 2xx answer goes to fn. idle_s: give up when
 * nothing arrives for that long (a backup's answer starts only once the
 * copy is made). Returns an exit code; problems are reported. */
static int fetch(fetcher *f, const char *path, const char *accept, long idle_s, body_fn fn,
                 void *arg) {
    rc_buf url = RC_BUF_INIT;
    char acc[128], auth[600];
    struct curl_slist *h = NULL, *t;
    CURL *c = f->curl;
    f->fn = fn;
    f->arg = arg;
    f->checked = f->ok = f->aborted = 0;
    f->bytes = 0;
    f->resp.status = 0;
    rc_buf_reset(&f->resp.body);
    rc_buf_reset(&f->resp.headers);
    snprintf(acc, sizeof acc, "Accept: %s", accept);
    const char *lines[] = {acc, auth_header(auth, sizeof auth)};
    for (size_t i = 0; i < 2 && lines[i]; i++) {
        if (!(t = curl_slist_append(h, lines[i]))) {
            curl_slist_free_all(h);
            fprintf(stderr, "redcar-ctl: out of memory\n");
            return CTL_EXIT_CONNECT;
        }
        h = t;
    }
    rc_buf_puts(&url, f->ctx->endpoint);
    rc_buf_puts(&url, path);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url.p);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "redcar-ctl/" RC_VERSION);
    ctl_client_tls_setopt(c, &f->ctx->tls);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     f->ctx->timeout_ms < 10000 ? f->ctx->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, idle_s);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, f_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, f_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, f_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
    f->errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    rc_buf_free(&url);
    if (!f->checked) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->resp.status);
    rc_buf_putc(&f->resp.body, '\0');
    f->resp.body.len--;
    if (interrupted) {
        fprintf(stderr, "redcar-ctl: interrupted\n");
        return CTL_EXIT_SERVER;
    }
    if (f->aborted) return CTL_EXIT_SERVER; /* fn said why */
    if (rc != CURLE_OK) {
        if (f->resp.status)
            fprintf(stderr, "redcar-ctl: transfer from %s: %s\n", f->ctx->endpoint,
                    f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc));
        else
            ctl_client_report_transport(f->ctx->endpoint, &f->ctx->tls, f->errbuf, (int)rc);
        return CTL_EXIT_CONNECT;
    }
    int ec = ctl_exit_for_http(f->resp.status);
    if (ec != CTL_EXIT_OK) ctl_report_problem(&f->resp);
    return ec;
}

/* ---- backup ------------------------------------------------------------------------------ */

typedef struct backup_sink {
    int fd;
    const char *path;
    fetcher *f;
    ctl_progress *prog;
    unsigned char head[16];
    size_t nhead;
    int sized;
    uint64_t unsynced;  /* bytes written since the last write-back */
} backup_sink;

static int backup_write(void *arg, const char *p, size_t n) {
    backup_sink *b = arg;
    if (!b->sized) { /* headers are complete once the body starts */
        char v[32];
        b->sized = 1;
        if (ctl_resp_header(&b->f->resp, "redcar-backup-size", v, sizeof v))
            ctl_progress_set_total(b->prog, strtoull(v, NULL, 10));
    }
    for (size_t i = 0; i < n && b->nhead < sizeof b->head; i++) b->head[b->nhead++] = (unsigned char)p[i];
    while (n) {
        ssize_t w = write(b->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "redcar-ctl: cannot write %s: %s\n", b->path, strerror(errno));
            return 0;
        }
        p += w;
        n -= (size_t)w;
        b->unsynced += (uint64_t)w;
    }
#ifdef SYNC_FILE_RANGE_WRITE
    /* Write back as it arrives: the final fsync then has little left, and
     * a server on the same disk never waits behind one large flush. */
    if (b->unsynced >= 8u * 1024 * 1024) {
        (void)sync_file_range(b->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        b->unsynced = 0;
    }
#endif
    return 1;
}

int ctl_cmd_backup(ctl_ctx *ctx, const ctl_args *a) {
    const char *file = a->pos[0];
    int quiet = ctl_opt_has(a, "quiet"), to_stdout = !strcmp(file, "-");
    rc_buf part = RC_BUF_INIT;
    fetcher f;
    ctl_progress prog;
    sigsave ss;
    int rc, fd = -1;
    struct stat sb;
    if (!to_stdout && !ctl_opt_has(a, "force") && stat(file, &sb) == 0)
        return ctl_usage_error("backup: %s exists (use --force to replace it)", file);
    if (to_stdout && isatty(STDOUT_FILENO))
        return ctl_usage_error("backup: refusing to write a database to a terminal");
    if ((rc = fetcher_init(&f, ctx)) != CTL_EXIT_OK) return rc;
    if (to_stdout) {
        fd = STDOUT_FILENO;
    } else {
        rc_buf_printf(&part, "%s.part", file);
        fd = open(part.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = ctl_usage_error("backup: cannot create %s: %s", part.p, strerror(errno));
            goto done;
        }
    }
    ctl_progress_init(&prog, "backup", CTL_UNIT_BYTES, 0, !quiet);
    f.prog = &prog;
    backup_sink b = {.fd = fd, .path = to_stdout ? "stdout" : part.p, .f = &f, .prog = &prog};
    long idle = ctx->timeout_ms / 1000 > 600 ? ctx->timeout_ms / 1000 : 600;
    catch_signals(&ss);
    rc = fetch(&f, "/backup", "application/vnd.sqlite3", idle, backup_write, &b);
    restore_signals(&ss);
    ctl_progress_done(&prog);
    if (rc != CTL_EXIT_OK) goto done;
    char v[32];
    uint64_t want = ctl_resp_header(&f.resp, "redcar-backup-size", v, sizeof v)
                        ? strtoull(v, NULL, 10) : f.bytes;
    if (f.bytes != want || b.nhead < 16 || memcmp(b.head, "SQLite format 3", 16) != 0) {
        fprintf(stderr, "redcar-ctl: backup: the server sent %" PRIu64 " bytes of %" PRIu64
                        "%s; not a complete database\n",
                f.bytes, want, b.nhead == 16 && memcmp(b.head, "SQLite format 3", 16) ? " (bad header)" : "");
        rc = CTL_EXIT_SERVER;
        goto done;
    }
    if (!to_stdout) {
        if (fsync(fd) != 0 || close(fd) != 0) {
            fd = -1;
            rc = ctl_usage_error("backup: cannot write %s: %s", part.p, strerror(errno));
            goto done;
        }
        fd = -1;
        if (rename(part.p, file) != 0) {
            rc = ctl_usage_error("backup: cannot rename %s to %s: %s", part.p, file,
                                 strerror(errno));
            goto done;
        }
    }
    double secs = ctl_progress_elapsed(&prog);
    char seq[32] = "0", events[32] = "0", size[32], rate[32];
    ctl_resp_header(&f.resp, "redcar-backup-seq", seq, sizeof seq);
    ctl_resp_header(&f.resp, "redcar-backup-events", events, sizeof events);
    if (ctx->out == CTL_OUT_JSON && !to_stdout) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", file);
        cJSON_AddNumberToObject(j, "bytes", (double)f.bytes);
        cJSON_AddNumberToObject(j, "seq", strtod(seq, NULL));
        cJSON_AddNumberToObject(j, "events", strtod(events, NULL));
        cJSON_AddNumberToObject(j, "seconds", secs);
        print_json_summary(j);
    } else if (!quiet) {
        ctl_fmt_amount(size, sizeof size, CTL_UNIT_BYTES, (double)f.bytes);
        ctl_fmt_amount(rate, sizeof rate, CTL_UNIT_BYTES, secs > 0 ? (double)f.bytes / secs : 0);
        fprintf(stderr, "backup: %s: %s events up to seq %s, %s in %.1f s (%s/s)\n",
                to_stdout ? "stdout" : file, events, seq, size, secs, rate);
    }
done:
    if (fd >= 0 && !to_stdout) close(fd);
    if (rc != CTL_EXIT_OK && part.p) unlink(part.p);
    rc_buf_free(&part);
    fetcher_free(&f);
    return rc;
}

/* ---- export ------------------------------------------------------------------------------ */

/* The seq of an exported line: the server puts it last ("...,"seq":12}"),
 * so it is read from the end; any other layout is parsed as JSON. */
static int line_seq(const char *p, size_t n, uint64_t *out) {
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\r' || p[n - 1] == '\t')) n--;
    if (n >= 8 && p[n - 1] == '}') {
        size_t e = n - 1, s = e;
        while (s > 0 && p[s - 1] >= '0' && p[s - 1] <= '9') s--;
        if (s < e && e - s <= 19 && s >= 6 && !memcmp(p + s - 6, "\"seq\":", 6)) {
            uint64_t v = 0;
            for (size_t i = s; i < e; i++) v = v * 10 + (uint64_t)(p[i] - '0');
            *out = v;
            return 1;
        }
    }
    cJSON *j = cJSON_ParseWithLength(p, n);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "seq");
    int ok = cJSON_IsNumber(s) && s->valuedouble >= 1 && s->valuedouble < 9007199254740992.0;
    if (ok) *out = (uint64_t)s->valuedouble;
    cJSON_Delete(j);
    return ok;
}

typedef struct export_sink {
    FILE *out;
    const char *name;
    rc_buf line;        /* the current (incomplete) line */
    uint64_t lines, page_lines, last;
    ctl_progress *prog;
} export_sink;

static int export_write(void *arg, const char *p, size_t n) {
    export_sink *x = arg;
    if (fwrite(p, 1, n, x->out) != n) {
        fprintf(stderr, "redcar-ctl: cannot write %s: %s\n", x->name, strerror(errno));
        return 0;
    }
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        if (x->line.len + k > MAX_LINE) {
            fprintf(stderr, "redcar-ctl: export: a line of the answer exceeds %u bytes\n", MAX_LINE);
            return 0;
        }
        rc_buf_append(&x->line, p, k);
        if (!nl) break;
        uint64_t seq;
        if (!line_seq(x->line.p ? x->line.p : "", x->line.len, &seq) || seq <= x->last) {
            fprintf(stderr, "redcar-ctl: export: the server sent an event without a seq after "
                            "%" PRIu64 ", or out of order\n", x->last);
            return 0;
        }
        x->last = seq;
        x->lines++;
        x->page_lines++;
        rc_buf_reset(&x->line);
        p += k + 1;
        n -= k + 1;
    }
    ctl_progress_update(x->prog, x->lines);
    return 1;
}

/* Head seq and event count from GET /info (the progress total). */
static void log_size(ctl_ctx *ctx, uint64_t *head, uint64_t *events) {
    ctl_resp r;
    ctl_resp_init(&r);
    ctl_req req = {.method = "GET", .path = "/info", .accept = "application/json"};
    *head = *events = 0;
    if (ctl_client_do(ctx->client, &req, &r) == CTL_EXIT_OK && r.status == 200) {
        cJSON *j = cJSON_ParseWithLength(r.body.p, r.body.len);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "seq");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "events");
        if (cJSON_IsNumber(s) && s->valuedouble >= 0) *head = (uint64_t)s->valuedouble;
        if (cJSON_IsNumber(e) && e->valuedouble >= 0) *events = (uint64_t)e->valuedouble;
        cJSON_Delete(j);
    }
    ctl_resp_free(&r);
}

int ctl_cmd_export(ctl_ctx *ctx, const ctl_args *a) {
    uint64_t from = 0;
    int rc, quiet = ctl_opt_has(a, "quiet");
    const char *file = ctl_opt_str(a, "output");
    if ((rc = ctl_opt_u64(a, "from", 1, INT64_MAX, &from)) != CTL_EXIT_OK) return rc;
    int to_stdout = !file || !strcmp(file, "-");
    FILE *out = to_stdout ? stdout : fopen(file, "wb");
    if (!out) return ctl_usage_error("export: cannot create %s: %s", file, strerror(errno));
    fetcher f;
    if ((rc = fetcher_init(&f, ctx)) != CTL_EXIT_OK) {
        if (!to_stdout) fclose(out);
        return rc;
    }
    uint64_t head, events;
    log_size(ctx, &head, &events);
    uint64_t total = from ? (head >= from ? head - from + 1 : 0) : events;
    ctl_progress prog;
    ctl_progress_init(&prog, "export", CTL_UNIT_EVENTS, total, !quiet);
    export_sink x = {.out = out, .name = to_stdout ? "stdout" : file, .prog = &prog};
    rc_buf path = RC_BUF_INIT;
    sigsave ss;
    catch_signals(&ss);
    uint64_t first = 0;
    for (;;) {
        char num[32];
        rc_buf_reset(&path);
        rc_buf_puts(&path, "/events");
        /* keyset paging: from= for the first page when asked, then after= */
        snprintf(num, sizeof num, "%" PRIu64, x.lines ? x.last : from);
        ctl_query_add(&path, x.lines || !from ? "after" : "from", num);
        snprintf(num, sizeof num, "%d", EXPORT_PAGE);
        ctl_query_add(&path, "limit", num);
        x.page_lines = 0;
        long idle = ctx->timeout_ms / 1000 > 1 ? ctx->timeout_ms / 1000 : 1;
        rc = fetch(&f, path.p, "application/x-ndjson", idle, export_write, &x);
        if (rc != CTL_EXIT_OK) break;
        if (x.line.len) {
            fprintf(stderr, "redcar-ctl: export: the answer ended inside a line\n");
            rc = CTL_EXIT_SERVER;
            break;
        }
        if (x.page_lines && !first) first = x.last - x.page_lines + 1;
        if (x.page_lines < EXPORT_PAGE) break; /* caught up with the head */
    }
    restore_signals(&ss);
    ctl_progress_done(&prog);
    if (fflush(out) != 0 && rc == CTL_EXIT_OK)
        rc = ctl_usage_error("export: cannot write %s: %s", x.name, strerror(errno));
    if (!to_stdout && fclose(out) != 0 && rc == CTL_EXIT_OK)
        rc = ctl_usage_error("export: cannot write %s: %s", file, strerror(errno));
    if (rc == CTL_EXIT_OK) {
        double secs = ctl_progress_elapsed(&prog);
        if (ctx->out == CTL_OUT_JSON && !to_stdout) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "file", file);
            cJSON_AddNumberToObject(j, "events", (double)x.lines);
            cJSON_AddNumberToObject(j, "first_seq", (double)first);
            cJSON_AddNumberToObject(j, "last_seq", (double)x.last);
            cJSON_AddNumberToObject(j, "seconds", secs);
            print_json_summary(j);
        } else if (!quiet) {
            fprintf(stderr, "export: %" PRIu64 " events (seq %" PRIu64 "..%" PRIu64 ") to %s in "
                            "%.1f s (%.0f events/s)\n",
                    x.lines, first, x.last, x.name, secs, secs > 0 ? (double)x.lines / secs : 0);
        }
    }
    rc_buf_free(&x.line);
    rc_buf_free(&path);
    fetcher_free(&f);
    return rc;
}

/* ---- import ------------------------------------------------------------------------------ */

typedef struct importer {
    ctl_ctx *ctx;
    const char *name;
    rc_buf body;           /* "[e1,e2,...": closed with ']' when sent */
    uint64_t *lineno;      /* input line of each event of the batch */
    size_t n, cap;
    uint64_t events, appended, duplicates;
    ctl_resp resp;
} importer;

/* Drop a trailing "seq" that export wrote (the server would ignore it, but
 * the store's JSON of the event should be the event as it was sent). */
static size_t strip_seq(const char *p, size_t n) {
    if (n < 9 || p[n - 1] != '}') return n;
    size_t e = n - 1, s = e;
    while (s > 0 && p[s - 1] >= '0' && p[s - 1] <= '9') s--;
    if (s == e || s < 7 || memcmp(p + s - 7, ",\"seq\":", 7) != 0) return n;
    return s - 7; /* then '}' is appended by the caller */
}

static int import_flush(importer *im) {
    if (!im->n) return CTL_EXIT_OK;
    rc_buf_putc(&im->body, ']');
    char auth[600];
    const char *hdrs[2] = {auth_header(auth, sizeof auth), NULL};
    ctl_req req = {.method = "POST", .path = "/events",
                   .ctype = "application/cloudevents-batch+json", .accept = "application/json",
                   .body = im->body.p, .body_len = im->body.len, .headers = hdrs};
    int rc = ctl_client_do(im->ctx->client, &req, &im->resp);
    if (rc != CTL_EXIT_OK) return rc;
    if (im->resp.status < 200 || im->resp.status >= 300) {
        /* A batch error names the event as "[i] ...": say which line it is. */
        cJSON *j = cJSON_ParseWithLength(im->resp.body.p, im->resp.body.len);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "detail");
        size_t i;
        if (cJSON_IsString(d) && sscanf(d->valuestring, "[%zu]", &i) == 1 && i < im->n)
            fprintf(stderr, "redcar-ctl: import: %s line %" PRIu64 " refused\n", im->name,
                    im->lineno[i]);
        else
            fprintf(stderr, "redcar-ctl: import: %s lines %" PRIu64 "-%" PRIu64 " refused\n",
                    im->name, im->lineno[0], im->lineno[im->n - 1]);
        cJSON_Delete(j);
        ctl_report_problem(&im->resp);
        return ctl_exit_for_http(im->resp.status);
    }
    cJSON *j = cJSON_ParseWithLength(im->resp.body.p, im->resp.body.len);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items"), *it;
    if (!cJSON_IsArray(items) || (size_t)cJSON_GetArraySize(items) != im->n) {
        fprintf(stderr, "redcar-ctl: import: unexpected answer to a batch of %zu events\n", im->n);
        cJSON_Delete(j);
        return CTL_EXIT_SERVER;
    }
    cJSON_ArrayForEach(it, items) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "duplicate"))) im->duplicates++;
        else im->appended++;
    }
    cJSON_Delete(j);
    im->events += im->n;
    im->n = 0;
    rc_buf_reset(&im->body);
    return CTL_EXIT_OK;
}

static int import_add(importer *im, const char *p, size_t n, uint64_t lineno) {
    if (im->n == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 64;
        uint64_t *l = realloc(im->lineno, cap * sizeof *l);
        if (!l) {
            fprintf(stderr, "redcar-ctl: out of memory\n");
            return CTL_EXIT_USAGE;
        }
        im->lineno = l;
        im->cap = cap;
    }
    rc_buf_putc(&im->body, im->n ? ',' : '[');
    size_t keep = strip_seq(p, n);
    rc_buf_append(&im->body, p, keep);
    if (keep != n) rc_buf_putc(&im->body, '}');
    im->lineno[im->n++] = lineno;
    return CTL_EXIT_OK;
}

int ctl_cmd_import(ctl_ctx *ctx, const ctl_args *a) {
    const char *file = a->pos[0];
    uint64_t batch = IMPORT_BATCH;
    int rc, quiet = ctl_opt_has(a, "quiet"), is_stdin = !strcmp(file, "-");
    if ((rc = ctl_opt_u64(a, "batch", 1, 10000, &batch)) != CTL_EXIT_OK) return rc;
    FILE *in = is_stdin ? stdin : fopen(file, "rb");
    if (!in) return ctl_usage_error("import: cannot open %s: %s", file, strerror(errno));
    struct stat sb;
    uint64_t total = fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    importer im = {.ctx = ctx, .name = is_stdin ? "stdin" : file};
    ctl_resp_init(&im.resp);
    ctl_progress prog;
    ctl_progress_init(&prog, "import", CTL_UNIT_BYTES, total, !quiet);
    sigsave ss;
    catch_signals(&ss);
    char *line = NULL;
    size_t cap = 0;
    uint64_t lineno = 0, bytes = 0;
    ssize_t len;
    rc = CTL_EXIT_OK;
    errno = 0;
    while (rc == CTL_EXIT_OK && (len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        bytes += (uint64_t)len;
        const char *p = line;
        size_t n = (size_t)len;
        while (n && strchr(" \t\r\n", p[n - 1])) n--;
        while (n && strchr(" \t\r\n", *p)) p++, n--;
        if (interrupted) {
            fprintf(stderr, "redcar-ctl: interrupted\n");
            rc = CTL_EXIT_SERVER;
            break;
        }
        if (!n) continue;
        if (*p != '{' || p[n - 1] != '}') {
            rc = ctl_usage_error("import: %s line %" PRIu64 ": not a JSON object (expected one "
                                 "structured CloudEvent per line)", im.name, lineno);
            break;
        }
        if ((rc = import_add(&im, p, n, lineno)) != CTL_EXIT_OK) break;
        if (im.n >= batch || im.body.len >= IMPORT_BATCH_BYTES) rc = import_flush(&im);
        ctl_progress_update(&prog, bytes);
    }
    if (rc == CTL_EXIT_OK && ferror(in))
        rc = ctl_usage_error("import: cannot read %s: %s", im.name, strerror(errno));
    if (rc == CTL_EXIT_OK) rc = import_flush(&im);
    restore_signals(&ss);
    ctl_progress_done(&prog);
    if (rc == CTL_EXIT_OK) {
        double secs = ctl_progress_elapsed(&prog);
        if (ctx->out == CTL_OUT_JSON) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "file", im.name);
            cJSON_AddNumberToObject(j, "events", (double)im.events);
            cJSON_AddNumberToObject(j, "appended", (double)im.appended);
            cJSON_AddNumberToObject(j, "duplicates", (double)im.duplicates);
            cJSON_AddNumberToObject(j, "seconds", secs);
            print_json_summary(j);
        } else if (!quiet) {
            fprintf(stderr, "import: %" PRIu64 " events from %s: %" PRIu64 " appended, %" PRIu64
                            " duplicates, in %.1f s (%.0f events/s)\n",
                    im.events, im.name, im.appended, im.duplicates, secs,
                    secs > 0 ? (double)im.events / secs : 0);
        }
    } else if (im.events) {
        fprintf(stderr, "redcar-ctl: import: %" PRIu64 " events were stored before the error "
                        "(a re-run skips them as duplicates)\n", im.events);
    }
    free(line);
    free(im.lineno);
    rc_buf_free(&im.body);
    ctl_resp_free(&im.resp);
    if (!is_stdin) fclose(in);
    return rc;
}
