/* fh_conf: INI parser for funkhaus.conf. Runs at start and on reload, never on a hot path. */
#include "fh_conf.h"

#include <ctype.h>
#include <getopt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why the last value helper refused its value, for a callback that says nothing itself:
 * without it a bad number would be reported as an unknown key. */
static _Thread_local char why[160];

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);

	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int fh_conf_load(const char *path, fh_conf_cb cb, void *ctx, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	char section[64] = "";
	int lineno = 0, rc = 0;

	if (!f) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, err_len, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		char *s = trim(line);

		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');

			if (!e || e[1] != '\0' || e - s - 1 >= (long)sizeof(section)) {
				snprintf(err, err_len, "%s:%d: bad section header", path, lineno);
				rc = -1;
				break;
			}
			*e = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		char *eq = strchr(s, '=');

		if (!eq) {
			snprintf(err, err_len, "%s:%d: expected key = value", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(s);
		char *val = trim(eq + 1);
		char msg[256] = "";

		why[0] = '\0';
		if (cb(ctx, section, key, val, msg, sizeof(msg)) < 0) {
			snprintf(err, err_len, "%s:%d: [%s] %s: %s", path, lineno, section, key,
				 msg[0]	  ? msg
				 : why[0] ? why
					  : "unknown key");
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

int fh_conf_uint(const char *v, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long x = 0;

	errno = 0;
	if (*v && *v != '-')
		x = strtoul(v, &end, 10);
	if (!end || errno || *end || x < min || x > max) {
		snprintf(why, sizeof(why), "\"%.40s\" is not a whole number from %lu to %lu", v,
			 min, max);
		return -1;
	}
	*out = x;
	return 0;
}

int fh_conf_port(const char *v, unsigned long min, unsigned long max, unsigned long *out)
{
	if (fh_conf_uint(v, min, max, out) < 0) {
		snprintf(why, sizeof(why), "\"%.40s\" is not a port: a number from %lu to %lu", v,
			 min, max);
		return -1;
	}
	return 0;
}

int fh_conf_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0")) {
		*out = false;
		return 0;
	}
	snprintf(why, sizeof(why), "\"%.40s\" is neither yes nor no", v);
	return -1;
}

static char conf_path[1024];

const char *fh_conf_path(void)
{
	return conf_path;
}

int fh_conf_main(int argc, char **argv, const char *prog, fh_conf_cb cb, void *ctx, bool *done)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *path = NULL;
	char err[512];
	int o;

	*done = true;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (o != 'c') {
			fprintf(stderr, "usage: %s -c CONFIG (see conf/funkhaus.conf)\n", prog);
			return o == 'h' ? 0 : 2;
		}
		path = optarg;
	}
	if (!path) {
		fprintf(stderr, "usage: %s -c CONFIG (see conf/funkhaus.conf)\n", prog);
		return 2;
	}
	if (fh_conf_load(path, cb, ctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 2;
	}
	snprintf(conf_path, sizeof(conf_path), "%s", path);
	*done = false;
	return 0;
}
