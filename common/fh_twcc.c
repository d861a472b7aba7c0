/*
 * fh_twcc: the transport-wide feedback window, its packet builder and its parser. The builder
 * runs on a worker's timer path once per publisher about every 100 ms; the parser runs on the
 * RTCP input path of each receiver. No allocation, no I/O.
 */
#include "fh_twcc.h"
#include "fh_rtp.h"

#include <string.h>

/* Packet status symbols. */
#define SYM_LOST 0
#define SYM_SMALL 1 /* received, 1-byte delta 0..255 ticks */
#define SYM_LARGE 2 /* received, 2-byte signed delta */
#define SYM_RESERVED 3

#define RUN_MAX 0x1fff

static bool got(const struct fh_twcc_rx *r, uint16_t seq)
{
	unsigned i = seq & (FH_TWCC_WINDOW - 1);

	return r->got[i / 64] >> (i % 64) & 1;
}

static void set_got(struct fh_twcc_rx *r, uint16_t seq, bool v)
{
	unsigned i = seq & (FH_TWCC_WINDOW - 1);
	uint64_t bit = 1ull << (i % 64);

	if (v)
		r->got[i / 64] |= bit;
	else
		r->got[i / 64] &= ~bit;
}

void fh_twcc_rx_init(struct fh_twcc_rx *r)
{
	memset(r, 0, sizeof(*r));
}

void fh_twcc_rx_record(struct fh_twcc_rx *r, uint16_t seq, uint64_t arrival_us)
{
	if (!r->started) {
		r->started = true;
		r->base = r->end = seq;
	}
	if ((uint16_t)(seq - r->base) >= FH_TWCC_WINDOW) {
		if ((uint16_t)(r->base - seq) <= FH_TWCC_WINDOW) {
			r->late++;
			return;
		}
		/* A jump: forget what is pending rather than report a window of losses. */
		r->resets++;
		memset(r->got, 0, sizeof(r->got));
		r->base = r->end = seq;
	}
	if (got(r, seq)) {
		r->dups++;
		return;
	}
	set_got(r, seq, true);
	r->arrival_us[seq & (FH_TWCC_WINDOW - 1)] = arrival_us;
	if ((uint16_t)(seq - r->base) >= (uint16_t)(r->end - r->base))
		r->end = (uint16_t)(seq + 1);
}

bool fh_twcc_rx_due(struct fh_twcc_rx *r, uint64_t now_us)
{
	uint16_t pending = (uint16_t)(r->end - r->base);

	if (!pending)
		return false;
	if (pending < FH_TWCC_DUE_PKTS && now_us - r->last_fb_us < FH_TWCC_INTERVAL_US)
		return false;
	r->last_fb_us = now_us;
	return true;
}

/*
 * Chooses the chunk for the symbols starting at s[0]: a run when at least 14 symbols repeat (or
 * the run reaches the end), else a one-bit vector of 14 when none of them needs a large delta,
 * else a two-bit vector of 7. Every chunk but the last covers at least 7 symbols, which is what
 * the size bound in fh_twcc_rx_build relies on. Returns how many symbols the chunk covers.
 */
static unsigned put_chunk(uint8_t *p, const uint8_t *s, unsigned n)
{
	unsigned run = 1, k;
	uint16_t c;

	while (run < n && run < RUN_MAX && s[run] == s[0])
		run++;
	if (run >= 14 || run == n) {
		fh_wr16(p, (uint16_t)(s[0] << 13 | run));
		return run;
	}
	for (k = 0; k < 14 && k < n && s[k] != SYM_LARGE; k++)
		;
	if (k == 14 || k == n) {
		c = 0x8000;
		for (k = 0; k < 14 && k < n; k++)
			c |= (uint16_t)(s[k] << (13 - k));
		fh_wr16(p, c);
		return k;
	}
	c = 0xc000;
	for (k = 0; k < 7 && k < n; k++)
		c |= (uint16_t)(s[k] << (12 - 2 * k));
	fh_wr16(p, c);
	return k;
}

size_t fh_twcc_rx_build(struct fh_twcc_rx *r, uint8_t *buf, size_t cap, uint32_t sender_ssrc,
			uint32_t media_ssrc)
{
	uint8_t sym[FH_TWCC_WINDOW];
	int16_t delta[FH_TWCC_WINDOW];
	uint16_t pending = (uint16_t)(r->end - r->base), seq;
	unsigned n = 0, i;
	size_t dbytes = 0, pos, pad;
	int64_t ref = -1, prev = 0;

	if (!pending || cap < FH_TWCC_HDR_LEN + 2 + 2 + 2)
		return 0;
	for (i = 0; i < pending; i++) {
		seq = (uint16_t)(r->base + i);
		if (got(r, seq)) {
			ref = (int64_t)(r->arrival_us[seq & (FH_TWCC_WINDOW - 1)] / FH_TWCC_REF_US);
			break;
		}
	}
	if (ref < 0)
		return 0; /* cannot happen: end - 1 is always received */
	prev = ref * (FH_TWCC_REF_US / FH_TWCC_DELTA_US);
	for (i = 0; i < pending; i++) {
		size_t dsz = 0;
		int64_t t = 0, d = 0;

		seq = (uint16_t)(r->base + i);
		if (got(r, seq)) {
			/* Ticks of the absolute arrival, so rounding never accumulates. */
			t = (int64_t)(r->arrival_us[seq & (FH_TWCC_WINDOW - 1)] / FH_TWCC_DELTA_US);
			d = t - prev;
			if (d >= 0 && d <= 255)
				dsz = 1;
			else if (d >= INT16_MIN && d <= INT16_MAX)
				dsz = 2;
			else
				break;
		}
		/* Chunks: at most one per 7 symbols; then up to 3 bytes of padding. */
		if (FH_TWCC_HDR_LEN + 2 * ((i + 1 + 6) / 7) + dbytes + dsz + 3 > cap)
			break;
		sym[i] = dsz == 0 ? SYM_LOST : dsz == 1 ? SYM_SMALL : SYM_LARGE;
		delta[i] = (int16_t)d;
		dbytes += dsz;
		if (dsz)
			prev = t;
		n++;
	}
	if (!n)
		return 0;

	fh_wr32(buf + 4, sender_ssrc);
	fh_wr32(buf + 8, media_ssrc);
	fh_wr16(buf + 12, r->base);
	fh_wr16(buf + 14, (uint16_t)n);
	buf[16] = (uint8_t)(ref >> 16);
	buf[17] = (uint8_t)(ref >> 8);
	buf[18] = (uint8_t)ref;
	buf[19] = r->fb_count++;
	pos = FH_TWCC_HDR_LEN;
	for (i = 0; i < n;) {
		i += put_chunk(buf + pos, sym + i, n - i);
		pos += 2;
	}
	for (i = 0; i < n; i++) {
		if (sym[i] == SYM_SMALL) {
			buf[pos++] = (uint8_t)delta[i];
		} else if (sym[i] == SYM_LARGE) {
			fh_wr16(buf + pos, (uint16_t)delta[i]);
			pos += 2;
		}
	}
	pad = (4 - pos % 4) % 4;
	if (pad) {
		memset(buf + pos, 0, pad);
		pos += pad;
		buf[pos - 1] = (uint8_t)pad;
	}
	buf[0] = (uint8_t)(0x80 | (pad ? 0x20 : 0) | FH_RTPFB_TWCC);
	buf[1] = FH_RTCP_RTPFB;
	fh_wr16(buf + 2, (uint16_t)(pos / 4 - 1));

	for (i = 0; i < n; i++)
		set_got(r, (uint16_t)(r->base + i), false);
	r->base = (uint16_t)(r->base + n);
	return pos;
}

/* Expands one chunk into out[*i...], at most count in all; -1 on a reserved symbol. */
static int read_chunk(uint16_t c, struct fh_twcc_pkt *out, unsigned *i, unsigned count)
{
	unsigned k, s;

	if (!(c & 0x8000)) {
		s = c >> 13 & 3;
		if (s == SYM_RESERVED)
			return -1;
		for (k = 0; k < (c & RUN_MAX) && *i < count; k++)
			out[(*i)++].arrival_us = s;
	} else if (!(c & 0x4000)) {
		for (k = 0; k < 14 && *i < count; k++)
			out[(*i)++].arrival_us = c >> (13 - k) & 1;
	} else {
		for (k = 0; k < 7 && *i < count; k++) {
			s = c >> (12 - 2 * k) & 3;
			if (s == SYM_RESERVED)
				return -1;
			out[(*i)++].arrival_us = s;
		}
	}
	return 0;
}

int fh_twcc_parse(const uint8_t *pkt, size_t len, struct fh_twcc_fb *fb, struct fh_twcc_pkt *out,
		  unsigned max)
{
	size_t plen, pos = FH_TWCC_HDR_LEN;
	unsigned count, i = 0;
	int32_t ref;
	int64_t t;

	if (len < FH_TWCC_HDR_LEN || (pkt[0] >> 6) != 2 || (pkt[0] & 0x1f) != FH_RTPFB_TWCC ||
	    pkt[1] != FH_RTCP_RTPFB)
		return -1;
	plen = ((size_t)fh_rd16(pkt + 2) + 1) * 4;
	if (plen > len || plen < FH_TWCC_HDR_LEN)
		return -1;
	len = plen;
	if (pkt[0] & 0x20) {
		if (pkt[len - 1] == 0 || pkt[len - 1] > len - FH_TWCC_HDR_LEN)
			return -1;
		len -= pkt[len - 1];
	}
	count = fh_rd16(pkt + 14);
	if (count == 0 || count > max)
		return -1;
	fb->sender_ssrc = fh_rd32(pkt + 4);
	fb->media_ssrc = fh_rd32(pkt + 8);
	fb->base_seq = fh_rd16(pkt + 12);
	fb->status_count = (uint16_t)count;
	/* 24-bit two's complement, sign-extended. */
	ref = (int32_t)((uint32_t)pkt[16] << 16 | (uint32_t)pkt[17] << 8 | pkt[18]);
	if (ref & 0x800000)
		ref -= 0x1000000;
	fb->ref_time_us = (int64_t)ref * FH_TWCC_REF_US;
	fb->fb_count = pkt[19];

	/* The symbols go into arrival_us first; the deltas follow all chunks. */
	while (i < count) {
		if (len - pos < 2)
			return -1;
		if (read_chunk(fh_rd16(pkt + pos), out, &i, count) < 0)
			return -1;
		pos += 2;
	}
	t = fb->ref_time_us;
	for (i = 0; i < count; i++) {
		int64_t s = out[i].arrival_us;

		out[i].seq = (uint16_t)(fb->base_seq + i);
		out[i].received = s != SYM_LOST;
		out[i].arrival_us = 0;
		if (s == SYM_SMALL) {
			if (len - pos < 1)
				return -1;
			t += (int64_t)pkt[pos++] * FH_TWCC_DELTA_US;
		} else if (s == SYM_LARGE) {
			if (len - pos < 2)
				return -1;
			t += (int64_t)(int16_t)fh_rd16(pkt + pos) * FH_TWCC_DELTA_US;
			pos += 2;
		} else {
			continue;
		}
		out[i].arrival_us = t;
	}
	return (int)count;
}
