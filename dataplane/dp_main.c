/*
 * funkhaus-dp: the dataplane process. Reads the configuration, places the workers, starts
 * DPDK's EAL (socket backend: no hugepages, no PCI; dpdk backend: the configured NIC or
 * vdevs, hugepages when there are any), creates the ring region, starts one worker per lcore
 * and then keeps the region's heartbeat and port counters going until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <srtp2/srtp.h>

#include "dp_net.h"
#include "dp_place.h"
#include "dp_worker.h"
#include "fh_conf.h"
#include "fh_log.h"

#define MAX_DEVS 8

struct dp_conf {
	char instance[32];
	char log_dir[512];
	char group[64]; /* the group funkhaus-cp runs as: it may use the region */
	char backend[16];
	char bind[64];
	char log_level[16];
	char cores[256];
	unsigned workers;
	unsigned base_port;
	unsigned consent_timeout;
	unsigned long max_video_bitrate;
	unsigned mbufs;
	char srtp[16];	     /* auto | libsrtp | cryptodev */
	char srtp_pmds[128]; /* crypto PMDs to try, in order */
	/* dpdk backend */
	char vdev[MAX_DEVS][256];
	unsigned n_vdev;
	char pci[MAX_DEVS][32];
	unsigned n_pci;
	unsigned memory_mb;
	unsigned tx_drain_us;
	char hugepages[8];
	struct dp_net_conf net; /* [dpdk] ipv4/ipv6/gateway: the one port when there is one */
	/* [port DEVICE] sections: the addresses of each media port by its DPDK device name */
	struct {
		char dev[64];
		struct dp_net_conf net;
	} port[FH_MAX_PORTS];
	unsigned n_port;
};

static volatile bool stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = true;
}

static int set_str(char *dst, size_t cap, const char *val, char *err, size_t elen)
{
	if (!*val || strlen(val) >= cap) {
		snprintf(err, elen, "%s", *val ? "value too long" : "empty value");
		return -1;
	}
	snprintf(dst, cap, "%s", val);
	return 0;
}

/* ipv4, ipv6, gateway4, gateway6 of one media port; 1 when key is none of them */
static int net_key(struct dp_net_conf *n, const char *key, const char *val, char *err, size_t elen)
{
	struct fh_addr a;
	uint8_t prefix;

	if (!strcmp(key, "ipv4") || !strcmp(key, "ipv6")) {
		bool v6 = key[3] == '6';

		if (dp_net_parse_prefix(val, &a, &prefix) < 0 ||
		    a.family != (v6 ? FH_AF_INET6 : FH_AF_INET)) {
			snprintf(err, elen, "expected an address/prefix such as %s",
				 v6 ? "fd00::2/64" : "192.0.2.10/24");
			return -1;
		}
		if (v6) {
			memcpy(n->ip6, a.ip, 16);
			n->ip6_prefix = prefix;
			n->has_ip6 = true;
		} else {
			memcpy(n->ip4, a.ip, 4);
			n->ip4_prefix = prefix;
			n->has_ip4 = true;
		}
		return 0;
	}
	if (!strcmp(key, "gateway4") || !strcmp(key, "gateway6")) {
		bool v6 = key[7] == '6';

		if (fh_addr_parse(&a, val, 0) < 0 || a.family != (v6 ? FH_AF_INET6 : FH_AF_INET)) {
			snprintf(err, elen, "expected an %s address", v6 ? "IPv6" : "IPv4");
			return -1;
		}
		if (v6) {
			memcpy(n->gw6, a.ip, 16);
			n->has_gw6 = true;
		} else {
			memcpy(n->gw4, a.ip, 4);
			n->has_gw4 = true;
		}
		return 0;
	}
	return 1;
}

/* [port DEVICE]: the section of that device, made on first sight */
static int port_key(struct dp_conf *c, const char *dev, const char *key, const char *val, char *err,
		    size_t elen)
{
	unsigned i;

	for (i = 0; i < c->n_port; i++)
		if (!strcmp(c->port[i].dev, dev))
			break;
	if (i == c->n_port) {
		if (c->n_port == FH_MAX_PORTS) {
			snprintf(err, elen, "at most %d media ports", FH_MAX_PORTS);
			return -1;
		}
		if (!*dev || set_str(c->port[i].dev, sizeof(c->port[i].dev), dev, err, elen) < 0) {
			snprintf(err, elen, "[port DEVICE] names a PCI address or a vdev");
			return -1;
		}
		c->n_port++;
	}
	return net_key(&c->port[i].net, key, val, err, elen) == 0 ? 0 : -1;
}

static int dpdk_key(struct dp_conf *c, const char *key, const char *val, char *err, size_t elen)
{
	unsigned long v;
	int r = net_key(&c->net, key, val, err, elen);

	if (r <= 0)
		return r;
	if (!strcmp(key, "vdev") || !strcmp(key, "pci")) {
		bool vdev = key[0] == 'v';
		unsigned *n = vdev ? &c->n_vdev : &c->n_pci;

		if (*n == MAX_DEVS) {
			snprintf(err, elen, "at most %d %s lines", MAX_DEVS, key);
			return -1;
		}
		return vdev ? set_str(c->vdev[(*n)++], sizeof(c->vdev[0]), val, err, elen)
			    : set_str(c->pci[(*n)++], sizeof(c->pci[0]), val, err, elen);
	}
	if (!strcmp(key, "memory")) {
		if (fh_conf_uint(val, 64, 1 << 20, &v) < 0)
			return -1;
		c->memory_mb = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "tx_drain_us")) {
		if (fh_conf_uint(val, 0, 1000, &v) < 0)
			return -1;
		c->tx_drain_us = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "hugepages")) {
		if (strcmp(val, "auto") && strcmp(val, "yes") && strcmp(val, "no")) {
			snprintf(err, elen, "auto, yes or no");
			return -1;
		}
		return set_str(c->hugepages, sizeof(c->hugepages), val, err, elen);
	}
	return -1;
}

static int conf_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t elen)
{
	struct dp_conf *c = ctx;
	unsigned long v;

	if (!strcmp(sec, "instance")) {
		if (!strcmp(key, "name")) {
			if (strchr(val, '/')) {
				snprintf(err, elen, "a name without '/'");
				return -1;
			}
			return set_str(c->instance, sizeof(c->instance), val, err, elen);
		}
		if (!strcmp(key, "log_dir"))
			return set_str(c->log_dir, sizeof(c->log_dir), val, err, elen);
		if (!strcmp(key, "group")) {
			if (!getgrnam(val)) {
				snprintf(err, elen, "no such group");
				return -1;
			}
			return set_str(c->group, sizeof(c->group), val, err, elen);
		}
		return 0; /* other instance keys belong to cp (it also deletes old log files) */
	}
	if (!strcmp(sec, "dpdk"))
		return dpdk_key(c, key, val, err, elen);
	if (!strncmp(sec, "port ", 5))
		return port_key(c, sec + 5, key, val, err, elen);
	if (strcmp(sec, "dataplane") != 0)
		return 0; /* sections of the control plane */
	if (!strcmp(key, "backend")) {
		if (strcmp(val, "socket") != 0 && strcmp(val, "dpdk") != 0) {
			snprintf(err, elen, "backend is socket or dpdk");
			return -1;
		}
		return set_str(c->backend, sizeof(c->backend), val, err, elen);
	}
	if (!strcmp(key, "workers")) {
		if (fh_conf_uint(val, 1, FH_MAX_WORKERS, &v) < 0)
			return -1;
		c->workers = (unsigned)v;
	} else if (!strcmp(key, "cores")) {
		return set_str(c->cores, sizeof(c->cores), val, err, elen);
	} else if (!strcmp(key, "bind")) {
		struct fh_addr a;

		if (fh_addr_parse(&a, val, 0) < 0) {
			snprintf(err, elen, "expected an IPv4 or IPv6 address");
			return -1;
		}
		return set_str(c->bind, sizeof(c->bind), val, err, elen);
	} else if (!strcmp(key, "base_port")) {
		/* worker i takes base_port + i */
		if (fh_conf_port(val, 1024, 65535 - FH_MAX_WORKERS, &v) < 0)
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
	} else if (!strcmp(key, "srtp")) {
		enum dp_srtp_kind k;

		if (dp_srtp_kind_parse(val, &k) < 0) {
			snprintf(err, elen, "srtp is auto, libsrtp or cryptodev");
			return -1;
		}
		return set_str(c->srtp, sizeof(c->srtp), val, err, elen);
	} else if (!strcmp(key, "srtp_pmds")) {
		return set_str(c->srtp_pmds, sizeof(c->srtp_pmds), val, err, elen);
	} else if (!strcmp(key, "log_level")) {
		enum fh_log_level l;

		if (fh_log_level_parse(val, &l) < 0) {
			snprintf(err, elen, "crit, error, warn, info or debug");
			return -1;
		}
		return set_str(c->log_level, sizeof(c->log_level), val, err, elen);
	} else {
		return -1;
	}
	return 0;
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

/* EAL's arguments; whether it gets hugepages. */
static bool build_eal(const struct dp_conf *c, const char *prog, const char *lcores,
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
	/* auto: hugepages when all the memory fits in the free ones (EAL would fail with less) */
	bool huge =
		dpdk && (!strcmp(c->hugepages, "yes") ||
			 (!strcmp(c->hugepages, "auto") && dp_hugepages_free_mb() >= c->memory_mb));

	if (!huge) {
		arg(a, "%s", "--no-huge");
		if (dpdk)
			FH_WARN("running without hugepages (%lu MiB free, [dpdk] memory = %u MiB): "
				"fine for tests and VMs, slower in production "
				"(scripts/hugepages.sh "
				"reserves them)",
				dp_hugepages_free_mb(), c->memory_mb);
	}
	/* socket backend: packet buffers, plus the crypto sessions of a cryptodev engine */
	unsigned mem = dpdk ? c->memory_mb
			    : 64 + c->workers * (c->mbufs * 2560u / (1u << 20) + 8 +
						 (!strcmp(c->srtp, "cryptodev") ? 48 : 0));

	snprintf(num, sizeof(num), "%u", mem);
	arg(a, "%s", "-m");
	arg(a, "%s", num);
	if (!dpdk || c->n_pci == 0)
		arg(a, "%s", "--no-pci");
	for (unsigned i = 0; dpdk && i < c->n_pci; i++)
		arg(a, "--allow=%s", c->pci[i]);
	for (unsigned i = 0; dpdk && i < c->n_vdev; i++)
		arg(a, "--vdev=%s", c->vdev[i]);
	return huge;
}

/* The pid of a funkhaus-dp that serves region_name now (its pid runs and its heartbeat, bumped
 * every 100 ms, moves), or 0. A region whose owner is gone is a crashed run's: it is replaced. */
static pid_t live_owner(const char *region_name)
{
	struct fh_region r;
	pid_t pid = 0;

	if (fh_region_peek(&r, region_name) < 0)
		return 0;
	uint64_t beat = __atomic_load_n(&r.hdr->heartbeat, __ATOMIC_ACQUIRE);

	pid = (pid_t)r.hdr->dp_pid;
	if (pid <= 0 || pid == getpid() || (kill(pid, 0) < 0 && errno != EPERM))
		pid = 0;
	for (int i = 0;
	     pid && i < 6 && __atomic_load_n(&r.hdr->heartbeat, __ATOMIC_ACQUIRE) == beat; i++)
		usleep(50000);
	if (__atomic_load_n(&r.hdr->heartbeat, __ATOMIC_ACQUIRE) == beat)
		pid = 0; /* a pid of a dead one taken by another process, or a stuck one */
	fh_region_close(&r);
	return pid;
}

/* The process holding EAL's lock on this instance's runtime configuration (a primary process
 * with the same --file-prefix), 0 when none or unknown. EAL fails then without an rte_errno. */
static pid_t eal_lock_holder(void)
{
	char path[600];
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int fd;
	pid_t pid = 0;

	snprintf(path, sizeof(path), "%s/config", rte_eal_get_runtime_dir());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		pid = fl.l_pid;
	close(fd);
	return pid;
}

static void another_dp(const char *instance, pid_t pid)
{
	FH_ERR("another funkhaus-dp of instance %s runs (pid %d): stop it first (systemctl stop "
	       "funkhaus-dp, or scripts/run.sh stop), or give this one another [instance] name",
	       instance, (int)pid);
}

/* The SRTP engine of worker i: cryptodev when asked for (or, with auto, on the dpdk backend
 * when a usable crypto PMD is there), libsrtp2 otherwise. NULL when cryptodev was asked for
 * and cannot be had. */
static struct dp_srtp_engine *srtp_engine(enum dp_srtp_kind kind, bool dpdk,
					  const struct dp_conf *c, unsigned i, int socket)
{
	char err[256];
	struct dp_srtp_engine *e;

	if (kind == DP_SRTP_CRYPTODEV || (kind == DP_SRTP_AUTO && dpdk)) {
		e = dp_srtp_engine_new(DP_SRTP_CRYPTODEV, i, socket, FH_MAX_SLOTS, c->srtp_pmds,
				       err, sizeof(err));
		if (e)
			return e;
		if (kind == DP_SRTP_CRYPTODEV) {
			FH_ERR("worker %u: srtp = cryptodev, but %s", i, err);
			return NULL;
		}
		FH_WARN("worker %u: no usable crypto PMD (%s); SRTP by libsrtp2", i, err);
	}
	e = dp_srtp_engine_new(DP_SRTP_LIBSRTP, i, socket, FH_MAX_SLOTS, NULL, err, sizeof(err));
	if (!e)
		FH_ERR("worker %u: %s", i, err);
	return e;
}

struct media_port {
	uint16_t id;
	bool tx_csum;
	char name[RTE_ETH_NAME_MAX_LEN];
	struct dp_net_conf net;
};

/* Matches the DPDK ports EAL found with their addresses: a [port DEVICE] section each, or the
 * [dpdk] addresses when there is exactly one port and no such section. */
static int media_ports(const struct dp_conf *c, struct media_port *mp, unsigned *n)
{
	unsigned k = 0, total = rte_eth_dev_count_avail();
	uint16_t pid;

	if (c->n_port && (c->net.has_ip4 || c->net.has_ip6)) {
		FH_ERR("media addresses in [dpdk] and in [port ...] sections: put each port's "
		       "addresses in its own [port DEVICE] section");
		return -1;
	}
	RTE_ETH_FOREACH_DEV(pid)
	{
		if (k == FH_MAX_PORTS) {
			FH_ERR("EAL found %u DPDK ports; funkhaus-dp drives at most %d (narrow "
			       "[dpdk] "
			       "pci/vdev)",
			       total, FH_MAX_PORTS);
			return -1;
		}
		struct media_port *m = &mp[k];
		const struct dp_net_conf *net = NULL;

		memset(m, 0, sizeof(*m));
		m->id = pid;
		if (rte_eth_dev_get_name_by_port(pid, m->name) != 0)
			snprintf(m->name, sizeof(m->name), "port%u", pid);
		for (unsigned i = 0; i < c->n_port; i++)
			if (!strcmp(c->port[i].dev, m->name))
				net = &c->port[i].net;
		if (!net && c->n_port == 0 && total == 1)
			net = &c->net;
		if (!net || (!net->has_ip4 && !net->has_ip6)) {
			FH_ERR("DPDK port %s has no media address: add a section [port %s] with "
			       "ipv4 = ... and/or ipv6 = ...",
			       m->name, m->name);
			return -1;
		}
		m->net = *net;
		k++;
	}
	for (unsigned i = 0; i < c->n_port; i++) {
		bool found = false;

		for (unsigned j = 0; j < k; j++)
			found = found || !strcmp(c->port[i].dev, mp[j].name);
		if (!found) {
			FH_ERR("[port %s]: EAL found no such device (a PCI address as in "
			       "0000:3b:00.0, or the vdev's name before its first comma)",
			       c->port[i].dev);
			return -1;
		}
	}
	*n = k;
	return k ? 0 : -1;
}

/* Starts every media port with a queue per worker and steers where the NIC can. */
static int media_ports_start(const struct dp_conf *c, struct media_port *mp, unsigned n,
			     struct rte_mempool **pools, struct fh_region *reg)
{
	char err[512];

	for (unsigned i = 0; i < n; i++) {
		struct media_port *m = &mp[i];

		if (dp_io_dpdk_port_init(m->id, c->workers, pools, m->net.mac, &m->tx_csum, err,
					 sizeof(err)) < 0) {
			FH_ERR("%s: %s", m->name, err);
			return -1;
		}
		/* one worker has one queue: nothing to steer */
		if (c->workers > 1) {
			if (dp_io_dpdk_steer(m->id, c->workers, (uint16_t)c->base_port, err,
					     sizeof(err)) == 0)
				FH_INFO("%s: rte_flow sends each worker's UDP port to its queue",
					m->name);
			else
				FH_INFO("%s: steering by RSS and hand-off between workers, counted "
					"as handoff (%s)",
					m->name, err);
		}
		m->net.port_lo = (uint16_t)c->base_port;
		m->net.port_hi = (uint16_t)(c->base_port + c->workers - 1);
		snprintf(reg->hdr->ports[i].name, sizeof(reg->hdr->ports[i].name), "%s", m->name);
		FH_INFO("media port %u (%s, NUMA node %d): MAC %02x:%02x:%02x:%02x:%02x:%02x, "
			"checksums %s",
			i, m->name, rte_eth_dev_socket_id(m->id), m->net.mac[0], m->net.mac[1],
			m->net.mac[2], m->net.mac[3], m->net.mac[4], m->net.mac[5],
			m->tx_csum ? "offloaded" : "in software");
	}
	reg->hdr->n_ports = n;
	return 0;
}

static void port_counters(struct fh_region *reg, const struct media_port *mp, unsigned n_ports)
{
	for (unsigned p = 0; p < n_ports && p < FH_MAX_PORTS; p++) {
		struct rte_eth_stats st;

		if (rte_eth_stats_get(mp[p].id, &st) != 0)
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
		.tx_drain_us = DP_TX_DRAIN_US_DEFAULT,
		.hugepages = "auto",
		.srtp = "auto",
	};
	bool done;
	int rc = fh_conf_main(argc, argv, "funkhaus-dp", conf_cb, &conf, &done);

	if (done)
		return rc;
	enum fh_log_level lvl = FH_LOG_INFO;

	fh_log_level_parse(conf.log_level, &lvl);
	fh_log_init("funkhaus-dp", lvl);
	if (conf.log_dir[0] && fh_log_to_dir(conf.log_dir) < 0) {
		FH_ERR("[instance] log_dir %s: %s; it must be a directory that uid %u can write",
		       conf.log_dir, strerror(errno), (unsigned)getuid());
		return 2;
	}
	bool dpdk = !strcmp(conf.backend, "dpdk");

	if (dpdk && conf.n_vdev + conf.n_pci == 0) {
		FH_ERR("backend dpdk needs a NIC: [dpdk] pci = ... or vdev = ...");
		return 2;
	}
	if (dpdk && !conf.net.has_ip4 && !conf.net.has_ip6 && !conf.n_port) {
		FH_ERR("backend dpdk needs a media address: [dpdk] ipv4 = ... and/or ipv6 = ...");
		return 2;
	}
	unsigned long huge_free = dp_hugepages_free_mb();

	if (dpdk && !strcmp(conf.hugepages, "yes") && huge_free < conf.memory_mb) {
		FH_ERR("[dpdk] hugepages = yes, but %lu MiB of hugepages are free and [dpdk] "
		       "memory "
		       "= %u MiB are needed: reserve them as root with scripts/hugepages.sh %uM "
		       "(or set hugepages = auto, which runs without when too few are free)",
		       huge_free, conf.memory_mb, conf.memory_mb);
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
	char region_name[64];
	pid_t other;

	snprintf(region_name, sizeof(region_name), "/funkhaus-%s", conf.instance);
	/* before EAL, whose own complaint would be "Cannot init config" */
	other = live_owner(region_name);
	if (other) {
		another_dp(conf.instance, other);
		return 1;
	}
	bool huge = build_eal(&conf, argv[0], lcores, &ea);

	if (rte_eal_init(ea.n, ea.v) < 0) {
		int e = rte_errno;

		other = eal_lock_holder();
		if (!other)
			other = live_owner(region_name);
		if (other)
			another_dp(conf.instance, other);
		else if (huge)
			FH_ERR("EAL initialisation with hugepages failed%s%s (see the EAL lines "
			       "above): the pages must be reserved and /dev/hugepages mounted and "
			       "writable for this user (scripts/hugepages.sh), or set [dpdk] "
			       "hugepages = no",
			       e ? ": " : "", e ? rte_strerror(e) : "");
		else
			FH_ERR("EAL initialisation failed%s%s (see the EAL lines above)",
			       e ? ": " : "", e ? rte_strerror(e) : "");
		return 1;
	}
	rc = 1;
	if (srtp_init() != srtp_err_status_ok) {
		FH_ERR("libsrtp2 initialisation failed");
		goto out_eal;
	}
	static struct media_port mp[FH_MAX_PORTS];
	unsigned n_mp = 0;

	if (dpdk && rte_eth_dev_count_avail() == 0) {
		FH_ERR("no DPDK port found (check [dpdk] pci/vdev and the NIC's driver binding)");
		goto out_eal;
	}
	if (dpdk && media_ports(&conf, mp, &n_mp) < 0)
		goto out_eal;

	uint16_t ports[FH_MAX_WORKERS];
	struct fh_region reg;

	for (unsigned i = 0; i < conf.workers; i++)
		ports[i] = (uint16_t)(conf.base_port + i);
	int e = fh_region_create(&reg, region_name, conf.workers, ports);

	if (e < 0) {
		FH_ERR("cannot create ring region %s: %s", region_name, strerror(-e));
		goto out_eal;
	}
	if (conf.group[0]) {
		/* an unprivileged funkhaus-cp in this group attaches; nobody else */
		struct group *gr = getgrnam(conf.group);

		if (!gr || fchown(reg.fd, (uid_t)-1, gr->gr_gid) < 0 || fchmod(reg.fd, 0660) < 0) {
			FH_ERR("ring region %s: cannot give it to group %s: %s", region_name,
			       conf.group, strerror(errno));
			goto out_region;
		}
	}

	struct dp_worker *workers = calloc(conf.workers, sizeof(*workers));
	struct rte_mempool *pools[FH_MAX_WORKERS];
	struct rte_ring *handoff[FH_MAX_WORKERS];
	unsigned started = 0;
	int socket = dpdk ? rte_eth_dev_socket_id(mp[0].id) : (int)rte_socket_id();

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
	if (dpdk && media_ports_start(&conf, mp, n_mp, pools, &reg) < 0)
		goto out_workers;
	enum dp_srtp_kind srtp_kind = DP_SRTP_AUTO;

	dp_srtp_kind_parse(conf.srtp, &srtp_kind);
	for (unsigned i = 0; i < conf.workers; i++) {
		struct dp_srtp_engine *eng = srtp_engine(srtp_kind, dpdk, &conf, i, socket);

		if (!eng)
			goto out_workers;
		struct dp_worker_conf wc = {
			.id = i,
			.io = dpdk ? &dp_io_dpdk_ops : &dp_io_socket_ops,
			.consent_timeout_s = conf.consent_timeout,
			.remb_bitrate = conf.max_video_bitrate,
			.srtp = eng,
		};

		snprintf(wc.io_conf.bind_addr, sizeof(wc.io_conf.bind_addr), "%s", conf.bind);
		wc.io_conf.port = ports[i];
		wc.io_conf.n_eth = n_mp;
		for (unsigned k = 0; k < n_mp; k++) {
			wc.io_conf.eth_port[k] = mp[k].id;
			wc.io_conf.net[k] = &mp[k].net;
			wc.io_conf.tx_csum_offload[k] = mp[k].tx_csum;
		}
		wc.io_conf.queue = (uint16_t)i;
		wc.io_conf.worker = i;
		wc.io_conf.n_workers = conf.workers;
		wc.io_conf.base_port = (uint16_t)conf.base_port;
		wc.io_conf.handoff = handoff;
		wc.io_conf.tx_drain_us = conf.tx_drain_us;
		FH_INFO("worker %u: SRTP by %s", i, dp_srtp_engine_name(eng));
		e = dp_worker_init(&workers[i], &wc, &reg, pools[i], &stop);
		if (e < 0) {
			dp_srtp_engine_free(eng);
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
			port_counters(&reg, mp, n_mp);
		__atomic_fetch_add(&reg.hdr->heartbeat, 1, __ATOMIC_RELEASE);
		fh_log_tick();
	}
	FH_INFO("stopping");
	rte_eal_mp_wait_lcore();
	rc = 0;
out_workers:
	for (unsigned i = 0; i < started; i++)
		dp_worker_fini(&workers[i]);
	free(workers);
	for (unsigned i = 0; i < n_mp; i++) {
		rte_eth_dev_stop(mp[i].id);
		rte_eth_dev_close(mp[i].id);
	}
out_region:
	fh_region_close(&reg);
out_eal:
	srtp_shutdown();
	rte_eal_cleanup();
	return rc;
}
