/*
 * funkhaus-dp: the dataplane process. Reads the configuration, places the workers, starts
 * DPDK's EAL (socket backend: no hugepages, no PCI; dpdk backend: the configured NIC or
 * vdevs, hugepages when there are any), creates the ring region, starts one worker per lcore
 * and then keeps the region's heartbeat and port counters going until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_net.h"
#include "dp_place.h"
#include "dp_worker.h"
#include "fh_conf.h"
#include "fh_log.h"

#define MAX_DEVS 8

struct dp_conf {
	char instance[32];
	char backend[16];
	char bind[64];
	char log_level[16];
	char cores[256];
	unsigned workers;
	unsigned base_port;
	unsigned consent_timeout;
	unsigned long max_video_bitrate;
	unsigned mbufs;
	/* dpdk backend */
	char vdev[MAX_DEVS][256];
	unsigned n_vdev;
	char pci[MAX_DEVS][32];
	unsigned n_pci;
	unsigned memory_mb;
	char hugepages[8];
	struct dp_net_conf net;
};

static volatile bool stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = true;
}

static int set_str(char *dst, size_t cap, const char *val)
{
	if (!*val || strlen(val) >= cap)
		return -1;
	snprintf(dst, cap, "%s", val);
	return 0;
}

static int dpdk_key(struct dp_conf *c, const char *key, const char *val, char *err, size_t elen)
{
	unsigned long v;
	struct fh_addr a;
	uint8_t prefix;

	if (!strcmp(key, "vdev")) {
		if (c->n_vdev == MAX_DEVS)
			return -1;
		return set_str(c->vdev[c->n_vdev++], sizeof(c->vdev[0]), val);
	}
	if (!strcmp(key, "pci")) {
		if (c->n_pci == MAX_DEVS)
			return -1;
		return set_str(c->pci[c->n_pci++], sizeof(c->pci[0]), val);
	}
	if (!strcmp(key, "memory")) {
		if (fh_conf_uint(val, 64, 1 << 20, &v) < 0)
			return -1;
		c->memory_mb = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "hugepages")) {
		if (strcmp(val, "auto") && strcmp(val, "yes") && strcmp(val, "no"))
			return -1;
		return set_str(c->hugepages, sizeof(c->hugepages), val);
	}
	if (!strcmp(key, "ipv4") || !strcmp(key, "ipv6")) {
		bool v6 = key[3] == '6';

		if (dp_net_parse_prefix(val, &a, &prefix) < 0 ||
		    a.family != (v6 ? FH_AF_INET6 : FH_AF_INET)) {
			snprintf(err, elen, "expected an address/prefix such as %s",
				 v6 ? "fd00::2/64" : "192.0.2.10/24");
			return -1;
		}
		if (v6) {
			memcpy(c->net.ip6, a.ip, 16);
			c->net.ip6_prefix = prefix;
			c->net.has_ip6 = true;
		} else {
			memcpy(c->net.ip4, a.ip, 4);
			c->net.ip4_prefix = prefix;
			c->net.has_ip4 = true;
		}
		return 0;
	}
	if (!strcmp(key, "gateway4") || !strcmp(key, "gateway6")) {
		bool v6 = key[7] == '6';

		if (fh_addr_parse(&a, val, 0) < 0 || a.family != (v6 ? FH_AF_INET6 : FH_AF_INET))
			return -1;
		if (v6) {
			memcpy(c->net.gw6, a.ip, 16);
			c->net.has_gw6 = true;
		} else {
			memcpy(c->net.gw4, a.ip, 4);
			c->net.has_gw4 = true;
		}
		return 0;
	}
	return -1;
}

static int conf_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t elen)
{
	struct dp_conf *c = ctx;
	unsigned long v;

	if (!strcmp(sec, "instance")) {
		if (!strcmp(key, "name") &&
		    (set_str(c->instance, sizeof(c->instance), val) < 0 || strchr(val, '/')))
			return -1;
		return 0; /* other instance keys belong to cp */
	}
	if (!strcmp(sec, "dpdk"))
		return dpdk_key(c, key, val, err, elen);
	if (strcmp(sec, "dataplane") != 0)
		return 0; /* sections of the control plane */
	if (!strcmp(key, "backend")) {
		if (strcmp(val, "socket") != 0 && strcmp(val, "dpdk") != 0) {
			snprintf(err, elen, "backend is socket or dpdk");
			return -1;
		}
		return set_str(c->backend, sizeof(c->backend), val);
	}
	if (!strcmp(key, "workers")) {
		if (fh_conf_uint(val, 1, FH_MAX_WORKERS, &v) < 0)
			return -1;
		c->workers = (unsigned)v;
	} else if (!strcmp(key, "cores")) {
		return set_str(c->cores, sizeof(c->cores), val);
	} else if (!strcmp(key, "bind")) {
		struct fh_addr a;

		if (fh_addr_parse(&a, val, 0) < 0)
			return -1;
		return set_str(c->bind, sizeof(c->bind), val);
	} else if (!strcmp(key, "base_port")) {
		if (fh_conf_uint(val, 1024, 65535 - FH_MAX_WORKERS, &v) < 0)
			return -1;
		c->base_port = (unsigned)v;
	} else if (!strcmp(key, "consent_timeout")) {
		if (fh_conf_uint(val, 5, 300, &v) < 0)
			return -1;
		c->consent_timeout = (unsigned)v;
	} else if (!strcmp(key, "max_video_bitrate")) {
		if (fh_conf_uint(val, 100000, 50000000, &v) < 0)
			return -1;
		c->max_video_bitrate = v;
	} else if (!strcmp(key, "mbufs")) {
		if (fh_conf_uint(val, 1024, 1u << 20, &v) < 0)
			return -1;
		c->mbufs = (unsigned)v;
	} else if (!strcmp(key, "log_level")) {
		enum fh_log_level l;

		if (fh_log_level_parse(val, &l) < 0)
			return -1;
		return set_str(c->log_level, sizeof(c->log_level), val);
	} else {
		return -1;
	}
	return 0;
}

/* Hugepages are there when some are reserved and hugetlbfs is mounted. */
static bool hugepages_present(void)
{
	char line[256];
	long total = 0;
	bool mounted = false;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &total) == 1)
			break;
	if (f)
		fclose(f);
	f = fopen("/proc/mounts", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " hugetlbfs "))
			mounted = true;
	if (f)
		fclose(f);
	return total > 0 && mounted;
}

struct eal_args {
	char *v[64];
	int n;
	char store[64][320];
};

static void arg(struct eal_args *a, const char *fmt, const char *s)
{
	if (a->n >= 63)
		return;
	snprintf(a->store[a->n], sizeof(a->store[0]), fmt, s);
	a->v[a->n] = a->store[a->n];
	a->n++;
	a->v[a->n] = NULL;
}

static int build_eal(const struct dp_conf *c, const char *prog, const char *lcores,
		     struct eal_args *a)
{
	bool dpdk = !strcmp(c->backend, "dpdk");
	char num[32];

	a->n = 0;
	arg(a, "%s", prog);
	arg(a, "--file-prefix=funkhaus-%s", c->instance);
	arg(a, "--lcores=%s", lcores);
	arg(a, "%s", "--no-telemetry");
	arg(a, "%s", "--log-level=warning");
	bool huge = dpdk && (!strcmp(c->hugepages, "yes") ||
			     (!strcmp(c->hugepages, "auto") && hugepages_present()));

	if (!huge) {
		arg(a, "%s", "--no-huge");
		if (dpdk)
			FH_WARN("running without hugepages: fine for tests and VMs, slower in "
				"production (scripts/hugepages.sh reserves them)");
	}
	unsigned mem = dpdk ? c->memory_mb : 64 + c->workers * (c->mbufs * 2560u / (1u << 20) + 8);

	snprintf(num, sizeof(num), "%u", mem);
	arg(a, "%s", "-m");
	arg(a, "%s", num);
	if (!dpdk || c->n_pci == 0)
		arg(a, "%s", "--no-pci");
	for (unsigned i = 0; dpdk && i < c->n_pci; i++)
		arg(a, "--allow=%s", c->pci[i]);
	for (unsigned i = 0; dpdk && i < c->n_vdev; i++)
		arg(a, "--vdev=%s", c->vdev[i]);
	return 0;
}

static void port_counters(struct fh_region *reg, unsigned n_ports)
{
	for (unsigned p = 0; p < n_ports && p < FH_MAX_PORTS; p++) {
		struct rte_eth_stats st;

		if (rte_eth_stats_get((uint16_t)p, &st) != 0)
			continue;
		struct fh_port_counters *pc = &reg->hdr->ports[p];

		pc->rx_packets = st.ipackets;
		pc->tx_packets = st.opackets;
		pc->rx_bytes = st.ibytes;
		pc->tx_bytes = st.obytes;
		pc->rx_missed = st.imissed;
		pc->rx_errors = st.ierrors;
		pc->tx_errors = st.oerrors;
		pc->rx_no_mbuf = st.rx_nombuf;
	}
}

int main(int argc, char **argv)
{
	struct dp_conf conf = {
		.instance = "default",
		.backend = "socket",
		.bind = "::",
		.log_level = "info",
		.workers = 1,
		.base_port = 40000,
		.consent_timeout = 30,
		.max_video_bitrate = 1500000,
		.mbufs = 8191,
		.memory_mb = 512,
		.hugepages = "auto",
	};
	bool done;
	int rc = fh_conf_main(argc, argv, "funkhaus-dp", conf_cb, &conf, &done);

	if (done)
		return rc;
	enum fh_log_level lvl = FH_LOG_INFO;

	fh_log_level_parse(conf.log_level, &lvl);
	fh_log_init("funkhaus-dp", lvl);
	bool dpdk = !strcmp(conf.backend, "dpdk");

	if (dpdk && conf.n_vdev + conf.n_pci == 0) {
		FH_ERR("backend dpdk needs a NIC: [dpdk] pci = ... or vdev = ...");
		return 2;
	}
	if (dpdk && !conf.net.has_ip4 && !conf.net.has_ip6) {
		FH_ERR("backend dpdk needs a media address: [dpdk] ipv4 = ... and/or ipv6 = ...");
		return 2;
	}
	if (!conf.cores[0])
		snprintf(conf.cores, sizeof(conf.cores), "%s", dpdk ? "auto" : "float");

	char lcores[512], report[1024], err[512];

	if (dp_place(conf.cores, dpdk && conf.n_pci ? conf.pci[0] : NULL, conf.workers, lcores,
		     sizeof(lcores), report, sizeof(report), err, sizeof(err)) < 0) {
		FH_ERR("%s", err);
		return 2;
	}
	FH_INFO("%s", report);

	static struct eal_args ea;

	build_eal(&conf, argv[0], lcores, &ea);
	if (rte_eal_init(ea.n, ea.v) < 0) {
		FH_ERR("EAL initialisation failed: %s", rte_strerror(rte_errno));
		return 1;
	}
	rc = 1;
	if (srtp_init() != srtp_err_status_ok) {
		FH_ERR("libsrtp2 initialisation failed");
		goto out_eal;
	}
	if (dpdk && rte_eth_dev_count_avail() == 0) {
		FH_ERR("no DPDK port found (check [dpdk] pci/vdev and the NIC's driver binding)");
		goto out_eal;
	}

	uint16_t ports[FH_MAX_WORKERS];
	char region_name[64];
	struct fh_region reg;

	for (unsigned i = 0; i < conf.workers; i++)
		ports[i] = (uint16_t)(conf.base_port + i);
	snprintf(region_name, sizeof(region_name), "/funkhaus-%s", conf.instance);
	int e = fh_region_create(&reg, region_name, conf.workers, ports);

	if (e < 0) {
		FH_ERR("cannot create ring region %s: %s", region_name, strerror(-e));
		goto out_eal;
	}

	struct dp_worker *workers = calloc(conf.workers, sizeof(*workers));
	struct rte_mempool *pools[FH_MAX_WORKERS];
	struct rte_ring *handoff[FH_MAX_WORKERS];
	unsigned started = 0;
	bool tx_csum = false;
	int socket = dpdk ? rte_eth_dev_socket_id(0) : (int)rte_socket_id();

	if (socket < 0)
		socket = (int)rte_socket_id();
	if (!workers)
		goto out_region;
	for (unsigned i = 0; i < conf.workers; i++) {
		char name[32];

		snprintf(name, sizeof(name), "dp_pool_%u", i);
		/* cache 256: the per-lcore cache keeps alloc/free off the shared ring */
		pools[i] = rte_pktmbuf_pool_create(name, conf.mbufs, 256,
						   RTE_ALIGN(sizeof(struct dp_pkt_meta), 8),
						   RTE_MBUF_DEFAULT_BUF_SIZE, socket);
		snprintf(name, sizeof(name), "dp_handoff_%u", i);
		handoff[i] = rte_ring_create(name, 1024, socket, RING_F_SC_DEQ);
		if (!pools[i] || !handoff[i]) {
			FH_ERR("worker %u: no memory for %u packet buffers: %s", i, conf.mbufs,
			       rte_strerror(rte_errno));
			goto out_workers;
		}
	}
	if (dpdk) {
		if (dp_io_dpdk_port_init(0, conf.workers, pools, conf.net.mac, &tx_csum, err,
					 sizeof(err)) < 0) {
			FH_ERR("%s", err);
			goto out_workers;
		}
		/* one worker has one queue: nothing to steer */
		if (conf.workers > 1) {
			if (dp_io_dpdk_steer(0, conf.workers, (uint16_t)conf.base_port, err,
					     sizeof(err)) == 0)
				FH_INFO("steering: rte_flow sends each worker's UDP port to its "
					"queue");
			else
				FH_INFO("steering: RSS and hand-off between workers, counted as "
					"handoff (%s)",
					err);
		}
		conf.net.port_lo = (uint16_t)conf.base_port;
		conf.net.port_hi = (uint16_t)(conf.base_port + conf.workers - 1);
		reg.hdr->n_ports = 1;
		FH_INFO("port 0: MAC %02x:%02x:%02x:%02x:%02x:%02x, checksums %s", conf.net.mac[0],
			conf.net.mac[1], conf.net.mac[2], conf.net.mac[3], conf.net.mac[4],
			conf.net.mac[5], tx_csum ? "offloaded" : "in software");
	}
	for (unsigned i = 0; i < conf.workers; i++) {
		struct dp_worker_conf wc = {
			.id = i,
			.io = dpdk ? &dp_io_dpdk_ops : &dp_io_socket_ops,
			.consent_timeout_s = conf.consent_timeout,
			.remb_bitrate = conf.max_video_bitrate,
		};

		snprintf(wc.io_conf.bind_addr, sizeof(wc.io_conf.bind_addr), "%s", conf.bind);
		wc.io_conf.port = ports[i];
		wc.io_conf.eth_port = 0;
		wc.io_conf.queue = (uint16_t)i;
		wc.io_conf.worker = i;
		wc.io_conf.n_workers = conf.workers;
		wc.io_conf.base_port = (uint16_t)conf.base_port;
		wc.io_conf.handoff = handoff;
		wc.io_conf.net = &conf.net;
		wc.io_conf.tx_csum_offload = tx_csum;
		e = dp_worker_init(&workers[i], &wc, &reg, pools[i], &stop);
		if (e < 0) {
			FH_ERR("worker %u: cannot open UDP port %u: %s", i, ports[i], strerror(-e));
			goto out_workers;
		}
		started++;
	}
	FH_INFO("instance %s: %u worker(s), %s backend, UDP ports %u-%u; region %s", conf.instance,
		conf.workers, conf.backend, conf.base_port, conf.base_port + conf.workers - 1,
		region_name);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	unsigned w = 0, lcore;

	RTE_LCORE_FOREACH_WORKER (lcore) {
		if (w == conf.workers)
			break;
		reg.hdr->w[w].lcore = (uint16_t)lcore;
		rte_eal_remote_launch(dp_worker_main, &workers[w], lcore);
		w++;
	}
	while (!stop) {
		usleep(100000);
		if (dpdk)
			port_counters(&reg, 1);
		__atomic_fetch_add(&reg.hdr->heartbeat, 1, __ATOMIC_RELEASE);
	}
	FH_INFO("stopping");
	rte_eal_mp_wait_lcore();
	rc = 0;
out_workers:
	for (unsigned i = 0; i < started; i++)
		dp_worker_fini(&workers[i]);
	free(workers);
	if (dpdk) {
		rte_eth_dev_stop(0);
		rte_eth_dev_close(0);
	}
out_region:
	fh_region_close(&reg);
out_eal:
	srtp_shutdown();
	rte_eal_cleanup();
	return rc;
}
