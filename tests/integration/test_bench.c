/*
 * Integration test of funkhaus-bench against a local Funkhaus: a short steady run with a
 * handful of participants reports zero loss with every stream received; a ramp with a tiny
 * latency limit stops by itself and writes a valid JSON report; receivers behind a modelled
 * 300 kbit/s downlink get no more than that while those on an unlimited one lose nothing;
 * with simulcast senders and a 300 kbit/s and an unlimited class every participant receives
 * video, the slow class settles on the lowest layer with little loss and the unlimited one on a
 * higher layer, and /metrics shows transport-wide feedback both ways, learned SSRCs, layer
 * switches and the receivers' estimates on both sides of 500 kbit/s; a wrong target address ends
 * the run with a reason and a non-zero exit status.
 *
 * Usage: test_bench DP_BIN CP_BIN GEN_CERT WEB_ROOT BENCH_BIN
 */
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fh_curlbody.h"
#include "harness.h"

int failures;
struct harness h;

static int run(const char *bench, const char *args, const char *report)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s %s -o %s/%s 2>/dev/null", bench, args, h.dir, report);
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_t *load(const char *report)
{
	char path[400];
	json_error_t e;

	snprintf(path, sizeof(path), "%s/%s", h.dir, report);
	json_t *j = json_load_file(path, 0, &e);

	EXPECT(j != NULL, "%s is valid JSON (%s)", report, j ? "" : e.text);
	return j;
}

/* The body of GET /metrics (malloc'd), NULL when it does not answer. */
static char *metrics(void)
{
	char url[128];
	CURL *c = curl_easy_init();
	struct fh_curlbody b = {0};

	snprintf(url, sizeof(url), "https://127.0.0.1:%u/metrics", h.port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fh_curlbody_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	if (curl_easy_perform(c) != CURLE_OK) {
		free(b.p);
		b.p = NULL;
	}
	curl_easy_cleanup(c);
	return b.p;
}

/* Worker 0's sample of name (name{worker="0"...}) in /metrics text, -1 when it is not there. */
static long long sample(const char *text, const char *name, const char *labels)
{
	char key[160];

	snprintf(key, sizeof(key), "%s{worker=\"0\"%s}", name, labels);
	const char *p = text ? strstr(text, key) : NULL;

	return p && p[strlen(key)] == ' ' ? atoll(p + strlen(key) + 1) : -1;
}

/* Worker 0's counters for simulcast before a run, to count what the run added. */
struct sim_ctrs {
	long long fb_sent, fb_in, switches, learned, est_low, est_all;
};

static void sim_ctrs(struct sim_ctrs *s)
{
	char *m = metrics();

	EXPECT(m != NULL, "/metrics answers");
	s->fb_sent = sample(m, "funkhaus_worker_twcc_fb_sent_total", "");
	s->fb_in = sample(m, "funkhaus_worker_twcc_fb_in_total", "");
	s->switches = sample(m, "funkhaus_worker_layer_switches_total", "");
	s->learned = sample(m, "funkhaus_worker_ssrc_learned_total", "");
	s->est_low = sample(m, "funkhaus_worker_receiver_estimate_bps_bucket", ",le=\"500000\"");
	s->est_all = sample(m, "funkhaus_worker_receiver_estimate_bps_bucket", ",le=\"+Inf\"");
	free(m);
}

/* Simulcast senders, rooms of 2, one receiver behind 300 kbit/s and one unlimited in each: what
 * a capacity planner reads in the report and in /metrics. The report's settled figures are the
 * run's second half, once the estimates had time to find the links (the estimate starts at
 * 1 Mbit/s, above the slow link, so its queue drops while it comes down). */
static void simulcast(const char *bench)
{
	char args[512];
	struct sim_ctrs a, b;

	sim_ctrs(&a);
	snprintf(args, sizeof(args),
		 "-P %u -n 4 -x 2:100%% -d 10 -r 10 -l 100 -q 100000 --simulcast "
		 "--links 300k:50%%,inf:50%%",
		 h.port);
	EXPECT(run(bench, args, "simulcast.json") == 0, "a simulcast run exits 0");
	sim_ctrs(&b);
	json_t *j = load("simulcast.json");

	if (!j)
		return;
	EXPECT(json_is_true(json_object_get(j, "simulcast")), "the report says simulcast");
	EXPECT(json_integer_value(json_object_get(j, "join_failures")) == 0,
	       "simulcast offers are accepted");
	EXPECT(json_integer_value(json_object_get(j, "streams_never_received")) == 0,
	       "every stream received");
	json_t *l = json_object_get(j, "links");
	json_t *slow = json_array_get(l, 0), *fast = json_array_get(l, 1);

	EXPECT(json_array_size(l) == 2, "two link classes reported");
	for (size_t k = 0; k < json_array_size(l); k++) {
		json_t *c = json_array_get(l, k), *sh = json_object_get(c, "layer_share_pct");
		const char *name = json_string_value(json_object_get(c, "class"));
		double sum = 0;

		for (size_t q = 0; q < json_array_size(sh); q++)
			sum += json_number_value(json_array_get(sh, q));
		EXPECT(json_integer_value(json_object_get(c, "video_streams")) == 2,
		       "%s: both receivers get video", name);
		EXPECT(json_array_size(sh) == 3 && sum > 99 && sum < 101,
		       "%s: layer shares reported (sum %.1f %%)", name, sum);
		EXPECT(json_integer_value(json_object_get(c, "twcc_feedback_sent")) > 20 &&
			       json_integer_value(json_object_get(c, "twcc_feedback_received")) >
				       20,
		       "%s: transport-wide feedback sent as receivers and received as publishers",
		       name);
		EXPECT(json_is_object(json_object_get(c, "settled")), "%s: settled figures", name);
	}
	json_t *ss = json_object_get(slow, "settled"), *fs = json_object_get(fast, "settled");
	json_t *sn = json_object_get(slow, "layer_now"), *fn = json_object_get(fast, "layer_now");
	double sloss = json_number_value(json_object_get(ss, "loss_pct"));
	double sover = json_number_value(json_object_get(ss, "delivered_over_link"));
	double fl = json_number_value(json_array_get(json_object_get(fs, "layer_share_pct"), 0));

	EXPECT(json_integer_value(json_array_get(sn, 0)) == 2,
	       "the 300k class ends on the lowest layer (l %lld, m %lld, h %lld)",
	       json_integer_value(json_array_get(sn, 0)), json_integer_value(json_array_get(sn, 1)),
	       json_integer_value(json_array_get(sn, 2)));
	EXPECT(sloss < 2 && sover <= 1.02, "with little loss (%.2f %%) within its link (%.3f)",
	       sloss, sover);
	EXPECT(json_integer_value(json_array_get(fn, 1)) +
			       json_integer_value(json_array_get(fn, 2)) ==
		       2,
	       "the unlimited class ends on a higher layer (l %lld, m %lld, h %lld)",
	       json_integer_value(json_array_get(fn, 0)), json_integer_value(json_array_get(fn, 1)),
	       json_integer_value(json_array_get(fn, 2)));
	EXPECT(fl < 50 && json_number_value(json_object_get(fs, "loss_pct")) == 0,
	       "and stays there without loss (lowest layer %.1f %% of its settled time)", fl);
	json_decref(j);

	EXPECT(b.fb_sent - a.fb_sent > 50, "the SFU sent publishers transport-wide feedback (%lld)",
	       b.fb_sent - a.fb_sent);
	EXPECT(b.fb_in - a.fb_in > 50, "and used the receivers' (%lld)", b.fb_in - a.fb_in);
	EXPECT(b.learned - a.learned >= 12, "it learned every encoding's SSRC (%lld)",
	       b.learned - a.learned);
	EXPECT(b.switches - a.switches >= 1, "it switched layers for receivers (%lld)",
	       b.switches - a.switches);
	EXPECT(b.est_low - a.est_low > 0 && (b.est_all - b.est_low) - (a.est_all - a.est_low) > 0,
	       "its estimates lie below 500 kbit/s (%lld samples) and above (%lld)",
	       b.est_low - a.est_low, (b.est_all - b.est_low) - (a.est_all - a.est_low));
}

int main(int argc, char **argv)
{
	char args[512];

	if (argc != 6) {
		fprintf(stderr, "usage: test_bench DP_BIN CP_BIN GEN_CERT WEB_ROOT BENCH_BIN\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* /metrics without a token, as a scraper on the node would read it */
	char extra[64];

	snprintf(extra, sizeof(extra), "/tmp/funkhaus-bench-%d.conf", (int)getpid());
	FILE *x = fopen(extra, "w");

	if (x) {
		fputs("[api]\nmetrics = public\n", x);
		fclose(x);
		setenv("FUNKHAUS_EXTRA_CONF", extra, 1);
	}
	int started = harness_start(&h, argv, 1);

	unlink(extra);
	if (started < 0) {
		harness_stop(&h, true);
		return 1;
	}
	snprintf(args, sizeof(args), "-P %u -n 6 -x 3:100%% -d 4 -r 10 -i it%d", h.port,
		 (int)getpid());
	EXPECT(run(argv[5], args, "steady.json") == 0, "steady run exits 0");
	json_t *j = load("steady.json");

	if (j) {
		EXPECT(json_integer_value(json_object_get(j, "participants")) == 6, "6 joined");
		EXPECT(json_integer_value(json_object_get(j, "packets_received")) > 1000,
		       "media flowed");
		EXPECT(json_real_value(json_object_get(j, "loss_pct")) == 0.0, "no loss");
		EXPECT(json_integer_value(json_object_get(j, "streams_never_received")) == 0,
		       "every stream received");
		json_t *steps = json_object_get(j, "steps");

		EXPECT(json_array_size(steps) == 1 &&
			       json_real_value(json_object_get(json_array_get(steps, 0),
							       "sfu_busy_pct")) >= 0,
		       "the SFU's CPU use was read");
		json_decref(j);
	}
	printf("steady (%d failures so far)\n", failures);

	snprintf(args, sizeof(args), "-P %u -m ramp -n 40 -s 4 -d 2 -r 10 -q 0.5", h.port);
	EXPECT(run(argv[5], args, "ramp.json") == 0, "a ramp that reaches its limit exits 0");
	j = load("ramp.json");
	if (j) {
		json_t *steps = json_object_get(j, "steps");
		size_t n = json_array_size(steps);

		EXPECT(n >= 1 && n < 10, "the ramp stopped by itself after %zu step(s)", n);
		EXPECT(n && json_is_false(json_object_get(json_array_get(steps, n - 1), "good")),
		       "its last step is over the limit");
		EXPECT(json_integer_value(json_object_get(j, "participants")) < 40,
		       "it did not run to the end");
		json_decref(j);
	}
	printf("ramp (%d failures so far)\n", failures);

	snprintf(args, sizeof(args), "-P %u -m churn -n 6 -x 3:100%% -d 5 -r 1 -p %s/churn.svg",
		 h.port, h.dir);
	EXPECT(run(argv[5], args, "churn.json") == 0, "churn run exits 0");
	j = load("churn.json");
	if (j) {
		EXPECT(json_integer_value(json_object_get(j, "churned")) >= 3,
		       "people left and others joined");
		EXPECT(json_integer_value(json_object_get(j, "join_failures")) == 0,
		       "every newcomer got in");
		EXPECT(json_real_value(json_object_get(j, "loss_pct")) == 0.0,
		       "no loss while churning");
		json_decref(j);
	}
	char svg[400];

	snprintf(svg, sizeof(svg), "%s/churn.svg", h.dir);
	EXPECT(access(svg, R_OK) == 0, "the plot was written");
	printf("churn (%d failures so far)\n", failures);

	/* receivers behind a 300 kbit/s downlink get at most that, the queue drops the rest;
	 * those on an unlimited one lose nothing */
	snprintf(args, sizeof(args),
		 "-P %u -n 6 -x 3:100%% -d 4 -r 10 -l 100 -q 100000 --links 300k:50%%,inf:50%%",
		 h.port);
	EXPECT(run(argv[5], args, "links.json") == 0, "a run with link classes exits 0");
	j = load("links.json");
	if (j) {
		json_t *l = json_object_get(j, "links");
		json_t *slow = json_array_get(l, 0), *fast = json_array_get(l, 1);
		double over = json_real_value(json_object_get(slow, "delivered_over_link"));

		EXPECT(json_array_size(l) == 2, "two link classes reported");
		EXPECT(json_integer_value(json_object_get(slow, "participants")) == 3 &&
			       json_integer_value(json_object_get(fast, "participants")) == 3,
		       "participants shared out 3 and 3");
		EXPECT(over > 0.5 && over <= 1.02, "the slow class got its link's rate (%.3f)",
		       over);
		EXPECT(json_real_value(json_object_get(slow, "link_drop_pct")) > 0,
		       "its queue dropped");
		EXPECT(json_real_value(json_object_get(fast, "loss_pct")) == 0.0 &&
			       json_real_value(json_object_get(fast, "link_drop_pct")) == 0.0,
		       "no loss on the unlimited links");
		EXPECT(json_integer_value(json_object_get(fast, "video_streams")) == 6,
		       "video streams counted");
		json_decref(j);
	}
	printf("links (%d failures so far)\n", failures);

	simulcast(argv[5]);
	printf("simulcast (%d failures so far)\n", failures);
	EXPECT(run(argv[5], "--links 300k:20%,inf:50%", "badlinks.json") == 2,
	       "--links whose shares do not add up to 100 is refused");

	EXPECT(run(argv[5], "-P 1 -n 2", "wrong.json") != 0, "a wrong target exits non-zero");
	j = load("wrong.json");
	if (j) {
		EXPECT(json_is_string(json_object_get(j, "failure")), "the report says why");
		json_decref(j);
	}
	printf("wrong target (%d failures so far)\n", failures);
	harness_stop(&h, failures > 0);
	printf("%s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
