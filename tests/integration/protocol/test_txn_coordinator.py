#!/usr/bin/env python3
"""
tests/integration/protocol/test_txn_coordinator.py — FindCoordinator for transactional ids
(key_type 1) on three real brokers and a real ZooKeeper, with this suite's own codec (kwire.py).

Checked: Metadata never auto-creates `__transaction_state`; the first key_type 1 lookup creates `__transaction_state` (compacted, 10 partitions
here, replication factor 3, min.insync.replicas = transaction.state.log.min.isr,
transaction.state.log.segment.bytes, uncompressed, no unclean election) and answers
COORDINATOR_NOT_AVAILABLE until it has leaders; then every version (v1-v4, v4 batched) names
the leader of partition abs(javaHashCode(id)) % 10 as Metadata reports it, from every broker;
group lookups still use `__consumer_offsets`; an empty transactional id and an unknown key_type
are INVALID_REQUEST; after the coordinator's broker is SIGKILLed the answer follows the
partition's new leader. And librdkafka (Debian's python3-confluent-kafka): a transactional
producer's init_transactions() finds the coordinator Metadata names and gets its producer id
from it.
"""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import W, Conn  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
from txnwire import coord_partition, find_coordinator, wait  # noqa: E402
import txnwire  # noqa: E402

NONE, COORD_NOT_AVAILABLE, INVALID_REQUEST = 0, 15, 42
PARTS = 10
CL = None


def conn(i):
    return Conn("127.0.0.1", CL.brokers[i].port)


def live(skip=()):
    return txnwire.live(CL, skip)


def metadata(c, topic):
    """Metadata v1 of one topic: (error, {partition: (leader, replicas, isr)})."""
    r = c.call(3, 1, W().array([topic], lambda w, t: w.str(t)).b)
    r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str()))
    r.i32()

    def part(r):
        err, idx, leader = r.i16(), r.i32(), r.i32()
        replicas = r.array(lambda r: r.i32())
        isr = r.array(lambda r: r.i32())
        return idx, (leader, replicas, isr)

    def top(r):
        err, name, _internal = r.i16(), r.str(), r.i8()
        return name, err, dict(r.array(part))
    topics = {n: (e, p) for n, e, p in r.array(top)}
    r.done()
    return topics[topic]


def describe_topic_configs(c, topic, keys):
    w = W().array([(2, topic, keys)], lambda w, r: (w.i8(r[0]), w.str(r[1]),
                                                    w.array(r[2], lambda w, k: w.str(k))))
    r = c.call(32, 0, w.b)
    r.i32()
    out = {}

    def entry(r):
        name, value, _ro, _default, _sens = r.str(), r.str(), r.i8(), r.i8(), r.i8()
        out[name] = value

    def res(r):
        err, _msg, _type, _name = r.i16(), r.str(), r.i8(), r.str()
        assert err == 0, err
        r.array(entry)
    r.array(res)
    r.done()
    return out


def coordinator_ready(tid, skip=()):
    """The node FindCoordinator v1 names for tid on a live broker, or None."""
    c = conn(live(skip)[0])
    try:
        (_, err, node, _), = find_coordinator(c, 1, [tid])
    finally:
        c.close()
    assert err in (NONE, COORD_NOT_AVAILABLE), err
    return node if err == NONE else None


# ---------------------------------------------------------------- tests

def test_first_lookup_creates_the_topic_with_its_configs():
    c = conn(0)
    err, _ = metadata(c, "__transaction_state")  # v1 asks for auto-creation
    assert err == 3, "never auto-created as a plain topic: %d" % err
    (_, err, node, _), = find_coordinator(c, 1, ["txn-a"])
    assert err in (NONE, COORD_NOT_AVAILABLE), err
    wait(lambda: coordinator_ready("txn-a") is not None, 60, "a transaction coordinator")
    err, parts = metadata(c, "__transaction_state")
    assert err == 0 and len(parts) == PARTS, (err, len(parts))
    assert all(len(rep) == 3 for _, rep, _ in parts.values()), parts
    cfg = describe_topic_configs(c, "__transaction_state",
                                 ["cleanup.policy", "min.insync.replicas", "segment.bytes",
                                  "compression.type", "unclean.leader.election.enable"])
    assert cfg == {"cleanup.policy": "compact", "min.insync.replicas": "2",
                   "segment.bytes": "1048576", "compression.type": "uncompressed",
                   "unclean.leader.election.enable": "false"}, cfg
    c.close()


def test_every_version_names_the_partition_leader_from_every_broker():
    ids = ["txn-a", "my-transactional-id", "x", "producer-12345", "zz"]
    assert len(live()) == 3
    for i in live():
        c = conn(i)
        _, parts = metadata(c, "__transaction_state")
        for tid in ids:
            leader = parts[coord_partition(tid, PARTS)][0]
            for v in range(1, 4):
                (_, err, node, port), = find_coordinator(c, v, [tid])
                assert (err, node, port) == (NONE, leader, CL.brokers[leader].port), (i, v, tid, err, node)
        got = find_coordinator(c, 4, ids)
        assert [k for k, _, _, _ in got] == ids, "v4 echoes each key in order"
        for (tid, err, node, _) in got:
            assert (err, node) == (NONE, parts[coord_partition(tid, PARTS)][0]), (tid, err, node)
        c.close()


def test_groups_still_use_the_offsets_topic_and_bad_keys_are_refused():
    c = conn(0)
    wait(lambda: find_coordinator(c, 1, ["g"], key_type=0)[0][1] == NONE, 60, "a group coordinator")
    for v in range(1, 4):
        (_, err, node, _), = find_coordinator(c, v, [""])
        assert (err, node) == (INVALID_REQUEST, -1), (v, err, node)
        (_, err, node, _), = find_coordinator(c, v, ["t"], key_type=2)
        assert (err, node) == (INVALID_REQUEST, -1), (v, err, node)
    got = find_coordinator(c, 4, ["ok-id", "", "other"])
    assert [e for _, e, _, _ in got] == [NONE, INVALID_REQUEST, NONE], got
    (_, err, _, _), = find_coordinator(c, 4, ["g"], key_type=0)
    assert err == NONE
    c.close()


def test_coordinator_follows_a_leader_change():
    tid = "txn-follow"
    wait(lambda: coordinator_ready(tid) is not None, 30, "a coordinator")
    old = coordinator_ready(tid)
    CL.brokers[old].stop(signal.SIGKILL)
    try:
        wait(lambda: coordinator_ready(tid, skip=[old]) not in (None, old), 60, "a new coordinator")
        new = coordinator_ready(tid, skip=[old])
        for i in live():
            c = conn(i)
            _, parts = metadata(c, "__transaction_state")
            assert parts[coord_partition(tid, PARTS)][0] == new, (i, parts[coord_partition(tid, PARTS)], new)
            (_, err, node, port), = find_coordinator(c, 3, [tid])
            assert (err, node, port) == (NONE, new, CL.brokers[new].port)
            c.close()
    finally:
        CL.brokers[old].start()


def txn_events(i):
    """{partition: last event} from broker i's log since it last started: loading, loaded or
    unloaded."""
    last = {}
    for line in open(CL.brokers[i].logfile, errors="replace"):
        if re.search(r"INFO storage loaded \d+ partitions in", line):
            last = {}  # the process (re)started with no tables
        m = re.search(r"\btxn\b.*\b(loading|loaded|unloaded) partition=(\d+)", line)
        if m:
            last[int(m.group(2))] = m.group(1)
    return last


def loads_match_leadership():
    """True when every live broker has loaded exactly the partitions Metadata says it leads."""
    c = conn(live()[0])
    _, parts = metadata(c, "__transaction_state")
    c.close()
    for i in live():
        ev = txn_events(i)
        for p, (leader, _, _) in parts.items():
            if (ev.get(p) == "loaded") != (leader == i):
                return False
    return True


def test_leaders_load_their_partitions_and_drop_them_when_leadership_moves():
    """Every leader of a __transaction_state partition loads it (the txn worker logs it); after
    the SIGKILL above and a preferred leader election with `gregor cluster elect-leaders`, the
    restarted broker loads the partitions it leads again and the interim leaders drop them."""
    wait(lambda: len(live()) == 3 and coordinator_ready("txn-a") is not None, 60, "three brokers")
    wait(loads_match_leadership, 30, "every leader to load its partitions")
    def isr_full():
        c = conn(0)
        _, parts = metadata(c, "__transaction_state")
        c.close()
        return all(len(isr) == 3 for _, _, isr in parts.values())
    wait(isr_full, 60, "every replica back in sync")
    before = {i: txn_events(i) for i in live()}
    boot = "127.0.0.1:%d" % CL.brokers[live()[0]].port
    import subprocess
    r = subprocess.run([os.path.join(os.environ["GREGOR_BUILD_DIR"], "bin", "gregor"), "-b", boot,
                        "cluster", "elect-leaders", "--topic", "__transaction_state"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr

    def preferred_leaders():  # the election's UpdateMetadata may reach broker 0 a moment later
        c = conn(0)
        _, parts = metadata(c, "__transaction_state")
        c.close()
        return parts if all(leader == rep[0] for leader, rep, _ in parts.values()) else None
    parts = wait(preferred_leaders, 30, "the preferred replicas to lead every partition")
    wait(loads_match_leadership, 30, "the loads to follow the election")
    moved = [p for p in parts if before[parts[p][0]].get(p) != "loaded"]
    assert moved, "the election moved no partition: the test proved nothing"
    for p in moved:  # someone else led it before: it dropped it
        wait(lambda: any(txn_events(i).get(p) == "unloaded" for i in live() if i != parts[p][0]),
             30, "partition %d to be unloaded by its interim leader" % p)


def test_librdkafka_init_transactions_gets_a_producer_id():
    from confluent_kafka import Producer
    boot = ",".join("127.0.0.1:%d" % CL.brokers[i].port for i in live())
    p = Producer({"bootstrap.servers": boot, "transactional.id": "txn-rdkafka",
                  "debug": "eos", "log_level": 7, "logger": _Log()})
    p.init_transactions(60)
    for _ in range(10):  # logs reach the logger from poll()
        p.poll(0.1)
    text = "\n".join(_Log.lines)
    named = set(int(n) for n in re.findall(r"FindCoordinator response: Transaction coordinator is broker (\d+)", text))
    c = conn(live()[0])
    _, parts = metadata(c, "__transaction_state")
    c.close()
    assert named == {parts[coord_partition("txn-rdkafka", PARTS)][0]}, (named, text[-3000:])
    assert re.search(r"Idempotent producer state change WaitPID -> Assigned", text), text[-3000:]


class _Log:
    lines = []

    def log(self, level, fmt, *args):
        _Log.lines.append(fmt % args if args else fmt)

    def debug(self, msg, *a): self.log(7, msg, *a)
    def info(self, msg, *a): self.log(6, msg, *a)
    def warning(self, msg, *a): self.log(4, msg, *a)
    def error(self, msg, *a): self.log(3, msg, *a)
    def critical(self, msg, *a): self.log(2, msg, *a)
    def exception(self, msg, *a): self.log(3, msg, *a)


if __name__ == "__main__":
    # 6 s sessions: the SIGKILLed coordinator's partitions move once its session expires
    CL = Cluster(3, overrides=["zookeeper.session.timeout.ms=6000",
                               "transaction.state.log.replication.factor=3",
                               "transaction.state.log.min.isr=2",
                               "transaction.state.log.num.partitions=%d" % PARTS,
                               "transaction.state.log.segment.bytes=1048576",
                               "offsets.topic.replication.factor=3",
                               "offsets.topic.num.partitions=5"])
    sys.exit(run_suite(CL, globals()))
