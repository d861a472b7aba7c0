/*
 * cp_join: a join, and admission to a room. handle_join is a sequence of named steps, each of
 * which lets the join go on or refuses it with an error code: which tenant, a ready dataplane,
 * the source's share, the token, the room, its password, the tenant's password policy, whether
 * a room may be opened, space in it, and then in, or into the lobby.
 *
 * Passwords are hashed on a cp_pwhash thread: a join that needs PBKDF2 is handed out with its
 * message and runs again from the first step when the verdict comes back (cp_pwhash_poll on the
 * loop), since anything may have changed in between. Event loop only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cp_cluster.h"
#include "cp_dp.h"
#include "cp_jwt.h"
#include "cp_limits.h"
#include "cp_pwhash.h"
#include "cp_room_pvt.h"
#include "cp_sig.h"
#include "cp_store.h"
#include "cp_tenant.h"
#include "fh_log.h"

#define CP_GENERATED_ROOM_LEN 26

static void rand_alnum(char *out, size_t n)
{
	static const char a[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t r[64];

	cp_room_rand_bytes(r, n);
	for (size_t i = 0; i < n; i++)
		out[i] =
			a[r[i] % 62]; /* 256 % 62 bias is irrelevant for ICE credentials' entropy */
	out[n] = '\0';
}

/* What a join's password step learned on an earlier run: a join that needs PBKDF2 is handed
 * to cp_pwhash and runs again, from the start, with the verdict; the room may have changed in
 * between, so a verdict counts only for the hash it was made against. */
struct join_verdict {
	bool checked; /* against hash: ok or not */
	bool ok;
	uint8_t hash[CP_PW_HASH_LEN];
	bool made; /* a new hash (a password chosen, or an old record upgraded) */
	uint8_t made_hash[CP_PW_HASH_LEN];
	bool have_quick;
	uint8_t quick[32];
	/* where the cluster says the room lives (cp_cluster_locate) */
	bool cl_done;
	struct cp_cluster_verdict cl;
	char gen[CP_ROOM_BYTES + 1]; /* the name generated on the first run, kept for the rest */
};

/* A join waiting for cp_pwhash or for cp_cluster: its connection and the message as it
 * came. */
struct pw_wait {
	struct cp_conn *conn;
	char *msg;
	size_t len;
	uint64_t ticket;
	bool cluster; /* the ticket is cp_cluster's */
	bool make;
	uint8_t hash[CP_PW_HASH_LEN];
	char gen[CP_ROOM_BYTES + 1];
	struct pw_wait *next;
};

static struct pw_wait *pw_waits;

static struct pw_wait *pw_wait_of(const struct cp_conn *c)
{
	for (struct pw_wait *w = pw_waits; w; w = w->next)
		if (w->conn == c)
			return w;
	return NULL;
}

static void pw_wait_unlink(struct pw_wait *w)
{
	for (struct pw_wait **pp = &pw_waits; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	OPENSSL_cleanse(w->msg, w->len); /* the message holds the password */
	free(w->msg);
	free(w);
}

static void handle_join(struct cp_conn *c, const struct cp_sig_msg *m, const char *buf, size_t len,
			const struct join_verdict *v);

/* A waiting join's verdict came (v, its generated name added): the join runs again from the
 * first step, out of the list first (it may hand itself out again), and its wait goes. */
static void join_again(struct pw_wait *w, struct join_verdict *v)
{
	struct cp_sig_msg m;

	memcpy(v->gen, w->gen, sizeof(v->gen));
	cp_room_g.now_ms = cp_room_g.ops->now_ms();
	for (struct pw_wait **pp = &pw_waits; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	w->next = NULL;
	if (cp_sig_parse(w->msg, w->len, &m) == CP_ERR_OK && m.type == CP_MSG_JOIN)
		handle_join(w->conn, &m, w->msg, w->len, v);
	cp_sig_msg_free(&m);
	pw_wait_unlink(w);
}

static void pw_job_done(void *user, bool ok, const uint8_t *hash, const uint8_t *quick)
{
	struct pw_wait *w = user;
	struct join_verdict v = {.ok = ok, .checked = !w->make, .made = hash != NULL};

	if (!w->make)
		memcpy(v.hash, w->hash, sizeof(v.hash));
	if (hash)
		memcpy(v.made_hash, hash, sizeof(v.made_hash));
	if (quick) {
		v.have_quick = true;
		memcpy(v.quick, quick, sizeof(v.quick));
	}
	join_again(w, &v);
	OPENSSL_cleanse(&v, sizeof(v));
}

static void cl_job_done(void *user, const struct cp_cluster_verdict *cv)
{
	struct pw_wait *w = user;
	struct join_verdict v = {.cl_done = true, .cl = *cv};

	join_again(w, &v);
}

static struct pw_wait *wait_new(struct cp_conn *c, const char *buf, size_t len, const char *gen)
{
	struct pw_wait *w = calloc(1, sizeof(*w));

	if (!w || !(w->msg = malloc(len))) {
		free(w);
		return NULL;
	}
	memcpy(w->msg, buf, len);
	w->len = len;
	w->conn = c;
	snprintf(w->gen, sizeof(w->gen), "%s", gen ? gen : "");
	w->next = pw_waits;
	pw_waits = w;
	return w;
}

/* Hands the join to cp_cluster: where does its room live? false when it cannot take it. */
static bool cl_hand_out(struct cp_conn *c, const char *buf, size_t len, const char *gen,
			const struct cp_tenant *t, const char *key)
{
	struct pw_wait *w = wait_new(c, buf, len, gen);

	if (!w)
		return false;
	w->cluster = true;
	w->ticket = cp_cluster_locate(t->id, key, t->pool, t->region, cl_job_done, w);
	if (!w->ticket) {
		pw_wait_unlink(w);
		return false;
	}
	return true;
}

/* Hands the join's password to cp_pwhash: against hash, or to make one (hash NULL). false
 * when the queue is full. */
static bool pw_hand_out(struct cp_conn *c, const char *buf, size_t len, const char *gen,
			const char *password, const uint8_t *hash)
{
	struct pw_wait *w = wait_new(c, buf, len, gen);

	if (!w)
		return false;
	w->make = !hash;
	if (hash)
		memcpy(w->hash, hash, CP_PW_HASH_LEN);
	w->ticket = cp_pwhash_submit(password, hash, pw_job_done, w);
	if (!w->ticket) {
		cp_limits_count(CP_REFUSE_pw_queue);
		pw_wait_unlink(w);
		return false;
	}
	return true;
}

static enum cp_err token_err(enum cp_jwt_err e)
{
	switch (e) {
	case CP_JWT_OK:
		return CP_ERR_OK;
	case CP_JWT_MALFORMED:
		return CP_ERR_TOKEN_MALFORMED;
	case CP_JWT_ALG:
		return CP_ERR_TOKEN_ALG;
	case CP_JWT_SIGNATURE:
		return CP_ERR_TOKEN_SIGNATURE;
	case CP_JWT_EXPIRED:
		return CP_ERR_TOKEN_EXPIRED;
	case CP_JWT_NOT_YET:
		return CP_ERR_TOKEN_NOT_YET;
	case CP_JWT_ISSUER:
		return CP_ERR_TOKEN_ISSUER;
	case CP_JWT_AUDIENCE:
		return CP_ERR_TOKEN_AUDIENCE;
	case CP_JWT_TENANT:
		return CP_ERR_TOKEN_TENANT;
	case CP_JWT_ROOM:
		return CP_ERR_TOKEN_ROOM;
	}
	return CP_ERR_TOKEN_MALFORMED;
}

static unsigned tenant_rooms(const char *tenant)
{
	unsigned n = 0;

	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next)
		n += !strcmp(r->tenant, tenant);
	return n;
}

/* A room name nobody can guess: 130 random bits as 26 characters of lower-case base32
 * (a-z, 2-7). Room names are looked up case-folded, so an alphabet of one case keeps every
 * bit; base64url's 22 characters kept only about 111 of their 128 once folded. */
static void generated_room(char *out, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint8_t b[17];
	size_t i;

	cp_room_rand_bytes(b, sizeof(b));
	for (i = 0; i < CP_GENERATED_ROOM_LEN && i + 1 < n; i++) {
		unsigned bit = (unsigned)i * 5;
		unsigned v = ((unsigned)b[bit / 8] << 8 | b[bit / 8 + 1]) >> (11 - bit % 8);

		out[i] = alphabet[v & 31];
	}
	out[i] = '\0';
	OPENSSL_cleanse(b, sizeof(b));
}

/* TURN servers with credentials for this participant: the user part is its pseudonym. */
json_t *cp_join_turn_servers(const struct cp_part *p)
{
	char user[64], pass[64], urls[sizeof(cp_room_g.conf.turn_urls)], *save = NULL;
	json_t *list = json_array();

	if (cp_turn_credential(cp_room_g.conf.turn_secret, cp_room_g.conf.turn_secret_len,
			       cp_clock_s() + cp_room_g.conf.turn_ttl, p->pseudo, user,
			       sizeof(user), pass, sizeof(pass)) < 0)
		return json_array();
	snprintf(urls, sizeof(urls), "%s", cp_room_g.conf.turn_urls);
	for (char *u = strtok_r(urls, ", ", &save); u; u = strtok_r(NULL, ", ", &save))
		json_array_append_new(list, json_string(u));
	json_t *s =
		json_pack("[{s:o, s:s, s:s}]", "urls", list, "username", user, "credential", pass);

	OPENSSL_cleanse(pass, sizeof(pass));
	return s;
}

json_t *cp_join_welcome(struct cp_part *p, const struct cp_tenant *t, const char *type)
{
	const struct cp_room *r = p->room;
	json_t *list = json_array();
	char id[17];

	for (const struct cp_part *q = r->parts; q; q = q->next)
		if (q != p)
			json_array_append_new(list, cp_room_part_json(q));
	cp_room_part_id(p, id);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:b, s:b}", "type", type, "id", id,
			      "room", p->room_as, "participants", list, "chat", t->chat,
			      "moderator", p->moderator, "lobby", r->lobby, "password", r->has_pw);

	if (o)
		json_object_set_new(o, "screenModerators",
				    json_boolean(r->screen_mods || t->screen_mods_only));

	if (o)
		json_object_set_new(o, "slots",
				    json_pack("{s:i, s:i}", "audio", p->pool[CP_KIND_AUDIO],
					      "video", p->pool[CP_KIND_VIDEO]));
	if (o && cp_room_g.conf.turn_secret_len)
		json_object_set_new(o, "iceServers", cp_join_turn_servers(p));
	if (o && cp_cluster_enabled()) /* where to come back when this node goes away */
		json_object_set_new(o, "nodes", cp_cluster_other_urls());
	return o;
}

/* Into the room with a dataplane slot: it learns who is there, they learn of it. */
static void enter(struct cp_part *p, const struct cp_tenant *t, int slot)
{
	struct cp_room *r = p->room;

	p->slot = slot;
	/* ufrag: slot in hex (the worker's O(1) lookup) then random characters */
	snprintf(p->lufrag, sizeof(p->lufrag), "%04x", slot);
	rand_alnum(p->lufrag + 4, 12);
	rand_alnum(p->lpwd, 32);
	cp_room_g.by_slot[p->worker][slot] = p;
	if (p->conn)
		cp_room_g.ops->set_part(p->conn, p);

	json_t *joined = cp_join_welcome(p, t, "joined");
	char secret[32];

	cp_resume_secret(p, secret);
	if (joined)
		json_object_set_new(joined, "resume", json_string(secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	cp_room_send_json(p, joined);
	cp_speaker_welcome(p);
	cp_room_broadcast(r, NULL,
			  json_pack("{s:s, s:o}", "type", "participant-joined", "participant",
				    cp_room_part_json(p)));
	p->next = r->parts;
	r->parts = p;
	r->n++;
	cp_room_g.n_parts++;
	if (p->moderator)
		cp_moderate_lobby_update(r, p);
}

/* A dataplane slot on the room's worker for a participant from src: -1 when the worker is
 * full, or when only its reserve is left and src, or the room's tenant, already holds its
 * share (so one address or one municipality cannot take the last places of a node). */
static int slot_take(const struct cp_room *r, const struct cp_source *src)
{
	unsigned used = cp_dp_slots_used(r->worker);
	unsigned tenant_used = 0, tenants = 0;
	const char *seen[64];

	if (FH_MAX_SLOTS - used <= cp_limits()->slot_reserve) {
		for (const struct cp_room *q = cp_room_g.rooms; q; q = q->next) {
			unsigned i;

			if (q->worker != r->worker || !q->n)
				continue;
			if (!strcmp(q->tenant, r->tenant))
				tenant_used += q->n;
			for (i = 0; i < tenants && strcmp(seen[i], q->tenant); i++)
				;
			if (i == tenants && tenants < 64)
				seen[tenants++] = q->tenant;
		}
	}
	if (!cp_limits_slot_allowed(src, FH_MAX_SLOTS - used, used, tenant_used, tenants))
		return -1;
	return cp_dp_slot_alloc(r->worker);
}

/* Lets one waiting in the lobby in, when the room and its worker have space. */
enum cp_err cp_join_admit(struct cp_part *p)
{
	struct cp_room *r = p->room;
	const struct cp_tenant *t = cp_room_tenant(r);
	int slot;

	if (!t)
		return CP_ERR_UNKNOWN_TENANT;
	if (r->n >= t->max_participants)
		return CP_ERR_ROOM_FULL;
	slot = slot_take(r, p->src);
	if (slot < 0)
		return CP_ERR_SERVER_FULL;
	cp_moderate_lobby_unlink(p);
	p->waiting = p->returning = false;
	p->since_ms = cp_room_g.now_ms; /* media comes up within the bound from now */
	enter(p, t, slot);
	FH_INFO("participant %s was let in (%u in the room)", p->pseudo, r->n);
	return CP_ERR_OK;
}

/* The password step of a join to a room with the hash pwh (r: the room when it is open):
 * CP_ERR_OK when right, an error, or CP_ERR_PENDING when the join was handed to cp_pwhash
 * and runs again with its verdict v. A room in memory whose password is known checks with
 * the quick MAC; guesses are limited per source (IPv6 per /64) and per room either way. */
#define CP_ERR_PENDING ((enum cp_err) - 1)
static enum cp_err verify_password(struct cp_conn *c, const struct cp_tenant *t, const char *key,
				   const struct cp_room *r, const char *password,
				   const uint8_t pwh[CP_PW_HASH_LEN], const struct join_verdict *v,
				   const char *buf, size_t len, const char *gen)
{
	struct cp_source *src = cp_room_conn_source(c);
	bool ok;
	char ip[64];

	if (cp_limits_pw_blocked(src, t->id, key, cp_room_g.now_ms))
		return CP_ERR_TOO_MANY_ATTEMPTS;
	if (!password || !*password)
		return CP_ERR_PASSWORD_REQUIRED;
	if (r && r->has_quick && !memcmp(r->pw, pwh, CP_PW_HASH_LEN)) {
		uint8_t mac[32];

		cp_pwhash_quick(password, pwh, mac);
		ok = CRYPTO_memcmp(mac, r->quick, sizeof(mac)) == 0;
		OPENSSL_cleanse(mac, sizeof(mac));
	} else if (v && v->checked && !memcmp(v->hash, pwh, CP_PW_HASH_LEN)) {
		ok = v->ok;
	} else {
		return pw_hand_out(c, buf, len, gen, password, pwh) ? CP_ERR_PENDING : CP_ERR_BUSY;
	}
	if (ok)
		return CP_ERR_OK;
	if (cp_limits_pw_failed(src, t->id, key, cp_room_g.now_ms)) {
		cp_tenant_ip(t, cp_room_conn_peer(c), ip, sizeof(ip));
		FH_WARN("wrong room passwords from %s or for one room of tenant %s: refused for a "
			"while",
			ip, t->id);
	}
	return CP_ERR_WRONG_PASSWORD;
}

/* Join refusals, counted by reason for /metrics. */
static const int join_codes[] = {
	CP_ERR_BAD_ROOM,	  CP_ERR_BAD_NAME,
	CP_ERR_ROOM_FULL,	  CP_ERR_UNKNOWN_TENANT,
	CP_ERR_ACCESS_OFF,	  CP_ERR_LOGIN_REQUIRED,
	CP_ERR_TOO_MANY_ROOMS,	  CP_ERR_TOKEN_MALFORMED,
	CP_ERR_TOKEN_ALG,	  CP_ERR_TOKEN_SIGNATURE,
	CP_ERR_TOKEN_EXPIRED,	  CP_ERR_TOKEN_NOT_YET,
	CP_ERR_TOKEN_ISSUER,	  CP_ERR_TOKEN_AUDIENCE,
	CP_ERR_TOKEN_TENANT,	  CP_ERR_TOKEN_ROOM,
	CP_ERR_WRONG_PASSWORD,	  CP_ERR_PASSWORD_REQUIRED,
	CP_ERR_TOO_MANY_ATTEMPTS, CP_ERR_PASSWORD_CHOOSE,
	CP_ERR_NO_PASSWORD_YET,	  CP_ERR_UNAVAILABLE,
	CP_ERR_SERVER_FULL,	  CP_ERR_INTERNAL,
	CP_ERR_CLUSTER_DOWN,	  CP_ERR_CLUSTER_LOOP,
	CP_ERR_DRAINING,	  CP_ERR_SOURCE_PARTICIPANTS,
	CP_ERR_SOURCE_ROOMS,	  CP_ERR_SOURCE_LOBBY,
};

int cp_room_join_failure_code(unsigned i)
{
	return i < sizeof(join_codes) / sizeof(join_codes[0]) ? join_codes[i] : 0;
}

static void refuse(struct cp_conn *c, enum cp_err e)
{
	for (unsigned i = 0; i < sizeof(join_codes) / sizeof(join_codes[0]); i++)
		if (join_codes[i] == (int)e)
			cp_room_g.metrics.join_failures[i]++;
	cp_room_send_error(c, e);
}

/* A join on its way through the steps below: what the message asked, and what the steps
 * before found out. */
struct join {
	struct cp_conn *c;
	const struct cp_sig_msg *m;
	const char *buf; /* the message as it came, for a hand-out to cp_pwhash */
	size_t len;
	const struct join_verdict *v; /* NULL on the first run */
	const struct cp_tenant *t;
	struct cp_source *src;
	struct cp_jwt_claims claims;
	char gen[CP_ROOM_BYTES + 1];
	const char *name; /* the room's name: as asked, or generated */
	char key[CP_ROOM_BYTES + 1];
	struct cp_room *r; /* NULL until it exists */
	bool creating;	   /* no such room was open when the join came */
	bool opened;	   /* open_room made r: a refusal after it takes it away again */
	bool moderator;
	uint8_t pwh[CP_PW_HASH_LEN]; /* the room's password hash, when need_pw */
	bool need_pw;
	bool set_pw; /* the opener chose the password: v->made_hash is the room's */
};

static enum cp_err resolve_tenant(struct join *j)
{
	j->t = cp_room_conn_tenant(j->c);
	if (!j->t)
		return CP_ERR_UNKNOWN_TENANT;
	/* in a cluster, the switch an admin threw on any node holds everywhere */
	int on = cp_cluster_access(j->t->id);

	return (on >= 0 ? on == 1 : j->t->public_access) ? CP_ERR_OK : CP_ERR_ACCESS_OFF;
}

static enum cp_err check_dataplane(struct join *j)
{
	(void)j;
	return cp_dp_ready() ? CP_ERR_OK : CP_ERR_UNAVAILABLE;
}

static enum cp_err check_source_share(struct join *j)
{
	j->src = cp_room_conn_source(j->c);
	return cp_limits_part_allowed(j->src) ? CP_ERR_OK : CP_ERR_SOURCE_PARTICIPANTS;
}

static enum cp_err check_token(struct join *j)
{
	enum cp_jwt_err je;

	if (!j->m->token)
		return CP_ERR_OK;
	je = cp_jwt_verify(&j->t->keys, j->m->token, j->t->id, j->m->room, (int64_t)time(NULL),
			   &j->claims);
	if (je != CP_JWT_OK)
		/* which check failed, never the token itself */
		FH_INFO("a join with a token was refused: %s", cp_jwt_err_str(je));
	return token_err(je);
}

/* The room asked for (a generated name when none was), if it is open, and whether the joiner
 * moderates it. */
static enum cp_err find_room(struct join *j)
{
	const struct cp_tenant *t = j->t;

	j->name = j->m->room;
	if (!j->name) {
		/* a name generated on an earlier run stays the room's */
		if (j->v && j->v->gen[0])
			snprintf(j->gen, sizeof(j->gen), "%s", j->v->gen);
		else
			generated_room(j->gen, sizeof(j->gen));
		j->name = j->gen;
	}
	j->r = cp_room_get(t->id, j->name, false);
	j->creating = !j->r;
	/* whoever opens an empty room moderates it; where only signed-in users may open rooms,
	 * only with a token (a guest who comes first with the link waits for them) */
	j->moderator = j->claims.moderator ||
		       ((!j->r || j->r->n == 0) && (t->create == CP_CREATE_ANYONE || j->m->token));
	cp_room_key(j->name, j->key);
	return CP_ERR_OK;
}

/* With a cluster: the room lives on one node. A join for a room running here, or whose claim
 * this node holds, goes on; otherwise cp_cluster finds or places the room (the join runs
 * again with its verdict) and a join for another node is sent there. */
static enum cp_err redirect(struct join *j, const struct cp_cluster_verdict *cv)
{
	char ws[48];
	json_t *o;
	char *s;

	if (j->m->hop >= 2)
		return CP_ERR_CLUSTER_LOOP; /* sent on twice already: the nodes disagree */
	snprintf(ws, sizeof(ws), "/t/%s/ws", j->t->id);
	o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "redirect", "url", cv->url, "ws", ws, "node",
		      cv->node, "room", j->name);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s)
		return CP_ERR_INTERNAL;
	cp_room_g.ops->send(j->c, s);
	cp_room_g.ops->close(j->c);
	cp_cluster_count_redirect();
	FH_DEBUG("a join was sent to node %s", cv->node);
	return CP_ERR_PENDING; /* answered: nothing more to say */
}

static enum cp_err check_cluster(struct join *j)
{
	const struct cp_tenant *t = j->t;

	if (!cp_cluster_enabled())
		return CP_ERR_OK;
	if (j->r ? !cp_cluster_lost(t->id, j->key) : cp_cluster_held(t->id, j->key))
		return CP_ERR_OK;
	if (j->v && j->v->cl_done) {
		switch (j->v->cl.where) {
		case CP_CL_MINE:
			return CP_ERR_OK;
		case CP_CL_ELSEWHERE:
			return redirect(j, &j->v->cl);
		case CP_CL_DOWN:
			return CP_ERR_CLUSTER_DOWN;
		case CP_CL_NO_NODE:
			return CP_ERR_SERVER_FULL;
		case CP_CL_BAD:
			return CP_ERR_CLUSTER_LOOP;
		}
		return CP_ERR_INTERNAL;
	}
	return cl_hand_out(j->c, j->buf, j->len, j->m->room ? NULL : j->gen, t, j->key)
		       ? CP_ERR_PENDING
		       : CP_ERR_BUSY;
}

/* The room's password, from the room or from its record; a moderator by token needs none. */
static enum cp_err check_password(struct join *j)
{
	if (j->r && j->r->pw_setting && !j->claims.moderator)
		return CP_ERR_BUSY; /* a new password is being hashed: in a moment */
	if (j->r && j->r->has_pw) {
		memcpy(j->pwh, j->r->pw, sizeof(j->pwh));
		j->need_pw = true;
	} else if (!j->r && cp_store_password(j->t->id, j->key, j->pwh)) {
		j->need_pw = true;
	}
	if (!j->need_pw || j->claims.moderator)
		return CP_ERR_OK;
	return verify_password(j->c, j->t, j->key, j->r, j->m->password, j->pwh, j->v, j->buf,
			       j->len, j->m->room ? NULL : j->gen);
}

/* Every room of a tenant that requires passwords has one: whoever opens one chooses it. */
static enum cp_err check_password_policy(struct join *j)
{
	const struct join_verdict *v = j->v;
	const char *pw = j->m->password;

	if (j->need_pw || !j->t->password_required)
		return CP_ERR_OK;
	if (!j->moderator)
		return CP_ERR_NO_PASSWORD_YET;
	if (!pw || !*pw)
		return CP_ERR_PASSWORD_CHOOSE;
	/* the hash first, off the loop; the join runs again with it */
	if (!v || !v->made || v->checked)
		return pw_hand_out(j->c, j->buf, j->len, j->m->room ? NULL : j->gen, pw, NULL)
			       ? CP_ERR_PENDING
			       : CP_ERR_BUSY;
	j->set_pw = true;
	return CP_ERR_OK;
}

/* Whether this join may open the room it asks for. */
static enum cp_err check_creation(struct join *j)
{
	const struct cp_tenant *t = j->t;

	if (!j->creating)
		return CP_ERR_OK;
	/* a room opened earlier (its record is kept until the tenant's inactivity days pass)
	 * opens again for whoever has its link */
	if (t->create == CP_CREATE_AUTHENTICATED && !j->m->token && !cp_store_exists(t->id, j->key))
		return CP_ERR_LOGIN_REQUIRED;
	if (cp_room_g.draining)
		return CP_ERR_DRAINING;
	if (tenant_rooms(t->id) >= t->max_rooms)
		return CP_ERR_TOO_MANY_ROOMS;
	if (!cp_limits_room_allowed(j->src, cp_room_g.now_ms))
		return CP_ERR_SOURCE_ROOMS;
	return CP_ERR_OK;
}

static enum cp_err open_room(struct join *j)
{
	const struct cp_tenant *t = j->t;
	struct cp_room *r;
	int lobby;

	if (!j->creating)
		return CP_ERR_OK;
	lobby = cp_store_lobby(t->id, j->key);
	r = cp_room_get(t->id, j->name, true);
	if (!r)
		return CP_ERR_INTERNAL;
	j->r = r;
	j->opened = true;
	r->lobby = lobby < 0 ? t->lobby : lobby;
	r->has_pw = j->need_pw;
	if (j->need_pw)
		memcpy(r->pw, j->pwh, sizeof(j->pwh));
	if (j->claims.one_time)
		r->one_time = true;
	cp_limits_room_opened(j->src, cp_room_g.now_ms);
	return CP_ERR_OK;
}

/* The password the join proved or chose, kept only as a salted hash, in the room and its
 * record; never echoed. */
static void apply_password(struct join *j)
{
	const struct join_verdict *v = j->v;
	struct cp_room *r = j->r;

	if (j->set_pw) {
		cp_room_set_hash(r, v->made_hash, v->have_quick ? v->quick : NULL);
	} else if (j->need_pw && v && v->checked && v->ok &&
		   !memcmp(r->pw, v->hash, sizeof(r->pw))) {
		/* right, against the hash in force: the quick check from now on, and an old
		 * record's hash upgraded to today's work factor */
		if (v->made) {
			cp_room_set_hash(r, v->made_hash, v->have_quick ? v->quick : NULL);
		} else if (v->have_quick) {
			memcpy(r->quick, v->quick, sizeof(r->quick));
			r->has_quick = true;
		}
	}
}

/* Into the lobby, or into the room with a dataplane slot, as far as there is space. */
static enum cp_err admit_or_wait(struct join *j)
{
	const struct cp_tenant *t = j->t;
	struct cp_room *r = j->r;
	/* one removed from this meeting who comes back (or another from that source) waits for
	 * a moderator, lobby on or off */
	bool returning = !j->moderator && cp_moderate_was_removed(r, j->src);
	bool waits = (r->lobby || returning) && !j->moderator;
	unsigned mine = 0;
	enum cp_err e;
	char ip[64];

	for (const struct cp_part *q = waits && j->src ? r->waiting : NULL; q; q = q->next)
		mine += q->src == j->src;
	e = waits			  ? (r->n_waiting >= t->max_participants ? CP_ERR_ROOM_FULL
					     : !cp_limits_lobby_allowed(t->max_participants, r->n_waiting, mine)
						     ? CP_ERR_SOURCE_LOBBY
						     : CP_ERR_OK)
	    : r->n >= t->max_participants ? CP_ERR_ROOM_FULL
					  : CP_ERR_OK;
	if (e)
		return e;
	int slot = waits ? -1 : slot_take(r, j->src);
	struct cp_part *p =
		slot >= 0 || waits ? cp_room_part_new(j->c, r, j->m->name, j->name) : NULL;

	if (!p) {
		if (slot >= 0)
			cp_dp_slot_free(r->worker, slot);
		return waits || slot >= 0 ? CP_ERR_INTERNAL : CP_ERR_SERVER_FULL;
	}
	if (j->m->video_slots >= 0)
		p->pool[CP_KIND_VIDEO] = (unsigned)j->m->video_slots;
	cp_store_touch(t->id, r->key, j->m->room == NULL, cp_clock_s());
	apply_password(j);
	cp_tenant_ip(t, cp_room_conn_peer(j->c), ip, sizeof(ip));
	if (waits) {
		struct cp_part **tail = &r->waiting;

		while (*tail)
			tail = &(*tail)->next;
		*tail = p;
		p->waiting = true;
		p->returning = returning;
		r->n_waiting++;
		cp_room_g.ops->set_part(j->c, p);
		cp_room_send_json(p, json_pack("{s:s}", "type", "waiting"));
		FH_INFO("participant %s waits in a lobby on worker %u (%u waiting, source %s)",
			p->pseudo, r->worker, r->n_waiting, ip);
		cp_moderate_lobby_update(r, NULL);
		return CP_ERR_OK;
	}
	p->moderator = j->moderator;
	p->token_mod = j->claims.moderator;
	enter(p, t, slot);
	cp_room_g.metrics.joins++;
	FH_INFO("participant %s joined a room on worker %u (%u in the room, source %s)", p->pseudo,
		p->worker, r->n, ip);
	return CP_ERR_OK;
}

/* The steps of a join, in order: each lets it go on (CP_ERR_OK), refuses it, or hands it to
 * cp_pwhash (CP_ERR_PENDING), from where it runs again from the first. */
static enum cp_err (*const join_steps[])(struct join *) = {
	resolve_tenant, check_dataplane, check_source_share, check_token,
	find_room,	check_cluster,	 check_password,     check_password_policy,
	check_creation, open_room,	 admit_or_wait,
};

static void handle_join(struct cp_conn *c, const struct cp_sig_msg *m, const char *buf, size_t len,
			const struct join_verdict *v)
{
	struct join j = {.c = c, .m = m, .buf = buf, .len = len, .v = v};

	for (unsigned i = 0; i < sizeof(join_steps) / sizeof(join_steps[0]); i++) {
		enum cp_err e = join_steps[i](&j);

		if (e == CP_ERR_OK)
			continue;
		if (e != CP_ERR_PENDING)
			refuse(c, e);
		if (e == CP_ERR_DRAINING && j.creating && cp_cluster_enabled())
			/* placed here a moment before the drain: placed again on the next try */
			cp_cluster_room_gone(j.t->id, j.key);
		if (j.opened)
			cp_room_unlink(j.r); /* nobody came in: the room never was */
		return;
	}
}

void cp_join_handle(struct cp_conn *c, const struct cp_sig_msg *m, const char *buf, size_t len)
{
	handle_join(c, m, buf, len, NULL);
}

bool cp_join_pending(const struct cp_conn *c)
{
	return pw_wait_of(c) != NULL;
}

void cp_join_closed(const struct cp_conn *c)
{
	struct pw_wait *w = pw_wait_of(c);

	if (w) {
		if (w->cluster)
			cp_cluster_cancel(w->ticket);
		else
			cp_pwhash_cancel(w->ticket);
		pw_wait_unlink(w);
	}
}

/* After cp_pwhash_fini: no verdict comes any more. */
void cp_join_fini(void)
{
	while (pw_waits)
		pw_wait_unlink(pw_waits);
}
