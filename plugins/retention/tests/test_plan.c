/*
 * test_plan.c - the retention plan as a table of cases: policies (YAML, as
 * an operator writes them) and a repository's tags and manifests with
 * their push and pull times in, the tags kept and the manifests deleted
 * out. Each case goes through the real policy parser and the real engine.
 *
 * Tags:      "NAME=M@PUSHED/PULLED"  days ago; PULLED "-" is never pulled.
 *            NAME "sig:X" stands for cosign's sha256-<digest of X>.sig.
 * Manifests: "M@PUSHED c=X,Y s=Z b=L/SIZE,K/SIZE z=SIZE"
 *            c: an index of X and Y; s: a referrer of Z; b: config and
 *            layer blobs; z: the manifest's own size (default 100).
 *            Manifests only named by a tag are made with the tag's push time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_host.h"
#include "retention.h"

#define NOW_MS 1700000000000LL
#define MAX_ITEMS 64

struct tcase {
	const char *name;
	const char *policies;
	const char *immutable;          /* a YAML flow list's items, or NULL */
	int keep_referrers;             /* delete_referrers: false */
	const char *repository;         /* NULL: team/app */
	const char *tags;               /* "; "-separated */
	const char *manifests;
	const char *kept;               /* tags kept, sorted, space-separated */
	const char *deleted;            /* manifests deleted, sorted */
	const char *order;              /* when set: the deletion order */
	long long bytes;                /* when >= 0: the bytes the plan frees */
};

static const struct tcase cases[] = {
	/* --- each rule alone ------------------------------------------------ */
	{ .name = "keep_last_pushed keeps the N most recent",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 2\n",
	  .tags = "a=A@5/-; b=B@4/-; c=C@3/-; d=D@1/-",
	  .kept = "c d", .deleted = "A B", .bytes = -1 },
	{ .name = "keep_last_pushed: 0 deletes every tag it selects",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 0\n",
	  .tags = "a=A@5/-; b=B@4/-",
	  .kept = "", .deleted = "A B", .bytes = -1 },
	{ .name = "keep_last_pushed ties break by name",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n",
	  .tags = "b=B@2/-; a=A@2/-",
	  .kept = "a", .deleted = "B", .bytes = -1 },
	{ .name = "keep_last_pulled ranks only what was pulled",
	  .policies = "- repositories: ['**']\n  keep_last_pulled: 2\n",
	  .tags = "a=A@9/1; b=B@9/5; c=C@9/3; d=D@1/-",
	  .kept = "a c", .deleted = "B D", .bytes = -1 },
	{ .name = "keep_last_pulled: tags never pulled do not fill the count",
	  .policies = "- repositories: ['**']\n  keep_last_pulled: 3\n",
	  .tags = "a=A@9/1; b=B@9/5; c=C@1/-",
	  .kept = "a b", .deleted = "C", .bytes = -1 },
	{ .name = "keep_pushed_within days",
	  .policies = "- repositories: ['**']\n  keep_pushed_within: 7\n",
	  .tags = "old=A@8/-; new=B@6/-; edge=C@7/-",
	  .kept = "edge new", .deleted = "A", .bytes = -1 },
	{ .name = "keep_pushed_within a duration",
	  .policies = "- repositories: ['**']\n  keep_pushed_within: 12h\n",
	  .tags = "a=A@1/-; b=B@0.25/-",
	  .kept = "b", .deleted = "A", .bytes = -1 },
	{ .name = "keep_pulled_within, never pulled is not kept",
	  .policies = "- repositories: ['**']\n  keep_pulled_within: 30d\n",
	  .tags = "a=A@90/10; b=B@90/40; c=C@1/-",
	  .kept = "a", .deleted = "B C", .bytes = -1 },
	{ .name = "always_keep alone keeps its tags and judges no other",
	  .policies = "- repositories: ['**']\n  always_keep: [latest, 'release-*']\n",
	  .tags = "latest=A@90/-; release-1=B@90/-; ci-1=C@90/-",
	  .kept = "ci-1 latest release-1", .deleted = "", .bytes = -1 },
	{ .name = "always_keep with a count",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n  always_keep: [latest, 'release-*']\n",
	  .tags = "latest=A@90/-; release-1=B@80/-; ci-1=C@70/-; ci-2=D@1/-",
	  .kept = "ci-2 latest release-1", .deleted = "C", .bytes = -1 },
	{ .name = "unknown push time counts as now",
	  .policies = "- repositories: ['**']\n  keep_pushed_within: 1\n",
	  .tags = "a=A@0/-; b=B@3/-",
	  .kept = "a", .deleted = "B", .bytes = -1 },

	/* --- rules combined: a tag is kept if any rule keeps it -------------- */
	{ .name = "count or age",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n  keep_pushed_within: 10\n",
	  .tags = "a=A@30/-; b=B@20/-; c=C@5/-; d=D@1/-",
	  .kept = "c d", .deleted = "A B", .bytes = -1 },
	{ .name = "pushed count or pulled recently",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n  keep_pulled_within: 7\n",
	  .tags = "a=A@30/2; b=B@20/9; c=C@5/-",
	  .kept = "a c", .deleted = "B", .bytes = -1 },
	{ .name = "two policies on one tag: either keeps it",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n"
		      "- repositories: ['team/**']\n  keep_pulled_within: 7\n",
	  .tags = "a=A@30/2; b=B@20/-; c=C@5/-",
	  .kept = "a c", .deleted = "B", .bytes = -1 },

	/* --- SemVer ------------------------------------------------------------ */
	{ .name = "semver keep_minors: highest patch of the latest minors, v prefix ignored",
	  .policies = "- repositories: ['**']\n  semver: {keep_minors: 2}\n",
	  .tags = "v1.2.9=A@9/-; 1.3.0=B@9/-; v1.3.1=C@9/-; 1.4.0=D@9/-; v1.4.0=D@9/-; 1.1.5=E@9/-; latest=D@9/-",
	  .kept = "1.4.0 latest v1.3.1 v1.4.0", .deleted = "A B E", .bytes = -1 },
	{ .name = "semver numbers compare as numbers",
	  .policies = "- repositories: ['**']\n  semver: {keep_minors: 1}\n",
	  .tags = "1.9.0=A@9/-; 1.10.0=B@9/-; 1.10.2=C@9/-; 1.10.10=D@9/-",
	  .kept = "1.10.10", .deleted = "A B C", .bytes = -1 },
	{ .name = "semver keep_majors: highest version of the latest majors",
	  .policies = "- repositories: ['**']\n  semver: {keep_majors: 2}\n",
	  .tags = "1.9.9=A@9/-; 2.0.0=B@9/-; 2.3.1=C@9/-; 3.0.1=D@9/-; 3.0.0=E@9/-",
	  .kept = "2.3.1 3.0.1", .deleted = "A B E", .bytes = -1 },
	{ .name = "semver minors and majors together",
	  .policies = "- repositories: ['**']\n  semver: {keep_minors: 1, keep_majors: 2}\n",
	  .tags = "1.9.9=A@9/-; 2.0.0=B@9/-; 2.3.1=C@9/-; 3.0.1=D@9/-; 3.1.0=E@9/-",
	  .kept = "2.3.1 3.1.0", .deleted = "A B D", .bytes = -1 },
	{ .name = "semver without prereleases leaves them alone",
	  .policies = "- repositories: ['**']\n  semver: {keep_minors: 1}\n",
	  .tags = "1.0.0=A@9/-; 1.1.0=B@9/-; 1.2.0-rc.1=C@9/-; 1.0.0-beta=D@9/-",
	  .kept = "1.0.0-beta 1.1.0 1.2.0-rc.1", .deleted = "A", .bytes = -1 },
	{ .name = "semver with prereleases: a prerelease is a version of its minor",
	  .policies = "- repositories: ['**']\n  semver: {keep_minors: 2, prereleases: true}\n",
	  .tags = "1.0.0=A@9/-; 1.1.0=B@9/-; 1.1.0-rc.1=C@9/-; 1.2.0-rc.1=D@9/-; 1.2.0-rc.2=E@9/-; 1.2.0-rc.10=F@9/-",
	  .kept = "1.1.0 1.2.0-rc.10", .deleted = "A C D E", .bytes = -1 },
	{ .name = "semver rule leaves other tags to the other rules",
	  .policies = "- repositories: ['**']\n  semver: {keep_minors: 1}\n  keep_pushed_within: 7\n",
	  .tags = "1.0.0=A@30/-; 1.1.0=B@30/-; ci-1=C@30/-; ci-2=D@1/-; 1.2=E@30/-",
	  .kept = "1.1.0 ci-2", .deleted = "A C E", .bytes = -1 },
	{ .name = "semver 1.2 or v1 are not versions",
	  .policies = "- repositories: ['**']\n  semver: {keep_majors: 1}\n",
	  .tags = "1.2=A@9/-; v1=B@9/-; 01.2.3=C@9/-; 1.2.3=D@9/-; 0.9.0=E@9/-",
	  .kept = "01.2.3 1.2 1.2.3 v1", .deleted = "E", .bytes = -1 },

	/* --- patterns and excludes ----------------------------------------- */
	{ .name = "glob tags and exclude_tags",
	  .policies = "- repositories: ['**']\n  tags: ['ci-*', 'pr-*']\n  exclude_tags: ['ci-keep*']\n  keep_last_pushed: 0\n",
	  .tags = "ci-1=A@1/-; pr-7=B@1/-; ci-keep=C@1/-; main=D@1/-",
	  .kept = "ci-keep main", .deleted = "A B", .bytes = -1 },
	{ .name = "regex tags match the whole tag",
	  .policies = "- repositories: ['**']\n  tags: ['re:[0-9a-f]{7}']\n  keep_last_pushed: 1\n",
	  .tags = "abc1234=A@3/-; def5678=B@2/-; 1234567=C@1/-; xabc1234=D@5/-; abc12345=E@5/-",
	  .kept = "1234567 abc12345 xabc1234", .deleted = "A B", .bytes = -1 },
	{ .name = "a repository no policy selects is untouched",
	  .policies = "- repositories: ['other/**']\n  keep_last_pushed: 0\n",
	  .tags = "a=A@9/-; b=B@9/-",
	  .kept = "a b", .deleted = "", .bytes = -1 },
	{ .name = "exclude_repositories",
	  .policies = "- repositories: ['team/**']\n  exclude_repositories: ['team/app']\n  keep_last_pushed: 0\n",
	  .tags = "a=A@9/-",
	  .kept = "a", .deleted = "", .bytes = -1 },
	{ .name = "** across segments, * within one",
	  .policies = "- repositories: ['team/*']\n  keep_last_pushed: 0\n",
	  .repository = "team/sub/app",
	  .tags = "a=A@9/-",
	  .kept = "a", .deleted = "", .bytes = -1 },
	{ .name = "**/ matches no segment too",
	  .policies = "- repositories: ['**/app']\n  keep_last_pushed: 0\n",
	  .repository = "app",
	  .tags = "a=A@9/-",
	  .kept = "", .deleted = "A", .bytes = -1 },

	/* --- immutable ------------------------------------------------------ */
	{ .name = "immutable tags are never deleted, nor what they name",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 0\n  untagged: {delete: true}\n",
	  .immutable = "'v*', 're:release-[0-9]+'",
	  .tags = "v1=A@99/-; release-3=B@99/-; release-x=C@99/-; ci=A@99/-",
	  .manifests = "A@99 c=K; K@99",
	  .kept = "release-3 v1", .deleted = "C", .bytes = -1 },

	/* --- a manifest named by a kept tag stays --------------------------- */
	{ .name = "deleted tag, manifest kept by another tag",
	  .policies = "- repositories: ['**']\n  tags: ['ci-*']\n  keep_last_pushed: 0\n",
	  .tags = "ci-1=A@9/-; stable=A@9/-; ci-2=B@9/-",
	  .kept = "stable", .deleted = "B", .bytes = -1 },
	{ .name = "manifest of a deleted tag kept by the untagged keep_days",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n  untagged: {keep_days: 7}\n",
	  .tags = "a=A@30/-; b=B@3/-; c=C@1/-",
	  .kept = "c", .deleted = "A", .bytes = -1 },

	/* --- untagged ------------------------------------------------------- */
	{ .name = "untagged keep_days",
	  .policies = "- repositories: ['**']\n  untagged: {keep_days: 7}\n",
	  .tags = "a=A@30/-",
	  .manifests = "U1@30; U2@3",
	  .kept = "a", .deleted = "U1", .bytes = -1 },
	{ .name = "untagged delete",
	  .policies = "- repositories: ['**']\n  untagged: {delete: true}\n",
	  .tags = "a=A@30/-",
	  .manifests = "U1@30; U2@0.1",
	  .kept = "a", .deleted = "U1 U2", .bytes = -1 },
	{ .name = "without an untagged rule old untagged manifests stay",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n",
	  .tags = "a=A@30/-; b=B@1/-",
	  .manifests = "U1@300",
	  .kept = "b", .deleted = "A", .bytes = -1 },
	{ .name = "the longest untagged keep wins between policies",
	  .policies = "- repositories: ['**']\n  untagged: {delete: true}\n"
		      "- repositories: ['team/**']\n  untagged: {keep_days: 10}\n",
	  .manifests = "U1@30; U2@3",
	  .kept = "", .deleted = "U1", .bytes = -1 },

	/* --- indexes -------------------------------------------------------- */
	{ .name = "a kept index keeps its children, even with untagged: delete",
	  .policies = "- repositories: ['**']\n  untagged: {delete: true}\n",
	  .tags = "multi=I@30/-",
	  .manifests = "I@30 c=X,Y; X@30; Y@30; Z@30",
	  .kept = "multi", .deleted = "Z", .bytes = -1 },
	{ .name = "a deleted index takes its children, index first",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n",
	  .tags = "old=I@30/-; new=J@1/-",
	  .manifests = "I@30 c=X,Y; X@30; Y@30; J@1 c=P; P@1",
	  .kept = "new", .deleted = "I X Y", .order = "I X Y", .bytes = -1 },
	{ .name = "a child shared with a kept index stays",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n",
	  .tags = "old=I@30/-; new=J@1/-",
	  .manifests = "I@30 c=X,Y; X@30; Y@30; J@1 c=Y",
	  .kept = "new", .deleted = "I X", .bytes = -1 },
	{ .name = "a child that has its own kept tag stays",
	  .policies = "- repositories: ['**']\n  tags: [old]\n  keep_last_pushed: 0\n",
	  .tags = "old=I@30/-; amd64=X@30/-",
	  .manifests = "I@30 c=X,Y; X@30; Y@30",
	  .kept = "amd64", .deleted = "I Y", .bytes = -1 },
	{ .name = "a kept index rescues a child the untagged rule condemned",
	  .policies = "- repositories: ['**']\n  untagged: {keep_days: 1}\n",
	  .tags = "multi=I@30/-",
	  .manifests = "I@30 c=X; X@30",
	  .kept = "multi", .deleted = "", .bytes = -1 },

	/* --- referrers ------------------------------------------------------ */
	{ .name = "referrers of a kept manifest stay",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n  untagged: {delete: true}\n",
	  .tags = "a=A@1/-",
	  .manifests = "A@1; S@1 s=A; S2@1 s=S",
	  .kept = "a", .deleted = "", .bytes = -1 },
	{ .name = "referrers of a deleted manifest go with it, referrer first",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n",
	  .tags = "a=A@30/-; b=B@1/-",
	  .manifests = "A@30; S@30 s=A; T@1 s=S; B@1; R@1 s=B",
	  .kept = "b", .deleted = "A S T", .order = "T S A", .bytes = -1 },
	{ .name = "young referrers of a deleted manifest go too",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 0\n  untagged: {keep_days: 7}\n",
	  .tags = "a=A@30/-",
	  .manifests = "A@30; S@1 s=A",
	  .kept = "", .deleted = "A S", .bytes = -1 },
	{ .name = "delete_referrers: false keeps them",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n",
	  .keep_referrers = 1,
	  .tags = "a=A@30/-; b=B@1/-",
	  .manifests = "A@30; S@30 s=A",
	  .kept = "b", .deleted = "A", .bytes = -1 },
	{ .name = "a tagged referrer of a deleted manifest stays with its tag",
	  .policies = "- repositories: ['**']\n  tags: [a]\n  keep_last_pushed: 0\n",
	  .tags = "a=A@30/-; sbom=S@30/-",
	  .manifests = "A@30; S@30 s=A",
	  .kept = "sbom", .deleted = "A", .bytes = -1 },
	{ .name = "cosign signature tags follow their image",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n",
	  .tags = "a=A@30/-; b=B@1/-; sig:A=SA@30/-; sig:B=SB@1/-",
	  .kept = "b sig:B", .deleted = "A SA", .order = "SA A", .bytes = -1 },
	{ .name = "cosign tags are not counted by keep_last_pushed",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n",
	  .tags = "b=B@2/-; sig:B=SB@1/-",
	  .kept = "b sig:B", .deleted = "", .bytes = -1 },

	/* --- bytes ---------------------------------------------------------- */
	{ .name = "bytes: manifests, and blobs no remaining manifest shares",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 1\n",
	  .tags = "a=A@30/-; b=B@20/-; c=C@1/-",
	  .manifests = "A@30 z=500 b=cfgA/10,base/1000,topA/200; B@20 z=400 b=cfgB/20,base/1000,topA/200; C@1 b=cfgC/30,base/1000",
	  .kept = "c", .deleted = "A B", .bytes = 500 + 400 + 10 + 20 + 200 },
	{ .name = "bytes: nothing deleted, nothing freed",
	  .policies = "- repositories: ['**']\n  keep_last_pushed: 5\n",
	  .tags = "a=A@30/-",
	  .manifests = "A@30 b=x/10",
	  .kept = "a", .deleted = "", .bytes = 0 },
};

/* ------------------------------------------------------------------------ */
/* Building a repository from the compact notation                         */
/* ------------------------------------------------------------------------ */

static int failures;

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			failures++;                                               \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);           \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
		}                                                                 \
	} while (0)

/* "sha256:" + the label in hex, padded with zeros: distinct labels, distinct digests. */
static char *digest_of(const char *label)
{
	char *d = calloc(1, 7 + 64 + 1);
	size_t i, n = 0;

	memcpy(d, "sha256:", 7);
	for (i = 0; label[i] && n < 64; i++, n += 2)
		sprintf(d + 7 + n, "%02x", (unsigned char)label[i]);
	while (n < 64)
		d[7 + n++] = '0';
	return d;
}

static int64_t days_ago(const char *s)
{
	double d = atof(s);

	return d == 0 ? 0 : NOW_MS - (int64_t)(d * RETENTION_DAY_MS);
}

static long find_manifest(struct retention_repo_in *in, const char *digest)
{
	for (size_t i = 0; i < in->n_manifests; i++)
		if (strcmp(in->manifests[i].digest, digest) == 0)
			return (long)i;
	return -1;
}

static void add_manifest_spec(struct retention_repo_in *in, char *spec)
{
	struct retention_manifest_in *m = &in->manifests[in->n_manifests++];
	char *save = NULL, *word = strtok_r(spec, " ", &save), *at = strchr(word, '@');

	*at = '\0';
	m->digest = digest_of(word);
	m->pushed_ms = days_ago(at + 1);
	m->size = 100;
	while ((word = strtok_r(NULL, " ", &save))) {
		char *save2 = NULL, *item;

		if (word[0] == 'z' && word[1] == '=') {
			m->size = strtoull(word + 2, NULL, 10);
			continue;
		}
		if (word[0] == 's' && word[1] == '=') {
			m->subject = digest_of(word + 2);
			continue;
		}
		for (item = strtok_r(word + 2, ",", &save2); item; item = strtok_r(NULL, ",", &save2)) {
			if (word[0] == 'c') {
				m->children = realloc(m->children, (m->n_children + 1) * sizeof(char *));
				m->children[m->n_children++] = digest_of(item);
			} else {
				char *slash = strchr(item, '/');

				*slash = '\0';
				m->blobs = realloc(m->blobs, (m->n_blobs + 1) * sizeof(*m->blobs));
				m->blobs[m->n_blobs].digest = digest_of(item);
				m->blobs[m->n_blobs++].size = strtoull(slash + 1, NULL, 10);
			}
		}
	}
}

static void build(const struct tcase *c, struct retention_repo_in *in)
{
	char buf[4096], *save = NULL, *item;

	memset(in, 0, sizeof(*in));
	in->repository = strdup(c->repository ? c->repository : "team/app");
	in->now_ms = NOW_MS;
	in->tags = calloc(MAX_ITEMS, sizeof(*in->tags));
	in->manifests = calloc(MAX_ITEMS, sizeof(*in->manifests));
	snprintf(buf, sizeof(buf), "%s", c->manifests ? c->manifests : "");
	for (item = strtok_r(buf, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		while (*item == ' ')
			item++;
		if (*item)
			add_manifest_spec(in, item);
	}
	snprintf(buf, sizeof(buf), "%s", c->tags ? c->tags : "");
	for (item = strtok_r(buf, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		struct retention_tag_in *t = &in->tags[in->n_tags++];
		char *eq, *at, *slash;

		while (*item == ' ')
			item++;
		eq = strchr(item, '=');
		at = strchr(eq, '@');
		slash = strchr(at, '/');
		*eq = *at = *slash = '\0';
		if (strncmp(item, "sig:", 4) == 0) {
			char *d = digest_of(item + 4);

			t->name = malloc(strlen(d) + 8);
			sprintf(t->name, "sha256-%s.sig", d + 7);
			free(d);
		} else {
			t->name = strdup(item);
		}
		t->digest = digest_of(eq + 1);
		t->pushed_ms = days_ago(at + 1);
		t->pulled_ms = strcmp(slash + 1, "-") == 0 ? 0 : days_ago(slash + 1);
		if (find_manifest(in, t->digest) < 0) {
			char spec[128];

			snprintf(spec, sizeof(spec), "%s@%s", eq + 1, at + 1);
			add_manifest_spec(in, spec);
		}
	}
}

static const char *label_of(const char *digest, char *buf, size_t cap)
{
	size_t n = 0;

	for (size_t k = 7; digest[k] && !(digest[k] == '0' && digest[k + 1] == '0') && n + 1 < cap;
	     k += 2) {
		unsigned v;

		sscanf(digest + k, "%2x", &v);
		buf[n++] = (char)v;
	}
	buf[n] = '\0';
	return buf;
}

/* A tag's name as the case writes it: cosign tags as sig:LABEL. */
static void shown_tag(const struct retention_repo_in *in, size_t i, char *buf, size_t cap)
{
	const char *name = in->tags[i].name;
	char label[64];

	snprintf(buf, cap, "%s", name);
	if (strncmp(name, "sha256-", 7) != 0)
		return;
	for (size_t m = 0; m < in->n_manifests; m++)
		if (strncmp(in->manifests[m].digest + 7, name + 7, 64) == 0)
			snprintf(buf, cap, "sig:%s", label_of(in->manifests[m].digest, label,
							       sizeof(label)));
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Words sorted and joined by single spaces. */
static void join_sorted(char **words, size_t n, char *out, size_t cap)
{
	size_t len = 0;

	qsort(words, n, sizeof(*words), by_str);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", words[i]);
}

static void run_case(const struct tcase *c)
{
	struct retention_state st = {0};
	struct retention_rules *rules = &st.rules;
	struct retention_repo_in in;
	struct retention_plan plan;
	berth_error err = {0};
	char names[MAX_ITEMS][160], *words[MAX_ITEMS], got[2048], text[4096], yaml_err[256];
	const berth_config *cfg;
	size_t n = 0, i;

	/* The case's config as an operator writes it, read as create() reads it. */
	snprintf(text, sizeof(text), "delete_referrers: %s\nimmutable_tags: [%s]\npolicies:\n%s",
		 c->keep_referrers ? "false" : "true", c->immutable ? c->immutable : "",
		 c->policies);
	cfg = config_host_parse(text, retention_config_schema, yaml_err, sizeof(yaml_err));
	if (!cfg || retention_config_load(config_host(), cfg, &st, &err) < 0) {
		CHECK(0, "%s: %s", c->name, cfg ? err.message : yaml_err);
		config_host_free(cfg);
		retention_rules_free(rules);
		return;
	}
	config_host_free(cfg);
	build(c, &in);
	CHECK(retention_plan_make(rules, &in, &plan) == 0, "%s: plan failed", c->name);

	for (i = 0; i < in.n_tags; i++) {
		int v = plan.tags[i].verdict;

		if (v != RETENTION_TAG_DELETE && v != RETENTION_TAG_REFERRER_DELETE) {
			shown_tag(&in, i, names[n], sizeof(names[n]));
			words[n] = names[n];
			n++;
		}
	}
	join_sorted(words, n, got, sizeof(got));
	CHECK(strcmp(got, c->kept) == 0, "%s: kept tags '%s', expected '%s'", c->name, got, c->kept);

	for (i = 0, n = 0; i < in.n_manifests; i++)
		if (plan.manifests[i].deleted) {
			label_of(in.manifests[i].digest, names[n], sizeof(names[n]));
			words[n] = names[n];
			n++;
		}
	CHECK(n == plan.n_order, "%s: %zu manifests deleted, %zu in the order", c->name, n,
	      plan.n_order);
	join_sorted(words, n, got, sizeof(got));
	CHECK(strcmp(got, c->deleted) == 0, "%s: deleted manifests '%s', expected '%s'", c->name, got,
	      c->deleted);

	if (c->order) {
		size_t len = 0;

		got[0] = '\0';
		for (i = 0; i < plan.n_order; i++)
			len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s", i ? " " : "",
						label_of(in.manifests[plan.order[i]].digest,
							 names[0], sizeof(names[0])));
		CHECK(strcmp(got, c->order) == 0, "%s: order '%s', expected '%s'", c->name, got,
		      c->order);
	}
	if (c->bytes >= 0)
		CHECK(plan.bytes == (uint64_t)c->bytes, "%s: %llu bytes, expected %lld", c->name,
		      (unsigned long long)plan.bytes, c->bytes);
	retention_plan_free(&plan);
	retention_repo_in_free(&in);
	retention_rules_free(rules);
}

int main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < n; i++)
		run_case(&cases[i]);
	printf("%zu cases, %d failure%s\n", n, failures, failures == 1 ? "" : "s");
	return failures != 0;
}
