/* SPDX-License-Identifier: Apache-2.0 */
/* The end of every unit suite's main(): run the suite with Check (its
 * "N%: Checks: ..." summary line is what CI reads) and exit 1 if any test
 * failed. */
#ifndef RC_TEST_CHECK_MAIN_H
#define RC_TEST_CHECK_MAIN_H

#include <check.h>

static inline int rc_test_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#endif
