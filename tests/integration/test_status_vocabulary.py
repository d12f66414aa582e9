"""One vocabulary of workspace status: the enum type of PostgreSQL's view,
the API (its answers, its list filter and its OpenAPI document), the
reconciler's metrics and the pages all use the names of enum ws_status
(src/lib/wstatus.h), and a restart or an update is called the same by all
of them."""

import re
from pathlib import Path

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import metric  # noqa: E402

pytest_plugins = ["docker_util"]

TOP = Path(__file__).resolve().parents[2]
TRANSITIONAL = {"starting", "stopping", "restarting", "updating", "deleting"}


def vocabulary(st):
    """The labels of the view's enum type, in their order."""
    return st.db.value("SELECT array_to_string(enum_range(NULL::workspace_status), ',')"
                       ).split(",")


def page_statuses():
    """STATUS_CLASS's keys and the TRANSITIONAL set of htdocs/js/ui.js."""
    js = (TOP / "htdocs/js/ui.js").read_text()
    classes = re.search(r"const STATUS_CLASS = \{(.*?)\};", js, re.S).group(1)
    transitional = re.search(r"const TRANSITIONAL = new Set\(\[(.*?)\]\)", js, re.S).group(1)
    return (set(re.findall(r"(\w+):", classes)), set(re.findall(r'"(\w+)"', transitional)))


def test_the_database_the_api_the_metrics_and_the_pages_share_the_names(st):
    names = vocabulary(st)
    assert len(names) == len(set(names)) == 12, names
    # The API's document lists them, in the same order, from the C table.
    doc = st.api("GET", "/openapi.json", 200).json()
    assert doc["components"]["schemas"]["WorkspaceStatus"] == {"type": "string", "enum": names}
    # The list filters by each (deleted workspaces are never listed).
    for name in names:
        r = st.api("GET", f"/workspaces?status={name}")
        assert r.status_code == (400 if name == "deleted" else 200), (name, r.text)
    for bad in ("Running", "runnin", "pending", "succeeded", ""):
        r = st.api("GET", f"/workspaces?status={bad}")
        assert r.status_code == 400 and "status" in r.json()["detail"], (bad, r.text)
    # The reconciler reports a gauge for each, and nothing else.
    tpl = st.template()
    ws = st.workspace(tpl)
    r = st.once(timeout=60)
    st.wait_build(ws["build_id"], 10, "succeeded")
    gauges = {dict(ls)["status"] for (n, ls), v in r.metrics().items() if n == "warren_workspaces"}
    assert gauges == set(names), gauges
    # The pages have a badge for each, and call the same ones transitional.
    classes, transitional = page_statuses()
    assert set(names) <= classes, set(names) - classes
    assert transitional & set(names) == TRANSITIONAL, transitional


@pytest.mark.parametrize("transition,body,status", [
    ("restart", {}, "restarting"),
    ("update", {"template_version": 2}, "updating"),
    ("stop", {}, "stopping"),
])
def test_a_build_in_flight_is_called_the_same_by_the_api_and_the_reconciler(
        st, transition, body, status):
    tpl = st.template()
    ws = st.workspace(tpl)
    st.once(timeout=60)
    st.wait_build(ws["build_id"], 10, "succeeded")
    st.add_version(tpl["id"], env={"V": "2"})
    # No reconciler runs: the build waits, and the API says what it is.
    b = st.build(ws, transition, **body)
    assert st.api("GET", f"/workspaces/{ws['id']}", 200).json()["status"] == status
    listed = st.api("GET", f"/workspaces?status={status}", 200).json()["items"]
    assert [x["id"] for x in listed] == [ws["id"]], listed
    # The reconciler's pass counts it under the same name, then carries it out.
    r = st.once(timeout=60)
    m = r.metrics()
    assert metric(m, "warren_workspaces", status=status) == 1, r.metrics_text()
    for other in TRANSITIONAL - {status}:
        assert metric(m, "warren_workspaces", status=other) == 0, r.metrics_text()
    st.wait_build(b["id"], 10, "succeeded")
