"""Issue 2, items 3 and 9: hostile headers and paths get a clean 4xx, and
the server stays healthy."""

import json
import re
import socket

import pytest

from conftest import HTTP_TIMEOUT, REQUEST_ID_GENERATED


def raw(warren, request_line, headers=(), body=b""):
    """Sends one raw HTTP/1.1 request; returns (status, headers, body)."""
    req = request_line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for h in headers:
        req += h + b"\r\n"
    if body:
        req += b"Content-Length: %d\r\n" % len(body)
    req += b"\r\n" + body
    with socket.create_connection(("127.0.0.1", warren.http_port), timeout=HTTP_TIMEOUT) as s:
        s.sendall(req)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode("latin-1")
    if hdrs.get("transfer-encoding") == "chunked":
        out, rest = b"", payload
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2 :]
        payload = out
    return status, hdrs, payload


def assert_clean_4xx(warren, status, hdrs, body, allowed=(400, 404)):
    assert status in allowed, (status, body[:300])
    if "x-request-id" in hdrs:
        # warren-api answered: it must be a proper problem.
        assert hdrs["content-type"].startswith("application/problem+json"), hdrs
        problem = json.loads(body)
        assert problem["status"] == status
        assert problem["request_id"] == hdrs["x-request-id"]
    assert_healthy(warren)


def assert_healthy(warren):
    r = warren.get("/api/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


# ---------------------------------------------------------------- headers


def test_header_64k_refused_cleanly(warren):
    # nginx cannot pass more than 64 KiB of FastCGI params (request line
    # and headers together): a 64 KiB header must get nginx's 400, not a
    # 500 "fastcgi request record is too big".
    big = b"X-Big: " + b"a" * 65536
    status, hdrs, body = raw(warren, b"GET /api/v1/health HTTP/1.1", [big])
    assert status in (400, 431), (status, body[:200])
    assert_healthy(warren)


def test_header_64k_in_pieces_refused_cleanly(warren):
    # 64 KiB of headers in eight 8 KiB lines.
    hdrs = [b"X-Part-%d: " % i + b"b" * 8180 for i in range(8)]
    status, _, body = raw(warren, b"GET /api/v1/health HTTP/1.1", hdrs)
    assert status in (200, 400, 431), (status, body[:200])
    assert_healthy(warren)


@pytest.mark.parametrize(
    "headers",
    [
        [b"X-Fill-%d: " % i + b"f" * 8000 for i in range(3)],
        [b"X-Fill-%d: " % i + b"f" * 8000 for i in range(5)],
        [b"h%d:v" % i for i in range(900)],
        [b"h%d:" % i + b"v" * 20 for i in range(1200)],
    ],
    ids=["3x8k", "5x8k", "900-tiny", "1200-small"],
)
def test_longest_path_with_header_flood_never_5xx(warren, headers):
    # The worst case for nginx's 64 KiB FastCGI params record: the path is
    # passed three times, every header once; nginx must refuse what does
    # not fit rather than fail with a 500.
    path = b"/api/v1/" + b"p" * 8000
    status, hdrs, body = raw(warren, b"GET " + path + b" HTTP/1.1", headers)
    assert status in (400, 404, 414, 431), (status, body[:200])
    assert_healthy(warren)


def test_large_header_reaches_warren(warren):
    # The largest header line nginx accepts reaches warren-api intact.
    big = b"X-Big: " + b"c" * (8 * 1024 - 64)
    status, hdrs, body = raw(
        warren, b"GET /api/v1/health HTTP/1.1", [big, b"X-Request-Id: big-header-1"]
    )
    assert status == 200, body[:200]
    assert hdrs["x-request-id"] == "big-header-1"
    assert json.loads(body) == {"status": "ok"}


def test_many_headers(warren):
    hdrs = [b"X-H%d: v" % i for i in range(100)]
    status, hdrs_out, body = raw(warren, b"GET /api/v1/health HTTP/1.1", hdrs)
    assert status == 200
    assert REQUEST_ID_GENERATED.match(hdrs_out["x-request-id"])


def test_huge_request_id_header(warren):
    rid = b"r" * 7000
    status, hdrs, _ = raw(warren, b"GET /api/v1/health HTTP/1.1", [b"X-Request-Id: " + rid])
    assert status == 200
    assert REQUEST_ID_GENERATED.match(hdrs["x-request-id"])


def test_huge_content_type_header(warren):
    status, hdrs, body = raw(
        warren,
        b"POST /api/v1/echo HTTP/1.1",
        [b"Content-Type: application/json; " + b"x" * 7000],
        b"{}",
    )
    assert status in (200, 400, 415), (status, body[:200])
    assert_healthy(warren)


# ------------------------------------------------------------------ paths


@pytest.mark.parametrize(
    "path",
    [
        b"/api/v1/%FF",
        b"/api/v1/health%FF",
        b"/api/v1/%C0%AF",
        b"/api/v1/%ED%A0%80",
        b"/api/v1/\xff\xfe",
        b"/api/v1/h\xc3",
        b"/api/v1/\xc0\xafhealth",
        b"/api/v1%2Fhealth",
        b"/api%2Fv1%2Fhealth",
        b"/api/v1/health%2F",
        b"/api/v1/he%2falth",
        b"/api/v1/%2e%2e/v1/health%2F",
        b"/api/v1/health%00",
        b"/api/v1/he%00alth",
        b"/api/v1/%00",
        b"/api/v1/%",
        b"/api/v1/%zz",
        b"/api/v1/%4",
        b"/api/v1/health%",
    ],
)
def test_bad_path_encoding(warren, path):
    status, hdrs, body = raw(warren, b"GET " + path + b" HTTP/1.1")
    assert_clean_4xx(warren, status, hdrs, body)


@pytest.mark.parametrize(
    "path",
    [b"/api/v1/%FF", b"/api/v1%2Fecho", b"/api/v1/echo%00", b"/api/v1/\xff"],
)
def test_bad_path_encoding_post(warren, path):
    status, hdrs, body = raw(
        warren, b"POST " + path + b" HTTP/1.1", [b"Content-Type: application/json"], b"{}"
    )
    assert_clean_4xx(warren, status, hdrs, body)


def test_percent_encoded_slash_is_not_a_separator(warren):
    # nginx decodes %2F for its own location matching, but warren-api must
    # route on the raw path: /api/v1%2Fhealth is not /api/v1/health.
    status, hdrs, body = raw(warren, b"GET /api/v1%2Fhealth HTTP/1.1")
    assert status in (400, 404)
    assert "x-request-id" in hdrs, "warren-api should have answered this one"


@pytest.mark.parametrize("length", [2000, 7000])
def test_long_path_reaches_warren(warren, length):
    path = b"/api/v1/" + b"a" * length
    status, hdrs, body = raw(warren, b"GET " + path + b" HTTP/1.1")
    assert status in (404, 414), (status, body[:200])
    assert "x-request-id" in hdrs
    assert_clean_4xx(warren, status, hdrs, body, allowed=(404, 414))


@pytest.mark.parametrize("length", [9000, 70000, 300000])
def test_overlong_path(warren, length):
    path = b"/api/v1/" + b"a" * length
    status, hdrs, body = raw(warren, b"GET " + path + b" HTTP/1.1")
    assert_clean_4xx(warren, status, hdrs, body, allowed=(400, 404, 414))


def test_many_segments(warren):
    path = b"/api/v1" + b"/a" * 2000
    status, hdrs, body = raw(warren, b"GET " + path + b" HTTP/1.1")
    assert_clean_4xx(warren, status, hdrs, body, allowed=(400, 404, 414))


def test_long_query_string(warren):
    status, hdrs, body = raw(warren, b"GET /api/v1/health?" + b"q=1&" * 1500 + b" HTTP/1.1")
    assert status in (200, 400, 414), status
    assert_healthy(warren)


@pytest.mark.parametrize(
    "path",
    [b"/api/v1//health", b"/api/v1/./health", b"/api/v1/x/../health", b"/api//v1/health"],
)
def test_dot_and_empty_segments(warren, path):
    status, hdrs, body = raw(warren, b"GET " + path + b" HTTP/1.1")
    # Either warren-api treats them as the route or refuses them; never 5xx.
    assert status in (200, 400, 404), status
    assert_healthy(warren)


@pytest.mark.parametrize(
    "method",
    [b"PATCH", b"OPTIONS", b"TRACE", b"FOO", b"PROPFIND"],
)
def test_odd_methods(warren, method):
    status, hdrs, body = raw(warren, method + b" /api/v1/health HTTP/1.1")
    assert status in (400, 405, 501), status
    if "x-request-id" in hdrs:
        assert status == 405
        assert set(x.strip() for x in hdrs["allow"].split(",")) == {"GET", "HEAD"}
    assert_healthy(warren)


def test_no_5xx_after_abuse(warren):
    # Everything above was answered; the counters must show no 5xx at all.
    r = warren.get("/metrics")
    fives = [
        l for l in r.text.splitlines()
        if l.startswith("warren_http_requests_total") and re.search(r'status="5\d\d"', l)
    ]
    assert not fives, fives
