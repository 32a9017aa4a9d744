#!/usr/bin/env python3
"""
tests/integration/storage/test_enospc.py — a broker whose log.dirs is a
2 MiB tmpfs, produced to until the disk is full (needs root for mount;
skipped with exit code 77 otherwise).

Checks while the disk is full:
  - Produce answers KAFKA_STORAGE_ERROR (56) for the partition, and nothing
    else; the broker keeps running and logs the failure;
  - everything acknowledged before is still readable, at its offsets.
Then the tmpfs is grown to 64 MiB (mount -o remount,size=64m) and:
  - the partition recovers: the next Produce succeeds and gets exactly the
    offset after the last acknowledged record (no offset was consumed by
    the failed appends), and the broker logs that appends work again
    (broker/replication/partition.c keeps no sticky failed state: each
    append is tried against the disk).
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storage_util import (cluster, connect, create_topic, produce, read_partition,  # noqa: E402
                          check_acked, broker_log, KAFKA_STORAGE_ERROR)

TOPIC = "full"
SKIP = 77


def mount_tmpfs(path, size):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0, (r.stderr or r.stdout).strip()


def umount(path):
    for args in (["umount", path], ["umount", "-l", path]):
        if subprocess.run(args, capture_output=True).returncode == 0:
            return


def fill_disk(broker, acked):
    """Produces 16 KiB batches until 5 appends in a row fail. Returns the
    error codes of the failed appends."""
    c = connect(broker)
    errors, in_a_row, seq = [], 0, 0
    while in_a_row < 5:
        assert seq < 2000, "the 2 MiB disk never filled up"
        vals = [b"r%06d-" % (seq + i) + b"z" * 4000 for i in range(4)]
        seq += len(vals)
        err, base = produce(c, TOPIC, 0, vals)
        if err == 0:
            for i, v in enumerate(vals):
                acked[base + i] = v
            in_a_row = 0
        else:
            errors.append(err)
            in_a_row += 1
    c.close()
    return errors


def run_full_disk(mnt):
    cl = cluster.Cluster(1, overrides=["log.dirs=%s/data" % mnt, "log.segment.bytes=262144"])
    try:
        broker = cl.brokers[0]
        create_topic(broker, TOPIC, 1)
        acked = {}
        errors = fill_disk(broker, acked)
        assert len(acked) > 100, "only %d records fit before the disk filled" % len(acked)
        assert set(errors) == {KAFKA_STORAGE_ERROR}, "errors on a full disk: %s" % sorted(set(errors))
        time.sleep(0.5)
        assert broker.proc.poll() is None, "the broker died on a full disk"
        assert "KAFKA_STORAGE_ERROR" in broker_log(broker), "no log line about the failed append"
        hw, log = read_partition(broker, TOPIC, 0)
        check_acked(acked, log, "%s-0 (disk full)" % TOPIC)
        assert hw == max(acked) + 1, "hw %d after the last acknowledged offset %d" % (hw, max(acked))
        print("  disk full after %d records: %d appends answered KAFKA_STORAGE_ERROR, all "
              "acknowledged records readable" % (len(acked), len(errors)), flush=True)

        r = subprocess.run(["mount", "-o", "remount,size=64m", mnt], capture_output=True, text=True)
        assert r.returncode == 0, "remount failed: %s" % r.stderr
        c = connect(broker)
        err, base = produce(c, TOPIC, 0, [b"after-remount"])
        c.close()
        assert err == 0, "produce after freeing space: error %d (the partition stays failed)" % err
        assert base == hw, "first offset after recovery %d, want %d" % (base, hw)
        acked[base] = b"after-remount"
        hw, log = read_partition(broker, TOPIC, 0)
        check_acked(acked, log, "%s-0 (after remount)" % TOPIC)
        assert "appends work again" in broker_log(broker), "no log line about the recovery"
        assert broker.proc.poll() is None
        print("  after remount,size=64m: the partition recovered, next offset %d" % base, flush=True)
    finally:
        cl.stop()


MNT = None  # the mounted tmpfs (set in main)


def test_full_disk_answers_storage_error_and_recovers():
    run_full_disk(MNT)


if __name__ == "__main__":
    MNT = tempfile.mkdtemp(prefix="gregor-enospc-")
    ok, why = mount_tmpfs(MNT, "2m")
    if not ok:
        os.rmdir(MNT)
        print("SKIP test_full_disk_answers_storage_error_and_recovers: cannot mount a tmpfs "
              "(needs root): %s" % why)
        print("0 passed, 0 failed, 1 skipped")
        sys.exit(SKIP)
    try:
        rc = cluster.run_tests([test_full_disk_answers_storage_error_and_recovers])
    finally:
        umount(MNT)
        os.rmdir(MNT)
    sys.exit(rc)
