/*
 * cp_room: rooms and participants of funkhaus-cp, and the signalling messages that reach them.
 * This file holds the rooms' life (found, opened, released, closed), a participant's leave, the
 * tenants in force and the records' expiry, the tick with its bounds on waiting, and the
 * dispatch of each message to the file of its concern (cp_room_pvt.h lists them). Connections
 * are reached only through the ops cp_room_init was given, never cp_server itself.
 *
 * Logs name participants only by a random per-session pseudonym; display names, chat text and
 * room names never reach them. Event loop only.
 */
#include "cp_room.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "cp_dp.h"
#include "cp_dtls.h"
#include "cp_limits.h"
#include "cp_pwhash.h"
#include "cp_cluster.h"
#include "cp_room_pvt.h"
#include "cp_sig.h"
#include "cp_store.h"
#include "cp_tenant.h"
#include "fh_log.h"

struct cp_room_state cp_room_g;

void cp_room_rand_bytes(void *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		abort(); /* no randomness, no secrets: better to stop than to guess */
}

/* Wall-clock time in ms since the epoch, for what clients show as a time of day. */
static int64_t epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct cp_room_conn_facts conn_facts(const struct cp_conn *c)
{
	struct cp_room_conn_facts f = {0};

	cp_room_g.ops->facts(c, &f);
	return f;
}

/* The tenant the connection's upgrade request was for (its Host and path). */
const struct cp_tenant *cp_room_conn_tenant(const struct cp_conn *c)
{
	struct cp_room_conn_facts f = conn_facts(c);

	return cp_tenant_for(&cp_room_g.tenants, f.host, f.path);
}

struct cp_source *cp_room_conn_source(const struct cp_conn *c)
{
	return conn_facts(c).src;
}

const char *cp_room_conn_peer(const struct cp_conn *c)
{
	return conn_facts(c).peer;
}

void cp_room_send_json(struct cp_part *p, json_t *o)
{
	if (!o)
		return;
	if (p && p->conn) {
		char *s = json_dumps(o, JSON_COMPACT);

		if (s)
			cp_room_g.ops->send(p->conn, s);
	}
	json_decref(o);
}

void cp_room_send_error(struct cp_conn *c, enum cp_err e)
{
	char *s = cp_sig_error_json(e);

	if (s)
		cp_room_g.ops->send(c, s);
}

void cp_room_part_id(const struct cp_part *p, char id[17])
{
	snprintf(id, 17, "%016llx", (unsigned long long)p->id);
}

json_t *cp_room_part_json(const struct cp_part *p)
{
	char id[17];

	cp_room_part_id(p, id);
	return json_pack("{s:s, s:s, s:b, s:b, s:b, s:b}", "id", id, "name", p->name, "audioMuted",
			 p->audio_muted, "videoMuted", p->video_muted, "moderator", p->moderator,
			 "hand", p->hand);
}

void cp_room_broadcast(struct cp_room *r, const struct cp_part *except, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	for (struct cp_part *q = r->parts; s && q; q = q->next)
		if (q != except && q->conn)
			cp_room_g.ops->send(q->conn, strdup(s));
	free(s);
	json_decref(o);
}

char *cp_room_closed_msg(const char *reason)
{
	json_t *o = json_pack("{s:s, s:s}", "type", "closed", "reason", reason);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

void cp_room_dp_cmd(struct cp_part *p, struct fh_cmd *c)
{
	c->slot = (uint16_t)p->slot;
	c->room = p->room->id;
	cp_dp_cmd(p->worker, c);
}

/* Stops (or resumes) forwarding the participant's audio in the dataplane. */
void cp_room_dp_mute(struct cp_part *p, bool muted)
{
	struct fh_cmd c = {.type = FH_CMD_MUTE};

	if (!p->pub[CP_KIND_AUDIO].present)
		return;
	c.u.mute.key = p->pub[CP_KIND_AUDIO].key;
	c.u.mute.muted = muted;
	cp_room_dp_cmd(p, &c);
}

/* A room's key: its name's lookup form (cp_roomname); "" when it is none, which no room has. */
void cp_room_key(const char *name, char key[CP_ROOM_BYTES + 1])
{
	if (!cp_roomname_canon(name, strlen(name), NULL, key))
		key[0] = '\0';
}

struct cp_room *cp_room_get(const char *tenant, const char *name, bool create)
{
	char key[CP_ROOM_BYTES + 1];

	cp_room_key(name, key);
	if (!key[0])
		return NULL;
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next)
		if (!strcmp(r->key, key) && !strcmp(r->tenant, tenant))
			return r;
	if (!create)
		return NULL;
	struct cp_room *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	memcpy(r->key, key, sizeof(key));
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	r->id = ++cp_room_g.next_room_id;
	/* A room lives on one worker so its fan-out never crosses cores: the least loaded. */
	unsigned best = 0;

	for (unsigned w = 1; w < cp_dp_workers(); w++)
		if (cp_dp_slots_used(w) < cp_dp_slots_used(best))
			best = w;
	r->worker = best;
	r->next = cp_room_g.rooms;
	cp_room_g.rooms = r;
	cp_room_g.n_rooms++;
	cp_cluster_room_open(r->tenant, r->key);
	return r;
}

void cp_room_unlink(struct cp_room *r)
{
	for (struct cp_room **pp = &cp_room_g.rooms; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			cp_room_g.n_rooms--;
			cp_cluster_room_gone(r->tenant, r->key);
			free(r);
			return;
		}
	}
}

const struct cp_tenant *cp_room_tenant(const struct cp_room *r)
{
	return cp_tenant_by_id(&cp_room_g.tenants, r->tenant);
}

/* A room nobody is in and nobody waits for goes; its record remembers when it was last used,
 * or goes with it when the room was one-time. */
void cp_room_release(struct cp_room *r)
{
	if (r->n || r->n_waiting)
		return;
	if (r->one_time)
		cp_store_forget(r->tenant, r->key);
	else
		cp_store_touch(r->tenant, r->key, false, cp_clock_s());
	cp_room_unlink(r);
}

/* The room's password hash replaced by one made later (an upgrade, a chosen or a moderator's
 * new password), in the room and its record. */
void cp_room_set_hash(struct cp_room *r, const uint8_t hash[CP_PW_HASH_LEN], const uint8_t *quick)
{
	memcpy(r->pw, hash, CP_PW_HASH_LEN);
	r->has_pw = true;
	r->has_quick = quick != NULL;
	if (quick)
		memcpy(r->quick, quick, sizeof(r->quick));
	cp_store_set_password(r->tenant, r->key, r->pw, sizeof(r->pw));
}

/* A participant for connection c in room r, not yet in its list. */
static uint64_t part_seq;

struct cp_part *cp_room_part_new(struct cp_conn *c, struct cp_room *r, const char *name,
				 const char *room_as)
{
	struct cp_part *p = calloc(1, sizeof(*p));
	uint32_t ps;

	if (!p)
		return NULL;
	cp_room_rand_bytes(&p->id, sizeof(p->id));
	cp_room_rand_bytes(&p->sess_id, sizeof(p->sess_id));
	p->sess_id &= 0x3fffffffffffffffull;
	cp_room_rand_bytes(&ps, sizeof(ps));
	snprintf(p->pseudo, sizeof(p->pseudo), "%08x", ps);
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->room_as, sizeof(p->room_as), "%s", room_as);
	p->room = r;
	p->conn = c;
	p->worker = r->worker;
	p->slot = -1;
	p->since_ms = cp_room_g.now_ms;
	p->pool[CP_KIND_AUDIO] = CP_AUDIO_SLOTS;
	p->pool[CP_KIND_VIDEO] = CP_VIDEO_SLOTS_DEFAULT;
	p->seq = ++part_seq;
	p->src = c ? cp_room_conn_source(c) : NULL;
	cp_limits_part_add(p->src);
	return p;
}

void cp_room_part_free(struct cp_part *p)
{
	cp_dtls_free(p->dtls);
	free(p->ml);
	cp_limits_part_del(p->src);
	memset(p->name, 0, sizeof(p->name));
	free(p);
}

struct cp_part *cp_room_part_by_id(struct cp_part *list, const char *id)
{
	char want[17];

	for (struct cp_part *q = list; q; q = q->next) {
		cp_room_part_id(q, want);
		if (!strcmp(want, id))
			return q;
	}
	return NULL;
}

void cp_room_leave(struct cp_part *p, const char *why)
{
	struct cp_room *r = p->room;
	char id[17];

	for (struct cp_part **pp = &r->parts; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	r->n--;
	cp_room_g.n_parts--;
	cp_speaker_left(p);
	/* Receivers' slots that carried this participant take another source (or none); the
	 * worker forgets it entirely. */
	cp_slots_room(r);
	cp_resume_note_clear(p);
	if (p->in_dp) {
		struct fh_cmd c = {.type = FH_CMD_PART_DEL};

		c.slot = (uint16_t)p->slot;
		c.room = r->id;
		cp_dp_cmd(p->worker, &c);
	}
	if (p->slot >= 0) {
		cp_room_g.by_slot[p->worker][p->slot] = NULL;
		cp_dp_slot_free(p->worker, p->slot);
	}
	cp_room_part_id(p, id);
	cp_room_broadcast(r, NULL, json_pack("{s:s, s:s}", "type", "participant-left", "id", id));
	FH_INFO("participant %s left (%s); %u left in its room", p->pseudo, why, r->n);
	if (p->conn)
		cp_room_g.ops->set_part(p->conn, NULL);
	bool was_moderator = p->moderator;

	cp_room_part_free(p);
	if (r->n == 0 && r->one_time)
		while (r->waiting) /* a one-time room ends with its last participant */
			cp_moderate_lobby_drop(r->waiting, cp_room_closed_msg("ended"),
					       "the room ended");
	if (was_moderator && !r->closing)
		cp_moderate_hand_over(r);
	cp_room_release(r);
}

/* Ends a room for everyone in it with a reason the client shows. */
void cp_room_close(struct cp_room *r, const char *reason)
{
	FH_INFO("a room of tenant %s closed: %s", r->tenant, reason);
	r->closing = true;
	while (r->waiting)
		cp_moderate_lobby_drop(r->waiting, cp_room_closed_msg(reason), reason);
	if (!r->n) {
		cp_room_release(r);
		return;
	}
	while (r->parts) {
		struct cp_part *p = r->parts;
		struct cp_conn *c = p->conn;
		bool last = r->n == 1;

		if (c)
			cp_room_g.ops->send(c, cp_room_closed_msg(reason));
		cp_room_leave(p, reason);
		if (last)
			break; /* leave freed the room with its last participant */
	}
}

void cp_room_message(struct cp_conn *c, const char *buf, size_t len)
{
	struct cp_sig_msg m;
	struct cp_part *p = cp_room_g.ops->part(c);
	enum cp_err e;

	cp_room_g.now_ms = cp_room_g.ops->now_ms();
	e = cp_sig_parse(buf, len, &m);
	if (e != CP_ERR_OK) {
		cp_room_send_error(c, e);
		goto out;
	}
	if (m.type == CP_MSG_PING) {
		cp_room_g.ops->send(c, strdup("{\"type\":\"pong\"}"));
		goto out;
	}
	if (m.type == CP_MSG_JOIN || m.type == CP_MSG_RESUME) {
		if (p || cp_join_pending(c))
			cp_room_send_error(c, CP_ERR_ALREADY_JOINED);
		else if (m.type == CP_MSG_JOIN)
			cp_join_handle(c, &m, buf, len);
		else
			cp_resume_handle(c, &m);
		goto out;
	}
	if (!p) {
		cp_room_send_error(c, CP_ERR_NOT_JOINED);
		goto out;
	}
	if (p->waiting) {
		/* in the lobby: nothing but leaving until a moderator decides */
		if (m.type == CP_MSG_LEAVE) {
			cp_moderate_lobby_leave(p, "left");
			cp_room_g.ops->send(c, strdup("{\"type\":\"left\"}"));
		} else {
			cp_room_send_error(c, CP_ERR_WAITING);
		}
		goto out;
	}
	switch (m.type) {
	case CP_MSG_OFFER:
		cp_negotiate_offer(p, m.sdp, m.sdp_len, m.screen);
		break;
	case CP_MSG_CONSTRAINTS: {
		enum cp_err e = cp_slots_constraints(p, m.root);

		if (e != CP_ERR_OK)
			cp_room_send_error(c, e);
		break;
	}
	case CP_MSG_CHAT: {
		const struct cp_tenant *t = cp_room_tenant(p->room);

		if (!t || !t->chat) {
			cp_room_send_error(c, CP_ERR_CHAT_OFF);
			break;
		}
		char id[17];

		cp_room_part_id(p, id);
		/* relayed to the room as it is and never written anywhere */
		cp_room_broadcast(p->room, NULL,
				  json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "chat", "from", id,
					    "name", p->name, "text", m.text, "ts",
					    (json_int_t)epoch_ms()));
		break;
	}
	case CP_MSG_MUTE: {
		char id[17];

		if (m.audio_muted >= 0)
			p->audio_muted = m.audio_muted;
		if (p->forced_mute && m.audio_muted == 0) {
			/* it unmuted itself after being asked: its audio goes out again */
			p->forced_mute = false;
			cp_room_dp_mute(p, false);
		}
		if (m.video_muted >= 0)
			p->video_muted = m.video_muted;
		cp_room_part_id(p, id);
		cp_room_broadcast(p->room, NULL,
				  json_pack("{s:s, s:s, s:b, s:b}", "type", "mute", "id", id,
					    "audioMuted", p->audio_muted, "videoMuted",
					    p->video_muted));
		cp_resume_note_save(p);
		cp_slots_room(p->room); /* the muted go last for audio slots */
		break;
	}
	case CP_MSG_MODERATE:
		cp_moderate_message(p, &m);
		break;
	case CP_MSG_HAND:
		cp_moderate_hand(p, m.raised == 1);
		break;
	case CP_MSG_LEAVE:
		cp_room_leave(p, "left");
		cp_room_g.ops->send(c, strdup("{\"type\":\"left\"}"));
		break;
	default:
		break;
	}
out:
	cp_sig_msg_free(&m);
}

void cp_room_closed(struct cp_conn *c)
{
	struct cp_part *p = cp_room_g.ops->part(c);

	cp_join_closed(c);
	if (!p)
		return;
	p->conn = NULL;
	if (p->waiting)
		cp_moderate_lobby_leave(p, "connection closed");
	else
		cp_room_leave(p, "connection closed");
}

/* Ends one participant that has waited past its bound, if any, and returns it (freed: only
 * to say that there was one): joined without media up within media_timeout (it holds a slot,
 * a place in its room and its tenant's room count), or waiting in a lobby past lobby_timeout. */
static struct cp_part *overdue(uint64_t now_ms)
{
	uint64_t media = cp_limits()->media_timeout * 1000ull;
	uint64_t lobby = cp_limits()->lobby_timeout * 1000ull;

	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next) {
		for (struct cp_part *p = r->parts; p; p = p->next) {
			if (p->media_up || now_ms - p->since_ms < media)
				continue;
			cp_limits_count(CP_REFUSE_media_timeout);
			cp_media_fail(p, CP_ERR_MEDIA_SETUP_TIMEOUT,
				      "no media in time after joining");
			return p;
		}
		for (struct cp_part *p = r->waiting; p; p = p->next) {
			if (now_ms - p->since_ms < lobby)
				continue;
			cp_limits_count(CP_REFUSE_lobby_timeout);
			cp_moderate_lobby_drop(p, cp_sig_error_json(CP_ERR_LOBBY_TIMEOUT),
					       "waited too long");
			cp_moderate_lobby_update(r, NULL);
			cp_room_release(r);
			return p;
		}
	}
	return NULL;
}

static unsigned inactivity_days(const char *tenant)
{
	const struct cp_tenant *t = cp_tenant_by_id(&cp_room_g.tenants, tenant);

	return t ? t->room_inactivity_days : 7;
}

bool cp_room_tenant_open(const struct cp_tenant *t)
{
	int on = cp_cluster_access(t->id); /* a cluster's switch holds on every node */

	return on >= 0 ? on == 1 : t->public_access;
}

bool cp_room_origin_known(const char *origin)
{
	char h[128];
	size_t n;

	if (strncasecmp(origin, "https://", 8))
		return false;
	origin += 8;
	n = origin[0] == '[' ? strcspn(origin, "]") + 1 : strcspn(origin, ":");
	if (n == 0 || n >= sizeof(h))
		return false;
	snprintf(h, sizeof(h), "%.*s", (int)n, origin);
	for (unsigned i = 0; i < cp_room_g.tenants.n; i++)
		for (unsigned k = 0; k < cp_room_g.tenants.t[i].n_hosts; k++)
			if (!strcasecmp(cp_room_g.tenants.t[i].hosts[k], h))
				return true;
	return false;
}

/* ---- what the cluster asks of the rooms here ---- */

static void cluster_close_room(const char *tenant, const char *hash)
{
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next) {
		char h[CP_CL_HASH_LEN + 1];

		if (strcmp(r->tenant, tenant))
			continue;
		cp_cluster_room_hash(r->tenant, r->key, h);
		if (!strcmp(h, hash)) {
			cp_room_close(r, "admin");
			return;
		}
	}
}

void cp_room_api_access(const char *tenant, bool on)
{
	if (on)
		return;
	for (struct cp_room *r = cp_room_g.rooms, *rn; r; r = rn) {
		rn = r->next;
		if (!strcmp(r->tenant, tenant) && !r->closing)
			cp_room_close(r, "access-off");
	}
}

const struct cp_cluster_handlers cp_room_cluster_handlers = {
	.close_room = cluster_close_room,
	.access = cp_room_api_access,
	.days_of = inactivity_days,
};

/* Rooms in use count as used now; records unused for their tenant's days go. */
static void expire_records(void)
{
	int64_t now = cp_clock_s();

	if (!cp_store_enabled())
		return;
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next)
		cp_store_touch(r->tenant, r->key, false, now);
	cp_store_expire(now, inactivity_days);
}

void cp_room_tick(uint64_t now_ms)
{
	struct cp_part *p;

	cp_room_g.now_ms = now_ms;
	cp_dp_poll(now_ms);
	cp_speaker_tick(now_ms);
	cp_pwhash_poll();
	if (now_ms - cp_room_g.last_expiry >= 60000) {
		cp_room_g.last_expiry = now_ms;
		expire_records();
	}
	if (now_ms - cp_room_g.last_rate_ms >= 1000) {
		uint64_t dt = now_ms - cp_room_g.last_rate_ms;

		for (unsigned w = 0; cp_dp_attached() && w < cp_dp_workers(); w++) {
			const struct fh_counters *k = cp_dp_counters(w);
			uint64_t rx = k->ctr[FH_CTR_rx_bytes], tx = k->ctr[FH_CTR_tx_bytes];

			cp_room_g.rx_bps[w] = rx >= cp_room_g.last_rx[w]
						      ? (rx - cp_room_g.last_rx[w]) * 8000 / dt
						      : 0;
			cp_room_g.tx_bps[w] = tx >= cp_room_g.last_tx[w]
						      ? (tx - cp_room_g.last_tx[w]) * 8000 / dt
						      : 0;
			cp_room_g.last_rx[w] = rx;
			cp_room_g.last_tx[w] = tx;
		}
		cp_room_g.last_rate_ms = now_ms;
	}
	if (now_ms - cp_room_g.last_dtls_tick < 50)
		return;
	cp_room_g.last_dtls_tick = now_ms;
	cp_media_tick(now_ms);
	if (now_ms - cp_room_g.last_wait_check >= 1000) {
		cp_room_g.last_wait_check = now_ms;
		while ((p = overdue(now_ms)))
			;
		cp_resume_reap(now_ms);
		cp_dp_reap(now_ms, cp_limits()->resume_timeout);
	}
}

void cp_room_stats(int *dp_ready, unsigned *rooms, unsigned *participants)
{
	*dp_ready = cp_dp_ready();
	*rooms = cp_room_g.n_rooms;
	*participants = cp_room_g.n_parts;
}

void cp_room_set_tenants(struct cp_tenants *ts)
{
	cp_tenants_free(&cp_room_g.tenants);
	cp_room_g.tenants = *ts;
	ts->t = NULL;
	ts->n = 0;
	/* rooms of a tenant that went away or was switched off end now */
	for (struct cp_room *r = cp_room_g.rooms, *rn; r; r = rn) {
		const struct cp_tenant *t = cp_room_tenant(r);

		rn = r->next;
		if (!t || !cp_room_tenant_open(t))
			cp_room_close(r, t ? "access-off" : "tenant-removed");
	}
	expire_records();
}

unsigned cp_room_log_days(unsigned max)
{
	for (unsigned i = 0; i < cp_room_g.tenants.n; i++)
		if (cp_room_g.tenants.t[i].log_retention_days < max)
			max = cp_room_g.tenants.t[i].log_retention_days;
	return max;
}

char *cp_room_tenant_info(const char *host, const char *path)
{
	const struct cp_tenant *t = cp_tenant_for(&cp_room_g.tenants, host, path);

	if (!t)
		return NULL;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b}", "id", t->id, "name",
			      t->display_name, "prefix", t->path_prefix, "imprint", t->imprint,
			      "privacy", t->privacy, "login", t->create == CP_CREATE_AUTHENTICATED,
			      "chat", t->chat, "open", cp_room_tenant_open(t));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

int cp_room_init(const struct cp_room_conf *c, const char *region_name,
		 const struct cp_room_conn_ops *ops)
{
	memset(&cp_room_g, 0, sizeof(cp_room_g));
	cp_room_g.ops = ops;
	cp_room_g.conf = *c;
	if (c->n_announce > 16 || c->n_announce == 0)
		return -1;
	memcpy(cp_room_g.announce, c->announce, c->n_announce * sizeof(*c->announce));
	cp_room_g.conf.announce = cp_room_g.announce;
	cp_room_rand_bytes(&cp_room_g.next_room_id, sizeof(cp_room_g.next_room_id));
	cp_room_g.next_room_id &= 0x7fffffff;
	if (cp_dtls_global_init() < 0) {
		FH_ERR("cannot create the DTLS certificate");
		return -1;
	}
	if (cp_pwhash_init(0, 16) < 0) {
		FH_ERR("cannot start the password hashing threads");
		return -1;
	}
	cp_dp_init(region_name, &cp_media_dp_handlers);
	return 0;
}

void cp_room_fini(void)
{
	for (struct cp_room *r = cp_room_g.rooms; r;) {
		struct cp_room *rn = r->next;

		while (r->waiting)
			cp_moderate_lobby_drop(r->waiting, NULL, "shutting down");
		while (r->parts) {
			struct cp_part *p = r->parts;

			r->parts = p->next;
			if (p->in_dp) {
				struct fh_cmd c = {.type = FH_CMD_PART_DEL,
						   .slot = (uint16_t)p->slot};

				cp_dp_cmd(p->worker, &c);
			}
			cp_room_part_free(p);
		}
		free(r);
		r = rn;
	}
	cp_room_g.rooms = NULL;
	cp_pwhash_fini();
	cp_join_fini();
	cp_tenants_free(&cp_room_g.tenants);
	cp_dp_fini();
	cp_dtls_global_fini();
}

void cp_room_set_draining(bool on, unsigned grace_s)
{
	if (on == cp_room_g.draining)
		return;
	cp_room_g.draining = on;
	FH_INFO("%s", on ? "draining: no new rooms here, running ones go on"
			 : "drain ended: new rooms open here again");
	/* everyone hears of it: the client may tell its people the server goes away */
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next)
		cp_room_broadcast(r, NULL,
				  json_pack("{s:s, s:b, s:i}", "type", "server", "draining", on,
					    "grace", on ? (int)grace_s : 0));
}

bool cp_room_draining(void)
{
	return cp_room_g.draining;
}

const struct cp_room_metrics *cp_room_metrics(void)
{
	return &cp_room_g.metrics;
}
