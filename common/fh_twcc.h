/*
 * fh_twcc: transport-wide congestion control feedback (RTCP RTPFB, PT 205, FMT 15). The receive
 * side remembers when each packet of a publisher arrived, by its transport-wide sequence number,
 * and writes the feedback the dataplane worker returns to that publisher about every 100 ms; the
 * parse side reads the feedback a receiver returns about what Funkhaus sent it, for fh_bwe.
 * Pure functions over byte buffers and fixed-size state: no allocation, no I/O, no DPDK; called
 * from the worker's packet and timer paths, the unit tests and the RTCP fuzzer.
 */
#ifndef FH_TWCC_H
#define FH_TWCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sequence numbers one receive window remembers; a power of two. */
#define FH_TWCC_WINDOW 1024
/* The feedback cadence, and how many pending packets make feedback due sooner. */
#define FH_TWCC_INTERVAL_US 100000
#define FH_TWCC_DUE_PKTS 256
/* One tick of a receive delta, and of the reference time. */
#define FH_TWCC_DELTA_US 250
#define FH_TWCC_REF_US 64000
/* The fixed part: RTCP header, two SSRCs, base seq, status count, reference time, fb count. */
#define FH_TWCC_HDR_LEN 20

/*
 * Receive-side state for one publisher's transport. The window covers the sequence numbers
 * [base, end): base is the first one the next feedback reports, end is one past the highest
 * recorded. A packet behind base (already reported, or reported lost) is counted late and
 * dropped; a sequence number more than the window ahead of base, or far behind it, means the
 * sender jumped: the window restarts there rather than report thousands of losses.
 */
struct fh_twcc_rx {
	uint64_t arrival_us[FH_TWCC_WINDOW];
	uint64_t got[FH_TWCC_WINDOW / 64]; /* bitmap: arrival_us[i] is valid */
	uint64_t last_fb_us;
	uint16_t base;
	uint16_t end;
	uint8_t fb_count; /* the next feedback packet count to write */
	bool started;
	uint32_t late;	 /* arrived after its sequence number was reported */
	uint32_t dups;	 /* recorded twice; the first arrival is kept */
	uint32_t resets; /* sender jumped beyond the window */
};

void fh_twcc_rx_init(struct fh_twcc_rx *r);
/* Records that the packet with transport-wide sequence number seq arrived at arrival_us. */
void fh_twcc_rx_record(struct fh_twcc_rx *r, uint16_t seq, uint64_t arrival_us);
/*
 * True when feedback should go out now: something is pending and either FH_TWCC_INTERVAL_US
 * passed since the last time this returned true, or FH_TWCC_DUE_PKTS are pending. When it
 * returns true it takes now_us as the time of that feedback; the caller then calls
 * fh_twcc_rx_build until it returns 0.
 */
bool fh_twcc_rx_due(struct fh_twcc_rx *r, uint64_t now_us);
/*
 * Writes one complete feedback packet about the packets recorded since the last one and returns
 * its length, or 0 when nothing is pending or cap cannot hold even one status. A packet covers
 * as many sequence numbers as fit in cap; when the gap between two arrivals does not fit the
 * 16-bit signed delta (more than ~8 s), the packet ends before the later one, which starts the
 * next packet with its own reference time. So a caller loops until 0 and nothing is encoded
 * wrongly.
 */
size_t fh_twcc_rx_build(struct fh_twcc_rx *r, uint8_t *buf, size_t cap, uint32_t sender_ssrc,
			uint32_t media_ssrc);

struct fh_twcc_fb {
	uint32_t sender_ssrc;
	uint32_t media_ssrc;
	uint16_t base_seq;
	uint16_t status_count;
	int64_t ref_time_us; /* the 24-bit signed field times 64 ms */
	uint8_t fb_count;
};

struct fh_twcc_pkt {
	uint16_t seq;
	bool received;
	/*
	 * ref_time_us plus the deltas up to this packet, on the receiver's clock. The reference
	 * time wraps every 2^24 * 64 ms (about 12 days, signed); fh_bwe unwraps it.
	 */
	int64_t arrival_us;
};

/*
 * Parses one RTCP packet (pkt, len: as fh_rtcp_next gives it) as transport-wide feedback: fills
 * *fb and one entry per reported sequence number into out, and returns their number. Returns -1
 * when the packet is not TWCC feedback, reports no packet or more than max, uses a reserved
 * status symbol, or has chunks or deltas running past its end. Bytes after the last delta
 * (padding) are ignored.
 */
int fh_twcc_parse(const uint8_t *pkt, size_t len, struct fh_twcc_fb *fb, struct fh_twcc_pkt *out,
		  unsigned max);

#endif
