/*
 * cp_cluster: this node as one of several that share a Redis ([cluster] in the configuration;
 * without it a node stands alone and nothing here runs). A thread of its own owns the Redis
 * connection (cp_clstore) and every blocking call on it, so that a slow or absent Redis never
 * stalls the event loop: it announces the node's load every 2 s, keeps the claims of the rooms
 * held here alive, answers "where does this room live" for joins (claiming it for the least
 * loaded node when nobody holds it) and writes the room records through. The loop hands it work
 * and takes its answers in cp_cluster_tick. Running calls never depend on Redis.
 */
#ifndef CP_CLUSTER_H
#define CP_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cp_clstore.h"

/* What a room's locate found. */
enum cp_cluster_where {
	CP_CL_MINE,	 /* this node holds it now: open it here */
	CP_CL_ELSEWHERE, /* another node does: url */
	CP_CL_DOWN,	 /* Redis cannot be reached: no new room here */
	CP_CL_NO_NODE,	 /* no node takes rooms of this pool (all draining, full or gone) */
	CP_CL_BAD,	 /* Redis holds something for this room that does not check */
};

struct cp_cluster_verdict {
	enum cp_cluster_where where;
	char node[CP_CL_ID_MAX + 1];
	char url[CP_CL_URL_MAX + 1];
};

/* What the loop does for the cluster's messages (set before start). */
struct cp_cluster_handlers {
	/* an admin on another node closed this room (by tenant and hash) */
	void (*close_room)(const char *tenant, const char *hash);
	/* the cluster-wide public access switch of a tenant changed (or was first read) */
	void (*access)(const char *tenant, bool on);
	/* the tenant's room_inactivity_days, for the records' expiry (called on the loop) */
	unsigned (*days_of)(const char *tenant);
};

/* Starts the thread (c is copied); 0, or -1. */
int cp_cluster_start(const struct cp_cluster_conf *c, const struct cp_cluster_handlers *h);
/* Stops it; with unregister, the node's record goes at once (it holds no room). */
void cp_cluster_stop(bool unregister);
bool cp_cluster_enabled(void);
const struct cp_cluster_conf *cp_cluster_conf(void);
/* On the loop, about every 10 ms: answers and commands from the thread. */
void cp_cluster_tick(uint64_t now_ms);
/* This node's load, as the next announcement says it. */
void cp_cluster_load(unsigned rooms, unsigned participants, bool draining);

/* Where the room (tenant, cp_roomname key) lives, answered to cb on the loop; a ticket. */
typedef void (*cp_cluster_cb)(void *user, const struct cp_cluster_verdict *v);
uint64_t cp_cluster_locate(const char *tenant, const char *key, const char *pool,
			   const char *region, cp_cluster_cb cb, void *user);
/* cb is not called for it any more. */
void cp_cluster_cancel(uint64_t ticket);
/* Whether this node holds the room's claim (a locate said so, and no other node took it). */
bool cp_cluster_held(const char *tenant, const char *key);
/* Whether another node took the claim of a room that runs here (its new joins go there). */
bool cp_cluster_lost(const char *tenant, const char *key);
/* The room opened here (a claim is made or adopted when there is none, e.g. after a
 * control-plane restart), or ended here (its claim goes). */
void cp_cluster_room_open(const char *tenant, const char *key);
void cp_cluster_room_gone(const char *tenant, const char *key);

/* The keyed hash the cluster knows the room by. */
void cp_cluster_room_hash(const char *tenant, const char *key, char out[CP_CL_HASH_LEN + 1]);

/* ---- admin ---- */
json_t *cp_cluster_api(void);	    /* GET /api/v1/cluster */
json_t *cp_cluster_api_rooms(void); /* GET /api/v1/cluster/rooms */
/* An admin's close of a room held elsewhere: 1 passed to its node, 0 no node holds it,
 * -1 Redis cannot be reached. */
int cp_cluster_close_elsewhere(const char *tenant, const char *key);
/* The cluster-wide public access switch. */
void cp_cluster_set_access(const char *tenant, bool on);
/* 1 on, 0 off, -1 the cluster says nothing (the tenant's own setting holds). */
int cp_cluster_access(const char *tenant);
/* Whether origin ("https://host:port") is a node of this cluster. */
bool cp_cluster_origin_ok(const char *origin);
/* The other live nodes' URLs (for clients to reconnect to). */
json_t *cp_cluster_other_urls(void);

struct cp_cluster_metrics {
	bool redis_up;
	unsigned nodes;
	unsigned claims;
	uint64_t redirects; /* joins sent to another node */
	uint64_t locates;
	uint64_t errors;       /* Redis commands that failed */
	uint64_t bad;	       /* records ignored */
	uint64_t refused_down; /* new rooms refused while Redis was unreachable */
	uint64_t lost;	       /* claims another node took while we held the room */
	uint64_t writes_dropped;
};
void cp_cluster_metrics(struct cp_cluster_metrics *m);
void cp_cluster_count_redirect(void);

#endif
