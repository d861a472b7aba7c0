/* libFuzzer target: RTP header parsing and rewriting. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fh_rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fh_rtp_hdr h;
	struct fh_rewrite r;
	uint16_t seq;
	uint32_t ts;

	fh_demux(data, size);
	if (fh_rtp_parse(data, size, &h) < 0)
		return 0;
	if ((size_t)h.hdr_len + h.payload_len + h.pad_len != size)
		__builtin_trap();
	fh_rewrite_init(&r, h.seq ^ 0x5555, h.ts);
	fh_rewrite_map(&r, h.ssrc, h.seq, h.ts, 3000, &seq, &ts);
	if (fh_rewrite_unmap_seq(&r, seq) != h.seq)
		__builtin_trap();
	return 0;
}
