/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connection commands: PING, ECHO, QUIT, HELLO, AUTH, ACL, SELECT, CLIENT,
 * RESET. They change only the connection's own state and never touch the
 * store.
 *
 * Authentication asks redcar/auth.h (the same checks as the HTTP door):
 * AUTH <password> is the `default` user's requirepass, AUTH <user> <pass>
 * any configured user. Answers are Redis's, word for word, and a failure
 * says nothing about which part was wrong (WRONGPASS either way).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp/door.h"

void rc__r_cmd_ping(rc__call *c) {
    if (c->argc > 2) {
        rc__r_err_arity(c);
        return;
    }
    if (c->cl && c->w.proto == 2 && c->cl->nsubs > 0) {
        /* subscribed mode in RESP2: PING answers like a message */
        rc_resp_w_array(&c->w, 2);
        rc_resp_w_bulkstr(&c->w, "pong");
        if (c->argc == 2) rc_resp_w_bulk(&c->w, c->argv[1], c->argvlen[1]);
        else rc_resp_w_bulk(&c->w, "", 0);
        return;
    }
    if (c->argc == 2) rc_resp_w_bulk(&c->w, c->argv[1], c->argvlen[1]);
    else rc_resp_w_simple(&c->w, "PONG");
}

void rc__r_cmd_echo(rc__call *c) { rc_resp_w_bulk(&c->w, c->argv[1], c->argvlen[1]); }

void rc__r_cmd_quit(rc__call *c) {
    rc_resp_w_ok(&c->w);
    if (c->cl) rc__r_client_kill(c->cl);
}

static int has_password(rc_resp *d) { return d->cfg && rc_auth_required(d->cfg); }

static int is_default(const char *user, size_t ulen) {
    return !user || (ulen == 7 && memcmp(user, "default", 7) == 0);
}

/* AUTH [username] password, also HELLO's AUTH option. 1 when the client is
 * now that user; 0 after writing the refusal. A failed attempt leaves an
 * earlier authentication as it was (Redis does the same). */
static int do_auth(rc__call *c, const char *user, size_t ulen, const char *pw, size_t plen) {
    rc__client *cl = c->cl;
    rc_auth_role role = RC_AUTH_NONE;
    if (!has_password(c->door)) {
        /* No credential at all: the default user has no password (Redis's
         * "nopass"), and no other user exists. */
        if (!user) {
            rc_resp_w_error(&c->w, "ERR AUTH <password> called without any password configured for "
                                   "the default user. Are you sure your configuration is correct?");
            return 0;
        }
        if (!is_default(user, ulen)) {
            rc_resp_w_error(&c->w, "WRONGPASS invalid username-password pair or user is disabled.");
            return 0;
        }
    } else if (rc_auth_check(c->door->cfg, user, ulen, pw, plen, &role) != RC_OK) {
        rc_resp_w_error(&c->w, "WRONGPASS invalid username-password pair or user is disabled.");
        return 0;
    }
    rc__r_client_authed(cl);
    cl->role = role;
    if (is_default(user, ulen)) cl->user[0] = '\0';
    else snprintf(cl->user, sizeof cl->user, "%.*s", (int)ulen, user); /* checked: a configured name */
    return 1;
}

void rc__r_cmd_auth(rc__call *c) {
    if (c->argc > 3) {
        rc__r_err_syntax(c);
        return;
    }
    int ok = c->argc == 2 ? do_auth(c, NULL, 0, c->argv[1], c->argvlen[1])
                          : do_auth(c, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
    if (ok) rc_resp_w_ok(&c->w);
}

static int valid_name(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '!' || s[i] > '~') return 0; /* Redis: no spaces, newlines, specials */
    return 1;
}

static void set_name(rc__client *cl, const char *s, size_t n) {
    free(cl->name);
    cl->name = n ? rc__r_strndup(s, n) : NULL;
    if (cl->sub) rc_sub_set_name(cl->door->hub, cl->sub, cl->name);
}

void rc__r_cmd_hello(rc__call *c) {
    rc__client *cl = c->cl;
    int proto = atomic_load(&cl->proto);
    size_t i = 1;
    if (c->argc >= 2) {
        int64_t v;
        if (!rc__r_parse_i64(c->argv[1], c->argvlen[1], &v)) {
            rc_resp_w_error(&c->w, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (v < 2 || v > 3) {
            rc_resp_w_error(&c->w, "NOPROTO unsupported protocol version");
            return;
        }
        proto = (int)v;
        i = 2;
    }
    const char *name = NULL;
    size_t namelen = 0;
    int authed_now = 0;
    for (; i < c->argc; i++) {
        size_t more = c->argc - i - 1;
        if (rc__r_streq(c->argv[i], "AUTH") && more >= 2) {
            if (!do_auth(c, c->argv[i + 1], c->argvlen[i + 1], c->argv[i + 2], c->argvlen[i + 2]))
                return;
            authed_now = 1;
            i += 2;
        } else if (rc__r_streq(c->argv[i], "SETNAME") && more >= 1) {
            name = c->argv[i + 1];
            namelen = c->argvlen[i + 1];
            if (!valid_name(name, namelen)) {
                rc_resp_w_error(&c->w, "ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
            i++;
        } else {
            rc_resp_w_errorf(&c->w, "ERR Syntax error in HELLO option '%.64s'", c->argv[i]);
            return;
        }
    }
    (void)authed_now;
    if (!cl->authed) {
        rc_resp_w_error(&c->w, "NOAUTH HELLO must be called with the client already authenticated, "
                               "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                               "authenticate the client and select the RESP protocol version at the "
                               "same time");
        return;
    }
    if (name) set_name(cl, name, namelen);
    rc__r_client_set_proto(cl, proto);
    c->w.proto = proto;
    rc_resp_w_map(&c->w, 7);
    rc_resp_w_bulkstr(&c->w, "server");
    rc_resp_w_bulkstr(&c->w, "redis");
    rc_resp_w_bulkstr(&c->w, "version");
    rc_resp_w_bulkstr(&c->w, "7.2.0");
    rc_resp_w_bulkstr(&c->w, "proto");
    rc_resp_w_int(&c->w, proto);
    rc_resp_w_bulkstr(&c->w, "id");
    rc_resp_w_int(&c->w, (int64_t)cl->id);
    rc_resp_w_bulkstr(&c->w, "mode");
    rc_resp_w_bulkstr(&c->w, "standalone");
    rc_resp_w_bulkstr(&c->w, "role");
    rc_resp_w_bulkstr(&c->w, "master");
    rc_resp_w_bulkstr(&c->w, "modules");
    rc_resp_w_array(&c->w, 0);
}

/* ACL WHOAMI | USERS | HELP: the users are settings (`requirepass`,
 * `user`), so nothing here changes them. */
void rc__r_cmd_acl(rc__call *c) {
    rc__client *cl = c->cl;
    const char *sub = c->argv[1];
    if (rc__r_streq(sub, "WHOAMI") && c->argc == 2) {
        rc_resp_w_bulkstr(&c->w, cl->user[0] ? cl->user : "default");
    } else if (rc__r_streq(sub, "USERS") && c->argc == 2) {
        if (cl->role == RC_AUTH_RO) {
            rc_resp_w_error(&c->w, "NOPERM this user has no permissions to run the 'acl|users' command");
            return;
        }
        /* The stored list is "name:role:#digest ..."; only names leave. */
        char *list = c->door->cfg ? rc_config_dup(c->door->cfg, "user") : NULL;
        size_t n = 1;
        for (const char *p = list; p && *p; p++) n += *p == ' ';
        rc_resp_w_array(&c->w, list && *list ? n + 1 : 1);
        rc_resp_w_bulkstr(&c->w, "default");
        for (const char *p = list; p && *p;) {
            size_t len = strcspn(p, ":");
            rc_resp_w_bulk(&c->w, p, len);
            p += strcspn(p, " ");
            while (*p == ' ') p++;
        }
        free(list);
    } else if (rc__r_streq(sub, "HELP")) {
        static const char *help[] = {
            "ACL <subcommand> [<arg> ...]. Subcommands are:",
            "WHOAMI    Return the current connection's user name.",
            "USERS     List the user names (requirepass is the 'default' user; others come from the `user` setting).",
        };
        rc_resp_w_array(&c->w, sizeof help / sizeof help[0]);
        for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) rc_resp_w_simple(&c->w, help[i]);
    } else {
        rc_resp_w_errorf(&c->w, "ERR unknown subcommand or wrong number of arguments for '%.64s'. "
                                "Try ACL HELP.", sub);
    }
}

void rc__r_cmd_select(rc__call *c) {
    int64_t db;
    if (!rc__r_parse_i64(c->argv[1], c->argvlen[1], &db)) {
        rc__r_err_int(c);
        return;
    }
    if (db != 0) {
        rc_resp_w_error(&c->w, "ERR DB index is out of range");
        return;
    }
    rc_resp_w_ok(&c->w);
}

void rc__r_client_info(rc_resp *d, rc__client *cl, rc_buf *out) {
    int64_t now = rc__r_now_ms();
    size_t npat = 0, nch = cl->nsubs;
    (void)d;
    rc_buf_printf(out,
                  "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 "
                  "sub=%zu psub=%zu ssub=0 multi=%d qbuf=%zu obl=0 oll=0 omem=%zu resp=%d "
                  "lib-name=%s lib-ver=%s cmd=%s user=%s\n",
                  (unsigned long long)cl->id, cl->addr, cl->laddr, cl->fd, cl->name ? cl->name : "",
                  (long long)((now - cl->ctime_ms) / 1000), (long long)((now - cl->last_ms) / 1000),
                  cl->nsubs ? "P" : (cl->in_multi ? "x" : "N"), nch, npat,
                  cl->in_multi ? (int)cl->nmq : -1, rc_resp_parser_pending(cl->parser),
                  cl->out.len - cl->out_off, atomic_load(&cl->proto),
                  cl->lib_name ? cl->lib_name : "", cl->lib_ver ? cl->lib_ver : "", cl->last_cmd,
                  cl->user[0] ? cl->user : "default");
}

static void client_kill(rc__call *c) {
    rc_resp *d = c->door;
    if (c->cl->role == RC_AUTH_RO) { /* closing others' connections is not reading */
        rc_resp_w_error(&c->w, "NOPERM this user has no permissions to run the 'client|kill' command");
        return;
    }
    /* CLIENT KILL addr | CLIENT KILL ID id | ADDR addr | LADDR addr | USER u | SKIPME yes/no */
    if (c->argc == 3) {
        for (rc__client *o = d->all; o; o = o->next) {
            if (strcmp(o->addr, c->argv[2]) == 0) {
                if (o == c->cl) rc__r_client_kill(o);
                else rc__r_client_close(o, "CLIENT KILL");
                rc_resp_w_ok(&c->w);
                return;
            }
        }
        rc_resp_w_error(&c->w, "ERR No such client");
        return;
    }
    if ((c->argc - 2) % 2) {
        rc__r_err_syntax(c);
        return;
    }
    uint64_t id = 0;
    const char *addr = NULL, *laddr = NULL;
    int skipme = 1;
    for (size_t i = 2; i < c->argc; i += 2) {
        const char *o = c->argv[i], *v = c->argv[i + 1];
        if (rc__r_streq(o, "ID")) {
            int64_t x;
            if (!rc__r_parse_i64(v, c->argvlen[i + 1], &x) || x <= 0) {
                rc_resp_w_error(&c->w, "ERR client-id should be greater than 0");
                return;
            }
            id = (uint64_t)x;
        } else if (rc__r_streq(o, "ADDR")) {
            addr = v;
        } else if (rc__r_streq(o, "LADDR")) {
            laddr = v;
        } else if (rc__r_streq(o, "SKIPME")) {
            if (rc__r_streq(v, "yes")) skipme = 1;
            else if (rc__r_streq(v, "no")) skipme = 0;
            else {
                rc__r_err_syntax(c);
                return;
            }
        } else {
            rc__r_err_syntax(c);
            return;
        }
    }
    int64_t killed = 0;
    for (rc__client *o = d->all, *next; o; o = next) {
        next = o->next;
        if (id && o->id != id) continue;
        if (addr && strcmp(o->addr, addr) != 0) continue;
        if (laddr && strcmp(o->laddr, laddr) != 0) continue;
        if (o == c->cl) {
            if (skipme) continue;
            rc__r_client_kill(o);
        } else {
            rc__r_client_close(o, "CLIENT KILL");
        }
        killed++;
    }
    rc_resp_w_int(&c->w, killed);
}

void rc__r_cmd_client(rc__call *c) {
    rc__client *cl = c->cl;
    const char *sub = c->argv[1];
    if (rc__r_streq(sub, "SETNAME") && c->argc == 3) {
        if (!valid_name(c->argv[2], c->argvlen[2])) {
            rc_resp_w_error(&c->w, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_name(cl, c->argv[2], c->argvlen[2]);
        rc_resp_w_ok(&c->w);
    } else if (rc__r_streq(sub, "GETNAME") && c->argc == 2) {
        if (cl->name) rc_resp_w_bulkstr(&c->w, cl->name);
        else rc_resp_w_null(&c->w);
    } else if (rc__r_streq(sub, "ID") && c->argc == 2) {
        rc_resp_w_int(&c->w, (int64_t)cl->id);
    } else if (rc__r_streq(sub, "INFO") && c->argc == 2) {
        rc_buf b = RC_BUF_INIT;
        rc__r_client_info(c->door, cl, &b);
        rc_resp_w_verbatim(&c->w, b.p, b.len);
        rc_buf_free(&b);
    } else if (rc__r_streq(sub, "LIST")) {
        rc_buf b = RC_BUF_INIT;
        uint64_t only = 0;
        if (c->argc == 4 && rc__r_streq(c->argv[2], "ID")) {
            int64_t x;
            if (!rc__r_parse_i64(c->argv[3], c->argvlen[3], &x)) {
                rc__r_err_int(c);
                return;
            }
            only = (uint64_t)x;
        } else if (c->argc == 4 && rc__r_streq(c->argv[2], "TYPE")) {
            /* every client here is a normal/pubsub client */
        } else if (c->argc != 2) {
            rc__r_err_syntax(c);
            return;
        }
        for (rc__client *o = c->door->all; o; o = o->next)
            if (!only || o->id == only) rc__r_client_info(c->door, o, &b);
        rc_resp_w_verbatim(&c->w, b.p ? b.p : "", b.len);
        rc_buf_free(&b);
    } else if (rc__r_streq(sub, "SETINFO") && c->argc == 4) {
        char **slot;
        if (rc__r_streq(c->argv[2], "LIB-NAME")) slot = &cl->lib_name;
        else if (rc__r_streq(c->argv[2], "LIB-VER")) slot = &cl->lib_ver;
        else {
            rc_resp_w_errorf(&c->w, "ERR Unrecognized option '%.64s'", c->argv[2]);
            return;
        }
        if (!valid_name(c->argv[3], c->argvlen[3])) {
            rc_resp_w_errorf(&c->w, "ERR %s cannot contain spaces, newlines or special characters.",
                             c->argv[2]);
            return;
        }
        free(*slot);
        *slot = rc__r_strndup(c->argv[3], c->argvlen[3]);
        rc_resp_w_ok(&c->w);
    } else if (rc__r_streq(sub, "KILL") && c->argc >= 3) {
        client_kill(c);
    } else if (rc__r_streq(sub, "CEFORMAT") && c->argc == 3) {
        /* Redcar extension: what a subscriber receives per event. */
        if (rc__r_streq(c->argv[2], "json")) cl->ce_json = 1;
        else if (rc__r_streq(c->argv[2], "data")) cl->ce_json = 0;
        else {
            rc_resp_w_error(&c->w, "ERR CLIENT CEFORMAT takes 'data' or 'json'");
            return;
        }
        rc_resp_w_ok(&c->w);
    } else if (rc__r_streq(sub, "CEFORMAT") && c->argc == 2) {
        rc_resp_w_bulkstr(&c->w, cl->ce_json ? "json" : "data");
    } else if (rc__r_streq(sub, "NO-EVICT") || rc__r_streq(sub, "NO-TOUCH")) {
        rc_resp_w_ok(&c->w); /* nothing is evicted or touched here */
    } else if (rc__r_streq(sub, "HELP")) {
        static const char *help[] = {
            "CLIENT <subcommand> [<arg> ...]. Subcommands are:",
            "SETNAME <name>", "GETNAME", "ID", "INFO", "LIST [ID <id>]",
            "SETINFO LIB-NAME|LIB-VER <value>", "KILL <addr> | KILL [ID <id>] [ADDR <addr>] [SKIPME yes|no]",
            "CEFORMAT data|json    Subscribers receive event data (default) or the whole CloudEvent as JSON.",
        };
        rc_resp_w_array(&c->w, sizeof help / sizeof help[0]);
        for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) rc_resp_w_simple(&c->w, help[i]);
    } else {
        rc_resp_w_errorf(&c->w, "ERR unknown subcommand or wrong number of arguments for '%.64s'. "
                                "Try CLIENT HELP.", sub);
    }
}

void rc__r_cmd_reset(rc__call *c) {
    rc__client *cl = c->cl;
    rc__r_multi_reset(cl);
    rc__r_pubsub_drop(cl);
    rc__r_flush_inbox(cl);
    set_name(cl, NULL, 0);
    cl->ce_json = 0;
    rc__r_client_set_proto(cl, 2);
    c->w.proto = 2;
    cl->role = RC_AUTH_NONE; /* back to the default user */
    cl->user[0] = '\0';
    if (has_password(c->door) && cl->authed) {
        cl->authed = 0;
        rc_resp_limits l;
        rc_resp_limits_unauth(&l);
        rc_resp_parser_set_limits(cl->parser, &l);
    }
    rc_resp_w_simple(&c->w, "RESET");
}
