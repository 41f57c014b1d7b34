/*
 * reference.c - scanners for repository names, tags and references.
 */
#include "reference.h"

#include <string.h>

#include "berth/error.h"

static int is_lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_tag_char(unsigned char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == '.' || c == '-';
}

/*
 * One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*. Returns the
 * number of bytes it spans from name[i], or 0 when it is malformed. The
 * component ends at '/' or at len; the caller checks which.
 */
static size_t name_component_len(const char *name, size_t len, size_t i)
{
	size_t start = i;

	for (;;) {
		if (i >= len || !is_lower_alnum((unsigned char)name[i]))
			return 0;
		while (i < len && is_lower_alnum((unsigned char)name[i]))
			i++;
		if (i >= len || name[i] == '/')
			return i - start;
		switch (name[i]) {
		case '.':
			i++;
			break;
		case '_':
			i++;
			if (i < len && name[i] == '_')
				i++;
			break;
		case '-':
			while (i < len && name[i] == '-')
				i++;
			break;
		default:
			return 0;
		}
	}
}

int repo_name_valid_n(const char *name, size_t len)
{
	size_t i = 0, n;

	if (!name || len == 0 || len > REPO_NAME_MAX)
		return 0;
	for (;;) {
		n = name_component_len(name, len, i);
		if (n == 0)
			return 0;
		i += n;
		if (i == len)
			return 1;
		/* name[i] is '/': another component must follow. */
		i++;
	}
}

int repo_name_valid(const char *name)
{
	if (!name)
		return 0;
	/* Looking one byte past the limit is enough to reject a long name. */
	return repo_name_valid_n(name, strnlen(name, REPO_NAME_MAX + 1));
}

int tag_valid(const char *tag)
{
	size_t i;

	if (!tag || tag[0] == '\0' || tag[0] == '.' || tag[0] == '-')
		return 0;
	for (i = 0; tag[i] != '\0'; i++) {
		if (i >= TAG_MAX || !is_tag_char((unsigned char)tag[i]))
			return 0;
	}
	return 1;
}

int reference_classify(const char *ref, digest *d_out)
{
	digest d;
	int rc;

	if (!ref)
		return REF_INVALID;
	/* A tag never contains ':', a digest always does. */
	if (!strchr(ref, ':'))
		return tag_valid(ref) ? REF_TAG : REF_INVALID;
	rc = digest_parse(ref, &d);
	if (rc == BERTH_E_UNSUPPORTED)
		return REF_UNSUPPORTED;
	if (rc != 0)
		return REF_INVALID;
	if (d_out)
		*d_out = d;
	return REF_DIGEST;
}
