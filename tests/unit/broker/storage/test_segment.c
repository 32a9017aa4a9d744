/*
 * tests/unit/broker/storage/test_segment.c — segment naming, the offset and
 * time indexes (preallocation, trim, lookup, validation on reopen) and the
 * segment's own append/find/load.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker/storage/fileio.h"
#include "broker/storage/segment.h"
#include "storage_test.h"

TestSuite(segment, .init = st_tmpdir_up, .fini = st_tmpdir_down, .timeout = 10);
TestSuite(offset_index, .init = st_tmpdir_up, .fini = st_tmpdir_down, .timeout = 10);
TestSuite(time_index, .init = st_tmpdir_up, .fini = st_tmpdir_down, .timeout = 10);

Test(segment, names_are_base_offset_padded_to_20_digits)
{
    char buf[256];
    int64_t base = 0;

    cr_assert(segment_path(buf, sizeof(buf), "/d", 0, "log"));
    cr_assert_str_eq(buf, "/d/00000000000000000000.log");
    cr_assert(segment_path(buf, sizeof(buf), "/d", 1234567, "index"));
    cr_assert_str_eq(buf, "/d/00000000000001234567.index");
    cr_assert(segment_path(buf, sizeof(buf), "/d", INT64_MAX, "timeindex"));
    cr_assert_str_eq(buf, "/d/09223372036854775807.timeindex");
    cr_assert_not(segment_path(buf, 10, "/d", 0, "log"));

    cr_assert(segment_parse_name("00000000000001234567.log", &base));
    cr_assert_eq(base, 1234567);
    cr_assert_not(segment_parse_name("00000000000001234567.index", &base));
    cr_assert_not(segment_parse_name("0000000000001234567.log", &base));
    cr_assert_not(segment_parse_name("0000000000000123456x.log", &base));
    cr_assert_not(segment_parse_name("99999999999999999999.log", &base));
    cr_assert_not(segment_parse_name("00000000000001234567.log.tmp", &base));
}

Test(offset_index, preallocated_when_active_and_trimmed_when_sealed)
{
    struct offset_index oi;
    bool clean;
    const char *path = st_path("00000000000000000100.index");

    cr_assert_eq(offset_index_open(&oi, path, 100, 1 << 20, &clean), KERR_NONE);
    cr_assert(clean);
    cr_assert_eq(offset_index_entries(&oi), 0);
    cr_assert_eq(index_file_activate(&oi.f, 1000), KERR_NONE);
    cr_assert_eq(st_file_size(path), 1000); /* 125 entries of 8 bytes */
    cr_assert_eq(oi.f.max_entries, 125);
    cr_assert_eq(offset_index_append(&oi, 105, 4096), KERR_NONE);
    cr_assert_eq(offset_index_append(&oi, 110, 8192), KERR_NONE);
    cr_assert_eq(offset_index_entries(&oi), 2);
    cr_assert_eq(index_file_seal(&oi.f), KERR_NONE);
    cr_assert_eq(st_file_size(path), 16);
    index_file_close(&oi.f);

    uint8_t raw[16];
    cr_assert_eq(st_read_at(path, 0, raw, 16), 16);
    cr_assert_eq(be32_load(raw), 5);
    cr_assert_eq(be32_load(raw + 4), 4096);
    cr_assert_eq(be32_load(raw + 8), 10);
    cr_assert_eq(be32_load(raw + 12), 8192);
}

Test(offset_index, size_is_rounded_down_to_whole_entries)
{
    struct offset_index oi;
    bool clean;
    const char *path = st_path("00000000000000000000.index");

    cr_assert_eq(offset_index_open(&oi, path, 0, 1 << 20, &clean), KERR_NONE);
    cr_assert_eq(index_file_activate(&oi.f, 1003), KERR_NONE);
    cr_assert_eq(st_file_size(path), 1000);
    index_file_close(&oi.f);
    cr_assert_eq(st_file_size(path), 0);
}

Test(offset_index, lookup_finds_last_entry_at_or_below)
{
    struct offset_index oi;
    bool clean;
    int64_t off, pos;

    cr_assert_eq(offset_index_open(&oi, st_path("x.index"), 1000, 1 << 20, &clean), KERR_NONE);
    cr_assert_eq(index_file_activate(&oi.f, 4096), KERR_NONE);
    cr_assert_not(offset_index_lookup(&oi, 5000, &off, &pos));
    cr_assert_eq(off, 1000);
    cr_assert_eq(pos, 0);
    for (int i = 1; i <= 100; i++)
        cr_assert_eq(offset_index_append(&oi, 1000 + i * 10, i * 100), KERR_NONE);
    cr_assert_not(offset_index_lookup(&oi, 1005, &off, &pos));
    cr_assert(offset_index_lookup(&oi, 1010, &off, &pos));
    cr_assert_eq(off, 1010);
    cr_assert_eq(pos, 100);
    cr_assert(offset_index_lookup(&oi, 1019, &off, &pos));
    cr_assert_eq(pos, 100);
    cr_assert(offset_index_lookup(&oi, 1555, &off, &pos));
    cr_assert_eq(off, 1550);
    cr_assert_eq(pos, 5500);
    cr_assert(offset_index_lookup(&oi, 999999, &off, &pos));
    cr_assert_eq(off, 2000);
    /* Non-increasing entries are ignored. */
    cr_assert_eq(offset_index_append(&oi, 2000, 20000), KERR_NONE);
    cr_assert_eq(offset_index_append(&oi, 2001, 10000), KERR_NONE);
    cr_assert_eq(offset_index_entries(&oi), 100);
    cr_assert_eq(offset_index_truncate(&oi, 1500, 1 << 30), KERR_NONE);
    cr_assert_eq(offset_index_entries(&oi), 49);
    cr_assert_eq(offset_index_truncate(&oi, 1 << 30, 1000), KERR_NONE);
    cr_assert_eq(offset_index_entries(&oi), 9);
    index_file_close(&oi.f);
}

Test(offset_index, full_index_stops_appending)
{
    struct offset_index oi;
    bool clean;

    cr_assert_eq(offset_index_open(&oi, st_path("x.index"), 0, 1 << 20, &clean), KERR_NONE);
    cr_assert_eq(index_file_activate(&oi.f, 24), KERR_NONE);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(offset_index_append(&oi, i, i * 10), KERR_NONE);
    cr_assert_eq(offset_index_entries(&oi), 3);
    cr_assert(index_file_is_full(&oi.f));
    index_file_close(&oi.f);
}

static int64_t refuse_len = -1; /* ftruncate to this length fails */

static int refusing_ftruncate(int fd, off_t len)
{
    if ((int64_t)len == refuse_len) {
        errno = EIO;
        return -1;
    }
    return fileio_default_ops.ftruncate(fd, len);
}

/* Dropping entries cuts the file and extends it again; when the extension
 * fails the file ends short of the writable mapping, so the index must not
 * store (SIGBUS) or read past the cut afterwards. */
Test(offset_index, failed_reextend_after_a_cut_stops_appends_at_the_cut)
{
    static struct fileio_ops ops;
    struct offset_index oi;
    bool clean;
    int64_t off, pos;
    const char *path = st_path("x.index");

    cr_assert_eq(offset_index_open(&oi, path, 0, 1 << 20, &clean), KERR_NONE);
    cr_assert_eq(index_file_activate(&oi.f, 80000), KERR_NONE);
    for (int i = 1; i <= 1000; i++)
        cr_assert_eq(offset_index_append(&oi, i * 2, i * 100), KERR_NONE);
    ops = fileio_default_ops;
    ops.ftruncate = refusing_ftruncate;
    refuse_len = 80000;
    fileio_set_ops(&ops);
    cr_assert_neq(offset_index_truncate(&oi, 21, INT64_MAX), KERR_NONE);
    fileio_set_ops(NULL);
    cr_assert_eq(st_file_size(path), 10 * 8, "the cut is on disk");
    cr_assert_eq(offset_index_entries(&oi), 10);
    cr_assert(index_file_is_full(&oi.f), "no room past the cut");
    cr_assert_eq(offset_index_append(&oi, 22, 1100), KERR_NONE); /* ignored, no fault */
    cr_assert_eq(offset_index_entries(&oi), 10);
    cr_assert(offset_index_lookup(&oi, 1000, &off, &pos));
    cr_assert_eq(off, 20);
    cr_assert_eq(pos, 1000);
    cr_assert_eq(index_file_seal(&oi.f), KERR_NONE);
    cr_assert_eq(st_file_size(path), 10 * 8);
    index_file_close(&oi.f);
}

Test(offset_index, reopen_counts_valid_prefix_of_preallocated_file)
{
    struct offset_index oi;
    bool clean;
    const char *path = st_path("x.index");

    cr_assert_eq(offset_index_open(&oi, path, 0, 1 << 20, &clean), KERR_NONE);
    cr_assert_eq(index_file_activate(&oi.f, 800), KERR_NONE);
    for (int i = 1; i <= 7; i++)
        cr_assert_eq(offset_index_append(&oi, i * 3, i * 50), KERR_NONE);
    /* Simulated crash: the struct is dropped without sealing. */
    oi.f.active = false;
    index_file_close(&oi.f);
    cr_assert_eq(st_file_size(path), 800);

    cr_assert_eq(offset_index_open(&oi, path, 0, 1 << 20, &clean), KERR_NONE);
    cr_assert(clean);
    cr_assert_eq(offset_index_entries(&oi), 7);
    index_file_close(&oi.f);
    /* Entries pointing past the log's size are not trusted. */
    cr_assert_eq(offset_index_open(&oi, path, 0, 200, &clean), KERR_NONE);
    cr_assert_eq(offset_index_entries(&oi), 3);
    index_file_close(&oi.f);
}

Test(offset_index, garbage_after_entries_is_not_clean)
{
    struct offset_index oi;
    bool clean;
    const char *path = st_path("x.index");
    uint8_t junk[8] = {0, 0, 0, 1, 0, 0, 0, 1};

    cr_assert_eq(offset_index_open(&oi, path, 0, 1 << 20, &clean), KERR_NONE);
    cr_assert_eq(index_file_activate(&oi.f, 80), KERR_NONE);
    cr_assert_eq(offset_index_append(&oi, 5, 100), KERR_NONE);
    cr_assert_eq(offset_index_append(&oi, 9, 200), KERR_NONE);
    index_file_close(&oi.f);
    cr_assert_eq(st_file_size(path), 16);
    FILE *f = fopen(path, "ab");
    cr_assert_not_null(f);
    fwrite(junk, 1, sizeof(junk), f);
    fclose(f);
    cr_assert_eq(offset_index_open(&oi, path, 0, 1 << 20, &clean), KERR_NONE);
    cr_assert_eq(offset_index_entries(&oi), 2);
    cr_assert_not(clean);
    index_file_close(&oi.f);
}

Test(time_index, append_lookup_and_truncate)
{
    struct time_index ti;
    bool clean;
    int64_t off, ts;
    const char *path = st_path("x.timeindex");

    cr_assert_eq(time_index_open(&ti, path, 50, &clean), KERR_NONE);
    cr_assert_eq(index_file_activate(&ti.f, 1200), KERR_NONE);
    cr_assert_eq(st_file_size(path), 1200);
    cr_assert_not(time_index_last(&ti, &ts, &off));
    cr_assert_eq(time_index_append(&ti, 0, 50), KERR_NONE); /* ts <= 0: not indexed */
    cr_assert_eq(time_index_append(&ti, 1000, 50), KERR_NONE);
    cr_assert_eq(time_index_append(&ti, 1000, 60), KERR_NONE); /* not greater: skipped */
    cr_assert_eq(time_index_append(&ti, 2000, 70), KERR_NONE);
    cr_assert_eq(time_index_append(&ti, 3000, 90), KERR_NONE);
    cr_assert_eq(time_index_entries(&ti), 3);
    cr_assert_not(time_index_lookup(&ti, 1000, &off));
    cr_assert(time_index_lookup(&ti, 1001, &off));
    cr_assert_eq(off, 50);
    cr_assert(time_index_lookup(&ti, 3000, &off));
    cr_assert_eq(off, 70);
    cr_assert(time_index_lookup(&ti, 99999, &off));
    cr_assert_eq(off, 90);
    cr_assert(time_index_last(&ti, &ts, &off));
    cr_assert_eq(ts, 3000);
    cr_assert_eq(time_index_truncate(&ti, 70), KERR_NONE);
    cr_assert_eq(time_index_entries(&ti), 1);
    index_file_close(&ti.f);
    cr_assert_eq(st_file_size(path), 12);

    cr_assert_eq(time_index_open(&ti, path, 50, &clean), KERR_NONE);
    cr_assert(clean);
    cr_assert_eq(time_index_entries(&ti), 1);
    index_file_close(&ti.f);
}

/* Appends n single-record batches with offsets from *next to seg. */
static void seg_append(struct segment *seg, int n, int64_t *next, size_t value_len)
{
    for (int i = 0; i < n; i++) {
        struct kbuf b;
        kbuf_init(&b);
        st_simple(&b, 2, value_len, 1000 + *next);
        batch_set_offset_epoch(b.data, *next, 1);
        cr_assert_eq(segment_append(seg, b.data, b.len, 100, 0), KERR_NONE);
        *next += 2;
        kbuf_destroy(&b);
    }
}

Test(segment, append_find_and_reload)
{
    struct segment *seg;
    struct batch_hdr h;
    int64_t next = 500, pos, dropped, size;

    cr_assert_eq(segment_open(st_dir, 500, &seg), KERR_NONE);
    cr_assert_eq(segment_activate(seg, 4096), KERR_NONE);
    cr_assert_eq(st_file_size(st_path("00000000000000000500.index")), 4096);
    cr_assert_eq(st_file_size(st_path("00000000000000000500.timeindex")), 4092);
    seg_append(seg, 20, &next, 40);
    cr_assert_eq(seg->next_offset, 540);
    cr_assert_gt(offset_index_entries(&seg->oidx), 3);
    cr_assert_eq(segment_find(seg, 517, &pos, &h), KERR_NONE);
    cr_assert_eq(h.base_offset, 516);
    cr_assert_eq(segment_find(seg, 540, &pos, &h), KERR__NOENT);
    size = seg->size;
    segment_close(seg);
    cr_assert_eq(st_file_size(st_path("00000000000000000500.log")), size);
    cr_assert_lt(st_file_size(st_path("00000000000000000500.index")), 4096);

    cr_assert_eq(segment_open(st_dir, 500, &seg), KERR_NONE);
    cr_assert(seg->index_ok);
    cr_assert_eq(segment_load(seg, -1, 100, 4096, &dropped), KERR_NONE);
    cr_assert_eq(dropped, 0);
    cr_assert_eq(seg->next_offset, 540);
    cr_assert_eq(seg->max_ts, 1000 + 538 + 1);
    cr_assert_eq(segment_find(seg, 500, &pos, &h), KERR_NONE);
    cr_assert_eq(pos, 0);
    segment_close(seg);
}
