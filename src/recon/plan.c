#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "plan.h"

const char *const step_names[STEP_COUNT] = {
	"begin", "volume", "remove", "create", "start", "init", "unpause",
	"probe", "record_exit", "fail_workspace", "remove_volume", "forget",
	"stuck", "succeed", "pause",
};

static void
add(struct plan *p, enum step s)
{
	if (p->n < PLAN_MAX)
		p->steps[p->n++] = s;
}

static bool
is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* A build waits for readiness, after the first start's initialization. */
static void
ready(struct plan *p, const struct desired *d)
{
	if (d->init_pending)
		add(p, STEP_INIT);
	add(p, STEP_PROBE);
}

void
plan_decide(const struct desired *d, const struct actual *a, int64_t now,
    struct plan *p)
{
	bool exists = a->exists;

	p->n = 0;
	if (d->has_build && is(d->build_status, "running") &&
	    d->build_started > 0 && now > d->build_started + d->probe_timeout +
	    PLAN_BUILD_GRACE) {
		add(p, STEP_STUCK);
		return;
	}
	if (d->has_build && is(d->build_status, "pending"))
		add(p, STEP_BEGIN);
	if (is(d->state, "running")) {
		if (!a->volume)
			add(p, STEP_VOLUME);
		/* Restart and update replace the container, never the volume. */
		if (exists && d->has_build && (is(d->transition, "restart") ||
		    is(d->transition, "update")) &&
		    a->build_number < d->build_number) {
			add(p, STEP_REMOVE);
			exists = false;
		}
		if (!exists) {
			add(p, STEP_CREATE);
			add(p, STEP_START);
			if (d->has_build)
				ready(p, d);
		} else if (!a->running) {
			if (d->has_build) {
				add(p, STEP_START);
				ready(p, d);
			} else {
				add(p, STEP_RECORD_EXIT);
				if (is(d->restart_policy, "fail")) {
					add(p, STEP_FAIL_WORKSPACE);
					return;
				}
				add(p, STEP_START);
			}
		} else if (d->has_build) {
			/* A claimed pool member, or one claimed as it started. */
			if (a->paused)
				add(p, STEP_UNPAUSE);
			ready(p, d);
		} else if (a->paused != d->pooled && (a->paused ||
		    is(d->last_status, "succeeded")))
			/* Pool members wait paused once ready; others run. */
			add(p, a->paused ? STEP_UNPAUSE : STEP_PAUSE);
	} else {
		if (exists)
			add(p, STEP_REMOVE);
		if (is(d->state, "deleted")) {
			if (a->volume)
				add(p, STEP_REMOVE_VOLUME);
			add(p, STEP_FORGET);
		}
	}
	if (d->has_build)
		add(p, STEP_SUCCEED);
	/* A pool member's start ends paused, ready for a claim. */
	if (d->has_build && d->pooled && is(d->state, "running"))
		add(p, STEP_PAUSE);
}

enum schedule_action
plan_schedule(const struct desired *d, int64_t now, long dormancy_days,
    long delete_days, const char **reason)
{
	*reason = NULL;
	if (d->has_build || d->pooled)
		return SCHED_NONE;
	if (is(d->state, "running")) {
		if (!d->member)
			*reason = "membership";
		else if (d->max_deadline > 0 && now >= d->max_deadline)
			*reason = "lifetime";
		else if (d->deadline > 0 && now >= d->deadline)
			*reason = "autostop";
		else if (d->idle_timeout > 0 && d->activity > 0 &&
		    now >= d->activity + d->idle_timeout)
			*reason = "idle";
		return *reason ? SCHED_STOP : SCHED_NONE;
	}
	if (!is(d->state, "stopped"))
		return SCHED_NONE;
	*reason = "dormancy";
	if (d->dormant_at > 0 && delete_days > 0 &&
	    now >= d->dormant_at + delete_days * 86400)
		return SCHED_DELETE;
	if (d->dormant_at == 0 && dormancy_days > 0 && d->stopped_at > 0 &&
	    now >= d->stopped_at + dormancy_days * 86400)
		return SCHED_DORMANT;
	*reason = NULL;
	return SCHED_NONE;
}

char *
plan_container_name(struct arena *a, const struct desired *d)
{
	return arena_printf(a, "warren-%s", d->short_id);
}

char *
plan_volume_name(struct arena *a, const struct desired *d)
{
	return arena_printf(a, "warren-%s-home", d->short_id);
}

static struct json_object *
parse(struct arena *a, const char *text)
{
	struct json_object *o;

	if (text == NULL || json_parse(a, text, strlen(text), &o) != JSON_OK)
		return NULL;
	return o;
}

static struct json_object *
string_array(struct arena *a, const char *text)
{
	struct json_object *o = parse(a, text);

	if (o == NULL || !json_object_is_type(o, json_type_array) ||
	    json_object_array_length(o) == 0)
		return NULL;
	return json_object_get(o);
}

/* Template environment, then parameters, then secrets, then Warren's. */
static struct json_object *
environment(struct arena *a, const struct desired *d,
    const struct spec_context *c)
{
	struct json_object *env = json_object_new_array(), *o;

	if ((o = parse(a, d->env)) != NULL &&
	    json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
			json_object_array_add(env, json_object_new_string(
			    arena_printf(a, "%s=%s", k,
			    json_object_get_string(v))));
	}
	if ((o = parse(a, d->parameters)) != NULL &&
	    json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
			json_object_array_add(env, json_object_new_string(
			    arena_printf(a, "WARREN_PARAM_%s=%s", k,
			    json_object_is_type(v, json_type_string) ?
			    json_object_get_string(v) :
			    json_object_to_json_string(v))));
	}
	if ((o = parse(a, c->secret_env)) != NULL &&
	    json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
			json_object_array_add(env, json_object_new_string(
			    arena_printf(a, "%s=%s", k,
			    json_object_get_string(v))));
	}
	json_object_array_add(env, json_object_new_string(arena_printf(a,
	    "WARREN_WORKSPACE_ID=%s", d->id)));
	json_object_array_add(env, json_object_new_string(arena_printf(a,
	    "WARREN_WORKSPACE_NAME=%s", d->name)));
	json_object_array_add(env, json_object_new_string(arena_printf(a,
	    "HOME=%s", d->home_path)));
	return env;
}

struct json_object *
plan_container(struct arena *a, const struct desired *d,
    const struct spec_context *c, const char **why)
{
	struct json_object *o, *hc, *labels, *exposed, *bindings, *b, *bl;
	struct json_object *ports, *caps, *mounts, *m, *tmpfs, *cmd, *args;
	struct json_object *capadd, *drop;
	size_t i;

	o = json_own(a, json_object_new_object());
	json_object_object_add(o, "Image", json_object_new_string(d->image));
	if ((cmd = string_array(a, d->command)) != NULL)
		json_object_object_add(o, "Entrypoint", cmd);
	if ((args = string_array(a, d->args)) != NULL)
		json_object_object_add(o, "Cmd", args);
	json_object_object_add(o, "Env", environment(a, d, c));
	json_object_object_add(o, "User", json_object_new_string(arena_printf(
	    a, "%ld:%ld", d->uid, d->gid)));
	json_object_object_add(o, "Hostname",
	    json_object_new_string(d->short_id));
	json_object_object_add(o, "WorkingDir",
	    json_object_new_string(d->home_path));
	labels = json_object_new_object();
	json_object_object_add(labels, "warren.managed",
	    json_object_new_string("true"));
	json_object_object_add(labels, "warren.workspace",
	    json_object_new_string(d->id));
	if (c->instance != NULL)
		json_object_object_add(labels, "warren.instance",
		    json_object_new_string(c->instance));
	json_object_object_add(labels, "warren.short_id",
	    json_object_new_string(d->short_id));
	json_object_object_add(labels, "warren.build", json_object_new_string(
	    arena_printf(a, "%d", d->build_number)));
	json_object_object_add(o, "Labels", labels);

	hc = json_object_new_object();
	exposed = json_object_new_object();
	bindings = json_object_new_object();
	if ((ports = parse(a, d->ports)) == NULL ||
	    !json_object_is_type(ports, json_type_array)) {
		*why = "the template's ports are not readable";
		return NULL;
	}
	for (i = 0; i < json_object_array_length(ports); i++) {
		int64_t p = json_object_get_int64(json_object_object_get(
		    json_object_array_get_idx(ports, i), "port"));
		const char *key = arena_printf(a, "%lld/tcp", (long long)p);
		json_object_object_add(exposed, key, json_object_new_object());
		bl = json_object_new_array();
		b = json_object_new_object();
		json_object_object_add(b, "HostIp",
		    json_object_new_string(c->publish_address));
		json_object_object_add(b, "HostPort", json_object_new_string(""));
		json_object_array_add(bl, b);
		json_object_object_add(bindings, key, bl);
	}
	json_object_object_add(o, "ExposedPorts", exposed);
	json_object_object_add(hc, "PortBindings", bindings);
	json_object_object_add(hc, "Memory", json_object_new_int64(
	    (int64_t)d->memory_mb * 1048576));
	json_object_object_add(hc, "MemorySwap", json_object_new_int64(
	    (int64_t)d->memory_mb * 1048576));
	json_object_object_add(hc, "NanoCpus", json_object_new_int64(
	    (int64_t)d->cpu_millis * 1000000));
	json_object_object_add(hc, "PidsLimit", json_object_new_int64(d->pids));
	json_object_object_add(hc, "Privileged", json_object_new_boolean(0));
	json_object_object_add(hc, "NetworkMode",
	    json_object_new_string(c->network));
	drop = json_object_new_array();
	json_object_array_add(drop, json_object_new_string("ALL"));
	json_object_object_add(hc, "CapDrop", drop);
	capadd = json_object_new_array();
	if ((caps = parse(a, d->capabilities)) != NULL &&
	    json_object_is_type(caps, json_type_array))
		for (i = 0; i < json_object_array_length(caps); i++)
			json_object_array_add(capadd, json_object_get(
			    json_object_array_get_idx(caps, i)));
	json_object_object_add(hc, "CapAdd", capadd);
	json_object_object_add(hc, "SecurityOpt", json_tokener_parse(
	    "[\"no-new-privileges:true\"]"));
	tmpfs = json_object_new_object();
	json_object_object_add(tmpfs, "/tmp", json_object_new_string(
	    "rw,noexec,nosuid,nodev,size=268435456"));
	json_object_object_add(hc, "Tmpfs", tmpfs);
	mounts = json_object_new_array();
	m = json_object_new_object();
	json_object_object_add(m, "Type", json_object_new_string("volume"));
	json_object_object_add(m, "Source", json_object_new_string(c->volume));
	json_object_object_add(m, "Target",
	    json_object_new_string(d->home_path));
	json_object_array_add(mounts, m);
	json_object_object_add(hc, "Mounts", mounts);
	json_object_object_add(hc, "RestartPolicy",
	    json_tokener_parse("{\"Name\":\"no\"}"));
	json_object_object_add(hc, "Init", json_object_new_boolean(1));
	json_object_object_add(o, "HostConfig", hc);
	return plan_container_safe(o, why) ? o : NULL;
}

bool
plan_container_safe(struct json_object *o, const char **why)
{
	struct json_object *hc, *v, *m;
	const char *user, *colon;
	size_t i;

	if (!json_object_object_get_ex(o, "HostConfig", &hc)) {
		*why = "no host configuration";
		return false;
	}
	if (json_object_object_get_ex(hc, "Privileged", &v) &&
	    json_object_get_boolean(v)) {
		*why = "a privileged container";
		return false;
	}
	if (json_object_object_get_ex(hc, "Binds", &v) ||
	    json_object_object_get_ex(hc, "VolumesFrom", &v) ||
	    json_object_object_get_ex(hc, "Devices", &v)) {
		*why = "a host mount or device";
		return false;
	}
	if (json_object_object_get_ex(hc, "NetworkMode", &v) &&
	    (strcmp(json_object_get_string(v), "host") == 0 ||
	    strncmp(json_object_get_string(v), "container:", 10) == 0)) {
		*why = "the host's network";
		return false;
	}
	if (json_object_object_get_ex(hc, "PidMode", &v) ||
	    json_object_object_get_ex(hc, "IpcMode", &v) ||
	    json_object_object_get_ex(hc, "UsernsMode", &v)) {
		*why = "a host namespace";
		return false;
	}
	if (json_object_object_get_ex(hc, "Mounts", &v))
		for (i = 0; i < json_object_array_length(v); i++) {
			m = json_object_array_get_idx(v, i);
			if (strcmp(json_object_get_string(json_object_object_get(
			    m, "Type")), "volume") != 0) {
				*why = "a mount that is not a volume";
				return false;
			}
		}
	if (!json_object_object_get_ex(o, "User", &v) ||
	    (user = json_object_get_string(v)) == NULL ||
	    atol(user) <= 0 || (colon = strchr(user, ':')) == NULL ||
	    atol(colon + 1) <= 0) {
		*why = "a root user";
		return false;
	}
	if (!json_object_object_get_ex(hc, "CapDrop", &v) ||
	    json_object_array_length(v) != 1 ||
	    strcmp(json_object_get_string(json_object_array_get_idx(v, 0)),
	    "ALL") != 0) {
		*why = "capabilities not dropped";
		return false;
	}
	return true;
}
