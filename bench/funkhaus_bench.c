/*
 * funkhaus-bench: the capacity planner's load test. Simulated participants, each a real WebRTC
 * endpoint (bench/fhc: WSS signalling as the web client does, ICE, DTLS, SRTP), join rooms of a
 * given size mix at a given rate, publish Opus-like audio (50 packets/s, 100 bytes) and
 * VP8-like video (a bitrate and frame rate, frames split into packets of at most 1200 bytes, a
 * key frame five times the size every 3 s) and receive everything the SFU sends them. Every
 * payload carries its send time, so receivers measure one-way latency and jitter (sender and
 * receiver on one host share the clock) and loss from sequence numbers.
 *
 *   steady  hold a load for a time
 *   ramp    add participants step by step until loss, p99 latency or joins fail the limits;
 *           the last good step is the capacity
 *
 *   churn   hold a load while people leave and others join all the time (-r per second)
 *
 * A cluster: -H takes several entries, participants are spread over them in turn and follow
 * the nodes' redirects (fhc); the report says where each room's media ended up and how long a
 * join through a redirect took against a direct one. With --rejoin a participant whose node
 * went away joins its room again elsewhere (backoff 0.5, 1, 2, 4 s; its entry first, then the
 * nodes "joined" named), and the report gives the time until its media flowed again.
 *
 * Participants are spread over -t threads; the main thread joins, churns and reports.
 * Output: a progress line a second, a table at the end and a JSON report (-o).
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fh_region.h"
#include "fhc.h"

#define MAX_SIZES 8
#define MAX_PARTS 2000
#define MAX_LINKS 8
#define MAX_ENTRIES 8
#define MAX_NODES 16
#define JOIN_THREADS 8 /* joins under way at once: a join waits on round trips, not on CPU */
#define SIM_FPS 30

/* Simulcast encodings, lowest first, at Chrome's usual rates for 180p, 360p and 720p. */
static const unsigned sim_kbps[FHC_SIM_LAYERS] = {100, 400, 1200};

/* Receivers' downlinks: a rate (0 unlimited) for each class and the share of participants. */
struct links {
	uint64_t bps[MAX_LINKS];
	double share[MAX_LINKS];
	unsigned placed[MAX_LINKS];
	char name[MAX_LINKS][16];
	unsigned n;
};

struct mix {
	unsigned size[MAX_SIZES];
	double share[MAX_SIZES];
	unsigned n;
};

/* An entry (-H): where participants knock first. */
struct entry {
	char host[64];
	uint16_t port;
};

struct part {
	pthread_mutex_t lock; /* the thread driving it against the main thread reading it */
	struct fhc *c;	      /* NULL while a churn replaces it */
	unsigned room;
	double joined;
	double next_audio;
	double next_frame;
	unsigned frames;
	double first_video_s; /* join to first video from anyone, -1 while none */
	unsigned link;	      /* its class in --links */
	/* where it came in and where its media is; the join's time to "joined" and to media */
	unsigned entry;
	int node; /* index in nodes[], -1 none */
	unsigned hops;
	double joined_s, media_s;
	unsigned first_hops; /* of its first join, for the join-time figures */
	double first_media_s;
	/* --rejoin: its connection broke (at the last media packet before, lost_at); the other
	 * nodes its last "joined" named; the tries to join again */
	/* P_JOIN: its first join is due (P_JOINING: under way; P_FAILED: refused) */
	enum { P_UP, P_WAIT, P_BUSY, P_GAVE_UP, P_JOIN, P_JOINING, P_FAILED } state;
	bool affected;
	unsigned drops;			   /* connections it lost */
	double lost_at, next_try, back_at; /* back_at: first media again, -1 while none */
	unsigned tries, tries_failed;
	/* where it tries: its entry, then the other nodes "joined" named (HOST:PORT each, no
	 * two alike); those that refused a connection are passed over until all have */
	struct entry urls[9];
	unsigned n_urls, next_url;
	uint16_t refused;
};

struct opts {
	const char *host;
	unsigned port;
	const char *mode;
	unsigned participants;
	struct mix mix;
	double join_rate;
	unsigned seconds;
	unsigned video_kbps;
	unsigned fps;
	unsigned step;
	unsigned step_seconds;
	double max_loss;
	double max_p99_ms;
	unsigned max_participants;
	const char *report;
	const char *instance;
	const char *mix_text;
	const char *plot;
	unsigned threads;
	bool janus;	  /* the target is Janus' VideoRoom */
	const char *srtp; /* gcm, cm or NULL (both offered) */
	pid_t pids[8];	  /* the SFU's processes, for CPU seconds per forwarded packet */
	unsigned n_pids;
	unsigned per_source; /* loopback targets: participants per source address (0: one) */
	bool simulcast;	     /* every participant sends three encodings, as Chrome does */
	int video_slots;     /* Funkhaus: video receive slots each asks for (0: default) */
	struct links links;  /* receivers' link classes; none: unlimited */
	const char *links_text;
	struct entry entries[MAX_ENTRIES]; /* -H, parsed; participants take them in turn */
	unsigned n_entries;
	bool rejoin;		/* a participant whose node goes away joins again elsewhere */
	unsigned rejoin_tries;	/* and gives up after this many failed tries */
	const char *ready_file; /* written once everyone joined (the hold begins) */
};

struct totals {
	uint64_t received, expected, bytes_in, sent, bytes_out;
	uint64_t lat_count, lat_sum, lat_max;
	uint32_t hist[FHC_LAT_BUCKETS];
	double jitter_max_us;
	unsigned streams, streams_silent;
};

/* Slots are filled in order and never move; n_parts is published after a slot is ready. */
static struct part parts[MAX_PARTS];
static unsigned n_parts, join_failures, rooms_used;
static uint64_t sent_packets, sent_bytes; /* by the driving threads, atomically */
static volatile bool threads_stop;
static unsigned room_fill, room_target;
static char run_id[16];
static volatile bool interrupted;
static const char *failure; /* one line: why the run ended early */

/* The nodes media ended up on, by HOST:PORT, with the id a redirect named for it. Appended
 * under nodes_lock, never removed. */
static struct node {
	char where[80];
	char id[40];
} nodes[MAX_NODES];
static unsigned n_nodes;
static pthread_mutex_t nodes_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned redirects, rejoin_tries_failed; /* atomically */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_mix(const char *s, struct mix *m)
{
	char buf[256], *save = NULL;
	double total = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	m->n = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned size;
		double pct;

		if (m->n == MAX_SIZES || sscanf(t, "%u:%lf%%", &size, &pct) != 2 || size < 2 ||
		    size > 1000 || pct <= 0)
			return -1;
		m->size[m->n] = size;
		m->share[m->n++] = pct;
		total += pct;
	}
	for (unsigned i = 0; i < m->n; i++)
		m->share[i] /= total;
	return m->n ? 0 : -1;
}

/* A rate: digits with an optional k or M (bit/s), or inf for unlimited (0). */
static int parse_rate(const char *s, uint64_t *bps)
{
	char *end;
	double v;

	if (!strcmp(s, "inf")) {
		*bps = 0;
		return 0;
	}
	v = strtod(s, &end);
	if (end == s || v <= 0)
		return -1;
	if (*end == 'k')
		v *= 1e3, end++;
	else if (*end == 'M')
		v *= 1e6, end++;
	if (*end || v < 10000 || v > 1e10) /* below 10 kbit/s not even audio passes */
		return -1;
	*bps = (uint64_t)v;
	return 0;
}

/* --links 300k:20%,1M:30%,inf:50%: shares must add up to 100. Returns 0, or -1 with why. */
static int parse_links(const char *s, struct links *l, char *why, size_t why_len)
{
	char buf[256], *save = NULL;
	double total = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	memset(l, 0, sizeof(*l));
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(t, ':'), *end;
		double pct;

		if (l->n == MAX_LINKS) {
			snprintf(why, why_len, "at most %d link classes", MAX_LINKS);
			return -1;
		}
		if (!colon) {
			snprintf(why, why_len, "'%s' is not RATE:SHARE%%", t);
			return -1;
		}
		*colon = '\0';
		pct = strtod(colon + 1, &end);
		if (parse_rate(t, &l->bps[l->n]) < 0) {
			snprintf(why, why_len, "'%s' is no rate (e.g. 300k, 1.5M, inf; >= 10k)", t);
			return -1;
		}
		if (end == colon + 1 || strcmp(end, "%") || pct <= 0 || pct > 100) {
			snprintf(why, why_len, "'%s' is no share (e.g. 20%%)", colon + 1);
			return -1;
		}
		snprintf(l->name[l->n], sizeof(l->name[0]), "%.15s", t);
		l->share[l->n++] = pct / 100;
		total += pct;
	}
	if (!l->n) {
		snprintf(why, why_len, "no link class");
		return -1;
	}
	if (total < 99.999 || total > 100.001) {
		snprintf(why, why_len, "the shares add up to %g %%, not 100 %%", total);
		return -1;
	}
	return 0;
}

/* The class of the next participant: the one whose share lags furthest behind (so the same
 * joins always get the same classes, and every prefix of them is close to the mix). */
static unsigned next_link(struct links *l)
{
	unsigned best = 0, all = 0;
	double worst = 1e9;

	if (!l->n)
		return 0;
	for (unsigned i = 0; i < l->n; i++)
		all += l->placed[i];
	for (unsigned i = 0; i < l->n; i++) {
		double have = all ? (double)l->placed[i] / all : 0;

		if (have - l->share[i] < worst) {
			worst = have - l->share[i];
			best = i;
		}
	}
	l->placed[best]++;
	return best;
}

/* The size of the next room: the size whose share of participants lags furthest behind. */
static unsigned next_room_size(const struct mix *m)
{
	static unsigned placed[MAX_SIZES];
	unsigned best = 0;
	double worst = 1e9, all = 0;

	for (unsigned i = 0; i < m->n; i++)
		all += placed[i];
	for (unsigned i = 0; i < m->n; i++) {
		double have = all ? placed[i] / all : 0;

		if (have - m->share[i] < worst) {
			worst = have - m->share[i];
			best = i;
		}
	}
	placed[best] += m->size[best];
	return m->size[best];
}

/* The node at where (HOST:PORT), added when new; id, when a redirect named it, is kept. */
static int node_of(const char *where, const char *id)
{
	int found = -1;

	pthread_mutex_lock(&nodes_lock);
	for (unsigned i = 0; i < n_nodes && found < 0; i++)
		if (!strcmp(nodes[i].where, where))
			found = (int)i;
	if (found < 0 && n_nodes < MAX_NODES) {
		snprintf(nodes[n_nodes].where, sizeof(nodes[0].where), "%s", where);
		found = (int)n_nodes++;
	}
	if (found >= 0 && id && id[0] && !nodes[found].id[0])
		snprintf(nodes[found].id, sizeof(nodes[0].id), "%s", id);
	pthread_mutex_unlock(&nodes_lock);
	return found;
}

/* A simulated participant joins room room_no at host:port; NULL with the reason in err. Safe
 * to call from several threads (the rejoin threads and the main thread). */
static struct fhc *dial(const struct opts *o, unsigned room_no, unsigned link, const char *host,
			uint16_t port, char *err, size_t err_len)
{
	static unsigned serial_next;
	unsigned serial = __atomic_fetch_add(&serial_next, 1, __ATOMIC_RELAXED);
	char room[64], name[32];

	snprintf(room, sizeof(room), "bench-%s-%u", run_id, room_no);
	snprintf(name, sizeof(name), "sim-%u", serial);
	/* citizens come from many addresses: on loopback, a few per address keeps the node's
	 * shares per source (participants, rooms opened a minute) out of a capacity run; each
	 * run has addresses of its own (127.R.x.y), so runs back to back do not add up */
	char src[24];
	unsigned k = o->per_source ? serial / o->per_source : 0;
	bool spread = o->per_source && !o->janus && !strncmp(host, "127.", 4);

	snprintf(src, sizeof(src), "127.%u.%u.%u", 2 + (unsigned)getpid() % 250, k / 250 % 250,
		 2 + k % 250);
	struct fhc_opts fo = {.host = host,
			      .source = spread ? src : NULL,
			      .resume = true, /* a control-plane restart is followed, not a loss */
			      .port = port,
			      .room = room,
			      .name = name,
			      .audio = true,
			      .video = true,
			      .timeout_ms = 8000,
			      .srtp = o->srtp,
			      .janus = o->janus,
			      .simulcast = o->simulcast,
			      .video_slots = o->video_slots,
			      .link_bps = o->links.n ? o->links.bps[link] : 0};
	struct fhc *c = fhc_connect(&fo, err, err_len);

	if (c && fhc_hops(c))
		__atomic_fetch_add(&redirects, fhc_hops(c), __ATOMIC_RELAXED);
	return c;
}

/* Where a participant's media is: the node the last redirect named, else where it knocked. */
static void place(struct part *p, struct fhc *c)
{
	p->node = node_of(fhc_where(c), fhc_hops(c) ? fhc_node(c) : NULL);
	p->hops = fhc_hops(c);
	p->joined_s = (double)fhc_joined_us(c) / 1e6;
	p->media_s = (double)fhc_media_us(c) / 1e6;
}

/* A new simulated participant in room room_no through entry; NULL (counted, with the reason)
 * when refused. */
static struct fhc *connect_one(const struct opts *o, unsigned room_no, unsigned link,
			       unsigned entry)
{
	char err[256];
	const struct entry *e = &o->entries[entry];
	struct fhc *c = dial(o, room_no, link, e->host, e->port, err, sizeof(err));

	if (!c) {
		__atomic_fetch_add(&join_failures, 1, __ATOMIC_RELAXED);
		fprintf(stderr, "funkhaus-bench: a participant could not join: %s\n", err);
		if (strstr(err, "cannot connect") && o->n_entries == 1)
			failure = "the SFU does not accept connections";
	}
	return c;
}

/* The next participant's slot, in the next room of the mix: a join thread makes its first
 * join. -1 when no slot is left. */
static int join_one(struct opts *o)
{
	static unsigned serial;

	if (n_parts == MAX_PARTS)
		return -1;
	if (room_fill == room_target) {
		room_target = next_room_size(&o->mix);
		room_fill = 0;
		rooms_used++;
	}
	struct part *p = &parts[n_parts];

	/* the slot is not visible to the other threads until n_parts grows past it */
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->link = next_link(&o->links);
	p->entry = serial++ % o->n_entries;
	p->room = rooms_used;
	p->back_at = -1;
	p->first_video_s = -1;
	p->node = -1;
	p->state = P_JOIN;
	__atomic_store_n(&n_parts, n_parts + 1, __ATOMIC_RELEASE);
	room_fill++;
	return 0;
}

/* A join thread's first join of slot p (its lock not held: the join blocks). */
static void first_join(const struct opts *o, struct part *p)
{
	struct fhc *c = connect_one(o, p->room, p->link, p->entry);
	double t = now_s();

	pthread_mutex_lock(&p->lock);
	if (!c) {
		p->state = P_FAILED;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->c = c;
	place(p, c);
	p->first_hops = p->hops;
	p->first_media_s = p->media_s;
	/* key frames of different people do not all fall on the same instant */
	p->frames = (unsigned)rand() % (3 * o->fps);
	p->joined = t;
	p->next_audio = p->next_frame = t;
	p->state = P_UP;
	pthread_mutex_unlock(&p->lock);
}

/* Participants whose first join went through (the others are counted as join failures). */
static unsigned joined_parts(void)
{
	unsigned n = 0, all = __atomic_load_n(&n_parts, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < all; i++) {
		int st = __atomic_load_n(&parts[i].state, __ATOMIC_ACQUIRE);

		n += st != P_FAILED && st != P_JOIN && st != P_JOINING;
	}
	return n;
}

/* Sends what is due and receives what arrived for one participant. */
static void drive_one(const struct opts *o, struct part *p, uint64_t *sent, uint64_t *bytes_out)
{
	uint8_t buf[1200];
	double t = now_s();
	unsigned frame_bytes = o->video_kbps * 1000 / 8 / o->fps;

	fhc_poll(p->c, 0);
	while (p->next_audio <= t) {
		fhc_stamp(buf);
		memset(buf + FHC_STAMP_LEN, 0xa5, 100 - FHC_STAMP_LEN);
		if (fhc_send(p->c, false, buf, 100, false) == 0) {
			(*sent)++;
			*bytes_out += 100;
		}
		p->next_audio += 0.02;
	}
	while (o->simulcast && p->next_frame <= t) {
		for (unsigned k = 0; k < FHC_SIM_LAYERS; k++) {
			int n = fhc_send_frame(p->c, k, sim_kbps[k] * 1000 / 8 / SIM_FPS);

			if (n > 0) {
				*sent += (uint64_t)n;
				*bytes_out += sim_kbps[k] * 1000 / 8 / SIM_FPS;
			}
		}
		p->frames++;
		p->next_frame += 1.0 / SIM_FPS;
	}
	while (!o->simulcast && p->next_frame <= t) {
		unsigned size = frame_bytes * (p->frames % (3 * o->fps) == 0 ? 5 : 1);

		while (size > 0) {
			unsigned len = size > 1200 ? 1200 : size;

			if (len < FHC_STAMP_LEN)
				len = FHC_STAMP_LEN;
			fhc_stamp(buf);
			memset(buf + FHC_STAMP_LEN, 0x3c, len - FHC_STAMP_LEN);
			size -= len < size ? len : size;
			if (fhc_send(p->c, true, buf, len, size == 0) == 0) {
				(*sent)++;
				*bytes_out += len;
			}
		}
		p->frames++;
		p->next_frame += 1.0 / o->fps;
	}
	if (p->first_video_s < 0) {
		struct fhc_stream_stats st[FHC_MAX_RECV];
		unsigned n = fhc_streams(p->c, st, FHC_MAX_RECV);

		for (unsigned k = 0; k < n; k++)
			if (st[k].video && st[k].packets)
				p->first_video_s = (double)st[k].first_us / 1e6 - p->joined;
	}
	if (p->affected && p->back_at < 0) { /* rejoined: the first media from anyone */
		struct fhc_stream_stats st[FHC_MAX_RECV];
		unsigned n = fhc_streams(p->c, st, FHC_MAX_RECV);

		for (unsigned k = 0; k < n; k++)
			if (st[k].packets && (p->back_at < 0 || st[k].first_us / 1e6 < p->back_at))
				p->back_at = (double)st[k].first_us / 1e6;
	}
}

/* The connection is gone for good: the signalling broke and taking it back failed (the node
 * is not there) or was refused. A control-plane restart alone is resumed before this. */
static bool connection_lost(const struct fhc *c)
{
	return !fhc_signalling_open(c) &&
	       (fhc_resume_refused(c) || fhc_resume_tries_failed(c) >= 2);
}

static void add_part(struct totals *t, const struct part *p);
static struct totals retired; /* what participants who left had received */

/* Backoff after the k-th failed try (1, 2, ...): 1, 2, 4, 4 ... s; the first try comes 0.5 s
 * after the loss, as the web client's. */
static double rejoin_delay(unsigned failed)
{
	double d = 0.5;

	for (unsigned i = 0; i < failed && d < 4; i++)
		d *= 2;
	return d < 4 ? d : 4;
}

/* With the part's lock held: its connection broke; with --rejoin it waits for a rejoin thread. */
static void on_lost(const struct opts *o, struct part *p)
{
	struct fhc_stream_stats st[FHC_MAX_RECV];
	unsigned n = fhc_streams(p->c, st, FHC_MAX_RECV);
	double last = p->joined;

	p->drops++;
	if (!o->rejoin)
		return;
	for (unsigned k = 0; k < n; k++)
		if (st[k].packets && (double)st[k].last_us / 1e6 > last)
			last = (double)st[k].last_us / 1e6;
	p->lost_at = last;
	p->urls[0] = o->entries[p->entry];
	p->n_urls = 1;
	p->next_url = 0;
	p->refused = 0;
	for (unsigned i = 0; i < 8 && fhc_peer_node(p->c, i); i++) {
		struct entry e;
		bool dup = false;

		if (fhc_parse_url(fhc_peer_node(p->c, i), 443, e.host, sizeof(e.host), &e.port) < 0)
			continue;
		for (unsigned k = 0; k < p->n_urls && !dup; k++)
			dup = p->urls[k].port == e.port && !strcmp(p->urls[k].host, e.host);
		if (!dup)
			p->urls[p->n_urls++] = e;
	}
	pthread_mutex_lock(&retired_lock);
	add_part(&retired, p);
	pthread_mutex_unlock(&retired_lock);
	fhc_close(p->c);
	p->c = NULL;
	p->affected = true;
	p->back_at = -1;
	p->tries = 0;
	p->next_try = now_s() + 0.5;
	__atomic_store_n(&p->state, P_WAIT, __ATOMIC_RELEASE);
}

struct driver {
	const struct opts *o;
	unsigned first, stride;
	pthread_t tid;
};

/* A join thread: makes the first join of a new participant's slot, or, with --rejoin, takes a
 * participant whose connection broke once its next try is due and joins its room again, at
 * its entry first, then at the nodes its last "joined" named, in turn. A join blocks this
 * thread only: the driving threads keep everyone's media going, and several joins are under
 * way at once (the join rate does not wait for each round trip). */
static void *join_thread(void *arg)
{
	const struct opts *o = arg;

	while (!threads_stop) {
		unsigned n = __atomic_load_n(&n_parts, __ATOMIC_ACQUIRE);
		struct part *p = NULL;
		double t = now_s();

		for (unsigned i = 0; i < n && !p; i++) {
			struct part *q = &parts[i];

			if (__atomic_load_n(&q->state, __ATOMIC_ACQUIRE) != P_JOIN)
				continue;
			pthread_mutex_lock(&q->lock);
			if (q->state == P_JOIN) {
				q->state = P_JOINING;
				p = q;
			}
			pthread_mutex_unlock(&q->lock);
		}
		if (p) {
			first_join(o, p);
			continue;
		}
		for (unsigned i = 0; i < n && !p && o->rejoin; i++) {
			struct part *q = &parts[i];

			if (__atomic_load_n(&q->state, __ATOMIC_ACQUIRE) != P_WAIT)
				continue;
			pthread_mutex_lock(&q->lock);
			if (q->state == P_WAIT && q->next_try <= t) {
				q->state = P_BUSY;
				p = q;
			}
			pthread_mutex_unlock(&q->lock);
		}
		if (!p) {
			usleep(5000);
			continue;
		}
		/* the URL of this try: the entry, then each node "joined" named, round again,
		 * passing over those that refused a connection (while any other is left) */
		char err[256];
		unsigned k = p->next_url % p->n_urls;

		if ((p->refused & ((1u << p->n_urls) - 1)) == (1u << p->n_urls) - 1)
			p->refused = 0;
		while (p->refused & (1u << k))
			k = (k + 1) % p->n_urls;
		p->next_url = k + 1;
		struct fhc *c = dial(o, p->room, p->link, p->urls[k].host, p->urls[k].port, err,
				     sizeof(err));
		double now = now_s();

		pthread_mutex_lock(&p->lock);
		p->tries++;
		/* "cannot connect to HOST:PORT": the entry, or where a redirect sent it */
		const char *cc = c ? NULL : strstr(err, "cannot connect to ");

		for (unsigned i = 0; cc && i < p->n_urls; i++) {
			char hp[96];

			snprintf(hp, sizeof(hp), "%s:%u", p->urls[i].host, p->urls[i].port);
			if (!strcmp(cc + 18, hp))
				p->refused |= (uint16_t)(1u << i);
		}
		if (c) {
			p->c = c;
			place(p, c);
			p->joined = now;
			p->next_audio = p->next_frame = now;
			p->state = P_UP;
		} else {
			p->tries_failed++;
			__atomic_fetch_add(&rejoin_tries_failed, 1, __ATOMIC_RELAXED);
			p->next_try = now + rejoin_delay(p->tries_failed);
			p->state = p->tries_failed >= o->rejoin_tries ? P_GAVE_UP : P_WAIT;
			if (p->state == P_GAVE_UP)
				fprintf(stderr,
					"funkhaus-bench: a participant gave up rejoining: %s\n",
					err);
		}
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* A driving thread: its share of the participants, round and round until told to stop. */
static void *drive_thread(void *arg)
{
	struct driver *d = arg;

	while (!threads_stop) {
		uint64_t sent = 0, bytes = 0;
		unsigned n = __atomic_load_n(&n_parts, __ATOMIC_ACQUIRE);

		for (unsigned i = d->first; i < n; i += d->stride) {
			struct part *p = &parts[i];

			pthread_mutex_lock(&p->lock);
			if (p->c) {
				bool was_lost = connection_lost(p->c);

				drive_one(d->o, p, &sent, &bytes);
				if (!was_lost && connection_lost(p->c))
					on_lost(d->o, p);
			}
			pthread_mutex_unlock(&p->lock);
		}
		__atomic_fetch_add(&sent_packets, sent, __ATOMIC_RELAXED);
		__atomic_fetch_add(&sent_bytes, bytes, __ATOMIC_RELAXED);
		usleep(1000);
	}
	return NULL;
}

static void add_part(struct totals *t, const struct part *p)
{
	struct fhc_stream_stats st[FHC_MAX_RECV];
	unsigned n = fhc_streams(p->c, st, FHC_MAX_RECV);
	const struct fhc_latency *l = fhc_latency(p->c);

	for (unsigned k = 0; k < n; k++) {
		t->received += st[k].packets;
		t->expected += fhc_expected(&st[k]);
		t->bytes_in += st[k].bytes;
		if (st[k].jitter_us > t->jitter_max_us)
			t->jitter_max_us = st[k].jitter_us;
		t->streams++;
	}
	t->lat_count += l->count;
	t->lat_sum += l->sum_us;
	if (l->max_us > t->lat_max)
		t->lat_max = l->max_us;
	for (int b = 0; b < FHC_LAT_BUCKETS; b++)
		t->hist[b] += l->hist[b];
}

static void collect(struct totals *t)
{
	pthread_mutex_lock(&retired_lock);
	*t = retired;
	pthread_mutex_unlock(&retired_lock);
	for (unsigned i = 0; i < n_parts; i++) {
		pthread_mutex_lock(&parts[i].lock);
		if (parts[i].c)
			add_part(t, &parts[i]);
		pthread_mutex_unlock(&parts[i].lock);
	}
}

/* Churn: one participant leaves (its counts stay in the totals), another takes its place. */
static unsigned churned;

static void churn_one(const struct opts *o)
{
	if (!n_parts)
		return;
	unsigned i = (unsigned)rand() % n_parts;
	struct part *p = &parts[i];

	pthread_mutex_lock(&p->lock);
	if (!p->c) { /* waiting for a rejoin */
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_lock(&retired_lock);
	add_part(&retired, p);
	pthread_mutex_unlock(&retired_lock);
	fhc_close(p->c);
	p->c = NULL;
	pthread_mutex_unlock(&p->lock);
	churned++;
	struct fhc *c = connect_one(o, p->room, p->link, p->entry);

	if (!c)
		return;
	double t = now_s();

	pthread_mutex_lock(&p->lock);
	p->c = c;
	place(p, c);
	p->joined = t;
	p->next_audio = p->next_frame = t;
	p->first_video_s = -1;
	pthread_mutex_unlock(&p->lock);
}

/* Rooms and participants on each node, as the participants' connections say. */
struct placement {
	unsigned rooms[MAX_NODES], parts[MAX_NODES];
	unsigned split; /* rooms with participants on more than one node */
	unsigned n;	/* nodes known */
};

static void placement(struct placement *pl)
{
	static uint16_t on[MAX_PARTS + 1]; /* per room: a bit per node */
	unsigned max_room = 0;

	memset(pl, 0, sizeof(*pl));
	memset(on, 0, sizeof(on));
	for (unsigned i = 0; i < n_parts; i++) {
		struct part *p = &parts[i];

		pthread_mutex_lock(&p->lock);
		if (p->c && p->node >= 0 && p->room <= MAX_PARTS) {
			on[p->room] |= (uint16_t)(1u << p->node);
			pl->parts[p->node]++;
			max_room = p->room > max_room ? p->room : max_room;
		}
		pthread_mutex_unlock(&p->lock);
	}
	for (unsigned r = 0; r <= max_room; r++) {
		unsigned bits = 0;

		for (unsigned k = 0; k < MAX_NODES; k++)
			if (on[r] & (1u << k)) {
				pl->rooms[k]++;
				bits++;
			}
		pl->split += bits > 1;
	}
	pl->n = __atomic_load_n(&n_nodes, __ATOMIC_ACQUIRE);
}

static struct placement placed; /* once everyone joined */

struct spread {
	unsigned n;
	double mean, p50, p95, max;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Mean, median, 95th percentile and maximum of v (sorted in place). */
static struct spread spread_of(double *v, unsigned n)
{
	struct spread s = {.n = n};

	if (!n)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	for (unsigned i = 0; i < n; i++)
		s.mean += v[i] / n;
	s.p50 = v[n / 2];
	s.p95 = v[(n * 95 + 99) / 100 - 1];
	s.max = v[n - 1];
	return s;
}

static void print_spread(const char *what, const struct spread *s)
{
	printf("%-28s n=%u mean %.3f s, p50 %.3f s, p95 %.3f s, max %.3f s\n", what, s->n, s->mean,
	       s->p50, s->p95, s->max);
}

static void json_spread(FILE *f, const char *key, const struct spread *s, const char *tail)
{
	fprintf(f,
		"\"%s\": {\"n\": %u, \"mean\": %.4f, \"p50\": %.4f, \"p95\": %.4f, \"max\": "
		"%.4f}%s",
		key, s->n, s->mean, s->p50, s->p95, s->max, tail);
}

/* The cluster's figures: where rooms and participants are, joins through a redirect against
 * direct ones, and (--rejoin) how the participants of a node that went away came back. */
static void cluster_report(const struct opts *o, FILE *json)
{
	static double direct[MAX_PARTS], redirected[MAX_PARTS], gaps[MAX_PARTS];
	unsigned nd = 0, nr = 0, ng = 0, affected = 0, gave_up = 0, waiting = 0, lost = 0;
	double first_loss = -1, last_back = -1;
	struct placement now;

	placement(&now);
	for (unsigned i = 0; i < n_parts; i++) {
		const struct part *p = &parts[i];

		if (p->first_media_s > 0) {
			if (p->first_hops)
				redirected[nr++] = p->first_media_s;
			else
				direct[nd++] = p->first_media_s;
		}
		lost += p->drops > 0;
		if (!p->affected)
			continue;
		affected++;
		gave_up += p->state == P_GAVE_UP;
		waiting += p->state == P_WAIT || p->state == P_BUSY || p->back_at < 0;
		if (first_loss < 0 || p->lost_at < first_loss)
			first_loss = p->lost_at;
		if (p->back_at >= 0) {
			gaps[ng++] = p->back_at - p->lost_at;
			last_back = p->back_at > last_back ? p->back_at : last_back;
		}
	}
	struct spread sd = spread_of(direct, nd), sr = spread_of(redirected, nr);
	struct spread sg = spread_of(gaps, ng);
	/* every affected participant back: from the first loss to the last one's media */
	double all_back = affected && ng == affected ? last_back - first_loss : -1;

	if (!json) {
		if (o->n_entries < 2 && !redirects && !o->rejoin)
			return;
		printf("%-28s %u (%u redirects followed)\n", "entries", o->n_entries, redirects);
		for (unsigned k = 0; k < now.n; k++)
			printf("  node %-8s %-22s %4u rooms %5u participants (once joined: %u "
			       "rooms, "
			       "%u participants)\n",
			       nodes[k].id[0] ? nodes[k].id : "?", nodes[k].where, now.rooms[k],
			       now.parts[k], placed.rooms[k], placed.parts[k]);
		printf("%-28s %u\n", "rooms on several nodes", now.split);
		print_spread("join to media, direct", &sd);
		print_spread("join to media, redirected", &sr);
		printf("%-28s %u participants\n", "connections lost", lost);
		if (o->rejoin) {
			printf("%-28s %u affected, %u back, %u not back (%u gave up), %u tries "
			       "failed\n",
			       "rejoin", affected, ng, affected - ng, gave_up, rejoin_tries_failed);
			print_spread("  loss to media again", &sg);
			if (all_back >= 0)
				printf("%-28s %.2f s after the first loss\n", "  everyone back",
				       all_back);
		}
		(void)waiting;
		return;
	}
	fprintf(json, "  \"cluster\": {\"entries\": %u, \"redirects\": %u, \"nodes\": [",
		o->n_entries, redirects);
	for (unsigned k = 0; k < now.n; k++)
		fprintf(json,
			"%s\n    {\"id\": \"%s\", \"where\": \"%s\", \"rooms\": %u, "
			"\"participants\": %u, \"rooms_joined\": %u, \"participants_joined\": %u}",
			k ? "," : "", nodes[k].id, nodes[k].where, now.rooms[k], now.parts[k],
			placed.rooms[k], placed.parts[k]);
	fprintf(json, "\n  ],\n    \"rooms_split\": %u, \"rooms_split_joined\": %u,\n    ",
		now.split, placed.split);
	json_spread(json, "join_direct_s", &sd, ",\n    ");
	json_spread(json, "join_redirected_s", &sr, ",\n    ");
	fprintf(json,
		"\"connections_lost\": %u,\n    \"rejoin\": {\"enabled\": %s, \"affected\": %u, "
		"\"back\": %u, \"gave_up\": %u, \"tries_failed\": %u, \"all_back_s\": %.3f, ",
		lost, o->rejoin ? "true" : "false", affected, ng, gave_up, rejoin_tries_failed,
		all_back);
	json_spread(json, "gap_s", &sg, "}},\n");
}

/* Loss and p99 latency between two snapshots. */
static void window(const struct totals *a, const struct totals *b, double *loss_pct, double *p99_ms)
{
	uint64_t exp = b->expected - a->expected, rec = b->received - a->received;
	uint64_t cnt = b->lat_count - a->lat_count, acc = 0;

	*loss_pct = exp > rec && exp ? 100.0 * (double)(exp - rec) / (double)exp : 0;
	*p99_ms = 0;
	for (int i = 0; i < FHC_LAT_BUCKETS && cnt; i++) {
		acc += b->hist[i] - a->hist[i];
		if (acc * 100 >= cnt * 99) {
			*p99_ms = i + 1;
			break;
		}
	}
}

struct sfu {
	bool ok;
	uint64_t busy, total, fwd, drops;
	double cpu_s; /* user + system seconds of the SFU's processes, -1 when unknown */

	unsigned workers;
	double cpu_each[8]; /* cpu_s per process of -C, in its order */
};

/* utime + stime of a process and all its threads, in seconds; -1 when it is gone. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);

	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces: fields after its closing parenthesis */
	char *p = strrchr(buf, ')');

	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void sfu_read(const struct opts *o, struct sfu *s)
{
	const char *instance = o->instance;
	struct fh_region r;
	char name[80];

	memset(s, 0, sizeof(*s));
	s->cpu_s = o->n_pids ? 0 : -1;
	for (unsigned i = 0; i < o->n_pids; i++) {
		double v = proc_cpu_s(o->pids[i]);

		s->cpu_each[i] = v;
		s->cpu_s = v < 0 || s->cpu_s < 0 ? -1 : s->cpu_s + v;
	}
	if (!instance)
		return;
	snprintf(name, sizeof(name), "/funkhaus-%s", instance);
	if (fh_region_peek(&r, name) < 0)
		return;
	s->ok = true;
	s->workers = r.hdr->n_workers;
	for (unsigned w = 0; w < r.hdr->n_workers; w++) {
		const struct fh_counters *c = fh_region_counters(&r, w);

		s->busy += c->busy_cycles;
		s->total += c->total_cycles;
		s->fwd += c->ctr[FH_CTR_rtp_forwarded];
		for (int d = 0; d < FH_DROP_MAX; d++)
			s->drops += c->drop[d];
	}
	fh_region_close(&r);
}

struct step {
	unsigned participants;
	double loss_pct, p99_ms, mbit_in, mbit_out, sfu_busy_pct;
	double sfu_cpu_s;  /* CPU seconds the SFU's processes used in the window, -1 unknown */
	uint64_t received; /* packets the participants received in the window */
	double cpu_us_per_packet; /* sfu_cpu_s per received packet, in µs; -1 unknown */
	unsigned join_failures;
	bool good;

	double secs;		/* the window's length */
	double sfu_cpu_each[8]; /* sfu_cpu_s per process of -C */
	/* the workers' busy cycles in the window in seconds, summed (each worker's TSC rate is
	 * its total cycles over the window's length); -1 unknown */
	double sfu_busy_s;
	uint64_t forwarded; /* copies the workers forwarded in the window */
};

static struct step steps[256];
static unsigned n_steps;

static void settle(const struct opts *o);

/* Holds the current load for secs seconds; prints a line a second; returns the window. */
static struct step hold(const struct opts *o, double secs, double t_start, unsigned failures_before,
			double churn_rate)
{
	struct totals a, b;
	struct sfu sa, sb;
	double t0 = now_s(), next_print = t0 + 1, last_rx_t = t0, next_churn = t0 + 1;
	uint64_t last_rx = 0;
	bool settling = o->simulcast || o->links.n;

	collect(&a);
	sfu_read(o, &sa);
	uint64_t bytes0 = __atomic_load_n(&sent_bytes, __ATOMIC_RELAXED);

	while (!interrupted && now_s() < t0 + secs) {
		usleep(5000);
		if (settling && now_s() >= t0 + secs / 2) {
			settle(o);
			settling = false;
		}
		if (churn_rate > 0 && now_s() >= next_churn) {
			churn_one(o);
			next_churn += 1.0 / churn_rate;
		}
		if (now_s() >= next_print) {
			struct totals m;
			double loss, p99;

			collect(&m);
			window(&a, &m, &loss, &p99);
			if (m.received != last_rx) {
				last_rx = m.received;
				last_rx_t = now_s();
			} else if (n_parts > 1 && now_s() - last_rx_t > 3) {
				failure = "the SFU stopped forwarding (nothing received for 3 s)";
				break;
			}
			fprintf(stderr,
				"\r t=%4.0fs participants=%u rooms=%u in=%.1f Mbit/s loss=%.2f%% "
				"p99=%.0fms join failures=%u   ",
				now_s() - t_start, joined_parts(), rooms_used,
				(double)(m.bytes_in - a.bytes_in) * 8 / 1e6 / (now_s() - t0), loss,
				p99, join_failures);
			next_print += 1;
		}
	}
	fprintf(stderr, "\n");
	double dt = now_s() - t0;

	collect(&b);
	sfu_read(o, &sb);
	struct step s = {.participants = joined_parts(),
			 .join_failures = join_failures - failures_before};

	window(&a, &b, &s.loss_pct, &s.p99_ms);
	s.mbit_in = (double)(b.bytes_in - a.bytes_in) * 8 / 1e6 / dt;
	s.mbit_out =
		(double)(__atomic_load_n(&sent_bytes, __ATOMIC_RELAXED) - bytes0) * 8 / 1e6 / dt;
	s.sfu_busy_pct = sb.ok && sb.total > sa.total ? 100.0 * (double)(sb.busy - sa.busy) /
								(double)(sb.total - sa.total)
						      : -1;
	s.received = b.received - a.received;
	s.secs = dt;
	s.sfu_busy_s = sb.ok && sb.total > sa.total
			       ? (double)(sb.busy - sa.busy) / (double)(sb.total - sa.total) * dt *
					 sb.workers
			       : -1;
	s.forwarded = sb.ok ? sb.fwd - sa.fwd : 0;
	for (unsigned i = 0; i < o->n_pids; i++)
		s.sfu_cpu_each[i] = sa.cpu_each[i] >= 0 && sb.cpu_each[i] >= 0
					    ? sb.cpu_each[i] - sa.cpu_each[i]
					    : -1;
	s.sfu_cpu_s = sa.cpu_s >= 0 && sb.cpu_s >= 0 ? sb.cpu_s - sa.cpu_s : -1;
	s.cpu_us_per_packet =
		s.sfu_cpu_s >= 0 && s.received ? s.sfu_cpu_s * 1e6 / (double)s.received : -1;
	s.good = !failure && s.join_failures == 0 && s.loss_pct <= o->max_loss &&
		 s.p99_ms <= o->max_p99_ms;
	return s;
}

/* Whether a first join is still due or under way. */
static bool joins_pending(void)
{
	unsigned all = __atomic_load_n(&n_parts, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < all; i++) {
		int st = __atomic_load_n(&parts[i].state, __ATOMIC_ACQUIRE);

		if (st == P_JOIN || st == P_JOINING)
			return true;
	}
	return false;
}

/* n new participants, one every 1/rate s; back once each of their joins ended (each is
 * bounded by fhc's timeouts; here by 60 s more at most). */
static void add_participants(struct opts *o, unsigned n, double t_start)
{
	double next = now_s();

	for (unsigned i = 0; i < n && !interrupted && !failure; i++) {
		if (join_one(o) < 0)
			break;
		next += 1.0 / o->join_rate;
		/* the driving threads keep everyone's media going while people arrive */
		while (now_s() < next)
			usleep(1000);
		fprintf(stderr, "\r joining: %u of %u in this step, %u in all (t=%.0fs)   ", i + 1,
			n, joined_parts(), now_s() - t_start);
	}
	for (double end = now_s() + 60; joins_pending() && now_s() < end && !interrupted;)
		usleep(10000);
	fprintf(stderr, "\r joined: %u in all (t=%.0fs)%20s\n", joined_parts(), now_s() - t_start,
		"");
}

/* What the receivers of one link class got. */
struct link_class {
	unsigned parts, vstreams;
	double bps_sum, bps_min;     /* delivered per participant, over its received streams */
	uint64_t expected, received; /* packets of its streams */
	uint64_t link_passed, link_dropped;
	double frozen_sum, frozen_max; /* per video stream, share of its time */
	uint64_t layer_us[FHC_SIM_LAYERS];
	uint64_t twcc_sent, twcc_received; /* as receivers, as publishers */
	/* for the settled window: totals to take differences of, and the layer each stream's
	 * last complete frame came on */
	double bits, frozen_us;
	unsigned layer_now[FHC_SIM_LAYERS];
};

/* The link classes as they were half-way through the last hold: the report's "settled" figures
 * are what happened since, once the estimates have had time to find the links. */
static struct link_class settled[MAX_LINKS];
static double settled_t;

static void link_class(const struct opts *o, unsigned k, struct link_class *lc)
{
	uint64_t now = fhc_now_us();

	memset(lc, 0, sizeof(*lc));
	lc->bps_min = -1;
	for (unsigned i = 0; i < n_parts; i++) {
		struct part *p = &parts[i];
		struct fhc_stream_stats st[FHC_MAX_RECV];

		pthread_mutex_lock(&p->lock);
		if (!p->c || (o->links.n && p->link != k)) {
			pthread_mutex_unlock(&p->lock);
			continue;
		}
		unsigned n = fhc_streams(p->c, st, FHC_MAX_RECV);
		const struct fhc_sim_link *l = fhc_link(p->c);
		double secs = now_s() - p->joined, bits = 0;

		lc->link_passed += l->passed;
		lc->link_dropped += l->dropped;
		lc->twcc_sent += fhc_twcc_sent(p->c);
		lc->twcc_received += fhc_twcc_received(p->c, NULL);
		pthread_mutex_unlock(&p->lock);
		for (unsigned j = 0; j < n; j++) {
			bits += (double)st[j].wire_bytes * 8;
			lc->expected += fhc_expected(&st[j]);
			lc->received += st[j].packets;
			if (!st[j].video || !st[j].fr.started)
				continue;
			uint64_t span = now > st[j].fr.start_us ? now - st[j].fr.start_us : 0;
			double fz = span ? (double)fhc_sim_frames_frozen(&st[j].fr, now) / span : 0;

			lc->vstreams++;
			lc->frozen_sum += fz;
			lc->frozen_us += (double)fhc_sim_frames_frozen(&st[j].fr, now);
			if (st[j].fr.last_layer >= 0 && st[j].fr.last_layer < FHC_SIM_LAYERS)
				lc->layer_now[st[j].fr.last_layer]++;
			if (fz > lc->frozen_max)
				lc->frozen_max = fz;
			for (int q = 0; q < FHC_SIM_LAYERS; q++)
				lc->layer_us[q] += st[j].fr.layer_us[q];
		}
		double bps = secs > 0 ? bits / secs : 0;

		lc->parts++;
		lc->bits += bits;
		lc->bps_sum += bps;
		if (lc->bps_min < 0 || bps < lc->bps_min)
			lc->bps_min = bps;
	}
	if (lc->bps_min < 0)
		lc->bps_min = 0;
}

static double pct(uint64_t part, uint64_t all)
{
	return all ? 100.0 * (double)part / (double)all : 0;
}

static void settle(const struct opts *o)
{
	for (unsigned k = 0; k < (o->links.n ? o->links.n : 1); k++)
		link_class(o, k, &settled[k]);
	settled_t = now_s();
}

/* Since settle(): what each participant got, loss, link drops, frozen share per stream, layer
 * shares. */
struct settled_fig {
	double secs, bps, loss, drops, frozen, layer[FHC_SIM_LAYERS];
};

static bool settled_figures(const struct link_class *lc, unsigned k, struct settled_fig *f)
{
	const struct link_class *s = &settled[k];
	uint64_t exp = lc->expected - s->expected, rec = lc->received - s->received, layers = 0;

	memset(f, 0, sizeof(*f));
	f->secs = now_s() - settled_t;
	if (settled_t <= 0 || f->secs <= 0 || !lc->parts || lc->expected < s->expected)
		return false;
	rec = rec < exp ? rec : exp;
	f->bps = (lc->bits - s->bits) / lc->parts / f->secs;
	f->loss = pct(exp - rec, exp);
	f->drops = pct(lc->link_dropped - s->link_dropped,
		       lc->link_passed + lc->link_dropped - s->link_passed - s->link_dropped);
	f->frozen = lc->vstreams
			    ? 100 * (lc->frozen_us - s->frozen_us) / 1e6 / f->secs / lc->vstreams
			    : 0;
	for (int q = 0; q < FHC_SIM_LAYERS; q++)
		layers += lc->layer_us[q] - s->layer_us[q];
	for (int q = 0; q < FHC_SIM_LAYERS; q++)
		f->layer[q] = pct(lc->layer_us[q] - s->layer_us[q], layers);
	return true;
}

/* Per link class: what each participant got against its link, loss, freezes and layers. */
static void link_report(const struct opts *o, FILE *json)
{
	unsigned n = o->links.n ? o->links.n : 1;

	if (!json)
		printf("%-28s %s\n", "links (receivers)", o->links.n ? o->links_text : "unlimited");
	else
		fprintf(json, "  \"simulcast\": %s,\n  \"links\": [",
			o->simulcast ? "true" : "false");
	for (unsigned k = 0; k < n; k++) {
		struct link_class lc;
		struct settled_fig sf;
		uint64_t layers = 0, bps = o->links.n ? o->links.bps[k] : 0;
		const char *name = o->links.n ? o->links.name[k] : "inf";

		link_class(o, k, &lc);
		for (int q = 0; q < FHC_SIM_LAYERS; q++)
			layers += lc.layer_us[q];
		double mean = lc.parts ? lc.bps_sum / lc.parts : 0;
		uint64_t exp = lc.expected, rec = lc.received < exp ? lc.received : exp;

		if (!json) {
			char rate[32] = "unlimited";

			if (bps)
				snprintf(rate, sizeof(rate), "%.3f Mbit/s", (double)bps / 1e6);
			printf("  %-6s %3u participants, link %s: delivered %.3f Mbit/s each "
			       "(min %.3f",
			       name, lc.parts, rate, mean / 1e6, lc.bps_min / 1e6);
			if (bps)
				printf(", %.0f %% of the link", 100 * mean / (double)bps);
			printf("), loss %.2f %% (link drops %.2f %%)\n", pct(exp - rec, exp),
			       pct(lc.link_dropped, lc.link_passed + lc.link_dropped));
			printf("         %u video streams: frozen %.1f %% of the time (worst %.1f "
			       "%%), "
			       "layers l %.0f %% m %.0f %% h %.0f %%, %llu TWCC feedback sent\n",
			       lc.vstreams, lc.vstreams ? 100 * lc.frozen_sum / lc.vstreams : 0,
			       100 * lc.frozen_max, pct(lc.layer_us[0], layers),
			       pct(lc.layer_us[1], layers), pct(lc.layer_us[2], layers),
			       (unsigned long long)lc.twcc_sent);
			if (settled_figures(&lc, k, &sf)) {
				printf("         last %.0f s: delivered %.3f Mbit/s each", sf.secs,
				       sf.bps / 1e6);
				if (bps)
					printf(" (%.0f %% of the link)",
					       100 * sf.bps / (double)bps);
				printf(", loss %.2f %% (link drops %.2f %%), frozen %.1f %%, "
				       "layers l "
				       "%.0f %% m %.0f %% h %.0f %%\n",
				       sf.loss, sf.drops, sf.frozen, sf.layer[0], sf.layer[1],
				       sf.layer[2]);
			}
			printf("         at the end: streams on l %u, m %u, h %u; %llu TWCC "
			       "feedback "
			       "received as publishers\n",
			       lc.layer_now[0], lc.layer_now[1], lc.layer_now[2],
			       (unsigned long long)lc.twcc_received);
			continue;
		}
		fprintf(json,
			"%s\n    {\"class\": \"%s\", \"link_bps\": %llu, \"participants\": %u, "
			"\"delivered_bps_per_participant\": {\"mean\": %.0f, \"min\": %.0f}, "
			"\"delivered_over_link\": %.4f, \"loss_pct\": %.4f, \"link_drop_pct\": "
			"%.4f, "
			"\"video_streams\": %u, \"frozen_pct_per_stream\": {\"mean\": %.3f, "
			"\"max\": %.3f}, \"layer_share_pct\": [%.2f, %.2f, %.2f], "
			"\"twcc_feedback_sent\": %llu",
			k ? "," : "", name, (unsigned long long)bps, lc.parts, mean, lc.bps_min,
			bps ? mean / (double)bps : 0, pct(exp - rec, exp),
			pct(lc.link_dropped, lc.link_passed + lc.link_dropped), lc.vstreams,
			lc.vstreams ? 100 * lc.frozen_sum / lc.vstreams : 0, 100 * lc.frozen_max,
			pct(lc.layer_us[0], layers), pct(lc.layer_us[1], layers),
			pct(lc.layer_us[2], layers), (unsigned long long)lc.twcc_sent);
		fprintf(json, ", \"twcc_feedback_received\": %llu, \"layer_now\": [%u, %u, %u]",
			(unsigned long long)lc.twcc_received, lc.layer_now[0], lc.layer_now[1],
			lc.layer_now[2]);
		if (settled_figures(&lc, k, &sf))
			fprintf(json,
				", \"settled\": {\"seconds\": %.1f, "
				"\"delivered_bps_per_participant\": "
				"%.0f, \"delivered_over_link\": %.4f, \"loss_pct\": %.4f, "
				"\"link_drop_pct\": %.4f, \"frozen_pct_per_stream\": %.3f, "
				"\"layer_share_pct\": [%.2f, %.2f, %.2f]}",
				sf.secs, sf.bps, bps ? sf.bps / (double)bps : 0, sf.loss, sf.drops,
				sf.frozen, sf.layer[0], sf.layer[1], sf.layer[2]);
		fprintf(json, "}");
	}
	if (json)
		fprintf(json, "\n  ],\n");
}

static void report(const struct opts *o, unsigned capacity)
{
	struct totals t;
	double ttfv_sum = 0, ttfv_max = 0;
	unsigned ttfv_n = 0, silent = 0, resumed = 0, tries_failed = 0, no_signalling = 0;
	unsigned max_audio = 0, max_video = 0; /* streams one receiver got, the most */
	uint64_t gap_us = 0;

	const char *profile = "";

	collect(&t);
	for (unsigned i = 0; i < n_parts; i++) {
		if (!parts[i].c)
			continue;
		profile = fhc_srtp_profile(parts[i].c);
		resumed += fhc_resumes(parts[i].c);
		tries_failed += fhc_resume_tries_failed(parts[i].c);
		no_signalling += !fhc_signalling_open(parts[i].c);
		if (parts[i].first_video_s >= 0) {
			ttfv_sum += parts[i].first_video_s;
			ttfv_n++;
			if (parts[i].first_video_s > ttfv_max)
				ttfv_max = parts[i].first_video_s;
		}
		/* every remote stream in the room should have arrived, for everyone who has been
		 * there a few seconds (a newcomer's renegotiation may still be under way) */
		if (now_s() - parts[i].joined < 3)
			continue;
		struct fhc_stream_stats st[FHC_MAX_RECV];
		unsigned n = fhc_streams(parts[i].c, st, FHC_MAX_RECV), others = 0;

		for (unsigned j = 0; j < n_parts; j++)
			others += j != i && parts[j].room == parts[i].room && parts[j].c;
		/* Janus sends everyone; Funkhaus as many as the receive slots hold */
		unsigned pa = others, pv = others, want, got_a = 0, got_v = 0;

		if (!o->janus) {
			fhc_pool(parts[i].c, &pa, &pv);
			pa = pa < others ? pa : others;
			pv = pv < others ? pv : others;
		}
		want = pa + pv;
		for (unsigned k = 0; k < n; k++) {
			bool seen = false; /* a slot that carried several counts once */

			for (unsigned q = 0; q < k && !seen; q++)
				seen = st[q].ssrc == st[k].ssrc && st[q].packets > 0;
			if (st[k].packets > 0 && !seen)
				*(st[k].video ? &got_v : &got_a) += 1;
			if (st[k].video && st[k].max_gap_us > gap_us)
				gap_us = st[k].max_gap_us;
		}
		if (got_a + got_v < want)
			silent += want - got_a - got_v;
		if (got_a > max_audio)
			max_audio = got_a;
		if (got_v > max_video)
			max_video = got_v;
	}
	double loss = t.expected > t.received && t.expected
			      ? 100.0 * (double)(t.expected - t.received) / (double)t.expected
			      : 0;
	double p99 = 0;
	struct totals zero;

	memset(&zero, 0, sizeof(zero));
	window(&zero, &t, &loss, &p99);
	printf("\n%-28s %s\n", "SFU", o->janus ? "Janus VideoRoom" : "Funkhaus");
	printf("%-28s %s\n", "SRTP profile", profile[0] ? profile : "-");
	printf("%-28s %s\n", "mode", o->mode);
	printf("%-28s %u in %u rooms (mix %s)\n", "participants", joined_parts(), rooms_used,
	       o->mix_text);
	printf("%-28s %u\n", "join failures", join_failures);
	if (churned)
		printf("%-28s %u left and were replaced\n", "churn", churned);
	printf("%-28s %llu of %llu expected (loss %.3f %%)\n", "packets received",
	       (unsigned long long)t.received, (unsigned long long)t.expected, loss);
	printf("%-28s mean %.2f ms, p99 %.0f ms, max %.2f ms\n", "one-way latency",
	       t.lat_count ? (double)t.lat_sum / (double)t.lat_count / 1000 : 0, p99,
	       (double)t.lat_max / 1000);
	printf("%-28s %.2f ms (worst stream)\n", "jitter", t.jitter_max_us / 1000);
	printf("%-28s mean %.2f s, max %.2f s\n", "join to first video",
	       ttfv_n ? ttfv_sum / ttfv_n : 0, ttfv_max);
	printf("%-28s %u\n", "remote streams never received", silent);
	printf("%-28s %u audio, %u video\n", "streams per receiver, max", max_audio, max_video);
	printf("%-28s %.0f ms\n", "longest video gap", (double)gap_us / 1000);
	printf("%-28s %u resumed, %u reconnect tries failed, %u without it now\n", "signalling",
	       resumed, tries_failed, no_signalling);
	cluster_report(o, NULL);
	if (o->simulcast || o->links.n)
		link_report(o, NULL);
	if (!strcmp(o->mode, "ramp"))
		printf("%-28s %u participants\n", "capacity (last good step)", capacity);
	for (unsigned i = 0; i < n_steps; i++)
		printf("  step %2u: %4u participants  loss %6.3f %%  p99 %4.0f ms  in %7.1f Mbit/s "
		       " SFU busy %5.1f %%  SFU CPU %6.2f s = %6.2f µs/packet  %s\n",
		       i + 1, steps[i].participants, steps[i].loss_pct, steps[i].p99_ms,
		       steps[i].mbit_in, steps[i].sfu_busy_pct, steps[i].sfu_cpu_s,
		       steps[i].cpu_us_per_packet, steps[i].good ? "good" : "over");
	if (failure)
		printf("run ended early: %s\n", failure);
	if (!o->report)
		return;
	FILE *f = fopen(o->report, "w");

	if (!f) {
		fprintf(stderr, "funkhaus-bench: cannot write %s: %s\n", o->report,
			strerror(errno));
		return;
	}
	fprintf(f, "{\n  \"sfu\": \"%s\",\n  \"srtp\": \"%s\",\n", o->janus ? "janus" : "funkhaus",
		profile);
	fprintf(f,
		"  \"mode\": \"%s\",\n  \"mix\": \"%s\",\n  \"participants\": %u,\n  \"rooms\": "
		"%u,\n"
		"  \"join_failures\": %u,\n  \"packets_received\": %llu,\n"
		"  \"packets_expected\": %llu,\n  \"loss_pct\": %.4f,\n  \"latency_ms\": "
		"{\"mean\": %.3f, \"p99\": %.0f, \"max\": %.3f},\n  \"jitter_ms_max\": %.3f,\n"
		"  \"first_video_s\": {\"mean\": %.3f, \"max\": %.3f},\n"
		"  \"streams_never_received\": %u,\n  \"max_streams_per_receiver\": {\"audio\": "
		"%u, "
		"\"video\": %u},\n  \"churned\": %u,\n  \"capacity\": %u,\n"
		"  \"failure\": %s%s%s,\n",
		o->mode, o->mix_text, joined_parts(), rooms_used, join_failures,
		(unsigned long long)t.received, (unsigned long long)t.expected, loss,
		t.lat_count ? (double)t.lat_sum / (double)t.lat_count / 1000 : 0, p99,
		(double)t.lat_max / 1000, t.jitter_max_us / 1000, ttfv_n ? ttfv_sum / ttfv_n : 0,
		ttfv_max, silent, max_audio, max_video, churned, capacity, failure ? "\"" : "",
		failure ? failure : "null", failure ? "\"" : "");
	link_report(o, f);
	cluster_report(o, f);
	fprintf(f, "  \"steps\": [");
	for (unsigned i = 0; i < n_steps; i++) {
		fprintf(f,
			"%s\n    {\"participants\": %u, \"loss_pct\": %.4f, \"p99_ms\": %.0f, "
			"\"mbit_in\": %.3f, \"mbit_out\": %.3f, \"sfu_busy_pct\": %.1f, "
			"\"sfu_cpu_s\": %.3f, \"packets_received\": %llu, "
			"\"sfu_cpu_us_per_packet\": %.3f, \"join_failures\": %u, \"good\": %s, "
			"\"seconds\": %.3f, \"sfu_busy_s\": %.4f, \"sfu_forwarded\": %llu, "
			"\"sfu_cpu_s_each\": [",
			i ? "," : "", steps[i].participants, steps[i].loss_pct, steps[i].p99_ms,
			steps[i].mbit_in, steps[i].mbit_out, steps[i].sfu_busy_pct,
			steps[i].sfu_cpu_s, (unsigned long long)steps[i].received,
			steps[i].cpu_us_per_packet, steps[i].join_failures,
			steps[i].good ? "true" : "false", steps[i].secs, steps[i].sfu_busy_s,
			(unsigned long long)steps[i].forwarded);
		for (unsigned k = 0; k < o->n_pids; k++)
			fprintf(f, "%s%.3f", k ? ", " : "", steps[i].sfu_cpu_each[k]);
		fprintf(f, "]}");
	}
	fprintf(f, "\n  ]\n}\n");
	fclose(f);
}

/* One panel of the plot: a polyline of y over participants, with its axis labels. */
static void svg_panel(FILE *f, int x0, const char *title, const double *y, const double *x,
		      unsigned n)
{
	const int w = 300, h = 200, top = 40;
	double xmax = 1, ymax = 1; /* a flat 0 shows as 0 on a 0-1 axis */

	for (unsigned i = 0; i < n; i++) {
		if (x[i] > xmax)
			xmax = x[i];
		if (y[i] > ymax)
			ymax = y[i];
	}
	ymax *= 1.1;
	fprintf(f, "<g transform=\"translate(%d,0)\">\n", x0);
	fprintf(f, "<text x=\"%d\" y=\"25\" font-size=\"14\" text-anchor=\"middle\">%s</text>\n",
		w / 2, title);
	fprintf(f,
		"<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
		"stroke=\"#888\"/>\n",
		top, w, h);
	fprintf(f, "<text x=\"-4\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.3g</text>\n",
		top + 10, ymax);
	fprintf(f, "<text x=\"-4\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">0</text>\n",
		top + h);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.0f</text>\n", w,
		top + h + 15, xmax);
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">"
		"participants</text>\n",
		w / 2, top + h + 30);
	fprintf(f, "<polyline fill=\"none\" stroke=\"#0b5d8c\" stroke-width=\"2\" points=\"");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%.1f,%.1f ", x[i] / xmax * w, top + h - y[i] / ymax * h);
	fprintf(f, "\"/>\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#0b5d8c\"/>\n",
			x[i] / xmax * w, top + h - y[i] / ymax * h);
	fprintf(f, "</g>\n");
}

/* participants against loss, p99 latency and SFU CPU, for the planner's slides */
static void plot(const char *path)
{
	double x[256], loss[256], p99[256], cpu[256];
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "funkhaus-bench: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	for (unsigned i = 0; i < n_steps; i++) {
		x[i] = steps[i].participants;
		loss[i] = steps[i].loss_pct;
		p99[i] = steps[i].p99_ms;
		cpu[i] = steps[i].sfu_busy_pct > 0 ? steps[i].sfu_busy_pct : 0;
	}
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1150\" height=\"290\" "
		   "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
		   "fill=\"white\"/>\n");
	svg_panel(f, 50, "loss (%)", loss, x, n_steps);
	svg_panel(f, 430, "p99 one-way latency (ms)", p99, x, n_steps);
	svg_panel(f, 810, "SFU worker busy (%)", cpu, x, n_steps);
	fprintf(f, "</svg>\n");
	fclose(f);
}

/* -H: HOST[:PORT] or https://HOST:PORT entries, comma-separated; 0, or -1 with why. */
static int parse_entries(struct opts *o, char *why, size_t why_len)
{
	char buf[1024], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", o->host);
	o->n_entries = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct entry *e = &o->entries[o->n_entries];

		if (o->n_entries == MAX_ENTRIES) {
			snprintf(why, why_len, "at most %d entries", MAX_ENTRIES);
			return -1;
		}
		if (fhc_parse_url(t, (uint16_t)o->port, e->host, sizeof(e->host), &e->port) < 0) {
			snprintf(why, why_len, "'%s' is no HOST[:PORT] or https://HOST:PORT", t);
			return -1;
		}
		o->n_entries++;
	}
	if (!o->n_entries) {
		snprintf(why, why_len, "no entry");
		return -1;
	}
	if (o->janus && o->n_entries > 1) {
		snprintf(why, why_len, "one Janus at a time");
		return -1;
	}
	return 0;
}

/* --ready: everyone joined; a script may now break things under the load. */
static void ready(const struct opts *o)
{
	FILE *f = o->ready_file ? fopen(o->ready_file, "w") : NULL;

	placement(&placed);
	if (f) {
		fprintf(f, "%u joined\n", joined_parts());
		fclose(f);
	}
}

static int parse_pids(const char *s, struct opts *o)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *end;
		long v = strtol(t, &end, 10);

		if (*end || v <= 0 || o->n_pids == 8 || proc_cpu_s((pid_t)v) < 0)
			return -1;
		o->pids[o->n_pids++] = (pid_t)v;
	}
	return o->n_pids ? 0 : -1;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = true;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: funkhaus-bench [options]\n"
		"  -H HOST  -P PORT        Funkhaus signalling (127.0.0.1, 8443); a cluster: "
		"several\n"
		"                          entries HOST[:PORT] or https://HOST:PORT, "
		"comma-separated,\n"
		"                          taken in turn by the participants (redirects followed)\n"
		"  --rejoin                a participant whose connection breaks (its node went "
		"away)\n"
		"                          joins its room again: after 0.5 s, then backoff 1, 2, 4 "
		"s,\n"
		"                          its entry first, then the nodes \"joined\" named\n"
		"  --rejoin-tries N        failed tries before it gives up (8)\n"
		"  --ready FILE            write FILE once everyone joined (for scripts: the hold\n"
		"                          begins)\n"
		"  -m steady|ramp|churn    mode (steady)\n"
		"  -n N                    participants (steady: all; ramp: the most)\n"
		"  -x MIX                  room sizes, e.g. 2:30%%,5:50%%,20:20%% (5:100%%)\n"
		"  -r RATE                 joins per second (5); churn: leaves+joins per second\n"
		"  -d SECONDS              steady: hold time; ramp: time per step (10)\n"
		"  -s STEP                 ramp: participants added per step (5)\n"
		"  -b KBPS  -f FPS         video per participant (300 kbit/s, 15 fps)\n"
		"  -l LOSS  -q P99_MS      ramp limits (1.0 %%, 200 ms)\n"
		"  -i INSTANCE             read SFU CPU use from this local instance's region\n"
		"  -C PID[,PID...]         the SFU's processes: CPU seconds per received packet\n"
		"  -J                      the target is Janus' VideoRoom (bench/janus.sh)\n"
		"  -S gcm|cm               offer only this SRTP profile (both)\n"
		"  -t THREADS              threads driving participants (2)\n"
		"  -A N                    loopback targets: N participants per source address "
		"127.R.x.y (8; 0: all from one)\n"
		"  --simulcast             every participant sends simulcast as Chrome does: "
		"three\n"
		"                          VP8 encodings (100, 400, 1200 kbit/s at 30 fps; -b, -f\n"
		"                          unused), header extensions, RTX\n"
		"  --video-slots N         Funkhaus: each asks for N video receive slots (0-16;\n"
		"                          default the server's, 9): the videos it gets at most\n"
		"  --links RATE:SHARE,...  receivers' downlinks, e.g. 300k:20%%,1M:30%%,inf:50%%\n"
		"                          (a queue that drops past 200 ms; shares add up to 100)\n"
		"  -o FILE                 JSON report\n"
		"  -p FILE.svg             plot: participants against loss, p99 latency, SFU "
		"CPU\n");
}

int main(int argc, char **argv)
{
	struct opts o = {.per_source = 8,
			 .host = "127.0.0.1",
			 .port = 8443,
			 .mode = "steady",
			 .participants = 10,
			 .join_rate = 5,
			 .seconds = 10,
			 .video_kbps = 300,
			 .fps = 15,
			 .step = 5,
			 .max_loss = 1.0,
			 .max_p99_ms = 200,
			 .mix_text = "5:100%",
			 .threads = 2,
			 .rejoin_tries = 8};
	int c;

	static const struct option longs[] = {{"simulcast", no_argument, NULL, 1000},
					      {"links", required_argument, NULL, 1001},
					      {"video-slots", required_argument, NULL, 1002},
					      {"rejoin", no_argument, NULL, 1003},
					      {"rejoin-tries", required_argument, NULL, 1004},
					      {"ready", required_argument, NULL, 1005},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	char why[160];

	parse_mix("5:100%", &o.mix);
	while ((c = getopt_long(argc, argv, "H:P:m:n:x:r:d:s:b:f:l:q:i:o:p:t:C:JS:A:h", longs,
				NULL)) != -1) {
		switch (c) {
		case 1000:
			o.simulcast = true;
			break;
		case 1001:
			if (parse_links(optarg, &o.links, why, sizeof(why)) < 0) {
				fprintf(stderr, "funkhaus-bench: bad --links '%s': %s\n", optarg,
					why);
				return 2;
			}
			o.links_text = optarg;
			break;
		case 1002:
			o.video_slots = atoi(optarg);
			if (o.video_slots < 0 || o.video_slots > 16) {
				fprintf(stderr, "funkhaus-bench: --video-slots takes 0 to 16\n");
				return 2;
			}
			if (o.video_slots == 0)
				o.video_slots = -1; /* none: fhc's 0 is the server's default */
			break;
		case 1003:
			o.rejoin = true;
			break;
		case 1004:
			o.rejoin_tries = (unsigned)atoi(optarg);
			if (o.rejoin_tries < 1 || o.rejoin_tries > 100) {
				fprintf(stderr, "funkhaus-bench: --rejoin-tries takes 1 to 100\n");
				return 2;
			}
			break;
		case 1005:
			o.ready_file = optarg;
			break;
		case 'A':
			o.per_source = (unsigned)atoi(optarg);
			break;
		case 'H':
			o.host = optarg;
			break;
		case 'P':
			o.port = (unsigned)atoi(optarg);
			break;
		case 'm':
			o.mode = optarg;
			break;
		case 'n':
			o.participants = (unsigned)atoi(optarg);
			break;
		case 'x':
			o.mix_text = optarg;
			if (parse_mix(optarg, &o.mix) < 0) {
				fprintf(stderr,
					"funkhaus-bench: bad mix '%s' (e.g. 2:30%%,5:70%%)\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			o.join_rate = atof(optarg);
			break;
		case 'd':
			o.seconds = (unsigned)atoi(optarg);
			break;
		case 's':
			o.step = (unsigned)atoi(optarg);
			break;
		case 'b':
			o.video_kbps = (unsigned)atoi(optarg);
			break;
		case 'f':
			o.fps = (unsigned)atoi(optarg);
			break;
		case 'l':
			o.max_loss = atof(optarg);
			break;
		case 'q':
			o.max_p99_ms = atof(optarg);
			break;
		case 'i':
			o.instance = optarg;
			break;
		case 'o':
			o.report = optarg;
			break;
		case 'p':
			o.plot = optarg;
			break;
		case 't':
			o.threads = (unsigned)atoi(optarg);
			break;
		case 'J':
			o.janus = true;
			break;
		case 'S':
			if (strcmp(optarg, "gcm") && strcmp(optarg, "cm")) {
				fprintf(stderr, "funkhaus-bench: -S takes gcm or cm\n");
				return 2;
			}
			o.srtp = optarg;
			break;
		case 'C':
			if (parse_pids(optarg, &o) < 0) {
				fprintf(stderr,
					"funkhaus-bench: -C takes up to 8 running process ids, "
					"e.g. 1234,1240\n");
				return 2;
			}
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if ((strcmp(o.mode, "steady") && strcmp(o.mode, "ramp") && strcmp(o.mode, "churn")) ||
	    o.participants < 2 || o.participants > MAX_PARTS || o.join_rate <= 0 || o.seconds < 1 ||
	    o.seconds > 3600 || o.fps < 1 || o.fps > 60 || o.video_kbps < 10 || o.step < 1 ||
	    o.threads < 1 || o.threads > 64) {
		usage();
		return 2;
	}
	if (parse_entries(&o, why, sizeof(why)) < 0) {
		fprintf(stderr, "funkhaus-bench: bad -H '%s': %s\n", o.host, why);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	snprintf(run_id, sizeof(run_id), "%x", (unsigned)getpid());
	double t_start = now_s();
	unsigned capacity = 0;
	static struct driver drv[64];
	pthread_t joiners[JOIN_THREADS];
	unsigned n_joiners = 0;

	for (unsigned t = 0; t < JOIN_THREADS; t++)
		if (pthread_create(&joiners[n_joiners], NULL, join_thread, &o) == 0)
			n_joiners++;
	if (!n_joiners) {
		fprintf(stderr, "funkhaus-bench: cannot start a join thread\n");
		return 1;
	}

	for (unsigned t = 0; t < o.threads; t++) {
		drv[t] = (struct driver){.o = &o, .first = t, .stride = o.threads};
		if (pthread_create(&drv[t].tid, NULL, drive_thread, &drv[t]) != 0) {
			fprintf(stderr, "funkhaus-bench: cannot start thread %u\n", t);
			return 1;
		}
	}

	if (!strcmp(o.mode, "churn")) {
		add_participants(&o, o.participants, t_start);
		ready(&o);
		if (!failure && n_parts)
			steps[n_steps++] = hold(&o, o.seconds, t_start, 0, o.join_rate);
	} else if (!strcmp(o.mode, "steady")) {
		add_participants(&o, o.participants, t_start);
		ready(&o);
		if (!failure && n_parts)
			steps[n_steps++] = hold(&o, o.seconds, t_start, 0, 0);
	} else {
		while (!interrupted && !failure && n_parts < o.participants) {
			unsigned add = o.step < o.participants - n_parts ? o.step
									 : o.participants - n_parts;

			unsigned failed_before = join_failures;

			add_participants(&o, add, t_start);
			if (failure || !n_parts)
				break;
			struct step s = hold(&o, o.seconds, t_start, failed_before, 0);

			steps[n_steps++] = s;
			if (!s.good || n_steps == 256)
				break;
			capacity = s.participants;
		}
	}
	if (strcmp(o.mode, "steady") && strcmp(o.mode, "churn"))
		ready(&o);
	threads_stop = true;
	for (unsigned t = 0; t < o.threads; t++)
		pthread_join(drv[t].tid, NULL);
	for (unsigned t = 0; t < n_joiners; t++)
		pthread_join(joiners[t], NULL);
	report(&o, capacity);
	if (o.plot)
		plot(o.plot);
	for (unsigned i = 0; i < n_parts; i++)
		fhc_close(parts[i].c);
	bool bad = failure || join_failures || interrupted;

	/* --rejoin: everyone whose node went away must have media again */
	for (unsigned i = 0; i < n_parts; i++)
		bad = bad || (parts[i].affected && parts[i].back_at < 0);

	if (strcmp(o.mode, "ramp") != 0 && n_steps && !steps[0].good)
		bad = true;
	return bad ? 1 : 0;
}
