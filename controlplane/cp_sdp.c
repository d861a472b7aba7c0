/*
 * cp_sdp: SDP offer parser and answer writer (RFC 8866, JSEP RFC 8829, BUNDLE RFC 8843).
 * Runs on the control plane's event loop for every offer a client sends; every field is
 * length-checked because the text comes from a stranger.
 */
#include "cp_sdp.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WHY(...) snprintf(why, why_len, __VA_ARGS__)

static bool copy_tok(char *dst, size_t cap, const char *src, size_t n)
{
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return true;
}

static bool ice_chars(const char *s)
{
	/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/" */
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '+' && *s != '/')
			return false;
	return true;
}

int cp_sdp_parse_fingerprint(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*hex) {
		unsigned v;

		if (!isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1]))
			return -1;
		if (sscanf(hex, "%2x", &v) != 1 || n == max)
			return -1;
		out[n++] = (uint8_t)v;
		hex += 2;
		if (*hex == ':')
			hex++;
		else if (*hex)
			return -1;
	}
	return n ? (int)n : -1;
}

/* rtpmap "111 opus/48000/2": remembers Opus/VP8 payload types. */
static void parse_rtpmap(struct cp_sdp_mline *m, const char *v)
{
	int pt;
	char enc[32];

	if (sscanf(v, "%d %31[^/]", &pt, enc) != 2 || pt < 0 || pt > 127)
		return;
	if (m->kind == CP_KIND_AUDIO && !strcasecmp(enc, "opus") && m->pt < 0 &&
	    strstr(v, "/48000/2"))
		m->pt = pt;
	else if (m->kind == CP_KIND_VIDEO && !strcasecmp(enc, "VP8") && m->pt < 0)
		m->pt = pt;
}

/* RTX payload types of the current m-line: fmtp "97 apt=96" pairs. */
struct apt_list {
	int n;
	int apt[64];
	int rtx[64];
};

static void parse_fmtp(struct apt_list *al, const char *v)
{
	int pt, apt;

	if (sscanf(v, "%d apt=%d", &pt, &apt) == 2 && pt >= 0 && pt <= 127 && al->n < 64) {
		al->apt[al->n] = apt;
		al->rtx[al->n] = pt;
		al->n++;
	}
}

static void finish_mline(struct cp_sdp_mline *m, const struct apt_list *al)
{
	if (!m || m->pt < 0)
		return;
	for (int i = 0; i < al->n; i++)
		if (al->apt[i] == m->pt)
			m->rtx_pt = al->rtx[i];
}

static int parse_attr(struct cp_sdp_offer *o, struct cp_sdp_mline *m, const char *a,
		      struct apt_list *al, char *why, size_t why_len)
{
	const char *colon = strchr(a, ':');
	size_t klen = colon ? (size_t)(colon - a) : strlen(a);
	const char *v = colon ? colon + 1 : "";

#define IS(k) (klen == sizeof(k) - 1 && !strncmp(a, k, klen))
	if (IS("ice-ufrag")) {
		char tmp[FH_UFRAG_MAX + 1];

		if (!copy_tok(tmp, sizeof(tmp), v, strlen(v)) || strlen(tmp) < 4 ||
		    !ice_chars(tmp)) {
			WHY("bad ice-ufrag");
			return -1;
		}
		if (o->ufrag[0] && strcmp(o->ufrag, tmp)) {
			WHY("different ice-ufrag per m-line is not supported (BUNDLE only)");
			return -1;
		}
		memcpy(o->ufrag, tmp, sizeof(tmp));
	} else if (IS("ice-pwd")) {
		if (!copy_tok(o->pwd, sizeof(o->pwd), v, strlen(v)) || strlen(o->pwd) < 22 ||
		    !ice_chars(o->pwd)) {
			WHY("bad ice-pwd");
			return -1;
		}
	} else if (IS("fingerprint")) {
		char alg[16], hex[200];

		if (sscanf(v, "%15s %199s", alg, hex) != 2) {
			WHY("bad fingerprint");
			return -1;
		}
		int n = cp_sdp_parse_fingerprint(hex, o->fp, sizeof(o->fp));

		if (n < 20) {
			WHY("bad fingerprint");
			return -1;
		}
		o->fp_len = (size_t)n;
		snprintf(o->fp_alg, sizeof(o->fp_alg), "%s", alg);
	} else if (IS("setup")) {
		snprintf(o->setup, sizeof(o->setup), "%.15s", v);
	} else if (IS("group")) {
		if (!strncmp(v, "BUNDLE", 6))
			o->bundle = true;
	} else if (!m) {
		return 0; /* other session-level attributes do not concern us */
	} else if (IS("mid")) {
		if (!copy_tok(m->mid, sizeof(m->mid), v, strlen(v))) {
			WHY("bad mid");
			return -1;
		}
		for (const char *p = m->mid; *p; p++) {
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
				WHY("bad mid");
				return -1;
			}
		}
	} else if (IS("sendrecv")) {
		m->dir = CP_DIR_SENDRECV;
	} else if (IS("sendonly")) {
		m->dir = CP_DIR_SENDONLY;
	} else if (IS("recvonly")) {
		m->dir = CP_DIR_RECVONLY;
	} else if (IS("inactive")) {
		m->dir = CP_DIR_INACTIVE;
	} else if (IS("rtcp-mux")) {
		m->rtcp_mux = true;
	} else if (IS("rtpmap")) {
		parse_rtpmap(m, v);
	} else if (IS("fmtp")) {
		parse_fmtp(al, v);
	} else if (IS("simulcast")) {
		m->simulcast = true;
	} else if (IS("ssrc-group")) {
		unsigned long a1, a2;

		if (sscanf(v, "FID %lu %lu", &a1, &a2) == 2 && a1 && a2 && a1 <= UINT32_MAX &&
		    a2 <= UINT32_MAX && !m->rtx_ssrc) {
			m->ssrc = (uint32_t)a1;
			m->rtx_ssrc = (uint32_t)a2;
		}
	} else if (IS("ssrc")) {
		unsigned long s;

		if (sscanf(v, "%lu", &s) == 1 && s && s <= UINT32_MAX && !m->ssrc)
			m->ssrc = (uint32_t)s;
	}
#undef IS
	return 0;
}

static int parse_mline(struct cp_sdp_mline *m, const char *v, char *why, size_t why_len)
{
	char media[16], proto[48];
	unsigned port;
	int n = 0;

	memset(m, 0, sizeof(*m));
	m->pt = m->rtx_pt = -1;
	m->dir = CP_DIR_SENDRECV;
	if (sscanf(v, "%15s %u %47s %n", media, &port, proto, &n) != 3 || port > 65535) {
		WHY("bad m= line");
		return -1;
	}
	snprintf(m->media, sizeof(m->media), "%s", media);
	snprintf(m->proto, sizeof(m->proto), "%s", proto);
	snprintf(m->fmts, sizeof(m->fmts), "%.127s", v + n);
	m->port = (uint16_t)port;
	if (!strcmp(media, "audio"))
		m->kind = CP_KIND_AUDIO;
	else if (!strcmp(media, "video"))
		m->kind = CP_KIND_VIDEO;
	else
		m->kind = CP_KIND_OTHER;
	return 0;
}

int cp_sdp_parse_offer(const char *sdp, size_t len, struct cp_sdp_offer *o, char *why,
		       size_t why_len)
{
	struct cp_sdp_mline *cur = NULL;
	struct apt_list al = {0};
	const char *p = sdp, *end = sdp + len;
	char line[1024];

	memset(o, 0, sizeof(*o));
	if (len == 0 || len > CP_SDP_MAX_LEN || memchr(sdp, '\0', len)) {
		WHY("empty, oversized or binary SDP");
		return -1;
	}
	if (len < 3 || memcmp(sdp, "v=0", 3) != 0) {
		WHY("SDP must start with v=0");
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (l && p[l - 1] == '\r')
			l--;
		if (l >= sizeof(line)) {
			WHY("SDP line too long");
			return -1;
		}
		memcpy(line, p, l);
		line[l] = '\0';
		p = nl ? nl + 1 : end;
		if (l == 0)
			continue;
		if (l < 2 || line[1] != '=') {
			WHY("malformed SDP line");
			return -1;
		}
		if (line[0] == 'm') {
			finish_mline(cur, &al);
			if (o->n == CP_SDP_MAX_MLINES) {
				WHY("too many m-lines");
				return -1;
			}
			cur = &o->m[o->n++];
			al.n = 0;
			if (parse_mline(cur, line + 2, why, why_len) < 0)
				return -1;
		} else if (line[0] == 'a') {
			if (parse_attr(o, cur, line + 2, &al, why, why_len) < 0)
				return -1;
		}
	}
	finish_mline(cur, &al);
	if (o->n == 0) {
		WHY("no m-lines");
		return -1;
	}
	if (!o->ufrag[0] || !o->pwd[0]) {
		WHY("missing ICE credentials");
		return -1;
	}
	if (!o->fp_len) {
		WHY("missing DTLS fingerprint");
		return -1;
	}
	if (o->setup[0] && strcmp(o->setup, "actpass") && strcmp(o->setup, "active")) {
		WHY("setup must be actpass or active: Funkhaus is the DTLS server");
		return -1;
	}
	for (unsigned i = 0; i < o->n; i++) {
		if (!o->m[i].mid[0]) {
			WHY("m-line without mid");
			return -1;
		}
		for (unsigned j = 0; j < i; j++) {
			if (!strcmp(o->m[i].mid, o->m[j].mid)) {
				WHY("duplicate mid");
				return -1;
			}
		}
	}
	return 0;
}

struct sbuf {
	char *s;
	size_t len, cap;
	bool overflow;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->overflow)
		return;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);

		va_end(ap);
		if (n < 0) {
			b->overflow = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = b->cap * 2;

		if (ncap > CP_SDP_MAX_LEN) {
			b->overflow = true;
			return;
		}
		char *ns = realloc(b->s, ncap);

		if (!ns) {
			b->overflow = true;
			return;
		}
		b->s = ns;
		b->cap = ncap;
	}
}

static const char *dir_name(enum cp_dir d)
{
	static const char *const n[] = {"inactive", "sendonly", "recvonly", "sendrecv"};

	return n[d & 3];
}

static void write_mline(struct sbuf *b, const struct cp_sdp_mline *m, const struct cp_sdp_local *l,
			const struct cp_sdp_answer_ml *a)
{
	if (a->reject || m->kind == CP_KIND_OTHER || m->pt < 0) {
		sb_printf(b, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\na=inactive\r\n",
			  m->media, m->proto, m->fmts[0] ? m->fmts : "0", m->mid);
		return;
	}
	if (m->kind == CP_KIND_AUDIO)
		sb_printf(b, "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n", m->pt);
	else if (m->rtx_pt >= 0)
		sb_printf(b, "m=video 9 UDP/TLS/RTP/SAVPF %d %d\r\n", m->pt, m->rtx_pt);
	else
		sb_printf(b, "m=video 9 UDP/TLS/RTP/SAVPF %d\r\n", m->pt);
	sb_printf(b, "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n");
	sb_printf(b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\na=setup:passive\r\n",
		  l->ufrag, l->pwd, l->fingerprint);
	sb_printf(b, "a=mid:%s\r\na=%s\r\na=rtcp-mux\r\na=rtcp-rsize\r\n", m->mid,
		  dir_name(a->dir));
	if (m->kind == CP_KIND_AUDIO) {
		sb_printf(b, "a=rtpmap:%d opus/48000/2\r\n", m->pt);
		sb_printf(b, "a=fmtp:%d minptime=10;useinbandfec=1\r\n", m->pt);
	} else {
		sb_printf(b, "a=rtpmap:%d VP8/90000\r\n", m->pt);
		sb_printf(b, "a=rtcp-fb:%d goog-remb\r\na=rtcp-fb:%d ccm fir\r\n", m->pt, m->pt);
		sb_printf(b, "a=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\n", m->pt, m->pt);
		if (m->rtx_pt >= 0)
			sb_printf(b, "a=rtpmap:%d rtx/90000\r\na=fmtp:%d apt=%d\r\n", m->rtx_pt,
				  m->rtx_pt, m->pt);
	}
	if ((a->dir & CP_DIR_SENDONLY) && a->ssrc) {
		sb_printf(b, "a=msid:%s %s\r\n", a->stream_id, a->track_id);
		if (a->rtx_ssrc && m->rtx_pt >= 0)
			sb_printf(b, "a=ssrc-group:FID %u %u\r\n", a->ssrc, a->rtx_ssrc);
		sb_printf(b, "a=ssrc:%u cname:%s\r\n", a->ssrc, l->cname);
		sb_printf(b, "a=ssrc:%u msid:%s %s\r\n", a->ssrc, a->stream_id, a->track_id);
		if (a->rtx_ssrc && m->rtx_pt >= 0) {
			sb_printf(b, "a=ssrc:%u cname:%s\r\n", a->rtx_ssrc, l->cname);
			sb_printf(b, "a=ssrc:%u msid:%s %s\r\n", a->rtx_ssrc, a->stream_id,
				  a->track_id);
		}
	}
	for (unsigned i = 0; i < l->n_cands; i++) {
		char ip[64];

		fh_addr_ip_str(&l->cands[i], ip, sizeof(ip));
		sb_printf(b, "a=candidate:%u 1 udp %u %s %u typ host\r\n", i + 1, 2130706431u - i,
			  ip, l->cands[i].port);
	}
	sb_printf(b, "a=end-of-candidates\r\n");
}

char *cp_sdp_build_answer(const struct cp_sdp_offer *o, const struct cp_sdp_local *l,
			  const struct cp_sdp_answer_ml *ml)
{
	struct sbuf b = {.cap = 4096};

	b.s = malloc(b.cap);
	if (!b.s)
		return NULL;
	sb_printf(&b, "v=0\r\no=- %llu %llu IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n",
		  (unsigned long long)l->sess_id, (unsigned long long)l->sess_ver);
	sb_printf(&b, "a=group:BUNDLE");
	for (unsigned i = 0; i < o->n; i++)
		if (!ml[i].reject && o->m[i].kind != CP_KIND_OTHER && o->m[i].pt >= 0)
			sb_printf(&b, " %s", o->m[i].mid);
	sb_printf(&b, "\r\na=msid-semantic: WMS *\r\n");
	for (unsigned i = 0; i < o->n; i++)
		write_mline(&b, &o->m[i], l, &ml[i]);
	if (b.overflow) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
