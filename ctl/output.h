/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Printing for redcar-ctl: aligned tables (the default) and JSON.
 *
 * A table collects its rows, then prints every column padded to its widest
 * cell, so the output is both readable and easy to cut with awk. Cells are
 * sanitised: the text comes from the server, so control characters are
 * escaped (\n, \t, \xNN) and can never move the cursor or forge a row.
 * JSON output passes the server's own bytes through wherever possible, so
 * numbers and data are printed exactly as stored.
 */
#ifndef REDCAR_CTL_OUTPUT_H
#define REDCAR_CTL_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

#include "redcar/buf.h"

typedef struct ctl_table ctl_table;

/* Column titles, NULL-terminated. */
ctl_table *ctl_table_new(const char *const *titles);
void ctl_table_free(ctl_table *t);
/* Start a row; then set each cell in column order (missing cells print "-"). */
void ctl_table_row(ctl_table *t);
void ctl_table_cell(ctl_table *t, const char *text);
void ctl_table_cellf(ctl_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A cell from n bytes that may hold anything: escaped, cut at max chars ("..."). */
void ctl_table_cell_bytes(ctl_table *t, const char *p, size_t n, size_t max);
size_t ctl_table_rows(const ctl_table *t);
void ctl_table_print(const ctl_table *t, FILE *out);

/* Append n bytes to out with control characters and invalid UTF-8 escaped,
 * stopping after max output characters (appending "..."); max 0 = no cut. */
void ctl_sanitize(rc_buf *out, const char *p, size_t n, size_t max);

/* Print a JSON text the server sent, followed by a newline. */
void ctl_print_raw_json(const char *p, size_t n);

/* ---- events ------------------------------------------------------------- */
/* Table of events (columns SEQ TIME TYPE SOURCE SUBJECT ID DATA). */
ctl_table *ctl_events_table_new(void);
void ctl_events_table_add(ctl_table *t, const cJSON *ev);
/* One event as a fixed-width line, for a stream where widths are unknown. */
void ctl_event_line(FILE *out, const cJSON *ev, int header);

/* cJSON helpers: a member as text ("-" when absent) into buf. */
const char *ctl_json_text(const cJSON *obj, const char *name, char *buf, size_t buflen);

#endif
