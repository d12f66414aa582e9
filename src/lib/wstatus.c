/* The names of workspace statuses (see wstatus.h). */
#include "config.h"

#include <string.h>

#include "wstatus.h"

const char *const ws_status_names[WS_STATUS_COUNT + 1] = {
	[WS_STARTING] = "starting",
	[WS_RUNNING] = "running",
	[WS_STOPPING] = "stopping",
	[WS_STOPPED] = "stopped",
	[WS_RESTARTING] = "restarting",
	[WS_UPDATING] = "updating",
	[WS_DELETING] = "deleting",
	[WS_DELETED] = "deleted",
	[WS_FAILED] = "failed",
	[WS_CANCELED] = "canceled",
	[WS_DORMANT] = "dormant",
	[WS_UNKNOWN] = "unknown",
};

const char *
ws_status_name(enum ws_status s)
{
	return (unsigned)s < WS_STATUS_COUNT ? ws_status_names[s] : "unknown";
}

int
ws_status_parse(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < WS_STATUS_COUNT; i++)
		if (strcmp(ws_status_names[i], name) == 0)
			return i;
	return -1;
}

bool
ws_status_transitional(enum ws_status s)
{
	switch (s) {
	case WS_STARTING:
	case WS_STOPPING:
	case WS_RESTARTING:
	case WS_UPDATING:
	case WS_DELETING:
		return true;
	default:
		return false;
	}
}
