/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention of the log: the front of the log (the oldest events) is
 * removed when the log exceeds a per-server limit on age, count or bytes,
 * and every read that asks for a position retention removed gets
 * RC_TRIMMED naming the earliest stored seq, never a silent skip.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

int rc__log_first(sqlite3 *db, uint64_t *first, rc_err *err) {
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(db, "SELECT min(seq) FROM events", -1, &s, NULL);
    if (r != SQLITE_OK) return rc__sqlite_err(db, r, err, "reading the earliest seq");
    r = sqlite3_step(s);
    *first = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (r != SQLITE_ROW) return rc__sqlite_err(db, r, err, "reading the earliest seq");
    return RC_OK;
}

int rc__trimmed_check(sqlite3 *db, uint64_t pos, rc_err *err) {
    uint64_t first;
    int rc = rc__log_first(db, &first, err);
    if (rc) return rc;
    if (first > 1 && pos + 1 < first)
        return rc_err_set(err, RC_TRIMMED,
                          "seq %" PRIu64 " is no longer stored (retention); the earliest stored "
                          "seq is %" PRIu64,
                          pos + 1, first);
    return RC_OK;
}
