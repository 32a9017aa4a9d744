"""
tests/integration/protocol/txnwire.py — what the transaction tests share (test_txn_*.py): Kafka's
placement of a transactional or group id on its coordinator partition, FindCoordinator v1-4 with
this suite's codec (kwire.py), the broker a cluster's FindCoordinator names for an id (waiting
for one), the cluster's live brokers, and waiting for a condition. No test of its own: the tests
that import it check it.
"""
import time

from kwire import Conn, W

NONE = 0
KEY_GROUP, KEY_TXN = 0, 1  # FindCoordinator key_type


def coord_partition(key, n):
    """Kafka's placement of a group or transactional id: Utils.abs(String.hashCode) % n, where
    Utils.abs is Math.abs with Integer.MIN_VALUE as 0 (ASCII ids)."""
    h = 0
    for ch in key:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    if h >= 1 << 31:
        h -= 1 << 32
    return (0 if h == -(1 << 31) else abs(h)) % n


def wait(cond, timeout, what, step=0.2):
    """cond()'s first true value, asked every step seconds; AssertionError after timeout."""
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


def live(cl, skip=()):
    """The indexes of cl's brokers that run, but those in skip."""
    return [i for i, b in enumerate(cl.brokers) if i not in skip and b.proc and b.proc.poll() is None]


def find_coordinator(c, v, keys, key_type=KEY_TXN):
    """FindCoordinator v (1-4) for keys (one key before v4). Returns [(key, err, node, port)]."""
    w = W(flex=v >= 3)
    if v >= 4:
        w.i8(key_type).array(keys, lambda w, k: w.str(k))
    else:
        w.str(keys[0]).i8(key_type)
    if v >= 3:
        w.tags()
    r = c.call(10, v, w.b)
    r.i32()
    if v >= 4:
        def coord(r):
            key, node, _host, port, err, _msg = r.str(), r.i32(), r.str(), r.i32(), r.i16(), r.str()
            r.tags()
            return (key, err, node, port)
        out = r.array(coord)
    else:
        err, _msg, node, _host, port = r.i16(), r.str(), r.i32(), r.str(), r.i32()
        out = [(keys[0], err, node, port)]
    if v >= 3:
        r.tags()
    r.done()
    return out


def coordinator(cl, key, key_type=KEY_TXN, skip=(), timeout=60):
    """(node, port) of the coordinator cl's brokers name for key (FindCoordinator v1), asked of
    each live broker not in skip in turn until one names a broker not in skip (broker ids are
    the brokers' indexes)."""
    def ask():
        for i in live(cl, skip):
            try:
                c = Conn("127.0.0.1", cl.brokers[i].port)
                try:
                    (_, err, node, port), = find_coordinator(c, 1, [key], key_type)
                finally:
                    c.close()
            except OSError:
                continue
            if err == NONE and node not in skip:
                return node, port
        return None
    return wait(ask, timeout, "a coordinator for " + key)
