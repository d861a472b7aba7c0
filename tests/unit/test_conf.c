/* Unit tests of fh_conf: a refused line names the file, the line, the key and what is wrong
 * with the value, and only a key nobody knows is called unknown. */
#include <unistd.h>

#include "fh_conf.h"
#include "fh_test.h"

struct vals {
	unsigned long port, workers;
	bool chat;
};

static int cb(void *ctx, const char *sec, const char *key, const char *val, char *err, size_t elen)
{
	struct vals *v = ctx;

	(void)sec;
	if (!strcmp(key, "port"))
		return fh_conf_port(val, 1, 65535, &v->port);
	if (!strcmp(key, "workers"))
		return fh_conf_uint(val, 1, 64, &v->workers);
	if (!strcmp(key, "chat"))
		return fh_conf_bool(val, &v->chat);
	if (!strcmp(key, "size")) /* a number, or auto */
		return fh_conf_uint(val, 1, 10, &v->workers) == 0 || !strcmp(val, "auto") ? 0 : -1;
	if (!strcmp(key, "mode")) {
		snprintf(err, elen, "fast or slow");
		return -1;
	}
	return -1;
}

/* Loads text as a file; the error message, "" when it loaded. */
static const char *load(const char *text, struct vals *v)
{
	static char err[512];
	char path[] = "/tmp/fh-test-conf-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	err[0] = '\0';
	fh_conf_load(path, cb, v, err, sizeof(err));
	unlink(path);
	return err;
}

static void messages(void)
{
	struct vals v = {0};

	CHECK_EQ(strlen(load("[a]\nport = 8443\nworkers = 4\nchat = no\n", &v)), 0);
	CHECK_EQ(v.port, 8443);
	CHECK_EQ(v.workers, 4);
	CHECK_STR_CONTAINS(load("[a]\nport = banana\n", &v),
			   ":2: [a] port: \"banana\" is not a port: a number from 1 to 65535");
	CHECK_STR_CONTAINS(load("[a]\nport = 70000\n", &v), "is not a port");
	CHECK_STR_CONTAINS(load("[a]\nworkers = -1\n", &v),
			   "\"-1\" is not a whole number from 1 to 64");
	CHECK_STR_CONTAINS(load("[a]\nworkers = 4x\n", &v), "\"4x\" is not a whole number");
	CHECK_STR_CONTAINS(load("[a]\nworkers =\n", &v), "\"\" is not a whole number");
	CHECK_STR_CONTAINS(load("[a]\nchat = perhaps\n", &v), "\"perhaps\" is neither yes nor no");
	/* the callback's own reason wins; a key it does not know is unknown */
	CHECK_STR_CONTAINS(load("[a]\nmode = turbo\n", &v), "[a] mode: fast or slow");
	CHECK_STR_CONTAINS(load("[a]\nprot = 1\n", &v), "[a] prot: unknown key");
	/* a helper's reason from a line that was accepted all the same is not reused for a later
	 * unknown key */
	CHECK_STR_CONTAINS(load("[a]\nsize = auto\nwrokers = 3\n", &v),
			   ":3: [a] wrokers: unknown key");
}

TEST_MAIN(messages)
