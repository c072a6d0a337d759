/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event model, the CloudEvents v1.0.2 validator and its helpers
 * (URI-references, media types, RFC 3339 time, base64, UTF-8). The JSON
 * format has its own suite, test_event_json.c.
 *
 * Each test runs in its own process (fork mode). Leaks: in the ASan build
 * (-DRC_ASAN=ON) LeakSanitizer checks every forked test process as it exits
 * and a leak turns into a failed test; in other builds run the binary once
 * under valgrind with CK_FORK=no.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event_internal.h"
#include "redcar/event.h"
#include "check_main.h"

/* A minimal valid event. */
static rc_event *base(void) {
    rc_event *ev = rc_event_new();
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(rc_event_set(ev, "specversion", "1.0"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "id", "A234-1234-1234"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "source", "https://github.com/cloudevents/spec/pull"), RC_OK);
    ck_assert_int_eq(rc_event_set(ev, "type", "com.github.pull_request.opened"), RC_OK);
    return ev;
}

/* Validate ev and expect exactly msg (NULL: expect RC_OK). Frees ev. */
static void expect(rc_event *ev, const char *msg) {
    rc_err err;
    int rc = rc_event_validate(ev, &err);
    if (!msg) {
        ck_assert_msg(rc == RC_OK, "unexpected error: %s", err.msg);
    } else {
        ck_assert_int_eq(rc, RC_EVENT_INVALID);
        ck_assert_int_eq(err.code, RC_EVENT_INVALID);
        ck_assert_str_eq(err.msg, msg);
    }
    rc_event_free(ev);
}

/* Set one attribute on a valid event and expect msg. */
static void expect_attr(const char *name, const char *value, const char *msg) {
    rc_event *ev = base();
    ck_assert_int_eq(rc_event_set(ev, name, value), RC_OK);
    expect(ev, msg);
}

/* ---- model ------------------------------------------------------------------ */

START_TEST(model_set_get) {
    rc_event *ev = base();
    char tmp[24];
    ck_assert_str_eq(rc_event_get(ev, "id", tmp, sizeof tmp), "A234-1234-1234");
    ck_assert_ptr_null(rc_event_get(ev, "subject", tmp, sizeof tmp));
    ck_assert_int_eq(rc_event_set(ev, "subject", "123"), RC_OK);
    ck_assert_str_eq(ev->subject, "123");
    ck_assert_int_eq(rc_event_set(ev, "subject", NULL), RC_OK);
    ck_assert_ptr_null(ev->subject);
    /* Unknown names become String extensions. */
    ck_assert_int_eq(rc_event_set(ev, "comexampleext", "v"), RC_OK);
    ck_assert_int_eq(rc_event_ext(ev, "comexampleext")->type, RC_EXT_STRING);
    ck_assert_str_eq(rc_event_get(ev, "comexampleext", tmp, sizeof tmp), "v");
    ck_assert_int_eq(rc_event_set_ext_int(ev, "n", -42), RC_OK);
    ck_assert_str_eq(rc_event_get(ev, "n", tmp, sizeof tmp), "-42");
    ck_assert_int_eq(rc_event_set_ext_bool(ev, "b", 7), RC_OK);
    ck_assert_str_eq(rc_event_get(ev, "b", tmp, sizeof tmp), "true");
    ck_assert_int_eq(rc_event_ext(ev, "b")->b, 1);
    ck_assert_int_eq(rc_event_set(ev, "comexampleext", NULL), RC_OK);
    ck_assert_ptr_null(rc_event_ext(ev, "comexampleext"));
    ck_assert_int_eq(rc_event_remove_ext(ev, "nope"), RC_NOT_FOUND);
    rc_event_free(ev);
}
END_TEST

START_TEST(model_ext_order_and_replace) {
    rc_event *ev = base();
    ck_assert_int_eq(rc_event_set_ext_string(ev, "a", RC_EXT_STRING, "1"), RC_OK);
    ck_assert_int_eq(rc_event_set_ext_int(ev, "b", 2), RC_OK);
    ck_assert_int_eq(rc_event_set_ext_bool(ev, "c", 0), RC_OK);
    ck_assert_int_eq(rc_event_set_ext_string(ev, "d", RC_EXT_URI, "https://x"), RC_OK);
    ck_assert_int_eq(rc_event_set_ext_string(ev, "e", RC_EXT_TIME, "2020-01-01T00:00:00Z"), RC_OK);
    /* Replacing keeps the position and may change the type. */
    ck_assert_int_eq(rc_event_set_ext_int(ev, "a", 9), RC_OK);
    ck_assert_uint_eq(ev->n_ext, 5);
    ck_assert_str_eq(ev->ext[0].name, "a");
    ck_assert_int_eq(ev->ext[0].type, RC_EXT_INT);
    ck_assert_int_eq(ev->ext[0].i, 9);
    ck_assert_int_eq(rc_event_remove_ext(ev, "b"), RC_OK);
    ck_assert_uint_eq(ev->n_ext, 4);
    ck_assert_str_eq(ev->ext[1].name, "c");
    ck_assert_str_eq(ev->ext[3].name, "e");
    /* Binary/Int/Bool kinds refuse a string setter of the wrong kind. */
    ck_assert_int_eq(rc_event_set_ext_string(ev, "x", RC_EXT_INT, "1"), RC_INVALID);
    for (int i = 0; i < 40; i++) { /* growth */
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        ck_assert_int_eq(rc_event_set_ext_int(ev, name, i), RC_OK);
    }
    ck_assert_uint_eq(ev->n_ext, 44);
    expect(ev, NULL);
}
END_TEST

START_TEST(model_clone_equal) {
    rc_event *ev = base();
    ev->seq = 77;
    rc_event_set(ev, "time", "2018-04-05T17:31:00Z");
    rc_event_set_ext_int(ev, "n", 5);
    rc_event_set_ext_string(ev, "bin", RC_EXT_BINARY, "AAEC");
    ck_assert_int_eq(rc_event_set_data(ev, "application/octet-stream", "\0\1\2", 3, RC_DATA_NONE), RC_OK);
    rc_event *c = rc_event_clone(ev);
    ck_assert_ptr_nonnull(c);
    ck_assert(rc__event_equal(ev, c));
    ck_assert_ptr_ne(c->id, ev->id);
    ck_assert_ptr_ne(c->data, ev->data);
    c->ext[0].i = 6;
    ck_assert(!rc__event_equal(ev, c));
    c->ext[0].i = 5;
    c->seq = 1;
    ck_assert(!rc__event_equal(ev, c));
    rc_event_free(c);
    rc_event_free(ev);
    rc_event_free(NULL);
    rc_event_free_array(NULL, 3);
}
END_TEST

START_TEST(model_set_data_choose) {
    rc_event *ev = base();
    /* JSON content type and JSON bytes: kept compact, as the decoder keeps it. */
    ck_assert_int_eq(rc_event_set_data(ev, "application/json", "{ \"a\" : [1, 2] }", 16, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_JSON);
    ck_assert_str_eq((char *)ev->data, "{\"a\":[1,2]}");
    ck_assert_str_eq(ev->datacontenttype, "application/json");
    /* No content type means JSON. */
    rc_event_set(ev, "datacontenttype", NULL);
    ck_assert_int_eq(rc_event_set_data(ev, NULL, "42", 2, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_JSON);
    /* JSON type but not JSON: binary, never a string that would read back as JSON. */
    ck_assert_int_eq(rc_event_set_data(ev, "application/cloudevents+json", "hello", 5, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_BINARY);
    ck_assert_uint_eq(ev->data_len, 5);
    /* Text type and UTF-8: text. */
    ck_assert_int_eq(rc_event_set_data(ev, "text/plain; charset=utf-8", "h\xc3\xa9", 3, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_TEXT);
    ck_assert_int_eq(ev->data[3], 0);
    ck_assert_int_eq(rc_event_set_data(ev, "application/xml", "<a/>", 4, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_TEXT);
    /* Text type, not UTF-8: binary. */
    ck_assert_int_eq(rc_event_set_data(ev, "text/plain", "\xff\xfe", 2, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_BINARY);
    ck_assert_int_eq(rc_event_set_data(ev, "image/png", "abc", 3, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_BINARY);
    /* Explicit forms. */
    ck_assert_int_eq(rc_event_set_data(ev, "application/json", "{", 1, RC_DATA_JSON), RC_INVALID);
    /* an error leaves the event as it was */
    ck_assert_str_eq(ev->datacontenttype, "image/png");
    ck_assert_int_eq(ev->data_form, RC_DATA_BINARY);
    ck_assert_str_eq((char *)ev->data, "abc");
    ck_assert_int_eq(rc_event_set_data(ev, "text/plain", "\xff", 1, RC_DATA_TEXT), RC_INVALID);
    ck_assert_int_eq(rc_event_set_data(ev, "text/plain", "x", 1, RC_DATA_BINARY), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_BINARY);
    /* NULL data removes it; the content type stays as given. */
    ck_assert_int_eq(rc_event_set_data(ev, NULL, NULL, 0, RC_DATA_NONE), RC_OK);
    ck_assert_int_eq(ev->data_form, RC_DATA_NONE);
    ck_assert_ptr_null(ev->data);
    ck_assert_str_eq(ev->datacontenttype, "text/plain");
    expect(ev, NULL);
}
END_TEST

/* ---- validator: required attributes --------------------------------------------- */

START_TEST(valid_minimal) { expect(base(), NULL); }
END_TEST

START_TEST(valid_required_missing) {
    static const struct { const char *name, *msg; } cases[] = {
        {"id", "id: must be a non-empty string"},
        {"source", "source: must be a non-empty URI-reference"},
        {"specversion", "specversion: must be a non-empty string"},
        {"type", "type: must be a non-empty string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_attr(cases[i].name, NULL, cases[i].msg);
        const char *empty_msg = cases[i].msg;
        if (!strcmp(cases[i].name, "specversion")) empty_msg = "specversion: must be a non-empty string";
        expect_attr(cases[i].name, "", empty_msg);
    }
}
END_TEST

START_TEST(valid_specversion) {
    expect_attr("specversion", "0.3", "specversion: must be \"1.0\"");
    expect_attr("specversion", "1.0 ", "specversion: must be \"1.0\"");
    expect_attr("specversion", "1", "specversion: must be \"1.0\"");
    expect_attr("specversion", "1.0", NULL);
}
END_TEST

START_TEST(valid_source) {
    static const char *good[] = {
        "https://github.com/cloudevents",
        "mailto:cncf-wg-serverless@lists.cncf.io",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "cloudevents/spec/pull/123",
        "/sensors/tn-1234567/alerts",
        "1-555-123-4567",
        "my:thing",
        "http://user:pw@[::1]:8080/a%20b?x=1&y=/?#frag",
        "http://[v1.fe]/",
        "http://192.168.0.1",
        "//example.com/x",
        "?q",
        "#f",
        "./a:b",
    };
    static const char *bad[] = {
        "http://exa mple.com", "a b", ":foo", "a:b/c d", "%zz", "http://[zz]/", "http://[::1",
        "http://h:80x/", "http://a@b@c/", "bad\\path", "caf\xc3\xa9", "x{y}", "1abc:def",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_msg(rc_valid_uri_ref(good[i]), "should be a URI-reference: %s", good[i]);
        expect_attr("source", good[i], NULL);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!rc_valid_uri_ref(bad[i]), "should not be a URI-reference: %s", bad[i]);
        expect_attr("source", bad[i], "source: must be a URI-reference (RFC 3986)");
    }
    ck_assert(rc_valid_uri_ref(""));
    ck_assert(!rc_valid_uri_ref(NULL));
}
END_TEST

START_TEST(valid_type_id_subject) {
    expect_attr("type", "com.example.object.deleted.v2", NULL);
    expect_attr("subject", "mynewfile.jpg", NULL);
    expect_attr("subject", "", "subject: must be a non-empty string");
}
END_TEST

/* ---- validator: optional attributes --------------------------------------------- */

START_TEST(valid_dataschema) {
    expect_attr("dataschema", "https://example.com/schema.json", NULL);
    expect_attr("dataschema", "urn:example:schema", NULL);
    expect_attr("dataschema", "/schema.json", "dataschema: must be an absolute URI (RFC 3986)");
    expect_attr("dataschema", "", "dataschema: must be an absolute URI (RFC 3986)");
    ck_assert(rc_valid_uri_abs("https://x/y#z"));
    ck_assert(!rc_valid_uri_abs("x/y"));
    ck_assert(!rc_valid_uri_abs("https://x y"));
}
END_TEST

START_TEST(valid_datacontenttype) {
    static const char *good[] = {
        "application/json", "text/plain; charset=utf-8", "text/plain;charset=\"utf-8\"",
        "application/vnd.apache.avro+json", "application/cloudevents+json", "image/png",
        "multipart/form-data; boundary=x; charset=us-ascii",
    };
    static const char *bad[] = {
        "json", "application/", "/json", "text/plain;", "text/plain; charset", "text/plain; =x",
        "text /plain", "text/plain; charset=\"utf-8", "text/pl ain", "application/json x",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) expect_attr("datacontenttype", good[i], NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_attr("datacontenttype", bad[i], "datacontenttype: must be a media type (RFC 2046 type/subtype)");
}
END_TEST

START_TEST(valid_time) {
    static const char *good[] = {
        "2018-04-05T17:31:00Z", "1985-04-12T23:20:50.52Z", "1996-12-19T16:39:57-08:00",
        "1990-12-31T23:59:60Z", "1990-12-31T15:59:60-08:00", "1937-01-01T12:00:27.87+00:20",
        "2020-02-29T00:00:00Z", "2000-02-29T00:00:00z", "2018-04-05t17:31:00.123456789Z",
    };
    static const char *bad[] = {
        "2019-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2020-13-01T00:00:00Z", "2020-00-01T00:00:00Z",
        "2020-04-31T00:00:00Z", "2020-01-01T24:00:00Z", "2020-01-01T00:60:00Z", "2020-01-01T12:00:60Z",
        "2020-01-01 00:00:00Z", "2020-01-01T00:00:00", "2020-01-01T00:00:00.Z", "2020-01-01T00:00Z",
        "2020-1-01T00:00:00Z", "2020-01-01T00:00:00+0100", "2020-01-01T00:00:00+24:00",
        "2020-01-01T00:00:00Zjunk", "20-01-01T00:00:00Z", "", "now",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_msg(rc_time_parse(good[i], NULL) == RC_OK, "should parse: %s", good[i]);
        expect_attr("time", good[i], NULL);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(rc_time_parse(bad[i], NULL) == RC_INVALID, "should not parse: %s", bad[i]);
        expect_attr("time", bad[i], "time: must be an RFC 3339 timestamp");
    }
}
END_TEST

START_TEST(time_values) {
    int64_t ms;
    char buf[32];
    ck_assert_int_eq(rc_time_parse("1970-01-01T00:00:00Z", &ms), RC_OK);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(rc_time_parse("1970-01-01T00:00:00.5Z", &ms), RC_OK);
    ck_assert_int_eq(ms, 500);
    ck_assert_int_eq(rc_time_parse("1970-01-01T00:00:00.0129Z", &ms), RC_OK);
    ck_assert_int_eq(ms, 12);
    ck_assert_int_eq(rc_time_parse("1970-01-01T01:00:00+01:00", &ms), RC_OK);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(rc_time_parse("1969-12-31T16:00:00-08:00", &ms), RC_OK);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(rc_time_parse("2026-11-21T05:02:06.123Z", &ms), RC_OK);
    ck_assert_int_eq(ms, 1795237326123LL);
    rc_time_format(ms, buf, sizeof buf);
    ck_assert_str_eq(buf, "2026-11-21T05:02:06.123Z");
    /* The leap second is the instant after 23:59:59. */
    ck_assert_int_eq(rc_time_parse("1990-12-31T23:59:60Z", &ms), RC_OK);
    int64_t next;
    ck_assert_int_eq(rc_time_parse("1991-01-01T00:00:00Z", &next), RC_OK);
    ck_assert_int_eq(ms, next);
    rc_time_format(-1, buf, sizeof buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    /* Extremes only need to be safe (UBSan watches the arithmetic). */
    rc_time_format(INT64_MIN, buf, sizeof buf);
    rc_time_format(INT64_MAX, buf, sizeof buf);
    ck_assert_int_eq(rc_time_parse("0000-01-01T00:00:00Z", &ms), RC_OK);
    ck_assert_int_eq(ms, -62167219200000LL);
    ck_assert_int_eq(rc_time_parse("9999-12-31T23:59:59.999Z", &ms), RC_OK);
    ck_assert_int_eq(ms, 253402300799999LL);
    rc_time_format(951782400000LL, buf, sizeof buf);
    ck_assert_str_eq(buf, "2000-02-29T00:00:00.000Z");
    /* Round trip over a spread of instants, including before the epoch. */
    for (int64_t t = -62135596800000LL; t < 253402300799000LL; t += 86399999777LL) {
        rc_time_format(t, buf, sizeof buf);
        ck_assert_int_eq(rc_time_parse(buf, &ms), RC_OK);
        ck_assert_int_eq(ms, t);
    }
}
END_TEST

/* ---- validator: strings and extensions ----------------------------------------- */

START_TEST(valid_control_chars) {
    expect_attr("id", "a\x01" "b", "id: must not contain control characters");
    expect_attr("type", "a\nb", "type: must not contain control characters");
    expect_attr("subject", "del\x7f", "subject: must not contain control characters");
    expect_attr("subject", "c1 \xc2\x85 nel", "subject: must not contain control characters");
    expect_attr("subject", "c1 \xc2\x9f", "subject: must not contain control characters");
    expect_attr("subject", "ok \xc2\xa0 nbsp \xc2\xa9", NULL);
    expect_attr("comexampleext", "tab\there", "comexampleext: must not contain control characters");
    expect_attr("subject", "bad \xff utf8", "subject: must be valid UTF-8");
}
END_TEST

START_TEST(valid_ext_names) {
    expect_attr("comexampleextension1", "v", NULL);
    expect_attr("MyExt", "v", "MyExt: extension name must be lowercase a-z and 0-9 only");
    expect_attr("my_ext", "v", "my_ext: extension name must be lowercase a-z and 0-9 only");
    expect_attr("my-ext", "v", "my-ext: extension name must be lowercase a-z and 0-9 only");
    expect_attr("data", "v", "data: reserved name, not an extension");
    expect_attr("seq", "v", "seq: reserved name, not an extension");
    expect_attr("data_base64", "v", "data_base64: extension name must be lowercase a-z and 0-9 only");
    rc_event *ev = base();
    ck_assert_int_eq(rc_event_set_ext_string(ev, "id", RC_EXT_STRING, "x"), RC_OK);
    expect(ev, "id: reserved name, not an extension");
    /* Names in messages are untrusted: cut and made printable. */
    ev = base();
    rc_event_set(ev, "\n\x1b[31mREDxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "v");
    expect(ev, "??[31mREDxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: extension name must be lowercase a-z and 0-9 only");
    ck_assert(rc_valid_ext_name("a1"));
    ck_assert(!rc_valid_ext_name(""));
    ck_assert(!rc_valid_ext_name(NULL));
    ck_assert(!rc_valid_ext_name("data"));
    ck_assert(rc_valid_ext_name("database"));
}
END_TEST

START_TEST(valid_ext_int_range) {
    rc_event *ev = base();
    rc_event_set_ext_int(ev, "myext", 2147483647);
    rc_event_set_ext_int(ev, "low", -2147483648LL);
    expect(ev, NULL);
    ev = base();
    rc_event_set_ext_int(ev, "myext", 2147483648LL);
    expect(ev, "myext: integer out of int32 range");
    ev = base();
    rc_event_set_ext_int(ev, "myext", -2147483649LL);
    expect(ev, "myext: integer out of int32 range");
}
END_TEST

START_TEST(valid_ext_typed) {
    static const struct {
        rc_ext_type type;
        const char *value, *msg;
    } cases[] = {
        {RC_EXT_BINARY, "AAECAw==", NULL},
        {RC_EXT_BINARY, "AAECAw=", "x: must be base64 (RFC 4648)"},
        {RC_EXT_BINARY, "not base64!", "x: must be base64 (RFC 4648)"},
        {RC_EXT_URI, "https://example.com/x", NULL},
        {RC_EXT_URI, "/relative", "x: must be an absolute URI (RFC 3986)"},
        {RC_EXT_URIREF, "/relative", NULL},
        {RC_EXT_URIREF, "a b", "x: must be a URI-reference (RFC 3986)"},
        {RC_EXT_TIME, "2020-01-01T00:00:00Z", NULL},
        {RC_EXT_TIME, "yesterday", "x: must be an RFC 3339 timestamp"},
        {RC_EXT_STRING, "", NULL},
        {RC_EXT_STRING, "\x1f", "x: must not contain control characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rc_event *ev = base();
        ck_assert_int_eq(rc_event_set_ext_string(ev, "x", cases[i].type, cases[i].value), RC_OK);
        expect(ev, cases[i].msg);
    }
}
END_TEST

START_TEST(valid_duplicate_ext) {
    /* The setters cannot make one, but a hand-built event can. */
    rc_event *ev = base();
    rc_event_set_ext_int(ev, "a", 1);
    rc_event_set_ext_int(ev, "b", 1);
    free(ev->ext[1].name);
    ev->ext[1].name = strdup("a");
    expect(ev, "a: duplicate attribute");
    /* Many: the sorted check reports the first duplicate in order. */
    ev = base();
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "e%d", i);
        rc_event_set_ext_int(ev, name, i);
    }
    free(ev->ext[70].name);
    ev->ext[70].name = strdup("e9");
    free(ev->ext[40].name);
    ev->ext[40].name = strdup("e99");
    expect(ev, "e9: duplicate attribute");
}
END_TEST

/* ---- helpers ---------------------------------------------------------------------- */

START_TEST(helper_json_ctype) {
    static const char *json[] = {
        NULL, "application/json", "APPLICATION/JSON", "text/json", "application/json; charset=utf-8",
        " application/json ;charset=utf-8", "application/cloudevents+json", "application/vnd.api+json",
        "text/x+JSON",
    };
    static const char *other[] = {
        "text/plain", "application/jsonx", "application/xml", "+json", "json", "application/json-seq",
        "application/octet-stream", "",
    };
    for (size_t i = 0; i < sizeof json / sizeof json[0]; i++)
        ck_assert_msg(rc_is_json_ctype(json[i]), "should be JSON: %s", json[i] ? json[i] : "(null)");
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        ck_assert_msg(!rc_is_json_ctype(other[i]), "should not be JSON: %s", other[i]);
}
END_TEST

START_TEST(helper_base64) {
    static const char *vec[][2] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        rc_buf b = RC_BUF_INIT;
        rc_base64_encode(vec[i][0], strlen(vec[i][0]), &b);
        ck_assert_str_eq(b.p, vec[i][1]);
        unsigned char *out;
        size_t n;
        ck_assert_int_eq(rc_base64_decode(b.p, b.len, &out, &n), RC_OK);
        ck_assert_uint_eq(n, strlen(vec[i][0]));
        ck_assert_mem_eq(out, vec[i][0], n);
        ck_assert_int_eq(out[n], 0);
        free(out);
        rc_buf_free(&b);
    }
    /* Every byte value survives. */
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    rc_buf b = RC_BUF_INIT;
    rc_base64_encode(all, sizeof all, &b);
    unsigned char *out;
    size_t n;
    ck_assert_int_eq(rc_base64_decode(b.p, b.len, &out, &n), RC_OK);
    ck_assert_uint_eq(n, 256);
    ck_assert_mem_eq(out, all, 256);
    free(out);
    rc_buf_free(&b);
    static const char *bad[] = {"Zg=", "Zg", "Zh==", "Zm9=", "Z===", "====", "Zm9v\n", "Zm 9v", "Zm9-", "=Zm9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = NULL;
        ck_assert_msg(rc_base64_decode(bad[i], strlen(bad[i]), &out, &n) == RC_INVALID, "accepted %s", bad[i]);
        ck_assert_ptr_null(out);
    }
}
END_TEST

START_TEST(helper_utf8) {
    ck_assert(rc_valid_utf8("", 0));
    ck_assert(rc_valid_utf8("plain", 5));
    ck_assert(rc_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    ck_assert(rc_valid_utf8("\xf4\x8f\xbf\xbf", 4));
    ck_assert(!rc_valid_utf8("\xc0\x80", 2));         /* overlong NUL */
    ck_assert(!rc_valid_utf8("\xe0\x80\xaf", 3));     /* overlong */
    ck_assert(!rc_valid_utf8("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!rc_valid_utf8("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!rc_valid_utf8("\xc3", 1));             /* truncated */
    ck_assert(!rc_valid_utf8("\xe2\x82", 2));
    ck_assert(!rc_valid_utf8("\x80", 1));
    ck_assert(!rc_valid_utf8("\xff", 1));
}
END_TEST

START_TEST(helper_media_type) {
    ck_assert(rc__valid_media_type("a/b"));
    ck_assert(!rc__valid_media_type(NULL));
    ck_assert(rc__is_textual_ctype("text/csv"));
    ck_assert(rc__is_textual_ctype("application/atom+xml"));
    ck_assert(!rc__is_textual_ctype("application/octet-stream"));
    ck_assert(!rc__is_textual_ctype("text/"));
    ck_assert(!rc__is_textual_ctype(NULL));
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("event");
    struct {
        const char *name;
        const TTest *tests[16];
    } groups[] = {
        {"model", {model_set_get, model_ext_order_and_replace, model_clone_equal, model_set_data_choose}},
        {"required", {valid_minimal, valid_required_missing, valid_specversion, valid_source, valid_type_id_subject}},
        {"optional", {valid_dataschema, valid_datacontenttype, valid_time, time_values}},
        {"strings", {valid_control_chars, valid_ext_names, valid_ext_int_range, valid_ext_typed, valid_duplicate_ext}},
        {"helpers", {helper_json_ctype, helper_base64, helper_utf8, helper_media_type}},
    };
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        TCase *tc = tcase_create(groups[g].name);
        for (size_t i = 0; i < 16 && groups[g].tests[i]; i++) tcase_add_test(tc, groups[g].tests[i]);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) {
    return rc_test_run(suite());
}
