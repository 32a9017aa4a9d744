#!/usr/bin/python3
"""tests/bench/cleaner_load_bench.py — the log cleaner's cost to produce throughput, and its
throttle (docs/PERFORMANCE.md §15). Run by tests/bench/run; prints key=value lines.

  cleaner_load_bench.py ZK_CONNECT TMPDIR [--quick] [--fill-mb MB]

Fills topic `compacted` (1 partition, cleanup.policy=compact, segment.bytes=1 MiB,
min.cleanable.dirty.ratio=0.01) with FILL_MB (256; 128 with --quick) of 1 KiB keyed records,
a tenth as many keys as records (about 90 % overwritten), on a broker with
log.cleaner.threads=0, so every closed segment stays dirty. Then, for each mode, copies that log directory, starts one broker on it
(ZooKeeper chroot /gregor-cleaner-bench-<pid>, log.cleaner.backoff.ms=100, /metrics on), waits until
the cleaner registered the log, and runs tests/bench/produce_bench (1 KiB records, 1 partition,
acks=1, linger.ms=5) into another topic:

  off        log.cleaner.threads=0: nothing cleans
  on         log.cleaner.threads=1, unthrottled
  throttled  log.cleaner.threads=1, log.cleaner.io.max.bytes.per.second = half of what the
             unthrottled pass did (read + write bytes per second)
  off2       as off, last: the spread between off and off2 is the run-to-run noise

/metrics is read every 100 ms (gregor_log_cleaner_* counters, updated when a pass ends), so the
cleaner's rate is bytes of its passes / their duration, and the share of the produce window it
was busy is known. Keys (per mode M): M.mb_per_s, M.errors (records not delivered; M.failed=1
then), M.broker_cpu_s, M.client_cpu_s, M.other_cpu_s (produce), and
for on/throttled M.cleaner_passes, M.cleaner_read_mb, M.cleaner_written_mb,
M.cleaner_busy_s, M.cleaner_mb_per_s (read + written per second of pass),
M.cleaner_busy_share (of the produce window), M.throttled_s, M.cleaner_mb (read + written);
throttled.limit_mb_per_s, throttled.allowed_mb (limit x (pass seconds + 1): the throttle's
token bucket holds one second of its rate);
off_avg.mb_per_s (mean of off and off2);
fill_mb, fill_s, produce_s.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("GREGOR_BUILD_DIR", os.path.join(SRC, "build"))
BROKER_BIN = os.path.join(BUILD, "bin", "gregor-broker")
BENCH_BIN = os.environ.get("BENCH_BIN_DIR", os.path.join(BUILD, "bench"))
CONFIG = os.path.join(SRC, "deploy", "config", "server.properties")
HZ = os.sysconf("SC_CLK_TCK")
CHROOT = "/gregor-cleaner-bench-%d" % os.getpid()  # a topic of an earlier run is not reused
VALUE = 1024


def log(msg):
    print("[cleaner-bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / HZ
    except (OSError, IndexError, ValueError):
        return 0.0


def sys_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / HZ


class Broker:
    def __init__(self, zk, logdir, overrides):
        self.port, self.http = free_port(), free_port()
        args = [BROKER_BIN, CONFIG]
        for o in ["broker.id=0", "zookeeper.connect=%s%s" % (zk, CHROOT),
                  "listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
                  "advertised.listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
                  "inter.broker.listener.name=PLAINTEXT", "log.dirs=%s" % logdir,
                  "gregor.http.port=%d" % self.http, "log.cleaner.backoff.ms=100"] + overrides:
            args += ["--override", o]
        self.out = open(logdir + ".log", "ab")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("broker did not start (see %s.log)" % logdir)
                time.sleep(0.05)
        self.boot = "127.0.0.1:%d" % self.port

    def metrics(self):
        out = {}
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("gregor_log_cleaner_"):
                    k, v = line.split()
                    out[k[len("gregor_log_cleaner_"):]] = float(v)
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def fill(b, mb):
    admin = AdminClient({"bootstrap.servers": b.boot})
    cfg = {"cleanup.policy": "compact", "segment.bytes": str(1 << 20),
           "min.cleanable.dirty.ratio": "0.01"}
    for f in admin.create_topics([NewTopic("compacted", 1, 1, config=cfg)]).values():
        f.result(60)
    n = mb * 1000000 // VALUE
    keys = max(n // 10, 1)
    value = os.urandom(VALUE // 2) * 2
    p = Producer({"bootstrap.servers": b.boot, "linger.ms": 5, "batch.size": 1 << 20,
                  "queue.buffering.max.messages": 1000000, "acks": 1})
    t = time.time()
    for i in range(n):
        while True:
            try:
                p.produce("compacted", value, ("key-%d" % ((i * 7919) % keys)).encode())
                break
            except BufferError:
                p.poll(0.01)
    if p.flush(120) != 0:
        raise RuntimeError("fill: records not delivered")
    return time.time() - t


def produce(b, topic, seconds):
    """produce_bench -> its key=value results (its `errors` counts records not delivered;
    exit status 1 then, and failed=1 is added)."""
    p = subprocess.run([os.path.join(BENCH_BIN, "produce_bench"), b.boot, topic, "1024",
                        "100000000", "1", "1", "seconds=%d" % seconds],
                       stdout=subprocess.PIPE, text=True)
    out = dict(kv.split("=", 1) for kv in p.stdout.split() if "=" in kv)
    if p.returncode != 0:
        out["failed"] = "1"
    if "mb_per_s" not in out:
        raise RuntimeError("produce_bench failed (exit %d)" % p.returncode)
    return out


def run_mode(res, mode, zk, base, tmp, seconds, overrides):
    d = os.path.join(tmp, "cleaner-" + mode)
    shutil.copytree(base, d)
    b = Broker(zk, d, overrides)
    samples = []
    try:
        if not mode.startswith("off"):
            deadline = time.time() + 30
            while True:
                try:
                    if b.metrics().get("logs", 0) >= 1:
                        break
                except OSError:  # the HTTP endpoint may open after the Kafka listener
                    pass
                if time.time() > deadline:
                    raise RuntimeError("the cleaner did not register the compacted log")
                time.sleep(0.1)
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                try:
                    samples.append((time.time(), b.metrics()))
                except OSError:
                    pass
                stop.wait(0.1)
        th = threading.Thread(target=poll, daemon=True)
        th.start()
        c0, s0, t0 = proc_cpu(b.proc.pid), sys_busy(), time.time()
        r = produce(b, "load-" + mode, seconds)
        c1, s1, t1 = proc_cpu(b.proc.pid), sys_busy(), time.time()
        client = float(r["cpu_user_s"]) + float(r["cpu_sys_s"])
        res[mode + ".mb_per_s"] = r["mb_per_s"]
        res[mode + ".errors"] = r.get("errors", "0")
        if "failed" in r:
            res[mode + ".failed"] = "1"
        res[mode + ".broker_cpu_s"] = "%.2f" % (c1 - c0)
        res[mode + ".client_cpu_s"] = "%.2f" % client
        res[mode + ".other_cpu_s"] = "%.2f" % (s1 - s0 - (c1 - c0) - client)
        if not mode.startswith("off"):
            # until the cleaner has nothing left (its last pass ended a second ago)
            deadline = time.time() + 180
            while time.time() < deadline:
                m = [x for x in samples if x[1].get("passes_total", 0) > 0]
                if m and time.time() - passes_end(samples)[-1][0] > 1.0:
                    break
                time.sleep(0.2)
        stop.set()
        th.join()
        if not mode.startswith("off"):
            ends = passes_end(samples)
            last = samples[-1][1]
            rd, wr = last.get("read_bytes_total", 0), last.get("written_bytes_total", 0)
            start = ends[0][0] - ends[0][1] / 1000.0 if ends else t0
            busy = (ends[-1][0] - start) if ends else 0
            res[mode + ".cleaner_passes"] = "%d" % last.get("passes_total", 0)
            res[mode + ".cleaner_read_mb"] = "%.1f" % (rd / 1e6)
            res[mode + ".cleaner_written_mb"] = "%.1f" % (wr / 1e6)
            res[mode + ".cleaner_busy_s"] = "%.2f" % busy
            res[mode + ".cleaner_mb_per_s"] = "%.1f" % ((rd + wr) / 1e6 / busy) if busy else "0"
            res[mode + ".cleaner_busy_share"] = "%.2f" % (
                max(0.0, min(t1, start + busy) - max(t0, start)) / (t1 - t0))
            res[mode + ".throttled_s"] = "%.2f" % (last.get("throttled_us_total", 0) / 1e6)
            res[mode + ".cleaner_mb"] = "%.1f" % ((rd + wr) / 1e6)
    finally:
        b.stop()
        shutil.rmtree(d, ignore_errors=True)


def passes_end(samples):
    """(time, last_pass_ms) of each sample where passes_total grew."""
    out, prev = [], 0
    for t, m in samples:
        n = m.get("passes_total", 0)
        if n > prev:
            out.append((t, m.get("last_pass_ms", 0)))
        prev = n
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    zk, tmp, quick = sys.argv[1], sys.argv[2], "--quick" in sys.argv
    fill_mb, seconds = (128, 2) if quick else (256, 8)
    if "--fill-mb" in sys.argv:
        fill_mb = int(sys.argv[sys.argv.index("--fill-mb") + 1])
    res = {"fill_mb": fill_mb, "produce_s": seconds}
    base = os.path.join(tmp, "cleaner-base")
    os.makedirs(base)
    try:
        b = Broker(zk, base, ["log.cleaner.threads=0"])
        try:
            log("filling the compacted topic with %d MB of keyed 1 KiB records" % fill_mb)
            res["fill_s"] = "%.1f" % fill(b, fill_mb)
        finally:
            b.stop()
        log("produce with no cleaner running")
        run_mode(res, "off", zk, base, tmp, seconds, ["log.cleaner.threads=0"])
        log("produce while the cleaner compacts")
        run_mode(res, "on", zk, base, tmp, seconds, ["log.cleaner.threads=1"])
        rate = float(res.get("on.cleaner_mb_per_s", 0))
        limit = max(rate / 2, 1.0) * 1e6
        res["throttled.limit_mb_per_s"] = "%.1f" % (limit / 1e6)
        log("produce while the cleaner compacts at most %.1f MB/s" % (limit / 1e6))
        run_mode(res, "throttled", zk, base, tmp, seconds,
                 ["log.cleaner.threads=1", "log.cleaner.io.max.bytes.per.second=%.0f" % limit])
        # the token bucket holds one second of the rate: a pass of T seconds may move
        # limit x (T + 1) bytes
        res["throttled.allowed_mb"] = "%.1f" % (
            limit * (float(res.get("throttled.cleaner_busy_s", 0)) + 1) / 1e6)
        log("produce with no cleaner running, again (how much two runs differ)")
        run_mode(res, "off2", zk, base, tmp, seconds, ["log.cleaner.threads=0"])
        res["off_avg.mb_per_s"] = "%.1f" % ((float(res["off.mb_per_s"]) +
                                             float(res["off2.mb_per_s"])) / 2)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(" ".join("%s=%s" % kv for kv in res.items()))


if __name__ == "__main__":
    main()
