/*
 * Traefik rejects a whole file for one unknown field, so only the fields
 * needed are written, and no empty map: routers and services appear only
 * when there is a route.  The file is replaced whole: temporary file in the
 * same directory, fsync, rename, fsync of the directory.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "traefik.h"
#include "util.h"

#define TMP_PREFIX	ATOMIC_TMP_PREFIX
/* A workspace host's first label: its short id, and -PORT for a port.  No
 * capturing group: Traefik v2's HostRegexp variables refuse them. */
#define HOST_LABEL_RE	"[a-z2-7]{10}(?:-[1-9][0-9]{0,4})?"

static char *
name(struct arena *a, const struct traefik_route *r)
{
	return r->port ? arena_printf(a, "warren-%s-%d", r->short_id, r->port) :
	    arena_printf(a, "warren-%s", r->short_id);
}

/* Every workspace host of base_domain, in the version's HostRegexp syntax
 * (v2: a {name:regexp} variable; v3: a whole Go regexp, dots escaped),
 * escaped for a YAML double-quoted string. */
static char *
any_host(struct arena *a, const char *base_domain, int version)
{
	const char *p;
	char *out;

	if (version == 2)
		return arena_printf(a, "HostRegexp(`{host:%s}.%s`)", HOST_LABEL_RE,
		    base_domain);
	out = arena_printf(a, "HostRegexp(`^%s\\\\.", HOST_LABEL_RE);
	for (p = base_domain; *p != '\0'; p++)
		out = arena_printf(a, "%s%s%c", out, *p == '.' ? "\\\\" : "",
		    *p);
	return arena_printf(a, "%s$`)", out);
}

char *
traefik_render(struct arena *a, const struct traefik_route *r, int n,
    const char *base_domain, const char *forward_url, int version)
{
	const char *any = any_host(a, base_domain, version);
	char *out;
	int i;

	/* The API's origin: the forward URL without its path. */
	const char *host = strstr(forward_url, "://");
	char *api = arena_strndup(a, forward_url, host ? (size_t)(host + 3 -
	    forward_url) + strcspn(host + 3, "/") : strlen(forward_url));

	out = arena_printf(a, "# Written by warren-reconciler for Traefik v%d;"
	    " do not edit.\nhttp:\n  middlewares:\n    warren-auth:\n"
	    "      forwardAuth:\n        address: \"%s\"\n"
	    "        authResponseHeaders:\n          - \"Cookie\"\n"
	    "    warren-pending:\n      forwardAuth:\n"
	    "        address: \"%s%spending=1\"\n"
	    "    warren-strip:\n      headers:\n        customRequestHeaders:\n"
	    "          Authorization: \"\"\n"
	    "    warren-handoff:\n      replacePath:\n"
	    "        path: \"/api/v1/auth/handoff/redeem\"\n",
	    version, forward_url, forward_url,
	    strchr(forward_url, '?') ? "&" : "?");
	/*
	 * Two routers for every workspace host, whether it runs or not: the
	 * end of the cookie hand-off is Warren's (above any workspace's own
	 * router), and a host without a router of its own (stopped,
	 * starting, unknown) gets Warren's page from the forward endpoint,
	 * which never lets that router through.
	 */
	out = arena_printf(a, "%s  routers:\n"
	    "    warren-any-host-handoff:\n      rule: \"%s && Path(`/_warren/handoff`)\"\n"
	    "      priority: 1000\n      service: warren-api\n"
	    "      middlewares:\n        - warren-handoff\n"
	    "    warren-any-host:\n      rule: \"%s\"\n      priority: 1\n"
	    "      service: warren-api\n      middlewares:\n"
	    "        - warren-pending\n", out, any, any);
	for (i = 0; i < n; i++) {
		const char *h = arena_printf(a, "%s%s%s.%s", r[i].short_id,
		    r[i].port ? "-" : "", r[i].port ? arena_printf(a, "%d",
		    r[i].port) : "", base_domain);
		out = arena_printf(a, "%s    %s:\n      rule: \"Host(`%s`)\"\n"
		    "      priority: %d\n      service: %s\n"
		    "      middlewares:\n        - warren-auth\n"
		    "        - warren-strip\n", out, name(a, &r[i]), h,
		    r[i].port ? 200 : 100, name(a, &r[i]));
	}
	/* warren-api gets the Host of its own URL, so that a server that
	 * also serves workspace hosts (the nginx site) answers as the API;
	 * the workspace host is in X-Forwarded-Host. */
	out = arena_printf(a, "%s  services:\n    warren-api:\n"
	    "      loadBalancer:\n        passHostHeader: false\n"
	    "        servers:\n          - url: \"%s\"\n", out, api);
	for (i = 0; i < n; i++)
		out = arena_printf(a, "%s    %s:\n      loadBalancer:\n"
		    "        servers:\n          - url: \"http://%s\"\n", out,
		    name(a, &r[i]), r[i].upstream);
	return out;
}

static bool
same_content(const char *path, const char *text)
{
	size_t n = strlen(text), got = 0;
	char *buf;
	FILE *f;
	bool same;

	if ((f = fopen(path, "r")) == NULL)
		return false;
	if ((buf = malloc(n + 2)) == NULL) {
		fclose(f);
		return false;
	}
	got = fread(buf, 1, n + 1, f);
	fclose(f);
	same = got == n && memcmp(buf, text, n) == 0;
	free(buf);
	return same;
}

int
traefik_write(const char *path, const char *text)
{
	if (same_content(path, text))
		return 0;
	if (atomic_write(path, text, strlen(text), 0644) == -1) {
		log_warn("could not write %s", path);
		return -1;
	}
	return 1;
}

void
traefik_clean(const char *path)
{
	char dir[4096], file[4096 + 512];
	struct dirent *e;
	DIR *d;

	const char *where;

	snprintf(dir, sizeof(dir), "%s", path);
	where = dirname(dir);	/* may return a static "." */
	if ((d = opendir(where)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
		    strstr(e->d_name, ".tmp") != NULL) {
			snprintf(file, sizeof(file), "%s/%s", where, e->d_name);
			if (unlink(file) == 0)
				log_info("removed stale %s", file);
		}
	closedir(d);
}
