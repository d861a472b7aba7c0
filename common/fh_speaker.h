/*
 * fh_speaker: who holds the stage in a room, and who speaks now, from nothing but the RFC 6464
 * audio level each sender puts on its audio packets. A pure module: no allocation, no lock, no
 * system call; the caller owns one struct fh_speaker_room per room and feeds it. The dataplane
 * worker that hosts the room calls fh_speaker_level once per audio packet (O(1)) and
 * fh_speaker_eval on its timer, about every 100 ms (O(speakers)).
 *
 * In the spirit of Volfin & Cohen's dominant speaker identification (three time windows of
 * speech activity, a challenger has to beat the dominant speaker on all three):
 *  - time is cut into frames of FH_SPEAKER_FRAME_MS; a frame of a speaker is active when its
 *    loudest packet stands FH_SPEAKER_ON_DB above that speaker's own noise floor (a minimum that
 *    follows the speaker's quietest packets and rises slowly) and above FH_SPEAKER_ABS_MIN;
 *    a sender that marks voice (the V bit) counts only packets so marked;
 *  - immediate: how far above that threshold the last frame was, in bands of
 *    FH_SPEAKER_BAND_DB (0..FH_SPEAKER_BANDS); medium: active frames of the last
 *    FH_SPEAKER_MEDIUM frames (400 ms); long: active frames of the last FH_SPEAKER_LONG (2 s);
 *  - a challenger takes the stage when its long count is at least FH_SPEAKER_LONG_MIN (half
 *    a second of speech), exceeds the dominant speaker's by more than FH_SPEAKER_LONG_MARGIN,
 *    its medium count exceeds the dominant's and it is at least as loud in its last frame.
 *    A cough or a short "ja" (under half a second) never takes the stage; a sustained speaker
 *    keeps it through pauses shorter than about a second; a new speaker who talks on takes it
 *    about 0.6 s after starting in a quiet room, and about 1.1 s after starting when the one
 *    before spoke until then (test_speaker measures both; a sender never heard before needs
 *    its first syllable or so to teach it its noise floor). The stage stays with the last
 *    dominant speaker through silence, and switches at most every FH_SPEAKER_SWITCH_MIN_MS.
 *  - speaking now: a speaker joins the set with FH_SPEAKER_TALK_ON active frames of the last
 *    FH_SPEAKER_MEDIUM and leaves it after FH_SPEAKER_MEDIUM silent frames; at most
 *    FH_SPEAKER_SET_MAX are reported, most active first, and a change at most every
 *    FH_SPEAKER_SET_MIN_MS.
 * A speaker that sends nothing (muted, gone, its packets lost) decays like one that is silent.
 * Time is the caller's, in ms; it may stand still, jump forward (all of a gap is silence) or go
 * back (a small step is read as no time passing; a step back of more than FH_SPEAKER_REBASE_MS
 * re-bases the room's frame clock onto the new time).
 */
#ifndef FH_SPEAKER_H
#define FH_SPEAKER_H

#include <stdbool.h>
#include <stdint.h>

#define FH_SPEAKER_MAX 256 /* speakers one room tracks */
#define FH_SPEAKER_NONE 0xffff
#define FH_SPEAKER_FRAME_MS 50
#define FH_SPEAKER_MEDIUM 8 /* frames: 400 ms */
#define FH_SPEAKER_LONG 40  /* frames: 2 s */
#define FH_SPEAKER_LONG_MIN 10
#define FH_SPEAKER_LONG_MARGIN 2
#define FH_SPEAKER_TALK_ON 3
#define FH_SPEAKER_ON_DB 12   /* above the speaker's noise floor */
#define FH_SPEAKER_ABS_MIN 57 /* loudness (127 - level): -70 dBov */
#define FH_SPEAKER_BAND_DB 4
#define FH_SPEAKER_BANDS 10
#define FH_SPEAKER_SWITCH_MIN_MS 500
#define FH_SPEAKER_SET_MAX 4
#define FH_SPEAKER_SET_MIN_MS 250
#define FH_SPEAKER_REBASE_MS 2000
#define FH_SPEAKER_FLOOR_RISE 13 /* 1/256 dB per frame: about 1 dB a second */

/* One speaker; the caller treats it as opaque. */
struct fh_speaker {
	bool used;
	bool has_vad;	/* it was seen to set the V bit: only voiced packets count */
	bool talking;	/* in the speaking set (before the FH_SPEAKER_SET_MAX cut) */
	bool got;	/* a packet in the open frame */
	uint8_t peak;	/* the open frame's loudest (voiced) packet, loudness 0..127 */
	uint8_t low;	/* its quietest packet */
	uint8_t bands;	/* immediate activity of the last closed frame */
	uint16_t id;	/* the caller's name for it (a dataplane slot) */
	uint16_t floor; /* noise floor, loudness in 1/256 dB */
	uint32_t frame; /* index of the open frame */
	uint64_t hist;	/* bit i: frame (frame - 1 - i) was active */
};

/* What one evaluation found. */
struct fh_speaker_out {
	uint16_t dominant; /* id, FH_SPEAKER_NONE before anyone qualified */
	uint8_t n_speaking;
	uint16_t speaking[FH_SPEAKER_SET_MAX]; /* ids, most active first */
};

/* The result flags of fh_speaker_eval. */
#define FH_SPEAKER_DOMINANT_CHANGED 1u
#define FH_SPEAKER_SET_CHANGED 2u

struct fh_speaker_room {
	uint64_t base_ms;    /* frame base_frame began here */
	uint32_t base_frame; /* frames are counted from here on */
	uint64_t last_ms;    /* the latest time seen; earlier times are read as this */
	uint64_t switch_ms;  /* the last change of dominant speaker */
	uint64_t set_ms;     /* the last reported change of the speaking set */
	uint16_t n;	     /* speakers in use */
	uint16_t hi;	     /* entries [0, hi) may be in use */
	uint16_t dominant;   /* index, FH_SPEAKER_NONE */
	uint8_t n_set;	     /* the speaking set last reported */
	uint16_t set[FH_SPEAKER_SET_MAX];
	struct fh_speaker s[FH_SPEAKER_MAX];
};

/* An empty room whose frame clock starts at now_ms. */
void fh_speaker_init(struct fh_speaker_room *r, uint64_t now_ms);
/* Starts tracking speaker id; returns its index for fh_speaker_level, -1 when the room already
 * tracks FH_SPEAKER_MAX. */
int fh_speaker_add(struct fh_speaker_room *r, uint16_t id);
/* Stops tracking the speaker at idx (it left): it loses the stage and leaves the set, which the
 * next evaluation reports. Indices out of range or unused are ignored. */
void fh_speaker_remove(struct fh_speaker_room *r, int idx);
/* One audio packet of the speaker at idx: level 0..127 -dBov (127: silence; larger values are
 * read as 127), voice the V bit. Indices out of range or unused are ignored. */
void fh_speaker_level(struct fh_speaker_room *r, int idx, uint8_t level, bool voice,
		      uint64_t now_ms);
/* Closes the frames up to now_ms for everyone, decides the dominant speaker and the speaking
 * set, fills *out with both (always) and returns FH_SPEAKER_* flags of what changed since the
 * last report. */
unsigned fh_speaker_eval(struct fh_speaker_room *r, uint64_t now_ms, struct fh_speaker_out *out);
/* The medium and long counts of the speaker at idx as of the last evaluation (tests, traces). */
void fh_speaker_activity(const struct fh_speaker_room *r, int idx, unsigned *immediate,
			 unsigned *medium, unsigned *lng);

#endif
