/*
 * A control-plane restart keeps every call: funkhaus-cp is killed (-9, then once more with
 * SIGTERM, an upgrade) in the middle of a meeting on two workers. The media goes on while no
 * control plane runs; the new one rebuilds rooms and participants from the notes in the
 * region; the clients reconnect their signalling and resume as the same participants (same id,
 * same media, no new DTLS); moderation goes on; a newcomer meets those already there; a
 * participant that never comes back is removed from its worker within the resume bound.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"

int failures;
struct harness h;

#define RESUME_S 6

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct fhc *member(const char *room, const char *name, bool resume)
{
	int code;
	struct fhc *c = try_join_with(
		(struct fhc_opts){
			.room = room, .name = name, .audio = true, .video = true, .resume = resume},
		&code);

	EXPECT(c != NULL, "%s joins %s (error %d)", name, room, code);
	return c;
}

static unsigned participants(void)
{
	return harness_participants(&h, 0) + harness_participants(&h, 1);
}

/* Pumps everyone until each of cs has resumed want times (or ms pass); the ms it took. */
static uint64_t until_resumed(struct fhc **cs, int n, unsigned want, int ms)
{
	uint64_t t0 = now_ms();

	while (now_ms() - t0 < (uint64_t)ms) {
		int done = 0;

		pump(cs, n, 50);
		for (int i = 0; i < n; i++)
			done += fhc_resumes(cs[i]) >= want;
		if (done == n)
			break;
	}
	return now_ms() - t0;
}

/* a's packets tagged tag reach every other client in cs. */
static void media_flows(struct fhc **cs, int n, struct fhc *a, const char *tag, const char *why)
{
	char want[32];

	talk(a, tag, 10, cs, n);
	snprintf(want, sizeof(want), "%s:9", tag);
	for (int i = 0; i < n; i++)
		if (cs[i] != a)
			EXPECT(last_payload_is(cs[i], fhc_id(a), true, want), "%s: %s reaches %d",
			       why, tag, i);
}

int main(int argc, char **argv)
{
	char dir[64], extra[128], conf[256], ids[3][24];

	if (argc != 5) {
		fprintf(stderr, "usage: test_restart DP_BIN CP_BIN GEN_CERT WEB_ROOT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/fh-restart-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(conf, sizeof(conf), "[limits]\nresume_timeout = %d\n", RESUME_S);
	put_file(dir, "extra.conf", conf);
	snprintf(extra, sizeof(extra), "%s/extra.conf", dir);
	setenv("FUNKHAUS_EXTRA_CONF", extra, 1);
	if (harness_start(&h, argv, 2) < 0) {
		harness_stop(&h, true);
		return 1;
	}
	/* a meeting of three that resume, one in another room on the other worker, and one
	 * whose client will not come back */
	struct fhc *a = member("Ratssitzung", "Anna", true);
	struct fhc *b = member("Ratssitzung", "Bernd", true);
	struct fhc *c = member("Ratssitzung", "Clara", true);
	struct fhc *e = member("Ratssitzung", "Emil", false);
	struct fhc *o = member("Bauausschuss", "Otto", true);

	if (!a || !b || !c || !e || !o) {
		harness_stop(&h, true);
		return 1;
	}
	struct fhc *four[] = {a, b, c, e}, *all[] = {a, b, c, e, o}, *three[] = {a, b, c};

	pump(all, 5, 500);
	EXPECT(fhc_moderator(a) && !fhc_moderator(b), "Anna opened the room and moderates");
	media_flows(four, 4, a, "vorher", "before the restart");
	for (int i = 0; i < 3; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s", fhc_id(three[i]));
	EXPECT(participants() == 5 && harness_participants(&h, 0) && harness_participants(&h, 1),
	       "two rooms on two workers (%u + %u)", harness_participants(&h, 0),
	       harness_participants(&h, 1));

	/* Anna allows screen sharing to moderators only: that holds across the restart */
	char req[160];

	snprintf(req, sizeof(req), "{\"type\":\"moderate\",\"action\":\"screen\",\"on\":true}");
	fhc_send_text(a, req, strlen(req));
	pump(all, 5, 300);
	EXPECT(fhc_last_error(a) == 0, "the moderator restricts screen sharing");

	/* kill -9: no control plane for two seconds; media goes on meanwhile */
	harness_kill_cp(&h, SIGKILL);
	media_flows(four, 4, b, "ohne", "while no control plane runs");
	pump(all, 5, 1500);
	if (harness_start_cp(&h) < 0) {
		harness_stop(&h, true);
		return 1;
	}
	uint64_t took = until_resumed((struct fhc *[]){a, b, c, o}, 4, 1, 10000);

	EXPECT(fhc_resumes(a) == 1 && fhc_resumes(b) == 1 && fhc_resumes(c) == 1 &&
		       fhc_resumes(o) == 1,
	       "every client that tries resumes (%u %u %u %u) after %llu ms", fhc_resumes(a),
	       fhc_resumes(b), fhc_resumes(c), fhc_resumes(o), (unsigned long long)took);
	printf("resumed after kill -9 within %llu ms of the new control plane's start (%u, %u, "
	       "%u failed tries to reconnect)\n",
	       (unsigned long long)took, fhc_resume_tries_failed(a), fhc_resume_tries_failed(b),
	       fhc_resume_tries_failed(c));
	for (int i = 0; i < 3; i++)
		EXPECT(!strcmp(ids[i], fhc_id(three[i])), "participant %d keeps its id", i);
	EXPECT(fhc_moderator(a) && !fhc_moderator(b), "Anna still moderates, Bernd does not");
	const char *resumed = NULL;

	fhc_seen(b, "resumed", &resumed);
	EXPECT(resumed && strstr(resumed, "\"screenModerators\":true"),
	       "screen sharing is still for moderators only (%s)", resumed ? resumed : "none");
	media_flows(four, 4, c, "nachher", "after the restart");

	/* moderation goes on: a guest cannot, the moderator can */

	snprintf(req, sizeof(req), "{\"type\":\"moderate\",\"action\":\"mute\",\"id\":\"%s\"}",
		 fhc_id(a));
	fhc_send_text(b, req, strlen(req));
	pump(four, 4, 300);
	EXPECT(fhc_last_error(b) == 4030, "a guest still cannot moderate");
	snprintf(req, sizeof(req), "{\"type\":\"moderate\",\"action\":\"mute\",\"id\":\"%s\"}",
		 fhc_id(b));
	fhc_last_error(a);
	fhc_send_text(a, req, strlen(req));
	pump(four, 4, 300);
	EXPECT(fhc_last_error(a) == 0, "the moderator mutes Bernd");
	uint64_t before = fhc_received_from(c, fhc_id(b), false);

	talk(b, "stumm", 10, four, 4);
	EXPECT(fhc_received_from(c, fhc_id(b), false) == before,
	       "Bernd's audio is no longer forwarded (%llu -> %llu)", (unsigned long long)before,
	       (unsigned long long)fhc_received_from(c, fhc_id(b), false));

	/* a newcomer meets those already there, and they meet it */
	struct fhc *d = member("Ratssitzung", "Dora", true);

	if (d) {
		struct fhc *five[] = {a, b, c, d, o};

		pump(five, 5, 1500);
		media_flows(five, 4, a, "neu", "a newcomer receives");
		media_flows(five, 4, d, "hallo", "the newcomer is received");
	}

	/* the one that never came back is removed from its worker within the bound */
	uint64_t t0 = now_ms();
	unsigned want = d ? 6 : 5; /* a, b, c, d, o and e until it is reaped */

	while (participants() >= want && now_ms() - t0 < (RESUME_S + 6) * 1000ull)
		pump((struct fhc *[]){a, b, c, d ? d : a, o}, 5, 100);
	EXPECT(participants() == want - 1, "the participant that never resumed is reaped (%u)",
	       participants());
	fhc_close(e);

	/* an upgrade: SIGTERM drains (the harness' grace is 2 s), the new binary takes over */
	struct fhc *now[] = {a, b, c, d ? d : a, o};

	harness_kill_cp(&h, SIGTERM);
	if (harness_start_cp(&h) < 0) {
		harness_stop(&h, true);
		return 1;
	}
	took = until_resumed(now, 5, 2, 10000);
	EXPECT(fhc_resumes(a) == 2 && fhc_resumes(b) == 2 && fhc_resumes(o) == 2,
	       "after a SIGTERM restart everyone resumes again (%u %u %u) in %llu ms",
	       fhc_resumes(a), fhc_resumes(b), fhc_resumes(o), (unsigned long long)took);
	media_flows(now, 4, b, "upgrade", "after the upgrade");

	/* a resume that does not prove itself is refused */
	struct fhc_opts bad = {
		.host = "127.0.0.1", .port = h.port, .timeout_ms = 3000, .stop = FHC_STOP_UPGRADED};
	char err[128];
	struct fhc *x = fhc_connect(&bad, err, sizeof(err));

	if (x) {
		snprintf(req, sizeof(req),
			 "{\"type\":\"resume\",\"id\":\"%s\",\"secret\":\"AAAAAAAAAAAAAAAAAAAAAA\","
			 "\"room\":\"Ratssitzung\",\"name\":\"Mallory\"}",
			 fhc_id(a));
		fhc_send_text(x, req, strlen(req));
		struct fhc *one[] = {x};

		pump(one, 1, 300);
		EXPECT(fhc_last_error(x) == 4047, "a resume with a wrong secret is refused");
		fhc_close(x);
	}
	pump(now, 5, 200);
	EXPECT(fhc_signalling_open(a), "and Anna's own session is untouched by it");

	for (int i = 0; i < 5; i++)
		if (now[i] && (i != 3 || d))
			fhc_close(now[i]);
	harness_stop(&h, failures > 0);
	snprintf(conf, sizeof(conf), "rm -rf %s", dir);
	if (system(conf) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
	return failures ? 1 : 0;
}
