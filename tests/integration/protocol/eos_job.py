#!/usr/bin/python3
"""
tests/integration/protocol/eos_job.py — the consume-transform-produce job of
test_exactly_once.py, as a user of Kafka transactions writes one with librdkafka
(Debian's python3-confluent-kafka).

  eos_job.py BOOTSTRAP INPUT OUTPUT PARTITIONS TRANSACTIONAL_ID GROUP

It reads INPUT (read_committed, partitions assigned by hand from the group's committed
offsets), and for every poll writes each record to the same partition of OUTPUT as
b"out-" + value inside one transaction that also commits the consumed positions to GROUP
(send_offsets_to_transaction). A transaction that must be aborted is aborted and the
consumer rewinds to the committed offsets; a fatal error (a newer instance fenced this one)
exits with status 2. SIGTERM ends it after the transaction in progress. It prints one line per
committed transaction (`committed N`) and per abort (`aborted: why`) on stdout.
"""
import signal
import sys

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

STOP = []


def rewind(c, parts):
    """Seeks every assigned partition back to the group's committed offset."""
    for tp in c.committed(parts, timeout=30):
        off = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
        c.seek(TopicPartition(tp.topic, tp.partition, off))


def main():
    bootstrap, inp, out, nparts, tid, group = sys.argv[1:7]
    signal.signal(signal.SIGTERM, lambda *_: STOP.append(1))
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": tid,
                  "transaction.timeout.ms": 15000, "linger.ms": 2})
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    p.init_transactions(60)
    parts = [TopicPartition(inp, i) for i in range(int(nparts))]
    c.assign(parts)  # offsets: the group's committed ones (read with require_stable)
    print("started", flush=True)
    while not STOP:
        msgs = [m for m in c.consume(500, 0.3) if not m.error()]
        if not msgs:
            continue
        try:
            p.begin_transaction()
            for m in msgs:
                p.produce(out, key=m.key(), value=b"out-" + m.value(), partition=m.partition())
            p.send_offsets_to_transaction(c.position(c.assignment()),
                                          c.consumer_group_metadata(), 30)
            for attempt in range(5):
                try:
                    p.commit_transaction(30)
                    break
                except KafkaException as e:
                    if not e.args[0].retriable() or attempt == 4:
                        raise
            print("committed %d" % len(msgs), flush=True)
        except KafkaException as e:
            err = e.args[0]
            if err.fatal() or not err.txn_requires_abort():
                print("fatal: %s" % err, flush=True)
                sys.exit(2)
            print("aborted: %s" % err, flush=True)
            p.abort_transaction(30)
            rewind(c, parts)
    c.close()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
