/*
 * Host-wide slots: counted per kind, bounded, and taken back from
 * processes that died.  (Rate limits are counted in PostgreSQL, across
 * hosts, and tested against it: tests/integration/test_throttle.py.)
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
	/* warrenctl and the tests link the API without its master. */
	ok(ratelimit_acquire_slot(SLOT_HASHING, 0),
	    "no table: a slot even of none");
	ratelimit_release_slot(SLOT_HASHING);
}

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

static void
test_leases(void)
{
	ok(!ratelimit_lease_take("token:a", 100), "no lease: nothing taken");
	ratelimit_lease_add("token:a", 160, 2, 100);
	ok(ratelimit_lease_take("token:a", 101), "a unit of the lease");
	ok(!ratelimit_lease_take("token:b", 101), "leases are per key");
	ok(ratelimit_lease_take("token:a", 102), "the second unit");
	ok(!ratelimit_lease_take("token:a", 103), "no third");
	ratelimit_lease_add("token:a", 160, 5, 110);
	ok(!ratelimit_lease_take("token:a", 160),
	    "nothing once the window is over");
	ratelimit_lease_add("token:a", 220, 1, 170);
	ok(ratelimit_lease_take("token:a", 171) &&
	    !ratelimit_lease_take("token:a", 172),
	    "a new window's lease holds only its own units");
	ratelimit_lease_add("token:c", 500, 0, 200);
	ok(!ratelimit_lease_take("token:c", 201), "an empty lease is none");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_uninitialized();
	ratelimit_init();
	test_slots();
	test_leases();
	return done_testing();
}
