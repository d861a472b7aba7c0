/*
 * fh_vp8: the VP8 RTP payload descriptor (RFC 7741) and its per-receiver rewriting. When the
 * SFU switches a receiver between the simulcast encodings of one source, or drops temporal
 * layers, the receiver must still see one stream: picture ids that rise by one per forwarded
 * frame, TL0PICIDX that rises by one per base-layer frame, KEYIDX that continues. Dataplane
 * workers run this per forwarded video packet; pure functions, no allocation.
 */
#ifndef FH_VP8_H
#define FH_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fh_vp8_desc {
	bool x;		    /* extended control bits present */
	bool n;		    /* non-reference frame */
	bool s;		    /* start of a partition */
	uint8_t pid;	    /* partition index, 0-7 */
	bool i, l, t, k;    /* picture id, TL0PICIDX, TID/Y, KEYIDX present */
	uint8_t picid_bits; /* 7 or 15 when i, else 0 */
	uint16_t picid;
	uint8_t tl0picidx;
	uint8_t tid;			    /* 0-3, 0 when !t */
	bool y;				    /* layer sync: depends only on the base layer */
	uint8_t keyidx;			    /* 0-31 */
	uint8_t picid_off, tl0_off, tk_off; /* where each field sits in the descriptor, 0: absent */
	uint8_t len;			    /* descriptor bytes before the VP8 payload header */
	bool keyframe;			    /* S=1, PID=0 and the payload header's P bit is 0 */
};

/* Fills d; -1 when the descriptor runs past len or no payload byte follows it. */
int fh_vp8_parse(const uint8_t *payload, size_t len, struct fh_vp8_desc *d);

#define FH_VP8_HISTORY 16 /* picture-id offset changes remembered for late packets */

/*
 * Per (receiver, source) state. The picture-id offset changes at every dropped frame; hist
 * keeps, for the last FH_VP8_HISTORY changes, the first inbound picture id that takes each new
 * offset, so a late or retransmitted packet of an earlier frame maps where it mapped before.
 */
struct fh_vp8_rewrite {
	struct {
		uint16_t from; /* first inbound picture id with this offset */
		uint16_t off;
	} hist[FH_VP8_HISTORY];
	uint8_t nhist; /* valid entries, the newest at (head + nhist - 1) */
	uint8_t head;
	uint16_t hi_in;	     /* newest inbound picture id seen (forwarded or dropped) */
	uint16_t last_picid; /* newest outbound picture id */
	uint8_t tl0_off, last_tl0;
	uint8_t keyidx_off, last_keyidx;
	bool have_picid, have_tl0, have_keyidx; /* last_* are valid */
	bool tl0_on, keyidx_on; /* offsets set for the current encoding (picture id: nhist > 0) */
};

void fh_vp8_rewrite_init(struct fh_vp8_rewrite *r);
/* The next packet given to apply or drop starts a key frame of another encoding; its numbering
 * continues right after the last values sent. Packets of the old encoding must not follow. */
void fh_vp8_rewrite_switch(struct fh_vp8_rewrite *r);
/*
 * Rewrites picture id, TL0PICIDX and KEYIDX in place, in the widths the packet uses (encodings
 * of one source are expected to share a picture-id width; a change of width carries on modulo
 * the narrower one). Returns 0,
 * or -1 when the packet belongs to a frame older than the history covers (the caller drops it)
 * or d does not fit len.
 */
int fh_vp8_rewrite_apply(struct fh_vp8_rewrite *r, uint8_t *payload, size_t len,
			 const struct fh_vp8_desc *d);
/* The packet d is not forwarded and neither is the rest of its frame: later frames close the
 * picture-id gap. Call it for every dropped packet; only the first of a new frame counts. */
void fh_vp8_rewrite_drop(struct fh_vp8_rewrite *r, const struct fh_vp8_desc *d);

/*
 * Temporal-layer filter for one receiver. Going down takes effect at the next frame start;
 * going up waits for a layer-sync (Y=1) frame of the higher layer, or a key frame.
 */
struct fh_vp8_temporal {
	uint8_t cur;	/* highest TID forwarded now */
	uint8_t target; /* highest TID wanted */
};

void fh_vp8_temporal_init(struct fh_vp8_temporal *t, uint8_t target);
static inline void fh_vp8_temporal_set_target(struct fh_vp8_temporal *t, uint8_t target)
{
	t->target = target;
}
/* Whether to forward the packet d. A packet without TID is always forwarded. */
bool fh_vp8_temporal_ok(struct fh_vp8_temporal *t, const struct fh_vp8_desc *d);

#endif
