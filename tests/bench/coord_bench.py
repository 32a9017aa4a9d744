"""tests/bench/coord_bench.py — the `coordfail` stage of cluster_bench.py (docs/PERFORMANCE.md
§15): group coordinator failover on 3 brokers with __consumer_offsets at RF 3.

  1. Commits offsets for GROUPS groups x 10 partitions of topic cf-data as a simple consumer
     (OffsetCommit v2, generation -1, empty member id: accepted for a group without members),
     one request per group, pipelined (WINDOW requests in flight on one connection per broker),
     each to the group's coordinator: the leader of __consumer_offsets partition
     abs(Java hashCode(group)) % 50. Times it (commits/s).
  2. Starts one group member speaking the protocol itself (JoinGroup v5, SyncGroup v3, one
     OffsetCommit v2 as that member, Heartbeat v3 every 500 ms, session timeout 6000 ms) in a
     group whose coordinator is broker X, never the controller.
  3. SIGKILLs X and polls (10 ms pauses) until: the group's new coordinator (FindCoordinator on
     a survivor) describes it Stable with the member (DescribeGroups v2); OffsetFetch v3 there
     returns the member's offsets (not COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR); the
     member's first heartbeat answered on the new coordinator; and (another thread, its own
     connections) for every offsets partition X led, OffsetFetch of a sample group on the
     partition's new leader (the other survivor's Metadata) returns that group's offsets.
     Each time is when the answer arrived.
     Times are from the SIGKILL and from ZooKeeper's expiry of X's session (ZooKeeper's log).

Called by cluster_bench.main() as run(cb, root, quick), cb being the cluster_bench module (its
Cluster, record and log). Result keys: coordfail.*.
"""
import signal
import socket
import struct
import threading
import time

OFFSETS = "__consumer_offsets"
TOPIC = "cf-data"
PARTS = 10  # partitions committed per group
OFFSETS_PARTS = 50
ZK_SESSION_MS = 2000
MEMBER_SESSION_MS = 6000
HEARTBEAT_MS = 500
WINDOW = 200  # OffsetCommit requests in flight per connection
CONNS = 4  # connections per broker in the second commit round
NONE, LOADING, COORD_NA, NOT_COORD = 0, 14, 15, 16
REBALANCING, UNKNOWN_MEMBER, ILLEGAL_GEN, MEMBER_ID_REQUIRED = 27, 25, 22, 79


# ---- encoding (non-flexible versions only: request header v1) -------------------------------

def s(v):
    if v is None:
        return struct.pack(">h", -1)
    b = v.encode()
    return struct.pack(">h", len(b)) + b


def by(v):
    return struct.pack(">i", -1) if v is None else struct.pack(">i", len(v)) + v


def java_hash(text):
    """Java's String.hashCode(): over UTF-16 code units, 32-bit signed."""
    data = text.encode("utf-16-be")
    h = 0
    for unit in struct.unpack(">%dH" % (len(data) // 2), data):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def offsets_partition(group, n=OFFSETS_PARTS):
    h = java_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % n  # Kafka's Utils.abs


def commit_body(group, gen, member, offsets):
    """OffsetCommit v2: offsets = [(partition, offset)] of TOPIC."""
    b = s(group) + struct.pack(">i", gen) + s(member) + struct.pack(">q", -1)
    b += struct.pack(">i", 1) + s(TOPIC) + struct.pack(">i", len(offsets))
    for p, o in offsets:
        b += struct.pack(">iq", p, o) + s("")
    return b


def commit_errors(r):
    """OffsetCommit v2 response -> {partition: error}."""
    out = {}
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p = r.i32()
            out[p] = r.i16()
    return out


def group_offsets(group):
    """The offsets the bench commits for GROUP: partition p -> a value unique to the group."""
    n = int(group.rsplit("-", 1)[1]) if group.rsplit("-", 1)[1].isdigit() else 7
    return [(p, 1000 * n + p + 1) for p in range(PARTS)]


class Pipeline:
    """One connection; send() many requests, then collect() their answers in order."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.corr = 0
        self.buf = bytearray()

    def send(self, api, version, bodies):
        out = bytearray()
        first = self.corr + 1
        for body in bodies:
            self.corr += 1
            h = struct.pack(">hhih", api, version, self.corr, 10) + b"coordbench" + body
            out += struct.pack(">i", len(h)) + h
        self.sock.sendall(out)
        return first

    def collect(self, first, n):
        out = []
        for k in range(n):
            while len(self.buf) < 4 or len(self.buf) < 4 + struct.unpack_from(">i", self.buf)[0]:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise OSError("connection closed")
                self.buf += chunk
            size = struct.unpack_from(">i", self.buf)[0]
            data = bytes(self.buf[4:4 + size])
            del self.buf[:4 + size]
            if struct.unpack_from(">i", data)[0] != first + k:
                raise OSError("correlation id mismatch")
            out.append(data)
        return out

    def close(self):
        self.sock.close()


# ---- one-request helpers on cluster_bench.MetaConn (call() returns the answer from its
# correlation id on) ----------------------------------------------------------------------

class Api:
    def __init__(self, cb, conn):
        self.cb, self.c = cb, conn

    def r(self, api, v, body, timeout=5.0):
        r = self.cb.Reader(self.c.call(api, v, body, timeout))
        r.i32()  # correlation id
        return r

    def find_coordinator(self, group):
        r = self.r(10, 1, s(group) + b"\x00")
        r.i32()
        err = r.i16()
        r.string()
        node = r.i32()
        return err, node

    def join(self, group, member, protocol_meta):
        body = s(group) + struct.pack(">ii", MEMBER_SESSION_MS, 10000) + s(member) + s(None) + \
            s("consumer") + struct.pack(">i", 1) + s("range") + by(protocol_meta)
        r = self.r(11, 5, body, timeout=30)
        r.i32()
        err, gen = r.i16(), r.i32()
        r.string()
        leader, mid = r.string(), r.string()
        return err, gen, leader, mid

    def sync(self, group, gen, member, assignment):
        body = s(group) + struct.pack(">i", gen) + s(member) + s(None) + struct.pack(">i", 1) + \
            s(member) + by(assignment)
        r = self.r(14, 3, body, timeout=30)
        r.i32()
        return r.i16()

    def heartbeat(self, group, gen, member):
        r = self.r(12, 3, s(group) + struct.pack(">i", gen) + s(member) + s(None))
        r.i32()
        return r.i16()

    def commit(self, group, gen, member, offsets):
        return commit_errors(self.r(8, 2, commit_body(group, gen, member, offsets)))

    def offset_fetch(self, group):
        """OffsetFetch v3, all topics -> (error, {partition: (offset, error)} of TOPIC)."""
        r = self.r(9, 3, s(group) + struct.pack(">i", -1))
        r.i32()
        parts = {}
        for _ in range(r.i32()):
            name = r.string()
            for _ in range(r.i32()):
                p = r.i32()
                r.o += 8
                off = struct.unpack_from(">q", r.d, r.o - 8)[0]
                r.string()
                e = r.i16()
                if name == TOPIC:
                    parts[p] = (off, e)
        return r.i16(), parts

    def describe(self, group):
        """DescribeGroups v2 -> (error, state, [member ids])."""
        r = self.r(15, 2, struct.pack(">i", 1) + s(group))
        r.i32()
        r.i32()
        err, _, state = r.i16(), r.string(), r.string()
        r.string()
        r.string()
        members = []
        for _ in range(r.i32()):
            members.append(r.string())
            r.string()
            r.string()
            for _ in range(2):
                n = r.i32()
                r.o += max(n, 0)
        return err, state, members


def subscription():
    return struct.pack(">h", 0) + struct.pack(">i", 1) + s(TOPIC) + by(None)


def assignment():
    return struct.pack(">h", 0) + struct.pack(">i", 1) + s(TOPIC) + \
        struct.pack(">i", PARTS) + b"".join(struct.pack(">i", p) for p in range(PARTS)) + by(None)


class Member(threading.Thread):
    """A group member speaking the protocol itself: joins, syncs (as leader it assigns every
    partition to itself), commits its offsets once, then heartbeats every HEARTBEAT_MS to its
    coordinator. When the coordinator is gone or answers NOT_COORDINATOR /
    COORDINATOR_NOT_AVAILABLE / LOAD_IN_PROGRESS it asks a live broker's FindCoordinator every
    25 ms and heartbeats there; REBALANCE_IN_PROGRESS / UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION
    make it join again (counted: the failover should not need it)."""

    def __init__(self, cb, cl, group):
        super().__init__(daemon=True)
        self.cb, self.cl, self.group = cb, cl, group
        self.stop_ev = threading.Event()
        self.member, self.gen, self.coord = "", -1, -1
        self.rejoins = 0
        self.hb_ok_at = {}  # coordinator -> time of its first answered heartbeat
        self.ready = threading.Event()
        self.error = None

    def api(self, node):
        return Api(self.cb, self.cb.MetaConn(self.cl.ports[node]))

    def find(self):
        for i in range(self.cl.n):
            if not self.cl.alive(i):
                continue
            a = self.api(i)
            try:
                err, node = a.find_coordinator(self.group)
                if err == NONE and self.cl.alive(node):
                    return node
            except OSError:
                pass
            finally:
                a.c.close()
        return -1

    def join_group(self, a):
        err, gen, leader, mid = a.join(self.group, self.member, subscription())
        if err == MEMBER_ID_REQUIRED:
            self.member = mid
            err, gen, leader, mid = a.join(self.group, self.member, subscription())
        if err != NONE:
            raise RuntimeError("JoinGroup error %d" % err)
        self.member, self.gen = mid, gen
        err = a.sync(self.group, gen, mid, assignment())
        if err != NONE:
            raise RuntimeError("SyncGroup error %d" % err)

    def run(self):
        a = None
        try:
            while not self.stop_ev.is_set():
                if a is None:
                    self.coord = self.find()
                    if self.coord < 0:
                        time.sleep(0.025)
                        continue
                    a = self.api(self.coord)
                try:
                    if self.gen < 0:
                        self.join_group(a)
                        if not self.ready.is_set():
                            errs = a.commit(self.group, self.gen, self.member,
                                            group_offsets(self.group))
                            if any(errs.values()) or len(errs) != PARTS:
                                raise RuntimeError("member commit errors %s" % errs)
                            self.ready.set()
                        else:
                            self.rejoins += 1
                    err = a.heartbeat(self.group, self.gen, self.member)
                except OSError:
                    err = COORD_NA
                if err == NONE:
                    self.hb_ok_at.setdefault(self.coord, time.time())
                    self.stop_ev.wait(HEARTBEAT_MS / 1000.0)
                elif err in (COORD_NA, NOT_COORD, LOADING):
                    a.c.close()
                    a = None
                    time.sleep(0.025)
                elif err in (REBALANCING, UNKNOWN_MEMBER, ILLEGAL_GEN):
                    if err != REBALANCING:
                        self.member = ""
                    self.gen = -1
                else:
                    raise RuntimeError("Heartbeat error %d" % err)
        except Exception as e:  # reported by the stage, never silently lost
            self.error = repr(e)
            self.ready.set()
        finally:
            if a is not None:
                a.c.close()


# ---- the stage ------------------------------------------------------------------------------

def leaders(cl, via):
    md = cl.meta(via, [OFFSETS])
    return {p: v[0] for p, v in md["topics"].get(OFFSETS, (3, {}))[1].items()}


def commit_all(cl, groups, lead, conns):
    """Every group's PARTS offsets to its coordinator, pipelined on CONNS connections per
    broker; returns the errors seen {code: count}."""
    work = {}
    for g in groups:
        work.setdefault(lead[offsets_partition(g)], []).append(g)
    errors = {}

    def one_conn(node, gs):
        pipe = Pipeline(cl.ports[node])
        try:
            for k in range(0, len(gs), WINDOW):
                chunk = gs[k:k + WINDOW]
                first = pipe.send(8, 2, [commit_body(g, -1, "", group_offsets(g)) for g in chunk])
                for data in pipe.collect(first, len(chunk)):
                    for e in commit_errors(cl_reader(data)).values():
                        if e:
                            errors[e] = errors.get(e, 0) + 1
        finally:
            pipe.close()
    threads = [threading.Thread(target=one_conn, args=(n, gs[c::conns]))
               for n, gs in work.items() for c in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


_READER = None


def cl_reader(data):
    r = _READER(data)
    r.i32()
    return r


def fetch_ok(api, group):
    """OffsetFetch of GROUP answers with exactly the offsets the bench committed."""
    try:
        err, parts = api.offset_fetch(group)
    except OSError:
        return False
    want = dict(group_offsets(group))
    return err == NONE and {p: o for p, (o, e) in parts.items() if e == NONE} == want


def spans(seen):
    """{answer: [first ms, last ms]} -> "answer first-last ms; ..." in order of first."""
    return "; ".join("%s %.0f-%.0f ms" % (k, v[0], v[-1])
                     for k, v in sorted(seen.items(), key=lambda kv: kv[1][0]))


def run(cb, root, quick):
    global _READER
    _READER = cb.Reader
    n_groups = 2000 if quick else 10000
    rec, log = cb.record, cb.log
    rec("coordfail.groups", n_groups)
    rec("coordfail.partitions_per_group", PARTS)
    rec("coordfail.zk_session_ms", ZK_SESSION_MS)
    rec("coordfail.member_session_ms", MEMBER_SESSION_MS)
    rec("coordfail.heartbeat_ms", HEARTBEAT_MS)
    member = None
    for attempt in (1, 2):  # a second cluster if the first did not come up (a port taken)
        cl = cb.Cluster(root, "coordfail-%d" % attempt, 3, ZK_SESSION_MS,
                        overrides=["offsets.topic.replication.factor=3",
                                   "offsets.topic.num.partitions=%d" % OFFSETS_PARTS])
        try:
            cl.start()
            break
        except RuntimeError as e:
            cl.stop()
            tail = []
            for i in range(3):
                try:
                    with open(cl.broker_log(i), errors="replace") as f:
                        tail += ["broker %d: %s" % (i, l.rstrip()) for l in f.readlines()[-3:]]
                except OSError:
                    pass
            log("coordfail: %s; its log ends:\n  %s" % (e, "\n  ".join(tail)))
            if attempt == 2:
                raise
            log("coordfail: starting another cluster")
    try:
        cb.create_topics(cl, [cb.NewTopic(TOPIC, PARTS, 3)])
        # the first FindCoordinator creates __consumer_offsets
        t0 = time.time()
        api0 = Api(cb, cl.conns[0])
        while api0.find_coordinator("cf-setup")[0] != NONE:
            if time.time() - t0 > 120:
                raise RuntimeError("__consumer_offsets not created")
            time.sleep(0.2)
        if not cb.wait_topic(cl, OFFSETS, OFFSETS_PARTS, [0, 1, 2], timeout=120, full_isr=True):
            raise RuntimeError("__consumer_offsets not complete on every broker")
        rec("coordfail.offsets_topic_ready_s", round(time.time() - t0, 2))
        ctrl = cl.controller()
        lead = leaders(cl, ctrl)
        victim = next(i for i in range(3) if i != ctrl)
        led = sorted(p for p, l in lead.items() if l == victim)
        rec("coordfail.victim", victim)
        rec("coordfail.controller", ctrl)
        rec("coordfail.victim_offsets_partitions", len(led))

        groups = ["cf-g-%d" % i for i in range(n_groups)]
        for conns in (1, CONNS):
            log("coordfail: committing %d offsets (%d groups x %d partitions), %d connection(s) "
                "per broker, %d requests in flight on each" % (n_groups * PARTS, n_groups, PARTS,
                                                               conns, WINDOW))
            key = "coordfail.commit" if conns == 1 else "coordfail.commit_%dconn" % conns
            t = time.time()
            errors = commit_all(cl, groups, lead, conns)
            dt = time.time() - t
            rec(key + "_s", round(dt, 3))
            rec(key + "_offsets_per_s", round(n_groups * PARTS / dt))
            rec(key + "_requests_per_s", round(n_groups / dt))
            rec(key + "_errors", sum(errors.values()))
            if errors:
                raise RuntimeError("OffsetCommit errors %s" % errors)
        sample = {}
        for g in groups:
            sample.setdefault(offsets_partition(g), g)
        missing = [p for p in led if p not in sample]
        if missing:
            raise RuntimeError("no sample group for offsets partitions %s" % missing)
        for p in led:
            if not fetch_ok(Api(cb, cl.conns[victim]), sample[p]):
                raise RuntimeError("OffsetFetch of %s on broker %d before the kill" %
                                   (sample[p], victim))

        live = next("cf-live-%d" % i for i in range(100000)
                    if lead[offsets_partition("cf-live-%d" % i)] == victim)
        rec("coordfail.live_group_offsets_partition", offsets_partition(live))
        member = Member(cb, cl, live)
        member.start()
        if not member.ready.wait(60) or member.error:
            raise RuntimeError("member not ready: %s" % member.error)
        time.sleep(2 * HEARTBEAT_MS / 1000.0)
        err, state, mids = Api(cb, cl.conns[victim]).describe(live)
        if (err, state, mids) != (NONE, "Stable", [member.member]) or member.coord != victim:
            raise RuntimeError("before the kill: %s %s %s coordinator %d" %
                               (err, state, mids, member.coord))
        session, granted = cl.session_of(victim)
        rec("coordfail.zk_session_granted_ms", granted)

        log("coordfail: SIGKILL broker %d (coordinator of %s, leader of %d offsets partitions)"
            % (victim, live, len(led)))
        t_kill = time.time()
        cl.kill(victim)
        survivors = [i for i in range(3) if i != victim]
        apis = {i: Api(cb, cl.conns[i]) for i in survivors}
        rec("coordfail.asked", survivors[0])
        t_stable = t_fetch = None
        loaded = {}  # offsets partition of the victim -> time its sample group answered
        rounds = 0
        seen = {}  # DescribeGroups answers before Stable with the member: [first, last] seen
        found = {}  # FindCoordinator answers: [first, last] seen
        deadline = t_kill + 60

        def sweep():
            """Every offsets partition the victim led, on its own connections: the time
            OffsetFetch of its sample group on the partition's new leader answered."""
            mine = {i: Api(cb, cb.MetaConn(cl.ports[i])) for i in survivors}
            try:
                while time.time() < deadline and len(loaded) < len(led):
                    try:
                        md = mine[survivors[1]].c.metadata([OFFSETS])
                        lead_now = {p: v[0] for p, v in
                                    md["topics"].get(OFFSETS, (3, {}))[1].items()}
                    except OSError:
                        lead_now = {}
                    for p in led:
                        node = lead_now.get(p, -1)
                        if p not in loaded and node in mine and fetch_ok(mine[node], sample[p]):
                            loaded[p] = time.time()
                    time.sleep(0.01)
            finally:
                for a in mine.values():
                    a.c.close()
        sweeper = threading.Thread(target=sweep, daemon=True)
        sweeper.start()
        # the live group, polled alone: times are when the answer arrived
        while time.time() < deadline and (t_stable is None or t_fetch is None):
            rounds += 1
            try:
                err, node = apis[survivors[0]].find_coordinator(live)
            except OSError:
                err, node = COORD_NA, -1
            k = "error %d node %d" % (err, node)
            found.setdefault(k, [cb.ms(time.time() - t_kill)])[1:] = [cb.ms(time.time() - t_kill)]
            if err == NONE and node in apis:
                try:
                    d = apis[node].describe(live)
                except OSError:
                    d = None
                if t_stable is None and d == (NONE, "Stable", [member.member]):
                    t_stable = time.time()
                elif t_stable is None:
                    k = "%d %s %d" % (d[0], d[1], len(d[2])) if d else "no answer"
                    now = cb.ms(time.time() - t_kill)
                    seen.setdefault(k, [now])[1:] = [now]
                if t_fetch is None and fetch_ok(apis[node], live):
                    t_fetch = time.time()
            time.sleep(0.01)
        rec("coordfail.poll_round_ms", cb.ms((time.time() - t_kill) / max(rounds, 1)))
        sweeper.join(max(deadline - time.time(), 0) + 10)
        time.sleep(1.5 * HEARTBEAT_MS / 1000.0)  # the member's next heartbeat
        t_expire = cl.zk_expiry(session, t_kill - 1)
        new_coord = [c for c in member.hb_ok_at if c != victim]
        t_hb = member.hb_ok_at[new_coord[0]] if new_coord else None

        def both(key, t):
            rec("coordfail.%s_ms" % key, cb.ms(t - t_kill) if t else None)
            rec("coordfail.%s_after_expiry_ms" % key,
                cb.ms(t - t_expire) if t and t_expire else None)
        both("expire", t_expire)
        both("stable", t_stable)
        both("offset_fetch", t_fetch)
        both("member_heartbeat", t_hb)
        both("all_partitions_loaded", max(loaded.values()) if len(loaded) == len(led) else None)
        both("first_partition_loaded", min(loaded.values()) if loaded else None)
        rec("coordfail.partitions_loaded", len(loaded))
        rec("coordfail.describe_before_stable", spans(seen))
        rec("coordfail.find_coordinator_answers", spans(found))
        rec("coordfail.member_rejoins", member.rejoins)
        rec("coordfail.member_error", member.error)
    finally:
        if member is not None:
            member.stop_ev.set()
            member.join(10)
        cl.stop()


def report(R, p, fmt_ms):
    """Lines for cluster_bench.report(); R(key) reads a result."""
    if R("coordfail.groups") is None:
        return
    p("")
    p("5. Group coordinator SIGKILL, __consumer_offsets RF 3 x %d partitions, ZooKeeper session "
      "%s ms (granted %s), member session %s ms" % (OFFSETS_PARTS, R("coordfail.zk_session_ms"),
                                                    R("coordfail.zk_session_granted_ms"),
                                                    R("coordfail.member_session_ms")))
    if R("coordfail.error"):
        p("  FAILED: %s" % R("coordfail.error"))
    for key, conns in (("commit", 1), ("commit_%dconn" % CONNS, CONNS)):
        p("  commits, %d connection(s) per broker: %s groups x %s partitions in %s s = %s "
          "offsets/s (%s requests/s), errors %s"
          % (conns, R("coordfail.groups"), R("coordfail.partitions_per_group"),
             R("coordfail.%s_s" % key), R("coordfail.%s_offsets_per_s" % key),
             R("coordfail.%s_requests_per_s" % key), R("coordfail.%s_errors" % key)))
    p("  victim led %s offsets partitions; ms from SIGKILL / from ZooKeeper's expiry "
      "(expiry at %s ms):" % (R("coordfail.victim_offsets_partitions"),
                              fmt_ms(R("coordfail.expire_ms"))))
    for key, text in (("stable", "group Stable with its member on the new coordinator"),
                      ("offset_fetch", "OffsetFetch returns the member's offsets there"),
                      ("member_heartbeat", "member's first heartbeat answered there"),
                      ("first_partition_loaded", "first offsets partition of the victim answers"),
                      ("all_partitions_loaded", "every offsets partition of the victim answers")):
        p("  %-52s %8s / %s" % (text, fmt_ms(R("coordfail.%s_ms" % key)),
                                fmt_ms(R("coordfail.%s_after_expiry_ms" % key))))
    p("  DescribeGroups answers (error state members) before that: %s" %
      (R("coordfail.describe_before_stable") or "-"))
    p("  FindCoordinator answers of broker %s (first-last seen): %s" %
      (R("coordfail.asked"), R("coordfail.find_coordinator_answers") or "-"))
    p("  member rejoins: %s; member error: %s; one polling round of the group took %s ms"
      % (R("coordfail.member_rejoins"), R("coordfail.member_error"),
         fmt_ms(R("coordfail.poll_round_ms"))))


def targets(R, tgt):
    if R("coordfail.groups") is None:
        return
    limit = (R("coordfail.zk_session_granted_ms") or ZK_SESSION_MS) + 1000
    for key, text in (("stable", "group Stable there"), ("offset_fetch", "its offsets fetched"),
                      ("all_partitions_loaded", "all its partitions loaded")):
        v = R("coordfail.%s_ms" % key)
        tgt("coordinator SIGKILL -> %s <= session + 1 s" % text, "%s ms" % (
            "-" if v is None else "%.0f" % v), None if v is None else v <= limit,
            "coordfail_%s" % key)
