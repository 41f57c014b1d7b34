/*
 * atok_basic.c - the two Authorization schemes clients send: Basic
 * credentials (RFC 7617) and Bearer tokens (RFC 6750). Scheme names are
 * matched case-insensitively, as distribution does.
 */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "auth_token.h"

const char *atok_bearer_token(const char *header, size_t *len)
{
	const char *p;
	size_t n;

	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	p = header + 7;
	while (*p == ' ')
		p++;
	n = strlen(p);
	while (n > 0 && p[n - 1] == ' ')
		n--;
	if (n == 0)
		return NULL;
	*len = n;
	return p;
}

int atok_basic_parse(const char *header, char *user, size_t user_cap, char *password,
		     size_t password_cap)
{
	unsigned char creds[ATOK_CREDENTIALS_MAX + 1];
	const char *b64, *colon;
	size_t b64_len, user_len, pass_len;
	long n;
	int rc = -1;

	if (!header || strncasecmp(header, "Basic ", 6) != 0)
		return 0;
	b64 = header + 6;
	while (*b64 == ' ')
		b64++;
	b64_len = strlen(b64);
	while (b64_len > 0 && b64[b64_len - 1] == ' ')
		b64_len--;
	n = atok_b64_decode(b64, b64_len, creds, ATOK_CREDENTIALS_MAX);
	if (n <= 0 || memchr(creds, '\0', (size_t)n))
		goto out;
	creds[n] = '\0';
	/* The user name ends at the first colon; the password may hold more. */
	colon = memchr(creds, ':', (size_t)n);
	if (!colon)
		goto out;
	user_len = (size_t)(colon - (const char *)creds);
	pass_len = (size_t)n - user_len - 1;
	if (user_len >= user_cap || pass_len >= password_cap)
		goto out;
	memcpy(user, creds, user_len);
	user[user_len] = '\0';
	memcpy(password, colon + 1, pass_len);
	password[pass_len] = '\0';
	rc = 1;
out:
	OPENSSL_cleanse(creds, sizeof(creds));
	return rc;
}
