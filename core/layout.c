#include "layout.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "berth/error.h"
#include "reference.h"
#include "route.h"

__attribute__((format(printf, 2, 3)))
static int build(layout_key out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, LAYOUT_KEY_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= LAYOUT_KEY_MAX) {
		out[0] = '\0';
		return BERTH_E_INVALID;
	}
	return 0;
}

static int name_ok(const char *name)
{
	return name && repo_name_valid(name);
}

static int tag_ok(const char *tag)
{
	return tag && tag_valid(tag);
}

int layout_blob_dir(layout_key out, const digest *d)
{
	return build(out, LAYOUT_ROOT "/blobs/%s/%.2s/%s", digest_alg_name(d->alg), d->hex, d->hex);
}

int layout_blob_data(layout_key out, const digest *d)
{
	return build(out, LAYOUT_ROOT "/blobs/%s/%.2s/%s/data", digest_alg_name(d->alg), d->hex,
		     d->hex);
}

int layout_repo_dir(layout_key out, const char *name)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s", name);
}

int layout_layer_dir(layout_key out, const char *name, const digest *d)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_layers/%s/%s", name, digest_alg_name(d->alg),
		     d->hex);
}

int layout_layer_link(layout_key out, const char *name, const digest *d)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_layers/%s/%s/link", name,
		     digest_alg_name(d->alg), d->hex);
}

int layout_revision_dir(layout_key out, const char *name, const digest *d)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_manifests/revisions/%s/%s", name,
		     digest_alg_name(d->alg), d->hex);
}

int layout_revision_link(layout_key out, const char *name, const digest *d)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_manifests/revisions/%s/%s/link", name,
		     digest_alg_name(d->alg), d->hex);
}

int layout_tags_dir(layout_key out, const char *name)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_manifests/tags", name);
}

int layout_tag_dir(layout_key out, const char *name, const char *tag)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	if (!tag_ok(tag))
		return BERTH_E_INVALID;
	return build(out, LAYOUT_REPOSITORIES "/%s/_manifests/tags/%s", name, tag);
}

int layout_tag_current(layout_key out, const char *name, const char *tag)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	if (!tag_ok(tag))
		return BERTH_E_INVALID;
	return build(out, LAYOUT_REPOSITORIES "/%s/_manifests/tags/%s/current/link", name, tag);
}

int layout_tag_index_link(layout_key out, const char *name, const char *tag, const digest *d)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	if (!tag_ok(tag))
		return BERTH_E_INVALID;
	return build(out, LAYOUT_REPOSITORIES "/%s/_manifests/tags/%s/index/%s/%s/link", name, tag,
		     digest_alg_name(d->alg), d->hex);
}

int layout_upload_dir(layout_key out, const char *name, const char *uuid)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	if (!upload_uuid_valid(uuid))
		return BERTH_E_INVALID;
	return build(out, LAYOUT_REPOSITORIES "/%s/_uploads/%s", name, uuid);
}

int layout_upload_data(layout_key out, const char *name, const char *uuid)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	if (!upload_uuid_valid(uuid))
		return BERTH_E_INVALID;
	return build(out, LAYOUT_REPOSITORIES "/%s/_uploads/%s/data", name, uuid);
}

int layout_upload_startedat(layout_key out, const char *name, const char *uuid)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	if (!upload_uuid_valid(uuid))
		return BERTH_E_INVALID;
	return build(out, LAYOUT_REPOSITORIES "/%s/_uploads/%s/startedat", name, uuid);
}

int layout_referrers_dir(layout_key out, const char *name, const digest *subject)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_berth/referrers/%s/%s", name,
		     digest_alg_name(subject->alg), subject->hex);
}

int layout_referrer_entry(layout_key out, const char *name, const digest *subject,
			  const digest *referrer)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_berth/referrers/%s/%s/%s-%s", name,
		     digest_alg_name(subject->alg), subject->hex, digest_alg_name(referrer->alg),
		     referrer->hex);
}

int layout_tag_list(layout_key out, const char *name)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_berth/tags", name);
}

int layout_revisions_alg_dir(layout_key out, const char *name, int alg)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_manifests/revisions/%s", name,
		     digest_alg_name(alg));
}

int layout_pulled(layout_key out, const char *name, const digest *d)
{
	if (!name_ok(name))
		return BERTH_E_NAME;
	return build(out, LAYOUT_REPOSITORIES "/%s/_berth/pulled/%s/%s", name,
		     digest_alg_name(d->alg), d->hex);
}

int layout_parse_link(const char *buf, size_t len, digest *out)
{
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	return digest_parse_n(buf, len, out) == 0 ? 0 : BERTH_E_INVALID;
}
