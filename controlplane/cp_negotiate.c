/*
 * cp_negotiate: offers, answers and the m-lines between them.
 *
 * Negotiation is always offered by the browser. Each participant publishes at most one audio,
 * one camera and one screen-share track (sendonly m-lines; the offer message names the screen
 * line's mid) and receives on a fixed pool of recvonly m-lines, its receive slots: the answer
 * gives each one stream of ours (SSRC, msid), and cp_slots maps the room's sources onto them,
 * so nobody renegotiates when someone joins, leaves or speaks. Until a client's offers carry
 * its pool, the server sends "renegotiate" with the pool's counts; whatever a browser does
 * with that, it asks at most cp_limits' renegotiations times in a row without an offer that
 * brought something. Each change becomes a dataplane command (PART_ADD, MEDIA, STREAM_ADD/DEL,
 * SUB_SET/DEL). A simulcast video is one stream with up to three rids that the server names by
 * a random key; any other by its SSRC. Event loop only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cp_dp.h"
#include "cp_dtls.h"
#include "cp_limits.h"
#include "cp_room_pvt.h"
#include "cp_sdp.h"
#include "cp_sig.h"
#include "fh_log.h"

static uint32_t rand_ssrc(void)
{
	uint32_t v;

	do
		cp_room_rand_bytes(&v, sizeof(v));
	while (v == 0);
	return v;
}

/* Asks the client to offer again with its whole pool of receive m-lines. */
void cp_negotiate_request(struct cp_part *p)
{
	if (!p->conn || !p->sess_ver || !cp_slots_lacking(p))
		return; /* before its first offer the client learns its pool from "joined" */
	if (p->reneg_rounds >= cp_limits()->renegotiations)
		return; /* its offers stopped answering: asking again would only loop */
	if (++p->reneg_rounds == cp_limits()->renegotiations) {
		cp_limits_count(CP_REFUSE_renegotiation);
		FH_WARN("participant %s: asked %u times to renegotiate without progress; asked no "
			"more",
			p->pseudo, p->reneg_rounds);
	}
	cp_room_send_json(p,
			  json_pack("{s:s, s:{s:i, s:i}}", "type", "renegotiate", "recv", "audio",
				    p->pool[CP_KIND_AUDIO], "video", p->pool[CP_KIND_VIDEO]));
}

void cp_negotiate_unassign(struct cp_part *p, struct cp_mline *ml)
{
	if (!ml->assigned)
		return;
	struct fh_cmd c = {.type = FH_CMD_SUB_DEL};

	c.u.sub.out_ssrc = ml->out_ssrc;
	cp_room_dp_cmd(p, &c);
	ml->assigned = false;
	ml->dead = true;
}

static void unpublish(struct cp_part *p, unsigned k)
{
	if (!p->pub[k].present)
		return;
	struct fh_cmd c = {.type = FH_CMD_STREAM_DEL};

	c.u.stream.key = p->pub[k].key;
	cp_room_dp_cmd(p, &c);
	memset(&p->pub[k], 0, sizeof(p->pub[k]));
	for (unsigned i = 0; i < p->n_ml; i++)
		if (p->ml[i].publish && p->ml[i].pub == k)
			p->ml[i].publish = false;
	/* the receivers' slots that carried it take another source, or none */
	cp_slots_room(p->room);
}

/* What identifies a published stream across offers: its SSRC, or for simulcast its rids and
 * layer SSRCs. A change is a new stream (unpublish, publish). */
static uint32_t stream_sig(const struct cp_sdp_mline *om)
{
	uint32_t h = 2166136261u;

	if (!om->n_rids)
		return om->ssrc;
	for (unsigned i = 0; i < om->n_rids; i++) {
		for (const char *c = om->rid[i]; *c; c++)
			h = (h ^ (uint8_t)*c) * 16777619u;
		h = (h ^ om->layer_ssrc[i] ^ 0x2f) * 16777619u;
	}
	return h | 1;
}

static bool sends(const struct cp_sdp_mline *om)
{
	return (om->dir & CP_DIR_SENDONLY) && (om->ssrc || om->n_rids);
}

static bool key_taken(const struct cp_part *p, uint32_t key)
{
	for (unsigned i = 0; i < CP_PUBS; i++)
		if (p->pub[i].present && p->pub[i].key == key)
			return true;
	return false;
}

static bool publish(struct cp_part *p, struct cp_mline *ml, const struct cp_sdp_mline *om,
		    unsigned k)
{
	struct fh_cmd c = {.type = FH_CMD_STREAM_ADD};
	struct fh_cmd_stream *st = &c.u.stream;

	if (om->kind == CP_KIND_AUDIO ? k != CP_PUB_AUDIO : k == CP_PUB_AUDIO)
		return false;
	st->kind = k == CP_PUB_AUDIO ? FH_KIND_AUDIO : FH_KIND_VIDEO;
	st->pt = (uint8_t)om->pt;
	st->rtx_pt = om->rtx_pt >= 0 ? (uint8_t)om->rtx_pt : 0;
	st->clock_rate = k == CP_PUB_AUDIO ? 48000 : 90000;
	if (strlen(om->mid) <= FH_MID_MAX)
		snprintf(st->mid, sizeof(st->mid), "%s", om->mid);
	if (om->n_rids) {
		/* no one SSRC names it: a key of ours, unlike the other stream's */
		do
			st->key = rand_ssrc();
		while (key_taken(p, st->key));
		st->n_layers = (uint8_t)om->n_rids;
		for (unsigned i = 0; i < om->n_rids; i++) {
			snprintf(st->rid[i], sizeof(st->rid[i]), "%s", om->rid[i]);
			st->layer_ssrc[i] = om->layer_ssrc[i];
			st->layer_rtx_ssrc[i] = om->layer_rtx_ssrc[i];
		}
	} else {
		if (key_taken(p, om->ssrc))
			return false; /* one SSRC on two m-lines: the dataplane could not tell */
		st->key = om->ssrc;
		st->ssrc = om->ssrc;
		st->rtx_ssrc = om->rtx_ssrc;
	}
	cp_room_dp_cmd(p, &c);
	p->pub[k] = (struct cp_track){.present = true,
				      .key = st->key,
				      .sig = stream_sig(om),
				      .ssrc = st->ssrc,
				      .rtx_ssrc = st->rtx_ssrc,
				      .pt = (uint8_t)om->pt,
				      .rtx_pt = st->rtx_pt,
				      .n_layers = st->n_layers};
	ml->publish = true;
	ml->pub = (uint8_t)k;
	if (k == CP_PUB_AUDIO && p->forced_mute)
		cp_room_dp_mute(p, true);
	return true;
}

/* The participant's header extension ids and feedback, to the dataplane when they changed
 * (and before its first stream, which the dataplane tells apart by them). */
static void media_update(struct cp_part *p, const struct cp_sdp_offer *o)
{
	struct fh_cmd c = {.type = FH_CMD_MEDIA};

	memcpy(c.u.media.ext, o->ext, sizeof(c.u.media.ext));
	c.u.media.twcc = o->twcc;
	if (p->media_sent && !memcmp(&p->media, &c.u.media, sizeof(p->media)))
		return;
	cp_room_dp_cmd(p, &c);
	p->media = c.u.media;
	p->media_sent = true;
}

static void offer_counters(const struct cp_part *p, const struct cp_sdp_offer *o)
{
	if (o->bad_extmap || o->ext_conflicts || o->bad_rids || o->dropped_layers)
		FH_INFO("participant %s: offer with %u bad extmap(s), %u conflicting extension "
			"id(s), %u bad rid(s), %u simulcast encoding(s) not taken",
			p->pseudo, o->bad_extmap, o->ext_conflicts, o->bad_rids, o->dropped_layers);
}

/* A receive m-line becomes one of p's slots while its pool has room: an out of ours in the
 * worker, carrying nothing until cp_slots maps a source onto it. */
static bool make_slot(struct cp_part *p, struct cp_mline *ml)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->n_ml; i++)
		n += p->ml[i].slot && p->ml[i].kind == ml->kind;
	if (ml->kind > CP_KIND_VIDEO || n >= p->pool[ml->kind] || n >= CP_SLOTS_MAX)
		return false;
	struct fh_cmd c = {.type = FH_CMD_SUB_SET};

	ml->assigned = ml->slot = true;
	ml->src = 0;
	ml->out_ssrc = rand_ssrc();
	ml->out_rtx_ssrc = (ml->kind == CP_KIND_VIDEO && ml->rtx_pt >= 0) ? rand_ssrc() : 0;
	c.u.sub.out_ssrc = ml->out_ssrc;
	c.u.sub.out_rtx_ssrc = ml->out_rtx_ssrc;
	c.u.sub.out_pt = (uint8_t)ml->pt;
	c.u.sub.out_rtx_pt = ml->rtx_pt >= 0 ? (uint8_t)ml->rtx_pt : 0;
	c.u.sub.kind = ml->kind == CP_KIND_AUDIO ? FH_KIND_AUDIO : FH_KIND_VIDEO;
	cp_room_dp_cmd(p, &c);
	return true;
}

/* Which of p's tracks a sending m-line carries. */
static unsigned pub_of(const struct cp_part *p, const struct cp_sdp_mline *om)
{
	if (om->kind == CP_KIND_AUDIO)
		return CP_PUB_AUDIO;
	return p->screen_mid[0] && !strcmp(p->screen_mid, om->mid) ? CP_PUB_SCREEN : CP_PUB_VIDEO;
}

static int first_offer(struct cp_part *p, const struct cp_sdp_offer *o)
{
	struct fh_cmd c = {.type = FH_CMD_PART_ADD};

	snprintf(p->rufrag, sizeof(p->rufrag), "%s", o->ufrag);
	snprintf(p->fp_alg, sizeof(p->fp_alg), "%s", o->fp_alg);
	memcpy(p->fp, o->fp, o->fp_len);
	p->fp_len = o->fp_len;
	snprintf(c.u.part.local_ufrag, sizeof(c.u.part.local_ufrag), "%s", p->lufrag);
	snprintf(c.u.part.local_pwd, sizeof(c.u.part.local_pwd), "%s", p->lpwd);
	snprintf(c.u.part.remote_ufrag, sizeof(c.u.part.remote_ufrag), "%s", p->rufrag);
	p->dtls = cp_dtls_new(cp_media_dtls_send, p);
	if (!p->dtls)
		return -1;
	p->dtls_start_ms = cp_room_g.now_ms;
	snprintf(p->our_fp, sizeof(p->our_fp), "%s", cp_dtls_fingerprint());
	cp_room_dp_cmd(p, &c);
	p->in_dp = true;
	return 0;
}

void cp_negotiate_offer(struct cp_part *p, const char *sdp, size_t len, const char *screen)
{
	struct cp_sdp_offer *o = malloc(sizeof(*o));
	struct cp_sdp_answer_ml *am = NULL;
	char why[128];
	bool new_pub = false, progress = false, refused_screen = false;

	if (!o) {
		cp_room_send_error(p->conn, CP_ERR_INTERNAL);
		return;
	}
	if (cp_sdp_parse_offer(sdp, len, o, why, sizeof(why)) < 0) {
		FH_INFO("participant %s: offer refused: %s", p->pseudo, why);
		cp_room_send_json(p, json_pack("{s:s, s:i, s:s, s:s}", "type", "error", "code",
					       CP_ERR_BAD_SDP, "message",
					       cp_err_message(CP_ERR_BAD_SDP), "detail", why));
		goto out;
	}
	if (!cp_dp_attached()) {
		cp_room_send_error(p->conn, CP_ERR_UNAVAILABLE);
		goto out;
	}
	if (p->in_dp && (strcmp(p->rufrag, o->ufrag) || p->fp_len != o->fp_len ||
			 memcmp(p->fp, o->fp, o->fp_len))) {
		cp_room_send_json(p,
				  json_pack("{s:s, s:i, s:s, s:s}", "type", "error", "code",
					    CP_ERR_BAD_SDP, "message",
					    cp_err_message(CP_ERR_BAD_SDP), "detail",
					    "ICE restart and new certificates are not supported"));
		goto out;
	}
	if (o->n < p->n_ml) {
		cp_room_send_json(p, json_pack("{s:s, s:i, s:s, s:s}", "type", "error", "code",
					       CP_ERR_BAD_SDP, "message",
					       cp_err_message(CP_ERR_BAD_SDP), "detail",
					       "m-lines may not disappear"));
		goto out;
	}
	if (!p->in_dp && first_offer(p, o) < 0) {
		cp_room_send_error(p->conn, CP_ERR_INTERNAL);
		goto out;
	}
	if (o->n > p->n_ml) {
		struct cp_mline *ml = realloc(p->ml, o->n * sizeof(*ml));

		if (!ml) {
			cp_room_send_error(p->conn, CP_ERR_INTERNAL);
			goto out;
		}
		memset(ml + p->n_ml, 0, (o->n - p->n_ml) * sizeof(*ml));
		p->ml = ml;
	}
	unsigned old_n = p->n_ml;

	snprintf(p->screen_mid, sizeof(p->screen_mid), "%s",
		 screen && strlen(screen) <= CP_MID_MAX ? screen : "");
	offer_counters(p, o);
	media_update(p, o);

	/* New entries are zeroed, so assignments below see every m-line of this offer. */
	p->n_ml = o->n;
	for (unsigned i = 0; i < o->n; i++) {
		const struct cp_sdp_mline *om = &o->m[i];
		struct cp_mline *ml = &p->ml[i];

		if (i >= old_n || strcmp(ml->mid, om->mid) != 0) {
			/* a new m-line, or JSEP recycled a stopped one under a new mid */
			if (i < old_n) {
				cp_negotiate_unassign(p, ml);
				if (ml->publish)
					unpublish(p, ml->pub);
			}
			memset(ml, 0, sizeof(*ml));
			snprintf(ml->mid, sizeof(ml->mid), "%s", om->mid);
			ml->kind = om->kind;
		}
		ml->pt = om->pt;
		ml->rtx_pt = om->rtx_pt;
		ml->live = cp_sdp_mline_usable(om);
		if (!ml->live) {
			cp_negotiate_unassign(p, ml);
			if (ml->publish)
				unpublish(p, ml->pub);
			continue;
		}
		bool snd = sends(om);
		unsigned k = pub_of(p, om);

		if (ml->publish && (!snd || ml->pub != k || p->pub[k].sig != stream_sig(om)))
			unpublish(p, ml->pub);
		if (snd && k == CP_PUB_SCREEN && !ml->publish && !cp_slots_may_share(p)) {
			if (!refused_screen)
				cp_room_send_error(p->conn, CP_ERR_SCREEN_NOT_ALLOWED);
			refused_screen = true;
		} else if (snd && !ml->assigned && !ml->publish && !p->pub[k].present) {
			new_pub |= publish(p, ml, om, k);
		}
		if ((om->dir & CP_DIR_RECVONLY) && !ml->publish && !ml->assigned && !ml->dead)
			progress |= make_slot(p, ml);
	}

	am = calloc(o->n, sizeof(*am));
	if (!am) {
		cp_room_send_error(p->conn, CP_ERR_INTERNAL);
		goto out;
	}
	for (unsigned i = 0; i < o->n; i++) {
		struct cp_mline *ml = &p->ml[i];

		am[i].reject = !ml->live;
		if (ml->publish) {
			am[i].dir = CP_DIR_RECVONLY;
		} else if (ml->assigned) {
			/* a slot: one stream of ours whatever it carries ("slots" says what) */
			am[i].dir = CP_DIR_SENDONLY;
			am[i].ssrc = ml->out_ssrc;
			am[i].rtx_ssrc = ml->out_rtx_ssrc;
			snprintf(am[i].stream_id, sizeof(am[i].stream_id), "funkhaus");
			snprintf(am[i].track_id, sizeof(am[i].track_id), "slot-%s", ml->mid);
		} else {
			am[i].dir = CP_DIR_INACTIVE;
		}
	}
	struct fh_addr cands[16];
	unsigned n_c = cp_room_g.conf.n_announce;

	for (unsigned i = 0; i < n_c; i++) {
		cands[i] = cp_room_g.announce[i];
		cands[i].port = cp_dp_worker_port(p->worker);
	}
	char cname[17];

	snprintf(cname, sizeof(cname), "%08x%08x", (uint32_t)(p->sess_id >> 32),
		 (uint32_t)p->room->id);
	struct cp_sdp_local l = {
		.ufrag = p->lufrag,
		.pwd = p->lpwd,
		.fingerprint = p->our_fp[0] ? p->our_fp : cp_dtls_fingerprint(),
		.cands = cands,
		.n_cands = n_c,
		.sess_id = p->sess_id,
		.sess_ver = ++p->sess_ver,
		.cname = cname,
	};
	char *answer = cp_sdp_build_answer(o, &l, am);

	if (!answer) {
		cp_room_send_error(p->conn, CP_ERR_BAD_SDP);
		goto out;
	}
	cp_room_send_json(p, json_pack("{s:s, s:s}", "type", "answer", "sdp", answer));
	free(answer);
	/* new tracks go to the others' slots; new slots of p get the room's sources */
	if (new_pub)
		cp_slots_room(p->room);
	else
		cp_slots_update(p);
	/* a pool its offers do not carry yet: one more round, a bounded number of times when
	 * the offers that answer a request still lack it */
	bool missing = cp_slots_lacking(p);

	if (!missing || progress)
		p->reneg_rounds = 0;
	if (missing)
		cp_negotiate_request(p);
	cp_resume_note_save(p);
out:
	free(am);
	free(o);
}
