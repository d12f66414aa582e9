/* src/lib/util.c: the clock and libpq's messages cut to one line. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "util.h"

/* Each thread cuts its own message many times: no buffer is shared. */
static void *
cutter(void *arg)
{
	const char *want = arg;
	char msg[64];
	int i, bad = 0;

	snprintf(msg, sizeof(msg), "%s\nDETAIL: more", want);
	for (i = 0; i < 100000; i++)
		if (strcmp(FIRST_LINE(msg), want) != 0)
			bad++;
	return bad ? (void *)1 : NULL;
}

int
main(void)
{
	char buf[8], big[600];
	pthread_t t[2];
	void *r0, *r1;
	int64_t a, b;

	is_str(FIRST_LINE("ERROR:  no\nDETAIL: x\n"), "ERROR:  no",
	    "the first line of a libpq message");
	is_str(FIRST_LINE(NULL), "unknown error", "no message");
	is_str(FIRST_LINE("\nsecond"), "unknown error", "an empty first line");
	is_str(first_line(buf, sizeof(buf), "0123456789\n"), "0123456",
	    "cut to the buffer");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(strlen(FIRST_LINE(big)) == 511, "FIRST_LINE holds 511 characters");
	pthread_create(&t[0], NULL, cutter, "first thread's");
	pthread_create(&t[1], NULL, cutter, "second thread's message");
	pthread_join(t[0], &r0);
	pthread_join(t[1], &r1);
	ok(r0 == NULL && r1 == NULL, "threads do not share a buffer");
	a = now_ms();
	b = now_ms();
	ok(a > 0 && b >= a, "the clock moves forward");
	return done_testing();
}
