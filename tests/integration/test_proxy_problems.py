"""What nginx and Apache answer themselves on the API is a problem (RFC 9457)
with the fields of warren-api's, as every answer of warren-api is: a body
over the server's limit (413), a request line too long (414), warren-api
down or dead mid-request (nginx: 502; Apache: 503), an operator's
connection limit (nginx: 503) or warren-api too slow (504).  The pages keep
their HTML errors.

Both servers run the shipped site files (etc/nginx/warren.conf through
tools/lib.sh, etc/apache2/warren.conf through test_apache's harness).  To
reach 504 without waiting a minute, the copy under test has its FastCGI
read timeout shortened, and warren-api is frozen with SIGSTOP; to reach
nginx's 503 it gets the limit an operator would add in front of the API
(limit_conn).  warren-api is stopped, frozen and killed for real.
"""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading

import pytest

from conftest import HTTP_TIMEOUT, PROBLEM_KEYS, Warren, children, lib, wait_for
from test_apache import apache_stack

TIMEOUT_S = 2   # the FastCGI read timeout of the copies under test
BIG = b"[" + b"0," * (10 * 1024 * 1024) + b"0]"   # 20 MiB of JSON
LONG_PATH = "/api/v1/" + "a" * 9000
TYPES = {
    413: "/problems/body-too-large",
    414: "/problems/uri-too-long",
    502: "/problems/api-unavailable",
    503: "/problems/api-unavailable",
    504: "/problems/api-timeout",
}


def http(port, request_line, headers=(), body=b"", timeout=HTTP_TIMEOUT + TIMEOUT_S):
    """One raw HTTP/1.1 request; -> (status, headers, body).  A server may
    answer before the body is all sent (and stop reading it)."""
    req = request_line.encode() + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for h in headers:
        req += h.encode() + b"\r\n"
    if body:
        req += b"Content-Length: %d\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(req + b"\r\n" + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


def assert_proxy_problem(answer, status):
    """A problem of the server's own, as warren-api would write it."""
    got, hdrs, body = answer
    assert got == status, (got, body[:300])
    assert hdrs.get("content-type", "").split(";")[0] == "application/problem+json", hdrs
    doc = json.loads(body)
    assert set(doc) <= PROBLEM_KEYS, doc
    assert doc["type"] == TYPES[status], doc
    assert doc["status"] == status and doc["title"], doc
    assert re.fullmatch(r"[0-9A-Za-z@_-]{16,64}", doc["request_id"]), doc
    assert hdrs.get("x-request-id") == doc["request_id"], (hdrs, doc)
    return doc


def assert_html(answer, status):
    got, hdrs, body = answer
    assert got == status, (got, body[:300])
    assert hdrs.get("content-type", "").startswith("text/html"), hdrs
    assert b"<html" in body.lower() or b"<!doctype" in body.lower(), body[:300]


def assert_down(w, port, status):
    """warren-api stopped: the API answers problems with status, each its
    own id, and the pages are served meanwhile, as HTML."""
    w.stop_api()
    try:
        doc = assert_proxy_problem(http(port, "GET /api/v1/health HTTP/1.1"), status)
        again = assert_proxy_problem(http(port, "GET /api/v1/me HTTP/1.1"), status)
        assert doc["request_id"] != again["request_id"]
        code, hdrs, _ = http(port, "GET / HTTP/1.1")
        assert code == 200 and hdrs["content-type"].startswith("text/html"), (code, hdrs)
        assert_html(http(port, "GET /no-such-page HTTP/1.1"), 404)
    finally:
        w.start_api()
    assert http(port, "GET /api/v1/health HTTP/1.1")[0] == 200


def api_pids(w):
    return [w.master, *w.workers()]


class Frozen:
    """warren-api stopped with SIGSTOP (connections queue, nothing is
    answered) until the block ends."""

    def __init__(self, w):
        self.pids = api_pids(w)

    def __enter__(self):
        for pid in self.pids:
            os.kill(pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        for pid in self.pids:
            os.kill(pid, signal.SIGCONT)


def in_background(fn):
    out = {}

    def run():
        try:
            out["answer"] = fn()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def killed_mid_request(w, port):
    """A worker of warren-api dies (SIGKILL) while it handles a request:
    -> the server's answer to that request.  The worker waits on
    PostgreSQL, frozen meanwhile (SIGSTOP) for this stack."""
    workers = w.workers()
    # The postmaster too: a worker that has no connection yet waits in
    # its connect.
    postmaster = int((pathlib.Path(w.pg.root) / "data" / "postmaster.pid").read_text().split()[0])
    backends = [postmaster] + [int(p) for p in w.pg.psql(
        "postgres", "SELECT pid FROM pg_stat_activity WHERE "
        f"backend_type = 'client backend' AND datname = '{w.db}'").split()]
    for pid in backends:
        os.kill(pid, signal.SIGSTOP)
    try:
        t, out = in_background(lambda: http(port, "GET /api/v1/ready HTTP/1.1"))
        wait_for(lambda: query_waiting(backends), 5, what="a query waiting on a frozen backend")
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
    finally:
        for pid in backends:
            os.kill(pid, signal.SIGCONT)
    t.join(HTTP_TIMEOUT + TIMEOUT_S + 5)
    w.wait_workers(len(workers), exclude=workers, timeout=10)
    assert "answer" in out, out
    return out["answer"]


def query_waiting(pids):
    """Has one of these PostgreSQL processes unread input or a connection
    to accept (ss: Recv-Q)?"""
    r = subprocess.run(["ss", "-xapnH"], capture_output=True, text=True, timeout=10)
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) > 2 and f[2].isdigit() and int(f[2]) > 0 and \
                any(f"pid={pid}," in line for pid in pids):
            return True
    return False


def queued(w):
    """Is a connection waiting on warren-api's socket (ss: Recv-Q > 0)?"""
    r = subprocess.run(["ss", "-xlnH"], capture_output=True, text=True, timeout=10)
    for line in r.stdout.splitlines():
        f = line.split()
        if w.sock in line and len(f) > 2 and f[2].isdigit() and int(f[2]) > 0:
            return True
    return False


# ------------------------------------------------------------------ nginx


@pytest.fixture(scope="module")
def nginx_site(pg, tmp_path_factory):
    """warren-api behind the shipped nginx site, with a 2 s read timeout
    and a limit of one API connection per client address."""
    d = tmp_path_factory.mktemp("nginx-problems")
    w = Warren(pg, d / "w", pg.create_db(f"ngxprob{os.getpid()}"))
    try:
        site = w.nginx_dir / "site.conf"
        text = site.read_text()
        text, n = re.subn(r"fastcgi_read_timeout 60s;", f"fastcgi_read_timeout {TIMEOUT_S}s;", text)
        assert n >= 1, "the nginx site has no fastcgi_read_timeout 60s"
        text = "limit_conn_zone $binary_remote_addr zone=warren_test:1m;\n" + text
        text, n = re.subn(r"(location /api/ \{\n)", r"\1\t\tlimit_conn warren_test 1;\n", text)
        assert n == 1, "the nginx site has no location /api/"
        site.write_text(text)
        master = int((w.nginx_dir / "nginx.pid").read_text())
        old = set(children(master))
        r = lib("warren_nginx", w.nginx_dir, "-s", "reload", check=False)
        assert r.returncode == 0, r.stderr
        wait_for(lambda: children(master) and not old & set(children(master)), 10,
                 what="nginx's workers with the new configuration")
        yield w
    finally:
        error = w.close()
        if error:
            pytest.fail(error)


def test_nginx_413_is_a_problem_and_pages_keep_html(nginx_site):
    port = nginx_site.http_port
    ans = http(port, "POST /api/v1/auth/login HTTP/1.1", ["Content-Type: application/json"], BIG)
    assert_proxy_problem(ans, 413)
    assert_html(http(port, "POST /index.html HTTP/1.1", body=BIG), 413)


def test_nginx_414_is_a_problem(nginx_site):
    assert_proxy_problem(http(nginx_site.http_port, f"GET {LONG_PATH} HTTP/1.1"), 414)


def test_nginx_502_when_warren_api_is_down(nginx_site):
    assert_down(nginx_site, nginx_site.http_port, 502)


def test_nginx_502_when_warren_api_dies_mid_request(nginx_site):
    assert_proxy_problem(killed_mid_request(nginx_site, nginx_site.http_port), 502)
    assert nginx_site.get("/api/v1/health").status_code == 200


def test_nginx_503_and_504_when_warren_api_hangs(nginx_site):
    w = nginx_site
    with Frozen(w):
        t, out = in_background(lambda: http(w.http_port, "GET /api/v1/health HTTP/1.1"))
        wait_for(lambda: queued(w), 5, what="the first request in warren-api's queue")
        # The operator's limit: a second connection from this address.
        assert_proxy_problem(http(w.http_port, "GET /api/v1/me HTTP/1.1"), 503)
        t.join(HTTP_TIMEOUT + TIMEOUT_S + 5)
    assert "answer" in out, out
    assert_proxy_problem(out["answer"], 504)
    wait_for(lambda: w.get("/api/v1/health").status_code == 200, 10, what="warren-api to answer")


def test_nginx_passes_warren_api_problems_as_they_are(nginx_site):
    """warren-api's own 4xx and 5xx keep their type and request id."""
    r = nginx_site.get("/api/v1/no-such-thing", headers={"X-Request-Id": "mine-1234567890"})
    assert r.status_code == 404 and r.json()["type"] == "/problems/not-found", r.text
    assert r.json()["request_id"] == r.headers["X-Request-Id"] == "mine-1234567890"


# ----------------------------------------------------------------- Apache


@pytest.fixture(scope="module")
def apache_site(pg):
    """warren-api behind the shipped Apache site, with a 2 s timeout.
    warren-api takes bodies up to 64 MiB, so that Apache's own bound
    (LimitRequestBody, 16 MiB) is the one a 20 MiB body meets."""

    def shorter(text):
        text, n = re.subn(r"(api\.sock\|fcgi://localhost/api/\" )timeout=60", rf"\1timeout={TIMEOUT_S}", text)
        assert n == 1, "the Apache site's ProxyPass /api/ has no timeout=60"
        return text

    with apache_stack(pg, "approb", edit=shorter, max_body_size="64m") as s:
        yield s


def test_apache_413_is_a_problem_and_pages_keep_html(apache_site):
    apache, _ = apache_site
    ans = http(apache.port, "POST /api/v1/auth/login HTTP/1.1", ["Content-Type: application/json"],
               BIG)
    assert_proxy_problem(ans, 413)
    # A page is no API: Apache's HTML (it refuses the method first).
    ans = http(apache.port, "POST /index.html HTTP/1.1", body=BIG)
    assert_html(ans, ans[0])
    assert ans[0] in (405, 413), ans[0]


def test_apache_414_is_a_problem(apache_site):
    apache, _ = apache_site
    assert_proxy_problem(http(apache.port, f"GET {LONG_PATH} HTTP/1.1"), 414)


def test_apache_503_when_warren_api_is_down(apache_site):
    apache, w = apache_site
    assert_down(w, apache.port, 503)


def test_apache_503_when_warren_api_dies_mid_request(apache_site):
    """mod_proxy_fcgi says 503 for every failure of its backend but a
    timeout (nginx says 502); its ErrorDocument 502 covers the rest."""
    apache, w = apache_site
    assert_proxy_problem(killed_mid_request(w, apache.port), 503)
    assert apache.get("/api/v1/health").status_code == 200


def test_apache_504_when_warren_api_hangs(apache_site):
    apache, w = apache_site
    with Frozen(w):
        ans = http(apache.port, "GET /api/v1/health HTTP/1.1")
    assert_proxy_problem(ans, 504)
    wait_for(lambda: apache.get("/api/v1/health").status_code == 200, 10, what="warren-api to answer")


def test_apache_passes_warren_api_problems_as_they_are(apache_site):
    apache, _ = apache_site
    r = apache.get("/api/v1/no-such-thing", headers={"X-Request-Id": "mine-1234567890"})
    assert r.status_code == 404 and r.json()["type"] == "/problems/not-found", r.text
    assert r.json()["request_id"] == r.headers["X-Request-Id"] == "mine-1234567890"
