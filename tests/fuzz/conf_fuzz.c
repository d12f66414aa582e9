/*
 * conf_parse on arbitrary bytes.  Whatever the file holds, every error
 * names FILE:LINE, the result agrees with the errors reported, and every
 * value stored is one the key's table row allows.
 */
#include "config.h"

#include <string.h>

#include "conf.h"
#include "fuzz.h"

struct seen {
	size_t	lines;
	int	errors;
};

static void
on_error(void *ctx, const char *where, const char *msg)
{
	struct seen *s = ctx;
	const char *p;
	size_t line = 0;

	CHECK(strncmp(where, "fuzz.conf:", 10) == 0);
	for (p = where + 10; *p >= '0' && *p <= '9'; p++)
		line = line * 10 + (size_t)(*p - '0');
	CHECK(*p == '\0' && p > where + 10);
	CHECK(line >= 1 && line <= s->lines);
	CHECK(msg != NULL && msg[0] != '\0' && strchr(msg, '\n') == NULL);
	s->errors++;
}

static void
check_values(const struct conf *c)
{
	size_t i, n;

	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *p = (const char *)c + k->offset;
		long v;

		switch (k->type) {
		case CONF_STRING:
			n = strnlen(p, CONF_STR_MAX);
			CHECK(n < CONF_STR_MAX);
			for (; *p; p++)
				CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
			break;
		case CONF_BOOL:
			break;
		case CONF_ENUM:
			v = *(const long *)(const void *)p;
			for (n = 0; k->choices[n] != NULL; n++)
				;
			CHECK(v >= 0 && (size_t)v < n);
			break;
		case CONF_INT:
		case CONF_OCTAL:
		case CONF_SIZE:
			v = *(const long *)(const void *)p;
			CHECK(v >= k->min && v <= k->max);
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 1, 0 };
	struct conf c;
	size_t i;
	int r;

	for (i = 0; i < size; i++)
		if (data[i] == '\n')
			s.lines++;
	conf_defaults(&c);
	r = conf_parse(&c, "fuzz.conf", (const char *)data, size, on_error,
	    &s);
	CHECK(r == 0 || r == -1);
	CHECK((r == -1) == (s.errors > 0));
	check_values(&c);
	return 0;
}
