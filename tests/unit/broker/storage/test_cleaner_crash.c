/*
 * tests/unit/broker/storage/test_cleaner_crash.c — a crash at each step of
 * installing a cleaned segment (cleaner_swap.h), simulated by building the
 * directory a crash would leave from two real images (the log before and
 * after a clean), then opening it: the log is readable, every key's latest
 * record is there, and no .cleaned/.swap file is left.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/storage/cleaner.h"
#include "broker/storage/offset_map.h"
#include "broker/storage/plog.h"
#include "cleaner_test.h"
#include "storage_test.h"

#define T0 1700000000000LL

static char old_dir[512], new_dir[512], img[512];

static void copy_file(const char *from, const char *to)
{
    static char buf[1 << 16];
    int in = open(from, O_RDONLY), out;
    ssize_t n;

    cr_assert(in >= 0, "open %s", from);
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(out >= 0, "open %s", to);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        cr_assert_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

/* Builds old (before) and new (after) images of a log whose three closed
 * segments (bases 0, 10, 20) clean into one at base 0. */
static void setup(void)
{
    struct offset_map *map = offset_map_new(1 << 20);
    struct cleaner_log_config cfg;
    struct cleaner_result res;
    struct ct_lock lk;
    struct plog *log;
    char k[16], v[16];

    st_tmpdir_up();
    log = ct_open(1 << 20);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10; i++) {
            snprintf(k, sizeof(k), "k%d", i);
            snprintf(v, sizeof(v), "v%d-%d", i, round);
            ct_put(log, k, v, T0 + round * 10 + i);
        }
        cr_assert_eq(plog_roll(log, T0), KERR_NONE);
    }
    ct_put(log, "k0", "active", T0 + 100);
    plog_close(log);
    snprintf(old_dir, sizeof(old_dir), "%s/old", st_dir);
    snprintf(new_dir, sizeof(new_dir), "%s/new", st_dir);
    snprintf(img, sizeof(img), "%s/img", st_dir);
    ct_copy_dir(st_path("t-0"), old_dir);
    log = ct_open(1 << 20);
    ct_lock_init(&lk, log);
    cleaner_log_config_default(&cfg);
    cr_assert_eq(cleaner_clean(log, &lk.ops, &cfg, -1, map, NULL, T0 + 1000, &res), KERR_NONE);
    cr_assert_eq(res.segments_before, 3);
    cr_assert_eq(plog_segment_count(log), 2);
    plog_close(log);
    ct_copy_dir(st_path("t-0"), new_dir);
    ct_copy_dir(old_dir, img);
    offset_map_free(map);
}

TestSuite(cleaner_crash, .init = setup, .fini = st_tmpdir_down, .timeout = 30);

/* Copies the new image's segment-0 file ext into img as <0>.<ext><suffix>. */
static void put_new(const char *ext, const char *suffix)
{
    char a[600], b[600];

    snprintf(a, sizeof(a), "%s/%020d.%s", new_dir, 0, ext);
    snprintf(b, sizeof(b), "%s/%020d.%s%s", img, 0, ext, suffix);
    copy_file(a, b);
}

/* Renames img's old segment at base: all three files get suffix. */
static void retire_old(int base)
{
    static const char *const exts[] = {"log", "index", "timeindex"};
    char a[600], b[620];

    for (int e = 0; e < 3; e++) {
        snprintf(a, sizeof(a), "%s/%020d.%s", img, base, exts[e]);
        snprintf(b, sizeof(b), "%s.deleted", a);
        cr_assert_eq(rename(a, b), 0, "rename %s", a);
    }
}

/* Opens img and checks it: readable, the latest value of every key, the
 * expected record count, no leftovers. */
static void check_img(int records, int segments)
{
    struct plog_config cfg;
    char err[256];
    struct plog *log;
    struct ct_log l;

    plog_config_default(&cfg);
    cfg.index_interval_bytes = 64;
    cfg.index_max_bytes = 4096;
    log = plog_open(img, &cfg, err, sizeof(err));
    cr_assert_not_null(log, "%s", err);
    ct_read_log(log, &l);
    cr_assert_eq(l.n, records);
    cr_assert_eq(plog_segment_count(log), segments);
    cr_assert_eq(plog_end_offset(log), 31);
    for (int i = 1; i < 10; i++) {
        char k[16], v[16];
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "v%d-2", i);
        cr_assert_not_null(ct_find_latest(&l, k), "%s lost", k);
        cr_assert_str_eq(ct_find_latest(&l, k)->value, v);
        cr_assert_eq(ct_find_latest(&l, k)->offset, 20 + i);
    }
    cr_assert_str_eq(ct_find_latest(&l, "k0")->value, "active");
    ct_log_free(&l);
    plog_close(log);
    cr_assert_eq(st_count_files(img, ".cleaned"), 0);
    cr_assert_eq(st_count_files(img, ".swap"), 0);
    cr_assert_eq(st_count_files(img, ".deleted"), 0);
}

Test(cleaner_crash, baseline_images)
{
    check_img(31, 4); /* img == old */
    ct_copy_dir(new_dir, img);
}

Test(cleaner_crash, after_cleaned_written)
{
    put_new("log", ".cleaned");
    put_new("index", ".cleaned");
    put_new("timeindex", ".cleaned");
    check_img(31, 4); /* discarded: the old segments stay */
}

Test(cleaner_crash, during_rename_to_swap)
{
    put_new("index", ".swap");
    put_new("timeindex", ".swap");
    put_new("log", ".cleaned"); /* the log is renamed last */
    check_img(31, 4);
}

Test(cleaner_crash, after_swap_renamed)
{
    put_new("index", ".swap");
    put_new("timeindex", ".swap");
    put_new("log", ".swap");
    check_img(11, 2); /* committed: completed at open */
}

Test(cleaner_crash, partway_retiring_old_segments)
{
    put_new("index", ".swap");
    put_new("timeindex", ".swap");
    put_new("log", ".swap");
    retire_old(0);
    retire_old(10); /* 20 still there */
    check_img(11, 2);
}

Test(cleaner_crash, partway_final_rename)
{
    retire_old(0);
    retire_old(10);
    retire_old(20);
    put_new("index", "");
    put_new("timeindex", "");
    put_new("log", ".swap");
    check_img(11, 2);
}

Test(cleaner_crash, after_final_rename_before_sweep)
{
    retire_old(0);
    retire_old(10);
    retire_old(20);
    put_new("index", "");
    put_new("timeindex", "");
    put_new("log", "");
    check_img(11, 2);
}
