"""Integration harness: real PostgreSQL, warren-api and nginx on loopback.

Services start from temporary directories and stop at teardown.  The nginx
configuration is the shipped etc/nginx/warren.conf, and the PostgreSQL
cluster is made by the same shell functions as tools/stack (tools/lib.sh).
Binaries come from $WARREN_BUILD_DIR (default: the top of the repository).
A service that cannot start fails the test; nothing is skipped.
"""

import atexit
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

TOP = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("WARREN_BUILD_DIR", str(TOP))).resolve()
LIB = TOP / "tools" / "lib.sh"
API_BIN = BUILD / "warren-api"
CTL_BIN = BUILD / "warrenctl"
SAMPLE_CONF = TOP / "etc" / "warren.conf.sample"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
# Sanitized binaries start slower; every wait below is bounded by this.
START_TIMEOUT = 20.0
HTTP_TIMEOUT = 10.0

# The configuration keys this tree knows, from the sample that documents them.
SAMPLE_KEYS = set(re.findall(r"^#?\s*([a-z_]+)\s*=", SAMPLE_CONF.read_text(), re.M))
# Key files that "warrenctl keys init" creates (jwt_key_file, ... in later
# issues): key -> file name of its default path.
KEY_FILES = {
    k: os.path.basename(v.strip('"'))
    for k, v in re.findall(r"^#?\s*([a-z_]+_key_file)\s*=\s*(\S+)", SAMPLE_CONF.read_text(), re.M)
}

PROBLEM_KEYS = {"type", "title", "status", "detail", "request_id"}
# Things that must never reach a client: source locations, file paths,
# libpq and json-c texts, addresses of the services behind warren-api.
INTERNAL_DETAIL = re.compile(
    r"\.c:\d+|/tmp/|/run/|/usr/|" + re.escape(str(TOP)) + r"|\.sock|SQLSTATE|PGRES|libpq|"
    r"connection to server|could not connect|json_tokener|errno|"
    r"0x[0-9a-fA-F]{6,}|\b127\.0\.0\.1\b|port \d+",
    re.I,
)
REQUEST_ID_GENERATED = re.compile(r"^[0-9a-fA-F]{32}$")


# ---------------------------------------------------------------- helpers


def lib(func, *args, check=True, timeout=120, **kwargs):
    """Runs a function of tools/lib.sh."""
    return subprocess.run(
        ["bash", "-c", '. "$0"; "$@"', str(LIB), func, *map(str, args)],
        check=check,
        timeout=timeout,
        capture_output=True,
        text=True,
        **kwargs,
    )


_ports_given = set()


def free_port():
    """A free TCP port on 127.0.0.1, never the same one twice in a run."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    """Polls predicate until it returns a true value; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def proc_stat(pid):
    """(state, ppid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(b")") + 2 :].split()
    return rest[0].decode(), int(rest[1])


def children(pid):
    """Live (non-zombie) child pids of pid, sorted."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[1] == pid and st[0] != "Z":
            out.append(int(name))
    return sorted(out)


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def sanitizer_reports(text):
    return [m for m in SANITIZER_MARKS if m in text]


def parse_metrics(text):
    """Prometheus text format -> {(name, frozenset(labels)): value}."""
    samples = {}
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$", line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = frozenset(label_re.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def metric(samples, name, **labels):
    """Sum of the samples of name whose labels include the given ones."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def assert_problem(resp, status):
    """resp is an RFC 9457 problem from warren-api with no internal detail."""
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/problem+json", ctype
    body = resp.json()
    assert isinstance(body, dict), body
    assert set(body) <= PROBLEM_KEYS, f"unexpected keys {set(body) - PROBLEM_KEYS}"
    for key in ("type", "title", "status", "request_id"):
        assert key in body, f"problem lacks {key}: {body}"
    assert body["status"] == status, body
    assert isinstance(body["title"], str) and body["title"], body
    assert body["request_id"] == resp.headers.get("X-Request-Id"), body
    for key, value in body.items():
        if isinstance(value, str):
            assert not INTERNAL_DETAIL.search(value), f"internal detail in {key}: {value!r}"
    return body


# --------------------------------------------------------------- services


class Postgres:
    """A private cluster owned by the postgres user (initdb refuses root)."""

    def __init__(self):
        # pytest's tmp dirs are 0700 root: the postgres user needs its own.
        self.root = tempfile.mkdtemp(prefix="warren-pg-", dir="/tmp")
        os.chmod(self.root, 0o755)
        self.port = free_port()
        r = lib("warren_pg_init", self.root, self.port, "fast", check=False)
        if r.returncode != 0:
            pytest.fail(f"initdb failed: {r.stdout}{r.stderr}")
        self.start()
        self.psql("postgres", "CREATE ROLE warren LOGIN")

    def start(self):
        r = lib("warren_pg_start", self.root, check=False)
        if r.returncode != 0:
            pytest.fail(f"PostgreSQL did not start: {r.stdout}{r.stderr}")

    def stop(self):
        r = lib("warren_pg_stop", self.root, check=False)
        assert r.returncode == 0, f"PostgreSQL did not stop: {r.stdout}{r.stderr}"

    def running(self):
        return lib("warren_pg_running", self.root, check=False).returncode == 0

    def psql(self, db, sql):
        r = lib("warren_pg_psql", self.root, self.port, db, "-At", "-c", sql, check=False)
        assert r.returncode == 0, f"psql {sql!r}: {r.stderr}"
        return r.stdout.strip()

    def create_db(self, name):
        self.psql("postgres", f'CREATE DATABASE "{name}" OWNER warren')
        return name

    def conninfo(self, db):
        return f"host={self.root}/sock port={self.port} dbname={db} user=warren"

    def close(self):
        try:
            if self.running():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def conf_text(conf):
    lines = ["# written by tests/integration/conftest.py"]
    for key, value in conf.items():
        if isinstance(value, str) and (" " in value or "=" in value or value == ""):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def run_ctl(*args, env=None, timeout=60):
    """warrenctl, with its output checked for sanitizer reports."""
    r = subprocess.run(
        [str(CTL_BIN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    found = sanitizer_reports(r.stdout + r.stderr)
    assert not found, f"sanitizer report from warrenctl {args}: {r.stderr}"
    return r


_keys_file = []


def base_env(**extra):
    """The environment for warren-api and warrenctl run outside a stack:
    no WARREN_* variable of the caller's, plus signing keys when this tree
    has them (a later issue's jwt_key_file), so that -n can pass."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARREN_")}
    if KEY_FILES:
        if not _keys_file:
            d = tempfile.mkdtemp(prefix="warren-keys-")
            atexit.register(shutil.rmtree, d, True)
            conf = pathlib.Path(d) / "keys.conf"
            conf.write_text(conf_text({k: f"{d}/{f}" for k, f in KEY_FILES.items()}))
            r = run_ctl("-c", conf, "keys", "init", env=env)
            assert r.returncode == 0, r.stderr
            _keys_file.append(d)
        for k, f in KEY_FILES.items():
            env[f"WARREN_{k.upper()}"] = f"{_keys_file[0]}/{f}"
    env.update(extra)
    return env


class Warren:
    """warren-api (unix socket, TCP or inherited socket) behind nginx."""

    def __init__(self, pg, workdir, db, listen="unix", env=None, migrate=True, **conf):
        self.pg = pg
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = db
        self.mode = listen
        self.sock = str(self.dir / "api.sock")
        self.tcp_port = free_port() if listen == "tcp" else None
        self.conf_path = self.dir / "warren.conf"
        self.log_path = self.dir / "warren-api.log"
        self.nginx_dir = self.dir / "nginx"
        self.http_port = free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        # Only the WARREN_<KEY> overrides a test asks for reach warren-api.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WARREN_")}
        self.env.update(env or {})
        self.proc = None
        self.log_file = None
        self.nginx_up = False
        self.ctl_output = ""
        if listen == "unix":
            api_listen, self.upstream = self.sock, f"unix:{self.sock}"
        elif listen == "tcp":
            api_listen = f"127.0.0.1:{self.tcp_port}"
            self.upstream = api_listen
        elif listen == "inherit":
            api_listen, self.upstream = "inherit", f"unix:{self.sock}"
        else:
            raise ValueError(listen)
        self.conf = {
            "listen": api_listen,
            "workers": 3,
            "max_requests": 10000,
            "shutdown_grace": 5,
            "max_body_size": "1m",
            "db_conninfo": pg.conninfo(db),
            "db_connect_timeout": 1000,
            "db_query_timeout": 5000,
            "log_level": "info",
            "access_log": "yes",
            # The tree's image recipes, not an installed copy.
            "image_recipes_dir": str(TOP / "images"),
        }
        # Later issues sign and encrypt: each stack gets its own keys.
        for key, name in KEY_FILES.items():
            self.conf[key] = str(self.dir / name)
        self.conf.update(conf)
        self.write_conf()
        try:
            if KEY_FILES:
                r = self.ctl("keys", "init")
                assert r.returncode == 0, f"warrenctl keys init: {r.stderr}"
            if migrate:
                self.migrate()
            self.start_api()
            self.start_nginx()
            self.wait_healthy()
        except BaseException:
            self.close()
            raise

    # configuration and migrations

    def write_conf(self, conf=None):
        self.conf_path.write_text(conf_text(self.conf if conf is None else conf))

    def ctl(self, *args, **kwargs):
        r = run_ctl("-c", self.conf_path, *args, env=self.env, **kwargs)
        self.ctl_output += r.stdout + r.stderr
        return r

    def migrate(self):
        r = self.ctl("migrate")
        assert r.returncode == 0, f"warrenctl migrate failed: {r.stdout}{r.stderr}"

    # warren-api

    def start_api(self, remove_socket=True):
        if remove_socket and self.mode != "tcp" and os.path.exists(self.sock):
            os.unlink(self.sock)
        cmd = [str(API_BIN), "-c", str(self.conf_path)]
        if self.mode == "inherit":
            cmd = ["spawn-fcgi", "-n", "-s", self.sock, "--", *cmd]
        if self.log_file:
            self.log_file.close()
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=self.log_file,
            env=self.env,
            start_new_session=True,
        )
        wait_for(self._api_listening, START_TIMEOUT, what="warren-api to listen")
        expect = int(self.env.get("WARREN_WORKERS", self.conf["workers"]))
        wait_for(
            lambda: len(self.workers()) == expect or self._api_dead(),
            START_TIMEOUT,
            what="warren-api workers",
        )
        self._api_dead()

    def _api_dead(self):
        if self.proc.poll() is not None:
            pytest.fail(f"warren-api exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
        return False

    def _api_listening(self):
        self._api_dead()
        if self.mode == "tcp":
            addr, family = ("127.0.0.1", self.tcp_port), socket.AF_INET
        else:
            addr, family = self.sock, socket.AF_UNIX
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(addr)
            return True
        except OSError:
            return False

    @property
    def master(self):
        return self.proc.pid

    def workers(self):
        return children(self.master)

    def wait_workers(self, count, exclude=(), timeout=5.0):
        """Waits for exactly count workers, none of them in exclude."""
        exclude = set(exclude)

        def ok():
            w = self.workers()
            return w if len(w) == count and not exclude & set(w) else None

        return wait_for(ok, timeout, interval=0.01, what=f"{count} new workers")

    def log(self):
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        return self.log_path.stat().st_size

    def log_since(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def reload(self, **changes):
        """Rewrites the configuration with changes and sends SIGHUP."""
        self.conf.update(changes)
        self.write_conf()
        os.kill(self.master, signal.SIGHUP)

    def stop_api(self, timeout=None):
        """SIGTERM; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.kill(self.master, signal.SIGTERM)
        timeout = timeout or int(self.conf["shutdown_grace"]) + 10
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.master, signal.SIGKILL)
            self.proc.wait(timeout=10)
            pytest.fail(f"warren-api did not exit within {timeout} s of SIGTERM")

    # nginx

    def start_nginx(self):
        r = lib(
            "warren_nginx_config", self.nginx_dir, self.http_port, self.upstream, TOP / "htdocs",
            check=False,
        )
        assert r.returncode == 0, f"nginx configuration: {r.stderr}"
        self.edit_site(self.nginx_dir / "site.conf")
        r = lib("warren_nginx", self.nginx_dir, check=False)
        if r.returncode != 0:
            pytest.fail(f"nginx did not start: {r.stderr}")
        self.nginx_up = True

        def listening():
            try:
                socket.create_connection(("127.0.0.1", self.http_port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_for(listening, START_TIMEOUT, what="nginx to listen")

    def edit_site(self, path):
        """For a subclass that runs the shipped site with a change."""

    def stop_nginx(self):
        if not self.nginx_up:
            return
        self.nginx_up = False
        pid_file = self.nginx_dir / "nginx.pid"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    # HTTP

    def url(self, path):
        return self.base + path

    def get(self, path, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return requests.get(self.url(path), **kwargs)

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return requests.request(method, self.url(path), **kwargs)

    def metrics(self):
        r = self.get("/metrics")
        assert r.status_code == 200, r.text[:300]
        return parse_metrics(r.text)

    def wait_healthy(self):
        def ok():
            try:
                return self.get("/api/v1/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(ok, START_TIMEOUT, interval=0.05, what="/api/v1/health through nginx")

    def close(self):
        """Stops everything; returns sanitizer findings (empty when clean)."""
        self.stop_nginx()
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.master, signal.SIGTERM)
            try:
                self.proc.wait(timeout=int(self.conf["shutdown_grace"]) + 10)
            except subprocess.TimeoutExpired:
                os.killpg(self.master, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.proc is not None:
            # Workers must not outlive their master.
            try:
                os.killpg(self.master, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.log_file:
            self.log_file.close()
            self.log_file = None
        text = self.log() + self.ctl_output
        found = sanitizer_reports(text)
        if found:
            idx = min(text.find(m) for m in found)
            return f"sanitizer report in {self.log_path}: {found}\n{text[max(0, idx - 200) : idx + 3000]}"
        return ""


class Load:
    """Bounded concurrent GET load: threads, each with its own session."""

    def __init__(self, url, threads=4, duration=3.0, max_requests=5000, check=None):
        self.url = url
        self.duration = duration
        self.max_requests = max_requests
        self.check = check or (lambda r: r.status_code == 200 and r.json().get("status") == "ok")
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []  # (time, description)
        self.statuses = {}
        self.count = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        deadline = time.monotonic() + self.duration
        with requests.Session() as s:
            while not self.stop.is_set() and time.monotonic() < deadline:
                with self.lock:
                    if self.count >= self.max_requests:
                        return
                    self.count += 1
                try:
                    r = s.get(self.url, timeout=HTTP_TIMEOUT)
                    good = self.check(r)
                    what = f"{r.status_code} {r.text[:100]!r}"
                    code = r.status_code
                except Exception as e:  # noqa: BLE001 - any failure counts
                    good, what, code = False, f"{type(e).__name__}: {e}", None
                with self.lock:
                    self.statuses[code] = self.statuses.get(code, 0) + 1
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append((time.monotonic(), what))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.finish()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=HTTP_TIMEOUT + 5)
        assert not any(t.is_alive() for t in self.threads), "load threads did not stop"

    def wait_until(self, n, timeout=10):
        wait_for(lambda: self.ok >= n, timeout, what=f"{n} successful requests under load")


# --------------------------------------------------------------- fixtures


def pytest_sessionstart(session):
    for path in (API_BIN, CTL_BIN):
        if not os.access(path, os.X_OK):
            raise pytest.UsageError(
                f"{path} is not built (set WARREN_BUILD_DIR or run make)"
            )


@pytest.fixture(scope="session")
def pg():
    cluster = Postgres()
    yield cluster
    cluster.close()


_db_counter = [0]


@pytest.fixture
def fresh_db(pg):
    """Makes new, empty databases: fresh_db() -> name."""

    def make():
        _db_counter[0] += 1
        return pg.create_db(f"t{os.getpid()}_{_db_counter[0]}")

    return make


@pytest.fixture
def make_warren(pg, tmp_path, fresh_db):
    """Factory for private stacks, stopped and checked at teardown."""
    stacks = []

    def make(db=None, **kwargs):
        w = Warren(pg, tmp_path / f"w{len(stacks)}", db or fresh_db(), **kwargs)
        stacks.append(w)
        return w

    yield make
    errors = [e for e in (w.close() for w in stacks) if e]
    if errors:
        pytest.fail("\n".join(errors))


@pytest.fixture(scope="session")
def warren(pg, tmp_path_factory):
    """The shared stack for tests that change nothing but counters."""
    pg.create_db("shared")
    w = Warren(pg, tmp_path_factory.mktemp("shared"), "shared")
    yield w
    error = w.close()
    if error:
        pytest.fail(error)
