/*
 * cp_clstore: the cluster's records in Redis, one blocking hiredis connection at a time. Every
 * read goes through a short Lua script that checks the key's type and bounds what comes back
 * (a record written by hand, by another version or by another cluster under the same prefix is
 * counted as bad and ignored, never trusted), and every write is one atomic command or script.
 * No room name, display name or address is ever written: rooms are named by a keyed hash per
 * tenant (cp_clstore_room_hash). Used by cp_cluster's thread, and by unit tests with several
 * connections standing for several nodes.
 *
 * Keys, under the configured prefix P:
 *   P node:<id>             a node's record (JSON), expires CP_CL_NODE_TTL_MS after its last refresh
 *   P nodes                 set of node ids (readers prune ids whose record expired)
 *   P claim:<tenant>:<hash> "<cluster>|<node>|<epoch>": which node holds the room; expires
 *                           CP_CL_CLAIM_TTL_MS after the owner's last refresh
 *   P claims                set of "<tenant>:<hash>" (readers prune the expired)
 *   P rec:<tenant>:<hash>   hash: pw (hex), lobby, gen, opened, used; expires after the
 *                           tenant's inactivity days
 *   P placed:<node>         zset: rooms placed on the node, by time (the placement correction)
 *   P cmd:<node>            list of admin commands for the node (JSON), expires in a minute
 *   P access                hash: tenant -> "0" or "1", the cluster-wide public access switch
 */
#ifndef CP_CLSTORE_H
#define CP_CLSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_CL_ID_MAX 32
#define CP_CL_URL_MAX 200
#define CP_CL_POOLS 8
#define CP_CL_NODES_MAX 64
#define CP_CL_CAPACITY_MAX 100000
#define CP_CL_HASH_LEN 32 /* hex characters of a room's keyed hash */
#define CP_CL_NODE_TTL_MS 6000
#define CP_CL_CLAIM_TTL_MS 30000
#define CP_CL_PW_LEN 52 /* = CP_PW_HASH_LEN */

struct cp_cluster_conf {
	bool enabled;
	char redis_host[128];
	unsigned redis_port;
	char sentinels[8][136]; /* "host:port" */
	unsigned n_sentinels;
	char master[64];
	char user[64];
	char password[256];
	uint8_t secret[256];
	size_t secret_len;
	char password_file[512];
	char secret_file[512];
	char prefix[64];
	char name[CP_CL_ID_MAX + 1];
	char node[CP_CL_ID_MAX + 1];
	char url[CP_CL_URL_MAX + 1];
	char region[CP_CL_ID_MAX + 1];
	char pools[CP_CL_POOLS][CP_CL_ID_MAX + 1];
	unsigned n_pools;
	unsigned capacity;
	unsigned timeout_ms; /* per Redis command */
};

/* One [cluster] key; 0, or -1 with a reason in err. */
int cp_cluster_conf_set(struct cp_cluster_conf *c, const char *key, const char *val, char *err,
			size_t elen);
/* After the section: required keys, the password and secret read from their files. */
int cp_cluster_conf_finish(struct cp_cluster_conf *c, char *err, size_t elen);

/* A node's record as announced (and, read back, checked). */
struct cp_cl_node {
	char id[CP_CL_ID_MAX + 1];
	char url[CP_CL_URL_MAX + 1];
	char region[CP_CL_ID_MAX + 1];
	char pools[CP_CL_POOLS][CP_CL_ID_MAX + 1];
	unsigned n_pools;
	unsigned capacity;
	unsigned rooms;
	unsigned participants;
	bool draining;
	int64_t ts_ms;	 /* when its load was counted (wall clock, ms) */
	unsigned placed; /* read back: rooms placed on it since ts_ms (the correction) */
	uint64_t boot;	 /* random per start of its funkhaus-cp */
};

struct cp_cl_claim {
	char tenant[33];
	char hash[CP_CL_HASH_LEN + 1];
	char node[CP_CL_ID_MAX + 1];
	char epoch[17];
};

struct cp_cl_record {
	bool has_pw;
	uint8_t pw[CP_CL_PW_LEN];
	int lobby; /* 1, 0, or -1 when the record has no setting */
	bool generated;
	int64_t opened, used; /* seconds since the epoch */
};

struct cp_clstore {
	const struct cp_cluster_conf *conf;
	void *rc;	 /* redisContext */
	uint64_t errors; /* commands that failed (connection, timeout, refused) */
	uint64_t bad;	 /* records ignored: malformed, too large, wrong type, another cluster's */
	char last_err[160];
};

/* Connects (through the sentinels when there are some) and authenticates; 0 or -1. */
int cp_clstore_connect(struct cp_clstore *s);
void cp_clstore_disconnect(struct cp_clstore *s);
bool cp_clstore_connected(const struct cp_clstore *s);

/* The keyed hash naming a tenant's room in Redis: HMAC-SHA256 under a per-tenant key derived
 * from the cluster's secret, 128 bits in hex. */
void cp_clstore_room_hash(const uint8_t *secret, size_t secret_len, const char *tenant,
			  const char *room_key, char out[CP_CL_HASH_LEN + 1]);

/* Announces n (refreshing its expiry); 0 or -1. */
int cp_clstore_register(struct cp_clstore *s, const struct cp_cl_node *n);
/* Takes our record away (a clean stop); 0 or -1. */
int cp_clstore_unregister(struct cp_clstore *s, const char *id);
/* The live nodes of this cluster (at most max); how many, or -1. Ids whose record expired are
 * pruned from the set; records that do not check are counted bad and left out. */
int cp_clstore_nodes(struct cp_clstore *s, struct cp_cl_node *out, unsigned max, int64_t now_ms);

/* One node's record: 1 with n filled, 0 none (it is gone), -1 failed, -2 bad. */
int cp_clstore_node_get(struct cp_clstore *s, const char *id, struct cp_cl_node *n);

/* The claim on a room: 1 with c filled, 0 none, -1 Redis failed, -2 a bad record there. */
int cp_clstore_claim_get(struct cp_clstore *s, const char *tenant, const char *hash,
			 struct cp_cl_claim *c);
/* Claims the room for node with epoch when nobody holds it: 1 won, 0 someone else holds it,
 * -1 failed. now_ms is the placement's time for the correction. */
int cp_clstore_claim_try(struct cp_clstore *s, const char *tenant, const char *hash,
			 const char *node, const char *epoch, int64_t now_ms);
/* The owner's refresh: 1 refreshed, 2 made again (it had expired), 0 another node holds it,
 * -1 failed. */
int cp_clstore_claim_refresh(struct cp_clstore *s, const struct cp_cl_claim *c);
/* Only the owner's own claim goes: 1 removed, 0 it was not ours (or gone), -1 failed. */
int cp_clstore_claim_release(struct cp_clstore *s, const struct cp_cl_claim *c);
/* A claim whose node is gone is removed when it is still exactly old: 1, 0, -1. */
int cp_clstore_claim_takeover(struct cp_clstore *s, const struct cp_cl_claim *old);
/* A claim that did not check is removed when it never expires (no node of ours made it: each
 * claim expires unless its owner refreshes it), of whatever type: 1 removed, 2 it expires by
 * itself (left alone), 0 none there, -1 failed, -2 no room's key (tenant or hash malformed). */
int cp_clstore_claim_clear_bad(struct cp_clstore *s, const char *tenant, const char *hash);
/* Every claim (at most max); how many, or -1. */
int cp_clstore_claims(struct cp_clstore *s, struct cp_cl_claim *out, unsigned max);

/* The index of the node a new room of pool goes to: live, not draining, serving pool, below
 * its capacity, in region when region is set (else in prefer when any there qualifies), the
 * least loaded counting rooms placed on it since it last counted (each weighs the cluster's
 * participants per room, at least one); ties broken at random.
 * -1 when none takes it. */
int cp_clstore_choose(const struct cp_cl_node *nodes, unsigned n, const char *pool,
		      const char *region, const char *prefer);

/* A room's record: 1 with r filled, 0 none (or older than days), -1 failed, -2 bad. */
int cp_clstore_record_get(struct cp_clstore *s, const char *tenant, const char *hash,
			  struct cp_cl_record *r, unsigned days, int64_t now_s);
/* Record writes; days sets the record's expiry. 0 or -1. */
int cp_clstore_record_touch(struct cp_clstore *s, const char *tenant, const char *hash,
			    bool generated, int64_t now_s, unsigned days);
int cp_clstore_record_put(struct cp_clstore *s, const char *tenant, const char *hash,
			  const struct cp_cl_record *r, unsigned days);
int cp_clstore_record_password(struct cp_clstore *s, const char *tenant, const char *hash,
			       const uint8_t *pw, size_t len);
int cp_clstore_record_lobby(struct cp_clstore *s, const char *tenant, const char *hash, bool on);
int cp_clstore_record_forget(struct cp_clstore *s, const char *tenant, const char *hash);

/* Admin commands between nodes (JSON of at most 512 bytes). push: 0 or -1; pop: 1 with the
 * command in buf, 0 none, -1 failed (a command too large or of the wrong type is dropped and
 * counted bad). */
int cp_clstore_cmd_push(struct cp_clstore *s, const char *node, const char *json);
int cp_clstore_cmd_pop(struct cp_clstore *s, const char *node, char *buf, size_t len);

/* The cluster-wide public access switch: set, and read (tenant ids into ids, 0/1 into on;
 * how many, or -1). */
int cp_clstore_access_set(struct cp_clstore *s, const char *tenant, bool on);
int cp_clstore_access(struct cp_clstore *s, char (*ids)[33], bool *on, unsigned max);

#endif
