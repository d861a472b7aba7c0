/*
 * Integration test of funkhaus-bench against a local Funkhaus: a short steady run with a
 * handful of participants reports zero loss with every stream received; a ramp with a tiny
 * latency limit stops by itself and writes a valid JSON report; receivers behind a modelled
 * 300 kbit/s downlink get no more than that while those on an unlimited one lose nothing;
 * simulcast senders are accepted; a wrong target address ends the run with a reason and a
 * non-zero exit status.
 *
 * Usage: test_bench DP_BIN CP_BIN GEN_CERT WEB_ROOT BENCH_BIN
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	char args[512];

	if (argc != 6) {
		fprintf(stderr, "usage: test_bench DP_BIN CP_BIN GEN_CERT WEB_ROOT BENCH_BIN\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (harness_start(&h, argv, 1) < 0) {
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

	snprintf(args, sizeof(args),
		 "-P %u -n 4 -x 2:100%% -d 3 -r 10 -l 100 -q 100000 --simulcast", h.port);
	EXPECT(run(argv[5], args, "simulcast.json") == 0, "a simulcast run exits 0");
	j = load("simulcast.json");
	if (j) {
		EXPECT(json_is_true(json_object_get(j, "simulcast")), "the report says simulcast");
		EXPECT(json_integer_value(json_object_get(j, "join_failures")) == 0,
		       "simulcast offers are accepted");
		EXPECT(json_integer_value(json_object_get(j, "packets_received")) > 100,
		       "media flowed");
		json_decref(j);
	}
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
