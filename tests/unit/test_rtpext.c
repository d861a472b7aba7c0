/* Unit tests of fh_rtpext: locating, reading and writing RFC 8285 header extensions. */
#include "fh_rtp.h"
#include "fh_rtpext.h"
#include "fh_test.h"

static const uint8_t chrome[FH_EXT_MAX] = {
	[FH_EXT_AUDIO_LEVEL] = 1, [FH_EXT_ABS_SEND_TIME] = 2, [FH_EXT_TWCC] = 3,
	[FH_EXT_MID] = 4,	  [FH_EXT_RID] = 10,	      [FH_EXT_RRID] = 11};
static const uint8_t firefox[FH_EXT_MAX] = {
	[FH_EXT_AUDIO_LEVEL] = 1, [FH_EXT_MID] = 3, [FH_EXT_ABS_SEND_TIME] = 4, [FH_EXT_TWCC] = 7};

/* An RTP packet with cc CSRCs, an extension block of the given profile and body (zero-padded to
 * 32 bits) and a two-byte payload; returns its length. */
static size_t build(uint8_t *p, unsigned cc, uint16_t profile, const uint8_t *body, size_t n)
{
	size_t words = (n + 3) / 4, off = 12 + 4 * (size_t)cc;

	memset(p, 0, off + 4 + 4 * words + 2);
	p[0] = (uint8_t)(0x90 | cc);
	p[1] = 96;
	fh_wr16(p + 2, 1000);
	fh_wr32(p + 8, 0x11223344);
	for (unsigned i = 0; i < cc; i++)
		fh_wr32(p + 12 + 4 * i, 0xc0000000u + i);
	fh_wr16(p + off, profile);
	fh_wr16(p + off + 2, (uint16_t)words);
	memcpy(p + off + 4, body, n);
	p[off + 4 + 4 * words] = 0xaa;
	p[off + 4 + 4 * words + 1] = 0xbb;
	return off + 4 + 4 * words + 2;
}

static int parse(const uint8_t *p, size_t n, const uint8_t ids[FH_EXT_MAX],
		 struct fh_rtpext_view *v, struct fh_rtp_hdr *h)
{
	if (fh_rtp_parse(p, n, h) < 0)
		return -2;
	return fh_rtpext_parse(p, n, h, ids, v);
}

static void chrome_video(void)
{
	/* abs-send-time, twcc, mid "1", rid "h", as Chrome sends a simulcast layer */
	const uint8_t body[] = {0x22, 0x12, 0x34, 0x56, 0x31, 0x01, 0x2c, 0x40, '1', 0xa0, 'h'};
	uint8_t p[64];
	size_t n = build(p, 0, FH_RTPEXT_ONE_BYTE, body, sizeof(body));
	struct fh_rtpext_view v;
	struct fh_rtp_hdr h;
	uint32_t t;
	uint16_t seq;
	bool voice;
	uint8_t level;
	char s[17];

	CHECK_EQ(parse(p, n, chrome, &v, &h), 0);
	CHECK_EQ(fh_rtpext_abs_send_time(p, &v, &t), 0);
	CHECK_EQ(t, 0x123456);
	CHECK_EQ(fh_rtpext_twcc_seq(p, &v, &seq), 0);
	CHECK_EQ(seq, 300);
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_MID, s, sizeof(s)), 1);
	CHECK(strcmp(s, "1") == 0);
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_RID, s, sizeof(s)), 1);
	CHECK(strcmp(s, "h") == 0);
	CHECK(!fh_rtpext_has(&v, FH_EXT_RRID));
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_RRID, s, sizeof(s)), -1);
	CHECK_EQ(fh_rtpext_audio_level(p, &v, &voice, &level), -1);
	/* The same packet read with Firefox's ids: id 3 is its mid, so "mid" is the twcc bytes. */
	CHECK_EQ(parse(p, n, firefox, &v, &h), 0);
	CHECK_EQ(fh_rtpext_twcc_seq(p, &v, &seq), -1);
	CHECK_EQ(fh_rtpext_abs_send_time(p, &v, &t), -1); /* id 4 is a one-byte mid here */
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_MID, s, sizeof(s)), -1); /* 0x01 0x2c: not a token */
}

static void chrome_audio_with_csrcs(void)
{
	/* audio level (voice, 42 dBov), abs-send-time, twcc, mid "0", two CSRCs before the block */
	const uint8_t body[] = {0x10, 0xaa, 0x22, 0, 0, 1, 0x31, 0xff, 0xff, 0x40, '0'};
	uint8_t p[64];
	size_t n = build(p, 2, FH_RTPEXT_ONE_BYTE, body, sizeof(body));
	struct fh_rtpext_view v;
	struct fh_rtp_hdr h;
	bool voice;
	uint8_t level;
	uint16_t seq;
	char s[17];

	CHECK_EQ(parse(p, n, chrome, &v, &h), 0);
	CHECK_EQ(fh_rtpext_audio_level(p, &v, &voice, &level), 0);
	CHECK(voice);
	CHECK_EQ(level, 42);
	CHECK_EQ(fh_rtpext_twcc_seq(p, &v, &seq), 0);
	CHECK_EQ(seq, 65535);
	CHECK_EQ(v.off[FH_EXT_AUDIO_LEVEL], 12 + 8 + 4 + 1);
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_MID, s, sizeof(s)), 1);
	CHECK(strcmp(s, "0") == 0);
}

static void firefox_ids(void)
{
	/* audio level (silence), mid "sdparta_0", abs-send-time, twcc 7 */
	const uint8_t body[] = {0x10, 0x7f, 0x38, 's', 'd', 'p', 'a',  'r', 't', 'a',
				'_',  '0',  0x42, 1,   2,   3,	 0x71, 0,   9};
	uint8_t p[64];
	size_t n = build(p, 0, FH_RTPEXT_ONE_BYTE, body, sizeof(body));
	struct fh_rtpext_view v;
	struct fh_rtp_hdr h;
	bool voice;
	uint8_t level;
	uint16_t seq;
	uint32_t t;
	char s[17];

	CHECK_EQ(parse(p, n, firefox, &v, &h), 0);
	CHECK_EQ(fh_rtpext_audio_level(p, &v, &voice, &level), 0);
	CHECK(!voice);
	CHECK_EQ(level, 127);
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_MID, s, sizeof(s)), 9);
	CHECK(strcmp(s, "sdparta_0") == 0);
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_MID, s, 9), -1); /* no room for it and the NUL */
	CHECK_EQ(fh_rtpext_abs_send_time(p, &v, &t), 0);
	CHECK_EQ(t, 0x010203);
	CHECK_EQ(fh_rtpext_twcc_seq(p, &v, &seq), 0);
	CHECK_EQ(seq, 9);
	CHECK(!fh_rtpext_has(&v, FH_EXT_RID)); /* not negotiated */
}

static void two_byte_and_padding(void)
{
	/* padding, twcc id 3, a zero-length element id 200, padding, mid id 20 of 20 chars */
	uint8_t body[64] = {0, 0, 3, 2, 0x01, 0x02, 200, 0, 0, 20, 20};
	const uint8_t ids[FH_EXT_MAX] = {[FH_EXT_TWCC] = 3, [FH_EXT_MID] = 20, [FH_EXT_RID] = 200};
	uint8_t p[128];
	struct fh_rtpext_view v;
	struct fh_rtp_hdr h;
	uint16_t seq;
	char s[32];

	memcpy(body + 11, "abcdefghij-_.!~*'+#$", 20);
	size_t n = build(p, 1, FH_RTPEXT_TWO_BYTE | 0x5, body, 31);

	CHECK_EQ(parse(p, n, ids, &v, &h), 0);
	CHECK_EQ(fh_rtpext_twcc_seq(p, &v, &seq), 0);
	CHECK_EQ(seq, 0x0102);
	CHECK(fh_rtpext_has(&v, FH_EXT_RID));
	CHECK_EQ(v.len[FH_EXT_RID], 0);
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_RID, s, sizeof(s)), -1); /* empty */
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_MID, s, sizeof(s)), 20);
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_MID, s, 17), -1);
	p[12 + 4 + 4 + 11 + 3] = ' '; /* space is not a token character */
	CHECK_EQ(parse(p, n, ids, &v, &h), 0);
	CHECK_EQ(fh_rtpext_str(p, &v, FH_EXT_MID, s, sizeof(s)), -1);

	/* An unknown profile is not ours to read but not an error either. */
	n = build(p, 0, 0x1234, body, 8);
	CHECK_EQ(parse(p, n, ids, &v, &h), 0);
	CHECK(!fh_rtpext_has(&v, FH_EXT_TWCC));
	/* No X bit: empty view. */
	p[0] &= (uint8_t)~0x10;
	CHECK_EQ(parse(p, n, ids, &v, &h), 0);
	CHECK(!fh_rtpext_has(&v, FH_EXT_TWCC));
}

static void malformed(void)
{
	const uint8_t past[] = {0x22, 1, 2, 3, 0x35, 1, 2}; /* twcc claims 6 bytes, 2 are left */
	const uint8_t stop[] = {0x22, 1, 2, 3, 0xf0, 0x31, 0, 5}; /* id 15 ends the walk */
	const uint8_t two_past[] = {3, 9, 1, 2};
	const uint8_t two_cut[] = {0, 0, 0, 3}; /* an id as the last byte, its length missing */
	uint8_t p[64];
	struct fh_rtpext_view v;
	struct fh_rtp_hdr h;
	uint16_t seq;
	uint32_t t;
	size_t n;

	n = build(p, 0, FH_RTPEXT_ONE_BYTE, past, sizeof(past));
	CHECK_EQ(parse(p, n, chrome, &v, &h), -1);
	n = build(p, 0, FH_RTPEXT_ONE_BYTE, stop, sizeof(stop));
	CHECK_EQ(parse(p, n, chrome, &v, &h), 0);
	CHECK_EQ(fh_rtpext_abs_send_time(p, &v, &t), 0);
	CHECK_EQ(fh_rtpext_twcc_seq(p, &v, &seq), -1);
	n = build(p, 0, FH_RTPEXT_TWO_BYTE, two_past, sizeof(two_past));
	CHECK_EQ(parse(p, n, chrome, &v, &h), -1);
	n = build(p, 0, FH_RTPEXT_TWO_BYTE, two_cut, sizeof(two_cut));
	CHECK_EQ(parse(p, n, chrome, &v, &h), -1);

	/* The block's length word past the packet, and an h that disagrees with the packet. */
	n = build(p, 0, FH_RTPEXT_ONE_BYTE, stop, sizeof(stop));
	CHECK_EQ(parse(p, n, chrome, &v, &h), 0);
	fh_wr16(p + 14, 9);
	CHECK_EQ(fh_rtpext_parse(p, n, &h, chrome, &v), -1);
	CHECK(!fh_rtpext_has(&v, FH_EXT_ABS_SEND_TIME));
	fh_wr16(p + 14, 2);
	h.hdr_len = 40;
	CHECK_EQ(fh_rtpext_parse(p, n, &h, chrome, &v), -1);
	for (size_t k = 12; k < 16; k++)
		CHECK_EQ(fh_rtpext_parse(p, k, &h, chrome, &v), -1); /* block word cut off */
}

static void write_roundtrip(void)
{
	struct fh_rtpext_values vals = {
		.set = FH_RTPEXT_BIT(FH_EXT_TWCC) | FH_RTPEXT_BIT(FH_EXT_ABS_SEND_TIME) |
		       FH_RTPEXT_BIT(FH_EXT_AUDIO_LEVEL) | FH_RTPEXT_BIT(FH_EXT_MID),
		.twcc_seq = 4242,
		.abs_send_time = 0xabcdef,
		.voice = true,
		.level = 30,
		.mid = "a1",
		.mid_len = 2};
	const uint8_t *tables[] = {chrome, firefox};
	uint8_t in[64], out[128];
	const uint8_t body[] = {0x22, 1, 2, 3};
	size_t n = build(in, 3, FH_RTPEXT_ONE_BYTE, body, sizeof(body));
	struct fh_rtp_hdr h, h2;
	struct fh_rtpext_view v;
	uint16_t seq;
	uint32_t t;
	bool voice;
	uint8_t level;
	char s[17];

	CHECK_EQ(fh_rtp_parse(in, n, &h), 0);
	for (int i = 0; i < 2; i++) {
		size_t hl = fh_rtpext_rebuild_header(out, sizeof(out), in, &h, tables[i], &vals);

		/* 12 + 12 CSRCs + 4 + (3 + 4 + 2 + 3 = 12) */
		CHECK_EQ(hl, 40);
		CHECK_EQ(fh_rd16(out + 24), FH_RTPEXT_ONE_BYTE);
		memcpy(out + hl, "xy", 2);
		CHECK_EQ(parse(out, hl + 2, tables[i], &v, &h2), 0);
		CHECK_EQ(h2.hdr_len, hl);
		CHECK_EQ(h2.payload_len, 2);
		CHECK(h2.seq == h.seq && h2.ssrc == h.ssrc && fh_rd32(out + 20) == 0xc0000002u);
		CHECK(fh_rtpext_twcc_seq(out, &v, &seq) == 0 && seq == 4242);
		CHECK(fh_rtpext_abs_send_time(out, &v, &t) == 0 && t == 0xabcdef);
		CHECK(fh_rtpext_audio_level(out, &v, &voice, &level) == 0 && voice && level == 30);
		CHECK(fh_rtpext_str(out, &v, FH_EXT_MID, s, sizeof(s)) == 2 && !strcmp(s, "a1"));
	}
	/* Nothing negotiated: the X bit goes away and the header is fixed + CSRCs. */
	const uint8_t none[FH_EXT_MAX] = {0};
	size_t hl = fh_rtpext_rebuild_header(out, sizeof(out), in, &h, none, &vals);

	CHECK_EQ(hl, 24);
	CHECK(!(out[0] & 0x10));
	CHECK_EQ(fh_rtpext_write(out, sizeof(out), none, &vals), 0);
	CHECK_EQ(fh_rtpext_write(out, 15, chrome, &vals), 0); /* does not fit */
	CHECK_EQ(fh_rtpext_rebuild_header(out, 39, in, &h, chrome, &vals), 0);
	CHECK_EQ(fh_rtpext_rebuild_header(out, 20, in, &h, none, &vals), 0);
}

static void write_two_byte(void)
{
	/* An id above 14 or a mid above 16 bytes needs the two-byte form. */
	const uint8_t ids[FH_EXT_MAX] = {[FH_EXT_TWCC] = 15, [FH_EXT_MID] = 1};
	struct fh_rtpext_values vals = {.set = FH_RTPEXT_BIT(FH_EXT_TWCC) |
					       FH_RTPEXT_BIT(FH_EXT_MID),
					.twcc_seq = 7,
					.mid = "m",
					.mid_len = 1};
	const char *longmid = "0123456789abcdefg";
	uint8_t in[64], out[128];
	struct fh_rtp_hdr h;
	struct fh_rtpext_view v;
	uint16_t seq;
	char s[32];
	size_t n = build(in, 0, FH_RTPEXT_ONE_BYTE, (const uint8_t *)"\x22\1\2\3", 4);

	CHECK_EQ(fh_rtp_parse(in, n, &h), 0);
	size_t hl = fh_rtpext_rebuild_header(out, sizeof(out), in, &h, ids, &vals);

	CHECK_EQ(hl, 12 + 4 + 8); /* 2+2 + 2+1, padded */
	CHECK_EQ(fh_rd16(out + 12), FH_RTPEXT_TWO_BYTE);
	CHECK_EQ(parse(out, hl, ids, &v, &h), 0);
	CHECK(fh_rtpext_twcc_seq(out, &v, &seq) == 0 && seq == 7);
	CHECK(fh_rtpext_str(out, &v, FH_EXT_MID, s, sizeof(s)) == 1 && !strcmp(s, "m"));

	const uint8_t small[FH_EXT_MAX] = {[FH_EXT_MID] = 5};

	vals.mid = longmid;
	vals.mid_len = strlen(longmid);
	CHECK_EQ(fh_rtp_parse(in, n, &h), 0);
	hl = fh_rtpext_rebuild_header(out, sizeof(out), in, &h, small, &vals);
	CHECK_EQ(hl, 12 + 4 + 20);
	CHECK_EQ(fh_rd16(out + 12), FH_RTPEXT_TWO_BYTE);
	CHECK_EQ(parse(out, hl, small, &v, &h), 0);
	CHECK_EQ(fh_rtpext_str(out, &v, FH_EXT_MID, s, sizeof(s)), 17);
	CHECK(!strcmp(s, longmid));
	vals.mid_len = 0; /* an empty mid is not written */
	CHECK_EQ(fh_rtpext_write(out, sizeof(out), small, &vals), 0);
}

/* A header built for one receiver, with another's transport-wide number written at
 * fh_rtpext_twcc_offset, is the header built for the other (the workers' fan-out relies on
 * it); in both forms, and 0 where there is no such element. */
static void twcc_offset(void)
{
	const uint8_t two[FH_EXT_MAX] = {[FH_EXT_TWCC] = 15, [FH_EXT_ABS_SEND_TIME] = 2};
	const uint8_t *tables[] = {chrome, firefox, two};
	struct fh_rtpext_values vals = {.set = FH_RTPEXT_BIT(FH_EXT_TWCC) |
					       FH_RTPEXT_BIT(FH_EXT_ABS_SEND_TIME) |
					       FH_RTPEXT_BIT(FH_EXT_AUDIO_LEVEL),
					.twcc_seq = 0x1234,
					.abs_send_time = 0x010203,
					.level = 40};
	uint8_t in[64], a[128], b[128];
	struct fh_rtp_hdr h;
	size_t n = build(in, 2, FH_RTPEXT_ONE_BYTE, (const uint8_t *)"\x22\1\2\3", 4);

	CHECK_EQ(fh_rtp_parse(in, n, &h), 0);
	for (int i = 0; i < 3; i++) {
		vals.twcc_seq = 0x1234;
		size_t hl = fh_rtpext_rebuild_header(a, sizeof(a), in, &h, tables[i], &vals);
		size_t off = fh_rtpext_twcc_offset(a, hl, tables[i][FH_EXT_TWCC]);

		CHECK(hl > 0);
		CHECK_EQ(off, 12 + 8 + 4 + (i == 2 ? 2 : 1));
		CHECK_EQ(fh_rd16(a + off), 0x1234);
		vals.twcc_seq = 0xfffe;
		CHECK_EQ(fh_rtpext_rebuild_header(b, sizeof(b), in, &h, tables[i], &vals), hl);
		fh_wr16(a + off, 0xfffe);
		CHECK(memcmp(a, b, hl) == 0);
		/* another id, a cut header, no block: not there */
		CHECK_EQ(fh_rtpext_twcc_offset(a, hl, (uint8_t)(tables[i][FH_EXT_TWCC] + 1)), 0);
		CHECK_EQ(fh_rtpext_twcc_offset(a, off, tables[i][FH_EXT_TWCC]), 0);
		CHECK_EQ(fh_rtpext_twcc_offset(a, 11, tables[i][FH_EXT_TWCC]), 0);
		CHECK_EQ(fh_rtpext_twcc_offset(a, hl, 0), 0);
	}
	const uint8_t no_twcc[FH_EXT_MAX] = {[FH_EXT_ABS_SEND_TIME] = 3};
	size_t hl = fh_rtpext_rebuild_header(a, sizeof(a), in, &h, no_twcc, &vals);

	CHECK_EQ(fh_rtpext_twcc_offset(a, hl, chrome[FH_EXT_TWCC]), 0);
	CHECK_EQ(fh_rtpext_twcc_offset(in, 12, chrome[FH_EXT_TWCC]), 0);
}

static void abs_time(void)
{
	CHECK_EQ(fh_rtpext_abs_time(0), 0);
	CHECK_EQ(fh_rtpext_abs_time(1000000), 1 << 18);
	CHECK_EQ(fh_rtpext_abs_time(500000), 1 << 17);
	CHECK_EQ(fh_rtpext_abs_time(64000000), 0); /* wraps every 64 s */
	CHECK_EQ(fh_rtpext_abs_time(63999999), 0xffffff);
	CHECK_EQ(fh_rtpext_abs_time(UINT64_MAX), fh_rtpext_abs_time(UINT64_MAX % 64000000));
}

TEST_MAIN(chrome_video, chrome_audio_with_csrcs, firefox_ids, two_byte_and_padding, malformed,
	  write_roundtrip, write_two_byte, twcc_offset, abs_time)
