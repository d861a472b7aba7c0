/*
 * cp_speaker: who speaks in each room. The room's worker decides (fh_speaker in dp_speaker) and
 * raises FH_EVT_SPEAKER when the dominant speaker changes and FH_EVT_SPEAKING when the set of
 * those speaking changes; here its slots become participant ids, the room hears
 * {"type":"speaker"} and {"type":"speaking"} (the latter at most every CP_SPEAKING_MIN_MS, the
 * last state kept and sent when that time is up), each room keeps its recent dominant speakers
 * in order, a new dominant speaker ranks first for receive slots (cp_slots_spoke) and those
 * speaking now rank first for audio slots (cp_slots_heard). Event loop only; nothing here is
 * logged (who speaks is nobody's business).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cp_room_pvt.h"

/* The participant in slot of worker w, when it is in room id there and not waiting. */
static struct cp_part *part_in(unsigned w, uint16_t slot, uint32_t room)
{
	struct cp_part *p = slot < FH_MAX_SLOTS ? cp_room_g.by_slot[w][slot] : NULL;

	return p && p->room && p->room->id == room && !p->waiting ? p : NULL;
}

static struct cp_room *room_of(unsigned w, uint32_t id)
{
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next)
		if (r->id == id && r->worker == w)
			return r;
	return NULL;
}

static json_t *speaker_json(uint64_t id)
{
	char s[17];

	snprintf(s, sizeof(s), "%016llx", (unsigned long long)id);
	return json_pack("{s:s, s:s}", "type", "speaker", "id", s);
}

static void recent_drop(struct cp_speakers *k, uint64_t id)
{
	for (unsigned i = 0; i < k->n_recent; i++) {
		if (k->recent[i] != id)
			continue;
		memmove(&k->recent[i], &k->recent[i + 1],
			(k->n_recent - i - 1) * sizeof(k->recent[0]));
		k->n_recent--;
		return;
	}
}

static void on_speaker(unsigned w, const struct fh_evt *e)
{
	struct cp_part *p = part_in(w, e->slot, e->room);

	if (!p)
		return; /* it left since, or the slot is another's now */
	struct cp_speakers *k = &p->room->spk;

	if (k->has_dominant && k->n_recent && k->recent[0] == p->id)
		return;
	recent_drop(k, p->id);
	if (k->n_recent == CP_SPEAKER_RECENT)
		k->n_recent--;
	memmove(&k->recent[1], &k->recent[0], k->n_recent * sizeof(k->recent[0]));
	k->recent[0] = p->id;
	k->n_recent++;
	k->has_dominant = true;
	cp_room_broadcast(p->room, NULL, speaker_json(p->id));
	/* in a room larger than the receive slots, the new speaker is mapped in first */
	cp_slots_spoke(p, cp_room_g.now_ms);
}

static void send_speaking(struct cp_room *r)
{
	struct cp_speakers *k = &r->spk;
	json_t *ids = json_array();
	char s[17];

	for (unsigned i = 0; i < k->n_speaking; i++) {
		snprintf(s, sizeof(s), "%016llx", (unsigned long long)k->speaking[i]);
		json_array_append_new(ids, json_string(s));
	}
	k->speaking_due = false;
	k->speaking_ms = cp_room_g.now_ms;
	cp_room_broadcast(r, NULL, json_pack("{s:s, s:o}", "type", "speaking", "ids", ids));
}

static void on_speaking(unsigned w, const struct fh_evt *e)
{
	struct cp_room *r = room_of(w, e->room);

	if (!r || e->arg > FH_EVT_SLOTS)
		return;
	struct cp_speakers *k = &r->spk;
	uint64_t ids[FH_EVT_SLOTS];
	struct cp_part *ps[FH_EVT_SLOTS];
	unsigned n = 0;

	for (unsigned i = 0; i < e->arg; i++) {
		struct cp_part *p = part_in(w, e->slots[i], e->room);
		unsigned j = 0;

		while (p && j < n && ids[j] != p->id)
			j++;
		if (p && j == n) {
			ps[n] = p;
			ids[n++] = p->id;
		}
	}
	if (n == k->n_speaking && !memcmp(ids, k->speaking, n * sizeof(ids[0])))
		return;
	memcpy(k->speaking, ids, n * sizeof(ids[0]));
	k->n_speaking = n;
	/* in a room larger than the audio slots, who speaks now is heard first */
	cp_slots_heard(r, ps, n, cp_room_g.now_ms);
	if (cp_room_g.now_ms - k->speaking_ms >= CP_SPEAKING_MIN_MS)
		send_speaking(r);
	else
		k->speaking_due = true;
}

void cp_speaker_event(unsigned w, const struct fh_evt *e)
{
	if (e->type == FH_EVT_SPEAKER)
		on_speaker(w, e);
	else if (e->type == FH_EVT_SPEAKING)
		on_speaking(w, e);
}

void cp_speaker_welcome(struct cp_part *p)
{
	const struct cp_speakers *k = &p->room->spk;

	if (k->has_dominant && k->n_recent)
		cp_room_send_json(p, speaker_json(k->recent[0]));
}

void cp_speaker_left(struct cp_part *p)
{
	struct cp_speakers *k = &p->room->spk;

	if (k->has_dominant && k->n_recent && k->recent[0] == p->id)
		k->has_dominant = false; /* until the worker names the next */
	recent_drop(k, p->id);
	for (unsigned i = 0; i < k->n_speaking; i++) {
		if (k->speaking[i] != p->id)
			continue;
		memmove(&k->speaking[i], &k->speaking[i + 1],
			(k->n_speaking - i - 1) * sizeof(k->speaking[0]));
		k->n_speaking--;
		/* the others saw it leave (participant-left); no message of its own */
		break;
	}
}

void cp_speaker_tick(uint64_t now_ms)
{
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next)
		if (r->spk.speaking_due && now_ms - r->spk.speaking_ms >= CP_SPEAKING_MIN_MS)
			send_speaking(r);
}

unsigned cp_speaker_recent(const struct cp_room *r, uint64_t *ids, unsigned max)
{
	unsigned n = r->spk.n_recent < max ? r->spk.n_recent : max;

	memcpy(ids, r->spk.recent, n * sizeof(ids[0]));
	return n;
}
