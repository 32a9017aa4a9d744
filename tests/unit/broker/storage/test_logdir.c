/*
 * tests/unit/broker/storage/test_logdir.c — meta.properties, the directory
 * lock, the clean-shutdown marker and the checkpoint files.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/storage/logdir.h"
#include "storage_test.h"

TestSuite(logdir, .init = st_tmpdir_up, .fini = st_tmpdir_down, .timeout = 10);

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(logdir, lock_is_exclusive)
{
    char err[256] = "";
    int fd1, fd2;

    cr_assert_eq(logdir_lock(st_dir, &fd1, err, sizeof(err)), KERR_NONE);
    cr_assert_geq(fd1, 0);
    cr_assert_eq(logdir_lock(st_dir, &fd2, err, sizeof(err)), KERR__EXISTS);
    cr_assert_eq(fd2, -1);
    cr_assert_not_null(strstr(err, "in use"));

    /* Another process is refused too. */
    pid_t pid = fork();
    if (pid == 0) {
        int fd;
        char e[256];
        _exit(logdir_lock(st_dir, &fd, e, sizeof(e)) == KERR__EXISTS ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    logdir_unlock(fd1);
    cr_assert_eq(logdir_lock(st_dir, &fd2, err, sizeof(err)), KERR_NONE);
    logdir_unlock(fd2);
}

Test(logdir, meta_round_trip)
{
    struct logdir_meta m = {.version = 0, .broker_id = 3}, r;

    snprintf(m.cluster_id, sizeof(m.cluster_id), "abcDEF-_123");
    cr_assert_eq(logdir_new_id(m.directory_id), KERR_NONE);
    cr_assert_eq(logdir_meta_write(st_dir, &m), KERR_NONE);
    cr_assert_eq(st_file_size(st_path("meta.properties.tmp")), -1);
    cr_assert_eq(logdir_meta_read(st_dir, &r), KERR_NONE);
    cr_assert_eq(r.version, 0);
    cr_assert_eq(r.broker_id, 3);
    cr_assert_str_eq(r.cluster_id, "abcDEF-_123");
    cr_assert_str_eq(r.directory_id, m.directory_id);
}

Test(logdir, meta_read_errors)
{
    struct logdir_meta m;

    cr_assert_eq(logdir_meta_read(st_dir, &m), KERR__NOENT);
    write_file(st_path("meta.properties"), "broker.id=1\n");
    cr_assert_eq(logdir_meta_read(st_dir, &m), KERR__CORRUPT);
    write_file(st_path("meta.properties"), "version=0\nbroker.id=x1\n");
    cr_assert_eq(logdir_meta_read(st_dir, &m), KERR__CORRUPT);
    write_file(st_path("meta.properties"), "#c\nversion=0\nbroker.id=12\ncluster.id=Zz\n");
    cr_assert_eq(logdir_meta_read(st_dir, &m), KERR_NONE);
    cr_assert_eq(m.broker_id, 12);
    cr_assert_str_eq(m.cluster_id, "Zz");
    cr_assert_str_eq(m.directory_id, "");
}

Test(logdir, new_ids_are_22_char_base64url_and_distinct)
{
    char a[LOGDIR_ID_LEN + 1], b[LOGDIR_ID_LEN + 1];

    cr_assert_eq(logdir_new_id(a), KERR_NONE);
    cr_assert_eq(logdir_new_id(b), KERR_NONE);
    cr_assert_eq(strlen(a), 22);
    cr_assert_str_neq(a, b);
    for (int i = 0; i < 22; i++)
        cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
    /* The last char encodes 2 bits: only A, Q, g, w are possible. */
    cr_assert(strchr("AQgw", a[21]));
}

Test(logdir, meta_check_detects_mismatch)
{
    struct logdir_meta m = {.version = 0, .broker_id = 1};
    char err[256] = "";

    snprintf(m.cluster_id, sizeof(m.cluster_id), "C1");
    cr_assert_eq(logdir_meta_check(&m, 1, "C1", err, sizeof(err)), KERR_NONE);
    cr_assert_eq(logdir_meta_check(&m, -1, NULL, err, sizeof(err)), KERR_NONE);
    cr_assert_eq(logdir_meta_check(&m, 2, "C1", err, sizeof(err)), KERR__INVALID);
    cr_assert_not_null(strstr(err, "broker.id"));
    cr_assert_eq(logdir_meta_check(&m, 1, "C2", err, sizeof(err)), KERR__INVALID);
    cr_assert_not_null(strstr(err, "cluster.id"));
}

Test(logdir, ensure_creates_then_keeps_directory_id)
{
    struct logdir_meta m1, m2;
    char err[256] = "";

    cr_assert_eq(logdir_meta_ensure(st_dir, 5, NULL, &m1, err, sizeof(err)), KERR_NONE);
    cr_assert_eq(m1.broker_id, 5);
    cr_assert_eq(strlen(m1.directory_id), 22);
    cr_assert_str_eq(m1.cluster_id, "");
    /* The cluster id is filled in once known; the directory id stays. */
    cr_assert_eq(logdir_meta_ensure(st_dir, 5, "CL", &m2, err, sizeof(err)), KERR_NONE);
    cr_assert_str_eq(m2.directory_id, m1.directory_id);
    cr_assert_str_eq(m2.cluster_id, "CL");
    cr_assert_eq(logdir_meta_read(st_dir, &m2), KERR_NONE);
    cr_assert_str_eq(m2.cluster_id, "CL");
    cr_assert_eq(logdir_meta_ensure(st_dir, 6, "CL", &m2, err, sizeof(err)), KERR__INVALID);
    cr_assert_eq(logdir_meta_ensure(st_dir, 5, "OTHER", &m2, err, sizeof(err)), KERR__INVALID);
}

Test(logdir, clean_shutdown_marker)
{
    cr_assert_not(logdir_clean_shutdown_exists(st_dir));
    cr_assert_eq(logdir_clean_shutdown_mark(st_dir), KERR_NONE);
    cr_assert(logdir_clean_shutdown_exists(st_dir));
    cr_assert_eq(st_file_size(st_path(".gregor_clean_shutdown")), 0);
    cr_assert_eq(logdir_clean_shutdown_clear(st_dir), KERR_NONE);
    cr_assert_not(logdir_clean_shutdown_exists(st_dir));
    cr_assert_eq(logdir_clean_shutdown_clear(st_dir), KERR_NONE);
}

Test(logdir, offset_checkpoint_round_trip)
{
    struct logdir_ckpt_entry e[3] = {
        {"orders", 0, 42}, {"__consumer_offsets", 49, 0}, {"t.x-y_z", 7, 9000000000LL}};
    struct logdir_ckpt_entry *r;
    char buf[256];
    int n;
    const char *path = st_path(LOGDIR_RECOVERY_CKPT);

    cr_assert_eq(logdir_ckpt_write(path, e, 3), KERR_NONE);
    size_t len = st_read_at(path, 0, buf, sizeof(buf) - 1);
    buf[len] = '\0';
    cr_assert_str_eq(buf, "0\n3\norders 0 42\n__consumer_offsets 49 0\nt.x-y_z 7 9000000000\n");
    cr_assert_eq(logdir_ckpt_read(path, &r, &n), KERR_NONE);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(r[2].topic, "t.x-y_z");
    cr_assert_eq(r[2].partition, 7);
    cr_assert_eq(r[2].offset, 9000000000LL);
    free(r);

    cr_assert_eq(logdir_ckpt_write(path, NULL, 0), KERR_NONE);
    cr_assert_eq(logdir_ckpt_read(path, &r, &n), KERR_NONE);
    cr_assert_eq(n, 0);
    free(r);
}

Test(logdir, malformed_checkpoints_are_corrupt)
{
    struct logdir_ckpt_entry *r;
    const char *path = st_path("ck");
    int n;

    cr_assert_eq(logdir_ckpt_read(path, &r, &n), KERR__NOENT);
    write_file(path, "1\n0\n");
    cr_assert_eq(logdir_ckpt_read(path, &r, &n), KERR__CORRUPT);
    write_file(path, "0\n2\nt 0 1\n");
    cr_assert_eq(logdir_ckpt_read(path, &r, &n), KERR__CORRUPT);
    write_file(path, "0\n1\nt x 1\n");
    cr_assert_eq(logdir_ckpt_read(path, &r, &n), KERR__CORRUPT);
    cr_assert_null(r);
}

Test(logdir, leader_epoch_checkpoint_round_trip)
{
    struct logdir_epoch_entry e[2] = {{0, 0}, {3, 1234}}, *r;
    const char *path = st_path(LOGDIR_EPOCH_CKPT);
    char buf[64];
    int n;

    cr_assert_eq(logdir_epoch_ckpt_write(path, e, 2, true), KERR_NONE);
    size_t len = st_read_at(path, 0, buf, sizeof(buf) - 1);
    buf[len] = '\0';
    cr_assert_str_eq(buf, "0\n2\n0 0\n3 1234\n");
    cr_assert_eq(logdir_epoch_ckpt_read(path, &r, &n), KERR_NONE);
    cr_assert_eq(n, 2);
    cr_assert_eq(r[1].epoch, 3);
    cr_assert_eq(r[1].start_offset, 1234);
    free(r);
    write_file(path, "0\n1\n3\n");
    cr_assert_eq(logdir_epoch_ckpt_read(path, &r, &n), KERR__CORRUPT);
}
