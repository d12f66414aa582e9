"""Headless Chromium (Debian's chromium and chromium-driver, through
python3-selenium) for the page tests: the driver, waits, full-page
screenshots at desktop and phone width, light and dark, the console, and
axe-core.

axe-core comes from the npm registry, fetched by `npm pack` at a pinned
version into tests/e2e/.cache/ (ignored by git) and checked against the
registry's sha512 before use; nothing of it is committed.
"""

import base64
import hashlib
import os
import pathlib
import shutil
import subprocess
import tarfile

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException, StaleElementReferenceException, TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = pathlib.Path(__file__).resolve().parent
TOP = HERE.parents[1]
CACHE = HERE / ".cache"
SHOTS = TOP / "test-output" / "screenshots"

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

AXE_VERSION = "4.14.1"
AXE_INTEGRITY = ("sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37"
                 "OgudVGtQ==")

DESKTOP = (1280, 800)
PHONE = (360, 740)

# Waits: generous, because the machine is small and shared.
UI_WAIT = 30


def axe_source():
    """axe.min.js of the pinned axe-core, fetched once with npm pack."""
    tgz = CACHE / f"axe-core-{AXE_VERSION}.tgz"

    def integrity(path):
        return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()

    if not tgz.exists() or integrity(tgz) != AXE_INTEGRITY:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to fetch axe-core from the npm registry (Node.js's npm)")
        CACHE.mkdir(parents=True, exist_ok=True)
        tgz.unlink(missing_ok=True)
        r = subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(CACHE),
                            "--silent"], capture_output=True, text=True, timeout=300, cwd=str(CACHE))
        if r.returncode != 0 or not tgz.exists():
            pytest.fail(f"npm pack axe-core@{AXE_VERSION} failed: {r.stdout[-1000:]}{r.stderr[-2000:]}")
        if integrity(tgz) != AXE_INTEGRITY:
            tgz.unlink()
            pytest.fail(f"axe-core-{AXE_VERSION}.tgz does not match the registry's integrity {AXE_INTEGRITY}")
    with tarfile.open(tgz) as tar:
        return tar.extractfile("package/axe.min.js").read().decode("utf-8")


class Browser:
    def __init__(self, base_url, axe_js, extra_flags=()):
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                pytest.fail(f"{path} is missing: apt-get install chromium chromium-driver")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for f in [*FLAGS, *extra_flags]:
            opts.add_argument(f)
        opts.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.d.set_page_load_timeout(60)
        self.d.set_script_timeout(60)
        self.base = base_url
        self.axe_js = axe_js
        self.size = DESKTOP
        self.dark = False
        self.console = []
        self.set_size(*DESKTOP)

    def quit(self):
        self.d.quit()

    # viewport and theme

    def set_size(self, width, height):
        self.size = (width, height)
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})

    def set_dark(self, dark):
        self.dark = dark
        self.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
            {"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})

    # navigation and waits

    def open(self, path="/"):
        """Loads a page and waits for the application to start; loads it
        again when the browser dropped its requests because the machine's
        network changed (Docker starting or stopping a container)."""
        for attempt in range(3):
            self.d.get(self.base + path)
            try:
                WebDriverWait(self.d, UI_WAIT, poll_frequency=0.1).until(
                    lambda d: self.settled() or self.network_changed())
            except TimeoutException:
                pass
            if not self.network_changed():
                return
            self.console = [e for e in self.console if "ERR_NETWORK_CHANGED" not in e["message"]]
        pytest.fail(f"{path} did not load: the network kept changing")

    def network_changed(self):
        self.read_console()
        return any("ERR_NETWORK_CHANGED" in e["message"] for e in self.console)

    def wait(self, predicate, what, timeout=UI_WAIT):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(lambda d: predicate())
        except TimeoutException:
            pytest.fail(f"timed out after {timeout} s waiting for {what}; page text:\n"
                        f"{self.text()[:1500]}\nconsole: {self.read_console()[-10:]}")

    def settled(self):
        """The page has rendered: no loading indicator, main not busy."""
        return self.d.execute_script(
            "const m = document.getElementById('main');"
            "return !!m && !m.hasAttribute('aria-busy') && !m.querySelector('.loading')"
            " && m.children.length > 0;")

    def go(self, hash_route, what=None, wait_for=None):
        """Goes to #/route and waits for the page to settle (and for
        wait_for, a CSS selector, when given)."""
        self.d.execute_script("location.hash = arguments[0];", hash_route)
        self.wait(lambda: self.d.execute_script("return location.hash") == hash_route and self.settled(),
                  what or f"{hash_route} to render")
        if wait_for:
            self.wait(lambda: self.present(wait_for), f"{wait_for} on {hash_route}")

    def present(self, css):
        return len(self.d.find_elements(By.CSS_SELECTOR, css)) > 0

    def find(self, css, timeout=UI_WAIT):
        self.wait(lambda: self.present(css), css, timeout)
        return self.d.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text(self, css="body"):
        """The rendered text of the first element matching css ("" when
        none), read in one step so that a redraw cannot intervene."""
        return self.d.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : '';", css)

    def heading(self):
        return self.text("main h1")

    def button(self, label, scope="main"):
        """The enabled button (or link styled as one) whose text is label."""
        def found():
            for el in self.d.find_elements(By.CSS_SELECTOR, f"{scope} button, {scope} a.btn"):
                if el.text.strip() == label and el.is_displayed() and el.is_enabled():
                    return el
            return None
        return self.wait(found, f"a button {label!r}")

    def press(self, label, scope="main"):
        """Clicks the button labelled label (again, when the page redrew
        it between finding and clicking)."""
        self._click(lambda: self.button(label, scope), label)

    def click(self, css):
        self._click(lambda: self.find(css), css)

    def _click(self, locate, what):
        for attempt in range(10):
            try:
                locate().click()
                return
            except (StaleElementReferenceException, ElementClickInterceptedException):
                if attempt == 9:
                    raise
                import time
                time.sleep(0.2)

    def fill(self, name, value, scope="main"):
        el = self.find(f'{scope} [name="{name}"]')
        el.clear()
        if value:
            el.send_keys(value)
        return el

    def select(self, name, value, scope="main"):
        from selenium.webdriver.support.ui import Select
        Select(self.find(f'{scope} select[name="{name}"]')).select_by_value(value)

    def toast(self, contains, timeout=UI_WAIT):
        self.wait(lambda: contains in self.text("#toasts"), f"a message {contains!r}", timeout)

    def cookies_clear(self):
        self.d.delete_all_cookies()

    # console: errors and CSP violations fail a test

    def read_console(self):
        for e in self.d.get_log("browser"):
            self.console.append(e)
        return self.console

    def console_errors(self):
        """SEVERE console entries other than the network's own report of
        an HTTP error status (which the pages show as messages)."""
        self.read_console()
        bad = [e["message"] for e in self.console if e["level"] == "SEVERE"
               and "Failed to load resource: the server responded with a status of" not in e["message"]
               and "Failed to load resource: net::ERR_NETWORK_CHANGED" not in e["message"]]
        self.console = []
        return bad

    # evidence

    def screenshot(self, name):
        """A full-page PNG at the current size and theme."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        # From the top: a page captured while scrolled draws its sticky
        # header where the scroll left it.
        self.d.execute_script("window.scrollTo(0, 0);")
        width = self.size[0]
        height = self.d.execute_script(
            "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);")
        data = self.d.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": max(int(height), self.size[1]), "scale": 1}})
        path = SHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def axe(self):
        """Serious and critical axe-core violations of the page as it is."""
        if not self.d.execute_script("return typeof window.axe === 'object';"):
            self.d.execute_script(self.axe_js)
        result = self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done({ok: true, v: r.violations.map(v => ({id: v.id, impact: v.impact,"
            " help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': '"
            " + (n.failureSummary || '').slice(0, 300))}))}))"
            ".catch(e => done({ok: false, error: String(e)}));")
        assert result["ok"], f"axe-core failed to run: {result.get('error')}"
        return [v for v in result["v"] if v["impact"] in ("serious", "critical")]


def png_size(path):
    """(width, height) of a PNG, from its header."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


if __name__ == "__main__":
    # tests/e2e/run fetches axe-core this way before it leaves the network.
    import sys
    if sys.argv[1:] != ["fetch-axe"]:
        sys.exit("usage: browser.py fetch-axe")
    print(f"axe-core {AXE_VERSION}: {len(axe_source())} bytes of axe.min.js in {CACHE}")
