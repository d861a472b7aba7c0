/*
 * fh_alloc: the bandwidth share-out of one receiver, run by its dataplane worker on the timer.
 * No allocation, no lock, no system call: everything lives on the stack or in struct fh_alloc.
 * A run costs O(n * options) steps for n <= FH_MAX_RECV_STREAMS sources, plus a linear match of
 * each source to its state (O(1) per source while the source list keeps its order).
 */
#include "fh_alloc.h"

#include <string.h>

/* The layers one source can be given, cheapest first. */
#define MAX_OPTS (FH_ALLOC_MAX_TEMPORAL + FH_MAX_LAYERS - 1)

struct ladder {
	unsigned n;
	uint8_t s[MAX_OPTS];
	uint8_t t[MAX_OPTS];
	uint32_t bps[MAX_OPTS];
};

/* Per-run scratch for one video source. */
struct work {
	struct ladder lad;
	int cap;    /* the option now forwarded, mapped onto the ladder; -1: paused */
	int level;  /* the option chosen in this run; -1: paused */
	bool exact; /* the option now forwarded is still on the ladder */
};

struct run {
	const struct fh_alloc_src *src;
	struct fh_alloc_state *st;
	struct work *w;
	unsigned order[FH_MAX_RECV_STREAMS]; /* videos with a ladder, in serving order */
	unsigned n_order;
	uint64_t est;
	uint64_t need;
	uint64_t now;
};

void fh_layer_rate_add(struct fh_layer_rate *r, unsigned tid, uint32_t len, bool key)
{
	if (tid >= FH_ALLOC_MAX_TEMPORAL)
		tid = FH_ALLOC_MAX_TEMPORAL - 1;
	if (key)
		r->key_bytes += len;
	else
		r->bytes[tid] += len;
}

static uint32_t window_bps(uint64_t bytes, uint64_t window_us)
{
	uint64_t v = bytes * 8 * 1000000 / window_us;

	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void fh_layer_rate_tick(struct fh_layer_rate *r, uint64_t window_us, bool active)
{
	uint64_t cum = 0;
	uint32_t v;

	if (window_us == 0)
		return;
	for (unsigned t = 0; t < FH_ALLOC_MAX_TEMPORAL; t++) {
		cum += r->bytes[t];
		r->bytes[t] = 0;
		v = active ? window_bps(cum, window_us) : 0;
		/* a quarter per window: an encoder's wobble does not look like a new rate */
		r->bps[t] = r->bps[t] && v ? r->bps[t] - r->bps[t] / 4 + v / 4 : v;
	}
	v = active ? window_bps(r->key_bytes, window_us) : 0;
	r->key_bytes = 0;
	/* an eighth per window: one switch's key frame adds a little for a while */
	r->key_bps = active ? r->key_bps - r->key_bps / 8 + v / 8 : 0;
}

uint32_t fh_layer_rate_bps(const struct fh_layer_rate *r, unsigned t)
{
	uint64_t v;

	if (t >= FH_ALLOC_MAX_TEMPORAL)
		t = FH_ALLOC_MAX_TEMPORAL - 1;
	if (!r->bps[t])
		return 0;
	v = (uint64_t)r->bps[t] + r->key_bps;
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void fh_alloc_init(struct fh_alloc *a)
{
	memset(a, 0, sizeof(*a));
}

bool fh_alloc_due(const struct fh_alloc *a, uint32_t estimate_bps, uint64_t now_ms)
{
	uint64_t last = a->last_estimate, e = estimate_bps;

	if (!a->ran || now_ms < a->last_run_ms || now_ms - a->last_run_ms >= FH_ALLOC_PERIOD_MS)
		return true;
	return e * 100 > last * (100 + FH_ALLOC_CHANGE_PCT) ||
	       e * 100 < last * (100 - FH_ALLOC_CHANGE_PCT);
}

static unsigned n_temporal(const struct fh_alloc_src *s)
{
	if (s->n_temporal == 0)
		return 1;
	return s->n_temporal > FH_ALLOC_MAX_TEMPORAL ? FH_ALLOC_MAX_TEMPORAL : s->n_temporal;
}

static void ladder_add(struct ladder *l, unsigned s, unsigned t, uint32_t bps)
{
	l->s[l->n] = (uint8_t)s;
	l->t[l->n] = (uint8_t)t;
	l->bps[l->n] = bps;
	l->n++;
}

/* The lowest active layer through its temporal layers, then each higher active layer at the
 * highest temporal layer it shows. A zero rate is never an option. */
static void ladder_build(struct ladder *l, const struct fh_alloc_src *src)
{
	unsigned nt = n_temporal(src), s, t;
	bool base = false;

	l->n = 0;
	for (s = 0; s < FH_MAX_LAYERS; s++) {
		if (!base) {
			for (t = 0; t < nt; t++)
				if (src->bps[s][t])
					ladder_add(l, s, t, src->bps[s][t]);
			base = l->n > 0;
			continue;
		}
		for (t = nt; t-- > 0;)
			if (src->bps[s][t]) {
				ladder_add(l, s, t, src->bps[s][t]);
				break;
			}
	}
}

/* The highest option not above what is forwarded now, in (spatial, temporal) order, which is
 * the ladder's own order. When the layer forwarded now is gone, that is the next one down. */
static void map_current(struct work *w, const struct fh_alloc_choice *c)
{
	const struct ladder *l = &w->lad;
	int i;

	w->exact = false;
	if (c->paused) {
		w->cap = -1;
		return;
	}
	w->cap = 0;
	for (i = (int)l->n - 1; i >= 0; i--) {
		if (l->s[i] < c->spatial || (l->s[i] == c->spatial && l->t[i] <= c->temporal)) {
			w->cap = i;
			w->exact = l->s[i] == c->spatial && l->t[i] == c->temporal;
			return;
		}
	}
}

static struct fh_alloc_state *find_state(struct fh_alloc *a, uint32_t id, unsigned hint,
					 const bool *taken)
{
	unsigned i;

	if (hint < a->n_st && a->st[hint].id == id && !taken[hint])
		return &a->st[hint];
	for (i = 0; i < a->n_st; i++)
		if (a->st[i].id == id && !taken[i])
			return &a->st[i];
	return NULL;
}

/* Sources serve in this order: priority, then those playing now (so the same ones pause each
 * time the estimate dips), then the longest known. */
static bool before(const struct run *r, unsigned x, unsigned y)
{
	const struct fh_alloc_src *a = &r->src[x], *b = &r->src[y];
	bool pa = r->w[x].cap >= 0, pb = r->w[y].cap >= 0;

	if (a->priority != b->priority)
		return a->priority > b->priority;
	if (pa != pb)
		return pa;
	return r->st[x].seq < r->st[y].seq;
}

static void sort_order(struct run *r)
{
	unsigned i, j, v;

	for (i = 1; i < r->n_order; i++) {
		v = r->order[i];
		for (j = i; j > 0 && before(r, v, r->order[j - 1]); j--)
			r->order[j] = r->order[j - 1];
		r->order[j] = v;
	}
}

/* Whether source i may climb to option bps with need_new the allocation's total after it;
 * quick_ms: a shorter hold-off for this step (0: none), for a paused video's lowest option or a
 * higher frame rate of the same layer. */
static bool can_up(const struct run *r, unsigned i, uint64_t need_new, uint64_t bps,
		   uint64_t quick_ms)
{
	const struct fh_alloc_state *st = &r->st[i];
	uint64_t elapsed;

	if (need_new * 100 + bps * FH_ALLOC_UP_MARGIN_PCT > r->est * 100)
		return false;
	if (!st->down)
		return true;
	elapsed = r->now > st->down_ms ? r->now - st->down_ms : 0;
	if (elapsed >= FH_ALLOC_HOLD_MS || (quick_ms && elapsed >= quick_ms))
		return true;
	return elapsed >= FH_ALLOC_HOLD_SHORT_MS &&
	       need_new * (100 + FH_ALLOC_COMFORT_PCT) <= r->est * 100;
}

static int64_t step_cost(const struct work *w)
{
	if (w->level < 0)
		return w->lad.bps[0];
	return (int64_t)w->lad.bps[w->level + 1] - w->lad.bps[w->level];
}

static bool fits(uint64_t need, int64_t cost, uint64_t est)
{
	return cost <= 0 || need + (uint64_t)cost <= est;
}

/* Everyone's cheapest option first: those playing keep it while it fits, those paused come
 * back only with headroom. */
static void pass_base(struct run *r)
{
	unsigned k, i;

	for (k = 0; k < r->n_order; k++) {
		struct work *w = &r->w[i = r->order[k]];
		uint64_t c = w->lad.bps[0];
		bool ok = w->cap >= 0 ? fits(r->need, (int64_t)c, r->est)
				      : can_up(r, i, r->need + c, c, FH_ALLOC_RESUME_MS);

		if (ok) {
			w->level = 0;
			r->need += c;
		}
	}
}

/* Rounds of one step each, in serving order. With up false, only back towards what is
 * forwarded now (needs to fit); with up true, beyond it (needs headroom and no hold-off). */
static void pass_climb(struct run *r, bool up)
{
	bool moved = true;
	unsigned k, i;

	while (moved) {
		moved = false;
		for (k = 0; k < r->n_order; k++) {
			struct work *w = &r->w[i = r->order[k]];
			int next = w->level + 1;
			int64_t c;
			bool ok;

			if (w->level < 0 || next >= (int)w->lad.n || (!up && next > w->cap) ||
			    (up && next <= w->cap))
				continue;
			c = step_cost(w);
			if (up)
				ok = can_up(r, i, (uint64_t)((int64_t)r->need + c),
					    w->lad.bps[next],
					    w->lad.s[next] == w->lad.s[w->level]
						    ? FH_ALLOC_TEMPORAL_HOLD_MS
						    : 0);
			else
				ok = fits(r->need, c, r->est);
			if (!ok)
				continue;
			w->level = next;
			r->need = (uint64_t)((int64_t)r->need + c);
			moved = true;
		}
	}
}

/* The step the next round would take: the lowest-placed source that can still climb. */
static uint64_t next_step(const struct run *r)
{
	int best_level = MAX_OPTS;
	uint64_t best = r->need;
	unsigned k;

	for (k = 0; k < r->n_order; k++) {
		const struct work *w = &r->w[r->order[k]];
		int next = w->level + 1;
		int64_t c;

		if (next >= (int)w->lad.n || w->level >= best_level)
			continue;
		c = step_cost(w);
		best_level = w->level;
		best = (uint64_t)((int64_t)r->need + c) +
		       ((uint64_t)w->lad.bps[next] * FH_ALLOC_UP_MARGIN_PCT + 99) / 100;
	}
	return best;
}

static uint32_t clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void settle(struct run *r, unsigned i, struct fh_alloc_choice *out)
{
	struct work *w = &r->w[i];
	struct fh_alloc_state *st = &r->st[i];

	if (w->level < 0) {
		st->choice.paused = true;
	} else {
		st->choice.paused = false;
		st->choice.spatial = w->lad.s[w->level];
		st->choice.temporal = w->lad.t[w->level];
	}
	/* Only a downgrade the estimate forced holds the source down; a layer the sender
	 * stopped is not the link's fault. */
	if (w->exact && w->level < w->cap) {
		st->down = true;
		st->down_ms = r->now;
	}
	*out = st->choice;
}

void fh_alloc_run(struct fh_alloc *a, const struct fh_alloc_src *src, unsigned n,
		  uint32_t estimate_bps, uint64_t now_ms, struct fh_alloc_choice *out)
{
	struct fh_alloc_state st[FH_MAX_RECV_STREAMS];
	struct work w[FH_MAX_RECV_STREAMS];
	bool taken[FH_MAX_RECV_STREAMS] = {false};
	struct run r = {.src = src, .st = st, .w = w, .est = estimate_bps, .now = now_ms};
	unsigned i;

	if (n > FH_MAX_RECV_STREAMS)
		n = FH_MAX_RECV_STREAMS;
	for (i = 0; i < n; i++) {
		struct fh_alloc_state *old = find_state(a, src[i].id, i, taken);

		if (old) {
			taken[old - a->st] = true;
			st[i] = *old;
		} else {
			memset(&st[i], 0, sizeof(st[i]));
			st[i].id = src[i].id;
			st[i].seq = a->next_seq++;
		}
		w[i].level = -1;
		w[i].lad.n = 0;
		if (src[i].kind == FH_ALLOC_AUDIO) {
			memset(&st[i].choice, 0, sizeof(st[i].choice));
			r.need += src[i].bps[0][0];
			continue;
		}
		ladder_build(&w[i].lad, &src[i]);
		if (w[i].lad.n == 0)
			continue;
		map_current(&w[i], &st[i].choice);
		r.order[r.n_order++] = i;
	}
	sort_order(&r);
	pass_base(&r);
	pass_climb(&r, false);
	pass_climb(&r, true);

	for (i = 0; i < n; i++) {
		if (w[i].lad.n)
			settle(&r, i, &out[i]);
		else
			out[i] = st[i].choice;
	}
	a->next_bps = clamp32(next_step(&r));
	a->need_bps = clamp32(r.need);
	memcpy(a->st, st, n * sizeof(st[0]));
	a->n_st = n;
	a->last_estimate = estimate_bps;
	a->last_run_ms = now_ms;
	a->ran = true;
}

uint32_t fh_alloc_need_bps(const struct fh_alloc *a)
{
	return a->need_bps;
}

uint32_t fh_alloc_next_step_bps(const struct fh_alloc *a)
{
	return a->next_bps;
}
