/*
 * cp_room: rooms and participants, the authority over who receives what. Turns signalling
 * messages into dataplane commands and SDP answers, runs each participant's DTLS handshake and
 * reacts to the dataplane's events. Event loop only.
 */
#ifndef CP_ROOM_H
#define CP_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include "fh_addr.h"

struct cp_conn;

struct cp_room_conf {
	unsigned max_participants;	/* per room */
	const struct fh_addr *announce; /* media addresses put in candidates (port unused) */
	unsigned n_announce;
	unsigned dtls_timeout_s;
	unsigned msg_rate; /* signalling messages per second per connection */
	bool chat;
};

int cp_room_init(const struct cp_room_conf *c, const char *region_name);
void cp_room_fini(void);
void cp_room_message(struct cp_conn *c, const char *buf, size_t len);
void cp_room_closed(struct cp_conn *c);
void cp_room_tick(uint64_t now_ms);
struct cp_tenants;
/* Takes over ts (the tenants now in force); rooms of a tenant that is gone or switched off
 * are closed with a message to everyone in them. */
void cp_room_set_tenants(struct cp_tenants *ts);
/* The public part of the tenant a request to host and path belongs to, as a malloc'd JSON
 * string for the web client; NULL when none. */
char *cp_room_tenant_info(const char *host, const char *path);
/* The fewest log retention days of max and every tenant's. */
unsigned cp_room_log_days(unsigned max);
/* For /healthz: dataplane attached, rooms and participants now. */
void cp_room_stats(int *dp_ready, unsigned *rooms, unsigned *participants);

#endif
