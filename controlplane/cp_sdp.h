/*
 * cp_sdp: reads a browser's SDP offer (unified plan, BUNDLE, rtcp-mux) and writes Funkhaus'
 * answer (ICE-lite, passive DTLS, Opus and VP8 with RTX, the SSRCs we send, the header
 * extensions of enum fh_ext with the offer's ids, transport-wide feedback, VP8 simulcast by
 * rid). Pure functions: the unit tests feed them recorded Chrome and Firefox offers and the
 * fuzzer feeds them garbage.
 */
#ifndef CP_SDP_H
#define CP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fh_addr.h"
#include "fh_region.h"

#define CP_SDP_MAX_MLINES 64
#define CP_SDP_MAX_LEN (256 * 1024)
#define CP_MID_MAX 32

enum cp_dir { CP_DIR_INACTIVE = 0, CP_DIR_SENDONLY = 1, CP_DIR_RECVONLY = 2, CP_DIR_SENDRECV = 3 };

enum cp_kind { CP_KIND_AUDIO, CP_KIND_VIDEO, CP_KIND_OTHER };

struct cp_sdp_mline {
	enum cp_kind kind;
	char media[16];
	char proto[48];
	char fmts[128];
	uint16_t port;
	char mid[CP_MID_MAX + 1];
	enum cp_dir dir;
	int pt;	    /* Opus or VP8 payload type, -1 when the codec is not offered */
	int rtx_pt; /* RTX for pt (video), -1 when absent */
	uint32_t ssrc;
	uint32_t rtx_ssrc;
	bool rtcp_mux;
	bool simulcast;	  /* it has an a=simulcast line (accepted or not: see n_rids) */
	bool bundle_only; /* a=bundle-only (Firefox max-bundle: port 0 on all but the first) */
	bool bundled;	  /* its mid is in the offer's BUNDLE group */
	bool twcc_fb;	  /* a=rtcp-fb:<pt> transport-cc for its codec */
	/* header extension ids it offers (0: none) and their direction from the offerer's side
	 * (CP_DIR_SENDRECV when the extmap names none) */
	uint8_t ext[FH_EXT_MAX];
	uint8_t ext_dir[FH_EXT_MAX];
	/* accepted simulcast encodings (VP8, a=rid send, named in a=simulcast:send), in the
	 * offer's order, which Funkhaus' clients make lowest first; 0 or 2..FH_MAX_LAYERS */
	unsigned n_rids;
	char rid[FH_MAX_LAYERS][FH_RID_MAX + 1];
	bool rid_paused[FH_MAX_LAYERS];		/* '~': paused at first */
	uint32_t layer_ssrc[FH_MAX_LAYERS];	/* from a=ssrc-group:SIM, else 0 */
	uint32_t layer_rtx_ssrc[FH_MAX_LAYERS]; /* from the FID group of a layer SSRC */
};

struct cp_sdp_offer {
	char ufrag[FH_UFRAG_MAX + 1];
	char pwd[257];
	char fp_alg[16];
	uint8_t fp[64];
	size_t fp_len;
	char setup[16];
	bool bundle;
	bool allow_mixed; /* a=extmap-allow-mixed (session or media level) */
	/* the participant's id per extension: one id per extension under BUNDLE; 0 where not
	 * offered or where the offer gives it two ids, or gives its id to something else too */
	uint8_t ext[FH_EXT_MAX];
	bool twcc; /* ext[FH_EXT_TWCC] and transport-cc feedback on a line we take */
	/* what was ignored, for counters: extmaps with ids outside 1..255 or an unknown
	 * direction, conflicting extension ids, rids that are not RFC 8851 tokens or too long,
	 * simulcast encodings beyond FH_MAX_LAYERS or without an a=rid */
	unsigned bad_extmap, ext_conflicts, bad_rids, dropped_layers;
	unsigned n;
	struct cp_sdp_mline m[CP_SDP_MAX_MLINES];
};

/* 0, or -1 with a reason (for logs and the client, never containing SDP text). */
int cp_sdp_parse_offer(const char *sdp, size_t len, struct cp_sdp_offer *o, char *why,
		       size_t why_len);

/* Whether an m-line is one we take: audio (Opus) or video (VP8) with a port, or with port 0
 * and a=bundle-only inside the BUNDLE group (RFC 8843 section 6: it shares the bundle's
 * transport). */
bool cp_sdp_mline_usable(const struct cp_sdp_mline *m);

/* What to answer for one m-line. */
struct cp_sdp_answer_ml {
	bool reject;	 /* port 0 (also when !cp_sdp_mline_usable) */
	enum cp_dir dir; /* our direction */
	uint32_t ssrc;	 /* when we send */
	uint32_t rtx_ssrc;
	char stream_id[24]; /* msid stream: the participant the media comes from */
	char track_id[32];
};

struct cp_sdp_local {
	const char *ufrag;
	const char *pwd;
	const char *fingerprint; /* "sha-256 AB:CD:..." */
	const struct fh_addr *cands;
	unsigned n_cands;
	uint64_t sess_id;
	uint64_t sess_ver;
	const char *cname;
};

/* A malloc'd answer, or NULL when it does not fit in CP_SDP_MAX_LEN. */
char *cp_sdp_build_answer(const struct cp_sdp_offer *o, const struct cp_sdp_local *l,
			  const struct cp_sdp_answer_ml *ml);

/* Parses "AB:CD:.." into bytes; returns the byte count or -1. */
int cp_sdp_parse_fingerprint(const char *hex, uint8_t *out, size_t max);

#endif
