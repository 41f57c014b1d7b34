/*
 * test_xml.c - reading S3's XML answers: the documents RGW and AWS send,
 * their quirks (empty complete ETag, unquoted copy ETags, 200 answers that
 * carry an error), and malformed or hostile input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "test.h"

struct seen {
	int n;
	char names[8][128];
	int prefix[8];
	uint64_t size[8];
	int64_t mtime[8];
	int stop_at;
};

static int on_entry(void *ctx, const char *name, int is_prefix, uint64_t size,
			 int64_t mtime_ms)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		s->mtime[s->n] = mtime_ms;
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
		s->prefix[s->n] = is_prefix;
		s->size[s->n] = size;
	}
	s->n++;
	return s->stop_at && s->n >= s->stop_at;
}

static int list(const char *xml, struct seen *s, struct s3_list_page *pg)
{
	memset(pg, 0, sizeof(*pg));
	pg->entry = on_entry;
	pg->ctx = s;
	return s3_xml_list(xml, strlen(xml), pg);
}

static void list_page(void)
{
	/* As RGW 16.2 sends it, with a delimiter and a continuation token. */
	const char *xml =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><Prefix>r/</Prefix><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter>"
		"<IsTruncated>true</IsTruncated>"
		"<Contents><Key>r/a&amp;b</Key><LastModified>2026-11-27T21:00:00.000Z</LastModified>"
		"<ETag>&quot;5d41&quot;</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass>"
		"</Contents>"
		"<CommonPrefixes><Prefix>r/sub/</Prefix></CommonPrefixes>"
		"<Contents><Key>r/&#x41;&#66;</Key><Size>18446744073709551615</Size></Contents>"
		"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
		"<KeyCount>3</KeyCount></ListBucketResult>";
	struct s3_list_page pg;
	struct seen s = {0};

	CHECK_INT(list(xml, &s, &pg), 0);
	CHECK_INT(s.n, 3);
	CHECK_STR(s.names[0], "r/a&b");
	CHECK_INT(s.prefix[0], 0);
	CHECK_INT(s.size[0], 42);
	/* 2026-11-27T21:00:00Z */
	CHECK(s.mtime[0] == 1795813200000LL);
	CHECK(s.mtime[1] == 0);
	CHECK_STR(s.names[1], "r/sub/");
	CHECK_INT(s.prefix[1], 1);
	CHECK_STR(s.names[2], "r/AB");
	CHECK(s.size[2] == UINT64_MAX);
	CHECK_INT(pg.truncated, 1);
	CHECK_STR(pg.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

	/* Stopping early. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	CHECK_INT(list(xml, &s, &pg), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(pg.stopped, 1);

	/* An empty page; a truncated page without a token is refused. */
	memset(&s, 0, sizeof(s));
	CHECK_INT(list("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>", &s,
		       &pg), 0);
	CHECK_INT(s.n, 0);
	CHECK_INT(pg.truncated, 0);
	CHECK_INT(list("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", &s,
		       &pg), BERTH_E_INVALID);
	/* Self-closing elements, comments and CDATA. */
	memset(&s, 0, sizeof(s));
	CHECK_INT(list("<ListBucketResult><!-- c --><Name/><Contents><Key><![CDATA[x<y]]></Key>"
		       "</Contents></ListBucketResult>", &s, &pg), 0);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.names[0], "x<y");
}

static void errors(void)
{
	struct s3_xml_error e;
	const char *rgw = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>"
			  "<Code>NoSuchBucket</Code><BucketName>x</BucketName>"
			  "<RequestId>tx0000</RequestId><HostId>abc</HostId></Error>";
	const char *aws = "<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
			  "signature we calculated does not match</Message></Error>";

	CHECK_INT(s3_xml_error(rgw, strlen(rgw), &e), 0);
	CHECK_STR(e.code, "NoSuchBucket");
	CHECK_STR(e.message, "");
	CHECK_INT(s3_xml_error(aws, strlen(aws), &e), 0);
	CHECK_STR(e.code, "SignatureDoesNotMatch");
	CHECK_STR(e.message, "The request signature we calculated does not match");
	/* A 200 answer to a copy that failed midway carries an <Error>. */
	CHECK_INT(s3_xml_error("<Error><Code>InternalError</Code></Error>", 41, &e), 0);
	CHECK_STR(e.code, "InternalError");
	CHECK_INT(s3_xml_error("<CopyObjectResult/>", 19, &e), BERTH_E_NOT_FOUND);
}

static void results(void)
{
	char out[256];
	const char *init = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
			   "<UploadId>2~abc-DEF</UploadId></InitiateMultipartUploadResult>";
	/* RGW 16.2: the complete answer's ETag is empty; the copy ETags unquoted. */
	const char *complete = "<CompleteMultipartUploadResult><Location>l</Location>"
			       "<Bucket>b</Bucket><Key>k</Key><ETag></ETag>"
			       "</CompleteMultipartUploadResult>";
	const char *copy_rgw = "<CopyPartResult><LastModified>x</LastModified>"
			       "<ETag>9b2cf535f27731c974343645a3985328</ETag></CopyPartResult>";
	const char *copy_aws = "<CopyPartResult><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;"
			       "</ETag></CopyPartResult>";

	CHECK_INT(s3_xml_text(init, strlen(init), "InitiateMultipartUploadResult", "UploadId", out,
			      sizeof(out)), 0);
	CHECK_STR(out, "2~abc-DEF");
	CHECK_INT(s3_xml_text(complete, strlen(complete), "CompleteMultipartUploadResult", "ETag",
			      out, sizeof(out)), 0);
	CHECK_STR(out, "");
	CHECK_INT(s3_xml_text(copy_rgw, strlen(copy_rgw), "CopyPartResult", "ETag", out,
			      sizeof(out)), 0);
	s3_etag_unquote(out);
	CHECK_STR(out, "9b2cf535f27731c974343645a3985328");
	CHECK_INT(s3_xml_text(copy_aws, strlen(copy_aws), "CopyPartResult", "ETag", out,
			      sizeof(out)), 0);
	s3_etag_unquote(out);
	CHECK_STR(out, "9b2cf535f27731c974343645a3985328");
	CHECK_INT(s3_xml_text(init, strlen(init), "InitiateMultipartUploadResult", "Nope", out,
			      sizeof(out)), BERTH_E_NOT_FOUND);
	/* Cut to the buffer. */
	CHECK_INT(s3_xml_text(init, strlen(init), "InitiateMultipartUploadResult", "UploadId", out,
			      4), 0);
	CHECK_STR(out, "2~a");
}

static void malformed(void)
{
	static const char *const bad[] = {
		"", "   ", "text", "<a>", "<a></b>", "<a><b></a></b>", "</a>", "<a>&bogus;</a>",
		"<a>&#0;</a>", "<a>&#x110000;</a>", "<a>&#;</a>", "<a b=\"unterminated></a>",
		"<a></a><b></b>", "<a><![CDATA[never closed</a>", "<!-- never closed", "<?xml",
		"<a>&#99999999999;</a>", "<>", "<a><</a>",
	};
	struct s3_xml_error e;
	char deep[16 * 4 + 40];
	size_t i;
	char out[16];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = s3_xml_text(bad[i], strlen(bad[i]), "a", "b", out, sizeof(out));

		if (rc != BERTH_E_INVALID)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK_INT(rc, BERTH_E_INVALID);
	}
	/* Deeper than the walker keeps: refused, not overflowed. */
	deep[0] = '\0';
	for (i = 0; i < 17; i++)
		strcat(deep, "<a>");
	CHECK_INT(s3_xml_error(deep, strlen(deep), &e), BERTH_E_INVALID);
	/* Not NUL-terminated: only len bytes are read. */
	CHECK_INT(s3_xml_error("<Error><Code>X</Code></Error>GARBAGE", 29, &e), 0);
	CHECK_STR(e.code, "X");
}

int main(void)
{
	list_page();
	errors();
	results();
	malformed();
	TEST_MAIN_END();
}
