#!/usr/bin/python3
"""
tests/cluster/run_scenario.py — one replication scenario end to end: start ZooKeeper and N brokers
with deploy/local-cluster.sh on free ports, create a topic with the gregor CLI, run the workload
(tests/harness/workload.py) while a named fault schedule runs, heal, read every partition, stop
the cluster, compare the replicas on disk and run the checker. Exit status is the checker's
(0 pass, 1 anomaly, 2 history cannot be checked); 3 when the cluster or topic could not be set up.

  run_scenario.py [--brokers 3] [--rf 3] [--min-isr 2] [--partitions 4] [--schedule NAME]
                  [--duration 30] [--hold 8] [--producers 2] [--consumers 2] [--rate 100]
                  [--compression none|gzip|...]
                  [--dir D] [--keep] [--set KEY=VALUE]...

Schedules (each heals what it broke before it returns): none, kill-leader, bounce-sigterm,
kill-controller, pause-leader, kill-two (see SCHEDULES). Binaries: $GREGOR_BROKER and $GREGOR_CLI,
else $GREGOR_BUILD_DIR/bin, else <repo>/build/bin. Files in the state directory (--dir, default a
new /tmp/gregor-scenario-*): history.jsonl, report.txt, server.properties, local-cluster's own
files (broker-I/, broker-I.log, zookeeper/...). Removed after a pass unless --keep.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "harness"))
import checker  # noqa: E402
import workload  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

BUILD_BIN = os.path.join(os.environ.get("GREGOR_BUILD_DIR", os.path.join(REPO, "build")), "bin")
BROKER_BIN = os.environ.get("GREGOR_BROKER", os.path.join(BUILD_BIN, "gregor-broker"))
CLI_BIN = os.environ.get("GREGOR_CLI", os.path.join(BUILD_BIN, "gregor"))
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
    """A base port with n consecutive free ports, and a separate free ZooKeeper port."""
    for _ in range(200):
        base = random.randrange(20000, 40000)
        if all(port_free(base + i) for i in range(n + 1)):
            return base, base + n
    raise RuntimeError("no free port range")


class Cluster:
    """deploy/local-cluster.sh with this scenario's ports and state directory."""

    def __init__(self, d, brokers, settings):
        self.dir, self.n = d, brokers
        self.base_port, self.zk_port = free_ports(brokers)
        conf = os.path.join(d, "server.properties")
        with open(os.path.join(REPO, "deploy", "config", "server.properties")) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text + "\n# run_scenario.py\n")
            f.writelines("%s=%s\n" % kv for kv in settings.items())
        self.env = dict(os.environ, GREGOR_BROKER=BROKER_BIN, GREGOR_CONFIG=conf,
                        GREGOR_ZK_PORT=str(self.zk_port), GREGOR_BASE_PORT=str(self.base_port))
        self.bootstrap = ",".join("localhost:%d" % (self.base_port + i) for i in range(brokers))

    def sh(self, *args, check=True):
        cmd = [os.path.join(REPO, "deploy", "local-cluster.sh"), "--brokers", str(self.n),
               "--dir", self.dir] + [str(a) for a in args]
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        for line in (res.stdout + res.stderr).splitlines():
            log("  " + line)
        if check and res.returncode != 0:
            raise RuntimeError("local-cluster.sh %s failed (%d)" % (" ".join(map(str, args)),
                                                                    res.returncode))
        return res.returncode

    def pid(self, b):
        with open(os.path.join(self.dir, "broker-%d.pid" % b)) as f:
            return int(f.read().strip())

    def signal(self, b, sig):
        os.kill(self.pid(b), sig)

    def metadata(self, topic=None):
        return AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(topic, timeout=10)

    def leader_of(self, topic, partition=0):
        return self.metadata(topic).topics[topic].partitions[partition].leader

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
        cmd = [CLI_BIN, "-b", self.bootstrap, "topic", "create", topic, "-p", str(partitions),
               "-r", str(rf), "-c", "min.insync.replicas=%d" % min_isr, "--if-not-exists"]
        end = time.monotonic() + timeout
        while True:                                 # brokers may still be registering
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode == 0:
                return
            if time.monotonic() > end:
                raise RuntimeError("topic create failed: " + res.stderr.strip())
            time.sleep(1)


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
    _kill_restart(c, w, a, [c.leader_of(a.topic, 0)], "leader of partition 0")


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


SCHEDULES = {"none": sched_none, "kill-leader": sched_kill_leader,
             "bounce-sigterm": sched_bounce_sigterm, "kill-controller": sched_kill_controller,
             "pause-leader": sched_pause_leader, "kill-two": sched_kill_two}


def heal(c):
    """Resumes paused brokers and starts dead ones (a schedule that failed half-way)."""
    for b in range(c.n):
        try:
            c.signal(b, signal.SIGCONT)
        except (OSError, ValueError):
            pass
    c.sh("up", check=False)


def run(a, d):
    settings = dict(BROKER_DEFAULTS)
    settings.update(kv.split("=", 1) for kv in a.set)
    c = Cluster(d, a.brokers, settings)
    log("state in %s, bootstrap %s, zookeeper port %d" % (d, c.bootstrap, c.zk_port))
    try:
        c.sh("up")
        c.create_topic(a.topic, a.partitions, a.rf, a.min_isr)
        if not c.wait_leaders(a.topic):
            raise RuntimeError("partitions of %s have no leader" % a.topic)
    except RuntimeError as e:
        log("setup failed: %s" % e)
        c.sh("down", check=False)
        return 3
    history = os.path.join(d, "history.jsonl")
    try:
        w = workload.Workload(c.bootstrap, a.topic, history, a.producers, a.consumers, a.rate,
                              partitions=a.partitions, compression=a.compression, log=log)

        def fault(w):
            try:
                SCHEDULES[a.schedule](c, w, a)
            finally:
                heal(c)
                if not c.wait_leaders(a.topic, 60):
                    w.note("leaders_missing_after_heal")
        w.run(a.duration, fault=fault, fault_at=a.fault_at)
        if not c.wait_leaders(a.topic, 60, full_isr=True):
            log("ISR not full 60 s after the run: followers may be short")
    finally:
        c.sh("down", check=False)
    log_dirs = ["broker-%d=%s" % (b, os.path.join(d, "broker-%d" % b)) for b in range(c.n)]
    rep = checker.check(checker.load_history(history), checker.load_replicas(log_dirs, a.topic))
    summary = json.dumps(rep.summary(), sort_keys=True)
    with open(os.path.join(d, "report.txt"), "w") as f:
        f.write(summary + "\n" + rep.text() + "\n")
    print(summary)
    print(rep.text())
    return {"pass": 0, "fail": 1, "incomplete": 2}[rep.verdict]


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
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=100.0, help="sends/s per producer")
    ap.add_argument("--compression", default="none", help="producer compression.type")
    ap.add_argument("--dir", help="state directory (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the state directory after a pass")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="broker property for every broker; repeatable")
    a = ap.parse_args()
    if a.min_isr is None:
        a.min_isr = min(2, a.rf)
    for b in (BROKER_BIN, CLI_BIN):
        if not os.access(b, os.X_OK):
            log("%s not found: build it or set GREGOR_BROKER / GREGOR_CLI" % b)
            return 3
    d = a.dir or tempfile.mkdtemp(prefix="gregor-scenario-")
    os.makedirs(d, exist_ok=True)
    status = run(a, d)
    if status == 0 and not a.keep and not a.dir:
        shutil.rmtree(d, ignore_errors=True)
    else:
        log("files kept in %s" % d)
    return status


if __name__ == "__main__":
    sys.exit(main())
