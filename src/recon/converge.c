/*
 * Each step is safe to repeat: names are fixed per workspace, so a create
 * after a crash finds the container it made before, a removal of what is
 * gone is success, and builds only move forward.  A failure ends the build
 * with the reason in its log.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "converge.h"
#include "httpc.h"
#include "imageref.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "state.h"

#define LOG_TAIL	40

struct run {
	struct worker		*w;
	const struct desired	*d;
	struct actual		 a;
	const char		*digest;
	const char		*error;
	bool			 transient;	/* Docker did not answer */
	bool			 retry;		/* the step may succeed again */
	bool			 stopped;	/* cut short by a shutdown */
	bool			 recorded;	/* the deployment row is current */
	struct timespec		 t0;
};

static double
since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static enum docker_result
call(struct run *r, const char *method, const char *path,
    struct json_object *body, long timeout_ms, struct json_object **out)
{
	enum docker_result res;

	res = docker_call(r->w->docker, r->w->a, method, path, body,
	    timeout_ms, out);
	metrics_docker(docker_last_seconds(r->w->docker));
	/*
	 * No connection: the host is away and the build waits for it.  An
	 * engine too slow to answer is tried again a few times, then the
	 * build fails.
	 */
	if (res == DOCKER_UNREACHABLE && docker_timed_out(r->w->docker))
		r->retry = true;
	else if (res == DOCKER_UNREACHABLE)
		r->transient = true;
	return res;
}

/*
 * Docker's refusals worth another try: a host port taken between its
 * choice and its bind, a pull or a registry that broke off.  Anything
 * else (an image that does not exist, a request Docker calls invalid)
 * fails the build at once.
 */
static bool
passing(const char *message)
{
	static const char *const marks[] = { "address already in use",
	    "port is already allocated", "i/o timeout", "handshake timeout",
	    "connection reset", "connection refused", "unexpected eof",
	    "request canceled", "timeout exceeded", "too many requests",
	    "toomanyrequests", "temporarily unavailable", "service unavailable",
	    "broken pipe", NULL };
	int i;

	for (i = 0; marks[i] != NULL; i++)
		if (strcasestr(message, marks[i]) != NULL)
			return true;
	return false;
}

/*
 * An error as its workspace's owner sees it: Docker's own words, without
 * the host's paths (its data root, overlay and volume directories, the
 * runtime's sockets).  The full text goes to the reconciler's log.
 */
static const char *
shown(struct arena *a, const char *raw)
{
	static const char *const internal[] = { "/overlay2/", "/_data",
	    "/containerd", "/var/lib/docker", "/run/docker", "/runc",
	    "/proc/self/", NULL };
	static const char hidden[] = "<host path>";
	/* Each path becomes at most its own length or the mark. */
	char *out = arena_alloc(a, 2 * strlen(raw) + sizeof(hidden)), *o = out;
	const char *p = raw, *end;
	int i, slashes;

	while (*p != '\0') {
		/* A path starts at a "/" that follows no name or URL part. */
		if (*p != '/' || (p > raw && (isalnum((unsigned char)p[-1]) ||
		    strchr("./-_:", p[-1]) != NULL))) {
			*o++ = *p++;
			continue;
		}
		for (end = p, slashes = 0; *end != '\0' &&
		    strchr(" \"'(),;\n", *end) == NULL && !(*end == ':' &&
		    (end[1] == ' ' || end[1] == '\0')); end++)
			slashes += *end == '/';
		for (i = 0; internal[i] != NULL && memmem(p, (size_t)(end - p),
		    internal[i], strlen(internal[i])) == NULL; i++)
			;
		if (slashes >= 4 || internal[i] != NULL) {
			memcpy(o, hidden, sizeof(hidden) - 1);
			o += sizeof(hidden) - 1;
		} else {
			memcpy(o, p, (size_t)(end - p));
			o += end - p;
		}
		p = end;
	}
	*o = '\0';
	return out;
}

/* After a failed call: may the step be tried again? */
static void
maybe_passing(struct run *r)
{
	if (passing(docker_error(r->w->docker)))
		r->retry = true;
}

static const char *
label(struct json_object *labels, const char *k)
{
	struct json_object *v;

	if (labels == NULL || !json_object_object_get_ex(labels, k, &v))
		return NULL;
	return json_object_get_string(v);
}

/*
 * Found by its name, is it this installation's?  Unlabelled ones predate
 * instance labels: the workspace is in this database, so they are.
 */
static bool
ours(const struct worker *w, struct json_object *labels)
{
	const char *inst = label(labels, "warren.instance");

	return inst == NULL || strcmp(inst, w->shared->instance) == 0;
}

int
converge_observe(struct worker *w, const struct desired *d, struct actual *a)
{
	struct run r = { w, d, { 0 }, NULL, NULL, false, false, false, false,
	    { 0, 0 } };
	struct json_object *o, *st, *cfg, *v;
	enum docker_result res;

	memset(a, 0, sizeof(*a));
	res = call(&r, "GET", arena_printf(w->a, "/containers/%s/json",
	    plan_container_name(w->a, d)), NULL, 0, &o);
	if (res == DOCKER_UNREACHABLE || res == DOCKER_ERROR)
		return -1;
	if (res == DOCKER_OK && o != NULL) {
		a->exists = true;
		snprintf(a->id, sizeof(a->id), "%s", json_object_get_string(
		    json_object_object_get(o, "Id")));
		if (json_object_object_get_ex(o, "State", &st)) {
			a->running = json_object_object_get_ex(st, "Running",
			    &v) && json_object_get_boolean(v);
			a->paused = json_object_object_get_ex(st, "Paused",
			    &v) && json_object_get_boolean(v);
			if (json_object_object_get_ex(st, "ExitCode", &v))
				a->exit_code = json_object_get_int(v);
		}
		if (json_object_object_get_ex(o, "Config", &cfg) &&
		    json_object_object_get_ex(cfg, "Labels", &v)) {
			if (label(v, "warren.build") != NULL)
				a->build_number = atoi(label(v,
				    "warren.build"));
			a->foreign |= !ours(w, v);
		}
	}
	res = call(&r, "GET", arena_printf(w->a, "/volumes/%s",
	    plan_volume_name(w->a, d)), NULL, 0, &o);
	if (res == DOCKER_UNREACHABLE || res == DOCKER_ERROR)
		return -1;
	a->volume = res == DOCKER_OK;
	if (a->volume && o != NULL && json_object_object_get_ex(o, "Labels", &v))
		a->foreign |= !ours(w, v);
	return 0;
}

static bool
fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool
fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r->error = arena_vprintf(r->w->a, fmt, ap);
	va_end(ap);
	return false;
}

static bool
step_volume(struct run *r)
{
	struct json_object *b = json_own(r->w->a, json_object_new_object());
	struct json_object *labels = json_object_new_object();

	json_object_object_add(b, "Name", json_object_new_string(
	    plan_volume_name(r->w->a, r->d)));
	json_object_object_add(labels, "warren.managed",
	    json_object_new_string("true"));
	json_object_object_add(labels, "warren.workspace",
	    json_object_new_string(r->d->id));
	json_object_object_add(labels, "warren.instance",
	    json_object_new_string(r->w->shared->instance));
	json_object_object_add(b, "Labels", labels);
	if (call(r, "POST", "/volumes/create", b, 0, NULL) != DOCKER_OK)
		return fail(r, "could not create the home volume: %s",
		    docker_error(r->w->docker));
	return true;
}

static void
env_add(struct arena *a, struct json_object *env, const char *k,
    const char *v)
{
	json_object_array_add(env, json_object_new_string(arena_printf(a,
	    "%s=%s", k, v)));
}

/*
 * The exec body of a shell script run in the workspace as its user, in
 * its home, on a terminal (one stream of output); *cmd and *env take the
 * script's arguments and variables.
 */
static struct json_object *
user_shell(struct arena *a, const struct desired *d, const char *script,
    struct json_object **cmd, struct json_object **env)
{
	struct json_object *spec = json_own(a, json_object_new_object());

	*cmd = json_object_new_array();
	json_object_array_add(*cmd, json_object_new_string("/bin/sh"));
	json_object_array_add(*cmd, json_object_new_string("-c"));
	json_object_array_add(*cmd, json_object_new_string(script));
	json_object_object_add(spec, "Cmd", *cmd);
	*env = json_object_new_array();
	json_object_object_add(spec, "Env", *env);
	json_object_object_add(spec, "User", json_object_new_string(
	    arena_printf(a, "%ld:%ld", d->uid, d->gid)));
	json_object_object_add(spec, "WorkingDir", json_object_new_string(
	    d->home_path));
	json_object_object_add(spec, "Tty", json_object_new_boolean(1));
	json_object_object_add(spec, "AttachStdout", json_object_new_boolean(1));
	json_object_object_add(spec, "AttachStderr", json_object_new_boolean(1));
	return spec;
}

/*
 * A claimed pool member's container was made before it had an owner: the
 * owner's secrets and the workspace's name go to /tmp/warren/env (the
 * container's tmpfs, mode 0600, as the workspace's user), as shell
 * assignments its processes can source.
 */
static bool
deliver(struct run *r)
{
	struct arena *a = r->w->a;
	struct json_object *spec, *cmd, *env, *o;
	const char *secrets, *why;
	char *text, *q;
	size_t len;
	int code;

	if ((secrets = state_secrets(r->w->db, a, r->d, r->w->shared->key,
	    r->w->shared->have_key, &why)) == NULL)
		return fail(r, "%s", why);
	if (json_parse(a, secrets, strlen(secrets), &o) != JSON_OK)
		return fail(r, "the secrets could not be read");
	text = arena_printf(a, "WARREN_WORKSPACE_NAME='%s'\n", r->d->name);
	json_object_object_foreach(o, k, v) {
		/* 'it'\''s': single quotes, each one closed and escaped. */
		const char *val = json_object_get_string(v);
		size_t n = strlen(val), i, j = 0;

		q = arena_alloc(a, n * 4 + 1);
		for (i = 0; i < n; i++) {
			if (val[i] == '\'') {
				memcpy(q + j, "'\\''", 4);
				j += 4;
			} else
				q[j++] = val[i];
		}
		q[j] = '\0';
		text = arena_printf(a, "%sexport %s='%s'\n", text, k, q);
	}
	spec = user_shell(a, r->d, "umask 077 && mkdir -p /tmp/warren &&"
	    " printf '%s' \"$WARREN_CLAIM_ENV\" > /tmp/warren/env.new &&"
	    " mv /tmp/warren/env.new /tmp/warren/env", &cmd, &env);
	env_add(a, env, "WARREN_CLAIM_ENV", text);
	if (docker_exec(r->w->docker, a, plan_container_name(a, r->d), spec,
	    NULL, NULL, 30000, &code) != DOCKER_OK || code != 0)
		return fail(r, "could not give the prebuilt workspace its "
		    "secrets (/tmp/warren/env): %s", code > 0 ? arena_printf(a,
		    "exit code %d", code) : docker_error(r->w->docker));
	len = (size_t)json_object_object_length(o);
	state_log(r->w->db, a, r->d->build_id, "system", "gave the prebuilt "
	    "workspace its name and %zu secret%s in /tmp/warren/env", len,
	    len == 1 ? "" : "s");
	return true;
}

/* Freezes a ready pool member, or thaws it (claimed, or to stop it). */
static bool
step_pause(struct run *r, bool pause)
{
	enum docker_result res;

	res = call(r, "POST", arena_printf(r->w->a, "/containers/%s/%s",
	    plan_container_name(r->w->a, r->d), pause ? "pause" : "unpause"),
	    NULL, 30000, NULL);
	/* Already so (409) is success. */
	if (res != DOCKER_OK && res != DOCKER_CONFLICT) {
		maybe_passing(r);
		return fail(r, "could not %s the container: %s", pause ?
		    "pause" : "resume", docker_error(r->w->docker));
	}
	r->a.paused = pause;
	if (r->d->has_build && !pause) {
		state_log(r->w->db, r->w->a, r->d->build_id, "system",
		    "resumed the prebuilt container after %.3f s",
		    since(&r->t0));
		if (!r->d->pooled)
			pool_refill_soon();
		/* Claimed: it is someone's now, with secrets to hand over
		 * (none: no exec, the claim stays fast). */
		if (!r->d->pooled && strcmp(r->d->transition, "start") == 0 &&
		    r->d->secret_names != NULL &&
		    strcmp(r->d->secret_names, "[]") != 0)
			return deliver(r);
	}
	return true;
}

static bool
step_remove(struct run *r)
{
	const char *name = plan_container_name(r->w->a, r->d);
	enum docker_result res;

	/* Docker stops no paused container (a pool member). */
	if (r->a.paused && !step_pause(r, false))
		return false;
	res = call(r, "POST", arena_printf(r->w->a, "/containers/%s/stop?t=10",
	    name), NULL, 30000, NULL);
	if (res != DOCKER_OK && res != DOCKER_NOT_FOUND)
		return fail(r, "could not stop the container: %s",
		    docker_error(r->w->docker));
	res = call(r, "DELETE", arena_printf(r->w->a, "/containers/%s?force=1",
	    name), NULL, 30000, NULL);
	if (res != DOCKER_OK && res != DOCKER_NOT_FOUND)
		return fail(r, "could not remove the container: %s",
		    docker_error(r->w->docker));
	r->a.exists = r->a.running = r->a.paused = false;
	r->a.id[0] = '\0';
	/* Observed state: no container any more (a delete forgets the row). */
	if (strcmp(r->d->state, "stopped") == 0 && state_deployment(r->w->db,
	    r->w->a, r->d, r->w->shared->host, NULL, "{}", NULL, "absent", 0)
	    != 0)
		return fail(r, "could not record the deployment");
	return true;
}

/* A line of Docker's pull progress, in the build log; not the per-chunk
 * download and extraction progress, only each layer's steps. */
static void
pull_line(void *arg, const char *line, size_t len)
{
	static const char *const noisy[] = { "Downloading", "Extracting",
	    "Waiting", "Verifying Checksum", NULL };
	struct run *r = arg;
	struct json_object *o, *st, *id;
	const char *status;
	int i;

	if (json_parse(r->w->a, line, len, &o) != JSON_OK ||
	    !json_object_object_get_ex(o, "status", &st) ||
	    !json_object_is_type(st, json_type_string))
		return;
	status = json_object_get_string(st);
	for (i = 0; noisy[i] != NULL; i++)
		if (strcmp(status, noisy[i]) == 0)
			return;
	if (json_object_object_get_ex(o, "id", &id) &&
	    json_object_is_type(id, json_type_string))
		state_log(r->w->db, r->w->a, r->d->build_id, "system",
		    "pull: %.80s: %.200s", json_object_get_string(id), status);
	else
		state_log(r->w->db, r->w->a, r->d->build_id, "system",
		    "pull: %.300s", status);
}

/*
 * Docker's words for a registry that wants (other) credentials.  For a
 * registry it treats as insecure (any on 127.0.0.0/8, and those of its
 * insecure-registries) it tries https without checking the certificate,
 * then plain http, and reports only the last error: an https registry that
 * refused the request over https shows as one that does not speak http.
 */
static bool
refused_credentials(const char *err)
{
	return strstr(err, "unauthorized") != NULL ||
	    strstr(err, "authentication required") != NULL ||
	    strstr(err, "no basic auth credentials") != NULL ||
	    strstr(err, "denied") != NULL ||
	    strstr(err, "Client sent an HTTP request to an HTTPS server") !=
	    NULL;
}

/* Pulls the image, with its registry's credentials when it has some. */
static bool
pull(struct run *r)
{
	const char *auth, *why, *err;
	char registry[300];

	imageref_registry(r->d->image, registry, sizeof(registry));
	if (registry[0] == '\0')
		snprintf(registry, sizeof(registry), "docker.io");
	auth = state_registry_auth(r->w->db, r->w->a, registry,
	    r->w->shared->key, r->w->shared->have_key, &why);
	if (auth == NULL && why != NULL)
		return fail(r, "image %s cannot be pulled: %s", r->d->image,
		    why);
	state_log(r->w->db, r->w->a, r->d->build_id, "system",
	    "pulling image %s%s", r->d->image, auth ? arena_printf(r->w->a,
	    " with the credentials stored for %s", registry) : "");
	if (docker_pull(r->w->docker, r->w->a, r->d->image, auth, pull_line, r,
	    600000) == DOCKER_OK)
		return true;
	err = docker_error(r->w->docker);
	if (refused_credentials(err))
		return fail(r, "the registry %s refused %s: %s", registry, auth ?
		    "the credentials stored for it (an admin changes them with "
		    "PUT /api/v1/registries/{id})" : "to serve the image without "
		    "credentials (an admin stores them with POST "
		    "/api/v1/registries)", err);
	maybe_passing(r);
	return fail(r, "image %s is not available and could not be pulled: "
	    "%s", r->d->image, err);
}

/* The image must be here, or come from a registry; its digest is noted. */
static bool
ensure_image(struct run *r)
{
	struct json_object *o, *v;
	enum docker_result res;
	const char *path = arena_printf(r->w->a, "/images/%s/json",
	    httpc_escape(r->w->a, r->d->image));
	const char *why;

	/* The operator's policy holds for templates older than it, too. */
	if (!imageref_allowed(r->d->image, r->w->shared->conf->image_registries,
	    &why))
		return fail(r, "image %s is refused: %s", r->d->image, why);
	res = call(r, "GET", path, NULL, 0, &o);
	if (res == DOCKER_NOT_FOUND) {
		if (!pull(r))
			return false;
		res = call(r, "GET", path, NULL, 0, &o);
	}
	if (res != DOCKER_OK || o == NULL)
		return fail(r, "image %s is not available: %s", r->d->image,
		    docker_error(r->w->docker));
	if (json_object_object_get_ex(o, "RepoDigests", &v) &&
	    json_object_array_length(v) > 0)
		r->digest = arena_strdup(r->w->a, json_object_get_string(
		    json_object_array_get_idx(v, 0)));
	else if (json_object_object_get_ex(o, "Id", &v))
		r->digest = arena_strdup(r->w->a, json_object_get_string(v));
	return true;
}

/*
 * The workspaces' network (docker_network), made when missing: a bridge on
 * which containers cannot reach one another (inter-container traffic off,
 * enforced by dockerd's packet filter), its interface named wrn-NAME so
 * that the host's firewall can tell workspace traffic apart (README).  A
 * network the operator made, or Docker's own, is used as it is.
 */
int
converge_network(struct worker *w)
{
	const char *name = w->shared->conf->docker_network;
	struct json_object *b, *labels, *opts;
	enum docker_result res;
	char ifname[16];
	size_t i, o;

	if (strcmp(name, "bridge") == 0 || strcmp(name, "none") == 0)
		return 0;
	res = docker_call(w->docker, w->a, "GET", arena_printf(w->a,
	    "/networks/%s", httpc_escape(w->a, name)), NULL, 0, NULL);
	if (res == DOCKER_OK)
		return 0;
	if (res != DOCKER_NOT_FOUND)
		return -1;
	for (i = 0, o = 4, memcpy(ifname, "wrn-", 4); name[i] != '\0' &&
	    o < sizeof(ifname) - 1; i++)
		if (isalnum((unsigned char)name[i]))
			ifname[o++] = (char)tolower((unsigned char)name[i]);
	ifname[o] = '\0';
	b = json_own(w->a, json_object_new_object());
	json_object_object_add(b, "Name", json_object_new_string(name));
	json_object_object_add(b, "Driver", json_object_new_string("bridge"));
	json_object_object_add(b, "CheckDuplicate",
	    json_object_new_boolean(1));
	labels = json_object_new_object();
	json_object_object_add(labels, "warren.managed",
	    json_object_new_string("true"));
	json_object_object_add(labels, "warren.network",
	    json_object_new_string("workspaces"));
	json_object_object_add(labels, "warren.instance",
	    json_object_new_string(w->shared->instance));
	json_object_object_add(b, "Labels", labels);
	opts = json_object_new_object();
	json_object_object_add(opts, "com.docker.network.bridge.enable_icc",
	    json_object_new_string("false"));
	json_object_object_add(opts, "com.docker.network.bridge.name",
	    json_object_new_string(ifname));
	json_object_object_add(b, "Options", opts);
	res = docker_call(w->docker, w->a, "POST", "/networks/create", b, 0,
	    NULL);
	if (res != DOCKER_OK && res != DOCKER_CONFLICT) {
		log_warnx("could not create the workspaces' network %s: %s",
		    name, docker_error(w->docker));
		return -1;
	}
	if (res == DOCKER_OK)
		log_info("created the workspaces' network %s (bridge %s, no "
		    "traffic between workspaces)", name, ifname);
	return 0;
}

static bool
step_create(struct run *r)
{
	const struct conf *c = r->w->shared->conf;
	struct spec_context ctx;
	struct json_object *spec, *o;
	enum docker_result res;
	const char *why, *secrets;
	int tries;

	if (!ensure_image(r))
		return false;
	/* A pool member is nobody's yet: its owner's secrets come at the
	 * claim (step_pause). */
	if (r->d->pooled)
		secrets = "{}";
	else if ((secrets = state_secrets(r->w->db, r->w->a, r->d,
	    r->w->shared->key, r->w->shared->have_key, &why)) == NULL)
		return fail(r, "%s", why);
	ctx.publish_address = r->w->shared->publish_address;
	ctx.network = c->docker_network;
	ctx.volume = plan_volume_name(r->w->a, r->d);
	ctx.secret_env = secrets;
	ctx.instance = r->w->shared->instance;
	if ((spec = plan_container(r->w->a, r->d, &ctx, &why)) == NULL)
		return fail(r, "refusing to create the container: %s", why);
	for (tries = 0; tries < 2; tries++) {
		res = call(r, "POST", arena_printf(r->w->a,
		    "/containers/create?name=%s", plan_container_name(r->w->a,
		    r->d)), spec, 60000, &o);
		if (res == DOCKER_OK)
			break;
		/* The workspaces' network went away: made again. */
		if (res == DOCKER_NOT_FOUND && strstr(docker_error(r->w->docker),
		    "network") != NULL && converge_network(r->w) == 0)
			continue;
		if (res != DOCKER_CONFLICT) {
			maybe_passing(r);
			return fail(r, "could not create the container: %s",
			    docker_error(r->w->docker));
		}
		/* Made before a crash: the same build's is kept, else redone. */
		if (converge_observe(r->w, r->d, &r->a) == 0 && r->a.foreign)
			return fail(r, "the container name is taken by another "
			    "Warren installation on this Docker host");
		if (r->a.exists && r->a.build_number == r->d->build_number)
			return true;
		if (!step_remove(r))
			return false;
	}
	if (res != DOCKER_OK)
		return fail(r, "could not create the container: %s",
		    docker_error(r->w->docker));
	snprintf(r->a.id, sizeof(r->a.id), "%s",
	    json_object_get_string(json_object_object_get(o, "Id")));
	r->a.exists = true;
	state_log(r->w->db, r->w->a, r->d->build_id, "system",
	    "created container %.12s from %s", r->a.id, r->d->image);
	return true;
}

/* Published ports as {"8080": 49153, ...}, and the deployment row. */
static bool
record(struct run *r, const char *state, int exit_code)
{
	struct json_object *o, *ns, *ports, *out, *b;
	size_t len;

	out = json_own(r->w->a, json_object_new_object());
	if (call(r, "GET", arena_printf(r->w->a, "/containers/%s/json",
	    plan_container_name(r->w->a, r->d)), NULL, 0, &o) == DOCKER_OK &&
	    o != NULL && r->digest == NULL &&
	    json_object_object_get_ex(o, "Image", &b))
		r->digest = arena_strdup(r->w->a, json_object_get_string(b));
	if (o != NULL && json_object_object_get_ex(o, "NetworkSettings", &ns) &&
	    json_object_object_get_ex(ns, "Ports", &ports) && ports != NULL &&
	    json_object_is_type(ports, json_type_object)) {
		json_object_object_foreach(ports, k, v) {
			if (v == NULL || json_object_array_length(v) == 0)
				continue;
			b = json_object_array_get_idx(v, 0);
			json_object_object_add(out, arena_strndup(r->w->a, k,
			    strcspn(k, "/")), json_object_new_int(atoi(
			    json_object_get_string(json_object_object_get(b,
			    "HostPort")))));
		}
	}
	return state_deployment(r->w->db, r->w->a, r->d, r->w->shared->host,
	    r->a.id[0] ? r->a.id : NULL, json_text(out, &len), r->digest,
	    state, exit_code) == 0;
}

static bool
step_start(struct run *r)
{
	if (call(r, "POST", arena_printf(r->w->a, "/containers/%s/start",
	    plan_container_name(r->w->a, r->d)), NULL, 60000, NULL)
	    != DOCKER_OK) {
		maybe_passing(r);
		return fail(r, "could not start the container: %s",
		    docker_error(r->w->docker));
	}
	r->a.running = true;
	if (!record(r, "running", 0))
		return fail(r, "could not record the deployment");
	r->recorded = true;
	return true;
}

/*
 * Waits ms milliseconds, or less when the reconciler is stopping; false
 * then.  Its stop pipe stays readable from the first signal on.
 */
static bool
nap(const struct run *r, int ms)
{
	struct pollfd pfd;

	pfd.fd = r->w->shared->stop_fd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, ms) != 1;
}

/* A readiness wait is not a step to finish: the next run resumes it. */
static bool
interrupted(struct run *r)
{
	r->stopped = r->transient = true;
	return fail(r, "the reconciler is stopping");
}

/* One try: true when the probe answers. */
static bool
probe_once(int port, bool http, const char *path, int stop_fd)
{
	struct sockaddr_in sin;
	struct pollfd pfd, ans[2];
	char buf[64];
	int fd, ok = 0, n;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto out;
	if (!http) {
		/*
		 * docker-proxy accepts on the host port whether or not the
		 * container listens, then closes when its own connect fails:
		 * ready when the connection stays open (or brings a banner).
		 */
		pfd.fd = fd;
		pfd.events = POLLIN;
		ok = poll(&pfd, 1, 50) == 0 || read(fd, buf, 1) > 0;
		goto out;
	}
	n = snprintf(buf, sizeof(buf), "GET %.32s HTTP/1.0\r\n\r\n", path);
	if (write(fd, buf, (size_t)n) != n)
		goto out;
	/* The answer, or the reconciler stopping, whichever comes first. */
	ans[0].fd = fd;
	ans[1].fd = stop_fd;
	ans[0].events = ans[1].events = POLLIN;
	if (poll(ans, 2, 1000) > 0 && (ans[0].revents & POLLIN) &&
	    (n = (int)read(fd, buf, sizeof(buf) - 1)) >= 12) {
		buf[n] = '\0';
		/* Any answer below 500 means the server is up. */
		ok = strncmp(buf, "HTTP/1.", 7) == 0 && buf[9] < '5';
	}
out:
	close(fd);
	return ok;
}

static bool
step_probe(struct run *r)
{
	struct json_object *probe, *v, *dep, *ns, *ports, *b;
	int64_t deadline, start = r->d->build_started ? r->d->build_started :
	    (int64_t)time(NULL);
	int port = 0, interval = 5, since_check = 0, waited = 0;
	const char *path = "/", *logs;
	bool http = true;
	char *text;

	if (json_parse(r->w->a, r->d->probe, strlen(r->d->probe), &probe)
	    != JSON_OK)
		return fail(r, "the template's probe is not readable");
	if (json_object_object_get_ex(probe, "type", &v))
		http = strcmp(json_object_get_string(v), "http") == 0;
	if (json_object_object_get_ex(probe, "path", &v))
		path = json_object_get_string(v);
	json_object_object_get_ex(probe, "port", &v);
	if (call(r, "GET", arena_printf(r->w->a, "/containers/%s/json",
	    plan_container_name(r->w->a, r->d)), NULL, 0, &dep) == DOCKER_OK &&
	    json_object_object_get_ex(dep, "NetworkSettings", &ns) &&
	    json_object_object_get_ex(ns, "Ports", &ports) &&
	    json_object_object_get_ex(ports, arena_printf(r->w->a, "%d/tcp",
	    json_object_get_int(v)), &b) && b != NULL &&
	    json_object_array_length(b) > 0)
		port = atoi(json_object_get_string(json_object_object_get(
		    json_object_array_get_idx(b, 0), "HostPort")));
	if (port == 0) {
		struct actual now;
		if (converge_observe(r->w, r->d, &now) == 0 && now.exists &&
		    !now.running)
			deadline = 0;	/* exited: straight to its logs */
		else
			return fail(r, "the probe port %d is not published",
			    json_object_get_int(v));
	} else
		deadline = start + r->d->probe_timeout;
	if (deadline != 0)
	state_log(r->w->db, r->w->a, r->d->build_id, "system",
	    "waiting for the workspace to answer on port %d",
	    json_object_get_int(v));
	while ((int64_t)time(NULL) < deadline) {
		if (probe_once(port, http, path, r->w->shared->stop_fd)) {
			state_log(r->w->db, r->w->a, r->d->build_id, "system",
			    "ready after %.3f s", since(&r->t0));
			/* Started by this run: recorded as it is already. */
			return r->recorded || record(r, "running", 0) ||
			    fail(r, "could not record the deployment");
		}
		if (!nap(r, interval))
			return interrupted(r);
		since_check += interval;
		waited += interval;
		/* Every 5 ms for the first second, when most images answer;
		 * then less and less often, up to every 200 ms. */
		if (waited >= 1000 && interval < 200)
			interval += 10;
		/* A container that died will not become ready. */
		if (since_check >= 1000) {
			struct actual now;
			since_check = 0;
			if (converge_observe(r->w, r->d, &now) == 0 &&
			    (!now.exists || !now.running))
				break;
		}
	}
	logs = "";
	if (docker_logs(r->w->docker, r->w->a, plan_container_name(r->w->a,
	    r->d), LOG_TAIL, &text) == DOCKER_OK)
		logs = text;
	{
		char *line, *save = NULL, *copy = arena_strdup(r->w->a, logs);
		for (line = strtok_r(copy, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			state_log(r->w->db, r->w->a, r->d->build_id, "stdout",
			    "%s", line);
	}
	return fail(r, "the workspace did not become ready within %ld s",
	    r->d->probe_timeout);
}

/*
 * First-start initialization, in the started container as the workspace's
 * user: the starter's files (never over a file that is there), then the
 * repository cloned into the home.  Each file is an argument of its own.
 * Safe to run again after a crash: kept files and a clone that is there
 * are left as they are.
 */
static const char init_script[] =
	"n=$1; shift\n"
	"cd \"$HOME\" || exit 1\n"
	"[ \"$n\" -gt 0 ] && echo \"starter $WARREN_STARTER: $n files into "
	"$HOME\"\n"
	"while [ \"$n\" -gt 0 ]; do\n"
	"  f=$1; c=$2; shift 2; n=$((n - 1))\n"
	"  case $f in */*) mkdir -p \"${f%/*}\" || exit 1 ;; esac\n"
	"  if [ -e \"$f\" ]; then echo \"  $f: there already, kept\"\n"
	"  else printf '%s' \"$c\" >\"$f\" || exit 1; echo \"  $f\"; fi\n"
	"done\n"
	"[ -n \"${WARREN_REPOSITORY_URL:-}\" ] || exit 0\n"
	"d=$WARREN_REPOSITORY_DIR\n"
	"if [ -e \"$d/.git\" ]; then\n"
	"  echo \"$HOME/$d is a git repository already: not cloned again\"\n"
	"  exit 0\n"
	"fi\n"
	"if ! command -v git >/dev/null 2>&1; then\n"
	"  echo \"error: git is not installed in the workspace's image\"\n"
	"  exit 127\n"
	"fi\n"
	"echo \"cloning $WARREN_REPOSITORY_URL${WARREN_REPOSITORY_BRANCH:+ "
	"(branch $WARREN_REPOSITORY_BRANCH)} into $HOME/$d\"\n"
	"set --\n"
	"[ -z \"${WARREN_REPOSITORY_BRANCH:-}\" ] ||"
	" set -- --branch \"$WARREN_REPOSITORY_BRANCH\"\n"
	"export GIT_TERMINAL_PROMPT=0\n"
	"h=\n"
	"[ -z \"${WARREN_GIT_PASSWORD+x}\" ] || h='!f() { if [ \"$1\" = get ];"
	" then printf \"username=%s\\npassword=%s\\n\" \"$WARREN_GIT_USERNAME\""
	" \"$WARREN_GIT_PASSWORD\"; fi; }; f'\n"
	"git -c credential.helper= ${h:+-c \"credential.helper=$h\"} clone "
	"--progress \"$@\" -- \"$WARREN_REPOSITORY_URL\" \"$d\"\n";

#define INIT_LOG_LINES	1000
#define INIT_TIMEOUT_MS	(10 * 60 * 1000)

struct init_out {
	struct run	*r;
	const char	*hide;		/* never logged: the password */
	const char	*last;		/* the last line that said something */
	int		 lines;
};

/* A line of the terminal: progress redraws with \r, the last one shows. */
static void
init_line(void *arg, const char *line, size_t len)
{
	struct init_out *o = arg;
	const char *p;
	char *text, *at, *src, *dst;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	for (p = line + len; p > line && p[-1] != '\r'; p--)
		;
	len -= (size_t)(p - line);
	if (len == 0 || ++o->lines > INIT_LOG_LINES)
		return;
	text = arena_strndup(o->r->w->a, p, len);
	/* Without the terminal's escape sequences and control characters. */
	for (src = dst = text; *src != '\0'; src++) {
		if (*src == '\033' && src[1] == '[') {
			for (src += 2; *src != '\0' && (*src < '@' ||
			    *src > '~'); src++)
				;
			if (*src == '\0')
				break;
		} else if ((unsigned char)*src >= ' ' || *src == '\t')
			*dst++ = *src;
	}
	*dst = '\0';
	if (*text == '\0')
		return;
	while (o->hide != NULL && *o->hide != '\0' &&
	    (at = strstr(text, o->hide)) != NULL)
		memset(at, '*', strlen(o->hide));
	o->last = text;
	state_log(o->r->w->db, o->r->w->a, o->r->d->build_id, "stdout",
	    o->lines == INIT_LOG_LINES ? "%s (more output not logged)" : "%s",
	    text);
}

static bool
step_init(struct run *r)
{
	struct arena *a = r->w->a;
	const struct desired *d = r->d;
	struct json_object *spec, *cmd, *env, *files = NULL, *repo = NULL, *f;
	struct init_out out = { r, NULL, NULL, 0 };
	struct desired one;
	const char *secrets, *why, *value, *colon;
	int code, n = 0;

	if (d->starter[0] != '\0') {
		if (d->starter_files == NULL || json_parse(a, d->starter_files,
		    strlen(d->starter_files), &files) != JSON_OK ||
		    !json_object_is_type(files, json_type_object))
			return fail(r, "the template version has no starter "
			    "named %s", d->starter);
		n = json_object_object_length(files);
	}
	if (d->repository != NULL && (json_parse(a, d->repository,
	    strlen(d->repository), &repo) != JSON_OK ||
	    !json_object_is_type(repo, json_type_object)))
		return fail(r, "the workspace's repository is not readable");
	spec = user_shell(a, d, init_script, &cmd, &env);
	json_object_array_add(cmd, json_object_new_string("warren-init"));
	json_object_array_add(cmd, json_object_new_string(arena_printf(a,
	    "%d", n)));
	if (files != NULL) {
		json_object_object_foreach(files, path, text) {
			json_object_array_add(cmd,
			    json_object_new_string(path));
			json_object_array_add(cmd, json_object_get(text));
		}
	}
	env_add(a, env, "HOME", d->home_path);
	env_add(a, env, "WARREN_STARTER", d->starter);
	if (repo != NULL) {
		json_object_object_foreach(repo, k, v) {
			if (strcmp(k, "url") == 0)
				env_add(a, env, "WARREN_REPOSITORY_URL",
				    json_object_get_string(v));
			else if (strcmp(k, "branch") == 0)
				env_add(a, env, "WARREN_REPOSITORY_BRANCH",
				    json_object_get_string(v));
			else if (strcmp(k, "directory") == 0)
				env_add(a, env, "WARREN_REPOSITORY_DIR",
				    json_object_get_string(v));
		}
		if (json_object_object_get_ex(repo, "secret", &f)) {
			/* Resolved like the workspace's other secrets. */
			one = *d;
			one.secret_names = arena_printf(a, "[\"%s\"]",
			    json_object_get_string(f));
			if ((secrets = state_secrets(r->w->db, a, &one,
			    r->w->shared->key, r->w->shared->have_key, &why))
			    == NULL)
				return fail(r, "the repository's credentials: "
				    "%s", why);
			if (json_parse(a, secrets, strlen(secrets), &f) !=
			    JSON_OK || (value = json_object_get_string(
			    json_object_object_get(f, json_object_get_string(
			    json_object_object_get(repo, "secret"))))) == NULL)
				return fail(r, "the repository's credentials "
				    "could not be read");
			/* "username:password", or a token alone. */
			if ((colon = strchr(value, ':')) != NULL) {
				env_add(a, env, "WARREN_GIT_USERNAME",
				    arena_strndup(a, value, (size_t)(colon -
				    value)));
				out.hide = colon + 1;
			} else {
				env_add(a, env, "WARREN_GIT_USERNAME",
				    "x-access-token");
				out.hide = value;
			}
			env_add(a, env, "WARREN_GIT_PASSWORD", out.hide);
		}
	}
	state_log(r->w->db, a, d->build_id, "system", "first start: "
	    "initializing the home as uid %ld", d->uid);
	switch (docker_exec(r->w->docker, a, plan_container_name(a, d), spec,
	    init_line, &out, INIT_TIMEOUT_MS, &code)) {
	case DOCKER_OK:
		break;
	case DOCKER_UNREACHABLE:
		r->transient = !docker_timed_out(r->w->docker);
		return fail(r, "the first start's initialization did not "
		    "finish: %s", docker_error(r->w->docker));
	default:
		return fail(r, "could not run the first start's "
		    "initialization: %s", docker_error(r->w->docker));
	}
	if (code != 0)
		return fail(r, "the first start's initialization failed "
		    "(exit code %d)%s%s", code, out.last ? ": " : "",
		    out.last ? out.last : "");
	if (state_initialized(r->w->db, a, d->id) != 0)
		return fail(r, "could not record the initialization");
	state_log(r->w->db, a, d->build_id, "system", "home initialized "
	    "after %.3f s", since(&r->t0));
	return true;
}

static bool
step_remove_volume(struct run *r)
{
	enum docker_result res;

	res = call(r, "DELETE", arena_printf(r->w->a, "/volumes/%s",
	    plan_volume_name(r->w->a, r->d)), NULL, 30000, NULL);
	if (res != DOCKER_OK && res != DOCKER_NOT_FOUND)
		return fail(r, "could not remove the home volume: %s",
		    docker_error(r->w->docker));
	return true;
}

static bool
execute(struct run *r, enum step s)
{
	struct worker *w = r->w;
	const struct desired *d = r->d;

	switch (s) {
	case STEP_BEGIN:
		state_log(w->db, w->a, d->build_id, "system",
		    "build %d: %s", d->build_number, d->transition);
		return state_build_begin(w->db, w->a, d->build_id) == 0 ||
		    fail(r, "could not mark the build running");
	case STEP_VOLUME:
		return step_volume(r);
	case STEP_REMOVE:
		state_log(w->db, w->a, d->build_id, "system",
		    "removing container");
		return step_remove(r);
	case STEP_CREATE:
		return step_create(r);
	case STEP_START:
		return step_start(r);
	case STEP_INIT:
		return step_init(r);
	case STEP_UNPAUSE:
		return step_pause(r, false);
	case STEP_PAUSE:
		return step_pause(r, true);
	case STEP_PROBE:
		return step_probe(r);
	case STEP_RECORD_EXIT:
		log_info("workspace %s: container exited with code %d",
		    d->short_id, r->a.exit_code);
		return record(r, "exited", r->a.exit_code);
	case STEP_FAIL_WORKSPACE:
		return state_schedule(w->db, w->a, d, "stop", "failure") == 0;
	case STEP_REMOVE_VOLUME:
		return step_remove_volume(r);
	case STEP_FORGET:
		return state_forget(w->db, w->a, d->id) == 0;
	case STEP_STUCK:
		return fail(r, "the build did not finish in time");
	case STEP_SUCCEED:
		return state_build_finish(w->db, w->a, d->build_id, true, NULL,
		    r->digest) == 0;
	case STEP_COUNT:
		break;
	}
	return false;
}

/*
 * A step, and when it fails for a passing reason, again after a pause that
 * doubles (1, 2, 4 s): each failed try is in the build log.
 */
#define TRIES		4
#define TRY_PAUSE_MS	1000

static bool
attempt(struct run *r, enum step s)
{
	int n, pause = TRY_PAUSE_MS;

	for (n = 1;; n++, pause *= 2) {
		r->retry = false;
		if (execute(r, s))
			return true;
		if (r->stopped || r->transient || !r->retry || n == TRIES)
			return false;
		metrics_step(s, false);
		log_info("workspace %s: %s failed (try %d of %d): %s",
		    r->d->short_id, step_names[s], n, TRIES, r->error);
		state_log(r->w->db, r->w->a, r->d->build_id, "system",
		    "%s failed (try %d of %d): %s; trying again in %d s",
		    step_names[s], n, TRIES, shown(r->w->a, r->error),
		    pause / 1000);
		if (!nap(r, pause))
			return interrupted(r);
	}
}

int
converge_run(struct worker *w, const struct desired *d,
    const struct actual *a, const struct plan *p)
{
	struct run r = { w, d, *a, NULL, NULL, false, false, false, false,
	    { 0, 0 } };
	int i;

	clock_gettime(CLOCK_MONOTONIC, &r.t0);
	if (a->foreign) {
		/* Another installation's: never touched, the build fails. */
		log_warnx("workspace %s: a container or volume named %s belongs "
		    "to another Warren installation; left alone", d->short_id,
		    plan_container_name(w->a, d));
		if (d->has_build && state_build_finish(w->db, w->a, d->build_id,
		    false, "the workspace's container or home volume name is "
		    "taken by another Warren installation on this Docker host",
		    NULL) == 0)
			metrics_build(d->transition, 0, false);
		return 1;
	}
	for (i = 0; i < p->n; i++) {
		if (attempt(&r, p->steps[i])) {
			metrics_step(p->steps[i], true);
			continue;
		}
		if (r.stopped) {
			log_info("workspace %s: %s interrupted: %s",
			    d->short_id, step_names[p->steps[i]], r.error);
			return 1;
		}
		metrics_step(p->steps[i], false);
		log_warnx("workspace %s: %s failed: %s", d->short_id,
		    step_names[p->steps[i]], r.error ? r.error :
		    "database unavailable");
		/* Docker away is not the build's fault: the next pass retries. */
		if (d->has_build && r.error != NULL && !r.transient) {
			const char *why = shown(w->a, r.error);
			state_log(w->db, w->a, d->build_id, "system", "error: %s",
			    why);
			if (state_build_finish(w->db, w->a, d->build_id, false,
			    why, r.digest) == 0)
				metrics_build(d->transition, since(&r.t0),
				    false);
		}
		return 1;
	}
	if (d->has_build)
		metrics_build(d->transition, since(&r.t0), true);
	return 0;
}
