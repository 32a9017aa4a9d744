#!/usr/bin/env python3
"""
tests/integration/protocol/test_response_writes.py — how responses leave the
broker (broker/net/conn.c, "Response writes"): straight to the socket while
nothing is queued, the rest through the connection's output buffer. Clients
here read slowly through a tiny receive buffer, or pipeline requests without
reading, so that responses are cut by partial writes and EAGAIN at every
kind of piece (header, body bytes, a sendfile span, a copied span). Every
byte must arrive intact and in request order, the /metrics byte counters must
count each file byte once, and a client that does not read must not hold up
other connections of the same network thread (num.network.threads=1).
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import Conn, R, W, record_batch  # noqa: E402
from cluster import Cluster, free_port, run_tests  # noqa: E402
import test_api_matrix as m  # noqa: E402
from test_fetch_paths import metrics  # noqa: E402

BATCHES = 24
VALUE = 128 << 10


def slow_conn(port, rcvbuf=4096):
    """A Conn whose socket has a tiny receive buffer (set before connecting, so
    the TCP window stays small)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    c = Conn.__new__(Conn)
    c.s = s
    c.corr = 0
    return c


def read_slowly(c, n):
    """Reads n bytes in small pieces with pauses."""
    out = bytearray()
    reads = 0
    while len(out) < n:
        chunk = c.s.recv(min(2048, n - len(out)))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        out += chunk
        reads += 1
        if reads % 32 == 0:
            time.sleep(0.002)
    return bytes(out)


def recv_frame_slowly(c):
    n = struct.unpack(">i", read_slowly(c, 4))[0]
    return read_slowly(c, n)


def others_are_served(port):
    """Another connection gets an ApiVersions answer promptly."""
    t0 = time.time()
    o = Conn("127.0.0.1", port, timeout=5)
    m.decode_api_versions(o.call(18, 3, m.api_versions_body(3)), 3)
    o.close()
    took = time.time() - t0
    assert took < 2.0, "another connection waited %.2fs" % took


def fetch_records(frame, corr, topic):
    r = R(frame)
    got = r.i32()
    assert got == corr, "correlation id %d, expected %d" % (got, corr)
    f = m.decode_fetch(r, 4)
    p = f[topic][0]
    assert p["err"] == 0, p
    return p["records"]


def check_batches(data, sent, first):
    """Every whole batch in data is the batch produced at offset first+k."""
    got = m.parse_batches(data)
    assert got, "no whole batch"
    for k, g in enumerate(got):
        assert g[0] == first + k, (g[0], first + k)
        assert g[3][16:] == sent[first + k][16:], "batch at offset %d differs" % (first + k)
    return len(got)


class Setup:
    def __init__(self, sendfile):
        self.http = free_port()
        self.cl = Cluster(overrides=["gregor.http.port=%d" % self.http,
                                     "gregor.fetch.sendfile=%s" % sendfile,
                                     "num.network.threads=1"])
        self.port = self.cl.brokers[0].port
        c = Conn("127.0.0.1", self.port)
        assert m.decode_create_topics(c.call(19, 4, m.create_topics_body(4, [("big", 1, 1, {})])),
                                      4)["big"]["err"] == 0
        self.sent = []
        for i in range(BATCHES):
            b = record_batch([(b"k%d" % i, os.urandom(VALUE), 0)])
            res = m.decode_produce(c.call(0, 7, m.produce_body(7, "big", 0, b)), 7)
            assert res["big"][0]["err"] == 0 and res["big"][0]["base"] == i, res
            self.sent.append(b)
        c.close()

    def file_bytes(self):
        mt = metrics(self.http)
        return mt["gregor_fetch_sendfile_bytes_total"], mt["gregor_fetch_copied_bytes_total"]

    def stop(self):
        assert self.cl.stop() == [], "broker exited uncleanly"


def slow_reader_gets_a_large_fetch_intact(sendfile):
    st = Setup(sendfile)
    try:
        sf0, cp0 = st.file_bytes()
        c = slow_conn(st.port)
        corr = c.send(1, 4, m.fetch_body(4, [("big", 0, 0, 16 << 20)], max_bytes=16 << 20))
        time.sleep(0.5)  # the broker writes what the socket takes and queues the rest
        others_are_served(st.port)
        data = fetch_records(recv_frame_slowly(c), corr, "big")
        assert check_batches(data, st.sent, 0) == BATCHES
        # a second fetch on the same connection after the queue drained
        corr = c.send(1, 4, m.fetch_body(4, [("big", 0, 5, 16 << 20)], max_bytes=16 << 20))
        data2 = fetch_records(recv_frame_slowly(c), corr, "big")
        assert check_batches(data2, st.sent, 5) == BATCHES - 5
        c.close()
        sf, cp = st.file_bytes()
        total = len(data) + len(data2)
        if sendfile == "true":
            assert (sf - sf0, cp - cp0) == (total, 0), (sf - sf0, cp - cp0, total)
        else:
            assert (sf - sf0, cp - cp0) == (0, total), (sf - sf0, cp - cp0, total)
    finally:
        st.stop()


def test_slow_reader_large_fetch_sendfile():
    slow_reader_gets_a_large_fetch_intact("true")


def test_slow_reader_large_fetch_copied():
    slow_reader_gets_a_large_fetch_intact("false")


def test_pipelined_fetches_past_the_output_limit_stay_in_order():
    # 12 responses of ~1.5 MiB while the client does not read: more than the
    # 4 MiB at which the broker stops taking a connection's requests
    st = Setup("true")
    try:
        c = slow_conn(st.port)
        n = 12
        corrs = [c.send(1, 4, m.fetch_body(4, [("big", 0, i, 1536 << 10)], max_bytes=1536 << 10))
                 for i in range(n)]
        time.sleep(0.5)
        others_are_served(st.port)
        for i, corr in enumerate(corrs):
            check_batches(fetch_records(recv_frame_slowly(c), corr, "big"), st.sent, i)
        others_are_served(st.port)
        c.close()
    finally:
        st.stop()


def test_pipelined_small_responses_cut_anywhere_stay_in_order():
    # thousands of small responses into a socket that is not read: one of them
    # is cut by a partial write, the rest queue behind it
    st = Setup("true")
    try:
        c = slow_conn(st.port)
        body = m.api_versions_body(3)
        n = 3000
        c.s.sendall(b"".join(frame_of(c, 18, 3, body) for _ in range(n)))
        time.sleep(0.5)
        others_are_served(st.port)
        first = None
        for i in range(n):
            frame = recv_frame_slowly(c)
            corr = struct.unpack(">i", frame[:4])[0]
            assert corr == i + 1, (corr, i + 1)
            if first is None:
                first = frame[4:]
            assert frame[4:] == first, "response %d differs" % (i + 1)
        c.close()
    finally:
        st.stop()


def frame_of(c, key, ver, body):
    """A request frame as Conn.send() would write it (ApiVersions v3 is flexible)."""
    c.corr += 1
    h = W().i16(key).i16(ver).i32(c.corr).str("gregor-test").uvarint(0)
    frame = bytes(h.b) + bytes(body)
    return struct.pack(">i", len(frame)) + frame


if __name__ == "__main__":
    sys.exit(run_tests([test_slow_reader_large_fetch_sendfile, test_slow_reader_large_fetch_copied,
                        test_pipelined_fetches_past_the_output_limit_stay_in_order,
                        test_pipelined_small_responses_cut_anywhere_stay_in_order]))
