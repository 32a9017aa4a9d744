#!/usr/bin/python3
"""tests/integration/py/kafka_python_roundtrip.py — kafka-python (pure
Python protocol engine) produces N keyed records to partition 0 of $TOPIC
on $BOOTSTRAP with KafkaProducer, then KafkaConsumer (no group, assign +
seek 0) reads them back. Exit 0 only if every record comes back intact, in
order, at offsets 0..N-1. Prints one line per failure."""
import os
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

BOOTSTRAP = os.environ["BOOTSTRAP"]
TOPIC = os.environ["TOPIC"]
N = int(os.environ.get("N", "2000"))


def produce():
    p = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=5,
                      request_timeout_ms=30000)
    futures = [p.send(TOPIC, key=b"pk-%d" % i, value=("kafka-python-%d-ü" % i).encode(),
                      partition=0, headers=[("h", b"%d" % i)])
               for i in range(N)]
    p.flush(60)
    bad = 0
    for i, f in enumerate(futures):
        try:
            md = f.get(timeout=30)
            if md.offset != i:
                print("record %d acknowledged at offset %d" % (i, md.offset))
                bad += 1
        except Exception as e:  # noqa: BLE001 - report every failure kind
            print("record %d failed: %r" % (i, e))
            bad += 1
        if bad > 3:
            break
    p.close(10)
    return bad == 0


def consume():
    c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", consumer_timeout_ms=2000)
    tp = TopicPartition(TOPIC, 0)
    c.assign([tp])
    c.seek(tp, 0)
    got = 0
    deadline = time.time() + 60
    while got < N and time.time() < deadline:
        batch = c.poll(timeout_ms=500)
        for msgs in batch.values():
            for m in msgs:
                want_key = b"pk-%d" % got
                want_val = ("kafka-python-%d-ü" % got).encode()
                if (m.offset != got or m.key != want_key or m.value != want_val
                        or list(m.headers) != [("h", b"%d" % got)]):
                    print("record %d mismatch: offset %d key %r value %r headers %r"
                          % (got, m.offset, m.key, m.value, m.headers))
                    c.close()
                    return False
                got += 1
    c.close()
    if got != N:
        print("consumed %d of %d records" % (got, N))
        return False
    return True


def main():
    if not produce():
        return 1
    if not consume():
        return 1
    import kafka
    print("kafka-python %s: %d records round-tripped" % (kafka.__version__, N))
    return 0


if __name__ == "__main__":
    sys.exit(main())
