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

/* The header extensions we negotiate, by enum fh_ext, and on which kind of m-line. */
static const struct {
	const char *uri;
	bool audio, video;
} ext_tab[FH_EXT_MAX] = {
	[FH_EXT_MID] = {"urn:ietf:params:rtp-hdrext:sdes:mid", true, true},
	[FH_EXT_RID] = {"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", false, true},
	[FH_EXT_RRID] = {"urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", false, true},
	[FH_EXT_TWCC] =
		{"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", true,
		 true},
	[FH_EXT_ABS_SEND_TIME] = {"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
				  true, true},
	[FH_EXT_AUDIO_LEVEL] = {"urn:ietf:params:rtp-hdrext:ssrc-audio-level", true, false},
};

static bool ext_applies(enum cp_kind k, unsigned e)
{
	return k == CP_KIND_AUDIO ? ext_tab[e].audio : k == CP_KIND_VIDEO && ext_tab[e].video;
}

#define TMP_RIDS 8
#define TMP_FIDS 16

/* What one m-line's attributes leave to be resolved at its end (attribute order is free):
 * RTX payload types (fmtp "97 apt=96"), transport-cc feedback, rids, the simulcast list,
 * SIM and FID groups. */
struct ml_tmp {
	int n;
	int apt[64];
	int rtx[64];
	int n_fb;
	int fb_pt[16];
	bool fb_any;
	unsigned n_rid;
	char rid[TMP_RIDS][FH_RID_MAX + 1];
	char rid_pts[TMP_RIDS][48]; /* "pt=" restriction, "" when none */
	bool has_sim;
	char sim[256];
	unsigned n_sim;
	uint32_t sim_ssrc[FH_MAX_LAYERS];
	unsigned n_fid;
	uint32_t fid[TMP_FIDS][2];
};

/* The whole offer's: which URI each extension id names (by hash), ids seen naming two,
 * extensions given two ids on one m-line, the BUNDLE group's mids. */
struct parse_st {
	struct ml_tmp ml;
	uint32_t id_uri[256];
	bool id_clash[256];
	bool ext_dup[FH_EXT_MAX];
	char group[1024];
};

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h | 1; /* never 0: 0 marks an unused id */
}

static void parse_fmtp(struct ml_tmp *t, const char *v)
{
	int pt, apt;

	if (sscanf(v, "%d apt=%d", &pt, &apt) == 2 && pt >= 0 && pt <= 127 && t->n < 64) {
		t->apt[t->n] = apt;
		t->rtx[t->n] = pt;
		t->n++;
	}
}

static int dir_word(const char *s, size_t n)
{
	static const char *const w[] = {"inactive", "sendonly", "recvonly", "sendrecv"};

	for (int i = 0; i < 4; i++)
		if (strlen(w[i]) == n && !strncmp(s, w[i], n))
			return i;
	return -1;
}

/* "a=extmap:<id>[/<direction>] <uri> [<attributes>]" (RFC 8285). Ids outside 1..255 and
 * unknown directions are counted and ignored. */
static void parse_extmap(struct cp_sdp_offer *o, struct cp_sdp_mline *m, struct parse_st *st,
			 const char *v)
{
	char *end;
	unsigned long id;
	int dir = CP_DIR_SENDRECV;

	if (!isdigit((unsigned char)v[0])) {
		o->bad_extmap++;
		return;
	}
	id = strtoul(v, &end, 10);
	if (id < 1 || id > 255) {
		o->bad_extmap++;
		return;
	}
	if (*end == '/') {
		const char *d = end + 1;
		size_t dn = strcspn(d, " \t");

		dir = dir_word(d, dn);
		end = (char *)d + dn;
	}
	if (dir < 0 || (*end != ' ' && *end != '\t')) {
		o->bad_extmap++;
		return;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	size_t un = strcspn(end, " \t");

	if (un == 0) {
		o->bad_extmap++;
		return;
	}
	uint32_t h = fnv1a(end, un);

	if (st->id_uri[id] && st->id_uri[id] != h)
		st->id_clash[id] = true;
	st->id_uri[id] = h;
	if (!m)
		return; /* a session-level extmap: no browser sends one; its id stays taken */
	for (unsigned e = 0; e < FH_EXT_MAX; e++) {
		if (strlen(ext_tab[e].uri) != un || strncmp(end, ext_tab[e].uri, un))
			continue;
		if (m->ext[e] && m->ext[e] != id)
			st->ext_dup[e] = true;
		m->ext[e] = (uint8_t)id;
		m->ext_dir[e] = (uint8_t)dir;
	}
}

static void parse_rtcp_fb(struct ml_tmp *t, const char *v)
{
	int pt;
	char type[32];

	if (!strncmp(v, "* transport-cc", 14) && (!v[14] || v[14] == ' ')) {
		t->fb_any = true;
	} else if (sscanf(v, "%d %31s", &pt, type) == 2 && !strcmp(type, "transport-cc") &&
		   t->n_fb < 16) {
		t->fb_pt[t->n_fb++] = pt;
	}
}

/* RFC 8851 rid-id: 1*(ALPHA / DIGIT / "-" / "_"), here at most FH_RID_MAX long. */
static bool rid_token(const char *s, size_t n)
{
	if (n == 0 || n > FH_RID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* "a=rid:<id> send [pt=96,97;max-width=...]": only send rids matter to us. */
static void parse_rid(struct cp_sdp_offer *o, struct ml_tmp *t, const char *v)
{
	size_t n = strcspn(v, " \t");
	const char *d = v + n;

	while (*d == ' ' || *d == '\t')
		d++;
	size_t dn = strcspn(d, " \t");

	if (!rid_token(v, n)) {
		o->bad_rids++;
		return;
	}
	if (dn != 4 || strncmp(d, "send", 4))
		return;
	if (t->n_rid == TMP_RIDS) {
		o->dropped_layers++;
		return;
	}
	memcpy(t->rid[t->n_rid], v, n);
	t->rid[t->n_rid][n] = '\0';
	t->rid_pts[t->n_rid][0] = '\0';
	const char *r = strstr(d + dn, "pt=");

	if (r && (r == d + dn + 1 || r[-1] == ';' || r[-1] == ' '))
		snprintf(t->rid_pts[t->n_rid], sizeof(t->rid_pts[0]), "%.*s",
			 (int)strcspn(r + 3, "; \t"), r + 3);
	t->n_rid++;
}

/* "a=simulcast:send <list>[ recv <list>]" or the other way round (RFC 8853). */
static void parse_simulcast(struct ml_tmp *t, const char *v)
{
	const char *p = v;

	t->has_sim = true;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t wn = strcspn(p, " \t");
		const char *list = p + wn;

		while (*list == ' ' || *list == '\t')
			list++;
		size_t ln = strcspn(list, " \t");

		if (wn == 4 && !strncmp(p, "send", 4)) {
			if (ln > 4 && !strncmp(list, "rid=", 4)) { /* the draft's old syntax */
				list += 4;
				ln -= 4;
			}
			snprintf(t->sim, sizeof(t->sim), "%.*s", (int)ln, list);
			return;
		}
		if (!wn || !ln)
			return;
		p = list + ln;
	}
}

static void parse_ssrc_group(struct cp_sdp_mline *m, struct ml_tmp *t, const char *v)
{
	unsigned long a1, a2;

	if (sscanf(v, "FID %lu %lu", &a1, &a2) == 2 && a1 && a2 && a1 <= UINT32_MAX &&
	    a2 <= UINT32_MAX) {
		if (!m->rtx_ssrc) {
			m->ssrc = (uint32_t)a1;
			m->rtx_ssrc = (uint32_t)a2;
		}
		if (t->n_fid < TMP_FIDS) {
			t->fid[t->n_fid][0] = (uint32_t)a1;
			t->fid[t->n_fid][1] = (uint32_t)a2;
			t->n_fid++;
		}
	} else if (!strncmp(v, "SIM ", 4) && !t->n_sim) {
		const char *p = v + 4;
		char *end;

		while (t->n_sim < FH_MAX_LAYERS && isdigit((unsigned char)*p)) {
			unsigned long s = strtoul(p, &end, 10);

			if (!s || s > UINT32_MAX)
				break;
			t->sim_ssrc[t->n_sim++] = (uint32_t)s;
			p = end;
			while (*p == ' ')
				p++;
		}
	}
}

static bool pt_in_list(const char *list, int pt)
{
	char *end;

	if (!list[0])
		return true; /* no restriction */
	for (const char *p = list; *p;) {
		if (!isdigit((unsigned char)*p))
			return false;
		if (strtol(p, &end, 10) == pt)
			return true;
		p = end;
		if (*p == ',')
			p++;
		else
			break;
	}
	return false;
}

/* The simulcast encodings we take: the first alternative of each stream of the send list that
 * has an a=rid send line allowing VP8, at most FH_MAX_LAYERS, and two at least. */
static void finish_simulcast(struct cp_sdp_offer *o, struct cp_sdp_mline *m, const struct ml_tmp *t)
{
	if (!t->has_sim || m->kind != CP_KIND_VIDEO || m->pt < 0 || !t->sim[0])
		return;
	for (const char *p = t->sim; *p;) {
		size_t sn = strcspn(p, ";");
		size_t an = strcspn(p, ",;");
		bool paused = *p == '~';
		const char *id = p + paused;
		size_t idn = an - paused;
		bool dup = false;
		int r = -1;

		for (unsigned i = 0; i < t->n_rid && r < 0; i++)
			if (strlen(t->rid[i]) == idn && !strncmp(t->rid[i], id, idn) &&
			    pt_in_list(t->rid_pts[i], m->pt))
				r = (int)i;
		for (unsigned i = 0; r >= 0 && i < m->n_rids; i++)
			dup |= !strcmp(m->rid[i], t->rid[r]);
		if (r < 0 || m->n_rids == FH_MAX_LAYERS) {
			o->dropped_layers++;
		} else if (!dup) {
			snprintf(m->rid[m->n_rids], sizeof(m->rid[0]), "%s", t->rid[r]);
			m->rid_paused[m->n_rids] = paused;
			m->n_rids++;
		}
		p += sn;
		if (*p == ';')
			p++;
	}
	if (m->n_rids < 2 || strlen(m->mid) > FH_MID_MAX) {
		/* one encoding is no simulcast; a mid the dataplane cannot match would leave its
		 * layers unknown */
		o->dropped_layers += m->n_rids;
		m->n_rids = 0;
		return;
	}
	if (t->n_sim == m->n_rids) {
		for (unsigned i = 0; i < m->n_rids; i++) {
			m->layer_ssrc[i] = t->sim_ssrc[i];
			for (unsigned j = 0; j < t->n_fid; j++)
				if (t->fid[j][0] == t->sim_ssrc[i])
					m->layer_rtx_ssrc[i] = t->fid[j][1];
		}
	}
}

static void finish_mline(struct cp_sdp_offer *o, struct cp_sdp_mline *m, const struct ml_tmp *t)
{
	if (!m || m->pt < 0)
		return;
	for (int i = 0; i < t->n; i++)
		if (t->apt[i] == m->pt)
			m->rtx_pt = t->rtx[i];
	m->twcc_fb = t->fb_any;
	for (int i = 0; i < t->n_fb; i++)
		m->twcc_fb |= t->fb_pt[i] == m->pt;
	finish_simulcast(o, m, t);
}

static bool in_group(const char *group, const char *mid)
{
	size_t n = strlen(mid);

	for (const char *p = group; *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t wn = strcspn(p, " \t");

		if (wn == n && n && !strncmp(p, mid, n))
			return true;
		p += wn;
	}
	return false;
}

bool cp_sdp_mline_usable(const struct cp_sdp_mline *m)
{
	return (m->port != 0 || (m->bundle_only && m->bundled)) && m->kind != CP_KIND_OTHER &&
	       m->pt >= 0;
}

/* One id per extension for the whole offer: under BUNDLE an id names one extension on every
 * m-line (RFC 8843 section 9.2), and the dataplane keeps one table per participant. An
 * extension with two ids, or whose id also names another URI, is left out. */
static void resolve_ext(struct cp_sdp_offer *o, const struct parse_st *st)
{
	for (unsigned e = 0; e < FH_EXT_MAX; e++) {
		unsigned id = 0;
		bool conflict = st->ext_dup[e];

		for (unsigned i = 0; i < o->n; i++) {
			const struct cp_sdp_mline *m = &o->m[i];

			if (!m->ext[e] || !ext_applies(m->kind, e))
				continue;
			if (id && id != m->ext[e])
				conflict = true;
			id = m->ext[e];
		}
		if (id && st->id_clash[id])
			conflict = true;
		if (id && conflict)
			o->ext_conflicts++;
		o->ext[e] = conflict ? 0 : (uint8_t)id;
	}
	for (unsigned i = 0; i < o->n; i++) {
		struct cp_sdp_mline *m = &o->m[i];

		if (cp_sdp_mline_usable(m) && m->twcc_fb && o->ext[FH_EXT_TWCC] &&
		    m->ext[FH_EXT_TWCC] == o->ext[FH_EXT_TWCC])
			o->twcc = true;
		/* simulcast layers are told apart by their rid extension unless the offer named
		 * their SSRCs */
		bool by_rid = o->ext[FH_EXT_MID] && o->ext[FH_EXT_RID] &&
			      m->ext[FH_EXT_MID] == o->ext[FH_EXT_MID] &&
			      m->ext[FH_EXT_RID] == o->ext[FH_EXT_RID];

		if (m->n_rids && !by_rid && !m->layer_ssrc[0]) {
			o->dropped_layers += m->n_rids;
			m->n_rids = 0;
		}
	}
}

static int parse_attr(struct cp_sdp_offer *o, struct cp_sdp_mline *m, const char *a,
		      struct parse_st *st, char *why, size_t why_len)
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
		if (!strncmp(v, "BUNDLE", 6) && (v[6] == ' ' || !v[6])) {
			o->bundle = true;
			snprintf(st->group, sizeof(st->group), "%s", v + 6);
		}
	} else if (IS("extmap-allow-mixed")) {
		o->allow_mixed = true;
	} else if (IS("extmap")) {
		parse_extmap(o, m, st, v);
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
		parse_fmtp(&st->ml, v);
	} else if (IS("rtcp-fb")) {
		parse_rtcp_fb(&st->ml, v);
	} else if (IS("bundle-only")) {
		m->bundle_only = true;
	} else if (IS("rid")) {
		parse_rid(o, &st->ml, v);
	} else if (IS("simulcast")) {
		m->simulcast = true;
		parse_simulcast(&st->ml, v);
	} else if (IS("ssrc-group")) {
		parse_ssrc_group(m, &st->ml, v);
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
	struct parse_st *st;
	const char *p = sdp, *end = sdp + len;
	char line[1024];
	int ret = -1;

	memset(o, 0, sizeof(*o));
	if (len == 0 || len > CP_SDP_MAX_LEN || memchr(sdp, '\0', len)) {
		WHY("empty, oversized or binary SDP");
		return -1;
	}
	if (len < 3 || memcmp(sdp, "v=0", 3) != 0) {
		WHY("SDP must start with v=0");
		return -1;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		WHY("out of memory");
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (l && p[l - 1] == '\r')
			l--;
		if (l >= sizeof(line)) {
			WHY("SDP line too long");
			goto out;
		}
		memcpy(line, p, l);
		line[l] = '\0';
		p = nl ? nl + 1 : end;
		if (l == 0)
			continue;
		if (l < 2 || line[1] != '=') {
			WHY("malformed SDP line");
			goto out;
		}
		if (line[0] == 'm') {
			finish_mline(o, cur, &st->ml);
			if (o->n == CP_SDP_MAX_MLINES) {
				WHY("too many m-lines");
				goto out;
			}
			cur = &o->m[o->n++];
			memset(&st->ml, 0, sizeof(st->ml));
			if (parse_mline(cur, line + 2, why, why_len) < 0)
				goto out;
		} else if (line[0] == 'a') {
			if (parse_attr(o, cur, line + 2, st, why, why_len) < 0)
				goto out;
		}
	}
	finish_mline(o, cur, &st->ml);
	if (o->n == 0) {
		WHY("no m-lines");
		goto out;
	}
	if (!o->ufrag[0] || !o->pwd[0]) {
		WHY("missing ICE credentials");
		goto out;
	}
	if (!o->fp_len) {
		WHY("missing DTLS fingerprint");
		goto out;
	}
	if (o->setup[0] && strcmp(o->setup, "actpass") && strcmp(o->setup, "active")) {
		WHY("setup must be actpass or active: Funkhaus is the DTLS server");
		goto out;
	}
	for (unsigned i = 0; i < o->n; i++) {
		if (!o->m[i].mid[0]) {
			WHY("m-line without mid");
			goto out;
		}
		for (unsigned j = 0; j < i; j++) {
			if (!strcmp(o->m[i].mid, o->m[j].mid)) {
				WHY("duplicate mid");
				goto out;
			}
		}
		o->m[i].bundled = in_group(st->group, o->m[i].mid);
	}
	resolve_ext(o, st);
	ret = 0;
out:
	free(st);
	return ret;
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

/* The extensions of ours the offer has on m with the id the whole offer agrees on, each with
 * the direction that answers the offer's. */
static void write_extmaps(struct sbuf *b, const struct cp_sdp_offer *o,
			  const struct cp_sdp_mline *m)
{
	static const char *const answer_dir[] = {"/inactive", "/recvonly", "/sendonly", ""};

	for (unsigned e = 0; e < FH_EXT_MAX; e++)
		if (ext_applies(m->kind, e) && o->ext[e] && m->ext[e] == o->ext[e])
			sb_printf(b, "a=extmap:%u%s %s\r\n", m->ext[e],
				  answer_dir[m->ext_dir[e] & 3], ext_tab[e].uri);
}

/* Transport-wide feedback where the offer has it for the codec and the extension is agreed;
 * REMB only for those who have none. */
static void write_fb(struct sbuf *b, const struct cp_sdp_offer *o, const struct cp_sdp_mline *m)
{
	bool twcc = m->twcc_fb && o->ext[FH_EXT_TWCC] && m->ext[FH_EXT_TWCC] == o->ext[FH_EXT_TWCC];

	if (twcc)
		sb_printf(b, "a=rtcp-fb:%d transport-cc\r\n", m->pt);
	else if (m->kind == CP_KIND_VIDEO)
		sb_printf(b, "a=rtcp-fb:%d goog-remb\r\n", m->pt);
}

static void write_simulcast(struct sbuf *b, const struct cp_sdp_mline *m)
{
	for (unsigned i = 0; i < m->n_rids; i++)
		sb_printf(b, "a=rid:%s recv\r\n", m->rid[i]);
	sb_printf(b, "a=simulcast:recv ");
	for (unsigned i = 0; i < m->n_rids; i++)
		sb_printf(b, "%s%s%s", i ? ";" : "", m->rid_paused[i] ? "~" : "", m->rid[i]);
	sb_printf(b, "\r\n");
}

static void write_mline(struct sbuf *b, const struct cp_sdp_offer *o, const struct cp_sdp_mline *m,
			const struct cp_sdp_local *l, const struct cp_sdp_answer_ml *a)
{
	if (a->reject || !cp_sdp_mline_usable(m)) {
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
	write_extmaps(b, o, m);
	if (m->kind == CP_KIND_AUDIO) {
		sb_printf(b, "a=rtpmap:%d opus/48000/2\r\n", m->pt);
		sb_printf(b, "a=fmtp:%d minptime=10;useinbandfec=1\r\n", m->pt);
		write_fb(b, o, m);
	} else {
		sb_printf(b, "a=rtpmap:%d VP8/90000\r\n", m->pt);
		write_fb(b, o, m);
		sb_printf(b, "a=rtcp-fb:%d ccm fir\r\n", m->pt);
		sb_printf(b, "a=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\n", m->pt, m->pt);
		if (m->rtx_pt >= 0)
			sb_printf(b, "a=rtpmap:%d rtx/90000\r\na=fmtp:%d apt=%d\r\n", m->rtx_pt,
				  m->rtx_pt, m->pt);
	}
	/* the sender keeps its own encodings' rates: no b=AS, no cap from us */
	if (a->dir == CP_DIR_RECVONLY && m->n_rids)
		write_simulcast(b, m);
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
	if (o->allow_mixed)
		sb_printf(&b, "a=extmap-allow-mixed\r\n");
	sb_printf(&b, "a=group:BUNDLE");
	for (unsigned i = 0; i < o->n; i++)
		if (!ml[i].reject && cp_sdp_mline_usable(&o->m[i]))
			sb_printf(&b, " %s", o->m[i].mid);
	sb_printf(&b, "\r\na=msid-semantic: WMS *\r\n");
	for (unsigned i = 0; i < o->n; i++)
		write_mline(&b, o, &o->m[i], l, &ml[i]);
	if (b.overflow) {
		free(b.s);
		return NULL;
	}
	return b.s;
}
