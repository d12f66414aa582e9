/*
 * Template versions: the name and path checks, the bounds on parameter
 * patterns, spec_version_parse over whole request bodies (defaults and
 * every refusal), and spec_params_apply over definitions and values.
 */
#include "config.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "spec.h"
#include "tap.h"

static struct arena *A;
static struct conf C;

/* A string of n copies of c, in the arena. */
static const char *
repeat(char c, size_t n)
{
	char *s = arena_alloc(A, n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Each string of a NULL-terminated list passes check, or each fails. */
static void
each(bool (*check)(const char *), const char *const *list, bool valid,
    const char *what)
{
	int i;

	for (i = 0; list[i] != NULL; i++)
		ok(check(list[i]) == valid, "%s '%s' is %s", what, list[i],
		    valid ? "valid" : "refused");
}

/* check takes prefix and n copies of c, and refuses one copy more. */
static void
longest(bool (*check)(const char *), const char *prefix, char c, size_t n,
    const char *what)
{
	ok(check(arena_printf(A, "%s%s", prefix, repeat(c, n))),
	    "%s of %zu characters", what, strlen(prefix) + n);
	ok(!check(arena_printf(A, "%s%s", prefix, repeat(c, n + 1))),
	    "%s of %zu characters is refused", what, strlen(prefix) + n + 1);
}

static bool
rel_path(const char *s)
{
	return spec_rel_path_valid(s, false);
}

/* spec_version_parse on JSON text: NULL when it passes, else why not. */
static const char *
parse(const char *text, struct spec_version *s)
{
	struct json_object *body;
	const char *err = NULL;

	if (json_parse(A, text, strlen(text), &body) != JSON_OK)
		return "(the test's body is not JSON)";
	if (spec_version_parse(A, &C, body, s, &err))
		return NULL;
	return err != NULL ? err : "(refused without a message)";
}

/* The smallest valid body, with more members after it. */
static const char *
body(const char *members)
{
	return arena_printf(A, "{\"image\": \"debian:12\", \"ports\": "
	    "[{\"port\": 8080}]%s%s}", members[0] ? ", " : "", members);
}

static const char *
parse_with(const char *members)
{
	struct spec_version s;

	return parse(body(members), &s);
}

/* spec_params_apply on JSON texts (values and previous may be NULL):
 * the applied values, or "error: " and the message. */
static const char *
apply(const char *defs, const char *values, const char *previous)
{
	struct json_object *v = NULL, *p = NULL;
	const char *out = NULL, *err = NULL;

	if ((values != NULL &&
	    json_parse(A, values, strlen(values), &v) != JSON_OK) ||
	    (previous != NULL &&
	    json_parse(A, previous, strlen(previous), &p) != JSON_OK))
		return "(the test's values are not JSON)";
	if (spec_params_apply(A, defs, v, p, &out, &err))
		return out;
	return arena_printf(A, "error: %s", err != NULL ? err : "(none)");
}

static void
test_image(void)
{
	static const char *const good[] = { "debian", "debian:12",
	    "library/debian:bookworm-slim", "ghcr.io/org/app:1.0",
	    "registry.example.com:5000/team/app", "a__b", "a--b", "a.b_c",
	    "debian:_x", NULL };
	static const char *const bad[] = { "", "Debian", "debian:",
	    ":12", "/debian", "debian/", "a//b", "a..b", "debian:-x",
	    "debian@sha256:abc", "debian@md5:0123", "a b", "a;b",
	    "host:99999999/a", NULL };

	each(spec_image_valid, good, true, "image");
	each(spec_image_valid, bad, false, "image");
	ok(spec_image_valid(arena_printf(A, "debian@sha256:%s",
	    repeat('a', 64))), "a digest of 64 hex digits");
	ok(!spec_image_valid(arena_printf(A, "debian@sha256:%s",
	    repeat('a', 63))), "a digest of 63 hex digits is refused");
	ok(!spec_image_valid(arena_printf(A, "debian@sha256:%s",
	    repeat('A', 64))), "a digest in upper case is refused");
	longest(spec_image_valid, "a/", 'b', 253, "an image");
}

static void
test_env_name(void)
{
	static const char *const good[] = { "PATH", "_X", "a1", "A_B_9",
	    NULL };
	static const char *const bad[] = { "", "1A", "A-B", "A B", "A=B",
	    "A.B", "\xc3\xa9", NULL };

	each(spec_env_name_valid, good, true, "name");
	each(spec_env_name_valid, bad, false, "name");
	longest(spec_env_name_valid, "", 'A', 128, "a name");
}

static void
test_home_path(void)
{
	static const char *const good[] = { "/home/coder", "/workspace",
	    "/srv/data.d/x_y-z", "/usr2", "/home/.config", "/optx", NULL };
	static const char *const bad[] = { "", "home", "/", "/home/",
	    "//home", "/home//x", "/home/./x", "/home/../etc", "/.",
	    "/..", "/etc", "/etc/x", "/usr", "/usr/local/x", "/var/lib",
	    "/tmp", "/proc/1", "/dev", "/home/a b", "/home/caf\xc3\xa9",
	    "/home:x", NULL };

	each(spec_home_path_valid, good, true, "home");
	each(spec_home_path_valid, bad, false, "home");
	longest(spec_home_path_valid, "/", 'h', 254, "a home");
}

static void
test_rel_path(void)
{
	static const char *const good[] = { "app.py", "src/app.py",
	    ".hidden", "a-b_c.d", "a/b/c", "...", "a.", NULL };
	static const char *const bad[] = { "", "/abs", "a/", "a//b", "./a",
	    "a/./b", "../a", "a/..", "..", ".", "-rf", "a/-b", "a b",
	    "a\\b", "a:b", "caf\xc3\xa9", NULL };

	each(rel_path, good, true, "path");
	each(rel_path, bad, false, "path");
	ok(!spec_rel_path_valid("a\nb", false), "a path with a newline");
	ok(!spec_rel_path_valid("a\tb", false), "a path with a tab");
	longest(rel_path, "", 'p', 200, "a path");
	ok(spec_rel_path_valid("repo", true), "one component");
	ok(!spec_rel_path_valid("a/b", true),
	    "two components where one is wanted");
	ok(!spec_rel_path_valid("repo/", true), "a trailing slash");
	ok(!spec_rel_path_valid("..", true), ".. as the one component");
}

/* A pattern spec_pattern_bounded refuses, and why. */
static void
refused(const char *re, const char *why, const char *what)
{
	const char *got = NULL;

	ok(!spec_pattern_bounded(re, &got), "%s: %s is refused", what, re);
	is_str(got, why, "%s: the reason", what);
}

static void
test_pattern(void)
{
	static const char *const good[] = { "^[a-z]+$",
	    "^(eu|us)-[0-9]{1,3}$", "a{64}", "a{0,64}", "a{,64}", "a{2,}",
	    "[[:alpha:]]+", "[]a]+", "[^]a]*", "\\(a\\)+", "(ab)(cd)+",
	    "\\{99\\}", "[*+?{]", "^https://[a-z0-9./-]+$", "[[.-.]]+",
	    "x\\\\+", "", NULL };
	const char *why, *sixteen, *seventeen;
	regex_t re;
	int i;

	for (i = 0; good[i] != NULL; i++) {
		why = NULL;
		ok(spec_pattern_bounded(good[i], &why), "pattern %s is bounded",
		    good[i]);
	}
	refused("a{65}", "counts a repetition beyond 64", "a large count");
	refused("a{1,65}", "counts a repetition beyond 64",
	    "a large upper count");
	refused("a{x}", "counts a repetition beyond 64",
	    "a count not a number");
	refused("a{3", "counts a repetition beyond 64", "an unclosed count");
	refused("(a+)+", "repeats a group that repeats itself", "nested +");
	refused("((a){2})*", "repeats a group that repeats itself",
	    "nested a level down");
	refused("(a|b{2}){3}", "repeats a group that repeats itself",
	    "nested in an alternative");
	refused("(a", "has an unclosed (", "an open group");
	refused("a)", "has an unmatched )", "a stray )");
	refused("[a", "has an unclosed [", "an open bracket");
	refused("[]", "has an unclosed [", "] first is a member");
	refused("[[:alpha:]", "has an unclosed [", "a class inside, unclosed");
	refused("[[:alpha]]", "has an unclosed [", "a class not closed by :]");
	refused(repeat('a', SPEC_PATTERN_MAX + 1), "is too long",
	    "one character too many");
	ok(spec_pattern_bounded(repeat('a', SPEC_PATTERN_MAX), &why),
	    "SPEC_PATTERN_MAX characters");

	sixteen = "a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?";
	seventeen = "a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?";
	ok(spec_pattern_bounded(sixteen, &why), "16 repetitions");
	refused(seventeen, "has too many repetitions", "17 repetitions");

	/*
	 * Repetitions of a repetition are copies of copies: each of these
	 * would take glibc's regcomp gigabytes.
	 */
	refused("a{64}{64}{64}{64}", "repeats a repetition",
	    "stacked counts");
	refused("a*+", "repeats a repetition", "stacked operators");
	refused("(a){8}{8}", "repeats a repetition", "a group's count counted");
	/* A class, collating element or equivalence class holds a "]" that
	 * does not end the bracket, so the ")(" after it is a member. */
	refused("(a{60}[[:alpha:])(]){60}",
	    "repeats a group that repeats itself", "after a class");
	refused("(a{60}[[.].])(]){60}",
	    "repeats a group that repeats itself", "after [.].]");
	refused("(a{60}[[=a=])(]){60}",
	    "repeats a group that repeats itself", "after [=a=]");
	ok(regcomp(&re, "[[.].])(]", REG_EXTENDED | REG_NOSUB) == 0,
	    "glibc reads [[.].])(] as one bracket");
	regfree(&re);
	/* Back-references are matched by backtracking. */
	refused("^(a*)(a*)\\2\\1$", "has a back-reference", "\\2");
	refused("(x)\\1", "has a back-reference", "\\1");
	ok(spec_pattern_bounded("\\\\1", &why),
	    "an escaped backslash before a digit");
}

static void
test_share_rank(void)
{
	is_int(spec_share_rank("owner"), 0, "owner ranks 0");
	is_int(spec_share_rank("org"), 1, "org ranks 1");
	is_int(spec_share_rank("authenticated"), 2, "authenticated ranks 2");
	is_int(spec_share_rank("public"), 3, "public ranks 3");
	is_int(spec_share_rank("Owner"), -1, "case matters");
	is_int(spec_share_rank(""), -1, "empty is unknown");
	is_int(spec_share_rank(NULL), -1, "NULL is unknown");
	ok(strstr(SHARE_LEVELS_SQL, "'owner', 'org', 'authenticated', "
	    "'public'") != NULL, "SHARE_LEVELS_SQL lists them in rank order");
}

static void
test_defaults(void)
{
	struct spec_version s;
	const char *err;

	err = parse(body(""), &s);
	is_str(err, NULL, "the smallest body passes");
	is_str(s.image, "debian:12", "image");
	is_str(s.command, "[]", "command defaults to []");
	is_str(s.args, "[]", "args default to []");
	is_str(s.env, "{}", "env defaults to {}");
	is_str(s.ports, "[{\"port\":8080,\"protocol\":\"http\"}]",
	    "a port's protocol defaults to http");
	is_int(s.cpu_millis, 1000, "cpu_millis defaults to 1000");
	is_int(s.memory_mb, 1024, "memory_mb defaults to 1024");
	is_int(s.pids, 512, "pids default to 512");
	is_int(s.uid, 1000, "uid defaults to 1000");
	is_int(s.gid, 1000, "gid defaults to 1000");
	is_str(s.home_path, "/home/coder", "home_path defaults");
	is_str(s.probe, "{\"type\":\"http\",\"port\":8080,\"path\":\"/\","
	    "\"timeout\":60}", "the probe defaults to HTTP on the first port");
	is_int(s.idle_timeout, 0, "no idle timeout");
	is_int(s.max_lifetime, 0, "no lifetime");
	is_str(s.max_share_level, "owner", "shared with nobody");
	is_str(s.parameters, "[]", "no parameters");
	is_str(s.secrets, "[]", "no secrets");
	is_str(s.capabilities, "[]", "no capabilities");
	is_str(s.restart_policy, "restart", "restarted");
	is_str(s.starters, "[]", "no starters");
	is_str(s.pool, NULL, "no pool");

	err = parse("{\"image\": \"ghcr.io/a/b:1\", \"command\": [\"sh\"], "
	    "\"args\": [\"-c\", \"x\"], \"env\": {\"A\": \"1\"}, "
	    "\"probe\": {\"type\": \"tcp\", \"port\": 22, \"timeout\": 5}, "
	    "\"cpu_millis\": 8000, \"memory_mb\": 16, \"pids\": 16, "
	    "\"uid\": 1, \"gid\": 2147483647, \"idle_timeout\": 60, "
	    "\"max_lifetime\": 31536000, \"home_path\": \"/workspace\", "
	    "\"max_share_level\": \"public\", \"secrets\": [\"TOKEN\"], "
	    "\"capabilities\": [\"CHOWN\", \"SYS_PTRACE\"], "
	    "\"restart_policy\": \"fail\"}", &s);
	is_str(err, NULL, "every field at a bound passes");
	is_str(s.args, "[\"-c\",\"x\"]", "args as JSON text");
	is_str(s.env, "{\"A\":\"1\"}", "env as JSON text");
	is_str(s.ports, "[]", "no ports");
	is_str(s.probe, "{\"type\":\"tcp\",\"port\":22,\"timeout\":5}",
	    "a TCP probe has no path");
	is_int(s.cpu_millis, 8000, "cpu_millis at the deployment's limit");
	is_int(s.gid, 2147483647L, "the largest gid");
	is_str(s.capabilities, "[\"CHOWN\",\"SYS_PTRACE\"]", "capabilities");
	is_str(s.restart_policy, "fail", "restart_policy fail");
}

static void
test_refusals(void)
{
	struct spec_version s;
	const char *big;
	int i;

	like(parse("{\"image\": \"debian\", \"ports\": [], \"colour\": 1}",
	    &s), "field 'colour' is not known", "an unknown field");
	like(parse("{\"ports\": [{\"port\": 80}]}", &s), "image is required",
	    "image is required");
	like(parse_with("\"image\": \"\""), "image must be a non-empty string",
	    "an empty image");
	like(parse("{\"image\": \"Debian\"}", &s),
	    "image is not a valid image reference", "an image in capitals");
	like(parse("{\"image\": \"localhost:5000/app\"}", &s),
	    "the image is refused: its registry is not a public name",
	    "a local registry");
	snprintf(C.image_registries, sizeof(C.image_registries), "ghcr.io");
	like(parse_with(""), "not one the operator allows",
	    "a registry the operator did not list");
	C.image_registries[0] = '\0';

	like(parse_with("\"command\": \"sh -c x\""),
	    "command must be an array of strings", "command as a string");
	like(parse_with("\"args\": [\"a\", 1]"),
	    "args must be an array of strings", "a number in args");
	like(parse_with(arena_printf(A, "\"args\": [\"%s\"]",
	    repeat('x', 4097))), "args must be an array of strings",
	    "an argument of 4097 bytes");
	big = "\"a\"";
	for (i = 1; i < SPEC_MAX_ARGV; i++)
		big = arena_printf(A, "%s, \"a\"", big);
	is_str(parse_with(arena_printf(A, "\"command\": [%s]", big)), NULL,
	    "128 arguments");
	like(parse_with(arena_printf(A, "\"command\": [%s, \"a\"]", big)),
	    "command must be an array of strings", "129 arguments");

	like(parse_with("\"cpu_millis\": 9"),
	    "cpu_millis must be between 10 and 8000 (the deployment's limit)",
	    "cpu_millis below its floor");
	like(parse_with("\"cpu_millis\": 8001"), "between 10 and 8000",
	    "cpu_millis above the deployment's limit");
	like(parse_with("\"memory_mb\": \"1024\""),
	    "memory_mb must be an integer", "memory_mb as a string");
	like(parse_with("\"memory_mb\": 1.5"), "memory_mb must be an integer",
	    "memory_mb as a fraction");
	like(parse_with("\"pids\": 15"), "pids must be between 16",
	    "pids below 16");
	like(parse_with("\"uid\": 0"), "uid must be between 1", "uid 0");
	like(parse_with("\"gid\": 2147483648"), "gid must be between 1",
	    "gid beyond 31 bits");
	like(parse_with("\"idle_timeout\": 59"),
	    "idle_timeout must be between 60", "an idle timeout below 60");
	like(parse_with("\"max_lifetime\": 31536001"),
	    "max_lifetime must be between 60 and 31536000",
	    "a lifetime beyond a year");

	like(parse_with("\"home_path\": \"/etc\""),
	    "home_path must be a clean absolute path", "home in /etc");
	like(parse_with("\"home_path\": 7"),
	    "home_path must be a non-empty string", "home as a number");
	like(parse_with("\"max_share_level\": \"world\""),
	    "max_share_level must be owner, org, authenticated or public",
	    "an unknown share level");
	like(parse_with("\"restart_policy\": \"always\""),
	    "restart_policy must be restart or fail", "restart_policy always");
	like(parse_with("\"secrets\": [\"A-B\"]"),
	    "secrets must be an array of names", "a secret name with -");
	like(parse_with("\"secrets\": {}"), "secrets must be an array of names",
	    "secrets as an object");
	like(parse_with("\"capabilities\": [\"SYS_ADMIN\"]"),
	    "capabilities: a capability outside the allowed set",
	    "SYS_ADMIN is not offered");
}

static void
test_env(void)
{
	const char *many = "\"V0\": \"\"";
	int i;

	like(parse_with("\"env\": []"), "env must be an object of strings",
	    "env as an array");
	like(parse_with("\"env\": {\"1A\": \"x\"}"),
	    "env name '1A' is not valid", "a name starting with a digit");
	like(parse_with("\"env\": {\"WARREN_URL\": \"x\"}"),
	    "env may not set WARREN_URL: Warren sets it", "WARREN_ names");
	like(parse_with("\"env\": {\"HOME\": \"/x\"}"),
	    "env may not set HOME", "HOME");
	like(parse_with("\"env\": {\"A\": 1}"), "env A must be a string",
	    "a number as a value");
	like(parse_with("\"env\": {\"A\": null}"), "env A must be a string",
	    "null as a value");
	for (i = 1; i < SPEC_MAX_ENV; i++)
		many = arena_printf(A, "%s, \"V%d\": \"\"", many, i);
	is_str(parse_with(arena_printf(A, "\"env\": {%s}", many)), NULL,
	    "256 variables");
	like(parse_with(arena_printf(A, "\"env\": {%s, \"LAST\": \"\"}", many)),
	    "env is too large", "257 variables");
	like(parse_with(arena_printf(A, "\"env\": {\"A\": \"%s\"}",
	    repeat('x', SPEC_MAX_ENV_BYTES))), "env is too large",
	    "a value past 64 KiB with its name");
	is_str(parse_with(arena_printf(A, "\"env\": {\"A\": \"%s\"}",
	    repeat('x', SPEC_MAX_ENV_BYTES - 1))), NULL,
	    "64 KiB with its name");
}

static void
test_ports_probe(void)
{
	struct spec_version s;
	const char *many = "{\"port\": 1}";
	int i;

	like(parse_with("\"ports\": {}"), "ports must be an array",
	    "ports as an object");
	like(parse("{\"image\": \"debian\", \"ports\": [{}]}", &s),
	    "ports: each needs a port number", "a port without its number");
	like(parse("{\"image\": \"debian\", \"ports\": [{\"port\": \"80\"}]}",
	    &s), "ports: each needs a port number", "a port as a string");
	like(parse("{\"image\": \"debian\", \"ports\": [{\"port\": 0}]}", &s),
	    "ports: port out of range 1..65535", "port 0");
	like(parse("{\"image\": \"debian\", \"ports\": [{\"port\": 65536}]}",
	    &s), "ports: port out of range 1..65535", "port 65536");
	is_str(parse("{\"image\": \"debian\", \"ports\": [{\"port\": 65535, "
	    "\"protocol\": \"tcp\", \"name\": \"db\"}]}", &s), NULL,
	    "port 65535 over TCP, named");
	is_str(s.ports, "[{\"port\":65535,\"protocol\":\"tcp\",\"name\":"
	    "\"db\"}]", "the port as given");
	like(parse("{\"image\": \"debian\", \"ports\": [{\"port\": 80, "
	    "\"protocol\": \"udp\"}]}", &s),
	    "ports: protocol must be http or tcp", "UDP");
	like(parse(arena_printf(A, "{\"image\": \"debian\", \"ports\": "
	    "[{\"port\": 80, \"name\": \"%s\"}]}", repeat('n', 65)), &s),
	    "ports: name must be a short string", "a name of 65 characters");
	like(parse("{\"image\": \"debian\", \"ports\": [{\"port\": 80, "
	    "\"host\": \"x\"}]}", &s), "ports: unknown field 'host'",
	    "an unknown field of a port");
	like(parse("{\"image\": \"debian\", \"ports\": [{\"port\": 80}, "
	    "{\"port\": 81}, {\"port\": 80, \"protocol\": \"tcp\"}]}", &s),
	    "ports: a port is listed twice", "a port twice");
	for (i = 2; i <= SPEC_MAX_PORTS + 1; i++)
		many = arena_printf(A, "%s, {\"port\": %d}", many, i);
	like(parse(arena_printf(A, "{\"image\": \"debian\", \"ports\": [%s]}",
	    many), &s), "ports must be an array of at most 32 ports",
	    "33 ports");

	like(parse("{\"image\": \"debian\"}", &s),
	    "probe needs a port (or the template a port)",
	    "no port and no probe");
	is_str(parse("{\"image\": \"debian\", \"probe\": {\"port\": 3000, "
	    "\"path\": \"/healthz\"}}", &s), NULL, "a probe of its own");
	is_str(s.probe, "{\"type\":\"http\",\"port\":3000,\"path\":"
	    "\"/healthz\",\"timeout\":60}", "its port and path");
	like(parse_with("\"probe\": []"), "probe must be an object",
	    "a probe array");
	like(parse_with("\"probe\": {\"interval\": 1}"),
	    "probe: unknown field 'interval'", "an unknown probe field");
	like(parse_with("\"probe\": {\"type\": \"grpc\"}"),
	    "probe.type must be http or tcp", "a gRPC probe");
	like(parse_with("\"probe\": {\"port\": 70000}"),
	    "probe.port out of range 1..65535", "a probe port too high");
	like(parse_with("\"probe\": {\"path\": \"healthz\"}"),
	    "probe.path must start with /", "a relative probe path");
	like(parse_with("\"probe\": {\"timeout\": 0}"),
	    "probe.timeout must be 1..3600 seconds", "a timeout of 0");
	like(parse_with("\"probe\": {\"timeout\": 3601}"),
	    "probe.timeout must be 1..3600 seconds", "a timeout of 3601");
}

/* A parameters member holding one definition. */
static const char *
param(const char *def)
{
	return parse_with(arena_printf(A, "\"parameters\": [%s]", def));
}

#define OPTIONS	"X: options must be an array of 1 to 64 strings, on a " \
	"parameter of type string"
#define NUMBER	"must be a number, on a parameter of type number"

static void
test_param_defs(void)
{
	static const struct {
		const char	*def, *why, *what;
	} wrong[] = {
		{ "{\"name\": \"X\", \"type\": \"string\", \"options\": "
		    "[null]}", OPTIONS, "null among the options" },
		{ "{\"name\": \"X\", \"type\": \"string\", \"options\": "
		    "[\"a\", 1]}", OPTIONS, "a number among the options" },
		{ "{\"name\": \"X\", \"type\": \"string\", \"options\": \"a\"}",
		    OPTIONS, "options as a string" },
		{ "{\"name\": \"X\", \"type\": \"string\", \"options\": []}",
		    OPTIONS, "no options at all" },
		{ "{\"name\": \"X\", \"type\": \"number\", \"options\": "
		    "[\"1\"]}", OPTIONS, "options of a number" },
		{ "{\"name\": \"X\", \"type\": \"bool\", \"pattern\": \"^t\"}",
		    "X: pattern is only for a parameter of type string",
		    "a bool's pattern" },
		{ "{\"name\": \"X\", \"type\": \"number\", \"min\": \"1\"}",
		    "X: min " NUMBER, "min as a string" },
		{ "{\"name\": \"X\", \"type\": \"number\", \"max\": [9]}",
		    "X: max " NUMBER, "max as an array" },
		{ "{\"name\": \"X\", \"type\": \"string\", \"max\": 9}",
		    "X: max " NUMBER, "a string's max" },
		{ "{\"name\": \"X\", \"type\": \"number\", \"min\": 5, "
		    "\"max\": 4}", "X: min is above max", "min above max" },
		{ "{\"name\": \"X\", \"type\": \"bool\", \"mutable\": \"no\"}",
		    "X: mutable must be true or false", "mutable \"no\"" },
		{ "{\"name\": \"X\", \"type\": \"bool\", \"required\": 1}",
		    "X: required must be true or false", "required 1" },
		{ "{\"name\": \"X\", \"type\": \"bool\", \"description\": 1}",
		    "X: description must be a string", "a description number" },
		{ NULL, NULL, NULL }
	};
	struct spec_version s;
	const char *many = "{\"name\": \"P0\", \"type\": \"bool\"}", *err;
	const char *options;
	int i;

	like(parse_with("\"parameters\": {}"),
	    "parameters must be an array of at most 64", "an object");
	for (i = 1; i <= SPEC_MAX_PARAMS; i++)
		many = arena_printf(A, "%s, {\"name\": \"P%d\", \"type\": "
		    "\"bool\"}", many, i);
	like(parse_with(arena_printf(A, "\"parameters\": [%s]", many)),
	    "parameters must be an array of at most 64", "65 definitions");
	like(param("\"X\""), "parameters: each needs a name",
	    "a definition as a string");
	like(param("{\"type\": \"bool\"}"), "parameters: each needs a name",
	    "no name");
	like(param("{\"name\": \"a-b\", \"type\": \"bool\"}"),
	    "parameters: each needs a name of letters, digits, _",
	    "a name with -");
	like(param("{\"name\": \"X\"}"), "parameters: each needs a type",
	    "no type");
	like(param("{\"name\": \"X\", \"type\": \"int\"}"),
	    "parameters: type must be string, number or bool", "type int");
	like(param("{\"name\": \"X\", \"type\": \"bool\", \"colour\": 1}"),
	    "parameters: unknown field 'colour'", "an unknown field");
	like(param("{\"name\": \"X\", \"type\": \"string\", \"pattern\": 1}"),
	    "pattern must be a string of at most 128", "a pattern number");
	like(param(arena_printf(A, "{\"name\": \"X\", \"type\": \"string\", "
	    "\"pattern\": \"%s\"}", repeat('a', 129))),
	    "pattern must be a string of at most 128", "a long pattern");
	like(param("{\"name\": \"X\", \"type\": \"string\", \"pattern\": "
	    "\"(a+)+\"}"), "parameters: pattern repeats a group",
	    "an unbounded pattern");
	like(param("{\"name\": \"X\", \"type\": \"string\", \"pattern\": "
	    "\"[z-a]\"}"), "pattern is not a valid regular expression",
	    "a pattern regcomp refuses");

	/* Two definitions of one name: no value could satisfy both. */
	like(parse_with("\"parameters\": [{\"name\": \"X\", \"type\": "
	    "\"string\"}, {\"name\": \"X\", \"type\": \"number\"}]"),
	    "parameters: the name X is used twice", "a name twice");
	/* Fields of the wrong type, read by spec_params_apply later. */
	for (i = 0; wrong[i].def != NULL; i++)
		like(param(wrong[i].def), wrong[i].why, "%s", wrong[i].what);
	options = "\"o0\"";
	for (i = 1; i < SPEC_MAX_OPTIONS; i++)
		options = arena_printf(A, "%s, \"o%d\"", options, i);
	is_str(param(arena_printf(A, "{\"name\": \"X\", \"type\": \"string\", "
	    "\"options\": [%s]}", options)), NULL, "64 options");
	like(param(arena_printf(A, "{\"name\": \"X\", \"type\": \"string\", "
	    "\"options\": [%s, \"last\"]}", options)),
	    "options must be an array of 1 to 64 strings", "65 options");
	like(param(arena_printf(A, "{\"name\": \"X\", \"type\": \"bool\", "
	    "\"description\": \"%s\"}", repeat('d', 501))),
	    "X: description must be a string of at most 500",
	    "a long description");

	/* Each default is checked against its own definition. */
	like(param("{\"name\": \"X\", \"type\": \"number\", \"min\": 1, "
	    "\"max\": 5, \"default\": 9}"),
	    "parameters: default: parameter X is out of range",
	    "a default out of range");
	like(param("{\"name\": \"X\", \"type\": \"string\", \"options\": "
	    "[\"a\", \"b\"], \"default\": \"c\"}"),
	    "parameters: default: parameter X is not one of its options",
	    "a default not among the options");
	like(param("{\"name\": \"X\", \"type\": \"string\", \"pattern\": "
	    "\"^[a-z]+$\", \"default\": \"A\"}"),
	    "default: parameter X does not match its pattern",
	    "a default against its pattern");
	like(param("{\"name\": \"X\", \"type\": \"bool\", \"default\": 1}"),
	    "default: parameter X must be a bool", "a default of another type");

	err = parse(body("\"parameters\": [{\"name\": \"REGION\", \"type\": "
	    "\"string\", \"options\": [\"eu\", \"us\"], \"default\": \"eu\", "
	    "\"mutable\": false, \"description\": \"where\"}, {\"name\": "
	    "\"SIZE\", \"type\": \"number\", \"min\": 1, \"max\": 10.5, "
	    "\"default\": 2}, {\"name\": \"REPO\", \"type\": \"string\", "
	    "\"pattern\": \"^https://[a-z0-9./-]+$\", \"required\": true}]"),
	    &s);
	is_str(err, NULL, "three full definitions");
	is_str(s.parameters, "[{\"name\":\"REGION\",\"type\":\"string\","
	    "\"options\":[\"eu\",\"us\"],\"default\":\"eu\",\"mutable\":false,"
	    "\"description\":\"where\"},{\"name\":\"SIZE\",\"type\":\"number\","
	    "\"min\":1,\"max\":10.5,\"default\":2},{\"name\":\"REPO\",\"type\":"
	    "\"string\",\"pattern\":\"^https://[a-z0-9./-]+$\",\"required\":"
	    "true}]", "kept as given");
}

/* A starters member holding these starters. */
static const char *
starters(const char *list)
{
	return parse_with(arena_printf(A, "\"starters\": [%s]", list));
}

static void
test_starters(void)
{
	struct spec_version s;
	const char *list, *files;
	int i;

	is_str(parse(body("\"starters\": [{\"name\": \"flask\", "
	    "\"display_name\": \"Flask\", \"description\": \"a web app\", "
	    "\"files\": {\"app.py\": \"print(1)\\n\", "
	    "\"templates/index.html\": \"\"}}]"), &s), NULL, "a starter");
	is_str(s.starters, "[{\"name\":\"flask\",\"display_name\":\"Flask\","
	    "\"description\":\"a web app\",\"files\":{\"app.py\":"
	    "\"print(1)\\n\",\"templates/index.html\":\"\"}}]",
	    "kept as given");

	like(parse_with("\"starters\": {}"),
	    "starters must be an array of at most 16", "an object");
	list = "{\"name\": \"s0\", \"files\": {\"a\": \"\"}}";
	for (i = 1; i <= SPEC_MAX_STARTERS; i++)
		list = arena_printf(A, "%s, {\"name\": \"s%d\", \"files\": "
		    "{\"a\": \"\"}}", list, i);
	like(starters(list), "starters must be an array of at most 16",
	    "17 starters");
	like(starters("{\"files\": {\"a\": \"\"}}"),
	    "starters: each needs a name of at most 32", "no name");
	like(starters("{\"name\": \"Flask\", \"files\": {\"a\": \"\"}}"),
	    "starters: each needs a name", "a name in capitals");
	like(starters(arena_printf(A, "{\"name\": \"%s\", \"files\": "
	    "{\"a\": \"\"}}", repeat('s', 33))),
	    "starters: each needs a name", "a name of 33 characters");
	like(starters("{\"name\": \"a\", \"files\": {\"x\": \"\"}}, "
	    "{\"name\": \"a\", \"files\": {\"y\": \"\"}}"),
	    "starters: the name a is used twice", "a name twice");
	like(starters("{\"name\": \"a\", \"files\": {\"x\": \"\"}, "
	    "\"url\": \"x\"}"), "starters: unknown field 'url'",
	    "an unknown field");
	like(starters(arena_printf(A, "{\"name\": \"a\", \"files\": {\"x\": "
	    "\"\"}, \"display_name\": \"%s\"}", repeat('d', 501))),
	    "starters: a: display_name must be a string of at most 500",
	    "a long display name");
	like(starters("{\"name\": \"a\", \"files\": {\"x\": \"\"}, "
	    "\"description\": 5}"), "starters: a: description must be",
	    "a description number");
	like(starters("{\"name\": \"a\"}"),
	    "starters: a: files must be an object", "no files");
	like(starters("{\"name\": \"a\", \"files\": {}}"),
	    "starters: a: files must be an object", "no file in files");
	like(starters("{\"name\": \"a\", \"files\": [\"x\"]}"),
	    "starters: a: files must be an object", "files as an array");
	like(starters("{\"name\": \"a\", \"files\": {\"../x\": \"\"}}"),
	    "starters: a: file ../x: paths are relative", "a path with ..");
	like(starters("{\"name\": \"a\", \"files\": {\"/etc/x\": \"\"}}"),
	    "starters: a: file /etc/x: paths are relative", "an absolute path");
	like(starters("{\"name\": \"a\", \"files\": {\"x\": 1}}"),
	    "starters: a: file x must be text", "a number for text");
	like(starters("{\"name\": \"a\", \"files\": {\"x\": \"a\\u0000b\"}}"),
	    "starters: a: file x must be text", "text with a NUL");
	like(starters(arena_printf(A, "{\"name\": \"a\", \"files\": {\"x\": "
	    "\"%s\"}}", repeat('t', SPEC_MAX_FILE_BYTES + 1))),
	    "starters: a: file x is larger than 96 KiB",
	    "a file of 96 KiB + 1");
	is_str(starters(arena_printf(A, "{\"name\": \"a\", \"files\": {\"x\": "
	    "\"%s\"}}", repeat('t', SPEC_MAX_FILE_BYTES))), NULL,
	    "a file of 96 KiB");
	files = "\"f0\": \"\"";
	for (i = 1; i <= SPEC_MAX_STARTER_FILES; i++)
		files = arena_printf(A, "%s, \"f%d\": \"\"", files, i);
	like(starters(arena_printf(A, "{\"name\": \"a\", \"files\": {%s}}",
	    files)), "starters: a: at most 64 files and 512 KiB in all",
	    "65 files");
	files = "\"f0\": \"\"";
	for (i = 1; i <= 6; i++)
		files = arena_printf(A, "%s, \"f%d\": \"%s\"", files, i,
		    repeat('t', SPEC_MAX_FILE_BYTES));
	like(starters(arena_printf(A, "{\"name\": \"a\", \"files\": {%s}}",
	    files)), "at most 64 files and 512 KiB in all",
	    "seven files past 512 KiB in all");
}

static void
test_pool(void)
{
	struct spec_version s;
	const char *defs = "\"parameters\": [{\"name\": \"R\", \"type\": "
	    "\"string\", \"options\": [\"eu\", \"us\"], \"default\": \"eu\"}, "
	    "{\"name\": \"N\", \"type\": \"number\"}]";

	is_str(parse(body(arena_printf(A, "%s, \"pool\": {\"size\": 2}",
	    defs)), &s), NULL, "a pool of the defaults");
	is_str(s.pool, "{\"size\":2,\"parameters\":{\"R\":\"eu\"}}",
	    "the defaults filled in");
	is_str(parse(body(arena_printf(A, "%s, \"pool\": {\"size\": 50, "
	    "\"parameters\": {\"R\": \"us\", \"N\": 3}}", defs)), &s), NULL,
	    "a pool of 50 with parameters");
	is_str(s.pool, "{\"size\":50,\"parameters\":{\"R\":\"us\",\"N\":3}}",
	    "its parameters");
	is_str(parse(body("\"pool\": {\"size\": 0}"), &s), NULL,
	    "a pool of none");
	is_str(s.pool, "{\"size\":0,\"parameters\":{}}", "size 0");

	like(parse_with("\"pool\": 3"), "pool must be an object with size",
	    "a number");
	like(parse_with("\"pool\": {\"size\": 1, \"ttl\": 5}"),
	    "pool: unknown field 'ttl'", "an unknown field");
	like(parse_with("\"pool\": {}"),
	    "pool: size must be an integer between 0 and 50", "no size");
	like(parse_with("\"pool\": {\"size\": 51}"),
	    "pool: size must be an integer between 0 and 50", "51");
	like(parse_with("\"pool\": {\"size\": -1}"),
	    "pool: size must be an integer between 0 and 50", "-1");
	like(parse_with("\"pool\": {\"size\": \"2\"}"),
	    "pool: size must be an integer between 0 and 50", "a string");
	like(parse_with("\"pool\": {\"size\": 1, \"parameters\": []}"),
	    "pool: parameters: parameters must be an object",
	    "parameters as an array");
	like(parse_with(arena_printf(A, "%s, \"pool\": {\"size\": 1, "
	    "\"parameters\": {\"R\": \"ap\"}}", defs)),
	    "pool: parameters: parameter R is not one of its options",
	    "a value off its options");
	like(parse_with("\"pool\": {\"size\": 1, \"parameters\": {\"Y\": 1}}"),
	    "pool: parameters: parameter Y is not defined by the template",
	    "an unknown parameter");
	like(parse_with("\"parameters\": [{\"name\": \"K\", \"type\": "
	    "\"string\", \"required\": true}], \"pool\": {\"size\": 1}"),
	    "pool: parameters: parameter K is required",
	    "a required parameter left out");
}

static void
test_apply(void)
{
	const char *defs = "[{\"name\": \"R\", \"type\": \"string\", "
	    "\"options\": [\"eu\", \"us\"], \"default\": \"eu\", "
	    "\"mutable\": false}, {\"name\": \"N\", \"type\": \"number\", "
	    "\"min\": 1, \"max\": 10}, {\"name\": \"B\", \"type\": \"bool\", "
	    "\"default\": false}, {\"name\": \"S\", \"type\": \"string\", "
	    "\"pattern\": \"^[a-z]+$\"}]";
	const char *req = "[{\"name\": \"K\", \"type\": \"string\", "
	    "\"required\": true}]";

	is_str(apply("[]", NULL, NULL), "{}", "no definitions, no values");
	is_str(apply("[]", "{}", NULL), "{}", "no definitions, empty values");
	is_str(apply(defs, NULL, NULL), "{\"R\":\"eu\",\"B\":false}",
	    "defaults filled in, the others left out");
	is_str(apply(defs, "{\"N\": 1, \"S\": \"abc\", \"B\": true}", NULL),
	    "{\"R\":\"eu\",\"N\":1,\"B\":true,\"S\":\"abc\"}",
	    "values in definition order");
	is_str(apply("not json", NULL, NULL),
	    "error: the template's parameters are not readable",
	    "definitions not JSON");
	is_str(apply("{}", NULL, NULL),
	    "error: the template's parameters are not readable",
	    "definitions not an array");
	is_str(apply(defs, "[]", NULL), "error: parameters must be an object",
	    "values as an array");
	is_str(apply(defs, "{\"Z\": 1}", NULL),
	    "error: parameter Z is not defined by the template",
	    "an unknown name");
	is_str(apply(defs, "{\"r\": \"eu\"}", NULL),
	    "error: parameter r is not defined by the template",
	    "names are case-sensitive");

	/* Numbers: both bounds are allowed values. */
	is_str(apply(defs, "{\"N\": 10}", NULL), "{\"R\":\"eu\",\"N\":10,"
	    "\"B\":false}", "the maximum");
	is_str(apply(defs, "{\"N\": 0}", NULL),
	    "error: parameter N is out of range", "below min");
	is_str(apply(defs, "{\"N\": 10.5}", NULL),
	    "error: parameter N is out of range", "a fraction above max");
	is_str(apply(defs, "{\"N\": 2.5}", NULL), "{\"R\":\"eu\",\"N\":2.5,"
	    "\"B\":false}", "a fraction within");
	is_str(apply(defs, "{\"N\": \"5\"}", NULL),
	    "error: parameter N must be a number", "a number as a string");
	is_str(apply(defs, "{\"B\": \"true\"}", NULL),
	    "error: parameter B must be a bool", "a bool as a string");
	is_str(apply(defs, "{\"B\": null}", "{\"B\": true}"),
	    "{\"R\":\"eu\",\"B\":true}", "null is a value left out");
	/* Strings: options, pattern, length and NUL. */
	is_str(apply(defs, "{\"R\": \"ap\"}", NULL),
	    "error: parameter R is not one of its options", "off the options");
	is_str(apply(defs, "{\"R\": 1}", NULL),
	    "error: parameter R must be a string", "a number for a string");
	is_str(apply(defs, "{\"S\": \"ABC\"}", NULL),
	    "error: parameter S does not match its pattern", "off the pattern");
	is_str(apply(defs, arena_printf(A, "{\"S\": \"%s\"}",
	    repeat('s', 4097)), NULL), "error: parameter S must be a string",
	    "4097 characters");
	ok(strstr(apply(defs, arena_printf(A, "{\"S\": \"%s\"}",
	    repeat('s', 4096)), NULL), "error:") == NULL, "4096 characters");
	is_str(apply(defs, "{\"S\": \"abc\\u0000; rm -rf ~\"}", NULL),
	    "error: parameter S must be a string",
	    "a NUL, which would hide the rest from the pattern");

	/* Required: a value or a default must be there. */
	is_str(apply(req, "{}", NULL), "error: parameter K is required",
	    "a required value left out");
	is_str(apply(req, "{\"K\": \"\"}", NULL), "{\"K\":\"\"}",
	    "an empty string is a value");
	is_str(apply("[{\"name\": \"K\", \"type\": \"string\", \"required\": "
	    "true, \"default\": \"d\"}]", NULL, NULL), "{\"K\":\"d\"}",
	    "a required value with a default");

	/* On update: previous values stay, immutable ones cannot change. */
	is_str(apply(defs, "{}", "{\"R\": \"us\", \"N\": 3, \"B\": true}"),
	    "{\"R\":\"us\",\"N\":3,\"B\":true}",
	    "previous values rather than defaults");
	is_str(apply(defs, "{\"R\": \"eu\"}", "{\"R\": \"us\"}"),
	    "error: parameter R cannot be changed", "an immutable change");
	is_str(apply(defs, "{\"R\": \"us\"}", "{\"R\": \"us\"}"),
	    "{\"R\":\"us\",\"B\":false}", "an immutable value given again");
	is_str(apply(defs, "{\"N\": 4}", "{\"R\": \"us\", \"N\": 3}"),
	    "{\"R\":\"us\",\"N\":4,\"B\":false}", "a mutable change");
	is_str(apply(defs, NULL, "{\"R\": \"ap\"}"),
	    "error: parameter R is not one of its options",
	    "a previous value is checked against the new definitions");
	is_str(apply(defs, "{}", "{\"gone\": 1, \"R\": \"eu\"}"),
	    "{\"R\":\"eu\",\"B\":false}",
	    "previous values of removed parameters are dropped");

	/* Definitions stored before the checks of today. */
	is_str(apply("[{\"name\": \"O\", \"type\": \"string\", \"options\": "
	    "[null, 1, \"a\"]}]", "{\"O\": \"a\"}", NULL), "{\"O\":\"a\"}",
	    "stored options holding null: a string option still matches");
	is_str(apply("[{\"name\": \"O\", \"type\": \"string\", \"options\": "
	    "[null, 1]}]", "{\"O\": \"1\"}", NULL),
	    "error: parameter O is not one of its options",
	    "stored options of other types match nothing");
	is_str(apply("[{\"name\": \"P\", \"type\": \"string\", \"pattern\": "
	    "\"[z-a]\"}]", "{\"P\": \"x\"}", NULL),
	    "error: parameter P has a pattern that does not compile",
	    "a stored pattern that does not compile");
}

int
main(void)
{
	A = arena_new(64 * 1024);
	conf_defaults(&C);
	test_image();
	test_env_name();
	test_home_path();
	test_rel_path();
	test_pattern();
	test_share_rank();
	test_defaults();
	test_refusals();
	test_env();
	test_ports_probe();
	test_param_defs();
	test_starters();
	test_pool();
	test_apply();
	arena_free(A);
	return done_testing();
}
