/*
 * cp_cluster: the node's thread for Redis and what the loop asks of it (see the header).
 *
 * One mutex guards what the thread and the loop share: the queue of work for the thread, the
 * answers for the loop, the claims held here, the snapshot of the cluster's nodes and claims,
 * the access switches and the counters. The thread never holds it across a Redis call.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cp_cluster.h"
#include "cp_store.h"
#include "fh_log.h"

#define PERIOD_MS 2000
#define NODES_FRESH_MS 1000
#define JOBS_MAX 4096
#define CLAIMS_SNAPSHOT_MAX 4096
#define ACCESS_MAX 256
#define CMDS_PER_PERIOD 32
/* a node's pages may signal to this node this long after the node was last seen: a page the
 * dead node served comes back through the others while the client retries (two minutes) */
#define ORIGIN_KEEP_MS (10 * 60 * 1000)
#define ORIGINS_MAX (2 * CP_CL_NODES_MAX)

enum job_kind { J_LOCATE, J_TOUCH, J_PW, J_LOBBY, J_FORGET, J_PUT, J_RELEASE, J_FWD, J_ACCESS };

struct job {
	enum job_kind k;
	uint64_t ticket;
	char tenant[33];
	char hash[CP_CL_HASH_LEN + 1];
	char pool[CP_CL_ID_MAX + 1];
	char region[CP_CL_ID_MAX + 1];
	bool flag;     /* generated, lobby on, access on */
	unsigned days; /* the tenant's room_inactivity_days, read on the loop */
	int64_t now_s;
	uint8_t pw[CP_CL_PW_LEN];
	size_t pw_len;
	struct cp_cl_record rec;
	struct cp_cl_claim claim;
	char cmd[513];
	struct job *next;
};

enum res_kind { R_VERDICT, R_CMD, R_ACCESS };

struct result {
	enum res_kind k;
	uint64_t ticket;
	struct cp_cluster_verdict v;
	char cmd[513];
	char tenant[33];
	bool on;
	struct result *next;
};

/* A claim this node holds. */
struct entry {
	char tenant[33];
	char hash[CP_CL_HASH_LEN + 1];
	char epoch[17]; /* "" while it is to be adopted (a room resumed after a restart) */
	bool room;	/* the room is open here */
	bool lost;	/* another node holds it now */
	int64_t since_ms;
	int rec_state; /* the room's record: 1 as Redis had it, 0 Redis had none, -1 unknown */
	struct cp_cl_record rec;
};

struct waiter {
	uint64_t ticket;
	cp_cluster_cb cb;
	void *user;
	struct waiter *next;
};

static struct {
	bool on;
	struct cp_cluster_conf conf;
	struct cp_cluster_handlers h;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, unregister;
	struct job *jobs, **jobs_tail;
	unsigned n_jobs;
	struct result *res, **res_tail;
	struct entry *ent;
	unsigned n_ent, cap_ent;
	struct cp_cl_node nodes[CP_CL_NODES_MAX];
	unsigned n_nodes;
	int64_t nodes_ms; /* monotonic, when they were read */
	struct cp_cl_claim *claims;
	unsigned n_claims;
	char acc_id[ACCESS_MAX][33];
	bool acc_on[ACCESS_MAX];
	unsigned n_acc;
	unsigned rooms, parts;
	bool draining;
	/* the URLs of nodes seen lately, as origins their pages send */
	char origin[ORIGINS_MAX][CP_CL_URL_MAX + 1];
	int64_t origin_ms[ORIGINS_MAX];
	unsigned n_origins;
	struct cp_cluster_metrics m;
	uint64_t boot;
	/* loop only */
	struct waiter *waiters;
	uint64_t next_ticket;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rand_hex16(char out[17])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[8];

	if (RAND_bytes(b, sizeof(b)) != 1)
		for (int i = 0; i < 8; i++)
			b[i] = (uint8_t)(mono_ms() >> (i * 3)) ^ (uint8_t)random();
	for (int i = 0; i < 8; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[16] = '\0';
}

bool cp_cluster_enabled(void)
{
	return g.on;
}

const struct cp_cluster_conf *cp_cluster_conf(void)
{
	return g.on ? &g.conf : NULL;
}

void cp_cluster_room_hash(const char *tenant, const char *key, char out[CP_CL_HASH_LEN + 1])
{
	cp_clstore_room_hash(g.conf.secret, g.conf.secret_len, tenant, key, out);
}

/* ---- shared state, under g.mu ---- */

static struct entry *entry_of(const char *tenant, const char *hash)
{
	for (unsigned i = 0; i < g.n_ent; i++)
		if (!strcmp(g.ent[i].tenant, tenant) && !strcmp(g.ent[i].hash, hash))
			return &g.ent[i];
	return NULL;
}

static struct entry *entry_add(const char *tenant, const char *hash)
{
	struct entry *e = entry_of(tenant, hash);

	if (e)
		return e;
	if (g.n_ent == g.cap_ent) {
		unsigned cap = g.cap_ent ? g.cap_ent * 2 : 64;
		struct entry *n = realloc(g.ent, cap * sizeof(*n));

		if (!n)
			return NULL;
		g.ent = n;
		g.cap_ent = cap;
	}
	e = &g.ent[g.n_ent++];
	memset(e, 0, sizeof(*e));
	snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
	snprintf(e->hash, sizeof(e->hash), "%s", hash);
	e->rec_state = -1;
	return e;
}

static void entry_del(struct entry *e)
{
	OPENSSL_cleanse(&e->rec, sizeof(e->rec));
	*e = g.ent[--g.n_ent];
}

/* Queues work for the thread; false when the queue is full (counted). */
static bool push_job(const struct job *j)
{
	struct job *n;

	if (g.n_jobs >= JOBS_MAX || !(n = malloc(sizeof(*n)))) {
		g.m.writes_dropped++;
		return false;
	}
	*n = *j;
	n->next = NULL;
	*g.jobs_tail = n;
	g.jobs_tail = &n->next;
	g.n_jobs++;
	pthread_cond_signal(&g.cv);
	return true;
}

static void push_result(const struct result *r)
{
	struct result *n = malloc(sizeof(*n));

	if (!n)
		return;
	*n = *r;
	n->next = NULL;
	*g.res_tail = n;
	g.res_tail = &n->next;
}

static void job_free(struct job *j)
{
	OPENSSL_cleanse(j, sizeof(*j));
	free(j);
}

/* ---- the thread ---- */

static void sync_counters(const struct cp_clstore *s)
{
	g.m.errors = s->errors;
	g.m.bad = s->bad;
	g.m.redis_up = cp_clstore_connected(s);
}

static void verdict(struct job *j, enum cp_cluster_where w, const struct cp_cl_node *n)
{
	struct result r = {.k = R_VERDICT, .ticket = j->ticket, .v.where = w};

	if (n) {
		snprintf(r.v.node, sizeof(r.v.node), "%s", n->id);
		snprintf(r.v.url, sizeof(r.v.url), "%s", n->url);
	}
	pthread_mutex_lock(&g.mu);
	push_result(&r);
	pthread_mutex_unlock(&g.mu);
}

/* The room is ours (claimed with epoch): with its record from Redis. */
static void locate_mine(struct cp_clstore *s, struct job *j, const char *epoch)
{
	struct cp_cl_record rec;
	int rc = cp_clstore_record_get(s, j->tenant, j->hash, &rec, j->days, wall_ms() / 1000);
	struct entry *e;

	if (rc == -1) {
		/* the claim stays ours until it expires; a retry finds it and reads again */
		verdict(j, CP_CL_DOWN, NULL);
		return;
	}
	pthread_mutex_lock(&g.mu);
	e = entry_add(j->tenant, j->hash);
	if (e && !e->room) {
		snprintf(e->epoch, sizeof(e->epoch), "%s", epoch);
		e->lost = false;
		e->since_ms = mono_ms();
		e->rec_state = rc == 1 ? 1 : rc == 0 ? 0 : -1;
		e->rec = rec;
	}
	pthread_mutex_unlock(&g.mu);
	OPENSSL_cleanse(&rec, sizeof(rec));
	verdict(j, e ? CP_CL_MINE : CP_CL_DOWN, NULL);
}

static const struct cp_cl_node *node_in(const struct cp_cl_node *nodes, unsigned n, const char *id)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(nodes[i].id, id))
			return &nodes[i];
	return NULL;
}

/* Under g.mu: url was seen at now (the oldest entry makes room when the list is full). */
static void origin_seen(const char *url, int64_t now)
{
	unsigned k, oldest = 0;

	for (k = 0; k < g.n_origins; k++) {
		if (!strcasecmp(g.origin[k], url)) {
			g.origin_ms[k] = now;
			return;
		}
		if (g.origin_ms[k] < g.origin_ms[oldest])
			oldest = k;
	}
	k = g.n_origins < ORIGINS_MAX ? g.n_origins++ : oldest;
	snprintf(g.origin[k], sizeof(g.origin[k]), "%s", url);
	g.origin_ms[k] = now;
}

static int read_nodes(struct cp_clstore *s)
{
	static struct cp_cl_node tmp[CP_CL_NODES_MAX];
	int n = cp_clstore_nodes(s, tmp, CP_CL_NODES_MAX, wall_ms());

	if (n < 0)
		return -1;
	pthread_mutex_lock(&g.mu);
	memcpy(g.nodes, tmp, (size_t)n * sizeof(tmp[0]));
	g.n_nodes = (unsigned)n;
	g.nodes_ms = mono_ms();
	for (int i = 0; i < n; i++)
		origin_seen(tmp[i].url, g.nodes_ms);
	g.m.nodes = (unsigned)n;
	pthread_mutex_unlock(&g.mu);
	return n;
}

static void do_locate(struct cp_clstore *s, struct job *j)
{
	static struct cp_cl_node nodes[CP_CL_NODES_MAX];
	unsigned n;
	bool stale;

	pthread_mutex_lock(&g.mu);
	stale = mono_ms() - g.nodes_ms > NODES_FRESH_MS;
	pthread_mutex_unlock(&g.mu);
	if (stale && read_nodes(s) < 0) {
		verdict(j, CP_CL_DOWN, NULL);
		return;
	}
	pthread_mutex_lock(&g.mu);
	n = g.n_nodes;
	memcpy(nodes, g.nodes, n * sizeof(nodes[0]));
	pthread_mutex_unlock(&g.mu);
	for (int attempt = 0; attempt < 4; attempt++) {
		struct cp_cl_claim c;
		int rc = cp_clstore_claim_get(s, j->tenant, j->hash, &c);

		if (rc == -1) {
			verdict(j, CP_CL_DOWN, NULL);
			return;
		}
		if (rc == -2) {
			/* one that never expires was made by no node of ours: it goes, and the
			 * room is placed; one that expires is waited for (5011, retry later) */
			int cleared = cp_clstore_claim_clear_bad(s, j->tenant, j->hash);

			if (cleared == -1) {
				verdict(j, CP_CL_DOWN, NULL);
				return;
			}
			if (cleared == 1) {
				FH_WARN("cluster: removed a room claim of tenant %s that does not "
					"check and never expires; the room is placed again",
					j->tenant);
				continue;
			}
			if (cleared == 0)
				continue; /* gone meanwhile */
			/* 2: it expires by itself; -2: no room's key at all */
			FH_WARN("cluster: the claim of a room of tenant %s does not check (%s); "
				"its joins are refused until it expires",
				j->tenant, s->last_err);
			verdict(j, CP_CL_BAD, NULL);
			return;
		}
		if (rc == 0) {
			int i = cp_clstore_choose(nodes, n, j->pool, j->region, g.conf.region);
			char epoch[17];

			if (i < 0) {
				verdict(j, CP_CL_NO_NODE, NULL);
				return;
			}
			rand_hex16(epoch);
			rc = cp_clstore_claim_try(s, j->tenant, j->hash, nodes[i].id, epoch,
						  wall_ms());
			if (rc < 0) {
				verdict(j, CP_CL_DOWN, NULL);
				return;
			}
			if (rc == 0)
				continue; /* another node placed it first: where? */
			nodes[i].placed++;
			pthread_mutex_lock(&g.mu);
			for (unsigned k = 0; k < g.n_nodes; k++)
				if (!strcmp(g.nodes[k].id, nodes[i].id))
					g.nodes[k].placed++;
			pthread_mutex_unlock(&g.mu);
			if (!strcmp(nodes[i].id, g.conf.node))
				locate_mine(s, j, epoch);
			else
				verdict(j, CP_CL_ELSEWHERE, &nodes[i]);
			return;
		}
		if (!strcmp(c.node, g.conf.node)) {
			locate_mine(s, j, c.epoch);
			return;
		}
		const struct cp_cl_node *o = node_in(nodes, n, c.node);
		struct cp_cl_node fresh;

		if (!o) {
			/* not in the snapshot: read its record itself before taking anything
			 * from a node that may have just come up */
			int a = cp_clstore_node_get(s, c.node, &fresh);

			if (a == -1) {
				verdict(j, CP_CL_DOWN, NULL);
				return;
			}
			if (a == -2) {
				verdict(j, CP_CL_BAD, NULL);
				return;
			}
			o = a == 1 ? &fresh : NULL;
		}
		if (o) {
			verdict(j, CP_CL_ELSEWHERE, o);
			return;
		}
		/* its node is gone: the claim goes, and the room is placed again */
		FH_INFO("cluster: node %s is gone; a room of tenant %s it held is placed again",
			c.node, j->tenant);
		if (cp_clstore_claim_takeover(s, &c) < 0) {
			verdict(j, CP_CL_DOWN, NULL);
			return;
		}
	}
	verdict(j, CP_CL_BAD, NULL); /* contended four times over: the client tries again */
}

/* A write; false when Redis failed (it is tried again once Redis is back). */
static bool do_write(struct cp_clstore *s, struct job *j)
{
	unsigned days = j->days;
	int rc = 0;

	switch (j->k) {
	case J_TOUCH:
		rc = cp_clstore_record_touch(s, j->tenant, j->hash, j->flag, j->now_s, days);
		break;
	case J_PUT:
		rc = cp_clstore_record_put(s, j->tenant, j->hash, &j->rec, days);
		break;
	case J_PW:
		rc = cp_clstore_record_password(s, j->tenant, j->hash, j->pw, j->pw_len);
		break;
	case J_LOBBY:
		rc = cp_clstore_record_lobby(s, j->tenant, j->hash, j->flag);
		break;
	case J_FORGET:
		rc = cp_clstore_record_forget(s, j->tenant, j->hash);
		break;
	case J_RELEASE:
		rc = cp_clstore_claim_release(s, &j->claim) < 0 ? -1 : 0;
		break;
	case J_FWD:
		rc = cp_clstore_cmd_push(s, j->claim.node, j->cmd);
		break;
	case J_ACCESS:
		rc = cp_clstore_access_set(s, j->tenant, j->flag);
		break;
	case J_LOCATE:
		break;
	}
	return rc == 0 || cp_clstore_connected(s);
}

struct held {
	struct cp_cl_claim c;
	bool room, adopt;
	int64_t since_ms;
	int outcome; /* 0 keep, 1 lost, 2 drop */
};

static void refresh_claims(struct cp_clstore *s)
{
	struct held *h;
	unsigned n;

	pthread_mutex_lock(&g.mu);
	n = g.n_ent;
	h = n ? calloc(n, sizeof(*h)) : NULL;
	for (unsigned i = 0; h && i < n; i++) {
		struct entry *e = &g.ent[i];

		snprintf(h[i].c.tenant, sizeof(h[i].c.tenant), "%s", e->tenant);
		snprintf(h[i].c.hash, sizeof(h[i].c.hash), "%s", e->hash);
		snprintf(h[i].c.node, sizeof(h[i].c.node), "%s", g.conf.node);
		snprintf(h[i].c.epoch, sizeof(h[i].c.epoch), "%s", e->epoch);
		h[i].room = e->room;
		h[i].adopt = !e->epoch[0];
		h[i].since_ms = e->since_ms;
		h[i].outcome = e->lost ? 1 : 0;
	}
	pthread_mutex_unlock(&g.mu);
	if (!h)
		return;
	for (unsigned i = 0; i < n && cp_clstore_connected(s); i++) {
		struct held *x = &h[i];

		if (x->outcome == 1)
			continue;
		if (x->adopt) {
			struct cp_cl_claim c;
			int rc = cp_clstore_claim_get(s, x->c.tenant, x->c.hash, &c);

			if (rc == 1 && !strcmp(c.node, g.conf.node)) {
				snprintf(x->c.epoch, sizeof(x->c.epoch), "%s", c.epoch);
			} else if (rc == 0) {
				rand_hex16(x->c.epoch);
				if (cp_clstore_claim_try(s, x->c.tenant, x->c.hash, g.conf.node,
							 x->c.epoch, wall_ms()) != 1)
					x->c.epoch[0] = '\0';
			} else if (rc == 1 || rc == -2) {
				x->outcome = 1;
			}
			continue;
		}
		if (!x->room && mono_ms() - x->since_ms > CP_CL_CLAIM_TTL_MS) {
			/* placed here, and nobody came */
			cp_clstore_claim_release(s, &x->c);
			x->outcome = 2;
			continue;
		}
		int rc = cp_clstore_claim_refresh(s, &x->c);

		if (rc == 0)
			x->outcome = 1;
		else if (rc == 2)
			FH_INFO("cluster: a room's claim had gone from Redis; made again");
	}
	pthread_mutex_lock(&g.mu);
	for (unsigned i = 0; i < n; i++) {
		struct entry *e = entry_of(h[i].c.tenant, h[i].c.hash);

		if (!e)
			continue; /* the room ended meanwhile */
		if (h[i].adopt && !e->epoch[0])
			snprintf(e->epoch, sizeof(e->epoch), "%s", h[i].c.epoch);
		if (h[i].outcome == 1 && !e->lost) {
			e->lost = true;
			g.m.lost++;
			FH_WARN("cluster: another node holds a room of tenant %s that runs here; "
				"its new joins go there, the call here goes on",
				e->tenant);
		} else if (h[i].outcome == 2 && !e->room && !strcmp(e->epoch, h[i].c.epoch)) {
			entry_del(e);
		}
	}
	g.m.claims = g.n_ent;
	pthread_mutex_unlock(&g.mu);
	free(h);
}

static void read_commands(struct cp_clstore *s)
{
	char buf[513];

	for (int i = 0; i < CMDS_PER_PERIOD; i++) {
		int rc = cp_clstore_cmd_pop(s, g.conf.node, buf, sizeof(buf));

		if (rc == 2)
			continue;
		if (rc != 1)
			return;
		struct result r = {.k = R_CMD};

		snprintf(r.cmd, sizeof(r.cmd), "%s", buf);
		pthread_mutex_lock(&g.mu);
		push_result(&r);
		pthread_mutex_unlock(&g.mu);
	}
}

static void read_access(struct cp_clstore *s)
{
	static char ids[ACCESS_MAX][33];
	static bool on[ACCESS_MAX];
	int n = cp_clstore_access(s, ids, on, ACCESS_MAX);

	if (n < 0)
		return;
	pthread_mutex_lock(&g.mu);
	for (int i = 0; i < n; i++) {
		unsigned k;

		for (k = 0; k < g.n_acc; k++)
			if (!strcmp(g.acc_id[k], ids[i]))
				break;
		if (k < g.n_acc && g.acc_on[k] == on[i])
			continue;
		if (k == g.n_acc) {
			if (g.n_acc == ACCESS_MAX)
				continue;
			snprintf(g.acc_id[g.n_acc++], 33, "%s", ids[i]);
		}
		g.acc_on[k] = on[i];
		struct result r = {.k = R_ACCESS, .on = on[i]};

		snprintf(r.tenant, sizeof(r.tenant), "%s", ids[i]);
		push_result(&r);
	}
	pthread_mutex_unlock(&g.mu);
}

static void read_claims(struct cp_clstore *s)
{
	struct cp_cl_claim *c = malloc(CLAIMS_SNAPSHOT_MAX * sizeof(*c));
	int n = c ? cp_clstore_claims(s, c, CLAIMS_SNAPSHOT_MAX) : -1;

	if (n < 0) {
		free(c);
		return;
	}
	pthread_mutex_lock(&g.mu);
	free(g.claims);
	g.claims = c;
	g.n_claims = (unsigned)n;
	pthread_mutex_unlock(&g.mu);
}

static void periodic(struct cp_clstore *s)
{
	struct cp_cl_node me = {0};

	pthread_mutex_lock(&g.mu);
	snprintf(me.id, sizeof(me.id), "%s", g.conf.node);
	snprintf(me.url, sizeof(me.url), "%s", g.conf.url);
	snprintf(me.region, sizeof(me.region), "%s", g.conf.region);
	memcpy(me.pools, g.conf.pools, sizeof(me.pools));
	me.n_pools = g.conf.n_pools;
	me.capacity = g.conf.capacity;
	me.rooms = g.rooms;
	me.participants = g.parts;
	me.draining = g.draining;
	me.boot = g.boot;
	pthread_mutex_unlock(&g.mu);
	me.ts_ms = wall_ms();
	if (cp_clstore_register(s, &me) < 0)
		return;
	read_nodes(s);
	refresh_claims(s);
	read_commands(s);
	read_access(s);
	read_claims(s);
}

/* The queue's locates answered "down" while Redis cannot be reached; writes wait. */
static void answer_locates_down(void)
{
	struct job **pp = &g.jobs;

	while (*pp) {
		struct job *j = *pp;

		if (j->k != J_LOCATE) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		g.n_jobs--;
		struct result r = {.k = R_VERDICT, .ticket = j->ticket, .v.where = CP_CL_DOWN};

		push_result(&r);
		job_free(j);
	}
	g.jobs_tail = pp;
	while (*g.jobs_tail)
		g.jobs_tail = &(*g.jobs_tail)->next;
}

static void *thread_main(void *arg)
{
	struct cp_clstore s = {.conf = &g.conf};
	int64_t next_period = 0, next_connect = 0;
	bool was_up = true;
	unsigned backoff = 500;

	(void)arg;
	pthread_mutex_lock(&g.mu);
	while (!g.stop) {
		int64_t now = mono_ms();

		if (!cp_clstore_connected(&s) && now >= next_connect) {
			pthread_mutex_unlock(&g.mu);
			int rc = cp_clstore_connect(&s);

			pthread_mutex_lock(&g.mu);
			if (rc < 0) {
				next_connect = mono_ms() + backoff;
				backoff = backoff < 4000 ? backoff * 2 : 4000;
				if (was_up)
					FH_WARN("cluster: Redis cannot be reached (%s): running "
						"rooms "
						"go on, new rooms are refused until it is back",
						s.last_err);
				was_up = false;
			} else {
				backoff = 500;
				if (!was_up)
					FH_INFO("cluster: Redis reached; this node announces "
						"itself "
						"again");
				was_up = true;
				next_period = 0;
			}
			sync_counters(&s);
		}
		if (!cp_clstore_connected(&s)) {
			answer_locates_down();
		} else if (now >= next_period) {
			pthread_mutex_unlock(&g.mu);
			periodic(&s);
			pthread_mutex_lock(&g.mu);
			next_period = mono_ms() + PERIOD_MS;
			sync_counters(&s);
			continue;
		} else if (g.jobs) {
			struct job *j = g.jobs;

			g.jobs = j->next;
			if (!g.jobs)
				g.jobs_tail = &g.jobs;
			g.n_jobs--;
			pthread_mutex_unlock(&g.mu);
			bool done = true;

			if (j->k == J_LOCATE)
				do_locate(&s, j);
			else
				done = do_write(&s, j);
			pthread_mutex_lock(&g.mu);
			if (!done) {
				/* back at the head: the order of writes holds */
				j->next = g.jobs;
				g.jobs = j;
				if (!j->next)
					g.jobs_tail = &j->next;
				g.n_jobs++;
			} else {
				job_free(j);
			}
			sync_counters(&s);
			continue;
		}
		int64_t until = cp_clstore_connected(&s) ? next_period : next_connect;
		int64_t wait = until - mono_ms();

		if (wait > 100)
			wait = 100;
		if (wait > 0) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += wait * 1000000;
			ts.tv_sec += ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&g.cv, &g.mu, &ts);
		}
	}
	bool unreg = g.unregister;

	pthread_mutex_unlock(&g.mu);
	if (unreg && cp_clstore_connected(&s))
		cp_clstore_unregister(&s, g.conf.node);
	cp_clstore_disconnect(&s);
	return NULL;
}

/* ---- the loop's side ---- */

static void mirror_touch(const char *tenant, const char *key, bool generated, int64_t now);
static void mirror_forget(const char *tenant, const char *key);
static void mirror_set_password(const char *tenant, const char *key, const uint8_t *hash,
				size_t len);
static void mirror_set_lobby(const char *tenant, const char *key, bool on);
static int mirror_password(const char *tenant, const char *key, uint8_t hash[CP_PW_HASH_LEN]);
static int mirror_lobby(const char *tenant, const char *key);
static int mirror_exists(const char *tenant, const char *key);

static const struct cp_store_mirror mirror = {
	.touch = mirror_touch,
	.forget = mirror_forget,
	.set_password = mirror_set_password,
	.set_lobby = mirror_set_lobby,
	.password = mirror_password,
	.lobby = mirror_lobby,
	.exists = mirror_exists,
};

int cp_cluster_start(const struct cp_cluster_conf *c, const struct cp_cluster_handlers *h)
{
	if (!c->enabled)
		return 0;
	g.conf = *c;
	g.h = *h;
	g.jobs_tail = &g.jobs;
	g.res_tail = &g.res;
	char b[17];

	rand_hex16(b);
	g.boot = strtoull(b, NULL, 16);
	g.stop = false;
	if (pthread_create(&g.th, NULL, thread_main, NULL) != 0) {
		FH_ERR("cluster: no thread for Redis");
		return -1;
	}
	g.on = true;
	cp_store_set_mirror(&mirror);
	FH_INFO("cluster %s: node %s (%s, region %s), Redis %s%s%s", c->name, c->node, c->url,
		c->region, c->n_sentinels ? "through sentinels, master " : "",
		c->n_sentinels ? c->master : c->redis_host, c->n_sentinels ? "" : "");
	return 0;
}

void cp_cluster_stop(bool unregister)
{
	if (!g.on)
		return;
	pthread_mutex_lock(&g.mu);
	g.stop = true;
	g.unregister = unregister;
	pthread_cond_signal(&g.cv);
	pthread_mutex_unlock(&g.mu);
	pthread_join(g.th, NULL);
	cp_store_set_mirror(NULL);
	g.on = false;
	while (g.jobs) {
		struct job *j = g.jobs;

		g.jobs = j->next;
		job_free(j);
	}
	while (g.res) {
		struct result *r = g.res;

		g.res = r->next;
		free(r);
	}
	while (g.waiters) {
		struct waiter *w = g.waiters;

		g.waiters = w->next;
		free(w);
	}
	for (unsigned i = 0; i < g.n_ent; i++)
		OPENSSL_cleanse(&g.ent[i].rec, sizeof(g.ent[i].rec));
	free(g.ent);
	free(g.claims);
	g.ent = NULL;
	g.claims = NULL;
	g.n_ent = g.cap_ent = g.n_claims = 0;
	OPENSSL_cleanse(g.conf.password, sizeof(g.conf.password));
	OPENSSL_cleanse(g.conf.secret, sizeof(g.conf.secret));
}

void cp_cluster_load(unsigned rooms, unsigned participants, bool draining)
{
	if (!g.on)
		return;
	pthread_mutex_lock(&g.mu);
	g.rooms = rooms;
	g.parts = participants;
	g.draining = draining;
	pthread_mutex_unlock(&g.mu);
}

static void run_command(const char *cmd)
{
	json_error_t je;
	json_t *o = json_loads(cmd, 0, &je);
	const char *op = json_string_value(json_object_get(o, "op"));
	const char *tenant = json_string_value(json_object_get(o, "tenant"));
	const char *room = json_string_value(json_object_get(o, "room"));

	if (op && !strcmp(op, "close") && tenant && room && strlen(tenant) <= 32 &&
	    strlen(room) == CP_CL_HASH_LEN) {
		if (g.h.close_room)
			g.h.close_room(tenant, room);
	} else {
		pthread_mutex_lock(&g.mu);
		g.m.bad++;
		pthread_mutex_unlock(&g.mu);
		FH_WARN("cluster: an admin command for this node that does not check was dropped");
	}
	json_decref(o);
}

void cp_cluster_tick(uint64_t now_ms)
{
	struct result *r;

	(void)now_ms;
	if (!g.on)
		return;
	pthread_mutex_lock(&g.mu);
	r = g.res;
	g.res = NULL;
	g.res_tail = &g.res;
	pthread_mutex_unlock(&g.mu);
	while (r) {
		struct result *next = r->next;

		if (r->k == R_VERDICT) {
			for (struct waiter **pp = &g.waiters; *pp; pp = &(*pp)->next) {
				struct waiter *w = *pp;

				if (w->ticket != r->ticket)
					continue;
				*pp = w->next;
				if (r->v.where == CP_CL_DOWN) {
					pthread_mutex_lock(&g.mu);
					g.m.refused_down++;
					pthread_mutex_unlock(&g.mu);
				}
				w->cb(w->user, &r->v);
				free(w);
				break;
			}
		} else if (r->k == R_CMD) {
			run_command(r->cmd);
		} else if (r->k == R_ACCESS && g.h.access) {
			g.h.access(r->tenant, r->on);
		}
		free(r);
		r = next;
	}
}

uint64_t cp_cluster_locate(const char *tenant, const char *key, const char *pool,
			   const char *region, cp_cluster_cb cb, void *user)
{
	struct job j = {.k = J_LOCATE};
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return 0;
	snprintf(j.tenant, sizeof(j.tenant), "%s", tenant);
	cp_cluster_room_hash(tenant, key, j.hash);
	snprintf(j.pool, sizeof(j.pool), "%s", pool && *pool ? pool : "default");
	snprintf(j.region, sizeof(j.region), "%s", region ? region : "");
	j.days = g.h.days_of ? g.h.days_of(tenant) : 0;
	j.ticket = w->ticket = ++g.next_ticket;
	w->cb = cb;
	w->user = user;
	pthread_mutex_lock(&g.mu);
	g.m.locates++;
	bool ok = push_job(&j);

	pthread_mutex_unlock(&g.mu);
	if (!ok) {
		free(w);
		return 0;
	}
	w->next = g.waiters;
	g.waiters = w;
	return w->ticket;
}

void cp_cluster_cancel(uint64_t ticket)
{
	for (struct waiter **pp = &g.waiters; *pp; pp = &(*pp)->next) {
		if ((*pp)->ticket == ticket) {
			struct waiter *w = *pp;

			*pp = w->next;
			free(w);
			return;
		}
	}
}

bool cp_cluster_held(const char *tenant, const char *key)
{
	char h[CP_CL_HASH_LEN + 1];
	const struct entry *e;
	bool held;

	if (!g.on)
		return true;
	cp_cluster_room_hash(tenant, key, h);
	pthread_mutex_lock(&g.mu);
	e = entry_of(tenant, h);
	held = e && !e->lost && e->epoch[0];
	pthread_mutex_unlock(&g.mu);
	return held;
}

bool cp_cluster_lost(const char *tenant, const char *key)
{
	char h[CP_CL_HASH_LEN + 1];
	const struct entry *e;
	bool lost;

	if (!g.on)
		return false;
	cp_cluster_room_hash(tenant, key, h);
	pthread_mutex_lock(&g.mu);
	e = entry_of(tenant, h);
	lost = e && e->lost;
	pthread_mutex_unlock(&g.mu);
	return lost;
}

void cp_cluster_room_open(const char *tenant, const char *key)
{
	char h[CP_CL_HASH_LEN + 1];
	struct entry *e;

	if (!g.on)
		return;
	cp_cluster_room_hash(tenant, key, h);
	pthread_mutex_lock(&g.mu);
	e = entry_add(tenant, h); /* none: resumed after a restart, adopted by the thread */
	if (e) {
		e->room = true;
		e->since_ms = mono_ms();
	}
	g.m.claims = g.n_ent;
	pthread_mutex_unlock(&g.mu);
}

void cp_cluster_room_gone(const char *tenant, const char *key)
{
	char h[CP_CL_HASH_LEN + 1];
	struct entry *e;
	struct job j = {.k = J_RELEASE};

	if (!g.on)
		return;
	cp_cluster_room_hash(tenant, key, h);
	pthread_mutex_lock(&g.mu);
	e = entry_of(tenant, h);
	if (e) {
		if (e->epoch[0] && !e->lost) {
			snprintf(j.claim.tenant, sizeof(j.claim.tenant), "%s", tenant);
			snprintf(j.claim.hash, sizeof(j.claim.hash), "%s", h);
			snprintf(j.claim.node, sizeof(j.claim.node), "%s", g.conf.node);
			snprintf(j.claim.epoch, sizeof(j.claim.epoch), "%s", e->epoch);
			push_job(&j);
		}
		entry_del(e);
	}
	g.m.claims = g.n_ent;
	pthread_mutex_unlock(&g.mu);
}

/* ---- the room records' mirror (cp_store) ---- */

static void job_for(struct job *j, enum job_kind k, const char *tenant, const char *key)
{
	memset(j, 0, sizeof(*j));
	j->k = k;
	snprintf(j->tenant, sizeof(j->tenant), "%s", tenant);
	cp_cluster_room_hash(tenant, key, j->hash);
	j->days = g.h.days_of ? g.h.days_of(tenant) : 0;
}

static void mirror_touch(const char *tenant, const char *key, bool generated, int64_t now)
{
	struct job j;
	struct entry *e;

	job_for(&j, J_TOUCH, tenant, key);
	j.flag = generated;
	j.now_s = now;
	pthread_mutex_lock(&g.mu);
	e = entry_of(tenant, j.hash);
	if (e && e->rec_state != 1) {
		/* Redis had no record of the room (or one that did not check): this node's
		 * own, as its database keeps it, goes there whole */
		pthread_mutex_unlock(&g.mu);
		int lobby = cp_store_local_lobby(tenant, key);

		j.k = J_PUT;
		j.rec.has_pw = cp_store_local_password(tenant, key, j.rec.pw) == 1;
		j.rec.lobby = lobby;
		j.rec.generated = generated;
		j.rec.opened = j.rec.used = now;
		pthread_mutex_lock(&g.mu);
		e = entry_of(tenant, j.hash);
		if (e) {
			e->rec = j.rec;
			e->rec_state = 1;
		}
	}
	push_job(&j);
	pthread_mutex_unlock(&g.mu);
	OPENSSL_cleanse(&j, sizeof(j));
}

static void mirror_forget(const char *tenant, const char *key)
{
	struct job j;
	struct entry *e;

	job_for(&j, J_FORGET, tenant, key);
	pthread_mutex_lock(&g.mu);
	if ((e = entry_of(tenant, j.hash)) != NULL) {
		OPENSSL_cleanse(&e->rec, sizeof(e->rec));
		e->rec_state = 0;
	}
	push_job(&j);
	pthread_mutex_unlock(&g.mu);
}

static void mirror_set_password(const char *tenant, const char *key, const uint8_t *hash,
				size_t len)
{
	struct job j;
	struct entry *e;

	job_for(&j, J_PW, tenant, key);
	j.pw_len = len == CP_CL_PW_LEN ? len : 0;
	if (j.pw_len)
		memcpy(j.pw, hash, CP_CL_PW_LEN);
	pthread_mutex_lock(&g.mu);
	if ((e = entry_of(tenant, j.hash)) != NULL && e->rec_state == 1) {
		e->rec.has_pw = j.pw_len != 0;
		memcpy(e->rec.pw, j.pw, sizeof(e->rec.pw));
	}
	push_job(&j);
	pthread_mutex_unlock(&g.mu);
	OPENSSL_cleanse(&j, sizeof(j));
}

static void mirror_set_lobby(const char *tenant, const char *key, bool on)
{
	struct job j;
	struct entry *e;

	job_for(&j, J_LOBBY, tenant, key);
	j.flag = on;
	pthread_mutex_lock(&g.mu);
	if ((e = entry_of(tenant, j.hash)) != NULL && e->rec_state == 1)
		e->rec.lobby = on;
	push_job(&j);
	pthread_mutex_unlock(&g.mu);
}

static int mirror_password(const char *tenant, const char *key, uint8_t hash[CP_PW_HASH_LEN])
{
	char h[CP_CL_HASH_LEN + 1];
	const struct entry *e;
	int rc = -1;

	cp_cluster_room_hash(tenant, key, h);
	pthread_mutex_lock(&g.mu);
	if ((e = entry_of(tenant, h)) != NULL && e->rec_state == 1) {
		rc = e->rec.has_pw;
		if (rc)
			memcpy(hash, e->rec.pw, CP_PW_HASH_LEN);
	}
	pthread_mutex_unlock(&g.mu);
	return rc;
}

static int mirror_lobby(const char *tenant, const char *key)
{
	char h[CP_CL_HASH_LEN + 1];
	const struct entry *e;
	int rc = -2;

	cp_cluster_room_hash(tenant, key, h);
	pthread_mutex_lock(&g.mu);
	if ((e = entry_of(tenant, h)) != NULL && e->rec_state == 1)
		rc = e->rec.lobby;
	pthread_mutex_unlock(&g.mu);
	return rc;
}

static int mirror_exists(const char *tenant, const char *key)
{
	char h[CP_CL_HASH_LEN + 1];
	const struct entry *e;
	int rc = -1;

	cp_cluster_room_hash(tenant, key, h);
	pthread_mutex_lock(&g.mu);
	if ((e = entry_of(tenant, h)) != NULL && e->rec_state == 1)
		rc = 1;
	pthread_mutex_unlock(&g.mu);
	return rc;
}

/* ---- admin ---- */

json_t *cp_cluster_api(void)
{
	json_t *o, *nodes;
	int64_t now = wall_ms();

	if (!g.on)
		return json_pack("{s:b}", "enabled", 0);
	nodes = json_array();
	pthread_mutex_lock(&g.mu);
	for (unsigned i = 0; i < g.n_nodes; i++) {
		const struct cp_cl_node *n = &g.nodes[i];
		json_t *pools = json_array();

		for (unsigned k = 0; k < n->n_pools; k++)
			json_array_append_new(pools, json_string(n->pools[k]));
		json_array_append_new(
			nodes, json_pack("{s:s,s:s,s:s,s:o,s:i,s:i,s:i,s:b,s:I,s:b}", "id", n->id,
					 "url", n->url, "region", n->region, "pools", pools,
					 "capacity", (int)n->capacity, "rooms", (int)n->rooms,
					 "participants", (int)n->participants, "draining",
					 n->draining, "age_ms", (json_int_t)(now - n->ts_ms),
					 "self", !strcmp(n->id, g.conf.node)));
	}
	o = json_pack("{s:b,s:s,s:s,s:s,s:o,s:i}", "enabled", 1, "cluster", g.conf.name, "node",
		      g.conf.node, "redis", g.m.redis_up ? "up" : "down", "nodes", nodes,
		      "claims_held", (int)g.n_ent);
	pthread_mutex_unlock(&g.mu);
	return o;
}

json_t *cp_cluster_api_rooms(void)
{
	json_t *a = json_array();

	if (!g.on)
		return a;
	pthread_mutex_lock(&g.mu);
	for (unsigned i = 0; i < g.n_claims; i++)
		json_array_append_new(a,
				      json_pack("{s:s,s:s,s:s,s:b}", "tenant", g.claims[i].tenant,
						"room", g.claims[i].hash, "node", g.claims[i].node,
						"self", !strcmp(g.claims[i].node, g.conf.node)));
	pthread_mutex_unlock(&g.mu);
	return a;
}

int cp_cluster_close_elsewhere(const char *tenant, const char *key)
{
	char h[CP_CL_HASH_LEN + 1];
	struct job j = {.k = J_FWD};
	int rc = 0;

	if (!g.on)
		return 0;
	cp_cluster_room_hash(tenant, key, h);
	pthread_mutex_lock(&g.mu);
	if (!g.m.redis_up)
		rc = -1;
	for (unsigned i = 0; rc == 0 && i < g.n_claims; i++) {
		const struct cp_cl_claim *c = &g.claims[i];

		if (strcmp(c->tenant, tenant) || strcmp(c->hash, h) ||
		    !strcmp(c->node, g.conf.node))
			continue;
		j.claim = *c;
		snprintf(j.cmd, sizeof(j.cmd),
			 "{\"op\":\"close\",\"tenant\":\"%s\",\"room\":\"%s\"}", tenant, h);
		rc = push_job(&j) ? 1 : -1;
	}
	pthread_mutex_unlock(&g.mu);
	return rc;
}

void cp_cluster_set_access(const char *tenant, bool on)
{
	struct job j = {.k = J_ACCESS, .flag = on};
	unsigned k;

	if (!g.on)
		return;
	snprintf(j.tenant, sizeof(j.tenant), "%s", tenant);
	pthread_mutex_lock(&g.mu);
	for (k = 0; k < g.n_acc; k++)
		if (!strcmp(g.acc_id[k], tenant))
			break;
	if (k == g.n_acc && g.n_acc < ACCESS_MAX)
		snprintf(g.acc_id[g.n_acc++], 33, "%s", tenant);
	if (k < g.n_acc)
		g.acc_on[k] = on;
	push_job(&j);
	pthread_mutex_unlock(&g.mu);
}

int cp_cluster_access(const char *tenant)
{
	int rc = -1;

	if (!g.on)
		return -1;
	pthread_mutex_lock(&g.mu);
	for (unsigned k = 0; k < g.n_acc; k++)
		if (!strcmp(g.acc_id[k], tenant))
			rc = g.acc_on[k];
	pthread_mutex_unlock(&g.mu);
	return rc;
}

bool cp_cluster_origin_ok(const char *origin)
{
	bool ok;

	if (!g.on || !origin)
		return false;
	pthread_mutex_lock(&g.mu);
	ok = !strcasecmp(origin, g.conf.url);
	/* a node seen lately, gone or not: the pages it served come here when it dies */
	for (unsigned i = 0; !ok && i < g.n_origins; i++)
		ok = !strcasecmp(origin, g.origin[i]) &&
		     mono_ms() - g.origin_ms[i] < ORIGIN_KEEP_MS;
	pthread_mutex_unlock(&g.mu);
	return ok;
}

json_t *cp_cluster_other_urls(void)
{
	json_t *a = json_array();

	if (!g.on)
		return a;
	pthread_mutex_lock(&g.mu);
	for (unsigned i = 0; i < g.n_nodes; i++)
		if (strcmp(g.nodes[i].id, g.conf.node) && !g.nodes[i].draining)
			json_array_append_new(a, json_string(g.nodes[i].url));
	pthread_mutex_unlock(&g.mu);
	return a;
}

void cp_cluster_metrics(struct cp_cluster_metrics *m)
{
	pthread_mutex_lock(&g.mu);
	*m = g.m;
	m->claims = g.n_ent;
	pthread_mutex_unlock(&g.mu);
}

void cp_cluster_count_redirect(void)
{
	pthread_mutex_lock(&g.mu);
	g.m.redirects++;
	pthread_mutex_unlock(&g.mu);
}
