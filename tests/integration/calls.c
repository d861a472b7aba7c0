/* calls: helpers the integration and dpdk tests share to hold calls with fhc clients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"

void put_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "FAIL: cannot write %s\n", path);
		exit(1);
	}
}

struct fhc *join(const char *room, const char *name)
{
	return join_via(room, name, NULL);
}

struct fhc *try_join_with(struct fhc_opts o, int *code)
{
	char err[256];
	struct fhc *c;
	const char *e;

	/* the harness' node, audio and video, 5 s a step, unless the test says otherwise */
	if (!o.host)
		o.host = "127.0.0.1";
	if (!o.port)
		o.port = h.port;
	if (!o.timeout_ms)
		o.timeout_ms = 5000;
	if (!o.name)
		o.name = "Bürgerin";
	if (!o.room)
		o.room = "";
	c = fhc_connect(&o, err, sizeof(err));
	e = strstr(err, "error ");
	if (code)
		*code = c ? 0 : e ? atoi(e + 6) : -1;
	return c;
}

struct fhc *join_via(const char *room, const char *name, const char *media)
{
	char err[256];
	struct fhc_opts o = {.host = "127.0.0.1",
			     .port = h.port,
			     .room = room,
			     .name = name,
			     .audio = true,
			     .video = true,
			     .timeout_ms = 5000,
			     .media = media};
	struct fhc *c = fhc_connect(&o, err, sizeof(err));

	if (!c) {
		fprintf(stderr, "FAIL: %s cannot join %s: %s\n", name, room, err);
		failures++;
	}
	return c;
}

/* Drives every client for ms milliseconds. */
void pump(struct fhc **cs, int n, int ms)
{
	for (int t = 0; t < ms; t += 10)
		for (int i = 0; i < n; i++)
			if (cs[i])
				fhc_poll(cs[i], 10 / n ? 10 / n : 1);
}

/* Sends n audio and n video packets from c, pumping everyone in between. */
void talk(struct fhc *c, const char *tag, int n, struct fhc **all, int n_all)
{
	for (int i = 0; i < n; i++) {
		char payload[64];
		int len = snprintf(payload, sizeof(payload), "%s:%d", tag, i);

		fhc_send(c, false, (uint8_t *)payload, (size_t)len, false);
		fhc_send(c, true, (uint8_t *)payload, (size_t)len, true);
		pump(all, n_all, 20);
	}
	pump(all, n_all, 300);
}

bool last_payload_is(struct fhc *c, const char *from, bool video, const char *want)
{
	struct fhc_stream_stats st[FHC_MAX_RECV];
	unsigned n = fhc_streams(c, st, FHC_MAX_RECV);

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(st[i].stream_id, from) && st[i].video == video &&
		    st[i].last_len == strlen(want) &&
		    !memcmp(st[i].last_payload, want, st[i].last_len))
			return true;
	return false;
}

uint64_t total_received(struct fhc *c)
{
	struct fhc_stream_stats st[FHC_MAX_RECV];
	unsigned n = fhc_streams(c, st, FHC_MAX_RECV);
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += st[i].packets;
	return t;
}
