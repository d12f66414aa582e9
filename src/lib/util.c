#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int
atomic_write(const char *path, const char *text, size_t len, int mode)
{
	char tmp[4096], dir[4096];
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t done = 0;
	ssize_t n;
	int fd, dfd, saved;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/" ATOMIC_TMP_PREFIX
	    "%s.tmp%ld", dirname(dir), base, (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) ==
	    -1)
		return -1;
	while (done < len) {
		if ((n = write(fd, text + done, len - done)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}
