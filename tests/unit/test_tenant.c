/*
 * Tenants: files under a directory plus the main configuration's [tenant], every policy key,
 * lookup by host and path prefix, all-or-nothing reloads, the errors a typo gets, and IP
 * addresses written as a tenant's policy says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp_tenant.h"
#include "fh_test.h"

static char dir[64];
static const struct cp_tenant_defaults def = {.max_participants = 16, .chat = true};

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void drop(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void setup(void)
{
	char t[128];

	snprintf(dir, sizeof(dir), "/tmp/fh-tenant-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(t, sizeof(t), "%s/tenants.d", dir);
	mkdir(t, 0700);
	put("main.conf", "[controlplane]\nport = 8443\n[tenant]\nname = demo\n"
			 "display_name = Funkhaus Demo\n");
	put("rastatt.secret", "0123456789abcdef0123456789abcdef\n");
	snprintf(t, sizeof(t), "%s/tenants.d", dir);
	char r[1024];

	snprintf(r, sizeof(r),
		 "[tenant]\ndisplay_name = Rastatt schnatzt!\nhosts = Meet.Rastatt.example\n"
		 "imprint = https://rastatt.example/impressum\nprivacy = /privacy/rastatt.html\n"
		 "create_rooms = authenticated\ntoken_hs256_secret_file = %s/rastatt.secret\n"
		 "token_issuer = https://login.rastatt.example\nlobby = on\n"
		 "password_required = yes\nmax_participants = 25\nmax_rooms = 40\nchat = off\n"
		 "ip_logging = truncated\nlog_retention_days = 14\nroom_inactivity_days = 3\n"
		 "public_access = on\n",
		 dir);
	put("tenants.d/rastatt.conf", r);
	put("tenants.d/philmeet.conf", "[tenant]\nid = philmeet\ndisplay_name = PhilMeet\n"
				       "hosts = philmeet.example, www.philmeet.example\n");
	put("tenants.d/au.conf", "[tenant]\nhosts = gemeinden.example\npath_prefix = au\n");
	put("tenants.d/bu.conf", "[tenant]\nhosts = gemeinden.example\npath_prefix = bu\n");
	put("tenants.d/README", "not a tenant file: ignored");
}

static void load_ok(struct cp_tenants *ts)
{
	char main_conf[128], d[128], err[512] = "";

	snprintf(main_conf, sizeof(main_conf), "%s/main.conf", dir);
	snprintf(d, sizeof(d), "%s/tenants.d", dir);
	CHECK_EQ(cp_tenants_load(main_conf, d, &def, ts, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "load: %s\n", err);
}

static void test_load(void)
{
	struct cp_tenants ts = {0};

	load_ok(&ts);
	CHECK_EQ(ts.n, 5);
	const struct cp_tenant *r = cp_tenant_by_id(&ts, "rastatt");
	const struct cp_tenant *demo = cp_tenant_by_id(&ts, "demo");

	CHECK(r && demo);
	if (!r || !demo)
		return;
	CHECK(!strcmp(r->display_name, "Rastatt schnatzt!"));
	CHECK(!strcmp(r->hosts[0], "meet.rastatt.example")); /* host names ignore case */
	CHECK_EQ(r->create, CP_CREATE_AUTHENTICATED);
	CHECK_EQ(r->keys.n, 1);
	CHECK(!strcmp(r->keys.issuer, "https://login.rastatt.example"));
	CHECK(r->lobby && r->password_required && !r->chat && r->public_access);
	CHECK_EQ(r->max_participants, 25);
	CHECK_EQ(r->max_rooms, 40);
	CHECK_EQ(r->ip_logging, CP_IPLOG_TRUNCATED);
	CHECK_EQ(r->log_retention_days, 14);
	CHECK_EQ(r->room_inactivity_days, 3);
	/* defaults: open, chat from [controlplane], no IPs in logs, a week of retention */
	CHECK_EQ(demo->create, CP_CREATE_ANYONE);
	CHECK(demo->chat && demo->public_access && !demo->lobby);
	CHECK_EQ(demo->max_participants, 16);
	CHECK_EQ(demo->ip_logging, CP_IPLOG_NONE);
	CHECK_EQ(demo->log_retention_days, 7);
	CHECK_EQ(demo->room_inactivity_days, 7);
	CHECK(!strcmp(cp_tenant_by_id(&ts, "philmeet")->display_name, "PhilMeet"));

	CHECK(cp_tenant_for(&ts, "meet.rastatt.example:8443", "/ws") == r);
	CHECK(cp_tenant_for(&ts, "MEET.rastatt.example", "/") == r);
	CHECK(cp_tenant_for(&ts, "www.philmeet.example", "/") == cp_tenant_by_id(&ts, "philmeet"));
	CHECK(cp_tenant_for(&ts, "gemeinden.example", "/au/ws") == cp_tenant_by_id(&ts, "au"));
	CHECK(cp_tenant_for(&ts, "gemeinden.example", "/bu/") == cp_tenant_by_id(&ts, "bu"));
	CHECK(cp_tenant_for(&ts, "gemeinden.example", "/auxiliary/") == demo); /* not "/au/" */
	/* the one tenant without hosts takes the others (the demo on localhost) */
	CHECK(cp_tenant_for(&ts, "localhost:8443", "/ws") == demo);
	cp_tenants_free(&ts);
}

static void expect_error(const char *file, const char *text, const char *words)
{
	struct cp_tenants ts = {0};
	char main_conf[128], d[128], err[512] = "";

	load_ok(&ts);
	unsigned n = ts.n;

	put(file, text);
	snprintf(main_conf, sizeof(main_conf), "%s/main.conf", dir);
	snprintf(d, sizeof(d), "%s/tenants.d", dir);
	CHECK_EQ(cp_tenants_load(main_conf, d, &def, &ts, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, words);
	CHECK_EQ(ts.n, n); /* the running set stays */
	drop(file);
	cp_tenants_free(&ts);
}

static void test_errors(void)
{
	expect_error("tenants.d/x.conf", "[tenant]\nid = y\n", "file name must be");
	expect_error("tenants.d/x.conf", "[tenant]\ncreate_rooms = authenticated\n",
		     "needs a token key");
	expect_error("tenants.d/x.conf", "[tenant]\nhosts = philmeet.example\n", "both answer on");
	expect_error("tenants.d/x.conf", "[tenant]\nmax_participants = 1001\n", "2 to 1000");
	expect_error("tenants.d/x.conf", "[tenant]\nscreen_share = anybody\n",
		     "everyone or moderators");
	expect_error("tenants.d/x.conf", "[tenant]\nip_logging = everything\n", "full, truncated");
	expect_error("tenants.d/x.conf", "[tenant]\nimprint = http://x.example\n", "https://");
	expect_error("tenants.d/x.conf", "[tenant]\nlog_retention_days = 0\n", "days");
	expect_error("tenants.d/x.conf", "[tenant]\ncolour = red\n", "unknown key");
	expect_error("tenants.d/x.conf", "[tenant]\nlobby = sometimes\n", "x.conf:2");
	expect_error("tenants.d/x.conf", "[tenant]\npassword_required = 2\n", "x.conf:2");
	expect_error("tenants.d/x.conf", "[tenant]\npublic_access = perhaps\n", "x.conf:2");
	expect_error("tenants.d/x.conf", "[room]\nid = x\n", "one [tenant] section");
	expect_error("tenants.d/x.conf", "[tenant]\ntoken_rs256_key = /nonexistent.pem\n",
		     "cannot read");
	expect_error("tenants.d/Bad_Name.conf", "[tenant]\n", "file name must be");
	expect_error("tenants.d/demo.conf", "[tenant]\n", "tenant id demo twice");
	char big[512];

	put("short.secret", "tooshort\n");
	snprintf(big, sizeof(big), "[tenant]\ntoken_hs256_secret_file = %s/short.secret\n", dir);
	expect_error("tenants.d/x.conf", big, "32 to"); /* a secret of 8 bytes */
}

static void test_ip(void)
{
	struct cp_tenant t = {0};
	char out[64];

	t.ip_logging = CP_IPLOG_TRUNCATED;
	cp_tenant_ip(&t, "192.0.2.77", out, sizeof(out));
	CHECK(!strcmp(out, "192.0.2.0/24"));
	cp_tenant_ip(&t, "2001:db8:1234:5678::1", out, sizeof(out));
	CHECK(!strcmp(out, "2001:db8:1234::/48"));
	cp_tenant_ip(&t, "fd99::1", out, sizeof(out));
	CHECK(!strcmp(out, "fd99::/48"));
	cp_tenant_ip(&t, "::ffff:198.51.100.9", out, sizeof(out));
	CHECK(!strcmp(out, "198.51.100.0/24"));
	cp_tenant_ip(&t, "garbage", out, sizeof(out));
	CHECK(!strcmp(out, "-"));
	t.ip_logging = CP_IPLOG_NONE;
	cp_tenant_ip(&t, "192.0.2.77", out, sizeof(out));
	CHECK(!strcmp(out, "-"));
	t.ip_logging = CP_IPLOG_FULL;
	cp_tenant_ip(&t, "::FFFF:192.0.2.77", out, sizeof(out));
	CHECK(!strcmp(out, "192.0.2.77"));
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST_MAIN(setup, test_load, test_errors, test_ip, cleanup)
