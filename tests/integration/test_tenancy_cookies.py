"""A workspace cannot lock its visitors out with cookies (issue 15 point 4).

On http, a page of a workspace can set a cookie with Domain=<the site's
domain> (or a longer Path) under a Warren cookie's name, and the browser
then sends two of that name to the API host and to the workspace hosts.
warren-api tries every cookie of a name, in every place it reads one (the
access token, the CSRF token, the refresh token, the workspace host's
cookie, the sign-in binding), so a planted cookie neither stands in for the
real one nor locks anyone out.  On https every Warren cookie has the
__Host- prefix, which a browser never lets another host set: the workspace
host's cookie too.  The same in a real browser: tests/e2e.
"""

import re

import pytest

pytest.register_assert_rewrite("docker_util", "routing_util")

from identity_util import Browser, login, me  # noqa: E402
from routing_util import (  # noqa: E402
    API_HOST, RoutingStack, api_cookies, host_of, redeem, served, take_code, via_nginx, ws_cookie,
)

pytest_plugins = ["docker_util", "routing_util"]

PLANTED = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."   # what a workspace page could set
SITE = f"http://{API_HOST}"


@pytest.fixture(scope="module")
def world(pg, tmp_path_factory, dockerd, echo_image):
    st = RoutingStack(pg, tmp_path_factory.mktemp("cookies"), dockerd)
    try:
        st.reconciler(reconciler_resync=5).start()
        user, token = st.user("cook")
        ws = st.as_user(token, "POST", "/workspaces", 201,
                        json={"name": "cook-ws", "template": st.echo_template()["id"]}).json()
        st.wait_build(ws["build_id"], 60, "succeeded")
        yield st, user, ws
    finally:
        errors = st.close()
        if errors:
            pytest.fail("\n".join(errors))


def header(*pairs):
    return "; ".join(f"{k}={v}" for k, v in pairs)


@pytest.mark.parametrize("planted_first", [True, False])
def test_api_tries_every_access_and_csrf_cookie(world, planted_first):
    st, user, _ = world
    b = Browser(st.w)
    b.login(user, origin=SITE)
    access, csrf = b.jar["warren_access"], b.jar["warren_csrf"]
    pairs = [("warren_access", PLANTED), ("warren_access", access)]
    if not planted_first:
        pairs.reverse()
    r = me(st.w, headers={"Cookie": header(*pairs)})
    assert r.status_code == 200 and r.json()["auth"] == "cookie", r.text
    # A change needs the CSRF token of one of the csrf cookies.
    cookies = pairs + [("warren_csrf", "planted-csrf"), ("warren_csrf", csrf)]
    r = b.request("PATCH", f"/users/{user.id}", csrf=csrf, origin=SITE,
                  headers={"Cookie": header(*cookies)}, json={"display_name": "Cookie Monster"})
    assert r.status_code == 200, r.text
    r = b.request("PATCH", f"/users/{user.id}", csrf="planted-csrf", origin=SITE,
                  headers={"Cookie": header(*pairs, ("warren_csrf", "other"))},
                  json={"display_name": "Nope"})
    assert r.status_code == 403, r.text
    # Nothing but planted cookies: nobody.
    assert me(st.w, headers={"Cookie": header(("warren_access", PLANTED))}).status_code == 401


def test_refresh_tries_every_refresh_cookie(world):
    st, user, _ = world
    b = Browser(st.w)
    b.login(user, origin=SITE)
    cookies = [("warren_refresh", "planted-refresh-token-0000000000"),
               ("warren_refresh", b.jar["warren_refresh"]), ("warren_csrf", b.jar["warren_csrf"])]
    r = b.request("POST", "/auth/refresh", origin=SITE, headers={"Cookie": header(*cookies)})
    assert r.status_code == 200, r.text


def test_workspace_host_tries_every_workspace_cookie(world):
    st, user, ws = world
    host = host_of(ws)
    real = ws_cookie(st, api_cookies(st, user), host)
    for pairs in ([("warren_ws", PLANTED), ("warren_ws", real)],
                  [("warren_ws", real), ("warren_ws", PLANTED)]):
        r = via_nginx(st, host, headers={"Cookie": header(*pairs)})
        assert served(r, 8080), (r.status_code, r.text[:200])
        assert "warren_ws" not in r.text   # none of them reaches the workspace
    r = via_nginx(st, host, headers={"Cookie": header(("warren_ws", PLANTED))})
    assert r.status_code == 401, r.status_code


def test_https_gives_every_cookie_the_host_prefix(pg, tmp_path, dockerd, echo_image):
    """With an https public_url the workspace host's cookie is
    __Host-warren_ws (Secure, host-only, Path=/), like the API's."""
    st = RoutingStack(pg, tmp_path / "tls", dockerd, public_url="https://warren.localhost")
    try:
        st.reconciler(reconciler_resync=5).start()
        user, token = st.user("tlsc")
        ws = st.as_user(token, "POST", "/workspaces", 201,
                        json={"name": "tls-ws", "template": st.echo_template()["id"]}).json()
        st.wait_build(ws["build_id"], 60, "succeeded")
        r = login(st.w, user.name, user.password, origin="https://warren.localhost")
        assert r.status_code == 200, r.text
        api = {c.name: c.value for c in r.cookies}
        assert set(api) == {"__Host-warren_access", "__Host-warren_refresh",
                            "__Host-warren_csrf"}, api
        host = host_of(ws)
        code, _ = take_code(st, api, host)
        r = redeem(st, host, code)
        assert r.status_code == 302, r.text
        set_cookie = r.headers["Set-Cookie"]
        assert re.match(r"__Host-warren_ws=[^;]+; Path=/; Max-Age=\d+; HttpOnly; "
                        r"SameSite=Lax; Secure$", set_cookie), set_cookie
        value = set_cookie.split(";")[0].split("=", 1)[1]
        assert served(via_nginx(st, host, headers={"Cookie": f"__Host-warren_ws={value}"}), 8080)
        # Without the prefix the cookie is not the host's.
        assert via_nginx(st, host, headers={"Cookie": f"warren_ws={value}"}).status_code == 401
    finally:
        errors = st.close()
        if errors:
            pytest.fail("\n".join(errors))


def test_workspaces_on_a_domain_of_their_own(pg, tmp_path, dockerd, echo_image):
    """The recommended set-up: the site at one registrable domain
    (public_url), the workspaces at another (base_domain), so no page of a
    workspace can set a cookie the site receives.  Sign-in on the site, the
    hand-off to the workspace's host on the other domain, and the host's
    own cookie there."""
    st = RoutingStack(pg, tmp_path / "split", dockerd, public_url="http://warren-site.test")
    try:
        st.reconciler(reconciler_resync=5).start()
        user, token = st.user("split")
        ws = st.as_user(token, "POST", "/workspaces", 201,
                        json={"name": "split-ws", "template": st.echo_template()["id"]}).json()
        st.wait_build(ws["build_id"], 60, "succeeded")
        host = host_of(ws)
        assert ws["url"] == f"http://{host}", ws["url"]
        assert not host.endswith("warren-site.test")
        api = api_cookies(st, user)
        code, loc = take_code(st, api, host)
        assert loc.startswith(f"http://{host}/_warren/handoff?"), loc
        r = redeem(st, host, code)
        assert r.status_code == 302 and "Domain" not in r.headers["Set-Cookie"], r.headers
        value = r.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
        assert served(via_nginx(st, host, headers={"Cookie": f"warren_ws={value}"}), 8080)
        # A browser going to the workspace without a session: sent to sign
        # in on the site's domain.
        r = via_nginx(st, host, accept="text/html")
        assert r.status_code == 302, r.status_code
        assert r.headers["Location"].startswith("http://warren-site.test/api/v1/auth/handoff?"), \
            r.headers["Location"]
    finally:
        errors = st.close()
        if errors:
            pytest.fail("\n".join(errors))
