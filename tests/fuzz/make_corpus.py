#!/usr/bin/env python3
"""
tests/fuzz/make_corpus.py — writes the seed corpus of the fuzz targets:

  corpus/fuzz_request/        request frames (header + body, no size prefix)
                              for every API the broker advertises (the
                              consumer-group ones at every version), valid and
                              slightly broken, addressed to topic "fuzz" (the
                              topic fuzz_request.c creates)
  corpus/fuzz_batch_validate/ a mode byte + Produce record batches
  corpus/fuzz_record_validate/ a mode byte, recordsCount, lastOffsetDelta
                              and a records section (raw or compressed)
  corpus/fuzz_group_codec/    an API selector, a version and a consumer-group
                              request body, for every group API and version
  corpus/fuzz_sasl/           a mechanisms byte, a mode byte and SASL chunks (a
                              handshake's mechanism, then tokens) or a JAAS,
                              /config/users JSON or SCRAM credential text

Frames and batches are built with tests/integration/protocol/kwire.py, the
test suite's independent codec. The output is checked in; rerun this script
after changing it (it replaces the corpus directories' contents).
"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "protocol"))
from kwire import W, record_batch, FLEX  # noqa: E402

TOPIC = "fuzz"
TS = 1700000000000


def header(key, ver, corr=1, client="fuzz"):
    flex = ver >= FLEX.get(key, 99)
    h = W().i16(key).i16(ver).i32(corr).str(client)
    if flex:
        h.uvarint(0)
    return bytes(h.b), flex


def frame(key, ver, body_fn):
    h, flex = header(key, ver)
    w = W(flex=flex)
    body_fn(w, ver)
    return h + bytes(w.b)


def batch(n=3, value=b"v", key=None, **kw):
    return record_batch([(key, value + str(i).encode(), i) for i in range(n)], base_ts=TS, **kw)


def produce(w, v, records=None, acks=1, partition=0):
    records = batch() if records is None else records
    if v >= 3:
        w.str(None)
    w.i16(acks).i32(1000)
    w.array([TOPIC], lambda w, t: (w.str(t), w.array([partition], lambda w, p: (w.i32(p), w.bytes(records)))))


def fetch(w, v, offset=0, max_wait=0, min_bytes=1):
    w.i32(-1).i32(max_wait).i32(min_bytes)
    if v >= 3:
        w.i32(1 << 20)
    if v >= 4:
        w.i8(0)
    if v >= 7:
        w.i32(0).i32(-1)

    def part(w, p):
        w.i32(p)
        if v >= 9:
            w.i32(-1)
        w.i64(offset)
        if v >= 5:
            w.i64(-1)
        w.i32(1 << 16)
    w.array([TOPIC], lambda w, t: (w.str(t), w.array([0, 1], part)))
    if v >= 7:
        w.array([], lambda w, t: None)
    if v >= 11:
        w.str("")


def list_offsets(w, v, ts=-1):
    w.i32(-1)
    if v >= 2:
        w.i8(0)

    def part(w, p):
        w.i32(p)
        if v >= 4:
            w.i32(-1)
        w.i64(ts)
        if v == 0:
            w.i32(1)
    w.array([TOPIC], lambda w, t: (w.str(t), w.array([0, 1], part)))


def metadata(w, v, topics=(TOPIC,)):
    if topics is None:
        w.i32(-1 if v >= 1 else 0)
    else:
        w.array(list(topics), lambda w, t: w.str(t))
    if v >= 4:
        w.i8(1)
    if v >= 8:
        w.i8(1).i8(1)


def api_versions(w, v):
    if v >= 3:
        w.str("fuzz").str("1.0").tags()


def create_topics(w, v):
    def topic(w, t):
        w.str(t).i32(1).i16(1)
        w.array([], lambda w, a: None)
        w.array([("retention.ms", "1000")], lambda w, kv: w.str(kv[0]).str(kv[1]))
    w.array(["new-topic"], topic)
    w.i32(1000)
    if v >= 1:
        w.i8(1)


def delete_topics(w, v):
    w.array(["gone"], lambda w, t: w.str(t))
    w.i32(1000)


def delete_records(w, v):
    w.array([TOPIC], lambda w, t: (w.str(t), w.array([0], lambda w, p: (w.i32(p), w.i64(1)))))
    w.i32(1000)


def describe_configs(w, v):
    w.array([(2, TOPIC), (4, "0")], lambda w, r: (w.i8(r[0]).str(r[1]), w.array(None, lambda w, k: None)))
    if v >= 1:
        w.i8(1)
    if v >= 3:
        w.i8(1)


def describe_log_dirs(w, v, topics=((TOPIC, (0, 1, 5)), ("nope", (0,)), (TOPIC, (1,)))):
    def topic(w, t):
        w.str(t[0])
        w.array(list(t[1]), lambda w, p: w.i32(p))
        w.tags()
    w.array(None if topics is None else list(topics), topic)
    w.tags()


def alter_reassignments(w, v, replicas=(1, 0)):
    w.i32(1000)
    w.array([TOPIC], lambda w, t: (w.str(t), w.array([0, 1], lambda w, p: (
        w.i32(p), w.array(None if p else list(replicas), lambda w, b: w.i32(b)), w.tags())),
        w.tags()))
    w.tags()


def list_reassignments(w, v, topics=(TOPIC,)):
    w.i32(1000)
    w.array(None if topics is None else list(topics), lambda w, t: (
        w.str(t), w.array([0, 1], lambda w, p: w.i32(p)), w.tags()))
    w.tags()


def request_seeds():
    s = {}
    for v in range(0, 4):
        s["api_versions_v%d" % v] = frame(18, v, api_versions)
    for v in range(0, 9):
        s["metadata_v%d" % v] = frame(3, v, metadata)
    s["metadata_all"] = frame(3, 1, lambda w, v: metadata(w, v, None))
    s["metadata_bad_name"] = frame(3, 4, lambda w, v: metadata(w, v, ("bad/name", "unknown")))
    for v in range(0, 8):
        s["produce_v%d" % v] = frame(0, v, produce)
    s["produce_acks0"] = frame(0, 3, lambda w, v: produce(w, v, acks=0))
    s["produce_acks_all"] = frame(0, 7, lambda w, v: produce(w, v, acks=-1))
    s["produce_two_batches"] = frame(0, 7, lambda w, v: produce(w, v, batch(2) + batch(1)))
    s["produce_idempotent"] = frame(0, 7, lambda w, v: produce(
        w, v, batch(2, producer_id=5, producer_epoch=0, base_seq=0)))
    s["produce_null_records"] = frame(0, 7, lambda w, v: produce(w, v, records=b""))
    s["produce_bad_partition"] = frame(0, 7, lambda w, v: produce(w, v, partition=7))
    s["produce_gzip_bits"] = frame(0, 7, lambda w, v: produce(w, v, batch(1, codec=1)))
    s["produce_big_value"] = frame(0, 7, lambda w, v: produce(w, v, batch(2, value=b"x" * 3000)))
    for v in range(4, 12):
        s["fetch_v%d" % v] = frame(1, v, fetch)
    s["fetch_wait"] = frame(1, 11, lambda w, v: fetch(w, v, offset=1000, max_wait=3, min_bytes=1 << 20))
    s["fetch_out_of_range"] = frame(1, 11, lambda w, v: fetch(w, v, offset=-5))
    # Regression: a topic with an empty partitions array (fetch_encode() took
    # the topic name from a partition entry that does not exist).
    s["regress_fetch_topic_without_partitions"] = frame(1, 4, lambda w, v: (
        w.i32(-1).i32(0).i32(1).i32(1 << 20).i8(0), w.array([TOPIC], lambda w, t: (
            w.str(t), w.array([], lambda w, p: None)))))
    for v in range(0, 6):
        s["list_offsets_v%d" % v] = frame(2, v, list_offsets)
    s["list_offsets_earliest"] = frame(2, 5, lambda w, v: list_offsets(w, v, -2))
    s["list_offsets_time"] = frame(2, 5, lambda w, v: list_offsets(w, v, TS + 1))
    s["list_offsets_max_ts"] = frame(2, 5, lambda w, v: list_offsets(w, v, -3))
    # every consumer-group API and version, as whole frames (the handlers run them against
    # fuzz_request.c's broker, which has no group runtime: they answer at once)
    for _, key, nver in GROUP_APIS:
        for v in range(nver):
            s["group_k%d_v%d" % (key, v)] = frame(key, v, lambda w, v, key=key: group_body(key, v, w))
    s["create_topics_v4"] = frame(19, 4, create_topics)
    s["delete_topics_v3"] = frame(20, 3, delete_topics)
    for v in range(0, 2):
        s["delete_records_v%d" % v] = frame(21, v, delete_records)
    for v in range(0, 3):
        s["describe_configs_v%d" % v] = frame(32, v, describe_configs)
    for v in range(0, 5):
        s["describe_log_dirs_v%d" % v] = frame(35, v, describe_log_dirs)
    s["describe_log_dirs_all"] = frame(35, 4, lambda w, v: describe_log_dirs(w, v, None))
    s["describe_cluster_v0"] = frame(60, 0, lambda w, v: (w.i8(1), w.tags()))
    for v in range(0, 5):
        s["init_producer_id_v%d" % v] = frame(22, v, init_producer_id)
    s["init_producer_id_bump"] = frame(22, 4, lambda w, v: init_producer_id(w, v, pid=0, epoch=0))
    s["init_producer_id_txn"] = frame(22, 3, lambda w, v: init_producer_id(w, v, txn="t"))
    # the transaction APIs: fuzz_request.c's broker runs a transaction coordinator, and the
    # first producer id it hands out is 0, so these continue init_producer_id_txn's transaction
    for v in range(0, 4):
        s["add_partitions_to_txn_v%d" % v] = frame(24, v, add_partitions_to_txn)
        s["add_offsets_to_txn_v%d" % v] = frame(25, v, add_offsets_to_txn)
        s["end_txn_commit_v%d" % v] = frame(26, v, end_txn)
        s["txn_offset_commit_v%d" % v] = frame(28, v, txn_offset_commit)
    s["end_txn_abort"] = frame(26, 3, lambda w, v: end_txn(w, v, commit=False))
    # Regression: a transactional id holding a NUL byte (the coordinator copied it as a C
    # string and then read id_len bytes of the copy).
    s["regress_txn_id_nul"] = frame(22, 3, lambda w, v: init_producer_id(w, v, txn="t\x00nul"))
    s["add_partitions_to_txn_unknown"] = frame(24, 3, lambda w, v: add_partitions_to_txn(
        w, v, topics=[(TOPIC, [0, 7]), ("nope", [0])]))
    s["write_txn_markers_v1"] = frame(27, 1, write_txn_markers)
    s["describe_transactions_v0"] = frame(65, 0, lambda w, v: (
        w.array(["t", "unknown", ""], lambda w, t: w.str(t)), w.tags()))
    s["list_transactions_v0"] = frame(66, 0, lambda w, v: (w.array([], None), w.array([], None),
                                                           w.tags()))
    s["list_transactions_filters"] = frame(66, 0, lambda w, v: (
        w.array(["Ongoing", "CompleteCommit", "Bogus"], lambda w, x: w.str(x)),
        w.array([0, 5], lambda w, x: w.i64(x)), w.tags()))
    # client quotas (broker/kafka/client_quotas.c): v0 and flexible v1
    for v in (0, 1):
        s["describe_client_quotas_v%d" % v] = frame(48, v, lambda w, v: (
            w.array([("user", 0, "alice"), ("client-id", 1, None), ("ip", 2, None)],
                    lambda w, c: (w.str(c[0]), w.i8(c[1]), w.str(c[2]), w.tags())),
            w.i8(1), w.tags()))
        s["alter_client_quotas_v%d" % v] = frame(49, v, lambda w, v: (
            w.array([([("user", "alice"), ("client-id", None)],
                      [("producer_byte_rate", 4607182418800017408, 0),
                       ("bogus", -4616189618054758400, 0), ("request_percentage", 0, 1)])],
                    lambda w, e: (w.array(e[0], lambda w, p: (w.str(p[0]), w.str(p[1]), w.tags())),
                                  w.array(e[1], lambda w, o: (w.str(o[0]), w.i64(o[1]), w.i8(o[2]),
                                                              w.tags())),
                                  w.tags())),
            w.i8(0), w.tags()))
    # SCRAM credential APIs (broker/kafka/scram_admin.c). Regression: null user names in a
    # DescribeUserScramCredentials request (the duplicate check compared a null name's bytes).
    s["describe_user_scram_credentials_v0"] = frame(50, 0, lambda w, v: (
        w.array(["alice", "bob"], lambda w, u: (w.str(u), w.tags())), w.tags()))
    s["describe_user_scram_credentials_all"] = frame(50, 0, lambda w, v: (w.array(None, None),
                                                                          w.tags()))
    s["regress_describe_user_scram_null_names"] = frame(50, 0, lambda w, v: (
        w.array([None, "alice", None, "alice"], lambda w, u: (w.str(u), w.tags())), w.tags()))
    s["alter_partition_reassignments_v0"] = frame(45, 0, alter_reassignments)
    s["list_partition_reassignments_v0"] = frame(46, 0, list_reassignments)
    s["list_partition_reassignments_all"] = frame(46, 0, lambda w, v: list_reassignments(w, v, None))
    s["unknown_key"] = frame(999, 0, lambda w, v: None)
    s["api_versions_v9"] = frame(18, 9, lambda w, v: None)
    s["truncated_header"] = header(3, 1)[0][:7]
    return s


def add_partitions_to_txn(w, v, tid="t", pid=0, epoch=0, topics=((TOPIC, [0, 1]),)):
    w.str(tid).i64(pid).i16(epoch)
    w.array(list(topics), lambda w, t: (w.str(t[0]), w.array(t[1], lambda w, p: w.i32(p)),
                                        w.tags()))
    w.tags()


def add_offsets_to_txn(w, v, tid="t", pid=0, epoch=0, group="g"):
    w.str(tid).i64(pid).i16(epoch).str(group).tags()


def end_txn(w, v, tid="t", pid=0, epoch=0, commit=True):
    w.str(tid).i64(pid).i16(epoch).i8(1 if commit else 0).tags()


def txn_offset_commit(w, v, tid="t", pid=0, epoch=0, group="g"):
    w.str(tid).str(group).i64(pid).i16(epoch)
    if v >= 3:
        w.i32(-1).str("").str(None)

    def part(w, p):
        w.i32(p).i64(42)
        if v >= 2:
            w.i32(-1)
        w.str("meta").tags()
    w.array([TOPIC], lambda w, t: (w.str(t), w.array([0, 1], part), w.tags()))
    w.tags()


def write_txn_markers(w, v):
    def marker(w, m):
        w.i64(0).i16(0).i8(1)
        w.array([TOPIC], lambda w, t: (w.str(t), w.array([0], lambda w, p: w.i32(p)), w.tags()))
        w.i32(0).tags()
    w.array([0], marker)
    w.tags()


def init_producer_id(w, v, txn=None, pid=-1, epoch=-1):
    w.str(txn).i32(60000)
    if v >= 3:
        w.i64(pid).i16(epoch)
    if v >= 2:
        w.tags()


def batch_seeds():
    s = {}
    # mode byte: bit 0 = fix CRCs, bits 1-3 = max.message.bytes choice
    s["one_record"] = b"\x00" + batch(1)
    s["three_records"] = b"\x00" + batch(3, key=b"k")
    s["two_batches"] = b"\x00" + batch(2) + batch(1)
    s["idempotent"] = b"\x00" + batch(2, producer_id=7, producer_epoch=1, base_seq=10)
    s["headers_and_nulls"] = b"\x00" + record_batch([(None, None, 0), (b"k", b"", 1)], base_ts=TS)
    s["fixcrc_bad_count"] = b"\x01" + batch(3)[:57] + struct.pack(">i", 9) + batch(3)[61:]
    s["fixcrc_codec7"] = b"\x01" + batch(1, codec=7)
    s["fixcrc_control"] = b"\x01" + batch(1, attributes_extra=0x20)
    s["limit_64"] = b"\x02" + batch(4, value=b"y" * 40)
    s["magic1"] = b"\x00" + batch(1, magic=1)
    s["torn"] = b"\x00" + batch(3)[:-5]
    s["empty"] = b"\x00"
    # Regression: baseTimestamp INT64_MIN + a negative timestamp delta
    # (signed overflow in record_iter_next()).
    s["regress_ts_overflow"] = b"\x00" + record_batch([(None, b"v", -5)], base_ts=-(1 << 63))
    return s


def snappy_literal(data):
    """A raw snappy block holding data as one literal (len <= 256)."""
    n = len(data)
    assert 0 < n <= 256
    tag = bytes([(n - 1) << 2]) if n <= 60 else bytes([60 << 2, n - 1])
    return bytes(W().uvarint(n).b) + tag + data


def record_seeds():
    import zlib
    s = {}

    def recs(records):
        return record_batch(records, base_ts=TS)[61:]

    def params(mode, count, lod=None):
        return bytes([mode]) + struct.pack(">ii", count, count - 1 if lod is None else lod)

    three = recs([(b"k1", b"v1", 0), (b"k2", None, 5), (None, b"v3", 9)])
    keyed = recs([(b"a", b"x" * 30, 0), (b"b", b"", 1)])
    gz = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    # mode: bits 0-2 codec, 3 compress here, 4 Produce rules, 5 compacted,
    # 6 timestamp skew limit, 7 LogAppendTime
    s["none_produce"] = params(0x10, 3) + three
    s["none_stored_gaps"] = params(0x00, 2, 9) + recs([(b"a", b"1", 0)]) + recs([(b"b", b"2", 0)])
    s["none_compacted"] = params(0x30, 2) + keyed
    s["none_compacted_nullkey"] = params(0x30, 3) + three
    s["none_ts_limit"] = params(0x50, 3) + three
    s["none_log_append"] = params(0x90, 3) + three
    s["bad_count"] = params(0x10, 5) + three
    s["million"] = params(0x10, 1000000) + recs([(b"k", b"v", 0)])
    for codec, name in ((1, "gzip"), (2, "snappy"), (3, "lz4"), (4, "zstd")):
        s["%s_packed" % name] = params(0x18 | codec, 3) + three
    s["gzip_stream"] = params(0x11, 2) + gz.compress(keyed) + gz.flush()
    s["snappy_raw_stream"] = params(0x12, 3) + snappy_literal(three)
    block = snappy_literal(keyed)
    s["snappy_xerial_stream"] = (params(0x12, 2) + b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1) +
                                 struct.pack(">i", len(block)) + block)
    # Regression: lastOffsetDelta INT32_MAX with no records (stored rules
    # accept it; the target's own arithmetic overflowed).
    s["regress_lod_int_max"] = params(0x0a, 0, 0x7fffffff)
    return s


# fuzz_group_codec: (selector, API key, versions) in the target's order.
GROUP_APIS = [(0, 10, 5), (1, 11, 8), (2, 14, 6), (3, 12, 5), (4, 13, 5), (5, 8, 9),
              (6, 9, 9), (7, 47, 1), (8, 15, 6), (9, 16, 5), (10, 42, 3)]


def group_body(key, v, w):
    def parts(w, p, fields):
        w.i32(p)
        fields(w)
        w.tags()
    if key == 10:
        if v <= 3:
            w.str("g")
            if v >= 1:
                w.i8(0)
        else:
            w.i8(0).array(["g", "h"], lambda w, k: w.str(k))
    elif key == 11:
        w.str("g").i32(10000)
        if v >= 1:
            w.i32(30000)
        w.str("")
        if v >= 5:
            w.str(None)
        w.str("consumer").array([("range", b"\x00\x01")],
                                lambda w, p: (w.str(p[0]), w.bytes(p[1]), w.tags()))
    elif key == 14:
        w.str("g").i32(1).str("m")
        if v >= 3:
            w.str(None)
        if v >= 5:
            w.str("consumer").str("range")
        w.array([("m", b"a")], lambda w, a: (w.str(a[0]), w.bytes(a[1]), w.tags()))
    elif key == 12:
        w.str("g").i32(1).str("m")
        if v >= 3:
            w.str(None)
    elif key == 13:
        w.str("g")
        if v <= 2:
            w.str("m")
        else:
            w.array(["m"], lambda w, m: (w.str(m), w.str(None), w.tags()))
    elif key == 8:
        w.str("g")
        if v >= 1:
            w.i32(1).str("m")
        if v >= 7:
            w.str(None)
        if 2 <= v <= 4:
            w.i64(-1)

        def part(w, p):
            w.i32(p).i64(10)
            if v >= 6:
                w.i32(-1)
            if v == 1:
                w.i64(-1)
            w.str("")
            w.tags()
        w.array(["t"], lambda w, t: (w.str(t), w.array([0, 1], part), w.tags()))
    elif key == 9:
        def topics(w):
            w.array(["t"], lambda w, t: (w.str(t), w.array([0], lambda w, p: w.i32(p)), w.tags()))
        if v <= 7:
            w.str("g")
            topics(w)
        else:
            w.array(["g"], lambda w, g: (w.str(g), topics(w), w.tags()))
        if v >= 7:
            w.i8(0)
    elif key == 47:
        w.str("g").array(["t"], lambda w, t: (w.str(t), w.array([0], lambda w, p: w.i32(p))))
    elif key == 15:
        w.array(["g"], lambda w, g: w.str(g))
        if v >= 3:
            w.i8(1)
    elif key == 16:
        if v >= 4:
            w.array(["Stable"], lambda w, st: w.str(st))
    elif key == 42:
        w.array(["g"], lambda w, g: w.str(g))
    w.tags()


def group_codec_seeds():
    s = {}
    for sel, key, nver in GROUP_APIS:
        for v in range(nver):
            w = W(flex=v >= FLEX.get(key, 99))
            group_body(key, v, w)
            s["k%d_v%d" % (key, v)] = bytes([sel, v]) + bytes(w.b)
    return s


def acl_seeds():
    """fuzz_acl: a selector byte (bit 0 prefixed, bit 1 the name "ab") and an ACL znode's JSON."""
    entry = '{"principal":"%s","permissionType":"%s","operation":"%s","host":"%s"}'
    two = ",".join([entry % ("User:alice", "Allow", "Read", "*"),
                    entry % ("User:*", "Deny", "All", "10.0.0.1")])
    return {
        "literal_two": b"\x02" + ('{"version":1,"acls":[%s]}' % two).encode(),
        "prefixed_one": b"\x01" + ('{"version":1,"acls":[%s]}' % (entry % ("User:b", "Allow", "Write", "*"))).encode(),
        "wildcard_spaced": b"\x00" + b'{ "version" : 1 , "acls" : [ ] , "x" : [1, {"y": null}] }',
    }


def sasl_seeds():
    def chunks(*cs):
        return b"".join(bytes([len(c)]) + c for c in cs)
    a43 = "A" * 43 + "="
    return {
        "plain_v1": bytes([0, 0]) + chunks(b"PLAIN", b"\0u\0p", b"PLAIN", b"\0u\0p"),
        "plain_v0_bad": bytes([1, 1]) + chunks(b"PLAIN", b"\0u\0bad"),
        "scram256_first": bytes([2, 0]) + chunks(b"SCRAM-SHA-256", b"n,,n=u,r=abcdefgh",
                                                  b"c=biws,r=abcdefgh,p=AAAA"),
        "scram512_first": bytes([4, 2]) + chunks(b"SCRAM-SHA-512", b"n,a=u,n=u,r=x1",
                                                  b"c=biws,r=x1"),
        "gssapi": bytes([0, 0]) + chunks(b"GSSAPI", b"x"),
        "jaas": bytes([0, 4]) + b'org.apache.kafka.common.security.plain.PlainLoginModule '
                                b'required username="a" password="b\\"c" user_a=b;',
        "user_json": bytes([0, 5]) + b'{"version":1,"config":{"SCRAM-SHA-256":"salt=c2FsdA==,'
                                     b'stored_key=AAAA,server_key=BBBB,iterations=4096",'
                                     b'"x":"\\u0041\\/"}}',
        "cred": bytes([0, 6]) + ("salt=c2FsdA==,stored_key=%s,server_key=%s,iterations=4096"
                                 % (a43, a43)).encode(),
    }


def write(dirname, seeds):
    d = os.path.join(HERE, "corpus", dirname)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%s: %d seeds" % (d, len(seeds)))


if __name__ == "__main__":
    write("fuzz_request", request_seeds())
    write("fuzz_batch_validate", batch_seeds())
    write("fuzz_record_validate", record_seeds())
    write("fuzz_group_codec", group_codec_seeds())
    write("fuzz_acl", acl_seeds())
    write("fuzz_sasl", sasl_seeds())
