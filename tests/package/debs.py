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
    """The tree as a user would build it: in a git checkout, its tracked
    and new files (no build products: .gitignore); in an unpacked release
    tarball (make dist), the files its MANIFEST lists."""
    if (TOP / ".git").exists():
        r = run(["git", "-C", str(TOP), "ls-files", "-z", "-c", "-o", "--exclude-standard"])
        assert r.returncode == 0, f"git ls-files: {r.stderr}"
        names = r.stdout.split("\0")
    else:
        manifest = TOP / "MANIFEST"
        assert manifest.is_file(), f"{TOP} is neither a git checkout nor an unpacked release (MANIFEST)"
        names = manifest.read_text().splitlines()
    return [p for p in names if p and (TOP / p).is_file()]
