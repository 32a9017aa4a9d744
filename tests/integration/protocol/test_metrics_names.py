#!/usr/bin/env python3
"""
tests/integration/protocol/test_metrics_names.py — every metric name the shipped Grafana dashboard
(deploy/grafana/gregor-dashboard.json), the Prometheus alert rules (deploy/prometheus/alerts.yml)
and the Prometheus console (deploy/prometheus/consoles/gregor.html, which queries every name the
dashboard does) query exists in a real broker's /metrics, so none can silently query nothing; and
the Kafka-named series of docs/metrics.md move with real work on one broker and ZooKeeper: bytes
and messages in grow with a produce, request counts and time quantiles with requests, and a Fetch
parked for fetch.min.bytes is counted in the Fetch purgatory while it waits. The alert rules also
pass `promtool check rules`, and the exposition `promtool check metrics` with no finding on a
Kafka-named series but the camelCase label the convention keeps (`delayedOperation`), where
Debian's prometheus package is installed (not a dependency of the build: it would start a
Prometheus daemon on a developer's machine).
Run by Debian's /usr/bin/python3 (confluent_kafka).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import SRC, Cluster, free_port, run_suite  # noqa: E402
from kwire import W, Conn  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HTTP = free_port()
cl = Cluster(n_brokers=1, overrides=["gregor.http.host=127.0.0.1", "gregor.http.port=%d" % HTTP])
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
DASHBOARD = os.path.join(SRC, "deploy", "grafana", "gregor-dashboard.json")
ALERTS = os.path.join(SRC, "deploy", "prometheus", "alerts.yml")
CONSOLE = os.path.join(SRC, "deploy", "prometheus", "consoles", "gregor.html")
CONSOLE_LIB = os.path.join(SRC, "deploy", "prometheus", "console_libraries", "gregor.lib")
# series Prometheus itself adds to every target
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "inf", "nan"}


def scrape():
    """{series with labels: value} and the set of metric names of the broker's /metrics."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % HTTP, timeout=5).read().decode()
    out, names = {}, set()
    for ln in text.splitlines():
        if ln.startswith("#") or not ln:
            continue
        m = LINE.match(ln)
        assert m, "not Prometheus text: %r" % ln
        key = m.group(1) + (m.group(2) or "")
        assert key not in out, "series written twice: %s" % key
        out[key] = float(m.group(3))
        names.add(m.group(1))
    return out, names


def metric_names(expr):
    """The metric names a PromQL expression selects: identifiers left once strings, label
    matchers, ranges, grouping clauses and function calls are taken out."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"'(?:[^'\\]|\\.)*'", "''", e)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        word = m.group(0)
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue  # a function or an operator
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] in "$."):
            continue  # a unit of a number (5m), a dashboard variable
        names.add(word)
    return names


def dashboard_exprs():
    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                yield p["title"], t["expr"]
            yield from walk(p.get("panels", []))
    d = json.load(open(DASHBOARD))
    out = list(walk(d["panels"]))
    for v in d["templating"]["list"]:
        q = v.get("query")
        if isinstance(q, dict) and "label_values(" in q.get("query", ""):
            inner = q["query"].split("label_values(", 1)[1].rsplit(",", 1)[0]
            out.append(("variable " + v["name"], inner))
    return out


def alert_exprs():
    """(alert, expr) of alerts.yml: the file keeps each expr on one `expr:` line."""
    out, alert = [], None
    for ln in open(ALERTS):
        s = ln.strip()
        if s.startswith("- alert:"):
            alert = s.split(":", 1)[1].strip()
        elif s.startswith("expr:"):
            out.append((alert, s.split(":", 1)[1].strip()))
    return out


def console_exprs():
    """(variable, expr) of the console's `$q... := [printf] "..."` definitions: gregor.html runs
    no other query (its header says so; test_every_console_query_names_a_served_series holds it
    to that). The printf verbs stand for label matchers, which metric_names drops."""
    text = open(CONSOLE).read()
    return re.findall(r'\{\{-?\s*\$(q\w+)\s*:=\s*(?:printf\s+)?"((?:[^"\\]|\\.)*)"', text)


def test_setup():
    a = AdminClient({"bootstrap.servers": "127.0.0.1:%d" % cl.brokers[0].port})
    fs = a.create_topics([NewTopic("names", 1, replication_factor=1)])
    assert fs["names"].result(30) is None
    end = time.time() + 30
    while scrape()[0].get("kafka_server_replicamanager_leadercount") != 1:
        assert time.time() < end, "the broker never led the partition"
        time.sleep(0.1)


def test_produce_moves_bytes_messages_and_request_series():
    before, _ = scrape()
    p = Producer({"bootstrap.servers": "127.0.0.1:%d" % cl.brokers[0].port, "acks": "all",
                  "linger.ms": 5})
    for k in range(100):
        p.produce("names", b"value-%04d" % k)
    assert p.flush(30) == 0
    m, _ = scrape()
    key = '{topic="names"}'
    assert m["kafka_server_brokertopicmetrics_messagesin_total" + key] == 100, m
    assert m["kafka_server_brokertopicmetrics_bytesin_total" + key] > 1000
    assert (m["kafka_server_brokertopicmetrics_bytesin_total" + key] ==
            m['gregor_topic_bytes_in_total{topic="names"}'])
    req = 'kafka_network_requestmetrics_requests_total{request="Produce"}'
    assert m[req] >= before.get(req, 0) + 1
    cnt = 'kafka_network_requestmetrics_totaltimems_count{request="Produce"}'
    assert m[cnt] == m[req] == m['gregor_api_requests_total{api="Produce"}']
    assert m['kafka_network_requestmetrics_requestqueuetimems_count{request="Produce"}'] == m[cnt]
    # quantiles are ordered and some request took measurable time
    qs = [m['kafka_network_requestmetrics_totaltimems{request="Produce",quantile="%s"}' % q]
          for q in ("0.50", "0.75", "0.95", "0.98", "0.99", "0.999")]
    assert qs == sorted(qs) and qs[-1] > 0, qs
    q = m['kafka_network_requestmetrics_requestqueuetimems{request="Produce",quantile="0.99"}']
    assert 0 <= q <= qs[-1], (q, qs)
    assert m["kafka_controller_kafkacontroller_activecontrollercount"] == 1
    assert m["kafka_server_replicamanager_underreplicatedpartitions"] == 0


def test_a_waiting_fetch_is_in_the_fetch_purgatory():
    name = 'kafka_server_delayedoperationpurgatory_purgatorysize{delayedOperation="%s"}'
    m, _ = scrape()
    assert m[name % "Fetch"] == 0 and m[name % "Produce"] == 0, m
    # Fetch v4 at the end of names-0, waiting up to 3 s for 1 MiB that never comes
    body = W().i32(-1).i32(3000).i32(1 << 20).i32(1 << 20).i8(0).array(
        ["names"], lambda w, t: (w.str(t), w.array([0], lambda w, p: (
            w.i32(p).i64(100).i32(1 << 20))))).b
    conn = Conn("127.0.0.1", cl.brokers[0].port)
    t0 = time.time()
    conn.send(1, 4, body)
    end = time.time() + 2.5
    seen = 0
    while time.time() < end and not seen:
        seen = scrape()[0][name % "Fetch"]
        time.sleep(0.05)
    assert seen == 1, "the parked Fetch was never counted"
    conn.recv_frame()
    assert time.time() - t0 >= 2.5, "the Fetch did not wait"
    conn.close()
    assert scrape()[0][name % "Fetch"] == 0


def check_names(where, exprs, names):
    missing = []
    for what, e in exprs:
        for n in metric_names(e):
            if n not in names and n not in PROMETHEUS_OWN:
                missing.append("%s: %s (%s)" % (what, n, e))
    assert not missing, "%s queries series /metrics does not serve:\n  %s" % (
        where, "\n  ".join(missing))


def test_every_dashboard_query_names_a_served_series():
    _, names = scrape()
    exprs = dashboard_exprs()
    assert len(exprs) >= 20, exprs
    assert any("kafka_log_logflushstats_logflushrateandtimems" in e for _, e in exprs)
    check_names("the dashboard", exprs, names)


def test_every_alert_names_a_served_series():
    _, names = scrape()
    exprs = alert_exprs()
    assert len(exprs) >= 8, exprs
    check_names("alerts.yml", exprs, names)


def test_every_console_query_names_a_served_series():
    _, names = scrape()
    exprs = console_exprs()
    assert len(exprs) >= 30, exprs
    text = open(CONSOLE).read()
    for var, _ in exprs:  # each definition is queried or graphed somewhere
        assert len(re.findall(r"\$%s\b" % var, text)) >= 2, "$%s is never used" % var
    for path, body in ((CONSOLE, text), (CONSOLE_LIB, open(CONSOLE_LIB).read())):
        assert not re.search(r'query\s+"', body), "%s queries a literal expression" % path
    assert "expr:" not in text, "gregor.html graphs outside gregor.lib's gregor_graph"
    # the Grafana dashboard's panels are on the console: every name it queries, the console does
    dash = set().union(*(metric_names(e) for _, e in dashboard_exprs()))
    console = set().union(*(metric_names(e) for _, e in exprs))
    assert dash <= console, "the console leaves out %s" % sorted(dash - console)
    check_names("the console", exprs, names)


def test_the_name_check_catches_a_misspelled_name():
    _, names = scrape()
    try:
        check_names("a probe", [("probe", "sum(kafka_server_replicamanager_underreplicated)")],
                    names)
    except AssertionError:
        return
    raise AssertionError("a name /metrics does not serve passed the check")


def test_promtool_accepts_the_alert_rules_and_the_exposition():
    promtool = shutil.which("promtool")
    if not promtool:
        print("  (promtool not installed: Debian's prometheus package; not checked)")
        return
    r = subprocess.run([promtool, "check", "rules", ALERTS], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % HTTP, timeout=5).read()
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       timeout=30)
    # 0: clean, 3: lint findings only (gregor_* names with ms/us in them), 1: not parsable
    assert r.returncode in (0, 3), (r.returncode, r.stdout, r.stderr)
    findings = [ln for ln in (r.stdout + r.stderr).decode().splitlines()
                if ln.strip().startswith("kafka_") and "camelCase" not in ln]
    assert not findings, findings


if __name__ == "__main__":
    sys.exit(run_suite(cl, globals()))
