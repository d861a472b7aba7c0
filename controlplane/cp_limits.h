/*
 * cp_limits: fair shares. A source is an IPv4 address or an IPv6 /64 (one household, one
 * office, one school behind its NAT). Each source may hold so many open connections, so many
 * participants (joined or waiting), open so many rooms a minute and guess so many passwords;
 * each room may be guessed at so often, whatever the sources; and the last dataplane slots of a
 * worker are kept for sources that hold none yet. The caps come from [limits]. Event loop only.
 */
#ifndef CP_LIMITS_H
#define CP_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cp_limits_conf {
	unsigned conns_per_source; /* open TCP connections (HTTP and WebSocket) */
	unsigned conns_max;	   /* all connections; 0: set from the descriptor limit */
	unsigned ws_per_source;	   /* of those, signalling (WebSocket) connections */
	unsigned parts_per_source; /* participants joined or waiting, node-wide */
	unsigned rooms_per_source; /* rooms opened per minute */
	unsigned lobby_per_source; /* waiting places in one lobby */
	unsigned lobby_reserve;	   /* a lobby's last places: for sources with none waiting */
	unsigned slot_reserve;	   /* a worker's last slots: for sources with none */
	unsigned join_timeout;	   /* s: a signalling connection joins within this or is closed */
	unsigned media_timeout;	   /* s: a participant has media up within this of joining */
	unsigned lobby_timeout;	   /* s: the longest wait in a lobby */
	unsigned resume_timeout;   /* s: after a control-plane restart, participants still in the
				    * dataplane resume within this or leave */
	unsigned renegotiations;   /* renegotiations a participant is asked for in a row while its
				    * offers bring nothing new, then it is asked no more */
	unsigned pw_per_source;	   /* wrong passwords per source per minute */
	unsigned pw_per_room;	   /* wrong passwords per room per 10 minutes */
};

/* The defaults: a real meeting never meets them (a school class of 33 behind one address
 * joins; so do several). */
extern const struct cp_limits_conf cp_limits_defaults;

/* One [limits] key: 0, or -1 with the reason (unknown key, or the allowed range). */
int cp_limits_set(struct cp_limits_conf *c, const char *key, const char *val, char *err,
		  size_t elen);
/* Takes the caps in force; conns_max 0 is set from the descriptor limit here. */
void cp_limits_init(const struct cp_limits_conf *c, unsigned fd_limit);
void cp_limits_fini(void);
const struct cp_limits_conf *cp_limits(void);
/* The i-th [limits] key and, in *value, its value in force; NULL past the last. */
const char *cp_limits_key(unsigned i, unsigned *value);
/* Forgets what a minute or ten no longer needs; call about once a second. */
void cp_limits_tick(uint64_t now_ms);

struct cp_source;

/* ---- connections (cp_server) ---- */

/* Whether one more connection from sa may be accepted; counts the refusal when not. */
bool cp_limits_conn_allowed(const struct sockaddr *sa, socklen_t len);
/* Counts an accepted connection; its source (NULL when the address cannot be read). */
struct cp_source *cp_limits_conn_open(const struct sockaddr *sa, socklen_t len);
void cp_limits_conn_close(struct cp_source *s);
/* A connection of s became a signalling one: false (and not counted) past its share. */
bool cp_limits_ws_open(struct cp_source *s);
void cp_limits_ws_close(struct cp_source *s);
unsigned cp_limits_conns(void);

/* ---- participants (cp_room); a NULL source is never limited ---- */

bool cp_limits_part_allowed(const struct cp_source *s);
/* The source's key: IPv4 as ::ffff:a.b.c.d, IPv6 as its /64 and zeros (sources come and go;
 * the key stays the same for the same address). */
void cp_limits_source_key(const struct cp_source *s, uint8_t key[16]);
void cp_limits_part_add(struct cp_source *s);
void cp_limits_part_del(struct cp_source *s);
bool cp_limits_room_allowed(struct cp_source *s, uint64_t now_ms);
void cp_limits_room_opened(struct cp_source *s, uint64_t now_ms);
/* Whether a join from s may take one of a worker's free slots, in a worker with free of its
 * slots left, from a tenant that holds tenant_used of used; the reserve goes only to sources
 * holding no participant, of tenants that hold no more than their share. */
bool cp_limits_slot_allowed(const struct cp_source *s, unsigned free, unsigned used,
			    unsigned tenant_used, unsigned tenants);
/* Whether one more from s may wait in a lobby with cap places, waiting of them taken,
 * mine by s. */
bool cp_limits_lobby_allowed(unsigned cap, unsigned waiting, unsigned mine);

/* ---- wrong passwords ---- */

/* Whether passwords from s, or for the room (tenant, room key), are not checked now. */
bool cp_limits_pw_blocked(struct cp_source *s, const char *tenant, const char *room,
			  uint64_t now_ms);
/* Counts a wrong password; true when this one blocks the source or the room (first time). */
bool cp_limits_pw_failed(struct cp_source *s, const char *tenant, const char *room,
			 uint64_t now_ms);

/* ---- a token bucket (signalling messages per connection) ---- */

struct cp_bucket {
	double tokens;
	uint64_t ms;
};
void cp_bucket_init(struct cp_bucket *b, unsigned rate, uint64_t now_ms);
bool cp_bucket_take(struct cp_bucket *b, unsigned rate, uint64_t now_ms);

/* Refusals by reason, for /metrics. */
#define CP_FOREACH_REFUSAL(_)                                                                 \
	_(conn_source, "connections refused: the source holds its share")                     \
	_(conn_total, "connections refused: the server holds as many as it takes")            \
	_(ws_source, "signalling connections refused: the source holds its share")            \
	_(parts_source, "joins refused: the source holds its share of participants")          \
	_(rooms_source, "joins refused: the source opened its share of rooms this minute")    \
	_(lobby_source, "lobby places refused: the source holds its share of the lobby")      \
	_(slot_reserve, "joins refused: only the worker's reserve was left, kept for others") \
	_(pw_source, "password checks refused: the source guessed too often")                 \
	_(pw_room, "password checks refused: the room was guessed at too often")              \
	_(pw_queue, "password checks refused: the hashing queue was full")                    \
	_(join_timeout, "signalling connections closed: no join in time")                     \
	_(media_timeout, "participants removed: no media in time after joining")              \
	_(lobby_timeout, "participants sent away: waited too long in a lobby")                \
	_(renegotiation, "participants no longer asked to renegotiate: too many rounds")      \
	_(rate_limited, "signalling messages refused: the connection sent too many")

#define CP_REFUSAL_ENUM(n, h) CP_REFUSE_##n,
enum cp_refusal { CP_FOREACH_REFUSAL(CP_REFUSAL_ENUM) CP_REFUSE_MAX };
extern const char *const cp_refusal_names[CP_REFUSE_MAX];
extern const char *const cp_refusal_help[CP_REFUSE_MAX];
void cp_limits_count(enum cp_refusal r);
uint64_t cp_limits_refused(enum cp_refusal r);
/* The sources known now (for /metrics). */
unsigned cp_limits_sources(void);

#endif
