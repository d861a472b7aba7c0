/*
 * cp_sig: the signalling messages a web client sends, checked against declared parameter
 * tables before anything else looks at them. Pure: no sockets, no room state, so the unit
 * tests and the fuzzer drive it directly. The protocol is documented in docs/PROTOCOL.md.
 */
#ifndef CP_SIG_H
#define CP_SIG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cp_err.h"
#include "cp_roomname.h"

#define CP_SIG_MAX_MSG (256 * 1024)
#define CP_NAME_MAX 64
#define CP_CHAT_MAX 2000
#define CP_SIG_TOKEN_MAX 4096
#define CP_VIDEO_SLOTS_MAX 16 /* video a participant receives at once */

enum cp_msg_type {
	CP_MSG_JOIN,
	CP_MSG_OFFER,
	CP_MSG_CHAT,
	CP_MSG_MUTE,
	CP_MSG_LEAVE,
	CP_MSG_PING,
	CP_MSG_MODERATE,
	CP_MSG_RESUME,	    /* take a participant back after a control-plane restart */
	CP_MSG_CONSTRAINTS, /* what the page shows: its stage, tiles and how many videos */
	CP_MSG_HAND,	    /* raise or lower my hand */
};

enum cp_mod_action {
	CP_MOD_MUTE,
	CP_MOD_REMOVE,
	CP_MOD_END,
	CP_MOD_PROMOTE,
	CP_MOD_ONE_TIME,
	CP_MOD_PASSWORD,
	CP_MOD_ADMIT,  /* let one waiting in the lobby in */
	CP_MOD_DENY,   /* send one waiting in the lobby away */
	CP_MOD_LOBBY,  /* switch the room's lobby on or off */
	CP_MOD_LOWER,  /* lower someone's hand, or everyone's */
	CP_MOD_DEMOTE, /* take someone's moderator rights back */
	CP_MOD_SCREEN, /* screen sharing for moderators only (on) or everyone (off) */
};
#define CP_PASSWORD_MAX 128

struct cp_sig_msg {
	enum cp_msg_type type;
	const char *room;     /* join; NULL: open a new room (needs token) */
	const char *name;     /* join */
	const char *token;    /* join, optional: a signed token of the tenant */
	const char *password; /* join (the room's) and moderate "password" ("" clears it) */
	const char *sdp;      /* offer */
	size_t sdp_len;
	const char *text; /* chat */
	int audio_muted;  /* mute: -1 when not given */
	int video_muted;
	enum cp_mod_action action; /* moderate */
	const char *target;	   /* moderate: a participant id, NULL for "end"; resume: mine */
	const char *secret;	   /* resume: the secret "joined" gave */
	int on;			   /* moderate "lobby": 1 on, 0 off */
	int video_slots;	   /* join: video receive slots asked for, -1: the default */
	int hop;		   /* join: redirects it followed to get here (0-8) */
	const char *screen;	   /* offer: the mid of the m-line sharing a screen */
	int raised;		   /* hand: 1 raised, 0 lowered */
	json_t *root;		   /* owns the strings above */
	char room_buf[CP_ROOM_BYTES +
		      1]; /* join, resume: the room's name as cp_roomname shows it */
};

/* 0 (CP_ERR_OK) with m filled, or an error code; free with cp_sig_msg_free either way. */
enum cp_err cp_sig_parse(const char *buf, size_t len, struct cp_sig_msg *m);
void cp_sig_msg_free(struct cp_sig_msg *m);

/* Room names as cp_roomname_canon takes them (letters of any script, digits, spaces and
 * punctuation; 1-64 characters); looked up by their key. */
bool cp_sig_valid_room(const char *s);
/* Display names: 1-64 bytes of valid UTF-8 without control characters. */
bool cp_sig_valid_name(const char *s);

/* {"type":"error","code":N,"message":"..."} as a malloc'd string. */
char *cp_sig_error_json(enum cp_err e);

#endif
