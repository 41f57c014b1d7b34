/*
 * config_node.h - the YAML tree that configuration is read into.
 *
 * A document is parsed once into cfg_node values that remember where they
 * came from (file, 1-based line and column from libyaml's marks), so any
 * later check, in the core or against a plugin's schema, can say exactly
 * where the offending text is. Anchors, aliases and duplicate keys are
 * refused while parsing; ${VAR} expansion of scalar values happens here too,
 * so every consumer sees final text.
 */
#ifndef BERTH_CONFIG_NODE_H
#define BERTH_CONFIG_NODE_H

#include <stddef.h>

#include "berth/error.h"
#include "berth/plugin.h"

/* Deepest nesting of maps and lists a document may have. */
#define CFG_MAX_DEPTH 64
/* Largest scalar after ${VAR} expansion. */
#define CFG_MAX_SCALAR (1024 * 1024)

enum cfg_type {
	CFG_SCALAR = 1,
	CFG_MAP,
	CFG_SEQ
};

typedef struct cfg_node cfg_node;

typedef struct cfg_pair {
	char *key;
	/* Where the key was written (may differ from the map's file after a merge). */
	const char *file;
	int line, column;
	cfg_node *value;
} cfg_pair;

struct cfg_node {
	enum cfg_type type;
	/* Borrowed: the file name given to cfg_parse(), which must outlive the tree. */
	const char *file;
	int line, column;

	/* CFG_SCALAR: NUL-terminated text, never containing a NUL byte. */
	char *scalar;
	size_t len;
	/* A plain scalar written as nothing, ~ or null. */
	int is_null;

	/* CFG_MAP: pairs in document order, keys unique. */
	cfg_pair *pairs;
	size_t n_pairs, cap_pairs;

	/* CFG_SEQ */
	cfg_node **items;
	size_t n_items, cap_items;

	/*
	 * Caches filled lazily by plugin_config.c and freed with the node:
	 * the berth_config handle for this map, and this map's parsed
	 * list/map schema defaults. Set with atomic compare-and-swap because
	 * plugins may call getters from worker threads.
	 */
	void *handle_cache;
	cfg_node *defaults_cache;
};

enum cfg_parse_flags {
	/* Expand ${VAR}, ${VAR:-default} and $$ in scalar values (not keys). */
	CFG_PARSE_EXPAND_ENV = 1u << 0
};

/*
 * Parse one YAML document from buf. *out is the root node, or NULL when the
 * input holds no document at all (empty or only comments). `file` is used
 * in messages and stored, borrowed, in every node. Errors are
 * BERTH_E_CONFIG with "file:line:column: message", or BERTH_E_NOMEM.
 */
int cfg_parse(const char *file, const char *buf, size_t len, unsigned flags,
	      cfg_node **out, berth_error *err);

void cfg_node_free(cfg_node *node);

/* A new empty node of the given type, or NULL when out of memory. */
cfg_node *cfg_node_new(enum cfg_type type, const char *file, int line, int column);

/* Take ownership of value and append it under key; 0 or BERTH_E_NOMEM. */
int cfg_map_append(cfg_node *map, const char *key, const char *file, int line,
		   int column, cfg_node *value);

/* The pair / value for key in a map, or NULL (also when map is not a map). */
cfg_pair *cfg_map_find(const cfg_node *map, const char *key);
cfg_node *cfg_map_get(const cfg_node *map, const char *key);

/*
 * Merge src into dst, both maps, consuming src (it is freed). A key present
 * in both: maps merge recursively, a key named in append_keys (NULL-
 * terminated, this level only) whose values are both lists concatenates,
 * any other value from src replaces dst's. A null value in src never erases
 * what dst has.
 */
int cfg_merge(cfg_node *dst, cfg_node *src, const char *const *append_keys);

/* "a map", "a list", "a value" (for messages). */
const char *cfg_type_name(const cfg_node *node);

/*
 * Fill err with "file:line:column: <fmt>" and code BERTH_E_CONFIG; returns
 * BERTH_E_CONFIG. err may be NULL.
 */
int cfg_error(berth_error *err, const char *file, int line, int column,
	      const char *fmt, ...) BERTH_PRINTF(5, 6);
int cfg_node_error(berth_error *err, const cfg_node *at, const char *fmt, ...)
	BERTH_PRINTF(3, 4);
int cfg_pair_error(berth_error *err, const cfg_pair *at, const char *fmt, ...)
	BERTH_PRINTF(3, 4);

/*
 * Copy s into buf for a message: at most about 60 visible bytes (longer
 * text is cut and ends in "..."), control bytes replaced by '?'. Returns buf.
 */
#define CFG_SHOW_MAX 72
char *cfg_show(char buf[CFG_SHOW_MAX], const char *s);

/*
 * Optimal-string-alignment edit distance between a and b, stopping early
 * (returning limit + 1) once it must exceed limit.
 */
int cfg_edit_distance(const char *a, const char *b, int limit);

/*
 * Keep track of the nearest known key to an unknown one: call with each
 * candidate; *best stays the closest one within distance 2 that is shorter
 * than the candidate itself, or NULL.
 */
void cfg_suggest(const char *unknown, const char *candidate, const char **best,
		 int *best_distance);

#endif /* BERTH_CONFIG_NODE_H */
