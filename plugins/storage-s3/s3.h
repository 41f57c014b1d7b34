/*
 * s3.h - storage-s3 internals shared by the plugin's source files.
 *
 * Every name here has hidden visibility (the plugin is built with
 * -fvisibility=hidden), so only berth_plugin_entry leaves the .so.
 */
#ifndef STORAGE_S3_H
#define STORAGE_S3_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/plugin.h"

/* S3's own limits: parts of 5 MiB at least (but the last), 5 GiB at most, 10000 parts. */
#define S3_MIN_PART ((uint64_t)5 * 1024 * 1024)
#define S3_MAX_PART ((uint64_t)5 * 1024 * 1024 * 1024)
#define S3_MAX_PARTS 10000
/* Longest key accepted, in bytes (S3 allows 1024 for the whole object key). */
#define S3_MAX_KEY 900
/* Longest key shown in an error message; longer ones are cut with "...". */
#define S3_QUOTE_MAX 160
/* Error bodies and small XML answers are read into memory up to this. */
#define S3_XML_MAX (4u * 1024 * 1024)

/* Settings read from the config; immutable after create(). */
struct s3_config {
	char *endpoint;            /* scheme://host[:port], no trailing '/' */
	char *host;                /* the Host header (bucket.host with virtual hosts) */
	char *base_url;            /* endpoint + "/" + bucket, or scheme://bucket.host */
	char *bucket;
	char *region;
	char *root;                /* "" or "a/b" (no leading or trailing '/') */
	char *access_key;
	char *secret_key;
	char *session_token;       /* NULL unless given */
	char *ca_file;             /* NULL: the system's CAs */
	int path_style;
	int tls_verify;
	uint64_t part_size;
	uint64_t copy_threshold;
	uint64_t copy_part_size;
	uint64_t read_window;
	long connect_timeout_ms;
	long stall_timeout_ms;
	int retries;
	long retry_backoff_ms;
	int redirect;
	long redirect_expiry_s;
	int max_idle;
};

/*
 * One instance. The config is immutable after create(); the idle handle
 * pool and the log limiter have their own locks, so every storage operation
 * runs concurrently.
 */
struct s3_state {
	struct s3_config cfg;
	const berth_host *host;
	const berth_instance *self;
	pthread_mutex_t pool_lock;
	void **pool;               /* idle CURL easy handles, connections kept */
	int pool_len;
	int64_t last_warn_ms;      /* log limiter for repeated failures */
	unsigned suppressed;
};

/* s3_util.c */
int s3_fail(berth_error *err, int code, const char *fmt, ...) BERTH_PRINTF(3, 4);
void s3_quote(char *out, size_t cap, const char *key);
int s3_key_check(const char *key, int allow_empty, berth_error *err);
/* Percent-encode everything but unreserved bytes (and '/' when keep_slash). */
char *s3_uri_encode(const char *s, int keep_slash);
char *s3_strdup_printf(const char *fmt, ...) BERTH_PRINTF(1, 2);
void s3_hex(const unsigned char *in, size_t len, char *out);
void s3_sha256_hex(const void *data, size_t len, char out[65]);
char *s3_object_key(const struct s3_state *s, const char *key, int dir);
int64_t s3_parse_http_date(const char *text);
int64_t s3_parse_iso_date(const char *text);
void s3_warn(struct s3_state *s, const char *fmt, ...) BERTH_PRINTF(2, 3);

/* s3_sigv4.c (pure: unit tested against AWS's published examples) */
struct s3_header {
	const char *name;          /* lowercase */
	const char *value;
};
struct s3_query {
	const char *name;
	const char *value;         /* "" for a bare name such as ?uploads */
};
struct s3_sign {
	const char *method;
	const char *host;
	const char *path;          /* already URI-encoded, starting with '/' */
	const struct s3_query *query;
	size_t n_query;
	const struct s3_header *headers;   /* every header to sign, host included */
	size_t n_headers;
	const char *payload_hash;  /* hex sha256 or "UNSIGNED-PAYLOAD" */
	const char *amz_date;      /* YYYYMMDDTHHMMSSZ */
	const char *region;
	const char *service;
	const char *access_key;
	const char *secret_key;
};
char *s3_canonical_query(const struct s3_query *q, size_t n);
char *s3_canonical_request(const struct s3_sign *in, char **signed_headers);
int s3_signature(const struct s3_sign *in, char out_hex[65], char **signed_headers);
char *s3_authorization(const struct s3_sign *in);
char *s3_presign_query(const struct s3_sign *in, long expires_s, const char *session_token);
void s3_amz_date(int64_t now_s, char out[17]);

/* s3_xml.c (pure: unit tested and fuzzed; never trusts its input) */
typedef int (*s3_xml_fn)(void *ctx, const char *const *path, int depth, const char *text,
			 size_t len);
int s3_xml_walk(const char *xml, size_t len, s3_xml_fn fn, void *ctx);
struct s3_xml_error {
	char code[64];
	char message[256];
};
int s3_xml_error(const char *xml, size_t len, struct s3_xml_error *out);
int s3_xml_text(const char *xml, size_t len, const char *root, const char *leaf, char *out,
		size_t cap);
struct s3_list_page {
	/* Called once per entry: name is the full key or prefix. */
	int (*entry)(void *ctx, const char *name, int is_prefix, uint64_t size,
			 int64_t mtime_ms);
	void *ctx;
	int truncated;
	int stopped;
	char next_token[1024];
};
int s3_xml_list(const char *xml, size_t len, struct s3_list_page *page);
void s3_etag_unquote(char *etag);

/* s3_http.c */
struct s3_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;                /* refuse to grow past this */
};
struct s3_request {
	const char *method;
	const char *key;           /* object key inside the bucket (root applied), NULL: bucket */
	const struct s3_query *query;
	size_t n_query;
	const struct s3_header *headers;   /* extra headers, lowercase names */
	size_t n_headers;
	const void *body;
	size_t body_len;
	/* Where a 2xx body goes: into out (bounded), or into a fixed buffer. */
	struct s3_buf *out;
	char *fixed;
	size_t fixed_cap;
	/* Filled in. */
	long status;
	uint64_t content_length;   /* of the object: Content-Length, or the total of Content-Range */
	int has_length;
	size_t fixed_len;
	int overflow;              /* the body did not fit in fixed/out */
	char etag[128];
	int64_t mtime_ms;
	struct s3_xml_error error;
};
int s3_perform(struct s3_state *s, struct s3_request *r, const char *what, berth_error *err);
int s3_global_init(void);
void s3_pool_free(struct s3_state *s);
void s3_buf_free(struct s3_buf *b);

/* s3_read.c */
int s3_stat(void *state, const char *key, berth_stat *st, berth_error *err);
int s3_read_all(void *state, const char *key, void *buf, size_t cap, size_t *len,
		berth_error *err);
int s3_open_read(void *state, const char *key, uint64_t offset, berth_read_handle *h,
		 berth_error *err);
ssize_t s3_read_at(void *state, void *stream, uint64_t offset, void *buf, size_t cap,
		   berth_error *err);
void s3_read_close(void *state, void *stream);
int s3_head(struct s3_state *s, const char *okey, const char *q, uint64_t *size, char *etag,
	    size_t etag_cap, int64_t *mtime_ms, berth_error *err);

/* s3_write.c */
int s3_write_open(void *state, const char *key, unsigned flags, void **writer,
		  berth_error *err);
int s3_write(void *state, void *writer, const void *buf, size_t len, berth_error *err);
int s3_write_commit(void *state, void *writer, berth_error *err);
void s3_write_cancel(void *state, void *writer);

/* s3_multipart.c */
struct s3_multipart {
	char *okey;
	char *upload_id;
	char **etags;
	int n_parts;
	int cap_parts;
};
int s3_mp_begin(struct s3_state *s, struct s3_multipart *mp, const char *q, berth_error *err);
int s3_mp_part(struct s3_state *s, struct s3_multipart *mp, const void *data, size_t len,
	       const char *q, berth_error *err);
int s3_mp_copy_part(struct s3_state *s, struct s3_multipart *mp, const char *src_okey,
		    const char *src_etag, uint64_t from, uint64_t to, const char *q,
		    berth_error *err);
int s3_mp_complete(struct s3_state *s, struct s3_multipart *mp, const char *q,
		   berth_error *err);
int s3_mp_copy_object(struct s3_state *s, struct s3_multipart *mp, const char *src_okey,
		      const char *src_etag, uint64_t size, const char *q, berth_error *err);
void s3_mp_abort(struct s3_state *s, struct s3_multipart *mp);
void s3_mp_free(struct s3_multipart *mp);

/* s3_tree.c */
int s3_move(void *state, const char *from, const char *to, berth_error *err);
int s3_remove(void *state, const char *key, berth_error *err);
int s3_list(void *state, const char *prefix, berth_list_fn fn, void *ctx, berth_error *err);
int s3_list_raw(struct s3_state *s, const char *oprefix, int delimited, int max_keys,
		int (*entry)(void *ctx, const char *name, int is_prefix, uint64_t size,
			 int64_t mtime_ms),
		void *ctx, const char *q, berth_error *err);
int s3_redirect_url(void *state, const char *key, const char *method, char *url, size_t cap,
		    berth_error *err);
int s3_usage(void *state, berth_storage_usage *u, berth_error *err);

/* s3_config.c */
int s3_config_load(const berth_host *host, const berth_config *config, struct s3_config *c,
		   berth_error *err);
void s3_config_free(struct s3_config *c);

#endif
