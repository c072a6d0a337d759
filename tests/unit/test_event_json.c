/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CloudEvents JSON format: decoding (shape, spec rules, syntax limits),
 * encoding (escapes, data forms, seq) and the round-trip property
 * decode(encode(decode(x))) == decode(x), attribute by attribute, with the
 * re-encoding byte-identical. Also: a valid event cut at any byte is never
 * accepted as a shorter event; batches are all-or-nothing.
 *
 * Fork mode; in the ASan build LeakSanitizer fails any test that leaks.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event_internal.h"
#include "redcar/event.h"
#include "check_main.h"

#define HEAD "\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\""

static rc_event *dec(const char *json) {
    rc_event *ev = NULL;
    rc_err err;
    int rc = rc_event_decode_json(json, strlen(json), &ev, &err);
    ck_assert_msg(rc == RC_OK, "decode failed: %s\ninput: %s", err.msg, json);
    ck_assert_ptr_nonnull(ev);
    return ev;
}

static void dec_fail(const char *json, int code, const char *msg) {
    rc_event *ev = (rc_event *)1;
    rc_err err;
    int rc = rc_event_decode_json(json, strlen(json), &ev, &err);
    ck_assert_msg(rc == code, "expected %s, got %s (%s)\ninput: %s", rc_status_name(code), rc_status_name(rc),
                  err.msg, json);
    ck_assert_ptr_null(ev);
    ck_assert_int_eq(err.code, code);
    if (msg) ck_assert_str_eq(err.msg, msg);
}

static char *enc(const rc_event *ev, unsigned flags) {
    rc_buf b = RC_BUF_INIT;
    rc_event_encode_json(ev, flags, &b);
    return rc_buf_detach(&b, NULL);
}

/* decode -> encode -> decode -> encode: the events are equal and the two
 * encodings identical. Returns the first encoding (caller frees). */
static char *round_trip(const char *json) {
    rc_event *a = dec(json);
    char *e1 = enc(a, RC_ENC_SEQ);
    rc_event *b = dec(e1);
    ck_assert_msg(rc__event_equal(a, b), "round trip changed the event:\n%s\n%s", json, e1);
    char *e2 = enc(b, RC_ENC_SEQ);
    ck_assert_str_eq(e1, e2);
    free(e2);
    rc_event_free(a);
    rc_event_free(b);
    return e1;
}

/* The example from the CloudEvents JSON format spec (section 3.1). */
static const char spec_example[] =
    "{\n"
    "    \"specversion\" : \"1.0\",\n"
    "    \"type\" : \"com.example.someevent\",\n"
    "    \"source\" : \"/mycontext\",\n"
    "    \"id\" : \"A234-1234-1234\",\n"
    "    \"time\" : \"2018-04-05T17:31:00Z\",\n"
    "    \"comexampleextension1\" : \"value\",\n"
    "    \"comexampleothervalue\" : 5,\n"
    "    \"datacontenttype\" : \"application/xml\",\n"
    "    \"data\" : \"<much wow=\\\"xml\\\"/>\"\n"
    "}";

START_TEST(decode_spec_example) {
    rc_event *ev = dec(spec_example);
    ck_assert_str_eq(ev->specversion, "1.0");
    ck_assert_str_eq(ev->type, "com.example.someevent");
    ck_assert_str_eq(ev->source, "/mycontext");
    ck_assert_str_eq(ev->id, "A234-1234-1234");
    ck_assert_str_eq(ev->time, "2018-04-05T17:31:00Z");
    ck_assert_str_eq(ev->datacontenttype, "application/xml");
    ck_assert_ptr_null(ev->subject);
    ck_assert_ptr_null(ev->dataschema);
    ck_assert_uint_eq(ev->n_ext, 2);
    ck_assert_str_eq(ev->ext[0].name, "comexampleextension1");
    ck_assert_int_eq(ev->ext[0].type, RC_EXT_STRING);
    ck_assert_str_eq(ev->ext[0].s, "value");
    ck_assert_int_eq(ev->ext[1].type, RC_EXT_INT);
    ck_assert_int_eq(ev->ext[1].i, 5);
    ck_assert_int_eq(ev->data_form, RC_DATA_TEXT);
    ck_assert_str_eq((char *)ev->data, "<much wow=\"xml\"/>");
    ck_assert_uint_eq(ev->seq, 0);
    char *e = enc(ev, 0);
    ck_assert_str_eq(e, "{\"specversion\":\"1.0\",\"id\":\"A234-1234-1234\",\"source\":\"/mycontext\","
                        "\"type\":\"com.example.someevent\",\"datacontenttype\":\"application/xml\","
                        "\"time\":\"2018-04-05T17:31:00Z\",\"comexampleextension1\":\"value\","
                        "\"comexampleothervalue\":5,\"data\":\"<much wow=\\\"xml\\\"/>\"}");
    free(e);
    rc_event_free(ev);
    free(round_trip(spec_example));
}
END_TEST

/* ---- data forms ------------------------------------------------------------------ */

START_TEST(data_json_forms) {
    static const struct {
        const char *in, *form_text;
        rc_data_form form;
    } cases[] = {
        /* absent content type: JSON, its own text minified */
        {"{" HEAD ",\"data\":{ \"a\" : [1, 2.5, true, null, \"x\"] }}", "{\"a\":[1,2.5,true,null,\"x\"]}", RC_DATA_JSON},
        {"{" HEAD ",\"datacontenttype\":\"application/json\",\"data\":[]}", "[]", RC_DATA_JSON},
        {"{" HEAD ",\"datacontenttype\":\"application/vnd.x+json; charset=utf-8\",\"data\":42}", "42", RC_DATA_JSON},
        /* a JSON string under a JSON type stays JSON, quotes included, not parsed again */
        {"{" HEAD ",\"datacontenttype\":\"application/json\",\"data\":\"{\\\"a\\\":1}\"}", "\"{\\\"a\\\":1}\"", RC_DATA_JSON},
        {"{" HEAD ",\"data\":\"plain\"}", "\"plain\"", RC_DATA_JSON},
        /* a JSON string under another type is text */
        {"{" HEAD ",\"datacontenttype\":\"text/plain\",\"data\":\"a\\nb\"}", "a\nb", RC_DATA_TEXT},
        {"{" HEAD ",\"datacontenttype\":\"text/plain\",\"data\":\"\"}", "", RC_DATA_TEXT},
        /* another JSON value under a non-JSON type is still JSON */
        {"{" HEAD ",\"datacontenttype\":\"text/plain\",\"data\":{\"k\":1}}", "{\"k\":1}", RC_DATA_JSON},
        /* data_base64 whatever the type */
        {"{" HEAD ",\"datacontenttype\":\"application/json\",\"data_base64\":\"Zm9v\"}", "foo", RC_DATA_BINARY},
        {"{" HEAD ",\"data_base64\":\"\"}", "", RC_DATA_BINARY},
        /* null means absent */
        {"{" HEAD ",\"data\":null}", NULL, RC_DATA_NONE},
        {"{" HEAD ",\"data_base64\":null,\"data\":1}", "1", RC_DATA_JSON},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rc_event *ev = dec(cases[i].in);
        ck_assert_msg(ev->data_form == cases[i].form, "case %zu: form %d", i, ev->data_form);
        if (cases[i].form_text) {
            ck_assert_uint_eq(ev->data_len, strlen(cases[i].form_text));
            ck_assert_str_eq((char *)ev->data, cases[i].form_text);
        } else {
            ck_assert_ptr_null(ev->data);
        }
        rc_event_free(ev);
        free(round_trip(cases[i].in));
    }
}
END_TEST

START_TEST(data_binary_bytes) {
    rc_event *ev = dec("{" HEAD ",\"data_base64\":\"AAEC/w==\"}");
    ck_assert_uint_eq(ev->data_len, 4);
    ck_assert_mem_eq(ev->data, "\x00\x01\x02\xff", 4);
    char *e = enc(ev, 0);
    ck_assert(strstr(e, ",\"data_base64\":\"AAEC/w==\"}"));
    free(e);
    rc_event_free(ev);
    dec_fail("{" HEAD ",\"data_base64\":\"AAEC/w=\"}", RC_EVENT_INVALID, "data_base64: must be base64 (RFC 4648)");
    dec_fail("{" HEAD ",\"data_base64\":5}", RC_EVENT_INVALID, "data_base64: must be a string");
    dec_fail("{" HEAD ",\"data\":1,\"data_base64\":\"AA==\"}", RC_EVENT_INVALID,
             "data_base64: must not be present together with data");
}
END_TEST

/* Decode in, the data kept (minified) equals want, and the event survives
 * encode/decode with the data text unchanged. */
static void data_kept(const char *data_in, const char *want) {
    char in[4096];
    snprintf(in, sizeof in, "{" HEAD ",\"data\":%s}", data_in);
    rc_event *ev = dec(in);
    ck_assert_int_eq(ev->data_form, RC_DATA_JSON);
    ck_assert_msg(ev->data_len == strlen(want) && !strcmp((char *)ev->data, want), "data %s kept as %s, want %s",
                  data_in, (char *)ev->data, want);
    char *e = round_trip(in);
    char tail[4200];
    snprintf(tail, sizeof tail, ",\"data\":%s}", want);
    ck_assert_msg(strstr(e, tail) != NULL, "%s encodes as %s", data_in, e);
    free(e);
    rc_event_free(ev);
}

START_TEST(data_numbers) {
    /* Numbers are kept as written: no trip through a double. */
    data_kept("[1e400, -0, 0.1, 1e21, 123456789012345678901234567890]",
              "[1e400,-0,0.1,1e21,123456789012345678901234567890]");
    data_kept("9007199254740993", "9007199254740993");
    data_kept("{\"id\": 18446744073709551617, \"neg\": -9223372036854775809}",
              "{\"id\":18446744073709551617,\"neg\":-9223372036854775809}");
    data_kept("1.0", "1.0");
    data_kept("[1.0, 1.50, -0.0, 1E+2, 2e-0, 0.1e1]", "[1.0,1.50,-0.0,1E+2,2e-0,0.1e1]");
    /* A number beyond any double is still valid JSON text: kept, not refused
     * (the text is what Redcar stores and serves, never a double). */
    data_kept("1e400", "1e400");
    data_kept("-1e999999", "-1e999999");
    data_kept("{\"tiny\": 1e-400}", "{\"tiny\":1e-400}");
    /* The one bound: 63 characters, as cJSON readers (redcar-ctl) need. */
    char in[256], msg[160];
    snprintf(in, sizeof in, "{" HEAD ",\"data\":1%063d}", 0);
    snprintf(msg, sizeof msg, "invalid JSON at byte %zu: number too long", strlen("{" HEAD ",\"data\":"));
    dec_fail(in, RC_INVALID, msg);
    snprintf(in, sizeof in, "{" HEAD ",\"data\":1%062d}", 0);
    rc_event_free(dec(in));
}
END_TEST

START_TEST(data_text_kept) {
    /* Strings inside JSON data keep their escapes byte for byte, and the
     * whitespace inside them; only whitespace between tokens goes. */
    data_kept("\"\\u00e9\"", "\"\\u00e9\"");
    data_kept("{ \"caf\\u00e9\" : \"\\u00e9\\/\\n\\ud83d\\ude00\\\"\" }",
              "{\"caf\\u00e9\":\"\\u00e9\\/\\n\\ud83d\\ude00\\\"\"}");
    data_kept("{\"a b\" :\t\" x  y \",\r\n \"c\":[ 1 , [ ] , { } , true , false , null ] }",
              "{\"a b\":\" x  y \",\"c\":[1,[],{},true,false,null]}");
    data_kept("\"caf\xc3\xa9 \\\\ \\\" \"", "\"caf\xc3\xa9 \\\\ \\\" \"");
    data_kept("[\"]\", \"}\", \",\", \" \"]", "[\"]\",\"}\",\",\",\" \"]");
    /* Already minified data is taken as it is. */
    data_kept("{\"k\":[1,{\"z\":\"\"}]}", "{\"k\":[1,{\"z\":\"\"}]}");
    /* Under a textual type a JSON string is text: its escapes are decoded. */
    rc_event *ev = dec("{" HEAD ",\"datacontenttype\":\"text/plain\",\"data\":\"caf\\u00e9 \\ud83d\\ude00\"}");
    ck_assert_int_eq(ev->data_form, RC_DATA_TEXT);
    ck_assert_str_eq((char *)ev->data, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    rc_event_free(ev);
    /* The content type may come after the data. */
    ev = dec("{" HEAD ",\"data\":\"x\\ty\",\"datacontenttype\":\"text/plain\"}");
    ck_assert_int_eq(ev->data_form, RC_DATA_TEXT);
    ck_assert_str_eq((char *)ev->data, "x\ty");
    rc_event_free(ev);
    /* data_base64 may be written with escapes too. */
    ev = dec("{" HEAD ",\"data_base64\":\"Zm9\\u0076\"}");
    ck_assert_int_eq(ev->data_form, RC_DATA_BINARY);
    ck_assert_str_eq((char *)ev->data, "foo");
    rc_event_free(ev);
}
END_TEST

START_TEST(set_data_keeps_text) {
    /* rc_event_set_data keeps the caller's JSON text minified, not re-printed. */
    rc_event *ev = dec("{" HEAD "}");
    const char *json = " { \"n\" : 1.0 , \"big\" : 9007199254740993 ,\n \"s\" : \"\\u00e9 \" , \"x\": 1e400 } ";
    ck_assert_int_eq(rc_event_set_data(ev, "application/json", json, strlen(json), RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_JSON);
    ck_assert_str_eq((char *)ev->data, "{\"n\":1.0,\"big\":9007199254740993,\"s\":\"\\u00e9 \",\"x\":1e400}");
    ck_assert_uint_eq(ev->data_len, strlen((char *)ev->data));
    char *e = enc(ev, 0);
    rc_event *back = dec(e);
    ck_assert(rc__event_equal(ev, back));
    rc_event_free(back);
    free(e);
    ck_assert_int_eq(rc_event_set_data(ev, NULL, "\t-0.0\n", 6, RC_DATA_JSON), RC_OK);
    ck_assert_str_eq((char *)ev->data, "-0.0");
    /* Not JSON: refused as JSON, and chosen as binary under a JSON type. */
    ck_assert_int_eq(rc_event_set_data(ev, "application/json", "[1,]", 4, RC_DATA_JSON), RC_INVALID);
    ck_assert_str_eq((char *)ev->data, "-0.0");
    ck_assert_int_eq(rc_event_set_data(ev, "application/json", "01", 2, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_BINARY);
    rc_event_free(ev);
}
END_TEST

START_TEST(numbers_exact) {
    /* Extension integers and seq are read from their text, not a double. */
    static const struct { const char *text; int64_t v; } ints[] = {
        {"1.0", 1}, {"10e-1", 1}, {"0.1e1", 1}, {"1E+2", 100}, {"-0", 0}, {"-0.0e5", 0}, {"0e-999999", 0},
        {"2147483647.000", 2147483647}, {"-2147483648", -2147483648LL}, {"21474836.47e2", 2147483647},
        {"0.00000000000000000000000000001e29", 1},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "{" HEAD ",\"n\":%s}", ints[i].text);
        rc_event *ev = dec(in);
        ck_assert_msg(rc_event_ext(ev, "n")->type == RC_EXT_INT && rc_event_ext(ev, "n")->i == ints[i].v,
                      "%s read as %lld", ints[i].text, (long long)rc_event_ext(ev, "n")->i);
        rc_event_free(ev);
    }
    static const struct { const char *text, *msg; } bad[] = {
        {"1e-400", "n: must be a string, boolean or integer"},
        {"1.0000000000000000000001", "n: must be a string, boolean or integer"},
        {"0.55e1", "n: must be a string, boolean or integer"},
        {"1e400", "n: integer out of int32 range"},
        {"2147483648.0", "n: integer out of int32 range"},
        {"-9223372036854775809", "n: integer out of int32 range"},
        {"100000000000000000000000000000", "n: integer out of int32 range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "{" HEAD ",\"n\":%s}", bad[i].text);
        dec_fail(in, RC_EVENT_INVALID, bad[i].msg);
    }
    /* seq: 2^53 + 1 used to round down to 2^53 and pass. */
    rc_event *ev = dec("{" HEAD ",\"seq\":9.007199254740992e15}");
    ck_assert_uint_eq(ev->seq, 9007199254740992ULL);
    rc_event_free(ev);
    ev = dec("{" HEAD ",\"seq\":-0}");
    ck_assert_uint_eq(ev->seq, 0);
    rc_event_free(ev);
    static const char *bad_seq[] = {"9007199254740993", "1e-400", "1e400", "-1e-5", "18446744073709551617"};
    for (size_t i = 0; i < sizeof bad_seq / sizeof bad_seq[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "{" HEAD ",\"seq\":%s}", bad_seq[i]);
        dec_fail(in, RC_EVENT_INVALID, "seq: must be an integer 0..2^53");
    }
}
END_TEST

START_TEST(member_names_escaped) {
    /* Member names are matched after their escapes are decoded. */
    rc_event *ev = dec("{\"specversion\":\"1.0\",\"\\u0069d\":\"1\",\"s\\u006furce\":\"/s\",\"type\":\"t\","
                       "\"d\\u0061ta\":[1],\"x\\u0079\":true}");
    ck_assert_str_eq(ev->id, "1");
    ck_assert_str_eq(ev->source, "/s");
    ck_assert_int_eq(ev->data_form, RC_DATA_JSON);
    ck_assert_str_eq((char *)ev->data, "[1]");
    ck_assert_ptr_nonnull(rc_event_ext(ev, "xy"));
    rc_event_free(ev);
    dec_fail("{" HEAD ",\"\\u0069d\":\"2\"}", RC_EVENT_INVALID, "id: duplicate member");
    dec_fail("{" HEAD ",\"x\":1,\"\\u0078\":2}", RC_EVENT_INVALID, "x: duplicate member");
    dec_fail("{" HEAD ",\"\\u00e9\":1}", RC_EVENT_INVALID,
             "??: extension name must be lowercase a-z and 0-9 only");
    /* Whitespace everywhere the grammar allows it. */
    ev = dec(" {\n\t\"specversion\" :\"1.0\" ,\"id\": \"1\"\r\n,\"source\"\t:\t\"/s\" , \"type\" : \"t\" ,"
             " \"e\" : 5 , \"f\" : null , \"data\" : [ ] } ");
    ck_assert_int_eq(rc_event_ext(ev, "e")->i, 5);
    ck_assert_ptr_null(rc_event_ext(ev, "f"));
    ck_assert_str_eq((char *)ev->data, "[]");
    rc_event_free(ev);
}
END_TEST

/* ---- escapes and unicode ------------------------------------------------------------- */

START_TEST(encode_escapes) {
    rc_event *ev = dec("{" HEAD ",\"subject\":\"q\\\"b\\\\s\\/\",\"datacontenttype\":\"text/plain\","
                       "\"data\":\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f \\\"\"}");
    ck_assert_str_eq(ev->subject, "q\"b\\s/");
    ck_assert_str_eq((char *)ev->data, "\b\f\n\r\t\x01\x1f\x7f \"");
    char *e = enc(ev, 0);
    ck_assert_msg(strstr(e, "\"subject\":\"q\\\"b\\\\s/\""), "%s", e);
    ck_assert_msg(strstr(e, "\"data\":\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f \\\"\""), "%s", e);
    free(e);
    rc_event_free(ev);
}
END_TEST

START_TEST(encode_unicode) {
    const char *in = "{" HEAD ",\"subject\":\"h\\u00e9llo \\ud83d\\ude00 \xe2\x82\xac\",\"datacontenttype\":"
                     "\"text/plain\",\"data\":\"\\u2028\xf0\x9f\x98\x80\"}";
    rc_event *ev = dec(in);
    ck_assert_str_eq(ev->subject, "h\xc3\xa9llo \xf0\x9f\x98\x80 \xe2\x82\xac");
    ck_assert_str_eq((char *)ev->data, "\xe2\x80\xa8\xf0\x9f\x98\x80");
    char *e = enc(ev, 0);
    /* valid UTF-8 passes through unescaped */
    ck_assert(strstr(e, "\"subject\":\"h\xc3\xa9llo \xf0\x9f\x98\x80 \xe2\x82\xac\""));
    free(e);
    rc_event_free(ev);
    free(round_trip(in));
}
END_TEST

START_TEST(encode_invalid_utf8_is_valid_json) {
    /* An event built in process may hold bad bytes; the output stays JSON. */
    rc_event *ev = rc_event_new();
    rc_event_set(ev, "specversion", "1.0");
    rc_event_set(ev, "id", "bad\xff\xc3");
    rc_event_set(ev, "source", "/s");
    rc_event_set(ev, "type", "t");
    ck_assert_int_eq(rc_event_set_data(ev, "text/plain", "x\xe2\x82", 3, RC_DATA_BINARY), RC_OK);
    ev->data_form = RC_DATA_TEXT;
    char *e = enc(ev, 0);
    ck_assert(rc_valid_utf8(e, strlen(e)));
    ck_assert(strstr(e, "\"id\":\"bad\xef\xbf\xbd\xef\xbf\xbd\""));
    rc_event *back = dec(e);
    ck_assert_str_eq((char *)back->data, "x\xef\xbf\xbd\xef\xbf\xbd");
    rc_event_free(back);
    free(e);
    rc_event_free(ev);
}
END_TEST

START_TEST(encode_large_text) {
    /* Larger than the encoder's chunk, with multi-byte characters and escapes
     * straddling chunk boundaries. */
    size_t n = 0, cap = 400000;
    char *text = malloc(cap + 1);
    while (n + 8 < cap) {
        memcpy(text + n, "\xc3\xa9\n\xe2\x82\xac\"a", 8);
        n += 8;
    }
    text[n] = '\0';
    rc_event *ev = dec("{" HEAD "}");
    ck_assert_int_eq(rc_event_set_data(ev, "text/plain", text, n, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_TEXT);
    char *e = enc(ev, 0);
    ck_assert(rc_valid_utf8(e, strlen(e)));
    rc_event *back = dec(e);
    ck_assert(rc__event_equal(ev, back));
    rc_event_free(back);
    free(e);
    rc_event_free(ev);
    free(text);
}
END_TEST

/* ---- extensions and seq ------------------------------------------------------------------ */

START_TEST(ext_types) {
    const char *in = "{" HEAD ",\"s\":\"str\",\"b\":true,\"f\":false,\"i\":-2147483648,\"j\":2147483647,"
                     "\"z\":null,\"k\":1.0}";
    rc_event *ev = dec(in);
    ck_assert_uint_eq(ev->n_ext, 6);
    ck_assert_int_eq(rc_event_ext(ev, "s")->type, RC_EXT_STRING);
    ck_assert_int_eq(rc_event_ext(ev, "b")->type, RC_EXT_BOOL);
    ck_assert_int_eq(rc_event_ext(ev, "b")->b, 1);
    ck_assert_int_eq(rc_event_ext(ev, "f")->b, 0);
    ck_assert_int_eq(rc_event_ext(ev, "i")->i, -2147483648LL);
    ck_assert_int_eq(rc_event_ext(ev, "j")->i, 2147483647);
    ck_assert_ptr_null(rc_event_ext(ev, "z"));
    ck_assert_int_eq(rc_event_ext(ev, "k")->i, 1);
    rc_event_free(ev);
    free(round_trip(in));

    /* Every typed kind encodes; string kinds travel as strings. */
    ev = dec("{" HEAD "}");
    rc_event_set_ext_bool(ev, "xb", 1);
    rc_event_set_ext_int(ev, "xi", -7);
    rc_event_set_ext_string(ev, "xs", RC_EXT_STRING, "s");
    rc_event_set_ext_string(ev, "xbin", RC_EXT_BINARY, "AQI=");
    rc_event_set_ext_string(ev, "xuri", RC_EXT_URI, "https://x/y");
    rc_event_set_ext_string(ev, "xref", RC_EXT_URIREF, "/y");
    rc_event_set_ext_string(ev, "xt", RC_EXT_TIME, "2020-01-01T00:00:00Z");
    ck_assert_int_eq(rc_event_validate(ev, NULL), RC_OK);
    char *e = enc(ev, 0);
    ck_assert_str_eq(e, "{" HEAD ",\"xb\":true,\"xi\":-7,\"xs\":\"s\",\"xbin\":\"AQI=\",\"xuri\":\"https://x/y\","
                        "\"xref\":\"/y\",\"xt\":\"2020-01-01T00:00:00Z\"}");
    rc_event *back = dec(e);
    ck_assert_int_eq(rc_event_ext(back, "xbin")->type, RC_EXT_STRING);
    ck_assert_str_eq(rc_event_ext(back, "xbin")->s, "AQI=");
    rc_event_free(back);
    free(e);
    rc_event_free(ev);
}
END_TEST

START_TEST(ext_errors) {
    dec_fail("{" HEAD ",\"myext\":2147483648}", RC_EVENT_INVALID, "myext: integer out of int32 range");
    dec_fail("{" HEAD ",\"myext\":-2147483649}", RC_EVENT_INVALID, "myext: integer out of int32 range");
    dec_fail("{" HEAD ",\"myext\":1e300}", RC_EVENT_INVALID, "myext: integer out of int32 range");
    dec_fail("{" HEAD ",\"myext\":1.5}", RC_EVENT_INVALID, "myext: must be a string, boolean or integer");
    dec_fail("{" HEAD ",\"myext\":{}}", RC_EVENT_INVALID, "myext: must be a string, boolean or integer");
    dec_fail("{" HEAD ",\"myext\":[1]}", RC_EVENT_INVALID, "myext: must be a string, boolean or integer");
    dec_fail("{" HEAD ",\"MyExt\":\"v\"}", RC_EVENT_INVALID, "MyExt: extension name must be lowercase a-z and 0-9 only");
    dec_fail("{" HEAD ",\"my_ext\":\"v\"}", RC_EVENT_INVALID, "my_ext: extension name must be lowercase a-z and 0-9 only");
    dec_fail("{" HEAD ",\"x\":\"a\\u0007\"}", RC_EVENT_INVALID, "x: must not contain control characters");
    dec_fail("{" HEAD ",\"x\":\"\\u0085\"}", RC_EVENT_INVALID, "x: must not contain control characters");
    dec_fail("{" HEAD ",\"x\":1,\"x\":2}", RC_EVENT_INVALID, "x: duplicate member");
    dec_fail("{" HEAD ",\"ID\":\"x\"}", RC_EVENT_INVALID, "ID: extension name must be lowercase a-z and 0-9 only");
    /* Many extensions: duplicates are still found (sorted check). */
    char big[8192];
    size_t n = (size_t)snprintf(big, sizeof big, "{" HEAD);
    for (int i = 0; i < 300; i++) n += (size_t)snprintf(big + n, sizeof big - n, ",\"e%d\":%d", i, i);
    snprintf(big + n, sizeof big - n, "}");
    rc_event *ev = dec(big);
    ck_assert_uint_eq(ev->n_ext, 300);
    rc_event_free(ev);
    snprintf(big + n, sizeof big - n, ",\"e17\":1}");
    dec_fail(big, RC_EVENT_INVALID, "e17: duplicate member");
}
END_TEST

START_TEST(seq_member) {
    rc_event *ev = dec("{" HEAD ",\"seq\":42,\"x\":1}");
    ck_assert_uint_eq(ev->seq, 42);
    ck_assert_uint_eq(ev->n_ext, 1);
    ck_assert_ptr_null(rc_event_ext(ev, "seq"));
    char *e = enc(ev, RC_ENC_SEQ);
    ck_assert_str_eq(e, "{" HEAD ",\"x\":1,\"seq\":42}");
    free(e);
    e = enc(ev, 0);
    ck_assert_str_eq(e, "{" HEAD ",\"x\":1}");
    free(e);
    ev->seq = 0;
    e = enc(ev, RC_ENC_SEQ);
    ck_assert_str_eq(e, "{" HEAD ",\"x\":1}");
    free(e);
    rc_event_free(ev);
    ev = dec("{" HEAD ",\"seq\":9007199254740992}");
    ck_assert_uint_eq(ev->seq, 9007199254740992ULL);
    rc_event_free(ev);
    ev = dec("{" HEAD ",\"seq\":null}");
    ck_assert_uint_eq(ev->seq, 0);
    rc_event_free(ev);
    free(round_trip("{" HEAD ",\"seq\":1234567890123}"));
    static const char *bad[] = {"-1", "1.5", "\"1\"", "9007199254740994", "true", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "{" HEAD ",\"seq\":%s}", bad[i]);
        dec_fail(in, RC_EVENT_INVALID, "seq: must be an integer 0..2^53");
    }
}
END_TEST

/* ---- the validator runs on decode -------------------------------------------------------- */

START_TEST(decode_spec_rules) {
    static const struct { const char *in, *msg; } cases[] = {
        {"{\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", "specversion: must be a non-empty string"},
        {"{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", "specversion: must be \"1.0\""},
        {"{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}", "id: must be a non-empty string"},
        {"{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"/s\",\"type\":\"t\"}", "id: must be a non-empty string"},
        {"{\"specversion\":\"1.0\",\"id\":null,\"source\":\"/s\",\"type\":\"t\"}", "id: must be a non-empty string"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\"}", "source: must be a non-empty URI-reference"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"a b\",\"type\":\"t\"}", "source: must be a URI-reference (RFC 3986)"},
        {"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\"}", "type: must be a non-empty string"},
        {"{" HEAD ",\"time\":\"2019-02-29T00:00:00Z\"}", "time: must be an RFC 3339 timestamp"},
        {"{" HEAD ",\"dataschema\":\"/x\"}", "dataschema: must be an absolute URI (RFC 3986)"},
        {"{" HEAD ",\"datacontenttype\":\"json\"}", "datacontenttype: must be a media type (RFC 2046 type/subtype)"},
        {"{" HEAD ",\"subject\":\"\"}", "subject: must be a non-empty string"},
        {"{" HEAD ",\"subject\":\"a\\nb\"}", "subject: must not contain control characters"},
        {"{\"specversion\":1.0,\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}", "specversion: must be a string"},
        {"{" HEAD ",\"id\":\"2\"}", "id: duplicate member"},
        {"{" HEAD ",\"time\":5}", "time: must be a string"},
        {"{" HEAD ",\"data\":1,\"data\":2}", "data: duplicate member"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) dec_fail(cases[i].in, RC_EVENT_INVALID, cases[i].msg);
    /* null optional attributes are absent */
    rc_event *ev = dec("{" HEAD ",\"subject\":null,\"time\":null}");
    ck_assert_ptr_null(ev->subject);
    rc_event_free(ev);
}
END_TEST

/* ---- syntax and limits -------------------------------------------------------------------- */

START_TEST(decode_syntax) {
    static const char *bad[] = {
        "", " ", "{", "}", "{" HEAD "} x", "{" HEAD "}}", "{" HEAD ",}", "{" HEAD ",\"x\":01}",
        "{" HEAD ",\"x\":1.}", "{" HEAD ",\"x\":.5}", "{" HEAD ",\"x\":+1}", "{" HEAD ",\"x\":-}",
        "{" HEAD ",\"x\":tru}", "{" HEAD ",\"x\":nulll}", "{" HEAD ",\"x\":\"a\\u0000\"}",
        "{" HEAD ",\"x\":\"a\\x\"}", "{" HEAD ",\"x\":\"\\ud800\"}", "{" HEAD ",\"x\":\"\\udc00\"}",
        "{" HEAD ",\"x\":\"\\ud800\\u0041\"}", "{" HEAD ",\"x\":\"\\u12\"}", "{" HEAD ",\"x\":\"\xff\"}",
        "{" HEAD ",\"x\":\"\xc0\xaf\"}", "{" HEAD ",\"x\":\"tab\there\"}", "\xef\xbb\xbf{" HEAD "}",
        "{" HEAD "\x01}", "{" HEAD ",'x':1}", "{" HEAD ",x:1}", "{" HEAD ",\"x\" 1}", "[" "{" HEAD "}",
        "{" HEAD ",\"x\":[1,]}", "{" HEAD ",\"x\":[1 2]}", "{" HEAD ",\"x\":NaN}", "{" HEAD ",\"x\":Infinity}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) dec_fail(bad[i], RC_INVALID, NULL);
    char msg[160];
    snprintf(msg, sizeof msg, "invalid JSON at byte %zu: unexpected data after the value", strlen("{" HEAD "} "));
    dec_fail("{" HEAD "} x", RC_INVALID, msg);
    dec_fail("", RC_INVALID, "invalid JSON at byte 0: empty input");
    snprintf(msg, sizeof msg, "invalid JSON at byte %zu: \\u0000 is not supported", strlen("{" HEAD ",\"x\":\""));
    dec_fail("{" HEAD ",\"x\":\"\\u0000\"}", RC_INVALID, msg);
    /* An embedded NUL byte is not the end of the input. */
    const char nul[] = "{" HEAD "}\0garbage";
    rc_event *ev = NULL;
    rc_err err;
    ck_assert_int_eq(rc_event_decode_json(nul, sizeof nul - 1, &ev, &err), RC_INVALID);
    ck_assert_int_eq(rc_event_decode_json(nul, strlen(nul), &ev, &err), RC_OK);
    rc_event_free(ev);
    ck_assert_int_eq(rc_event_decode_json(NULL, 0, &ev, &err), RC_INVALID);
    /* whitespace around is fine */
    rc_event_free(dec(" \t\r\n{" HEAD "}\n "));
    /* not an object */
    dec_fail("[]", RC_EVENT_INVALID, "event: must be a JSON object");
    dec_fail("\"x\"", RC_EVENT_INVALID, "event: must be a JSON object");
    dec_fail("null", RC_EVENT_INVALID, "event: must be a JSON object");
}
END_TEST

static char *nested(int depth) {
    /* {HEAD,"data": [[[...]]] } with depth-1 arrays: total nesting = depth */
    size_t n = strlen("{" HEAD ",\"data\":}") + 2 * (size_t)depth + 1;
    char *s = malloc(n);
    size_t k = (size_t)sprintf(s, "{" HEAD ",\"data\":");
    for (int i = 1; i < depth; i++) s[k++] = '[';
    for (int i = 1; i < depth; i++) s[k++] = ']';
    s[k++] = '}';
    s[k] = '\0';
    return s;
}

START_TEST(decode_nesting_limit) {
    char *ok = nested(1000);
    free(round_trip(ok));
    free(ok);
    char *deep = nested(1001);
    dec_fail(deep, RC_INVALID, NULL);
    free(deep);
    /* Far deeper than any stack would like: rejected without recursion. */
    size_t n = 1000000;
    char *huge = malloc(n + 1);
    memset(huge, '[', n);
    huge[n] = '\0';
    rc_event *ev = NULL;
    rc_err err;
    ck_assert_int_eq(rc_event_decode_json(huge, n, &ev, &err), RC_INVALID);
    ck_assert_str_eq(err.msg, "invalid JSON at byte 1000: nesting too deep");
    free(huge);
}
END_TEST

START_TEST(decode_split_every_byte) {
    static const char *inputs[] = {
        spec_example,
        "{" HEAD ",\"seq\":12345,\"n\":100,\"data\":{\"a\":[1,22,333],\"b\":\"\\u00e9\"}}",
        "{" HEAD ",\"datacontenttype\":\"text/plain\",\"data\":\"abc\\ndef\"}",
        "{" HEAD ",\"data_base64\":\"AAECAwQF\"}",
    };
    for (size_t t = 0; t < sizeof inputs / sizeof inputs[0]; t++) {
        const char *in = inputs[t];
        size_t len = strlen(in);
        rc_event *full = dec(in);
        for (size_t cut = 0; cut < len; cut++) {
            /* A copy of exactly cut bytes: a read past the end is caught by ASan. */
            char *part = malloc(cut ? cut : 1);
            memcpy(part, in, cut);
            rc_event *ev = NULL;
            rc_err err;
            int rc = rc_event_decode_json(part, cut, &ev, &err);
            /* The only prefix that may parse is the whole object (trailing whitespace cut). */
            if (rc == RC_OK) {
                ck_assert_msg(rc__event_equal(ev, full), "prefix %zu of input %zu decoded to another event", cut, t);
                rc_event_free(ev);
            } else {
                ck_assert_ptr_null(ev);
            }
            free(part);
        }
        rc_event_free(full);
    }
}
END_TEST

/* ---- batches ------------------------------------------------------------------------------ */

START_TEST(batch_decode) {
    const char *in = "[{" HEAD "},{" HEAD ",\"id\":\"2\"}]";
    rc_event **evs = (rc_event **)1;
    size_t n = 99;
    rc_err err;
    ck_assert_int_eq(rc_event_decode_batch(in, strlen(in), &evs, &n, &err), RC_EVENT_INVALID);
    ck_assert_str_eq(err.msg, "[1] id: duplicate member");
    ck_assert_ptr_null(evs);
    ck_assert_uint_eq(n, 0);

    in = "[{" HEAD "},{" HEAD ",\"x\":1},{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\"},{" HEAD "}]";
    ck_assert_int_eq(rc_event_decode_batch(in, strlen(in), &evs, &n, &err), RC_EVENT_INVALID);
    ck_assert_str_eq(err.msg, "[2] type: must be a non-empty string");
    ck_assert_ptr_null(evs);

    in = "[{" HEAD "}, 5]";
    ck_assert_int_eq(rc_event_decode_batch(in, strlen(in), &evs, &n, &err), RC_EVENT_INVALID);
    ck_assert_str_eq(err.msg, "[1] event: must be a JSON object");

    in = "{" HEAD "}";
    ck_assert_int_eq(rc_event_decode_batch(in, strlen(in), &evs, &n, &err), RC_EVENT_INVALID);
    ck_assert_str_eq(err.msg, "batch: must be a JSON array of events");

    in = "[{" HEAD "},";
    ck_assert_int_eq(rc_event_decode_batch(in, strlen(in), &evs, &n, &err), RC_INVALID);

    in = " [ ] ";
    ck_assert_int_eq(rc_event_decode_batch(in, strlen(in), &evs, &n, &err), RC_OK);
    ck_assert_uint_eq(n, 0);
    rc_event_free_array(evs, n);

    in = "[{" HEAD ",\"seq\":7},{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\"},{" HEAD ",\"datacontenttype\":\"text/plain\",\"data\":\"t\"}]";
    ck_assert_int_eq(rc_event_decode_batch(in, strlen(in), &evs, &n, &err), RC_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(evs[0]->seq, 7);
    ck_assert_int_eq(evs[2]->data_form, RC_DATA_TEXT);
    rc_buf b = RC_BUF_INIT;
    rc_event_encode_batch(evs, n, RC_ENC_SEQ, &b);
    ck_assert_str_eq(b.p, "[{" HEAD ",\"seq\":7},{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\"},"
                          "{" HEAD ",\"datacontenttype\":\"text/plain\",\"data\":\"t\"}]");
    rc_event **back;
    size_t m;
    ck_assert_int_eq(rc_event_decode_batch(b.p, b.len, &back, &m, &err), RC_OK);
    ck_assert_uint_eq(m, n);
    for (size_t i = 0; i < n; i++) ck_assert(rc__event_equal(evs[i], back[i]));
    rc_event_free_array(back, m);
    rc_event_free_array(evs, n);
    rc_buf_reset(&b);
    rc_event_encode_batch(NULL, 0, 0, &b);
    ck_assert_str_eq(b.p, "[]");
    rc_buf_free(&b);
}
END_TEST

START_TEST(batch_split_every_byte) {
    const char *in = "[{" HEAD ",\"a\":1},{" HEAD ",\"data\":[1,2]}]";
    size_t len = strlen(in);
    for (size_t cut = 0; cut < len; cut++) {
        char *part = malloc(cut ? cut : 1);
        memcpy(part, in, cut);
        rc_event **evs = NULL;
        size_t n = 0;
        ck_assert_int_ne(rc_event_decode_batch(part, cut, &evs, &n, NULL), RC_OK);
        ck_assert_ptr_null(evs);
        free(part);
    }
}
END_TEST

/* ---- built events encode and come back ----------------------------------------------------- */

START_TEST(encode_built_event) {
    rc_event *ev = rc_event_new();
    rc_event_set(ev, "specversion", "1.0");
    rc_event_set(ev, "id", "42");
    rc_event_set(ev, "source", "redcar://local");
    rc_event_set(ev, "type", "io.redcar.kv.put");
    rc_event_set(ev, "subject", "key");
    rc_event_set(ev, "time", "2026-11-21T05:02:06.123Z");
    rc_event_set(ev, "dataschema", "https://example.com/s");
    static const struct { const char *ctype, *bytes; size_t len; rc_data_form form; } cases[] = {
        {"application/json", "{\"v\": [1, \"two\"]}", 17, RC_DATA_JSON},
        {"application/json", "\"str\"", 5, RC_DATA_JSON},
        {"text/plain", "line1\nline2 \"q\" \xc3\xa9", 18, RC_DATA_TEXT},
        {"application/octet-stream", "\x00\x01\xfe\xff", 4, RC_DATA_BINARY},
        {"application/json", "not json", 8, RC_DATA_BINARY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(rc_event_set_data(ev, cases[i].ctype, cases[i].bytes, cases[i].len, RC_DATA_NONE), RC_OK);
        ck_assert_int_eq(ev->data_form, cases[i].form);
        ev->seq = i + 1;
        ck_assert_int_eq(rc_event_validate(ev, NULL), RC_OK);
        char *e = enc(ev, RC_ENC_SEQ);
        rc_event *back = dec(e);
        ck_assert_msg(rc__event_equal(ev, back), "case %zu: %s", i, e);
        rc_event_free(back);
        free(e);
    }
    rc_event_free(ev);
}
END_TEST

/* ---- the schema samples ------------------------------------------------------------------- */

/* schemas/samples/{valid,invalid}/ are also checked by ajv against the JSON
 * Schema (tests/integration/test_schema.sh): the C decoder must agree. */
static int check_samples(const char *kind, int expect_ok) {
    char dir[4096];
    const char *here = __FILE__; /* .../tests/unit/test_event_json.c */
    const char *cut = strstr(here, "tests/unit/");
    ck_assert_ptr_nonnull(cut);
    snprintf(dir, sizeof dir, "%.*sschemas/samples/%s", (int)(cut - here), here, kind);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".json")) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        char buf[65536];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        rc_err err;
        int rc;
        if (!strncmp(de->d_name, "batch", 5)) {
            rc_event **evs;
            size_t m;
            rc = rc_event_decode_batch(buf, n, &evs, &m, &err);
            if (rc == RC_OK) rc_event_free_array(evs, m);
        } else {
            rc_event *ev;
            rc = rc_event_decode_json(buf, n, &ev, &err);
            if (rc == RC_OK) rc_event_free(ev);
        }
        ck_assert_msg((rc == RC_OK) == expect_ok, "%s/%s: %s", kind, de->d_name,
                      rc == RC_OK ? "accepted" : err.msg);
        count++;
    }
    closedir(d);
    return count;
}

START_TEST(schema_samples) {
    ck_assert_int_gt(check_samples("valid", 1), 0);
    ck_assert_int_gt(check_samples("invalid", 0), 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("event_json");
    struct {
        const char *name;
        const TTest *tests[8];
    } groups[] = {
        {"data", {decode_spec_example, data_json_forms, data_binary_bytes, data_numbers, data_text_kept,
                  set_data_keeps_text, numbers_exact, member_names_escaped}},
        {"strings", {encode_escapes, encode_unicode, encode_invalid_utf8_is_valid_json, encode_large_text}},
        {"attributes", {ext_types, ext_errors, seq_member, decode_spec_rules}},
        {"syntax", {decode_syntax, decode_nesting_limit, decode_split_every_byte}},
        {"batch", {batch_decode, batch_split_every_byte, encode_built_event, schema_samples}},
    };
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        TCase *tc = tcase_create(groups[g].name);
        for (size_t i = 0; i < 8 && groups[g].tests[i]; i++) tcase_add_test(tc, groups[g].tests[i]);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) {
    return rc_test_run(suite());
}
