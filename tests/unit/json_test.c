/* json_parse (the body reader's parser) and utf8_valid. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "tap.h"

static struct arena *A;

#define P(lit)	parse(lit, sizeof(lit) - 1, NULL)

/* Parses len bytes; the object, if any, lives until the arena reset. */
static enum json_parse_result
parse(const char *buf, size_t len, struct json_object **out)
{
	struct json_object *o;
	enum json_parse_result r;

	r = json_parse(A, buf, len, &o);
	if (r != JSON_OK && o != NULL)
		r = (enum json_parse_result)-1;	/* must leave *out NULL */
	if (out != NULL)
		*out = o;
	return r;
}

/* The input for a test description: printable ASCII, one line. */
static const char *
shown(const char *s)
{
	static char buf[256];
	size_t o = 0;

	for (; *s != '\0' && o + 5 < sizeof(buf); s++) {
		if (*s >= 0x20 && *s < 0x7f)
			buf[o++] = *s;
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x",
			    (unsigned char)*s);
	}
	buf[o] = '\0';
	return buf;
}

static void
test_valid(void)
{
	static const struct {
		const char	*in;
		json_type	 type;
		const char	*text;	/* json_text of the result */
	} cases[] = {
		{ "{}", json_type_object, "{}" },
		{ "[]", json_type_array, "[]" },
		{ "{\"a\":1,\"b\":[true,false,null]}", json_type_object,
		    "{\"a\":1,\"b\":[true,false,null]}" },
		{ " \t\r\n{ \"a\" : \"b\" } \n", json_type_object,
		    "{\"a\":\"b\"}" },
		{ "\"str\"", json_type_string, "\"str\"" },
		{ "\"\"", json_type_string, "\"\"" },
		{ "0", json_type_int, "0" },
		{ "123", json_type_int, "123" },
		{ "-7", json_type_int, "-7" },
		{ " 42 ", json_type_int, "42" },
		{ "1.5", json_type_double, "1.5" },
		{ "-1.5e3", json_type_double, "-1.5e3" },
		{ "true", json_type_boolean, "true" },
		{ "false", json_type_boolean, "false" },
		{ "null", json_type_null, "null" },
		{ "\"caf\xc3\xa9\"", json_type_string, "\"caf\xc3\xa9\"" },
		{ "\"\\u00e9\"", json_type_string, "\"\xc3\xa9\"" },
		{ "\"\\ud83d\\ude00\"", json_type_string,
		    "\"\xf0\x9f\x98\x80\"" },
		{ "\"\xf0\x9f\x98\x80\"", json_type_string,
		    "\"\xf0\x9f\x98\x80\"" },
		{ "\"a\\/b\"", json_type_string, "\"a/b\"" },
		{ "\"\\\"\\\\\\b\\f\\n\\r\\t\"", json_type_string,
		    "\"\\\"\\\\\\b\\f\\n\\r\\t\"" },
	};
	struct json_object *o;
	const char *text;
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(parse(cases[i].in, strlen(cases[i].in), &o), JSON_OK,
		    "valid #%zu: %s", i, shown(cases[i].in));
		if (o == NULL && cases[i].type != json_type_null) {
			ok(0, "valid #%zu gives an object", i);
			continue;
		}
		is_int(json_object_get_type(o), cases[i].type,
		    "valid #%zu has the right type", i);
		text = json_text(o, &len);
		is_str(text, cases[i].text, "valid #%zu prints back", i);
		is_int(len, strlen(cases[i].text), "json_text gives the length");
	}
	arena_reset(A);
}

static void
test_scalars(void)
{
	struct json_object *o;

	is_int(parse("12345", 5, &o), JSON_OK, "a bare number at the very end");
	is_int(json_object_get_int(o), 12345, "its value");
	is_int(parse("12345", 3, &o), JSON_OK, "len is honoured");
	is_int(json_object_get_int(o), 123, "only len bytes are read");
	is_int(parse("-0", 2, &o), JSON_OK, "-0");
	is_int(parse("1e2", 3, &o), JSON_OK, "a bare exponent number");
	is_int(parse("\"x\"", 3, &o), JSON_OK, "a bare string");
	is_str(json_object_get_string(o), "x", "its value");
	is_int(parse("null", 4, &o), JSON_OK, "bare null is OK");
	ok(o == NULL, "and is the NULL object");
	is_int(P(" null\n"), JSON_OK, "null among white space");
	is_int(P("nullx"), JSON_MALFORMED, "null with trailing garbage");
}

static void
test_empty(void)
{
	is_int(parse("", 0, NULL), JSON_EMPTY, "no bytes");
	is_int(P("   "), JSON_EMPTY, "spaces only");
	is_int(P(" \t\r\n "), JSON_EMPTY, "white space only");
	is_int(P("\0"), JSON_MALFORMED, "a NUL byte is not white space");
	is_int(parse("{}", 0, NULL), JSON_EMPTY, "len 0 whatever the buffer");
}

static void
test_malformed(void)
{
	static const char *const bad[] = {
		"{", "}", "[", "]", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\"}",
		"{\"a\" 1}", "{1:2}", "{\"a\":}", "[1 2]", "tru", "nul",
		"True", "FALSE", "undefined", "'a'", "\"abc", "\"\\x\"",
		"\"\\u12\"", "\"\\u12g4\"", "01", ".5", "1e", "1e+", "-",
		"+1", "0x1", "/*c*/1", "1 /*c*/", "// c\n1", "[1]//",
		"[tru]", "{\"a\":[}", "abc",
	};
	static const char *const trailing[] = {
		"1 2", "{} x", "[1]]", "{}{}", "[][]", "\"a\"\"b\"", "true false",
		"{},", "null x", "1,",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(parse(bad[i], strlen(bad[i]), NULL), JSON_MALFORMED,
		    "malformed #%zu: %s", i, shown(bad[i]));
	for (i = 0; i < sizeof(trailing) / sizeof(trailing[0]); i++)
		is_int(parse(trailing[i], strlen(trailing[i]), NULL),
		    JSON_MALFORMED, "trailing garbage #%zu: %s", i,
		    shown(trailing[i]));
	is_int(P("1\0"), JSON_MALFORMED, "a NUL after a number");
	is_int(P("[1]\0"), JSON_MALFORMED, "a NUL after a value");
	is_int(P("{}\0 "), JSON_MALFORMED, "a NUL among trailing spaces");
	is_int(P("\"a\0b\""), JSON_MALFORMED, "a NUL inside a string");
	is_int(P("[1,\0 2]"), JSON_MALFORMED, "a NUL inside an array");
	arena_reset(A);
}

/*
 * json.c promises strict RFC 8259 text; json-c's strict mode alone would
 * let these through, so json_parse checks the syntax itself first.
 */
static void
test_rfc_gaps(void)
{
	static const char *const gaps[] = {
		"NaN", "Infinity", "-Infinity", "[NaN]", "{\"a\":-Infinity}",
		"-01", "1.", "{'a':1}", "\"a\x01" "b\"", "\"a\tb\"",
		"\"a\nb\"",
	};
	size_t i;

	for (i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++)
		ok(parse(gaps[i], strlen(gaps[i]), NULL) == JSON_MALFORMED,
		    "not RFC 8259 JSON, refused: %s", shown(gaps[i]));
	arena_reset(A);
}

static void
test_depth(void)
{
	char buf[8 * (JSON_MAX_DEPTH + 10)];
	size_t d;

	for (d = JSON_MAX_DEPTH - 1; d <= JSON_MAX_DEPTH + 1; d++) {
		memset(buf, '[', d);
		memset(buf + d, ']', d);
		is_int(parse(buf, 2 * d, NULL),
		    d <= JSON_MAX_DEPTH ? JSON_OK : JSON_TOO_DEEP,
		    "%zu nested arrays %s", d, d <= JSON_MAX_DEPTH ?
		    "are fine" : "are too deep");
	}
	for (d = 0; d < JSON_MAX_DEPTH + 5; d++)
		memcpy(buf + 5 * d, "{\"a\":", 5);
	is_int(parse(buf, 5 * d, NULL), JSON_TOO_DEEP,
	    "deep objects, even unterminated, are too deep");
	memset(buf, '[', sizeof(buf));
	is_int(parse(buf, sizeof(buf), NULL), JSON_TOO_DEEP,
	    "an opening flood is too deep, not merely malformed");
	arena_reset(A);
}

static void
test_bad_utf8(void)
{
	static const char *const bad[] = {
		"\"\xff\"",			/* never valid */
		"\"\xfe\"",
		"\"\xc3\"",			/* truncated */
		"\"\xe2\x82\"",
		"\"\xc3\x28\"",			/* bad continuation */
		"\"\x80\"",			/* lone continuation */
		"\"\xc0\xaf\"",			/* overlong '/' */
		"\"\xc1\xbf\"",
		"\"\xe0\x80\xaf\"",		/* overlong, 3 bytes */
		"\"\xe0\x9f\xbf\"",
		"\"\xf0\x80\x80\xaf\"",		/* overlong, 4 bytes */
		"\"\xf0\x8f\xbf\xbf\"",
		"\"\xed\xa0\x80\"",		/* surrogates, encoded */
		"\"\xed\xbf\xbf\"",
		"\"\xed\xa0\xbd\xed\xb8\x80\"",	/* CESU-8 pair */
		"\"\xf4\x90\x80\x80\"",		/* above U+10FFFF */
		"\"\xf5\x80\x80\x80\"",
		"\"\xf8\x88\x80\x80\x80\"",	/* 5-byte form */
		"{\"\xff\":1}",			/* in a key */
		"[1]\xff",			/* after the value */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(parse(bad[i], strlen(bad[i]), NULL), JSON_BAD_UTF8,
		    "bad UTF-8 #%zu", i);
	ok(P("\xef\xbb\xbf{}") != JSON_OK, "a byte order mark is refused");
	arena_reset(A);
}

static void
test_escapes(void)
{
	struct json_object *o;
	const char *s;

	/* Lone surrogate escapes are legal JSON; the result must be UTF-8. */
	is_int(P("\"\\ud800\""), JSON_OK, "a lone high surrogate escape");
	is_int(parse("\"\\ud800x\"", 9, &o), JSON_OK, "followed by a letter");
	s = o ? json_object_get_string(o) : NULL;
	ok(s != NULL && utf8_valid(s, strlen(s)),
	    "the decoded string is valid UTF-8");
	is_int(parse("\"\\udc00\"", 8, &o), JSON_OK, "a lone low surrogate");
	s = o ? json_object_get_string(o) : NULL;
	ok(s != NULL && utf8_valid(s, strlen(s)), "still valid UTF-8");
	is_int(parse("\"a\\u0000b\"", 10, &o), JSON_OK, "an escaped NUL");
	ok(o != NULL && json_object_get_string_len(o) == 3,
	    "keeps its length");
	arena_reset(A);
}

static void
test_utf8_valid(void)
{
	static const struct {
		const char	*s;
		size_t		 len;
		int		 valid;
	} cases[] = {
		{ "", 0, 1 },
		{ "plain ascii", 11, 1 },
		{ "a\0b", 3, 1 },			/* NUL is a character */
		{ "\x7f", 1, 1 },
		{ "\xc2\x80", 2, 1 },			/* U+0080 */
		{ "\xdf\xbf", 2, 1 },			/* U+07FF */
		{ "\xe0\xa0\x80", 3, 1 },		/* U+0800 */
		{ "\xed\x9f\xbf", 3, 1 },		/* U+D7FF */
		{ "\xee\x80\x80", 3, 1 },		/* U+E000 */
		{ "\xef\xbf\xbf", 3, 1 },		/* U+FFFF */
		{ "\xf0\x90\x80\x80", 4, 1 },		/* U+10000 */
		{ "\xf4\x8f\xbf\xbf", 4, 1 },		/* U+10FFFF */
		{ "\x80", 1, 0 },
		{ "\xbf", 1, 0 },
		{ "\xc0\x80", 2, 0 },
		{ "\xc1\xbf", 2, 0 },
		{ "\xc2", 1, 0 },
		{ "\xc2\x7f", 2, 0 },
		{ "\xc2\xc0", 2, 0 },
		{ "\xe0\x9f\xbf", 3, 0 },
		{ "\xe0\xa0", 2, 0 },
		{ "\xed\xa0\x80", 3, 0 },		/* U+D800 */
		{ "\xed\xbf\xbf", 3, 0 },		/* U+DFFF */
		{ "\xf0\x8f\xbf\xbf", 4, 0 },
		{ "\xf4\x90\x80\x80", 4, 0 },
		{ "\xf4\x8f\xbf", 3, 0 },
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xfe", 1, 0 },
		{ "\xff", 1, 0 },
		{ "ok\xc3\xa9\xc3", 5, 0 },		/* truncated at the end */
		{ "\xc3\xa9", 1, 0 },			/* len cuts a sequence */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(utf8_valid(cases[i].s, cases[i].len), cases[i].valid,
		    "utf8_valid #%zu is %s", i, cases[i].valid ? "valid" :
		    "invalid");
}

static void
test_messages(void)
{
	static const enum json_parse_result all[] = { JSON_OK, JSON_EMPTY,
	    JSON_MALFORMED, JSON_TOO_DEEP, JSON_BAD_UTF8 };
	size_t i, j;
	bool distinct = true;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		ok(json_parse_error(all[i]) != NULL &&
		    json_parse_error(all[i])[0] != '\0',
		    "json_parse_error(%d) has text", (int)all[i]);
		for (j = 0; j < i; j++)
			if (strcmp(json_parse_error(all[i]),
			    json_parse_error(all[j])) == 0)
				distinct = false;
	}
	ok(distinct, "each result has its own message");
}

int
main(void)
{
	A = arena_new(4096);
	test_valid();
	test_scalars();
	test_empty();
	test_malformed();
	test_rfc_gaps();
	test_depth();
	test_bad_utf8();
	test_escapes();
	test_utf8_valid();
	test_messages();
	arena_free(A);
	return done_testing();
}
