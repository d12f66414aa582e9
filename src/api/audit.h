/* The append-only audit log: who did what to which target, from where. */
#ifndef WARREN_AUDIT_H
#define WARREN_AUDIT_H

#include <json-c/json.h>

#include "db.h"
#include "http.h"

enum audit_result {
	AUDIT_SUCCESS,
	AUDIT_FAILURE,
	AUDIT_DENIED,
};

/*
 * Writes one entry with the caller as actor (or actor_id/actor_name when
 * given, e.g. at sign-in).  Inside a transaction it commits or rolls back
 * with the change it records.
 */
enum db_status audit(struct request *, const char *action,
	    const char *target_type, const char *target_id,
	    enum audit_result, struct json_object *details)
	    __attribute__((warn_unused_result));
enum db_status audit_as(struct request *, const char *actor_id,
	    const char *actor_name, const char *action,
	    const char *target_type, const char *target_id,
	    enum audit_result, struct json_object *details)
	    __attribute__((warn_unused_result));

/* audit() of a success, or the problem answered (false). */
bool	audit_do(struct request *, struct response *, const char *action,
	    const char *target_type, const char *target_id,
	    struct json_object *details) __attribute__((warn_unused_result));
/*
 * The end of a change: its audit entry (the caller as actor, with
 * details, when action is not NULL), the commit, and the answer (status
 * with the JSON body, or an empty one when body is NULL), or the problem
 * when any fails.
 */
void	audit_done(struct request *, struct response *, int status,
	    struct json_object *body, const char *action,
	    const char *target_type, const char *target_id,
	    struct json_object *details);
/* The same for a change that answers 204 (a revocation, a removal). */
void	audit_commit_204(struct request *, struct response *,
	    const char *action, const char *target_type, const char *target_id);
/* The same for a change that answers with row 0 of res (its first column
 * the target's id) as JSON, with status. */
void	audit_commit_row(struct request *, struct response *, int status,
	    PGresult *res, const char *action, const char *target_type);

#endif
