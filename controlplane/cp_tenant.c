/*
 * cp_tenant: tenants from the configuration and a directory of tenant files. See cp_tenant.h.
 */
#include "cp_tenant.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "fh_conf.h"

struct load_ctx {
	struct cp_tenant *t;
	bool any;    /* a [tenant] key was seen */
	bool id_set; /* id given in the file */
};

static bool name_ok(const char *s, size_t max, bool dots)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || s[0] == '-' || s[0] == '.')
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		      (dots && *p == '.')))
			return false;
	return true;
}

static int set(char *dst, size_t cap, const char *val, char *err, size_t elen)
{
	if (strlen(val) >= cap) {
		snprintf(err, elen, "longer than %zu characters", cap - 1);
		return -1;
	}
	snprintf(dst, cap, "%s", val);
	return 0;
}

static int read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (!f)
		return -1;
	*len = fread(buf, 1, cap, f);
	int more = fgetc(f);

	fclose(f);
	return more == EOF ? 0 : -1;
}

static int key_file(struct cp_tenant *t, const char *key, const char *path, char *err, size_t elen)
{
	char buf[8192];
	size_t len = 0;
	int rc;

	if (read_file(path, buf, sizeof(buf), &len) < 0) {
		snprintf(err, elen, "cannot read %s (or it is over 8 KiB)", path);
		return -1;
	}
	if (!strcmp(key, "token_hs256_secret_file")) {
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			len--;
		rc = cp_jwt_add_secret(&t->keys, (const uint8_t *)buf, len, err, elen);
	} else {
		rc = cp_jwt_add_pem(&t->keys,
				    !strcmp(key, "token_rs256_key") ? CP_JWT_RS256 : CP_JWT_ES256,
				    buf, len, err, elen);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int hosts(struct cp_tenant *t, const char *val, char *err, size_t elen)
{
	char list[1024], *save = NULL;

	if (set(list, sizeof(list), val, err, elen) < 0)
		return -1;
	t->n_hosts = 0;
	for (char *h = strtok_r(list, ", ", &save); h; h = strtok_r(NULL, ", ", &save)) {
		for (char *p = h; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (t->n_hosts == CP_TENANT_HOSTS || !name_ok(h, 127, true)) {
			snprintf(err, elen, "up to %d host names (letters, digits, - and .)",
				 CP_TENANT_HOSTS);
			return -1;
		}
		snprintf(t->hosts[t->n_hosts++], sizeof(t->hosts[0]), "%s", h);
	}
	return 0;
}

static int days(const char *val, unsigned *out, char *err, size_t elen)
{
	unsigned long v;

	if (fh_conf_uint(val, 1, 3650, &v) < 0) {
		snprintf(err, elen, "1 to 3650 days");
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int tenant_key(struct cp_tenant *t, struct load_ctx *lc, const char *key, const char *val,
		      char *err, size_t elen)
{
	unsigned long v;

	if (!strcmp(key, "id") || !strcmp(key, "name")) {
		if (!name_ok(val, 32, false)) {
			snprintf(err, elen, "1-32 of a-z, 0-9 and -");
			return -1;
		}
		lc->id_set = true;
		return set(t->id, sizeof(t->id), val, err, elen);
	}
	if (!strcmp(key, "display_name"))
		return set(t->display_name, sizeof(t->display_name), val, err, elen);
	if (!strcmp(key, "hosts"))
		return hosts(t, val, err, elen);
	if (!strcmp(key, "path_prefix")) {
		if (!name_ok(val, 32, false)) {
			snprintf(err, elen, "1-32 of a-z, 0-9 and -");
			return -1;
		}
		return set(t->path_prefix, sizeof(t->path_prefix), val, err, elen);
	}
	if (!strcmp(key, "imprint") || !strcmp(key, "privacy")) {
		if (strncmp(val, "https://", 8) && val[0] != '/') {
			snprintf(err, elen, "an https:// URL or a path on this server");
			return -1;
		}
		return !strcmp(key, "imprint")
			       ? set(t->imprint, sizeof(t->imprint), val, err, elen)
			       : set(t->privacy, sizeof(t->privacy), val, err, elen);
	}
	if (!strcmp(key, "create_rooms")) {
		if (!strcmp(val, "anyone"))
			t->create = CP_CREATE_ANYONE;
		else if (!strcmp(val, "authenticated"))
			t->create = CP_CREATE_AUTHENTICATED;
		else {
			snprintf(err, elen, "anyone or authenticated");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "token_hs256_secret_file") || !strcmp(key, "token_rs256_key") ||
	    !strcmp(key, "token_es256_key"))
		return key_file(t, key, val, err, elen);
	if (!strcmp(key, "token_issuer"))
		return set(t->keys.issuer, sizeof(t->keys.issuer), val, err, elen);
	if (!strcmp(key, "token_audience"))
		return set(t->keys.audience, sizeof(t->keys.audience), val, err, elen);
	if (!strcmp(key, "lobby"))
		return fh_conf_bool(val, &t->lobby);
	if (!strcmp(key, "password_required"))
		return fh_conf_bool(val, &t->password_required);
	if (!strcmp(key, "chat"))
		return fh_conf_bool(val, &t->chat);
	if (!strcmp(key, "public_access"))
		return fh_conf_bool(val, &t->public_access);
	if (!strcmp(key, "pool") || !strcmp(key, "region")) {
		if (!name_ok(val, 32, false)) {
			snprintf(err, elen, "1-32 of a-z, 0-9 and -");
			return -1;
		}
		return set(!strcmp(key, "pool") ? t->pool : t->region, sizeof(t->pool), val, err,
			   elen);
	}
	if (!strcmp(key, "screen_share")) {
		if (!strcmp(val, "everyone") || !strcmp(val, "moderators")) {
			t->screen_mods_only = !strcmp(val, "moderators");
			return 0;
		}
		snprintf(err, elen, "everyone or moderators");
		return -1;
	}
	if (!strcmp(key, "max_participants")) {
		if (fh_conf_uint(val, 2, CP_TENANT_PARTS_MAX, &v) < 0) {
			snprintf(err, elen, "2 to %d", CP_TENANT_PARTS_MAX);
			return -1;
		}
		t->max_participants = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "max_rooms")) {
		if (fh_conf_uint(val, 1, 100000, &v) < 0) {
			snprintf(err, elen, "1 to 100000");
			return -1;
		}
		t->max_rooms = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "ip_logging")) {
		if (!strcmp(val, "full"))
			t->ip_logging = CP_IPLOG_FULL;
		else if (!strcmp(val, "truncated"))
			t->ip_logging = CP_IPLOG_TRUNCATED;
		else if (!strcmp(val, "none"))
			t->ip_logging = CP_IPLOG_NONE;
		else {
			snprintf(err, elen, "full, truncated or none");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "log_retention_days"))
		return days(val, &t->log_retention_days, err, elen);
	if (!strcmp(key, "room_inactivity_days"))
		return days(val, &t->room_inactivity_days, err, elen);
	return -1;
}

static int main_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t elen)
{
	struct load_ctx *lc = ctx;

	if (strcmp(sec, "tenant") != 0)
		return 0; /* the daemons' own sections */
	lc->any = true;
	return tenant_key(lc->t, lc, key, val, err, elen);
}

static int file_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t elen)
{
	struct load_ctx *lc = ctx;

	if (strcmp(sec, "tenant") != 0) {
		snprintf(err, elen, "a tenant file holds one [tenant] section");
		return -1;
	}
	lc->any = true;
	return tenant_key(lc->t, lc, key, val, err, elen);
}

static void defaults(struct cp_tenant *t, const struct cp_tenant_defaults *def)
{
	memset(t, 0, sizeof(*t));
	t->create = CP_CREATE_ANYONE;
	t->max_participants = def->max_participants;
	t->max_rooms = 1000;
	t->chat = def->chat;
	t->ip_logging = CP_IPLOG_NONE;
	t->log_retention_days = 7;
	t->room_inactivity_days = 7;
	t->public_access = true;
}

/* What a tenant must be once all its keys are read. */
static int finish(struct cp_tenant *t, char *err, size_t elen)
{
	if (!t->id[0]) {
		snprintf(err, elen, "%s: the tenant has no id", t->source);
		return -1;
	}
	if (!t->display_name[0])
		snprintf(t->display_name, sizeof(t->display_name), "%s", t->id);
	if (t->create == CP_CREATE_AUTHENTICATED && t->keys.n == 0) {
		snprintf(err, elen,
			 "%s: create_rooms = authenticated needs a token key "
			 "(token_hs256_secret_file, token_rs256_key or token_es256_key)",
			 t->source);
		return -1;
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cp_tenants_load(const char *main_conf, const char *dir, const struct cp_tenant_defaults *def,
		    struct cp_tenants *out, char *err, size_t elen)
{
	struct cp_tenants ts = {calloc(CP_TENANT_MAX, sizeof(struct cp_tenant)), 0};
	char *names[CP_TENANT_MAX + 1];
	unsigned n_names = 0;
	int rc = -1;

	if (!ts.t) {
		snprintf(err, elen, "out of memory");
		return -1;
	}
	if (main_conf) {
		struct load_ctx lc = {.t = &ts.t[0]};

		defaults(lc.t, def);
		snprintf(lc.t->source, sizeof(lc.t->source), "%s", main_conf);
		if (fh_conf_load(main_conf, main_cb, &lc, err, elen) < 0)
			goto out;
		if (lc.any) {
			if (finish(lc.t, err, elen) < 0)
				goto out;
			ts.n = 1;
		} else {
			cp_jwt_keys_free(&lc.t->keys);
		}
	}
	DIR *d = dir && *dir ? opendir(dir) : NULL;

	if (dir && *dir && !d) {
		snprintf(err, elen, "tenants_dir %s: %s", dir, strerror(errno));
		goto out;
	}
	for (struct dirent *e; d && (e = readdir(d));) {
		size_t l = strlen(e->d_name);

		if (l > 5 && !strcmp(e->d_name + l - 5, ".conf") && e->d_name[0] != '.') {
			if (n_names == CP_TENANT_MAX) {
				snprintf(err, elen, "%s: more than %d tenants", dir, CP_TENANT_MAX);
				closedir(d);
				goto out;
			}
			names[n_names++] = strdup(e->d_name);
		}
	}
	if (d)
		closedir(d);
	qsort(names, n_names, sizeof(names[0]), cmp_name);
	for (unsigned i = 0; i < n_names; i++) {
		if (!names[i] || ts.n == CP_TENANT_MAX) {
			snprintf(err, elen, "%s: too many tenants or out of memory", dir);
			goto out;
		}
		struct load_ctx lc = {.t = &ts.t[ts.n]};
		char path[400], base[64];
		size_t bl = strlen(names[i]) - 5;

		defaults(lc.t, def);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(base, sizeof(base), "%.*s", (int)(bl < 63 ? bl : 63), names[i]);
		snprintf(lc.t->source, sizeof(lc.t->source), "%s", path);
		if (fh_conf_load(path, file_cb, &lc, err, elen) < 0) {
			cp_jwt_keys_free(&lc.t->keys);
			goto out;
		}
		if (!lc.id_set)
			snprintf(lc.t->id, sizeof(lc.t->id), "%.32s", base);
		ts.n++; /* owned by ts from here, freed with it */
		if (!name_ok(lc.t->id, 32, false) || strcmp(lc.t->id, base)) {
			snprintf(err, elen, "%s: the file name must be the tenant id + .conf",
				 path);
			goto out;
		}
		if (finish(lc.t, err, elen) < 0)
			goto out;
	}
	/* ids, and host + path prefix pairs, each once */
	for (unsigned i = 0; i < ts.n; i++) {
		for (unsigned j = i + 1; j < ts.n; j++) {
			if (!strcmp(ts.t[i].id, ts.t[j].id)) {
				snprintf(err, elen, "%s and %s: tenant id %s twice", ts.t[i].source,
					 ts.t[j].source, ts.t[i].id);
				goto out;
			}
			if (strcmp(ts.t[i].path_prefix, ts.t[j].path_prefix))
				continue;
			for (unsigned a = 0; a < ts.t[i].n_hosts; a++)
				for (unsigned b = 0; b < ts.t[j].n_hosts; b++)
					if (!strcmp(ts.t[i].hosts[a], ts.t[j].hosts[b])) {
						snprintf(
							err, elen,
							"%s and %s: both answer on %s (give each a "
							"path_prefix)",
							ts.t[i].source, ts.t[j].source,
							ts.t[i].hosts[a]);
						goto out;
					}
		}
	}
	if (ts.n == 0) {
		snprintf(err, elen, "no tenant configured ([tenant] or tenants_dir)");
		goto out;
	}
	cp_tenants_free(out);
	*out = ts;
	ts.t = NULL;
	rc = 0;
out:
	for (unsigned i = 0; i < n_names; i++)
		free(names[i]);
	if (ts.t)
		cp_tenants_free(&ts);
	return rc;
}

void cp_tenants_free(struct cp_tenants *ts)
{
	if (!ts->t)
		return;
	for (unsigned i = 0; i < ts->n; i++)
		cp_jwt_keys_free(&ts->t[i].keys);
	free(ts->t);
	ts->t = NULL;
	ts->n = 0;
}

static bool has_host(const struct cp_tenant *t, const char *host)
{
	for (unsigned i = 0; i < t->n_hosts; i++)
		if (!strcmp(t->hosts[i], host))
			return true;
	return false;
}

const struct cp_tenant *cp_tenant_for(const struct cp_tenants *ts, const char *host,
				      const char *path)
{
	char h[128];
	size_t n = 0;

	/* /t/<id>/...: the tenant by its id on any host (where the cluster sends a join) */
	if (path && !strncmp(path, "/t/", 3)) {
		char id[33];
		size_t l = strcspn(path + 3, "/?");

		if (l == 0 || l >= sizeof(id))
			return NULL;
		snprintf(id, sizeof(id), "%.*s", (int)l, path + 3);
		return cp_tenant_by_id(ts, id);
	}
	for (; host && host[n] && host[n] != ':' && n + 1 < sizeof(h); n++)
		h[n] = (char)tolower((unsigned char)host[n]);
	h[n] = '\0';
	if (host && host[0] == '[') /* [v6]:port */
		snprintf(h, sizeof(h), "%.*s", (int)strcspn(host, "]") + 1, host);
	for (unsigned i = 0; path && i < ts->n; i++) {
		const struct cp_tenant *t = &ts->t[i];
		size_t pl = strlen(t->path_prefix);

		if (pl && path[0] == '/' && !strncmp(path + 1, t->path_prefix, pl) &&
		    (path[pl + 1] == '/' || path[pl + 1] == '\0' || path[pl + 1] == '?') &&
		    (t->n_hosts == 0 || has_host(t, h)))
			return t;
	}
	for (unsigned i = 0; i < ts->n; i++)
		if (!ts->t[i].path_prefix[0] && has_host(&ts->t[i], h))
			return &ts->t[i];
	const struct cp_tenant *any = NULL;

	for (unsigned i = 0; i < ts->n; i++) {
		if (ts->t[i].n_hosts == 0 && !ts->t[i].path_prefix[0]) {
			if (any)
				return NULL; /* two catch-alls: no guessing */
			any = &ts->t[i];
		}
	}
	return any;
}

const struct cp_tenant *cp_tenant_by_id(const struct cp_tenants *ts, const char *id)
{
	for (unsigned i = 0; i < ts->n; i++)
		if (!strcmp(ts->t[i].id, id))
			return &ts->t[i];
	return NULL;
}

void cp_tenant_ip(const struct cp_tenant *t, const char *ip, char *out, size_t n)
{
	if (t->ip_logging == CP_IPLOG_NONE || !ip || !*ip) {
		snprintf(out, n, "-");
		return;
	}
	/* an IPv4 client of a dual-stack listener: the IPv4 address it is */
	if (!strncasecmp(ip, "::ffff:", 7) && strchr(ip, '.'))
		ip += 7;
	if (t->ip_logging == CP_IPLOG_FULL) {
		snprintf(out, n, "%s", ip);
		return;
	}
	uint8_t a[16];
	char txt[INET6_ADDRSTRLEN];
	bool v6 = strchr(ip, ':') != NULL;

	if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, a) != 1) {
		snprintf(out, n, "-");
		return;
	}
	/* IPv4 to its /24, IPv6 to its /48 */
	memset(a + (v6 ? 6 : 3), 0, v6 ? 10 : 1);
	inet_ntop(v6 ? AF_INET6 : AF_INET, a, txt, sizeof(txt));
	snprintf(out, n, "%s/%d", txt, v6 ? 48 : 24);
}

json_t *cp_tenant_json(const struct cp_tenant *t)
{
	static const char *const iplog[] = {"full", "truncated", "none"};
	json_t *hosts = json_array();

	for (unsigned i = 0; i < t->n_hosts; i++)
		json_array_append_new(hosts, json_string(t->hosts[i]));
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:b, s:b, s:i, s:i, "
			 "s:b, s:s, s:i, s:i, s:b, s:s, s:s, s:s, s:s}",
			 "id", t->id, "display_name", t->display_name, "hosts", hosts,
			 "path_prefix", t->path_prefix, "imprint", t->imprint, "privacy",
			 t->privacy, "create_rooms",
			 t->create == CP_CREATE_AUTHENTICATED ? "authenticated" : "anyone",
			 "token_keys", t->keys.n, "token_issuer", t->keys.issuer, "token_audience",
			 t->keys.audience, "lobby", t->lobby, "password_required",
			 t->password_required, "max_participants", t->max_participants, "max_rooms",
			 t->max_rooms, "chat", t->chat, "ip_logging", iplog[t->ip_logging],
			 "log_retention_days", t->log_retention_days, "room_inactivity_days",
			 t->room_inactivity_days, "public_access", t->public_access, "source",
			 t->source, "screen_share", t->screen_mods_only ? "moderators" : "everyone",
			 "pool", t->pool[0] ? t->pool : "default", "region", t->region);
}
