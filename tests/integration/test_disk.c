/*
 * A full disk loses nothing that matters: funkhaus-cp's state_dir and log_dir live on a small
 * tmpfs the test mounts and then fills. Calls go on; a room opened meanwhile gets a password
 * and its record waits for the disk; once space returns the record is written (a new
 * funkhaus-cp, which knows nothing but the records, asks joiners for that password) and the log
 * says how many lines it could not write, with the cut line ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"

int failures;
struct harness h;

static char dir[64], full[96], filler[128], cplog[256];

static void fill_disk(void)
{
	static char block[65536];
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	memset(block, 'x', sizeof(block));
	while (fd >= 0 && write(fd, block, sizeof(block)) > 0)
		;
	while (fd >= 0 && write(fd, block, 512) > 0) /* the last crumbs */
		;
	if (fd >= 0)
		close(fd);
}

static bool log_has(const char *what)
{
	char line[1024];
	FILE *f = fopen(cplog, "r");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return found;
}

static struct fhc *try_join(const char *room, const char *name, const char *pw, int *code)
{
	return try_join_with(
		(struct fhc_opts){
			.room = room, .name = name, .audio = true, .video = true, .password = pw},
		code);
}

int main(int argc, char **argv)
{
	char extra[160], conf[512], day[16];
	int code;

	if (argc != 5) {
		fprintf(stderr, "usage: test_disk DP_BIN CP_BIN GEN_CERT WEB_ROOT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/fh-disk-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(full, sizeof(full), "%s/small", dir);
	mkdir(full, 0700);
	if (mount("tmpfs", full, "tmpfs", 0, "size=4m,mode=0700") < 0) {
		printf("SKIP: cannot mount a small tmpfs for a full disk: %s\n", strerror(errno));
		return 77;
	}
	snprintf(filler, sizeof(filler), "%s/filler", full);
	time_t t0 = time(NULL);
	struct tm tm0;

	gmtime_r(&t0, &tm0);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm0);
	snprintf(cplog, sizeof(cplog), "%s/logs/funkhaus-cp-%s.log", full, day);
	setenv("FUNKHAUS_CP_LOG", cplog, 1);
	snprintf(conf, sizeof(conf),
		 "[controlplane]\nstate_dir = %s/state\n[instance]\nlog_dir = %s/logs\n", full,
		 full);
	put_file(dir, "extra.conf", conf);
	snprintf(extra, sizeof(extra), "%s/extra.conf", dir);
	setenv("FUNKHAUS_EXTRA_CONF", extra, 1);
	if (harness_start(&h, argv, 1) < 0) {
		harness_stop(&h, true);
		umount(full);
		return 1;
	}
	struct fhc *a = try_join("Bestand", "Anna", NULL, &code);

	EXPECT(a != NULL, "a call before the disk fills (%d)", code);

	fill_disk();
	struct fhc *m = try_join("Vollplatte", "Mia", NULL, &code);
	struct fhc *b = try_join("Bestand", "Bernd", NULL, &code);

	EXPECT(m && fhc_moderator(m), "a room opens while the disk is full (%d)", code);
	EXPECT(b != NULL, "and joins to running rooms work (%d)", code);
	if (a && b) {
		struct fhc *two[] = {a, b};

		talk(a, "voll", 10, two, 2);
		EXPECT(last_payload_is(b, fhc_id(a), true, "voll:9"), "calls go on on a full disk");
	}
	if (m) {
		const char *set =
			"{\"type\":\"moderate\",\"action\":\"password\",\"password\":\"Geheim-1\"}";
		struct fhc *one[] = {m};

		fhc_send_text(m, set, strlen(set));
		pump(one, 1, 2500); /* hashed off the loop; its record waits for the disk */
		EXPECT(fhc_last_error(m) == 0, "the moderator sets a password");
		fhc_close(m); /* the room ends; what it keeps is only in its record now */
	}
	/* enough log lines to outgrow the last page the log file had */
	for (int i = 0; i < 40; i++) {
		struct fhc *g = try_join_with((struct fhc_opts){.room = "Bestand",
								.name = "Gast",
								.stop = FHC_STOP_JOINED},
					      NULL);

		if (g)
			fhc_close(g);
	}
	usleep(300 * 1000);

	unlink(filler); /* space again */
	struct fhc *ab[] = {a, b};

	pump(ab, 2, 3000); /* the control plane retries every 2 s */
	EXPECT(log_has("log line(s) could not be written since"),
	       "the log says what it could not write once it can again");
	EXPECT(log_has("delayed write(s) done"), "the waiting room records were written");

	/* a new control plane knows only the records: the room asks for its password */
	harness_kill_cp(&h, SIGKILL);
	if (harness_start_cp(&h) < 0) {
		harness_stop(&h, true);
		umount(full);
		return 1;
	}
	struct fhc *x = try_join("Vollplatte", "Xaver", NULL, &code);

	EXPECT(!x && code == 4033, "the password set on a full disk holds (got %d)", code);
	if (x)
		fhc_close(x);
	x = try_join("Vollplatte", "Xaver", "Geheim-1", &code);
	EXPECT(x != NULL, "and the right one opens the room (%d)", code);
	if (x)
		fhc_close(x);
	if (a)
		fhc_close(a);
	if (b)
		fhc_close(b);
	harness_stop(&h, failures > 0);
	umount(full);
	snprintf(conf, sizeof(conf), "rm -rf %s", dir);
	if (system(conf) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
	return failures ? 1 : 0;
}
