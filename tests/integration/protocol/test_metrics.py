#!/usr/bin/env python3
"""
tests/integration/protocol/test_metrics.py — GET /metrics of three real brokers and ZooKeeper
through failures (docs/metrics.md): a follower dies, so its leader's under-replicated,
under-min-ISR and at-min-ISR gauges and ISR-shrink counter move, and its restart brings them back
(ISR expansions); exactly one broker reports the controller gauges; a partition whose only
replica dies is counted offline, and a leader moved off its preferred replica counts as
imbalance; a reassignment waiting for a broker held with SIGSTOP is counted in progress until
it is resumed; per-API request counts, failures and latency histograms move with real
requests; per-topic bytes and records in/out follow what confluent_kafka produced and consumed;
a leader elected from outside the ISR (unclean.leader.election.enable) is counted. The
Kafka-named series (kafka_*, docs/metrics.md) are checked alongside: they report the same
figures, and the active controller counts sum to 1 over the live brokers.
Run by Debian's /usr/bin/python3 (confluent_kafka).
"""
import os
import re
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, free_port, run_suite  # noqa: E402
from kwire import W, Conn  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HTTP = [free_port() for _ in range(3)]
COMMON = ["zookeeper.session.timeout.ms=6000", "gregor.http.host=127.0.0.1",
          "auto.leader.rebalance.enable=false", "replica.lag.time.max.ms=3000"]
cl = Cluster(n_brokers=3, overrides=COMMON, per_broker=lambda i: ["gregor.http.port=%d" % HTTP[i]])
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$')


def metrics(i):
    """{series: value} of broker i's /metrics (series with labels as written)."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % HTTP[i], timeout=5).read().decode()
    out = {}
    for ln in text.splitlines():
        if ln.startswith("#") or not ln:
            continue
        m = LINE.match(ln)
        assert m, "not Prometheus text: %r" % ln
        out[m.group(1)] = float(m.group(2))
    return out


def sub(m, *prefixes):
    """The series of m under the prefixes (default: replica and controller), for messages."""
    prefixes = prefixes or ("gregor_replica_", "gregor_controller_")
    return {k: v for k, v in m.items() if k.startswith(prefixes)}


def wait_metric(i, name, cond, timeout=60.0):
    end = time.time() + timeout
    v = None
    while time.time() < end:
        v = metrics(i).get(name)
        if v is not None and cond(v):
            return v
        time.sleep(0.2)
    raise AssertionError("broker %d: %s never satisfied the condition; last %r" % (i, name, v))


def alter_body(topic, partition, replicas):
    """AlterPartitionReassignments v0 moving one partition to replicas."""
    w = W(flex=True).i32(30000)
    w.array([topic], lambda w, t: (w.str(t), w.array([partition], lambda w, p: (
        w.i32(p), w.array(replicas, lambda w, b: w.i32(b)), w.tags())), w.tags()))
    return w.tags().b


def alive():
    return [b.id for b in cl.brokers if b.proc.poll() is None]


def bootstrap():
    return ",".join("127.0.0.1:%d" % cl.brokers[i].port for i in alive())


def controller():
    """The id of the one live broker whose gregor_controller_active is 1 (waits for it)."""
    end = time.time() + 60
    act = []
    while time.time() < end:
        act = [i for i in alive() if metrics(i)["gregor_controller_active"] == 1]
        if len(act) == 1:
            return act[0]
        time.sleep(0.2)
    raise AssertionError("active controllers: %r" % act)


def test_setup():
    a = AdminClient({"bootstrap.servers": bootstrap()})
    end = time.time() + 60
    while len(a.list_topics(timeout=10).brokers) < 3:  # every broker registered
        assert time.time() < end, "the brokers never all registered"
        time.sleep(0.2)
    # broker 0 leads w-0, w-1, w-2; broker 1 follows it on w-0 and w-2 and leads nothing;
    # broker 2 leads w-3 (preferred) and alone holds solo-0
    fs = a.create_topics([NewTopic("w", 4, replica_assignment=[[0, 1], [0, 2], [0, 1], [2, 0]],
                                   config={"min.insync.replicas": "2"}),
                          NewTopic("solo", 1, replica_assignment=[[2]])])
    for name, f in fs.items():
        assert f.result(30) is None, name
    for i in range(3):
        wait_metric(i, "gregor_replica_partitions", lambda v: v == [4, 2, 3][i])
    wait_metric(0, "gregor_replica_leaders", lambda v: v == 3)
    wait_metric(2, "gregor_replica_leaders", lambda v: v == 2)
    m = sub(metrics(0))
    assert m["gregor_replica_under_replicated_partitions"] == 0, m
    assert m["gregor_replica_leader_elections_total"] == 3, m
    # w-0, w-1 and w-2 (ISR of 2) sit at min.insync.replicas=2
    assert m["gregor_replica_at_min_isr_partitions"] == 3, m
    assert m["gregor_replica_under_min_isr_partitions"] == 0, m
    assert metrics(1)["gregor_replica_leaders"] == 0


def test_controller_gauges_on_exactly_one_broker():
    c = controller()
    m = sub(metrics(c))
    assert m["gregor_controller_topics"] == 2, m
    assert m["gregor_controller_partitions"] == 5, m
    assert m["gregor_controller_offline_partitions"] == 0, m
    assert m["gregor_controller_preferred_replica_imbalance"] == 0, m
    assert m["gregor_controller_reassigning_partitions"] == 0, m
    assert m["gregor_controller_epoch"] >= 1, m
    assert sum(metrics(i)["kafka_controller_kafkacontroller_activecontrollercount"]
               for i in alive()) == 1
    assert metrics(c)["kafka_controller_kafkacontroller_globalpartitioncount"] == 5
    for i in alive():
        if i != c:
            o = sub(metrics(i))
            assert o["gregor_controller_active"] == 0, o
            assert o["gregor_controller_partitions"] == 0 and o["gregor_controller_epoch"] == 0, o


def test_a_dead_follower_makes_its_partitions_under_replicated_on_the_leader():
    before = metrics(0)
    cl.brokers[1].stop(signal.SIGKILL)
    wait_metric(0, "gregor_replica_under_replicated_partitions", lambda v: v == 2)
    m = sub(metrics(0))
    assert m["gregor_replica_isr_shrinks_total"] >= before["gregor_replica_isr_shrinks_total"] + 2, m
    # w-0 and w-2: ISR {0} < 2; w-1 {0,2} at 2
    assert m["gregor_replica_under_min_isr_partitions"] == 2, m
    assert m["gregor_replica_at_min_isr_partitions"] == 1, m
    k = metrics(0)
    assert k["kafka_server_replicamanager_underreplicatedpartitions"] == 2, k
    assert k["kafka_server_replicamanager_underminisrpartitioncount"] == 2, k
    assert (k["kafka_server_replicamanager_isrshrinks_total"] ==
            k["gregor_replica_isr_shrinks_total"]), k
    assert metrics(2)["gregor_replica_under_replicated_partitions"] == 0
    # stays there: no flapping while the follower is down
    time.sleep(2)
    assert metrics(0)["gregor_replica_under_replicated_partitions"] == 2


def test_the_restarted_follower_brings_it_back_to_zero():
    before = metrics(0)["gregor_replica_isr_expands_total"]
    cl.brokers[1].start()
    wait_metric(0, "gregor_replica_under_replicated_partitions", lambda v: v == 0)
    m = sub(metrics(0))
    assert m["gregor_replica_isr_expands_total"] >= before + 2, m
    assert m["gregor_replica_under_min_isr_partitions"] == 0, m
    assert m["gregor_replica_at_min_isr_partitions"] == 3, m


def test_all_replicas_dead_is_offline_and_a_moved_leader_is_imbalance():
    elections = metrics(0)["gregor_replica_leader_elections_total"]
    cl.brokers[2].stop(signal.SIGKILL)
    c = controller()
    wait_metric(c, "gregor_controller_offline_partitions", lambda v: v == 1)
    assert metrics(c)["kafka_controller_kafkacontroller_offlinepartitionscount"] == 1
    # w-3's leader moved from broker 2 (preferred) to 0
    wait_metric(c, "gregor_controller_preferred_replica_imbalance", lambda v: v == 1)
    assert metrics(0)["gregor_replica_leader_elections_total"] == elections + 1
    assert metrics(c)["gregor_controller_unclean_elections_total"] == 0
    cl.brokers[2].start()
    c = controller()
    wait_metric(c, "gregor_controller_offline_partitions", lambda v: v == 0)
    assert metrics(2)["gregor_replica_offline"] == 0


def reassign(c, topic, partition, replicas):
    conn = Conn("127.0.0.1", cl.brokers[c].port, timeout=30)
    r = conn.call(45, 0, alter_body(topic, partition, replicas))
    conn.close()
    r.i32()
    top = (r.i16(), r.str())
    errs = []
    r.array(lambda r: (r.str(), r.array(lambda r: (errs.append((r.i32(), r.i16(), r.str())),
                                                    r.tags())), r.tags()))
    assert top[0] == 0 and errs == [(partition, 0, None)], (top, errs)


def test_a_reassignment_waiting_for_a_stopped_broker_is_counted_in_progress():
    c = controller()
    s = 1 if c != 1 else 2  # a broker other than the controller, held with SIGSTOP
    partition, target = (1, [0, 2, 1]) if s == 1 else (0, [0, 1, 2])
    os.kill(cl.brokers[s].proc.pid, signal.SIGSTOP)
    try:
        reassign(c, "w", partition, target)
        wait_metric(c, "gregor_controller_reassigning_partitions", lambda v: v == 1, timeout=20)
    finally:
        os.kill(cl.brokers[s].proc.pid, signal.SIGCONT)
    wait_metric(c, "gregor_controller_reassigning_partitions", lambda v: v == 0)
    wait_metric(0, "gregor_replica_under_replicated_partitions", lambda v: v == 0)


def test_request_counts_errors_and_latency_by_api():
    before = metrics(0)
    conn = Conn("127.0.0.1", cl.brokers[0].port)
    for _ in range(5):
        conn.call(3, 1, W().i32(0).b)  # Metadata v1, no topics
    conn.close()
    m = metrics(0)
    key = 'gregor_api_requests_total{api="Metadata"}'
    assert m[key] >= before.get(key, 0) + 5, m[key]
    count = m['gregor_api_request_duration_seconds_count{api="Metadata"}']
    inf = m['gregor_api_request_duration_seconds_bucket{api="Metadata",le="+Inf"}']
    assert count == inf and count >= 5, (count, inf)
    assert m['gregor_api_request_duration_seconds_bucket{api="Metadata",le="0.0005"}'] <= count
    # an unsupported Produce version: refused (connection closed) and counted as an error
    err = 'gregor_api_errors_total{api="Produce"}'
    e0 = m.get(err, 0)
    conn = Conn("127.0.0.1", cl.brokers[0].port)
    conn.send(0, 99, b"")
    try:
        conn.recv_frame()
        raise AssertionError("the broker answered an unsupported Produce version")
    except (ConnectionError, OSError):
        pass
    conn.close()
    assert wait_metric(0, err, lambda v: v == e0 + 1)
    # the inter-broker control RPCs are counted under their own names
    assert metrics(0).get('gregor_api_requests_total{api="LeaderAndIsr"}', 0) > 0


def test_per_topic_bytes_and_messages():
    n = 200
    p = Producer({"bootstrap.servers": bootstrap(), "acks": "all", "linger.ms": 5})
    for k in range(n):
        p.produce("w", b"value-%04d" % k, partition=k % 3)  # partitions broker 0 leads
    assert p.flush(30) == 0
    m = sub(metrics(0), "gregor_topic_", "kafka_server_brokertopicmetrics_")
    assert m['gregor_topic_messages_in_total{topic="w"}'] == n, m
    assert m['kafka_server_brokertopicmetrics_messagesin_total{topic="w"}'] == n, m
    assert (m['kafka_server_brokertopicmetrics_bytesin_total{topic="w"}'] ==
            m['gregor_topic_bytes_in_total{topic="w"}']), m
    assert m['gregor_topic_bytes_in_total{topic="w"}'] > n * 10, m
    assert m['gregor_topic_messages_in_total{topic="solo"}'] == 0, m
    # followers count no Produce bytes (replication is not BytesIn)
    assert metrics(1)['gregor_topic_bytes_in_total{topic="w"}'] == 0
    c = Consumer({"bootstrap.servers": bootstrap(), "group.id": "metrics-test",
                  "enable.auto.commit": False})
    c.assign([TopicPartition("w", q, 0) for q in range(3)])
    got = 0
    end = time.time() + 30
    while got < n and time.time() < end:
        msg = c.poll(1)
        if msg is not None and msg.error() is None:
            got += 1
    c.close()
    assert got == n
    out = metrics(0)['gregor_topic_bytes_out_total{topic="w"}']
    assert out >= n * 10, out
    assert metrics(0)['kafka_server_brokertopicmetrics_bytesout_total{topic="w"}'] >= out



def test_an_unclean_election_is_counted_by_the_controller_that_made_it():
    a = AdminClient({"bootstrap.servers": bootstrap()})
    f = a.create_topics([NewTopic("uc", 1, replica_assignment=[[2, 0]],
                                  config={"unclean.leader.election.enable": "true"})])
    assert f["uc"].result(30) is None
    wait_metric(2, "gregor_replica_under_replicated_partitions", lambda v: v == 0)
    # 0 dies (ISR {2}), then 2 (offline); broker 1, the only one left, is the controller and,
    # when 0 returns, elects it from outside the ISR
    cl.brokers[0].stop(signal.SIGKILL)
    wait_metric(2, "gregor_replica_under_replicated_partitions", lambda v: v >= 1)
    cl.brokers[2].stop(signal.SIGKILL)
    assert controller() == 1
    assert metrics(1)["gregor_controller_unclean_elections_total"] == 0
    cl.brokers[0].start()
    wait_metric(1, "gregor_controller_unclean_elections_total", lambda v: v == 1)
    cl.brokers[2].start()
    wait_metric(1, "gregor_controller_offline_partitions", lambda v: v == 0)
    assert metrics(1)["gregor_controller_unclean_elections_total"] == 1


if __name__ == "__main__":
    sys.exit(run_suite(cl, globals()))
