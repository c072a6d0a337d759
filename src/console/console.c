/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lookup in the table of embedded console files. The table and the bytes
 * are generated (console_assets.inc, see CMakeLists.txt); this file only
 * answers "which asset has this name".
 */
#include <string.h>

#include "redcar/console.h"

#include "console_assets.inc"

#define NASSETS (sizeof assets / sizeof assets[0])

const rc_console_asset *rc_console_find(const char *name) {
    if (!name || !*name) name = "index.html";
    for (size_t i = 0; i < NASSETS; i++)
        if (!strcmp(assets[i].name, name)) return &assets[i];
    return NULL;
}

const rc_console_asset *rc_console_assets(size_t *n) {
    *n = NASSETS;
    return assets;
}
