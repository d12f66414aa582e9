"""Helpers of the package tests (conftest.py holds their fixtures)."""

import pathlib
import re
import subprocess

TOP = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ["warren-common", "warren-api", "warren-reconciler"]


def run(cmd, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(cmd, **kwargs)


def version():
    m = re.search(r"AC_INIT\(\[warren\], \[([^]]+)\]", (TOP / "configure.ac").read_text())
    return m.group(1)


def source_files():
    """The tree as a clone would have it: tracked and new files, no build
    products (.gitignore)."""
    r = run(["git", "-C", str(TOP), "ls-files", "-z", "-c", "-o", "--exclude-standard"])
    assert r.returncode == 0, f"the package tests need a git checkout: {r.stderr}"
    return [p for p in r.stdout.split("\0") if p and (TOP / p).is_file()]
