/*
 * funkhausctl: the admin's everyday tasks against the admin REST API (docs/REST.md), with
 * readable tables. The token comes from FUNKHAUS_TOKEN or a file (-t), never from the command
 * line (where other users could read it in the process list). An answer that is not what the
 * API documents (no JSON, the wrong type) is an error message and exit status 1, never a
 * crash; what a server sends is printed without its control characters.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "fh_curlbody.h"

static struct {
	const char *url;
	const char *cacert;
	bool insecure;
	long wait_s; /* drain --wait: seconds to wait for the node to empty, 0: do not wait */
	char token[512];
} o = {.url = "https://localhost:8443"};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: funkhausctl [-u URL] [-t TOKEN_FILE] [--cacert FILE | -k] COMMAND\n"
		"  tenants                   the tenants, their rooms and participants\n"
		"  tenant-on ID, tenant-off ID\n"
		"                            switch a tenant's public access (off closes its "
		"rooms)\n"
		"  rooms TENANT              a tenant's active rooms\n"
		"  room TENANT ROOM          one room: its participants by pseudonym and role\n"
		"  close TENANT ROOM         close a room for everyone in it (in a cluster: from\n"
		"                            any node)\n"
		"  load                      this node's workers: cores, ports, load, counters\n"
		"  drain [--wait SECONDS], undrain\n"
		"                            stop or resume opening new rooms here; with --wait,\n"
		"                            wait until the node's last room ended (exit 0) or\n"
		"                            SECONDS passed (exit 1, printing the rooms left)\n"
		"  nodes                     the cluster's nodes: URL, region, pools, load, state\n"
		"  cluster-rooms             the cluster's rooms (by keyed hash) and their nodes\n"
		"  token-new NAME SCOPE      make an admin token (SCOPE: * or a tenant id); "
		"prints\n"
		"                            the token and the [api] line for funkhaus.conf\n"
		"URL defaults to %s; the token is read from FUNKHAUS_TOKEN or TOKEN_FILE.\n",
		o.url);
}

/* s for a terminal: control characters (escape sequences of a hostile answer) become '?',
 * cut to n - 1 bytes. */
static const char *printable(const char *s, char *out, size_t n)
{
	size_t i = 0;

	for (; s && s[i] && i + 1 < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[i] = '\0';
	return out;
}

/* One request; the JSON answer (and its HTTP status in *st), or NULL after printing why. */
static json_t *call_st(const char *method, const char *path, const char *body, long *st)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hd = NULL;
	struct fh_curlbody b = {0};
	char url[1024], auth[600];
	long status = 0;
	CURLcode rc;
	json_t *j = NULL;

	if (!c)
		return NULL;
	snprintf(url, sizeof(url), "%s/api/v1%s", o.url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fh_curlbody_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	if (o.cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, o.cacert);
	if (o.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.token);
	hd = curl_slist_append(hd, auth);
	if (body) {
		hd = curl_slist_append(hd, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	rc = curl_easy_perform(c);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (rc != CURLE_OK) {
		fprintf(stderr, "funkhausctl: %s: %s\n", o.url, curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		j = b.p ? json_loads(b.p, 0, NULL) : NULL;
		if (status >= 300 || !j) {
			const char *m = json_string_value(
				json_object_get(json_object_get(j, "error"), "message"));
			char clean[200];

			fprintf(stderr, "funkhausctl: %ld: %s\n", status,
				m ? printable(m, clean, sizeof(clean))
				  : (j ? "an error without a message" : "no JSON in the answer"));
			json_decref(j);
			j = NULL;
		}
	}
	if (st)
		*st = status;
	free(b.p);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	return j;
}

static json_t *call(const char *method, const char *path, const char *body)
{
	return call_st(method, path, body, NULL);
}

/* The answer is of the documented type; else NULL after saying so (and freeing it). */
static json_t *expect(json_t *j, json_type type, const char *what)
{
	if (j && json_typeof(j) != type) {
		fprintf(stderr, "funkhausctl: %s: the answer is not a JSON %s\n", what,
			type == JSON_ARRAY ? "array" : "object");
		json_decref(j);
		return NULL;
	}
	return j;
}

static const char *s_of(json_t *o_, const char *k)
{
	const char *s = json_string_value(json_object_get(o_, k));

	return s ? s : "";
}

static long long i_of(json_t *o_, const char *k)
{
	return (long long)json_integer_value(json_object_get(o_, k));
}

static const char *yes_no(json_t *o_, const char *k)
{
	return json_is_true(json_object_get(o_, k)) ? "yes" : "no";
}

/* A string member fit for a terminal, in out (n bytes); "-" when absent or not a string. */
static const char *str_of(json_t *o_, const char *k, char *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o_, k));

	return printable(s ? s : "-", out, n);
}

/* An age in milliseconds, short: "800ms", "4.2s", "3m". */
static const char *age_of(long long ms, char *out, size_t n)
{
	if (ms < 0)
		snprintf(out, n, "-");
	else if (ms < 1000)
		snprintf(out, n, "%lldms", ms);
	else if (ms < 60000)
		snprintf(out, n, "%.1fs", ms / 1000.0);
	else
		snprintf(out, n, "%lldm", ms / 60000);
	return out;
}

/* GET /cluster: the nodes, this one marked with '*'. */
static int show_nodes(void)
{
	json_t *c = expect(call("GET", "/cluster", NULL), JSON_OBJECT, "GET /cluster"), *nd, *p;
	char id[40], url[80], region[40], pools[80], load[16], state[16], age[16], me[40];
	size_t i, k;

	if (!c)
		return 1;
	if (!json_is_true(json_object_get(c, "enabled"))) {
		printf("not clustered: this node runs alone (no [cluster] section)\n");
		json_decref(c);
		return 0;
	}
	printf("cluster %s seen from node %s: redis %s, %lld claim(s) held there\n\n",
	       str_of(c, "cluster", region, sizeof(region)), str_of(c, "node", me, sizeof(me)),
	       str_of(c, "redis", state, sizeof(state)), i_of(c, "claims_held"));
	printf("%-17s %-32s %-10s %-16s %5s %6s %6s %-9s %6s\n", "ID", "URL", "REGION", "POOLS",
	       "LOAD", "ROOMS", "PEOPLE", "STATE", "AGE");
	json_array_foreach(json_object_get(c, "nodes"), i, nd)
	{
		long long cap = i_of(nd, "capacity"), people = i_of(nd, "participants");
		size_t l = 0;

		pools[0] = '\0';
		json_array_foreach(json_object_get(nd, "pools"), k, p)
		{
			char one[40];

			if (json_is_string(p) && l + 2 < sizeof(pools))
				l += (size_t)snprintf(
					pools + l, sizeof(pools) - l, "%s%s", l ? "," : "",
					printable(json_string_value(p), one, sizeof(one)));
			if (l >= sizeof(pools))
				l = sizeof(pools) - 1;
		}
		if (cap > 0)
			snprintf(load, sizeof(load), "%lld%%", people * 100 / cap);
		else
			snprintf(load, sizeof(load), "-");
		snprintf(id, sizeof(id), "%s%s", str_of(nd, "id", me, sizeof(me)),
			 json_is_true(json_object_get(nd, "self")) ? "*" : "");
		printf("%-17s %-32s %-10s %-16s %5s %6lld %6lld %-9s %6s\n", id,
		       str_of(nd, "url", url, sizeof(url)),
		       str_of(nd, "region", region, sizeof(region)), pools[0] ? pools : "-", load,
		       i_of(nd, "rooms"), people,
		       json_is_true(json_object_get(nd, "draining")) ? "draining" : "serving",
		       age_of(json_is_integer(json_object_get(nd, "age_ms")) ? i_of(nd, "age_ms")
									     : -1,
			      age, sizeof(age)));
	}
	printf("%zu node(s); * is the one asked; AGE: since its record was last refreshed\n",
	       json_array_size(json_object_get(c, "nodes")));
	json_decref(c);
	return 0;
}

/* GET /cluster/rooms: every room the cluster holds, by tenant and keyed hash. */
static int show_cluster_rooms(void)
{
	json_t *a = expect(call("GET", "/cluster/rooms", NULL), JSON_ARRAY, "GET /cluster/rooms"),
	       *r;
	char tenant[40], room[40], node[40];
	size_t i, here = 0;

	if (!a)
		return 1;
	printf("%-20s %-32s %-17s\n", "TENANT", "ROOM (KEYED HASH)", "NODE");
	json_array_foreach(a, i, r)
	{
		bool self = json_is_true(json_object_get(r, "self"));

		here += self;
		printf("%-20s %-32s %s%s\n", str_of(r, "tenant", tenant, sizeof(tenant)),
		       str_of(r, "room", room, sizeof(room)), str_of(r, "node", node, sizeof(node)),
		       self ? " *" : "");
	}
	printf("%zu room(s), %zu of them on the node asked (*); room names are not in the store, "
	       "only their keyed hashes\n",
	       json_array_size(a), here);
	json_decref(a);
	return 0;
}

static int show_tenants(void)
{
	json_t *a = expect(call("GET", "/tenants", NULL), JSON_ARRAY, "GET /tenants"), *t;
	size_t i;

	if (!a)
		return 1;
	printf("%-20s %-28s %-6s %-8s %6s %12s\n", "TENANT", "NAME", "PUBLIC", "ROOMS", "PEOPLE",
	       "CREATE");
	json_array_foreach(a, i, t)
		printf("%-20s %-28.28s %-6s %-8lld %6lld %12s\n", s_of(t, "id"),
		       s_of(t, "display_name"), yes_no(t, "public_access"), i_of(t, "active_rooms"),
		       i_of(t, "participants"), s_of(t, "create_rooms"));
	json_decref(a);
	return 0;
}

static int show_rooms(const char *tenant)
{
	char path[200];
	json_t *a, *r;
	size_t i;

	snprintf(path, sizeof(path), "/tenants/%s/rooms", tenant);
	if (!(a = expect(call("GET", path, NULL), JSON_ARRAY, "the rooms")))
		return 1;
	printf("%-40s %6s %7s %6s %5s %8s\n", "ROOM", "PEOPLE", "WAITING", "WORKER", "LOBBY",
	       "PASSWORD");
	json_array_foreach(a, i, r) printf(
		"%-40s %6lld %7lld %6lld %5s %8s\n", s_of(r, "name"), i_of(r, "participants"),
		i_of(r, "waiting"), i_of(r, "worker"), yes_no(r, "lobby"), yes_no(r, "password"));
	printf("%zu room(s)\n", json_array_size(a));
	json_decref(a);
	return 0;
}

static int show_room(const char *tenant, const char *room)
{
	char path[300];
	json_t *r, *p;
	size_t i;

	snprintf(path, sizeof(path), "/tenants/%s/rooms/%s", tenant, room);
	if (!(r = expect(call("GET", path, NULL), JSON_OBJECT, "the room")))
		return 1;
	printf("room %s: %lld in it, %lld waiting, worker %lld (port %lld), lobby %s, password "
	       "%s\nworker traffic: %.1f Mbit/s in, %.1f Mbit/s out\n\n",
	       s_of(r, "name"), i_of(r, "participants"), i_of(r, "waiting"), i_of(r, "worker"),
	       i_of(r, "port"), yes_no(r, "lobby"), yes_no(r, "password"),
	       i_of(r, "worker_rx_bps") / 1e6, i_of(r, "worker_tx_bps") / 1e6);
	printf("%-17s %-9s %-12s %-5s %s\n", "ID", "PSEUDONYM", "ROLE", "MEDIA", "MUTED");
	json_array_foreach(json_object_get(r, "participant_list"), i, p)
		printf("%-17s %-9s %-12s %-5s %s\n", s_of(p, "id"), s_of(p, "pseudonym"),
		       s_of(p, "role"), yes_no(p, "media"), yes_no(p, "audio_muted"));
	json_decref(r);
	return 0;
}

static int show_load(json_t *n)
{
	json_t *w;
	size_t i;

	if (!(n = expect(n, JSON_OBJECT, "the node")))
		return 1;
	printf("instance %s: dataplane %s, %s, %lld room(s), %lld participant(s)\n\n",
	       s_of(n, "instance"),
	       json_is_true(json_object_get(n, "dataplane")) ? "attached" : "DOWN",
	       json_is_true(json_object_get(n, "draining")) ? "DRAINING" : "taking new rooms",
	       i_of(n, "rooms"), i_of(n, "participants"));
	printf("%-6s %-5s %-6s %6s %6s %14s %14s %10s  %s\n", "WORKER", "CORE", "PORT", "PEOPLE",
	       "BUSY", "RX PACKETS", "TX PACKETS", "DROPS", "SRTP");
	json_array_foreach(json_object_get(n, "workers"), i, w) printf(
		"%-6lld %-5lld %-6lld %6lld %5.1f%% %14lld %14lld %10lld  %s\n", i_of(w, "worker"),
		i_of(w, "lcore"), i_of(w, "port"), i_of(w, "participants"),
		json_real_value(json_object_get(w, "busy")) * 100, i_of(w, "rx_packets"),
		i_of(w, "tx_packets"), i_of(w, "drops"), s_of(w, "srtp_engine"));
	json_decref(n);
	return 0;
}

/* drain --wait: GET /node every second until it holds no room (0) or the deadline (1). */
static int drain_wait(long seconds)
{
	struct timespec t0, now, one = {1, 0};
	long long rooms = -1, people = 0, shown = -1;

	printf("\nwaiting up to %ld s for the node's last room to end\n", seconds);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		json_t *n = expect(call("GET", "/node", NULL), JSON_OBJECT, "GET /node");

		if (n && json_is_integer(json_object_get(n, "rooms"))) {
			rooms = i_of(n, "rooms");
			people = i_of(n, "participants");
		} else if (n) {
			fprintf(stderr, "funkhausctl: GET /node: the answer has no rooms\n");
		}
		json_decref(n);
		if (rooms > 0 && rooms != shown) {
			printf("%lld room(s) left, %lld participant(s)\n", rooms, people);
			fflush(stdout);
			shown = rooms;
		}
		if (rooms == 0) {
			printf("drained: no room left on this node\n");
			return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= seconds)
			break;
		nanosleep(&one, NULL);
	}
	if (rooms < 0)
		printf("not drained after %ld s: the node's rooms could not be read\n", seconds);
	else
		printf("not drained after %ld s: %lld room(s) left, %lld participant(s)\n", seconds,
		       rooms, people);
	return 1;
}

static int done(json_t *j, const char *what)
{
	if (!j)
		return 1;
	json_decref(j);
	printf("%s\n", what);
	return 0;
}

static int token_new(const char *name, const char *scope)
{
	uint8_t raw[32], h[32];
	char tok[65];
	unsigned hl = 0;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return 1;
	for (int i = 0; i < 32; i++)
		snprintf(tok + 2 * i, 3, "%02x", raw[i]);
	EVP_Digest(tok, strlen(tok), h, &hl, EVP_sha256(), NULL);
	printf("token (give it to the admin, it is not stored anywhere):\n  %s\n"
	       "line for the [api] section of funkhaus.conf (then SIGHUP funkhaus-cp):\n  token = "
	       "%s %s ",
	       tok, name, scope);
	for (int i = 0; i < 32; i++)
		printf("%02x", h[i]);
	printf("\n");
	OPENSSL_cleanse(tok, sizeof(tok));
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

static int read_token(const char *file)
{
	const char *env = getenv("FUNKHAUS_TOKEN");
	FILE *f;

	if (!file && env) {
		snprintf(o.token, sizeof(o.token), "%s", env);
		return 0;
	}
	if (!file) {
		fprintf(stderr, "funkhausctl: no token: set FUNKHAUS_TOKEN or give -t FILE\n");
		return -1;
	}
	f = fopen(file, "r");
	if (!f || !fgets(o.token, sizeof(o.token), f)) {
		fprintf(stderr, "funkhausctl: %s: %s\n", file, f ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	o.token[strcspn(o.token, "\r\n")] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"url", required_argument, NULL, 'u'},
					   {"token-file", required_argument, NULL, 't'},
					   {"cacert", required_argument, NULL, 'c'},
					   {"insecure", no_argument, NULL, 'k'},
					   {"wait", required_argument, NULL, 'w'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	const char *token_file = NULL;
	char path[300];
	int opt, rc = 2;

	if (getenv("FUNKHAUS_URL"))
		o.url = getenv("FUNKHAUS_URL");
	while ((opt = getopt_long(argc, argv, "u:t:c:kh", lo, NULL)) != -1) {
		switch (opt) {
		case 'u':
			o.url = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'c':
			o.cacert = optarg;
			break;
		case 'k':
			o.insecure = true;
			break;
		case 'w': {
			char *end;

			errno = 0;
			o.wait_s = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o.wait_s < 1 || o.wait_s > 86400) {
				fprintf(stderr, "funkhausctl: --wait takes 1 to 86400 seconds\n");
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	int n = argc - optind;
	char **a = argv + optind;

	if (n < 1 || (o.wait_s && strcmp(a[0], "drain"))) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(a[0], "token-new"))
		return n == 3 ? token_new(a[1], a[2]) : (usage(stderr), 2);
	if (read_token(token_file) < 0)
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!strcmp(a[0], "tenants") && n == 1) {
		rc = show_tenants();
	} else if ((!strcmp(a[0], "tenant-on") || !strcmp(a[0], "tenant-off")) && n == 2) {
		snprintf(path, sizeof(path), "/tenants/%s/public-access", a[1]);
		rc = done(call("PUT", path,
			       !strcmp(a[0], "tenant-on") ? "{\"on\":true}" : "{\"on\":false}"),
			  !strcmp(a[0], "tenant-on") ? "public access on"
						     : "public access off: its rooms are closed");
	} else if (!strcmp(a[0], "rooms") && n == 2) {
		rc = show_rooms(a[1]);
	} else if (!strcmp(a[0], "room") && n == 3) {
		rc = show_room(a[1], a[2]);
	} else if (!strcmp(a[0], "close") && n == 3) {
		long st = 0;
		json_t *j;

		snprintf(path, sizeof(path), "/tenants/%s/rooms/%s", a[1], a[2]);
		j = call_st("DELETE", path, NULL, &st);
		/* 202: another node of the cluster holds it; that node closes it */
		rc = done(j, st == 202 ? "passed to the node that holds it, which closes it"
				       : "closed");
	} else if (!strcmp(a[0], "load") && n == 1) {
		rc = show_load(call("GET", "/node", NULL));
	} else if ((!strcmp(a[0], "drain") || !strcmp(a[0], "undrain")) && n == 1) {
		snprintf(path, sizeof(path), "/node/%s", a[0]);
		rc = show_load(call("POST", path, NULL));
		if (!rc && o.wait_s)
			rc = drain_wait(o.wait_s);
	} else if (!strcmp(a[0], "nodes") && n == 1) {
		rc = show_nodes();
	} else if (!strcmp(a[0], "cluster-rooms") && n == 1) {
		rc = show_cluster_rooms();
	} else {
		usage(stderr);
	}
	OPENSSL_cleanse(o.token, sizeof(o.token));
	curl_global_cleanup();
	return rc;
}
