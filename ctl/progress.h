/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Progress of a long redcar-ctl operation (backup, export, import) on a
 * terminal: one line on stderr redrawn in place, with done/total, rate and
 * ETA, at most ~10 times a second. It is only drawn when stderr is a
 * terminal and the command was not asked to be quiet, so scripts and pipes
 * see nothing but the final summary line.
 */
#ifndef REDCAR_CTL_PROGRESS_H
#define REDCAR_CTL_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { CTL_UNIT_BYTES, CTL_UNIT_EVENTS } ctl_unit;

typedef struct ctl_progress {
    FILE *out;           /* NULL: draw nothing */
    const char *label;
    ctl_unit unit;
    uint64_t total;      /* 0 = unknown */
    uint64_t done;
    double t0, last_draw;
    int drawn;           /* a line is on screen */
} ctl_progress;

/* enabled: draw at all (callers pass !quiet); the line also needs stderr
 * to be a terminal. */
void ctl_progress_init(ctl_progress *p, const char *label, ctl_unit unit, uint64_t total,
                       int enabled);
/* Record progress; redraws when 100 ms passed since the last draw. */
void ctl_progress_update(ctl_progress *p, uint64_t done);
void ctl_progress_set_total(ctl_progress *p, uint64_t total);
/* Erase the line (before the summary is printed). */
void ctl_progress_done(ctl_progress *p);
/* Seconds since init. */
double ctl_progress_elapsed(const ctl_progress *p);

/* Pure formatting (tests): the line for done/total after `secs`, fitting
 * in `width` columns. */
void ctl_progress_format(char *out, size_t outlen, const char *label, ctl_unit unit,
                         uint64_t done, uint64_t total, double secs, int width);
/* "12.3 MB", "1.0 GB", "512 B" / "12,345" style amounts. */
void ctl_fmt_amount(char *out, size_t outlen, ctl_unit unit, double v);

#endif
