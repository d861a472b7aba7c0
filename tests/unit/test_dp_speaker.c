/*
 * Unit tests of dp_speaker, the worker's rooms and their speaker events, on a worker made here
 * of what dp_speaker touches (participants, counters, the event ring, the clock; the TSC runs
 * at 1 MHz so that a cycle is a microsecond): participants find their room by the id of their
 * PART_ADD, one in room 0 is in none and never speaks, two rooms on one worker decide apart,
 * a room of 100 speakers (and one of more than fh_speaker tracks) works, and events are the
 * slots fh_speaker chose, rate-limited, with the room's id.
 */
#include <stdlib.h>

#include "dp_test_worker.h"

#define HZ 1000000ull /* a TSC of 1 MHz: cycles are microseconds */

static struct dp_worker w;
static struct fh_counters ctr;
static uint64_t tsc = 5000000; /* 5 s */

static void worker_init(void)
{
	dp_test_worker_init(&w, &ctr, HZ);
}

static void join(uint16_t slot, uint32_t room)
{
	w.parts[slot].used = true;
	w.parts[slot].room = room;
	dp_speaker_join(&w, slot, tsc);
}

/* As part_del does; twice is harmless. */
static void leave(uint16_t slot)
{
	dp_speaker_leave(&w, slot);
	memset(&w.parts[slot], 0, sizeof(w.parts[slot]));
}

/* Speech as in test_speaker: syllables of 190 ms in every 250 ms. */
static uint8_t speech(uint64_t ms)
{
	return ms % 250 < 190 ? 25 : 127;
}

struct seen {
	unsigned n_speaker, n_speaking;
	uint16_t speaker;
	uint32_t speaker_room;
	struct fh_evt speaking;
};

static void drain(struct seen *s)
{
	struct fh_evt e;

	while (rte_ring_sc_dequeue_elem(w.evt, &e, sizeof(e)) == 0) {
		if (e.type == FH_EVT_SPEAKER) {
			s->n_speaker++;
			s->speaker = e.slot;
			s->speaker_room = e.room;
		} else if (e.type == FH_EVT_SPEAKING) {
			s->n_speaking++;
			s->speaking = e;
		}
	}
}

/* ms of the room: every 20 ms a packet from each slot in talk[] (speech) and each in quiet[]
 * (silence), the timer every 100 ms. */
static void run(unsigned ms, const uint16_t *talk, unsigned n_talk, const uint16_t *quiet,
		unsigned n_quiet, struct seen *s)
{
	for (unsigned t = 0; t < ms; t += 20, tsc += 20000) {
		for (unsigned i = 0; i < n_talk; i++)
			dp_speaker_level(&w, &w.parts[talk[i]], speech(tsc / 1000), true, tsc);
		for (unsigned i = 0; i < n_quiet; i++)
			dp_speaker_level(&w, &w.parts[quiet[i]], 127, false, tsc);
		if (t % 100 == 0)
			dp_speaker_timer(&w, tsc);
		drain(s);
	}
}

static void rooms(void)
{
	struct seen s = {0};
	uint16_t talk[2] = {3, 20}, quiet[100];
	unsigned nq = 0;

	worker_init();
	/* room 7: slots 0..99; room 8: slots 100..101; slot 200 in no room */
	for (uint16_t i = 0; i < 100; i++)
		join(i, 7);
	join(100, 8);
	join(101, 8);
	join(200, 0);
	CHECK_EQ(w.parts[200].spk, 0);
	CHECK(w.parts[0].spk && w.parts[100].spk);
	CHECK(w.parts[0].room_idx != w.parts[100].room_idx);
	for (uint16_t i = 0; i < 100; i++)
		if (i != 3)
			quiet[nq++] = i;
	/* slot 3 speaks in room 7; the one in no room speaks too, and nothing comes of it */
	talk[1] = 200;
	run(2000, talk, 2, quiet, nq, &s);
	CHECK_EQ(s.n_speaker, 1);
	CHECK_EQ(s.speaker, 3);
	CHECK_EQ(s.speaker_room, 7);
	CHECK(s.n_speaking >= 1);
	CHECK_EQ(s.speaking.room, 7);
	CHECK_EQ(s.speaking.arg, 1);
	CHECK_EQ(s.speaking.slots[0], 3);
	CHECK_EQ(ctr.ctr[FH_CTR_speaker_events], s.n_speaker + s.n_speaking);

	/* room 8's slot 101 speaks as well: its own room hears of it, room 7 keeps slot 3 */
	struct seen s8 = {0};
	uint16_t both[2] = {3, 101};

	run(2000, both, 2, NULL, 0, &s8);
	CHECK_EQ(s8.n_speaker, 1);
	CHECK_EQ(s8.speaker, 101);
	CHECK_EQ(s8.speaker_room, 8);

	/* slot 3 leaves, and the last of room 8 leave: its entry is free again */
	unsigned r8 = w.parts[100].room_idx;

	leave(3);
	leave(100);
	leave(101);
	CHECK(w.rooms[r8].spk == NULL && w.rooms[r8].id == 0);
	struct seen s7 = {0};
	uint16_t next[1] = {20};

	run(2000, next, 1, quiet, nq, &s7);
	CHECK_EQ(s7.n_speaker, 1);
	CHECK_EQ(s7.speaker, 20);
	CHECK_EQ(s7.speaker_room, 7);
	for (uint16_t i = 0; i < 100; i++)
		leave(i);
	leave(200);
}

/* More participants in one room than fh_speaker tracks: the rest are counted, nothing breaks,
 * and one who leaves makes room for the next. */
static void crowded(void)
{
	struct seen s = {0};
	uint64_t before = ctr.ctr[FH_CTR_speaker_untracked];

	for (uint16_t i = 0; i < FH_SPEAKER_MAX + 10; i++)
		join(i, 9);
	CHECK_EQ(ctr.ctr[FH_CTR_speaker_untracked] - before, 10);
	CHECK_EQ(w.parts[FH_SPEAKER_MAX + 5].spk, 0);
	uint16_t talk[2] = {FH_SPEAKER_MAX + 5, 1};

	run(1000, talk, 1, NULL, 0, &s); /* untracked: never takes the stage */
	CHECK_EQ(s.n_speaker, 0);
	run(1500, talk + 1, 1, NULL, 0, &s);
	CHECK_EQ(s.n_speaker, 1);
	CHECK_EQ(s.speaker, 1);
	leave(0);
	join(0, 9);
	CHECK(w.parts[0].spk);
	for (uint16_t i = 0; i < FH_SPEAKER_MAX + 10; i++)
		leave(i);
	for (unsigned i = 0; i < FH_MAX_SLOTS; i++)
		CHECK(w.rooms[i].spk == NULL);
	dp_speaker_fini(&w);
	free(w.parts);
	free(w.evt);
}

TEST_MAIN(rooms, crowded)
