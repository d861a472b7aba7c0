/*
 * funkhaus-cp: the control plane process. Reads the configuration, creates this run's DTLS
 * certificate, attaches to the dataplane's ring region (waiting for it when it is not up yet)
 * and serves the web client, signalling, the admin API and health on one TLS port. SIGHUP
 * reloads tenants and admin tokens; SIGTERM drains (no new rooms) and stops when the last room
 * ended or the grace period is over; SIGINT stops at once. When it stops, running calls keep
 * their media: the dataplane does not depend on it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cp_api.h"
#include "cp_cluster.h"
#include "cp_dp.h"
#include "cp_limits.h"
#include "cp_room.h"
#include "cp_server.h"
#include "cp_store.h"
#include "cp_tenant.h"
#include "fh_conf.h"
#include "fh_log.h"
#include "fh_region.h"

struct cp_conf {
	char instance[32];
	char log_level[16];
	unsigned port;
	char bind[64];
	char cert[512];
	char key[512];
	char web_root[512];
	char announce[512];
	unsigned max_participants;
	unsigned dtls_timeout;
	unsigned msg_rate;
	bool chat;
	char tenants_dir[512];
	char state_dir[512];
	char log_dir[512];
	unsigned log_retention_days;
	unsigned drain_grace;
	char admin_bind[64];
	unsigned admin_port;
	char turn_secret_file[512];
	char turn_urls[1024];
	unsigned turn_ttl;
	struct cp_api_conf api;
	struct cp_limits_conf limits;
	struct cp_cluster_conf cluster;
};

static int conf_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t elen)
{
	struct cp_conf *c = ctx;
	unsigned long v;

#define STR(field)                                               \
	do {                                                     \
		if (strlen(val) >= sizeof(c->field)) {           \
			snprintf(err, elen, "value too long");   \
			return -1;                               \
		}                                                \
		snprintf(c->field, sizeof(c->field), "%s", val); \
	} while (0)

	if (!strcmp(sec, "instance")) {
		if (!strcmp(key, "name")) {
			if (!*val || strchr(val, '/')) {
				snprintf(err, elen, "a name without '/'");
				return -1;
			}
			STR(instance);
		} else if (!strcmp(key, "log_dir")) {
			STR(log_dir);
		} else if (!strcmp(key, "group")) {
			return 0; /* funkhaus-dp's: the region's group */
		} else if (!strcmp(key, "log_retention_days")) {
			if (fh_conf_uint(val, 1, 3650, &v) < 0)
				return -1;
			c->log_retention_days = (unsigned)v;
		} else {
			return -1;
		}
		return 0;
	}
	if (!strcmp(sec, "dataplane") || !strcmp(sec, "dpdk") || !strncmp(sec, "port ", 5))
		return 0; /* funkhaus-dp's */
	if (!strcmp(sec, "turn")) {
		if (!strcmp(key, "secret_file"))
			STR(turn_secret_file);
		else if (!strcmp(key, "urls")) {
			for (const char *p = val; *p; p++)
				if (*p < 0x21 && *p != ' ')
					return -1;
			if (strncmp(val, "turn:", 5) && strncmp(val, "turns:", 6)) {
				snprintf(err, elen, "turn: or turns: URLs, comma-separated");
				return -1;
			}
			STR(turn_urls);
		} else if (!strcmp(key, "ttl")) {
			if (fh_conf_uint(val, 60, 86400, &v) < 0)
				return -1;
			c->turn_ttl = (unsigned)v;
		} else {
			return -1;
		}
		return 0;
	}
	if (!strcmp(sec, "api")) {
		if (!strcmp(key, "token")) {
			if (c->api.n_tokens == CP_API_TOKENS) {
				snprintf(err, elen, "at most %d tokens", CP_API_TOKENS);
				return -1;
			}
			return cp_api_parse_token(val, &c->api.tokens[c->api.n_tokens++], err,
						  elen);
		}
		if (!strcmp(key, "metrics")) {
			if (strcmp(val, "public") && strcmp(val, "token")) {
				snprintf(err, elen, "public or token");
				return -1;
			}
			c->api.metrics_public = !strcmp(val, "public");
			return 0;
		}
		if (!strcmp(key, "audit_dir")) {
			STR(api.audit_dir);
			return 0;
		}
		if (!strcmp(key, "listen")) {
			/* ADDRESS:PORT, [IPv6]:PORT */
			const char *colon = strrchr(val, ':');
			char host[64];
			size_t hl = colon ? (size_t)(colon - val) : 0;

			if (!colon || hl == 0 || hl >= sizeof(host) ||
			    fh_conf_uint(colon + 1, 1, 65535, &v) < 0) {
				snprintf(err, elen,
					 "ADDRESS:PORT, e.g. 127.0.0.1:9443 or [::1]:9443");
				return -1;
			}
			if (val[0] == '[' && val[hl - 1] == ']')
				snprintf(host, sizeof(host), "%.*s", (int)hl - 2, val + 1);
			else
				snprintf(host, sizeof(host), "%.*s", (int)hl, val);
			snprintf(c->admin_bind, sizeof(c->admin_bind), "%s", host);
			c->admin_port = (unsigned)v;
			return 0;
		}
		return -1;
	}
	if (!strcmp(sec, "tenant"))
		return 0; /* read by cp_tenant */
	if (!strcmp(sec, "cluster"))
		return cp_cluster_conf_set(&c->cluster, key, val, err, elen);
	if (!strcmp(sec, "limits"))
		return cp_limits_set(&c->limits, key, val, err, elen);
	if (strcmp(sec, "controlplane") != 0) {
		snprintf(err, elen, "unknown section");
		return -1;
	}
	if (!strcmp(key, "port")) {
		if (fh_conf_port(val, 1, 65535, &v) < 0)
			return -1;
		c->port = (unsigned)v;
	} else if (!strcmp(key, "bind")) {
		STR(bind);
	} else if (!strcmp(key, "tls_cert")) {
		STR(cert);
	} else if (!strcmp(key, "tls_key")) {
		STR(key);
	} else if (!strcmp(key, "web_root")) {
		STR(web_root);
	} else if (!strcmp(key, "announce")) {
		STR(announce);
	} else if (!strcmp(key, "max_participants")) {
		if (fh_conf_uint(val, 2, CP_TENANT_PARTS_MAX, &v) < 0) {
			snprintf(err, elen, "2 to %d", CP_TENANT_PARTS_MAX);
			return -1;
		}
		c->max_participants = (unsigned)v;
	} else if (!strcmp(key, "dtls_timeout")) {
		if (fh_conf_uint(val, 5, 120, &v) < 0)
			return -1;
		c->dtls_timeout = (unsigned)v;
	} else if (!strcmp(key, "signalling_rate")) {
		if (fh_conf_uint(val, 1, 1000, &v) < 0)
			return -1;
		c->msg_rate = (unsigned)v;
	} else if (!strcmp(key, "drain_grace")) {
		if (fh_conf_uint(val, 0, 86400, &v) < 0)
			return -1;
		c->drain_grace = (unsigned)v;
	} else if (!strcmp(key, "tenants_dir")) {
		STR(tenants_dir);
	} else if (!strcmp(key, "state_dir")) {
		STR(state_dir);
	} else if (!strcmp(key, "chat")) {
		if (fh_conf_bool(val, &c->chat) < 0)
			return -1;
	} else if (!strcmp(key, "log_level")) {
		enum fh_log_level l;

		if (fh_log_level_parse(val, &l) < 0) {
			snprintf(err, elen, "crit, error, warn, info or debug");
			return -1;
		}
		STR(log_level);
	} else {
		return -1;
	}
	return 0;
#undef STR
}

/* "auto": every IPv4 address of an interface that is up, loopback included. */
static unsigned announce_auto(struct fh_addr *out, unsigned max)
{
	struct ifaddrs *ifa, *i;
	unsigned n = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i && n < max; i = i->ifa_next) {
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || i->ifa_addr->sa_family != AF_INET)
			continue;
		if (fh_addr_from_sockaddr(&out[n], i->ifa_addr, sizeof(struct sockaddr_in)) == 0)
			n++;
	}
	freeifaddrs(ifa);
	return n;
}

static unsigned announce_parse(const char *list, struct fh_addr *out, unsigned max)
{
	char buf[512], *save = NULL;
	unsigned n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ", ", &save); t && n < max; t = strtok_r(NULL, ", ", &save)) {
		if (!strcmp(t, "auto")) {
			n += announce_auto(out + n, max - n);
			continue;
		}
		if (fh_addr_parse(&out[n], t, 0) < 0) {
			FH_ERR("announce: %s is not an IP address", t);
			return 0;
		}
		n++;
	}
	return n;
}

/* Every signalling connection, HTTP request and file served is a descriptor: take all the
 * hard limit allows (the systemd unit sets LimitNOFILE) and say what that is. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			FH_WARN("descriptor limit stays %llu: %s", (unsigned long long)was,
				strerror(errno));
			return;
		}
	}
	FH_INFO("descriptor limit %llu", (unsigned long long)rl.rlim_cur);
}

static volatile sig_atomic_t reload_asked, term_asked;
static struct cp_conf *running;

/* SIGTERM drains: no new rooms, running ones go on until they end or the grace period is
 * over. A second SIGTERM, or SIGINT, stops at once. */
static void on_signal(int sig)
{
	if (sig == SIGTERM && !term_asked) {
		term_asked = 1;
		return;
	}
	cp_server_stop();
}

static void on_hup(int sig)
{
	(void)sig;
	reload_asked = 1;
}

/* The tenants of the main configuration and of tenants_dir; a set that does not load leaves
 * the running one in place. */
static int load_tenants_err(char *err, size_t elen)
{
	const struct cp_conf *c = running;
	struct cp_tenants ts = {0};
	struct cp_tenant_defaults def = {.max_participants = c->max_participants, .chat = c->chat};

	if (cp_tenants_load(fh_conf_path(), c->tenants_dir, &def, &ts, err, elen) < 0) {
		FH_ERR("tenants not loaded: %s", err);
		return -1;
	}
	FH_INFO("%u tenant(s) in force", ts.n);
	cp_room_set_tenants(&ts);
	return 0;
}

static int load_tenants(void)
{
	char err[1024];

	return load_tenants_err(err, sizeof(err));
}

/* The [api] section again: tokens added or revoked take effect with SIGHUP. */
static int api_only(void *ctx, const char *sec, const char *key, const char *val, char *err,
		    size_t elen)
{
	return strcmp(sec, "api") ? 0 : conf_cb(ctx, sec, key, val, err, elen);
}

static void reload_api(void)
{
	struct cp_conf *c = calloc(1, sizeof(*c));
	char err[512];

	if (!c)
		return;
	c->api = running->api;
	c->api.n_tokens = 0;
	if (fh_conf_load(fh_conf_path(), api_only, c, err, sizeof(err)) < 0) {
		FH_ERR("[api] not reloaded: %s", err);
	} else {
		running->api = c->api;
		cp_api_init(&running->api);
		FH_INFO("%u admin API token(s) in force", c->api.n_tokens);
	}
	free(c);
}

/* The daemons' log files go after the strictest retention of the instance and its tenants. */
static void expire_logs(void)
{
	unsigned days = cp_room_log_days(running->log_retention_days);

	if (!running->log_dir[0])
		return;
	unsigned n = fh_log_expire(running->log_dir, cp_clock_s(), days);

	if (n)
		FH_INFO("%u log file(s) older than %u days deleted", n, days);
}

static void tick(uint64_t now_ms)
{
	static uint64_t last_expiry;

	static uint64_t drain_until;

	if (reload_asked) {
		reload_asked = 0;
		FH_INFO("SIGHUP: reloading tenants and admin tokens");
		load_tenants();
		reload_api();
		expire_logs();
	}
	if (term_asked) {
		int ready;
		unsigned rooms, parts;

		if (!drain_until) {
			drain_until = now_ms + running->drain_grace * 1000ull + 1;
			FH_INFO("SIGTERM: draining, stopping when the last room ends or in %u s",
				running->drain_grace);
			cp_room_set_draining(true, running->drain_grace);
		}
		cp_room_stats(&ready, &rooms, &parts);
		if (rooms == 0 || now_ms >= drain_until)
			cp_server_stop();
	}
	static uint64_t last_retry;

	if (now_ms - last_expiry >= 60000) {
		last_expiry = now_ms;
		expire_logs();
	}
	if (now_ms - last_retry >= 2000) {
		last_retry = now_ms;
		cp_store_retry(); /* room records that waited for the disk */
	}
	cp_room_tick(now_ms);
	cp_cluster_tick(now_ms);
	static uint64_t last_load;

	if (now_ms - last_load >= 500) {
		int ready;
		unsigned rooms, parts;

		last_load = now_ms;
		cp_room_stats(&ready, &rooms, &parts);
		cp_cluster_load(rooms, parts, cp_room_draining());
	}
	fh_log_tick();
}

int main(int argc, char **argv)
{
	struct cp_conf conf = {
		.instance = "default",
		.log_level = "info",
		.port = 8443,
		.web_root = "controlplane/web",
		.announce = "auto",
		.max_participants = 100,
		.dtls_timeout = 30,
		.msg_rate = 20,
		.chat = true,
		.log_retention_days = 7,
		.drain_grace = 300,
		.turn_ttl = 3600,
		.limits = cp_limits_defaults,
	};
	bool done;
	int rc = fh_conf_main(argc, argv, "funkhaus-cp", conf_cb, &conf, &done);

	if (done)
		return rc;
	char cerr[600];

	if (cp_cluster_conf_finish(&conf.cluster, cerr, sizeof(cerr)) < 0) {
		fprintf(stderr, "funkhaus-cp: %s\n", cerr);
		return 2;
	}
	if (!conf.cert[0] || !conf.key[0]) {
		fprintf(stderr, "funkhaus-cp: [controlplane] tls_cert and tls_key are required\n");
		return 2;
	}
	enum fh_log_level lvl = FH_LOG_INFO;

	fh_log_level_parse(conf.log_level, &lvl);
	fh_log_init("funkhaus-cp", lvl);
	if (conf.log_dir[0] && fh_log_to_dir(conf.log_dir) < 0) {
		FH_ERR("[instance] log_dir %s: %s; it must be a directory that uid %u can write",
		       conf.log_dir, strerror(errno), (unsigned)getuid());
		return 2;
	}

	struct fh_addr announce[16];
	unsigned n_ann = announce_parse(conf.announce, announce, 16);

	if (n_ann == 0) {
		FH_ERR("no media address to announce (controlplane.announce = %s)", conf.announce);
		return 2;
	}
	char region[64];

	snprintf(region, sizeof(region), "/funkhaus-%s", conf.instance);
	struct cp_room_conf room_conf = {
		.max_participants = conf.max_participants,
		.announce = announce,
		.n_announce = n_ann,
		.dtls_timeout_s = conf.dtls_timeout,
		.chat = conf.chat,
	};

	if (conf.turn_secret_file[0] || conf.turn_urls[0]) {
		FILE *f = fopen(conf.turn_secret_file, "r");
		size_t n =
			f ? fread(room_conf.turn_secret, 1, sizeof(room_conf.turn_secret), f) : 0;

		if (f)
			fclose(f);
		while (n && (room_conf.turn_secret[n - 1] == '\n' ||
			     room_conf.turn_secret[n - 1] == '\r'))
			n--;
		if (!conf.turn_urls[0] || n < 16) {
			FH_ERR("[turn] needs urls and a secret_file with a secret of 16 bytes or "
			       "more (%s)",
			       conf.turn_secret_file[0] ? conf.turn_secret_file : "none given");
			return 2;
		}
		room_conf.turn_secret_len = n;
		snprintf(room_conf.turn_urls, sizeof(room_conf.turn_urls), "%s", conf.turn_urls);
		room_conf.turn_ttl = conf.turn_ttl;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	char err[1024];
	struct rlimit nofile;

	/* every descriptor the hard limit allows; connections are capped below what we get */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
		nofile.rlim_cur = 1024;
	cp_limits_init(&conf.limits,
		       nofile.rlim_cur > 10000000 ? 10000000 : (unsigned)nofile.rlim_cur);
	if (conf.limits.conns_max && conf.limits.conns_max + 64 > nofile.rlim_cur)
		FH_WARN("[limits] connections = %u is close to the descriptor limit %llu: raise "
			"LimitNOFILE",
			conf.limits.conns_max, (unsigned long long)nofile.rlim_cur);

	if (cp_store_open(conf.state_dir, err, sizeof(err)) < 0) {
		FH_ERR("room records: %s", err);
		return 1;
	}
	if (!cp_store_enabled())
		FH_WARN("no [controlplane] state_dir: rooms are kept in memory only, generated "
			"links "
			"end when their room empties");
	if (cp_room_init(&room_conf, region, &cp_server_conn_ops) < 0)
		return 1;
	running = &conf;
	if (load_tenants() < 0) {
		cp_room_fini();
		return 2;
	}
	struct cp_server_conf sc = {
		.port = (uint16_t)conf.port,
		.cert = conf.cert,
		.key = conf.key,
		.web_root = conf.web_root,
		.bind = conf.bind[0] ? conf.bind : NULL,
		.admin_port = (uint16_t)conf.admin_port,
		.admin_bind = conf.admin_bind[0] ? conf.admin_bind : NULL,
		.msg_rate = conf.msg_rate,
	};

	snprintf(conf.api.tenants_dir, sizeof(conf.api.tenants_dir), "%s", conf.tenants_dir);
	snprintf(conf.api.instance, sizeof(conf.api.instance), "%s", conf.instance);
	if (!conf.api.audit_dir[0])
		snprintf(conf.api.audit_dir, sizeof(conf.api.audit_dir), "%s",
			 conf.log_dir[0] ? conf.log_dir : conf.state_dir);
	conf.api.drain_grace_s = conf.drain_grace;
	conf.api.reload = load_tenants_err;
	cp_api_init(&conf.api);
	if (!conf.api.n_tokens)
		FH_WARN("no [api] token: the admin API refuses every request");
	if (cp_server_init(&sc) < 0) {
		cp_room_fini();
		return 1;
	}
	if (cp_cluster_start(&conf.cluster, &cp_room_cluster_handlers) < 0) {
		cp_server_fini();
		cp_room_fini();
		return 1;
	}
	OPENSSL_cleanse(conf.cluster.password, sizeof(conf.cluster.password));
	OPENSSL_cleanse(conf.cluster.secret, sizeof(conf.cluster.secret));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_hup);
	FH_INFO("instance %s: serving https://localhost:%u/ (%u media address(es) announced)",
		conf.instance, conf.port, n_ann);
	cp_server_run(tick);
	FH_INFO("stopping; running calls keep their media");
	/* Detach first: closing the connections must not tear down calls in the dataplane. */
	cp_dp_fini();
	cp_server_fini();
	{
		int ready;
		unsigned rooms, parts;

		/* a node that holds no room leaves the cluster's list now; one that does is
		 * taken over when its record expires (its calls go on in the dataplane, and a
		 * control plane started again in time adopts them) */
		cp_room_stats(&ready, &rooms, &parts);
		cp_cluster_stop(rooms == 0);
	}
	cp_room_fini();
	cp_limits_fini();
	cp_store_close();
	return 0;
}
