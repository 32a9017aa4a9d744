#!/usr/bin/env python3
"""
tests/integration/protocol/test_replication_throttle.py — replication
throttles (leader/follower.replication.throttled.rate and the topic keys
leader/follower.replication.throttled.replicas) on a real 2-broker cluster
with a real ZooKeeper, driven by librdkafka (Debian's python3-confluent-kafka,
so this file runs under /usr/bin/python3).

Both brokers run with both rates at RATE (4 MB/s). Topic `t` has two
partitions, each led by broker 0 and followed by broker 1. In each scenario
broker 1 is stopped, BEHIND_MB are produced (acks=1) to each partition,
broker 1 is started again, and the time until its copy of each partition is
as long as the leader's (segment bytes on disk) is its catch-up time:

- follower throttle, partition 0 listed for broker 1 ("0:1"): partition 0
  catches up at about RATE (within [LOW, HIGH] x BEHIND_MB / RATE), the
  unlisted partition 1 at full speed (under FAST_S); during it a consumer
  reading partition 1 from the leader and an acks=1 producer to partition 1
  move at least 3 x RATE; the follower's /metrics show throttled bytes and
  time;
- leader throttle, partition 0 listed for broker 0 ("0:0"): the same shape;
  the leader's /metrics show it;
- no throttle (both lists ""): both partitions under FAST_S.
The topic configs change live (AlterConfigs), as an operator would during a
reassignment.
"""
import os
import signal
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

RATE = 4 * 1000 * 1000
BEHIND_MB = 40
LOW, HIGH = 0.6, 1.6
FAST_S = 5.0
TOPIC = "t"

http_ports = [cluster.free_port(), cluster.free_port()]
CL = cluster.Cluster(2, overrides=[
    "leader.replication.throttled.rate=%d" % RATE,
    "follower.replication.throttled.rate=%d" % RATE,
    "replica.lag.time.max.ms=10000",
    "log.segment.bytes=16777216",
], per_broker=lambda i: ["gregor.http.port=%d" % http_ports[i]])


def bootstrap():
    return ",".join("127.0.0.1:%d" % b.port for b in CL.brokers if b.proc.poll() is None)


def admin():
    return AdminClient({"bootstrap.servers": bootstrap()})


def set_throttles(leader, follower):
    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, set_config={
        "leader.replication.throttled.replicas": leader,
        "follower.replication.throttled.replicas": follower})
    a = admin()  # kept alive until the answer is in
    for f in a.alter_configs([res]).values():
        f.result(30)
    time.sleep(1.0)  # /config/changes reaches every broker


def metrics(broker_id):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_ports[broker_id],
                                  timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.split()
            out[k] = int(float(v))
    return out


def log_bytes(broker_id, p):
    d = os.path.join(CL.brokers[broker_id].logdir, "%s-%d" % (TOPIC, p))
    try:
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".log"))
    except FileNotFoundError:
        return 0


def produce(partition, mb, acks="1"):
    """Produces mb MB to partition; returns MB/s."""
    p = Producer({"bootstrap.servers": bootstrap(), "acks": acks, "linger.ms": 5,
                  "batch.size": 1000000, "queue.buffering.max.kbytes": 65536})
    value = os.urandom(10000)
    start = time.time()
    for _ in range(mb * 100):
        while True:
            try:
                p.produce(TOPIC, value, partition=partition)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    assert p.flush(60) == 0, "records not delivered"
    return mb / (time.time() - start)


def consume(partition, mb):
    """Reads mb MB of partition from offset 0 (from the leader); returns MB/s."""
    c = Consumer({"bootstrap.servers": bootstrap(), "group.id": "g%f" % time.time(),
                  "enable.auto.commit": False, "fetch.max.bytes": 8388608})
    c.assign([TopicPartition(TOPIC, partition, 0)])
    got, start = 0, time.time()
    while got < mb * 1000 * 1000 and time.time() - start < 60:
        m = c.poll(1.0)
        if m is not None and not m.error():
            got += len(m.value())
    rate = got / 1e6 / (time.time() - start)
    c.close()
    return rate


def catch_up(during=None):
    """Stops broker 1, produces BEHIND_MB to both partitions, restarts it and
    returns each partition's catch-up time (s), and during()'s result."""
    CL.brokers[1].stop(signal.SIGKILL)
    for p in (0, 1):
        produce(p, BEHIND_MB)
    target = [log_bytes(0, p) for p in (0, 1)]
    assert min(target) >= BEHIND_MB * 1e6, target
    start = time.time()
    CL.brokers[1].start()
    done = [None, None]
    result = [None]
    th = threading.Thread(target=lambda: result.__setitem__(0, during())) if during else None
    if th:
        th.start()
    while None in done and time.time() - start < 120:
        for p in (0, 1):
            if done[p] is None and log_bytes(1, p) >= target[p]:
                done[p] = time.time() - start
        time.sleep(0.05)
    if th:
        th.join()
    assert None not in done, "no catch-up in 120 s: %s of %s" % ([log_bytes(1, p) for p in (0, 1)],
                                                                 target)
    print("  catch-up p0 %.2fs p1 %.2fs (%d MB each)" % (done[0], done[1], BEHIND_MB), flush=True)
    return done, result[0]


def setup_topic():
    a = admin()
    end = time.time() + 30
    while True:  # until the broker asked knows both brokers are alive
        try:
            a.create_topics([NewTopic(TOPIC, 2, replica_assignment=[[0, 1], [0, 1]])])[TOPIC].result(30)
            break
        except Exception as e:
            if "unknown broker" not in str(e) or time.time() > end:
                raise
            time.sleep(0.5)
    time.sleep(2)


def expected_throttled():
    return BEHIND_MB * 1e6 / RATE


def clients_during():
    """A consumer of partition 1 and an acks=1 producer to it, meanwhile."""
    time.sleep(1.0)
    return consume(1, BEHIND_MB), produce(1, 10)


def check_throttled(done, clients):
    t = expected_throttled()
    assert LOW * t <= done[0] <= HIGH * t, \
        "throttled partition caught up in %.2fs, expected %.1f-%.1fs" % (done[0], LOW * t, HIGH * t)
    assert done[1] < FAST_S, "unlisted partition took %.2fs" % done[1]
    if clients:
        cons, prod = clients
        print("  meanwhile: consumer %.1f MB/s, acks=1 producer %.1f MB/s" % (cons, prod), flush=True)
        # a client held to the throttle would get at most RATE; twice that shows it is not
        # (10 MB of acks=1 produce last a fraction of a second, so one scheduling hiccup on a
        # loaded 2-core machine can halve the producer's figure: 9.8 MB/s was seen once)
        assert cons > 2 * RATE / 1e6, "consumer slowed to %.1f MB/s" % cons
        assert prod > 2 * RATE / 1e6, "producer slowed to %.1f MB/s" % prod


def test_follower_throttle_holds_listed_partition_at_the_rate():
    setup_topic()
    set_throttles("", "0:1")
    done, clients = catch_up(clients_during)
    check_throttled(done, clients)
    m = metrics(1)
    assert m["gregor_replication_follower_throttled_bytes_total"] >= BEHIND_MB * 1e6, m
    assert m["gregor_replication_follower_throttled_ms_total"] > 1000, m
    assert m["gregor_replication_follower_throttled_rate_limit_bytes"] == RATE
    assert metrics(0)["gregor_replication_leader_throttled_bytes_total"] == 0


def test_leader_throttle_holds_listed_partition_at_the_rate():
    set_throttles("0:0", "")
    done, clients = catch_up(clients_during)
    check_throttled(done, clients)
    m = metrics(0)
    assert m["gregor_replication_leader_throttled_bytes_total"] >= BEHIND_MB * 1e6, m
    assert m["gregor_replication_leader_throttled_ms_total"] > 1000, m
    assert m["gregor_replication_leader_throttle_holds_total"] > 0, m


def test_without_throttled_replicas_both_partitions_catch_up_at_full_speed():
    set_throttles("", "")
    before = metrics(0)["gregor_replication_leader_throttled_bytes_total"]
    done, _ = catch_up()
    assert max(done) < FAST_S, "unthrottled catch-up took %s" % done
    assert metrics(0)["gregor_replication_leader_throttled_bytes_total"] == before
    assert metrics(1)["gregor_replication_follower_throttled_bytes_total"] == 0


def test_bad_throttled_replicas_value_is_refused():
    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, set_config={
        "follower.replication.throttled.replicas": "0-1"})
    a = admin()
    try:
        for f in a.alter_configs([res]).values():
            f.result(30)
    except Exception as e:
        assert "partition:broker" in str(e) or "INVALID" in str(e).upper(), e
    else:
        raise AssertionError("a malformed throttled-replicas value was accepted")


if __name__ == "__main__":
    sys.exit(cluster.run_suite(CL, globals()))
