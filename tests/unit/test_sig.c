/* Unit tests of cp_sig: the parameter tables accept what the web client sends and give
 * every kind of bad message its own error code. */
#include <stdlib.h>

#include "cp_sig.h"
#include "fh_test.h"

static enum cp_err parse(const char *s)
{
	struct cp_sig_msg m;
	enum cp_err e = cp_sig_parse(s, strlen(s), &m);

	cp_sig_msg_free(&m);
	return e;
}

static void accepted(void)
{
	struct cp_sig_msg m;
	const char *join =
		"{\"type\":\"join\",\"room\":\"KulturvereinMarion\",\"name\":\"Jürgen Ö\"}";

	CHECK_EQ(cp_sig_parse(join, strlen(join), &m), CP_ERR_OK);
	CHECK_EQ(m.type, CP_MSG_JOIN);
	CHECK(!strcmp(m.room, "KulturvereinMarion"));
	CHECK(!strcmp(m.name, "Jürgen Ö"));
	cp_sig_msg_free(&m);

	const char *mute = "{\"type\":\"mute\",\"audio\":true}";

	CHECK_EQ(cp_sig_parse(mute, strlen(mute), &m), CP_ERR_OK);
	CHECK(m.audio_muted == 1 && m.video_muted == -1);
	cp_sig_msg_free(&m);

	CHECK_EQ(parse("{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}"), CP_ERR_OK);
	CHECK_EQ(parse("{\"type\":\"chat\",\"text\":\"Hallo\\nzusammen\"}"), CP_ERR_OK);
	CHECK_EQ(parse("{\"type\":\"leave\"}"), CP_ERR_OK);
	CHECK_EQ(parse("{\"type\":\"ping\",\"extra\":1}"), CP_ERR_OK);
}

static void refused(void)
{
	CHECK_EQ(parse("not json"), CP_ERR_BAD_JSON);
	CHECK_EQ(parse("[1,2]"), CP_ERR_BAD_JSON);
	CHECK_EQ(parse("{\"type\":\"join\",\"type\":\"leave\"}"), CP_ERR_BAD_JSON); /* duplicate */
	CHECK_EQ(parse("{}"), CP_ERR_MISSING_FIELD);
	CHECK_EQ(parse("{\"type\":5}"), CP_ERR_BAD_FIELD);
	CHECK_EQ(parse("{\"type\":\"shutdown\"}"), CP_ERR_UNKNOWN_TYPE);
	CHECK_EQ(parse("{\"type\":\"join\",\"room\":\"a\"}"), CP_ERR_MISSING_FIELD);
	CHECK_EQ(parse("{\"type\":\"join\",\"room\":1,\"name\":\"x\"}"), CP_ERR_BAD_FIELD);
	CHECK_EQ(parse("{\"type\":\"join\",\"room\":\"../etc\",\"name\":\"x\"}"), CP_ERR_BAD_ROOM);
	CHECK_EQ(parse("{\"type\":\"join\",\"room\":\"\",\"name\":\"x\"}"), CP_ERR_BAD_ROOM);
	CHECK_EQ(parse("{\"type\":\"join\",\"room\":\"a\",\"name\":\"\\u0007bell\"}"),
		 CP_ERR_BAD_NAME);
	CHECK_EQ(parse("{\"type\":\"join\",\"room\":\"a\",\"name\":\"   \"}"), CP_ERR_BAD_NAME);
	CHECK_EQ(parse("{\"type\":\"join\",\"room\":\"a\",\"name\":\"a\\u0000b\"}"),
		 CP_ERR_BAD_JSON); /* embedded NUL */
	CHECK_EQ(parse("{\"type\":\"mute\"}"), CP_ERR_MISSING_FIELD);
	CHECK_EQ(parse("{\"type\":\"mute\",\"audio\":\"yes\"}"), CP_ERR_BAD_FIELD);
	CHECK_EQ(parse("{\"type\":\"chat\",\"text\":\"\"}"), CP_ERR_BAD_FIELD);
	CHECK_EQ(parse("{\"type\":\"chat\",\"text\":\"\\u001b[31m\"}"), CP_ERR_BAD_FIELD);
	/* join without a room needs a token; moderation needs a known action and, but for
	 * "end" and "one-time", a participant */
	CHECK_EQ(parse("{\"type\":\"join\",\"name\":\"x\"}"), CP_ERR_MISSING_FIELD);
	CHECK_EQ(parse("{\"type\":\"join\",\"name\":\"x\",\"token\":5}"), CP_ERR_BAD_FIELD);
	CHECK_EQ(parse("{\"type\":\"join\",\"name\":\"x\",\"token\":\"a.b.c\"}"), CP_ERR_OK);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"ban\",\"id\":\"1\"}"),
		 CP_ERR_BAD_FIELD);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"mute\"}"), CP_ERR_MISSING_FIELD);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"end\"}"), CP_ERR_OK);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"one-time\"}"), CP_ERR_OK);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"password\"}"), CP_ERR_MISSING_FIELD);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"password\",\"password\":\"\"}"),
		 CP_ERR_OK);
	CHECK_EQ(
		parse("{\"type\":\"moderate\",\"action\":\"remove\",\"id\":\"00000000000000001\"}"),
		CP_ERR_BAD_FIELD); /* ids have 16 digits */
	/* the lobby: admit and deny name one who waits, "lobby" says on or off */
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"admit\"}"), CP_ERR_MISSING_FIELD);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"deny\",\"id\":\"0123456789abcdef\"}"),
		 CP_ERR_OK);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"lobby\"}"), CP_ERR_MISSING_FIELD);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"lobby\",\"on\":\"yes\"}"),
		 CP_ERR_BAD_FIELD);
	CHECK_EQ(parse("{\"type\":\"moderate\",\"action\":\"lobby\",\"on\":false}"), CP_ERR_OK);

	/* length limits: 64 characters of name and room, 2000 of chat */
	char buf[16384];
	char name[300];

	memset(name, 'x', 65);
	name[65] = '\0';
	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"a\",\"name\":\"%s\"}", name);
	CHECK_EQ(parse(buf), CP_ERR_BAD_NAME);
	name[64] = '\0';
	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"a\",\"name\":\"%s\"}", name);
	CHECK_EQ(parse(buf), CP_ERR_OK);
	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"%sy\",\"name\":\"n\"}", name);
	CHECK_EQ(parse(buf), CP_ERR_BAD_ROOM); /* 65 characters */
	{
		char big[CP_ROOM_IN_MAX + 2];

		memset(big, ' ', sizeof(big) - 1);
		big[0] = 'a';
		big[sizeof(big) - 1] = '\0';
		snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"%s\",\"name\":\"n\"}",
			 big);
		CHECK_EQ(parse(buf), CP_ERR_BAD_FIELD); /* more bytes than a name may come with */
	}
	int n = snprintf(buf, sizeof(buf), "{\"type\":\"chat\",\"text\":\"");

	memset(buf + n, 'c', 2001);
	strcpy(buf + n + 2001, "\"}");
	CHECK_EQ(parse(buf), CP_ERR_BAD_FIELD);

	/* oversized messages are refused before parsing */
	size_t big = CP_SIG_MAX_MSG + 1;
	char *huge = malloc(big);
	struct cp_sig_msg m;

	memset(huge, ' ', big);
	CHECK_EQ(cp_sig_parse(huge, big, &m), CP_ERR_TOO_LARGE);
	cp_sig_msg_free(&m);
	free(huge);
}

static enum cp_err join_named(const char *json_name)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"a\",\"name\":\"%s\"}", json_name);
	return parse(buf);
}

/* Names that would mislead whoever reads the participant list, or show as nobody. */
static void names(void)
{
	CHECK_EQ(join_named("Zo\\u00eb \\u0130pek"), CP_ERR_OK);
	CHECK_EQ(join_named("\\u0627\\u0644\\u0639\\u0631\\u0628\\u064a\\u0629"), CP_ERR_OK);
	CHECK_EQ(join_named("\\u5f20\\u4f1f \\ud83d\\ude00"), CP_ERR_OK); /* and beyond U+FFFF */
	CHECK_EQ(join_named("Anna\\u200bLena"), CP_ERR_OK);  /* invisible, but not alone */
	CHECK_EQ(join_named("a\\u0085b"), CP_ERR_BAD_NAME);  /* C1: next line */
	CHECK_EQ(join_named("a\\u009b2J"), CP_ERR_BAD_NAME); /* C1: CSI */
	CHECK_EQ(join_named("\\u0080"), CP_ERR_BAD_NAME);
	CHECK_EQ(join_named("Anna\\u202emoc.exe"), CP_ERR_BAD_NAME); /* right-to-left override */
	CHECK_EQ(join_named("x\\u202ay"), CP_ERR_BAD_NAME);
	CHECK_EQ(join_named("x\\u2066y\\u2069"), CP_ERR_BAD_NAME); /* isolates */
	CHECK_EQ(join_named("x\\u200fy"), CP_ERR_BAD_NAME);	   /* right-to-left mark */
	CHECK_EQ(join_named("\\u200b"), CP_ERR_BAD_NAME);	   /* zero-width space only */
	CHECK_EQ(join_named("\\u200b\\u200c\\u200d\\u2060\\ufeff"), CP_ERR_BAD_NAME);
	CHECK_EQ(join_named("\\u3164\\u00a0\\u3000 "), CP_ERR_BAD_NAME); /* filler and spaces */
	CHECK_EQ(join_named("\\u00ad"), CP_ERR_BAD_NAME);		 /* soft hyphen */

	/* bytes that are not UTF-8 (jansson refuses most before we see them; these are
	 * our own check) */
	CHECK(!cp_sig_valid_name("\xc0\xaf"));	       /* overlong '/' */
	CHECK(!cp_sig_valid_name("\xed\xa0\x80"));     /* a surrogate */
	CHECK(!cp_sig_valid_name("\xf4\x90\x80\x80")); /* past U+10FFFF */
	CHECK(!cp_sig_valid_name("\xe2\x80"));	       /* cut short */
	CHECK(cp_sig_valid_name("J\xc3\xbcrgen"));

	/* chat: line breaks yes, C1 controls no */
	CHECK_EQ(parse("{\"type\":\"chat\",\"text\":\"a\\nb\"}"), CP_ERR_OK);
	CHECK_EQ(parse("{\"type\":\"chat\",\"text\":\"a\\u009b2J\"}"), CP_ERR_BAD_FIELD);
	CHECK_EQ(parse("{\"type\":\"chat\",\"text\":\"\\u200b\"}"), CP_ERR_BAD_FIELD);
}

static void error_json(void)
{
	char *s = cp_sig_error_json(CP_ERR_ROOM_FULL);

	CHECK_STR_CONTAINS(s, "\"code\":4010");
	CHECK_STR_CONTAINS(s, "\"type\":\"error\"");
	free(s);
	CHECK(cp_sig_valid_room("Rastatt-schnatzt_2"));
	CHECK(cp_sig_valid_room("Rastatt schnatzt!"));
	CHECK(!cp_sig_valid_room("Rastatt/schnatzt"));
}

TEST_MAIN(accepted, refused, names, error_json)
