/* Which registries a workspace image may come from (src/lib/imageref.c). */
#include "config.h"

#include <string.h>

#include "imageref.h"
#include "tap.h"

static void
allowed(const char *image, const char *list, bool want)
{
	const char *why = NULL;

	ok(imageref_allowed(image, list, &why) == want, "%s with \"%s\": %s%s%s",
	    image, list, want ? "allowed" : "refused", why ? ": " : "",
	    why ? why : "");
}

int
main(void)
{
	char reg[256];

	imageref_registry("busybox", reg, sizeof(reg));
	is_str(reg, "", "no registry: Docker Hub");
	imageref_registry("library/busybox:1", reg, sizeof(reg));
	is_str(reg, "", "a namespace is not a registry");
	imageref_registry("ghcr.io/x/y:1", reg, sizeof(reg));
	is_str(reg, "ghcr.io", "a name with a dot is a registry");
	imageref_registry("localhost/x", reg, sizeof(reg));
	is_str(reg, "localhost", "localhost is a registry");
	imageref_registry("reg:5000/x", reg, sizeof(reg));
	is_str(reg, "reg:5000", "a port makes a registry");

	allowed("busybox", "", true);
	allowed("warren/demo:1", "", true);
	allowed("ghcr.io/acme/ide:2", "", true);
	allowed("registry.example.org:5000/x", "", true);
	allowed("127.0.0.1:2375/x", "", false);
	allowed("127.1:2375/x", "", false);
	allowed("0x7f.0.0.1:2375/x", "", false);
	allowed("2130706433.:5000/x", "", false);
	allowed("10.1.2.3/x", "", false);
	allowed("172.16.0.9:5000/x", "", false);
	allowed("172.32.0.9:5000/x", "", true);
	allowed("192.168.1.1/x", "", false);
	allowed("169.254.169.254/latest", "", false);
	allowed("100.64.0.1/x", "", false);
	allowed("0.0.0.0:2375/x", "", false);
	allowed("localhost:5000/x", "", false);
	allowed("registry.localhost/x", "", false);
	allowed("nas.local/x", "", false);
	allowed("metadata.google.internal/x", "", false);
	allowed("registry:5000/x", "", false);
	allowed("1.2.3.4.5/x", "", false);

	/* The operator's list: exactly what it names. */
	allowed("127.0.0.1:5000/warren/ide:1", "127.0.0.1:5000", true);
	allowed("127.0.0.1:5001/warren/ide:1", "127.0.0.1:5000", false);
	allowed("busybox", "127.0.0.1:5000", false);
	allowed("busybox", "127.0.0.1:5000, docker.io", true);
	allowed("GHCR.io/x", "ghcr.io docker.io", true);
	allowed("ghcr.io.evil.example/x", "ghcr.io", false);
	return done_testing();
}
