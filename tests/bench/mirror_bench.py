#!/usr/bin/python3
"""
tests/bench/mirror_bench.py — throughput of `gregor mirror` against a plain copy with the same
clients: two 1-broker clusters on this host, N records of SIZE bytes (keyed, one header) in a
4-partition source topic, then
  plain:  kcat -C (read to the end) | kcat -P with enable.idempotence=true into the target
          (values and keys only, no headers, partitions chosen by key hash);
  mirror: gregor mirror into the target until its /metrics positions reach the source's end.
Prints MB/s of value bytes for each. Usage: mirror_bench.py [N [SIZE]] (default 200000 1000).
Run from a build: GREGOR_SOURCE_DIR, GREGOR_BUILD_DIR as for the integration tests.
"""
import os
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "protocol"))
from cluster import Cluster, BUILD, free_port  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
SIZE = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
PARTS = 4


def bs(cl):
    return "127.0.0.1:%d" % cl.brokers[0].port


def load(cl):
    admin = AdminClient({"bootstrap.servers": bs(cl)})
    for f in admin.create_topics([NewTopic("load", PARTS, 1)]).values():
        f.result(30)
    p = Producer({"bootstrap.servers": bs(cl), "linger.ms": 20, "batch.size": 1000000})
    value = b"x" * SIZE
    for i in range(N):
        while True:
            try:
                p.produce("load", key=b"k%d" % i, value=value, partition=i % PARTS,
                          headers=[("seq", b"%d" % i)])
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(120) == 0


def plain(src, dst):
    t = time.time()
    cons = subprocess.Popen(["kcat", "-C", "-b", bs(src), "-t", "load", "-e", "-q", "-f", "%k\t%s\n",
                             "-o", "beginning"], stdout=subprocess.PIPE)
    prod = subprocess.run(["kcat", "-P", "-b", bs(dst), "-t", "plain", "-K", "\t",
                           "-X", "enable.idempotence=true", "-X", "linger.ms=5"],
                          stdin=cons.stdout, check=True)
    cons.wait()
    assert prod.returncode == 0
    return time.time() - t


def positions(port):
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read().decode()
    except OSError:
        return 0
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("gregor_mirror_position{"))


def mirror(src, dst):
    port = free_port()
    t = time.time()
    proc = subprocess.Popen([os.path.join(BUILD, "bin", "gregor"), "mirror", "--source", bs(src),
                             "--target", bs(dst), "--topics", "load", "--prefix", "m.",
                             "--metrics-port", "127.0.0.1:%d" % port])
    first = None
    try:
        while True:
            n = positions(port)
            if n > 0 and first is None:
                first, n_first = time.time(), n
            if n >= N:
                return time.time() - t, (N - n_first) * SIZE / 1e6 / (time.time() - first)
            time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(60)


def main():
    ov = ["offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
          "transaction.state.log.min.isr=1", "default.replication.factor=1"]
    src, dst = Cluster(1, ov), Cluster(1, ov)
    try:
        load(src)
        mb = N * SIZE / 1e6
        tp = plain(src, dst)
        tm, tc = mirror(src, dst)  # tc: MB/s once copying
        print("records %d x %d B (%.0f MB of values)" % (N, SIZE, mb))
        n = subprocess.run(["kcat", "-C", "-b", bs(dst), "-t", "plain", "-e", "-q", "-f", "x\n"],
                           capture_output=True).stdout.count(b"x")
        assert n == N, "the plain copy holds %d records" % n
        print("plain kcat | kcat: %.2f s, %.1f MB/s" % (tp, mb / tp))
        print("gregor mirror:     %.2f s, %.1f MB/s from process start; %.1f MB/s after the "
              "first transaction" % (tm, mb / tm, tc))
    finally:
        src.stop()
        dst.stop()


if __name__ == "__main__":
    main()
