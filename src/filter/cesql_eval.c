/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CESQL v1 evaluator: values, the implicit casts of 3.7, operators, LIKE,
 * IN, EXISTS, attribute lookup, and the filter verdict.
 *
 * Total by construction: every operator returns a value of its type, and an
 * error (3.3) is recorded next to it, never thrown. An absent attribute
 * evaluates to "missing"; the operator or function that consumes it returns
 * its zero value (3.2), so `missing / 0` is 0 with a MissingAttributeError
 * and no MathError. AND and OR short-circuit (3.4.2).
 *
 * Bounded: recursion follows the tree (depth <= RC_CESQL_MAX_DEPTH), and
 * every node, LIKE step and byte of string produced is charged to a budget;
 * a spent budget is a GenericError that stops the evaluation, so a hostile
 * expression over a large attribute costs milliseconds, not minutes.
 * Read-only over the tree and the event: safe from any number of threads.
 */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/cesql_int.h"

/* Context attributes resolve through the event module's own table. */
int rc__cesql_context_index(const char *name) { return rc_event_attr_index(name); }

static const char *context_value(const rc_event *ev, int field) { return rc_event_attr_at(ev, field); }

const char *rc_cesql_error_name(int e) {
    static const char *const names[] = {
#define RC__CESQL_NAME(name, str) str,
        RC_CESQL_ERROR_MAP(RC__CESQL_NAME)
#undef RC__CESQL_NAME
    };
    if (e < 0 || (size_t)e >= sizeof names / sizeof names[0]) return "unknown";
    return names[e];
}

/* ---- UTF-8 --------------------------------------------------------------- */

size_t rc__utf8_next(const unsigned char *p, size_t n, uint32_t *cp) {
    unsigned char c = p[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = UINT32_MAX;
        return 1;
    }
    if (len > n) {
        *cp = UINT32_MAX;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = UINT32_MAX;
            return 1;
        }
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = UINT32_MAX;
        return 1;
    }
    *cp = v;
    return len;
}

size_t rc__utf8_count(const char *s, size_t n) {
    size_t i = 0, k = 0;
    uint32_t cp;
    while (i < n) {
        i += rc__utf8_next((const unsigned char *)s + i, n - i, &cp);
        k++;
    }
    return k;
}

size_t rc__utf8_offset(const char *s, size_t n, size_t k) {
    size_t i = 0;
    uint32_t cp;
    while (k-- && i < n) i += rc__utf8_next((const unsigned char *)s + i, n - i, &cp);
    return i;
}

/* ---- values ---------------------------------------------------------------- */

void rc__cesql_err(ectx *c, int e) {
    if (!c->err) c->err = e;
    c->count++;
}

int rc__charge(ectx *c, uint64_t steps) {
    c->steps += steps;
    if (c->steps <= RC__CESQL_MAX_STEPS) return 1;
    /* the budget is spent: the result is an error whatever comes next */
    rc__cesql_err(c, RC_CESQL_ERR_GENERIC);
    c->failfast = 1;
    return 0;
}

void rc__val_free(val *v) {
    free(v->own);
    v->own = NULL;
}

void rc__val_bool(val *v, int b) {
    rc__val_free(v);
    v->type = T_BOOL;
    v->b = !!b;
}

void rc__val_int(val *v, int32_t i) {
    rc__val_free(v);
    v->type = T_INT;
    v->i = i;
}

void rc__val_str_borrow(val *v, const char *s, size_t n) {
    /* v->own stays: s may point into it */
    v->type = T_STRING;
    v->s = s;
    v->len = n;
}

void rc__val_str_own(ectx *c, val *v, char *p, size_t n) {
    rc__val_free(v);
    v->type = T_STRING;
    v->own = p;
    v->s = p ? p : "";
    v->len = p ? n : 0;
    if (!p) {
        rc__cesql_err(c, RC_CESQL_ERR_GENERIC);
        c->failfast = 1;
        return;
    }
    c->bytes += n;
    if (c->bytes > RC__CESQL_MAX_BYTES) rc__charge(c, RC__CESQL_MAX_STEPS + 1);
}

void rc__val_zero(val *v, int type) {
    rc__val_free(v);
    v->type = type == T_INT || type == T_STRING ? type : T_BOOL;
    v->b = 0;
    v->i = 0;
    v->s = "";
    v->len = 0;
}

/* String -> Integer (3.7): optional sign, base-10 digits, int32 range. */
static int parse_int32(const char *s, size_t n, int32_t *out) {
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i == n) return 0;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t)INT32_MAX + 1) return 0;
    }
    if (neg) v = -v;
    if (v < INT32_MIN || v > INT32_MAX) return 0;
    *out = (int32_t)v;
    return 1;
}

/* String -> Boolean (3.7): "true" or "false" in any case. */
static int parse_bool(const char *s, size_t n, int *out) {
    if (n == 4 && !strncasecmp(s, "true", 4)) return *out = 1, 1;
    if (n == 5 && !strncasecmp(s, "false", 5)) return *out = 0, 1;
    return 0;
}

int rc__castable(const val *v, int type) {
    int32_t i;
    int b;
    if (v->type != T_STRING || type == T_STRING) return 1;
    return type == T_INT ? parse_int32(v->s, v->len, &i) : parse_bool(v->s, v->len, &b);
}

void rc__cast(ectx *c, val *v, int type) {
    if (v->type == type) return;
    switch (type) {
    case T_STRING:
        if (v->type == T_BOOL) {
            rc__val_str_borrow(v, v->b ? "true" : "false", v->b ? 4 : 5);
        } else {
            char *p = malloc(12);
            size_t n = 0;
            if (p) {
                /* base 10, no leading zeros, '-' for negatives */
                char tmp[12];
                int64_t x = v->i;
                int neg = x < 0;
                if (neg) x = -x;
                do tmp[n++] = (char)('0' + x % 10);
                while ((x /= 10));
                size_t k = 0;
                if (neg) p[k++] = '-';
                while (n) p[k++] = tmp[--n];
                p[k] = '\0';
                n = k;
            }
            rc__val_str_own(c, v, p, n);
        }
        return;
    case T_INT:
        if (v->type == T_BOOL) {
            rc__val_int(v, v->b);
        } else {
            int32_t i = 0;
            if (!parse_int32(v->s, v->len, &i)) rc__cesql_err(c, RC_CESQL_ERR_CAST);
            rc__val_int(v, i);
        }
        return;
    default:
        if (v->type == T_INT) {
            rc__val_bool(v, v->i != 0);
        } else {
            int b = 0;
            if (!parse_bool(v->s, v->len, &b)) rc__cesql_err(c, RC_CESQL_ERR_CAST);
            rc__val_bool(v, b);
        }
        return;
    }
}

/* ---- LIKE ------------------------------------------------------------------ */

enum { P_PERCENT, P_ONE, P_BYTE };

/* The pattern token at p[i]: '%', '_', or one literal byte (\% \_ \\ are
 * literal; a backslash before anything else is itself literal). */
static size_t pat_token(const char *p, size_t n, size_t i, int *kind, char *byte) {
    char ch = p[i];
    if (ch == '%') return *kind = P_PERCENT, i + 1;
    if (ch == '_') return *kind = P_ONE, i + 1;
    if (ch == '\\' && i + 1 < n && (p[i + 1] == '%' || p[i + 1] == '_' || p[i + 1] == '\\')) {
        *kind = P_BYTE;
        *byte = p[i + 1];
        return i + 2;
    }
    *kind = P_BYTE;
    *byte = ch;
    return i + 1;
}

/* Wildcard match with backtracking to the last '%' only: O(len(s) x
 * len(p)) at worst, each step charged to the budget. */
static int like_match(ectx *c, const char *s, size_t sn, const char *p, size_t pn) {
    size_t si = 0, pi = 0, star_p = SIZE_MAX, star_s = 0;
    uint32_t cp;
    int kind;
    char byte;
    while (si < sn) {
        if ((si & 63) == 0 && !rc__charge(c, 64)) return 0;
        if (pi < pn) {
            size_t np = pat_token(p, pn, pi, &kind, &byte);
            if (kind == P_PERCENT) {
                star_p = pi = np;
                star_s = si;
                continue;
            }
            if (kind == P_ONE) {
                si += rc__utf8_next((const unsigned char *)s + si, sn - si, &cp);
                pi = np;
                continue;
            }
            if (s[si] == byte) {
                si++;
                pi = np;
                continue;
            }
        }
        if (star_p == SIZE_MAX) return 0;
        star_s += rc__utf8_next((const unsigned char *)s + star_s, sn - star_s, &cp);
        si = star_s;
        pi = star_p;
        if (!rc__charge(c, 1)) return 0;
    }
    while (pi < pn) {
        size_t np = pat_token(p, pn, pi, &kind, &byte);
        if (kind != P_PERCENT) return 0;
        pi = np;
    }
    return 1;
}

/* ---- operators ------------------------------------------------------------- */

/* How errors flow (3.2, 3.3 and the TCK's expected results): a node that
 * raises an error returns the value its definition gives (5 / 0 is 0,
 * ABS(-2147483648) is 2147483647, LEFT('abc', -2) is 'abc', a failed
 * implicit cast makes the operator return its zero value); a node whose
 * operand carries an error returns its own zero value without computing,
 * exactly as for a missing attribute. So `true AND (1 != 1 / 0)` is false,
 * and an error anywhere below makes the filter verdict false. */

static void eval_node(ectx *c, const node *x, val *out);

static int op_result(int op) {
    return op <= OP_SUB ? T_INT : T_BOOL;
}

static int values_equal(const val *a, const val *b) {
    switch (a->type) {
    case T_BOOL: return a->b == b->b;
    case T_INT: return a->i == b->i;
    default: return a->len == b->len && !memcmp(a->s, b->s, a->len);
    }
}

/* Cast as an operator does: 0 (and the zero value) when it failed. */
static int op_cast(ectx *c, val *v, int type) {
    unsigned before = c->count;
    rc__cast(c, v, type);
    return c->count == before;
}

/* l op r for two clean operands; the result replaces l, r is freed. */
static void binop_apply(ectx *c, int op, val *l, val *r) {
    int ok;
    if (op <= OP_SUB) {
        ok = op_cast(c, l, T_INT) & op_cast(c, r, T_INT);
        int64_t a = l->i, b = r->i, v = 0;
        if (ok) {
            switch (op) {
            case OP_MUL: v = a * b; break;
            case OP_ADD: v = a + b; break;
            case OP_SUB: v = a - b; break;
            default:
                /* truncated division: C99's / and % already are */
                if (b == 0) rc__cesql_err(c, RC_CESQL_ERR_MATH);
                else v = op == OP_DIV ? a / b : a % b;
                break;
            }
            if (v < INT32_MIN || v > INT32_MAX) {
                rc__cesql_err(c, RC_CESQL_ERR_MATH);
                v = 0;
            }
        }
        rc__val_int(l, (int32_t)v);
    } else if (op == OP_EQ || op == OP_NE || op == OP_LG) {
        /* ambiguous (3.7): the right operand's type picks the definition */
        ok = op_cast(c, l, r->type);
        int eq = values_equal(l, r);
        rc__val_bool(l, ok && (op == OP_EQ ? eq : !eq));
    } else if (op <= OP_GE) {
        ok = op_cast(c, l, T_INT) & op_cast(c, r, T_INT);
        int32_t a = l->i, b = r->i;
        int v = op == OP_LT ? a < b : op == OP_LE ? a <= b : op == OP_GT ? a > b : a >= b;
        rc__val_bool(l, ok && v);
    } else { /* XOR; AND and OR short-circuit in eval_chain */
        ok = op_cast(c, l, T_BOOL) & op_cast(c, r, T_BOOL);
        rc__val_bool(l, ok && l->b != r->b);
    }
    rc__val_free(r);
}

static void eval_chain(ectx *c, const node *x, val *acc) {
    eval_node(c, x->kids[0], acc);
    for (size_t k = 1; k < x->nkids; k++) {
        int op = x->ops[k - 1];
        if (acc->err) {
            /* what is left of the chain consumes an erroneous operand */
            rc__val_zero(acc, op_result(x->ops[x->nkids - 2]));
            return;
        }
        if (op == OP_AND || op == OP_OR) {
            if (!op_cast(c, acc, T_BOOL)) {
                rc__val_zero(acc, T_BOOL);
                return;
            }
            if ((op == OP_AND) != acc->b) continue; /* false AND ..., true OR ... */
            val r = {0};
            eval_node(c, x->kids[k], &r);
            int ok = !r.err && op_cast(c, &r, T_BOOL);
            rc__val_bool(acc, ok && r.b);
            rc__val_free(&r);
            if (!ok) return;
            continue;
        }
        val r = {0};
        eval_node(c, x->kids[k], &r);
        if (r.err) {
            rc__val_free(&r);
            rc__val_zero(acc, op_result(x->ops[x->nkids - 2]));
            return;
        }
        binop_apply(c, op, acc, &r);
    }
}

static void eval_lookup(ectx *c, const node *x, val *out) {
    const rc_event *ev = c->ev;
    out->type = T_MISSING;
    if (x->field >= 0) {
        const char *s = context_value(ev, x->field);
        if (s) rc__val_str_borrow(out, s, strlen(s));
        return;
    }
    const rc_ext *e = rc_event_ext(ev, x->s);
    if (!e) return;
    switch (e->type) {
    case RC_EXT_BOOL: rc__val_bool(out, e->b); return;
    case RC_EXT_INT:
        /* the event model keeps Integer extensions within int32 */
        rc__val_int(out, e->i < INT32_MIN ? INT32_MIN : e->i > INT32_MAX ? INT32_MAX : (int32_t)e->i);
        return;
    default:
        if (e->s) rc__val_str_borrow(out, e->s, strlen(e->s));
        return;
    }
}

static void eval_in(ectx *c, const node *x, val *out) {
    eval_node(c, x->kids[0], out);
    if (out->err) {
        rc__val_zero(out, T_BOOL);
        return;
    }
    int found = 0, bad = 0;
    for (size_t k = 1; k < x->nkids; k++) {
        val e = {0};
        eval_node(c, x->kids[k], &e);
        /* the left operand's type is the target type (3.7) */
        if (e.err || !op_cast(c, &e, out->type)) bad = 1;
        else if (values_equal(out, &e)) found = 1;
        rc__val_free(&e);
    }
    rc__val_bool(out, !bad && (x->negate ? !found : found));
}

static void eval_call(ectx *c, const node *x, val *out) {
    const fn_def *fn = x->fn;
    if (!fn) {
        rc__cesql_err(c, RC_CESQL_ERR_MISSING_FUNC);
        rc__val_zero(out, T_BOOL);
        return;
    }
    val small[4];
    val *args = x->nkids <= 4 ? small : calloc(x->nkids, sizeof *args);
    if (!args) {
        rc__cesql_err(c, RC_CESQL_ERR_GENERIC);
        c->failfast = 1;
        rc__val_zero(out, fn->ret);
        return;
    }
    memset(args, 0, x->nkids * sizeof *args);
    int ok = 1;
    for (size_t k = 0; k < x->nkids && ok; k++) {
        eval_node(c, x->kids[k], &args[k]);
        if (args[k].err) ok = 0;
    }
    for (size_t k = 0; k < x->nkids && ok; k++) {
        int t = fn->params[k < 2 ? k : 2];
        if (t != T_ANY && !op_cast(c, &args[k], t)) ok = 0;
    }
    rc__val_zero(out, fn->ret);
    if (ok) fn->impl(c, args, x->nkids, out);
    for (size_t k = 0; k < x->nkids; k++) rc__val_free(&args[k]);
    if (args != small) free(args);
}

static int static_result(const node *x) {
    switch ((node_kind)x->kind) {
    case N_LIT: return x->vtype;
    case N_NEG: return T_INT;
    case N_CHAIN: return op_result(x->ops[0]);
    case N_CALL: return x->fn ? x->fn->ret : T_BOOL;
    default: return T_BOOL;
    }
}

static void eval_kind(ectx *c, const node *x, val *out) {
    switch ((node_kind)x->kind) {
    case N_LIT:
        out->type = x->vtype;
        out->b = x->b;
        out->i = x->i;
        out->s = x->s;
        out->len = x->len;
        return;
    case N_IDENT:
        eval_lookup(c, x, out);
        if (out->type == T_MISSING) rc__cesql_err(c, RC_CESQL_ERR_MISSING_ATTR);
        return;
    case N_EXISTS:
        eval_lookup(c, x, out);
        rc__val_bool(out, out->type != T_MISSING);
        return;
    case N_NOT:
        eval_node(c, x->kids[0], out);
        if (out->err || !op_cast(c, out, T_BOOL)) rc__val_zero(out, T_BOOL);
        else out->b = !out->b;
        return;
    case N_NEG:
        eval_node(c, x->kids[0], out);
        if (out->err || !op_cast(c, out, T_INT)) {
            rc__val_zero(out, T_INT);
        } else if (out->i == INT32_MIN) {
            /* as ABS(-2147483648): the nearest value and a MathError */
            rc__cesql_err(c, RC_CESQL_ERR_MATH);
            out->i = INT32_MAX;
        } else {
            out->i = -out->i;
        }
        return;
    case N_CHAIN:
        eval_chain(c, x, out);
        return;
    case N_LIKE:
        eval_node(c, x->kids[0], out);
        if (out->err || !op_cast(c, out, T_STRING)) {
            rc__val_zero(out, T_BOOL);
        } else {
            int m = like_match(c, out->s, out->len, x->s, x->len);
            rc__val_bool(out, x->negate ? !m : m);
        }
        return;
    case N_IN:
        eval_in(c, x, out);
        return;
    case N_CALL:
        eval_call(c, x, out);
        return;
    }
}

static void eval_node(ectx *c, const node *x, val *out) {
    out->own = NULL;
    out->err = 0;
    unsigned before = c->count;
    if ((c->failfast && c->err) || !rc__charge(c, 1)) {
        rc__val_zero(out, static_result(x));
    } else {
        eval_kind(c, x, out);
        if (out->type == T_MISSING) rc__val_zero(out, T_BOOL); /* type unknown: Boolean (3.2) */
    }
    out->err = c->count != before;
}

/* ---- API ------------------------------------------------------------------- */

void rc_cesql_value_free(rc_cesql_value *v) {
    if (!v) return;
    free(v->s);
    v->s = NULL;
    v->len = 0;
}

int rc_cesql_eval(const rc_cesql *q, const rc_event *ev, rc_cesql_value *out) {
    memset(out, 0, sizeof *out);
    out->type = RC_CESQL_BOOL;
    if (!q || !ev) return RC_CESQL_ERR_GENERIC;
    ectx c = {.ev = ev};
    val v = {0};
    eval_node(&c, q->root, &v);
    out->type = (rc_cesql_type)v.type;
    out->b = v.b;
    out->i = v.i;
    if (v.type == T_STRING) {
        out->s = malloc(v.len + 1);
        if (out->s) {
            memcpy(out->s, v.s, v.len);
            out->s[v.len] = '\0';
            out->len = v.len;
        } else {
            out->type = RC_CESQL_BOOL;
            out->b = 0;
            rc__cesql_err(&c, RC_CESQL_ERR_GENERIC);
        }
    }
    rc__val_free(&v);
    return c.err;
}

int rc_cesql_match(const rc_cesql *q, const rc_event *ev) {
    if (!q || !ev) return 0;
    ectx c = {.ev = ev, .failfast = 1};
    val v = {0};
    eval_node(&c, q->root, &v);
    int ok = 0;
    if (!c.err) {
        /* a non-Boolean result is coerced (Subscriptions API 3.2.4.1.2) */
        rc__cast(&c, &v, T_BOOL);
        ok = !c.err && v.b;
    }
    rc__val_free(&v);
    return ok;
}
