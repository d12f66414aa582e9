#include "config.h"

#include <stdint.h>

#include "arena.h"
#include "tap.h"

static int cleaned;

static void
cleanup(void *p)
{
	cleaned += *(int *)p;
}

int
main(void)
{
	struct arena *a = arena_new(1024);
	static int one = 1, ten = 10;
	char *s, *big;
	void *p;

	p = arena_alloc(a, 3);
	ok(((uintptr_t)p & 15) == 0, "allocations are 16-byte aligned");
	p = arena_alloc(a, 5);
	ok(((uintptr_t)p & 15) == 0, "second allocation aligned too");
	s = arena_strdup(a, "hello");
	is_str(s, "hello", "strdup copies");
	s = arena_printf(a, "%d-%s", 42, "x");
	is_str(s, "42-x", "printf formats");
	big = arena_alloc(a, 10000);
	big[9999] = 'z';
	ok(big != NULL, "allocation larger than a block gets its own block");
	ok(arena_used(a) >= 10000, "usage is counted");
	arena_defer(a, cleanup, &one);
	arena_defer(a, cleanup, &ten);
	arena_reset(a);
	is_int(cleaned, 11, "reset runs every cleanup hook");
	is_int(arena_used(a), 0, "reset empties the arena");
	p = arena_zalloc(a, 64);
	ok(((char *)p)[0] == 0 && ((char *)p)[63] == 0, "zalloc zeroes");
	arena_reset(a);
	is_int(cleaned, 11, "hooks run once only");
	arena_free(a);
	return done_testing();
}
