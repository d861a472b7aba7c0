/*
 * test_clstore: the cluster's key layout, claims, placement and record checks against a real
 * redis-server that the test starts on a loopback port of its own (with a password, no
 * persistence) and stops at the end. Two stores stand for two nodes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cp_clstore.h"
#include "fh_test.h"

static pid_t redis_pid;
static unsigned redis_port;
static char dir[64];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static redisContext *raw(void)
{
	struct timeval tv = {1, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", (int)redis_port, tv);
	redisReply *r;

	if (!c || c->err)
		return NULL;
	r = redisCommand(c, "AUTH test-password");
	if (r)
		freeReplyObject(r);
	return c;
}

static void raw_cmd(const char *fmt, ...)
{
	redisContext *c = raw();
	va_list ap;
	redisReply *r;

	if (!c)
		return;
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r)
		freeReplyObject(r);
	redisFree(c);
}

/* An integer answer to a command, -1 when there is none. */
static long long raw_int(const char *fmt, ...)
{
	redisContext *c = raw();
	va_list ap;
	redisReply *r;
	long long v = -1;

	if (!c)
		return -1;
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return v;
}

static bool start_redis(void)
{
	char port[16];

	if (access("/usr/bin/redis-server", X_OK) != 0)
		return false;
	snprintf(dir, sizeof(dir), "/tmp/fh-clstore-XXXXXX");
	if (!mkdtemp(dir))
		return false;
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	for (int attempt = 0; attempt < 5; attempt++) {
		redis_port = 20000 + (unsigned)rand() % 20000;
		snprintf(port, sizeof(port), "%u", redis_port);
		redis_pid = fork();
		if (redis_pid == 0) {
			int fd = open("/dev/null", 1);

			/* the server goes with the test, even when a check aborts it */
			prctl(PR_SET_PDEATHSIG, SIGKILL);

			dup2(fd, 1);
			execl("/usr/bin/redis-server", "redis-server", "--port", port, "--bind",
			      "127.0.0.1", "--requirepass", "test-password", "--save", "",
			      "--appendonly", "no", "--dir", dir, (char *)NULL);
			_exit(127);
		}
		for (int i = 0; i < 50; i++) { /* 5 s at most */
			redisContext *c;

			usleep(100000);
			if (waitpid(redis_pid, NULL, WNOHANG) == redis_pid)
				break; /* port taken: another one */
			if ((c = raw())) {
				redisReply *r = redisCommand(c, "PING");
				bool ok = r && r->type == REDIS_REPLY_STATUS;

				if (r)
					freeReplyObject(r);
				redisFree(c);
				if (ok)
					return true;
			}
		}
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
	}
	return false;
}

static void stop_redis(void)
{
	char cmd[128];

	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
		redis_pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (dir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static struct cp_cluster_conf conf_for(const char *node)
{
	struct cp_cluster_conf c = {0};

	c.enabled = true;
	snprintf(c.redis_host, sizeof(c.redis_host), "127.0.0.1");
	c.redis_port = redis_port;
	snprintf(c.password, sizeof(c.password), "test-password");
	memcpy(c.secret, "0123456789abcdef0123", 20);
	c.secret_len = 20;
	snprintf(c.prefix, sizeof(c.prefix), "fhtest:");
	snprintf(c.name, sizeof(c.name), "test");
	snprintf(c.node, sizeof(c.node), "%s", node);
	snprintf(c.url, sizeof(c.url), "https://198.18.60.%d:8443", node[0] == 'a' ? 11 : 12);
	snprintf(c.region, sizeof(c.region), "north");
	snprintf(c.pools[0], sizeof(c.pools[0]), "default");
	c.n_pools = 1;
	c.capacity = 100;
	c.timeout_ms = 500;
	return c;
}

static struct cp_cluster_conf ca, cb;
static struct cp_clstore sa, sb;

static struct cp_cl_node node_of(const struct cp_cluster_conf *c, unsigned parts)
{
	struct cp_cl_node n = {0};

	snprintf(n.id, sizeof(n.id), "%s", c->node);
	snprintf(n.url, sizeof(n.url), "%s", c->url);
	snprintf(n.region, sizeof(n.region), "%s", c->region);
	n.pools[0][0] = 0;
	snprintf(n.pools[0], sizeof(n.pools[0]), "default");
	n.n_pools = 1;
	n.capacity = c->capacity;
	n.participants = parts;
	n.ts_ms = now_ms();
	n.boot = 0x1234;
	return n;
}

static void test_hash(void)
{
	char h1[CP_CL_HASH_LEN + 1], h2[CP_CL_HASH_LEN + 1], h3[CP_CL_HASH_LEN + 1],
		h4[CP_CL_HASH_LEN + 1];

	cp_clstore_room_hash((const uint8_t *)"secret-one-16byt", 16, "rastatt", "ratssitzung", h1);
	cp_clstore_room_hash((const uint8_t *)"secret-one-16byt", 16, "rastatt", "ratssitzung", h2);
	cp_clstore_room_hash((const uint8_t *)"secret-one-16byt", 16, "philmeet", "ratssitzung",
			     h3);
	cp_clstore_room_hash((const uint8_t *)"secret-two-16byt", 16, "rastatt", "ratssitzung", h4);
	CHECK(!strcmp(h1, h2));
	CHECK(strcmp(h1, h3) != 0); /* one tenant's hash says nothing of another's */
	CHECK(strcmp(h1, h4) != 0);
	CHECK_EQ(strlen(h1), CP_CL_HASH_LEN);
	CHECK(!strstr(h1, "rats"));
}

static void test_conf(void)
{
	struct cp_cluster_conf c = {0};
	char err[256];

	CHECK_EQ(cp_cluster_conf_set(&c, "redis", "10.0.0.5:6379", err, sizeof(err)), 0);
	CHECK_EQ(c.redis_port, 6379);
	CHECK(cp_cluster_conf_set(&c, "redis", "10.0.0.5", err, sizeof(err)) < 0);
	CHECK(cp_cluster_conf_set(&c, "url", "http://a:1", err, sizeof(err)) < 0);
	CHECK(cp_cluster_conf_set(&c, "url", "https://a:1/x", err, sizeof(err)) < 0);
	CHECK_EQ(cp_cluster_conf_set(&c, "url", "https://node-a.example:8443", err, sizeof(err)),
		 0);
	CHECK(cp_cluster_conf_set(&c, "node", "Node A", err, sizeof(err)) < 0);
	CHECK(cp_cluster_conf_set(&c, "capacity", "1000000000", err, sizeof(err)) < 0);
	CHECK(cp_cluster_conf_set(&c, "prefix", "a b", err, sizeof(err)) < 0);
	CHECK_EQ(cp_cluster_conf_set(&c, "node", "a", err, sizeof(err)), 0);
	/* no password: refused, never a Redis without one */
	CHECK(cp_cluster_conf_finish(&c, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "password_file");
}

static void test_claims(void)
{
	struct cp_cl_claim c, mine;
	char h[CP_CL_HASH_LEN + 1];

	cp_clstore_room_hash(ca.secret, ca.secret_len, "demo", "elternabend", h);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), 0);
	CHECK_EQ(cp_clstore_claim_try(&sa, "demo", h, "a", "00000000000000aa", now_ms()), 1);
	/* the second node loses, and sees who holds it */
	CHECK_EQ(cp_clstore_claim_try(&sb, "demo", h, "b", "00000000000000bb", now_ms()), 0);
	CHECK_EQ(cp_clstore_claim_get(&sb, "demo", h, &c), 1);
	CHECK(!strcmp(c.node, "a"));
	CHECK(!strcmp(c.epoch, "00000000000000aa"));
	mine = c;
	/* only the owner refreshes or removes it */
	struct cp_cl_claim other = c;

	snprintf(other.node, sizeof(other.node), "b");
	CHECK_EQ(cp_clstore_claim_refresh(&sb, &other), 0);
	CHECK_EQ(cp_clstore_claim_release(&sb, &other), 0);
	CHECK_EQ(cp_clstore_claim_get(&sb, "demo", h, &c), 1);
	CHECK_EQ(cp_clstore_claim_refresh(&sa, &mine), 1);
	/* a claim Redis lost (an expiry, a restart without persistence) is made again */
	raw_cmd("DEL fhtest:claim:demo:%s", h);
	CHECK_EQ(cp_clstore_claim_refresh(&sa, &mine), 2);
	CHECK_EQ(cp_clstore_claim_get(&sb, "demo", h, &c), 1);
	/* the listing */
	struct cp_cl_claim list[8];

	CHECK_EQ(cp_clstore_claims(&sb, list, 8), 1);
	CHECK(!strcmp(list[0].tenant, "demo") && !strcmp(list[0].hash, h) &&
	      !strcmp(list[0].node, "a"));
	/* a takeover removes only exactly the old claim */
	struct cp_cl_claim stale = mine;

	snprintf(stale.epoch, sizeof(stale.epoch), "00000000000000ff");
	CHECK_EQ(cp_clstore_claim_takeover(&sb, &stale), 0);
	CHECK_EQ(cp_clstore_claim_takeover(&sb, &mine), 1);
	CHECK_EQ(cp_clstore_claim_get(&sb, "demo", h, &c), 0);
	CHECK_EQ(cp_clstore_claims(&sb, list, 8), 0);
	/* the owner's refresh now finds it gone and makes it again: and if b holds it, lost */
	CHECK_EQ(cp_clstore_claim_try(&sb, "demo", h, "b", "00000000000000bb", now_ms()), 1);
	CHECK_EQ(cp_clstore_claim_refresh(&sa, &mine), 0);
	CHECK_EQ(cp_clstore_claim_release(&sa, &mine), 0);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), 1);
	CHECK(!strcmp(c.node, "b"));
}

static void test_nodes_and_placement(void)
{
	struct cp_cl_node a = node_of(&ca, 40), b = node_of(&cb, 10), got[8];
	int n;

	CHECK_EQ(cp_clstore_register(&sa, &a), 0);
	CHECK_EQ(cp_clstore_register(&sb, &b), 0);
	n = cp_clstore_nodes(&sa, got, 8, now_ms());
	CHECK_EQ(n, 2);
	int ib = -1;

	for (int i = 0; i < n; i++)
		if (!strcmp(got[i].id, "b"))
			ib = i;
	CHECK(ib >= 0);
	if (ib < 0)
		return;
	/* the least loaded, as long as rooms placed since its count do not outweigh it */
	CHECK_EQ(cp_clstore_choose(got, (unsigned)n, "default", NULL, NULL), ib);
	got[ib].placed = 40;
	CHECK(cp_clstore_choose(got, (unsigned)n, "default", NULL, NULL) != ib);
	got[ib].placed = 0;
	/* rooms placed on b after it counted show in the next read */
	char h[CP_CL_HASH_LEN + 1];
	char ep[17];

	for (int i = 0; i < 3; i++) {
		char room[16];

		snprintf(room, sizeof(room), "r%d", i);
		cp_clstore_room_hash(ca.secret, ca.secret_len, "demo", room, h);
		snprintf(ep, sizeof(ep), "000000000000000%d", i);
		CHECK_EQ(cp_clstore_claim_try(&sa, "demo", h, "b", ep, now_ms() + 10), 1);
	}
	n = cp_clstore_nodes(&sa, got, 8, now_ms());
	for (int i = 0; i < n; i++)
		if (!strcmp(got[i].id, "b"))
			CHECK(got[i].placed >= 3 && got[i].placed <= 4);
	/* draining, full, another pool, another region: not chosen */
	struct cp_cl_node x[2] = {node_of(&ca, 0), node_of(&cb, 50)};

	x[0].draining = true;
	CHECK_EQ(cp_clstore_choose(x, 2, "default", NULL, NULL), 1);
	x[1].participants = x[1].capacity;
	CHECK_EQ(cp_clstore_choose(x, 2, "default", NULL, NULL), -1);
	x[0].draining = false;
	CHECK_EQ(cp_clstore_choose(x, 2, "schools", NULL, NULL), -1);
	x[1].participants = 0;
	snprintf(x[1].region, sizeof(x[1].region), "south");
	x[0].participants = 90;
	CHECK_EQ(cp_clstore_choose(x, 2, "default", "north", NULL), 0);
	CHECK_EQ(cp_clstore_choose(x, 2, "default", NULL, "north"), 0);
	CHECK_EQ(cp_clstore_choose(x, 2, "default", NULL, "west"), 1);
	/* a room placed since a node counted weighs as the cluster's rooms hold (here 5) */
	struct cp_cl_node w[2] = {node_of(&ca, 10), node_of(&cb, 12)};

	w[0].rooms = 2;
	w[1].rooms = 2;
	w[0].placed = 1;
	CHECK_EQ(cp_clstore_choose(w, 2, "default", NULL, NULL), 1);
	w[0].placed = 0;
	CHECK_EQ(cp_clstore_choose(w, 2, "default", NULL, NULL), 0);
	/* equally loaded: both get rooms */
	struct cp_cl_node e[2] = {node_of(&ca, 5), node_of(&cb, 5)};
	int count[2] = {0, 0};

	for (int i = 0; i < 200; i++)
		count[cp_clstore_choose(e, 2, "default", NULL, NULL)]++;
	CHECK(count[0] > 50 && count[1] > 50);
	/* a node that goes is gone from the list */
	CHECK_EQ(cp_clstore_unregister(&sb, "b"), 0);
	CHECK_EQ(cp_clstore_nodes(&sa, got, 8, now_ms()), 1);
	CHECK_EQ(cp_clstore_node_get(&sa, "b", got), 0);
	CHECK_EQ(cp_clstore_node_get(&sa, "a", got), 1);
}

static void test_records(void)
{
	struct cp_cl_record r = {0}, back;
	char h[CP_CL_HASH_LEN + 1];
	int64_t now = now_ms() / 1000;

	cp_clstore_room_hash(ca.secret, ca.secret_len, "demo", "bürgersprechstunde", h);
	CHECK_EQ(cp_clstore_record_get(&sa, "demo", h, &back, 7, now), 0);
	CHECK_EQ(cp_clstore_record_touch(&sa, "demo", h, false, now, 7), 0);
	for (int i = 0; i < CP_CL_PW_LEN; i++)
		r.pw[i] = (uint8_t)(i * 7);
	CHECK_EQ(cp_clstore_record_password(&sa, "demo", h, r.pw, CP_CL_PW_LEN), 0);
	CHECK_EQ(cp_clstore_record_lobby(&sa, "demo", h, true), 0);
	/* the other node reads what the first wrote */
	CHECK_EQ(cp_clstore_record_get(&sb, "demo", h, &back, 7, now), 1);
	CHECK(back.has_pw && !memcmp(back.pw, r.pw, CP_CL_PW_LEN));
	CHECK_EQ(back.lobby, 1);
	CHECK_EQ(back.used, now);
	CHECK_EQ(cp_clstore_record_password(&sb, "demo", h, NULL, 0), 0);
	CHECK_EQ(cp_clstore_record_get(&sa, "demo", h, &back, 7, now), 1);
	CHECK(!back.has_pw);
	/* whole, as a node's own database had it */
	r.has_pw = true;
	r.lobby = 0;
	r.used = now - 86400;
	r.opened = now - 5 * 86400;
	CHECK_EQ(cp_clstore_record_put(&sa, "demo", h, &r, 7), 0);
	CHECK_EQ(cp_clstore_record_get(&sb, "demo", h, &back, 7, now), 1);
	CHECK(back.has_pw && back.lobby == 0 && back.opened == r.opened);
	/* unused for longer than the tenant's days now allow: gone */
	CHECK_EQ(cp_clstore_record_get(&sb, "demo", h, &back, 1, now + 86400), 0);
	CHECK_EQ(cp_clstore_record_get(&sb, "demo", h, &back, 7, now), 0);
	/* the record's expiry in Redis goes with the tenant's days */
	CHECK_EQ(cp_clstore_record_touch(&sa, "demo", h, false, now, 3), 0);
	redisContext *c = raw();
	redisReply *t = c ? redisCommand(c, "TTL fhtest:rec:demo:%s", h) : NULL;

	CHECK(t && t->type == REDIS_REPLY_INTEGER && t->integer > 2 * 86400 &&
	      t->integer <= 3 * 86400);
	if (t)
		freeReplyObject(t);
	if (c)
		redisFree(c);
	CHECK_EQ(cp_clstore_record_forget(&sa, "demo", h), 0);
	CHECK_EQ(cp_clstore_record_get(&sb, "demo", h, &back, 7, now), 0);
}

/* Nothing in Redis names a room, a person or an address. */
static void test_no_names(void)
{
	char h[CP_CL_HASH_LEN + 1];
	redisContext *c = raw();
	redisReply *keys;

	cp_clstore_room_hash(ca.secret, ca.secret_len, "demo", "ratssitzung-maerz", h);
	cp_clstore_claim_try(&sa, "demo", h, "a", "0000000000000abc", now_ms());
	cp_clstore_record_touch(&sa, "demo", h, false, now_ms() / 1000, 7);
	cp_clstore_cmd_push(&sa, "a", "{\"op\":\"close\",\"tenant\":\"demo\"}");
	keys = c ? redisCommand(c, "KEYS *") : NULL;
	CHECK(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements > 0);
	for (size_t i = 0; keys && i < keys->elements; i++) {
		const char *k = keys->element[i]->str;
		redisReply *d = redisCommand(c, "DUMP %s", k);

		CHECK(!strncmp(k, "fhtest:", 7));
		CHECK(!strstr(k, "ratssitzung"));
		CHECK(d && d->type == REDIS_REPLY_STRING &&
		      !memmem(d->str, d->len, "ratssitzung", 11));
		if (d)
			freeReplyObject(d);
	}
	if (keys)
		freeReplyObject(keys);
	if (c)
		redisFree(c);
	char buf[600];

	CHECK_EQ(cp_clstore_cmd_pop(&sa, "a", buf, sizeof(buf)), 1);
	CHECK_STR_CONTAINS(buf, "close");
	CHECK_EQ(cp_clstore_cmd_pop(&sa, "a", buf, sizeof(buf)), 0);
}

/* What someone else wrote under the prefix is counted and ignored, never trusted. */
static void test_bad_input(void)
{
	struct cp_cl_node got[8];
	struct cp_cl_claim c;
	struct cp_cl_record rec;
	char h[CP_CL_HASH_LEN + 1], big[6000];
	uint64_t bad = sa.bad;
	struct cp_cl_node a = node_of(&ca, 0);

	CHECK_EQ(cp_clstore_register(&sa, &a), 0);
	/* an absurd capacity, another cluster's node, a record too large, one of the wrong
	 * type, one that is no JSON, an id that is not one */
	raw_cmd("SET fhtest:node:huge {\"v\":1,\"cluster\":\"test\",\"id\":\"huge\",\"url\":"
		"\"https://x:1\",\"region\":\"north\",\"pools\":[\"default\"],\"capacity\":"
		"1000000000,\"rooms\":0,\"participants\":0,\"draining\":false,\"ts\":1,\"boot\":"
		"\"0000000000000001\"}");
	raw_cmd("SET fhtest:node:other {\"v\":1,\"cluster\":\"elsewhere\",\"id\":\"other\",\"url\":"
		"\"https://x:1\",\"region\":\"north\",\"pools\":[\"default\"],\"capacity\":10,"
		"\"rooms\":0,\"participants\":0,\"draining\":false,\"ts\":1,\"boot\":"
		"\"0000000000000001\"}");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	raw_cmd("SET fhtest:node:big %s", big);
	raw_cmd("LPUSH fhtest:node:list x");
	raw_cmd("SET fhtest:node:junk %s", "{not json");
	raw_cmd("SADD fhtest:nodes huge other big list junk %s", "Bad Id With Spaces");
	CHECK_EQ(cp_clstore_nodes(&sa, got, 8, now_ms()), 1); /* a alone */
	CHECK(!strcmp(got[0].id, "a"));
	CHECK(sa.bad >= bad + 5);
	/* the node set itself of the wrong type: no node, no crash */
	raw_cmd("DEL fhtest:nodes");
	raw_cmd("SET fhtest:nodes x");
	CHECK_EQ(cp_clstore_nodes(&sa, got, 8, now_ms()), 0);
	/* ... made again by the next announcement, counted */
	bad = sa.bad;
	CHECK_EQ(cp_clstore_register(&sa, &a), 0);
	CHECK_EQ(sa.bad, bad + 1);
	CHECK_EQ(cp_clstore_nodes(&sa, got, 8, now_ms()), 1);
	CHECK_EQ(cp_clstore_register(&sa, &a), 0);
	CHECK_EQ(sa.bad, bad + 1); /* a set is left as it is */
	raw_cmd("DEL fhtest:nodes");
	/* claims: of the wrong type, another cluster's, malformed */
	cp_clstore_room_hash(ca.secret, ca.secret_len, "demo", "x", h);
	raw_cmd("LPUSH fhtest:claim:demo:%s a", h);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), -2);
	CHECK_EQ(cp_clstore_claim_try(&sa, "demo", h, "a", "0000000000000001", now_ms()), 0);
	raw_cmd("DEL fhtest:claim:demo:%s", h);
	raw_cmd("SET fhtest:claim:demo:%s elsewhere|a|0000000000000001", h);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), -2);
	raw_cmd("SET fhtest:claim:demo:%s test|a|zz", h);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), -2);
	raw_cmd("SET fhtest:claim:demo:%s %s", h, big);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), -2);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", "not-a-hash", &c), -2);
	raw_cmd("DEL fhtest:claim:demo:%s", h);
	/* a claim that does not check goes when it has no expiry (no node made it: every claim
	 * of ours expires unless refreshed), of whatever type; one that expires is left to do so */
	raw_cmd("SET fhtest:claim:demo:%s garbage", h);
	raw_cmd("SADD fhtest:claims demo:%s", h);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), -2);
	CHECK_EQ(cp_clstore_claim_clear_bad(&sa, "demo", h), 1);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), 0);
	CHECK_EQ(raw_int("SISMEMBER fhtest:claims demo:%s", h), 0); /* out of the set too */
	raw_cmd("LPUSH fhtest:claim:demo:%s a", h);
	CHECK_EQ(cp_clstore_claim_clear_bad(&sa, "demo", h), 1);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), 0);
	raw_cmd("SET fhtest:claim:demo:%s elsewhere|a|0000000000000001 PX 60000", h);
	CHECK_EQ(cp_clstore_claim_clear_bad(&sa, "demo", h), 2);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), -2);
	raw_cmd("DEL fhtest:claim:demo:%s", h);
	CHECK_EQ(cp_clstore_claim_clear_bad(&sa, "demo", h), 0); /* none there */
	CHECK_EQ(cp_clstore_claim_try(&sa, "demo", h, "a", "0000000000000001", now_ms()), 1);
	CHECK_EQ(cp_clstore_claim_clear_bad(&sa, "demo", h), 2); /* a real one expires */
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), 1);
	CHECK_EQ(cp_clstore_claim_clear_bad(&sa, "demo", "not-a-hash"), -2);
	raw_cmd("DEL fhtest:claim:demo:%s", h);
	raw_cmd("DEL fhtest:claims");
	/* records: a password that is not hex, a hash of too many fields, the wrong type */
	raw_cmd("HSET fhtest:rec:demo:%s used 5 pw nothex", h);
	CHECK_EQ(cp_clstore_record_get(&sa, "demo", h, &rec, 0, 10), -2);
	raw_cmd("DEL fhtest:rec:demo:%s", h);
	raw_cmd("SET fhtest:rec:demo:%s x", h);
	CHECK_EQ(cp_clstore_record_get(&sa, "demo", h, &rec, 0, 10), -2);
	CHECK_EQ(cp_clstore_record_touch(&sa, "demo", h, false, 10, 7), 0); /* refused inside */
	raw_cmd("DEL fhtest:rec:demo:%s", h);
	/* commands: one too large is dropped, the next one comes */
	raw_cmd("RPUSH fhtest:cmd:a %s", big);
	raw_cmd("RPUSH fhtest:cmd:a {\"op\":\"close\"}");
	char buf[600];

	CHECK_EQ(cp_clstore_cmd_pop(&sa, "a", buf, sizeof(buf)), 2);
	CHECK_EQ(cp_clstore_cmd_pop(&sa, "a", buf, sizeof(buf)), 1);
	/* the access hash: junk ignored */
	raw_cmd("HSET fhtest:access demo 0 BAD x other 7");
	char ids[8][33];
	bool on[8];

	CHECK_EQ(cp_clstore_access(&sa, ids, on, 8), 1);
	CHECK(!strcmp(ids[0], "demo") && !on[0]);
}

static void test_down(void)
{
	struct cp_cl_claim c;
	struct cp_cl_node got[4];
	char h[CP_CL_HASH_LEN + 1];

	stop_redis();
	cp_clstore_room_hash(ca.secret, ca.secret_len, "demo", "x", h);
	CHECK_EQ(cp_clstore_claim_get(&sa, "demo", h, &c), -1);
	CHECK(!cp_clstore_connected(&sa));
	CHECK_EQ(cp_clstore_nodes(&sa, got, 4, now_ms()), -1);
	CHECK_EQ(cp_clstore_connect(&sa), -1);
	CHECK(sa.last_err[0] != '\0');
}

int main(void)
{
	test_hash();
	test_conf();
	if (!start_redis()) {
		fprintf(stderr, "test_clstore: skipped: no redis-server could be started "
				"(/usr/bin/redis-server; scripts/deps.sh test installs it)\n");
		return 77;
	}
	ca = conf_for("a");
	cb = conf_for("b");
	sa.conf = &ca;
	sb.conf = &cb;
	CHECK_EQ(cp_clstore_connect(&sa), 0);
	CHECK_EQ(cp_clstore_connect(&sb), 0);
	/* a wrong password is refused */
	struct cp_cluster_conf cw = conf_for("w");
	struct cp_clstore sw = {.conf = &cw};

	snprintf(cw.password, sizeof(cw.password), "wrong");
	CHECK_EQ(cp_clstore_connect(&sw), -1);
	test_claims();
	test_nodes_and_placement();
	test_records();
	test_no_names();
	test_bad_input();
	test_down();
	cp_clstore_disconnect(&sa);
	cp_clstore_disconnect(&sb);
	stop_redis();
	if (fh_test_failures)
		fprintf(stderr, "%d check(s) failed\n", fh_test_failures);
	return fh_test_failures ? 1 : 0;
}
