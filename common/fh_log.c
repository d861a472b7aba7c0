/* fh_log: timestamped log lines on stderr. Any thread; one fprintf per line keeps lines whole. */
#include "fh_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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

void fh_log(enum fh_log_level lvl, const char *fmt, ...)
{
	char msg[1024], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (lvl > max_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", ts, now.tv_nsec / 1000000, names[lvl], component,
		msg);
}
