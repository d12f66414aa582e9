#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
first_line(char *buf, size_t size, const char *msg)
{
	size_t n;

	if (size == 0)
		return "unknown error";
	n = msg ? strcspn(msg, "\n") : 0;
	if (n == 0) {
		snprintf(buf, size, "unknown error");
		return buf;
	}
	if (n >= size)
		n = size - 1;
	memcpy(buf, msg, n);
	buf[n] = '\0';
	return buf;
}
