/* fh-nic: a stand-in for a NIC in bench/compare-janus.sh --nic memif. It owns two DPDK ports,
 * a net_memif server that funkhaus-dp's worker attaches to as its port, and a net_af_packet
 * port on a veth end, and carries every frame from one to the other. What a real NIC does by
 * DMA (take the worker's frames, put them on the wire, and the wire's frames into the worker's
 * ring) is done here in a process of its own, so the worker's busy cycles hold the worker's
 * work and not the kernel's delivery over the veth; this process's own CPU is measured and
 * reported beside them, not hidden.
 *
 * Usage: fh-nic MEMIF_SOCKET IFACE [SECONDS]
 *   runs until SIGTERM/SIGINT (or SECONDS), then prints one JSON line to stdout: frames each
 *   way, frames dropped (the other side's ring full), busy seconds (polls that carried a frame,
 *   at the TSC rate) and the polls. Empty polls nap: after 16 in a row, 50 µs each. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#define BURST 32

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int port_up(uint16_t port, struct rte_mempool *pool)
{
	struct rte_eth_conf pc;
	uint16_t nrx = 1024, ntx = 1024;

	memset(&pc, 0, sizeof(pc));
	if (rte_eth_dev_configure(port, 1, 1, &pc) != 0 ||
	    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, nrx, (unsigned)rte_eth_dev_socket_id(port), NULL,
				   pool) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, ntx, (unsigned)rte_eth_dev_socket_id(port), NULL) !=
		    0 ||
	    rte_eth_dev_start(port) != 0)
		return -1;
	/* a NIC on a wire takes the frames for the worker's MAC; the veth end's own MAC differs */
	rte_eth_promiscuous_enable(port);
	return 0;
}

/* one direction, one poll: frames carried, the rest (tx ring full) freed and counted */
static unsigned carry(uint16_t from, uint16_t to, uint64_t *carried, uint64_t *dropped)
{
	struct rte_mbuf *m[BURST];
	uint16_t n = rte_eth_rx_burst(from, 0, m, BURST);

	if (n == 0)
		return 0;
	uint16_t sent = rte_eth_tx_burst(to, 0, m, n);

	for (uint16_t i = sent; i < n; i++)
		rte_pktmbuf_free(m[i]);
	*carried += sent;
	*dropped += (uint64_t)(n - sent);
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: fh-nic MEMIF_SOCKET IFACE [SECONDS]\n");
		return 2;
	}
	const char *sock = argv[1], *iface = argv[2];
	char prefix[64], memif[512], afp[256], *rest = NULL;
	double limit = argc == 4 ? strtod(argv[3], &rest) : 0;

	if (strlen(sock) > 200 || strlen(iface) > 64) {
		fprintf(stderr, "fh-nic: socket path or interface name too long\n");
		return 2;
	}
	if (argc == 4 && (rest == argv[3] || *rest || !(limit > 0 && limit < 1e6))) {
		fprintf(stderr, "fh-nic: SECONDS must be a number of seconds above 0\n");
		return 2;
	}
	snprintf(prefix, sizeof(prefix), "--file-prefix=fh-nic-%d", (int)getpid());
	snprintf(memif, sizeof(memif), "net_memif0,role=server,socket=%s,socket-abstract=no", sock);
	snprintf(afp, sizeof(afp), "net_af_packet0,iface=%s,qpairs=1", iface);
	char *eal[] = {argv[0],
		       "--no-huge",
		       "-m",
		       "256",
		       "--no-pci",
		       prefix,
		       "--vdev",
		       memif,
		       "--vdev",
		       afp,
		       "--log-level=lib.eal:error",
		       NULL};
	int ne = (int)(sizeof(eal) / sizeof(eal[0])) - 1;

	if (rte_eal_init(ne, eal) < 0) {
		fprintf(stderr, "fh-nic: EAL init failed (%s)\n", rte_strerror(rte_errno));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	struct rte_mempool *pool = rte_pktmbuf_pool_create(
		"fh_nic", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	uint16_t pm, pa;

	if (!pool || rte_eth_dev_get_port_by_name("net_memif0", &pm) != 0 ||
	    rte_eth_dev_get_port_by_name("net_af_packet0", &pa) != 0 || port_up(pm, pool) != 0 ||
	    port_up(pa, pool) != 0) {
		fprintf(stderr, "fh-nic: port set-up failed (%s)\n", rte_strerror(rte_errno));
		return 1;
	}
	fprintf(stderr, "fh-nic: carrying frames between %s and %s\n", sock, iface);
	uint64_t to_wire = 0, to_worker = 0, drop_wire = 0, drop_worker = 0;
	uint64_t busy = 0, polls = 0, busy_polls = 0, hz = rte_get_tsc_hz();
	uint64_t t0 = rte_rdtsc(), end = limit > 0 ? t0 + (uint64_t)(limit * (double)hz) : 0;
	unsigned empty = 0;

	while (!stop) {
		uint64_t s = rte_rdtsc();
		unsigned n = carry(pm, pa, &to_wire, &drop_wire) +
			     carry(pa, pm, &to_worker, &drop_worker);

		if (end && s > end)
			break;
		polls++;
		if (n) {
			busy += rte_rdtsc() - s;
			busy_polls++;
			empty = 0;
		} else if (++empty >= 16) {
			struct timespec nap = {0, 50000};

			nanosleep(&nap, NULL);
		}
	}
	printf("{\"frames_to_wire\": %llu, \"frames_to_worker\": %llu, \"dropped_to_wire\": %llu, "
	       "\"dropped_to_worker\": %llu, \"busy_s\": %.3f, \"seconds\": %.3f, \"polls\": %llu, "
	       "\"busy_polls\": %llu}\n",
	       (unsigned long long)to_wire, (unsigned long long)to_worker,
	       (unsigned long long)drop_wire, (unsigned long long)drop_worker,
	       (double)busy / (double)hz, (double)(rte_rdtsc() - t0) / (double)hz,
	       (unsigned long long)polls, (unsigned long long)busy_polls);
	fflush(stdout);
	rte_eth_dev_stop(pm);
	rte_eth_dev_stop(pa);
	rte_eal_cleanup();
	return 0;
}
