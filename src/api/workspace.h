/* Shared by the workspace, build and port handlers: the desired-state model. */
#ifndef WARREN_WORKSPACE_H
#define WARREN_WORKSPACE_H

#include <stdbool.h>

#include "http.h"
#include "query.h"

/* Columns of workspace_states a workspace answer is made of. */
#define WS_COLUMNS \
	"w.id, w.short_id, w.name, w.owner_id, w.org_id, w.template_id," \
	" w.template_version_id, (SELECT number FROM template_versions" \
	" WHERE id = w.template_version_id) AS template_version," \
	" w.parameters, w.secrets, w.desired_state, w.status," \
	" w.autostop_ttl, w.idle_timeout, w.deadline, w.max_deadline," \
	" w.started_at, w.stopped_at, w.last_activity_at," \
	" w.last_activity_cause, w.dormant_at, w.deleting_at, w.created_at," \
	" w.updated_at, w.build_id, w.build_number, w.build_transition," \
	" w.build_status, w.status_reason, w.starter, w.repository," \
	" w.initialized_at"

struct usage_change {
	int	workspaces;	/* +1 at create */
	int	running;	/* +1 when a stopped workspace starts */
	long	cpu_millis;
	long	memory_mb;
};

/* Who may do what with a workspace, besides its owner and admins. */
enum ws_access {
	WS_READ,	/* auditors, owners and admins of its organization */
	WS_STOP,	/* owners and admins of its organization */
	WS_WRITE,	/* nobody else */
};

/*
 * Loads the workspace in the path for the caller: its owner and admins may
 * do anything, others what access allows; everyone else gets 404.  With
 * lock, the row is locked for the transaction.  NULL after answering.
 */
PGresult *ws_visible(struct request *, struct response *, const char *id,
	    enum ws_access, bool lock);
/* Checks the owner's (and org's) quotas with the change applied, under a
 * lock that serializes concurrent changes.  false after a 403. */
bool	ws_quota_ok(struct request *, struct response *, const char *owner,
	    const char *org, const struct usage_change *);
/* Appends a build and wakes the reconciler, in the caller's transaction;
 * 409 with the current build when one is in flight.  NULL after answering. */
const char *ws_build(struct request *, struct response *, const char *ws_id,
	    const char *transition, const char *reason,
	    const char *version_id);
/* The JSON answer for a workspace row of WS_COLUMNS, as text or object. */
void	ws_write(struct request *, struct jw *, PGresult *, int row);
struct json_object *ws_json(struct request *, PGresult *, int row);
const char *ws_short_id(struct request *);
const char *ws_port_url(struct request *, const char *short_id,
	    const char *port);

/* Idempotency-Key: a replayed request gets the first answer again. */
enum idem { IDEM_NONE, IDEM_NEW, IDEM_REPLAYED, IDEM_FAILED };
enum idem idem_begin(struct request *, struct response *);
/* After the answer: the answer kept for a replay with the same key, and
 * the transaction committed; the problem answered instead when either
 * fails. */
void	idem_done(struct request *, struct response *, enum idem);

#endif
