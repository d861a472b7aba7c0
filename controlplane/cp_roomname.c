/*
 * cp_roomname: checks a room name and gives its form to show and its lookup key (see the
 * header). ICU does the Unicode: its character properties, NFC, and NFKC_Casefold, the
 * normalisation Unicode defines for caseless identifiers (UAX #31, UTS #46), which folds case
 * and compatibility variants and takes out default-ignorable characters. Pure; any thread.
 *
 * What is decided here, and why (docs/PROTOCOL.md says it to clients):
 *  - controls, bidirectional controls (they make a name read as another), private-use and
 *    unassigned code points (their normalisation may change with Unicode), line and
 *    paragraph separators and the characters that would break a link's path (/ \ ? # %) are
 *    refused;
 *  - other invisible characters (zero-width space and joiners, soft hyphen, word joiner,
 *    variation selectors, other format characters) are taken out of the name, so names that
 *    differ only in them are one room, and the link shows none of them;
 *  - every kind of space becomes one ASCII space, runs of them one, none at the ends;
 *  - a name that ends like a file of the web client ("x.js", "Plan.PNG") is refused: the
 *    web server answers a link to a missing file with 404, and every room needs a link;
 *  - a name needs a letter or a digit, and at most CP_ROOM_MAX characters and CP_ROOM_BYTES
 *    bytes of UTF-8, as shown and as key.
 */
#include "cp_roomname.h"

#include <string.h>
#include <strings.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

/* UTF-16 units: NFKC_Casefold may make up to 18 characters of one (U+FDFA) */
#define CP_ROOMNAME_U16 4096

enum kind { KEEP, SPACE, DROP, REFUSE };

static enum kind kind_of(UChar32 c)
{
	if (c == '/' || c == '\\' || c == '?' || c == '#' || c == '%' ||
	    u_hasBinaryProperty(c, UCHAR_BIDI_CONTROL))
		return REFUSE;
	switch (u_charType(c)) {
	case U_CONTROL_CHAR:
	case U_PRIVATE_USE_CHAR:
	case U_UNASSIGNED:
	case U_SURROGATE:
	case U_LINE_SEPARATOR:
	case U_PARAGRAPH_SEPARATOR:
		return REFUSE;
	case U_SPACE_SEPARATOR:
		return SPACE;
	case U_FORMAT_CHAR:
		return DROP;
	default:
		break;
	}
	if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT))
		return DROP;
	return u_isUWhiteSpace(c) ? SPACE : KEEP;
}

/* in (n units) with spaces collapsed and trimmed and invisible characters out, into out
 * (cap units); its length, or -1 when a character is refused or out is too small. */
static int32_t tidy(const UChar *in, int32_t n, UChar *out, int32_t cap)
{
	int32_t i = 0, o = 0;

	while (i < n) {
		UChar32 c;

		U16_NEXT(in, i, n, c);
		switch (kind_of(c)) {
		case REFUSE:
			return -1;
		case DROP:
			continue;
		case SPACE:
			if (o == 0 || out[o - 1] == ' ')
				continue;
			c = ' ';
			break;
		case KEEP:
			break;
		}
		if (o + U16_LENGTH(c) > cap)
			return -1;
		U16_APPEND_UNSAFE(out, o, c);
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	return o;
}

static bool has_alnum(const UChar *s, int32_t n)
{
	for (int32_t i = 0; i < n;) {
		UChar32 c;

		U16_NEXT(s, i, n, c);
		if (U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_N_MASK))
			return true;
	}
	return false;
}

/* s as NUL-terminated UTF-8 of at most CP_ROOM_BYTES bytes into out; false when longer. */
static bool to_utf8(const UChar *s, int32_t n, char out[CP_ROOM_BYTES + 1])
{
	UErrorCode err = U_ZERO_ERROR;
	int32_t len = 0;

	u_strToUTF8(out, CP_ROOM_BYTES + 1, &len, s, n, &err);
	return U_SUCCESS(err) && err != U_STRING_NOT_TERMINATED_WARNING && len <= CP_ROOM_BYTES;
}

/* The key of a tidied name: NFKC_Casefold, tidied again (it may make spaces or the fullwidth
 * solidus a '/'), until nothing changes. */
static int32_t fold(const UChar *name, int32_t n, UChar *key, int32_t cap)
{
	UErrorCode err = U_ZERO_ERROR;
	const UNormalizer2 *cf = unorm2_getNFKCCasefoldInstance(&err);
	UChar a[CP_ROOMNAME_U16], b[CP_ROOMNAME_U16];
	int32_t len = n;

	if (U_FAILURE(err) || n > CP_ROOMNAME_U16)
		return -1;
	memcpy(a, name, (size_t)n * sizeof(UChar));
	for (int round = 0; round < 4; round++) {
		int32_t m = unorm2_normalize(cf, a, len, b, CP_ROOMNAME_U16, &err);

		if (U_FAILURE(err) || (m = tidy(b, m, b, CP_ROOMNAME_U16)) < 0)
			return -1;
		if (m == len && !memcmp(a, b, (size_t)m * sizeof(UChar))) {
			if (m > cap)
				return -1;
			memcpy(key, a, (size_t)m * sizeof(UChar));
			return m;
		}
		memcpy(a, b, (size_t)m * sizeof(UChar));
		len = m;
	}
	return -1; /* no fixed point: no known string does this, but a name is refused then */
}

bool cp_roomname_file_like(const char *s)
{
	static const char *const ext[] = {"js",	  "mjs",  "css",  "png",  "ico",   "svg",
					  "json", "html", "htm",  "map",  "txt",   "jpg",
					  "jpeg", "gif",  "webp", "woff", "woff2", "webmanifest"};
	const char *slash = strrchr(s, '/'), *dot = strrchr(s, '.');

	if (!dot || (slash && dot < slash))
		return false;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (!strcasecmp(dot + 1, ext[i]))
			return true;
	return false;
}

bool cp_roomname_canon(const char *in, size_t len, char name[CP_ROOM_BYTES + 1],
		       char key[CP_ROOM_BYTES + 1])
{
	UChar raw[CP_ROOM_IN_MAX], t[CP_ROOM_IN_MAX], nfc[CP_ROOMNAME_U16], k[CP_ROOMNAME_U16];
	UErrorCode err = U_ZERO_ERROR;
	const UNormalizer2 *nf = unorm2_getNFCInstance(&err);
	int32_t n = 0;
	char scratch[CP_ROOM_BYTES + 1];

	if (U_FAILURE(err) || !in || len == 0 || len > CP_ROOM_IN_MAX)
		return false;
	/* strict: ill-formed UTF-8 (overlong forms, surrogates, stray bytes) is an error */
	u_strFromUTF8(raw, CP_ROOM_IN_MAX, &n, in, (int32_t)len, &err);
	if (U_FAILURE(err) || (n = tidy(raw, n, t, CP_ROOM_IN_MAX)) <= 0)
		return false;
	n = unorm2_normalize(nf, t, n, nfc, CP_ROOMNAME_U16, &err);
	if (U_FAILURE(err) || u_countChar32(nfc, n) > CP_ROOM_MAX || !has_alnum(nfc, n) ||
	    !to_utf8(nfc, n, name ? name : scratch))
		return false;
	if (cp_roomname_file_like(name ? name : scratch))
		return false;
	/* the key within the same limits, so that it is a name whose key is itself (U+FDFA is
	 * one character shown and 18 in the key) */
	n = fold(nfc, n, k, CP_ROOMNAME_U16);
	return n > 0 && u_countChar32(k, n) <= CP_ROOM_MAX && has_alnum(k, n) &&
	       to_utf8(k, n, key ? key : scratch) && !cp_roomname_file_like(key ? key : scratch);
}
