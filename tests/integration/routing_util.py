"""Helpers for the routing tests (issue 6): workspace hosts through nginx,
a small browser with host-only cookies, a WebSocket client, the echo image
whose server answers with the request head it received, the Traefik lint
(python3-yaml + python3-jsonschema against the copies in tests/data/traefik/),
and a statement log of the stack's database.

Built on docker_util (issue 5): its private dockerd, Db and Reconciler.
Everything talks to 127.0.0.1 only: a workspace host is reached by sending
its name in the Host header to nginx, as `curl --resolve` would.
"""

import base64
import contextlib
import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import urllib.parse

import jsonschema
import pytest
import requests
import yaml

from conftest import CTL_BIN, HTTP_TIMEOUT, TOP, Warren, children, wait_for
from docker_util import STACK_CONF, Db, Stack, rootfs_tar, version_spec
from identity_util import User, api_user, call, sign_in, unique

BASE_DOMAIN = "warren.localhost"   # etc/nginx/warren.conf's server_name
API_HOST = BASE_DOMAIN
ECHO_IMAGE = "warren/routing-echo:1"
ECHO_CMD = ["/bin/wsecho", "8080", "8081"]
MAIN_PORT, ALT_PORT = 8080, 8081
PASSWORD = "routing-password-123"
SCHEMA_DIR = TOP / "tests" / "data" / "traefik"
# What a page of a workspace may send in its answer's headers to steer the
# proxy or pass as Warren (wsecho sends the X-Echo-Reply it is given).
STEERING = [
    "X-Accel-Redirect: /_warren/auth",
    "X-Accel-Redirect: /api/v1/me",
    "X-Accel-Buffering: yes",
    "X-Accel-Limit-Rate: 1",
    "X-Warren-Upstream: 10.0.0.1:22",
    "X-Warren-State: notfound",
    "X-Warren-Cookie: warren_ws=x",
]
SHORT_ID = re.compile(r"^[a-z2-7]{10}$")
CACHE_TTL = 1.0   # h_forward.c's per-worker answer cache


# ------------------------------------------------------------ the image


def build_wsecho(out_dir):
    """tests/integration/wsecho.c, linked statically (the image has no libc)."""
    src = pathlib.Path(__file__).resolve().parent / "wsecho.c"
    out = pathlib.Path(out_dir) / "wsecho"
    r = subprocess.run(["cc", "-static", "-pthread", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                        "-o", str(out), str(src)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"cc wsecho.c: {r.stderr}"
    return out.read_bytes()


def echo_rootfs(wsecho):
    """docker_util's busybox root file system plus /bin/wsecho."""
    buf = io.BytesIO(rootfs_tar("routing echo\n"))
    with tarfile.open(fileobj=buf, mode="a") as tar:
        ti = tarfile.TarInfo("bin/wsecho")
        ti.size, ti.mode = len(wsecho), 0o755
        tar.addfile(ti, io.BytesIO(wsecho))
    return buf.getvalue()


def build_echo_image(client, ref=ECHO_IMAGE):
    d = tempfile.mkdtemp(prefix="wsecho-")
    try:
        tar = echo_rootfs(build_wsecho(d))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    img = client.import_image(tar, ref, changes=[f"CMD {json.dumps(ECHO_CMD)}", "ENV PATH=/bin"])
    assert img is not None, f"image {ref} is not there after import"
    return img


def echo_spec(**over):
    """The echo server on 8080 (main) and 8081, shareable up to public."""
    over.setdefault("image", ECHO_IMAGE)
    over.setdefault("command", ECHO_CMD)
    over.setdefault("ports", [{"port": MAIN_PORT, "name": "web", "protocol": "http"},
                              {"port": ALT_PORT, "name": "alt", "protocol": "http"}])
    over.setdefault("max_share_level", "public")
    return version_spec(**over)


@pytest.fixture(scope="session")
def echo_image(dockerd):
    """The echo image, built in the tests' Docker Engine."""
    return build_echo_image(dockerd.client)


# ------------------------------------------------------------ the stack


@contextlib.contextmanager
def routing_stack(pg, workdir, dockerd, **conf):
    """A RoutingStack for a with block; its clean-up errors fail the test."""
    st = RoutingStack(pg, workdir, dockerd, **conf)
    try:
        yield st
    finally:
        errors = st.close()
        if errors:
            pytest.fail("\n".join(errors))


class RoutingStack(Stack):
    """docker_util's Stack with the routing configuration: base_domain
    warren.localhost (the shipped nginx server_name), a public URL on that
    domain, optionally every statement of its database in the PostgreSQL
    log (to count round trips)."""

    def __init__(self, pg, workdir, dockerd, log_statements=False, **conf):
        c = dict(STACK_CONF)
        c.update({
            "public_url": f"http://{API_HOST}",
            "base_domain": BASE_DOMAIN,
            "docker_host": dockerd.host,
            "secret_key_file": str(pathlib.Path(workdir) / "secret.key"),
            "workspace_admin_access": "no",
        })
        c.update(conf)
        self.dockerd = dockerd
        self.docker = dockerd.client
        self.pg = pg
        db = pg.create_db(unique("rt_"))
        if log_statements:
            pg.psql("postgres", f"ALTER DATABASE \"{db}\" SET log_statement = 'all'")
        self.w = Warren(pg, workdir, db, **c)
        self.db = Db(self.w)
        self.recons = []
        name = unique("root")
        r = subprocess.run([str(CTL_BIN), "-c", str(self.w.conf_path), "user", "add", name,
                            "--admin", "--password-stdin"], input=PASSWORD + "\n",
                           capture_output=True, text=True, env=self.w.env, timeout=60)
        assert r.returncode == 0, f"warrenctl user add: {r.stdout}{r.stderr}"
        self.admin_user = User(name, re.search(r"\(([0-9a-f-]{36})\)", r.stdout).group(1),
                               PASSWORD, "admin")
        self.token = sign_in(self.w, self.admin_user)["access_token"]

    @property
    def port(self):
        return self.w.http_port

    def user(self, prefix, role="member"):
        """A new user and its access token: (User, token)."""
        u = api_user(self.w, self.token, unique(prefix), role=role, password=PASSWORD)
        return u, sign_in(self.w, u)["access_token"]

    def as_user(self, token, method, path, status=None, **kwargs):
        r = call(self.w, method, path, token, **kwargs)
        if status is not None:
            assert r.status_code == status, (method, path, r.status_code, r.text[:800])
        return r

    def echo_template(self, **over):
        name = unique("tpl-")
        return self.api("POST", "/templates", 201,
                        json={"name": name, "version": echo_spec(**over)}).json()

    def share(self, token, ws, port, level):
        r = self.as_user(token, "PUT", f"/workspaces/{ws['id']}/ports/{port}", json={"level": level})
        assert r.status_code == 200, r.text
        return r.json()

    def unshare(self, token, ws, port):
        self.as_user(token, "DELETE", f"/workspaces/{ws['id']}/ports/{port}", 204)

    def status(self, ws):
        return self.db.value("SELECT status FROM workspace_states WHERE id = %s", ws["id"])

    def wait_status(self, ws, want, timeout=60):
        return wait_for(lambda: self.status(ws) == want, timeout, interval=0.05,
                        what=f"workspace {ws['short_id']} to be {want}")

    # nginx

    def nginx_pids(self):
        """(master, workers): a reload changes the workers."""
        master = int((self.w.nginx_dir / "nginx.pid").read_text())
        return master, tuple(children(master))

    def nginx_error_log(self):
        try:
            return (self.w.nginx_dir / "log" / "error.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # PostgreSQL statement log (log_statements=True)

    def pg_log_path(self):
        return pathlib.Path(self.pg.root) / "postgresql.log"

    def pg_log_offset(self):
        return self.pg_log_path().stat().st_size

    def api_backends(self):
        rows = self.db.all("SELECT pid FROM pg_stat_activity WHERE datname = %s"
                           " AND application_name = 'warren-api'", self.w.db)
        return {r["pid"] for r in rows}

    def api_statements(self, since):
        """Statements run by warren-api backends since the log offset."""
        pids = self.api_backends()
        with open(self.pg_log_path(), "rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        out = []
        for line in text.splitlines():
            m = re.match(r"^\S+ \S+ \S+ \[(\d+)\] LOG:  (execute \S+|statement): (.*)$", line)
            if m and int(m.group(1)) in pids:
                out.append((int(m.group(1)), m.group(2), m.group(3)[:120]))
        return out


# ------------------------------------------------------------- hosts


def host_of(ws, port=None):
    """<short-id>.<base_domain> or <short-id>-<port>.<base_domain>."""
    sid = ws["short_id"] if isinstance(ws, dict) else ws
    return f"{sid}.{BASE_DOMAIN}" if port is None else f"{sid}-{port}.{BASE_DOMAIN}"


def via_nginx(st, host, path="/", method="GET", token=None, cookies=None, accept="*/*",
              headers=None, **kwargs):
    """A request to nginx on 127.0.0.1 for host (curl --resolve style)."""
    h = {"Host": host, "Accept": accept}
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if cookies:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    h.update(headers or {})
    kwargs.setdefault("timeout", HTTP_TIMEOUT)
    kwargs.setdefault("allow_redirects", False)
    return requests.request(method, f"http://127.0.0.1:{st.port}{path}", headers=h, **kwargs)


def forward(st, host, token=None, cookie=None, uri="/", headers=None):
    """GET /api/v1/auth/forward on the API host, as a data plane asks it
    (nginx's X-Original-URI unless uri is None)."""
    h = {"X-Forwarded-Host": host}
    if uri is not None:
        h["X-Original-URI"] = uri
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if cookie is not None:
        h["Cookie"] = cookie
    h.update(headers or {})
    return requests.get(st.w.url("/api/v1/auth/forward"), headers=h, timeout=HTTP_TIMEOUT,
                        allow_redirects=False)


def proxied_head(resp):
    """The request head the echo server received (its body after the
    "port N" line): {lower-case header name: [values]} and the raw text."""
    lines = resp.text.split("\n")
    assert lines[0].startswith("port "), resp.text[:300]
    raw = "\n".join(lines[1:])
    heads = {}
    for line in raw.replace("\r", "").split("\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            heads.setdefault(k.strip().lower(), []).append(v.strip())
    return heads, raw


def forwarded_as_sent(send, host, port):
    """Sends a request for host:port through send (a front's via_nginx)
    with forged X-Forwarded-* headers; the workspace must get the Host with
    its port, as the browser sent it (web IDEs compare it with the Origin),
    and the front's own X-Forwarded-* headers."""
    hostport = f"{host}:{port}"
    r = send(hostport, headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Port": "1",
                                "X-Forwarded-Proto": "https", "Origin": f"http://{hostport}"})
    assert served(r, MAIN_PORT), (r.status_code, r.text[:200])
    heads, _ = proxied_head(r)
    assert heads["host"] == [hostport], heads
    assert heads["x-forwarded-host"] == [hostport], heads
    assert heads["x-forwarded-port"] == [str(port)], heads
    assert heads["x-forwarded-proto"] == ["http"], heads
    assert heads["origin"] == [f"http://{hostport}"], heads


def cookies_in(heads):
    """{name: value} of every Cookie header the container received."""
    out = {}
    for v in heads.get("cookie", []):
        for part in v.split(";"):
            if "=" in part:
                k, val = part.strip().split("=", 1)
                out[k] = val
    return out


def served(resp, port):
    """The answer came from the workspace's echo server on that port."""
    return resp.status_code == 200 and resp.text.startswith(f"port {port}\n")


# ---------------------------------------------------------- the browser


class Agent:
    """A browser's view of cookies and redirects: cookies kept per host
    (host-only unless a Domain attribute says otherwise, as RFC 6265 says),
    every request sent to nginx on 127.0.0.1 with the URL's host.  URLs on
    other hosts or on a port other than the site's are refused, so the
    tests never leave the loopback."""

    def __init__(self, st, site_port=None):
        self.st = st
        self.site_port = site_port   # None: the default port (80) maps to nginx
        self.jar = {}        # host -> {name: value}
        self.domain_jar = {}  # domain -> {name: value}
        self.history = []

    def _target(self, url):
        u = urllib.parse.urlsplit(url)
        assert u.scheme == "http", f"not http: {url}"
        host = u.hostname
        assert host == API_HOST or host.endswith("." + BASE_DOMAIN), \
            f"the browser was sent off the site: {url}"
        assert u.port == self.site_port, \
            f"the browser was sent to port {u.port or 80} of {host}, not the site's: {url}"
        return host, u

    def cookies_for(self, host):
        out = dict()
        for dom, cs in self.domain_jar.items():
            if host == dom or host.endswith("." + dom):
                out.update(cs)
        out.update(self.jar.get(host, {}))
        return out

    def take(self, host, resp):
        for line in resp.raw.headers.getlist("Set-Cookie"):
            parts = [p.strip() for p in line.split(";")]
            name, _, value = parts[0].partition("=")
            attrs = {}
            for p in parts[1:]:
                k, eq, v = p.partition("=")
                attrs[k.strip().lower()] = v if eq else True
            jar = self.jar.setdefault(host, {})
            if "domain" in attrs:
                jar = self.domain_jar.setdefault(attrs["domain"].lstrip(".").lower(), {})
            if attrs.get("max-age") == "0" or value == "":
                jar.pop(name, None)
            else:
                jar[name] = value

    def request(self, method, url, headers=None, **kwargs):
        host, u = self._target(url)
        h = {"Host": u.netloc, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        c = self.cookies_for(host)
        if c:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in c.items())
        h.update(headers or {})
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        r = requests.request(method, f"http://127.0.0.1:{self.st.port}{path}", headers=h,
                             allow_redirects=False, **kwargs)
        self.take(host, r)
        self.history.append((method, url, r.status_code, r.headers.get("Location")))
        return r

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def follow(self, url, limit=10, **kwargs):
        """GET and follow redirects (relative ones against the last URL)."""
        for _ in range(limit):
            r = self.get(url, **kwargs)
            if r.status_code not in (301, 302, 303, 307, 308):
                return r
            url = urllib.parse.urljoin(url, r.headers["Location"])
        pytest.fail(f"too many redirects: {self.history[-limit:]}")

    def origin(self):
        return f"http://{API_HOST}" + (f":{self.site_port}" if self.site_port else "")

    def login(self, user):
        r = self.request("POST", self.origin() + "/api/v1/auth/login",
                         headers={"Origin": self.origin(), "Content-Type": "application/json"},
                         data=json.dumps({"username": user.name, "password": user.password}))
        assert r.status_code == 200, r.text
        return r

    def open_workspace(self, host, path="/"):
        """What a browser does with a workspace URL: follow the sign-in
        hand-off to the end.  The last answer."""
        return self.follow(f"http://{host}" + (f":{self.site_port}" if self.site_port else "") + path)


def handoff_url(st, host, path="/"):
    return st.w.url("/api/v1/auth/handoff?" + urllib.parse.urlencode({"host": host, "path": path}))


def api_cookies(st, user):
    """A signed-in browser's cookies on the API host (login through nginx)."""
    r = call(st.w, "POST", "/auth/login", headers={"Origin": st.w.conf["public_url"]},
             json={"username": user.name, "password": user.password})
    assert r.status_code == 200, r.text
    out = {}
    for line in r.raw.headers.getlist("Set-Cookie"):
        name, _, value = line.split(";")[0].partition("=")
        out[name] = value
    assert any(k.endswith("warren_access") for k in out), out
    return out


def take_code(st, cookies, host, path="/"):
    """The one-time code the API host hands out for host (and Location)."""
    r = requests.get(handoff_url(st, host, path), timeout=HTTP_TIMEOUT, allow_redirects=False,
                     headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    assert r.status_code == 302, (r.status_code, r.text[:300])
    loc = r.headers["Location"]
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    assert "code" in q, loc
    return q["code"][0], loc


def redeem(st, host, code, path="/"):
    """GET <host>/_warren/handoff?code=&path= through nginx."""
    return via_nginx(st, host, "/_warren/handoff?" + urllib.parse.urlencode(
        {"code": code, "path": path}))


def ws_cookie(st, cookies, host, path="/"):
    """The warren_ws cookie of host for the signed-in browser."""
    code, _ = take_code(st, cookies, host, path)
    r = redeem(st, host, code, path)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    m = re.match(r"warren_ws=([^;]+)", r.headers.get("Set-Cookie", ""))
    assert m, r.headers
    return m.group(1)


# ------------------------------------------------------------ WebSocket


class WebSocketRefused(Exception):
    def __init__(self, status, head):
        super().__init__(f"handshake answered {status}")
        self.status = status
        self.head = head


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed mid-frame")
        buf += chunk
    return buf


def websocket_echo(st, host, messages, headers=None, timeout=5):
    """Opens ws://host/ through nginx, sends each text message and returns
    the texts echoed back; WebSocketRefused when the handshake is not 101."""
    key = base64.b64encode(os.urandom(16)).decode()
    h = {"Host": host, "Upgrade": "websocket", "Connection": "Upgrade",
         "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    h.update(headers or {})
    s = socket.create_connection(("127.0.0.1", st.port), timeout=timeout)
    try:
        s.sendall(("GET /ws HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
                   + "\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        text = head.decode("latin-1")
        status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/") else 0
        if status != 101:
            raise WebSocketRefused(status, text)
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                             .encode()).digest()).decode()
        got = [l.split(":", 1)[1].strip() for l in text.split("\r\n")
               if l.lower().startswith("sec-websocket-accept:")]
        assert got == [want], text
        rest = head.split(b"\r\n\r\n", 1)[1]
        assert rest == b"", rest
        out = []
        for msg in messages:
            data = msg.encode()
            mask = os.urandom(4)
            frame = bytes([0x81])
            if len(data) < 126:
                frame += bytes([0x80 | len(data)])
            else:
                frame += bytes([0x80 | 126]) + len(data).to_bytes(2, "big")
            frame += mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            s.sendall(frame)
            hdr = _recv_exact(s, 2)
            assert hdr[0] == 0x81, f"not a final text frame: {hdr!r}"
            n = hdr[1] & 127
            assert not hdr[1] & 128, "a server frame must not be masked"
            if n == 126:
                n = int.from_bytes(_recv_exact(s, 2), "big")
            out.append(_recv_exact(s, n).decode())
        s.sendall(bytes([0x88, 0x80]) + os.urandom(4))
        return out
    finally:
        s.close()


# ------------------------------------------------------------- Traefik


def _strict(schema):
    """The schema with additionalProperties: false on every object that
    lists its properties and says nothing about others, so that the lint
    rejects any field Traefik does not document, wherever it is."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out \
                and "patternProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


_schemas = {}


def traefik_schema(version):
    if version not in _schemas:
        path = SCHEMA_DIR / f"traefik-v{version}-file-provider.schema.json"
        assert path.is_file(), f"{path} is missing"
        _schemas[version] = _strict(json.loads(path.read_text()))
    return _schemas[version]


def empty_containers(doc, where="$"):
    """Paths of empty maps and lists (Traefik rejects or misreads them)."""
    out = []
    if isinstance(doc, dict):
        if not doc:
            out.append(where)
        for k, v in doc.items():
            out += empty_containers(v, f"{where}.{k}")
    elif isinstance(doc, list):
        if not doc:
            out.append(where)
        for i, v in enumerate(doc):
            out += empty_containers(v, f"{where}[{i}]")
    elif doc is None:
        out.append(where + " (null)")
    return out


def lint_traefik(text, version):
    """Loads the YAML and checks it against the strict schema; returns the
    document.  Fails the test with every error found."""
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict), f"not a mapping: {text[:200]!r}"
    v = jsonschema.Draft7Validator(traefik_schema(version))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
              for e in v.iter_errors(doc)]
    assert not errors, "Traefik v%d schema: %s" % (version, "\n".join(errors))
    empty = empty_containers(doc)
    assert not empty, f"empty maps or lists: {empty}"
    return doc


ANY_HOST = "warren-any-host"


def traefik_routes(doc):
    """{router name: (host of its Host() rule, priority, server url)} of
    the workspaces' own routers (not the catch-all ones for every host)."""
    http = doc.get("http", {})
    out = {}
    for name, r in http.get("routers", {}).items():
        if name.endswith("-handoff") or name == ANY_HOST:
            continue
        m = re.fullmatch(r"Host\(`([^`]+)`\)", r["rule"])
        assert m, r["rule"]
        svc = http["services"][r["service"]]["loadBalancer"]["servers"]
        assert len(svc) == 1, svc
        out[name] = (m.group(1), r["priority"], svc[0]["url"])
    return out


def check_traefik_contract(doc, forward_url):
    """What every Warren snapshot holds: a forwardAuth middleware at the
    forward endpoint and one that drops Authorization, both on every
    workspace's router (auth first); a catch-all router for every
    workspace host below them that asks the forward endpoint as pending
    (so that a stopped or starting host gets Warren's page), a hand-off
    router above them all to warren-api, which gets its own Host; explicit
    priorities."""
    mws = doc["http"]["middlewares"]
    auths = {m["forwardAuth"]["address"]: n for n, m in mws.items() if "forwardAuth" in m}
    sep = "&" if "?" in forward_url else "?"
    assert set(auths) == {forward_url, f"{forward_url}{sep}pending=1"}, mws
    auth, pending = auths[forward_url], auths[f"{forward_url}{sep}pending=1"]
    assert mws[auth]["forwardAuth"]["authResponseHeaders"] == ["Cookie"], mws
    strips = [n for n, m in mws.items() if "headers" in m]
    assert len(strips) == 1, mws
    assert mws[strips[0]]["headers"]["customRequestHeaders"] == {"Authorization": ""}, mws
    routers = doc["http"]["routers"]
    services = doc["http"]["services"]
    assert services["warren-api"]["loadBalancer"]["passHostHeader"] is False, services
    lowest = routers[ANY_HOST]
    assert lowest["rule"].startswith("HostRegexp(") and lowest["service"] == "warren-api", lowest
    assert lowest["middlewares"] == [pending], lowest
    for name, r in routers.items():
        assert isinstance(r["priority"], int) and r["priority"] > 0, (name, r)
        assert r["service"] in services, (name, r)
        if name.endswith("-handoff"):
            # The end of the hand-off goes to warren-api, above every host.
            assert r["service"] == "warren-api" and "Path(`/_warren/handoff`)" in r["rule"]
            assert mws[r["middlewares"][0]]["replacePath"]["path"] == "/api/v1/auth/handoff/redeem"
            assert r["priority"] > max(x["priority"] for n, x in routers.items()
                                       if not n.endswith("-handoff")), (name, r)
            continue
        if name != ANY_HOST:
            assert r["middlewares"] == [auth, strips[0]], (name, r)
            assert r["priority"] > lowest["priority"], (name, r)
    own = {n for n in routers if not n.endswith("-handoff") and n != ANY_HOST}
    assert own == set(services) - {"warren-api"}, doc


def read_traefik(path, version):
    return lint_traefik(pathlib.Path(path).read_text(), version)


def wait_traefik(path, version, predicate, timeout, what):
    """Waits until the file at path lints and predicate(doc) holds."""
    last = [None]

    def ok():
        try:
            text = pathlib.Path(path).read_text()
        except FileNotFoundError:
            return None
        doc = lint_traefik(text, version)
        last[0] = doc
        return doc if predicate(doc) else None

    try:
        return wait_for(ok, timeout, interval=0.05, what=what)
    except BaseException:
        print("last Traefik file:", json.dumps(last[0], indent=1))
        raise
