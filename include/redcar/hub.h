/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hub: live fan-out of committed events to subscribers.
 *
 * The store calls rc_hub_publish() once per group commit (its commit hook),
 * on the writer thread. The hub finds the subscribers an event is for and
 * calls their deliver callback. Delivery callbacks run on the writer thread
 * with the hub locked: they must only copy what they need into the door's
 * own bounded queue and wake the door; they must not block or call the hub.
 *
 * The channel of an event is its subject, or its type when it has none.
 * Subscribers match by exact channel (a hash lookup, not a loop over all
 * subscribers), by Redis glob pattern on the channel, or by a filter
 * callback over the whole event (SSE, cursors).
 *
 * Cast modes come from the event's `castmode` extension:
 *  multicast (default): every matching subscription; members of one group
 *                       count as one (the group hands it to one member).
 *  broadcast:           every live subscriber, filters ignored.
 *  unicast:             exactly one subscriber: the one (or the group) whose
 *                       name equals the `castto` extension, else one of the
 *                       matching subscribers in turn (round robin).
 * Observers (rc_sub_opts.observer) stand outside the modes: they see what
 * they match, as in multicast, for every event.
 *
 * Contract (libuv's): after rc_hub_unsubscribe() returns, the subscriber's
 * callback is never called again.
 */
#ifndef REDCAR_HUB_H
#define REDCAR_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "redcar/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_hub rc_hub;
typedef struct rc_sub rc_sub;

/* Why a subscriber receives an event: which of its channels or patterns
 * matched (both NULL for a filter or broadcast delivery). */
typedef struct rc_delivery {
    const rc_event *ev;       /* borrowed for the call; ev->seq is set */
    const char *channel;      /* the event's channel */
    const char *pattern;      /* the matching pattern, for pmessage */
    int via_channel;          /* 1 when an exact channel subscription matched */
} rc_delivery;

typedef void (*rc_hub_deliver_fn)(void *arg, const rc_delivery *d);
/* Optional filter over the whole event; returns 1 to deliver. */
typedef int (*rc_hub_filter_fn)(void *arg, const rc_event *ev);

typedef struct rc_sub_opts {
    const char *name;          /* for unicast `castto` (RESP CLIENT SETNAME, SSE name=) */
    const char *group;         /* subscribers sharing a group count as one */
    rc_hub_deliver_fn deliver;
    void *arg;
    rc_hub_filter_fn filter;   /* NULL: channels/patterns only */
    void *filter_arg;
    int match_all;             /* 1: every event (subject to filter) */
    /* 1: an observer inside the server (a cache to invalidate, keyspace
     * notifications), not an addressee: it gets every event its channels,
     * patterns and filter match, whatever the cast mode, and is never a
     * broadcast, unicast or castto target. */
    int observer;
} rc_sub_opts;

rc_hub *rc_hub_new(void);
void rc_hub_free(rc_hub *hub);

/* The store's commit hook: rc_store_set_commit_hook(st, rc_hub_publish_hook, hub). */
void rc_hub_publish_hook(void *hub, rc_event *const *evs, size_t n);
/* Start the head at the store's head (on start-up, before any commit). */
void rc_hub_set_head(rc_hub *hub, uint64_t seq);
/* Highest seq the hub has seen. */
uint64_t rc_hub_head(rc_hub *hub);
/* Block until the head passes after_seq or timeout_ms elapses (long poll).
 * Returns the head. */
uint64_t rc_hub_wait(rc_hub *hub, uint64_t after_seq, int timeout_ms);

/* Called once at the end of every rc_hub_publish_hook() call, after all the
 * deliveries of that batch, on the same thread and with the hub locked (the
 * same rules as a deliver callback). A door that stages deliveries in its
 * callbacks hands them over here: one hand-over and one wake-up per commit
 * group instead of one per delivery. After rc_hub_del_batch_hook() returns
 * the hook is never called again. */
typedef void (*rc_hub_batch_fn)(void *arg);
int rc_hub_add_batch_hook(rc_hub *hub, rc_hub_batch_fn fn, void *arg);   /* RC_OK or RC_NOMEM */
void rc_hub_del_batch_hook(rc_hub *hub, rc_hub_batch_fn fn, void *arg);

rc_sub *rc_hub_subscribe(rc_hub *hub, const rc_sub_opts *opts);
void rc_hub_unsubscribe(rc_hub *hub, rc_sub *sub);   /* frees sub */
int rc_sub_set_name(rc_hub *hub, rc_sub *sub, const char *name);
/* Channels and patterns; return 1 if added/removed, 0 if it was already so. */
int rc_sub_add_channel(rc_hub *hub, rc_sub *sub, const char *channel);
int rc_sub_del_channel(rc_hub *hub, rc_sub *sub, const char *channel);
int rc_sub_add_pattern(rc_hub *hub, rc_sub *sub, const char *pattern);
int rc_sub_del_pattern(rc_hub *hub, rc_sub *sub, const char *pattern);
size_t rc_sub_count(rc_hub *hub, const rc_sub *sub);   /* channels + patterns */

/* PUBSUB introspection. */
size_t rc_hub_numsub(rc_hub *hub, const char *channel);
size_t rc_hub_numpat(rc_hub *hub);
size_t rc_hub_subscribers(rc_hub *hub);   /* not counting observers */
/* Channels with at least one subscriber, optionally matching a glob. */
typedef void (*rc_hub_channel_fn)(void *arg, const char *channel);
void rc_hub_channels(rc_hub *hub, const char *glob, rc_hub_channel_fn fn, void *arg);

/* Redis glob matching (*, ?, [...], \ escapes), binary-safe. */
int rc_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

/* Channel of an event: subject, else type. */
const char *rc_event_channel(const rc_event *ev);

#ifdef __cplusplus
}
#endif
#endif
