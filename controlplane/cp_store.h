/*
 * cp_store: the room records funkhaus-cp keeps across restarts, in an embedded SQLite
 * database (<state_dir>/rooms.sqlite, readable by funkhaus-cp only). A record is a tenant, a
 * room's lower-cased name, whether its name was generated, when it was opened and last used,
 * its password hash and lobby setting; nothing about who was in it. The daemon itself deletes
 * a record once the room has been unused for its tenant's room_inactivity_days. Without a
 * state_dir rooms live in memory only.
 */
#ifndef CP_STORE_H
#define CP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0, or -1 with the reason in err. */
int cp_store_open(const char *state_dir, char *err, size_t elen);
/* Writes the database refused (a full disk) wait, in order, and reads see them; this writes
 * what waits as far as the database takes it now (the event loop calls it every few seconds).
 * How many wait. */
void cp_store_retry(void);
unsigned cp_store_pending(void);
void cp_store_close(void);
bool cp_store_enabled(void);

/* Records that the room exists and was used at now (opened at now when new). */
int cp_store_touch(const char *tenant, const char *key, bool generated, int64_t now);
bool cp_store_exists(const char *tenant, const char *key);
void cp_store_forget(const char *tenant, const char *key);
/* The room's password hash (CP_PW_HASH_LEN bytes, cp_pwhash.h), len 0 to clear it. */
#define CP_PW_HASH_LEN 52 /* cp_pwhash.h: iterations, salt, key */
void cp_store_set_password(const char *tenant, const char *key, const uint8_t *hash, size_t len);
/* 1 with hash filled when the record has a password, else 0. */
int cp_store_password(const char *tenant, const char *key, uint8_t hash[CP_PW_HASH_LEN]);
/* The room's lobby setting: set, or read back (1 on, 0 off, -1 when the record has none). */
void cp_store_set_lobby(const char *tenant, const char *key, bool on);
int cp_store_lobby(const char *tenant, const char *key);
/* Deletes records unused for longer than days_of(tenant) days; how many went. */
unsigned cp_store_expire(int64_t now, unsigned (*days_of)(const char *tenant));

/* With a cluster, room records live in its shared store too (cp_cluster): every write goes
 * to the database and to the mirror, and the mirror's reads come first. A read answers -1
 * (lobby: -2) when the mirror does not know the room, and the database answers. */
struct cp_store_mirror {
	void (*touch)(const char *tenant, const char *key, bool generated, int64_t now);
	void (*forget)(const char *tenant, const char *key);
	void (*set_password)(const char *tenant, const char *key, const uint8_t *hash, size_t len);
	void (*set_lobby)(const char *tenant, const char *key, bool on);
	int (*password)(const char *tenant, const char *key, uint8_t hash[CP_PW_HASH_LEN]);
	int (*lobby)(const char *tenant, const char *key); /* 1, 0, -1 none, -2 unknown */
	int (*exists)(const char *tenant, const char *key);
};
void cp_store_set_mirror(const struct cp_store_mirror *m);
/* The database's own answer, the mirror not asked (for seeding the mirror). */
int cp_store_local_password(const char *tenant, const char *key, uint8_t hash[CP_PW_HASH_LEN]);
int cp_store_local_lobby(const char *tenant, const char *key);

/* Seconds since the epoch. Tests move it: FUNKHAUS_TEST_CLOCK names a file holding an offset
 * in seconds, read at every call (never set in production). */
int64_t cp_clock_s(void);

#endif
