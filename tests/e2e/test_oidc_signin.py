"""Signing in with an OpenID Connect provider in Chromium (issue 15, points
10 to 13): the sign-in page's button, Glewlwyd's own login and consent
pages, and back through the shipped nginx site to the dashboard.

The provider is a real Glewlwyd (tests/integration/glewlwyd.py) on
127.0.0.1, signing with ES256; Warren knows it from one provider file
(issuer, client, client_secret_post).  The site is a second warren-api
on the stack's PostgreSQL behind its own nginx, so that the stack's
sign-in page stays as the other tests know it.
"""

import subprocess
import time

import pytest

pytest.register_assert_rewrite("e2e_fixtures", "browser")

from browser import Browser, axe_source  # noqa: E402
from e2e_fixtures import capture  # noqa: E402
from e2e_stack import ADMIN_NAME, ADMIN_PASSWORD, STACK_CONF, PublicWarren  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    ElementClickInterceptedException, StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402

from conftest import CTL_BIN  # noqa: E402
from glewlwyd import Glewlwyd  # noqa: E402

pytest_plugins = ["e2e_fixtures"]

PROVIDER = "corp"
DISPLAY = "Corp SSO"


@pytest.fixture(scope="module")
def gl(tmp_path_factory):
    g = Glewlwyd(tmp_path_factory.mktemp("glewlwyd")).start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def site(stack, gl, tmp_path_factory):
    d = tmp_path_factory.mktemp("oidc-site")
    providers = d / "providers"
    providers.mkdir()
    client_id, secret = gl.client("es256", "client_secret_post")
    (providers / f"{PROVIDER}.conf").write_text(
        f"issuer = {gl.issuer('es256')}\nclient_id = {client_id}\n"
        f"client_secret = {secret}\ndisplay_name = {DISPLAY}\n"
        "token_auth_method = client_secret_post\nallow_http = yes\n")
    conf = dict(STACK_CONF)
    conf.update(docker_host=stack.dockerd.host, signup_policy="open",
                secret_key_file=str(d / "api" / "secret.key"),
                oidc_provider_dir=str(providers))
    w = PublicWarren(stack.pg, d / "api", stack.pg.create_db("e2eoidc"), **conf)
    try:
        url = f"http://warren.localhost:{w.http_port}"
        gl.add_redirect_uri(f"{url}/api/v1/auth/oauth/{PROVIDER}/callback")
        r = subprocess.run([str(CTL_BIN), "-c", str(w.conf_path), "user", "add", ADMIN_NAME,
                            "--admin", "--password-stdin"], input=ADMIN_PASSWORD + "\n",
                           capture_output=True, text=True, env=w.env, timeout=60)
        assert r.returncode == 0, r.stderr
        w.site_url = url
        yield w
    finally:
        w.close()


@pytest.fixture
def b(site):
    br = Browser(site.site_url, axe_source())
    try:
        yield br
    finally:
        br.quit()


def on_glewlwyd(b, gl):
    return b.d.current_url.startswith(gl.url + "/login.html")


FIND_BUTTON = """return [...document.querySelectorAll('button')].find(b =>
    b.textContent.trim() === arguments[0] && !b.disabled && b.offsetParent !== null) || null;"""


def glewlwyd_button(b, label):
    """Clicks the enabled, visible button labelled label on Glewlwyd's
    pages (again, when its page redrew it in between)."""
    for _ in range(50):
        el = b.wait(lambda: b.d.execute_script(FIND_BUTTON, label), f"Glewlwyd's {label!r}", 30)
        try:
            el.click()
            return
        except (StaleElementReferenceException, ElementClickInterceptedException):
            time.sleep(0.1)
    pytest.fail(f"Glewlwyd's {label!r} kept moving")


def sign_in_at_glewlwyd(b, gl, username, password):
    """What a person does on Glewlwyd's pages: the login form, then the
    consent form the first time (tick every scope, grant), then Continue."""
    b.wait(lambda: on_glewlwyd(b, gl) and b.present("#username"), "Glewlwyd's login page", 30)
    b.d.find_element(By.ID, "username").send_keys(username)
    b.d.find_element(By.ID, "password").send_keys(password)
    b.d.find_element(By.ID, "loginbut").click()
    b.wait(lambda: b.d.execute_script(FIND_BUTTON, "Continue"), "Glewlwyd's Continue", 30)
    boxes = b.finds("input[id^=grant-]")
    if boxes:
        for box in boxes:
            if not box.is_selected():
                box.click()
        glewlwyd_button(b, "Grant access")
        b.wait(lambda: not b.finds("input[id^=grant-]:not(:checked)"), "every scope granted")
    glewlwyd_button(b, "Continue")


def start_at_warren(b, gl):
    b.cookies_clear()
    b.d.execute_cdp_cmd("Network.clearBrowserCookies", {})
    b.open("/")
    b.find(f'a.provider[data-provider="{PROVIDER}"]')
    assert b.text(f'a.provider[data-provider="{PROVIDER}"]').endswith(f"Continue with {DISPLAY}")
    b.click(f'a.provider[data-provider="{PROVIDER}"]')


def me(b):
    return b.d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/v1/me').then(async r => done([r.status, await r.json()]))"
        ".catch(e => done([0, String(e)]));")


def test_sign_up_then_sign_in_through_glewlwyds_pages(b, gl, site):
    gl.add_user("dana", "dana's long passphrase", "dana@example.org", "Dana Scully")
    start_at_warren(b, gl)
    sign_in_at_glewlwyd(b, gl, "dana", "dana's long passphrase")
    b.wait(lambda: b.d.current_url.startswith(site.site_url) and b.present("header.topbar")
           and b.settled(), "the dashboard after the provider's sign-in", 30)
    capture(b, "oidc-signed-in")
    status, who = me(b)
    assert status == 200, who
    assert who["email"] == "dana@example.org" and who["display_name"] == "Dana Scully", who
    first_id = who["id"]
    # Signed out of Warren (and of Glewlwyd: a new browser profile's
    # cookies), the same person comes back to the same account.
    start_at_warren(b, gl)
    sign_in_at_glewlwyd(b, gl, "dana", "dana's long passphrase")
    b.wait(lambda: b.d.current_url.startswith(site.site_url) and b.present("header.topbar")
           and b.settled(), "the dashboard after the second sign-in", 30)
    status, who = me(b)
    assert status == 200 and who["id"] == first_id, who


def test_a_refused_sign_in_comes_back_to_the_sign_in_page_saying_why(b, gl, site):
    gl.add_user("eve", "eve's long passphrase", "eve@example.org", "Eve", email_verified=False)
    start_at_warren(b, gl)
    sign_in_at_glewlwyd(b, gl, "eve", "eve's long passphrase")
    b.wait(lambda: b.d.current_url.startswith(site.site_url) and b.present(".signin-refusal .alert"),
           "the sign-in page with the refusal", 30)
    text = b.text(".signin-refusal .alert")
    assert text.startswith(f"Sign-in with {DISPLAY} failed") and "not verified" in text, text
    # The code is gone from the address bar; the page is still usable.
    assert "signin_error" not in b.d.current_url, b.d.current_url
    assert b.present(".signin-form") and not b.present("header.topbar")
    capture(b, "oidc-refused")
