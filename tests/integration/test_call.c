/*
 * Integration test: both daemons on loopback, two workers, and C clients holding real calls
 * (WSS signalling, ICE, DTLS, SRTP). Rooms go to the least loaded worker; media sent in a room
 * arrives decrypted at the other member and nowhere else; NACKs get the packet back as RTX, key
 * frame requests are rate limited, REMB carries the configured cap; bad UDP and bad signalling
 * are dropped, counted and answered with error codes while the calls go on; a DTLS certificate
 * that is not the offer's fingerprint gets 5002 and no keys; a silent participant loses consent
 * (5003, participant-left); killing funkhaus-cp does not interrupt media, and after it comes
 * back new joins work. Then the same daemons with media on ::1: ICE, SRTP and payloads over IPv6.
 *
 * Usage: test_call DP_BIN CP_BIN GEN_CERT WEB_ROOT
 */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fh_stun.h"
#include "fhc.h"
#include "calls.h"
#include "harness.h"

int failures;
struct harness h;

/* Two workers: each room lives on the least loaded one, so the second room opened goes to the
 * other worker and the counters are read over both. */
#define WORKERS 2

static uint64_t ctr(enum fh_ctr c)
{
	uint64_t n = 0;

	for (unsigned w = 0; w < WORKERS; w++)
		n += harness_ctr(&h, w, c);
	return n;
}

static uint64_t drop(enum fh_drop d)
{
	uint64_t n = 0;

	for (unsigned w = 0; w < WORKERS; w++)
		n += harness_drop(&h, w, d);
	return n;
}

static unsigned participants(void)
{
	unsigned n = 0;

	for (unsigned w = 0; w < WORKERS; w++)
		n += harness_participants(&h, w);
	return n;
}

static void same_room_only(struct fhc *a, struct fhc *b, struct fhc *c, struct fhc **all, int n)
{
	talk(a, "A", 50, all, n);
	talk(b, "B", 50, all, n);
	uint64_t ba = fhc_received_from(b, fhc_id(a), false),
		 bv = fhc_received_from(b, fhc_id(a), true);

	EXPECT(ba >= 48 && bv >= 48, "B got %llu audio / %llu video of 50 from A",
	       (unsigned long long)ba, (unsigned long long)bv);
	EXPECT(last_payload_is(b, fhc_id(a), false, "A:49"), "B's last audio from A intact");
	EXPECT(last_payload_is(b, fhc_id(a), true, "A:49"), "B's last video from A intact");
	EXPECT(fhc_received_from(a, fhc_id(b), true) >= 48, "A got B's video");
	EXPECT(total_received(c) == 0, "C in another room received %llu packets",
	       (unsigned long long)total_received(c));
}

/* The video cap the dataplane announces to publishers by REMB: not the default (1.5 Mbit/s), so
 * a REMB that ignored the configuration would be seen. */
#define TEST_VIDEO_CAP 640000

/* RTCP feedback: a NACK is answered with RTX from the cache that carries the very packet, a PLI
 * reaches the publisher, and the publisher hears the configured cap by REMB. */
static void feedback(struct fhc *a, struct fhc *b, struct fhc **all, int n)
{
	const struct fhc_stream_stats *s = fhc_stream(b, fhc_id(a), true);
	uint64_t rtx = ctr(FH_CTR_rtx_sent);
	uint64_t miss = drop(FH_DROP_nack_miss);
	uint64_t pli = fhc_pli_received(a);
	uint64_t rembs = 0, cap = fhc_remb(a, &rembs);

	EXPECT(rembs > 0 && cap == TEST_VIDEO_CAP,
	       "A heard %llu REMB, the last of %llu bit/s, want the configured %u",
	       (unsigned long long)rembs, (unsigned long long)cap, TEST_VIDEO_CAP);
	if (!s) {
		EXPECT(0, "B has no video stream from A");
		return;
	}
	uint16_t seq = s->last_seq;
	uint8_t orig[64];
	size_t orig_len = s->last_len;

	memcpy(orig, s->last_payload, orig_len);

	pump(all, n, 400); /* past the key frame requests' rate limit */
	fhc_nack(b, fhc_id(a), seq);
	fhc_pli(b, fhc_id(a));
	pump(all, n, 300);
	s = fhc_stream(b, fhc_id(a), true);
	EXPECT(s->rtx_packets >= 1 && s->last_rtx_osn == seq,
	       "B got the NACKed packet %u as RTX (%llu RTX, last %u)", seq,
	       (unsigned long long)s->rtx_packets, s->last_rtx_osn);
	EXPECT(s->last_rtx_len == orig_len && !memcmp(s->last_rtx_payload, orig, orig_len),
	       "the RTX carries the NACKed packet's payload (%zu bytes, \"%.*s\")", s->last_rtx_len,
	       (int)s->last_rtx_len, (const char *)s->last_rtx_payload);
	EXPECT(ctr(FH_CTR_rtx_sent) > rtx, "rtx_sent counted");
	EXPECT(fhc_pli_received(a) > pli, "B's key frame request reached A");
	fhc_nack(b, fhc_id(a), (uint16_t)(seq - 5000)); /* long gone */
	pump(all, n, 300);
	EXPECT(drop(FH_DROP_nack_miss) > miss, "a NACK for a lost packet is counted");
}

/* Key frame requests are rate limited: per layer of a publisher every half second, and a
 * receiver's own requests pass at most once a second (every key frame goes to everyone on that
 * layer). A burst of PLIs from a receiver reaches the publisher once, one a second later again. */
static void pli_rate(struct fhc *a, struct fhc *b, struct fhc **all, int n)
{
	pump(all, n, 1100); /* past the last request's interval */
	uint64_t pli = fhc_pli_received(a), sent = ctr(FH_CTR_pli_sent);
	uint64_t absorbed = ctr(FH_CTR_keyframe_absorbed);

	for (int i = 0; i < 5; i++)
		fhc_pli(b, fhc_id(a));
	pump(all, n, 200);
	EXPECT(fhc_pli_received(a) == pli + 1 && ctr(FH_CTR_pli_sent) == sent + 1,
	       "5 PLIs at once reached A %llu times (sent %llu), want once",
	       (unsigned long long)(fhc_pli_received(a) - pli),
	       (unsigned long long)(ctr(FH_CTR_pli_sent) - sent));
	EXPECT(ctr(FH_CTR_keyframe_absorbed) == absorbed + 4, "the other four are absorbed (%llu)",
	       (unsigned long long)(ctr(FH_CTR_keyframe_absorbed) - absorbed));
	pump(all, n, 1000);
	fhc_pli(b, fhc_id(a));
	pump(all, n, 200);
	EXPECT(fhc_pli_received(a) == pli + 2, "a PLI after the interval reaches A again (%llu)",
	       (unsigned long long)(fhc_pli_received(a) - pli));
}

static int raw_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(h.base_port)};

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	return fd;
}

static void bad_udp(struct fhc **all, int n)
{
	int fd = raw_socket();
	uint8_t junk[64] = {0x70, 1, 2, 3}, rtp[5] = {0x80, 0x60, 0, 1, 2};
	uint8_t buf[256], tid[12] = {9};
	struct fh_stun_builder b;
	uint64_t nw = drop(FH_DROP_not_webrtc);
	uint64_t uu = drop(FH_DROP_stun_unknown_user);
	uint64_t mu = drop(FH_DROP_media_unbound);
	uint64_t sm = drop(FH_DROP_stun_malformed);
	uint64_t du = drop(FH_DROP_dtls_unbound);

	send(fd, junk, sizeof(junk), 0);
	send(fd, rtp, sizeof(rtp), 0);
	send(fd, "\x16\xfe\xfd\0\0\0\0\0\0\0\0\0\0\0\0", 15, 0); /* DTLS from a stranger */
	send(fd, "\x00\x01\x00\x08\x21\x12\xa4\x42", 8, 0);	 /* truncated STUN */
	/* a well-formed check for a participant that does not exist (slot 0x03ff) */
	fh_stun_build_start(&b, buf, sizeof(buf), FH_STUN_BINDING_REQUEST, tid);
	fh_stun_build_attr(&b, FH_STUN_ATTR_USERNAME, "03ffabcdefghijkl:xyz", 20);
	fh_stun_build_integrity(&b, "wrongwrongwrongwrongwrongwrong12", 32);
	fh_stun_build_fingerprint(&b);
	send(fd, buf, fh_stun_build_end(&b), 0);
	pump(all, n, 300);
	struct pollfd p = {.fd = fd, .events = POLLIN};

	EXPECT(poll(&p, 1, 200) == 0, "the SFU answered an unauthenticated stranger");
	EXPECT(drop(FH_DROP_not_webrtc) > nw, "garbage counted");
	EXPECT(drop(FH_DROP_media_unbound) > mu, "unbound RTP counted");
	EXPECT(drop(FH_DROP_stun_unknown_user) > uu, "unknown user counted");
	EXPECT(drop(FH_DROP_stun_malformed) > sm, "truncated STUN counted");
	EXPECT(drop(FH_DROP_dtls_unbound) > du, "stranger's DTLS counted");
	close(fd);
}

/* Bad media from a participant that did pass ICE: dropped under its own reason. */
static void bad_media(struct fhc *a, struct fhc *b, struct fhc **all, int n)
{
	uint8_t rtp[40] = {0x80, 111, 0, 1, 0, 0, 0, 1, 0x0b, 0xad, 0xf0, 0x0d, 'x'};
	uint64_t us = drop(FH_DROP_rtp_unknown_ssrc);
	uint64_t af = drop(FH_DROP_srtp_auth_fail);
	uint64_t bi = drop(FH_DROP_stun_bad_integrity);
	uint64_t rm = drop(FH_DROP_rtcp_malformed) + drop(FH_DROP_srtcp_auth_fail);
	uint64_t before = fhc_received_from(b, fhc_id(a), false);

	fhc_send_raw(a, rtp, 13, true); /* encrypted, but an SSRC A never announced */
	rtp[3] = 7; /* a fresh sequence number, so the replay check does not catch it first */
	fhc_send_raw(a, rtp, 40, false); /* "SRTP" that fails authentication */
	rtp[1] = 200;
	fhc_send_raw(a, rtp, 40, false); /* "SRTCP" that fails authentication */
	fhc_send_check_with(a, "not-the-password-not-the-passw0");
	pump(all, n, 300);
	EXPECT(drop(FH_DROP_rtp_unknown_ssrc) > us, "unknown SSRC counted");
	EXPECT(drop(FH_DROP_srtp_auth_fail) > af, "SRTP auth failure counted");
	EXPECT(drop(FH_DROP_stun_bad_integrity) > bi, "wrong password counted");
	EXPECT(drop(FH_DROP_rtcp_malformed) + drop(FH_DROP_srtcp_auth_fail) > rm,
	       "bad SRTCP counted");
	EXPECT(fhc_received_from(b, fhc_id(a), false) == before, "nothing bad was forwarded");
	talk(a, "still", 10, all, n);
	EXPECT(fhc_received_from(b, fhc_id(a), false) >= before + 10, "the call goes on");
}

/* A participant that stops answering loses consent and is removed everywhere. */
static void consent_expiry(struct fhc **all, int n)
{
	struct fhc *x = join("Stille", "Xaver");
	struct fhc *y = join("Stille", "Yvonne");
	struct fhc *live[8];
	int m = 0;

	if (!x || !y) {
		fhc_close(x);
		fhc_close(y);
		return;
	}
	for (int i = 0; i < n; i++)
		live[m++] = all[i];
	live[m++] = y;
	uint64_t lost = ctr(FH_CTR_consent_lost);
	unsigned parts;

	/* x is never polled again: no more checks from it */
	pump(live, m, (HARNESS_CONSENT_S + 2) * 1000);
	EXPECT(ctr(FH_CTR_consent_lost) == lost + 1, "exactly the silent participant lost consent");
	/* what the users see: the silent one is told why (its signalling still works, only its
	 * media went quiet), the other one is told it left */
	fhc_poll(x, 300);
	int e = fhc_last_error(x);

	EXPECT(e == 5003, "the silent participant got %d, want 5003 (media connection lost)", e);
	EXPECT(fhc_saw_left(y, fhc_id(x)), "the other one was told the silent one left");
	parts = participants();
	EXPECT(parts == 4, "the workers forgot the silent participant (%u left, want 4)", parts);
	fhc_close(x);
	fhc_close(y);
}

/* A client whose DTLS certificate is not the one its offer's a=fingerprint names (what the SFU
 * sees of a man in the middle): the control plane checks the certificate when the handshake
 * ends and refuses it with 5002 before any SRTP key reaches the worker, which forgets it. */
static void wrong_fingerprint(struct fhc **all, int n)
{
	struct fhc *y = join("Falsch", "Yara");
	char err[256] = "";
	struct fhc_opts o = {.host = "127.0.0.1",
			     .port = h.port,
			     .room = "Falsch",
			     .name = "Mallory",
			     .audio = true,
			     .video = true,
			     .timeout_ms = 1500, /* the others' consent runs meanwhile */
			     .wrong_fingerprint = true};

	if (!y)
		return;
	unsigned parts = participants();
	uint64_t in = ctr(FH_CTR_rtp_in);
	struct fhc *m = fhc_connect(&o, err, sizeof(err));
	struct fhc *live[8];
	int k = 0, e;

	for (int i = 0; i < n; i++)
		live[k++] = all[i];
	live[k++] = y;
	if (m) {
		/* the SFU's last DTLS flight can leave before the check refuses the client, which
		 * then finishes its side and hears 5002 by signalling; whatever it sends then must
		 * go nowhere */
		live[k++] = m;
		pump(live, k, 500); /* long enough for keys and Y's subscription, were they */
		talk(m, "M", 20, live, k);
		e = fhc_last_error(m);
		EXPECT(!fhc_signalling_open(m), "the refused one's signalling was closed");
		EXPECT(fhc_received_from(y, fhc_id(m), false) +
				       fhc_received_from(y, fhc_id(m), true) ==
			       0,
		       "its media reached the other one in the room");
	} else {
		e = strstr(err, "error ") ? atoi(strstr(err, "error ") + 6) : 0;
		pump(live, k, 300);
	}
	EXPECT(e == 5002, "a wrong fingerprint got %d, want 5002 (%s)", e, m ? "media up" : err);
	EXPECT(ctr(FH_CTR_rtp_in) == in, "the worker decrypted %llu packets of the refused one",
	       (unsigned long long)(ctr(FH_CTR_rtp_in) - in));
	EXPECT(participants() == parts,
	       "the workers hold %u participants, want %u (they forgot the refused one)",
	       participants(), parts);
	fhc_close(m);
	fhc_close(y);
}

static void bad_signalling(struct fhc *a, struct fhc **all, int n)
{
	static const struct {
		const char *msg;
		int code;
	} cases[] = {
		{"not json", 4000},
		{"{\"type\":\"reboot\"}", 4002},
		{"{\"type\":\"join\",\"room\":\"x\",\"name\":\"again\"}", 4007},
		{"{\"type\":\"offer\",\"sdp\":\"v=0\\r\\nnonsense\"}", 4009},
		{"{\"type\":\"chat\"}", 4003},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fhc_last_error(a);
		fhc_send_text(a, cases[i].msg, strlen(cases[i].msg));
		pump(all, n, 200);
		int e = fhc_last_error(a);

		EXPECT(e == cases[i].code, "'%s' got error %d, expected %d", cases[i].msg, e,
		       cases[i].code);
	}
	size_t big = 300 * 1024;
	char *huge = malloc(big);

	memset(huge, 'x', big);
	fhc_send_text(a, huge, big);
	free(huge);
	pump(all, n, 300);
	EXPECT(fhc_last_error(a) == 4001, "oversized message refused with 4001");
	EXPECT(fhc_signalling_open(a), "the connection survives bad messages");
}

static void cp_restart(struct fhc *a, struct fhc *b, struct fhc **all, int n)
{
	uint64_t before = fhc_received_from(b, fhc_id(a), true);

	harness_kill_cp(&h, SIGKILL);
	talk(a, "down", 100, all, n);
	uint64_t during = fhc_received_from(b, fhc_id(a), true) - before;

	EXPECT(during >= 95, "with funkhaus-cp down B got %llu of 100 video packets from A",
	       (unsigned long long)during);
	EXPECT(harness_start_cp(&h) == 0, "funkhaus-cp restarts");
	struct fhc *d = join("Nachher", "Dora");
	struct fhc *e = join("Nachher", "Emil");
	struct fhc *all2[] = {a, b, d, e};

	if (d && e) {
		pump(all2, 4, 500);
		talk(d, "D", 30, all2, 4);
		EXPECT(fhc_received_from(e, fhc_id(d), false) >= 28, "after the restart E hears D");
		EXPECT(fhc_received_from(e, fhc_id(d), true) >= 28, "after the restart E sees D");
		EXPECT(last_payload_is(e, fhc_id(d), true, "D:29"), "E's last video from D intact");
	}
	before = fhc_received_from(b, fhc_id(a), true);
	talk(a, "after", 20, all2, 4);
	EXPECT(fhc_received_from(b, fhc_id(a), true) - before >= 19,
	       "the call from before the restart still runs");
	fhc_close(d);
	fhc_close(e);
}

/* IPv6 media on a fresh pair of daemons: the dataplane binds and announces ::1 (signalling stays
 * on 127.0.0.1). ICE answers name the client's IPv6 address, SRTP and RTCP work, payloads arrive
 * intact both ways, and nothing is dropped for its address family. */
static void ipv6_media(char **argv)
{
	setenv("FUNKHAUS_MEDIA_BIND", "::1", 1);
	setenv("FUNKHAUS_ANNOUNCE", "::1", 1);
	unsetenv("FUNKHAUS_EXTRA_CONF");
	if (harness_start(&h, argv, 1) < 0) {
		EXPECT(0, "the daemons start with media on ::1");
		harness_stop(&h, true);
		return;
	}
	struct fhc *u = join_via("Sechs", "Ulla", "::1");
	struct fhc *v = join_via("Sechs", "Veit", "::1");
	struct fhc *both[] = {u, v};
	uint64_t fam = drop(FH_DROP_source_family);

	if (u && v) {
		EXPECT(fhc_sfu_port(u) == h.base_port && fhc_mapped_ok(u) && fhc_mapped_ok(v),
		       "ICE over IPv6: the SFU's answers carry our IPv6 addresses");
		pump(both, 2, 500);
		talk(u, "U6", 30, both, 2);
		talk(v, "V6", 30, both, 2);
		EXPECT(fhc_received_from(v, fhc_id(u), false) >= 28 &&
			       fhc_received_from(v, fhc_id(u), true) >= 28,
		       "over IPv6 V got %llu audio / %llu video of 30 from U",
		       (unsigned long long)fhc_received_from(v, fhc_id(u), false),
		       (unsigned long long)fhc_received_from(v, fhc_id(u), true));
		EXPECT(last_payload_is(v, fhc_id(u), true, "U6:29") &&
			       last_payload_is(u, fhc_id(v), false, "V6:29"),
		       "payloads intact both ways over IPv6");
		EXPECT(drop(FH_DROP_source_family) == fam, "nothing dropped for its family");
	}
	fhc_close(u);
	fhc_close(v);
	harness_stop(&h, failures > 0);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: test_call DP_BIN CP_BIN GEN_CERT WEB_ROOT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	char extra[64];

	snprintf(extra, sizeof(extra), "/tmp/fh-call-%d.conf", (int)getpid());
	{
		FILE *f = fopen(extra, "w");

		if (!f)
			return 1;
		fprintf(f, "[dataplane]\nmax_video_bitrate = %u\n", TEST_VIDEO_CAP);
		fclose(f);
	}
	setenv("FUNKHAUS_EXTRA_CONF", extra, 1);
	int started = harness_start(&h, argv, WORKERS);

	unlink(extra);
	if (started < 0) {
		harness_stop(&h, true);
		return 1;
	}
	struct fhc *a = join("KulturvereinMarion", "Anna");
	struct fhc *b = join("kulturvereinmarion", "Bernd");
	struct fhc *c = join("Gemeinderat", "Clara");
	struct fhc *all[] = {a, b, c};

	if (a && b && c) {
		/* placement: the first room on worker 0 (both empty), the second on worker 1 (worker
		 * 0 holds two), each member at its room's worker's port */
		EXPECT(fhc_sfu_port(a) == h.base_port && fhc_sfu_port(b) == h.base_port,
		       "the first room on the first worker (ports %u, %u; want %u)",
		       fhc_sfu_port(a), fhc_sfu_port(b), h.base_port);
		EXPECT(fhc_sfu_port(c) == h.base_port + 1,
		       "the second room on the less loaded worker (port %u, want %u)",
		       fhc_sfu_port(c), h.base_port + 1);
		EXPECT(fhc_mapped_ok(a), "the SFU's ICE answer carries A's address");
		EXPECT(harness_participants(&h, 0) == 2 && harness_participants(&h, 1) == 1,
		       "two participants on worker 0 and one on worker 1 (%u, %u)",
		       harness_participants(&h, 0), harness_participants(&h, 1));
		pump(all, 3, 500); /* renegotiation: A learns about B's tracks */
		same_room_only(a, b, c, all, 3);
		printf("media: same room only ok (%d failures so far)\n", failures);
		feedback(a, b, all, 3);
		printf("RTCP feedback: NACK/RTX, PLI, REMB (%d failures so far)\n", failures);
		pli_rate(a, b, all, 3);
		printf("PLI rate limit (%d failures so far)\n", failures);
		bad_udp(all, 3);
		printf("bad UDP: dropped and counted (%d failures so far)\n", failures);
		bad_media(a, b, all, 3);
		printf("bad media: dropped and counted (%d failures so far)\n", failures);
		bad_signalling(a, all, 3);
		printf("bad signalling: error codes (%d failures so far)\n", failures);
		wrong_fingerprint(all, 3);
		printf("wrong DTLS fingerprint: 5002, no keys (%d failures so far)\n", failures);
		consent_expiry(all, 3);
		printf("consent expiry (%d failures so far)\n", failures);
		cp_restart(a, b, all, 3);
		printf("control plane restart (%d failures so far)\n", failures);
	}
	fhc_close(a);
	fhc_close(b);
	fhc_close(c);
	harness_stop(&h, failures > 0);
	ipv6_media(argv);
	printf("IPv6 media (%d failures so far)\n", failures);
	printf("%s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
