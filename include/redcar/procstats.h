/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Figures of the whole process that more than one door reports: how long
 * it has been up, and how many clients each door has. RESP INFO, HTTP
 * /info and /metrics all read them here, so they cannot disagree (each door
 * used to keep its own start time). Lock-free: relaxed atomics.
 */
#ifndef REDCAR_PROCSTATS_H
#define REDCAR_PROCSTATS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RC_PROC_RESP_CLIENTS, /* RESP connections */
    RC_PROC_SSE_CLIENTS,  /* open Server-Sent Events streams (GET /events/stream) */
    RC_PROC__N
} rc_proc_gauge;

/* Milliseconds since the process started (monotonic clock). */
int64_t rc_procstats_uptime_ms(void);
void rc_procstats_add(rc_proc_gauge g, int64_t delta);
uint64_t rc_procstats_get(rc_proc_gauge g);

#ifdef __cplusplus
}
#endif
#endif
