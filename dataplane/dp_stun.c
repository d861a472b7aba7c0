/*
 * dp_stun: the ICE-lite responder (RFC 8445 section 2.5, consent RFC 7675) inside a worker.
 * A Binding request is answered only when its FINGERPRINT, USERNAME and MESSAGE-INTEGRITY
 * check out against credentials cp installed; only then may the source address become the
 * participant's media address. Anything else is dropped under its own counter, unanswered,
 * so the SFU never reflects or amplifies traffic toward an address that did not prove itself.
 */
#include <string.h>

#include "dp_worker.h"
#include "fh_stun.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Our ufrag starts with the slot as four lower-case hex digits, so lookup is O(1). */
static int slot_of_username(const struct dp_worker *w, const uint8_t *u, size_t len)
{
	const uint8_t *colon = memchr(u, ':', len);
	int slot = 0;

	if (!colon || colon - u < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int v = hexval((char)u[i]);

		if (v < 0)
			return -1;
		slot = slot << 4 | v;
	}
	if (slot >= FH_MAX_SLOTS)
		return -1;
	const struct dp_part *p = &w->parts[slot];
	size_t lu = (size_t)(colon - u);
	size_t ru = len - lu - 1;

	if (!p->used || lu != p->lufrag_len || ru != p->rufrag_len ||
	    memcmp(u, p->lufrag, lu) != 0 || memcmp(colon + 1, p->rufrag, ru) != 0)
		return -1;
	return slot;
}

void dp_stun_input(struct dp_worker *w, struct rte_mbuf *m, uint64_t now)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	struct dp_pkt_meta *meta = dp_meta(m);
	struct fh_stun_msg msg;
	int slot;

	if (fh_stun_parse(d, m->data_len, &msg) != FH_STUN_OK) {
		dp_drop(w, FH_DROP_stun_malformed);
		goto drop;
	}
	if (msg.type != FH_STUN_BINDING_REQUEST) {
		dp_drop(w, FH_DROP_stun_not_request);
		goto drop;
	}
	if (!fh_stun_check_fingerprint(d, m->data_len, &msg)) {
		dp_drop(w, FH_DROP_stun_bad_fingerprint);
		goto drop;
	}
	if (!msg.username || (slot = slot_of_username(w, msg.username, msg.username_len)) < 0) {
		dp_drop(w, FH_DROP_stun_unknown_user);
		goto drop;
	}
	struct dp_part *p = &w->parts[slot];

	if (!fh_stun_check_integrity(d, &msg, p->lpwd, p->lpwd_len)) {
		dp_drop(w, FH_DROP_stun_bad_integrity);
		goto drop;
	}
	/* A lite agent is always controlled; a peer that is controlled too is broken. */
	if (msg.ice_controlled) {
		dp_drop(w, FH_DROP_stun_role_conflict);
		goto drop;
	}
	if (!p->bound) {
		p->addr = meta->peer;
		p->via = meta->via;
		p->bound = true;
		dp_addr_insert(w, &p->addr, (uint16_t)slot);
		w->ctr->bound++;
		p->next_rtcp_tsc = now + w->hz;
		dp_worker_emit(w, FH_EVT_BOUND, (uint16_t)slot, 0);
	} else if (!fh_addr_eq(&p->addr, &meta->peer) && msg.use_candidate &&
		   dp_addr_lookup(w, &meta->peer) < 0) {
		/* The controlling agent nominated another path (a network change): move there. */
		dp_addr_remove(w, &p->addr);
		p->addr = meta->peer;
		p->via = meta->via;
		dp_addr_insert(w, &p->addr, (uint16_t)slot);
		dp_worker_emit(w, FH_EVT_BOUND, (uint16_t)slot, 1);
	}
	if (fh_addr_eq(&p->addr, &meta->peer))
		p->last_check_tsc = now;

	uint8_t tid[12];

	memcpy(tid, msg.tid, 12);
	size_t cap = m->data_len + rte_pktmbuf_tailroom(m);
	size_t n = fh_stun_build_binding_success(d, cap, tid, &meta->peer, p->lpwd, p->lpwd_len);

	if (n == 0) {
		dp_drop(w, FH_DROP_stun_malformed);
		goto drop;
	}
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	dp_count(w, FH_CTR_stun_answered, 1);
	dp_worker_send(w, m);
	return;
drop:
	rte_pktmbuf_free(m);
}
