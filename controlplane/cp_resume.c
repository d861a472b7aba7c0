/*
 * cp_resume: a restarted control plane takes the calls over.
 *
 * For every participant in the dataplane the control plane keeps a note in the region
 * (cp_dp_note: the dataplane stores it and never reads it): its id, its room, what it publishes
 * and how its m-lines map to sources, the hash of the secret it may resume with. A new
 * funkhaus-cp reads the notes of the slots still live and rebuilds rooms and participants from
 * them; the clients reconnect their signalling and resume (same id, same media, no new DTLS).
 * No display name is in a note: the client says it again when it resumes. What nobody resumes
 * within resume_timeout leaves. Event loop only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "cp_dp.h"
#include "cp_limits.h"
#include "cp_room_pvt.h"
#include "cp_sig.h"
#include "cp_tenant.h"
#include "fh_log.h"

#define NOTE_MAGIC \
	0x464b4e35u /* "FKN5": receive slots, screen share, room keys of up to
				* CP_ROOM_BYTES, raised hands */
#define NOTE_MID_MAX 16
#define NOTE_ML (FH_MAX_RECV_STREAMS + 2)

struct note_ml {
	char mid[NOTE_MID_MAX + 1];
	uint8_t kind;
	uint8_t flags; /* 1 publish, 2 assigned, 4 dead, 8 live, 16 slot */
	uint8_t pub, src_pub;
	int16_t pt, rtx_pt;
	uint64_t src;
	uint32_t out_ssrc, out_rtx_ssrc;
};

struct note {
	uint32_t magic; /* written last; 0 while a note is being written or after a leave */
	uint32_t room_id;
	uint64_t id;
	uint64_t sess_id, sess_ver;
	uint8_t resume[32]; /* SHA-256 of the resume secret */
	char tenant[33];
	char key[CP_ROOM_BYTES + 1];
	uint8_t flags; /* 1 moderator, 2 forced mute, 4 audio muted, 8 video muted, 16 hand raised,
			* 32 moderator by token */
	uint8_t room_flags; /* 1 one-time, 2 lobby, 4 password, 8 screen sharing for moderators */
	uint8_t pw[CP_PW_HASH_LEN];
	char lufrag[FH_UFRAG_MAX + 1];
	char lpwd[FH_PWD_MAX + 1];
	char rufrag[FH_UFRAG_MAX + 1];
	char fp_alg[16];
	uint8_t fp[64];
	uint8_t fp_len;
	char our_fp[128];
	struct cp_track pub[CP_PUBS]; /* with the keys the dataplane knows the streams by */
	char screen_mid[CP_MID_MAX + 1];
	uint8_t pool[2];
	struct fh_cmd_media media;
	uint8_t media_sent;
	uint16_t n_ml;
	struct note_ml ml[NOTE_ML];
};
_Static_assert(sizeof(struct note) <= FH_NOTE_SIZE, "a note fits its place in the region");

void cp_resume_note_save(const struct cp_part *p)
{
	uint8_t *at = p->in_dp && p->slot >= 0 ? cp_dp_note(p->worker, (unsigned)p->slot) : NULL;
	const struct cp_room *r = p->room;
	struct note n = {0};

	if (!at)
		return;
	n.room_id = r->id;
	n.id = p->id;
	n.sess_id = p->sess_id;
	n.sess_ver = p->sess_ver;
	memcpy(n.resume, p->resume, sizeof(n.resume));
	snprintf(n.tenant, sizeof(n.tenant), "%s", r->tenant);
	snprintf(n.key, sizeof(n.key), "%s", r->key);
	n.flags = (uint8_t)(p->moderator | p->forced_mute << 1 | p->audio_muted << 2 |
			    p->video_muted << 3 | p->hand << 4 | p->token_mod << 5);
	n.room_flags =
		(uint8_t)(r->one_time | r->lobby << 1 | r->has_pw << 2 | r->screen_mods << 3);
	memcpy(n.pw, r->pw, sizeof(n.pw));
	memcpy(n.lufrag, p->lufrag, sizeof(n.lufrag));
	memcpy(n.lpwd, p->lpwd, sizeof(n.lpwd));
	memcpy(n.rufrag, p->rufrag, sizeof(n.rufrag));
	memcpy(n.fp_alg, p->fp_alg, sizeof(n.fp_alg));
	memcpy(n.fp, p->fp, sizeof(n.fp));
	n.fp_len = (uint8_t)p->fp_len;
	memcpy(n.our_fp, p->our_fp, sizeof(n.our_fp));
	memcpy(n.pub, p->pub, sizeof(n.pub));
	memcpy(n.screen_mid, p->screen_mid, sizeof(n.screen_mid));
	n.pool[0] = (uint8_t)p->pool[0];
	n.pool[1] = (uint8_t)p->pool[1];
	n.media = p->media;
	n.media_sent = p->media_sent;
	if (p->n_ml > NOTE_ML)
		goto none; /* cannot be described: it will not resume, its call goes on */
	n.n_ml = (uint16_t)p->n_ml;
	for (unsigned i = 0; i < p->n_ml; i++) {
		const struct cp_mline *m = &p->ml[i];

		if (strlen(m->mid) > NOTE_MID_MAX)
			goto none;
		memcpy(n.ml[i].mid, m->mid, strlen(m->mid) + 1);
		n.ml[i].kind = (uint8_t)m->kind;
		n.ml[i].flags = (uint8_t)(m->publish | m->assigned << 1 | m->dead << 2 |
					  m->live << 3 | m->slot << 4);
		n.ml[i].pub = m->pub;
		n.ml[i].src_pub = m->src_pub;
		n.ml[i].pt = (int16_t)m->pt;
		n.ml[i].rtx_pt = (int16_t)m->rtx_pt;
		n.ml[i].src = m->src;
		n.ml[i].out_ssrc = m->out_ssrc;
		n.ml[i].out_rtx_ssrc = m->out_rtx_ssrc;
	}
	/* whoever reads it after a crash finds a whole note or none */
	__atomic_store_n((uint32_t *)at, 0, __ATOMIC_RELEASE);
	memcpy(at + sizeof(n.magic), (uint8_t *)&n + sizeof(n.magic), sizeof(n) - sizeof(n.magic));
	__atomic_store_n((uint32_t *)at, NOTE_MAGIC, __ATOMIC_RELEASE);
	OPENSSL_cleanse(&n, sizeof(n));
	return;
none:
	__atomic_store_n((uint32_t *)at, 0, __ATOMIC_RELEASE);
	OPENSSL_cleanse(&n, sizeof(n));
}

void cp_resume_note_save_room(const struct cp_room *r)
{
	for (const struct cp_part *q = r->parts; q; q = q->next)
		cp_resume_note_save(q);
}

void cp_resume_note_clear(const struct cp_part *p)
{
	uint8_t *at = p->slot >= 0 ? cp_dp_note(p->worker, (unsigned)p->slot) : NULL;

	if (at)
		__atomic_store_n((uint32_t *)at, 0, __ATOMIC_RELEASE);
}

/* The participant of a live slot, from its note: in its room (made when it is the first),
 * without a connection until it resumes. false when the note is missing or its tenant gone. */
static bool note_adopt(unsigned w, unsigned s)
{
	const uint8_t *at = cp_dp_note(w, s);
	struct note n;

	if (!at || __atomic_load_n((const uint32_t *)at, __ATOMIC_ACQUIRE) != NOTE_MAGIC)
		return false;
	memcpy(&n, at, sizeof(n));
	n.tenant[sizeof(n.tenant) - 1] = n.key[sizeof(n.key) - 1] = '\0';
	n.lufrag[sizeof(n.lufrag) - 1] = n.lpwd[sizeof(n.lpwd) - 1] = '\0';
	n.rufrag[sizeof(n.rufrag) - 1] = n.fp_alg[sizeof(n.fp_alg) - 1] = '\0';
	n.our_fp[sizeof(n.our_fp) - 1] = '\0';
	if (!cp_tenant_by_id(&cp_room_g.tenants, n.tenant) || !cp_sig_valid_room(n.key) ||
	    n.n_ml > NOTE_ML || n.fp_len > sizeof(n.fp))
		return false;
	struct cp_room *r = cp_room_get(n.tenant, n.key, false);

	if (!r) {
		r = cp_room_get(n.tenant, n.key, true);
		if (!r)
			return false;
		/* the room the dataplane forwards in: its worker, its id */
		r->worker = w;
		r->id = n.room_id;
		r->one_time = n.room_flags & 1;
		r->lobby = n.room_flags & 2;
		r->has_pw = n.room_flags & 4;
		r->screen_mods = n.room_flags & 8;
		memcpy(r->pw, n.pw, sizeof(r->pw));
	} else if (r->worker != w || r->id != n.room_id) {
		return false; /* two rooms of one name: only the first one's participants resume */
	}
	if (n.room_id >= cp_room_g.next_room_id)
		cp_room_g.next_room_id = n.room_id + 1;
	struct cp_part *p = cp_room_part_new(NULL, r, "", n.key);

	if (!p || (n.n_ml && !(p->ml = calloc(n.n_ml, sizeof(*p->ml))))) {
		free(p);
		cp_room_release(r);
		return false;
	}
	p->id = n.id;
	p->sess_id = n.sess_id;
	p->sess_ver = n.sess_ver;
	memcpy(p->resume, n.resume, sizeof(p->resume));
	p->moderator = n.flags & 1;
	p->forced_mute = n.flags & 2;
	p->audio_muted = n.flags & 4;
	p->video_muted = n.flags & 8;
	p->hand = n.flags & 16;
	p->token_mod = n.flags & 32;
	memcpy(p->lufrag, n.lufrag, sizeof(p->lufrag));
	memcpy(p->lpwd, n.lpwd, sizeof(p->lpwd));
	memcpy(p->rufrag, n.rufrag, sizeof(p->rufrag));
	memcpy(p->fp_alg, n.fp_alg, sizeof(p->fp_alg));
	memcpy(p->fp, n.fp, sizeof(p->fp));
	p->fp_len = n.fp_len;
	memcpy(p->our_fp, n.our_fp, sizeof(p->our_fp));
	memcpy(p->pub, n.pub, sizeof(p->pub));
	memcpy(p->screen_mid, n.screen_mid, sizeof(p->screen_mid));
	p->screen_mid[CP_MID_MAX] = '\0';
	p->pool[0] = n.pool[0] <= CP_SLOTS_MAX ? n.pool[0] : CP_AUDIO_SLOTS;
	p->pool[1] = n.pool[1] <= CP_SLOTS_MAX ? n.pool[1] : CP_VIDEO_SLOTS_DEFAULT;
	p->media = n.media;
	p->media_sent = n.media_sent;
	p->n_ml = n.n_ml;
	for (unsigned i = 0; i < n.n_ml; i++) {
		struct cp_mline *m = &p->ml[i];

		memcpy(m->mid, n.ml[i].mid, NOTE_MID_MAX);
		m->mid[NOTE_MID_MAX] = '\0';
		m->kind = n.ml[i].kind == CP_KIND_VIDEO ? CP_KIND_VIDEO : CP_KIND_AUDIO;
		m->publish = n.ml[i].flags & 1;
		m->assigned = n.ml[i].flags & 2;
		m->dead = n.ml[i].flags & 4;
		m->live = n.ml[i].flags & 8;
		m->slot = n.ml[i].flags & 16;
		m->pub = n.ml[i].pub < CP_PUBS ? n.ml[i].pub : CP_PUB_AUDIO;
		m->src_pub = n.ml[i].src_pub < CP_PUBS ? n.ml[i].src_pub : CP_PUB_AUDIO;
		m->pt = n.ml[i].pt;
		m->rtx_pt = n.ml[i].rtx_pt;
		m->src = n.ml[i].src;
		m->out_ssrc = n.ml[i].out_ssrc;
		m->out_rtx_ssrc = n.ml[i].out_rtx_ssrc;
	}
	p->slot = (int)s;
	p->worker = w;
	p->in_dp = p->media_up = true;
	p->orphan = true;
	p->since_ms = cp_room_g.now_ms;
	cp_room_g.by_slot[w][s] = p;
	cp_dp_slot_claim(w, s);
	p->next = r->parts;
	r->parts = p;
	r->n++;
	cp_room_g.n_parts++;
	OPENSSL_cleanse(&n, sizeof(n));
	return true;
}

/* The dataplane is attached: every live slot with a note becomes a participant again. */
void cp_resume_attached(void)
{
	unsigned n = 0;

	cp_room_g.now_ms = cp_room_g.ops->now_ms();
	for (unsigned w = 0; w < cp_dp_workers(); w++)
		for (unsigned s = 0; s < FH_MAX_SLOTS; s++)
			if (cp_dp_slot_orphan(w, s))
				n += note_adopt(w, s);
	if (n)
		FH_INFO("%u participant(s) in %u room(s) still in the dataplane: they may resume "
			"within %u s",
			n, cp_room_g.n_rooms, cp_limits()->resume_timeout);
}

void cp_resume_secret(struct cp_part *p, char out[32])
{
	uint8_t b[16];

	cp_room_rand_bytes(b, sizeof(b));
	cp_b64url_encode(b, sizeof(b), out, 32);
	SHA256((const uint8_t *)out, strlen(out), p->resume);
	OPENSSL_cleanse(b, sizeof(b));
}

static struct cp_part *orphan_by_id(const char *id)
{
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next) {
		struct cp_part *p = cp_room_part_by_id(r->parts, id);

		if (p)
			return p->orphan ? p : NULL;
	}
	return NULL;
}

/* A client whose signalling broke with a control-plane restart takes its participant back:
 * its id, the secret it was given, the room's name and the tenant it reached prove it. */
void cp_resume_handle(struct cp_conn *c, const struct cp_sig_msg *m)
{
	const struct cp_tenant *t = cp_room_conn_tenant(c);
	struct cp_part *p = m->target ? orphan_by_id(m->target) : NULL;
	uint8_t h[32];
	char key[CP_ROOM_BYTES + 1];

	if (!cp_dp_attached()) {
		/* a control plane just started may not have read the notes yet: try again */
		cp_room_send_error(c, CP_ERR_UNAVAILABLE);
		cp_room_g.ops->close(c);
		return;
	}
	if (!p || !t || !m->room || !m->secret) {
		cp_room_send_error(c, CP_ERR_RESUME_FAILED);
		return;
	}
	SHA256((const uint8_t *)m->secret, strlen(m->secret), h);
	cp_room_key(m->room, key);
	if (CRYPTO_memcmp(h, p->resume, sizeof(h)) || strcmp(t->id, p->room->tenant) ||
	    strcmp(key, p->room->key)) {
		cp_room_send_error(c, CP_ERR_RESUME_FAILED);
		return;
	}
	struct cp_room *r = p->room;

	p->orphan = false;
	p->conn = c;
	snprintf(p->name, sizeof(p->name), "%s", m->name);
	snprintf(p->room_as, sizeof(p->room_as), "%s", m->room);
	p->src = cp_room_conn_source(c);
	cp_limits_part_add(p->src);
	cp_room_g.ops->set_part(c, p);
	json_t *o = cp_join_welcome(p, t, "resumed");

	if (o)
		json_object_set_new(o, "audioMuted", json_boolean(p->audio_muted));
	cp_room_send_json(p, o);
	cp_speaker_welcome(p);
	/* the others learn its name again; a newcomer since the restart meets it */
	cp_room_broadcast(r, p,
			  json_pack("{s:s, s:o}", "type", "participant-joined", "participant",
				    cp_room_part_json(p)));
	/* its slots follow the room as it is now (sources that left while no control plane
	 * ran go); the client learns the mapping again */
	p->map_sent = false;
	cp_slots_update(p);
	cp_negotiate_request(p);
	if (p->moderator)
		cp_moderate_lobby_update(r, p);
	cp_resume_note_save(p);
	FH_INFO("participant %s resumed its call after a control-plane restart", p->pseudo);
}

/* Orphans that did not come back within resume_timeout leave, as on a closed connection. */
void cp_resume_reap(uint64_t now_ms)
{
	uint64_t bound = cp_limits()->resume_timeout * 1000ull;

	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next) {
		for (struct cp_part *p = r->parts; p; p = p->next) {
			if (!p->orphan || now_ms - p->since_ms < bound)
				continue;
			cp_room_leave(p, "did not resume after a control-plane restart");
			return; /* the lists changed: the next tick goes on */
		}
	}
}
