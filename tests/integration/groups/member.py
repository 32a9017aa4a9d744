#!/usr/bin/env python3
"""
tests/integration/groups/member.py — one consumer-group member as its own process, driven by
a client nobody here wrote (confluent-kafka / librdkafka, or kafka-python), for the group
integration tests (gtest.py starts and reads it).

It subscribes to one topic and prints one JSON object per line on stdout, flushed:
  {"ev": "assign", "parts": [p, ...], "t": mono}   partitions given to this member
  {"ev": "revoke", "parts": [p, ...], "t": mono}   partitions taken away
  {"ev": "lost", "parts": [p, ...], "t": mono}     partitions lost (membership lost, librdkafka)
  {"ev": "recs", "recs": [[p, offset, value], ...], "t": mono}   records consumed
  {"ev": "commit", "offs": [[p, next_offset], ...], "failed": [[p, next_offset], ...], "t": mono}
                                                   a synchronous commit answered (failed: the
                                                   partitions answered with an error)
  {"ev": "commit_failed", "offs": [[p, next_offset], ...], "error": text, "t": mono}
                                                   the commit of these offsets failed as a whole
  {"ev": "client_gap", "p": p, "want": offset, "got": offset, "t": mono}
                                                   librdkafka skipped records it had fetched
                                                   (below); the member seeks back to "want"
  {"ev": "closed", "t": mono}
"t" is time.monotonic(), the system-wide clock, so several members' events can be ordered.
It commits synchronously after each batch it consumes (confluent: the offsets after the records
it kept). SIGTERM (or "quit" on stdin) closes the consumer cleanly (LeaveGroup; a static member
leaves no group); SIGKILL is the crash case.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time

STOP = threading.Event()


def emit(ev, **kw):
    kw["ev"] = ev
    kw["t"] = time.monotonic()
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def next_offsets(recs):
    """[[p, offset after the last record of p], ...] of one batch: what its commit stores."""
    nxt = {}
    for p, o, _ in recs:
        nxt[p] = max(nxt.get(p, 0), o + 1)
    return sorted([p, o] for p, o in nxt.items())


def drop_client_gaps(recs, nxt, sought):
    """librdkafka before 2.1.0 (Debian bookworm has 2.0.2) can skip records it already fetched
    when it pauses and resumes a partition's fetcher, which it does itself in every cooperative
    rebalance: records queued under the old fetch version are dropped and fetching resumes after
    them. Offsets of these tests' topics are contiguous (no transactions, no compaction), so a
    record past the next expected offset of a partition held without a break is that skip, not
    the broker's doing. Returns (the records before each partition's gap, [(p, want, got)]);
    nxt (partition -> next expected offset) follows the records kept. A gap at an offset
    already sought back to once is taken as real (a control record, say), so this cannot loop."""
    kept, gaps, cut = [], [], set()
    for p, o, v in recs:
        if p in cut:
            continue
        want = nxt.get(p)
        if want is not None and o > want and (p, want) not in sought:
            sought.add((p, want))
            gaps.append((p, want, o))
            cut.add(p)
            continue
        nxt[p] = o + 1
        kept.append([p, o, v])
    return kept, gaps


def run_confluent(a):
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    conf = {"bootstrap.servers": a.bootstrap, "group.id": a.group, "client.id": a.client_id,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": a.session_timeout, "heartbeat.interval.ms": a.heartbeat,
            "partition.assignment.strategy": a.assignor, "topic.metadata.refresh.interval.ms": 2000}
    if a.instance_id:
        conf["group.instance.id"] = a.instance_id
    if os.environ.get("GTEST_RDKAFKA_DEBUG"):  # e.g. "cgrp,protocol": librdkafka's log on stderr
        conf["debug"] = os.environ["GTEST_RDKAFKA_DEBUG"]
    c = Consumer(conf)
    cooperative = a.assignor == "cooperative-sticky"

    nxt, sought = {}, set()

    def forget(parts):
        for p in parts:
            nxt.pop(p.partition, None)

    def on_assign(cons, parts):
        emit("assign", parts=sorted(p.partition for p in parts))
        forget(parts)
        if cooperative:
            cons.incremental_assign(parts)

    def on_revoke(cons, parts):
        emit("revoke", parts=sorted(p.partition for p in parts))
        forget(parts)
        if cooperative:
            cons.incremental_unassign(parts)

    def on_lost(cons, parts):
        emit("lost", parts=sorted(p.partition for p in parts))
        forget(parts)
        if cooperative:
            cons.incremental_unassign(parts)

    c.subscribe([a.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    while not STOP.is_set():
        msgs = c.consume(num_messages=200, timeout=0.2)
        recs = [[m.partition(), m.offset(), m.value().decode()] for m in msgs if m.error() is None]
        if not recs:
            continue
        recs, gaps = drop_client_gaps(recs, nxt, sought)
        for p, want, got in gaps:
            emit("client_gap", p=p, want=want, got=got)
            c.seek(TopicPartition(a.topic, p, want))
        if not recs:
            continue
        emit("recs", recs=recs)
        try:
            # the offsets after the records kept (not librdkafka's stored offsets, which count
            # the records a gap dropped)
            offs = c.commit(offsets=[TopicPartition(a.topic, p, o) for p, o in sorted(nxt.items())],
                            asynchronous=False)
            emit("commit", offs=sorted([p.partition, p.offset] for p in offs if p.error is None),
                 failed=sorted([p.partition, p.offset] for p in offs if p.error is not None))
        except KafkaException as e:
            emit("commit_failed", offs=next_offsets(recs), error=str(e))
    # close() leaves the group, then destroys the handle; librdkafka 2.0's destroy can wait
    # forever on broker handles it still counts after all its brokers restarted (seen after a
    # whole-cluster SIGKILL, LeaveGroup already answered), so it gets 5 s, then the process
    # exits anyway (main() ends with os._exit).
    closer = threading.Thread(target=c.close, daemon=True)
    closer.start()
    closer.join(5)
    emit("closed", hung=closer.is_alive())


def run_kafka_python(a):
    from kafka import KafkaConsumer, ConsumerRebalanceListener
    from kafka.errors import KafkaError

    class L(ConsumerRebalanceListener):
        def on_partitions_assigned(self, parts):
            emit("assign", parts=sorted(p.partition for p in parts))

        def on_partitions_revoked(self, parts):
            emit("revoke", parts=sorted(p.partition for p in parts))

    c = KafkaConsumer(bootstrap_servers=a.bootstrap, group_id=a.group, client_id=a.client_id,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=a.session_timeout, heartbeat_interval_ms=a.heartbeat,
                      metadata_max_age_ms=2000)
    c.subscribe([a.topic], listener=L())
    while not STOP.is_set():
        got = c.poll(timeout_ms=200)
        recs = [[m.partition, m.offset, m.value.decode()] for ms in got.values() for m in ms]
        if not recs:
            continue
        emit("recs", recs=recs)
        try:
            c.commit()
            emit("commit", offs=next_offsets(recs), failed=[])
        except KafkaError as e:
            emit("commit_failed", offs=next_offsets(recs), error=str(e))
    c.close()
    emit("closed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--client", default="confluent", choices=["confluent", "kafka-python"])
    ap.add_argument("--client-id", default="gtest-member")
    ap.add_argument("--assignor", default="range")
    ap.add_argument("--instance-id", default=None)
    ap.add_argument("--session-timeout", type=int, default=6000)
    ap.add_argument("--heartbeat", type=int, default=500)
    a = ap.parse_args()

    def on_term(*_):
        STOP.set()
        # a synchronous commit of librdkafka 2.0 can block without end while its coordinator is
        # being looked up again after the whole cluster restarted, so the loop never sees STOP:
        # give the clean path 15 s, then report it and exit (the test's record checks still run)
        def watchdog():
            time.sleep(15)
            emit("closed", hung=True, stuck="consume loop")
            os._exit(0)
        threading.Thread(target=watchdog, daemon=True).start()
    signal.signal(signal.SIGTERM, on_term)

    def stdin_watch():
        for line in sys.stdin:
            if line.strip() == "quit":
                break
        STOP.set()
    threading.Thread(target=stdin_watch, daemon=True).start()
    if a.client == "confluent":
        run_confluent(a)
    else:
        run_kafka_python(a)
    os._exit(0)  # no interpreter teardown: a client thread left behind cannot hold the exit


if __name__ == "__main__":
    main()
