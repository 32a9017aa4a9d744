#!/usr/bin/env python3
"""
tests/integration/protocol/test_console.py — the web console's endpoints without a browser,
against three real brokers and ZooKeeper: the page at / and /console, /api/cluster (brokers,
controller, partition counts), /api/topics (leader, replicas, ISR, flags; the local replica's
offsets and size), /api/groups (a group committed through librdkafka, on its coordinator), and
/api/events: a client connected to one broker receives broker_left and leader_changed within
seconds of the partition's leader being killed, with increasing ids, and a reconnect with
Last-Event-ID gets only what came after; with gregor.console.actions.enable the active
controller runs a preferred leader election asked by POST /api/actions/elect-preferred (other
brokers refuse it naming the controller; GET and a bad query are refused). Run by Debian's /usr/bin/python3 (confluent_kafka).
"""
import http.client
import json
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, free_port, run_suite  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HTTP = [free_port() for _ in range(3)]
cl = Cluster(n_brokers=3, overrides=["gregor.http.host=127.0.0.1", "zookeeper.session.timeout.ms=6000",
                                     "gregor.console.actions.enable=true"],
             per_broker=lambda i: ["gregor.http.port=%d" % HTTP[i]])


def get(i, path, timeout=5):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (HTTP[i], path), timeout=timeout) as r:
        return r.status, r.headers, r.read()


def api(i, path):
    st, h, body = get(i, path)
    assert st == 200 and h["Content-Type"] == "application/json", (st, dict(h))
    assert h["Access-Control-Allow-Origin"] == "*"
    return json.loads(body)


def wait(cond, what, timeout=20.0):
    end = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.time() < end, "timed out waiting for " + what
        time.sleep(0.1)


def bootstrap():
    return ",".join("127.0.0.1:%d" % b.port for b in cl.brokers)


def part(i, topic, p):
    for t in api(i, "/api/topics")["topics"]:
        if t["name"] == topic:
            return t["partitions"][p] if p < len(t["partitions"]) else None
    return None


def test_setup():
    a = AdminClient({"bootstrap.servers": bootstrap()})
    fs = a.create_topics([NewTopic("con", 2, replica_assignment=[[0, 1, 2], [1, 2, 0]])])
    for f in fs.values():
        assert f.result(30) is None
    pr = Producer({"bootstrap.servers": bootstrap(), "acks": "all"})
    for k in range(10):
        pr.produce("con", b"v%d" % k, partition=0)
    assert pr.flush(30) == 0
    c = Consumer({"bootstrap.servers": bootstrap(), "group.id": "console-g", "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition("con", 0, 7)], asynchronous=False)
    c.close()
    for i in range(3):  # every broker has the topic with its ISR complete
        wait(lambda: (part(i, "con", 0) or {}).get("isr") == [0, 1, 2], "con-0 ISR on %d" % i)


def test_page_is_served_from_the_binary():
    for path in ("/", "/console"):
        st, h, body = get(1, path)
        assert st == 200 and h["Content-Type"].startswith("text/html"), (st, dict(h))
        assert b"<title>Gregor console</title>" in body and b"/api/events" in body
        # nothing fetched from elsewhere: no external scripts, styles, images or fonts
        assert not re.search(rb'(src|href)\s*=\s*["\']?(https?:)?//|url\(|@import', body), path


def test_cluster():
    views = [api(i, "/api/cluster") for i in range(3)]
    ctl = views[0]["controller_id"]
    for i, v in enumerate(views):
        assert v["broker_id"] == i and v["http_port"] == HTTP[i], v
        assert v["controller_id"] == ctl >= 0 and v["controller_epoch"] >= 1, v
        assert [b["id"] for b in v["brokers"]] == [0, 1, 2], v
        assert all(b["alive"] and b["port"] == cl.brokers[b["id"]].port for b in v["brokers"]), v
        assert [b["controller"] for b in v["brokers"]] == [b == ctl for b in range(3)], v
        assert v["partitions"]["offline"] == 0 and v["partitions"]["under_replicated"] == 0, v
        assert v["partitions"]["total"] >= 2, v
        assert v["mirrors"] == [], v  # gregor.console.mirrors is empty by default
        for k in ("bytes_in_per_sec", "bytes_out_per_sec", "messages_in_per_sec", "connections"):
            assert k in v["self"], v
    led = {b["id"]: b["partitions_led"] for b in views[0]["brokers"]}
    assert led[0] >= 1 and led[1] >= 1, led


def test_topics_local_replica_and_local_only_view():
    p0 = part(0, "con", 0)
    assert p0["leader"] == 0 and p0["replicas"] == [0, 1, 2] and p0["isr"] == [0, 1, 2], p0
    assert not p0["offline"] and not p0["under_replicated"] and not p0["not_preferred"], p0
    assert p0["local"]["end_offset"] == 10 and p0["local"]["log_start_offset"] == 0, p0
    assert p0["local"]["size_bytes"] > 0, p0
    only = api(2, "/api/topics?local=1")
    assert only["broker_id"] == 2
    names = [t["name"] for t in only["topics"]]
    assert "con" in names, names
    assert all(p["local"] is not None for t in only["topics"] for p in t["partitions"]), only


def groups_with(gid):
    for i in range(3):
        for g in api(i, "/api/groups")["groups"]:
            if g["group_id"] == gid:
                return i, g
    return None


def test_groups_on_the_coordinator():
    i, g = wait(lambda: groups_with("console-g"), "console-g in some broker's /api/groups")
    assert g["state"] == "Empty" and g["members"] == [], g
    assert [(o["topic"], o["partition"], o["committed_offset"]) for o in g["offsets"]] == [("con", 0, 7)], g
    others = [j for j in range(3) if j != i]
    for j in others:  # only the coordinator lists it
        assert all(x["group_id"] != "console-g" for x in api(j, "/api/groups")["groups"])


def post(i, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (HTTP[i], path), method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def committed(gid, topic, p):
    c = Consumer({"bootstrap.servers": bootstrap(), "group.id": gid, "enable.auto.commit": False})
    try:
        return c.committed([TopicPartition(topic, p)], timeout=10)[0].offset
    finally:
        c.close()


def test_reset_offsets_action_shows_the_plan_then_commits_it():
    i, _ = wait(lambda: groups_with("console-g"), "console-g's coordinator")
    other = (i + 1) % 3
    st, body = post(other, "/api/actions/reset-offsets?group=console-g&topic=con&offsets=0:3")
    assert st == 421 and "coordinator" in body["error"], (st, body)
    st, body = post(i, "/api/actions/reset-offsets?group=console-g&topic=con&offsets=0:3")
    assert st == 200, (st, body)
    assert body == {"group": "console-g", "topic": "con", "state": "Empty", "executed": False,
                    "plan": [{"partition": 0, "current_offset": 7, "new_offset": 3}]}, body
    assert committed("console-g", "con", 0) == 7  # a plan changes nothing
    st, body = post(i, "/api/actions/reset-offsets?group=console-g&topic=con&offsets=0:3,1:0&execute=true")
    assert st == 200 and body["executed"] is True, (st, body)
    assert body["plan"] == [{"partition": 0, "current_offset": 7, "new_offset": 3},
                            {"partition": 1, "current_offset": -1, "new_offset": 0}], body
    assert committed("console-g", "con", 0) == 3
    assert committed("console-g", "con", 1) == 0
    wait(lambda: sorted((o["partition"], o["committed_offset"]) for o in groups_with("console-g")[1]["offsets"])
         == [(0, 3), (1, 0)], "the reset in /api/groups", 10)
    for q, code in (("group=console-g&topic=con&offsets=2:1", 400), ("group=console-g&topic=con&offsets=0:-1", 400),
                    ("group=console-g&topic=con&offsets=0:1,0:2", 400), ("group=console-g&topic=nope&offsets=0:1", 404),
                    ("topic=con&offsets=0:1", 400), ("group=console-g&topic=con&offsets=", 400)):
        st, body = post(i, "/api/actions/reset-offsets?" + q)
        assert st == code and body["error"], (q, st, body)


def test_reset_offsets_refused_while_the_group_has_members():
    c = Consumer({"bootstrap.servers": bootstrap(), "group.id": "console-live", "session.timeout.ms": 6000})
    c.subscribe(["con"])
    try:
        end = time.time() + 20
        while not c.assignment():
            assert time.time() < end, "never assigned"
            c.poll(0.2)
        i, g = wait(lambda: groups_with("console-live"), "console-live in /api/groups")
        assert g["state"] == "Stable" and len(g["members"]) == 1 and g["members"][0]["client_id"], g
        st, body = post(i, "/api/actions/reset-offsets?group=console-live&topic=con&offsets=0:0&execute=true")
        assert st == 409 and "stop its consumers" in body["error"], (st, body)
    finally:
        c.close()


class Sse:
    def __init__(self, i, last_id=None):
        self.c = http.client.HTTPConnection("127.0.0.1", HTTP[i], timeout=15)
        self.c.request("GET", "/api/events", headers={"Last-Event-ID": last_id} if last_id else {})
        self.r = self.c.getresponse()
        assert self.r.status == 200 and self.r.headers["Content-Type"] == "text/event-stream"

    def next(self):
        """The next event as (id, object); comments and retry lines skipped."""
        eid = None
        while True:
            line = self.r.readline()
            assert line, "the stream ended"
            line = line.decode().rstrip("\n")
            if line.startswith("id: "):
                eid = int(line[4:])
            elif line.startswith("data: "):
                return eid, json.loads(line[6:])

    def close(self):
        self.c.close()


def test_events_report_a_failover_within_seconds():
    s = Sse(2)
    t0 = time.time()
    cl.brokers[0].stop(signal.SIGKILL)  # leader of con-0
    seen, ids = {}, []
    while not ("broker_left" in seen and "leader_changed" in seen):
        assert time.time() - t0 < 20, seen
        eid, e = s.next()
        ids.append(eid)
        assert e["time_ms"] > 0, e
        if e["type"] == "broker_left" and e["broker"] == 0:
            seen["broker_left"] = time.time() - t0
        if e["type"] == "leader_changed" and e["topic"] == "con" and e["partition"] == 0:
            assert e["previous_leader"] == 0 and e["leader"] in (1, 2) and 0 not in e["isr"], e
            seen["leader_changed"] = time.time() - t0
    s.close()
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    print("  failover events after %.1fs / %.1fs" % (seen["broker_left"], seen["leader_changed"]))
    p0 = part(2, "con", 0)
    assert p0["leader"] in (1, 2) and p0["under_replicated"], p0
    # a reconnect after the newest id gets nothing old; after an earlier one, what followed
    r = Sse(2, last_id=str(ids[-2]))
    eid, _ = r.next()
    assert eid == ids[-1], (eid, ids)
    r.close()
    dead = [b for b in api(2, "/api/cluster")["brokers"] if not b["alive"]]
    assert [b["id"] for b in dead] == [0], dead


def test_preferred_election_action_on_the_controller():
    cl.brokers[0].start()  # back, as a follower of con-0
    wait(lambda: (part(2, "con", 0) or {}).get("isr") == [0, 1, 2] or
         sorted((part(2, "con", 0) or {}).get("isr", [])) == [0, 1, 2], "broker 0 back in con-0's ISR", 30)
    ctl = api(2, "/api/cluster")["controller_id"]
    assert api(2, "/api/cluster")["actions_enabled"] is True
    other = [i for i in (1, 2) if i != ctl][0]
    st, body = post(other, "/api/actions/elect-preferred")
    assert st == 421 and body["controller_id"] == ctl, (st, body)
    try:
        get(ctl, "/api/actions/elect-preferred")
        assert False, "GET ran an action"
    except urllib.error.HTTPError as e:
        assert e.code == 405, e.code
    for bad in ("?topic=con", "?topic=con&partition=x", "?topic=con&partition=-1"):
        st, body = post(ctl, "/api/actions/elect-preferred" + bad)
        assert st == 400 and "partition" in body["error"], (bad, st, body)
    s = Sse(ctl)
    st, body = post(ctl, "/api/actions/elect-preferred?topic=con&partition=0")
    assert st == 202 and body == {"requested": "preferred leader election", "scope": "con", "partition": 0}, body
    t0 = time.time()
    while True:
        assert time.time() - t0 < 15, "no leader_changed to 0 after the election"
        _, e = s.next()
        if e["type"] == "leader_changed" and e["topic"] == "con" and e["partition"] == 0 and e["leader"] == 0:
            break
    s.close()
    assert not part(ctl, "con", 0)["not_preferred"]


def test_bad_requests_are_answered():
    for path in ("/api/topics?local=%zz", "/api/nothing", "/api/events/../cluster"):
        try:
            st, _, _ = get(1, path)
        except urllib.error.HTTPError as e:
            st = e.code
        assert st in (200, 400, 404), (path, st)
    s = Sse(1, last_id="not-a-number")  # ignored: the newest events
    assert api(1, "/api/cluster")["self"]["event_clients"] == 1
    s.close()
    # every stream whose client went away is dropped (and its request freed)
    for i in [b.id for b in cl.brokers if b.proc.poll() is None]:
        wait(lambda: api(i, "/api/cluster")["self"]["event_clients"] == 0, "broker %d's streams dropped" % i, 5)


if __name__ == "__main__":
    sys.exit(run_suite(cl, globals()))
