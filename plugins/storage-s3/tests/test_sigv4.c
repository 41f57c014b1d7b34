/*
 * test_sigv4.c - SigV4 signing against the examples AWS publishes in the S3
 * API reference ("Signature Calculations for the Authorization Header" and
 * "Query String Authentication"): same keys, same requests, same
 * signatures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "test.h"

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST "examplebucket.s3.amazonaws.com"
#define DATE "20130524T000000Z"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void expect_auth(const struct s3_sign *in, const char *signed_headers, const char *sig)
{
	char want[512], *got = s3_authorization(in);

	snprintf(want, sizeof(want),
		 "AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/aws4_request, "
		 "SignedHeaders=%s, Signature=%s",
		 signed_headers, sig);
	CHECK_STR(got, want);
	free(got);
}

static void get_object(void)
{
	const struct s3_header h[] = {{"host", HOST}, {"range", "bytes=0-9"},
				      {"x-amz-content-sha256", EMPTY}, {"x-amz-date", DATE}};
	struct s3_sign in = {.method = "GET", .host = HOST, .path = "/test.txt", .headers = h,
			     .n_headers = 4, .payload_hash = EMPTY, .amz_date = DATE,
			     .region = "us-east-1", .service = "s3", .access_key = AK,
			     .secret_key = SK};
	char *signed_headers = NULL, *creq = s3_canonical_request(&in, &signed_headers);

	CHECK_STR(creq, "GET\n/test.txt\n\nhost:" HOST "\nrange:bytes=0-9\n"
			"x-amz-content-sha256:" EMPTY "\nx-amz-date:" DATE "\n\n"
			"host;range;x-amz-content-sha256;x-amz-date\n" EMPTY);
	free(creq);
	free(signed_headers);
	expect_auth(&in, "host;range;x-amz-content-sha256;x-amz-date",
		    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void put_object(void)
{
	const char *body = "Welcome to Amazon S3.";
	char hash[65];
	struct s3_header h[] = {{"date", "Fri, 24 May 2013 00:00:00 GMT"}, {"host", HOST},
				{"x-amz-content-sha256", hash}, {"x-amz-date", DATE},
				{"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
	char *path = s3_uri_encode("test$file.text", 1);
	struct s3_sign in = {.method = "PUT", .host = HOST, .headers = h, .n_headers = 5,
			     .payload_hash = hash, .amz_date = DATE, .region = "us-east-1",
			     .service = "s3", .access_key = AK, .secret_key = SK};
	char full[64];

	s3_sha256_hex(body, strlen(body), hash);
	CHECK_STR(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	snprintf(full, sizeof(full), "/%s", path);
	CHECK_STR(full, "/test%24file.text");
	in.path = full;
	expect_auth(&in, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
		    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	free(path);
}

static void bucket_queries(void)
{
	const struct s3_header h[] = {{"host", HOST}, {"x-amz-content-sha256", EMPTY},
				      {"x-amz-date", DATE}};
	const struct s3_query lifecycle[] = {{"lifecycle", ""}};
	/* Given out of order: the canonical query sorts them. */
	const struct s3_query list[] = {{"prefix", "J"}, {"max-keys", "2"}};
	struct s3_sign in = {.method = "GET", .host = HOST, .path = "/", .headers = h,
			     .n_headers = 3, .payload_hash = EMPTY, .amz_date = DATE,
			     .region = "us-east-1", .service = "s3", .access_key = AK,
			     .secret_key = SK};
	char *q = s3_canonical_query(list, 2);

	CHECK_STR(q, "max-keys=2&prefix=J");
	free(q);
	in.query = lifecycle;
	in.n_query = 1;
	expect_auth(&in, "host;x-amz-content-sha256;x-amz-date",
		    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	in.query = list;
	in.n_query = 2;
	expect_auth(&in, "host;x-amz-content-sha256;x-amz-date",
		    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void presigned(void)
{
	struct s3_sign in = {.method = "GET", .host = HOST, .path = "/test.txt",
			     .amz_date = DATE, .region = "us-east-1", .service = "s3",
			     .access_key = AK, .secret_key = SK};
	char *q = s3_presign_query(&in, 86400, NULL);

	CHECK_STR(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
		     "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
		     "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
		     "&X-Amz-Signature="
		     "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	free(q);
	q = s3_presign_query(&in, 60, "tok/en=");
	CHECK(q && strstr(q, "&X-Amz-Security-Token=tok%2Fen%3D&") != NULL);
	free(q);
}

static void encoding(void)
{
	char *a = s3_uri_encode("docker/registry/v2/a b+c:d@e=f~g_h-i.j", 1);
	char *b = s3_uri_encode("a/b", 0);
	const struct s3_header h[] = {{"x-b", "  two   spaces  "}, {"host", "h"}};
	struct s3_sign in = {.method = "GET", .host = "h", .path = "/", .headers = h,
			     .n_headers = 2, .payload_hash = "UNSIGNED-PAYLOAD",
			     .amz_date = DATE, .region = "r", .service = "s3"};
	char *sh = NULL, *creq = s3_canonical_request(&in, &sh);
	char date[17];

	CHECK_STR(a, "docker/registry/v2/a%20b%2Bc%3Ad%40e%3Df~g_h-i.j");
	CHECK_STR(b, "a%2Fb");
	CHECK_STR(creq, "GET\n/\n\nhost:h\nx-b:two spaces\n\nhost;x-b\nUNSIGNED-PAYLOAD");
	CHECK_STR(sh, "host;x-b");
	s3_amz_date(1369353600, date);
	CHECK_STR(date, DATE);
	free(a);
	free(b);
	free(creq);
	free(sh);
}

int main(void)
{
	get_object();
	put_object();
	bucket_queries();
	presigned();
	encoding();
	TEST_MAIN_END();
}
