/*
 * One line per event on stderr, written with a single write(2) so that
 * lines from several workers sharing the descriptor never interleave.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_prog = "warren";
static enum log_level	 log_min = LOG_LEVEL_INFO;
static char		 log_rid[80];
static pid_t		 log_pid;

/* After fork, the child calls this so its lines carry its own pid. */
void
log_forked(void)
{
	log_pid = getpid();
}

void
log_init(const char *progname, enum log_level level)
{
	log_prog = progname;
	log_min = level;
}

void
log_set_level(enum log_level level)
{
	log_min = level;
}

void
log_set_request_id(const char *rid)
{
	if (rid == NULL)
		log_rid[0] = '\0';
	else
		snprintf(log_rid, sizeof(log_rid), "%s", rid);
}

static void
log_emit(const char *level, const char *errstr, const char *fmt, va_list ap)
{
	char buf[4096], ts[32];
	struct timespec now;
	struct tm tm;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(buf, sizeof(buf), "%s.%03ldZ %s[%ld]: %s%s", ts,
	    now.tv_nsec / 1000000, log_prog,
	    (long)(log_pid ? log_pid : (log_pid = getpid())),
	    level ? level : "", level ? ": " : "");
	n = r < 0 ? 0 : (size_t)r;
	if (n < sizeof(buf)) {
		r = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (errstr != NULL && n < sizeof(buf)) {
		r = snprintf(buf + n, sizeof(buf) - n, ": %s", errstr);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (level != NULL && log_rid[0] != '\0' && n < sizeof(buf)) {
		r = snprintf(buf + n, sizeof(buf) - n, " request_id=%s",
		    log_rid);
		n += r < 0 ? 0 : (size_t)r;
	}
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
}

#define LOG_BODY(min, level, errstr) do {		\
	va_list ap;					\
	if ((int)log_min > (int)(min))				\
		return;					\
	va_start(ap, fmt);				\
	log_emit((level), (errstr), fmt, ap);		\
	va_end(ap);					\
} while (0)

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, "debug", NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, "info", NULL);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARNING, "warning", NULL);
}

void
log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARNING, "warning", e);
}

/* Access-log lines: no level word, never filtered. */
void
log_line(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR + 1, NULL, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
