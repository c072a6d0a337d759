/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit-test fixture: a fresh temporary directory per test (Check runs each
 * test in its own process, so a static path is per test) and its removal.
 * Usage: RC_TEST_TMPDIR("rc-store-test") defines `dir`, setup() and teardown().
 */
#ifndef REDCAR_TEST_TMPDIR_H
#define REDCAR_TEST_TMPDIR_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline int rc_test_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

#define RC_TEST_TMPDIR(prefix)                                                   \
    static char dir[64];                                                         \
    static void setup(void) {                                                    \
        snprintf(dir, sizeof dir, "/tmp/%s-XXXXXX", prefix);                     \
        ck_assert_ptr_nonnull(mkdtemp(dir));                                     \
    }                                                                            \
    static void teardown(void) { nftw(dir, rc_test_rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

#endif
