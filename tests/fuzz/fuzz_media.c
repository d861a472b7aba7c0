/*
 * libFuzzer target: header extensions and the VP8 descriptor. The first FH_EXT_MAX bytes are an
 * id table, the rest is read twice: as one RTP packet whose extensions are located, read, and
 * written into a rebuilt header that must read back the same; and as a run of VP8 payloads
 * (op byte, length byte, bytes) driven through the temporal filter and the rewriter, whose
 * output must parse to the same descriptor layout.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fh_rtp.h"
#include "fh_rtpext.h"
#include "fh_vp8.h"

static bool distinct(const uint8_t ids[FH_EXT_MAX], uint32_t set)
{
	for (int a = 0; a < FH_EXT_MAX; a++)
		for (int b = a + 1; b < FH_EXT_MAX; b++)
			if ((set >> a & 1) && (set >> b & 1) && ids[a] == ids[b])
				return false;
	return true;
}

static void ext_case(const uint8_t ids[FH_EXT_MAX], const uint8_t *data, size_t size)
{
	struct fh_rtp_hdr h, h2;
	struct fh_rtpext_view v, v2;
	struct fh_rtpext_values vals = {0};
	uint8_t out[512];
	char mid[FH_RTPEXT_STR_MAX + 1], mid2[FH_RTPEXT_STR_MAX + 1];
	uint16_t seq;
	uint32_t t;
	bool voice;
	uint8_t level;
	int n;

	if (fh_rtp_parse(data, size, &h) < 0 || fh_rtpext_parse(data, size, &h, ids, &v) < 0)
		return;
	for (int e = 0; e < FH_EXT_MAX; e++)
		if (fh_rtpext_has(&v, e) && (size_t)v.off[e] + v.len[e] > h.hdr_len)
			__builtin_trap();
	if (fh_rtpext_twcc_seq(data, &v, &vals.twcc_seq) == 0)
		vals.set |= FH_RTPEXT_BIT(FH_EXT_TWCC);
	if (fh_rtpext_abs_send_time(data, &v, &vals.abs_send_time) == 0)
		vals.set |= FH_RTPEXT_BIT(FH_EXT_ABS_SEND_TIME);
	if (fh_rtpext_audio_level(data, &v, &vals.voice, &vals.level) == 0)
		vals.set |= FH_RTPEXT_BIT(FH_EXT_AUDIO_LEVEL);
	n = fh_rtpext_str(data, &v, FH_EXT_MID, mid, sizeof(mid));
	if (n > 0) {
		vals.set |= FH_RTPEXT_BIT(FH_EXT_MID);
		vals.mid = mid;
		vals.mid_len = (size_t)n;
	}
	fh_rtpext_str(data, &v, FH_EXT_RID, mid2, sizeof(mid2));
	fh_rtpext_str(data, &v, FH_EXT_RRID, mid2, 3);

	size_t hl = fh_rtpext_rebuild_header(out, sizeof(out), data, &h, ids, &vals);

	if (hl == 0)
		__builtin_trap(); /* 72 bytes of header and CSRCs, at most 4 + 8 + 257 of block */
	out[0] &= (uint8_t)~0x20; /* the payload and its padding are not copied here */
	if (fh_rtp_parse(out, hl, &h2) < 0 || h2.hdr_len != hl ||
	    fh_rtpext_parse(out, hl, &h2, ids, &v2) < 0)
		__builtin_trap();
	if (!distinct(ids, vals.set))
		return; /* two values under one id: only the first reads back */
	if ((vals.set & FH_RTPEXT_BIT(FH_EXT_TWCC)) &&
	    (fh_rtpext_twcc_seq(out, &v2, &seq) < 0 || seq != vals.twcc_seq))
		__builtin_trap();
	if ((vals.set & FH_RTPEXT_BIT(FH_EXT_ABS_SEND_TIME)) &&
	    (fh_rtpext_abs_send_time(out, &v2, &t) < 0 || t != vals.abs_send_time))
		__builtin_trap();
	if ((vals.set & FH_RTPEXT_BIT(FH_EXT_AUDIO_LEVEL)) &&
	    (fh_rtpext_audio_level(out, &v2, &voice, &level) < 0 || voice != vals.voice ||
	     level != vals.level))
		__builtin_trap();
	if ((vals.set & FH_RTPEXT_BIT(FH_EXT_MID)) &&
	    (fh_rtpext_str(out, &v2, FH_EXT_MID, mid2, sizeof(mid2)) != n || strcmp(mid, mid2)))
		__builtin_trap();
}

static bool same_layout(const struct fh_vp8_desc *a, const struct fh_vp8_desc *b)
{
	return a->x == b->x && a->n == b->n && a->s == b->s && a->pid == b->pid && a->i == b->i &&
	       a->l == b->l && a->t == b->t && a->k == b->k && a->picid_bits == b->picid_bits &&
	       a->tid == b->tid && a->y == b->y && a->len == b->len && a->keyframe == b->keyframe;
}

static void vp8_one(struct fh_vp8_rewrite *r, struct fh_vp8_temporal *t, uint8_t op,
		    const uint8_t *p, size_t len)
{
	struct fh_vp8_desc d, o;
	uint8_t buf[256];

	if (len > sizeof(buf) || fh_vp8_parse(p, len, &d) < 0)
		return;
	if (d.len >= len)
		__builtin_trap();
	if (op & 1)
		fh_vp8_rewrite_switch(r);
	if (op & 2)
		fh_vp8_temporal_set_target(t, op >> 6);
	if (!fh_vp8_temporal_ok(t, &d)) {
		fh_vp8_rewrite_drop(r, &d);
		return;
	}
	memcpy(buf, p, len);
	if (fh_vp8_rewrite_apply(r, buf, len, &d) < 0)
		return;
	if (fh_vp8_parse(buf, len, &o) < 0 || !same_layout(&d, &o) ||
	    memcmp(buf + d.len, p + d.len, len - d.len))
		__builtin_trap();
}

static void vp8_case(const uint8_t *data, size_t size)
{
	struct fh_vp8_rewrite r;
	struct fh_vp8_temporal t;
	struct fh_rtp_hdr h;

	fh_vp8_rewrite_init(&r);
	fh_vp8_temporal_init(&t, 2);
	if (fh_rtp_parse(data, size, &h) == 0)
		vp8_one(&r, &t, 0, data + h.hdr_len, h.payload_len);
	fh_vp8_rewrite_init(&r);
	for (size_t off = 0; off + 2 <= size;) {
		uint8_t op = data[off];
		size_t len = data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		vp8_one(&r, &t, op, data + off, len);
		off += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t ids[FH_EXT_MAX];

	if (size < FH_EXT_MAX)
		return 0;
	memcpy(ids, data, FH_EXT_MAX);
	ext_case(ids, data + FH_EXT_MAX, size - FH_EXT_MAX);
	vp8_case(data + FH_EXT_MAX, size - FH_EXT_MAX);
	return 0;
}
