/*
 * fh-join: one simulated participant from the command line, for scripts (the cluster tests):
 * joins a room at a node (following the cluster's redirects as the web client does), brings
 * media up, sends Opus-like audio and a little VP8-like video while it holds, and prints one
 * JSON line of what happened: whether it joined, the server's error code, how many redirects it
 * followed and which node it ended on, how long the join took, and what it received from the
 * others (packets, the longest gap, how long ago the last packet came).
 *
 *   fh-join -H 198.18.60.11:8443 -r Gemeinderat [-w PASSWORD] [-d HOLD_S] [-p PEERS]
 *
 * Exit status 0 when it joined with media (and, with -p, received media from that many others
 * before the hold ended), 1 otherwise, 2 for bad arguments. Every wait is bounded: the join by
 * -t, the hold by -d. Single-threaded.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fhc.h"

struct args {
	char host[64];
	uint16_t port;
	const char *room, *password, *name, *ws_path;
	const char *set_password; /* as the room's moderator, set this password once in */
	unsigned timeout_ms, hold_s, peers;
	int max_redirects;
	bool listen; /* receive only: publishes nothing */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fh-join -H HOST[:PORT] -r ROOM [options]\n"
		"  -H HOST[:PORT]  a node (or https://HOST:PORT), port 8443 when none is given\n"
		"  -r ROOM         the room's name\n"
		"  -w PASSWORD     the room's password\n"
		"  -W PASSWORD     once in (as the room's moderator), set the room's password\n"
		"  -n NAME         display name (fh-join)\n"
		"  -t MS           bound of each step of the join (8000)\n"
		"  -d SECONDS      hold the call this long, sending and receiving (0: leave at "
		"once)\n"
		"  -p N            wait (within the hold) for media from N others; fail without\n"
		"  -R N            follow at most N redirects (default 2; 0: follow none)\n"
		"  -s PATH         signalling path (/ws)\n"
		"  -l              listen only: publish nothing\n");
}

static int parse(int argc, char **argv, struct args *a)
{
	int c;

	*a = (struct args){.name = "fh-join", .timeout_ms = 8000, .max_redirects = 2};
	while ((c = getopt(argc, argv, "H:r:w:W:n:t:d:p:R:s:lh")) != -1) {
		switch (c) {
		case 'H':
			if (fhc_parse_url(optarg, 8443, a->host, sizeof(a->host), &a->port) < 0)
				return -1;
			break;
		case 'r':
			a->room = optarg;
			break;
		case 'w':
			a->password = optarg;
			break;
		case 'W':
			a->set_password = optarg;
			break;
		case 'n':
			a->name = optarg;
			break;
		case 't':
			a->timeout_ms = (unsigned)atoi(optarg);
			break;
		case 'd':
			a->hold_s = (unsigned)atoi(optarg);
			break;
		case 'p':
			a->peers = (unsigned)atoi(optarg);
			break;
		case 'R':
			a->max_redirects = atoi(optarg);
			break;
		case 's':
			a->ws_path = optarg;
			break;
		case 'l':
			a->listen = true;
			break;
		default:
			return -1;
		}
	}
	if (!a->host[0] || !a->room || a->timeout_ms < 100 || a->timeout_ms > 60000 ||
	    a->hold_s > 3600 || a->peers > 64 || a->max_redirects < 0 || a->max_redirects > 3)
		return -1;
	return 0;
}

/* Sends what is due: audio every 20 ms, a video frame of 3 packets every 100 ms. */
static void send_due(struct fhc *c, uint64_t now, uint64_t *next_a, uint64_t *next_v)
{
	uint8_t buf[600];

	while (*next_a <= now) {
		fhc_stamp(buf);
		memset(buf + FHC_STAMP_LEN, 0xa5, 100 - FHC_STAMP_LEN);
		fhc_send(c, false, buf, 100, false);
		*next_a += 20000;
	}
	while (*next_v <= now) {
		for (int k = 0; k < 3; k++) {
			fhc_stamp(buf);
			memset(buf + FHC_STAMP_LEN, 0x3c, sizeof(buf) - FHC_STAMP_LEN);
			fhc_send(c, true, buf, sizeof(buf), k == 2);
		}
		*next_v += 100000;
	}
}

/* As moderator: the room's password, confirmed by the server's "room" message; 0 or -1. */
static int set_password(struct fhc *c, const char *pw, unsigned timeout_ms)
{
	json_t *m = json_pack("{s:s, s:s, s:s}", "type", "moderate", "action", "password",
			      "password", pw);
	char *s = json_dumps(m, JSON_COMPACT);
	unsigned before = fhc_seen(c, "room", NULL);
	uint64_t end = fhc_now_us() + (uint64_t)timeout_ms * 1000;
	int rc = s && fhc_send_text(c, s, strlen(s)) == 0 ? 0 : -1;

	free(s);
	json_decref(m);
	while (rc == 0 && fhc_seen(c, "room", NULL) == before) {
		if (fhc_now_us() > end || fhc_poll(c, 20) < 0 || fhc_last_error(c))
			rc = -1;
	}
	return rc;
}

/* The others whose media came: how many, their packets, the longest gap, the newest. */
struct got {
	unsigned from;
	uint64_t packets, max_gap_us, last_us;
};

static void received(const struct fhc *c, struct got *g)
{
	static struct fhc_stream_stats st[FHC_MAX_RECV];
	char ids[FHC_MAX_RECV][24];
	unsigned n = fhc_streams(c, st, FHC_MAX_RECV), n_ids = 0;

	memset(g, 0, sizeof(*g));
	for (unsigned i = 0; i < n; i++) {
		if (!st[i].packets)
			continue;
		bool known = false;

		for (unsigned k = 0; k < n_ids && !known; k++)
			known = !strcmp(ids[k], st[i].stream_id);
		if (!known && n_ids < FHC_MAX_RECV)
			snprintf(ids[n_ids++], sizeof(ids[0]), "%s", st[i].stream_id);
		g->packets += st[i].packets;
		if (st[i].max_gap_us > g->max_gap_us)
			g->max_gap_us = st[i].max_gap_us;
		if (st[i].last_us > g->last_us)
			g->last_us = st[i].last_us;
	}
	g->from = n_ids;
}

int main(int argc, char **argv)
{
	struct args a;
	char err[256] = "";

	if (parse(argc, argv, &a) < 0) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	struct fhc_opts o = {.host = a.host,
			     .port = a.port,
			     .room = a.room,
			     .name = a.name,
			     .password = a.password,
			     .ws_path = a.ws_path,
			     .audio = !a.listen,
			     .video = !a.listen,
			     .timeout_ms = a.timeout_ms,
			     .max_redirects = a.max_redirects ? a.max_redirects : -1};
	uint64_t t0 = fhc_now_us();
	struct fhc *c = fhc_connect(&o, err, sizeof(err));
	json_t *out = json_object();
	bool ok = c != NULL;

	json_object_set_new(out, "joined", json_boolean(c != NULL));
	json_object_set_new(out, "connect_ms",
			    json_integer((json_int_t)(fhc_now_us() - t0) / 1000));
	if (!c) {
		/* the code is in the reason fhc gives ("join refused with error 5010") */
		const char *e = strstr(err, "error ");

		json_object_set_new(out, "error", json_integer(e ? atoi(e + 6) : 0));
		json_object_set_new(out, "message", json_string(err));
		json_object_set_new(out, "redirect_loop",
				    json_boolean(strstr(err, "redirected") != NULL));
	} else {
		if (a.set_password) {
			bool set = set_password(c, a.set_password, a.timeout_ms) == 0;

			json_object_set_new(out, "password_set", json_boolean(set));
			ok = ok && set;
		}
		uint64_t end = fhc_now_us() + (uint64_t)a.hold_s * 1000000;
		uint64_t next_a = fhc_now_us(), next_v = next_a;
		struct got g = {0};

		while (!stop && fhc_now_us() < end) {
			if (fhc_poll(c, 5) < 0)
				break;
			if (!a.listen)
				send_due(c, fhc_now_us(), &next_a, &next_v);
			received(c, &g);
			/* waiting only for the others: leave when they came and no hold is asked */
			if (!a.hold_s)
				break;
		}
		while (a.peers && !a.hold_s && !stop && g.from < a.peers &&
		       fhc_now_us() < t0 + (uint64_t)a.timeout_ms * 1000) {
			fhc_poll(c, 5);
			send_due(c, fhc_now_us(), &next_a, &next_v);
			received(c, &g);
		}
		received(c, &g);
		ok = ok && g.from >= a.peers;
		json_object_set_new(out, "error", json_integer(fhc_last_error(c)));
		json_object_set_new(out, "room", json_string(fhc_room(c)));
		json_object_set_new(out, "hops", json_integer(fhc_hops(c)));
		json_object_set_new(out, "node", json_string(fhc_node(c)));
		json_object_set_new(out, "where", json_string(fhc_where(c)));
		json_object_set_new(out, "joined_ms",
				    json_integer((json_int_t)fhc_joined_us(c) / 1000));
		json_object_set_new(out, "media_ms",
				    json_integer((json_int_t)fhc_media_us(c) / 1000));
		json_object_set_new(out, "from", json_integer(g.from));
		json_object_set_new(out, "packets", json_integer((json_int_t)g.packets));
		json_object_set_new(out, "max_gap_ms",
				    json_integer((json_int_t)g.max_gap_us / 1000));
		json_object_set_new(
			out, "last_rx_age_ms",
			json_integer(g.last_us ? (json_int_t)(fhc_now_us() - g.last_us) / 1000
					       : -1));
		json_object_set_new(out, "signalling", json_boolean(fhc_signalling_open(c)));
		json_t *nodes = json_array();

		for (unsigned i = 0; fhc_peer_node(c, i); i++)
			json_array_append_new(nodes, json_string(fhc_peer_node(c, i)));
		json_object_set_new(out, "nodes", nodes);
		fhc_close(c);
	}
	json_object_set_new(out, "ok", json_boolean(ok));
	char *s = json_dumps(out, JSON_COMPACT);

	printf("%s\n", s ? s : "{}");
	free(s);
	json_decref(out);
	return ok ? 0 : 1;
}
