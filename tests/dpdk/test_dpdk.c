/*
 * DPDK backend test, run inside the client network namespace that run.sh made: funkhaus-dp
 * owns the other end of a veth pair through a DPDK vdev in its own namespace. The kernel
 * here resolves the SFU's addresses by ARP and ND and pings them; two rooms on two workers
 * hold calls through the DPDK port; garbage frames are counted and dropped while the calls
 * go on. With two media ports (FUNKHAUS_TEST_PORT2 names the second one's address), one
 * participant of each room reaches the SFU through each port, so every call crosses them.
 *
 * Usage: test_dpdk DP_BIN CP_BIN GEN_CERT WEB_ROOT (environment: see run.sh)
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "calls.h"
#include "dp_net.h"

int failures;
struct harness h;

static unsigned workers = 2;
static bool fragments_visible = true;
static const char *port2; /* the second media port's IPv4 address, when there is one */

static uint64_t sum_ctr(enum fh_ctr c)
{
	uint64_t v = 0;

	for (unsigned w = 0; w < workers; w++)
		v += harness_ctr(&h, w, c);
	return v;
}

static uint64_t sum_drop(enum fh_drop d)
{
	uint64_t v = 0;

	for (unsigned w = 0; w < workers; w++)
		v += harness_drop(&h, w, d);
	return v;
}

static void resolve_and_ping(void)
{
	uint64_t arp = sum_ctr(FH_CTR_arp_answered), nd = sum_ctr(FH_CTR_nd_answered);
	uint64_t echo = sum_ctr(FH_CTR_echo_answered);

	EXPECT(system("ping -q -c 2 -W 2 10.99.0.2 >/dev/null") == 0, "IPv4 ping of the SFU");
	EXPECT(system("ping -6 -q -c 2 -W 2 fd99::2 >/dev/null") == 0, "IPv6 ping of the SFU");
	EXPECT(sum_ctr(FH_CTR_arp_answered) > arp, "the SFU answered ARP");
	EXPECT(sum_ctr(FH_CTR_nd_answered) > nd, "the SFU answered neighbour discovery");
	EXPECT(sum_ctr(FH_CTR_echo_answered) >= echo + 4, "the SFU answered 4 echo requests");
	if (port2) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "ping -q -c 2 -W 2 %s >/dev/null", port2);
		EXPECT(system(cmd) == 0, "IPv4 ping of the second port");
		EXPECT(system("ping -6 -q -c 2 -W 2 fd98::2 >/dev/null") == 0,
		       "IPv6 ping of the second port");
		EXPECT(sum_ctr(FH_CTR_echo_answered) >= echo + 8, "the second port answered echo");
	}
}

/* Both media ports carried the call both ways. */
static void check_ports(void)
{
	struct fh_port_counters p0, p1;

	if (!port2)
		return;
	EXPECT(harness_port(&h, 0, &p0) == 0 && harness_port(&h, 1, &p1) == 0 &&
		       harness_port(&h, 2, &p1) < 0,
	       "funkhaus-dp lists exactly two ports");
	if (harness_port(&h, 0, &p0) < 0 || harness_port(&h, 1, &p1) < 0)
		return;
	EXPECT(!strcmp(p0.name, "net_af_packet0") && !strcmp(p1.name, "net_af_packet1"),
	       "ports named %s and %s", p0.name, p1.name);
	/* A and C (port 0) sent 80 packets each, B (port 1) 40 */
	EXPECT(p0.rx_packets >= 160 && p0.tx_packets >= 76,
	       "port 0 carried media (%llu in, %llu out)", (unsigned long long)p0.rx_packets,
	       (unsigned long long)p0.tx_packets);
	EXPECT(p1.rx_packets >= 76 && p1.tx_packets >= 152,
	       "port 1 carried media (%llu in, %llu out)", (unsigned long long)p1.rx_packets,
	       (unsigned long long)p1.tx_packets);
}

/* The MAC of the SFU's first media port, as funkhaus-dp logged it. */
static int sfu_mac(uint8_t mac[6])
{
	char path[400], line[512];
	FILE *f;
	int ok = -1;

	snprintf(path, sizeof(path), "%s/dp.log", h.dir);
	f = fopen(path, "r");
	while (f && ok < 0 && fgets(line, sizeof(line), f)) {
		char *m = strstr(line, "media port 0 ") ? strstr(line, "MAC ") : NULL;
		unsigned v[6];

		if (m && sscanf(m + 4, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4],
				&v[5]) == 6) {
			for (int i = 0; i < 6; i++)
				mac[i] = (uint8_t)v[i];
			ok = 0;
		}
	}
	if (f)
		fclose(f);
	return ok;
}

static void ip4_header(uint8_t *ip, size_t total, uint16_t frag)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = 64;
	ip[9] = 17;
	uint8_t src[4] = {10, 99, 0, 1}, dst[4] = {10, 99, 0, 2};

	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	uint16_t s = dp_net_csum(ip, 20, 0);

	ip[10] = (uint8_t)(s >> 8);
	ip[11] = (uint8_t)s;
}

static void garbage(struct fhc **all, int n)
{
	const char *ifname = getenv("FUNKHAUS_TEST_IFACE");
	uint8_t mac[6], own[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_halen = 6};

	if (!ifname || fd < 0 || sfu_mac(mac) < 0) {
		EXPECT(0, "cannot send raw frames (iface %s)", ifname ? ifname : "unset");
		return;
	}
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	memcpy(sll.sll_addr, mac, 6);
	uint64_t before[5] = {sum_drop(FH_DROP_l2_ethertype), sum_drop(FH_DROP_l2_not_for_us),
			      sum_drop(FH_DROP_ip_malformed) + sum_drop(FH_DROP_l2_runt),
			      sum_drop(FH_DROP_ip_fragment), sum_drop(FH_DROP_udp_malformed)};
	uint8_t f[128];

	for (int kind = 0; kind < 6; kind++) {
		size_t len = 60;

		memset(f, 0, sizeof(f));
		memcpy(f, mac, 6);
		memcpy(f + 6, own, 6);
		f[12] = 0x08; /* IPv4 */
		switch (kind) {
		case 0: /* unknown ethertype */
			f[12] = 0x88;
			f[13] = 0xb5;
			break;
		case 1: /* another destination MAC */
			f[0] = 0x02;
			f[5] ^= 0xff;
			ip4_header(f + 14, 28, 0);
			break;
		case 2: /* truncated IP: total length beyond the frame */
			ip4_header(f + 14, 200, 0);
			break;
		case 3: /* a fragment */
			ip4_header(f + 14, 28, 0x2000);
			break;
		case 4: /* UDP length larger than the IP payload */
			ip4_header(f + 14, 28, 0);
			f[34] = 0x13, f[35] = 0x88; /* sport 5000 */
			f[36] = 0x9c, f[37] = 0x40; /* dport 40000 */
			f[38] = 0x07, f[39] = 0xd0; /* length 2000 */
			break;
		case 5: /* a runt */
			len = 20;
			break;
		}
		for (int r = 0; r < 5; r++)
			sendto(fd, f, len, 0, (struct sockaddr *)&sll, sizeof(sll));
	}
	close(fd);
	pump(all, n, 300);
	EXPECT(sum_drop(FH_DROP_l2_ethertype) >= before[0] + 5, "bad ethertype counted");
	EXPECT(sum_drop(FH_DROP_l2_not_for_us) >= before[1] + 5, "other MAC counted");
	EXPECT(sum_drop(FH_DROP_ip_malformed) + sum_drop(FH_DROP_l2_runt) >= before[2] + 10,
	       "truncated IP and runts counted");
	/* With several net_af_packet queues the kernel's fanout holds fragments back for
	 * reassembly (PACKET_FANOUT_FLAG_DEFRAG): they never reach a worker to be counted. */
	if (fragments_visible)
		EXPECT(sum_drop(FH_DROP_ip_fragment) >= before[3] + 5, "fragments counted");
	EXPECT(sum_drop(FH_DROP_udp_malformed) >= before[4] + 5, "bad UDP length counted");
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: test_dpdk DP_BIN CP_BIN GEN_CERT WEB_ROOT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getenv("FUNKHAUS_TEST_WORKERS"))
		workers = (unsigned)atoi(getenv("FUNKHAUS_TEST_WORKERS"));
	/* run.sh's memif set-up: fh-nic's own af_packet port holds fragments back the same way */
	fragments_visible = workers == 1 && !(getenv("FUNKHAUS_TEST_FRAGMENTS") &&
					      strcmp(getenv("FUNKHAUS_TEST_FRAGMENTS"), "0") == 0);
	port2 = getenv("FUNKHAUS_TEST_PORT2");
	if (harness_start(&h, argv, workers) < 0) {
		harness_stop(&h, true);
		return 1;
	}
	/* [dataplane] srtp = auto on the dpdk backend: every worker encrypts through cryptodev
	 * (Debian's DPDK ships the PMDs), so the calls below run on that engine */
	for (unsigned w = 0; w < workers; w++) {
		char eng[96] = "";

		harness_srtp_engine(&h, w, eng, sizeof(eng));
		printf("worker %u: SRTP by %s\n", w, eng);
		EXPECT(strncmp(eng, "cryptodev ", 10) == 0,
		       "the worker's SRTP engine is cryptodev");
	}
	resolve_and_ping();
	printf("ARP, ND and ping (%d failures so far)\n", failures);
	/* rooms are placed on the least loaded worker: two rooms, two workers */
	struct fhc *a = join("Erster", "Anna");
	struct fhc *b = join_via("Erster", "Bernd", port2);
	struct fhc *c = join("Zweiter", "Clara");
	struct fhc *d = join_via("Zweiter", "Dora", port2);
	struct fhc *all[] = {a, b, c, d};

	if (a && b && c && d) {
		pump(all, 4, 500);
		uint64_t w0 = harness_ctr(&h, 0, FH_CTR_rtp_forwarded);
		uint64_t w1 = harness_ctr(&h, 1, FH_CTR_rtp_forwarded);

		talk(a, "A", 40, all, 4);
		talk(c, "C", 40, all, 4);
		EXPECT(fhc_received_from(b, fhc_id(a), true) >= 38, "B sees A through DPDK");
		EXPECT(fhc_received_from(b, fhc_id(a), false) >= 38, "B hears A through DPDK");
		EXPECT(last_payload_is(b, fhc_id(a), true, "A:39"), "A's last video intact at B");
		EXPECT(fhc_received_from(d, fhc_id(c), true) >= 38, "D sees C through DPDK");
		if (port2) { /* the way back: from the second port out of the first */
			talk(b, "B", 40, all, 4);
			EXPECT(fhc_received_from(a, fhc_id(b), true) >= 38, "A sees B");
			EXPECT(last_payload_is(a, fhc_id(b), true, "B:39"),
			       "B's last video intact");
		}
		EXPECT(total_received(c) == 0 && fhc_received_from(a, fhc_id(c), true) == 0,
		       "nothing crossed between the rooms");
		EXPECT(harness_ctr(&h, 0, FH_CTR_rtp_forwarded) > w0 &&
			       (workers < 2 || harness_ctr(&h, 1, FH_CTR_rtp_forwarded) > w1),
		       "every worker forwarded (rooms on different workers)");
		pump(all, 4, 300); /* the port counters are read every 100 ms */
		check_ports();
		printf("calls on two workers (%d failures so far)\n", failures);
		garbage(all, 4);
		uint64_t before = fhc_received_from(b, fhc_id(a), true);

		talk(a, "after", 20, all, 4);
		EXPECT(fhc_received_from(b, fhc_id(a), true) >= before + 19,
		       "the call goes on after the garbage");
		printf("garbage frames (%d failures so far)\n", failures);
	}
	for (int i = 0; i < 4; i++)
		fhc_close(all[i]);
	harness_stop(&h, failures > 0);
	printf("%s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
