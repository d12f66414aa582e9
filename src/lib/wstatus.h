/*
 * The one vocabulary of workspace status.  PostgreSQL's view
 * workspace_states derives a workspace's status as a value of the enum
 * type workspace_status, whose labels are these names in this order
 * (sql/0017_status_vocabulary.sql); the API, the reconciler's metrics and
 * the pages all speak of a workspace with them.
 */
#ifndef WARREN_WSTATUS_H
#define WARREN_WSTATUS_H

#include <stdbool.h>

enum ws_status {
	WS_STARTING,
	WS_RUNNING,
	WS_STOPPING,
	WS_STOPPED,
	WS_RESTARTING,
	WS_UPDATING,
	WS_DELETING,
	WS_DELETED,
	WS_FAILED,
	WS_CANCELED,
	WS_DORMANT,
	WS_UNKNOWN,
	WS_STATUS_COUNT
};

/* The names, in the enum's order, then NULL. */
extern const char *const ws_status_names[WS_STATUS_COUNT + 1];
/* The name of s ("starting", ...). */
const char	*ws_status_name(enum ws_status s);
/* The status called name, or -1 when no status is. */
int		 ws_status_parse(const char *name);
/* A build is in flight: the status changes without anyone asking. */
bool		 ws_status_transitional(enum ws_status s);

#endif
