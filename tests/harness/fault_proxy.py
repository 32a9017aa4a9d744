#!/usr/bin/python3
"""
tests/harness/fault_proxy.py — a TCP proxy between Kafka clients and one broker that loses
Produce responses: while armed, it forwards a chosen Produce request to the broker, waits for
the broker's response, and instead of returning it closes both connections. The write happened
(with acks=all, it is replicated) but the client cannot know: it retries, and with an idempotent
producer the leader must answer the retry without appending again.

Frames are Kafka's (int32 size, then the frame); requests start with api_key int16,
api_version int16, correlation_id int32; responses with correlation_id int32. Everything else
passes through untouched, so a broker advertising the proxy's port serves every client API
through it.

Library:  p = FaultProxy(listen_port, ("127.0.0.1", broker_port), drop_one_in=8); p.start()
          p.armed = True / False;  p.stats -> {"connections", "produce", "dropped"};  p.stop()
CLI:      fault_proxy.py LISTEN_PORT BROKER_PORT [--drop-one-in N]   (armed until killed)
"""
import argparse
import random
import socket
import struct
import threading
import time


def read_frame(sock):
    """One size-prefixed frame (without the size), or None at EOF."""
    hdr = _read(sock, 4)
    if hdr is None:
        return None
    n = struct.unpack(">i", hdr)[0]
    if n < 0 or n > 200 * 1024 * 1024:
        return None
    body = _read(sock, n)
    return None if body is None else body


def _read(sock, n):
    out = b""
    while len(out) < n:
        try:
            chunk = sock.recv(n - len(out))
        except OSError:
            return None
        if not chunk:
            return None
        out += chunk
    return out


class _Pair:
    """One client connection and its broker connection."""

    def __init__(self, proxy, client, broker):
        self.proxy, self.client, self.broker = proxy, client, broker
        self.doomed = set()             # correlation ids of Produce requests whose answer dies
        self.lock = threading.Lock()
        self.closed = False

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.broker):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def upstream(self):
        """client -> broker: picks the Produce requests to doom."""
        try:
            while True:
                f = read_frame(self.client)
                if f is None or len(f) < 8:
                    break
                key, _ver, corr = struct.unpack(">hhi", f[:8])
                if key == 0:
                    doom = self.proxy._pick()
                    if doom:
                        with self.lock:
                            self.doomed.add(corr)
                self.broker.sendall(struct.pack(">i", len(f)) + f)
        except OSError:
            pass
        self.close()

    def downstream(self):
        """broker -> client: drops the connection instead of a doomed response."""
        try:
            while True:
                f = read_frame(self.broker)
                if f is None or len(f) < 4:
                    break
                corr = struct.unpack(">i", f[:4])[0]
                with self.lock:
                    doomed = corr in self.doomed
                if doomed:
                    self.proxy._count("dropped")
                    break
                self.client.sendall(struct.pack(">i", len(f)) + f)
        except OSError:
            pass
        self.close()


class FaultProxy:
    def __init__(self, listen_port, target, drop_one_in=8, seed=None):
        self.listen_port, self.target, self.drop_one_in = listen_port, target, drop_one_in
        self.armed = False
        self.rng = random.Random(seed)
        self.stats = {"connections": 0, "produce": 0, "dropped": 0}
        self.lock = threading.Lock()
        self.srv = None
        self.pairs = []
        self.stopping = False

    def _count(self, k):
        with self.lock:
            self.stats[k] += 1

    def _pick(self):
        with self.lock:
            self.stats["produce"] += 1
            return self.armed and self.rng.randrange(self.drop_one_in) == 0

    def start(self):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", self.listen_port))
        self.srv.listen(128)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(self.target, timeout=5)
                b.settimeout(None)
            except OSError:          # the broker is down: the client sees a refused connection
                c.close()
                continue
            for s in (c, b):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._count("connections")
            pair = _Pair(self, c, b)
            with self.lock:
                self.pairs = [p for p in self.pairs if not p.closed] + [pair]
            threading.Thread(target=pair.upstream, daemon=True).start()
            threading.Thread(target=pair.downstream, daemon=True).start()

    def drop_all(self):
        """Closes every open connection now (a network blip)."""
        with self.lock:
            pairs = list(self.pairs)
        for p in pairs:
            p.close()

    def stop(self):
        self.stopping = True
        if self.srv is not None:
            self.srv.close()
        self.drop_all()


def main():
    ap = argparse.ArgumentParser(description="Kafka proxy that loses Produce responses.")
    ap.add_argument("listen_port", type=int)
    ap.add_argument("broker_port", type=int)
    ap.add_argument("--drop-one-in", type=int, default=8)
    a = ap.parse_args()
    p = FaultProxy(a.listen_port, ("127.0.0.1", a.broker_port), a.drop_one_in).start()
    p.armed = True
    try:
        while True:
            time.sleep(5)
            print(p.stats, flush=True)
    except KeyboardInterrupt:
        p.stop()


if __name__ == "__main__":
    main()
