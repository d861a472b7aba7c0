/*
 * fhc: a small Funkhaus client in C, the way a browser talks to Funkhaus: WebSocket
 * signalling over TLS, SDP offers, ICE checks, a DTLS client handshake and SRTP. It also
 * speaks to Janus' VideoRoom, so funkhaus-bench can put the same load on both. The
 * integration tests use it to hold calls; funkhaus-bench builds its simulated participants
 * on it. Single-threaded: one fhc is driven by fhc_poll from one thread.
 */
#ifndef FHC_H
#define FHC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fhc_sim.h"

#define FHC_MAX_RECV 160
#define FHC_LAT_BUCKETS 1024 /* 1 ms each; the last one holds everything slower */

/* A payload that starts with its send time lets the receiver measure one-way latency (sender
 * and receiver on the same clock, i.e. the same host). */
#define FHC_STAMP_LEN 12
void fhc_stamp(uint8_t *payload); /* writes CLOCK_MONOTONIC µs and a marker */

struct fhc;

/* What arrived from one remote participant's stream. */
struct fhc_stream_stats {
	char stream_id[24]; /* the sending participant's id ("-": none) */
	uint32_t ssrc;
	bool video;
	uint64_t packets;
	uint64_t bytes;
	uint8_t last_payload[64];
	size_t last_len;
	uint16_t last_seq;
	uint64_t rtx_packets;	      /* retransmissions (RFC 4588) that arrived for this stream */
	uint16_t last_rtx_osn;	      /* original sequence number of the last one */
	uint8_t last_rtx_payload[64]; /* and what it carried after that number */
	size_t last_rtx_len;
	uint64_t first_us;   /* arrival of the first packet (CLOCK_MONOTONIC) */
	uint64_t last_us;    /* and of the last */
	uint64_t max_gap_us; /* the longest time between two packets of it */
	uint32_t base_seq;   /* extended sequence numbers, for loss */
	uint32_t max_seq;
	double jitter_us; /* RFC 3550 interarrival jitter of stamped packets */
	int64_t last_transit;
	bool seq_init;
	/* as the receiver's downlink delivered them (opts.link_bps): first_us, last_us, the
	 * gaps, latency and the frames below count the time a packet left that link */
	uint64_t wire_bytes;	  /* datagrams with their IP and UDP headers */
	struct fhc_sim_frames fr; /* video: complete frames, freezes, time on each layer */
};

/* Latency of stamped packets over all streams a client received. */
struct fhc_latency {
	uint64_t count;
	uint64_t sum_us;
	uint64_t max_us;
	uint32_t hist[FHC_LAT_BUCKETS];
};
const struct fhc_latency *fhc_latency(const struct fhc *c);
/* Packets a stream should have delivered (highest minus first sequence number, plus one). */
static inline uint64_t fhc_expected(const struct fhc_stream_stats *s)
{
	return s->seq_init ? (uint64_t)(s->max_seq - s->base_seq) + 1 : 0;
}

struct fhc_opts {
	const char *host; /* signalling server (IPv4 literal or name) */
	uint16_t port;
	const char *room;
	const char *name;
	bool audio; /* publish */
	bool video;
	unsigned timeout_ms;  /* for each blocking step */
	const char *media;    /* the SFU's candidate address to use (IPv4 or IPv6); NULL: its
			       * first IPv4 one */
	const char *srtp;     /* "gcm" or "cm" to offer only that SRTP profile; NULL: both */
	bool janus;	      /* the server is Janus' VideoRoom (funkhaus-bench's reference SFU):
			      * session, publisher and subscriber handles, two peer connections */
	const char *token;    /* Funkhaus: a signed token for the join; NULL: none */
	const char *password; /* Funkhaus: the room's password; NULL: none */
	const char *prefix;   /* Funkhaus: a tenant's path prefix ("au": signalling on /au/ws) */
	const char *source;   /* the local address to connect from (127.0.0.2: another address on
			       * loopback, for tests of shares per source); NULL: any */
	const char *origin;   /* an Origin header for the WebSocket upgrade; NULL: none */
	const char *vhost;    /* the Host header's name (a tenant's host name); NULL: host */
	bool resume; /* Funkhaus: when the signalling breaks during a call (the control plane
		      * restarts), reconnect and resume as the same participant */
	bool wrong_fingerprint; /* offer an a=fingerprint that is not our DTLS certificate's
				 * (well-formed, one byte changed): tests of the server's check */
	/* Send video as Chrome does simulcast: header extensions with Chrome's ids (audio too),
	 * three VP8 encodings l, m, h (a=rid, a=simulcast, no a=ssrc), each with its own SSRC
	 * and RTX, sent with fhc_send_frame; key frames at the start and on PLI/FIR. */
	bool simulcast;
	/* Funkhaus: video receive slots to ask for in the join; 0: the server's default, -1:
	 * none (a listener) */
	int video_slots;
	/* The downlink's rate in bit/s, modelled inside the client (fhc_sim_link): what it
	 * receives arrives when that link would deliver it, or is dropped when the link's queue
	 * holds more than 200 ms. 0: unlimited. */
	uint64_t link_bps;
	/* Funkhaus: the signalling path ("/t/test/ws", a redirect's "ws"); NULL: /ws, or
	 * /PREFIX/ws with prefix */
	const char *ws_path;
	/* Funkhaus cluster: redirects followed in one fhc_connect (docs/PROTOCOL.md "redirect"):
	 * 0 the client's usual 2, -1 none (a redirect then ends fhc_connect with an error and
	 * fhc_redirect tells where it pointed), 1-3 that many */
	int max_redirects;
	enum fhc_stop {
		FHC_STOP_MEDIA = 0, /* join, offer, ICE and DTLS: media flows */
		FHC_STOP_UPGRADED,  /* the WebSocket is open; nothing sent (fhc_send_text) */
		FHC_STOP_JOINED,    /* joined (or waiting), never offers */
	} stop;
};

/* Connects, joins and brings media up (ICE, DTLS); NULL with a reason in err. A client the
 * server puts in a room's lobby comes back without media, fhc_waiting true. */
struct fhc *fhc_connect(const struct fhc_opts *o, char *err, size_t err_len);
bool fhc_waiting(const struct fhc *c);
/* Whether the server said it drains (opens no new rooms, stops soon). */
bool fhc_draining(const struct fhc *c);
/* A waiting client: waits (up to the timeout) until let in, then brings media up; 0, or -1
 * with the reason in err (denied: "closed: denied", or the error the server sent). */
int fhc_enter(struct fhc *c, char *err, size_t err_len);
/* Moderators: the i-th of those waiting in the lobby (its id, its name in *name), NULL past
 * the last; as the server last said. */
const char *fhc_lobby(const struct fhc *c, unsigned i, const char **name);
/* Handles signalling and media for up to timeout_ms; -1 when the session ended. */
int fhc_poll(struct fhc *c, int timeout_ms);
/* Sends one RTP packet on our audio (video=false) or video stream. */
int fhc_send(struct fhc *c, bool video, const uint8_t *payload, size_t len, bool marker);
/*
 * opts.simulcast: sends one frame of encoding layer (0 l, 1 m, 2 h) of about bytes bytes (a key
 * frame, five times that, when due), split into packets of at most 1200 bytes, each with a VP8
 * payload descriptor (L1T3), a stamp (fhc_stamp) and the layer's index. Returns the packets
 * sent, -1 when media is not up or the option is off.
 */
int fhc_send_frame(struct fhc *c, unsigned layer, size_t bytes);
/* Simulcast sender: key frames sent and retransmissions sent on each layer. */
uint64_t fhc_keyframes_sent(const struct fhc *c, unsigned layer);
uint64_t fhc_rtx_sent(const struct fhc *c, unsigned layer);
/* The modelled downlink (opts.link_bps): datagrams passed and dropped. */
const struct fhc_sim_link *fhc_link(const struct fhc *c);
/* Transport-wide feedback packets we sent as a receiver, and those the SFU sent us that
 * parsed (and those that did not). */
uint64_t fhc_twcc_sent(const struct fhc *c);
uint64_t fhc_twcc_received(const struct fhc *c, uint64_t *bad);
/* The clock fhc's times are on (CLOCK_MONOTONIC µs), e.g. for fhc_sim_frames_frozen. */
uint64_t fhc_now_us(void);
/* For tests of bad input: a datagram as it is (protect=false) or SRTP-protected RTP with our
 * keys (protect=true; the caller picks the SSRC), and an ICE check signed with another
 * password than the server's. */
int fhc_send_raw(struct fhc *c, const uint8_t *buf, size_t len, bool protect);
int fhc_send_check_with(struct fhc *c, const char *pwd);
/* Asks the SFU to retransmit packet seq of the video from participant id (RTCP NACK), or for
 * a key frame (PLI). */
int fhc_nack(struct fhc *c, const char *id, uint16_t seq);
int fhc_pli(struct fhc *c, const char *id);
/* Key frame requests (PLI/FIR) the SFU sent us as a publisher. */
uint64_t fhc_pli_received(const struct fhc *c);
/* The stats of the stream from participant id, NULL when none arrived. */
const struct fhc_stream_stats *fhc_stream(const struct fhc *c, const char *id, bool video);
/* Sends one raw text message on the signalling socket (tests use it for bad input). */
int fhc_send_text(struct fhc *c, const char *text, size_t len);
/* The last error message the server sent: its code, 0 when none since the last call. */
int fhc_last_error(struct fhc *c);
/* The TURN username (<expiry>:<pseudonym>) and credential "joined" gave; "" when none. */
const char *fhc_turn(const struct fhc *c, const char **credential);
/* The bitrate of the last REMB the SFU sent us as a publisher (0: none yet), and how many came. */
uint64_t fhc_remb(const struct fhc *c, uint64_t *count);
/* Whether the server said participant id left our room (the last 16 that left). */
bool fhc_saw_left(const struct fhc *c, const char *id);
/* Whether the signalling connection is still open. */
bool fhc_signalling_open(const struct fhc *c);
/* With opts.resume: how often the signalling was taken back after it broke, how many tries
 * to reconnect failed, and whether the server refused a resume (4047: join again). */
unsigned fhc_resumes(const struct fhc *c);
/* Funkhaus: the receive slots of each kind it offers (joined.slots, or renegotiate). */
void fhc_pool(const struct fhc *c, unsigned *audio, unsigned *video);
unsigned fhc_resume_tries_failed(const struct fhc *c);
bool fhc_resume_refused(const struct fhc *c);
const char *fhc_id(const struct fhc *c);
/* The room the server put us in (a generated one when we opened it with a token). */
const char *fhc_room(const struct fhc *c);
/* How many messages of the type the server sent us (of the first 16 types it sent), and the
 * newest as it came (cut to 511 bytes) in *last; 0 and NULL when none. */
unsigned fhc_seen(const struct fhc *c, const char *type, const char **last);
/* Whether the server made us a moderator (and did not take it back). */
bool fhc_moderator(const struct fhc *c);
/* The reason of the "closed" message that ended our room, "" when none came. */
const char *fhc_closed(const struct fhc *c);
/* The SRTP profile DTLS chose: "gcm" or "cm". */
const char *fhc_srtp_profile(const struct fhc *c);
unsigned fhc_streams(const struct fhc *c, struct fhc_stream_stats *out, unsigned max);
/* Packets received from the given participant id, audio + video. */
uint64_t fhc_received_from(const struct fhc *c, const char *id, bool video);
uint16_t fhc_media_port(const struct fhc *c);
/* Whether the SFU's answer to our ICE check carried our address as we see it (the
 * XOR-MAPPED-ADDRESS a browser takes as its peer-reflexive candidate). */
bool fhc_mapped_ok(const struct fhc *c);
/* The SFU's media port we talk to (its worker's), 0 before the answer. */
uint16_t fhc_sfu_port(const struct fhc *c);
/* Funkhaus cluster: the redirects fhc_connect followed (0: the entry held the room), the node
 * id the last one named ("" when none), and the node we talk to now as "HOST:PORT". */
unsigned fhc_hops(const struct fhc *c);
const char *fhc_node(const struct fhc *c);
const char *fhc_where(const struct fhc *c);
/* The last redirect the server sent (its url and node; NULL when none came). */
const char *fhc_redirect(const struct fhc *c, const char **node);
/* joined.nodes: the other live nodes' base URLs, the i-th; NULL past the last. */
const char *fhc_peer_node(const struct fhc *c, unsigned i);
/* µs from the start of fhc_connect until "joined" came, and until media was up (0: not yet). */
uint64_t fhc_joined_us(const struct fhc *c);
uint64_t fhc_media_us(const struct fhc *c);
/* A base URL "https://HOST:PORT[/...]" (or "HOST[:PORT]", or "[V6]:PORT") split into host and
 * port (default_port when it names none); 0, or -1 when it is none of those. */
int fhc_parse_url(const char *url, uint16_t default_port, char *host, size_t host_len,
		  uint16_t *port);
void fhc_close(struct fhc *c);
/* Ends the client the way a crashed browser or a lost network does: the TCP connection is
 * reset, without a WebSocket or TLS goodbye (tests of the server noticing). */
void fhc_abort(struct fhc *c);

#endif
