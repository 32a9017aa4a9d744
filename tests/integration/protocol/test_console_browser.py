#!/usr/bin/env python3
"""
tests/integration/protocol/test_console_browser.py — the web console in a real browser:
headless Chromium (Debian's `chromium`) loads the page from one broker of a running 3-broker
cluster (real ZooKeeper, real brokers), which shows the partition's leader and a group's lag
(committed through librdkafka); the test kills that leader (SIGKILL) and reads the live page's
DOM through the DevTools protocol (cdp.py) until it shows the new leader, the broker down, and
the leader_changed event pushed by the live feed. Screenshots of the page before and after the
failover are kept in <build>/test-artifacts/console/ (docs/testing.md). Prints the page weight
and Chromium's paint timings. With gregor.console.actions.enable, a group's offsets are reset
from the page (the plan shown in a confirmation first); a broker without it refuses actions. A
`gregor mirror` copying `web` to `m.web` in the same cluster is listed by gregor.console.mirrors
(with a second URL nobody answers): the page shows its alias, up, lag 0 and the partition's
position, and the other mirror as unreachable; ?mirrors= in the address replaces the list. Skipped (exit 0 with a SKIP line) when
chromium is not installed.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser  # noqa: E402
from cluster import BUILD, Cluster, free_port, run_suite  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    print("SKIP: chromium is not installed (deploy/install-deps.sh installs it)")
    sys.exit(0)

HTTP = [free_port() for _ in range(3)]
MIRROR, NO_MIRROR = free_port(), free_port()  # the second: a mirror that never answers
# offsets.topic.replication.factor=3: the group's coordinator survives broker 0's death (with 1, a
# third of __consumer_offsets goes offline with it, and the page rightly shows no such group)
cl = Cluster(n_brokers=3, overrides=["gregor.http.host=127.0.0.1", "zookeeper.session.timeout.ms=6000",
                                     "gregor.console.actions.enable=true", "offsets.topic.replication.factor=3",
                                     "gregor.console.mirrors=http://127.0.0.1:%d/, http://127.0.0.1:%d" % (
                                         MIRROR, NO_MIRROR)],
             per_broker=lambda i: ["gregor.http.port=%d" % HTTP[i]])
ART = os.path.join(BUILD, "test-artifacts", "console")
os.makedirs(ART, exist_ok=True)
PROFILE = tempfile.mkdtemp(prefix="gregor-chromium-")
# the page finds the other brokers' consoles at the ports given (the tests' ports are random)
URL = "http://127.0.0.1:%d/?peers=%s" % (HTTP[2], ",".join("%d=http://127.0.0.1:%d" % (i, HTTP[i]) for i in range(3)))


BROWSER = None
MIRROR_PROC = None


def browser():
    global BROWSER
    if BROWSER is None:
        BROWSER = Browser(CHROMIUM, URL, PROFILE)
    return BROWSER


def screenshot(name):
    path = os.path.join(ART, name)
    n = browser().screenshot(path)
    assert n > 10000, (path, n)
    print("  screenshot " + path)


LEADER = """(() => { const r = document.querySelector('tr[data-topic="%s"][data-partition="%d"]');
  return r ? Number(r.dataset.leader) : null; })()"""


def leader_shown(topic, p):
    return browser().eval(LEADER % (topic, p))


def alive_shown(b):
    return browser().eval("""(() => { const r = document.querySelector('tr[data-broker="%d"]');
      return r ? r.dataset.alive : null; })()""" % b)


def wait(cond, what, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("the page never showed %s:\n%s" % (
        what, browser().eval("document.body.innerText")[-3000:]))


def test_setup():
    a = AdminClient({"bootstrap.servers": ",".join("127.0.0.1:%d" % b.port for b in cl.brokers)})
    for f in a.create_topics([NewTopic("web", 1, replica_assignment=[[0, 1, 2]])]).values():
        assert f.result(30) is None
    pr = Producer({"bootstrap.servers": ",".join("127.0.0.1:%d" % b.port for b in cl.brokers), "acks": "all"})
    for k in range(5):
        pr.produce("web", b"r%d" % k, partition=0)
    assert pr.flush(30) == 0
    c = Consumer({"bootstrap.servers": ",".join("127.0.0.1:%d" % b.port for b in cl.brokers),
                  "group.id": "web-g", "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition("web", 0, 2)], asynchronous=False)
    c.close()


def test_page_shows_the_leader():
    t0 = time.time()
    browser()
    wait(lambda: leader_shown("web", 0) == 0 and alive_shown(0) == "true", "leader 0 of web-0", 20)
    print("  page showing the cluster %.1fs after Chromium started" % (time.time() - t0))
    # the group's lag: end offset 5 (on the leader, broker 0) minus committed 2, from its coordinator
    wait(lambda: browser().eval("""(() => { const r = document.querySelector('tr[data-group="web-g"]');
      return r ? r.dataset.lag : null; })()""") == "3", "web-g's lag of 3", 10)
    with urllib.request.urlopen("http://127.0.0.1:%d/" % HTTP[2], timeout=5) as r:
        weight = len(r.read())
    paint = browser().eval("JSON.stringify(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]))")
    nav = browser().eval("JSON.stringify(performance.getEntriesByType('navigation').map(e => [e.responseEnd, e.domContentLoadedEventEnd, e.loadEventEnd]))")
    print("  page weight %d bytes; paint timings %s; navigation (responseEnd, DOMContentLoaded, load) %s" % (
        weight, paint, nav))
    assert weight < 64 * 1024, weight
    assert browser().eval("document.getElementById('controller') !== null")
    screenshot("before-failover.png")


MIRROR_ROW = """(() => { const m = document.querySelector('div.mirror[data-alias="console"]');
  const r = m && m.querySelector('tr[data-mirror-topic="web"][data-partition="0"]');
  return r ? [m.dataset.state, m.dataset.lag, r.dataset.lag, r.cells[2].textContent, r.cells[3].textContent].join(" ") : null;
})()"""


def test_page_shows_the_mirror():
    global MIRROR_PROC
    boot = ",".join("127.0.0.1:%d" % b.port for b in cl.brokers)
    MIRROR_PROC = subprocess.Popen(
        [os.path.join(BUILD, "bin", "gregor"), "mirror", "--source", boot, "--target", boot, "--topics", "web",
         "--prefix", "m.", "--alias", "console", "--metrics-port", "127.0.0.1:%d" % MIRROR,
         "--refresh-interval", "1000", "--commit-interval", "100"],
        stdout=open(os.path.join(cl.tmp, "mirror.log"), "a"), stderr=subprocess.STDOUT, start_new_session=True)
    t0 = time.time()
    # web-0 holds 5 records: copied, the mirror is at position 5 with no lag
    wait(lambda: browser().eval(MIRROR_ROW) == "up 0 0 m.web 5", "mirror console up, lag 0, web-0 at 5", 15)
    print("  mirror shown caught up %.1fs after it started" % (time.time() - t0))
    wait(lambda: browser().eval("""(() => { const m = document.querySelector('div.mirror[data-url="http://127.0.0.1:%d"]');
      return m ? m.dataset.state : null; })()""" % NO_MIRROR) == "unreachable", "the other mirror unreachable", 5)
    screenshot("mirror.png")
    # ?mirrors= in the address replaces the configured list
    browser().call("Page.navigate", url=URL + "&mirrors=http://127.0.0.1:%d/" % MIRROR)
    wait(lambda: browser().eval("""document.querySelectorAll('div.mirror').length === 1 &&
      document.querySelector('div.mirror').dataset.url""") == "http://127.0.0.1:%d" % MIRROR and
         browser().eval(MIRROR_ROW) == "up 0 0 m.web 5", "only the mirror named by ?mirrors=", 10)
    MIRROR_PROC.terminate()
    assert MIRROR_PROC.wait(30) == 0, "the mirror did not exit cleanly on SIGTERM"


def test_page_shows_the_new_leader_after_a_kill():
    cl.brokers[0].stop(signal.SIGKILL)
    t0 = time.time()
    wait(lambda: leader_shown("web", 0) in (1, 2) and alive_shown(0) == "false",
         "a new leader of web-0 and broker 0 down", 30)
    took = time.time() - t0
    print("  new leader %d shown %.1fs after the kill (ZooKeeper session timeout 6 s)" % (
        leader_shown("web", 0), took))
    assert took < 20, took
    # the live feed pushed the failover to the open page
    wait(lambda: browser().eval("""!!document.querySelector('#events li[data-type="leader_changed"]') &&
        !!document.querySelector('#events li[data-type="broker_left"]')"""), "the failover in the event feed", 10)
    screenshot("after-failover.png")


def committed(gid, topic, p):
    c = Consumer({"bootstrap.servers": ",".join("127.0.0.1:%d" % b.port for b in cl.brokers if b.proc.poll() is None),
                  "group.id": gid, "enable.auto.commit": False})
    try:
        return c.committed([TopicPartition(topic, p)], timeout=10)[0].offset
    finally:
        c.close()


def test_reset_offsets_from_the_page():
    # the plan is shown in a confirmation dialog before anything is committed: answer it here
    browser().eval("""window.__dialogs = []; window.prompt = (m, d) => { __dialogs.push(m); return "latest"; };
        window.confirm = m => { __dialogs.push(m); return true; }; true""")
    wait(lambda: browser().eval("!!document.querySelector('button[data-reset-group=\"web-g\"]')"),
         "the reset button of web-g", 10)
    browser().eval("document.querySelector('button[data-reset-group=\"web-g\"]').click(); true")
    wait(lambda: "reset" in (browser().eval("document.getElementById('action').textContent") or ""),
         "the reset's outcome", 10)
    dialogs = browser().eval("__dialogs")
    assert len(dialogs) == 2 and "web-0: 2 → 5" in dialogs[1], dialogs
    assert browser().eval("document.getElementById('action').textContent") == "offsets of web-g reset"
    assert committed("web-g", "web", 0) == 5
    wait(lambda: browser().eval("""(() => { const r = document.querySelector('tr[data-group="web-g"]');
      return r ? r.dataset.lag : null; })()""") == "0", "web-g's lag of 0", 10)


def test_actions_are_off_by_default():
    b = cl.brokers[0]  # back without gregor.console.actions.enable
    b.overrides = [o for o in b.overrides if not o.startswith("gregor.console.actions")]
    b.start()
    end = time.time() + 10
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/api/cluster" % HTTP[0], timeout=5) as r:
                assert b'"actions_enabled":false' in r.read()
            break
        except urllib.error.URLError:
            assert time.time() < end, "broker 0's HTTP port never answered"
            time.sleep(0.1)
    req = urllib.request.Request("http://127.0.0.1:%d/api/actions/elect-preferred" % HTTP[0], method="POST", data=b"")
    try:
        urllib.request.urlopen(req, timeout=5)
        assert False, "an action ran without gregor.console.actions.enable"
    except urllib.error.HTTPError as e:
        assert e.code == 403 and b"gregor.console.actions.enable=false" in e.read(), e.code


if __name__ == "__main__":
    try:
        rc = run_suite(cl, globals())
    finally:
        if BROWSER:
            BROWSER.stop()
        if MIRROR_PROC and MIRROR_PROC.poll() is None:
            MIRROR_PROC.kill()
        shutil.rmtree(PROFILE, ignore_errors=True)
    sys.exit(rc)
