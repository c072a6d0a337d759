/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The progress line of redcar-ctl (see progress.h). Drawn with '\r' and an
 * erase-to-end-of-line, sized to the terminal's width, throttled to 10 Hz
 * so that a fast import is not slowed down by its own display.
 */
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ctl_fmt_amount(char *out, size_t outlen, ctl_unit unit, double v) {
    if (unit == CTL_UNIT_BYTES) {
        static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
        int u = 0;
        while (v >= 1000.0 && u < 4) v /= 1000.0, u++;
        snprintf(out, outlen, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    } else if (v >= 1e6) {
        snprintf(out, outlen, "%.2fM", v / 1e6);
    } else if (v >= 1e4) {
        snprintf(out, outlen, "%.1fk", v / 1e3);
    } else {
        snprintf(out, outlen, "%.0f", v);
    }
}

static void fmt_eta(char *out, size_t outlen, double s) {
    if (!(s >= 0) || s > 99 * 3600.0) {
        snprintf(out, outlen, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, outlen, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(out, outlen, "%ld:%02ld", t / 60, t % 60);
}

void ctl_progress_format(char *out, size_t outlen, const char *label, ctl_unit unit,
                         uint64_t done, uint64_t total, double secs, int width) {
    char d[32], t[32], r[32], eta[32], tail[160];
    const char *per = unit == CTL_UNIT_BYTES ? "/s" : " ev/s";
    double rate = secs > 0.05 ? (double)done / secs : 0;
    ctl_fmt_amount(d, sizeof d, unit, (double)done);
    ctl_fmt_amount(r, sizeof r, unit, rate);
    if (total) {
        uint64_t shown = done > total ? total : done;
        ctl_fmt_amount(t, sizeof t, unit, (double)total);
        fmt_eta(eta, sizeof eta, rate > 0 ? (double)(total - shown) / rate : -1);
        snprintf(tail, sizeof tail, " %3d%% %s/%s  %s%s  ETA %s",
                 (int)((double)shown * 100.0 / (double)total), d, t, r, per, eta);
    } else {
        snprintf(tail, sizeof tail, " %s  %s%s", d, r, per);
    }
    /* label [#####.....] tail; the bar takes what the width leaves. */
    int fixed = (int)strlen(label) + (int)strlen(tail) + 3;
    int bar = width - fixed - 1;
    if (bar > 40) bar = 40;
    if (!total || bar < 5) {
        snprintf(out, outlen, "%s%s", label, tail);
        return;
    }
    int fill = (int)((double)(done > total ? total : done) * bar / (double)total);
    char b[48];
    for (int i = 0; i < bar; i++) b[i] = i < fill ? '#' : '.';
    b[bar] = '\0';
    snprintf(out, outlen, "%s [%s]%s", label, b, tail);
}

void ctl_progress_init(ctl_progress *p, const char *label, ctl_unit unit, uint64_t total,
                       int enabled) {
    memset(p, 0, sizeof p[0]);
    p->out = enabled && isatty(STDERR_FILENO) ? stderr : NULL;
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->t0 = now_s();
}

void ctl_progress_set_total(ctl_progress *p, uint64_t total) { p->total = total; }

double ctl_progress_elapsed(const ctl_progress *p) { return now_s() - p->t0; }

static int term_width(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    return 80;
}

void ctl_progress_update(ctl_progress *p, uint64_t done) {
    p->done = done;
    if (!p->out) return;
    double t = now_s();
    if (p->drawn && t - p->last_draw < 0.1) return;
    p->last_draw = t;
    char line[256];
    ctl_progress_format(line, sizeof line, p->label, p->unit, done, p->total, t - p->t0,
                        term_width());
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
    p->drawn = 1;
}

void ctl_progress_done(ctl_progress *p) {
    if (!p->out || !p->drawn) return;
    fputs("\r\033[K", p->out);
    fflush(p->out);
    p->drawn = 0;
}
