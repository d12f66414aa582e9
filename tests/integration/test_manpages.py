"""The manual pages: every configuration key of src/lib/conf.c is documented
in warren.conf(5), every warrenctl command in warrenctl(8), every page is
clean for mandoc's linter and installed by "make install"."""

import re
import shutil
import subprocess

import pytest

from conftest import CTL_BIN, SAMPLE_KEYS, TOP

MAN = TOP / "man"
PAGES = ["warren-api.8", "warren-reconciler.8", "warrenctl.8", "warren.conf.5"]


def conf_keys():
    """The names in conf_keys[] of src/lib/conf.c, in order."""
    text = (TOP / "src" / "lib" / "conf.c").read_text()
    table = text[text.index("const struct conf_key conf_keys[] = {") :]
    table = table[: table.index("\n};")]
    keys = re.findall(r'^\s*(?:\{\s*"([a-z0-9_]+)",\s*CONF_|URLKEY\(([a-z0-9_]+),)', table, re.M)
    return [a or b for a, b in keys]


def documented(page, section=None):
    """Keys or commands that a page describes in an item list; with section,
    only those of that section (.Sh), else those before OPENID CONNECT
    PROVIDERS, which describes the keys of a provider file."""
    text = (MAN / page).read_text()
    if section is not None:
        text = text.split(f"\n.Sh {section}\n", 1)[1].split("\n.Sh ", 1)[0]
    else:
        text = text.split("\n.Sh OPENID CONNECT PROVIDERS\n", 1)[0]
    return set(re.findall(r"^\.It Cm ([a-z0-9_-]+)", text, re.M)) | set(
        re.findall(r"^\.It Cm [a-z0-9_-]+ Ns = Ns Ar [a-z]+ , Cm ([a-z0-9_-]+)", text, re.M))


def oidc_keys():
    """The keys a provider file may hold: those src/api/oidc.c compares."""
    text = (TOP / "src" / "api" / "oidc.c").read_text()
    return set(re.findall(r'strcmp\(key, "([a-z0-9_]+)"\) == 0', text))


def test_every_conf_key_is_in_warren_conf_5():
    keys = conf_keys()
    assert len(keys) > 20 and "listen" in keys and "traefik_forward_url" in keys, keys
    missing = [k for k in keys if k not in documented("warren.conf.5")]
    assert not missing, f"keys of src/lib/conf.c missing from man/warren.conf.5: {missing}"


def test_warren_conf_5_documents_no_unknown_key():
    stale = documented("warren.conf.5") - set(conf_keys())
    assert not stale, f"man/warren.conf.5 documents keys src/lib/conf.c does not have: {stale}"


def test_every_oidc_provider_key_is_documented():
    keys = oidc_keys()
    assert {"issuer", "client_id", "client_secret", "allow_http"} <= keys, keys
    page = documented("warren.conf.5", "OPENID CONNECT PROVIDERS")
    assert keys == page, (f"provider keys of src/api/oidc.c missing from man/warren.conf.5: "
                          f"{keys - page}; documented but unknown: {page - keys}")


def test_every_sample_key_is_in_warren_conf_5():
    missing = SAMPLE_KEYS - documented("warren.conf.5")
    assert not missing, f"keys of etc/warren.conf.sample missing from man/warren.conf.5: {missing}"


def test_every_warrenctl_command_is_in_warrenctl_8():
    r = subprocess.run([str(CTL_BIN)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    commands = re.findall(r"^  ([a-z][a-z-]*)", r.stderr.split("commands:", 1)[1], re.M)
    assert "setup" in commands and "migrate" in commands, r.stderr
    missing = set(commands) - documented("warrenctl.8")
    assert not missing, f"warrenctl commands missing from man/warrenctl.8: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_page_is_lint_clean(page):
    mandoc = shutil.which("mandoc")
    assert mandoc, "mandoc is missing: install the Debian package mandoc"
    r = subprocess.run([mandoc, "-T", "lint", "-W", "warning", str(MAN / page)], capture_output=True, text=True)
    assert r.returncode == 0 and not r.stdout and not r.stderr, r.stdout + r.stderr
    # man-db's groff formats it without a warning either.
    r = subprocess.run(
        ["man", "--warnings", "-l", "-Tutf8", str(MAN / page)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "MANWIDTH": "80", "LC_ALL": "C.UTF-8"},
    )
    assert r.returncode == 0 and not r.stderr, r.stderr
    text = re.sub(r".\x08", "", r.stdout)  # overstrike bold and underline
    name = page.rsplit(".", 1)[0]
    assert name.upper() in text and "SEE ALSO" in text, text[:300]


def test_make_installs_the_pages():
    am = (TOP / "Makefile.am").read_text()
    m = re.search(r"^dist_man_MANS\s*=((?:.*\\\n)*.*)$", am, re.M)
    assert m, "Makefile.am has no dist_man_MANS"
    listed = re.findall(r"man/(\S+)", m.group(1))
    assert sorted(listed) == sorted(PAGES), listed
