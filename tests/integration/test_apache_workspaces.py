"""The workspace hosts through the shipped Apache site (etc/apache2/warren.conf):
mod_authnz_fcgi asks warren-api, in the FastCGI Authorizer role, about
every request, and mod_rewrite proxies to the upstream it names.  The same
answers as behind nginx: the owner reaches the workspace by host name
after the sign-in hand-off, an anonymous browser is sent to sign in, a
script gets 401, another user 403, a public port needs no sign-in, a
stopped workspace says so (503), WebSocket passes, and Warren's
credentials never reach the container.  Apache is never reloaded.

One stack for the module: PostgreSQL, warren-api on its unix socket and
its Authorizer listener (with the nginx site the stack always starts,
unused here but for comparison), Apache in front of it and a private
dockerd; workspaces converge with
`warren-reconciler --once`.  Every request goes to Apache on 127.0.0.1
with the workspace's host name.
"""

import os
import pathlib
import shutil
import tempfile
import time
import urllib.parse

import pytest

pytest.register_assert_rewrite("routing_util", "docker_util")

from conftest import TOP, free_port, wait_for  # noqa: E402
from identity_util import unique  # noqa: E402
from routing_util import (  # noqa: E402
    ALT_PORT, API_HOST, CACHE_TTL, MAIN_PORT, STEERING, Agent, RoutingStack, WebSocketRefused,
    cookies_in, forwarded_as_sent, host_of, proxied_head, served, via_nginx, websocket_echo,
)
from test_apache import Apache  # noqa: E402

pytest_plugins = ["docker_util", "routing_util"]

# What the Authorizer says to Apache alone, never to a client.
PRIVATE = ("x-warren-upstream", "x-warren-cookie", "variable-", "warren_upstream",
           "warren_cookie")


class Front:
    """Apache where routing_util's helpers expect nginx (they use .port)."""

    def __init__(self, apache):
        self.port = apache.port


class World:
    """a owns w (running) and w_ss (never started, for start and stop);
    b is another user."""


def read_pid(path):
    """The pid in path, or None while Apache has not written it yet (it
    listens before it writes the file)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


@pytest.fixture(scope="module")
def world(pg, dockerd, echo_image):
    d = pathlib.Path(tempfile.mkdtemp(prefix="warren-apache-ws-", dir="/tmp"))
    shutil.chown(d, "root", "www-data")
    os.chmod(d, 0o750)
    htdocs = d / "htdocs"
    shutil.copytree(TOP / "htdocs", htdocs)
    st = apache = None
    try:
        x = World()
        # The socket is in the directory only root and www-data enter.
        st = RoutingStack(pg, d / "stack", dockerd, listen_mode="0666",
                          authorizer_listen=f"127.0.0.1:{free_port()}")
        apache = Apache(d / "apache", st.w.sock, st.w.conf["authorizer_listen"], htdocs)
        x.st, x.apache, x.front = st, apache, Front(apache)
        x.pid = wait_for(lambda: read_pid(apache.dir / "apache2.pid"), 30,
                         what="apache2.pid")
        x.a, x.ta = st.user("alice")
        x.b, x.tb = st.user("bob")
        x.tpl = st.echo_template()
        x.w = st.as_user(x.ta, "POST", "/workspaces", 201,
                         json={"name": unique("ws-"), "template": x.tpl["id"]}).json()
        x.w_ss = st.as_user(x.ta, "POST", "/workspaces", 201,
                            json={"name": unique("ws-"), "template": x.tpl["id"],
                                  "start": False}).json()
        st.once()
        st.wait_build(x.w["build_id"], 30, "succeeded")
        yield x
    finally:
        errors = apache.finish() if apache else []
        if st:
            errors += st.close()
        shutil.rmtree(d, ignore_errors=True)
        if errors:
            pytest.fail("\n".join(errors))


def via(x, host, **kw):
    """A request to Apache on 127.0.0.1 for host."""
    return via_nginx(x.front, host, **kw)


def private_leaks(resp):
    """Headers of the Authorizer's for Apache alone that reached the client."""
    return [h for h in resp.headers
            if any(h.lower().startswith(p) for p in PRIVATE)]


def refused(resp, status, text):
    """warren-api's own page, as nginx's site has it, in plain text.
    Unlike nginx, Apache passes on the refusal's X-Warren-State (which
    says what the status and text say)."""
    assert resp.status_code == status and text in resp.text, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8", resp.headers
    assert "X-Warren-State" in resp.headers, resp.headers
    assert not private_leaks(resp), resp.headers


def settle():
    """Past the forward endpoint's per-worker cache."""
    time.sleep(CACHE_TTL + 0.15)


def test_owner_reaches_the_workspace_by_host_name(world):
    """A browser signs in on the API host (through Apache), opens the
    workspace URL and follows the hand-off to the container."""
    x = world
    host = host_of(x.w)
    browser = Agent(x.front)
    browser.login(x.a)
    r = browser.open_workspace(host, "/hello?q=1")
    assert served(r, MAIN_PORT), (r.status_code, r.text[:300], browser.history,
                                  x.apache.log())
    # The hand-off went through Apache: sign-in URL, code, cookie, page.
    steps = [(urllib.parse.urlsplit(u).netloc, urllib.parse.urlsplit(u).path, s)
             for _, u, s, _ in browser.history[1:]]
    assert steps == [(host, "/hello", 302), (API_HOST, "/api/v1/auth/handoff", 302),
                     (host, "/_warren/handoff", 302), (host, "/hello", 200)], steps
    heads, raw = proxied_head(r)
    assert raw.startswith("GET /hello?q=1 HTTP/1.1"), raw
    assert heads["host"] == [host], heads
    assert "cookie" not in heads, heads   # warren_ws stopped at Apache
    assert set(browser.cookies_for(host)) == {"warren_ws", "app_seen"}, \
        browser.cookies_for(host)
    assert heads.get("x-forwarded-for") == ["127.0.0.1"], heads
    assert not private_leaks(r), r.headers
    # The Authorizer's own headers do not ride on the container's answer.
    assert "no-store" not in r.headers.get("Cache-Control", ""), r.headers
    assert "X-Request-Id" not in r.headers, r.headers
    # The target goes on as sent: encoded "/", "?" and "&" stay so.
    target = "/a%20b/c%2Fd%3Fe?x=%26&y=1+2%3F"
    r = browser.get(f"http://{host}{target}")
    assert served(r, MAIN_PORT), (r.status_code, r.text[:300])
    assert proxied_head(r)[1].startswith(f"GET {target} HTTP/1.1"), r.text
    # Only the exact hand-off path is Warren's.
    r = browser.get(f"http://{host}/_warren/handoff/x")
    assert served(r, MAIN_PORT), (r.status_code, r.text[:300])
    # Another method with a body reaches the container too.
    r = browser.request("POST", f"http://{host}/form", data=b"k=v" * 1000,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert served(r, MAIN_PORT), (r.status_code, r.text[:300])
    assert proxied_head(r)[1].startswith("POST /form HTTP/1.1"), r.text


def test_anonymous_browser_is_sent_to_sign_in(world):
    """The same 302 as nginx's site; a script gets 401."""
    x = world
    host = host_of(x.w)
    r = via(x, host, path="/some/page?x=1", accept="text/html,application/xhtml+xml")
    refused(r, 302, "Sign in")
    u = urllib.parse.urlsplit(r.headers["Location"])
    assert (u.scheme, u.netloc, u.path) == ("http", API_HOST, "/api/v1/auth/handoff"), u
    assert urllib.parse.parse_qs(u.query) == {"host": [host], "path": ["/some/page?x=1"]}, u
    n = via_nginx(x.st, host, path="/some/page?x=1", accept="text/html,application/xhtml+xml")
    assert n.status_code == 302 and n.headers["Location"] == r.headers["Location"], \
        (n.status_code, n.headers, r.headers)
    # The client's X-Forwarded-Host or X-Original-URI do not count.
    r = via(x, host, path="/p", accept="text/html",
            headers={"X-Forwarded-Host": host_of(x.w_ss), "X-Original-URI": "/elsewhere"})
    assert r.status_code == 302, r.status_code
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert q == {"host": [host], "path": ["/p"]}, q
    r = via(x, host, path="/some/page", accept="application/json")
    refused(r, 401, "Sign in to reach this workspace.")
    assert r.headers["WWW-Authenticate"].startswith("Bearer"), r.headers
    assert "Location" not in r.headers
    # A token that is not valid is nobody.
    r = via(x, host, token="not-a-token")
    assert r.status_code == 401, r.status_code


def test_other_user_is_refused(world):
    x = world
    host = host_of(x.w)
    browser = Agent(x.front)
    browser.login(x.b)
    refused(browser.open_workspace(host), 403, "You may not open this workspace.")
    refused(via(x, host, token=x.tb, accept="text/html"), 403, "may not open")
    # The owner's script, by contrast, gets through, and its token stops
    # at Apache.
    r = via(x, host, token=x.ta, path="/echo", cookies={"app_pref": "red"})
    assert served(r, MAIN_PORT), (r.status_code, r.text[:200])
    heads, raw = proxied_head(r)
    assert "authorization" not in heads and x.ta not in raw, raw
    assert cookies_in(heads) == {"app_pref": "red"}, heads


def test_public_port_needs_no_sign_in(world):
    x, st = world, world.st
    alt = host_of(x.w, ALT_PORT)
    r = via(x, alt)
    assert r.status_code == 401, r.status_code
    st.share(x.ta, x.w, ALT_PORT, "public")
    try:
        wait_for(lambda: served(via(x, alt, accept="text/html"), ALT_PORT), 5,
                 what="the public port for anyone")
        # The main port keeps its own level.
        assert via(x, host_of(x.w)).status_code == 401
    finally:
        st.unshare(x.ta, x.w, ALT_PORT)


def test_unknown_workspace_is_404(world):
    x = world
    for host in (f"aaaaaaaaaa.{API_HOST}", f"{x.w['short_id']}-9999.{API_HOST}",
                 f"a.b.{API_HOST}"):
        refused(via(x, host, token=x.ta), 404, "No such workspace.")


def test_stopped_and_starting(world):
    """503 "stopped", "starting" with Retry-After, then the container; no
    Apache reload on the way."""
    x, st = world, world.st
    ws, host = x.w_ss, host_of(x.w_ss)
    workers = apache_children(x.pid)
    r = via(x, host, token=x.ta)
    refused(r, 503, "This workspace is stopped.")
    assert "Retry-After" not in r.headers, r.headers
    b = st.as_user(x.ta, "POST", f"/workspaces/{ws['id']}/builds", 201,
                   json={"transition": "start"}).json()
    settle()
    r = via(x, host, token=x.ta)
    refused(r, 503, "This workspace is starting.")
    assert r.headers.get("Retry-After") == "2", r.headers
    st.once()
    st.wait_build(b["id"], 30, "succeeded")
    wait_for(lambda: served(via(x, host, token=x.ta), MAIN_PORT), 5,
             what="the started workspace through Apache")
    b = st.as_user(x.ta, "POST", f"/workspaces/{ws['id']}/builds", 201,
                   json={"transition": "stop"}).json()
    settle()
    refused(via(x, host, token=x.ta, accept="text/html"), 503, "stopped")
    st.once()
    st.wait_build(b["id"], 30, "succeeded")
    r = via(x, host, token=x.ta)
    assert r.status_code == 503 and "stopped" in r.text, (r.status_code, r.text)
    assert apache_children(x.pid) == workers, "Apache restarted its children"


def test_the_workspace_gets_the_host_as_the_browser_sent_it(world):
    x = world
    forwarded_as_sent(lambda h, **kw: via(x, h, token=x.ta, path="/echo", **kw),
                      host_of(x.w), x.front.port)


def test_websocket_echo_through_apache(world):
    x = world
    host = host_of(x.w)
    msgs = ["hello", "x" * 1000, "ünïcödé"]
    assert websocket_echo(x.front, host, msgs,
                          headers={"Authorization": f"Bearer {x.ta}"}) == msgs
    browser = Agent(x.front)
    browser.login(x.a)
    assert served(browser.open_workspace(host), MAIN_PORT)
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies_for(host).items())
    assert websocket_echo(x.front, host, ["via cookie"],
                          headers={"Cookie": cookie}) == ["via cookie"]
    for headers, want in (({}, 401), ({"Authorization": f"Bearer {x.tb}"}, 403)):
        with pytest.raises(WebSocketRefused) as e:
            websocket_echo(x.front, host, ["no"], headers=headers)
        assert e.value.status == want, e.value.head


def apache_children(pid):
    """The PIDs of Apache's children: a graceful restart replaces them."""
    out = set()
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.add(int(p.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


@pytest.mark.parametrize("header", STEERING)
def test_workspace_answers_cannot_pass_as_warrens(world, header):
    """What a page of the workspace sends in its headers: Warren's own
    headers and other servers' X-Accel-* directives stop at Apache."""
    x = world
    r = via(x, host_of(x.w), token=x.ta, headers={"X-Echo-Reply": header})
    assert served(r, MAIN_PORT), (header, r.status_code, r.text[:300])
    assert not [k for k in r.headers if k.lower().startswith(("x-warren-", "x-accel-"))], \
        dict(r.headers)
    r = via(x, host_of(x.w), token=x.ta, headers={"X-Echo-Reply": "X-Demo-Reply: yes"})
    assert r.headers.get("X-Demo-Reply") == "yes", dict(r.headers)
