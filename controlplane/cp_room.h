/*
 * cp_room: rooms and participants, the authority over who receives what. Turns signalling
 * messages into dataplane commands and SDP answers, runs each participant's DTLS handshake and
 * reacts to the dataplane's events. Event loop only.
 */
#ifndef CP_ROOM_H
#define CP_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fh_addr.h"

struct cp_conn;
struct cp_part;
struct cp_source;

/* What cp_room knows of a signalling connection, given by whoever owns connections. */
struct cp_room_conn_facts {
	const char *host; /* the Host header of its upgrade request (which tenant) */
	const char *path; /* and its path */
	const char *peer; /* the client's IP address: rate limits, and logs as the tenant says */
	struct cp_source *src; /* where it comes from (cp_limits); NULL when unreadable */
};

/* The connection operations cp_room calls, so that it never calls into cp_server: cp_server
 * gives the real table, a unit test one that records. Called on the event loop only. */
struct cp_room_conn_ops {
	/* Queues a text message (takes ownership of json, a malloc'd string). */
	void (*send)(struct cp_conn *c, char *json);
	/* Closes after what is queued has gone out. */
	void (*close)(struct cp_conn *c);
	/* The participant a connection speaks for (NULL: none, it may join again). */
	void (*set_part)(struct cp_conn *c, struct cp_part *p);
	struct cp_part *(*part)(struct cp_conn *c);
	void (*facts)(const struct cp_conn *c, struct cp_room_conn_facts *f);
	/* The monotonic clock in ms that the connections' timeouts use too. */
	uint64_t (*now_ms)(void);
};

struct cp_room_conf {
	unsigned max_participants;	/* per room */
	const struct fh_addr *announce; /* media addresses put in candidates (port unused) */
	unsigned n_announce;
	unsigned dtls_timeout_s;
	bool chat;
	/* TURN for clients behind strict firewalls: each participant gets credentials the TURN
	 * REST API way (coturn's use-auth-secret) valid for turn_ttl seconds */
	uint8_t turn_secret[256];
	size_t turn_secret_len; /* 0: no TURN */
	char turn_urls[1024];	/* comma-separated turn: / turns: URLs */
	unsigned turn_ttl;
};

/* ops is kept (not copied) until cp_room_fini. */
int cp_room_init(const struct cp_room_conf *c, const char *region_name,
		 const struct cp_room_conn_ops *ops);
void cp_room_fini(void);
void cp_room_message(struct cp_conn *c, const char *buf, size_t len);
void cp_room_closed(struct cp_conn *c);
void cp_room_tick(uint64_t now_ms);
struct cp_tenants;
/* Takes over ts (the tenants now in force); rooms of a tenant that is gone or switched off
 * are closed with a message to everyone in them. */
void cp_room_set_tenants(struct cp_tenants *ts);
/* The public part of the tenant a request to host and path belongs to, as a malloc'd JSON
 * string for the web client; NULL when none. */
char *cp_room_tenant_info(const char *host, const char *path);
/* The fewest log retention days of max and every tenant's. */
unsigned cp_room_log_days(unsigned max);
/* For /healthz: dataplane attached, rooms and participants now. */
void cp_room_stats(int *dp_ready, unsigned *rooms, unsigned *participants);

/* ---- for the admin API (cp_api): rooms by tenant id and lower-cased name ---- */

/* The tenants in force, each as its settings (cp_tenant_json), with rooms and participants
 * now; one tenant (NULL when unknown). */
json_t *cp_room_api_tenants(void);
json_t *cp_room_api_tenant(const char *tenant);
/* The active rooms of a tenant (NULL: the tenant is unknown); one room with its participants
 * by pseudonym and role (NULL: no such room). */
json_t *cp_room_api_rooms(const char *tenant);
json_t *cp_room_api_room(const char *tenant, const char *room);
/* What a moderator can do, done by an admin: 0, or -1 when there is no such room or
 * participant (participants by the id the room's list shows). */
int cp_room_api_close(const char *tenant, const char *room);
int cp_room_api_mute(const char *tenant, const char *room, const char *id);
int cp_room_api_remove(const char *tenant, const char *room, const char *id);
int cp_room_api_password(const char *tenant, const char *room, const char *password);
int cp_room_api_lobby(const char *tenant, const char *room, bool on);
/* A room another node holds, closed there (cp_cluster): 1 passed on, 0 no node holds it,
 * -1 the cluster's store cannot be reached. */
int cp_room_api_close_elsewhere(const char *tenant, const char *room);
/* The cluster-wide public access switch, applied here: off closes the tenant's rooms. */
void cp_room_api_access(const char *tenant, bool on);
/* Draining: no new rooms open here (joins to running ones go on); clients are told. */
void cp_room_set_draining(bool on, unsigned grace_s);
bool cp_room_draining(void);

/* Whether origin ("https://host[:port]") is one of a tenant's hosts: its pages may signal to
 * any node of a cluster. */
bool cp_room_origin_known(const char *origin);
/* What the cluster asks of the rooms here (cp_cluster_start). */
struct cp_cluster_handlers;
extern const struct cp_cluster_handlers cp_room_cluster_handlers;

/* Counters for /metrics. */
struct cp_room_metrics {
	uint64_t dtls_ok, dtls_failed;
	uint64_t dtls_ms_buckets[8]; /* handshakes done within 50, 100, 250, 500, 1000, 2500,
				      * 5000 ms, and the rest */
	uint64_t dtls_ms_sum;
	uint64_t join_failures[64]; /* by error code, cp_room_join_failure_code(i) */
	uint64_t joins;
};
extern const unsigned cp_room_dtls_bucket_ms[7];
const struct cp_room_metrics *cp_room_metrics(void);
/* The error code counted in join_failures[i], 0 past the end. */
int cp_room_join_failure_code(unsigned i);
/* Rooms and participants (waiting ones apart) of a tenant now. */
void cp_room_tenant_load(const char *tenant, unsigned *rooms, unsigned *participants,
			 unsigned *waiting);

#endif
