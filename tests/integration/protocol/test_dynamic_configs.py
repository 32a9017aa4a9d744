#!/usr/bin/env python3
"""
tests/integration/protocol/test_dynamic_configs.py — dynamic broker configs
(docs/configuration.md, "Dynamic broker configs") on three real brokers and
ZooKeeper, with the suite's own codec (kwire.py) and with clients nobody here
wrote (kafka-python's and confluent_kafka's AdminClient, BROKER resources).

Checked: a cluster-wide default and a per-broker override set through one
broker reach every broker within a second, each DescribeConfigs showing the
effective value with its source (2 dynamic broker, 3 dynamic default, 4
static, 5 default) and synonyms, read_only false only for dynamic keys; the
behaviour changes for real: message.max.bytes refuses a record that the
broker with a larger per-broker value accepts, a new topic's segment.bytes
default rolls its segments, max.connections refuses the next client
connection and a DELETE lifts the limit, max.connections.per.ip.overrides
refuses a second connection from the address it names (127.0.0.2) and
not others, until a DELETE; a restarted broker reads its
overrides back from ZooKeeper; a static-only key, an unknown key, a bad
value and an unregistered broker id are refused (INVALID_REQUEST, as
Kafka's ZooKeeper mode answers), validate_only writes nothing, and
AlterConfigs replaces a broker's overrides.
Run by Debian's /usr/bin/python3 (confluent_kafka, kafka-python).
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import Conn, W  # noqa: E402
from cluster import Cluster, free_port, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402

NONE, MESSAGE_TOO_LARGE, INVALID_REQUEST = 0, 10, 42
SRC_BROKER, SRC_DEFAULT_BROKER, SRC_STATIC, SRC_DEFAULT = 2, 3, 4, 5

# a second listener for clients, so max.connections (which does not count the
# inter-broker listener) applies to it
CLIENT = [free_port() for _ in range(3)]


def per_broker(i):
    return ["listeners=PLAINTEXT://127.0.0.1:{port},CLIENT://127.0.0.1:%d" % CLIENT[i],
            "advertised.listeners=PLAINTEXT://127.0.0.1:{port},CLIENT://127.0.0.1:%d" % CLIENT[i],
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CLIENT:PLAINTEXT"]


CL = None


def port(i):
    return CL.brokers[i].port


def call(i, key, v, body):
    c = Conn("127.0.0.1", port(i))
    try:
        return c.call(key, v, body)
    finally:
        c.close()


def describe(i, name, keys=None, v=2, synonyms=True):
    """DescribeConfigs of BROKER resource `name` sent to broker i: (err, {key: entry})."""
    w = W().array([(4, name, keys)], lambda w, r: (w.i8(r[0]), w.str(r[1]),
                                                    w.array(r[2], lambda w, k: w.str(k))
                                                    if r[2] is not None else w.i32(-1)))
    if v >= 1:
        w.i8(1 if synonyms else 0)
    r = call(i, 32, v, w.b)
    r.i32()

    def entry(r):
        e = {"name": r.str(), "value": r.str(), "read_only": r.i8()}
        e["source" if v >= 1 else "is_default"] = r.i8()
        e["sensitive"] = r.i8()
        if v >= 1:
            e["synonyms"] = r.array(lambda r: (r.str(), r.str(), r.i8()))
        return e

    def result(r):
        err, msg, typ, nm = r.i16(), r.str(), r.i8(), r.str()
        return nm, (err, {e["name"]: e for e in r.array(entry)})
    out = dict(r.array(result))
    r.done()
    return out[name]


def alter(i, resources, incremental=True, validate_only=False):
    """resources: [(broker name, [(key, op, value)] or [(key, value)])] -> {name: (err, msg)}."""
    key = 44 if incremental else 33

    def cfn(w, c):
        w.str(c[0])
        if incremental:
            w.i8(c[1])
        w.str(c[-1])
    w = W().array(resources, lambda w, r: (w.i8(4), w.str(r[0]), w.array(r[1], cfn)))
    w.i8(1 if validate_only else 0)
    r = call(i, key, 0, w.b)
    r.i32()
    out = {nm: (err, msg) for err, msg, typ, nm in r.array(lambda r: (r.i16(), r.str(), r.i8(), r.str()))}
    r.done()
    return out


def wait_value(i, key, value, source, timeout=1.0):
    """Polls broker i until its own key shows value with source; returns the entry."""
    end = time.time() + timeout
    while True:
        err, ent = describe(i, str(i), [key])
        e = ent.get(key)
        if err == NONE and e and e["value"] == value and e["source"] == source:
            return e
        if time.time() > end:
            raise AssertionError("broker %d: %s is %r, expected %r source %d" % (i, key, e, value, source))
        time.sleep(0.05)


def create_on(name, broker, configs=None):
    body = m.create_topics_body(4, [(name, -1, -1, configs or {}, [(0, [broker])])])
    res = m.decode_create_topics(call(0, 19, 4, body), 4)
    assert res[name]["err"] == NONE, res
    end = time.time() + 10
    while time.time() < end:
        md = m.decode_metadata(call(broker, 3, 4, m.metadata_body(4, [name], allow=False)), 4)
        t = md["topics"].get(name)
        if t and t["err"] == NONE and t["parts"] and t["parts"][0]["leader"] == broker:
            return
        time.sleep(0.1)
    raise AssertionError("topic %s has no leader on broker %d" % (name, broker))


def produce(broker, topic, size):
    batch = kwire.record_batch([(None, b"x" * size, 0)])
    r = m.decode_produce(call(broker, 0, 7, m.produce_body(7, topic, 0, batch)), 7)
    return r[topic][0]["err"]


# ---------------------------------------------------------------- tests

def test_default_and_per_broker_override_reach_every_broker():
    res = alter(0, [("", [("message.max.bytes", 0, "2000"), ("log.segment.bytes", 0, "65536")]),
                    ("1", [("message.max.bytes", 0, "3000")])])
    assert res == {"": (NONE, None), "1": (NONE, None)}, res
    t0 = time.time()
    for i in range(3):
        if i == 1:
            e = wait_value(1, "message.max.bytes", "3000", SRC_BROKER)
            assert e["synonyms"] == [("message.max.bytes", "3000", SRC_BROKER),
                                     ("message.max.bytes", "2000", SRC_DEFAULT_BROKER),
                                     ("message.max.bytes", "1048588", SRC_DEFAULT)], e
        else:
            e = wait_value(i, "message.max.bytes", "2000", SRC_DEFAULT_BROKER)
            assert e["synonyms"][0] == ("message.max.bytes", "2000", SRC_DEFAULT_BROKER), e
        assert e["read_only"] == 0
        wait_value(i, "log.segment.bytes", "65536", SRC_DEFAULT_BROKER)
    assert time.time() - t0 < 3.0
    err, ent = describe(2, "2", ["broker.id", "num.partitions", "message.max.bytes"])
    assert err == NONE and ent["broker.id"]["read_only"] == 1 and ent["num.partitions"]["read_only"] == 1
    assert ent["num.partitions"]["source"] in (SRC_STATIC, SRC_DEFAULT)
    # the default entity lists its overrides only
    for i in range(3):
        err, ent = describe(i, "")
        assert err == NONE and set(ent) == {"message.max.bytes", "log.segment.bytes"}, ent
        assert ent["message.max.bytes"]["source"] == SRC_DEFAULT_BROKER
    # v0 answers is_default
    err, ent = describe(0, "0", ["message.max.bytes", "num.partitions"], v=0)
    assert ent["message.max.bytes"]["is_default"] == 0 and ent["message.max.bytes"]["value"] == "2000"


def test_message_max_bytes_and_segment_bytes_act_at_once():
    create_on("dyn-b0", 0)
    create_on("dyn-b1", 1)
    assert produce(0, "dyn-b0", 2500) == MESSAGE_TOO_LARGE, "default message.max.bytes=2000"
    assert produce(1, "dyn-b1", 2500) == NONE, "broker 1's message.max.bytes=3000"
    assert produce(1, "dyn-b1", 3500) == MESSAGE_TOO_LARGE
    # the topic's own describe shows the dynamic default as its default
    w = W().array([(2, "dyn-b0", ["segment.bytes", "max.message.bytes"])],
                  lambda w, r: (w.i8(r[0]), w.str(r[1]), w.array(r[2], lambda w, k: w.str(k))))
    w.i8(1)
    rr = call(0, 32, 1, w.b)
    rr.i32()
    res = rr.array(lambda r: (r.i16(), r.str(), r.i8(), r.str(),
                              r.array(lambda r: (r.str(), r.str(), r.i8(), r.i8(), r.i8(),
                                                 r.array(lambda r: (r.str(), r.str(), r.i8()))))))
    ents = {e[0]: e for e in res[0][4]}
    assert ents["segment.bytes"][1] == "65536" and ents["segment.bytes"][3] == SRC_DEFAULT_BROKER, ents
    assert ents["max.message.bytes"][1] == "2000", ents
    # segments roll at the new default: 40 records of ~2 KB > 65536 bytes
    for _ in range(40):
        assert produce(1, "dyn-b1", 1900) == NONE
    d = os.path.join(CL.brokers[1].logdir, "dyn-b1-0")
    logs = [f for f in os.listdir(d) if f.endswith(".log")]
    assert len(logs) >= 2, logs
    # and a change of the default reaches an existing topic without an override
    res = alter(2, [("", [("message.max.bytes", 0, "5000")])])
    assert res[""] == (NONE, None), res
    wait_value(0, "message.max.bytes", "5000", SRC_DEFAULT_BROKER)
    assert produce(0, "dyn-b0", 2500) == NONE


def client_conn_works(i):
    try:
        c = Conn("127.0.0.1", CLIENT[i], timeout=3)
        c.call(18, 0, m.api_versions_body(0))
        return c
    except (ConnectionError, OSError, AssertionError):
        return None


def test_max_connections_refuses_the_next_connection():
    res = alter(0, [("2", [("max.connections", 0, "2")])])
    assert res["2"] == (NONE, None), res
    wait_value(2, "max.connections", "2", SRC_BROKER)
    held = [client_conn_works(2), client_conn_works(2)]
    assert all(held), "two client connections fit"
    assert client_conn_works(2) is None, "the third is refused"
    assert client_conn_works(0) is not None, "other brokers are not limited"
    res = alter(1, [("2", [("max.connections", 1, None)])])
    assert res["2"] == (NONE, None), res
    wait_value(2, "max.connections", "2147483647", SRC_DEFAULT)
    c = client_conn_works(2)
    assert c is not None, "DELETE lifts the limit"
    for h in held + [c]:
        h.close()


def client_conn_from(i, src):
    """A client connection to broker i's CLIENT listener from address src, or None."""
    c = Conn.__new__(Conn)
    try:
        c.s = socket.create_connection(("127.0.0.1", CLIENT[i]), timeout=3, source_address=(src, 0))
        c.corr = 0
        c.call(18, 0, m.api_versions_body(0))
        return c
    except (ConnectionError, OSError, AssertionError):
        return None


def test_max_connections_per_ip_overrides_are_dynamic():
    key = "max.connections.per.ip.overrides"
    res = alter(0, [("2", [(key, 0, "127.0.0.2:1")])])
    assert res["2"] == (NONE, None), res
    wait_value(2, key, "127.0.0.2:1", SRC_BROKER)
    held = client_conn_from(2, "127.0.0.2")
    assert held is not None, "the first connection from 127.0.0.2 fits"
    assert client_conn_from(2, "127.0.0.2") is None, "the second from 127.0.0.2 is refused"
    others = [client_conn_works(2), client_conn_from(0, "127.0.0.2")]
    assert all(others), "127.0.0.1, and other brokers, are not limited"
    res = alter(1, [("2", [(key, 1, None)])])
    assert res["2"] == (NONE, None), res
    end = time.time() + 2
    again = None
    while again is None and time.time() < end:
        again = client_conn_from(2, "127.0.0.2")
        time.sleep(0.05)
    assert again is not None, "DELETE lifts the override"
    for c in [held, again] + others:
        c.close()


def test_refusals_and_validate_only():
    before = [describe(i, str(i))[1] for i in range(3)]
    cases = [("0", "num.partitions", "3", "cannot be updated dynamically"),
             ("0", "broker.id", "7", "cannot be updated dynamically"),
             ("0", "no.such.key", "1", "unknown"),
             ("", "message.max.bytes", "abc", "not an integer"),
             ("1", "log.segment.bytes", "1", "at least"),
             ("1", "leader.replication.throttled.rate", "-1", "at least"),
             ("7", "message.max.bytes", "3000", "not registered"),
             ("x", "message.max.bytes", "3000", "not a broker id")]
    for name, k, val, why in cases:
        for inc in (True, False):
            ops = [(k, 0, val)] if inc else [(k, val)]
            res = alter(0, [(name, ops)], incremental=inc)
            assert res[name][0] == INVALID_REQUEST and why in res[name][1], (name, k, res)
    res = alter(0, [("1", [("message.max.bytes", 0, "3000\x00junk")])])
    assert res["1"][0] == INVALID_REQUEST and "NUL" in res["1"][1], res
    res = alter(0, [("1", [("message.max.bytes", 0, "9999")])], validate_only=True)
    assert res["1"] == (NONE, None), res
    time.sleep(1.0)
    after = [describe(i, str(i))[1] for i in range(3)]
    assert after == before, "refused or validate_only requests changed nothing"


def test_throttle_rates_are_dynamic():
    res = alter(2, [("0", [("leader.replication.throttled.rate", 0, "1000000"),
                           ("follower.replication.throttled.rate", 0, "2000000")])])
    assert res["0"] == (NONE, None), res
    wait_value(0, "leader.replication.throttled.rate", "1000000", SRC_BROKER)
    wait_value(0, "follower.replication.throttled.rate", "2000000", SRC_BROKER)
    # AlterConfigs replaces the broker's overrides
    res = alter(0, [("0", [("follower.replication.throttled.rate", "3000000")])], incremental=False)
    assert res["0"] == (NONE, None), res
    wait_value(0, "follower.replication.throttled.rate", "3000000", SRC_BROKER)
    wait_value(0, "leader.replication.throttled.rate", "9223372036854775807", SRC_DEFAULT)
    res = alter(1, [("", [("log.cleaner.io.max.bytes.per.second", 0, "1048576.0")])])
    assert res[""] == (NONE, None), res
    for i in range(3):
        wait_value(i, "log.cleaner.io.max.bytes.per.second", "1048576.0", SRC_DEFAULT_BROKER)


def test_a_restarted_broker_reads_its_overrides_back():
    b = CL.brokers[1]
    assert b.stop() == 0
    b.start()
    wait_value(1, "message.max.bytes", "3000", SRC_BROKER, timeout=10)
    wait_value(1, "log.segment.bytes", "65536", SRC_DEFAULT_BROKER, timeout=10)
    end = time.time() + 20
    while produce(1, "dyn-b1", 2800) != NONE:
        assert time.time() < end, "broker 1 leads dyn-b1 again and takes 2800 bytes"
        time.sleep(0.2)
    # its own 3000 still wins over the default's 5000
    assert produce(1, "dyn-b1", 3500) == MESSAGE_TOO_LARGE


def test_kafka_python_admin_client():
    from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType
    a = KafkaAdminClient(bootstrap_servers="127.0.0.1:%d" % port(0), request_timeout_ms=10000)
    try:
        res = a.alter_configs([ConfigResource(ConfigResourceType.BROKER, "2",
                                              configs={"log.retention.ms": "3600000"})])
        assert [r[0] for r in res.resources] == [NONE], res
        wait_value(2, "log.retention.ms", "3600000", SRC_BROKER)
        got = a.describe_configs([ConfigResource(ConfigResourceType.BROKER, "2")])
        ent = {e[0]: e for e in got[0].resources[0][4]}
        assert ent["log.retention.ms"][1] == "3600000", ent["log.retention.ms"]
        res = a.alter_configs([ConfigResource(ConfigResourceType.BROKER, "2",
                                              configs={"num.network.threads": "5"})])
        assert [r[0] for r in res.resources] == [INVALID_REQUEST], res
    finally:
        a.close()


def test_confluent_kafka_admin_client():
    from confluent_kafka.admin import AdminClient, ConfigResource
    a = AdminClient({"bootstrap.servers": "127.0.0.1:%d" % port(0)})
    r = ConfigResource("broker", "0", set_config={"log.retention.bytes": "123456789"})
    for f in a.alter_configs([r]).values():
        f.result(10)
    wait_value(0, "log.retention.bytes", "123456789", SRC_BROKER)
    got = a.describe_configs([ConfigResource("broker", "0")])
    for f in got.values():
        cfgs = f.result(10)
        assert cfgs["log.retention.bytes"].value == "123456789"
        assert not cfgs["log.retention.bytes"].is_read_only and cfgs["broker.id"].is_read_only
    bad = a.alter_configs([ConfigResource("broker", "0", set_config={"zookeeper.connect": "x:1"})])
    for f in bad.values():
        try:
            f.result(10)
            raise AssertionError("a static key was accepted")
        except Exception as e:  # KafkaException(INVALID_REQUEST)
            assert "dynamically" in str(e), e


GREGOR = os.path.join(os.environ.get("GREGOR_BUILD_DIR", ""), "bin", "gregor")


def gregor(*args):
    import subprocess
    p = subprocess.run([GREGOR, "-b", "127.0.0.1:%d" % port(0)] + list(args), capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_cli_cluster_config():
    rc, out, err = gregor("cluster", "config", "set", "--default", "log.retention.ms=7200000",
                          "log.cleanup.policy=compact,delete")
    assert rc == 0 and out == "Updated cluster-wide dynamic broker config: 2 change(s)\n", (rc, out, err)
    rc, out, err = gregor("cluster", "config", "describe", "--default")
    assert rc == 0, (rc, out, err)
    assert "log.retention.ms=7200000\tDYNAMIC_DEFAULT_BROKER_CONFIG\tdynamic\n" in out, out
    assert "log.cleanup.policy=compact,delete\tDYNAMIC_DEFAULT_BROKER_CONFIG\tdynamic\n" in out, out
    rc, out, err = gregor("cluster", "config", "set", "--broker", "2", "max.connections.per.ip=500",
                          "--delete", "log.retention.ms")
    assert rc == 0 and out == "Updated dynamic config of broker 2: 2 change(s)\n", (rc, out, err)
    wait_value(2, "max.connections.per.ip", "500", SRC_BROKER)
    rc, out, err = gregor("cluster", "config", "describe", "--broker", "2")
    assert rc == 0, (rc, out, err)
    lines = dict(l.split("=", 1) for l in out.splitlines())
    assert lines["max.connections.per.ip"] == "500\tDYNAMIC_BROKER_CONFIG\tdynamic", lines
    assert lines["log.retention.ms"] == "7200000\tDYNAMIC_DEFAULT_BROKER_CONFIG\tdynamic", lines
    assert lines["broker.id"] == "2\tSTATIC_BROKER_CONFIG\tread-only", lines
    rc, out, err = gregor("cluster", "config", "set", "--broker", "2", "max.connections.per.ip=7",
                          "--validate-only")
    assert rc == 0 and "valid (not updated)" in out, (rc, out, err)
    wait_value(2, "max.connections.per.ip", "500", SRC_BROKER)
    # refusals: one line on stderr naming the problem, exit 1; usage errors exit 2
    for args, why in ((["--broker", "0", "num.partitions=3"], "cannot be updated dynamically"),
                      (["--default", "message.max.bytes=-4"], "at least"),
                      (["--default", "bogus.key=1"], "unknown"),
                      (["--broker", "9", "message.max.bytes=3000"], "not a live broker")):
        rc, out, err = gregor("cluster", "config", "set", *args)
        assert rc == 1 and err.startswith("gregor: ") and why in err and err.count("\n") == 1, (args, rc, err)
    for args in (["--default"], ["--default", "novalue"], ["--broker", "x", "a=1"],
                 ["--broker", "1", "--default", "a=1"]):
        rc, out, err = gregor("cluster", "config", "set", *args)
        assert rc == 2, (args, rc, out, err)
    rc, out, err = gregor("cluster", "config", "set", "--default", "--delete", "log.retention.ms",
                          "--delete", "log.cleanup.policy")
    assert rc == 0, (rc, out, err)
    rc, out, err = gregor("cluster", "config", "describe", "--default")
    assert rc == 0 and "log.retention.ms" not in out and "log.cleanup.policy" not in out, out


def main():
    global CL
    CL = Cluster(n_brokers=3, per_broker=per_broker)
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
