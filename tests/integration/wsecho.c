/*
 * The routing tests' workspace server, linked statically into a busybox
 * image: on every port named on the command line it answers HTTP/1.1 with
 * the request head it received (so a test sees exactly which headers and
 * cookies reached the container), and echoes WebSocket messages back after
 * an RFC 6455 handshake.  A request header "X-Echo-Reply: Name: value"
 * puts that header line in the answer.  One thread per connection, as the event-driven
 * servers of real workspaces are far cheaper per connection than a fork;
 * keep-alive for plain requests unless the client asks to close.
 *
 *   wsecho PORT...
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX	32768
#define MAX_PORTS	8

/* SHA-1 (FIPS 180-1), only for Sec-WebSocket-Accept. */
static void
sha1(const unsigned char *msg, size_t len, unsigned char out[20])
{
	uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476,
	    0xC3D2E1F0 };
	unsigned char block[64];
	uint64_t bits = (uint64_t)len * 8;
	size_t i, total = ((len + 8) / 64 + 1) * 64, off;
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int j;

	for (off = 0; off < total; off += 64) {
		for (i = 0; i < 64; i++) {
			size_t p = off + i;
			if (p < len)
				block[i] = msg[p];
			else if (p == len)
				block[i] = 0x80;
			else if (p >= total - 8)
				block[i] = (unsigned char)(bits >>
				    (8 * (total - 1 - p)));
			else
				block[i] = 0;
		}
		for (j = 0; j < 16; j++)
			w[j] = (uint32_t)block[4 * j] << 24 |
			    (uint32_t)block[4 * j + 1] << 16 |
			    (uint32_t)block[4 * j + 2] << 8 | block[4 * j + 3];
		for (j = 16; j < 80; j++) {
			t = w[j - 3] ^ w[j - 8] ^ w[j - 14] ^ w[j - 16];
			w[j] = t << 1 | t >> 31;
		}
		a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
		for (j = 0; j < 80; j++) {
			if (j < 20)
				f = (b & c) | (~b & d), k = 0x5A827999;
			else if (j < 40)
				f = b ^ c ^ d, k = 0x6ED9EBA1;
			else if (j < 60)
				f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
			else
				f = b ^ c ^ d, k = 0xCA62C1D6;
			t = (a << 5 | a >> 27) + f + e + k + w[j];
			e = d, d = c, c = b << 30 | b >> 2, b = a, a = t;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
	}
	for (j = 0; j < 20; j++)
		out[j] = (unsigned char)(h[j / 4] >> (24 - 8 * (j % 4)));
}

static void
base64(const unsigned char *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*out++ = t[in[i] >> 2];
		*out++ = t[(in[i] & 3) << 4 | in[i + 1] >> 4];
		*out++ = t[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
		*out++ = t[in[i + 2] & 63];
	}
	if (n - i == 1) {
		*out++ = t[in[i] >> 2];
		*out++ = t[(in[i] & 3) << 4];
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		*out++ = t[in[i] >> 2];
		*out++ = t[(in[i] & 3) << 4 | in[i + 1] >> 4];
		*out++ = t[(in[i + 1] & 15) << 2];
		*out++ = '=';
	}
	*out = '\0';
}

static int
write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	ssize_t r;

	while (n > 0) {
		if ((r = read(fd, p, n)) <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The value of header name in head (NUL-terminated copy), or NULL. */
static char *
header(const char *head, const char *name, char *out, size_t outlen)
{
	const char *p = strstr(head, "\r\n"), *end;
	size_t n = strlen(name);

	while (p != NULL && p[2] != '\r' && p[2] != '\0') {
		p += 2;
		end = strstr(p, "\r\n");
		if (end == NULL)
			return NULL;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			snprintf(out, outlen, "%.*s", (int)(end - p), p);
			return out;
		}
		p = end;
	}
	return NULL;
}

/* Echoes frames until the peer closes; messages are short in the tests. */
static void
websocket(int fd, const char *key)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char digest[20], hdr[14], mask[4], *payload;
	char cat[1200], accept[64], resp[256];
	uint64_t len;
	int op, n;

	snprintf(cat, sizeof(cat), "%s%s", key, guid);
	sha1((unsigned char *)cat, strlen(cat), digest);
	base64(digest, 20, accept);
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	if (write_all(fd, resp, (size_t)n) == -1)
		return;
	for (;;) {
		if (read_all(fd, hdr, 2) == -1)
			return;
		op = hdr[0] & 15;
		len = hdr[1] & 127;
		if (len == 126) {
			if (read_all(fd, hdr + 2, 2) == -1)
				return;
			len = (uint64_t)hdr[2] << 8 | hdr[3];
		} else if (len == 127) {
			if (read_all(fd, hdr + 2, 8) == -1)
				return;
			len = 0;
			for (n = 2; n < 10; n++)
				len = len << 8 | hdr[n];
		}
		if (len > 1 << 20)
			return;
		memset(mask, 0, sizeof(mask));
		if ((hdr[1] & 128) && read_all(fd, mask, 4) == -1)
			return;
		if ((payload = malloc(len + 1)) == NULL)
			return;
		if (read_all(fd, payload, len) == -1) {
			free(payload);
			return;
		}
		for (uint64_t i = 0; i < len; i++)
			payload[i] ^= mask[i % 4];
		if (op == 9)
			op = 10;		/* ping -> pong */
		n = 0;
		hdr[n++] = (unsigned char)(0x80 | op);
		if (len < 126)
			hdr[n++] = (unsigned char)len;
		else if (len < 65536) {
			hdr[n++] = 126;
			hdr[n++] = (unsigned char)(len >> 8);
			hdr[n++] = (unsigned char)len;
		} else {
			hdr[n++] = 127;
			for (int s = 56; s >= 0; s -= 8)
				hdr[n++] = (unsigned char)(len >> s);
		}
		if (write_all(fd, hdr, (size_t)n) == -1 ||
		    write_all(fd, payload, len) == -1) {
			free(payload);
			return;
		}
		free(payload);
		if (op == 8)
			return;			/* close, echoed */
	}
}

static void
serve(int fd, int port)
{
	char buf[HEAD_MAX + 1];
	char value[1024], *end, out[1536], reply[512];
	size_t have = 0, used;
	long body;
	ssize_t r;
	int n, closing;

	for (;;) {
		while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
			if (have == HEAD_MAX)
				return;
			r = read(fd, buf + have, HEAD_MAX - have);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		used = (size_t)(end - buf) + 4;
		end[2] = '\0';		/* the head, with its last CRLF */
		if (header(buf, "Upgrade", value, sizeof(value)) != NULL &&
		    strcasecmp(value, "websocket") == 0 &&
		    header(buf, "Sec-WebSocket-Key", value, 128) != NULL) {
			websocket(fd, value);
			return;
		}
		body = 0;
		if (header(buf, "Content-Length", value, sizeof(value)) != NULL)
			body = strtol(value, NULL, 10);
		/* HTTP/1.1: "Connection: close" ends it after this answer. */
		closing = header(buf, "Connection", value, sizeof(value)) !=
		    NULL && strcasestr(value, "close") != NULL;
		/* A header line the client asks the answer to carry, as a
		 * page of the workspace could. */
		if (header(buf, "X-Echo-Reply", reply, sizeof(reply) - 2) != NULL &&
		    strpbrk(reply, "\r\n") == NULL)
			strcat(reply, "\r\n");
		else
			reply[0] = '\0';
		snprintf(value, sizeof(value), "port %d\n", port);
		n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\n"
		    "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s%s"
		    "Set-Cookie: app_seen=%d; Path=/\r\n\r\n%s",
		    strlen(value) + strlen(buf),
		    closing ? "Connection: close\r\n" : "", reply, port, value);
		if (write_all(fd, out, (size_t)n) == -1 ||
		    write_all(fd, buf, strlen(buf)) == -1 || closing)
			return;
		/* Drop the body, keep what follows for the next request. */
		if (body < 0 || (size_t)body > HEAD_MAX)
			return;
		while (have - used < (size_t)body) {
			if (have == HEAD_MAX)
				return;
			r = read(fd, buf + have, HEAD_MAX - have);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		used += (size_t)body;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
}

struct job {
	int	fd;
	int	port;
};

static void *
connection(void *arg)
{
	struct job *job = arg;

	serve(job->fd, job->port);
	close(job->fd);
	free(job);
	return NULL;
}

int
main(int argc, char *argv[])
{
	struct job *job;
	pthread_attr_t attr;
	pthread_t t;
	struct pollfd pfd[MAX_PORTS];
	int ports[MAX_PORTS], n = 0, i, one = 1, c;
	struct sockaddr_in sa;

	signal(SIGPIPE, SIG_IGN);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = 1; i < argc && n < MAX_PORTS; i++, n++) {
		ports[n] = atoi(argv[i]);
		if ((pfd[n].fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return 1;
		setsockopt(pfd[n].fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)ports[n]);
		if (bind(pfd[n].fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
		    listen(pfd[n].fd, 512) == -1) {
			perror("wsecho: bind");
			return 1;
		}
		pfd[n].events = POLLIN;
	}
	if (n == 0) {
		fprintf(stderr, "usage: wsecho port...\n");
		return 2;
	}
	printf("wsecho listening\n");
	fflush(stdout);
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) == -1 && errno != EINTR)
			return 1;
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if ((c = accept(pfd[i].fd, NULL, NULL)) == -1)
				continue;
			setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
			if ((job = malloc(sizeof(*job))) == NULL) {
				close(c);
				continue;
			}
			job->fd = c;
			job->port = ports[i];
			if (pthread_create(&t, &attr, connection, job) != 0) {
				free(job);
				close(c);
			}
		}
	}
}
