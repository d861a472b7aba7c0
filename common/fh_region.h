/*
 * fh_region: the ring region, the only thing funkhaus-dp and funkhaus-cp share.
 *
 * funkhaus-dp creates one POSIX shared-memory object; funkhaus-cp maps it. It holds a header
 * (magic, ABI version, worker count, generation, heartbeat) and, per worker, four single-
 * producer/single-consumer rte_rings initialised in place plus a counters block that only that
 * worker writes. Messages are fixed-size structs copied by value; no pointer crosses.
 *
 * Bump FH_REGION_ABI whenever any struct below changes layout. A line added to the counter
 * table (fh_counters.h) needs no bump: the table's hash in the header is checked as well.
 */
#ifndef FH_REGION_H
#define FH_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "fh_addr.h"
#include "fh_counters.h"
#include "fh_ext.h"

#define FH_REGION_MAGIC 0x464b4855u /* "FKHU" */
#define FH_REGION_ABI 10
#define FH_MAX_WORKERS 64
#define FH_MAX_SLOTS 1024 /* participants per worker */
/* Streams one participant receives at once: its receive slots, onto which the control plane
 * maps the sources of a room of any size. */
#define FH_MAX_RECV_STREAMS 64

#define FH_CMD_RING_SIZE 1024
#define FH_EVT_RING_SIZE 1024
#define FH_PKT_RING_SIZE 256
#define FH_PKT_MAX 1472 /* largest UDP payload carried up or down */

#define FH_UFRAG_MAX 32
#define FH_PWD_MAX 64
#define FH_KEY_MAX 32 /* SRTP master key + salt */
#define FH_NOTE_SIZE 4096
#define FH_MID_MAX 16	/* longest mid the dataplane matches (RFC 8843 identification-tag) */
#define FH_RID_MAX 16	/* longest rid (RFC 8851 rid-id) */
#define FH_MAX_LAYERS 3 /* simulcast encodings of one published video */

enum fh_srtp_profile {
	FH_SRTP_NONE = 0,
	FH_SRTP_AES128_CM_SHA1_80 = 1,
	FH_SRTP_AEAD_AES_128_GCM = 7, /* the DTLS-SRTP protection profile numbers */
};

enum fh_media_kind { FH_KIND_AUDIO = 0, FH_KIND_VIDEO = 1 };

/* Commands, control plane -> worker. */
enum fh_cmd_type {
	FH_CMD_PART_ADD = 1, /* a participant on this worker, with its ICE credentials */
	FH_CMD_PART_DEL,     /* remove it with everything it publishes and receives */
	FH_CMD_KEYS,	     /* SRTP keys after the DTLS handshake */
	FH_CMD_STREAM_ADD,   /* a stream the participant publishes */
	FH_CMD_STREAM_DEL,
	FH_CMD_SUB_ADD, /* the participant receives a publisher's stream */
	FH_CMD_SUB_DEL,
	FH_CMD_KEYFRAME, /* ask a publisher for a key frame */
	FH_CMD_MUTE,	 /* stop or resume forwarding one published stream */
	FH_CMD_MEDIA,	/* the participant's header extension ids and feedback (after each offer) */
	FH_CMD_SUB_SET, /* a receive slot (out_ssrc): created, or pointed at another stream */
};

struct fh_cmd_part_add {
	char local_ufrag[FH_UFRAG_MAX + 1];
	char local_pwd[FH_PWD_MAX + 1];
	char remote_ufrag[FH_UFRAG_MAX + 1];
};

struct fh_cmd_keys {
	uint8_t profile;	    /* enum fh_srtp_profile */
	uint8_t key_len;	    /* master key + salt, each direction */
	uint8_t rx_key[FH_KEY_MAX]; /* decrypts what the participant sends */
	uint8_t tx_key[FH_KEY_MAX]; /* encrypts what we send to it */
};

/* Header extension ids of a participant (both directions: under BUNDLE one id names one
 * extension on every m-line) and the feedback it takes. */
struct fh_cmd_media {
	uint8_t ext[FH_EXT_MAX]; /* enum fh_ext -> id, 0: not negotiated */
	uint8_t twcc;		 /* it sends transport-wide feedback and wants it: no REMB */
};

/* A published stream. Without simulcast (n_layers 0) ssrc is the stream's SSRC as the offer
 * named it. With simulcast the offer names rids, lowest layer first, and usually no SSRCs:
 * the worker learns each layer's SSRC (and its RTX SSRC) from the mid and rid
 * (repaired-rid) extensions of the first packets. */
struct fh_cmd_stream {
	uint32_t key;	   /* names the stream in later commands; unique per participant */
	uint32_t ssrc;	   /* 0: learned */
	uint32_t rtx_ssrc; /* 0 when none or learned */
	uint8_t kind;	   /* enum fh_media_kind */
	uint8_t pt;
	uint8_t rtx_pt;
	uint8_t n_layers; /* simulcast encodings, 0 or 2..FH_MAX_LAYERS */
	uint32_t clock_rate;
	char mid[FH_MID_MAX + 1];
	char rid[FH_MAX_LAYERS][FH_RID_MAX + 1];
	uint32_t layer_ssrc[FH_MAX_LAYERS]; /* where the offer named them, else 0 */
	uint32_t layer_rtx_ssrc[FH_MAX_LAYERS];
};

/* SUB_ADD: out_ssrc receives pub_key of pub_slot. SUB_SET: the receive slot out_ssrc (made
 * when new) carries pub_key of pub_slot from now on, or nothing with pub_key 0; its numbering
 * (sequence, timestamp, VP8 picture id) goes on across the change, so the receiver sees one
 * stream whose source changed at a key frame. */
struct fh_cmd_sub {
	uint16_t pub_slot;
	uint32_t pub_key;
	uint32_t out_ssrc;
	uint32_t out_rtx_ssrc; /* 0: retransmit on out_ssrc */
	uint8_t out_pt;
	uint8_t out_rtx_pt;
	uint8_t kind;
	uint8_t layers;	  /* simulcast layers it wants at most, lowest first; 0: all */
	uint8_t priority; /* share-out order: higher first (0 taken as 1) */
};

struct fh_cmd {
	uint16_t type;
	uint16_t slot;
	uint32_t room;
	uint32_t seq; /* echoed in FH_EVT_CMD_ERR */
	uint32_t pad;
	union {
		struct fh_cmd_part_add part;
		struct fh_cmd_keys keys;
		struct fh_cmd_stream stream;
		struct fh_cmd_sub sub;
		struct fh_cmd_media media;
		struct {
			uint32_t key;
			uint8_t muted;
		} mute;
		uint8_t raw[240];
	} u;
};

/* Events, worker -> control plane. */
enum fh_evt_type {
	FH_EVT_BOUND = 1,    /* first valid check: addr is the participant's media address */
	FH_EVT_CONSENT_LOST, /* no valid check for the consent timeout: binding removed */
	FH_EVT_CMD_ERR,	     /* a command was refused; arg holds the command type */
	/* fh_speaker, per room (the room of FH_CMD_PART_ADD; room 0: none, not tracked) */
	FH_EVT_SPEAKER,	 /* the room's dominant speaker changed: slot is the new one */
	FH_EVT_SPEAKING, /* who speaks in the room now: arg slots in slots[], most active first */
};

#define FH_EVT_SLOTS 4

struct fh_evt {
	uint16_t type;
	uint16_t slot;
	uint32_t room;
	uint32_t arg;
	uint32_t seq;
	union {
		struct fh_addr addr;
		uint16_t slots[FH_EVT_SLOTS]; /* FH_EVT_SPEAKING */
	};
	uint64_t pad;
};

/* Control packets (DTLS records, both ways): a copy of one datagram. */
struct fh_pkt_msg {
	uint16_t slot;
	uint16_t len;
	uint32_t room;
	struct fh_addr addr;
	uint8_t data[FH_PKT_MAX];
	uint8_t pad[12];
};

/* Counters a worker keeps, laid out from the table in fh_counters.h; only that worker writes
 * them. */
struct fh_counters {
	uint64_t ctr[FH_CTR_MAX];
	uint64_t drop[FH_DROP_MAX];
	uint64_t busy_cycles;		     /* TSC cycles of polls with work */
	uint64_t total_cycles;		     /* TSC cycles since start */
	uint64_t stage_cycles[FH_STAGE_MAX]; /* busy_cycles split by stage of the loop */
	uint64_t est_hist[FH_EST_BUCKETS];   /* receivers' estimates, see fh_est_bucket_bps */
	uint64_t est_sum_kbps;
	uint32_t participants; /* current count */
	uint32_t bound;
	uint64_t live[FH_MAX_SLOTS / 64]; /* bit s: slot s holds a participant (a restarted
					   * control plane learns its calls from this) */
	char srtp_engine[96]; /* the SRTP engine the worker runs: libsrtp2 or cryptodev PMD */
} __attribute__((aligned(64)));

/* Per NIC port, written by funkhaus-dp's main thread from the port's statistics; the
 * counters are named fields (pc->rx_missed) and, for whoever walks the table, an array. */
#define FH_MAX_PORTS 4
#define FH_PORT_CTR_FIELD(n, d) uint64_t n;
struct fh_port_counters {
	char name[32]; /* the DPDK device: PCI address or vdev name */
	union {
		struct {
			FH_FOREACH_PORT_COUNTER(FH_PORT_CTR_FIELD)
		};
		uint64_t ctr[FH_PORT_CTR_MAX];
	};
};

/* What a receiver gets, written by its worker about once a second for the admin API (cp reads
 * it while gen is even and unchanged across the read). */
struct fh_out_stat {
	uint32_t out_ssrc;
	uint32_t bitrate; /* bit/s sent on it over the last second */
	uint8_t spatial;  /* simulcast layer forwarded now, 0 lowest; 255: none */
	uint8_t temporal; /* highest VP8 temporal layer forwarded; 255: all */
	uint8_t target;	  /* the spatial layer the allocator chose */
	uint8_t n_layers; /* what the source offers; 0: not simulcast */
};

struct fh_slot_stat {
	volatile uint32_t gen; /* odd while the worker writes */
	uint32_t estimate_bps; /* 0 while there is no estimate */
	uint32_t sent_bps;     /* media, RTX and probes sent to it */
	uint32_t target_bps;   /* what the share-out plans with (fh_bwe_target_bps) */
	uint32_t capacity_bps; /* the capacity its link showed; 0: not known */
	uint32_t n_out;
	struct fh_out_stat out[FH_MAX_RECV_STREAMS];
};

struct fh_worker_desc {
	uint64_t cmd_off;
	uint64_t evt_off;
	uint64_t up_off;   /* worker -> cp control packets */
	uint64_t down_off; /* cp -> worker control packets */
	uint64_t ctr_off;
	uint64_t notes_off; /* FH_MAX_SLOTS notes of FH_NOTE_SIZE bytes */
	uint64_t stat_off;  /* FH_MAX_SLOTS struct fh_slot_stat */
	uint16_t port;	    /* the worker's UDP port */
	uint16_t lcore;
	uint32_t pad;
};

struct fh_region_hdr {
	uint32_t magic;
	uint32_t abi;
	uint32_t n_workers;
	uint32_t dp_pid;
	uint64_t size;
	uint64_t generation;	     /* dp start time, ns since the epoch */
	volatile uint64_t heartbeat; /* bumped by dp's main thread; cp checks it moves */
	uint32_t n_ports;	     /* NIC ports (DPDK backend), 0 with sockets */
	uint32_t table_hash;	     /* fh_counters_table_hash() of funkhaus-dp */
	struct fh_port_counters ports[FH_MAX_PORTS];
	struct fh_worker_desc w[FH_MAX_WORKERS];
};

struct fh_region {
	struct fh_region_hdr *hdr;
	size_t size;
	int fd;
	bool owner;
	char name[64];
};

size_t fh_region_size(unsigned n_workers);
/* dp: creates (replacing an old one) and initialises the region; 0 or -errno. */
int fh_region_create(struct fh_region *r, const char *name, unsigned n_workers,
		     const uint16_t *ports);
/* cp: maps an existing region and checks magic and ABI; 0 or -errno (-EPROTO on mismatch). */
int fh_region_attach(struct fh_region *r, const char *name);
/* Read-only view for monitoring and tests: no lock, counters only. 0 or -errno. */
int fh_region_peek(struct fh_region *r, const char *name);
void fh_region_close(struct fh_region *r);

static inline void *fh_region_at(const struct fh_region *r, uint64_t off)
{
	return (uint8_t *)r->hdr + off;
}

static inline struct rte_ring *fh_region_cmd(const struct fh_region *r, unsigned w)
{
	return fh_region_at(r, r->hdr->w[w].cmd_off);
}

static inline struct rte_ring *fh_region_evt(const struct fh_region *r, unsigned w)
{
	return fh_region_at(r, r->hdr->w[w].evt_off);
}

static inline struct rte_ring *fh_region_up(const struct fh_region *r, unsigned w)
{
	return fh_region_at(r, r->hdr->w[w].up_off);
}

static inline struct rte_ring *fh_region_down(const struct fh_region *r, unsigned w)
{
	return fh_region_at(r, r->hdr->w[w].down_off);
}

static inline struct fh_counters *fh_region_counters(const struct fh_region *r, unsigned w)
{
	return fh_region_at(r, r->hdr->w[w].ctr_off);
}

/* The control plane's note of what it knows of slot s of worker w, which funkhaus-dp keeps for
 * it and never reads: so a restarted control plane finds its rooms and participants again
 * (cp_room). Pages are only backed once written. */
static inline uint8_t *fh_region_note(const struct fh_region *r, unsigned w, unsigned s)
{
	return (uint8_t *)fh_region_at(r, r->hdr->w[w].notes_off) + (size_t)s * FH_NOTE_SIZE;
}

static inline struct fh_slot_stat *fh_region_slot_stat(const struct fh_region *r, unsigned w,
						       unsigned s)
{
	return (struct fh_slot_stat *)fh_region_at(r, r->hdr->w[w].stat_off) + s;
}

#endif
