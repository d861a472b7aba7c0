/*
 * fh-fwdbench: how much one funkhaus-dp worker spends per forwarded copy. One publisher and
 * N-1 receivers (real WebRTC sessions: WSS, ICE, DTLS, SRTP via fhc) join one room of a running
 * Funkhaus; the publisher sends 1200-byte SRTP video packets for a bounded time; the worker's
 * own counters (read-only view of the ring region) give the RTP packets it received, the copies
 * it forwarded (one per receiver: N-1 per received packet) and the TSC cycles it spent.
 * Single-threaded: the load generator shares the machine with the SFU, so the packets per
 * second it reaches depend on the box; cycles per forwarded copy do not.
 *
 * Usage: fh-fwdbench -p PORT -i INSTANCE [-n ROOM_SIZE] [-s SECONDS] [-h HOST]
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fh_region.h"
#include "fhc.h"

struct snap {
	uint64_t fwd, busy, total, rx, drops;
};

static int snapshot(const char *region, struct snap *s)
{
	struct fh_region r;

	memset(s, 0, sizeof(*s));
	if (fh_region_peek(&r, region) < 0)
		return -1;
	for (unsigned w = 0; w < r.hdr->n_workers; w++) {
		const struct fh_counters *c = fh_region_counters(&r, w);

		s->fwd += c->ctr[FH_CTR_rtp_forwarded];
		s->rx += c->ctr[FH_CTR_rtp_in];
		s->busy += c->busy_cycles;
		s->total += c->total_cycles;
		for (int d = 0; d < FH_DROP_MAX; d++)
			s->drops += c->drop[d];
	}
	fh_region_close(&r);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *instance = "demo";
	unsigned port = 8443, n = 5, seconds = 5;
	int o;

	while ((o = getopt(argc, argv, "h:p:i:n:s:")) != -1) {
		switch (o) {
		case 'h':
			host = optarg;
			break;
		case 'p':
			port = (unsigned)atoi(optarg);
			break;
		case 'i':
			instance = optarg;
			break;
		case 'n':
			n = (unsigned)atoi(optarg);
			break;
		case 's':
			seconds = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: fh-fwdbench -p PORT -i INSTANCE [-n ROOM_SIZE] [-s "
					"SECONDS]\n");
			return 2;
		}
	}
	if (n < 2 || n > 33 || seconds < 1 || seconds > 120) {
		fprintf(stderr, "fh-fwdbench: room size 2-33, 1-120 seconds\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	char region[80], room[64], err[256];
	struct fhc *c[33] = {0};

	snprintf(region, sizeof(region), "/funkhaus-%s", instance);
	snprintf(room, sizeof(room), "bench%d", (int)getpid());
	for (unsigned i = 0; i < n; i++) {
		char name[32];
		struct fhc_opts opt = {.host = host,
				       .port = (uint16_t)port,
				       .room = room,
				       .name = name,
				       .audio = true,
				       .video = true,
				       .timeout_ms = 5000};

		snprintf(name, sizeof(name), "bench-%u", i);
		c[i] = fhc_connect(&opt, err, sizeof(err));
		if (!c[i]) {
			fprintf(stderr, "fh-fwdbench: participant %u cannot join: %s\n", i, err);
			return 1;
		}
	}
	for (int t = 0; t < 100; t++) /* renegotiation settles */
		for (unsigned i = 0; i < n; i++)
			fhc_poll(c[i], 1);

	struct snap a, b;
	uint8_t payload[1200];
	uint64_t sent = 0;

	memset(payload, 0x5a, sizeof(payload));
	if (snapshot(region, &a) < 0) {
		fprintf(stderr, "fh-fwdbench: no region %s (is instance %s running here?)\n",
			region, instance);
		return 1;
	}
	double t0 = now_s(), end = t0 + seconds;

	while (now_s() < end) {
		for (int k = 0; k < 16; k++) {
			if (fhc_send(c[0], true, payload, sizeof(payload), k == 15) == 0)
				sent++;
		}
		for (unsigned i = 1; i < n; i++)
			fhc_poll(c[i], 0);
	}
	double t1 = now_s();

	for (int t = 0; t < 50; t++)
		for (unsigned i = 1; i < n; i++)
			fhc_poll(c[i], 2);
	snapshot(region, &b);
	uint64_t got = 0;

	for (unsigned i = 1; i < n; i++)
		got += fhc_received_from(c[i], fhc_id(c[0]), true);
	uint64_t fwd = b.fwd - a.fwd, rx = b.rx - a.rx, busy = b.busy - a.busy;
	uint64_t expected = sent * (n - 1);
	double secs = t1 - t0;

	printf("room of %u: publisher sent %llu packets of 1200 bytes in %.1f s (%.0f packets/s)\n",
	       n, (unsigned long long)sent, secs, sent / secs);
	printf("  worker received %llu RTP packets (%.0f/s) and forwarded %llu copies (%.0f/s, one "
	       "per receiver: %u per received packet)\n",
	       (unsigned long long)rx, rx / secs, (unsigned long long)fwd, fwd / secs, n - 1);
	printf("  receivers got %llu of %llu copies due (loss %.2f %%)\n", (unsigned long long)got,
	       (unsigned long long)expected,
	       expected ? 100.0 * (double)(expected - got) / expected : 0);
	printf("  worker busy %.1f %% of the run; %.0f TSC cycles per forwarded copy, %.0f per "
	       "received packet (decrypt once, copy and encrypt per receiver, I/O)\n",
	       b.total > a.total ? 100.0 * (double)busy / (double)(b.total - a.total) : 0,
	       fwd ? (double)busy / (double)fwd : 0, rx ? (double)busy / (double)rx : 0);
	printf("{\"room\":%u,\"sent\":%llu,\"seconds\":%.2f,\"worker_received\":%llu,"
	       "\"forwarded\":%llu,\"received\":%llu,\"expected\":%llu,"
	       "\"cycles_per_forwarded\":%.0f,\"cycles_per_received\":%.0f,\"drops\":%llu}\n",
	       n, (unsigned long long)sent, secs, (unsigned long long)rx, (unsigned long long)fwd,
	       (unsigned long long)got, (unsigned long long)expected,
	       fwd ? (double)busy / (double)fwd : 0, rx ? (double)busy / (double)rx : 0,
	       (unsigned long long)(b.drops - a.drops));
	for (unsigned i = 0; i < n; i++)
		fhc_close(c[i]);
	return 0;
}
