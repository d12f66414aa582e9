"""Helpers for the reconciler tests (issue 5): a Docker Engine of the tests'
own, images built locally from busybox-static, the warren-reconciler
process, a fault-injecting relay in front of the Docker socket, and direct
database access (python3-psycopg2).

The Docker Engine is private unless WARREN_TEST_DOCKER_HOST names one: the
tests start `dockerd` on a socket, data root, exec root and bridge of their
own and stop it at the end.  A private engine is what the reconciler tests
need: a reconciler removes every container labelled warren.managed=true
that its own database does not want, so on a shared engine two test runs
(or a test run and a developer's stack) would remove each other's
workspaces.  It also lets the tests restart dockerd mid-run.  The tests
reach the engine through its unix socket; it also listens on
tcp://127.0.0.1:<port> with --tlsverify (a throwaway CA made with openssl)
for the reconciler's tcp+TLS tests.  Containers are reached only through
ports published on 127.0.0.1.
"""

import fcntl
import http.client
import io
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse

import psycopg2
import psycopg2.extras
import pytest

from conftest import BUILD, START_TIMEOUT, free_port, parse_metrics, sanitizer_reports, wait_for

RECON_BIN = BUILD / "warren-reconciler"
DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
BUSYBOX = "/bin/busybox"  # busybox-static: no shared libraries needed
API_VERSION = "v1.41"      # Debian 12's docker.io (20.10) speaks 1.41

# The images the tests run: busybox httpd serving /www on port 8080, with a
# home directory owned by the workspace user (1000:1000) so that the named
# volume Docker fills from it is writable by that user.
IMAGE = "warren/busybox:1"
IMAGE2 = "warren/busybox:2"
MISSING_IMAGE = "warren/absent:1"
HTTPD_CMD = ["httpd", "-f", "-p", "8080", "-h", "/www"]
APPLETS = ("sh", "httpd", "sleep", "echo", "cat", "ls", "id", "mkdir", "touch",
           "printf", "ps", "kill", "true", "false", "env", "nc", "grep", "stat",
           "mount", "head", "tail", "wc", "rm", "chmod", "date", "hostname")


# ------------------------------------------------------------ Docker API


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class DockerError(Exception):
    pass


class DockerClient:
    """The Docker Engine API over its unix socket, one connection a call."""

    def __init__(self, sock_path):
        self.sock_path = sock_path

    def request(self, method, path, body=None, headers=None, timeout=30, versioned=True):
        conn = _UnixConnection(self.sock_path, timeout)
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        try:
            conn.request(method, (f"/{API_VERSION}" if versioned else "") + path,
                         body=body, headers=h)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def call(self, method, path, body=None, ok=(200, 201, 204, 304), **kw):
        status, data = self.request(method, path, body, **kw)
        if status not in ok:
            raise DockerError(f"{method} {path}: {status} {data[:300]!r}")
        if data and data[:1] in (b"{", b"["):
            return json.loads(data)
        return data

    def ping(self, timeout=2):
        try:
            return self.request("GET", "/_ping", timeout=timeout, versioned=False)[0] == 200
        except OSError:
            return False

    # containers

    def containers(self, labels=(), all=True):
        f = urllib.parse.quote(json.dumps({"label": list(labels)})) if labels else None
        path = f"/containers/json?all={int(all)}" + (f"&filters={f}" if f else "")
        return self.call("GET", path)

    def warren_containers(self, ws_id=None):
        labels = ["warren.managed=true"]
        if ws_id:
            labels.append(f"warren.workspace={ws_id}")
        return self.containers(labels)

    def inspect(self, name):
        status, data = self.request("GET", f"/containers/{name}/json")
        if status == 404:
            return None
        if status != 200:
            raise DockerError(f"inspect {name}: {status} {data[:200]!r}")
        return json.loads(data)

    def create(self, name, spec):
        return self.call("POST", f"/containers/create?name={name}", spec)["Id"]

    def start(self, name):
        self.call("POST", f"/containers/{name}/start")

    def stop(self, name, t=1):
        self.call("POST", f"/containers/{name}/stop?t={t}", ok=(204, 304), timeout=t + 30)

    def rm(self, name, force=True):
        self.call("DELETE", f"/containers/{name}?force={int(force)}", ok=(204, 404))

    def host_port(self, name, port=8080):
        c = self.inspect(name)
        b = (c or {}).get("NetworkSettings", {}).get("Ports", {}).get(f"{port}/tcp")
        return int(b[0]["HostPort"]) if b else None

    def logs(self, name, tail=100):
        return self.call("GET", f"/containers/{name}/logs?stdout=1&stderr=1&tail={tail}")

    def exec(self, name, cmd, user=None):
        """Runs cmd in the container; (exit code, output)."""
        spec = {"Cmd": cmd, "AttachStdout": True, "AttachStderr": True, "Tty": True}
        if user:
            spec["User"] = user
        eid = self.call("POST", f"/containers/{name}/exec", spec)["Id"]
        out = self.call("POST", f"/exec/{eid}/start", {"Detach": False, "Tty": True}, timeout=60)
        info = self.call("GET", f"/exec/{eid}/json")
        return info["ExitCode"], out.decode("utf-8", "replace") if isinstance(out, bytes) else out

    # volumes and images

    def volumes(self, labels=()):
        f = urllib.parse.quote(json.dumps({"label": list(labels)}))
        return self.call("GET", f"/volumes?filters={f}")["Volumes"] or []

    def volume(self, name):
        status, data = self.request("GET", f"/volumes/{name}")
        return json.loads(data) if status == 200 else None

    def remove_volume(self, name):
        self.call("DELETE", f"/volumes/{name}?force=1", ok=(204, 404))

    def image(self, ref):
        status, data = self.request("GET", f"/images/{urllib.parse.quote(ref, safe='')}/json")
        return json.loads(data) if status == 200 else None

    def remove_image(self, ref):
        self.call("DELETE", f"/images/{urllib.parse.quote(ref, safe='')}?force=1", ok=(200, 404))

    def import_image(self, tar_bytes, ref, changes=()):
        repo, tag = ref.rsplit(":", 1)
        q = [("fromSrc", "-"), ("repo", repo), ("tag", tag)] + [("changes", c) for c in changes]
        out = self.call("POST", "/images/create?" + urllib.parse.urlencode(q), tar_bytes,
                        headers={"Content-Type": "application/x-tar"}, timeout=120)
        text = out.decode() if isinstance(out, bytes) else json.dumps(out)
        if '"error"' in text:
            raise DockerError(f"import {ref}: {text[:300]}")
        return self.image(ref)

    def cleanup_warren(self, timeout=60):
        """Removes every Warren-labelled container and volume (a removal
        that a killed reconciler left in progress is waited for)."""
        deadline = time.monotonic() + timeout
        while True:
            left = []
            for c in self.warren_containers():
                status, data = self.request("DELETE", f"/containers/{c['Id']}?force=1")
                if status not in (204, 404):
                    left.append(f"container {c['Id']}: {status} {data[:300]!r}")
            vols = {v["Name"] for v in self.volumes(["warren.managed=true"])}
            # Volumes made by hand in tests may carry no label.
            vols |= {v["Name"] for v in self.call("GET", "/volumes")["Volumes"] or []
                     if v["Name"].startswith("warren-")}
            for name in vols:
                status, data = self.request("DELETE", f"/volumes/{name}?force=1")
                if status not in (204, 404):
                    left.append(f"volume {name}: {status} {data[:300]!r}")
            if not left:
                return
            if time.monotonic() > deadline:
                raise DockerError(f"could not remove {left}")
            time.sleep(0.1)


def rootfs_tar(index_text):
    """A root file system as a tar: busybox-static and its applets, a web
    root, /tmp, /etc/passwd and a home directory owned by 1000:1000."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_dir(name, mode=0o755, uid=0):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.uid, ti.gid = tarfile.DIRTYPE, mode, uid, uid
            tar.addfile(ti)

        def add_file(name, data, mode=0o644):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), mode
            tar.addfile(ti, io.BytesIO(data))

        for d in ("bin", "etc", "www", "root", "home", "proc", "sys", "dev", "run"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        add_dir("home/dev", 0o755, uid=1000)
        add_file("bin/busybox", pathlib.Path(BUSYBOX).read_bytes(), 0o755)
        for a in APPLETS:
            ti = tarfile.TarInfo(f"bin/{a}")
            ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(ti)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\ndev:x:1000:1000:dev:/home/dev:/bin/sh\n")
        add_file("etc/group", b"root:x:0:\ndev:x:1000:\n")
        add_file("www/index.html", index_text.encode())
    return buf.getvalue()


def build_image(client, ref, index_text):
    """(Re)builds ref: the same bytes give the same image id."""
    img = client.import_image(rootfs_tar(index_text), ref,
                              changes=[f"CMD {json.dumps(HTTPD_CMD)}", "ENV PATH=/bin"])
    assert img is not None, f"image {ref} is not there after import"
    return img


# ------------------------------------------------------------------ TLS


def _openssl(*args):
    r = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        pytest.fail(f"openssl {' '.join(map(str, args))}: {r.stderr}")


class CertAuthority:
    """A throwaway certificate authority in a directory of its own (EC
    P-256 keys, two days), and the certificates it issues."""

    def __init__(self, d, name="Warren test CA"):
        self.dir = pathlib.Path(d)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert = self.dir / "ca.pem"
        self.key = self.dir / "ca-key.pem"
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
                 "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        os.chmod(self.key, 0o600)

    def issue(self, name, usage, san=None):
        """A certificate for usage (serverAuth, clientAuth) and its key:
        (cert path, key path)."""
        cert, key, csr = (self.dir / f"{name}.pem", self.dir / f"{name}-key.pem",
                          self.dir / f"{name}.csr")
        ext = self.dir / f"{name}.ext"
        lines = ["keyUsage=critical,digitalSignature", f"extendedKeyUsage={usage}"]
        if san:
            lines.append(f"subjectAltName={san}")
        ext.write_text("\n".join(lines) + "\n")
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        os.chmod(key, 0o600)
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                 "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
                 "-extfile", ext, "-out", cert)
        return cert, key


# --------------------------------------------------------------- dockerd


def _ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


class Dockerd:
    """A Docker Engine for the tests: a private dockerd (own socket, data
    root, exec root and bridge, no iptables rules so as not to touch the
    host's), or the one named by WARREN_TEST_DOCKER_HOST.

    The private one also listens on tls_host (tcp://127.0.0.1:<port>,
    --tlsverify): its server certificate and the client certificate it
    accepts come from the CA `ca`; `tls_client` is (cert, key).  An external
    engine has none of these (tls_host None)."""

    def __init__(self):
        ext = os.environ.get("WARREN_TEST_DOCKER_HOST")
        self.proc = None
        self.log_file = None
        self.tls_host = self.ca = self.server = self.tls_client = None
        if ext:
            assert ext.startswith("unix://"), "WARREN_TEST_DOCKER_HOST must be unix:///path"
            self.started = False
            self.sock = ext[len("unix://"):]
            self.client = DockerClient(self.sock)
            if not self.client.ping():
                pytest.fail(f"no Docker Engine answers at {ext}")
            return
        self.started = True
        # Short: containerd's socket lives under the exec root (108 bytes).
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="wdk-", dir="/tmp"))
        self.sock = str(self.dir / "docker.sock")
        self.client = DockerClient(self.sock)
        self.bridge = f"wbr{os.getpid() % 1000000}"
        self.log_path = self.dir / "dockerd.log"
        try:
            self._make_bridge()
            self.ca = CertAuthority(self.dir / "tls")
            self.server = self.ca.issue("server", "serverAuth", "IP:127.0.0.1,DNS:localhost")
            self.tls_client = self.ca.issue("client", "clientAuth")
            self.tls_port = free_port()
            self.tls_host = f"tcp://127.0.0.1:{self.tls_port}"
            (self.dir / "daemon.json").write_text("{}\n")
            self.start()
        except BaseException:
            self.close()   # no fixture will: the daemon and bridge go now
            raise

    @property
    def host(self):
        return f"unix://{self.sock}"

    def _make_bridge(self):
        # Test runs side by side must not pick the same subnet.
        with open("/tmp/warren-test-bridges.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = _ip("-o", "-4", "addr").stdout
            for n in range(40, 250):
                net = f"10.231.{n}."
                if net not in used:
                    break
            else:
                pytest.fail("no free 10.231.N.0/24 subnet for the test bridge")
            _ip("link", "del", self.bridge)
            for args in (("link", "add", self.bridge, "type", "bridge"),
                         ("addr", "add", f"{net}1/24", "dev", self.bridge),
                         ("link", "set", self.bridge, "up")):
                r = _ip(*args)
                if r.returncode != 0:
                    pytest.fail(f"ip {' '.join(args)}: {r.stderr}")

    def start(self):
        assert self.started, "an external Docker Engine is not ours to start"
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [DOCKERD, "--host", self.host, "--host", self.tls_host, "--tlsverify",
             "--tlscacert", str(self.ca.cert), "--tlscert", str(self.server[0]),
             "--tlskey", str(self.server[1]), "--data-root", str(self.dir / "data"),
             "--exec-root", str(self.dir / "x"), "--pidfile", str(self.dir / "docker.pid"),
             "--config-file", str(self.dir / "daemon.json"), "--bridge", self.bridge,
             "--iptables=false", "--ip-masq=false", "--cgroup-parent", "/warren-test",
             "--shutdown-timeout", "5"],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file,
            start_new_session=True,
        )

        def up():
            if self.proc.poll() is not None:
                pytest.fail(f"dockerd exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            return self.client.ping(timeout=1) and port_answers(self.tls_port)

        wait_for(up, 60, interval=0.05, what="dockerd to answer")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def stop(self, timeout=60):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.log_file:
            self.log_file.close()
            self.log_file = None
        self.unmount_leftovers()

    def unmount_leftovers(self):
        """dockerd 20.10 can end its shutdown before it has unmounted the
        root file system of a container it stopped on the way (moby#40344).
        The next start of that container mounts it a second time, and its
        removal then fails for good ("device or resource busy").  With the
        daemon gone nothing may stay mounted under its data root: what
        does is unmounted here, as an operator or a reboot would."""
        root = str(self.dir / "data") + "/"
        with open("/proc/self/mounts") as f:
            left = [l.split()[1] for l in f if l.split()[1].startswith(root)]
        for m in sorted(left, key=len, reverse=True):
            subprocess.run(["umount", m], capture_output=True, timeout=30)
        if left:
            print(f"dockerd left {len(left)} mounts under its data root: unmounted")

    def restart(self):
        self.stop()
        self.start()

    def close(self):
        if not self.started:
            return
        try:
            if self.proc is not None and self.proc.poll() is None:
                try:
                    self.client.cleanup_warren()
                except Exception:  # noqa: BLE001 - best effort before stopping
                    pass
            self.stop()
        finally:
            # Mounts left under our directories (network namespaces, a
            # daemon that died) would stop rmtree: undo them first.
            with open("/proc/self/mounts") as f:
                mounts = [l.split()[1] for l in f if l.split()[1].startswith(str(self.dir))]
            for m in sorted(mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True, timeout=30)
            self._release_network()
            shutil.rmtree(self.dir, ignore_errors=True)

    def _release_network(self):
        _ip("link", "del", self.bridge)


class NetnsDockerd(Dockerd):
    """A Docker Engine with its packet filter on, as a production host has
    it, in a network namespace of its own: its iptables rules live in that
    namespace, never the machine's.  A second namespace, "outside", stands
    for the world beyond the host: a veth pair joins them, the engine's
    namespace routes through it, and outside answers at `outside_addr`.
    Processes that must be on the engine's host (the reconciler, whose
    readiness probe connects to 127.0.0.1) run with `prefix`.  No TLS."""

    def __init__(self):
        self.proc = None
        self.log_file = None
        self.tls_host = self.ca = self.server = self.tls_client = None
        self.started = True
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="wdn-", dir="/tmp"))
        self.netns = self.outside = None
        self.sock = str(self.dir / "docker.sock")
        self.client = DockerClient(self.sock)
        self.log_path = self.dir / "dockerd.log"
        n = os.getpid() % 100000
        self.netns, self.outside = f"wdn{n}", f"wdo{n}"
        # nsenter, not "ip netns exec": that one remounts /sys, where
        # dockerd would find no cgroups.
        self.prefix = ["nsenter", f"--net=/run/netns/{self.netns}", "--"]
        self.bridge = None
        try:
            self._make_namespaces(n)
            (self.dir / "daemon.json").write_text("{}\n")
            self.start()
        except BaseException:
            self.close()
            raise

    def _make_namespaces(self, n):
        third = 10 + n % 200
        self.host_addr = f"10.123.{third}.1"
        self.outside_addr = f"10.123.{third}.2"
        for ns in (self.netns, self.outside):
            _ip("netns", "del", ns)
        steps = [
            ("netns", "add", self.netns), ("netns", "add", self.outside),
            ("link", "add", f"vh{n}", "type", "veth", "peer", "name", f"vo{n}"),
            ("link", "set", f"vh{n}", "netns", self.netns),
            ("link", "set", f"vo{n}", "netns", self.outside),
            ("-n", self.netns, "addr", "add", f"{self.host_addr}/24", "dev", f"vh{n}"),
            ("-n", self.outside, "addr", "add", f"{self.outside_addr}/24", "dev", f"vo{n}"),
            ("-n", self.netns, "link", "set", f"vh{n}", "up"),
            ("-n", self.outside, "link", "set", f"vo{n}", "up"),
            ("-n", self.netns, "link", "set", "lo", "up"),
            ("-n", self.outside, "link", "set", "lo", "up"),
            ("-n", self.netns, "route", "add", "default", "via", self.outside_addr),
        ]
        for args in steps:
            r = _ip(*args)
            if r.returncode != 0:
                pytest.fail(f"ip {' '.join(args)}: {r.stderr}")

    def start(self):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.prefix, DOCKERD, "--host", self.host, "--data-root", str(self.dir / "data"),
             "--exec-root", str(self.dir / "x"), "--pidfile", str(self.dir / "docker.pid"),
             "--config-file", str(self.dir / "daemon.json"), "--cgroup-parent", "/warren-test",
             "--shutdown-timeout", "5"],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file,
            start_new_session=True,
        )

        def up():
            if self.proc.poll() is not None:
                pytest.fail(f"dockerd exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            return self.client.ping(timeout=1)

        wait_for(up, 60, interval=0.05, what="the namespace's dockerd to answer")

    def run(self, *cmd, where=None, **kw):
        """A command in the engine's namespace (or another)."""
        ns = where or self.netns
        return subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "--", *cmd],
                              capture_output=True, text=True, timeout=60, **kw)

    def _release_network(self):
        for ns in (self.netns, self.outside):
            if ns:
                _ip("netns", "del", ns)


# ------------------------------------------------------------- database


class Db:
    """Superuser access to a stack's database over the cluster's socket,
    autocommit; reconnects after PostgreSQL restarts."""

    def __init__(self, w):
        self.w = w
        self.conn = None

    def _connect(self):
        self.conn = psycopg2.connect(host=f"{self.w.pg.root}/sock", port=self.w.pg.port,
                                     user="postgres", dbname=self.w.db, connect_timeout=5)
        self.conn.autocommit = True

    def _run(self, sql, args, fetch):
        for attempt in range(2):
            try:
                if self.conn is None or self.conn.closed:
                    self._connect()
                with self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    cur.execute(sql, args)
                    return fetch(cur) if cur.description else None
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self.close()
                if attempt:
                    raise
        return None

    def all(self, sql, *args):
        return self._run(sql, args, lambda c: [dict(r) for r in c.fetchall()])

    def one(self, sql, *args):
        rows = self.all(sql, *args)
        return rows[0] if rows else None

    def value(self, sql, *args):
        row = self.one(sql, *args)
        return next(iter(row.values())) if row else None

    def exec(self, sql, *args):
        self._run(sql, args, lambda c: None)

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass
        self.conn = None


# ----------------------------------------------------------- reconciler


_recon_counter = [0]


class Reconciler:
    """./warren-reconciler -c FILE, where FILE is the stack's configuration
    with the reconciler's keys added (docker_host, metrics file, ...) and
    stderr goes to a log file of its own."""

    def __init__(self, w, docker_host, prefix=(), **conf):
        _recon_counter[0] += 1
        self.prefix = list(prefix)
        self.n = _recon_counter[0]
        self.w = w
        self.conf = dict(w.conf)
        self.conf.update({
            "docker_host": docker_host,
            "docker_publish_address": "127.0.0.1",
            "docker_timeout": 30000,
            "reconciler_host_name": "local",
            "reconciler_resync": 30,
            "reconciler_threads": 4,
            "reconciler_metrics_file": str(w.dir / f"recon-{self.n}.prom"),
            "log_level": "info",
        })
        self.conf.update(conf)
        self.conf_path = w.dir / f"recon-{self.n}.conf"
        from conftest import conf_text
        self.conf_path.write_text(conf_text(self.conf))
        self.log_path = w.dir / f"recon-{self.n}.log"
        self.metrics_path = pathlib.Path(self.conf["reconciler_metrics_file"])
        self.proc = None
        self.log_file = None

    def start(self, *args, wait_active=True):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.prefix, str(RECON_BIN), "-c", str(self.conf_path), *args],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file,
            start_new_session=True,
        )
        if wait_active:
            self.wait_log("active reconciler", START_TIMEOUT)
            # The metrics file is written at the end of each full pass:
            # once it is there, the first pass is over.
            wait_for(lambda: self.metrics_path.exists() or not self.running(), START_TIMEOUT,
                     interval=0.01, what="the reconciler's first full pass")
        return self

    def run_once(self, timeout=120):
        """--once: returns the exit status after it has exited."""
        self.start("--once", wait_active=False)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            pytest.fail(f"warren-reconciler --once still running after {timeout} s:\n"
                        f"{self.log()[-3000:]}")

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout, since=0):
        rx = re.compile(pattern)

        def seen():
            text = self.log()[since:]
            if rx.search(text):
                return True
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"warren-reconciler exited with {self.proc.returncode} before "
                            f"logging {pattern!r}:\n{self.log()[-3000:]}")
            return False

        wait_for(seen, timeout, interval=0.02, what=f"reconciler log {pattern!r}")

    def kill(self, sig=signal.SIGKILL):
        if self.running():
            os.kill(self.proc.pid, sig)
            if sig == signal.SIGKILL:
                self.proc.wait(timeout=10)

    def terminate(self, timeout=30):
        """SIGTERM; the exit status (fails when it does not exit in time)."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            pytest.fail(f"warren-reconciler did not exit within {timeout} s of SIGTERM")

    def metrics_text(self):
        try:
            return self.metrics_path.read_text()
        except FileNotFoundError:
            return ""

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def close(self):
        """Stops it; returns sanitizer findings (empty when clean)."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self.log_file:
            self.log_file.close()
            self.log_file = None
        found = sanitizer_reports(self.log())
        return f"sanitizer report in {self.log_path}: {found}" if found else ""


# ------------------------------------------------------ fault injection


class DockerRelay:
    """A unix socket in front of the Docker socket that relays bytes both
    ways and can stop a chosen Docker call in its tracks.

    Every request is recorded as (method, path).  A trap (method, path,
    occurrence, phase) fires on that request: phase "request" holds
    it before Docker sees it; phase "answer" lets Docker act and holds the
    answer, so that Docker has done the step and the caller has not heard.
    `fired` is set when the trap fires; held connections stay silent until
    the caller dies or close() is called.  Nothing is mocked: Docker does
    all the work."""

    def __init__(self, target_sock, path):
        self.target = target_sock
        self.path = str(path)
        self.calls = []
        self.lock = threading.Lock()
        self.trap = None
        self.fired = threading.Event()
        self.fired_call = None
        self.closing = threading.Event()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.srv.bind(self.path)
        self.srv.listen(64)
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self):
        return f"unix://{self.path}"

    def arm(self, method, path, occurrence=1, phase="request"):
        """Traps the occurrence-th request `method path` (path without the
        API version prefix)."""
        with self.lock:
            self.fired.clear()
            self.fired_call = None
            self.trap = {"method": method, "path": path, "left": occurrence, "phase": phase}

    def disarm(self):
        with self.lock:
            self.trap = None

    def reset_calls(self):
        with self.lock:
            self.calls = []

    def _accept(self):
        while not self.closing.is_set():
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            try:
                u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                u.connect(self.target)
            except OSError:
                c.close()
                continue
            state = {"hold_answer": False, "held": False}
            with self.lock:
                self.conns.append((c, u))
            threading.Thread(target=self._up, args=(c, u, state), daemon=True).start()
            threading.Thread(target=self._down, args=(c, u, state), daemon=True).start()

    def _match(self, method, path):
        """Called with the lock held for each request."""
        t = self.trap
        if t is None or t["method"] != method or path != t["path"]:
            return None
        t["left"] -= 1
        if t["left"] > 0:
            return None
        self.trap = None
        return t["phase"]

    def _hold(self, c, u, state, call):
        state["held"] = True
        self.fired_call = call
        self.fired.set()
        # Until the caller is killed (its end closes) or we are closed.
        c.settimeout(0.05)
        while not self.closing.is_set():
            try:
                if c.recv(65536) == b"":
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        for s in (c, u):
            try:
                s.close()
            except OSError:
                pass

    def _up(self, c, u, state):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = c.recv(65536)
                    if not data:
                        raise EOFError
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                path = re.sub(r"^/v1\.\d+", "", target)
                length = 0
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v.strip())
                with self.lock:
                    self.calls.append((method, path))
                    phase = self._match(method, path)
                if phase == "request":
                    self._hold(c, u, state, (method, path, "request"))
                    return
                u.sendall(head + b"\r\n\r\n")
                while len(buf) < length:
                    data = c.recv(65536)
                    if not data:
                        raise EOFError
                    buf += data
                u.sendall(buf[:length])
                buf = buf[length:]
                if phase == "answer":
                    state["hold_answer"] = (method, path, "answer")
        except (EOFError, OSError):
            pass
        finally:
            if not state["held"]:
                for s in (u,):
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

    def _down(self, c, u, state):
        try:
            while True:
                data = u.recv(65536)
                if not data:
                    break
                if state["hold_answer"]:
                    self._hold(c, u, state, state["hold_answer"])
                    return
                c.sendall(data)
        except OSError:
            pass
        finally:
            if not state["held"]:
                try:
                    c.close()
                except OSError:
                    pass

    def close(self):
        self.closing.set()
        try:
            self.srv.close()
        except OSError:
            pass
        with self.lock:
            for c, u in self.conns:
                for s in (c, u):
                    try:
                        s.close()
                    except OSError:
                        pass
        try:
            os.unlink(self.path)
        except OSError:
            pass


# ------------------------------------------------------------ probing


def http_get(port, path="/", timeout=2):
    """GET http://127.0.0.1:port/path; (status, body) or None."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        conn.close()


def port_answers(port, timeout=0.5):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- stacks

from conftest import CTL_BIN, Warren  # noqa: E402
from identity_util import User, call, sign_in, unique  # noqa: E402

API = "/api/v1"
STACK_CONF = {
    "public_url": "http://warren.test",
    "base_domain": "ws.warren.test",
    "workers": 3,
    "access_token_ttl": 900,
    "login_failures_per_address": 100000,
    "login_failures_per_account": 100000,
    "token_rate_limit": 1000000,
    "max_concurrent_hashes": 2,
    "docker_publish_address": "127.0.0.1",
    "reconciler_host_name": "local",
}
TERMINAL = ("succeeded", "failed", "canceled")


def version_spec(**over):
    """A template version running busybox httpd on 8080 as 1000:1000."""
    spec = {
        "image": IMAGE,
        "command": HTTPD_CMD,
        "env": {"LANG": "C"},
        "ports": [{"port": 8080, "name": "web", "protocol": "http"}],
        "cpu_millis": 500,
        "memory_mb": 64,
        "pids": 64,
        "home_path": "/home/dev",
        "uid": 1000,
        "gid": 1000,
        "probe": {"type": "http", "port": 8080, "path": "/", "timeout": 30},
        "idle_timeout": 3600,
        "max_lifetime": 86400,
    }
    for k, v in over.items():
        if v is None:
            spec.pop(k, None)
        else:
            spec[k] = v
    return spec


class Stack:
    """A Warren (warren-api behind nginx, its own database) for the
    reconciler tests, an admin signed in through the API, direct database
    access, and the reconcilers a test starts (killed at cleanup)."""

    def __init__(self, pg, workdir, dockerd, **conf):
        c = dict(STACK_CONF)
        c["docker_host"] = dockerd.host
        c["secret_key_file"] = str(pathlib.Path(workdir) / "secret.key")
        c.update(conf)
        self.dockerd = dockerd
        self.docker = dockerd.client
        self.w = Warren(pg, workdir, pg.create_db(unique("rec_")), **c)
        self.db = Db(self.w)
        self.recons = []
        name = unique("root")
        r = subprocess.run([str(CTL_BIN), "-c", str(self.w.conf_path), "user", "add", name,
                            "--admin", "--password-stdin"], input="root-password-123\n",
                           capture_output=True, text=True, env=self.w.env, timeout=60)
        assert r.returncode == 0, f"warrenctl user add: {r.stdout}{r.stderr}"
        self.admin_user = User(name, re.search(r"\(([0-9a-f-]{36})\)", r.stdout).group(1),
                               "root-password-123", "admin")
        self.token = sign_in(self.w, self.admin_user)["access_token"]

    @property
    def instance(self):
        """This installation's id, as its Docker objects are labelled."""
        return self.db.value("SELECT instance_id::text FROM instance")

    def labels(self, ws_id):
        """The labels of a Docker object of this installation."""
        return {"warren.managed": "true", "warren.workspace": ws_id,
                "warren.instance": self.instance}

    # processes

    def reconciler(self, docker_host=None, **conf):
        # On the engine's host: in its network namespace, if it has one.
        r = Reconciler(self.w, docker_host or self.dockerd.host,
                       prefix=getattr(self.dockerd, "prefix", ()), **conf)
        self.recons.append(r)
        return r

    def once(self, timeout=120, **conf):
        """One `--once` pass; fails unless it exits 0."""
        r = self.reconciler(**conf)
        rc = r.run_once(timeout)
        assert rc == 0, f"--once exited {rc}:\n{r.log()[-3000:]}"
        return r

    # API

    def api(self, method, path, status=None, **kwargs):
        r = call(self.w, method, path, self.token, **kwargs)
        if status is not None:
            assert r.status_code == status, (method, path, r.status_code, r.text[:800])
        return r

    def template(self, **version):
        name = unique("tpl-")
        r = self.api("POST", "/templates", 201,
                     json={"name": name, "version": version_spec(**version)})
        return r.json()

    def add_version(self, tpl_id, activate=False, **version):
        body = version_spec(**version)
        if activate:
            body["activate"] = True
        return self.api("POST", f"/templates/{tpl_id}/versions", 201, json=body).json()

    def alter_version(self, tpl_id, column, value):
        """Changes a template's versions in the database, past their
        immutability trigger: a template an older Warren accepted."""
        assert re.fullmatch(r"[a-z_]+", column), column
        self.db.exec("SET session_replication_role = replica;"
                     f" UPDATE template_versions SET {column} = %s WHERE template_id = %s;"
                     " SET session_replication_role = DEFAULT", value, tpl_id)

    def workspace(self, template, **body):
        """POST /workspaces (which starts it unless start=false)."""
        body.setdefault("name", unique("ws-"))
        body.setdefault("template", template["id"] if isinstance(template, dict) else template)
        return self.api("POST", "/workspaces", 201, json=body).json()

    def build(self, ws, transition, **body):
        body["transition"] = transition
        return self.api("POST", f"/workspaces/{ws['id']}/builds", 201, json=body).json()

    def get_build(self, build_id):
        return self.api("GET", f"/builds/{build_id}", 200).json()

    def logs(self, build_id):
        return self.api("GET", f"/builds/{build_id}/logs?limit=1000", 200).json()["items"]

    def latest_build(self, ws):
        return self.db.one("SELECT * FROM workspace_builds WHERE workspace_id = %s"
                           " ORDER BY number DESC LIMIT 1", ws["id"])

    def wait_build(self, build_id, timeout=60, status=None):
        """Waits for the build to end; its row.  With status: asserts it."""
        def done():
            row = self.db.one("SELECT * FROM workspace_builds WHERE id = %s", build_id)
            return row if row and row["status"] in TERMINAL else None

        row = wait_for(done, timeout, interval=0.02, what=f"build {build_id} to end")
        if status is not None:
            assert row["status"] == status, (row, self.log_lines(build_id))
        return row

    def log_lines(self, build_id):
        return [r["line"] for r in self.db.all(
            "SELECT line FROM build_logs WHERE build_id = %s ORDER BY seq", build_id)]

    # Docker

    @staticmethod
    def cname(ws):
        return f"warren-{ws['short_id']}"

    @staticmethod
    def vname(ws):
        return f"warren-{ws['short_id']}-home"

    def containers_of(self, ws):
        return self.docker.warren_containers(ws["id"])

    def port_of(self, ws, port=8080):
        return self.docker.host_port(self.cname(ws), port)

    def serves(self, ws, text=None):
        p = self.port_of(ws)
        got = http_get(p) if p else None
        return got is not None and got[0] == 200 and (text is None or text in got[1])

    # cleanup

    def reset(self):
        """Stops reconcilers; forgets every workspace and removes what
        Docker has of them, so the next test starts from nothing."""
        errors = [e for e in (r.close() for r in self.recons) if e]
        self.recons = []
        try:
            self.db.exec("UPDATE workspace_builds SET status = 'canceled', completed_at = now()"
                         " WHERE status IN ('pending', 'running')")
            self.db.exec("UPDATE workspaces SET deleted_at = now(), desired_state = 'deleted'"
                         " WHERE deleted_at IS NULL")
            self.db.exec("DELETE FROM deployments")
        finally:
            if self.dockerd.proc is None or self.dockerd.proc.poll() is None:
                try:
                    self.docker.cleanup_warren()
                except DockerError as e:
                    log = self.dockerd.log()[-4000:]
                    if self.dockerd.started:
                        # This test fails; the next ones get a clean engine.
                        self.dockerd.restart()
                        self.docker.cleanup_warren()
                    raise DockerError(f"{e}\ndockerd's log ends:\n{log}")
        return errors

    def close(self):
        try:
            errors = self.reset()
        finally:
            # The API and nginx go even when the clean-up failed.
            self.db.close()
            e = self.w.close()
        if e:
            errors.append(e)
        return errors


# ------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def dockerd():
    d = Dockerd()
    try:
        yield d
    finally:
        d.close()


@pytest.fixture(scope="session")
def images(dockerd):
    """The test images, rebuilt in this engine; the missing one removed."""
    out = {
        IMAGE: build_image(dockerd.client, IMAGE, "warren v1\n"),
        IMAGE2: build_image(dockerd.client, IMAGE2, "warren v2\n"),
    }
    dockerd.client.remove_image(MISSING_IMAGE)
    return out


@pytest.fixture(scope="module")
def stack(pg, tmp_path_factory, dockerd, images):
    s = Stack(pg, tmp_path_factory.mktemp("recon"), dockerd)
    yield s
    errors = s.close()
    if errors:
        pytest.fail("\n".join(errors))


@pytest.fixture
def st(stack):
    """The module's stack, emptied after each test."""
    yield stack
    errors = stack.reset()
    if errors:
        pytest.fail("\n".join(errors))


@pytest.fixture(scope="module")
def netns_engine():
    """A Docker Engine as on a production host (NetnsDockerd), with the
    test image, for the module."""
    d = NetnsDockerd()
    try:
        build_image(d.client, IMAGE, "warren v1\n")
        yield d
    finally:
        d.close()


@pytest.fixture
def netns_stack(pg, tmp_path, netns_engine):
    """A Stack of its own on netns_engine, closed after the test."""
    s = Stack(pg, tmp_path / "netns", netns_engine)
    yield s
    errors = s.close()
    if errors:
        pytest.fail("\n".join(errors))
