/*
 * fh-speakerbench: what dominant speaker detection costs a worker. One room of N senders (100
 * by default), each sending an audio level every 20 ms as Opus does, one of them speaking, the
 * rest noise; the room evaluated every 100 ms as the worker's timer does. Prints nanoseconds per
 * fh_speaker_level call and per fh_speaker_eval of the room, on one core.
 *
 * usage: fh-speakerbench [-n SENDERS] [-s SECONDS]   (room time, simulated)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fh_speaker.h"

static uint64_t ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned n = 100, seconds = 600, changes = 0, opt;
	static struct fh_speaker_room r;
	int idx[FH_SPEAKER_MAX];
	struct fh_speaker_out out;
	uint64_t t_level = 0, t_eval = 0, n_level = 0, n_eval = 0;
	uint32_t rng = 1;

	while ((int)(opt = (unsigned)getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			n = (unsigned)atoi(optarg);
		else if (opt == 's')
			seconds = (unsigned)atoi(optarg);
		else {
			fprintf(stderr, "usage: fh-speakerbench [-n SENDERS] [-s SECONDS]\n");
			return 2;
		}
	}
	if (n < 1 || n > FH_SPEAKER_MAX) {
		fprintf(stderr, "fh-speakerbench: 1 to %d senders\n", FH_SPEAKER_MAX);
		return 2;
	}
	fh_speaker_init(&r, 0);
	for (unsigned i = 0; i < n; i++)
		idx[i] = fh_speaker_add(&r, (uint16_t)i);
	uint8_t *lv = malloc(n);

	for (uint64_t ms = 0; ms < seconds * 1000ull; ms += 20) {
		/* the speaker changes every 10 s; syllables of 190 ms in 250 ms */
		unsigned who = (unsigned)(ms / 10000) % n;

		for (unsigned i = 0; i < n; i++) {
			rng ^= rng << 13;
			rng ^= rng >> 17;
			rng ^= rng << 5;
			lv[i] = i == who && ms % 250 < 190 ? 25 : (uint8_t)(80 + rng % 8);
		}
		uint64_t t0 = ns();

		for (unsigned i = 0; i < n; i++)
			fh_speaker_level(&r, idx[i], lv[i], true, ms);
		t_level += ns() - t0;
		n_level += n;
		if (ms % 100 == 0) {
			t0 = ns();
			changes += fh_speaker_eval(&r, ms, &out) & FH_SPEAKER_DOMINANT_CHANGED;
			t_eval += ns() - t0;
			n_eval++;
		}
	}
	printf("%u senders, %u s: %.1f ns per audio level, %.0f ns per evaluation of the room "
	       "(%.2f ns per sender); %u dominant speaker changes\n",
	       n, seconds, (double)t_level / (double)n_level, (double)t_eval / (double)n_eval,
	       (double)t_eval / (double)n_eval / n, changes);
	free(lv);
	return 0;
}
