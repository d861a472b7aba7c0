/* Unit tests of cp_limits and cp_pwhash: what a source is (an IPv4 address, an IPv6 /64, an
 * IPv4 client on a dual-stack socket as its IPv4 address), the shares, the reserves, the
 * windows of wrong passwords, the [limits] loader; and passwords hashed off the calling thread,
 * old records upgraded. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cp_limits.h"
#include "cp_pwhash.h"
#include "fh_test.h"

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in s = {.sin_family = AF_INET};

	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

static struct sockaddr_in6 v6(const char *a)
{
	struct sockaddr_in6 s = {.sin6_family = AF_INET6};

	inet_pton(AF_INET6, a, &s.sin6_addr);
	return s;
}

#define SA(x) ((const struct sockaddr *)&(x)), sizeof(x)

static void sources(void)
{
	struct cp_limits_conf c = cp_limits_defaults;

	c.conns_per_source = 4;
	c.conns_max = 100;
	cp_limits_init(&c, 1024);
	struct sockaddr_in6 a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff::9"),
			    other = v6("2001:db8:1:3::1"), mapped = v6("::ffff:192.0.2.7");
	struct sockaddr_in plain = v4("192.0.2.7"), next = v4("192.0.2.8");
	struct cp_source *s1, *s2;

	/* one /64 is one source, whichever of its addresses */
	s1 = cp_limits_conn_open(SA(a));
	s2 = cp_limits_conn_open(SA(b));
	CHECK(s1 && s1 == s2);
	cp_limits_conn_open(SA(a));
	cp_limits_conn_open(SA(b));
	CHECK(!cp_limits_conn_allowed(SA(a)));	  /* 4 open from the /64 */
	CHECK(cp_limits_conn_allowed(SA(other))); /* the next /64 is someone else */
	cp_limits_conn_close(s1);
	CHECK(cp_limits_conn_allowed(SA(b)));
	/* IPv4, and IPv4 on a dual-stack socket, are the same address; the next one is not */
	s1 = cp_limits_conn_open(SA(plain));
	CHECK(s1 == cp_limits_conn_open(SA(mapped)));
	CHECK(s1 != cp_limits_conn_open(SA(next)));
	CHECK_EQ(cp_limits_conns(), 6);
	CHECK(cp_limits_refused(CP_REFUSE_conn_source) >= 1);
	cp_limits_fini();

	/* the total cap below the descriptor limit */
	c = cp_limits_defaults;
	cp_limits_init(&c, 1024);
	CHECK_EQ(cp_limits()->conns_max, 1024 - 128);
	cp_limits_fini();
}

static void shares(void)
{
	struct cp_limits_conf c = cp_limits_defaults;
	struct sockaddr_in a = v4("198.18.0.1");

	c.parts_per_source = 2;
	c.rooms_per_source = 2;
	c.slot_reserve = 10;
	c.lobby_reserve = 3;
	c.lobby_per_source = 20;
	c.ws_per_source = 2;
	cp_limits_init(&c, 1024);
	struct cp_source *s = cp_limits_conn_open(SA(a));

	CHECK(cp_limits_ws_open(s) && cp_limits_ws_open(s) && !cp_limits_ws_open(s));
	cp_limits_ws_close(s);
	CHECK(cp_limits_ws_open(s));
	CHECK(cp_limits_part_allowed(s));
	cp_limits_part_add(s);
	cp_limits_part_add(s);
	CHECK(!cp_limits_part_allowed(s));
	CHECK(cp_limits_part_allowed(NULL)); /* a source unknown is never limited */
	cp_limits_part_del(s);
	CHECK(cp_limits_part_allowed(s));
	/* rooms per minute: a window that ends */
	cp_limits_room_opened(s, 1000);
	cp_limits_room_opened(s, 2000);
	CHECK(!cp_limits_room_allowed(s, 30000));
	CHECK(cp_limits_room_allowed(s, 62000));

	/* a worker's reserve: only a source holding nobody, of a tenant within its share */
	CHECK(cp_limits_slot_allowed(s, 11, 1013, 1013, 1));
	CHECK(!cp_limits_slot_allowed(s, 10, 1014, 10, 3));	/* s holds one */
	CHECK(cp_limits_slot_allowed(NULL, 10, 1014, 250, 4));	/* 250 of 1014 in 4: its share */
	CHECK(!cp_limits_slot_allowed(NULL, 10, 1014, 900, 2)); /* the tenant holds too many */
	CHECK(cp_limits_slot_allowed(NULL, 1, 1023, 1023, 1));	/* one tenant: one per source */
	CHECK(!cp_limits_slot_allowed(NULL, 0, 1024, 0, 1));	/* full is full */

	/* a lobby of 16: one source fills all but the last 3; of 4, all but 1 */
	CHECK(cp_limits_lobby_allowed(16, 12, 12));
	CHECK(!cp_limits_lobby_allowed(16, 13, 13));
	CHECK(cp_limits_lobby_allowed(16, 13, 0)); /* a newcomer takes a reserved place */
	CHECK(!cp_limits_lobby_allowed(16, 16, 0));
	CHECK(!cp_limits_lobby_allowed(33, 20, 20)); /* lobby_per_source */
	CHECK(cp_limits_lobby_allowed(4, 2, 2));
	CHECK(!cp_limits_lobby_allowed(4, 3, 3));
	CHECK(cp_limits_lobby_allowed(4, 3, 0));
	cp_limits_fini();
}

static void passwords(void)
{
	struct cp_limits_conf c = cp_limits_defaults;
	struct sockaddr_in6 a = v6("2001:db8::1"), b = v6("2001:db8::2"), d = v6("2001:db8:0:1::1");

	c.pw_per_source = 3;
	c.pw_per_room = 5;
	cp_limits_init(&c, 1024);
	struct cp_source *sa = cp_limits_conn_open(SA(a)), *sb = cp_limits_conn_open(SA(b)),
			 *sd = cp_limits_conn_open(SA(d));

	CHECK(sa == sb); /* 48 addresses of one /64 guess as one */
	CHECK(!cp_limits_pw_failed(sa, "t", "raum", 1000));
	CHECK(!cp_limits_pw_failed(sb, "t", "raum", 1000));
	CHECK(cp_limits_pw_failed(sa, "t", "raum", 1000));
	CHECK(cp_limits_pw_blocked(sb, "t", "raum", 2000));
	CHECK(cp_limits_pw_blocked(sa, "t", "anderer", 2000)); /* the source, for any room */
	CHECK(!cp_limits_pw_blocked(sd, "t", "raum", 2000));
	CHECK(!cp_limits_pw_failed(sd, "t", "raum", 2000));
	CHECK(cp_limits_pw_failed(sd, "t", "raum", 2000)); /* the room's fifth */
	CHECK(cp_limits_pw_blocked(NULL, "t", "raum", 3000));
	CHECK(!cp_limits_pw_blocked(NULL, "u", "raum", 3000));	 /* another tenant's room */
	CHECK(!cp_limits_pw_blocked(sa, "t", "anderer", 62000)); /* the source's minute ended */
	CHECK(cp_limits_pw_blocked(NULL, "t", "raum", 62000));	 /* the room's 10 minutes not */
	CHECK(!cp_limits_pw_blocked(NULL, "t", "raum", 602000));
	cp_limits_fini();
}

static void loader(void)
{
	struct cp_limits_conf c = cp_limits_defaults;
	char err[128];

	CHECK_EQ(cp_limits_set(&c, "participants_per_source", "40", err, sizeof(err)), 0);
	CHECK_EQ(c.parts_per_source, 40);
	CHECK_EQ(cp_limits_set(&c, "participants_per_source", "banana", err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "from 1 to");
	CHECK_EQ(cp_limits_set(&c, "join_timeout", "0", err, sizeof(err)), -1);
	CHECK_EQ(cp_limits_set(&c, "no_such_key", "1", err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "unknown key");
}

/* Every key the example configuration sets in [limits] loads, with the value it documents
 * (it is what scripts/setup.sh starts with). */
static void example_config(void)
{
	FILE *f = fopen(FH_TEST_DATA "/../../../conf/funkhaus.conf", "r");
	char line[512], err[128];
	bool in = false;
	unsigned keys = 0;
	struct cp_limits_conf c = cp_limits_defaults;

	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		char key[64], val[64];

		if (line[0] == '[')
			in = !strncmp(line, "[limits]", 8);
		else if (in && line[0] != '#' && sscanf(line, "%63s = %63s", key, val) == 2) {
			keys++;
			if (cp_limits_set(&c, key, val, err, sizeof(err)) < 0) {
				fprintf(stderr, "conf/funkhaus.conf: [limits] %s = %s: %s\n", key,
					val, err);
				fh_test_failures++;
			}
		}
	}
	if (f)
		fclose(f);
	CHECK(keys >= 10);
	/* and the example says the defaults */
	CHECK(!memcmp(&c, &cp_limits_defaults, sizeof(c)));
}

static void bucket(void)
{
	struct cp_bucket b;
	int ok = 0;

	cp_bucket_init(&b, 10, 0);
	for (int i = 0; i < 100; i++)
		ok += cp_bucket_take(&b, 10, 0);
	CHECK_EQ(ok, 10); /* what it starts with; then 10 a second, bursts of 20 at most */
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += cp_bucket_take(&b, 10, 10000);
	CHECK_EQ(ok, 20);
}

static int done_n;
static bool done_ok[4];
static bool done_hash[4];
static uint8_t made[CP_PW_HASH_LEN];

static void on_done(void *user, bool ok, const uint8_t *hash, const uint8_t *quick)
{
	int i = (int)(intptr_t)user;

	done_ok[i] = ok;
	done_hash[i] = hash != NULL;
	if (hash)
		memcpy(made, hash, CP_PW_HASH_LEN);
	CHECK(!ok || quick);
	done_n++;
}

static void hashing(void)
{
	uint8_t h[CP_PW_HASH_LEN], old[CP_PW_OLD_LEN], mac1[32], mac2[32];

	CHECK_EQ(cp_pwhash_init(1, 2), 0);
	cp_pwhash_make("Sesam", 2000, h);
	CHECK_EQ(cp_pwhash_iterations(h), 2000);
	CHECK(cp_pwhash_verify("Sesam", h));
	CHECK(!cp_pwhash_verify("sesam", h));
	/* an old record (salt, 20 000 iterations) reads as one */
	PKCS5_PBKDF2_HMAC("Alt", 3, (const uint8_t *)"0123456789abcdef", 16, CP_PW_ITER_OLD,
			  EVP_sha256(), 32, old + 16);
	memcpy(old, "0123456789abcdef", 16);
	cp_pwhash_from_old(old, h);
	CHECK(cp_pwhash_verify("Alt", h));
	/* off this thread: a right one against the old record comes back upgraded */
	CHECK(cp_pwhash_submit("Alt", h, on_done, (void *)0) != 0);
	CHECK(cp_pwhash_submit("Neu", NULL, on_done, (void *)1) != 0);
	CHECK_EQ(cp_pwhash_submit("voll", NULL, on_done, (void *)2), 0); /* the queue holds 2 */
	for (int i = 0; i < 3000 && done_n < 2; i++) { /* 30 s at most: a loaded host */
		usleep(10000);
		cp_pwhash_poll();
	}
	CHECK_EQ(done_n, 2);
	CHECK(done_ok[0] && done_ok[1] && done_hash[0] && done_hash[1]);
	CHECK_EQ(cp_pwhash_iterations(made), CP_PW_ITER);
	CHECK(cp_pwhash_verify("Neu", made));
	/* a cancelled one is not delivered */
	uint64_t t = cp_pwhash_submit("weg", NULL, on_done, (void *)3);

	cp_pwhash_cancel(t);
	/* a second for a delivery that must not come; up to 30 s for the hash to finish */
	for (int i = 0; i < 3000 && (i < 100 || cp_pwhash_pending()); i++) {
		usleep(10000);
		cp_pwhash_poll();
	}
	CHECK_EQ(done_n, 2);
	CHECK_EQ(cp_pwhash_pending(), 0);
	/* the quick MAC: the same for the same password and salt, another for another */
	cp_pwhash_quick("Neu", made, mac1);
	cp_pwhash_quick("Neu", made, mac2);
	CHECK(!memcmp(mac1, mac2, 32));
	cp_pwhash_quick("neu", made, mac2);
	CHECK(memcmp(mac1, mac2, 32));
	cp_pwhash_fini();
}

TEST_MAIN(sources, shares, passwords, loader, example_config, bucket, hashing)
