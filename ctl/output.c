/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tables and JSON printing for redcar-ctl (see output.h). Widths count code
 * points, which is right for the ASCII and most of the text an event store
 * holds; wide characters only misalign, they never corrupt.
 */
#include "output.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DATA_MAX 40 /* characters of data shown in an event table */

struct ctl_table {
    size_t ncols;
    char **cells;   /* row-major, ncols per row; row 0 = titles */
    size_t nrows;   /* including the title row */
    size_t cap;     /* rows allocated */
    size_t filled;  /* cells set in the current row */
};

ctl_table *ctl_table_new(const char *const *titles) {
    ctl_table *t = calloc(1, sizeof *t);
    if (!t) abort();
    while (titles[t->ncols]) t->ncols++;
    ctl_table_row(t);
    for (size_t i = 0; i < t->ncols; i++) ctl_table_cell(t, titles[i]);
    return t;
}

void ctl_table_free(ctl_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    free(t);
}

void ctl_table_row(ctl_table *t) {
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
        if (!c) abort();
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) t->cells[t->nrows * t->ncols + i] = NULL;
    t->nrows++;
    t->filled = 0;
}

static void set_cell(ctl_table *t, char *s) {
    if (t->nrows == 0 || t->filled >= t->ncols) {
        free(s); /* more cells than columns: a programming error, kept harmless */
        return;
    }
    t->cells[(t->nrows - 1) * t->ncols + t->filled++] = s;
}

void ctl_table_cell_bytes(ctl_table *t, const char *p, size_t n, size_t max) {
    rc_buf b = RC_BUF_INIT;
    ctl_sanitize(&b, p ? p : "", p ? n : 0, max);
    rc_buf_putc(&b, '\0');
    set_cell(t, rc_buf_detach(&b, NULL));
}

void ctl_table_cell(ctl_table *t, const char *text) {
    ctl_table_cell_bytes(t, text ? text : "-", strlen(text ? text : "-"), 0);
}

void ctl_table_cellf(ctl_table *t, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ctl_table_cell(t, tmp);
}

size_t ctl_table_rows(const ctl_table *t) { return t->nrows - 1; }

static size_t width(const char *s) {
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

void ctl_table_print(const ctl_table *t, FILE *out) {
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w) abort();
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t cw = width(s ? s : "-");
            if (cw > w[c]) w[c] = cw;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            if (!s) s = "-";
            fputs(s, out);
            if (c + 1 < t->ncols)
                for (size_t pad = width(s); pad < w[c] + 2; pad++) fputc(' ', out);
        }
        fputc('\n', out);
    }
    free(w);
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

void ctl_sanitize(rc_buf *out, const char *p, size_t n, size_t max) {
    const unsigned char *s = (const unsigned char *)p;
    size_t chars = 0;
    for (size_t i = 0; i < n;) {
        if (max && chars >= max) {
            rc_buf_puts(out, "...");
            return;
        }
        unsigned char c = s[i];
        size_t l = utf8_len(s + i, n - i);
        if (c == '\n') rc_buf_puts(out, "\\n");
        else if (c == '\t') rc_buf_puts(out, "\\t");
        else if (c == '\r') rc_buf_puts(out, "\\r");
        else if (c < 0x20 || c == 0x7F || l == 0) rc_buf_printf(out, "\\x%02X", c);
        else {
            rc_buf_append(out, s + i, l);
            i += l;
            chars++;
            continue;
        }
        i++;
        chars++;
    }
}

void ctl_print_raw_json(const char *p, size_t n) {
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ')) n--;
    fwrite(p, 1, n, stdout);
    fputc('\n', stdout);
}

/* ---- events ------------------------------------------------------------- */

const char *ctl_json_text(const cJSON *obj, const char *name, char *buf, size_t buflen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(long long)d)
            snprintf(buf, buflen, "%lld", (long long)d);
        else
            snprintf(buf, buflen, "%.17g", d);
        return buf;
    }
    return NULL;
}

/* The data of an event, shortened for a table cell. */
static void data_cell(ctl_table *t, const cJSON *ev) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "data");
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(ev, "data_base64");
    if (cJSON_IsString(d)) {
        ctl_table_cell_bytes(t, d->valuestring, strlen(d->valuestring), DATA_MAX);
    } else if (d) {
        char *s = cJSON_PrintUnformatted(d);
        ctl_table_cell_bytes(t, s ? s : "?", s ? strlen(s) : 1, DATA_MAX);
        free(s);
    } else if (cJSON_IsString(b64)) {
        rc_buf b = RC_BUF_INIT;
        rc_buf_puts(&b, "base64:");
        rc_buf_puts(&b, b64->valuestring);
        ctl_table_cell_bytes(t, b.p, b.len, DATA_MAX);
        rc_buf_free(&b);
    } else {
        ctl_table_cell(t, "-");
    }
}

static const char *const event_cols[] = {"SEQ", "TIME", "TYPE", "SOURCE", "SUBJECT", "ID", "DATA",
                                         NULL};

ctl_table *ctl_events_table_new(void) { return ctl_table_new(event_cols); }

void ctl_events_table_add(ctl_table *t, const cJSON *ev) {
    static const char *const attrs[] = {"seq", "time", "type", "source", "subject", "id"};
    char tmp[64];
    ctl_table_row(t);
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++)
        ctl_table_cell(t, ctl_json_text(ev, attrs[i], tmp, sizeof tmp));
    data_cell(t, ev);
}

void ctl_event_line(FILE *out, const cJSON *ev, int header) {
    /* A one-row table printed with minimum widths, so successive lines of
     * ordinary events line up without knowing the rows to come. */
    static const int minw[] = {6, 24, 20, 16, 12, 12, 0};
    ctl_table *t = ctl_events_table_new();
    if (ev) ctl_events_table_add(t, ev);
    for (size_t r = header ? 0 : 1; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            if (!s) s = "-";
            fputs(s, out);
            size_t target = (size_t)minw[c] > width(s) ? (size_t)minw[c] : width(s);
            if (c + 1 < t->ncols)
                for (size_t pad = width(s); pad < target + 2; pad++) fputc(' ', out);
        }
        fputc('\n', out);
    }
    ctl_table_free(t);
}
