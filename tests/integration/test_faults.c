/*
 * Integration test of faults and start-up errors: what an operator sees when something is
 * wrong. Start-up errors name the key and the value and say what to do (a value that is not a
 * port, a port in use, hugepages asked for but not reserved, a log_dir that cannot be written, a
 * second funkhaus-dp of the same instance). A dataplane whose heartbeat stops is not ready
 * within a second and ready again when it beats. After kill -9 of funkhaus-dp, /readyz turns 503
 * at once and joins are refused with 5000 instead of being accepted and failing later; the clients
 * of the calls that died are told (5000) and their connection closed so that they rejoin; with
 * the dead dataplane's region left and none running, funkhaus-cp waits without attaching to
 * it; once funkhaus-dp is back, new calls work. funkhaus-cp raises its descriptor limit.
 *
 * Usage: test_faults DP_BIN CP_BIN GEN_CERT WEB_ROOT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "calls.h"
#include "fh_curlbody.h"

int failures;
struct harness h;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* GET path on the harness' port: the status, the body in *body when asked for (free it). */
static long get(const char *path, char **body)
{
	CURL *c = curl_easy_init();
	struct fh_curlbody b = {0};
	char url[256];
	long status = -1;

	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", h.port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L); /* the harness' self-signed cert */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fh_curlbody_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (body)
		*body = b.p ? b.p : strdup("");
	else
		free(b.p);
	return status;
}

/* Runs bin -c conf (killed after 15 s); its output in out, its exit status returned (124
 * when it was still running: it did not refuse to start). */
static int run(const char *bin, const char *conf, char *out, size_t n)
{
	char cmd[1024];
	size_t len = 0;

	snprintf(cmd, sizeof(cmd), "timeout 15 %s -c %s 2>&1", bin, conf);
	FILE *p = popen(cmd, "r");

	out[0] = '\0';
	if (!p)
		return -1;
	while (len + 1 < n) {
		size_t r = fread(out + len, 1, n - len - 1, p);

		if (r == 0)
			break;
		len += r;
	}
	out[len] = '\0';
	int st = pclose(p);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A configuration of its own instance (name it<pid>x, ports next to the harness' ones) with
 * extra lines appended; its path. */
static const char *conf_with(const char *name, const char *extra)
{
	static char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.conf", h.dir, name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "FAIL: cannot write %s\n", path);
		exit(1);
	}
	fprintf(f,
		"[instance]\nname = it%dx\n[dataplane]\nbind = 127.0.0.1\nbase_port = %u\n"
		"[controlplane]\nport = %u\nbind = 127.0.0.1\ntls_cert = %s/tls/cert.pem\n"
		"tls_key = %s/tls/key.pem\nannounce = 127.0.0.1\n"
		"[tenant]\nname = test\ndisplay_name = Funkhaus test\n%s",
		(int)getpid(), h.base_port + 4, h.port + 1, h.dir, h.dir, extra);
	fclose(f);
	return path;
}

static void expect_refused(const char *what, const char *bin, const char *conf, const char *want,
			   const char *not_want)
{
	char out[16384];
	int rc = run(bin, conf, out, sizeof(out));

	EXPECT(rc != 0 && rc != 124, "%s: exit status %d, expected a refusal to start", what, rc);
	EXPECT(strstr(out, want) != NULL, "%s: the output does not say \"%s\":\n%s", what, want,
	       out);
	if (not_want)
		EXPECT(strstr(out, not_want) == NULL, "%s: the output says \"%s\":\n%s", what,
		       not_want, out);
}

static void startup_errors(void)
{
	char log_file[300], extra[600], out[16384];

	expect_refused("[dataplane] base_port = banana", h.dp_bin,
		       conf_with("port-banana", "[dataplane]\nbase_port = banana\n"), "not a port",
		       "unknown key");
	expect_refused("[controlplane] port = banana", h.cp_bin,
		       conf_with("cp-port-banana", "[controlplane]\nport = banana\n"), "not a port",
		       "unknown key");
	expect_refused("[dataplane] workers = lots", h.dp_bin,
		       conf_with("workers", "[dataplane]\nworkers = lots\n"), "1 to 64",
		       "unknown key");
	/* a misspelt key is still called what it is */
	expect_refused("[dataplane] base_prot", h.dp_bin,
		       conf_with("typo", "[dataplane]\nbase_prot = 40000\n"), "unknown key", NULL);

	/* the harness' funkhaus-cp holds its port */
	snprintf(extra, sizeof(extra), "[controlplane]\nport = %u\n", h.port);
	expect_refused("port in use", h.cp_bin, conf_with("port-in-use", extra),
		       "Address already in use", "certificate");

	/* more than any machine has free */
	expect_refused("hugepages = yes without hugepages", h.dp_bin,
		       conf_with("hugepages", "[dataplane]\nbackend = dpdk\n[dpdk]\n"
					      "vdev = net_null0\nipv4 = 192.0.2.10/24\n"
					      "hugepages = yes\nmemory = 1000000\n"),
		       "scripts/hugepages.sh", "Permission denied");

	/* a log_dir that is a file: not one root could write either */
	snprintf(log_file, sizeof(log_file), "%s/not-a-dir", h.dir);
	put_file(h.dir, "not-a-dir", "x\n");
	snprintf(extra, sizeof(extra), "[instance]\nlog_dir = %s\n", log_file);
	expect_refused("dataplane log_dir is a file", h.dp_bin, conf_with("dp-logdir", extra),
		       "log_dir", NULL);
	expect_refused("control plane log_dir is a file", h.cp_bin, conf_with("cp-logdir", extra),
		       "log_dir", NULL);

	/* the harness' funkhaus-dp runs with this very configuration */
	char pid[32];
	int rc = run(h.dp_bin, h.conf, out, sizeof(out));

	snprintf(pid, sizeof(pid), "pid %d", (int)h.dp);
	EXPECT(rc != 0 && rc != 124, "a second funkhaus-dp: exit status %d", rc);
	EXPECT(strstr(out, "another funkhaus-dp") && strstr(out, pid),
	       "a second funkhaus-dp does not say that one runs (%s):\n%s", pid, out);
	EXPECT(!strstr(out, "Success"), "a second funkhaus-dp blames \"Success\":\n%s", out);
	EXPECT(get("/readyz", NULL) == 200, "the first funkhaus-dp still serves");
}

/* Polls /readyz until it answers want; the milliseconds that took, or -1 after limit_ms. */
static long until_ready_is(long want, unsigned limit_ms)
{
	uint64_t t0 = now_ms();

	while (now_ms() - t0 < limit_ms) {
		if (get("/readyz", NULL) == want)
			return (long)(now_ms() - t0);
		sleep_ms(50);
	}
	return -1;
}

static bool healthz_says_dataplane(void)
{
	char *body = NULL;
	bool up = get("/healthz", &body) == 200 && strstr(body, "\"dataplane\":true");

	free(body);
	return up;
}

/* A join that must be refused with 5000; true when it was. */
static bool join_refused_5000(const char *room, const char *name)
{
	int code;
	struct fhc *c = try_join_with(
		(struct fhc_opts){.room = room, .name = name, .audio = true, .video = true}, &code);

	if (c) {
		fhc_close(c);
		fprintf(stderr, "%s joined %s with media while the dataplane was down\n", name,
			room);
		return false;
	}
	if (code != 5000) {
		fprintf(stderr, "%s's join to %s was refused with %d\n", name, room, code);
		return false;
	}
	return true;
}

/* A call of two in room works: each hears and sees the other. */
static void call_works(const char *room, const char *what)
{
	struct fhc *a = join(room, "Ada");
	struct fhc *b = join(room, "Bo");
	struct fhc *all[] = {a, b};

	if (a && b) {
		pump(all, 2, 500);
		talk(a, "A", 20, all, 2);
		EXPECT(fhc_received_from(b, fhc_id(a), false) >= 18 &&
			       fhc_received_from(b, fhc_id(a), true) >= 18,
		       "%s: B got %llu audio and %llu video packets of 20 from A", what,
		       (unsigned long long)fhc_received_from(b, fhc_id(a), false),
		       (unsigned long long)fhc_received_from(b, fhc_id(a), true));
	}
	fhc_close(a);
	fhc_close(b);
}

/* A dataplane that stops beating for a moment (stopped, swapped out) is not ready at once and
 * ready again when it beats; the calls it carries go on. */
static void dataplane_stalled(void)
{
	struct fhc *a = join("Atempause", "Anna");
	struct fhc *b = join("Atempause", "Bernd");
	struct fhc *all[] = {a, b};

	if (a && b) {
		pump(all, 2, 500);
		kill(h.dp, SIGSTOP);
		long ms = until_ready_is(503, 3000);

		/* not ready after 1.5 s without a beat (a loaded host may hold it back for most of
		 * a second), less the beat's own 100 ms, plus one poll */
		EXPECT(ms >= 0 && ms <= 2000,
		       "/readyz still 200 %ld ms after the heartbeat stopped", ms);
		EXPECT(join_refused_5000("Atempause", "Clara"), "a join while it stalls got 5000");
		kill(h.dp, SIGCONT);
		ms = until_ready_is(200, 2000);
		EXPECT(ms >= 0, "not ready again once the heartbeat is back");
		uint64_t before = fhc_received_from(b, fhc_id(a), true);

		talk(a, "A", 20, all, 2);
		EXPECT(fhc_received_from(b, fhc_id(a), true) - before >= 18,
		       "the call went on after the stall");
	}
	kill(h.dp, SIGCONT);
	fhc_close(a);
	fhc_close(b);
}

static void dataplane_killed(void)
{
	char cp_log[300];
	struct fhc *a = join("Stromausfall", "Anna");
	struct fhc *b = join("Stromausfall", "Bernd");
	struct fhc *all[] = {a, b};

	snprintf(cp_log, sizeof(cp_log), "%s/cp.log", h.dir);
	if (!a || !b) {
		fhc_close(a);
		fhc_close(b);
		return;
	}
	pump(all, 2, 500);
	EXPECT(get("/readyz", NULL) == 200, "ready with the dataplane up");
	EXPECT(healthz_says_dataplane(), "/healthz: dataplane up");

	harness_kill_dp(&h, SIGKILL);
	uint64_t killed = now_ms();
	long ms = until_ready_is(503, 3000);

	/* the dataplane beats every 100 ms */
	EXPECT(ms >= 0 && ms <= 1000, "/readyz still 200 %ld ms after kill -9 of funkhaus-dp", ms);
	EXPECT(!healthz_says_dataplane(), "/healthz still says the dataplane is up");

	/* the calls that died are ended for their clients, who can then rejoin */
	while (now_ms() - killed < 2000 && (fhc_signalling_open(a) || fhc_signalling_open(b)))
		pump(all, 2, 50);
	EXPECT(!fhc_signalling_open(a) && !fhc_signalling_open(b),
	       "the clients' signalling still open %llu ms after the dataplane died",
	       (unsigned long long)(now_ms() - killed));
	EXPECT(fhc_last_error(a) == 5000, "Anna was not told 5000");
	EXPECT(fhc_last_error(b) == 5000, "Bernd was not told 5000");
	fhc_close(a);
	fhc_close(b);

	/* its region is left behind, and no dataplane runs: never ready, joins refused */
	struct fh_region r;

	EXPECT(fh_region_peek(&r, h.region) == 0, "the dead dataplane's region is still there");
	if (r.hdr)
		fh_region_close(&r);
	int attached = harness_count_in_log(cp_log, "dataplane attached");
	uint64_t t0 = now_ms();
	int ready = 0, polls = 0;

	while (now_ms() - t0 < 5000) {
		ready += get("/readyz", NULL) == 200;
		polls++;
		sleep_ms(100);
	}
	EXPECT(ready == 0, "/readyz 200 %d times of %d in 5 s with no dataplane", ready, polls);
	EXPECT(join_refused_5000("Ohnestrom", "Clara"), "a join without a dataplane got 5000");
	EXPECT(harness_count_in_log(cp_log, "dataplane attached") == attached,
	       "funkhaus-cp attached to the dead dataplane's region");

	EXPECT(harness_start_dp(&h) == 0, "funkhaus-dp restarts");
	ms = until_ready_is(200, 5000);
	EXPECT(ms >= 0, "not ready within 5 s of the dataplane's restart");
	call_works("Wiederda", "after the restart");

	/* killed and restarted at once: a join in between is refused or works, never accepted
	 * into a dataplane that is gone */
	harness_kill_dp(&h, SIGKILL);
	EXPECT(harness_start_dp(&h) == 0, "funkhaus-dp restarts again");
	int code;
	struct fhc *d = try_join_with(
		(struct fhc_opts){
			.room = "Zwischendurch", .name = "Dora", .audio = true, .video = true},
		&code);

	EXPECT(d || code == 5000,
	       "a join just after the dataplane's restart was neither refused nor served: %d",
	       code);
	fhc_close(d);
	ms = until_ready_is(200, 5000);
	EXPECT(ms >= 0, "not ready within 5 s of the second restart");
	call_works("Nochmal", "after the second restart");
}

/* funkhaus-cp started with a low soft descriptor limit raises it to the hard one. */
static void descriptor_limit(void)
{
	struct rlimit was, low;
	char path[64], line[256];
	unsigned long soft = 0, hard = 0;

	if (getrlimit(RLIMIT_NOFILE, &was) < 0 || was.rlim_max <= 512 ||
	    was.rlim_max == RLIM_INFINITY) {
		printf("descriptor limit: hard limit %llu leaves nothing to raise, skipped\n",
		       (unsigned long long)was.rlim_max);
		return;
	}
	low = was;
	low.rlim_cur = 512;
	harness_kill_cp(&h, SIGKILL);
	setrlimit(RLIMIT_NOFILE, &low);
	EXPECT(harness_start_cp(&h) == 0, "funkhaus-cp restarts with a soft limit of 512");
	setrlimit(RLIMIT_NOFILE, &was);
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)h.cp);
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Max open files", 14))
			sscanf(line + 14, "%lu %lu", &soft, &hard);
	if (f)
		fclose(f);
	EXPECT(soft == was.rlim_max && hard == was.rlim_max,
	       "funkhaus-cp's descriptor limit is %lu (hard %lu), expected %llu", soft, hard,
	       (unsigned long long)was.rlim_max);
	char cp_log[300];

	snprintf(cp_log, sizeof(cp_log), "%s/cp.log", h.dir);
	EXPECT(harness_count_in_log(cp_log, "descriptor limit") > 0,
	       "funkhaus-cp does not log its descriptor limit");
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: test_faults DP_BIN CP_BIN GEN_CERT WEB_ROOT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (harness_start(&h, argv, 1) < 0) {
		harness_stop(&h, true);
		return 1;
	}
	startup_errors();
	printf("start-up errors (%d failures so far)\n", failures);
	descriptor_limit();
	printf("descriptor limit (%d failures so far)\n", failures);
	dataplane_stalled();
	printf("dataplane stalled (%d failures so far)\n", failures);
	dataplane_killed();
	printf("dataplane killed and restarted (%d failures so far)\n", failures);
	harness_stop(&h, failures > 0);
	curl_global_cleanup();
	printf("%s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
