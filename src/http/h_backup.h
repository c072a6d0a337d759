/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /backup (h_backup.c): a consistent copy of the database, streamed.
 */
#ifndef REDCAR_HTTP_H_BACKUP_H
#define REDCAR_HTTP_H_BACKUP_H

#include "http/http_internal.h"

void rc__h_backup(const rc_http_req *req, rc_http_res *res);

#endif
