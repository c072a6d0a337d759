/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rc_buf: a growable byte buffer, the one string builder of the project
 * (encoders, reply writers, HTTP bodies). The buffer owns its memory; it is
 * always NUL-terminated past len so that text users may treat it as a string.
 * Allocation failure aborts: the server cannot do anything useful without
 * memory, and checking every append would hide the real logic.
 */
#ifndef REDCAR_BUF_H
#define REDCAR_BUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_buf {
    char *p;
    size_t len;
    size_t cap;
} rc_buf;

#define RC_BUF_INIT {NULL, 0, 0}

void rc_buf_init(rc_buf *b);
void rc_buf_free(rc_buf *b);
void rc_buf_reset(rc_buf *b);                 /* len = 0, keeps memory */
void rc_buf_reserve(rc_buf *b, size_t extra); /* room for extra more bytes */
void rc_buf_append(rc_buf *b, const void *p, size_t n);
void rc_buf_puts(rc_buf *b, const char *s);
void rc_buf_putc(rc_buf *b, char c);
void rc_buf_printf(rc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rc_buf_put_u64(rc_buf *b, uint64_t v);   /* decimal, no allocation beyond the buffer */
void rc_buf_put_i64(rc_buf *b, int64_t v);
void rc_buf_consume(rc_buf *b, size_t n);     /* drop the first n bytes */
/* Hand the memory to the caller (free() it); the buffer is left empty. */
char *rc_buf_detach(rc_buf *b, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
