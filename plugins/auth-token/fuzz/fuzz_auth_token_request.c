/*
 * fuzz_auth_token_request.c - the other parsers of client bytes and
 * operator files: token request forms and scopes, Basic credentials,
 * users and robots files, policy rules and RFC 3339 times.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 8), out[4096], user[129], password[1024];
	atok_access_list l = {0};
	atok_accounts a = {0};
	atok_rules r = {0};
	size_t bad = 0;
	int64_t t;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	for (size_t i = 0; i < 3; i++)
		if (atok_form_value(text, size, "scope", i, out, sizeof(out)) == 1)
			atok_scope_parse(out, &l, &bad);
	atok_scope_parse(text, &l, &bad);
	atok_access_list_scope(&l, out, sizeof(out));
	atok_access_list_free(&l);

	atok_users_parse(text, size, &a, NULL, NULL);
	atok_robots_parse(text, size, &a, NULL, NULL);
	atok_accounts_index(&a, NULL, NULL);
	atok_accounts_free(&a);

	atok_rules_add_policy(&r, text, out, sizeof(out));
	atok_rules_add_grant(&r, text, out, sizeof(out));
	if (r.n)
		atok_glob_match(r.v[0].pattern, text);
	atok_rules_free(&r);
	atok_rfc3339_parse(text, &t);

	memmove(text + 6, text, size + 1);
	memcpy(text, "Basic ", 6);
	atok_basic_parse(text, user, sizeof(user), password, sizeof(password));
	free(text);
	return 0;
}
