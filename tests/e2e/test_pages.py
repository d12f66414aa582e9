"""Issue 7: Warren's pages in headless Chromium against a complete local
Warren (PostgreSQL, warren-api behind the shipped nginx site, Docker and
warren-reconciler, from e2e_stack.py): sign-in, the workspace life cycle
(create, watch it run, open it, share a port, stop, delete), the admin's
users, quotas and template versions, and the messages of a wrong password
and of a quota refusal.

Every page is captured at desktop (1280x800) and phone (360x740) width, and
at desktop width in the dark theme, under test-output/screenshots/; axe-core
checks each capture for serious and critical violations, and the console
must stay free of errors (a Content-Security-Policy refusal is one).

The tests run in order and build on each other's data (alice, her quota,
version 2 of the demo template), as a person would.
"""

import time

import pytest

pytest.register_assert_rewrite("e2e_fixtures", "browser")

import requests  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from e2e_fixtures import PAGES, capture, captured, sign_in  # noqa: E402
from e2e_stack import ADMIN_NAME, ADMIN_PASSWORD, DEMO_PAGE, demo_version  # noqa: E402

pytest_plugins = ["e2e_fixtures"]

ALICE = "alice"
ALICE_PASSWORD = "alice-password-1"
WS_TIMEOUT = 120	# a workspace start or stop, on a small shared machine
HELLO = "Hello from a Warren workspace"
assert HELLO in DEMO_PAGE


def dialog_button(b, label):
    """The button labelled label of the open dialog."""
    dialog = b.find("dialog[open]")
    return b.wait(lambda: next((x for x in dialog.find_elements(By.CSS_SELECTOR, "button")
                                if x.text == label), None), f"the dialog's {label!r} button")


def summary(b, text):
    return b.wait(lambda: next((s for s in b.finds("summary") if s.text.strip() == text), None),
                  f"a <summary> {text!r}")


def hash_of(b):
    return b.d.execute_script("return location.hash")


def open_in_new_tab(b, link, expect_text, timeout=60):
    """Follows a target=_blank link; returns the URL the tab ended on."""
    before = set(b.d.window_handles)
    main = b.d.current_window_handle
    link.click()
    b.wait(lambda: len(set(b.d.window_handles) - before) == 1, "a new tab")
    tab = (set(b.d.window_handles) - before).pop()
    b.d.switch_to.window(tab)
    try:
        b.wait(lambda: expect_text in b.text(), f"{expect_text!r} in the new tab", timeout)
        return b.d.current_url
    finally:
        b.d.close()
        b.d.switch_to.window(main)


def workspace_host_get(stack, host):
    """GET / on a workspace host through nginx, as an anonymous script."""
    return requests.get(f"http://127.0.0.1:{stack.port}/", headers={"Host": host, "Accept": "text/html"},
                        allow_redirects=False, timeout=10)


# ---------------------------------------------------------------- sign-in


def test_pages_are_served_with_the_content_security_policy(stack):
    """nginx serves the pages under default-src 'self' (the console checks
    of every capture then prove that nothing was refused)."""
    for path in ("/", "/style.css", "/js/app.js", "/js/pages/workspace.js", "/favicon.svg"):
        r = requests.get(f"http://127.0.0.1:{stack.port}{path}", timeout=10,
                         headers={"Host": f"warren.localhost:{stack.port}"})
        assert r.status_code == 200, (path, r.status_code)
        assert r.headers.get("Content-Security-Policy") == "default-src 'self'", (path, r.headers)
        assert "style=" not in r.text and "<script>" not in r.text, path
    index = requests.get(f"http://127.0.0.1:{stack.port}/", timeout=10).text
    assert "<title>Warren</title>" in index and 'type="module"' in index


def test_sign_in_page_keyboard_and_wrong_password(page, stack):
    b = page
    b.cookies_clear()
    b.open("/")
    b.find(".signin-form")
    assert b.heading() == "Sign in"
    assert b.d.title == "Sign in · Warren"
    gh = b.find('a.provider[data-provider="github"]')
    assert gh.text.strip().endswith("Continue with GitHub"), gh.text
    assert gh.get_attribute("href") == f"{stack.url}/api/v1/auth/oauth/github/start?return_to=%2F"
    # The username field has the focus: the form works from the keyboard.
    user = b.d.switch_to.active_element
    assert user.get_attribute("name") == "username"
    capture(b, "signin")

    user = b.find('[name="username"]')
    user.click()
    user.send_keys(ADMIN_NAME, Keys.TAB)
    pw = b.d.switch_to.active_element
    assert pw.get_attribute("name") == "password" and pw.get_attribute("type") == "password"
    pw.send_keys("certainly-not-the-password", Keys.ENTER)
    alert = b.find(".signin-form [role=alert]")
    assert "The username or password is wrong" in alert.text, alert.text
    pw = b.d.switch_to.active_element
    assert pw.get_attribute("name") == "password", "the password field should have the focus again"
    assert pw.get_attribute("aria-invalid") == "true" and pw.get_attribute("value") == ""
    # Tab reaches the button, and its focus is visible.
    pw.send_keys(Keys.TAB)
    btn = b.d.switch_to.active_element
    assert btn.tag_name == "button" and btn.text == "Sign in"
    outline = b.d.execute_script("const s = getComputedStyle(arguments[0]);"
                                 "return [s.outlineStyle, s.outlineWidth];", btn)
    assert outline[0] != "none" and outline[1] != "0px", outline
    capture(b, "signin-error")
    assert "signin" in captured()


def test_sign_in_goes_to_next_only_on_this_site(page, stack):
    b = page
    sign_in(b, ADMIN_NAME, ADMIN_PASSWORD, "/?next=%2F%23%2Ftokens")
    b.wait(lambda: hash_of(b) == "#/tokens" and b.heading() == "API tokens", "the page ?next= named")
    assert b.d.execute_script("return location.search") == ""
    # Somewhere else: ignored, the dashboard instead.
    for bad in ("%2F%2Fevil.example%2F", "http%3A%2F%2Fevil.example%2F", "javascript%3Aalert(1)",
                "%2F%5Cevil.example%2F"):
        sign_in(b, ADMIN_NAME, ADMIN_PASSWORD, f"/?next={bad}")
        b.wait(lambda: b.heading() == "Workspaces", f"the dashboard after next={bad}")
        assert b.d.current_url.startswith(stack.url + "/"), b.d.current_url


# ------------------------------------------------------------------ admin


def test_admin_creates_a_user_and_sets_her_quota(page, stack):
    b = page
    sign_in(b, ADMIN_NAME, ADMIN_PASSWORD)
    b.go("#/users", wait_for="table.list")
    capture(b, "users")
    summary(b, "Add a user").click()
    b.fill("username", ALICE)
    b.fill("display_name", "Alice Example")
    b.fill("email", "alice@example.com")
    b.select("role", "member")
    b.fill("password", ALICE_PASSWORD)
    b.press("Create user")
    b.toast(f"User {ALICE} created")
    b.click(f'tr[data-user="{ALICE}"] a')
    b.wait(lambda: b.heading() == ALICE and b.settled(), "alice's page")
    b.find(".quota form")
    capture(b, "user")
    b.fill("max_workspaces", "1")
    b.press("Save quota")
    b.toast("Quota saved")
    users = stack.api("GET", "/users", 200).json()["items"]
    alice = next(u for u in users if u["username"] == ALICE)
    assert alice["role"] == "member" and alice["display_name"] == "Alice Example", alice

    # Roles: up and back down.
    for role, name in (("template-admin", "template admin"), ("member", "member")):
        b.select("role", role, scope="main form.inline-form")
        b.press("Change role")
        b.toast(f"{ALICE} is now {name}")
        assert stack.api("GET", f"/users/{alice['id']}", 200).json()["role"] == role
    q = stack.api("GET", f"/quotas/users/{alice['id']}", 200).json()
    assert q["max_workspaces"] == 1 and q["max_running"] is None, q


def test_admin_invites_and_revokes(page, stack):
    b = page
    sign_in(b, ADMIN_NAME, ADMIN_PASSWORD)
    b.go("#/users", wait_for="table.list")
    summary(b, "Invitations").click()
    card = "main details.invite"
    b.wait(lambda: "No invitations yet" in b.text(card) or b.finds("table.invitations"),
           "the invitations")
    b.fill("email", "carol@example.com", scope=card)
    b.select("role", "auditor", scope=card)
    b.press("Create invitation", scope=card)
    code = b.find(f"{card} .secret-once code").text
    assert len(code) >= 24, code
    inv = next(i for i in stack.api("GET", "/invitations", 200).json()["items"]
               if i["email"] == "carol@example.com")
    assert inv["status"] == "pending" and inv["role"] == "auditor", inv
    row = f'tr[data-invitation="{inv["id"]}"]'
    b.wait(lambda: "pending" in b.text(row) and "Auditor" in b.text(row), "carol's invitation listed")
    assert code not in b.text("table.invitations")
    capture(b, "users-invitations")
    b.click(f"{row} button")
    dialog_button(b, "Revoke").click()
    b.toast("Invitation for carol@example.com revoked")
    b.wait(lambda: "revoked" in b.text(row), "the invitation shown revoked")
    assert not b.d.find_elements(By.CSS_SELECTOR, f"{row} button")
    assert stack.api("GET", "/invitations?status=revoked", 200).json()["items"][0]["id"] == inv["id"]


def test_admin_creates_a_template_version_and_a_template(page, stack):
    b = page
    sign_in(b, ADMIN_NAME, ADMIN_PASSWORD)
    b.go("#/templates", wait_for="ul.cards")
    capture(b, "templates")
    b.click(f'a[href="#/templates/{stack.demo["id"]}"]')
    b.wait(lambda: b.heading() == "Demo web page" and b.settled(), "the demo template's page")
    capture(b, "template")
    b.press("New version")
    b.wait(lambda: b.heading().startswith("New version of") and b.settled(), "the new version form")
    assert b.find('[name="image"]').get_attribute("value") == "warren/demo:1"
    capture(b, "template-version-new")
    b.fill("memory_mb", "256")
    assert b.find('[name="activate"]').is_selected()
    b.press("Create version")
    b.toast("Version 2 created and active")
    b.wait(lambda: b.heading() == "Demo web page" and "Version 2" in b.text("ul.versions"), "version 2 listed")
    first = b.finds("li.version")[0]
    assert "Version 2" in first.text and "active" in first.text, first.text
    t = stack.api("GET", f"/templates/{stack.demo['id']}", 200).json()
    assert t["active_version"] == 2 and t["active"]["memory_mb"] == 256, t
    # Activate the old one, then the new one again.
    for n in (1, 2):
        b.click(f'button[aria-label="Activate version {n}"]')
        b.toast(f"Version {n} is now active")
        b.wait(lambda: f"Version {n}" in b.text("li.version:has(.badge.ok)"), f"version {n} marked active")
        assert stack.api("GET", f"/templates/{stack.demo['id']}", 200).json()["active_version"] == n

    # A new template, from the form.
    b.go("#/templates/new", wait_for='[name="image"]')
    capture(b, "template-new")
    b.fill("name", "e2e-static")
    b.fill("display_name", "Static page")
    b.fill("description", "Made by the browser tests")
    b.fill("image", "warren/demo:1")
    b.fill("home_path", "/home/dev")
    b.press("Create template")
    b.toast("Template e2e-static created")
    b.wait(lambda: b.heading() == "Static page", "the new template's page")
    names = [t["name"] for t in stack.api("GET", "/templates", 200).json()["items"]]
    assert "e2e-static" in names, names
    # Archived: listed no more, except with the archived ones.
    b.press("Archive")
    dialog_button(b, "Archive").click()
    b.toast("Template archived")
    b.wait(lambda: b.text(".title-line .badge") == "archived", "the archived badge")
    names = [t["name"] for t in stack.api("GET", "/templates", 200).json()["items"]]
    assert "e2e-static" not in names, names
    b.go("#/templates", wait_for="ul.cards")
    assert "Static page" not in b.text("ul.cards")
    b.go("#/templates?archived=true", wait_for="ul.cards")
    assert "Static page" in b.text("ul.cards")


# -------------------------------------------------------------- workspaces


def test_workspace_life_cycle_as_a_user(page, stack):
    b = page
    sign_in(b, ALICE, ALICE_PASSWORD)
    b.wait(lambda: "You have no workspaces yet" in b.text("main"), "the empty state")
    capture(b, "workspaces-empty")
    b.press("Create your first workspace")
    b.wait(lambda: b.heading() == "New workspace" and b.settled() and b.present('[name="param:GREETING"]'),
           "the new workspace form with the template's parameters")
    assert b.find('[name="param:GREETING"]').get_attribute("value") == "hello"
    capture(b, "workspace-new")
    b.fill("name", "web1")
    b.fill("param:GREETING", "bonjour")
    b.press("Create workspace")
    b.wait(lambda: b.heading() == "web1", "the workspace's page")
    ws_id = hash_of(b).split("/")[-1]
    b.d.execute_script("window.e2eMarker = 42;")

    # The status changes on the page by itself, and the log follows.
    badge = ".title-line .badge"
    b.wait(lambda: b.text(badge) == "running", "web1 to be running", WS_TIMEOUT)
    b.wait(lambda: "ready after" in b.text(".log-lines"), "the build log to say it is ready")
    assert b.d.execute_script("return window.e2eMarker") == 42, "the page was reloaded"
    ws = stack.api("GET", f"/workspaces/{ws_id}", 200).json()
    assert ws["status"] == "running" and ws["parameters"] == {"GREETING": "bonjour"}, ws
    assert ws["template_version"] == 2, ws
    capture(b, "workspace")

    # Open it: through the hand-off, on its own host.
    host = ws["url"].split("//")[1]
    landed = open_in_new_tab(b, b.find('.page-actions a[data-key="open"]'), HELLO)
    assert landed.startswith(f"http://{host}/"), landed

    # Signed out, the hand-off sends the browser to sign in (?next=) and
    # then on to the workspace.
    b.cookies_clear()
    b.d.get(f"{stack.url}/api/v1/auth/handoff?host={host}&path=%2F")
    b.wait(lambda: b.present(".signin-form") and "Sign in to open your workspace" in b.text("main"),
           "the sign-in page on the way to the workspace")
    assert "next=%2Fapi%2Fv1%2Fauth%2Fhandoff" in b.d.current_url, b.d.current_url
    b.fill("username", ALICE)
    b.fill("password", ALICE_PASSWORD)
    b.click(".signin-form button[type=submit]")
    b.wait(lambda: HELLO in b.text(), "the workspace after signing in", 60)
    assert b.d.current_url.startswith(f"http://{host}/"), b.d.current_url
    b.open(f"/#/workspaces/{ws_id}")
    b.wait(lambda: b.heading() == "web1" and b.text(badge) == "running", "web1's page again")
    b.d.execute_script("window.e2eMarker = 42;")

    # Share port 8080 with anyone: an anonymous script reaches it then.
    port_host = f"{ws['short_id']}-8080.{host.split('.', 1)[1]}"
    assert workspace_host_get(stack, port_host).status_code in (302, 401)
    b.select("share-8080", "public")
    b.click('button[data-key="apply-8080"]')
    b.toast("Port 8080 shared with anyone with the link")
    b.wait(lambda: b.text('[data-shared="8080"]') == "shared: public", "the port to show as shared")
    shares = stack.api("GET", f"/workspaces/{ws_id}", 200).json()["shared_ports"]
    assert [(s["port"], s["level"]) for s in shares] == [(8080, "public")], shares

    def anonymous_ok():
        r = workspace_host_get(stack, port_host)
        return r.status_code == 200 and HELLO in r.text
    b.wait(anonymous_ok, "the shared port to answer an anonymous request", 30)
    landed = open_in_new_tab(b, b.find('a[data-key="open-8080"]'), HELLO)
    assert landed.startswith(f"http://{port_host}/"), landed

    # Stop, and watch it.
    b.press("Stop")
    b.wait(lambda: b.text(badge) == "stopped", "web1 to be stopped", WS_TIMEOUT)
    assert not b.present('.page-actions a[data-key="open"]')
    assert b.d.execute_script("return window.e2eMarker") == 42, "the page was reloaded"
    assert stack.api("GET", f"/workspaces/{ws_id}", 200).json()["desired_state"] == "stopped"

    # The dashboard: start it again from the list; the row follows.
    b.go("#/workspaces", wait_for="table.list")
    b.d.execute_script("window.e2eMarker = 43;")
    row = f'tr[data-id="{ws_id}"]'
    assert b.text(f"{row} .badge") == "stopped"
    b.click(f'{row} button[aria-label="Start web1"]')
    b.wait(lambda: b.text(f"{row} .badge") == "running", "web1 to run again, in the list", WS_TIMEOUT)
    b.find(f'{row} a[aria-label="Open web1 (new tab)"]')
    assert b.d.execute_script("return window.e2eMarker") == 43, "the page was reloaded"

    # Her quota is one workspace: a second is refused, with the reason.
    b.go("#/workspaces/new", wait_for='[name="name"]')
    b.fill("name", "web2")
    b.press("Create workspace")
    alert = b.find("form .form-error [role=alert]")
    assert "Quota exceeded" in alert.text, alert.text
    assert "Your quota allows 1 workspace, and 1 is in use." in alert.text, alert.text
    assert b.heading() == "New workspace"
    capture(b, "quota-refusal")
    names = [w["name"] for w in stack.api("GET", "/workspaces", 200).json()["items"]]
    assert "web2" not in names, names

    # Delete, after typing its name.
    b.go(f"#/workspaces/{ws_id}", wait_for=".title-line .badge")
    b.wait(lambda: b.text(badge) == "running", "web1's page")
    b.press("Delete")
    dialog = b.find("dialog[open]")
    confirm = next(x for x in dialog.find_elements(By.CSS_SELECTOR, "button") if x.text == "Delete workspace")
    assert not confirm.is_enabled(), "delete must wait for the name"
    dialog.find_element(By.CSS_SELECTOR, "input").send_keys("web1")
    b.wait(confirm.is_enabled, "the delete button to enable")
    confirm.click()
    b.wait(lambda: hash_of(b) == "#/workspaces" and "You have no workspaces yet" in b.text("main"),
           "the dashboard after the deletion", WS_TIMEOUT)
    assert stack.api("GET", f"/workspaces/{ws_id}").status_code == 404


# -------------------------------------------------------- the other pages


def test_admin_pages_orgs_secrets_tokens_audit_account(page, stack):
    b = page
    # Something on the admin's own dashboard.
    stack.api("POST", "/workspaces", 201, json={"name": "admin-ws", "template": "demo", "start": False})
    sign_in(b, ADMIN_NAME, ADMIN_PASSWORD)
    b.wait(lambda: b.present("table.list") and "admin-ws" in b.text("table.list"), "the admin's workspace")
    assert "never started" in b.text("table.list")
    capture(b, "workspaces")

    # Organizations and members.
    b.go("#/orgs")
    summary(b, "Add an organization").click()
    b.fill("name", "acme")
    b.fill("display_name", "Acme Corporation")
    b.press("Create organization")
    b.toast("Organization acme created")
    b.wait(lambda: b.heading() == "Acme Corporation" and b.settled(), "the organization's page")
    users = stack.api("GET", "/users", 200).json()["items"]
    alice = next(u for u in users if u["username"] == ALICE)
    b.select("user", alice["id"], scope="form.add-member")
    b.select("role", "admin", scope="form.add-member")
    b.press("Add member")
    b.toast("Member added")
    b.wait(lambda: ALICE in b.text("table.members"), "alice among the members")
    capture(b, "org")
    b.go("#/orgs", wait_for="table.list")
    assert "Acme Corporation" in b.text("table.list")
    capture(b, "orgs")

    # Secrets: the value goes in, only the name comes back.
    value = "s3cret-value-never-shown"
    b.go("#/secrets", wait_for='[name="value"]')
    b.fill("name", "E2E_TOKEN")
    b.fill("value", value)
    b.press("Save secret")
    b.toast("Secret E2E_TOKEN saved")
    b.wait(lambda: "E2E_TOKEN" in b.text("ul.secrets"), "the secret's name in the list")
    b.go("#/workspaces")
    b.go("#/secrets", wait_for="ul.secrets")
    assert value not in b.d.page_source
    capture(b, "secrets")

    # API tokens: shown once.
    b.go("#/tokens", wait_for='[name="name"]')
    b.fill("name", "ci")
    b.select("scope", "read")
    b.press("Create token")
    token = b.find(".token-value").text
    assert token.startswith("wrn_"), token
    r = requests.get(f"{stack.api_base}/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200 and r.json()["token_scope"] == "read", r.text
    capture(b, "tokens")
    b.go("#/workspaces")
    b.go("#/tokens", wait_for="table.tokens")
    assert token not in b.d.page_source and "ci" in b.text("table.tokens")

    # The audit log, filtered.
    b.go("#/audit", wait_for="table.audit")
    capture(b, "audit")
    b.fill("action", "workspace.*")
    b.press("Apply filters")
    b.wait(lambda: "action=workspace.*" in hash_of(b).replace("%2A", "*") and b.settled()
           and b.present("table.audit"), "the filtered audit log")
    actions = [td.text for td in b.finds('table.audit td[data-label="Action"]')]
    assert actions and all(a.startswith("workspace.") for a in actions), actions
    assert "workspace.create" in actions and "workspace.delete" in actions, actions

    # The account page: sessions.
    b.go("#/account", wait_for="table.sessions")
    assert "this one" in b.text("table.sessions")
    capture(b, "account")


def test_expired_access_is_refreshed_and_an_ended_session_asks_to_sign_in(page, stack):
    b = page
    sign_in(b, ADMIN_NAME, ADMIN_PASSWORD)
    csrf = b.d.get_cookie("warren_csrf")["value"]
    # The access token gone (as when it expires): the next call answers
    # 401, the page refreshes once with the CSRF header and goes on.
    b.d.delete_cookie("warren_access")
    b.go("#/tokens", wait_for="main form")
    assert b.heading() == "API tokens" and not b.present(".signin-form")
    assert b.d.get_cookie("warren_access") and b.d.get_cookie("warren_csrf")["value"] != csrf
    # And a state-changing call after a refresh carries the new token.
    b.d.delete_cookie("warren_access")
    b.fill("name", "after-refresh")
    b.press("Create token")
    b.find(".token-value")
    # The whole session gone: the sign-in page says so, and brings the
    # person back to the page they were on.
    b.d.delete_cookie("warren_access")
    b.d.delete_cookie("warren_refresh")
    b.d.execute_script("location.hash = '#/secrets';")
    b.wait(lambda: b.present(".signin-form") and "Your session has ended" in b.text("main"),
           "the sign-in page after the session ended")
    b.fill("username", ADMIN_NAME)
    b.fill("password", ADMIN_PASSWORD)
    b.click(".signin-form button[type=submit]")
    b.wait(lambda: b.heading() == "Secrets" and b.settled(), "the secrets page again")


def test_keyboard_skip_link_and_phone_menu(page, stack):
    b = page
    sign_in(b, ADMIN_NAME, ADMIN_PASSWORD)
    b.set_size(360, 740)
    try:
        # The first Tab reaches the skip link, which takes the focus to the page.
        b.go("#/workspaces")
        b.d.refresh()	# a fresh document: focus starts at its top
        b.wait(lambda: b.settled() and b.present("header.topbar"), "the dashboard, reloaded")
        ActionChains(b.d).send_keys(Keys.TAB).perform()
        skip = b.d.switch_to.active_element
        assert skip.text == "Skip to content" and skip.is_displayed()
        skip.send_keys(Keys.ENTER)
        assert b.d.switch_to.active_element.get_attribute("id") == "main"
        # The menu opens from the keyboard, and its links work.
        toggle = b.find("button.nav-toggle")
        assert toggle.is_displayed() and not b.find("#site-nav").is_displayed()
        toggle.send_keys(Keys.ENTER)
        assert toggle.get_attribute("aria-expanded") == "true"
        link = b.find('#site-nav a[href="#/templates"]')
        assert link.is_displayed()
        toggle.send_keys(Keys.TAB)
        assert b.d.switch_to.active_element.text == "Workspaces"
        link.send_keys(Keys.ENTER)
        b.wait(lambda: b.heading() == "Templates" and b.settled(), "the templates page")
        assert toggle.get_attribute("aria-expanded") == "false"
        assert b.d.switch_to.active_element.tag_name == "h1", "the new page's heading takes the focus"
    finally:
        b.set_size(1280, 800)


def test_update_schedule_extend_and_restart(page, stack):
    """The admin's never-started workspace meets version 3 of its
    template: update (which starts it), schedule, extend, restart."""
    b = page
    mine = stack.api("GET", "/workspaces", 200).json()["items"]
    ws = next(w for w in mine if w["name"] == "admin-ws")
    stack.api("POST", f"/templates/{stack.demo['id']}/versions", 201,
              json=dict(demo_version(memory_mb=192), activate=True))
    sign_in(b, ADMIN_NAME, ADMIN_PASSWORD)
    b.go(f"#/workspaces/{ws['id']}", wait_for=".title-line .badge")
    badge = ".title-line .badge"
    assert b.text(badge) == "never started"
    assert "v3 available" in b.text("main dl.facts")
    b.press("Update to version 3")
    dialog_button(b, "Update").click()
    b.wait(lambda: b.text(badge) == "running", "admin-ws to run version 3", WS_TIMEOUT)
    w = stack.api("GET", f"/workspaces/{ws['id']}", 200).json()
    assert w["template_version"] == 3 and w["build_transition"] == "update", w
    b.wait(lambda: not b.present('button[data-key="update"]'), "the update button to go")

    b.fill("autostop_hours", "2")
    b.press("Save schedule")
    b.toast("Schedule saved")
    w = stack.api("GET", f"/workspaces/{ws['id']}", 200).json()
    assert w["autostop_ttl"] == 7200 and w["deadline"], w
    before = w["deadline"]
    b.wait(lambda: b.present('select[name="extend_hours"]'), "the extend form")
    b.select("extend_hours", "4")
    b.press("Extend")
    b.toast("It now stops")
    after = stack.api("GET", f"/workspaces/{ws['id']}", 200).json()["deadline"]
    assert after > before, (before, after)

    b.press("Restart")
    b.wait(lambda: b.text(badge) == "running" and "Build 2: restart" in b.text(".log-panel"),
           "the restart to finish, its log shown", WS_TIMEOUT)
    b.wait(lambda: "complete" in b.text(".log-state"), "the restart's log to be complete")
    assert len(b.finds("table.builds tbody tr")) == 2


def test_sign_out_everywhere(page, stack):
    b = page
    sign_in(b, ALICE, ALICE_PASSWORD)
    b.go("#/account", wait_for="table.sessions")
    b.press("Sign out everywhere")
    dialog = b.find("dialog[open]")
    next(x for x in dialog.find_elements(By.CSS_SELECTOR, "button") if x.text == "Sign out everywhere").click()
    b.wait(lambda: b.present(".signin-form") and "signed out everywhere" in b.text("main"), "the sign-in page")
    b.open("/#/workspaces")
    b.find(".signin-form")
    time.sleep(0.5)
    assert not b.present("header.topbar")


def test_every_page_was_captured_and_checked():
    got = captured()
    missing = [p for p in PAGES if p not in got]
    assert not missing, f"pages never captured: {missing}"
    failed = [p for p, ok in got.items() if not ok]
    assert not failed, f"pages with findings: {failed}"
