/*
 * The admin REST API, /metrics, /readyz and draining, end to end: both daemons, two admin
 * tokens (the node's and a tenant's), libcurl as the admin's client. Every endpoint's success
 * path and its errors (no token, wrong token, wrong scope, unknown tenant/room/participant,
 * malformed JSON, oversized body, wrong method), each status checked against what
 * openapi.json promises for that route; metrics parse as Prometheus text, carry every
 * counter and drop reason of the counter table with its help, and move with traffic (a cut
 * datagram under its own reason); a password and a lobby set by REST act on the next joiner;
 * draining tells running rooms and still lets people join them while a new room is refused;
 * consent expiry shows in the room's count; a room's participants carry their downlink (the
 * worker's estimate, and per stream received the source and the layer); "joined" carries TURN
 * credentials valid for [turn] ttl; SIGHUP picks up a new tenant file and a new token and
 * drops a revoked one; SIGTERM drains for its grace, on a monotonic clock, and stops. The audit log names who did
 * what and never a room's name; no file holds a room password or a display name.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "calls.h"
#include "fh_curlbody.h"

int failures;
struct harness h;

static char dir[128];
static const char ops_token[] = "ops-Zq3TNWJb1gNwQ0Vb6ex1f4UeKZNpzp0wYQlO";
static const char rat_token[] = "rathaus-Vt8m0bS2hKq9wJZcL4xYd7PaRgEoU1nF";
static const char late_token[] = "late-xP4kR8sW2vN6bQ9mZ3tY7cH1jL5gD0fA";
static const char turn_secret[] = "turn-shared-secret-0123456789";
#define TURN_TTL 600 /* not the default (3600), so that a TTL from elsewhere is seen */
static json_t *openapi;
static unsigned api_port;     /* where api() sends requests: the harness' port unless set */
static bool check_doc = true; /* api() checks each answer against openapi.json */

static void sha256_hex(const char *s, char out[65])
{
	uint8_t h[32];
	unsigned n = 0;

	EVP_Digest(s, strlen(s), h, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

/* The route template openapi.json documents a path under, for checking its statuses. */
static const char *template_of(const char *path, char *out, size_t n)
{
	char seg[12][80];
	int k = 0;
	const char *p = path;

	while (*p && k < 12) {
		size_t l = strcspn(p + 1, "/?");

		snprintf(seg[k++], sizeof(seg[0]), "%.*s", (int)l, p + 1);
		p += l + 1;
		if (*p == '?')
			break;
	}
	/* api v1 tenants {tenant} rooms {room} participants {id} mute */
	out[0] = '\0';
	for (int i = 0; i < k; i++) {
		const char *s = seg[i];

		if (i == 3 && !strcmp(seg[2], "tenants"))
			s = "{tenant}";
		else if (i == 5 && !strcmp(seg[4], "rooms"))
			s = "{room}";
		else if (i == 7 && !strcmp(seg[6], "participants"))
			s = "{id}";
		size_t l = strlen(out);

		snprintf(out + l, n - l, "/%s", s);
	}
	return out;
}

/* One request; the status, with the body in *resp when asked for (free it). */
static long api(const char *method, const char *path, const char *token, const char *body,
		char **resp)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hd = NULL;
	struct fh_curlbody b = {0};
	char url[512], auth[200];
	long status = -1;

	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", api_port ? api_port : h.port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L); /* the harness' self-signed cert */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fh_curlbody_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hd = curl_slist_append(hd, auth);
	}
	if (body) {
		hd = curl_slist_append(hd, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	/* every answer of the API is one its document promises for the route */
	if (openapi && check_doc && !strncmp(path, "/api/v1/", 8) && status > 0) {
		char tmpl[300], code[8], m[8];
		json_t *op;

		template_of(path, tmpl, sizeof(tmpl));
		snprintf(code, sizeof(code), "%ld", status);
		for (int i = 0; method[i] && i < 7; i++)
			m[i] = (char)(method[i] | 0x20), m[i + 1] = '\0';
		json_t *pi = json_object_get(json_object_get(openapi, "paths"), tmpl + 7);

		op = json_object_get(pi, m);
		if (!pi) /* a path the API does not have */
			EXPECT(status == 404, "%s %s (not in openapi.json) answers 404, not %ld",
			       method, tmpl + 7, status);
		else if (status == 405) /* a method the path does not have */
			EXPECT(!op, "405 for %s %s, which openapi.json documents", method,
			       tmpl + 7);
		else
			EXPECT(op && json_object_get(json_object_get(op, "responses"), code),
			       "openapi.json documents %s %s answering %s", method, tmpl + 7, code);
	}
	if (resp)
		*resp = b.p ? b.p : strdup("");
	else
		free(b.p);
	return status;
}

static json_t *api_json(const char *method, const char *path, const char *token, const char *body,
			long *status)
{
	char *r = NULL;
	json_error_t je;
	json_t *o;

	*status = api(method, path, token, body, &r);
	o = json_loads(r, 0, &je);
	free(r);
	return o;
}

/* A layer field of a participant's downlink: an integer 0..2, or null (none, or all). */
static bool layer_ok(json_t *v)
{
	return json_is_null(v) ||
	       (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 2);
}

static bool count_ok(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* Each participant's downlink: the worker's estimate and what it sends, and per stream it
 * receives the participant it comes from (by the id the list names them by: each of the others,
 * never itself) and the layer. The numbers are the worker's (zeros until it measures); the
 * shape holds either way. */
static void expect_downlinks(json_t *list)
{
	size_t n = json_array_size(list), i, j;
	json_t *p, *rv;

	json_array_foreach(list, i, p)
	{
		json_t *d = json_object_get(p, "downlink"), *recv = json_object_get(d, "receives");
		const char *self = json_string_value(json_object_get(p, "id"));
		size_t others = 0;

		EXPECT(json_is_object(d) && count_ok(json_object_get(d, "estimate_bps")) &&
			       count_ok(json_object_get(d, "sent_bps")) && json_is_array(recv),
		       "participant %zu: a downlink with its estimate, rate and streams", i);
		EXPECT(json_is_boolean(json_object_get(p, "media")),
		       "and still \"media\" as before");
		json_array_foreach(recv, j, rv)
		{
			const char *from = json_string_value(json_object_get(rv, "from"));
			const char *kind = json_string_value(json_object_get(rv, "kind"));
			json_t *layers = json_object_get(rv, "layers");

			EXPECT(from && self && strcmp(from, self) && kind &&
				       (!strcmp(kind, "audio") || !strcmp(kind, "video")),
			       "participant %zu, stream %zu: from another, audio or video", i, j);
			EXPECT(layer_ok(json_object_get(rv, "layer")) &&
				       layer_ok(json_object_get(rv, "target")) &&
				       layer_ok(json_object_get(rv, "temporal")) &&
				       count_ok(layers) && json_integer_value(layers) <= 3 &&
				       count_ok(json_object_get(rv, "bitrate_bps")),
			       "participant %zu, stream %zu: layers and rate", i, j);
		}
		for (size_t k = 0; k < n; k++) {
			const char *id =
				json_string_value(json_object_get(json_array_get(list, k), "id"));
			bool audio = false, video = false;

			if (k == i || !id)
				continue;
			json_array_foreach(recv, j, rv)
			{
				const char *kind = json_string_value(json_object_get(rv, "kind"));
				const char *from = json_string_value(json_object_get(rv, "from"));

				if (!kind || !from || strcmp(from, id))
					continue;
				audio |= !strcmp(kind, "audio");
				video |= !strcmp(kind, "video");
			}
			others += audio && video;
		}
		EXPECT(others == n - 1,
		       "participant %zu receives audio and video of all %zu others", i, n - 1);
	}
}

static void expect_status(const char *what, const char *method, const char *path, const char *token,
			  const char *body, long want)
{
	long got = api(method, path, token, body, NULL);

	EXPECT(got == want, "%s: %s %s answers %ld (got %ld)", what, method, path, want, got);
}

/* Prometheus text: HELP and TYPE (in that order, for the same name) before each family, no
 * family twice, every sample "name{labels} number" inside the family announced last. */
static bool prometheus_ok(const char *text, unsigned *samples)
{
	char typed[128] = "", helped[128] = "", families[256][128];
	unsigned n_families = 0;
	const char *p = text;

	*samples = 0;
	while (*p) {
		const char *e = strchr(p, '\n');
		char line[512];
		size_t l = e ? (size_t)(e - p) : strlen(p);

		snprintf(line, sizeof(line), "%.*s", (int)l, p);
		p += l + (e ? 1 : 0);
		if (!strncmp(line, "# HELP ", 7)) {
			helped[0] = '\0';
			sscanf(line + 7, "%127s", helped);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			sscanf(line + 7, "%127s", typed);
			if (strcmp(typed, helped) != 0) {
				fprintf(stderr, "/metrics: %s has no HELP line of its own\n",
					typed);
				return false;
			}
			for (unsigned i = 0; i < n_families; i++)
				if (!strcmp(families[i], typed)) {
					fprintf(stderr, "/metrics: %s announced twice\n", typed);
					return false;
				}
			if (n_families == sizeof(families) / sizeof(families[0]))
				return false;
			snprintf(families[n_families++], sizeof(families[0]), "%s", typed);
			continue;
		}
		if (line[0] == '#' || !line[0])
			continue;
		char name[128], *sp = strrchr(line, ' '), *end;

		if (!sp)
			return false;
		strtod(sp + 1, &end);
		if (*end)
			return false;
		sscanf(line, "%127[a-z_]", name);
		size_t tl = strlen(typed);

		if (!tl || strncmp(name, typed, tl))
			return false; /* a sample outside the family its TYPE line announced */
		(*samples)++;
	}
	return true;
}

/* Every counter, drop reason, stage and port counter of the table (common/fh_counters.h) is
 * in /metrics for worker 0, each counter with the table's help as its HELP line and a TYPE
 * line (prometheus_ok checks they go together), each drop reason with its help in
 * funkhaus_drop_reason_info; how many are missing. */
static unsigned table_missing(const char *text)
{
	char probe[512];
	unsigned missing = 0;

	for (unsigned c = 0; c < FH_CTR_MAX; c++) {
		const char *n = fh_ctr_names[c];
		char h1[256], h2[160], h3[160];

		snprintf(h1, sizeof(h1), "\n# HELP funkhaus_worker_%s_total %s\n", n,
			 fh_ctr_help[c]);
		snprintf(h2, sizeof(h2), "\n# TYPE funkhaus_worker_%s_total counter\n", n);
		snprintf(h3, sizeof(h3), "\nfunkhaus_worker_%s_total{worker=\"0\"} ", n);
		if (!strstr(text, h1) || !strstr(text, h2) || !strstr(text, h3)) {
			fprintf(stderr, "/metrics lacks counter %s (HELP, TYPE or sample)\n", n);
			missing++;
		}
	}
	for (unsigned d = 0; d < FH_DROP_MAX; d++) {
		const char *n = fh_drop_names[d];
		char s1[160];

		snprintf(s1, sizeof(s1),
			 "\nfunkhaus_worker_drops_total{worker=\"0\",reason=\"%s\"} ", n);
		snprintf(probe, sizeof(probe),
			 "\nfunkhaus_drop_reason_info{reason=\"%s\",help=\"%s\"} 1\n", n,
			 fh_drop_help[d]);
		if (!strstr(text, s1) || !strstr(text, probe)) {
			fprintf(stderr, "/metrics lacks drop reason %s (sample or help)\n", n);
			missing++;
		}
	}
	for (unsigned c = 0; c < FH_PORT_CTR_MAX; c++) { /* no NIC ports with sockets: no samples */
		snprintf(probe, sizeof(probe), "\n# HELP funkhaus_port_%s_total %s\n",
			 fh_port_ctr_names[c], fh_port_ctr_help[c]);
		if (!strstr(text, probe)) {
			fprintf(stderr, "/metrics lacks port counter %s\n", fh_port_ctr_names[c]);
			missing++;
		}
	}
	for (unsigned st = 0; st < FH_STAGE_MAX; st++) {
		snprintf(probe, sizeof(probe),
			 "\nfunkhaus_worker_stage_cycles_total{worker=\"0\",stage=\"%s\"} ",
			 fh_stage_names[st]);
		if (!strstr(text, probe)) {
			fprintf(stderr, "/metrics lacks stage %s\n", fh_stage_names[st]);
			missing++;
		}
	}
	return missing;
}

/* One datagram of len bytes to worker 0's media port from a fresh socket. */
static void udp_to_worker(size_t len)
{
	static uint8_t junk[4096];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(h.base_port)};

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	memset(junk, 0x80,
	       sizeof(junk)); /* an RTP first byte: were it not cut, it would be media */
	sendto(fd, junk, len < sizeof(junk) ? len : sizeof(junk), 0, (struct sockaddr *)&sa,
	       sizeof(sa));
	close(fd);
}

static double metric(const char *text, const char *series)
{
	const char *p = strstr(text, series);

	while (p && p != text && p[-1] != '\n')
		p = strstr(p + 1, series);
	return p ? strtod(p + strlen(series), NULL) : -1;
}

/* The addresses (hex, as /proc/net/tcp* writes them) sockets listen on for TCP port `port`. */
static unsigned listeners(unsigned port, char out[][40], unsigned max)
{
	const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	unsigned n = 0;

	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		char line[512], addr[40];
		unsigned p, st;

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, " %*d: %39[0-9A-F]:%X %*[0-9A-F]:%*X %X", addr, &p, &st) ==
				    3 &&
			    p == port && st == 0x0A && n < max)
				snprintf(out[n++], 40, "%s", addr);
		if (f)
			fclose(f);
	}
	return n;
}

/* funkhausctl's output for args, with the node admin's token; its exit status in *rc. */
static char *ctl(const char *bin, const char *args, int *rc)
{
	char cmd[600];
	static char out[16384];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "FUNKHAUS_TOKEN=%s %s -k -u https://127.0.0.1:%u %s 2>&1",
		 ops_token, bin, h.port, args);
	p = popen(cmd, "r");
	n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
	out[n] = '\0';
	*rc = p ? pclose(p) : -1;
	return out;
}

int main(int argc, char **argv)
{
	char conf[1200], ops_hash[65], rat_hash[65], path[400], *text = NULL;
	long st;
	json_t *o;

	if (argc != 6) {
		fprintf(stderr, "usage: test_api DP_BIN CP_BIN GEN_CERT WEB_ROOT FUNKHAUSCTL\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(dir, sizeof(dir), "/tmp/fh-api-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/openapi.json", argv[4]);
	openapi = json_load_file(path, 0, NULL);
	EXPECT(openapi != NULL, "openapi.json parses");
	sha256_hex(ops_token, ops_hash);
	sha256_hex(rat_token, rat_hash);
	snprintf(path, sizeof(path), "%s/t", dir);
	mkdir(path, 0700);
	put_file(dir, "t/rathaus.conf",
		 "[tenant]\ndisplay_name = Rathaus\npath_prefix = rathaus\n");
	snprintf(conf, sizeof(conf),
		 /* still the main configuration's [tenant]: answering on 127.0.0.1 only, so
		  * that another host name finds no tenant at all */
		 "hosts = 127.0.0.1\n"
		 "[controlplane]\ntenants_dir = %s/t\ndrain_grace = 2\n[instance]\nlog_dir = "
		 "%s/logs\n"
		 "[api]\ntoken = ops * %s\ntoken = rathaus-admin rathaus %s\n"
		 "[turn]\nsecret_file = %s/turn.secret\nurls = turn:127.0.0.1:3478\nttl = %u\n",
		 dir, dir, ops_hash, rat_hash, dir, TURN_TTL);
	put_file(dir, "turn.secret", turn_secret);
	put_file(dir, "extra.conf", conf);
	snprintf(path, sizeof(path), "%s/extra.conf", dir);
	setenv("FUNKHAUS_EXTRA_CONF", path, 1);
	{
		time_t t0 = time(NULL);
		struct tm tm0;
		char d0[16];

		gmtime_r(&t0, &tm0);
		strftime(d0, sizeof(d0), "%Y-%m-%d", &tm0);
		snprintf(path, sizeof(path), "%s/logs/funkhaus-cp-%s.log", dir, d0);
		setenv("FUNKHAUS_CP_LOG", path, 1); /* the harness watches cp's own log file */
	}
	if (harness_start(&h, argv, 1) < 0) {
		harness_stop(&h, true);
		return 1;
	}

	/* health, and who may ask what */
	o = api_json("GET", "/readyz", NULL, NULL, &st);
	EXPECT(st == 200 && json_is_true(json_object_get(o, "ready")), "/readyz: ready");
	json_decref(o);
	expect_status("no token", "GET", "/api/v1/tenants", NULL, NULL, 401);
	expect_status("a wrong token", "GET", "/api/v1/tenants", "not-a-token", NULL, 401);
	expect_status("metrics without a token", "GET", "/metrics", NULL, NULL, 401);
	expect_status("metrics with a tenant's token", "GET", "/metrics", rat_token, NULL, 403);
	o = api_json("GET", "/api/v1/tenants", ops_token, NULL, &st);
	EXPECT(st == 200 && json_array_size(o) == 2, "the node admin sees both tenants");
	json_decref(o);
	o = api_json("GET", "/api/v1/tenants", rat_token, NULL, &st);
	EXPECT(st == 200 && json_array_size(o) == 1 &&
		       !strcmp(json_string_value(json_object_get(json_array_get(o, 0), "id")),
			       "rathaus"),
	       "the Rathaus admin sees only the Rathaus");
	json_decref(o);
	expect_status("another tenant", "GET", "/api/v1/tenants/test", rat_token, NULL, 403);
	expect_status("an unknown tenant", "GET", "/api/v1/tenants/nirgendwo", ops_token, NULL,
		      404);
	expect_status("an unknown path", "GET", "/api/v1/nothing", ops_token, NULL, 404);
	expect_status("the node for a tenant admin", "GET", "/api/v1/node", rat_token, NULL, 403);
	expect_status("a wrong method", "PUT", "/api/v1/node/drain", ops_token, "{}", 405);
	o = api_json("GET", "/api/v1/node", ops_token, NULL, &st);
	EXPECT(st == 200 && json_array_size(json_object_get(o, "workers")) == 1 &&
		       json_integer_value(json_object_get(
			       json_array_get(json_object_get(o, "workers"), 0), "port")) ==
			       h.base_port,
	       "the node: one worker on its port");
	json_decref(o);
	printf("auth and scopes (%d failures so far)\n", failures);

	/* tenants: created, changed, refused, deleted; written to the tenant files */
	expect_status("malformed JSON", "POST", "/api/v1/tenants", ops_token, "{\"id\":", 400);
	expect_status("a tenant admin creating", "POST", "/api/v1/tenants", rat_token,
		      "{\"id\":\"verein\"}", 403);
	expect_status("an unknown key", "POST", "/api/v1/tenants", ops_token,
		      "{\"id\":\"verein\",\"colour\":\"red\"}", 400);
	snprintf(path, sizeof(path), "%s/t/verein.conf", dir);
	struct stat sb;

	EXPECT(stat(path, &sb) < 0, "a refused tenant leaves no file behind");
	{
		size_t big = 70 * 1024;
		char *b = malloc(big + 64);
		int n = snprintf(b, 64, "{\"id\":\"verein\",\"display_name\":\"");

		memset(b + n, 'x', big);
		strcpy(b + n + big, "\"}");
		expect_status("an oversized body", "POST", "/api/v1/tenants", ops_token, b, 413);
		free(b);
	}
	o = api_json("POST", "/api/v1/tenants", ops_token,
		     "{\"id\":\"verein\",\"display_name\":\"Verein\",\"path_prefix\":\"verein\","
		     "\"lobby\":true,\"max_participants\":5}",
		     &st);
	EXPECT(st == 201 && json_is_true(json_object_get(o, "lobby")) &&
		       json_integer_value(json_object_get(o, "max_participants")) == 5,
	       "a tenant is created (%ld)", st);
	json_decref(o);
	EXPECT(stat(path, &sb) == 0, "into its own file");
	expect_status("creating it twice", "POST", "/api/v1/tenants", ops_token,
		      "{\"id\":\"verein\"}", 409);
	o = api_json("PATCH", "/api/v1/tenants/rathaus", rat_token, "{\"chat\":false}", &st);
	EXPECT(st == 200 && json_is_false(json_object_get(o, "chat")) &&
		       !strcmp(json_string_value(json_object_get(o, "path_prefix")), "rathaus"),
	       "the Rathaus admin switches chat off, the rest stays (%ld)", st);
	json_decref(o);
	expect_status("a tenant admin moving hosts", "PATCH", "/api/v1/tenants/rathaus", rat_token,
		      "{\"hosts\":[\"evil.example\"]}", 403);
	expect_status("a bad value", "PATCH", "/api/v1/tenants/rathaus", rat_token,
		      "{\"max_participants\":5000}", 400);
	expect_status("the main configuration's tenant", "PATCH", "/api/v1/tenants/test", ops_token,
		      "{\"chat\":false}", 409);
	o = api_json("PUT", "/api/v1/tenants/rathaus/public-access", rat_token, "{\"on\":false}",
		     &st);
	EXPECT(st == 200 && json_is_false(json_object_get(o, "public_access")),
	       "the Rathaus admin switches public access off");
	json_decref(o);
	expect_status("public access without on", "PUT", "/api/v1/tenants/rathaus/public-access",
		      rat_token, "{}", 400);
	int code;
	char err[200];
	struct fhc_opts fo = {.host = "127.0.0.1",
			      .port = h.port,
			      .room = "Sitzung",
			      .name = "KanarienvogelName8",
			      .audio = true,
			      .video = true,
			      .timeout_ms = 5000,
			      .prefix = "rathaus"};
	struct fhc *x = fhc_connect(&fo, err, sizeof(err));

	code = strstr(err, "error ") ? atoi(strstr(err, "error ") + 6) : 0;
	EXPECT(!x && code == 4014, "a join while it is off: 4014 (%s)", err);
	if (x)
		fhc_close(x);
	/* a host name no tenant answers on (and no catch-all): 4013 */
	fo.prefix = NULL;
	fo.vhost = "nirgendwo.example";
	x = fhc_connect(&fo, err, sizeof(err));
	code = strstr(err, "error ") ? atoi(strstr(err, "error ") + 6) : 0;
	EXPECT(!x && code == 4013, "a join at a host no tenant answers on: 4013 (%s)", err);
	if (x)
		fhc_close(x);
	fo.vhost = NULL;
	fo.prefix = "rathaus";
	expect_status("switching it on again", "PUT", "/api/v1/tenants/rathaus/public-access",
		      rat_token, "{\"on\":true}", 200);
	printf("tenants (%d failures so far)\n", failures);

	/* rooms: listed with counts, one with its participants by pseudonym and role; muted,
	 * removed, password and lobby set, closed */
	struct fhc *a = join("Sitzung", "KanarienvogelName8");
	struct fhc *b = join("Sitzung", "Bernd");
	/* from another address: whoever comes from the address of one removed waits in the lobby
	 * for the rest of the meeting, and the joins below come from 127.0.0.1 */
	struct fhc_opts co = {.room = "Sitzung",
			      .name = "Clara",
			      .audio = true,
			      .video = true,
			      .source = "127.0.0.2"};
	struct fhc *c2 = try_join_with(co, NULL);
	struct fhc *all[] = {a, b, c2};

	EXPECT(a && b && c2, "three in a room");
	if (a) {
		/* TURN credentials (the TURN REST scheme): "<expiry>:<pseudonym>", the expiry ttl
		 * seconds after the join, the credential the base64 HMAC-SHA1 of the username
		 * under the shared secret, which is what the TURN server checks */
		const char *cred = NULL, *user = fhc_turn(a, &cred);
		long long expiry = atoll(user), now = (long long)time(NULL);
		const char *colon = strchr(user, ':');
		uint8_t mac[EVP_MAX_MD_SIZE];
		unsigned ml = 0;
		char want[64] = "";

		EXPECT(expiry > now + TURN_TTL - 15 && expiry <= now + TURN_TTL && colon &&
			       strlen(colon + 1) == 8,
		       "TURN username %s: expiry %lld s from now, want %u", user, expiry - now,
		       TURN_TTL);
		HMAC(EVP_sha1(), turn_secret, (int)strlen(turn_secret), (const uint8_t *)user,
		     strlen(user), mac, &ml);
		EVP_EncodeBlock((unsigned char *)want, mac, (int)ml);
		EXPECT(!strcmp(cred, want), "TURN credential %s, want %s", cred, want);
	}
	if (a && b && c2) {
		pump(all, 3, 300);
		talk(a, "hallo", 20, all, 3);
		o = api_json("GET", "/api/v1/tenants/test/rooms", ops_token, NULL, &st);
		EXPECT(st == 200 && json_array_size(o) == 1 &&
			       json_integer_value(
				       json_object_get(json_array_get(o, 0), "participants")) == 3,
		       "the tenant's one room, three in it");
		json_decref(o);
		char *r = NULL;

		st = api("GET", "/api/v1/tenants/test/rooms/sitzung", ops_token, NULL, &r);
		o = json_loads(r, 0, NULL);
		json_t *list = json_object_get(o, "participant_list");

		EXPECT(st == 200 && json_array_size(list) == 3 &&
			       json_string_length(
				       json_object_get(json_array_get(list, 0), "pseudonym")) == 8,
		       "the room: three by pseudonym");
		EXPECT(!strstr(r, "KanarienvogelName8") && !strstr(r, "Bernd"),
		       "and without their names");
		expect_downlinks(list);
		free(r);
		json_decref(o);
		expect_status("an unknown room", "GET", "/api/v1/tenants/test/rooms/nirgends",
			      ops_token, NULL, 404);
		expect_status("a room of another tenant", "GET",
			      "/api/v1/tenants/test/rooms/sitzung", rat_token, NULL, 403);
		uint64_t muted0 = harness_drop(&h, 0, FH_DROP_muted);
		char p2[200];

		snprintf(p2, sizeof(p2), "/api/v1/tenants/test/rooms/Sitzung/participants/%s/mute",
			 fhc_id(b));
		expect_status("muting", "POST", p2, ops_token, NULL, 200);
		pump(all, 3, 200);
		talk(b, "leise", 10, all, 3);
		EXPECT(harness_drop(&h, 0, FH_DROP_muted) >= muted0 + 10,
		       "the muted one's audio stops in the dataplane");
		expect_status(
			"muting nobody", "POST",
			"/api/v1/tenants/test/rooms/Sitzung/participants/0123456789abcdef/mute",
			ops_token, NULL, 404);
		snprintf(p2, sizeof(p2), "/api/v1/tenants/test/rooms/Sitzung/participants/%s",
			 fhc_id(c2));
		expect_status("removing", "DELETE", p2, ops_token, NULL, 200);
		pump(all, 3, 300);
		EXPECT(!strcmp(fhc_closed(c2), "removed"), "the removed one is told");
		expect_status("a password", "PUT", "/api/v1/tenants/test/rooms/Sitzung/password",
			      ops_token, "{\"password\":\"KanarienvogelPass8\"}", 200);
		expect_status("a password that is no string", "PUT",
			      "/api/v1/tenants/test/rooms/Sitzung/password", ops_token,
			      "{\"password\":5}", 400);
		expect_status("the lobby", "PUT", "/api/v1/tenants/test/rooms/Sitzung/lobby",
			      ops_token, "{\"on\":true}", 200);
		expect_status("the lobby, malformed", "PUT",
			      "/api/v1/tenants/test/rooms/Sitzung/lobby", ops_token, "[1]", 400);
		/* what they do to the next joiner, not only their status: no password, 4033;
		 * with it, the lobby; the lobby off by REST lets the waiting one in. The 200
		 * comes before the password is hashed (off the loop, then it takes over): wait
		 * until no hashing job is left */
		for (int i = 0; i < 50; i++) {
			char *mt = NULL;
			double jobs;

			api("GET", "/metrics", ops_token, NULL, &mt);
			jobs = metric(mt ? mt : "", "funkhaus_cp_password_jobs ");
			free(mt);
			if (jobs == 0)
				break;
			usleep(100 * 1000);
		}
		struct fhc_opts po = {.host = "127.0.0.1",
				      .port = h.port,
				      .room = "Sitzung",
				      .name = "Paula",
				      .audio = true,
				      .video = true,
				      .timeout_ms = 5000};
		struct fhc *p = fhc_connect(&po, err, sizeof(err));

		EXPECT(!p && strstr(err, "error 4033"),
		       "after a password by REST a join without it gets 4033 (%s)",
		       p ? "it joined" : err);
		if (p)
			fhc_close(p);
		po.password = "KanarienvogelPass8";
		p = fhc_connect(&po, err, sizeof(err));
		EXPECT(p && fhc_waiting(p),
		       "with the password, the lobby set by REST holds it (%s)",
		       p ? "it got in" : err);
		expect_status("the lobby off", "PUT", "/api/v1/tenants/test/rooms/Sitzung/lobby",
			      ops_token, "{\"on\":false}", 200);
		EXPECT(p && fhc_enter(p, err, sizeof(err)) == 0,
		       "the lobby off by REST lets the waiting one in (%s)", err);
		if (p)
			fhc_close(p);
		pump(all, 2, 300);

		/* metrics: Prometheus text that moves with traffic, with every counter of the
		 * table; a datagram longer than a packet buffer is counted as cut, not as
		 * something that is not WebRTC */
		st = api("GET", "/metrics", ops_token, NULL, &text);
		double cut0 = metric(
			text, "funkhaus_worker_drops_total{worker=\"0\",reason=\"truncated\"} ");
		double nw0 = metric(
			text, "funkhaus_worker_drops_total{worker=\"0\",reason=\"not_webrtc\"} ");

		free(text);
		udp_to_worker(3000);
		pump(all, 3, 300);
		st = api("GET", "/metrics", ops_token, NULL, &text);
		unsigned samples = 0;

		EXPECT(st == 200 && prometheus_ok(text, &samples) && samples > 50,
		       "/metrics is Prometheus text (%u samples)", samples);
		EXPECT(st == 200 && table_missing(text) == 0,
		       "/metrics carries every counter, drop reason and stage of the table");
		EXPECT(metric(text,
			      "funkhaus_worker_drops_total{worker=\"0\",reason=\"truncated\"} ") ==
				       cut0 + 1 &&
			       metric(text, "funkhaus_worker_drops_total{worker=\"0\",reason="
					    "\"not_webrtc\"} ") == nw0,
		       "a cut datagram counted as truncated (%g before)", cut0);
		/* every series the example Grafana dashboard queries exists */
		char dpath[400];

		snprintf(dpath, sizeof(dpath), "%s/../../conf/grafana-funkhaus.json", argv[4]);
		json_t *dash = json_load_file(dpath, 0, NULL), *panel, *tg;
		size_t pi, ti;
		unsigned queried = 0, missing = 0;

		json_array_foreach(json_object_get(dash, "panels"), pi, panel)
		{
			json_array_foreach(json_object_get(panel, "targets"), ti, tg)
			{
				const char *e = json_string_value(json_object_get(tg, "expr"));

				for (const char *q = e ? strstr(e, "funkhaus_") : NULL; q;
				     q = strstr(q + 1, "funkhaus_")) {
					char name[96], probe[100];

					sscanf(q, "%95[a-z_]", name);
					snprintf(probe, sizeof(probe), "\n%s", name);
					queried++;
					if (!strstr(text, probe)) {
						fprintf(stderr,
							"dashboard queries %s, not in /metrics\n",
							name);
						missing++;
					}
				}
			}
		}
		EXPECT(dash && queried > 10 && missing == 0,
		       "the Grafana dashboard's %u series are all in /metrics", queried);
		json_decref(dash);
		double rx0 = metric(text, "funkhaus_worker_rx_packets_total{worker=\"0\"} ");

		EXPECT(metric(text, "funkhaus_tenant_participants{tenant=\"test\"} ") == 2,
		       "two participants of the test tenant");
		EXPECT(metric(text, "funkhaus_dtls_handshakes_total{result=\"ok\"} ") >= 3,
		       "the DTLS handshakes counted");
		EXPECT(metric(text, "funkhaus_join_failures_total{code=\"4014\"} ") == 1,
		       "the refused join counted by its code");
		free(text);
		talk(a, "mehr", 20, all, 2);
		api("GET", "/metrics", ops_token, NULL, &text);
		EXPECT(metric(text, "funkhaus_worker_rx_packets_total{worker=\"0\"} ") >= rx0 + 40,
		       "packet counters move with traffic");
		free(text);

		/* funkhausctl: the everyday tasks as tables */
		int rc;
		char *out = ctl(argv[5], "rooms test", &rc);

		EXPECT(rc == 0 && strstr(out, "sitzung") && strstr(out, "1 room(s)"),
		       "funkhausctl rooms: %s", out);
		out = ctl(argv[5], "room test Sitzung", &rc);
		EXPECT(rc == 0 && strstr(out, "moderator") && strstr(out, "participant") &&
			       !strstr(out, "Bernd"),
		       "funkhausctl room: %s", out);
		out = ctl(argv[5], "load", &rc);
		EXPECT(rc == 0 && strstr(out, "taking new rooms") && strstr(out, "WORKER"),
		       "funkhausctl load: %s", out);
		out = ctl(argv[5], "tenants", &rc);
		EXPECT(rc == 0 && strstr(out, "rathaus") && strstr(out, "Rathaus"),
		       "funkhausctl tenants: %s", out);
		out = ctl(argv[5], "rooms nirgendwo", &rc);
		EXPECT(rc != 0 && strstr(out, "404"), "funkhausctl on an unknown tenant: %s", out);
		out = ctl(argv[5], "token-new anna rathaus", &rc);
		char tk[80] = "", line_hash[80] = "", want[65];

		sscanf(out, "%*[^\n]\n %79s %*[^=]= anna rathaus %79s", tk, line_hash);
		sha256_hex(tk, want);
		EXPECT(rc == 0 && strlen(tk) == 64 && !strcmp(want, line_hash),
		       "funkhausctl token-new: a token and the hash of it for the config (%s)",
		       out);

		/* drain: the running call goes on, a new room is refused, /readyz turns */
		o = api_json("POST", "/api/v1/node/drain", ops_token, NULL, &st);
		EXPECT(st == 200 && json_is_true(json_object_get(o, "draining")), "drain");
		json_decref(o);
		expect_status("unready while draining", "GET", "/readyz", NULL, NULL, 503);
		pump(all, 2, 300);
		EXPECT(fhc_draining(a) && fhc_draining(b), "the running room is told it drains");
		/* a running room still takes people: only new rooms are refused */
		p = fhc_connect(&po, err, sizeof(err));
		EXPECT(p && !fhc_waiting(p), "a join to a running room works while draining (%s)",
		       p ? "waits" : err);
		if (p)
			fhc_close(p);
		fo.room = "Neu";
		fo.prefix = NULL;
		struct fhc *n = fhc_connect(&fo, err, sizeof(err));

		EXPECT(n == NULL && strstr(err, "error 5005"), "no new room while draining (%s)",
		       err);
		if (n)
			fhc_close(n);
		talk(a, "weiter", 20, all, 2);
		EXPECT(last_payload_is(b, fhc_id(a), true, "weiter:19"),
		       "the running call goes on while draining");
		expect_status("undrain", "POST", "/api/v1/node/undrain", ops_token, NULL, 200);
		expect_status("ready again", "GET", "/readyz", NULL, NULL, 200);
		n = join("Neu", "Nora");
		EXPECT(n != NULL, "new rooms again after undrain");
		if (n)
			fhc_close(n);

		expect_status("closing the room", "DELETE", "/api/v1/tenants/test/rooms/Sitzung",
			      ops_token, NULL, 200);
		pump(all, 2, 300);
		EXPECT(!strcmp(fhc_closed(a), "admin") && !strcmp(fhc_closed(b), "admin"),
		       "closed for everyone in it");
		expect_status("closing it again", "DELETE", "/api/v1/tenants/test/rooms/Sitzung",
			      ops_token, NULL, 404);
	}
	for (int i = 0; i < 3; i++)
		if (all[i])
			fhc_close(all[i]);
	printf("rooms, metrics, drain (%d failures so far)\n", failures);

	/* a client that vanishes (its TCP connection reset right after media came up) is gone
	 * from its room at once, not only when its consent expires */
	for (int round = 0; round < 5; round++) {
		struct fhc *s1 = join("Abbruch", "Stefan"), *s2 = join("Abbruch", "Susi");

		if (s2)
			fhc_abort(s2);
		usleep(300 * 1000);
		o = api_json("GET", "/api/v1/tenants/test/rooms/Abbruch", ops_token, NULL, &st);
		EXPECT(st == 200 && json_integer_value(json_object_get(o, "participants")) == 1,
		       "round %d: a reset connection leaves its room within 300 ms (%lld left)",
		       round, (long long)json_integer_value(json_object_get(o, "participants")));
		json_decref(o);
		fhc_close(s1);
		usleep(100 * 1000);
	}

	/* consent expiry end to end: a participant whose media goes quiet (never polled, so it
	 * sends no checks) is told 5003, the other is told it left, and the room's count drops */
	{
		struct fhc *s1 = join("Stille", "Stefan"), *s2 = join("Stille", "Susi");

		if (s1 && s2) {
			struct fhc *one[] = {s1};

			pump(one, 1, (HARNESS_CONSENT_S + 2) * 1000);
			o = api_json("GET", "/api/v1/tenants/test/rooms/Stille", ops_token, NULL,
				     &st);
			EXPECT(st == 200 &&
				       json_integer_value(json_object_get(o, "participants")) == 1,
			       "after consent expiry the room has %lld participants, want 1",
			       (long long)json_integer_value(json_object_get(o, "participants")));
			json_decref(o);
			EXPECT(fhc_saw_left(s1, fhc_id(s2)), "the other one was told it left");
			fhc_poll(s2, 300);
			int e = fhc_last_error(s2);

			EXPECT(e == 5003, "the quiet one got %d, want 5003", e);
		}
		fhc_close(s1);
		fhc_close(s2);
	}
	printf("consent expiry (%d failures so far)\n", failures);

	/* deleting a tenant; SIGHUP picks up a new tenant file and a new token */
	expect_status("a tenant admin deleting", "DELETE", "/api/v1/tenants/verein", rat_token,
		      NULL, 403);
	expect_status("deleting the Verein", "DELETE", "/api/v1/tenants/verein", ops_token, NULL,
		      200);
	EXPECT(stat(path, &sb) < 0, "its file is gone");
	expect_status("deleting it again", "DELETE", "/api/v1/tenants/verein", ops_token, NULL,
		      404);
	put_file(dir, "t/amt.conf", "[tenant]\ndisplay_name = Amt\npath_prefix = amt\n");
	char late_hash[65];

	sha256_hex(late_token, late_hash);
	{
		FILE *f = fopen(h.conf, "a");

		fprintf(f, "[api]\ntoken = ops * %s\ntoken = late amt %s\n", ops_hash, late_hash);
		fclose(f);
	}
	kill(h.cp, SIGHUP);
	usleep(400 * 1000);
	expect_status("a tenant file added, then SIGHUP", "GET", "/api/v1/tenants/amt", ops_token,
		      NULL, 200);
	expect_status("a token added, then SIGHUP", "GET", "/api/v1/tenants/amt", late_token, NULL,
		      200);
	/* and revoked: its line taken out of the configuration, then SIGHUP */
	snprintf(path, sizeof(path), "grep -v '%s' %s > %s.new && mv %s.new %s", late_hash, h.conf,
		 h.conf, h.conf, h.conf);
	EXPECT(system(path) == 0, "the token's line removed");
	kill(h.cp, SIGHUP);
	usleep(400 * 1000);
	expect_status("a token revoked, then SIGHUP", "GET", "/api/v1/tenants/amt", late_token,
		      NULL, 401);
	expect_status("the others stay", "GET", "/api/v1/tenants/amt", ops_token, NULL, 200);
	printf("delete, reload (%d failures so far)\n", failures);

	/* the audit log: who did what, when; never a room's name or a participant's */
	snprintf(path, sizeof(path),
		 "grep -q 'ops api POST /api/v1/tenants -> 201' %s/logs/audit.log && "
		 "grep -q 'rathaus-admin api PUT /api/v1/tenants/rathaus/public-access -> 200' "
		 "%s/logs/audit.log && "
		 "grep -q 'ops api DELETE /api/v1/tenants/test/rooms/{room} -> 200' "
		 "%s/logs/audit.log "
		 "&& ! grep -qi 'sitzung\\|Kanarienvogel' %s/logs/audit.log",
		 dir, dir, dir, dir);
	EXPECT(system(path) == 0, "the audit log has who and what, no room names");

	/* an admin listener: the API and /metrics there only, the public port answers 404 */
	{
		FILE *f = fopen(h.conf, "a");

		fprintf(f, "[api]\nlisten = 127.0.0.1:%u\n", h.port + 1);
		fclose(f);
	}
	harness_kill_cp(&h, SIGINT);
	/* a daemons' clock this test can move: the drain grace below must not follow it */
	snprintf(path, sizeof(path), "%s/clock", dir);
	put_file(dir, "clock", "0\n");
	setenv("FUNKHAUS_TEST_CLOCK", path, 1);
	EXPECT(harness_start_cp(&h) == 0, "funkhaus-cp starts with an admin listener");
	check_doc = false; /* the public port does not have the API at all now */
	expect_status("the API on the public port", "GET", "/api/v1/tenants", ops_token, NULL, 404);
	expect_status("/metrics on the public port", "GET", "/metrics", ops_token, NULL, 404);
	expect_status("/readyz on the public port", "GET", "/readyz", NULL, NULL, 200);
	/* both listen on loopback only, as bind and listen say (not on every address) */
	char la[4][40];
	unsigned nl = listeners(h.port, la, 4);

	EXPECT(nl == 1 && !strcmp(la[0], "0100007F"), "the public port listens on 127.0.0.1 only");
	nl = listeners(h.port + 1u, la, 4);
	EXPECT(nl == 1 && !strcmp(la[0], "0100007F"), "the admin port listens on 127.0.0.1 only");
	check_doc = true;
	api_port = h.port + 1;
	expect_status("the API on the admin listener", "GET", "/api/v1/tenants", ops_token, NULL,
		      200);
	expect_status("/metrics on the admin listener", "GET", "/metrics", ops_token, NULL, 200);
	expect_status("no token on the admin listener either", "GET", "/api/v1/node", NULL, NULL,
		      401);
	expect_status("no web client on the admin listener", "GET", "/", NULL, NULL, 404);
	api_port = 0;
	printf("admin listener (%d failures so far)\n", failures);

	/* SIGTERM: drains, and stops when the grace period (2 s) is over, measured on a
	 * monotonic clock: the wall clock jumping a day on meanwhile does not end it early */
	struct fhc *last = join("Spaet", "Lena");
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(h.cp, SIGTERM);
	usleep(200 * 1000);
	put_file(dir, "clock", "86400\n");
	waitpid(h.cp, NULL, 0);
	h.cp = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long grace_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;

	EXPECT(grace_ms >= 1800 && grace_ms <= 6000,
	       "SIGTERM with a room open: funkhaus-cp drains for its grace of 2 s (%ld ms)",
	       grace_ms);
	put_file(dir, "clock", "0\n");
	if (last) {
		struct fhc *one[] = {last};

		pump(one, 1, 200);
		EXPECT(fhc_draining(last), "the participant was told the server drains");
		fhc_close(last);
	}
	EXPECT(harness_start_cp(&h) == 0, "funkhaus-cp starts again");

	/* the room password (set by REST, kept as a salted hash) and the display names are in no
	 * file the daemons wrote (logs, room records, tenant files) nor in their region */
	snprintf(path, sizeof(path),
		 "grep -rqa 'KanarienvogelPass8\\|KanarienvogelName8' %s %s /dev/shm%s", h.dir, dir,
		 h.region);
	EXPECT(system(path) != 0, "no room password or display name in any file the daemons wrote");
	harness_stop(&h, failures > 0);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		failures++;
	json_decref(openapi);
	curl_global_cleanup();
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
