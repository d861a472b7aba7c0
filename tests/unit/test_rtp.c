/* Unit tests of fh_rtp: RTP and RTCP parsing and building, demultiplexing. */
#include "fh_rtp.h"
#include "fh_test.h"

static void demux(void)
{
	uint8_t stun[20] = {0x00, 0x01}, dtls[13] = {22}, rtp[12] = {0x80, 96};
	uint8_t rtcp[8] = {0x80, 201}, junk[4] = {0x70};

	CHECK_EQ(fh_demux(stun, sizeof(stun)), FH_DEMUX_STUN);
	CHECK_EQ(fh_demux(dtls, sizeof(dtls)), FH_DEMUX_DTLS);
	CHECK_EQ(fh_demux(rtp, sizeof(rtp)), FH_DEMUX_RTP);
	CHECK_EQ(fh_demux(rtcp, sizeof(rtcp)), FH_DEMUX_RTCP);
	CHECK_EQ(fh_demux(junk, sizeof(junk)), FH_DEMUX_OTHER);
	CHECK_EQ(fh_demux(junk, 0), FH_DEMUX_OTHER);
	rtp[1] = 0x80 | 111; /* marker + PT 111 is 239: RTP, not RTCP */
	CHECK_EQ(fh_demux(rtp, sizeof(rtp)), FH_DEMUX_RTP);
}

static void rtp_parse(void)
{
	/* V=2, X=1, CC=1, M=1 PT=96, seq 0x1234, ts, ssrc, one CSRC, one-word extension */
	uint8_t p[] = {0x91, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0,	 0xde, 0xad, 0xbe, 0xef, 1,   2,
		       3,    4,	   0xbe, 0xde, 0, 1, 0x10, 0xff, 0,    0,    0xaa, 0xbb, 0xcc};
	struct fh_rtp_hdr h;

	CHECK_EQ(fh_rtp_parse(p, sizeof(p), &h), 0);
	CHECK_EQ(h.pt, 96);
	CHECK(h.marker);
	CHECK_EQ(h.seq, 0x1234);
	CHECK_EQ(h.ts, 0x1000);
	CHECK_EQ(h.ssrc, 0xdeadbeef);
	CHECK_EQ(h.hdr_len, 24);
	CHECK_EQ(h.payload_len, 3);
	for (size_t n = 0; n < 24; n++)
		CHECK(fh_rtp_parse(p, n, &h) < 0); /* every truncation of the header */
	p[0] = 0x51;				   /* version 1 */
	CHECK(fh_rtp_parse(p, sizeof(p), &h) < 0);
	p[0] = 0xb1; /* padding bit with a pad count larger than the payload */
	p[sizeof(p) - 1] = 9;
	CHECK(fh_rtp_parse(p, sizeof(p), &h) < 0);
	p[sizeof(p) - 1] = 2;
	CHECK_EQ(fh_rtp_parse(p, sizeof(p), &h), 0);
	CHECK_EQ(h.payload_len, 1);
	fh_rtp_set_seq(p, 7);
	fh_rtp_set_ts(p, 0x01020304);
	fh_rtp_set_ssrc(p, 42);
	CHECK_EQ(fh_rtp_parse(p, sizeof(p), &h), 0);
	CHECK(h.seq == 7 && h.ts == 0x01020304 && h.ssrc == 42);
}

static void rtcp_roundtrip(void)
{
	uint8_t buf[256];
	size_t n = 0, off = 0;
	struct fh_rtcp_report_block rb = {.ssrc = 5,
					  .fraction_lost = 12,
					  .cumulative_lost = -3,
					  .ext_highest_seq = 70000,
					  .jitter = 9,
					  .lsr = 1,
					  .dlsr = 2};
	struct fh_rtcp_sr_info sr = {
		.ssrc = 9, .ntp = 0x0102030405060708ull, .rtp_ts = 11, .packets = 12, .octets = 13};
	uint16_t seqs[] = {65534, 65535, 0, 3, 40}, got[32];
	uint32_t v[2] = {100, 200};
	struct fh_rtcp_pkt p;
	struct fh_rtcp_report_block back;

	n += fh_rtcp_build_sr(buf + n, sizeof(buf) - n, &sr);
	n += fh_rtcp_build_rr(buf + n, sizeof(buf) - n, 1, &rb, 1);
	n += fh_rtcp_build_pli(buf + n, sizeof(buf) - n, 1, 77);
	n += fh_rtcp_build_nack(buf + n, sizeof(buf) - n, 1, 78, seqs, 5);
	n += fh_rtcp_build_remb(buf + n, sizeof(buf) - n, 1, 1500000, v, 2);
	n += fh_rtcp_build_fir(buf + n, sizeof(buf) - n, 1, 79, 3);
	n += fh_rtcp_build_sdes_cname(buf + n, sizeof(buf) - n, 1, "abc");
	CHECK_EQ(fh_rtcp_validate(buf, n), 7);

	CHECK_EQ(fh_rtcp_next(buf, n, &off, &p), 1);
	CHECK_EQ(p.pt, FH_RTCP_SR);
	CHECK_EQ(fh_rd32(p.data + 16), 11);
	CHECK_EQ(fh_rtcp_next(buf, n, &off, &p), 1);
	CHECK_EQ(p.pt, FH_RTCP_RR);
	CHECK_EQ(p.count, 1);
	fh_rtcp_parse_report_block(p.data + 8, &back);
	CHECK(back.ssrc == 5 && back.fraction_lost == 12 && back.cumulative_lost == -3 &&
	      back.ext_highest_seq == 70000 && back.jitter == 9);
	CHECK_EQ(fh_rtcp_next(buf, n, &off, &p), 1);
	CHECK(p.pt == FH_RTCP_PSFB && p.count == FH_PSFB_PLI);
	CHECK_EQ(fh_rtcp_fb_media_ssrc(&p), 77);
	CHECK_EQ(fh_rtcp_next(buf, n, &off, &p), 1);
	CHECK(p.pt == FH_RTCP_RTPFB && p.count == FH_RTPFB_NACK);
	unsigned k = fh_rtcp_nack_seqs(&p, got, 32);

	CHECK_EQ(k, 5);
	for (unsigned i = 0; i < k && i < 5; i++)
		CHECK_EQ(got[i], seqs[i]); /* across the sequence wrap */
	CHECK_EQ(fh_rtcp_next(buf, n, &off, &p), 1);
	CHECK(fh_rtcp_remb_bitrate(&p) <= 1500000 && fh_rtcp_remb_bitrate(&p) > 1490000);
	CHECK_EQ(fh_rtcp_next(buf, n, &off, &p), 1);
	CHECK(p.pt == FH_RTCP_PSFB && p.count == FH_PSFB_FIR && fh_rd32(p.data + 12) == 79);
	CHECK_EQ(fh_rtcp_next(buf, n, &off, &p), 1);
	CHECK_EQ(p.pt, FH_RTCP_SDES);
	CHECK_EQ(fh_rtcp_next(buf, n, &off, &p), 0);
}

static void rtcp_refused(void)
{
	uint8_t buf[64];
	size_t n = fh_rtcp_build_pli(buf, sizeof(buf), 1, 2);

	CHECK_EQ(fh_rtcp_validate(buf, n - 1), -1); /* length field past the end */
	buf[0] = 0x40;
	CHECK_EQ(fh_rtcp_validate(buf, n), -1); /* version */
	n = fh_rtcp_build_pli(buf, sizeof(buf), 1, 2);
	buf[1] = 96; /* not an RTCP type */
	CHECK_EQ(fh_rtcp_validate(buf, n), -1);
	CHECK_EQ(fh_rtcp_build_rr(buf, 10, 1, NULL, 0), 8);
	CHECK_EQ(fh_rtcp_build_sr(buf, 10, &(struct fh_rtcp_sr_info){0}), 0);
}

TEST_MAIN(demux, rtp_parse, rtcp_roundtrip, rtcp_refused)
