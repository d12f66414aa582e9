/* The reconciler's pure core: which steps for which state, and a safe spec. */
#include "config.h"

#include <string.h>

#include "arena.h"
#include "json.h"
#include "plan.h"
#include "tap.h"

static struct desired
ws(const char *state, const char *transition, const char *status)
{
	struct desired d;

	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "11111111-2222-3333-4444-555555555555");
	snprintf(d.short_id, sizeof(d.short_id), "abcdefghij");
	snprintf(d.name, sizeof(d.name), "dev");
	snprintf(d.state, sizeof(d.state), "%s", state);
	if (transition != NULL) {
		d.has_build = true;
		snprintf(d.transition, sizeof(d.transition), "%s", transition);
		snprintf(d.build_status, sizeof(d.build_status), "%s", status);
		snprintf(d.build_id, sizeof(d.build_id), "b1");
	}
	d.build_number = 3;
	d.image = "warren/demo:1";
	d.command = "[\"httpd\",\"-f\"]";
	d.args = "[]";
	d.env = "{\"A\":\"1\"}";
	d.ports = "[{\"port\":8080,\"protocol\":\"http\"}]";
	d.probe = "{\"type\":\"http\",\"port\":8080,\"path\":\"/\",\"timeout\":60}";
	d.capabilities = "[\"NET_BIND_SERVICE\"]";
	d.restart_policy = "restart";
	d.home_path = "/home/coder";
	d.parameters = "{\"THEME\":\"dark\"}";
	d.secret_names = "[]";
	d.cpu_millis = 500;
	d.memory_mb = 256;
	d.pids = 100;
	d.uid = d.gid = 1000;
	d.probe_timeout = 60;
	d.member = true;
	return d;
}

static const char *
steps(const struct plan *p)
{
	static char buf[512];
	int i;

	buf[0] = '\0';
	for (i = 0; i < p->n; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, step_names[p->steps[i]]);
	}
	return buf;
}

#define NOW	1800000000LL

#define PLAN(d, a, want, ...) do {					\
	struct plan p_;							\
	plan_decide(&(d), &(a), 1000, &p_);				\
	is_str(steps(&p_), want, __VA_ARGS__);				\
} while (0)

int
main(void)
{
	struct actual none = { 0 }, up = { true, true, true, "c1", 3, 0, false,
	    false };
	struct actual down = { true, false, true, "c1", 3, 137, false, false };
	struct actual old = { true, true, true, "c1", 2, 0, false, false };
	struct actual vol = { false, false, true, "", 0, 0, false, false };
	struct actual frozen = { true, true, true, "c1", 3, 0, false, true };
	struct arena *a = arena_new(8192);
	struct spec_context ctx = { "127.0.0.1", "bridge", "warren-abcdefghij-home",
	    "{\"TOKEN\":\"s3cret\"}", "6f1c7a1e-3f5d-4c2b-9a57-1d2e3f4a5b6c" };
	struct json_object *spec, *hc, *v;
	struct desired d;
	const char *why, *reason;

	d = ws("running", "start", "pending");
	PLAN(d, none, "begin volume create start probe succeed",
	    "a new start: volume, container, readiness, done");
	PLAN(d, vol, "begin create start probe succeed",
	    "the volume is kept when it exists");
	d = ws("running", "start", "running");
	PLAN(d, up, "probe succeed", "after a crash mid-start: only the probe");
	PLAN(d, down, "start probe succeed",
	    "a created but stopped container is started");
	d = ws("running", "restart", "pending");
	PLAN(d, old, "begin remove create start probe succeed",
	    "restart replaces an older build's container, keeps the volume");
	PLAN(d, up, "begin probe succeed",
	    "restart already done for this build is not done twice");
	d = ws("running", "update", "running");
	PLAN(d, old, "remove create start probe succeed",
	    "update replaces the container");
	d = ws("running", "start", "pending");
	d.init_pending = true;
	PLAN(d, none, "begin volume create start init probe succeed",
	    "a first start initializes the home before readiness");
	d = ws("running", "start", "running");
	d.init_pending = true;
	PLAN(d, up, "init probe succeed",
	    "after a crash mid-initialization: initialized again");
	d = ws("running", NULL, NULL);
	d.init_pending = true;
	PLAN(d, vol, "create start",
	    "no build: no initialization (it belongs to a start)");
	d = ws("running", "start", "pending");
	d.pooled = true;
	PLAN(d, none, "begin volume create start probe succeed pause",
	    "a pool member starts, and waits paused once ready");
	d = ws("running", NULL, NULL);
	d.pooled = true;
	snprintf(d.last_status, sizeof(d.last_status), "succeeded");
	PLAN(d, up, "pause", "a ready pool member found running is paused");
	PLAN(d, frozen, "", "a paused pool member is left as it is");
	snprintf(d.last_status, sizeof(d.last_status), "failed");
	PLAN(d, up, "", "a member whose start failed is not paused");
	d = ws("running", "start", "pending");
	PLAN(d, frozen, "begin unpause probe succeed",
	    "a claimed member resumes, then answers");
	d = ws("running", NULL, NULL);
	PLAN(d, frozen, "unpause", "a paused container of no pool resumes");
	d = ws("stopped", "stop", "pending");
	PLAN(d, frozen, "begin remove succeed",
	    "a paused container is removed (the step resumes it first)");
	d = ws("running", NULL, NULL);
	PLAN(d, up, "", "running and converged: nothing to do");
	PLAN(d, vol, "create start", "removed by hand: put back");
	PLAN(d, down, "record_exit start", "exited on its own: restarted");
	d.restart_policy = "fail";
	PLAN(d, down, "record_exit fail_workspace",
	    "exited, policy fail: stopped for good");
	d = ws("stopped", "stop", "pending");
	PLAN(d, up, "begin remove succeed", "stop removes the container");
	PLAN(d, none, "begin succeed", "stop with nothing running");
	d = ws("stopped", NULL, NULL);
	PLAN(d, up, "remove", "a container of a stopped workspace goes");
	PLAN(d, vol, "", "stopped: the volume stays");
	d = ws("deleted", "delete", "running");
	PLAN(d, up, "remove remove_volume forget succeed",
	    "delete removes container and volume");
	PLAN(d, vol, "remove_volume forget succeed", "delete after a crash");
	PLAN(d, none, "forget succeed", "delete when all is gone");
	d = ws("running", "start", "running");
	d.build_started = 1000 - d.probe_timeout - PLAN_BUILD_GRACE - 1;
	PLAN(d, up, "stuck", "a build past its deadline fails");

	d = ws("running", NULL, NULL);
	is_int(plan_schedule(&d, 1000, 0, 0, &reason), SCHED_NONE,
	    "a member's workspace runs on");
	d.member = false;
	is_int(plan_schedule(&d, 1000, 0, 0, &reason), SCHED_STOP,
	    "owner no longer a member of the organization");
	is_str(reason, "membership", "reason membership");
	d.member = true;
	d = ws("running", NULL, NULL);
	d.deadline = 900;
	is_int(plan_schedule(&d, 1000, 0, 0, &reason), SCHED_STOP,
	    "autostop deadline passed");
	is_str(reason, "autostop", "reason autostop");
	d.deadline = 0;
	d.max_deadline = 999;
	is_int(plan_schedule(&d, 1000, 0, 0, &reason), SCHED_STOP,
	    "max lifetime passed");
	is_str(reason, "lifetime", "reason lifetime");
	d.pooled = true;
	is_int(plan_schedule(&d, 1000, 0, 0, &reason), SCHED_NONE,
	    "an unclaimed pool member is never stopped by a schedule");
	d.pooled = false;
	d.max_deadline = 0;
	d.idle_timeout = 60;
	d.activity = 900;
	is_int(plan_schedule(&d, 1000, 0, 0, &reason), SCHED_STOP,
	    "idle too long");
	is_str(reason, "idle", "reason idle");
	d.activity = 990;
	is_int(plan_schedule(&d, 1000, 0, 0, &reason), SCHED_NONE,
	    "recent activity keeps it running");
	d = ws("stopped", NULL, NULL);
	d.stopped_at = NOW - 3 * 86400;
	is_int(plan_schedule(&d, NOW, 2, 5, &reason), SCHED_DORMANT,
	    "stopped for 3 days with a 2-day policy: dormant");
	is_int(plan_schedule(&d, NOW, 4, 5, &reason), SCHED_NONE,
	    "stopped for 3 days with a 4-day policy: not yet");
	d.dormant_at = NOW - 6 * 86400;
	is_int(plan_schedule(&d, NOW, 2, 5, &reason), SCHED_DELETE,
	    "dormant for 6 days with a 5-day policy: deleted");
	is_int(plan_schedule(&d, NOW, 2, 0, &reason), SCHED_NONE,
	    "no auto-delete when its policy is off");
	d = ws("running", "start", "pending");
	d.deadline = 1;
	is_int(plan_schedule(&d, 1000, 0, 0, &reason), SCHED_NONE,
	    "no schedule while a build is in flight");

	d = ws("running", "start", "pending");
	spec = plan_container(a, &d, &ctx, &why);
	ok(spec != NULL, "a container spec is built");
	hc = json_object_object_get(spec, "HostConfig");
	is_str(json_object_get_string(json_object_object_get(spec, "User")),
	    "1000:1000", "runs as the template's uid:gid");
	is_int(json_object_get_int64(json_object_object_get(hc, "Memory")),
	    256 * 1048576, "memory limit");
	is_int(json_object_get_int64(json_object_object_get(hc, "NanoCpus")),
	    500000000, "CPU limit");
	is_int(json_object_get_int64(json_object_object_get(hc, "PidsLimit")),
	    100, "pids limit");
	ok(!json_object_get_boolean(json_object_object_get(hc, "Privileged")),
	    "never privileged");
	is_str(json_object_to_json_string(json_object_object_get(hc,
	    "CapDrop")), "[ \"ALL\" ]", "all capabilities dropped");
	is_str(json_object_to_json_string(json_object_object_get(hc,
	    "CapAdd")), "[ \"NET_BIND_SERVICE\" ]", "the allowlist added back");
	ok(strstr(json_object_to_json_string(json_object_object_get(hc,
	    "SecurityOpt")), "no-new-privileges") != NULL, "no-new-privileges");
	ok(strstr(json_object_to_json_string(json_object_object_get(hc,
	    "Tmpfs")), "noexec") != NULL, "/tmp is a noexec tmpfs");
	ok(strstr(json_object_to_json_string(json_object_object_get(hc,
	    "PortBindings")), "\"HostIp\": \"127.0.0.1\"") != NULL,
	    "ports published on the configured address");
	v = json_object_object_get(spec, "Env");
	ok(strstr(json_object_to_json_string(v), "TOKEN=s3cret") != NULL,
	    "selected secrets reach the environment");
	ok(strstr(json_object_to_json_string(v), "WARREN_PARAM_THEME=dark")
	    != NULL, "parameters reach the environment");
	is_str(json_object_get_string(json_object_object_get(
	    json_object_object_get(spec, "Labels"), "warren.build")), "3",
	    "labelled with the build number");
	is_str(json_object_get_string(json_object_object_get(
	    json_object_object_get(spec, "Labels"), "warren.instance")),
	    "6f1c7a1e-3f5d-4c2b-9a57-1d2e3f4a5b6c",
	    "labelled with the installation's id");

	json_object_object_add(hc, "Privileged", json_object_new_boolean(1));
	ok(!plan_container_safe(spec, &why), "privileged refused: %s", why);
	json_object_object_add(hc, "Privileged", json_object_new_boolean(0));
	json_object_object_add(hc, "Binds", json_tokener_parse("[\"/:/host\"]"));
	ok(!plan_container_safe(spec, &why), "host mount refused: %s", why);
	json_object_object_del(hc, "Binds");
	json_object_object_add(hc, "NetworkMode", json_object_new_string("host"));
	ok(!plan_container_safe(spec, &why), "host network refused: %s", why);
	json_object_object_add(hc, "NetworkMode",
	    json_object_new_string("bridge"));
	json_object_object_add(spec, "User", json_object_new_string("0:0"));
	ok(!plan_container_safe(spec, &why), "root user refused: %s", why);
	arena_free(a);
	return done_testing();
}
