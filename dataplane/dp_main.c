/*
 * funkhaus-dp: the dataplane process. Reads the configuration, initialises DPDK's EAL (for the
 * socket backend without hugepages or PCI), creates the ring region, starts one worker per
 * lcore and then only keeps the region's heartbeat going until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dp_worker.h"
#include "fh_conf.h"
#include "fh_log.h"

struct dp_conf {
	char instance[32];
	char backend[16];
	char bind[64];
	char log_level[16];
	unsigned workers;
	unsigned base_port;
	unsigned consent_timeout;
	unsigned long max_video_bitrate;
	unsigned mbufs;
};

static volatile bool stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = true;
}

static int conf_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t elen)
{
	struct dp_conf *c = ctx;
	unsigned long v;

	(void)err;
	(void)elen;
	if (!strcmp(sec, "instance")) {
		if (!strcmp(key, "name")) {
			if (!*val || strlen(val) >= sizeof(c->instance) || strchr(val, '/'))
				return -1;
			snprintf(c->instance, sizeof(c->instance), "%s", val);
		}
		return 0; /* other instance keys belong to cp */
	}
	if (strcmp(sec, "dataplane") != 0)
		return 0; /* sections of the control plane */
	if (!strcmp(key, "backend")) {
		if (strcmp(val, "socket") != 0) {
			snprintf(err, elen, "only the socket backend is built in this version");
			return -1;
		}
		snprintf(c->backend, sizeof(c->backend), "%s", val);
	} else if (!strcmp(key, "workers")) {
		if (fh_conf_uint(val, 1, FH_MAX_WORKERS, &v) < 0)
			return -1;
		c->workers = (unsigned)v;
	} else if (!strcmp(key, "bind")) {
		struct fh_addr a;

		if (fh_addr_parse(&a, val, 0) < 0)
			return -1;
		snprintf(c->bind, sizeof(c->bind), "%s", val);
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
		snprintf(c->log_level, sizeof(c->log_level), "%s", val);
	} else {
		return -1;
	}
	return 0;
}

/* Physical cores, for the start-up report; the DPDK backend places workers with it. */
static int count_cores(void)
{
	hwloc_topology_t topo;
	int n;

	if (hwloc_topology_init(&topo) < 0)
		return -1;
	if (hwloc_topology_load(topo) < 0) {
		hwloc_topology_destroy(topo);
		return -1;
	}
	n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	hwloc_topology_destroy(topo);
	return n;
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
	};
	bool done;
	int rc = fh_conf_main(argc, argv, "funkhaus-dp", conf_cb, &conf, &done);

	if (done)
		return rc;
	enum fh_log_level lvl = FH_LOG_INFO;

	fh_log_level_parse(conf.log_level, &lvl);
	fh_log_init("funkhaus-dp", lvl);

	/* EAL: workers float over the CPUs we may use; the socket backend sleeps when idle. */
	cpu_set_t cpus;
	int first = -1, last = -1;

	sched_getaffinity(0, sizeof(cpus), &cpus);
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &cpus)) {
			if (first < 0)
				first = i;
			last = i;
		}
	}
	char lcores[64], mem[16], prefix[64];
	unsigned mem_mb = 64 + conf.workers * (conf.mbufs * 2560u / (1u << 20) + 8);

	snprintf(lcores, sizeof(lcores), "(0-%u)@(%d-%d)", conf.workers, first, last);
	snprintf(mem, sizeof(mem), "%u", mem_mb);
	snprintf(prefix, sizeof(prefix), "--file-prefix=funkhaus-%s", conf.instance);
	char *eal_argv[] = {argv[0],	      "--no-huge",   "--no-pci", prefix,
			    "--no-telemetry", "-m",	     mem,	 "--lcores",
			    lcores,	      "--log-level", "warning",	 NULL};
	int eal_argc = (int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1;

	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		FH_ERR("EAL initialisation failed: %s", rte_strerror(rte_errno));
		return 1;
	}
	if (srtp_init() != srtp_err_status_ok) {
		FH_ERR("libsrtp2 initialisation failed");
		goto out_eal;
	}

	uint16_t ports[FH_MAX_WORKERS];
	char region_name[64];
	struct fh_region reg;

	for (unsigned i = 0; i < conf.workers; i++)
		ports[i] = (uint16_t)(conf.base_port + i);
	snprintf(region_name, sizeof(region_name), "/funkhaus-%s", conf.instance);
	rc = fh_region_create(&reg, region_name, conf.workers, ports);
	if (rc < 0) {
		FH_ERR("cannot create ring region %s: %s", region_name, strerror(-rc));
		rc = 1;
		goto out_eal;
	}

	struct dp_worker *workers = calloc(conf.workers, sizeof(*workers));
	unsigned started = 0;

	rc = 1;
	if (!workers)
		goto out_region;
	for (unsigned i = 0; i < conf.workers; i++) {
		char pname[32];

		snprintf(pname, sizeof(pname), "dp_pool_%u", i);
		/* cache 256: the per-lcore cache keeps alloc/free off the shared ring */
		struct rte_mempool *pool = rte_pktmbuf_pool_create(
			pname, conf.mbufs, 256, RTE_ALIGN(sizeof(struct dp_pkt_meta), 8),
			2048 + 128, (int)rte_socket_id());

		if (!pool) {
			FH_ERR("worker %u: no memory for %u packet buffers: %s", i, conf.mbufs,
			       rte_strerror(rte_errno));
			goto out_workers;
		}
		struct dp_worker_conf wc = {
			.id = i,
			.io = &dp_io_socket_ops,
			.consent_timeout_s = conf.consent_timeout,
			.remb_bitrate = conf.max_video_bitrate,
		};

		snprintf(wc.io_conf.bind_addr, sizeof(wc.io_conf.bind_addr), "%s", conf.bind);
		wc.io_conf.port = ports[i];
		int e = dp_worker_init(&workers[i], &wc, &reg, pool, &stop);

		if (e < 0) {
			FH_ERR("worker %u: cannot open UDP port %u: %s", i, ports[i], strerror(-e));
			goto out_workers;
		}
		started++;
	}

	int cores = count_cores();

	FH_INFO("instance %s: %u worker(s), %s backend, UDP ports %u-%u on %s; %d physical "
		"core(s); region %s",
		conf.instance, conf.workers, conf.backend, conf.base_port,
		conf.base_port + conf.workers - 1, conf.bind, cores, region_name);

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
		__atomic_fetch_add(&reg.hdr->heartbeat, 1, __ATOMIC_RELEASE);
	}
	FH_INFO("stopping");
	rte_eal_mp_wait_lcore();
	rc = 0;
out_workers:
	for (unsigned i = 0; i < started; i++)
		dp_worker_fini(&workers[i]);
	free(workers);
out_region:
	fh_region_close(&reg);
out_eal:
	srtp_shutdown();
	rte_eal_cleanup();
	return rc;
}
