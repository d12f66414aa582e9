"""Shared by the package tests: one dpkg-buildpackage run per session, in a
copy of the tree, and the packages taken apart with dpkg-deb."""

import os
import shutil

import pytest

from debs import PACKAGES, TOP, run, source_files, version


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Builds the packages; -> (directory of the .debs, build log)."""
    for tool in ("dpkg-buildpackage", "dh", "lintian"):
        assert shutil.which(tool), f"{tool} is missing (tools/lib.sh installs it)"
    d = tmp_path_factory.mktemp("deb")
    src = d / f"warren-{version()}"
    for rel in source_files():
        dst = src / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(TOP / rel, dst)
    env = dict(os.environ)
    env["DEB_BUILD_OPTIONS"] = f"parallel={os.cpu_count() or 1}"
    r = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, timeout=1200)
    log = r.stdout + r.stderr
    (d / "build.log").write_text(log)
    assert r.returncode == 0, log[-5000:]
    return d, log


def deb(d, pkg):
    (path,) = d.glob(f"{pkg}_{version()}_*.deb")
    return path


@pytest.fixture(scope="session")
def extracted(built):
    """package -> (root of its files, control directory)."""
    d, _ = built
    out = {}
    for pkg in PACKAGES:
        root, ctl = d / "x" / pkg / "root", d / "x" / pkg / "DEBIAN"
        root.mkdir(parents=True)
        assert run(["dpkg-deb", "-x", str(deb(d, pkg)), str(root)]).returncode == 0
        assert run(["dpkg-deb", "-e", str(deb(d, pkg)), str(ctl)]).returncode == 0
        out[pkg] = (root, ctl)
    return out
