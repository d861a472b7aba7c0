/* Unit tests of fh_log: whatever bytes a stranger puts into a logged value, the log line and
 * the audit log stay one readable line (no terminal escapes, no forged line breaks); a line
 * repeated at once is written once and then counted, lines that differ are all written. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fh_log.h"
#include "fh_test.h"

static void escape(void)
{
	char out[64];

	fh_log_escape("Rathaus 2", out, sizeof(out));
	CHECK(!strcmp(out, "Rathaus 2"));
	fh_log_escape("x\x1b[1A\x1b[2K\b\r\nfake line", out, sizeof(out));
	CHECK(!strcmp(out, "x\\x1b[1A\\x1b[2K\\x08\\x0d\\x0afake line"));
	fh_log_escape("a\\b", out, sizeof(out)); /* a backslash cannot forge an escape */
	CHECK(!strcmp(out, "a\\\\b"));
	fh_log_escape("M\xc3\xbcnchen \xe2\x82\xac", out, sizeof(out)); /* UTF-8 stays */
	CHECK(!strcmp(out, "M\xc3\xbcnchen \xe2\x82\xac"));
	fh_log_escape("\xc2\x9b"
		      "2J\x7f",
		      out, sizeof(out)); /* C1 CSI and DEL */
	CHECK(!strcmp(out, "\\xc2\\x9b2J\\x7f"));
	fh_log_escape("\xff\xc3", out, sizeof(out)); /* not UTF-8, cut short */
	CHECK(!strcmp(out, "\\xff\\xc3"));
	/* cut at a whole escape, always terminated */
	CHECK_EQ(fh_log_escape("ab\x1b", out, 6), 2);
	CHECK(!strcmp(out, "ab"));
	CHECK_EQ(fh_log_escape("ab\x1b", out, 7), 6);
}

static void audit(void)
{
	char dir[] = "/tmp/fh-test-log-XXXXXX", path[64], line[256], err[128];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ(fh_log_audit(dir, "ops\n2026", "api GET /api/v1/tenants/x\x1b[1A\x1b[2K -> 404",
			      1800000000, err, sizeof(err)),
		 0);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	f = fopen(path, "r");
	CHECK(f && fgets(line, sizeof(line), f));
	CHECK_STR_CONTAINS(line, "ops\\x0a2026 api GET /api/v1/tenants/x\\x1b[1A\\x1b[2K -> 404\n");
	CHECK(f && !fgets(line, sizeof(line), f)); /* one line, not two */
	if (f)
		fclose(f);
	unlink(path);
	rmdir(dir);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Every line of the day files in dir, in one buffer (free it). */
static char *read_logs(const char *dir)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = calloc(1, cap);
	DIR *d = opendir(dir);

	for (struct dirent *e; d && buf && (e = readdir(d));) {
		char path[512];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		len += fread(buf + len, 1, cap - len - 1, f);
		fclose(f);
	}
	if (d)
		closedir(d);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Empties the day files; they stay open in fh_log (appending). */
static void clean(const char *dir)
{
	DIR *d = opendir(dir);

	for (struct dirent *e; d && (e = readdir(d));) {
		char path[512];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		CHECK_EQ(truncate(path, 0), 0);
	}
	if (d)
		closedir(d);
}

static void throttle(void)
{
	char dir[] = "/tmp/fh-test-throttle-XXXXXX";
	char *log;

	CHECK(mkdtemp(dir) != NULL);
	fh_log_init("test", FH_LOG_DEBUG);
	CHECK_EQ(fh_log_to_dir(dir), 0);
	/* wide enough for a loaded test machine: a stall longer than quiet_ms ends a burst */
	fh_log_throttle(400, 1000);

	/* a burst of one line: written once, then its count once it is quiet */
	for (int i = 0; i < 1000; i++)
		fh_log(FH_LOG_ERR, "lws: accept: errno %d", 24);
	log = read_logs(dir);
	CHECK_EQ(count(log, "lws: accept: errno 24"), 1);
	free(log);
	fh_log_tick(); /* not quiet long enough yet */
	log = read_logs(dir);
	CHECK_EQ(count(log, "repeated"), 0);
	free(log);
	sleep_ms(500);
	fh_log_tick();
	log = read_logs(dir);
	CHECK_EQ(count(log, "lws: accept: errno 24"), 2);
	CHECK_STR_CONTAINS(log, "error test: lws: accept: errno 24 \u2026 repeated 999 times\n");
	free(log);

	/* the same format with other text, and other levels, are other lines */
	clean(dir);
	for (int i = 0; i < 20; i++)
		fh_log(FH_LOG_INFO, "participant %s joined", i % 2 ? "p1" : "p2");
	fh_log(FH_LOG_WARN, "participant %s joined", "p1");
	fh_log(FH_LOG_INFO, "%s", "one thing");
	fh_log(FH_LOG_INFO, "%s", "another thing");
	log = read_logs(dir);
	CHECK_EQ(count(log, "info test: participant p1 joined\n"), 1);
	CHECK_EQ(count(log, "info test: participant p2 joined\n"), 1);
	CHECK_EQ(count(log, "warn test: participant p1 joined\n"), 1);
	CHECK_EQ(count(log, "one thing"), 1);
	CHECK_EQ(count(log, "another thing"), 1);
	free(log);
	sleep_ms(500);
	fh_log_tick();
	log = read_logs(dir);
	CHECK_STR_CONTAINS(log, "participant p1 joined \u2026 repeated 9 times");
	CHECK_STR_CONTAINS(log, "participant p2 joined \u2026 repeated 9 times");
	free(log);

	/* a line that goes on: its count every report_ms, nothing lost at the end */
	clean(dir);
	int sent = 0;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		fh_log(FH_LOG_WARN, "worker %u command ring full", 0u);
		sent++;
		sleep_ms(10);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 2500);
	log = read_logs(dir);
	CHECK(count(log, "repeated") >= 2); /* at 1 s and 2 s */
	free(log);
	sleep_ms(500);
	fh_log_tick();
	log = read_logs(dir);
	/* every line sent is written or counted */
	int counted = 0;

	for (const char *p = log; (p = strstr(p, "repeated ")); p++)
		counted += atoi(p + 9);
	CHECK_EQ(count(log, "worker 0 command ring full\n") + counted, sent);
	free(log);

	/* a line after a quiet spell is written again */
	clean(dir);
	fh_log(FH_LOG_INFO, "waiting for %s", "the dataplane");
	sleep_ms(500);
	fh_log(FH_LOG_INFO, "waiting for %s", "the dataplane");
	log = read_logs(dir);
	CHECK_EQ(count(log, "waiting for the dataplane\n"), 2);
	CHECK_EQ(count(log, "repeated"), 0);
	free(log);

	/* a count not yet written when the process exits is written then */
	clean(dir);
	pid_t pid = fork();

	if (pid == 0) {
		for (int i = 0; i < 5; i++)
			fh_log(FH_LOG_ERR, "disk %s", "full");
		exit(0);
	}
	waitpid(pid, NULL, 0);
	log = read_logs(dir);
	CHECK_STR_CONTAINS(log, "disk full \u2026 repeated 4 times");
	free(log);

	/* switched off: every line */
	clean(dir);
	fh_log_throttle(0, 0);
	for (int i = 0; i < 5; i++)
		fh_log(FH_LOG_ERR, "again");
	log = read_logs(dir);
	CHECK_EQ(count(log, "again\n"), 5);
	free(log);
	DIR *d = opendir(dir);

	for (struct dirent *e; d && (e = readdir(d));) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.')
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

TEST_MAIN(escape, audit, throttle)
