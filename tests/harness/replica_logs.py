#!/usr/bin/python3
"""
tests/harness/replica_logs.py — reads a broker's partition replicas straight from disk, without a
broker, so the checker can compare replicas of one partition below the high watermark.

Formats read (docs/storage.md):
  <log.dirs>/<topic>-<partition>/<base offset, 20 digits>.log
      RecordBatch v2, back to back: baseOffset i64, batchLength i32, partitionLeaderEpoch i32,
      magic i8 (=2), crc u32 (CRC-32C of attributes..end), attributes i16, lastOffsetDelta i32,
      baseTimestamp i64, maxTimestamp i64, producerId i64, producerEpoch i16, baseSequence i32,
      recordsCount i32, then the records (compressed as one block when attributes & 7 != 0):
      length varint, attributes i8, timestampDelta varlong, offsetDelta varint, key (varint
      length, -1 = null), value (same), headers (varint count, each key + value).
      Codecs: none and gzip are decoded; snappy/lz4/zstd batches are skipped with a warning.
      Control batches (attributes bit 5) are skipped. Reading stops at a torn or corrupt tail.
  <log.dirs>/replication-offset-checkpoint (and the other *-offset-checkpoint files)
      Kafka's text checkpoint: "0\\n<count>\\n<topic> <partition> <offset>\\n" x count.

Library: read_segment(path), read_partition(dir), read_checkpoint(path), read_log_dir(dir, topic).
Values are returned as str (UTF-8, undecodable bytes backslash-escaped) or None for a null value.
CLI: replica_logs.py LOGDIR [--topic T]   prints "<topic>-<partition> <offset> <value>" lines.
"""
import argparse
import os
import re
import signal
import struct
import sys
import zlib

# the CRC-32C of the tests' independent wire codec (not the broker's)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration",
                                "protocol"))
from kwire import crc32c  # noqa: E402,F401  (also used by test_checker.py)

BATCH_HEADER = 61           # bytes from baseOffset up to and including recordsCount
_HDR = struct.Struct(">qiibIhiqqqhii")
_SEGMENT = re.compile(r"^(\d{20})\.log$")
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def _varint(buf, pos):
    """Zigzag varint at buf[pos:]; returns (value, new pos). IndexError when truncated."""
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _bytes(buf, pos):
    n, pos = _varint(buf, pos)
    if n < 0:
        return None, pos
    if pos + n > len(buf):
        raise ValueError("field past end of records")
    return bytes(buf[pos:pos + n]), pos + n


def _text(b):
    return None if b is None else b.decode("utf-8", "backslashreplace")


def decode_records(data, base_offset, count):
    """The records of one batch's (uncompressed) record block: [(offset, value)]."""
    out, pos = [], 0
    for _ in range(count):
        length, pos = _varint(data, pos)
        end = pos + length
        pos += 1                                  # attributes
        _, pos = _varint(data, pos)               # timestamp delta
        delta, pos = _varint(data, pos)
        _, pos = _bytes(data, pos)                # key
        value, pos = _bytes(data, pos)
        if pos > end:
            raise ValueError("record longer than its length")
        out.append((base_offset + delta, _text(value)))
        pos = end                                 # skip headers
    return out


def read_segment(path, verify_crc=True, warn=None):
    """[(offset, value)] of every data record in one .log file. warn(msg) is told about skipped
    batches and torn tails (default: stderr)."""
    warn = warn or (lambda m: print("replica_logs: " + m, file=sys.stderr))
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos + 12 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        if length < BATCH_HEADER - 12 or pos + 12 + length > len(data):
            if length != 0 or any(data[pos:pos + 64]):
                warn("%s: torn or zero batch at byte %d (length %d): stop" % (path, pos, length))
            return out
        (base, _, _, magic, crc, attrs, _, _, _, _, _, _, count) = _HDR.unpack_from(data, pos)
        body = memoryview(data)[pos + 21:pos + 12 + length]
        if magic != 2 or (verify_crc and crc32c(body) != crc):
            warn("%s: bad batch at byte %d (magic %d or CRC): stop" % (path, pos, magic))
            return out
        pos += 12 + length
        if attrs & 0x20:
            continue                              # control batch (transaction marker)
        records = body[BATCH_HEADER - 21:]
        codec = attrs & 7
        if codec == 1:
            records = zlib.decompress(bytes(records), 47)  # 32+15: gzip or zlib header
        elif codec != 0:
            warn("%s: batch at offset %d uses %s: skipped" % (path, base, CODECS.get(codec, codec)))
            continue
        out.extend(decode_records(records, base, count))
    return out


def read_partition(directory, verify_crc=True, warn=None):
    """All records of one partition replica directory, segments in base-offset order."""
    names = sorted(n for n in os.listdir(directory) if _SEGMENT.match(n))
    out = []
    for n in names:
        out.extend(read_segment(os.path.join(directory, n), verify_crc, warn))
    return out


def read_checkpoint(path):
    """{(topic, partition): offset} from a Kafka offset checkpoint file. ValueError if malformed."""
    with open(path) as f:
        lines = f.read().split("\n")
    if len(lines) < 2 or lines[0].strip() != "0":
        raise ValueError("%s: not a version 0 checkpoint" % path)
    count = int(lines[1])
    out = {}
    for line in lines[2:2 + count]:
        topic, part, off = line.rsplit(" ", 2)
        out[(topic, int(part))] = int(off)
    if len(out) != count:
        raise ValueError("%s: %d entries announced, %d found" % (path, count, len(out)))
    return out


def read_log_dir(logdir, topic, verify_crc=True, warn=None):
    """{partition: {"records": [(offset, value)], "hw": int or None}} for every replica of topic in
    one broker's log directory. hw comes from replication-offset-checkpoint when present."""
    hws = {}
    ckpt = os.path.join(logdir, "replication-offset-checkpoint")
    if os.path.exists(ckpt):
        hws = read_checkpoint(ckpt)
    out = {}
    pat = re.compile(r"^%s-(\d+)$" % re.escape(topic))
    for n in sorted(os.listdir(logdir)):
        m = pat.match(n)
        if m and os.path.isdir(os.path.join(logdir, n)):
            p = int(m.group(1))
            out[p] = {"records": read_partition(os.path.join(logdir, n), verify_crc, warn),
                      "hw": hws.get((topic, p))}
    return out


def main():
    ap = argparse.ArgumentParser(description="Print the records of partition replicas on disk.")
    ap.add_argument("logdir")
    ap.add_argument("--topic", help="only this topic (default: every <topic>-<n> directory)")
    args = ap.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)          # quiet when piped into head
    topics = [args.topic] if args.topic else sorted(
        {n.rsplit("-", 1)[0] for n in os.listdir(args.logdir) if re.match(r".+-\d+$", n)})
    for t in topics:
        for p, rep in sorted(read_log_dir(args.logdir, t).items()):
            print("# %s-%d: %d records, hw %s" % (t, p, len(rep["records"]), rep["hw"]))
            for off, val in rep["records"]:
                print("%s-%d %d %s" % (t, p, off, val))


if __name__ == "__main__":
    main()
