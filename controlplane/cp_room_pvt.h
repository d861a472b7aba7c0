/*
 * cp_room_pvt: what the files of cp_room share; do not include outside cp_room*.c. The rooms,
 * participants and m-lines, the one state they share (cp_room_g) and the internal functions
 * one file calls in another. Everything here runs on the event loop only.
 *
 * The files, by concern: cp_room.c (rooms, participants leaving, tenants, expiry, the tick,
 * the signalling dispatch), cp_join.c (join and admission), cp_negotiate.c (offers and answers),
 * cp_moderate.c (lobby and moderation), cp_media.c (dataplane events and DTLS), cp_resume.c
 * (notes in the region, resuming after a control-plane restart), cp_room_api.c (admin API),
 * cp_speaker.c (who speaks).
 */
#ifndef CP_ROOM_PVT_H
#define CP_ROOM_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cp_dp.h"
#include "cp_pwhash.h"
#include "cp_room.h"
#include "cp_sdp.h"
#include "cp_sig.h"
#include "cp_tenant.h"

/* A published stream. key names it to the dataplane (STREAM_DEL, SUB_ADD, MUTE): its SSRC,
 * or for simulcast (which has no one SSRC) a random number; sig tells a republish (new SSRC,
 * rids or layer SSRCs) from the same stream offered again. */
struct cp_track {
	bool present;
	uint32_t key;
	uint32_t sig;
	uint32_t ssrc; /* 0 for simulcast */
	uint32_t rtx_ssrc;
	uint8_t pt;
	uint8_t rtx_pt;
	uint8_t n_layers;
};

/* What a participant publishes, by index into cp_part.pub. */
enum { CP_PUB_AUDIO = 0, CP_PUB_VIDEO = 1, CP_PUB_SCREEN = 2, CP_PUBS };

#define CP_AUDIO_SLOTS 6	 /* audio streams a participant receives at once (cp_slots) */
#define CP_VIDEO_SLOTS_DEFAULT 9 /* video, unless its join asks for another count */
#define CP_SLOTS_MAX 32		 /* one kind's slots of one participant, at most */
#define CP_ROOM_PARTS_MAX CP_TENANT_PARTS_MAX

struct cp_mline {
	char mid[CP_MID_MAX + 1];
	enum cp_kind kind;
	bool publish;	 /* carries this participant's own track */
	uint8_t pub;	 /* with publish: which one (CP_PUB_*) */
	bool assigned;	 /* a receive slot: the dataplane has an out (out_ssrc) for it */
	bool slot;	 /* the same, within the participant's pool: sources are mapped onto it */
	bool dead;	 /* refused by an answer; never used again */
	bool live;	 /* the last offer has it usable (the client has a transceiver for it) */
	uint64_t src;	 /* id of the participant whose track it carries now, 0: none */
	uint8_t src_pub; /* which of its tracks (CP_PUB_*) */
	uint8_t layers;	 /* what cp_slots asked of the worker: layer cap and priority */
	uint8_t prio;
	uint32_t src_key; /* the source track's key when it was mapped (a republish is new) */
	uint32_t out_ssrc;
	uint32_t out_rtx_ssrc;
	int pt;
	int rtx_pt;
};

/* A source a receiver's page shows (constraints): participant id and which track. */
struct cp_want_src {
	uint64_t id;
	uint8_t pub;
	bool stage;
	uint32_t height; /* CSS pixels, 0: unknown */
};

struct cp_constraints {
	bool set; /* the page sent some: otherwise last-N by speaker */
	unsigned max;
	unsigned n;
	struct cp_want_src src[CP_SLOTS_MAX];
};

struct cp_room;

#define CP_ROOM_REMOVED_MAX 32

struct cp_part {
	uint64_t id;
	char pseudo[9];
	char name[CP_NAME_MAX * 4 + 1];
	char room_as[CP_ROOM_BYTES + 1]; /* the room's name as this participant wrote it */
	struct cp_room *room;
	struct cp_conn *conn;
	struct cp_part *next;
	unsigned worker;
	int slot;
	bool in_dp;
	bool media_up;
	bool audio_muted;
	bool video_muted;
	bool moderator;	  /* opened the room, or a token said so */
	bool forced_mute; /* a moderator muted its audio: not forwarded until it unmutes */
	bool waiting;	  /* in the lobby: no slot, no media, sees nobody */
	bool hand;	  /* its hand is raised */
	bool token_mod;	  /* a token made it moderator: nobody in the room takes that back */
	bool returning;	  /* waits because a moderator removed someone from its source */
	char lufrag[FH_UFRAG_MAX + 1];
	char lpwd[FH_PWD_MAX + 1];
	char rufrag[FH_UFRAG_MAX + 1];
	char fp_alg[16];
	uint8_t fp[64];
	size_t fp_len;
	struct cp_dtls *dtls;
	uint64_t dtls_start_ms;
	uint64_t sess_id;
	uint64_t sess_ver;
	struct cp_track pub[CP_PUBS];
	char screen_mid[CP_MID_MAX + 1]; /* its offer's screen-share m-line, "" when none */
	struct cp_mline *ml;
	unsigned n_ml;
	struct cp_source *src; /* its connection's source: its share is counted there */
	uint64_t since_ms;     /* joined, or began to wait in the lobby */
	unsigned reneg_rounds; /* renegotiations asked for since an offer last made progress */
	uint8_t resume[32];    /* SHA-256 of the secret it may resume with */
	/* our DTLS certificate's fingerprint as its answers carry it: a control plane started
	 * later has another certificate, and a changed fingerprint would make the browser
	 * start DTLS again with a server that no longer holds the old key */
	char our_fp[128];
	bool orphan;	 /* from a note: in the dataplane, its client not back yet */
	bool media_sent; /* media holds what the dataplane was last told (FH_CMD_MEDIA) */
	struct fh_cmd_media media;
	unsigned pool[2]; /* receive slots per kind (cp_slots) */
	bool map_sent;	  /* its client was told the slots' sources */
	struct cp_constraints cons;
	uint64_t spoke_ms; /* when it last became the room's speaker; 0: never */
	uint64_t heard_ms; /* when it was last in the room's speaking set; 0: never */
	uint64_t seq;	   /* order of arrival in the room, for ties */
};

/* Who speaks in a room, as its worker's events said (cp_speaker). */
#define CP_SPEAKER_RECENT 32   /* recent dominant speakers kept per room */
#define CP_SPEAKING_MIN_MS 250 /* "speaking" goes out at most this often per room */
struct cp_speakers {
	bool has_dominant; /* recent[0] holds the stage now */
	unsigned n_recent;
	uint64_t recent[CP_SPEAKER_RECENT]; /* participant ids, the latest dominant first */
	unsigned n_speaking;
	uint64_t speaking[FH_EVT_SLOTS]; /* who speaks now, most active first */
	bool speaking_due;		 /* a change waits for CP_SPEAKING_MIN_MS */
	uint64_t speaking_ms;		 /* when "speaking" last went out */
};

struct cp_room {
	bool one_time;		    /* ends with its last participant, record and all */
	bool lobby;		    /* joiners who are not moderators wait to be let in */
	bool closing;		    /* everyone is being sent away */
	bool screen_mods;	    /* a moderator restricted screen sharing to moderators */
	bool has_pw;		    /* joins need the password whose salted hash is pw */
	uint8_t pw[CP_PW_HASH_LEN]; /* cp_pwhash: iterations, salt, PBKDF2-HMAC-SHA256 */
	bool has_quick;		    /* quick holds the password's cp_pwhash_quick() MAC */
	unsigned pw_setting;	    /* new passwords being hashed: joins wait for them (5006) */
	uint8_t quick[32];
	char tenant[33];	     /* the tenant's id; its policy is looked up when needed */
	char key[CP_ROOM_BYTES + 1]; /* cp_roomname key of its name, unique within the tenant */
	uint32_t id;
	unsigned worker;
	unsigned n;
	struct cp_part *parts;
	unsigned n_waiting;
	struct cp_part *waiting; /* the lobby, in order of arrival */
	struct cp_speakers spk;
	/* the sources (cp_limits keys) of those a moderator removed during this meeting, the
	 * newest CP_ROOM_REMOVED_MAX: whoever comes from one waits in the lobby. In memory only,
	 * gone with the room; never logged, stored or noted in the region */
	uint8_t removed[CP_ROOM_REMOVED_MAX][16];
	unsigned n_removed;
	struct cp_room *next;
};

/* The state every cp_room* file shares: one instance, cp_room_g, on the event loop. */
struct cp_room_state {
	const struct cp_room_conn_ops *ops; /* the connections' owner (cp_server) */
	struct cp_room_conf conf;
	struct cp_tenants tenants;
	struct fh_addr announce[16];
	struct cp_room *rooms;
	unsigned n_rooms;
	unsigned n_parts;
	uint32_t next_room_id;
	struct cp_part *by_slot[FH_MAX_WORKERS][FH_MAX_SLOTS];
	uint64_t now_ms;
	uint64_t last_dtls_tick;
	uint64_t last_wait_check;
	uint64_t last_expiry;
	bool draining;
	struct cp_room_metrics metrics;
	uint64_t last_rate_ms; /* per worker byte rates, sampled once a second */
	uint64_t last_rx[FH_MAX_WORKERS], last_tx[FH_MAX_WORKERS];
	uint64_t rx_bps[FH_MAX_WORKERS], tx_bps[FH_MAX_WORKERS];
};

extern struct cp_room_state cp_room_g;

/* ---- cp_room.c: rooms, participants, sending ---- */

void cp_room_rand_bytes(void *p, size_t n);
/* What the connection's upgrade request said, through the owner's ops. */
const struct cp_tenant *cp_room_conn_tenant(const struct cp_conn *c);
struct cp_source *cp_room_conn_source(const struct cp_conn *c);
const char *cp_room_conn_peer(const struct cp_conn *c);
/* Sends o (taken over) to p when it has a connection. */
void cp_room_send_json(struct cp_part *p, json_t *o);
void cp_room_send_error(struct cp_conn *c, enum cp_err e);
/* To everyone in r but except; takes o over. */
void cp_room_broadcast(struct cp_room *r, const struct cp_part *except, json_t *o);
/* {"type":"closed","reason":reason}, malloc'd. */
char *cp_room_closed_msg(const char *reason);
void cp_room_part_id(const struct cp_part *p, char id[17]);
json_t *cp_room_part_json(const struct cp_part *p);
struct cp_part *cp_room_part_by_id(struct cp_part *list, const char *id);
/* A participant for connection c (NULL: from a note) in room r, not yet in its list. */
struct cp_part *cp_room_part_new(struct cp_conn *c, struct cp_room *r, const char *name,
				 const char *room_as);
void cp_room_part_free(struct cp_part *p);
/* A command for p's slot in its room, to its worker. */
void cp_room_dp_cmd(struct cp_part *p, struct fh_cmd *c);
void cp_room_dp_mute(struct cp_part *p, bool muted);
void cp_room_key(const char *name, char key[CP_ROOM_BYTES + 1]);
struct cp_room *cp_room_get(const char *tenant, const char *name, bool create);
void cp_room_unlink(struct cp_room *r);
void cp_room_release(struct cp_room *r);
void cp_room_close(struct cp_room *r, const char *reason);
const struct cp_tenant *cp_room_tenant(const struct cp_room *r);
/* Whether the tenant's public access is on (the cluster's switch, else its own setting). */
bool cp_room_tenant_open(const struct cp_tenant *t);
void cp_room_set_hash(struct cp_room *r, const uint8_t hash[CP_PW_HASH_LEN], const uint8_t *quick);
/* p leaves its room (and the dataplane); frees p, and the room when it is the last. */
void cp_room_leave(struct cp_part *p, const char *why);

/* ---- cp_join.c: join and admission ---- */

void cp_join_handle(struct cp_conn *c, const struct cp_sig_msg *m, const char *buf, size_t len);
/* Whether a join of c waits for its password's hash. */
bool cp_join_pending(const struct cp_conn *c);
/* c went: a join of its waiting for cp_pwhash is forgotten. */
void cp_join_closed(const struct cp_conn *c);
void cp_join_fini(void);
enum cp_err cp_join_admit(struct cp_part *p);
json_t *cp_join_turn_servers(const struct cp_part *p);
/* What p learns on entering its room ("joined", or "resumed" after a control-plane restart):
 * its id, everyone else there, the room's settings, TURN credentials where there is TURN. */
json_t *cp_join_welcome(struct cp_part *p, const struct cp_tenant *t, const char *type);

/* ---- cp_negotiate.c: offers, answers, m-lines ---- */

void cp_negotiate_offer(struct cp_part *p, const char *sdp, size_t len, const char *screen);
void cp_negotiate_request(struct cp_part *p);
void cp_negotiate_unassign(struct cp_part *p, struct cp_mline *ml);

/* ---- cp_slots.c: sources mapped onto receive slots ---- */

/* Maps p's receive slots onto the sources it should get now and tells the worker and, when
 * the video changed, p's client ("slots"). */
void cp_slots_update(struct cp_part *p);
void cp_slots_room(struct cp_room *r);
/* p became the room's speaker at now_ms: it ranks first for slots in large rooms. */
void cp_slots_spoke(struct cp_part *p, uint64_t now_ms);
/* The worker's set of those speaking now in r changed to ps[0..n-1]: they rank first for
 * audio slots (a short answer that never takes the stage is heard), video is not moved. */
void cp_slots_heard(struct cp_room *r, struct cp_part *const *ps, unsigned n, uint64_t now_ms);
/* p's slots carrying gone are emptied (gone leaves). */
void cp_slots_forget(struct cp_part *p, const struct cp_part *gone);
/* Whether p may share its screen (the tenant's screen_share, its moderator right). */
bool cp_slots_may_share(const struct cp_part *p);
/* Whether p has fewer slots than its pool (its offers lack receive m-lines). */
bool cp_slots_lacking(const struct cp_part *p);
/* The "constraints" message (checked by cp_sig; its nested objects here). */
enum cp_err cp_slots_constraints(struct cp_part *p, json_t *msg);

/* ---- cp_moderate.c: lobby and moderation ---- */

void cp_moderate_message(struct cp_part *p, const struct cp_sig_msg *m);
void cp_moderate_lobby_update(struct cp_room *r, struct cp_part *only);
void cp_moderate_lobby_unlink(struct cp_part *p);
void cp_moderate_lobby_drop(struct cp_part *p, char *msg, const char *why);
void cp_moderate_lobby_leave(struct cp_part *p, const char *why);
void cp_moderate_hand_over(struct cp_room *r);
void cp_moderate_mute(struct cp_part *q);
/* p raises or lowers its hand; a change is told to the room, the same state again is not. */
void cp_moderate_hand(struct cp_part *p, bool raised);
/* Whether someone from src was removed from r during this meeting. */
bool cp_moderate_was_removed(const struct cp_room *r, const struct cp_source *src);
void cp_moderate_remove(struct cp_part *q, const char *why);
enum cp_err cp_moderate_password(struct cp_room *r, const char *password);
void cp_moderate_lobby(struct cp_room *r, bool on);

/* ---- cp_media.c: dataplane events and DTLS ---- */

extern const struct cp_dp_handlers cp_media_dp_handlers;
void cp_media_dtls_send(void *user, const uint8_t *data, size_t len);
/* p is told e and leaves; its connection is closed. */
void cp_media_fail(struct cp_part *p, enum cp_err e, const char *why);
/* Ends the handshakes that are overdue or failed. */
void cp_media_tick(uint64_t now_ms);

/* ---- cp_speaker.c: dominant speaker and who speaks, from the worker's events ---- */

/* FH_EVT_SPEAKER and FH_EVT_SPEAKING of worker w: the room hears {"type":"speaker","id"} and
 * {"type":"speaking","ids"}; events for a slot no longer in that room are ignored. */
void cp_speaker_event(unsigned w, const struct fh_evt *e);
/* After "joined" or "resumed": p hears who holds the stage, when someone does. */
void cp_speaker_welcome(struct cp_part *p);
/* p leaves its room: it leaves the room's recent speakers and speaking set too. */
void cp_speaker_left(struct cp_part *p);
/* Sends what waited for CP_SPEAKING_MIN_MS. */
void cp_speaker_tick(uint64_t now_ms);
/* The room's recent dominant speakers, the latest first (who holds the stage now, when
 * anyone does, then who held it before), at most max of them into ids; returns how many. Only
 * participants still in the room are listed, each once. For choosing which sources a receiver
 * gets in a large room. */
unsigned cp_speaker_recent(const struct cp_room *r, uint64_t *ids, unsigned max);

/* ---- cp_resume.c: notes in the region, resuming after a control-plane restart ---- */

void cp_resume_note_save(const struct cp_part *p);
void cp_resume_note_save_room(const struct cp_room *r);
void cp_resume_note_clear(const struct cp_part *p);
/* A new resume secret for p, its hash kept in p: out goes to the client once. */
void cp_resume_secret(struct cp_part *p, char out[32]);
void cp_resume_attached(void);
void cp_resume_handle(struct cp_conn *c, const struct cp_sig_msg *m);
void cp_resume_reap(uint64_t now_ms);

#endif
