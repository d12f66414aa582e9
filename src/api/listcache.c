/*
 * Answers of workspace lists, and owners' reads of one workspace, per
 * worker, by owner and query.  PostgreSQL says when an owner's workspaces
 * change: triggers on workspaces and workspace_builds NOTIFY
 * warren_workspaces with the owner's id, at commit; a port share or a
 * Docker host's state (warren_access, with the table's name) empties it.
 * Each worker LISTENs on its own connection and reads the notifications
 * that came in before it answers from here.  A transaction that committed
 * before a request began has signalled that connection already, and
 * PostgreSQL sends a pending notification before it reads the next query,
 * so the request's authentication query brings it in: a client reads its
 * own writes.  A new connection (notifications may have been missed)
 * empties the cache; an entry also ages out after LC_MAX_AGE seconds.
 */
#include "config.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "listcache.h"
#include "metrics.h"

#define LC_SLOTS	32
#define LC_MAX_BODY	(1024 * 1024)
#define LC_MAX_AGE	60
#define LC_CHANNEL	"warren_workspaces"
#define ACCESS_CHANNEL	"warren_access"

struct entry {
	char		 owner[37];
	char		*key;		/* owner, '?', query string */
	char		*body;
	size_t		 len;
	time_t		 at;
	unsigned long	 used;		/* for least recently used */
};

static struct entry	 slots[LC_SLOTS];
static unsigned		 gen;		/* db generation listened on */
static bool		 listening;
static unsigned long	 clock_;
static unsigned long	 epoch;		/* moves on at every notification */

static void
drop(struct entry *e)
{
	free(e->key);
	free(e->body);
	memset(e, 0, sizeof(*e));
}

static void
drop_owner(const char *owner)
{
	size_t i;

	for (i = 0; i < LC_SLOTS; i++)
		if (slots[i].key != NULL && strcmp(slots[i].owner, owner) == 0) {
			drop(&slots[i]);
			metrics_list_cache(LIST_CACHE_INVALIDATED);
		}
}

void
lc_flush(void)
{
	size_t i;

	epoch++;
	for (i = 0; i < LC_SLOTS; i++)
		if (slots[i].key != NULL)
			drop(&slots[i]);
}

/*
 * Takes the notifications libpq has read already (the last query brings
 * them in), then whatever waits on the socket, up to a bound (a flood is
 * read in turns): no system call but a poll when nothing came.  False
 * when the connection cannot be used.
 */
static bool
drain(struct db *db)
{
	PGconn *conn = db_conn(db);
	struct pollfd pfd;
	PGnotify *n;
	int turns = 0;

	if (conn == NULL || PQtransactionStatus(conn) != PQTRANS_IDLE)
		goto lost;
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	for (;;) {
		while ((n = PQnotifies(conn)) != NULL) {
			epoch++;
			/* Answers show port shares and the hosts' state. */
			if (strcmp(n->relname, ACCESS_CHANNEL) == 0) {
				if (strcmp(n->extra, "port_shares") == 0 ||
				    strcmp(n->extra, "docker_host_status") == 0)
					lc_flush();
			} else if (strcmp(n->relname, LC_CHANNEL) != 0)
				;
			else if (n->extra[0] == '\0')
				lc_flush();	/* a TRUNCATE: everyone's */
			else
				drop_owner(n->extra);
			PQfreemem(n);
		}
		if (++turns > 256 || poll(&pfd, 1, 0) != 1)
			return true;
		if (!PQconsumeInput(conn))
			goto lost;
	}
lost:
	lc_flush();
	listening = false;
	return false;
}

/*
 * Brings the cache up to date with what PostgreSQL said; false when it
 * cannot be trusted (no LISTEN on the current connection).
 */
static bool
sync(struct db *db, struct arena *a)
{
	PGresult *res = NULL;

	if (!listening || db_generation(db) != gen) {
		lc_flush();
		listening = false;
		if (db_exec(db, a, "LISTEN " LC_CHANNEL, &res) != DB_OK ||
		    db_exec(db, a, "LISTEN " ACCESS_CHANNEL, &res) != DB_OK)
			return false;
		gen = db_generation(db);
		listening = true;
	}
	return drain(db);
}

bool
lc_sync(struct db *db, struct arena *a)
{
	return sync(db, a);
}

unsigned long
lc_epoch(void)
{
	return epoch;
}

/*
 * Between requests and while idle: a connection that LISTENs must be read,
 * or its notifications pile up in this process and PostgreSQL's queue
 * cannot move on past them.
 */
void
lc_idle(struct db *db)
{
	if (listening && db_generation(db) == gen)
		(void)drain(db);
}

bool
lc_listening(void)
{
	return listening;
}

static char *
make_key(struct arena *a, const char *owner, const char *query)
{
	return arena_printf(a, "%s?%s", owner, query ? query : "");
}

const char *
lc_get(struct db *db, struct arena *a, const char *owner, const char *query,
    size_t *len)
{
	const char *key;
	time_t now = time(NULL);
	size_t i;

	if (!sync(db, a))
		return NULL;
	key = make_key(a, owner, query);
	for (i = 0; i < LC_SLOTS; i++) {
		struct entry *e = &slots[i];

		if (e->key == NULL || strcmp(e->key, key) != 0)
			continue;
		if (now - e->at >= LC_MAX_AGE || now < e->at) {
			drop(e);
			break;
		}
		e->used = ++clock_;
		*len = e->len;
		metrics_list_cache(LIST_CACHE_HIT);
		return arena_strndup(a, e->body, e->len);
	}
	metrics_list_cache(LIST_CACHE_MISS);
	return NULL;
}

void
lc_put(struct db *db, struct arena *a, const char *owner, const char *query,
    const char *body, size_t len)
{
	struct entry *e = &slots[0];
	char *k, *b;
	size_t i;

	/* Only what was read on the connection listened on. */
	if (!listening || db_generation(db) != gen || len > LC_MAX_BODY ||
	    strlen(owner) >= sizeof(e->owner))
		return;
	for (i = 0; i < LC_SLOTS; i++) {
		if (slots[i].key == NULL) {
			e = &slots[i];
			break;
		}
		if (slots[i].used < e->used)
			e = &slots[i];
	}
	k = strdup(make_key(a, owner, query));
	b = malloc(len + 1);
	if (k == NULL || b == NULL) {
		free(k);
		free(b);
		return;
	}
	drop(e);
	memcpy(b, body, len);
	b[len] = '\0';
	snprintf(e->owner, sizeof(e->owner), "%s", owner);
	e->key = k;
	e->body = b;
	e->len = len;
	e->at = time(NULL);
	e->used = ++clock_;
}
