#!/usr/bin/env python3
"""
tests/integration/protocol/test_restart_metadata.py — what a (re)started
broker answers to Metadata, against a real 3-broker cluster and ZooKeeper,
with the test suite's own codec (kwire.py).

A broker answers client Metadata from the cluster view the controller pushes
(UpdateMetadata). After a restart that view must arrive promptly, and until
it has, the broker must not describe an existing topic as missing or empty:
librdkafka takes "0 partitions" as the partition count shrinking, and a
missing topic with auto-creation allowed would be "created" again.

Each scenario restarts one broker (a follower or the controller; SIGKILL and
an immediate start, before its old ZooKeeper session expired, or SIGTERM and
a start) and polls it with raw Metadata v7 requests (auto-creation allowed,
the worst case) from the moment its port opens (answers may be held until
the broker has the controller's view). Checked, per answer: no existing
topic is answered with an error or with fewer partitions than it has; and
within BOUND_S of the port opening every partition of every topic has a live
leader. A broker whose ZooKeeper session expired (SIGSTOP past the session
timeout, then SIGCONT) re-registers and must be told the cluster again
within BOUND_S of resuming: the same leaders, leader epochs and replicas as
another broker reports, and its own id among the live brokers.
Each scenario prints its measured times (start -> port open -> complete
answer). Last, a librdkafka producer (Debian's python3-confluent-kafka, so
this file runs under /usr/bin/python3) bootstrapped to the controller,
which is SIGKILLed and restarted at once, sends to every partition the
moment the port opens again: it never logs a partition count dropping to 0
and has every record delivered within LIBRDKAFKA_BOUND_S. And a broker no
controller can reach holds Metadata 10 s, then answers topics
LEADER_NOT_AVAILABLE and auto-creates none.
"""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import Conn  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402
import test_create_partitions as cp  # noqa: E402

TOPICS = {"rm-six": 6, "rm-three": 3, "rm-one": 1}
BOUND_S = 3.0        # longest from a restarted broker's port opening to a complete Metadata answer
                     # (typically 0.1-0.5 s; up to 1.6 s seen on a loaded machine; 6 s when no
                     # controller is elected until the restarted controller's session expires)
LIBRDKAFKA_BOUND_S = 5.0  # longest from that port opening to every record of the client delivered
SESSION_MS = 6000    # ZooKeeper session timeout of the brokers (the expiry scenario waits past it)
START_DEADLINE = 60  # generous: the machine may be loaded

CL = None


def metadata_of(port, topics, timeout=2.0):
    """Metadata v7 for topics (auto-creation allowed); raises OSError while the port is closed."""
    c = Conn("127.0.0.1", port, timeout=timeout)
    try:
        return m.decode_metadata(c.call(3, 7, m.metadata_body(7, list(topics), allow=True)), 7)
    finally:
        c.close()


def problems(md):
    """What is wrong with md for TOPICS: (incomplete, errors) lists of strings. incomplete:
    partitions without a live leader (allowed briefly); errors: a topic answered with an error or
    with the wrong partition count (never allowed)."""
    incomplete, errors = [], []
    live = {b[0] for b in md["brokers"]}
    for name, n in TOPICS.items():
        t = md["topics"].get(name)
        if t is None or t["err"] != 0 or len(t["parts"]) != n:
            errors.append("%s err=%s partitions=%s" % (name, t and t["err"],
                                                       t and len(t["parts"])))
            continue
        for p in t["parts"]:
            if p["err"] != 0 or p["leader"] < 0 or p["leader"] not in live:
                incomplete.append("%s-%d err=%d leader=%d" % (name, p["index"], p["err"],
                                                               p["leader"]))
    return incomplete, errors


def controller_id():
    for b in CL.brokers:
        if b.proc and b.proc.poll() is None:
            try:
                cid = metadata_of(b.port, [])["controller"]
                if cid >= 0:
                    return cid
            except OSError:
                pass
    raise AssertionError("no broker names a controller")


def wait_cluster_settled(timeout=60):
    """Every broker answers complete metadata for TOPICS with all three brokers live."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            views = [metadata_of(b.port, TOPICS) for b in CL.brokers]
            if all(len(v["brokers"]) == len(CL.brokers) and problems(v) == ([], []) for v in views):
                return
            last = [problems(v) for v in views]
        except OSError as e:
            last = e
        time.sleep(0.2)
    raise AssertionError("cluster did not settle: %r" % (last,))


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def view(md):
    """The partition states and live brokers of md, for comparing two brokers' answers."""
    parts = {(name, p["index"]): (p["leader"], p["epoch"], tuple(p["replicas"]))
             for name, t in md["topics"].items() for p in t["parts"]}
    return parts, sorted(b[0] for b in md["brokers"])


def poll_until_complete(b, t_start, ref=None):
    """Polls broker b (answers may be held while it waits for the controller) until it answers
    complete metadata for TOPICS (with ref, another broker: the same view as ref's, b among the
    live brokers). Returns (t_port, t_complete) relative to t_start (t_port: the first accepted
    TCP connection) and the list of errors seen in answers."""
    t_port = t_complete = None
    errors = []
    end = time.time() + START_DEADLINE
    while time.time() < end:
        if b.proc.poll() is not None:
            raise AssertionError("broker %d exited:\n%s" % (b.id, open(b.logfile).read()[-3000:]))
        if t_port is None:
            if not port_open(b.port):
                time.sleep(0.01)
                continue
            t_port = time.time() - t_start
        try:
            md = metadata_of(b.port, TOPICS, timeout=START_DEADLINE)
        except (OSError, ConnectionError):
            time.sleep(0.01)
            continue
        now = time.time() - t_start
        incomplete, errs = problems(md)
        errors += ["%.3fs: %s" % (now, e) for e in errs]
        if ref is not None and not incomplete:
            mine, other = view(md), view(metadata_of(ref.port, TOPICS))
            if b.id not in mine[1] or mine != other:
                incomplete.append("differs from broker %d" % ref.id)
        if not incomplete and not errs:
            t_complete = now
            break
        time.sleep(0.01)
    return t_port, t_complete, errors


def restart_and_check(victim, sig, what):
    b = CL.brokers[victim]
    b.proc.send_signal(sig)
    b.proc.wait(30)
    # the broker's own Popen without cluster.py's wait_port(), so polling starts at once
    t_start = time.time()
    b.proc = subprocess.Popen(b.args(), stdout=open(b.logfile, "a"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    t_port, t_complete, errors = poll_until_complete(b, t_start)
    print("  %s: port open %.3fs, complete metadata %s after start" %
          (what, t_port or -1, "%.3fs" % t_complete if t_complete is not None else "never"),
          flush=True)
    assert not errors, "%s: existing topics answered as missing or shrunk:\n%s" % (
        what, "\n".join(errors[:20]))
    assert t_complete is not None, "%s: no complete metadata within %ds" % (what, START_DEADLINE)
    assert t_complete - t_port <= BOUND_S, \
        "%s: complete metadata %.3fs after the port opened (bound %.1fs)" % (
            what, t_complete - t_port, BOUND_S)
    wait_cluster_settled()


def follower():
    cid = controller_id()
    return next(b.id for b in CL.brokers if b.id != cid)


# ---------------------------------------------------------------- tests

def test_follower_sigkill_fast_restart():
    restart_and_check(follower(), signal.SIGKILL, "follower SIGKILL")


def test_follower_sigterm_restart():
    restart_and_check(follower(), signal.SIGTERM, "follower SIGTERM")


def test_controller_sigkill_fast_restart():
    restart_and_check(controller_id(), signal.SIGKILL, "controller SIGKILL")


def test_controller_sigterm_restart():
    restart_and_check(controller_id(), signal.SIGTERM, "controller SIGTERM")


def test_session_expired_reregisters():
    """SIGSTOP a follower past its session; after SIGCONT it re-registers, and the controller
    must tell it the cluster (including itself as live) within BOUND_S of resuming."""
    b = CL.brokers[follower()]
    b.proc.send_signal(signal.SIGSTOP)
    try:
        # wait until another broker no longer lists it (the session expired)
        other = next(x for x in CL.brokers if x.id != b.id)
        end = time.time() + 4 * SESSION_MS / 1000.0 + START_DEADLINE
        while time.time() < end:
            if b.id not in {x[0] for x in metadata_of(other.port, [])["brokers"]}:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("broker %d never expired" % b.id)
    finally:
        b.proc.send_signal(signal.SIGCONT)
    t_start = time.time()
    t_port, t_complete, errors = poll_until_complete(b, t_start, ref=other)
    print("  session expiry: complete metadata %s after SIGCONT" %
          ("%.3fs" % t_complete if t_complete is not None else "never"), flush=True)
    assert not errors, "existing topics answered as missing or shrunk:\n%s" % "\n".join(errors[:20])
    assert t_complete is not None, "no complete metadata within %ds" % START_DEADLINE
    assert t_complete <= BOUND_S, "complete metadata %.3fs after SIGCONT (bound %.1fs)" % (
        t_complete, BOUND_S)
    wait_cluster_settled()


def test_librdkafka_client_starting_on_restarted_controller():
    """A librdkafka producer bootstrapped to the controller alone knows rm-six; the controller is
    SIGKILLed and restarted at once, and the moment its port opens the producer sends to every
    partition of rm-six: it never logs a partition count dropping to 0 (a topic error answered
    with no partitions), and every record is delivered within LIBRDKAFKA_BOUND_S."""
    from confluent_kafka import Producer
    logs = []

    class Log:
        def log(self, level, fmt, *args):
            logs.append(fmt % args if args else fmt)

    b = CL.brokers[controller_id()]
    # a client that knows the topic (6 partitions), then loses and regains the broker
    p = Producer({"bootstrap.servers": "127.0.0.1:%d" % b.port, "debug": "topic,metadata",
                  "acks": "all", "message.timeout.ms": 60000,
                  "topic.metadata.refresh.interval.ms": 100, "reconnect.backoff.ms": 10,
                  "reconnect.backoff.max.ms": 100}, logger=Log())
    p.produce("rm-six", b"first", partition=0)
    assert p.flush(30) == 0
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(30)
    b.proc = subprocess.Popen(b.args(), stdout=open(b.logfile, "a"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    end = time.time() + START_DEADLINE
    while not port_open(b.port):
        assert time.time() < end and b.proc.poll() is None, "broker %d did not start" % b.id
        time.sleep(0.01)
    t_port = time.time()
    failed, delivered = [], [0]

    def on_delivery(err, msg):
        if err:
            failed.append("%s [%d]: %s" % (msg.topic(), msg.partition(), err))
        else:
            delivered[0] += 1

    n_parts = TOPICS["rm-six"]
    sent = 50 * n_parts
    for i in range(sent):
        p.produce("rm-six", b"v%d" % i, partition=i % n_parts, on_delivery=on_delivery)
    assert p.flush(90) == 0, "records left unsent"
    took = time.time() - t_port
    time.sleep(1)  # a few more metadata refreshes
    p.poll(0)
    changes = [line for line in logs if "partition count changed" in line]
    assert changes, "librdkafka's topic log was not captured"  # it logs "from 0 to 6" at least
    drops = [line for line in changes if line.rstrip().endswith(" to 0")]
    assert not drops, "librdkafka saw the partition count drop:\n%s" % "\n".join(drops[:10])
    assert not failed, "deliveries failed: %r" % failed[:10]
    assert delivered[0] == sent, "%d of %d delivered" % (delivered[0], sent)
    assert took <= LIBRDKAFKA_BOUND_S, \
        "records delivered %.3fs after the port opened (bound %.1fs)" % (took, LIBRDKAFKA_BOUND_S)
    print("  librdkafka: %d records delivered %.3fs after the restarted controller's port opened"
          % (sent, took), flush=True)
    wait_cluster_settled()


def test_no_controller_reaches_the_broker():
    """A broker no controller can reach (its advertised inter-broker endpoint is a closed port, so
    even its own controller cannot push to it) never receives UpdateMetadata: it holds Metadata
    MD_WAIT_FIRST_MS (10 s), then answers topics LEADER_NOT_AVAILABLE without auto-creating any;
    DescribeCluster is held as long, then answers controller -1 and no brokers."""
    from cluster import free_port
    cl = Cluster(1, overrides=["advertised.listeners=PLAINTEXT://127.0.0.1:%d" % free_port()])
    try:
        port = cl.brokers[0].port
        c = Conn("127.0.0.1", port, timeout=60)
        # written to ZooKeeper; the wait for the controller's result times out (7)
        res = m.decode_create_topics(c.call(19, 4, m.create_topics_body(4, [("nc-exists", 2, 1, {})],
                                                                        timeout=500)), 4)
        assert res["nc-exists"]["err"] == 7, res
        t0 = time.time()
        md = m.decode_metadata(c.call(3, 7, m.metadata_body(7, ["nc-exists", "nc-absent"],
                                                            allow=True)), 7)
        held = time.time() - t0
        assert held >= 9.0, "answered after %.3fs without the controller's metadata" % held
        for name in ("nc-exists", "nc-absent"):
            t = md["topics"][name]
            assert t["err"] == 5 and t["parts"] == [], (name, t)  # LEADER_NOT_AVAILABLE
        res = m.decode_create_topics(c.call(19, 4, m.create_topics_body(
            4, [("nc-absent", 1, 1, {}), ("nc-exists", 1, 1, {})], validate_only=True)), 4)
        assert res["nc-absent"]["err"] == 0, "nc-absent was auto-created: %r" % res
        assert res["nc-exists"]["err"] == 36, res  # TOPIC_ALREADY_EXISTS: the check reads ZooKeeper
        # DescribeCluster is held the same way, then tells what it knows: nothing
        kwire.FLEX.setdefault(60, 0)
        t0 = time.time()
        r = c.call(60, 0, kwire.W(flex=True).i8(0).tags().b)
        held_dc = time.time() - t0
        r.i32()
        assert r.i16() == 0 and r.str() is None and r.str(), "error, message or cluster id"
        controller, brokers = r.i32(), r.array(lambda r: None)
        assert held_dc >= 9.0, "DescribeCluster answered after %.3fs" % held_dc
        assert controller == -1 and brokers == [], (controller, brokers)
        c.close()
        print("  no controller: Metadata held %.3fs, DescribeCluster %.3fs" % (held, held_dc), flush=True)
    finally:
        cl.brokers[0].stop(signal.SIGKILL)  # controlled shutdown could not reach its controller
        cl.stop()


if __name__ == "__main__":
    CL = Cluster(3, overrides=["zookeeper.session.timeout.ms=%d" % SESSION_MS,
                               "default.replication.factor=3", "min.insync.replicas=1"])
    cp.CL = CL
    end = time.time() + START_DEADLINE
    while len(metadata_of(CL.brokers[0].port, [])["brokers"]) < len(CL.brokers):
        assert time.time() < end, "the brokers did not all register"
        time.sleep(0.1)
    for name, n in TOPICS.items():
        cp.create_topic(name, n, rf=3)
    wait_cluster_settled()
    sys.exit(run_suite(CL, globals()))
