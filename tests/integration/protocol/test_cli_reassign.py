#!/usr/bin/env python3
"""
tests/integration/protocol/test_cli_reassign.py — `gregor cluster reassign` against
three real brokers and ZooKeeper: --execute of a Kafka plan file, --status with and
without --file until the move is complete, --cancel of a move held back (its new
replica's broker SIGSTOPped), and the clear errors with exit status 1 for a bad
file (truncated, wrong type), an unknown topic or partition, an unknown broker and a
cancel of nothing; 2 for usage (--plan without --add-broker / --remove-broker too: --plan
is cluster_reassign_plan.c's, tested with the grow-shrink scenario and test_reassign_plan).
--throttle: the rates appear on the brokers involved and the throttled-replicas lists on the
topic (read back with confluent_kafka's AdminClient.describe_configs), a re-run on the moving
partition changes only the rate, a 20 MB move takes about size / rate, lists already set on a
topic are merged into ("*" kept, no pair twice), --status (once complete) and --cancel remove
every throttle, a plan the controller starts nothing of leaves none; without --throttle none
is set.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import BUILD, Cluster, run_suite  # noqa: E402
import test_reassign as tr  # noqa: E402

GREGOR = os.path.join(BUILD, "bin", "gregor")
CL = None


def gregor(*args):
    r = subprocess.run([GREGOR, "-b", tr.bootstrap(), "cluster", "reassign"] + list(args),
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def plan_file(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, dir=CL.tmp)
    f.write(text)
    f.close()
    return f.name


def plan(topic, p, replicas):
    return plan_file('{"version":1,"partitions":[{"topic":"%s","partition":%d,"replicas":%s,'
                     '"log_dirs":[%s]}]}' % (topic, p, replicas,
                                             ",".join(['"any"'] * len(replicas))))


def test_setup():
    tr.CL = CL
    tr.create_topic("c", [[0, 1]])
    assert len(tr.produce("c", 0, ["r-%d" % i for i in range(500)])) == 500


def test_bad_input():
    rc, out, err = gregor("--execute", "--file", plan_file('{"version":1,"partitions":[{"topic":"c",'))
    assert rc == 1 and "line 1" in err and "truncated" in err, (rc, err)
    rc, out, err = gregor("--execute", "--file", plan_file('{"partitions":[{"topic":"c","partition":"0",'
                                                          '"replicas":[1]}]}'))
    assert rc == 1 and "must be a number" in err, (rc, err)
    rc, out, err = gregor("--execute", "--file", plan("nope", 0, [1]))
    assert rc == 1 and "topic 'nope' does not exist" in err, (rc, err)
    rc, out, err = gregor("--execute", "--file", plan("c", 7, [1]))
    assert rc == 1 and "no partition 7" in err, (rc, err)
    rc, out, err = gregor("--execute", "--file", plan("c", 0, [9, 1]))
    assert rc == 1 and "INVALID_REPLICA_ASSIGNMENT" in out and "broker 9" in out, (rc, out, err)
    # nothing started: the throttle set for it is removed again
    rc, out, err = gregor("--execute", "--file", plan("c", 0, [9, 1]), "--throttle", "1000000")
    assert rc == 1 and out.startswith("Throttle: 1000000 B/s on brokers 0,1; ") and \
        "INVALID_REPLICA_ASSIGNMENT" in out and \
        out.endswith("Throttle removed from brokers 0,1,2 and topic(s) c\n"), (rc, out, err)
    no_throttle("c")
    rc, out, err = gregor("--execute", "--file", "/nonexistent/plan.json")
    assert rc == 1 and "No such file" in err, (rc, err)
    rc, out, err = gregor("--cancel", "--file", plan("c", 0, [0, 1]))
    assert rc == 1 and "NO_REASSIGNMENT_IN_PROGRESS" in out, (rc, out)
    assert gregor()[0] == 2
    assert gregor("--execute")[0] == 2
    assert gregor("--execute", "--status", "--file", plan("c", 0, [1]))[0] == 2
    rc, out, err = gregor("--status", "--throttle", "1000")
    assert rc == 2 and "--throttle goes with --execute" in err, (rc, err)
    rc, out, err = gregor("--execute", "--file", plan("c", 0, [1]), "--throttle", "0")
    assert rc == 2 and "--throttle" in err, (rc, err)
    rc, out, err = gregor("--plan", "--topics", "c")
    assert rc == 2 and "--add-broker" in err, (rc, err)


def test_execute_and_status():
    f = plan("c", 0, [2, 1])
    rc, out, err = gregor("--status", "--file", f)
    assert rc == 1 and "not started (replicas 0,1; target 2,1)" in out, (rc, out, err)
    rc, out, err = gregor("--execute", "--file", f)
    assert rc == 0 and out == "c-0\tstarted\n", (rc, out, err)
    end = time.time() + 60
    while time.time() < end:
        rc, out, err = gregor("--status", "--file", f)
        if rc == 0:
            break
        time.sleep(0.3)
    assert rc == 0 and out == "c-0\tcomplete\n", (rc, out, err)
    rc, out, err = gregor("--status")
    assert rc == 0 and "No reassignment in progress." in out, (rc, out)
    tr.replicas_everywhere("c", 0, [2, 1])
    assert sorted(tr.consume_all("c", 0, 500)) == sorted("r-%d" % i for i in range(500))


RATES = ("leader.replication.throttled.rate", "follower.replication.throttled.rate")
LISTS = ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas")


def configs(kind, name, keys):
    """{key: value} of a broker or topic as a real client describes it; a key not set as a
    dynamic override (broker or topic) reads as None."""
    a = AdminClient({"bootstrap.servers": tr.bootstrap()})
    for f in a.describe_configs([ConfigResource(kind, name)]).values():
        got = f.result(15)
    dyn = (ConfigSource.DYNAMIC_BROKER_CONFIG.value, ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    return {k: got[k].value if k in got and got[k].source in dyn else None for k in keys}


def wait_configs(kind, name, want, timeout=15):
    end = time.time() + timeout
    while True:
        got = configs(kind, name, list(want))
        if got == want or time.time() > end:
            assert got == want, (kind, name, got, want)
            return
        time.sleep(0.2)


def no_throttle(topic, brokers=(0, 1, 2)):
    wait_configs("topic", topic, {k: None for k in LISTS})
    for b in brokers:
        wait_configs("broker", str(b), {k: None for k in RATES})


def test_no_throttle_without_the_option():
    no_throttle("c")


def test_throttle():
    tr.create_topic("big", [[0, 1]])
    size, n = 20 << 20, 1000
    vals = [("%04d" % i) + os.urandom(size // n // 2 - 2).hex() for i in range(n)]
    assert len(tr.produce("big", 0, vals)) == n
    f = plan("big", 0, [2, 1])
    t0 = time.time()
    rc, out, err = gregor("--execute", "--file", f, "--throttle", "4000000")
    assert rc == 0 and out == ("Throttle: 4000000 B/s on brokers 0,1,2; throttled replicas set "
                               "on topic(s) big\nbig-0\tstarted\n"), (rc, out, err)
    wait_configs("topic", "big", {LISTS[0]: "0:0,0:1", LISTS[1]: "0:2"})
    # the move is still running: a re-run changes only the rate
    rc, out, err = gregor("--execute", "--file", f, "--throttle", "5000000")
    assert rc == 0 and out == ("Throttle: 5000000 B/s on brokers 0,1,2 (reassignments already "
                               "in progress)\n"), (rc, out, err)
    for b in (0, 1, 2):
        wait_configs("broker", str(b), {k: "5000000" for k in RATES})
    assert gregor("--status", "--file", f)[0] == 1
    end = time.time() + 90
    while time.time() < end:
        rc, out, err = gregor("--status", "--file", f)
        if rc == 0:
            break
        time.sleep(0.2)
    took = time.time() - t0
    assert rc == 0 and out == ("big-0\tcomplete\nThrottle removed from brokers 0,1,2 and "
                               "topic(s) big\n"), (rc, out, err)
    # 20 MiB at 4-5 MB/s: 4.2-5.2 s, less about a second's worth let through at once;
    # unthrottled the copy takes well under a second here
    assert 2.5 <= took <= 15, took
    print("throttled 20 MiB move took %.1f s" % took)
    no_throttle("big")
    rc, out, err = gregor("--status", "--file", f)
    assert rc == 0 and out == "big-0\tcomplete\n", (rc, out, err)
    tr.replicas_everywhere("big", 0, [2, 1])
    assert sorted(tr.consume_all("big", 0, n)) == sorted(vals)


def test_throttle_merges_lists():
    """Two topics, one with lists already set: ours are added ("*" stays); --status removes
    the lists of both (as Kafka's tool does)."""
    tr.create_topic("m", [[0, 1], [1, 2]])
    tr.create_topic("n", [[1, 2]])
    r = subprocess.run([GREGOR, "-b", tr.bootstrap(), "topic", "alter-config", "m", "--set",
                        LISTS[1] + "=1:0", "--set", LISTS[0] + "=*"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    f = plan_file('{"version":1,"partitions":[{"topic":"m","partition":0,"replicas":[2,1]},'
                  '{"topic":"m","partition":1,"replicas":[1,2,0]},'
                  '{"topic":"n","partition":0,"replicas":[2,0]}]}')
    rc, out, err = gregor("--execute", "--file", f, "--throttle", "50000000")
    assert rc == 0 and out == ("Throttle: 50000000 B/s on brokers 0,1,2; throttled replicas set "
                               "on topic(s) m,n\nm-0\tstarted\nm-1\tstarted\nn-0\tstarted\n"), \
        (rc, out, err)
    # m-1 adds 1:0, already listed: kept once
    wait_configs("topic", "m", {LISTS[0]: "*", LISTS[1]: "1:0,0:2"})
    wait_configs("topic", "n", {LISTS[0]: "0:1,0:2", LISTS[1]: "0:0"})
    end = time.time() + 60
    while time.time() < end:
        rc, out, err = gregor("--status", "--file", f)
        if rc == 0:
            break
        time.sleep(0.2)
    assert rc == 0 and out.endswith("Throttle removed from brokers 0,1,2 and topic(s) m,n\n"), \
        (rc, out, err)
    no_throttle("m")
    no_throttle("n")


def test_cancel():
    b0 = CL.brokers[0]
    tr.controller_not(0)
    os.kill(b0.proc.pid, signal.SIGSTOP)
    try:
        f = plan("c", 0, [0, 1])
        rc, out, err = gregor("--execute", "--file", f, "--throttle", "1000000")
        assert rc == 0 and out == ("Throttle: 1000000 B/s on brokers 0,1,2; throttled replicas "
                                   "set on topic(s) c\nc-0\tstarted\n"), (rc, out, err)
        rc, out, err = gregor("--status", "--file", f)
        assert rc == 1 and "c-0\tin progress (adding 0, removing 2)" in out, (rc, out, err)
        rc, out, err = gregor("--status")
        assert rc == 0 and "in progress (adding 0, removing 2)\treplicas 0,1,2" in out, (rc, out)
        rc, out, err = gregor("--cancel")
        assert rc == 0 and out.startswith("c-0\tcancelled\nThrottle removed from brokers "), \
            (rc, out, err)
        assert out.endswith(" and topic(s) c\n"), out
    finally:
        os.kill(b0.proc.pid, signal.SIGCONT)
    # back to the original set {2, 1}, in its order in the moving list [0, 1, 2] (as Kafka)
    tr.replicas_everywhere("c", 0, [1, 2])
    tr.wait_gone(tr.part_dir(b0, "c", 0))
    no_throttle("c", brokers=(1, 2))
    rc, out, err = gregor("--cancel")
    assert rc == 0 and "No reassignment in progress." in out, (rc, out)


if __name__ == "__main__":
    CL = Cluster(3, overrides=["replica.lag.time.max.ms=10000"])
    tr.CL = CL
    sys.exit(run_suite(CL, globals()))
