/* fh_log: timestamped log lines on stderr or in daily files, repeats throttled; retention and
 * legal holds. Any thread: a mutex keeps lines whole, the day's file switch atomic and the
 * table of repeats consistent. */
#include "fh_log.h"

#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char log_dir[512];
static FILE *log_file;
static char log_day[11]; /* YYYY-MM-DD of log_file */

static const char *component = "funkhaus";
static enum fh_log_level max_level = FH_LOG_INFO;
static const char *const names[] = {"crit", "error", "warn", "info", "debug"};

void fh_log_init(const char *comp, enum fh_log_level max)
{
	component = comp;
	max_level = max;
}

int fh_log_level_parse(const char *s, enum fh_log_level *out)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i])) {
			*out = (enum fh_log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Length of the well-formed UTF-8 sequence at p that is not a C1 control, or 0. */
static size_t utf8_ok(const unsigned char *p)
{
	size_t len = (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
	uint32_t c;

	if (!len)
		return 0;
	c = *p & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 2 && c < 0xa0) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

size_t fh_log_escape(const char *in, char *out, size_t n)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	if (!n)
		return 0;
	while (*p) {
		size_t len = *p >= 0x20 && *p < 0x7f && *p != '\\' ? 1
			     : *p >= 0x80			   ? utf8_ok(p)
								   : 0;
		char esc[5];
		const char *src = (const char *)p;
		size_t w = len;

		if (!len) {
			if (*p == '\\')
				memcpy(esc, "\\\\", w = 2);
			else
				w = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", *p);
			src = esc;
			len = 1;
		}
		if (o + w >= n)
			break;
		memcpy(out + o, src, w);
		o += w;
		p += len;
	}
	out[o] = '\0';
	return o;
}

/*
 * Repeats. A line equal to one written or counted less than quiet_ms before (same level, same
 * format, same text) is counted instead of written; the count goes out as "<line> … repeated N
 * times" once the line has been quiet for quiet_ms, every report_ms while it goes on, when the
 * table needs its slot, and at exit. A process at its descriptor limit once wrote a million
 * identical accept errors in 20 s. The text is compared as well as the format: lines such as
 * "participant %s joined" or "%s" differ in what matters.
 */
#define REPEAT_SLOTS 8

struct repeat {
	const char *fmt;
	enum fh_log_level lvl;
	bool used;
	unsigned long long n; /* repeats counted and not yet reported */
	uint64_t last_ms;     /* last seen (CLOCK_MONOTONIC) */
	uint64_t report_ms;   /* the line or its count last written */
	char msg[1024];
};

static struct repeat repeats[REPEAT_SLOTS];
static unsigned quiet_ms = 1000, report_ms = 5000;
static unsigned pending; /* slots with n > 0, read without the lock by fh_log_tick */
static bool exit_hooked;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void write_line(enum fh_log_level lvl, const char *msg);
static ssize_t write_all(int fd, const char *buf, size_t len);
/* Lines the log could not take (a full disk), noted once it can again. Under the lock. */
static struct {
	unsigned long long lines;
	int err;
	bool cut; /* the first of them was written in part */
	char since[32];
} lost;

static void report(struct repeat *r, uint64_t now)
{
	char line[sizeof(r->msg) + 64];

	snprintf(line, sizeof(line), "%s \u2026 repeated %llu times", r->msg, r->n);
	write_line(r->lvl, line);
	r->n = 0;
	r->report_ms = now;
	__atomic_sub_fetch(&pending, 1, __ATOMIC_RELAXED);
}

/* Reports the counts of lines quiet for quiet_ms (all of them when force). Under the lock. */
static void report_quiet(uint64_t now, bool force)
{
	for (int i = 0; i < REPEAT_SLOTS; i++)
		if (repeats[i].used && repeats[i].n &&
		    (force || now - repeats[i].last_ms >= quiet_ms))
			report(&repeats[i], now);
}

static void report_at_exit(void)
{
	/* a thread that died holding the lock must not hang the exit */
	if (pthread_mutex_trylock(&lock) != 0)
		return;
	report_quiet(mono_ms(), true);
	pthread_mutex_unlock(&lock);
}

/* Whether the line is a repeat, which it then counts; else it takes a slot for it. Under the
 * lock. */
static bool repeated(enum fh_log_level lvl, const char *fmt, const char *msg, uint64_t now)
{
	struct repeat *r = NULL, *oldest = &repeats[0];

	if (!quiet_ms)
		return false;
	for (int i = 0; i < REPEAT_SLOTS; i++) {
		struct repeat *x = &repeats[i];

		if (x->used && x->fmt == fmt && x->lvl == lvl && !strcmp(x->msg, msg)) {
			r = x;
			break;
		}
		if (!x->used || (oldest->used && x->last_ms < oldest->last_ms))
			oldest = x;
	}
	if (r && now - r->last_ms < quiet_ms) {
		if (!r->n++)
			__atomic_add_fetch(&pending, 1, __ATOMIC_RELAXED);
		r->last_ms = now;
		if (!exit_hooked)
			exit_hooked = atexit(report_at_exit) == 0;
		if (now - r->report_ms >= report_ms)
			report(r, now);
		return true;
	}
	if (!r) {
		r = oldest;
		if (r->used && r->n)
			report(r, now);
		r->used = true;
		r->fmt = fmt;
		r->lvl = lvl;
		snprintf(r->msg, sizeof(r->msg), "%s", msg);
	}
	r->last_ms = r->report_ms = now;
	return false;
}

void fh_log_throttle(unsigned quiet, unsigned report_every)
{
	pthread_mutex_lock(&lock);
	report_quiet(mono_ms(), true);
	quiet_ms = quiet;
	report_ms = report_every;
	memset(repeats, 0, sizeof(repeats));
	pthread_mutex_unlock(&lock);
}

void fh_log_tick(void)
{
	if (!__atomic_load_n(&pending, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&lock);
	report_quiet(mono_ms(), false);
	pthread_mutex_unlock(&lock);
}

void fh_log(enum fh_log_level lvl, const char *fmt, ...)
{
	char raw[1024], msg[1024];
	va_list ap;

	if (lvl > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* whatever a stranger's bytes in the arguments hold, a line stays one readable line */
	fh_log_escape(raw, msg, sizeof(msg));
	uint64_t now = mono_ms();

	pthread_mutex_lock(&lock);
	report_quiet(now, false);
	if (!repeated(lvl, fmt, msg, now))
		write_line(lvl, msg);
	pthread_mutex_unlock(&lock);
}

/* Under the lock. */
static void write_line(enum fh_log_level lvl, const char *msg)
{
	char ts[32];
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	FILE *out = stderr;

	if (log_dir[0]) {
		if (!log_file || strncmp(log_day, ts, 10)) {
			char path[600];
			int fd;

			if (log_file)
				fclose(log_file);
			snprintf(log_day, sizeof(log_day), "%.10s", ts);
			snprintf(path, sizeof(path), "%s/%s-%s.log", log_dir, component, log_day);
			fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
			log_file = fd >= 0 ? fdopen(fd, "a") : NULL;
			if (fd >= 0 && !log_file)
				close(fd);
		}
		if (log_file)
			out = log_file;
	}
	char line[1400];
	int n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: %s\n", ts, now.tv_nsec / 1000000,
			 names[lvl], component, msg);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	if (lost.lines) {
		/* the disk took lines again: first what is missing, and how a cut line ended */
		char note[256];
		int m = snprintf(note, sizeof(note),
				 "%s%s.%03ldZ warn %s: %llu log line(s) could not be written since "
				 "%s (%s)\n",
				 lost.cut ? "\n" : "", ts, now.tv_nsec / 1000000, component,
				 (unsigned long long)lost.lines, lost.since, strerror(lost.err));

		if (write_all(fileno(out), note, (size_t)m) < 0)
			goto failed;
		memset(&lost, 0, sizeof(lost));
	}
	/* one write(2) per line, not stdio's buffer: a full disk drops whole lines, and a line
	 * cut short is ended by the note above */
	ssize_t w = write_all(fileno(out), line, (size_t)n);

	if (w == n)
		return;
	if (w > 0)
		lost.cut = true;
failed:
	if (!lost.lines++) {
		lost.err = errno;
		snprintf(lost.since, sizeof(lost.since), "%s.%03ldZ", ts, now.tv_nsec / 1000000);
	}
}

/* Writes all of buf to fd; what was written when a write failed (errno says why), or len. */
static ssize_t write_all(int fd, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return off ? (ssize_t)off : -1;
		off += (size_t)w;
	}
	return (ssize_t)len;
}

int fh_log_to_dir(const char *dir)
{
	char path[600], day[16];
	struct stat st;
	time_t now = time(NULL);
	struct tm tm;
	int fd;

	if (strlen(dir) >= sizeof(log_dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	if (stat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	/* Today's file now: a directory this user cannot write is an error at start, not lines
	 * that quietly go elsewhere later. */
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(path, sizeof(path), "%s/%s-%s.log", dir, component, day);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	pthread_mutex_lock(&lock);
	snprintf(log_dir, sizeof(log_dir), "%s", dir);
	pthread_mutex_unlock(&lock);
	return 0;
}

/* "YYYY-MM-DD" to days since the epoch; -1 when it is not a date. */
static int64_t day_of(const char *s)
{
	struct tm tm = {0};
	int y, m, d;
	char tail;

	if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 || m < 1 || m > 12 ||
	    d < 1 || d > 31 || strlen(s) != 10)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	time_t t = timegm(&tm);

	return t < 0 ? -1 : (int64_t)t / 86400;
}

int fh_log_held(const char *dir, int64_t day)
{
	char path[600], line[512], from[16], to[16];
	FILE *f;
	int held = 0;

	snprintf(path, sizeof(path), "%s/legal-holds", dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%15s %15s", from, to) == 2 && day_of(from) >= 0 &&
		    day >= day_of(from) && day <= day_of(to))
			held = 1;
	if (f)
		fclose(f);
	return held;
}

unsigned fh_log_expire(const char *dir, int64_t now, unsigned days)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	int64_t today = now / 86400;

	for (struct dirent *e; d && (e = readdir(d));) {
		size_t l = strlen(e->d_name);
		char path[800];

		/* <name>-YYYY-MM-DD.log */
		if (l < 16 || strcmp(e->d_name + l - 4, ".log") || e->d_name[l - 15] != '-')
			continue;
		char date[11];

		snprintf(date, sizeof(date), "%.10s", e->d_name + l - 14);
		int64_t day = day_of(date);

		if (day < 0 || today - day <= (int64_t)days || fh_log_held(dir, day))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

int fh_log_audit(const char *dir, const char *who, const char *what, int64_t now, char *err,
		 size_t elen)
{
	char path[600], ts[32], ewho[256], ewhat[1024];
	time_t t = (time_t)now;
	struct tm tm;
	int fd;

	fh_log_escape(who, ewho, sizeof(ewho));
	fh_log_escape(what, ewhat, sizeof(ewhat));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, elen, "%s: %s", path, strerror(errno));
		return -1;
	}
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	dprintf(fd, "%s %s %s\n", ts, ewho, ewhat);
	close(fd);
	return 0;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int fh_log_hold_set(const char *dir, const char *from, const char *to, const char *reason,
		    const char *who, int64_t now, char *err, size_t elen)
{
	char path[600], what[700];
	int fd;

	if (day_of(from) < 0 || day_of(to) < 0 || day_of(to) < day_of(from)) {
		snprintf(err, elen, "FROM and TO are dates YYYY-MM-DD, FROM not after TO");
		return -1;
	}
	if (!reason || !*reason || strlen(reason) > 400 || !printable(reason)) {
		snprintf(err, elen, "a reason (one line, up to 400 characters) is required");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/legal-holds", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, elen, "%s: %s", path, strerror(errno));
		return -1;
	}
	dprintf(fd, "%s %s %s\n", from, to, reason);
	close(fd);
	snprintf(what, sizeof(what), "legal hold set %s %s: %s", from, to, reason);
	return fh_log_audit(dir, who, what, now, err, elen);
}

int fh_log_hold_lift(const char *dir, const char *from, const char *to, const char *who,
		     int64_t now, char *err, size_t elen)
{
	char path[600], tmp[620], line[512], f1[16], t1[16], what[128];
	FILE *in, *out;
	int found = 0;

	snprintf(path, sizeof(path), "%s/legal-holds", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	in = fopen(path, "r");
	if (!in) {
		snprintf(err, elen, "no legal hold is set");
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	out = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!out) {
		fclose(in);
		snprintf(err, elen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "%15s %15s", f1, t1) == 2 && !strcmp(f1, from) &&
		    !strcmp(t1, to)) {
			found = 1;
			continue;
		}
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
	if (!found) {
		unlink(tmp);
		snprintf(err, elen, "no legal hold %s %s", from, to);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, elen, "%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(what, sizeof(what), "legal hold lifted %s %s", from, to);
	return fh_log_audit(dir, who, what, now, err, elen);
}
