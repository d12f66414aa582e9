/*
 * Fixed-window rate limits and host-wide slots: counting to the limit,
 * the wait announced, a new window once the last is over, keys apart,
 * and slots held by processes that died taken back.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "ratelimit.h"
#include "tap.h"

static void
test_uninitialized(void)
{
	long retry = -1;
	int i;

	/* warrenctl and the tests link the API without its master. */
	for (i = 0; i < 5; i++)
		ok(ratelimit_hit("k", 1, 60, 1000, &retry), "no table: hit %d "
		    "passes", i + 1);
	ok(ratelimit_acquire_slot(SLOT_HASHING, 0),
	    "no table: a slot even of none");
	ratelimit_release_slot(SLOT_HASHING);
	ratelimit_clear("k");
}

static void
test_window(void)
{
	long retry = -1;
	int i;

	for (i = 0; i < 3; i++) {
		ok(ratelimit_hit("w", 3, 60, 1000, &retry), "hit %d of 3",
		    i + 1);
		is_int(retry, 0, "no wait while under the limit");
	}
	ok(!ratelimit_hit("w", 3, 60, 1000, &retry), "the fourth is refused");
	is_int(retry, 60, "a wait of the whole window at its start");
	ok(!ratelimit_hit("w", 3, 60, 1030, &retry), "refused midway");
	is_int(retry, 30, "the rest of the window");
	ok(!ratelimit_check("w", 3, 60, 1059, &retry),
	    "a check at the limit says no");
	is_int(retry, 1, "a second to wait at the window's last second");
	ok(ratelimit_hit("w", 3, 60, 1060, &retry),
	    "a new window when the last is over");
	is_int(retry, 0, "no wait in it");
	ok(ratelimit_hit("w", 3, 60, 1061, &retry) &&
	    ratelimit_hit("w", 3, 60, 1062, &retry),
	    "the new window counts from one");
	ok(!ratelimit_hit("w", 3, 60, 1063, &retry), "and refuses again");
	is_int(retry, 57, "until 1120");
	ok(ratelimit_hit("w", 3, 60, 5000, &retry),
	    "long after, a fresh window");

	/* A refusal counts too: the window does not move. */
	ok(ratelimit_hit("x", 1, 10, 100, &retry), "x: one allowed");
	for (i = 0; i < 5; i++)
		ok(!ratelimit_hit("x", 1, 10, 101 + i, &retry), "x: refused at "
		    "%d", 101 + i);
	ok(ratelimit_hit("x", 1, 10, 110, &retry),
	    "x: allowed when its window ends, refusals notwithstanding");
}

static void
test_check(void)
{
	long retry = -1;
	int i;

	for (i = 0; i < 10; i++)
		ok(ratelimit_check("c", 2, 60, 2000, &retry) && retry == 0,
		    "check %d does not count", i + 1);
	ok(ratelimit_hit("c", 2, 60, 2000, &retry), "hit 1 of 2");
	ok(ratelimit_check("c", 2, 60, 2000, &retry), "under the limit");
	ok(ratelimit_hit("c", 2, 60, 2000, &retry), "hit 2 of 2");
	ok(!ratelimit_check("c", 2, 60, 2010, &retry), "at the limit");
	is_int(retry, 50, "the wait a check announces");
}

static void
test_limits(void)
{
	long retry = -1;

	ok(!ratelimit_hit("zero", 0, 60, 3000, &retry),
	    "a limit of 0 refuses the first");
	is_int(retry, 60, "and names the window");
	ok(!ratelimit_hit("nowin", 0, 0, 3000, &retry),
	    "a limit of 0 in a window of 0");
	is_int(retry, 1, "the wait is never under a second");
	ok(ratelimit_hit("w0", 1, 0, 3000, &retry) &&
	    ratelimit_hit("w0", 1, 0, 3000, &retry),
	    "a window of 0 is over at once");
	ok(ratelimit_hit("big", 1000000, 60, 3000, &retry),
	    "a large limit");

	/* A key asked with another window: the window of the latest ask. */
	ok(ratelimit_hit("re", 1, 100, 4000, &retry), "re: 1 of 1");
	ok(!ratelimit_hit("re", 1, 10, 4005, &retry), "re: refused");
	is_int(retry, 5, "re: the shorter window's end");
	ok(ratelimit_hit("re", 1, 10, 4010, &retry),
	    "re: over by the shorter window");
}

static void
test_keys(void)
{
	long retry = -1;
	char key[32];
	int i, both = 0, refused = 0;

	ok(ratelimit_hit("addr:1", 1, 60, 6000, &retry), "one key");
	ok(ratelimit_hit("addr:2", 1, 60, 6000, &retry), "another apart");
	ok(!ratelimit_hit("addr:1", 1, 60, 6000, &retry), "the first at limit");
	ok(ratelimit_hit("", 1, 60, 6000, &retry) &&
	    !ratelimit_hit("", 1, 60, 6000, &retry), "the empty key counts");

	/* Many keys, far fewer than the table holds: each its own count. */
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "many:%d", i);
		both += ratelimit_hit(key, 2, 60, 7000, &retry) &&
		    ratelimit_hit(key, 2, 60, 7000, &retry);
	}
	is_int(both, 2000, "2000 keys: two hits each");
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "many:%d", i);
		refused += !ratelimit_hit(key, 2, 60, 7001, &retry);
	}
	is_int(refused, 2000, "2000 keys: each then refused");

	ok(!ratelimit_check("addr:1", 1, 60, 6001, &retry),
	    "before clear: refused");
	ratelimit_clear("addr:1");
	ok(ratelimit_hit("addr:1", 1, 60, 6001, &retry), "after clear: counts "
	    "from none");
	ok(!ratelimit_hit("addr:1", 1, 60, 6001, &retry),
	    "after clear: the limit again");
	is_int(retry, 59, "after clear: the window did not move");
	ratelimit_clear("never-seen");
	ok(!ratelimit_check("addr:2", 1, 60, 6001, &retry),
	    "clearing another key leaves this one");
}

/* A child that takes a slot and, if stay, holds it until killed;
 * its pid, once it has the slot. */
static pid_t
holder(enum slot_kind kind, long max, bool stay)
{
	int fd[2];
	char c = 0;
	pid_t pid;

	if (pipe(fd) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(fd[0]);
		c = ratelimit_acquire_slot(kind, max) ? 'y' : 'n';
		(void)!write(fd[1], &c, 1);
		if (stay)
			pause();
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &c, 1) != 1 || c != 'y') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(fd[0]);
	return pid;
}

static void
test_slots(void)
{
	pid_t pid;
	int i, n;

	ok(ratelimit_acquire_slot(SLOT_HASHING, 2), "slot 1 of 2");
	ok(ratelimit_acquire_slot(SLOT_HASHING, 2), "slot 2 of 2");
	ok(!ratelimit_acquire_slot(SLOT_HASHING, 2), "no third");
	ok(ratelimit_acquire_slot(SLOT_FOLLOWING, 2),
	    "the kinds are counted apart");
	ratelimit_release_slot(SLOT_HASHING);
	ok(ratelimit_acquire_slot(SLOT_HASHING, 2), "one released, one free");
	ratelimit_release_slot(SLOT_HASHING);
	ratelimit_release_slot(SLOT_HASHING);
	ratelimit_release_slot(SLOT_HASHING);
	ratelimit_release_slot(SLOT_FOLLOWING);
	ok(!ratelimit_acquire_slot(SLOT_HASHING, 0), "a max of 0 has none");
	ok(!ratelimit_acquire_slot(SLOT_HASHING, -1), "nor a negative one");

	/* A process that died holding a slot gives it back. */
	pid = holder(SLOT_HASHING, 1, false);
	ok(pid > 0, "a child took the only slot");
	waitpid(pid, NULL, 0);
	ok(ratelimit_acquire_slot(SLOT_HASHING, 1),
	    "its slot is taken back once it is gone");
	ratelimit_release_slot(SLOT_HASHING);

	/* One that lives keeps it. */
	pid = holder(SLOT_HASHING, 1, true);
	ok(pid > 0, "a child holds the only slot");
	ok(!ratelimit_acquire_slot(SLOT_HASHING, 1),
	    "not taken while it lives");
	ratelimit_release_slot(SLOT_HASHING);
	ok(!ratelimit_acquire_slot(SLOT_HASHING, 1),
	    "nor released by another process");
	ok(ratelimit_acquire_slot(SLOT_HASHING, 2), "a second slot is free");
	ratelimit_release_slot(SLOT_HASHING);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	ok(ratelimit_acquire_slot(SLOT_HASHING, 1), "free once it is killed");
	ratelimit_release_slot(SLOT_HASHING);

	/* The table has 64 places a kind, whatever the max asked. */
	for (i = 0, n = 0; i < 70; i++)
		n += ratelimit_acquire_slot(SLOT_FOLLOWING, 1000);
	is_int(n, 64, "64 places at the most");
	for (i = 0; i < 64; i++)
		ratelimit_release_slot(SLOT_FOLLOWING);
	ok(ratelimit_acquire_slot(SLOT_FOLLOWING, 1), "all released");
	ratelimit_release_slot(SLOT_FOLLOWING);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_uninitialized();
	ratelimit_init();
	test_window();
	test_check();
	test_limits();
	test_keys();
	test_slots();
	return done_testing();
}
