/*
 * fh-guessbench: what password guessing costs everyone else. Against a running Funkhaus node on
 * loopback it opens a room with a password, then SOURCES processes (each from its own address
 * 127.0.1.x) send GUESSES wrong passwords each, all at once, while this process asks /healthz
 * every 20 ms and records how long each answer took. Then JOINS rooms, each a record with a
 * password and nobody in it (so every first entry costs a full PBKDF2), are entered with the
 * right password by JOINERS processes at once: joins per second with hashing off the loop.
 *
 * usage: fh-guessbench [-P PORT] [-s SOURCES] [-g GUESSES] [-j JOINS] [-J JOINERS] [-c]
 *   -c  the guessed room is closed first (only its record is left: every guess is a PBKDF2)
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fh_curlbody.h"
#include "fhc.h"

static unsigned port = 8443;
static char run[16];

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A join from src: 0 when it got in, else the error code (-1: no answer). */
static int join(const char *src, const char *room, const char *pw, bool stay, struct fhc **out)
{
	char err[256];
	struct fhc_opts o = {.host = "127.0.0.1",
			     .port = (uint16_t)port,
			     .room = room,
			     .name = "Rater",
			     .timeout_ms = 15000,
			     .password = pw,
			     .source = src,
			     .stop = FHC_STOP_JOINED};
	struct fhc *c = fhc_connect(&o, err, sizeof(err));
	const char *e = strstr(err, "error ");

	if (c && stay && out)
		*out = c;
	else if (c)
		fhc_close(c);
	return c ? 0 : e ? atoi(e + 6) : -1;
}

/* A room with a password, its opener gone or (stay) kept in it; openers come from several
 * addresses (a node lets one open 10 rooms a minute). */
static struct fhc *open_room(const char *room, const char *pw, bool stay)
{
	static unsigned opened;
	char err[256], set[160], src[24];

	snprintf(src, sizeof(src), "127.0.3.%u", 2 + opened++ / 8);
	struct fhc_opts o = {.host = "127.0.0.1",
			     .port = (uint16_t)port,
			     .source = src,
			     .room = room,
			     .name = "Moderatorin",
			     .timeout_ms = 15000,
			     .stop = FHC_STOP_JOINED};
	struct fhc *c = fhc_connect(&o, err, sizeof(err));

	if (!c) {
		fprintf(stderr, "fh-guessbench: cannot open %s: %s\n", room, err);
		exit(1);
	}
	snprintf(set, sizeof(set),
		 "{\"type\":\"moderate\",\"action\":\"password\",\"password\":\"%s\"}", pw);
	fhc_send_text(c, set, strlen(set));
	for (int i = 0; i < 100; i++)
		fhc_poll(c, 50); /* hashed off the loop: 600 000 iterations */
	if (!stay) {
		fhc_close(c);
		return NULL;
	}
	return c;
}

static double healthz_ms(CURL *cu)
{
	struct fh_curlbody b = {0};
	uint64_t t0 = now_us();
	CURLcode rc;

	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(cu);
	free(b.p);
	return rc == CURLE_OK ? (double)(now_us() - t0) / 1000.0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Asks /healthz every 20 ms until every child has ended and min_ms passed; prints the
 * spread of its answers. */
static void watch(CURL *cu, const char *what, unsigned children, uint64_t t0, unsigned min_ms)
{
	static double ms[100000];
	unsigned n = 0, failed = 0, ended = 0;
	int status;

	while (ended < children || now_us() - t0 < min_ms * 1000ull) {
		while (waitpid(-1, &status, WNOHANG) > 0)
			ended++;
		double m = healthz_ms(cu);

		if (m < 0)
			failed++;
		else if (n < 100000)
			ms[n++] = m;
		usleep(20000);
	}
	double secs = (double)(now_us() - t0) / 1e6;

	qsort(ms, n, sizeof(ms[0]), cmp);
	printf("%s: %.1f s; /healthz %u answers: p50 %.1f ms, p99 %.1f ms, max %.1f ms; %u "
	       "unanswered\n",
	       what, secs, n, n ? ms[n / 2] : 0, n ? ms[n * 99 / 100] : 0, n ? ms[n - 1] : 0,
	       failed);
}

int main(int argc, char **argv)
{
	unsigned sources = 48, guesses = 5, joins = 24, joiners = 8;
	bool closed = false;
	int c;

	while ((c = getopt(argc, argv, "P:s:g:j:J:ch")) != -1) {
		switch (c) {
		case 'P':
			port = (unsigned)atoi(optarg);
			break;
		case 's':
			sources = (unsigned)atoi(optarg);
			break;
		case 'g':
			guesses = (unsigned)atoi(optarg);
			break;
		case 'j':
			joins = (unsigned)atoi(optarg);
			break;
		case 'J':
			joiners = (unsigned)atoi(optarg);
			break;
		case 'c':
			closed = true;
			break;
		default:
			fprintf(stderr, "usage: fh-guessbench [-P PORT] [-s SOURCES] [-g GUESSES] "
					"[-j JOINS] [-J JOINERS] [-c]\n");
			return 2;
		}
	}
	if (!sources || sources > 250 || !joiners || joiners > 250)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	snprintf(run, sizeof(run), "%x", (unsigned)getpid());
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *cu = curl_easy_init();
	char url[96], room[64];

	snprintf(url, sizeof(url), "https://127.0.0.1:%u/healthz", port);
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, fh_curlbody_collect);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, 10L);
	watch(cu, "quiet, for comparison", 0, now_us(), 3000);

	/* the guessing */
	snprintf(room, sizeof(room), "Guess%s", run);
	struct fhc *mod = open_room(room, "Richtig-42", !closed);
	uint64_t t0 = now_us();

	fflush(stdout);
	for (unsigned s = 0; s < sources; s++) {
		/* children print; nothing buffered may be printed twice */
		if (fork() == 0) {
			char src[24];
			int got[6] = {0};

			/* the guessers come from elsewhere in real life: here they must not take
			 * the CPU the node needs, or the figure measures this machine's two cores */
			if (nice(19) < 0)
				perror("nice");
			snprintf(src, sizeof(src), "127.0.1.%u", s + 2);
			for (unsigned g = 0; g < guesses; g++) {
				int e = join(src, room, "falsch", false, NULL);

				got[e == 4032 ? 0 : e == 4034 ? 1 : e == 5006 ? 2 : 3]++;
			}
			printf("  source %s: %d wrong (4032), %d not checked (4034), %d busy "
			       "(5006), %d other\n",
			       src, got[0], got[1], got[2], got[3]);
			_exit(0);
		}
	}
	char what[160];

	snprintf(what, sizeof(what), "%u sources x %u wrong guesses at once (room %s)", sources,
		 guesses, closed ? "closed: a PBKDF2 each" : "open: the quick check");
	watch(cu, what, sources, t0, 0);
	if (mod)
		fhc_close(mod);

	/* joins with the right password, each the first into a room that is only a record */
	for (unsigned j = 0; j < joins; j++) {
		snprintf(room, sizeof(room), "Rec%s-%u", run, j);
		open_room(room, "Richtig-42", false);
	}
	t0 = now_us();
	for (unsigned k = 0; k < joiners; k++) {
		if (fork() == 0) {
			char src[24];
			unsigned ok = 0;

			if (nice(19) < 0)
				perror("nice");
			snprintf(src, sizeof(src), "127.0.2.%u", k + 2);
			for (unsigned j = k; j < joins; j += joiners) {
				char r[64];

				snprintf(r, sizeof(r), "Rec%s-%u", run, j);
				ok += join(src, r, "Richtig-42", false, NULL) == 0;
			}
			_exit(ok == (joins - k + joiners - 1) / joiners ? 0 : 1);
		}
	}
	snprintf(what, sizeof(what),
		 "%u joins with the right password, each needing a PBKDF2, "
		 "from %u processes",
		 joins, joiners);
	watch(cu, what, joiners, t0, 0);
	printf("  %.2f joins/s\n", (double)joins / ((double)(now_us() - t0) / 1e6));
	fflush(stdout);
	curl_easy_cleanup(cu);
	curl_global_cleanup();
	return 0;
}
