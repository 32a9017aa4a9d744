#!/usr/bin/python3
"""
tests/cluster/run_scenario.py — one replication scenario end to end: start ZooKeeper and N brokers
with deploy/local-cluster.sh on free ports, create a topic with the gregor CLI, run the workload
(tests/harness/workload.py) while a named fault schedule runs, heal, read every partition, stop
the cluster, compare the replicas on disk and run the checker. Exit status is the checker's
(0 pass, 1 anomaly, 2 history cannot be checked); 3 when the cluster or topic could not be set up.

  run_scenario.py [--brokers 3] [--rf 3] [--min-isr 2] [--partitions 4] [--schedule NAME]
                  [--duration 30] [--hold 8] [--producers 2] [--consumers 2] [--rate 100]
                  [--group NAME:MEMBERS]...
                  [--compression none|gzip|...] [--netns] [--ensemble]
                  [--idempotent] [--fault-proxy N] [--secure]
                  [--victim leader|controller]
                  [--dir D] [--keep] [--set KEY=VALUE]... [--consumer-set KEY=VALUE]...

Schedules (each heals what it broke before it returns): none, kill-leader, bounce-sigterm,
kill-controller, pause-leader, kill-two, fast-restart, grow-shrink (not with --netns: a 4th
broker started mid-run, replicas reassigned to it, then away from broker 0); with --netns
(brokers and ZooKeeper in network namespaces, tests/cluster/netns.py) also cut-follower and
isolate-leader (see SCHEDULES); with --ensemble (docs/deploy.md's three hosts: a ZooKeeper
node and a broker per namespace, host names, deploy/multihost/) also multihost
(sched_multihost.py). A schedule's own assertions (c.fail) turn a passing checker into exit 1.
--idempotent runs the producers with enable.idempotence (the checker then counts a value at two
offsets as idempotent_duplicates, which must be 0, and a fatal producer error fails the run).
--fault-proxy N (not with --netns) puts tests/harness/fault_proxy.py in front of every broker's
client listener (the brokers advertise the proxies' ports) and, while the schedule runs, loses one
Produce response in N by closing the connection instead; the schedule kill-leader-drops also
cuts every proxied connection before each leader SIGKILL.
--secure (local clusters only) runs deploy/local-cluster.sh --secure: the clients (workload and
CLI) log in over SASL_SSL with SCRAM-SHA-512 as the admin, the brokers talk mutual TLS to each
other and the authorizer is on.
Binaries: $GREGOR_BROKER and $GREGOR_CLI,
else $GREGOR_BUILD_DIR/bin, else <repo>/build/bin. Files in the state directory (--dir, default a
new /tmp/gregor-scenario-*): history.jsonl, report.txt, server.properties, local-cluster's own
files (broker-I/, broker-I.log, zookeeper/...). Removed after a pass unless --keep.
"""
import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "harness"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "protocol"))
import checker  # noqa: E402
import fault_proxy  # noqa: E402
import kwire  # noqa: E402
import netns  # noqa: E402
import ports  # noqa: E402
import sched_multihost  # noqa: E402
import workload  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

BUILD_BIN = os.path.join(os.environ.get("GREGOR_BUILD_DIR", os.path.join(REPO, "build")), "bin")
BROKER_BIN = os.environ.get("GREGOR_BROKER", os.path.join(BUILD_BIN, "gregor-broker"))
CLI_BIN = os.environ.get("GREGOR_CLI", os.path.join(BUILD_BIN, "gregor"))
CLI_SECURE = []  # --command-config of a secure cluster (--secure)
BROKER_DEFAULTS = {"zookeeper.session.timeout.ms": "6000"}


def log(msg):
    print("scenario: " + msg, file=sys.stderr, flush=True)


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_ports(n):
    """A base port with n consecutive free ports, and a separate free ZooKeeper port, all
    below the ephemeral range (or above it when it starts too low)."""
    first, last = ports.listener_range(n + 1)
    for _ in range(200):
        base = random.randrange(first, last)
        if all(port_free(base + i) for i in range(n + 1)):
            return base, base + n
    raise RuntimeError("no free port range")


class ClusterBase:
    """What the schedules use, whatever runs the brokers: sh(cmd, id) with the commands of
    local-cluster.sh (up, down, kill, stop, restart), signal, alive, metadata, the broker logs,
    and fail() for a schedule's own assertions."""

    def __init__(self, d, brokers, settings):
        self.dir, self.n, self.settings = d, brokers, settings
        self.added = []                 # brokers started mid-run (ids n, n+1, ...)
        self.retired = set()            # brokers decommissioned and stopped: heal leaves them
        self.replica_filter = None      # {partition: broker ids} whose logs the checker reads
        self.session_ms = int(settings.get("zookeeper.session.timeout.ms", 18000))
        self.failures = []              # schedule assertions that did not hold
        self.post_checks = []           # fn(history records) -> [failure text], after the run
        self.proxies = []               # fault_proxy.FaultProxy per broker (--fault-proxy)
        self.w = None
        self.conf = os.path.join(d, "server.properties")
        with open(os.path.join(REPO, "deploy", "config", "server.properties")) as f:
            text = f.read()
        with open(self.conf, "w") as f:
            f.write(text + "\n# run_scenario.py\n")
            f.writelines("%s=%s\n" % kv for kv in settings.items())

    def fail(self, msg):
        self.failures.append(msg)
        log("CHECK FAILED: " + msg)
        if self.w is not None:
            self.w.note("check_failed", error=msg)

    def heal_network(self):
        pass

    def teardown(self):
        pass

    def metadata(self, topic=None):
        return AdminClient(workload.secured({"bootstrap.servers": self.bootstrap})).list_topics(
            topic, timeout=10)

    def broker_ids(self):
        """Every broker the run has started (initial and added), retired ones included."""
        return list(range(self.n)) + self.added

    def add_broker(self, b):
        raise RuntimeError("this cluster cannot add brokers mid-run")

    def leader_of(self, topic, partition=0):
        return self.metadata(topic).topics[topic].partitions[partition].leader

    def broker_metadata(self, b, topic):
        """Metadata v1 asked of broker b itself (not any broker, as librdkafka does):
        {"controller": id, "brokers": [ids], "partitions": {p: (leader, replicas, isr)}}."""
        host, port = self.broker_addr(b)
        conn = kwire.Conn(host, port, timeout=5)
        try:
            r = conn.call(3, 1, kwire.W().array([topic], lambda w, t: w.str(t)).b)
        finally:
            conn.close()
        brokers = r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str())[0])
        controller = r.i32()
        parts = {}
        for _ in range(r.i32()):
            r.i16(), r.str(), r.i8()
            for _ in range(r.i32()):
                r.i16()
                p, leader = r.i32(), r.i32()
                replicas = r.array(lambda r: r.i32())
                isr = r.array(lambda r: r.i32())
                parts[p] = (leader, replicas, isr)
        return {"controller": controller, "brokers": brokers, "partitions": parts}

    def log_lines(self, b, pattern, since_wall):
        """(wall time, match) of broker b's log lines matching pattern, logged at/after
        since_wall (log lines start with an ISO-8601 UTC time)."""
        out = []
        rx = re.compile(pattern)
        try:
            with open(os.path.join(self.dir, "broker-%d.log" % b), errors="replace") as f:
                for line in f:
                    m = rx.search(line)
                    if not m:
                        continue
                    try:
                        ts = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
                    except ValueError:
                        continue
                    wall = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
                    if wall >= since_wall:
                        out.append((wall, m))
        except OSError:
            pass
        return out

    def wait_leaders(self, topic, timeout=60, full_isr=False):
        """Waits until every partition has a leader (and, with full_isr, ISR == replicas)."""
        end = time.monotonic() + timeout
        while True:
            try:
                t = self.metadata(topic).topics.get(topic)
                if t and t.error is None and t.partitions and all(
                        p.leader >= 0 and (not full_isr or sorted(p.isrs) == sorted(p.replicas))
                        for p in t.partitions.values()):
                    return True
            except Exception as e:                  # KafkaException while brokers restart
                log("metadata: %s" % e)
            if time.monotonic() > end:
                return False
            time.sleep(0.5)

    def create_topic(self, topic, partitions, rf, min_isr, timeout=60):
        cmd = [CLI_BIN, "-b", self.bootstrap] + CLI_SECURE + ["topic", "create", topic, "-p", str(partitions),
               "-r", str(rf), "-c", "min.insync.replicas=%d" % min_isr, "--if-not-exists"]
        end = time.monotonic() + timeout
        while True:                                 # brokers may still be registering
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode == 0:
                return
            if time.monotonic() > end:
                raise RuntimeError("topic create failed: " + res.stderr.strip())
            time.sleep(1)


class Cluster(ClusterBase):
    """deploy/local-cluster.sh with this scenario's ports and state directory; `spare` more
    ports for brokers added mid-run (add_broker)."""

    def __init__(self, d, brokers, settings, spare=0):
        super().__init__(d, brokers, settings)
        slots = brokers + spare
        self.base_port, self.zk_port = free_ports(slots)
        internal = self.base_port  # the brokers' inter-broker listeners: a range of their own
        while abs(internal - self.base_port) <= slots:
            internal, _ = free_ports(slots)
        self.env = dict(os.environ, GREGOR_BROKER=BROKER_BIN, GREGOR_CONFIG=self.conf,
                        GREGOR_ZK_PORT=str(self.zk_port), GREGOR_BASE_PORT=str(self.base_port),
                        GREGOR_INTERNAL_BASE_PORT=str(internal))
        self.bootstrap = ",".join("localhost:%d" % (self.base_port + i) for i in range(brokers))

    def use_proxies(self, drop_one_in):
        """Fault proxies in front of every broker's client listener: the brokers advertise the
        proxies' ports, and the clients bootstrap through them."""
        while True:
            pbase, _ = free_ports(self.n)
            if abs(pbase - self.base_port) > self.n and abs(pbase - self.zk_port) > self.n:
                break
        self.env["GREGOR_ADVERTISED_BASE_PORT"] = str(pbase)
        self.proxies = [fault_proxy.FaultProxy(pbase + i, ("127.0.0.1", self.base_port + i),
                                               drop_one_in).start() for i in range(self.n)]
        self.bootstrap = ",".join("localhost:%d" % (pbase + i) for i in range(self.n))

    def teardown(self):
        for p in self.proxies:
            p.stop()

    def describe(self):
        return "bootstrap %s, zookeeper port %d" % (self.bootstrap, self.zk_port)

    def create(self):
        pass

    def secure(self):
        """`local-cluster.sh --secure` (docs/security.md, "Try it"): clients on SASL_SSL with
        SCRAM, TLS with client certificates between brokers, the authorizer on. Every client
        of the run then logs in as the admin (DIR/client.properties)."""
        self.secure_up = True

    def secured_clients(self):
        """After up: the workload's clients and the CLI use DIR/client.properties."""
        path = os.path.join(self.dir, "client.properties")
        with open(path) as f:
            workload.CLIENT_CONF.update(line.strip().split("=", 1) for line in f
                                        if "=" in line and not line.startswith("#"))
        CLI_SECURE[:] = ["--command-config", path]

    def sh(self, *args, check=True):
        cmd = [os.path.join(REPO, "deploy", "local-cluster.sh"), "--brokers", str(self.n),
               "--dir", self.dir]
        if getattr(self, "secure_up", False) and args and args[0] == "up":
            cmd.append("--secure")
        cmd += [str(a) for a in args]
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        for line in (res.stdout + res.stderr).splitlines():
            log("  " + line)
        if check and res.returncode != 0:
            raise RuntimeError("local-cluster.sh %s failed (%d)" % (" ".join(map(str, args)),
                                                                    res.returncode))
        return res.returncode

    def broker_addr(self, b):
        return ("127.0.0.1", self.base_port + b)

    def add_broker(self, b):
        """Starts broker b (>= n, within the spare ports) with local-cluster.sh's `restart`,
        which starts a broker that is not running."""
        self.added.append(b)
        self.sh("restart", b)

    def pid(self, b):
        with open(os.path.join(self.dir, "broker-%d.pid" % b)) as f:
            return int(f.read().strip())

    def signal(self, b, sig):
        os.kill(self.pid(b), sig)

    def alive(self, b):
        try:
            with open("/proc/%d/cmdline" % self.pid(b)) as f:
                return "gregor-broker" in f.read()
        except (OSError, ValueError):
            return False


class NetnsCluster(ClusterBase):
    """tests/cluster/netns.py: ZooKeeper and each broker in a network namespace of its own."""

    def __init__(self, d, brokers, settings):
        super().__init__(d, brokers, settings)
        self.net = netns.NetnsCluster(d, brokers, self.conf, BROKER_BIN)
        self.bootstrap = self.net.bootstrap

    def describe(self):
        return "bootstrap %s, zookeeper %s (network namespaces)" % (self.bootstrap,
                                                                    self.net.zk_connect)

    def create(self):
        self.net.create()

    def sh(self, cmd, b=None, check=True):
        try:
            if cmd == "up":
                self.net.up()
            elif cmd == "down":
                self.net.down()
            elif cmd == "kill":
                self.net.stop_broker(int(b), signal.SIGKILL)
            elif cmd == "stop":
                self.net.stop_broker(int(b), signal.SIGTERM, force=False)
            elif cmd == "restart":
                self.net.stop_broker(int(b), signal.SIGTERM)
                self.net.start_broker(int(b))
            else:
                raise ValueError(cmd)
        except (netns.NetnsError, OSError) as e:
            log("  netns %s %s: %s" % (cmd, "" if b is None else b, e))
            if check:
                raise RuntimeError("netns %s failed: %s" % (cmd, e))
            return 1
        return 0

    def broker_addr(self, b):
        return (self.net.addr(b), netns.BROKER_PORT)

    def signal(self, b, sig):
        self.net.signal(b, sig)

    def alive(self, b):
        return self.net.alive("broker-%d" % b)

    def heal_network(self):
        self.net.heal()

    def teardown(self):
        self.net.teardown()


class EnsembleCluster(NetnsCluster):
    """netns.EnsembleCluster: docs/deploy.md's three hosts (a ZooKeeper node and a broker in
    each namespace, brokers advertising host names). This process resolves the names through
    the topology's hosts file in a mount namespace of its own (netns.use_hosts_file), so the
    workload, the CLI and the checker's reads use the advertised names as any client would."""

    def __init__(self, d, brokers, settings):
        ClusterBase.__init__(self, d, brokers, settings)
        self.net = netns.EnsembleCluster(d, brokers, settings, BROKER_BIN)
        self.bootstrap = self.net.bootstrap
        self.cli = CLI_BIN

    def describe(self):
        return "bootstrap %s, zookeeper %s (network namespaces, one per host)" % (
            self.bootstrap, self.net.zk_connect)

    def create(self):
        self.net.create()
        netns.use_hosts_file(self.net.hosts_path)

    def broker_addr(self, b):
        return (netns.host_name(b), netns.BROKER_PORT)


# ---- fault schedules: fn(cluster, workload, args); each heals before it returns -----------

def sched_none(c, w, a):
    w.note("no_fault")


def _kill_restart(c, w, a, brokers, why):
    for b in brokers:
        w.note("sigkill", broker=b, why=why)
        c.sh("kill", b)
    time.sleep(a.hold)
    for b in brokers:
        c.sh("restart", b)
        w.note("restarted", broker=b)


def sched_kill_leader(c, w, a):
    """--rounds times: SIGKILL whoever leads partition 0 now, hold, restart it,
    and wait until every ISR is full again before the next round."""
    for r in range(a.rounds):
        w.note("round", n=r + 1, of=a.rounds)
        _kill_restart(c, w, a, [c.leader_of(a.topic, 0)], "leader of partition 0")
        if r + 1 < a.rounds and not c.wait_leaders(a.topic, 60, full_isr=True):
            c.fail("round %d: the ISRs did not fill again within 60 s" % (r + 1))
            return


def sched_kill_leader_drops(c, w, a):
    """kill-leader, with every client connection cut (through the fault proxies, when there
    are any) before each SIGKILL and again half-way through the hold."""
    for r in range(a.rounds):
        w.note("round", n=r + 1, of=a.rounds)
        for p in c.proxies:
            p.drop_all()
        w.note("connections_cut")
        lead = c.leader_of(a.topic, 0)
        w.note("sigkill", broker=lead, why="leader of partition 0")
        c.sh("kill", lead)
        time.sleep(a.hold / 2)
        for p in c.proxies:
            p.drop_all()
        w.note("connections_cut")
        time.sleep(a.hold / 2)
        c.sh("restart", lead)
        w.note("restarted", broker=lead)
        if r + 1 < a.rounds and not c.wait_leaders(a.topic, 60, full_isr=True):
            c.fail("round %d: the ISRs did not fill again within 60 s" % (r + 1))
            return


def sched_kill_two(c, w, a):
    lead = c.leader_of(a.topic, 0)
    other = next(b for b in range(c.n) if b != lead)
    _kill_restart(c, w, a, [lead, other], "leader of partition 0 and one more")


def sched_kill_controller(c, w, a):
    ctl = c.metadata().controller_id
    if ctl < 0:
        w.note("no_controller_in_metadata", using=0)
        ctl = 0
    _kill_restart(c, w, a, [ctl], "controller")


def sched_bounce_sigterm(c, w, a):
    for b in range(c.n):
        w.note("sigterm", broker=b)
        c.sh("stop", b)
        time.sleep(a.hold / 2)
        c.sh("restart", b)
        w.note("restarted", broker=b)
        c.wait_leaders(a.topic, 30)


def sched_pause_leader(c, w, a):
    b = c.leader_of(a.topic, 0)
    w.note("sigstop", broker=b)
    c.signal(b, signal.SIGSTOP)
    try:
        time.sleep(a.hold)
    finally:
        c.signal(b, signal.SIGCONT)
        w.note("sigcont", broker=b)


def _fast_restart_one(c, w, a, b, why):
    """SIGKILL broker b and start it again at once, while ZooKeeper still holds its old
    session's registration. The restart must succeed, and b must still be registered (in
    Metadata) and back in every ISR it belongs to after the old session has expired."""
    w.note("sigkill", broker=b, why=why + ", restarted at once")
    c.sh("kill", b)
    t_kill = time.monotonic()
    try:
        c.sh("restart", b)
    except RuntimeError as e:
        c.fail("broker %d did not restart after SIGKILL: %s" % (b, e))
        return
    took = time.monotonic() - t_kill
    w.note("restarted", broker=b, after_s=round(took, 2))
    if took * 1000 >= c.session_ms:
        c.fail("restart took %.1f s, not within the %d ms session timeout: not a fast restart"
               % (took, c.session_ms))
    time.sleep(max(0.0, t_kill + c.session_ms / 1000.0 + 3 - time.monotonic()))
    if not c.alive(b):
        c.fail("broker %d exited after its old ZooKeeper session expired" % b)
        return
    end = time.monotonic() + 30
    while True:
        try:
            md = c.broker_metadata((b + 1) % c.n, a.topic)
            missing = [p for p, (_, reps, isr) in md["partitions"].items()
                       if b in reps and b not in isr]
            if b in md["brokers"] and not missing:
                w.note("rejoined", broker=b, brokers=md["brokers"])
                return
        except (OSError, AssertionError, ConnectionError) as e:
            md, missing = {"brokers": "?(%s)" % e}, "?"
        if time.monotonic() > end:
            c.fail("broker %d not registered / not back in the ISR 30 s after its old session "
                   "expired: brokers %s, partitions without it %s" % (b, md["brokers"], missing))
            return
        time.sleep(0.5)


def sched_fast_restart(c, w, a):
    """Fast restart (SIGKILL, start at once) of a partition leader that is not the controller
    (the live controller sees the broker bounce), then of the controller."""
    md = c.metadata(a.topic)
    ctl = md.controller_id
    leaders = [p.leader for _, p in sorted(md.topics[a.topic].partitions.items())]
    b = next((x for x in leaders if x >= 0 and x != ctl), leaders[0])
    _fast_restart_one(c, w, a, b, "a partition leader, not the controller (%d)" % ctl)
    ctl = c.metadata().controller_id
    if ctl < 0:
        c.fail("no controller in Metadata after the first fast restart")
        return
    _fast_restart_one(c, w, a, ctl, "the controller")


def _isr_of(c, b, topic, p):
    """Partition p's ISR as broker b reports it, or None when b does not answer."""
    try:
        return c.broker_metadata(b, topic)["partitions"][p][2]
    except (OSError, AssertionError, ConnectionError, KeyError) as e:
        log("metadata from broker %d: %s" % (b, e))
        return None


def _acks_between(records, partition, t_from, t_to):
    return sum(1 for r in records if r.get("type") == "send" and r["status"] == "ok"
               and r["partition"] == partition and t_from < r["t_ack"] <= t_to)


def sched_cut_follower(c, w, a):
    """Scenario 5: cut one follower of partition 0 off from its leader (both directions) for
    longer than replica.lag.time.max.ms. The leader's ISR (asked of the leader itself) must drop
    the follower while cut, partition 0 must keep acknowledging writes, and the follower must be
    back in the ISR after the heal."""
    lag_s = int(c.settings.get("replica.lag.time.max.ms", 30000)) / 1000.0
    md = c.metadata(a.topic)
    part = md.topics[a.topic].partitions[0]
    lead, ctl = part.leader, md.controller_id
    followers = [r for r in part.replicas if r != lead]
    # A follower that is not the controller: the leader must reach the controller to shrink.
    foll = next((f for f in followers if f != ctl), followers[0])
    c.net.cut(lead, foll)
    t_cut = w.now()
    w.note("cut", leader=lead, follower=foll, controller=ctl)
    t_shrunk = None
    end = time.monotonic() + lag_s + 20
    while time.monotonic() < end:
        isr = _isr_of(c, lead, a.topic, 0)
        if isr is not None and foll not in isr:
            t_shrunk = w.now()
            w.note("isr_shrunk", isr=isr, after_s=round(t_shrunk - t_cut, 2))
            break
        time.sleep(0.5)
    if t_shrunk is None:
        c.fail("ISR of partition 0 still holds cut follower %d %.0f s after the cut "
               "(replica.lag.time.max.ms %.0f)" % (foll, lag_s + 20, lag_s * 1000))
    time.sleep(max(0.0, max(t_cut + a.hold, (t_shrunk or 0) + 5) - w.now()))
    c.net.heal()
    t_heal = w.now()
    w.note("healed", leader=lead, follower=foll)
    end = time.monotonic() + 60
    while True:
        isr = _isr_of(c, lead, a.topic, 0)
        if isr is not None and foll in isr:
            w.note("isr_expanded", isr=isr, after_s=round(w.now() - t_heal, 2))
            break
        if time.monotonic() > end:
            c.fail("follower %d not back in the ISR of partition 0 60 s after the heal (isr %s)"
                   % (foll, isr))
            break
        time.sleep(0.5)

    def writes_went_on(records):
        if t_shrunk is None:
            return []
        n = _acks_between(records, 0, t_shrunk, t_heal)
        log("partition 0: %d writes acknowledged between the ISR shrink and the heal" % n)
        return [] if n > 0 else ["no write to partition 0 acknowledged between the ISR shrink "
                                 "(%.1f s) and the heal (%.1f s)" % (t_shrunk, t_heal)]
    c.post_checks.append(writes_went_on)


def _w_time(w, wall):
    """Wall-clock time -> the workload's history time."""
    return round(wall - (time.time() - w.now()), 3)


class StaleFetchProbe:
    """Asks the isolated old leader, every 0.2 s from the new leader's election until it follows
    (finish()), for partition pz at an offset far beyond its log end, with Fetch v4 (no leader
    epochs: what librdkafka 2.0.2 sends). A stale leader must answer NOT_LEADER_OR_FOLLOWER (6):
    OFFSET_OUT_OF_RANGE (1) makes such a client reset its position to the log start
    (docs/architecture.md §3, "A broker back from a partition"). Every OFFSET_OUT_OF_RANGE is a
    schedule failure; the answers are counted in the history (event stale_fetch_probe)."""

    def __init__(self, c, broker, topic, partition):
        self.c, self.broker, self.topic, self.partition = c, broker, topic, partition
        self.answers, self.first_oor = {}, None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def fetch_error(self, offset=1 << 40):
        host, port = self.c.broker_addr(self.broker)
        body = (kwire.W().i32(-1).i32(0).i32(1).i32(1 << 20).i8(0)
                .array([self.topic], lambda w, t: w.str(t).array(
                    [self.partition], lambda w, p: w.i32(p).i64(offset).i32(1 << 20))).b)
        conn = kwire.Conn(host, port, timeout=2)
        try:
            r = conn.call(1, 4, body)
        finally:
            conn.close()
        r.i32()                                  # throttle_time_ms
        r.i32()                                  # one topic
        r.str()
        r.i32()                                  # one partition
        r.i32()
        return r.i16()

    def _run(self):
        t0 = time.monotonic()
        while not self.stop.is_set():
            try:
                err = self.fetch_error()
            except Exception as e:               # noqa: BLE001 (unreachable, closed: no answer)
                err = "no answer: %s" % type(e).__name__
            self.answers[err] = self.answers.get(err, 0) + 1
            if err == 1 and self.first_oor is None:
                self.first_oor = round(time.monotonic() - t0, 1)
            self.stop.wait(0.2)

    def finish(self, w):
        self.stop.set()
        self.thread.join(5)
        w.note("stale_fetch_probe", broker=self.broker, partition=self.partition,
               answers={str(k): v for k, v in self.answers.items()})
        if self.answers.get(1):
            self.c.fail("old leader %d answered OFFSET_OUT_OF_RANGE %d times (first %.1f s after "
                        "the election) to a Fetch beyond its log end while its leadership was "
                        "stale: answers %s" % (self.broker, self.answers[1], self.first_oor,
                                               self.answers))
        if not self.answers.get(6):
            self.c.fail("old leader %d never answered NOT_LEADER_OR_FOLLOWER to the stale-fetch "
                        "probe: answers %s" % (self.broker, self.answers))


class HeadConsumer:
    """A librdkafka consumer (auto.offset.reset=earliest, as the workload's) that knows only the
    isolated old leader (bootstrap = its address) and starts on partition pz at the new
    leader's high watermark, past the old leader's log end: it fetches from the stale leader
    first. Its records go to the history as consumer "head" (the checker's rules apply);
    finish() fails the schedule when its first record is below where it started (a reset to
    the log start) or it received nothing. Inconclusive (noted, not failed) when the old
    leader's log reaches that offset (writes it took alone)."""

    def __init__(self, c, w, probe, new_leader, topic, pz):
        from confluent_kafka import Consumer, TopicPartition
        self.c, self.w, self.pz, self.first, self.n = c, w, pz, None, 0
        host, port = c.broker_addr(new_leader)
        marks = workload.watermarks("%s:%d" % (host, port), topic, pz + 1)
        self.start = marks[pz][1]
        err = probe.fetch_error(self.start)
        self.conclusive = err != 0
        w.note("head_consumer", broker=probe.broker, partition=pz, offset=self.start,
               old_leader_fetch_error=err)
        host, port = c.broker_addr(probe.broker)
        conf = workload.plain_consumer_conf("%s:%d" % (host, port))
        self.consumer = Consumer(conf)
        self.consumer.assign([TopicPartition(topic, pz, self.start)])
        self.got_one = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self.stop.is_set():
                for m in self.consumer.consume(100, 0.2):
                    if m.error():
                        continue
                    v = m.value().decode("utf-8", "backslashreplace") if m.value() else None
                    self.w.hist.write({"type": "consume", "consumer": "head",
                                       "partition": m.partition(), "offset": m.offset(),
                                       "value": v, "t": self.w.now()})
                    if self.first is None:
                        self.first = m.offset()
                    self.n += 1
                    self.got_one.set()
        finally:
            self.consumer.close()

    def finish(self, timeout=20):
        self.got_one.wait(timeout)
        self.stop.set()
        self.thread.join(10)
        self.w.note("head_consumer_done", first=self.first, records=self.n, start=self.start)
        if not self.conclusive:
            log("head consumer: the old leader's log reaches offset %d: inconclusive" % self.start)
        elif self.first is None:
            self.c.fail("head consumer of partition %d (from offset %d) received nothing within "
                        "%d s of the old leader following" % (self.pz, self.start, timeout))
        elif self.first < self.start:
            self.c.fail("head consumer of partition %d started at %d and was reset to %d: the "
                        "stale leader sent it back" % (self.pz, self.start, self.first))


def sched_isolate_leader(c, w, a):
    """Scenario 7: isolate the leader of partition 0 from ZooKeeper and every other broker
    (clients still reach it: producers keep sending to it) for longer than the session timeout,
    until another broker has become leader and for 5 s more, then heal. Checked here: a new
    leader is elected (its log), the old leader then becomes a follower at the new epoch or
    later (its log) and truncates what it appended alone (logged when there was anything).
    Checked after the run: every partition-0 write acknowledged after the election is in the
    final log at the offset it was acknowledged at (a write acknowledged by the zombie would be
    truncated away), besides the checker's no-loss and one-value-per-offset rules.
    From the election until the old leader follows, StaleFetchProbe asks it for partition pz
    beyond its log end: never OFFSET_OUT_OF_RANGE; HeadConsumer, a librdkafka consumer that
    knows only the old leader, starts past its log end before the heal and must not be reset
    to the log start. With consumers that refresh metadata often
    (--consumer-set topic.metadata.refresh.interval.ms=1000), some of them follow the new
    leader past the old leader's log end and are sent back to it by its stale Metadata: the
    checker's consumer_backwards (0) covers them.
    With --victim controller: the controller is isolated instead, and the checks are about the
    first partition it leads (partition 0 and a note when it leads none)."""
    md = c.metadata(a.topic)
    parts = md.topics[a.topic].partitions
    pz = 0
    if a.victim == "controller":
        led = sorted(p for p, pm in parts.items() if pm.leader == md.controller_id)
        if led:
            pz = led[0]
        else:
            w.note("controller_leads_nothing", controller=md.controller_id)
    lead = parts[pz].leader
    wall0 = time.time()
    c.net.isolate(lead)
    w.note("isolated", broker=lead, partition=pz, controller=md.controller_id,
           why="leader of partition %d" % pz)
    rx_lead = (r"partition state topic=%s partition=%d role=leader leader=(\d+) epoch=(\d+)"
               % (re.escape(a.topic), pz))
    elected = None
    end = time.monotonic() + c.session_ms / 1000.0 + 30
    while elected is None and time.monotonic() < end:
        for b in range(c.n):
            if b != lead:
                hits = c.log_lines(b, rx_lead, wall0)
                if hits:
                    elected = (hits[0][0], b, int(hits[0][1].group(2)))
                    break
        time.sleep(0.5)
    if elected is None:
        c.fail("no broker became leader of partition %d within %.0f s of isolating broker %d"
               % (pz, c.session_ms / 1000.0 + 30, lead))
    else:
        w.note("new_leader", broker=elected[1], epoch=elected[2], partition=pz,
               t_elected=_w_time(w, elected[0]))
    probe = StaleFetchProbe(c, lead, a.topic, pz) if elected else None
    hold_until = wall0 + a.hold
    if elected:
        hold_until = max(hold_until, elected[0] + 5)
    time.sleep(max(0.0, hold_until - time.time()))
    head = HeadConsumer(c, w, probe, elected[1], a.topic, pz) if elected else None
    time.sleep(2)                               # it fetches from the stale leader meanwhile
    c.net.heal()
    t_heal = w.now()
    w.note("healed", broker=lead)
    if elected is None:
        return
    t_el = _w_time(w, elected[0])
    rx_foll = (r"partition state topic=%s partition=%d role=follower leader=(\d+) epoch=(\d+)"
               % (re.escape(a.topic), pz))
    end = time.monotonic() + 60
    while True:
        hits = [h for h in c.log_lines(lead, rx_foll, wall0) if int(h[1].group(2)) >= elected[2]]
        if hits:
            w.note("old_leader_follows", broker=lead, leader=int(hits[0][1].group(1)),
                   epoch=int(hits[0][1].group(2)), t=_w_time(w, hits[0][0]))
            break
        if time.monotonic() > end:
            c.fail("old leader %d did not become a follower of partition %d at epoch >= %d "
                   "within 60 s of the heal" % (lead, pz, elected[2]))
            probe.finish(w)
            head.finish()
            return
        time.sleep(0.5)
    probe.finish(w)
    head.finish()
    end = time.monotonic() + 60                 # caught up: truncation, if any, is done
    while True:
        isr = _isr_of(c, elected[1], a.topic, pz)
        if isr is not None and lead in isr:
            w.note("old_leader_in_isr", broker=lead, isr=isr)
            break
        if time.monotonic() > end:
            c.fail("old leader %d not back in the ISR of partition %d 60 s after the heal (%s)"
                   % (lead, pz, isr))
            break
        time.sleep(0.5)
    rx_trunc = (r"truncated topic=%s partition=%d from=(\d+) to=(\d+)"
                % (re.escape(a.topic), pz))
    cut_off = [(int(m.group(1)), int(m.group(2))) for _, m in c.log_lines(lead, rx_trunc, wall0)]
    w.note("old_leader_truncated" if cut_off else "old_leader_had_nothing_to_truncate",
           broker=lead, ranges=cut_off)

    def no_zombie_acks(records):
        final = {(r["partition"], r["offset"]): r["value"] for r in records
                 if r.get("type") == "final"}
        bad = [r for r in records if r.get("type") == "send" and r["status"] == "ok"
               and r["partition"] == pz and r["t_ack"] > t_el
               and final.get((pz, r["offset"])) != r["value"]]
        log("partition %d: %d writes acknowledged between the election (%.1f s) and the heal "
            "(%.1f s)" % (pz, _acks_between(records, pz, t_el, t_heal), t_el, t_heal))
        return ["%d partition-%d writes acknowledged after the new leader's election are not "
                "at their acknowledged offset in the final log, e.g. %s" % (len(bad), pz, bad[:3])
                ] if bad else []
    c.post_checks.append(no_zombie_acks)


def _gregor(c, *args, timeout=60):
    """Runs the gregor CLI against the cluster; logs its output; returns the CompletedProcess
    (returncode 124 when it did not finish within timeout)."""
    cmd = [CLI_BIN, "-b", c.bootstrap] + CLI_SECURE + [str(x) for x in args]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        res = subprocess.CompletedProcess(cmd, 124, "", "timed out after %d s" % timeout)
    log("gregor %s -> %d" % (" ".join(cmd[3:]), res.returncode))
    for line in (res.stdout.strip() + "\n" + res.stderr.strip()).strip().splitlines()[:40]:
        log("  " + line)
    return res


def _assignment(c):
    """{topic: {partition: (replicas, isr)}} of every topic, internal ones included."""
    md = c.metadata()
    return {t: {p: (list(pm.replicas), list(pm.isrs)) for p, pm in tm.partitions.items()}
            for t, tm in md.topics.items() if tm.error is None}


def _reassign(c, w, what, plan_args, timeout=120):
    """Plans (--plan PLAN_ARGS --output FILE), executes (--execute --file) and waits for the
    reassignment: `--status --file` until it exits 0 and the metadata shows every planned
    replica list in place with a full ISR. Returns the plan's partitions or None (c.fail)."""
    path = os.path.join(c.dir, "reassign-%s.json" % what)
    res = _gregor(c, "cluster", "reassign", "--plan", *plan_args, "--output", path)
    if res.returncode != 0:
        c.fail("%s: reassign --plan exited %d: %s" % (what, res.returncode, res.stderr.strip()))
        return None
    with open(path) as f:
        plan = json.load(f)
    if plan.get("version") != 1 or not isinstance(plan.get("partitions"), list):
        c.fail("%s: the plan is not Kafka's reassignment JSON: %r" % (what, plan))
        return None
    w.note("reassign_planned", step=what, partitions=len(plan["partitions"]))
    if not plan["partitions"]:
        return plan["partitions"]
    res = _gregor(c, "cluster", "reassign", "--execute", "--file", path)
    if res.returncode != 0:
        c.fail("%s: reassign --execute exited %d: %s" % (what, res.returncode,
                                                         res.stderr.strip()))
        return None
    w.note("reassign_executed", step=what)
    end = time.monotonic() + timeout
    while True:
        status_ok = _gregor(c, "cluster", "reassign", "--status", "--file", path,
                            timeout=30).returncode == 0
        try:
            now = _assignment(c)
            pending = [(e["topic"], e["partition"]) for e in plan["partitions"]
                       if now.get(e["topic"], {}).get(e["partition"], ([], []))[0]
                       != e["replicas"]
                       or sorted(now[e["topic"]][e["partition"]][1]) != sorted(e["replicas"])]
        except Exception as e:                      # KafkaException while leaders move
            pending = ["metadata: %s" % e]
        if status_ok and not pending:
            w.note("reassign_complete", step=what)
            return plan["partitions"]
        if time.monotonic() > end:
            c.fail("%s: reassignment not complete after %d s (status exit 0: %s; pending %s)"
                   % (what, timeout, status_ok, pending[:5]))
            return None
        time.sleep(1)


def _replicas_per_broker(assignment, topics=None):
    counts = {}
    for t, parts in assignment.items():
        if topics is None or t in topics:
            for reps, _ in parts.values():
                for b in reps:
                    counts[b] = counts.get(b, 0) + 1
    return counts


def sched_grow_shrink(c, w, a):
    """Under the workload: start broker n (a new, empty broker), plan and execute
    `reassign --plan --add-broker n`, and check it holds a fair share (every live broker within
    one of the mean, for the scenario topic and over all topics); then plan and execute
    `--remove-broker V` (V: broker 0, or 1 when 0 is the controller), check V holds no
    replica of any topic, and stop it. The checker then reads only the final replicas."""
    new = c.n
    w.note("add_broker", broker=new)
    c.add_broker(new)
    end = time.monotonic() + 30
    while new not in c.broker_metadata(1, a.topic)["brokers"]:
        if time.monotonic() > end:
            c.fail("broker %d not in Metadata 30 s after it started" % new)
            return
        time.sleep(0.5)
    if _reassign(c, w, "grow", ["--add-broker", new]) is None:
        return
    live = list(range(c.n + 1))
    assignment = _assignment(c)
    for scope, topics in (("topic " + a.topic, [a.topic]), ("all topics", None)):
        counts = _replicas_per_broker(assignment, topics)
        per = [counts.get(b, 0) for b in live]
        w.note("replicas_per_broker", scope=scope, counts=per)
        if counts.get(new, 0) == 0 or max(per) - min(per) > 1:
            c.fail("after adding broker %d, %s: replicas per broker %s are not a fair share "
                   "(each within one of the mean)" % (new, scope, dict(zip(live, per))))
    ctl = c.broker_metadata(1, a.topic)["controller"]
    victim = 0 if ctl != 0 else 1
    w.note("decommission", broker=victim, controller=ctl)
    if _reassign(c, w, "shrink", ["--remove-broker", victim]) is None:
        return
    assignment = _assignment(c)
    left = {t: sorted(p for p, (reps, _) in parts.items() if victim in reps)
            for t, parts in assignment.items()}
    left = {t: ps for t, ps in left.items() if ps}
    if left:
        c.fail("broker %d still holds replicas after --remove-broker: %s" % (victim, left))
        return
    w.note("stop_broker", broker=victim)
    c.retired.add(victim)
    c.sh("stop", victim)
    c.replica_filter = {p: set(reps) for p, (reps, _) in assignment[a.topic].items()}


SCHEDULES = {"none": sched_none, "kill-leader": sched_kill_leader,
             "kill-leader-drops": sched_kill_leader_drops,
             "bounce-sigterm": sched_bounce_sigterm, "kill-controller": sched_kill_controller,
             "pause-leader": sched_pause_leader, "kill-two": sched_kill_two,
             "fast-restart": sched_fast_restart, "cut-follower": sched_cut_follower,
             "isolate-leader": sched_isolate_leader, "grow-shrink": sched_grow_shrink,
             "multihost": sched_multihost.sched_multihost}
NETNS_ONLY = ("cut-follower", "isolate-leader")
ENSEMBLE_ONLY = ("multihost",)
LOCAL_ONLY = ("grow-shrink",)                  # adds a broker: local-cluster.sh only


def no_fatal_producer_errors(records):
    """An idempotent producer must never hit a fatal error (librdkafka gives up: an
    OUT_OF_ORDER_SEQUENCE_NUMBER it cannot recover from, a fenced epoch, ...)."""
    fatal = [r for r in records if r.get("type") == "event" and r.get("what") == "client_error"
             and r.get("fatal")]
    return ["%d fatal producer errors, e.g. %s" % (len(fatal), fatal[0]["error"])] if fatal else []


def heal(c):
    """Heals the network, resumes paused brokers and starts dead ones (a schedule that failed
    half-way)."""
    c.heal_network()
    for b in c.broker_ids():
        try:
            c.signal(b, signal.SIGCONT)
        except (OSError, ValueError):
            pass
    if not c.retired and not c.added:
        c.sh("up", check=False)
        return
    for b in c.broker_ids():                    # leave decommissioned brokers stopped
        if b not in c.retired and not c.alive(b):
            c.sh("restart", b, check=False)


def run(a, d):
    settings = dict(BROKER_DEFAULTS)
    settings.update(kv.split("=", 1) for kv in a.set)
    if a.ensemble or a.netns:
        c = (EnsembleCluster if a.ensemble else NetnsCluster)(d, a.brokers, settings)
    else:
        c = Cluster(d, a.brokers, settings, spare=1 if a.schedule in LOCAL_ONLY else 0)
        if a.fault_proxy:
            c.use_proxies(a.fault_proxy)
        if a.secure:
            c.secure()
    if a.idempotent:
        c.post_checks.append(no_fatal_producer_errors)
    log("state in %s, %s" % (d, c.describe()))
    try:
        c.create()
        c.sh("up")
        if a.secure:
            c.secured_clients()
        c.create_topic(a.topic, a.partitions, a.rf, a.min_isr)
        if not c.wait_leaders(a.topic):
            raise RuntimeError("partitions of %s have no leader" % a.topic)
    except (RuntimeError, netns.NetnsError) as e:
        log("setup failed: %s" % e)
        c.sh("down", check=False)
        c.teardown()
        return 3
    history = os.path.join(d, "history.jsonl")
    try:
        w = workload.Workload(c.bootstrap, a.topic, history, a.producers, a.consumers, a.rate,
                              partitions=a.partitions, compression=a.compression, log=log,
                              groups=workload.parse_groups(a.group), idempotent=a.idempotent,
                              consumer_conf=dict(kv.split("=", 1) for kv in a.consumer_set))
        c.w = w

        def fault(w):
            try:
                for p in c.proxies:
                    p.armed = True
                w.note("proxies_armed", n=len(c.proxies))
                SCHEDULES[a.schedule](c, w, a)
            finally:
                for p in c.proxies:
                    p.armed = False
                if c.proxies:
                    stats = [dict(p.stats) for p in c.proxies]
                    w.note("proxies_disarmed", stats=stats)
                    if sum(st["dropped"] for st in stats) == 0:
                        c.fail("the fault proxies lost no Produce response")
                heal(c)
                if not c.wait_leaders(a.topic, 60):
                    w.note("leaders_missing_after_heal")
        w.run(a.duration, fault=fault, fault_at=a.fault_at)
        if not c.wait_leaders(a.topic, 60, full_isr=True):
            log("ISR not full 60 s after the run: followers may be short")
    finally:
        c.sh("down", check=False)
        c.teardown()
    log_dirs = ["broker-%d=%s" % (b, os.path.join(d, "broker-%d" % b))
                for b in c.broker_ids() if b not in c.retired]
    records = checker.load_history(history)
    replicas = checker.load_replicas(log_dirs, a.topic)
    if c.replica_filter is not None:            # brokers a reassignment took a replica from
        replicas = {p: {n: r for n, r in reps.items()
                        if int(n.split("-")[1]) in c.replica_filter.get(p, ())}
                    for p, reps in replicas.items()}
    rep = checker.check(records, replicas)
    for fn in c.post_checks:
        for msg in fn(records):
            c.fail(msg)
    summary = json.dumps(rep.summary(), sort_keys=True)
    text = rep.text() + "".join("\nschedule check FAILED: %s" % m for m in c.failures)
    with open(os.path.join(d, "report.txt"), "w") as f:
        f.write(summary + "\n" + text + "\n")
    print(summary)
    print(text)
    status = {"pass": 0, "fail": 1, "incomplete": 2}[rep.verdict]
    return 1 if c.failures and status == 0 else status


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--brokers", type=int, default=3)
    ap.add_argument("--rf", type=int, default=3, help="replication factor")
    ap.add_argument("--min-isr", type=int, help="min.insync.replicas (default: min(2, rf))")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--topic", default="scenario")
    ap.add_argument("--schedule", choices=sorted(SCHEDULES), default="none")
    ap.add_argument("--duration", type=float, default=30.0, help="workload seconds")
    ap.add_argument("--fault-at", type=float, default=0.3, help="fraction of duration")
    ap.add_argument("--hold", type=float, default=8.0, help="seconds a fault lasts")
    ap.add_argument("--rounds", type=int, default=1,
                    help="kill-leader: how many times to kill and restart the leader")
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--group", action="append", default=[], metavar="NAME:MEMBERS",
                    help="also run a consumer group of MEMBERS members (repeatable)")
    ap.add_argument("--rate", type=float, default=100.0, help="sends/s per producer")
    ap.add_argument("--compression", default="none", help="producer compression.type")
    ap.add_argument("--dir", help="state directory (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the state directory after a pass")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="broker property for every broker; repeatable")
    ap.add_argument("--consumer-set", action="append", default=[], metavar="KEY=VALUE",
                    help="librdkafka property for the workload's consumers (not group members); "
                         "repeatable")
    ap.add_argument("--victim", choices=["leader", "controller"], default="leader",
                    help="isolate-leader: isolate the leader of partition 0 (default) or the "
                         "controller (checked on a partition it leads)")
    ap.add_argument("--idempotent", action="store_true",
                    help="producers with enable.idempotence=true (duplicates must be 0)")
    ap.add_argument("--fault-proxy", type=int, default=0, metavar="N",
                    help="proxies in front of the brokers that lose one Produce response in N "
                         "while the schedule runs (not with --netns)")
    ap.add_argument("--secure", action="store_true",
                    help="a secure cluster (local-cluster.sh --secure: SASL_SSL clients, mutual "
                    "TLS between brokers, the authorizer on); local clusters only")
    ap.add_argument("--netns", action="store_true",
                    help="ZooKeeper and brokers in network namespaces (netns.py; needs root)")
    ap.add_argument("--ensemble", action="store_true",
                    help="docs/deploy.md's three hosts: a ZooKeeper node and a broker per network "
                         "namespace, host names (implies --netns)")
    a = ap.parse_args()
    a.netns = a.netns or a.ensemble
    if a.schedule in ENSEMBLE_ONLY and not a.ensemble:
        log("schedule %s needs --ensemble" % a.schedule)
        return 3
    if a.schedule in NETNS_ONLY and not a.netns:
        log("schedule %s cuts network links: it needs --netns" % a.schedule)
        return 3
    if a.fault_proxy and a.netns:
        log("--fault-proxy runs without --netns")
        return 3
    if a.schedule in LOCAL_ONLY and a.netns:
        log("schedule %s adds a broker mid-run: it runs without --netns" % a.schedule)
        return 3
    if a.netns:
        try:
            netns.check_permitted()
        except netns.NetnsError as e:
            log("--netns: %s" % e)
            return 3
    if a.min_isr is None:
        a.min_isr = min(2, a.rf)
    for b in (BROKER_BIN, CLI_BIN):
        if not os.access(b, os.X_OK):
            log("%s not found: build it or set GREGOR_BROKER / GREGOR_CLI" % b)
            return 3
    d = a.dir or tempfile.mkdtemp(prefix="gregor-scenario-")
    os.makedirs(d, exist_ok=True)

    def on_signal(sig, frame):                  # unwind: stop the cluster, tear netns down
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    status = run(a, d)
    if status == 0 and not a.keep and not a.dir:
        shutil.rmtree(d, ignore_errors=True)
    else:
        log("files kept in %s" % d)
    return status


if __name__ == "__main__":
    sys.exit(main())
