/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cost of the CloudEvents JSON codec per event: decode (which includes
 * validation), validate alone, encode alone, for one typical structured
 * event (~350 bytes: the required attributes, time, subject, content type,
 * three extensions, a small JSON object as data) and for a batch of 1,000
 * such events (one JSON array, as the HTTP door receives it).
 *
 *   bench_event [-n rounds] [-r repeats] [-f file.json]
 *
 * Each figure is the best of -r repeats (default 5) of -n rounds, in
 * nanoseconds of wall-clock time per event on one thread. -f measures a
 * single event of your own instead of the built-in one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "redcar/event.h"

static const char typical[] =
    "{\"specversion\":\"1.0\",\"id\":\"7d9c1f2e-4b3a-4c5d-9e8f-0a1b2c3d4e5f\","
    "\"source\":\"https://orders.example.com/api\",\"type\":\"com.example.order.created\","
    "\"subject\":\"orders/12345\",\"time\":\"2026-11-21T05:02:06.123Z\","
    "\"datacontenttype\":\"application/json\","
    "\"tenant\":\"acme\",\"partitionkey\":\"c-981\",\"priority\":3,"
    "\"data\":{\"orderId\":12345,\"customer\":\"c-981\",\"total\":149.95,"
    "\"items\":[{\"sku\":\"A-1\",\"qty\":2}]}}";

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what, const rc_err *err) {
    fprintf(stderr, "bench_event: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    rc_buf b = RC_BUF_INIT;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) rc_buf_append(&b, chunk, k);
    fclose(f);
    return rc_buf_detach(&b, len);
}

#define BATCH 1000

int main(int argc, char **argv) {
    long rounds = 200000, repeats = 5;
    const char *file = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "n:r:f:")) != -1) {
        switch (opt) {
        case 'n': rounds = atol(optarg); break;
        case 'r': repeats = atol(optarg); break;
        case 'f': file = optarg; break;
        default:
            fprintf(stderr, "usage: bench_event [-n rounds] [-r repeats] [-f file.json]\n");
            return 2;
        }
    }
    if (rounds < 1 || repeats < 1) return 2;

    const char *one = typical;
    size_t one_len = sizeof typical - 1;
    char *own = NULL;
    if (file) {
        if (!(own = slurp(file, &one_len))) {
            perror(file);
            return 1;
        }
        one = own;
    }

    rc_err err;
    rc_event *ev;
    if (rc_event_decode_json(one, one_len, &ev, &err)) die("decode", &err);

    /* The batch: BATCH copies with distinct ids, as one JSON array. */
    rc_buf batch = RC_BUF_INIT;
    rc_buf_putc(&batch, '[');
    for (int i = 0; i < BATCH; i++) {
        char id[32];
        snprintf(id, sizeof id, "ev-%06d", i);
        rc_event_set(ev, "id", id);
        if (i) rc_buf_putc(&batch, ',');
        rc_event_encode_json(ev, 0, &batch);
    }
    rc_buf_putc(&batch, ']');
    rc_event **evs;
    size_t n;
    if (rc_event_decode_batch(batch.p, batch.len, &evs, &n, &err) || n != BATCH) die("batch decode", &err);

    long batch_rounds = rounds / BATCH > 0 ? rounds / BATCH : 1;
    double best[6] = {1e300, 1e300, 1e300, 1e300, 1e300, 1e300};
    rc_buf out = RC_BUF_INIT;
    volatile size_t sink = 0;
    for (long r = 0; r < repeats; r++) {
        double t0 = now_ns();
        for (long i = 0; i < rounds; i++) {
            rc_event *e;
            if (rc_event_decode_json(one, one_len, &e, &err)) die("decode", &err);
            sink += e->n_ext;
            rc_event_free(e);
        }
        double t1 = now_ns();
        for (long i = 0; i < rounds; i++)
            if (rc_event_validate(ev, &err)) die("validate", &err);
        double t2 = now_ns();
        for (long i = 0; i < rounds; i++) {
            rc_buf_reset(&out);
            rc_event_encode_json(ev, RC_ENC_SEQ, &out);
            sink += out.len;
        }
        double t3 = now_ns();
        for (long i = 0; i < batch_rounds; i++) {
            rc_event **b;
            size_t m;
            if (rc_event_decode_batch(batch.p, batch.len, &b, &m, &err)) die("batch decode", &err);
            sink += m;
            rc_event_free_array(b, m);
        }
        double t4 = now_ns();
        for (long i = 0; i < batch_rounds; i++)
            for (size_t k = 0; k < n; k++)
                if (rc_event_validate(evs[k], &err)) die("validate", &err);
        double t5 = now_ns();
        for (long i = 0; i < batch_rounds; i++) {
            rc_buf_reset(&out);
            rc_event_encode_batch(evs, n, RC_ENC_SEQ, &out);
            sink += out.len;
        }
        double t6 = now_ns();
        double per[6] = {
            (t1 - t0) / rounds, (t2 - t1) / rounds, (t3 - t2) / rounds,
            (t4 - t3) / ((double)batch_rounds * BATCH), (t5 - t4) / ((double)batch_rounds * BATCH),
            (t6 - t5) / ((double)batch_rounds * BATCH),
        };
        for (int k = 0; k < 6; k++)
            if (per[k] < best[k]) best[k] = per[k];
    }
    (void)sink;

    printf("event: %zu bytes; batch: %d events, %zu bytes; best of %ld x %ld rounds\n", one_len, BATCH,
           batch.len, repeats, rounds);
    printf("%-8s %12s %12s %12s\n", "ns/event", "decode", "validate", "encode");
    printf("%-8s %12.0f %12.0f %12.0f\n", "single", best[0], best[1], best[2]);
    printf("%-8s %12.0f %12.0f %12.0f\n", "batch", best[3], best[4], best[5]);
    printf("batch decode: %.0f events/s on one thread\n", 1e9 / best[3]);

    rc_buf_free(&out);
    rc_buf_free(&batch);
    rc_event_free_array(evs, n);
    rc_event_free(ev);
    free(own);
    return 0;
}
