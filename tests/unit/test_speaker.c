/*
 * Unit tests of fh_speaker: simulated rooms in which every sender sends an audio packet every
 * 20 ms (an Opus frame) with its RFC 6464 level and the room is evaluated every 100 ms, as the
 * dataplane worker does. Speech is syllables of 190 ms at about -25 dBov with 60 ms gaps of
 * silence and a half-second pause every 4 s; a cough is 300 ms at -15 dBov; noise is a steady
 * level with a few dB of jitter. The switch times the header claims are checked here and
 * printed.
 */
#include "fh_speaker.h"
#include "fh_test.h"

#define PKT_MS 20
#define EVAL_MS 100
#define MAX_SIM 128
#define SILENT 127

/* What a simulated sender does at a time: its level, or NO_PACKET. */
#define NO_PACKET -1
typedef int (*level_fn)(unsigned who, uint64_t t);

struct sim {
	struct fh_speaker_room r;
	int idx[MAX_SIM];
	unsigned n;
	uint64_t t;
	bool voice; /* the V bit on every packet */
	unsigned eval_ms;
	struct fh_speaker_out out;
	unsigned changes; /* dominant speaker changes reported */
	uint16_t who[64];
	uint64_t when[64];
	unsigned set_reports;
	uint64_t last_set_ms, min_set_gap;
};

static uint32_t rng = 12345;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng % n;
}

static void sim_init(struct sim *s, unsigned n, uint64_t t0)
{
	memset(s, 0, sizeof(*s));
	fh_speaker_init(&s->r, t0);
	s->t = t0;
	s->n = n;
	s->min_set_gap = ~0ull;
	s->eval_ms = EVAL_MS;
	for (unsigned i = 0; i < n; i++)
		s->idx[i] = fh_speaker_add(&s->r, (uint16_t)(100 + i));
}

static void eval(struct sim *s)
{
	unsigned f = fh_speaker_eval(&s->r, s->t, &s->out);

	if (f & FH_SPEAKER_DOMINANT_CHANGED && s->changes < 64) {
		s->who[s->changes] = s->out.dominant;
		s->when[s->changes++] = s->t;
	}
	if (f & FH_SPEAKER_SET_CHANGED) {
		if (s->set_reports && s->t - s->last_set_ms < s->min_set_gap)
			s->min_set_gap = s->t - s->last_set_ms;
		s->set_reports++;
		s->last_set_ms = s->t;
	}
}

/* Runs the room until time until: packets every PKT_MS, evaluations every EVAL_MS. */
static void run(struct sim *s, uint64_t until, level_fn f)
{
	for (; s->t < until; s->t += PKT_MS / 2) {
		if (s->t % PKT_MS == 0)
			for (unsigned i = 0; i < s->n; i++) {
				int l = f(i, s->t);

				if (l != NO_PACKET)
					fh_speaker_level(&s->r, s->idx[i], (uint8_t)l, s->voice,
							 s->t);
			}
		if (s->t % s->eval_ms == 0)
			eval(s);
	}
}

/* Speech that started at start: syllables and gaps, a pause every 4 s. */
static int speech(uint64_t t, uint64_t start)
{
	uint64_t d = t - start;

	if (d % 4000 >= 3500 || d % 250 >= 190)
		return SILENT;
	return 25 + (int)rnd(7) - 3;
}

static int noise(void)
{
	return 85 + (int)rnd(5) - 2;
}

/* The time of the first change to id at or after t0 (0: none). */
static uint64_t switched_to(const struct sim *s, uint16_t id, uint64_t t0)
{
	for (unsigned i = 0; i < s->changes; i++)
		if (s->who[i] == id && s->when[i] >= t0)
			return s->when[i];
	return 0;
}

/* ---- a cough or a short "ja" does not take the stage ---- */

static uint64_t cough_at;

static int cough_fn(unsigned who, uint64_t t)
{
	if (who == 0)
		return t < 12000 ? speech(t, 0) : SILENT;
	/* a cough, then a "ja" a little later, then a cough in a pause of the speaker */
	if (t >= cough_at && t < cough_at + 300)
		return 15;
	if (t >= cough_at + 2000 && t < cough_at + 2350)
		return 28;
	if (t >= 3600 + 4000 && t < 3900 + 4000) /* within the pause at 7.5..8 s */
		return 15;
	return noise();
}

static void cough(void)
{
	struct sim s;

	sim_init(&s, 2, 0);
	cough_at = 4500;
	run(&s, 3000, cough_fn);
	CHECK_EQ(s.out.dominant, 100); /* the speaker has the stage */
	run(&s, 12000, cough_fn);
	CHECK_EQ(s.changes, 1);
	CHECK_EQ(s.out.dominant, 100);
	/* and once the speaker is silent, a cough still takes nothing */
	cough_at = 14000;
	run(&s, 20000, cough_fn);
	CHECK_EQ(s.changes, 1);
	CHECK_EQ(s.out.dominant, 100);
}

/* ---- a new speaker takes the stage ---- */

static uint64_t a_stop, b_start;

static int turn_fn(unsigned who, uint64_t t)
{
	if (who == 0)
		return t < a_stop ? speech(t, 0) : noise();
	if (who == 1)
		return t >= b_start ? speech(t, b_start) : noise();
	return noise();
}

static uint64_t switch_time(uint64_t stop, uint64_t start)
{
	struct sim s;

	sim_init(&s, 3, 0);
	a_stop = stop;
	b_start = start;
	run(&s, start + 5000, turn_fn);
	CHECK(switched_to(&s, 100, 0) != 0);
	uint64_t at = switched_to(&s, 101, start);

	CHECK(at != 0);
	CHECK_EQ(s.out.dominant, 101);
	CHECK_EQ(s.changes, 2); /* A, then B: nothing in between */
	return at ? at - start : 9999;
}

static void new_speaker(void)
{
	/* A speaks 3 s, then a second of quiet; and B starting the moment A stops */
	uint64_t quiet = switch_time(3000, 4000);
	uint64_t turn = switch_time(3000, 3000);

	printf("switch to a new speaker: %llu ms after it starts in a quiet room, %llu ms when "
	       "the one before stops as it starts\n",
	       (unsigned long long)quiet, (unsigned long long)turn);
	CHECK(quiet <= 800);
	CHECK(turn <= 1300);
	/* B speaking over A, who goes on: the stage may change in a pause of the one who has it,
	 * never back and forth */
	struct sim s;

	sim_init(&s, 2, 0);
	a_stop = 20000;
	b_start = 5000;
	run(&s, 15000, turn_fn);
	for (unsigned i = 1; i < s.changes; i++)
		CHECK(s.when[i] - s.when[i - 1] >= 2000);
	CHECK(s.changes <= 4);
}

/* ---- two speakers taking turns ---- */

static int alternate_fn(unsigned who, uint64_t t)
{
	unsigned turn = (unsigned)(t / 3000) % 2;

	return who == turn && t < 12000 ? speech(t, t / 3000 * 3000) : noise();
}

static void alternating(void)
{
	struct sim s;

	sim_init(&s, 2, 500);
	run(&s, 16000, alternate_fn);
	CHECK_EQ(s.changes, 4);
	for (unsigned i = 0; i < s.changes && i < 4; i++) {
		CHECK_EQ(s.who[i], 100 + i % 2);
		/* the first one has no noise floor learnt yet: its first syllable teaches it */
		CHECK(s.when[i] >= i * 3000 && s.when[i] <= i * 3000 + (i ? 1300 : 1500));
	}
	CHECK(s.min_set_gap >= FH_SPEAKER_SET_MIN_MS);
}

/* ---- silence, and no packets at all ---- */

static bool send_nothing;

static int silence_fn(unsigned who, uint64_t t)
{
	if (who == 0 && t < 3000)
		return speech(t, 0);
	if (send_nothing)
		return NO_PACKET;
	return SILENT;
}

static void silence(void)
{
	for (int mode = 0; mode < 2; mode++) {
		struct sim s;
		unsigned imm, med, lng;

		send_nothing = mode == 1;
		sim_init(&s, 3, 0);
		run(&s, 3000, silence_fn);
		CHECK_EQ(s.out.dominant, 100);
		CHECK_EQ(s.out.n_speaking, 1);
		unsigned reports = s.set_reports;

		run(&s, 3600, silence_fn);
		CHECK_EQ(s.out.n_speaking, 0); /* out of the set within 600 ms */
		CHECK_EQ(s.set_reports, reports + 1);
		run(&s, 5200, silence_fn);
		fh_speaker_activity(&s.r, s.idx[0], &imm, &med, &lng);
		CHECK_EQ(imm + med + lng, 0); /* all of it decayed within 2.2 s */
		run(&s, 30000, silence_fn);
		CHECK_EQ(s.changes, 1);
		CHECK_EQ(s.out.dominant, 100); /* the stage stays with the last speaker */
		CHECK_EQ(s.set_reports, reports + 1);
	}
}

/* ---- 100 senders with noise of all kinds, one of them speaks ---- */

static int base_noise[MAX_SIM];

static int hundred_fn(unsigned who, uint64_t t)
{
	if (who == 37 && t >= 3000)
		return speech(t, 3000);
	if (who == 60 && t >= 9000 && t < 9300) /* one of them coughs */
		return 10;
	if (base_noise[who] == SILENT)
		return SILENT;
	return base_noise[who] + (int)rnd(7) - 3;
}

static void hundred(void)
{
	static struct sim s;

	for (unsigned i = 0; i < 100; i++)
		base_noise[i] = i % 10 == 0 ? SILENT : 50 + (int)rnd(45); /* -50 .. -95 dBov */
	sim_init(&s, 100, 0);
	for (unsigned i = 0; i < 100; i++)
		CHECK(s.idx[i] >= 0);
	run(&s, 3000, hundred_fn);
	CHECK_EQ(s.changes, 0); /* noise is nobody speaking */
	CHECK_EQ(s.out.n_speaking, 0);
	run(&s, 12000, hundred_fn);
	CHECK_EQ(s.changes, 1);
	CHECK_EQ(s.out.dominant, 137);
	uint64_t at = switched_to(&s, 137, 3000);

	CHECK(at && at - 3000 <= 800);
	CHECK_EQ(s.out.n_speaking, 1);
	CHECK_EQ(s.out.speaking[0], 137);
	/* the room is full at FH_SPEAKER_MAX */
	for (unsigned i = 100; i < FH_SPEAKER_MAX; i++)
		CHECK(fh_speaker_add(&s.r, (uint16_t)i) >= 0);
	CHECK_EQ(fh_speaker_add(&s.r, 999), -1);
}

/* ---- at most FH_SPEAKER_SET_MAX are speaking, the most active ---- */

static int crowd_fn(unsigned who, uint64_t t)
{
	/* six talk at once, who 0 the most (a breath every 200 ms, never a silent frame), the
	 * others with their syllables */
	if (who == 0)
		return t % 200 == 0 ? SILENT : 30;
	return speech(t, who * 37);
}

static void crowd(void)
{
	struct sim s;

	sim_init(&s, 6, 0);
	run(&s, 3000, crowd_fn);
	CHECK_EQ(s.out.n_speaking, FH_SPEAKER_SET_MAX);
	CHECK_EQ(s.out.speaking[0], 100);
	CHECK_EQ(s.out.dominant, 100);
	CHECK(s.min_set_gap >= FH_SPEAKER_SET_MIN_MS);
	CHECK(s.set_reports * FH_SPEAKER_SET_MIN_MS <= 3000);
}

/* ---- set changes are reported at most every FH_SPEAKER_SET_MIN_MS ---- */

static int staggered_fn(unsigned who, uint64_t t)
{
	uint64_t start = 1000 + who * 100;

	return t >= start ? speech(t, start) : noise();
}

static void set_rate(void)
{
	struct sim s;

	sim_init(&s, 3, 0);
	s.eval_ms = 10; /* evaluated far more often than the worker does */
	run(&s, 3000, staggered_fn);
	CHECK_EQ(s.out.n_speaking, 3);
	CHECK(s.set_reports >= 2);
	CHECK(s.min_set_gap >= 250); /* at most four a second, as PROTOCOL.md promises */
}

/* ---- a speaker leaves ---- */

static int leave_fn(unsigned who, uint64_t t)
{
	if (who == 0)
		return speech(t, 0);
	if (who == 1 && t >= 5000)
		return speech(t, 5000);
	return noise();
}

static void leaving(void)
{
	struct sim s;

	sim_init(&s, 2, 0);
	run(&s, 4000, leave_fn);
	CHECK_EQ(s.out.dominant, 100);
	fh_speaker_remove(&s.r, s.idx[0]);
	fh_speaker_remove(&s.r, s.idx[0]); /* twice: ignored */
	fh_speaker_remove(&s.r, -1);
	fh_speaker_remove(&s.r, FH_SPEAKER_MAX);
	s.idx[0] = -1; /* its packets, should any still come, go nowhere */
	run(&s, 4400, leave_fn);
	CHECK_EQ(s.out.dominant, FH_SPEAKER_NONE);
	CHECK_EQ(s.out.n_speaking, 0); /* it left the set, and that was reported */
	run(&s, 8000, leave_fn);
	uint64_t at = switched_to(&s, 101, 5000);

	CHECK(at && at - 5000 <= 800);
	CHECK_EQ(s.out.dominant, 101);
	/* its place is taken by the next one added */
	CHECK_EQ(fh_speaker_add(&s.r, 102), 0);
}

/* ---- time going back, standing still, jumping ---- */

static bool talks[2];
static uint64_t talk_start;

static int talks_fn(unsigned who, uint64_t t)
{
	return talks[who] ? speech(t, talk_start) : noise();
}

static void time_steps(void)
{
	struct sim s;
	unsigned imm, med, lng;

	sim_init(&s, 2, 100000);
	talks[0] = true;
	talks[1] = false;
	run(&s, 104000, talks_fn);
	CHECK_EQ(s.out.dominant, 100);
	/* a little back: read as no time passing */
	uint64_t t = s.t;

	CHECK_EQ(fh_speaker_eval(&s.r, t - 500, &s.out), 0);
	for (int i = 0; i < 1000; i++) /* standing still: many packets at one time */
		fh_speaker_level(&s.r, s.idx[1], 10, false, t - 300);
	eval(&s);
	CHECK_EQ(s.out.dominant, 100);
	/* far back (a clock reset): the room goes on from the new time */
	s.t = 1000;
	run(&s, 3400, talks_fn);
	CHECK_EQ(s.out.dominant, 100);
	CHECK_EQ(s.out.n_speaking, 1);
	/* a jump of an hour: all of it was silence */
	s.t += 3600 * 1000;
	eval(&s);
	fh_speaker_activity(&s.r, s.idx[0], &imm, &med, &lng);
	CHECK_EQ(imm + med + lng, 0);
	CHECK_EQ(s.out.dominant, 100);
	CHECK_EQ(s.out.n_speaking, 0);
	/* and one who speaks after it takes the stage as in a quiet room */
	uint64_t start = s.t;

	talks[0] = false;
	talks[1] = true;
	talk_start = start;
	run(&s, start + 3000, talks_fn);
	uint64_t at = switched_to(&s, 101, start);

	CHECK(at && at - start <= 800);
	CHECK_EQ(s.changes, 2);
	/* a packet at a time before the room began, and at the end of the clock */
	fh_speaker_level(&s.r, s.idx[0], 20, true, 0);
	fh_speaker_eval(&s.r, ~0ull - 10, &s.out);
	fh_speaker_level(&s.r, s.idx[0], 20, true, ~0ull);
	fh_speaker_eval(&s.r, ~0ull, &s.out);
	CHECK_EQ(s.out.dominant, 101);
}

/* ---- the V bit, and levels out of range ---- */

static int vad_fn(unsigned who, uint64_t t)
{
	return who == 0 ? speech(t, 0) : SILENT;
}

static void vad_and_range(void)
{
	struct sim s;

	/* a sender that marks voice, with loud packets it does not call voice: nobody speaks */
	sim_init(&s, 2, 0);
	fh_speaker_level(&s.r, s.idx[0], 20, true, 0); /* it does set the bit sometimes */
	run(&s, 3000, vad_fn);
	CHECK_EQ(s.changes, 0);
	CHECK_EQ(s.out.n_speaking, 0);
	/* and the same with the bit: it speaks */
	s.voice = true;
	run(&s, 5000, vad_fn);
	CHECK_EQ(s.out.dominant, 100);
	/* levels above 127 are silence; bad indices are ignored */
	fh_speaker_level(&s.r, s.idx[1], 255, true, s.t);
	fh_speaker_level(&s.r, -1, 0, true, s.t);
	fh_speaker_level(&s.r, FH_SPEAKER_MAX, 0, true, s.t);
	fh_speaker_level(&s.r, 77, 0, true, s.t); /* never added */
	unsigned imm, med, lng;

	fh_speaker_activity(&s.r, 77, &imm, &med, &lng);
	CHECK_EQ(imm + med + lng, 0);
	fh_speaker_activity(&s.r, -5, &imm, &med, &lng);
	CHECK_EQ(imm + med + lng, 0);
}

TEST_MAIN(cough, new_speaker, alternating, silence, hundred, crowd, set_rate, leaving, time_steps,
	  vad_and_range)
