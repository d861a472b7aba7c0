/* Unit tests of fh_log: whatever bytes a stranger puts into a logged value, the log line and
 * the audit log stay one readable line (no terminal escapes, no forged line breaks). */
#include <stdlib.h>
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

TEST_MAIN(escape, audit)
