/*
 * cp_pwhash: room passwords as salted PBKDF2-HMAC-SHA256 at the work factor current guidance
 * asks for (OWASP: 600 000 iterations), derived on a small pool of threads with a bounded queue,
 * so no guess ever stalls the event loop: the loop hands a job out and takes its result back on
 * its tick. A hash records its own iteration count; records made with fewer are upgraded on
 * the next correct entry.
 *
 * Hash layout (CP_PW_HASH_LEN bytes): iterations (4, big-endian), salt (16), derived key (32).
 * Records of the older layout (salt, key; 20 000 iterations) read with cp_pwhash_from_old().
 */
#ifndef CP_PWHASH_H
#define CP_PWHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_store.h"

#define CP_PW_ITER 600000
#define CP_PW_ITER_OLD 20000
#define CP_PW_OLD_LEN 48

/* ok: the password matched (verify) or was hashed (make); hash: the new hash when one was made
 * (make, or a verify that upgraded an older hash), else NULL; quick: when ok, the password's
 * cp_pwhash_quick() MAC under the hash in force (the new one when there is one). */
typedef void (*cp_pwhash_done)(void *user, bool ok, const uint8_t *hash, const uint8_t *quick);

/* threads 0: one per two CPUs, 1 to 4. 0, or -1 when no thread could start. */
int cp_pwhash_init(unsigned threads, unsigned queue);
void cp_pwhash_fini(void);
/* Queues a check of pw against hash (a make when hash is NULL); done runs on the loop, in
 * cp_pwhash_poll. A ticket (never 0), or 0 when the queue is full. */
uint64_t cp_pwhash_submit(const char *pw, const uint8_t *hash, cp_pwhash_done done, void *user);
/* Its result will not be delivered (the connection that waited is gone). */
void cp_pwhash_cancel(uint64_t ticket);
/* Delivers the results that are ready; the event loop calls it on every tick. */
void cp_pwhash_poll(void);
/* Jobs queued or running now. */
unsigned cp_pwhash_pending(void);

/* The same, on the calling thread (tests, and funkhausctl tools; never the event loop). */
bool cp_pwhash_verify(const char *pw, const uint8_t hash[CP_PW_HASH_LEN]);
void cp_pwhash_make(const char *pw, unsigned iterations, uint8_t hash[CP_PW_HASH_LEN]);
unsigned cp_pwhash_iterations(const uint8_t hash[CP_PW_HASH_LEN]);
/* A quick check for a room in memory once its password is known to be right: a keyed MAC of
 * the password with a key that lives in this process only and never on disk. Online guesses
 * are limited by cp_limits, so its speed gives a guesser nothing; a stolen record still
 * costs the full work factor per guess. */
void cp_pwhash_quick(const char *pw, const uint8_t hash[CP_PW_HASH_LEN], uint8_t mac[32]);
/* An old record (salt, key) in the current layout. */
void cp_pwhash_from_old(const uint8_t old[CP_PW_OLD_LEN], uint8_t hash[CP_PW_HASH_LEN]);

#endif
