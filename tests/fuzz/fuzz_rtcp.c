/*
 * libFuzzer target: RTCP compound walking and the feedback the worker reads, transport-wide
 * feedback included (parsed, then fed to an estimator that sent what it reports). The same
 * bytes also drive the TWCC receive window as (seq, arrival) records: whatever it builds must
 * parse back with the same number of statuses.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fh_bwe.h"
#include "fh_rtp.h"
#include "fh_twcc.h"

static struct fh_bwe bwe;
static struct fh_twcc_rx rx;
static struct fh_twcc_pkt pkts[FH_TWCC_WINDOW];

static void twcc_feedback(const struct fh_rtcp_pkt *p)
{
	struct fh_twcc_fb fb;
	int n = fh_twcc_parse(p->data, p->len, &fb, pkts, FH_TWCC_WINDOW);

	if (n <= 0)
		return;
	fh_bwe_init(&bwe, 1000000, 30000, 10000000);
	for (int i = 0; i < n; i++)
		fh_bwe_sent(&bwe, (uint16_t)(fb.base_seq + i), 1000000 + (uint64_t)i * 1000, 1200);
	fh_bwe_feedback(&bwe, pkts, (unsigned)n, 1200000);
	fh_bwe_feedback(&bwe, pkts, (unsigned)n, 1300000); /* the same again: counted once */
	if (fh_bwe_estimate(&bwe) < 30000 || fh_bwe_estimate(&bwe) > 10000000)
		abort();
}

static void twcc_window(const uint8_t *data, size_t size)
{
	uint8_t buf[1500];
	struct fh_twcc_fb fb;
	uint64_t t = 0;
	size_t len;

	fh_twcc_rx_init(&rx);
	for (size_t i = 0; i + 4 <= size; i += 4) {
		t += (uint64_t)fh_rd16(data + i + 2) * 40;
		fh_twcc_rx_record(&rx, fh_rd16(data + i), t);
	}
	while ((len = fh_twcc_rx_build(&rx, buf, 64 + size % 1400, 1, 2)) > 0) {
		uint16_t count = fh_rd16(buf + 14);

		if (fh_rtcp_validate(buf, len) != 1 ||
		    fh_twcc_parse(buf, len, &fb, pkts, FH_TWCC_WINDOW) != count)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fh_rtcp_pkt p;
	size_t off = 0;
	uint16_t seqs[64];

	twcc_window(data, size);
	if (fh_rtcp_validate(data, size) < 0)
		return 0;
	while (fh_rtcp_next(data, size, &off, &p) == 1) {
		fh_rtcp_fb_media_ssrc(&p);
		if (p.pt == FH_RTCP_RTPFB && p.count == FH_RTPFB_NACK)
			fh_rtcp_nack_seqs(&p, seqs, 64);
		if (p.pt == FH_RTCP_RTPFB && p.count == FH_RTPFB_TWCC)
			twcc_feedback(&p);
		fh_rtcp_remb_bitrate(&p);
		if (p.pt == FH_RTCP_RR && p.len >= 8 + 24) {
			struct fh_rtcp_report_block rb;

			fh_rtcp_parse_report_block(p.data + 8, &rb);
		}
	}
	return 0;
}
