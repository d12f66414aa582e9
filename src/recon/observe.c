/*
 * One pass's observation of Docker: containers and volumes labelled
 * warren.managed=true, sorted by whose they are.  Objects labelled with
 * another instance id belong to another installation on the same engine
 * and are only counted; objects made before instance labels are adopted
 * when their workspace is in this database, and left alone otherwise.
 * Only full passes call this, on the main thread: the state below is
 * that thread's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpc.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "state.h"

/*
 * Orphans Docker refused to remove (a root file system it left mounted, a
 * volume still in use): each is tried again after a pause that doubles,
 * so a pass is not held up every time by Docker's own retries (five
 * seconds for a busy mount), and the log says why at each try.
 */
#define MAX_STUCK	32
#define STUCK_PAUSE	15		/* seconds, doubled up to ... */
#define STUCK_PAUSE_MAX	960
/* Repeated warnings about what is kept: when it changes, else this often. */
#define WARN_EVERY	600
#define MAX_ADOPTED	256

static struct stuck {
	char		 name[80];	/* container id or volume name */
	time_t		 next;
	int		 pause;
}			 stuck[MAX_STUCK];

static struct {
	int		 count;
	time_t		 at;
}			 warned_volumes, warned_foreign, warned_hold;

static char		 adopted[MAX_ADOPTED][80];
static bool		 hold_recorded = true;	/* a stale row may be left */

static const char *
find_label(struct json_object *o, const char *k)
{
	struct json_object *l, *v;

	if (!json_object_object_get_ex(o, "Labels", &l) || l == NULL ||
	    !json_object_object_get_ex(l, k, &v))
		return NULL;
	return json_object_get_string(v);
}

static const char *
field(struct json_object *o, const char *k)
{
	return json_object_get_string(json_object_object_get(o, k));
}

/* The index of the desired workspace id, or -1. */
static int
wanted(const struct desired *ds, int n, const char *id)
{
	int i;

	for (i = 0; id != NULL && i < n; i++)
		if (strcmp(ds[i].id, id) == 0)
			return i;
	return -1;
}

/* Says so when count changed since the last time, or at most this often. */
static bool
worth_saying(int count, int *last, time_t *at)
{
	time_t now = time(NULL);

	if (count == *last && (count == 0 || now - *at < WARN_EVERY))
		return false;
	*last = count;
	*at = now;
	return count > 0;
}

/* Logs the adoption of an object made before instance labels, once. */
static void
adopt(const char *what, const char *name, const char *ws)
{
	int i, free_slot = -1;

	for (i = 0; i < MAX_ADOPTED; i++) {
		if (strcmp(adopted[i], name) == 0)
			return;
		if (adopted[i][0] == '\0' && free_slot == -1)
			free_slot = i;
	}
	if (free_slot != -1)
		snprintf(adopted[free_slot], sizeof(adopted[0]), "%s", name);
	log_info("adopting %s %.12s of workspace %s: made before instance "
	    "labels", what, name, ws);
}

enum owner { OWN, FOREIGN };

/*
 * Whose an object is: labelled with this instance, ours; labelled with
 * another, not; unlabelled (older than instance labels), ours when its
 * workspace is in this database.
 */
static enum owner
owner_of(struct worker *w, struct json_object *o, int k, const char *what,
    const char *name, const char *ws)
{
	const char *inst = find_label(o, "warren.instance");

	if (inst != NULL)
		return strcmp(inst, w->shared->instance) == 0 ? OWN : FOREIGN;
	if (k < 0)
		return FOREIGN;
	adopt(what, name, ws);
	return OWN;
}

static struct stuck *
stuck_find(const char *name)
{
	int i;

	for (i = 0; i < MAX_STUCK; i++)
		if (strcmp(stuck[i].name, name) == 0)
			return &stuck[i];
	return NULL;
}

/* Removes a container or volume, unless its next try is later: true when
 * it is gone. */
static bool
remove_object(struct worker *w, const char *what, const char *name,
    const char *path, enum step step)
{
	struct stuck *s;
	enum docker_result r;
	time_t now = time(NULL);
	/* A container by its short id, as docker ps shows it. */
	int shown = step == STEP_REMOVE ? 12 : (int)strlen(name);
	int i;

	if ((s = stuck_find(name)) != NULL && now < s->next)
		return false;
	log_info("removing %s %.*s", what, shown, name);
	r = docker_call(w->docker, w->a, "DELETE", path, NULL, 0, NULL);
	metrics_step(step, r == DOCKER_OK || r == DOCKER_NOT_FOUND);
	if (r == DOCKER_OK || r == DOCKER_NOT_FOUND || r == DOCKER_UNREACHABLE) {
		/* Gone, or Docker is away: the pass says so and ends. */
		if (s != NULL && r != DOCKER_UNREACHABLE)
			memset(s, 0, sizeof(*s));
		return r != DOCKER_UNREACHABLE;
	}
	if (s == NULL) {
		/* A free slot, else the one due soonest. */
		for (s = &stuck[0], i = 0; i < MAX_STUCK; i++) {
			if (stuck[i].name[0] == '\0') {
				s = &stuck[i];
				break;
			}
			if (stuck[i].next < s->next)
				s = &stuck[i];
		}
		memset(s, 0, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s", name);
	}
	s->pause = s->pause == 0 ? STUCK_PAUSE :
	    s->pause * 2 > STUCK_PAUSE_MAX ? STUCK_PAUSE_MAX : s->pause * 2;
	s->next = now + s->pause;
	log_warnx("could not remove %s %.*s: %s; next try in %d s",
	    what, shown, name, docker_error(w->docker), s->pause);
	return false;
}

/*
 * The fuse: true when the orphans may go.  A pass may remove fewer than
 * reconciler_removal_fuse_min containers, or up to reconciler_removal_fuse
 * percent of this installation's; none at all when the database holds no
 * workspace while Docker holds this installation's objects.  A hold an
 * operator confirmed lets the pass go ahead.
 */
static bool
fuse_allows(struct worker *w, int n, struct observation *o)
{
	const struct conf *c = w->shared->conf;
	const char *reason = NULL, *by;

	if (n == 0 && (o->own_containers > 0 || o->own_volumes > 0))
		reason = "the database holds no workspace";
	else if (o->orphan_containers >= c->reconciler_removal_fuse_min &&
	    o->orphan_containers * 100L > c->reconciler_removal_fuse *
	    o->own_containers)
		reason = arena_printf(w->a, "more than %ld%% of this "
		    "installation's containers", c->reconciler_removal_fuse);
	if (reason == NULL || o->orphan_containers == 0) {
		if (hold_recorded && state_hold_clear(w->db, w->a,
		    w->shared->host) == 0)
			hold_recorded = false;
		warned_hold.count = 0;
		return true;
	}
	if (state_hold(w->db, w->a, w->shared->host, o->orphan_containers,
	    o->own_containers, reason, &by) == -1)
		return false;
	hold_recorded = true;
	if (by != NULL) {
		log_warnx("removing %d of %d containers as orphans: confirmed "
		    "by %s", o->orphan_containers, o->own_containers, by);
		if (state_hold_clear(w->db, w->a, w->shared->host) == 0)
			hold_recorded = false;
		return true;
	}
	o->held = true;
	if (worth_saying(o->orphan_containers, &warned_hold.count,
	    &warned_hold.at))
		log_warnx("removal fuse: this pass would remove %d of this "
		    "installation's %d containers on %s as orphans (%s): "
		    "removing none; check the database, then run warrenctl "
		    "removals confirm", o->orphan_containers,
		    o->own_containers, w->shared->host, reason);
	return false;
}

/*
 * Keeps the orphan home volumes in the database for the operator, and
 * removes those the operator asked to remove.
 */
static void
orphan_volumes(struct worker *w, struct json_object *seen,
    struct observation *o)
{
	char **remove;
	size_t len;
	int n, i;

	if (worth_saying(o->orphan_volumes, &warned_volumes.count,
	    &warned_volumes.at))
		log_warnx("keeping %d home volumes on %s whose workspaces this "
		    "database does not know (warrenctl volumes lists them)",
		    o->orphan_volumes, w->shared->host);
	if (state_orphan_volumes(w->db, w->a, w->shared->host,
	    json_text(seen, &len), &remove, &n) == -1)
		return;
	for (i = 0; i < n; i++)
		if (remove_object(w, "home volume", remove[i], arena_printf(
		    w->a, "/volumes/%s", remove[i]), STEP_REMOVE_VOLUME) &&
		    state_orphan_volume_gone(w->db, w->a, w->shared->host,
		    remove[i]) == 0)
			o->orphan_volumes--;
}

/* Containers: acts filled, orphans listed in out (ids). */
static void
sort_containers(struct worker *w, struct json_object *list,
    const struct desired *ds, int n, struct actual *acts,
    struct observation *o, struct json_object *orphans)
{
	struct json_object *c;
	const char *ws, *id, *status;
	size_t i;
	int k;

	for (i = 0; list && i < json_object_array_length(list); i++) {
		c = json_object_array_get_idx(list, i);
		ws = find_label(c, "warren.workspace");
		k = wanted(ds, n, ws);
		if ((id = field(c, "Id")) == NULL)
			continue;
		if (owner_of(w, c, k, "container", id, ws) == FOREIGN) {
			o->foreign_containers++;
			if (k >= 0)
				acts[k].foreign = true;
			continue;
		}
		o->own_containers++;
		if (k < 0) {
			/* An orphan: no live workspace wants it. */
			o->orphan_containers++;
			json_object_array_add(orphans, json_object_new_string(id));
			continue;
		}
		acts[k].exists = true;
		snprintf(acts[k].id, sizeof(acts[k].id), "%s", id);
		status = field(c, "State");
		/* A paused container runs, frozen (a pool member). */
		acts[k].paused = status && strcmp(status, "paused") == 0;
		acts[k].running = status && (strcmp(status, "running") == 0 ||
		    acts[k].paused);
		if (find_label(c, "warren.build"))
			acts[k].build_number = atoi(find_label(c,
			    "warren.build"));
		status = field(c, "Status");
		if (status && strncmp(status, "Exited (", 8) == 0)
			acts[k].exit_code = atoi(status + 8);
	}
}

/* Volumes: acts filled, orphans listed in seen ({"name", "workspace"}). */
static void
sort_volumes(struct worker *w, struct json_object *vols,
    const struct desired *ds, int n, struct actual *acts,
    struct observation *o, struct json_object *seen)
{
	struct json_object *arr, *v, *e;
	const char *ws, *name;
	size_t i;
	int k;

	if (vols == NULL || !json_object_object_get_ex(vols, "Volumes", &arr) ||
	    arr == NULL)
		return;
	for (i = 0; i < json_object_array_length(arr); i++) {
		v = json_object_array_get_idx(arr, i);
		ws = find_label(v, "warren.workspace");
		k = wanted(ds, n, ws);
		if ((name = field(v, "Name")) == NULL)
			continue;
		if (owner_of(w, v, k, "volume", name, ws) == FOREIGN) {
			o->foreign_volumes++;
			if (k >= 0)
				acts[k].foreign = true;
			continue;
		}
		o->own_volumes++;
		if (k >= 0) {
			acts[k].volume = true;
			continue;
		}
		o->orphan_volumes++;
		e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(name));
		json_object_object_add(e, "workspace", ws ?
		    json_object_new_string(ws) : NULL);
		json_object_array_add(seen, e);
	}
}

int
observe_all(struct worker *w, const struct desired *ds, int n,
    struct actual *acts, struct observation *o)
{
	struct json_object *list, *vols, *orphans, *seen;
	const char *filter;
	size_t i;

	memset(o, 0, sizeof(*o));
	filter = httpc_escape(w->a, "{\"label\":[\"warren.managed=true\"]}");
	if (docker_call(w->docker, w->a, "GET", arena_printf(w->a,
	    "/containers/json?all=1&filters=%s", filter), NULL, 0, &list)
	    != DOCKER_OK || docker_call(w->docker, w->a, "GET",
	    arena_printf(w->a, "/volumes?filters=%s", filter), NULL, 0, &vols)
	    != DOCKER_OK)
		return -1;
	memset(acts, 0, sizeof(*acts) * (size_t)n);
	orphans = json_own(w->a, json_object_new_array());
	seen = json_own(w->a, json_object_new_array());
	sort_containers(w, list, ds, n, acts, o, orphans);
	sort_volumes(w, vols, ds, n, acts, o, seen);
	for (i = 0; i < MAX_ADOPTED; i++)
		o->adopted += adopted[i][0] != '\0';
	if (worth_saying(o->foreign_containers + o->foreign_volumes,
	    &warned_foreign.count, &warned_foreign.at))
		log_info("leaving alone %d containers and %d volumes of other "
		    "Warren installations (or made before instance labels "
		    "for workspaces this database does not know)",
		    o->foreign_containers, o->foreign_volumes);
	if (fuse_allows(w, n, o))
		for (i = 0; i < json_object_array_length(orphans); i++) {
			const char *id = json_object_get_string(
			    json_object_array_get_idx(orphans, i));
			remove_object(w, "orphan container", id, arena_printf(
			    w->a, "/containers/%s?force=1", id), STEP_REMOVE);
		}
	orphan_volumes(w, seen, o);
	metrics_observation(o->foreign_containers, o->foreign_volumes,
	    o->orphan_volumes, o->held ? o->orphan_containers : 0,
	    o->adopted);
	return 0;
}
