/* libFuzzer target: RTCP compound walking and the feedback the worker reads. */
#include <stddef.h>
#include <stdint.h>

#include "fh_rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fh_rtcp_pkt p;
	size_t off = 0;
	uint16_t seqs[64];

	if (fh_rtcp_validate(data, size) < 0)
		return 0;
	while (fh_rtcp_next(data, size, &off, &p) == 1) {
		fh_rtcp_fb_media_ssrc(&p);
		if (p.pt == FH_RTCP_RTPFB && p.count == FH_RTPFB_NACK)
			fh_rtcp_nack_seqs(&p, seqs, 64);
		fh_rtcp_remb_bitrate(&p);
		if (p.pt == FH_RTCP_RR && p.len >= 8 + 24) {
			struct fh_rtcp_report_block rb;

			fh_rtcp_parse_report_block(p.data + 8, &rb);
		}
	}
	return 0;
}
