/*
 * config_node.c - parse YAML with libyaml's event API into cfg_node trees.
 *
 * The event API (rather than yaml_parser_load) lets us refuse anchors and
 * aliases before they are resolved (a billion-laughs document never grows),
 * bound nesting with an explicit stack, and keep a mark for every key.
 */
#include "config_node.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct frame {
	cfg_node *node;
	char *key;              /* a map's key waiting for its value */
	int key_line, key_column;
};

struct builder {
	const char *file;
	const char *buf;
	size_t len;
	unsigned flags;
	berth_error *err;
	cfg_node *root;
	int documents;
	int depth;
	struct frame stack[CFG_MAX_DEPTH];
};

static int nomem(berth_error *err)
{
	if (err) {
		err->code = BERTH_E_NOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
	}
	return BERTH_E_NOMEM;
}

static int vlocated(berth_error *err, const char *file, int line, int column,
		    const char *fmt, va_list ap) BERTH_PRINTF(5, 0);

static int vlocated(berth_error *err, const char *file, int line, int column,
		    const char *fmt, va_list ap)
{
	int n;

	if (!err)
		return BERTH_E_CONFIG;
	err->code = BERTH_E_CONFIG;
	n = snprintf(err->message, sizeof(err->message), "%s:%d:%d: ",
		     file ? file : "(config)", line, column);
	if (n >= 0 && (size_t)n < sizeof(err->message))
		vsnprintf(err->message + n, sizeof(err->message) - (size_t)n, fmt, ap);
	return BERTH_E_CONFIG;
}

int cfg_error(berth_error *err, const char *file, int line, int column,
	      const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vlocated(err, file, line, column, fmt, ap);
	va_end(ap);
	return rc;
}

int cfg_node_error(berth_error *err, const cfg_node *at, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vlocated(err, at ? at->file : NULL, at ? at->line : 1,
		      at ? at->column : 1, fmt, ap);
	va_end(ap);
	return rc;
}

int cfg_pair_error(berth_error *err, const cfg_pair *at, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vlocated(err, at ? at->file : NULL, at ? at->line : 1,
		      at ? at->column : 1, fmt, ap);
	va_end(ap);
	return rc;
}

char *cfg_show(char buf[CFG_SHOW_MAX], const char *s)
{
	size_t i, n = 0;

	if (!s)
		s = "";
	for (i = 0; s[i] && n < 60; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s[i])
		memcpy(buf + n, "...", 4);
	else
		buf[n] = '\0';
	return buf;
}

int cfg_edit_distance(const char *a, const char *b, int limit)
{
	/* Keys worth suggesting for are short; anything long is no typo of them. */
	enum { MAXLEN = 64 };
	int d[MAXLEN + 1][MAXLEN + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > MAXLEN || lb > MAXLEN)
		return limit + 1;
	if ((la > lb ? la - lb : lb - la) > (size_t)limit)
		return limit + 1;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++) {
		int row_min = limit + 1;

		for (j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];
			int v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
			if (v < row_min)
				row_min = v;
		}
		if (row_min > limit)
			return limit + 1;
	}
	return d[la][lb] > limit ? limit + 1 : d[la][lb];
}

void cfg_suggest(const char *unknown, const char *candidate, const char **best,
		 int *best_distance)
{
	int d;

	if (!unknown || !candidate)
		return;
	d = cfg_edit_distance(unknown, candidate, 2);
	if (d > 2 || (size_t)d >= strlen(candidate))
		return;
	if (!*best || d < *best_distance) {
		*best = candidate;
		*best_distance = d;
	}
}

const char *cfg_type_name(const cfg_node *node)
{
	if (!node)
		return "nothing";
	switch (node->type) {
	case CFG_MAP:
		return "a map";
	case CFG_SEQ:
		return "a list";
	case CFG_SCALAR:
		return node->is_null ? "an empty value" : "a value";
	}
	return "a value";
}

cfg_node *cfg_node_new(enum cfg_type type, const char *file, int line, int column)
{
	cfg_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->type = type;
	n->file = file;
	n->line = line;
	n->column = column;
	return n;
}

void cfg_node_free(cfg_node *node)
{
	size_t i;

	if (!node)
		return;
	free(node->scalar);
	for (i = 0; i < node->n_pairs; i++) {
		free(node->pairs[i].key);
		cfg_node_free(node->pairs[i].value);
	}
	free(node->pairs);
	for (i = 0; i < node->n_items; i++)
		cfg_node_free(node->items[i]);
	free(node->items);
	free(node->handle_cache);
	cfg_node_free(node->defaults_cache);
	free(node);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return BERTH_E_NOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int map_add(cfg_node *map, char *key, const char *file, int line,
		   int column, cfg_node *value)
{
	cfg_pair *p;

	if (grow((void **)&map->pairs, &map->cap_pairs, map->n_pairs + 1,
		 sizeof(*map->pairs)) < 0)
		return BERTH_E_NOMEM;
	p = &map->pairs[map->n_pairs++];
	p->key = key;
	p->file = file;
	p->line = line;
	p->column = column;
	p->value = value;
	return 0;
}

static int seq_add(cfg_node *seq, cfg_node *item)
{
	if (grow((void **)&seq->items, &seq->cap_items, seq->n_items + 1,
		 sizeof(*seq->items)) < 0)
		return BERTH_E_NOMEM;
	seq->items[seq->n_items++] = item;
	return 0;
}

int cfg_map_append(cfg_node *map, const char *key, const char *file, int line,
		   int column, cfg_node *value)
{
	char *k = strdup(key);

	if (!k || map_add(map, k, file, line, column, value) < 0) {
		free(k);
		return BERTH_E_NOMEM;
	}
	return 0;
}

cfg_pair *cfg_map_find(const cfg_node *map, const char *key)
{
	size_t i;

	if (!map || map->type != CFG_MAP || !key)
		return NULL;
	for (i = 0; i < map->n_pairs; i++)
		if (strcmp(map->pairs[i].key, key) == 0)
			return &map->pairs[i];
	return NULL;
}

cfg_node *cfg_map_get(const cfg_node *map, const char *key)
{
	cfg_pair *p = cfg_map_find(map, key);

	return p ? p->value : NULL;
}

static int is_append_key(const char *key, const char *const *append_keys)
{
	for (; append_keys && *append_keys; append_keys++)
		if (strcmp(key, *append_keys) == 0)
			return 1;
	return 0;
}

/* A key and its pair's index: the key string stays put when pairs grow. */
struct key_ref {
	const char *key;
	size_t idx;
};

struct key_index {
	struct key_ref *refs;
	size_t n;
};

static int key_ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct key_ref *)a)->key, ((const struct key_ref *)b)->key);
}

/* dst's keys before the merge, sorted; src keys are then found in log time. */
static int index_build(struct key_index *ix, const cfg_node *map)
{
	size_t i;

	ix->n = map->n_pairs;
	ix->refs = malloc((ix->n ? ix->n : 1) * sizeof(*ix->refs));
	if (!ix->refs)
		return BERTH_E_NOMEM;
	for (i = 0; i < ix->n; i++) {
		ix->refs[i].key = map->pairs[i].key;
		ix->refs[i].idx = i;
	}
	qsort(ix->refs, ix->n, sizeof(*ix->refs), key_ref_cmp);
	return 0;
}

static cfg_pair *index_find(const struct key_index *ix, cfg_node *map, const char *key)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, ix->refs[mid].key);

		if (c == 0)
			return &map->pairs[ix->refs[mid].idx];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int cfg_merge(cfg_node *dst, cfg_node *src, const char *const *append_keys)
{
	struct key_index ix = { 0 };
	size_t i;
	int rc = 0;

	if (!src)
		return 0;
	if (index_build(&ix, dst) < 0) {
		cfg_node_free(src);
		return BERTH_E_NOMEM;
	}
	for (i = 0; i < src->n_pairs; i++) {
		cfg_pair *sp = &src->pairs[i];
		/* Keys appended below are unique within src: no need to find them. */
		cfg_pair *dp = index_find(&ix, dst, sp->key);
		cfg_node *sv = sp->value;

		if (!dp) {
			rc = map_add(dst, sp->key, sp->file, sp->line, sp->column, sv);
			if (rc < 0)
				break;
			sp->key = NULL;
			sp->value = NULL;
			continue;
		}
		if (sv->type == CFG_SCALAR && sv->is_null)
			continue;
		if (sv->type == CFG_MAP && dp->value->type == CFG_MAP) {
			rc = cfg_merge(dp->value, sv, NULL);
			sp->value = NULL;
			if (rc < 0)
				break;
			continue;
		}
		if (sv->type == CFG_SEQ && dp->value->type == CFG_SEQ &&
		    is_append_key(sp->key, append_keys)) {
			cfg_node *dv = dp->value;

			if (grow((void **)&dv->items, &dv->cap_items,
				 dv->n_items + sv->n_items, sizeof(*dv->items)) < 0) {
				rc = BERTH_E_NOMEM;
				break;
			}
			memcpy(dv->items + dv->n_items, sv->items,
			       sv->n_items * sizeof(*sv->items));
			dv->n_items += sv->n_items;
			sv->n_items = 0;
			continue;
		}
		cfg_node_free(dp->value);
		dp->value = sv;
		dp->file = sp->file;
		dp->line = sp->line;
		dp->column = sp->column;
		sp->value = NULL;
	}
	free(ix.refs);
	cfg_node_free(src);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* ${VAR} expansion                                                         */
/* ------------------------------------------------------------------------ */

struct strbuf {
	char *s;
	size_t len, cap;
};

static int sb_add(struct strbuf *sb, const char *p, size_t n)
{
	if (n > CFG_MAX_SCALAR || sb->len + n > CFG_MAX_SCALAR)
		return BERTH_E_TOO_LARGE;
	if (grow((void **)&sb->s, &sb->cap, sb->len + n + 1, 1) < 0)
		return BERTH_E_NOMEM;
	memcpy(sb->s + sb->len, p, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
	return 0;
}

/* Largest secret file ${file:PATH} reads. */
#define CFG_MAX_FILE_VALUE (64 * 1024)

/*
 * ${file:PATH}: the contents of a file (one trailing newline dropped), so
 * secrets can come from a mounted secret (Docker, Kubernetes, systemd
 * credentials) instead of the YAML or the environment. A relative PATH is
 * relative to the folder of the YAML file that names it.
 */
static int add_file(struct strbuf *sb, const cfg_node *at, const char *path, size_t n,
		    berth_error *err)
{
	char full[4096], shown[CFG_SHOW_MAX], *buf = NULL;
	const char *slash = at->file ? strrchr(at->file, '/') : NULL;
	size_t got;
	FILE *f;
	int rc;

	if (n == 0 || n >= 2048)
		return cfg_node_error(err, at, "invalid ${file:...}: give a path");
	if (path[0] != '/' && slash)
		snprintf(full, sizeof(full), "%.*s/%.*s", (int)(slash - at->file), at->file, (int)n,
			 path);
	else
		snprintf(full, sizeof(full), "%.*s", (int)n, path);
	f = fopen(full, "rb");
	if (!f)
		return cfg_node_error(err, at, "cannot read the file of ${file:%s}: %s",
				      cfg_show(shown, full), strerror(errno));
	buf = malloc(CFG_MAX_FILE_VALUE + 1);
	if (!buf) {
		fclose(f);
		return BERTH_E_NOMEM;
	}
	got = fread(buf, 1, CFG_MAX_FILE_VALUE + 1, f);
	fclose(f);
	if (got > CFG_MAX_FILE_VALUE) {
		free(buf);
		return cfg_node_error(err, at, "the file of ${file:%s} is larger than %d bytes",
				      cfg_show(shown, full), CFG_MAX_FILE_VALUE);
	}
	if (got > 0 && buf[got - 1] == '\n')
		got--;
	if (got > 0 && buf[got - 1] == '\r')
		got--;
	if (memchr(buf, '\0', got)) {
		free(buf);
		return cfg_node_error(err, at, "the file of ${file:%s} holds a NUL byte",
				      cfg_show(shown, full));
	}
	rc = sb_add(sb, buf, got);
	free(buf);
	return rc;
}

static int expand_env(const cfg_node *at, const char *in, size_t len,
		      char **out, size_t *out_len, berth_error *err)
{
	struct strbuf sb = { 0 };
	char name[CFG_SHOW_MAX], shown[CFG_SHOW_MAX];
	size_t i = 0;
	int rc = 0;

	while (i < len) {
		const char *dollar = memchr(in + i, '$', len - i);
		size_t start, end, name_end;
		const char *value, *def = NULL;
		size_t def_len = 0;
		char *var;

		if (!dollar) {
			rc = sb_add(&sb, in + i, len - i);
			break;
		}
		rc = sb_add(&sb, in + i, (size_t)(dollar - (in + i)));
		if (rc < 0)
			break;
		i = (size_t)(dollar - in);
		if (i + 1 < len && in[i + 1] == '$') {
			rc = sb_add(&sb, "$", 1);
			i += 2;
			if (rc < 0)
				break;
			continue;
		}
		if (i + 1 >= len || in[i + 1] != '{') {
			/* A lone '$' is just a dollar sign. */
			rc = sb_add(&sb, "$", 1);
			i++;
			if (rc < 0)
				break;
			continue;
		}
		start = i + 2;
		end = start;
		while (end < len && in[end] != '}')
			end++;
		if (end >= len) {
			rc = cfg_node_error(err, at, "unterminated '${' in value '%s'",
					    cfg_show(shown, in));
			break;
		}
		if (end - start >= 5 && memcmp(in + start, "file:", 5) == 0) {
			rc = add_file(&sb, at, in + start + 5, end - start - 5, err);
			if (rc < 0)
				break;
			i = end + 1;
			continue;
		}
		name_end = start;
		if (name_end < end && (isalpha((unsigned char)in[name_end]) ||
				       in[name_end] == '_')) {
			while (name_end < end &&
			       (isalnum((unsigned char)in[name_end]) || in[name_end] == '_'))
				name_end++;
		}
		if (name_end == start ||
		    (name_end != end && !(end - name_end >= 2 && in[name_end] == ':' &&
					  in[name_end + 1] == '-'))) {
			var = strndup(in + i, end + 1 - i);
			if (!var) {
				rc = BERTH_E_NOMEM;
				break;
			}
			rc = cfg_node_error(err, at,
					    "invalid variable reference '%s': use ${NAME} or ${NAME:-default}",
					    cfg_show(shown, var));
			free(var);
			break;
		}
		if (name_end != end) {
			def = in + name_end + 2;
			def_len = end - name_end - 2;
		}
		var = strndup(in + start, name_end - start);
		if (!var) {
			rc = BERTH_E_NOMEM;
			break;
		}
		value = getenv(var);
		if (value && !*value && def)
			value = NULL;
		if (value) {
			rc = sb_add(&sb, value, strlen(value));
		} else if (def) {
			rc = sb_add(&sb, def, def_len);
		} else {
			rc = cfg_node_error(err, at,
					    "environment variable '%s' is not set (use ${%s:-default} for a default)",
					    cfg_show(name, var), cfg_show(shown, var));
		}
		free(var);
		if (rc < 0)
			break;
		i = end + 1;
	}
	if (rc == BERTH_E_TOO_LARGE)
		rc = cfg_node_error(err, at, "value is longer than %d bytes after expansion",
				    CFG_MAX_SCALAR);
	else if (rc == BERTH_E_NOMEM)
		rc = nomem(err);
	if (rc == 0 && !sb.s)
		rc = sb_add(&sb, "", 0) < 0 ? nomem(err) : 0;
	if (rc < 0) {
		free(sb.s);
		return rc;
	}
	*out = sb.s;
	*out_len = sb.len;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Building the tree from events                                            */
/* ------------------------------------------------------------------------ */

static void line_col_at(const char *buf, size_t len, size_t offset, int *line,
			int *column)
{
	size_t i, l = 1, c = 1;

	if (offset > len)
		offset = len;
	for (i = 0; i < offset; i++) {
		if (buf[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l > 0x7fffffff ? 0x7fffffff : (int)l;
	*column = c > 0x7fffffff ? 0x7fffffff : (int)c;
}

static int mark_int(size_t v)
{
	return v >= 0x7ffffffe ? 0x7fffffff : (int)v + 1;
}

static int syntax_error(struct builder *b, const yaml_parser_t *p)
{
	int line, column;
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_MEMORY_ERROR)
		return nomem(b->err);
	if (p->error == YAML_READER_ERROR) {
		line_col_at(b->buf, b->len, p->problem_offset, &line, &column);
		return cfg_error(b->err, b->file, line, column, "%s", problem);
	}
	line = mark_int(p->problem_mark.line);
	column = mark_int(p->problem_mark.column);
	if (p->context && mark_int(p->context_mark.line) != line)
		return cfg_error(b->err, b->file, line, column,
				 "%s (%s that starts at line %d)", problem, p->context,
				 mark_int(p->context_mark.line));
	if (p->context)
		return cfg_error(b->err, b->file, line, column, "%s (%s)", problem,
				 p->context);
	return cfg_error(b->err, b->file, line, column, "%s", problem);
}

static int is_null_text(const char *s)
{
	return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* Hang a new node under the innermost open map or list, or make it the root. */
static int attach(struct builder *b, cfg_node *node)
{
	struct frame *f;
	int rc;

	if (b->depth == 0) {
		b->root = node;
		return 0;
	}
	f = &b->stack[b->depth - 1];
	if (f->node->type == CFG_SEQ) {
		rc = seq_add(f->node, node);
	} else {
		rc = map_add(f->node, f->key, b->file, f->key_line, f->key_column, node);
		if (rc == 0)
			f->key = NULL;
	}
	if (rc < 0) {
		cfg_node_free(node);
		return nomem(b->err);
	}
	return 0;
}

static int expecting_key(const struct builder *b)
{
	const struct frame *f;

	if (b->depth == 0)
		return 0;
	f = &b->stack[b->depth - 1];
	return f->node->type == CFG_MAP && !f->key;
}

static int check_anchor(struct builder *b, const yaml_event_t *ev,
			const yaml_char_t *anchor)
{
	if (!anchor)
		return 0;
	return cfg_error(b->err, b->file, mark_int(ev->start_mark.line),
			 mark_int(ev->start_mark.column),
			 "anchors and aliases are not supported");
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	int line = mark_int(ev->start_mark.line);
	int column = mark_int(ev->start_mark.column);
	cfg_node *node;
	int rc;

	rc = check_anchor(b, ev, ev->data.scalar.anchor);
	if (rc < 0)
		return rc;
	if (memchr(text, '\0', len))
		return cfg_error(b->err, b->file, line, column,
				 "values may not contain a NUL character");
	if (expecting_key(b)) {
		struct frame *f = &b->stack[b->depth - 1];

		if (len == 0)
			return cfg_error(b->err, b->file, line, column, "empty key");
		f->key = strndup(text, len);
		if (!f->key)
			return nomem(b->err);
		f->key_line = line;
		f->key_column = column;
		return 0;
	}
	node = cfg_node_new(CFG_SCALAR, b->file, line, column);
	if (!node)
		return nomem(b->err);
	node->is_null = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			is_null_text(text);
	if (b->flags & CFG_PARSE_EXPAND_ENV) {
		rc = expand_env(node, text, len, &node->scalar, &node->len, b->err);
		if (rc < 0) {
			cfg_node_free(node);
			return rc;
		}
		if (memchr(node->scalar, '\0', node->len)) {
			cfg_node_free(node);
			return cfg_error(b->err, b->file, line, column,
					 "values may not contain a NUL character");
		}
	} else {
		node->scalar = strndup(text, len);
		node->len = len;
		if (!node->scalar) {
			cfg_node_free(node);
			return nomem(b->err);
		}
	}
	return attach(b, node);
}

static int on_start(struct builder *b, const yaml_event_t *ev, enum cfg_type type)
{
	int line = mark_int(ev->start_mark.line);
	int column = mark_int(ev->start_mark.column);
	const yaml_char_t *anchor = type == CFG_MAP ? ev->data.mapping_start.anchor
						    : ev->data.sequence_start.anchor;
	cfg_node *node;
	int rc;

	rc = check_anchor(b, ev, anchor);
	if (rc < 0)
		return rc;
	if (expecting_key(b))
		return cfg_error(b->err, b->file, line, column,
				 "keys must be plain values, not %s",
				 type == CFG_MAP ? "maps" : "lists");
	if (b->depth >= CFG_MAX_DEPTH)
		return cfg_error(b->err, b->file, line, column,
				 "nesting is deeper than %d levels", CFG_MAX_DEPTH);
	node = cfg_node_new(type, b->file, line, column);
	if (!node)
		return nomem(b->err);
	rc = attach(b, node);
	if (rc < 0)
		return rc;
	b->stack[b->depth].node = node;
	b->stack[b->depth].key = NULL;
	b->depth++;
	return 0;
}

static int pair_cmp(const void *a, const void *b)
{
	const cfg_pair *pa = *(const cfg_pair *const *)a;
	const cfg_pair *pb = *(const cfg_pair *const *)b;
	int c = strcmp(pa->key, pb->key);

	if (c)
		return c;
	return pa < pb ? -1 : pa > pb;
}

/* Sorting keeps a huge flow map from costing O(n^2) comparisons. */
static int check_duplicates(struct builder *b, const cfg_node *map)
{
	const cfg_pair **sorted;
	const cfg_pair *dup = NULL, *first = NULL;
	char shown[CFG_SHOW_MAX];
	size_t i;

	if (map->n_pairs < 2)
		return 0;
	sorted = malloc(map->n_pairs * sizeof(*sorted));
	if (!sorted)
		return nomem(b->err);
	for (i = 0; i < map->n_pairs; i++)
		sorted[i] = &map->pairs[i];
	qsort(sorted, map->n_pairs, sizeof(*sorted), pair_cmp);
	for (i = 1; i < map->n_pairs; i++) {
		if (strcmp(sorted[i - 1]->key, sorted[i]->key) != 0)
			continue;
		/* Report the earliest repetition in the document. */
		if (!dup || sorted[i] < dup) {
			size_t j = i - 1;

			while (j > 0 && strcmp(sorted[j - 1]->key, sorted[i]->key) == 0)
				j--;
			dup = sorted[i];
			first = sorted[j];
		}
	}
	free(sorted);
	if (!dup)
		return 0;
	return cfg_pair_error(b->err, dup, "duplicate key '%s' (first set at line %d)",
			      cfg_show(shown, dup->key), first->line);
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1)
			return cfg_error(b->err, b->file, mark_int(ev->start_mark.line),
					 mark_int(ev->start_mark.column),
					 "only one YAML document per file is allowed");
		return 0;
	case YAML_ALIAS_EVENT:
		return cfg_error(b->err, b->file, mark_int(ev->start_mark.line),
				 mark_int(ev->start_mark.column),
				 "aliases are not supported");
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_MAPPING_START_EVENT:
		return on_start(b, ev, CFG_MAP);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(b, ev, CFG_SEQ);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		if (b->depth == 0)
			return cfg_error(b->err, b->file, mark_int(ev->start_mark.line),
					 mark_int(ev->start_mark.column),
					 "unbalanced YAML structure");
		b->depth--;
		if (ev->type == YAML_MAPPING_END_EVENT)
			return check_duplicates(b, b->stack[b->depth].node);
		return 0;
	default:
		return 0;
	}
}

int cfg_parse(const char *file, const char *buf, size_t len, unsigned flags,
	      cfg_node **out, berth_error *err)
{
	struct builder b;
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0, done = 0, i;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.file = file;
	b.buf = buf;
	b.len = len;
	b.flags = flags;
	b.err = err;
	if (!yaml_parser_initialize(&parser))
		return nomem(err);
	yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""),
				     buf ? len : 0);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(&b, &parser);
			break;
		}
		rc = on_event(&b, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (rc < 0)
			break;
	}
	yaml_parser_delete(&parser);
	for (i = 0; i < CFG_MAX_DEPTH; i++)
		free(b.stack[i].key);
	if (rc < 0) {
		cfg_node_free(b.root);
		return rc;
	}
	*out = b.root;
	return 0;
}
