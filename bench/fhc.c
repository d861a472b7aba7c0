/*
 * fhc: Funkhaus' C client library (see fhc.h). Blocking steps are bounded by the caller's
 * timeout; after connect everything is driven by fhc_poll over the signalling TLS socket and
 * the media UDP socket of each leg (one with Funkhaus; with Janus one to publish, one to
 * receive).
 */
#include "fhc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <srtp2/srtp.h>

#include "fh_rtp.h"
#include "fh_rtpext.h"
#include "fh_srtp.h"
#include "fh_stun.h"
#include "fh_twcc.h"
#include "fh_vp8.h"

#define MAX_ML 64
#define WS_MAX (512 * 1024)
#define RTX_HIST 128		/* packets of each simulcast layer kept for retransmission */
#define KEY_MIN_US 300000	/* a browser's encoder makes key frames at most this often */
#define EARLY_EXT_US 1000000	/* mid and rid go with a stream's first second (or to its RR) */
#define SIM_FRAME_MAX (1 << 20) /* bytes of one frame, at most */

/* The header extensions as Chrome numbers them in its offers. */
static const uint8_t chrome_ids[FH_EXT_MAX] = {
	[FH_EXT_AUDIO_LEVEL] = 1, [FH_EXT_ABS_SEND_TIME] = 2, [FH_EXT_TWCC] = 3,
	[FH_EXT_MID] = 4,	  [FH_EXT_RID] = 10,	      [FH_EXT_RRID] = 11,
};
static const char *const ext_uri[FH_EXT_MAX] = {
	[FH_EXT_MID] = "urn:ietf:params:rtp-hdrext:sdes:mid",
	[FH_EXT_RID] = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
	[FH_EXT_RRID] = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
	[FH_EXT_TWCC] = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
	[FH_EXT_ABS_SEND_TIME] = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
	[FH_EXT_AUDIO_LEVEL] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
};
static const char *const rid_name[FHC_SIM_LAYERS] = {"l", "m", "h"};
static const uint16_t sim_width[FHC_SIM_LAYERS] = {320, 640, 1280};
static const uint16_t sim_height[FHC_SIM_LAYERS] = {180, 360, 720};

/* A sent packet of a simulcast layer, for RTX. */
struct sim_sent {
	uint16_t seq;
	uint16_t len; /* 0: empty slot */
	uint32_t ts;
	bool marker;
	uint8_t payload[1200];
};

/* One simulcast encoding we send. */
struct sim_layer {
	uint32_t ssrc, rtx_ssrc;
	uint16_t seq, rtx_seq;
	uint32_t ts_base;
	uint16_t picid; /* 15 bits */
	uint8_t tl0picidx;
	unsigned frame; /* since the last key frame, for L1T3 */
	bool key_due;	/* a PLI or FIR asked for one */
	uint64_t last_key_us;
	uint64_t first_us, rtx_first_us; /* the first packet sent on it, 0 none yet */
	bool rr_seen, rtx_rr_seen;	 /* the SFU reported on the SSRC: no more mid and rid */
	uint64_t frames, keyframes, rtx_sent;
	struct sim_sent *hist; /* RTX_HIST entries, slot seq % RTX_HIST */
};

/* A datagram that crossed the modelled downlink and is delivered at `at`. */
struct held {
	uint64_t at;
	uint16_t len;
	uint8_t leg;
	uint8_t buf[1536];
};

struct ml {
	char mid[8];
	bool video;
	bool send;     /* ours */
	bool off;      /* Janus' offer: rejected or inactive */
	char kind[12]; /* Janus' offer: media, protocol, first payload type and its rtpmap */
	char proto[32];
	char pt[16];
	char rtpmap[64];
	uint32_t ssrc; /* what the server sends us on it */
	uint32_t rtx_ssrc;
	char stream_id[24];
	char slot_src[24]; /* Funkhaus: the participant the slot carries now ("slots") */
};

/* One peer connection: Funkhaus needs one per participant, Janus one to publish and one to
 * subscribe. */
struct leg {
	int udp;
	struct sockaddr_storage sfu;
	socklen_t sfu_len;
	bool mapped_ok; /* the SFU's answer to our check named our address as we see it */
	char rufrag[64], rpwd[128];
	SSL_CTX *dtls_ctx;
	SSL *dtls;
	srtp_t srtp_tx, srtp_rx;
	bool media_up;
	uint64_t last_check_ms;
	struct ml ml[MAX_ML];
	unsigned n_ml;
	uint8_t ext_ids[FH_EXT_MAX]; /* the answer's a=extmap ids */
	bool ext_answered;
};

struct fhc {
	struct fhc_opts o;
	char room[80], name[80];
	/* the options a reconnect needs again, kept here: the caller's strings may be gone */
	char host[64], source[48], prefix[40], origin[128], ws_path[80];
	/* a cluster's redirects: how many were followed, the last one as it came, and the
	 * other live nodes "joined" named (for a client that reconnects elsewhere) */
	unsigned hops;
	bool redirected; /* a redirect came on this connection, not yet followed */
	char redir_url[160], redir_ws[80], redir_room[80], redir_node[40];
	char node[40];	/* the node the last redirect named */
	char where[80]; /* HOST:PORT we talk to now */
	char peer_nodes[8][160];
	unsigned n_peer_nodes;
	uint64_t t0_us, joined_us, media_us; /* fhc_connect's start; then since it */
	int tcp;
	SSL_CTX *tls_ctx;
	SSL *tls;
	unsigned char *rx;
	size_t rx_len;
	char *frag; /* a fragmented message being put together */
	size_t frag_len;
	bool ws_open;
	char id[24];
	char resume_secret[64]; /* from "joined": takes the participant back after a restart */
	bool resuming;		/* a resume is sent, "resumed" not yet come */
	bool resume_refused;
	unsigned resumes, resume_failed;
	uint64_t next_resume_ms;
	int last_error;
	bool moderator;
	char closed[64];
	bool waiting;		  /* in a lobby, not in the room yet */
	bool draining;		  /* the server said it drains */
	char lobby_ids[16][17];	  /* moderators: who waits in the lobby ... */
	char lobby_names[16][80]; /* ... under which name */
	unsigned n_lobby;
	uint64_t remb_bitrate, remb_received; /* REMB the SFU sent us as a publisher */
	char turn_user[96], turn_cred[64];    /* the TURN credentials "joined" gave */
	char left[16][17]; /* the last participants the server said left our room */
	unsigned n_left;
	struct {
		char type[24];
		unsigned n;
		char last[512];
	} seen[16]; /* per message type (the first 16 seen): how many came, the newest */
	/* media: leg 0 publishes (and, with Funkhaus, receives); with Janus leg 1 receives */
	struct leg leg[2];
	unsigned n_leg;
	char lufrag[16], lpwd[40];
	EVP_PKEY *key;
	X509 *cert;
	char fp[128];
	uint32_t a_ssrc, v_ssrc, v_rtx_ssrc;
	uint16_t a_seq, v_seq;
	uint32_t a_ts, v_ts;
	uint64_t sess_ver;
	unsigned want_audio, want_video;
	bool offer_pending, offer_again;
	struct fhc_stream_stats st[FHC_MAX_RECV];
	unsigned n_st;
	char profile[8]; /* the SRTP profile DTLS chose: gcm or cm */
	/* Janus: session, publisher and subscriber handles, room, our feed, whom we receive */
	uint64_t j_session, j_pub, j_sub, j_room, j_feed;
	unsigned j_txn;
	uint64_t j_keepalive_ms;
	bool j_sub_joined; /* the subscriber handle joined the room */
	bool j_sub_busy;   /* a join or subscribe waits for Janus' offer */
	uint64_t j_known[FHC_MAX_RECV];
	unsigned j_n_known;
	uint64_t j_queue[FHC_MAX_RECV]; /* publishers to subscribe to next */
	unsigned j_n_queue;
	uint64_t pli_received;
	struct fhc_latency lat;
	/* opts.simulcast: our encodings, the transport-wide counter over all our streams */
	struct sim_layer sl[FHC_SIM_LAYERS];
	uint16_t twcc_seq;
	uint64_t a_first_us;
	bool a_rr_seen;
	/* receiving: the downlink model, what waits in it, transport-wide feedback */
	struct fhc_sim_link link;
	struct held *held; /* a ring of held_cap */
	unsigned held_cap, held_head, held_n;
	struct fh_twcc_rx *twcc_rx;
	uint32_t twcc_media_ssrc;
	uint64_t twcc_sent, twcc_received, twcc_bad;
	uint64_t rx_at_us; /* arrival of the last datagram (recv_at) */
};

static int seterr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int seterr(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void fhc_stamp(uint8_t *p)
{
	uint64_t t = now_us();

	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(t >> (56 - 8 * i));
	memcpy(p + 8, "FHB1", 4);
}

const struct fhc_latency *fhc_latency(const struct fhc *c)
{
	return &c->lat;
}

/* Loss (sequence numbers), latency and jitter (stamped payloads: the stamp at payload, len
 * bytes left from there) of one received packet that arrived at now. */
static void measure(struct fhc *c, struct fhc_stream_stats *s, const struct fh_rtp_hdr *h,
		    const uint8_t *payload, size_t len, uint64_t now)
{
	if (!s->seq_init) {
		s->seq_init = true;
		s->base_seq = s->max_seq = h->seq;
		s->first_us = now;
	} else {
		uint16_t delta = (uint16_t)(h->seq - (uint16_t)s->max_seq);

		if (delta && delta < 0x8000)
			s->max_seq += delta;
	}
	if (len < FHC_STAMP_LEN || memcmp(payload + 8, "FHB1", 4) != 0)
		return;
	uint64_t sent = 0;

	for (int i = 0; i < 8; i++)
		sent = sent << 8 | payload[i];
	if (sent > now)
		return;
	uint64_t lat = now - sent;
	int64_t transit = (int64_t)lat;

	c->lat.count++;
	c->lat.sum_us += lat;
	if (lat > c->lat.max_us)
		c->lat.max_us = lat;
	c->lat.hist[lat / 1000 < FHC_LAT_BUCKETS ? lat / 1000 : FHC_LAT_BUCKETS - 1]++;
	if (s->packets > 1) {
		int64_t d = transit - s->last_transit;

		s->jitter_us += ((double)(d < 0 ? -d : d) - s->jitter_us) / 16.0;
	}
	s->last_transit = transit;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void rnd_alnum(char *out, size_t n)
{
	static const char a[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[64];

	RAND_bytes(r, (int)n);
	for (size_t i = 0; i < n; i++)
		out[i] = a[r[i] % 36];
	out[n] = '\0';
}

static uint32_t rnd32(void)
{
	uint32_t v = 0;

	while (!v)
		RAND_bytes((unsigned char *)&v, sizeof(v));
	return v;
}

/* ---- WebSocket over TLS ---- */

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = ev};

	return poll(&p, 1, timeout_ms);
}

/* Drives SSL_connect until done, an error or the deadline; DTLS retransmits on its timer. */
static int handshake(SSL *ssl, int fd, bool dtls, uint64_t deadline)
{
	for (;;) {
		int r = SSL_connect(ssl);

		if (r == 1)
			return 0;
		int e = SSL_get_error(ssl, r);

		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || now_ms() > deadline)
			return -1;
		if (dtls)
			DTLSv1_handle_timeout(ssl);
		else
			wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 100);
	}
}

static int tls_write_all(struct fhc *c, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		int n = SSL_write(c->tls, p, (int)len);

		if (n <= 0) {
			int e = SSL_get_error(c->tls, n);

			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				wait_fd(c->tcp, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 1000);
				continue;
			}
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads what is available into c->rx; 0 when nothing, -1 when closed. */
static int tls_fill(struct fhc *c, int timeout_ms)
{
	if (!SSL_pending(c->tls) && wait_fd(c->tcp, POLLIN, timeout_ms) <= 0)
		return 0;
	unsigned char *n = realloc(c->rx, c->rx_len + 65536);

	if (!n)
		return -1;
	c->rx = n;
	int r = SSL_read(c->tls, c->rx + c->rx_len, 65536);

	if (r <= 0) {
		int e = SSL_get_error(c->tls, r);

		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		return -1;
	}
	c->rx_len += (size_t)r;
	return r;
}

int fhc_send_text(struct fhc *c, const char *text, size_t len)
{
	unsigned char hdr[14], mask[4];
	size_t h = 0;

	if (!c->ws_open)
		return -1;
	hdr[h++] = 0x81;
	if (len < 126) {
		hdr[h++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(len >> 8);
		hdr[h++] = (unsigned char)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	RAND_bytes(mask, 4);
	memcpy(hdr + h, mask, 4);
	h += 4;
	unsigned char *frame = malloc(h + len);

	if (!frame)
		return -1;
	memcpy(frame, hdr, h);
	for (size_t i = 0; i < len; i++)
		frame[h + i] = (unsigned char)text[i] ^ mask[i & 3];
	int r = tls_write_all(c, frame, h + len);

	free(frame);
	return r;
}

static int send_json(struct fhc *c, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	int r = s ? fhc_send_text(c, s, strlen(s)) : -1;

	free(s);
	json_decref(o);
	return r;
}

/* Takes one complete text message out of c->rx; returns a malloc'd string or NULL. */
static char *ws_take(struct fhc *c)
{
	for (;;) {
		if (c->rx_len < 2)
			return NULL;
		unsigned char *p = c->rx;
		bool fin = p[0] & 0x80;
		int op = p[0] & 0x0f;
		uint64_t len = p[1] & 0x7f;
		size_t h = 2;

		if (len == 126) {
			if (c->rx_len < 4)
				return NULL;
			len = (uint64_t)p[2] << 8 | p[3];
			h = 4;
		} else if (len == 127) {
			if (c->rx_len < 10)
				return NULL;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | p[2 + i];
			h = 10;
		}
		if (len > WS_MAX) {
			c->ws_open = false;
			return NULL;
		}
		if (c->rx_len < h + len)
			return NULL;
		char *msg = NULL;

		if (op == 8) {
			c->ws_open = false;
		} else if (op == 1 || op == 0) {
			char *n = realloc(c->frag, c->frag_len + len + 1);

			if (n) {
				c->frag = n;
				memcpy(c->frag + c->frag_len, p + h, len);
				c->frag_len += len;
				c->frag[c->frag_len] = '\0';
				if (fin) {
					msg = c->frag;
					c->frag = NULL;
					c->frag_len = 0;
				}
			}
		}
		memmove(c->rx, c->rx + h + len, c->rx_len - h - len);
		c->rx_len -= h + len;
		if (msg || !c->ws_open)
			return msg;
	}
}

static int tcp_connect(const char *host, uint16_t port, const char *source, int timeout_ms)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	char ps[8];

	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0)
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && source) {
		struct sockaddr_in sa = {.sin_family = AF_INET};

		if (inet_pton(AF_INET, source, &sa.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0) {
		fcntl(fd, F_SETFL, O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			close(fd);
			fd = -1;
		} else if (wait_fd(fd, POLLOUT, timeout_ms) <= 0) {
			close(fd);
			fd = -1;
		} else {
			int e = 0;
			socklen_t el = sizeof(e);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			if (e) {
				close(fd);
				fd = -1;
			} else {
				int one = 1;

				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			}
		}
	}
	freeaddrinfo(ai);
	return fd;
}

static int ws_open(struct fhc *c, char *err, size_t el)
{
	c->tcp = tcp_connect(c->o.host, c->o.port, c->o.source, (int)c->o.timeout_ms);
	if (c->tcp < 0)
		return seterr(err, el, "cannot connect to %s:%u", c->o.host, c->o.port);
	c->tls_ctx = SSL_CTX_new(TLS_client_method());
	c->tls = SSL_new(c->tls_ctx);
	SSL_set_fd(c->tls, c->tcp);
	SSL_set_tlsext_host_name(c->tls, c->o.host);
	uint64_t deadline = now_ms() + c->o.timeout_ms;

	if (handshake(c->tls, c->tcp, false, deadline) < 0)
		return seterr(err, el, "TLS handshake with %s:%u failed", c->o.host, c->o.port);
	unsigned char key[16];
	char b64[32], req[1024];

	RAND_bytes(key, sizeof(key));
	EVP_EncodeBlock((unsigned char *)b64, key, sizeof(key));
	char path[96];

	/* Janus speaks its own subprotocol on /; a Funkhaus tenant may sit under /prefix/, or
	 * be named by its id (/t/ID/ws, where a cluster's redirect sends us) */
	if (c->o.ws_path && !c->o.janus)
		snprintf(path, sizeof(path), "%s", c->o.ws_path);
	else
		snprintf(path, sizeof(path), "%s%s%s", c->o.janus ? "/" : "/",
			 c->o.prefix && !c->o.janus ? c->o.prefix : "",
			 c->o.janus ? "" : (c->o.prefix ? "/ws" : "ws"));
	snprintf(c->where, sizeof(c->where), "%s:%u", c->o.host, c->o.port);
	char origin[300] = "";

	if (c->o.origin)
		snprintf(origin, sizeof(origin), "Origin: %s\r\n", c->o.origin);
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n%s%s\r\n",
			 path, c->o.vhost ? c->o.vhost : c->o.host, c->o.port, b64,
			 c->o.janus ? "Sec-WebSocket-Protocol: janus-protocol\r\n" : "", origin);

	if (tls_write_all(c, req, (size_t)n) < 0)
		return seterr(err, el, "cannot send the WebSocket upgrade");
	while (now_ms() < deadline) {
		if (tls_fill(c, 100) < 0)
			break;
		unsigned char *end = c->rx_len ? memmem(c->rx, c->rx_len, "\r\n\r\n", 4) : NULL;

		if (!end)
			continue;
		if (c->rx_len < 12 || memcmp(c->rx, "HTTP/1.1 101", 12) != 0)
			return seterr(err, el, "WebSocket upgrade refused");
		size_t hl = (size_t)(end - c->rx) + 4;

		memmove(c->rx, c->rx + hl, c->rx_len - hl);
		c->rx_len -= hl;
		c->ws_open = true;
		return 0;
	}
	return seterr(err, el, "no answer to the WebSocket upgrade");
}

/* ---- SDP ---- */

/* Our host candidate, for Janus (Funkhaus learns our address from the checks alone). */
static size_t put_candidate(const struct leg *l, char *s, size_t cap)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char ip[INET_ADDRSTRLEN];

	if (l->udp < 0 || getsockname(l->udp, (struct sockaddr *)&sa, &sl) < 0 ||
	    !inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip)))
		return 0;
	return (size_t)snprintf(s, cap,
				"a=candidate:1 1 udp 2122260223 %s %u typ host\r\n"
				"a=end-of-candidates\r\n",
				ip, ntohs(sa.sin_port));
}

/* The session part of our SDP, bundling every m-line that is not turned off; the buffer is
 * sized for the leg's m-lines. Returns the buffer with *n bytes written, NULL without memory. */
static char *sdp_start(struct fhc *c, struct leg *l, size_t cap, size_t *n)
{
	char *s = malloc(cap);

	if (!s)
		return NULL;
	*n = (size_t)snprintf(s, cap,
			      "v=0\r\no=- 1 %llu IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
			      "a=group:BUNDLE",
			      (unsigned long long)++c->sess_ver);
	for (unsigned i = 0; i < l->n_ml; i++)
		if (!l->ml[i].off)
			*n += (size_t)snprintf(s + *n, cap - *n, " %s", l->ml[i].mid);
	*n += (size_t)snprintf(s + *n, cap - *n, "\r\n");
	return s;
}

/* Our a=extmap lines, Chrome's ids: audio without the stream ids, video without the level. */
static size_t put_extmaps(bool video, char *s, size_t cap)
{
	static const enum fh_ext audio[] = {FH_EXT_AUDIO_LEVEL, FH_EXT_ABS_SEND_TIME, FH_EXT_TWCC,
					    FH_EXT_MID};
	static const enum fh_ext vid[] = {FH_EXT_ABS_SEND_TIME, FH_EXT_TWCC, FH_EXT_MID, FH_EXT_RID,
					  FH_EXT_RRID};
	const enum fh_ext *e = video ? vid : audio;
	size_t k = video ? sizeof(vid) / sizeof(vid[0]) : sizeof(audio) / sizeof(audio[0]), n = 0;

	for (size_t i = 0; i < k && n < cap; i++)
		n += (size_t)snprintf(s + n, cap - n, "a=extmap:%u %s\r\n", chrome_ids[e[i]],
				      ext_uri[e[i]]);
	return n < cap ? n : cap;
}

/* The offer of leg 0: what we publish and, with Funkhaus, what we receive. */
static char *build_offer(struct fhc *c, struct leg *l)
{
	size_t cap = 8192 + 1024 * l->n_ml, n;
	char *s = sdp_start(c, l, cap, &n);

	if (!s)
		return NULL;
#define P(...) n += (size_t)snprintf(s + n, cap - n, __VA_ARGS__)
	for (unsigned i = 0; i < l->n_ml; i++) {
		struct ml *m = &l->ml[i];

		if (m->video)
			P("m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n");
		else
			P("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
		P("c=IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", c->lufrag, c->lpwd);
		/* we are the DTLS client either way: Janus answers an actpass offer as client */
		P("a=fingerprint:%s\r\na=setup:%s\r\na=mid:%s\r\na=%s\r\na=rtcp-mux\r\n", c->fp,
		  c->o.janus ? "active" : "actpass", m->mid, m->send ? "sendonly" : "recvonly");
		if (c->o.janus)
			n += put_candidate(l, s + n, cap - n);
		if (c->o.simulcast)
			n += put_extmaps(m->video, s + n, cap - n);
		if (m->video) {
			P("a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack "
			  "pli\r\n");
			if (c->o.simulcast)
				P("a=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 transport-cc\r\n");
			P("a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n");
			if (m->send && c->o.simulcast) /* Chrome names the encodings, no SSRCs */
				P("a=rid:l send\r\na=rid:m send\r\na=rid:h send\r\n"
				  "a=simulcast:send l;m;h\r\n");
			else if (m->send)
				P("a=ssrc-group:FID %u %u\r\na=ssrc:%u cname:fhc\r\n"
				  "a=ssrc:%u cname:fhc\r\n",
				  c->v_ssrc, c->v_rtx_ssrc, c->v_ssrc, c->v_rtx_ssrc);
		} else {
			P("a=rtpmap:111 opus/48000/2\r\n");
			if (c->o.simulcast)
				P("a=rtcp-fb:111 transport-cc\r\n");
			if (m->send)
				P("a=ssrc:%u cname:fhc\r\n", c->a_ssrc);
		}
	}
#undef P
	return s;
}

/* Janus' offer on the subscriber leg, answered line by line: receive what it sends with the
 * first payload type it lists, refuse what it turned off. */
static char *build_answer(struct fhc *c, struct leg *l)
{
	size_t cap = 4096 + 1024 * l->n_ml, n;
	char *s = sdp_start(c, l, cap, &n);

	if (!s)
		return NULL;
#define P(...) n += (size_t)snprintf(s + n, cap - n, __VA_ARGS__)
	for (unsigned i = 0; i < l->n_ml; i++) {
		struct ml *m = &l->ml[i];

		P("m=%s %d %s %s\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\n", m->kind, m->off ? 0 : 9,
		  m->proto, m->pt, m->mid);
		if (m->off) {
			P("a=inactive\r\n");
			continue;
		}
		P("a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\na=setup:active\r\n"
		  "a=recvonly\r\na=rtcp-mux\r\n",
		  c->lufrag, c->lpwd, c->fp);
		if (m->rtpmap[0])
			P("a=rtpmap:%s\r\n", m->rtpmap);
		if (m->video)
			P("a=rtcp-fb:%s nack\r\na=rtcp-fb:%s nack pli\r\n", m->pt, m->pt);
		n += put_candidate(l, s + n, cap - n);
	}
#undef P
	return s;
}

/*
 * Reads the SFU's SDP into a leg: ICE credentials, its first usable candidate, and per m-line
 * what it sends us. An answer maps onto our m-lines; an offer (Janus, subscriber leg) makes
 * the m-lines.
 */
static void parse_sdp(struct fhc *c, struct leg *l, const char *sdp, bool offer)
{
	int idx = -1;
	const char *p = sdp;

	if (offer)
		l->n_ml = 0;
	while (p && *p) {
		const char *e = strstr(p, "\r\n");
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[512];

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = '\0';
		p = e ? e + 2 : NULL;
		struct ml *m = idx >= 0 && idx < (int)l->n_ml ? &l->ml[idx] : NULL;

		if (!strncmp(line, "m=", 2)) {
			idx++;
			if (offer && idx < MAX_ML) {
				unsigned port = 0;

				m = &l->ml[idx];
				memset(m, 0, sizeof(*m));
				l->n_ml = (unsigned)idx + 1;
				if (sscanf(line, "m=%11s %u %31s %15s", m->kind, &port, m->proto,
					   m->pt) != 4)
					m->off = true;
				m->off = m->off || port == 0 ||
					 (strcmp(m->kind, "audio") && strcmp(m->kind, "video"));
				m->video = !strcmp(m->kind, "video");
				snprintf(m->mid, sizeof(m->mid), "%d", idx & 0xffff);
			} else if (idx < (int)l->n_ml) {
				l->ml[idx].ssrc = 0;
				l->ml[idx].stream_id[0] = '\0';
			}
		} else if (!strncmp(line, "a=ice-ufrag:", 12)) {
			snprintf(l->rufrag, sizeof(l->rufrag), "%.63s", line + 12);
		} else if (!strncmp(line, "a=ice-pwd:", 10)) {
			snprintf(l->rpwd, sizeof(l->rpwd), "%.127s", line + 10);
		} else if (!strncmp(line, "a=candidate:", 12) && !l->sfu_len) {
			char ip[64], proto[8];
			unsigned port;
			struct fh_addr a;

			if (sscanf(line, "a=candidate:%*s %*s %7s %*s %63s %u typ host", proto, ip,
				   &port) == 3 &&
			    !strcasecmp(proto, "udp") &&
			    fh_addr_parse(&a, ip, (uint16_t)port) == 0 &&
			    (c->o.media ? !strcmp(c->o.media, ip) : a.family == FH_AF_INET))
				l->sfu_len = fh_addr_to_sockaddr(&a, &l->sfu);
		} else if (!strncmp(line, "a=extmap:", 9)) {
			unsigned id;
			char uri[200];

			/* one table for the bundle: the first id named for each extension */
			if (sscanf(line + 9, "%u%*[^ ] %199s", &id, uri) != 2 &&
			    sscanf(line + 9, "%u %199s", &id, uri) != 2)
				continue;
			for (int e = 0; e < FH_EXT_MAX; e++)
				if (id >= 1 && id <= 255 && !strcmp(uri, ext_uri[e]) &&
				    !l->ext_ids[e])
					l->ext_ids[e] = (uint8_t)id;
			l->ext_answered = true;
		} else if (!m) {
			continue;
		} else if (offer && !strncmp(line, "a=mid:", 6)) {
			snprintf(m->mid, sizeof(m->mid), "%.7s", line + 6);
		} else if (offer && !strcmp(line, "a=inactive")) {
			m->off = true;
		} else if (offer && !strncmp(line, "a=rtpmap:", 9) && !m->rtpmap[0] &&
			   !strncmp(line + 9, m->pt, strlen(m->pt)) &&
			   line[9 + strlen(m->pt)] == ' ') {
			snprintf(m->rtpmap, sizeof(m->rtpmap), "%.63s", line + 9);
		} else if (!strncmp(line, "a=ssrc-group:FID ", 17)) {
			unsigned long a1, a2;

			if (sscanf(line + 17, "%lu %lu", &a1, &a2) == 2)
				m->rtx_ssrc = (uint32_t)a2;
		} else if (!strncmp(line, "a=ssrc:", 7) && !m->ssrc) {
			unsigned long ssrc;
			char sid[32];

			if (sscanf(line + 7, "%lu msid:%31s", &ssrc, sid) == 2) {
				m->ssrc = (uint32_t)ssrc;
				snprintf(m->stream_id, sizeof(m->stream_id), "%.23s", sid);
			} else if (offer && sscanf(line + 7, "%lu", &ssrc) == 1) {
				m->ssrc = (uint32_t)
					ssrc; /* Janus: the stream's feed comes with the event */
			}
		}
	}
}

static int send_offer(struct fhc *c)
{
	struct leg *l = &c->leg[0];
	unsigned have_a = 0, have_v = 0;

	for (unsigned i = 0; i < l->n_ml; i++) {
		if (l->ml[i].send)
			continue;
		if (l->ml[i].video)
			have_v++;
		else
			have_a++;
	}
	while ((have_a < c->want_audio || have_v < c->want_video) && l->n_ml < MAX_ML) {
		struct ml *m = &l->ml[l->n_ml];

		memset(m, 0, sizeof(*m));
		snprintf(m->mid, sizeof(m->mid), "%u", l->n_ml);
		m->video = have_a >= c->want_audio;
		if (m->video)
			have_v++;
		else
			have_a++;
		l->n_ml++;
	}
	char *sdp = build_offer(c, l);

	if (!sdp)
		return -1;
	c->offer_pending = true;
	int r = send_json(c, json_pack("{s:s, s:s}", "type", "offer", "sdp", sdp));

	free(sdp);
	return r;
}

/* ---- ICE, DTLS, SRTP ---- */

static int check_with(struct leg *l, const char *lufrag, const char *pwd)
{
	uint8_t buf[256], tid[12];
	char user[200];
	struct fh_stun_builder b;

	RAND_bytes(tid, sizeof(tid));
	snprintf(user, sizeof(user), "%s:%s", l->rufrag, lufrag);
	fh_stun_build_start(&b, buf, sizeof(buf), FH_STUN_BINDING_REQUEST, tid);
	fh_stun_build_attr(&b, FH_STUN_ATTR_USERNAME, user, (uint16_t)strlen(user));
	fh_stun_build_u32(&b, FH_STUN_ATTR_PRIORITY, 0x6e0001ff);
	fh_stun_build_u64(&b, FH_STUN_ATTR_ICE_CONTROLLING, 0x1234567812345678ull);
	fh_stun_build_attr(&b, FH_STUN_ATTR_USE_CANDIDATE, NULL, 0);
	fh_stun_build_integrity(&b, pwd, strlen(pwd));
	fh_stun_build_fingerprint(&b);
	size_t n = fh_stun_build_end(&b);

	return n && send(l->udp, buf, n, 0) == (ssize_t)n ? 0 : -1;
}

static int send_check(struct fhc *c, struct leg *l)
{
	l->last_check_ms = now_ms();
	return check_with(l, c->lufrag, l->rpwd);
}

int fhc_send_check_with(struct fhc *c, const char *pwd)
{
	return c->leg[0].udp >= 0 ? check_with(&c->leg[0], c->lufrag, pwd) : -1;
}

int fhc_send_raw(struct fhc *c, const uint8_t *data, size_t len, bool protect)
{
	struct leg *l = &c->leg[0];
	uint8_t buf[1600];
	int n = (int)len;

	if (l->udp < 0 || len > 1400 || (protect && !l->media_up))
		return -1;
	memcpy(buf, data, len);
	if (protect && srtp_protect(l->srtp_tx, buf, &n) != srtp_err_status_ok)
		return -1;
	return send(l->udp, buf, (size_t)n, 0) == n ? 0 : -1;
}

/*
 * A check from the SFU (Janus checks our candidate even as a lite agent): answered when it is
 * for our username and signed with our password, as any ICE agent must. Returns 0 when buf is
 * no STUN request, 1 for one not answered, 2 for one answered.
 */
static int answer_check(struct fhc *c, struct leg *l, uint8_t *buf, size_t len)
{
	struct fh_stun_msg m;
	size_t ul = strlen(c->lufrag);
	struct fh_addr from;

	if (fh_stun_parse(buf, len, &m) != FH_STUN_OK || m.type != FH_STUN_BINDING_REQUEST)
		return 0;
	if (!m.username || m.username_len <= ul || memcmp(m.username, c->lufrag, ul) != 0 ||
	    m.username[ul] != ':' || !fh_stun_check_fingerprint(buf, len, &m) ||
	    !fh_stun_check_integrity(buf, &m, c->lpwd, strlen(c->lpwd)) ||
	    fh_addr_from_sockaddr(&from, (struct sockaddr *)&l->sfu, l->sfu_len) < 0)
		return 1;
	uint8_t out[256], tid[12];

	memcpy(tid, m.tid, 12);
	size_t n = fh_stun_build_binding_success(out, sizeof(out), tid, &from, c->lpwd,
						 strlen(c->lpwd));

	return n && send(l->udp, out, n, 0) == (ssize_t)n ? 2 : 1;
}

/* The leg's UDP socket; Janus gets its address as our candidate before ICE. */
static int leg_socket(struct fhc *c, struct leg *l)
{
	if (l->udp >= 0)
		return 0;
	/* the family of the SFU's candidate we picked (IPv6 only when opts.media says so) */
	l->udp = socket(l->sfu_len ? l->sfu.ss_family : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (l->udp < 0)
		return -1;
	/* Janus needs our candidate in the SDP: the address the signalling connection leaves
	 * from, which reaches it (Funkhaus learns ours from the checks; the kernel picks it) */
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);

	if (c->o.janus && getsockname(c->tcp, (struct sockaddr *)&local, &ll) == 0 &&
	    local.ss_family == AF_INET) {
		((struct sockaddr_in *)&local)->sin_port = 0;
		bind(l->udp, (struct sockaddr *)&local, ll);
	}
	/* room for the key frames of a whole room arriving together, as a browser has */
	int big = 4 << 20;

	setsockopt(l->udp, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	/* a modelled link and transport-wide feedback take the time the kernel queued a datagram
	 * for us, not the time this thread got round to it: on a busy host a bench thread that
	 * ran late would otherwise look like a queue on the link to the SFU's estimate */
	int on = 1;

	if (c->o.link_bps || c->o.simulcast)
		setsockopt(l->udp, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	return 0;
}

static int ice(struct fhc *c, struct leg *l, char *err, size_t el)
{
	uint64_t deadline = now_ms() + c->o.timeout_ms;

	if (!l->sfu_len)
		return seterr(err, el, "the SFU's SDP has no usable candidate%s%s",
			      c->o.media ? " at " : "", c->o.media ? c->o.media : "");
	if (leg_socket(c, l) < 0 || connect(l->udp, (struct sockaddr *)&l->sfu, l->sfu_len) < 0)
		return seterr(err, el, "cannot open the media socket");
	/* Funkhaus (lite) is done when it answers us; Janus also checks us, and a check of its
	 * arriving during the DTLS handshake would be lost, so we wait for one too. */
	bool answered = false, checked = !c->o.janus;
	uint64_t next_check = 0;

	while (now_ms() < deadline) {
		uint8_t buf[1500];

		if (!answered && now_ms() >= next_check) {
			send_check(c, l);
			next_check = now_ms() + 200;
		}
		if (wait_fd(l->udp, POLLIN, 50) <= 0)
			continue;
		ssize_t n = recv(l->udp, buf, sizeof(buf), 0);
		struct fh_stun_msg m;
		int a = n > 0 ? answer_check(c, l, buf, (size_t)n) : 0;

		checked = checked || a == 2;
		if (!a && n > 0 && fh_stun_parse(buf, (size_t)n, &m) == FH_STUN_OK &&
		    m.type == FH_STUN_BINDING_SUCCESS &&
		    fh_stun_check_fingerprint(buf, (size_t)n, &m) &&
		    fh_stun_check_integrity(buf, &m, l->rpwd, strlen(l->rpwd))) {
			struct sockaddr_storage me;
			socklen_t ml = sizeof(me);
			struct fh_addr mine;

			answered = true;
			/* what a browser would take as its peer-reflexive address */
			l->mapped_ok =
				m.has_xor_mapped &&
				getsockname(l->udp, (struct sockaddr *)&me, &ml) == 0 &&
				fh_addr_from_sockaddr(&mine, (struct sockaddr *)&me, ml) == 0 &&
				fh_addr_eq(&mine, &m.xor_mapped);
		}
		if (answered && checked)
			return 0;
	}
	return seterr(err, el, "no answer to ICE checks");
}

static int verify_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static int make_cert(struct fhc *c)
{
	EVP_PKEY_CTX *k = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);

	if (!k || EVP_PKEY_keygen_init(k) <= 0 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(k, NID_X9_62_prime256v1) <= 0 ||
	    EVP_PKEY_keygen(k, &c->key) <= 0) {
		EVP_PKEY_CTX_free(k);
		return -1;
	}
	EVP_PKEY_CTX_free(k);
	c->cert = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(c->cert), (long)rnd32() & 0x7fffffff);
	X509_gmtime_adj(X509_getm_notBefore(c->cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c->cert), 86400);
	X509_set_pubkey(c->cert, c->key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(c->cert), "CN", MBSTRING_ASC,
				   (const unsigned char *)"fhc", -1, -1, 0);
	X509_set_issuer_name(c->cert, X509_get_subject_name(c->cert));
	if (!X509_sign(c->cert, c->key, EVP_sha256()))
		return -1;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;
	char *p = c->fp + sprintf(c->fp, "sha-256 ");

	X509_digest(c->cert, EVP_sha256(), md, &n);
	if (c->o.wrong_fingerprint)
		md[0] ^= 0x01; /* still 32 bytes of SHA-256, just not ours */
	for (unsigned i = 0; i < n; i++)
		p += sprintf(p, i ? ":%02X" : "%02X", md[i]);
	return 0;
}

/* DTLS retransmits after 100 ms, doubling: a first flight the SFU was not yet ready for (Janus
 * takes DTLS only once its own ICE state has caught up) costs 100 ms, not OpenSSL's 1 s, of a
 * thread that drives many participants. */
static unsigned int dtls_timer(SSL *s, unsigned int previous_us)
{
	(void)s;
	return previous_us ? (previous_us < 1600000 ? previous_us * 2 : 3200000) : 100000;
}

static const char *srtp_profiles(const struct fhc_opts *o)
{
	if (o->srtp && !strcmp(o->srtp, "gcm"))
		return "SRTP_AEAD_AES_128_GCM";
	if (o->srtp && !strcmp(o->srtp, "cm"))
		return "SRTP_AES128_CM_SHA1_80";
	return "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";
}

static int dtls(struct fhc *c, struct leg *l, char *err, size_t el)
{
	l->dtls_ctx = SSL_CTX_new(DTLS_client_method());
	SSL_CTX_use_certificate(l->dtls_ctx, c->cert);
	SSL_CTX_use_PrivateKey(l->dtls_ctx, c->key);
	SSL_CTX_set_verify(l->dtls_ctx, SSL_VERIFY_PEER, verify_any);
	SSL_CTX_set_tlsext_use_srtp(l->dtls_ctx, srtp_profiles(&c->o));
	l->dtls = SSL_new(l->dtls_ctx);
	DTLS_set_timer_cb(l->dtls, dtls_timer);
	BIO *bio = BIO_new_dgram(l->udp, BIO_NOCLOSE);

	BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &l->sfu);
	SSL_set_bio(l->dtls, bio, bio);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};

	setsockopt(l->udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (handshake(l->dtls, l->udp, true, now_ms() + c->o.timeout_ms) < 0) {
		/* the server may have said why (5002: our certificate is not the offer's
		 * fingerprint); the handshake loop reads no signalling, so read it now */
		c->last_error = 0;
		fhc_poll(c, 100);
		if (c->last_error)
			return seterr(err, el, "DTLS handshake failed (error %d)", c->last_error);
		return seterr(err, el, "DTLS handshake failed");
	}
	/* from here on the socket is read by fhc_poll */
	tv.tv_usec = 0;
	setsockopt(l->udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(l->dtls);
	size_t salt = prof && prof->id == SRTP_AEAD_AES_128_GCM ? 12 : 14;
	unsigned char mat[60], tx[32], rx[32];

	if (!prof || SSL_export_keying_material(l->dtls, mat, 2 * (16 + salt),
						"EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1)
		return seterr(err, el, "no SRTP keys from DTLS");
	memcpy(tx, mat, 16);
	memcpy(tx + 16, mat + 32, salt);
	memcpy(rx, mat + 16, 16);
	memcpy(rx + 16, mat + 32 + salt, salt);
	srtp_policy_t pol;
	enum fh_srtp_profile profile =
		salt == 12 ? FH_SRTP_AEAD_AES_128_GCM : FH_SRTP_AES128_CM_SHA1_80;

	fh_srtp_policy(&pol, profile, tx, ssrc_any_outbound);
	if (srtp_create(&l->srtp_tx, &pol) != srtp_err_status_ok)
		return seterr(err, el, "srtp_create failed");
	fh_srtp_policy(&pol, profile, rx, ssrc_any_inbound);
	if (srtp_create(&l->srtp_rx, &pol) != srtp_err_status_ok)
		return seterr(err, el, "srtp_create failed");
	l->media_up = true;
	snprintf(c->profile, sizeof(c->profile), "%s", salt == 12 ? "gcm" : "cm");
	return 0;
}

/* ---- Funkhaus signalling ---- */

/* {"type":"slots","video":[{mid,id,source}],"audio":[{mid,id}]}: who is on which slot. */
static void slots_msg(struct fhc *c, json_t *m)
{
	struct leg *l = &c->leg[0];
	const char *kinds[2] = {"audio", "video"};

	for (int k = 0; k < 2; k++) {
		json_t *a = json_object_get(m, kinds[k]), *e;
		size_t i;

		if (!json_is_array(a))
			continue;
		json_array_foreach(a, i, e)
		{
			const char *mid = json_string_value(json_object_get(e, "mid"));
			const char *id = json_string_value(json_object_get(e, "id"));

			for (unsigned j = 0; mid && j < l->n_ml; j++)
				if (!strcmp(l->ml[j].mid, mid))
					snprintf(l->ml[j].slot_src, sizeof(l->ml[j].slot_src), "%s",
						 id && strlen(id) < 24 ? id : "-");
		}
	}
}

/* joined.nodes: base URLs of the other live nodes; what is not a short string is left out. */
static void joined_nodes(struct fhc *c, json_t *a)
{
	json_t *e;
	size_t i;

	c->n_peer_nodes = 0;
	json_array_foreach(a, i, e)
	{
		const char *u = json_string_value(e);

		if (c->n_peer_nodes == 8)
			break;
		if (u && strlen(u) < sizeof(c->peer_nodes[0]))
			snprintf(c->peer_nodes[c->n_peer_nodes++], sizeof(c->peer_nodes[0]), "%s",
				 u);
	}
}

/* Whether a string a server sent may go into a request line: printable, no space. */
static bool plain(const char *s, size_t max)
{
	if (!s || !*s || strlen(s) >= max)
		return false;
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p > '~')
			return false;
	return true;
}

/* {"type":"redirect","url","ws","node","room"}: kept for fhc_connect to follow once the
 * server has closed; one that is malformed is kept as none (the join then fails). */
static void redirect_msg(struct fhc *c, json_t *m)
{
	const char *url = json_string_value(json_object_get(m, "url"));
	const char *ws = json_string_value(json_object_get(m, "ws"));
	const char *node = json_string_value(json_object_get(m, "node"));
	const char *room = json_string_value(json_object_get(m, "room"));

	if (!plain(url, sizeof(c->redir_url)) || !plain(ws, sizeof(c->redir_ws)) || ws[0] != '/' ||
	    (node && strlen(node) >= sizeof(c->redir_node)) ||
	    (room && strlen(room) >= sizeof(c->redir_room))) {
		c->redirected = false;
		c->last_error = -1; /* "join refused with error -1": a redirect we cannot follow */
		return;
	}
	snprintf(c->redir_url, sizeof(c->redir_url), "%s", url);
	snprintf(c->redir_ws, sizeof(c->redir_ws), "%s", ws);
	snprintf(c->redir_node, sizeof(c->redir_node), "%s", node ? node : "");
	snprintf(c->redir_room, sizeof(c->redir_room), "%s", room ? room : "");
	c->redirected = true;
}

static void on_message(struct fhc *c, const char *text)
{
	json_error_t je;
	json_t *m = json_loads(text, 0, &je);
	const char *type = json_string_value(json_object_get(m, "type"));

	if (!type) {
		json_decref(m);
		return;
	}
	for (unsigned i = 0; i < 16; i++) {
		if (c->seen[i].type[0] && strcmp(c->seen[i].type, type))
			continue;
		snprintf(c->seen[i].type, sizeof(c->seen[i].type), "%s", type);
		snprintf(c->seen[i].last, sizeof(c->seen[i].last), "%s", text);
		c->seen[i].n++;
		break;
	}
	if (!strcmp(type, "resumed")) {
		c->resuming = false;
		c->resumes++;
		c->moderator = json_is_true(json_object_get(m, "moderator"));
	} else if (!strcmp(type, "joined")) {
		const char *room = json_string_value(json_object_get(m, "room"));
		const char *rs = json_string_value(json_object_get(m, "resume"));

		snprintf(c->resume_secret, sizeof(c->resume_secret), "%s", rs ? rs : "");
		snprintf(c->id, sizeof(c->id), "%s", json_string_value(json_object_get(m, "id")));
		if (room)
			snprintf(c->room, sizeof(c->room), "%s", room);
		c->moderator = json_is_true(json_object_get(m, "moderator"));
		c->waiting = false;
		/* the receive slots to offer from the first offer on */
		json_t *sl = json_object_get(m, "slots");
		json_int_t sa = json_integer_value(json_object_get(sl, "audio"));
		json_int_t sv = json_integer_value(json_object_get(sl, "video"));

		if (sa >= 0 && sa <= 32 && sv >= 0 && sv <= 32) {
			c->want_audio = (unsigned)sa;
			c->want_video = (unsigned)sv;
		}
		json_t *ice = json_array_get(json_object_get(m, "iceServers"), 0);
		const char *tu = json_string_value(json_object_get(ice, "username"));
		const char *tc = json_string_value(json_object_get(ice, "credential"));

		snprintf(c->turn_user, sizeof(c->turn_user), "%s", tu ? tu : "");
		snprintf(c->turn_cred, sizeof(c->turn_cred), "%s", tc ? tc : "");
		joined_nodes(c, json_object_get(m, "nodes"));
		if (!c->joined_us)
			c->joined_us = now_us() - c->t0_us;
	} else if (!strcmp(type, "redirect")) {
		redirect_msg(c, m);
	} else if (!strcmp(type, "server")) {
		c->draining = json_is_true(json_object_get(m, "draining"));
	} else if (!strcmp(type, "waiting")) {
		c->waiting = true;
	} else if (!strcmp(type, "lobby")) {
		json_t *list = json_object_get(m, "waiting");

		c->n_lobby = 0;
		for (size_t i = 0; i < json_array_size(list) && c->n_lobby < 16; i++) {
			json_t *w = json_array_get(list, i);
			const char *id = json_string_value(json_object_get(w, "id"));
			const char *name = json_string_value(json_object_get(w, "name"));

			snprintf(c->lobby_ids[c->n_lobby], sizeof(c->lobby_ids[0]), "%s",
				 id ? id : "");
			snprintf(c->lobby_names[c->n_lobby], sizeof(c->lobby_names[0]), "%s",
				 name ? name : "");
			c->n_lobby++;
		}
	} else if (!strcmp(type, "moderator")) {
		const char *id = json_string_value(json_object_get(m, "id"));

		if (id && !strcmp(id, c->id)) /* given, or taken back ("moderator": false) */
			c->moderator = !json_is_false(json_object_get(m, "moderator"));
	} else if (!strcmp(type, "participant-left")) {
		const char *id = json_string_value(json_object_get(m, "id"));

		snprintf(c->left[c->n_left++ % 16], sizeof(c->left[0]), "%s", id ? id : "");
	} else if (!strcmp(type, "closed")) {
		const char *why = json_string_value(json_object_get(m, "reason"));

		snprintf(c->closed, sizeof(c->closed), "%s", why ? why : "closed");
		c->waiting = false;
	} else if (!strcmp(type, "answer")) {
		parse_sdp(c, &c->leg[0], json_string_value(json_object_get(m, "sdp")), false);
		c->offer_pending = false;
		if (c->offer_again) {
			c->offer_again = false;
			send_offer(c);
		}
	} else if (!strcmp(type, "slots")) {
		slots_msg(c, m);
	} else if (!strcmp(type, "renegotiate")) {
		json_t *r = json_object_get(m, "recv");

		c->want_audio = (unsigned)json_integer_value(json_object_get(r, "audio"));
		c->want_video = (unsigned)json_integer_value(json_object_get(r, "video"));
		if (c->offer_pending)
			c->offer_again = true;
		else
			send_offer(c);
	} else if (!strcmp(type, "error")) {
		c->last_error = (int)json_integer_value(json_object_get(m, "code"));
		if (c->resuming && c->last_error == 4047) {
			c->resuming = false;
			c->resume_refused = true;
		}
		if (c->last_error != 4035 && c->last_error != 4011)
			c->waiting = false; /* sent away from the lobby: join again or give up */
	}
	json_decref(m);
}

/* ---- Janus VideoRoom signalling (funkhaus-bench's reference SFU) ---- */

static json_t *janus_msg(struct fhc *c, const char *verb, uint64_t handle, char txn[16])
{
	json_t *o = json_pack("{s:s}", "janus", verb);

	snprintf(txn, 16, "t%u", ++c->j_txn);
	json_object_set_new(o, "transaction", json_string(txn));
	if (c->j_session)
		json_object_set_new(o, "session_id", json_integer((json_int_t)c->j_session));
	if (handle)
		json_object_set_new(o, "handle_id", json_integer((json_int_t)handle));
	return o;
}

static json_t *janus_request(struct fhc *c, uint64_t handle, json_t *body, const char *jsep_type,
			     const char *sdp, char txn[16])
{
	json_t *o = janus_msg(c, "message", handle, txn);

	json_object_set_new(o, "body", body);
	if (sdp)
		json_object_set_new(o, "jsep",
				    json_pack("{s:s, s:s}", "type", jsep_type, "sdp", sdp));
	return o;
}

/* Our candidate is in the SDP; Janus still waits for the end of trickling on the handle. */
static void janus_trickle_done(struct fhc *c, uint64_t handle)
{
	char txn[16];
	json_t *o = janus_msg(c, "trickle", handle, txn);

	json_object_set_new(o, "candidate", json_pack("{s:b}", "completed", 1));
	send_json(c, o);
}

static json_t *plugin_data(json_t *m)
{
	return json_object_get(json_object_get(m, "plugindata"), "data");
}

static uint64_t janus_id(json_t *v)
{
	json_int_t i = json_integer_value(v);

	return i > 0 ? (uint64_t)i : 0;
}

/* Rooms are numbers in Janus: the name's FNV-1a hash, 53 bits (what JSON carries exactly). */
static uint64_t room_number(const char *name)
{
	uint64_t h = 14695981039346656037ull;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (h & ((1ull << 53) - 1)) | 1;
}

/* Publishers Janus told us about: queued for the subscriber leg unless known already. */
static void janus_publishers(struct fhc *c, json_t *list)
{
	size_t i;
	json_t *p;

	json_array_foreach(list, i, p)
	{
		uint64_t id = janus_id(json_object_get(p, "id"));
		bool known = !id || id == c->j_feed;

		for (unsigned k = 0; k < c->j_n_known && !known; k++)
			known = c->j_known[k] == id;
		if (known || c->j_n_known == FHC_MAX_RECV)
			continue;
		c->j_known[c->j_n_known++] = id;
		c->j_queue[c->j_n_queue++] = id;
	}
}

/* Subscribes to the queued publishers: "join" the first time, "subscribe" after. */
static void janus_subscribe_queued(struct fhc *c)
{
	char txn[16];

	if (!c->j_n_queue || c->j_sub_busy || !c->ws_open)
		return;
	json_t *streams = json_array();

	for (unsigned i = 0; i < c->j_n_queue; i++)
		json_array_append_new(streams,
				      json_pack("{s:I}", "feed", (json_int_t)c->j_queue[i]));
	json_t *body = c->j_sub_joined
			       ? json_pack("{s:s, s:o}", "request", "subscribe", "streams", streams)
			       : json_pack("{s:s, s:s, s:I, s:o}", "request", "join", "ptype",
					   "subscriber", "room", (json_int_t)c->j_room, "streams",
					   streams);

	send_json(c, janus_request(c, c->j_sub, body, NULL, NULL, txn));
	c->j_sub_joined = true;
	c->j_sub_busy = true;
	c->j_n_queue = 0;
}

/* Janus offers the subscriber leg (first time and on every change): answer it, and bring
 * the leg up the first time. */
static void janus_sub_offer(struct fhc *c, const char *sdp, json_t *streams)
{
	struct leg *l = &c->leg[1];
	bool first = !l->media_up && !l->dtls_ctx; /* one try: a failed leg stays down */
	char txn[16], err[160];
	size_t i;
	json_t *s;

	c->n_leg = 2;
	if (leg_socket(c, l) < 0)
		return;
	parse_sdp(c, l, sdp, true);
	json_array_foreach(streams, i, s)
	{
		const char *mid = json_string_value(json_object_get(s, "mid"));
		uint64_t feed = janus_id(json_object_get(s, "feed_id"));

		for (unsigned k = 0; mid && feed && k < l->n_ml; k++)
			if (!strcmp(l->ml[k].mid, mid))
				snprintf(l->ml[k].stream_id, sizeof(l->ml[k].stream_id), "%llu",
					 (unsigned long long)feed);
	}
	char *ans = build_answer(c, l);

	if (!ans)
		return;
	send_json(c, janus_request(c, c->j_sub, json_pack("{s:s}", "request", "start"), "answer",
				   ans, txn));
	free(ans);
	if (first)
		janus_trickle_done(c, c->j_sub);
	c->j_sub_busy = false;
	if (first && (ice(c, l, err, sizeof(err)) < 0 || dtls(c, l, err, sizeof(err)) < 0))
		c->last_error = -1; /* the subscriber leg failed: nothing will arrive */
}

static void janus_on_message(struct fhc *c, json_t *m)
{
	const char *j = json_string_value(json_object_get(m, "janus"));
	uint64_t sender = janus_id(json_object_get(m, "sender"));
	json_t *d = plugin_data(m);
	json_t *jsep = json_object_get(m, "jsep");

	if (!j)
		return;
	if (!strcmp(j, "timeout")) {
		c->ws_open = false; /* the session is gone */
		return;
	}
	if (strcmp(j, "event") != 0)
		return;
	if (json_integer_value(json_object_get(d, "error_code")))
		c->last_error = (int)json_integer_value(json_object_get(d, "error_code"));
	if (sender == c->j_pub) {
		janus_publishers(c, json_object_get(d, "publishers"));
	} else if (sender == c->j_sub && jsep &&
		   !strcmp(json_string_value(json_object_get(jsep, "type")) ?: "", "offer")) {
		janus_sub_offer(c, json_string_value(json_object_get(jsep, "sdp")) ?: "",
				json_object_get(d, "streams"));
	} else if (sender == c->j_sub && json_object_get(d, "error_code")) {
		c->j_sub_busy = false;
	}
}

/* Waits for the reply to transaction txn (not its ack), handling everything else meanwhile. */
static json_t *janus_wait(struct fhc *c, const char *txn, uint64_t deadline)
{
	while (now_ms() < deadline && c->ws_open) {
		char *text;

		while ((text = ws_take(c))) {
			json_t *m = json_loads(text, 0, NULL);
			const char *t = json_string_value(json_object_get(m, "transaction"));
			const char *j = json_string_value(json_object_get(m, "janus"));

			free(text);
			if (t && j && !strcmp(t, txn) && strcmp(j, "ack") != 0)
				return m;
			if (m)
				janus_on_message(c, m);
			json_decref(m);
		}
		if (tls_fill(c, 50) < 0)
			c->ws_open = false;
	}
	return NULL;
}

/* Sends o and waits for its reply; NULL with the reason in err (error ok_code is no error). */
static json_t *janus_call(struct fhc *c, json_t *o, const char *txn, const char *what, int ok_code,
			  char *err, size_t el)
{
	if (send_json(c, o) < 0) {
		seterr(err, el, "cannot send %s to Janus", what);
		return NULL;
	}
	json_t *r = janus_wait(c, txn, now_ms() + c->o.timeout_ms);

	if (!r) {
		seterr(err, el, "Janus did not answer %s", what);
		return NULL;
	}
	const char *j = json_string_value(json_object_get(r, "janus"));
	int code = j && !strcmp(j, "error")
			   ? (int)json_integer_value(
				     json_object_get(json_object_get(r, "error"), "code"))
			   : (int)json_integer_value(json_object_get(plugin_data(r), "error_code"));

	if (code && code != ok_code) {
		c->last_error = code;
		seterr(err, el, "Janus refused %s with error %d", what, code);
		json_decref(r);
		return NULL;
	}
	return r;
}

/* Session, two handles, the room (made by whoever comes first), then publish. */
static int janus_join(struct fhc *c, char *err, size_t el)
{
	char txn[16];
	json_t *r = janus_call(c, janus_msg(c, "create", 0, txn), txn, "the session", 0, err, el);

	if (!r)
		return -1;
	c->j_session = janus_id(json_object_get(json_object_get(r, "data"), "id"));
	json_decref(r);
	for (int k = 0; k < 2; k++) {
		json_t *o = janus_msg(c, "attach", 0, txn);

		json_object_set_new(o, "plugin", json_string("janus.plugin.videoroom"));
		if (!(r = janus_call(c, o, txn, "attaching VideoRoom", 0, err, el)))
			return -1;
		*(k ? &c->j_sub : &c->j_pub) =
			janus_id(json_object_get(json_object_get(r, "data"), "id"));
		json_decref(r);
	}
	c->j_room = room_number(c->room);
	/* 427: the room exists already */
	r = janus_call(c,
		       janus_request(c, c->j_pub,
				     json_pack("{s:s, s:I, s:i, s:i}", "request", "create", "room",
					       (json_int_t)c->j_room, "publishers", 100, "bitrate",
					       1500000),
				     NULL, NULL, txn),
		       txn, "the room", 427, err, el);
	if (!r)
		return -1;
	json_decref(r);
	struct leg *l = &c->leg[0];

	if (leg_socket(c, l) < 0)
		return seterr(err, el, "cannot open the media socket");
	char *sdp = build_offer(c, l);

	if (!sdp)
		return seterr(err, el, "out of memory");
	r = janus_call(c,
		       janus_request(c, c->j_pub,
				     json_pack("{s:s, s:s, s:I, s:s}", "request",
					       "joinandconfigure", "ptype", "publisher", "room",
					       (json_int_t)c->j_room, "display", c->name),
				     "offer", sdp, txn),
		       txn, "the join", 0, err, el);
	free(sdp);
	if (!r)
		return -1;
	janus_trickle_done(c, c->j_pub);
	json_t *d = plugin_data(r);
	const char *ans = json_string_value(json_object_get(json_object_get(r, "jsep"), "sdp"));

	c->j_feed = janus_id(json_object_get(d, "id"));
	snprintf(c->id, sizeof(c->id), "%llu", (unsigned long long)c->j_feed);
	janus_publishers(c, json_object_get(d, "publishers"));
	if (ans)
		parse_sdp(c, l, ans, false);
	json_decref(r);
	if (!ans || !c->j_feed)
		return seterr(err, el, "Janus sent no answer to the publisher's offer");
	c->j_keepalive_ms = now_ms();
	return 0;
}

static void janus_keepalive(struct fhc *c)
{
	char txn[16];

	if (now_ms() - c->j_keepalive_ms < 20000)
		return;
	c->j_keepalive_ms = now_ms();
	send_json(c, janus_msg(c, "keepalive", 0, txn));
}

/* ---- media ---- */

static void on_datagram(struct fhc *c, struct leg *l, uint8_t *buf, size_t len, uint64_t at);

/* ---- simulcast sending (opts.simulcast) ---- */

static const char *send_mid(const struct fhc *c, bool video)
{
	const struct leg *l = &c->leg[0];

	for (unsigned i = 0; i < l->n_ml; i++)
		if (l->ml[i].send && l->ml[i].video == video)
			return l->ml[i].mid;
	return NULL;
}

/* Whether a stream still sends mid and rid: its first second, until the SFU reported on it. */
static bool early(uint64_t *first_us, bool rr_seen, uint64_t now)
{
	if (!*first_us)
		*first_us = now;
	return !rr_seen && now - *first_us < EARLY_EXT_US;
}

/* One RTP packet with an extension block: the transport-wide number and send time always. */
static int send_ext_rtp(struct fhc *c, uint8_t pt, uint32_t ssrc, uint16_t seq, uint32_t ts,
			bool marker, struct fhc_sim_ext *e, const uint8_t *payload, size_t len)
{
	struct leg *l = &c->leg[0];
	uint8_t buf[1500];
	size_t x;
	int n;

	e->ids = chrome_ids;
	e->twcc = e->abs = true;
	e->twcc_seq = c->twcc_seq++;
	e->abs_send_time = fh_rtpext_abs_time(now_us());
	x = fhc_sim_ext_write(buf + 12, 64, e);
	if (!l->media_up || 12 + x + len > 1400)
		return -1;
	buf[0] = (uint8_t)(0x80 | (x ? 0x10 : 0));
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
	fh_wr16(buf + 2, seq);
	fh_wr32(buf + 4, ts);
	fh_wr32(buf + 8, ssrc);
	memcpy(buf + 12 + x, payload, len);
	n = (int)(12 + x + len);
	if (srtp_protect(l->srtp_tx, buf, &n) != srtp_err_status_ok)
		return -1;
	return send(l->udp, buf, (size_t)n, 0) == n ? 0 : -1;
}

static int send_layer_packet(struct fhc *c, unsigned layer, const uint8_t *payload, size_t len,
			     bool marker, uint32_t ts)
{
	struct sim_layer *sl = &c->sl[layer];
	struct fhc_sim_ext e = {0};
	uint16_t seq = sl->seq++;
	struct sim_sent *h = &sl->hist[seq % RTX_HIST];

	if (early(&sl->first_us, sl->rr_seen, now_us())) {
		e.mid = send_mid(c, true);
		e.rid = rid_name[layer];
	}
	h->seq = seq;
	h->len = (uint16_t)len;
	h->ts = ts;
	h->marker = marker;
	memcpy(h->payload, payload, len);
	return send_ext_rtp(c, 96, sl->ssrc, seq, ts, marker, &e, payload, len);
}

/* RFC 4588: the original sequence number, then the original payload, on the layer's RTX SSRC. */
static void send_rtx(struct fhc *c, unsigned layer, uint16_t seq)
{
	struct sim_layer *sl = &c->sl[layer];
	const struct sim_sent *h = &sl->hist[seq % RTX_HIST];
	struct fhc_sim_ext e = {.rrid = true};
	uint8_t p[1202];

	if (!h->len || h->seq != seq)
		return; /* too old, or never sent */
	if (early(&sl->rtx_first_us, sl->rtx_rr_seen, now_us())) {
		e.mid = send_mid(c, true);
		e.rid = rid_name[layer];
	}
	fh_wr16(p, seq);
	memcpy(p + 2, h->payload, h->len);
	if (send_ext_rtp(c, 97, sl->rtx_ssrc, sl->rtx_seq++, h->ts, h->marker, &e, p,
			 (size_t)h->len + 2) == 0)
		sl->rtx_sent++;
}

static int layer_of(const struct fhc *c, uint32_t ssrc)
{
	for (int i = 0; i < FHC_SIM_LAYERS; i++)
		if (ssrc && c->sl[i].ssrc == ssrc)
			return i;
	return -1;
}

/* The SFU reported on ssrc (SR/RR report block): its streams stop sending mid and rid. */
static void rr_for(struct fhc *c, uint32_t ssrc)
{
	for (int i = 0; i < FHC_SIM_LAYERS; i++) {
		c->sl[i].rr_seen |= c->sl[i].ssrc == ssrc;
		c->sl[i].rtx_rr_seen |= c->sl[i].rtx_ssrc == ssrc;
	}
	c->a_rr_seen |= c->a_ssrc == ssrc;
}

/* Feedback the SFU sends a simulcast sender; anything malformed is skipped, every loop bounded
 * by the packet's own length. */
static void sim_rtcp(struct fhc *c, const struct fh_rtcp_pkt *p)
{
	if (p->pt == FH_RTCP_SR || p->pt == FH_RTCP_RR) {
		size_t first = p->pt == FH_RTCP_SR ? 28 : 8;

		for (size_t k = 0; k < p->count && first + 24 * (k + 1) <= p->len; k++)
			rr_for(c, fh_rd32(p->data + first + 24 * k));
	} else if (p->pt == FH_RTCP_PSFB && p->count == FH_PSFB_PLI) {
		int i = layer_of(c, fh_rtcp_fb_media_ssrc(p));

		if (i >= 0)
			c->sl[i].key_due = true;
	} else if (p->pt == FH_RTCP_PSFB && p->count == FH_PSFB_FIR) {
		for (size_t off = 12; off + 8 <= p->len; off += 8) {
			int i = layer_of(c, fh_rd32(p->data + off));

			if (i >= 0)
				c->sl[i].key_due = true;
		}
	} else if (p->pt == FH_RTCP_RTPFB && p->count == FH_RTPFB_NACK) {
		int i = layer_of(c, fh_rtcp_fb_media_ssrc(p));
		uint16_t seqs[64];
		unsigned n = i >= 0 ? fh_rtcp_nack_seqs(p, seqs, 64) : 0;

		for (unsigned k = 0; k < n && k < 64; k++)
			send_rtx(c, (unsigned)i, seqs[k]);
	} else if (p->pt == FH_RTCP_RTPFB && p->count == FH_RTPFB_TWCC) {
		static __thread struct fh_twcc_pkt pkts[4096];
		struct fh_twcc_fb fb;

		if (fh_twcc_parse(p->data, p->len, &fb, pkts, 4096) >= 0)
			c->twcc_received++;
		else
			c->twcc_bad++;
	}
}

int fhc_send_frame(struct fhc *c, unsigned layer, size_t bytes)
{
	if (!c->o.simulcast || layer >= FHC_SIM_LAYERS || !c->leg[0].media_up || !c->sl[layer].hist)
		return -1;
	struct sim_layer *sl = &c->sl[layer];
	uint64_t now = now_us();
	bool key = !sl->frames || (sl->key_due && now - sl->last_key_us >= KEY_MIN_US);

	if (key) {
		sl->key_due = false;
		sl->last_key_us = now;
		sl->frame = 0;
		sl->keyframes++;
		bytes *= 5;
	}
	if (bytes > SIM_FRAME_MAX)
		bytes = SIM_FRAME_MAX;
	uint8_t tid = fhc_sim_l1t3_tid(sl->frame);

	if (tid == 0)
		sl->tl0picidx++;
	uint32_t ts = sl->ts_base + (uint32_t)(now * 9 / 100); /* 90 kHz capture time */
	/* packets of at most 1200 bytes, of about equal size, as a browser's packetizer cuts */
	size_t npk = (bytes + 1199) / 1200, sent = 0;

	if (!npk)
		npk = 1;
	for (size_t k = 0; k < npk; k++) {
		uint8_t p[1200];
		size_t want = bytes / npk + (k < bytes % npk), o;

		o = fhc_sim_vp8_desc(p, k == 0, sl->picid, sl->tl0picidx, tid,
				     key || fhc_sim_l1t3_sync(sl->frame));
		if (k == 0)
			o += fhc_sim_vp8_header(p + o, key, sim_width[layer], sim_height[layer],
						(uint32_t)(bytes / 2));
		fhc_stamp(p + o);
		o += FHC_STAMP_LEN;
		p[o++] = 'L';
		p[o++] = (uint8_t)layer;
		if (want < o)
			want = o;
		if (want > sizeof(p))
			want = sizeof(p);
		memset(p + o, 0x3c, want - o);
		if (send_layer_packet(c, layer, p, want, k + 1 == npk, ts) == 0)
			sent++;
	}
	sl->picid = (sl->picid + 1) & 0x7fff;
	sl->frame++;
	sl->frames++;
	return (int)sent;
}

uint64_t fhc_keyframes_sent(const struct fhc *c, unsigned layer)
{
	return layer < FHC_SIM_LAYERS ? c->sl[layer].keyframes : 0;
}

uint64_t fhc_rtx_sent(const struct fhc *c, unsigned layer)
{
	return layer < FHC_SIM_LAYERS ? c->sl[layer].rtx_sent : 0;
}

/* ---- the downlink model (opts.link_bps) ---- */

/* One datagram without blocking, and when it arrived (CLOCK_MONOTONIC): the kernel's receive
 * time where the socket records it (SO_TIMESTAMPNS, CLOCK_REALTIME, moved onto the monotonic
 * clock and kept within the last second), else now. */
static ssize_t recv_at(struct fhc *c, int fd, uint8_t *buf, size_t cap, uint64_t *at)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	bool stamped = c->o.link_bps || c->o.simulcast;

	if (stamped) {
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
	}
	ssize_t got = recvmsg(fd, &m, MSG_DONTWAIT);
	uint64_t now = now_us();

	*at = now;
	if (got <= 0 || !stamped)
		return got;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		struct timespec k, real;

		memcpy(&k, CMSG_DATA(h), sizeof(k));
		clock_gettime(CLOCK_REALTIME, &real);
		int64_t ago = ((int64_t)real.tv_sec - k.tv_sec) * 1000000 +
			      ((int64_t)real.tv_nsec - k.tv_nsec) / 1000;

		if (ago > 0 && ago < 1000000)
			*at = now - (uint64_t)ago;
	}
	/* two clocks read per datagram: never earlier than the one before */
	if (*at < c->rx_at_us)
		*at = c->rx_at_us;
	c->rx_at_us = *at;
	return got;
}

/* A datagram as it reaches our side of the modelled link: dropped, or held until it has
 * crossed it; without a link it is handled now. */
static void ingress(struct fhc *c, unsigned leg, uint8_t *buf, size_t len, uint64_t now)
{
	uint64_t at;

	if (!c->o.link_bps || !c->held) {
		on_datagram(c, &c->leg[leg], buf, len, now);
		return;
	}
	if (!fhc_sim_link_pass(&c->link, now, len, &at))
		return;
	if (c->held_n == c->held_cap || len > sizeof(c->held[0].buf)) {
		c->link.dropped++; /* more than the ring holds: a tail drop as well */
		return;
	}
	struct held *h = &c->held[(c->held_head + c->held_n++) % c->held_cap];

	h->at = at;
	h->len = (uint16_t)len;
	h->leg = (uint8_t)leg;
	memcpy(h->buf, buf, len);
}

/* Hands over what has crossed the link by now, in order; returns µs to the next, or -1. */
static int64_t deliver_held(struct fhc *c)
{
	uint64_t now = now_us();

	for (unsigned k = 0; k < c->held_cap && c->held_n; k++) {
		struct held *h = &c->held[c->held_head];

		if (h->at > now)
			return (int64_t)(h->at - now);
		c->held_head = (c->held_head + 1) % c->held_cap;
		c->held_n--;
		on_datagram(c, &c->leg[h->leg], h->buf, h->len, h->at);
	}
	return c->held_n ? 0 : -1;
}

static int send_rtcp(struct fhc *c, uint8_t *buf, size_t len);

/* Transport-wide feedback about what arrived, about every 100 ms (fh_twcc_rx decides). */
static void send_twcc(struct fhc *c)
{
	uint8_t buf[1200];

	if (!c->twcc_rx || !fh_twcc_rx_due(c->twcc_rx, now_us()))
		return;
	for (int k = 0; k < 16; k++) {
		size_t n = fh_twcc_rx_build(c->twcc_rx, buf, sizeof(buf), c->a_ssrc,
					    c->twcc_media_ssrc);

		if (!n)
			break;
		if (send_rtcp(c, buf, n) == 0)
			c->twcc_sent++;
	}
}

const struct fhc_sim_link *fhc_link(const struct fhc *c)
{
	return &c->link;
}

uint64_t fhc_twcc_sent(const struct fhc *c)
{
	return c->twcc_sent;
}

uint64_t fhc_twcc_received(const struct fhc *c, uint64_t *bad)
{
	if (bad)
		*bad = c->twcc_bad;
	return c->twcc_received;
}

uint64_t fhc_now_us(void)
{
	return now_us();
}

/* The participant an m-line's stream comes from: with Funkhaus' receive slots the one the
 * last "slots" named, else the msid (Janus). */
static const char *ml_source(const struct ml *m)
{
	return m->slot_src[0] ? m->slot_src : m->stream_id;
}

/* Statistics per (SSRC, source): a slot that carries someone else from now on starts a new
 * entry, so what arrived is counted for whom it came from. */
static struct fhc_stream_stats *stats_for(struct fhc *c, struct leg *l, uint32_t ssrc)
{
	const struct ml *m = NULL;

	for (unsigned i = 0; i < l->n_ml && !m; i++)
		if (l->ml[i].ssrc == ssrc)
			m = &l->ml[i];
	if (!m)
		return NULL;
	const char *src = ml_source(m);

	for (unsigned i = 0; i < c->n_st; i++)
		if (c->st[i].ssrc == ssrc && !strcmp(c->st[i].stream_id, src))
			return &c->st[i];
	if (c->n_st == FHC_MAX_RECV)
		return NULL;
	struct fhc_stream_stats *s = &c->st[c->n_st++];

	memset(s, 0, sizeof(*s));
	s->ssrc = ssrc;
	s->video = m->video;
	snprintf(s->stream_id, sizeof(s->stream_id), "%s", src);
	return s;
}

/* The ids we read extensions with: the answer's, else (a server that answers none) ours. */
static const uint8_t *rx_ids(const struct fhc *c, const struct leg *l)
{
	static const uint8_t none[FH_EXT_MAX];

	if (l->ext_answered)
		return l->ext_ids;
	return c->o.simulcast ? chrome_ids : none;
}

/*
 * What a received video packet says beyond its RTP header: where the stamp is (after a VP8
 * payload descriptor and, on a frame's first packet, the payload header, when a simulcast sender
 * wrote them; else at the start), whether it starts a frame (-1: not known) and its layer.
 */
static size_t video_payload(const uint8_t *p, size_t len, int *start, int *layer)
{
	struct fh_vp8_desc d;

	*start = -1;
	*layer = -1;
	if (len >= FHC_STAMP_LEN && !memcmp(p + 8, "FHB1", 4))
		return 0;
	if (fh_vp8_parse(p, len, &d) < 0)
		return 0;
	size_t off = d.len;

	if (d.s && d.pid == 0)
		off += (p[off] & 1) ? 3 : 10; /* P=0: a key frame's 10-byte header */
	if (off + FHC_STAMP_LEN > len || memcmp(p + off + 8, "FHB1", 4) != 0)
		return 0;
	*start = d.s && d.pid == 0;
	if (off + FHC_STAMP_LEN + 2 <= len && p[off + FHC_STAMP_LEN] == 'L' &&
	    p[off + FHC_STAMP_LEN + 1] < FHC_SIM_LAYERS)
		*layer = p[off + FHC_STAMP_LEN + 1];
	return off;
}

static void on_rtp(struct fhc *c, struct leg *l, uint8_t *buf, size_t wire_len, size_t n,
		   const struct fh_rtp_hdr *hp, uint64_t at);
static void on_rtcp(struct fhc *c, const uint8_t *buf, size_t n);

static void on_datagram(struct fhc *c, struct leg *l, uint8_t *buf, size_t len, uint64_t at)
{
	int n = (int)len;
	struct fh_rtp_hdr h;

	enum fh_demux d = fh_demux(buf, len);

	if (d == FH_DEMUX_STUN) {
		answer_check(c, l, buf, len);
		return;
	}
	if (!l->media_up)
		return;

	if (d == FH_DEMUX_RTP) {
		if (srtp_unprotect(l->srtp_rx, buf, &n) != srtp_err_status_ok ||
		    fh_rtp_parse(buf, (size_t)n, &h) < 0)
			return;
		on_rtp(c, l, buf, len, (size_t)n, &h, at);
	} else if (d == FH_DEMUX_RTCP) {
		if (srtp_unprotect_rtcp(l->srtp_rx, buf, &n) != srtp_err_status_ok)
			return;
		on_rtcp(c, buf, (size_t)n);
	}
}

/* Transport-wide sequence numbers of what arrives, for the feedback fhc_poll sends. */
static void record_twcc(struct fhc *c, struct leg *l, const uint8_t *buf, size_t n,
			const struct fh_rtp_hdr *h, uint64_t at)
{
	struct fh_rtpext_view v;
	uint16_t seq;

	if (fh_rtpext_parse(buf, n, h, rx_ids(c, l), &v) < 0 ||
	    fh_rtpext_twcc_seq(buf, &v, &seq) < 0)
		return;
	if (!c->twcc_rx) {
		c->twcc_rx = malloc(sizeof(*c->twcc_rx));
		if (!c->twcc_rx)
			return;
		fh_twcc_rx_init(c->twcc_rx);
	}
	fh_twcc_rx_record(c->twcc_rx, seq, at);
	c->twcc_media_ssrc = h->ssrc;
}

static void on_rtp(struct fhc *c, struct leg *l, uint8_t *buf, size_t wire_len, size_t n,
		   const struct fh_rtp_hdr *hp, uint64_t at)
{
	struct fh_rtp_hdr h = *hp;

	record_twcc(c, l, buf, n, &h, at);
	for (unsigned i = 0; i < l->n_ml; i++) {
		if (l->ml[i].rtx_ssrc && l->ml[i].rtx_ssrc == h.ssrc) {
			struct fhc_stream_stats *s = stats_for(c, l, l->ml[i].ssrc);

			if (s && h.payload_len >= 2) {
				size_t pl = h.payload_len - 2;

				s->rtx_packets++;
				s->last_rtx_osn = fh_rd16(buf + h.hdr_len);
				s->last_rtx_len = pl < sizeof(s->last_rtx_payload)
							  ? pl
							  : sizeof(s->last_rtx_payload);
				memcpy(s->last_rtx_payload, buf + h.hdr_len + 2, s->last_rtx_len);
			}
			return;
		}
	}
	struct fhc_stream_stats *s = stats_for(c, l, h.ssrc);

	if (!s)
		return;
	s->last_seq = h.seq;
	s->packets++;
	s->wire_bytes += wire_len + FHC_SIM_IPUDP;
	if (s->last_us && at - s->last_us > s->max_gap_us)
		s->max_gap_us = at - s->last_us;
	s->last_us = at;
	const uint8_t *pl = buf + h.hdr_len;
	size_t off = 0;

	if (s->video) {
		int start, layer;

		off = video_payload(pl, h.payload_len, &start, &layer);
		fhc_sim_frames_packet(&s->fr, h.seq, h.ts, h.marker, start, layer, at);
	}
	measure(c, s, &h, pl + off, h.payload_len - off, at);
	s->bytes += h.payload_len;
	s->last_len =
		h.payload_len < sizeof(s->last_payload) ? h.payload_len : sizeof(s->last_payload);
	memcpy(s->last_payload, buf + h.hdr_len, s->last_len);
}

static void on_rtcp(struct fhc *c, const uint8_t *buf, size_t n)
{
	struct fh_rtcp_pkt p;
	size_t off = 0;

	for (int k = 0; k < 64 && fh_rtcp_next(buf, n, &off, &p) == 1; k++) {
		if (c->o.simulcast)
			sim_rtcp(c, &p);
		if (p.pt == FH_RTCP_PSFB && (p.count == FH_PSFB_PLI || p.count == FH_PSFB_FIR))
			c->pli_received++;
		if (p.pt == FH_RTCP_PSFB && p.count == FH_PSFB_AFB && fh_rtcp_remb_bitrate(&p)) {
			c->remb_bitrate = fh_rtcp_remb_bitrate(&p);
			c->remb_received++;
		}
	}
}

static void on_text(struct fhc *c, char *text)
{
	if (!c->o.janus) {
		on_message(c, text);
		return;
	}
	json_t *m = json_loads(text, 0, NULL);

	if (m)
		janus_on_message(c, m);
	json_decref(m);
}

/* The signalling broke while media flows: a new connection, and "resume" with the secret
 * "joined" gave; tried every 300 ms while the control plane is away. */
static void try_resume(struct fhc *c)
{
	char err[128];

	if (now_ms() < c->next_resume_ms)
		return;
	c->next_resume_ms = now_ms() + 300;
	if (c->tls) {
		SSL_free(c->tls);
		c->tls = NULL;
	}
	SSL_CTX_free(c->tls_ctx);
	c->tls_ctx = NULL;
	if (c->tcp >= 0)
		close(c->tcp);
	c->tcp = -1;
	c->rx_len = 0;
	free(c->frag);
	c->frag = NULL;
	c->frag_len = 0;
	unsigned timeout = c->o.timeout_ms;

	c->o.timeout_ms = 1000; /* each try short: the calls' media waits for none of them */
	int rc = ws_open(c, err, sizeof(err));

	c->o.timeout_ms = timeout;
	if (rc < 0) {
		c->resume_failed++;
		return;
	}
	c->resuming = true;
	send_json(c, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "resume", "id", c->id, "secret",
			       c->resume_secret, "room", c->room, "name", c->name));
}

int fhc_poll(struct fhc *c, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	do {
		if (c->o.resume && !c->ws_open && c->id[0] && c->resume_secret[0] &&
		    !c->resume_refused && c->leg[0].media_up && !c->o.janus)
			try_resume(c);
		struct pollfd p[3] = {{.fd = c->tcp, .events = POLLIN}};
		nfds_t n = 1;

		for (unsigned i = 0; i < c->n_leg; i++)
			p[1 + i] = (struct pollfd){.fd = c->leg[i].udp, .events = POLLIN};
		n += c->n_leg;
		int left = (int)(end > now_ms() ? end - now_ms() : 0);
		int64_t next = deliver_held(c);

		if (next >= 0 && next / 1000 < left)
			left = (int)(next / 1000);
		if (c->tls && SSL_pending(c->tls))
			left = 0;
		poll(p, n, left);
		if (c->ws_open && ((p[0].revents & POLLIN) || SSL_pending(c->tls))) {
			if (tls_fill(c, 0) < 0)
				c->ws_open = false;
			char *msg;

			while ((msg = ws_take(c))) {
				on_text(c, msg);
				free(msg);
			}
		}
		for (unsigned i = 0; i < c->n_leg; i++) {
			struct leg *l = &c->leg[i];

			if (l->udp < 0 || !(p[1 + i].revents & POLLIN))
				continue;
			uint8_t buf[2048];

			for (int k = 0; k < 64; k++) {
				uint64_t at;
				ssize_t got = recv_at(c, l->udp, buf, sizeof(buf) - 64, &at);

				if (got <= 0)
					break;
				ingress(c, i, buf, (size_t)got, at);
			}
		}
		deliver_held(c);
		send_twcc(c);
		/* consent freshness (RFC 7675): every 2 s, well inside any server timeout */
		for (unsigned i = 0; i < c->n_leg; i++)
			if (c->leg[i].media_up && now_ms() - c->leg[i].last_check_ms > 2000)
				send_check(c, &c->leg[i]);
		if (c->o.janus && c->ws_open) {
			janus_subscribe_queued(c);
			janus_keepalive(c);
		}
	} while (now_ms() < end);
	return c->ws_open || c->leg[0].media_up ? 0 : -1;
}

int fhc_send(struct fhc *c, bool video, const uint8_t *payload, size_t len, bool marker)
{
	struct leg *l = &c->leg[0];
	uint8_t buf[1500];
	int n;

	if (!l->media_up || len > 1200 || (video && c->o.simulcast))
		return -1;
	if (c->o.simulcast) { /* Opus as Chrome sends it: level, send time, transport-wide seq */
		struct fhc_sim_ext e = {.level = true, .level_byte = 0x80 | 30};

		if (early(&c->a_first_us, c->a_rr_seen, now_us()))
			e.mid = send_mid(c, false);
		int r = send_ext_rtp(c, 111, c->a_ssrc, c->a_seq++, c->a_ts, false, &e, payload,
				     len);

		c->a_ts += 960;
		return r;
	}
	buf[0] = 0x80;
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | (video ? 96 : 111));
	if (video) {
		fh_wr16(buf + 2, c->v_seq++);
		fh_wr32(buf + 4, c->v_ts);
		fh_wr32(buf + 8, c->v_ssrc);
		if (marker)
			c->v_ts += 3000;
	} else {
		fh_wr16(buf + 2, c->a_seq++);
		fh_wr32(buf + 4, c->a_ts);
		fh_wr32(buf + 8, c->a_ssrc);
		c->a_ts += 960;
	}
	memcpy(buf + 12, payload, len);
	n = (int)(12 + len);
	if (srtp_protect(l->srtp_tx, buf, &n) != srtp_err_status_ok)
		return -1;
	return send(l->udp, buf, (size_t)n, 0) == n ? 0 : -1;
}

static int funkhaus_enter(struct fhc *c, char *err, size_t el);

/* Funkhaus: join, then offer what we publish; the answer's candidate is the worker's port. */
static int funkhaus_join(struct fhc *c, char *err, size_t el)
{
	json_t *j = json_pack("{s:s, s:s}", "type", "join", "name", c->name);

	if (c->room[0]) /* none: open a new room (with a token) */
		json_object_set_new(j, "room", json_string(c->room));

	if (c->o.token)
		json_object_set_new(j, "token", json_string(c->o.token));
	if (c->o.password)
		json_object_set_new(j, "password", json_string(c->o.password));
	if (c->o.video_slots)
		json_object_set_new(j, "video",
				    json_integer(c->o.video_slots < 0 ? 0 : c->o.video_slots));
	if (c->hops)
		json_object_set_new(j, "hop", json_integer(c->hops));
	send_json(c, j);
	c->waiting = false;
	return funkhaus_enter(c, err, el);
}

/* Funkhaus: waits for "joined" (or, with a lobby, "waiting"), then offers. */
static int funkhaus_enter(struct fhc *c, char *err, size_t el)
{
	uint64_t deadline = now_ms() + c->o.timeout_ms;
	bool was_waiting = c->waiting;

	while (!c->id[0] && (was_waiting || !c->waiting) && now_ms() < deadline && c->ws_open &&
	       !c->redirected) {
		fhc_poll(c, 50);
		if (c->redirected)
			return 1;
		if (c->last_error && c->last_error != 4035)
			return seterr(err, el, "join refused with error %d", c->last_error);
		if (c->closed[0])
			return seterr(err, el, "closed: %s", c->closed);
	}
	if (c->redirected)
		return 1;
	if (c->waiting && !c->id[0])
		return was_waiting ? seterr(err, el, "still waiting in the lobby") : 0;
	if (!c->id[0])
		return seterr(err, el, "no answer to join");
	if (c->o.stop == FHC_STOP_JOINED)
		return 0;
	send_offer(c);
	while (c->offer_pending && now_ms() < deadline && c->ws_open)
		fhc_poll(c, 50);
	if (c->offer_pending)
		return seterr(err, el, "no answer to the offer (error %d)", c->last_error);
	return 0;
}

/* Drops the signalling connection (TLS, TCP, what was read) to open another. */
static void ws_drop(struct fhc *c)
{
	if (c->tls) {
		SSL_free(c->tls);
		c->tls = NULL;
	}
	SSL_CTX_free(c->tls_ctx);
	c->tls_ctx = NULL;
	if (c->tcp >= 0)
		close(c->tcp);
	c->tcp = -1;
	c->ws_open = false;
	c->rx_len = 0;
	free(c->frag);
	c->frag = NULL;
	c->frag_len = 0;
}

int fhc_parse_url(const char *url, uint16_t default_port, char *host, size_t host_len,
		  uint16_t *port)
{
	const char *h = url, *end;
	unsigned long p = default_port;

	if (!url)
		return -1;
	if (!strncmp(h, "https://", 8))
		h += 8;
	else if (strstr(h, "://"))
		return -1; /* wss, http: not what a node's base URL is */
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end || end == h + 1)
			return -1;
		if ((size_t)(end - h - 1) >= host_len)
			return -1;
		snprintf(host, host_len, "%.*s", (int)(end - h - 1), h + 1);
		end++;
	} else {
		const char *colon = strchr(h, ':'), *slash = strchr(h, '/');

		if (colon && strchr(colon + 1, ':')) { /* a bare IPv6 literal: no port */
			if (slash || strlen(h) >= host_len)
				return -1;
			snprintf(host, host_len, "%s", h);
			*port = default_port;
			return 0;
		}
		end = colon && (!slash || colon < slash) ? colon : slash ? slash : h + strlen(h);
		if (end == h || (size_t)(end - h) >= host_len)
			return -1;
		snprintf(host, host_len, "%.*s", (int)(end - h), h);
	}
	if (*end == ':') {
		char *e;

		p = strtoul(end + 1, &e, 10);
		if (e == end + 1 || p == 0 || p > 65535 || (*e && *e != '/'))
			return -1;
	} else if (*end && *end != '/') {
		return -1;
	}
	*port = (uint16_t)p;
	return 0;
}

/* A redirect came and the server closed: the same join on a new connection to where it
 * points, with its room and one hop more. */
static int follow(struct fhc *c, char *err, size_t el)
{
	char host[sizeof(c->host)];
	uint16_t port;

	c->redirected = false;
	if (fhc_parse_url(c->redir_url, 443, host, sizeof(host), &port) < 0)
		return seterr(err, el, "a redirect to a URL that is none");
	ws_drop(c);
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->o.port = port;
	snprintf(c->ws_path, sizeof(c->ws_path), "%s", c->redir_ws);
	c->o.ws_path = c->ws_path;
	c->o.vhost = NULL; /* the path names the tenant now */
	if (c->redir_room[0])
		snprintf(c->room, sizeof(c->room), "%s", c->redir_room);
	snprintf(c->node, sizeof(c->node), "%s", c->redir_node);
	c->hops++;
	c->last_error = 0;
	return ws_open(c, err, el);
}

struct fhc *fhc_connect(const struct fhc_opts *o, char *err, size_t el)
{
	static bool srtp_ready;
	struct fhc *c = calloc(1, sizeof(*c));

	if (!c) {
		seterr(err, el, "out of memory");
		return NULL;
	}
	if (!srtp_ready) {
		srtp_init();
		srtp_ready = true;
	}
	c->o = *o;
	snprintf(c->room, sizeof(c->room), "%s", o->room);
	snprintf(c->name, sizeof(c->name), "%s", o->name);
	c->o.room = c->room;
	c->o.name = c->name;
	snprintf(c->host, sizeof(c->host), "%s", o->host ? o->host : "");
	c->o.host = c->host;
	if (o->source) {
		snprintf(c->source, sizeof(c->source), "%s", o->source);
		c->o.source = c->source;
	}
	if (o->prefix) {
		snprintf(c->prefix, sizeof(c->prefix), "%s", o->prefix);
		c->o.prefix = c->prefix;
	}
	if (o->origin) {
		snprintf(c->origin, sizeof(c->origin), "%s", o->origin);
		c->o.origin = c->origin;
	}
	if (o->ws_path) {
		snprintf(c->ws_path, sizeof(c->ws_path), "%s", o->ws_path);
		c->o.ws_path = c->ws_path;
	}
	c->t0_us = now_us();
	c->tcp = -1;
	if (!c->o.timeout_ms)
		c->o.timeout_ms = 5000;
	c->leg[0].udp = c->leg[1].udp = -1;
	c->n_leg = 1;
	c->a_ssrc = rnd32();
	c->v_ssrc = rnd32();
	c->v_rtx_ssrc = rnd32();
	c->a_seq = (uint16_t)rnd32();
	c->v_seq = (uint16_t)rnd32();
	for (int i = 0; o->simulcast && i < FHC_SIM_LAYERS; i++) {
		struct sim_layer *sl = &c->sl[i];

		sl->ssrc = rnd32();
		sl->rtx_ssrc = rnd32();
		sl->seq = (uint16_t)rnd32();
		sl->rtx_seq = (uint16_t)rnd32();
		sl->ts_base = rnd32();
		sl->picid = (uint16_t)(rnd32() & 0x7fff);
		sl->tl0picidx = (uint8_t)rnd32();
		sl->hist = calloc(RTX_HIST, sizeof(*sl->hist));
		if (!sl->hist) {
			seterr(err, el, "out of memory");
			goto fail;
		}
	}
	c->twcc_seq = (uint16_t)rnd32();
	c->link.bps = o->link_bps;
	if (o->link_bps) {
		/* room for 200 ms at the link's rate in datagrams of 100 bytes, and some */
		uint64_t cap = o->link_bps / 8 / 5 / 100 + 64;

		c->held_cap = (unsigned)(cap < 4096 ? cap : 4096);
		c->held = calloc(c->held_cap, sizeof(*c->held));
		if (!c->held) {
			seterr(err, el, "out of memory");
			goto fail;
		}
	}
	rnd_alnum(c->lufrag, 8);
	rnd_alnum(c->lpwd, 24);
	/* a DTLS certificate only for a client that will bring media up */
	if (o->stop == FHC_STOP_MEDIA && make_cert(c) < 0) {
		seterr(err, el, "cannot make a certificate");
		goto fail;
	}
	if (ws_open(c, err, el) < 0)
		goto fail;
	if (o->stop == FHC_STOP_UPGRADED)
		return c;
	struct leg *l = &c->leg[0];

	for (int k = 0; k < 2; k++) {
		unsigned i = l->n_ml;

		if (!(k ? o->video : o->audio))
			continue;
		snprintf(l->ml[i].mid, sizeof(l->ml[i].mid), "%u", i);
		l->ml[i].video = k;
		l->ml[i].send = true;
		l->n_ml++;
	}
	unsigned max_hops = o->max_redirects < 0 ? 0
			    : o->max_redirects	 ? (unsigned)o->max_redirects
						 : 2;
	int rc;

	while ((rc = c->o.janus ? janus_join(c, err, el) : funkhaus_join(c, err, el)) == 1) {
		/* a loop (A says B, B says A) ends here, after a bounded number of hops */
		if (c->hops >= max_hops) {
			seterr(err, el, "redirected %s to node %s (%s)",
			       max_hops ? "once more than the limit" : "and not following",
			       c->redir_node[0] ? c->redir_node : "?", c->redir_url);
			goto fail;
		}
		if (follow(c, err, el) < 0)
			goto fail;
	}
	if (rc < 0)
		goto fail;
	if (c->waiting || o->stop == FHC_STOP_JOINED)
		return c; /* in a lobby: fhc_enter once a moderator lets us in */
	if (ice(c, l, err, el) < 0 || dtls(c, l, err, el) < 0)
		goto fail;
	c->media_us = now_us() - c->t0_us;
	return c;
fail:
	fhc_close(c);
	return NULL;
}

int fhc_enter(struct fhc *c, char *err, size_t el)
{
	if (!c->waiting && c->id[0])
		return 0;
	if (funkhaus_enter(c, err, el) != 0)
		return -1;
	if (ice(c, &c->leg[0], err, el) < 0 || dtls(c, &c->leg[0], err, el) < 0)
		return -1;
	c->media_us = now_us() - c->t0_us;
	return 0;
}

unsigned fhc_hops(const struct fhc *c)
{
	return c->hops;
}

const char *fhc_node(const struct fhc *c)
{
	return c->node;
}

const char *fhc_where(const struct fhc *c)
{
	return c->where;
}

const char *fhc_redirect(const struct fhc *c, const char **node)
{
	if (node)
		*node = c->redir_url[0] ? c->redir_node : NULL;
	return c->redir_url[0] ? c->redir_url : NULL;
}

const char *fhc_peer_node(const struct fhc *c, unsigned i)
{
	return i < c->n_peer_nodes ? c->peer_nodes[i] : NULL;
}

uint64_t fhc_joined_us(const struct fhc *c)
{
	return c->joined_us;
}

uint64_t fhc_media_us(const struct fhc *c)
{
	return c->media_us;
}

bool fhc_draining(const struct fhc *c)
{
	return c->draining;
}

void fhc_pool(const struct fhc *c, unsigned *audio, unsigned *video)
{
	*audio = c->want_audio;
	*video = c->want_video;
}

unsigned fhc_resumes(const struct fhc *c)
{
	return c->resumes;
}

unsigned fhc_resume_tries_failed(const struct fhc *c)
{
	return c->resume_failed;
}

bool fhc_resume_refused(const struct fhc *c)
{
	return c->resume_refused;
}

bool fhc_waiting(const struct fhc *c)
{
	return c->waiting;
}

const char *fhc_lobby(const struct fhc *c, unsigned i, const char **name)
{
	if (i >= c->n_lobby)
		return NULL;
	if (name)
		*name = c->lobby_names[i];
	return c->lobby_ids[i];
}

const struct fhc_stream_stats *fhc_stream(const struct fhc *c, const char *id, bool video)
{
	for (unsigned i = 0; i < c->n_st; i++)
		if (!strcmp(c->st[i].stream_id, id) && c->st[i].video == video)
			return &c->st[i];
	return NULL;
}

/* Feedback goes on the leg that receives: leg 0 with Funkhaus, leg 1 with Janus. */
static int send_rtcp(struct fhc *c, uint8_t *buf, size_t len)
{
	struct leg *l = &c->leg[c->n_leg - 1];
	int n = (int)len;

	if (!l->media_up || srtp_protect_rtcp(l->srtp_tx, buf, &n) != srtp_err_status_ok)
		return -1;
	return send(l->udp, buf, (size_t)n, 0) == n ? 0 : -1;
}

int fhc_nack(struct fhc *c, const char *id, uint16_t seq)
{
	const struct fhc_stream_stats *s = fhc_stream(c, id, true);
	uint8_t buf[128];
	size_t n;

	if (!s)
		return -1;
	n = fh_rtcp_build_rr(buf, sizeof(buf), c->a_ssrc, NULL, 0);
	n += fh_rtcp_build_nack(buf + n, sizeof(buf) - n, c->a_ssrc, s->ssrc, &seq, 1);
	return send_rtcp(c, buf, n);
}

int fhc_pli(struct fhc *c, const char *id)
{
	const struct fhc_stream_stats *s = fhc_stream(c, id, true);
	uint8_t buf[128];
	size_t n;

	if (!s)
		return -1;
	n = fh_rtcp_build_rr(buf, sizeof(buf), c->a_ssrc, NULL, 0);
	n += fh_rtcp_build_pli(buf + n, sizeof(buf) - n, c->a_ssrc, s->ssrc);
	return send_rtcp(c, buf, n);
}

uint64_t fhc_pli_received(const struct fhc *c)
{
	return c->pli_received;
}

int fhc_last_error(struct fhc *c)
{
	int e = c->last_error;

	c->last_error = 0;
	return e;
}

const char *fhc_turn(const struct fhc *c, const char **credential)
{
	if (credential)
		*credential = c->turn_cred;
	return c->turn_user;
}

uint64_t fhc_remb(const struct fhc *c, uint64_t *count)
{
	if (count)
		*count = c->remb_received;
	return c->remb_bitrate;
}

bool fhc_saw_left(const struct fhc *c, const char *id)
{
	for (unsigned i = 0; i < 16 && i < c->n_left; i++)
		if (!strcmp(c->left[i], id))
			return true;
	return false;
}

bool fhc_signalling_open(const struct fhc *c)
{
	return c->ws_open;
}

const char *fhc_id(const struct fhc *c)
{
	return c->id;
}

const char *fhc_room(const struct fhc *c)
{
	return c->room;
}

unsigned fhc_seen(const struct fhc *c, const char *type, const char **last)
{
	for (unsigned i = 0; i < 16; i++) {
		if (!strcmp(c->seen[i].type, type)) {
			if (last)
				*last = c->seen[i].last;
			return c->seen[i].n;
		}
	}
	if (last)
		*last = NULL;
	return 0;
}

bool fhc_moderator(const struct fhc *c)
{
	return c->moderator;
}

const char *fhc_closed(const struct fhc *c)
{
	return c->closed;
}

const char *fhc_srtp_profile(const struct fhc *c)
{
	return c->profile;
}

uint16_t fhc_media_port(const struct fhc *c)
{
	struct sockaddr_storage sa;
	socklen_t l = sizeof(sa);
	struct fh_addr a;

	if (c->leg[0].udp < 0 || getsockname(c->leg[0].udp, (struct sockaddr *)&sa, &l) < 0 ||
	    fh_addr_from_sockaddr(&a, (struct sockaddr *)&sa, l) < 0)
		return 0;
	return a.port;
}

bool fhc_mapped_ok(const struct fhc *c)
{
	return c->leg[0].mapped_ok;
}

uint16_t fhc_sfu_port(const struct fhc *c)
{
	const struct sockaddr_storage *sa = &c->leg[0].sfu;

	if (!c->leg[0].sfu_len)
		return 0;
	return ntohs(sa->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
					       : ((const struct sockaddr_in *)sa)->sin_port);
}

unsigned fhc_streams(const struct fhc *c, struct fhc_stream_stats *out, unsigned max)
{
	unsigned n = c->n_st < max ? c->n_st : max;

	memcpy(out, c->st, n * sizeof(*out));
	return n;
}

uint64_t fhc_received_from(const struct fhc *c, const char *id, bool video)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < c->n_st; i++)
		if (!strcmp(c->st[i].stream_id, id) && c->st[i].video == video)
			n += c->st[i].packets;
	return n;
}

void fhc_abort(struct fhc *c)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (!c)
		return;
	/* no WebSocket close, no TLS close_notify: the socket ends with a reset */
	if (c->tcp > 0)
		setsockopt(c->tcp, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	c->ws_open = false;
	if (c->tls) {
		SSL_free(c->tls);
		c->tls = NULL;
	}
	fhc_close(c);
}

void fhc_close(struct fhc *c)
{
	if (!c)
		return;
	if (c->tls && c->ws_open) {
		/* a WebSocket close frame (masked, empty) so the server ends the session at once,
		 * then what is still readable is read, so the socket closes with FIN, not RST */
		unsigned char frame[6] = {0x88, 0x80};
		char sink[4096];

		RAND_bytes(frame + 2, 4);
		tls_write_all(c, frame, sizeof(frame));
		for (int i = 0; i < 64 && recv(c->tcp, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
			;
	}
	if (c->tls) {
		SSL_shutdown(c->tls);
		SSL_free(c->tls);
	}
	SSL_CTX_free(c->tls_ctx);
	if (c->tcp > 0)
		close(c->tcp);
	for (int i = 0; i < 2; i++) {
		struct leg *l = &c->leg[i];

		if (l->dtls)
			SSL_free(l->dtls);
		SSL_CTX_free(l->dtls_ctx);
		if (l->udp >= 0)
			close(l->udp);
		if (l->srtp_tx)
			srtp_dealloc(l->srtp_tx);
		if (l->srtp_rx)
			srtp_dealloc(l->srtp_rx);
	}
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	for (int i = 0; i < FHC_SIM_LAYERS; i++)
		free(c->sl[i].hist);
	free(c->held);
	free(c->twcc_rx);
	free(c->rx);
	free(c->frag);
	free(c);
}
