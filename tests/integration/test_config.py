"""Issue 2, items 5 and 6: the configuration file, check-config, -n and
WARREN_<KEY> overrides."""

import re
import subprocess

import pytest

from conftest import API_BIN, SAMPLE_CONF, base_env, run_ctl

KEYS = [
    "listen", "listen_mode", "workers", "max_requests", "shutdown_grace", "max_body_size",
    "db_conninfo", "db_connect_timeout", "db_query_timeout", "log_level", "access_log",
]


def clean_env(**extra):
    return base_env(**extra)


def api_check(path, env=None):
    return subprocess.run(
        [str(API_BIN), "-n", "-c", str(path)],
        capture_output=True, text=True, timeout=30, env=env or clean_env(),
    )


def both_checks(path, env=None):
    """warrenctl check-config (both spellings) and warren-api -n agree."""
    env = env or clean_env()
    results = [
        run_ctl("check-config", "-c", path, env=env),
        run_ctl("-c", path, "check-config", env=env),
        api_check(path, env),
    ]
    codes = {r.returncode for r in results}
    assert len(codes) == 1, [(r.returncode, r.stderr) for r in results]
    return results[0]


def test_sample_is_valid():
    r = both_checks(SAMPLE_CONF)
    assert r.returncode == 0, r.stderr


def test_sample_documents_every_key():
    text = SAMPLE_CONF.read_text()
    for key in KEYS:
        assert re.search(rf"^#?\s*{key}\s*=", text, re.M), f"{key} is not in the sample"
        # ...with a comment just above it.
        block = re.search(rf"((?:^#.*\n)+)#?\s*{key}\s*=", text, re.M)
        assert block, f"{key} has no comment in the sample"


def test_minimal_and_empty_files_valid(tmp_path):
    for text in ("", "# only a comment\n\n   \n", "workers = 2\n", 'db_conninfo = "dbname=x host=/tmp"\n'):
        p = tmp_path / "c.conf"
        p.write_text(text)
        r = both_checks(p)
        assert r.returncode == 0, (text, r.stderr)


@pytest.mark.parametrize(
    "text",
    [
        "workers=3\n",
        "  workers   =   3   \n",
        'listen = "/tmp/with space.sock"\n',
        "listen = 127.0.0.1:9000\n",
        "listen = inherit\n",
        "max_body_size = 64m\nmax_requests = 0\n",
        "max_body_size = 1k\n",
        "access_log = off\nlog_level = debug\n",
        "listen_mode = 0600\n",
        "authorizer_listen = 127.0.0.1:9000\n",
        "authorizer_listen = [::1]:9000\n",
        'authorizer_listen = ""\n',
    ],
)
def test_valid_variants(tmp_path, text):
    p = tmp_path / "c.conf"
    p.write_text(text)
    r = both_checks(p)
    assert r.returncode == 0, (text, r.stderr)


@pytest.mark.parametrize(
    "lines,bad_line,why",
    [
        (["workers = 2", "no_such_key = 1"], 2, "unknown key"),
        (["workers = many"], 1, "bad int"),
        (["workers = 0"], 1, "int below range"),
        (["workers = 129"], 1, "int above range"),
        (["workers = 3x"], 1, "int with junk"),
        (["workers = "], 1, "empty int"),
        (["max_requests = -1"], 1, "negative"),
        (["shutdown_grace = 99999999999999999999999"], 1, "overflow"),
        (["log_level = loud"], 1, "bad enum"),
        (["access_log = maybe"], 1, "bad bool"),
        (["max_body_size = 1g"], 1, "bad size suffix"),
        (["max_body_size = 100"], 1, "size below range"),
        (["max_body_size = 65m"], 1, "size above range"),
        (["listen_mode = 0999"], 1, "bad octal"),
        (["db_connect_timeout = 50"], 1, "timeout below range"),
        (["# comment", "workers = 2", "", "workers = 3"], 4, "duplicate key"),
        (["workers 3"], 1, "no equals sign"),
        (['listen = "/tmp/unterminated'], 1, "unterminated quote"),
        (["= 3"], 1, "no key"),
        (["listen = relative/path.sock"], 1, "relative socket path"),
        (["Workers = 2"], 1, "keys are lower case"),
        (["authorizer_listen = 0.0.0.0:9000"], 1, "Authorizer on every address"),
        (["workers = 2", "authorizer_listen = 192.0.2.1:9000"], 2, "Authorizer on another address"),
        (["authorizer_listen = [::]:9000"], 1, "Authorizer on every IPv6 address"),
        (["authorizer_listen = localhost:9000"], 1, "Authorizer by name"),
        (["authorizer_listen = 127.0.0.1"], 1, "Authorizer without a port"),
        (["authorizer_listen = /run/warren/authz.sock"], 1, "Authorizer on a unix socket"),
    ],
)
def test_invalid(tmp_path, lines, bad_line, why):
    p = tmp_path / "bad.conf"
    p.write_text("\n".join(lines) + "\n")
    r = both_checks(p)
    assert r.returncode == 1, f"{why}: exit {r.returncode}"
    assert f"{p}:{bad_line}:" in r.stderr, f"{why}: {r.stderr!r}"
    # Messages say what is wrong, on one line each, not a usage dump.
    assert "usage" not in r.stderr.lower(), r.stderr


def test_reports_every_error(tmp_path):
    p = tmp_path / "bad.conf"
    p.write_text("bogus = 1\nworkers = many\nlog_level = loud\n")
    r = both_checks(p)
    assert r.returncode == 1
    for line in (1, 2, 3):
        assert f"{p}:{line}:" in r.stderr, r.stderr


def test_missing_file(tmp_path):
    r = both_checks(tmp_path / "absent.conf")
    assert r.returncode == 1
    assert "absent.conf" in r.stderr


def test_env_overrides_file(tmp_path, make_warren):
    w = make_warren(workers=3, env={"WARREN_WORKERS": "2"})
    assert len(w.workers()) == 2
    assert w.metrics()[("warren_workers", frozenset())] == 2


def test_env_override_applies_on_check(tmp_path):
    p = tmp_path / "c.conf"
    p.write_text("workers = 2\n")
    assert both_checks(p, clean_env(WARREN_WORKERS="5")).returncode == 0
    assert both_checks(p, clean_env(WARREN_WORKERS="500")).returncode == 1


@pytest.mark.parametrize(
    "var,value",
    [
        ("WARREN_WORKERS", "abc"),
        ("WARREN_WORKERS", "0"),
        ("WARREN_LOG_LEVEL", "loud"),
        ("WARREN_ACCESS_LOG", "perhaps"),
        ("WARREN_MAX_BODY_SIZE", "1t"),
        ("WARREN_SHUTDOWN_GRACE", ""),
    ],
)
def test_bad_env_value(tmp_path, var, value):
    p = tmp_path / "c.conf"
    p.write_text("workers = 2\n")
    r = both_checks(p, clean_env(**{var: value}))
    assert r.returncode == 1, (var, value)
    assert var in r.stderr, r.stderr


def test_bad_env_value_stops_warren_api(tmp_path):
    p = tmp_path / "c.conf"
    p.write_text(f"listen = {tmp_path}/x.sock\nworkers = 1\n")
    r = subprocess.run(
        [str(API_BIN), "-c", str(p)],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        env=clean_env(WARREN_WORKERS="lots"),
    )
    assert r.returncode == 1
    assert "WARREN_WORKERS" in r.stderr


def test_unknown_warren_env_is_not_an_error(tmp_path):
    # Other WARREN_* variables (WARREN_STATE_DIR of tools/stack, say) may
    # be set in the environment: they are not configuration keys.
    p = tmp_path / "c.conf"
    p.write_text("workers = 2\n")
    r = both_checks(p, clean_env(WARREN_STATE_DIR="/tmp", WARREN_BUILD_DIR="/tmp"))
    assert r.returncode == 0, r.stderr


def test_non_loopback_authorizer_listen_says_why(tmp_path):
    p = tmp_path / "open.conf"
    p.write_text("authorizer_listen = 0.0.0.0:9000\n")
    r = both_checks(p)
    assert r.returncode == 1, r.stderr
    assert f"{p}:1: bad value for authorizer_listen: expected a loopback address" in r.stderr, \
        r.stderr
    # The same from the environment.
    p.write_text("")
    r = both_checks(p, env=clean_env(WARREN_AUTHORIZER_LISTEN="10.1.2.3:9000"))
    assert r.returncode == 1, r.stderr
    assert "environment WARREN_AUTHORIZER_LISTEN: bad value for authorizer_listen" in r.stderr, \
        r.stderr
