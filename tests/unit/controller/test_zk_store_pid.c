/*
 * tests/unit/controller/test_zk_store_pid.c — controller/zk/zk_store_pid.c:
 * Kafka's producer id block JSON (encode, decode, rejects), and block claims
 * against a real ZooKeeper (tests/harness/zk_server.c): consecutive blocks,
 * no overlap between stores claiming concurrently, the next block after the
 * stored end continued whatever the block size, ZooKeeper down → an error.
 * Label: integration (the codec cases need no server but share the file).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/say.h"
#include "controller/zk/zk_store.h"
#include "tests/harness/zk_server.h"
#include "tests/unit/controller/zk_fixture.h"

/* ---- codec ---- */

Test(pid_block_json, encodes_kafkas_format)
{
    struct zk_pid_block b = {.broker = 2, .start = 1000, .end = 1999};
    char buf[256];
    int n = zk_pid_block_encode(&b, buf, sizeof(buf));
    cr_assert_str_eq(
        buf, "{\"version\":1,\"broker\":2,\"block_start\":\"1000\",\"block_end\":\"1999\"}");
    cr_assert_eq(n, (int)strlen(buf));
    struct zk_pid_block d;
    cr_assert_eq(zk_pid_block_decode(buf, (size_t)n, &d), KERR_NONE);
    cr_assert_eq(d.broker, 2);
    cr_assert_eq(d.start, 1000);
    cr_assert_eq(d.end, 1999);
    char small[10];
    cr_assert_eq(zk_pid_block_encode(&b, small, sizeof(small)), -1, "too small");
}

Test(pid_block_json, decodes_any_key_order_and_spacing)
{
    const char *j = " { \"block_end\" : \"9223372036854775806\", \"broker\" : 7 ,"
                    " \"version\" : 1, \"block_start\":\"9223372036854774807\" } ";
    struct zk_pid_block d;
    cr_assert_eq(zk_pid_block_decode(j, strlen(j), &d), KERR_NONE);
    cr_assert_eq(d.broker, 7);
    cr_assert_eq(d.start, 9223372036854774807LL);
    cr_assert_eq(d.end, 9223372036854775806LL);
}

Test(pid_block_json, rejects_bad_input)
{
    const char *bad[] = {
        "",
        "not json",
        "{\"version\":2,\"broker\":1,\"block_start\":\"0\",\"block_end\":\"999\"}",
        "{\"broker\":1,\"block_start\":\"0\",\"block_end\":\"999\"}",
        "{\"version\":1,\"broker\":1,\"block_start\":0,\"block_end\":\"999\"}",
        "{\"version\":1,\"broker\":1,\"block_start\":\"0\"}",
        "{\"version\":1,\"broker\":1,\"block_start\":\"-5\",\"block_end\":\"999\"}",
        "{\"version\":1,\"broker\":1,\"block_start\":\"1000\",\"block_end\":\"999\"}",
        "{\"version\":1,\"broker\":1,\"block_start\":\"1x\",\"block_end\":\"999\"}",
        "{\"version\":1,\"broker\":1,\"block_start\":\"99999999999999999999\",\"block_end\":\"1\"}",
        "{\"version\":1,\"broker\":-1,\"block_start\":\"0\",\"block_end\":\"999\"}",
        "{\"x\":{\"version\":1,\"broker\":1,\"block_start\":\"0\",\"block_end\":\"9\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct zk_pid_block d;
        cr_assert_eq(zk_pid_block_decode(bad[i], strlen(bad[i]), &d), KERR__CORRUPT, "case %zu: %s",
                     i, bad[i]);
    }
}

/* ---- claims against a real ZooKeeper ---- */

static struct zk_store *open_store(void) { return zk_fixture_open("", false); }

TestSuite(pid_claim, .init = zk_up, .fini = zk_down, .timeout = 90);

Test(pid_claim, consecutive_blocks_from_zero_and_the_znode_in_kafkas_format)
{
    struct zk_store *zs = open_store();
    struct zk_pid_block b;
    cr_assert_eq(zk_store_claim_pid_block(zs, 1, 1000, &b), KERR_NONE);
    cr_assert_eq(b.start, 0);
    cr_assert_eq(b.end, 999);
    cr_assert_eq(b.broker, 1);
    cr_assert_eq(zk_store_claim_pid_block(zs, 2, 1000, &b), KERR_NONE);
    cr_assert_eq(b.start, 1000);
    cr_assert_eq(b.end, 1999);
    zk_store_close(zs);
    /* a second store (another broker, a restart) continues after it */
    zs = open_store();
    cr_assert_eq(zk_store_claim_pid_block(zs, 3, 1000, &b), KERR_NONE);
    cr_assert_eq(b.start, 2000);
    zk_store_close(zs);
}

struct claimer {
    int32_t broker;
    struct zk_pid_block got[20];
    kerr_t err;
};

static void *claim_thread(void *arg)
{
    struct claimer *c = arg;
    struct zk_store *zs = open_store();
    for (int i = 0; i < 20; i++) {
        c->err = zk_store_claim_pid_block(zs, c->broker, 1000, &c->got[i]);
        if (c->err != KERR_NONE)
            break;
    }
    zk_store_close(zs);
    return NULL;
}

Test(pid_claim, concurrent_claims_never_overlap)
{
    enum { N = 4 };
    struct claimer c[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        c[i].broker = i + 1;
        cr_assert_eq(pthread_create(&th[i], NULL, claim_thread, &c[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    static bool seen[N * 20];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < N; i++) {
        cr_assert_eq(c[i].err, KERR_NONE, "claimer %d: %s", i, kerr_name(c[i].err));
        for (int k = 0; k < 20; k++) {
            struct zk_pid_block *b = &c[i].got[k];
            cr_assert_eq(b->start % 1000, 0);
            cr_assert_eq(b->end, b->start + 999);
            cr_assert_eq(b->broker, i + 1);
            int64_t slot = b->start / 1000;
            cr_assert_lt(slot, N * 20, "blocks are dense");
            cr_assert_not(seen[slot], "block %lld handed out twice", (long long)b->start);
            seen[slot] = true;
        }
    }
}

Test(pid_claim, the_next_block_starts_after_the_stored_end_whatever_its_size)
{
    struct zk_store *zs = open_store();
    struct zk_pid_block b;
    cr_assert_eq(zk_store_claim_pid_block(zs, 1, 1000, &b), KERR_NONE);
    cr_assert_eq(zk_store_claim_pid_block(zs, 1, 5, &b), KERR_NONE);
    cr_assert_eq(b.start, 1000);
    cr_assert_eq(b.end, 1004);
    cr_assert_eq(zk_store_claim_pid_block(zs, 1, 1000, &b), KERR_NONE);
    cr_assert_eq(b.start, 1005);
    cr_assert_eq(zk_store_claim_pid_block(zs, 1, 0, &b), KERR__INVALID);
    zk_store_close(zs);
}

Test(pid_claim, zookeeper_down_is_an_error_not_a_hang)
{
    struct zk_store *zs = open_store();
    struct zk_pid_block b;
    cr_assert_eq(zk_store_claim_pid_block(zs, 1, 1000, &b), KERR_NONE);
    zk_server_pause(zk);
    kerr_t err = zk_store_claim_pid_block(zs, 1, 1000, &b);
    cr_assert(err == KERR__ZK || err == KERR__TIMEOUT, "got %s", kerr_name(err));
    zk_server_resume(zk);
    for (int i = 0; i < 50; i++) {
        err = zk_store_claim_pid_block(zs, 1, 1000, &b);
        if (err == KERR_NONE)
            break;
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(err, KERR_NONE, "recovers: %s", kerr_name(err));
    cr_assert_eq(b.start, 1000, "nothing lost or skipped by the failed claim");
    zk_store_close(zs);
}
