/*
 * atok_admin.c - the robots admin endpoint under /berth/v1/auth:
 *
 *   GET    /berth/v1/auth/robots         the robots, their expiry and grants
 *   DELETE /berth/v1/auth/robots/NAME    revoke NAME: its line leaves the
 *                                        robots file, its tokens stop working
 *
 * The core asks the auth hooks for route:/berth/v1/auth:<METHOD> first, so
 * a rule such as "route:/berth/v1/auth group:admins *" decides who may.
 * The file is rewritten the way `berth passwd` writes the users file: a
 * temporary file in the same folder, fsync, rename over the old one.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "auth_token.h"

#define ROBOTS_PREFIX ATOK_ADMIN_PATH "/robots"

static int respond_json(atok_state *st, berth_request *req, int status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int rc;

	json_decref(doc);
	if (!text)
		return BERTH_E_NOMEM;
	rc = st->host->respond(req, status, "application/json", text, strlen(text));
	free(text);
	return rc;
}

static int respond_error(atok_state *st, berth_request *req, int status, const char *code,
			 const char *message)
{
	return respond_json(st, req, status,
			    json_pack("{s:[{s:s, s:s, s:n}]}", "errors", "code", code, "message",
				      message, "detail"));
}

static json_t *grants_json(const atok_rules *g)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < g->n; i++) {
		char text[ATOK_NAME_MAX + 128];
		size_t n = (size_t)snprintf(text, sizeof(text), "%s%s%s:",
					    strcmp(g->v[i].type, "repository") ? g->v[i].type : "",
					    strcmp(g->v[i].type, "repository") ? ":" : "",
					    g->v[i].pattern);
		int first = 1;

		for (unsigned b = 1; b <= ATOK_ALL && n < sizeof(text); b <<= 1) {
			const char *name;
			if (!(g->v[i].actions & b) || !(name = atok_action_name(g->v[i].type, b)))
				continue;
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", first ? "" : ",", name);
			first = 0;
		}
		json_array_append_new(arr, json_string(text));
	}
	return arr;
}

static int list_robots(atok_state *st, berth_request *req)
{
	atok_db *db = atok_store_get(&st->store);
	int64_t now = st->host->now_ms() / 1000;
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < db->acc.n_robots; i++) {
		const atok_robot *r = &db->acc.robots[i];
		char expires[32];

		atok_rfc3339(r->expires, expires, sizeof(expires));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:o}", "name", r->name,
						     "expires", expires, "expired", r->expires <= now,
						     "grants", grants_json(&r->grants)));
	}
	atok_db_put(db);
	return respond_json(st, req, 200, json_pack("{s:o}", "robots", arr));
}

/* Is this line (not a comment) the robot's? */
static int line_is(const char *line, size_t len, const char *name)
{
	size_t k = 0, n = strlen(name);

	while (k < len && (line[k] == ' ' || line[k] == '\t'))
		k++;
	return len - k > n && strncmp(line + k, name, n) == 0 &&
	       (line[k + n] == ' ' || line[k + n] == '\t');
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Rewrite the robots file without name's lines. 1 removed, 0 not there, <0 failed. */
static int remove_robot_line(const char *path, const char *name, berth_error *err)
{
	char tmp[4096], dir[4096];
	FILE *in = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct stat st;
	int fd = -1, removed = 0, rc = 0, dfd;

	if (!in)
		return atok_fail(err, BERTH_E_IO, "cannot open the robots file: %s", strerror(errno));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp) ||
	    fstat(fileno(in), &st) < 0 || (fd = mkstemp(tmp)) < 0) {
		rc = atok_fail(err, BERTH_E_IO, "cannot write beside the robots file: %s",
			       strerror(errno));
		goto out;
	}
	while ((len = getline(&line, &cap, in)) >= 0) {
		if (line_is(line, (size_t)len, name)) {
			removed = 1;
			continue;
		}
		if (write_all(fd, line, (size_t)len) < 0) {
			rc = atok_fail(err, BERTH_E_IO, "cannot write the robots file: %s",
				       strerror(errno));
			goto out;
		}
	}
	if (!removed)
		goto out;
	if (fchmod(fd, st.st_mode & 07777) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		rc = atok_fail(err, BERTH_E_IO, "cannot write the robots file: %s", strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = atok_fail(err, BERTH_E_IO, "cannot replace the robots file: %s", strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] && (rc != 1))
		unlink(tmp);
	free(line);
	fclose(in);
	return rc;
}

static void emit_revoked(atok_state *st, const berth_request *req, const char *name)
{
	json_t *d;
	char *text;

	if (!BERTH_HOST_HAS(st->host, emit_request_event) || !st->host->emit_request_event)
		return;
	d = json_pack("{s:s}", "robot", name);
	text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	if (text)
		st->host->emit_request_event(st->self, req, NULL, "robot.revoked", NULL, NULL, NULL,
					     text);
	free(text);
	json_decref(d);
}

/* Take the robot out of every instance's robots file (each file once). */
static int robot_revoke(atok_state *st, berth_request *req, const char *name, berth_error *err)
{
	atok_state *all[ATOK_INSTANCES_MAX];
	size_t n = atok_instances(all, ATOK_INSTANCES_MAX);
	int removed = 0, rc = 0;

	if (!atok_account_name_valid(name))
		return respond_error(st, req, 404, "NAME_UNKNOWN", "no such robot");
	for (size_t i = 0; i < n && rc >= 0; i++) {
		atok_state *in = all[i];
		int seen = 0;
		berth_error e = {0};

		if (!in->cfg.robots_file)
			continue;
		for (size_t k = 0; k < i; k++)
			seen |= all[k]->cfg.robots_file &&
				strcmp(all[k]->cfg.robots_file, in->cfg.robots_file) == 0;
		if (seen)
			continue;
		pthread_mutex_lock(&in->admin_lock);
		rc = remove_robot_line(in->cfg.robots_file, name, &e);
		pthread_mutex_unlock(&in->admin_lock);
		if (rc < 0) {
			in->host->log(in->self, BERTH_LOG_ERROR, "cannot revoke robot '%s': %s", name,
				      e.message);
			return atok_fail(err, rc, "%s", e.message);
		}
		removed |= rc;
	}
	if (!removed)
		return respond_error(st, req, 404, "NAME_UNKNOWN", "no such robot");
	for (size_t i = 0; i < n; i++)
		if (all[i]->cfg.robots_file)
			atok_store_reload(&all[i]->store);
	st->host->log(st->self, BERTH_LOG_INFO, "robot '%s' revoked", name);
	emit_revoked(st, req, name);
	return st->host->respond(req, 204, NULL, NULL, 0);
}

int atok_admin_route(void *state, berth_request *req, berth_error *err)
{
	atok_state *st = state;
	const char *path = st->host->request_path(req);
	const char *method = st->host->request_method(req);
	size_t plen = strlen(ROBOTS_PREFIX);

	if (!path || strncmp(path, ROBOTS_PREFIX, plen) != 0 ||
	    (path[plen] != '\0' && path[plen] != '/'))
		return respond_error(st, req, 404, "UNSUPPORTED", "no such endpoint");
	if (path[plen] == '\0' || strcmp(path + plen, "/") == 0) {
		if (strcmp(method, "GET") != 0)
			return respond_error(st, req, 405, "UNSUPPORTED", "use GET");
		return list_robots(st, req);
	}
	if (strcmp(method, "DELETE") != 0)
		return respond_error(st, req, 405, "UNSUPPORTED", "use DELETE");
	return robot_revoke(st, req, path + plen + 1, err);
}
