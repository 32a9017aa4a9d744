#!/usr/bin/env python3
"""
tests/integration/protocol/test_fetch_paths.py — the two ways Fetch record
bytes leave the broker: sendfile from the segment file (default) and a pread
copy (gregor.fetch.sendfile=false). Both must return identical bytes; the
/metrics counters of the HTTP endpoint (gregor.http.port) show which path
carried them.
"""
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import Conn, record_batch  # noqa: E402
from cluster import Cluster, free_port, run_tests  # noqa: E402
import test_api_matrix as m  # noqa: E402


def metrics(port):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.split()
            out[k] = float(v) if "." in v else int(v)  # gauges may be fractional
    return out


def fetch_all(port, topic):
    c = Conn("127.0.0.1", port)
    f = m.decode_fetch(c.call(1, 11, m.fetch_body(11, [(topic, 0, 0, 1 << 24)], max_bytes=1 << 24)), 11)
    c.close()
    p = f[topic][0]
    assert p["err"] == 0, p
    return p["records"]


def run_path(sendfile):
    http = free_port()
    cl = Cluster(overrides=["gregor.http.port=%d" % http, "gregor.fetch.sendfile=%s" % sendfile])
    try:
        port = cl.brokers[0].port
        c = Conn("127.0.0.1", port)
        body = m.create_topics_body(4, [("paths", 1, 1, {})])
        assert m.decode_create_topics(c.call(19, 4, body), 4)["paths"]["err"] == 0
        sent = []
        for i in range(50):
            b = record_batch([(b"k%d" % i, os.urandom(2000), 0)])
            res = m.decode_produce(c.call(0, 7, m.produce_body(7, "paths", 0, b)), 7)
            assert res["paths"][0]["err"] == 0
            sent.append(b)
        c.close()
        before = metrics(http)
        data = fetch_all(port, "paths")
        after = metrics(http)
        got = m.parse_batches(data)
        assert len(got) == 50 and all(g[3][16:] == s[16:] for g, s in zip(got, sent))
        assert after["gregor_produce_records_total"] == 50
        assert after["gregor_produce_bytes_total"] == sum(len(s) for s in sent)
        sf = after["gregor_fetch_sendfile_bytes_total"] - before["gregor_fetch_sendfile_bytes_total"]
        cp = after["gregor_fetch_copied_bytes_total"] - before["gregor_fetch_copied_bytes_total"]
        assert urllib.request.urlopen("http://127.0.0.1:%d/healthz" % http, timeout=5).read() == b"ok\n"
        return data, sf, cp
    finally:
        assert cl.stop() == [], "broker exited uncleanly"


def test_sendfile_is_default_and_counted():
    data, sf, cp = run_path("true")
    assert sf == len(data) and cp == 0, (sf, cp, len(data))


def test_copy_path_returns_the_same_bytes():
    data, sf, cp = run_path("false")
    assert cp == len(data) and sf == 0, (sf, cp, len(data))


def test_shutdown_right_after_a_client_left_a_parked_fetch():
    # regression: a long-polling Fetch whose client disconnected stayed parked
    # (holding partition waiters) and a shutdown within max_wait aborted
    import time
    cl = Cluster()
    try:
        port = cl.brokers[0].port
        c = Conn("127.0.0.1", port)
        assert m.decode_create_topics(c.call(19, 4, m.create_topics_body(4, [("parked", 1, 1, {})])), 4)["parked"]["err"] == 0
        c.send(1, 11, m.fetch_body(11, [("parked", 0, 0, 1 << 20)], max_wait=30000))
        time.sleep(0.3)
        c.close()
        time.sleep(0.3)
    finally:
        assert cl.stop() == [], "broker exited uncleanly"


if __name__ == "__main__":
    sys.exit(run_tests([test_sendfile_is_default_and_counted, test_copy_path_returns_the_same_bytes,
                        test_shutdown_right_after_a_client_left_a_parked_fetch]))
