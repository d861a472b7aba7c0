/*
 * cp_api: the admin REST API, /metrics and /readyz. See cp_api.h and docs/REST.md.
 */
#include "cp_api.h"
#include "cp_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cp_dp.h"
#include "cp_limits.h"
#include "cp_pwhash.h"
#include "cp_err.h"
#include "cp_room.h"
#include "cp_sig.h"
#include "cp_store.h"
#include "fh_log.h"

static struct {
	struct cp_api_conf conf;
	uint64_t connections;
	uint64_t connections_total;
} a;

void cp_api_init(const struct cp_api_conf *c)
{
	a.conf = *c;
}

void cp_api_count_connection(int delta)
{
	a.connections += (uint64_t)(int64_t)delta;
	if (delta > 0)
		a.connections_total++;
}

bool cp_api_owns(const char *uri)
{
	return !strncmp(uri, "/api/v1/", 8) || !strcmp(uri, "/metrics") || !strcmp(uri, "/readyz");
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int cp_api_parse_token(const char *val, struct cp_api_token *t, char *err, size_t elen)
{
	char name[64], scope[40], hex[80];

	memset(t, 0, sizeof(*t));
	if (sscanf(val, "%63s %39s %79s", name, scope, hex) != 3 || strlen(hex) != 64) {
		snprintf(err, elen, "NAME SCOPE SHA256-HEX (funkhausctl token-new makes one)");
		return -1;
	}
	for (int i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(err, elen, "the hash is 64 lower-case hex digits");
			return -1;
		}
		t->hash[i] = (uint8_t)(hi << 4 | lo);
	}
	if (strcmp(scope, "*") != 0) {
		for (const char *p = scope; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-') ||
			    strlen(scope) > 32) {
				snprintf(err, elen, "scope is * or a tenant id");
				return -1;
			}
	}
	for (const char *p = name; *p; p++)
		if (*p < 0x21 || *p > 0x7e) {
			snprintf(err, elen, "the name is printable ASCII");
			return -1;
		}
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->scope, sizeof(t->scope), "%s", scope);
	return 0;
}

/* ---- responses ---- */

static void respond_json(struct cp_api_resp *out, unsigned status, json_t *o)
{
	out->status = status;
	out->ctype = "application/json";
	out->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!out->body)
		out->body = strdup("{}");
}

static void respond_error(struct cp_api_resp *out, unsigned status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	respond_json(out, status,
		     json_pack("{s:{s:i, s:s}}", "error", "status", (int)status, "message", msg));
}

static void respond_ok(struct cp_api_resp *out)
{
	respond_json(out, 200, json_pack("{s:b}", "ok", true));
}

/* ---- auth ---- */

static const struct cp_api_token *authenticate(const char *auth)
{
	uint8_t h[32];
	unsigned hl = 0;
	const struct cp_api_token *found = NULL;

	if (!auth || strncmp(auth, "Bearer ", 7) || !auth[7])
		return NULL;
	if (!EVP_Digest(auth + 7, strlen(auth + 7), h, &hl, EVP_sha256(), NULL))
		return NULL;
	/* every configured token is compared, in constant time each */
	for (unsigned i = 0; i < a.conf.n_tokens; i++)
		if (!CRYPTO_memcmp(h, a.conf.tokens[i].hash, 32))
			found = &a.conf.tokens[i];
	return found;
}

static bool global(const struct cp_api_token *t)
{
	return !strcmp(t->scope, "*");
}

static bool may(const struct cp_api_token *t, const char *tenant)
{
	return global(t) || !strcmp(t->scope, tenant);
}

static void audit(const struct cp_api_token *t, const char *what, unsigned status)
{
	char err[256], line[512];

	if (!a.conf.audit_dir[0])
		return;
	snprintf(line, sizeof(line), "api %s -> %u", what, status);
	if (fh_log_audit(a.conf.audit_dir, t->name, line, cp_clock_s(), err, sizeof(err)) < 0)
		FH_ERR("audit log not written: %s", err);
}

/* ---- tenant files ---- */

static const char *const file_keys[] = {"token_hs256_secret_file", "token_rs256_key",
					"token_es256_key"};
/* What a tenant admin may not change: where the tenant answers, and files on this server. */
static const char *const global_keys[] = {"id",
					  "name",
					  "hosts",
					  "path_prefix",
					  "token_hs256_secret_file",
					  "token_rs256_key",
					  "token_es256_key",
					  "max_rooms",
					  "pool",
					  "region"};

static bool in_list(const char *k, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k, list[i]))
			return true;
	return false;
}

static void tenant_path(char *out, size_t n, const char *id)
{
	snprintf(out, n, "%s/%s.conf", a.conf.tenants_dir, id);
}

/* A tenant file's keys (its [tenant] section) as a JSON object; repeated keys as arrays. */
static json_t *file_read(const char *path)
{
	FILE *f = fopen(path, "r");
	json_t *o;
	char line[1024];

	if (!f)
		return NULL;
	o = json_object();
	while (fgets(line, sizeof(line), f)) {
		char *k = line, *eq = strchr(line, '='), *v, *e;

		while (*k == ' ' || *k == '\t')
			k++;
		if (!eq || *k == '#' || *k == '[')
			continue;
		*eq = '\0';
		for (e = eq; e > k && (e[-1] == ' ' || e[-1] == '\t'); e--)
			e[-1] = '\0';
		v = eq + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\r\n")] = '\0';
		json_t *old = json_object_get(o, k);

		if (old && in_list(k, file_keys, 3)) {
			if (!json_is_array(old)) {
				json_t *arr = json_array();

				json_array_append(arr, old);
				json_object_set_new(o, k, arr);
				old = arr;
			}
			json_array_append_new(old, json_string(v));
		} else {
			json_object_set_new(o, k, json_string(v));
		}
	}
	fclose(f);
	return o;
}

static bool clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '#')
			return false;
	return true;
}

/* One value as configuration text; -1 when it cannot be one. */
static int value_text(json_t *v, char *out, size_t n)
{
	if (json_is_string(v)) {
		if (!clean(json_string_value(v)) || strlen(json_string_value(v)) >= n)
			return -1;
		snprintf(out, n, "%s", json_string_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(out, n, "%s", json_is_true(v) ? "on" : "off");
	} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
		snprintf(out, n, "%lld", (long long)json_integer_value(v));
	} else {
		return -1;
	}
	return 0;
}

/* The settings as a tenant file; NULL with the reason in err. */
static char *file_text(json_t *o, char *err, size_t elen)
{
	size_t cap = 8192, len = 0;
	char *text = malloc(cap), val[1024];
	const char *k;
	json_t *v;

	if (!text)
		return NULL;
	len = (size_t)snprintf(text, cap, "# written by the admin API\n[tenant]\n");
	json_object_foreach(o, k, v)
	{
		size_t i;
		json_t *item;

		if (!strcmp(k, "id") || !strcmp(k, "name"))
			continue; /* the file's name is the id */
		if (!clean(k) || strlen(k) > 64 || strchr(k, '=') || strchr(k, ' ')) {
			snprintf(err, elen, "bad key");
			goto bad;
		}
		if (json_is_array(v) && !strcmp(k, "hosts")) {
			size_t l = 0;

			val[0] = '\0';
			json_array_foreach(v, i, item)
			{
				char h[200];

				if (value_text(item, h, sizeof(h)) < 0 ||
				    l + strlen(h) + 2 >= sizeof(val)) {
					snprintf(err, elen, "hosts: a list of host names");
					goto bad;
				}
				l += (size_t)snprintf(val + l, sizeof(val) - l, "%s%s",
						      i ? "," : "", h);
			}
			len += (size_t)snprintf(text + len, cap - len, "%s = %s\n", k, val);
		} else if (json_is_array(v) && in_list(k, file_keys, 3)) {
			json_array_foreach(v, i, item)
			{
				if (value_text(item, val, sizeof(val)) < 0) {
					snprintf(err, elen, "%s: a list of file names", k);
					goto bad;
				}
				len += (size_t)snprintf(text + len, cap - len, "%s = %s\n", k, val);
			}
		} else if (value_text(v, val, sizeof(val)) == 0) {
			len += (size_t)snprintf(text + len, cap - len, "%s = %s\n", k, val);
		} else {
			snprintf(err, elen,
				 "%s: a string, number or boolean without control characters", k);
			goto bad;
		}
		if (len >= cap - 1200) {
			snprintf(err, elen, "too many settings");
			goto bad;
		}
	}
	return text;
bad:
	free(text);
	return NULL;
}

/* Writes text (NULL: removes the file) the way a crash cannot leave half of. */
static int file_put(const char *path, const char *text)
{
	char tmp[600];
	int fd;

	if (!text)
		return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);

	if (write(fd, text, n) != (ssize_t)n || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return rename(tmp, path);
}

static char *file_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = n >= 0 && n < (1 << 20) ? calloc(1, (size_t)n + 1) : NULL;
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Puts new settings in force: writes the tenant's file, reloads, and puts the old file back
 * when the set does not load. 0, or an HTTP status with out filled. */
static unsigned apply(const char *id, json_t *settings, struct cp_api_resp *out)
{
	char path[600], err[1024];
	char *old, *text = NULL;

	tenant_path(path, sizeof(path), id);
	if (settings && !(text = file_text(settings, err, sizeof(err)))) {
		respond_error(out, 400, "%s", err);
		return 400;
	}
	old = file_slurp(path);
	if (file_put(path, text) < 0) {
		respond_error(out, 500, "cannot write the tenant file: %s", strerror(errno));
		free(text);
		free(old);
		return 500;
	}
	free(text);
	if (a.conf.reload(err, sizeof(err)) < 0) {
		char err2[256];

		file_put(path, old);
		if (a.conf.reload(err2, sizeof(err2)) < 0)
			FH_ERR("tenants: the previous set does not load either: %s", err2);
		free(old);
		respond_error(out, 400, "%s", err);
		return 400;
	}
	free(old);
	return 0;
}

static bool tenant_requires_pw(const char *id)
{
	json_t *t = cp_room_api_tenant(id);
	bool req = json_is_true(json_object_get(t, "password_required"));

	json_decref(t);
	return req;
}

static bool tenant_in_main(json_t *t)
{
	const char *src = json_string_value(json_object_get(t, "source"));
	char dir[520];

	snprintf(dir, sizeof(dir), "%s/", a.conf.tenants_dir);
	return !a.conf.tenants_dir[0] || !src || strncmp(src, dir, strlen(dir)) != 0;
}

/* PUT (replace) or PATCH (merge into the file's settings) a tenant. */
static void tenant_change(const struct cp_api_token *tok, const char *id, json_t *body, bool merge,
			  struct cp_api_resp *out)
{
	json_t *cur = cp_room_api_tenant(id), *settings;
	char path[600];
	const char *k;
	json_t *v;

	if (!cur) {
		respond_error(out, 404, "no such tenant");
		return;
	}
	if (tenant_in_main(cur)) {
		json_decref(cur);
		respond_error(out, 409, "this tenant is defined in the main configuration");
		return;
	}
	json_decref(cur);
	tenant_path(path, sizeof(path), id);
	settings = merge ? file_read(path) : json_object();
	if (!settings)
		settings = json_object();
	json_object_foreach(body, k, v)
	{
		if (!global(tok) &&
		    in_list(k, global_keys, sizeof(global_keys) / sizeof(*global_keys))) {
			json_decref(settings);
			respond_error(out, 403, "%s: only a node admin changes it", k);
			return;
		}
		json_object_set(settings, k, v);
	}
	if (!global(tok)) /* a tenant admin's PUT keeps what only node admins set */ {
		json_t *file = file_read(path);

		for (size_t i = 0; file && i < sizeof(global_keys) / sizeof(*global_keys); i++)
			if (json_object_get(file, global_keys[i]))
				json_object_set(settings, global_keys[i],
						json_object_get(file, global_keys[i]));
		json_decref(file);
	}
	if (apply(id, settings, out) == 0)
		respond_json(out, 200, cp_room_api_tenant(id));
	json_decref(settings);
}

static void tenant_create(json_t *body, struct cp_api_resp *out)
{
	const char *id = json_string_value(json_object_get(body, "id"));
	char path[600];
	struct stat st;
	json_t *t;

	if (!a.conf.tenants_dir[0]) {
		respond_error(out, 409, "no [controlplane] tenants_dir to write tenants to");
		return;
	}
	if (!id || !*id || strlen(id) > 32 ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(id)) {
		respond_error(out, 400, "id: 1-32 of a-z, 0-9 and -");
		return;
	}
	tenant_path(path, sizeof(path), id);
	if ((t = cp_room_api_tenant(id)) || stat(path, &st) == 0) {
		json_decref(t);
		respond_error(out, 409, "tenant %s exists", id);
		return;
	}
	if (apply(id, body, out) == 0)
		respond_json(out, 201, cp_room_api_tenant(id));
}

/* ---- /metrics ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 16384) + (size_t)n;
		char *p = realloc(b->p, cap);

		if (!p)
			return;
		b->p = p;
		b->cap = cap;
	}
}

/* A label value from the region (at most n bytes, perhaps without a NUL), with '\\', '"' and
 * newlines escaped as the text format wants them. */
static const char *label_value(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && s[i] && o + 3 < cap; i++) {
		char c = s[i];

		if (c == '\\' || c == '"' || c == '\n') {
			out[o++] = '\\';
			c = c == '\n' ? 'n' : c;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

static void metric_head(struct buf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP funkhaus_%s %s\n# TYPE funkhaus_%s %s\n", name, help, name, type);
}

/* Fair shares (cp_limits): the caps in force, what is held now, and refusals by reason. */
static void limits_metrics(struct buf *b)
{
	metric_head(b, "cp_connections", "gauge", "TCP connections funkhaus-cp holds now");
	put(b, "funkhaus_cp_connections %u\n", cp_limits_conns());
	metric_head(b, "cp_sources", "gauge",
		    "sources (IPv4 addresses, IPv6 /64s) with a connection, participant or "
		    "counting window now");
	put(b, "funkhaus_cp_sources %u\n", cp_limits_sources());
	metric_head(b, "cp_limit", "gauge", "the caps and bounds in force ([limits])");
	const char *key;
	unsigned v;

	for (unsigned k = 0; (key = cp_limits_key(k, &v)); k++)
		put(b, "funkhaus_cp_limit{cap=\"%s\"} %u\n", key, v);
	metric_head(b, "cp_refused_total", "counter",
		    "refusals by fair shares and bounded waits, by reason "
		    "(funkhaus_cp_refusal_reason_info)");
	for (unsigned r = 0; r < CP_REFUSE_MAX; r++)
		put(b, "funkhaus_cp_refused_total{reason=\"%s\"} %llu\n", cp_refusal_names[r],
		    (unsigned long long)cp_limits_refused((enum cp_refusal)r));
	metric_head(b, "cp_refusal_reason_info", "gauge", "what each refusal reason counts");
	for (unsigned r = 0; r < CP_REFUSE_MAX; r++)
		put(b, "funkhaus_cp_refusal_reason_info{reason=\"%s\",help=\"%s\"} 1\n",
		    cp_refusal_names[r], cp_refusal_help[r]);
	metric_head(b, "cp_password_jobs", "gauge", "password hashing jobs queued or running");
	put(b, "funkhaus_cp_password_jobs %u\n", cp_pwhash_pending());
	metric_head(b, "cp_command_backlog", "gauge",
		    "commands waiting, in order, for room in a worker's command ring");
	for (unsigned w = 0; w < (cp_dp_attached() ? cp_dp_workers() : 0); w++)
		put(b, "funkhaus_cp_command_backlog{worker=\"%u\"} %u\n", w, cp_dp_backlog(w));
	metric_head(b, "cp_commands_refused_total", "counter",
		    "commands refused because the backlog was full (each logged as an error)");
	put(b, "funkhaus_cp_commands_refused_total %llu\n", (unsigned long long)cp_dp_cmds_lost());
}

static void cluster_metrics(struct buf *b)
{
	struct cp_cluster_metrics c;

	if (!cp_cluster_enabled())
		return;
	cp_cluster_metrics(&c);
	metric_head(b, "cluster_redis_up", "gauge",
		    "whether this node reaches the cluster's Redis");
	put(b, "funkhaus_cluster_redis_up %d\n", c.redis_up ? 1 : 0);
	metric_head(b, "cluster_nodes", "gauge", "live nodes of the cluster, as last read");
	put(b, "funkhaus_cluster_nodes %u\n", c.nodes);
	metric_head(b, "cluster_rooms_claimed", "gauge", "room claims this node holds");
	put(b, "funkhaus_cluster_rooms_claimed %u\n", c.claims);
	metric_head(b, "cluster_redirects_total", "counter",
		    "joins sent to the node of their room");
	put(b, "funkhaus_cluster_redirects_total %llu\n", (unsigned long long)c.redirects);
	metric_head(b, "cluster_locates_total", "counter", "rooms looked up or placed in Redis");
	put(b, "funkhaus_cluster_locates_total %llu\n", (unsigned long long)c.locates);
	metric_head(b, "cluster_refused_down_total", "counter",
		    "new rooms refused because Redis could not be reached");
	put(b, "funkhaus_cluster_refused_down_total %llu\n", (unsigned long long)c.refused_down);
	metric_head(b, "cluster_redis_errors_total", "counter", "Redis commands that failed");
	put(b, "funkhaus_cluster_redis_errors_total %llu\n", (unsigned long long)c.errors);
	metric_head(b, "cluster_bad_records_total", "counter",
		    "records in Redis ignored: malformed, too large, of the wrong type or another "
		    "cluster's");
	put(b, "funkhaus_cluster_bad_records_total %llu\n", (unsigned long long)c.bad);
	metric_head(b, "cluster_claims_lost_total", "counter",
		    "rooms running here whose claim another node took");
	put(b, "funkhaus_cluster_claims_lost_total %llu\n", (unsigned long long)c.lost);
	metric_head(b, "cluster_writes_dropped_total", "counter",
		    "record writes dropped because the queue for Redis was full");
	put(b, "funkhaus_cluster_writes_dropped_total %llu\n",
	    (unsigned long long)c.writes_dropped);
}

static char *metrics_text(void)
{
	struct buf b = {0};
	unsigned nw = cp_dp_attached() ? cp_dp_workers() : 0;
	const struct cp_room_metrics *m = cp_room_metrics();

	metric_head(&b, "dataplane_attached", "gauge",
		    "1 when funkhaus-cp is attached to funkhaus-dp");
	put(&b, "funkhaus_dataplane_attached %d\n", cp_dp_attached() ? 1 : 0);
	metric_head(&b, "draining", "gauge", "1 while this node opens no new rooms");
	put(&b, "funkhaus_draining %d\n", cp_room_draining() ? 1 : 0);
	/* Every counter and drop reason of the table (common/fh_counters.h) with the table's
	 * help: a line added there shows up here by itself. */
	for (unsigned c = 0; c < FH_CTR_MAX; c++) {
		char name[96];

		snprintf(name, sizeof(name), "worker_%s_total", fh_ctr_names[c]);
		metric_head(&b, name, "counter", fh_ctr_help[c]);
		for (unsigned w = 0; w < nw; w++)
			put(&b, "funkhaus_%s{worker=\"%u\"} %llu\n", name, w,
			    (unsigned long long)cp_dp_counters(w)->ctr[c]);
	}
	/* Drops are one family with the reason as a label, so that they add up to all that was
	 * dropped; a HELP line belongs to a family, so what each reason means is carried by an
	 * info series (join on reason to show it beside the rates). */
	metric_head(&b, "worker_drops_total", "counter",
		    "datagrams, frames and commands dropped, by reason (see "
		    "funkhaus_drop_reason_info)");
	for (unsigned w = 0; w < nw; w++)
		for (unsigned d = 0; d < FH_DROP_MAX; d++)
			put(&b, "funkhaus_worker_drops_total{worker=\"%u\",reason=\"%s\"} %llu\n",
			    w, fh_drop_names[d], (unsigned long long)cp_dp_counters(w)->drop[d]);
	metric_head(&b, "drop_reason_info", "gauge",
		    "what each reason of funkhaus_worker_drops_total counts, in its help label");
	for (unsigned d = 0; d < FH_DROP_MAX; d++)
		put(&b, "funkhaus_drop_reason_info{reason=\"%s\",help=\"%s\"} 1\n",
		    fh_drop_names[d], fh_drop_help[d]);
	metric_head(&b, "worker_srtp_failures_total", "counter",
		    "SRTP/SRTCP that failed authentication or replay checks, that the engine "
		    "could not process, or could not be encrypted");
	for (unsigned w = 0; w < nw; w++) {
		const struct fh_counters *k = cp_dp_counters(w);

		put(&b, "funkhaus_worker_srtp_failures_total{worker=\"%u\"} %llu\n", w,
		    (unsigned long long)(k->drop[FH_DROP_srtp_auth_fail] +
					 k->drop[FH_DROP_srtp_replay] +
					 k->drop[FH_DROP_srtcp_auth_fail] +
					 k->drop[FH_DROP_srtp_engine_fail] +
					 k->drop[FH_DROP_srtp_protect_fail]));
	}
	metric_head(&b, "worker_busy_ratio", "gauge",
		    "share of the worker core's cycles spent on packets since it started");
	for (unsigned w = 0; w < nw; w++) {
		const struct fh_counters *k = cp_dp_counters(w);

		put(&b, "funkhaus_worker_busy_ratio{worker=\"%u\"} %.4f\n", w,
		    k->total_cycles ? (double)k->busy_cycles / (double)k->total_cycles : 0.0);
	}
	metric_head(&b, "worker_participants", "gauge", "participants the worker serves");
	for (unsigned w = 0; w < nw; w++)
		put(&b, "funkhaus_worker_participants{worker=\"%u\"} %u\n", w,
		    cp_dp_counters(w)->participants);
	metric_head(&b, "worker_bound", "gauge",
		    "participants whose media address has passed an ICE check");
	for (unsigned w = 0; w < nw; w++)
		put(&b, "funkhaus_worker_bound{worker=\"%u\"} %u\n", w, cp_dp_counters(w)->bound);
	metric_head(&b, "worker_cycles_total", "counter", "TSC cycles since the worker started");
	for (unsigned w = 0; w < nw; w++)
		put(&b, "funkhaus_worker_cycles_total{worker=\"%u\"} %llu\n", w,
		    (unsigned long long)cp_dp_counters(w)->total_cycles);
	metric_head(&b, "worker_busy_cycles_total", "counter",
		    "TSC cycles of the worker's polls that received, sent, ran its timers or "
		    "applied a command (rate over the rate of "
		    "funkhaus_worker_cycles_total: the busy share now)");
	for (unsigned w = 0; w < nw; w++)
		put(&b, "funkhaus_worker_busy_cycles_total{worker=\"%u\"} %llu\n", w,
		    (unsigned long long)cp_dp_counters(w)->busy_cycles);
	metric_head(&b, "worker_stage_cycles_total", "counter",
		    "busy TSC cycles by stage of the worker loop: rx, classify (demultiplexing and "
		    "address lookup), decrypt, media (copies, rewrite, RTCP), encrypt, tx");
	for (unsigned w = 0; w < nw; w++)
		for (unsigned st = 0; st < FH_STAGE_MAX; st++)
			put(&b,
			    "funkhaus_worker_stage_cycles_total{worker=\"%u\",stage=\"%s\"} %llu\n",
			    w, fh_stage_names[st],
			    (unsigned long long)cp_dp_counters(w)->stage_cycles[st]);
	metric_head(&b, "worker_receiver_estimate_bps", "histogram",
		    "receivers' bandwidth estimates from their transport-wide feedback, sampled "
		    "twice a second per receiver");
	for (unsigned w = 0; w < nw; w++) {
		const struct fh_counters *k = cp_dp_counters(w);
		unsigned long long cum = 0;

		for (unsigned i = 0; i < FH_EST_BUCKETS; i++) {
			char le[16];

			cum += k->est_hist[i];
			if (i < FH_EST_BUCKETS - 1)
				snprintf(le, sizeof(le), "%u", fh_est_bucket_bps[i]);
			else
				snprintf(le, sizeof(le), "+Inf");
			put(&b,
			    "funkhaus_worker_receiver_estimate_bps_bucket{worker=\"%u\",le=\"%s\"} "
			    "%llu\n",
			    w, le, cum);
		}
		put(&b, "funkhaus_worker_receiver_estimate_bps_sum{worker=\"%u\"} %llu\n", w,
		    (unsigned long long)k->est_sum_kbps * 1000ull);
		put(&b, "funkhaus_worker_receiver_estimate_bps_count{worker=\"%u\"} %llu\n", w,
		    cum);
	}
	/* The NIC ports (DPDK backend; none with sockets), from their own table. */
	for (unsigned c = 0; c < FH_PORT_CTR_MAX; c++) {
		const struct fh_port_counters *pc;
		char name[96];

		snprintf(name, sizeof(name), "port_%s_total", fh_port_ctr_names[c]);
		metric_head(&b, name, "counter", fh_port_ctr_help[c]);
		for (unsigned i = 0; (pc = cp_dp_port_counters(i)) != NULL; i++) {
			char dev[2 * sizeof(pc->name) + 1];

			put(&b, "funkhaus_%s{port=\"%s\"} %llu\n", name,
			    label_value(dev, sizeof(dev), pc->name, sizeof(pc->name)),
			    (unsigned long long)pc->ctr[c]);
		}
	}

	json_t *ts = cp_room_api_tenants();
	size_t i;
	json_t *t;

	metric_head(&b, "tenant_rooms", "gauge", "active rooms per tenant");
	json_array_foreach(ts, i, t)
		put(&b, "funkhaus_tenant_rooms{tenant=\"%s\"} %lld\n",
		    json_string_value(json_object_get(t, "id")),
		    (long long)json_integer_value(json_object_get(t, "active_rooms")));
	metric_head(&b, "tenant_participants", "gauge", "participants per tenant");
	json_array_foreach(ts, i, t)
		put(&b, "funkhaus_tenant_participants{tenant=\"%s\"} %lld\n",
		    json_string_value(json_object_get(t, "id")),
		    (long long)json_integer_value(json_object_get(t, "participants")));
	json_decref(ts);

	metric_head(&b, "dtls_handshakes_total", "counter", "DTLS handshakes by result");
	put(&b, "funkhaus_dtls_handshakes_total{result=\"ok\"} %llu\n",
	    (unsigned long long)m->dtls_ok);
	put(&b, "funkhaus_dtls_handshakes_total{result=\"failed\"} %llu\n",
	    (unsigned long long)m->dtls_failed);
	metric_head(&b, "dtls_handshake_seconds", "histogram",
		    "time from the first offer to a finished DTLS handshake");
	uint64_t cum = 0;

	for (unsigned k = 0; k < 8; k++) {
		cum += m->dtls_ms_buckets[k];
		if (k < 7)
			put(&b, "funkhaus_dtls_handshake_seconds_bucket{le=\"%g\"} %llu\n",
			    cp_room_dtls_bucket_ms[k] / 1000.0, (unsigned long long)cum);
		else
			put(&b, "funkhaus_dtls_handshake_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	put(&b, "funkhaus_dtls_handshake_seconds_sum %.3f\n", m->dtls_ms_sum / 1000.0);
	put(&b, "funkhaus_dtls_handshake_seconds_count %llu\n", (unsigned long long)cum);
	metric_head(&b, "signalling_connections", "gauge", "open signalling WebSockets");
	put(&b, "funkhaus_signalling_connections %llu\n", (unsigned long long)a.connections);
	metric_head(&b, "signalling_connections_total", "counter", "signalling WebSockets opened");
	put(&b, "funkhaus_signalling_connections_total %llu\n",
	    (unsigned long long)a.connections_total);
	metric_head(&b, "joins_total", "counter", "joins accepted (into a room or its lobby)");
	put(&b, "funkhaus_joins_total %llu\n", (unsigned long long)m->joins);
	metric_head(&b, "join_failures_total", "counter",
		    "joins refused, by error code (docs/PROTOCOL.md)");
	for (unsigned k = 0; cp_room_join_failure_code(k); k++)
		put(&b, "funkhaus_join_failures_total{code=\"%d\"} %llu\n",
		    cp_room_join_failure_code(k), (unsigned long long)m->join_failures[k]);
	limits_metrics(&b);
	cluster_metrics(&b);
	return b.p ? b.p : strdup("");
}

/* ---- /node ---- */

static json_t *node_json(void)
{
	json_t *ws = json_array();
	unsigned nw = cp_dp_attached() ? cp_dp_workers() : 0;

	for (unsigned w = 0; w < nw; w++) {
		const struct fh_counters *k = cp_dp_counters(w);
		uint64_t drops = 0;

		for (unsigned d = 0; d < FH_DROP_MAX; d++)
			drops += k->drop[d];
		json_array_append_new(
			ws,
			json_pack("{s:i, s:i, s:i, s:i, s:f, s:I, s:I, s:I, s:I, s:I, s:s}",
				  "worker", w, "port", cp_dp_worker_port(w), "lcore",
				  cp_dp_worker_lcore(w), "participants", k->participants, "busy",
				  k->total_cycles ? (double)k->busy_cycles / (double)k->total_cycles
						  : 0.0,
				  "rx_packets", (json_int_t)k->ctr[FH_CTR_rx_packets], "tx_packets",
				  (json_int_t)k->ctr[FH_CTR_tx_packets], "rx_bytes",
				  (json_int_t)k->ctr[FH_CTR_rx_bytes], "tx_bytes",
				  (json_int_t)k->ctr[FH_CTR_tx_bytes], "drops", (json_int_t)drops,
				  "srtp_engine", k->srtp_engine));
	}
	int ready;
	unsigned rooms, parts;

	cp_room_stats(&ready, &rooms, &parts);
	return json_pack("{s:s, s:b, s:b, s:i, s:i, s:o}", "instance", a.conf.instance, "dataplane",
			 ready, "draining", cp_room_draining(), "rooms", rooms, "participants",
			 parts, "workers", ws);
}

/* ---- routing ---- */

#define MAX_SEG 8
#define SEG_MAX (CP_ROOM_IN_MAX + 1) /* a room's name as it may come, decoded */

/* Splits "/api/v1/a/b/c" into segments after /api/v1; -1 when a segment is empty or odd. */
static int split(const char *uri, char seg[MAX_SEG][SEG_MAX])
{
	const char *p = uri + 8;
	int n = 0;

	while (*p) {
		size_t l = strcspn(p, "/");

		if (n == MAX_SEG || l == 0 || l >= SEG_MAX)
			return -1;
		memcpy(seg[n], p, l);
		seg[n][l] = '\0';
		n++;
		p += l;
		if (*p == '/')
			p++;
		if (*p == '\0' && p[-1] == '/')
			return -1;
	}
	return n;
}

static const char *const method_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

static json_t *parse_body(const char *body, size_t len, struct cp_api_resp *out)
{
	json_error_t je;
	json_t *o = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;

	if (!o || !json_is_object(o)) {
		json_decref(o);
		respond_error(out, 400, "the body must be a JSON object");
		return NULL;
	}
	return o;
}

static bool valid_id(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

/* The API proper, after authentication; route is filled for the audit log. */
static void route(const struct cp_api_token *tok, enum cp_http_method m, const char *uri,
		  const char *body, size_t len, struct cp_api_resp *out, char *rt, size_t rtl)
{
	char seg[MAX_SEG][SEG_MAX];
	int n = split(uri, seg);
	json_t *o = NULL;

	snprintf(rt, rtl, "%s /api/v1/?", method_names[m]);
	if (n < 1) {
		respond_error(out, 404, "no such resource");
		return;
	}
	/* node */
	if (!strcmp(seg[0], "node")) {
		snprintf(rt, rtl, "%s /api/v1/node%s%s", method_names[m], n > 1 ? "/" : "",
			 n > 1 ? seg[1] : "");
		if (!global(tok)) {
			respond_error(out, 403, "only a node admin sees or drains the node");
		} else if (n == 1 && m == CP_HTTP_GET) {
			respond_json(out, 200, node_json());
		} else if (n == 2 && (!strcmp(seg[1], "drain") || !strcmp(seg[1], "undrain"))) {
			if (m != CP_HTTP_POST) {
				respond_error(out, 405, "POST only");
				return;
			}
			cp_room_set_draining(!strcmp(seg[1], "drain"), a.conf.drain_grace_s);
			respond_json(out, 200, node_json());
		} else {
			respond_error(out, n <= 2 ? 405 : 404, "no such resource or method");
		}
		return;
	}
	if (!strcmp(seg[0], "cluster")) {
		snprintf(rt, rtl, "%s /api/v1/cluster%s%s", method_names[m], n > 1 ? "/" : "",
			 n > 1 ? seg[1] : "");
		if (!global(tok))
			respond_error(out, 403, "only a node admin sees the cluster");
		else if (m != CP_HTTP_GET)
			respond_error(out, 405, "GET only");
		else if (n == 1)
			respond_json(out, 200, cp_cluster_api());
		else if (n == 2 && !strcmp(seg[1], "rooms"))
			respond_json(out, 200, cp_cluster_api_rooms());
		else
			respond_error(out, 404, "no such resource");
		return;
	}
	if (strcmp(seg[0], "tenants")) {
		respond_error(out, 404, "no such resource");
		return;
	}
	if (n == 1) {
		snprintf(rt, rtl, "%s /api/v1/tenants", method_names[m]);
		if (m == CP_HTTP_GET) {
			json_t *all = cp_room_api_tenants(), *mine = json_array(), *t;
			size_t i;

			json_array_foreach(all, i, t)
			{
				if (may(tok, json_string_value(json_object_get(t, "id"))))
					json_array_append(mine, t);
			}
			json_decref(all);
			respond_json(out, 200, mine);
		} else if (m == CP_HTTP_POST) {
			if (!global(tok))
				respond_error(out, 403, "only a node admin creates tenants");
			else if ((o = parse_body(body, len, out)))
				tenant_create(o, out);
		} else {
			respond_error(out, 405, "GET or POST");
		}
		json_decref(o);
		return;
	}
	const char *tid = seg[1];

	snprintf(rt, rtl, "%s /api/v1/tenants/%s%s%s", method_names[m], tid, n > 2 ? "/" : "",
		 n > 2 ? seg[2] : "");
	if (!may(tok, tid)) {
		respond_error(out, 403, "this token is for another tenant");
		return;
	}
	json_t *t = cp_room_api_tenant(tid);

	if (!t && !(n == 2 && m == CP_HTTP_DELETE)) {
		respond_error(out, 404, "no such tenant");
		return;
	}
	json_decref(t);
	if (n == 2) {
		if (m == CP_HTTP_GET) {
			respond_json(out, 200, cp_room_api_tenant(tid));
		} else if (m == CP_HTTP_PUT || m == CP_HTTP_PATCH) {
			if ((o = parse_body(body, len, out)))
				tenant_change(tok, tid, o, m == CP_HTTP_PATCH, out);
		} else if (m == CP_HTTP_DELETE) {
			if (!global(tok)) {
				respond_error(out, 403, "only a node admin deletes tenants");
			} else if (!t) {
				respond_error(out, 404, "no such tenant");
			} else {
				json_t *cur = cp_room_api_tenant(tid);
				bool main_conf = tenant_in_main(cur);

				json_decref(cur);
				if (main_conf)
					respond_error(out, 409,
						      "this tenant is defined in the main "
						      "configuration");
				else if (apply(tid, NULL, out) == 0)
					respond_ok(out);
			}
		} else {
			respond_error(out, 405, "GET, PUT, PATCH or DELETE");
		}
		json_decref(o);
		return;
	}
	if (!strcmp(seg[2], "public-access") && n == 3) {
		if (m != CP_HTTP_PUT) {
			respond_error(out, 405, "PUT only");
		} else if ((o = parse_body(body, len, out))) {
			json_t *on = json_object_get(o, "on");

			if (!json_is_boolean(on)) {
				respond_error(out, 400, "on: true or false");
			} else if (cp_cluster_enabled()) {
				/* the cluster's switch holds on every node, whatever a node's own
				 * file says */
				cp_cluster_set_access(tid, json_is_true(on));
				cp_room_api_access(tid, json_is_true(on));
				respond_json(out, 200, cp_room_api_tenant(tid));
			} else {
				json_t *ch = json_pack("{s:O}", "public_access", on);

				tenant_change(tok, tid, ch, true, out);
				json_decref(ch);
			}
		}
		json_decref(o);
		return;
	}
	if (strcmp(seg[2], "rooms")) {
		respond_error(out, 404, "no such resource");
		return;
	}
	if (n == 3) {
		if (m == CP_HTTP_GET)
			respond_json(out, 200, cp_room_api_rooms(tid));
		else
			respond_error(out, 405, "GET only");
		return;
	}
	const char *room = seg[3];
	const char *sub = n > 4 ? seg[4] : "";

	/* the room's name stays out of the audit log */
	snprintf(rt, rtl, "%s /api/v1/tenants/%s/rooms/{room}%s%s%s", method_names[m], tid,
		 n > 4 ? "/" : "", sub, n > 5 ? "/{id}" : "");
	if (!cp_sig_valid_room(room) || !(t = cp_room_api_room(tid, room))) {
		int rc = n == 4 && m == CP_HTTP_DELETE && cp_sig_valid_room(room)
				 ? cp_room_api_close_elsewhere(tid, room)
				 : 0;

		/* in a cluster, a room held by another node is closed there */
		if (rc == 1)
			respond_json(out, 202,
				     json_pack("{s:b,s:s}", "ok", 1, "closed",
					       "by the node holding it"));
		else if (rc < 0)
			respond_error(out, 503, "the cluster's store cannot be reached");
		else
			respond_error(out, 404, "no such room");
		return;
	}
	json_decref(t);
	if (n == 4) {
		if (m == CP_HTTP_GET)
			respond_json(out, 200, cp_room_api_room(tid, room));
		else if (m == CP_HTTP_DELETE && cp_room_api_close(tid, room) == 0)
			respond_ok(out);
		else
			respond_error(out, 405, "GET or DELETE");
		return;
	}
	if (n == 5 && (!strcmp(sub, "password") || !strcmp(sub, "lobby"))) {
		if (m != CP_HTTP_PUT) {
			respond_error(out, 405, "PUT only");
			return;
		}
		if (!(o = parse_body(body, len, out)))
			return;
		json_t *pw = json_object_get(o, "password"), *on = json_object_get(o, "on");
		int rc;

		if (!strcmp(sub, "password")) {
			if (!json_is_string(pw) || json_string_length(pw) > CP_PASSWORD_MAX ||
			    strlen(json_string_value(pw)) != json_string_length(pw))
				respond_error(out, 400,
					      "password: a string of up to %d bytes (\"\" "
					      "clears it)",
					      CP_PASSWORD_MAX);
			else if (!json_string_length(pw) && tenant_requires_pw(tid))
				respond_error(out, 409,
					      "every room of this tenant needs a password");
			else if ((rc = cp_room_api_password(tid, room, json_string_value(pw))) == 0)
				respond_ok(out);
			else if (rc == -2)
				respond_error(out, 503, "password hashing is busy, try again");
			else
				respond_error(out, 404, "no such room");
		} else {
			if (!json_is_boolean(on))
				respond_error(out, 400, "on: true or false");
			else if (cp_room_api_lobby(tid, room, json_is_true(on)) == 0)
				respond_ok(out);
			else
				respond_error(out, 404, "no such room");
		}
		json_decref(o);
		return;
	}
	if (!strcmp(sub, "participants") && (n == 6 || n == 7)) {
		const char *pid = seg[5];
		int rc;

		if (!valid_id(pid)) {
			respond_error(out, 404, "no such participant");
			return;
		}
		if (n == 6 && m == CP_HTTP_DELETE)
			rc = cp_room_api_remove(tid, room, pid);
		else if (n == 7 && !strcmp(seg[6], "mute") && m == CP_HTTP_POST)
			rc = cp_room_api_mute(tid, room, pid);
		else {
			respond_error(out, n == 7 && strcmp(seg[6], "mute") ? 404 : 405,
				      "DELETE a participant, or POST its /mute");
			return;
		}
		if (n == 7)
			snprintf(rt + strlen(rt), rtl - strlen(rt), "/mute");
		if (rc == 0)
			respond_ok(out);
		else
			respond_error(out, 404, "no such participant");
		return;
	}
	respond_error(out, 404, "no such resource");
}

void cp_api_handle(enum cp_http_method m, const char *uri, const char *auth, const char *body,
		   size_t len, bool too_big, struct cp_api_resp *out)
{
	const struct cp_api_token *tok;
	char rt[256];

	memset(out, 0, sizeof(*out));
	if (!strcmp(uri, "/readyz")) {
		/* a live dataplane whose heartbeat moves, not merely a mapped region */
		bool ready = cp_dp_ready() && !cp_room_draining();

		respond_json(out, ready ? 200 : 503,
			     json_pack("{s:b, s:b, s:I, s:b}", "ready", ready, "dataplane",
				       cp_dp_ready(), "dataplane_heartbeat_ms",
				       (json_int_t)cp_dp_heartbeat_age_ms(), "draining",
				       cp_room_draining()));
		return;
	}
	tok = authenticate(auth);
	if (!strcmp(uri, "/metrics")) {
		if (m != CP_HTTP_GET) {
			respond_error(out, 405, "GET only");
		} else if (a.conf.metrics_public || (tok && global(tok))) {
			out->status = 200;
			out->ctype = "text/plain; version=0.0.4; charset=utf-8";
			out->body = metrics_text();
		} else {
			respond_error(out, tok ? 403 : 401, "a node admin's token is needed");
		}
		return;
	}
	if (!tok) {
		/* no token, a wrong one, or none configured at all: nothing */
		respond_error(out, 401, "a valid bearer token is needed");
		return;
	}
	if (too_big) {
		respond_error(out, 413, "the body is larger than %d bytes", CP_API_BODY_MAX);
	} else {
		route(tok, m, uri, body, len, out, rt, sizeof(rt));
		audit(tok, rt, out->status);
		return;
	}
	snprintf(rt, sizeof(rt), "%s (body too large)", method_names[m]);
	audit(tok, rt, out->status);
}
