/*
 * test_fhc_sim: the simulated browser's media pieces that funkhaus-bench sends and measures
 * with. What a simulcast sender writes reads back with the parsers the dataplane uses
 * (fh_vp8_parse, fh_rtpext_parse); the downlink model passes its rate and drops past 200 ms of
 * queue; frames and freezes count as a viewer would see them.
 */
#include "fh_rtpext.h"
#include "fh_test.h"
#include "fh_vp8.h"
#include "fhc_sim.h"

static const uint8_t ids[FH_EXT_MAX] = {
	[FH_EXT_AUDIO_LEVEL] = 1, [FH_EXT_ABS_SEND_TIME] = 2, [FH_EXT_TWCC] = 3,
	[FH_EXT_MID] = 4,	  [FH_EXT_RID] = 10,	      [FH_EXT_RRID] = 11};

static void vp8_reads_back(void)
{
	uint8_t p[64];
	struct fh_vp8_desc d;
	static const uint8_t l1t3[4] = {0, 2, 1, 2};

	for (unsigned f = 0; f < 8; f++) {
		size_t n = fhc_sim_vp8_desc(p, true, 0x7ffe, 200, fhc_sim_l1t3_tid(f),
					    fhc_sim_l1t3_sync(f));

		n += fhc_sim_vp8_header(p + n, f == 0, 1280, 720, 1000);
		memset(p + n, 0, 8);
		CHECK_EQ(fh_vp8_parse(p, n + 8, &d), 0);
		CHECK(d.x && d.i && d.l && d.t && !d.k && d.s);
		CHECK_EQ(d.pid, 0);
		CHECK_EQ(d.picid_bits, 15);
		CHECK_EQ(d.picid, 0x7ffe);
		CHECK_EQ(d.tl0picidx, 200);
		CHECK_EQ(d.tid, l1t3[f & 3]);
		CHECK_EQ(d.y, (f & 3) == 1 || (f & 3) == 2);
		CHECK_EQ(d.keyframe, f == 0);
		CHECK_EQ(d.len, 6);
	}
	size_t n = fhc_sim_vp8_desc(p, false, 5, 1, 0, false);

	memset(p + n, 0, 4);
	CHECK_EQ(fh_vp8_parse(p, n + 4, &d), 0);
	CHECK(!d.s && !d.keyframe);
}

static void ext_reads_back(void)
{
	uint8_t pkt[128] = {0x90, 96};
	struct fhc_sim_ext e = {.ids = ids,
				.twcc = true,
				.twcc_seq = 0xabcd,
				.abs = true,
				.abs_send_time = 0x123456,
				.mid = "1",
				.rid = "h"};
	size_t x = fhc_sim_ext_write(pkt + 12, 100, &e);
	struct fh_rtp_hdr h;
	struct fh_rtpext_view v;
	uint16_t seq;
	uint32_t t;
	char s[16];

	CHECK(x > 4 && x % 4 == 0);
	memset(pkt + 12 + x, 0x3c, 20);
	CHECK_EQ(fh_rtp_parse(pkt, 12 + x + 20, &h), 0);
	CHECK_EQ(fh_rtpext_parse(pkt, 12 + x + 20, &h, ids, &v), 0);
	CHECK_EQ(fh_rtpext_twcc_seq(pkt, &v, &seq), 0);
	CHECK_EQ(seq, 0xabcd);
	CHECK_EQ(fh_rtpext_abs_send_time(pkt, &v, &t), 0);
	CHECK_EQ(t, 0x123456);
	CHECK_EQ(fh_rtpext_str(pkt, &v, FH_EXT_MID, s, sizeof(s)), 1);
	CHECK_EQ(fh_rtpext_str(pkt, &v, FH_EXT_RID, s, sizeof(s)), 1);
	CHECK(!strcmp(s, "h"));
	CHECK(!fh_rtpext_has(&v, FH_EXT_RRID));
	e.rrid = true;
	x = fhc_sim_ext_write(pkt + 12, 100, &e);
	CHECK_EQ(fh_rtp_parse(pkt, 12 + x + 20, &h), 0);
	CHECK_EQ(fh_rtpext_parse(pkt, 12 + x + 20, &h, ids, &v), 0);
	CHECK(fh_rtpext_has(&v, FH_EXT_RRID) && !fh_rtpext_has(&v, FH_EXT_RID));
	CHECK_EQ(fhc_sim_ext_write(pkt, 8, &e), 0); /* does not fit */
	struct fhc_sim_ext none = {.ids = ids};

	CHECK_EQ(fhc_sim_ext_write(pkt, 100, &none), 0);
}

static void link_rate_and_drops(void)
{
	struct fhc_sim_link l = {.bps = 1000000};
	uint64_t at = 0, t;
	unsigned passed = 0;

	/* 1000-byte datagrams offered at 2 Mbit/s for 2 s: about half pass, none waits > 200 ms */
	for (t = 0; t < 2000000; t += 4000) {
		uint64_t a;

		if (fhc_sim_link_pass(&l, t, 972, &a)) {
			CHECK(a >= t && a - t <= 200000 + 8000);
			CHECK(a > at);
			at = a;
			passed++;
		}
	}
	CHECK(passed > 240 && passed <= 276); /* 2 s at the rate, and the 200 ms queue */
	CHECK_EQ(l.passed, passed);
	CHECK_EQ(l.dropped, 500 - passed);
	struct fhc_sim_link inf = {0};
	uint64_t a;

	CHECK(fhc_sim_link_pass(&inf, 77, 1200, &a));
	CHECK_EQ(a, 77);
}

static void frames_and_freezes(void)
{
	struct fhc_sim_frames f = {0};
	uint16_t seq = 100;
	uint64_t t = 1000000;

	/* 30 frames of two packets on layer 2, 33 ms apart */
	for (int i = 0; i < 30; i++, t += 33000) {
		fhc_sim_frames_packet(&f, seq++, (uint32_t)i * 3000, false, 1, 2, t);
		fhc_sim_frames_packet(&f, seq++, (uint32_t)i * 3000, true, 0, 2, t + 1000);
	}
	CHECK_EQ(f.frames, 30);
	CHECK_EQ(f.freezes, 0);
	CHECK_EQ(f.layer_us[2], 29 * 33000);
	/* a frame loses its first packet, then 800 ms without anything */
	seq++;
	fhc_sim_frames_packet(&f, seq++, 30 * 3000, true, 0, 2, t);
	CHECK_EQ(f.frames, 30);
	t += 800000;
	fhc_sim_frames_packet(&f, seq++, 31 * 3000, false, 1, 0, t);
	fhc_sim_frames_packet(&f, seq++, 31 * 3000, true, 0, 0, t);
	CHECK_EQ(f.frames, 31);
	CHECK_EQ(f.freezes, 1);
	CHECK_EQ(f.frozen_us, t - (1000000 + 29 * 33000 + 1000));
	/* a repeated packet of a closed frame changes nothing; the open wait counts at the end */
	fhc_sim_frames_packet(&f, (uint16_t)(seq - 1), 31 * 3000, true, 0, 0, t + 10);
	CHECK_EQ(f.frames, 31);
	CHECK_EQ(fhc_sim_frames_frozen(&f, t + 400000), f.frozen_us);
	CHECK_EQ(fhc_sim_frames_frozen(&f, t + 600000), f.frozen_us + 600000);
	/* without a VP8 descriptor a frame starts right after the previous marker */
	struct fhc_sim_frames g = {0};

	fhc_sim_frames_packet(&g, 10, 0, true, -1, -1, 0);
	CHECK_EQ(g.frames, 0); /* its start was never seen */
	fhc_sim_frames_packet(&g, 11, 3000, false, -1, -1, 66000);
	fhc_sim_frames_packet(&g, 12, 3000, true, -1, -1, 66000);
	CHECK_EQ(g.frames, 1);
	fhc_sim_frames_packet(&g, 14, 6000, true, -1, -1, 99000); /* 13 lost */
	CHECK_EQ(g.frames, 1);
}

TEST_MAIN(vp8_reads_back, ext_reads_back, link_rate_and_drops, frames_and_freezes)
