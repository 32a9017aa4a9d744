#!/usr/bin/env python3
"""
tests/integration/protocol/test_record_validation.py — Produce refuses a
batch whose records disagree with its header (docs/storage.md "Record
validation"): each bad batch is sent raw, with a correct frame and CRC, and
must get its Kafka error while the log end offset (ListOffsets latest) stays
put. Valid batches — raw gzip built here, and gzip/snappy/lz4/zstd batches
from real librdkafka (kcat) — are still accepted.
"""
import os
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import W, Conn, crc32c  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402

CL = None
INVALID_RECORD, CORRUPT_MESSAGE, INVALID_TIMESTAMP = 87, 2, 32


def uvarint(v):
    return W().uvarint(v).b


def zz(v):
    return uvarint(((v << 1) ^ (v >> 63)) & ((1 << 64) - 1))


def rec(off_delta, key=b"k", value=b"v", ts_delta=0, headers=b"\x00"):
    """One record; headers is the raw header section (count included)."""
    body = b"\x00" + zz(ts_delta) + zz(off_delta)
    body += zz(-1) if key is None else zz(len(key)) + key
    body += zz(-1) if value is None else zz(len(value)) + value
    body += headers
    return zz(len(body)) + body


def batch(records, count, lod=None, attrs=0, base_ts=None, max_ts=None):
    """A batch with a correct frame and CRC around records (bytes)."""
    if lod is None:
        lod = count - 1
    if base_ts is None:
        base_ts = int(time.time() * 1000)
    if max_ts is None:
        max_ts = base_ts
    after = struct.pack(">hiqqqhii", attrs, lod, base_ts, max_ts, -1, -1, -1, count) + records
    head = struct.pack(">qiib", 0, 4 + 1 + 4 + len(after), -1, 2)
    return head + struct.pack(">I", crc32c(after)) + after


def gzip(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def produce_err(topic, b):
    c = Conn("127.0.0.1", CL.brokers[0].port)
    res = m.decode_produce(c.call(0, 7, m.produce_body(7, topic, 0, b)), 7)
    c.close()
    return res[topic][0]["err"]


def leo(topic):
    c = Conn("127.0.0.1", CL.brokers[0].port)
    p = m.decode_list_offsets(c.call(2, 1, m.list_offsets_body(1, topic, 0, -1)), 1)
    c.close()
    assert p["err"] == 0, p
    return p["offset"]


def create(name, configs):
    c = Conn("127.0.0.1", CL.brokers[0].port)
    res = m.decode_create_topics(c.call(19, 4, m.create_topics_body(4, [(name, 1, 1, configs)])), 4)
    c.close()
    assert res[name]["err"] == 0, res


def expect_refused(topic, b, err):
    before = leo(topic)
    got = produce_err(topic, b)
    assert got == err, (got, err)
    assert leo(topic) == before, "log end offset moved"


def test_bad_batches_are_refused_and_nothing_is_written():
    create("rv", {})
    one = rec(0)
    cases = [
        ("count and lastOffsetDelta claim a million", batch(one, 1000000), INVALID_RECORD),
        ("count 2, one record", batch(one, 2), INVALID_RECORD),
        ("count 1, two records", batch(one + rec(1), 1), INVALID_RECORD),
        ("offsetDelta 5 in a one-record batch", batch(rec(5), 1), INVALID_RECORD),
        ("value length 2^31", batch(zz(10) + b"\x00\x00\x00\x01" + uvarint(1 << 32) + b"\x00", 1),
         INVALID_RECORD),
        ("value length INT32_MAX", batch(zz(10) + b"\x00\x00\x00\x01" + zz(2 ** 31 - 1) + b"\x00", 1),
         INVALID_RECORD),
        ("11-byte varint", batch(zz(13) + b"\x00" + b"\xff" * 10 + b"\x01\x00", 1), INVALID_RECORD),
        ("record length larger than its fields", batch(zz(9) + rec(0)[1:] + b"\x00", 1), INVALID_RECORD),
        ("negative header count", batch(rec(0, headers=zz(-1)), 1), INVALID_RECORD),
        ("header key length -1", batch(rec(0, headers=zz(1) + zz(-1) + zz(-1)), 1), INVALID_RECORD),
        ("header value past the record end", batch(rec(0, headers=zz(1) + zz(1) + b"h" + zz(40)), 1),
         INVALID_RECORD),
        ("gzip: count 3, two records", batch(gzip(rec(0) + rec(1)), 3, attrs=1), INVALID_RECORD),
        ("gzip: offsetDelta gap", batch(gzip(rec(0) + rec(2)), 2, attrs=1), INVALID_RECORD),
        ("gzip stream cut short", batch(gzip(rec(0) + rec(1))[:-6], 2, attrs=1), CORRUPT_MESSAGE),
        ("codec 6", batch(one, 1, attrs=6), 76),
    ]
    for name, b, err in cases:
        try:
            expect_refused("rv", b, err)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (name, e))
    assert leo("rv") == 0
    # The same broker still takes good batches, plain and gzip.
    assert produce_err("rv", batch(one + rec(1, key=None), 2)) == 0
    assert produce_err("rv", batch(gzip(rec(0) + rec(1) + rec(2)), 3, attrs=1)) == 0
    assert leo("rv") == 5


def test_null_key_refused_on_compacted_topic():
    create("rv-compact", {"cleanup.policy": "compact"})
    expect_refused("rv-compact", batch(rec(0) + rec(1, key=None), 2), INVALID_RECORD)
    expect_refused("rv-compact", batch(gzip(rec(0, key=None)), 1, attrs=1), INVALID_RECORD)
    assert produce_err("rv-compact", batch(rec(0) + rec(1, value=None), 2)) == 0
    assert leo("rv-compact") == 2


def test_timestamp_outside_topic_skew_is_invalid_timestamp():
    create("rv-ts", {"message.timestamp.difference.max.ms": "3600000"})
    now = int(time.time() * 1000)
    expect_refused("rv-ts", batch(rec(0), 1, base_ts=now - 2 * 3600 * 1000), INVALID_TIMESTAMP)
    expect_refused("rv-ts", batch(rec(0) + rec(1, ts_delta=2 * 3600 * 1000), 2, base_ts=now),
                   INVALID_TIMESTAMP)
    assert produce_err("rv-ts", batch(rec(0) + rec(1, ts_delta=60000), 2, base_ts=now)) == 0
    assert leo("rv-ts") == 2


def test_max_timestamp_is_set_from_the_records():
    create("rv-maxts", {})
    now = int(time.time() * 1000)
    assert produce_err("rv-maxts", batch(rec(0) + rec(1, ts_delta=70), 2, base_ts=now, max_ts=now + 5)) == 0
    c = Conn("127.0.0.1", CL.brokers[0].port)
    f = m.decode_fetch(c.call(1, 11, m.fetch_body(11, [("rv-maxts", 0, 0, 1 << 20)])), 11)
    c.close()
    got = m.parse_batches(f["rv-maxts"][0]["records"])
    assert len(got) == 1
    b = got[0][3]
    assert struct.unpack(">q", b[35:43])[0] == now + 70
    assert crc32c(b[21:]) == struct.unpack(">I", b[17:21])[0], "CRC rewritten"


def test_librdkafka_compressed_batches_still_work():
    # kcat is librdkafka: its gzip, snappy (raw), lz4 (frame) and zstd
    # batches must pass the validator unchanged.
    import subprocess
    create("rv-codecs", {})
    boot = "127.0.0.1:%d" % CL.brokers[0].port
    lines = "".join("key-%d:%s\n" % (i, ("value %d " % i) * 20) for i in range(300))
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        before = leo("rv-codecs")
        r = subprocess.run(["kcat", "-P", "-b", boot, "-t", "rv-codecs", "-p", "0", "-K:", "-z", codec,
                            "-X", "linger.ms=20"], input=lines.encode(), capture_output=True,
                           timeout=60)
        assert r.returncode == 0, (codec, r.stderr)
        assert leo("rv-codecs") == before + 300, codec


def main():
    global CL
    CL = Cluster()
    return run_suite(CL, [test_bad_batches_are_refused_and_nothing_is_written,
                          test_null_key_refused_on_compacted_topic,
                          test_timestamp_outside_topic_skew_is_invalid_timestamp,
                          test_max_timestamp_is_set_from_the_records,
                          test_librdkafka_compressed_batches_still_work])


if __name__ == "__main__":
    sys.exit(main())
