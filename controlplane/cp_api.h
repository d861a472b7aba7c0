/*
 * cp_api: the admin REST API under /api/v1 (JSON in and out, described by openapi.json),
 * Prometheus metrics at /metrics and readiness at /readyz, on funkhaus-cp's TLS port. Bearer
 * tokens come from the configuration, stored only as SHA-256 hashes; each has a scope: "*" (the
 * whole node) or one tenant's id. Without a configured token the API refuses everything.
 * Every request an admin makes with a valid token goes to the audit log: who (the token's
 * name), what (method and route, room names left out), when. Pure request-in, response-out:
 * cp_server does the HTTP.
 */
#ifndef CP_API_H
#define CP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_API_BODY_MAX (64 * 1024)
#define CP_API_TOKENS 64

struct cp_api_token {
	char name[64];	/* who, in the audit log */
	char scope[33]; /* "*" or a tenant id */
	uint8_t hash[32];
};

struct cp_api_conf {
	struct cp_api_token tokens[CP_API_TOKENS];
	unsigned n_tokens;
	bool metrics_public;   /* /metrics without a token (default: a "*" token) */
	char tenants_dir[512]; /* where tenants the API creates or changes are written */
	char audit_dir[512];   /* audit.log goes here ("" : the API logs no audit, refuses) */
	char instance[32];
	unsigned drain_grace_s;
	/* Reloads the tenants from their files: 0, or -1 with the reason in err. */
	int (*reload)(char *err, size_t elen);
};

/* The "[api] token = NAME SCOPE SHA256HEX" line's value into t: 0, or -1 with err. */
int cp_api_parse_token(const char *val, struct cp_api_token *t, char *err, size_t elen);

void cp_api_init(const struct cp_api_conf *c);

enum cp_http_method { CP_HTTP_GET, CP_HTTP_POST, CP_HTTP_PUT, CP_HTTP_PATCH, CP_HTTP_DELETE };

struct cp_api_resp {
	unsigned status;
	const char *ctype;
	char *body; /* malloc'd */
};

/* Whether uri is the API's (/api/v1/..., /metrics, /readyz). */
bool cp_api_owns(const char *uri);
/* One request: auth is the Authorization header ("" when none), body NULL for none;
 * too_big: the body was longer than CP_API_BODY_MAX. */
void cp_api_handle(enum cp_http_method m, const char *uri, const char *auth, const char *body,
		   size_t len, bool too_big, struct cp_api_resp *out);

/* Signalling connections now and since start (for /metrics; cp_server counts them). */
void cp_api_count_connection(int delta);

#endif
