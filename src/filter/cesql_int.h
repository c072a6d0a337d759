/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the filter module: the CESQL expression tree shared by the
 * parser (cesql_parse.c), the evaluator (cesql_eval.c), the built-in
 * functions (cesql_func.c) and the printer.
 *
 * Tree invariants the parser guarantees and the others rely on: every node's
 * depth (1 + the deepest child) is at most RC_CESQL_MAX_DEPTH, so recursion
 * over the tree is bounded; a chain has n >= 2 operands and n - 1 operators
 * of one precedence level; strings are NUL-terminated copies.
 */
#ifndef REDCAR_FILTER_CESQL_INT_H
#define REDCAR_FILTER_CESQL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/buf.h"
#include "redcar/event.h"
#include "redcar/filter.h"

typedef enum {
    N_LIT,      /* literal: vtype + b / i / s */
    N_IDENT,    /* attribute: s = lower-case name, field >= 0 for context attributes */
    N_EXISTS,   /* EXISTS name: same fields as N_IDENT */
    N_NOT,      /* kids[0] */
    N_NEG,      /* kids[0] */
    N_CHAIN,    /* kids[0] ops[0] kids[1] ops[1] ... left to right */
    N_LIKE,     /* kids[0] [NOT] LIKE s (the pattern, escapes still in it) */
    N_IN,       /* kids[0] [NOT] IN (kids[1..n-1]) */
    N_CALL      /* fn (NULL: no such function/arity) s = upper-case name, kids = args */
} node_kind;

/* Binary operators, by precedence level (a chain holds one level). */
typedef enum {
    OP_MUL, OP_DIV, OP_MOD,                           /* level 0 */
    OP_ADD, OP_SUB,                                   /* level 1 */
    OP_EQ, OP_NE, OP_LG, OP_LT, OP_LE, OP_GT, OP_GE,  /* level 2 (LG: <>) */
    OP_AND, OP_OR, OP_XOR                             /* level 3 */
} binop;

/* Value types during evaluation; T_MISSING is what an absent attribute
 * evaluates to before the operator that consumes it turns it into its zero
 * value. T_ANY is the static type of an attribute. */
enum { T_BOOL = RC_CESQL_BOOL, T_INT = RC_CESQL_INT, T_STRING = RC_CESQL_STRING, T_MISSING, T_ANY };

typedef struct fn_def fn_def;
typedef struct node node;

struct node {
    uint8_t kind;
    uint8_t negate;      /* NOT LIKE, NOT IN */
    uint8_t vtype;       /* N_LIT */
    uint8_t depth;
    int b;
    int32_t i;
    char *s;
    size_t len;          /* of s */
    int field;           /* N_IDENT/N_EXISTS: context attribute index or -1 */
    node **kids;
    size_t nkids;
    uint8_t *ops;        /* N_CHAIN: nkids - 1 operators */
    const fn_def *fn;
};

struct rc_cesql {
    node *root;
};

/* A value during evaluation. s points either into the event / the tree
 * (own NULL) or at own, a malloc'd buffer this value frees. s is not
 * NUL-terminated: len counts. */
typedef struct {
    int type;
    int err;       /* an error was raised evaluating this value's subtree */
    int b;
    int32_t i;
    const char *s;
    size_t len;
    char *own;
} val;

/* Evaluation state: the first error, and the budget that bounds the work
 * one evaluation may do (steps and bytes of strings produced). */
typedef struct {
    const rc_event *ev;
    int err;          /* the first error */
    unsigned count;   /* errors so far */
    int failfast;
    uint64_t steps;
    uint64_t bytes;
} ectx;

#define RC__XSTR(x) #x
#define RC__STR(x) RC__XSTR(x)

#define RC__CESQL_MAX_STEPS 8000000u
#define RC__CESQL_MAX_BYTES (8u << 20)

struct fn_def {
    const char *name;
    int min_args;
    int max_args;        /* -1: variadic */
    int ret;             /* T_BOOL / T_INT / T_STRING */
    int params[3];       /* T_ANY: no cast; params beyond [2] repeat [2]. */
    void (*impl)(ectx *c, val *args, size_t n, val *out);
};

/* ---- attributes (cesql_eval.c) ---- */
/* Index of a context attribute the evaluator reads straight from the
 * rc_event (id, source, ...), or -1 for an extension. */
int rc__cesql_context_index(const char *name);

/* ---- functions (cesql_func.c) ---- */
/* The definition of name (upper case) with n arguments; NULL when there is
 * none. *name_known says whether any arity exists (for the error text). */
const fn_def *rc__cesql_fn_find(const char *name, size_t n, int *name_known);

/* ---- evaluation helpers shared with the functions (cesql_eval.c) ---- */
void rc__cesql_err(ectx *c, int e);
void rc__val_free(val *v);
void rc__val_bool(val *v, int b);
void rc__val_int(val *v, int32_t i);
void rc__val_str_borrow(val *v, const char *s, size_t n);
/* Take ownership of p (n bytes, NUL-terminated), charging the byte budget. */
void rc__val_str_own(ectx *c, val *v, char *p, size_t n);
void rc__val_zero(val *v, int type);
/* Cast in place; on failure set a CastError and the zero value. */
void rc__cast(ectx *c, val *v, int type);
/* 1 if v casts to type without error. */
int rc__castable(const val *v, int type);
/* Charge work; 0 when the budget is spent (a GenericError is then set). */
int rc__charge(ectx *c, uint64_t steps);

/* ---- UTF-8 ---- */
/* Decode one code point at p[0..n) (n > 0) and return its length; an
 * invalid byte is one character of length 1 with *cp = UINT32_MAX. */
size_t rc__utf8_next(const unsigned char *p, size_t n, uint32_t *cp);
size_t rc__utf8_count(const char *s, size_t n);
/* Byte offset of code point index k (clamped to n). */
size_t rc__utf8_offset(const char *s, size_t n, size_t k);

#endif
