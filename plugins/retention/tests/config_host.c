/*
 * config_host.c - see config_host.h. libyaml events become a tree of
 * struct berth_config nodes (the type is opaque to the plugin, so the test
 * defines it), and the getters walk the tree.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config_host.h"

#define SOURCE "test.yaml"

enum node_type {
	NODE_SCALAR,
	NODE_SEQ,
	NODE_MAP
};

struct pair {
	char *key;
	int line, col;
	struct berth_config *value;
};

struct berth_config {
	int type;                       /* enum node_type */
	int line, col;                  /* 1-based */
	char *scalar;
	int is_null;                    /* an empty or `~`/`null` plain scalar */
	struct berth_config **items;    /* NODE_SEQ */
	struct pair *pairs;             /* NODE_MAP, in written order */
	size_t n;
};

/* Configs are a few levels deep; anything much deeper is a mistake. */
#define DEPTH_MAX 16
#define NODES_MAX 100000

struct builder {
	yaml_parser_t parser;
	size_t nodes;
	char *err;
	size_t cap;
};

static void node_free(struct berth_config *n)
{
	size_t i;

	if (!n)
		return;
	if (n->type == NODE_SEQ)
		for (i = 0; i < n->n; i++)
			node_free(n->items[i]);
	if (n->type == NODE_MAP)
		for (i = 0; i < n->n; i++) {
			free(n->pairs[i].key);
			node_free(n->pairs[i].value);
		}
	free(n->items);
	free(n->pairs);
	free(n->scalar);
	free(n);
}

static const struct berth_config *node_get(const struct berth_config *map,
						 const char *key)
{
	if (!map || map->type != NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->pairs[i].key, key) == 0)
			return map->pairs[i].value;
	return NULL;
}

static int fail_at(struct builder *b, const yaml_mark_t *m, const char *what)
{
	snprintf(b->err, b->cap, SOURCE ":%zu:%zu: %s", m->line + 1, m->column + 1, what);
	return -1;
}

static int parser_error(struct builder *b)
{
	const yaml_parser_t *p = &b->parser;

	snprintf(b->err, b->cap, SOURCE ":%zu:%zu: %s", p->problem_mark.line + 1,
		 p->problem_mark.column + 1, p->problem ? p->problem : "invalid YAML");
	return -1;
}

static int out_of_memory(struct builder *b)
{
	snprintf(b->err, b->cap, "out of memory");
	return -1;
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev))
		return parser_error(b);
	return 0;
}

static struct berth_config *node_new(struct builder *b, int type, const yaml_mark_t *m)
{
	struct berth_config *n;

	if (++b->nodes > NODES_MAX) {
		fail_at(b, m, "too many nodes");
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		out_of_memory(b);
		return NULL;
	}
	n->type = type;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

static int plain_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !*v || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

static int build(struct builder *b, yaml_event_t *ev, int depth, struct berth_config **out);

static int build_seq(struct builder *b, struct berth_config *n, int depth)
{
	for (;;) {
		yaml_event_t ev;
		struct berth_config *item = NULL, **items;
		int rc = next_event(b, &ev);

		if (rc < 0)
			return rc;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		rc = build(b, &ev, depth + 1, &item);
		yaml_event_delete(&ev);
		if (rc < 0)
			return rc;
		items = realloc(n->items, (n->n + 1) * sizeof(*items));
		if (!items) {
			node_free(item);
			return out_of_memory(b);
		}
		n->items = items;
		n->items[n->n++] = item;
	}
}

static int build_map(struct builder *b, struct berth_config *n, int depth)
{
	for (;;) {
		yaml_event_t ev;
		struct pair pair = {0}, *pairs;
		int rc = next_event(b, &ev);

		if (rc < 0)
			return rc;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			rc = fail_at(b, &ev.start_mark, "a key must be a plain word");
			yaml_event_delete(&ev);
			return rc;
		}
		pair.line = (int)ev.start_mark.line + 1;
		pair.col = (int)ev.start_mark.column + 1;
		if (node_get(n, (const char *)ev.data.scalar.value)) {
			char msg[200];

			snprintf(msg, sizeof(msg), "key '%.100s' is given twice",
				 (const char *)ev.data.scalar.value);
			rc = fail_at(b, &ev.start_mark, msg);
			yaml_event_delete(&ev);
			return rc;
		}
		pair.key = strdup((const char *)ev.data.scalar.value);
		yaml_event_delete(&ev);
		if (!pair.key)
			return out_of_memory(b);
		rc = next_event(b, &ev);
		if (rc == 0) {
			rc = build(b, &ev, depth + 1, &pair.value);
			yaml_event_delete(&ev);
		}
		if (rc < 0) {
			free(pair.key);
			return rc;
		}
		pairs = realloc(n->pairs, (n->n + 1) * sizeof(*pairs));
		if (!pairs) {
			free(pair.key);
			node_free(pair.value);
			return out_of_memory(b);
		}
		n->pairs = pairs;
		n->pairs[n->n++] = pair;
	}
}

/* The node that starts with ev (already read; the caller deletes it). */
static int build(struct builder *b, yaml_event_t *ev, int depth, struct berth_config **out)
{
	struct berth_config *n = NULL;
	int rc;

	*out = NULL;
	if (depth > DEPTH_MAX)
		return fail_at(b, &ev->start_mark, "nested too deeply");
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return fail_at(b, &ev->start_mark, "aliases are not supported");
	case YAML_SCALAR_EVENT:
		n = node_new(b, NODE_SCALAR, &ev->start_mark);
		if (!n)
			return -1;
		n->scalar = strdup((const char *)ev->data.scalar.value);
		n->is_null = plain_null(ev);
		if (!n->scalar) {
			free(n);
			return out_of_memory(b);
		}
		*out = n;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
		n = node_new(b, NODE_SEQ, &ev->start_mark);
		if (!n)
			return -1;
		rc = build_seq(b, n, depth);
		break;
	case YAML_MAPPING_START_EVENT:
		n = node_new(b, NODE_MAP, &ev->start_mark);
		if (!n)
			return -1;
		rc = build_map(b, n, depth);
		break;
	default:
		return fail_at(b, &ev->start_mark, "unexpected YAML event");
	}
	if (rc < 0) {
		node_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

static struct berth_config *parse_text(const char *text, size_t len, char *err, size_t cap)
{
	struct builder b = {.err = err, .cap = cap};
	struct berth_config *root = NULL;
	yaml_event_t ev;
	int rc, i;

	if (!yaml_parser_initialize(&b.parser)) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
	/* STREAM-START and DOCUMENT-START, the node, DOCUMENT-END and STREAM-END. */
	for (i = 0, rc = 0; i < 2 && rc == 0; i++) {
		rc = next_event(&b, &ev);
		if (rc == 0)
			yaml_event_delete(&ev);
	}
	if (rc == 0)
		rc = next_event(&b, &ev);
	if (rc == 0) {
		rc = build(&b, &ev, 0, &root);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&b.parser);
	if (rc < 0) {
		node_free(root);
		return NULL;
	}
	return root;
}

static int add_pair(struct berth_config *map, const char *key, struct berth_config *value)
{
	struct pair *pairs = realloc(map->pairs, (map->n + 1) * sizeof(*pairs));

	if (!pairs)
		return -1;
	map->pairs = pairs;
	pairs[map->n].key = strdup(key);
	pairs[map->n].line = pairs[map->n].col = 0;
	pairs[map->n++].value = value;
	return 0;
}

const berth_config *config_host_parse(const char *text, const berth_config_key *schema,
				      char *err, size_t cap)
{
	struct berth_config *root = parse_text(text, strlen(text), err, cap);

	if (!root)
		return NULL;
	if (root->type != NODE_MAP) {
		snprintf(err, cap, "the config must be a map");
		node_free(root);
		return NULL;
	}
	/* The core reads a key absent from the YAML as its schema default. */
	for (const berth_config_key *k = schema; k && k->type != BERTH_CONFIG_END; k++) {
		struct berth_config *v;

		if (!k->default_value || node_get(root, k->key))
			continue;
		v = parse_text(k->default_value, strlen(k->default_value), err, cap);
		if (v)
			add_pair(root, k->key, v);
	}
	return root;
}

void config_host_free(const berth_config *cfg)
{
	node_free((struct berth_config *)cfg);
}

/* ------------------------------------------------------------------------ */
/* The getters                                                              */
/* ------------------------------------------------------------------------ */

static const struct berth_config *written(const berth_config *cfg, const char *key)
{
	const struct berth_config *v = cfg && key ? node_get(cfg, key) : NULL;

	return v && !(v->type == NODE_SCALAR && v->is_null) ? v : NULL;
}

static const char *h_config_string(const berth_config *cfg, const char *key)
{
	const struct berth_config *v = written(cfg, key);

	return v && v->type == NODE_SCALAR ? v->scalar : NULL;
}

static int h_config_bool(const berth_config *cfg, const char *key, int def)
{
	const char *s = h_config_string(cfg, key);

	if (!s)
		return def;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
		return 1;
	if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
		return 0;
	return def;
}

static int64_t h_config_int(const berth_config *cfg, const char *key, int64_t def)
{
	const char *s = h_config_string(cfg, key);

	return s ? strtoll(s, NULL, 10) : def;
}

static size_t h_config_list_count(const berth_config *cfg, const char *key)
{
	const struct berth_config *v = written(cfg, key);

	if (!v)
		return 0;
	return v->type == NODE_SEQ ? v->n : v->type == NODE_SCALAR;
}

static const char *h_config_list_string(const berth_config *cfg, const char *key, size_t index)
{
	const struct berth_config *v = written(cfg, key);

	if (v && v->type == NODE_SCALAR)
		return index == 0 ? v->scalar : NULL;
	if (!v || v->type != NODE_SEQ || index >= v->n)
		return NULL;
	v = v->items[index];
	return v->type == NODE_SCALAR && !v->is_null ? v->scalar : NULL;
}

static const berth_config *h_config_child(const berth_config *cfg, const char *key)
{
	const struct berth_config *v = written(cfg, key);

	return v && v->type == NODE_MAP ? v : NULL;
}

static const berth_config *h_config_list_child(const berth_config *cfg, const char *key,
					       size_t index)
{
	const struct berth_config *v = written(cfg, key);

	if (!v || v->type != NODE_SEQ || index >= v->n)
		return NULL;
	return v->items[index]->type == NODE_MAP ? v->items[index] : NULL;
}

static size_t h_config_key_count(const berth_config *cfg)
{
	return cfg && cfg->type == NODE_MAP ? cfg->n : 0;
}

static const char *h_config_key_at(const berth_config *cfg, size_t index)
{
	return index < h_config_key_count(cfg) ? cfg->pairs[index].key : NULL;
}

static const char *h_config_where(const berth_config *cfg, const char *key, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (!cfg)
		return buf;
	for (size_t i = 0; key && cfg->type == NODE_MAP && i < cfg->n; i++)
		if (strcmp(cfg->pairs[i].key, key) == 0) {
			snprintf(buf, cap, SOURCE ":%d:%d", cfg->pairs[i].line, cfg->pairs[i].col);
			return buf;
		}
	snprintf(buf, cap, SOURCE ":%d:%d", cfg->line, cfg->col);
	return buf;
}

BERTH_PRINTF(3, 4)
static void h_log(const berth_instance *self, int level, const char *fmt, ...)
{
	va_list ap;

	(void)self;
	if (level > BERTH_LOG_WARN)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const berth_host host = {
	.size = sizeof(berth_host),
	.abi_major = BERTH_ABI_MAJOR,
	.abi_minor = BERTH_ABI_MINOR,
	.version = "test",
	.log = h_log,
	.config_string = h_config_string,
	.config_int = h_config_int,
	.config_bool = h_config_bool,
	.config_list_count = h_config_list_count,
	.config_list_string = h_config_list_string,
	.config_child = h_config_child,
	.config_list_child = h_config_list_child,
	.config_key_count = h_config_key_count,
	.config_key_at = h_config_key_at,
	.config_where = h_config_where,
};

const berth_host *config_host(void)
{
	return &host;
}
