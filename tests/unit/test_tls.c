/* SPDX-License-Identifier: Apache-2.0 */
/*
 * src/tls: credentials and server sessions, against a GnuTLS client over a
 * non-blocking socketpair. The test makes its own PKI with GnuTLS (a CA, a
 * server and a client certificate from it, a "rogue" client whose CA
 * only has the real CA's name).
 *
 * Covers: start-up errors name the file and the reason; the handshake
 * driven step by step on non-blocking sockets; input buffered inside
 * GnuTLS shows in rc_tls_conn_pending(); a write that answers EAGAIN is
 * retried with more bytes offered and reports the earlier attempt's count,
 * the peer receiving every byte in order; client certificates required,
 * optional, and refused when signed by another CA; EOF.
 */
#include <check.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "redcar/tls.h"
#include "tmpdir.h"
#include "check_main.h"

RC_TEST_TMPDIR("rc-tls-test")

/* ---- a PKI made with GnuTLS ---------------------------------------------------- */

typedef struct {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
} ident;

static void write_datum(const char *name, const gnutls_datum_t *d) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(d->data, 1, d->size, f), d->size);
    fclose(f);
}

/* issuer NULL: self-signed. Writes NAME.crt and NAME.key into dir. */
static ident make(const char *name, const char *cn, const ident *issuer, int ca, int server) {
    static unsigned serial = 1;
    ident id;
    ck_assert_int_eq(gnutls_x509_privkey_init(&id.key), 0);
    ck_assert_int_eq(gnutls_x509_privkey_generate(id.key, GNUTLS_PK_ECDSA,
                                                  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
    ck_assert_int_eq(gnutls_x509_crt_init(&id.crt), 0);
    gnutls_x509_crt_set_version(id.crt, 3);
    unsigned char sn[4] = {0, 0, 0, (unsigned char)serial++};
    gnutls_x509_crt_set_serial(id.crt, sn, sizeof sn);
    gnutls_x509_crt_set_activation_time(id.crt, time(NULL) - 3600);
    gnutls_x509_crt_set_expiration_time(id.crt, time(NULL) + 3600);
    gnutls_x509_crt_set_dn_by_oid(id.crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn));
    gnutls_x509_crt_set_key(id.crt, id.key);
    gnutls_x509_crt_set_basic_constraints(id.crt, ca, -1);
    if (ca) {
        gnutls_x509_crt_set_key_usage(id.crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
    } else {
        gnutls_x509_crt_set_key_usage(id.crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
        gnutls_x509_crt_set_key_purpose_oid(id.crt, server ? GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT, 0);
        if (server) gnutls_x509_crt_set_subject_alt_name(id.crt, GNUTLS_SAN_DNSNAME, "localhost", 9, GNUTLS_FSAN_SET);
    }
    ck_assert_int_eq(gnutls_x509_crt_sign2(id.crt, issuer ? issuer->crt : id.crt, issuer ? issuer->key : id.key,
                                           GNUTLS_DIG_SHA256, 0), 0);
    gnutls_datum_t d;
    char fn[64];
    ck_assert_int_eq(gnutls_x509_crt_export2(id.crt, GNUTLS_X509_FMT_PEM, &d), 0);
    snprintf(fn, sizeof fn, "%s.crt", name);
    write_datum(fn, &d);
    gnutls_free(d.data);
    ck_assert_int_eq(gnutls_x509_privkey_export2(id.key, GNUTLS_X509_FMT_PEM, &d), 0);
    snprintf(fn, sizeof fn, "%s.key", name);
    write_datum(fn, &d);
    gnutls_free(d.data);
    return id;
}

static void drop(ident *id) {
    gnutls_x509_crt_deinit(id->crt);
    gnutls_x509_privkey_deinit(id->key);
}

static char *path_of(const char *name) {
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void pki(void) {
    ident ca = make("ca", "test CA", NULL, 1, 0);
    ident srv = make("server", "localhost", &ca, 0, 1);
    ident cli = make("client", "client", &ca, 0, 0);
    /* A forger's CA with the real CA's name: a GnuTLS client offers its
     * certificate (the issuer matches the server's list), which must then
     * fail on the signature. */
    ident fake = make("fakeca", "test CA", NULL, 1, 0);
    ident rogue = make("rogue", "rogue client", &fake, 0, 0);
    drop(&ca), drop(&srv), drop(&cli), drop(&fake), drop(&rogue);
    FILE *f = fopen(path_of("garbage.pem"), "w");
    fputs("not PEM at all\n", f);
    fclose(f);
}

static rc_tls *server_creds(rc_tls_auth auth) {
    rc_tls_opts o = {path_of("server.crt"), path_of("server.key"), auth == RC_TLS_AUTH_NO ? NULL : path_of("ca.crt"),
                     auth};
    rc_tls *t = NULL;
    rc_err err;
    rc_err_clear(&err);
    ck_assert_msg(rc_tls_new(&t, &o, &err) == RC_OK, "%s", err.msg);
    return t;
}

/* ---- a GnuTLS client on the other end of a socketpair ------------------------------ */

typedef struct {
    gnutls_session_t s;
    gnutls_certificate_credentials_t cred;
} client;

static client client_new(int fd, const char *cert) {
    client c;
    ck_assert_int_eq(gnutls_certificate_allocate_credentials(&c.cred), 0);
    ck_assert_int_gt(gnutls_certificate_set_x509_trust_file(c.cred, path_of("ca.crt"), GNUTLS_X509_FMT_PEM), 0);
    if (cert) {
        char crt[64], key[64];
        snprintf(crt, sizeof crt, "%s.crt", cert);
        snprintf(key, sizeof key, "%s.key", cert);
        ck_assert_int_eq(gnutls_certificate_set_x509_key_file(c.cred, path_of(crt), path_of(key), GNUTLS_X509_FMT_PEM),
                         0);
    }
    ck_assert_int_eq(gnutls_init(&c.s, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
    gnutls_set_default_priority(c.s);
    gnutls_credentials_set(c.s, GNUTLS_CRD_CERTIFICATE, c.cred);
    gnutls_server_name_set(c.s, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_session_set_verify_cert(c.s, "localhost", 0);
    gnutls_transport_set_int(c.s, fd);
    return c;
}

static void client_free(client *c) {
    gnutls_deinit(c->s);
    gnutls_certificate_free_credentials(c->cred);
}

typedef struct {
    int sv[2];
    rc_tls *t;
    rc_tls_conn *srv;
    client cl;
    int server_rc; /* RC_TLS_DONE / RC_TLS_FAILED */
    rc_err err;
} pair;

/* Steps both ends until the server is done or failed. */
static void pair_open(pair *p, rc_tls_auth auth, const char *cert) {
    memset(p, 0, sizeof *p);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->sv), 0);
    p->t = server_creds(auth);
    ck_assert_int_eq(rc_tls_conn_new(&p->srv, p->t, p->sv[0], &p->err), RC_OK);
    p->cl = client_new(p->sv[1], cert);
    int cdone = 0, sr = RC_TLS_AGAIN;
    for (int i = 0; i < 1000 && sr == RC_TLS_AGAIN; i++) {
        sr = rc_tls_conn_handshake(p->srv, &p->err);
        if (!cdone) {
            int r = gnutls_handshake(p->cl.s);
            if (r == 0) cdone = 1;
            else if (r != GNUTLS_E_AGAIN && gnutls_error_is_fatal(r)) cdone = -1;
        }
        if (cdone < 0 && sr == RC_TLS_AGAIN) {
            /* the client gave up; the server sees the alert or EOF */
            close(p->sv[1]);
            p->sv[1] = -1;
        }
    }
    p->server_rc = sr;
    if (sr == RC_TLS_DONE) ck_assert_int_eq(cdone, 1);
}

static void pair_close(pair *p) {
    rc_tls_conn_free(p->srv);
    client_free(&p->cl);
    rc_tls_free(p->t);
    close(p->sv[0]);
    if (p->sv[1] >= 0) close(p->sv[1]);
}

/* ---- tests ------------------------------------------------------------------------ */

static void expect_refusal(const char *cert, const char *key, const char *ca, rc_tls_auth auth, int code,
                           const char *w1, const char *w2) {
    rc_tls_opts o = {cert ? path_of(cert) : NULL, key ? path_of(key) : NULL, ca ? path_of(ca) : NULL, auth};
    rc_tls *t = NULL;
    rc_err err;
    rc_err_clear(&err);
    ck_assert_int_eq(rc_tls_new(&t, &o, &err), code);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err.msg, w1) && (!w2 || strstr(err.msg, w2)), "message: %s", err.msg);
}

START_TEST(t_load_errors) {
    pki();
    expect_refusal("nope.crt", "server.key", NULL, RC_TLS_AUTH_NO, RC_IO, "tls-cert-file", "nope.crt");
    expect_refusal("server.crt", "nope.key", NULL, RC_TLS_AUTH_NO, RC_IO, "tls-key-file", "No such file");
    expect_refusal("garbage.pem", "server.key", NULL, RC_TLS_AUTH_NO, RC_INVALID, "tls-cert-file", "garbage.pem");
    expect_refusal("server.crt", "garbage.pem", NULL, RC_TLS_AUTH_NO, RC_INVALID, "tls-key-file", "garbage.pem");
    expect_refusal("server.crt", "client.key", NULL, RC_TLS_AUTH_NO, RC_INVALID, "do not match", NULL);
    expect_refusal("server.crt", "server.key", NULL, RC_TLS_AUTH_YES, RC_INVALID, "tls-ca-cert-file", NULL);
    expect_refusal("server.crt", "server.key", "garbage.pem", RC_TLS_AUTH_OPTIONAL, RC_INVALID, "tls-ca-cert-file",
                   NULL);
    expect_refusal(NULL, "server.key", NULL, RC_TLS_AUTH_NO, RC_INVALID, "tls-cert-file", NULL);

    rc_tls *t = server_creds(RC_TLS_AUTH_YES);
    ck_assert_ptr_nonnull(strstr(rc_tls_cert_pem(t), "BEGIN CERTIFICATE"));
    ck_assert_ptr_nonnull(strstr(rc_tls_key_pem(t), "PRIVATE KEY"));
    ck_assert_ptr_nonnull(rc_tls_ca_pem(t));
    ck_assert_int_eq(rc_tls_auth_mode(t), RC_TLS_AUTH_YES);
    rc_tls_free(t);
    rc_tls_free(NULL);
}
END_TEST

START_TEST(t_auth_parse) {
    rc_tls_auth a;
    ck_assert_int_eq(rc_tls_auth_parse("no", &a), RC_OK);
    ck_assert_int_eq(a, RC_TLS_AUTH_NO);
    ck_assert_int_eq(rc_tls_auth_parse("OPTIONAL", &a), RC_OK);
    ck_assert_int_eq(a, RC_TLS_AUTH_OPTIONAL);
    ck_assert_int_eq(rc_tls_auth_parse("yes", &a), RC_OK);
    ck_assert_int_eq(a, RC_TLS_AUTH_YES);
    ck_assert_int_eq(rc_tls_auth_parse("maybe", &a), RC_INVALID);
    ck_assert_int_eq(rc_tls_auth_parse(NULL, &a), RC_INVALID);
}
END_TEST

START_TEST(t_io) {
    pki();
    pair p;
    pair_open(&p, RC_TLS_AUTH_NO, NULL);
    ck_assert_int_eq(p.server_rc, RC_TLS_DONE);
    ck_assert(rc_tls_conn_handshake_done(p.srv));

    /* nothing yet: EAGAIN, waiting to read */
    char buf[64 * 1024];
    errno = 0;
    ck_assert_int_eq(rc_tls_conn_read(p.srv, buf, sizeof buf), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(rc_tls_conn_want_write(p.srv), 0);

    /* three records at once: one read takes part of one, the rest waits
     * inside GnuTLS where the socket cannot show it */
    for (int i = 0; i < 3; i++) ck_assert_int_eq(gnutls_record_send(p.cl.s, "0123456789", 10), 10);
    ck_assert_int_eq(rc_tls_conn_read(p.srv, buf, 4), 4);
    ck_assert_uint_eq(rc_tls_conn_pending(p.srv), 6);
    size_t got = 4;
    for (int i = 0; i < 10 && got < 30; i++) {
        ssize_t n = rc_tls_conn_read(p.srv, buf + got, sizeof buf - got);
        if (n > 0) got += (size_t)n;
    }
    ck_assert_uint_eq(got, 30);
    ck_assert_int_eq(memcmp(buf, "012345678901234567890123456789", 30), 0);
    ck_assert_uint_eq(rc_tls_conn_pending(p.srv), 0);

    /* write until the socket is full, then retry with more bytes offered:
     * the count is the earlier attempt's and the peer sees every byte */
    size_t total = 4 * 1024 * 1024, sent = 0, recvd = 0;
    unsigned char *out = malloc(total), *in = malloc(total);
    for (size_t i = 0; i < total; i++) out[i] = (unsigned char)(i * 7 + (i >> 12));
    int again = 0;
    while (recvd < total) {
        if (sent < total) {
            size_t offer = total - sent;
            ssize_t n = rc_tls_conn_write(p.srv, out + sent, offer);
            if (n > 0) {
                sent += (size_t)n;
            } else {
                ck_assert_int_eq(errno, EAGAIN);
                ck_assert_int_eq(rc_tls_conn_want_write(p.srv), 1);
                again++;
            }
        }
        if (sent == total || again % 2) {
            ssize_t n = gnutls_record_recv(p.cl.s, in + recvd, total - recvd);
            if (n > 0) recvd += (size_t)n;
            else ck_assert_int_eq(n, GNUTLS_E_AGAIN);
        }
    }
    ck_assert_int_gt(again, 0);
    ck_assert_int_eq(memcmp(in, out, total), 0);
    free(out);
    free(in);

    /* the peer's close_notify reads as EOF */
    gnutls_bye(p.cl.s, GNUTLS_SHUT_WR);
    ssize_t n = -1;
    for (int i = 0; i < 10 && n != 0; i++) n = rc_tls_conn_read(p.srv, buf, sizeof buf);
    ck_assert_int_eq(n, 0);
    rc_tls_conn_bye(p.srv);
    pair_close(&p);
}
END_TEST

START_TEST(t_not_tls) {
    pki();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    rc_tls *t = server_creds(RC_TLS_AUTH_NO);
    rc_tls_conn *c;
    rc_err err;
    ck_assert_int_eq(rc_tls_conn_new(&c, t, sv[0], &err), RC_OK);
    ck_assert_int_eq(write(sv[1], "*1\r\n$4\r\nPING\r\n", 14), 14);
    ck_assert_int_eq(rc_tls_conn_handshake(c, &err), RC_TLS_FAILED);
    ck_assert_ptr_nonnull(strstr(err.msg, "handshake"));
    ck_assert_int_eq(rc_tls_conn_read(c, (char[16]){0}, 16), -1);
    ck_assert_int_eq(errno, EIO);
    rc_tls_conn_free(c);
    rc_tls_free(t);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

static void client_cert_case(rc_tls_auth auth, const char *cert, int want) {
    pair p;
    pair_open(&p, auth, cert);
    ck_assert_msg(p.server_rc == want, "auth %d cert %s: server %d (%s)", auth, cert ? cert : "none", p.server_rc,
                  p.err.msg);
    if (want == RC_TLS_FAILED) ck_assert_msg(strstr(p.err.msg, "certificate"), "message: %s", p.err.msg);
    pair_close(&p);
}

START_TEST(t_client_certs) {
    pki();
    client_cert_case(RC_TLS_AUTH_YES, NULL, RC_TLS_FAILED);
    client_cert_case(RC_TLS_AUTH_YES, "rogue", RC_TLS_FAILED);
    client_cert_case(RC_TLS_AUTH_YES, "client", RC_TLS_DONE);
    client_cert_case(RC_TLS_AUTH_OPTIONAL, NULL, RC_TLS_DONE);
    client_cert_case(RC_TLS_AUTH_OPTIONAL, "rogue", RC_TLS_FAILED);
    client_cert_case(RC_TLS_AUTH_OPTIONAL, "client", RC_TLS_DONE);
    client_cert_case(RC_TLS_AUTH_NO, "rogue", RC_TLS_DONE); /* not asked, not checked */
}
END_TEST

int main(void) {
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, t_load_errors);
    tcase_add_test(tc, t_auth_parse);
    tcase_add_test(tc, t_io);
    tcase_add_test(tc, t_not_tls);
    tcase_add_test(tc, t_client_certs);
    suite_add_tcase(s, tc);
    return rc_test_run(s);
}
