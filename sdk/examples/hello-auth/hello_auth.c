/*
 * hello_auth.c - an auth plugin: HTTP Basic auth for exactly one user.
 *
 * Once any auth plugin is loaded, every request needs to be allowed each
 * access it asks for (repository:team/app:push, registry:base:login, ...).
 * Berth asks the auth hooks three questions:
 *
 *   authenticate()  who sent this request?
 *   authorize()     may that identity do this one access?
 *   challenge()     what goes in WWW-Authenticate when the answer is 401?
 *
 * This plugin knows one user and one password from its config and lets
 * that user do everything. Anybody else gets a 401 with a Basic challenge,
 * which makes `docker login`, `podman login` and skopeo --creds work.
 *
 *   plugins:
 *     - use: hello-auth
 *       config:
 *         user: ci
 *         password: ${HELLO_AUTH_PASSWORD}
 *         realm: "my registry"
 *
 * Basic auth sends the password with every request: serve Berth with TLS
 * (the `tls:` section) when this leaves the machine.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <berth/plugin.h>

/* user:password longer than this is refused without decoding it. */
#define CREDENTIALS_MAX 1024

struct hello_auth {
	const berth_host *host;
	const berth_instance *self;
	char *user;
	char *password;
	char *realm;
};

static const berth_config_key hello_schema[] = {
	{ .key = "user", .type = BERTH_CONFIG_STRING, .flags = BERTH_CONFIG_REQUIRED,
	  .help = "the one user name accepted" },
	/* SECRET: `berth config check` and the logs print ******** instead. */
	{ .key = "password", .type = BERTH_CONFIG_STRING,
	  .flags = BERTH_CONFIG_REQUIRED | BERTH_CONFIG_SECRET,
	  .help = "that user's password; use ${VAR} to keep it out of the file" },
	{ .key = "realm", .type = BERTH_CONFIG_STRING, .default_value = "berth",
	  .help = "the realm clients show when they ask for a password" },
	{ .type = BERTH_CONFIG_END }
};

BERTH_PRINTF(3, 4)
static int fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

static void hello_destroy(void *state)
{
	struct hello_auth *a = state;

	if (!a)
		return;
	free(a->user);
	if (a->password)
		memset(a->password, 0, strlen(a->password));
	free(a->password);
	free(a->realm);
	free(a);
}

/* The realm goes inside a quoted header parameter: keep it plain. */
static int realm_ok(const char *realm)
{
	for (; *realm; realm++)
		if ((unsigned char)*realm < 0x20 || *realm == 0x7f || *realm == '"' ||
		    *realm == '\\')
			return 0;
	return 1;
}

static int hello_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	const char *user, *password, *realm;
	struct hello_auth *a;

	if (!BERTH_HOST_HAS(host, request_header))
		return fail(err, BERTH_E_UNSUPPORTED, "hello-auth: this Berth is too old");
	user = host->config_string(config, "user");
	password = host->config_string(config, "password");
	realm = host->config_string(config, "realm");
	if (!realm)
		realm = "berth";
	/* Basic auth splits "user:password" at the first colon. */
	if (!user || !*user || strchr(user, ':') || strlen(user) >= BERTH_IDENTITY_NAME_MAX)
		return fail(err, BERTH_E_CONFIG,
			    "hello-auth: 'user' must be 1 to %d bytes without ':'",
			    BERTH_IDENTITY_NAME_MAX - 1);
	if (!password || !*password || strlen(user) + 1 + strlen(password) > CREDENTIALS_MAX)
		return fail(err, BERTH_E_CONFIG,
			    "hello-auth: 'password' must be 1 to %zu bytes",
			    CREDENTIALS_MAX - 1 - strlen(user));
	if (!realm_ok(realm))
		return fail(err, BERTH_E_CONFIG,
			    "hello-auth: 'realm' may not hold quotes, backslashes or control characters");

	a = calloc(1, sizeof(*a));
	if (!a)
		return fail(err, BERTH_E_NOMEM, "hello-auth: out of memory");
	a->host = host;
	a->self = self;
	a->user = strdup(user);
	a->password = strdup(password);
	a->realm = strdup(realm);
	if (!a->user || !a->password || !a->realm) {
		hello_destroy(a);
		return fail(err, BERTH_E_NOMEM, "hello-auth: out of memory");
	}
	/* Never log the password, not even its length. */
	host->log(self, BERTH_LOG_INFO, "one user, '%s', realm '%s'", a->user, a->realm);
	*state = a;
	return 0;
}

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode standard base64 (RFC 4648, with '=' padding) into out, which has
 * room for cap bytes plus a NUL. Returns the decoded length, or -1 for
 * anything that is not well-formed base64 or does not fit.
 */
static long base64_decode(const char *in, size_t in_len, char *out, size_t cap)
{
	size_t i, n = 0;
	unsigned bits = 0;
	int nbits = 0, pad = 0;

	if (in_len == 0 || in_len % 4 != 0)
		return -1;
	for (i = 0; i < in_len; i++) {
		int v;

		if (in[i] == '=') {
			/* Padding: at most two, and only at the very end. */
			if (++pad > 2 || i < in_len - 2)
				return -1;
			continue;
		}
		if (pad)
			return -1;
		v = base64_value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		bits = (bits << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (char)((bits >> nbits) & 0xff);
		}
	}
	out[n] = '\0';
	return (long)n;
}

/* Compare without stopping at the first difference, so the time taken does
 * not tell an attacker how much of a guess was right. */
static int same_secret(const char *a, size_t a_len, const char *b)
{
	size_t b_len = strlen(b), i;
	unsigned char diff = a_len != b_len;

	for (i = 0; i < a_len; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (b_len ? b_len : 1)]);
	return diff == 0;
}

/*
 * Who is this? 0 with id->name filled: our user. BERTH_DECLINED: no Basic
 * credentials, so another auth plugin may know the request (or it stays
 * anonymous). BERTH_E_UNAUTHORIZED: Basic credentials that are wrong, and
 * Berth answers 401 at once.
 */
static int hello_authenticate(void *state, const berth_request *req, berth_identity *id,
			      berth_error *err)
{
	struct hello_auth *a = state;
	const char *header = a->host->request_header(req, "Authorization");
	char creds[CREDENTIALS_MAX + 1];
	const char *b64, *colon;
	size_t b64_len, user_len;
	long len;
	int ok;

	if (!header || strncasecmp(header, "Basic ", 6) != 0)
		return BERTH_DECLINED;
	b64 = header + 6;
	while (*b64 == ' ')
		b64++;
	b64_len = strlen(b64);
	while (b64_len > 0 && b64[b64_len - 1] == ' ')
		b64_len--;
	len = base64_decode(b64, b64_len, creds, CREDENTIALS_MAX);
	colon = len > 0 ? memchr(creds, ':', (size_t)len) : NULL;
	if (!colon)
		return fail(err, BERTH_E_UNAUTHORIZED, "malformed basic credentials");

	user_len = (size_t)(colon - creds);
	/* Check both halves whatever the first gives: same time either way. */
	ok = same_secret(creds, user_len, a->user);
	ok &= same_secret(colon + 1, (size_t)len - user_len - 1, a->password);
	memset(creds, 0, sizeof(creds));
	if (!ok)
		return fail(err, BERTH_E_UNAUTHORIZED, "invalid username or password");

	snprintf(id->name, sizeof(id->name), "%s", a->user);
	id->groups[0] = '\0';
	return 0;
}

/*
 * May `id` do `access`? Our user may do anything, including
 * registry:base:login (what `docker login` asks with GET /v2/). The
 * anonymous identity may do nothing: that DENIED makes Berth answer 401
 * with our challenge, so clients send credentials and try again. Someone
 * another auth plugin vouched for is that plugin's business.
 */
static int hello_authorize(void *state, const berth_request *req, const berth_identity *id,
			   const berth_access *access, berth_error *err)
{
	struct hello_auth *a = state;

	(void)req;
	if (id && strcmp(id->name, a->user) == 0)
		return 0;
	if (!id || id->name[0] == '\0')
		return fail(err, BERTH_E_DENIED, "authentication required for %s:%s:%s",
			    access && access->type ? access->type : "?",
			    access && access->name ? access->name : "?",
			    access && access->action ? access->action : "?");
	return BERTH_DECLINED;
}

static int hello_challenge(void *state, const berth_request *req, const berth_access *accesses,
			   size_t n_accesses, char *out, size_t cap)
{
	struct hello_auth *a = state;
	int n;

	(void)req;
	(void)accesses;
	(void)n_accesses;
	n = snprintf(out, cap, "Basic realm=\"%s\"", a->realm);
	if (n < 0 || (size_t)n >= cap)
		return BERTH_DECLINED;
	return 0;
}

static const berth_auth_ops hello_auth_ops = {
	.size = sizeof(berth_auth_ops),
	.priority = 0,
	.authenticate = hello_authenticate,
	.authorize = hello_authorize,
	.challenge = hello_challenge,
};

static const berth_plugin hello_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "hello-auth",
	.version = "0.1.0",
	.description = "HTTP Basic auth for exactly one user",
	.config_schema = hello_schema,
	.create = hello_create,
	.destroy = hello_destroy,
	.auth = &hello_auth_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &hello_plugin;
}
