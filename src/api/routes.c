/*
 * The one route table.  Every endpoint is a row, with the policy that the
 * central dispatcher enforces before the handler runs.
 */
#include "config.h"

#include "handlers.h"
#include "router.h"

const struct route routes[] = {
	{ HTTP_GET, "/api/v1/health", "health", POLICY_PUBLIC, 0, h_health },
	{ HTTP_GET, "/api/v1/ready", "ready", POLICY_PUBLIC, 0, h_ready },
	{ HTTP_POST, "/api/v1/echo", "echo", POLICY_PUBLIC, ROUTE_JSON_BODY,
	    h_echo },
	{ HTTP_GET, "/metrics", "metrics", POLICY_PUBLIC, 0, h_metrics },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
