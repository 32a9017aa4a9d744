#!/usr/bin/env python3
"""
tests/integration/protocol/test_produce_offload.py — Produce requests whose appends run on the
io workers (gregor.produce.offload.bytes=0 here: every acks=1/all request is offloaded;
docs/architecture.md §8). Three brokers. What must hold as for inline appends: responses in
request order on a pipelined connection, every partition's offsets contiguous in request order
(so an idempotent producer's sequences stay in order), acks=all answered after replication,
acks=0 still inline (a bad one closes the connection), a connection closed while its appends
run, and a clean shutdown with requests in flight. librdkafka's idempotent producer (5 in
flight, 8 partitions) then writes records that a consumer reads back once each, in order.
"""
import os
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import Conn, W  # noqa: E402
from cluster import Cluster, free_port, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402

# The TSan stage runs this file against its instrumented broker without the HTTP endpoint: TSan
# reports a descriptor number reused between the main thread's HTTP socket and a network
# thread's closed connection, which the kernel orders (docs/testing.md).
TSAN = "tsan" in os.environ.get("GREGOR_BROKER_BIN", "")
HTTP = [] if TSAN else [free_port() for _ in range(3)]
CL = Cluster(3, overrides=["gregor.produce.offload.bytes=0", "num.io.threads=3"],
             per_broker=lambda i: ["gregor.http.port=%d" % HTTP[i]] if HTTP else [])
PORTS = [b.port for b in CL.brokers]


def offloaded():
    """Produce requests appended on the io workers, summed over the brokers (/metrics); 0
    without the HTTP endpoint."""
    n = 0
    for port in HTTP:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
        n += sum(int(line.split()[1]) for line in text.splitlines()
                 if line.startswith("gregor_produce_offloaded_requests_total "))
    return n


def create(name, parts, rf):
    c = Conn("127.0.0.1", PORTS[0])
    try:
        res = m.decode_create_topics(c.call(19, 4, m.create_topics_body(4, [(name, parts, rf, {})])), 4)
    finally:
        c.close()
    assert res[name]["err"] == 0, res


def leads(port, topic, partition):
    """True once the broker at port answers as the partition's leader."""
    c = Conn("127.0.0.1", port)
    try:
        return m.decode_list_offsets(c.call(2, 1, m.list_offsets_body(1, topic, partition, -1)), 1)["err"] == 0
    finally:
        c.close()


def leader_port(topic, partition):
    """The port of partition's leader, from Metadata v1 (waits until it has one)."""
    end = time.time() + 20
    while time.time() < end:
        c = Conn("127.0.0.1", PORTS[0])
        try:
            r = c.call(3, 1, W().array([topic], lambda w, t: w.str(t)).b)
        finally:
            c.close()
        brokers = {}
        for _ in range(r.i32()):
            bid, _host, port, _rack = r.i32(), r.str(), r.i32(), r.str()
            brokers[bid] = port
        r.i32()  # controller
        for _ in range(r.i32()):
            r.i16(), r.str(), r.i8()
            for _ in range(r.i32()):
                _err, idx, leader = r.i16(), r.i32(), r.i32()
                r.array(lambda r: r.i32()), r.array(lambda r: r.i32())
                if idx == partition and leader in brokers and leads(brokers[leader], topic, partition):
                    return brokers[leader]
        time.sleep(0.2)
    raise AssertionError("no leader for %s-%d" % (topic, partition))


def produce_multi(topic, batches, acks=1, v=7):
    """A Produce body with one entry per (partition, batch bytes)."""
    w = W()
    if v >= 3:
        w.str(None)
    w.i16(acks).i32(10000)
    w.array([topic], lambda w, t: (w.str(t), w.array(batches, lambda w, pb: (w.i32(pb[0]), w.bytes(pb[1])))))
    return w.b


def test_pipelined_requests_answer_in_order_with_contiguous_offsets():
    create("off-pipe", 4, 1)
    port = leader_port("off-pipe", 0)
    parts = [p for p in range(4) if leader_port("off-pipe", p) == port]
    c = Conn("127.0.0.1", port)
    corrs = []
    n_req = 150
    before = offloaded()
    for i in range(n_req):
        batches = [(p, kwire.record_batch([(b"k", b"r%d-p%d-" % (i, p) + os.urandom(3000), 0)] * 3))
                   for p in parts]
        corrs.append(c.send(0, 7, produce_multi("off-pipe", batches)))
    expect = {p: 0 for p in parts}
    for corr in corrs:
        res = m.decode_produce(c.recv(0, 7, corr), 7)["off-pipe"]
        assert [r["index"] for r in res] == parts
        for r in res:
            assert r["err"] == 0, r
            assert r["base"] == expect[r["index"]], (corr, r, expect)
            expect[r["index"]] += 3
    c.close()
    for p in parts:
        c = Conn("127.0.0.1", port)
        lo = m.decode_list_offsets(c.call(2, 1, m.list_offsets_body(1, "off-pipe", p, -1)), 1)
        c.close()
        assert lo["offset"] == 3 * n_req, lo
    assert offloaded() - before == (0 if TSAN else n_req)


def test_idempotent_sequences_in_order_across_pipelined_requests():
    create("off-idem", 1, 1)
    port = leader_port("off-idem", 0)
    c = Conn("127.0.0.1", port)
    pid = 4242
    corrs = []
    for i in range(100):
        b = kwire.record_batch([(b"k", b"v%d" % (i * 5 + j), j) for j in range(5)],
                               producer_id=pid, producer_epoch=0, base_seq=i * 5)
        corrs.append(c.send(0, 7, m.produce_body(7, "off-idem", 0, b)))
    for i, corr in enumerate(corrs):
        r = m.decode_produce(c.recv(0, 7, corr), 7)["off-idem"][0]
        assert r["err"] == 0 and r["base"] == i * 5, (i, r)
    # an exact retry of the last batch: the original offset, nothing written
    b = kwire.record_batch([(b"k", b"v%d" % (99 * 5 + j), j) for j in range(5)],
                           producer_id=pid, producer_epoch=0, base_seq=99 * 5)
    r = m.decode_produce(c.call(0, 7, m.produce_body(7, "off-idem", 0, b)), 7)["off-idem"][0]
    assert r["err"] == 0 and r["base"] == 495, r
    # a gap: OUT_OF_ORDER_SEQUENCE_NUMBER
    b = kwire.record_batch([(b"k", b"gap", 0)], producer_id=pid, producer_epoch=0, base_seq=600)
    r = m.decode_produce(c.call(0, 7, m.produce_body(7, "off-idem", 0, b)), 7)["off-idem"][0]
    assert r["err"] == 45, r
    c.close()


def test_acks_all_is_answered_after_replication():
    create("off-all", 1, 3)
    port = leader_port("off-all", 0)
    c = Conn("127.0.0.1", port)
    corrs = [c.send(0, 7, m.produce_body(7, "off-all", 0, kwire.record_batch([(b"k", os.urandom(100000), 0)]),
                                         acks=-1)) for _ in range(20)]
    for i, corr in enumerate(corrs):
        r = m.decode_produce(c.recv(0, 7, corr), 7)["off-all"][0]
        assert r["err"] == 0 and r["base"] == i, (i, r)
    f = m.decode_fetch(c.call(1, 11, m.fetch_body(11, [("off-all", 0, 0, 1)])), 11)["off-all"][0]
    assert f["hw"] == 20, f
    c.close()


def test_acks_zero_stays_inline_and_a_bad_one_closes_the_connection():
    create("off-zero", 1, 1)
    port = leader_port("off-zero", 0)
    before = offloaded()
    c = Conn("127.0.0.1", port)
    for i in range(10):
        c.send(0, 7, m.produce_body(7, "off-zero", 0, kwire.record_batch([(b"k", b"z%d" % i, 0)]), acks=0))
    # a partition that does not exist: no response, the connection is closed
    c.send(0, 7, m.produce_body(7, "off-zero", 7, kwire.record_batch([(b"k", b"bad", 0)]), acks=0))
    c.s.settimeout(10)
    try:
        data = c.s.recv(1)
    except ConnectionResetError:
        data = b""
    assert data == b"", data
    c.close()
    c = Conn("127.0.0.1", port)
    lo = m.decode_list_offsets(c.call(2, 1, m.list_offsets_body(1, "off-zero", 0, -1)), 1)
    c.close()
    assert lo["offset"] == 10, lo
    assert offloaded() == before


def test_connection_closed_while_appends_run():
    create("off-close", 2, 3)
    port = leader_port("off-close", 0)
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", port))
        c = Conn.__new__(Conn)
        c.s, c.corr = s, 0
        for i in range(15):
            c.send(0, 7, produce_multi("off-close", [(p, kwire.record_batch([(b"k", os.urandom(200000), 0)]))
                                                    for p in (0, 1)], acks=-1))
        s.close()
    # the broker goes on serving, and what it wrote is whole: contiguous batches up to the new one
    c = Conn("127.0.0.1", port)
    r = m.decode_produce(c.call(0, 7, m.produce_body(7, "off-close", 0, kwire.record_batch([(b"k", b"after", 0)]),
                                                     acks=-1)), 7)["off-close"][0]
    assert r["err"] == 0, r
    f = m.decode_fetch(c.call(1, 11, m.fetch_body(11, [("off-close", 0, 0, 100 << 20)], max_bytes=100 << 20)), 11)
    c.close()
    got = m.parse_batches(f["off-close"][0]["records"])
    assert [g[0] for g in got] == list(range(r["base"] + 1)), (len(got), r["base"])
    assert got[-1][3].find(b"after") >= 0


def test_librdkafka_idempotent_producer_exactly_once_in_order():
    import subprocess
    code = r'''
import sys, time
from confluent_kafka import Producer, Consumer, TopicPartition
boot = sys.argv[1]
p = Producer({"bootstrap.servers": boot, "enable.idempotence": True, "linger.ms": 20,
              "batch.size": 1048576, "max.in.flight.requests.per.connection": 5})
N, P = 40000, 8
errs = []
for i in range(N):
    while True:
        try:
            p.produce("off-rk", value=b"%08d" % i + b"x" * 900, key=b"%d" % (i % P), partition=i % P,
                      on_delivery=lambda e, m: errs.append(e) if e else None)
            break
        except BufferError:
            p.poll(0.05)
assert p.flush(60) == 0
assert not errs, errs[:3]
c = Consumer({"bootstrap.servers": boot, "group.id": "off-rk", "enable.auto.commit": False})
c.assign([TopicPartition("off-rk", q, 0) for q in range(P)])
seen = {q: [] for q in range(P)}
end = time.time() + 60
total = 0
while total < N and time.time() < end:
    msg = c.poll(1.0)
    if msg is None or msg.error():
        continue
    seen[msg.partition()].append(int(msg.value()[:8]))
    total += 1
c.close()
for q in range(P):
    assert seen[q] == list(range(q, N, P)), (q, len(seen[q]), seen[q][:5])
print("ok", total)
'''
    create("off-rk", 8, 3)
    before = offloaded()
    boot = ",".join("127.0.0.1:%d" % p for p in PORTS)
    res = subprocess.run(["/usr/bin/python3", "-c", code, boot], capture_output=True, text=True, timeout=240)
    assert res.returncode == 0 and "ok 40000" in res.stdout, res.stdout[-2000:] + res.stderr[-3000:]
    assert TSAN or offloaded() > before


def test_shutdown_with_appends_in_flight():
    """Last: SIGTERM to a broker while a client keeps large requests coming; it exits 0."""
    create("off-stop", 1, 1)
    port = leader_port("off-stop", 0)
    b = next(b for b in CL.brokers if b.port == port)
    stop = threading.Event()

    def pump():
        try:
            c = Conn("127.0.0.1", port)
            while not stop.is_set():
                c.send(0, 7, m.produce_body(7, "off-stop", 0, kwire.record_batch([(b"k", os.urandom(500000), 0)])))
        except OSError:
            pass
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    time.sleep(1.5)
    st = b.stop()
    stop.set()
    t.join(5)
    assert st == 0, "broker exited with %s:\n%s" % (st, open(b.logfile).read()[-3000:])


if __name__ == "__main__":
    sys.exit(run_suite(CL, globals()))
