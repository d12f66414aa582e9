/* Per-request memory: a bump allocator reset once per request. */
#ifndef WARREN_ARENA_H
#define WARREN_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

typedef void (*arena_cleanup_fn)(void *);

struct arena	*arena_new(size_t first_block);
void		 arena_free(struct arena *);
void		 arena_reset(struct arena *);
void		*arena_alloc(struct arena *, size_t);
void		*arena_zalloc(struct arena *, size_t);
char		*arena_strdup(struct arena *, const char *);
char		*arena_strndup(struct arena *, const char *, size_t);
char		*arena_printf(struct arena *, const char *, ...)
		    __attribute__((format(printf, 2, 3), nonnull(2)));
char		*arena_vprintf(struct arena *, const char *, va_list)
		    __attribute__((format(printf, 2, 0), nonnull(2)));
void		 arena_defer(struct arena *, arena_cleanup_fn, void *);
size_t		 arena_used(const struct arena *);

#endif
