/*
 * Template versions as data: validation of what a template-admin submits,
 * pure and unit-tested, so nothing invalid ever reaches the database or,
 * later, Docker.
 */
#ifndef WARREN_SPEC_H
#define WARREN_SPEC_H

#include <stdbool.h>

#include <json-c/json.h>

#include "arena.h"
#include "conf.h"

#define SPEC_MAX_ENV		256
#define SPEC_MAX_ENV_BYTES	(64 * 1024)
#define SPEC_MAX_PORTS		32
#define SPEC_MAX_PARAMS		64
#define SPEC_MAX_OPTIONS	64
#define SPEC_MAX_ARGV		128

struct spec_version {
	const char	*image;
	const char	*command;	/* JSON text of a string array */
	const char	*args;
	const char	*env;		/* JSON text of an object */
	const char	*ports;		/* JSON array of {port,name,protocol} */
	long		 cpu_millis, memory_mb, pids, uid, gid;
	const char	*home_path;
	const char	*probe;		/* JSON object */
	long		 idle_timeout, max_lifetime;	/* 0: none */
	const char	*max_share_level;
	const char	*parameters;	/* JSON array */
	const char	*secrets;	/* JSON array of names */
	const char	*capabilities;	/* JSON array of names */
	const char	*restart_policy;
	const char	*starters;	/* JSON array of {name, files, ...} */
	const char	*pool;		/* {"size", "parameters"}, or NULL */
};

/* Fills *out from a request body; false with a message naming the field. */
bool	spec_version_parse(struct arena *, const struct conf *,
	    struct json_object *body, struct spec_version *out,
	    const char **err);
bool	spec_image_valid(const char *);
bool	spec_env_name_valid(const char *);
bool	spec_home_path_valid(const char *);
/* Starters: a few sets of text files for a new home.  Each file goes to
 * the init command as one argument, which Linux bounds at 128 KiB. */
/* Prebuilt workspaces a version may keep ready, at the most. */
#define SPEC_MAX_POOL		50
#define SPEC_MAX_STARTERS	16
#define SPEC_MAX_STARTER_FILES	64
#define SPEC_MAX_FILE_BYTES	(96 * 1024)
#define SPEC_MAX_STARTER_BYTES	(512 * 1024)
/* A relative path of clean components ("src/app.py"), for starter files
 * and a repository's directory in the home. */
bool	spec_rel_path_valid(const char *, bool one_component);

/* A parameter's pattern: bounded cost to compile and match. */
#define SPEC_PATTERN_MAX	128
#define SPEC_REPEAT_MAX		64
#define SPEC_REPEAT_MAX_TEXT	"64"
#define SPEC_QUANTIFIERS_MAX	16
bool	spec_pattern_bounded(const char *, const char **why);
int	spec_share_rank(const char *level);	/* -1 when unknown */
/* The share levels in rank order, as a SQL array (spec.c's order). */
#define SHARE_LEVELS_SQL \
	"ARRAY['owner', 'org', 'authenticated', 'public']"
/* Checks workspace parameter values against a version's definitions and
 * returns the JSON text of the values with defaults filled in. */
bool	spec_params_apply(struct arena *, const char *definitions,
	    struct json_object *values, struct json_object *previous,
	    const char **out, const char **err);

#endif
