#!/usr/bin/python3
"""tests/integration/py/confluent_roundtrip.py — confluent-kafka-python
(librdkafka underneath) produces N keyed records to partition 0 of $TOPIC
on $BOOTSTRAP, then a group-less consumer (assign + explicit offset 0)
reads them back. Exit 0 only if every record comes back intact, in order,
at offsets 0..N-1. Prints one line per failure."""
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

BOOTSTRAP = os.environ["BOOTSTRAP"]
TOPIC = os.environ["TOPIC"]
N = int(os.environ.get("N", "2000"))


def produce():
    failures = []

    def on_delivery(err, msg):
        if err is not None:
            failures.append(err)

    p = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all", "linger.ms": 5})
    for i in range(N):
        p.produce(TOPIC, key=b"ck-%d" % i, value=("confluent-value-%d-é" % i).encode(),
                  partition=0, headers=[("h", b"%d" % i)], on_delivery=on_delivery)
        p.poll(0)
    left = p.flush(60)
    if left or failures:
        print("produce: %d undelivered, %d failed: %s" % (left, len(failures), failures[:3]))
        return False
    return True


def consume():
    conf = {"bootstrap.servers": BOOTSTRAP, "enable.auto.commit": False,
            "group.id": "confluent-roundtrip-%d" % os.getpid()}
    c = Consumer(conf)
    c.assign([TopicPartition(TOPIC, 0, 0)])
    got = 0
    deadline = time.time() + 60
    ok = True
    while got < N and time.time() < deadline:
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() != KafkaError._PARTITION_EOF:
                print("consume error: %s" % msg.error())
            continue
        want_key = b"ck-%d" % got
        want_val = ("confluent-value-%d-é" % got).encode()
        if (msg.offset() != got or msg.key() != want_key or msg.value() != want_val
                or msg.headers() != [("h", b"%d" % got)]):
            print("record %d mismatch: offset %s key %r value %r headers %r"
                  % (got, msg.offset(), msg.key(), msg.value(), msg.headers()))
            ok = False
            break
        got += 1
    c.close()
    if got != N:
        print("consumed %d of %d records" % (got, N))
        ok = False
    return ok


def main():
    if not produce():
        return 1
    if not consume():
        return 1
    print("confluent_kafka %s (librdkafka %s): %d records round-tripped"
          % (__import__("confluent_kafka").version()[0],
             __import__("confluent_kafka").libversion()[0], N))
    return 0


if __name__ == "__main__":
    sys.exit(main())
