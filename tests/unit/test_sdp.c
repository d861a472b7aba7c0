/* Unit tests of cp_sdp against offers recorded from Chromium 156, and malformed offers. */
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
	CHECK(!strstr(a, "H264"));   /* only the codecs we forward */
	CHECK(!strstr(a, "extmap")); /* no header extension is negotiated */
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
	struct cp_sdp_answer_ml am[CP_SDP_MAX_MLINES] = {0};
	struct cp_sdp_local l = local();
	char *a = cp_sdp_build_answer(o, &l, am);

	CHECK(a && !strstr(a, "simulcast") && !strstr(a, "rid"));
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

TEST_MAIN(sendrecv_offer, datachannel_rejected, recvonly_and_simulcast, refused)
