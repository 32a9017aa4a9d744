#!/usr/bin/env python3
"""
tests/integration/protocol/test_readyz.py — GET /readyz against three real
brokers and ZooKeeper: ready once registered, told the cluster by the
controller and in the ISR of every hosted partition; a broker that restarts
as a replica of an offline partition whose ISR does not hold it stays
503 (naming the partition) until the leader returns and it has caught up;
/healthz stays 200 meanwhile (liveness, not readiness). Two more brokers have
a second listener, EXTERNAL: broker 3 advertises it as nonexistent.invalid and
is not ready, its body naming the listener, the host and why, though it is
registered and listed; broker 4 advertises localhost and is ready; broker 5
advertises a name its own /etc/hosts (a bind mount in a private mount
namespace) learns only later, and becomes ready without a restart.
DescribeCluster asked on broker 3's EXTERNAL listener answers with every
broker's EXTERNAL endpoint (the listener the request came in on). ZooKeeper
frozen (SIGSTOP) past the session timeout: every broker is not ready (session
presumed expired) yet acknowledges acks=all writes; resumed, every broker is
ready again.
Run by Debian's /usr/bin/python3 (confluent_kafka).
"""
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Broker, Cluster, free_port, run_suite  # noqa: E402
from kwire import W, Conn  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HTTP = [free_port() for _ in range(6)]
COMMON = ["zookeeper.session.timeout.ms=6000", "gregor.http.host=127.0.0.1"]
cl = Cluster(n_brokers=3, overrides=COMMON, per_broker=lambda i: ["gregor.http.port=%d" % HTTP[i]])


class TwoListenerBroker(Broker):
    """PLAINTEXT (inter-broker, 127.0.0.1) plus EXTERNAL advertised as ext_host."""

    def __init__(self, broker_id, ext_host):
        self.ext_port = free_port()
        self.ext_host = ext_host
        super().__init__(cl.tmp, cl.zk, broker_id, COMMON + ["gregor.http.port=%d" % HTTP[broker_id]])

    def args(self):
        return super().args() + [
            "--override", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT",
            "--override", "listeners=PLAINTEXT://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d" % (self.port, self.ext_port),
            "--override", "advertised.listeners=PLAINTEXT://127.0.0.1:%d,EXTERNAL://%s:%d" % (
                self.port, self.ext_host, self.ext_port)]


class LateNameBroker(TwoListenerBroker):
    """Advertises EXTERNAL as a name only its own /etc/hosts will know, later: the broker runs
    in a private mount namespace with a copy of /etc/hosts bind-mounted over it."""

    def __init__(self, broker_id):
        self.hosts = os.path.join(cl.tmp, "hosts-%d" % broker_id)
        with open("/etc/hosts") as src, open(self.hosts, "w") as dst:
            dst.write(src.read())
        super().__init__(broker_id, "gregor-late-name-%d.test" % os.getpid())

    def args(self):
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /etc/hosts && exec "$@"', self.hosts] + super().args()

    def learn_name(self):
        with open(self.hosts, "a") as f:  # in place: the bind mount keeps the inode
            f.write("\n127.0.0.1 %s\n" % self.ext_host)


cl.brokers.append(TwoListenerBroker(3, "nonexistent.invalid"))
cl.brokers.append(TwoListenerBroker(4, "localhost"))
# a private mount namespace needs root (CAP_SYS_ADMIN); without it that test is skipped
CAN_UNSHARE = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                             capture_output=True).returncode == 0
if CAN_UNSHARE:
    cl.brokers.append(LateNameBroker(5))


def get(i, path):
    """(status, body) of GET path on broker i's HTTP endpoint."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (HTTP[i], path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except urllib.error.URLError as e:  # not listening yet (HTTP starts after registration)
        return None, str(e)


def wait_status(i, status, timeout=60.0):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = get(i, "/readyz")
        if last[0] == status:
            return last[1]
        time.sleep(0.2)
    raise AssertionError("broker %d: /readyz never answered %d; last %r" % (i, status, last))


def bootstrap():
    return ",".join("127.0.0.1:%d" % b.port for b in cl.brokers if b.proc.poll() is None)


def wait_partition(cond, timeout=60.0):
    """Waits until broker 0's metadata for ready-0 satisfies cond."""
    a = AdminClient({"bootstrap.servers": "127.0.0.1:%d" % cl.brokers[0].port})
    end = time.time() + timeout
    pm = None
    while time.time() < end:
        pm = a.list_topics("ready", timeout=10).topics["ready"].partitions[0]
        if cond(pm):
            return
        time.sleep(0.2)
    raise AssertionError("ready-0 never reached the state: leader %s isr %s" % (pm.leader, pm.isrs))


def produce(n, topic="ready"):
    p = Producer({"bootstrap.servers": bootstrap(), "acks": "all", "message.timeout.ms": 30000})
    errs = []
    for k in range(n):
        p.produce(topic, b"v%d" % k, on_delivery=lambda e, m: e and errs.append(e))
    assert p.flush(40) == 0 and not errs, errs


def test_all_brokers_become_ready():
    for i in range(3):
        body = wait_status(i, 200)
        assert body.startswith("ready\n") and "registered: yes\n" in body, body
        assert "listed by controller: yes\n" in body, body


def test_an_advertised_host_that_does_not_resolve_is_not_ready_and_named():
    body = wait_status(3, 503)
    # registered and told the cluster: the advertised name alone keeps it out
    end = time.time() + 30
    while "listed by controller: yes" not in body and time.time() < end:
        time.sleep(0.2)
        body = get(3, "/readyz")[1]
    assert get(3, "/readyz")[0] == 503, body
    assert "registered: yes\n" in body and "listed by controller: yes\n" in body, body
    assert "advertised hosts resolve: no\n" in body, body
    assert "advertised listener does not resolve: listener EXTERNAL host nonexistent.invalid: " in body, body
    assert get(3, "/healthz") == (200, "ok\n")
    log = open(cl.brokers[3].logfile).read()
    assert "advertised listener host does not resolve listener=EXTERNAL host=nonexistent.invalid" in log
    # the re-check (every 5 s) logs nothing new while nothing changes
    time.sleep(6)
    assert open(cl.brokers[3].logfile).read().count("host=nonexistent.invalid reason") == 1
    body = wait_status(4, 200)
    assert "advertised hosts resolve: yes\n" in body and "does not resolve" not in body, body


def test_a_name_that_resolves_later_makes_the_broker_ready_without_a_restart():
    if not CAN_UNSHARE:
        print("# SKIP no private mount namespace (unshare -m needs root)")
        return
    b = cl.brokers[5]
    body = wait_status(5, 503)
    assert "listener EXTERNAL host %s: " % b.ext_host in body, body
    b.learn_name()
    start = time.time()
    body = wait_status(5, 200, timeout=30)
    assert "advertised hosts resolve: yes\n" in body, body
    assert time.time() - start < 15, "the re-check runs every 5 s"
    assert "every advertised listener host resolves now" in open(b.logfile).read()


def test_describe_cluster_answers_with_the_listener_the_request_came_in_on():
    c = Conn("127.0.0.1", cl.brokers[3].ext_port)
    r = c.call(60, 0, W(flex=True).i8(0).tags().b)
    c.close()
    r.i32(), r.i16(), r.str(), r.str(), r.i32()

    def broker(r):
        b = (r.i32(), r.str(), r.i32(), r.str())
        r.tags()
        return b
    brokers = {b[0]: b[1:3] for b in r.array(broker)}
    # brokers 3 and 4 have an EXTERNAL listener; the others only PLAINTEXT (their first)
    assert brokers[3] == ("nonexistent.invalid", cl.brokers[3].ext_port), brokers
    assert brokers[4] == ("localhost", cl.brokers[4].ext_port), brokers
    assert brokers[0] == ("127.0.0.1", cl.brokers[0].port), brokers


def test_a_replica_out_of_the_isr_is_not_ready_until_it_is_back_in():
    a = AdminClient({"bootstrap.servers": bootstrap()})
    f = a.create_topics([NewTopic("ready", 1, replica_assignment=[[1, 2]])])
    f["ready"].result(30)
    produce(20)
    for i in range(3):
        assert "replicas: %d\n" % (0 if i == 0 else 1) in wait_status(i, 200), i
    # Broker 2 dies: the ISR shrinks to {1}. Then broker 1 dies: the
    # partition goes offline with ISR {1}. Broker 2 restarts out of the ISR
    # (no unclean election): it serves but is not ready.
    cl.brokers[2].stop(signal.SIGKILL)
    wait_partition(lambda pm: pm.isrs == [1])
    cl.brokers[1].stop(signal.SIGKILL)
    wait_partition(lambda pm: pm.leader == -1 and pm.isrs == [1])
    cl.brokers[2].start()
    body = wait_status(2, 503)
    # give the controller time to push metadata; it must stay not ready
    time.sleep(3)
    st, body = get(2, "/readyz")
    assert st == 503 and "out of ISR: ready-0\n" in body and "registered: yes\n" in body, body
    assert get(2, "/healthz") == (200, "ok\n")
    assert get(0, "/readyz")[0] == 200, "broker 0 hosts nothing: still ready"
    # The leader comes back; broker 2 catches up and rejoins the ISR.
    cl.brokers[1].start()
    for i in range(3):
        wait_status(i, 200)
    produce(5)


def test_a_lost_zookeeper_session_is_not_ready_but_still_serves():
    # ZooKeeper frozen (SIGSTOP: no answer, no connection refused) for longer than the
    # session timeout: every broker presumes its session expired and is not ready, yet
    # keeps serving produce and fetch for the partitions it leads (a quorum loss).
    os.killpg(cl.zk.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.time()
        body = wait_status(0, 503, timeout=30)
        assert ("zookeeper session: ZooKeeper session presumed expired: nothing heard from "
                "ZooKeeper for") in body, body
        # not ready once nothing was heard for the session timeout (6 s; the broker's last
        # heartbeat answer came at most a third of it before the stop)
        assert time.time() - t0 >= 6.0 - 2.0 - 0.5, "not ready too early: %s" % body
        for i in (1, 2):
            assert "session presumed expired" in wait_status(i, 503, timeout=15), i
        produce(5)
    finally:
        os.killpg(cl.zk.proc.pid, signal.SIGCONT)
    # ZooKeeper back: each broker registers again if its session expired, and is ready once
    # the controller has sent metadata to its registration.
    for i in range(3):
        body = wait_status(i, 200)
        assert "zookeeper session: ok\n" in body, body
    produce(5)


sys.exit(run_suite(cl, globals()))
