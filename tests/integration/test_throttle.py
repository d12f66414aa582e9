"""Two warren-api instances on one database, as two API hosts behind a
load balancer: the limits that must be global are counted in PostgreSQL
(rate_windows, src/api/throttle.h), so a budget of N is N across both,
whichever answers.  Requests here alternate between the two instances."""

import itertools
import threading

from identity_util import (
    assert_problem, call, ctl_user, identity_conf, login, me, psql, sign_in,
    unique,
)

BUDGET = 6


def pair(make_warren, pg, **conf):
    db = pg.create_db(unique("pair_"))
    c = identity_conf(**conf)
    return make_warren(db=db, **c), make_warren(db=db, **c)


def test_a_token_budget_is_one_budget_across_api_hosts(make_warren, pg):
    a, b = pair(make_warren, pg, token_rate_limit=BUDGET)
    u = ctl_user(a, "busy")
    session = sign_in(a, u)["access_token"]
    r = call(a, "POST", "/tokens", session, json={"name": "t", "scope": "read"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    # Alternately: both hosts know the token, and count it together.
    hosts = itertools.cycle((a, b))
    answers = [(w, me(w, token)) for w in itertools.islice(hosts, 3 * BUDGET)]
    statuses = [r.status_code for _, r in answers]
    assert statuses == [200] * BUDGET + [429] * (2 * BUDGET), statuses
    for w, r in answers[BUDGET:]:
        assert_problem(r, 429)
        assert 1 <= int(r.headers["Retry-After"]) <= 60, r.headers
    assert {w for w, r in answers if r.status_code == 429} == {a, b}
    # Another token of the same user has a budget of its own.
    r = call(b, "POST", "/tokens", sign_in(b, u)["access_token"],
             json={"name": "t2", "scope": "read"})
    assert me(a, r.json()["token"]).status_code == 200


def test_concurrent_requests_on_both_hosts_share_the_budget(make_warren, pg):
    a, b = pair(make_warren, pg, token_rate_limit=BUDGET, workers=3)
    u = ctl_user(a, "racer")
    r = call(a, "POST", "/tokens", sign_in(a, u)["access_token"],
             json={"name": "t", "scope": "read"})
    token = r.json()["token"]
    results, lock = [], threading.Lock()

    def hammer(w):
        for _ in range(BUDGET):
            s = me(w, token).status_code
            with lock:
                results.append(s)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert sorted(results) == [200] * BUDGET + [429] * (3 * BUDGET), results


def test_sign_in_throttles_count_failures_on_every_host(make_warren, pg):
    a, b = pair(make_warren, pg, login_failures_per_account=3,
                login_failures_per_address=5, login_window=3)
    victim = ctl_user(a, "victim")
    # Three failures, one host after the other: the account is throttled on both.
    for w in (a, b, a):
        assert_problem(login(w, victim.name, "wrong-password"), 401)
    for w in (b, a):
        r = login(w, victim.name, victim.password)
        assert_problem(r, 429)
        assert 1 <= int(r.headers["Retry-After"]) <= 3, r.headers
    # Per address, across names and hosts: two more failures reach five.
    for w, name in ((b, "ghost1"), (a, "ghost2")):
        assert_problem(login(w, name, "wrong-password"), 401)
    other = ctl_user(b, "other")
    assert_problem(login(b, other.name, other.password), 429)


def test_a_window_ends_and_a_success_starts_the_account_again(make_warren, pg):
    import time
    a, b = pair(make_warren, pg, login_failures_per_account=2, login_window=2)
    u = ctl_user(a, "patient")
    for w in (a, b):
        assert_problem(login(w, u.name, "wrong-password"), 401)
    assert_problem(login(a, u.name, u.password), 429)
    deadline = time.monotonic() + 10
    while login(b, u.name, u.password).status_code != 200:
        assert time.monotonic() < deadline, "the window did not end"
        time.sleep(0.25)
    # The success cleared the account's window on both hosts: two more
    # failures are needed before it is throttled again.
    assert_problem(login(a, u.name, "wrong-password"), 401)
    assert login(b, u.name, u.password).status_code == 200


def test_a_large_budget_is_leased_by_each_host_and_still_n_across_both(make_warren, pg):
    """With a budget of 64 each host takes leases of a sixteenth of what is
    left and spends them from memory: PostgreSQL is asked once a lease, and
    the two hosts together still let exactly 64 requests through when the
    requests keep coming to both."""
    budget = 64
    a, b = pair(make_warren, pg, token_rate_limit=budget)
    u = ctl_user(a, "leaser")
    r = call(a, "POST", "/tokens", sign_in(a, u)["access_token"],
             json={"name": "t", "scope": "read"})
    token = r.json()["token"]
    hosts = itertools.cycle((a, b))
    statuses = [me(w, token).status_code for w in itertools.islice(hosts, 3 * budget)]
    assert statuses.count(200) == budget, statuses
    assert statuses.count(429) == 2 * budget, statuses
    assert statuses[-2:] == [429, 429], statuses
    # The window holds the whole budget, taken in leases, not 64 writes.
    count, granted = psql(a, "SELECT count || ' ' || granted FROM rate_windows").split()
    assert int(count) == budget and int(granted) == 1, (count, granted)
