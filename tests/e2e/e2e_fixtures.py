"""Fixtures of the browser tests (a pytest plugin, loaded by the test
modules: this directory has no conftest.py, so that the integration
harness's conftest.py imports as `conftest` for docker_util)."""

import os
import shutil

import pytest

from browser import DESKTOP, PHONE, SHOTS, Browser, axe_source, png_size
from e2e_stack import E2EStack

# Every page of the application, by the name its screenshots carry; the
# last test checks that each was captured (and checked by axe-core).
PAGES = ("signin", "workspaces", "workspace-new", "workspace", "templates", "template", "template-new",
         "template-version-new", "users", "user", "orgs", "org", "secrets", "tokens", "audit", "account")

_captured = {}


@pytest.fixture(scope="session")
def stack():
    if os.geteuid() != 0:
        pytest.fail("the browser tests start PostgreSQL (as postgres) and dockerd: run them as root")
    # Chromium drops every connection when the machine's network changes,
    # and on a machine where Docker runs that is all the time (each
    # container start adds interfaces).  tests/e2e/run gives the tests a
    # network namespace of their own: only their own containers count.
    if os.environ.get("WARREN_E2E_NETNS") != "1" and os.environ.get("WARREN_E2E_HOST_NETWORK") != "1":
        pytest.fail("run the browser tests with tests/e2e/run (a network namespace of their own); "
                    "WARREN_E2E_HOST_NETWORK=1 runs them on this machine's network instead")
    s = E2EStack()
    yield s
    s.close()


@pytest.fixture(scope="session")
def browser(stack):
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    b = Browser(stack.url, axe_source())
    yield b
    b.quit()


@pytest.fixture
def page(browser, stack, request):
    """The browser, with a report of the stack's logs when the test fails."""
    yield browser
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(stack.logs())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep


def sign_in(b, username, password, path="/"):
    """Signs in through the sign-in page at path; waits for a page of the
    application (the dashboard, or where ?next= sends the browser)."""
    b.cookies_clear()
    b.open(path)
    b.find(".signin-form")
    b.fill("username", username)
    b.fill("password", password)
    b.find(".signin-form button[type=submit]").click()
    b.wait(lambda: b.present("header.topbar") and b.settled(), f"{username} to be signed in")


def capture(b, name):
    """Screenshots of the page at desktop and phone width (and desktop in
    the dark theme), each checked by axe-core: no serious or critical
    violation, and no console error (a CSP refusal among them)."""
    problems = []
    for label, (w, h), dark in (("desktop", DESKTOP, False), ("phone", PHONE, False),
                                ("desktop-dark", DESKTOP, True)):
        b.set_size(w, h)
        b.set_dark(dark)
        b.wait(lambda: b.settled() and not b.present("#toasts .toast"),
               f"{name} to settle at {label}")
        path = b.screenshot(f"{name}-{label}")
        assert png_size(path)[0] == w, (path, png_size(path))
        for v in b.axe():
            problems.append(f"{name} ({label}): {v['impact']} {v['id']}: {v['help']}\n    "
                            + "\n    ".join(v["nodes"]))
    b.set_dark(False)
    b.set_size(*DESKTOP)
    foreign = b.d.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !n.startsWith(location.origin + '/'));")
    assert not foreign, f"{name} loaded resources from elsewhere: {foreign}"
    errors = b.console_errors()
    _captured[name] = not problems and not errors
    assert not problems, "axe-core found serious or critical violations:\n" + "\n".join(problems)
    assert not errors, f"console errors on {name}: {errors}"


def captured():
    return dict(_captured)
