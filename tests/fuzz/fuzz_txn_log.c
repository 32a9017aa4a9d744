/*
 * tests/fuzz/fuzz_txn_log.c — libFuzzer target: arbitrary bytes as `__transaction_state`
 * records (broker/txn/txn_log_format.c) and their replay into a transaction table
 * (broker/txn/txn_state.c).
 *
 * Input: [split UINT16 big-endian][key bytes][value bytes]: the low 15 bits of the first two
 * bytes say how many of the rest are the key; the top bit makes the record a tombstone. Checks (abort = a finding): a
 * value that decodes re-encodes in its own version and decodes again to the same fields; a
 * replay that succeeds leaves the id in the table (or removed, for a tombstone) with the
 * decoded state; ASan/UBSan and the leak checker catch the rest.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/txn/txn_state.h"

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)(((data[0] & 0x7f) << 8) | data[1]);
    bool tombstone = data[0] & 0x80;
    data += 2;
    size -= 2;
    if (split > size)
        split = size;
    const uint8_t *key = data, *value = data + split;
    size_t value_len = size - split;

    struct txn_log_value v;
    if (txn_log_value_decode(value, value_len, &v) == KERR_NONE) {
        struct kbuf b;
        kbuf_init(&b);
        check(txn_log_value_put(&b, &v) == KERR_NONE);
        struct txn_log_value w;
        check(txn_log_value_decode(b.data, b.len, &w) == KERR_NONE);
        check(w.producer_id == v.producer_id && w.producer_epoch == v.producer_epoch &&
              w.status == v.status && w.topic_count == v.topic_count &&
              w.prev_producer_id == v.prev_producer_id && w.start_ms == v.start_ms);
        for (int32_t i = 0; i < v.topic_count; i++)
            check(w.topics[i].count == v.topics[i].count &&
                  (v.topics[i].count == 0 ||
                   memcmp(w.topics[i].partitions, v.topics[i].partitions,
                          (size_t)v.topics[i].count * sizeof(int32_t)) == 0));
        txn_log_value_destroy(&w);
        kbuf_destroy(&b);
    }
    txn_log_value_destroy(&v);

    struct txn_table *t = txn_table_new();
    if (!t)
        return 0;
    kerr_t err = txn_table_load_record(t, key, split, tombstone ? NULL : value, value_len);
    struct kstr id;
    if (err == KERR_NONE) {
        check(txn_log_key_decode(key, split, &id) == KERR_NONE);
        struct txn_meta *m = txn_table_get(t, id.ptr, (size_t)id.len);
        check(tombstone ? m == NULL : m != NULL);
        if (m) {
            /* and back into a record of its own */
            struct kbuf k, val;
            kbuf_init(&k);
            kbuf_init(&val);
            bool tomb;
            check(txn_transit_record(m, &m->cur, &k, &val, &tomb) == KERR_NONE);
            check(txn_table_load_record(t, k.data, k.len, tomb ? NULL : val.data, val.len) ==
                  KERR_NONE);
            kbuf_destroy(&k);
            kbuf_destroy(&val);
        }
    }
    txn_table_free(t);
    return 0;
}
