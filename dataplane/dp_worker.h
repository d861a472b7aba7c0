/*
 * dp_worker: one forwarding worker of funkhaus-dp, pinned to its lcore, owning its UDP port,
 * its participants and their SRTP sessions. Nothing here is shared with another worker, so
 * nothing takes a lock; the control plane reaches a worker only through its rings.
 */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include "dp_io.h"
#include "dp_srtp.h"
#include "fh_region.h"
#include "fh_rtp.h"

#define DP_BURST 32
#define DP_TX_MAX 512  /* datagrams queued before a flush; the fan-out of a burst fits */
#define DP_ENC_MAX 256 /* copies collected before one SRTP batch */
#define DP_MAX_PUB 4   /* streams one participant publishes */
#define DP_MAX_OUT FH_MAX_RECV_STREAMS /* streams one participant receives */
#define DP_MAX_FWD 64		       /* receivers of one stream */
#define DP_CACHE 256		       /* video packets kept per stream to answer NACKs */
#define DP_CACHE_PKT 1280	       /* larger packets are forwarded but not cached */
#define DP_ADDR_HASH 2048	       /* power of two, twice FH_MAX_SLOTS */

struct dp_cache_ent {
	uint16_t seq;
	uint16_t len; /* 0: empty */
	uint8_t data[DP_CACHE_PKT];
};

/* RFC 3550 A.1 / A.8 receiver statistics, for the receiver reports we send publishers. */
struct dp_rx_stats {
	bool init;
	uint16_t max_seq;
	uint32_t cycles;
	uint32_t base_seq;
	uint32_t received;
	uint32_t expected_prior;
	uint32_t received_prior;
	uint32_t jitter; /* in RTP units, times 16 */
	int64_t last_transit;
	uint32_t last_sr_mid; /* middle 32 bits of the last SR's NTP time */
	uint64_t last_sr_tsc;
};

struct dp_fwd {
	uint16_t slot; /* receiving participant */
	uint8_t out;   /* index in its out[] */
};

struct dp_pub {
	bool used;
	bool muted;
	uint8_t kind;
	uint8_t pt;
	uint8_t rtx_pt;
	uint32_t key;
	uint32_t ssrc;
	uint32_t rtx_ssrc;
	uint32_t clock_rate;
	uint64_t last_pli_tsc;
	uint8_t fir_seq;
	struct dp_rx_stats st;
	uint16_t n_fwd;
	struct dp_fwd fwd[DP_MAX_FWD];
	struct dp_cache_ent *cache; /* video only */
};

struct dp_out {
	bool used;
	uint8_t kind;
	uint8_t out_pt;
	uint8_t out_rtx_pt;
	uint16_t pub_slot;
	uint16_t rtx_seq;
	uint32_t pub_key;
	uint32_t out_ssrc;
	uint32_t out_rtx_ssrc;
	uint32_t packets;
	uint32_t octets;
	struct fh_rewrite rw;
};

struct dp_part {
	bool used;
	bool bound;
	bool has_keys;
	uint8_t lufrag_len;
	uint8_t rufrag_len;
	uint8_t lpwd_len;
	uint32_t room;
	char lufrag[FH_UFRAG_MAX + 1];
	char rufrag[FH_UFRAG_MAX + 1];
	char lpwd[FH_PWD_MAX + 1];
	struct fh_addr addr;
	uint8_t via; /* dpdk: the media port its checks came in on */
	uint64_t last_check_tsc;
	uint64_t next_rtcp_tsc;
	struct dp_srtp_sess *srtp; /* NULL until keys are installed */
	struct dp_pub pub[DP_MAX_PUB];
	struct dp_out out[DP_MAX_OUT];
};

struct dp_worker {
	unsigned id;
	volatile bool *stop;
	const struct dp_io_ops *io;
	void *port;
	struct rte_mempool *pool;
	struct rte_ring *cmd, *evt, *up, *down;
	struct fh_counters *ctr;
	struct dp_part *parts;		 /* FH_MAX_SLOTS */
	int16_t addr_hash[DP_ADDR_HASH]; /* slot, or -1 */
	uint32_t sfu_ssrc;		 /* sender SSRC of the RTCP this worker writes */
	uint64_t hz;
	uint64_t start_tsc;
	uint64_t consent_cycles;
	uint64_t pli_min_cycles;
	uint64_t remb_bitrate;
	struct dp_srtp_engine *srtp;
	uint16_t n_dec, n_enc;
	struct dp_srtp_op dec[DP_BURST];   /* this burst's SRTP/SRTCP, decrypted together */
	struct dp_srtp_op enc[DP_ENC_MAX]; /* copies waiting to be encrypted together */
	uint16_t n_tx;
	struct rte_mbuf *tx[DP_TX_MAX];
};

struct dp_worker_conf {
	unsigned id;
	const struct dp_io_ops *io;
	struct dp_io_conf io_conf;
	unsigned consent_timeout_s;
	uint64_t remb_bitrate;
	struct dp_srtp_engine *srtp; /* the worker's from here on */
};

/* dp_worker.c */
int dp_worker_init(struct dp_worker *w, const struct dp_worker_conf *c, struct fh_region *reg,
		   struct rte_mempool *pool, volatile bool *stop);
int dp_worker_main(void *arg);
void dp_worker_fini(struct dp_worker *w);
void dp_worker_apply(struct dp_worker *w, const struct fh_cmd *c, uint64_t now);
void dp_worker_timers(struct dp_worker *w, uint64_t now);
void dp_worker_input(struct dp_worker *w, struct rte_mbuf *m, uint64_t now);
void dp_worker_flush(struct dp_worker *w);
void dp_worker_emit(struct dp_worker *w, uint16_t type, uint16_t slot, uint32_t arg);
int dp_addr_lookup(const struct dp_worker *w, const struct fh_addr *a);
void dp_addr_insert(struct dp_worker *w, const struct fh_addr *a, uint16_t slot);
void dp_addr_remove(struct dp_worker *w, const struct fh_addr *a);

static inline void dp_count(struct dp_worker *w, enum fh_ctr c, uint64_t n)
{
	__atomic_store_n(&w->ctr->ctr[c], w->ctr->ctr[c] + n, __ATOMIC_RELAXED);
}

static inline void dp_drop(struct dp_worker *w, enum fh_drop d)
{
	__atomic_store_n(&w->ctr->drop[d], w->ctr->drop[d] + 1, __ATOMIC_RELAXED);
}

/* Queues a datagram for the next flush; the queue owns it from here. */
static inline void dp_worker_send(struct dp_worker *w, struct rte_mbuf *m)
{
	if (unlikely(w->n_tx == DP_TX_MAX))
		dp_worker_flush(w);
	w->tx[w->n_tx++] = m;
}

/* dp_stun.c */
void dp_stun_input(struct dp_worker *w, struct rte_mbuf *m, uint64_t now);

/* dp_media.c */
void dp_media_decrypt(struct dp_worker *w);
void dp_media_input(struct dp_worker *w, uint64_t now);
void dp_media_encrypt(struct dp_worker *w);
void dp_media_release(struct dp_worker *w);
void dp_media_send_pli(struct dp_worker *w, uint16_t slot, struct dp_pub *pub, uint64_t now,
		       bool force);
void dp_media_periodic_rtcp(struct dp_worker *w, uint16_t slot, uint64_t now);
int dp_media_set_keys(struct dp_worker *w, struct dp_part *p, const struct fh_cmd_keys *k);
void dp_media_free_keys(struct dp_worker *w, struct dp_part *p);

#endif
