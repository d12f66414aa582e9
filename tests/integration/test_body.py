"""Issue 2, item 3: JSON bodies through POST /api/v1/echo."""

import json

import pytest

from conftest import assert_problem

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}


def echo(warren, body, headers=JSON, **kwargs):
    return warren.request("POST", "/api/v1/echo", data=body, headers=headers, **kwargs)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [True, False, None], "c": {"d": "e"}},
        [1, 2.5, -3, "x"],
        "just a string",
        42,
        {"unicode": "grüße, 日本, \U0001f600", "escaped": "line\nbreak \"quoted\" \\"},
        {"nested": [[[[[[[[[[{"deep": "enough"}]]]]]]]]]]},
    ],
)
def test_echo_valid(warren, value):
    r = echo(warren, json.dumps(value))
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == {"received": value}


def test_echo_charset_param_accepted(warren):
    r = echo(warren, b'{"x":1}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text[:300]
    assert r.json() == {"received": {"x": 1}}


def test_echo_raw_utf8(warren):
    body = '{"name":"Zoë ☃"}'.encode()
    r = echo(warren, body)
    assert r.status_code == 200
    assert r.json() == {"received": {"name": "Zoë ☃"}}


def test_echo_chunked_body(warren):
    def chunks():
        yield b'{"chunked":'
        yield b' [1, 2, 3]}'

    r = echo(warren, chunks())
    assert r.status_code == 200, r.text[:300]
    assert r.json() == {"received": {"chunked": [1, 2, 3]}}


@pytest.mark.parametrize(
    "ctype",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/xml",
        None,
    ],
)
def test_echo_wrong_content_type_415(warren, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    r = echo(warren, b'{"a":1}', headers=headers)
    assert_problem(r, 415)


def test_echo_form_body_415(warren):
    r = warren.request("POST", "/api/v1/echo", data={"a": "1", "b": "2"})
    assert r.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert_problem(r, 415)


def test_echo_at_max_body_size_accepted(warren):
    # max_body_size = 1m: exactly 1 MiB of JSON is fine.
    body = b'"' + b"a" * (MIB - 2) + b'"'
    assert len(body) == MIB
    r = echo(warren, body, timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.json() == {"received": "a" * (MIB - 2)}


def test_echo_over_max_body_size_413(warren):
    body = b'"' + b"a" * (MIB - 1) + b'"'
    assert len(body) == MIB + 1
    r = echo(warren, body, timeout=30)
    assert_problem(r, 413)  # from warren-api, not nginx's HTML page


def test_echo_far_over_max_body_size_413(warren):
    r = echo(warren, b"[" + b"1," * (4 * MIB) + b"1]", timeout=30)
    assert_problem(r, 413)


def test_echo_chunked_over_max_body_size_413(warren):
    def chunks():
        yield b'"'
        for _ in range(17):
            yield b"b" * 65536
        yield b'"'

    r = echo(warren, chunks(), timeout=30)
    assert_problem(r, 413)


def test_echo_413_wrong_type_is_checked(warren):
    # A large body of the wrong type is refused either way, cleanly.
    r = echo(warren, b"x" * (2 * MIB), headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code in (413, 415)
    assert_problem(r, r.status_code)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":',
        b"{",
        b"}",
        b"{'a': 1}",
        b'{"a": 1,}',
        b'{"a": 1} trailing',
        b'{"a": 1}{"b": 2}',
        b"[1, 2",
        b"nul",
        b'{"a": NaN}',
        b"\x00",
        b'{"a": "\x01"}',
        b"   ",
    ],
)
def test_echo_malformed_json_400(warren, body):
    assert_problem(echo(warren, body), 400)


def test_echo_empty_body_400(warren):
    assert_problem(echo(warren, b""), 400)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\xff"}',
        b'{"a": "caf\xc3"}',
        b'{"\xc0\xafkey": 1}',
        b'["\xed\xa0\x80"]',  # an encoded UTF-16 surrogate
        b'{"a": "\xf8\x88\x80\x80\x80"}',
    ],
)
def test_echo_invalid_utf8_400(warren, body):
    assert_problem(echo(warren, body), 400)


@pytest.mark.parametrize("depth", [1000, 100000])
def test_echo_deep_nesting_refused(warren, depth):
    for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        r = echo(warren, body)
        assert 400 <= r.status_code < 500, r.status_code
        assert_problem(r, r.status_code)
    assert warren.get("/api/v1/health").status_code == 200


def test_echo_error_leaves_server_healthy(warren):
    for body in (b"{", b'{"a":"\xff"}', b"[" * 5000):
        echo(warren, body)
    r = echo(warren, b'{"still":"fine"}')
    assert r.status_code == 200
    assert r.json() == {"received": {"still": "fine"}}


@pytest.mark.parametrize("path", ["/api/v1/echo", "/api/v1/auth/login"])
def test_null_body_is_400(warren, path):
    """JSON null is no body: a clear 400, not an empty object."""
    r = warren.request("POST", path, data=b"null", headers={"Content-Type": "application/json"})
    body = assert_problem(r, 400)
    assert "not null" in body["detail"], body
