/*
 * Integration test: room names as people type them, and moderation, end to end with both
 * daemons and fhc clients. The web server gives the client's page for a room's path in
 * percent-encoded UTF-8 ("/B%C3%BCrgersprechstunde", "/Elternabend%204b"), a page of the client
 * with 404 for an unknown path and a real 404 for a missing script; a room "Rat – Sitzung 12.3."
 * is one room whatever its case, and the admin API finds and closes it by its name in UTF-8.
 * Someone removed who comes back with a new connection waits in the lobby though the lobby is
 * off (and so does anyone else from that address) until a moderator decides; raised hands
 * reach everyone, the same state again is not relayed, a flood is rate-limited, moderators
 * lower one hand or all; moderator rights are given and taken back, and the last moderator
 * keeps them.
 *
 * Usage: test_names DP_BIN CP_BIN GEN_CERT WEB_ROOT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "calls.h"
#include "fh_curlbody.h"
#include "fhc.h"
#include "harness.h"

int failures;
struct harness h;

static const char ops_token[] = "ops-names-Jq4mW8rT2yV6cB0nX3kP7sL1dF5gH9zA";

/* One HTTPS request to the harness' port: its status, its body in *body (free it). */
static long get(const char *method, const char *path, const char *token, char **body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hd = NULL;
	struct fh_curlbody b = {0};
	char url[1024], auth[200];
	long status = -1;

	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", h.port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fh_curlbody_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	/* the path as given: curl must not tidy "%20" or a trailing dot away */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hd = curl_slist_append(hd, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	if (body)
		*body = b.p ? b.p : strdup("");
	else
		free(b.p);
	return status;
}

static void pages(void)
{
	static const char *const rooms[] = {
		"/B%C3%BCrgersprechstunde",	      /* Bürgersprechstunde */
		"/Bu%CC%88rgersprechstunde",	      /* the same in NFD */
		"/Elternabend%204b",		      /* a space */
		"/Rat%20%E2%80%93%20Sitzung%2012.3.", /* an en dash, a trailing dot */
		"/KulturvereinMarion",		      /* a name of before */
		"/v1.2",			      /* a dot: a room, not a file */
	};
	char *body;
	long st;

	for (size_t i = 0; i < sizeof(rooms) / sizeof(rooms[0]); i++) {
		st = get("GET", rooms[i], NULL, &body);
		EXPECT(st == 200 && strstr(body, "app.js"), "%s is the client's page (%ld)",
		       rooms[i], st);
		free(body);
	}
	/* not a room (a path with a slash in it, invalid UTF-8, a bidi override, a control
	 * character): the client's page, with 404, so that it shows "not found" */
	static const char *const unknown[] = {"/a/b/c", "/R%C3", "/Rat%E2%80%AE", "/a%01b"};

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		st = get("GET", unknown[i], NULL, &body);
		EXPECT(st == 404 && strstr(body, "app.js"),
		       "%s is the client's page with 404 (%ld, %.40s)", unknown[i], st, body);
		free(body);
	}
	/* a missing file of the kind a page loads is a plain 404 */
	st = get("GET", "/missing.js", NULL, &body);
	EXPECT(st == 404 && !strstr(body, "app.js"), "a missing script is a real 404 (%ld)", st);
	free(body);
	st = get("GET", "/app.js", NULL, &body);
	EXPECT(st == 200 && strstr(body, "Funkhaus web client"), "the client's script (%ld)", st);
	free(body);
}

static struct fhc *joined_only(const char *room, const char *name)
{
	struct fhc_opts o = {.room = room, .name = name, .stop = FHC_STOP_JOINED};
	int code;
	struct fhc *c = try_join_with(o, &code);

	EXPECT(c != NULL, "%s joins %s (error %d)", name, room, code);
	return c;
}

static void say(struct fhc *c, const char *fmt, const char *id)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, id ? id : "");
	fhc_send_text(c, msg, strlen(msg));
}

/* The case: "entfernen" and the removed person was back with one click. */
static void removed_comes_back(void)
{
	const char *room = "Rat \xe2\x80\x93 Sitzung 12.3.";
	struct fhc *a = join(room, "Anna"), *b = join("RAT \xe2\x80\x93 SITZUNG 12.3.", "Bert");
	const char *last;
	char err[256];

	if (!a || !b)
		return;
	struct fhc *all[] = {a, b};

	EXPECT(!strcmp(fhc_room(b), "RAT \xe2\x80\x93 SITZUNG 12.3."), "b's room as it wrote it");
	talk(a, "A", 10, all, 2);
	EXPECT(fhc_received_from(b, fhc_id(a), false) >= 8, "one room, whatever the case");
	say(a, "{\"type\":\"moderate\",\"action\":\"remove\",\"id\":\"%s\"}", fhc_id(b));
	pump(all, 2, 300);
	EXPECT(!strcmp(fhc_closed(b), "removed"), "b is removed (%s)", fhc_closed(b));
	fhc_close(b);

	/* back with a new connection, the lobby off: it waits for the moderator */
	struct fhc_opts o = {.room = room, .name = "Bert", .audio = true, .video = true};
	int code;

	b = try_join_with(o, &code);
	EXPECT(b && fhc_waiting(b), "the removed one comes back into the lobby (error %d)", code);
	if (!b)
		return;
	all[1] = b;
	pump(all, 2, 200);
	EXPECT(fhc_lobby(a, 0, NULL) && !fhc_lobby(a, 1, NULL), "the moderator sees one waiting");
	EXPECT(fhc_seen(a, "lobby", &last) && last && strstr(last, "\"returning\":true"),
	       "marked as one who returns: %s", last ? last : "");
	/* so does anyone else from that address, for this meeting */
	struct fhc *c = joined_only(room, "Carla");

	EXPECT(c && fhc_waiting(c), "another from that address waits too");
	struct fhc *three[] = {a, b, c};

	pump(three, 3, 200);
	/* switching the lobby off lets nobody of them in */
	say(a, "{\"type\":\"moderate\",\"action\":\"lobby\",\"on\":true}", NULL);
	pump(three, 3, 200);
	say(a, "{\"type\":\"moderate\",\"action\":\"lobby\",\"on\":false}", NULL);
	pump(three, 3, 300);
	EXPECT(fhc_waiting(b) && c && fhc_waiting(c), "the lobby off, they still wait");
	/* the moderator decides: c away, b in */
	if (c && fhc_lobby(a, 1, NULL)) {
		char id[17];

		snprintf(id, sizeof(id), "%s", fhc_lobby(a, 1, NULL));
		say(a, "{\"type\":\"moderate\",\"action\":\"deny\",\"id\":\"%s\"}", id);
		pump(three, 3, 300);
		EXPECT(!strcmp(fhc_closed(c), "denied"), "c is sent away (%s)", fhc_closed(c));
	}
	if (fhc_lobby(a, 0, NULL))
		say(a, "{\"type\":\"moderate\",\"action\":\"admit\",\"id\":\"%s\"}",
		    fhc_lobby(a, 0, NULL));
	EXPECT(fhc_enter(b, err, sizeof(err)) == 0, "b is let in: %s", err);
	talk(a, "A2", 10, all, 2);
	EXPECT(fhc_received_from(b, fhc_id(a), false) >= 8, "and has media");

	/* the admin API: the room by its name in UTF-8, any case; the list shows its key */
	char *body;
	long st = get("GET", "/api/v1/tenants/test/rooms", ops_token, &body);

	EXPECT(st == 200 && strstr(body, "\"rat \xe2\x80\x93 sitzung 12.3.\""),
	       "the room's key in the list (%ld): %.200s", st, body);
	free(body);
	st = get("GET", "/api/v1/tenants/test/rooms/Rat%20%E2%80%93%20Sitzung%2012.3.", ops_token,
		 &body);
	EXPECT(st == 200 && strstr(body, "\"participants\""), "the room by its name (%ld)", st);
	free(body);
	st = get("DELETE", "/api/v1/tenants/test/rooms/rat%20%E2%80%93%20SITZUNG%2012.3.",
		 ops_token, NULL);
	EXPECT(st == 200 || st == 204, "closed by another case of its name (%ld)", st);
	pump(all, 2, 300);
	EXPECT(!strcmp(fhc_closed(a), "admin"), "a hears the admin closed it (%s)", fhc_closed(a));
	st = get("GET", "/api/v1/tenants/test/rooms/Rat%E2%80%AE", ops_token, NULL);
	EXPECT(st == 404, "a name that is none: 404 (%ld)", st);
	fhc_close(a);
	fhc_close(b);
	if (c)
		fhc_close(c);

	/* the meeting is over: the next from that address comes straight in */
	c = joined_only(room, "Carla");
	EXPECT(c && !fhc_waiting(c), "a new meeting forgets who was removed");
	if (c)
		fhc_close(c);
}

static bool says(struct fhc *c, const char *type, const char *what)
{
	const char *last;

	return fhc_seen(c, type, &last) && last && strstr(last, what);
}

static void hands_and_rights(void)
{
	const char *room = "Elternabend 4b";
	struct fhc *a = joined_only(room, "Anna"), *b = joined_only("elternabend   4B", "Bert");
	struct fhc *c = joined_only("Elternabend\xc2\xa0"
				    "4b",
				    "Carla");
	char want[128];

	if (!a || !b || !c)
		return;
	struct fhc *all[] = {a, b, c};

	pump(all, 3, 200);
	say(b, "{\"type\":\"hand\",\"raised\":true}", NULL);
	pump(all, 3, 300);
	snprintf(want, sizeof(want), "\"id\":\"%s\",\"raised\":true", fhc_id(b));
	EXPECT(says(a, "hand", want) && says(b, "hand", want) && says(c, "hand", want),
	       "everyone, b too, hears b's hand is up");
	for (int i = 0; i < 5; i++)
		say(b, "{\"type\":\"hand\",\"raised\":true}", NULL);
	pump(all, 3, 300);
	EXPECT(fhc_seen(a, "hand", NULL) == 1, "the same hand again is not relayed (%u)",
	       fhc_seen(a, "hand", NULL));
	/* a guest lowers nobody's hand; a moderator lowers one, or all */
	say(c, "{\"type\":\"moderate\",\"action\":\"lower\",\"id\":\"%s\"}", fhc_id(b));
	pump(all, 3, 200);
	EXPECT(fhc_last_error(c) == 4030, "a guest cannot lower a hand");
	say(c, "{\"type\":\"hand\",\"raised\":true}", NULL);
	pump(all, 3, 200);
	say(a, "{\"type\":\"moderate\",\"action\":\"lower\",\"id\":\"%s\"}", fhc_id(b));
	pump(all, 3, 300);
	snprintf(want, sizeof(want), "\"id\":\"%s\",\"raised\":false", fhc_id(b));
	EXPECT(fhc_seen(c, "hand", NULL) == 3 && says(c, "hand", want), "b's hand lowered");
	say(a, "{\"type\":\"moderate\",\"action\":\"lower\"}", NULL);
	pump(all, 3, 300);
	snprintf(want, sizeof(want), "\"id\":\"%s\",\"raised\":false", fhc_id(c));
	EXPECT(fhc_seen(b, "hand", NULL) == 4 && says(b, "hand", want), "every hand lowered (%u)",
	       fhc_seen(b, "hand", NULL));
	/* who comes later sees raised hands in the list */
	say(b, "{\"type\":\"hand\",\"raised\":true}", NULL);
	pump(all, 3, 200);
	struct fhc *d = joined_only(room, "Dana");

	snprintf(want, sizeof(want), "\"id\":\"%s\"", fhc_id(b));
	{
		const char *j = NULL, *at;

		fhc_seen(d, "joined", &j);
		at = j ? strstr(j, want) : NULL;
		EXPECT(at && strstr(at, "\"hand\":true"), "d's list has b's hand up: %s",
		       j ? j : "");
	}
	/* a flood of hands is cut by the signalling rate like everything else */
	for (int i = 0; i < 200; i++)
		say(c,
		    i % 2 ? "{\"type\":\"hand\",\"raised\":false}"
			  : "{\"type\":\"hand\",\"raised\":true}",
		    NULL);
	struct fhc *four[] = {a, b, c, d};

	pump(four, 4, 1000);
	unsigned relayed = fhc_seen(a, "hand", NULL);

	EXPECT(fhc_last_error(c) == 4011 && relayed < 5 + 150,
	       "the flood is rate-limited (4011; %u relayed of 200)", relayed);

	/* rights given and taken back */
	say(a, "{\"type\":\"moderate\",\"action\":\"promote\",\"id\":\"%s\"}", fhc_id(b));
	pump(four, 4, 300);
	snprintf(want, sizeof(want), "\"id\":\"%s\",\"moderator\":true", fhc_id(b));
	EXPECT(fhc_moderator(b) && says(d, "moderator", want), "b moderates");
	say(a, "{\"type\":\"moderate\",\"action\":\"demote\",\"id\":\"%s\"}", fhc_id(b));
	pump(four, 4, 300);
	snprintf(want, sizeof(want), "\"id\":\"%s\",\"moderator\":false", fhc_id(b));
	EXPECT(!fhc_moderator(b) && says(d, "moderator", want), "b no longer moderates");
	fhc_last_error(b);
	say(b, "{\"type\":\"moderate\",\"action\":\"lower\"}", NULL);
	pump(four, 4, 200);
	EXPECT(fhc_last_error(b) == 4030, "b cannot moderate any more");
	say(a, "{\"type\":\"moderate\",\"action\":\"demote\",\"id\":\"%s\"}", fhc_id(a));
	pump(four, 4, 200);
	EXPECT(fhc_last_error(a) == 4048 && fhc_moderator(a),
	       "the last moderator keeps the rights");
	/* with another moderator, one may give them up */
	say(a, "{\"type\":\"moderate\",\"action\":\"promote\",\"id\":\"%s\"}", fhc_id(d));
	pump(four, 4, 200);
	say(a, "{\"type\":\"moderate\",\"action\":\"demote\",\"id\":\"%s\"}", fhc_id(a));
	pump(four, 4, 300);
	EXPECT(!fhc_moderator(a) && fhc_moderator(d), "a gave its rights up, d has them");
	for (int i = 0; i < 4; i++)
		fhc_close(four[i]);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/fh-names-XXXXXX", conf[512], hash[65], path[300];
	uint8_t md[32];
	unsigned n = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: %s DP_BIN CP_BIN GEN_CERT WEB_ROOT\n", argv[0]);
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	EVP_Digest(ops_token, strlen(ops_token), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(hash + 2 * i, "%02x", md[i]);
	snprintf(conf, sizeof(conf), "[api]\ntoken = ops * %s\n", hash);
	put_file(dir, "extra.conf", conf);
	snprintf(path, sizeof(path), "%s/extra.conf", dir);
	setenv("FUNKHAUS_EXTRA_CONF", path, 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (harness_start(&h, argv, 1) < 0) {
		harness_stop(&h, true);
		return 1;
	}
	pages();
	removed_comes_back();
	hands_and_rights();
	harness_stop(&h, failures > 0);
	unlink(path);
	rmdir(dir);
	curl_global_cleanup();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
