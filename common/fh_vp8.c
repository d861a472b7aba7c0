/*
 * fh_vp8: VP8 payload descriptor parsing, the per-receiver picture-id / TL0PICIDX / KEYIDX
 * rewriter and the temporal-layer filter. Called by dataplane workers per forwarded video
 * packet; constant work but for a walk over at most FH_VP8_HISTORY entries on late packets.
 */
#include "fh_vp8.h"

#include <string.h>

int fh_vp8_parse(const uint8_t *p, size_t len, struct fh_vp8_desc *d)
{
	size_t off = 1;

	memset(d, 0, sizeof(*d));
	if (len < 1)
		return -1;
	d->x = p[0] & 0x80;
	d->n = p[0] & 0x20;
	d->s = p[0] & 0x10;
	d->pid = p[0] & 0x07;
	if (d->x) {
		if (off >= len)
			return -1;
		d->i = p[1] & 0x80;
		d->l = p[1] & 0x40;
		d->t = p[1] & 0x20;
		d->k = p[1] & 0x10;
		off = 2;
	}
	if (d->i) {
		if (off >= len)
			return -1;
		d->picid_off = (uint8_t)off;
		if (p[off] & 0x80) {
			if (off + 1 >= len)
				return -1;
			d->picid_bits = 15;
			d->picid = (uint16_t)((p[off] & 0x7f) << 8 | p[off + 1]);
			off += 2;
		} else {
			d->picid_bits = 7;
			d->picid = p[off] & 0x7f;
			off += 1;
		}
	}
	if (d->l) {
		if (off >= len)
			return -1;
		d->tl0_off = (uint8_t)off;
		d->tl0picidx = p[off++];
	}
	if (d->t || d->k) {
		if (off >= len)
			return -1;
		d->tk_off = (uint8_t)off;
		if (d->t) {
			d->tid = p[off] >> 6;
			d->y = (p[off] >> 5) & 1;
		}
		if (d->k)
			d->keyidx = p[off] & 0x1f;
		off++;
	}
	if (off >= len) /* the VP8 payload header's first byte must follow */
		return -1;
	d->len = (uint8_t)off;
	d->keyframe = d->s && d->pid == 0 && !(p[off] & 0x01);
	return 0;
}

static uint16_t picid_mask(const struct fh_vp8_desc *d)
{
	return d->picid_bits == 7 ? 0x7f : 0x7fff;
}

/* a comes after b in the serial-number space of mask (a power of two minus one). */
static bool newer(uint16_t a, uint16_t b, uint16_t mask)
{
	uint16_t diff = (uint16_t)((a - b) & mask);

	return diff != 0 && diff <= mask >> 1; /* under half the space: (mask + 1) / 2 */
}

#define HIST(r, i) ((r)->hist[((r)->head + (i)) % FH_VP8_HISTORY])

static void hist_push(struct fh_vp8_rewrite *r, uint16_t from, uint16_t off)
{
	if (r->nhist == FH_VP8_HISTORY) {
		r->head = (uint8_t)((r->head + 1) % FH_VP8_HISTORY);
		r->nhist--;
	}
	HIST(r, r->nhist).from = from;
	HIST(r, r->nhist).off = off;
	r->nhist++;
}

/* The first picture id of an encoding: it lands right after the last one sent. */
static void picid_begin(struct fh_vp8_rewrite *r, const struct fh_vp8_desc *d)
{
	uint16_t m = picid_mask(d);
	uint16_t off = r->have_picid ? (uint16_t)((r->last_picid + 1 - d->picid) & 0x7fff) : 0;

	r->head = 0;
	r->nhist = 0;
	hist_push(r, d->picid & m, off);
	r->hi_in = (uint16_t)((d->picid - 1) & m);
}

void fh_vp8_rewrite_init(struct fh_vp8_rewrite *r)
{
	memset(r, 0, sizeof(*r));
}

void fh_vp8_rewrite_switch(struct fh_vp8_rewrite *r)
{
	r->nhist = 0;
	r->tl0_on = false;
	r->keyidx_on = false;
}

static int map_picid(struct fh_vp8_rewrite *r, const struct fh_vp8_desc *d, uint16_t *out)
{
	uint16_t m = picid_mask(d), in = d->picid & m;

	if (r->nhist == 0)
		picid_begin(r, d);
	if (newer(in, r->hi_in, m)) {
		r->hi_in = in;
		*out = (uint16_t)((in + HIST(r, r->nhist - 1).off) & m);
		return 0;
	}
	/* A late packet: the newest offset in force when its frame came first. */
	for (int i = r->nhist - 1; i >= 0; i--)
		if (!newer(HIST(r, i).from, in, m)) {
			*out = (uint16_t)((in + HIST(r, i).off) & m);
			return 0;
		}
	return -1;
}

int fh_vp8_rewrite_apply(struct fh_vp8_rewrite *r, uint8_t *p, size_t len,
			 const struct fh_vp8_desc *d)
{
	/* Every byte written lies inside the descriptor and the descriptor inside len: an absent
	 * field's offset is 0, where nothing is written, so the highest offset is the one bound
	 * (a few instructions a copy, this runs for every receiver of every packet). */
	unsigned hi = d->picid_off + (d->picid_bits == 15);

	if (d->tl0_off > hi)
		hi = d->tl0_off;
	if (d->tk_off > hi)
		hi = d->tk_off;
	if (hi >= d->len || d->len > len)
		return -1;
	if (d->i) {
		uint16_t out, m = picid_mask(d);

		if (map_picid(r, d, &out) < 0)
			return -1;
		if (d->picid_bits == 15) {
			p[d->picid_off] = (uint8_t)(0x80 | out >> 8);
			p[d->picid_off + 1] = (uint8_t)out;
		} else {
			p[d->picid_off] = (uint8_t)out;
		}
		if (!r->have_picid || newer(out, r->last_picid & m, m))
			r->last_picid = out;
		r->have_picid = true;
	}
	if (d->l) {
		if (!r->tl0_on)
			r->tl0_off = r->have_tl0 ? (uint8_t)(r->last_tl0 + 1 - d->tl0picidx) : 0;
		r->tl0_on = true;
		uint8_t out = (uint8_t)(d->tl0picidx + r->tl0_off);

		p[d->tl0_off] = out;
		if (!r->have_tl0 || (int8_t)(out - r->last_tl0) > 0)
			r->last_tl0 = out;
		r->have_tl0 = true;
	}
	if (d->k) {
		if (!r->keyidx_on)
			r->keyidx_off =
				r->have_keyidx ? (uint8_t)(r->last_keyidx + 1 - d->keyidx) : 0;
		r->keyidx_on = true;
		uint8_t out = (uint8_t)((d->keyidx + r->keyidx_off) & 0x1f);

		p[d->tk_off] = (uint8_t)((p[d->tk_off] & 0xe0) | out);
		if (!r->have_keyidx || newer(out, r->last_keyidx, 0x1f))
			r->last_keyidx = out;
		r->have_keyidx = true;
	}
	return 0;
}

void fh_vp8_rewrite_drop(struct fh_vp8_rewrite *r, const struct fh_vp8_desc *d)
{
	if (!d->i)
		return;
	uint16_t m = picid_mask(d), in = d->picid & m;

	if (r->nhist == 0)
		picid_begin(r, d);
	if (!newer(in, r->hi_in, m))
		return; /* a frame already counted, or one partly forwarded: it keeps its id */
	r->hi_in = in;
	uint16_t off = (uint16_t)((HIST(r, r->nhist - 1).off - 1) & 0x7fff);

	/* Drops in a row need one entry: no frame took the newest offset yet. */
	if (HIST(r, r->nhist - 1).from == in) {
		HIST(r, r->nhist - 1).from = (uint16_t)((in + 1) & m);
		HIST(r, r->nhist - 1).off = off;
	} else {
		hist_push(r, (uint16_t)((in + 1) & m), off);
	}
}

void fh_vp8_temporal_init(struct fh_vp8_temporal *t, uint8_t target)
{
	t->cur = target;
	t->target = target;
}

bool fh_vp8_temporal_ok(struct fh_vp8_temporal *t, const struct fh_vp8_desc *d)
{
	if (!d->t)
		return true;
	/* Only at a frame's first packet, so a frame is forwarded whole or not at all. */
	if (d->s && d->pid == 0) {
		if (d->keyframe)
			t->cur = t->target;
		else if (t->target < t->cur)
			t->cur = t->target;
		else if (t->target > t->cur && d->y && d->tid == t->cur + 1)
			t->cur = d->tid; /* one layer at a time: a sync frame needs only the base */
	}
	return d->tid <= t->cur;
}
