/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the config-file parser (rc_config_load_string) on arbitrary
 * bytes. Properties, beyond "no crash, no leak, bounded memory":
 *  - success or failure, an error always carries a message naming the input
 *    and, for a line error, the line ("fuzz:N: ...");
 *  - every setting read back with rc_config_get, written as a config line
 *    (double-quoted, escaped) and fed to a fresh config, parses to the same
 *    text and, for numeric settings, the same number: what CONFIG GET shows
 *    can always be pasted back into a config file;
 *  - rc_config_each with a glob taken from the input only yields settings
 *    that rc_config_get knows.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/config.h"

#define VAL_MAX 8192

/* Names of the numeric settings: rc_config_int aborts on the others. */
static const char *const numeric[] = {
    "protected-mode",     "maxclients",          "http-max-body",
    "http-timeout",       "http-threads",        "sse-heartbeat",
    "proto-max-bulk-len", "proto-max-multibulk", "client-query-buffer-limit",
    "client-output-buffer-limit-pubsub",         "max-batch",
    "max-event-size",
};

static int is_numeric(const char *name) {
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++)
        if (!strcmp(numeric[i], name)) return 1;
    return 0;
}

/* `name "value"` with the escapes the parser understands (\" \\ \n). */
static size_t config_line(char *out, size_t cap, const char *name, const char *v) {
    size_t n = (size_t)snprintf(out, cap, "%s \"", name);
    for (; *v && n + 4 < cap; v++) {
        if (*v == '"' || *v == '\\') out[n++] = '\\', out[n++] = *v;
        else if (*v == '\n') out[n++] = '\\', out[n++] = 'n';
        else out[n++] = *v;
    }
    out[n++] = '"';
    out[n++] = '\n';
    return n;
}

typedef struct {
    rc_config *cfg;
    rc_config *again;
    char *line;
    char *back;
} roundtrip;

static void check_one(void *arg, const char *name, const char *value) {
    roundtrip *rt = arg;
    char now[VAL_MAX];
    if (rc_config_get(rt->cfg, name, now, sizeof now) != RC_OK) abort(); /* each yielded an unknown name */
    /* rc_config_each formats into 512 bytes; compare what fits. */
    if (strncmp(now, value, strlen(value))) abort();
    size_t n = config_line(rt->line, 2 * VAL_MAX + 64, name, now);
    rc_err err;
    rc_err_clear(&err);
    if (rc_config_load_string(rt->again, rt->line, n, "roundtrip", &err) != RC_OK) {
        fprintf(stderr, "round trip of %s = [%s] failed: %s\n", name, now, err.msg);
        abort();
    }
    if (rc_config_get(rt->again, name, rt->back, VAL_MAX) != RC_OK || strcmp(rt->back, now)) {
        fprintf(stderr, "round trip of %s: [%s] came back as [%s]\n", name, now, rt->back);
        abort();
    }
    if (is_numeric(name) && rc_config_int(rt->again, name) != rc_config_int(rt->cfg, name)) {
        fprintf(stderr, "round trip of %s: number differs\n", name);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rc_config *cfg = rc_config_new();
    if (!cfg) return 0;
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_config_load_string(cfg, (const char *)data, size, "fuzz", &err);
    if (rc != RC_OK && (strncmp(err.msg, "fuzz:", 5) || err.code != rc)) {
        fprintf(stderr, "error without a location: %d [%s]\n", rc, err.msg);
        abort();
    }

    roundtrip rt = {cfg, rc_config_new(), malloc(2 * VAL_MAX + 64), malloc(VAL_MAX)};
    if (rt.again && rt.line && rt.back) {
        rc_config_each(cfg, NULL, check_one, &rt);
        /* A glob from the input: the first line, at most 63 bytes. */
        char glob[64];
        size_t g = 0;
        while (g < size && g < sizeof glob - 1 && data[g] != '\n' && data[g]) {
            glob[g] = (char)data[g];
            g++;
        }
        glob[g] = '\0';
        rc_config_each(cfg, glob, check_one, &rt);
    }
    free(rt.line);
    free(rt.back);
    rc_config_free(rt.again);
    rc_config_free(cfg);
    return 0;
}
