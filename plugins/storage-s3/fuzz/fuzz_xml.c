/*
 * fuzz_xml.c - libFuzzer target for the S3 XML answer readers.
 *
 * The bytes an object store (or anything posing as one) sends back go
 * through s3_xml_walk and the readers built on it: none may read out of
 * bounds, loop, or leak, whatever the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_entry(void *ctx, const char *name, int is_prefix, uint64_t size,
		    int64_t mtime_ms)
{
	size_t *n = ctx;

	(void)is_prefix;
	(void)size;
	(void)mtime_ms;
	*n += strlen(name);
	return *n > 1u << 20;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	struct s3_list_page page;
	struct s3_xml_error e;
	char out[64];
	size_t n = 0;

	memset(&page, 0, sizeof(page));
	page.entry = on_entry;
	page.ctx = &n;
	s3_xml_list(xml, size, &page);
	s3_xml_error(xml, size, &e);
	if (s3_xml_text(xml, size, "CopyPartResult", "ETag", out, sizeof(out)) == 0)
		s3_etag_unquote(out);
	s3_xml_text(xml, size, "InitiateMultipartUploadResult", "UploadId", out, 1);
	return 0;
}
