/*
 * Template versions and the parameters of a workspace.  The input is up
 * to four NUL-separated parts: a body, values, previous values and a
 * pattern.  A body starting with "[" is a parameters array put in a small
 * valid version, so that the fuzzer reaches the definitions sooner.
 *
 * spec_version_parse answers with a message or a version every field of
 * which holds; the version's parameters then take the values: what
 * spec_params_apply returns is an object of defined names that, applied
 * again, comes back the same.  A pattern spec_pattern_bounded lets through
 * compiles and matches within libFuzzer's memory and time limits, and a
 * path the checks let through has no empty, "." or ".." part (nor, when
 * relative, one that reads as an option).
 */
#include "config.h"

#include <regex.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "json.h"
#include "spec.h"

#define PARTS	4

static struct arena *A;
static struct conf C;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	conf_defaults(&C);
	A = arena_new(64 * 1024);
	return 0;
}

static struct json_object *
parsed(const char *text, json_type type)
{
	struct json_object *o;

	if (text == NULL ||
	    json_parse(A, text, strlen(text), &o) != JSON_OK ||
	    !json_object_is_type(o, type))
		return NULL;
	return o;
}

/* Components neither empty, "." nor "..", and where a path is relative
 * (an argument of its own to a command) none starting with "-". */
static void
check_components(const char *s, bool relative)
{
	size_t n;

	for (;;) {
		n = strcspn(s, "/");
		CHECK(n > 0 && (!relative || s[0] != '-'));
		CHECK(!(n == 1 && s[0] == '.'));
		CHECK(!(n == 2 && s[0] == '.' && s[1] == '.'));
		if (s[n] == '\0')
			return;
		s += n + 1;
	}
}

static void
check_paths(const char *s)
{
	if (spec_rel_path_valid(s, false)) {
		check_components(s, true);
		CHECK(strlen(s) <= 200);
	}
	if (spec_rel_path_valid(s, true))
		CHECK(strchr(s, '/') == NULL && spec_rel_path_valid(s, false));
	if (spec_home_path_valid(s)) {
		CHECK(s[0] == '/');
		check_components(s + 1, false);
		CHECK(strncmp(s, "/etc", 4) != 0 || (s[4] != '\0' &&
		    s[4] != '/'));
	}
}

static void
check_pattern(const char *re, const char *subject)
{
	const char *why = NULL;
	regex_t rx;

	if (!spec_pattern_bounded(re, &why)) {
		CHECK(why != NULL && why[0] != '\0');
		return;
	}
	CHECK(strlen(re) <= SPEC_PATTERN_MAX);
	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
		return;
	(void)regexec(&rx, subject, 0, NULL, 0);
	regfree(&rx);
}

/* Every field of a version that passed holds. */
static void
check_version(const struct spec_version *s)
{
	struct json_object *defs, *d, *f;
	const char *why;
	size_t i;

	CHECK(spec_image_valid(s->image));
	CHECK(parsed(s->command, json_type_array) != NULL);
	CHECK(parsed(s->args, json_type_array) != NULL);
	CHECK(parsed(s->env, json_type_object) != NULL);
	CHECK(parsed(s->ports, json_type_array) != NULL);
	CHECK(parsed(s->probe, json_type_object) != NULL);
	CHECK(parsed(s->secrets, json_type_array) != NULL);
	CHECK(parsed(s->capabilities, json_type_array) != NULL);
	CHECK(parsed(s->starters, json_type_array) != NULL);
	CHECK(s->pool == NULL || parsed(s->pool, json_type_object) != NULL);
	CHECK(s->cpu_millis >= 10 && s->cpu_millis <= C.max_cpu_millis);
	CHECK(s->memory_mb >= 16 && s->memory_mb <= C.max_memory_mb);
	CHECK(s->pids >= 16 && s->pids <= C.max_pids);
	CHECK(s->uid >= 1 && s->gid >= 1);
	CHECK(spec_home_path_valid(s->home_path));
	CHECK(spec_share_rank(s->max_share_level) >= 0);
	CHECK(strcmp(s->restart_policy, "restart") == 0 ||
	    strcmp(s->restart_policy, "fail") == 0);
	CHECK((defs = parsed(s->parameters, json_type_array)) != NULL);
	CHECK(json_object_array_length(defs) <= SPEC_MAX_PARAMS);
	for (i = 0; i < json_object_array_length(defs); i++) {
		d = json_object_array_get_idx(defs, i);
		CHECK(json_object_object_get_ex(d, "name", &f) &&
		    spec_env_name_valid(json_object_get_string(f)));
		if (json_object_object_get_ex(d, "pattern", &f))
			CHECK(spec_pattern_bounded(json_object_get_string(f),
			    &why));
	}
}

/* Values applied: an object of defined names, the same applied again. */
static void
check_applied(const char *defs, const char *out)
{
	struct json_object *o, *d;
	const char *again = NULL, *err = NULL;
	size_t i, n;

	CHECK((o = parsed(out, json_type_object)) != NULL);
	d = parsed(defs, json_type_array);
	n = json_object_array_length(d);
	json_object_object_foreach(o, key, val) {
		(void)val;
		for (i = 0; i < n && strcmp(json_object_get_string(
		    json_object_object_get(json_object_array_get_idx(d, i),
		    "name")), key) != 0; i++)
			;
		CHECK(i < n);
	}
	CHECK(spec_params_apply(A, defs, o, NULL, &again, &err));
	CHECK(strcmp(again, out) == 0);
	CHECK(spec_params_apply(A, defs, o, o, &again, &err));
	CHECK(strcmp(again, out) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *part[PARTS] = { NULL }, *body, *out, *err;
	struct json_object *b, *values, *previous;
	struct spec_version s;
	size_t i, start = 0, np = 0;

	for (i = 0; i <= size && np < PARTS; i++)
		if (i == size || data[i] == '\0') {
			part[np++] = arena_strndup(A, (const char *)data +
			    start, i - start);
			start = i + 1;
		}
	for (i = 0; i < np; i++)
		check_paths(part[i]);
	if (part[3] != NULL)
		check_pattern(part[3], part[1]);

	body = part[0];
	if (body[0] == '[')
		body = arena_printf(A, "{\"image\": \"debian\", \"ports\": "
		    "[{\"port\": 8080}], \"parameters\": %s}", body);
	if ((b = parsed(body, json_type_object)) == NULL)
		goto out;
	err = NULL;
	if (!spec_version_parse(A, &C, b, &s, &err)) {
		CHECK(err != NULL && err[0] != '\0');
		goto out;
	}
	check_version(&s);

	/* Values of any type: an array or a string must be refused. */
	if (part[1] == NULL || json_parse(A, part[1], strlen(part[1]),
	    &values) != JSON_OK)
		values = NULL;
	previous = parsed(part[2], json_type_object);
	err = NULL;
	if (spec_params_apply(A, s.parameters, values, previous, &out, &err))
		check_applied(s.parameters, out);
	else
		CHECK(err != NULL && err[0] != '\0');
out:
	arena_reset(A);
	return 0;
}
