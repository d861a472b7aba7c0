/*
 * fh_counters: the names and help texts of the counter table (fh_counters.h), read by
 * funkhaus-cp for /metrics, by the tools that print counters, and once at start by both
 * daemons for the table's hash. Nothing here is on the packet path.
 */
#include "fh_counters.h"

#define FH_CTR_NAME(n, d) #n,
#define FH_CTR_HELP(n, d) d,
#define FH_STAGE_NAME(n) #n,
const char *const fh_ctr_names[FH_CTR_MAX] = {FH_FOREACH_COUNTER(FH_CTR_NAME)};
const char *const fh_ctr_help[FH_CTR_MAX] = {FH_FOREACH_COUNTER(FH_CTR_HELP)};
const char *const fh_drop_names[FH_DROP_MAX] = {FH_FOREACH_DROP(FH_CTR_NAME)};
const char *const fh_drop_help[FH_DROP_MAX] = {FH_FOREACH_DROP(FH_CTR_HELP)};
const char *const fh_stage_names[FH_STAGE_MAX] = {FH_FOREACH_STAGE(FH_STAGE_NAME)};
const char *const fh_port_ctr_names[FH_PORT_CTR_MAX] = {FH_FOREACH_PORT_COUNTER(FH_CTR_NAME)};
const char *const fh_port_ctr_help[FH_PORT_CTR_MAX] = {FH_FOREACH_PORT_COUNTER(FH_CTR_HELP)};

/* FNV-1a over the names, each list closed by a byte no name holds, so moving a name from one
 * list to the next changes the hash too. */
static uint32_t fnv(uint32_t h, const char *const *names, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		for (const char *p = names[i]; *p; p++)
			h = (h ^ (uint8_t)*p) * 16777619u;
		h = (h ^ ',') * 16777619u;
	}
	return (h ^ ';') * 16777619u;
}

uint32_t fh_counters_table_hash(void)
{
	uint32_t h = 2166136261u;

	h = fnv(h, fh_ctr_names, FH_CTR_MAX);
	h = fnv(h, fh_drop_names, FH_DROP_MAX);
	h = fnv(h, fh_stage_names, FH_STAGE_MAX);
	return fnv(h, fh_port_ctr_names, FH_PORT_CTR_MAX);
}

const uint32_t fh_est_bucket_bps[FH_EST_BUCKETS - 1] = {100000,	 250000,  500000, 1000000,
							2000000, 4000000, 8000000};
