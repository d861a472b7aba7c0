/*
 * cp_media: what the dataplane tells cp_room (cp_dp's handlers) and each participant's DTLS
 * handshake: DTLS records up and down, SRTP keys down once the peer's certificate matches its
 * SDP fingerprint, consent expiry, the dataplane lost (every call ends) or attached (cp_resume
 * takes the calls over). Event loop only.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cp_dp.h"
#include "cp_dtls.h"
#include "cp_room_pvt.h"
#include "cp_sig.h"
#include "fh_log.h"

const unsigned cp_room_dtls_bucket_ms[7] = {50, 100, 250, 500, 1000, 2500, 5000};

void cp_media_dtls_send(void *user, const uint8_t *data, size_t len)
{
	struct cp_part *p = user;

	if (!cp_dp_attached())
		return; /* stopping, or the dataplane is away: the call is not ended from here */
	if (cp_dp_send(p->worker, (uint16_t)p->slot, data, len) < 0)
		FH_WARN("participant %s: DTLS record dropped, ring full", p->pseudo);
}

void cp_media_fail(struct cp_part *p, enum cp_err e, const char *why)
{
	struct cp_conn *c = p->conn;

	if (e == CP_ERR_DTLS_FAILED)
		cp_room_g.metrics.dtls_failed++;

	if (c)
		cp_room_send_error(c, e);
	cp_room_leave(p, why);
	if (c)
		cp_room_g.ops->close(c);
}

static void media_up(struct cp_part *p)
{
	struct fh_cmd c = {.type = FH_CMD_KEYS};

	if (!cp_dtls_peer_matches(p->dtls, p->fp_alg, p->fp, p->fp_len)) {
		FH_WARN("participant %s: DTLS certificate does not match its SDP fingerprint",
			p->pseudo);
		cp_media_fail(p, CP_ERR_DTLS_FAILED, "fingerprint mismatch");
		return;
	}
	if (cp_dtls_srtp_keys(p->dtls, &c.u.keys) < 0) {
		cp_media_fail(p, CP_ERR_DTLS_FAILED, "no SRTP profile");
		return;
	}
	uint8_t profile = c.u.keys.profile;

	cp_room_dp_cmd(p, &c);
	OPENSSL_cleanse(&c, sizeof(c));
	p->media_up = true;
	uint64_t ms = cp_room_g.now_ms - p->dtls_start_ms;
	unsigned b = 0;

	while (b < 7 && ms > cp_room_dtls_bucket_ms[b])
		b++;
	cp_room_g.metrics.dtls_ok++;
	cp_room_g.metrics.dtls_ms_buckets[b]++;
	cp_room_g.metrics.dtls_ms_sum += ms;
	FH_INFO("participant %s: media connected (%s) after %llu ms", p->pseudo,
		profile == FH_SRTP_AES128_CM_SHA1_80 ? "AES_CM_128_HMAC_SHA1_80"
						     : "AEAD_AES_128_GCM",
		(unsigned long long)(cp_room_g.now_ms - p->dtls_start_ms));
	cp_room_send_json(p, json_pack("{s:s, s:s}", "type", "media", "state", "connected"));
}

static void on_packet(unsigned w, const struct fh_pkt_msg *m)
{
	struct cp_part *p = cp_room_g.by_slot[w][m->slot];

	if (!p || !p->dtls)
		return;
	enum cp_dtls_state before = cp_dtls_state(p->dtls);
	enum cp_dtls_state st = cp_dtls_input(p->dtls, m->data, m->len);

	if (st == CP_DTLS_DONE && before == CP_DTLS_HANDSHAKE)
		media_up(p);
	else if (st == CP_DTLS_FAILED && before != CP_DTLS_FAILED) {
		FH_INFO("participant %s: DTLS ended: %s", p->pseudo, cp_dtls_error(p->dtls));
		cp_media_fail(p, CP_ERR_DTLS_FAILED, "DTLS failed or closed");
	}
}

static void on_event(unsigned w, const struct fh_evt *e)
{
	struct cp_part *p = e->slot < FH_MAX_SLOTS ? cp_room_g.by_slot[w][e->slot] : NULL;

	switch (e->type) {
	case FH_EVT_BOUND:
		if (p)
			FH_DEBUG("participant %s: ICE check from a %s address", p->pseudo,
				 e->addr.family == FH_AF_INET ? "IPv4" : "IPv6");
		break;
	case FH_EVT_CONSENT_LOST:
		if (p) {
			FH_INFO("participant %s: consent expired", p->pseudo);
			cp_media_fail(p, CP_ERR_MEDIA_TIMEOUT, "consent expired");
		}
		break;
	case FH_EVT_CMD_ERR:
		FH_WARN("worker %u refused command %u for slot %u", w, e->arg, e->slot);
		break;
	case FH_EVT_SPEAKER:
	case FH_EVT_SPEAKING:
		cp_speaker_event(w, e);
		break;
	default:
		break;
	}
}

static void on_lost(void)
{
	/* Media state died with the dataplane: everyone must rejoin. */
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next) {
		r->closing = true;
		while (r->waiting)
			cp_moderate_lobby_drop(r->waiting, cp_sig_error_json(CP_ERR_UNAVAILABLE),
					       "dataplane lost");
	}
	while (cp_room_g.rooms) {
		struct cp_part *p = cp_room_g.rooms->parts;

		if (!p) {
			cp_room_unlink(cp_room_g.rooms);
			continue;
		}
		p->in_dp = false;
		cp_room_g.by_slot[p->worker][p->slot] = NULL;
		p->slot = -1;
		cp_media_fail(p, CP_ERR_UNAVAILABLE, "dataplane lost");
	}
	memset(cp_room_g.by_slot, 0, sizeof(cp_room_g.by_slot));
}

/* The participant whose handshake is overdue or failed, if any. */
static struct cp_part *dtls_casualty(uint64_t now_ms, enum cp_err *e)
{
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next) {
		for (struct cp_part *p = r->parts; p; p = p->next) {
			if (!p->dtls || p->media_up)
				continue;
			if (now_ms - p->dtls_start_ms > cp_room_g.conf.dtls_timeout_s * 1000ull ||
			    cp_dtls_tick(p->dtls) == CP_DTLS_FAILED) {
				*e = CP_ERR_DTLS_FAILED;
				return p;
			}
		}
	}
	return NULL;
}

void cp_media_tick(uint64_t now_ms)
{
	struct cp_part *p;
	enum cp_err e;

	while ((p = dtls_casualty(now_ms, &e)))
		cp_media_fail(p, e, "no secure media connection in time");
}

const struct cp_dp_handlers cp_media_dp_handlers = {
	.event = on_event,
	.packet = on_packet,
	.lost = on_lost,
	.attached = cp_resume_attached,
};
