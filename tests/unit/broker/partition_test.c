/*
 * tests/unit/broker/partition_test.c — helpers for the partition and
 * delayed-operation unit tests (see partition_test.h).
 */
#include "tests/unit/broker/partition_test.h"
#include "broker/config/config.h"
#include "broker/storage/plog.h"
#include "tests/unit/broker/storage/storage_test.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct topic_config pt_tc;

void pt_setup(void)
{
    struct broker_config cfg;
    char err[256];
    char *ov[] = {"broker.id=1", "zookeeper.connect=127.0.0.1:1"};
    st_tmpdir_up();
    memset(&cfg, 0, sizeof(cfg));
    cr_assert_eq(config_load(&cfg, NULL, NULL, ov, 2, err, sizeof(err)), 0, "%s", err);
    topic_config_defaults(&pt_tc, &cfg);
    config_free(&cfg);
}

void pt_teardown(void) { st_tmpdir_down(); }

struct partition *pt_new(const char *name)
{
    char err[256];
    struct partition *part =
        partition_new("t", 0, st_path(name), true, &pt_tc, -1, err, sizeof(err));
    cr_assert_not_null(part, "%s", err);
    return part;
}

kerr_t pt_state(struct partition *part, int32_t self, int32_t leader, int32_t leader_epoch,
                int32_t partition_epoch, int n_replicas, const int32_t *isr, int n_isr,
                int64_t now_ms, bool *role_changed)
{
    int32_t replicas[PARTITION_MAX_REPLICAS];
    bool changed;
    for (int i = 0; i < n_replicas; i++)
        replicas[i] = i + 1;
    struct partition_state st = {.leader = leader,
                                 .leader_epoch = leader_epoch,
                                 .partition_epoch = partition_epoch,
                                 .n_isr = n_isr,
                                 .isr = isr,
                                 .n_replicas = n_replicas,
                                 .replicas = replicas};
    return partition_apply_state(part, self, &st, now_ms, role_changed ? role_changed : &changed);
}

kerr_t pt_append(struct partition *part, int nrec, bool acks_all, int64_t now_ms, int64_t *last)
{
    struct kbuf b;
    int64_t base = -1, last_off = -1, log_start = -1;
    int32_t epoch = -1;
    kbuf_init(&b);
    st_simple(&b, nrec, 10, 1000);
    kerr_t rc = partition_append(part, b.data, b.len, now_ms, acks_all, &base, &last_off, &epoch,
                                 &log_start);
    kbuf_destroy(&b);
    if (rc == KERR_NONE) {
        cr_assert_eq(last_off - base + 1, nrec);
        cr_assert_eq(epoch, part->leader_epoch);
    }
    if (last)
        *last = last_off;
    return rc;
}

kerr_t pt_fetch(struct partition *part, int32_t replica_id, int64_t offset, int64_t now_ms,
                int64_t *hw, uint8_t **data, size_t *len)
{
    struct partition_fetch f = {.replica_id = replica_id,
                                .current_leader_epoch = -1,
                                .offset = offset,
                                .max_bytes = 1 << 20,
                                .min_one = true,
                                .now_ms = now_ms};
    struct partition_read out;
    kerr_t rc = partition_read(part, &f, &out);
    if (data) {
        *data = NULL;
        *len = 0;
    }
    if (rc != KERR_NONE)
        return rc;
    if (hw)
        *hw = out.hw;
    if (out.fd >= 0) {
        if (data) {
            *data = malloc((size_t)out.len);
            cr_assert_not_null(*data);
            cr_assert_eq(pread(out.fd, *data, (size_t)out.len, out.pos), out.len);
            *len = (size_t)out.len;
        }
        close(out.fd);
    }
    return rc;
}

int64_t pt_hw(struct partition *part)
{
    int64_t off = -2, ts;
    cr_assert_eq(partition_list_offset(part, -1, &off, &ts), KERR_NONE);
    return off;
}

int64_t pt_leo(struct partition *part)
{
    pthread_mutex_lock(&part->lock);
    int64_t leo = plog_end_offset(part->log);
    pthread_mutex_unlock(&part->lock);
    return leo;
}

static void counter_wake(struct pwaiter *w) { ((struct pt_counter *)w->owner)->wakes++; }

void pt_counter_init(struct pt_counter *c)
{
    *c = (struct pt_counter){.w = {.wake = counter_wake, .owner = c, .what = "test"}};
}
