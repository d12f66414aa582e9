#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include "json.h"
#include "oidc.h"

/* ------------------------------------------------------------ the files */

struct loading {
	struct oidc_provider	*p;
	bool			 issuer, client_id;
};

static int
choose(const char *v, const char *const *names, int *out)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

static int
copy(char *dst, size_t len, const char *v, const char *key, char *err,
    size_t errlen)
{
	if (strlen(v) >= len) {
		snprintf(err, errlen, "%s is too long", key);
		return -1;
	}
	snprintf(dst, len, "%s", v);
	return 0;
}

static int
provider_line(void *arg, char *line, char *err, size_t errlen)
{
	static const char *const auths[] = { "auto", "client_secret_basic",
	    "client_secret_post", NULL };
	static const char *const emails[] = { "refuse", "trust", "subject",
	    NULL };
	struct loading *l = arg;
	struct oidc_provider *p = l->p;
	char *key, *v;
	int r, i;

	if ((r = conf_split(line, &key, &v, err, errlen)) <= 0)
		return r;
	if (strcmp(key, "issuer") == 0) {
		l->issuer = true;
		return copy(p->issuer, sizeof(p->issuer), v, key, err, errlen);
	}
	if (strcmp(key, "client_id") == 0) {
		l->client_id = true;
		return copy(p->client_id, sizeof(p->client_id), v, key, err,
		    errlen);
	}
	if (strcmp(key, "client_secret") == 0)
		return copy(p->client_secret, sizeof(p->client_secret), v, key,
		    err, errlen);
	if (strcmp(key, "display_name") == 0)
		return copy(p->display_name, sizeof(p->display_name), v, key,
		    err, errlen);
	if (strcmp(key, "scopes") == 0)
		return copy(p->scopes, sizeof(p->scopes), v, key, err, errlen);
	if (strcmp(key, "token_auth_method") == 0) {
		if (choose(v, auths, &i) == -1) {
			snprintf(err, errlen, "token_auth_method must be auto, "
			    "client_secret_basic or client_secret_post");
			return -1;
		}
		p->auth = (enum oidc_auth)i;
		return 0;
	}
	if (strcmp(key, "without_email_verified") == 0) {
		if (choose(v, emails, &i) == -1) {
			snprintf(err, errlen, "without_email_verified must be "
			    "refuse, trust or subject");
			return -1;
		}
		p->email = (enum oidc_email)i;
		return 0;
	}
	if (strcmp(key, "allow_http") == 0) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
			snprintf(err, errlen, "allow_http must be yes or no");
			return -1;
		}
		p->allow_http = strcmp(v, "yes") == 0;
		return 0;
	}
	snprintf(err, errlen, "unknown key '%.64s'", key);
	return -1;
}

bool
oidc_url_ok(const struct oidc_provider *p, const char *url)
{
	const char *host;

	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (p->allow_http && strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else
		return false;
	return *host != '\0' && *host != '/' && strlen(url) < CONF_STR_MAX &&
	    strpbrk(url, " \t\r\n\"'<>\\") == NULL;
}

/* A provider's name is part of its callback path and its audit name. */
static bool
name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 32 || (n == 6 && strncmp(s, "github", 6) == 0))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || (s[i] == '-' && i > 0)))
			return false;
	return true;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct oidc_provider *)a)->name,
	    ((const struct oidc_provider *)b)->name);
}

static int
load_one(const char *dir, const char *file, size_t namelen,
    struct oidc_provider *p, conf_error_fn errfn, void *ctx)
{
	struct loading l = { p, false, false };
	char path[CONF_STR_MAX + 64];
	size_t len;
	char *buf;
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%.*s", (int)namelen, file);
	snprintf(p->scopes, sizeof(p->scopes), "openid email profile");
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((buf = conf_read(path, &len, errfn, ctx)) == NULL)
		return -1;
	rc = conf_lines(path, buf, len, provider_line, &l, errfn, ctx);
	free(buf);
	if (rc == -1)
		return -1;
	if (!l.issuer || !l.client_id) {
		errfn(ctx, path, "issuer and client_id are required");
		return -1;
	}
	if (!oidc_url_ok(p, p->issuer)) {
		errfn(ctx, path, "issuer must be an https URL (allow_http = "
		    "yes allows http, for tests)");
		return -1;
	}
	if (strstr(p->scopes, "openid") == NULL) {
		errfn(ctx, path, "scopes must include openid");
		return -1;
	}
	if (p->display_name[0] == '\0')
		snprintf(p->display_name, sizeof(p->display_name), "%s",
		    p->name);
	return 0;
}

int
oidc_load(const char *dir, struct oidc_provider *out, int max, int *n,
    conf_error_fn errfn, void *ctx)
{
	struct dirent *e;
	size_t len;
	DIR *d;
	int errors = 0;

	*n = 0;
	if (dir[0] == '\0')
		return 0;
	if ((d = opendir(dir)) == NULL) {
		/* No directory: no providers.  One that cannot be read is
		 * an error, not a silent absence of every provider. */
		if (errno == ENOENT)
			return 0;
		errfn(ctx, dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
			continue;
		if (!name_ok(e->d_name, len - 5)) {
			errfn(ctx, e->d_name, "a provider's file is NAME.conf, "
			    "NAME of lower-case letters, digits and '-', not "
			    "github");
			errors++;
			continue;
		}
		if (*n == max) {
			errfn(ctx, dir, "too many providers");
			errors++;
			break;
		}
		if (load_one(dir, e->d_name, len - 5, &out[*n], errfn, ctx)
		    == -1)
			errors++;
		else
			(*n)++;
	}
	closedir(d);
	qsort(out, (size_t)*n, sizeof(*out), by_name);
	return errors ? -1 : 0;
}

/* ---------------------------------------------------------- the token */

static unsigned char *
unb64(struct arena *a, const char *s, size_t slen, size_t *out)
{
	unsigned char *buf = arena_alloc(a, slen + 1);

	if (sodium_base642bin(buf, slen + 1, s, slen, NULL, out, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return NULL;
	return buf;
}

static const char *
str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static BIGNUM *
jwk_bn(struct arena *a, struct json_object *jwk, const char *k, size_t *len)
{
	const char *v = str(jwk, k);
	unsigned char *b;
	size_t n;

	if (v == NULL || (b = unb64(a, v, strlen(v), &n)) == NULL || n == 0)
		return NULL;
	if (len != NULL)
		*len = n;
	return BN_bin2bn(b, (int)n, NULL);
}

/* An RSA public key from n and e, or an EC P-256 one from x and y. */
static EVP_PKEY *
jwk_key(struct arena *a, struct json_object *jwk, bool rsa)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	BIGNUM *x = NULL, *y = NULL;
	unsigned char pub[65];
	size_t xl = 0, yl = 0;

	if (bld == NULL)
		goto out;
	if (rsa) {
		x = jwk_bn(a, jwk, "n", NULL);
		y = jwk_bn(a, jwk, "e", NULL);
		if (x == NULL || y == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, x) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, y))
			goto out;
	} else {
		x = jwk_bn(a, jwk, "x", &xl);
		y = jwk_bn(a, jwk, "y", &yl);
		if (x == NULL || y == NULL || xl != 32 || yl != 32)
			goto out;
		pub[0] = 0x04;
		if (BN_bn2binpad(x, pub + 1, 32) != 32 ||
		    BN_bn2binpad(y, pub + 33, 32) != 32 ||
		    !OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)))
			goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, rsa ? "RSA" : "EC",
	    NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		key = NULL;
	/* A short RSA modulus signs nothing we trust. */
	if (key != NULL && rsa && EVP_PKEY_get_bits(key) < 2048) {
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(x);
	BN_free(y);
	return key;
}

/* A JWS ES256 signature is r || s; OpenSSL verifies DER. */
static unsigned char *
es256_der(struct arena *a, const unsigned char *sig, size_t len, size_t *out)
{
	ECDSA_SIG *s;
	BIGNUM *r, *ss;
	unsigned char *der = NULL, *copy;
	int n;

	if (len != 64 || (s = ECDSA_SIG_new()) == NULL)
		return NULL;
	r = BN_bin2bn(sig, 32, NULL);
	ss = BN_bin2bn(sig + 32, 32, NULL);
	if (r == NULL || ss == NULL || ECDSA_SIG_set0(s, r, ss) != 1) {
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(s);
		return NULL;
	}
	if ((n = i2d_ECDSA_SIG(s, &der)) <= 0) {
		ECDSA_SIG_free(s);
		return NULL;
	}
	copy = arena_alloc(a, (size_t)n);
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	ECDSA_SIG_free(s);
	*out = (size_t)n;
	return copy;
}

static bool
signed_by(struct arena *a, struct json_object *jwk, bool rsa,
    const char *input, size_t inlen, const unsigned char *sig, size_t siglen)
{
	EVP_PKEY *key = jwk_key(a, jwk, rsa);
	EVP_MD_CTX *md = NULL;
	bool ok = false;

	if (key == NULL)
		return false;
	if (!rsa && (sig = es256_der(a, sig, siglen, &siglen)) == NULL)
		goto out;
	if ((md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)input,
	    inlen) == 1)
		ok = true;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	return ok;
}

/* Is this key one that may have signed with alg (and kid, if named)? */
static bool
candidate(struct json_object *jwk, const char *alg, const char *kid)
{
	bool rsa = strcmp(alg, "RS256") == 0;
	const char *v;

	if ((v = str(jwk, "kty")) == NULL || strcmp(v, rsa ? "RSA" : "EC"))
		return false;
	if (!rsa && ((v = str(jwk, "crv")) == NULL || strcmp(v, "P-256")))
		return false;
	if ((v = str(jwk, "use")) != NULL && strcmp(v, "sig") != 0)
		return false;
	if ((v = str(jwk, "alg")) != NULL && strcmp(v, alg) != 0)
		return false;
	return kid == NULL || ((v = str(jwk, "kid")) != NULL &&
	    strcmp(v, kid) == 0);
}

static enum oidc_result
bad(const char **why, const char *reason)
{
	*why = reason;
	return OIDC_BAD;
}

static enum oidc_result
check_signature(struct arena *a, const char *jwt, const char *d1,
    const char *d2, struct json_object *jwks, const char **why)
{
	struct json_object *hdr, *keys;
	const char *alg, *kid;
	unsigned char *raw, *sig;
	size_t n, siglen, i;
	bool any = false;

	if ((raw = unb64(a, jwt, (size_t)(d1 - jwt), &n)) == NULL ||
	    json_parse(a, (const char *)raw, n, &hdr) != JSON_OK ||
	    !json_object_is_type(hdr, json_type_object))
		return bad(why, "the ID token is not a signed JWT");
	/* Only what the token's alg says and we know; "none" never. */
	if ((alg = str(hdr, "alg")) == NULL || (strcmp(alg, "RS256") != 0 &&
	    strcmp(alg, "ES256") != 0))
		return bad(why, "the ID token is not signed with RS256 or ES256");
	if (json_object_object_get_ex(hdr, "crit", NULL))
		return bad(why, "the ID token has critical header parameters");
	kid = str(hdr, "kid");
	if ((sig = unb64(a, d2 + 1, strlen(d2 + 1), &siglen)) == NULL ||
	    siglen == 0)
		return bad(why, "the ID token's signature is not readable");
	if (jwks == NULL || !json_object_object_get_ex(jwks, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array))
		return OIDC_NO_KEY;
	for (i = 0; i < json_object_array_length(keys); i++) {
		struct json_object *k = json_object_array_get_idx(keys, i);
		if (!candidate(k, alg, kid))
			continue;
		any = true;
		if (signed_by(a, k, strcmp(alg, "RS256") == 0, jwt,
		    (size_t)(d2 - jwt), sig, siglen))
			return OIDC_OK;
	}
	if (!any)
		return OIDC_NO_KEY;
	return bad(why, "the ID token's signature does not verify");
}

static bool
num(struct json_object *c, const char *k, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(c, k, &v) ||
	    !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* aud is the client (a string, or an array with it), azp too if given. */
static bool
audience_ok(struct json_object *c, const char *client_id)
{
	struct json_object *aud;
	const char *azp = str(c, "azp");
	size_t i, n;
	bool found = false;

	if (!json_object_object_get_ex(c, "aud", &aud))
		return false;
	if (json_object_is_type(aud, json_type_string))
		found = strcmp(json_object_get_string(aud), client_id) == 0;
	else if (json_object_is_type(aud, json_type_array)) {
		n = json_object_array_length(aud);
		for (i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(aud,
			    i);
			found |= json_object_is_type(e, json_type_string) &&
			    strcmp(json_object_get_string(e), client_id) == 0;
		}
		/* Several audiences: the one it is for must say so. */
		if (n > 1 && azp == NULL)
			return false;
	}
	return found && (azp == NULL || strcmp(azp, client_id) == 0);
}

enum oidc_result
oidc_verify(struct arena *a, const char *jwt, struct json_object *jwks,
    const char *issuer, const char *client_id, const char *nonce, int64_t now,
    struct json_object **claims, const char **why)
{
	const char *d1, *d2, *v;
	struct json_object *c;
	enum oidc_result r;
	unsigned char *raw;
	int64_t exp, iat;
	size_t n;

	*claims = NULL;
	if (jwt == NULL || strlen(jwt) > 16384 || (d1 = strchr(jwt, '.')) ==
	    NULL || (d2 = strchr(d1 + 1, '.')) == NULL ||
	    strchr(d2 + 1, '.') != NULL)
		return bad(why, "no usable ID token");
	if ((r = check_signature(a, jwt, d1, d2, jwks, why)) != OIDC_OK)
		return r;
	if ((raw = unb64(a, d1 + 1, (size_t)(d2 - d1 - 1), &n)) == NULL ||
	    json_parse(a, (const char *)raw, n, &c) != JSON_OK ||
	    !json_object_is_type(c, json_type_object))
		return bad(why, "the ID token's claims are not readable");
	if ((v = str(c, "iss")) == NULL || strcmp(v, issuer) != 0)
		return bad(why, "ID token from another issuer");
	if (!audience_ok(c, client_id))
		return bad(why, "ID token for another audience");
	if (!num(c, "exp", &exp) || exp + OIDC_LEEWAY <= now)
		return bad(why, "ID token expired");
	if (!num(c, "iat", &iat) || iat > now + OIDC_LEEWAY ||
	    iat + 600 + OIDC_LEEWAY < now)
		return bad(why, "ID token issued at another time");
	if ((v = str(c, "nonce")) == NULL || nonce == NULL ||
	    strcmp(v, nonce) != 0)
		return bad(why, "ID token for another sign-in");
	if ((v = str(c, "sub")) == NULL || *v == '\0' || strlen(v) > 255)
		return bad(why, "ID token without subject");
	*claims = c;
	return OIDC_OK;
}
