/*
 * cp_limits: fair shares per source and per room (see cp_limits.h). Sources live in a hash
 * table keyed by a random seed, so an attacker who picks addresses cannot pick one chain for
 * them all; an entry lives while a connection or participant holds it, or while a window of
 * wrong passwords or opened rooms still counts. Event loop only.
 */
#include "cp_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "fh_conf.h"
#include "fh_log.h"

#define ROOM_MINUTE_MS 60000
#define PW_SOURCE_WINDOW_MS 60000
#define PW_ROOM_WINDOW_MS 600000
#define BUCKETS 4096
/* entries that only a window keeps (no connection holds them) are at most this many; past it
 * the oldest goes first */
#define IDLE_MAX 16384
#define ROOMS_TRACKED 1024

const struct cp_limits_conf cp_limits_defaults = {
	.conns_per_source = 256,
	.conns_max = 0,
	.ws_per_source = 128,
	.parts_per_source = 100,
	.rooms_per_source = 10,
	.lobby_per_source = 40,
	.lobby_reserve = 3,
	.slot_reserve = 64,
	.join_timeout = 10,
	.media_timeout = 40,
	.lobby_timeout = 1800,
	.resume_timeout = 60,
	.renegotiations = 8,
	.pw_per_source = 5,
	.pw_per_room = 30,
};

/* [limits] keys: one row each, read by one loader. */
static const struct {
	const char *key;
	size_t off;
	unsigned long min, max;
} keys[] = {
#define KEY(k, f, lo, hi)                                     \
	{                                                     \
		k, offsetof(struct cp_limits_conf, f), lo, hi \
	}
	KEY("connections_per_source", conns_per_source, 4, 100000),
	KEY("connections", conns_max, 0, 10000000), /* 0: from the descriptor limit */
	KEY("websockets_per_source", ws_per_source, 2, 100000),
	KEY("participants_per_source", parts_per_source, 1, 100000),
	KEY("rooms_per_source_per_minute", rooms_per_source, 1, 10000),
	KEY("lobby_per_source", lobby_per_source, 1, 1000),
	KEY("lobby_reserve", lobby_reserve, 0, 100),
	KEY("slot_reserve", slot_reserve, 0, 512),
	KEY("join_timeout", join_timeout, 2, 600),
	KEY("media_timeout", media_timeout, 5, 600),
	KEY("lobby_timeout", lobby_timeout, 10, 86400),
	KEY("resume_timeout", resume_timeout, 5, 3600),
	KEY("renegotiations", renegotiations, 2, 100),
	KEY("wrong_passwords_per_source", pw_per_source, 1, 1000),
	KEY("wrong_passwords_per_room", pw_per_room, 1, 10000),
#undef KEY
};

struct cp_source {
	uint8_t key[16]; /* IPv4 as ::ffff:a.b.c.d, IPv6 as its /64 and zeros */
	unsigned conns;
	unsigned ws;
	unsigned parts;
	unsigned rooms;
	uint64_t rooms_ms; /* start of the minute rooms counts */
	unsigned pw_fails;
	uint64_t pw_ms;
	uint64_t last_ms;
	struct cp_source *next;
};

static struct {
	struct cp_limits_conf c;
	struct cp_source *bucket[BUCKETS];
	uint64_t seed[2];
	unsigned n_sources;
	unsigned conns;
	uint64_t now_ms;
	uint64_t refused[CP_REFUSE_MAX];
	/* wrong passwords per room: a hash of tenant and room key, never the name itself */
	struct {
		uint64_t h;
		unsigned fails;
		uint64_t since_ms;
	} rooms[ROOMS_TRACKED];
} l;

#define NAME(n, h) #n,
#define HELP(n, h) h,
const char *const cp_refusal_names[CP_REFUSE_MAX] = {CP_FOREACH_REFUSAL(NAME)};
const char *const cp_refusal_help[CP_REFUSE_MAX] = {CP_FOREACH_REFUSAL(HELP)};
#undef NAME
#undef HELP

int cp_limits_set(struct cp_limits_conf *c, const char *key, const char *val, char *err,
		  size_t elen)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		unsigned long v;

		if (strcmp(key, keys[i].key))
			continue;
		if (fh_conf_uint(val, keys[i].min, keys[i].max, &v) < 0) {
			snprintf(err, elen, "a whole number from %lu to %lu", keys[i].min,
				 keys[i].max);
			return -1;
		}
		*(unsigned *)((char *)c + keys[i].off) = (unsigned)v;
		return 0;
	}
	snprintf(err, elen, "unknown key");
	return -1;
}

void cp_limits_init(const struct cp_limits_conf *c, unsigned fd_limit)
{
	cp_limits_fini();
	l.c = *c;
	if (!l.c.conns_max) {
		/* below the descriptor limit, with room for the region, SQLite, logs and the
		 * listeners: at the cap a connection is refused, never left to fail accept() */
		l.c.conns_max = fd_limit > 256 ? fd_limit - 128 : fd_limit / 2;
	}
	if (RAND_bytes((unsigned char *)l.seed, sizeof(l.seed)) != 1)
		l.seed[0] = 0x9e3779b97f4a7c15ull;
	FH_INFO("limits: %u connections in all, %u per source; %u participants and %u new rooms a "
		"minute per source",
		l.c.conns_max, l.c.conns_per_source, l.c.parts_per_source, l.c.rooms_per_source);
}

void cp_limits_fini(void)
{
	for (unsigned b = 0; b < BUCKETS; b++) {
		while (l.bucket[b]) {
			struct cp_source *s = l.bucket[b];

			l.bucket[b] = s->next;
			free(s);
		}
	}
	l.n_sources = 0;
	l.conns = 0;
}

const struct cp_limits_conf *cp_limits(void)
{
	return &l.c;
}

const char *cp_limits_key(unsigned i, unsigned *value)
{
	if (i >= sizeof(keys) / sizeof(keys[0]))
		return NULL;
	*value = *(const unsigned *)((const char *)&l.c + keys[i].off);
	return keys[i].key;
}

/* ---- sources ---- */

static bool source_key(const struct sockaddr *sa, socklen_t len, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		/* an IPv4 client on a dual-stack socket is that IPv4 address */
		memcpy(key, a, memcmp(a, mapped, 12) ? 8 : 16);
		return true;
	}
	return false;
}

static unsigned bucket_of(const uint8_t key[16])
{
	uint64_t a, b;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	a = (a ^ l.seed[0]) * 0x9e3779b97f4a7c15ull;
	b = (b ^ l.seed[1] ^ (a >> 29)) * 0xbf58476d1ce4e5b9ull;
	return (unsigned)((b ^ (b >> 31)) % BUCKETS);
}

static bool idle(const struct cp_source *s, uint64_t now)
{
	return !s->conns && !s->parts && now - s->rooms_ms >= ROOM_MINUTE_MS &&
	       now - s->pw_ms >= PW_SOURCE_WINDOW_MS;
}

/* Forgets idle sources; with all set, also the oldest one that only a window keeps. */
static void reap(uint64_t now, bool oldest)
{
	struct cp_source **victim = NULL;

	for (unsigned b = 0; b < BUCKETS; b++) {
		for (struct cp_source **pp = &l.bucket[b]; *pp;) {
			struct cp_source *s = *pp;

			if (idle(s, now)) {
				*pp = s->next;
				free(s);
				l.n_sources--;
				continue;
			}
			if (oldest && !s->conns && !s->parts &&
			    (!victim || s->last_ms < (*victim)->last_ms))
				victim = pp;
			pp = &s->next;
		}
	}
	if (victim) {
		struct cp_source *s = *victim;

		*victim = s->next;
		free(s);
		l.n_sources--;
	}
}

static struct cp_source *source_find(const uint8_t key[16], bool add)
{
	unsigned b = bucket_of(key);

	for (struct cp_source *s = l.bucket[b]; s; s = s->next)
		if (!memcmp(s->key, key, 16))
			return s;
	if (!add)
		return NULL;
	if (l.n_sources >= l.c.conns_max + IDLE_MAX)
		reap(l.now_ms, true);
	struct cp_source *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	memcpy(s->key, key, 16);
	/* windows start "long ago": nothing counted yet */
	s->rooms_ms = l.now_ms - ROOM_MINUTE_MS;
	s->pw_ms = l.now_ms - PW_SOURCE_WINDOW_MS;
	s->next = l.bucket[b];
	l.bucket[b] = s;
	l.n_sources++;
	return s;
}

void cp_limits_tick(uint64_t now_ms)
{
	static uint64_t last;

	l.now_ms = now_ms;
	if (now_ms - last < 1000)
		return;
	last = now_ms;
	reap(now_ms, false);
}

unsigned cp_limits_sources(void)
{
	return l.n_sources;
}

void cp_limits_count(enum cp_refusal r)
{
	l.refused[r]++;
}

uint64_t cp_limits_refused(enum cp_refusal r)
{
	return l.refused[r];
}

/* ---- connections ---- */

bool cp_limits_conn_allowed(const struct sockaddr *sa, socklen_t len)
{
	uint8_t key[16];
	const struct cp_source *s;

	if (l.conns >= l.c.conns_max) {
		l.refused[CP_REFUSE_conn_total]++;
		return false;
	}
	if (!source_key(sa, len, key))
		return true;
	s = source_find(key, false);
	if (s && s->conns >= l.c.conns_per_source) {
		l.refused[CP_REFUSE_conn_source]++;
		return false;
	}
	return true;
}

struct cp_source *cp_limits_conn_open(const struct sockaddr *sa, socklen_t len)
{
	uint8_t key[16];
	struct cp_source *s;

	l.conns++;
	if (!source_key(sa, len, key) || !(s = source_find(key, true)))
		return NULL;
	s->conns++;
	s->last_ms = l.now_ms;
	return s;
}

void cp_limits_conn_close(struct cp_source *s)
{
	if (l.conns)
		l.conns--;
	if (s && s->conns)
		s->conns--;
}

bool cp_limits_ws_open(struct cp_source *s)
{
	if (!s)
		return true;
	if (s->ws >= l.c.ws_per_source) {
		l.refused[CP_REFUSE_ws_source]++;
		return false;
	}
	s->ws++;
	return true;
}

void cp_limits_ws_close(struct cp_source *s)
{
	if (s && s->ws)
		s->ws--;
}

unsigned cp_limits_conns(void)
{
	return l.conns;
}

/* ---- participants and rooms ---- */

void cp_limits_source_key(const struct cp_source *s, uint8_t key[16])
{
	memcpy(key, s->key, 16);
}

bool cp_limits_part_allowed(const struct cp_source *s)
{
	if (!s || s->parts < l.c.parts_per_source)
		return true;
	l.refused[CP_REFUSE_parts_source]++;
	return false;
}

void cp_limits_part_add(struct cp_source *s)
{
	if (s) {
		s->parts++;
		s->last_ms = l.now_ms;
	}
}

void cp_limits_part_del(struct cp_source *s)
{
	if (s && s->parts)
		s->parts--;
}

bool cp_limits_room_allowed(struct cp_source *s, uint64_t now_ms)
{
	if (!s)
		return true;
	if (now_ms - s->rooms_ms >= ROOM_MINUTE_MS) {
		s->rooms_ms = now_ms;
		s->rooms = 0;
	}
	if (s->rooms < l.c.rooms_per_source)
		return true;
	l.refused[CP_REFUSE_rooms_source]++;
	return false;
}

void cp_limits_room_opened(struct cp_source *s, uint64_t now_ms)
{
	if (s && cp_limits_room_allowed(s, now_ms))
		s->rooms++;
}

bool cp_limits_slot_allowed(const struct cp_source *s, unsigned free, unsigned used,
			    unsigned tenant_used, unsigned tenants)
{
	if (free > l.c.slot_reserve)
		return true;
	if (free && (!s || !s->parts) && (tenants <= 1 || tenant_used * tenants <= used))
		return true;
	l.refused[CP_REFUSE_slot_reserve]++;
	return false;
}

bool cp_limits_lobby_allowed(unsigned cap, unsigned waiting, unsigned mine)
{
	/* a small lobby keeps fewer places back, but one at least from 3 places on */
	unsigned reserve = l.c.lobby_reserve < (cap - 1) / 2 ? l.c.lobby_reserve : (cap - 1) / 2;

	if (waiting < cap && mine < l.c.lobby_per_source && (mine == 0 || waiting + reserve < cap))
		return true;
	if (waiting < cap)
		l.refused[CP_REFUSE_lobby_source]++;
	return false;
}

/* ---- wrong passwords ---- */

static uint64_t room_hash(const char *tenant, const char *room)
{
	uint64_t h = l.seed[1] ^ 0xcbf29ce484222325ull;

	for (const char *p = tenant; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	h = (h ^ '/') * 0x100000001b3ull;
	for (const char *p = room; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	return h | 1; /* 0 marks a free entry */
}

/* The room's entry; with add, a new one in the place of the oldest when it has none. */
static unsigned room_entry(const char *tenant, const char *room, bool add, bool *found)
{
	uint64_t h = room_hash(tenant, room);
	unsigned oldest = 0;

	for (unsigned i = 0; i < ROOMS_TRACKED; i++) {
		if (l.rooms[i].h == h) {
			*found = true;
			return i;
		}
		/* a free entry first, else the one whose window began longest ago */
		if (!l.rooms[i].h
			    ? l.rooms[oldest].h != 0
			    : l.rooms[oldest].h && l.rooms[i].since_ms < l.rooms[oldest].since_ms)
			oldest = i;
	}
	*found = false;
	if (add) {
		l.rooms[oldest].h = h;
		l.rooms[oldest].fails = 0;
		l.rooms[oldest].since_ms = l.now_ms;
	}
	return oldest;
}

bool cp_limits_pw_blocked(struct cp_source *s, const char *tenant, const char *room,
			  uint64_t now_ms)
{
	bool found;
	unsigned i = room_entry(tenant, room, false, &found);

	if (s && now_ms - s->pw_ms < PW_SOURCE_WINDOW_MS && s->pw_fails >= l.c.pw_per_source) {
		l.refused[CP_REFUSE_pw_source]++;
		return true;
	}
	if (found && now_ms - l.rooms[i].since_ms < PW_ROOM_WINDOW_MS &&
	    l.rooms[i].fails >= l.c.pw_per_room) {
		l.refused[CP_REFUSE_pw_room]++;
		return true;
	}
	return false;
}

bool cp_limits_pw_failed(struct cp_source *s, const char *tenant, const char *room, uint64_t now_ms)
{
	bool found, now_blocked = false;
	unsigned i = room_entry(tenant, room, true, &found);

	if (now_ms - l.rooms[i].since_ms >= PW_ROOM_WINDOW_MS) {
		l.rooms[i].since_ms = now_ms;
		l.rooms[i].fails = 0;
	}
	if (++l.rooms[i].fails == l.c.pw_per_room)
		now_blocked = true;
	if (s) {
		if (now_ms - s->pw_ms >= PW_SOURCE_WINDOW_MS) {
			s->pw_ms = now_ms;
			s->pw_fails = 0;
		}
		s->last_ms = now_ms;
		if (++s->pw_fails == l.c.pw_per_source)
			now_blocked = true;
	}
	return now_blocked;
}

/* ---- token bucket ---- */

void cp_bucket_init(struct cp_bucket *b, unsigned rate, uint64_t now_ms)
{
	b->tokens = rate;
	b->ms = now_ms;
}

bool cp_bucket_take(struct cp_bucket *b, unsigned rate, uint64_t now_ms)
{
	b->tokens += (double)(now_ms - b->ms) * rate / 1000.0;
	b->ms = now_ms;
	if (b->tokens > rate * 2.0)
		b->tokens = rate * 2.0;
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}
