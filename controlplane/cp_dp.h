/*
 * cp_dp: the control plane's side of the ring region. Attaches to funkhaus-dp's region,
 * hands out participant slots per worker, sends commands and DTLS records down, and drains
 * events and DTLS records coming up. Runs on the event loop; never blocks.
 */
#ifndef CP_DP_H
#define CP_DP_H

#include <stdbool.h>
#include <stdint.h>

#include "fh_region.h"

struct cp_dp_handlers {
	void (*event)(unsigned worker, const struct fh_evt *e);
	void (*packet)(unsigned worker, const struct fh_pkt_msg *m);
	void (*lost)(void);	/* the dataplane stopped or restarted: all media state is gone */
	void (*attached)(void); /* attached; slots live from before are orphans (notes) */
};

void cp_dp_init(const char *region_name, const struct cp_dp_handlers *h);
/* Attaches when possible, checks the heartbeat and drains the rings; call often. */
void cp_dp_poll(uint64_t now_ms);
/* Whether a live dataplane is attached and its heartbeat moved within the last 500 ms: new
 * joins and offers are taken only then. */
/* Attached to a live dataplane: commands for running calls go down. */
bool cp_dp_attached(void);
/* Attached and its heartbeat moved within READY_MS: new joins are taken. */
bool cp_dp_ready(void);
/* Milliseconds since the attached dataplane's heartbeat last moved, as of the last poll; -1
 * when none is attached. */
long cp_dp_heartbeat_age_ms(void);
unsigned cp_dp_workers(void);
uint16_t cp_dp_worker_port(unsigned w);
unsigned cp_dp_worker_lcore(unsigned w);
const struct fh_counters *cp_dp_counters(unsigned w);
/* NIC port i's counters (DPDK backend); NULL past the last port or while not attached. */
const struct fh_port_counters *cp_dp_port_counters(unsigned i);
/* Slots: -1 when the worker is full. */
int cp_dp_slot_alloc(unsigned w);
void cp_dp_slot_free(unsigned w, int slot);
unsigned cp_dp_slots_used(unsigned w);
/* Commands that wait for room in a worker's ring are kept, in order, up to this many. */
#define CP_DP_BACKLOG_MAX 65536
/* 0 (in the ring, or waiting behind earlier ones for room in it, in order), or -1 when the
 * dataplane is not attached or CP_DP_BACKLOG_MAX commands wait already. */
int cp_dp_cmd(unsigned w, struct fh_cmd *c);
/* Commands waiting for room in worker w's ring; commands refused in all. */
unsigned cp_dp_backlog(unsigned w);
uint64_t cp_dp_cmds_lost(void);
int cp_dp_send(unsigned w, uint16_t slot, const uint8_t *data, size_t len);
/* Slot s's note (FH_NOTE_SIZE bytes the dataplane keeps for us), NULL when not attached. */
uint8_t *cp_dp_note(unsigned w, unsigned s);
/* What worker w last wrote of slot s's receiver (struct fh_slot_stat), copied out whole while
 * the worker is not writing it; false, with *out zeroed, when not attached or when every try
 * of a few met a write. */
bool cp_dp_slot_stat(unsigned w, unsigned s, struct fh_slot_stat *out);
/* Whether slot s was live when we attached and nobody claimed it yet; claiming makes it ours. */
bool cp_dp_slot_orphan(unsigned w, unsigned s);
void cp_dp_slot_claim(unsigned w, unsigned s);
/* bound_s after attaching, the orphans nobody claimed are removed from their workers (once). */
void cp_dp_reap(uint64_t now_ms, unsigned bound_s);
void cp_dp_fini(void);

#endif
