/* SPDX-License-Identifier: Apache-2.0 */
/* redcar: parse the settings, then hand over to the server lifecycle. */
#include <stdio.h>

#include "redcar/config.h"
#include "server/server.h"

int main(int argc, char **argv) {
    rc_config *cfg = rc_config_new();
    if (!cfg) return 1;
    rc_err err;
    rc_err_clear(&err);
    int exit_now = 0;
    if (rc_config_parse_args(cfg, argc, argv, &exit_now, &err) != RC_OK) {
        fprintf(stderr, "redcar: %s\n", rc_err_msg(&err));
        rc_config_free(cfg);
        return 2;
    }
    int code = exit_now ? 0 : rc_server_run(cfg);
    rc_config_free(cfg);
    return code;
}
