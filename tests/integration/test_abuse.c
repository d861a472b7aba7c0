/*
 * Abuse: one source (an IPv4 address on loopback: the clients bind 127.0.0.x) tries to take the
 * node from everyone else, and every time a citizen from another address must still get in and
 * the greedy one is told why with a code of its own. Also the bounded waits: sockets that never
 * join, participants that never offer, the rate limit from the first message, the Origin check,
 * and wrong passwords limited per source and per room. Each check here failed before the
 * fair shares existed. The caps are set low in [limits] so the test stays short.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "calls.h"
#include "fh_curlbody.h"

int failures;
struct harness h;

#define WS_PER_SOURCE 12
#define PARTS_PER_SOURCE 8
#define ROOMS_PER_MINUTE 4
#define JOIN_TIMEOUT_S 3
#define MEDIA_TIMEOUT_S 6
#define PW_PER_SOURCE 3
#define PW_PER_ROOM 5

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A client from address src, as far as stop; NULL with the error code in *code. */
static struct fhc *open_as(const char *src, const char *prefix, const char *room,
			   enum fhc_stop stop, const char *password, const char *origin, int *code)
{
	return try_join_with((struct fhc_opts){.room = room,
					       .audio = true,
					       .video = true,
					       .prefix = prefix,
					       .password = password,
					       .source = src,
					       .origin = origin,
					       .stop = stop},
			     code);
}

/* The error the server sent c within ms (0: none), pumping it meanwhile. */
static int error_within(struct fhc *c, int ms)
{
	int e = 0;

	for (int t = 0; t < ms && !e; t += 20) {
		fhc_poll(c, 20);
		e = fhc_last_error(c);
	}
	return e;
}

static void close_all(struct fhc **cs, int n)
{
	for (int i = 0; i < n; i++) {
		if (cs[i])
			fhc_close(cs[i]);
		cs[i] = NULL;
	}
}

/* The body of GET path (malloc'd), NULL when it does not answer. */
static char *get(const char *path)
{
	char url[128];
	CURL *c = curl_easy_init();
	struct fh_curlbody b = {0};

	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", h.port, path);
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

/* /healthz's participant count, -1 when it does not answer. */
static int healthz_participants(void)
{
	char *body = get("/healthz");
	const char *p = body ? strstr(body, "\"participants\":") : NULL;
	int n = p ? atoi(p + 15) : -1;

	free(body);
	return n;
}

/* A sample of /metrics, -1 when it is not there. */
static long long metric(const char *text, const char *sample)
{
	const char *p = text ? strstr(text, sample) : NULL;

	return p && p[strlen(sample)] == ' ' ? atoll(p + strlen(sample) + 1) : -1;
}

/* What an operator reads in /metrics after all of the above: every refusal under its reason,
 * and the caps in force. */
static void refusals_in_metrics(void)
{
	char *m = get("/metrics");
	static const char *const seen[] = {"ws_source",	   "parts_source",  "rooms_source",
					   "lobby_source", "pw_source",	    "pw_room",
					   "join_timeout", "media_timeout", "rate_limited"};
	char sample[128];

	EXPECT(m != NULL, "/metrics answers");
	for (unsigned i = 0; i < sizeof(seen) / sizeof(seen[0]); i++) {
		snprintf(sample, sizeof(sample), "funkhaus_cp_refused_total{reason=\"%s\"}",
			 seen[i]);
		EXPECT(metric(m, sample) >= 1, "%s counts what this test did (%lld)", sample,
		       metric(m, sample));
	}
	EXPECT(metric(m, "funkhaus_cp_refused_total{reason=\"slot_reserve\"}") == 0,
	       "and nothing it did not");
	snprintf(sample, sizeof(sample), "funkhaus_cp_limit{cap=\"participants_per_source\"}");
	EXPECT(metric(m, sample) == PARTS_PER_SOURCE, "the cap in force is shown (%lld)",
	       metric(m, sample));
	EXPECT(m && strstr(m, "funkhaus_cp_refusal_reason_info{reason=\"pw_room\",help=\""),
	       "each reason says what it counts");
	free(m);
}

static void origin_checked(void)
{
	char o[80];
	int code;
	struct fhc *c;

	snprintf(o, sizeof(o), "http://127.0.0.1:%u", h.port);
	c = open_as("127.0.0.2", NULL, NULL, FHC_STOP_UPGRADED, NULL, o, &code);
	EXPECT(!c, "an http:// page on our host and port is another origin: no upgrade");
	if (c)
		fhc_close(c);
	snprintf(o, sizeof(o), "https://127.0.0.1:%u", h.port + 1);
	c = open_as("127.0.0.2", NULL, NULL, FHC_STOP_UPGRADED, NULL, o, &code);
	EXPECT(!c, "another port is another origin: no upgrade");
	if (c)
		fhc_close(c);
	snprintf(o, sizeof(o), "https://127.0.0.1:%u", h.port);
	c = open_as("127.0.0.2", NULL, NULL, FHC_STOP_UPGRADED, NULL, o, &code);
	EXPECT(c != NULL, "our own origin upgrades");
	if (c)
		fhc_close(c);
}

static void rate_limited_before_join(void)
{
	int code, last = 0;
	struct fhc *c = open_as("127.0.0.2", NULL, NULL, FHC_STOP_UPGRADED, NULL, NULL, &code);
	const char *bad = "{\"type\":\"join\",\"name\":\"x\",\"token\":\"a.b.c\"}";
	unsigned seen_4011 = 0;

	EXPECT(c != NULL, "a signalling connection opens (%d)", code);
	if (!c)
		return;
	/* 150 joins with a bad token at once: the harness allows 50 a second, bursts of 100 */
	for (int i = 0; i < 150; i++)
		fhc_send_text(c, bad, strlen(bad));
	for (int t = 0; t < 1500; t += 20) {
		fhc_poll(c, 20);
		if ((last = fhc_last_error(c)) == 4011)
			seen_4011++;
	}
	EXPECT(seen_4011 > 0, "joins on an unjoined socket are rate limited too (last error %d)",
	       last);
	fhc_close(c);
}

static void sockets_that_never_join(void)
{
	struct fhc *idle[3] = {0};
	int code;

	for (int i = 0; i < 3; i++)
		idle[i] = open_as("127.0.0.3", NULL, NULL, FHC_STOP_UPGRADED, NULL, NULL, &code);
	EXPECT(idle[0] && idle[1] && idle[2], "three sockets upgrade and say nothing");
	uint64_t t0 = now_ms();
	int closed = 0, told = 0;

	for (int i = 0; i < 3; i++) {
		if (!idle[i])
			continue;
		told += error_within(idle[i], (JOIN_TIMEOUT_S + 3) * 1000) == 4044;
		for (int t = 0; t < 500 && fhc_signalling_open(idle[i]); t += 20)
			fhc_poll(idle[i], 20);
		closed += !fhc_signalling_open(idle[i]);
	}
	EXPECT(closed == 3 && told == 3,
	       "sockets that never join are told 4044 and closed (%d closed, %d told, %llu ms)",
	       closed, told, (unsigned long long)(now_ms() - t0));
	close_all(idle, 3);
}

static void signalling_sockets_per_source(void)
{
	struct fhc *mine[WS_PER_SOURCE + 1] = {0};
	int code, open = 0;

	for (int i = 0; i < WS_PER_SOURCE; i++) {
		mine[i] = open_as("127.0.0.4", NULL, NULL, FHC_STOP_UPGRADED, NULL, NULL, &code);
		open += mine[i] != NULL;
	}
	EXPECT(open == WS_PER_SOURCE, "one address opens its share of sockets (%d)", open);
	mine[WS_PER_SOURCE] =
		open_as("127.0.0.4", NULL, NULL, FHC_STOP_UPGRADED, NULL, NULL, &code);
	int e = mine[WS_PER_SOURCE] ? error_within(mine[WS_PER_SOURCE], 1000) : -1;

	EXPECT(e == 4040, "one more from that address is told 4040 (got %d)", e);
	/* a citizen from elsewhere comes in, with media */
	struct fhc *citizen =
		open_as("127.0.0.5", NULL, "Ratssaal", FHC_STOP_MEDIA, NULL, NULL, &code);

	EXPECT(citizen != NULL, "meanwhile a citizen from another address joins (%d)", code);
	if (citizen)
		fhc_close(citizen);
	close_all(mine, WS_PER_SOURCE + 1);
}

/* Participants per source, then the bound on those who never offer. */
static void participants_per_source(void)
{
	struct fhc *flood[PARTS_PER_SOURCE + 1] = {0};
	int code, in = 0;

	for (int i = 0; i < PARTS_PER_SOURCE; i++) {
		flood[i] = open_as("127.0.0.6", NULL, "Elternabend", FHC_STOP_JOINED, NULL, NULL,
				   &code);
		in += flood[i] != NULL;
	}
	EXPECT(in == PARTS_PER_SOURCE, "one address joins its share (%d of %d)", in,
	       PARTS_PER_SOURCE);
	struct fhc *more =
		open_as("127.0.0.6", NULL, "Elternabend", FHC_STOP_JOINED, NULL, NULL, &code);

	EXPECT(!more && code == 4041, "one more from that address is refused with 4041 (got %d)",
	       code);
	if (more)
		fhc_close(more);
	uint64_t t_citizen = now_ms();
	struct fhc *citizen =
		open_as("127.0.0.7", NULL, "Elternabend", FHC_STOP_MEDIA, NULL, NULL, &code);

	EXPECT(citizen != NULL, "a citizen from another address joins the same room (%d)", code);
	/* those who joined and never offered hold a slot and a place: they go (the citizen is
	 * driven meanwhile: its consent checks keep its media) */
	int told = 0;
	bool got[PARTS_PER_SOURCE] = {0};
	uint64_t until = now_ms() + (MEDIA_TIMEOUT_S + 4) * 1000;

	while (now_ms() < until && told < PARTS_PER_SOURCE) {
		if (citizen)
			fhc_poll(citizen, 5);
		for (int i = 0; i < PARTS_PER_SOURCE; i++) {
			if (!flood[i] || got[i])
				continue;
			fhc_poll(flood[i], 1);
			if (fhc_last_error(flood[i]) == 4045) {
				got[i] = true;
				told++;
			}
		}
	}
	EXPECT(told == PARTS_PER_SOURCE, "participants without media are removed with 4045 (%d)",
	       told);
	if (citizen) {
		struct fhc *one[] = {citizen};

		pump(one, 1, 300);
		EXPECT(fhc_signalling_open(citizen),
		       "the citizen, with media, stays (joined %llu ms "
		       "ago)",
		       (unsigned long long)(now_ms() - t_citizen));
	}
	int n = healthz_participants();

	EXPECT(n == (citizen ? 1 : 0), "/healthz counts only the citizen now (%d)", n);
	close_all(flood, PARTS_PER_SOURCE + 1);
	if (citizen)
		fhc_close(citizen);
}

/* Silent joins held a tenant's rooms for ever: now they are freed within the bound. */
static void silent_rooms_freed(void)
{
	int code;
	struct fhc *a = open_as("127.0.0.8", "wenig", "eins", FHC_STOP_JOINED, NULL, NULL, &code);
	struct fhc *b = open_as("127.0.0.8", "wenig", "zwei", FHC_STOP_JOINED, NULL, NULL, &code);

	EXPECT(a && b, "two silent joins open the tenant's two rooms");
	struct fhc *c = open_as("127.0.0.9", "wenig", "drei", FHC_STOP_MEDIA, NULL, NULL, &code);

	EXPECT(!c && code == 4016, "the tenant has no room left meanwhile (%d)", code);
	if (c)
		fhc_close(c);
	if (a)
		error_within(a, (MEDIA_TIMEOUT_S + 4) * 1000);
	if (b)
		error_within(b, 2000);
	c = open_as("127.0.0.9", "wenig", "drei", FHC_STOP_MEDIA, NULL, NULL, &code);
	EXPECT(c != NULL, "once the silent ones are gone, a citizen opens a room (%d)", code);
	if (c)
		fhc_close(c);
	if (a)
		fhc_close(a);
	if (b)
		fhc_close(b);
}

static void rooms_per_minute(void)
{
	struct fhc *r[ROOMS_PER_MINUTE + 1] = {0};
	char name[32];
	int code, opened = 0;

	for (int i = 0; i < ROOMS_PER_MINUTE; i++) {
		snprintf(name, sizeof(name), "Raum%d", i);
		r[i] = open_as("127.0.0.10", NULL, name, FHC_STOP_JOINED, NULL, NULL, &code);
		opened += r[i] != NULL;
	}
	EXPECT(opened == ROOMS_PER_MINUTE, "one address opens its rooms for the minute (%d)",
	       opened);
	r[ROOMS_PER_MINUTE] =
		open_as("127.0.0.10", NULL, "RaumMehr", FHC_STOP_JOINED, NULL, NULL, &code);
	EXPECT(!r[ROOMS_PER_MINUTE] && code == 4042,
	       "one room more in that minute is refused with 4042 (got %d)", code);
	struct fhc *citizen =
		open_as("127.0.0.11", NULL, "RaumMehr", FHC_STOP_JOINED, NULL, NULL, &code);

	EXPECT(citizen != NULL, "a citizen from elsewhere opens it (%d)", code);
	if (citizen)
		fhc_close(citizen);
	close_all(r, ROOMS_PER_MINUTE + 1);
}

static void lobby_shares(void)
{
	int code;
	struct fhc *mod =
		open_as("127.0.0.1", "amt", "Sprechstunde", FHC_STOP_MEDIA, NULL, NULL, &code);
	struct fhc *w[4] = {0};
	int waiting = 0;

	EXPECT(mod && fhc_moderator(mod), "the opener moderates (%d)", code);
	/* four places; one source takes all but the last */
	for (int i = 0; i < 3; i++) {
		w[i] = open_as("127.0.0.12", "amt", "Sprechstunde", FHC_STOP_MEDIA, NULL, NULL,
			       &code);
		waiting += w[i] && fhc_waiting(w[i]);
	}
	EXPECT(waiting == 3, "one address waits in three of the lobby's four places (%d)", waiting);
	w[3] = open_as("127.0.0.12", "amt", "Sprechstunde", FHC_STOP_MEDIA, NULL, NULL, &code);
	EXPECT(!w[3] && code == 4043, "the last place is not for it: 4043 (got %d)", code);
	struct fhc *citizen =
		open_as("127.0.0.13", "amt", "Sprechstunde", FHC_STOP_MEDIA, NULL, NULL, &code);

	EXPECT(citizen && fhc_waiting(citizen), "a citizen from elsewhere gets the last place (%d)",
	       code);
	if (citizen)
		fhc_close(citizen);
	close_all(w, 4);
	if (mod)
		fhc_close(mod);
}

static void password_guessing(void)
{
	int code;
	struct fhc *mod =
		open_as("127.0.0.1", NULL, "Geheimrat", FHC_STOP_MEDIA, NULL, NULL, &code);
	const char *set =
		"{\"type\":\"moderate\",\"action\":\"password\",\"password\":\"Sesam-9\"}";

	EXPECT(mod && fhc_moderator(mod), "the opener moderates (%d)", code);
	if (!mod)
		return;
	fhc_send_text(mod, set, strlen(set));
	struct fhc *one[] = {mod};

	pump(one, 1, 2500); /* hashed off the loop: 600 000 iterations */
	struct fhc *right =
		open_as("127.0.0.14", NULL, "Geheimrat", FHC_STOP_MEDIA, "Sesam-9", NULL, &code);

	EXPECT(right != NULL, "the right password lets a citizen in (%d)", code);
	if (right)
		fhc_close(right);
	/* one source: its share of wrong guesses, then none checked */
	for (int i = 0; i < PW_PER_SOURCE; i++) {
		struct fhc *c = open_as("127.0.0.15", NULL, "Geheimrat", FHC_STOP_MEDIA, "falsch",
					NULL, &code);

		EXPECT(!c && code == 4032, "wrong guess %d from one address: 4032 (got %d)", i,
		       code);
		if (c)
			fhc_close(c);
	}
	struct fhc *c =
		open_as("127.0.0.15", NULL, "Geheimrat", FHC_STOP_MEDIA, "Sesam-9", NULL, &code);

	EXPECT(!c && code == 4034, "then even the right one is not checked from there (%d)", code);
	if (c)
		fhc_close(c);
	/* other sources: the room's own limit, whatever the addresses */
	for (int i = 0; i < PW_PER_ROOM - PW_PER_SOURCE; i++) {
		c = open_as("127.0.0.16", NULL, "Geheimrat", FHC_STOP_MEDIA, "falsch2", NULL,
			    &code);
		if (c)
			fhc_close(c);
	}
	c = open_as("127.0.0.17", NULL, "Geheimrat", FHC_STOP_MEDIA, "falsch3", NULL, &code);
	EXPECT(!c && code == 4034,
	       "after %d wrong guesses for the room, a fresh address is not checked either (%d)",
	       PW_PER_ROOM, code);
	if (c)
		fhc_close(c);
	pump(one, 1, 100);
	EXPECT(fhc_signalling_open(mod), "the moderator's call goes on throughout");
	fhc_close(mod);
}

/* CPU seconds funkhaus-cp has used, from /proc. */
static double cp_cpu_s(void)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)h.cp);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	const char *p = strrchr(buf, ')');

	/* after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static unsigned lines_in(const char *path)
{
	char line[512];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

/* At its descriptor limit (256 here, 400 connections from 400 addresses) funkhaus-cp refuses
 * what is past its cap and does not spin on accept() or log every refusal; afterwards a
 * citizen comes in. */
static void at_the_descriptor_limit(void)
{
	struct rlimit was;
	char log[300];
	int fds[400], held = 0;

	if (getrlimit(RLIMIT_NOFILE, &was) < 0 || was.rlim_cur < 1024) {
		printf("descriptor limit: this test's own limit %llu is too low to test, skipped\n",
		       (unsigned long long)was.rlim_cur);
		return;
	}
	harness_kill_cp(&h, SIGKILL);
	setenv("FUNKHAUS_NOFILE", "256", 1); /* for the new funkhaus-cp only */
	int rc = harness_start_cp(&h);

	unsetenv("FUNKHAUS_NOFILE");
	EXPECT(rc == 0, "funkhaus-cp starts with 256 descriptors");
	if (rc)
		return;
	snprintf(log, sizeof(log), "%s/cp.log", h.dir);
	unsigned lines0 = lines_in(log);
	double cpu0 = cp_cpu_s();

	for (int i = 0; i < 400; i++) {
		struct sockaddr_in me = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
		char a[24];

		snprintf(a, sizeof(a), "127.0.%d.%d", 20 + i / 200, 2 + i % 200);
		inet_pton(AF_INET, a, &me.sin_addr);
		inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
		to.sin_port = htons(h.port);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] >= 0 && (bind(fds[i], (struct sockaddr *)&me, sizeof(me)) < 0 ||
				    connect(fds[i], (struct sockaddr *)&to, sizeof(to)) < 0)) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	sleep(3);
	for (int i = 0; i < 400; i++) {
		char b;

		if (fds[i] >= 0 && recv(fds[i], &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN)
			held++; /* still open: the server kept it */
	}
	double cpu = cp_cpu_s() - cpu0;
	unsigned lines = lines_in(log) - lines0;

	EXPECT(held > 0 && held < 256, "below its descriptor limit it holds %d of 400", held);
	EXPECT(cpu >= 0 && cpu < 1.0, "and does not spin meanwhile (%.2f CPU s in 3 s)", cpu);
	EXPECT(lines < 20, "nor log every refusal (%u lines)", lines);
	for (int i = 0; i < 400; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	usleep(300 * 1000);
	int code;
	struct fhc *c = open_as("127.0.0.30", NULL, "Danach", FHC_STOP_MEDIA, NULL, NULL, &code);

	EXPECT(c != NULL, "once they are gone a citizen joins (%d)", code);
	if (c)
		fhc_close(c);
}

int main(int argc, char **argv)
{
	char dir[64], extra[128], conf[1024];

	if (argc != 5) {
		fprintf(stderr, "usage: test_abuse DP_BIN CP_BIN GEN_CERT WEB_ROOT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(dir, sizeof(dir), "/tmp/fh-abuse-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(extra, sizeof(extra), "%s/t", dir);
	mkdir(extra, 0700);
	put_file(dir, "t/amt.conf",
		 "[tenant]\ndisplay_name = Amt\npath_prefix = amt\nlobby = on\n"
		 "max_participants = 4\n");
	put_file(dir, "t/wenig.conf",
		 "[tenant]\ndisplay_name = Wenig\npath_prefix = wenig\nmax_rooms = 2\n");
	snprintf(conf, sizeof(conf),
		 "[controlplane]\ntenants_dir = %s/t\n"
		 "[limits]\nwebsockets_per_source = %d\nparticipants_per_source = %d\n"
		 "rooms_per_source_per_minute = %d\nlobby_reserve = 1\njoin_timeout = %d\n"
		 "media_timeout = %d\nwrong_passwords_per_source = %d\n"
		 "wrong_passwords_per_room = %d\n[api]\nmetrics = public\n",
		 dir, WS_PER_SOURCE, PARTS_PER_SOURCE, ROOMS_PER_MINUTE, JOIN_TIMEOUT_S,
		 MEDIA_TIMEOUT_S, PW_PER_SOURCE, PW_PER_ROOM);
	put_file(dir, "extra.conf", conf);
	snprintf(extra, sizeof(extra), "%s/extra.conf", dir);
	setenv("FUNKHAUS_EXTRA_CONF", extra, 1);
	if (harness_start(&h, argv, 1) < 0) {
		harness_stop(&h, true);
		return 1;
	}
	origin_checked();
	printf("origin (%d failures so far)\n", failures);
	rate_limited_before_join();
	printf("rate limit before join (%d failures so far)\n", failures);
	signalling_sockets_per_source();
	printf("signalling sockets per source (%d failures so far)\n", failures);
	sockets_that_never_join();
	printf("sockets that never join (%d failures so far)\n", failures);
	participants_per_source();
	printf("participants per source, media timeout (%d failures so far)\n", failures);
	silent_rooms_freed();
	printf("silent joins free their rooms (%d failures so far)\n", failures);
	rooms_per_minute();
	printf("rooms per minute (%d failures so far)\n", failures);
	lobby_shares();
	printf("lobby shares (%d failures so far)\n", failures);
	password_guessing();
	printf("password guessing (%d failures so far)\n", failures);
	refusals_in_metrics();
	printf("refusals in /metrics (%d failures so far)\n", failures);
	at_the_descriptor_limit();
	printf("at the descriptor limit (%d failures so far)\n", failures);
	harness_stop(&h, failures > 0);
	snprintf(conf, sizeof(conf), "rm -rf %s", dir);
	if (system(conf) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	curl_global_cleanup();
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
	return failures ? 1 : 0;
}
