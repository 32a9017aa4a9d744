#!/usr/bin/python3
"""
tests/harness/checker.py — checks a replication test's history (written by workload.py) and,
optionally, the replicas' logs on disk (read by replica_logs.py), and says whether the cluster
kept its promises.

History: JSON lines, one object each, told apart by "type" (workload.py owns the writer):
  meta       {topic, partitions, producers, consumers, idempotent, ...}   idempotent: the
                                                       producers ran with enable.idempotence
  send       {producer, value, partition, status: ok|fail|unknown, offset (int or null), error,
              t_send, t_ack}
  consume    {consumer, partition, offset, value, t, group}   in the order that consumer received
                                                       them; group absent or null for a consumer
                                                       that assigns partitions itself
  final      {partition, offset, value}                the post-run read of every partition
  final_hw   {partition, low, high, complete}          where that read started and ended (HW)
  event      {what, ...}                               faults and client errors (informational)
Consumer groups (consumer ids are unique across groups; "t" of every record is one clock, so
records of different members can be ordered; each member's records are in the order it saw them):
  assign     {consumer, group, partitions, t}          partitions given to the member
  revoke     {consumer, group, partitions, t, lost}    taken away (lost: the member lost its
                                                       membership, librdkafka's on_lost)
  commit     {consumer, group, partition, offset, t, status: ok|fail}   a commit of the next
                                                       offset to read, t when its answer came
  reset      {group, partition, offset, t}             the group's offset set by an admin
  committed  {group, partition, offset, t}             the group's committed offset read back
                                                       (OffsetFetch) by one poller, in order
  leave      {consumer, group, t}                      the member closed
  group_end  {group, t, complete}                      the members ran until they had read every
                                                       record acknowledged before t (complete:
                                                       they reached the high watermarks)
A member owns a partition from its assign to its revoke; without a revoke, to its last record
in the history (a SIGKILLed member: the history cannot tell when its session expired).

Findings (counts, with up to EXAMPLES examples each):
  must be zero (exit 1 otherwise):
    acked_lost          acked value absent from the final read of its partition
    consumed_lost       a consumer saw offset o, the final log does not reach o (committed, gone)
    offset_two_values   one (partition, offset) seen holding two values (acks, consumers, final)
    consumer_backwards  a consumer received offset o after o' >= o in one partition
    replica_divergence  a replica's records below the min HW differ from the final read / others
    group_acked_missed  a record acked before a group's group_end (and not acked_lost) that no
                        member of the group received (groups with a complete group_end only)
    group_resume_after_commit  after an assignment, the member's first record of the partition
                        is past the group's last commit of it acknowledged before the assignment
                        (past the partition's low offset when there was none)
    group_two_owners    two members of one group owned a partition at overlapping times
    group_commit_backwards  a group's acknowledged commits of a partition, or its committed
                        offsets read back, went backwards with no reset in between
    idempotent_duplicates  one value at two offsets of the final log when the meta record says
                        the producers were idempotent (their retries must be deduplicated); the
                        places are not counted as duplicates or value_two_offsets then
  reported:
    acked_wrong_offset  acked at X, but the final log holds another value at X or has it elsewhere
    value_two_offsets   a value seen at two offsets, not explained as a retry duplicate
    duplicates          a value at several offsets of its partition in the final log (producer
                        retries with idempotence off: expected, not a failure)
    consumer_skips      a consumer jumped from o to o+k (k > 1) over records the final log holds
    replica_short       a replica without a known HW ends before the min HW but agrees up to its
                        end (a follower still catching up when its log was read)
    group_redelivered   deliveries of one (partition, offset) to a group beyond the first
                        (at-least-once: a partition moved before its last records were committed)
    group_resume_failed_commit  a member resumed past the last acknowledged commit, at the offset
                        of a commit whose answer was an error (stored all the same, e.g. a
                        timeout): allowed
  A group member's records of a partition are checked for consumer_backwards and consumer_skips
  from one assignment to its revoke; where a new assignment starts is group_resume_after_commit.
  the history cannot be checked (exit 2 if nothing above fails): a partition without a final
  read, a final read that stopped early, or one with holes between its low and high offsets; a
  group whose group_end is not complete.

Output: one JSON line {"verdict": pass|fail|incomplete, counts...}, then readable text.
CLI: checker.py HISTORY [--log-dir NAME=DIR | --log-dir DIR]... [--json]
"""
import argparse
import json
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import replica_logs  # noqa: E402

MUST_BE_ZERO = ("acked_lost", "consumed_lost", "offset_two_values", "consumer_backwards",
                "replica_divergence", "group_acked_missed", "group_resume_after_commit",
                "group_two_owners", "group_commit_backwards", "idempotent_duplicates")
REPORTED = ("acked_wrong_offset", "value_two_offsets", "duplicates", "consumer_skips",
            "replica_short", "group_redelivered", "group_resume_failed_commit")
EXAMPLES = 5


def load_history(path):
    """The history's records, in file order. A torn last line (killed writer) is ignored."""
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


class Report:
    def __init__(self):
        self.counts = defaultdict(int)
        self.examples = defaultdict(list)
        self.info = {}
        self.incomplete = []

    def add(self, kind, example, n=1):
        self.counts[kind] += n
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append(example)

    @property
    def verdict(self):
        if any(self.counts[k] for k in MUST_BE_ZERO):
            return "fail"
        return "incomplete" if self.incomplete else "pass"

    def summary(self):
        s = {"verdict": self.verdict}
        s.update({k: self.counts[k] for k in MUST_BE_ZERO + REPORTED})
        s.update(self.info)
        s["incomplete_partitions"] = len(self.incomplete)
        return s

    def text(self):
        lines = ["checker: %s" % self.verdict.upper()]
        lines.append("  " + ", ".join("%s %s" % (k, v) for k, v in self.info.items()))
        for k in MUST_BE_ZERO + REPORTED:
            tag = "MUST BE 0" if k in MUST_BE_ZERO else "reported"
            lines.append("  %-26s %6d   (%s)" % (k, self.counts[k], tag))
            for ex in self.examples[k]:
                lines.append("      e.g. " + json.dumps(ex, sort_keys=True))
        for why in self.incomplete:
            lines.append("  cannot check: " + why)
        return "\n".join(lines)


GROUP_MEMBER_TYPES = ("assign", "revoke", "consume", "leave", "commit")


class History:
    """The history split by type; final[p] = {offset: value} only for usable final reads.
    Group records: members[(group, consumer)] = that member's records in order;
    offsets[(group, p)] = commits and resets in time order, read_back[(group, p)] = committed
    records."""

    def __init__(self, records, report):
        self.sends = [r for r in records if r.get("type") == "send"]
        self.idempotent = any(r.get("type") == "meta" and r.get("idempotent") for r in records)
        self.consumes = defaultdict(list)            # (consumer, partition) -> [(offset, value)]
        self.members = defaultdict(list)
        self.offsets = defaultdict(list)
        self.read_back = defaultdict(list)
        self.group_ends = {}
        final = defaultdict(dict)
        self.hw = {}
        parts = set()
        for r in records:
            t = r.get("type")
            if t == "meta":
                parts.update(range(r.get("partitions", 0)))
            elif t in GROUP_MEMBER_TYPES and r.get("group") is not None:
                self.members[(r["group"], r["consumer"])].append(r)
                if t == "commit":
                    self.offsets[(r["group"], r["partition"])].append(r)
            elif t == "reset":
                self.offsets[(r["group"], r["partition"])].append(r)
            elif t == "committed":
                self.read_back[(r["group"], r["partition"])].append(r)
            elif t == "group_end":
                self.group_ends[r["group"]] = r
            elif t == "consume":
                self.consumes[(r["consumer"], r["partition"])].append((r["offset"], r["value"]))
            elif t == "final":
                final[r["partition"]][r["offset"]] = r["value"]
            elif t == "final_hw":
                self.hw[r["partition"]] = r
        parts.update(s["partition"] for s in self.sends)
        self.final = {}
        for p in sorted(parts):
            why = self._unusable(p, final.get(p, {}))
            if why:
                report.incomplete.append("partition %d: %s" % (p, why))
            else:
                self.final[p] = final.get(p, {})
        self.partitions = sorted(parts)
        for recs in self.offsets.values():          # several members' commits: by time
            recs.sort(key=lambda r: r["t"])
        self.groups = sorted({g for g, _ in self.members} | set(self.group_ends))
        for g in self.groups:
            end = self.group_ends.get(g)
            if end is not None and not end.get("complete"):
                report.incomplete.append("group %s: its members did not reach the end (%s)" % (
                    g, end.get("error", "not at the high watermarks")))

    def low(self, p):
        """The partition's first offset as the final read saw it (0 without one)."""
        return self.hw.get(p, {}).get("low") or 0

    def _unusable(self, p, recs):
        hw = self.hw.get(p)
        if hw is None:
            return "no final read"
        if not hw.get("complete"):
            return "final read stopped early (%s)" % hw.get("error", "not at the high watermark")
        holes = [o for o in range(hw["low"], hw["high"]) if o not in recs]
        if holes:
            return "final read has %d holes below the HW, first at %d" % (len(holes), holes[0])
        return None


def check_sends(h, rep):
    """acked_lost, acked_wrong_offset; returns the acks as observations (p, o, value)."""
    where = defaultdict(set)                         # (p, value) -> final offsets
    for p, recs in h.final.items():
        for o, v in recs.items():
            where[(p, v)].add(o)
    obs = []
    for s in h.sends:
        if s["status"] != "ok":
            continue
        p, v, o = s["partition"], s["value"], s.get("offset")
        if o is not None and o >= 0:
            obs.append((p, o, v, "ack"))
        if p not in h.final:
            continue
        at = where.get((p, v))
        if not at:
            rep.add("acked_lost", {"partition": p, "value": v, "acked_offset": o})
        elif o is not None and o >= 0 and (o not in at):
            rep.add("acked_wrong_offset", {"partition": p, "value": v, "acked_offset": o,
                                           "final_offsets": sorted(at),
                                           "final_value_there": h.final[p].get(o)})
    return obs


def check_record(h, rep, c, p, prev, o, v):
    """consumer_backwards, consumer_skips and consumed_lost for consumer c receiving offset o
    of partition p right after offset prev (None: the first record of an assignment)."""
    final = h.final.get(p)
    if prev is None:
        pass
    elif o <= prev:
        rep.add("consumer_backwards", {"consumer": c, "partition": p, "after": prev, "got": o})
    elif o > prev + 1 and final is not None:
        skipped = [x for x in range(prev + 1, o) if x in final]
        if skipped:
            rep.add("consumer_skips", {"consumer": c, "partition": p, "after": prev, "got": o,
                                       "skipped": len(skipped)})
    if final is not None and o >= h.hw[p]["high"]:
        rep.add("consumed_lost", {"consumer": c, "partition": p, "offset": o, "value": v,
                                  "final_hw": h.hw[p]["high"]})


def check_consumers(h, rep):
    """consumer_backwards, consumer_skips, consumed_lost for the consumers outside groups;
    returns their observations."""
    obs = []
    for (c, p), seq in sorted(h.consumes.items(), key=lambda kv: str(kv[0])):
        prev = h.low(p) - 1                              # assigned from the beginning
        for o, v in seq:
            obs.append((p, o, v, "consumer " + str(c)))
            check_record(h, rep, c, p, prev, o, v)
            prev = o
    return obs


def check_offsets(h, rep, obs):
    """offset_two_values, value_two_offsets, duplicates over every observation."""
    seen = defaultdict(dict)                         # (p, o) -> value -> first source
    for p, recs in h.final.items():
        for o, v in recs.items():
            seen[(p, o)].setdefault(v, "final")
    for p, o, v, src in obs:
        seen[(p, o)].setdefault(v, src)
    places = defaultdict(set)                        # value -> {(p, o)}
    for (p, o), vals in seen.items():
        if len(vals) > 1:
            rep.add("offset_two_values", {"partition": p, "offset": o,
                                          "values": [[v, src] for v, src in vals.items()]})
        for v in vals:
            if v is not None:
                places[v].add((p, o))
    sent_to = {s["value"]: s["partition"] for s in h.sends}
    for v, at in places.items():
        if len(at) < 2:
            continue
        p_sent = sent_to.get(v)
        retry = all(p == p_sent and p in h.final and h.final[p].get(o) == v for p, o in at)
        ex = {"value": v, "at": sorted(at)}
        in_final = [(p, o) for p, o in at if p in h.final and h.final[p].get(o) == v]
        if h.idempotent and len(in_final) > 1:
            rep.add("idempotent_duplicates", {"value": v, "at": sorted(in_final)})
        else:
            rep.add("duplicates" if retry else "value_two_offsets", ex)


def check_replicas(h, rep, replicas):
    """replicas: {partition: {name: {"records": [(o, v)], "hw": int or None}}}. Every replica
    must hold exactly the final read's records below the smallest HW known for the partition."""
    for p, reps in sorted(replicas.items()):
        hws = [r["hw"] for r in reps.values() if r.get("hw") is not None]
        if p in h.final:
            hws.append(h.hw[p]["high"])
        if not hws:
            continue
        min_hw = min(hws)
        ref_name, ref = "final read", None
        if p in h.final:
            ref = sorted((o, v) for o, v in h.final[p].items() if o < min_hw)
        for name, r in sorted(reps.items()):
            mine = sorted((o, v) for o, v in r["records"] if o < min_hw)
            if ref is None:
                ref_name, ref = name, mine
                continue
            if len(mine) < len(ref) and mine == ref[:len(mine)]:
                rep.add("replica_short", {"partition": p, "replica": name, "min_hw": min_hw,
                                          "records": len(mine), "expected": len(ref)})
            elif mine != ref:
                diff = next((i for i, (a, b) in enumerate(zip(mine, ref)) if a != b),
                            min(len(mine), len(ref)))
                rep.add("replica_divergence", {
                    "partition": p, "replica": name, "versus": ref_name, "min_hw": min_hw,
                    "records": len(mine), "expected": len(ref),
                    "first_difference": [mine[diff] if diff < len(mine) else None,
                                         ref[diff] if diff < len(ref) else None]})


def resume_bound(h, g, p, t):
    """The offset a member assigned partition p of group g at time t must start at or before:
    the last acknowledged commit or reset before t, else the partition's low offset."""
    bound = h.low(p)
    for r in h.offsets[(g, p)]:
        if r["t"] <= t and (r["type"] == "reset" or r.get("status") == "ok"):
            bound = r["offset"]
    return bound


def check_member(h, rep, g, c, recs, owned):
    """One member's records in order: per-assignment sequences (check_record), where each
    assignment starts (group_resume_*), and its ownership intervals, appended to
    owned[p] as (start, end, consumer). Returns its observations."""
    obs = []
    prev = {}                                        # p -> last offset in this assignment
    start = {}                                       # p -> assign time
    pending = {}                                     # p -> assign time, no record yet
    last_t = recs[-1]["t"] if recs else 0
    for r in recs:
        t = r["type"]
        if t == "assign":
            for p in r["partitions"]:
                start[p] = pending[p] = r["t"]
                prev[p] = None
        elif t == "revoke":
            for p in r["partitions"]:
                if p in start:
                    owned[p].append((start.pop(p), r["t"], c))
                pending.pop(p, None)
                prev.pop(p, None)
        elif t == "consume":
            p, o, v = r["partition"], r["offset"], r["value"]
            obs.append((p, o, v, "group %s member %s" % (g, c)))
            if p in pending:
                check_resume(h, rep, g, c, p, pending.pop(p), r)
            elif p not in prev:                      # records outside any assignment
                prev[p] = h.low(p) - 1
            check_record(h, rep, c, p, prev[p], o, v)
            prev[p] = o
    for p, t0 in start.items():
        owned[p].append((t0, last_t, c))
    return obs


def check_resume(h, rep, g, c, p, t_assign, first):
    """group_resume_after_commit / group_resume_failed_commit for the first record after an
    assignment."""
    bound = resume_bound(h, g, p, t_assign)
    if first["offset"] <= bound:
        return
    ex = {"group": g, "consumer": c, "partition": p, "assigned_at": t_assign,
          "first_offset": first["offset"], "last_commit_before": bound}
    failed = [r for r in h.offsets[(g, p)] if r["type"] == "commit" and r["status"] != "ok"
              and r["t"] <= first["t"] and r["offset"] == first["offset"]]
    rep.add("group_resume_failed_commit" if failed else "group_resume_after_commit", ex)


def check_groups(h, rep):
    """Every group_* finding; returns the members' observations."""
    obs = []
    for g in h.groups:
        owned = defaultdict(list)                    # p -> [(start, end, consumer)]
        got = defaultdict(list)                      # (p, o) -> consumers
        gobs = []
        for (g2, c), recs in sorted(h.members.items(), key=lambda kv: str(kv[0])):
            if g2 != g:
                continue
            mine = check_member(h, rep, g, c, recs, owned)
            gobs += mine
            for p, o, v, _ in mine:
                got[(p, o)].append(c)
        obs += gobs
        check_owners(rep, g, owned)
        for (p, o), who in sorted(got.items()):
            if len(who) > 1:
                rep.add("group_redelivered", {"group": g, "partition": p, "offset": o,
                                              "members": who}, len(who) - 1)
        end = h.group_ends.get(g)
        if end is not None and end.get("complete"):
            check_missed(h, rep, g, end["t"], gobs)
    for (g, p), recs in sorted(h.offsets.items(), key=lambda kv: str(kv[0])):
        check_monotonic(rep, g, p, [r for r in recs if r["type"] == "reset"
                                    or r.get("status") == "ok"], "acknowledged commits")
    for (g, p), recs in sorted(h.read_back.items(), key=lambda kv: str(kv[0])):
        resets = [r for r in h.offsets[(g, p)] if r["type"] == "reset"]
        check_monotonic(rep, g, p, recs + resets, "offsets read back")
    return obs


def check_owners(rep, g, owned):
    """group_two_owners: ownership intervals of one partition by two members overlap."""
    for p, lst in sorted(owned.items()):
        lst.sort(key=lambda x: (x[0], x[1]))
        for i, a in enumerate(lst):
            for b in lst[i + 1:]:
                if b[0] >= a[1]:
                    break
                if a[2] != b[2]:
                    rep.add("group_two_owners", {"group": g, "partition": p,
                                                 "owners": [list(a), list(b)]})


def check_missed(h, rep, g, t_end, obs):
    """group_acked_missed: acked before t_end, not lost, never received by the group (obs: the
    group's observations)."""
    got = {(p, v) for p, _, v, _ in obs}
    for s in h.sends:
        if s["status"] != "ok" or (s.get("t_ack") is not None and s["t_ack"] > t_end):
            continue
        p, v = s["partition"], s["value"]
        if p in h.final and v not in h.final[p].values():
            continue                                 # acked_lost already
        if (p, v) not in got:
            rep.add("group_acked_missed", {"group": g, "partition": p, "value": v,
                                           "acked_offset": s.get("offset")})


def check_monotonic(rep, g, p, recs, what):
    """group_commit_backwards over recs (commits or read-backs, with the resets) in time order."""
    high = None
    for r in sorted(recs, key=lambda r: r["t"]):
        if r["type"] == "reset":
            high = r["offset"]
        elif r["offset"] < 0:
            continue                                 # nothing committed yet
        elif high is not None and r["offset"] < high:
            rep.add("group_commit_backwards", {"group": g, "partition": p, "what": what,
                                               "from": high, "to": r["offset"], "t": r["t"]})
        else:
            high = r["offset"]


def check(records, replicas=None):
    """Checks a history (list of dicts) and optional replica dumps; returns a Report."""
    rep = Report()
    h = History(records, rep)
    obs = check_sends(h, rep) + check_consumers(h, rep) + check_groups(h, rep)
    check_offsets(h, rep, obs)
    if replicas:
        check_replicas(h, rep, replicas)
    st = defaultdict(int)
    for s in h.sends:
        st[s["status"]] += 1
    rep.info = {"sends": len(h.sends), "acked": st["ok"], "failed": st["fail"],
                "unknown": st["unknown"], "consumed": sum(len(v) for v in h.consumes.values()),
                "final_records": sum(len(v) for v in h.final.values()),
                "groups": len(h.groups), "groups_to_end": sum(
                    1 for e in h.group_ends.values() if e.get("complete")),
                "group_consumed": sum(1 for recs in h.members.values() for r in recs
                                      if r["type"] == "consume"),
                "partitions": len(h.partitions), "replicas_checked": sum(
                    len(v) for v in (replicas or {}).values())}
    return rep


def load_replicas(log_dirs, topic):
    """log_dirs: ["name=DIR" or "DIR"] -> {partition: {name: replica}} via replica_logs."""
    out = defaultdict(dict)
    for spec in log_dirs:
        name, _, d = spec.rpartition("=")
        name = name or os.path.basename(os.path.normpath(d))
        for p, r in replica_logs.read_log_dir(d, topic).items():
            out[p][name] = r
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Check a replication test history.")
    ap.add_argument("history")
    ap.add_argument("--log-dir", action="append", default=[],
                    help="a broker's log.dirs to compare replicas (NAME=DIR or DIR); repeatable")
    ap.add_argument("--topic", help="topic of the replicas (default: from the history's meta)")
    ap.add_argument("--json", action="store_true", help="print only the JSON summary line")
    args = ap.parse_args(argv)
    records = load_history(args.history)
    topic = args.topic or next((r["topic"] for r in records if r.get("type") == "meta"), None)
    replicas = load_replicas(args.log_dir, topic) if args.log_dir and topic else None
    rep = check(records, replicas)
    print(json.dumps(rep.summary(), sort_keys=True))
    if not args.json:
        print(rep.text())
    return {"pass": 0, "fail": 1, "incomplete": 2}[rep.verdict]


if __name__ == "__main__":
    sys.exit(main())
