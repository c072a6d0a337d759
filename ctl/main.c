/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redcar-ctl entry point: global options, the command table, argument
 * parsing and dispatch. Nothing here talks HTTP or prints results.
 *
 * Two argument orders are accepted, because both are documented:
 *   redcar-ctl [GLOBAL] COMMAND [ARGS] [OPTIONS]       conventional
 *   redcar-ctl [GLOBAL] "KEY VALUE" COMMAND [OPTIONS]  legacy (etcdctl-like)
 * In the legacy order the operands come before the verb; a single operand
 * holding whitespace is split at its first run of whitespace, so
 * `"foo bar" put` means `put foo bar` and `"foo zzz" range` means
 * `range foo zzz`. Options may appear anywhere after the command; `--`
 * ends them (so a value may begin with '-').
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd_admin.h"
#include "ctl.h"

#define DEFAULT_ENDPOINT "http://127.0.0.1:8519"

static int cmd_help(ctl_ctx *ctx, const ctl_args *a);

static const ctl_opt no_opts[] = {{0}};

static const ctl_opt global_opts[] = {
    {"endpoint", 'e', 1, "URL",
     "server address (env REDCAR_ENDPOINT; default " DEFAULT_ENDPOINT ")"},
    {"write-out", 'w', 1, "FORMAT", "output format: table (default) or json"},
    {"timeout", 0, 1, "SECONDS", "limit for each request (default 30; tail: connect only)"},
    {"cacert", 0, 1, "FILE", "https: trust the CAs in this PEM file, not the system's (env REDCAR_CACERT)"},
    {"insecure", 'k', 0, NULL, "https: do not verify the server's certificate (testing only)"},
    {"cert", 0, 1, "FILE", "https: client certificate (PEM) for servers that ask (env REDCAR_CERT)"},
    {"key", 0, 1, "FILE", "https: private key (PEM) of --cert, if not in its file (env REDCAR_KEY)"},
    {"help", 'h', 0, NULL, "show help (also after a command: redcar-ctl put --help)"},
    {"version", 0, 0, NULL, "print the version and exit"},
    {0}};

/* The command table: name, handler, options, operand bounds, usage, summary,
 * help. Dispatch, operand checks and every help text come from here. */
static const ctl_cmd commands[] = {
    {"put", ctl_cmd_put, ctl_put_opts, 1, 2, "KEY [VALUE]", "store VALUE under KEY",
     "The value is VALUE, or the contents of --file (\"-\" = stdin).\n"
     "Prints the key, the log position of the write and the key's version."},
    {"get", ctl_cmd_get, ctl_get_opts, 1, 1, "KEY", "print the value of KEY",
     "Prints the raw value (with -w json: the value and its metadata).\n"
     "Exit code 2 when the key does not exist."},
    {"range", ctl_cmd_range, ctl_range_opts, 1, 2, "KEY [END]",
     "list keys: KEY, [KEY, END) or --prefix",
     "range KEY          the key KEY (exit code 2 when absent)\n"
     "range KEY END      keys in [KEY, END)\n"
     "range KEY --prefix keys starting with KEY"},
    {"del", ctl_cmd_del, ctl_del_opts, 1, 1, "KEY", "delete KEY",
     "Exit code 2 when the key does not exist."},
    {"history", ctl_cmd_history, ctl_history_opts, 1, 1, "KEY",
     "list the io.redcar.kv.* events of KEY, oldest first", NULL},
    {"emit", ctl_cmd_emit, ctl_emit_opts, 0, 0, "",
     "append a CloudEvent (from flags, or a JSON file/stdin with -f)",
     "From flags: --type is required; --id defaults to a random UUID, --source to\n"
     "/redcar-ctl and --time to now. --data is the data as given (JSON when it parses\n"
     "and the content type is JSON or unset, else text); --data-file reads bytes.\n"
     "With -f FILE|-: a structured event (JSON object) or a batch (JSON array),\n"
     "sent as is. Prints the sequence number(s) and whether the event was a\n"
     "duplicate (same source and id: nothing appended). --expect-seq SEQ appends\n"
     "only if the latest event of the subject is SEQ, 0 meaning none yet (exit\n"
     "code 3 otherwise)."},
    {"events", ctl_cmd_events, ctl_events_opts, 0, 0, "", "list stored events (filters, paging)",
     "Prints one page (default 100 events); --all follows the next-page links.\n"
     "With -w json: one JSON array of CloudEvents (each carries its \"seq\")."},
    {"tail", ctl_cmd_tail, ctl_tail_opts, 0, 0, "", "follow new events as they arrive (SSE)",
     "Follows /events/stream, printing each event as it arrives (with -w json: one\n"
     "CloudEvent per line). Starts at the head, or at --from SEQ to replay first.\n"
     "Reconnects with Last-Event-ID when the connection drops; stops on Ctrl-C\n"
     "(exit code 0) or after --count events."},
    {"info", ctl_cmd_info, ctl_info_opts, 0, 0, "", "show server information and health", NULL},
    {"cursor", ctl_cmd_cursor, ctl_consumer_opts, 1, -1, "SUBCOMMAND [NAME] [SEQ...]",
     "durable cursors: create|list|get|delete|fetch|ack|pending",
     "cursor create NAME [--start POS] [filters]   a named position in the log\n"
     "cursor list | get NAME | delete NAME        with lag and pending counts\n"
     "cursor fetch NAME [--limit N] [--wait MS]   the events after the cursor\n"
     "cursor ack NAME SEQ                         move the cursor to SEQ (cumulative)\n"
     "cursor pending NAME                         events fetched, not yet acknowledged\n"
     "POS: beginning (default), end, seq:N, time:RFC3339. Filters: --type, --source,\n"
     "--subject, --subject-prefix, --filters JSON. With -w json, fetch prints one\n"
     "CloudEvent per line (with seq and deliverycount)."},
    {"group", ctl_cmd_group, ctl_consumer_opts, 1, -1, "SUBCOMMAND [NAME] [SEQ...]",
     "consumer groups: create|list|get|delete|fetch|ack|nack|pending|claim",
     "group create NAME [--ack-wait MS] [--max-deliver N] [--start POS] [filters]\n"
     "group fetch NAME -m MEMBER [--limit N] [--wait MS]   lease events to MEMBER\n"
     "group ack NAME -m MEMBER SEQ...                      finish events\n"
     "group nack NAME -m MEMBER [--delay MS] SEQ...        hand them out again later\n"
     "group pending NAME [-m MEMBER]                       leases, deliveries, idle times\n"
     "group claim NAME -m MEMBER [--min-idle MS] [--count N]  take over idle events\n"
     "An event not acknowledged within --ack-wait goes to the next member that\n"
     "fetches; after --max-deliver deliveries it becomes an io.redcar.deadletter\n"
     "event in the log."},
    {"sub", ctl_cmd_sub, ctl_sub_opts, 1, -1, "SUBCOMMAND [SINK|ID]",
     "push subscriptions (webhooks): create|list|get|delete",
     "sub create SINK [filters] [--header NAME:VALUE]... [delivery options]\n"
     "                      POST each matching event to the URL SINK (binary mode)\n"
     "sub list | get ID    with the delivery position, lag and dead letters\n"
     "sub delete ID        stop delivering and forget the subscription\n"
     "Filters: --type, --source, --subject (exact), --subject-prefix, --filters JSON\n"
     "(Subscriptions API expressions, all must match). Delivery: --start POS (end by\n"
     "default), --max-attempts, --attempt-timeout, --backoff-base, --backoff-max;\n"
     "429, 5xx and timeouts are retried, then the event is dead-lettered."},
    {"backup", ctl_cmd_backup, ctl_backup_opts, 1, 1, "FILE",
     "save a consistent copy of the whole store (while writes continue)",
     "Downloads GET /backup: an SQLite database with the log, the KV view and the\n"
     "consumers as of one moment, taken without pausing writers. FILE (\"-\" = stdout)\n"
     "appears only once complete and checked. To restore, start a redcar on a\n"
     "new data directory holding the file as redcar.db:\n"
     "  mkdir restored && cp FILE restored/redcar.db && redcar -d restored\n"
     "If the server needs a token, set REDCAR_TOKEN. A progress line is shown\n"
     "on a terminal; otherwise only the summary (nothing with -q)."},
    {"export", ctl_cmd_export, ctl_export_opts, 0, 0, "",
     "write the log as NDJSON (one structured CloudEvent per line, with its seq)",
     "Pages through GET /events until it catches up with the head. The output can\n"
     "be given back to `import` (on this or another server)."},
    {"import", ctl_cmd_import, ctl_import_opts, 1, 1, "FILE|-",
     "append the events of an NDJSON file (as written by export), in batches",
     "Events keep their source, id and time; `seq` is dropped (the store assigns it,\n"
     "so into an empty store the seqs come out the same). Re-running an import is\n"
     "harmless: events already stored are answered as duplicates and counted.\n"
     "Stops at the first refused batch (exit code 4), naming the line."},
    {"help", cmd_help, no_opts, 0, 1, "[COMMAND]", "show help for a command", NULL},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static const ctl_cmd *find_command(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* ---- help --------------------------------------------------------------- */

static void print_opts(FILE *f, const ctl_opt *opts) {
    for (const ctl_opt *o = opts; o->name; o++) {
        char left[64], sh[8] = "    ";
        if (o->short_name) snprintf(sh, sizeof sh, "-%c, ", o->short_name);
        snprintf(left, sizeof left, "%s--%s%s%s", sh, o->name, o->has_arg ? " " : "",
                 o->has_arg ? o->arg : "");
        fprintf(f, "  %-28s %s\n", left, o->help);
    }
}

static void print_exit_codes(FILE *f) {
    fputs("Exit codes:\n", f);
#define CTL__EXITHELP(name, code, text) fprintf(f, "  %d  %s\n", code, text);
    CTL_EXIT_MAP(CTL__EXITHELP)
#undef CTL__EXITHELP
}

static void print_environment(FILE *f) {
    fputs("Environment:\n"
          "  REDCAR_ENDPOINT   server address when -e is not given\n"
          "  REDCAR_TOKEN      bearer token sent with every request: NAME:PASSWORD of a\n"
          "                    server user, or the server's requirepass\n"
          "  REDCAR_PASSWORD   older name of REDCAR_TOKEN (used when it is unset)\n"
          "  REDCAR_CACERT     CA certificate file when --cacert is not given\n"
          "  REDCAR_CERT       client certificate file when --cert is not given\n"
          "  REDCAR_KEY        its private key file (with REDCAR_CERT, not with --cert)\n\n",
          f);
}

static void print_global_help(FILE *f) {
    fputs("redcar-ctl: command-line client of the Redcar event store\n\n"
          "Usage: redcar-ctl [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]\n"
          "       redcar-ctl [GLOBAL OPTIONS] \"KEY [VALUE]\" COMMAND [OPTIONS]"
          "   (etcdctl order)\n\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", commands[i].name, commands[i].usage);
        fprintf(f, "  %-20s %s\n", left, commands[i].summary);
    }
    fputs("\nGlobal options:\n", f);
    print_opts(f, global_opts);
    fputs("\nExamples:\n"
          "  redcar-ctl -e http://127.0.0.1:8519 \"foo bar\" put\n"
          "  redcar-ctl -e http://127.0.0.1:8519 \"foo\" range\n"
          "  redcar-ctl range foo --prefix -w json\n"
          "  redcar-ctl emit --type com.example.order --source /shop --data '{\"n\":1}'\n"
          "  redcar-ctl tail --type com.example.order\n"
          "  redcar-ctl -e https://redcar.internal:8443 --cacert ca.pem info\n"
          "  redcar-ctl -e https://redcar.internal:8443 --cacert ca.pem --cert me.crt --key me.key info\n\n",
          f);
    print_environment(f);
    print_exit_codes(f);
}

static void print_command_help(FILE *f, const ctl_cmd *c) {
    fprintf(f, "Usage: redcar-ctl [GLOBAL OPTIONS] %s%s%s [OPTIONS]\n\n%s%s.\n", c->name,
            c->usage[0] ? " " : "", c->usage, "", c->summary);
    if (c->help) fprintf(f, "\n%s\n", c->help);
    if (c->opts[0].name) {
        fputs("\nOptions:\n", f);
        print_opts(f, c->opts);
    }
    fputs("\nGlobal options (before or after the command):\n", f);
    print_opts(f, global_opts);
    fputc('\n', f);
    print_environment(f);
    print_exit_codes(f);
}

static int cmd_help(ctl_ctx *ctx, const ctl_args *a) {
    (void)ctx;
    if (a->npos == 0) {
        print_global_help(stdout);
        return CTL_EXIT_OK;
    }
    const ctl_cmd *c = find_command(a->pos[0]);
    if (!c) return ctl_usage_error("unknown command '%s' (see redcar-ctl --help)", a->pos[0]);
    print_command_help(stdout, c);
    return CTL_EXIT_OK;
}

/* ---- option lookups ----------------------------------------------------- */

int ctl_usage_error(const char *fmt, ...) {
    va_list ap;
    fputs("redcar-ctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CTL_EXIT_USAGE;
}

const char *ctl_opt_str(const ctl_args *a, const char *name) {
    const char *v = NULL;
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->opt[i].opt->name, name) == 0) v = a->opt[i].val;
    return v;
}

int ctl_opt_has(const ctl_args *a, const char *name) {
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->opt[i].opt->name, name) == 0) return 1;
    return 0;
}

int ctl_opt_u64(const ctl_args *a, const char *name, uint64_t min, uint64_t max, uint64_t *out) {
    const char *s = ctl_opt_str(a, name);
    if (!s) return CTL_EXIT_OK;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end || errno || v < min || v > max)
        return ctl_usage_error("--%s: expected an integer in [%llu, %llu], got '%s'", name,
                               (unsigned long long)min, (unsigned long long)max, s);
    *out = v;
    return CTL_EXIT_OK;
}

int ctl_read_file(const char *path, size_t max, rc_buf *out) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return ctl_usage_error("cannot open %s: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    int rc = CTL_EXIT_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (out->len + n > max) {
            rc = ctl_usage_error("%s: larger than %zu bytes", is_stdin ? "stdin" : path, max);
            break;
        }
        rc_buf_append(out, chunk, n);
    }
    if (rc == CTL_EXIT_OK && ferror(f))
        rc = ctl_usage_error("cannot read %s: %s", is_stdin ? "stdin" : path, strerror(errno));
    if (!is_stdin) fclose(f);
    rc_buf_putc(out, '\0');
    out->len--;
    return rc;
}

/* ---- parsing ------------------------------------------------------------ */

static const ctl_opt *find_opt(const ctl_opt *opts, const char *name, size_t len, char short_name) {
    for (const ctl_opt *o = opts; o && o->name; o++) {
        if (short_name ? o->short_name == short_name
                       : strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static int is_option(const char *s) { return s[0] == '-' && s[1] != '\0'; }

/* Parse one option at argv[*i] against the command's and the global tables.
 * Advances *i past a separate value. */
static int parse_option(ctl_args *a, const ctl_opt *cmd_opts, int argc, char **argv, int *i) {
    const char *arg = argv[*i];
    const ctl_opt *o;
    const char *val = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        o = find_opt(cmd_opts, name, len, 0);
        if (!o) o = find_opt(global_opts, name, len, 0);
        if (!o) return ctl_usage_error("unknown option '--%.*s'", (int)len, name);
        if (eq && !o->has_arg) return ctl_usage_error("option '--%s' takes no value", o->name);
        if (eq) val = eq + 1;
    } else {
        o = find_opt(cmd_opts, NULL, 0, arg[1]);
        if (!o) o = find_opt(global_opts, NULL, 0, arg[1]);
        if (!o) return ctl_usage_error("unknown option '-%c'", arg[1]);
        if (arg[2]) {
            if (!o->has_arg) return ctl_usage_error("option '-%c' takes no value", arg[1]);
            val = arg + 2;
        }
    }
    if (o->has_arg && !val) {
        if (*i + 1 >= argc)
            return ctl_usage_error("option '--%s' needs a value (%s)", o->name, o->arg);
        val = argv[++*i];
    }
    if (a->nopt >= CTL_MAX_ARGS) return ctl_usage_error("too many options");
    a->opt[a->nopt].opt = o;
    a->opt[a->nopt].val = val;
    a->nopt++;
    return CTL_EXIT_OK;
}

static int add_pos(ctl_args *a, const char *s) {
    if (a->npos >= CTL_MAX_ARGS) return ctl_usage_error("too many arguments");
    a->pos[a->npos++] = s;
    return CTL_EXIT_OK;
}

/* Legacy operands before the verb: one operand with whitespace is split. */
static int add_legacy_operands(ctl_args *a, char **ops, int n) {
    if (n == 1 && strpbrk(ops[0], " \t")) {
        a->owned = strdup(ops[0]);
        if (!a->owned) return ctl_usage_error("out of memory");
        char *rest = a->owned + strcspn(a->owned, " \t");
        *rest++ = '\0';
        rest += strspn(rest, " \t");
        int rc = add_pos(a, a->owned);
        if (rc == CTL_EXIT_OK && *rest) rc = add_pos(a, rest);
        return rc;
    }
    for (int k = 0; k < n; k++) {
        int rc = add_pos(a, ops[k]);
        if (rc != CTL_EXIT_OK) return rc;
    }
    return CTL_EXIT_OK;
}

/* Locate the command and fill args. Returns an exit code; *cmd may stay
 * NULL when only global options were given. */
static int parse_command_line(int argc, char **argv, const ctl_cmd **cmd, ctl_args *a) {
    int i = 1;
    /* Global options before the command. */
    while (i < argc && is_option(argv[i]) && strcmp(argv[i], "--") != 0) {
        int rc = parse_option(a, no_opts, argc, argv, &i);
        if (rc != CTL_EXIT_OK) return rc;
        i++;
    }
    if (i < argc && strcmp(argv[i], "--") == 0) i++;
    if (i >= argc) return CTL_EXIT_OK;
    *cmd = find_command(argv[i]);
    int rest = i + 1;
    if (!*cmd) {
        /* Legacy order: operands, then the verb. */
        int j = i;
        while (j < argc && !is_option(argv[j]) && !find_command(argv[j])) j++;
        if (j >= argc || is_option(argv[j]))
            return ctl_usage_error("unknown command '%s' (see redcar-ctl --help)", argv[i]);
        *cmd = find_command(argv[j]);
        int rc = add_legacy_operands(a, argv + i, j - i);
        if (rc != CTL_EXIT_OK) return rc;
        rest = j + 1;
    }
    int only_pos = 0;
    for (i = rest; i < argc; i++) {
        int rc;
        if (!only_pos && strcmp(argv[i], "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && is_option(argv[i])) rc = parse_option(a, (*cmd)->opts, argc, argv, &i);
        else rc = add_pos(a, argv[i]);
        if (rc != CTL_EXIT_OK) return rc;
    }
    return CTL_EXIT_OK;
}

/* Read the start of a PEM file named by `from` into buf (NUL-terminated).
 * A usage error when it cannot be read. */
static int read_pem(const char *from, const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return ctl_usage_error("%s: cannot open %s: %s", from, path, strerror(errno));
    size_t n = fread(buf, 1, cap - 1, f);
    int bad = ferror(f);
    int e = errno;
    fclose(f);
    if (bad) return ctl_usage_error("%s: cannot read %s: %s", from, path, strerror(e));
    buf[n] = '\0';
    return CTL_EXIT_OK;
}

/* 1 when text has a "-----BEGIN [RSA |EC ]PRIVATE KEY-----" line. */
static int has_key_block(const char *text) {
    static const char tail[] = "PRIVATE KEY-----";
    for (const char *p = strstr(text, "-----BEGIN "); p; p = strstr(p + 1, "-----BEGIN ")) {
        size_t len = strcspn(p, "\r\n");
        if (len >= 11 + sizeof tail - 1 && !strncmp(p + len - (sizeof tail - 1), tail, sizeof tail - 1))
            return 1;
    }
    return 0;
}

/* Checks the client certificate and key files before any connection, so
 * that a wrong file is a usage error naming the option, not a handshake
 * failure that would blame the server. Only the shape is checked (PEM
 * blocks of the right kind); whether the key is the certificate's is left
 * to the TLS library. An encrypted key is refused: OpenSSL would prompt for
 * its pass phrase on the terminal, which a script cannot answer. */
static int check_client_pem(const char *cfrom, const char *cert, const char *kfrom, const char *key) {
    static char buf[256 * 1024]; /* a certificate chain and a key fit well within this */
    int rc = read_pem(cfrom, cert, buf, sizeof buf);
    if (rc != CTL_EXIT_OK) return rc;
    if (!strstr(buf, "-----BEGIN CERTIFICATE-----"))
        return ctl_usage_error("%s: %s is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)",
                               cfrom, cert);
    if (key && (rc = read_pem(kfrom, key, buf, sizeof buf)) != CTL_EXIT_OK) return rc;
    const char *where = key ? key : cert;
    if (strstr(buf, "-----BEGIN ENCRYPTED PRIVATE KEY-----") || strstr(buf, "Proc-Type: 4,ENCRYPTED"))
        return ctl_usage_error("%s: the key in %s is encrypted; give it without a pass phrase "
                               "(openssl pkey -in KEY -out PLAIN.key)", key ? kfrom : cfrom, where);
    if (!has_key_block(buf)) {
        if (key)
            return ctl_usage_error("%s: %s is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- "
                                   "line)", kfrom, key);
        return ctl_usage_error("%s: %s holds no private key; name its key file with %s",
                               cfrom, cert, cfrom[0] == '-' ? "--key FILE" : "REDCAR_KEY");
    }
    return CTL_EXIT_OK;
}

/* --cert/--key, else REDCAR_CERT/REDCAR_KEY. The pair comes from one place:
 * a --cert on the command line never takes the environment's key, which
 * belongs to the environment's certificate. */
static int parse_client_cert(const ctl_args *a, ctl_tls *tls) {
    const char *cert = ctl_opt_str(a, "cert"), *key = ctl_opt_str(a, "key");
    const char *cfrom = "--cert", *kfrom = "--key";
    if (key && !cert) return ctl_usage_error("--key: needs --cert FILE (the certificate of the key)");
    if (cert && !cert[0]) return ctl_usage_error("--cert: expected a file name");
    if (key && !key[0]) return ctl_usage_error("--key: expected a file name");
    if (!cert) {
        cert = getenv("REDCAR_CERT");
        key = getenv("REDCAR_KEY");
        cfrom = "REDCAR_CERT";
        kfrom = "REDCAR_KEY";
        if (cert && !cert[0]) cert = NULL;
        if (key && !key[0]) key = NULL;
        if (key && !cert) return ctl_usage_error("REDCAR_KEY: set, but REDCAR_CERT (its certificate) is not");
    }
    if (!cert) return CTL_EXIT_OK;
    int rc = check_client_pem(cfrom, cert, kfrom, key);
    if (rc != CTL_EXIT_OK) return rc;
    tls->cert = cert;
    tls->key = key;
    return CTL_EXIT_OK;
}

/* --cacert / REDCAR_CACERT, --insecure and the client certificate. A file
 * that cannot be read is a usage error here rather than a TLS failure
 * later, which would blame the connection. */
static int parse_tls(const ctl_args *a, const char *endpoint, ctl_tls *tls) {
    const char *ca = ctl_opt_str(a, "cacert");
    const char *from = "--cacert";
    if (!ca) {
        ca = getenv("REDCAR_CACERT");
        from = "REDCAR_CACERT";
    }
    if (ca && ca[0]) {
        FILE *f = fopen(ca, "rb");
        if (!f) return ctl_usage_error("%s: cannot open %s: %s", from, ca, strerror(errno));
        fclose(f);
        tls->cacert = ca;
    } else if (ca && from[0] == '-') {
        return ctl_usage_error("--cacert: expected a file name");
    }
    int rc = parse_client_cert(a, tls);
    if (rc != CTL_EXIT_OK) return rc;
    tls->insecure = ctl_opt_has(a, "insecure");
    if (tls->insecure && strncmp(endpoint, "https://", 8) == 0)
        fputs("redcar-ctl: warning: --insecure: the server's TLS certificate is not verified; "
              "anyone on the path can read and change this session\n",
              stderr);
    return CTL_EXIT_OK;
}

static int parse_timeout(const char *s, long *ms) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!s[0] || *end || errno || !(v > 0) || v > 86400)
        return ctl_usage_error("--timeout: expected seconds in (0, 86400], got '%s'", s);
    *ms = (long)(v * 1000);
    if (*ms < 1) *ms = 1;
    return CTL_EXIT_OK;
}

int main(int argc, char **argv) {
    ctl_args args;
    const ctl_cmd *cmd = NULL;
    rc_buf endpoint = RC_BUF_INIT;
    ctl_ctx ctx = {.out = CTL_OUT_TABLE, .timeout_ms = 30000};
    memset(&args, 0, sizeof args);

    int rc = parse_command_line(argc, argv, &cmd, &args);
    if (rc != CTL_EXIT_OK) goto done;
    if (ctl_opt_has(&args, "version")) {
        printf("redcar-ctl %s\n", RC_VERSION);
        goto done;
    }
    if (ctl_opt_has(&args, "help")) {
        if (cmd) print_command_help(stdout, cmd);
        else print_global_help(stdout);
        goto done;
    }
    if (!cmd) {
        print_global_help(stderr);
        rc = CTL_EXIT_USAGE;
        goto done;
    }
    if (args.npos < cmd->min_pos || (cmd->max_pos >= 0 && args.npos > cmd->max_pos)) {
        rc = ctl_usage_error("%s: expected %s%s (see redcar-ctl %s --help)", cmd->name,
                             cmd->usage[0] ? cmd->usage : "no arguments",
                             args.npos > cmd->max_pos ? ", got extra arguments" : "", cmd->name);
        goto done;
    }

    const char *w = ctl_opt_str(&args, "write-out");
    if (w && strcmp(w, "json") == 0) ctx.out = CTL_OUT_JSON;
    else if (w && strcmp(w, "table") != 0) {
        rc = ctl_usage_error("--write-out: expected table or json, got '%s'", w);
        goto done;
    }
    const char *t = ctl_opt_str(&args, "timeout");
    if (t && (rc = parse_timeout(t, &ctx.timeout_ms)) != CTL_EXIT_OK) goto done;

    const char *ep = ctl_opt_str(&args, "endpoint");
    if (!ep) ep = getenv("REDCAR_ENDPOINT");
    if (!ep || !ep[0]) ep = DEFAULT_ENDPOINT;
    if (!strstr(ep, "://")) rc_buf_puts(&endpoint, "http://"); /* "host:port" */
    else if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
        rc = ctl_usage_error("--endpoint: expected an http:// or https:// URL, got '%s'", ep);
        goto done;
    }
    rc_buf_puts(&endpoint, ep);
    while (endpoint.len > 0 && endpoint.p[endpoint.len - 1] == '/')
        endpoint.p[--endpoint.len] = '\0';
    ctx.endpoint = endpoint.p;
    if ((rc = parse_tls(&args, ctx.endpoint, &ctx.tls)) != CTL_EXIT_OK) goto done;

    ctx.client = ctl_client_new(ctx.endpoint, ctx.timeout_ms, &ctx.tls);
    if (!ctx.client) {
        fprintf(stderr, "redcar-ctl: cannot initialise libcurl\n");
        rc = CTL_EXIT_CONNECT;
        goto done;
    }
    rc = cmd->handler(&ctx, &args);

done:
    ctl_client_free(ctx.client);
    rc_buf_free(&endpoint);
    free(args.owned);
    return rc;
}
