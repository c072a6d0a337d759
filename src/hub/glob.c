/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Redis glob patterns: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\` escapes,
 * binary-safe (lengths, not NUL terminators). Used by PSUBSCRIBE, KEYS, SCAN.
 *
 * The pattern is untrusted (it comes from a client). Matching a `*` tries
 * each suffix recursively; to keep "a*a*a*a*...b" from going exponential the
 * recursion reports "no match anywhere" upwards, which bounds the work to
 * O(pattern * subject) as in Redis's stringmatchlen.
 */
#include <ctype.h>

#include "redcar/hub.h"

static int fold(int c, int nocase) { return nocase ? tolower(c) : c; }

/* 1 match, 0 no match, -1 no match and no later start can match either. */
static int match(const char *p, size_t pl, const char *s, size_t sl, int nocase, int depth) {
    if (depth > 1000) return -1; /* pathological nesting: refuse rather than overflow the stack */
    while (pl) {
        switch (*p) {
        case '*':
            while (pl > 1 && p[1] == '*') { p++; pl--; }
            if (pl == 1) return 1;
            for (;;) {
                int r = match(p + 1, pl - 1, s, sl, nocase, depth + 1);
                if (r != 0) return r;
                if (!sl) return -1;
                s++;
                sl--;
            }
        case '?':
            if (!sl) return -1;
            s++; sl--;
            break;
        case '[': {
            if (!sl) return -1;
            p++; pl--;
            int neg = pl && *p == '^';
            if (neg) { p++; pl--; }
            int hit = 0;
            while (pl && *p != ']') {
                if (*p == '\\' && pl >= 2) {
                    p++; pl--;
                    if (fold((unsigned char)*p, nocase) == fold((unsigned char)*s, nocase)) hit = 1;
                } else if (pl >= 3 && p[1] == '-' && p[2] != ']') {
                    int a = fold((unsigned char)p[0], nocase), b = fold((unsigned char)p[2], nocase);
                    int c = fold((unsigned char)*s, nocase);
                    if (a > b) { int t = a; a = b; b = t; }
                    if (c >= a && c <= b) hit = 1;
                    p += 2; pl -= 2;
                } else if (fold((unsigned char)*p, nocase) == fold((unsigned char)*s, nocase)) {
                    hit = 1;
                }
                p++; pl--;
            }
            if (neg) hit = !hit;
            if (!hit) return 0;
            s++; sl--;
            if (!pl) return !sl; /* unterminated class: treat end of pattern as the end */
            break;
        }
        case '\\':
            if (pl >= 2) { p++; pl--; }
            /* fall through */
        default:
            if (!sl || fold((unsigned char)*p, nocase) != fold((unsigned char)*s, nocase)) return sl ? 0 : -1;
            s++; sl--;
            break;
        }
        p++; pl--;
    }
    return sl == 0;
}

int rc_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase) {
    return match(pat, plen, s, slen, nocase, 0) == 1;
}
