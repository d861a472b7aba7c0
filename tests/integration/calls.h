/* calls: helpers to hold calls with fhc clients in integration tests (see calls.c). */
#ifndef CALLS_H
#define CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include "fhc.h"
#include "harness.h"

extern int failures;	 /* defined by the test */
extern struct harness h; /* defined by the test */

/* Writes text to dir/name; a file that cannot be written ends the test (exit 1). */
void put_file(const char *dir, const char *name, const char *text);

/* Joins a room with audio and video through the harness' control plane. */
struct fhc *join(const char *room, const char *name);
/* The same, with media to the SFU's candidate at address media. */
struct fhc *join_via(const char *room, const char *name, const char *media);
/* fhc_connect with o, its host, port, timeout, name and room filled in where o leaves them
 * out; NULL with the server's error code in *code (-1: none came). */
struct fhc *try_join_with(struct fhc_opts o, int *code);
/* Drives every client for ms milliseconds. */
void pump(struct fhc **cs, int n, int ms);
/* Sends n audio and n video packets "tag:i" from c, pumping everyone in between. */
void talk(struct fhc *c, const char *tag, int n, struct fhc **all, int n_all);
bool last_payload_is(struct fhc *c, const char *from, bool video, const char *want);
uint64_t total_received(struct fhc *c);

#endif
