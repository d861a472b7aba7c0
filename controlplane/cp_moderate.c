/*
 * cp_moderate: the lobby and moderation. Who waits in a lobby sees nobody and gets no media
 * until a moderator (or an admin, through cp_room_api) decides; moderators mute, remove,
 * promote and demote, lower raised hands, end the room, set its password and switch its
 * lobby. Where anyone may open rooms, the longest in a room moderates it once its last
 * moderator left. Whoever comes from the source of someone removed waits in the lobby for the
 * rest of the meeting, lobby on or off. Event loop only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cp_limits.h"
#include "cp_pwhash.h"
#include "cp_room_pvt.h"
#include "cp_sig.h"
#include "cp_store.h"
#include "cp_tenant.h"
#include "fh_log.h"

/* Tells the room's moderators (or only the one given) whether the lobby is on and who waits. */
void cp_moderate_lobby_update(struct cp_room *r, struct cp_part *only)
{
	for (struct cp_part *q = r->parts; q; q = q->next) {
		if (!q->moderator || !q->conn || (only && q != only))
			continue;
		json_t *list = json_array();
		char id[17];

		for (struct cp_part *w = r->waiting; w; w = w->next) {
			cp_room_part_id(w, id);
			json_t *o = json_pack("{s:s, s:s}", "id", id, "name", w->name);

			if (o && w->returning)
				json_object_set_new(o, "returning", json_true());
			json_array_append_new(list, o);
		}
		cp_room_send_json(q, json_pack("{s:s, s:b, s:o}", "type", "lobby", "on", r->lobby,
					       "waiting", list));
	}
}

void cp_moderate_lobby_unlink(struct cp_part *p)
{
	struct cp_room *r = p->room;

	for (struct cp_part **pp = &r->waiting; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->next = NULL;
	r->n_waiting--;
}

/* Ends one wait: the waiting connection gets msg (malloc'd) and is no longer in a room, but
 * stays open (it may join again). The caller updates the moderators and releases the room. */
void cp_moderate_lobby_drop(struct cp_part *p, char *msg, const char *why)
{
	cp_moderate_lobby_unlink(p);
	FH_INFO("participant %s left a lobby (%s)", p->pseudo, why);
	if (p->conn) {
		cp_room_g.ops->send(p->conn, msg);
		cp_room_g.ops->set_part(p->conn, NULL);
	} else {
		free(msg);
	}
	cp_room_part_free(p);
}

/* One waiting in a lobby leaves it (or its connection went). */
void cp_moderate_lobby_leave(struct cp_part *p, const char *why)
{
	struct cp_room *r = p->room;

	cp_moderate_lobby_drop(p, NULL, why);
	cp_moderate_lobby_update(r, NULL);
	cp_room_release(r);
}

/* Where anyone may open rooms, the one who has been in a room longest moderates it once its
 * last moderator has left, so nobody waits in a lobby for a moderator who will never come. */
void cp_moderate_hand_over(struct cp_room *r)
{
	const struct cp_tenant *t = cp_room_tenant(r);
	struct cp_part *oldest = NULL;
	char id[17];

	if (!t || t->create != CP_CREATE_ANYONE)
		return;
	for (struct cp_part *q = r->parts; q; q = q->next) {
		if (q->moderator)
			return;
		oldest = q; /* the list is newest first */
	}
	if (!oldest)
		return;
	oldest->moderator = true;
	cp_room_part_id(oldest, id);
	FH_INFO("participant %s moderates now: the last moderator left", oldest->pseudo);
	cp_resume_note_save(oldest);
	cp_room_broadcast(
		r, NULL,
		json_pack("{s:s, s:s, s:b}", "type", "moderator", "id", id, "moderator", true));
	cp_moderate_lobby_update(r, oldest);
}

void cp_moderate_hand(struct cp_part *p, bool raised)
{
	char id[17];

	if (p->hand == raised)
		return; /* nothing changed: nothing to tell (a flood of these costs the room nothing) */
	p->hand = raised;
	cp_room_part_id(p, id);
	cp_room_broadcast(p->room, NULL,
			  json_pack("{s:s, s:s, s:b}", "type", "hand", "id", id, "raised", raised));
	cp_resume_note_save(p);
}

bool cp_moderate_was_removed(const struct cp_room *r, const struct cp_source *src)
{
	uint8_t key[16];
	unsigned n = r->n_removed < CP_ROOM_REMOVED_MAX ? r->n_removed : CP_ROOM_REMOVED_MAX;

	if (!src)
		return false;
	cp_limits_source_key(src, key);
	for (unsigned i = 0; i < n; i++)
		if (!memcmp(r->removed[i], key, sizeof(key)))
			return true;
	return false;
}

/* q's source is kept for the meeting, the oldest making way past CP_ROOM_REMOVED_MAX. */
static void remember_removed(struct cp_room *r, const struct cp_part *q)
{
	if (!q->src || cp_moderate_was_removed(r, q->src))
		return;
	cp_limits_source_key(q->src, r->removed[r->n_removed % CP_ROOM_REMOVED_MAX]);
	r->n_removed++;
}

/* Moderator rights change: the room is told; one who got them sees the lobby. */
static void set_moderator(struct cp_part *q, bool on)
{
	char id[17];

	q->moderator = on;
	cp_room_part_id(q, id);
	cp_room_broadcast(
		q->room, NULL,
		json_pack("{s:s, s:s, s:b}", "type", "moderator", "id", id, "moderator", on));
	if (on)
		cp_moderate_lobby_update(q->room, q);
	cp_resume_note_save(q);
}

/* A moderator takes q's rights back: not those a token gave (the municipality's sign-in is
 * the authority there, and the token would give them again), and not the room's last
 * moderator's, so that a room never loses its moderation by a click. */
static enum cp_err demote(struct cp_part *q)
{
	unsigned mods = 0;

	if (!q->moderator)
		return CP_ERR_OK;
	if (q->token_mod)
		return CP_ERR_TOKEN_RIGHTS;
	for (const struct cp_part *o = q->room->parts; o; o = o->next)
		mods += o->moderator;
	if (mods <= 1)
		return CP_ERR_LAST_MODERATOR;
	set_moderator(q, false);
	return CP_ERR_OK;
}

/* Lowers q's hand, or with q NULL every raised hand in r. */
static void lower(struct cp_room *r, struct cp_part *q)
{
	for (struct cp_part *o = q ? q : r->parts; o; o = q ? NULL : o->next)
		if (o->hand)
			cp_moderate_hand(o, false);
}

/* Forwarding of q's audio stops now; q is asked, and unmutes itself or not. */
void cp_moderate_mute(struct cp_part *q)
{
	char id[17];

	q->forced_mute = true;
	q->audio_muted = true;
	cp_room_dp_mute(q, true);
	if (q->conn)
		cp_room_send_json(q,
				  json_pack("{s:s, s:s}", "type", "moderation", "action", "mute"));
	cp_room_part_id(q, id);
	cp_room_broadcast(q->room, NULL,
			  json_pack("{s:s, s:s, s:b, s:b}", "type", "mute", "id", id, "audioMuted",
				    true, "videoMuted", q->video_muted));
	cp_resume_note_save(q);
}

void cp_moderate_remove(struct cp_part *q, const char *why)
{
	remember_removed(q->room, q);
	if (q->conn)
		cp_room_send_json(q,
				  json_pack("{s:s, s:s}", "type", "closed", "reason", "removed"));
	cp_room_leave(q, why);
}

/* The room's password is now what r holds (set or cleared): everyone is told, and those
 * waiting in the lobby are asked for it. */
static void password_applied(struct cp_room *r)
{
	cp_room_broadcast(r, NULL, json_pack("{s:s, s:b}", "type", "room", "password", r->has_pw));
	while (r->has_pw && r->waiting)
		cp_moderate_lobby_drop(r->waiting, cp_sig_error_json(CP_ERR_PASSWORD_REQUIRED),
				       "a password was set");
	cp_moderate_lobby_update(r, NULL);
	cp_resume_note_save_room(r);
}

/* A new password for a room (tenant and key, never a pointer: the room may end while it is
 * hashed), from a moderator or an admin. */
struct pw_set {
	char tenant[33];
	char key[CP_ROOM_BYTES + 1];
};

static void pw_set_done(void *user, bool ok, const uint8_t *hash, const uint8_t *quick)
{
	struct pw_set *ps = user;
	struct cp_room *r = cp_room_get(ps->tenant, ps->key, false);

	if (r && r->pw_setting)
		r->pw_setting--;
	if (ok && hash) {
		if (r) {
			cp_room_set_hash(r, hash, quick);
			password_applied(r);
		} else {
			cp_store_set_password(ps->tenant, ps->key, hash, CP_PW_HASH_LEN);
		}
	}
	free(ps);
}

/* Sets ("" clears) the room's password: kept only as a salted hash, in the room and its
 * record; never echoed. Clearing is at once; a new one is hashed off the loop and takes over
 * from the old when it is ready. CP_ERR_BUSY when the hashing queue is full. */
enum cp_err cp_moderate_password(struct cp_room *r, const char *password)
{
	if (password[0]) {
		struct pw_set *ps = calloc(1, sizeof(*ps));

		if (!ps)
			return CP_ERR_INTERNAL;
		snprintf(ps->tenant, sizeof(ps->tenant), "%s", r->tenant);
		snprintf(ps->key, sizeof(ps->key), "%s", r->key);
		if (!cp_pwhash_submit(password, NULL, pw_set_done, ps)) {
			cp_limits_count(CP_REFUSE_pw_queue);
			free(ps);
			return CP_ERR_BUSY;
		}
		/* until the hash is there nobody new comes in: not without the new password
		 * (the room may have had none), nor with the old one the moderator replaced */
		r->pw_setting++;
		return CP_ERR_OK;
	}
	r->has_pw = r->has_quick = false;
	OPENSSL_cleanse(r->pw, sizeof(r->pw));
	OPENSSL_cleanse(r->quick, sizeof(r->quick));
	cp_store_set_password(r->tenant, r->key, r->pw, 0);
	password_applied(r);
	return CP_ERR_OK;
}

/* Switched off, everyone waiting comes in, as far as there is space. */
void cp_moderate_lobby(struct cp_room *r, bool on)
{
	r->lobby = on;
	cp_store_set_lobby(r->tenant, r->key, r->lobby);
	cp_room_broadcast(r, NULL, json_pack("{s:s, s:b}", "type", "room", "lobby", r->lobby));
	/* those who wait because someone from their source was removed go on waiting: a
	 * moderator lets each in or not */
	for (struct cp_part *w = r->lobby ? NULL : r->waiting, *next; w; w = next) {
		next = w->next;
		if (!w->returning && cp_join_admit(w) != CP_ERR_OK)
			cp_moderate_lobby_drop(w, cp_sig_error_json(CP_ERR_ROOM_FULL), "room full");
	}
	cp_moderate_lobby_update(r, NULL);
	cp_resume_note_save_room(r);
}

/* Screen sharing for moderators only, or for everyone the tenant allows: shares of those who
 * may not share any more are no longer forwarded, and they are told (4050). */
static void screen_restrict(struct cp_room *r, bool on)
{
	const struct cp_tenant *t = cp_room_tenant(r);

	r->screen_mods = on;
	cp_room_broadcast(r, NULL,
			  json_pack("{s:s, s:b}", "type", "room", "screenModerators",
				    on || (t && t->screen_mods_only)));
	for (struct cp_part *q = on ? r->parts : NULL; q; q = q->next)
		if (q->pub[CP_PUB_SCREEN].present && !cp_slots_may_share(q))
			cp_room_send_error(q->conn, CP_ERR_SCREEN_NOT_ALLOWED);
	cp_slots_room(r);
	cp_resume_note_save_room(r); /* a restarted control plane keeps the restriction */
}

void cp_moderate_message(struct cp_part *p, const struct cp_sig_msg *m)
{
	struct cp_room *r = p->room;
	const struct cp_tenant *t = cp_room_tenant(r);
	bool in_lobby = m->action == CP_MOD_ADMIT || m->action == CP_MOD_DENY;
	struct cp_part *q =
		m->target ? cp_room_part_by_id(in_lobby ? r->waiting : r->parts, m->target) : NULL;
	enum cp_err e;

	if (!p->moderator) {
		cp_room_send_error(p->conn, CP_ERR_NOT_MODERATOR);
		return;
	}
	if (!q && (in_lobby || m->action == CP_MOD_MUTE || m->action == CP_MOD_REMOVE ||
		   m->action == CP_MOD_PROMOTE || m->action == CP_MOD_DEMOTE ||
		   (m->action == CP_MOD_LOWER && m->target))) {
		cp_room_send_error(p->conn, CP_ERR_NO_SUCH_PARTICIPANT);
		return;
	}
	if (m->action == CP_MOD_PASSWORD && !m->password[0] && t && t->password_required) {
		cp_room_send_error(p->conn, CP_ERR_PASSWORD_POLICY);
		return;
	}
	static const char *const what[] = {"mute",     "remove",   "end",    "promote",
					   "one-time", "password", "admit",  "deny",
					   "lobby",    "lower",	   "demote", "screen"};

	FH_INFO("participant %s: moderation %s%s%s", p->pseudo, what[m->action], q ? " of " : "",
		q ? q->pseudo : "");
	switch (m->action) {
	case CP_MOD_MUTE:
		cp_moderate_mute(q);
		break;
	case CP_MOD_REMOVE:
		cp_moderate_remove(q, "removed by a moderator");
		break;
	case CP_MOD_END:
		cp_room_close(r, "ended"); /* frees r, p and q */
		return;
	case CP_MOD_PASSWORD:
		if ((e = cp_moderate_password(r, m->password)))
			cp_room_send_error(p->conn, e);
		break;
	case CP_MOD_ONE_TIME:
		r->one_time = true;
		cp_room_broadcast(r, NULL,
				  json_pack("{s:s, s:b}", "type", "room", "oneTime", true));
		break;
	case CP_MOD_PROMOTE:
		if (!q->moderator)
			set_moderator(q, true);
		break;
	case CP_MOD_DEMOTE:
		if ((e = demote(q)))
			cp_room_send_error(p->conn, e);
		break;
	case CP_MOD_LOWER:
		lower(r, q);
		break;
	case CP_MOD_ADMIT:
		e = cp_join_admit(q);
		if (e)
			cp_room_send_error(p->conn, e);
		cp_moderate_lobby_update(r, NULL);
		break;
	case CP_MOD_DENY:
		cp_moderate_lobby_drop(q, cp_room_closed_msg("denied"), "denied");
		cp_moderate_lobby_update(r, NULL);
		break;
	case CP_MOD_LOBBY:
		cp_moderate_lobby(r, m->on);
		break;
	case CP_MOD_SCREEN:
		screen_restrict(r, m->on);
		break;
	}
	cp_resume_note_save_room(r); /* moderation a restarted control plane must know of */
}
