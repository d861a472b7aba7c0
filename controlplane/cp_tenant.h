/*
 * cp_tenant: the municipalities one Funkhaus serves. A tenant is a [tenant] section, either in
 * the main configuration or in a file of its own under [controlplane] tenants_dir (one
 * "<id>.conf" each), and is reloaded without a restart (SIGHUP): a set that does not load as a
 * whole leaves the running one in place. A request belongs to the tenant whose host it names,
 * or, on a host several tenants share, whose "/<path_prefix>/" its path starts with.
 */
#ifndef CP_TENANT_H
#define CP_TENANT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cp_jwt.h"

#define CP_TENANT_MAX 256
#define CP_TENANT_HOSTS 8

enum cp_create { CP_CREATE_ANYONE, CP_CREATE_AUTHENTICATED };
enum cp_iplog { CP_IPLOG_FULL, CP_IPLOG_TRUNCATED, CP_IPLOG_NONE };

struct cp_tenant {
	char id[33];		/* a-z 0-9 -, 1-32: in paths, tokens and the database */
	char display_name[129]; /* shown by the web client */
	char hosts[CP_TENANT_HOSTS][128];
	unsigned n_hosts;
	char path_prefix[33]; /* "" or the X of "/X/" on a shared host */
	char imprint[256];    /* https URL of the imprint */
	char privacy[256];    /* https URL of the privacy policy */
	enum cp_create create;
	struct cp_jwt_keys keys;
	bool lobby;		/* new rooms start with the lobby on */
	bool password_required; /* a room cannot be used without a password */
	unsigned max_participants;
	unsigned max_rooms;
	bool chat;
	bool screen_mods_only; /* only moderators share their screen */
	enum cp_iplog ip_logging;
	unsigned log_retention_days;
	unsigned room_inactivity_days;
	bool public_access; /* off: every room closed, no joins */
	char pool[33];	    /* the cluster's nodes that take its rooms (cp_cluster) */
	char region[33];    /* "": any region, the one of the node a join reaches first */
	char source[512];   /* the file it came from, for messages */
};

/* participants one room may hold, the most a tenant may allow (a worker holds 1024) */
#define CP_TENANT_PARTS_MAX 1000

struct cp_tenants {
	struct cp_tenant *t;
	unsigned n;
};

/* Defaults the main configuration gives every tenant (its [controlplane] values). */
struct cp_tenant_defaults {
	unsigned max_participants;
	bool chat;
};

/* Loads the [tenant] sections of main_conf and every *.conf in dir (dir may be NULL or "").
 * All or nothing: 0, or -1 with "file:line: reason" in err and out untouched. */
int cp_tenants_load(const char *main_conf, const char *dir, const struct cp_tenant_defaults *def,
		    struct cp_tenants *out, char *err, size_t elen);
void cp_tenants_free(struct cp_tenants *ts);

/* The tenant of a request to host (its Host header, a port after ':' ignored) for path; NULL
 * when none. With one tenant and no hosts configured anywhere, that tenant takes every host. */
const struct cp_tenant *cp_tenant_for(const struct cp_tenants *ts, const char *host,
				      const char *path);
const struct cp_tenant *cp_tenant_by_id(const struct cp_tenants *ts, const char *id);

/* An IP address written as the tenant's policy says ("full", truncated to /24 or /48, or
 * "-"), for the few log lines that may carry one. */
void cp_tenant_ip(const struct cp_tenant *t, const char *ip, char *out, size_t n);

/* A tenant's settings under their configuration keys (token keys only counted), and the
 * file it came from, for the admin API. */
json_t *cp_tenant_json(const struct cp_tenant *t);

#endif
