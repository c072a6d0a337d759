/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redcar-ctl's operations on the whole store (cmd_admin.c): backup to a
 * file, export of the log as NDJSON, import of such a file.
 */
#ifndef REDCAR_CTL_CMD_ADMIN_H
#define REDCAR_CTL_CMD_ADMIN_H

#include "ctl.h"

extern const ctl_opt ctl_backup_opts[], ctl_export_opts[], ctl_import_opts[];
int ctl_cmd_backup(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_export(ctl_ctx *ctx, const ctl_args *a);
int ctl_cmd_import(ctl_ctx *ctx, const ctl_args *a);

#endif
