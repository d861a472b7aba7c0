/*
 * cp_clstore: the cluster's records in Redis (see the header for the key layout). Blocking
 * hiredis calls with a timeout on every command; only cp_cluster's thread and tests call them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "cp_clstore.h"
#include "fh_conf.h"

#define NODE_JSON_MAX 4096
#define CLAIM_VAL_MAX 128
#define CMD_MAX 512

/* ---- configuration ---- */

static bool id_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > CP_CL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) || v[i] == '-'))
			return false;
	return true;
}

/* "https://host[:port]": no path, no user part, no spaces; what clients are sent to. */
static bool url_ok(const char *v)
{
	size_t n = strlen(v);

	if (n <= 8 || n > CP_CL_URL_MAX || strncmp(v, "https://", 8))
		return false;
	for (size_t i = 8; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']'))
			return false;
	}
	return true;
}

static int hostport(const char *val, char *host, size_t hl, unsigned *port)
{
	const char *colon = strrchr(val, ':');
	unsigned long p;

	if (!colon || colon == val || (size_t)(colon - val) >= hl ||
	    fh_conf_uint(colon + 1, 1, 65535, &p) < 0)
		return -1;
	if (val[0] == '[' && colon[-1] == ']')
		snprintf(host, hl, "%.*s", (int)(colon - val) - 2, val + 1);
	else
		snprintf(host, hl, "%.*s", (int)(colon - val), val);
	*port = (unsigned)p;
	return 0;
}

int cp_cluster_conf_set(struct cp_cluster_conf *c, const char *key, const char *val, char *err,
			size_t elen)
{
	unsigned long v;

#define STR(field)                                               \
	do {                                                     \
		if (strlen(val) >= sizeof(c->field)) {           \
			snprintf(err, elen, "value too long");   \
			return -1;                               \
		}                                                \
		snprintf(c->field, sizeof(c->field), "%s", val); \
	} while (0)

	c->enabled = true;
	if (!strcmp(key, "redis")) {
		if (hostport(val, c->redis_host, sizeof(c->redis_host), &c->redis_port) < 0) {
			snprintf(err, elen, "HOST:PORT, e.g. 10.0.0.5:6379");
			return -1;
		}
	} else if (!strcmp(key, "sentinels")) {
		char buf[1024], *save = NULL;

		if (strlen(val) >= sizeof(buf)) {
			snprintf(err, elen, "value too long");
			return -1;
		}
		snprintf(buf, sizeof(buf), "%s", val);
		c->n_sentinels = 0;
		for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			char h[128];
			unsigned p;

			if (c->n_sentinels == 8 || hostport(t, h, sizeof(h), &p) < 0) {
				snprintf(err, elen, "up to 8 HOST:PORT, comma-separated");
				return -1;
			}
			snprintf(c->sentinels[c->n_sentinels++], sizeof(c->sentinels[0]), "%s", t);
		}
	} else if (!strcmp(key, "master")) {
		if (!id_ok(val) &&
		    strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"0123456789-_.") != strlen(val)) {
			snprintf(err, elen, "a Sentinel master name");
			return -1;
		}
		STR(master);
	} else if (!strcmp(key, "user")) {
		if (!*val || strpbrk(val, " \t\r\n")) {
			snprintf(err, elen, "an ACL user name");
			return -1;
		}
		STR(user);
	} else if (!strcmp(key, "password_file")) {
		STR(password_file);
	} else if (!strcmp(key, "secret_file")) {
		STR(secret_file);
	} else if (!strcmp(key, "prefix")) {
		if (!*val || strpbrk(val, " \t\r\n*?[]")) {
			snprintf(err, elen, "a key prefix without spaces or glob characters");
			return -1;
		}
		STR(prefix);
	} else if (!strcmp(key, "name") || !strcmp(key, "node") || !strcmp(key, "region")) {
		if (!id_ok(val)) {
			snprintf(err, elen, "1-32 of a-z, 0-9 and -");
			return -1;
		}
		if (!strcmp(key, "name"))
			STR(name);
		else if (!strcmp(key, "node"))
			STR(node);
		else
			STR(region);
	} else if (!strcmp(key, "url")) {
		if (!url_ok(val)) {
			snprintf(err, elen, "https://HOST[:PORT] (no path), what clients reach");
			return -1;
		}
		STR(url);
	} else if (!strcmp(key, "pools")) {
		char buf[512], *save = NULL;

		if (strlen(val) >= sizeof(buf)) {
			snprintf(err, elen, "value too long");
			return -1;
		}
		snprintf(buf, sizeof(buf), "%s", val);
		c->n_pools = 0;
		for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			if (c->n_pools == CP_CL_POOLS || !id_ok(t)) {
				snprintf(err, elen, "up to %d pool names (a-z, 0-9, -)",
					 CP_CL_POOLS);
				return -1;
			}
			snprintf(c->pools[c->n_pools++], sizeof(c->pools[0]), "%s", t);
		}
	} else if (!strcmp(key, "capacity")) {
		if (fh_conf_uint(val, 1, CP_CL_CAPACITY_MAX, &v) < 0) {
			snprintf(err, elen, "1 to %d participants", CP_CL_CAPACITY_MAX);
			return -1;
		}
		c->capacity = (unsigned)v;
	} else if (!strcmp(key, "timeout_ms")) {
		if (fh_conf_uint(val, 10, 10000, &v) < 0) {
			snprintf(err, elen, "10 to 10000 ms");
			return -1;
		}
		c->timeout_ms = (unsigned)v;
	} else {
		return -1;
	}
	return 0;
#undef STR
}

/* The file's content without its trailing newline; its length, or -1. */
static long read_secret(const char *path, void *out, size_t max)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(out, 1, max, f);
	fclose(f);
	while (n && (((char *)out)[n - 1] == '\n' || ((char *)out)[n - 1] == '\r'))
		n--;
	return (long)n;
}

int cp_cluster_conf_finish(struct cp_cluster_conf *c, char *err, size_t elen)
{
	long n;

	if (!c->enabled)
		return 0;
	if (!c->redis_host[0] && !c->n_sentinels) {
		snprintf(err, elen, "[cluster] needs redis = HOST:PORT or sentinels");
		return -1;
	}
	if (c->n_sentinels && !c->master[0]) {
		snprintf(err, elen, "[cluster] sentinels need master = NAME");
		return -1;
	}
	if (!c->node[0] || !c->url[0]) {
		snprintf(err, elen,
			 "[cluster] needs node (this node's id) and url (its https URL)");
		return -1;
	}
	if (!c->password_file[0]) {
		snprintf(err, elen,
			 "[cluster] needs password_file: Redis without a password is not used");
		return -1;
	}
	n = read_secret(c->password_file, c->password, sizeof(c->password) - 1);
	if (n <= 0 || memchr(c->password, '\0', (size_t)n)) {
		snprintf(err, elen, "[cluster] password_file %s: %s", c->password_file,
			 n < 0 ? strerror(errno) : "no password in it");
		return -1;
	}
	c->password[n] = '\0';
	n = read_secret(c->secret_file, c->secret, sizeof(c->secret));
	if (!c->secret_file[0] || n < 16) {
		snprintf(err, elen,
			 "[cluster] needs secret_file with a secret of 16 bytes or more, the same "
			 "on "
			 "every node (%s)",
			 c->secret_file[0] ? c->secret_file : "none given");
		return -1;
	}
	c->secret_len = (size_t)n;
	if (!c->prefix[0])
		snprintf(c->prefix, sizeof(c->prefix), "funkhaus:");
	if (!c->name[0])
		snprintf(c->name, sizeof(c->name), "funkhaus");
	if (!c->region[0])
		snprintf(c->region, sizeof(c->region), "default");
	if (!c->n_pools)
		snprintf(c->pools[c->n_pools++], sizeof(c->pools[0]), "default");
	if (!c->capacity)
		c->capacity = 500;
	if (!c->timeout_ms)
		c->timeout_ms = 500;
	return 0;
}

/* ---- the connection ---- */

static void fail(struct cp_clstore *s, const char *what)
{
	s->errors++;
	snprintf(s->last_err, sizeof(s->last_err), "%s", what);
}

void cp_clstore_disconnect(struct cp_clstore *s)
{
	if (s->rc)
		redisFree(s->rc);
	s->rc = NULL;
}

bool cp_clstore_connected(const struct cp_clstore *s)
{
	return s->rc != NULL;
}

/* One command; the reply, or NULL after counting the failure (an I/O error or a timeout
 * drops the connection: a reply may still be on its way, so the stream is out of step). */
static redisReply *run(struct cp_clstore *s, const char *fmt, ...)
{
	redisContext *rc = s->rc;
	redisReply *r;
	va_list ap;

	if (!rc) {
		fail(s, "not connected");
		return NULL;
	}
	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (!r) {
		fail(s, rc->errstr[0] ? rc->errstr : "connection lost");
		cp_clstore_disconnect(s);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		char m[120];

		snprintf(m, sizeof(m), "refused: %.100s", r->str ? r->str : "");
		fail(s, m);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static redisContext *open_ctx(const char *host, unsigned port, unsigned ms, char *why, size_t wl)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	redisContext *rc = redisConnectWithTimeout(host, (int)port, tv);

	if (!rc || rc->err) {
		snprintf(why, wl, "%s:%u: %s", host, port, rc ? rc->errstr : "out of memory");
		if (rc)
			redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	return rc;
}

/* Asks the sentinels, in turn, where the master is. */
static int sentinel_master(struct cp_clstore *s, char *host, size_t hl, unsigned *port)
{
	const struct cp_cluster_conf *c = s->conf;
	char why[160] = "no sentinel answered";

	for (unsigned i = 0; i < c->n_sentinels; i++) {
		char h[128];
		unsigned p;
		redisContext *rc;
		redisReply *r;

		if (hostport(c->sentinels[i], h, sizeof(h), &p) < 0 ||
		    !(rc = open_ctx(h, p, c->timeout_ms, why, sizeof(why))))
			continue;
		r = redisCommand(rc, "SENTINEL get-master-addr-by-name %s", c->master);
		if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len < hl &&
		    r->element[0]->len > 0) {
			unsigned long pv;

			if (fh_conf_uint(r->element[1]->str, 1, 65535, &pv) == 0) {
				snprintf(host, hl, "%s", r->element[0]->str);
				*port = (unsigned)pv;
				freeReplyObject(r);
				redisFree(rc);
				return 0;
			}
		}
		snprintf(why, sizeof(why), "sentinel %s does not know master %s", c->sentinels[i],
			 c->master);
		if (r)
			freeReplyObject(r);
		redisFree(rc);
	}
	fail(s, why);
	return -1;
}

int cp_clstore_connect(struct cp_clstore *s)
{
	const struct cp_cluster_conf *c = s->conf;
	char host[128], why[160];
	unsigned port = c->redis_port;
	redisReply *r;

	cp_clstore_disconnect(s);
	snprintf(host, sizeof(host), "%s", c->redis_host);
	if (c->n_sentinels && sentinel_master(s, host, sizeof(host), &port) < 0)
		return -1;
	if (!(s->rc = open_ctx(host, port, c->timeout_ms, why, sizeof(why)))) {
		fail(s, why);
		return -1;
	}
	r = c->user[0] ? run(s, "AUTH %s %s", c->user, c->password)
		       : run(s, "AUTH %s", c->password);
	if (!r) {
		cp_clstore_disconnect(s);
		return -1;
	}
	freeReplyObject(r);
	if (c->n_sentinels) {
		/* a master that is no longer one (a failover under way) is not written to */
		r = run(s, "ROLE");
		bool master = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
			      r->element[0]->type == REDIS_REPLY_STRING &&
			      !strcmp(r->element[0]->str, "master");

		if (r)
			freeReplyObject(r);
		if (!master) {
			fail(s, "the sentinels' master is not a master (yet)");
			cp_clstore_disconnect(s);
			return -1;
		}
	}
	return 0;
}

/* ---- keys and hashes ---- */

static void key_of(const struct cp_clstore *s, char *out, size_t n, const char *kind, const char *a,
		   const char *b)
{
	snprintf(out, n, "%s%s%s%s%s%s", s->conf->prefix, kind, a ? ":" : "", a ? a : "",
		 b ? ":" : "", b ? b : "");
}

void cp_clstore_room_hash(const uint8_t *secret, size_t secret_len, const char *tenant,
			  const char *room_key, char out[CP_CL_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t kt[32], h[32], msg[64];
	unsigned int l = 0;
	size_t tl = strlen(tenant);

	/* a key per tenant, so that one tenant's hashes say nothing of another's */
	memcpy(msg, "funkhaus room key", 17);
	msg[17] = 0;
	if (tl > 40)
		tl = 40;
	memcpy(msg + 18, tenant, tl);
	HMAC(EVP_sha256(), secret, (int)secret_len, msg, 18 + tl, kt, &l);
	HMAC(EVP_sha256(), kt, sizeof(kt), (const uint8_t *)room_key, strlen(room_key), h, &l);
	for (int i = 0; i < CP_CL_HASH_LEN / 2; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[CP_CL_HASH_LEN] = '\0';
	OPENSSL_cleanse(kt, sizeof(kt));
}

static bool hash_ok(const char *h)
{
	if (strlen(h) != CP_CL_HASH_LEN)
		return false;
	for (int i = 0; i < CP_CL_HASH_LEN; i++)
		if (!isxdigit((unsigned char)h[i]) || isupper((unsigned char)h[i]))
			return false;
	return true;
}

/* ---- scripts: every read bounded and type-checked inside Redis ---- */

/* KEYS[1]; ARGV[1] the most bytes: the value, 0 none, -1 wrong type, -2 too large */
static const char LUA_GETB[] = "local v = redis.pcall('GET', KEYS[1]) "
			       "if type(v) == 'table' then return -1 end "
			       "if not v then return 0 end "
			       "if #v > tonumber(ARGV[1]) then return -2 end "
			       "return v";

/* KEYS node, nodes; ARGV record, ttl, id: the record, and the id in the node set, which is
 * made again when something else stands there (each node adds itself at every announcement,
 * so the set is whole again within one); 1 when it was made again */
static const char LUA_REGISTER[] = "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
				   "local t = redis.call('TYPE', KEYS[2]).ok "
				   "local again = 0 "
				   "if t ~= 'set' and t ~= 'none' then "
				   "  redis.call('DEL', KEYS[2]) again = 1 end "
				   "redis.call('SADD', KEYS[2], ARGV[3]) "
				   "return again";

/* KEYS[1] the set; ARGV[1] the members' key prefix, ARGV[2] how many at most, ARGV[3] the
 * most bytes of a value: {member, value, ...}, a value "!" when bad; members whose key is
 * gone leave the set */
static const char LUA_SETVALS[] =
	"local ids = redis.pcall('SRANDMEMBER', KEYS[1], tonumber(ARGV[2])) "
	"if type(ids) ~= 'table' or ids.err then return -1 end "
	"local out = {} "
	"for _, id in ipairs(ids) do "
	"  if #id > 80 then redis.call('SREM', KEYS[1], id) else "
	"    local v = redis.pcall('GET', ARGV[1] .. id) "
	"    if type(v) == 'table' then v = '!' end "
	"    if not v then redis.call('SREM', KEYS[1], id) else "
	"      if #v > tonumber(ARGV[3]) then v = '!' end "
	"      out[#out + 1] = id out[#out + 1] = v end end end "
	"return out";

/* KEYS claim, claims, placed; ARGV value, ttl, member, now, epoch */
static const char LUA_CLAIM[] =
	"local ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) "
	"if not ok then return 0 end "
	"redis.pcall('SADD', KEYS[2], ARGV[3]) "
	"redis.pcall('ZADD', KEYS[3], ARGV[4], ARGV[5]) "
	"redis.pcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4] - 60000) "
	"redis.pcall('PEXPIRE', KEYS[3], 120000) "
	"return 1";

/* KEYS claim, claims; ARGV value, ttl, member */
static const char LUA_REFRESH[] =
	"local v = redis.pcall('GET', KEYS[1]) "
	"if type(v) == 'table' then return 0 end "
	"if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end "
	"if v then return 0 end "
	"redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
	"redis.pcall('SADD', KEYS[2], ARGV[3]) "
	"return 2";

/* KEYS claim, claims; ARGV value, member: compare and delete */
static const char LUA_RELEASE[] = "if redis.pcall('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
				  "redis.call('DEL', KEYS[1]) "
				  "redis.pcall('SREM', KEYS[2], ARGV[2]) "
				  "return 1";

/* KEYS claim, claims; ARGV member: a key without expiry goes, whatever it holds */
static const char LUA_CLEARBAD[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
				   "if redis.call('PTTL', KEYS[1]) >= 0 then return 2 end "
				   "redis.call('DEL', KEYS[1]) "
				   "redis.pcall('SREM', KEYS[2], ARGV[1]) "
				   "return 1";

/* KEYS placed; ARGV since: rooms placed since */
static const char LUA_PLACED[] = "local n = redis.pcall('ZCOUNT', KEYS[1], ARGV[1], '+inf') "
				 "if type(n) ~= 'number' then return 0 end "
				 "return n";

/* KEYS[1] a hash; ARGV[1] most fields, ARGV[2] most bytes a value: its fields, -1 wrong
 * type, -2 too large */
static const char LUA_HGETB[] = "local v = redis.pcall('HGETALL', KEYS[1]) "
				"if v.err then return -1 end "
				"if #v > 2 * tonumber(ARGV[1]) then return -2 end "
				"for _, x in ipairs(v) do "
				"  if #x > tonumber(ARGV[2]) then return -2 end end "
				"return v";

/* KEYS rec; ARGV used, gen, ttl s */
static const char LUA_TOUCH[] = "local t = redis.call('TYPE', KEYS[1]).ok "
				"if t ~= 'none' and t ~= 'hash' then return -1 end "
				"redis.call('HSET', KEYS[1], 'used', ARGV[1]) "
				"redis.call('HSETNX', KEYS[1], 'opened', ARGV[1]) "
				"redis.call('HSETNX', KEYS[1], 'gen', ARGV[2]) "
				"redis.call('EXPIRE', KEYS[1], ARGV[3]) "
				"return 1";

/* KEYS rec; ARGV field, value ("" deletes it): only on a hash that exists */
static const char LUA_HFIELD[] = "local t = redis.call('TYPE', KEYS[1]).ok "
				 "if t ~= 'hash' then return 0 end "
				 "if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) "
				 "else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end "
				 "return 1";

/* KEYS the list; ARGV most bytes: the first command, 0 none, -1 wrong type, -2 too large */
static const char LUA_POP[] = "local v = redis.pcall('LPOP', KEYS[1]) "
			      "if type(v) == 'table' then return -1 end "
			      "if not v then return 0 end "
			      "if #v > tonumber(ARGV[1]) then return -2 end "
			      "return v";

/* ---- nodes ---- */

static bool pools_ok(json_t *a, struct cp_cl_node *n)
{
	size_t i;
	json_t *p;

	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > CP_CL_POOLS)
		return false;
	n->n_pools = 0;
	json_array_foreach(a, i, p)
	{
		if (!json_is_string(p) || !id_ok(json_string_value(p)))
			return false;
		snprintf(n->pools[n->n_pools++], sizeof(n->pools[0]), "%s", json_string_value(p));
	}
	return true;
}

static bool uint_in(json_t *v, unsigned max, unsigned *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return false;
	*out = (unsigned)json_integer_value(v);
	return true;
}

/* A node's record as stored: 0, -1 malformed, -2 another cluster's. */
static int node_parse(const struct cp_clstore *s, const char *id, const char *buf, size_t len,
		      struct cp_cl_node *n)
{
	json_error_t je;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	const char *cl, *rid, *url, *region, *boot;
	int rc = -1;

	memset(n, 0, sizeof(*n));
	if (!json_is_object(o))
		goto out;
	cl = json_string_value(json_object_get(o, "cluster"));
	rid = json_string_value(json_object_get(o, "id"));
	url = json_string_value(json_object_get(o, "url"));
	region = json_string_value(json_object_get(o, "region"));
	boot = json_string_value(json_object_get(o, "boot"));
	if (!cl || !rid || !url || !region || !boot)
		goto out;
	if (strcmp(cl, s->conf->name)) {
		rc = -2;
		goto out;
	}
	if (json_integer_value(json_object_get(o, "v")) != 1 || strcmp(rid, id) || !id_ok(rid) ||
	    !url_ok(url) || !id_ok(region) || !pools_ok(json_object_get(o, "pools"), n) ||
	    !uint_in(json_object_get(o, "capacity"), CP_CL_CAPACITY_MAX, &n->capacity) ||
	    n->capacity == 0 ||
	    !uint_in(json_object_get(o, "rooms"), CP_CL_CAPACITY_MAX * 10, &n->rooms) ||
	    !uint_in(json_object_get(o, "participants"), CP_CL_CAPACITY_MAX * 10,
		     &n->participants) ||
	    !json_is_boolean(json_object_get(o, "draining")) ||
	    !json_is_integer(json_object_get(o, "ts")) || strlen(boot) != 16)
		goto out;
	snprintf(n->id, sizeof(n->id), "%s", rid);
	snprintf(n->url, sizeof(n->url), "%s", url);
	snprintf(n->region, sizeof(n->region), "%s", region);
	n->draining = json_is_true(json_object_get(o, "draining"));
	n->ts_ms = json_integer_value(json_object_get(o, "ts"));
	n->boot = strtoull(boot, NULL, 16);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int cp_clstore_register(struct cp_clstore *s, const struct cp_cl_node *n)
{
	char key[160], setk[160], boot[17];
	json_t *pools = json_array(), *o;
	char *js;
	redisReply *r;

	for (unsigned i = 0; i < n->n_pools; i++)
		json_array_append_new(pools, json_string(n->pools[i]));
	snprintf(boot, sizeof(boot), "%016llx", (unsigned long long)n->boot);
	o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:o,s:i,s:i,s:i,s:b,s:I,s:s}", "v", 1, "cluster",
		      s->conf->name, "id", n->id, "url", n->url, "region", n->region, "pools",
		      pools, "capacity", (int)n->capacity, "rooms", (int)n->rooms, "participants",
		      (int)n->participants, "draining", n->draining, "ts", (json_int_t)n->ts_ms,
		      "boot", boot);
	js = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!js)
		return -1;
	key_of(s, key, sizeof(key), "node", n->id, NULL);
	key_of(s, setk, sizeof(setk), "nodes", NULL, NULL);
	r = run(s, "EVAL %s 2 %s %s %s %d %s", LUA_REGISTER, key, setk, js, CP_CL_NODE_TTL_MS,
		n->id);
	free(js);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
		s->bad++;
		snprintf(s->last_err, sizeof(s->last_err), "the node set was no set: made again");
	}
	freeReplyObject(r);
	return 0;
}

int cp_clstore_unregister(struct cp_clstore *s, const char *id)
{
	char key[160], setk[160];
	redisReply *r;

	key_of(s, key, sizeof(key), "node", id, NULL);
	key_of(s, setk, sizeof(setk), "nodes", NULL, NULL);
	r = run(s, "DEL %s", key);
	if (!r)
		return -1;
	freeReplyObject(r);
	r = run(s, "SREM %s %s", setk, id);
	if (r)
		freeReplyObject(r);
	return r ? 0 : -1;
}

int cp_clstore_node_get(struct cp_clstore *s, const char *id, struct cp_cl_node *n)
{
	char key[160];
	redisReply *r;
	int rc;

	if (!id_ok(id))
		return -2;
	key_of(s, key, sizeof(key), "node", id, NULL);
	r = run(s, "EVAL %s 1 %s %d", LUA_GETB, key, NODE_JSON_MAX);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		rc = r->integer == 0 ? 0 : -2;
	else if (r->type == REDIS_REPLY_STRING)
		rc = node_parse(s, id, r->str, r->len, n) == 0 ? 1 : -2;
	else
		rc = -2;
	if (rc == -2) {
		s->bad++;
		snprintf(s->last_err, sizeof(s->last_err), "a node record that does not check");
	}
	freeReplyObject(r);
	return rc;
}

static long long placed_since(struct cp_clstore *s, const char *id, int64_t since)
{
	char key[160];
	redisReply *r;
	long long n = 0;

	key_of(s, key, sizeof(key), "placed", id, NULL);
	r = run(s, "EVAL %s 1 %s %lld", LUA_PLACED, key, (long long)since);
	if (r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
		n = r->integer;
	if (r)
		freeReplyObject(r);
	return n;
}

int cp_clstore_nodes(struct cp_clstore *s, struct cp_cl_node *out, unsigned max, int64_t now_ms)
{
	char setk[160], pre[160];
	redisReply *r;
	unsigned n = 0;

	key_of(s, setk, sizeof(setk), "nodes", NULL, NULL);
	key_of(s, pre, sizeof(pre), "node:", NULL, NULL); /* "P node:" */
	r = run(s, "EVAL %s 1 %s %s %d %d", LUA_SETVALS, setk, pre, CP_CL_NODES_MAX, NODE_JSON_MAX);
	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY) {
		s->bad++; /* the set is of another type */
		snprintf(s->last_err, sizeof(s->last_err), "the node set is not a set");
		freeReplyObject(r);
		return 0;
	}
	for (size_t i = 0; i + 1 < r->elements && n < max; i += 2) {
		redisReply *id = r->element[i], *v = r->element[i + 1];

		if (id->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		int pr = v->len == 1 && v->str[0] == '!'
				 ? -1
				 : node_parse(s, id->str, v->str, v->len, &out[n]);

		if (pr < 0) {
			s->bad++;
			snprintf(s->last_err, sizeof(s->last_err), "%s node record ignored",
				 pr == -2 ? "another cluster's" : "a malformed");
			continue;
		}
		n++;
	}
	freeReplyObject(r);
	/* the correction: rooms placed on a node after it counted its load (with half a
	 * second's overlap: counted twice rather than not at all) */
	for (unsigned i = 0; i < n; i++) {
		int64_t since = out[i].ts_ms - 500;

		if (since > now_ms)
			since = now_ms; /* a clock ahead of ours */
		out[i].placed = (unsigned)placed_since(s, out[i].id, since);
	}
	return (int)n;
}

/* ---- claims ---- */

static int claim_parse(const struct cp_clstore *s, const char *v, size_t len, struct cp_cl_claim *c)
{
	char buf[CLAIM_VAL_MAX + 1], *a, *b;

	if (len > CLAIM_VAL_MAX)
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	a = strchr(buf, '|');
	b = a ? strchr(a + 1, '|') : NULL;
	if (!a || !b)
		return -1;
	*a++ = '\0';
	*b++ = '\0';
	if (strcmp(buf, s->conf->name))
		return -2;
	if (!id_ok(a) || strlen(b) != 16 || strspn(b, "0123456789abcdef") != 16)
		return -1;
	snprintf(c->node, sizeof(c->node), "%s", a);
	snprintf(c->epoch, sizeof(c->epoch), "%s", b);
	return 0;
}

static void claim_value(const struct cp_clstore *s, const char *node, const char *epoch, char *out,
			size_t n)
{
	snprintf(out, n, "%s|%s|%s", s->conf->name, node, epoch);
}

int cp_clstore_claim_get(struct cp_clstore *s, const char *tenant, const char *hash,
			 struct cp_cl_claim *c)
{
	char key[200];
	redisReply *r;
	int rc;

	if (!id_ok(tenant) || !hash_ok(hash))
		return -2;
	key_of(s, key, sizeof(key), "claim", tenant, hash);
	r = run(s, "EVAL %s 1 %s %d", LUA_GETB, key, CLAIM_VAL_MAX);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER) {
		rc = r->integer == 0 ? 0 : -2;
	} else if (r->type == REDIS_REPLY_STRING) {
		memset(c, 0, sizeof(*c));
		snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
		snprintf(c->hash, sizeof(c->hash), "%s", hash);
		rc = claim_parse(s, r->str, r->len, c) == 0 ? 1 : -2;
	} else {
		rc = -2;
	}
	if (rc == -2) {
		s->bad++;
		snprintf(s->last_err, sizeof(s->last_err), "a room claim that does not check");
	}
	freeReplyObject(r);
	return rc;
}

int cp_clstore_claim_try(struct cp_clstore *s, const char *tenant, const char *hash,
			 const char *node, const char *epoch, int64_t now_ms)
{
	char key[200], setk[160], placed[160], val[CLAIM_VAL_MAX + 1], mem[80];
	redisReply *r;
	int rc;

	if (!id_ok(tenant) || !hash_ok(hash))
		return -1;
	key_of(s, key, sizeof(key), "claim", tenant, hash);
	key_of(s, setk, sizeof(setk), "claims", NULL, NULL);
	key_of(s, placed, sizeof(placed), "placed", node, NULL);
	claim_value(s, node, epoch, val, sizeof(val));
	snprintf(mem, sizeof(mem), "%s:%s", tenant, hash);
	r = run(s, "EVAL %s 3 %s %s %s %s %d %s %lld %s", LUA_CLAIM, key, setk, placed, val,
		CP_CL_CLAIM_TTL_MS, mem, (long long)now_ms, epoch);
	if (!r)
		return -1;
	rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 1 : 0;
	freeReplyObject(r);
	return rc;
}

int cp_clstore_claim_refresh(struct cp_clstore *s, const struct cp_cl_claim *c)
{
	char key[200], setk[160], val[CLAIM_VAL_MAX + 1], mem[80];
	redisReply *r;
	int rc;

	key_of(s, key, sizeof(key), "claim", c->tenant, c->hash);
	key_of(s, setk, sizeof(setk), "claims", NULL, NULL);
	claim_value(s, c->node, c->epoch, val, sizeof(val));
	snprintf(mem, sizeof(mem), "%s:%s", c->tenant, c->hash);
	r = run(s, "EVAL %s 2 %s %s %s %d %s", LUA_REFRESH, key, setk, val, CP_CL_CLAIM_TTL_MS,
		mem);
	if (!r)
		return -1;
	rc = r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer <= 2 ? (int)r->integer
										  : 0;
	freeReplyObject(r);
	return rc;
}

int cp_clstore_claim_release(struct cp_clstore *s, const struct cp_cl_claim *c)
{
	char key[200], setk[160], val[CLAIM_VAL_MAX + 1], mem[80];
	redisReply *r;
	int rc;

	key_of(s, key, sizeof(key), "claim", c->tenant, c->hash);
	key_of(s, setk, sizeof(setk), "claims", NULL, NULL);
	claim_value(s, c->node, c->epoch, val, sizeof(val));
	snprintf(mem, sizeof(mem), "%s:%s", c->tenant, c->hash);
	r = run(s, "EVAL %s 2 %s %s %s %s", LUA_RELEASE, key, setk, val, mem);
	if (!r)
		return -1;
	rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	freeReplyObject(r);
	return rc;
}

int cp_clstore_claim_takeover(struct cp_clstore *s, const struct cp_cl_claim *old)
{
	return cp_clstore_claim_release(s, old);
}

int cp_clstore_claim_clear_bad(struct cp_clstore *s, const char *tenant, const char *hash)
{
	char key[200], setk[160], mem[80];
	redisReply *r;
	int rc;

	if (!id_ok(tenant) || !hash_ok(hash))
		return -2;
	key_of(s, key, sizeof(key), "claim", tenant, hash);
	key_of(s, setk, sizeof(setk), "claims", NULL, NULL);
	snprintf(mem, sizeof(mem), "%s:%s", tenant, hash);
	r = run(s, "EVAL %s 2 %s %s %s", LUA_CLEARBAD, key, setk, mem);
	if (!r)
		return -1;
	rc = r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer <= 2 ? (int)r->integer
										  : -1;
	freeReplyObject(r);
	return rc;
}

int cp_clstore_claims(struct cp_clstore *s, struct cp_cl_claim *out, unsigned max)
{
	char setk[160], pre[160];
	redisReply *r;
	unsigned n = 0;

	key_of(s, setk, sizeof(setk), "claims", NULL, NULL);
	key_of(s, pre, sizeof(pre), "claim:", NULL, NULL);
	r = run(s, "EVAL %s 1 %s %s %u %d", LUA_SETVALS, setk, pre, max, CLAIM_VAL_MAX);
	if (!r)
		return -1;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && n < max; i += 2) {
		redisReply *id = r->element[i], *v = r->element[i + 1];
		const char *colon;

		if (id->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		colon = strchr(id->str, ':');
		memset(&out[n], 0, sizeof(out[n]));
		if (!colon || (size_t)(colon - id->str) > 32 ||
		    claim_parse(s, v->str, v->len, &out[n]) < 0) {
			s->bad++;
			continue;
		}
		snprintf(out[n].tenant, sizeof(out[n].tenant), "%.*s", (int)(colon - id->str),
			 id->str);
		snprintf(out[n].hash, sizeof(out[n].hash), "%s", colon + 1);
		if (!id_ok(out[n].tenant) || !hash_ok(out[n].hash)) {
			s->bad++;
			continue;
		}
		n++;
	}
	if (r->type != REDIS_REPLY_ARRAY)
		s->bad++;
	freeReplyObject(r);
	return (int)n;
}

/* ---- placement ---- */

static bool serves(const struct cp_cl_node *n, const char *pool)
{
	for (unsigned i = 0; i < n->n_pools; i++)
		if (!strcmp(n->pools[i], pool))
			return true;
	return false;
}

static int choose_in(const struct cp_cl_node *nodes, unsigned n, const char *pool,
		     const char *region)
{
	double best = 0, per_room = 1;
	int pick = -1;
	unsigned ties = 0;
	uint64_t parts = 0, rooms = 0;

	/* a room placed since a node counted soon brings its people: weigh it as the cluster's
	 * rooms hold on average (one at least) */
	for (unsigned i = 0; i < n; i++) {
		parts += nodes[i].participants;
		rooms += nodes[i].rooms;
	}
	if (rooms && parts > rooms)
		per_room = (double)parts / (double)rooms;

	for (unsigned i = 0; i < n; i++) {
		const struct cp_cl_node *x = &nodes[i];
		double load;

		if (x->draining || !serves(x, pool) || (region && strcmp(x->region, region)) ||
		    x->participants >= x->capacity)
			continue;
		load = ((double)x->participants + x->placed * per_room) / x->capacity;
		if (pick < 0 || load < best - 1e-9) {
			best = load;
			pick = (int)i;
			ties = 1;
		} else if (load <= best + 1e-9) {
			/* one of the equally loaded at random: a burst of rooms that all see the
			 * same numbers does not land on one node */
			uint32_t r = 0;

			RAND_bytes((unsigned char *)&r, sizeof(r));
			if (r % ++ties == 0)
				pick = (int)i;
		}
	}
	return pick;
}

int cp_clstore_choose(const struct cp_cl_node *nodes, unsigned n, const char *pool,
		      const char *region, const char *prefer)
{
	int i;

	if (region && *region)
		return choose_in(nodes, n, pool, region);
	if (prefer && *prefer && (i = choose_in(nodes, n, pool, prefer)) >= 0)
		return i;
	return choose_in(nodes, n, pool, NULL);
}

/* ---- room records ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool int_of(const char *s, size_t len, int64_t *out)
{
	char buf[24];
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	long long v = strtoll(buf, &end, 10);

	if (errno || *end || v < 0)
		return false;
	*out = v;
	return true;
}

int cp_clstore_record_get(struct cp_clstore *s, const char *tenant, const char *hash,
			  struct cp_cl_record *rec, unsigned days, int64_t now_s)
{
	char key[200];
	redisReply *r;
	bool ok = true;

	if (!id_ok(tenant) || !hash_ok(hash))
		return -2;
	key_of(s, key, sizeof(key), "rec", tenant, hash);
	r = run(s, "EVAL %s 1 %s 16 256", LUA_HGETB, key);
	if (!r)
		return -1;
	memset(rec, 0, sizeof(*rec));
	rec->lobby = -1;
	if (r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		s->bad++;
		snprintf(s->last_err, sizeof(s->last_err), "a room record that does not check");
		return -2;
	}
	if (r->elements == 0) {
		freeReplyObject(r);
		return 0;
	}
	bool have_used = false;

	for (size_t i = 0; i + 1 < r->elements && ok; i += 2) {
		redisReply *f = r->element[i], *v = r->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
			ok = false;
		} else if (!strcmp(f->str, "pw")) {
			if (v->len != 2 * CP_CL_PW_LEN) {
				ok = false;
				break;
			}
			for (size_t k = 0; k < CP_CL_PW_LEN && ok; k++) {
				int hi = hexval(v->str[2 * k]), lo = hexval(v->str[2 * k + 1]);

				ok = hi >= 0 && lo >= 0;
				rec->pw[k] = (uint8_t)(hi << 4 | lo);
			}
			rec->has_pw = ok;
		} else if (!strcmp(f->str, "lobby")) {
			ok = v->len == 1 && (v->str[0] == '0' || v->str[0] == '1');
			rec->lobby = v->str[0] == '1';
		} else if (!strcmp(f->str, "gen")) {
			ok = v->len == 1 && (v->str[0] == '0' || v->str[0] == '1');
			rec->generated = v->str[0] == '1';
		} else if (!strcmp(f->str, "opened")) {
			ok = int_of(v->str, v->len, &rec->opened);
		} else if (!strcmp(f->str, "used")) {
			ok = have_used = int_of(v->str, v->len, &rec->used);
		}
		/* other fields: a later version's, ignored */
	}
	freeReplyObject(r);
	if (!ok || !have_used) {
		OPENSSL_cleanse(rec, sizeof(*rec));
		s->bad++;
		snprintf(s->last_err, sizeof(s->last_err), "a room record that does not check");
		return -2;
	}
	/* Redis' expiry goes with the days in force when it was last used; fewer days now
	 * end it sooner */
	if (days && now_s - rec->used > (int64_t)days * 86400) {
		OPENSSL_cleanse(rec, sizeof(*rec));
		cp_clstore_record_forget(s, tenant, hash);
		return 0;
	}
	return 1;
}

static unsigned ttl_s(unsigned days)
{
	return (days ? days : 3650) * 86400u;
}

int cp_clstore_record_touch(struct cp_clstore *s, const char *tenant, const char *hash,
			    bool generated, int64_t now_s, unsigned days)
{
	char key[200];
	redisReply *r;

	key_of(s, key, sizeof(key), "rec", tenant, hash);
	r = run(s, "EVAL %s 1 %s %lld %d %u", LUA_TOUCH, key, (long long)now_s, generated ? 1 : 0,
		ttl_s(days));
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER && r->integer < 0)
		s->bad++;
	freeReplyObject(r);
	return 0;
}

static void pw_hex(const uint8_t *pw, char out[2 * CP_CL_PW_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < CP_CL_PW_LEN; i++) {
		out[2 * i] = hex[pw[i] >> 4];
		out[2 * i + 1] = hex[pw[i] & 15];
	}
	out[2 * CP_CL_PW_LEN] = '\0';
}

int cp_clstore_record_put(struct cp_clstore *s, const char *tenant, const char *hash,
			  const struct cp_cl_record *rec, unsigned days)
{
	char key[200], pw[2 * CP_CL_PW_LEN + 1] = "";
	redisReply *r;

	key_of(s, key, sizeof(key), "rec", tenant, hash);
	if (rec->has_pw)
		pw_hex(rec->pw, pw);
	r = run(s, "DEL %s", key);
	if (!r)
		return -1;
	freeReplyObject(r);
	r = run(s, "HSET %s used %lld opened %lld gen %d", key, (long long)rec->used,
		(long long)rec->opened, rec->generated ? 1 : 0);
	if (r) {
		freeReplyObject(r);
		r = rec->has_pw ? run(s, "HSET %s pw %s", key, pw) : run(s, "PING");
	}
	if (r && rec->lobby >= 0) {
		freeReplyObject(r);
		r = run(s, "HSET %s lobby %d", key, rec->lobby);
	}
	if (r) {
		freeReplyObject(r);
		r = run(s, "EXPIRE %s %u", key, ttl_s(days));
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	if (!r)
		return -1;
	freeReplyObject(r);
	return 0;
}

static int hfield(struct cp_clstore *s, const char *tenant, const char *hash, const char *f,
		  const char *v)
{
	char key[200];
	redisReply *r;

	key_of(s, key, sizeof(key), "rec", tenant, hash);
	r = run(s, "EVAL %s 1 %s %s %s", LUA_HFIELD, key, f, v);
	if (!r)
		return -1;
	freeReplyObject(r);
	return 0;
}

int cp_clstore_record_password(struct cp_clstore *s, const char *tenant, const char *hash,
			       const uint8_t *pw, size_t len)
{
	char hex[2 * CP_CL_PW_LEN + 1] = "";
	int rc;

	if (len == CP_CL_PW_LEN)
		pw_hex(pw, hex);
	rc = hfield(s, tenant, hash, "pw", hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

int cp_clstore_record_lobby(struct cp_clstore *s, const char *tenant, const char *hash, bool on)
{
	return hfield(s, tenant, hash, "lobby", on ? "1" : "0");
}

int cp_clstore_record_forget(struct cp_clstore *s, const char *tenant, const char *hash)
{
	char key[200];
	redisReply *r;

	key_of(s, key, sizeof(key), "rec", tenant, hash);
	r = run(s, "DEL %s", key);
	if (!r)
		return -1;
	freeReplyObject(r);
	return 0;
}

/* ---- commands and access ---- */

int cp_clstore_cmd_push(struct cp_clstore *s, const char *node, const char *json)
{
	char key[160];
	redisReply *r;

	if (strlen(json) > CMD_MAX)
		return -1;
	key_of(s, key, sizeof(key), "cmd", node, NULL);
	r = run(s, "RPUSH %s %s", key, json);
	if (!r)
		return -1;
	freeReplyObject(r);
	if ((r = run(s, "LTRIM %s -256 -1", key)))
		freeReplyObject(r);
	if ((r = run(s, "PEXPIRE %s 60000", key)))
		freeReplyObject(r);
	return 0;
}

int cp_clstore_cmd_pop(struct cp_clstore *s, const char *node, char *buf, size_t len)
{
	char key[160];
	redisReply *r;
	int rc;

	key_of(s, key, sizeof(key), "cmd", node, NULL);
	r = run(s, "EVAL %s 1 %s %d", LUA_POP, key, CMD_MAX);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_STRING && r->len < len) {
		memcpy(buf, r->str, r->len);
		buf[r->len] = '\0';
		rc = 1;
	} else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
		rc = 0;
	} else {
		s->bad++; /* too large, or the key is not a list */
		snprintf(s->last_err, sizeof(s->last_err), "an admin command that does not check");
		rc = r->type == REDIS_REPLY_INTEGER && r->integer == -1 ? 0 : 2; /* 2: dropped */
	}
	freeReplyObject(r);
	return rc;
}

int cp_clstore_access_set(struct cp_clstore *s, const char *tenant, bool on)
{
	char key[160];
	redisReply *r;

	key_of(s, key, sizeof(key), "access", NULL, NULL);
	r = run(s, "HSET %s %s %d", key, tenant, on ? 1 : 0);
	if (!r)
		return -1;
	freeReplyObject(r);
	return 0;
}

int cp_clstore_access(struct cp_clstore *s, char (*ids)[33], bool *on, unsigned max)
{
	char key[160];
	redisReply *r;
	unsigned n = 0;

	key_of(s, key, sizeof(key), "access", NULL, NULL);
	r = run(s, "EVAL %s 1 %s %u 8", LUA_HGETB, key, max);
	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY) {
		s->bad++;
		freeReplyObject(r);
		return 0;
	}
	for (size_t i = 0; i + 1 < r->elements && n < max; i += 2) {
		redisReply *f = r->element[i], *v = r->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    !id_ok(f->str) || v->len != 1 || (v->str[0] != '0' && v->str[0] != '1')) {
			s->bad++;
			continue;
		}
		snprintf(ids[n], 33, "%s", f->str);
		on[n++] = v->str[0] == '1';
	}
	freeReplyObject(r);
	return (int)n;
}
