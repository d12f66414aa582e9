/*
 * The reconciler's pure core: from one workspace's desired state and what
 * Docker has, the steps that bring them together; and the Docker create
 * request for a workspace, built only from its template version.  No I/O.
 */
#ifndef WARREN_PLAN_H
#define WARREN_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "arena.h"

struct desired {
	char		 id[40], short_id[16], owner_id[40], org_id[40];
	char		 name[40];
	char		 state[16];		/* running, stopped, deleted */
	/* The build in flight, if any. */
	bool		 has_build;
	char		 build_id[40];
	int		 build_number;
	char		 transition[16];
	char		 build_status[16];
	char		 last_status[16];	/* of the latest build */
	int		 status;		/* enum ws_status, or -1 */
	int64_t		 build_started;		/* 0: not yet */
	/* The template version to run. */
	const char	*image, *command, *args, *env, *ports, *probe;
	const char	*capabilities, *restart_policy, *home_path;
	const char	*parameters, *secret_names;
	long		 cpu_millis, memory_mb, pids, uid, gid;
	long		 probe_timeout;
	/* Schedules. */
	int64_t		 deadline, max_deadline, activity, stopped_at;
	int64_t		 dormant_at;
	long		 idle_timeout;
	/* No organization, or its owner is a member of it. */
	bool		 member;
	/* First-start initialization still to run: the starter's files
	 * (JSON object, path -> text; NULL when the version has no starter
	 * of that name) and the repository (JSON object, or NULL). */
	bool		 init_pending;
	char		 starter[40];
	const char	*starter_files, *repository;
	/* An unclaimed member of a warm pool: kept paused when ready, never
	 * stopped by a schedule. */
	bool		 pooled;
};

struct actual {
	bool	 exists, running, volume;
	char	 id[80];
	int	 build_number;		/* warren.build label */
	int	 exit_code;
	/* Its container or volume name is taken by another installation. */
	bool	 foreign;
	bool	 paused;		/* running, and frozen */
};

enum step {
	STEP_BEGIN,		/* mark the build running */
	STEP_VOLUME,		/* create the home volume */
	STEP_REMOVE,		/* stop and remove the container */
	STEP_CREATE,
	STEP_START,
	STEP_INIT,		/* first start: starter files, git clone */
	STEP_UNPAUSE,		/* a claimed pool member resumes */
	STEP_PROBE,		/* wait for readiness, or fail the build */
	STEP_RECORD_EXIT,	/* it stopped on its own: note the exit code */
	STEP_FAIL_WORKSPACE,	/* restart policy "fail": stop it for good */
	STEP_REMOVE_VOLUME,
	STEP_FORGET,		/* the workspace is gone */
	STEP_STUCK,		/* a build past its deadline: fail it */
	STEP_SUCCEED,		/* the build is done */
	STEP_PAUSE,		/* a ready pool member waits, frozen */
	STEP_COUNT
};

#define PLAN_MAX	16

struct plan {
	enum step	 steps[PLAN_MAX];
	int		 n;
};

extern const char *const step_names[STEP_COUNT];

/* Seconds a running build may take beyond its probe timeout. */
#define PLAN_BUILD_GRACE	300

void	plan_decide(const struct desired *, const struct actual *,
	    int64_t now, struct plan *);

enum schedule_action { SCHED_NONE, SCHED_STOP, SCHED_DORMANT, SCHED_DELETE };
enum schedule_action plan_schedule(const struct desired *, int64_t now,
	    long dormancy_days, long delete_days, const char **reason);

struct spec_context {
	const char	*publish_address;	/* host address for ports */
	const char	*network;
	const char	*volume;
	const char	*secret_env;		/* JSON object name -> value */
	const char	*instance;		/* warren.instance label */
};

/* The create body; NULL (and why) when the result would be unsafe. */
struct json_object *plan_container(struct arena *, const struct desired *,
	    const struct spec_context *, const char **why);
/* Last gate before create: refuses anything privileged or host-bound. */
bool	plan_container_safe(struct json_object *, const char **why);
char	*plan_container_name(struct arena *, const struct desired *);
char	*plan_volume_name(struct arena *, const struct desired *);

#endif
