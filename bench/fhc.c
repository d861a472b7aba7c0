/*
 * fhc: Funkhaus' C client library (see fhc.h). Blocking steps are bounded by the caller's
 * timeout; after connect everything is driven by fhc_poll over two file descriptors, the
 * signalling TLS socket and the media UDP socket.
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
#include "fh_srtp.h"
#include "fh_stun.h"

#define MAX_ML 64
#define WS_MAX (512 * 1024)

struct ml {
	char mid[8];
	bool video;
	bool send;     /* ours */
	uint32_t ssrc; /* what the server sends us on it */
	uint32_t rtx_ssrc;
	char stream_id[24];
};

struct fhc {
	struct fhc_opts o;
	char room[80], name[80];
	int tcp;
	SSL_CTX *tls_ctx;
	SSL *tls;
	unsigned char *rx;
	size_t rx_len;
	char *frag; /* a fragmented message being put together */
	size_t frag_len;
	bool ws_open;
	char id[24];
	int last_error;
	/* media */
	int udp;
	struct sockaddr_storage sfu;
	socklen_t sfu_len;
	char lufrag[16], lpwd[40];
	char rufrag[64], rpwd[128];
	SSL_CTX *dtls_ctx;
	SSL *dtls;
	EVP_PKEY *key;
	X509 *cert;
	char fp[128];
	srtp_t srtp_tx, srtp_rx;
	bool media_up;
	uint32_t a_ssrc, v_ssrc, v_rtx_ssrc;
	uint16_t a_seq, v_seq;
	uint32_t a_ts, v_ts;
	uint64_t sess_ver;
	struct ml ml[MAX_ML];
	unsigned n_ml;
	unsigned want_audio, want_video;
	bool offer_pending, offer_again;
	uint64_t last_check_ms;
	struct fhc_stream_stats st[FHC_MAX_RECV];
	unsigned n_st;
	uint64_t pli_received;
	struct fhc_latency lat;
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

/* Loss (sequence numbers), latency and jitter (stamped payloads) of one received packet. */
static void measure(struct fhc *c, struct fhc_stream_stats *s, const struct fh_rtp_hdr *h,
		    const uint8_t *payload)
{
	uint64_t now = now_us();

	if (!s->seq_init) {
		s->seq_init = true;
		s->base_seq = s->max_seq = h->seq;
		s->first_us = now;
	} else {
		uint16_t delta = (uint16_t)(h->seq - (uint16_t)s->max_seq);

		if (delta && delta < 0x8000)
			s->max_seq += delta;
	}
	if (h->payload_len < FHC_STAMP_LEN || memcmp(payload + 8, "FHB1", 4) != 0)
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

static int tcp_connect(const char *host, uint16_t port, int timeout_ms)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	char ps[8];

	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0)
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

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
	c->tcp = tcp_connect(c->o.host, c->o.port, (int)c->o.timeout_ms);
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
	char b64[32], req[512];

	RAND_bytes(key, sizeof(key));
	EVP_EncodeBlock((unsigned char *)b64, key, sizeof(key));
	int n = snprintf(req, sizeof(req),
			 "GET /ws HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n\r\n",
			 c->o.host, c->o.port, b64);

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

static char *build_offer(struct fhc *c)
{
	size_t cap = 8192 + 1024 * c->n_ml, n = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
#define P(...) n += (size_t)snprintf(s + n, cap - n, __VA_ARGS__)
	P("v=0\r\no=- 1 %llu IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE",
	  (unsigned long long)++c->sess_ver);
	for (unsigned i = 0; i < c->n_ml; i++)
		P(" %s", c->ml[i].mid);
	P("\r\n");
	for (unsigned i = 0; i < c->n_ml; i++) {
		struct ml *m = &c->ml[i];

		if (m->video)
			P("m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n");
		else
			P("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
		P("c=IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", c->lufrag, c->lpwd);
		P("a=fingerprint:%s\r\na=setup:actpass\r\na=mid:%s\r\na=%s\r\na=rtcp-mux\r\n",
		  c->fp, m->mid, m->send ? "sendonly" : "recvonly");
		if (m->video) {
			P("a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack "
			  "pli\r\n");
			P("a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n");
			if (m->send)
				P("a=ssrc-group:FID %u %u\r\na=ssrc:%u cname:fhc\r\n"
				  "a=ssrc:%u cname:fhc\r\n",
				  c->v_ssrc, c->v_rtx_ssrc, c->v_ssrc, c->v_rtx_ssrc);
		} else {
			P("a=rtpmap:111 opus/48000/2\r\n");
			if (m->send)
				P("a=ssrc:%u cname:fhc\r\n", c->a_ssrc);
		}
	}
#undef P
	return s;
}

static void parse_answer(struct fhc *c, const char *sdp)
{
	int idx = -1;
	const char *p = sdp;

	while (p && *p) {
		const char *e = strstr(p, "\r\n");
		size_t l = e ? (size_t)(e - p) : strlen(p);
		char line[512];

		if (l >= sizeof(line))
			l = sizeof(line) - 1;
		memcpy(line, p, l);
		line[l] = '\0';
		p = e ? e + 2 : NULL;
		if (!strncmp(line, "m=", 2)) {
			idx++;
			if (idx < (int)c->n_ml) {
				c->ml[idx].ssrc = 0;
				c->ml[idx].stream_id[0] = '\0';
			}
		} else if (!strncmp(line, "a=ice-ufrag:", 12)) {
			snprintf(c->rufrag, sizeof(c->rufrag), "%.63s", line + 12);
		} else if (!strncmp(line, "a=ice-pwd:", 10)) {
			snprintf(c->rpwd, sizeof(c->rpwd), "%.127s", line + 10);
		} else if (!strncmp(line, "a=candidate:", 12) && !c->sfu_len) {
			char ip[64];
			unsigned port;
			struct fh_addr a;

			if (sscanf(line, "a=candidate:%*s %*s udp %*s %63s %u typ host", ip,
				   &port) == 2 &&
			    fh_addr_parse(&a, ip, (uint16_t)port) == 0 && a.family == FH_AF_INET &&
			    (!c->o.media || !strcmp(c->o.media, ip)))
				c->sfu_len = fh_addr_to_sockaddr(&a, &c->sfu);
		} else if (!strncmp(line, "a=ssrc-group:FID ", 17) && idx >= 0 &&
			   idx < (int)c->n_ml) {
			unsigned long a1, a2;

			if (sscanf(line + 17, "%lu %lu", &a1, &a2) == 2)
				c->ml[idx].rtx_ssrc = (uint32_t)a2;
		} else if (!strncmp(line, "a=ssrc:", 7) && idx >= 0 && idx < (int)c->n_ml) {
			unsigned long s;
			char sid[32];

			if (sscanf(line + 7, "%lu msid:%31s", &s, sid) == 2 && !c->ml[idx].ssrc) {
				c->ml[idx].ssrc = (uint32_t)s;
				snprintf(c->ml[idx].stream_id, sizeof(c->ml[idx].stream_id),
					 "%.23s", sid);
			}
		}
	}
}

static int send_offer(struct fhc *c)
{
	unsigned have_a = 0, have_v = 0;

	for (unsigned i = 0; i < c->n_ml; i++) {
		if (c->ml[i].send)
			continue;
		if (c->ml[i].video)
			have_v++;
		else
			have_a++;
	}
	while ((have_a < c->want_audio || have_v < c->want_video) && c->n_ml < MAX_ML) {
		struct ml *m = &c->ml[c->n_ml];

		memset(m, 0, sizeof(*m));
		snprintf(m->mid, sizeof(m->mid), "%u", c->n_ml);
		m->video = have_a >= c->want_audio;
		if (m->video)
			have_v++;
		else
			have_a++;
		c->n_ml++;
	}
	char *sdp = build_offer(c);

	if (!sdp)
		return -1;
	c->offer_pending = true;
	int r = send_json(c, json_pack("{s:s, s:s}", "type", "offer", "sdp", sdp));

	free(sdp);
	return r;
}

/* ---- ICE, DTLS, SRTP ---- */

static int check_with(struct fhc *c, const char *pwd)
{
	uint8_t buf[256], tid[12];
	char user[200];
	struct fh_stun_builder b;

	RAND_bytes(tid, sizeof(tid));
	snprintf(user, sizeof(user), "%s:%s", c->rufrag, c->lufrag);
	fh_stun_build_start(&b, buf, sizeof(buf), FH_STUN_BINDING_REQUEST, tid);
	fh_stun_build_attr(&b, FH_STUN_ATTR_USERNAME, user, (uint16_t)strlen(user));
	fh_stun_build_u32(&b, FH_STUN_ATTR_PRIORITY, 0x6e0001ff);
	fh_stun_build_u64(&b, FH_STUN_ATTR_ICE_CONTROLLING, 0x1234567812345678ull);
	fh_stun_build_attr(&b, FH_STUN_ATTR_USE_CANDIDATE, NULL, 0);
	fh_stun_build_integrity(&b, pwd, strlen(pwd));
	fh_stun_build_fingerprint(&b);
	size_t n = fh_stun_build_end(&b);

	return n && send(c->udp, buf, n, 0) == (ssize_t)n ? 0 : -1;
}

static int send_check(struct fhc *c)
{
	c->last_check_ms = now_ms();
	return check_with(c, c->rpwd);
}

int fhc_send_check_with(struct fhc *c, const char *pwd)
{
	return c->udp >= 0 ? check_with(c, pwd) : -1;
}

int fhc_send_raw(struct fhc *c, const uint8_t *data, size_t len, bool protect)
{
	uint8_t buf[1600];
	int n = (int)len;

	if (c->udp < 0 || len > 1400 || (protect && !c->media_up))
		return -1;
	memcpy(buf, data, len);
	if (protect && srtp_protect(c->srtp_tx, buf, &n) != srtp_err_status_ok)
		return -1;
	return send(c->udp, buf, (size_t)n, 0) == n ? 0 : -1;
}

static int ice(struct fhc *c, char *err, size_t el)
{
	uint64_t deadline = now_ms() + c->o.timeout_ms;

	if (!c->sfu_len)
		return seterr(err, el, "the answer has no usable IPv4 candidate%s%s",
			      c->o.media ? " at " : "", c->o.media ? c->o.media : "");
	c->udp = socket(c->sfu.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->udp < 0 || connect(c->udp, (struct sockaddr *)&c->sfu, c->sfu_len) < 0)
		return seterr(err, el, "cannot open the media socket");
	/* room for the key frames of a whole room arriving together, as a browser has */
	int big = 4 << 20;

	setsockopt(c->udp, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	while (now_ms() < deadline) {
		uint8_t buf[1500];

		send_check(c);
		if (wait_fd(c->udp, POLLIN, 200) <= 0)
			continue;
		ssize_t n = recv(c->udp, buf, sizeof(buf), 0);
		struct fh_stun_msg m;

		if (n > 0 && fh_stun_parse(buf, (size_t)n, &m) == FH_STUN_OK &&
		    m.type == FH_STUN_BINDING_SUCCESS &&
		    fh_stun_check_fingerprint(buf, (size_t)n, &m) &&
		    fh_stun_check_integrity(buf, &m, c->rpwd, strlen(c->rpwd)))
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
	for (unsigned i = 0; i < n; i++)
		p += sprintf(p, i ? ":%02X" : "%02X", md[i]);
	return 0;
}

static int dtls(struct fhc *c, char *err, size_t el)
{
	c->dtls_ctx = SSL_CTX_new(DTLS_client_method());
	SSL_CTX_use_certificate(c->dtls_ctx, c->cert);
	SSL_CTX_use_PrivateKey(c->dtls_ctx, c->key);
	SSL_CTX_set_verify(c->dtls_ctx, SSL_VERIFY_PEER, verify_any);
	SSL_CTX_set_tlsext_use_srtp(c->dtls_ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80");
	c->dtls = SSL_new(c->dtls_ctx);
	BIO *bio = BIO_new_dgram(c->udp, BIO_NOCLOSE);

	BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &c->sfu);
	SSL_set_bio(c->dtls, bio, bio);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};

	setsockopt(c->udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (handshake(c->dtls, c->udp, true, now_ms() + c->o.timeout_ms) < 0)
		return seterr(err, el, "DTLS handshake failed");
	/* from here on the socket is read by fhc_poll */
	tv.tv_usec = 0;
	setsockopt(c->udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(c->dtls);
	size_t salt = prof && prof->id == SRTP_AEAD_AES_128_GCM ? 12 : 14;
	unsigned char mat[60], tx[32], rx[32];

	if (!prof || SSL_export_keying_material(c->dtls, mat, 2 * (16 + salt),
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
	if (srtp_create(&c->srtp_tx, &pol) != srtp_err_status_ok)
		return seterr(err, el, "srtp_create failed");
	fh_srtp_policy(&pol, profile, rx, ssrc_any_inbound);
	if (srtp_create(&c->srtp_rx, &pol) != srtp_err_status_ok)
		return seterr(err, el, "srtp_create failed");
	c->media_up = true;
	return 0;
}

/* ---- messages and media ---- */

static void on_message(struct fhc *c, const char *text)
{
	json_error_t je;
	json_t *m = json_loads(text, 0, &je);
	const char *type = json_string_value(json_object_get(m, "type"));

	if (!type) {
		json_decref(m);
		return;
	}
	if (!strcmp(type, "joined")) {
		snprintf(c->id, sizeof(c->id), "%s", json_string_value(json_object_get(m, "id")));
	} else if (!strcmp(type, "answer")) {
		parse_answer(c, json_string_value(json_object_get(m, "sdp")));
		c->offer_pending = false;
		if (c->offer_again) {
			c->offer_again = false;
			send_offer(c);
		}
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
	}
	json_decref(m);
}

static struct fhc_stream_stats *stats_for(struct fhc *c, uint32_t ssrc)
{
	for (unsigned i = 0; i < c->n_st; i++)
		if (c->st[i].ssrc == ssrc)
			return &c->st[i];
	for (unsigned i = 0; i < c->n_ml; i++) {
		if (c->ml[i].ssrc == ssrc && c->n_st < FHC_MAX_RECV) {
			struct fhc_stream_stats *s = &c->st[c->n_st++];

			memset(s, 0, sizeof(*s));
			s->ssrc = ssrc;
			s->video = c->ml[i].video;
			memcpy(s->stream_id, c->ml[i].stream_id, sizeof(s->stream_id));
			return s;
		}
	}
	return NULL;
}

static void on_datagram(struct fhc *c, uint8_t *buf, size_t len)
{
	int n = (int)len;
	struct fh_rtp_hdr h;

	if (!c->media_up)
		return;
	enum fh_demux d = fh_demux(buf, len);

	if (d == FH_DEMUX_RTP) {
		if (srtp_unprotect(c->srtp_rx, buf, &n) != srtp_err_status_ok ||
		    fh_rtp_parse(buf, (size_t)n, &h) < 0)
			return;
		for (unsigned i = 0; i < c->n_ml; i++) {
			if (c->ml[i].rtx_ssrc && c->ml[i].rtx_ssrc == h.ssrc) {
				struct fhc_stream_stats *s = stats_for(c, c->ml[i].ssrc);

				if (s && h.payload_len >= 2) {
					s->rtx_packets++;
					s->last_rtx_osn = fh_rd16(buf + h.hdr_len);
				}
				return;
			}
		}
		struct fhc_stream_stats *s = stats_for(c, h.ssrc);

		if (!s)
			return;
		s->last_seq = h.seq;
		s->packets++;
		measure(c, s, &h, buf + h.hdr_len);
		s->bytes += h.payload_len;
		s->last_len = h.payload_len < sizeof(s->last_payload) ? h.payload_len
								      : sizeof(s->last_payload);
		memcpy(s->last_payload, buf + h.hdr_len, s->last_len);
	} else if (d == FH_DEMUX_RTCP) {
		struct fh_rtcp_pkt p;
		size_t off = 0;

		if (srtp_unprotect_rtcp(c->srtp_rx, buf, &n) != srtp_err_status_ok)
			return;
		while (fh_rtcp_next(buf, (size_t)n, &off, &p) == 1)
			if (p.pt == FH_RTCP_PSFB &&
			    (p.count == FH_PSFB_PLI || p.count == FH_PSFB_FIR))
				c->pli_received++;
	}
}

int fhc_poll(struct fhc *c, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	do {
		struct pollfd p[2] = {{.fd = c->tcp, .events = POLLIN},
				      {.fd = c->udp, .events = POLLIN}};
		int left = (int)(end > now_ms() ? end - now_ms() : 0);

		if (c->tls && SSL_pending(c->tls))
			left = 0;
		poll(p, c->udp >= 0 ? 2 : 1, left);
		if (c->ws_open && ((p[0].revents & POLLIN) || SSL_pending(c->tls))) {
			if (tls_fill(c, 0) < 0)
				c->ws_open = false;
			char *msg;

			while ((msg = ws_take(c))) {
				on_message(c, msg);
				free(msg);
			}
		}
		if (c->udp >= 0 && (p[1].revents & POLLIN)) {
			uint8_t buf[2048];

			for (int i = 0; i < 64; i++) {
				ssize_t n = recv(c->udp, buf, sizeof(buf) - 64, MSG_DONTWAIT);

				if (n <= 0)
					break;
				on_datagram(c, buf, (size_t)n);
			}
		}
		/* consent freshness (RFC 7675): every 2 s, well inside any server timeout */
		if (c->media_up && now_ms() - c->last_check_ms > 2000)
			send_check(c);
	} while (now_ms() < end);
	return c->ws_open || c->media_up ? 0 : -1;
}

int fhc_send(struct fhc *c, bool video, const uint8_t *payload, size_t len, bool marker)
{
	uint8_t buf[1500];
	int n;

	if (!c->media_up || len > 1200)
		return -1;
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
	if (srtp_protect(c->srtp_tx, buf, &n) != srtp_err_status_ok)
		return -1;
	return send(c->udp, buf, (size_t)n, 0) == n ? 0 : -1;
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
	if (!c->o.timeout_ms)
		c->o.timeout_ms = 5000;
	c->udp = -1;
	c->a_ssrc = rnd32();
	c->v_ssrc = rnd32();
	c->v_rtx_ssrc = rnd32();
	c->a_seq = (uint16_t)rnd32();
	c->v_seq = (uint16_t)rnd32();
	rnd_alnum(c->lufrag, 8);
	rnd_alnum(c->lpwd, 24);
	if (make_cert(c) < 0) {
		seterr(err, el, "cannot make a certificate");
		goto fail;
	}
	if (ws_open(c, err, el) < 0)
		goto fail;
	send_json(c,
		  json_pack("{s:s, s:s, s:s}", "type", "join", "room", c->room, "name", c->name));
	uint64_t deadline = now_ms() + c->o.timeout_ms;

	while (!c->id[0] && now_ms() < deadline && c->ws_open) {
		fhc_poll(c, 50);
		if (c->last_error) {
			seterr(err, el, "join refused with error %d", c->last_error);
			goto fail;
		}
	}
	if (!c->id[0]) {
		seterr(err, el, "no answer to join");
		goto fail;
	}
	for (int k = 0; k < 2; k++) {
		unsigned i = c->n_ml;

		if (!(k ? o->video : o->audio))
			continue;
		snprintf(c->ml[i].mid, sizeof(c->ml[i].mid), "%u", i);
		c->ml[i].video = k;
		c->ml[i].send = true;
		c->n_ml++;
	}
	send_offer(c);
	while (c->offer_pending && now_ms() < deadline && c->ws_open)
		fhc_poll(c, 50);
	if (c->offer_pending) {
		seterr(err, el, "no answer to the offer (error %d)", c->last_error);
		goto fail;
	}
	if (ice(c, err, el) < 0 || dtls(c, err, el) < 0)
		goto fail;
	return c;
fail:
	fhc_close(c);
	return NULL;
}

const struct fhc_stream_stats *fhc_stream(const struct fhc *c, const char *id, bool video)
{
	for (unsigned i = 0; i < c->n_st; i++)
		if (!strcmp(c->st[i].stream_id, id) && c->st[i].video == video)
			return &c->st[i];
	return NULL;
}

static int send_rtcp(struct fhc *c, uint8_t *buf, size_t len)
{
	int n = (int)len;

	if (!c->media_up || srtp_protect_rtcp(c->srtp_tx, buf, &n) != srtp_err_status_ok)
		return -1;
	return send(c->udp, buf, (size_t)n, 0) == n ? 0 : -1;
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

bool fhc_signalling_open(const struct fhc *c)
{
	return c->ws_open;
}

const char *fhc_id(const struct fhc *c)
{
	return c->id;
}

uint16_t fhc_media_port(const struct fhc *c)
{
	struct sockaddr_in sa;
	socklen_t l = sizeof(sa);

	if (c->udp < 0 || getsockname(c->udp, (struct sockaddr *)&sa, &l) < 0)
		return 0;
	return ntohs(sa.sin_port);
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

void fhc_close(struct fhc *c)
{
	if (!c)
		return;
	if (c->tls) {
		SSL_shutdown(c->tls);
		SSL_free(c->tls);
	}
	SSL_CTX_free(c->tls_ctx);
	if (c->tcp > 0)
		close(c->tcp);
	if (c->dtls)
		SSL_free(c->dtls);
	SSL_CTX_free(c->dtls_ctx);
	if (c->udp >= 0)
		close(c->udp);
	if (c->srtp_tx)
		srtp_dealloc(c->srtp_tx);
	if (c->srtp_rx)
		srtp_dealloc(c->srtp_rx);
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	free(c->rx);
	free(c->frag);
	free(c);
}
