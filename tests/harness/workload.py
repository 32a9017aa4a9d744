#!/usr/bin/python3
"""
tests/harness/workload.py — the load side of the replication tests: producers and consumers that
run against a topic while a scenario injects faults, and record everything they see as a
history for checker.py.

Producers (confluent_kafka, acks=all, bounded message.timeout.ms; idempotence off, or with
idempotent=True on with 5 requests in flight per connection) send unique values
"p<producer>-<seq>" round-robin over the partitions (explicit partition). Consumers assign
every partition from the beginning (no group commits) and record every record they receive.
Group members (groups={name: members}) subscribe with that group.id (range assignor,
auto.offset.reset=earliest, no auto commit), commit synchronously after each batch they
receive, and record their assignments, revocations, records and commits. After the run
(faults healed), a final read fetches every partition from its low watermark to its high
watermark. Client errors are recorded as events; nothing here raises on a broker fault.

History file (owned here; read by checker.py): JSON lines, "type" tells them apart.
  {"type":"meta","topic","partitions","producers","consumers","bootstrap","idempotent","t0"}
  {"type":"send","producer","value","partition","status":"ok|fail|unknown","offset","error",
   "t_send","t_ack"}                      one per value: at its delivery report, or at the end
  {"type":"consume","consumer","partition","offset","value","t"[,"group"]}
  {"type":"assign"|"revoke","consumer","group","partitions","t"[,"lost"]}   group members
  {"type":"commit","consumer","group","partition","offset","t","status":"ok|fail"}
  {"type":"leave","consumer","group","t"}
  {"type":"group_end","group","t","complete"}   written after the members caught up (or gave up)
  {"type":"final","partition","offset","value"}
  {"type":"final_hw","partition","low","high","complete","error"}
  {"type":"event","t","what",...}         faults (Workload.note) and client errors
                                          (what "client_error": client, error, fatal)
Times are seconds since the workload started (monotonic clock).

Group member ids are "<group>/<i>"; the other consumers' ids are integers.

Library:  w = Workload(bootstrap, topic, history_path, producers=2, consumers=2, rate=100,
                       groups={"g": 2}, consumer_conf={"librdkafka.key": "value"})
          w.run(duration, fault=fn, fault_at=0.3)   # fn(w) runs in the caller's thread
          or w.start(); ...; w.stop(); w.final_read()
CLI:      workload.py --bootstrap H:P --topic T --out HISTORY [--duration S] [--producers N]
                      [--consumers M] [--group NAME:MEMBERS]... [--rate R]
                      [--message-timeout-ms T] [--compression C] [--idempotent]
          read_log(bootstrap, topic, partitions, write) is the final read on its own
"""
import argparse
import json
import sys
import threading
import time
import uuid

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition)


class HistoryWriter:
    """Thread-safe JSON-lines writer, flushed line by line so a crash keeps what was written."""

    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()

    def write(self, rec):
        line = json.dumps(rec) + "\n"
        with self.lock:
            self.f.write(line)
            self.f.flush()

    def close(self):
        with self.lock:
            self.f.close()


# Settings every client of the workload gets besides its own (a secure cluster's
# security.protocol, SASL login and CA file: run_scenario.py --secure).
CLIENT_CONF = {}


def secured(conf):
    """conf with CLIENT_CONF added."""
    return dict(conf, **CLIENT_CONF)


def plain_consumer_conf(bootstrap, error_cb=None):
    """A consumer that assigns partitions itself (a throwaway group.id, never committed)."""
    conf = {"bootstrap.servers": bootstrap, "group.id": "wl-" + uuid.uuid4().hex,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "enable.partition.eof": False, "fetch.wait.max.ms": 100,
            "reconnect.backoff.max.ms": 1000}
    if error_cb is not None:
        conf["error_cb"] = error_cb
    return conf


def watermarks(bootstrap, topic, partitions, timeout=30.0):
    """{partition: (low, high)} as the leaders see them now; retried until timeout."""
    c = Consumer(secured(plain_consumer_conf(bootstrap)))
    out, end = {}, time.monotonic() + timeout
    try:
        for p in range(partitions):
            while p not in out:
                try:
                    out[p] = c.get_watermark_offsets(TopicPartition(topic, p), 5.0)
                except Exception as e:         # KafkaException while a leader is missing
                    if time.monotonic() > end:
                        raise RuntimeError("no watermarks for partition %d: %s" % (p, e))
                    time.sleep(0.5)
    finally:
        c.close()
    return out


def read_log(bootstrap, topic, partitions, write, timeout=60.0):
    """The final read: every partition from its low to its high watermark, written as final
    and final_hw records through write(record)."""
    end = time.monotonic() + timeout
    try:
        marks = watermarks(bootstrap, topic, partitions, timeout)
    except RuntimeError as e:
        for p in range(partitions):
            write({"type": "final_hw", "partition": p, "low": None, "high": None,
                   "complete": False, "error": str(e)})
        return
    c = Consumer(secured(plain_consumer_conf(bootstrap)))
    pos = {p: lo for p, (lo, hi) in marks.items()}
    c.assign([TopicPartition(topic, p, lo) for p, (lo, hi) in marks.items() if hi > lo])
    try:
        while time.monotonic() < end and any(pos[p] < marks[p][1] for p in pos):
            for m in c.consume(1000, 0.5):
                if m.error():
                    continue
                p, o = m.partition(), m.offset()
                if o >= marks[p][1]:
                    continue
                v = m.value().decode("utf-8", "backslashreplace") if m.value() else None
                write({"type": "final", "partition": p, "offset": o, "value": v})
                pos[p] = max(pos[p], o + 1)
    finally:
        c.close()
    for p, (lo, hi) in sorted(marks.items()):
        done = pos[p] >= hi
        write({"type": "final_hw", "partition": p, "low": lo, "high": hi, "complete": done,
               "error": None if done else "read to %d" % pos[p]})


class Workload:
    def __init__(self, bootstrap, topic, history_path, producers=2, consumers=2, rate=100.0,
                 partitions=None, message_timeout_ms=30000, compression="none", log=None,
                 groups=None, idempotent=False, consumer_conf=None):
        self.bootstrap, self.topic = bootstrap, topic
        self.idempotent = idempotent
        self.n_producers, self.n_consumers, self.rate = producers, consumers, rate
        self.groups = dict(groups or {})           # group id -> number of members
        self.consumer_conf = dict(consumer_conf or {})  # extra conf of the plain consumers
        self.message_timeout_ms, self.compression = message_timeout_ms, compression
        self.log = log or (lambda m: print("workload: " + m, file=sys.stderr, flush=True))
        self.t0 = time.monotonic()
        self.partitions = partitions or self._partition_count()
        self.hist = HistoryWriter(history_path)
        self.stats = {"ok": 0, "fail": 0, "unknown": 0, "consumed": 0, "errors": 0}
        self.stats_lock = threading.Lock()
        self.stop_producing = threading.Event()
        self.stop_consuming = threading.Event()
        self.stop_groups = threading.Event()
        self.positions = {}             # (consumer, partition) -> next offset expected
        self.group_positions = {g: {} for g in self.groups}   # group -> partition -> next offset
        self.threads = []
        self.hist.write({"type": "meta", "topic": topic, "partitions": self.partitions,
                         "producers": producers, "consumers": consumers, "bootstrap": bootstrap,
                         "groups": self.groups, "idempotent": idempotent, "t0": time.time()})

    def now(self):
        return round(time.monotonic() - self.t0, 4)

    def note(self, what, **kw):
        """Records a scenario event (fault injected, healed, ...) in the history."""
        rec = {"type": "event", "t": self.now(), "what": what}
        rec.update(kw)
        self.hist.write(rec)
        self.log("%.1fs %s %s" % (rec["t"], what, kw if kw else ""))

    def _count(self, key, n=1):
        with self.stats_lock:
            self.stats[key] += n

    def _client_error(self, who):
        def cb(err):
            self._count("errors")
            self.hist.write({"type": "event", "t": self.now(), "what": "client_error",
                             "client": who, "error": str(err), "fatal": err.fatal()})
        return cb

    def _partition_count(self, timeout=30.0):
        c = Consumer(secured({"bootstrap.servers": self.bootstrap, "group.id": "wl-meta"}))
        try:
            end = time.monotonic() + timeout
            while True:
                md = c.list_topics(self.topic, timeout=5)
                t = md.topics.get(self.topic)
                if t is not None and t.error is None and t.partitions:
                    return len(t.partitions)
                if time.monotonic() > end:
                    raise RuntimeError("topic %s has no partitions in metadata" % self.topic)
                time.sleep(0.5)
        finally:
            c.close()

    # ---- producers ---------------------------------------------------------

    def _producer(self, pid):
        conf = {"bootstrap.servers": self.bootstrap, "acks": "all",
                "enable.idempotence": self.idempotent, "linger.ms": 2,
                "compression.type": self.compression,
                "message.timeout.ms": self.message_timeout_ms,
                "request.timeout.ms": 5000, "retry.backoff.ms": 100,
                "reconnect.backoff.max.ms": 1000, "message.send.max.retries": 1000000,
                "error_cb": self._client_error("producer %d" % pid)}
        if self.idempotent:
            conf["max.in.flight.requests.per.connection"] = 5
        prod = Producer(secured(conf))
        outstanding = {}                  # value -> (partition, t_send)
        closed = []

        def report(err, msg):
            v = msg.value().decode()
            if closed or v not in outstanding:
                return
            p, t_send = outstanding.pop(v)
            ok = err is None
            self._count("ok" if ok else "fail")
            self.hist.write({"type": "send", "producer": pid, "value": v, "partition": p,
                             "status": "ok" if ok else "fail",
                             "offset": msg.offset() if ok else None,
                             "error": None if ok else err.name(), "t_send": t_send,
                             "t_ack": self.now()})

        seq, interval = 0, 1.0 / self.rate if self.rate > 0 else 0.0
        next_t = time.monotonic()
        while not self.stop_producing.is_set():
            p = (pid + seq) % self.partitions
            v = "p%d-%d" % (pid, seq)
            outstanding[v] = (p, self.now())
            while True:
                try:
                    prod.produce(self.topic, value=v.encode(), partition=p, on_delivery=report)
                    break
                except BufferError:
                    prod.poll(0.1)
                except Exception as e:            # refused locally: never sent
                    outstanding.pop(v)
                    self._count("fail")
                    self.hist.write({"type": "send", "producer": pid, "value": v,
                                     "partition": p, "status": "fail", "offset": None,
                                     "error": str(e), "t_send": self.now(), "t_ack": None})
                    break
            seq += 1
            prod.poll(0)
            next_t += interval
            delay = next_t - time.monotonic()
            if delay < -1.0:
                next_t = time.monotonic()         # fell behind (broker down): do not burst
            while delay > 0:                      # poll returns early when it serves a report
                prod.poll(delay)
                delay = next_t - time.monotonic()
        prod.flush(self.drain_s)
        closed.append(True)
        for v, (p, t_send) in outstanding.items():
            self._count("unknown")
            self.hist.write({"type": "send", "producer": pid, "value": v, "partition": p,
                             "status": "unknown", "offset": None, "error": None,
                             "t_send": t_send, "t_ack": None})
        prod.purge()
        prod.flush(1)

    # ---- consumers ---------------------------------------------------------

    def _consumer_conf(self, who):
        return plain_consumer_conf(self.bootstrap, self._client_error(who))

    def _consumer(self, cid):
        conf = self._consumer_conf("consumer %d" % cid)
        conf.update(self.consumer_conf)
        c = Consumer(secured(conf))
        c.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in range(self.partitions)])
        try:
            while not self.stop_consuming.is_set():
                for m in c.consume(500, 0.2):
                    if m.error():
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            self._client_error("consumer %d" % cid)(m.error())
                        continue
                    p, o = m.partition(), m.offset()
                    v = m.value().decode("utf-8", "backslashreplace") if m.value() else None
                    self.hist.write({"type": "consume", "consumer": cid, "partition": p,
                                     "offset": o, "value": v, "t": self.now()})
                    self.positions[(cid, p)] = o + 1
                    self._count("consumed")
        finally:
            c.close()

    # ---- group members -----------------------------------------------------

    def _group_member(self, group, i):
        who = "%s/%d" % (group, i)
        conf = self._consumer_conf("group member " + who)
        conf.update({"group.id": group, "client.id": who, "session.timeout.ms": 10000,
                     "heartbeat.interval.ms": 1000, "partition.assignment.strategy": "range"})
        c = Consumer(secured(conf))
        base = {"consumer": who, "group": group}

        def moved(kind, **kw):
            def cb(_, parts):
                self.hist.write(dict(base, type=kind, t=self.now(),
                                     partitions=sorted(tp.partition for tp in parts), **kw))
            return cb
        c.subscribe([self.topic], on_assign=moved("assign"), on_revoke=moved("revoke", lost=False),
                    on_lost=moved("revoke", lost=True))
        try:
            while not self.stop_groups.is_set():
                nxt = {}
                for m in c.consume(500, 0.2):
                    if m.error():
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            self._client_error("group member " + who)(m.error())
                        continue
                    p, o = m.partition(), m.offset()
                    v = m.value().decode("utf-8", "backslashreplace") if m.value() else None
                    self.hist.write(dict(base, type="consume", partition=p, offset=o, value=v,
                                         t=self.now()))
                    nxt[p] = o + 1
                    self._count("consumed")
                if nxt:
                    self._commit(c, base, nxt)
        finally:
            c.close()
            self.hist.write(dict(base, type="leave", t=self.now()))

    def _commit(self, c, base, nxt):
        """Commits the positions after one batch synchronously; records each partition's
        outcome (a failed request: every partition of the batch failed)."""
        try:
            answer = {tp.partition: tp for tp in c.commit(asynchronous=False)}
        except KafkaException as e:
            answer, error = {}, str(e)
        else:
            error = None
        positions = self.group_positions[base["group"]]
        for p, o in sorted(nxt.items()):
            tp = answer.get(p)
            ok = tp is not None and tp.error is None and tp.offset == o
            self.hist.write(dict(base, type="commit", partition=p, offset=o, t=self.now(),
                                 status="ok" if ok else "fail",
                                 error=None if ok else (error or str(tp and tp.error))))
            positions[p] = max(positions.get(p, 0), o)

    # ---- control -------------------------------------------------------------

    def start(self):
        self.drain_s = self.message_timeout_ms / 1000.0 + 5
        for i in range(self.n_producers):
            self.threads.append(("producer", threading.Thread(target=self._producer, args=(i,),
                                                              daemon=True)))
        for i in range(self.n_consumers):
            self.threads.append(("consumer", threading.Thread(target=self._consumer, args=(i,),
                                                              daemon=True)))
        for g, n in sorted(self.groups.items()):
            for i in range(n):
                self.threads.append(("member", threading.Thread(
                    target=self._group_member, args=(g, i), daemon=True)))
        for _, t in self.threads:
            t.start()
        self.note("workload_started", partitions=self.partitions)

    def watermarks(self, timeout=30.0):
        """{partition: (low, high)} as the leaders see them now; retried until timeout."""
        return watermarks(self.bootstrap, self.topic, self.partitions, timeout)

    def _caught_up(self, target):
        """Whether every consumer, and every group as a whole, reached the target offsets."""
        parts = range(self.partitions)
        return all(self.positions.get((c, p), 0) >= target[p][1]
                   for c in range(self.n_consumers) for p in parts) and \
            all(pos.get(p, 0) >= target[p][1] for pos in self.group_positions.values()
                for p in parts)

    def stop(self, catch_up_s=30.0):
        """Stops producing (waits for outstanding acks), lets consumers and groups reach the high
        watermarks (or catch_up_s pass), then stops them; writes each group's group_end."""
        self.stop_producing.set()
        for kind, t in self.threads:
            if kind == "producer":
                t.join()
        done, error = False, None
        try:
            target = self.watermarks()
            end = time.monotonic() + catch_up_s
            while time.monotonic() < end and not done:
                done = self._caught_up(target)
                time.sleep(0 if done else 0.2)
        except RuntimeError as e:
            error = str(e)
            self.note("catch_up_failed", error=error)
        t_end = self.now()
        self.stop_consuming.set()
        self.stop_groups.set()
        for _, t in self.threads:
            t.join()
        for g, pos in sorted(self.group_positions.items()):
            complete = error is None and all(pos.get(p, 0) >= target[p][1]
                                             for p in range(self.partitions))
            self.hist.write({"type": "group_end", "group": g, "t": t_end, "complete": complete,
                             "error": error or (None if complete else "committed %s of %s" % (
                                 pos, {p: hw for p, (_, hw) in target.items()}))})
        self.note("workload_stopped", **{k: v for k, v in self.stats.items()})

    def final_read(self, timeout=60.0):
        """Reads every partition from low to high watermark into the history."""
        read_log(self.bootstrap, self.topic, self.partitions, self.hist.write, timeout)

    def run(self, duration, fault=None, fault_at=0.3, catch_up_s=30.0):
        """start(); after fault_at*duration calls fault(self); runs until duration has passed
        (counting the fault's own time); stop(); final_read(); close. Returns the stats."""
        self.start()
        try:
            if fault is not None:
                time.sleep(duration * fault_at)
                fault(self)
            time.sleep(max(0.0, duration - (time.monotonic() - self.t0)))
        finally:
            self.stop(catch_up_s)
            self.final_read()
            self.hist.close()
        self.log("done: %s" % self.stats)
        return dict(self.stats)


def parse_groups(specs):
    """["NAME:MEMBERS", ...] -> {NAME: MEMBERS}"""
    out = {}
    for spec in specs:
        name, _, n = spec.rpartition(":")
        if not name or not n.isdigit() or int(n) < 1:
            raise SystemExit("--group wants NAME:MEMBERS, got %r" % spec)
        out[name] = int(n)
    return out


def main():
    ap = argparse.ArgumentParser(description="Run producers and consumers, record a history.")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--out", required=True, help="history file (JSON lines)")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--group", action="append", default=[], metavar="NAME:MEMBERS",
                    help="a consumer group of MEMBERS members (repeatable)")
    ap.add_argument("--rate", type=float, default=100.0, help="sends per second per producer")
    ap.add_argument("--message-timeout-ms", type=int, default=30000)
    ap.add_argument("--compression", default="none", help="producer compression.type")
    ap.add_argument("--idempotent", action="store_true", help="enable.idempotence=true")
    args = ap.parse_args()
    w = Workload(args.bootstrap, args.topic, args.out, args.producers, args.consumers, args.rate,
                 message_timeout_ms=args.message_timeout_ms, compression=args.compression,
                 groups=parse_groups(args.group), idempotent=args.idempotent)
    w.run(args.duration)


if __name__ == "__main__":
    main()
