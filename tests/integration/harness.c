/* harness: daemon lifecycle for integration tests (see harness.h). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* netns: run the daemon inside that network namespace (the DPDK tests put the SFU's NIC
 * in a namespace of its own); NULL runs it here. */
static pid_t spawn(const char *bin, const char *conf, const char *log, const char *netns)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* a test of the daemon at its descriptor limit: soft and hard, in the child only */
		const char *nofile = getenv("FUNKHAUS_NOFILE");

		if (nofile) {
			struct rlimit rl = {(rlim_t)atol(nofile), (rlim_t)atol(nofile)};

			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (netns)
			execlp("ip", "ip", "netns", "exec", netns, bin, "-c", conf, (char *)NULL);
		else
			execl(bin, bin, "-c", conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

int harness_count_in_log(const char *log, const char *what)
{
	char line[512];
	FILE *f = fopen(log, "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, what))
			n++;
	if (f)
		fclose(f);
	return n;
}

int harness_start_cp(struct harness *h)
{
	char log[300];

	snprintf(log, sizeof(log), "%s/cp.log", h->dir);
	/* where its lines go when the test gives it a log_dir: that day's file */
	const char *watch = getenv("FUNKHAUS_CP_LOG") ? getenv("FUNKHAUS_CP_LOG") : log;
	int before = harness_count_in_log(watch, "dataplane attached");

	h->cp = spawn(h->cp_bin, h->conf, log, NULL);
	/* ready once this run has logged that it attached to the dataplane */
	for (int i = 0; i < 100; i++) {
		if (harness_count_in_log(watch, "dataplane attached") > before)
			return 0;
		sleep_ms(100);
	}
	fprintf(stderr, "funkhaus-cp did not attach to the dataplane\n");
	return -1;
}

int harness_start_dp(struct harness *h)
{
	char log[300];
	struct fh_region old;
	uint64_t old_gen = 0;

	/* after a kill the dead one's region is still there: wait for a new one */
	if (fh_region_peek(&old, h->region) == 0) {
		old_gen = old.hdr->generation;
		fh_region_close(&old);
	}
	snprintf(log, sizeof(log), "%s/dp.log", h->dir);
	h->dp = spawn(h->dp_bin, h->conf, log, getenv("FUNKHAUS_DP_NETNS"));
	for (int i = 0; i < 100; i++) {
		struct fh_region r;

		/* up once the main loop beats: ports started, workers launched */
		if (fh_region_peek(&r, h->region) == 0 && r.hdr->generation != old_gen &&
		    r.hdr->heartbeat > 0) {
			fh_region_close(&r);
			/* the test's own set-up once the dataplane runs (moving a tap device) */
			const char *after = getenv("FUNKHAUS_AFTER_DP");

			if (after && system(after) != 0) {
				fprintf(stderr, "FUNKHAUS_AFTER_DP failed: %s\n", after);
				return -1;
			}
			return 0;
		}
		if (r.hdr)
			fh_region_close(&r);
		sleep_ms(100);
	}
	fprintf(stderr, "funkhaus-dp did not create its region\n");
	return -1;
}

int harness_start(struct harness *h, char **argv, unsigned workers)
{
	char cmd[600];
	unsigned salt = (unsigned)getpid() % 500;

	memset(h, 0, sizeof(*h));
	h->dp_bin = argv[1];
	h->cp_bin = argv[2];
	snprintf(h->dir, sizeof(h->dir), "/tmp/funkhaus-it-XXXXXX");
	if (!mkdtemp(h->dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s %s/tls >/dev/null", argv[3], h->dir);
	if (system(cmd) != 0)
		return -1;
	h->port = (uint16_t)(20000 + salt * 2);
	h->base_port = (uint16_t)(30000 + salt * 8);
	snprintf(h->region, sizeof(h->region), "/funkhaus-it%d", (int)getpid());
	snprintf(h->conf, sizeof(h->conf), "%s/funkhaus.conf", h->dir);
	FILE *f = fopen(h->conf, "w");

	if (!f)
		return -1;
	fprintf(f,
		"[instance]\nname = it%d\n[dataplane]\nworkers = %u\nbase_port = %u\n"
		"bind = %s\nconsent_timeout = %u\n[controlplane]\nport = %u\n"
		"bind = 127.0.0.1\ntls_cert = %s/tls/cert.pem\ntls_key = %s/tls/key.pem\n"
		"web_root = %s\nannounce = %s\nsignalling_rate = 50\nstate_dir = %s/state\n"
		"drain_grace = 2\n"
		"[tenant]\nname = test\ndisplay_name = Funkhaus test\n",
		(int)getpid(), workers, h->base_port,
		getenv("FUNKHAUS_MEDIA_BIND") ? getenv("FUNKHAUS_MEDIA_BIND") : "127.0.0.1",
		HARNESS_CONSENT_S, h->port, h->dir, h->dir, argv[4],
		getenv("FUNKHAUS_ANNOUNCE") ? getenv("FUNKHAUS_ANNOUNCE") : "127.0.0.1", h->dir);
	/* more configuration from the test (the DPDK backend's NIC and addresses) */
	const char *extra = getenv("FUNKHAUS_EXTRA_CONF");
	FILE *x = extra ? fopen(extra, "r") : NULL;
	char line[512];

	while (x && fgets(line, sizeof(line), x))
		fputs(line, f);
	if (x)
		fclose(x);
	fclose(f);
	if (harness_start_dp(h) < 0)
		return -1;
	return harness_start_cp(h);
}

void harness_kill_cp(struct harness *h, int sig)
{
	if (h->cp > 0) {
		kill(h->cp, sig);
		waitpid(h->cp, NULL, 0);
		h->cp = 0;
	}
}

void harness_kill_dp(struct harness *h, int sig)
{
	if (h->dp > 0) {
		kill(h->dp, sig);
		waitpid(h->dp, NULL, 0);
		h->dp = 0;
	}
}

static uint64_t peek(struct harness *h, unsigned w, int drop, int idx)
{
	struct fh_region r;
	uint64_t v = 0;

	if (fh_region_peek(&r, h->region) < 0)
		return 0;
	if (w < r.hdr->n_workers) {
		const struct fh_counters *c = fh_region_counters(&r, w);

		v = drop ? c->drop[idx] : c->ctr[idx];
	}
	fh_region_close(&r);
	return v;
}

int harness_port(struct harness *h, unsigned port, struct fh_port_counters *out)
{
	struct fh_region r;
	int rc = -1;

	if (fh_region_peek(&r, h->region) < 0)
		return -1;
	if (port < r.hdr->n_ports && port < FH_MAX_PORTS) {
		*out = r.hdr->ports[port];
		rc = 0;
	}
	fh_region_close(&r);
	return rc;
}

uint64_t harness_drop(struct harness *h, unsigned worker, enum fh_drop d)
{
	return peek(h, worker, 1, d);
}

int harness_srtp_engine(struct harness *h, unsigned worker, char *out, size_t n)
{
	struct fh_region r;
	int rc = -1;

	if (fh_region_peek(&r, h->region) < 0)
		return -1;
	if (worker < r.hdr->n_workers) {
		const struct fh_counters *c = fh_region_counters(&r, worker);

		snprintf(out, n, "%.*s", (int)sizeof(c->srtp_engine), c->srtp_engine);
		rc = 0;
	}
	fh_region_close(&r);
	return rc;
}

unsigned harness_participants(struct harness *h, unsigned worker)
{
	struct fh_region r;
	unsigned n = 0;

	if (fh_region_peek(&r, h->region) < 0)
		return 0;
	if (worker < r.hdr->n_workers)
		n = fh_region_counters(&r, worker)->participants;
	fh_region_close(&r);
	return n;
}

uint64_t harness_ctr(struct harness *h, unsigned worker, enum fh_ctr c)
{
	return peek(h, worker, 0, c);
}

/* Every non-zero counter of every worker, for the log of a failed test. */
static void dump_counters(struct harness *h)
{
	struct fh_region r;

	if (fh_region_peek(&r, h->region) < 0)
		return;
	for (unsigned w = 0; w < r.hdr->n_workers; w++) {
		const struct fh_counters *c = fh_region_counters(&r, w);

		fprintf(stderr, "worker %u:", w);
		for (int i = 0; i < FH_CTR_MAX; i++)
			if (c->ctr[i])
				fprintf(stderr, " %s=%llu", fh_ctr_names[i],
					(unsigned long long)c->ctr[i]);
		for (int i = 0; i < FH_DROP_MAX; i++)
			if (c->drop[i])
				fprintf(stderr, " drop_%s=%llu", fh_drop_names[i],
					(unsigned long long)c->drop[i]);
		fprintf(stderr, "\n");
	}
	fh_region_close(&r);
}

void harness_stop(struct harness *h, bool show_logs)
{
	if (show_logs)
		dump_counters(h);
	char cmd[1024];

	harness_kill_cp(h, SIGTERM);
	if (h->dp > 0) {
		kill(h->dp, SIGTERM);
		waitpid(h->dp, NULL, 0);
		h->dp = 0;
	}
	if (getenv("FUNKHAUS_KEEP_LOGS")) {
		fprintf(stderr, "logs kept in %s\n", h->dir);
		return;
	}
	if (show_logs)
		snprintf(cmd, sizeof(cmd), "cat %s/dp.log %s/cp.log >&2; rm -rf %s", h->dir, h->dir,
			 h->dir);
	else
		snprintf(cmd, sizeof(cmd), "rm -rf %s", h->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", h->dir);
}
