#!/usr/bin/env python3
"""
tests/integration/storage/test_compaction.py — log compaction in a running
broker (docs/storage.md "Compaction"): a topic with cleanup.policy=compact,
small segments and min.cleanable.dirty.ratio=0.01 gets many writes of a
few keys; the cleaner threads shrink it to about one record per key, each
kept record at the offset it was written at with the latest value; a
null-key record is refused with INVALID_RECORD; after a SIGKILL and a
restart the log reads the same and cleaner-offset-checkpoint is there.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storage_util import (cluster, connect, create_topic, decode_produce,  # noqa: E402
                          produce_request, record_batch, wait_leaders, fetch, parse_batches,
                          batch_records)

TOPIC = "compacted"
KEYS = 10
WRITES = 400
INVALID_RECORD = 87


def put(c, key, value):
    batch = record_batch([(key, value, 0)])
    return decode_produce(c.call(0, 7, produce_request(TOPIC, 0, batch)))


def read_all(broker):
    """[(offset, key, value)] from the log start to the high watermark."""
    c = connect(broker)
    out, offset = [], 0
    while True:
        err, hw, log_start, data = fetch(c, TOPIC, 0, offset)
        assert err == 0, "fetch error %d" % err
        offset = max(offset, log_start)
        batches = parse_batches(data)
        if not batches:
            break
        for _base, last, _count, b in batches:
            out += [r for r in batch_records(b) if r[0] >= offset]
            offset = last + 1
        if offset >= hw:
            break
    c.close()
    return out


def check(records, latest):
    """Every key's last record is its latest write, at its offset."""
    last = {}
    for off, k, v in records:
        last[k] = (off, v)
    for k, (off, v) in latest.items():
        assert k in last, "key %r lost" % k
        assert last[k] == (off, v), "key %r: have %r, wrote %r" % (k, last[k], (off, v))


def test_cleaner_compacts_a_topic():
    cl = cluster.Cluster(1, overrides=["log.cleaner.backoff.ms=100", "log.cleaner.threads=2"])
    try:
        broker = cl.brokers[0]
        create_topic(broker, TOPIC, 1, {"cleanup.policy": "compact", "segment.bytes": "2048",
                                        "min.cleanable.dirty.ratio": "0.01"})
        c = connect(broker)
        latest = {}
        for i in range(WRITES):
            k = b"key-%d" % (i % KEYS)
            v = b"value-%d-" % i + b"x" * 20
            err, base = put(c, k, v)
            assert err == 0, "produce error %d" % err
            latest[k] = (base, v)
        err, _ = put(c, None, b"no key")
        assert err == INVALID_RECORD, "null key on a compacted topic: error %d" % err
        c.close()
        deadline = time.time() + 60
        while True:
            records = read_all(broker)
            check(records, latest)
            if len(records) < 3 * KEYS + 40:
                break
            assert time.time() < deadline, "not compacted after 60 s: %d records" % len(records)
            time.sleep(0.5)
        print("  compacted %d writes to %d records" % (WRITES, len(records)), flush=True)
        broker.stop(signal.SIGKILL)
        broker.start()
        wait_leaders(broker, TOPIC, 1)
        again = read_all(broker)
        check(again, latest)
        assert len(again) <= len(records), "records came back after a restart"
        assert os.path.exists(os.path.join(broker.logdir, "cleaner-offset-checkpoint"))
        text = open(broker.logfile, errors="replace").read()
        assert "cleaned log" in text and "cleaner pass failed" not in text
    except BaseException:
        cl.stop()
        raise
    unclean = cl.stop()
    assert not unclean, "broker did not stop cleanly: %r" % (unclean,)


if __name__ == "__main__":
    sys.exit(cluster.run_tests([test_cleaner_compacts_a_topic]))
