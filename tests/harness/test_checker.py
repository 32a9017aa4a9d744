#!/usr/bin/python3
"""
tests/harness/test_checker.py — self tests of checker.py and replica_logs.py (ctest label unit).
Each anomaly the checker knows is planted in a synthetic history and must be found; a clean
history must pass. The replica tests write segment files byte by byte (RecordBatch v2, with a
gzip batch, a control batch and a torn tail) and read them back.
Run: /usr/bin/python3 tests/harness/test_checker.py [-v]
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import checker  # noqa: E402
import replica_logs  # noqa: E402


def clean_history(parts=2, per_part=6):
    """Two producers, two consumers reading everything in order, a complete final read."""
    h = [{"type": "meta", "topic": "t", "partitions": parts, "producers": 2, "consumers": 2}]
    for p in range(parts):
        for o in range(per_part):
            v = "p%d-%d" % (o % 2, p * 100 + o)
            h.append({"type": "send", "producer": o % 2, "value": v, "partition": p,
                      "status": "ok", "offset": o, "error": None, "t_send": 0, "t_ack": 1})
            h.append({"type": "final", "partition": p, "offset": o, "value": v})
            for c in range(2):
                h.append({"type": "consume", "consumer": c, "partition": p, "offset": o,
                          "value": v, "t": 1})
        h.append({"type": "final_hw", "partition": p, "low": 0, "high": per_part,
                  "complete": True, "error": None})
    return h


def edit(h, pred, fn):
    """Applies fn to every record matching pred (fn returns None to drop it)."""
    out = []
    for r in h:
        if pred(r):
            r = fn(dict(r))
        if r is not None:
            out.append(r)
    return out


def is_(t, **kw):
    return lambda r: r["type"] == t and all(r.get(k) == v for k, v in kw.items())


class CheckerTest(unittest.TestCase):
    def counts(self, h, replicas=None):
        rep = checker.check(h, replicas)
        return rep, {k: rep.counts[k] for k in checker.MUST_BE_ZERO + checker.REPORTED}

    def assertOnly(self, h, verdict, **expected):
        rep, counts = self.counts(h)
        for k, n in counts.items():
            self.assertEqual(n, expected.get(k, 0), "%s in %s\n%s" % (k, counts, rep.text()))
        self.assertEqual(rep.verdict, verdict, rep.text())
        return rep

    def test_clean_history_passes(self):
        rep = self.assertOnly(clean_history(), "pass")
        self.assertEqual(rep.info["acked"], 12)
        self.assertEqual(rep.info["consumed"], 24)

    def test_acked_lost(self):
        # The final log of partition 1 ends at 4: acked offsets 4 and 5 are gone. The consumers
        # had seen them (committed data gone) too.
        h = edit(clean_history(), lambda r: r["type"] == "final" and r["partition"] == 1
                 and r["offset"] >= 4, lambda r: None)
        h = edit(h, is_("final_hw", partition=1), lambda r: dict(r, high=4))
        self.assertOnly(h, "fail", acked_lost=2, consumed_lost=4)

    def test_unacked_absent_is_fine(self):
        h = edit(clean_history(), lambda r: r["type"] == "final" and r["partition"] == 1
                 and r["offset"] >= 4, lambda r: None)
        h = edit(h, is_("final_hw", partition=1), lambda r: dict(r, high=4))
        h = edit(h, lambda r: r["type"] == "consume" and r["partition"] == 1
                 and r["offset"] >= 4, lambda r: None)
        h = edit(h, lambda r: r["type"] == "send" and r["partition"] == 1 and r["offset"] >= 4,
                 lambda r: dict(r, status="unknown" if r["offset"] == 4 else "fail",
                                offset=None))
        self.assertOnly(h, "pass")

    def test_acked_wrong_offset_and_two_values(self):
        # Offset 3 of partition 0 was acked for one value but holds another in the final log.
        h = clean_history()
        h = edit(h, is_("final", partition=0, offset=3), lambda r: dict(r, value="p9-9"))
        h = edit(h, is_("consume", partition=0, offset=3), lambda r: dict(r, value="p9-9"))
        h = edit(h, is_("final", partition=0, offset=5), lambda r: dict(r, value="p1-3"))
        h = edit(h, is_("consume", partition=0, offset=5), lambda r: dict(r, value="p1-3"))
        # p1-3 acked at 3, now at 5 (and p1-5 acked at 5 is lost)
        rep = self.assertOnly(h, "fail", acked_wrong_offset=1, offset_two_values=2,
                              value_two_offsets=1, acked_lost=1)
        self.assertEqual(rep.examples["acked_wrong_offset"][0]["final_offsets"], [5])

    def test_consumer_sees_other_value(self):
        h = edit(clean_history(), is_("consume", consumer=1, partition=1, offset=2),
                 lambda r: dict(r, value="p7-7"))
        self.assertOnly(h, "fail", offset_two_values=1)

    def test_retry_duplicate_is_reported_not_failed(self):
        # p1-1 acked at 1, also written at 6 by a retry whose first attempt timed out.
        h = clean_history()
        h.append({"type": "final", "partition": 0, "offset": 6, "value": "p1-1"})
        h = edit(h, is_("final_hw", partition=0), lambda r: dict(r, high=7))
        rep = self.assertOnly(h, "pass", duplicates=1)
        self.assertEqual(rep.examples["duplicates"][0]["at"], [(0, 1), (0, 6)])

    def test_idempotent_producer_duplicate_fails(self):
        # The same retry duplicate, with the history saying the producers were idempotent: the
        # leader should have answered the retry with the first offset, so it must be zero.
        h = clean_history()
        h[0] = dict(h[0], idempotent=True)
        h.append({"type": "final", "partition": 0, "offset": 6, "value": "p1-1"})
        h = edit(h, is_("final_hw", partition=0), lambda r: dict(r, high=7))
        rep = self.assertOnly(h, "fail", idempotent_duplicates=1)
        self.assertEqual(rep.examples["idempotent_duplicates"][0]["at"], [(0, 1), (0, 6)])
        # a value in two partitions of the final log is one too
        h = clean_history()
        h[0] = dict(h[0], idempotent=True)
        h.append({"type": "final", "partition": 1, "offset": 6, "value": "p0-0"})
        h = edit(h, is_("final_hw", partition=1), lambda r: dict(r, high=7))
        self.assertOnly(h, "fail", idempotent_duplicates=1)

    def test_idempotent_clean_history_passes(self):
        h = clean_history()
        h[0] = dict(h[0], idempotent=True)
        self.assertOnly(h, "pass")

    def test_value_in_two_partitions(self):
        h = clean_history()
        h.append({"type": "final", "partition": 1, "offset": 6, "value": "p0-0"})
        h = edit(h, is_("final_hw", partition=1), lambda r: dict(r, high=7))
        self.assertOnly(h, "pass", value_two_offsets=1)

    def test_consumer_backwards(self):
        h = clean_history()
        h.append({"type": "consume", "consumer": 0, "partition": 1, "offset": 2, "value": "p0-102",
                  "t": 2})
        rep = self.assertOnly(h, "fail", consumer_backwards=1)
        self.assertEqual(rep.examples["consumer_backwards"][0]["after"], 5)

    def test_consumer_skips(self):
        h = edit(clean_history(), is_("consume", consumer=1, partition=0, offset=2),
                 lambda r: None)
        h = edit(h, is_("consume", consumer=0, partition=1, offset=0), lambda r: None)
        rep = self.assertOnly(h, "pass", consumer_skips=2)
        self.assertEqual(rep.examples["consumer_skips"][0]["skipped"], 1)

    def test_missing_or_partial_final_read_is_incomplete(self):
        h = edit(clean_history(), is_("final_hw", partition=1), lambda r: None)
        rep = self.assertOnly(h, "incomplete")
        self.assertIn("no final read", rep.incomplete[0])
        h = edit(clean_history(), is_("final", partition=0, offset=2), lambda r: None)
        rep = self.assertOnly(h, "incomplete")
        self.assertIn("holes", rep.incomplete[0])

    def test_replica_divergence(self):
        h = clean_history()
        final0 = [(o, "p%d-%d" % (o % 2, o)) for o in range(6)]
        good = {"records": final0, "hw": 6}
        rep, c = self.counts(h, {0: {"b0": good, "b1": dict(good)}})
        self.assertEqual(rep.verdict, "pass", rep.text())
        self.assertEqual(rep.info["replicas_checked"], 2)
        # Differs above the HW only (uncommitted tail): fine. Differs below: divergence.
        tail = {"records": final0 + [(6, "x")], "hw": 6}
        rep, c = self.counts(h, {0: {"b0": good, "b1": tail}})
        self.assertEqual(c["replica_divergence"], 0, rep.text())
        bad = {"records": final0[:3] + [(3, "x")] + final0[4:], "hw": None}
        rep, c = self.counts(h, {0: {"b0": good, "b2": bad}})
        self.assertEqual(c["replica_divergence"], 1, rep.text())
        self.assertEqual(rep.examples["replica_divergence"][0]["first_difference"],
                         [(3, "x"), (3, "p1-3")])
        # Shorter with no known HW but agreeing: still catching up, reported as short.
        rep, c = self.counts(h, {0: {"b0": good, "b1": {"records": final0[:4], "hw": None}}})
        self.assertEqual((c["replica_divergence"], c["replica_short"]), (0, 1), rep.text())
        # A replica whose own HW is lower is compared up to that HW only.
        rep, c = self.counts(h, {0: {"b0": good, "b1": {"records": final0[:4], "hw": 4}}})
        self.assertEqual(c["replica_divergence"], 0, rep.text())

    def test_cli_exit_status_and_json_line(self):
        with tempfile.TemporaryDirectory() as d:
            for name, hist, want in (("clean", clean_history(), 0),
                                     ("lost", edit(clean_history(), is_("send", offset=0),
                                                   lambda r: dict(r, value="p5-5")), 1)):
                path = os.path.join(d, name + ".jsonl")
                with open(path, "w") as f:
                    f.writelines(json.dumps(r) + "\n" for r in hist)
                    f.write('{"type": "consume", "consum')      # torn last line
                res = subprocess.run([sys.executable, os.path.join(HERE, "checker.py"), path],
                                     capture_output=True, text=True)
                self.assertEqual(res.returncode, want, res.stdout + res.stderr)
                summary = json.loads(res.stdout.splitlines()[0])
                self.assertEqual(summary["acked_lost"], 2 if want else 0)


def group_history():
    """clean_history() without its consumers, read by group "g" instead: m0 owns both
    partitions, reads offsets 0-2 of each and commits 3; an eager rebalance revokes both; m0
    gets partition 0, m1 partition 1, each resumes at 3, reads to the end and commits 6."""
    h = [r for r in clean_history() if r["type"] != "consume"]

    def member(c, t, kind, **kw):
        h.append(dict(kw, type=kind, consumer=c, group="g", t=t))

    def read(c, t, p, offsets):
        for o in offsets:
            member(c, t, "consume", partition=p, offset=o, value="p%d-%d" % (o % 2, p * 100 + o))
        member(c, t + 0.1, "commit", partition=p, offset=offsets[-1] + 1, status="ok")
    member("m0", 1, "assign", partitions=[0, 1])
    read("m0", 2, 0, [0, 1, 2])
    read("m0", 2, 1, [0, 1, 2])
    member("m0", 3, "revoke", partitions=[0, 1], lost=False)
    member("m0", 4, "assign", partitions=[0])
    member("m1", 4, "assign", partitions=[1])
    read("m0", 5, 0, [3, 4, 5])
    read("m1", 5, 1, [3, 4, 5])
    h.append({"type": "committed", "group": "g", "partition": 0, "offset": 3, "t": 2.5})
    h.append({"type": "committed", "group": "g", "partition": 0, "offset": 6, "t": 6})
    h.append({"type": "leave", "consumer": "m0", "group": "g", "t": 9})
    h.append({"type": "group_end", "group": "g", "t": 10, "complete": True})
    return h


def member_is(c, t, **kw):
    return lambda r: r.get("consumer") == c and r["type"] == t and all(
        r.get(k) == v for k, v in kw.items())


class GroupCheckerTest(CheckerTest):
    def test_clean_group_history_passes(self):
        rep = self.assertOnly(group_history(), "pass")
        self.assertEqual((rep.info["groups"], rep.info["groups_to_end"]), (1, 1))
        self.assertEqual(rep.info["group_consumed"], 12)

    def test_acked_record_no_member_received(self):
        h = edit(group_history(), member_is("m1", "consume", partition=1, offset=4),
                 lambda r: None)
        rep = self.assertOnly(h, "fail", group_acked_missed=1, consumer_skips=1)
        self.assertEqual(rep.examples["group_acked_missed"][0]["value"], "p0-104")
        # Only for records acked before the group's end, and only for groups that ran to it.
        late = edit(h, is_("send", partition=1, offset=4), lambda r: dict(r, t_ack=11))
        self.assertOnly(late, "pass", consumer_skips=1)
        self.assertOnly(edit(h, is_("group_end"), lambda r: None), "pass", consumer_skips=1)
        rep = self.assertOnly(edit(h, is_("group_end"), lambda r: dict(r, complete=False)),
                              "incomplete", consumer_skips=1)
        self.assertIn("group g", rep.incomplete[0])
        # A record the final log lost is acked_lost, not also missed by the group.
        lost = edit(h, is_("final", partition=1, offset=4), lambda r: dict(r, value="p9-9"))
        self.assertOnly(lost, "fail", acked_lost=1, offset_two_values=1, consumer_skips=1)

    def test_resume_after_commit(self):
        # m1 starts partition 1 at 4 although the last commit before its assignment was 3.
        h = edit(group_history(), member_is("m1", "consume", partition=1, offset=3),
                 lambda r: None)
        rep = self.assertOnly(h, "fail", group_resume_after_commit=1, group_acked_missed=1)
        self.assertEqual(rep.examples["group_resume_after_commit"][0]["last_commit_before"], 3)
        # m0 read offset 3 too but its commit of 4 was acknowledged only after the assignment:
        # still a skip. Acknowledged before the assignment: m1 starts at the commit.
        read3 = {"type": "consume", "consumer": "m0", "group": "g", "partition": 1,
                 "offset": 3, "value": "p1-103", "t": 2.5}
        commit4 = {"type": "commit", "consumer": "m0", "group": "g", "partition": 1,
                   "offset": 4, "status": "ok", "t": 4.5}
        at = h.index(next(r for r in h if member_is("m0", "revoke")(r)))

        def plus(*recs):
            return h[:at] + list(recs) + h[at:]
        rep = self.assertOnly(plus(read3, commit4), "fail", group_resume_after_commit=1)
        self.assertOnly(plus(read3, dict(commit4, t=2.6)), "pass")
        # A commit of 4 answered with an error (stored all the same): reported, not failed.
        self.assertOnly(plus(read3, dict(commit4, t=2.6, status="fail")), "pass",
                        group_resume_failed_commit=1)
        # No commit at all: the member must start at the partition's first offset.
        h = edit(group_history(), lambda r: r["type"] in ("commit", "group_end") or (
            r.get("group") and r["t"] >= 3), lambda r: None)
        self.assertOnly(h, "pass")
        self.assertOnly(edit(h, is_("final_hw"), lambda r: dict(r, low=1)), "pass")
        h = edit(h, member_is("m0", "consume", partition=0, offset=0), lambda r: None)
        self.assertOnly(h, "fail", group_resume_after_commit=1)

    def test_resume_bound_is_the_latest_commit_in_time_not_in_the_file(self):
        # Partition 1 goes back to m0, which resumes at 5 (m1's commit of 6 came last, at 5.1).
        # The history lists m1's records before m0's: m0's older commit of 3 (at 2.1) is
        # later in the file but not the last commit.
        h = group_history() + [
            {"type": "revoke", "consumer": "m1", "group": "g", "partitions": [1], "t": 7},
            {"type": "assign", "consumer": "m0", "group": "g", "partitions": [1], "t": 8},
            {"type": "consume", "consumer": "m0", "group": "g", "partition": 1, "offset": 5,
             "value": "p1-105", "t": 9}]
        h.sort(key=lambda r: r.get("consumer", "") != "m1")
        self.assertOnly(h, "pass", group_redelivered=1)

    def test_redelivery_after_rebalance_is_reported(self):
        # m1 resumes at 1, below the commit of 3 it had to start at or before: allowed.
        h = group_history()
        h += [{"type": "consume", "consumer": "m1", "group": "g", "partition": 1, "offset": o,
               "value": "p%d-%d" % (o % 2, 100 + o), "t": 4.5} for o in (1, 2)]
        h = edit(h, member_is("m1", "consume", partition=1),
                 lambda r: dict(r, t=4.5) if r["offset"] > 2 else r)
        h.sort(key=lambda r: (r.get("consumer") != "m1", r.get("t", 0), r.get("offset", 0)))
        rep = self.assertOnly(h, "pass", group_redelivered=2)
        self.assertEqual(rep.examples["group_redelivered"][0]["members"], ["m0", "m1"])
        # Going back inside one assignment is not a redelivery but a consumer going backwards.
        h = group_history() + [{"type": "consume", "consumer": "m1", "group": "g",
                                "partition": 1, "offset": 4, "value": "p0-104", "t": 7}]
        self.assertOnly(h, "fail", consumer_backwards=1, group_redelivered=1)

    def test_two_owners(self):
        # m1 assigned partition 1 at 2.5, while m0 owned it until its revoke at 3.
        h = edit(group_history(), member_is("m1", "assign"), lambda r: dict(r, t=2.5))
        rep = self.assertOnly(h, "fail", group_two_owners=1)
        self.assertEqual([o[2] for o in rep.examples["group_two_owners"][0]["owners"]],
                         ["m0", "m1"])
        # m0 SIGKILLed (no revoke): it owns its partitions until its last record (t 2.1).
        killed = edit(group_history(), lambda r: r.get("consumer") == "m0" and r["t"] >= 3,
                      lambda r: None)
        killed = edit(killed, member_is("m1", "assign"), lambda r: dict(r, partitions=[0, 1]))
        killed += [{"type": "consume", "consumer": "m1", "group": "g", "partition": 0,
                    "offset": o, "value": "p%d-%d" % (o % 2, o), "t": 5} for o in (3, 4, 5)]
        self.assertOnly(killed, "pass")
        early = edit(killed, member_is("m1", "assign"), lambda r: dict(r, t=2.05))
        self.assertOnly(early, "fail", group_two_owners=2, group_resume_after_commit=2)
        # Another group owning the same partition at once is fine.
        other = group_history()
        other += [dict(r, consumer="x" + r["consumer"], group="g2", t=r["t"] + 0.5)
                  for r in other if r.get("group") == "g" and "consumer" in r]
        rep = self.assertOnly(other, "pass")
        self.assertEqual(rep.info["groups"], 2)

    def test_commit_backwards(self):
        back = {"type": "commit", "consumer": "m0", "group": "g", "partition": 0, "offset": 2,
                "status": "ok", "t": 8}
        rep = self.assertOnly(group_history() + [back], "fail", group_commit_backwards=1)
        self.assertEqual(rep.examples["group_commit_backwards"][0]["from"], 6)
        self.assertOnly(group_history() + [dict(back, status="fail")], "pass")
        reset = {"type": "reset", "group": "g", "partition": 0, "offset": 0, "t": 7.5}
        self.assertOnly(group_history() + [reset, back], "pass")
        # Committed offsets read back must not go backwards either.
        read = {"type": "committed", "group": "g", "partition": 0, "offset": 5, "t": 7}
        rep = self.assertOnly(group_history() + [read], "fail", group_commit_backwards=1)
        self.assertEqual(rep.examples["group_commit_backwards"][0]["what"], "offsets read back")
        self.assertOnly(group_history() + [dict(read, offset=-1001)], "pass")


# ---- RecordBatch v2 writer for the replica tests ---------------------------------------------

def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v):
    return uvarint((v << 1) ^ (v >> 63))


def record(delta, value, key=None):
    def field(b):
        return varint(-1) if b is None else varint(len(b)) + b
    body = b"\x00" + varint(delta * 10) + varint(delta) + field(key) + field(value)
    body += varint(1) + field(b"h") + field(b"hv")            # one header
    return varint(len(body)) + body


def batch(base, values, codec=0, control=False, epoch=0):
    recs = b"".join(record(i, v) for i, v in enumerate(values))
    if codec == 1:
        recs = gzip.compress(recs)
    attrs = codec | (0x20 if control else 0)
    after_crc = struct.pack(">hiqqqhii", attrs, len(values) - 1, 1000, 1000 + len(values), -1, -1,
                            -1, len(values)) + recs
    crc = replica_logs.crc32c(after_crc)
    rest = struct.pack(">ibI", epoch, 2, crc) + after_crc
    return struct.pack(">qi", base, len(rest)) + rest


class ReplicaLogsTest(unittest.TestCase):
    def test_crc32c(self):
        self.assertEqual(replica_logs.crc32c(b"123456789"), 0xE3069283)

    def make_log_dir(self, d):
        part = os.path.join(d, "t-0")
        os.makedirs(part)
        seg0 = batch(0, [b"a", b"b"]) + batch(2, [b"c", None, b"\xffz"], codec=1)
        seg0 += batch(5, [b"\x00\x00\x00\x00"], control=True)
        seg1 = batch(6, [b"d"]) + batch(7, [b"e"])[:30]           # torn tail
        with open(os.path.join(part, "%020d.log" % 0), "wb") as f:
            f.write(seg0)
        with open(os.path.join(part, "%020d.log" % 6), "wb") as f:
            f.write(seg1)
        open(os.path.join(part, "%020d.index" % 0), "wb").close()
        with open(os.path.join(d, "replication-offset-checkpoint"), "w") as f:
            f.write("0\n2\nt 0 6\nother-topic 3 17\n")
        return part

    def test_read_partition_and_checkpoint(self):
        warnings = []
        with tempfile.TemporaryDirectory() as d:
            part = self.make_log_dir(d)
            got = replica_logs.read_partition(part, warn=warnings.append)
            self.assertEqual(got, [(0, "a"), (1, "b"), (2, "c"), (3, None), (4, "\\xffz"),
                                   (6, "d")])
            self.assertEqual(len(warnings), 1)
            self.assertIn("torn", warnings[0])
            self.assertEqual(replica_logs.read_checkpoint(
                os.path.join(d, "replication-offset-checkpoint")),
                {("t", 0): 6, ("other-topic", 3): 17})
            logdir = replica_logs.read_log_dir(d, "t", warn=warnings.append)
            self.assertEqual(logdir[0]["hw"], 6)
            self.assertEqual(len(logdir[0]["records"]), 6)

    def test_corrupt_batch_stops_reading(self):
        warnings = []
        with tempfile.TemporaryDirectory() as d:
            data = bytearray(batch(0, [b"a"]) + batch(1, [b"b"]))
            data[-1] ^= 0xFF
            path = os.path.join(d, "%020d.log" % 0)
            with open(path, "wb") as f:
                f.write(data)
            self.assertEqual(replica_logs.read_segment(path, warn=warnings.append), [(0, "a")])
            self.assertIn("CRC", warnings[0])

    def test_checker_compares_replicas_from_disk(self):
        with tempfile.TemporaryDirectory() as d:
            for b, vals in (("b0", [b"a", b"b", b"c"]), ("b1", [b"a", b"X", b"c"])):
                os.makedirs(os.path.join(d, b, "t-0"))
                with open(os.path.join(d, b, "t-0", "%020d.log" % 0), "wb") as f:
                    f.write(batch(0, vals))
            h = [{"type": "meta", "topic": "t", "partitions": 1}]
            h += [{"type": "final", "partition": 0, "offset": o, "value": v}
                  for o, v in enumerate("abc")]
            h.append({"type": "final_hw", "partition": 0, "low": 0, "high": 3, "complete": True})
            path = os.path.join(d, "h.jsonl")
            with open(path, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in h)
            args = [path, "--log-dir", os.path.join(d, "b0"), "--log-dir",
                    "one=" + os.path.join(d, "b1"), "--json"]
            res = subprocess.run([sys.executable, os.path.join(HERE, "checker.py")] + args,
                                 capture_output=True, text=True)
            self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
            s = json.loads(res.stdout)
            self.assertEqual((s["replica_divergence"], s["replicas_checked"]), (1, 2))


if __name__ == "__main__":
    unittest.main()
