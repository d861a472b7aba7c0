/*
 * fhc_sim: the pieces of a simulated browser's media that are pure functions over bytes and
 * small state, kept apart from fhc.c so a unit test can check them: the VP8 payload descriptor
 * and payload header a simulcast sender writes, its L1T3 temporal pattern, the one-byte header
 * extension block it sends, the bottleneck queue that models a receiver's downlink, and the
 * frame and freeze accounting of a received video stream. Run by the thread that drives the fhc.
 */
#ifndef FHC_SIM_H
#define FHC_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fh_ext.h"

#define FHC_SIM_LAYERS 3	     /* simulcast encodings, lowest first: l, m, h */
#define FHC_SIM_FREEZE_US 500000     /* a longer wait for the next complete frame is a freeze */
#define FHC_SIM_LINK_DELAY_US 200000 /* a downlink queue longer than this drops (tbf latency) */
#define FHC_SIM_IPUDP 28	     /* IPv4 + UDP bytes on the link besides the datagram */

/* L1T3, as Chrome's VP8 encoder runs simulcast: temporal ids 0,2,1,2 over four frames counted
 * from the last key frame; the frames of layers 1 and 2 that refer only to the base layer are
 * layer syncs (Y=1). */
static inline uint8_t fhc_sim_l1t3_tid(unsigned frame)
{
	static const uint8_t tid[4] = {0, 2, 1, 2};

	return tid[frame & 3];
}

static inline bool fhc_sim_l1t3_sync(unsigned frame)
{
	return (frame & 3) == 1 || (frame & 3) == 2;
}

/* Writes the 6-byte VP8 payload descriptor (RFC 7741) with X, I (15-bit picture id), L, T and
 * K=0; S and PID=0 when start. Returns its length. */
size_t fhc_sim_vp8_desc(uint8_t *out, bool start, uint16_t picid, uint8_t tl0picidx, uint8_t tid,
			bool sync);
/* Writes the VP8 payload header of a frame's first packet: 3 bytes (P=1), or 10 for a key frame
 * (P=0, start code, width and height). Returns its length. */
size_t fhc_sim_vp8_header(uint8_t *out, bool key, uint16_t width, uint16_t height,
			  uint32_t first_part_len);

/* What one outbound packet's extension block carries; an id of 0 is not written. */
struct fhc_sim_ext {
	const uint8_t *ids; /* FH_EXT_MAX entries, one-byte ids (1-14) */
	bool twcc, abs, level;
	uint16_t twcc_seq;
	uint32_t abs_send_time; /* 24 bits */
	uint8_t level_byte;	/* V bit and -dBov, RFC 6464 */
	const char *mid;	/* NULL: none */
	const char *rid;	/* NULL: none; written as RRID when rrid */
	bool rrid;
};

/* Writes a one-byte-form block (0xBEDE, its length word, elements, zero padding). Returns its
 * length, 0 when nothing is to be written or it does not fit cap. */
size_t fhc_sim_ext_write(uint8_t *out, size_t cap, const struct fhc_sim_ext *e);

/* A downlink of bps bit/s modelled as one FIFO: a datagram starts when the link is free and
 * leaves it after its bits; one that would wait more than FHC_SIM_LINK_DELAY_US is dropped. */
struct fhc_sim_link {
	uint64_t bps; /* 0: unlimited */
	uint64_t free_at_us;
	uint64_t passed, dropped;
	uint64_t passed_bytes; /* with FHC_SIM_IPUDP each */
};

/* Whether a datagram of len bytes that reaches the link at now_us gets through; *arrive_us is
 * when it has crossed it. */
bool fhc_sim_link_pass(struct fhc_sim_link *l, uint64_t now_us, size_t len, uint64_t *arrive_us);

/* Frames and freezes of one received video stream, from its packets in arrival order. A frame
 * is complete when its marker packet arrives, its first packet was seen and no packet between
 * them is missing. Time between two complete frames counts for the layer of the earlier one, or
 * as frozen when longer than FHC_SIM_FREEZE_US; so does the wait from the stream's first packet
 * to its first complete frame. */
struct fhc_sim_frames {
	bool started, have_frame, in_frame, first_ok, have_marker, have_done;
	uint64_t start_us, last_frame_us;
	uint64_t frames, freezes, frozen_us;
	uint64_t layer_us[FHC_SIM_LAYERS];
	int8_t last_layer; /* of the last complete frame, -1 unknown */
	uint32_t ts, done_ts;
	uint16_t first_seq, pkts, marker_seq;
};

/* start: 1 the packet starts a frame (VP8 S=1, PID=0), 0 it does not, -1 unknown (the frame
 * then starts after the previous marker); layer -1 when the payload does not say. */
void fhc_sim_frames_packet(struct fhc_sim_frames *f, uint16_t seq, uint32_t ts, bool marker,
			   int start, int layer, uint64_t at_us);
/* Frozen time up to now_us: the closed freezes and the wait since the last frame if longer. */
uint64_t fhc_sim_frames_frozen(const struct fhc_sim_frames *f, uint64_t now_us);

#endif
