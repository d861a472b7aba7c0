/*
 * harness: starts funkhaus-dp and funkhaus-cp on loopback with a private configuration for
 * an integration test, restarts or kills them on request, and cleans up. Each test run gets
 * its own instance name and ports (derived from its pid), so runs do not collide.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fh_region.h"

/* Short, so a test can watch consent expire; clients check every 2 s. */
#define HARNESS_CONSENT_S 6

struct harness {
	char dir[256];
	char conf[300];
	char region[64];
	uint16_t port;	    /* HTTPS/WSS */
	uint16_t base_port; /* first worker's UDP port */
	pid_t dp, cp;
	const char *dp_bin, *cp_bin;
};

/* argv: DP_BIN CP_BIN GEN_CERT_SCRIPT WEB_ROOT */
int harness_start(struct harness *h, char **argv, unsigned workers);
int harness_start_cp(struct harness *h);
void harness_kill_cp(struct harness *h, int sig);
/* funkhaus-dp alone, with the configuration harness_start wrote: 0 once its main loop beats. */
int harness_start_dp(struct harness *h);
void harness_kill_dp(struct harness *h, int sig);
/* Lines of a log file that contain what. */
int harness_count_in_log(const char *log, const char *what);
void harness_stop(struct harness *h, bool show_logs);
/* The worker's counters through a read-only view of the region. */
uint64_t harness_drop(struct harness *h, unsigned worker, enum fh_drop d);
uint64_t harness_ctr(struct harness *h, unsigned worker, enum fh_ctr c);
/* Participants a worker holds now. */
unsigned harness_participants(struct harness *h, unsigned worker);
/* A NIC port's counters (DPDK backend); -1 when funkhaus-dp has no such port. */
int harness_port(struct harness *h, unsigned port, struct fh_port_counters *out);
/* The SRTP engine a worker runs ("libsrtp2", "cryptodev ..."); 0, or -1. */
int harness_srtp_engine(struct harness *h, unsigned worker, char *out, size_t n);

#define EXPECT(cond, ...)                                                               \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                   \
			fprintf(stderr, "\n");                                          \
			failures++;                                                     \
		}                                                                       \
	} while (0)

#endif
