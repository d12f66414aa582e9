"""Issue 2, item 7: /metrics, summed over all workers."""

import math
import os
import re
import signal
import threading
import uuid

import requests

from conftest import HTTP_TIMEOUT, metric, parse_metrics, wait_for


def requests_total(w, **labels):
    return metric(w.metrics(), "warren_http_requests_total", **labels)


def test_counters_summed_over_workers(warren):
    n = 60
    tag = uuid.uuid4().hex[:10]
    before = requests_total(warren, route="health", status="200")
    errors = []

    def run(k):
        with requests.Session() as s:
            for i in range(k):
                r = s.get(
                    warren.url("/api/v1/health"),
                    headers={"X-Request-Id": f"sum-{tag}-{threading.get_ident()}-{i}"},
                    timeout=HTTP_TIMEOUT,
                )
                if r.status_code != 200:
                    errors.append(r.status_code)

    threads = [threading.Thread(target=run, args=(n // 4,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    # Counted once each, whichever worker served them.
    wait_for(
        lambda: requests_total(warren, route="health", status="200") >= before + n, 2,
        what="the counter to rise by n",
    )
    assert requests_total(warren, route="health", status="200") == before + n
    served_by = set(re.findall(rf"warren-api\[(\d+)\]: access .*request_id=sum-{tag}-", warren.log()))
    assert len(served_by) >= 2, f"all requests went to one worker: {served_by}"


def test_counters_by_status(warren):
    before = requests_total(warren, status="404")
    for _ in range(7):
        assert warren.get("/api/v1/no-such-thing").status_code == 404
    wait_for(lambda: requests_total(warren, status="404") >= before + 7, 2, what="404 counter")
    assert requests_total(warren, status="404") == before + 7

    before = requests_total(warren, status="405")
    for _ in range(3):
        assert warren.request("DELETE", "/api/v1/health").status_code == 405
    wait_for(lambda: requests_total(warren, status="405") >= before + 3, 2, what="405 counter")
    assert requests_total(warren, status="405") == before + 3


def test_counters_have_method_label(warren):
    warren.get("/api/v1/health")
    warren.request("HEAD", "/api/v1/health")
    m = warren.metrics()
    assert metric(m, "warren_http_requests_total", route="health", method="GET", status="200") > 0
    assert metric(m, "warren_http_requests_total", route="health", method="HEAD", status="200") > 0


def test_histogram_buckets_monotonic(warren):
    for _ in range(20):
        warren.get("/api/v1/ready")
    samples = warren.metrics()
    routes = {
        dict(labels)["route"]
        for (name, labels) in samples
        if name == "warren_http_request_duration_seconds_bucket"
    }
    assert "ready" in routes and "health" in routes, routes
    for route in routes:
        buckets = sorted(
            (float(dict(labels)["le"]), value)
            for (name, labels), value in samples.items()
            if name == "warren_http_request_duration_seconds_bucket"
            and dict(labels)["route"] == route
        )
        assert len(buckets) >= 5, buckets
        assert math.isinf(buckets[-1][0]), "no +Inf bucket"
        values = [v for _, v in buckets]
        assert values == sorted(values), f"{route}: buckets not cumulative: {buckets}"
        count = samples[("warren_http_request_duration_seconds_count", frozenset({("route", route)}))]
        total = samples[("warren_http_request_duration_seconds_sum", frozenset({("route", route)}))]
        assert values[-1] == count
        assert total >= 0
    ready = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in samples.items()
        if name == "warren_http_request_duration_seconds_bucket" and dict(labels)["route"] == "ready"
    )
    assert ready[-1][1] >= 20


def test_scrape_is_well_formed(warren):
    r = warren.get("/metrics")
    seen_types = {}
    for line in r.text.splitlines():
        m = re.match(r"^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$", line)
        if m:
            assert m.group(1) not in seen_types, f"TYPE repeated for {m.group(1)}"
            seen_types[m.group(1)] = m.group(2)
    assert seen_types.get("warren_http_requests_total") == "counter"
    assert seen_types.get("warren_http_request_duration_seconds") == "histogram"
    assert seen_types.get("warren_worker_restarts_total") == "counter"
    assert seen_types.get("warren_db_errors_total") == "counter"
    assert seen_types.get("warren_workers") == "gauge"
    assert r.text.endswith("\n")
    parse_metrics(r.text)


def test_worker_restarts_rise_after_sigkill(make_warren):
    w = make_warren(workers=2)
    m0 = w.metrics()
    crash0 = metric(m0, "warren_worker_restarts_total", reason="crash")
    recycle0 = metric(m0, "warren_worker_restarts_total", reason="recycle")
    old = w.workers()
    os.kill(old[0], signal.SIGKILL)
    w.wait_workers(2, exclude=[old[0]], timeout=2)
    m1 = w.metrics()
    assert metric(m1, "warren_worker_restarts_total", reason="crash") == crash0 + 1
    assert metric(m1, "warren_worker_restarts_total", reason="recycle") == recycle0
    # Both reasons are always exported, so that rate() works from zero.
    names = {(n, dict(ls).get("reason")) for (n, ls) in m1 if n == "warren_worker_restarts_total"}
    assert names == {("warren_worker_restarts_total", "crash"), ("warren_worker_restarts_total", "recycle")}


def test_counters_survive_worker_crash(make_warren):
    w = make_warren(workers=2)
    start = metric(w.metrics(), "warren_http_requests_total", route="health", status="200")
    for _ in range(30):
        assert w.get("/api/v1/health").status_code == 200
    before = metric(w.metrics(), "warren_http_requests_total", route="health", status="200")
    assert before == start + 30
    old = w.workers()
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    w.wait_workers(2, exclude=old, timeout=2)
    after = metric(w.metrics(), "warren_http_requests_total", route="health", status="200")
    assert after == before, "requests counted by dead workers were lost"
