/*
 * fh_alloc: shares one receiver's bandwidth estimate out over the streams it receives. A pure
 * function over the measured bitrate of every layer plus a little state kept per receiver; the
 * dataplane worker that serves the receiver runs it on its timer (every FH_ALLOC_PERIOD_MS, and
 * sooner when the estimate moves by more than FH_ALLOC_CHANGE_PCT), never per packet.
 *
 * Audio is served first and is never paused. Then every video gets its cheapest option before
 * any video gets more, and the videos climb one option per round, higher priority first. The
 * options of one source climb the lowest active simulcast layer through its temporal layers
 * first (7.5, 15, 30 fps), then the higher layers at full frame rate: a weak link shows more
 * people at a lower frame rate before fewer people sharper. When even the cheapest options do
 * not fit, the lowest-priority videos pause. Going down is immediate; going up needs headroom and,
 * after a downgrade of that source, a hold-off, so that a noisy estimate does not flip layers
 * (shorter for a paused video coming back and for a higher frame rate of the same layer).
 */
#ifndef FH_ALLOC_H
#define FH_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "fh_region.h"

#define FH_ALLOC_MAX_TEMPORAL 3 /* VP8 temporal layers (TID 0..2) */
#define FH_ALLOC_PERIOD_MS 250
#define FH_ALLOC_CHANGE_PCT 15 /* an estimate moving this much reallocates before the period */
/* Going up needs the estimate to exceed the new allocation by this share of the option being
 * climbed to: room for that layer's own variation (key frames) on top of the rest. */
#define FH_ALLOC_UP_MARGIN_PCT 10
#define FH_ALLOC_HOLD_MS 10000 /* no upgrade of a source this long after a downgrade of it */
/* ... unless the upgraded allocation would use less than 100 / (100 + FH_ALLOC_COMFORT_PCT) of
 * the estimate; then FH_ALLOC_HOLD_SHORT_MS is enough. */
#define FH_ALLOC_COMFORT_PCT 50
#define FH_ALLOC_HOLD_SHORT_MS 5000
/* A paused video (a person not seen at all) comes back as soon as its lowest option fits with
 * the margin for this long: a frozen tile is worse than a key frame more. */
#define FH_ALLOC_RESUME_MS 2000
/* A step up in frame rate within the same simulcast layer costs no key frame (the worker
 * waits for a frame the higher rate may start from); its hold-off is this long, so that one
 * video does not stay at the lowest frame rate while another keeps the full one. */
#define FH_ALLOC_TEMPORAL_HOLD_MS 2000

enum fh_alloc_kind {
	FH_ALLOC_AUDIO,
	FH_ALLOC_VIDEO,
};

/* One stream the receiver gets, as the worker measures it. */
struct fh_alloc_src {
	uint32_t id;	    /* stable across runs and unique per receiver (its out SSRC) */
	uint8_t kind;	    /* enum fh_alloc_kind */
	uint8_t priority;   /* higher is served first */
	uint8_t n_temporal; /* temporal layers the source shows: 1 (none) .. FH_ALLOC_MAX_TEMPORAL */
	uint8_t pad;
	/* Video: bit/s of simulcast layer s (0 lowest) counting packets with TID <= t, so the
	 * row grows with t; 0 where that layer or TID is not seen (inactive, not yet measured).
	 * A source without simulcast fills row 0 only. Audio: bps[0][0]. */
	uint32_t bps[FH_MAX_LAYERS][FH_ALLOC_MAX_TEMPORAL];
};

/* What the worker forwards of one source. */
struct fh_alloc_choice {
	uint8_t spatial;  /* simulcast layer, 0 lowest */
	uint8_t temporal; /* highest TID to forward; n_temporal - 1 is the full frame rate */
	bool paused;	  /* video only: forward nothing */
};

/* Kept per receiver between runs; the caller treats it as opaque. */
struct fh_alloc_state {
	uint32_t id;
	uint32_t seq; /* when it was first seen: the stable tie-break among equals */
	uint64_t down_ms;
	bool down; /* down_ms holds the last downgrade caused by the estimate */
	struct fh_alloc_choice choice;
};

struct fh_alloc {
	struct fh_alloc_state st[FH_MAX_RECV_STREAMS]; /* in the order of the last run's sources */
	unsigned n_st;
	uint32_t next_seq;
	uint32_t need_bps;	/* what the last allocation needs, audio included */
	uint32_t next_bps;	/* the estimate the next upgrade would need */
	uint32_t last_estimate; /* estimate of the last run */
	uint64_t last_run_ms;
	bool ran;
};

/* The rate meter of one simulcast layer as the worker sees it arrive: bytes by TID in the
 * current window, then bit/s smoothed over windows. A key frame is many times a delta frame;
 * in the short-term rate it would make the allocator move receivers away at every switch (and
 * every switch asks for another key frame), so key frames count apart, smoothed over longer.
 * A sender that makes many of them still shows what its layer costs. */
struct fh_layer_rate {
	uint32_t bytes[FH_ALLOC_MAX_TEMPORAL]; /* this window, by TID, key frames left out */
	uint32_t key_bytes;		       /* this window's key-frame bytes */
	uint32_t bps[FH_ALLOC_MAX_TEMPORAL];   /* TID <= t, without key frames, smoothed */
	uint32_t key_bps;		       /* key frames, smoothed over about 4 windows more */
};

/* Counts one packet of len bytes with temporal id tid (clamped); key: part of a key frame. */
void fh_layer_rate_add(struct fh_layer_rate *r, unsigned tid, uint32_t len, bool key);

/* Closes a window of window_us microseconds; inactive (the layer stopped): all rates go to 0. */
void fh_layer_rate_tick(struct fh_layer_rate *r, uint64_t window_us, bool active);

/* What forwarding TIDs <= t of this layer costs: delta frames plus key frames; 0 while the
 * layer shows no delta-frame rate at t (not seen, not measured yet). */
uint32_t fh_layer_rate_bps(const struct fh_layer_rate *r, unsigned t);

void fh_alloc_init(struct fh_alloc *a);
/* Whether the worker should run the allocator now: the period has passed or the estimate moved
 * by more than FH_ALLOC_CHANGE_PCT since the last run. */
bool fh_alloc_due(const struct fh_alloc *a, uint32_t estimate_bps, uint64_t now_ms);
/* Chooses out[i] for src[i], i < n (n is capped at FH_MAX_RECV_STREAMS). A video with no active
 * layer at all keeps its previous choice; a new one starts at its lowest layer. An estimate of 0
 * pauses every video: pass a start value until the first estimate comes. */
void fh_alloc_run(struct fh_alloc *a, const struct fh_alloc_src *src, unsigned n,
		  uint32_t estimate_bps, uint64_t now_ms, struct fh_alloc_choice *out);
/* Bit/s the last allocation needs (audio included). */
uint32_t fh_alloc_need_bps(const struct fh_alloc *a);
/* The estimate at which the next upgrade step would be taken (its margin included), or
 * fh_alloc_need_bps() when every video is at its top: the worker probes while this exceeds the
 * estimate. The hold-off is not counted; a probe during it only confirms the estimate. */
uint32_t fh_alloc_next_step_bps(const struct fh_alloc *a);

#endif
