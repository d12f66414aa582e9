"""A workspace cannot lock its visitors out with cookies (issue 15 point 4),
in Chromium, on http and on https.

The workspace's page plants cookies under Warren's names for the whole
domain (Domain=warren.localhost, and a longer Path for the API): on http the
browser then sends two of each name to the site and to the workspace hosts,
and Warren must still know its own; on https every Warren cookie has the
__Host- prefix, which the browser refuses to let the workspace set at all.
The https site is a second warren-api on the same PostgreSQL and Docker
Engine, behind the shipped nginx site with TLS from a test CA.
"""

import re
import subprocess

import pytest

pytest.register_assert_rewrite("e2e_fixtures", "browser")

import requests  # noqa: E402
import urllib3  # noqa: E402

from browser import Browser, axe_source  # noqa: E402
from e2e_fixtures import sign_in  # noqa: E402
from e2e_stack import (  # noqa: E402
    ADMIN_NAME, ADMIN_PASSWORD, STACK_CONF, PublicWarren, demo_version,
)

from conftest import CTL_BIN, START_TIMEOUT, wait_for  # noqa: E402
from docker_util import CertAuthority, Reconciler, build_image  # noqa: E402

pytest_plugins = ["e2e_fixtures"]

PLANTER = "warren/planter:1"
PLANTED = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0."
# The workspace's page: what any page of a workspace may run.
PLANTER_PAGE = f"""<!doctype html><title>Planter</title>
<p id="state">planting</p>
<script>
for (const name of ["warren_access", "warren_refresh", "warren_csrf", "warren_ws",
                    "__Host-warren_access", "__Host-warren_ws"]) {{
  document.cookie = name + "={PLANTED}; Domain=warren.localhost; Path=/";
  document.cookie = name + "={PLANTED}; Domain=warren.localhost; Path=/api";
}}
document.getElementById("state").textContent = "planted";
</script>
"""
CAROL, CAROL_PASSWORD = "carol", "carol-password-1"
urllib3.disable_warnings()   # the https site's certificate is the test CA's


@pytest.fixture(scope="module")
def planter(stack):
    build_image(stack.dockerd.client, PLANTER, PLANTER_PAGE)
    return stack.api("POST", "/templates", 201, json={
        "name": "planter", "version": demo_version(image=PLANTER)}).json()


def make_user(site, name, password):
    r = site.api("POST", "/users", json={"username": name, "password": password})
    assert r.status_code in (201, 409), r.text


def start_workspace(site, token, template, name):
    ws = site.api("POST", "/workspaces", 201, token=token,
                  json={"name": name, "template": template["id"]}).json()
    site.wait_status(ws["id"], "running", 120)
    return site.api("GET", f"/workspaces/{ws['id']}", 200, token=token).json()


def me_in_browser(b, base):
    """GET /api/v1/me from the site's page, as its scripts do."""
    return b.d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0] + '/api/v1/me').then(async r => done([r.status, await r.text()]))"
        ".catch(e => done([0, String(e)]));", base)


def cookies_named(b, name):
    return [c for c in b.d.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
            if c["name"] == name]


def visit_and_plant(b, base, ws):
    host = ws["url"].split("//")[1].rstrip("/")
    b.d.get(f"{base}/api/v1/auth/handoff?host={host}&path=%2F")
    b.wait(lambda: b.text("#state") == "planted", "the workspace's page to plant its cookies", 60)
    return host


def still_works(b, base, ws, host, user):
    """The site knows its user, its pages work, and the workspace opens."""
    b.d.get(base + "/")
    b.wait(lambda: b.present("header.topbar") and b.settled(), "the dashboard, signed in")
    assert "Sign in" not in b.heading()
    status, body = me_in_browser(b, base)
    assert status == 200 and f'"username":"{user}"' in body, (status, body)
    b.d.get(f"{base}/api/v1/auth/handoff?host={host}&path=%2F")
    b.wait(lambda: b.text("#state") == "planted", "the workspace to open again", 60)


def test_planted_cookies_lock_nobody_out_on_http(page, stack, planter):
    b = page
    make_user(stack, CAROL, CAROL_PASSWORD)
    token = stack.login(CAROL, CAROL_PASSWORD)
    ws = start_workspace(stack, token, planter, "planter-http")
    sign_in(b, CAROL, CAROL_PASSWORD)
    host = visit_and_plant(b, stack.url, ws)
    # The browser holds several of each name now: the site's (or the
    # workspace host's) own, and the two the page planted for the domain.
    def held(name, own_domain):
        return sorted((c["domain"], c["path"]) for c in cookies_named(b, name)
                      if c["domain"] in (own_domain, ".warren.localhost"))

    assert held("warren_access", "warren.localhost") == [
        (".warren.localhost", "/"), (".warren.localhost", "/api"), ("warren.localhost", "/")]
    assert held("warren_ws", host.split(":")[0]) == [
        (".warren.localhost", "/"), (".warren.localhost", "/api"), (host.split(":")[0], "/")]
    still_works(b, stack.url, ws, host, CAROL)
    # Signing out and in again works as well, the planted cookies still
    # there.
    b.d.get(stack.url + "/")
    b.wait(lambda: b.present("header.topbar") and b.settled(), "the dashboard")
    b.press("Sign out", scope="header")
    b.find(".signin-form")
    assert len(cookies_named(b, "warren_access")) >= 1
    b.fill("username", CAROL)
    b.fill("password", CAROL_PASSWORD)
    b.find(".signin-form button[type=submit]").click()
    b.wait(lambda: b.present("header.topbar") and b.settled(), "carol signed in again")
    still_works(b, stack.url, ws, host, CAROL)
    b.d.execute_cdp_cmd("Network.clearBrowserCookies", {})


class TLSWarren(PublicWarren):
    """A second warren-api behind the shipped nginx site with TLS: every
    server block of the site listens with ssl on the test CA's certificate
    for warren.localhost and *.warren.localhost."""

    cert = key = None

    def write_conf(self, conf=None):
        if conf is None:
            self.conf["public_url"] = f"https://warren.localhost:{self.http_port}"
        super(PublicWarren, self).write_conf(conf)

    def edit_site(self, site):
        text, n = re.subn(rf"listen 127\.0\.0\.1:{self.http_port};",
                          f"listen 127.0.0.1:{self.http_port} ssl;\n\tssl_certificate {self.cert};"
                          f"\n\tssl_certificate_key {self.key};", site.read_text())
        assert n == 2, "the nginx site has two server blocks"
        site.write_text(text)

    def wait_healthy(self):
        def ok():
            try:
                return requests.get(f"https://127.0.0.1:{self.http_port}/api/v1/health",
                                    verify=False, timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(ok, START_TIMEOUT, interval=0.05, what="/api/v1/health through nginx with TLS")


@pytest.fixture(scope="module")
def tls_site(stack, planter, tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca = CertAuthority(d / "ca")
    TLSWarren.cert, TLSWarren.key = ca.issue(
        "site", "serverAuth", "DNS:warren.localhost,DNS:*.warren.localhost")
    conf = dict(STACK_CONF)
    conf["docker_host"] = stack.dockerd.host
    conf["secret_key_file"] = str(d / "api" / "secret.key")
    w = TLSWarren(stack.pg, d / "api", stack.pg.create_db("e2etls"), **conf)
    rec = Reconciler(w, stack.dockerd.host, reconciler_resync=10)
    rec.start()

    class Site:
        url = f"https://warren.localhost:{w.http_port}"
        api_base = f"https://127.0.0.1:{w.http_port}/api/v1"

        def api(self, method, path, status=None, token=None, **kw):
            kw.setdefault("timeout", 10)
            r = requests.request(method, self.api_base + path, verify=False, headers={
                "Authorization": f"Bearer {token or self.admin_token}"}, **kw)
            if status is not None:
                assert r.status_code == status, (method, path, r.status_code, r.text[:500])
            return r

        def login(self, name, password):
            r = requests.post(self.api_base + "/auth/login", verify=False, timeout=10,
                              json={"username": name, "password": password})
            assert r.status_code == 200, r.text
            return r.json()["access_token"]

        def wait_status(self, ws_id, status, timeout):
            wait_for(lambda: self.api("GET", f"/workspaces/{ws_id}").json()["status"] == status,
                     timeout, interval=0.5, what=f"{ws_id} to be {status}")

    site = Site()
    r = subprocess.run([str(CTL_BIN), "-c", str(w.conf_path), "user", "add", ADMIN_NAME, "--admin",
                        "--password-stdin"], input=ADMIN_PASSWORD + "\n", capture_output=True,
                       text=True, env=w.env, timeout=60)
    assert r.returncode == 0, r.stderr
    site.admin_token = site.login(ADMIN_NAME, ADMIN_PASSWORD)
    site.template = site.api("POST", "/templates", 201, json={
        "name": "planter", "version": demo_version(image=PLANTER)}).json()
    try:
        yield site
    finally:
        rec.close()
        w.close()


def test_planted_cookies_lock_nobody_out_on_https(stack, tls_site):
    site = tls_site
    make_user(site, CAROL, CAROL_PASSWORD)
    token = site.login(CAROL, CAROL_PASSWORD)
    ws = start_workspace(site, token, site.template, "planter-https")
    b = Browser(site.url, axe_source(), extra_flags=["--ignore-certificate-errors"])
    try:
        sign_in(b, CAROL, CAROL_PASSWORD)
        names = {c["name"] for c in b.d.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]}
        assert {"__Host-warren_access", "__Host-warren_refresh", "__Host-warren_csrf"} <= names
        host = visit_and_plant(b, site.url, ws)
        ws_cookies = cookies_named(b, "__Host-warren_ws")
        # The workspace host's own cookie, host-only and Secure; the
        # browser refused every planted __Host- cookie.
        assert len(ws_cookies) == 1 and ws_cookies[0]["domain"] == host.split(":")[0] \
            and ws_cookies[0]["secure"], ws_cookies
        assert [c for c in cookies_named(b, "__Host-warren_access")
                if c["value"] == PLANTED] == []
        still_works(b, site.url, ws, host, CAROL)
    finally:
        b.quit()
