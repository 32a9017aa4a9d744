"""
tests/integration/groups/gtest.py — shared helpers of the consumer-group integration tests:
a 3-broker cluster set up for groups (tests/integration/protocol/cluster.py), topic creation
and keyed production through confluent-kafka, member processes (member.py) whose JSON-line
events are collected by a reader thread, committed offsets read back, and check_history(),
which writes a scenario's history in tests/harness/checker.py's format (the Feeders' acks, the
members' events, offsets read back, a final read of the topic) and fails on what the checker
finds: an acknowledged record no member received, a partition owned by two members at once,
a member starting past the last commit after an assignment, commits going backwards.
"""
import atexit
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("GREGOR_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..", "..")))
sys.path.insert(0, os.path.join(HERE, "..", "protocol"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "harness"))
from cluster import Cluster, run_suite  # noqa: E402,F401
import checker  # noqa: E402
import workload  # noqa: E402

from confluent_kafka import Producer, Consumer, TopicPartition, KafkaException  # noqa: E402,F401
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PY = sys.executable
MEMBER = os.path.join(HERE, "member.py")
LIVE = []  # every Member started, killed at exit (a failed test leaves none behind)


@atexit.register
def _kill_members():
    for m in LIVE:
        m.kill()


def group_cluster(n=3, extra=()):
    """n brokers, __consumer_offsets replicated to all of them, no initial rebalance delay,
    session timeouts down to 1 s and a 6 s ZooKeeper session (a SIGKILLed broker is
    noticed after it) so failure scenarios stay short."""
    cl = Cluster(n, overrides=["offsets.topic.replication.factor=%d" % n,
                                 "offsets.topic.num.partitions=10",
                                 "group.initial.rebalance.delay.ms=0",
                                 "group.min.session.timeout.ms=1000",
                                 "default.replication.factor=%d" % n,
                                 "min.insync.replicas=1",
                                 "zookeeper.session.timeout.ms=6000"] + list(extra))
    wait_brokers(cl, n)
    return cl


def wait_brokers(cl, n, timeout=30):
    """Waits until Metadata lists n brokers."""
    a = AdminClient({"bootstrap.servers": bootstrap(cl)})

    def registered():
        try:
            return len(a.list_topics(timeout=2).brokers) == n
        except Exception:
            return False
    wait(registered, timeout, "%d brokers registered" % n, 0.2)


def bootstrap(cl, skip=()):
    return ",".join("127.0.0.1:%d" % b.port for b in cl.brokers if b.id not in skip)


def wait(pred, timeout, what, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def wait_equal(get, want, timeout, what, step=0.3):
    """Waits until get() == want; the failure shows the last value."""
    last = [None]

    def same():
        last[0] = get()
        return last[0] == want
    try:
        wait(same, timeout, what, step)
    except AssertionError as e:
        raise AssertionError("%s: last %s, want %s" % (e, last[0], want))


def admin(cl, skip=()):
    return AdminClient({"bootstrap.servers": bootstrap(cl, skip)})


def create_topic(cl, name, partitions, rf=3):
    a = admin(cl)
    fs = a.create_topics([NewTopic(name, partitions, rf)], operation_timeout=20)
    fs[name].result(30)

    def leaders_known():
        md = a.list_topics(name, timeout=5)
        t = md.topics.get(name)
        return t and t.error is None and len(t.partitions) == partitions and \
            all(p.leader >= 0 for p in t.partitions.values())
    wait(leaders_known, 30, "leaders of " + name)


class Feeder:
    """Produces records "prefix-i" round-robin over the partitions, acks=all; remembers what
    was acknowledged (value -> (partition, offset)) and when (t_ack: value -> monotonic time)."""

    def __init__(self, cl, topic, partitions, prefix):
        self.p = Producer({"bootstrap.servers": bootstrap(cl), "acks": "all",
                           "enable.idempotence": False, "linger.ms": 5,
                           "message.timeout.ms": 60000, "retries": 1000000})
        self.topic, self.parts, self.prefix = topic, partitions, prefix
        self.i = 0
        self.acked = {}
        self.t_ack = {}
        self.failed = []

    def _cb(self, err, msg):
        if err is None:
            self.acked[msg.value().decode()] = (msg.partition(), msg.offset())
            self.t_ack[msg.value().decode()] = time.monotonic()
        else:
            self.failed.append((msg.value().decode(), str(err)))

    def send(self, n):
        for _ in range(n):
            v = "%s-%d" % (self.prefix, self.i)
            self.p.produce(self.topic, value=v.encode(), partition=self.i % self.parts, on_delivery=self._cb)
            self.i += 1
            self.p.poll(0)
        return self

    def flush(self, timeout=60):
        left = self.p.flush(timeout)
        assert left == 0, "%d records not acknowledged" % left
        assert not self.failed, self.failed[:5]
        return self


class Member:
    """A member.py process and the events it reported."""

    def __init__(self, cl, group, topic, name, client="confluent", assignor="range",
                 instance_id=None, session_timeout=6000, heartbeat=500):
        self.name, self.group = name, group
        args = [PY, MEMBER, "--bootstrap", bootstrap(cl), "--group", group, "--topic", topic,
                "--client", client, "--client-id", name, "--assignor", assignor,
                "--session-timeout", str(session_timeout), "--heartbeat", str(heartbeat)]
        if instance_id:
            args += ["--instance-id", instance_id]
        self.errlog = open(os.path.join(cl.tmp, "member-%s.err" % name), "a")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errlog, text=True, start_new_session=True)
        LIVE.append(self)
        self.events = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            ev["who"] = self.name
            with self.lock:
                self.events.append(ev)

    def evs(self, kind=None):
        with self.lock:
            return [e for e in self.events if kind is None or e["ev"] == kind]

    def owned(self):
        """Partitions this member holds now (assign/revoke events folded)."""
        own = set()
        for e in self.evs():
            if e["ev"] == "assign":
                own |= set(e["parts"])
            elif e["ev"] in ("revoke", "lost"):
                own -= set(e["parts"])
        return own

    def n_assigns(self):
        return len(self.evs("assign"))

    def records(self):
        return [tuple(r) for e in self.evs("recs") for r in e["recs"]]

    def committed(self):
        """Highest committed next-offset per partition this member saw answered."""
        out = {}
        for e in self.evs("commit"):
            for p, o in e["offs"]:
                if o >= 0:
                    out[p] = max(out.get(p, -1), o)
        return out

    def stop(self, timeout=30):
        """Clean close (LeaveGroup)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("member %s did not close within %d s; its last events: %s" % (
                    self.name, timeout, [e for e in self.evs() if e["ev"] != "recs"][-4:]))
        self.reader.join(5)

    def signal_stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.reader.join(5)


def stop_all(members, timeout=30):
    """Closes the members at once (each leaves the group) and waits for them all."""
    for m in members:
        m.signal_stop()
    for m in members:
        m.stop(timeout)


def wait_balanced(members, n_parts, timeout, what="a balanced assignment"):
    """Waits until the members own disjoint sets covering every partition, each as even as the
    partition count allows; returns {name: set}."""
    def ok():
        own = {m.name: m.owned() for m in members}
        allp = [p for s in own.values() for p in s]
        sizes = sorted(len(s) for s in own.values())
        if sorted(allp) == list(range(n_parts)) and sizes[-1] - sizes[0] <= 1:
            return own
        return None
    try:
        return wait(ok, timeout, what)
    except AssertionError:
        raise AssertionError("%s; members own %s" % (what, {m.name: sorted(m.owned()) for m in members}))


def member_history(m):
    """A member's events as checker.py records (commits with an offset only)."""
    base = {"consumer": m.name, "group": m.group}
    out = []
    for e in m.evs():
        t, ev = e["t"], e["ev"]
        if ev == "assign":
            out.append(dict(base, type="assign", partitions=e["parts"], t=t))
        elif ev in ("revoke", "lost"):
            out.append(dict(base, type="revoke", partitions=e["parts"], lost=ev == "lost", t=t))
        elif ev == "recs":
            out += [dict(base, type="consume", partition=p, offset=o, value=v, t=t)
                    for p, o, v in e["recs"]]
        elif ev in ("commit", "commit_failed"):
            ok = e.get("offs", []) if ev == "commit" else []
            failed = e.get("failed", []) if ev == "commit" else e.get("offs", [])
            out += [dict(base, type="commit", partition=p, offset=o, status=status, t=t)
                    for offs, status in ((ok, "ok"), (failed, "fail")) for p, o in offs if o >= 0]
        elif ev == "closed":
            out.append(dict(base, type="leave", t=t))
    return out


def check_history(cl, name, topic, n_parts, members, feeders, read_back=(), to_end=True,
                  skip=()):
    """Writes the scenario's history to <cluster tmp>/history-<name>.jsonl in checker.py's
    format and checks it: every feeder's acknowledged records as sends, every member's events,
    the group's committed offsets read back (read_back: OffsetWatch.records()), a final read of
    the topic, and, with to_end (every member group was given the time to read every record
    acknowledged so far), a group_end of each group now. Fails on any must-be-zero finding, an
    incomplete history, or a member resuming at the offset of a commit that failed (the checker
    allows it, as the broker may have stored such a commit; these scenarios expect every stored
    commit to be acknowledged). Returns the checker's Report (for the reported counts)."""
    t_end = time.monotonic()
    recs = [{"type": "meta", "topic": topic, "partitions": n_parts, "producers": len(feeders),
             "consumers": 0, "groups": sorted({m.group for m in members})}]
    for f in feeders:
        recs += [{"type": "send", "producer": f.prefix, "value": v, "partition": p,
                  "status": "ok", "offset": o, "error": None, "t_send": None,
                  "t_ack": f.t_ack.get(v)} for v, (p, o) in f.acked.items()]
    for m in members:
        recs += member_history(m)
    recs += list(read_back)
    if to_end:
        recs += [{"type": "group_end", "group": g, "t": t_end, "complete": True}
                 for g in sorted({m.group for m in members})]
    workload.read_log(bootstrap(cl, skip), topic, n_parts, recs.append)
    path = os.path.join(cl.tmp, "history-%s.jsonl" % name)
    with open(path, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in recs)
    rep = checker.check(recs)
    assert rep.verdict == "pass", "checker on %s:\n%s" % (path, rep.text())
    assert rep.counts["group_resume_failed_commit"] == 0, "checker on %s:\n%s" % (path, rep.text())
    return rep


def offsets_partition(group, n=10):
    """Kafka's placement: Utils.abs(String.hashCode) % offsets.topic.num.partitions, where
    Utils.abs is Math.abs with Integer.MIN_VALUE as 0 (ASCII group ids)."""
    h = 0
    for ch in group:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    if h >= 1 << 31:
        h -= 1 << 32
    return (0 if h == -(1 << 31) else abs(h)) % n


def group_offsets(cl, group, topic, n_parts, skip=()):
    """The group's committed next-offset per partition ({p: offset}, -1001 when none), read by a
    fresh confluent-kafka consumer (OffsetFetch)."""
    c = Consumer({"bootstrap.servers": bootstrap(cl, skip), "group.id": group})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(n_parts)], timeout=20)
    finally:
        c.close()
    return {tp.partition: tp.offset for tp in got}


def log_ends(cl, topic, n_parts, skip=()):
    """The high watermark of every partition ({p: offset}). A producer retry across a leader
    change may write a record twice, so this can exceed the number of acknowledged records."""
    c = Consumer({"bootstrap.servers": bootstrap(cl, skip), "group.id": "gtest-watermarks"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(n_parts)}
    finally:
        c.close()


def consumed_values(members):
    out = []
    for m in members:
        out += [v for _, _, v in m.records()]
    return out
