/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web console's static files, embedded in the binary at build time
 * from src/console/www/ (CMakeLists.txt turns each file into a C array with
 * its content type and an ETag made from a hash of its bytes, so a changed
 * file always gets a new ETag). No file system access at run time.
 */
#ifndef REDCAR_CONSOLE_H
#define REDCAR_CONSOLE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_console_asset {
    const char *name;          /* "index.html", "app.js" ... */
    const unsigned char *data; /* static storage: never freed */
    size_t len;
    const char *content_type;  /* "text/html; charset=utf-8" ... */
    const char *etag;          /* strong ETag, quotes included */
} rc_console_asset;

/* The asset named name ("" means index.html), or NULL. Names are matched
 * exactly: no directories, so no path tricks. */
const rc_console_asset *rc_console_find(const char *name);
/* All assets, for tests; *n receives the count. */
const rc_console_asset *rc_console_assets(size_t *n);

#ifdef __cplusplus
}
#endif
#endif
