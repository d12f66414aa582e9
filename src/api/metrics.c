/*
 * The master maps one shared anonymous region before forking; each worker
 * adds only to its own slot, so no locks are needed, and a slot keeps its
 * counts when its worker is replaced, so totals never go backwards.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "metrics.h"

#define MAX_ROUTES	96
#define NBUCKETS	14

static const int status_codes[] = {
	200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409,
	410, 413, 414, 415, 422, 429, 500, 502, 503, 504, 0 /* other */
};
#define NSTATUS	(sizeof(status_codes) / sizeof(status_codes[0]))

static const double bucket_le[NBUCKETS - 1] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 5
};

static const char *const method_names[] = { "GET", "HEAD", "POST", "PUT",
	"PATCH", "DELETE", "OPTIONS", "other" };
#define NMETHODS	8

struct slot {
	uint64_t	requests[MAX_ROUTES][NMETHODS][NSTATUS];
	uint64_t	buckets[MAX_ROUTES][NBUCKETS];	/* last is +Inf */
	uint64_t	sum_us[MAX_ROUTES];
	uint64_t	db_errors[DB_ERR_NKINDS];
	uint64_t	list_cache[LIST_CACHE_NEVENTS];
};

struct shared {
	uint64_t	restarts[RESTART_NREASONS];
	uint64_t	workers;
	uint64_t	slots_used;
	struct slot	slot[METRICS_MAX_SLOTS];
};

static struct shared	*shm;
static struct slot	*mine;
static size_t		 metrics_nroutes;

#define ADD(p, n)	__atomic_fetch_add((p), (n), __ATOMIC_RELAXED)
#define GET(p)		__atomic_load_n((p), __ATOMIC_RELAXED)

void
metrics_init(size_t nroutes)
{
	if (nroutes + 1 > MAX_ROUTES)
		fatalx("metrics: %zu routes, at most %d", nroutes,
		    MAX_ROUTES - 1);
	metrics_nroutes = nroutes;
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		fatal("metrics: mmap");
}

void
metrics_use_slot(int slot)
{
	uint64_t used;

	if (shm == NULL || slot < 0 || slot >= METRICS_MAX_SLOTS)
		return;
	mine = &shm->slot[slot];
	used = GET(&shm->slots_used);
	while ((uint64_t)slot + 1 > used &&
	    !__atomic_compare_exchange_n(&shm->slots_used, &used,
	    (uint64_t)slot + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void
metrics_request(size_t route, unsigned method, int status, double seconds)
{
	size_t s, b, m;

	if (mine == NULL)
		return;
	if (route > metrics_nroutes)
		route = metrics_nroutes;
	for (s = 0; s < NSTATUS - 1 && status_codes[s] != status; s++)
		;
	for (b = 0; b < NBUCKETS - 1 && seconds > bucket_le[b]; b++)
		;
	for (m = 0; m < NMETHODS - 1 && !(method & (1u << m)); m++)
		;
	ADD(&mine->requests[route][m][s], 1);
	ADD(&mine->buckets[route][b], 1);
	ADD(&mine->sum_us[route], (uint64_t)(seconds * 1e6));
}

void
metrics_db_error(enum db_error_kind kind)
{
	if (mine != NULL && kind < DB_ERR_NKINDS)
		ADD(&mine->db_errors[kind], 1);
}

void
metrics_list_cache(enum list_cache_event ev)
{
	if (mine != NULL && ev < LIST_CACHE_NEVENTS)
		ADD(&mine->list_cache[ev], 1);
}

void
metrics_restart(enum restart_reason r)
{
	if (shm != NULL)
		ADD(&shm->restarts[r], 1);
}

void
metrics_set_workers(int n)
{
	if (shm != NULL)
		__atomic_store_n(&shm->workers, (uint64_t)n, __ATOMIC_RELAXED);
}

struct buf {
	struct arena	*a;
	char		*p;
	size_t		 len, cap;
};

static void
bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *np;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		np = arena_alloc(b->a, b->cap * 2);
		memcpy(np, b->p, b->len);
		b->p = np;
		b->cap *= 2;
	}
}

static void
render_requests(struct buf *b, const char *const *labels, size_t nslots)
{
	size_t r, m, s, i;
	char status[8];
	uint64_t v;

	bprintf(b, "# HELP warren_http_requests_total Requests answered, by "
	    "route, method and status.\n"
	    "# TYPE warren_http_requests_total counter\n");
	for (r = 0; r <= metrics_nroutes; r++)
		for (m = 0; m < NMETHODS; m++)
			for (s = 0; s < NSTATUS; s++) {
				for (v = 0, i = 0; i < nslots; i++)
					v += GET(&shm->slot[i].requests[r][m][s]);
				if (v == 0)
					continue;
				if (status_codes[s] == 0)
					snprintf(status, sizeof(status), "other");
				else
					snprintf(status, sizeof(status), "%d",
					    status_codes[s]);
				bprintf(b, "warren_http_requests_total{route=\"%s\","
				    "method=\"%s\",status=\"%s\"} %llu\n",
				    labels[r], method_names[m], status,
				    (unsigned long long)v);
			}
}

static void
render_latency(struct buf *b, const char *const *labels, size_t nslots)
{
	uint64_t cum, v, sum;
	size_t r, k, i;

	bprintf(b, "# HELP warren_http_request_duration_seconds Time to "
	    "answer a request.\n"
	    "# TYPE warren_http_request_duration_seconds histogram\n");
	for (r = 0; r <= metrics_nroutes; r++) {
		for (sum = 0, i = 0; i < nslots; i++)
			for (k = 0; k < NBUCKETS; k++)
				sum += GET(&shm->slot[i].buckets[r][k]);
		if (sum == 0)
			continue;
		for (cum = 0, k = 0; k < NBUCKETS; k++) {
			for (v = 0, i = 0; i < nslots; i++)
				v += GET(&shm->slot[i].buckets[r][k]);
			cum += v;
			if (k < NBUCKETS - 1)
				bprintf(b, "warren_http_request_duration_seconds_"
				    "bucket{route=\"%s\",le=\"%g\"} %llu\n",
				    labels[r], bucket_le[k],
				    (unsigned long long)cum);
			else
				bprintf(b, "warren_http_request_duration_seconds_"
				    "bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
				    labels[r], (unsigned long long)cum);
		}
		for (v = 0, i = 0; i < nslots; i++)
			v += GET(&shm->slot[i].sum_us[r]);
		bprintf(b, "warren_http_request_duration_seconds_sum{route=\"%s\"}"
		    " %.6f\n", labels[r], (double)v / 1e6);
		bprintf(b, "warren_http_request_duration_seconds_count{route="
		    "\"%s\"} %llu\n", labels[r], (unsigned long long)cum);
	}
}

char *
metrics_render(struct arena *a, const char *const *labels, size_t *len)
{
	static const char *const reasons[] = { "crash", "recycle" };
	struct buf b = { a, arena_alloc(a, 16384), 0, 16384 };
	size_t nslots, i, k;
	uint64_t v;

	nslots = (size_t)GET(&shm->slots_used);
	render_requests(&b, labels, nslots);
	render_latency(&b, labels, nslots);
	bprintf(&b, "# HELP warren_worker_restarts_total Workers replaced by "
	    "the master.\n# TYPE warren_worker_restarts_total counter\n");
	for (k = 0; k < RESTART_NREASONS; k++)
		bprintf(&b, "warren_worker_restarts_total{reason=\"%s\"} %llu\n",
		    reasons[k], (unsigned long long)GET(&shm->restarts[k]));
	bprintf(&b, "# HELP warren_db_errors_total Database failures seen by "
	    "workers.\n# TYPE warren_db_errors_total counter\n");
	for (k = 0; k < DB_ERR_NKINDS; k++) {
		for (v = 0, i = 0; i < nslots; i++)
			v += GET(&shm->slot[i].db_errors[k]);
		bprintf(&b, "warren_db_errors_total{kind=\"%s\"} %llu\n",
		    db_error_kind_names[k], (unsigned long long)v);
	}
	bprintf(&b, "# HELP warren_list_cache_total Workspace lists answered "
	    "from a worker's cache (hit), read from the database (miss), and "
	    "answers dropped because the owner's workspaces changed "
	    "(invalidated).\n# TYPE warren_list_cache_total counter\n");
	for (k = 0; k < LIST_CACHE_NEVENTS; k++) {
		static const char *const names[] = { "hit", "miss",
		    "invalidated" };
		for (v = 0, i = 0; i < nslots; i++)
			v += GET(&shm->slot[i].list_cache[k]);
		bprintf(&b, "warren_list_cache_total{event=\"%s\"} %llu\n",
		    names[k], (unsigned long long)v);
	}
	bprintf(&b, "# HELP warren_workers Worker processes configured.\n"
	    "# TYPE warren_workers gauge\nwarren_workers %llu\n",
	    (unsigned long long)GET(&shm->workers));
	*len = b.len;
	return b.p;
}
