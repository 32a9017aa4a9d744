/*
 * tests/unit/cli/test_group_plan.c — the pure parts of `gregor group`
 * (cli/group_plan.c): ISO-8601 date-times and durations, the reset plan of
 * every mode (clamping, missing commits), the undo file round trip and its
 * parser's refusals, and JSON string escaping.
 */
#include "cli/group_plan.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t dt(const char *s)
{
    int64_t ms = -12345;
    cr_assert(gp_parse_datetime(s, &ms), "'%s' refused", s);
    return ms;
}

Test(group_datetime, utc_forms)
{
    cr_assert_eq(dt("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq(dt("1970-01-01"), 0);
    /* 2026-12-06T23:20:07Z, `date -u -d ... +%s` = 1796599207 */
    cr_assert_eq(dt("2026-12-06T23:20:07Z"), 1796599207000LL);
    cr_assert_eq(dt("2026-12-06T23:20:07"), 1796599207000LL); /* no zone = UTC */
    cr_assert_eq(dt("2026-12-06 23:20:07z"), 1796599207000LL);
    cr_assert_eq(dt("2026-12-06T23:20"), 1796599200000LL);
    cr_assert_eq(dt("2026-12-06T23:20:07.5Z"), 1796599207500LL);
    cr_assert_eq(dt("2026-12-06T23:20:07.123456Z"), 1796599207123LL);
    cr_assert_eq(dt("2000-02-29T12:00:00Z"), 951825600000LL);
    cr_assert_eq(dt("1969-12-31T23:59:59Z"), -1000);
}

Test(group_datetime, zone_offsets)
{
    int64_t utc = dt("2026-12-06T23:20:07Z");
    cr_assert_eq(dt("2026-12-07T00:20:07+01:00"), utc);
    cr_assert_eq(dt("2026-12-07T00:20:07+0100"), utc);
    cr_assert_eq(dt("2026-12-07T00:20:07+01"), utc);
    cr_assert_eq(dt("2026-12-06T18:50:07-04:30"), utc);
}

Test(group_datetime, refuses_malformed)
{
    static const char *const bad[] = {
        "",
        "2026",
        "2026-12",
        "2026-13-01",
        "2026-02-29",
        "2026-04-31",
        "2026-12-06T24:00:00Z",
        "2026-12-06T23:60",
        "2026-12-06T23:20:61Z",
        "2026-12-06T23",
        "2026-12-06T23:20:07.Z",
        "2026-12-06T23:20:07ZZ",
        "2026-12-06T23:20:07+25:00",
        "2026-12-06T23:20:07 UTC",
        "26-12-06",
        "yesterday",
        "1796599207000",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 7;
        cr_assert_not(gp_parse_datetime(bad[i], &ms), "'%s' accepted", bad[i]);
        cr_assert_eq(ms, 7, "'%s' changed the output", bad[i]);
    }
}

static int64_t dur(const char *s)
{
    int64_t ms = -1;
    cr_assert(gp_parse_duration(s, &ms), "'%s' refused", s);
    return ms;
}

Test(group_duration, forms)
{
    cr_assert_eq(dur("PT1H"), 3600000);
    cr_assert_eq(dur("PT30M"), 1800000);
    cr_assert_eq(dur("PT45S"), 45000);
    cr_assert_eq(dur("PT0.25S"), 250);
    cr_assert_eq(dur("PT1.5S"), 1500);
    cr_assert_eq(dur("P1D"), 86400000);
    cr_assert_eq(dur("P2W"), 14 * 86400000LL);
    cr_assert_eq(dur("P1DT2H3M4S"), 86400000LL + 2 * 3600000 + 3 * 60000 + 4000);
    cr_assert_eq(dur("pt1h"), 3600000);
    cr_assert_eq(dur("PT0S"), 0);
    cr_assert_eq(dur("PT90M"), 5400000);
}

Test(group_duration, refuses_malformed)
{
    static const char *const bad[] = {
        "",      "P",      "PT",     "1H",    "PT1",    "PT1X",
        "P1M", /* months */
        "P1Y",   "PT1H1H", "PT1M1H", "P1DT",  "PT1.5H", "-PT1H",
        "PT-1H", "P1H",    "PT1D",   "P1D2W", "PT1H ",  "PT99999999999999999999S",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 7;
        cr_assert_not(gp_parse_duration(bad[i], &ms), "'%s' accepted", bad[i]);
        cr_assert_eq(ms, 7, "'%s' changed the output", bad[i]);
    }
}

/* Three partitions: committed inside the log, none, and below the log start. */
static void parts3(struct gp_part p[3])
{
    memset(p, 0, 3 * sizeof(*p));
    p[0] = (struct gp_part){"t", 0, 50, 10, 100, 70, -1, 99};
    p[1] = (struct gp_part){"t", 1, -1, 0, 40, -1, -1, 99};
    p[2] = (struct gp_part){"t", 2, 3, 5, 8, 6, -1, 99};
}

Test(group_plan, earliest_latest)
{
    struct gp_part p[3];
    parts3(p);
    gp_plan(GP_EARLIEST, 0, p, 3);
    cr_assert_eq(p[0].new_offset, 10);
    cr_assert_eq(p[1].new_offset, 0);
    cr_assert_eq(p[2].new_offset, 5);
    gp_plan(GP_LATEST, 0, p, 3);
    cr_assert_eq(p[0].new_offset, 100);
    cr_assert_eq(p[1].new_offset, 40);
    cr_assert_eq(p[2].new_offset, 8);
}

Test(group_plan, to_offset_is_clamped_to_the_log)
{
    struct gp_part p[3];
    parts3(p);
    gp_plan(GP_OFFSET, 20, p, 3);
    cr_assert_eq(p[0].new_offset, 20);
    cr_assert_eq(p[1].new_offset, 20);
    cr_assert_eq(p[2].new_offset, 8);
    gp_plan(GP_OFFSET, 0, p, 3);
    cr_assert_eq(p[0].new_offset, 10);
}

Test(group_plan, by_time_uses_the_lookup_or_the_end)
{
    struct gp_part p[3];
    parts3(p);
    gp_plan(GP_DATETIME, 0, p, 3);
    cr_assert_eq(p[0].new_offset, 70);
    cr_assert_eq(p[1].new_offset, 40); /* no record at or after the time */
    cr_assert_eq(p[2].new_offset, 6);
    gp_plan(GP_DURATION, 0, p, 3);
    cr_assert_eq(p[0].new_offset, 70);
}

Test(group_plan, shift_from_current_or_end_clamped)
{
    struct gp_part p[3];
    parts3(p);
    gp_plan(GP_SHIFT, -15, p, 3);
    cr_assert_eq(p[0].new_offset, 35);
    cr_assert_eq(p[1].new_offset, 25); /* no commit: from the log end */
    cr_assert_eq(p[2].new_offset, 5);  /* 3 - 15 clamped to the start */
    gp_plan(GP_SHIFT, 1000, p, 3);
    cr_assert_eq(p[0].new_offset, 100);
    gp_plan(GP_SHIFT, INT64_MAX, p, 3);
    cr_assert_eq(p[0].new_offset, 100);
    gp_plan(GP_SHIFT, INT64_MIN + 1, p, 3);
    cr_assert_eq(p[0].new_offset, 10);
}

Test(group_plan, from_file_targets_and_deletions)
{
    struct gp_part p[3];
    parts3(p);
    p[0].target = 42;
    p[1].target = -1;
    p[2].target = 1000;
    gp_plan(GP_FILE, 0, p, 3);
    cr_assert_eq(p[0].new_offset, 42);
    cr_assert_eq(p[1].new_offset, -1);
    cr_assert_eq(p[2].new_offset, 8);
}

static char *write_undo(const char *group, const struct gp_part *p, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    cr_assert(gp_undo_write(f, group, 1796599207000LL, p, n));
    fclose(f);
    return buf;
}

Test(group_undo, round_trip)
{
    struct gp_part p[3];
    parts3(p);
    p[0].topic = "orders \"eu\"\\x";
    char *text = write_undo("g/1\t\"q\"", p, 3);
    struct gp_undo u;
    char err[128] = "";
    cr_assert(gp_undo_parse(text, &u, err, sizeof(err)), "%s: %s", err, text);
    cr_assert_str_eq(u.group, "g/1\t\"q\"");
    cr_assert_eq(u.created_ms, 1796599207000LL);
    cr_assert_eq(u.n, 3);
    cr_assert_str_eq(u.parts[0].topic, "orders \"eu\"\\x");
    cr_assert_eq(u.parts[0].partition, 0);
    cr_assert_eq(u.parts[0].target, 50);
    cr_assert_str_eq(u.parts[1].topic, "t");
    cr_assert_eq(u.parts[1].partition, 1);
    cr_assert_eq(u.parts[1].target, -1); /* no commit before: null */
    cr_assert_eq(u.parts[2].target, 3);
    gp_undo_free(&u);
    free(text);
}

Test(group_undo, empty_offsets_and_exact_text)
{
    char *text = write_undo("g", NULL, 0);
    cr_assert_str_eq(text,
                     "{\"group\": \"g\", \"created_ms\": 1796599207000,\n \"offsets\": []}\n");
    struct gp_undo u;
    char err[128];
    cr_assert(gp_undo_parse(text, &u, err, sizeof(err)), "%s", err);
    cr_assert_eq(u.n, 0);
    gp_undo_free(&u);
    free(text);
}

Test(group_undo, other_member_order_whitespace_and_unknown_members)
{
    const char *text = "\n{ \"offsets\" : [ { \"offset\":7 ,\"x\":true, \"partition\": 2, "
                       "\"topic\":\"a\\u0041\" } ], \"v\": 1.5e3, \"group\":\"g\" }\n";
    struct gp_undo u;
    char err[128];
    cr_assert(gp_undo_parse(text, &u, err, sizeof(err)), "%s", err);
    cr_assert_str_eq(u.group, "g");
    cr_assert_eq(u.n, 1);
    cr_assert_str_eq(u.parts[0].topic, "aA");
    cr_assert_eq(u.parts[0].partition, 2);
    cr_assert_eq(u.parts[0].target, 7);
    gp_undo_free(&u);
}

Test(group_undo, refuses_broken_files)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"group\": \"g\"}",
        "{\"offsets\": []}",
        "{\"group\": \"g\", \"offsets\": [}",
        "{\"group\": \"g\", \"offsets\": [{\"topic\": \"t\", \"partition\": 0}]}",
        "{\"group\": \"g\", \"offsets\": [{\"topic\": \"t\", \"offset\": 1}]}",
        "{\"group\": \"g\", \"offsets\": [{\"partition\": 0, \"offset\": 1}]}",
        "{\"group\": \"g\", \"offsets\": [{\"topic\": \"t\", \"partition\": -1, \"offset\": 1}]}",
        "{\"group\": \"g\", \"offsets\": [{\"topic\": \"t\", \"partition\": 0, \"offset\": -5}]}",
        "{\"group\": \"g\", \"offsets\": [{\"topic\": \"t\", \"partition\": 0, \"offset\": 1.5}]}",
        "{\"group\": \"g\", \"offsets\": []} trailing",
        "{\"group\": \"g\\q\", \"offsets\": []}",
        "{\"group\": \"g\" \"offsets\": []}",
        "{\"group\": \"g\", \"offsets\": [], \"nested\": {\"a\": 1}}",
        "{\"group\": \"g\", \"offsets\": [{\"topic\": \"t\", \"partition\": 0, \"offset\": 1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gp_undo u;
        char err[128] = "";
        cr_assert_not(gp_undo_parse(bad[i], &u, err, sizeof(err)), "accepted: %s", bad[i]);
        cr_assert(err[0] != '\0', "no reason for: %s", bad[i]);
        cr_assert_null(u.group);
        cr_assert_null(u.parts);
    }
}

Test(group_json, string_escapes)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    gp_json_str(f, "a\"b\\c\nd\te\x01\xc3\xa9");
    fputc(' ', f);
    gp_json_str(f, NULL);
    fclose(f);
    cr_assert_str_eq(buf, "\"a\\\"b\\\\c\\nd\\te\\u0001\xc3\xa9\" null");
    free(buf);
}
