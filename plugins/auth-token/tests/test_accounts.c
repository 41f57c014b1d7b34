/*
 * test_accounts.c - the users and robots files, password hashes through
 * libcrypt, Basic credentials, and the brute-force counters.
 */
#include <stdio.h>
#include <string.h>

#include "auth_token.h"
#include "test.h"

/* bcrypt and sha512-crypt of "secret" (made with python's crypt module). */
#define BCRYPT_SECRET "$2b$04$C6Kgb6lGIk0N.zEtrzbcOe4xvDaT7GABbIYcHSAQtUhr/P7w1aY5G"
#define SHA512_SECRET                                                                   \
	"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN" \
	".Pq.H91p5hVO1"

static size_t reported;
static size_t last_line;

static void report(void *ctx, size_t line, const char *why)
{
	(void)ctx;
	(void)why;
	reported++;
	last_line = line;
}

static void test_users(void)
{
	const char text[] =
		"# users\n"
		"alice:" BCRYPT_SECRET ":devs,ops\n"
		"\n"
		"  bob:" SHA512_SECRET "\r\n"
		"carol:$1$md5isweak$abcdefghijklmnopqrstuv:devs\n"   /* md5-crypt: refused */
		"dave\n"                                             /* no hash */
		"bad name:" BCRYPT_SECRET "\n"
		"eve:" BCRYPT_SECRET ":bad group\n"
		"alice:" SHA512_SECRET ":later\n";                   /* defined twice */
	atok_accounts a = {0};
	const atok_user *u;

	reported = 0;
	CHECK_INT(atok_users_parse(text, strlen(text), &a, report, NULL), 0);
	CHECK_INT(reported, 4);
	atok_accounts_index(&a, report, NULL);
	CHECK_INT(reported, 5);
	CHECK_INT(last_line, 9);
	CHECK_INT(a.n_users, 2);
	u = atok_user_find(&a, "alice");
	CHECK(u != NULL);
	if (u) {
		CHECK_STR(u->groups, "devs,ops");
		CHECK_STR(u->hash, BCRYPT_SECRET);
		CHECK_INT(atok_password_matches(u->hash, "secret"), 1);
		CHECK_INT(atok_password_matches(u->hash, "Secret"), 0);
		CHECK_INT(atok_password_matches(u->hash, ""), 0);
	}
	u = atok_user_find(&a, "bob");
	CHECK(u != NULL);
	if (u) {
		CHECK_STR(u->groups, "");
		CHECK_INT(atok_password_matches(u->hash, "secret"), 1);
		CHECK_INT(atok_password_matches(u->hash, "secret2"), 0);
	}
	CHECK(atok_user_find(&a, "carol") == NULL);
	CHECK(atok_user_find(&a, "zed") == NULL);
	CHECK_INT(atok_password_matches("$1$md5isweak$abcdefghijklmnopqrstuv", "x"), 0);
	CHECK_INT(atok_password_matches("", "x"), 0);
	atok_accounts_free(&a);
}

static void test_robots(void)
{
	const char users[] = "ci:" BCRYPT_SECRET "\n";
	const char robots[] =
		"robot$deploy " BCRYPT_SECRET " 2030-01-01T00:00:00Z team/app:pull,push team/**:pull\n"
		"robot$old\t" BCRYPT_SECRET "\t2020-01-01T00:00:00Z\tteam/app:pull\n"
		"robot$nogrants " BCRYPT_SECRET " 2030-01-01T00:00:00Z\n"
		"robot$baddate " BCRYPT_SECRET " 2030-01-01 team/app:pull\n"
		"robot$badgrant " BCRYPT_SECRET " 2030-01-01T00:00:00Z team/app:fly\n"
		"ci " BCRYPT_SECRET " 2030-01-01T00:00:00Z team/app:pull\n"; /* a user's name */
	atok_accounts a = {0};
	const atok_robot *r;

	reported = 0;
	CHECK_INT(atok_users_parse(users, strlen(users), &a, report, NULL), 0);
	CHECK_INT(atok_robots_parse(robots, strlen(robots), &a, report, NULL), 0);
	CHECK_INT(reported, 3);
	atok_accounts_index(&a, report, NULL);
	CHECK_INT(reported, 4);
	CHECK_INT(a.n_robots, 2);
	r = atok_robot_find(&a, "robot$deploy");
	CHECK(r != NULL);
	if (r) {
		CHECK_INT(r->expires, 1893456000);
		CHECK_INT(r->grants.n, 2);
		CHECK_INT(atok_grants_actions(&r->grants, "repository", "team/app", NULL),
			  ATOK_PULL | ATOK_PUSH);
	}
	r = atok_robot_find(&a, "robot$old");
	CHECK(r && r->expires == 1577836800);
	CHECK(atok_robot_find(&a, "ci") == NULL);
	CHECK(atok_user_find(&a, "ci") != NULL);
	atok_accounts_free(&a);
}

static void test_names(void)
{
	char long_name[200];

	CHECK(atok_account_name_valid("alice"));
	CHECK(atok_account_name_valid("robot$ci"));
	CHECK(atok_account_name_valid("a.b_c@example.com"));
	CHECK(!atok_account_name_valid(""));
	CHECK(!atok_account_name_valid("-x"));
	CHECK(!atok_account_name_valid("a:b"));
	CHECK(!atok_account_name_valid("a b"));
	CHECK(!atok_account_name_valid("a,b"));
	memset(long_name, 'a', 128);
	long_name[128] = '\0';
	CHECK(!atok_account_name_valid(long_name));
	long_name[127] = '\0';
	CHECK(atok_account_name_valid(long_name));
	CHECK(atok_hash_supported(BCRYPT_SECRET));
	CHECK(atok_hash_supported(SHA512_SECRET));
	CHECK(!atok_hash_supported("$1$abc$defghijklmnopqrstuvwxyz"));
	CHECK(!atok_hash_supported("plaintextpassword123456"));
	CHECK(!atok_hash_supported("$2b$04$short"));
}

static void test_basic(void)
{
	char user[64], password[64];

	/* alice:s3cr:et */
	CHECK_INT(atok_basic_parse("Basic YWxpY2U6czNjcjpldA==", user, sizeof(user), password,
				   sizeof(password)),
		  1);
	CHECK_STR(user, "alice");
	CHECK_STR(password, "s3cr:et");
	CHECK_INT(atok_basic_parse("basic   YWxpY2U6czNjcjpldA==  ", user, sizeof(user), password,
				   sizeof(password)),
		  1);
	CHECK_INT(atok_basic_parse("Bearer abc", user, sizeof(user), password, sizeof(password)), 0);
	CHECK_INT(atok_basic_parse(NULL, user, sizeof(user), password, sizeof(password)), 0);
	/* no colon; not base64; a NUL inside; too long for the buffers */
	CHECK_INT(atok_basic_parse("Basic YWxpY2U=", user, sizeof(user), password, sizeof(password)),
		  -1);
	CHECK_INT(atok_basic_parse("Basic !!!!", user, sizeof(user), password, sizeof(password)), -1);
	CHECK_INT(atok_basic_parse("Basic YQA6Yg==", user, sizeof(user), password, sizeof(password)),
		  -1);
	CHECK_INT(atok_basic_parse("Basic YWxpY2U6czNjcjpldA==", user, 3, password, sizeof(password)),
		  -1);
	{
		size_t len = 0;
		const char *t = atok_bearer_token("bearer  abc.def.ghi ", &len);
		CHECK(t && len == 11 && strncmp(t, "abc.def.ghi", len) == 0);
		CHECK(atok_bearer_token("Bearer   ", &len) == NULL);
		CHECK(atok_bearer_token("Basic abc", &len) == NULL);
	}
}

static void test_bruteforce(void)
{
	atok_bruteforce b;
	int64_t t = 1000000;

	CHECK_INT(atok_bf_init(&b, 3, 5, 60000, 30000), 0);
	CHECK_INT(atok_bf_locked(&b, "10.0.0.1", "alice", t), 0);
	CHECK_INT(atok_bf_failure(&b, "10.0.0.1", "alice", t), 0);
	CHECK_INT(atok_bf_failure(&b, "10.0.0.2", "alice", t + 1), 0);
	/* The third failure for alice, from anywhere, locks the account. */
	CHECK_INT(atok_bf_failure(&b, "10.0.0.3", "alice", t + 2), 2);
	CHECK_INT(atok_bf_locked(&b, "10.0.0.9", "alice", t + 3), 30000 - 1);
	CHECK_INT(atok_bf_locked(&b, "10.0.0.9", "bob", t + 3), 0);
	/* Failures while locked neither extend nor count. */
	CHECK_INT(atok_bf_failure(&b, "10.0.0.9", "alice", t + 10), 0);
	CHECK_INT(atok_bf_locked(&b, "10.0.0.9", "alice", t + 30002), 0);
	/* Five failures from one client, whatever the names, lock the client. */
	for (int i = 0; i < 4; i++)
		CHECK_INT(atok_bf_failure(&b, "10.0.0.5", i % 2 ? "x" : "y", t + 100 + i) & 1, 0);
	CHECK_INT(atok_bf_failure(&b, "10.0.0.5", "z", t + 200) & 1, 1);
	CHECK(atok_bf_locked(&b, "10.0.0.5", "anyone", t + 201) > 0);
	/* Failures spread over more than the window do not add up. */
	CHECK_INT(atok_bf_failure(&b, "10.1.0.1", "carol", t), 0);
	CHECK_INT(atok_bf_failure(&b, "10.1.0.2", "carol", t + 1), 0);
	CHECK_INT(atok_bf_failure(&b, "10.1.0.3", "carol", t + 60002), 0);
	CHECK_INT(atok_bf_locked(&b, NULL, "carol", t + 60003), 0);
	/* A success clears the account's count. */
	CHECK_INT(atok_bf_failure(&b, "10.2.0.1", "dan", t), 0);
	CHECK_INT(atok_bf_failure(&b, "10.2.0.2", "dan", t), 0);
	atok_bf_success(&b, "dan");
	CHECK_INT(atok_bf_failure(&b, "10.2.0.3", "dan", t), 0);
	CHECK_INT(atok_bf_locked(&b, NULL, "dan", t), 0);
	/* A full table makes room without dropping live lockouts. */
	for (int i = 0; i < ATOK_BF_SLOTS + 10; i++) {
		char name[32];
		snprintf(name, sizeof(name), "u%d", i);
		atok_bf_failure(&b, NULL, name, t + 300 + i);
	}
	CHECK(atok_bf_locked(&b, "10.0.0.5", NULL, t + 5000) > 0);
	atok_bf_destroy(&b);
}

int main(void)
{
	test_users();
	test_robots();
	test_names();
	test_basic();
	test_bruteforce();
	TEST_MAIN_END();
}
