/*
 * cp_store: room records in SQLite. See cp_store.h. Event loop only; every statement is short.
 */
#include "cp_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "cp_pwhash.h"
#include "cp_roomname.h"
#include "fh_log.h"

static sqlite3 *db;

int64_t cp_clock_s(void)
{
	int64_t now = (int64_t)time(NULL);
	const char *f = getenv("FUNKHAUS_TEST_CLOCK");

	if (f && *f) {
		FILE *fp = fopen(f, "r");
		long long off = 0;

		if (fp) {
			if (fscanf(fp, "%lld", &off) != 1)
				off = 0;
			fclose(fp);
		}
		now += off;
	}
	return now;
}

bool cp_store_enabled(void)
{
	return db != NULL;
}

int cp_store_open(const char *state_dir, char *err, size_t elen)
{
	char path[1024];

	if (!state_dir || !*state_dir)
		return 0;
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, elen, "state_dir %s: %s", state_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/rooms.sqlite", state_dir);
	mode_t old = umask(077); /* the database and its journal: funkhaus-cp's alone */
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

	umask(old);
	if (rc != SQLITE_OK) {
		snprintf(err, elen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		db = NULL;
		return -1;
	}
	char *msg = NULL;

	rc = sqlite3_exec(
		db,
		"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
		"PRAGMA secure_delete=ON; "
		"CREATE TABLE IF NOT EXISTS rooms (tenant TEXT NOT NULL, key TEXT NOT NULL, "
		"generated INTEGER NOT NULL, opened INTEGER NOT NULL, "
		"last_active INTEGER NOT NULL, PRIMARY KEY (tenant, key));",
		NULL, NULL, &msg);
	if (rc == SQLITE_OK) {
		/* the password hash and the lobby setting came later: added to databases made
		 * before them (an error here only says the column is there already) */
		static const char *const added[] = {"ALTER TABLE rooms ADD COLUMN pw BLOB",
						    "ALTER TABLE rooms ADD COLUMN lobby INTEGER"};

		for (unsigned i = 0; i < 2; i++) {
			sqlite3_free(msg);
			msg = NULL;
			sqlite3_exec(db, added[i], NULL, NULL, &msg);
		}
		sqlite3_free(msg);
		msg = NULL;
	}
	if (rc != SQLITE_OK) {
		snprintf(err, elen, "%s: %s", path, msg ? msg : "cannot set up");
		sqlite3_free(msg);
		sqlite3_close(db);
		db = NULL;
		return -1;
	}
	return 0;
}

void cp_store_close(void)
{
	if (db)
		sqlite3_close(db);
	db = NULL;
}

/* ---- writes: each one now, or in order once the disk takes them again ----
 *
 * A full disk (or any failed write) must not lose a room's record: the write waits in a queue,
 * later writes line up behind it, reads see what waits, and the tick replays the queue until
 * the database takes it. */

#define CP_ROOM_KEY_MAX CP_ROOM_BYTES /* room keys (cp_roomname) */

enum op { OP_TOUCH, OP_FORGET, OP_PW, OP_LOBBY };

struct pending {
	enum op op;
	char tenant[33];
	char key[CP_ROOM_KEY_MAX + 1];
	bool generated, lobby;
	int64_t now;
	size_t pw_len;
	uint8_t pw[CP_PW_HASH_LEN];
	struct pending *next;
};

static struct {
	struct pending *head, *tail;
	unsigned n;
	uint64_t dropped;
	int64_t since; /* the first write that waits, for the log */
} q;

#define PENDING_MAX 100000

/* A statement about one room's record, its tenant and key bound as ?1 and ?2; NULL when none. */
static sqlite3_stmt *room_stmt(const char *sql, const char *tenant, const char *key)
{
	sqlite3_stmt *st;

	if (!db || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	return st;
}

/* One write into the database: SQLITE_DONE, or what went wrong. */
static int exec_op(const struct pending *w)
{
	static const char *const sql[] = {
		[OP_TOUCH] = "INSERT INTO rooms (tenant, key, generated, opened, last_active) "
			     "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (tenant, key) DO UPDATE "
			     "SET last_active = MAX(last_active, ?4)",
		[OP_FORGET] = "DELETE FROM rooms WHERE tenant = ?1 AND key = ?2",
		[OP_PW] = "UPDATE rooms SET pw = ?3 WHERE tenant = ?1 AND key = ?2",
		[OP_LOBBY] = "UPDATE rooms SET lobby = ?3 WHERE tenant = ?1 AND key = ?2",
	};
	sqlite3_stmt *st = room_stmt(sql[w->op], w->tenant, w->key);
	int rc;

	if (!st)
		return sqlite3_errcode(db);
	switch (w->op) {
	case OP_TOUCH:
		sqlite3_bind_int(st, 3, w->generated);
		sqlite3_bind_int64(st, 4, w->now);
		break;
	case OP_PW:
		if (w->pw_len)
			sqlite3_bind_blob(st, 3, w->pw, (int)w->pw_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 3);
		break;
	case OP_LOBBY:
		sqlite3_bind_int(st, 3, w->lobby);
		break;
	case OP_FORGET:
		break;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

static void pending_free(struct pending *w)
{
	OPENSSL_cleanse(w, sizeof(*w));
	free(w);
}

/* Now when nothing waits and the database takes it, else queued: 0, or -1 when even the
 * queue is full (the write is lost, and logged). */
static int submit(const struct pending *w)
{
	if (!db)
		return 0;
	if (!q.head && exec_op(w) == SQLITE_DONE)
		return 0;
	struct pending *c = q.n < PENDING_MAX ? malloc(sizeof(*c)) : NULL;

	if (!c) {
		q.dropped++;
		FH_ERR("room record not written and no room to keep it: %s", sqlite3_errmsg(db));
		return -1;
	}
	*c = *w;
	c->next = NULL;
	if (!q.head) {
		q.since = cp_clock_s();
		FH_WARN("room records: writes wait for the database (%s); they are kept in order "
			"and written when it takes them",
			sqlite3_errmsg(db));
	}
	if (q.tail)
		q.tail->next = c;
	else
		q.head = c;
	q.tail = c;
	q.n++;
	return 0;
}

void cp_store_retry(void)
{
	unsigned done = 0;

	while (q.head && exec_op(q.head) == SQLITE_DONE) {
		struct pending *w = q.head;

		q.head = w->next;
		if (!q.head)
			q.tail = NULL;
		q.n--;
		pending_free(w);
		done++;
	}
	if (done && !q.head)
		FH_INFO("room records: %u delayed write(s) done, %lld s after the first failed",
			done, (long long)(cp_clock_s() - q.since));
}

unsigned cp_store_pending(void)
{
	return q.n;
}

/* The last write waiting for (tenant, key) among ops (a bit mask), NULL when none. */
static const struct pending *waiting(const char *tenant, const char *key, unsigned ops)
{
	const struct pending *last = NULL;

	for (const struct pending *w = q.head; w; w = w->next)
		if ((ops >> w->op & 1) && !strcmp(w->key, key) && !strcmp(w->tenant, tenant))
			last = w;
	return last;
}

static void fill(struct pending *w, enum op op, const char *tenant, const char *key)
{
	memset(w, 0, sizeof(*w));
	w->op = op;
	snprintf(w->tenant, sizeof(w->tenant), "%s", tenant);
	snprintf(w->key, sizeof(w->key), "%s", key);
}

static int db_touch(const char *tenant, const char *key, bool generated, int64_t now)
{
	struct pending w;

	fill(&w, OP_TOUCH, tenant, key);
	w.generated = generated;
	w.now = now;
	return submit(&w);
}

static bool db_exists(const char *tenant, const char *key)
{
	const struct pending *w = waiting(tenant, key, 1u << OP_TOUCH | 1u << OP_FORGET);
	sqlite3_stmt *st;
	bool found;

	if (w)
		return w->op == OP_TOUCH;
	st = room_stmt("SELECT 1 FROM rooms WHERE tenant = ?1 AND key = ?2", tenant, key);
	if (!st)
		return false;
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static void db_forget(const char *tenant, const char *key)
{
	struct pending w;

	fill(&w, OP_FORGET, tenant, key);
	submit(&w);
}

static void db_set_password(const char *tenant, const char *key, const uint8_t *hash, size_t len)
{
	struct pending w;

	fill(&w, OP_PW, tenant, key);
	w.pw_len = len <= sizeof(w.pw) ? len : 0;
	if (w.pw_len)
		memcpy(w.pw, hash, w.pw_len);
	submit(&w);
	OPENSSL_cleanse(&w, sizeof(w));
}

static void db_set_lobby(const char *tenant, const char *key, bool on)
{
	struct pending w;

	fill(&w, OP_LOBBY, tenant, key);
	w.lobby = on;
	submit(&w);
}

static int db_lobby(const char *tenant, const char *key)
{
	const struct pending *w = waiting(tenant, key, 1u << OP_LOBBY | 1u << OP_FORGET);
	sqlite3_stmt *st;
	int on = -1;

	if (w)
		return w->op == OP_LOBBY ? w->lobby : -1;
	st = room_stmt("SELECT lobby FROM rooms WHERE tenant = ?1 AND key = ?2", tenant, key);

	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		on = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return on;
}

static int db_password(const char *tenant, const char *key, uint8_t hash[CP_PW_HASH_LEN])
{
	const struct pending *w = waiting(tenant, key, 1u << OP_PW | 1u << OP_FORGET);
	sqlite3_stmt *st;
	int found = 0;

	if (w) {
		if (w->op == OP_FORGET || w->pw_len != CP_PW_HASH_LEN)
			return 0;
		memcpy(hash, w->pw, CP_PW_HASH_LEN);
		return 1;
	}
	st = room_stmt("SELECT pw FROM rooms WHERE tenant = ?1 AND key = ?2", tenant, key);

	if (!st)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);

		if (n == CP_PW_HASH_LEN) {
			memcpy(hash, sqlite3_column_blob(st, 0), CP_PW_HASH_LEN);
			found = 1;
		} else if (n == CP_PW_OLD_LEN) {
			/* a record from before iteration counts were kept: upgraded on its next
			 * correct entry */
			cp_pwhash_from_old(sqlite3_column_blob(st, 0), hash);
			found = 1;
		}
	}
	sqlite3_finalize(st);
	return found;
}

/* ---- what the rest of funkhaus-cp calls: the database, and the cluster's store when a
 * mirror is set (its reads first: a room that moved here has its record there) ---- */

static const struct cp_store_mirror *mirror;

void cp_store_set_mirror(const struct cp_store_mirror *m)
{
	mirror = m;
}

int cp_store_touch(const char *tenant, const char *key, bool generated, int64_t now)
{
	int rc = db_touch(tenant, key, generated, now);

	if (mirror)
		mirror->touch(tenant, key, generated, now);
	return rc;
}

bool cp_store_exists(const char *tenant, const char *key)
{
	int m = mirror ? mirror->exists(tenant, key) : -1;

	return m >= 0 ? m == 1 : db_exists(tenant, key);
}

void cp_store_forget(const char *tenant, const char *key)
{
	db_forget(tenant, key);
	if (mirror)
		mirror->forget(tenant, key);
}

void cp_store_set_password(const char *tenant, const char *key, const uint8_t *hash, size_t len)
{
	db_set_password(tenant, key, hash, len);
	if (mirror)
		mirror->set_password(tenant, key, hash, len);
}

void cp_store_set_lobby(const char *tenant, const char *key, bool on)
{
	db_set_lobby(tenant, key, on);
	if (mirror)
		mirror->set_lobby(tenant, key, on);
}

int cp_store_lobby(const char *tenant, const char *key)
{
	int m = mirror ? mirror->lobby(tenant, key) : -2;

	return m != -2 ? m : db_lobby(tenant, key);
}

int cp_store_password(const char *tenant, const char *key, uint8_t hash[CP_PW_HASH_LEN])
{
	int m = mirror ? mirror->password(tenant, key, hash) : -1;

	return m >= 0 ? m : db_password(tenant, key, hash);
}

int cp_store_local_password(const char *tenant, const char *key, uint8_t hash[CP_PW_HASH_LEN])
{
	return db_password(tenant, key, hash);
}

int cp_store_local_lobby(const char *tenant, const char *key)
{
	return db_lobby(tenant, key);
}

unsigned cp_store_expire(int64_t now, unsigned (*days_of)(const char *tenant))
{
	sqlite3_stmt *st, *del;
	unsigned n = 0;

	if (!db)
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT tenant FROM rooms", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_prepare_v2(db, "DELETE FROM rooms WHERE tenant = ?1 AND last_active < ?2", -1,
			       &del, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return 0;
	}
	/* collect first: no deleting under a running SELECT */
	static char tenants[1024][33];
	unsigned nt = 0;

	while (nt < 1024 && sqlite3_step(st) == SQLITE_ROW)
		snprintf(tenants[nt++], sizeof(tenants[0]), "%s",
			 (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	for (unsigned i = 0; i < nt; i++) {
		sqlite3_reset(del);
		sqlite3_bind_text(del, 1, tenants[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(del, 2, now - (int64_t)days_of(tenants[i]) * 86400);
		if (sqlite3_step(del) == SQLITE_DONE)
			n += (unsigned)sqlite3_changes(db);
	}
	sqlite3_finalize(del);
	if (n)
		FH_INFO("%u room record(s) deleted after their tenants' inactivity days", n);
	return n;
}
