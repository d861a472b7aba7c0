/*
 * funkhaus-loghold: an admin's legal hold on the logs of a time range (after an attack, when
 * they must be kept as evidence). funkhaus-cp then leaves the daemons' log files of those days
 * alone until the hold is lifted. Every change goes to <log_dir>/audit.log with who and when.
 *
 *   funkhaus-loghold -c CONFIG set FROM TO REASON...   (dates YYYY-MM-DD, UTC)
 *   funkhaus-loghold -c CONFIG lift FROM TO
 *   funkhaus-loghold -c CONFIG list
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fh_conf.h"
#include "fh_log.h"

static char log_dir[512];

static int conf_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t elen)
{
	(void)ctx, (void)err, (void)elen;
	if (!strcmp(sec, "instance") && !strcmp(key, "log_dir"))
		snprintf(log_dir, sizeof(log_dir), "%s", val);
	return 0; /* the daemons check everything else */
}

static int usage(void)
{
	fprintf(stderr, "usage: funkhaus-loghold -c CONFIG set FROM TO REASON...\n"
			"       funkhaus-loghold -c CONFIG lift FROM TO\n"
			"       funkhaus-loghold -c CONFIG list\n");
	return 2;
}

int main(int argc, char **argv)
{
	char err[512], who[160], reason[420] = "";
	const struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");

	if (argc < 4 || strcmp(argv[1], "-c"))
		return usage();
	if (fh_conf_load(argv[2], conf_cb, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "funkhaus-loghold: %s\n", err);
		return 2;
	}
	if (!log_dir[0]) {
		fprintf(stderr,
			"funkhaus-loghold: %s has no [instance] log_dir: the daemons keep no "
			"log files\n",
			argv[2]);
		return 2;
	}
	/* the admin's account, as the audit log records it */
	snprintf(who, sizeof(who), "%s%s%s", pw ? pw->pw_name : "uid?", sudo ? "/sudo:" : "",
		 sudo ? sudo : "");
	const char *cmd = argv[3];

	if (!strcmp(cmd, "list") && argc == 4) {
		char path[600], line[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/legal-holds", log_dir);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			fputs(line, stdout);
		if (f)
			fclose(f);
		return 0;
	}
	if (!strcmp(cmd, "set") && argc >= 7) {
		for (int i = 6; i < argc; i++) {
			size_t n = strlen(reason);

			snprintf(reason + n, sizeof(reason) - n, "%s%s", n ? " " : "", argv[i]);
		}
		if (fh_log_hold_set(log_dir, argv[4], argv[5], reason, who, (int64_t)time(NULL),
				    err, sizeof(err)) < 0) {
			fprintf(stderr, "funkhaus-loghold: %s\n", err);
			return 1;
		}
		printf("legal hold set: logs of %s to %s are kept until it is lifted\n", argv[4],
		       argv[5]);
		return 0;
	}
	if (!strcmp(cmd, "lift") && argc == 6) {
		if (fh_log_hold_lift(log_dir, argv[4], argv[5], who, (int64_t)time(NULL), err,
				     sizeof(err)) < 0) {
			fprintf(stderr, "funkhaus-loghold: %s\n", err);
			return 1;
		}
		printf("legal hold lifted: logs of %s to %s follow the retention days again\n",
		       argv[4], argv[5]);
		return 0;
	}
	return usage();
}
