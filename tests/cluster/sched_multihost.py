"""
tests/cluster/sched_multihost.py — the `multihost` fault schedule of run_scenario.py
(--ensemble): the three-host configuration of docs/deploy.md ("Three hosts"; one host = one
network namespace with one ZooKeeper node and one broker, brokers advertising host names) taken
through, in one run under the acks=all workload:

  0. The guide's rolling restart: each broker in turn SIGTERMed and started again, the next one
     only once its /readyz answers 200 and `gregor cluster info --json` counts no
     under-replicated partition (each within 60 s).
  1. SIGKILL of the leader of partition 0, --hold seconds, restart; every ISR full again.
  2. One ZooKeeper node (the ensemble's leader) SIGKILLed: the cluster keeps working — writes
     are acknowledged, consumers read, a topic can be created; the node is restarted.
  3. Two ZooKeeper nodes SIGKILLed, quorum lost, for longer than the session timeout: writes to
     every partition (acks=all, full ISR) are still acknowledged and consumers still read from
     the leaders; CreateTopics (it needs ZooKeeper) fails with an error within its timeout
     instead of hanging; every broker stays alive. Both nodes restarted: a topic can be created
     again, every broker is registered, every ISR is full.
  4. The host of the leader of partition 0 isolated (its ZooKeeper node and its broker cut from
     the two other hosts; clients still reach it) past the session timeout: another broker
     leads partition 0; healed, the broker is back in every ISR.

Each step's assertions go through c.fail(); the windows in which writes and reads must go on
are checked on the history after the run (c.post_checks). The checker then requires that no
acknowledged record was lost.
"""
import json
import subprocess
import time
import urllib.error
import urllib.request

from confluent_kafka.admin import AdminClient, NewTopic

HTTP_PORT = 8080            # gregor.http.port in deploy/multihost/server.properties


def _log(msg):
    import sys
    print("scenario: " + msg, file=sys.stderr, flush=True)


def create_topic_probe(c, name, timeout_s):
    """CreateTopics for NAME (1 partition, RF 3) with a request timeout of timeout_s.
    Returns (error text or None, seconds taken)."""
    t0 = time.monotonic()
    admin = AdminClient({"bootstrap.servers": c.bootstrap,
                         "socket.timeout.ms": int(timeout_s * 1000)})
    try:
        fut = admin.create_topics([NewTopic(name, 1, 3)], request_timeout=timeout_s,
                                  operation_timeout=timeout_s)[name]
        fut.result(timeout=timeout_s + 10)
        return None, time.monotonic() - t0
    except Exception as e:                      # KafkaException, TimeoutError
        return "%s: %s" % (type(e).__name__, e), time.monotonic() - t0


def _full_isr(c, topic, timeout_s):
    """Waits until every partition's ISR is its replica list, as each live broker reports it."""
    end = time.monotonic() + timeout_s
    while True:
        short = {}
        try:
            for b in range(c.n):
                md = c.broker_metadata(b, topic)
                for p, (_, reps, isr) in md["partitions"].items():
                    if sorted(reps) != sorted(isr) or not reps:
                        short[(b, p)] = (reps, isr)
                if len(md["brokers"]) != c.n:
                    short[(b, "brokers")] = md["brokers"]
        except (OSError, AssertionError, ConnectionError) as e:
            short["error"] = str(e)
        if not short:
            return None
        if time.monotonic() > end:
            return short
        time.sleep(0.5)


def _window_check(what, t_from, t_to, partitions):
    """A post-check: every partition has writes acknowledged and records consumed inside
    (t_from, t_to] of the history."""
    def check(records):
        acked = {p: 0 for p in range(partitions)}
        read = {p: 0 for p in range(partitions)}
        for r in records:
            if r.get("type") == "send" and r["status"] == "ok" and t_from < r["t_ack"] <= t_to:
                acked[r["partition"]] += 1
            elif r.get("type") == "consume" and t_from < r["t"] <= t_to and "group" not in r:
                read[r["partition"]] += 1
        _log("%s (%.1f s .. %.1f s): acknowledged %s, consumed %s" % (what, t_from, t_to,
                                                                      acked, read))
        out = []
        if not all(acked.values()):
            out.append("%s: partitions with no write acknowledged between %.1f s and %.1f s: %s"
                       % (what, t_from, t_to, [p for p, n in acked.items() if not n]))
        if not all(read.values()):
            out.append("%s: partitions with no record consumed between %.1f s and %.1f s: %s"
                       % (what, t_from, t_to, [p for p, n in read.items() if not n]))
        return out
    return check


def _alive_all(c, why):
    dead = [b for b in range(c.n) if not c.alive(b)]
    if dead:
        c.fail("%s: brokers %s exited (see broker-I.log)" % (why, dead))


def _ready(host):
    """(HTTP status of host's /readyz, first line of its body); (None, error) on no answer."""
    try:
        with urllib.request.urlopen("http://%s:%d/readyz" % (host, HTTP_PORT), timeout=2) as r:
            return r.status, r.read().decode(errors="replace").split("\n")[0]
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace").replace("\n", "; ")
    except OSError as e:
        return None, str(e)


def _under_replicated(c, cli, host):
    """under_replicated_partitions of `gregor cluster info --json` asked of host, or None."""
    res = subprocess.run([cli, "-b", "%s:9092" % host, "cluster", "info", "--json"],
                         capture_output=True, text=True, timeout=30)
    try:
        return json.loads(res.stdout)["under_replicated_partitions"]
    except (ValueError, KeyError):
        return None


def step_rolling_restart(c, w, a):
    from netns import host_name
    for b in range(c.n):
        host = host_name(b)
        c.sh("restart", b)                      # SIGTERM (controlled shutdown), start
        t0 = time.monotonic()
        w.note("restarted", broker=b, host=host, why="rolling restart")
        status, why = None, ""
        while time.monotonic() - t0 < 60:
            status, why = _ready(host)
            if status == 200:
                break
            time.sleep(0.5)
        if status != 200:
            c.fail("rolling restart: %s/readyz not 200 60 s after the restart: %s %s"
                   % (host, status, why))
            return
        t_ready = time.monotonic()
        urp = None
        while time.monotonic() - t0 < 60:
            urp = _under_replicated(c, c.cli, host)
            if urp == 0:
                break
            time.sleep(0.5)
        if urp != 0:
            c.fail("rolling restart: %s: under-replicated partitions %s 60 s after the restart"
                   % (host, urp))
            return
        w.note("ready", broker=b, ready_s=round(t_ready - t0, 2),
               in_sync_s=round(time.monotonic() - t0, 2))


def step_kill_broker(c, w, a):
    lead = c.leader_of(a.topic, 0)
    w.note("sigkill", broker=lead, why="leader of partition 0")
    c.sh("kill", lead)
    time.sleep(a.hold)
    c.sh("restart", lead)
    w.note("restarted", broker=lead)
    short = _full_isr(c, a.topic, 60)
    if short:
        c.fail("after the SIGKILL of broker %d: ISRs not full 60 s after its restart: %s"
               % (lead, short))
    w.note("isr_full")


def _zk_leader(c):
    from netns import ZK_PORT, zk_mode
    for z in range(c.n):
        if zk_mode(c.net.addr(z), ZK_PORT) == "leader":
            return z
    return c.n - 1


def step_one_zk_down(c, w, a):
    z = _zk_leader(c)
    c.net.stop_zk(z, __import__("signal").SIGKILL)
    t0 = w.now()
    w.note("zk_killed", node=z, myid=z + 1, why="the ensemble's leader")
    time.sleep(3)                               # the two others elect a new leader
    err, took = None, 0.0
    end = time.monotonic() + 30
    while True:
        err, took = create_topic_probe(c, "multihost-one-zk-down", 10)
        if err is None or time.monotonic() > end:
            break
        time.sleep(1)
    if err:
        c.fail("one ZooKeeper node down: CreateTopics failed for 30 s: %s" % err)
    else:
        w.note("topic_created", name="multihost-one-zk-down", took_s=round(took, 2))
    time.sleep(max(0.0, t0 + a.hold - w.now()))
    t1 = w.now()
    c.net.start_zk(z)
    w.note("zk_restarted", node=z)
    _alive_all(c, "one ZooKeeper node down")
    c.post_checks.append(_window_check("one ZooKeeper node down", t0 + 3, t1, a.partitions))


def step_quorum_lost(c, w, a):
    import signal
    keep = _zk_leader(c)                        # the survivor: the others are SIGKILLed
    gone = [z for z in range(c.n) if z != keep][:2]
    for z in gone:
        c.net.stop_zk(z, signal.SIGKILL)
    t0 = w.now()
    w.note("zk_quorum_lost", killed=gone, survivor=keep)
    time.sleep(2)
    err, took = create_topic_probe(c, "multihost-no-quorum", 5)
    if err is None:
        c.fail("ZooKeeper quorum lost: CreateTopics succeeded (it must fail)")
    elif "ZooKeeper" not in err:
        c.fail("ZooKeeper quorum lost: CreateTopics failed without saying why: %s" % err)
    elif took > 5 + 10:
        c.fail("ZooKeeper quorum lost: CreateTopics took %.1f s to fail (timeout 5 s)" % took)
    else:
        w.note("create_topics_refused", error=err, took_s=round(took, 2))
    # Twice the session timeout: sessions would have expired had ZooKeeper been serving.
    hold = max(a.hold, 2 * c.session_ms / 1000.0 + 6)
    time.sleep(max(0.0, t0 + hold - w.now()))
    t1 = w.now()
    _alive_all(c, "ZooKeeper quorum lost")
    c.post_checks.append(_window_check("ZooKeeper quorum lost", t0 + 2, t1, a.partitions))
    for z in gone:
        c.net.start_zk(z, wait=False)
    c.net.start_zk()
    t_back = time.monotonic()
    w.note("zk_quorum_back", restarted=gone)
    end = time.monotonic() + 60
    while True:
        err, took = create_topic_probe(c, "multihost-quorum-back", 10)
        if err is None:
            w.note("topic_created", name="multihost-quorum-back",
                   after_s=round(time.monotonic() - t_back, 2))
            break
        if time.monotonic() > end:
            c.fail("ZooKeeper quorum back: CreateTopics still failing after 60 s: %s" % err)
            break
        time.sleep(1)
    short = _full_isr(c, a.topic, 60)
    if short:
        c.fail("ZooKeeper quorum back: ISRs not full / brokers missing after 60 s: %s" % short)
    else:
        w.note("isr_full", after_s=round(time.monotonic() - t_back, 2))
    _alive_all(c, "ZooKeeper quorum back")


def step_isolate_host(c, w, a):
    lead = c.leader_of(a.topic, 0)
    c.net.isolate(lead)
    t0 = time.monotonic()
    w.note("isolated", broker=lead, why="host of the leader of partition 0 (its ZooKeeper node "
           "too)")
    other = next(b for b in range(c.n) if b != lead)
    new = None
    end = time.monotonic() + c.session_ms / 1000.0 + 30
    while time.monotonic() < end:
        try:
            ldr = c.broker_metadata(other, a.topic)["partitions"][0][0]
            if ldr >= 0 and ldr != lead:
                new = ldr
                break
        except (OSError, AssertionError, ConnectionError, KeyError):
            pass
        time.sleep(0.5)
    if new is None:
        c.fail("host of broker %d isolated: no other leader of partition 0 within %.0f s"
               % (lead, c.session_ms / 1000.0 + 30))
    else:
        w.note("new_leader", broker=new, after_s=round(time.monotonic() - t0, 2))
    time.sleep(max(0.0, t0 + a.hold - time.monotonic()) + 5)
    c.net.heal()
    t_heal = time.monotonic()
    w.note("healed", broker=lead)
    short = _full_isr(c, a.topic, 60)
    if short:
        c.fail("host of broker %d healed: not back in every ISR after 60 s: %s" % (lead, short))
    else:
        w.note("isr_full", after_s=round(time.monotonic() - t_heal, 2))
    _alive_all(c, "isolated host healed")


def sched_multihost(c, w, a):
    for step in (step_rolling_restart, step_kill_broker, step_one_zk_down, step_quorum_lost,
                 step_isolate_host):
        w.note("step", name=step.__name__[5:])
        step(c, w, a)
