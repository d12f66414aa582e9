"""The packages installed and used as an operator would, on a throw-away
copy of this machine (install-test.sh: an overlay of / in private mount,
network and PID namespaces, so nothing is left behind): install, warrenctl
setup against the machine's PostgreSQL cluster with peer authentication,
warren-api behind nginx and behind Apache, a dockerd of the copy's own on
the socket warren.conf names, the reconciler's privileges, one pass and the
daemon as its unit runs it, a workspace of an image made there from
busybox-static created through Apache and reached by its host name through
nginx and through Apache (authorizer_listen set as the site asks, public_url
on Apache's ServerName) by a browser-like curl each, signed in on the API
host and following the hand-off, then stopped (503 through both); upgrades
with the database down and up, remove, purge."""

import os
import shutil
import subprocess

from debs import TOP

SCRIPT = TOP / "tests" / "package" / "install-test.sh"


def test_install_setup_serve_upgrade_remove_purge(built):
    d, _ = built
    assert os.geteuid() == 0, "the install test runs as root (namespaces, dpkg)"
    for tool in ("unshare", "chroot", "spawn-fcgi", "nginx", "apache2ctl", "pg_ctlcluster", "curl",
                 "dockerd", "docker", "setpriv", "ip", "ss"):
        assert shutil.which(tool), f"{tool} is missing (tools/lib.sh installs it)"
    assert os.access("/bin/busybox", os.X_OK), "/bin/busybox is missing (busybox-static)"
    r = subprocess.run(
        ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "bash", str(SCRIPT), str(d)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    out = r.stdout
    (d / "install-test.log").write_text(out)
    assert r.returncode == 0 and out.rstrip().endswith("install test: passed"), out[-6000:]
