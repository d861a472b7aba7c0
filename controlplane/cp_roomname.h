/*
 * cp_roomname: room names as people type them ("Bürgersprechstunde", "Elternabend 4b",
 * "Rat – Sitzung 12.3."), checked and brought to two forms: the name to show and put in links
 * (NFC, whitespace collapsed to single spaces and trimmed, invisible format characters taken
 * out), and the key rooms are looked up by (that name in NFKC with Unicode case folding, so
 * "BÜRGER", "bürger" in NFC and in NFD, and "Straße"/"STRASSE" are one room). Pure functions
 * over ICU's normalisation tables: the signalling parser, the HTTP server, the admin API and the
 * unit tests and fuzzer call them on any thread.
 */
#ifndef CP_ROOMNAME_H
#define CP_ROOMNAME_H

#include <stdbool.h>
#include <stddef.h>

#define CP_ROOM_MAX 64	   /* characters (code points) of the name shown */
#define CP_ROOM_BYTES 256  /* bytes of UTF-8, of the name shown and of its key */
#define CP_ROOM_IN_MAX 512 /* bytes of a name as it comes, before it is tidied */

/* Checks the len bytes at in as a room name. true with name (the form to show, NUL-terminated)
 * and key (the lookup form) filled, either may be NULL; false when it is not valid UTF-8, holds
 * a control, bidirectional control, private-use, unassigned or line-separator character or one
 * of / \ ? # %, has no letter or digit, ends like a file of the web client (see below), or
 * is longer than CP_ROOM_MAX characters or CP_ROOM_BYTES bytes (as shown or as key). */
bool cp_roomname_canon(const char *in, size_t len, char name[CP_ROOM_BYTES + 1],
		       char key[CP_ROOM_BYTES + 1]);

/* Whether the last segment of s ends in an extension of the files a page loads (".js",
 * ".css", ".png", ...; any case): the web server answers a missing one with a real 404, so no
 * room may be named like that. */
bool cp_roomname_file_like(const char *s);

#endif
