/*
 * cp_dp: ring-region client of funkhaus-cp. Slots are the control plane's to allocate; after a
 * restart of funkhaus-cp it asks every worker for a dump and keeps the slots of participants
 * whose calls still run (their media goes on; they leave when their consent expires).
 */
#include "cp_dp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fh_log.h"

#define ATTACH_RETRY_MS 500
#define HEARTBEAT_TIMEOUT_MS 3000

static struct {
	char name[64];
	struct cp_dp_handlers h;
	struct fh_region reg;
	bool attached;
	uint64_t generation;
	uint64_t last_try_ms;
	uint64_t last_beat;
	uint64_t last_beat_ms;
	uint32_t seq;
	uint8_t slots[FH_MAX_WORKERS][FH_MAX_SLOTS]; /* 0 free, 1 ours, 2 from before a restart */
	unsigned used[FH_MAX_WORKERS];
	bool err_logged;
} dp;

void cp_dp_init(const char *region_name, const struct cp_dp_handlers *h)
{
	memset(&dp, 0, sizeof(dp));
	snprintf(dp.name, sizeof(dp.name), "%s", region_name);
	dp.h = *h;
}

bool cp_dp_ready(void)
{
	return dp.attached;
}

unsigned cp_dp_workers(void)
{
	return dp.attached ? dp.reg.hdr->n_workers : 0;
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
	if (!dp.attached || i >= dp.reg.hdr->n_ports || i >= FH_MAX_PORTS)
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

int cp_dp_cmd(unsigned w, struct fh_cmd *c)
{
	if (!dp.attached || w >= dp.reg.hdr->n_workers)
		return -1;
	c->seq = ++dp.seq;
	if (rte_ring_sp_enqueue_elem(fh_region_cmd(&dp.reg, w), c, sizeof(*c)) != 0) {
		FH_ERR("worker %u command ring full; command %u dropped", w, c->type);
		return -1;
	}
	return 0;
}

int cp_dp_send(unsigned w, uint16_t slot, const uint8_t *data, size_t len)
{
	struct fh_pkt_msg m;

	if (!dp.attached || w >= dp.reg.hdr->n_workers || len > FH_PKT_MAX)
		return -1;
	memset(&m, 0, offsetof(struct fh_pkt_msg, data));
	m.slot = slot;
	m.len = (uint16_t)len;
	memcpy(m.data, data, len);
	return rte_ring_sp_enqueue_elem(fh_region_down(&dp.reg, w), &m, sizeof(m)) == 0 ? 0 : -1;
}

static void detach(const char *why)
{
	FH_WARN("dataplane detached: %s", why);
	fh_region_close(&dp.reg);
	dp.attached = false;
	memset(dp.slots, 0, sizeof(dp.slots));
	memset(dp.used, 0, sizeof(dp.used));
	dp.h.lost();
}

static void try_attach(uint64_t now_ms)
{
	int rc;

	if (now_ms - dp.last_try_ms < ATTACH_RETRY_MS)
		return;
	dp.last_try_ms = now_ms;
	rc = fh_region_attach(&dp.reg, dp.name);
	if (rc < 0) {
		if (!dp.err_logged)
			FH_WARN("waiting for the dataplane (region %s: %s)", dp.name,
				rc == -EPROTO ? "ABI or counter table mismatch" : strerror(-rc));
		dp.err_logged = true;
		return;
	}
	dp.err_logged = false;
	dp.attached = true;
	dp.generation = dp.reg.hdr->generation;
	dp.last_beat = dp.reg.hdr->heartbeat;
	dp.last_beat_ms = now_ms;
	/* Whatever a previous control plane left in the rings is stale for us, except the
	 * participants themselves: learn their slots so they are not handed out twice. */
	for (unsigned w = 0; w < dp.reg.hdr->n_workers; w++) {
		struct fh_evt e;
		struct fh_pkt_msg m;

		while (rte_ring_sc_dequeue_elem(fh_region_evt(&dp.reg, w), &e, sizeof(e)) == 0)
			;
		while (rte_ring_sc_dequeue_elem(fh_region_up(&dp.reg, w), &m, sizeof(m)) == 0)
			;
		struct fh_cmd c = {.type = FH_CMD_DUMP};

		cp_dp_cmd(w, &c);
	}
	FH_INFO("dataplane attached: %u worker(s), region %s", dp.reg.hdr->n_workers, dp.name);
}

void cp_dp_poll(uint64_t now_ms)
{
	if (!dp.attached) {
		try_attach(now_ms);
		return;
	}
	uint64_t beat = __atomic_load_n(&dp.reg.hdr->heartbeat, __ATOMIC_ACQUIRE);

	if (beat != dp.last_beat) {
		dp.last_beat = beat;
		dp.last_beat_ms = now_ms;
	} else if (now_ms - dp.last_beat_ms > HEARTBEAT_TIMEOUT_MS) {
		detach("no heartbeat");
		return;
	}
	for (unsigned w = 0; w < dp.reg.hdr->n_workers; w++) {
		struct fh_evt e;
		struct fh_pkt_msg m;

		for (int i = 0; i < 256; i++) {
			if (rte_ring_sc_dequeue_elem(fh_region_evt(&dp.reg, w), &e, sizeof(e)) != 0)
				break;
			if (e.type == FH_EVT_PART_INFO && e.slot < FH_MAX_SLOTS &&
			    !dp.slots[w][e.slot]) {
				dp.slots[w][e.slot] = 2;
				dp.used[w]++;
			}
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

void cp_dp_fini(void)
{
	if (dp.attached)
		fh_region_close(&dp.reg);
	dp.attached = false;
}
