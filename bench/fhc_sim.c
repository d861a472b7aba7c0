/*
 * fhc_sim: a simulated browser's media pieces (see fhc_sim.h). Pure functions; the fhc that owns
 * the state calls them from its driving thread.
 */
#include "fhc_sim.h"

#include <string.h>

size_t fhc_sim_vp8_desc(uint8_t *out, bool start, uint16_t picid, uint8_t tl0picidx, uint8_t tid,
			bool sync)
{
	out[0] = (uint8_t)(0x80 | (start ? 0x10 : 0));	/* X, S, PID 0 */
	out[1] = 0x80 | 0x40 | 0x20;			/* I, L, T; K=0 */
	out[2] = (uint8_t)(0x80 | (picid >> 8 & 0x7f)); /* M: 15-bit picture id */
	out[3] = (uint8_t)picid;
	out[4] = tl0picidx;
	out[5] = (uint8_t)((tid & 3) << 6 | (sync ? 0x20 : 0)); /* TID, Y, KEYIDX 0 */
	return 6;
}

size_t fhc_sim_vp8_header(uint8_t *out, bool key, uint16_t width, uint16_t height,
			  uint32_t first_part_len)
{
	/* size0 (3 bits), show_frame, version 0, P; then size1, size2 (RFC 7741 4.3) */
	uint32_t sz = first_part_len & 0x7ffff;

	out[0] = (uint8_t)((sz & 7) << 5 | 0x10 | (key ? 0 : 1));
	out[1] = (uint8_t)(sz >> 3);
	out[2] = (uint8_t)(sz >> 11);
	if (!key)
		return 3;
	out[3] = 0x9d;
	out[4] = 0x01;
	out[5] = 0x2a;
	out[6] = (uint8_t)width;
	out[7] = (uint8_t)(width >> 8 & 0x3f);
	out[8] = (uint8_t)height;
	out[9] = (uint8_t)(height >> 8 & 0x3f);
	return 10;
}

/* One element, if its id is usable in the one-byte form; false when cap is short. */
static bool put(uint8_t *out, size_t cap, size_t *n, uint8_t id, const void *data, size_t len)
{
	if (id == 0 || id > 14 || len == 0 || len > 16)
		return true; /* not negotiated or not expressible: left out */
	if (*n + 1 + len > cap)
		return false;
	out[(*n)++] = (uint8_t)(id << 4 | (len - 1));
	memcpy(out + *n, data, len);
	*n += len;
	return true;
}

size_t fhc_sim_ext_write(uint8_t *out, size_t cap, const struct fhc_sim_ext *e)
{
	size_t n = 4;
	uint8_t b[3];
	bool ok = cap >= 4;

	if (ok && e->twcc) {
		b[0] = (uint8_t)(e->twcc_seq >> 8);
		b[1] = (uint8_t)e->twcc_seq;
		ok = put(out, cap, &n, e->ids[FH_EXT_TWCC], b, 2);
	}
	if (ok && e->abs) {
		b[0] = (uint8_t)(e->abs_send_time >> 16);
		b[1] = (uint8_t)(e->abs_send_time >> 8);
		b[2] = (uint8_t)e->abs_send_time;
		ok = put(out, cap, &n, e->ids[FH_EXT_ABS_SEND_TIME], b, 3);
	}
	if (ok && e->level)
		ok = put(out, cap, &n, e->ids[FH_EXT_AUDIO_LEVEL], &e->level_byte, 1);
	if (ok && e->mid)
		ok = put(out, cap, &n, e->ids[FH_EXT_MID], e->mid, strlen(e->mid));
	if (ok && e->rid)
		ok = put(out, cap, &n, e->ids[e->rrid ? FH_EXT_RRID : FH_EXT_RID], e->rid,
			 strlen(e->rid));
	if (!ok || n == 4)
		return 0;
	while (n % 4) {
		if (n == cap)
			return 0;
		out[n++] = 0;
	}
	out[0] = 0xbe;
	out[1] = 0xde;
	out[2] = (uint8_t)((n - 4) / 4 >> 8);
	out[3] = (uint8_t)((n - 4) / 4);
	return n;
}

bool fhc_sim_link_pass(struct fhc_sim_link *l, uint64_t now_us, size_t len, uint64_t *arrive_us)
{
	if (!l->bps) {
		*arrive_us = now_us;
		l->passed++;
		l->passed_bytes += len + FHC_SIM_IPUDP;
		return true;
	}
	uint64_t start = l->free_at_us > now_us ? l->free_at_us : now_us;

	if (start - now_us > FHC_SIM_LINK_DELAY_US) {
		l->dropped++;
		return false;
	}
	l->free_at_us =
		start + ((uint64_t)(len + FHC_SIM_IPUDP) * 8 * 1000000 + l->bps - 1) / l->bps;
	l->passed++;
	l->passed_bytes += len + FHC_SIM_IPUDP;
	*arrive_us = l->free_at_us;
	return true;
}

static void frame_done(struct fhc_sim_frames *f, int layer, uint64_t at)
{
	uint64_t since = f->have_frame ? f->last_frame_us : f->start_us;
	uint64_t gap = at > since ? at - since : 0;

	if (gap > FHC_SIM_FREEZE_US) {
		f->frozen_us += gap;
		f->freezes++;
	} else if (f->have_frame && f->last_layer >= 0) {
		f->layer_us[f->last_layer] += gap;
	}
	f->have_frame = true;
	f->last_frame_us = at;
	f->last_layer = (int8_t)(layer >= 0 && layer < FHC_SIM_LAYERS ? layer : -1);
	f->frames++;
}

void fhc_sim_frames_packet(struct fhc_sim_frames *f, uint16_t seq, uint32_t ts, bool marker,
			   int start, int layer, uint64_t at_us)
{
	if (!f->started) {
		f->started = true;
		f->start_us = at_us;
		f->last_layer = -1;
	}
	if (f->have_done && ts == f->done_ts)
		return; /* a late or repeated packet of a frame already closed */
	if (f->in_frame && ts != f->ts && (int32_t)(ts - f->ts) < 0)
		return; /* of an older frame that is given up */
	if (!f->in_frame || ts != f->ts) {
		f->in_frame = true;
		f->ts = ts;
		f->first_seq = seq;
		f->pkts = 0;
		f->first_ok = start == 1 ||
			      (start < 0 && f->have_marker && seq == (uint16_t)(f->marker_seq + 1));
	}
	if (start == 1 && seq != f->first_seq &&
	    (int16_t)(uint16_t)(seq - f->first_seq) < 0) { /* the first one came late */
		f->first_seq = seq;
		f->first_ok = true;
	}
	if (f->pkts < UINT16_MAX)
		f->pkts++;
	if (!marker)
		return;
	f->have_marker = true;
	f->marker_seq = seq;
	f->in_frame = false;
	f->have_done = true;
	f->done_ts = ts;
	if (f->first_ok && f->pkts == (uint16_t)(seq - f->first_seq) + 1)
		frame_done(f, layer, at_us);
}

uint64_t fhc_sim_frames_frozen(const struct fhc_sim_frames *f, uint64_t now_us)
{
	if (!f->started)
		return 0;
	uint64_t since = f->have_frame ? f->last_frame_us : f->start_us;
	uint64_t open = now_us > since ? now_us - since : 0;

	return f->frozen_us + (open > FHC_SIM_FREEZE_US ? open : 0);
}
