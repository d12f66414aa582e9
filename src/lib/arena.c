/*
 * A bump allocator with cleanup hooks.  The first block is kept across
 * resets so that a steady worker does no malloc per request; larger
 * blocks taken by an unusual request are given back at reset so that
 * one big request does not pin memory for the life of the worker.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "log.h"

#define ALIGN		16

struct block {
	struct block	*next;
	size_t		 size;
	size_t		 used;
	unsigned char	 data[] __attribute__((aligned(ALIGN)));
};

struct cleanup {
	arena_cleanup_fn fn;
	void		*arg;
	struct cleanup	*next;
};

struct arena {
	struct block	*head;		/* current block, the first is last */
	struct block	*first;
	struct cleanup	*cleanups;
	size_t		 total;
};

static struct block *
block_new(size_t size)
{
	struct block *b;

	if ((b = malloc(sizeof(*b) + size)) == NULL)
		fatal("arena block of %zu bytes", size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *
arena_new(size_t first_block)
{
	struct arena *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("arena");
	a->first = a->head = block_new(first_block);
	return a;
}

static void
run_cleanups(struct arena *a)
{
	struct cleanup *c;

	/* Hooks run newest first, so an object dies before what it uses. */
	for (c = a->cleanups; c != NULL; c = c->next)
		c->fn(c->arg);
	a->cleanups = NULL;
}

void
arena_reset(struct arena *a)
{
	struct block *b, *next;

	run_cleanups(a);
	for (b = a->head; b != a->first; b = next) {
		next = b->next;
		free(b);
	}
	a->head = a->first;
	a->first->used = 0;
	a->total = 0;
}

void
arena_free(struct arena *a)
{
	if (a == NULL)
		return;
	arena_reset(a);
	free(a->first);
	free(a);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct block *b = a->head;
	size_t off, want;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / 2)
		fatalx("arena request of %zu bytes", n);
	off = (b->used + (ALIGN - 1)) & ~(size_t)(ALIGN - 1);
	if (off > b->size || b->size - off < n) {
		want = a->first->size;
		while (want < n)
			want *= 2;
		b = block_new(want);
		b->next = a->head;
		a->head = b;
		off = 0;
	}
	p = b->data + off;
	b->used = off + n;
	a->total += n;
	return p;
}

void *
arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);

	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	char *p;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		fatalx("arena_vprintf: bad format");
	p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void
arena_defer(struct arena *a, arena_cleanup_fn fn, void *arg)
{
	struct cleanup *c = arena_alloc(a, sizeof(*c));

	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanups;
	a->cleanups = c;
}

size_t
arena_used(const struct arena *a)
{
	return a->total;
}
