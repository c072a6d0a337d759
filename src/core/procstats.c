/* SPDX-License-Identifier: Apache-2.0 */
/* Process-wide figures (redcar/procstats.h): the start time is taken when
 * the program is loaded, before main(), so every door measures uptime from
 * the same instant. */
#include <stdatomic.h>
#include <time.h>

#include "redcar/procstats.h"

static int64_t start_ms;
static atomic_int_fast64_t gauges[RC_PROC__N];

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((constructor)) static void procstats_start(void) { start_ms = mono_ms(); }

int64_t rc_procstats_uptime_ms(void) { return mono_ms() - start_ms; }

void rc_procstats_add(rc_proc_gauge g, int64_t delta) {
    atomic_fetch_add_explicit(&gauges[g], delta, memory_order_relaxed);
}

uint64_t rc_procstats_get(rc_proc_gauge g) {
    int64_t v = atomic_load_explicit(&gauges[g], memory_order_relaxed);
    return v > 0 ? (uint64_t)v : 0;
}
