"""A workspace's first start (issue 16 point 3): the files of a starter the
template offers, and a git repository cloned into the home, both inside the
started workspace as its user, their output in the build log, a failure
failing the build with the reason.

The git server is git's own: `git-http-backend` under fcgiwrap and nginx,
over TLS from a test CA, one repository public and one behind basic auth.
It runs in the "outside" network namespace of a Docker Engine set up as on
a production host (packet filter on, namespace of its own), so that the
workspace reaches it as it would reach a forge on the Internet.  The
workspace image is busybox with the host's git and the libraries it links,
and the test CA as its certificate bundle.
"""

import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile
import tempfile

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import wait_for  # noqa: E402
from docker_util import (IMAGE, CertAuthority, NetnsDockerd, Stack,  # noqa: E402
                         build_image, rootfs_tar)
from identity_util import unique  # noqa: E402

pytest_plugins = ["docker_util"]

GIT_IMAGE = "warren/busybox-git:1"
PASSWORD = "pw-of-alice-0cfb6d2e9a"
FLASK_APP = 'from flask import Flask\napp = Flask(__name__)\n\n\n@app.get("/")\ndef hello():\n    return "Hello from Flask"\n'
STARTERS = [
    {"name": "flask", "display_name": "Python Flask app",
     "description": "app.py and its requirements",
     "files": {"app.py": FLASK_APP, "requirements.txt": "flask\n",
               "templates/index.html": "<h1>It's '$HOME' \"quoted\" `text`</h1>\n"}},
    {"name": "static", "files": {"site/index.html": "<p>a static site</p>\n"}},
]


def _libraries(binaries):
    """The shared objects the binaries load (ldd), with the loader."""
    out = set()
    for b in binaries:
        r = subprocess.run(["ldd", b], capture_output=True, text=True, check=True)
        for line in r.stdout.splitlines():
            parts = line.split()
            if "=>" in parts and parts[parts.index("=>") + 1].startswith("/"):
                out.add(parts[parts.index("=>") + 1])
            elif parts and parts[0].startswith("/"):
                out.add(parts[0])
    return sorted(out)


def git_image(client, ca_cert):
    """busybox, the host's git with git-remote-https, their libraries and
    the test CA as the system's certificate bundle."""
    git = "/usr/bin/git"
    remote = "/usr/lib/git-core/git-remote-http"
    buf = io.BytesIO(rootfs_tar("git workspace\n"))
    made = set()
    with tarfile.open(fileobj=buf, mode="a") as tar:
        def add_dirs(path):
            parts = pathlib.PurePosixPath(path).parts[1:-1]
            for i in range(len(parts)):
                d = "/".join(parts[:i + 1])
                if d not in made and d not in ("bin", "etc", "home", "tmp"):
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(ti)
                made.add(d)

        def add(path, data, mode=0o755):
            add_dirs(path)
            ti = tarfile.TarInfo(path.lstrip("/"))
            ti.size, ti.mode = len(data), mode
            tar.addfile(ti, io.BytesIO(data))

        for f in _libraries([git, remote]):
            add(f, pathlib.Path(f).read_bytes())
        for target in (git, "/usr/lib/git-core/git", remote,
                       "/usr/lib/git-core/git-remote-https"):
            add(target, pathlib.Path(git if "remote" not in target else remote).read_bytes())
        add("/etc/ssl/certs/ca-certificates.crt", pathlib.Path(ca_cert).read_bytes(), 0o644)
        add_dirs("/usr/share/git-core/templates/x")
        ti = tarfile.TarInfo("bin/git")
        ti.type, ti.linkname = tarfile.SYMTYPE, "/usr/bin/git"
        tar.addfile(ti)
    img = client.import_image(buf.getvalue(), GIT_IMAGE, changes=[
        'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]', "ENV PATH=/bin:/usr/bin"])
    assert img is not None
    return img


def run(*cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    assert r.returncode == 0, (cmd, r.stdout, r.stderr)
    return r.stdout


class GitServer:
    """git-http-backend behind fcgiwrap and nginx, on TLS, in the engine's
    "outside" namespace: https://ADDR/public/app.git (branches main and
    feature) and https://ADDR/private/secret.git (basic auth, alice)."""

    def __init__(self, engine, ca):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="wgit-", dir="/tmp"))
        self.addr = engine.outside_addr
        self.procs = []
        root = self.dir / "repos"
        for name, files, branch in (("public/app", {"README.md": "the public app\n"}, "feature"),
                                    ("private/secret", {"notes.txt": "private notes\n"}, None)):
            bare = root / f"{name}.git"
            run("git", "init", "-q", "--bare", "-b", "main", str(bare))
            work = self.dir / "work" / name
            work.mkdir(parents=True)
            run("git", "init", "-q", "-b", "main", str(work))
            for f, text in files.items():
                (work / f).write_text(text)
            env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
                       GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
            run("git", "-C", str(work), "add", ".", env=env)
            run("git", "-C", str(work), "commit", "-q", "-m", f"first of {name}", env=env)
            if branch:
                run("git", "-C", str(work), "checkout", "-q", "-b", branch, env=env)
                (work / "FEATURE").write_text("on the feature branch\n")
                run("git", "-C", str(work), "add", ".", env=env)
                run("git", "-C", str(work), "commit", "-q", "-m", "feature", env=env)
            run("git", "-C", str(work), "push", "-q", str(bare), "--all", env=env)
        cert, key = ca.issue("git", "serverAuth", f"IP:{self.addr}")
        (self.dir / "htpasswd").write_text(
            "alice:" + run("openssl", "passwd", "-apr1", PASSWORD).strip() + "\n")
        sock = self.dir / "fcgiwrap.sock"
        for d in ("client", "fastcgi", "proxy", "uwsgi", "scgi"):
            (self.dir / "tmp" / d).mkdir(parents=True)
        git = f"""
            fastcgi_pass unix:{sock};
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT {root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $uri;
            fastcgi_param REMOTE_USER $remote_user;
        """
        t = self.dir / "tmp"
        (self.dir / "nginx.conf").write_text(f"""
user root;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{}}
http {{
    access_log {self.dir}/access.log;
    client_body_temp_path {t}/client; fastcgi_temp_path {t}/fastcgi;
    proxy_temp_path {t}/proxy; uwsgi_temp_path {t}/uwsgi; scgi_temp_path {t}/scgi;
    server {{
        listen {self.addr}:443 ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location /private/ {{
            auth_basic "private repositories";
            auth_basic_user_file {self.dir}/htpasswd;
            {git}
        }}
        location /public/ {{ {git} }}
    }}
}}
""")
        self.procs.append(subprocess.Popen(["fcgiwrap", "-s", f"unix:{sock}"],
                                           stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: sock.exists(), 10, what="fcgiwrap's socket")
        self.procs.append(subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{engine.outside}", "--", "nginx", "-p", str(self.dir),
             "-e", str(self.dir / "error.log"), "-c", str(self.dir / "nginx.conf"),
             "-g", "daemon off;"], stdin=subprocess.DEVNULL))
        # git itself, from the namespace, through the server.
        env = dict(os.environ, GIT_SSL_CAINFO=str(ca.cert), GIT_TERMINAL_PROMPT="0")
        wait_for(lambda: engine.run("git", "ls-remote", self.url("public/app"),
                                    env=env).returncode == 0, 20, what="the git server")

    def url(self, name):
        return f"https://{self.addr}/{name}.git"

    def log(self):
        return (self.dir / "access.log").read_text(errors="replace")

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def engine():
    d = NetnsDockerd()
    try:
        build_image(d.client, IMAGE, "warren v1\n")
        d.ca = CertAuthority(d.dir / "ca")
        git_image(d.client, d.ca.cert)
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def gitserver(engine):
    g = GitServer(engine, engine.ca)
    yield g
    g.close()


@pytest.fixture
def st(pg, tmp_path, engine):
    s = Stack(pg, tmp_path / "init", engine)
    s.reconciler(reconciler_resync=5).start()
    yield s
    errors = s.close()
    if errors:
        pytest.fail("\n".join(errors))


def home(st, ws, *cmd):
    """A command in the workspace as its user: (exit code, output)."""
    # A first character that no output of JSON starts with.
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", 'printf "%%"; exec "$@"', "sh", *cmd],
                               user="1000:1000")
    assert out.startswith("%"), out
    return code, out[1:].replace("\r\n", "\n")


@pytest.fixture(autouse=True)
def explain(request, st):
    """On a failure: the reconciler's log and the builds' logs."""
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed > failed:
        for r in st.recons:
            print("reconciler:", r.log()[-4000:])
        for row in st.db.all("SELECT b.id, b.status, b.error FROM workspace_builds b"):
            print("build", row, build_log(st, row["id"])[-3000:])


def build_log(st, build_id):
    return "\n".join(st.log_lines(build_id))


def test_starter_files_on_first_start_only(st):
    tpl = st.template(image=GIT_IMAGE, starters=STARTERS)
    # The version lists its starters.
    v = st.api("GET", f"/templates/{tpl['id']}/versions/1", 200).json()
    assert [s["name"] for s in v["starters"]] == ["flask", "static"]
    ws = st.workspace(tpl, starter="flask")
    assert ws["starter"] == "flask" and ws["initialized_at"] is None
    st.wait_build(ws["build_id"], 60, "succeeded")
    log = build_log(st, ws["build_id"])
    assert "starter flask: 3 files into /home/dev" in log, log
    for f in ("app.py", "requirements.txt", "templates/index.html"):
        assert f"  {f}" in log
    for f, text in STARTERS[0]["files"].items():
        code, out = home(st, ws, "cat", f"/home/dev/{f}")
        assert code == 0 and out == text, (f, out)
        code, out = home(st, ws, "stat", "-c", "%u:%g", f"/home/dev/{f}")
        assert out.strip() == "1000:1000", (f, out)
    assert st.api("GET", f"/workspaces/{ws['id']}", 200).json()["initialized_at"]
    # The user's changes stay: a later start does not initialize again.
    home(st, ws, "sh", "-c", "echo mine > /home/dev/app.py")
    st.wait_build(st.build(ws, "stop")["id"], 60, "succeeded")
    b = st.build(ws, "start")
    st.wait_build(b["id"], 60, "succeeded")
    assert "first start" not in build_log(st, b["id"])
    assert home(st, ws, "cat", "/home/dev/app.py")[1] == "mine\n"


def test_public_repository_cloned_with_its_branch(st, gitserver):
    tpl = st.template(image=GIT_IMAGE, starters=STARTERS)
    ws = st.workspace(tpl, starter="static", repository={
        "url": gitserver.url("public/app"), "branch": "feature"})
    assert ws["repository"] == {"url": gitserver.url("public/app"), "branch": "feature",
                                "directory": "app"}
    st.wait_build(ws["build_id"], 90, "succeeded")
    log = build_log(st, ws["build_id"])
    assert f"cloning {gitserver.url('public/app')} (branch feature) into /home/dev/app" in log
    assert "Cloning into 'app'" in log, log
    assert "Receiving objects: 100% (6/6), done." in log.splitlines(), log
    assert home(st, ws, "cat", "/home/dev/app/FEATURE")[1] == "on the feature branch\n"
    assert home(st, ws, "cat", "/home/dev/site/index.html")[1] == "<p>a static site</p>\n"
    code, out = home(st, ws, "git", "--no-pager", "-C", "/home/dev/app", "log", "--format=%s")
    assert code == 0 and out.split() == ["feature", "first", "of", "public/app"], out
    assert home(st, ws, "stat", "-c", "%u", "/home/dev/app/.git")[1].strip() == "1000"
    # The request came from the workspace, through the host's NAT.
    assert "/public/app.git/info/refs" in gitserver.log()
    # Run again, as after a crash between its end and its record: what is
    # there is kept, nothing is cloned twice.
    st.db.exec("UPDATE workspaces SET initialized_at = NULL WHERE id = %s", ws["id"])
    home(st, ws, "sh", "-c", "echo changed > /home/dev/site/index.html")
    b = st.build(ws, "restart")
    st.wait_build(b["id"], 90, "succeeded")
    log = build_log(st, b["id"])
    assert "  site/index.html: there already, kept" in log, log
    assert "/home/dev/app is a git repository already: not cloned again" in log, log
    assert home(st, ws, "cat", "/home/dev/site/index.html")[1] == "changed\n"


def test_private_repository_with_a_secret(st, gitserver):
    for value in (f"alice:{PASSWORD}",):
        st.api("POST", "/secrets", 201, json={"name": "GIT_CRED", "value": value})
    tpl = st.template(image=GIT_IMAGE)
    ws = st.workspace(tpl, repository={"url": gitserver.url("private/secret"),
                                       "secret": "GIT_CRED", "directory": "notes"})
    st.wait_build(ws["build_id"], 90, "succeeded")
    log = build_log(st, ws["build_id"])
    assert PASSWORD not in log
    assert home(st, ws, "cat", "/home/dev/notes/notes.txt")[1] == "private notes\n"
    # The password is not written into the clone, nor left in the container.
    code, out = home(st, ws, "cat", "/home/dev/notes/.git/config")
    assert code == 0 and PASSWORD not in out and "alice" not in out, out
    assert PASSWORD not in json.dumps(st.docker.inspect(st.cname(ws)))


def test_wrong_password_fails_the_build_clearly(st, gitserver):
    st.api("POST", "/secrets", 201, json={"name": "GIT_WRONG", "value": "alice:not-it-5519"})
    tpl = st.template(image=GIT_IMAGE)
    ws = st.workspace(tpl, repository={"url": gitserver.url("private/secret"),
                                       "secret": "GIT_WRONG"})
    b = st.wait_build(ws["build_id"], 90, "failed")
    assert "the first start's initialization failed (exit code 128)" in b["error"], b
    assert "Authentication failed" in b["error"], b
    assert "not-it-5519" not in build_log(st, ws["build_id"]) + b["error"]
    got = st.api("GET", f"/workspaces/{ws['id']}", 200).json()
    assert got["status"] == "failed" and got["initialized_at"] is None
    # A missing branch, the same way.
    ws2 = st.workspace(tpl, repository={"url": gitserver.url("public/app"),
                                        "branch": "no-such-branch"})
    b = st.wait_build(ws2["build_id"], 90, "failed")
    assert "no-such-branch" in b["error"] and "not found" in b["error"], b


def test_image_without_git_fails_clearly(st, gitserver):
    tpl = st.template(image=IMAGE)
    ws = st.workspace(tpl, repository={"url": gitserver.url("public/app")})
    b = st.wait_build(ws["build_id"], 60, "failed")
    assert "exit code 127" in b["error"] and "git is not installed" in b["error"], b


def test_bad_input_is_refused_and_changes_nothing(st):
    tpl = st.template(image=GIT_IMAGE, starters=STARTERS)
    before = st.db.value("SELECT count(*) FROM workspaces")
    for body, words in (
        ({"starter": "django"}, "no starter django"),
        ({"starter": 7}, "starter"),
        ({"repository": "https://example.org/a.git"}, "repository must be an object"),
        ({"repository": {"url": "http://example.org/a.git"}}, "https://"),
        ({"repository": {"url": "https://bob:pw@example.org/a.git"}}, "must not hold credentials"),
        ({"repository": {"url": "https://example.org/a b.git"}}, "https://"),
        ({"repository": {"url": "https://example.org/"}}, "give repository.directory"),
        ({"repository": {"url": "https://example.org/a.git", "branch": "-x"}}, "branch"),
        ({"repository": {"url": "https://example.org/a.git", "branch": "a..b"}}, "branch"),
        ({"repository": {"url": "https://example.org/a.git", "directory": "../x"}}, "directory"),
        ({"repository": {"url": "https://example.org/a.git", "secret": "NOPE"}},
         "no secret named NOPE"),
        ({"repository": {"url": "https://example.org/a.git", "token": "x"}}, "unknown field"),
    ):
        r = st.api("POST", "/workspaces", json={"name": unique("bad-"), "template": tpl["id"],
                                                **body})
        assert r.status_code == 400 and words in r.json()["detail"], (body, r.text)
    assert st.db.value("SELECT count(*) FROM workspaces") == before
    for starters, words in (
        ([{"name": "a", "files": {"../x": "t"}}], "without '..'"),
        ([{"name": "a", "files": {"/etc/passwd": "t"}}], "relative to the home"),
        ([{"name": "a", "files": {"x": 1}}], "must be text"),
        ([{"name": "a", "files": {}}], "files must be an object"),
        ([{"name": "A", "files": {"x": "t"}}], "name of at most 32"),
        ([{"name": "a", "files": {"x": "t"}}, {"name": "a", "files": {"y": "t"}}], "used twice"),
        ([{"name": "a", "files": {"x": "t" * (97 * 1024)}}], "larger than 96 KiB"),
        ([{"name": "a", "files": {"x": "t"}, "run": "rm -rf /"}], "unknown field"),
    ):
        r = st.api("POST", f"/templates/{tpl['id']}/versions",
                   json={**{k: v for k, v in st.api("GET", f"/templates/{tpl['id']}/versions/1",
                                                     200).json().items()
                            if k in ("image", "ports", "probe", "home_path", "command")},
                         "starters": starters})
        assert r.status_code == 400 and words in r.json()["detail"], (starters, r.text)

