"""
tests/integration/protocol/test_tls.py — SSL listeners with real clients (docs/security.md).

Three brokers, each with four listeners: PLAINTEXT (the harness's), SSL (server certificate
only), MTLS (an SSL listener with ssl.client.auth=required and its own principal mapping rules,
set with listener.name.mtls.ssl.*) and INTERNAL, the inter-broker listener, SSL with client
certificates required, so replica fetches and controller requests run over mutual TLS with the
host name checked; certificates from deploy/make-certs.sh. Checks that replication works over
TLS between the brokers, that
confluent-kafka (librdkafka), kafka-python and kcat produce and consume over TLS (including
fetches of several MB, which the broker serves by pread through TLS instead of sendfile), that
the client certificate's subject becomes the principal, that clients without a certificate,
clients that do not trust the broker's CA, plaintext clients on the TLS port and TLS clients on
the plaintext port all fail clearly while the broker carries on, and that changed certificate
files are picked up without a restart (and a broken one is refused, the old kept).

Runs under /usr/bin/python3 (Debian's python3-confluent-kafka and python3-kafka).
"""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import R, Conn, W, record_batch  # noqa: E402
from cluster import BROKER_BIN, SRC, Broker, Cluster, free_port, run_suite  # noqa: E402

from confluent_kafka import Consumer, KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

CERTS = os.path.join(os.environ.get("TMPDIR", "/tmp"), "gregor-tls-%d" % os.getpid())
OTHER = CERTS + "-other"  # a second CA nobody trusts at first
for d in (CERTS, OTHER):
    subprocess.run(["sh", os.path.join(SRC, "deploy", "make-certs.sh"), d], check=True,
                   stdout=subprocess.DEVNULL)
# the broker reads its own copies, which the reload test replaces
KEYSTORE = os.path.join(CERTS, "live-broker.pem")
TRUSTSTORE = os.path.join(CERTS, "live-ca.pem")
shutil.copy(os.path.join(CERTS, "broker.pem"), KEYSTORE)
shutil.copy(os.path.join(CERTS, "ca.pem"), TRUSTSTORE)
CA = os.path.join(CERTS, "ca.pem")

N = 3
PORTS = [(free_port(), free_port(), free_port()) for _ in range(N)]  # SSL, MTLS, INTERNAL
HTTP = [free_port() for _ in range(N)]


def per_broker(i):
    ssl_port, mtls_port, internal = PORTS[i]
    o = ["listeners=PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:%d,MTLS://127.0.0.1:%d,"
         "INTERNAL://127.0.0.1:%d" % (ssl_port, mtls_port, internal),
         "advertised.listeners=PLAINTEXT://127.0.0.1:{port},SSL://localhost:%d,"
         "MTLS://localhost:%d,INTERNAL://localhost:%d" % (ssl_port, mtls_port, internal)]
    return o + ["gregor.http.port=%d" % HTTP[i]]


cl = Cluster(N, overrides=[
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,INTERNAL:SSL",
    "inter.broker.listener.name=INTERNAL",
    "ssl.keystore.location=" + os.path.join(CERTS, "broker.pem"),
    "ssl.truststore.location=" + TRUSTSTORE,
    "ssl.client.auth=required",
    "ssl.key.password=hunter2",  # the key is not encrypted: unused, but must not be shown
    "listener.name.ssl.ssl.client.auth=none",
    "listener.name.ssl.ssl.keystore.location=" + KEYSTORE,  # the reload test replaces it
    "listener.name.mtls.ssl.principal.mapping.rules=RULE:^CN=([a-z]+),OU=clients,O=Gregor$/$1/",
    "gregor.ssl.reload.interval.ms=300",
    "gregor.log.level=debug",
    "num.partitions=1",
], per_broker=per_broker)
B = cl.brokers[0]
SSL_PORT, MTLS_PORT = PORTS[0][0], PORTS[0][1]
SSL_BOOT = "localhost:%d" % SSL_PORT
MTLS_BOOT = "localhost:%d" % MTLS_PORT


def log_text(b=None):
    with open((b or B).logfile) as f:
        return f.read()


def wait_log(needle, timeout=10.0, start=0):
    end = time.time() + timeout
    while time.time() < end:
        if needle in log_text()[start:]:
            return True
        time.sleep(0.1)
    raise AssertionError("broker log lacks %r; tail:\n%s" % (needle, log_text()[-2000:]))


def ssl_conf(ca=CA, cert=None):
    c = {"security.protocol": "SSL", "ssl.ca.location": ca}
    if cert:
        c["ssl.certificate.location"] = os.path.join(CERTS, cert + ".crt")
        c["ssl.key.location"] = os.path.join(CERTS, cert + ".key")
    return c


def broker_serves_plaintext():
    """The broker still answers ApiVersions on its PLAINTEXT listener."""
    c = Conn("127.0.0.1", B.port)
    r = c.call(18, 0, W().b)
    assert r.i16() == 0
    c.close()


def produce_consume(boot, extra, values):
    topic = "tls-" + uuid.uuid4().hex[:8]
    p = Producer(dict(extra, **{"bootstrap.servers": boot, "acks": "all",
                                "message.max.bytes": 2_000_000}))
    for i, v in enumerate(values):
        p.produce(topic, key=str(i).encode(), value=v)
    assert p.flush(30) == 0
    c = Consumer(dict(extra, **{"bootstrap.servers": boot, "group.id": "g-" + topic,
                                "auto.offset.reset": "earliest", "enable.auto.commit": False,
                                "fetch.max.bytes": 8 << 20,
                                "max.partition.fetch.bytes": 8 << 20}))
    c.subscribe([topic])
    got = []
    end = time.time() + 30
    while len(got) < len(values) and time.time() < end:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got.append(m.value())
    c.close()
    assert got == values, "got %d of %d records" % (len(got), len(values))
    return topic


def metric(name):
    """The counter summed over the brokers."""
    total = 0.0
    for port in HTTP:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
        total += sum(float(line.split()[1]) for line in text.decode().splitlines()
                     if line.startswith(name + " "))
    return total


def test_confluent_produce_and_consume_over_ssl_with_large_fetches():
    before = log_text().count("listener=SSL version=TLSv1.3")
    copied, sent = metric("gregor_fetch_copied_bytes_total"), metric("gregor_fetch_sendfile_bytes_total")
    # ~6 MB: fetches of several MB go out as file pieces read into the TLS stream
    values = [os.urandom(700_000) for _ in range(8)] + [b"small-%d" % i for i in range(100)]
    produce_consume(SSL_BOOT, ssl_conf(), values)
    assert log_text().count("listener=SSL version=TLSv1.3") > before
    # the record bytes left through TLS by pread, none by sendfile
    assert metric("gregor_fetch_copied_bytes_total") - copied >= 5_600_000
    assert metric("gregor_fetch_sendfile_bytes_total") == sent
    # anonymous over server-only TLS
    assert "listener=SSL version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 principal=User:ANONYMOUS" \
        in log_text()


def test_replication_between_brokers_over_mutual_tls():
    from confluent_kafka.admin import NewTopic
    a = AdminClient(dict(ssl_conf(), **{"bootstrap.servers": SSL_BOOT}))
    topic = "rep-" + uuid.uuid4().hex[:8]
    for f in a.create_topics([NewTopic(topic, 3, 3)]).values():
        f.result(30)
    values = [b"replicated %d" % i for i in range(300)]
    p = Producer(dict(ssl_conf(), **{"bootstrap.servers": SSL_BOOT, "acks": "all"}))
    for i, v in enumerate(values):
        p.produce(topic, value=v, partition=i % 3)
    assert p.flush(30) == 0
    # acks=all was answered with all three replicas in the ISR: the followers fetched the
    # records over the TLS inter-broker listener (dropping one takes replica.lag.time.max.ms)
    end = time.time() + 20
    while True:
        md = a.list_topics(topic, timeout=10).topics[topic]
        if all(len(pm.isrs) == 3 for pm in md.partitions.values()):
            break
        assert time.time() < end, {p: pm.isrs for p, pm in md.partitions.items()}
        time.sleep(0.3)
    for b in cl.brokers:
        text = log_text(b)
        assert "brokers connect to each other over TLS (listener INTERNAL, host name check on)" \
            in text
        # other brokers' fetchers and channels came in with the broker certificate
        assert "listener=INTERNAL version=TLSv1.3" in text
        assert "principal=User:CN=broker,O=Gregor" in text


def test_mtls_principal_from_client_certificate():
    topic = produce_consume(MTLS_BOOT, ssl_conf(cert="alice"), [b"from alice %d" % i
                                                                for i in range(50)])
    # ssl.principal.mapping.rules of the MTLS listener: CN=alice,OU=clients,O=Gregor -> alice
    wait_log("listener=MTLS version=TLSv1.3")
    assert "principal=User:alice" in log_text(), log_text()[-1500:]
    assert topic


def test_kafka_python_over_ssl():
    from kafka import KafkaConsumer, KafkaProducer
    topic = "kp-" + uuid.uuid4().hex[:8]
    p = KafkaProducer(bootstrap_servers=SSL_BOOT, security_protocol="SSL", ssl_cafile=CA,
                      acks="all", api_version=(2, 5))
    for i in range(20):
        p.send(topic, b"kp-%d" % i)
    p.flush(30)
    p.close()
    c = KafkaConsumer(topic, bootstrap_servers=MTLS_BOOT, security_protocol="SSL",
                      ssl_cafile=CA, ssl_certfile=os.path.join(CERTS, "admin.crt"),
                      ssl_keyfile=os.path.join(CERTS, "admin.key"), auto_offset_reset="earliest",
                      consumer_timeout_ms=10000, api_version=(2, 5))
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == 20:
            break
    c.close()
    assert got == [b"kp-%d" % i for i in range(20)], got
    assert "principal=User:admin" in log_text()


def test_kcat_mtls():
    topic = "kcat-" + uuid.uuid4().hex[:8]
    x = ["-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + CA,
         "-X", "ssl.certificate.location=" + os.path.join(CERTS, "alice.crt"),
         "-X", "ssl.key.location=" + os.path.join(CERTS, "alice.key")]
    lines = "\n".join("kcat-%d" % i for i in range(30)) + "\n"
    subprocess.run(["kcat", "-b", MTLS_BOOT, "-P", "-t", topic] + x, input=lines.encode(),
                   check=True, timeout=30)
    out = subprocess.run(["kcat", "-b", MTLS_BOOT, "-C", "-t", topic, "-o", "beginning", "-e",
                          "-q"] + x, capture_output=True, check=True, timeout=30).stdout
    assert out.decode() == lines, out


def tls_socket(port, ca=CA, cert=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(os.path.join(CERTS, cert + ".crt"), os.path.join(CERTS, cert + ".key"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def api_versions_over(s):
    c = Conn.__new__(Conn)
    c.s, c.corr = s, 0
    r = c.call(18, 0, W().b)
    return r.i16()


def test_client_without_certificate_is_refused_on_mtls():
    mark = len(log_text())
    # librdkafka: no metadata without a certificate
    a = AdminClient(dict(ssl_conf(), **{"bootstrap.servers": MTLS_BOOT}))
    try:
        a.list_topics(timeout=3)
        raise AssertionError("listed topics without a client certificate")
    except KafkaException:
        pass
    del a  # stops its reconnects
    # at the socket: TLS 1.3 reports the refusal on the first read
    try:
        s = tls_socket(MTLS_PORT)
        api_versions_over(s)
        raise AssertionError("served without a client certificate")
    except (ssl.SSLError, ConnectionError, OSError):
        pass
    wait_log("TLS handshake failed", start=mark)
    assert "certificate" in log_text()[mark:], log_text()[mark:][-1000:]
    # with one, the same listener serves
    assert api_versions_over(tls_socket(MTLS_PORT, cert="alice")) == 0
    broker_serves_plaintext()


def test_certificate_no_mapping_rule_matches_is_refused():
    """The MTLS listener's only rule wants OU=clients: the broker's own certificate
    (CN=broker,O=Gregor) matches none, so the connection is closed once the handshake is done,
    nothing is served, and the broker carries on."""
    mark = len(log_text())
    try:
        s = tls_socket(MTLS_PORT, cert="broker")
        api_versions_over(s)
        raise AssertionError("served a certificate no mapping rule matches")
    except (ssl.SSLError, ConnectionError, OSError, EOFError, struct.error):
        pass
    wait_log("no rule of ssl.principal.mapping.rules matches subject", start=mark)
    assert api_versions_over(tls_socket(MTLS_PORT, cert="alice")) == 0
    broker_serves_plaintext()


def test_pipelined_requests_with_a_large_one_over_tls():
    """Eleven requests written in one go over TLS, a 300 KB Produce among ApiVersions: the
    broker reads several records per socket read, decrypts the large frame straight into its
    own buffer and keeps the bytes it read past that frame (the next requests, in the same TLS
    record) for them; every response comes back, in order, and the Produce is appended."""
    topic = "pipe-" + uuid.uuid4().hex[:8]
    # CreateTopics v0: partition 0 on broker B alone (B leads it)
    Conn("127.0.0.1", B.port).call(19, 0, W().i32(1).str(topic).i32(-1).i16(-1).i32(1).i32(0)
                                   .i32(1).i32(B.id).i32(0).i32(10000).b)

    def produce(value):  # Produce v3, acks=1
        return W().i16(-1).i16(1).i32(10000).i32(1).str(topic).i32(1).i32(0) \
            .bytes(record_batch([(None, value, 0)])).b

    def produce_error(r):  # topics [name, partitions [partition, error, ...]]
        assert r.i32() == 1 and r.str() == topic and r.i32() == 1 and r.i32() == 0
        return r.i16()

    def frame(key, ver, corr, body):
        f = bytes(W().i16(key).i16(ver).i32(corr).str("pipe").b) + bytes(body)
        return struct.pack(">i", len(f)) + f

    c = Conn.__new__(Conn)
    c.s, c.corr = tls_socket(SSL_PORT), 0
    end = time.time() + 20
    while produce_error(c.call(0, 3, produce(b"first"))) != 0:  # until the leader is known
        assert time.time() < end, "the new topic got no leader"
        time.sleep(0.2)
    keys = [18] * 5 + [0] + [18] * 5
    big = produce(os.urandom(300_000))
    c.s.sendall(b"".join(frame(k, 3 if k == 0 else 0, corr, big if k == 0 else b"")
                         for corr, k in enumerate(keys, 100)))
    for corr, k in enumerate(keys, 100):
        r = R(c.recv_frame())
        assert r.i32() == corr
        assert (r.i16() if k == 18 else produce_error(r)) == 0
    c.close()


def test_untrusted_server_certificate_is_refused_by_the_client():
    other_ca = os.path.join(OTHER, "ca.pem")
    a = AdminClient(dict(ssl_conf(ca=other_ca), **{"bootstrap.servers": SSL_BOOT}))
    try:
        a.list_topics(timeout=3)
        raise AssertionError("client trusted a certificate of another CA")
    except KafkaException:
        pass
    del a  # stops its reconnects
    try:
        tls_socket(SSL_PORT, ca=other_ca)
        raise AssertionError("handshake succeeded with an untrusted CA")
    except ssl.SSLCertVerificationError:
        pass
    broker_serves_plaintext()


def test_plaintext_client_on_tls_port_and_tls_client_on_plaintext_port():
    time.sleep(1.1)  # the handshake failure log line is rate-limited to one a second
    mark = len(log_text())
    c = Conn("127.0.0.1", SSL_PORT, timeout=10)
    try:
        c.call(18, 0, W().b)
        raise AssertionError("plaintext request answered on the SSL listener")
    except (ConnectionError, OSError):
        pass
    wait_log("TLS handshake failed", start=mark)
    assert "listener=SSL: error:0A00010B:SSL routines::wrong version number" in log_text()[mark:], \
        log_text()[mark:]
    try:
        tls_socket(B.port)
        raise AssertionError("TLS handshake succeeded on the PLAINTEXT listener")
    except (ssl.SSLError, ConnectionError, OSError):
        pass
    broker_serves_plaintext()
    assert api_versions_over(tls_socket(SSL_PORT)) == 0


def test_certificate_reload_without_restart():
    mark = len(log_text())
    # the broker moves to a certificate of the other CA: new clients must trust that CA
    shutil.copy(os.path.join(OTHER, "broker.pem"), KEYSTORE + ".new")
    os.replace(KEYSTORE + ".new", KEYSTORE)
    wait_log("certificates reloaded", start=mark)
    try:
        tls_socket(SSL_PORT)
        raise AssertionError("still serving the old certificate")
    except ssl.SSLCertVerificationError:
        pass
    other_ca = os.path.join(OTHER, "ca.pem")
    assert api_versions_over(tls_socket(SSL_PORT, ca=other_ca)) == 0
    produce_consume(SSL_BOOT, ssl_conf(ca=other_ca), [b"after reload"])
    # a broken keystore is refused and the current one kept
    mark = len(log_text())
    with open(KEYSTORE + ".new", "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    os.replace(KEYSTORE + ".new", KEYSTORE)
    wait_log("do not load; keeping the old ones", start=mark)
    assert api_versions_over(tls_socket(SSL_PORT, ca=other_ca)) == 0
    # and a good one again is picked up
    shutil.copy(os.path.join(CERTS, "broker.pem"), KEYSTORE + ".new")
    os.replace(KEYSTORE + ".new", KEYSTORE)
    wait_log("certificates reloaded", start=mark)
    assert api_versions_over(tls_socket(SSL_PORT)) == 0


def test_inter_broker_client_certificates_reload():
    """The brokers' own TLS connections to each other (fetchers, controller channels) are
    rebuilt from the files too: a changed truststore reaches every broker's client context, a
    broken one is reported and the current one kept, and replication goes on."""
    with open(TRUSTSTORE) as f:
        original = f.read()
    marks = [len(log_text(b)) for b in cl.brokers]

    def replace(text):
        with open(TRUSTSTORE + ".new", "w") as f:
            f.write(text)
        os.replace(TRUSTSTORE + ".new", TRUSTSTORE)

    def wait_all(needle):
        end = time.time() + 10
        while not all(needle in log_text(b)[m:] for b, m in zip(cl.brokers, marks)):
            assert time.time() < end, "not every broker logged %r" % needle
            time.sleep(0.1)
    try:
        with open(os.path.join(OTHER, "ca.pem")) as f:
            replace(original + f.read())  # trust both CAs
        wait_all("inter-broker client certificates reloaded")
        from confluent_kafka.admin import NewTopic
        a = AdminClient(dict(ssl_conf(), **{"bootstrap.servers": SSL_BOOT}))
        topic = "reload-" + uuid.uuid4().hex[:8]
        for f in a.create_topics([NewTopic(topic, 3, 3)]).values():
            f.result(30)
        p = Producer(dict(ssl_conf(), **{"bootstrap.servers": SSL_BOOT, "acks": "all"}))
        for i in range(30):
            p.produce(topic, value=b"after the reload %d" % i, partition=i % 3)
        assert p.flush(30) == 0
        marks = [len(log_text(b)) for b in cl.brokers]
        replace("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        wait_all("inter-broker certificate files changed but do not load; keeping the old ones")
    finally:
        marks = [len(log_text(b)) for b in cl.brokers]
        replace(original)
    wait_all("inter-broker client certificates reloaded")


FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"  # deploy/install-deps.sh


def sign(name, subject, ext, when=None, days=30):
    """A certificate of the test CA in CERTS/name.{crt,key}; when: the clock openssl runs at
    (libfaketime), for certificates that have already expired."""
    key, csr, crt, extf = (os.path.join(CERTS, name + x) for x in (".key", ".csr", ".crt", ".ext"))
    with open(extf, "w") as f:
        f.write(ext)
    env = dict(os.environ)
    if when:
        env.update(LD_PRELOAD=FAKETIME_LIB, FAKETIME="@" + when)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", subject,
                    "-keyout", key, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", CA, "-CAkey",
                    os.path.join(CERTS, "ca.key"), "-CAcreateserial", "-days", str(days),
                    "-sha256", "-extfile", extf, "-out", crt], check=True, capture_output=True,
                   env=env)
    with open(os.path.join(CERTS, name + ".pem"), "w") as out:
        out.write(open(crt).read() + open(key).read())


def test_expired_client_certificate_is_refused_and_logged():
    sign("expired", "/O=Gregor/OU=clients/CN=expired", "extendedKeyUsage=clientAuth\n",
         when="2020-01-01 00:00:00")
    mark = len(log_text())
    end = time.time() + 10
    while "certificate has expired" not in log_text()[mark:]:
        assert time.time() < end, log_text()[mark:][-1500:]
        try:  # TLS 1.3: the refusal comes on the first read
            api_versions_over(tls_socket(MTLS_PORT, cert="expired"))
            raise AssertionError("served a client with an expired certificate")
        except (ssl.SSLError, ConnectionError, OSError):
            pass
        time.sleep(0.5)  # the handshake failure line is logged at most once a second
    assert api_versions_over(tls_socket(MTLS_PORT, cert="alice")) == 0


def test_broker_certificate_without_its_host_name_is_refused_between_brokers():
    """A broker whose inter-broker certificate does not name the host it advertises: the
    other brokers' connections to it (the controller's channel) fail the host name check and
    say so."""
    sign("wronghost", "/O=Gregor/CN=broker", "subjectAltName=DNS:elsewhere.invalid\n"
         "extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n")
    ssl_port, mtls_port, internal = free_port(), free_port(), free_port()
    extra = Broker(cl.tmp, cl.zk, 7, cl.brokers[0].overrides[:-3] + [
        "listeners=PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:%d,MTLS://127.0.0.1:%d,"
        "INTERNAL://127.0.0.1:%d" % (ssl_port, mtls_port, internal),
        "advertised.listeners=PLAINTEXT://127.0.0.1:{port},SSL://localhost:%d,"
        "MTLS://localhost:%d,INTERNAL://localhost:%d" % (ssl_port, mtls_port, internal),
        "listener.name.internal.ssl.keystore.location=" + os.path.join(CERTS, "wronghost.pem")])
    marks = [len(log_text(b)) for b in cl.brokers]
    extra.start()
    try:
        end = time.time() + 20
        while not any("hostname mismatch" in log_text(b)[m:] for b, m in zip(cl.brokers, marks)):
            assert time.time() < end, "no broker reported the host name mismatch"
            time.sleep(0.2)
    finally:
        extra.stop()


def start_error(*overrides):
    """Starts a broker with a bad TLS setting; returns its output once it has exited."""
    d = os.path.join(CERTS, "bad-broker")
    a = [BROKER_BIN, os.path.join(SRC, "deploy", "config", "server.properties"),
         "--override", "broker.id=99", "--override", "log.dirs=" + d,
         "--override", "zookeeper.connect=" + cl.zk.connect,
         "--override", "listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
         "--override", "advertised.listeners=PLAINTEXT://127.0.0.1:0,SSL://localhost:0",
         "--override", "inter.broker.listener.name=PLAINTEXT",
         "--override", "ssl.keystore.location=" + os.path.join(CERTS, "broker.pem")]
    for o in overrides:
        a += ["--override", o]
    r = subprocess.run(a, capture_output=True, text=True, timeout=30)
    shutil.rmtree(d, ignore_errors=True)
    assert r.returncode != 0, "broker started with %s" % (overrides,)
    return r.stdout + r.stderr


def test_describe_configs_hides_the_key_password():
    from confluent_kafka.admin import ConfigResource
    a = AdminClient(dict(ssl_conf(), **{"bootstrap.servers": SSL_BOOT}))
    res = ConfigResource(ConfigResource.Type.BROKER, "0")
    entries = a.describe_configs([res])[res].result(20)
    pw = entries["ssl.key.password"]
    assert pw.is_sensitive and pw.value is None, (pw.is_sensitive, pw.value)
    assert entries["ssl.client.auth"].value == "required"
    assert not entries["ssl.client.auth"].is_sensitive
    assert all(e.value != "hunter2" for e in entries.values())


def test_bad_tls_settings_stop_the_broker_at_start():
    # a key that does not match the certificate
    mixed = os.path.join(CERTS, "mixed.pem")
    with open(mixed, "w") as f:
        f.write(open(os.path.join(CERTS, "broker.crt")).read())
        f.write(open(os.path.join(CERTS, "alice.key")).read())
    out = start_error("ssl.keystore.location=" + mixed)
    assert "listener SSL: the private key in %s does not match its certificate" % mixed in out, out
    # an encrypted key without its password, and with a wrong one
    enc = os.path.join(CERTS, "encrypted.pem")
    key = subprocess.run(["openssl", "pkey", "-in", os.path.join(CERTS, "broker.key"), "-aes256",
                          "-passout", "pass:right"], capture_output=True, check=True).stdout
    with open(enc, "wb") as f:
        f.write(open(os.path.join(CERTS, "broker.crt"), "rb").read() + key)
    out = start_error("ssl.keystore.location=" + enc)
    assert "an encrypted key needs ssl.key.password" in out, out
    out = start_error("ssl.keystore.location=" + enc, "ssl.key.password=wrong")
    assert "is ssl.key.password right?" in out, out
    # a missing file, a missing keystore, a truststore-less mTLS listener, bad names
    out = start_error("ssl.keystore.location=/nonexistent/broker.pem")
    assert "cannot read the certificate chain of ssl.keystore.location /nonexistent" in out, out
    out = start_error("ssl.keystore.location=")
    assert "ssl.keystore.location is required" in out, out
    out = start_error("ssl.client.auth=required")
    assert "needs ssl.truststore.location" in out, out
    out = start_error("ssl.cipher.suites=TLS_NOT_A_CIPHER")
    assert "unknown cipher suite 'TLS_NOT_A_CIPHER'" in out, out
    out = start_error("ssl.enabled.protocols=TLSv1.1")
    assert "unknown or unsupported protocol 'TLSv1.1'" in out, out
    out = start_error("ssl.principal.mapping.rules=RULE:oops")
    assert "ssl.principal.mapping.rules" in out, out


if __name__ == "__main__":
    try:
        rc = run_suite(cl, globals())
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)
        shutil.rmtree(OTHER, ignore_errors=True)
    sys.exit(rc)
