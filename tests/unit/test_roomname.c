/* Unit tests of cp_roomname: room names as people type them come to one name to show and one
 * key, whatever the case, normalisation form, spacing or invisible characters; what would
 * break a link, read differently from what it is, or is not UTF-8 is refused. */
#include <stdlib.h>
#include <string.h>

#include "cp_roomname.h"
#include "cp_sig.h"
#include "fh_test.h"

static char name[CP_ROOM_BYTES + 1], key[CP_ROOM_BYTES + 1];

static bool canon(const char *s)
{
	name[0] = key[0] = '\0';
	return cp_roomname_canon(s, strlen(s), name, key);
}

/* Whether a and b are valid and one room. */
static bool same(const char *a, const char *b)
{
	char ka[CP_ROOM_BYTES + 1];

	if (!canon(a))
		return false;
	memcpy(ka, key, sizeof(ka));
	return canon(b) && !strcmp(ka, key);
}

static void ascii_as_before(void)
{
	/* the names of before keep their keys (and so their records): lower-cased */
	CHECK(canon("KulturvereinMarion"));
	CHECK(!strcmp(name, "KulturvereinMarion"));
	CHECK(!strcmp(key, "kulturvereinmarion"));
	CHECK(canon("Rastatt-schnatzt_2"));
	CHECK(!strcmp(key, "rastatt-schnatzt_2"));
	/* a generated name is its own key */
	CHECK(canon("abcdefghijklmnopqrstuvwx27"));
	CHECK(!strcmp(key, "abcdefghijklmnopqrstuvwx27"));
}

static void as_people_type_them(void)
{
	CHECK(canon("B\xc3\xbcrgersprechstunde")); /* Bürgersprechstunde, NFC */
	CHECK(!strcmp(name, "B\xc3\xbcrgersprechstunde"));
	CHECK(!strcmp(key, "b\xc3\xbcrgersprechstunde"));
	/* the same in NFD (u + U+0308, as macOS file names come): shown and keyed in NFC */
	CHECK(canon("Bu\xcc\x88rgersprechstunde"));
	CHECK(!strcmp(name, "B\xc3\xbcrgersprechstunde"));
	CHECK(!strcmp(key, "b\xc3\xbcrgersprechstunde"));
	CHECK(same("B\xc3\xbcrgersprechstunde", "B\xc3\x9cRGERSPRECHSTUNDE")); /* ä/Ä */
	CHECK(same("\xc3\xa4", "\xc3\x84"));
	/* ß folds to ss, and its capital too */
	CHECK(same("Stra\xc3\x9f"
		   "e",
		   "STRASSE"));
	CHECK(same("Stra\xc3\x9f"
		   "e",
		   "STRA\xe1\xba\x9e"
		   "E"));
	/* spaces: collapsed, trimmed, every kind one */
	CHECK(!canon("Elternabend\t4b")); /* a tab is a control character */
	CHECK(canon("  Elternabend   4b "));
	CHECK(!strcmp(name, "Elternabend 4b"));
	CHECK(same("Elternabend 4b", "elternabend\xc2\xa0"
				     "4B")); /* no-break space */
	CHECK(same("Elternabend 4b", "Elternabend\xe3\x80\x80"
				     "4b")); /* ideographic space */
	CHECK(!same("Elternabend 4b", "Elternabend4b"));
	/* punctuation a person uses, the en dash included */
	CHECK(canon("Rat \xe2\x80\x93 Sitzung 12.3."));
	CHECK(!strcmp(name, "Rat \xe2\x80\x93 Sitzung 12.3."));
	CHECK(canon("Caf\xc3\xa9 & Kuchen (Mo!)"));
	CHECK(canon("\xd0\x93\xd0\xbe\xd1\x80\xd0\xbe\xd0\xb4")); /* Cyrillic */
	CHECK(same("\xd0\x93\xd0\xbe\xd1\x80\xd0\xbe\xd0\xb4",
		   "\xd0\xb3\xd0\xbe\xd1\x80\xd0\xbe\xd0\xb4"));
	CHECK(canon("\xe4\xbc\x9a\xe8\xad\xb0"));	  /* 会議 */
	CHECK(canon("\xd9\x85\xd8\xac\xd9\x84\xd8\xb3")); /* Arabic, right to left itself */
	/* compatibility forms are one room with their plain ones: fullwidth, ligatures */
	CHECK(same("Rat", "\xef\xbc\xb2\xef\xbd\x81\xef\xbd\x94"));
	CHECK(same("office", "o\xef\xac\x83"
			     "ce"));
}

static void invisible(void)
{
	/* zero-width space, joiners, soft hyphen, word joiner, BOM: taken out, one room, and the
	 * name shown (and linked) has none of them */
	CHECK(same("Rathaus", "Rat\xe2\x80\x8bhaus"));
	CHECK(!strcmp(name, "Rathaus"));
	CHECK(same("Rathaus", "Rat\xc2\xad"
			      "haus"));
	CHECK(same("Rathaus", "Rat\xe2\x80\x8c\xe2\x80\x8dhaus"));
	CHECK(same("Rathaus", "\xef\xbb\xbfRathaus\xe2\x81\xa0"));
	CHECK(same("Rathaus", "Rathaus\xef\xb8\x8f")); /* variation selector */
	/* a name of nothing visible is none */
	CHECK(!canon("\xe2\x80\x8b"));
	CHECK(!canon("   "));
	CHECK(!canon("\xc2\xad\xe2\x80\x8b "));
	/* bidirectional controls make a name read as another: refused */
	CHECK(!canon("Rathaus\xe2\x80\xae"));		  /* RLO */
	CHECK(!canon("\xe2\x80\x8fRathaus"));		  /* RLM */
	CHECK(!canon("Rat\xe2\x81\xa6haus\xe2\x81\xa9")); /* LRI ... PDI */
	CHECK(!canon("Rat\xd8\x9chaus"));		  /* ALM */
}

static void refused(void)
{
	CHECK(!canon(""));
	CHECK(!canon("a\nb"));
	CHECK(!canon("a\x7f"));
	CHECK(!canon("a\xc2\x85")); /* C1 next line */
	CHECK(!canon("a\xe2\x80\xa8"
		     "b"));		/* line separator */
	CHECK(!canon("a\xee\x80\x80")); /* private use */
	CHECK(!canon("a\xef\xb7\x90")); /* noncharacter U+FDD0 */
	CHECK(!canon("a/b"));
	CHECK(!canon("a\\b"));
	CHECK(!canon("a?b"));
	CHECK(!canon("a#b"));
	CHECK(!canon("a%20b"));
	CHECK(!canon("a\xef\xbc\x8f"
		     "b"));   /* fullwidth solidus: its key would hold a '/' */
	CHECK(!canon("...")); /* no letter or digit */
	CHECK(!canon("!?"));
	/* named like a file of the web client: its link would be a 404 */
	CHECK(!canon("app.js"));
	CHECK(!canon("Plan.PNG"));
	CHECK(!canon("Plan.\xef\xbc\xb0NG")); /* fullwidth P: its key is "plan.png" */
	CHECK(canon("Rat 12.3."));
	CHECK(canon("v1.2"));
	/* invalid UTF-8: a stray continuation byte, a cut sequence, an overlong '/', a
	 * surrogate, beyond U+10FFFF */
	CHECK(!canon("a\x80"));
	CHECK(!canon("a\xc3"));
	CHECK(!canon("a\xc0\xaf"));
	CHECK(!canon("a\xed\xa0\x80"));
	CHECK(!canon("a\xf4\x90\x80\x80"));
	const char nul[] = "a\0b";

	CHECK(!cp_roomname_canon(nul, 3, name, key));
}

static void lengths(void)
{
	char s[4 * CP_ROOM_IN_MAX];

	memset(s, 'a', CP_ROOM_MAX);
	s[CP_ROOM_MAX] = '\0';
	CHECK(canon(s));
	/* found by fuzz_sig: 47 characters shown, whose key (U+FDFA folds to 18) has 64 + 2;
	 * refused, so that every key is a name whose key is itself */
	CHECK(!canon("11111111111111111111111111111111111111111111\xe1\xba\x9e"
		     "E \xef\xb7\xba"));
	CHECK(canon("Sitzung \xef\xb7\xba"));
	s[CP_ROOM_MAX] = 'a';
	s[CP_ROOM_MAX + 1] = '\0';
	CHECK(!canon(s)); /* 65 characters */
	/* 64 characters, 63 of them of 4 bytes */
	s[0] = '\0';
	for (int i = 0; i < CP_ROOM_MAX; i++)
		strcat(s, "\xf0\x9f\x98\x80" /* U+1F600 */);
	memcpy(s, "a", 1); /* a letter among them: cut the first emoji to one 'a' */
	memmove(s + 1, s + 4, strlen(s + 4) + 1);
	CHECK(canon(s));
	/* spaces that collapse do not count */
	memset(s, ' ', 400);
	memcpy(s + 400, "Rat", 4);
	CHECK(canon(s));
	CHECK(!strcmp(name, "Rat"));
	/* but what comes is bounded in bytes before anything looks at it */
	memset(s, ' ', CP_ROOM_IN_MAX);
	memcpy(s + CP_ROOM_IN_MAX, "Rat", 4);
	CHECK(!canon(s));
	/* 64 characters whose key is longer than CP_ROOM_BYTES: U+FDFA folds to 18 */
	s[0] = 'a';
	s[1] = '\0';
	for (int i = 0; i < 20; i++)
		strcat(s, "\xef\xb7\xba");
	CHECK(!canon(s));
}

/* The key of a key is itself, and of a name shown the key of the name as typed: a link made
 * from either comes to the same room. */
static void stable(void)
{
	static const char *const names[] = {
		"B\xc3\xbcrgersprechstunde",
		"Bu\xcc\x88rgersprechstunde",
		"Stra\xc3\x9f"
		"e",
		"Rat \xe2\x80\x93 Sitzung 12.3.",
		"  Elternabend \xc2\xa0 4b ",
		"o\xef\xac\x83"
		"ce",
		"\xc2\xa8"
		"a",
		"a \xc2\xa8",
		"\xe2\x84\xab",
		"\xc7\x85"
		"ungla",
		"\xe1\xba\x9e",
		"\xef\xb7\xba",
		"\xce\x90\xcd\x85",
		"I\xcc\x87stanbul",
	};
	char k1[CP_ROOM_BYTES + 1], n1[CP_ROOM_BYTES + 1];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CHECK(canon(names[i]));
		memcpy(k1, key, sizeof(k1));
		memcpy(n1, name, sizeof(n1));
		CHECK(canon(k1));
		CHECK(!strcmp(key, k1));
		CHECK(canon(n1));
		CHECK(!strcmp(key, k1));
		CHECK(!strcmp(name, n1));
	}
}

static void in_signalling(void)
{
	struct cp_sig_msg m;
	const char *j = "{\"type\":\"join\",\"room\":\" Bu\\u0308rger\\u200bsprechstunde \","
			"\"name\":\"Anna\"}";

	CHECK_EQ(cp_sig_parse(j, strlen(j), &m), CP_ERR_OK);
	CHECK(!strcmp(m.room, "B\xc3\xbcrgersprechstunde"));
	cp_sig_msg_free(&m);
	j = "{\"type\":\"join\",\"room\":\"Rat\\u202e\",\"name\":\"Anna\"}";
	CHECK_EQ(cp_sig_parse(j, strlen(j), &m), CP_ERR_BAD_ROOM);
	cp_sig_msg_free(&m);
	j = "{\"type\":\"join\",\"room\":\"a\\u0001\",\"name\":\"Anna\"}";
	CHECK_EQ(cp_sig_parse(j, strlen(j), &m), CP_ERR_BAD_ROOM);
	cp_sig_msg_free(&m);
	j = "{\"type\":\"resume\",\"id\":\"0123456789abcdef\",\"secret\":\"x\",\"room\":\"Rat "
	    "\\u2013 Sitzung\",\"name\":\"Anna\"}";
	CHECK_EQ(cp_sig_parse(j, strlen(j), &m), CP_ERR_OK);
	CHECK(!strcmp(m.room, "Rat \xe2\x80\x93 Sitzung"));
	cp_sig_msg_free(&m);
}

TEST_MAIN(ascii_as_before, as_people_type_them, invisible, refused, lengths, stable, in_signalling)
