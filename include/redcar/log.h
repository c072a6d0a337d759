/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process-wide logger. Thread-safe: each line is written with one write(2).
 * Lines: "2026-11-21T05:02:06.123Z INFO http: listening on 127.0.0.1:8519",
 * or one JSON object per line when the JSON format is chosen.
 */
#ifndef REDCAR_LOG_H
#define REDCAR_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RC_LOG_DEBUG, RC_LOG_INFO, RC_LOG_WARN, RC_LOG_ERROR, RC_LOG_OFF } rc_log_level;

/* target: "stdout", "stderr" or a file path (appended). RC_OK or RC_IO. */
int rc_log_open(const char *target, rc_log_level level, int json);
void rc_log_close(void);
int rc_log_level_parse(const char *s, rc_log_level *out); /* debug|info|warn|error|off */
int rc_log_enabled(rc_log_level level);
void rc_log(rc_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define RC_DEBUG(mod, ...) do { if (rc_log_enabled(RC_LOG_DEBUG)) rc_log(RC_LOG_DEBUG, mod, __VA_ARGS__); } while (0)
#define RC_INFO(mod, ...)  rc_log(RC_LOG_INFO, mod, __VA_ARGS__)
#define RC_WARN(mod, ...)  rc_log(RC_LOG_WARN, mod, __VA_ARGS__)
#define RC_ERROR(mod, ...) rc_log(RC_LOG_ERROR, mod, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
