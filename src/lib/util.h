/* Small helpers every program shares: a monotonic clock and libpq's
 * messages cut to their first line.  Thread-safe: no static state. */
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

#endif
