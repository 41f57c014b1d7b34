/*
 * retention_json.c - one repository's plan as JSON, for the plan route:
 * the same tags and manifests, in the same order and with the same
 * reasons, as the job's dry-run table.
 *
 *   {"repository": "team/app",
 *    "tags": {"total": 6, "delete": 2}, "manifests": {"total": 5, "delete": 2},
 *    "bytes": 1536,
 *    "delete_tags": [{"tag": "ci-1", "digest": "sha256:...",
 *                     "reason": "policy 'ci': no rule keeps it"}],
 *    "delete_manifests": [{"digest": "sha256:...", "size": 524,
 *                          "reason": "its last tag is deleted", "because_of": null}]}
 */
#include <stdlib.h>

#include <jansson.h>

#include "retention.h"

static int put(json_t *obj, const char *key, json_t *v)
{
	return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *tag_entry(const struct retention_rules *rules, const struct retention_repo_in *in,
			 const struct retention_plan *plan, size_t i)
{
	json_t *o = json_object();
	char why[200];

	if (!o)
		return NULL;
	if (put(o, "tag", json_string(in->tags[i].name)) < 0 ||
	    put(o, "digest", json_string(in->tags[i].digest)) < 0 ||
	    put(o, "reason", json_string(retention_tag_reason(rules, &plan->tags[i], why,
							       sizeof(why)))) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *manifest_entry(const struct retention_repo_in *in,
			      const struct retention_plan *plan, size_t m)
{
	const struct retention_manifest_out *out = &plan->manifests[m];
	json_t *o = json_object(), *related = json_null();

	if (!o)
		return NULL;
	if (out->reason == RETENTION_M_CHILD_OF_DELETED ||
	    out->reason == RETENTION_M_REFERRER_OF_DELETED)
		related = json_string(in->manifests[out->related].digest);
	if (put(o, "digest", json_string(in->manifests[m].digest)) < 0 ||
	    put(o, "size", json_integer((json_int_t)in->manifests[m].size)) < 0 ||
	    put(o, "reason", json_string(retention_manifest_reason_text(out->reason))) < 0 ||
	    put(o, "because_of", related) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *counts(size_t total, size_t deleted)
{
	return json_pack("{sIsI}", "total", (json_int_t)total, "delete", (json_int_t)deleted);
}

json_t *retention_plan_json_repo(const struct retention_rules *rules,
				 const struct retention_repo_in *in,
				 const struct retention_plan *plan)
{
	json_t *o = json_object(), *tags = json_array(), *manifests = json_array();
	size_t i;
	int rc;

	if (!o || !tags || !manifests)
		goto fail;
	for (i = 0; i < in->n_tags; i++) {
		int v = plan->tags[i].verdict;

		if ((v == RETENTION_TAG_DELETE || v == RETENTION_TAG_REFERRER_DELETE) &&
		    json_array_append_new(tags, tag_entry(rules, in, plan, i)) < 0)
			goto fail;
	}
	for (i = 0; i < plan->n_order; i++)
		if (json_array_append_new(manifests, manifest_entry(in, plan, plan->order[i])) < 0)
			goto fail;
	if (put(o, "repository", json_string(in->repository)) < 0 ||
	    put(o, "tags", counts(in->n_tags, plan->n_tags_deleted)) < 0 ||
	    put(o, "manifests", counts(in->n_manifests, plan->n_order)) < 0 ||
	    put(o, "bytes", json_integer((json_int_t)plan->bytes)) < 0)
		goto fail;
	/* json_object_set_new() takes the value whether it succeeds or not. */
	rc = json_object_set_new(o, "delete_tags", tags);
	tags = NULL;
	if (rc < 0)
		goto fail;
	rc = json_object_set_new(o, "delete_manifests", manifests);
	manifests = NULL;
	if (rc < 0)
		goto fail;
	return o;
fail:
	json_decref(tags);
	json_decref(manifests);
	json_decref(o);
	return NULL;
}
