/*
 * Unit tests of fh_alloc: what a receiver of three simulcast cameras and three microphones gets
 * at a given estimate, and that layers do not flap when the estimate is noisy. The cameras send
 * 150 kbit/s, 500 kbit/s and 1.5 Mbit/s layers, each split over three VP8 temporal layers at
 * 40/60/100 % as Chrome's encoder allocates them.
 */
#include "fh_alloc.h"
#include "fh_test.h"

#define N_CAM 3
#define N_SRC (2 * N_CAM)

static const uint32_t layer_bps[FH_MAX_LAYERS] = {150000, 500000, 1500000};
static const unsigned split_pct[FH_ALLOC_MAX_TEMPORAL] = {40, 60, 100};

static void cam(struct fh_alloc_src *s, uint32_t id, unsigned n_temporal)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->kind = FH_ALLOC_VIDEO;
	s->n_temporal = (uint8_t)n_temporal;
	for (unsigned l = 0; l < FH_MAX_LAYERS; l++)
		for (unsigned t = 0; t < n_temporal; t++)
			s->bps[l][t] =
				n_temporal == 1 ? layer_bps[l] : layer_bps[l] / 100 * split_pct[t];
}

static void mic(struct fh_alloc_src *s, uint32_t id)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->kind = FH_ALLOC_AUDIO;
	s->bps[0][0] = 40000;
}

/* Cameras 1..3 first, then microphones 101..103. */
static void room(struct fh_alloc_src *src, unsigned n_temporal)
{
	for (unsigned i = 0; i < N_CAM; i++) {
		cam(&src[i], 1 + i, n_temporal);
		mic(&src[N_CAM + i], 101 + i);
	}
}

static uint64_t now_ms;

/* Runs every period for ms at one estimate. */
static void run_for(struct fh_alloc *a, const struct fh_alloc_src *src, unsigned n, uint32_t est,
		    unsigned ms, struct fh_alloc_choice *out)
{
	for (unsigned t = 0; t <= ms; t += FH_ALLOC_PERIOD_MS) {
		fh_alloc_run(a, src, n, est, now_ms, out);
		now_ms += FH_ALLOC_PERIOD_MS;
	}
}

static void audio_never_paused(const struct fh_alloc_choice *out)
{
	for (unsigned i = N_CAM; i < N_SRC; i++)
		CHECK(!out[i].paused);
}

/* 400 kbit/s: every camera at the low layer and at least 15 fps, rather than fewer cameras. */
static void weak_link_lowers_frame_rate_first(void)
{
	struct fh_alloc_src src[N_SRC];
	struct fh_alloc_choice out[N_SRC];
	struct fh_alloc a;

	room(src, 3);
	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 400000, 1000, out);
	for (unsigned i = 0; i < N_CAM; i++) {
		CHECK(!out[i].paused);
		CHECK_EQ(out[i].spatial, 0);
		CHECK(out[i].temporal >= 1);
	}
	audio_never_paused(out);
	CHECK(fh_alloc_need_bps(&a) <= 400000);
	/* The next step is one camera's full frame rate, beyond the estimate: probe for it. */
	CHECK(fh_alloc_next_step_bps(&a) > 400000);
	CHECK(fh_alloc_next_step_bps(&a) < 500000);
}

/* 1 Mbit/s: the middle layer for some, nobody at the top, nobody paused. */
static void middle_link(void)
{
	struct fh_alloc_src src[N_SRC];
	struct fh_alloc_choice out[N_SRC];
	struct fh_alloc a;
	unsigned mid = 0;

	room(src, 3);
	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 1000000, 1000, out);
	for (unsigned i = 0; i < N_CAM; i++) {
		CHECK(!out[i].paused);
		CHECK(out[i].spatial <= 1);
		CHECK_EQ(out[i].temporal, 2);
		mid += out[i].spatial == 1;
	}
	CHECK(mid >= 1);
	audio_never_paused(out);
	CHECK(fh_alloc_need_bps(&a) <= 1000000);
}

static void strong_link_gets_top(void)
{
	struct fh_alloc_src src[N_SRC];
	struct fh_alloc_choice out[N_SRC];
	struct fh_alloc a;

	room(src, 3);
	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 6000000, 1000, out);
	for (unsigned i = 0; i < N_CAM; i++) {
		CHECK(!out[i].paused);
		CHECK_EQ(out[i].spatial, 2);
		CHECK_EQ(out[i].temporal, 2);
	}
	CHECK_EQ(fh_alloc_need_bps(&a), 3 * 40000 + 3 * 1500000);
	CHECK_EQ(fh_alloc_next_step_bps(&a), fh_alloc_need_bps(&a));
}

/* 100 kbit/s does not carry even the audio: video pauses, audio stays. */
static void starved_link_pauses_video(void)
{
	struct fh_alloc_src src[N_SRC];
	struct fh_alloc_choice out[N_SRC];
	struct fh_alloc a;

	room(src, 3);
	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 100000, 1000, out);
	for (unsigned i = 0; i < N_CAM; i++)
		CHECK(out[i].paused);
	audio_never_paused(out);

	/* An estimate of 0 (none yet) is the same, and nothing divides by it. */
	run_for(&a, src, N_SRC, 0, 0, out);
	for (unsigned i = 0; i < N_CAM; i++)
		CHECK(out[i].paused);
	audio_never_paused(out);
}

/* Room for two base layers only: the same camera pauses every time, even when the source list
 * comes in another order, and the estimate wobbling does not swap who is shown. */
static void pause_is_stable(void)
{
	struct fh_alloc_src src[N_SRC], rev[N_SRC];
	struct fh_alloc_choice out[N_SRC];
	struct fh_alloc a;
	unsigned paused_id = 0;

	room(src, 3);
	for (unsigned i = 0; i < N_SRC; i++)
		rev[i] = src[N_SRC - 1 - i];
	fh_alloc_init(&a);
	/* Audio 120k + two base layers of 60k each = 240k; three need 300k. */
	for (unsigned r = 0; r < 40; r++) {
		const struct fh_alloc_src *s = r % 3 == 1 ? rev : src;
		uint32_t est = r % 2 ? 250000 : 290000;
		unsigned n_paused = 0;

		fh_alloc_run(&a, s, N_SRC, est, now_ms, out);
		now_ms += FH_ALLOC_PERIOD_MS;
		for (unsigned i = 0; i < N_SRC; i++) {
			if (s[i].kind != FH_ALLOC_VIDEO || !out[i].paused)
				continue;
			n_paused++;
			if (!paused_id)
				paused_id = s[i].id;
			CHECK_EQ(s[i].id, paused_id);
		}
		CHECK_EQ(n_paused, 1);
		CHECK(fh_alloc_need_bps(&a) <= est);
	}
	/* The newest camera is the one left out among equals. */
	CHECK_EQ(paused_id, 3);

	/* A higher priority wins over age. */
	src[2].priority = 1;
	run_for(&a, src, N_SRC, 250000, 0, out);
	CHECK(!out[2].paused);
	CHECK(out[0].paused != out[1].paused);
}

static unsigned count_spatial_changes(struct fh_alloc *a, const struct fh_alloc_src *src,
				      uint32_t lo, uint32_t hi, unsigned runs, unsigned cam_i)
{
	struct fh_alloc_choice out[N_SRC];
	unsigned changes = 0;
	int last = -1;

	for (unsigned r = 0; r < runs; r++) {
		fh_alloc_run(a, src, N_SRC, r % 2 ? lo : hi, now_ms, out);
		now_ms += FH_ALLOC_PERIOD_MS;
		if (last >= 0 && out[cam_i].spatial != last)
			changes++;
		last = out[cam_i].spatial;
	}
	return changes;
}

/* At 1 Mbit/s camera 1 takes the middle layer; the allocation then needs 920k. An estimate
 * swinging 5 % either side of that, or of the estimate that brought camera 1 up, does not flip
 * the layer every run. */
static void hysteresis(void)
{
	struct fh_alloc_src src[N_SRC];
	struct fh_alloc_choice out[N_SRC];
	struct fh_alloc a;

	room(src, 3);
	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 1000000, 1000, out);
	CHECK_EQ(out[0].spatial, 1);
	CHECK_EQ(fh_alloc_need_bps(&a), 920000);

	/* Around what it needs: one step down, then held there for the whole 30 s. */
	CHECK(count_spatial_changes(&a, src, 874000, 966000, 120, 0) <= 1);

	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 1000000, 1000, out);
	/* Around the estimate that brought it up: no change at all. */
	CHECK_EQ(count_spatial_changes(&a, src, 950000, 1050000, 120, 0), 0);
	fh_alloc_run(&a, src, N_SRC, 1000000, now_ms, out);
	CHECK_EQ(out[0].spatial, 1);
}

/* After a downgrade no upgrade for the hold-off, unless the estimate is now far above. One
 * camera and its microphone: 800k carries the middle layer (540k) but not comfortably, 500k
 * does not carry it at all. */
static void hold_off(void)
{
	struct fh_alloc_src src[2];
	struct fh_alloc_choice out[2];
	struct fh_alloc a;

	cam(&src[0], 1, 3);
	mic(&src[1], 2);
	fh_alloc_init(&a);
	run_for(&a, src, 2, 1000000, 1000, out);
	CHECK_EQ(out[0].spatial, 1);
	fh_alloc_run(&a, src, 2, 500000, now_ms, out);
	CHECK_EQ(out[0].spatial, 0);
	CHECK_EQ(out[0].temporal, 2);
	CHECK(fh_alloc_next_step_bps(&a) > 500000);

	now_ms += 1000;
	run_for(&a, src, 2, 800000, FH_ALLOC_HOLD_MS - 1500, out);
	CHECK_EQ(out[0].spatial, 0);
	now_ms += 1000;
	fh_alloc_run(&a, src, 2, 800000, now_ms, out);
	CHECK_EQ(out[0].spatial, 1);

	/* Down again; a big jump in the estimate ends the hold-off early, but not at once. */
	fh_alloc_run(&a, src, 2, 500000, now_ms, out);
	CHECK_EQ(out[0].spatial, 0);
	now_ms += FH_ALLOC_HOLD_SHORT_MS / 2;
	fh_alloc_run(&a, src, 2, 6000000, now_ms, out);
	CHECK_EQ(out[0].spatial, 0);
	now_ms += FH_ALLOC_HOLD_SHORT_MS;
	fh_alloc_run(&a, src, 2, 6000000, now_ms, out);
	CHECK_EQ(out[0].spatial, 2);
}

/* A lower frame rate forced by the estimate comes back after FH_ALLOC_TEMPORAL_HOLD_MS (it
 * costs no key frame), a higher layer only after the full hold-off. Layer 0 is 60/90/150k by
 * temporal layer, the microphone 40k. */
static void temporal_hold(void)
{
	struct fh_alloc_src src[2];
	struct fh_alloc_choice out[2];
	struct fh_alloc a;
	uint64_t down;

	cam(&src[0], 1, 3);
	mic(&src[1], 2);
	fh_alloc_init(&a);
	run_for(&a, src, 2, 250000, 1000, out);
	CHECK_EQ(out[0].spatial, 0);
	CHECK_EQ(out[0].temporal, 2);
	fh_alloc_run(&a, src, 2, 150000, now_ms, out);
	CHECK_EQ(out[0].temporal, 1);
	down = now_ms;
	now_ms += FH_ALLOC_PERIOD_MS;
	/* room again, and more than enough for the middle layer without comfort (540k + margin) */
	run_for(&a, src, 2, 700000, FH_ALLOC_TEMPORAL_HOLD_MS - 2 * FH_ALLOC_PERIOD_MS, out);
	CHECK_EQ(out[0].temporal, 1);
	run_for(&a, src, 2, 700000, FH_ALLOC_PERIOD_MS, out);
	CHECK(now_ms - down >= FH_ALLOC_TEMPORAL_HOLD_MS);
	CHECK_EQ(out[0].spatial, 0);
	CHECK_EQ(out[0].temporal, 2);
	while (now_ms - down < FH_ALLOC_HOLD_MS - FH_ALLOC_PERIOD_MS)
		run_for(&a, src, 2, 700000, 0, out);
	CHECK_EQ(out[0].spatial, 0);
	run_for(&a, src, 2, 700000, FH_ALLOC_PERIOD_MS, out);
	CHECK_EQ(out[0].spatial, 1);
}

/* A layer that stops is left for the next one down, and comes back at once when it resumes:
 * the sender stopping it is no reason to hold the receiver down. */
static void stopped_layer(void)
{
	struct fh_alloc_src src[N_SRC];
	struct fh_alloc_choice out[N_SRC];
	struct fh_alloc a;

	room(src, 3);
	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 6000000, 500, out);
	CHECK_EQ(out[0].spatial, 2);

	memset(src[0].bps[2], 0, sizeof(src[0].bps[2]));
	fh_alloc_run(&a, src, N_SRC, 6000000, now_ms, out);
	CHECK_EQ(out[0].spatial, 1);
	CHECK_EQ(out[0].temporal, 2);
	CHECK(!out[0].paused);

	cam(&src[0], 1, 3);
	now_ms += FH_ALLOC_PERIOD_MS;
	fh_alloc_run(&a, src, N_SRC, 6000000, now_ms, out);
	CHECK_EQ(out[0].spatial, 2);

	/* The low layer not seen yet: the middle one is the base, with its temporal layers. */
	memset(src[1].bps[0], 0, sizeof(src[1].bps[0]));
	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 400000, 500, out);
	CHECK(!out[1].paused);
	CHECK_EQ(out[1].spatial, 1);
	CHECK_EQ(out[1].temporal, 0);
	CHECK(fh_alloc_need_bps(&a) <= 400000);

	/* TID 2 not seen on the top layer: the top layer is chosen at TID 1. */
	cam(&src[1], 2, 3);
	src[1].bps[2][2] = 0;
	run_for(&a, src, N_SRC, 6000000, 500, out);
	CHECK_EQ(out[1].spatial, 2);
	CHECK_EQ(out[1].temporal, 1);
}

/* A source with nothing measured keeps what it has, and costs nothing. */
static void no_active_layer(void)
{
	struct fh_alloc_src src[N_SRC];
	struct fh_alloc_choice out[N_SRC];
	struct fh_alloc a;

	room(src, 3);
	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 6000000, 500, out);
	CHECK_EQ(out[2].spatial, 2);
	memset(src[2].bps, 0, sizeof(src[2].bps));
	src[2].n_temporal = 0;
	run_for(&a, src, N_SRC, 6000000, 500, out);
	CHECK(!out[2].paused);
	CHECK_EQ(out[2].spatial, 2);
	CHECK_EQ(fh_alloc_need_bps(&a), 3 * 40000 + 2 * 1500000);

	/* A new one starts at the lowest layer. */
	src[2].id = 77;
	fh_alloc_run(&a, src, N_SRC, 6000000, now_ms, out);
	CHECK(!out[2].paused);
	CHECK_EQ(out[2].spatial, 0);
	CHECK_EQ(out[2].temporal, 0);
}

/* Cameras without temporal layers climb whole layers; three base layers do not fit at 450k. */
static void no_temporal_layers(void)
{
	struct fh_alloc_src src[N_SRC];
	struct fh_alloc_choice out[N_SRC];
	struct fh_alloc a;
	unsigned playing = 0;

	room(src, 1);
	fh_alloc_init(&a);
	run_for(&a, src, N_SRC, 450000, 1000, out);
	for (unsigned i = 0; i < N_CAM; i++) {
		if (out[i].paused)
			continue;
		playing++;
		CHECK_EQ(out[i].spatial, 0);
		CHECK_EQ(out[i].temporal, 0);
	}
	CHECK_EQ(playing, 2);
	CHECK(out[2].paused);
	audio_never_paused(out);

	/* The paused one was held down: it comes back after FH_ALLOC_RESUME_MS (not at the
	 * first run with room: a dip of the estimate for one run is no reason to flip), and
	 * reaches the top after the hold-off, as all three top layers need more than
	 * comfortable room. */
	fh_alloc_run(&a, src, N_SRC, 6000000, now_ms, out);
	CHECK(out[2].paused);
	run_for(&a, src, N_SRC, 6000000, FH_ALLOC_RESUME_MS, out);
	CHECK(!out[2].paused);
	CHECK_EQ(out[2].spatial, 0);
	run_for(&a, src, N_SRC, 6000000, FH_ALLOC_HOLD_MS, out);
	for (unsigned i = 0; i < N_CAM; i++) {
		CHECK(!out[i].paused);
		CHECK_EQ(out[i].spatial, 2);
		CHECK_EQ(out[i].temporal, 0);
	}

	/* Not simulcast either: one option. */
	memset(src[0].bps[1], 0, sizeof(src[0].bps[1]));
	memset(src[0].bps[2], 0, sizeof(src[0].bps[2]));
	run_for(&a, src, N_SRC, 6000000, 0, out);
	CHECK_EQ(out[0].spatial, 0);
	CHECK(!out[0].paused);
}

/* A random walk of the estimate over a full receiver: the allocation never needs more than the
 * estimate once the audio fits, and the sources beyond FH_MAX_RECV_STREAMS are ignored. */
static void random_walk_stays_within(void)
{
	struct fh_alloc_src src[FH_MAX_RECV_STREAMS + 2];
	struct fh_alloc_choice out[FH_MAX_RECV_STREAMS + 2];
	struct fh_alloc a;
	uint32_t x = 12345, est = 3000000, audio = 0;

	for (unsigned i = 0; i < FH_MAX_RECV_STREAMS + 2; i++) {
		if (i % 2)
			mic(&src[i], 1000 + i);
		else
			cam(&src[i], 1000 + i, 1 + i % 3);
		src[i].priority = (uint8_t)(i % 4 == 0);
		if (i % 2 && i < FH_MAX_RECV_STREAMS)
			audio += 40000;
	}
	fh_alloc_init(&a);
	for (unsigned r = 0; r < 2000; r++) {
		x = x * 1103515245u + 12345u;
		est = est / 100 * (90 + (x >> 16) % 21);
		if (est < 100000)
			est = 100000;
		if (est > 60000000)
			est = 60000000;
		fh_alloc_run(&a, src, FH_MAX_RECV_STREAMS + 2, est, now_ms, out);
		now_ms += FH_ALLOC_PERIOD_MS;
		if (audio <= est)
			CHECK(fh_alloc_need_bps(&a) <= est);
		CHECK(fh_alloc_next_step_bps(&a) >= fh_alloc_need_bps(&a));
	}
}

static void due(void)
{
	struct fh_alloc a;
	struct fh_alloc_choice out[1];
	struct fh_alloc_src s;

	cam(&s, 1, 3);
	fh_alloc_init(&a);
	CHECK(fh_alloc_due(&a, 1000000, 0));
	fh_alloc_run(&a, &s, 1, 1000000, 1000, out);
	CHECK(!fh_alloc_due(&a, 1000000, 1100));
	CHECK(!fh_alloc_due(&a, 1100000, 1100));
	CHECK(fh_alloc_due(&a, 1200000, 1100));
	CHECK(fh_alloc_due(&a, 800000, 1100));
	CHECK(fh_alloc_due(&a, 1000000, 1000 + FH_ALLOC_PERIOD_MS));
}

/* Feeds w windows of 500 ms: per window delta bytes per TID (spread over its frames) and
 * keys key frames of key_len bytes. */
static void feed(struct fh_layer_rate *r, unsigned w, uint32_t delta_bps, unsigned keys,
		 uint32_t key_len)
{
	for (unsigned i = 0; i < w; i++) {
		/* 15 frames a window, TIDs 0,2,1,2 ..., 1200-byte packets */
		uint32_t per_frame = delta_bps / 8 / 2 / 15;

		for (unsigned f = 0; f < 15; f++) {
			unsigned tid = f % 2 ? 2 : (f % 4 ? 1 : 0);

			for (uint32_t b = 0; b < per_frame; b += 1200)
				fh_layer_rate_add(
					r, tid, per_frame - b < 1200 ? per_frame - b : 1200, false);
		}
		for (unsigned k = 0; k < keys; k++)
			for (uint32_t b = 0; b < key_len; b += 1200)
				fh_layer_rate_add(r, 0, key_len - b < 1200 ? key_len - b : 1200,
						  true);
		fh_layer_rate_tick(r, 500000, true);
	}
}

/* Seen in a browser test: a sender whose top layer made two key frames a second (the others
 * kept switching to it) showed only its delta frames, 150 kbit/s, to the allocator; a
 * receiver estimated at 160 kbit/s was given that layer and sent 1 Mbit/s. What a layer costs
 * includes its key frames. */
static void key_frames_count(void)
{
	struct fh_layer_rate top = {0}, low = {0}, one = {0};

	feed(&top, 20, 150000, 1, 30000); /* 2 key frames a second of 30 kB: 480 kbit/s */
	uint32_t top_bps = fh_layer_rate_bps(&top, 2);

	CHECK(top_bps >= 550000 && top_bps <= 700000);
	feed(&low, 20, 100000, 0, 0);
	CHECK(fh_layer_rate_bps(&low, 2) >= 90000 && fh_layer_rate_bps(&low, 2) <= 110000);
	CHECK(fh_layer_rate_bps(&low, 0) < fh_layer_rate_bps(&low, 1));
	CHECK(fh_layer_rate_bps(&low, 1) < fh_layer_rate_bps(&low, 2));

	/* a receiver at 300 kbit/s gets the low layer, not the key-frame-heavy top one */
	struct fh_alloc a;
	struct fh_alloc_src s = {.id = 7, .kind = FH_ALLOC_VIDEO, .priority = 1, .n_temporal = 3};
	struct fh_alloc_choice out[1];

	for (unsigned t = 0; t < 3; t++) {
		s.bps[0][t] = fh_layer_rate_bps(&low, t);
		s.bps[2][t] = fh_layer_rate_bps(&top, t);
	}
	fh_alloc_init(&a);
	for (unsigned i = 0; i < 100; i++)
		fh_alloc_run(&a, &s, 1, 300000, 1000 + i * FH_ALLOC_PERIOD_MS, out);
	CHECK(!out[0].paused);
	CHECK_EQ(out[0].spatial, 0);
	CHECK(fh_alloc_need_bps(&a) <= 300000);

	/* one key frame (a switch) adds an eighth of itself for a window, then fades */
	feed(&one, 20, 300000, 0, 0);
	uint32_t before = fh_layer_rate_bps(&one, 2);

	feed(&one, 1, 300000, 1, 40000);
	uint32_t after = fh_layer_rate_bps(&one, 2);

	CHECK(after > before && after - before <= 40000 * 8 * 2 / 8 + 5000);
	feed(&one, 40, 300000, 0, 0);
	CHECK(fh_layer_rate_bps(&one, 2) <= before + 2000);

	/* a layer that stops costs nothing, key frames included */
	fh_layer_rate_tick(&top, 500000, false);
	CHECK_EQ(fh_layer_rate_bps(&top, 2), 0);
	CHECK_EQ(fh_layer_rate_bps(&top, 0), 0);
}

TEST_MAIN(weak_link_lowers_frame_rate_first, middle_link, strong_link_gets_top,
	  starved_link_pauses_video, pause_is_stable, hysteresis, hold_off, temporal_hold,
	  stopped_layer, no_active_layer, no_temporal_layers, random_walk_stays_within, due,
	  key_frames_count)
