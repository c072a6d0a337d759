/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redcar-ctl: shared definitions of the command-line client.
 *
 * The program is a thin translator from a command line to the HTTP API
 * (see ctl/README.md): main.c parses arguments against the command table,
 * a command handler (cmd_*.c) builds one or more requests through the client
 * (client.c, libcurl), and output.c prints the answer as a table or JSON.
 * Every handler returns one of the documented exit codes, which scripts rely
 * on, so the codes below are part of the interface and never change meaning.
 *
 * Trust boundary: everything the server sends is untrusted. It is parsed
 * with bounds, and text printed to a terminal is stripped of control
 * characters (output.c).
 */
#ifndef REDCAR_CTL_H
#define REDCAR_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/buf.h"
#include "redcar/status.h"

/* Exit codes (documented in --help and ctl/README.md). */
#define CTL_EXIT_MAP(X)                                                     \
    X(OK, 0, "success")                                                     \
    X(USAGE, 1, "usage error (bad command, option, argument or file)")          \
    X(NOT_FOUND, 2, "not found (HTTP 404)")                                 \
    X(CONFLICT, 3, "conflict, e.g. --expect-seq did not match (HTTP 409)")  \
    X(SERVER, 4, "refused by the server or invalid (other 4xx/5xx; detail on stderr)") \
    X(CONNECT, 5, "cannot connect to the server (the connection or TLS failed)")

enum {
#define CTL__EXIT(name, code, text) CTL_EXIT_##name = code,
    CTL_EXIT_MAP(CTL__EXIT)
#undef CTL__EXIT
};

typedef enum { CTL_OUT_TABLE, CTL_OUT_JSON } ctl_out_format;

typedef struct ctl_client ctl_client;

/* One command-line option of a command (or of the program). */
typedef struct ctl_opt {
    const char *name;    /* long name without "--" */
    char short_name;     /* 0 when none */
    int has_arg;         /* 1: takes a value */
    const char *arg;     /* the value's name in help, e.g. "SEQ" */
    const char *help;
} ctl_opt;

#define CTL_MAX_ARGS 256

/* The parsed command line of one command: positional operands in order, and
 * every option occurrence in order (repeatable options such as --ext keep
 * all of theirs). Strings point into argv or into `owned`. */
typedef struct ctl_args {
    const char *pos[CTL_MAX_ARGS];
    int npos;
    struct {
        const ctl_opt *opt;
        const char *val; /* NULL for a flag */
    } opt[CTL_MAX_ARGS];
    int nopt;
    char *owned;         /* legacy form: the split "key value" operand */
} ctl_args;

/* How an https endpoint's certificate is checked, and the certificate this
 * client shows (servers with tls-auth-clients yes or optional ask for one). */
typedef struct ctl_tls {
    const char *cacert; /* PEM file of the CAs to trust instead of the system's; NULL: system */
    int insecure;       /* 1: no verification of the certificate or the host name */
    const char *cert;   /* PEM client certificate (chain); NULL: none */
    const char *key;    /* PEM private key of cert; NULL: in the cert file */
} ctl_tls;

/* What every handler gets: the connection and the output settings. */
typedef struct ctl_ctx {
    const char *endpoint; /* "http://127.0.0.1:8519", no trailing slash */
    ctl_out_format out;
    long timeout_ms;
    ctl_tls tls;
    ctl_client *client;
} ctl_ctx;

typedef int (*ctl_handler)(ctl_ctx *ctx, const ctl_args *args);

typedef struct ctl_cmd {
    const char *name;
    ctl_handler handler;
    const ctl_opt *opts;  /* terminated by an entry with name == NULL */
    int min_pos, max_pos; /* operand count bounds; max -1 = unbounded */
    const char *usage;    /* operands, e.g. "KEY [VALUE]" */
    const char *summary;  /* one line */
    const char *help;     /* longer text for `CMD --help`, may be NULL */
} ctl_cmd;

/* ---- option lookups (main.c) -------------------------------------------- */
/* Last value given for option `name`, or NULL when absent. */
const char *ctl_opt_str(const ctl_args *a, const char *name);
/* 1 when the flag or option was given at least once. */
int ctl_opt_has(const ctl_args *a, const char *name);
/* Parse option `name` as an unsigned integer in [min, max]. Returns
 * CTL_EXIT_OK (with *out set, or left alone when absent) or CTL_EXIT_USAGE
 * after printing an error. */
int ctl_opt_u64(const ctl_args *a, const char *name, uint64_t min, uint64_t max, uint64_t *out);
/* Print an error prefixed with "redcar-ctl: " to stderr; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- command families (cmd_*.c) ----------------------------------------- */
extern const ctl_opt ctl_put_opts[], ctl_get_opts[], ctl_del_opts[], ctl_range_opts[],
    ctl_history_opts[], ctl_emit_opts[], ctl_events_opts[], ctl_tail_opts[], ctl_info_opts[];
int ctl_cmd_put(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_get(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_del(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_range(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_history(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_emit(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_events(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_tail(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_info(ctl_ctx *ctx, const ctl_args *a);
/* cmd_consumer.c: durable consumers (cursor, group, tail --cursor). */
extern const ctl_opt ctl_consumer_opts[];
int ctl_cmd_cursor(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_group(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_tail_cursor(ctl_ctx *ctx, const ctl_args *a);
/* cmd_sub.c: push subscriptions (webhooks). */
extern const ctl_opt ctl_sub_opts[];
int ctl_cmd_sub(ctl_ctx *ctx, const ctl_args *a);

/* Read a whole file ("-" = stdin) into out. CTL_EXIT_OK or CTL_EXIT_USAGE
 * after printing why. Caps the size at max bytes. */
int ctl_read_file(const char *path, size_t max, rc_buf *out);

#endif
