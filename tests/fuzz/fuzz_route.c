/*
 * fuzz_route.c - request paths.
 *
 * The route must stay inside its buffers and keep its promises: a name
 * marked valid passes the grammar, a uuid accepted is 36 bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth/error.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	route r;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	rc = route_parse(s, &r);
	if (rc != 0 && rc != BERTH_E_NAME && rc != BERTH_E_INVALID)
		abort();
	if (r.kind < ROUTE_NOT_FOUND || r.kind > ROUTE_REFERRERS)
		abort();
	if (memchr(r.name, '\0', sizeof(r.name)) == NULL ||
	    memchr(r.ref, '\0', sizeof(r.ref)) == NULL)
		abort();
	if (r.name_valid != repo_name_valid(r.name))
		abort();
	if (r.name_valid && (strstr(r.name, "..") || strstr(r.name, "//")))
		abort();
	if (r.kind == ROUTE_OTHER && strncmp(s, "/v2/", 4) == 0)
		abort();

	if (upload_uuid_valid(s) && strlen(s) != 36)
		abort();

	free(s);
	return 0;
}
