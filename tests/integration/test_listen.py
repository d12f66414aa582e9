"""Issue 2, item 2: the three ways warren-api gets its FastCGI socket:
a unix socket path, a TCP address, and a socket inherited on fd 0
(spawn-fcgi, Apache's mod_fcgid).  And the second, Authorizer-only
listener (authorizer_listen) for Apache's mod_authnz_fcgi."""

import json
import os
import signal
import socket
import stat
import struct
import subprocess

from conftest import API_BIN, HTTP_TIMEOUT, Load, base_env, free_port, wait_for


def check_serves(w):
    r = w.get("/api/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert w.get("/api/v1/ready").status_code == 200
    r = w.request("POST", "/api/v1/echo", json={"via": w.mode})
    assert r.status_code == 200 and r.json() == {"received": {"via": w.mode}}
    assert w.get("/api/v1/nope").status_code == 404


def test_unix_socket(make_warren):
    w = make_warren(listen="unix", listen_mode="0660", workers=2)
    check_serves(w)
    st = os.stat(w.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


def test_unix_socket_mode(make_warren):
    w = make_warren(listen="unix", listen_mode="0600", workers=1)
    assert stat.S_IMODE(os.stat(w.sock).st_mode) == 0o600
    check_serves(w)


def test_unix_socket_kept_across_sighup(make_warren, tmp_path):
    """listen and listen_mode wait for a restart: a reload that changes
    them says so for each, keeps the socket as it is and applies the
    rest."""
    w = make_warren(listen="unix", listen_mode="0660", workers=2)
    other = tmp_path / "other.sock"
    off = w.log_size()
    old = w.workers()
    w.reload(listen=str(other), listen_mode="0600", workers=3)
    w.wait_workers(3, exclude=old, timeout=5)
    log = w.log_since(off)
    for key in ("listen", "listen_mode"):
        assert f"{key} changed: restart warren-api to apply it" in log, log
    assert "authorizer_listen changed" not in log, log
    assert stat.S_IMODE(os.stat(w.sock).st_mode) == 0o660
    assert not other.exists()
    check_serves(w)


def test_unix_socket_stale_file_replaced(make_warren):
    # A socket file left behind by a killed instance must not stop a start.
    w = make_warren(listen="unix", workers=1)
    os.killpg(w.master, signal.SIGKILL)
    w.proc.wait(timeout=10)
    assert os.path.exists(w.sock)
    w.start_api(remove_socket=False)
    check_serves(w)


def test_tcp(make_warren):
    w = make_warren(listen="tcp", workers=2)
    check_serves(w)
    with Load(w.url("/api/v1/health"), threads=3, duration=2, max_requests=200) as load:
        pass
    assert not load.failures and load.ok > 0


def test_inherit_from_spawn_fcgi(make_warren):
    w = make_warren(listen="inherit", workers=2)
    check_serves(w)
    assert len(w.workers()) == 2
    with Load(w.url("/api/v1/health"), threads=3, duration=2, max_requests=200) as load:
        pass
    assert not load.failures and load.ok > 0
    # A worker of an inherited socket is respawned like any other.
    victim = w.workers()[0]
    os.kill(victim, signal.SIGKILL)
    w.wait_workers(2, exclude=[victim], timeout=2)
    check_serves(w)
    assert w.stop_api() == 0


def test_inherit_without_socket_fails(tmp_path):
    # listen = inherit with no FastCGI socket on fd 0: a clear error, exit 1.
    conf = tmp_path / "inherit.conf"
    conf.write_text("listen = inherit\nworkers = 1\n")
    r = subprocess.run(
        [str(API_BIN), "-c", str(conf)], stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=20, env=base_env(),
    )
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "inherit" in r.stderr or "fd 0" in r.stderr or "socket" in r.stderr, r.stderr


# ----------------------------------------------------- FastCGI, directly


FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = (
    1, 3, 4, 5, 6, 7,
)
FCGI_RESPONDER, FCGI_AUTHORIZER, FCGI_FILTER = 1, 2, 3


def fcgi_record(rtype, content, req_id=1):
    out = b""
    while True:
        chunk, content = content[:65535], content[65535:]
        pad = -len(chunk) % 8
        out += struct.pack(">BBHHBx", 1, rtype, req_id, len(chunk), pad) + chunk + b"\0" * pad
        if not content:
            return out


def fcgi_pair(name, value):
    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)

    return length(len(name)) + length(len(value)) + name + value


def fcgi_connect(addr):
    """A connection to a (host, port) or a unix socket path."""
    if isinstance(addr, tuple):
        return socket.create_connection(addr, timeout=HTTP_TIMEOUT)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(HTTP_TIMEOUT)
    s.connect(str(addr))
    return s


def fcgi_request(addr, params, body=b"", role=FCGI_RESPONDER):
    """One FastCGI request over TCP or a unix socket; returns (status,
    headers, body).  An Authorizer gets no FCGI_STDIN, as from Apache."""
    payload = b"".join(fcgi_pair(k, v) for k, v in params.items())
    msg = fcgi_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", role, 0))
    msg += fcgi_record(FCGI_PARAMS, payload) + fcgi_record(FCGI_PARAMS, b"")
    if body:
        msg += fcgi_record(FCGI_STDIN, body)
    if role != FCGI_AUTHORIZER:
        msg += fcgi_record(FCGI_STDIN, b"")
    out = b""
    with fcgi_connect(addr) as s:
        s.sendall(msg)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    ended = False
    while len(data) >= 8:
        _, rtype, _, clen, pad = struct.unpack(">BBHHBx", data[:8])
        content, data = data[8 : 8 + clen], data[8 + clen + pad :]
        if rtype == FCGI_STDOUT:
            out += content
        elif rtype == FCGI_END_REQUEST:
            ended = True
    assert ended, "no FCGI_END_REQUEST"
    head, _, body = out.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n"):
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode("latin-1")
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


def cgi_params(path, **extra):
    p = {
        b"REQUEST_METHOD": b"GET",
        b"REQUEST_URI": path,
        b"QUERY_STRING": b"",
        b"SERVER_PROTOCOL": b"HTTP/1.1",
        b"REMOTE_ADDR": b"127.0.0.1",
        b"CONTENT_LENGTH": b"",
        b"CONTENT_TYPE": b"",
    }
    p.update({k.encode(): v for k, v in extra.items()})
    return p


def test_direct_fastcgi_64k_header(make_warren):
    # Through nginx a 64 KiB header cannot reach warren-api (nginx's params
    # record limit); straight over FastCGI it can, split over several
    # records, and warren-api must answer it normally.
    w = make_warren(listen="tcp", workers=1)
    addr = ("127.0.0.1", w.tcp_port)
    status, headers, body = fcgi_request(
        addr, cgi_params(b"/api/v1/health", HTTP_X_BIG=b"a" * 65536, HTTP_X_REQUEST_ID=b"fcgi-1")
    )
    assert status == 200, body[:200]
    assert headers.get("x-request-id") == "fcgi-1"
    status, headers, body = fcgi_request(
        addr, cgi_params(b"/api/v1/health", HTTP_X_REQUEST_ID=b"r" * 65536)
    )
    assert status == 200
    assert len(headers["x-request-id"]) == 32
    status, _, body = fcgi_request(addr, cgi_params(b"/api/v1/" + b"p" * 65536))
    assert status in (400, 404, 414), status
    assert w.get("/api/v1/health").status_code == 200


def test_direct_fastcgi_head_has_no_body(make_warren):
    # nginx would drop a HEAD body anyway: ask warren-api directly.
    w = make_warren(listen="tcp", workers=1)
    addr = ("127.0.0.1", w.tcp_port)
    for path in (b"/api/v1/health", b"/api/v1/ready", b"/metrics"):
        status, headers, body = fcgi_request(addr, cgi_params(path, REQUEST_METHOD=b"HEAD"))
        assert status == 200, (path, body[:200])
        assert body == b"", (path, body[:200])
        assert headers.get("content-type")
        get = fcgi_request(addr, cgi_params(path))
        assert get[0] == 200 and get[2] != b""


def test_direct_fastcgi_lying_content_length(make_warren):
    # CONTENT_LENGTH larger than the body actually sent, and non-numeric.
    w = make_warren(listen="tcp", workers=1)
    addr = ("127.0.0.1", w.tcp_port)
    for cl in (b"100", b"-5", b"abc", b"99999999999999999999"):
        status, headers, body = fcgi_request(
            addr,
            cgi_params(
                b"/api/v1/echo",
                REQUEST_METHOD=b"POST",
                CONTENT_TYPE=b"application/json",
                CONTENT_LENGTH=cl,
            ),
            body=b'{"a":1}',
        )
        assert 400 <= status < 500, (cl, status, body[:200])
    assert w.get("/api/v1/health").status_code == 200


def test_direct_fastcgi_missing_params(make_warren):
    w = make_warren(listen="tcp", workers=1)
    addr = ("127.0.0.1", w.tcp_port)
    status, _, _ = fcgi_request(addr, {})
    assert 400 <= status < 500, status
    status, _, _ = fcgi_request(addr, {b"REQUEST_METHOD": b"GET"})
    assert 400 <= status < 500, status
    assert w.get("/api/v1/health").status_code == 200


# ------------------------------------------------ the Authorizer listener


def authorizer_params(host=b"aaaaaaaaaa.warren.localhost"):
    """What mod_authnz_fcgi sends about a client's request to a workspace."""
    return cgi_params(b"/some/page?x=1", HTTP_HOST=host, HTTP_ACCEPT=b"application/json")


def asks_authorizer(addr):
    """The Authorizer answers there: a workspace host's refusal with its
    state (no such workspace, or sign in first)."""
    status, headers, body = fcgi_request(addr, authorizer_params(), role=FCGI_AUTHORIZER)
    assert status in (401, 404) and "x-warren-state" in headers, (status, headers, body)


def refused_there(w, addr, role=FCGI_RESPONDER, path=b"/api/v1/health", body=b"", **kw):
    """A request of another role is refused (403 problem) and logged."""
    name = {FCGI_RESPONDER: "RESPONDER", FCGI_FILTER: "FILTER"}[role]
    off = w.log_size()
    status, headers, body = fcgi_request(addr, cgi_params(path, **kw), role=role, body=body)
    assert status == 403, (status, headers, body[:300])
    assert headers.get("content-type", "").startswith("application/problem+json"), headers
    problem = json.loads(body)
    assert problem["status"] == 403 and problem["request_id"] == headers["x-request-id"], problem
    wait_for(lambda: f"refused a FastCGI {name} request" in w.log_since(off), 5,
             what="the refusal in the log")


def test_authorizer_listener_serves_the_authorizer_only(make_warren):
    port = free_port()
    w = make_warren(listen="unix", workers=2, authorizer_listen=f"127.0.0.1:{port}")
    check_serves(w)
    addr = ("127.0.0.1", port)
    asks_authorizer(addr)
    # The API is not served there, in any other role, whatever the path.
    refused_there(w, addr)
    refused_there(w, addr, FCGI_FILTER)
    refused_there(w, addr, path=b"/metrics")
    refused_there(w, addr, path=b"/api/v1/auth/forward", HTTP_HOST=b"aaaaaaaaaa.warren.localhost")
    refused_there(w, addr, path=b"/api/v1/echo", REQUEST_METHOD=b"POST",
                  CONTENT_TYPE=b"application/json", CONTENT_LENGTH=b"7", body=b'{"a":1}')
    # The same requests on the main socket are the API's.
    status, _, body = fcgi_request(w.sock, cgi_params(b"/api/v1/health"))
    assert status == 200 and json.loads(body) == {"status": "ok"}, (status, body)
    asks_authorizer(w.sock)
    # Nothing but FastCGI: junk is dropped, the workers go on.
    with socket.create_connection(addr, timeout=HTTP_TIMEOUT) as s:
        s.sendall(b"GET /api/v1/health HTTP/1.0\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        assert s.recv(65536) == b""
    asks_authorizer(addr)
    check_serves(w)


def test_authorizer_listener_across_sighup_and_recycling(make_warren):
    """New generations and recycled workers accept on both sockets; a
    change of authorizer_listen waits for a restart."""
    port = free_port()
    w = make_warren(listen="unix", workers=2, max_requests=5,
                    authorizer_listen=f"127.0.0.1:{port}")
    addr = ("127.0.0.1", port)
    for n in (3, 2, 3):
        old = w.workers()
        w.reload(workers=n)
        w.wait_workers(n, exclude=old, timeout=5)
        # Past max_requests of every worker, on both sockets.
        for i in range(20):
            asks_authorizer(addr)
            assert w.get("/api/v1/health").status_code == 200
        refused_there(w, addr)
    other = free_port()
    off = w.log_size()
    old = w.workers()
    w.reload(authorizer_listen=f"127.0.0.1:{other}")
    w.wait_workers(3, exclude=old, timeout=5)
    assert "authorizer_listen changed: restart warren-api" in w.log_since(off)
    asks_authorizer(addr)
    try:
        socket.create_connection(("127.0.0.1", other), timeout=1).close()
        raise AssertionError("the new authorizer_listen was opened without a restart")
    except ConnectionRefusedError:
        pass
    # Under load, a reload loses no request on the Authorizer listener.
    failures = []
    old = w.workers()
    w.reload(workers=2)
    for _ in range(30):
        try:
            asks_authorizer(addr)
        except (AssertionError, OSError) as e:
            failures.append(e)
    w.wait_workers(2, exclude=old, timeout=5)
    assert not failures, failures[:3]
    assert w.stop_api() == 0
    # Both are closed with the master.
    for a in (addr, w.sock):
        try:
            fcgi_connect(a).close()
            raise AssertionError(f"{a} still accepts after the stop")
        except (ConnectionRefusedError, FileNotFoundError):
            pass


def test_authorizer_listen_in_use_fails(tmp_path):
    """A start that cannot open the Authorizer listener fails, clearly."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        conf = tmp_path / "taken.conf"
        conf.write_text(f"listen = {tmp_path}/api.sock\nworkers = 1\n"
                        f"authorizer_listen = 127.0.0.1:{port}\n")
        r = subprocess.run(
            [str(API_BIN), "-c", str(conf)], stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=20, env=base_env(),
        )
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert f"could not listen on 127.0.0.1:{port}" in r.stderr, r.stderr


def test_non_loopback_authorizer_listen_refused_at_start(tmp_path):
    conf = tmp_path / "open.conf"
    conf.write_text(f"listen = {tmp_path}/api.sock\nworkers = 1\n")
    for value in ("0.0.0.0:9000", "[::]:9000", "192.0.2.1:9000"):
        r = subprocess.run(
            [str(API_BIN), "-c", str(conf)], stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=20, env=base_env(WARREN_AUTHORIZER_LISTEN=value),
        )
        assert r.returncode == 1, (value, r.returncode, r.stderr)
        assert "authorizer_listen: expected a loopback address" in r.stderr, r.stderr
        assert not os.path.exists(tmp_path / "api.sock")
