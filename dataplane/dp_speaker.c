/*
 * dp_speaker: the rooms of a worker and who speaks in them. A participant's room is the room
 * id of its FH_CMD_PART_ADD (0: none, its levels are not tracked); a room's fh_speaker state is
 * allocated with its first participant and freed with its last, on the command path. The media
 * path feeds each audio packet's RFC 6464 level (dp_speaker_level, O(1)); the worker's timer
 * (every 100 ms) evaluates each room and raises FH_EVT_SPEAKER and FH_EVT_SPEAKING, which
 * fh_speaker rate-limits (a dominant speaker change at most every FH_SPEAKER_SWITCH_MIN_MS, a
 * speaking set change at most every FH_SPEAKER_SET_MIN_MS). Runs on the worker's lcore.
 */
#include <stdlib.h>
#include <string.h>

#include "dp_worker.h"

_Static_assert(FH_SPEAKER_SET_MAX <= FH_EVT_SLOTS, "a speaking set fits one event");
_Static_assert(FH_MAX_SLOTS <= FH_SPEAKER_NONE, "slots are speaker ids");

int dp_speaker_init(struct dp_worker *w)
{
	w->rooms = calloc(FH_MAX_SLOTS, sizeof(*w->rooms));
	return w->rooms ? 0 : -1;
}

void dp_speaker_fini(struct dp_worker *w)
{
	if (!w->rooms)
		return;
	for (unsigned i = 0; i < FH_MAX_SLOTS; i++)
		free(w->rooms[i].spk);
	free(w->rooms);
	w->rooms = NULL;
}

/* The entry of room id, or a free one for it; DP_NO_ROOM when neither exists. */
static unsigned room_find(const struct dp_worker *w, uint32_t id)
{
	unsigned free_i = DP_NO_ROOM;

	for (unsigned i = 0; i < FH_MAX_SLOTS; i++) {
		if (w->rooms[i].id == id)
			return i;
		if (!w->rooms[i].id && free_i == DP_NO_ROOM)
			free_i = i;
	}
	return free_i;
}

void dp_speaker_join(struct dp_worker *w, uint16_t slot, uint64_t now)
{
	struct dp_part *p = &w->parts[slot];
	unsigned i;

	p->room_idx = DP_NO_ROOM;
	p->spk = 0;
	if (!p->room)
		return; /* in no room: nobody to compete with */
	i = room_find(w, p->room);
	if (i == DP_NO_ROOM) { /* cannot happen: a room per slot at most */
		dp_count(w, FH_CTR_speaker_untracked, 1);
		return;
	}
	struct dp_room *r = &w->rooms[i];

	if (!r->spk) {
		r->spk = malloc(sizeof(*r->spk));
		if (!r->spk) {
			dp_count(w, FH_CTR_speaker_untracked, 1);
			return;
		}
		fh_speaker_init(r->spk, dp_worker_us(w, now) / 1000);
		r->id = p->room;
		r->n_parts = 0;
	}
	int s = fh_speaker_add(r->spk, slot);

	if (s < 0) { /* more than FH_SPEAKER_MAX in one room: the rest compete without it */
		dp_count(w, FH_CTR_speaker_untracked, 1);
		return;
	}
	r->n_parts++;
	p->room_idx = (uint16_t)i;
	p->spk = (uint16_t)(s + 1);
}

void dp_speaker_leave(struct dp_worker *w, uint16_t slot)
{
	struct dp_part *p = &w->parts[slot];

	if (!p->spk)
		return;
	struct dp_room *r = &w->rooms[p->room_idx];

	fh_speaker_remove(r->spk, p->spk - 1);
	p->spk = 0;
	p->room_idx = DP_NO_ROOM;
	if (--r->n_parts == 0) {
		free(r->spk);
		memset(r, 0, sizeof(*r));
	}
}

static void emit(struct dp_worker *w, struct fh_evt *e)
{
	/* a full event ring means cp is gone or stuck: the next change says it again */
	if (rte_ring_sp_enqueue_elem(w->evt, e, sizeof(*e)) == 0)
		dp_count(w, FH_CTR_speaker_events, 1);
}

void dp_speaker_timer(struct dp_worker *w, uint64_t now)
{
	uint64_t ms = dp_worker_us(w, now) / 1000;

	for (unsigned i = 0; i < FH_MAX_SLOTS; i++) {
		struct dp_room *r = &w->rooms[i];
		struct fh_speaker_out out;

		if (!r->spk)
			continue;
		unsigned f = fh_speaker_eval(r->spk, ms, &out);

		if (f & FH_SPEAKER_DOMINANT_CHANGED) {
			struct fh_evt e = {
				.type = FH_EVT_SPEAKER, .slot = out.dominant, .room = r->id};

			emit(w, &e);
		}
		if (f & FH_SPEAKER_SET_CHANGED) {
			struct fh_evt e = {.type = FH_EVT_SPEAKING,
					   .slot = FH_SPEAKER_NONE,
					   .room = r->id,
					   .arg = out.n_speaking};

			for (unsigned k = 0; k < out.n_speaking; k++)
				e.slots[k] = out.speaking[k];
			emit(w, &e);
		}
	}
}
