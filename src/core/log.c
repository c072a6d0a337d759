/* SPDX-License-Identifier: Apache-2.0 */
/* Logger: one formatted line, one write(2), so threads never interleave. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "redcar/log.h"
#include "redcar/status.h"

static int log_fd = 2;
static int log_owned;
static int log_json;
static rc_log_level log_min = RC_LOG_INFO;
static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

int rc_log_open(const char *target, rc_log_level level, int json) {
    int fd;
    if (!target || !strcmp(target, "stderr")) fd = 2;
    else if (!strcmp(target, "stdout")) fd = 1;
    else if ((fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) return RC_IO;
    rc_log_close();
    log_fd = fd;
    log_owned = fd > 2;
    log_min = level;
    log_json = json;
    return RC_OK;
}

void rc_log_close(void) {
    if (log_owned) close(log_fd);
    log_fd = 2;
    log_owned = 0;
}

int rc_log_level_parse(const char *s, rc_log_level *out) {
    for (int i = 0; i <= RC_LOG_OFF; i++) {
        if (!strcasecmp(s, names[i]) || (i == RC_LOG_WARN && !strcasecmp(s, "warning"))) {
            *out = (rc_log_level)i;
            return RC_OK;
        }
    }
    return RC_INVALID;
}

int rc_log_enabled(rc_log_level level) { return level >= log_min && log_min != RC_LOG_OFF; }

void rc_log(rc_log_level level, const char *module, const char *fmt, ...) {
    if (!rc_log_enabled(level)) return;
    char msg[1024], line[1400], ts[40];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t k = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + k, sizeof ts - k, ".%03dZ", (int)(tv.tv_usec / 1000));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int n;
    if (log_json) {
        /* Escape the message for JSON: quotes, backslashes, control bytes. */
        char esc[sizeof msg * 2];
        size_t j = 0;
        for (const char *p = msg; *p && j + 7 < sizeof esc; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '"' || c == '\\') { esc[j++] = '\\'; esc[j++] = (char)c; }
            else if (c < 0x20) j += (size_t)snprintf(esc + j, sizeof esc - j, "\\u%04x", c);
            else esc[j++] = (char)c;
        }
        esc[j] = '\0';
        n = snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"msg\":\"%s\"}\n",
                     ts, names[level], module, esc);
    } else {
        n = snprintf(line, sizeof line, "%s %s %s: %s\n", ts, names[level], module, msg);
    }
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}
