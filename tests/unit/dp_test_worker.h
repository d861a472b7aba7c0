/* A worker made in a unit test of what the commands and dp_speaker touch: participants,
 * counters, the event ring, the speaker rooms, the TSC rate (no port, no SRTP, no pools). */
#ifndef DP_TEST_WORKER_H
#define DP_TEST_WORKER_H

#include <stdlib.h>
#include <string.h>

#include "dp_worker.h"
#include "fh_test.h"

static inline void dp_test_worker_init(struct dp_worker *w, struct fh_counters *ctr, uint64_t hz)
{
	ssize_t sz = rte_ring_get_memsize_elem(sizeof(struct fh_evt), FH_EVT_RING_SIZE);

	memset(w, 0, sizeof(*w));
	w->hz = hz;
	w->ctr = ctr;
	w->parts = calloc(FH_MAX_SLOTS, sizeof(*w->parts));
	w->evt = aligned_alloc(64, (size_t)(sz + 63) / 64 * 64);
	CHECK(w->parts && w->evt);
	CHECK_EQ(rte_ring_init(w->evt, "evt", FH_EVT_RING_SIZE, RING_F_SP_ENQ | RING_F_SC_DEQ), 0);
	CHECK_EQ(dp_speaker_init(w), 0);
}

#endif
