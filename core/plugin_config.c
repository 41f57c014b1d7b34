/*
 * plugin_config.c - validate a plugin's config map against its schema and
 * read it through the typed getters of the host table.
 *
 * Getters run on any thread and never fail loudly: validation before
 * create() has already refused anything they could not read, so here a bad
 * value simply falls back to the default.
 */
#include "plugin_config.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"

#define DEFAULT_FILE "(schema default)"

static const berth_config_key *schema_find(const berth_config_key *schema,
					   const char *key)
{
	if (!key)
		return NULL;
	for (; schema && schema->type != BERTH_CONFIG_END; schema++)
		if (schema->key && strcmp(schema->key, key) == 0)
			return schema;
	return NULL;
}

static int is_null(const cfg_node *n)
{
	return !n || (n->type == CFG_SCALAR && n->is_null);
}

static const char *type_noun(int type)
{
	switch (type) {
	case BERTH_CONFIG_STRING:
		return "a string";
	case BERTH_CONFIG_INT:
		return "a whole number";
	case BERTH_CONFIG_BOOL:
		return "true or false";
	case BERTH_CONFIG_SIZE:
		return "a size such as 512MiB";
	case BERTH_CONFIG_DURATION:
		return "a duration such as 30s";
	case BERTH_CONFIG_LIST:
		return "a list";
	case BERTH_CONFIG_MAP:
		return "a map";
	case BERTH_CONFIG_MAP_LIST:
		return "a list of maps";
	}
	return "a known type";
}

/* Parse scalar text as the schema type says; 0 when it fits. */
static int parse_scalar(int type, const char *text, int64_t *out)
{
	uint64_t u;
	int b;

	switch (type) {
	case BERTH_CONFIG_STRING:
		*out = 0;
		return 0;
	case BERTH_CONFIG_INT:
		return config_parse_int(text, out);
	case BERTH_CONFIG_BOOL:
		if (config_parse_bool(text, &b) < 0)
			return BERTH_E_INVALID;
		*out = b;
		return 0;
	case BERTH_CONFIG_SIZE:
		if (config_parse_size(text, &u) < 0 || u > INT64_MAX)
			return BERTH_E_INVALID;
		*out = (int64_t)u;
		return 0;
	case BERTH_CONFIG_DURATION:
		if (config_parse_duration_ms(text, &u) < 0 || u > INT64_MAX)
			return BERTH_E_INVALID;
		*out = (int64_t)u;
		return 0;
	}
	return BERTH_E_INVALID;
}

static int list_of_scalars(const cfg_node *n)
{
	size_t i;

	if (n->type == CFG_SCALAR)
		return 1;
	if (n->type != CFG_SEQ)
		return 0;
	for (i = 0; i < n->n_items; i++)
		if (n->items[i]->type != CFG_SCALAR)
			return 0;
	return 1;
}

static int map_list(const cfg_node *n)
{
	if (n->type != CFG_SEQ)
		return 0;
	for (size_t i = 0; i < n->n_items; i++)
		if (n->items[i]->type != CFG_MAP)
			return 0;
	return 1;
}

static int check_value(const cfg_pair *p, const berth_config_key *k,
		       const char *instance, berth_error *err)
{
	const cfg_node *v = p->value;
	char shown[CFG_SHOW_MAX], key[CFG_SHOW_MAX];
	int64_t ignored;

	if (is_null(v))
		return 0;
	switch (k->type) {
	case BERTH_CONFIG_LIST:
		if (list_of_scalars(v))
			return 0;
		return cfg_node_error(err, v, "plugin '%s': invalid '%s': expected a list of values, found %s",
				      instance, cfg_show(key, p->key), cfg_type_name(v));
	case BERTH_CONFIG_MAP:
		if (v->type == CFG_MAP)
			return 0;
		return cfg_node_error(err, v, "plugin '%s': invalid '%s': expected a map, found %s",
				      instance, cfg_show(key, p->key), cfg_type_name(v));
	case BERTH_CONFIG_MAP_LIST:
		if (v->type == CFG_SEQ) {
			for (size_t i = 0; i < v->n_items; i++)
				if (v->items[i]->type != CFG_MAP)
					return cfg_node_error(
						err, v->items[i],
						"plugin '%s': invalid '%s' item %zu: expected a map, "
						"found %s",
						instance, cfg_show(key, p->key), i + 1,
						cfg_type_name(v->items[i]));
			return 0;
		}
		return cfg_node_error(err, v,
				      "plugin '%s': invalid '%s': expected a list of maps, found %s",
				      instance, cfg_show(key, p->key), cfg_type_name(v));
	default:
		break;
	}
	if (v->type != CFG_SCALAR)
		return cfg_node_error(err, v, "plugin '%s': invalid '%s': expected %s, found %s",
				      instance, cfg_show(key, p->key), type_noun(k->type),
				      cfg_type_name(v));
	if (parse_scalar(k->type, v->scalar, &ignored) < 0)
		return cfg_node_error(err, v, "plugin '%s': invalid '%s' '%s': expected %s",
				      instance, cfg_show(key, p->key),
				      cfg_show(shown, v->scalar), type_noun(k->type));
	return 0;
}

/* A plugin whose own defaults do not parse would misbehave silently later. */
static int check_schema(const cfg_node *config, const berth_config_key *schema,
			const char *instance, berth_error *err)
{
	const berth_config_key *k;
	char shown[CFG_SHOW_MAX], key[CFG_SHOW_MAX];
	berth_error ignored;
	cfg_node *parsed;
	int64_t v;

	for (k = schema; k && k->type != BERTH_CONFIG_END; k++) {
		if (!k->key)
			return cfg_node_error(err, config, "plugin '%s': schema has a key without a name",
					      instance);
		if (k->type < BERTH_CONFIG_STRING || k->type > BERTH_CONFIG_MAP_LIST)
			return cfg_node_error(err, config, "plugin '%s': schema key '%s' has unknown type %d",
					      instance, cfg_show(key, k->key), k->type);
		if (!k->default_value)
			continue;
		if (k->type == BERTH_CONFIG_LIST || k->type == BERTH_CONFIG_MAP ||
		    k->type == BERTH_CONFIG_MAP_LIST) {
			parsed = NULL;
			if (cfg_parse(DEFAULT_FILE, k->default_value, strlen(k->default_value),
				      0, &parsed, &ignored) == 0 &&
			    (is_null(parsed) ||
			     (k->type == BERTH_CONFIG_MAP	   ? parsed->type == CFG_MAP
			      : k->type == BERTH_CONFIG_MAP_LIST ? map_list(parsed)
								  : list_of_scalars(parsed)))) {
				cfg_node_free(parsed);
				continue;
			}
			cfg_node_free(parsed);
		} else if (parse_scalar(k->type, k->default_value, &v) == 0) {
			continue;
		}
		return cfg_node_error(err, config, "plugin '%s': schema default of '%s' ('%s') is not %s",
				      instance, cfg_show(key, k->key),
				      cfg_show(shown, k->default_value), type_noun(k->type));
	}
	return 0;
}

int plugin_config_validate(const cfg_node *config, const berth_config_key *schema,
			   const char *instance_name, berth_error *err)
{
	const berth_config_key *k;
	char key[CFG_SHOW_MAX];
	const char *instance = instance_name ? instance_name : "?";
	size_t i;
	int rc;

	if (!config || config->type != CFG_MAP)
		return cfg_node_error(err, config, "plugin '%s': config must be a map, found %s",
				      instance, cfg_type_name(config));
	rc = check_schema(config, schema, instance, err);
	if (rc < 0)
		return rc;
	for (i = 0; i < config->n_pairs; i++) {
		const cfg_pair *p = &config->pairs[i];
		const char *best = NULL;
		int best_d = 0;

		k = schema_find(schema, p->key);
		if (k) {
			rc = check_value(p, k, instance, err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!schema || schema->type == BERTH_CONFIG_END)
			return cfg_pair_error(err, p, "plugin '%s': unknown key '%s' (the plugin takes no config)",
					      instance, cfg_show(key, p->key));
		for (k = schema; k->type != BERTH_CONFIG_END; k++)
			cfg_suggest(p->key, k->key, &best, &best_d);
		if (best)
			return cfg_pair_error(err, p, "plugin '%s': unknown key '%s' (did you mean '%s'?)",
					      instance, cfg_show(key, p->key), best);
		return cfg_pair_error(err, p, "plugin '%s': unknown key '%s'", instance,
				      cfg_show(key, p->key));
	}
	for (k = schema; k && k->type != BERTH_CONFIG_END; k++) {
		const cfg_pair *p;

		if (!(k->flags & BERTH_CONFIG_REQUIRED))
			continue;
		p = cfg_map_find(config, k->key);
		if (!p)
			return cfg_node_error(err, config, "plugin '%s': missing required key '%s'",
					      instance, cfg_show(key, k->key));
		if (is_null(p->value))
			return cfg_pair_error(err, p, "plugin '%s': required key '%s' has no value",
					      instance, cfg_show(key, k->key));
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Getters                                                                  */
/* ------------------------------------------------------------------------ */

/* The value written in the YAML, or NULL when absent or empty. */
static const cfg_node *written(const berth_config *cfg, const char *key)
{
	const cfg_node *v;

	if (!cfg || !key)
		return NULL;
	v = cfg_map_get(cfg->node, key);
	return is_null(v) ? NULL : v;
}

/*
 * List and map defaults are YAML text; they are parsed once per node and
 * kept there so the pointers handed to plugins stay valid.
 */
static const cfg_node *defaults_map(const berth_config *cfg)
{
	cfg_node *node = (cfg_node *)cfg->node;
	cfg_node *map, *expected = NULL;
	const berth_config_key *k;

	if (!node || !cfg->schema)
		return NULL;
	map = __atomic_load_n(&node->defaults_cache, __ATOMIC_ACQUIRE);
	if (map)
		return map;
	map = cfg_node_new(CFG_MAP, DEFAULT_FILE, 1, 1);
	if (!map)
		return NULL;
	for (k = cfg->schema; k->type != BERTH_CONFIG_END; k++) {
		cfg_node *v = NULL;

		if (!k->key || !k->default_value ||
		    (k->type != BERTH_CONFIG_LIST && k->type != BERTH_CONFIG_MAP &&
		     k->type != BERTH_CONFIG_MAP_LIST))
			continue;
		if (cfg_parse(DEFAULT_FILE, k->default_value, strlen(k->default_value),
			      0, &v, NULL) < 0 || !v)
			continue;
		if (cfg_map_append(map, k->key, DEFAULT_FILE, 1, 1, v) < 0)
			cfg_node_free(v);
	}
	if (!__atomic_compare_exchange_n(&node->defaults_cache, &expected, map, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		cfg_node_free(map);
		return expected;
	}
	return map;
}

/* The written value, else the parsed list/map default. */
static const cfg_node *value_or_default(const berth_config *cfg, const char *key)
{
	const cfg_node *v = written(cfg, key);

	if (v || !cfg || !key)
		return v;
	v = cfg_map_get(defaults_map(cfg), key);
	return is_null(v) ? NULL : v;
}

/* Scalar text: the written value, else the schema default. */
static const char *scalar_text(const berth_config *cfg, const char *key,
			       const berth_config_key **k)
{
	const cfg_node *v = written(cfg, key);

	*k = cfg ? schema_find(cfg->schema, key) : NULL;
	if (v)
		return v->type == CFG_SCALAR ? v->scalar : NULL;
	if (*k && (*k)->type != BERTH_CONFIG_LIST && (*k)->type != BERTH_CONFIG_MAP &&
	    (*k)->type != BERTH_CONFIG_MAP_LIST)
		return (*k)->default_value;
	return NULL;
}

const char *plugin_config_string(const berth_config *cfg, const char *key)
{
	const berth_config_key *k;

	return scalar_text(cfg, key, &k);
}

int64_t plugin_config_int(const berth_config *cfg, const char *key, int64_t def)
{
	const berth_config_key *k;
	const char *text = scalar_text(cfg, key, &k);
	int type = k ? k->type : BERTH_CONFIG_INT;
	int64_t v;

	if (!text)
		return def;
	if (type != BERTH_CONFIG_SIZE && type != BERTH_CONFIG_DURATION)
		type = BERTH_CONFIG_INT;
	return parse_scalar(type, text, &v) == 0 ? v : def;
}

int plugin_config_bool(const berth_config *cfg, const char *key, int def)
{
	const berth_config_key *k;
	const char *text = scalar_text(cfg, key, &k);
	int v;

	if (!text || config_parse_bool(text, &v) < 0)
		return def;
	return v;
}

size_t plugin_config_list_count(const berth_config *cfg, const char *key)
{
	const cfg_node *v = value_or_default(cfg, key);

	if (!v)
		return 0;
	if (v->type == CFG_SEQ)
		return v->n_items;
	return v->type == CFG_SCALAR ? 1 : 0;
}

const char *plugin_config_list_string(const berth_config *cfg, const char *key,
				      size_t index)
{
	const cfg_node *v = value_or_default(cfg, key);

	if (!v)
		return NULL;
	if (v->type == CFG_SCALAR)
		return index == 0 ? v->scalar : NULL;
	if (v->type != CFG_SEQ || index >= v->n_items)
		return NULL;
	v = v->items[index];
	return v->type == CFG_SCALAR && !v->is_null ? v->scalar : NULL;
}

/* The handle of a map node, made once and kept on the node. */
static const berth_config *map_handle(const cfg_node *v)
{
	cfg_node *node = (cfg_node *)v;
	berth_config *mine;
	void *h, *expected = NULL;

	if (!v || v->type != CFG_MAP)
		return NULL;
	h = __atomic_load_n(&node->handle_cache, __ATOMIC_ACQUIRE);
	if (h)
		return h;
	mine = malloc(sizeof(*mine));
	if (!mine)
		return NULL;
	mine->node = v;
	mine->schema = NULL;
	if (!__atomic_compare_exchange_n(&node->handle_cache, &expected, (void *)mine,
					 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(mine);
		return expected;
	}
	return mine;
}

const berth_config *plugin_config_child(const berth_config *cfg, const char *key)
{
	return map_handle(value_or_default(cfg, key));
}

const berth_config *plugin_config_list_child(const berth_config *cfg, const char *key,
					     size_t index)
{
	const cfg_node *v = value_or_default(cfg, key);

	if (!v || v->type != CFG_SEQ || index >= v->n_items)
		return NULL;
	return map_handle(v->items[index]);
}

size_t plugin_config_key_count(const berth_config *cfg)
{
	return cfg && cfg->node && cfg->node->type == CFG_MAP ? cfg->node->n_pairs : 0;
}

const char *plugin_config_key_at(const berth_config *cfg, size_t index)
{
	if (index >= plugin_config_key_count(cfg))
		return NULL;
	return cfg->node->pairs[index].key;
}

const char *plugin_config_where(const berth_config *cfg, const char *key, char *buf,
				size_t cap)
{
	const cfg_node *n = cfg ? cfg->node : NULL;

	if (!buf || cap == 0)
		return "";
	buf[0] = '\0';
	if (!n)
		return buf;
	if (key && n->type == CFG_MAP) {
		for (size_t i = 0; i < n->n_pairs; i++) {
			const cfg_pair *p = &n->pairs[i];
			if (strcmp(p->key, key) == 0) {
				snprintf(buf, cap, "%s:%d:%d", p->file ? p->file : "?", p->line,
					 p->column);
				return buf;
			}
		}
	}
	snprintf(buf, cap, "%s:%d:%d", n->file ? n->file : "?", n->line, n->column);
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Printing                                                                 */
/* ------------------------------------------------------------------------ */

#define MASK "********"

/*
 * Keys that name a secret: any with password, passwd or secret in it, and
 * those that end in token or key (bearer_token, api_key), but not settings
 * about tokens (token_lifetime).
 */
static int looks_secret(const char *key)
{
	static const char *const words[] = { "password", "passwd", "secret", "credential" };
	static const char *const endings[] = { "token", "key" };
	size_t n = strlen(key);

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(key, words[i]))
			return 1;
	for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
		size_t m = strlen(endings[i]);
		if (n >= m && strcasecmp(key + n - m, endings[i]) == 0)
			return 1;
	}
	return 0;
}

static int plain_safe(const char *s)
{
	const char *p;

	if (!*s || *s == '-' || *s == ':' || *s == '~')
		return 0;
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && !strchr("._/@+-=,:", c))
			return 0;
	}
	return !strstr(s, ": ");
}

/* Quote anything that is not obviously plain, escaping control bytes. */
static void print_text(FILE *out, const char *s)
{
	const unsigned char *p;

	if (plain_safe(s)) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* List and map defaults are shown as the plugin wrote them, on one line. */
static void print_raw(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, out);
}

static void print_node(FILE *out, const cfg_node *v, int indent, int masked);

static void print_value_after_key(FILE *out, const cfg_node *v, int indent, int masked)
{
	if (v->type == CFG_SCALAR) {
		fputc(' ', out);
		if (masked && !v->is_null)
			fputs(MASK, out);
		else if (v->is_null)
			fputs("null", out);
		else
			print_text(out, v->scalar);
		fputc('\n', out);
	} else if (v->type == CFG_MAP && v->n_pairs == 0) {
		fputs(" {}\n", out);
	} else if (v->type == CFG_SEQ && v->n_items == 0) {
		fputs(" []\n", out);
	} else {
		fputc('\n', out);
		print_node(out, v, indent, masked);
	}
}

static void print_node(FILE *out, const cfg_node *v, int indent, int masked)
{
	size_t i;

	if (v->type == CFG_MAP) {
		for (i = 0; i < v->n_pairs; i++) {
			fprintf(out, "%*s", indent, "");
			print_text(out, v->pairs[i].key);
			fputc(':', out);
			print_value_after_key(out, v->pairs[i].value, indent + 2,
					      masked || looks_secret(v->pairs[i].key));
		}
	} else if (v->type == CFG_SEQ) {
		for (i = 0; i < v->n_items; i++) {
			fprintf(out, "%*s-", indent, "");
			print_value_after_key(out, v->items[i], indent + 2, masked);
		}
	}
}

void plugin_config_print(FILE *out, const berth_config *cfg, int indent)
{
	const berth_config_key *k;
	const cfg_node *node;
	size_t i;

	if (!out || !cfg || !cfg->node)
		return;
	if (indent < 0)
		indent = 0;
	node = cfg->node;
	for (i = 0; node->type == CFG_MAP && i < node->n_pairs; i++) {
		const cfg_pair *p = &node->pairs[i];
		int masked;

		k = schema_find(cfg->schema, p->key);
		masked = (k && (k->flags & BERTH_CONFIG_SECRET)) || looks_secret(p->key);
		fprintf(out, "%*s", indent, "");
		print_text(out, p->key);
		fputc(':', out);
		print_value_after_key(out, p->value, indent + 2, masked);
	}
	for (k = cfg->schema; k && k->type != BERTH_CONFIG_END; k++) {
		if (!k->key || !k->default_value || cfg_map_find(node, k->key))
			continue;
		fprintf(out, "%*s", indent, "");
		print_text(out, k->key);
		fputs(": ", out);
		if (k->flags & BERTH_CONFIG_SECRET)
			fputs(MASK, out);
		else if (k->type == BERTH_CONFIG_LIST || k->type == BERTH_CONFIG_MAP ||
			 k->type == BERTH_CONFIG_MAP_LIST)
			print_raw(out, k->default_value);
		else
			print_text(out, k->default_value);
		fputs("  # default\n", out);
	}
}
