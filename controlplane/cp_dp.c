/*
 * cp_dp: ring-region client of funkhaus-cp. Slots are the control plane's to allocate; after a
 * restart of funkhaus-cp it reads every worker's bitmap of live slots and keeps them: cp_room
 * claims those its notes describe (their participants resume), and what nobody claims within
 * the resume bound is removed from the worker.
 *
 * A region only counts while a live dataplane keeps it: its owner's pid runs and its heartbeat
 * (bumped every 100 ms) moves. Both daemons must share a pid namespace, as their systemd units
 * and scripts/run.sh have them. A region left by a dataplane that died is never attached to;
 * readiness ends as soon as the heartbeat stalls, and the calls end (the lost handler) when the
 * owner is gone, its region was replaced by a new funkhaus-dp's, or the beat stays away.
 */
#include "cp_dp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_pause.h>

#include "fh_log.h"

#define ATTACH_RETRY_MS 500
#define PROBE_MS 1000 /* a heartbeat that ever moved must move within this again */
/* no beat for this long: not ready, new joins refused (running calls go on: a loaded host
 * can hold the dataplane's main thread back for most of a second) */
#define READY_MS 1500
#define CHECK_MS 100		  /* how often the owner's pid and the region's name are checked */
#define HEARTBEAT_TIMEOUT_MS 3000 /* no beat for this long ("3 s" below): the dataplane is lost */

/* A FIFO of commands, grown in powers of two up to CP_DP_BACKLOG_MAX. */
struct cmd_backlog {
	struct fh_cmd *q;
	unsigned head, n, cap;
};

enum dp_state {
	DP_DETACHED,
	DP_PROBING, /* mapped, waiting to see the heartbeat move */
	DP_ATTACHED,
};

static struct {
	char name[64];
	struct cp_dp_handlers h;
	struct fh_region reg;
	enum dp_state state;
	bool beating; /* attached and the heartbeat moved within READY_MS */
	uint64_t generation;
	uint64_t now_ms; /* of the last poll */
	uint64_t last_try_ms;
	uint64_t probe_ms;
	uint64_t last_check_ms;
	uint64_t last_beat;
	uint64_t last_beat_ms;
	ino_t ino; /* the region's shared-memory object, to notice a new one under its name */
	uint32_t seq;
	uint8_t slots[FH_MAX_WORKERS][FH_MAX_SLOTS]; /* 0 free, 1 ours, 2 from before a restart */
	unsigned used[FH_MAX_WORKERS];
	char why_logged[160]; /* the last reason for waiting that was logged, to log it once */
	uint64_t attached_ms;
	/* commands a full ring refused, per worker, in order: they go down before any later
	 * one, so a SUB_ADD is never lost while its m-line stays assigned */
	struct cmd_backlog backlog[FH_MAX_WORKERS];
	uint64_t cmds_lost;
	bool reaped; /* the unclaimed slots from before the restart are gone */
} dp;

void cp_dp_init(const char *region_name, const struct cp_dp_handlers *h)
{
	memset(&dp, 0, sizeof(dp));
	snprintf(dp.name, sizeof(dp.name), "%s", region_name);
	dp.h = *h;
}

bool cp_dp_attached(void)
{
	return dp.state == DP_ATTACHED;
}

bool cp_dp_ready(void)
{
	return dp.beating;
}

long cp_dp_heartbeat_age_ms(void)
{
	return dp.state == DP_ATTACHED ? (long)(dp.now_ms - dp.last_beat_ms) : -1;
}

unsigned cp_dp_workers(void)
{
	return dp.state == DP_ATTACHED ? dp.reg.hdr->n_workers : 0;
}

uint16_t cp_dp_worker_port(unsigned w)
{
	return dp.reg.hdr->w[w].port;
}

unsigned cp_dp_worker_lcore(unsigned w)
{
	return dp.reg.hdr->w[w].lcore;
}

const struct fh_counters *cp_dp_counters(unsigned w)
{
	return fh_region_counters(&dp.reg, w);
}

const struct fh_port_counters *cp_dp_port_counters(unsigned i)
{
	if (dp.state != DP_ATTACHED || i >= dp.reg.hdr->n_ports || i >= FH_MAX_PORTS)
		return NULL;
	return &dp.reg.hdr->ports[i];
}

int cp_dp_slot_alloc(unsigned w)
{
	for (int s = 0; s < FH_MAX_SLOTS; s++) {
		if (!dp.slots[w][s]) {
			dp.slots[w][s] = 1;
			dp.used[w]++;
			return s;
		}
	}
	return -1;
}

void cp_dp_slot_free(unsigned w, int slot)
{
	if (slot < 0 || slot >= FH_MAX_SLOTS || !dp.slots[w][slot])
		return;
	dp.slots[w][slot] = 0;
	dp.used[w]--;
}

unsigned cp_dp_slots_used(unsigned w)
{
	return dp.used[w];
}

/* Moves what waits in worker w's backlog into its ring, in order, as far as there is room. */
static void backlog_flush(unsigned w)
{
	while (dp.backlog[w].n) {
		struct fh_cmd *c = &dp.backlog[w].q[dp.backlog[w].head];

		if (rte_ring_sp_enqueue_elem(fh_region_cmd(&dp.reg, w), c, sizeof(*c)) != 0)
			return;
		dp.backlog[w].head = (dp.backlog[w].head + 1) % dp.backlog[w].cap;
		dp.backlog[w].n--;
	}
	dp.backlog[w].head = 0;
}

static int backlog_push(unsigned w, const struct fh_cmd *c)
{
	struct cmd_backlog *b = &dp.backlog[w];

	if (b->n == b->cap) {
		unsigned cap = b->cap ? b->cap * 2 : 1024;
		struct fh_cmd *q;

		if (cap > CP_DP_BACKLOG_MAX || !(q = malloc(cap * sizeof(*q))))
			return -1;
		for (unsigned i = 0; i < b->n; i++) /* unrolled from the ring's order */
			q[i] = b->q[(b->head + i) % b->cap];
		free(b->q);
		b->q = q;
		b->head = 0;
		b->cap = cap;
	}
	b->q[(b->head + b->n) % b->cap] = *c;
	b->n++;
	return 0;
}

static void backlog_clear(void)
{
	for (unsigned w = 0; w < FH_MAX_WORKERS; w++) {
		free(dp.backlog[w].q);
		memset(&dp.backlog[w], 0, sizeof(dp.backlog[w]));
	}
}

int cp_dp_cmd(unsigned w, struct fh_cmd *c)
{
	if (dp.state != DP_ATTACHED || w >= dp.reg.hdr->n_workers)
		return -1;
	c->seq = ++dp.seq;
	backlog_flush(w);
	if (!dp.backlog[w].n &&
	    rte_ring_sp_enqueue_elem(fh_region_cmd(&dp.reg, w), c, sizeof(*c)) == 0)
		return 0;
	/* the ring is full (a burst of joins, a worker held back): the command waits its turn
	 * behind those before it */
	if (backlog_push(w, c) == 0)
		return 0;
	dp.cmds_lost++;
	FH_ERR("worker %u: %u commands wait for its ring already; command %u refused", w,
	       dp.backlog[w].n, c->type);
	return -1;
}

unsigned cp_dp_backlog(unsigned w)
{
	return w < FH_MAX_WORKERS ? dp.backlog[w].n : 0;
}

uint64_t cp_dp_cmds_lost(void)
{
	return dp.cmds_lost;
}

int cp_dp_send(unsigned w, uint16_t slot, const uint8_t *data, size_t len)
{
	struct fh_pkt_msg m;

	if (dp.state != DP_ATTACHED || w >= dp.reg.hdr->n_workers || len > FH_PKT_MAX)
		return -1;
	memset(&m, 0, offsetof(struct fh_pkt_msg, data));
	m.slot = slot;
	m.len = (uint16_t)len;
	memcpy(m.data, data, len);
	return rte_ring_sp_enqueue_elem(fh_region_down(&dp.reg, w), &m, sizeof(m)) == 0 ? 0 : -1;
}

/* Logs why funkhaus-cp waits for the dataplane, once for as long as the reason stays. */
static void waiting(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void waiting(const char *fmt, ...)
{
	char why[sizeof(dp.why_logged)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!strcmp(why, dp.why_logged))
		return;
	snprintf(dp.why_logged, sizeof(dp.why_logged), "%s", why);
	FH_WARN("waiting for the dataplane: %s", why);
}

static bool owner_alive(void)
{
	pid_t pid = (pid_t)dp.reg.hdr->dp_pid;

	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* What is under the region's name now: NULL when it is still ours, else why it is not. */
static const char *replaced(void)
{
	struct stat st;
	int fd = shm_open(dp.name, O_RDONLY, 0);

	if (fd < 0)
		return errno == ENOENT ? "funkhaus-dp stopped (its region is gone)" : NULL;
	int rc = fstat(fd, &st);

	close(fd);
	return rc == 0 && st.st_ino != dp.ino ? "funkhaus-dp restarted (a new region)" : NULL;
}

static void unmap(void)
{
	fh_region_close(&dp.reg);
	dp.state = DP_DETACHED;
	dp.beating = false;
}

static void detach(const char *why)
{
	FH_WARN("dataplane detached: %s", why);
	unmap();
	memset(dp.slots, 0, sizeof(dp.slots));
	memset(dp.used, 0, sizeof(dp.used));
	backlog_clear(); /* for a dataplane that is gone */
	dp.h.lost();
}

/* Maps the region when one is there and its owner runs; the heartbeat is watched next. */
static void try_attach(uint64_t now_ms)
{
	struct stat st;
	int rc;

	if (now_ms - dp.last_try_ms < ATTACH_RETRY_MS)
		return;
	dp.last_try_ms = now_ms;
	rc = fh_region_attach(&dp.reg, dp.name);
	if (rc < 0) {
		waiting("region %s: %s", dp.name,
			rc == -EPROTO	? "ABI or counter table mismatch (funkhaus-dp and "
					  "funkhaus-cp of different builds)"
			: rc == -EBUSY	? "another funkhaus-cp uses it"
			: rc == -ENOENT ? "not there (funkhaus-dp is not running yet)"
					: strerror(-rc));
		return;
	}
	if (!owner_alive()) {
		waiting("region %s was left by funkhaus-dp pid %u, which no longer runs", dp.name,
			dp.reg.hdr->dp_pid);
		fh_region_close(&dp.reg);
		return;
	}
	dp.ino = fstat(dp.reg.fd, &st) == 0 ? st.st_ino : 0;
	dp.state = DP_PROBING;
	dp.probe_ms = dp.last_check_ms = now_ms;
	dp.last_beat = __atomic_load_n(&dp.reg.hdr->heartbeat, __ATOMIC_ACQUIRE);
}

static void attached(uint64_t now_ms)
{
	dp.why_logged[0] = '\0';
	dp.state = DP_ATTACHED;
	dp.beating = true;
	dp.generation = dp.reg.hdr->generation;
	dp.last_beat_ms = dp.last_check_ms = now_ms;
	/* Whatever a previous control plane left in the rings is stale for us, except the
	 * participants themselves: learn their slots so they are not handed out twice. */
	for (unsigned w = 0; w < dp.reg.hdr->n_workers; w++) {
		struct fh_evt e;
		struct fh_pkt_msg m;

		while (rte_ring_sc_dequeue_elem(fh_region_evt(&dp.reg, w), &e, sizeof(e)) == 0)
			;
		while (rte_ring_sc_dequeue_elem(fh_region_up(&dp.reg, w), &m, sizeof(m)) == 0)
			;
		/* the worker's bitmap, not a dump through the event ring: a worker full of
		 * participants would overflow the ring, and we would hand out live slots */
		const struct fh_counters *k = fh_region_counters(&dp.reg, w);

		for (unsigned s = 0; s < FH_MAX_SLOTS; s++) {
			if (!(__atomic_load_n(&k->live[s / 64], __ATOMIC_ACQUIRE) >> (s % 64) & 1))
				continue;
			dp.slots[w][s] = 2;
			dp.used[w]++;
		}
	}
	dp.attached_ms = now_ms;
	dp.reaped = false;
	FH_INFO("dataplane attached: %u worker(s), region %s, funkhaus-dp pid %u",
		dp.reg.hdr->n_workers, dp.name, dp.reg.hdr->dp_pid);
	if (dp.h.attached)
		dp.h.attached();
}

static void probe(uint64_t now_ms)
{
	uint64_t beat = __atomic_load_n(&dp.reg.hdr->heartbeat, __ATOMIC_ACQUIRE);

	if (beat != dp.last_beat) {
		dp.last_beat = beat;
		attached(now_ms);
		return;
	}
	if (now_ms - dp.last_check_ms < CHECK_MS)
		return;
	dp.last_check_ms = now_ms;
	if (!owner_alive() || replaced()) {
		unmap(); /* the next try says why */
		return;
	}
	/* One that never beat is still starting (NIC ports can take seconds): wait for it. */
	if (beat && now_ms - dp.probe_ms > PROBE_MS) {
		waiting("region %s of funkhaus-dp pid %u: its heartbeat does not move", dp.name,
			dp.reg.hdr->dp_pid);
		unmap();
	}
}

/* Whether the dataplane we are attached to still runs; detaches when it does not. */
static bool alive(uint64_t now_ms)
{
	uint64_t beat = __atomic_load_n(&dp.reg.hdr->heartbeat, __ATOMIC_ACQUIRE);
	const char *gone;
	char why[96];

	if (beat != dp.last_beat) {
		dp.last_beat = beat;
		dp.last_beat_ms = now_ms;
	}
	if (now_ms - dp.last_check_ms >= CHECK_MS) {
		dp.last_check_ms = now_ms;
		gone = replaced();
		if (!gone && !owner_alive()) {
			snprintf(why, sizeof(why), "funkhaus-dp pid %u is gone",
				 dp.reg.hdr->dp_pid);
			gone = why;
		}
		if (gone) {
			detach(gone);
			return false;
		}
	}
	if (now_ms - dp.last_beat_ms > HEARTBEAT_TIMEOUT_MS) {
		detach("no heartbeat for 3 s");
		return false;
	}
	bool beating = now_ms - dp.last_beat_ms <= READY_MS;

	if (beating != dp.beating)
		FH_WARN("dataplane heartbeat %s",
			beating ? "back: ready" : "stalled: not ready, joins refused");
	dp.beating = beating;
	return true;
}

void cp_dp_poll(uint64_t now_ms)
{
	dp.now_ms = now_ms;
	if (dp.state == DP_DETACHED)
		try_attach(now_ms);
	if (dp.state == DP_PROBING)
		probe(now_ms);
	if (dp.state != DP_ATTACHED || !alive(now_ms))
		return;
	for (unsigned w = 0; w < dp.reg.hdr->n_workers; w++) {
		struct fh_evt e;
		struct fh_pkt_msg m;

		backlog_flush(w);
		for (int i = 0; i < 256; i++) {
			if (rte_ring_sc_dequeue_elem(fh_region_evt(&dp.reg, w), &e, sizeof(e)) != 0)
				break;
			if (e.type == FH_EVT_CONSENT_LOST && e.slot < FH_MAX_SLOTS &&
			    dp.slots[w][e.slot] == 2) {
				/* a call from before our restart ended: clear it in the worker */
				struct fh_cmd c = {.type = FH_CMD_PART_DEL, .slot = e.slot};

				cp_dp_cmd(w, &c);
				cp_dp_slot_free(w, e.slot);
				continue;
			}
			dp.h.event(w, &e);
		}
		for (int i = 0; i < 64; i++) {
			if (rte_ring_sc_dequeue_elem(fh_region_up(&dp.reg, w), &m, sizeof(m)) != 0)
				break;
			if (m.len <= FH_PKT_MAX && m.slot < FH_MAX_SLOTS &&
			    dp.slots[w][m.slot] == 1)
				dp.h.packet(w, &m);
		}
	}
}

uint8_t *cp_dp_note(unsigned w, unsigned s)
{
	if (dp.state != DP_ATTACHED || w >= dp.reg.hdr->n_workers || s >= FH_MAX_SLOTS)
		return NULL;
	return fh_region_note(&dp.reg, w, s);
}

/* The worker makes gen odd, writes, makes it even again: a copy is whole when gen was even
 * before it and the same after. A write takes a few microseconds once a second; the tries,
 * with a pause between, span some tens of microseconds of the event loop at worst. */
#define STAT_TRIES 256

bool cp_dp_slot_stat(unsigned w, unsigned s, struct fh_slot_stat *out)
{
	const struct fh_slot_stat *st;
	uint32_t g1, g2;

	memset(out, 0, sizeof(*out));
	if (dp.state != DP_ATTACHED || w >= dp.reg.hdr->n_workers || s >= FH_MAX_SLOTS)
		return false;
	st = fh_region_slot_stat(&dp.reg, w, s);
	for (int i = 0; i < STAT_TRIES; i++) {
		g1 = __atomic_load_n(&st->gen, __ATOMIC_ACQUIRE);
		if (g1 & 1) {
			rte_pause();
			continue;
		}
		memcpy(out, (const void *)st, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		g2 = __atomic_load_n(&st->gen, __ATOMIC_RELAXED);
		if (g1 == g2) {
			if (out->n_out > FH_MAX_RECV_STREAMS)
				out->n_out = FH_MAX_RECV_STREAMS;
			return true;
		}
		rte_pause();
	}
	memset(out, 0, sizeof(*out));
	return false;
}

bool cp_dp_slot_orphan(unsigned w, unsigned s)
{
	return dp.state == DP_ATTACHED && w < dp.reg.hdr->n_workers && s < FH_MAX_SLOTS &&
	       dp.slots[w][s] == 2;
}

void cp_dp_slot_claim(unsigned w, unsigned s)
{
	if (cp_dp_slot_orphan(w, s))
		dp.slots[w][s] = 1;
}

void cp_dp_reap(uint64_t now_ms, unsigned bound_s)
{
	if (dp.state != DP_ATTACHED || dp.reaped || now_ms - dp.attached_ms < bound_s * 1000ull)
		return;
	dp.reaped = true;
	for (unsigned w = 0; w < dp.reg.hdr->n_workers; w++) {
		for (unsigned s = 0; s < FH_MAX_SLOTS; s++) {
			if (dp.slots[w][s] != 2)
				continue;
			struct fh_cmd c = {.type = FH_CMD_PART_DEL, .slot = (uint16_t)s};

			if (cp_dp_cmd(w, &c) == 0)
				cp_dp_slot_free(w, (int)s);
		}
	}
}

void cp_dp_fini(void)
{
	if (dp.state != DP_DETACHED)
		fh_region_close(&dp.reg);
	dp.state = DP_DETACHED;
	dp.beating = false;
	backlog_clear();
}
