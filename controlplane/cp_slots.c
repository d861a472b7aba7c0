/*
 * cp_slots: which sources each receiver gets, on a fixed pool of receive slots.
 *
 * A participant has CP_AUDIO_SLOTS audio and (its choice, at most CP_VIDEO_SLOTS_MAX) video
 * receive m-lines from its first offers on; each is one stream of ours (its SSRC, numbering,
 * msid) whatever source it carries. Sources are mapped onto slots here and the worker is told
 * with SUB_SET, so a join, a leave or a new speaker changes no SDP: the client learns which
 * participant's video is on which m-line from a "slots" message. The mapping is sticky: a
 * source keeps its slot while it stays chosen.
 *
 * Audio: every other participant's microphone while they fit; beyond that the ones heard last,
 * as the room's speaker (cp_slots_spoke) or among those speaking now (cp_slots_heard: a short
 * answer that never takes the stage is heard at once), those muted last of all. Video: screen
 * shares first, then what the receiver's constraints name (the stage, then its visible tiles in
 * order, at most its max), or without constraints the last speakers (last-N). A tile's height
 * caps the simulcast layers it gets; the stage and screen shares come first in the worker's
 * share-out of the estimate. Event loop only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cp_dp.h"
#include "cp_room_pvt.h"
#include "fh_log.h"

/* The layers a tile of this CSS pixel height needs of a camera sent as 180p/360p/720p. */
static uint8_t layers_for_height(unsigned h)
{
	if (h == 0)
		return 0;
	if (h <= 200)
		return 1;
	if (h <= 400)
		return 2;
	return 0;
}

struct want {
	const struct cp_part *q;
	unsigned pub; /* CP_PUB_* */
	uint8_t layers;
	uint8_t prio;
	bool placed;
};

static bool mapped_to(const struct cp_part *p, const struct cp_part *q, unsigned pub)
{
	for (unsigned i = 0; i < p->n_ml; i++) {
		const struct cp_mline *m = &p->ml[i];

		if (m->slot && m->src == q->id && m->src_pub == pub)
			return true;
	}
	return false;
}

/* When the room last heard p: as its speaker or in the set of those speaking. */
static uint64_t heard(const struct cp_part *p)
{
	return p->spoke_ms > p->heard_ms ? p->spoke_ms : p->heard_ms;
}

/* Whether x comes before y among the audio sources of p. */
static bool audio_before(const struct cp_part *p, const struct cp_part *x, const struct cp_part *y)
{
	bool mx = x->audio_muted || x->forced_mute, my = y->audio_muted || y->forced_mute;

	if (mx != my)
		return my;
	if (heard(x) != heard(y))
		return heard(x) > heard(y);
	bool ox = mapped_to(p, x, CP_PUB_AUDIO), oy = mapped_to(p, y, CP_PUB_AUDIO);

	if (ox != oy)
		return ox;
	return x->seq < y->seq;
}

/* Video without constraints: screens, then cameras of the last speakers, then the longest
 * present; a source already shown keeps its place among equals. */
static bool video_before(const struct cp_part *p, const struct want *x, const struct want *y)
{
	if ((x->pub == CP_PUB_SCREEN) != (y->pub == CP_PUB_SCREEN))
		return x->pub == CP_PUB_SCREEN;
	if (x->q->spoke_ms != y->q->spoke_ms)
		return x->q->spoke_ms > y->q->spoke_ms;
	bool ox = mapped_to(p, x->q, x->pub), oy = mapped_to(p, y->q, y->pub);

	if (ox != oy)
		return ox;
	return x->q->seq < y->q->seq;
}

static bool receivable(const struct cp_part *p, const struct cp_part *q, unsigned pub)
{
	return q != p && !q->waiting && q->in_dp && q->slot >= 0 && q->pub[pub].present &&
	       (pub != CP_PUB_SCREEN || cp_slots_may_share(q));
}

/* The sources p should get of one kind, best first, at most n. */
static unsigned choose(const struct cp_part *p, enum cp_kind kind, struct want *w, unsigned n)
{
	unsigned k = 0;

	if (!n)
		return 0;
	if (kind == CP_KIND_AUDIO) {
		const struct cp_part *all[CP_ROOM_PARTS_MAX];
		unsigned m = 0;

		for (const struct cp_part *q = p->room->parts; q && m < CP_ROOM_PARTS_MAX;
		     q = q->next)
			if (receivable(p, q, CP_PUB_AUDIO))
				all[m++] = q;
		/* the n first of an insertion sort: rooms are small next to its cost */
		for (unsigned i = 1; i < m; i++) {
			const struct cp_part *v = all[i];
			unsigned j = i;

			for (; j > 0 && audio_before(p, v, all[j - 1]); j--)
				all[j] = all[j - 1];
			all[j] = v;
		}
		for (unsigned i = 0; i < m && k < n; i++)
			w[k++] = (struct want){.q = all[i], .pub = CP_PUB_AUDIO, .prio = 1};
		return k;
	}
	if (p->cons.set) {
		/* screen shares first: on stage for everyone by default, also before the page
		 * has a tile for one */
		for (const struct cp_part *q = p->room->parts; q && k < n; q = q->next)
			if (receivable(p, q, CP_PUB_SCREEN))
				w[k++] = (struct want){.q = q, .pub = CP_PUB_SCREEN, .prio = 3};
		/* then what the page shows: its stage, then its tiles, each once */
		for (unsigned i = 0; i < p->cons.n && k < n && k < p->cons.max; i++) {
			const struct cp_want_src *c = &p->cons.src[i];
			const struct cp_part *q = NULL;

			for (const struct cp_part *x = p->room->parts; x && !q; x = x->next)
				if (x->id == c->id)
					q = x;
			if (!q || !receivable(p, q, c->pub))
				continue;
			bool dup = false;

			for (unsigned j = 0; j < k && !dup; j++)
				dup = w[j].q == q && w[j].pub == c->pub;
			if (dup)
				continue;
			w[k++] =
				(struct want){.q = q,
					      .pub = c->pub,
					      .layers = c->stage ? 0 : layers_for_height(c->height),
					      .prio = (uint8_t)(c->pub == CP_PUB_SCREEN ? 3
								: c->stage		? 2
											: 1)};
		}
		return k;
	}
	struct want all[2 * CP_ROOM_PARTS_MAX];
	unsigned m = 0;

	for (const struct cp_part *q = p->room->parts; q && m + 2 <= 2 * CP_ROOM_PARTS_MAX;
	     q = q->next) {
		if (receivable(p, q, CP_PUB_SCREEN))
			all[m++] = (struct want){.q = q, .pub = CP_PUB_SCREEN, .prio = 3};
		if (receivable(p, q, CP_PUB_VIDEO))
			all[m++] = (struct want){.q = q, .pub = CP_PUB_VIDEO, .prio = 1};
	}
	for (unsigned i = 1; i < m; i++) {
		struct want v = all[i];
		unsigned j = i;

		for (; j > 0 && video_before(p, &v, &all[j - 1]); j--)
			all[j] = all[j - 1];
		all[j] = v;
	}
	for (unsigned i = 0; i < m && k < n; i++)
		w[k++] = all[i];
	return k;
}

static void slot_cmd(struct cp_part *p, struct cp_mline *ml, const struct cp_part *q,
		     const struct want *w)
{
	struct fh_cmd c = {.type = FH_CMD_SUB_SET};

	c.u.sub.out_ssrc = ml->out_ssrc;
	c.u.sub.out_rtx_ssrc = ml->out_rtx_ssrc;
	c.u.sub.out_pt = (uint8_t)ml->pt;
	c.u.sub.out_rtx_pt = ml->rtx_pt >= 0 ? (uint8_t)ml->rtx_pt : 0;
	c.u.sub.kind = ml->kind == CP_KIND_AUDIO ? FH_KIND_AUDIO : FH_KIND_VIDEO;
	if (q) {
		c.u.sub.pub_slot = (uint16_t)q->slot;
		c.u.sub.pub_key = q->pub[w->pub].key;
		c.u.sub.layers = w->layers;
		c.u.sub.priority = w->prio;
	}
	cp_room_dp_cmd(p, &c);
}

static void set_slot(struct cp_part *p, struct cp_mline *ml, const struct want *w)
{
	const struct cp_part *q = w ? w->q : NULL;

	ml->src = q ? q->id : 0;
	ml->src_pub = w ? (uint8_t)w->pub : 0;
	ml->layers = w ? w->layers : 0;
	ml->prio = w ? w->prio : 0;
	ml->src_key = q ? q->pub[w->pub].key : 0;
	slot_cmd(p, ml, q, w);
}

/* Maps p's slots of one kind onto the chosen sources; whether the mapping changed. */
static bool map_kind(struct cp_part *p, enum cp_kind kind)
{
	struct want w[CP_SLOTS_MAX];
	unsigned slots = 0, n;
	bool changed = false;

	for (unsigned i = 0; i < p->n_ml; i++)
		slots += p->ml[i].slot && p->ml[i].kind == kind;
	if (slots > CP_SLOTS_MAX)
		slots = CP_SLOTS_MAX;
	n = choose(p, kind, w, slots);
	/* slots whose source stays chosen keep it (their preferences may change) */
	for (unsigned i = 0; i < p->n_ml; i++) {
		struct cp_mline *ml = &p->ml[i];
		bool kept = false;

		if (!ml->slot || ml->kind != kind || !ml->src)
			continue;
		for (unsigned j = 0; j < n && !kept; j++) {
			uint32_t key = w[j].q->pub[w[j].pub].key;

			/* (a republished track is a new source; after a resume the key is
			 * learned again) */
			if (w[j].placed || w[j].q->id != ml->src || w[j].pub != ml->src_pub ||
			    (ml->src_key && key != ml->src_key))
				continue;
			kept = w[j].placed = true;
			if (ml->layers != w[j].layers || ml->prio != w[j].prio || !ml->src_key)
				set_slot(p, ml, &w[j]);
		}
		if (!kept) {
			set_slot(p, ml, NULL);
			changed = true;
		}
	}
	/* the others take free slots, in m-line order */
	unsigned j = 0;

	for (unsigned i = 0; i < p->n_ml; i++) {
		struct cp_mline *ml = &p->ml[i];

		if (!ml->slot || ml->kind != kind || ml->src)
			continue;
		while (j < n && w[j].placed)
			j++;
		if (j == n)
			break;
		w[j].placed = true;
		set_slot(p, ml, &w[j]);
		changed = true;
	}
	return changed;
}

/* {"type":"slots","video":[{mid,id,source}],"audio":[{mid,id}]}: every slot, id null when
 * it carries nothing. */
static void send_map(struct cp_part *p)
{
	json_t *kinds[2] = {json_array(), json_array()};

	for (unsigned i = 0; kinds[0] && kinds[1] && i < p->n_ml; i++) {
		const struct cp_mline *ml = &p->ml[i];
		char id[17];
		json_t *e;

		if (!ml->slot)
			continue;
		snprintf(id, sizeof(id), "%016llx", (unsigned long long)ml->src);
		e = json_pack("{s:s, s:o}", "mid", ml->mid, "id",
			      ml->src ? json_string(id) : json_null());
		if (e && ml->kind == CP_KIND_VIDEO)
			json_object_set_new(
				e, "source",
				json_string(ml->src_pub == CP_PUB_SCREEN ? "screen" : "camera"));
		json_array_append_new(kinds[ml->kind], e);
	}
	if (kinds[0] && kinds[1])
		cp_room_send_json(p, json_pack("{s:s, s:o, s:o}", "type", "slots", "audio",
					       kinds[0], "video", kinds[1]));
	else {
		json_decref(kinds[0]);
		json_decref(kinds[1]);
	}
}

void cp_slots_update(struct cp_part *p)
{
	if (!p->in_dp || p->waiting || p->orphan || p->slot < 0)
		return;
	bool audio = map_kind(p, CP_KIND_AUDIO);
	bool video = map_kind(p, CP_KIND_VIDEO);

	if (audio || video || !p->map_sent) {
		send_map(p);
		p->map_sent = true;
	}
	cp_resume_note_save(p);
}

void cp_slots_room(struct cp_room *r)
{
	for (struct cp_part *p = r->parts; p; p = p->next)
		cp_slots_update(p);
}

void cp_slots_spoke(struct cp_part *p, uint64_t now_ms)
{
	p->spoke_ms = now_ms ? now_ms : 1;
	cp_slots_room(p->room);
}

void cp_slots_heard(struct cp_room *r, struct cp_part *const *ps, unsigned n, uint64_t now_ms)
{
	for (unsigned i = 0; i < n; i++)
		ps[i]->heard_ms = now_ms ? now_ms : 1;
	if (n)
		cp_slots_room(r);
}

void cp_slots_forget(struct cp_part *p, const struct cp_part *gone)
{
	for (unsigned i = 0; i < p->n_ml; i++)
		if (p->ml[i].slot && p->ml[i].src == gone->id)
			set_slot(p, &p->ml[i], NULL);
}

bool cp_slots_may_share(const struct cp_part *p)
{
	const struct cp_tenant *t = cp_room_tenant(p->room);

	return p->moderator || (t && !t->screen_mods_only && !p->room->screen_mods);
}

bool cp_slots_lacking(const struct cp_part *p)
{
	unsigned have[2] = {0, 0};

	for (unsigned i = 0; i < p->n_ml; i++)
		if (p->ml[i].slot)
			have[p->ml[i].kind]++;
	return have[CP_KIND_AUDIO] < p->pool[CP_KIND_AUDIO] ||
	       have[CP_KIND_VIDEO] < p->pool[CP_KIND_VIDEO];
}

static int parse_source(const char *s)
{
	if (!s || !strcmp(s, "camera"))
		return CP_PUB_VIDEO;
	if (!strcmp(s, "screen"))
		return CP_PUB_SCREEN;
	return -1;
}

static bool parse_id(const char *s, uint64_t *id)
{
	char *end;

	if (!s || strlen(s) != 16)
		return false;
	*id = strtoull(s, &end, 16);
	return *end == '\0';
}

/* {"type":"constraints","stage":{id,source}|null,"tiles":[{id,source,height}],"max":n} */
enum cp_err cp_slots_constraints(struct cp_part *p, json_t *o)
{
	struct cp_constraints c = {.set = true, .max = CP_SLOTS_MAX};
	enum cp_err e = CP_ERR_BAD_FIELD;

	json_t *stage = json_object_get(o, "stage"), *tiles = json_object_get(o, "tiles"),
	       *max = json_object_get(o, "max");

	if ((stage && !json_is_null(stage) && !json_is_object(stage)) ||
	    (tiles && !json_is_array(tiles)) || (max && !json_is_integer(max)))
		goto out;
	if (max) {
		json_int_t m = json_integer_value(max);

		if (m < 0 || m > 1000)
			goto out;
		c.max = m > CP_SLOTS_MAX ? CP_SLOTS_MAX : (unsigned)m;
	}
	if (tiles && json_array_size(tiles) > 256)
		goto out; /* a page shows no more; longer is abuse */
	for (size_t i = 0; i < 1 + (tiles ? json_array_size(tiles) : 0); i++) {
		json_t *t = i == 0 ? stage : json_array_get(tiles, i - 1);
		uint64_t id;
		json_int_t h = 0;
		int pub;

		if (!t || json_is_null(t))
			continue;
		json_t *jid = json_object_get(t, "id"), *jsrc = json_object_get(t, "source"),
		       *jh = json_object_get(t, "height");

		if (!json_is_object(t) || !json_is_string(jid) ||
		    !parse_id(json_string_value(jid), &id) || (jsrc && !json_is_string(jsrc)) ||
		    (pub = parse_source(jsrc ? json_string_value(jsrc) : NULL)) < 0 ||
		    (jh && !json_is_integer(jh)))
			goto out;
		if (jh) {
			h = json_integer_value(jh);
			if (h < 0 || h > 100000)
				goto out;
		}
		if (c.n == CP_SLOTS_MAX)
			continue; /* beyond every pool: nothing to map them onto */
		c.src[c.n++] = (struct cp_want_src){
			.id = id, .pub = (uint8_t)pub, .height = (uint32_t)h, .stage = i == 0};
	}
	p->cons = c;
	e = CP_ERR_OK;
	cp_slots_update(p);
out:
	return e;
}
