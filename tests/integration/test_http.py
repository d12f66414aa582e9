"""Issue 2, items 3 and 7: endpoints, methods, errors, request ids, access log."""

import re
import socket
import uuid

import pytest

from conftest import (
    HTTP_TIMEOUT,
    REQUEST_ID_GENERATED,
    assert_problem,
    parse_metrics,
    wait_for,
)


def schema_versions():
    from conftest import TOP

    return sorted(int(p.name[:4]) for p in (TOP / "sql").glob("[0-9][0-9][0-9][0-9]_*.sql"))


def test_health(warren):
    r = warren.get("/api/v1/health")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == {"status": "ok"}


def test_health_ignores_query_string(warren):
    r = warren.get("/api/v1/health?verbose=1&x=%41")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_ready(warren):
    r = warren.get("/api/v1/ready")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == {"status": "ready", "schema_version": schema_versions()[-1]}


def test_metrics_format(warren):
    warren.get("/api/v1/health")
    r = warren.get("/metrics")
    assert r.status_code == 200
    # Prometheus' own exposition type, optionally with charset=utf-8.
    parts = [p.strip().lower() for p in r.headers["Content-Type"].split(";")]
    assert parts[0] == "text/plain" and "version=0.0.4" in parts[1:], parts
    assert set(parts[1:]) <= {"version=0.0.4", "charset=utf-8"}, parts
    samples = parse_metrics(r.text)
    names = {name for name, _ in samples}
    for family in (
        "warren_http_requests_total",
        "warren_http_request_duration_seconds_bucket",
        "warren_http_request_duration_seconds_sum",
        "warren_http_request_duration_seconds_count",
        "warren_workers",
    ):
        assert family in names, f"{family} missing from /metrics"
    for family in (
        "warren_http_requests_total",
        "warren_http_request_duration_seconds",
        "warren_worker_restarts_total",
        "warren_db_errors_total",
        "warren_workers",
    ):
        assert re.search(rf"^# TYPE {family} \w+$", r.text, re.M), f"no TYPE line for {family}"
    assert samples[("warren_workers", frozenset())] == 3
    for (name, labels), _ in samples.items():
        if name == "warren_http_requests_total":
            assert {k for k, _ in labels} == {"route", "method", "status"}, labels


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/ready", "/metrics"])
def test_head_like_get(warren, path):
    g = warren.get(path)
    h = warren.request("HEAD", path)
    assert h.status_code == g.status_code == 200
    assert h.content == b""
    assert h.headers["Content-Type"] == g.headers["Content-Type"]
    assert "X-Request-Id" in h.headers


def test_head_response_ends_after_headers(warren):
    # Read the raw socket: the response to HEAD ends after its headers.
    with socket.create_connection(("127.0.0.1", warren.http_port), timeout=HTTP_TIMEOUT) as s:
        s.sendall(b"HEAD /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert rest == b""


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nope", "/api/v2/health", "/api/", "/api/v1/health/extra", "/api/v1/"],
)
def test_unknown_path_404(warren, path):
    assert_problem(warren.get(path), 404)


@pytest.mark.parametrize(
    "method,path,allowed",
    [
        ("POST", "/api/v1/health", {"GET", "HEAD"}),
        ("DELETE", "/api/v1/ready", {"GET", "HEAD"}),
        ("PUT", "/api/v1/health", {"GET", "HEAD"}),
        ("GET", "/api/v1/echo", {"POST"}),
        ("POST", "/metrics", {"GET", "HEAD"}),
    ],
)
def test_wrong_method_405(warren, method, path, allowed):
    r = warren.request(method, path, json={} if method in ("POST", "PUT") else None)
    assert_problem(r, 405)
    got = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert got == allowed, r.headers.get("Allow")


def test_problem_fields(warren):
    r = warren.get("/api/v1/does-not-exist", headers={"X-Request-Id": "problem-test-1"})
    body = assert_problem(r, 404)
    assert body["request_id"] == "problem-test-1"
    assert body["type"] and body["title"] != ""


def test_security_headers(warren):
    for path in ("/", "/api/v1/health", "/api/v1/nope"):
        r = warren.get(path)
        assert r.headers.get("Content-Security-Policy") == "default-src 'self'", path
        assert r.headers.get("X-Content-Type-Options") == "nosniff", path
        assert r.headers.get("Referrer-Policy"), path


def test_static_index(warren):
    r = warren.get("/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<title>Warren</title>" in r.text
    assert "/api/v1/" in r.text
    # Scripts only as files of this site (CSP default-src 'self'): no
    # inline script, no inline style.
    scripts = re.findall(r"<script[^>]*>", r.text)
    assert scripts and all(re.search(r'src="/[^/]', s) for s in scripts), scripts
    assert "style=" not in r.text and "<style" not in r.text
    assert warren.get("/style.css").status_code == 200
    assert warren.get("/no-such-page.html").status_code == 404


def test_metrics_only_from_loopback_127_0_0_1(warren):
    # nginx allows /metrics from 127.0.0.1 only: from 127.0.0.2 (still
    # loopback) it must refuse, while the API stays reachable.
    def get_from(src, path):
        with socket.socket() as s:
            s.settimeout(HTTP_TIMEOUT)
            s.bind((src, 0))
            s.connect(("127.0.0.1", warren.http_port))
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return int(data.split(b" ", 2)[1])

    assert get_from("127.0.0.2", "/metrics") == 403
    assert get_from("127.0.0.2", "/api/v1/health") == 200
    assert get_from("127.0.0.1", "/metrics") == 200


# ------------------------------------------------------------ request ids


@pytest.mark.parametrize(
    "rid",
    ["abc", "A-b_c.9", "x" * 64, str(uuid.uuid4()), "0"],
)
def test_request_id_echoed_when_sane(warren, rid):
    r = warren.get("/api/v1/health", headers={"X-Request-Id": rid})
    assert r.headers["X-Request-Id"] == rid
    r = warren.get("/api/v1/nope", headers={"X-Request-Id": rid})
    assert r.headers["X-Request-Id"] == rid
    assert r.json()["request_id"] == rid


@pytest.mark.parametrize(
    "rid",
    ["x" * 65, "has space", "semi;colon", "quote\"d", "slash/", "", "a\tb", "<script>"],
)
def test_request_id_replaced_when_insane(warren, rid):
    r = warren.get("/api/v1/nope", headers={"X-Request-Id": rid})
    got = r.headers["X-Request-Id"]
    assert got != rid
    assert REQUEST_ID_GENERATED.match(got), got
    assert r.json()["request_id"] == got


def test_request_id_non_ascii_replaced(warren):
    with socket.create_connection(("127.0.0.1", warren.http_port), timeout=HTTP_TIMEOUT) as s:
        s.sendall(
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Request-Id: caf\xc3\xa9\xff\r\n"
            b"Connection: close\r\n\r\n"
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    m = re.search(rb"\r\nX-Request-Id: ([^\r]*)\r\n", data, re.I)
    assert m, data[:500]
    assert REQUEST_ID_GENERATED.match(m.group(1).decode("latin-1")), m.group(1)


def test_request_id_generated_when_absent(warren):
    ids = set()
    for _ in range(5):
        r = warren.get("/api/v1/health")
        rid = r.headers["X-Request-Id"]
        assert REQUEST_ID_GENERATED.match(rid), rid
        ids.add(rid)
    assert len(ids) == 5, "generated request ids repeat"


# ------------------------------------------------------------- access log


ACCESS_RE = (
    r"^(?P<time>\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\S*) warren-api\[(?P<pid>\d+)\]: access "
    r'method={method} path="{path}" status={status} bytes=(?P<bytes>\d+) '
    r"duration_ms=(?P<ms>\d+(?:\.\d+)?) request_id={rid}$"
)


def access_line(warren, method, path, status, rid, timeout=5):
    pattern = re.compile(
        ACCESS_RE.format(method=method, path=re.escape(path), status=status, rid=re.escape(rid)),
        re.M,
    )
    return wait_for(lambda: pattern.search(warren.log()), timeout, what=f"access line for {rid}")


def test_access_log_line(warren):
    rid = "access-" + uuid.uuid4().hex[:12]
    r = warren.get("/api/v1/health", headers={"X-Request-Id": rid})
    m = access_line(warren, "GET", "/api/v1/health", 200, rid)
    assert int(m.group("bytes")) == len(r.content)
    assert float(m.group("ms")) < 5000
    assert int(m.group("pid")) in warren.workers()
    assert len(re.findall(rf"request_id={rid}\b", warren.log())) == 1, "one line per request"


def test_access_log_errors_and_generated_ids(warren):
    r = warren.request("POST", "/api/v1/health")
    rid = r.headers["X-Request-Id"]
    m = access_line(warren, "POST", "/api/v1/health", 405, rid)
    assert int(m.group("bytes")) == len(r.content)
    r = warren.get("/api/v1/nope")
    access_line(warren, "GET", "/api/v1/nope", 404, r.headers["X-Request-Id"])


@pytest.mark.parametrize(
    "path",
    [b"/api/v1/x%22%20status=200%0Aforged", b'/api/v1/x"y\\z"status=200'],
)
def test_access_log_quotes_hostile_path(warren, path):
    # Quotes, backslashes, newlines in a path must not break or forge a
    # logfmt line: one line, with a path value free of bare quotes.
    rid = "hostile-" + uuid.uuid4().hex[:8]
    with socket.create_connection(("127.0.0.1", warren.http_port), timeout=HTTP_TIMEOUT) as s:
        s.sendall(
            b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nX-Request-Id: "
            + rid.encode()
            + b"\r\nConnection: close\r\n\r\n"
        )
        status = int(s.recv(65536).split(b" ")[1])
        while s.recv(65536):
            pass
    assert status in (400, 404)
    wait_for(lambda: f"request_id={rid}" in warren.log(), 5, what="access line")
    lines = [l for l in warren.log().splitlines() if f"request_id={rid}" in l]
    assert len(lines) == 1, lines
    assert re.search(rf' access method=GET path="[^"]*" status={status} bytes=\d+ ', lines[0]), lines[0]
    assert not any(l.startswith("forged") for l in warren.log().splitlines())
