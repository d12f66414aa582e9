/*
 * The schemas of the OpenAPI document: the components (every resource the
 * API answers with, the problem, the status vocabulary) and, for each
 * route, its responses by status.
 */
#ifndef WARREN_SCHEMAS_H
#define WARREN_SCHEMAS_H

#include <json-c/json.h>

#include "router.h"

/* components.schemas: a new object, name -> JSON Schema. */
struct json_object	*openapi_schemas(void);
/* The responses object of rt's operation for method (one of HTTP_*). */
struct json_object	*openapi_responses(const struct route *rt,
			    unsigned method);

#endif
