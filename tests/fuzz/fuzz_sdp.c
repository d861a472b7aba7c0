/* libFuzzer target: SDP offer parsing and answer writing, as for every client offer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cp_sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cp_sdp_offer o;
	static struct cp_sdp_answer_ml am[CP_SDP_MAX_MLINES];
	struct fh_addr cand;
	char why[128];

	if (cp_sdp_parse_offer((const char *)data, size, &o, why, sizeof(why)) < 0)
		return 0;
	fh_addr_parse(&cand, "127.0.0.1", 40000);
	for (unsigned i = 0; i < o.n; i++) {
		am[i].dir = (enum cp_dir)(i & 3);
		am[i].ssrc = i + 1;
		am[i].rtx_ssrc = i & 1 ? i + 100 : 0;
	}
	struct cp_sdp_local l = {.ufrag = "0000abcdefghijkl",
				 .pwd = "p",
				 .fingerprint = "sha-256 AA",
				 .cands = &cand,
				 .n_cands = 1,
				 .cname = "c"};
	free(cp_sdp_build_answer(&o, &l, am));
	return 0;
}
