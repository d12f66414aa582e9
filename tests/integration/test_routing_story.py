"""Issue 6 point 6, end to end on the real stack: PostgreSQL, nginx with the
shipped site, warren-api, a warren-reconciler daemon writing the Traefik
snapshot, and a private dockerd.  A browser (host-only cookie jar, every
request to nginx on 127.0.0.1 with the URL's host name) signs in, opens
its workspace by host name, talks WebSocket through the proxy; another
user is refused until the port is shared; a public port needs no sign-in;
stop, start and delete show in the answers, in Docker and in the Traefik
file, which stays schema-valid and is rewritten only when it changes.
nginx is never reloaded.
"""

import os
import time
import urllib.parse

import pytest

pytest.register_assert_rewrite("routing_util", "docker_util")

from conftest import wait_for  # noqa: E402
from identity_util import reload_and_wait, sign_in, unique  # noqa: E402
from routing_util import (  # noqa: E402
    ALT_PORT, BASE_DOMAIN, MAIN_PORT, Agent, check_traefik_contract, host_of, routing_stack,
    proxied_head, cookies_in, served, traefik_routes, via_nginx, wait_traefik, websocket_echo,
)

pytest_plugins = ["docker_util", "routing_util"]

PROBE_TIMEOUT = 30   # echo_spec's probe timeout: the readiness time


@pytest.fixture(scope="module")
def story(pg, tmp_path_factory, dockerd, echo_image):
    with routing_stack(pg, tmp_path_factory.mktemp("story"), dockerd) as st:
        yield st


def until(get, pred, timeout, what):
    """get() until pred(answer) holds (a Response is false when not 2xx,
    so wait_for alone cannot carry it); the answer."""
    box = []

    def ok():
        box[:] = [get()]
        return pred(box[0])

    try:
        wait_for(ok, timeout, interval=0.1, what=what)
    except BaseException:
        r = box[0] if box else None
        print("last answer:", r is not None and (r.status_code, r.text[:300]))
        raise
    return box[0]


def routes_of(doc, ws):
    return {n: r for n, r in traefik_routes(doc).items() if r[0].startswith(ws["short_id"])}


def test_story(story, tmp_path):
    st = story
    t_dir = tmp_path / "traefik"
    t_dir.mkdir()
    t_file = t_dir / "warren.yml"
    forward_url = f"http://127.0.0.1:{st.port}/api/v1/auth/forward"
    # A crash left a temporary file beside the snapshot.
    stale = t_dir / ".warren-warren.yml.tmp4242"
    stale.write_text("http:\n  routers:\n")
    nginx = st.nginx_pids()

    recon = st.reconciler(traefik_file=str(t_file), traefik_version=3,
                          traefik_forward_url=forward_url, reconciler_resync=2).start()
    doc = wait_traefik(t_file, 3, lambda d: True, 20, "the first Traefik snapshot")
    assert not stale.exists(), "the stale temporary file is still there"
    check_traefik_contract(doc, forward_url)
    assert traefik_routes(doc) == {}, doc

    def snapshot(pred, what):
        doc = wait_traefik(t_file, 3, pred, 20, what)
        check_traefik_contract(doc, forward_url)
        text = t_file.read_text()
        for typed in typed_names:
            assert typed not in text, f"{typed!r} (typed by a user) is in the Traefik file"
        return doc

    # The image is built here; an admin makes a template of it.
    tpl = st.echo_template()
    a, ta = st.user("anna")
    b, tb = st.user("boris")
    typed_names = [tpl["name"], a.name, b.name]

    # A signs in and creates a workspace; her browser reaches it by host
    # name within the readiness time.
    browser_a = Agent(st)
    browser_a.login(a)
    name = unique("annas-ws-")
    typed_names.append(name)
    t0 = time.monotonic()
    ws = st.as_user(ta, "POST", "/workspaces", 201,
                    json={"name": name, "template": tpl["id"]}).json()
    host, alt = host_of(ws), host_of(ws, ALT_PORT)
    assert urllib.parse.urlsplit(ws["url"]).hostname == host, ws["url"]

    def opened():
        return until(lambda: browser_a.open_workspace(host, "/hello"),
                     lambda r: r.status_code != 503, PROBE_TIMEOUT, "A's workspace by host name")

    r = opened()
    assert served(r, MAIN_PORT), (r.status_code, r.text[:300], browser_a.history[-6:])
    assert time.monotonic() - t0 < PROBE_TIMEOUT
    heads, raw = proxied_head(r)
    assert raw.startswith("GET /hello "), raw
    assert set(cookies_in(heads)) == set(), heads   # warren_ws stopped at nginx
    # The host's jar: Warren's cookie and the workspace's own.
    assert set(browser_a.cookies_for(host)) == {"warren_ws", "app_seen"}, \
        browser_a.cookies_for(host)
    assert any(k.endswith("warren_access") for k in browser_a.cookies_for("warren.localhost"))
    st.wait_status(ws, "running", 10)
    port1 = st.port_of(ws)
    # A router for the host and one for each declared port, shared or
    # not: the forward endpoint decides who gets through.
    doc = snapshot(lambda d: len(routes_of(d, ws)) == 3, "the workspace's routers")
    assert routes_of(doc, ws) == {
        f"warren-{ws['short_id']}": (host, 100, f"http://127.0.0.1:{port1}"),
        f"warren-{ws['short_id']}-{MAIN_PORT}": (host_of(ws, MAIN_PORT), 200,
                                                 f"http://127.0.0.1:{port1}"),
        f"warren-{ws['short_id']}-{ALT_PORT}": (
            alt, 200, f"http://127.0.0.1:{st.port_of(ws, ALT_PORT)}")}, doc

    # WebSocket echo through the proxy, with the browser's cookie.
    cookie = "; ".join(f"{k}={v}" for k, v in browser_a.cookies_for(host).items())
    assert websocket_echo(st, host, ["ping", "pong" * 100],
                          headers={"Cookie": cookie}) == ["ping", "pong" * 100]

    # B is refused: signed in, so not sent to sign in again, but 403.
    browser_b = Agent(st)
    browser_b.login(b)
    r = browser_b.open_workspace(host)
    assert r.status_code == 403 and "may not open" in r.text, (r.status_code, r.text)

    # A shares the port as "authenticated": B gets in.
    st.share(ta, ws, MAIN_PORT, "authenticated")
    until(lambda: browser_b.open_workspace(host), lambda r: served(r, MAIN_PORT), 5, "B let in")
    doc = snapshot(lambda d: len(routes_of(d, ws)) == 3, "the shared port's router")
    port8080 = st.port_of(ws, MAIN_PORT)
    assert routes_of(doc, ws)[f"warren-{ws['short_id']}-{MAIN_PORT}"] == (
        host_of(ws, MAIN_PORT), 200, f"http://127.0.0.1:{port8080}"), doc
    # Anonymous is still sent to sign in there.
    r = via_nginx(st, host, accept="text/html")
    assert r.status_code == 302, r.status_code

    # A public port needs no sign-in at all.
    r = via_nginx(st, alt)
    assert r.status_code == 401, r.status_code
    st.share(ta, ws, ALT_PORT, "public")
    wait_for(lambda: served(via_nginx(st, alt, accept="text/html"), ALT_PORT), 5,
             what="the public port for anyone")
    doc = snapshot(lambda d: len(routes_of(d, ws)) == 3, "the public port's router")
    assert routes_of(doc, ws)[f"warren-{ws['short_id']}-{ALT_PORT}"] == (
        alt, 200, f"http://127.0.0.1:{st.port_of(ws, ALT_PORT)}"), doc

    # An unchanged snapshot is not rewritten (passes every 2 s).
    before = os.stat(t_file)
    time.sleep(4.5)
    after = os.stat(t_file)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)

    # A writes a file in her home volume.
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", "echo kept by anna > /home/dev/notes.txt"])
    assert code == 0, out

    # Stop: the host says "stopped", the container goes, the routes go.
    b1 = st.as_user(ta, "POST", f"/workspaces/{ws['id']}/builds", 201,
                    json={"transition": "stop"}).json()
    st.wait_build(b1["id"], 60, "succeeded")
    r = until(lambda: browser_a.open_workspace(host), lambda r: r.status_code == 503, 5,
              "the stopped answer")
    assert "stopped" in r.text, r.text
    r = until(lambda: via_nginx(st, alt), lambda r: r.status_code == 503, 2,
              "the public port's stopped answer")
    assert "stopped" in r.text, r.text
    assert st.containers_of(ws) == [], st.containers_of(ws)
    assert st.docker.volume(st.vname(ws)) is not None, "the home volume went with the container"
    snapshot(lambda d: not routes_of(d, ws), "the routes of the stopped workspace to go")

    # Start: back, with A's file, and routes to wherever Docker published.
    b2 = st.as_user(ta, "POST", f"/workspaces/{ws['id']}/builds", 201,
                    json={"transition": "start"}).json()
    t0 = time.monotonic()
    r = opened()
    assert served(r, MAIN_PORT), (r.status_code, r.text[:300])
    assert time.monotonic() - t0 < PROBE_TIMEOUT
    st.wait_build(b2["id"], 30, "succeeded")
    code, out = st.docker.exec(st.cname(ws), ["cat", "/home/dev/notes.txt"])
    assert code == 0 and out.strip() == "kept by anna", out
    assert served(browser_b.open_workspace(host), MAIN_PORT)
    assert served(via_nginx(st, alt), ALT_PORT)
    doc = snapshot(lambda d: len(routes_of(d, ws)) == 3 and routes_of(d, ws)[
        f"warren-{ws['short_id']}"][2] == f"http://127.0.0.1:{st.port_of(ws)}",
        "the routes back after start")

    # Delete: container, volume and routes gone; the host knows it no more.
    r = st.as_user(ta, "DELETE", f"/workspaces/{ws['id']}")
    assert r.status_code in (200, 202, 204), (r.status_code, r.text)
    wait_for(lambda: not st.containers_of(ws) and st.docker.volume(st.vname(ws)) is None, 60,
             what="container and volume removed")
    snapshot(lambda d: traefik_routes(d) == {}, "no routes left")
    r = until(lambda: browser_a.open_workspace(host), lambda r: r.status_code == 404, 5,
              "the deleted workspace's host")
    assert "No such workspace" in r.text, r.text
    # Every worker's cached answer for the public port is gone within 1 s.
    until(lambda: via_nginx(st, alt), lambda r: r.status_code == 404, 2, "the public port's 404")

    # nginx saw all of this without a reload or a restart.
    assert st.nginx_pids() == nginx, (nginx, st.nginx_pids())
    assert recon.running(), recon.log()[-2000:]


def test_hand_off_keeps_the_port_of_the_site(story):
    """The local stack: public_url and workspace URLs carry nginx's port."""
    st = story
    site = f"http://{BASE_DOMAIN}:{st.port}"
    reload_and_wait(st.w, public_url=site)
    # Tokens name their issuer, the public URL: sign in again.
    st.token = sign_in(st.w, st.admin_user)["access_token"]
    a, ta = st.user("carla")
    tpl = st.echo_template()
    ws = st.as_user(ta, "POST", "/workspaces", 201,
                    json={"name": unique("ws-"), "template": tpl["id"]}).json()
    assert ws["url"] == f"http://{host_of(ws)}:{st.port}", ws["url"]
    for old in st.recons:
        old.terminate()
    recon = st.reconciler().start()
    st.wait_build(ws["build_id"], 60, "succeeded")
    browser = Agent(st, site_port=st.port)
    browser.login(a)
    r = browser.follow(ws["url"] + "/")
    recon.terminate()
    assert served(r, MAIN_PORT), (r.status_code, browser.history)
