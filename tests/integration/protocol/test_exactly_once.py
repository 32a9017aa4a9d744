#!/usr/bin/python3
"""
tests/integration/protocol/test_exactly_once.py — exactly once end to end on three real brokers
with librdkafka's transactional producer (Debian's python3-confluent-kafka), nothing of
Gregor's own on the client side but the job script.

test_pipeline: a consume-transform-produce job (eos_job.py: read_committed input, each record
written to the output inside a transaction that also commits the consumed offsets) is SIGKILLed
and restarted every few seconds while an idempotent producer feeds the input, and two brokers
are SIGKILLed and restarted on the way (the transaction coordinator's, then another). After a
last clean stop, a read_committed read of the output must hold every input record exactly once,
in the input's order per partition, and nothing else.

test_coordinator_kill: a transaction over six partitions whose coordinator's broker is SIGKILLed
just before commit_transaction() or a few milliseconds after it starts (four rounds): once the
next producer of the same transactional id has initialised (which finishes or aborts what the
dead coordinator left), a read_committed consumer sees all of the transaction's records or none,
and all of them whenever commit_transaction() returned success.
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, run_suite  # noqa: E402
import txnwire  # noqa: E402

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CL = None
PARTS = 3


def bootstrap():
    return ",".join("127.0.0.1:%d" % b.port for b in CL.brokers)


def live():
    return [b for b in CL.brokers if b.proc and b.proc.poll() is None]


def create_topics(names, parts):
    admin = AdminClient({"bootstrap.servers": bootstrap()})
    fs = admin.create_topics([NewTopic(n, parts, 3, config={"min.insync.replicas": "2"})
                              for n in names])
    for f in fs.values():
        f.result(30)
    deadline = time.time() + 30
    while time.time() < deadline:  # every partition has a leader
        md = admin.list_topics(timeout=10)
        if all(n in md.topics and len(md.topics[n].partitions) == parts and
               all(p.leader >= 0 for p in md.topics[n].partitions.values()) for n in names):
            return
        time.sleep(0.2)
    raise AssertionError("topics %s have no leaders" % names)


def coordinator_of(tid):
    """The broker (cluster.Broker) that coordinates transactional id tid, asked of a live one."""
    node, _ = txnwire.coordinator(CL, tid, timeout=30)
    return CL.brokers[node]


def read_all(topic, parts, isolation, idle=3.0):
    """Every record of topic as {partition: [value, ...]} in offset order."""
    c = Consumer({"bootstrap.servers": bootstrap(), "group.id": "eos-reader",
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
    out = {p: [] for p in range(parts)}
    eof = set()
    last = time.time()
    deadline = time.time() + 60
    while time.time() < deadline and (len(eof) < parts or time.time() - last < 0.5):
        m = c.poll(0.2)
        if m is None:
            if time.time() - last > idle:
                break
            continue
        last = time.time()
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
            continue
        eof.discard(m.partition())
        out[m.partition()].append(m.value())
    c.close()
    return out


def restart_later(b, delay):
    def run():
        time.sleep(delay)
        b.start()
    t = threading.Thread(target=run)
    t.start()
    return t


def test_pipeline():
    create_topics(["eos-in", "eos-out"], PARTS)
    tid, group = "eos-pipeline", "eos-pipeline-group"
    stop = threading.Event()
    acked = []

    def feed():
        p = Producer({"bootstrap.servers": bootstrap(), "enable.idempotence": True,
                      "linger.ms": 5})
        i = 0
        while not stop.is_set():
            for _ in range(50):
                v = b"%07d" % i
                p.produce("eos-in", key=v, value=v, partition=i % PARTS,
                          on_delivery=lambda e, m: acked.append(m.value()) if e is None else None)
                i += 1
            p.poll(0)
            time.sleep(0.05)  # about 1,000 records/s
        p.flush(60)

    job_log = open(os.path.join(CL.tmp, "eos-job.log"), "a")

    def start_job():
        return subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "eos_job.py"), bootstrap(),
                                 "eos-in", "eos-out", str(PARTS), tid, group],
                                stdout=job_log, stderr=subprocess.STDOUT)

    feeder = threading.Thread(target=feed)
    feeder.start()
    job = start_job()
    t0 = time.time()
    kills = fenced_restarts = 0
    broker_faults = [(8.0, "coordinator"), (20.0, "other")]
    restarts = []
    rnd = random.Random(13)
    next_kill = t0 + rnd.uniform(3, 6)
    while time.time() - t0 < 32:
        now = time.time()
        if broker_faults and now - t0 >= broker_faults[0][0]:
            _, which = broker_faults.pop(0)
            coord = coordinator_of(tid)
            victim = coord if which == "coordinator" else next(b for b in live() if b is not coord)
            print("SIGKILL broker %d (%s)" % (victim.id, which), flush=True)
            victim.stop(signal.SIGKILL)
            restarts.append(restart_later(victim, 4.0))
        if now >= next_kill:
            job.kill()
            job.wait()
            kills += 1
            job = start_job()
            next_kill = now + rnd.uniform(3, 6)
        if job.poll() is not None:  # a fatal error (fenced): a new instance takes over
            fenced_restarts += 1
            job = start_job()
        time.sleep(0.1)
    stop.set()
    feeder.join()
    for t in restarts:
        t.join()
    n_in = len(acked)
    assert n_in > 5000, "the feeder got only %d records acknowledged" % n_in
    # let the last instance catch up, then stop it between transactions
    deadline = time.time() + 90
    while time.time() < deadline:
        if job.poll() is not None:
            fenced_restarts += 1
            job = start_job()
        done = read_all("eos-out", PARTS, "read_committed", idle=1.0)
        if sum(len(v) for v in done.values()) >= n_in:
            break
        time.sleep(1)
    job.send_signal(signal.SIGTERM)
    job.wait(60)
    job_log.flush()
    inp = read_all("eos-in", PARTS, "read_uncommitted")
    out = read_all("eos-out", PARTS, "read_committed")
    raw = read_all("eos-out", PARTS, "read_uncommitted")
    n_raw = sum(len(v) for v in raw.values())
    print("input %d records (%d acknowledged), output %d committed, %d written in all, job "
          "SIGKILLed %d times, %d exits" % (sum(len(v) for v in inp.values()), n_in,
                                            sum(len(v) for v in out.values()), n_raw, kills,
                                            fenced_restarts), flush=True)
    assert set(acked) <= {v for vs in inp.values() for v in vs}, "acknowledged input lost"
    for p in range(PARTS):
        want = [b"out-" + v for v in inp[p]]
        got = out[p]
        if got != want:
            seen = {}
            for v in got:
                seen[v] = seen.get(v, 0) + 1
            dups = [v for v, n in seen.items() if n > 1]
            missing = [v for v in want if v not in seen]
            raise AssertionError("partition %d: %d records out for %d in; %d duplicated (%s), %d "
                                 "missing (%s)" % (p, len(got), len(want), len(dups), dups[:5],
                                                   len(missing), missing[:5]))
    assert kills >= 4, "the job was killed only %d times" % kills


def test_coordinator_kill():
    create_topics(["eos-atomic"], 6)
    # a negative delay: the coordinator dies just before commit_transaction() is called
    for rnd, delay in enumerate([-1, 0.0, 0.004, 0.03]):
        tid = "eos-kill-%d" % rnd
        p = Producer({"bootstrap.servers": bootstrap(), "transactional.id": tid,
                      "transaction.timeout.ms": 20000})
        p.init_transactions(60)
        p.begin_transaction()
        prefix = b"r%d-" % rnd
        for i in range(600):
            p.produce("eos-atomic", value=prefix + b"%d" % i, partition=i % 6)
        p.flush(30)
        coord = coordinator_of(tid)

        def kill():
            time.sleep(max(delay, 0))
            coord.stop(signal.SIGKILL)
        killer = threading.Thread(target=kill)
        if delay < 0:
            kill()
        else:
            killer.start()
        try:
            p.commit_transaction(60)
            ok = True
        except KafkaException as e:
            print("round %d: commit_transaction failed: %s" % (rnd, e.args[0]), flush=True)
            ok = False
        if delay >= 0:
            killer.join()
        del p
        coord.start()
        # the next producer of the id waits until the dead coordinator's transaction is ended
        p2 = Producer({"bootstrap.servers": bootstrap(), "transactional.id": tid})
        p2.init_transactions(90)
        del p2
        got = read_all("eos-atomic", 6, "read_committed", idle=2.0)
        n = sum(1 for vs in got.values() for v in vs if v.startswith(prefix))
        print("round %d (kill %s): commit %s, %d of 600 visible"
              % (rnd, "before commit" if delay < 0 else "%.0f ms after commit" % (delay * 1000),
                 "returned" if ok else "failed", n), flush=True)
        assert n in (0, 600), "round %d: %d of 600 records of one transaction visible" % (rnd, n)
        if ok:
            assert n == 600, "round %d: commit returned but %d records visible" % (rnd, n)


if __name__ == "__main__":
    CL = Cluster(3, overrides=["zookeeper.session.timeout.ms=4000",
                               "transaction.state.log.replication.factor=3",
                               "transaction.state.log.min.isr=2",
                               "transaction.state.log.num.partitions=4",
                               "offsets.topic.replication.factor=3",
                               "offsets.topic.num.partitions=4"])
    sys.exit(run_suite(CL, globals()))
