/* SPDX-License-Identifier: Apache-2.0 */
/* Hub: channel/pattern matching, cast modes, groups, glob, unsubscribe contract. */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redcar/hub.h"
#include "check_main.h"

typedef struct {
    int got;
    char last_channel[64];
    char last_pattern[64];
} rx;

static void on_deliver(void *arg, const rc_delivery *d) {
    rx *r = arg;
    r->got++;
    snprintf(r->last_channel, sizeof r->last_channel, "%s", d->channel);
    snprintf(r->last_pattern, sizeof r->last_pattern, "%s", d->pattern ? d->pattern : "");
}

static rc_event *mk(const char *subject, const char *type, const char *mode, const char *to, uint64_t seq) {
    rc_event *ev = rc_event_new();
    rc_event_set(ev, "specversion", "1.0");
    rc_event_set(ev, "id", "1");
    rc_event_set(ev, "source", "/t");
    rc_event_set(ev, "type", type);
    if (subject) rc_event_set(ev, "subject", subject);
    if (mode) rc_event_set(ev, "castmode", mode);
    if (to) rc_event_set(ev, "castto", to);
    ev->seq = seq;
    return ev;
}

static void pub(rc_hub *h, rc_event *ev) {
    rc_hub_publish_hook(h, &ev, 1);
    rc_event_free(ev);
}

static rc_sub *sub(rc_hub *h, rx *r, const char *name, const char *group) {
    rc_sub_opts o = {name, group, on_deliver, r, NULL, NULL, 0, 0};
    return rc_hub_subscribe(h, &o);
}

START_TEST(glob_matches_like_redis) {
    ck_assert(rc_glob_match("orders/*", 8, "orders/42", 9, 0));
    ck_assert(!rc_glob_match("orders/*", 8, "order/42", 8, 0));
    ck_assert(rc_glob_match("h?llo", 5, "hallo", 5, 0));
    ck_assert(rc_glob_match("h[ae]llo", 8, "hello", 5, 0));
    ck_assert(!rc_glob_match("h[^e]llo", 8, "hello", 5, 0));
    ck_assert(rc_glob_match("h[a-b]llo", 9, "hbllo", 5, 0));
    ck_assert(rc_glob_match("a\\*b", 4, "a*b", 3, 0));
    ck_assert(!rc_glob_match("a\\*b", 4, "axb", 3, 0));
    ck_assert(rc_glob_match("*", 1, "", 0, 0));
    ck_assert(rc_glob_match("HELLO", 5, "hello", 5, 1));
    /* pathological pattern finishes quickly */
    const char *p = "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    char s[200];
    memset(s, 'a', sizeof s);
    ck_assert(!rc_glob_match(p, strlen(p), s, sizeof s, 0));
}
END_TEST

START_TEST(channel_and_pattern) {
    rc_hub *h = rc_hub_new();
    rx a = {0}, b = {0}, c = {0};
    rc_sub *sa = sub(h, &a, NULL, NULL), *sb = sub(h, &b, NULL, NULL), *sc = sub(h, &c, NULL, NULL);
    ck_assert_int_eq(rc_sub_add_channel(h, sa, "orders/42"), 1);
    ck_assert_int_eq(rc_sub_add_channel(h, sa, "orders/42"), 0);
    ck_assert_int_eq(rc_sub_add_pattern(h, sb, "orders/*"), 1);
    pub(h, mk("orders/42", "t", NULL, NULL, 1));
    ck_assert_int_eq(a.got, 1);
    ck_assert_int_eq(b.got, 1);
    ck_assert_str_eq(b.last_pattern, "orders/*");
    ck_assert_int_eq(c.got, 0);
    /* no subject: the channel is the type */
    rc_sub_add_channel(h, sc, "com.example.ping");
    pub(h, mk(NULL, "com.example.ping", NULL, NULL, 2));
    ck_assert_int_eq(c.got, 1);
    ck_assert_str_eq(c.last_channel, "com.example.ping");
    ck_assert_int_eq(rc_hub_numsub(h, "orders/42"), 1);
    ck_assert_int_eq(rc_hub_numpat(h), 1);
    ck_assert_uint_eq(rc_hub_head(h), 2);
    ck_assert_int_eq(rc_sub_del_channel(h, sa, "orders/42"), 1);
    ck_assert_int_eq(rc_hub_numsub(h, "orders/42"), 0);
    rc_hub_unsubscribe(h, sb);
    pub(h, mk("orders/42", "t", NULL, NULL, 3));
    ck_assert_int_eq(a.got, 1);
    ck_assert_int_eq(b.got, 1);
    ck_assert_int_eq(rc_hub_numpat(h), 0);
    rc_hub_unsubscribe(h, sa);
    rc_hub_unsubscribe(h, sc);
    ck_assert_int_eq(rc_hub_subscribers(h), 0);
    rc_hub_free(h);
}
END_TEST

START_TEST(broadcast_ignores_filters) {
    rc_hub *h = rc_hub_new();
    rx a = {0}, b = {0};
    sub(h, &a, NULL, NULL);
    rc_sub *sb = sub(h, &b, NULL, NULL);
    rc_sub_add_channel(h, sb, "x");
    pub(h, mk("y", "t", "broadcast", NULL, 1));
    ck_assert_int_eq(a.got, 1);
    ck_assert_int_eq(b.got, 1);
    rc_hub_free(h);
}
END_TEST

START_TEST(multicast_group_counts_as_one) {
    rc_hub *h = rc_hub_new();
    rx m[3] = {{0}}, solo = {0};
    for (int i = 0; i < 3; i++) rc_sub_add_channel(h, sub(h, &m[i], NULL, "workers"), "jobs");
    rc_sub_add_channel(h, sub(h, &solo, NULL, NULL), "jobs");
    for (int i = 0; i < 30; i++) pub(h, mk("jobs", "t", NULL, NULL, (uint64_t)i + 1));
    ck_assert_int_eq(solo.got, 30);
    ck_assert_int_eq(m[0].got + m[1].got + m[2].got, 30);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(m[i].got, 10); /* round robin */
    rc_hub_free(h);
}
END_TEST

START_TEST(unicast_by_name_group_or_turn) {
    rc_hub *h = rc_hub_new();
    rx a = {0}, b = {0}, g1 = {0}, g2 = {0};
    rc_sub_add_channel(h, sub(h, &a, "alice", NULL), "q");
    rc_sub_add_channel(h, sub(h, &b, "bob", NULL), "q");
    sub(h, &g1, NULL, "team");
    sub(h, &g2, NULL, "team");
    pub(h, mk("q", "t", "unicast", "bob", 1));
    ck_assert_int_eq(a.got, 0);
    ck_assert_int_eq(b.got, 1);
    pub(h, mk("zzz", "t", "unicast", "team", 2));
    pub(h, mk("zzz", "t", "unicast", "team", 3));
    ck_assert_int_eq(g1.got, 1);
    ck_assert_int_eq(g2.got, 1);
    /* without castto: one matching subscriber, in turn */
    for (int i = 0; i < 10; i++) pub(h, mk("q", "t", "unicast", NULL, (uint64_t)i + 4));
    ck_assert_int_eq(a.got + b.got, 11);
    ck_assert_int_eq(a.got, 5);
    /* unknown target: nobody */
    pub(h, mk("q", "t", "unicast", "nobody", 20));
    ck_assert_int_eq(a.got + b.got + g1.got + g2.got, 13);
    rc_hub_free(h);
}
END_TEST

/* castto is client input: unicast to names nobody has, and groups that come
 * and go, must not leave state behind in the hub (it once kept a turn
 * record per castto name: unbounded memory and a slower lookup for every
 * later event). mallinfo2 sees glibc's heap (under ASan it sees nothing and
 * the bound holds trivially). */
START_TEST(unicast_unknown_targets_keep_no_state) {
    rc_hub *h = rc_hub_new();
    rx a = {0}, g = {0};
    rc_sub_add_channel(h, sub(h, &a, "alice", NULL), "q");
    char name[48];
    pub(h, mk("q", "t", "unicast", "warm-up", 1)); /* scratch arrays reach their size */
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "nobody-with-a-longish-name-%d", i);
        pub(h, mk("q", "t", "unicast", name, (uint64_t)i + 2));
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "team-%d", i);
        rc_sub *m = sub(h, &g, NULL, name);
        pub(h, mk("q", "t", "unicast", name, (uint64_t)i + 30000));
        rc_hub_unsubscribe(h, m);
    }
    size_t after = mallinfo2().uordblks;
    ck_assert_int_eq(a.got, 0);
    ck_assert_int_eq(g.got, 2000); /* each short-lived group got its event */
    ck_assert_msg(after < before + 64 * 1024, "hub grew by %zu bytes", after - before);
    rc_hub_free(h);
}
END_TEST

static int only_type_a(void *arg, const rc_event *ev) {
    (void)arg;
    return !strcmp(ev->type, "a");
}

START_TEST(match_all_with_filter) {
    rc_hub *h = rc_hub_new();
    rx r = {0};
    rc_sub_opts o = {NULL, NULL, on_deliver, &r, only_type_a, NULL, 1, 0};
    rc_hub_subscribe(h, &o);
    pub(h, mk("s1", "a", NULL, NULL, 1));
    pub(h, mk("s2", "b", NULL, NULL, 2));
    pub(h, mk(NULL, "a", NULL, NULL, 3));
    ck_assert_int_eq(r.got, 2);
    ck_assert_uint_eq(rc_hub_wait(h, 2, 10), 3);
    ck_assert_uint_eq(rc_hub_wait(h, 3, 20), 3); /* times out */
    rc_hub_free(h);
}
END_TEST

/* An observer (the RESP door's read cache, keyspace notifications) sees what
 * it matches whatever the cast mode and is never an addressee: broadcast
 * does not hand it events its filter refuses (its deliver callback may rely
 * on the filter), unicast neither targets it nor counts it in the turn, and
 * a unicast event still reaches it (a KV change must invalidate the cache,
 * whoever the event was cast to). */
START_TEST(observers_see_every_cast_mode) {
    rc_hub *h = rc_hub_new();
    rx a = {0}, obs = {0};
    rc_sub_add_channel(h, sub(h, &a, "alice", NULL), "q");
    rc_sub_opts o = {"cache", NULL, on_deliver, &obs, only_type_a, NULL, 1, 1};
    ck_assert_ptr_nonnull(rc_hub_subscribe(h, &o));
    pub(h, mk("q", "b", "broadcast", NULL, 1));
    ck_assert_int_eq(a.got, 1);
    ck_assert_int_eq(obs.got, 0); /* filter honoured */
    pub(h, mk("q", "a", "broadcast", NULL, 2));
    ck_assert_int_eq(a.got, 2);
    ck_assert_int_eq(obs.got, 1);
    pub(h, mk("q", "a", "unicast", "cache", 3)); /* not a target */
    ck_assert_int_eq(a.got, 2);
    ck_assert_int_eq(obs.got, 2); /* but it observes */
    pub(h, mk("q", "b", "unicast", "cache", 4));
    ck_assert_int_eq(obs.got, 2);
    pub(h, mk("zzz", "a", "unicast", "alice", 5));
    ck_assert_int_eq(a.got, 3);
    ck_assert_int_eq(obs.got, 3);
    for (int i = 0; i < 10; i++) pub(h, mk("q", "a", "unicast", NULL, (uint64_t)i + 6));
    ck_assert_int_eq(a.got, 13); /* the only addressee gets every turn */
    ck_assert_int_eq(obs.got, 13);
    pub(h, mk("q", "a", NULL, NULL, 20)); /* multicast: both, as before */
    ck_assert_int_eq(a.got, 14);
    ck_assert_int_eq(obs.got, 14);
    ck_assert_uint_eq(rc_hub_subscribers(h), 1); /* observers are not counted */
    rc_hub_free(h);
}
END_TEST

static void count_chan(void *arg, const char *c) {
    (void)c;
    (*(int *)arg)++;
}

START_TEST(many_channels_rehash) {
    rc_hub *h = rc_hub_new();
    rx r = {0};
    rc_sub *s = sub(h, &r, NULL, NULL);
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "ch:%d", i);
        rc_sub_add_channel(h, s, name);
    }
    int n = 0;
    rc_hub_channels(h, "ch:1*", count_chan, &n);
    ck_assert_int_eq(n, 1111);
    pub(h, mk("ch:4999", "t", NULL, NULL, 1));
    ck_assert_int_eq(r.got, 1);
    ck_assert_uint_eq(rc_sub_count(h, s), 5000);
    rc_hub_unsubscribe(h, s);
    n = 0;
    rc_hub_channels(h, NULL, count_chan, &n);
    ck_assert_int_eq(n, 0);
    rc_hub_free(h);
}
END_TEST

/* The batch hook runs once per publish call, after every delivery of the
 * batch (what a door relies on to hand staged deliveries over), and never
 * after it is removed. */
typedef struct {
    rx *r;
    int calls;
    int got_at_call;
} batch_rx;

static void on_batch(void *arg) {
    batch_rx *b = arg;
    b->calls++;
    b->got_at_call = b->r->got;
}

START_TEST(batch_hook_once_per_publish) {
    rc_hub *h = rc_hub_new();
    rx r = {0};
    batch_rx b = {&r, 0, 0};
    rc_sub *s = sub(h, &r, NULL, NULL);
    rc_sub_add_channel(h, s, "c");
    ck_assert_int_eq(rc_hub_add_batch_hook(h, on_batch, &b), RC_OK);
    rc_event *evs[3] = {mk("c", "t", NULL, NULL, 1), mk("c", "t", NULL, NULL, 2), mk("x", "t", NULL, NULL, 3)};
    rc_hub_publish_hook(h, evs, 3);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(b.got_at_call, 2); /* after both deliveries of the batch */
    pub(h, mk("nobody", "t", NULL, NULL, 4));
    ck_assert_int_eq(b.calls, 2); /* also for a batch that delivered nothing */
    rc_hub_del_batch_hook(h, on_batch, &b);
    pub(h, mk("c", "t", NULL, NULL, 5));
    ck_assert_int_eq(b.calls, 2);
    ck_assert_int_eq(r.got, 3);
    for (int i = 0; i < 3; i++) rc_event_free(evs[i]);
    rc_hub_unsubscribe(h, s);
    rc_hub_free(h);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hub");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, glob_matches_like_redis);
    tcase_add_test(tc, channel_and_pattern);
    tcase_add_test(tc, broadcast_ignores_filters);
    tcase_add_test(tc, multicast_group_counts_as_one);
    tcase_add_test(tc, unicast_by_name_group_or_turn);
    tcase_add_test(tc, unicast_unknown_targets_keep_no_state);
    tcase_add_test(tc, match_all_with_filter);
    tcase_add_test(tc, observers_see_every_cast_mode);
    tcase_add_test(tc, many_channels_rehash);
    tcase_add_test(tc, batch_hook_once_per_publish);
    suite_add_tcase(s, tc);
    return rc_test_run(s);
}
