/*
 * cp_sig: parsing and validation of signalling messages against parameter tables, plus the
 * error-code table. Runs on the control plane's event loop for each WebSocket message.
 */
#include "cp_sig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CP_ERR_MSG(n, c, m) \
	case CP_ERR_##n:    \
		return m;

const char *cp_err_message(enum cp_err e)
{
	switch (e) {
		CP_FOREACH_ERR(CP_ERR_MSG)
	}
	return "unknown error";
}

enum ptype { P_STRING, P_BOOL, P_UINT, P_ARRAY, P_OBJECT_OR_NULL };

struct cp_param {
	const char *name;
	enum ptype type;
	bool required;
	size_t max_len; /* strings: bytes; P_UINT: largest value; P_ARRAY: elements */
};

struct cp_msg_spec {
	const char *type;
	enum cp_msg_type id;
	const struct cp_param *params;
};

static const struct cp_param join_params[] = {
	{"room", P_STRING, false, CP_ROOM_IN_MAX}, /* none: open a new room with a token */
	{"name", P_STRING, true, CP_NAME_MAX * 4},
	{"token", P_STRING, false, CP_SIG_TOKEN_MAX},
	{"password", P_STRING, false, CP_PASSWORD_MAX},
	{"video", P_UINT, false, CP_VIDEO_SLOTS_MAX},
	{"hop", P_UINT, false, 8}, /* redirects this join has followed (cp_cluster) */
	{NULL},
};
static const struct cp_param offer_params[] = {
	{"sdp", P_STRING, true, CP_SIG_MAX_MSG},
	{"screen", P_STRING, false, 16},
	{NULL},
};
static const struct cp_param constraints_params[] = {
	{"stage", P_OBJECT_OR_NULL, false, 0},
	{"tiles", P_ARRAY, false, 256},
	{"max", P_UINT, false, 1000},
	{NULL},
};
static const struct cp_param chat_params[] = {
	{"text", P_STRING, true, CP_CHAT_MAX * 4},
	{NULL},
};
static const struct cp_param mute_params[] = {
	{"audio", P_BOOL, false, 0},
	{"video", P_BOOL, false, 0},
	{NULL},
};
static const struct cp_param moderate_params[] = {
	{"action", P_STRING, true, 16},
	{"id", P_STRING, false, 16},
	{"password", P_STRING, false, CP_PASSWORD_MAX},
	{"on", P_BOOL, false, 0},
	{NULL},
};
static const struct cp_param resume_params[] = {
	{"id", P_STRING, true, 16},
	{"secret", P_STRING, true, 64},
	{"room", P_STRING, true, CP_ROOM_IN_MAX},
	{"name", P_STRING, true, CP_NAME_MAX * 4},
	{NULL},
};
static const struct cp_param hand_params[] = {
	{"raised", P_BOOL, true, 0},
	{NULL},
};
static const struct cp_param no_params[] = {{NULL}};

static const struct cp_msg_spec specs[] = {
	{"join", CP_MSG_JOIN, join_params},
	{"offer", CP_MSG_OFFER, offer_params},
	{"chat", CP_MSG_CHAT, chat_params},
	{"mute", CP_MSG_MUTE, mute_params},
	{"leave", CP_MSG_LEAVE, no_params},
	{"ping", CP_MSG_PING, no_params},
	{"moderate", CP_MSG_MODERATE, moderate_params},
	{"resume", CP_MSG_RESUME, resume_params},
	{"constraints", CP_MSG_CONSTRAINTS, constraints_params},
	{"hand", CP_MSG_HAND, hand_params},
};

/* One code point from well-formed UTF-8 (shortest form, no surrogates, at most U+10FFFF);
 * its length, or 0 when the bytes are not that. */
static int utf8_next(const unsigned char *p, uint32_t *cp)
{
	int len = *p < 0x80	    ? 1
		  : (*p >> 5) == 6  ? 2
		  : (*p >> 4) == 14 ? 3
		  : (*p >> 3) == 30 ? 4
				    : 0;
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	uint32_t c;

	if (!len)
		return 0;
	c = len == 1 ? *p : (uint32_t)(*p & (0x7f >> len));
	for (int i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Characters no name may hold: C0 and C1 controls, and the bidirectional overrides, embeddings,
 * isolates and marks that make a name read differently from what it is (U+202E turns
 * "Anna" into a name that shows as someone else's). */
static bool name_forbidden(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* Characters that show nothing, or only space: a name made of these alone is nobody's. */
static bool name_invisible(uint32_t c)
{
	return c == 0x20 || c == 0xa0 || c == 0xad || c == 0x034f || c == 0x115f || c == 0x1160 ||
	       c == 0x17b4 || c == 0x17b5 || c == 0x180e || (c >= 0x2000 && c <= 0x200d) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202f || (c >= 0x205f && c <= 0x2064) ||
	       c == 0x2800 || c == 0x3000 || c == 0x3164 || (c >= 0xfe00 && c <= 0xfe0f) ||
	       c == 0xfeff || c == 0xffa0 || (c >= 0xe0000 && c <= 0xe0fff);
}

/* Code points in s, with *ok false when s is not well-formed UTF-8 or holds a control
 * character (C0 but a line break, C1) or, with names set, a character name_forbidden()
 * refuses; *visible tells whether any character would show. */
static size_t utf8_chars(const char *s, bool names, bool *ok, bool *visible)
{
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)s;

	*ok = true;
	*visible = false;
	while (*p) {
		uint32_t c;
		int len = utf8_next(p, &c);

		if (!len || (names ? name_forbidden(c)
				   : (c < 0x20 && c != '\n') || (c >= 0x7f && c <= 0x9f))) {
			*ok = false;
			return n;
		}
		if (!name_invisible(c))
			*visible = true;
		p += len;
		n++;
	}
	return n;
}

bool cp_sig_valid_room(const char *s)
{
	return cp_roomname_canon(s, strlen(s), NULL, NULL);
}

/* m->room, when given, as the name cp_roomname shows (kept in m->room_buf). */
static enum cp_err tidy_room(struct cp_sig_msg *m)
{
	if (!m->room)
		return CP_ERR_OK;
	if (!cp_roomname_canon(m->room, strlen(m->room), m->room_buf, NULL))
		return CP_ERR_BAD_ROOM;
	m->room = m->room_buf;
	return CP_ERR_OK;
}

bool cp_sig_valid_name(const char *s)
{
	bool ok, visible;
	size_t n = utf8_chars(s, true, &ok, &visible);

	return ok && visible && n <= CP_NAME_MAX;
}

static enum cp_err check_params(json_t *root, const struct cp_param *params)
{
	for (const struct cp_param *p = params; p->name; p++) {
		json_t *v = json_object_get(root, p->name);

		if (!v) {
			if (p->required)
				return CP_ERR_MISSING_FIELD;
			continue;
		}
		if (p->type == P_STRING) {
			if (!json_is_string(v) || json_string_length(v) > p->max_len ||
			    strlen(json_string_value(v)) != json_string_length(v))
				return CP_ERR_BAD_FIELD;
		} else if (p->type == P_BOOL && !json_is_boolean(v)) {
			return CP_ERR_BAD_FIELD;
		} else if (p->type == P_UINT && (!json_is_integer(v) || json_integer_value(v) < 0 ||
						 (json_int_t)p->max_len < json_integer_value(v))) {
			return CP_ERR_BAD_FIELD;
		} else if (p->type == P_ARRAY &&
			   (!json_is_array(v) || json_array_size(v) > p->max_len)) {
			return CP_ERR_BAD_FIELD;
		} else if (p->type == P_OBJECT_OR_NULL && !json_is_object(v) && !json_is_null(v)) {
			return CP_ERR_BAD_FIELD;
		}
	}
	return CP_ERR_OK;
}

enum cp_err cp_sig_parse(const char *buf, size_t len, struct cp_sig_msg *m)
{
	json_error_t jerr;
	const struct cp_msg_spec *spec = NULL;
	enum cp_err e;

	memset(m, 0, sizeof(*m));
	m->audio_muted = m->video_muted = m->on = m->video_slots = -1;
	if (len > CP_SIG_MAX_MSG)
		return CP_ERR_TOO_LARGE;
	m->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!m->root || !json_is_object(m->root))
		return CP_ERR_BAD_JSON;
	json_t *t = json_object_get(m->root, "type");

	if (!t)
		return CP_ERR_MISSING_FIELD;
	if (!json_is_string(t))
		return CP_ERR_BAD_FIELD;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (!strcmp(json_string_value(t), specs[i].type))
			spec = &specs[i];
	if (!spec)
		return CP_ERR_UNKNOWN_TYPE;
	e = check_params(m->root, spec->params);
	if (e != CP_ERR_OK)
		return e;
	m->type = spec->id;
	switch (m->type) {
	case CP_MSG_JOIN:
		m->room = json_string_value(json_object_get(m->root, "room"));
		m->name = json_string_value(json_object_get(m->root, "name"));
		m->token = json_string_value(json_object_get(m->root, "token"));
		m->password = json_string_value(json_object_get(m->root, "password"));
		if (!m->room && !m->token)
			return CP_ERR_MISSING_FIELD;
		if (tidy_room(m) != CP_ERR_OK)
			return CP_ERR_BAD_ROOM;
		if (!cp_sig_valid_name(m->name))
			return CP_ERR_BAD_NAME;
		m->video_slots =
			json_object_get(m->root, "video")
				? (int)json_integer_value(json_object_get(m->root, "video"))
				: -1;
		m->hop = (int)json_integer_value(json_object_get(m->root, "hop"));
		break;
	case CP_MSG_MODERATE: {
		static const char *const names[] = {"mute",	"remove",   "end",    "promote",
						    "one-time", "password", "admit",  "deny",
						    "lobby",	"lower",    "demote", "screen"};
		const char *a = json_string_value(json_object_get(m->root, "action"));
		json_t *on = json_object_get(m->root, "on");
		int found = -1;

		for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
			if (!strcmp(a, names[i]))
				found = i;
		if (found < 0)
			return CP_ERR_BAD_FIELD;
		m->action = (enum cp_mod_action)found;
		m->target = json_string_value(json_object_get(m->root, "id"));
		m->password = json_string_value(json_object_get(m->root, "password"));
		m->on = on ? json_is_true(on) : -1;
		switch (m->action) {
		case CP_MOD_PASSWORD:
			if (!m->password)
				return CP_ERR_MISSING_FIELD;
			break;
		case CP_MOD_LOBBY:
		case CP_MOD_SCREEN:
			if (m->on < 0)
				return CP_ERR_MISSING_FIELD;
			break;
		case CP_MOD_END:
		case CP_MOD_ONE_TIME:
		case CP_MOD_LOWER: /* without id: every hand */
			break;
		default:
			if (!m->target)
				return CP_ERR_MISSING_FIELD;
		}
		break;
	}
	case CP_MSG_RESUME:
		m->target = json_string_value(json_object_get(m->root, "id"));
		m->secret = json_string_value(json_object_get(m->root, "secret"));
		m->room = json_string_value(json_object_get(m->root, "room"));
		m->name = json_string_value(json_object_get(m->root, "name"));
		if (tidy_room(m) != CP_ERR_OK)
			return CP_ERR_BAD_ROOM;
		if (!cp_sig_valid_name(m->name))
			return CP_ERR_BAD_NAME;
		break;
	case CP_MSG_HAND:
		m->raised = json_is_true(json_object_get(m->root, "raised"));
		break;
	case CP_MSG_OFFER:
		m->sdp = json_string_value(json_object_get(m->root, "sdp"));
		m->sdp_len = json_string_length(json_object_get(m->root, "sdp"));
		m->screen = json_string_value(json_object_get(m->root, "screen"));
		break;
	case CP_MSG_CHAT: {
		bool ok, visible;
		size_t n;

		m->text = json_string_value(json_object_get(m->root, "text"));
		/* chat may carry line breaks; other control characters are refused */
		n = utf8_chars(m->text, false, &ok, &visible);
		if (!ok || !visible || n > CP_CHAT_MAX)
			return CP_ERR_BAD_FIELD;
		break;
	}
	case CP_MSG_MUTE: {
		json_t *a = json_object_get(m->root, "audio");
		json_t *v = json_object_get(m->root, "video");

		if (!a && !v)
			return CP_ERR_MISSING_FIELD;
		if (a)
			m->audio_muted = json_is_true(a);
		if (v)
			m->video_muted = json_is_true(v);
		break;
	}
	default:
		break;
	}
	return CP_ERR_OK;
}

void cp_sig_msg_free(struct cp_sig_msg *m)
{
	if (m->root)
		json_decref(m->root);
	m->root = NULL;
}

char *cp_sig_error_json(enum cp_err e)
{
	json_t *o = json_pack("{s:s, s:i, s:s}", "type", "error", "code", (int)e, "message",
			      cp_err_message(e));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}
