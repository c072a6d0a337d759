/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS credentials and server sessions on GnuTLS (see redcar/tls.h).
 *
 * Each file is parsed on its own before the pair is loaded, so a start-up
 * error says which file is wrong and why, not just that "TLS failed".
 * Sessions verify client certificates inside the handshake
 * (gnutls_session_set_verify_cert), so a refused client is cut off before
 * it sends a byte of application data.
 *
 * Trust boundary: the files are the operator's; everything a session reads
 * is the network's, and GnuTLS parses it.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redcar/tls.h"

/* A PEM file beyond this is not a certificate file (a CA bundle is ~200 KB). */
#define PEM_MAX (16 * 1024 * 1024)

struct rc_tls {
    gnutls_certificate_credentials_t cred;
    rc_tls_auth auth;
    char *cert, *key, *ca; /* PEM text, NUL-terminated */
};

struct rc_tls_conn {
    gnutls_session_t s;
    int hs_done;
    int want_write;
    int last;          /* last GnuTLS error, for rc_tls_conn_error() */
    size_t wpending;   /* bytes of a send that answered GNUTLS_E_AGAIN */
};

/* Reads a whole file as NUL-terminated text; label names the setting. */
static int read_pem(const char *label, const char *path, char **out, rc_err *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return rc_err_set(err, RC_IO, "%s %s: %s", label, path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *p = malloc(cap);
    int rc = RC_OK;
    while (p) {
        if (cap - len < 2) {
            if (cap >= PEM_MAX) {
                rc = rc_err_set(err, RC_INVALID, "%s %s: larger than %d bytes", label, path, PEM_MAX);
                break;
            }
            char *q = realloc(p, cap * 2);
            if (!q) break;
            p = q;
            cap *= 2;
        }
        size_t got = fread(p + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) rc = rc_err_set(err, RC_IO, "%s %s: %s", label, path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!p) return rc_err_set(err, RC_NOMEM, "out of memory");
    if (rc == RC_OK && len == 0) rc = rc_err_set(err, RC_INVALID, "%s %s: empty file", label, path);
    if (rc != RC_OK) {
        free(p);
        return rc;
    }
    p[len] = '\0';
    *out = p;
    return RC_OK;
}

static gnutls_datum_t datum(const char *s) {
    gnutls_datum_t d = {(unsigned char *)(uintptr_t)s, (unsigned)strlen(s)};
    return d;
}

/* Parses the certificate chain and the key separately, so that the error
 * names the file at fault. */
static int check_pair(const rc_tls_opts *o, const char *cert, const char *key, rc_err *err) {
    gnutls_datum_t dc = datum(cert), dk = datum(key);
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    int r = gnutls_x509_crt_list_import2(&list, &n, &dc, GNUTLS_X509_FMT_PEM, 0);
    if (r < 0 || n == 0)
        return rc_err_set(err, RC_INVALID, "tls-cert-file %s: not a PEM certificate: %s", o->cert_file,
                          r < 0 ? gnutls_strerror(r) : "no certificate found");
    for (unsigned i = 0; i < n; i++) gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list);
    gnutls_x509_privkey_t pk;
    if ((r = gnutls_x509_privkey_init(&pk)) < 0) return rc_err_set(err, RC_NOMEM, "tls: %s", gnutls_strerror(r));
    r = gnutls_x509_privkey_import2(pk, &dk, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_x509_privkey_deinit(pk);
    if (r < 0)
        return rc_err_set(err, RC_INVALID, "tls-key-file %s: not an unencrypted PEM private key: %s", o->key_file,
                          gnutls_strerror(r));
    return RC_OK;
}

int rc_tls_new(rc_tls **out, const rc_tls_opts *o, rc_err *err) {
    *out = NULL;
    if (!o || !o->cert_file || !*o->cert_file || !o->key_file || !*o->key_file)
        return rc_err_set(err, RC_INVALID, "tls: tls-cert-file and tls-key-file are both required");
    int has_ca = o->ca_file && *o->ca_file;
    if (o->auth != RC_TLS_AUTH_NO && !has_ca)
        return rc_err_set(err, RC_INVALID, "tls: tls-auth-clients %s needs tls-ca-cert-file (the CA that signs "
                          "client certificates)", o->auth == RC_TLS_AUTH_YES ? "yes" : "optional");
    rc_tls *t = calloc(1, sizeof *t);
    if (!t) return rc_err_set(err, RC_NOMEM, "out of memory");
    t->auth = o->auth;
    int rc, r;
    if ((rc = read_pem("tls-cert-file", o->cert_file, &t->cert, err)) ||
        (rc = read_pem("tls-key-file", o->key_file, &t->key, err)) ||
        (has_ca && (rc = read_pem("tls-ca-cert-file", o->ca_file, &t->ca, err))) ||
        (rc = check_pair(o, t->cert, t->key, err)))
        goto fail;
    if ((r = gnutls_certificate_allocate_credentials(&t->cred)) < 0) {
        t->cred = NULL;
        rc = rc_err_set(err, RC_NOMEM, "tls: %s", gnutls_strerror(r));
        goto fail;
    }
    gnutls_datum_t dc = datum(t->cert), dk = datum(t->key);
    if ((r = gnutls_certificate_set_x509_key_mem2(t->cred, &dc, &dk, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        rc = rc_err_set(err, RC_INVALID, "tls: tls-cert-file %s with tls-key-file %s: %s", o->cert_file, o->key_file,
                        gnutls_strerror(r));
        goto fail;
    }
    if (t->ca) {
        gnutls_datum_t da = datum(t->ca);
        r = gnutls_certificate_set_x509_trust_mem(t->cred, &da, GNUTLS_X509_FMT_PEM);
        if (r <= 0) {
            rc = rc_err_set(err, RC_INVALID, "tls-ca-cert-file %s: %s", o->ca_file,
                            r < 0 ? gnutls_strerror(r) : "no certificate found");
            goto fail;
        }
    }
    /* DHE suites under TLS 1.2 need parameters; the RFC 7919 groups are fixed. */
    gnutls_certificate_set_known_dh_params(t->cred, GNUTLS_SEC_PARAM_MEDIUM);
    *out = t;
    return RC_OK;
fail:
    rc_tls_free(t);
    return rc;
}

void rc_tls_free(rc_tls *t) {
    if (!t) return;
    if (t->cred) gnutls_certificate_free_credentials(t->cred);
    free(t->cert);
    if (t->key) {
        /* the private key should not linger in freed memory */
        explicit_bzero(t->key, strlen(t->key));
        free(t->key);
    }
    free(t->ca);
    free(t);
}

int rc_tls_auth_parse(const char *s, rc_tls_auth *out) {
    static const struct { const char *name; rc_tls_auth mode; } modes[] = {
        {"no", RC_TLS_AUTH_NO}, {"optional", RC_TLS_AUTH_OPTIONAL}, {"yes", RC_TLS_AUTH_YES}};
    for (size_t i = 0; s && i < sizeof modes / sizeof modes[0]; i++)
        if (!strcasecmp(s, modes[i].name)) {
            *out = modes[i].mode;
            return RC_OK;
        }
    return RC_INVALID;
}

rc_tls_auth rc_tls_auth_mode(const rc_tls *t) { return t->auth; }
const char *rc_tls_cert_pem(const rc_tls *t) { return t->cert; }
const char *rc_tls_key_pem(const rc_tls *t) { return t->key; }
const char *rc_tls_ca_pem(const rc_tls *t) { return t->ca; }

/* Verifies the client's chain against the trust list, for client use (key
 * purpose TLS WWW client). GnuTLS calls it inside the handshake once the
 * client's certificate message is in; non-zero fails the handshake. */
static int verify_client(gnutls_session_t s, int required) {
    unsigned n = 0;
    if (!gnutls_certificate_get_peers(s, &n) || n == 0) return required ? GNUTLS_E_NO_CERTIFICATE_FOUND : 0;
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    unsigned status = 0;
    if (gnutls_certificate_verify_peers(s, &purpose, 1, &status) < 0 || status) return GNUTLS_E_CERTIFICATE_ERROR;
    return 0;
}
static int verify_required(gnutls_session_t s) { return verify_client(s, 1); }
static int verify_optional(gnutls_session_t s) { return verify_client(s, 0); }

int rc_tls_session_policy(const rc_tls *t, void *session) {
    gnutls_session_t s = session;
    if (t->auth == RC_TLS_AUTH_NO) {
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_IGNORE);
        return RC_OK;
    }
    /* REQUEST, not REQUIRE, in optional mode: a client may send none, but
     * one that sends a certificate must pass the same check. */
    int required = t->auth == RC_TLS_AUTH_YES;
    gnutls_certificate_server_set_request(s, required ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
    gnutls_session_set_verify_function(s, required ? verify_required : verify_optional);
    return RC_OK;
}

/* ---- sessions ----------------------------------------------------------------- */

int rc_tls_conn_new(rc_tls_conn **out, const rc_tls *t, int fd, rc_err *err) {
    *out = NULL;
    rc_tls_conn *c = calloc(1, sizeof *c);
    if (!c) return rc_err_set(err, RC_NOMEM, "out of memory");
    /* NO_SIGNAL: a send to a closed peer must not raise SIGPIPE. */
    int r = gnutls_init(&c->s, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
    if (r < 0) {
        free(c);
        return rc_err_set(err, RC_NOMEM, "tls: %s", gnutls_strerror(r));
    }
    if ((r = gnutls_set_default_priority(c->s)) < 0 ||
        (r = gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, t->cred)) < 0) {
        gnutls_deinit(c->s);
        free(c);
        return rc_err_set(err, RC_INTERNAL, "tls: %s", gnutls_strerror(r));
    }
    rc_tls_session_policy(t, c->s);
    gnutls_transport_set_int(c->s, fd);
    *out = c;
    return RC_OK;
}

void rc_tls_conn_free(rc_tls_conn *c) {
    if (!c) return;
    gnutls_deinit(c->s);
    free(c);
}

int rc_tls_conn_handshake_done(const rc_tls_conn *c) { return c->hs_done; }
int rc_tls_conn_want_write(const rc_tls_conn *c) { return c->want_write; }
size_t rc_tls_conn_pending(rc_tls_conn *c) { return c->hs_done ? gnutls_record_check_pending(c->s) : 0; }

const char *rc_tls_conn_error(const rc_tls_conn *c) {
    return c->last ? gnutls_strerror(c->last) : "no error";
}

int rc_tls_conn_handshake(rc_tls_conn *c, rc_err *err) {
    if (c->hs_done) return RC_TLS_DONE;
    for (;;) {
        int r = gnutls_handshake(c->s);
        if (r == GNUTLS_E_SUCCESS) {
            c->hs_done = 1;
            c->want_write = 0;
            return RC_TLS_DONE;
        }
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            c->want_write = gnutls_record_get_direction(c->s);
            return RC_TLS_AGAIN;
        }
        if (!gnutls_error_is_fatal(r)) continue; /* a warning alert: carry on */
        c->last = r;
        if (r == GNUTLS_E_CERTIFICATE_ERROR || r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            /* verify_client() said no; ask again for the reason to log */
            gnutls_datum_t why = {NULL, 0};
            unsigned status = 0;
            if (gnutls_certificate_verify_peers2(c->s, &status) == 0 && status)
                gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0);
            rc_err_set(err, RC_NOPERM, "client certificate refused: %s",
                       why.data ? (char *)why.data : gnutls_strerror(r));
            gnutls_free(why.data);
        } else if (r == GNUTLS_E_NO_CERTIFICATE_FOUND || r == GNUTLS_E_CERTIFICATE_REQUIRED) {
            rc_err_set(err, RC_NOPERM, "client sent no certificate (tls-auth-clients yes)");
        } else {
            rc_err_set(err, RC_IO, "TLS handshake failed: %s", gnutls_strerror(r));
        }
        return RC_TLS_FAILED;
    }
}

/* Maps a GnuTLS record-layer result onto the read(2)/write(2) contract. */
static ssize_t io_result(rc_tls_conn *c, ssize_t r) {
    if (r >= 0) return r;
    if (r == GNUTLS_E_AGAIN) {
        c->want_write = gnutls_record_get_direction(c->s);
        errno = EAGAIN;
        return -1;
    }
    if (r == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)r)) {
        errno = EINTR; /* the caller retries */
        return -1;
    }
    c->last = (int)r;
    errno = EIO;
    return -1;
}

/* Before the handshake is done: step it and report "not yet" as EAGAIN. */
static int ensure_handshake(rc_tls_conn *c) {
    if (c->hs_done) return 0;
    rc_err e;
    int r = rc_tls_conn_handshake(c, &e);
    if (r == RC_TLS_DONE) return 0;
    errno = r == RC_TLS_AGAIN ? EAGAIN : EIO;
    return -1;
}

ssize_t rc_tls_conn_read(rc_tls_conn *c, void *buf, size_t n) {
    if (ensure_handshake(c)) return -1;
    ssize_t r = gnutls_record_recv(c->s, buf, n);
    /* A peer that closes without close_notify (redis-cli, most HTTP
     * clients) has still ended the stream: the same as EOF. */
    if (r == GNUTLS_E_PREMATURE_TERMINATION) return 0;
    return io_result(c, r);
}

ssize_t rc_tls_conn_write(rc_tls_conn *c, const void *buf, size_t n) {
    if (ensure_handshake(c)) return -1;
    /* A send that answered AGAIN is already encrypted inside GnuTLS: the
     * retry must be the same size, and GnuTLS then returns its count. */
    size_t len = c->wpending ? c->wpending : n;
    if (len > n) {
        errno = EINVAL;
        return -1;
    }
    ssize_t r = gnutls_record_send(c->s, buf, len);
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) c->wpending = len;
    else c->wpending = 0;
    return io_result(c, r);
}

void rc_tls_conn_bye(rc_tls_conn *c) {
    if (c && c->hs_done && !c->wpending) gnutls_bye(c->s, GNUTLS_SHUT_WR); /* AGAIN: the peer goes without */
}
