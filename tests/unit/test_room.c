/* Unit tests of cp_room, driven directly through its connection seam: fake connections that
 * record what is sent to them, and a real region in memory (fh_region_create under a unique
 * name) whose command ring is read back as the recorded dataplane. A join gets "joined"; offers
 * become PART_ADD, STREAM_ADD and SUB_SET (receive slots); the lobby holds a joiner until a moderator admits it;
 * a moderator's mute reaches the dataplane while a guest's is refused with 4030; wrong room
 * passwords from one source end in 4034 while another source is still heard. Passwords are
 * hashed on cp_pwhash's threads, so the test ticks the room until the hash is back. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cp_limits.h"
#include "cp_room.h"
#include "cp_room_pvt.h" /* cp_speaker_recent, which a later choice of sources reads */
#include "cp_sig.h"
#include "cp_tenant.h"
#include "fh_region.h"
#include "fh_test.h"

#define MAX_SENT 256
#define MAX_CMDS 8192

/* A signalling connection as cp_room sees it, keeping everything it was sent. */
struct cp_conn {
	struct cp_part *part;
	char peer[64];
	struct cp_source *src;
	char *sent[MAX_SENT];
	unsigned n_sent;
	bool closed;
};

static uint64_t now_ms = 1000000; /* the test's clock: cp_room and cp_dp see only this */
static struct fh_region dp;	  /* the dataplane's side of the region */
static struct fh_cmd cmds[MAX_CMDS];
static unsigned n_cmds;

static void conn_send(struct cp_conn *c, char *json)
{
	if (c->n_sent < MAX_SENT)
		c->sent[c->n_sent++] = json;
	else
		free(json);
}

static void conn_close(struct cp_conn *c)
{
	c->closed = true;
}

static void conn_set_part(struct cp_conn *c, struct cp_part *p)
{
	c->part = p;
}

static struct cp_part *conn_part(struct cp_conn *c)
{
	return c->part;
}

static void conn_facts(const struct cp_conn *c, struct cp_room_conn_facts *f)
{
	f->host = "meet.example";
	f->path = "/ws";
	f->peer = c->peer;
	f->src = c->src;
}

static uint64_t clock_ms(void)
{
	return now_ms;
}

static const struct cp_room_conn_ops ops = {
	.send = conn_send,
	.close = conn_close,
	.set_part = conn_set_part,
	.part = conn_part,
	.facts = conn_facts,
	.now_ms = clock_ms,
};

static void conn_init(struct cp_conn *c, const char *ip)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};

	memset(c, 0, sizeof(*c));
	snprintf(c->peer, sizeof(c->peer), "%s", ip);
	inet_pton(AF_INET, ip, &sa.sin_addr);
	c->src = cp_limits_conn_open((const struct sockaddr *)&sa, sizeof(sa));
}

static void conn_forget(struct cp_conn *c)
{
	for (unsigned i = 0; i < c->n_sent; i++)
		free(c->sent[i]);
	c->n_sent = 0;
}

/* The dataplane's part of a tick: its heartbeat moves, and what cp_room commanded is read;
 * the clock moves by step ms. */
static void tick_by(uint64_t step)
{
	struct fh_cmd c;

	now_ms += step;
	__atomic_add_fetch(&dp.hdr->heartbeat, 1, __ATOMIC_RELEASE);
	cp_room_tick(now_ms);
	while (rte_ring_sc_dequeue_elem(fh_region_cmd(&dp, 0), &c, sizeof(c)) == 0)
		if (n_cmds < MAX_CMDS)
			cmds[n_cmds++] = c;
}

static void tick(void)
{
	tick_by(10);
}

/* Waits (in real time, the clock standing still so that no bound runs out) for cp_pwhash:
 * PBKDF2 at today's work factor takes a while, longer under the sanitizers. */
#define WAIT_FOR(cond)                                          \
	do {                                                    \
		for (int _i = 0; _i < 60000 && !(cond); _i++) { \
			usleep(1000);                           \
			tick_by(0);                             \
		}                                               \
	} while (0)

static unsigned count_cmds(uint8_t type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < n_cmds; i++)
		n += cmds[i].type == type;
	return n;
}

/* A receive slot pointed at a published stream (SUB_SET with a stream). */
static bool is_map(const struct fh_cmd *c)
{
	return c->type == FH_CMD_SUB_SET && c->u.sub.pub_key != 0;
}

static unsigned count_maps(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < n_cmds; i++)
		n += is_map(&cmds[i]);
	return n;
}

static const struct fh_cmd *find_map(unsigned nth)
{
	for (unsigned i = 0; i < n_cmds; i++)
		if (is_map(&cmds[i]) && nth-- == 0)
			return &cmds[i];
	return NULL;
}

static const struct fh_cmd *find_cmd(uint8_t type, unsigned nth)
{
	for (unsigned i = 0; i < n_cmds; i++)
		if (cmds[i].type == type && nth-- == 0)
			return &cmds[i];
	return NULL;
}

static void say(struct cp_conn *c, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	cp_room_message(c, s, strlen(s));
	free(s);
	json_decref(o);
	tick();
}

/* The last message of the type sent to c (parsed; the caller frees it), NULL when none. */
static json_t *last_of(const struct cp_conn *c, const char *type)
{
	for (unsigned i = c->n_sent; i-- > 0;) {
		json_t *o = json_loads(c->sent[i], 0, NULL);
		const char *t = json_string_value(json_object_get(o, "type"));

		if (t && !strcmp(t, type))
			return o;
		json_decref(o);
	}
	return NULL;
}

static unsigned count_of(const struct cp_conn *c, const char *type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->n_sent; i++) {
		json_t *o = json_loads(c->sent[i], 0, NULL);
		const char *t = json_string_value(json_object_get(o, "type"));

		n += t && !strcmp(t, type);
		json_decref(o);
	}
	return n;
}

static bool got(const struct cp_conn *c, const char *type)
{
	json_t *o = last_of(c, type);

	json_decref(o);
	return o != NULL;
}

/* The code of the last error sent to c, 0 when none. */
static int last_error(const struct cp_conn *c)
{
	json_t *o = last_of(c, "error");
	int code = o ? (int)json_integer_value(json_object_get(o, "code")) : 0;

	json_decref(o);
	return code;
}

static void copy_id(const struct cp_conn *c, const char *type, char id[17])
{
	json_t *o = last_of(c, type);
	const char *s = json_string_value(json_object_get(o, "id"));

	snprintf(id, 17, "%s", s ? s : "");
	json_decref(o);
}

static char *read_sdp(const char *name)
{
	char path[512];
	FILE *f;
	static char buf[16384];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", FH_TEST_DATA, name);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return strdup("");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void join(struct cp_conn *c, const char *name, const char *password)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "type", "join", "room", "Alpha", "name", name);

	if (password)
		json_object_set_new(o, "password", json_string(password));
	say(c, o);
}

static void offer(struct cp_conn *c, const char *file)
{
	say(c, json_pack("{s:s, s:s}", "type", "offer", "sdp", read_sdp(file)));
}

static void moderate(struct cp_conn *c, const char *action, const char *id)
{
	json_t *o = json_pack("{s:s, s:s}", "type", "moderate", "action", action);

	if (id)
		json_object_set_new(o, "id", json_string(id));
	say(c, o);
}

static char tdir[64], region[64];

static void setup(void)
{
	struct cp_tenant_defaults def = {.max_participants = 30, .chat = true};
	struct cp_tenants ts = {0};
	struct fh_addr announce = {.family = FH_AF_INET};
	struct cp_room_conf rc = {.max_participants = 30, .n_announce = 1, .dtls_timeout_s = 10};
	uint16_t port = 40000;
	char path[128], err[256];
	FILE *f;

	rc.announce = &announce;
	snprintf(tdir, sizeof(tdir), "/tmp/fh-room-XXXXXX");
	CHECK(mkdtemp(tdir) != NULL);
	snprintf(path, sizeof(path), "%s/main.conf", tdir);
	f = fopen(path, "w");
	fputs("[tenant]\nname = demo\n", f);
	fclose(f);
	CHECK_EQ(cp_tenants_load(path, NULL, &def, &ts, err, sizeof(err)), 0);
	cp_limits_init(&cp_limits_defaults, 1024);
	snprintf(region, sizeof(region), "/funkhaus-test-room-%d", (int)getpid());
	CHECK_EQ(fh_region_create(&dp, region, 1, &port), 0);
	CHECK_EQ(cp_room_init(&rc, region, &ops), 0);
	cp_room_set_tenants(&ts);
	/* attached once the heartbeat is seen to move */
	for (int i = 0; i < 100; i++) {
		int ready;
		unsigned rooms, parts;

		tick();
		cp_room_stats(&ready, &rooms, &parts);
		if (ready)
			break;
	}
	unlink(path);
	rmdir(tdir);
}

static struct cp_conn a, b, c, d1, d2, e, sc, g, h1, h2;

/* A joins and opens the room (it moderates); B joins and sees A. */
static void joins(void)
{
	int ready = 0;
	unsigned rooms, parts;

	cp_room_stats(&ready, &rooms, &parts);
	CHECK(ready);
	conn_init(&a, "192.0.2.1");
	conn_init(&b, "192.0.2.2");
	join(&a, "Ann", NULL);
	CHECK(got(&a, "joined"));
	json_t *j = last_of(&a, "joined");

	CHECK(json_is_true(json_object_get(j, "moderator")));
	CHECK_EQ(json_array_size(json_object_get(j, "participants")), 0);
	json_decref(j);
	join(&b, "Bo", NULL);
	j = last_of(&b, "joined");
	CHECK(j && !json_is_true(json_object_get(j, "moderator")));
	CHECK_EQ(json_array_size(json_object_get(j, "participants")), 1);
	json_decref(j);
	CHECK(got(&a, "participant-joined"));
	cp_room_stats(&ready, &rooms, &parts);
	CHECK_EQ(rooms, 1);
	CHECK_EQ(parts, 2);
	CHECK_EQ(n_cmds, 0); /* nothing reaches the dataplane before an offer */
}

/* A publishes audio and video; B receives them on its recvonly m-lines. */
static void offers(void)
{
	const struct fh_cmd *sa, *sv, *sub;

	offer(&a, "chrome-offer-sendrecv-audio-video.sdp");
	CHECK(got(&a, "answer"));
	CHECK_EQ(count_cmds(FH_CMD_PART_ADD), 1);
	CHECK_EQ(count_cmds(FH_CMD_STREAM_ADD), 2);
	CHECK_EQ(count_maps(), 0);
	sa = find_cmd(FH_CMD_STREAM_ADD, 0);
	sv = find_cmd(FH_CMD_STREAM_ADD, 1);
	CHECK(sa && sv && sa->u.stream.kind == FH_KIND_AUDIO && sv->u.stream.kind == FH_KIND_VIDEO);
	CHECK(sa && sa->u.stream.clock_rate == 48000 && sa->u.stream.ssrc != 0);

	offer(&b, "chrome-offer-recvonly-1a2v.sdp");
	CHECK(got(&b, "answer"));
	CHECK_EQ(count_cmds(FH_CMD_PART_ADD), 2);
	CHECK_EQ(count_maps(), 2);
	sub = find_map(0);
	CHECK(sub && sa && sub->u.sub.pub_key == sa->u.stream.key);
	CHECK(sub && sub->u.sub.pub_slot == find_cmd(FH_CMD_PART_ADD, 0)->slot);
	CHECK(sub && sub->slot == find_cmd(FH_CMD_PART_ADD, 1)->slot);
	sub = find_map(1);
	CHECK(sub && sv && sub->u.sub.pub_key == sv->u.stream.key && sub->u.sub.out_ssrc);
}

/* With the lobby on, a newcomer waits and sees nobody until the moderator lets it in. */
static void lobby(void)
{
	char id[17];
	json_t *l;

	say(&a, json_pack("{s:s, s:s, s:b}", "type", "moderate", "action", "lobby", "on", 1));
	conn_init(&c, "192.0.2.3");
	join(&c, "Cem", NULL);
	CHECK(got(&c, "waiting"));
	CHECK(!got(&c, "joined"));
	CHECK(!got(&b, "participant-joined")); /* nobody learns of one who waits */
	l = last_of(&a, "lobby");
	CHECK(l && json_array_size(json_object_get(l, "waiting")) == 1);
	snprintf(id, sizeof(id), "%s",
		 json_string_value(
			 json_object_get(json_array_get(json_object_get(l, "waiting"), 0), "id")));
	json_decref(l);
	/* a guest cannot let anyone in */
	moderate(&b, "admit", id);
	CHECK_EQ(last_error(&b), 4030);
	CHECK(!got(&c, "joined"));
	moderate(&a, "admit", id);
	CHECK(got(&c, "joined"));
	CHECK(got(&b, "participant-joined"));
	l = last_of(&a, "lobby");
	CHECK(l && json_array_size(json_object_get(l, "waiting")) == 0);
	json_decref(l);
}

/* A moderator's mute stops the audio in the dataplane; a guest's is refused with 4030. */
static void moderation(void)
{
	char cid[17], aid[17];
	const struct fh_cmd *ca, *m;
	unsigned mutes;

	copy_id(&c, "joined", cid);
	copy_id(&a, "joined", aid);
	offer(&c, "chrome-offer-sendrecv-audio-video.sdp");
	CHECK_EQ(count_cmds(FH_CMD_PART_ADD), 3);
	CHECK_EQ(count_cmds(FH_CMD_STREAM_ADD), 4);
	ca = find_cmd(FH_CMD_STREAM_ADD, 2);
	mutes = count_cmds(FH_CMD_MUTE);
	moderate(&b, "mute", aid);
	CHECK_EQ(last_error(&b), 4030);
	CHECK_EQ(count_cmds(FH_CMD_MUTE), mutes);
	moderate(&a, "mute", cid);
	CHECK_EQ(count_cmds(FH_CMD_MUTE), mutes + 1);
	m = find_cmd(FH_CMD_MUTE, mutes);
	CHECK(m && ca && m->u.mute.muted && m->u.mute.key == ca->u.stream.key);
	CHECK(m && m->slot == find_cmd(FH_CMD_PART_ADD, 2)->slot);
	json_t *o = last_of(&c, "moderation");

	CHECK(o && !strcmp(json_string_value(json_object_get(o, "action")), "mute"));
	json_decref(o);
	o = last_of(&b, "mute");
	CHECK(o && json_is_true(json_object_get(o, "audioMuted")));
	json_decref(o);
}

/* The last command of the type for slot, NULL when none. */
static const struct fh_cmd *last_cmd_for(uint8_t type, uint16_t slot)
{
	for (unsigned i = n_cmds; i-- > 0;)
		if (cmds[i].type == type && cmds[i].slot == slot)
			return &cmds[i];
	return NULL;
}

/* Chrome publishing simulcast (rids q, h, f and no SSRC): its header extension ids reach the
 * dataplane before its streams; the video is one stream under a key of ours with three layers,
 * lowest first; B, asked to renegotiate, receives it by that key; the same offer again
 * changes nothing. */
static void simulcast(void)
{
	say(&a, json_pack("{s:s, s:s, s:b}", "type", "moderate", "action", "lobby", "on", 0));
	conn_init(&sc, "192.0.2.6");
	join(&sc, "Sim", NULL);
	CHECK(got(&sc, "joined"));
	unsigned first = n_cmds;

	unsigned b_reneg = count_of(&b, "renegotiate");

	offer(&sc, "chrome-offer-sendonly-simulcast.sdp");
	json_t *an = last_of(&sc, "answer");
	const char *sdp = json_string_value(json_object_get(an, "sdp"));

	CHECK(sdp && strstr(sdp, "a=simulcast:recv q;h;f\r\n"));
	json_decref(an);
	const struct fh_cmd *pa = find_cmd(FH_CMD_PART_ADD, count_cmds(FH_CMD_PART_ADD) - 1);
	uint16_t slot = pa ? pa->slot : 0;
	const struct fh_cmd *md = last_cmd_for(FH_CMD_MEDIA, slot);
	const struct fh_cmd *sv = last_cmd_for(FH_CMD_STREAM_ADD, slot);

	CHECK(md && md > &cmds[first] && sv && md < sv);
	if (md) {
		CHECK_EQ(md->u.media.ext[FH_EXT_MID], 4);
		CHECK_EQ(md->u.media.ext[FH_EXT_RID], 10);
		CHECK_EQ(md->u.media.ext[FH_EXT_RRID], 11);
		CHECK_EQ(md->u.media.ext[FH_EXT_TWCC], 3);
		CHECK_EQ(md->u.media.ext[FH_EXT_ABS_SEND_TIME], 2);
		CHECK_EQ(md->u.media.ext[FH_EXT_AUDIO_LEVEL], 1);
		CHECK_EQ(md->u.media.twcc, 1);
	}
	CHECK(sv && sv->u.stream.kind == FH_KIND_VIDEO);
	if (sv) {
		CHECK(sv->u.stream.key != 0 && sv->u.stream.ssrc == 0);
		CHECK_EQ(sv->u.stream.n_layers, 3);
		CHECK(!strcmp(sv->u.stream.mid, "1"));
		CHECK(!strcmp(sv->u.stream.rid[0], "q") && !strcmp(sv->u.stream.rid[1], "h") &&
		      !strcmp(sv->u.stream.rid[2], "f"));
		CHECK_EQ(sv->u.stream.pt, 96);
		CHECK_EQ(sv->u.stream.rtx_pt, 97);
	}
	uint32_t key = sv ? sv->u.stream.key : 0;
	unsigned subs = count_maps(), adds = count_cmds(FH_CMD_STREAM_ADD);
	unsigned dels = count_cmds(FH_CMD_STREAM_DEL), medias = count_cmds(FH_CMD_MEDIA);

	/* B's two video slots show A and C; its page puts Sim's camera on its stage: one slot
	 * takes it, by key (no SDP changes hands) */
	char sid[17];

	copy_id(&sc, "joined", sid);
	CHECK_EQ(count_of(&b, "renegotiate"), b_reneg); /* a new publisher changes no SDP */
	say(&b, json_pack("{s:s, s:{s:s, s:s}, s:i}", "type", "constraints", "stage", "id", sid,
			  "source", "camera", "max", 1));
	CHECK(count_maps() > subs);
	json_t *sl = last_of(&b, "slots");
	json_t *vs = json_object_get(sl, "video");
	unsigned shown = 0;

	for (size_t i = 0; i < json_array_size(vs); i++) {
		const char *vid = json_string_value(json_object_get(json_array_get(vs, i), "id"));

		shown += vid != NULL;
		CHECK(!vid || !strcmp(vid, sid));
	}
	CHECK_EQ(shown, 1); /* max 1: only the stage */
	json_decref(sl);
	bool by_key = false;

	for (unsigned i = 0; i < n_cmds; i++)
		by_key |= is_map(&cmds[i]) && cmds[i].u.sub.pub_key == key &&
			  cmds[i].u.sub.pub_slot == slot;
	CHECK(by_key);
	offer(&sc, "chrome-offer-sendonly-simulcast.sdp");
	CHECK_EQ(count_cmds(FH_CMD_STREAM_ADD), adds);
	CHECK_EQ(count_cmds(FH_CMD_STREAM_DEL), dels);
	CHECK_EQ(count_cmds(FH_CMD_MEDIA), medias); /* neither B's ids nor Sim's changed */
}

/* A Firefox-like client (max-bundle: port 0 and bundle-only on every m-line after the first)
 * as the web client drives it: its two sending lines, then as many receive lines of each kind
 * as the last "renegotiate" asked for, adding only what it lacks; lines an answer rejected
 * (port 0) are stopped, stay in later offers as rejected lines and no longer count. */
struct ff_client {
	unsigned n;
	char kind[48]; /* 'a' or 'v' per receive line */
	bool stopped[48];
};

static char *ff_offer(const struct ff_client *f)
{
	static char out[262144];
	char *base = strdup(read_sdp("firefox-style-offer-sendonly-simulcast.sdp"));
	char *ra = strdup(read_sdp("firefox-style-recv-audio.sdp"));
	char *rv = strdup(read_sdp("firefox-style-recv-video.sdp"));
	char *g = strstr(base, "a=group:BUNDLE 0 1\n");
	size_t n = 0;

	CHECK(g != NULL);
	*g = '\0';
	n += (size_t)snprintf(out + n, sizeof(out) - n, "%sa=group:BUNDLE 0 1", base);
	for (unsigned i = 0; i < f->n; i++)
		if (!f->stopped[i])
			n += (size_t)snprintf(out + n, sizeof(out) - n, " %u", i + 2);
	n += (size_t)snprintf(out + n, sizeof(out) - n, "\n%s", g + strlen("a=group:BUNDLE 0 1\n"));
	for (unsigned i = 0; i < f->n; i++) {
		char mid[8], *m = strdup(f->kind[i] == 'a' ? ra : rv), *at = strstr(m, "a=mid:MID");

		snprintf(mid, sizeof(mid), "%u", i + 2);
		*at = '\0';
		if (f->stopped[i]) {
			/* a stopped transceiver: rejected, no bundle-only */
			char *bo = strstr(m, "a=bundle-only\n");

			if (bo)
				memmove(bo, bo + 14, strlen(bo + 14) + 1);
		}
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%sa=mid:%s%s", m, mid,
				      at + strlen("a=mid:MID"));
		free(m);
	}
	free(base);
	free(ra);
	free(rv);
	return out;
}

/* Marks the receive lines the answer rejected as stopped, as the browser does. */
static void ff_answered(struct ff_client *f, const char *answer)
{
	unsigned i = 0;

	for (const char *s = answer; (s = strstr(s, "\r\nm=")); s += 4, i++) {
		const char *sp = strchr(s + 4, ' ');

		if (i >= 2 && i - 2 < f->n && sp && !strncmp(sp, " 0 ", 3))
			f->stopped[i - 2] = true;
	}
}

static unsigned ff_live(const struct ff_client *f, char k)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->n; i++)
		n += f->kind[i] == k && !f->stopped[i];
	return n;
}

/* A Firefox participant joins a room where A and C publish: its receive lines (port 0 +
 * bundle-only) are assigned, its simulcast video is published, and it is asked to renegotiate
 * a bounded number of times. */
static void firefox(void)
{
	struct ff_client f = {0};
	unsigned rounds = 0, subs = count_maps(), parts;

	say(&a, json_pack("{s:s, s:s, s:b}", "type", "moderate", "action", "lobby", "on", 0));
	conn_init(&e, "192.0.2.5");
	join(&e, "Eva", NULL);
	CHECK(got(&e, "joined"));
	parts = count_cmds(FH_CMD_PART_ADD);
	for (;;) {
		conn_forget(&e);
		say(&e, json_pack("{s:s, s:s}", "type", "offer", "sdp", ff_offer(&f)));
		json_t *an = last_of(&e, "answer");
		const char *sdp = json_string_value(json_object_get(an, "sdp"));

		CHECK(sdp != NULL);
		if (sdp)
			ff_answered(&f, sdp);
		json_decref(an);
		json_t *r = last_of(&e, "renegotiate");

		if (!r || rounds > 40) {
			json_decref(r);
			break;
		}
		rounds++;
		json_t *recv = json_object_get(r, "recv");
		unsigned wa = (unsigned)json_integer_value(json_object_get(recv, "audio"));
		unsigned wv = (unsigned)json_integer_value(json_object_get(recv, "video"));

		for (unsigned h = ff_live(&f, 'a'); h < wa && f.n < 48; h++)
			f.kind[f.n++] = 'a';
		for (unsigned h = ff_live(&f, 'v'); h < wv && f.n < 48; h++)
			f.kind[f.n++] = 'v';
		json_decref(r);
	}
	CHECK_EQ(count_cmds(FH_CMD_PART_ADD), parts + 1);
	CHECK(rounds >= 1 && rounds <= 2);
	if (rounds > 2)
		fprintf(stderr, "firefox: asked to renegotiate %u times\n", rounds);
	/* audio and video of A, C and Sim */
	CHECK_EQ(count_maps(), subs + 6);
	CHECK_EQ(f.n, 6 + 9); /* its pool: 6 audio and (by default) 9 video slots */
	for (unsigned i = 0; i < f.n; i++)
		CHECK(!f.stopped[i]);
	/* Firefox' ids, and its simulcast video by rid (its SSRCs come without a SIM group) */
	const struct fh_cmd *pa = find_cmd(FH_CMD_PART_ADD, parts);
	uint16_t slot = pa ? pa->slot : 0;
	const struct fh_cmd *md = last_cmd_for(FH_CMD_MEDIA, slot);
	const struct fh_cmd *sv = last_cmd_for(FH_CMD_STREAM_ADD, slot);

	CHECK(md && md->u.media.ext[FH_EXT_AUDIO_LEVEL] == 1 && md->u.media.ext[FH_EXT_MID] == 3 &&
	      md->u.media.ext[FH_EXT_ABS_SEND_TIME] == 4 && md->u.media.ext[FH_EXT_TWCC] == 7 &&
	      md->u.media.ext[FH_EXT_RID] == 8 && md->u.media.ext[FH_EXT_RRID] == 9 &&
	      md->u.media.twcc);
	CHECK(sv && sv->u.stream.kind == FH_KIND_VIDEO && sv->u.stream.n_layers == 3 &&
	      !strcmp(sv->u.stream.rid[0], "l") && !strcmp(sv->u.stream.rid[2], "h") &&
	      sv->u.stream.layer_ssrc[0] == 0 && sv->u.stream.pt == 120 &&
	      sv->u.stream.rtx_pt == 124 && !strcmp(sv->u.stream.mid, "1"));
}

/* A client that never adds what it is asked for is asked a bounded number of times. */
static void bounded(void)
{
	unsigned asked = 0;

	conn_init(&g, "192.0.2.8");
	join(&g, "Gus", NULL);
	for (int i = 0; i < 40; i++) {
		conn_forget(&g);
		offer(&g, "chrome-offer-sendrecv-audio-video.sdp");
		if (!got(&g, "renegotiate"))
			break;
		asked++;
	}
	CHECK_EQ(asked, cp_limits()->renegotiations);
}

static void speaker_evt(uint16_t type, uint16_t slot, uint32_t room, uint32_t n,
			const uint16_t *slots)
{
	struct fh_evt ev = {.type = type, .slot = slot, .room = room, .arg = n};

	for (uint32_t i = 0; i < n && i < FH_EVT_SLOTS; i++)
		ev.slots[i] = slots[i];
	CHECK_EQ(rte_ring_sp_enqueue_elem(fh_region_evt(&dp, 0), &ev, sizeof(ev)), 0);
}

/* The worker's speaker events: the room hears who holds the stage and who speaks (the latter
 * at most every 250 ms), stale events are ignored, a newcomer hears the dominant speaker right
 * after "joined", and the room keeps its recent dominant speakers in order. */
static void speakers(void)
{
	char aid[17], bid[17];
	const struct fh_cmd *pa = find_cmd(FH_CMD_PART_ADD, 0), *pb = find_cmd(FH_CMD_PART_ADD, 1);
	json_t *o;

	copy_id(&a, "joined", aid);
	copy_id(&b, "joined", bid);
	conn_forget(&a);
	conn_forget(&b);
	speaker_evt(FH_EVT_SPEAKER, pa->slot, pa->room, 0, NULL);
	tick();
	for (struct cp_conn *k = &a; k; k = k == &a ? &b : NULL) {
		o = last_of(k, "speaker");
		CHECK(o && !strcmp(json_string_value(json_object_get(o, "id")), aid));
		json_decref(o);
	}
	/* stale: another room's, a slot nobody holds, the same speaker again */
	speaker_evt(FH_EVT_SPEAKER, pb->slot, pa->room + 1, 0, NULL);
	speaker_evt(FH_EVT_SPEAKER, 1000, pa->room, 0, NULL);
	speaker_evt(FH_EVT_SPEAKER, 0xffff, pa->room, 0, NULL);
	speaker_evt(FH_EVT_SPEAKER, pa->slot, pa->room, 0, NULL);
	tick();
	CHECK_EQ(count_of(&b, "speaker"), 1);

	uint16_t both[FH_EVT_SLOTS] = {pb->slot, pa->slot};

	speaker_evt(FH_EVT_SPEAKING, 0xffff, pa->room, 2, both);
	tick();
	o = last_of(&a, "speaking");
	CHECK(o && json_array_size(json_object_get(o, "ids")) == 2 &&
	      !strcmp(json_string_value(json_array_get(json_object_get(o, "ids"), 0)), bid) &&
	      !strcmp(json_string_value(json_array_get(json_object_get(o, "ids"), 1)), aid));
	json_decref(o);
	/* a change 10 ms later waits its turn, then goes out as the latest state */
	speaker_evt(FH_EVT_SPEAKING, 0xffff, pa->room, 1, both);
	speaker_evt(FH_EVT_SPEAKING, 0xffff, pa->room, 99, both); /* malformed: ignored */
	tick();
	CHECK_EQ(count_of(&a, "speaking"), 1);
	tick_by(300);
	CHECK_EQ(count_of(&a, "speaking"), 2);
	o = last_of(&b, "speaking");
	CHECK(o && json_array_size(json_object_get(o, "ids")) == 1 &&
	      !strcmp(json_string_value(json_array_get(json_object_get(o, "ids"), 0)), bid));
	json_decref(o);
	/* nobody speaks: an empty list */
	tick_by(300);
	speaker_evt(FH_EVT_SPEAKING, 0xffff, pa->room, 0, NULL);
	tick();
	o = last_of(&b, "speaking");
	CHECK(o && json_array_size(json_object_get(o, "ids")) == 0);
	json_decref(o);

	/* a newcomer: "joined", then who holds the stage */
	conn_init(&h1, "192.0.2.9");
	join(&h1, "Hal", NULL);
	CHECK(h1.n_sent >= 2 && strstr(h1.sent[0], "\"joined\""));
	o = last_of(&h1, "speaker");
	CHECK(o && !strcmp(json_string_value(json_object_get(o, "id")), aid));
	json_decref(o);

	/* B takes the stage: the recent list is B, A; B leaves: A only, and nobody holds the
	 * stage until the worker says who does */
	speaker_evt(FH_EVT_SPEAKER, pb->slot, pb->room, 0, NULL);
	tick();
	o = last_of(&h1, "speaker");
	CHECK(o && !strcmp(json_string_value(json_object_get(o, "id")), bid));
	json_decref(o);
	struct cp_room *r = cp_room_g.by_slot[0][pa->slot]->room;
	uint64_t ids[4];

	CHECK_EQ(cp_speaker_recent(r, ids, 4), 2);
	CHECK(ids[0] == strtoull(bid, NULL, 16) && ids[1] == strtoull(aid, NULL, 16));
	CHECK_EQ(cp_speaker_recent(r, ids, 1), 1);
	cp_room_closed(&b);
	b.part = NULL; /* the connection is gone, as cp_server forgets it */
	tick();
	CHECK_EQ(cp_speaker_recent(r, ids, 4), 1);
	CHECK(ids[0] == strtoull(aid, NULL, 16));
	conn_init(&h2, "192.0.2.10");
	join(&h2, "Hedi", NULL);
	CHECK(got(&h2, "joined"));
	CHECK(!got(&h2, "speaker"));
}

/* Wrong guesses from one source end in 4034 for it; another source is still told 4032. */
static void passwords(void)
{
	const unsigned per_source = cp_limits_defaults.pw_per_source;

	say(&a, json_pack("{s:s, s:s, s:b}", "type", "moderate", "action", "lobby", "on", 0));
	conn_forget(&a);
	say(&a, json_pack("{s:s, s:s, s:s}", "type", "moderate", "action", "password", "password",
			  "correct horse"));
	/* hashed off the loop: the room learns of it when the hash is back */
	WAIT_FOR(got(&a, "room"));
	json_t *o = last_of(&a, "room");

	CHECK(o && json_is_true(json_object_get(o, "password")));
	json_decref(o);

	conn_init(&d1, "198.51.100.7");
	conn_init(&d2, "203.0.113.9");
	join(&d1, "Dora", NULL);
	CHECK_EQ(last_error(&d1), 4033);
	for (unsigned i = 0; i < per_source; i++) {
		conn_forget(&d1);
		join(&d1, "Dora", "wrong");
		/* a verdict from cp_pwhash, or the quick check: the error comes either way */
		WAIT_FOR(last_error(&d1));
		CHECK_EQ(last_error(&d1), 4032);
	}
	conn_forget(&d1);
	join(&d1, "Dora", "correct horse");
	CHECK_EQ(last_error(&d1), 4034); /* even the right one, for a while */
	CHECK(!got(&d1, "joined"));
	join(&d2, "Dan", "wrong");
	WAIT_FOR(last_error(&d2));
	CHECK_EQ(last_error(&d2), 4032);
	conn_forget(&d2);
	join(&d2, "Dan", "correct horse");
	WAIT_FOR(got(&d2, "joined") || last_error(&d2));
	CHECK(got(&d2, "joined"));
}

static void join_room(struct cp_conn *c, const char *room, const char *name)
{
	say(c, json_pack("{s:s, s:s, s:s}", "type", "join", "room", room, "name", name));
}

static void hand(struct cp_conn *c, bool raised)
{
	say(c, json_pack("{s:s, s:b}", "type", "hand", "raised", raised));
}

/* Whether c's last "hand" message says id's hand is raised (1), lowered (0); -1: none. */
static int hand_of(const struct cp_conn *c, const char *id)
{
	json_t *o = last_of(c, "hand");
	int r = o && !strcmp(json_string_value(json_object_get(o, "id")), id)
			? json_is_true(json_object_get(o, "raised"))
			: -1;

	json_decref(o);
	return r;
}

static struct cp_conn n1, n2, n3, n4, n5;

/* One room whatever form its name was typed in; hands raised and lowered, by their owners
 * and by a moderator; rights given and taken back; one removed who comes back waits in the
 * lobby for this meeting (and so does anyone from that address), lobby on or off. */
static void names_hands_rights(void)
{
	char id1[17], id2[17], id3[17];
	json_t *o;

	conn_init(&n1, "192.0.2.21");
	conn_init(&n2, "192.0.2.22");
	conn_init(&n3, "192.0.2.23");
	join_room(&n1, "B\xc3\xbcrgersprechstunde", "Hanna");
	join_room(&n2, "Bu\xcc\x88rgersprechstunde", "Hugo");		   /* NFD */
	join_room(&n3, " B\xc3\x9cRGER\xe2\x80\x8bSPRECHSTUNDE ", "Hedi"); /* caps, ZWSP */
	copy_id(&n1, "joined", id1);
	copy_id(&n2, "joined", id2);
	copy_id(&n3, "joined", id3);
	o = last_of(&n3, "joined");
	CHECK(o && json_array_size(json_object_get(o, "participants")) == 2);
	/* the name as shown: NFC, trimmed, without the invisible space; and every participant
	 * object says whether its hand is up */
	CHECK(o &&
	      !strcmp(json_string_value(json_object_get(o, "room")), "B\xc3\x9cRGERSPRECHSTUNDE"));
	CHECK(o && json_is_false(json_object_get(
			   json_array_get(json_object_get(o, "participants"), 0), "hand")));
	json_decref(o);
	o = last_of(&n2, "joined");
	CHECK(o &&
	      !strcmp(json_string_value(json_object_get(o, "room")), "B\xc3\xbcrgersprechstunde"));
	json_decref(o);

	/* hands: everyone hears, the sender too; the same again is not relayed */
	hand(&n2, true);
	CHECK_EQ(hand_of(&n1, id2), 1);
	CHECK_EQ(hand_of(&n2, id2), 1);
	CHECK_EQ(hand_of(&n3, id2), 1);
	for (int i = 0; i < 5; i++)
		hand(&n2, true);
	CHECK_EQ(count_of(&n1, "hand"), 1);
	/* a guest cannot lower another's hand; a moderator can, one or all */
	moderate(&n3, "lower", id2);
	CHECK_EQ(last_error(&n3), 4030);
	moderate(&n1, "lower", "0123456789abcdef");
	CHECK_EQ(last_error(&n1), 4031);
	moderate(&n1, "lower", id2);
	CHECK_EQ(hand_of(&n3, id2), 0);
	CHECK_EQ(count_of(&n1, "hand"), 2);
	hand(&n2, true);
	hand(&n3, true);
	CHECK_EQ(count_of(&n1, "hand"), 4);
	moderate(&n1, "lower", NULL);
	CHECK_EQ(count_of(&n1, "hand"), 6);
	CHECK_EQ(count_of(&n2, "hand"), 6);
	hand(&n3, true);
	/* one who comes later sees the raised hand in the list */
	conn_init(&n4, "192.0.2.24");
	join_room(&n4, "b\xc3\xbcrgersprechstunde", "Heiko");
	o = last_of(&n4, "joined");
	for (size_t i = 0; o && i < json_array_size(json_object_get(o, "participants")); i++) {
		json_t *q = json_array_get(json_object_get(o, "participants"), i);

		CHECK_EQ(json_is_true(json_object_get(q, "hand")),
			 !strcmp(json_string_value(json_object_get(q, "id")), id3));
	}
	json_decref(o);

	/* rights: given, and taken back; the last moderator keeps them */
	moderate(&n1, "promote", id2);
	o = last_of(&n3, "moderator");
	CHECK(o && !strcmp(json_string_value(json_object_get(o, "id")), id2) &&
	      json_is_true(json_object_get(o, "moderator")));
	json_decref(o);
	CHECK(got(&n2, "lobby")); /* a new moderator sees the lobby */
	moderate(&n1, "demote", id2);
	o = last_of(&n3, "moderator");
	CHECK(o && !strcmp(json_string_value(json_object_get(o, "id")), id2) &&
	      json_is_false(json_object_get(o, "moderator")));
	json_decref(o);
	moderate(&n2, "lower", NULL);
	CHECK_EQ(last_error(&n2), 4030);
	moderate(&n1, "demote", id1);
	CHECK_EQ(last_error(&n1), 4048);
	moderate(&n3, "demote", id1);
	CHECK_EQ(last_error(&n3), 4030);

	/* removed: gone at once; back from the same address (a new connection), it waits though
	 * the lobby is off, and stays waiting when the lobby is switched on and off */
	moderate(&n1, "remove", id3);
	o = last_of(&n3, "closed");
	CHECK(o && !strcmp(json_string_value(json_object_get(o, "reason")), "removed"));
	json_decref(o);
	cp_room_closed(&n3);
	conn_forget(&n3);
	conn_forget(&n1);
	conn_init(&n3, "192.0.2.23");
	join_room(&n3, "B\xc3\xbcrgersprechstunde", "Hedi");
	CHECK(got(&n3, "waiting"));
	CHECK(!got(&n3, "joined"));
	o = last_of(&n1, "lobby");
	json_t *w = json_array_get(json_object_get(o, "waiting"), 0);

	CHECK(o && json_array_size(json_object_get(o, "waiting")) == 1 &&
	      json_is_true(json_object_get(w, "returning")));
	json_decref(o);
	/* another address comes straight in */
	conn_init(&n5, "192.0.2.25");
	join_room(&n5, "B\xc3\xbcrgersprechstunde", "Henrik");
	CHECK(got(&n5, "joined"));
	say(&n1, json_pack("{s:s, s:s, s:b}", "type", "moderate", "action", "lobby", "on", 1));
	say(&n1, json_pack("{s:s, s:s, s:b}", "type", "moderate", "action", "lobby", "on", 0));
	CHECK(!got(&n3, "joined"));
	o = last_of(&n1, "lobby");
	snprintf(id3, sizeof(id3), "%s",
		 json_string_value(
			 json_object_get(json_array_get(json_object_get(o, "waiting"), 0), "id")));
	json_decref(o);
	moderate(&n1, "admit", id3);
	CHECK(got(&n3, "joined"));

	/* the meeting ends with its last participant: the next one from that address comes in */
	struct cp_conn *all[] = {&n1, &n2, &n3, &n4, &n5};

	for (unsigned i = 0; i < 5; i++) {
		cp_room_closed(all[i]);
		conn_forget(all[i]);
	}
	tick();
	conn_init(&n3, "192.0.2.23");
	join_room(&n3, "B\xc3\xbcrgersprechstunde", "Hedi");
	CHECK(got(&n3, "joined"));
	cp_room_closed(&n3);
	conn_forget(&n3);
	tick();
}

/* A moderator restricts screen sharing to moderators for the room, and opens it again;
 * others may not, and the switch needs its "on". */
static void screen_rights(void)
{
	json_t *o;

	conn_init(&n4, "192.0.2.24");
	conn_init(&n5, "192.0.2.25");
	join_room(&n4, "Vortrag", "Vera");
	join_room(&n5, "Vortrag", "Viktor");
	o = last_of(&n5, "joined");
	CHECK(o && json_is_false(json_object_get(o, "screenModerators")));
	json_decref(o);
	say(&n5, json_pack("{s:s, s:s, s:b}", "type", "moderate", "action", "screen", "on", 1));
	CHECK_EQ(last_error(&n5), CP_ERR_NOT_MODERATOR);
	say(&n4, json_pack("{s:s, s:s}", "type", "moderate", "action", "screen"));
	CHECK_EQ(last_error(&n4), CP_ERR_MISSING_FIELD);
	say(&n4, json_pack("{s:s, s:s, s:b}", "type", "moderate", "action", "screen", "on", 1));
	o = last_of(&n5, "room");
	CHECK(o && json_is_true(json_object_get(o, "screenModerators")));
	json_decref(o);
	conn_init(&n3, "192.0.2.23");
	join_room(&n3, "Vortrag", "Wanda");
	o = last_of(&n3, "joined");
	CHECK(o && json_is_true(json_object_get(o, "screenModerators")));
	json_decref(o);
	say(&n4, json_pack("{s:s, s:s, s:b}", "type", "moderate", "action", "screen", "on", 0));
	o = last_of(&n3, "room");
	CHECK(o && json_is_false(json_object_get(o, "screenModerators")));
	json_decref(o);
	struct cp_conn *all[] = {&n3, &n4, &n5};

	for (unsigned i = 0; i < 3; i++) {
		cp_room_closed(all[i]);
		conn_forget(all[i]);
	}
	tick();
}

/* Every connection goes: the dataplane forgets who was in it, and the room goes. */
/* How many of a "slots" message's entries of one kind carry someone; each carried source is
 * counted once. */
/* Whether c's last "slots" message maps participant id onto a slot of the kind. */
static bool slot_has(const struct cp_conn *c, const char *kind, const char *id)
{
	json_t *o = last_of(c, "slots");
	json_t *a = json_object_get(o, kind);
	bool has = false;

	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_object_get(json_array_get(a, i), "id"));

		has |= s && !strcmp(s, id);
	}
	json_decref(o);
	return has;
}

static unsigned slots_carried(const struct cp_conn *c, const char *kind)
{
	json_t *o = last_of(c, "slots");
	json_t *a = json_object_get(o, kind);
	unsigned n = 0;

	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *id = json_string_value(json_object_get(json_array_get(a, i), "id"));

		n += id != NULL;
		for (size_t j = 0; id && j < i; j++) {
			const char *o2 =
				json_string_value(json_object_get(json_array_get(a, j), "id"));

			CHECK(!o2 || strcmp(o2, id));
		}
	}
	json_decref(o);
	return n;
}

/* A room of 14 whose clients offer their whole pool (6 audio and 9 video slots) at once:
 * nobody is asked to renegotiate or gets another answer when the others join; each gets the
 * audio of at most 6 and the video of at most 9; a page's constraints choose its videos;
 * malformed constraints are refused with 4004. */
#define BIG 14
static struct cp_conn big[BIG];
static unsigned big_dels;

static void large_room(void)
{
	char ip[32], name[16], ids[BIG][17];
	unsigned answers[BIG] = {0}, renegs[BIG] = {0};

	for (unsigned i = 0; i < BIG; i++) {
		struct ff_client f = {.n = 15};

		for (unsigned k = 0; k < f.n; k++)
			f.kind[k] = k < 6 ? 'a' : 'v';
		snprintf(ip, sizeof(ip), "198.51.100.%u", 10 + i);
		snprintf(name, sizeof(name), "P%u", i);
		conn_init(&big[i], ip);
		say(&big[i],
		    json_pack("{s:s, s:s, s:s}", "type", "join", "room", "Gross", "name", name));
		CHECK(got(&big[i], "joined"));
		json_t *j = last_of(&big[i], "joined");
		json_t *sl = json_object_get(j, "slots");

		CHECK_EQ(json_integer_value(json_object_get(sl, "audio")), 6);
		CHECK_EQ(json_integer_value(json_object_get(sl, "video")), 9);
		json_decref(j);
		copy_id(&big[i], "joined", ids[i]);
		say(&big[i], json_pack("{s:s, s:s}", "type", "offer", "sdp", ff_offer(&f)));
		CHECK(got(&big[i], "answer"));
		for (unsigned k = 0; k <= i; k++) {
			unsigned na = count_of(&big[k], "answer"),
				 nr = count_of(&big[k], "renegotiate");

			if (k < i) { /* those already in: no SDP changes hands */
				CHECK_EQ(na, answers[k]);
				CHECK_EQ(nr, renegs[k]);
			}
			answers[k] = na;
			renegs[k] = nr;
		}
	}
	for (unsigned i = 0; i < BIG; i++) {
		CHECK_EQ(renegs[i], 0);
		CHECK_EQ(answers[i], 1);
		CHECK_EQ(slots_carried(&big[i], "audio"), 6);
		CHECK_EQ(slots_carried(&big[i], "video"), 9);
	}
	/* P0's page shows P13 on its stage and P12 in one tile, two videos at most */
	say(&big[0],
	    json_pack("{s:s, s:{s:s}, s:[{s:s, s:i}], s:i}", "type", "constraints", "stage", "id",
		      ids[13], "tiles", "id", ids[12], "height", 180, "max", 2));
	CHECK_EQ(slots_carried(&big[0], "video"), 2);
	json_t *o = last_of(&big[0], "slots");
	bool stage = false, tile = false;

	for (size_t i = 0; i < json_array_size(json_object_get(o, "video")); i++) {
		const char *id = json_string_value(
			json_object_get(json_array_get(json_object_get(o, "video"), i), "id"));

		stage |= id && !strcmp(id, ids[13]);
		tile |= id && !strcmp(id, ids[12]);
	}
	CHECK(stage && tile);
	json_decref(o);
	/* the tile of 180 px gets the lowest layer only, the stage all of them */
	bool capped = false;

	for (unsigned i = n_cmds; i-- > 0 && !capped;)
		capped = is_map(&cmds[i]) && cmds[i].u.sub.layers == 1;
	CHECK(capped);

	/* bad constraints: refused, the mapping stays */
	unsigned maps = count_maps();
	const char *bad[] = {
		"{\"type\":\"constraints\",\"stage\":5}",
		"{\"type\":\"constraints\",\"tiles\":[{\"id\":\"zz\"}]}",
		"{\"type\":\"constraints\",\"tiles\":[{\"id\":7}]}",
		"{\"type\":\"constraints\",\"tiles\":[{\"id\":\"0123456789abcdef\","
		"\"source\":\"microwave\"}]}",
		"{\"type\":\"constraints\",\"tiles\":[{\"id\":\"0123456789abcdef\","
		"\"height\":-3}]}",
		"{\"type\":\"constraints\",\"max\":-1}",
		"{\"type\":\"constraints\",\"tiles\":\"all\"}",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conn_forget(&big[0]);
		cp_room_message(&big[0], bad[i], strlen(bad[i]));
		tick();
		CHECK_EQ(last_error(&big[0]), 4004);
	}
	CHECK_EQ(count_maps(), maps);
	/* an unknown participant in the tiles is no error: it may have just left */
	conn_forget(&big[0]);
	say(&big[0], json_pack("{s:s, s:[{s:s}]}", "type", "constraints", "tiles", "id",
			       "0123456789abcdef"));
	CHECK_EQ(last_error(&big[0]), 0);
	CHECK_EQ(slots_carried(&big[0], "video"), 0);

	/* P13, whom P2's six audio and nine video slots do not carry, takes the stage (the
	 * worker says so): it is mapped in at once, still without SDP */
	const struct fh_cmd *p13 = NULL;

	for (unsigned i = 0; i < n_cmds; i++)
		if (cmds[i].type == FH_CMD_PART_ADD)
			p13 = &cmds[i]; /* the last one in: P13 */
	CHECK(!slot_has(&big[2], "audio", ids[13]) && !slot_has(&big[2], "video", ids[13]));
	speaker_evt(FH_EVT_SPEAKER, p13->slot, p13->room, 0, NULL);
	tick();
	o = last_of(&big[2], "speaker");
	CHECK(o && !strcmp(json_string_value(json_object_get(o, "id")), ids[13]));
	json_decref(o);
	CHECK(slot_has(&big[2], "audio", ids[13]) && slot_has(&big[2], "video", ids[13]));
	CHECK_EQ(slots_carried(&big[2], "audio"), 6);
	CHECK_EQ(count_of(&big[2], "renegotiate"), 0);

	/* Someone who speaks but never takes the stage (a short answer): the worker's set of
	 * those speaking names it, and a receiver whose audio slots did not carry it gets its
	 * audio at once; its video stays as it was (the stage decides that) */
	const struct fh_cmd *pa_of[BIG];
	unsigned n_pa = 0;
	int quiet = -1;

	for (unsigned i = 0; i < n_cmds; i++)
		if (cmds[i].type == FH_CMD_PART_ADD && cmds[i].room == p13->room && n_pa < BIG)
			pa_of[n_pa++] = &cmds[i];
	CHECK_EQ(n_pa, BIG);
	for (unsigned j = 3; j < BIG - 1 && quiet < 0; j++)
		if (!slot_has(&big[2], "audio", ids[j]))
			quiet = (int)j;
	CHECK(quiet >= 3);
	bool had_video = slot_has(&big[2], "video", ids[quiet]);
	const uint16_t set[1] = {pa_of[quiet]->slot};

	speaker_evt(FH_EVT_SPEAKING, 0xffff, p13->room, 1, set);
	tick();
	CHECK(slot_has(&big[2], "audio", ids[quiet]));
	CHECK(slot_has(&big[2], "audio", ids[13])); /* the speaker keeps its audio */
	CHECK_EQ(slots_carried(&big[2], "audio"), 6);
	CHECK_EQ(slot_has(&big[2], "video", ids[quiet]), had_video);
	CHECK_EQ(count_of(&big[2], "renegotiate"), 0);

	/* P1 leaves: everyone's slots carry the others, still without SDP */
	cp_room_closed(&big[1]);
	tick();
	for (unsigned i = 2; i < BIG; i++) {
		CHECK_EQ(count_of(&big[i], "answer"), 1);
		CHECK_EQ(count_of(&big[i], "renegotiate"), 0);
		CHECK_EQ(slots_carried(&big[i], "audio"), 6);
		CHECK_EQ(slots_carried(&big[i], "video"), 9);
	}
	unsigned dels = count_cmds(FH_CMD_PART_DEL);

	for (unsigned i = 0; i < BIG; i++)
		if (i != 1)
			cp_room_closed(&big[i]);
	tick();
	big_dels = count_cmds(FH_CMD_PART_DEL) - dels + 1;
	for (unsigned i = 0; i < BIG; i++)
		conn_forget(&big[i]);
}

static void teardown(void)
{
	int ready;
	unsigned rooms, parts;
	struct cp_conn *all[] = {&a, &b, &c, &d1, &d2, &e, &sc, &g, &h1, &h2};

	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cp_room_closed(all[i]);
	tick();
	CHECK_EQ(count_cmds(FH_CMD_PART_DEL) - big_dels, 6); /* all but d1 and d2 offered */
	cp_room_stats(&ready, &rooms, &parts);
	CHECK_EQ(rooms, 0);
	CHECK_EQ(parts, 0);
	cp_room_fini();
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		conn_forget(all[i]);
	fh_region_close(&dp);
	cp_limits_fini();
}

TEST_MAIN(setup, joins, offers, lobby, moderation, simulcast, firefox, bounded, speakers, passwords,
	  large_room, names_hands_rights, screen_rights, teardown)
