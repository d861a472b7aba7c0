/*
 * fh_addr: a transport address (IPv4 or IPv6 plus UDP port) as a small value type.
 * Used by the dataplane, the control plane and the test client; carried by value through the
 * ring region, so it holds no pointer and has a fixed layout.
 */
#ifndef FH_ADDR_H
#define FH_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define FH_AF_INET 4
#define FH_AF_INET6 6

struct fh_addr {
	uint8_t family; /* FH_AF_INET or FH_AF_INET6, 0 when unset */
	uint8_t pad;
	uint16_t port;	/* host byte order */
	uint8_t ip[16]; /* IPv4 in the first four bytes */
};

static inline bool fh_addr_eq(const struct fh_addr *a, const struct fh_addr *b)
{
	if (a->family != b->family || a->port != b->port)
		return false;
	/* fixed-size copies compile to plain loads; a memcmp of variable length is a call */
	if (a->family == FH_AF_INET) {
		uint32_t x, y;

		memcpy(&x, a->ip, 4);
		memcpy(&y, b->ip, 4);
		return x == y;
	}
	uint64_t x[2], y[2];

	memcpy(x, a->ip, 16);
	memcpy(y, b->ip, 16);
	return x[0] == y[0] && x[1] == y[1];
}

/* A hash of the significant bytes and the port for the small per-worker tables (index with
 * the low bits): one 64-bit multiply, its halves folded, so every bit of the key reaches the
 * low bits. Runs for every received and every sent packet: word loads, no byte loop (a
 * byte-serial hash is a chain of dependent multiplies). */
static inline uint32_t fh_addr_hash(const struct fh_addr *a)
{
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	uint64_t k;

	if (a->family == FH_AF_INET) {
		uint32_t v4;

		memcpy(&v4, a->ip, 4);
		k = v4;
	} else {
		uint64_t hi, lo;

		memcpy(&hi, a->ip, 8);
		memcpy(&lo, a->ip + 8, 8);
		k = hi * m ^ lo;
	}
	k = (k ^ (uint64_t)a->port << 40) * m;
	return (uint32_t)(k >> 32) ^ (uint32_t)k;
}

int fh_addr_from_sockaddr(struct fh_addr *a, const struct sockaddr *sa, socklen_t len);
socklen_t fh_addr_to_sockaddr(const struct fh_addr *a, struct sockaddr_storage *ss);
/* "1.2.3.4" or "::1" plus a port; returns 0 or -1 */
int fh_addr_parse(struct fh_addr *a, const char *ip, uint16_t port);
/* Writes the IP only (no port) into buf; returns buf. */
const char *fh_addr_ip_str(const struct fh_addr *a, char *buf, size_t len);

#endif
