#!/usr/bin/python3
"""
tests/cluster/netns.py — a "multi-host" Gregor cluster on one Linux machine: ZooKeeper and every
broker in a network namespace of its own, with its own address, all on one bridge; network
faults are routes inside the namespaces (no iptables/nft needed). Needs root (CAP_NET_ADMIN) and
iproute2.

A host whose firewall drops forwarded traffic (Docker sets the FORWARD policy to DROP, and with
br_netfilter loaded bridged frames go through that chain) would silently drop everything between
the namespaces: while the topology exists, an `iptables -I FORWARD -i gregornt0 -o gregornt0 -j
ACCEPT` rule (for each iptables variant present) lets the bridge's own traffic through; it is
removed with the bridge.

Topology (SUBNET defaults to 10.99.0, $GREGOR_NETNS_SUBNET overrides it):
  root namespace   bridge gregornt0, SUBNET.1/24 — the clients (workload, CLI) run here
  gregor-nt-zk     SUBNET.2, ZooKeeper on :2181 (deploy/zk-run.sh with ZK_BIND)
  gregor-nt-bI     SUBNET.(10+I), broker I on :9092 for clients and :19092 for brokers (the
                   same ports on every "host")
Each namespace is joined to the bridge by a veth pair (root side gnt-zk / gnt-bI, inside eth0).
Broker I runs as
  ip netns exec gregor-nt-bI gregor-broker CONF --override broker.id=I
     --override listeners=PLAINTEXT://SUBNET.(10+I):9092,INTERNAL://SUBNET.(10+I):19092
     --override advertised.listeners=(the same)
     --override listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT
     --override inter.broker.listener.name=INTERNAL
     --override log.dirs=DIR/broker-I --override zookeeper.connect=SUBNET.2:2181
(the session timeout and the rest come from CONF), output in DIR/broker-I.log; ZooKeeper keeps
DIR/zookeeper/ and logs to DIR/zookeeper.log — the same layout as deploy/local-cluster.sh.

Ensemble mode (EnsembleCluster, `up --ensemble`, run_scenario.py --ensemble): the three-host
configuration of docs/deploy.md, from the very files of deploy/multihost/. There is no
gregor-nt-zk: namespace gregor-nt-bI is the host gregor-(I+1), running ZooKeeper node I+1
(deploy/multihost/zoo.cfg with dataDir=DIR/zookeeper-I/data and myid I+1, java QuorumPeerMain,
log DIR/zookeeper-I.log) and broker I (deploy/multihost/server.properties rendered into
DIR/server-I.properties: broker.id=I, broker.rack=rack-a|b|c, advertised host gregor-(I+1),
log.dirs=DIR/broker-I, plus the caller's settings). Every namespace gets
/etc/netns/gregor-nt-bI/hosts (deploy/multihost/hosts with the test's addresses), which `ip netns
exec` bind-mounts over /etc/hosts, so brokers and ZooKeeper nodes find each other by name; the
same file is DIR/hosts, and use_hosts_file(DIR/hosts) makes the calling process (the clients)
resolve through it in a mount namespace of its own. cut/isolate then act on whole hosts: an
isolated host's ZooKeeper node is cut off too (the other two keep a quorum).

Faults (both directions, packets silently dropped — a real partition, not a refused connection):
  cut(a, b)    a blackhole route for b's address inside a's namespace and for a's inside b's;
               a and b are broker ids or "zk"
  isolate(x)   cut(x, y) for ZooKeeper and every other broker. The root namespace (SUBNET.1,
               where the clients are) stays reachable: an isolated leader keeps receiving
               producer and consumer traffic, like a zombie leader whose clients are on its
               side of the partition.
  heal()       removes every route added by cut/isolate
Only one topology exists at a time: create() takes an exclusive lock (/run/gregor-netns.lock,
waiting for another run to finish), then removes leftovers of a crashed run (kills the processes
still inside gregor-nt-* namespaces, deletes the namespaces and the bridge). teardown() stops the
processes (SIGTERM, SIGKILL after a timeout), deletes everything and releases the lock; it also
runs at interpreter exit.

Library:  c = NetnsCluster(dir, brokers=3, config=PATH, broker_bin=PATH); c.create(); c.up()
          e = EnsembleCluster(dir, 3, {key: value}, broker_bin); e.start_zk(i) / e.stop_zk(i, sig)
          c.start_broker(i) / c.stop_broker(i, sig=SIGTERM, force=True) / c.signal(i, sig)
          c.cut(a, b) / c.isolate(x) / c.heal(); c.bootstrap; c.addr(node); c.teardown()
CLI:      netns.py up [--brokers N] [--dir D] [--config F] [--ensemble]
                                                            (leaves the cluster running)
          netns.py cut A B | isolate X | heal | status
          netns.py down      (SIGTERM everything in the namespaces, then delete them)
          netns.py cleanup   (SIGKILL, delete: what create() does with leftovers)
Exit status 3 with a message when not root or iproute2 is missing.
"""
import argparse
import atexit
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

SUBNET = os.environ.get("GREGOR_NETNS_SUBNET", "10.99.0")
NS_PREFIX = "gregor-nt-"
VETH_PREFIX = "gnt-"
BRIDGE = "gregornt0"
LOCK_PATH = "/run/gregor-netns.lock"
BROKER_PORT = 9092
INTERNAL_PORT = 19092  # inter-broker listener
PROTOCOL_MAP = "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT"
ZK_PORT = 2181


def log(msg):
    print("netns: " + msg, file=sys.stderr, flush=True)


class NetnsError(RuntimeError):
    pass


def check_permitted():
    """Raises NetnsError with a clear message when namespaces cannot be used here."""
    if os.geteuid() != 0:
        raise NetnsError("network namespaces need root (CAP_NET_ADMIN); run as root or skip "
                         "the netns scenarios — they are not passed silently")
    if subprocess.run(["ip", "-V"], capture_output=True).returncode != 0:
        raise NetnsError("iproute2 ('ip') not found")


def ip(*args, ns=None, check=True):
    cmd = (["ip", "netns", "exec", ns, "ip"] if ns else ["ip"]) + [str(a) for a in args]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise NetnsError("%s: %s" % (" ".join(cmd), res.stderr.strip()))
    return res


IPTABLES = ("iptables", "iptables-legacy")


def _bridge_rule(tool, op):
    """Runs `tool op FORWARD <accept the bridge's own traffic>`; False when the tool is missing
    or the command failed (e.g. -C: no such rule)."""
    rule = ["FORWARD"] + (["1"] if op == "-I" else []) + [
        "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]
    try:
        return subprocess.run([tool, "-w", op] + rule, capture_output=True).returncode == 0
    except OSError:
        return False


def open_bridge_firewall():
    """Lets traffic between the bridge's ports through a FORWARD chain that drops it."""
    for tool in IPTABLES:
        if not _bridge_rule(tool, "-C") and _bridge_rule(tool, "-I"):
            log("%s: FORWARD accepts %s <-> %s" % (tool, BRIDGE, BRIDGE))


def close_bridge_firewall():
    for tool in IPTABLES:
        while _bridge_rule(tool, "-D"):
            pass


def tcp_open(addr, port, timeout=0.5):
    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return True
    except OSError:
        return False


def zk_ruok(addr, port):
    try:
        with socket.create_connection((addr, port), timeout=1) as s:
            s.sendall(b"ruok")
            s.settimeout(2)
            return s.recv(4) == b"imok"
    except OSError:
        return False


def our_namespaces():
    res = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [ln.split()[0] for ln in res.stdout.splitlines()
            if ln.split() and ln.split()[0].startswith(NS_PREFIX)]


def _ns_pids(ns):
    res = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in res.stdout.split() if p.isdigit()]


def cleanup_leftovers(term_wait_s=0):
    """Stops the processes left in our namespaces (by pid: SIGTERM and up to term_wait_s for
    them to exit when term_wait_s > 0, then SIGKILL), deletes the namespaces and the bridge."""
    nss = our_namespaces()
    for sig, wait in ((signal.SIGTERM, term_wait_s), (signal.SIGKILL, 5)):
        if sig == signal.SIGTERM and wait <= 0:
            continue
        for ns in nss:
            for p in _ns_pids(ns):
                log("process %d in %s: %s" % (p, ns, signal.Signals(sig).name))
                try:
                    os.kill(p, sig)
                except OSError:
                    pass
        end = time.monotonic() + wait
        while any(_ns_pids(ns) for ns in nss) and time.monotonic() < end:
            time.sleep(0.2)
    for ns in nss:
        ip("netns", "del", ns, check=False)
        log("removed leftover namespace %s" % ns)
    remove_hosts_files()
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    for ln in links.splitlines():
        name = ln.split(":")[1].strip().split("@")[0] if ":" in ln else ""
        if name == BRIDGE or name.startswith(VETH_PREFIX):
            ip("link", "del", name, check=False)
            log("removed leftover link %s" % name)
    close_bridge_firewall()


ETC_NETNS = "/etc/netns"
ZK_JARS = ("zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-simple")
MULTIHOST = os.path.join(REPO, "deploy", "multihost")


def remove_hosts_files():
    """Deletes the /etc/netns/gregor-nt-*/ directories (per-namespace hosts files)."""
    try:
        names = os.listdir(ETC_NETNS)
    except OSError:
        return
    for name in names:
        if name.startswith(NS_PREFIX):
            d = os.path.join(ETC_NETNS, name)
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
            os.rmdir(d)
    try:
        os.rmdir(ETC_NETNS)                 # only when empty: nobody else's
    except OSError:
        pass


def host_name(b):
    """The host name of broker b's "host" in --ensemble mode: gregor-1 for broker 0."""
    return "gregor-%d" % (b + 1)


def use_hosts_file(path):
    """Makes this process and its children resolve names through PATH instead of /etc/hosts,
    without changing /etc/hosts for anybody else: a mount namespace of our own
    (unshare(CLONE_NEWNS)) in which PATH is bind-mounted over /etc/hosts. The mount holding
    /etc/hosts is made private first, so the bind mount never propagates; other mounts (such as
    /run/netns, where `ip netns add` puts namespaces) keep their propagation. Must run before
    the process starts threads (unshare fails in a multi-threaded process)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:                       # CLONE_NEWNS
        raise NetnsError("unshare(CLONE_NEWNS): %s" % os.strerror(ctypes.get_errno()))
    target = subprocess.run(["findmnt", "-n", "-o", "TARGET", "-T", "/etc/hosts"],
                            capture_output=True, text=True).stdout.strip() or "/"
    for cmd in (["mount", "--make-private", target], ["mount", "--bind", path, "/etc/hosts"]):
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise NetnsError("%s: %s" % (" ".join(cmd), res.stderr.strip()))


class Topology:
    """The bridge, the namespaces and the fault routes; no processes."""

    def __init__(self, brokers, ensemble=False):
        self.n = brokers
        self.ensemble = ensemble        # ZooKeeper node I runs in broker I's namespace
        self.lock_fd = None
        self.routes = set()             # (ns, address) blackholes in place
        self.created = False

    # ---- names -------------------------------------------------------------------------------

    @staticmethod
    def ns(node):
        return NS_PREFIX + ("zk" if node == "zk" else "b%d" % int(node))

    @staticmethod
    def addr(node):
        return "%s.%d" % (SUBNET, 2 if node == "zk" else 10 + int(node))

    def nodes(self):
        return ([] if self.ensemble else ["zk"]) + list(range(self.n))

    def hosts_text(self):
        """The hosts file of every namespace in --ensemble mode: deploy/multihost/hosts with
        the test's addresses."""
        lines = ["127.0.0.1 localhost"]
        with open(os.path.join(MULTIHOST, "hosts")) as f:
            names = [ln.split()[1] for ln in f if ln.strip() and not ln.startswith("#")]
        for b in range(self.n):
            if host_name(b) not in names:
                raise NetnsError("%s has no line for %s" % (os.path.join(MULTIHOST, "hosts"),
                                                            host_name(b)))
            lines.append("%s %s" % (self.addr(b), host_name(b)))
        return "\n".join(lines) + "\n"

    # ---- life cycle --------------------------------------------------------------------------

    def _lock(self, wait_s=900):
        self.lock_fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o644)
        end = time.monotonic() + wait_s
        said = False
        while True:
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if not said:
                    log("another netns topology is in use (%s); waiting" % LOCK_PATH)
                    said = True
                if time.monotonic() > end:
                    raise NetnsError("%s still locked after %d s" % (LOCK_PATH, wait_s))
                time.sleep(1)

    def create(self):
        check_permitted()
        self._lock()
        atexit.register(self.teardown)
        cleanup_leftovers()
        routes = ip("route", "show").stdout
        if (" %s." % SUBNET) in (" " + routes) or routes.startswith(SUBNET + "."):
            raise NetnsError("subnet %s.0/24 is already routed here; set GREGOR_NETNS_SUBNET"
                             % SUBNET)
        self.created = True
        ip("link", "add", BRIDGE, "type", "bridge", "forward_delay", 0)
        ip("addr", "add", "%s.1/24" % SUBNET, "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")
        open_bridge_firewall()
        for node in self.nodes():
            ns, host = self.ns(node), VETH_PREFIX + ("zk" if node == "zk" else "b%d" % node)
            ip("netns", "add", ns)
            ip("link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("link", "set", host, "master", BRIDGE)
            ip("link", "set", host, "up")
            ip("link", "set", "lo", "up", ns=ns)
            ip("addr", "add", "%s/24" % self.addr(node), "dev", "eth0", ns=ns)
            ip("link", "set", "eth0", "up", ns=ns)
            if self.ensemble:           # `ip netns exec` bind-mounts it over /etc/hosts
                os.makedirs(os.path.join(ETC_NETNS, ns), exist_ok=True)
                with open(os.path.join(ETC_NETNS, ns, "hosts"), "w") as f:
                    f.write(self.hosts_text())
        if self.ensemble:
            log("topology up: bridge %s %s.1/24, hosts %s" % (BRIDGE, SUBNET, ", ".join(
                "%s=%s" % (host_name(b), self.addr(b)) for b in range(self.n))))
            return
        log("topology up: bridge %s %s.1/24, zookeeper %s, brokers %s" % (
            BRIDGE, SUBNET, self.addr("zk"), " ".join(self.addr(b) for b in range(self.n))))

    def delete(self):
        """Deletes namespaces and bridge (processes must be gone) and releases the lock."""
        if self.created:
            for node in self.nodes():
                ip("netns", "del", self.ns(node), check=False)
            ip("link", "del", BRIDGE, check=False)
            close_bridge_firewall()
            if self.ensemble:
                remove_hosts_files()
            self.created = False
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None

    def teardown(self):
        self.delete()

    # ---- faults ------------------------------------------------------------------------------

    def _blackhole(self, node, other):
        key = (self.ns(node), self.addr(other))
        if key not in self.routes:
            ip("route", "add", "blackhole", "%s/32" % self.addr(other), ns=self.ns(node))
            self.routes.add(key)

    def cut(self, a, b):
        """Drops every packet between a and b (broker ids or "zk"), both directions."""
        self._blackhole(a, b)
        self._blackhole(b, a)
        log("cut %s <-> %s" % (a, b))

    def isolate(self, x):
        """Cuts x from ZooKeeper and every other broker; the root namespace's clients still
        reach it."""
        for other in self.nodes():
            if str(other) != str(x):
                self.cut(x, other)

    def heal(self):
        for ns, a in sorted(self.routes):
            ip("route", "del", "blackhole", "%s/32" % a, ns=ns, check=False)
        if self.routes:
            log("healed (%d routes removed)" % len(self.routes))
        self.routes.clear()


class NetnsCluster(Topology):
    """Topology plus ZooKeeper and broker processes, state in one directory."""

    def __init__(self, d, brokers, config, broker_bin, stop_timeout=30, start_timeout=30):
        super().__init__(brokers)
        self.dir, self.config, self.broker_bin = d, config, broker_bin
        self.stop_timeout, self.start_timeout = stop_timeout, start_timeout
        self.procs = {}                     # "zookeeper" / "broker-I" -> Popen
        self.bootstrap = ",".join("%s:%d" % (self.addr(b), BROKER_PORT) for b in range(brokers))
        self.zk_connect = "%s:%d" % (self.addr("zk"), ZK_PORT)

    def _spawn(self, name, node, argv, env=None):
        logf = open(os.path.join(self.dir, name + ".log"), "a")
        logf.write("=== %s starting in %s: %s\n" % (time.strftime("%F %T"), self.ns(node),
                                                     " ".join(argv)))
        logf.flush()
        # `ip netns exec` execs the command in place: the pid is the program's own.
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(node)] + argv, stdout=logf,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                             start_new_session=True)
        logf.close()
        self.procs[name] = p
        with open(os.path.join(self.dir, name + ".pid"), "w") as f:
            f.write("%d\n" % p.pid)
        return p

    def _tail(self, name):
        try:
            with open(os.path.join(self.dir, name + ".log")) as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def _wait_ready(self, name, ready):
        p, end = self.procs[name], time.monotonic() + self.start_timeout
        while not ready():
            if p.poll() is not None:
                raise NetnsError("%s exited during startup (%s):\n%s" % (
                    name, p.returncode, self._tail(name)))
            if time.monotonic() > end:
                raise NetnsError("%s not ready within %d s:\n%s" % (
                    name, self.start_timeout, self._tail(name)))
            time.sleep(0.2)

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def start_zk(self):
        if self.alive("zookeeper"):
            return
        env = dict(os.environ, ZK_BIND=self.addr("zk"))
        self._spawn("zookeeper", "zk", [os.path.join(REPO, "deploy", "zk-run.sh"),
                                        os.path.join(self.dir, "zookeeper"), str(ZK_PORT)],
                    env=env)
        self._wait_ready("zookeeper", lambda: zk_ruok(self.addr("zk"), ZK_PORT))
        log("zookeeper started (pid %d, %s)" % (self.procs["zookeeper"].pid, self.zk_connect))

    def start_broker(self, b):
        name = "broker-%d" % b
        if self.alive(name):
            return
        a = "PLAINTEXT://%s:%d,INTERNAL://%s:%d" % (self.addr(b), BROKER_PORT, self.addr(b),
                                                   INTERNAL_PORT)
        ld = os.path.join(self.dir, name)
        os.makedirs(ld, exist_ok=True)
        argv = [self.broker_bin, self.config, "--override", "broker.id=%d" % b,
                "--override", "listeners=" + a, "--override", "advertised.listeners=" + a,
                "--override", "listener.security.protocol.map=" + PROTOCOL_MAP,
                "--override", "inter.broker.listener.name=INTERNAL",
                "--override", "log.dirs=" + ld,
                "--override", "zookeeper.connect=" + self.zk_connect]
        self._spawn(name, b, argv)
        self._wait_ready(name, lambda: tcp_open(self.addr(b), BROKER_PORT))
        log("broker %d started (pid %d, %s:%d)" % (b, self.procs[name].pid, self.addr(b),
                                                   BROKER_PORT))

    def up(self):
        os.makedirs(self.dir, exist_ok=True)
        self.start_zk()
        for b in range(self.n):
            self.start_broker(b)

    def pid(self, b):
        return self.procs["broker-%d" % b].pid

    def signal(self, b, sig):
        if not self.alive("broker-%d" % b):
            raise ProcessLookupError("broker %d is not running" % b)
        os.kill(self.pid(b), sig)

    def _stop(self, name, sig, force):
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return
        os.kill(p.pid, signal.SIGCONT)
        os.kill(p.pid, sig)
        try:
            p.wait(self.stop_timeout if sig != signal.SIGKILL else 10)
        except subprocess.TimeoutExpired:
            if not force:
                raise NetnsError("%s (pid %d) did not exit within %d s after %s" % (
                    name, p.pid, self.stop_timeout, signal.Signals(sig).name))
            log("%s (pid %d) still alive after %d s: SIGKILL" % (name, p.pid, self.stop_timeout))
            p.kill()
            p.wait(10)
        log("%s stopped (%s, pid %d, status %s)" % (name, signal.Signals(sig).name, p.pid,
                                                    p.returncode))

    def stop_broker(self, b, sig=None, force=True):
        self._stop("broker-%d" % b, sig or signal.SIGTERM, force)

    def down(self):
        """Heals, stops every broker (SIGTERM), then ZooKeeper; the namespaces stay."""
        self.heal()
        for b in range(self.n):
            self._stop("broker-%d" % b, signal.SIGTERM, True)
        self._stop("zookeeper", signal.SIGTERM, True)

    def teardown(self):
        if self.procs:
            try:
                self.down()
            except Exception as e:              # keep tearing down
                log("down: %s" % e)
            for p in self.procs.values():
                if p.poll() is None:
                    p.kill()
                    p.wait(10)
            self.procs.clear()
        self.delete()


def zk_mode(addr, port):
    """The Mode line of ZooKeeper's `srvr` ("leader", "follower", "standalone"), None when the
    node does not answer or serves no quorum."""
    try:
        with socket.create_connection((addr, port), timeout=1) as s:
            s.sendall(b"srvr")
            s.settimeout(2)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    for ln in data.decode(errors="replace").splitlines():
        if ln.startswith("Mode:"):
            return ln.split(":", 1)[1].strip()
    return None


def render_properties(template, values, settings):
    """deploy/multihost/server.properties with @KEY@ replaced from values, then each
    settings key's line replaced (or appended when the template has none)."""
    for k, v in values.items():
        template = template.replace("@%s@" % k, str(v))
    out, done = [], set()
    for ln in template.splitlines():
        key = ln.split("=", 1)[0].strip() if "=" in ln and not ln.lstrip().startswith("#") \
            else None
        if key in settings:
            ln = "%s=%s" % (key, settings[key])
            done.add(key)
        out.append(ln)
    extra = [(k, v) for k, v in settings.items() if k not in done]
    if extra:
        out.append("# netns.py --ensemble: the test's settings")
        out.extend("%s=%s" % kv for kv in extra)
    return "\n".join(out) + "\n"


class EnsembleCluster(NetnsCluster):
    """The configuration of docs/deploy.md "Three hosts": each namespace gregor-nt-bI is a host
    named gregor-(I+1) running ZooKeeper node I+1 (deploy/multihost/zoo.cfg, myid I+1) and
    broker I (deploy/multihost/server.properties with broker.id=I, broker.rack=rack-a|b|c,
    advertised host gregor-(I+1)). Names resolve through /etc/netns/<ns>/hosts, a copy of
    deploy/multihost/hosts with the test's addresses. settings: more broker properties (they
    replace the template's line of the same key); "log.dirs" is always DIR/broker-I."""

    def __init__(self, d, brokers, settings, broker_bin, stop_timeout=30, start_timeout=60):
        super().__init__(d, brokers, None, broker_bin, stop_timeout, start_timeout)
        self.ensemble = True
        self.settings = dict(settings)
        self.bootstrap = ",".join("%s:%d" % (host_name(b), BROKER_PORT) for b in range(brokers))
        self.zk_connect = ",".join("%s:%d" % (host_name(b), ZK_PORT) for b in range(brokers))
        self.hosts_path = os.path.join(d, "hosts")

    def create(self):
        super().create()
        os.makedirs(self.dir, exist_ok=True)
        with open(self.hosts_path, "w") as f:
            f.write(self.hosts_text())

    def broker_conf(self, b):
        with open(os.path.join(MULTIHOST, "server.properties")) as f:
            tmpl = f.read()
        settings = dict(self.settings)
        settings["log.dirs"] = os.path.join(self.dir, "broker-%d" % b)
        path = os.path.join(self.dir, "server-%d.properties" % b)
        with open(path, "w") as f:
            f.write(render_properties(tmpl, {"ID": b, "HOST": host_name(b),
                                             "RACK": "rack-" + "abcdefghij"[b]}, settings))
        return path

    def zk_conf(self, i):
        d = os.path.join(self.dir, "zookeeper-%d" % i)
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        with open(os.path.join(MULTIHOST, "zoo.cfg")) as f:
            lines = [("dataDir=%s" % os.path.join(d, "data")) if ln.startswith("dataDir=")
                     else ln for ln in f.read().splitlines()]
        with open(os.path.join(d, "zoo.cfg"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(d, "data", "myid"), "w") as f:
            f.write("%d\n" % (i + 1))
        return os.path.join(d, "zoo.cfg")

    def start_zk(self, i=None, wait=True):
        """Starts ZooKeeper node i (all when None); with wait, until it serves in a quorum."""
        nodes = range(self.n) if i is None else [i]
        jars = os.environ.get("ZK_JARS", "/usr/share/java")
        cp = ":".join(os.path.join(jars, j + ".jar") for j in ZK_JARS)
        for z in nodes:
            if self.alive("zookeeper-%d" % z):
                continue
            argv = [os.environ.get("JAVA", "java"), "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC",
                    "-Dorg.slf4j.simpleLogger.showDateTime=true",
                    "-Dzookeeper.admin.enableServer=false", "-cp", cp,
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain", self.zk_conf(z)]
            self._spawn("zookeeper-%d" % z, z, argv)
        if wait:
            for z in nodes:
                self._wait_ready("zookeeper-%d" % z,
                                 lambda z=z: zk_mode(self.addr(z), ZK_PORT) is not None)
                log("zookeeper node %d (myid %d) serving: %s" % (
                    z, z + 1, zk_mode(self.addr(z), ZK_PORT)))

    def stop_zk(self, i, sig=signal.SIGTERM):
        self._stop("zookeeper-%d" % i, sig, True)

    def start_broker(self, b):
        name = "broker-%d" % b
        if self.alive(name):
            return
        os.makedirs(os.path.join(self.dir, name), exist_ok=True)
        self._spawn(name, b, [self.broker_bin, self.broker_conf(b)])
        self._wait_ready(name, lambda: tcp_open(self.addr(b), BROKER_PORT))
        log("broker %d started on %s (pid %d, %s:%d)" % (b, host_name(b), self.procs[name].pid,
                                                       self.addr(b), BROKER_PORT))

    def up(self):
        os.makedirs(self.dir, exist_ok=True)
        self.start_zk()
        for b in range(self.n):
            self.start_broker(b)

    def down(self):
        self.heal()
        for b in range(self.n):
            self._stop("broker-%d" % b, signal.SIGTERM, True)
        for z in range(self.n):
            self._stop("zookeeper-%d" % z, signal.SIGTERM, True)


# ---- CLI: a topology that outlives the command (for looking around by hand) ------------------

def _cli_topology(n):
    t = Topology(n)
    t.created = True
    return t


def _cli_routes_heal():
    for ns in our_namespaces():
        for ln in ip("route", "show", "type", "blackhole", ns=ns).stdout.splitlines():
            ip("route", "del", *ln.split(), ns=ns, check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["up", "down", "cut", "isolate", "heal", "status",
                                        "cleanup"])
    ap.add_argument("nodes", nargs="*", help="broker ids or zk")
    ap.add_argument("--brokers", type=int, default=3)
    ap.add_argument("--ensemble", action="store_true",
                    help="up: docs/deploy.md's three hosts (deploy/multihost/), a ZooKeeper node "
                         "and a broker per namespace")
    ap.add_argument("--dir", default="/tmp/gregor-netns")
    ap.add_argument("--config", default=os.path.join(REPO, "deploy", "config",
                                                     "server.properties"))
    ap.add_argument("--broker-bin", default=os.environ.get("GREGOR_BROKER", os.path.join(
        os.environ.get("GREGOR_BUILD_DIR", os.path.join(REPO, "build")), "bin", "gregor-broker")))
    a = ap.parse_args()
    try:
        check_permitted()
        n = len([x for x in our_namespaces() if x != NS_PREFIX + "zk"]) or a.brokers
        if a.command == "up":
            c = (EnsembleCluster(a.dir, a.brokers, {}, a.broker_bin) if a.ensemble else
                 NetnsCluster(a.dir, a.brokers, a.config, a.broker_bin))
            c.create()
            atexit.unregister(c.teardown)
            c.up()
            fcntl.flock(c.lock_fd, fcntl.LOCK_UN)
            print("bootstrap %s  zookeeper %s  (stop: %s down)" % (c.bootstrap, c.zk_connect,
                                                                  sys.argv[0]))
            if a.ensemble:
                print("names: %s (run clients with: unshare -m sh -c 'mount --bind %s "
                      "/etc/hosts && exec CLIENT')" % (c.hosts_path, c.hosts_path))
        elif a.command == "down":
            _cli_routes_heal()
            cleanup_leftovers(term_wait_s=30)
        elif a.command == "cleanup":
            cleanup_leftovers()
        elif a.command == "cut":
            _cli_topology(n).cut(a.nodes[0], a.nodes[1])
        elif a.command == "isolate":
            _cli_topology(n).isolate(a.nodes[0])
        elif a.command == "heal":
            _cli_routes_heal()
        elif a.command == "status":
            for ns in our_namespaces():
                pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                      text=True).stdout.split()
                bh = ip("route", "show", "type", "blackhole", ns=ns).stdout.split("\n")
                print("%-14s pids %-16s cut from: %s" % (ns, ",".join(pids) or "-", " ".join(
                    ln.split()[1] for ln in bh if ln.strip()) or "-"))
    except NetnsError as e:
        log(str(e))
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
