#!/usr/bin/env python3
"""
tests/integration/protocol/test_quotas.py — client quotas (docs/security.md,
"Quotas") on two real brokers and ZooKeeper: AlterClientQuotas and
DescribeClientQuotas with the suite's own codec (kwire.py), enforcement seen
by librdkafka (confluent_kafka) and by a raw client.

Checked: a producer_byte_rate set for one client id holds a confluent_kafka
producer sending as fast as it can to within 25 % of the quota, librdkafka
reports the throttling (throttle_cb), and a producer with another client id
is not held back; the same for consumer_byte_rate on a consumer; KIP-55's
precedence (client default < user < user/client) decides which limit a
raw Produce meets; an alter made through one broker is enforced by the
other within a second; DescribeClientQuotas returns what was set (exact,
default and any filters); invalid alters (unknown key, negative value,
unknown entity type) get INVALID_REQUEST per entry and change nothing;
a raw client that ignores throttle_time_ms has its next response delayed
(the connection is muted); a client over its request_percentage reads the request
throttle in throttle_time_ms (Metadata, ListOffsets, FindCoordinator, Produce), one within
it reads 0.
The brokers run with quota.window.num=3: a client at rest may send two
seconds' worth of its quota at once and is held back until those samples
age out (3 s); the steady rate is measured from 3 s to 5.5 s. Run by Debian's /usr/bin/python3.
"""
import os
import socket
import subprocess
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import W, Conn, record_batch  # noqa: E402
from cluster import Cluster, free_port, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402

INVALID_REQUEST = 42
CL = None
HTTP = [free_port() for _ in range(2)]
KIB = 1024


def port(i):
    return CL.brokers[i].port


def alter(i, entries, validate_only=False, v=1):
    """entries: [([(type, name|None)], [(key, value, remove)])] -> [(err, msg, entity)]."""
    w = W(flex=v >= 1)
    w.array(entries, lambda w, e: (
        w.array(e[0], lambda w, p: (w.str(p[0]), w.str(p[1]), w.tags())),
        w.array(e[1], lambda w, o: (w.str(o[0]), w.raw(struct.pack(">d", o[1])),
                                    w.i8(1 if o[2] else 0), w.tags())),
        w.tags()))
    w.i8(1 if validate_only else 0).tags()
    c = Conn("127.0.0.1", port(i))
    try:
        r = c.call(49, v, w.b)
    finally:
        c.close()
    r.i32()
    out = r.array(lambda r: (r.i16(), r.str(),
                             r.array(lambda r: (r.str(), r.str(), r.tags())[:2]), r.tags())[:3])
    r.tags()
    r.done()
    return out


def describe(i, comps, strict=False, v=1):
    """comps: [(type, match_type, match)] -> (err, {((type, name),...): {key: value}})."""
    w = W(flex=v >= 1)
    w.array(comps, lambda w, c: (w.str(c[0]), w.i8(c[1]), w.str(c[2]), w.tags()))
    w.i8(1 if strict else 0).tags()
    c = Conn("127.0.0.1", port(i))
    try:
        r = c.call(48, v, w.b)
    finally:
        c.close()
    r.i32()
    err = r.i16()
    r.str()
    entries = r.array(lambda r: (
        tuple(r.array(lambda r: (r.str(), r.str(), r.tags())[:2])),
        dict(r.array(lambda r: (r.str(), struct.unpack(">d", r.take(8))[0], r.tags())[:2])),
        r.tags())[:2])
    r.tags()
    r.done()
    return err, dict(entries or [])


def set_quota(entity, **kv):
    res = alter(0, [(entity, [(k, float(v or 0), v is None) for k, v in kv.items()])])
    assert res[0][0] == 0, res


def raw_produce(c, client_id, nbytes, topic="qt"):
    """One Produce v7 of nbytes of value on conn c: returns throttle_time_ms."""
    body = m.produce_body(7, topic, 0, record_batch([(None, b"x" * nbytes, 0)]))
    corr = c.send(0, 7, body, client_id=client_id)
    r = c.recv(0, 7, corr)
    r.array(lambda r: (r.str(), r.array(lambda r: (r.i32(), r.i16(), r.i64(), r.i64(), r.i64()))))
    return r.i32()


def throttled(client_id, broker=0, nbytes=8000):
    """One produce of nbytes by a client id new to the broker: True when
    its response is throttled (quotas of 1000 B/s throttle it, 10**9 not)."""
    c = Conn("127.0.0.1", port(broker))
    try:
        return raw_produce(c, client_id, nbytes) > 0
    finally:
        c.close()


def steady_rate(events, start, seconds):
    """The rate the (time, bytes) events of `seconds` from start kept to. Kafka's windowed
    rate counts a young sensor's time as at least quota.window.num - 1 samples, and a sample
    leaving the window frees its bytes at once, so with three samples of 1 s a client sending
    flat out gets between `seconds` and `seconds` + 1 seconds' worth of its quota through."""
    n = sum(b for t, b in events if t - start <= seconds)
    return n / (seconds + 0.5)


def bootstrap():
    return "127.0.0.1:%d" % port(0)


# ---------------------------------------------------------------- tests

def test_setup_topics():
    m.create_topic("qt", 1)
    m.create_topic("qprod", 1)
    m.create_topic("qcons", 1)


def test_producer_byte_rate_holds_librdkafka_producer():
    from confluent_kafka import Producer
    quota = 256 * KIB
    set_quota([("client-id", "slowprod")], producer_byte_rate=quota)
    throttles = []
    def run(client_id, seconds):
        throttles.clear()
        p = Producer({"bootstrap.servers": bootstrap(), "client.id": client_id, "linger.ms": 5,
                      "batch.size": 16384, "acks": 1,
                      "queue.buffering.max.kbytes": 32, "throttle_cb": lambda ev: throttles.append(ev)})
        acked = []
        start = time.time()
        payload = b"v" * 1000
        while time.time() - start < seconds:
            try:
                p.produce("qprod", payload, on_delivery=lambda e, msg: acked.append(
                    (time.time(), len(msg.value()))) if e is None else None)
            except BufferError:
                pass
            p.poll(0.001)
        p.flush(10)
        return acked, start

    acked, start = run("slowprod", 5.5)
    # the steady rate, after the first window's burst
    rate = steady_rate(acked, start, 5.5)
    print("producer: %.0f B/s against a quota of %d" % (rate, quota))
    assert 0.75 * quota <= rate <= 1.25 * quota, "rate %.0f B/s, quota %d" % (rate, quota)
    assert throttles and any(ev.throttle_time > 0 for ev in throttles), throttles
    # held to the quota, a client gets at most 4 s worth of it through in 3 s (see
    # steady_rate); a client that is not held sends what the machine lets it
    acked, start = run("fastprod", 3.0)
    fast = sum(n for _, n in acked)
    assert not any(ev.throttle_time > 0 for ev in throttles), throttles
    assert fast > 4.5 * quota, "unthrottled client id sent only %d bytes in 3 s" % fast


def test_consumer_byte_rate_holds_librdkafka_consumer():
    from confluent_kafka import Consumer, OFFSET_BEGINNING, Producer, TopicPartition
    quota = 256 * KIB
    p = Producer({"bootstrap.servers": bootstrap(), "client.id": "filler", "linger.ms": 20,
                  "batch.size": 16384})
    for _ in range(4000):
        p.produce("qcons", b"c" * 1000)
        p.poll(0)
    p.flush(10)
    set_quota([("client-id", "slowcons")], consumer_byte_rate=quota)

    def run(client_id, seconds):
        c = Consumer({"bootstrap.servers": bootstrap(), "client.id": client_id,
                      "group.id": "g-" + client_id, "auto.offset.reset": "earliest",
                      "fetch.max.bytes": 64 * KIB, "max.partition.fetch.bytes": 64 * KIB,
                      "message.max.bytes": 64 * KIB, "enable.auto.commit": False})
        c.assign([TopicPartition("qcons", 0, OFFSET_BEGINNING)])
        got = []
        start = None
        while start is None or time.time() - start < seconds:
            msg = c.poll(0.2)
            if msg is not None and msg.error() is None:
                if start is None:
                    start = time.time()
                got.append((time.time(), len(msg.value())))
        c.close()
        return got, start

    got, start = run("slowcons", 5.5)
    rate = steady_rate(got, start, 5.5)
    print("consumer: %.0f B/s against a quota of %d" % (rate, quota))
    # the response frames carry headers and batch framing, so the values
    # come in a little under the quota
    assert 0.6 * quota <= rate <= 1.25 * quota, "rate %.0f B/s, quota %d" % (rate, quota)
    got, start = run("fastcons", 2.0)
    assert sum(n for _, n in got) > 4 * quota, sum(n for _, n in got)


def test_throttled_fetch_answers_without_records():
    """As Kafka: a Fetch whose response would take the consumer over its quota is answered
    with its throttle time and no partitions, and its bytes are taken back from the rate, so
    the next Fetch after the wait gets records."""
    c = Conn("127.0.0.1", port(0))
    res = m.decode_create_topics(c.call(19, 4, m.create_topics_body(
        4, [("qfetch", -1, -1, {}, [(0, [CL.brokers[0].id])])])), 4)
    assert res["qfetch"]["err"] == 0, res
    deadline = time.time() + 10
    while m.decode_produce(c.call(0, 7, m.produce_body(7, "qfetch", 0, record_batch(
            [(None, b"x" * 1000, 0)]))), 7)["qfetch"][0]["err"] != 0:
        assert time.time() < deadline, "broker 0 never led qfetch"
        time.sleep(0.1)
    try:
        for _ in range(19):
            assert raw_produce(c, "qfetch-filler", 1000, topic="qfetch") == 0
        set_quota([("client-id", "rawcons")], consumer_byte_rate=4000)

        def fetch(max_bytes):
            body = m.fetch_body(11, [("qfetch", 0, 0, max_bytes)], max_wait=0)
            r = c.recv(1, 11, c.send(1, 11, body, client_id="rawcons"))
            throttle = r.i32()
            r.p -= 4
            return throttle, m.decode_fetch(r, 11)

        # ~21 KB against 4000 B/s over two samples of a second: over the quota
        throttle, topics = fetch(64 * KIB)
        assert throttle > 0 and topics == {}, (throttle, {t: {p: (x["err"], len(x["records"] or b""))
                                                              for p, x in ps.items()}
                                                          for t, ps in topics.items()})
        # the connection is muted for the throttle time; the next fetch (two small batches)
        # fits because the withheld response no longer counts
        throttle, topics = fetch(2000)
        assert throttle == 0, throttle
        got = topics["qfetch"][0]
        assert got["err"] == 0 and len(got["records"]) > 1000, (got["err"], len(got["records"]))
    finally:
        c.close()
        set_quota([("client-id", "rawcons")], consumer_byte_rate=None)


def test_precedence_kip55():
    # clients/<default> applies to everybody...
    set_quota([("client-id", None)], producer_byte_rate=1000)
    assert throttled("p-a")
    # ...until a user quota, which beats any client-id-only entity
    set_quota([("user", "ANONYMOUS")], producer_byte_rate=10 ** 9)
    assert not throttled("p-b")
    # user + client beats the user alone; other clients of the user keep the user's
    set_quota([("user", "ANONYMOUS"), ("client-id", "p-c")], producer_byte_rate=1000)
    assert throttled("p-c")
    assert not throttled("p-d")
    # <default> user + client id beats the user alone too? No: the user comes first
    set_quota([("user", None), ("client-id", "p-e")], producer_byte_rate=1000)
    assert not throttled("p-e")
    # removing the user's quota lets the <default>/p-e entity apply
    set_quota([("user", "ANONYMOUS")], producer_byte_rate=None)
    assert throttled("p-e")
    for e in ([("client-id", None)], [("user", "ANONYMOUS"), ("client-id", "p-c")],
              [("user", None), ("client-id", "p-e")]):
        set_quota(e, producer_byte_rate=None)


def test_change_reaches_other_broker_within_a_second():
    assert not throttled("remote-1", broker=1)
    set_quota([("client-id", "remote-2")], producer_byte_rate=1000)
    time.sleep(1.0)
    assert throttled("remote-2", broker=1)


def test_describe_returns_what_was_set():
    set_quota([("user", "alice")], producer_byte_rate=5000, request_percentage=12.5)
    set_quota([("user", "alice"), ("client-id", "app")], consumer_byte_rate=7000)
    set_quota([("client-id", None)], consumer_byte_rate=9000)
    err, got = describe(0, [("user", 0, "alice")])
    assert err == 0, err
    assert got[(("user", "alice"),)] == {"producer_byte_rate": 5000.0,
                                         "request_percentage": 12.5}, got
    assert got[(("user", "alice"), ("client-id", "app"))] == {"consumer_byte_rate": 7000.0}, got
    assert len(got) == 2, got
    err, got = describe(0, [("user", 0, "alice")], strict=True)
    assert list(got) == [(("user", "alice"),)], got
    err, got = describe(1, [("client-id", 1, None)])
    assert got == {(("client-id", None),): {"consumer_byte_rate": 9000.0}}, got
    err, got = describe(0, [("client-id", 2, None)], strict=True)
    assert (("client-id", "remote-2"),) in got and (("client-id", None),) in got, got
    assert describe(0, [("ip", 0, "1.2.3.4")])[0] == INVALID_REQUEST
    # v0 too
    err, got = describe(0, [("user", 0, "alice")], strict=True, v=0)
    assert err == 0 and list(got) == [(("user", "alice"),)], got


def test_invalid_alters_refused_per_entry():
    res = alter(0, [([("client-id", "bad1")], [("no_such_key", 1.0, False)]),
                    ([("client-id", "bad2")], [("producer_byte_rate", -5.0, False)]),
                    ([("ip", "1.2.3.4")], [("producer_byte_rate", 5.0, False)]),
                    ([("client-id", "good")], [("producer_byte_rate", 777.0, False)]),
                    ([("client-id", "bad3"), ("client-id", "x")], [("producer_byte_rate", 1.0, False)]),
                    ([("client-id", "%" * 50)], [("producer_byte_rate", 1.0, False)])])
    assert [e for e, _, _ in res] == [INVALID_REQUEST, INVALID_REQUEST, INVALID_REQUEST, 0,
                                      INVALID_REQUEST, INVALID_REQUEST], res
    assert res[2][2] == [("ip", "1.2.3.4")], res
    err, got = describe(0, [("client-id", 2, None)], strict=True)
    names = {k[0][1] for k in got}
    assert "good" in names and not names & {"bad1", "bad2", "bad3", "%" * 50}, got
    res = alter(0, [([("client-id", "vo")], [("producer_byte_rate", 1.0, False)])],
                validate_only=True, v=0)
    assert res[0][0] == 0, res
    err, got = describe(0, [("client-id", 0, "vo")])
    assert got == {}, got
    assert throttled("still-alive") is False


def test_malformed_quota_requests_close_only_their_connection():
    corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz",
                          "corpus", "fuzz_request")
    for name in ("alter_client_quotas_v0", "alter_client_quotas_v1",
                 "describe_client_quotas_v0", "describe_client_quotas_v1"):
        frame = open(os.path.join(corpus, name), "rb").read()
        for cut in (len(frame), len(frame) - 3, 14, 20):
            c = Conn("127.0.0.1", port(0))
            try:
                c.s.sendall(struct.pack(">i", cut) + frame[:cut])
                try:
                    c.recv_frame()  # an answer (errors per entry) or a closed connection
                except (ConnectionError, OSError):
                    pass
            finally:
                c.close()
    assert not throttled("after-garbage")


def test_ignoring_throttle_gets_muted():
    set_quota([("client-id", "deaf")], producer_byte_rate=10000)
    c = Conn("127.0.0.1", port(0))
    try:
        th = raw_produce(c, "deaf", 30000)  # 30000 B over 2 s, 15000 B/s: 1000 ms
        assert th >= 900, th
        t0 = time.time()
        corr = c.send(18, 0, b"", client_id="deaf")  # ApiVersions right away
        c.recv(18, 0, corr)
        waited = (time.time() - t0) * 1000
        assert waited >= 0.8 * th, "answered after %.0f ms, throttle %d ms" % (waited, th)
    finally:
        c.close()


def test_request_percentage_mutes_busy_client():
    # 0.0001 % of a thread: 1 us per second; any Metadata request uses more
    set_quota([("client-id", "busy")], request_percentage=0.0001)
    c = Conn("127.0.0.1", port(0))
    try:
        corr = c.send(3, 1, W().i32(-1).b, client_id="busy")
        c.recv(3, 1, corr)  # answered (the throttle applies after it)
        c.s.settimeout(0.5)
        corr = c.send(3, 1, W().i32(-1).b, client_id="busy")
        try:
            c.recv(3, 1, corr)
            raise AssertionError("the next request was answered although the client was muted")
        except socket.timeout:
            pass
    finally:
        c.close()
    set_quota([("client-id", "busy")], request_percentage=None)


def test_request_percentage_carried_in_throttle_time_ms():
    """As Kafka, a response's throttle_time_ms is the larger of its byte-rate and request-time
    throttles: a client id over its request_percentage reads a non-zero throttle_time_ms from
    Metadata, ListOffsets, FindCoordinator (flexible) and Produce (each on a connection of its
    own: a connection's first request is answered at once, the mute follows it); one within its
    request_percentage reads 0 from all four."""
    set_quota([("client-id", "reqbusy")], request_percentage=0.0001)
    set_quota([("client-id", "reqcalm")], request_percentage=50)
    calls = [("Metadata", 3, 8, m.metadata_body(8, None)),
             ("ListOffsets", 2, 5, m.list_offsets_body(5, "qt", 0, -1)),
             ("FindCoordinator", 10, 3, W(flex=True).str("reqgroup").i8(0).tags().b)]
    try:
        got = {}
        for client_id in ("reqbusy", "reqcalm"):
            for name, key, v, body in calls:
                c = Conn("127.0.0.1", port(0))
                try:
                    got[client_id, name] = c.recv(key, v, c.send(key, v, body,
                                                                 client_id=client_id)).i32()
                finally:
                    c.close()
            c = Conn("127.0.0.1", port(0))
            try:
                got[client_id, "Produce"] = raw_produce(c, client_id, 100)
            finally:
                c.close()
        print("throttle_time_ms:", got)
        window_ms = 3 * 1000  # quota.window.num=3 windows of 1 s: the longest throttle
        for name in ("Metadata", "ListOffsets", "FindCoordinator", "Produce"):
            assert 0 < got["reqbusy", name] <= window_ms, (name, got)
            assert got["reqcalm", name] == 0, (name, got)
    finally:
        set_quota([("client-id", "reqbusy")], request_percentage=None)
        set_quota([("client-id", "reqcalm")], request_percentage=None)


def test_names_are_encoded_in_znode_paths_as_kafka_does():
    """A user name or client id with characters a znode path cannot hold ('/', '@', a space)
    is written as Kafka's Sanitizer writes it (/config/users/bob%40corp%2Fx/clients/app%201),
    read back decoded, and a change to it reaches the other broker."""
    set_quota([("user", "bob@corp/x"), ("client-id", "app 1")], producer_byte_rate=1000)
    err, got = describe(0, [("user", 0, "bob@corp/x")])
    assert err == 0 and got == {(("user", "bob@corp/x"), ("client-id", "app 1")):
                                {"producer_byte_rate": 1000.0}}, got
    set_quota([("client-id", "c/1")], producer_byte_rate=1000)
    end = time.time() + 3
    while not throttled("c/1", broker=1):
        assert time.time() < end, "broker 1 never applied the quota of client id c/1"
        time.sleep(0.2)
    for path, child in (("/config/users/bob%40corp%2Fx/clients", "app%201"),
                        ("/config/clients", "c%2F1")):
        r = subprocess.run(["/usr/share/zookeeper/bin/zkCli.sh", "-server", CL.zk.connect, "ls",
                            path], capture_output=True, text=True, timeout=60)
        assert child in r.stdout, (path, r.stdout[-800:])
    set_quota([("user", "bob@corp/x"), ("client-id", "app 1")], producer_byte_rate=None)
    set_quota([("client-id", "c/1")], producer_byte_rate=None)


def test_alter_keeps_other_keys_of_the_entity():
    set_quota([("user", "bob")], producer_byte_rate=1000)
    set_quota([("user", "bob")], consumer_byte_rate=2000)
    set_quota([("user", "bob")], request_percentage=50)
    set_quota([("user", "bob")], producer_byte_rate=None)
    err, got = describe(1, [("user", 0, "bob")], strict=True)
    assert got == {(("user", "bob"),): {"consumer_byte_rate": 2000.0,
                                        "request_percentage": 50.0}}, got


def gregor(*args):
    import subprocess
    from cluster import BUILD
    return subprocess.run([os.path.join(BUILD, "bin", "gregor"), "-b", bootstrap()] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_cli_set_list_delete():
    r = gregor("quota", "set", "--user", "carol", "--client-id", "etl",
               "--producer-byte-rate", "4096", "--request-percentage", "25")
    assert r.returncode == 0, r.stderr
    r = gregor("quota", "set", "--default-client", "--consumer-byte-rate", "8192")
    assert r.returncode == 0, r.stderr
    err, got = describe(1, [("user", 0, "carol"), ("client-id", 0, "etl")])
    assert got == {(("user", "carol"), ("client-id", "etl")): {
        "producer_byte_rate": 4096.0, "request_percentage": 25.0}}, got
    r = gregor("quota", "list", "--user", "carol")
    assert r.returncode == 0, r.stderr
    assert "user=carol client-id=etl" in r.stdout and "producer_byte_rate=4096" in r.stdout, r.stdout
    r = gregor("quota", "list")
    assert "client-id=<default>" in r.stdout and "consumer_byte_rate=8192" in r.stdout, r.stdout
    assert "user=carol client-id=etl" in r.stdout, r.stdout
    r = gregor("quota", "delete", "--user", "carol", "--client-id", "etl", "--producer-byte-rate")
    assert r.returncode == 0, r.stderr
    r = gregor("quota", "list", "--user", "carol")
    assert "producer_byte_rate" not in r.stdout and "request_percentage=25" in r.stdout, r.stdout
    r = gregor("quota", "set", "--client-id", "x", "--producer-byte-rate", "-3")
    assert r.returncode == 2, (r.returncode, r.stderr)
    r = gregor("quota", "set", "--producer-byte-rate", "3")
    assert r.returncode == 2 and "entity" in r.stderr, r.stderr
    gregor("quota", "delete", "--default-client")


def test_metrics_count_throttling():
    import urllib.request
    vals = {}  # summed over both brokers (either may lead the topics)
    for h in HTTP:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % h, timeout=5).read().decode()
        for line in text.splitlines():
            if line.startswith("gregor_quota_"):
                k, v = line.rsplit(" ", 1)
                vals[k] = vals.get(k, 0) + int(v)
    for q in ("Produce", "Fetch", "Request"):
        assert vals['gregor_quota_throttled_total{quota="%s"}' % q] > 0, vals
        assert vals['gregor_quota_throttle_time_ms_total{quota="%s"}' % q] > 0, vals


if __name__ == "__main__":
    CL = Cluster(2, overrides=["quota.window.num=3", "num.partitions=1",
                               "offsets.topic.replication.factor=1", "gregor.http.host=127.0.0.1"],
                 per_broker=lambda i: ["gregor.http.port=%d" % HTTP[i]])
    m.CL = CL
    sys.exit(run_suite(CL, globals()))
