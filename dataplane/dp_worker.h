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
#include "fh_alloc.h"
#include "fh_region.h"
#include "fh_rtp.h"
#include "fh_speaker.h"
#include "fh_vp8.h"

#define DP_BURST 32
#define DP_TX_MAX 512  /* datagrams queued before a flush; the fan-out of a burst fits */
#define DP_ENC_MAX 256 /* copies collected before one SRTP batch */
#define DP_MAX_PUB 4   /* streams one participant publishes */
#define DP_MAX_OUT FH_MAX_RECV_STREAMS /* streams one participant receives */
_Static_assert(FH_MAX_RECV_STREAMS <= 255, "dp_part.n_out is a uint8_t");
#define DP_MAX_FWD 256	  /* receivers of one stream */
#define DP_CACHE 256	  /* video packets kept per stream to answer NACKs */
#define DP_CACHE_PKT 1280 /* larger packets are forwarded but not cached */
#define DP_ADDR_HASH 2048 /* power of two, twice FH_MAX_SLOTS */

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

#define DP_NONE 0xff /* no layer */
#define DP_MAX_TID 3 /* VP8 temporal layers told apart */

/* One simulcast encoding of a published video (or the one stream of anything else): its
 * SSRCs, as the offer named them or as learned from the rid extensions, its receive
 * statistics and what it carries per temporal layer. */
struct dp_layer {
	uint32_t ssrc; /* 0: not learned yet */
	uint32_t rtx_ssrc;
	struct dp_rx_stats st;
	uint64_t last_rx_tsc;
	uint64_t last_pli_tsc;
	uint8_t fir_seq;
	uint8_t n_tid; /* temporal layers seen (highest TID + 1); 1: none */
	bool key_seen;
	uint32_t key_ts; /* RTP timestamp of the last key frame: its packets count apart */
	struct fh_layer_rate rate;
	struct dp_cache_ent *cache; /* video only, allocated when the SSRC is known */
};

struct dp_pub {
	bool used;
	bool muted;
	uint8_t kind;
	uint8_t pt;
	uint8_t rtx_pt;
	uint8_t n_layers; /* 1 without simulcast */
	uint32_t key;
	uint32_t clock_rate;
	char mid[FH_MID_MAX + 1];
	char rid[FH_MAX_LAYERS][FH_RID_MAX + 1];
	struct dp_layer layer[FH_MAX_LAYERS];
	uint16_t n_fwd;
	struct dp_fwd fwd[DP_MAX_FWD];
};

/* Outbound sequence number -> what it carried, for answering a receiver's NACKs after layer
 * switches and temporal drops made the numbering differ from the source's. */
#define DP_SEQMAP 512
struct dp_seqmap {
	uint16_t out[DP_SEQMAP];
	uint16_t in[DP_SEQMAP];
	uint8_t layer[DP_SEQMAP];
};

struct dp_out {
	bool used;
	bool paused;  /* the allocator gives this source nothing now */
	bool skipped; /* skip_seq holds the newest inbound packet not forwarded */
	uint8_t kind;
	uint8_t out_pt;
	uint8_t out_rtx_pt;
	uint8_t cur;	/* layer forwarded now, DP_NONE before the first key frame */
	uint8_t target; /* layer the allocator chose */
	uint8_t tmax;	/* highest temporal layer forwarded */
	uint8_t twant;	/* temporal layer chosen; tmax rises to it at a layer sync frame */
	uint16_t pub_slot;
	uint16_t rtx_seq;
	uint16_t skip_seq;
	uint32_t pub_key;
	uint32_t out_ssrc;
	uint32_t out_rtx_ssrc;
	uint32_t packets;
	uint32_t octets;
	uint32_t bytes; /* this window */
	uint32_t bps;
	uint8_t layers;	       /* layers the receiver wants at most (its tile); 0: all */
	uint8_t priority;      /* share-out order of the allocator */
	uint64_t last_fwd_tsc; /* last packet forwarded on it: the timestamp gap of a change */
	uint64_t want_key_tsc; /* when the wait for a key frame of target began; 0: none */
	uint64_t last_pli_tsc; /* the receiver's last key frame request passed on */
	struct fh_rewrite rw;
	struct fh_vp8_rewrite vp8;
	struct fh_vp8_temporal temp; /* temporal layers forwarded and wanted */
	struct dp_seqmap *map;	     /* video */
};

struct dp_part {
	bool used;
	bool bound;
	bool has_keys;
	bool twcc; /* transport-wide feedback both ways instead of REMB */
	uint8_t lufrag_len;
	uint8_t rufrag_len;
	uint8_t lpwd_len;
	uint8_t ext[FH_EXT_MAX]; /* its header extension ids */
	uint32_t room;
	uint16_t room_idx; /* its entry in the worker's rooms[] while spk */
	uint16_t spk;	   /* its speaker there, fh_speaker_add's index + 1; 0 (as zeroed): none */
	char lufrag[FH_UFRAG_MAX + 1];
	char rufrag[FH_UFRAG_MAX + 1];
	char lpwd[FH_PWD_MAX + 1];
	struct fh_addr addr;
	uint8_t via;	   /* dpdk: the media port its checks came in on */
	uint16_t tw_seq;   /* next transport-wide sequence number we send it */
	uint32_t estimate; /* bit/s, 0 without feedback */
	uint32_t sent_bytes, sent_bps;
	uint32_t probe_bps;  /* padding rate the allocator asks for */
	uint32_t rtx_tokens; /* bytes of RTX and probing it may still get */
	uint64_t last_check_tsc;
	uint64_t next_rtcp_tsc;
	uint64_t next_alloc_tsc;
	struct dp_srtp_sess *srtp; /* NULL until keys are installed */
	struct dp_adapt *ad;	   /* feedback, estimate and allocation state, with FH_CMD_MEDIA */
	struct dp_pub pub[DP_MAX_PUB];
	struct dp_out out[DP_MAX_OUT];
	uint8_t n_out; /* one past the highest out[] in use: the loops over them end there */
};

/* A room as the worker knows it: the room id of its participants' FH_CMD_PART_ADD, and the
 * room's audio levels (fh_speaker), allocated with its first participant. */
#define DP_NO_ROOM 0xffff
struct dp_room {
	uint32_t id; /* 0: entry free */
	uint16_t n_parts;
	struct fh_speaker_room *spk;
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
	uint64_t pace_save_cycles; /* the most sending a pacer saves up (dp_adapt) */
	uint64_t pace_wait_cycles; /* what waited this long in a pacer leaves at once */
	uint64_t remb_bitrate;
	struct dp_srtp_engine *srtp;
	uint16_t n_dec, n_enc;
	struct dp_srtp_op dec[DP_BURST];   /* this burst's SRTP/SRTCP, decrypted together */
	struct dp_srtp_op enc[DP_ENC_MAX]; /* copies waiting to be encrypted together */
	uint16_t n_tx;
	struct rte_mbuf *tx[DP_TX_MAX];
	struct fh_slot_stat *stat; /* FH_MAX_SLOTS, in the region */
	uint64_t next_pace_tsc;
	uint64_t clk_tsc, clk_us; /* see dp_worker_us */
	uint16_t n_probing;	  /* slots sending probes, from the last timer pass */
	uint16_t probing[FH_MAX_SLOTS];
	uint16_t n_pacing; /* slots with video waiting in their pacer */
	uint16_t pacing[FH_MAX_SLOTS];
	struct dp_room *rooms; /* FH_MAX_SLOTS: a room per participant at most */
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

/* TSC to microseconds of CLOCK_MONOTONIC. The TSC rate DPDK measured at start is off by up
 * to a few parts in a thousand on some hosts: counted from the start, that drift would look to
 * a browser's congestion control (and to ours) like a queue growing by a millisecond a
 * second. So the TSC only interpolates from the last re-anchoring (every timer pass, 100 ms). */
static inline uint64_t dp_worker_us(const struct dp_worker *w, uint64_t tsc)
{
	return w->clk_us + (uint64_t)((double)(int64_t)(tsc - w->clk_tsc) * 1e6 / (double)w->hz);
}

/* dp_stun.c */
void dp_stun_input(struct dp_worker *w, struct rte_mbuf *m, uint64_t now);

/* dp_media.c */
void dp_media_decrypt(struct dp_worker *w);
void dp_media_input(struct dp_worker *w, uint64_t now);
void dp_media_encrypt(struct dp_worker *w);
void dp_media_release(struct dp_worker *w);
bool dp_media_request_key(struct dp_worker *w, uint16_t slot, struct dp_pub *pub, int layer,
			  uint64_t now, bool force);
void dp_media_periodic_rtcp(struct dp_worker *w, uint16_t slot, uint64_t now);
struct dp_pub *dp_media_find_ssrc(struct dp_part *p, uint32_t ssrc, int *layer, bool *rtx);
struct dp_pub *dp_media_find_key(struct dp_part *p, uint32_t key);
void dp_media_send_srtp(struct dp_worker *w, struct dp_part *p, struct rte_mbuf *m,
			struct rte_mbuf *src, bool rtcp);
void dp_media_send_rtcp(struct dp_worker *w, struct dp_part *p, const uint8_t *buf, size_t len);
size_t dp_media_header(struct dp_worker *w, struct dp_part *s, uint8_t *q, size_t cap,
		       const uint8_t *in, const struct fh_rtp_hdr *h, int audio_level, uint64_t now,
		       int *tw);

/* dp_worker.c */
int dp_layer_start(struct dp_worker *w, struct dp_pub *pub, struct dp_layer *L, uint32_t ssrc);

/* dp_speaker.c: rooms and their dominant speaker */
int dp_speaker_init(struct dp_worker *w);
void dp_speaker_fini(struct dp_worker *w);
void dp_speaker_join(struct dp_worker *w, uint16_t slot, uint64_t now);
void dp_speaker_leave(struct dp_worker *w, uint16_t slot);
void dp_speaker_timer(struct dp_worker *w, uint64_t now);

/* One audio packet's RFC 6464 level (level 0..127 -dBov, voice the V bit) from p. */
static inline void dp_speaker_level(struct dp_worker *w, const struct dp_part *p, uint8_t level,
				    bool voice, uint64_t now)
{
	if (!p->spk)
		return;
	fh_speaker_level(w->rooms[p->room_idx].spk, p->spk - 1, level, voice,
			 dp_worker_us(w, now) / 1000);
}

/* dp_adapt.c */
/* The pacers' cycle counts, from w->hz. */
void dp_adapt_worker_init(struct dp_worker *w);
int dp_adapt_new(struct dp_part *p);
void dp_adapt_free(struct dp_part *p);
int dp_adapt_media(struct dp_worker *w, struct dp_part *p, const struct fh_cmd_media *c);
void dp_twcc_arrived(struct dp_worker *w, struct dp_part *p, uint16_t seq, uint64_t now);
void dp_twcc_sent(struct dp_worker *w, struct dp_part *p, int seq, uint16_t len, uint64_t now);
void dp_twcc_feedback(struct dp_worker *w, struct dp_part *p, const struct fh_rtcp_pkt *pkt,
		      uint64_t now);
bool dp_adapt_rtx_budget(struct dp_part *p, size_t bytes);
void dp_adapt_timer(struct dp_worker *w, uint16_t slot, uint64_t now);
void dp_adapt_pace(struct dp_worker *w, uint64_t now);
void dp_adapt_pace_put(struct dp_worker *w, struct dp_part *p, struct rte_mbuf *m, int tw,
		       uint64_t now, uint64_t now_us);
void dp_adapt_pace_one(struct dp_worker *w, struct dp_part *p, uint64_t now);
int dp_media_set_keys(struct dp_worker *w, struct dp_part *p, const struct fh_cmd_keys *k);
void dp_media_free_keys(struct dp_worker *w, struct dp_part *p);

#endif
