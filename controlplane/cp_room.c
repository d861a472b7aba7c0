/*
 * cp_room: room and participant state of funkhaus-cp, and the signalling behind it.
 *
 * Negotiation is always offered by the browser. Each participant publishes at most one audio
 * and one video track (sendonly m-lines) and receives every other participant's tracks on
 * recvonly m-lines the server assigns in its answer. When there is something new to receive
 * (or something ended) the server sends "renegotiate" with the number of receive m-lines of
 * each kind the client should have; the client adds what is missing and offers again.
 *
 * Logs name participants only by a random per-session pseudonym; display names, chat text and
 * room names never reach them.
 */
#include "cp_room.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "cp_dp.h"
#include "cp_dtls.h"
#include "cp_limits.h"
#include "cp_pwhash.h"
#include "cp_sdp.h"
#include "cp_sig.h"
#include "cp_store.h"
#include "cp_tenant.h"
#include "fh_log.h"

#define CP_GENERATED_ROOM_LEN 26

struct cp_track {
	bool present;
	uint32_t ssrc;
	uint32_t rtx_ssrc;
	uint8_t pt;
	uint8_t rtx_pt;
};

struct cp_mline {
	char mid[CP_MID_MAX + 1];
	enum cp_kind kind;
	bool publish;  /* carries this participant's own track */
	bool assigned; /* carries another participant's track */
	bool dead;     /* its source left; never reused */
	uint64_t src;  /* id of the participant whose track it carries */
	uint32_t out_ssrc;
	uint32_t out_rtx_ssrc;
	int pt;
	int rtx_pt;
};

struct cp_room;

struct cp_part {
	uint64_t id;
	char pseudo[9];
	char name[CP_NAME_MAX * 4 + 1];
	char room_as[CP_ROOM_MAX + 1]; /* the room's name as this participant wrote it */
	struct cp_room *room;
	struct cp_conn *conn;
	struct cp_part *next;
	unsigned worker;
	int slot;
	bool in_dp;
	bool media_up;
	bool audio_muted;
	bool video_muted;
	bool moderator;	  /* opened the room, or a token said so */
	bool forced_mute; /* a moderator muted its audio: not forwarded until it unmutes */
	bool waiting;	  /* in the lobby: no slot, no media, sees nobody */
	char lufrag[FH_UFRAG_MAX + 1];
	char lpwd[FH_PWD_MAX + 1];
	char rufrag[FH_UFRAG_MAX + 1];
	char fp_alg[16];
	uint8_t fp[64];
	size_t fp_len;
	struct cp_dtls *dtls;
	uint64_t dtls_start_ms;
	uint64_t sess_id;
	uint64_t sess_ver;
	struct cp_track pub[2];
	struct cp_mline *ml;
	unsigned n_ml;
	struct cp_source *src; /* its connection's source: its share is counted there */
	uint64_t since_ms;     /* joined, or began to wait in the lobby */
	unsigned reneg_rounds; /* renegotiations asked for that its offers did not answer */
	uint8_t resume[32];    /* SHA-256 of the secret it may resume with */
	/* our DTLS certificate's fingerprint as its answers carry it: a control plane started
	 * later has another certificate, and a changed fingerprint would make the browser
	 * start DTLS again with a server that no longer holds the old key */
	char our_fp[128];
	bool orphan;	  /* from a note: in the dataplane, its client not back yet */
	bool reneg_asked; /* one is asked for and no offer came since */
};

struct cp_room {
	bool one_time;		    /* ends with its last participant, record and all */
	bool lobby;		    /* joiners who are not moderators wait to be let in */
	bool closing;		    /* everyone is being sent away */
	bool has_pw;		    /* joins need the password whose salted hash is pw */
	uint8_t pw[CP_PW_HASH_LEN]; /* cp_pwhash: iterations, salt, PBKDF2-HMAC-SHA256 */
	bool has_quick;		    /* quick holds the password's cp_pwhash_quick() MAC */
	uint8_t quick[32];
	char tenant[33];	   /* the tenant's id; its policy is looked up when needed */
	char key[CP_ROOM_MAX + 1]; /* lower-cased name, unique within the tenant */
	uint32_t id;
	unsigned worker;
	unsigned n;
	struct cp_part *parts;
	unsigned n_waiting;
	struct cp_part *waiting; /* the lobby, in order of arrival */
	struct cp_room *next;
};

static struct {
	const struct cp_room_conn_ops *ops; /* the connections' owner (cp_server) */
	struct cp_room_conf conf;
	struct cp_tenants tenants;
	struct fh_addr announce[16];
	struct cp_room *rooms;
	unsigned n_rooms;
	unsigned n_parts;
	uint32_t next_room_id;
	struct cp_part *by_slot[FH_MAX_WORKERS][FH_MAX_SLOTS];
	uint64_t now_ms;
	uint64_t last_dtls_tick;
	uint64_t last_wait_check;
	uint64_t last_expiry;
	bool draining;
	struct cp_room_metrics metrics;
	uint64_t last_rate_ms; /* per worker byte rates, sampled once a second */
	uint64_t last_rx[FH_MAX_WORKERS], last_tx[FH_MAX_WORKERS];
	uint64_t rx_bps[FH_MAX_WORKERS], tx_bps[FH_MAX_WORKERS];
} g;

static void expire_records(void);
static void note_save(const struct cp_part *p);
static void note_save_room(const struct cp_room *r);
static void note_clear(const struct cp_part *p);
static void resume_secret(struct cp_part *p, char out[32]);

const unsigned cp_room_dtls_bucket_ms[7] = {50, 100, 250, 500, 1000, 2500, 5000};

static void rand_bytes(void *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		abort(); /* no randomness, no secrets: better to stop than to guess */
}

static void rand_alnum(char *out, size_t n)
{
	static const char a[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t r[64];

	rand_bytes(r, n);
	for (size_t i = 0; i < n; i++)
		out[i] =
			a[r[i] % 62]; /* 256 % 62 bias is irrelevant for ICE credentials' entropy */
	out[n] = '\0';
}

/* Wall-clock time in ms since the epoch, for what clients show as a time of day. */
static int64_t epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t rand_ssrc(void)
{
	uint32_t v;

	do
		rand_bytes(&v, sizeof(v));
	while (v == 0);
	return v;
}

/* ---- connections (through the owner's ops, never cp_server itself) ---- */

static struct cp_room_conn_facts conn_facts(const struct cp_conn *c)
{
	struct cp_room_conn_facts f = {0};

	g.ops->facts(c, &f);
	return f;
}

/* The tenant the connection's upgrade request was for (its Host and path). */
static const struct cp_tenant *conn_tenant(const struct cp_conn *c)
{
	struct cp_room_conn_facts f = conn_facts(c);

	return cp_tenant_for(&g.tenants, f.host, f.path);
}

static struct cp_source *conn_source(const struct cp_conn *c)
{
	return conn_facts(c).src;
}

static const char *conn_peer(const struct cp_conn *c)
{
	return conn_facts(c).peer;
}

/* ---- sending to clients ---- */

static void send_json(struct cp_part *p, json_t *o)
{
	if (!o)
		return;
	if (p && p->conn) {
		char *s = json_dumps(o, JSON_COMPACT);

		if (s)
			g.ops->send(p->conn, s);
	}
	json_decref(o);
}

static void send_error(struct cp_conn *c, enum cp_err e)
{
	char *s = cp_sig_error_json(e);

	if (s)
		g.ops->send(c, s);
}

static void part_hex_id(const struct cp_part *p, char id[17])
{
	snprintf(id, 17, "%016llx", (unsigned long long)p->id);
}

static json_t *part_json(const struct cp_part *p)
{
	char id[17];

	part_hex_id(p, id);
	return json_pack("{s:s, s:s, s:b, s:b, s:b}", "id", id, "name", p->name, "audioMuted",
			 p->audio_muted, "videoMuted", p->video_muted, "moderator", p->moderator);
}

static void broadcast(struct cp_room *r, const struct cp_part *except, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	for (struct cp_part *q = r->parts; s && q; q = q->next)
		if (q != except && q->conn)
			g.ops->send(q->conn, strdup(s));
	free(s);
	json_decref(o);
}

/* ---- dataplane commands ---- */

static void dp_cmd(struct cp_part *p, struct fh_cmd *c)
{
	c->slot = (uint16_t)p->slot;
	c->room = p->room->id;
	cp_dp_cmd(p->worker, c);
}

/* Stops (or resumes) forwarding the participant's audio in the dataplane. */
static void dp_mute(struct cp_part *p, bool muted)
{
	struct fh_cmd c = {.type = FH_CMD_MUTE};

	if (!p->pub[CP_KIND_AUDIO].present)
		return;
	c.u.mute.ssrc = p->pub[CP_KIND_AUDIO].ssrc;
	c.u.mute.muted = muted;
	dp_cmd(p, &c);
}

static void dtls_send(void *user, const uint8_t *data, size_t len)
{
	struct cp_part *p = user;

	if (!cp_dp_attached())
		return; /* stopping, or the dataplane is away: the call is not ended from here */
	if (cp_dp_send(p->worker, (uint16_t)p->slot, data, len) < 0)
		FH_WARN("participant %s: DTLS record dropped, ring full", p->pseudo);
}

/* ---- rooms ---- */

/* A room's key: its name lower-cased (names are ASCII letters, digits, - and _). */
static void room_key(const char *name, char key[CP_ROOM_MAX + 1])
{
	size_t n = strnlen(name, CP_ROOM_MAX);

	for (size_t i = 0; i < n; i++)
		key[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	key[n] = '\0';
}

static struct cp_room *room_get(const char *tenant, const char *name, bool create)
{
	char key[CP_ROOM_MAX + 1];

	room_key(name, key);
	for (struct cp_room *r = g.rooms; r; r = r->next)
		if (!strcmp(r->key, key) && !strcmp(r->tenant, tenant))
			return r;
	if (!create)
		return NULL;
	struct cp_room *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	memcpy(r->key, key, sizeof(key));
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	r->id = ++g.next_room_id;
	/* A room lives on one worker so its fan-out never crosses cores: the least loaded. */
	unsigned best = 0;

	for (unsigned w = 1; w < cp_dp_workers(); w++)
		if (cp_dp_slots_used(w) < cp_dp_slots_used(best))
			best = w;
	r->worker = best;
	r->next = g.rooms;
	g.rooms = r;
	g.n_rooms++;
	return r;
}

static void room_unlink(struct cp_room *r)
{
	for (struct cp_room **pp = &g.rooms; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			g.n_rooms--;
			free(r);
			return;
		}
	}
}

/* ---- negotiation ---- */

static bool has_mline_for(const struct cp_part *p, uint64_t src, enum cp_kind k)
{
	for (unsigned i = 0; i < p->n_ml; i++)
		if (p->ml[i].assigned && p->ml[i].src == src && p->ml[i].kind == k)
			return true;
	return false;
}

/* Asks the client to offer again with enough receive m-lines for everything in the room. */
static void request_renegotiation(struct cp_part *p)
{
	unsigned want[2] = {0, 0};

	if (!p->conn || !p->sess_ver)
		return; /* before its first offer the client learns everything from "joined" */
	if (p->reneg_rounds >= cp_limits()->renegotiations)
		return; /* its offers stopped answering: asking again would only loop */
	p->reneg_asked = true;
	for (unsigned i = 0; i < p->n_ml; i++)
		if (!p->ml[i].publish && p->ml[i].kind <= CP_KIND_VIDEO && p->ml[i].pt >= 0)
			want[p->ml[i].kind]++;
	for (struct cp_part *q = p->room->parts; q; q = q->next) {
		if (q == p)
			continue;
		for (int k = 0; k < 2; k++)
			if (q->pub[k].present && !has_mline_for(p, q->id, (enum cp_kind)k))
				want[k]++;
	}
	send_json(p, json_pack("{s:s, s:{s:i, s:i}}", "type", "renegotiate", "recv", "audio",
			       want[0], "video", want[1]));
}

static void unassign(struct cp_part *p, struct cp_mline *ml)
{
	if (!ml->assigned)
		return;
	struct fh_cmd c = {.type = FH_CMD_SUB_DEL};

	c.u.sub.out_ssrc = ml->out_ssrc;
	dp_cmd(p, &c);
	ml->assigned = false;
	ml->dead = true;
}

static void unpublish(struct cp_part *p, enum cp_kind k)
{
	if (!p->pub[k].present)
		return;
	for (struct cp_part *q = p->room->parts; q; q = q->next) {
		bool changed = false;

		for (unsigned i = 0; q != p && i < q->n_ml; i++) {
			if (q->ml[i].assigned && q->ml[i].src == p->id && q->ml[i].kind == k) {
				unassign(q, &q->ml[i]);
				changed = true;
			}
		}
		if (changed)
			request_renegotiation(q);
	}
	struct fh_cmd c = {.type = FH_CMD_STREAM_DEL};

	c.u.stream.ssrc = p->pub[k].ssrc;
	dp_cmd(p, &c);
	memset(&p->pub[k], 0, sizeof(p->pub[k]));
	for (unsigned i = 0; i < p->n_ml; i++)
		if (p->ml[i].kind == k)
			p->ml[i].publish = false;
}

static bool publish(struct cp_part *p, struct cp_mline *ml, const struct cp_sdp_mline *om)
{
	enum cp_kind k = om->kind;
	struct fh_cmd c = {.type = FH_CMD_STREAM_ADD};

	c.u.stream.ssrc = om->ssrc;
	c.u.stream.rtx_ssrc = om->rtx_ssrc;
	c.u.stream.kind = k == CP_KIND_AUDIO ? FH_KIND_AUDIO : FH_KIND_VIDEO;
	c.u.stream.pt = (uint8_t)om->pt;
	c.u.stream.rtx_pt = om->rtx_pt >= 0 ? (uint8_t)om->rtx_pt : 0;
	c.u.stream.clock_rate = k == CP_KIND_AUDIO ? 48000 : 90000;
	dp_cmd(p, &c);
	p->pub[k] = (struct cp_track){
		.present = true, .ssrc = om->ssrc, .rtx_ssrc = om->rtx_ssrc, .pt = (uint8_t)om->pt};
	ml->publish = true;
	if (k == CP_KIND_AUDIO && p->forced_mute)
		dp_mute(p, true);
	return true;
}

static void assign(struct cp_part *p, struct cp_mline *ml)
{
	for (struct cp_part *q = p->room->parts; q; q = q->next) {
		if (q == p || !q->pub[ml->kind].present || has_mline_for(p, q->id, ml->kind))
			continue;
		struct fh_cmd c = {.type = FH_CMD_SUB_ADD};

		ml->assigned = true;
		ml->src = q->id;
		ml->out_ssrc = rand_ssrc();
		ml->out_rtx_ssrc = (ml->kind == CP_KIND_VIDEO && ml->rtx_pt >= 0) ? rand_ssrc() : 0;
		c.u.sub.pub_slot = (uint16_t)q->slot;
		c.u.sub.pub_ssrc = q->pub[ml->kind].ssrc;
		c.u.sub.out_ssrc = ml->out_ssrc;
		c.u.sub.out_rtx_ssrc = ml->out_rtx_ssrc;
		c.u.sub.out_pt = (uint8_t)ml->pt;
		c.u.sub.out_rtx_pt = ml->rtx_pt >= 0 ? (uint8_t)ml->rtx_pt : 0;
		c.u.sub.kind = ml->kind == CP_KIND_AUDIO ? FH_KIND_AUDIO : FH_KIND_VIDEO;
		dp_cmd(p, &c);
		return;
	}
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
	p->dtls = cp_dtls_new(dtls_send, p);
	if (!p->dtls)
		return -1;
	p->dtls_start_ms = g.now_ms;
	snprintf(p->our_fp, sizeof(p->our_fp), "%s", cp_dtls_fingerprint());
	dp_cmd(p, &c);
	p->in_dp = true;
	return 0;
}

static void handle_offer(struct cp_part *p, const char *sdp, size_t len)
{
	struct cp_sdp_offer *o = malloc(sizeof(*o));
	struct cp_sdp_answer_ml *am = NULL;
	char why[128];
	bool new_pub = false, answering = p->reneg_asked;

	p->reneg_asked = false;
	if (!o) {
		send_error(p->conn, CP_ERR_INTERNAL);
		return;
	}
	if (cp_sdp_parse_offer(sdp, len, o, why, sizeof(why)) < 0) {
		FH_INFO("participant %s: offer refused: %s", p->pseudo, why);
		send_json(p,
			  json_pack("{s:s, s:i, s:s, s:s}", "type", "error", "code", CP_ERR_BAD_SDP,
				    "message", cp_err_message(CP_ERR_BAD_SDP), "detail", why));
		goto out;
	}
	if (!cp_dp_attached()) {
		send_error(p->conn, CP_ERR_UNAVAILABLE);
		goto out;
	}
	if (p->in_dp && (strcmp(p->rufrag, o->ufrag) || p->fp_len != o->fp_len ||
			 memcmp(p->fp, o->fp, o->fp_len))) {
		send_json(p,
			  json_pack("{s:s, s:i, s:s, s:s}", "type", "error", "code", CP_ERR_BAD_SDP,
				    "message", cp_err_message(CP_ERR_BAD_SDP), "detail",
				    "ICE restart and new certificates are not supported"));
		goto out;
	}
	if (o->n < p->n_ml) {
		send_json(p, json_pack("{s:s, s:i, s:s, s:s}", "type", "error", "code",
				       CP_ERR_BAD_SDP, "message", cp_err_message(CP_ERR_BAD_SDP),
				       "detail", "m-lines may not disappear"));
		goto out;
	}
	if (!p->in_dp && first_offer(p, o) < 0) {
		send_error(p->conn, CP_ERR_INTERNAL);
		goto out;
	}
	if (o->n > p->n_ml) {
		struct cp_mline *ml = realloc(p->ml, o->n * sizeof(*ml));

		if (!ml) {
			send_error(p->conn, CP_ERR_INTERNAL);
			goto out;
		}
		memset(ml + p->n_ml, 0, (o->n - p->n_ml) * sizeof(*ml));
		p->ml = ml;
	}
	unsigned old_n = p->n_ml;

	/* New entries are zeroed, so assignments below see every m-line of this offer. */
	p->n_ml = o->n;
	for (unsigned i = 0; i < o->n; i++) {
		const struct cp_sdp_mline *om = &o->m[i];
		struct cp_mline *ml = &p->ml[i];

		if (i >= old_n || strcmp(ml->mid, om->mid) != 0) {
			/* a new m-line, or JSEP recycled a stopped one under a new mid */
			if (i < old_n) {
				unassign(p, ml);
				if (ml->publish)
					unpublish(p, ml->kind);
			}
			memset(ml, 0, sizeof(*ml));
			snprintf(ml->mid, sizeof(ml->mid), "%s", om->mid);
			ml->kind = om->kind;
		}
		ml->pt = om->pt;
		ml->rtx_pt = om->rtx_pt;
		bool usable = om->port != 0 && om->kind != CP_KIND_OTHER && om->pt >= 0;

		if (!usable) {
			unassign(p, ml);
			if (ml->publish)
				unpublish(p, ml->kind);
			continue;
		}
		bool sends = (om->dir & CP_DIR_SENDONLY) && om->ssrc;

		if (ml->publish && (!sends || p->pub[ml->kind].ssrc != om->ssrc))
			unpublish(p, ml->kind);
		if (sends && !ml->assigned && !p->pub[ml->kind].present)
			new_pub |= publish(p, ml, om);
		if ((om->dir & CP_DIR_RECVONLY) && !ml->publish && !ml->assigned && !ml->dead)
			assign(p, ml);
	}

	am = calloc(o->n, sizeof(*am));
	if (!am) {
		send_error(p->conn, CP_ERR_INTERNAL);
		goto out;
	}
	for (unsigned i = 0; i < o->n; i++) {
		struct cp_mline *ml = &p->ml[i];

		am[i].reject = o->m[i].port == 0 || o->m[i].kind == CP_KIND_OTHER || o->m[i].pt < 0;
		if (ml->publish) {
			am[i].dir = CP_DIR_RECVONLY;
		} else if (ml->assigned) {
			am[i].dir = CP_DIR_SENDONLY;
			am[i].ssrc = ml->out_ssrc;
			am[i].rtx_ssrc = ml->out_rtx_ssrc;
			snprintf(am[i].stream_id, sizeof(am[i].stream_id), "%016llx",
				 (unsigned long long)ml->src);
			snprintf(am[i].track_id, sizeof(am[i].track_id), "%016llx-%s",
				 (unsigned long long)ml->src,
				 ml->kind == CP_KIND_AUDIO ? "a" : "v");
		} else {
			am[i].dir = CP_DIR_INACTIVE;
		}
	}
	struct fh_addr cands[16];
	unsigned n_c = g.conf.n_announce;

	for (unsigned i = 0; i < n_c; i++) {
		cands[i] = g.announce[i];
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
		send_error(p->conn, CP_ERR_BAD_SDP);
		goto out;
	}
	send_json(p, json_pack("{s:s, s:s}", "type", "answer", "sdp", answer));
	free(answer);
	if (new_pub)
		for (struct cp_part *q = p->room->parts; q; q = q->next)
			if (q != p)
				request_renegotiation(q);
	/* Tracks this offer had no m-line for yet: ask for one more round, a bounded number of
	 * times when the offers that answer a request still lack them. */
	bool missing = false;

	for (struct cp_part *q = p->room->parts; q && !missing; q = q->next)
		missing =
			q != p && ((q->pub[0].present && !has_mline_for(p, q->id, CP_KIND_AUDIO)) ||
				   (q->pub[1].present && !has_mline_for(p, q->id, CP_KIND_VIDEO)));
	if (!missing) {
		p->reneg_rounds = 0;
	} else {
		if (answering && ++p->reneg_rounds == cp_limits()->renegotiations) {
			cp_limits_count(CP_REFUSE_renegotiation);
			FH_WARN("participant %s: %u offers in a row lacked what was asked for; no "
				"more renegotiation asked",
				p->pseudo, p->reneg_rounds);
		}
		request_renegotiation(p);
	}
	note_save(p);
out:
	free(am);
	free(o);
}

/* ---- join and leave ---- */

static void part_free(struct cp_part *p)
{
	cp_dtls_free(p->dtls);
	free(p->ml);
	cp_limits_part_del(p->src);
	memset(p->name, 0, sizeof(p->name));
	free(p);
}

static char *closed_msg(const char *reason)
{
	json_t *o = json_pack("{s:s, s:s}", "type", "closed", "reason", reason);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

static const struct cp_tenant *room_tenant(const struct cp_room *r)
{
	return cp_tenant_by_id(&g.tenants, r->tenant);
}

/* A room nobody is in and nobody waits for goes; its record remembers when it was last used,
 * or goes with it when the room was one-time. */
static void room_release(struct cp_room *r)
{
	if (r->n || r->n_waiting)
		return;
	if (r->one_time)
		cp_store_forget(r->tenant, r->key);
	else
		cp_store_touch(r->tenant, r->key, false, cp_clock_s());
	room_unlink(r);
}

/* ---- the lobby: who waits sees nobody and gets no media until a moderator decides ---- */

/* Tells the room's moderators (or only the one given) whether the lobby is on and who waits. */
static void lobby_update(struct cp_room *r, struct cp_part *only)
{
	for (struct cp_part *q = r->parts; q; q = q->next) {
		if (!q->moderator || !q->conn || (only && q != only))
			continue;
		json_t *list = json_array();
		char id[17];

		for (struct cp_part *w = r->waiting; w; w = w->next) {
			part_hex_id(w, id);
			json_array_append_new(list,
					      json_pack("{s:s, s:s}", "id", id, "name", w->name));
		}
		send_json(q, json_pack("{s:s, s:b, s:o}", "type", "lobby", "on", r->lobby,
				       "waiting", list));
	}
}

static void lobby_unlink(struct cp_part *p)
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
static void lobby_drop(struct cp_part *p, char *msg, const char *why)
{
	lobby_unlink(p);
	FH_INFO("participant %s left a lobby (%s)", p->pseudo, why);
	if (p->conn) {
		g.ops->send(p->conn, msg);
		g.ops->set_part(p->conn, NULL);
	} else {
		free(msg);
	}
	part_free(p);
}

/* Where anyone may open rooms, the one who has been in a room longest moderates it once its
 * last moderator has left, so nobody waits in a lobby for a moderator who will never come. */
static void hand_over(struct cp_room *r)
{
	const struct cp_tenant *t = room_tenant(r);
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
	part_hex_id(oldest, id);
	FH_INFO("participant %s moderates now: the last moderator left", oldest->pseudo);
	note_save(oldest);
	broadcast(r, NULL, json_pack("{s:s, s:s}", "type", "moderator", "id", id));
	lobby_update(r, oldest);
}

static void leave(struct cp_part *p, const char *why)
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
	g.n_parts--;
	/* Receivers of this participant's tracks lose them; the worker forgets it entirely. */
	for (struct cp_part *q = r->parts; q; q = q->next) {
		bool changed = false;

		for (unsigned i = 0; i < q->n_ml; i++) {
			if (q->ml[i].assigned && q->ml[i].src == p->id) {
				unassign(q, &q->ml[i]);
				changed = true;
			}
		}
		if (changed) {
			request_renegotiation(q);
			note_save(q);
		}
	}
	note_clear(p);
	if (p->in_dp) {
		struct fh_cmd c = {.type = FH_CMD_PART_DEL};

		c.slot = (uint16_t)p->slot;
		c.room = r->id;
		cp_dp_cmd(p->worker, &c);
	}
	if (p->slot >= 0) {
		g.by_slot[p->worker][p->slot] = NULL;
		cp_dp_slot_free(p->worker, p->slot);
	}
	part_hex_id(p, id);
	broadcast(r, NULL, json_pack("{s:s, s:s}", "type", "participant-left", "id", id));
	FH_INFO("participant %s left (%s); %u left in its room", p->pseudo, why, r->n);
	if (p->conn)
		g.ops->set_part(p->conn, NULL);
	bool was_moderator = p->moderator;

	part_free(p);
	if (r->n == 0 && r->one_time)
		while (r->waiting) /* a one-time room ends with its last participant */
			lobby_drop(r->waiting, closed_msg("ended"), "the room ended");
	if (was_moderator && !r->closing)
		hand_over(r);
	room_release(r);
}

/* ---- room passwords (cp_pwhash): hashed off the loop, guesses limited by cp_limits ---- */

/* What a join's password step learned on an earlier run: a join that needs PBKDF2 is handed
 * to cp_pwhash and runs again, from the start, with the verdict; the room may have changed in
 * between, so a verdict counts only for the hash it was made against. */
struct pw_verdict {
	bool checked; /* against hash: ok or not */
	bool ok;
	uint8_t hash[CP_PW_HASH_LEN];
	bool made; /* a new hash (a password chosen, or an old record upgraded) */
	uint8_t made_hash[CP_PW_HASH_LEN];
	bool have_quick;
	uint8_t quick[32];
};

/* A join waiting for cp_pwhash: its connection and the message as it came. */
struct pw_wait {
	struct cp_conn *conn;
	char *msg;
	size_t len;
	uint64_t ticket;
	bool make;
	uint8_t hash[CP_PW_HASH_LEN];
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
			const struct pw_verdict *v);

static void pw_job_done(void *user, bool ok, const uint8_t *hash, const uint8_t *quick)
{
	struct pw_wait *w = user;
	struct pw_verdict v = {.ok = ok, .checked = !w->make, .made = hash != NULL};
	struct cp_sig_msg m;

	if (!w->make)
		memcpy(v.hash, w->hash, sizeof(v.hash));
	if (hash)
		memcpy(v.made_hash, hash, sizeof(v.made_hash));
	if (quick) {
		v.have_quick = true;
		memcpy(v.quick, quick, sizeof(v.quick));
	}
	g.now_ms = g.ops->now_ms();
	/* out of the list first: the join may hand itself out again */
	for (struct pw_wait **pp = &pw_waits; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	w->next = NULL;
	if (cp_sig_parse(w->msg, w->len, &m) == CP_ERR_OK && m.type == CP_MSG_JOIN)
		handle_join(w->conn, &m, w->msg, w->len, &v);
	cp_sig_msg_free(&m);
	OPENSSL_cleanse(&v, sizeof(v));
	pw_wait_unlink(w);
}

/* Hands the join's password to cp_pwhash: against hash, or to make one (hash NULL). false
 * when the queue is full. */
static bool pw_hand_out(struct cp_conn *c, const char *buf, size_t len, const char *password,
			const uint8_t *hash)
{
	struct pw_wait *w = calloc(1, sizeof(*w));

	if (!w || !(w->msg = malloc(len))) {
		free(w);
		return false;
	}
	memcpy(w->msg, buf, len);
	w->len = len;
	w->conn = c;
	w->make = !hash;
	if (hash)
		memcpy(w->hash, hash, CP_PW_HASH_LEN);
	w->next = pw_waits;
	pw_waits = w;
	w->ticket = cp_pwhash_submit(password, hash, pw_job_done, w);
	if (!w->ticket) {
		cp_limits_count(CP_REFUSE_pw_queue);
		pw_wait_unlink(w);
		return false;
	}
	return true;
}

/* The room's password hash replaced by one made later (an upgrade, a chosen or a moderator's
 * new password), in the room and its record. */
static void room_set_hash(struct cp_room *r, const uint8_t hash[CP_PW_HASH_LEN],
			  const uint8_t *quick)
{
	memcpy(r->pw, hash, CP_PW_HASH_LEN);
	r->has_pw = true;
	r->has_quick = quick != NULL;
	if (quick)
		memcpy(r->quick, quick, sizeof(r->quick));
	cp_store_set_password(r->tenant, r->key, r->pw, sizeof(r->pw));
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

	for (struct cp_room *r = g.rooms; r; r = r->next)
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

	rand_bytes(b, sizeof(b));
	for (i = 0; i < CP_GENERATED_ROOM_LEN && i + 1 < n; i++) {
		unsigned bit = (unsigned)i * 5;
		unsigned v = ((unsigned)b[bit / 8] << 8 | b[bit / 8 + 1]) >> (11 - bit % 8);

		out[i] = alphabet[v & 31];
	}
	out[i] = '\0';
	OPENSSL_cleanse(b, sizeof(b));
}

/* A participant for connection c in room r, not yet in its list. */
static struct cp_part *part_new(struct cp_conn *c, struct cp_room *r, const char *name,
				const char *room_as)
{
	struct cp_part *p = calloc(1, sizeof(*p));
	uint32_t ps;

	if (!p)
		return NULL;
	rand_bytes(&p->id, sizeof(p->id));
	rand_bytes(&p->sess_id, sizeof(p->sess_id));
	p->sess_id &= 0x3fffffffffffffffull;
	rand_bytes(&ps, sizeof(ps));
	snprintf(p->pseudo, sizeof(p->pseudo), "%08x", ps);
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->room_as, sizeof(p->room_as), "%s", room_as);
	p->room = r;
	p->conn = c;
	p->worker = r->worker;
	p->slot = -1;
	p->since_ms = g.now_ms;
	p->src = c ? conn_source(c) : NULL;
	cp_limits_part_add(p->src);
	return p;
}

/* TURN servers with credentials for this participant: the user part is its pseudonym. */
static json_t *turn_servers(const struct cp_part *p)
{
	char user[64], pass[64], urls[sizeof(g.conf.turn_urls)], *save = NULL;
	json_t *list = json_array();

	if (cp_turn_credential(g.conf.turn_secret, g.conf.turn_secret_len,
			       cp_clock_s() + g.conf.turn_ttl, p->pseudo, user, sizeof(user), pass,
			       sizeof(pass)) < 0)
		return json_array();
	snprintf(urls, sizeof(urls), "%s", g.conf.turn_urls);
	for (char *u = strtok_r(urls, ", ", &save); u; u = strtok_r(NULL, ", ", &save))
		json_array_append_new(list, json_string(u));
	json_t *s =
		json_pack("[{s:o, s:s, s:s}]", "urls", list, "username", user, "credential", pass);

	OPENSSL_cleanse(pass, sizeof(pass));
	return s;
}

/* Into the room with a dataplane slot: it learns who is there, they learn of it. */
static void enter(struct cp_part *p, const struct cp_tenant *t, int slot)
{
	struct cp_room *r = p->room;
	char id[17];

	p->slot = slot;
	/* ufrag: slot in hex (the worker's O(1) lookup) then random characters */
	snprintf(p->lufrag, sizeof(p->lufrag), "%04x", slot);
	rand_alnum(p->lufrag + 4, 12);
	rand_alnum(p->lpwd, 32);
	g.by_slot[p->worker][slot] = p;
	if (p->conn)
		g.ops->set_part(p->conn, p);

	json_t *list = json_array();

	for (struct cp_part *q = r->parts; q; q = q->next)
		json_array_append_new(list, part_json(q));
	part_hex_id(p, id);
	char secret[32];

	resume_secret(p, secret);
	json_t *joined = json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:b, s:b, s:s}", "type",
				   "joined", "id", id, "room", p->room_as, "participants", list,
				   "chat", t->chat, "moderator", p->moderator, "lobby", r->lobby,
				   "password", r->has_pw, "resume", secret);

	OPENSSL_cleanse(secret, sizeof(secret));

	if (joined && g.conf.turn_secret_len)
		json_object_set_new(joined, "iceServers", turn_servers(p));
	send_json(p, joined);
	broadcast(
		r, NULL,
		json_pack("{s:s, s:o}", "type", "participant-joined", "participant", part_json(p)));
	p->next = r->parts;
	r->parts = p;
	r->n++;
	g.n_parts++;
	if (p->moderator)
		lobby_update(r, p);
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
		for (const struct cp_room *q = g.rooms; q; q = q->next) {
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
static enum cp_err admit(struct cp_part *p)
{
	struct cp_room *r = p->room;
	const struct cp_tenant *t = room_tenant(r);
	int slot;

	if (!t)
		return CP_ERR_UNKNOWN_TENANT;
	if (r->n >= t->max_participants)
		return CP_ERR_ROOM_FULL;
	slot = slot_take(r, p->src);
	if (slot < 0)
		return CP_ERR_SERVER_FULL;
	lobby_unlink(p);
	p->waiting = false;
	p->since_ms = g.now_ms; /* media comes up within the bound from now */
	enter(p, t, slot);
	FH_INFO("participant %s was let in (%u in the room)", p->pseudo, r->n);
	return CP_ERR_OK;
}

/* The password step of a join to a room with the hash pwh (r: the room when it is open):
 * CP_ERR_OK when right, an error, or CP_ERR_PENDING when the join was handed to cp_pwhash
 * and runs again with its verdict v. A room in memory whose password is known checks with
 * the quick MAC; guesses are limited per source (IPv6 per /64) and per room either way. */
#define CP_ERR_PENDING ((enum cp_err) - 1)
static enum cp_err check_password(struct cp_conn *c, const struct cp_tenant *t, const char *key,
				  const struct cp_room *r, const char *password,
				  const uint8_t pwh[CP_PW_HASH_LEN], const struct pw_verdict *v,
				  const char *buf, size_t len)
{
	struct cp_source *src = conn_source(c);
	bool ok;
	char ip[64];

	if (cp_limits_pw_blocked(src, t->id, key, g.now_ms))
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
		return pw_hand_out(c, buf, len, password, pwh) ? CP_ERR_PENDING : CP_ERR_BUSY;
	}
	if (ok)
		return CP_ERR_OK;
	if (cp_limits_pw_failed(src, t->id, key, g.now_ms)) {
		cp_tenant_ip(t, conn_peer(c), ip, sizeof(ip));
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
			g.metrics.join_failures[i]++;
	send_error(c, e);
}

static void handle_join(struct cp_conn *c, const struct cp_sig_msg *m, const char *buf, size_t len,
			const struct pw_verdict *v)
{
	const struct cp_tenant *t = conn_tenant(c);

	if (!t) {
		refuse(c, CP_ERR_UNKNOWN_TENANT);
		return;
	}
	if (!t->public_access) {
		refuse(c, CP_ERR_ACCESS_OFF);
		return;
	}
	if (!cp_dp_ready()) {
		refuse(c, CP_ERR_UNAVAILABLE);
		return;
	}
	struct cp_source *src = conn_source(c);

	if (!cp_limits_part_allowed(src)) {
		refuse(c, CP_ERR_SOURCE_PARTICIPANTS);
		return;
	}
	struct cp_jwt_claims claims = {0};
	char gen[CP_ROOM_MAX + 1];
	const char *name = m->room;

	if (m->token) {
		enum cp_jwt_err je = cp_jwt_verify(&t->keys, m->token, t->id, m->room,
						   (int64_t)time(NULL), &claims);

		if (je != CP_JWT_OK) {
			/* which check failed, never the token itself */
			FH_INFO("a join with a token was refused: %s", cp_jwt_err_str(je));
			refuse(c, token_err(je));
			return;
		}
	}
	if (!name) {
		generated_room(gen, sizeof(gen));
		name = gen;
	}
	struct cp_room *r = room_get(t->id, name, false);
	bool creating = !r;
	/* whoever opens an empty room moderates it; where only signed-in users may open rooms,
	 * only with a token (a guest who comes first with the link waits for them) */
	bool moderator = claims.moderator ||
			 ((!r || r->n == 0) && (t->create == CP_CREATE_ANYONE || m->token));
	char key[CP_ROOM_MAX + 1];
	enum cp_err e;

	room_key(name, key);
	/* the room's password, from the room or from its record */
	uint8_t pwh[CP_PW_HASH_LEN];
	bool need_pw = false, set_pw = false;

	if (r && r->has_pw) {
		memcpy(pwh, r->pw, sizeof(pwh));
		need_pw = true;
	} else if (!r && cp_store_password(t->id, key, pwh)) {
		need_pw = true;
	}
	if (need_pw && !claims.moderator &&
	    (e = check_password(c, t, key, r, m->password, pwh, v, buf, len))) {
		if (e != CP_ERR_PENDING)
			refuse(c, e);
		return;
	}
	if (!need_pw && t->password_required) {
		/* every room of this tenant has a password: whoever opens one chooses it */
		e = !moderator			    ? CP_ERR_NO_PASSWORD_YET
		    : !m->password || !*m->password ? CP_ERR_PASSWORD_CHOOSE
						    : CP_ERR_OK;
		if (e) {
			refuse(c, e);
			return;
		}
		/* the hash first, off the loop; the join runs again with it */
		if (!v || !v->made || v->checked) {
			if (!pw_hand_out(c, buf, len, m->password, NULL))
				refuse(c, CP_ERR_BUSY);
			return;
		}
		set_pw = true;
	}
	/* a room opened earlier (its record is kept until the tenant's inactivity days pass)
	 * opens again for whoever has its link */
	if (creating && t->create == CP_CREATE_AUTHENTICATED && !m->token &&
	    !cp_store_exists(t->id, key)) {
		refuse(c, CP_ERR_LOGIN_REQUIRED);
		return;
	}
	if (creating && g.draining) {
		refuse(c, CP_ERR_DRAINING);
		return;
	}
	if (creating && tenant_rooms(t->id) >= t->max_rooms) {
		refuse(c, CP_ERR_TOO_MANY_ROOMS);
		return;
	}
	if (creating && !cp_limits_room_allowed(src, g.now_ms)) {
		refuse(c, CP_ERR_SOURCE_ROOMS);
		return;
	}
	if (creating) {
		int lobby = cp_store_lobby(t->id, key);

		r = room_get(t->id, name, true);
		if (!r) {
			refuse(c, CP_ERR_INTERNAL);
			return;
		}
		r->lobby = lobby < 0 ? t->lobby : lobby;
		r->has_pw = need_pw;
		if (need_pw)
			memcpy(r->pw, pwh, sizeof(pwh));
		if (claims.one_time)
			r->one_time = true;
		cp_limits_room_opened(src, g.now_ms);
	}
	bool waits = r->lobby && !moderator;
	unsigned mine = 0;

	for (const struct cp_part *q = waits && src ? r->waiting : NULL; q; q = q->next)
		mine += q->src == src;
	e = waits			  ? (r->n_waiting >= t->max_participants ? CP_ERR_ROOM_FULL
					     : !cp_limits_lobby_allowed(t->max_participants, r->n_waiting, mine)
						     ? CP_ERR_SOURCE_LOBBY
						     : CP_ERR_OK)
	    : r->n >= t->max_participants ? CP_ERR_ROOM_FULL
					  : CP_ERR_OK;
	if (e) {
		refuse(c, e);
		if (creating)
			room_unlink(r);
		return;
	}
	int slot = waits ? -1 : slot_take(r, src);
	struct cp_part *p = slot >= 0 || waits ? part_new(c, r, m->name, name) : NULL;

	if (!p) {
		refuse(c, waits || slot >= 0 ? CP_ERR_INTERNAL : CP_ERR_SERVER_FULL);
		if (slot >= 0)
			cp_dp_slot_free(r->worker, slot);
		if (creating)
			room_unlink(r);
		return;
	}
	cp_store_touch(t->id, r->key, m->room == NULL, cp_clock_s());
	if (set_pw) {
		/* kept only as a salted hash, in the room and its record; never echoed */
		room_set_hash(r, v->made_hash, v->have_quick ? v->quick : NULL);
	} else if (need_pw && v && v->checked && v->ok && !memcmp(r->pw, v->hash, sizeof(r->pw))) {
		/* right, against the hash in force: the quick check from now on, and an old
		 * record's hash upgraded to today's work factor */
		if (v->made) {
			room_set_hash(r, v->made_hash, v->have_quick ? v->quick : NULL);
		} else if (v->have_quick) {
			memcpy(r->quick, v->quick, sizeof(r->quick));
			r->has_quick = true;
		}
	}
	char ip[64];

	cp_tenant_ip(t, conn_peer(c), ip, sizeof(ip));
	if (waits) {
		struct cp_part **tail = &r->waiting;

		while (*tail)
			tail = &(*tail)->next;
		*tail = p;
		p->waiting = true;
		r->n_waiting++;
		g.ops->set_part(c, p);
		send_json(p, json_pack("{s:s}", "type", "waiting"));
		FH_INFO("participant %s waits in a lobby on worker %u (%u waiting, source %s)",
			p->pseudo, r->worker, r->n_waiting, ip);
		lobby_update(r, NULL);
		return;
	}
	p->moderator = moderator;
	enter(p, t, slot);
	g.metrics.joins++;
	FH_INFO("participant %s joined a room on worker %u (%u in the room, source %s)", p->pseudo,
		p->worker, r->n, ip);
}

static struct cp_part *part_by_id(struct cp_part *list, const char *id)
{
	char want[17];

	for (struct cp_part *q = list; q; q = q->next) {
		part_hex_id(q, want);
		if (!strcmp(want, id))
			return q;
	}
	return NULL;
}

static void room_close(struct cp_room *r, const char *reason);

/* ---- what moderators (and admins, through the API) do ---- */

/* Forwarding of q's audio stops now; q is asked, and unmutes itself or not. */
static void mod_mute(struct cp_part *q)
{
	char id[17];

	q->forced_mute = true;
	q->audio_muted = true;
	dp_mute(q, true);
	if (q->conn)
		send_json(q, json_pack("{s:s, s:s}", "type", "moderation", "action", "mute"));
	part_hex_id(q, id);
	broadcast(q->room, NULL,
		  json_pack("{s:s, s:s, s:b, s:b}", "type", "mute", "id", id, "audioMuted", true,
			    "videoMuted", q->video_muted));
	note_save(q);
}

static void mod_remove(struct cp_part *q, const char *why)
{
	if (q->conn)
		send_json(q, json_pack("{s:s, s:s}", "type", "closed", "reason", "removed"));
	leave(q, why);
}

/* The room's password is now what r holds (set or cleared): everyone is told, and those
 * waiting in the lobby are asked for it. */
static void password_applied(struct cp_room *r)
{
	broadcast(r, NULL, json_pack("{s:s, s:b}", "type", "room", "password", r->has_pw));
	while (r->has_pw && r->waiting)
		lobby_drop(r->waiting, cp_sig_error_json(CP_ERR_PASSWORD_REQUIRED),
			   "a password was set");
	lobby_update(r, NULL);
	note_save_room(r);
}

/* A new password for a room (tenant and key, never a pointer: the room may end while it is
 * hashed), from a moderator or an admin. */
struct pw_set {
	char tenant[33];
	char key[CP_ROOM_MAX + 1];
};

static void pw_set_done(void *user, bool ok, const uint8_t *hash, const uint8_t *quick)
{
	struct pw_set *ps = user;
	struct cp_room *r = room_get(ps->tenant, ps->key, false);

	if (ok && hash) {
		if (r) {
			room_set_hash(r, hash, quick);
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
static enum cp_err mod_password(struct cp_room *r, const char *password)
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
static void mod_lobby(struct cp_room *r, bool on)
{
	r->lobby = on;
	cp_store_set_lobby(r->tenant, r->key, r->lobby);
	broadcast(r, NULL, json_pack("{s:s, s:b}", "type", "room", "lobby", r->lobby));
	while (!r->lobby && r->waiting && admit(r->waiting) == CP_ERR_OK)
		;
	while (!r->lobby && r->waiting)
		lobby_drop(r->waiting, cp_sig_error_json(CP_ERR_ROOM_FULL), "room full");
	lobby_update(r, NULL);
	note_save_room(r);
}

static void moderate(struct cp_part *p, const struct cp_sig_msg *m)
{
	struct cp_room *r = p->room;
	const struct cp_tenant *t = room_tenant(r);
	bool in_lobby = m->action == CP_MOD_ADMIT || m->action == CP_MOD_DENY;
	struct cp_part *q =
		m->target ? part_by_id(in_lobby ? r->waiting : r->parts, m->target) : NULL;
	char id[17];
	enum cp_err e;

	if (!p->moderator) {
		send_error(p->conn, CP_ERR_NOT_MODERATOR);
		return;
	}
	if (!q && (in_lobby || m->action == CP_MOD_MUTE || m->action == CP_MOD_REMOVE ||
		   m->action == CP_MOD_PROMOTE)) {
		send_error(p->conn, CP_ERR_NO_SUCH_PARTICIPANT);
		return;
	}
	if (m->action == CP_MOD_PASSWORD && !m->password[0] && t && t->password_required) {
		send_error(p->conn, CP_ERR_PASSWORD_POLICY);
		return;
	}
	static const char *const what[] = {"mute",     "remove", "end",	 "promote", "one-time",
					   "password", "admit",	 "deny", "lobby"};

	FH_INFO("participant %s: moderation %s%s%s", p->pseudo, what[m->action], q ? " of " : "",
		q ? q->pseudo : "");
	switch (m->action) {
	case CP_MOD_MUTE:
		mod_mute(q);
		break;
	case CP_MOD_REMOVE:
		mod_remove(q, "removed by a moderator");
		break;
	case CP_MOD_END:
		room_close(r, "ended"); /* frees r, p and q */
		return;
	case CP_MOD_PASSWORD:
		if ((e = mod_password(r, m->password)))
			send_error(p->conn, e);
		break;
	case CP_MOD_ONE_TIME:
		r->one_time = true;
		broadcast(r, NULL, json_pack("{s:s, s:b}", "type", "room", "oneTime", true));
		break;
	case CP_MOD_PROMOTE:
		q->moderator = true;
		part_hex_id(q, id);
		broadcast(r, NULL, json_pack("{s:s, s:s}", "type", "moderator", "id", id));
		lobby_update(r, q);
		break;
	case CP_MOD_ADMIT:
		e = admit(q);
		if (e)
			send_error(p->conn, e);
		lobby_update(r, NULL);
		break;
	case CP_MOD_DENY:
		lobby_drop(q, closed_msg("denied"), "denied");
		lobby_update(r, NULL);
		break;
	case CP_MOD_LOBBY:
		mod_lobby(r, m->on);
		break;
	}
	note_save_room(r); /* moderation a restarted control plane must know of */
}

/* One waiting in a lobby leaves it (or its connection went). */
static void lobby_leave(struct cp_part *p, const char *why)
{
	struct cp_room *r = p->room;

	lobby_drop(p, NULL, why);
	lobby_update(r, NULL);
	room_release(r);
}

/* ---- notes: a restarted control plane takes the calls over ----
 *
 * For every participant in the dataplane the control plane keeps a note in the region
 * (cp_dp_note: the dataplane stores it and never reads it): its id, its room, what it publishes
 * and how its m-lines map to sources, the hash of the secret it may resume with. A new
 * funkhaus-cp reads the notes of the slots still live and rebuilds rooms and participants from
 * them; the clients reconnect their signalling and resume (same id, same media, no new DTLS).
 * No display name is in a note: the client says it again when it resumes. */

#define NOTE_MAGIC 0x464b4e32u /* "FKN2" */
#define NOTE_MID_MAX 16
#define NOTE_ML (FH_MAX_RECV_STREAMS + 2)

struct note_ml {
	char mid[NOTE_MID_MAX + 1];
	uint8_t kind;
	uint8_t flags; /* 1 publish, 2 assigned, 4 dead */
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
	char key[CP_ROOM_MAX + 1];
	uint8_t flags;	    /* 1 moderator, 2 forced mute, 4 audio muted, 8 video muted */
	uint8_t room_flags; /* 1 one-time, 2 lobby, 4 password */
	uint8_t pw[CP_PW_HASH_LEN];
	char lufrag[FH_UFRAG_MAX + 1];
	char lpwd[FH_PWD_MAX + 1];
	char rufrag[FH_UFRAG_MAX + 1];
	char fp_alg[16];
	uint8_t fp[64];
	uint8_t fp_len;
	char our_fp[128];
	struct cp_track pub[2];
	uint16_t n_ml;
	struct note_ml ml[NOTE_ML];
};
_Static_assert(sizeof(struct note) <= FH_NOTE_SIZE, "a note fits its place in the region");

static void note_save(const struct cp_part *p)
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
			    p->video_muted << 3);
	n.room_flags = (uint8_t)(r->one_time | r->lobby << 1 | r->has_pw << 2);
	memcpy(n.pw, r->pw, sizeof(n.pw));
	memcpy(n.lufrag, p->lufrag, sizeof(n.lufrag));
	memcpy(n.lpwd, p->lpwd, sizeof(n.lpwd));
	memcpy(n.rufrag, p->rufrag, sizeof(n.rufrag));
	memcpy(n.fp_alg, p->fp_alg, sizeof(n.fp_alg));
	memcpy(n.fp, p->fp, sizeof(n.fp));
	n.fp_len = (uint8_t)p->fp_len;
	memcpy(n.our_fp, p->our_fp, sizeof(n.our_fp));
	memcpy(n.pub, p->pub, sizeof(n.pub));
	if (p->n_ml > NOTE_ML)
		goto none; /* cannot be described: it will not resume, its call goes on */
	n.n_ml = (uint16_t)p->n_ml;
	for (unsigned i = 0; i < p->n_ml; i++) {
		const struct cp_mline *m = &p->ml[i];

		if (strlen(m->mid) > NOTE_MID_MAX)
			goto none;
		memcpy(n.ml[i].mid, m->mid, strlen(m->mid) + 1);
		n.ml[i].kind = (uint8_t)m->kind;
		n.ml[i].flags = (uint8_t)(m->publish | m->assigned << 1 | m->dead << 2);
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

static void note_save_room(const struct cp_room *r)
{
	for (const struct cp_part *q = r->parts; q; q = q->next)
		note_save(q);
}

static void note_clear(const struct cp_part *p)
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
	if (!cp_tenant_by_id(&g.tenants, n.tenant) || !cp_sig_valid_room(n.key) ||
	    n.n_ml > NOTE_ML || n.fp_len > sizeof(n.fp))
		return false;
	struct cp_room *r = room_get(n.tenant, n.key, false);

	if (!r) {
		r = room_get(n.tenant, n.key, true);
		if (!r)
			return false;
		/* the room the dataplane forwards in: its worker, its id */
		r->worker = w;
		r->id = n.room_id;
		r->one_time = n.room_flags & 1;
		r->lobby = n.room_flags & 2;
		r->has_pw = n.room_flags & 4;
		memcpy(r->pw, n.pw, sizeof(r->pw));
	} else if (r->worker != w || r->id != n.room_id) {
		return false; /* two rooms of one name: only the first one's participants resume */
	}
	if (n.room_id >= g.next_room_id)
		g.next_room_id = n.room_id + 1;
	struct cp_part *p = part_new(NULL, r, "", n.key);

	if (!p || (n.n_ml && !(p->ml = calloc(n.n_ml, sizeof(*p->ml))))) {
		free(p);
		room_release(r);
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
	memcpy(p->lufrag, n.lufrag, sizeof(p->lufrag));
	memcpy(p->lpwd, n.lpwd, sizeof(p->lpwd));
	memcpy(p->rufrag, n.rufrag, sizeof(p->rufrag));
	memcpy(p->fp_alg, n.fp_alg, sizeof(p->fp_alg));
	memcpy(p->fp, n.fp, sizeof(p->fp));
	p->fp_len = n.fp_len;
	memcpy(p->our_fp, n.our_fp, sizeof(p->our_fp));
	memcpy(p->pub, n.pub, sizeof(p->pub));
	p->n_ml = n.n_ml;
	for (unsigned i = 0; i < n.n_ml; i++) {
		struct cp_mline *m = &p->ml[i];

		memcpy(m->mid, n.ml[i].mid, NOTE_MID_MAX);
		m->mid[NOTE_MID_MAX] = '\0';
		m->kind = n.ml[i].kind == CP_KIND_VIDEO ? CP_KIND_VIDEO : CP_KIND_AUDIO;
		m->publish = n.ml[i].flags & 1;
		m->assigned = n.ml[i].flags & 2;
		m->dead = n.ml[i].flags & 4;
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
	p->since_ms = g.now_ms;
	g.by_slot[w][s] = p;
	cp_dp_slot_claim(w, s);
	p->next = r->parts;
	r->parts = p;
	r->n++;
	g.n_parts++;
	OPENSSL_cleanse(&n, sizeof(n));
	return true;
}

/* The dataplane is attached: every live slot with a note becomes a participant again. */
static void on_attached(void)
{
	unsigned n = 0;

	g.now_ms = g.ops->now_ms();
	for (unsigned w = 0; w < cp_dp_workers(); w++)
		for (unsigned s = 0; s < FH_MAX_SLOTS; s++)
			if (cp_dp_slot_orphan(w, s))
				n += note_adopt(w, s);
	if (n)
		FH_INFO("%u participant(s) in %u room(s) still in the dataplane: they may resume "
			"within %u s",
			n, g.n_rooms, cp_limits()->resume_timeout);
}

/* Assigned m-lines of p whose source is not in the room (it left while no control plane
 * ran): they go, as they would have on its leave. */
static bool drop_gone_sources(struct cp_part *p)
{
	bool changed = false;

	for (unsigned i = 0; i < p->n_ml; i++) {
		struct cp_mline *m = &p->ml[i];
		bool there = false;

		if (!m->assigned)
			continue;
		for (const struct cp_part *q = p->room->parts; q && !there; q = q->next)
			there = q->id == m->src && q != p;
		if (!there) {
			unassign(p, m);
			changed = true;
		}
	}
	return changed;
}

static bool lacks_lines(const struct cp_part *p)
{
	for (const struct cp_part *q = p->room->parts; q; q = q->next)
		if (q != p && ((q->pub[0].present && !has_mline_for(p, q->id, CP_KIND_AUDIO)) ||
			       (q->pub[1].present && !has_mline_for(p, q->id, CP_KIND_VIDEO))))
			return true;
	return false;
}

static void resume_secret(struct cp_part *p, char out[32])
{
	uint8_t b[16];

	rand_bytes(b, sizeof(b));
	cp_b64url_encode(b, sizeof(b), out, 32);
	SHA256((const uint8_t *)out, strlen(out), p->resume);
	OPENSSL_cleanse(b, sizeof(b));
}

static struct cp_part *orphan_by_id(const char *id)
{
	for (struct cp_room *r = g.rooms; r; r = r->next) {
		struct cp_part *p = part_by_id(r->parts, id);

		if (p)
			return p->orphan ? p : NULL;
	}
	return NULL;
}

/* A client whose signalling broke with a control-plane restart takes its participant back:
 * its id, the secret it was given, the room's name and the tenant it reached prove it. */
static void handle_resume(struct cp_conn *c, const struct cp_sig_msg *m)
{
	const struct cp_tenant *t = conn_tenant(c);
	struct cp_part *p = m->target ? orphan_by_id(m->target) : NULL;
	uint8_t h[32];
	char key[CP_ROOM_MAX + 1], id[17];

	if (!cp_dp_attached()) {
		/* a control plane just started may not have read the notes yet: try again */
		send_error(c, CP_ERR_UNAVAILABLE);
		g.ops->close(c);
		return;
	}
	if (!p || !t || !m->room || !m->secret) {
		send_error(c, CP_ERR_RESUME_FAILED);
		return;
	}
	SHA256((const uint8_t *)m->secret, strlen(m->secret), h);
	room_key(m->room, key);
	if (CRYPTO_memcmp(h, p->resume, sizeof(h)) || strcmp(t->id, p->room->tenant) ||
	    strcmp(key, p->room->key)) {
		send_error(c, CP_ERR_RESUME_FAILED);
		return;
	}
	struct cp_room *r = p->room;

	p->orphan = false;
	p->conn = c;
	snprintf(p->name, sizeof(p->name), "%s", m->name);
	snprintf(p->room_as, sizeof(p->room_as), "%s", m->room);
	p->src = conn_source(c);
	cp_limits_part_add(p->src);
	g.ops->set_part(c, p);
	json_t *list = json_array();

	for (struct cp_part *q = r->parts; q; q = q->next)
		if (q != p)
			json_array_append_new(list, part_json(q));
	part_hex_id(p, id);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:b, s:b, s:b}", "type", "resumed",
			      "id", id, "room", p->room_as, "participants", list, "chat", t->chat,
			      "moderator", p->moderator, "lobby", r->lobby, "password", r->has_pw,
			      "audioMuted", p->audio_muted);

	if (o && g.conf.turn_secret_len)
		json_object_set_new(o, "iceServers", turn_servers(p));
	send_json(p, o);
	/* the others learn its name again; a newcomer since the restart meets it */
	broadcast(
		r, p,
		json_pack("{s:s, s:o}", "type", "participant-joined", "participant", part_json(p)));
	bool dropped = drop_gone_sources(p);

	if (dropped || lacks_lines(p))
		request_renegotiation(p);
	for (struct cp_part *q = r->parts; q; q = q->next)
		if (q != p && !q->orphan && lacks_lines(q))
			request_renegotiation(q);
	if (p->moderator)
		lobby_update(r, p);
	note_save(p);
	FH_INFO("participant %s resumed its call after a control-plane restart", p->pseudo);
}

/* Orphans that did not come back within resume_timeout leave, as on a closed connection. */
static void reap_orphans(uint64_t now_ms)
{
	uint64_t bound = cp_limits()->resume_timeout * 1000ull;

	for (struct cp_room *r = g.rooms; r; r = r->next) {
		for (struct cp_part *p = r->parts; p; p = p->next) {
			if (!p->orphan || now_ms - p->since_ms < bound)
				continue;
			leave(p, "did not resume after a control-plane restart");
			return; /* the lists changed: the next tick goes on */
		}
	}
}

void cp_room_message(struct cp_conn *c, const char *buf, size_t len)
{
	struct cp_sig_msg m;
	struct cp_part *p = g.ops->part(c);
	enum cp_err e;

	g.now_ms = g.ops->now_ms();
	e = cp_sig_parse(buf, len, &m);
	if (e != CP_ERR_OK) {
		send_error(c, e);
		goto out;
	}
	if (m.type == CP_MSG_PING) {
		g.ops->send(c, strdup("{\"type\":\"pong\"}"));
		goto out;
	}
	if (m.type == CP_MSG_JOIN || m.type == CP_MSG_RESUME) {
		if (p || pw_wait_of(c))
			send_error(c, CP_ERR_ALREADY_JOINED);
		else if (m.type == CP_MSG_JOIN)
			handle_join(c, &m, buf, len, NULL);
		else
			handle_resume(c, &m);
		goto out;
	}
	if (!p) {
		send_error(c, CP_ERR_NOT_JOINED);
		goto out;
	}
	if (p->waiting) {
		/* in the lobby: nothing but leaving until a moderator decides */
		if (m.type == CP_MSG_LEAVE) {
			lobby_leave(p, "left");
			g.ops->send(c, strdup("{\"type\":\"left\"}"));
		} else {
			send_error(c, CP_ERR_WAITING);
		}
		goto out;
	}
	switch (m.type) {
	case CP_MSG_OFFER:
		handle_offer(p, m.sdp, m.sdp_len);
		break;
	case CP_MSG_CHAT: {
		const struct cp_tenant *t = room_tenant(p->room);

		if (!t || !t->chat) {
			send_error(c, CP_ERR_CHAT_OFF);
			break;
		}
		char id[17];

		part_hex_id(p, id);
		/* relayed to the room as it is and never written anywhere */
		broadcast(p->room, NULL,
			  json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "chat", "from", id, "name",
				    p->name, "text", m.text, "ts", (json_int_t)epoch_ms()));
		break;
	}
	case CP_MSG_MUTE: {
		char id[17];

		if (m.audio_muted >= 0)
			p->audio_muted = m.audio_muted;
		if (p->forced_mute && m.audio_muted == 0) {
			/* it unmuted itself after being asked: its audio goes out again */
			p->forced_mute = false;
			dp_mute(p, false);
		}
		if (m.video_muted >= 0)
			p->video_muted = m.video_muted;
		part_hex_id(p, id);
		broadcast(p->room, NULL,
			  json_pack("{s:s, s:s, s:b, s:b}", "type", "mute", "id", id, "audioMuted",
				    p->audio_muted, "videoMuted", p->video_muted));
		note_save(p);
		break;
	}
	case CP_MSG_MODERATE:
		moderate(p, &m);
		break;
	case CP_MSG_LEAVE:
		leave(p, "left");
		g.ops->send(c, strdup("{\"type\":\"left\"}"));
		break;
	default:
		break;
	}
out:
	cp_sig_msg_free(&m);
}

void cp_room_closed(struct cp_conn *c)
{
	struct cp_part *p = g.ops->part(c);
	struct pw_wait *w = pw_wait_of(c);

	if (w) {
		cp_pwhash_cancel(w->ticket);
		pw_wait_unlink(w);
	}
	if (!p)
		return;
	p->conn = NULL;
	if (p->waiting)
		lobby_leave(p, "connection closed");
	else
		leave(p, "connection closed");
}

/* ---- dataplane events ---- */

static void fail_part(struct cp_part *p, enum cp_err e, const char *why)
{
	struct cp_conn *c = p->conn;

	if (e == CP_ERR_DTLS_FAILED)
		g.metrics.dtls_failed++;

	if (c)
		send_error(c, e);
	leave(p, why);
	if (c)
		g.ops->close(c);
}

static void media_up(struct cp_part *p)
{
	struct fh_cmd c = {.type = FH_CMD_KEYS};

	if (!cp_dtls_peer_matches(p->dtls, p->fp_alg, p->fp, p->fp_len)) {
		FH_WARN("participant %s: DTLS certificate does not match its SDP fingerprint",
			p->pseudo);
		fail_part(p, CP_ERR_DTLS_FAILED, "fingerprint mismatch");
		return;
	}
	if (cp_dtls_srtp_keys(p->dtls, &c.u.keys) < 0) {
		fail_part(p, CP_ERR_DTLS_FAILED, "no SRTP profile");
		return;
	}
	uint8_t profile = c.u.keys.profile;

	dp_cmd(p, &c);
	OPENSSL_cleanse(&c, sizeof(c));
	p->media_up = true;
	uint64_t ms = g.now_ms - p->dtls_start_ms;
	unsigned b = 0;

	while (b < 7 && ms > cp_room_dtls_bucket_ms[b])
		b++;
	g.metrics.dtls_ok++;
	g.metrics.dtls_ms_buckets[b]++;
	g.metrics.dtls_ms_sum += ms;
	FH_INFO("participant %s: media connected (%s) after %llu ms", p->pseudo,
		profile == FH_SRTP_AES128_CM_SHA1_80 ? "AES_CM_128_HMAC_SHA1_80"
						     : "AEAD_AES_128_GCM",
		(unsigned long long)(g.now_ms - p->dtls_start_ms));
	send_json(p, json_pack("{s:s, s:s}", "type", "media", "state", "connected"));
}

static void on_packet(unsigned w, const struct fh_pkt_msg *m)
{
	struct cp_part *p = g.by_slot[w][m->slot];

	if (!p || !p->dtls)
		return;
	enum cp_dtls_state before = cp_dtls_state(p->dtls);
	enum cp_dtls_state st = cp_dtls_input(p->dtls, m->data, m->len);

	if (st == CP_DTLS_DONE && before == CP_DTLS_HANDSHAKE)
		media_up(p);
	else if (st == CP_DTLS_FAILED && before != CP_DTLS_FAILED) {
		FH_INFO("participant %s: DTLS ended: %s", p->pseudo, cp_dtls_error(p->dtls));
		fail_part(p, CP_ERR_DTLS_FAILED, "DTLS failed or closed");
	}
}

static void on_event(unsigned w, const struct fh_evt *e)
{
	struct cp_part *p = e->slot < FH_MAX_SLOTS ? g.by_slot[w][e->slot] : NULL;

	switch (e->type) {
	case FH_EVT_BOUND:
		if (p)
			FH_DEBUG("participant %s: ICE check from a %s address", p->pseudo,
				 e->addr.family == FH_AF_INET ? "IPv4" : "IPv6");
		break;
	case FH_EVT_CONSENT_LOST:
		if (p) {
			FH_INFO("participant %s: consent expired", p->pseudo);
			fail_part(p, CP_ERR_MEDIA_TIMEOUT, "consent expired");
		}
		break;
	case FH_EVT_CMD_ERR:
		FH_WARN("worker %u refused command %u for slot %u", w, e->arg, e->slot);
		break;
	default:
		break;
	}
}

static void on_lost(void)
{
	/* Media state died with the dataplane: everyone must rejoin. */
	for (struct cp_room *r = g.rooms; r; r = r->next) {
		r->closing = true;
		while (r->waiting)
			lobby_drop(r->waiting, cp_sig_error_json(CP_ERR_UNAVAILABLE),
				   "dataplane lost");
	}
	while (g.rooms) {
		struct cp_part *p = g.rooms->parts;

		if (!p) {
			room_unlink(g.rooms);
			continue;
		}
		p->in_dp = false;
		g.by_slot[p->worker][p->slot] = NULL;
		p->slot = -1;
		fail_part(p, CP_ERR_UNAVAILABLE, "dataplane lost");
	}
	memset(g.by_slot, 0, sizeof(g.by_slot));
}

/* Ends one participant that has waited past its bound, if any, and returns it (freed: only
 * to say that there was one): joined without media up within media_timeout (it holds a slot,
 * a place in its room and its tenant's room count), or waiting in a lobby past lobby_timeout. */
static struct cp_part *overdue(uint64_t now_ms)
{
	uint64_t media = cp_limits()->media_timeout * 1000ull;
	uint64_t lobby = cp_limits()->lobby_timeout * 1000ull;

	for (struct cp_room *r = g.rooms; r; r = r->next) {
		for (struct cp_part *p = r->parts; p; p = p->next) {
			if (p->media_up || now_ms - p->since_ms < media)
				continue;
			cp_limits_count(CP_REFUSE_media_timeout);
			fail_part(p, CP_ERR_MEDIA_SETUP_TIMEOUT, "no media in time after joining");
			return p;
		}
		for (struct cp_part *p = r->waiting; p; p = p->next) {
			if (now_ms - p->since_ms < lobby)
				continue;
			cp_limits_count(CP_REFUSE_lobby_timeout);
			lobby_drop(p, cp_sig_error_json(CP_ERR_LOBBY_TIMEOUT), "waited too long");
			lobby_update(r, NULL);
			room_release(r);
			return p;
		}
	}
	return NULL;
}

/* The participant whose handshake is overdue or failed, if any. */
static struct cp_part *dtls_casualty(uint64_t now_ms, enum cp_err *e)
{
	for (struct cp_room *r = g.rooms; r; r = r->next) {
		for (struct cp_part *p = r->parts; p; p = p->next) {
			if (!p->dtls || p->media_up)
				continue;
			if (now_ms - p->dtls_start_ms > g.conf.dtls_timeout_s * 1000ull ||
			    cp_dtls_tick(p->dtls) == CP_DTLS_FAILED) {
				*e = CP_ERR_DTLS_FAILED;
				return p;
			}
		}
	}
	return NULL;
}

void cp_room_tick(uint64_t now_ms)
{
	struct cp_part *p;
	enum cp_err e;

	g.now_ms = now_ms;
	cp_dp_poll(now_ms);
	cp_pwhash_poll();
	if (now_ms - g.last_expiry >= 60000) {
		g.last_expiry = now_ms;
		expire_records();
	}
	if (now_ms - g.last_rate_ms >= 1000) {
		uint64_t dt = now_ms - g.last_rate_ms;

		for (unsigned w = 0; cp_dp_attached() && w < cp_dp_workers(); w++) {
			const struct fh_counters *k = cp_dp_counters(w);
			uint64_t rx = k->ctr[FH_CTR_rx_bytes], tx = k->ctr[FH_CTR_tx_bytes];

			g.rx_bps[w] = rx >= g.last_rx[w] ? (rx - g.last_rx[w]) * 8000 / dt : 0;
			g.tx_bps[w] = tx >= g.last_tx[w] ? (tx - g.last_tx[w]) * 8000 / dt : 0;
			g.last_rx[w] = rx;
			g.last_tx[w] = tx;
		}
		g.last_rate_ms = now_ms;
	}
	if (now_ms - g.last_dtls_tick < 50)
		return;
	g.last_dtls_tick = now_ms;
	while ((p = dtls_casualty(now_ms, &e)))
		fail_part(p, e, "no secure media connection in time");
	if (now_ms - g.last_wait_check >= 1000) {
		g.last_wait_check = now_ms;
		while ((p = overdue(now_ms)))
			;
		reap_orphans(now_ms);
		cp_dp_reap(now_ms, cp_limits()->resume_timeout);
	}
}

void cp_room_stats(int *dp_ready, unsigned *rooms, unsigned *participants)
{
	*dp_ready = cp_dp_ready();
	*rooms = g.n_rooms;
	*participants = g.n_parts;
}

/* Ends a room for everyone in it with a reason the client shows. */
static void room_close(struct cp_room *r, const char *reason)
{
	FH_INFO("a room of tenant %s closed: %s", r->tenant, reason);
	r->closing = true;
	while (r->waiting)
		lobby_drop(r->waiting, closed_msg(reason), reason);
	if (!r->n) {
		room_release(r);
		return;
	}
	while (r->parts) {
		struct cp_part *p = r->parts;
		struct cp_conn *c = p->conn;
		bool last = r->n == 1;

		if (c)
			g.ops->send(c, closed_msg(reason));
		leave(p, reason);
		if (last)
			break; /* leave freed the room with its last participant */
	}
}

static unsigned inactivity_days(const char *tenant)
{
	const struct cp_tenant *t = cp_tenant_by_id(&g.tenants, tenant);

	return t ? t->room_inactivity_days : 7;
}

/* Rooms in use count as used now; records unused for their tenant's days go. */
static void expire_records(void)
{
	int64_t now = cp_clock_s();

	if (!cp_store_enabled())
		return;
	for (struct cp_room *r = g.rooms; r; r = r->next)
		cp_store_touch(r->tenant, r->key, false, now);
	cp_store_expire(now, inactivity_days);
}

void cp_room_set_tenants(struct cp_tenants *ts)
{
	cp_tenants_free(&g.tenants);
	g.tenants = *ts;
	ts->t = NULL;
	ts->n = 0;
	/* rooms of a tenant that went away or was switched off end now */
	for (struct cp_room *r = g.rooms, *rn; r; r = rn) {
		const struct cp_tenant *t = room_tenant(r);

		rn = r->next;
		if (!t || !t->public_access)
			room_close(r, t ? "access-off" : "tenant-removed");
	}
	expire_records();
}

unsigned cp_room_log_days(unsigned max)
{
	for (unsigned i = 0; i < g.tenants.n; i++)
		if (g.tenants.t[i].log_retention_days < max)
			max = g.tenants.t[i].log_retention_days;
	return max;
}

char *cp_room_tenant_info(const char *host, const char *path)
{
	const struct cp_tenant *t = cp_tenant_for(&g.tenants, host, path);

	if (!t)
		return NULL;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b}", "id", t->id, "name",
			      t->display_name, "prefix", t->path_prefix, "imprint", t->imprint,
			      "privacy", t->privacy, "login", t->create == CP_CREATE_AUTHENTICATED,
			      "chat", t->chat, "open", t->public_access);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

int cp_room_init(const struct cp_room_conf *c, const char *region_name,
		 const struct cp_room_conn_ops *ops)
{
	static const struct cp_dp_handlers h = {
		.event = on_event, .packet = on_packet, .lost = on_lost, .attached = on_attached};

	memset(&g, 0, sizeof(g));
	g.ops = ops;
	g.conf = *c;
	if (c->n_announce > 16 || c->n_announce == 0)
		return -1;
	memcpy(g.announce, c->announce, c->n_announce * sizeof(*c->announce));
	g.conf.announce = g.announce;
	rand_bytes(&g.next_room_id, sizeof(g.next_room_id));
	g.next_room_id &= 0x7fffffff;
	if (cp_dtls_global_init() < 0) {
		FH_ERR("cannot create the DTLS certificate");
		return -1;
	}
	if (cp_pwhash_init(0, 16) < 0) {
		FH_ERR("cannot start the password hashing threads");
		return -1;
	}
	cp_dp_init(region_name, &h);
	return 0;
}

void cp_room_fini(void)
{
	for (struct cp_room *r = g.rooms; r;) {
		struct cp_room *rn = r->next;

		while (r->waiting)
			lobby_drop(r->waiting, NULL, "shutting down");
		while (r->parts) {
			struct cp_part *p = r->parts;

			r->parts = p->next;
			if (p->in_dp) {
				struct fh_cmd c = {.type = FH_CMD_PART_DEL,
						   .slot = (uint16_t)p->slot};

				cp_dp_cmd(p->worker, &c);
			}
			part_free(p);
		}
		free(r);
		r = rn;
	}
	g.rooms = NULL;
	cp_pwhash_fini();
	while (pw_waits)
		pw_wait_unlink(pw_waits);
	cp_tenants_free(&g.tenants);
	cp_dp_fini();
	cp_dtls_global_fini();
}

/* ---- the admin API ---- */

static struct cp_room *api_room(const char *tenant, const char *room)
{
	char key[CP_ROOM_MAX + 1];

	if (!cp_sig_valid_room(room))
		return NULL;
	room_key(room, key);
	for (struct cp_room *r = g.rooms; r; r = r->next)
		if (!strcmp(r->tenant, tenant) && !strcmp(r->key, key))
			return r;
	return NULL;
}

static struct cp_part *api_part(const char *tenant, const char *room, const char *id)
{
	struct cp_room *r = api_room(tenant, room);

	return r ? part_by_id(r->parts, id) : NULL;
}

void cp_room_tenant_load(const char *tenant, unsigned *rooms, unsigned *participants,
			 unsigned *waiting)
{
	*rooms = *participants = *waiting = 0;
	for (struct cp_room *r = g.rooms; r; r = r->next) {
		if (strcmp(r->tenant, tenant))
			continue;
		(*rooms)++;
		*participants += r->n;
		*waiting += r->n_waiting;
	}
}

static json_t *tenant_json(const struct cp_tenant *t)
{
	json_t *o = cp_tenant_json(t);
	unsigned rooms, parts, waiting;

	cp_room_tenant_load(t->id, &rooms, &parts, &waiting);
	json_object_set_new(o, "active_rooms", json_integer(rooms));
	json_object_set_new(o, "participants", json_integer(parts));
	return o;
}

json_t *cp_room_api_tenants(void)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < g.tenants.n; i++)
		json_array_append_new(a, tenant_json(&g.tenants.t[i]));
	return a;
}

json_t *cp_room_api_tenant(const char *tenant)
{
	const struct cp_tenant *t = cp_tenant_by_id(&g.tenants, tenant);

	return t ? tenant_json(t) : NULL;
}

static json_t *room_json(const struct cp_room *r)
{
	return json_pack("{s:s, s:i, s:i, s:i, s:i, s:b, s:b, s:b}", "name", r->key, "participants",
			 r->n, "waiting", r->n_waiting, "worker", r->worker, "port",
			 cp_dp_worker_port(r->worker), "lobby", r->lobby, "password", r->has_pw,
			 "one_time", r->one_time);
}

json_t *cp_room_api_rooms(const char *tenant)
{
	json_t *a;

	if (!cp_tenant_by_id(&g.tenants, tenant))
		return NULL;
	a = json_array();
	for (struct cp_room *r = g.rooms; r; r = r->next)
		if (!strcmp(r->tenant, tenant))
			json_array_append_new(a, room_json(r));
	return a;
}

json_t *cp_room_api_room(const char *tenant, const char *room)
{
	struct cp_room *r = api_room(tenant, room);
	json_t *o, *list;
	char id[17];

	if (!r)
		return NULL;
	o = room_json(r);
	list = json_array();
	/* people by pseudonym and role only: their names are none of the admin's business */
	for (struct cp_part *q = r->parts; q; q = q->next) {
		part_hex_id(q, id);
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:s, s:b, s:b}", "id", id, "pseudonym",
						q->pseudo, "role",
						q->moderator ? "moderator" : "participant", "media",
						q->media_up, "audio_muted", q->audio_muted));
	}
	json_object_set_new(o, "participant_list", list);
	json_object_set_new(o, "worker_rx_bps", json_integer((json_int_t)g.rx_bps[r->worker]));
	json_object_set_new(o, "worker_tx_bps", json_integer((json_int_t)g.tx_bps[r->worker]));
	return o;
}

int cp_room_api_close(const char *tenant, const char *room)
{
	struct cp_room *r = api_room(tenant, room);

	if (!r)
		return -1;
	room_close(r, "admin");
	return 0;
}

int cp_room_api_mute(const char *tenant, const char *room, const char *id)
{
	struct cp_part *q = api_part(tenant, room, id);

	if (!q)
		return -1;
	mod_mute(q);
	return 0;
}

int cp_room_api_remove(const char *tenant, const char *room, const char *id)
{
	struct cp_part *q = api_part(tenant, room, id);

	if (!q)
		return -1;
	mod_remove(q, "removed by an admin");
	return 0;
}

int cp_room_api_password(const char *tenant, const char *room, const char *password)
{
	struct cp_room *r = api_room(tenant, room);

	if (!r)
		return -1;
	return mod_password(r, password) ? -2 : 0;
}

int cp_room_api_lobby(const char *tenant, const char *room, bool on)
{
	struct cp_room *r = api_room(tenant, room);

	if (!r)
		return -1;
	mod_lobby(r, on);
	return 0;
}

void cp_room_set_draining(bool on, unsigned grace_s)
{
	if (on == g.draining)
		return;
	g.draining = on;
	FH_INFO("%s", on ? "draining: no new rooms here, running ones go on"
			 : "drain ended: new rooms open here again");
	/* everyone hears of it: the client may tell its people the server goes away */
	for (struct cp_room *r = g.rooms; r; r = r->next)
		broadcast(r, NULL,
			  json_pack("{s:s, s:b, s:i}", "type", "server", "draining", on, "grace",
				    on ? (int)grace_s : 0));
}

bool cp_room_draining(void)
{
	return g.draining;
}

const struct cp_room_metrics *cp_room_metrics(void)
{
	return &g.metrics;
}
