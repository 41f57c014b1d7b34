/*
 * atok_decide.c - authorize(): may this identity do this one access?
 *
 *   - An identity another instance authenticated is that instance's to
 *     judge: BERTH_DECLINED.
 *   - A request with a bearer token may do exactly what the token's access
 *     claim grants ("*" covers any action), and GET /v2/ with any valid
 *     token. Missing access is BERTH_E_UNAUTHORIZED (401 with
 *     error="insufficient_scope": a new token may fix it), except when the
 *     token is this server's and the policy would not grant it to its
 *     subject either: then BERTH_E_DENIED (403), which no token can fix.
 *   - Otherwise (Basic credentials this instance checked, or anonymous):
 *     robots by their grants, everybody else by the policy.
 *   - The catalog: the core asks repository:<name>:pull per repository.
 *     A token of this server is judged by the policy for its subject (its
 *     access claim holds what the client asked for, registry:catalog:*,
 *     not a list of repositories); an external token that grants the
 *     catalog sees all of it, as with Distribution.
 *   - Access types this plugin does not own (registry:jobs, other plugins'
 *     routes) are answered only when a rule names them; else BERTH_DECLINED.
 */
#include <string.h>

#include "auth_token.h"

#define DENIED_MESSAGE "requested access to the resource is denied"

/* The access types every instance answers, rule or not. */
static int owned(const char *type, const char *name)
{
	return strcmp(type, "repository") == 0 ||
	       (strcmp(type, "registry") == 0 && strcmp(name, "catalog") == 0) ||
	       (strcmp(type, "route") == 0 && strcmp(name, ATOK_ADMIN_PATH) == 0);
}

/* The actions the accounts and policy give `who` (robot grants or rules). */
static unsigned allowed_actions(atok_state *st, const atok_who *who, const char *type,
				const char *name, int *matched)
{
	const atok_robot *robot = NULL;
	unsigned actions;
	atok_db *db;

	if (!who->name[0])
		return atok_policy_actions(&st->policy, who, type, name, matched);
	db = atok_store_get(&st->store);
	robot = atok_robot_find(&db->acc, who->name);
	if (robot)
		actions = atok_grants_actions(&robot->grants, type, name, matched);
	else
		actions = atok_policy_actions(&st->policy, who, type, name, matched);
	atok_db_put(db);
	return actions;
}

static int denied(berth_error *err)
{
	return atok_fail(err, BERTH_E_DENIED, DENIED_MESSAGE);
}

static int decide_bearer(atok_state *st, const berth_request *req, const berth_identity *id,
			 const berth_access *a, atok_claims *c, berth_error *err)
{
	atok_who who = {id->name, id->groups};
	unsigned bit = atok_action_bit(a->type, a->action);
	int matched = 0;

	if (strcmp(a->type, "registry") == 0 && strcmp(a->name, "base") == 0)
		return 0;
	if (st->host->request_route(req) == BERTH_ROUTE_CATALOG &&
	    strcmp(a->type, "repository") == 0 && strcmp(a->action, "pull") == 0) {
		if (!c->own)
			return atok_access_list_allows(&c->access, "registry", "catalog", "*")
				       ? 0
				       : denied(err);
		return atok_actions_cover(allowed_actions(st, &who, a->type, a->name, &matched), bit)
			       ? 0
			       : denied(err);
	}
	if (atok_access_list_allows(&c->access, a->type, a->name, a->action))
		return 0;
	if (c->own && !atok_actions_cover(allowed_actions(st, &who, a->type, a->name, &matched), bit) &&
	    (matched || owned(a->type, a->name)) && id->name[0])
		return denied(err);
	if (!owned(a->type, a->name) && !matched)
		return BERTH_DECLINED;
	return atok_fail(err, BERTH_E_UNAUTHORIZED,
			 "insufficient scope: the token does not grant %.40s:%.256s:%.16s", a->type,
			 a->name, a->action);
}

int atok_decide(atok_state *st, const berth_request *req, const berth_identity *id,
		const berth_access *a, berth_error *err)
{
	int mine = id && id->provider[0] && strcmp(id->provider, st->name) == 0;
	atok_who who = {id ? id->name : "", id ? id->groups : ""};
	atok_claims *claims = NULL;
	char why[160];
	unsigned actions;
	int matched = 0, rc;

	if (!a || !a->type || !a->name || !a->action)
		return BERTH_DECLINED;
	if (id && id->provider[0] && !mine)
		return BERTH_DECLINED;
	if (mine) {
		rc = atok_request_claims(st, req, &claims, why, sizeof(why));
		if (rc == 0) {
			rc = decide_bearer(st, req, id, a, claims, err);
			atok_claims_put(claims);
			return rc;
		}
		if (rc != BERTH_DECLINED)
			return atok_fail(err, BERTH_E_UNAUTHORIZED, "invalid token: %s", why);
	}
	if (strcmp(a->type, "registry") == 0 && strcmp(a->name, "base") == 0) {
		if (who.name[0])
			return 0;
		return atok_fail(err, BERTH_E_DENIED, "authentication required");
	}
	actions = allowed_actions(st, &who, a->type, a->name, &matched);
	if (atok_actions_cover(actions, atok_action_bit(a->type, a->action)))
		return 0;
	if (!matched && !owned(a->type, a->name))
		return BERTH_DECLINED;
	return denied(err);
}
