/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RESP over TLS: the loop's few hooks (door.h), so that loop.c only asks
 * "is this a TLS client" in its one read and one write.
 *
 * Two things differ from a plain socket under level-triggered epoll:
 * - the handshake runs first, driven by readiness in whichever direction
 *   GnuTLS last asked for (gnutls_record_get_direction);
 * - GnuTLS may hold decrypted input that the socket no longer signals: the
 *   rest of a record larger than the read, when input paused (the client
 *   held or throttled) or the read's round limit was reached. Such clients
 *   sit on the door's tls_pend list, and the loop reads them before it
 *   sleeps. (GnuTLS reads a record's header, then exactly its body, so
 *   whole records never hide inside it: the socket still shows them, and a
 *   read shorter than asked means nothing is left behind, as for plain.)
 *
 * Trust boundary: the bytes are the network's; GnuTLS parses them and a
 * failed handshake (not TLS, a refused client certificate) closes the
 * client without touching anything else.
 */
#include <errno.h>
#include <sys/epoll.h>

#include "redcar/log.h"
#include "resp/door.h"

int rc__r_tls_attach(rc__client *cl) {
    rc_err err;
    rc_err_clear(&err);
    int rc = rc_tls_conn_new(&cl->tls, cl->door->tls, cl->fd, &err);
    if (rc != RC_OK) RC_WARN("resp", "tls: client %s: %s", cl->addr, rc_err_msg(&err));
    return rc;
}

static void pend_remove(rc__client *cl) {
    if (!cl->tls_pend) return;
    if (cl->tls_pprev) cl->tls_pprev->tls_pnext = cl->tls_pnext;
    else cl->door->tls_pend = cl->tls_pnext;
    if (cl->tls_pnext) cl->tls_pnext->tls_pprev = cl->tls_pprev;
    cl->tls_pprev = cl->tls_pnext = NULL;
    cl->tls_pend = 0;
}

void rc__r_tls_note_pending(rc__client *cl) {
    if (cl->dead || !cl->tls || cl->tls_pend || !rc_tls_conn_pending(cl->tls)) return;
    cl->tls_pend = 1;
    cl->tls_pprev = NULL;
    cl->tls_pnext = cl->door->tls_pend;
    if (cl->tls_pnext) cl->tls_pnext->tls_pprev = cl;
    cl->door->tls_pend = cl;
}

static int may_read(const rc__client *cl) { return !cl->dead && !cl->held && !cl->throttled && !cl->closing; }

int rc__r_tls_kick(rc_resp *d, void (*read)(rc__client *)) {
    /* A snapshot: read() may close clients (which only unlinks them; they
     * are freed after the loop iteration) and puts back the ones that still
     * hold input, which wait for the next round instead of looping here. */
    rc__client *batch[256];
    size_t n = 0;
    for (rc__client *cl = d->tls_pend; cl && n < sizeof batch / sizeof batch[0]; cl = cl->tls_pnext)
        if (may_read(cl)) batch[n++] = cl;
    for (size_t i = 0; i < n; i++) {
        rc__client *cl = batch[i];
        if (!cl->tls_pend || !may_read(cl)) continue;
        pend_remove(cl);
        read(cl);
    }
    int waiting = 0;
    for (rc__client *cl = d->tls_pend; cl; cl = cl->tls_pnext)
        if (may_read(cl)) waiting++;
    return waiting;
}

int rc__r_tls_handshake(rc__client *cl) {
    if (rc_tls_conn_handshake_done(cl->tls)) return RC_TLS_DONE;
    rc_err err;
    rc_err_clear(&err);
    int r = rc_tls_conn_handshake(cl->tls, &err);
    if (r == RC_TLS_FAILED) {
        RC_INFO("resp", "tls: client %llu (%s): %s", (unsigned long long)cl->id, cl->addr, rc_err_msg(&err));
        rc__r_client_close(cl, "TLS handshake failed");
        return r;
    }
    /* AGAIN: wait in the direction GnuTLS asked for; DONE: back to input
     * (a reply cannot be queued before the first command). */
    unsigned want = r == RC_TLS_AGAIN && rc_tls_conn_want_write(cl->tls) ? EPOLLOUT : EPOLLIN;
    if (want != cl->ev_mask) {
        struct epoll_event ev = {.events = want, .data.u64 = rc__r_tag(cl)};
        epoll_ctl(cl->door->epfd, EPOLL_CTL_MOD, cl->fd, &ev);
        cl->ev_mask = want;
    }
    if (r == RC_TLS_DONE) {
        RC_DEBUG("resp", "tls: client %llu (%s) handshake done", (unsigned long long)cl->id, cl->addr);
        rc__r_tls_note_pending(cl); /* a command sent with the last handshake flight */
    }
    return r;
}

void rc__r_tls_close(rc__client *cl) {
    pend_remove(cl);
    rc_tls_conn_bye(cl->tls);
    rc_tls_conn_free(cl->tls);
    cl->tls = NULL;
}
