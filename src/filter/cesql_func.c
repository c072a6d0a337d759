/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CESQL v1 built-in functions (3.5): the table the parser dispatches on by
 * name and arity, and their implementations.
 *
 * Arguments arrive already evaluated, present (a missing attribute never
 * reaches a function: the call returns its zero value) and cast to the
 * parameter types of the table. Strings are counted and indexed in Unicode
 * code points; an invalid UTF-8 byte counts as one character and is copied
 * through unchanged. LOWER/UPPER use the C.UTF-8 locale's simple case
 * mapping when the C library has it, ASCII otherwise; TRIM removes the
 * Unicode White_Space characters.
 */
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "filter/cesql_int.h"

/* Result slice s[from, from+n) of args[k]: borrow it, taking args[k]'s
 * buffer along when it owns one. */
static void slice(val *out, val *arg, size_t from, size_t n) {
    const char *s = arg->s + from;
    free(out->own);
    out->own = arg->own;
    arg->own = NULL;
    out->type = T_STRING;
    out->s = s;
    out->len = n;
}

static char *alloc_str(ectx *c, size_t n) {
    if (n > RC__CESQL_MAX_BYTES) {
        rc__charge(c, RC__CESQL_MAX_STEPS + 1);
        return NULL;
    }
    char *p = malloc(n + 1);
    if (!p) {
        rc__cesql_err(c, RC_CESQL_ERR_GENERIC);
        c->failfast = 1;
    }
    return p;
}

/* ---- strings -------------------------------------------------------------- */

static void f_length(ectx *c, val *a, size_t n, val *out) {
    (void)c, (void)n;
    size_t k = rc__utf8_count(a[0].s, a[0].len);
    rc__val_int(out, k > INT32_MAX ? INT32_MAX : (int32_t)k);
}

static void concat(ectx *c, const val *sep, val *a, size_t n, val *out) {
    size_t total = 0;
    for (size_t k = 0; k < n; k++) total += a[k].len + (k && sep ? sep->len : 0);
    char *p = alloc_str(c, total);
    if (!p) {
        rc__val_zero(out, T_STRING);
        return;
    }
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        if (k && sep) {
            memcpy(p + at, sep->s, sep->len);
            at += sep->len;
        }
        memcpy(p + at, a[k].s, a[k].len);
        at += a[k].len;
    }
    p[at] = '\0';
    rc__val_str_own(c, out, p, at);
}

static void f_concat(ectx *c, val *a, size_t n, val *out) {
    concat(c, NULL, a, n, out);
}

static void f_concat_ws(ectx *c, val *a, size_t n, val *out) {
    concat(c, &a[0], a + 1, n - 1, out);
}

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void) {
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static size_t utf8_put(char *p, uint32_t cp) {
    if (cp < 0x80) return p[0] = (char)cp, 1;
    if (cp < 0x800) {
        p[0] = (char)(0xC0 | (cp >> 6));
        p[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xE0 | (cp >> 12));
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    p[0] = (char)(0xF0 | (cp >> 18));
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t map_case(uint32_t cp, int upper) {
    if (cp < 0x80) {
        if (upper && cp >= 'a' && cp <= 'z') return cp - 32;
        if (!upper && cp >= 'A' && cp <= 'Z') return cp + 32;
        return cp;
    }
    if (!utf8_locale) return cp;
    wint_t m = upper ? towupper_l((wint_t)cp, utf8_locale) : towlower_l((wint_t)cp, utf8_locale);
    /* keep the mapping only if it is a valid scalar value */
    if (m > 0x10FFFF || (m >= 0xD800 && m <= 0xDFFF)) return cp;
    return (uint32_t)m;
}

static void change_case(ectx *c, val *a, val *out, int upper) {
    pthread_once(&utf8_once, utf8_init);
    /* a simple case mapping never needs more than 4 bytes per character,
     * and never more than 2x for a character of 2+ bytes */
    size_t cap = a[0].len * 2;
    char *p = alloc_str(c, cap);
    if (!p) {
        rc__val_zero(out, T_STRING);
        return;
    }
    const unsigned char *s = (const unsigned char *)a[0].s;
    size_t i = 0, at = 0, n = a[0].len;
    while (i < n) {
        uint32_t cp;
        size_t l = rc__utf8_next(s + i, n - i, &cp);
        if (cp == UINT32_MAX) {
            p[at++] = (char)s[i];
        } else {
            char enc[4];
            size_t el = utf8_put(enc, map_case(cp, upper));
            if (at + el > cap) el = 0; /* cannot happen (see above); stay in bounds */
            memcpy(p + at, enc, el);
            at += el;
        }
        i += l;
    }
    p[at] = '\0';
    rc__val_str_own(c, out, p, at);
}

static void f_lower(ectx *c, val *a, size_t n, val *out) {
    (void)n;
    change_case(c, a, out, 0);
}

static void f_upper(ectx *c, val *a, size_t n, val *out) {
    (void)n;
    change_case(c, a, out, 1);
}

/* Unicode White_Space (PropList.txt). */
static int is_unicode_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

static void f_trim(ectx *c, val *a, size_t n, val *out) {
    (void)c, (void)n;
    const unsigned char *s = (const unsigned char *)a[0].s;
    size_t len = a[0].len, from = 0, to = 0, i = 0;
    int seen = 0;
    while (i < len) {
        uint32_t cp;
        size_t l = rc__utf8_next(s + i, len - i, &cp);
        if (!is_unicode_space(cp)) {
            if (!seen) from = i;
            seen = 1;
            to = i + l;
        }
        i += l;
    }
    slice(out, &a[0], from, seen ? to - from : 0);
}

static void f_left_right(ectx *c, val *a, val *out, int right) {
    int32_t y = a[1].i;
    if (y < 0) {
        rc__cesql_err(c, RC_CESQL_ERR_FUNC_EVAL);
        slice(out, &a[0], 0, a[0].len);
        return;
    }
    size_t chars = rc__utf8_count(a[0].s, a[0].len);
    if ((size_t)y >= chars) {
        slice(out, &a[0], 0, a[0].len);
        return;
    }
    if (!right) {
        slice(out, &a[0], 0, rc__utf8_offset(a[0].s, a[0].len, (size_t)y));
    } else {
        size_t from = rc__utf8_offset(a[0].s, a[0].len, chars - (size_t)y);
        slice(out, &a[0], from, a[0].len - from);
    }
}

static void f_left(ectx *c, val *a, size_t n, val *out) {
    (void)n;
    f_left_right(c, a, out, 0);
}

static void f_right(ectx *c, val *a, size_t n, val *out) {
    (void)n;
    f_left_right(c, a, out, 1);
}

/* SUBSTRING(x, pos [, len]): 1-based pos, negative from the end, 0 gives "". */
static void f_substring(ectx *c, val *a, size_t n, val *out) {
    int64_t pos = a[1].i;
    size_t chars = rc__utf8_count(a[0].s, a[0].len);
    int64_t total = (int64_t)chars;
    if (pos > total || pos < -total || (n == 3 && a[2].i < 0)) {
        rc__cesql_err(c, RC_CESQL_ERR_FUNC_EVAL);
        rc__val_zero(out, T_STRING);
        return;
    }
    if (pos == 0) {
        rc__val_zero(out, T_STRING);
        return;
    }
    size_t start = (size_t)(pos > 0 ? pos - 1 : total + pos);
    size_t count = chars - start;
    if (n == 3 && (size_t)a[2].i < count) count = (size_t)a[2].i;
    size_t from = rc__utf8_offset(a[0].s, a[0].len, start);
    size_t to = from + rc__utf8_offset(a[0].s + from, a[0].len - from, count);
    slice(out, &a[0], from, to - from);
}

/* ---- integers and casts ------------------------------------------------------ */

static void f_abs(ectx *c, val *a, size_t n, val *out) {
    (void)n;
    if (a[0].i == INT32_MIN) {
        rc__cesql_err(c, RC_CESQL_ERR_MATH);
        rc__val_int(out, INT32_MAX);
        return;
    }
    rc__val_int(out, a[0].i < 0 ? -a[0].i : a[0].i);
}

static void cast_to(ectx *c, val *a, val *out, int type) {
    rc__cast(c, &a[0], type);
    rc__val_free(out);
    *out = a[0];
    a[0].own = NULL;
}

static void f_int(ectx *c, val *a, size_t n, val *out) {
    (void)n;
    cast_to(c, a, out, T_INT);
}

static void f_bool(ectx *c, val *a, size_t n, val *out) {
    (void)n;
    cast_to(c, a, out, T_BOOL);
}

static void f_string(ectx *c, val *a, size_t n, val *out) {
    (void)n;
    cast_to(c, a, out, T_STRING);
}

static void f_is_bool(ectx *c, val *a, size_t n, val *out) {
    (void)c, (void)n;
    rc__val_bool(out, rc__castable(&a[0], T_BOOL));
}

static void f_is_int(ectx *c, val *a, size_t n, val *out) {
    (void)c, (void)n;
    rc__val_bool(out, rc__castable(&a[0], T_INT));
}

/* ---- the table ---------------------------------------------------------------- */

#define S T_STRING
#define I T_INT
#define B T_BOOL
#define A T_ANY

static const fn_def functions[] = {
    /* name         min max ret params      impl */
    {"LENGTH",      1,  1,  I, {S, S, S}, f_length},
    {"CONCAT",      0,  -1, S, {S, S, S}, f_concat},
    {"CONCAT_WS",   1,  -1, S, {S, S, S}, f_concat_ws},
    {"LOWER",       1,  1,  S, {S, S, S}, f_lower},
    {"UPPER",       1,  1,  S, {S, S, S}, f_upper},
    {"TRIM",        1,  1,  S, {S, S, S}, f_trim},
    {"LEFT",        2,  2,  S, {S, I, I}, f_left},
    {"RIGHT",       2,  2,  S, {S, I, I}, f_right},
    {"SUBSTRING",   2,  2,  S, {S, I, I}, f_substring},
    {"SUBSTRING",   3,  3,  S, {S, I, I}, f_substring},
    {"ABS",         1,  1,  I, {I, I, I}, f_abs},
    {"INT",         1,  1,  I, {A, A, A}, f_int},
    {"BOOL",        1,  1,  B, {A, A, A}, f_bool},
    {"STRING",      1,  1,  S, {A, A, A}, f_string},
    {"IS_BOOL",     1,  1,  B, {A, A, A}, f_is_bool},
    {"IS_INT",      1,  1,  B, {A, A, A}, f_is_int},
};

#undef S
#undef I
#undef B
#undef A

const fn_def *rc__cesql_fn_find(const char *name, size_t n, int *name_known) {
    *name_known = 0;
    for (size_t k = 0; k < sizeof functions / sizeof functions[0]; k++) {
        const fn_def *f = &functions[k];
        if (strcmp(f->name, name)) continue;
        *name_known = 1;
        if (n >= (size_t)f->min_args && (f->max_args < 0 || n <= (size_t)f->max_args)) return f;
    }
    return NULL;
}
