/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `redcar-ctl info`: GET /health and GET /info in one view. A server that
 * answers but reports itself unhealthy (503) makes the command fail with
 * exit code 4 after printing what it knows, so `redcar-ctl info` doubles as
 * a readiness probe in scripts.
 */
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "client.h"
#include "ctl.h"
#include "output.h"

const ctl_opt ctl_info_opts[] = {{0}};

int ctl_cmd_info(ctl_ctx *ctx, const ctl_args *a) {
    (void)a;
    ctl_resp health, info;
    cJSON *hj = NULL, *ij = NULL;
    char tmp[64];
    ctl_resp_init(&health);
    ctl_resp_init(&info);
    ctl_req hreq = {.method = "GET", .path = "/health"};
    int hrc = ctl_client_do(ctx->client, &hreq, &health);
    if (hrc != CTL_EXIT_OK) goto done; /* cannot connect */
    int unhealthy = health.status != 200;
    ctl_req ireq = {.method = "GET", .path = "/info"};
    int rc = ctl_client_call(ctx->client, &ireq, &info);
    if (rc != CTL_EXIT_OK) {
        hrc = rc;
        goto done;
    }
    if (!(ij = ctl_resp_json(&info)) || !cJSON_IsObject(ij)) {
        if (ij) fprintf(stderr, "redcar-ctl: unexpected answer from /info: not a JSON object\n");
        hrc = CTL_EXIT_SERVER;
        goto done;
    }
    hj = cJSON_ParseWithLength(health.body.p, health.body.len);
    if (ctx->out == CTL_OUT_JSON) {
        /* Both documents as the server sent them, under one object. */
        fputs("{\"health\":", stdout);
        if (cJSON_IsObject(hj)) fwrite(health.body.p, 1, health.body.len, stdout);
        else fputs("null", stdout);
        fputs(",\"info\":", stdout);
        fwrite(info.body.p, 1, info.body.len, stdout);
        fputs("}\n", stdout);
    } else {
        static const char *const cols[] = {"FIELD", "VALUE", NULL};
        ctl_table *t = ctl_table_new(cols);
        const char *st = ctl_json_text(hj, "status", tmp, sizeof tmp);
        ctl_table_row(t);
        ctl_table_cell(t, "health");
        if (st) ctl_table_cell(t, st);
        else ctl_table_cellf(t, "HTTP %ld", health.status);
        const cJSON *m;
        cJSON_ArrayForEach(m, ij) {
            ctl_table_row(t);
            ctl_table_cell(t, m->string);
            if (cJSON_IsObject(m) || cJSON_IsArray(m)) {
                char *s = cJSON_PrintUnformatted(m);
                ctl_table_cell(t, s);
                cJSON_free(s);
            } else {
                ctl_table_cell(t, ctl_json_text(ij, m->string, tmp, sizeof tmp));
            }
        }
        ctl_table_print(t, stdout);
        ctl_table_free(t);
    }
    if (unhealthy) {
        fprintf(stderr, "redcar-ctl: server unhealthy (HTTP %ld%s%s)\n", health.status,
                cJSON_IsString(cJSON_GetObjectItemCaseSensitive(hj, "status")) ? ": " : "",
                cJSON_IsString(cJSON_GetObjectItemCaseSensitive(hj, "status"))
                    ? cJSON_GetObjectItemCaseSensitive(hj, "status")->valuestring : "");
        hrc = CTL_EXIT_SERVER;
    }
done:
    cJSON_Delete(hj);
    cJSON_Delete(ij);
    ctl_resp_free(&health);
    ctl_resp_free(&info);
    return hrc;
}
