/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CESQL v1 parser, printer and static checks.
 *
 * Input is untrusted bytes from a subscriber (no NUL needed, never read past
 * len). Recursive descent over an on-demand tokenizer; precedence as CESQL
 * 3.6 lists it, tightest first: function calls and literals, unary NOT and
 * -, postfix LIKE / IN, then * / %, + -, comparisons, and AND OR XOR
 * sharing the loosest level, all left to right. A run of operators of one
 * level becomes one chain node, so `a OR b OR ...` costs no tree depth; only
 * parentheses, unary operators and calls nest, and both the parser's own
 * recursion and the tree's depth are capped (100,000 '(' is an error, not a
 * stack overflow).
 *
 * Lexical choices where the spec's grammar is loose: keywords, function
 * names and attribute names are case-insensitive (attribute names are
 * lowered: CloudEvents names are lower case); a '+' or '-' directly followed
 * by digits in operand position is part of the integer literal, so
 * -2147483648 is a valid literal and `5 -3` is still a subtraction. In a
 * string delimited by q, `\q` and `qq` stand for q and `\\` for a backslash;
 * any other backslash is kept with the character after it, which is how
 * LIKE patterns keep their `\%` and `\_` escapes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/cesql_int.h"

/* The parser's own recursion may exceed the tree depth (parentheses add
 * recursion but no node); this bound keeps the C stack small regardless. */
#define MAX_RECURSION (2 * RC_CESQL_MAX_DEPTH + 8)

typedef enum {
    K_EOF, K_LP, K_RP, K_COMMA, K_OP, K_MINUS, K_PLUS, K_INT, K_STRING, K_IDENT, K_FUNC,
    K_AND, K_OR, K_XOR, K_NOT, K_LIKE, K_IN, K_EXISTS, K_TRUE, K_FALSE
} tok_kind;

static const struct {
    const char *word;
    tok_kind kind;
} keywords[] = {
    {"AND", K_AND}, {"OR", K_OR},         {"XOR", K_XOR},   {"NOT", K_NOT},     {"LIKE", K_LIKE},
    {"IN", K_IN},   {"EXISTS", K_EXISTS}, {"TRUE", K_TRUE}, {"FALSE", K_FALSE},
};

/* Operator spellings, longest first so that "<=" wins over "<". */
static const struct {
    const char *text;
    binop op;
} op_table[] = {
    {"!=", OP_NE}, {"<>", OP_LG}, {"<=", OP_LE}, {">=", OP_GE}, {"=", OP_EQ}, {"<", OP_LT},
    {">", OP_GT},  {"*", OP_MUL}, {"/", OP_DIV}, {"%", OP_MOD},
};

static const char *const op_names[] = {
    [OP_MUL] = "*", [OP_DIV] = "/", [OP_MOD] = "%", [OP_ADD] = "+", [OP_SUB] = "-",
    [OP_EQ] = "=",  [OP_NE] = "!=", [OP_LG] = "<>", [OP_LT] = "<",  [OP_LE] = "<=",
    [OP_GT] = ">",  [OP_GE] = ">=", [OP_AND] = "AND", [OP_OR] = "OR", [OP_XOR] = "XOR",
};

static int op_level(binop op) {
    if (op <= OP_MOD) return 0;
    if (op <= OP_SUB) return 1;
    if (op <= OP_GE) return 2;
    return 3;
}

typedef struct {
    tok_kind kind;
    size_t start, len;
    binop op;
    int64_t ival;
    char *str;     /* K_STRING value, K_IDENT/K_FUNC normalised name (malloc'd) */
    size_t slen;
} token;

typedef struct {
    const unsigned char *p;
    size_t n, pos;
    token t;       /* the current token */
    int rdepth;
    int failed;    /* sticky */
    int status;
    rc_err *err;
} parser;

/* ---- errors ---------------------------------------------------------------- */

static void describe(const parser *ps, const token *t, char *buf, size_t cap) {
    if (t->kind == K_EOF) {
        snprintf(buf, cap, "end of input");
        return;
    }
    size_t n = t->len > 24 ? 24 : t->len;
    char tmp[25];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = ps->p[t->start + i];
        tmp[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    tmp[n] = '\0';
    snprintf(buf, cap, "'%s%s'", tmp, t->len > n ? "..." : "");
}

static node *fail_at(parser *ps, size_t at, int status, const char *fmt, const char *what) {
    if (ps->failed) return NULL;
    ps->failed = 1;
    ps->status = status;
    char msg[120];
    snprintf(msg, sizeof msg, fmt, what ? what : "");
    rc_err_set(ps->err, status, "at byte %zu: %s", at, msg);
    return NULL;
}

/* "expected X, found <current token>" */
static node *expected(parser *ps, const char *what) {
    if (ps->failed) return NULL;
    char found[40], msg[120];
    describe(ps, &ps->t, found, sizeof found);
    snprintf(msg, sizeof msg, "expected %s, found %s", what, found);
    return fail_at(ps, ps->t.start, RC_INVALID, "%s", msg);
}

static node *oom(parser *ps) {
    return fail_at(ps, ps->t.start, RC_NOMEM, "out of memory%s", "");
}

/* ---- tokenizer ------------------------------------------------------------- */

static int is_word(unsigned char c) {
    return isalnum(c) || c == '_';
}

static void tok_clear(token *t) {
    free(t->str);
    t->str = NULL;
    t->slen = 0;
}

static void lex_string(parser *ps, token *t) {
    unsigned char q = ps->p[ps->pos];
    size_t i = ps->pos + 1;
    rc_buf b = RC_BUF_INIT;
    rc_buf_reserve(&b, 16);
    for (;;) {
        if (i >= ps->n) {
            rc_buf_free(&b);
            fail_at(ps, t->start, RC_INVALID, "unterminated string literal%s", "");
            return;
        }
        unsigned char c = ps->p[i];
        if (c == '\0' || (c == '\\' && i + 1 < ps->n && ps->p[i + 1] == '\0')) {
            rc_buf_free(&b);
            fail_at(ps, c ? i + 1 : i, RC_INVALID, "NUL byte in string literal%s", "");
            return;
        }
        if (c == '\\' && i + 1 < ps->n) {
            unsigned char d = ps->p[i + 1];
            if (d == q || d == '\\') {
                rc_buf_putc(&b, (char)d);
            } else {
                rc_buf_putc(&b, '\\');
                rc_buf_putc(&b, (char)d);
            }
            i += 2;
            continue;
        }
        if (c == q) {
            if (i + 1 < ps->n && ps->p[i + 1] == q) {
                rc_buf_putc(&b, (char)q);
                i += 2;
                continue;
            }
            i++;
            break;
        }
        rc_buf_putc(&b, (char)c);
        i++;
    }
    t->kind = K_STRING;
    t->slen = b.len;
    t->str = rc_buf_detach(&b, NULL);
    ps->pos = i;
}

/* digits at p[i..]: value capped just above the int32 range */
static size_t scan_digits(const parser *ps, size_t i, int64_t *v) {
    int64_t x = 0;
    while (i < ps->n && isdigit(ps->p[i])) {
        if (x <= 2147483648LL) x = x * 10 + (ps->p[i] - '0');
        i++;
    }
    *v = x;
    return i;
}

static void lex_word(parser *ps, token *t) {
    size_t i = ps->pos, s = i;
    int digits_only = 1;
    while (i < ps->n && is_word(ps->p[i])) {
        if (!isdigit(ps->p[i])) digits_only = 0;
        i++;
    }
    ps->pos = i;
    t->len = i - s;
    if (digits_only) {
        t->kind = K_INT;
        scan_digits(ps, s, &t->ival);
        return;
    }
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
        if (strlen(keywords[k].word) == t->len &&
            !strncasecmp(keywords[k].word, (const char *)ps->p + s, t->len)) {
            t->kind = keywords[k].kind;
            return;
        }
    }
    size_t j = i;
    while (j < ps->n && (ps->p[j] == ' ' || ps->p[j] == '\t' || ps->p[j] == '\r' || ps->p[j] == '\n'))
        j++;
    int func = j < ps->n && ps->p[j] == '(';
    char *name = malloc(t->len + 1);
    if (!name) {
        oom(ps);
        return;
    }
    for (size_t k = 0; k < t->len; k++) {
        unsigned char c = ps->p[s + k];
        name[k] = (char)(func ? toupper(c) : tolower(c));
    }
    name[t->len] = '\0';
    t->str = name;
    t->slen = t->len;
    if (func) {
        /* function-identifier ::= char ( "_" | char )* */
        int ok = isalpha(ps->p[s]);
        for (size_t k = 0; ok && k < t->len; k++) ok = isalpha(ps->p[s + k]) || ps->p[s + k] == '_';
        if (!ok) {
            fail_at(ps, s, RC_INVALID, "invalid function name '%s' (letters and '_' only)", name);
            return;
        }
        t->kind = K_FUNC;
    } else {
        /* value-identifier ::= ( lowercase-char | digit )+ */
        for (size_t k = 0; k < t->len; k++) {
            if (ps->p[s + k] == '_') {
                fail_at(ps, s, RC_INVALID, "invalid attribute name '%s' (letters and digits only)", name);
                return;
            }
        }
        t->kind = K_IDENT;
    }
}

/* Advance to the next token. */
static void next(parser *ps) {
    token *t = &ps->t;
    tok_clear(t);
    if (ps->failed) {
        t->kind = K_EOF;
        return;
    }
    while (ps->pos < ps->n) {
        unsigned char c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') break;
        ps->pos++;
    }
    t->start = ps->pos;
    t->len = 1;
    if (ps->pos >= ps->n) {
        t->kind = K_EOF;
        t->len = 0;
        return;
    }
    unsigned char c = ps->p[ps->pos];
    switch (c) {
    case '(': t->kind = K_LP; ps->pos++; return;
    case ')': t->kind = K_RP; ps->pos++; return;
    case ',': t->kind = K_COMMA; ps->pos++; return;
    case '-': t->kind = K_MINUS; t->op = OP_SUB; ps->pos++; return;
    case '+': t->kind = K_PLUS; t->op = OP_ADD; ps->pos++; return;
    case '\'':
    case '"':
        lex_string(ps, t);
        t->len = ps->pos - t->start;
        if (ps->failed) t->kind = K_EOF;
        return;
    default:
        break;
    }
    for (size_t k = 0; k < sizeof op_table / sizeof op_table[0]; k++) {
        size_t l = strlen(op_table[k].text);
        if (ps->pos + l <= ps->n && !memcmp(ps->p + ps->pos, op_table[k].text, l)) {
            t->kind = K_OP;
            t->op = op_table[k].op;
            t->len = l;
            ps->pos += l;
            return;
        }
    }
    if (is_word(c)) {
        lex_word(ps, t);
        if (ps->failed) t->kind = K_EOF;
        return;
    }
    char what[8];
    if (c >= 0x20 && c < 0x7f) snprintf(what, sizeof what, "'%c'", c);
    else snprintf(what, sizeof what, "0x%02x", c);
    fail_at(ps, ps->pos, RC_INVALID, "unexpected character %s", what);
    t->kind = K_EOF;
}

/* ---- tree ----------------------------------------------------------------- */

static void node_free(node *x) {
    if (!x) return;
    for (size_t i = 0; i < x->nkids; i++) node_free(x->kids[i]);
    free(x->kids);
    free(x->ops);
    free(x->s);
    free(x);
}

static node *node_new(parser *ps, node_kind kind) {
    node *x = calloc(1, sizeof *x);
    if (!x) return oom(ps);
    x->kind = (uint8_t)kind;
    x->field = -1;
    x->depth = 1;
    return x;
}

/* Give x its children (taking ownership of kids) and check the depth. */
static node *adopt(parser *ps, node *x, node **kids, size_t n) {
    x->kids = kids;
    x->nkids = n;
    unsigned d = 0;
    for (size_t i = 0; i < n; i++)
        if (kids[i]->depth > d) d = kids[i]->depth;
    if (d + 1 > RC_CESQL_MAX_DEPTH) {
        node_free(x);
        return fail_at(ps, ps->t.start, RC_INVALID, "expression nests too deeply (limit %s)",
                       RC__STR(RC_CESQL_MAX_DEPTH));
    }
    x->depth = (uint8_t)(d + 1);
    return x;
}

/* A growable array of nodes (chain operands, call arguments, IN sets). */
typedef struct {
    node **v;
    uint8_t *ops;
    size_t n, cap;
} nodes;

static int nodes_push(parser *ps, nodes *a, node *x, int op) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        node **v = realloc(a->v, cap * sizeof *v);
        if (!v) return oom(ps), 0;
        a->v = v;
        uint8_t *o = realloc(a->ops, cap);
        if (!o) return oom(ps), 0;
        a->ops = o;
        a->cap = cap;
    }
    if (a->n) a->ops[a->n - 1] = (uint8_t)op;
    a->v[a->n++] = x;
    return 1;
}

static void nodes_free(nodes *a) {
    for (size_t i = 0; i < a->n; i++) node_free(a->v[i]);
    free(a->v);
    free(a->ops);
    a->v = NULL;
    a->ops = NULL;
    a->n = a->cap = 0;
}

/* ---- grammar -------------------------------------------------------------- */

static node *parse_expr(parser *ps);
static node *parse_unary(parser *ps);

static int enter(parser *ps) {
    if (++ps->rdepth > MAX_RECURSION) {
        fail_at(ps, ps->t.start, RC_INVALID, "expression nests too deeply (limit %s)",
                RC__STR(RC_CESQL_MAX_DEPTH));
        return 0;
    }
    return 1;
}

static node *int_literal(parser *ps, int64_t v, size_t at) {
    if (v < INT32_MIN || v > INT32_MAX)
        return fail_at(ps, at, RC_INVALID, "integer literal out of the 32-bit range%s", "");
    node *x = node_new(ps, N_LIT);
    if (!x) return NULL;
    x->vtype = T_INT;
    x->i = (int32_t)v;
    return x;
}

/* name '(' [expr {',' expr}] ')' with the current token at the name */
static node *parse_call(parser *ps) {
    node *x = node_new(ps, N_CALL);
    if (!x) return NULL;
    x->s = ps->t.str;
    x->len = ps->t.slen;
    ps->t.str = NULL;
    next(ps); /* the name */
    next(ps); /* '(' (the tokenizer saw it) */
    nodes args = {0};
    if (ps->t.kind != K_RP) {
        for (;;) {
            node *a = parse_expr(ps);
            if (!a || !nodes_push(ps, &args, a, 0)) {
                node_free(a);
                goto fail;
            }
            if (ps->t.kind == K_COMMA) {
                next(ps);
                continue;
            }
            if (ps->t.kind != K_RP) {
                expected(ps, "',' or ')' in the argument list");
                goto fail;
            }
            break;
        }
    }
    next(ps); /* ')' */
    int known;
    x->fn = rc__cesql_fn_find(x->s, args.n, &known);
    free(args.ops);
    return adopt(ps, x, args.v, args.n);
fail:
    nodes_free(&args);
    node_free(x);
    return NULL;
}

static node *parse_primary(parser *ps) {
    token *t = &ps->t;
    node *x;
    switch (t->kind) {
    case K_INT:
        x = int_literal(ps, t->ival, t->start);
        if (x) next(ps);
        return x;
    case K_TRUE:
    case K_FALSE:
        if (!(x = node_new(ps, N_LIT))) return NULL;
        x->vtype = T_BOOL;
        x->b = t->kind == K_TRUE;
        next(ps);
        return x;
    case K_STRING:
        if (!(x = node_new(ps, N_LIT))) return NULL;
        x->vtype = T_STRING;
        x->s = t->str;
        x->len = t->slen;
        t->str = NULL;
        next(ps);
        return x;
    case K_IDENT:
        if (!(x = node_new(ps, N_IDENT))) return NULL;
        x->s = t->str;
        x->len = t->slen;
        t->str = NULL;
        x->field = rc__cesql_context_index(x->s);
        next(ps);
        return x;
    case K_FUNC:
        return parse_call(ps);
    case K_EXISTS:
        next(ps);
        if (t->kind != K_IDENT) return expected(ps, "an attribute name after EXISTS");
        if (!(x = node_new(ps, N_EXISTS))) return NULL;
        x->s = t->str;
        x->len = t->slen;
        t->str = NULL;
        x->field = rc__cesql_context_index(x->s);
        next(ps);
        return x;
    case K_LP:
        next(ps);
        x = parse_expr(ps);
        if (!x) return NULL;
        if (t->kind != K_RP) {
            node_free(x);
            return expected(ps, "')'");
        }
        next(ps);
        return x;
    default:
        return expected(ps, "an expression");
    }
}

static node *parse_unary(parser *ps) {
    token *t = &ps->t;
    if (!enter(ps)) return NULL;
    node *x = NULL;
    if ((t->kind == K_MINUS || t->kind == K_PLUS) && t->start + 1 < ps->n &&
        isdigit(ps->p[t->start + 1])) {
        /* a signed integer literal, unless the digits begin a name (-1abc) */
        int64_t v;
        size_t end = scan_digits(ps, t->start + 1, &v);
        if (end >= ps->n || !is_word(ps->p[end])) {
            size_t at = t->start;
            int neg = t->kind == K_MINUS;
            ps->pos = end;
            x = int_literal(ps, neg ? -v : v, at);
            if (x) next(ps);
            goto out;
        }
    }
    if (t->kind == K_NOT || t->kind == K_MINUS) {
        node_kind k = t->kind == K_NOT ? N_NOT : N_NEG;
        next(ps);
        node *a = parse_unary(ps);
        if (!a) goto out;
        node **kids = malloc(sizeof *kids);
        if (!kids || !(x = node_new(ps, k))) {
            free(kids);
            node_free(a);
            if (!ps->failed) oom(ps);
            goto out;
        }
        kids[0] = a;
        x = adopt(ps, x, kids, 1);
        goto out;
    }
    x = parse_primary(ps);
out:
    ps->rdepth--;
    return x;
}

/* unary { [NOT] LIKE string | [NOT] IN '(' expr {',' expr} ')' } */
static node *parse_postfix(parser *ps) {
    token *t = &ps->t;
    node *x = parse_unary(ps);
    while (x) {
        int negate = 0;
        if (t->kind == K_NOT) {
            next(ps);
            if (t->kind != K_LIKE && t->kind != K_IN) {
                node_free(x);
                return expected(ps, "LIKE or IN after NOT");
            }
            negate = 1;
        }
        if (t->kind == K_LIKE) {
            next(ps);
            if (t->kind != K_STRING) {
                node_free(x);
                return expected(ps, "a string literal pattern after LIKE");
            }
            node *l = node_new(ps, N_LIKE);
            node **kids = malloc(sizeof *kids);
            if (!l || !kids) {
                free(kids);
                node_free(l);
                node_free(x);
                return oom(ps);
            }
            l->negate = (uint8_t)negate;
            l->s = t->str;
            l->len = t->slen;
            t->str = NULL;
            kids[0] = x;
            next(ps);
            x = adopt(ps, l, kids, 1);
        } else if (t->kind == K_IN) {
            next(ps);
            if (t->kind != K_LP) {
                node_free(x);
                return expected(ps, "'(' after IN");
            }
            next(ps);
            nodes set = {0};
            if (!nodes_push(ps, &set, x, 0)) {
                node_free(x);
                return NULL;
            }
            for (;;) {
                node *e = parse_expr(ps);
                if (!e || !nodes_push(ps, &set, e, 0)) {
                    node_free(e);
                    nodes_free(&set);
                    return NULL;
                }
                if (t->kind == K_COMMA) {
                    next(ps);
                    continue;
                }
                if (t->kind != K_RP) {
                    nodes_free(&set);
                    return expected(ps, "',' or ')' in the IN set");
                }
                break;
            }
            next(ps);
            node *in = node_new(ps, N_IN);
            if (!in) {
                nodes_free(&set);
                return NULL;
            }
            in->negate = (uint8_t)negate;
            free(set.ops);
            x = adopt(ps, in, set.v, set.n);
        } else {
            break;
        }
    }
    return x;
}

/* The operator of the current token if it belongs to level, else -1. */
static int level_op(const parser *ps, int level) {
    const token *t = &ps->t;
    int op;
    switch (t->kind) {
    case K_OP:
    case K_MINUS:
    case K_PLUS: op = (int)t->op; break;
    case K_AND: op = OP_AND; break;
    case K_OR: op = OP_OR; break;
    case K_XOR: op = OP_XOR; break;
    default: return -1;
    }
    return op_level((binop)op) == level ? op : -1;
}

static node *parse_level(parser *ps, int level) {
    node *first = level == 0 ? parse_postfix(ps) : parse_level(ps, level - 1);
    if (!first) return NULL;
    int op = level_op(ps, level);
    if (op < 0) return first;
    nodes a = {0};
    if (!nodes_push(ps, &a, first, 0)) {
        node_free(first);
        return NULL;
    }
    while ((op = level_op(ps, level)) >= 0) {
        next(ps);
        node *r = level == 0 ? parse_postfix(ps) : parse_level(ps, level - 1);
        if (!r || !nodes_push(ps, &a, r, op)) {
            node_free(r);
            nodes_free(&a);
            return NULL;
        }
    }
    node *x = node_new(ps, N_CHAIN);
    if (!x) {
        nodes_free(&a);
        return NULL;
    }
    x->ops = a.ops;
    return adopt(ps, x, a.v, a.n);
}

static node *parse_expr(parser *ps) {
    if (!enter(ps)) return NULL;
    node *x = parse_level(ps, 3);
    ps->rdepth--;
    return x;
}

int rc_cesql_parse(const char *expr, size_t len, rc_cesql **out, rc_err *err) {
    *out = NULL;
    if (!expr && len) return rc_err_set(err, RC_INVALID, "no expression");
    if (len > RC_CESQL_MAX_LEN)
        return rc_err_set(err, RC_TOO_LARGE, "expression is %zu bytes, the limit is %d", len,
                          RC_CESQL_MAX_LEN);
    parser ps = {.p = (const unsigned char *)expr, .n = len, .err = err};
    next(&ps);
    node *root = ps.failed ? NULL : parse_expr(&ps);
    if (root && ps.failed) { /* the tokenizer failed after the last node */
        node_free(root);
        root = NULL;
    }
    if (root && ps.t.kind != K_EOF) {
        expected(&ps, "an operator or end of input");
        node_free(root);
        root = NULL;
    }
    tok_clear(&ps.t);
    if (!root) {
        if (!ps.failed) return rc_err_set(err, RC_INTERNAL, "parser stopped without a reason");
        return ps.status;
    }
    rc_cesql *q = malloc(sizeof *q);
    if (!q) {
        node_free(root);
        return rc_err_set(err, RC_NOMEM, "out of memory");
    }
    q->root = root;
    *out = q;
    rc_err_clear(err);
    return RC_OK;
}

void rc_cesql_free(rc_cesql *q) {
    if (!q) return;
    node_free(q->root);
    free(q);
}

/* ---- static checks --------------------------------------------------------- */

/* The static type of x: what it evaluates to whatever the event. */
static int static_type(const node *x) {
    switch ((node_kind)x->kind) {
    case N_LIT: return x->vtype;
    case N_IDENT: return T_ANY;
    case N_NEG: return T_INT;
    case N_CHAIN: return op_level((binop)x->ops[0]) <= 1 ? T_INT : T_BOOL;
    case N_CALL: return x->fn ? x->fn->ret : T_BOOL;
    default: return T_BOOL;
    }
}

static const node *find_missing_fn(const node *x) {
    if (x->kind == N_CALL && !x->fn) return x;
    for (size_t i = 0; i < x->nkids; i++) {
        const node *m = find_missing_fn(x->kids[i]);
        if (m) return m;
    }
    return NULL;
}

int rc_cesql_check_filter(const rc_cesql *q, rc_err *err) {
    const node *m = find_missing_fn(q->root);
    if (m) {
        int known;
        rc__cesql_fn_find(m->s, m->nkids, &known);
        if (known)
            return rc_err_set(err, RC_INVALID, "function %s does not take %zu argument%s", m->s,
                              m->nkids, m->nkids == 1 ? "" : "s");
        return rc_err_set(err, RC_INVALID, "no such function: %s", m->s);
    }
    int t = static_type(q->root);
    if (t == T_INT || t == T_STRING)
        return rc_err_set(err, RC_INVALID, "a filter expression must be Boolean, this one is %s",
                          t == T_INT ? "an Integer" : "a String");
    rc_err_clear(err);
    return RC_OK;
}

/* ---- printer --------------------------------------------------------------- */

static void print_string(rc_buf *b, const char *s, size_t n) {
    rc_buf_putc(b, '\'');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'' || s[i] == '\\') rc_buf_putc(b, '\\');
        rc_buf_putc(b, s[i]);
    }
    rc_buf_putc(b, '\'');
}

static void print_node(const node *x, rc_buf *b) {
    switch ((node_kind)x->kind) {
    case N_LIT:
        if (x->vtype == T_BOOL) rc_buf_puts(b, x->b ? "TRUE" : "FALSE");
        else if (x->vtype == T_INT) rc_buf_put_i64(b, x->i);
        else print_string(b, x->s, x->len);
        return;
    case N_IDENT:
        rc_buf_append(b, x->s, x->len);
        return;
    case N_EXISTS:
        rc_buf_puts(b, "EXISTS ");
        rc_buf_append(b, x->s, x->len);
        return;
    case N_NOT:
    case N_NEG:
        /* "- 5", not "-5": the space keeps the operand a separate token */
        rc_buf_puts(b, x->kind == N_NOT ? "NOT " : "- ");
        print_node(x->kids[0], b);
        return;
    case N_CHAIN:
        rc_buf_putc(b, '(');
        for (size_t i = 0; i < x->nkids; i++) {
            if (i) {
                rc_buf_putc(b, ' ');
                rc_buf_puts(b, op_names[x->ops[i - 1]]);
                rc_buf_putc(b, ' ');
            }
            print_node(x->kids[i], b);
        }
        rc_buf_putc(b, ')');
        return;
    case N_LIKE:
        rc_buf_putc(b, '(');
        print_node(x->kids[0], b);
        rc_buf_puts(b, x->negate ? " NOT LIKE " : " LIKE ");
        print_string(b, x->s, x->len);
        rc_buf_putc(b, ')');
        return;
    case N_IN:
        rc_buf_putc(b, '(');
        print_node(x->kids[0], b);
        rc_buf_puts(b, x->negate ? " NOT IN (" : " IN (");
        for (size_t i = 1; i < x->nkids; i++) {
            if (i > 1) rc_buf_puts(b, ", ");
            print_node(x->kids[i], b);
        }
        rc_buf_puts(b, "))");
        return;
    case N_CALL:
        rc_buf_append(b, x->s, x->len);
        rc_buf_putc(b, '(');
        for (size_t i = 0; i < x->nkids; i++) {
            if (i) rc_buf_puts(b, ", ");
            print_node(x->kids[i], b);
        }
        rc_buf_putc(b, ')');
        return;
    }
}

void rc_cesql_print(const rc_cesql *q, rc_buf *out) {
    if (q) print_node(q->root, out);
}
