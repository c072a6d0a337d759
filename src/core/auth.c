/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Access control shared by both doors (see redcar/auth.h): SHA-256, the
 * stored form of passwords, the `user` list setting's grammar, and the
 * checks. Nothing here keeps state: the configuration holds the digests,
 * so CONFIG SET requirepass takes effect on the next check.
 *
 * Invariants: a plaintext password is hashed on arrival and never stored or
 * echoed in an error; a candidate is always hashed (a client that learned a
 * digest cannot log in with it); every check walks the whole user list and
 * compares digests in constant time, so timing tells nothing about which
 * part of a guess was wrong.
 *
 * Trust boundary: names, passwords and tokens are untrusted bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config_int.h"
#include "redcar/auth.h"

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------------------------- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void rc_sha256(const void *data, size_t len, unsigned char out[RC_SHA256_LEN]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    size_t left = len;
    for (; left >= 64; left -= 64, p += 64) sha_block(h, p);
    /* Padding: 0x80, zeros, then the bit length big-endian in the last 8
     * bytes; one or two final blocks. */
    unsigned char tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tl = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha_block(h, tail);
    if (tl == 128) sha_block(h, tail + 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

int rc_auth_ct_equal(const void *a, const void *b, size_t n) {
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) d |= x[i] ^ y[i];
    return d == 0;
}

const char *rc_auth_role_name(rc_auth_role r) {
    switch (r) {
    case RC_AUTH_RO: return "ro";
    case RC_AUTH_RW: return "rw";
    default: return "none";
    }
}

/* ---- stored form of a password ---------------------------------------------------- */

static int is_hex(char c) { return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'f'); }

static int is_digest_text(const char *s, size_t n) {
    if (n != RC_AUTH_SECRET_LEN || s[0] != '#') return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_hex(s[i])) return 0;
    return 1;
}

static void hash_text(const char *pass, size_t len, char out[RC_AUTH_SECRET_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char d[RC_SHA256_LEN];
    rc_sha256(pass, len, d);
    out[0] = '#';
    for (int i = 0; i < RC_SHA256_LEN; i++) {
        out[1 + 2 * i] = hex[d[i] >> 4];
        out[2 + 2 * i] = hex[d[i] & 15];
    }
    out[RC_AUTH_SECRET_LEN] = '\0';
}

static void secret_n(const char *pass, size_t n, char out[RC_AUTH_SECRET_LEN + 1]) {
    if (n == 0) {
        out[0] = '\0';
    } else if (is_digest_text(pass, n)) {
        for (size_t i = 0; i < n; i++) out[i] = (char)(i && pass[i] >= 'A' && pass[i] <= 'F' ? pass[i] + 32 : pass[i]);
        out[n] = '\0';
    } else {
        hash_text(pass, n, out);
    }
}

void rc_auth_secret(const char *pass, char out[RC_AUTH_SECRET_LEN + 1]) { secret_n(pass, strlen(pass), out); }

/* ---- the user list ------------------------------------------------------------------ */

typedef struct user {
    char name[RC_AUTH_NAME_MAX + 1];
    rc_auth_role role;
    char secret[RC_AUTH_SECRET_LEN + 1];
} user;

static int name_ok(const char *s, size_t n) {
    if (n == 0 || n > RC_AUTH_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-' || c == '@'))
            return 0;
    }
    return 1;
}

static rc_auth_role role_parse(const char *s, size_t n) {
    if (n == 2 && !strncasecmp(s, "ro", 2)) return RC_AUTH_RO;
    if (n == 2 && !strncasecmp(s, "rw", 2)) return RC_AUTH_RW;
    return RC_AUTH_NONE;
}

/* One entry from its three parts; the password is hashed here. */
static int entry_make(user *u, const char *name, size_t nl, const char *role, size_t rl, const char *pw,
                      size_t pl, rc_err *err) {
    if (!name_ok(name, nl))
        return rc_err_set(err, RC_INVALID,
                          "user: name must be 1-%d characters of A-Z a-z 0-9 . _ @ - (got '%.*s')",
                          RC_AUTH_NAME_MAX, (int)(nl > 40 ? 40 : nl), name);
    if (nl == 7 && !memcmp(name, "default", 7))
        return rc_err_set(err, RC_INVALID, "user: 'default' is the requirepass user; set requirepass instead");
    if (!(u->role = role_parse(role, rl)))
        return rc_err_set(err, RC_INVALID, "user %.*s: role must be ro or rw (got '%.*s')", (int)nl, name,
                          (int)(rl > 16 ? 16 : rl), role);
    if (pl == 0) return rc_err_set(err, RC_INVALID, "user %.*s: empty password", (int)nl, name);
    memcpy(u->name, name, nl);
    u->name[nl] = '\0';
    secret_n(pw, pl, u->secret);
    return RC_OK;
}

/* "NAME:ROLE:PASSWORD" (the password may hold colons). */
static int entry_colon(user *u, const char *s, size_t n, rc_err *err) {
    const char *c1 = memchr(s, ':', n);
    const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - s)) : NULL;
    if (!c2) return rc_err_set(err, RC_INVALID, "user: expected NAME:ROLE:PASSWORD");
    return entry_make(u, s, (size_t)(c1 - s), c1 + 1, (size_t)(c2 - c1 - 1), c2 + 1, n - (size_t)(c2 + 1 - s),
                      err);
}

/* Entries of a stored or given list, at most RC_AUTH_MAX_USERS, into out;
 * *n counts those parsed (also on error). */
static int parse_list(const char *s, user *out, int *n, rc_err *err) {
    *n = 0;
    for (;;) {
        while (*s == ' ') s++;
        if (!*s) return RC_OK;
        size_t len = strcspn(s, " ");
        if (*n == RC_AUTH_MAX_USERS)
            return rc_err_set(err, RC_INVALID, "user: more than %d users", RC_AUTH_MAX_USERS);
        int rc = entry_colon(&out[*n], s, len, err);
        if (rc) return rc;
        (*n)++;
        s += len;
    }
}

/* Replace a user of the same name, else append. */
static int merge_one(user *list, int n, const user *u) {
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i].name, u->name)) {
            list[i] = *u;
            return n;
        }
    list[n] = *u;
    return n + 1;
}

int rc_auth_users_merge(const char *old, const char *value, char **out, rc_err *err) {
    user *list = calloc(2 * RC_AUTH_MAX_USERS, sizeof *list), *add = list + RC_AUTH_MAX_USERS;
    if (!list) return rc_err_set(err, RC_NOMEM, "out of memory");
    int rc = RC_OK, n = 0, na = 0;
    while (*value == ' ') value++;
    if (*value) {
        /* the stored list is ours: entries before a bad one are kept */
        if (old) parse_list(old, list, &n, NULL);
        size_t first = strcspn(value, " ");
        if (memchr(value, ':', first)) { /* NAME:ROLE:PASSWORD ... */
            if ((rc = parse_list(value, add, &na, err))) goto done;
        } else { /* NAME ROLE PASSWORD */
            const char *role = value + first;
            while (*role == ' ') role++;
            size_t rl = strcspn(role, " ");
            const char *pw = role + rl;
            while (*pw == ' ') pw++;
            if (!rl || !*pw) {
                rc = rc_err_set(err, RC_INVALID, "user: expected NAME ROLE PASSWORD or NAME:ROLE:PASSWORD");
                goto done;
            }
            if ((rc = entry_make(&add[0], value, first, role, rl, pw, strlen(pw), err))) goto done;
            na = 1;
        }
        for (int i = 0; i < na; i++) {
            int known = 0;
            for (int j = 0; j < n; j++) known |= !strcmp(list[j].name, add[i].name);
            if (!known && n == RC_AUTH_MAX_USERS) {
                rc = rc_err_set(err, RC_INVALID, "user: more than %d users", RC_AUTH_MAX_USERS);
                goto done;
            }
            n = merge_one(list, n, &add[i]);
        }
    }
    size_t cap = (size_t)n * (RC_AUTH_NAME_MAX + RC_AUTH_SECRET_LEN + 6) + 1, used = 0;
    char *s = malloc(cap);
    if (!s) {
        rc = rc_err_set(err, RC_NOMEM, "out of memory");
        goto done;
    }
    s[0] = '\0';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(s + used, cap - used, "%s%s:%s:%s", i ? " " : "", list[i].name,
                                 rc_auth_role_name(list[i].role), list[i].secret);
    *out = s;
done:
    /* the plaintext never lived here, but digests need not linger either */
    memset(list, 0, 2 * RC_AUTH_MAX_USERS * sizeof *list);
    free(list);
    return rc;
}

/* ---- checks ---------------------------------------------------------------------------- */

int rc_auth_required(rc_config *cfg) { return cfg && rc__config_credentials(cfg); }

/* Compare a candidate digest with a stored one, padded to a fixed width so
 * the time does not depend on the stored value either. */
static int secret_eq(const char *cand, const char *stored) {
    char pad[RC_AUTH_SECRET_LEN + 1] = {0};
    size_t n = strlen(stored);
    memcpy(pad, stored, n < RC_AUTH_SECRET_LEN ? n : RC_AUTH_SECRET_LEN);
    return rc_auth_ct_equal(cand, pad, RC_AUTH_SECRET_LEN) & (n == RC_AUTH_SECRET_LEN);
}

int rc_auth_check(rc_config *cfg, const char *user_, size_t ulen, const char *pass, size_t plen,
                  rc_auth_role *role) {
    *role = RC_AUTH_NONE;
    if (!cfg) return RC_NOAUTH;
    char cand[RC_AUTH_SECRET_LEN + 1], rp[RC_AUTH_SECRET_LEN + 2];
    hash_text(pass, plen, cand); /* always hashed: a digest is not a password */
    rc_config_get(cfg, "requirepass", rp, sizeof rp);
    int is_default = !user_ || (ulen == 7 && !memcmp(user_, "default", 7));
    rc_auth_role got = RC_AUTH_NONE;
    if (secret_eq(cand, rp) & is_default) got = RC_AUTH_RW;

    /* Walk the stored list in place ("name:role:#digest ..."): this runs on
     * every HTTP request with a token, so no parsing into structures. */
    char *list = rc_config_dup(cfg, "user");
    for (const char *p = list ? list : ""; *p;) {
        size_t len = strcspn(p, " ");
        const char *c1 = memchr(p, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - p)) : NULL;
        if (c2) {
            size_t nl = (size_t)(c1 - p);
            char stored[RC_AUTH_SECRET_LEN + 1] = {0};
            size_t sl = len - (size_t)(c2 + 1 - p);
            memcpy(stored, c2 + 1, sl < RC_AUTH_SECRET_LEN ? sl : RC_AUTH_SECRET_LEN);
            /* Every entry costs the same: no early exit on a name match. */
            int name_eq = !is_default && ulen == nl && rc_auth_ct_equal(p, user_, nl);
            int pw_eq = secret_eq(cand, stored) & (sl == RC_AUTH_SECRET_LEN);
            if (name_eq & pw_eq) got = role_parse(c1 + 1, (size_t)(c2 - c1 - 1));
        }
        p += len;
        while (*p == ' ') p++;
    }
    free(list);
    *role = got;
    return got == RC_AUTH_NONE ? RC_NOAUTH : RC_OK;
}

int rc_auth_check_bearer(rc_config *cfg, const char *h, rc_auth_role *role, char *user_, size_t userlen) {
    *role = RC_AUTH_NONE;
    if (user_ && userlen) user_[0] = '\0';
    if (!h) return RC_NOAUTH;
    while (*h == ' ' || *h == '\t') h++;
    if (strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t')) return RC_NOAUTH;
    h += 7;
    while (*h == ' ' || *h == '\t') h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t')) n--;
    if (!n) return RC_NOAUTH;
    rc_auth_role r1 = RC_AUTH_NONE, r2 = RC_AUTH_NONE;
    const char *colon = memchr(h, ':', n);
    if (colon) rc_auth_check(cfg, h, (size_t)(colon - h), colon + 1, n - (size_t)(colon + 1 - h), &r1);
    /* The whole token as the requirepass too (a password may hold ':'). */
    rc_auth_check(cfg, NULL, 0, h, n, &r2);
    if (r1 != RC_AUTH_NONE) {
        *role = r1;
        if (user_ && userlen) snprintf(user_, userlen, "%.*s", (int)(colon - h), h);
    } else if (r2 != RC_AUTH_NONE) {
        *role = r2;
        if (user_ && userlen) snprintf(user_, userlen, "default");
    }
    return *role == RC_AUTH_NONE ? RC_NOAUTH : RC_OK;
}
