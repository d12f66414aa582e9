"""The Debian packages: built with dpkg-buildpackage from a copy of this
tree, checked by lintian, then taken apart (dpkg-deb) rather than installed
on the machine running the tests: file lists and modes, conffiles, the
systemd units (systemd-analyze verify), the manual pages, the maintainer
scripts' users and groups, and the binaries themselves.

test_install.py installs them, on a throw-away copy of this machine.
Run by tools/test (step "package").
"""

import os
import re
import shutil
import stat

import pytest

from debs import PACKAGES, TOP, run, version

# lintian warnings that are known and explained (none today).  Errors
# always fail; a new warning fails until it is fixed or explained here.
EXPLAINED_WARNINGS = set()

# path -> mode of what each package must ship.
EXPECTED = {
    "warren-common": {
        "etc/warren/warren.conf": 0o644,  # 0640 root:warren by dpkg-statoverride
        "usr/share/man/man5/warren.conf.5.gz": 0o644,
        "usr/share/doc/warren-common/examples/warren.conf.sample": 0o644,
        "usr/share/doc/warren-common/examples/google.conf.example": 0o644,
        "etc/warren/oidc": 0o755,  # 0750 root:warren by dpkg-statoverride
        "usr/share/doc/warren-common/sql/0001_instance.sql": 0o644,
        "var/lib/warren": 0o755,
    },
    "warren-api": {
        "usr/sbin/warren-api": 0o755,
        "usr/sbin/warrenctl": 0o755,
        "usr/share/man/man8/warren-api.8.gz": 0o644,
        "usr/share/man/man8/warrenctl.8.gz": 0o644,
        "lib/systemd/system/warren-api.service": 0o644,
        "lib/systemd/system/warren-api.socket": 0o644,
        "etc/nginx/sites-available/warren": 0o644,
        "etc/apache2/sites-available/warren.conf": 0o644,
        "usr/share/warren/htdocs/index.html": 0o644,
        "usr/share/warren/images/build.sh": 0o755,
        "usr/share/warren/images/jupyter.recipe": 0o644,
        "usr/share/warren/images/jupyter.template.json": 0o644,
    },
    "warren-reconciler": {
        "usr/sbin/warren-reconciler": 0o755,
        "usr/share/man/man8/warren-reconciler.8.gz": 0o644,
        "lib/systemd/system/warren-reconciler.service": 0o644,
        "lib/systemd/system/warren-reconciler-once.service": 0o644,
        "lib/systemd/system/warren-reconciler-once.timer": 0o644,
        "etc/cron.d/warren-reconciler": 0o644,
        "usr/share/doc/warren-reconciler/examples/traefik.yml": 0o644,
        "usr/share/doc/warren-reconciler/examples/warren-dynamic.example.yml": 0o644,
        "var/lib/warren/traefik": 0o755,
        "var/lib/warren/reconciler": 0o755,
    },
}
CONFFILES = {
    "warren-common": {"/etc/warren/warren.conf"},
    "warren-api": {"/etc/nginx/sites-available/warren", "/etc/apache2/sites-available/warren.conf"},
    "warren-reconciler": {"/etc/cron.d/warren-reconciler"},
}
# Installed copies of files of this tree, byte for byte.
SAME_AS = {
    "etc/warren/warren.conf": "etc/warren.conf.sample",
    "etc/nginx/sites-available/warren": "etc/nginx/warren.conf",
    "etc/apache2/sites-available/warren.conf": "etc/apache2/warren.conf",
    "lib/systemd/system/warren-api.service": "etc/systemd/warren-api.service",
    "lib/systemd/system/warren-reconciler.service": "etc/systemd/warren-reconciler.service",
    "etc/cron.d/warren-reconciler": "etc/cron.d/warren-reconciler",
    "usr/share/doc/warren-reconciler/examples/traefik.yml": "etc/traefik/traefik.yml",
    "usr/share/doc/warren-common/examples/google.conf.example": "etc/oidc/google.conf.example",
}


def test_versions_agree():
    changelog = (TOP / "debian" / "changelog").read_text().splitlines()[0]
    assert changelog.startswith(f"warren ({version()})"), (changelog, version())


def test_build_is_hardened(built):
    _, log = built
    compiles = [l for l in log.splitlines() if re.match(r"gcc .* -c -o \S+\.o ", l)]
    assert compiles, "no compiler lines in the build log"
    for line in compiles:
        for flag in ("-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong", "-Werror=format-security"):
            assert flag in line, (flag, line)
    links = [l for l in log.splitlines() if re.match(r"gcc .* -o (warren-api|warrenctl|warren-reconciler) ", l)]
    assert len(links) == 3, links
    for line in links:
        assert "-Wl,-z,relro" in line and "-Wl,-z,now" in line, line


def test_release_build_has_no_test_routes_and_no_werror(built, extracted):
    """The package is built as a user builds a release: the echo route of
    --enable-test-routes is not compiled in, and warnings are not errors
    (-Werror is --enable-werror's)."""
    _, log = built
    api = (extracted["warren-api"][0] / "usr/sbin/warren-api").read_bytes()
    assert b"/api/v1/health" in api
    assert b"/api/v1/echo" not in api
    compiles = [l for l in log.splitlines() if re.match(r"gcc .* -c -o \S+\.o ", l)]
    assert compiles and not any(re.search(r"-Werror(\s|$)", l) for l in compiles)


def test_lintian_has_no_error(built):
    d, _ = built
    (changes,) = d.glob("*.changes")
    r = run(["lintian", "--fail-on", "none", str(changes)], timeout=900)
    out = r.stdout + r.stderr
    (d / "lintian.txt").write_text(out)
    tags = re.findall(r"^([EW]): (\S+): (\S+)(.*)$", out, re.M)
    errors = [t for t in tags if t[0] == "E"]
    assert not errors, out
    warnings = {t[2] for t in tags if t[0] == "W"} - EXPLAINED_WARNINGS
    assert not warnings, f"unexplained lintian warnings: {warnings}\n{out}"


def test_files_and_modes(extracted):
    for pkg, want in EXPECTED.items():
        root, _ = extracted[pkg]
        for rel, mode in want.items():
            p = root / rel
            assert p.exists(), f"{pkg} lacks /{rel}"
            assert stat.S_IMODE(p.lstat().st_mode) == mode, (pkg, rel, oct(p.lstat().st_mode))
    # The API never ships anything of Docker's, the reconciler no pages.
    api_files = {str(p.relative_to(extracted["warren-api"][0])) for p in extracted["warren-api"][0].rglob("*")}
    assert not any("docker" in f or "reconciler" in f for f in api_files), api_files
    rec_root = extracted["warren-reconciler"][0]
    assert not (rec_root / "usr/share/warren").exists()


def test_installed_copies_are_the_trees(extracted):
    for rel, src in SAME_AS.items():
        hits = [r for r, _ in extracted.values() if (r / rel).exists()]
        assert len(hits) == 1, (rel, hits)
        assert (hits[0] / rel).read_bytes() == (TOP / src).read_bytes(), rel
    htdocs = extracted["warren-api"][0] / "usr/share/warren/htdocs"
    assert sorted(p.name for p in htdocs.iterdir()) == sorted(p.name for p in (TOP / "htdocs").iterdir())


def test_conffiles(extracted):
    for pkg, want in CONFFILES.items():
        _, ctl = extracted[pkg]
        have = set((ctl / "conffiles").read_text().split()) if (ctl / "conffiles").exists() else set()
        assert want <= have, (pkg, want - have)


def test_maintainer_scripts_users_and_groups(extracted):
    common = (extracted["warren-common"][1] / "postinst").read_text()
    assert "addgroup --system --quiet warren" in common
    assert re.search(r"override root warren 0640 /etc/warren/warren.conf", common)
    assert re.search(r"override root warren 0750 /etc/warren\b", common)
    assert re.search(r"override root warren 0750 /etc/warren/oidc\b", common)
    api = (extracted["warren-api"][1] / "postinst").read_text()
    assert re.search(r"adduser --system --quiet --ingroup warren", api)
    assert "docker" not in api, "warren-api's user must not get near Docker"
    assert re.search(r"for conf in warren\.conf\s*; do\s+apache2_invoke ensite \$conf", api), api
    assert "apache2_invoke enmod proxy_fcgi" in api and "apache2_invoke enmod headers" in api
    # Upgrades migrate only a configured, reachable database.
    assert "migrate --status" in api and "runuser -u warren -- warrenctl -c $CONF migrate" in api
    rec = (extracted["warren-reconciler"][1] / "postinst").read_text()
    assert "adduser --quiet warren-reconciler docker" in rec
    assert "adduser --quiet warren-reconciler warren" in rec
    for pkg in PACKAGES:
        for script in ("postinst", "postrm"):
            p = extracted[pkg][1] / script
            assert stat.S_IMODE(p.stat().st_mode) == 0o755, p
            r = run(["sh", "-n", str(p)])
            assert r.returncode == 0, (p, r.stderr)


def test_units(extracted, tmp_path):
    api_root = extracted["warren-api"][0]
    rec_root = extracted["warren-reconciler"][0]
    units = {}
    for root in (api_root, rec_root):
        for p in (root / "lib/systemd/system").iterdir():
            units[p.name] = p.read_text()
    api = units["warren-api.service"]
    assert re.search(r"^User=warren$", api, re.M) and "SupplementaryGroups" not in api
    assert re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", api, re.M)
    for key in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes",
                "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
                "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service"):
        assert re.search(rf"^{re.escape(key)}$", api, re.M), key
        assert re.search(rf"^{re.escape(key)}$", units["warren-reconciler.service"], re.M), key
    sock = units["warren-api.socket"]
    for line in ("ListenStream=/run/warren/api.sock", "SocketGroup=www-data", "SocketMode=0660"):
        assert re.search(rf"^{line}$", sock, re.M), line
    rec = units["warren-reconciler.service"]
    assert re.search(r"^User=warren-reconciler$", rec, re.M)
    assert re.search(r"^SupplementaryGroups=.*\bdocker\b", rec, re.M)
    assert re.search(r"^ExecStart=/usr/sbin/warren-reconciler --once -c /etc/warren/warren.conf$",
                     units["warren-reconciler-once.service"], re.M)

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: units not verified")
    # systemd-analyze verify wants the executables where the units say:
    # verify copies that name the extracted ones.
    d = tmp_path / "units"
    d.mkdir()
    for name, text in units.items():
        text = text.replace("/usr/sbin/", f"{api_root}/usr/sbin/" if "warren-api" in name
                            else f"{rec_root}/usr/sbin/")
        (d / name).write_text(text)
    r = run([analyze, "verify", "--man=no", *sorted(str(p) for p in d.iterdir())],
            env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"}, timeout=120)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    r = run([analyze, "security", "--offline=yes", "--no-pager", str(d / "warren-api.service")], timeout=120)
    level = re.search(r"Overall exposure level for warren-api.service: ([0-9.]+)", r.stdout)
    assert level and float(level.group(1)) < 3.0, r.stdout[-500:]


def test_man_pages(extracted):
    pages = [p for root, _ in extracted.values() for p in root.glob("usr/share/man/man*/*.gz")]
    assert sorted(p.name for p in pages) == sorted(
        ["warren-api.8.gz", "warrenctl.8.gz", "warren-reconciler.8.gz", "warren.conf.5.gz"]
    )
    mandoc = shutil.which("mandoc")
    assert mandoc, "mandoc is missing (tools/lib.sh installs it)"
    for p in pages:
        r = run([mandoc, "-T", "lint", "-W", "warning", str(p)])
        assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr


def test_binaries_run(extracted):
    sbin_api = extracted["warren-api"][0] / "usr/sbin"
    sbin_rec = extracted["warren-reconciler"][0] / "usr/sbin"
    for binary in (sbin_api / "warren-api", sbin_api / "warrenctl", sbin_rec / "warren-reconciler"):
        r = run([str(binary), "-V"], timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == f"{binary.name} {version()}", (binary, r.stdout, r.stderr)
    # The shipped configuration is valid as it is.
    conf = extracted["warren-common"][0] / "etc/warren/warren.conf"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARREN_")}
    r = run([str(sbin_api / "warrenctl"), "-c", str(conf), "check-config"], env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    r = run([str(sbin_rec / "warren-reconciler"), "-n", "-c", str(conf)], env=env, timeout=30)
    assert r.returncode == 0, r.stderr
