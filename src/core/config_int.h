/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Between the settings table (config.c) and access control (auth.c), both
 * in core; not a public header.
 */
#ifndef RC_CORE_CONFIG_INT_H
#define RC_CORE_CONFIG_INT_H

#include "redcar/config.h"

/* 1 when requirepass or the user list is non-empty; lock-free (an atomic
 * kept by every change of those settings). */
int rc__config_credentials(rc_config *cfg);

#endif
