"""
tests/integration/protocol/kwire.py — a small, independent Kafka wire codec for tests.

It encodes requests and decodes responses field by field from the protocol
facts (docs/protocol.md), so a test that decodes a whole response and
finds no bytes left over checks every field of that version's layout.
Also builds RecordBatch v2 with a CRC-32C written here (not the broker's).
"""
import socket
import struct
import time


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _CRC[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class W:
    def __init__(self, flex=False):
        self.b = bytearray()
        self.flex = flex

    def i8(self, v): self.b += struct.pack(">b", v); return self
    def i16(self, v): self.b += struct.pack(">h", v); return self
    def i32(self, v): self.b += struct.pack(">i", v); return self
    def i64(self, v): self.b += struct.pack(">q", v); return self
    def raw(self, v): self.b += v; return self

    def uvarint(self, v):
        while v >= 0x80:
            self.b.append((v & 0x7F) | 0x80)
            v >>= 7
        self.b.append(v)
        return self

    def varint(self, v): return self.uvarint((v << 1) ^ (v >> 63))

    def str(self, s):
        if s is None:
            return self.uvarint(0) if self.flex else self.i16(-1)
        e = s.encode()
        if self.flex:
            self.uvarint(len(e) + 1)
        else:
            self.i16(len(e))
        self.b += e
        return self

    def bytes(self, v):
        if v is None:
            return self.uvarint(0) if self.flex else self.i32(-1)
        if self.flex:
            self.uvarint(len(v) + 1)
        else:
            self.i32(len(v))
        self.b += v
        return self

    def array(self, items, fn):
        if items is None:
            return self.uvarint(0) if self.flex else self.i32(-1)
        if self.flex:
            self.uvarint(len(items) + 1)
        else:
            self.i32(len(items))
        for it in items:
            fn(self, it)
        return self

    def tags(self):
        if self.flex:
            self.uvarint(0)
        return self


class R:
    def __init__(self, data, flex=False):
        self.d = bytes(data)
        self.p = 0
        self.flex = flex

    def take(self, n):
        if self.p + n > len(self.d):
            raise AssertionError("response too short: need %d at %d of %d" % (n, self.p, len(self.d)))
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        v = s = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << s
            s += 7
            if not b & 0x80:
                return v

    def str(self):
        n = self.uvarint() - 1 if self.flex else self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes(self):
        n = self.uvarint() - 1 if self.flex else self.i32()
        return None if n < 0 else self.take(n)

    def array(self, fn):
        n = self.uvarint() - 1 if self.flex else self.i32()
        if n < 0:
            return None
        return [fn(self) for _ in range(n)]

    def tags(self):
        if self.flex:
            for _ in range(self.uvarint()):
                self.uvarint()
                self.take(self.uvarint())

    def done(self):
        assert self.p == len(self.d), "%d bytes left over in response" % (len(self.d) - self.p)


FLEX = {0: 9, 1: 12, 2: 6, 3: 9, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3,
        18: 3, 19: 5, 20: 4, 22: 2, 23: 4, 24: 3, 25: 3, 26: 3, 27: 1, 35: 2, 37: 2, 42: 2, 43: 2, 45: 0, 46: 0, 60: 0,
        61: 0}
FLEX[28] = 3  # TxnOffsetCommit
FLEX.update({65: 0, 66: 0})  # DescribeTransactions, ListTransactions
FLEX.update({29: 2, 30: 2, 31: 2})  # DescribeAcls, CreateAcls, DeleteAcls
FLEX.update({48: 1, 49: 1})  # DescribeClientQuotas, AlterClientQuotas
FLEX.update({50: 0, 51: 0})  # DescribeUserScramCredentials, AlterUserScramCredentials


class Conn:
    def __init__(self, host, port, timeout=10):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.corr = 0

    def close(self):
        self.s.close()

    def send(self, key, ver, body, client_id="gregor-test"):
        self.corr += 1
        flex = ver >= FLEX.get(key, 99)
        h = W().i16(key).i16(ver).i32(self.corr).str(client_id)
        if flex:
            h.uvarint(0)
        frame = bytes(h.b) + bytes(body)
        self.s.sendall(struct.pack(">i", len(frame)) + frame)
        return self.corr

    def recv_frame(self):
        hdr = self._read(4)
        n = struct.unpack(">i", hdr)[0]
        return self._read(n)

    def recv(self, key, ver, corr):
        data = self.recv_frame()
        r = R(data)
        got = r.i32()
        assert got == corr, "correlation id %d, expected %d" % (got, corr)
        flex = ver >= FLEX.get(key, 99)
        if flex and key != 18:
            r.uvarint()  # response header tags (none expected)
        r.flex = flex
        return r

    def call(self, key, ver, body):
        c = self.send(key, ver, body)
        return self.recv(key, ver, c)

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise ConnectionError("connection closed by broker")
            out += chunk
        return out


def record_batch(records, base_ts=None, codec=0, producer_id=-1, producer_epoch=-1, base_seq=-1,
                 attributes_extra=0, magic=2):
    """records: list of (key bytes|None, value bytes|None, ts_delta). Uncompressed only
    (codec only sets the attribute bits, for tests that want a bad codec)."""
    if base_ts is None:
        base_ts = int(time.time() * 1000)
    body = bytearray()
    max_ts = base_ts
    for i, (k, v, dt) in enumerate(records):
        rec = W()
        rec.i8(0).varint(dt).varint(i)
        if k is None:
            rec.varint(-1)
        else:
            rec.varint(len(k)).raw(k)
        if v is None:
            rec.varint(-1)
        else:
            rec.varint(len(v)).raw(v)
        rec.varint(0)
        body += W().varint(len(rec.b)).b + rec.b
        max_ts = max(max_ts, base_ts + dt)
    after_crc = W().i16(codec | attributes_extra).i32(len(records) - 1).i64(base_ts).i64(max_ts)
    after_crc.i64(producer_id).i16(producer_epoch).i32(base_seq).i32(len(records)).raw(body)
    crc = crc32c(after_crc.b)
    head = W().i64(0).i32(4 + 1 + 4 + len(after_crc.b)).i32(-1).i8(magic).raw(struct.pack(">I", crc))
    return bytes(head.b + after_crc.b)


def parse_batches(data):
    """Splits a records blob into (base_offset, last_offset, count, bytes) per batch."""
    out = []
    p = 0
    while p + 12 <= len(data):
        base, length = struct.unpack(">qi", data[p:p + 12])
        if p + 12 + length > len(data):
            break  # trailing partial batch
        b = data[p:p + 12 + length]
        last_delta = struct.unpack(">i", b[23:27])[0]
        count = struct.unpack(">i", b[57:61])[0]
        out.append((base, base + last_delta, count, b))
        p += 12 + length
    return out


def batch_records(b):
    """Decodes an uncompressed batch's records as (offset, key, value)."""
    base = struct.unpack(">q", b[0:8])[0]
    count = struct.unpack(">i", b[57:61])[0]
    r = R(b[61:])

    def varint():
        v = r.uvarint()
        return (v >> 1) ^ -(v & 1)
    out = []
    for _ in range(count):
        varint()
        r.i8()
        varint()
        od = varint()
        kl = varint()
        k = r.take(kl) if kl >= 0 else None
        vl = varint()
        v = r.take(vl) if vl >= 0 else None
        for _ in range(varint()):
            r.take(varint())
            hl = varint()
            if hl >= 0:
                r.take(hl)
        out.append((base + od, k, v))
    return out
