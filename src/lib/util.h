/* Small helpers every program shares: a monotonic clock, libpq's messages
 * cut to their first line, and files replaced atomically.  Thread-safe:
 * no static state. */
#ifndef WARREN_UTIL_H
#define WARREN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t		 now_ms(void);
/* The first line of msg (libpq's end in a newline and may hold more),
 * in buf; "unknown error" when msg is NULL or its first line empty. */
const char	*first_line(char *buf, size_t size, const char *msg);
/* first_line() into a buffer of the enclosing block's (512 bytes). */
#define FIRST_LINE(msg)	first_line((char[512]){ 0 }, 512, (msg))

/* A temporary file's name starts with this, beside the file it replaces:
 * left by a crash, it can be told apart and removed. */
#define ATOMIC_TMP_PREFIX	".warren-"

/*
 * Replaces path with text, as a whole or not at all, even across a crash
 * of this machine: a temporary file beside it (mode), written, fsynced,
 * renamed over it, then the directory fsynced.  0, or -1 with errno set
 * and the temporary file gone.
 */
int		 atomic_write(const char *path, const char *text, size_t len,
		    int mode);

#endif
