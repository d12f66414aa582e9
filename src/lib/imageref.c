/*
 * Which registries a template's image may come from.  Docker pulls what a
 * reference names, and a registry host on loopback, a private network or a
 * link-local address makes dockerd call a service of the host's (the
 * Docker API on 127.0.0.1:2375, a cloud's metadata address).  By default
 * any public name is allowed and those are not; an operator's list
 * (image_registries) allows exactly the registries it names.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imageref.h"

/*
 * The registry of a reference: its first component when that has a '.'
 * or a ':' or is "localhost" (Docker's rule); "" for Docker Hub.
 */
void
imageref_registry(const char *image, char *out, size_t outlen)
{
	size_t n = strcspn(image, "/");

	out[0] = '\0';
	if (image[n] != '/')
		return;
	if (memchr(image, '.', n) == NULL && memchr(image, ':', n) == NULL &&
	    !(n == 9 && strncmp(image, "localhost", 9) == 0))
		return;
	snprintf(out, outlen, "%.*s", (int)n, image);
}

static bool
ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* An IPv4 address in any form the C library accepts (127.1, 0x7f.0.0.1,
 * 2130706433), in a range that is not public. */
static bool
private_address(const char *host)
{
	struct in_addr in;
	uint32_t a;

	if (inet_aton(host, &in) == 0)
		return false;
	a = ntohl(in.s_addr);
	return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
	    (a >> 16) == 0xa9fe ||		/* 169.254/16 link-local */
	    (a >> 20) == 0xac1 ||		/* 172.16/12 */
	    (a >> 16) == 0xc0a8 ||		/* 192.168/16 */
	    (a >> 22) == 0x191 ||		/* 100.64/10 shared */
	    (a >> 28) >= 0xe;			/* multicast, reserved */
}

/* Is registry (host[:port]) a word of the space- or comma-separated list? */
static bool
listed(const char *list, const char *registry)
{
	const char *p = list;
	size_t n, want = strlen(registry);

	while (*p != '\0') {
		p += strspn(p, " ,\t");
		n = strcspn(p, " ,\t");
		if (n > 0 && n == want && strncasecmp(p, registry, n) == 0)
			return true;
		p += n;
	}
	return false;
}

bool
imageref_allowed(const char *image, const char *allowed, const char **why)
{
	char registry[256], host[256];
	struct in_addr in;
	size_t n;

	imageref_registry(image, registry, sizeof(registry));
	if (allowed != NULL && allowed[0] != '\0') {
		if (listed(allowed, registry[0] ? registry : "docker.io"))
			return true;
		*why = "its registry is not one the operator allows "
		    "(image_registries)";
		return false;
	}
	if (registry[0] == '\0')
		return true;
	snprintf(host, sizeof(host), "%.*s", (int)strcspn(registry, ":"),
	    registry);
	n = strlen(host);
	if (strchr(host, '.') == NULL || strcasecmp(host, "localhost") == 0 ||
	    ends_with(host, n, ".localhost") || ends_with(host, n, ".local") ||
	    ends_with(host, n, ".internal") || private_address(host)) {
		*why = "its registry is not a public name (loopback, private "
		    "and link-local addresses and local names need the "
		    "operator's image_registries)";
		return false;
	}
	/* Digits and dots only, yet no address inet_aton takes: refuse. */
	if (strspn(host, "0123456789.") == n && inet_aton(host, &in) == 0) {
		*why = "its registry is not a public name";
		return false;
	}
	return true;
}
