/*
 * test_reference.c - repository names, tags and manifest references.
 */
#include <string.h>

#include "reference.h"
#include "test.h"

#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

struct name_case {
	const char *in;
	int valid;
};

static const struct name_case name_cases[] = {
	{ "a", 1 },
	{ "0", 1 },
	{ "library/ubuntu", 1 },
	{ "team/app", 1 },
	{ "a/b/c/d/e/f", 1 },
	{ "my-app", 1 },
	{ "my--app", 1 },
	{ "my---------app", 1 },
	{ "my.app", 1 },
	{ "my_app", 1 },
	{ "my__app", 1 },
	{ "a.b_c__d-e--f/g0", 1 },
	{ "a0/b1.c2", 1 },
	{ "123/456", 1 },
	{ "", 0 },
	{ "/", 0 },
	{ "/a", 0 },                 /* leading '/' */
	{ "a/", 0 },                 /* trailing '/' */
	{ "a//b", 0 },               /* empty segment */
	{ "..", 0 },                 /* "%2e%2e" after decoding */
	{ "a/..", 0 },
	{ "../a", 0 },
	{ "a/../b", 0 },
	{ ".", 0 },
	{ "a/./b", 0 },
	{ "a..b", 0 },
	{ ".a", 0 },
	{ "a.", 0 },
	{ "-a", 0 },
	{ "a-", 0 },
	{ "_a", 0 },
	{ "a_", 0 },
	{ "a___b", 0 },
	{ "a._b", 0 },
	{ "a_.b", 0 },
	{ "a-.b", 0 },
	{ "a.-b", 0 },
	{ "a-_b", 0 },
	{ "a/-b", 0 },
	{ "a/.b", 0 },
	{ "a/b.", 0 },
	{ "A", 0 },
	{ "Library/ubuntu", 0 },
	{ "library/Ubuntu", 0 },
	{ "a b", 0 },
	{ " a", 0 },
	{ "a\n", 0 },
	{ "a\\b", 0 },
	{ "a:b", 0 },
	{ "a@b", 0 },
	{ "a%2fb", 0 },
	{ "a?b", 0 },
	{ "a#b", 0 },
	{ "a\xc3\xa9", 0 },
	{ "\xff", 0 },
	{ "_catalog", 0 },
};

static void test_repo_names(void)
{
	char name[REPO_NAME_MAX + 8];
	size_t i;

	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		const struct name_case *c = &name_cases[i];

		if (repo_name_valid(c->in) != c->valid)
			fprintf(stderr, "name \"%s\"\n", c->in);
		CHECK_INT(repo_name_valid(c->in), c->valid);
		CHECK_INT(repo_name_valid_n(c->in, strlen(c->in)), c->valid);
	}
	CHECK_INT(repo_name_valid(NULL), 0);
	CHECK_INT(repo_name_valid_n(NULL, 3), 0);

	/* 255 is the limit, 256 is over it. */
	memset(name, 'a', sizeof(name));
	name[REPO_NAME_MAX] = '\0';
	CHECK_INT(repo_name_valid(name), 1);
	name[REPO_NAME_MAX] = 'a';
	name[REPO_NAME_MAX + 1] = '\0';
	CHECK_INT(repo_name_valid(name), 0);
	CHECK_INT(repo_name_valid_n(name, REPO_NAME_MAX + 1), 0);
	CHECK_INT(repo_name_valid_n(name, REPO_NAME_MAX), 1);

	/* 255 with slashes, and a slash at the very end of 256. */
	for (i = 1; i < REPO_NAME_MAX; i += 2)
		name[i] = '/';
	name[REPO_NAME_MAX] = '\0';
	CHECK_INT(repo_name_valid(name), 1);

	/* _n reads only len bytes: a valid prefix of a longer string. */
	CHECK_INT(repo_name_valid_n("team/app/", 8), 1);
	CHECK_INT(repo_name_valid_n("team/app/", 9), 0);
	CHECK_INT(repo_name_valid_n("team/app", 5), 0);
	CHECK_INT(repo_name_valid_n("a\0b", 3), 0);
	CHECK_INT(repo_name_valid_n("ab", 0), 0);
}

static void test_tags(void)
{
	static const struct name_case cases[] = {
		{ "latest", 1 },
		{ "v1.2.3", 1 },
		{ "1.0", 1 },
		{ "_private", 1 },
		{ "A", 1 },
		{ "UPPER_lower-1.2", 1 },
		{ "a..b", 1 },
		{ "a--", 1 },
		{ "sha256-" SHA256_ABC ".sig", 1 },
		{ "", 0 },
		{ ".hidden", 0 },
		{ "-rc1", 0 },
		{ "..", 0 },
		{ ".", 0 },
		{ "a/b", 0 },
		{ "a:b", 0 },
		{ "a b", 0 },
		{ "a+b", 0 },
		{ "a@b", 0 },
		{ "a\n", 0 },
		{ "\xc3\xa9", 0 },
	};
	char tag[TAG_MAX + 8];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (tag_valid(cases[i].in) != cases[i].valid)
			fprintf(stderr, "tag \"%s\"\n", cases[i].in);
		CHECK_INT(tag_valid(cases[i].in), cases[i].valid);
	}
	CHECK_INT(tag_valid(NULL), 0);

	memset(tag, 'x', sizeof(tag));
	tag[TAG_MAX] = '\0';
	CHECK_INT(tag_valid(tag), 1);
	tag[TAG_MAX] = 'x';
	tag[TAG_MAX + 1] = '\0';
	CHECK_INT(tag_valid(tag), 0);
}

static void test_classify(void)
{
	digest d;

	memset(&d, 0, sizeof(d));
	CHECK_INT(reference_classify("latest", &d), REF_TAG);
	CHECK_INT(reference_classify("latest", NULL), REF_TAG);
	CHECK_INT(reference_classify("sha256:" SHA256_ABC, &d), REF_DIGEST);
	CHECK_INT(d.alg, DIGEST_SHA256);
	CHECK_STR(d.hex, SHA256_ABC);
	CHECK_INT(reference_classify("sha256:" SHA256_ABC, NULL), REF_DIGEST);
	CHECK_INT(reference_classify("sha384:abc", &d), REF_UNSUPPORTED);
	CHECK_INT(reference_classify("sha256:" "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", &d), REF_INVALID);
	CHECK_INT(reference_classify("sha256:abc", &d), REF_INVALID);
	CHECK_INT(reference_classify("sha256", &d), REF_TAG);
	CHECK_INT(reference_classify("", &d), REF_INVALID);
	CHECK_INT(reference_classify("..", &d), REF_INVALID);
	CHECK_INT(reference_classify("a/b", &d), REF_INVALID);
	CHECK_INT(reference_classify(":", &d), REF_INVALID);
	CHECK_INT(reference_classify("latest:", &d), REF_INVALID);
	CHECK_INT(reference_classify(NULL, &d), REF_INVALID);
	/* A failed classification leaves d as it was. */
	CHECK_INT(d.alg, DIGEST_SHA256);
	CHECK_STR(d.hex, SHA256_ABC);
}

int main(void)
{
	test_repo_names();
	test_tags();
	test_classify();
	TEST_MAIN_END();
}
