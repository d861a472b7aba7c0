/* Unit tests of cp_sdp against offers recorded from Chromium 156 and Firefox, Firefox-like offers
 * (max-bundle), and malformed or edited offers: header extension ids, simulcast, bundle-only. */
#include <stdlib.h>

#include "cp_sdp.h"
#include "fh_test.h"

static char *load(const char *name)
{
	char path[512];
	FILE *f;
	char *buf = malloc(65536);
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", FH_TEST_DATA, name);
	f = fopen(path, "r");
	if (!f || !buf) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static struct cp_sdp_offer *parse(const char *name)
{
	struct cp_sdp_offer *o = malloc(sizeof(*o));
	char *sdp = load(name);
	char why[128] = "";

	if (cp_sdp_parse_offer(sdp, strlen(sdp), o, why, sizeof(why)) < 0) {
		fprintf(stderr, "%s refused: %s\n", name, why);
		fh_test_failures++;
	}
	free(sdp);
	return o;
}

static const struct fh_addr *cands(void)
{
	static struct fh_addr a[2];

	fh_addr_parse(&a[0], "127.0.0.1", 40000);
	fh_addr_parse(&a[1], "192.0.2.7", 40000);
	return a;
}

/* A whole SHA-256 fingerprint, as cp_dtls gives ours: an answer carrying a shorter one would not
 * parse for that reason alone. */
#define FP                                                                                       \
	"sha-256 A0:A1:A2:A3:A4:A5:A6:A7:A8:A9:AA:AB:AC:AD:AE:AF:B0:B1:B2:B3:B4:B5:B6:B7:B8:B9:" \
	"BA:BB:BC:BD:BE:BF"

static struct cp_sdp_local local(void)
{
	return (struct cp_sdp_local){.ufrag = "0003abcdefghijkl",
				     .pwd = "0123456789abcdefghijklmnopqrstuv",
				     .fingerprint = FP,
				     .cands = cands(),
				     .n_cands = 2,
				     .sess_id = 42,
				     .sess_ver = 1,
				     .cname = "c"};
}

static void sendrecv_offer(void)
{
	struct cp_sdp_offer *o = parse("chrome-offer-sendrecv-audio-video.sdp");

	CHECK_EQ(o->n, 2);
	CHECK(!strcmp(o->ufrag, "E8eh"));
	CHECK(!strcmp(o->pwd, "xtxQcKlIwDIVBtoAHjP/00KI"));
	CHECK(!strcmp(o->fp_alg, "sha-256"));
	CHECK_EQ(o->fp_len, 32);
	CHECK_EQ(o->fp[0], 0x63);
	CHECK(o->bundle);
	CHECK(o->m[0].kind == CP_KIND_AUDIO && o->m[0].pt == 111 && o->m[0].ssrc == 1503780666u);
	CHECK(o->m[1].kind == CP_KIND_VIDEO && o->m[1].pt == 96 && o->m[1].rtx_pt == 97);
	CHECK(o->m[1].ssrc == 1494129635u && o->m[1].rtx_ssrc == 1331627896u);
	CHECK(o->m[0].dir == CP_DIR_SENDRECV && o->m[0].rtcp_mux);

	struct cp_sdp_answer_ml am[2] = {{.dir = CP_DIR_RECVONLY},
					 {.dir = CP_DIR_SENDONLY,
					  .ssrc = 11,
					  .rtx_ssrc = 12,
					  .stream_id = "s1",
					  .track_id = "t1"}};
	struct cp_sdp_local l = local();
	char *a = cp_sdp_build_answer(o, &l, am);

	CHECK_STR_CONTAINS(a, "a=ice-lite\r\n");
	CHECK_STR_CONTAINS(a, "a=group:BUNDLE 0 1\r\n");
	CHECK_STR_CONTAINS(a, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
	CHECK_STR_CONTAINS(a, "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n");
	CHECK_STR_CONTAINS(a, "a=setup:passive\r\n");
	CHECK_STR_CONTAINS(a, "a=recvonly\r\n");
	CHECK_STR_CONTAINS(a, "a=sendonly\r\n");
	CHECK_STR_CONTAINS(a, "a=fmtp:97 apt=96\r\n");
	CHECK_STR_CONTAINS(a, "a=rtcp-fb:96 nack pli\r\n");
	CHECK_STR_CONTAINS(a, "a=ssrc-group:FID 11 12\r\n");
	CHECK_STR_CONTAINS(a, "a=msid:s1 t1\r\n");
	CHECK_STR_CONTAINS(a, "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n");
	CHECK_STR_CONTAINS(a, "a=candidate:2 1 udp 2130706430 192.0.2.7 40000 typ host\r\n");
	CHECK_STR_CONTAINS(a, "a=ice-ufrag:0003abcdefghijkl\r\n");
	CHECK(!strstr(a, "H264")); /* only the codecs we forward */
	/* the offer's ids of our extensions, nothing else */
	CHECK_STR_CONTAINS(a, "a=extmap-allow-mixed\r\n");
	CHECK_STR_CONTAINS(a, "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n");
	CHECK_STR_CONTAINS(a, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n");
	CHECK_STR_CONTAINS(a, "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n");
	CHECK(!strstr(a, "toffset") && !strstr(a, "video-orientation"));
	CHECK_STR_CONTAINS(a, "a=rtcp-fb:96 transport-cc\r\n");
	CHECK_STR_CONTAINS(a, "a=rtcp-fb:111 transport-cc\r\n");
	CHECK(!strstr(a, "goog-remb")); /* REMB only for those without transport-cc */
	CHECK(o->twcc && o->ext[FH_EXT_TWCC] == 3 && o->ext[FH_EXT_AUDIO_LEVEL] == 1);
	/* the answer itself must parse as a well-formed description: as it is, it is refused
	 * only because it says setup:passive (an offer may not); with actpass in its place the
	 * same text parses and gives back what we put in */
	struct cp_sdp_offer *back = malloc(sizeof(*back));
	char why[128] = "";

	CHECK_EQ(cp_sdp_parse_offer(a, strlen(a), back, why, sizeof(why)), -1);
	CHECK_STR_CONTAINS(why, "setup");
	for (char *s = a; (s = strstr(s, "a=setup:passive"));)
		memcpy(s, "a=setup:actpass", 15);
	why[0] = '\0';
	CHECK_EQ(cp_sdp_parse_offer(a, strlen(a), back, why, sizeof(why)), 0);
	if (why[0])
		fprintf(stderr, "the answer does not parse: %s\n", why);
	CHECK_EQ(back->n, 2);
	CHECK(!strcmp(back->ufrag, "0003abcdefghijkl"));
	CHECK(!strcmp(back->pwd, "0123456789abcdefghijklmnopqrstuv"));
	CHECK(!strcmp(back->fp_alg, "sha-256"));
	CHECK_EQ(back->fp_len, 32);
	CHECK_EQ(back->fp[0], 0xa0);
	CHECK_EQ(back->fp[31], 0xbf);
	CHECK(back->bundle);
	CHECK(back->m[0].kind == CP_KIND_AUDIO && back->m[0].pt == 111);
	CHECK(back->m[1].kind == CP_KIND_VIDEO && back->m[1].pt == 96 && back->m[1].rtx_pt == 97);
	CHECK(back->m[1].ssrc == 11 && back->m[1].rtx_ssrc == 12);
	free(back);
	free(a);
	free(o);
}

static void datachannel_rejected(void)
{
	struct cp_sdp_offer *o = parse("chrome-offer-audio-video-datachannel.sdp");
	struct cp_sdp_answer_ml am[CP_SDP_MAX_MLINES] = {0};
	struct cp_sdp_local l = local();
	unsigned app = o->n;

	for (unsigned i = 0; i < o->n; i++)
		if (o->m[i].kind == CP_KIND_OTHER)
			app = i;
	CHECK(app < o->n);
	char *a = cp_sdp_build_answer(o, &l, am);
	char want[64];

	snprintf(want, sizeof(want), "m=application 0 ");
	CHECK_STR_CONTAINS(a, want);
	/* the rejected m-line is not in the BUNDLE group */
	char *g = a ? strstr(a, "a=group:BUNDLE") : NULL;
	char *eol = g ? strstr(g, "\r\n") : NULL;
	char grp[128] = "";

	if (g && eol && eol - g < 127)
		memcpy(grp, g, (size_t)(eol - g));
	snprintf(want, sizeof(want), " %s", o->m[app].mid);
	CHECK(strstr(grp, want) == NULL);
	free(a);
	free(o);
}

static void recvonly_and_simulcast(void)
{
	struct cp_sdp_offer *o = parse("chrome-offer-recvonly-1a2v.sdp");

	CHECK_EQ(o->n, 3);
	CHECK(o->m[0].dir == CP_DIR_RECVONLY && o->m[1].dir == CP_DIR_RECVONLY);
	CHECK(o->m[1].kind == CP_KIND_VIDEO && o->m[2].kind == CP_KIND_VIDEO);
	CHECK_EQ(o->m[1].ssrc, 0);
	free(o);
	o = parse("chrome-offer-sendonly-simulcast.sdp");
	CHECK(o->m[1].simulcast);
	CHECK_EQ(o->m[1].n_rids, 3);
	CHECK(!strcmp(o->m[1].rid[0], "q") && !strcmp(o->m[1].rid[2], "f"));
	CHECK_EQ(o->m[1].ssrc, 0);
	/* not answered as a receiver: no simulcast lines */
	struct cp_sdp_answer_ml am[CP_SDP_MAX_MLINES] = {0};
	struct cp_sdp_local l = local();
	char *a = cp_sdp_build_answer(o, &l, am);

	CHECK(a && !strstr(a, "simulcast") && !strstr(a, "a=rid"));
	free(a);
	/* we receive it: each rid, in the offer's order (lowest first), and the extensions */
	am[0].dir = am[1].dir = CP_DIR_RECVONLY;
	a = cp_sdp_build_answer(o, &l, am);
	CHECK_STR_CONTAINS(a, "a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\n");
	CHECK_STR_CONTAINS(a, "a=simulcast:recv q;h;f\r\n");
	CHECK_STR_CONTAINS(a, "a=extmap-allow-mixed\r\n");
	CHECK_STR_CONTAINS(a, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n");
	CHECK_STR_CONTAINS(a, "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n");
	CHECK_STR_CONTAINS(
		a, "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n");
	CHECK_STR_CONTAINS(a, "a=extmap:3 http://www.ietf.org/id/"
			      "draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n");
	CHECK_STR_CONTAINS(
		a, "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n");
	CHECK_STR_CONTAINS(a, "a=rtcp-fb:96 transport-cc\r\n");
	CHECK(!strstr(a, "goog-remb") && !strstr(a, "b=AS") && !strstr(a, "b=TIAS"));
	/* audio level only on audio, rid only on video */
	char *video = strstr(a, "m=video");

	CHECK(video && !strstr(video, "ssrc-audio-level"));
	CHECK(video && strstr(a, "rtp-stream-id") > video);
	free(a);
	free(o);
}

/* A copy of a test file with the first old replaced by new; lines end in \n (which the
 * parser takes as well) so that old can span lines. */
static char *edit(const char *name, const char *old, const char *new)
{
	char *sdp = load(name), *w = sdp;

	for (const char *r = sdp; *r; r++)
		if (*r != '\r')
			*w++ = *r;
	*w = '\0';
	char *at = strstr(sdp, old);
	char *out = malloc(strlen(sdp) + strlen(new) + 1);

	CHECK(at != NULL);
	if (!at) {
		strcpy(out, sdp);
	} else {
		memcpy(out, sdp, (size_t)(at - sdp));
		strcpy(out + (at - sdp), new);
		strcat(out, at + strlen(old));
	}
	free(sdp);
	return out;
}

static struct cp_sdp_offer *parse_text(char *sdp)
{
	struct cp_sdp_offer *o = malloc(sizeof(*o));
	char why[128] = "";

	if (cp_sdp_parse_offer(sdp, strlen(sdp), o, why, sizeof(why)) < 0) {
		fprintf(stderr, "edited offer refused: %s\n", why);
		fh_test_failures++;
		memset(o, 0, sizeof(*o));
	}
	free(sdp);
	return o;
}

static char *answer_recv(const struct cp_sdp_offer *o)
{
	struct cp_sdp_answer_ml am[CP_SDP_MAX_MLINES] = {0};
	struct cp_sdp_local l = local();

	for (unsigned i = 0; i < o->n; i++)
		am[i].dir = CP_DIR_RECVONLY;
	return cp_sdp_build_answer(o, &l, am);
}

#define SIM "chrome-offer-sendonly-simulcast.sdp"
#define TWCC_URI "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define ABS_URI "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"

/* One URI with two ids on bundled lines, or one id for two URIs: left out, the rest kept. */
static void conflicting_ids(void)
{
	struct cp_sdp_offer *o = parse_text(edit(SIM, "a=extmap:3 " TWCC_URI "\na=extmap:5",
						 "a=extmap:9 " TWCC_URI "\na=extmap:5"));
	char *a = answer_recv(o);

	CHECK_EQ(o->ext[FH_EXT_TWCC], 0);
	CHECK(!o->twcc && o->ext_conflicts >= 1);
	CHECK_EQ(o->ext[FH_EXT_MID], 4);
	CHECK(a && !strstr(a, TWCC_URI) && !strstr(a, "transport-cc"));
	CHECK_STR_CONTAINS(a, "a=rtcp-fb:96 goog-remb\r\n"); /* no transport-wide: REMB */
	free(a);
	free(o);
	/* 13 is video-orientation on the video line: abs-send-time may not take it on audio */
	o = parse_text(edit(SIM, "a=extmap:2 " ABS_URI, "a=extmap:13 " ABS_URI));
	CHECK_EQ(o->ext[FH_EXT_ABS_SEND_TIME], 0);
	a = answer_recv(o);
	CHECK(a && !strstr(a, "abs-send-time"));
	CHECK_STR_CONTAINS(a, "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n");
	free(a);
	free(o);
}

/* Ids outside 1..255 and broken extmaps are counted and ignored. */
static void ids_out_of_range(void)
{
	static const char *const bad[] = {
		"a=extmap:0 urn:ietf:params:rtp-hdrext:sdes:mid",
		"a=extmap:256 urn:ietf:params:rtp-hdrext:sdes:mid",
		"a=extmap:99999999999999999999999 urn:ietf:params:rtp-hdrext:sdes:mid",
		"a=extmap:-4 urn:ietf:params:rtp-hdrext:sdes:mid",
		"a=extmap:4/sideways urn:ietf:params:rtp-hdrext:sdes:mid",
		"a=extmap:4",
		"a=extmap:x4 urn:ietf:params:rtp-hdrext:sdes:mid",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cp_sdp_offer *o = parse_text(edit(
			SIM, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\na=sendonly", bad[i]));

		CHECK_EQ(o->bad_extmap, 1);
		CHECK_EQ(o->m[0].ext[FH_EXT_MID], 0);
		CHECK_EQ(o->ext[FH_EXT_MID], 4); /* the video line still has it */
		free(o);
	}
	/* an id above 14 is fine (two-byte headers) */
	struct cp_sdp_offer *o =
		parse_text(edit(SIM, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
				"a=extmap:200/sendonly urn:ietf:params:rtp-hdrext:sdes:mid"));

	CHECK_EQ(o->m[0].ext[FH_EXT_MID], 200);
	CHECK_EQ(o->ext[FH_EXT_MID], 0); /* but not with 4 on the video line */
	free(o);
}

/* Simulcast: at most three encodings; rids that are no RFC 8851 token, or have no a=rid line,
 * are not taken; alternatives give their first; '~' (paused) is still taken; SIM gives
 * layer SSRCs. */
static void simulcast_rules(void)
{
	struct cp_sdp_offer *o = parse_text(
		edit(SIM, "a=simulcast:send q;h;f", "a=rid:x send\na=simulcast:send q;h;f;x"));

	CHECK_EQ(o->m[1].n_rids, 3);
	CHECK_EQ(o->dropped_layers, 1);
	char *a = answer_recv(o);

	CHECK_STR_CONTAINS(a, "a=simulcast:recv q;h;f\r\n");
	CHECK(a && !strstr(a, "a=rid:x"));
	free(a);
	free(o);
	o = parse_text(edit(SIM, "a=rid:q send\n", "a=rid:q!x send\n"));
	CHECK_EQ(o->bad_rids, 1);
	free(o);
	o = parse_text(edit(SIM, "a=rid:q send\na=rid:h send\na=rid:f send\na=simulcast:send q;h;f",
			    "a=rid:q!x send\na=rid:averyveryverylongrid send\na=rid:f send\n"
			    "a=simulcast:send q!x;averyveryverylongrid;f"));
	CHECK_EQ(o->bad_rids, 2);
	CHECK_EQ(o->m[1].n_rids, 0); /* one encoding left is no simulcast */
	a = answer_recv(o);
	CHECK(a && !strstr(a, "simulcast") && !strstr(a, "a=rid"));
	free(a);
	free(o);
	o = parse_text(edit(SIM, "a=simulcast:send q;h;f", "a=simulcast:send q,h;~h;zz;f"));
	CHECK_EQ(o->m[1].n_rids, 3);
	CHECK(!strcmp(o->m[1].rid[1], "h") && o->m[1].rid_paused[1] && !o->m[1].rid_paused[0]);
	CHECK(!strcmp(o->m[1].rid[2], "f"));
	free(o);
	/* H.264 only for a rid: not taken */
	o = parse_text(edit(SIM, "a=rid:h send\n", "a=rid:h send pt=102;max-width=640\n"));
	CHECK_EQ(o->m[1].n_rids, 2);
	free(o);
	o = parse_text(edit(SIM, "a=simulcast:send q;h;f",
			    "a=ssrc-group:SIM 11 22 33\na=ssrc-group:FID 22 222\n"
			    "a=simulcast:send q;h;f"));
	CHECK(o->m[1].layer_ssrc[0] == 11 && o->m[1].layer_ssrc[2] == 33);
	CHECK(o->m[1].layer_rtx_ssrc[1] == 222 && o->m[1].layer_rtx_ssrc[0] == 0);
	free(o);
	/* without the rid extension and SSRCs the layers could not be told apart */
	o = parse_text(
		edit(SIM, "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\n", ""));
	CHECK_EQ(o->m[1].n_rids, 0);
	free(o);
}

/* Firefox max-bundle: port 0 and bundle-only on all lines after the first; they are in the
 * bundle and answered with port 9. Firefox' own ids are echoed. */
static void bundle_only(void)
{
	static const char *const files[] = {
		"firefox-style-offer-max-bundle.sdp", "firefox-offer-recvonly.sdp",
		"firefox-offer-sendrecv.sdp", "firefox-offer-simulcast.sdp"};

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct cp_sdp_offer *o = parse(files[f]);
		struct cp_sdp_answer_ml am[CP_SDP_MAX_MLINES] = {0};
		struct cp_sdp_local l = local();
		char grp[64] = "a=group:BUNDLE";

		CHECK(o->n >= 2 && o->m[1].port == 0 && o->m[1].bundle_only);
		for (unsigned i = 0; i < o->n; i++) {
			CHECK(cp_sdp_mline_usable(&o->m[i]));
			snprintf(grp + strlen(grp), sizeof(grp) - strlen(grp), " %s", o->m[i].mid);
			am[i].dir =
				o->m[i].dir == CP_DIR_RECVONLY ? CP_DIR_INACTIVE : CP_DIR_RECVONLY;
		}
		char *a = cp_sdp_build_answer(o, &l, am);

		CHECK_STR_CONTAINS(a, grp);
		CHECK(a && !strstr(a, "m=video 0 ") && !strstr(a, "m=audio 0 "));
		CHECK(a && !strstr(a, "bundle-only"));
		CHECK_EQ(o->ext[FH_EXT_AUDIO_LEVEL], 1);
		CHECK_EQ(o->ext[FH_EXT_MID], 3);
		CHECK_EQ(o->ext[FH_EXT_ABS_SEND_TIME], 4);
		CHECK_EQ(o->ext[FH_EXT_TWCC], 7);
		CHECK_STR_CONTAINS(a, "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n");
		CHECK_STR_CONTAINS(a, "a=extmap:7 " TWCC_URI "\r\n");
		CHECK_STR_CONTAINS(a, "a=rtcp-fb:120 transport-cc\r\n");
		if (o->m[1].n_rids) {
			/* rid extmaps were /sendonly: answered /recvonly */
			CHECK_STR_CONTAINS(
				a, "/recvonly urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n");
			CHECK_STR_CONTAINS(a, "a=simulcast:recv l;m;h\r\n");
			CHECK(o->m[1].layer_ssrc[0] == 0); /* no SIM group: learned by rid */
		}
		free(a);
		free(o);
	}
	/* port 0 without bundle-only is rejected and left out of the group */
	struct cp_sdp_offer *o =
		parse_text(edit("firefox-offer-sendrecv.sdp", "a=bundle-only\n", ""));
	struct cp_sdp_answer_ml am[CP_SDP_MAX_MLINES] = {0};
	struct cp_sdp_local l = local();

	CHECK(!cp_sdp_mline_usable(&o->m[1]));
	char *a = cp_sdp_build_answer(o, &l, am);

	CHECK_STR_CONTAINS(a, "a=group:BUNDLE 0\r\n");
	CHECK_STR_CONTAINS(a, "m=video 0 ");
	free(a);
	free(o);
}

static void refused(void)
{
	static const char *const bad[] = {
		"",
		"x=0\r\n",
		"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n", /* no ICE, no DTLS */
		("v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"
		 "a=fingerprint:sha-256 AB:CD\r\nm=audio 9 X 111\r\na=mid:0\r\n"), /* short fp */
		"v=0\r\na=ice-ufrag:ab\"d\r\n",
		"v=0\r\nm=audio 99999 X 1\r\n",
		"v=0\r\nbroken\r\n",
	};
	struct cp_sdp_offer *o = malloc(sizeof(*o));
	char why[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(cp_sdp_parse_offer(bad[i], strlen(bad[i]), o, why, sizeof(why)), -1);

	/* setup:passive from the browser would make us the DTLS client: refused */
	char *sdp = load("chrome-offer-sendrecv-audio-video.sdp");
	for (char *s = sdp; (s = strstr(s, "a=setup:actpass"));)
		memcpy(s, "a=setup:passive", 15);
	CHECK_EQ(cp_sdp_parse_offer(sdp, strlen(sdp), o, why, sizeof(why)), -1);
	CHECK_STR_CONTAINS(why, "setup");
	free(sdp);

	/* more m-lines than we accept */
	size_t cap = 200000, n = 0;
	char *big = malloc(cap);

	n += (size_t)snprintf(big + n, cap - n,
			      "v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"
			      "a=fingerprint:sha-256 "
			      "AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD\r\n");
	for (int i = 0; i < CP_SDP_MAX_MLINES + 1; i++)
		n += (size_t)snprintf(big + n, cap - n,
				      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%d\r\n", i);
	CHECK_EQ(cp_sdp_parse_offer(big, n, o, why, sizeof(why)), -1);
	/* the same with one m-line fewer is fine */
	char *last = strstr(big, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:64\r\n");

	CHECK(last != NULL);
	if (last)
		CHECK_EQ(cp_sdp_parse_offer(big, (size_t)(last - big), o, why, sizeof(why)), 0);
	/* duplicate mids */
	n = (size_t)snprintf(big, cap,
			     "v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"
			     "a=fingerprint:sha-256 "
			     "AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD\r\n"
			     "m=audio 9 P 111\r\na=mid:0\r\nm=audio 9 P 111\r\na=mid:0\r\n");
	CHECK_EQ(cp_sdp_parse_offer(big, n, o, why, sizeof(why)), -1);
	free(big);
	free(o);
}

TEST_MAIN(sendrecv_offer, datachannel_rejected, recvonly_and_simulcast, conflicting_ids,
	  ids_out_of_range, simulcast_rules, bundle_only, refused)
