/*
 * cp_pwhash: PBKDF2 off the event loop (see cp_pwhash.h). Jobs sit in one fixed array: free,
 * queued, running or done. Worker threads take queued jobs under the mutex and derive without
 * it; the loop takes done ones in cp_pwhash_poll and calls their callbacks. Passwords are
 * copied into the job and wiped when it ends.
 */
#include "cp_pwhash.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "cp_sig.h"
#include "fh_log.h"

#define MAX_THREADS 4

enum job_state { J_FREE, J_QUEUED, J_RUNNING, J_DONE };

struct job {
	enum job_state state;
	bool cancelled;
	bool make;
	bool ok;
	bool have_hash; /* out holds a new hash */
	uint64_t ticket;
	uint64_t seq; /* order of arrival: the oldest queued goes first */
	char pw[CP_PASSWORD_MAX + 1];
	uint8_t in[CP_PW_HASH_LEN];
	uint8_t out[CP_PW_HASH_LEN];
	uint8_t quick[32];
	cp_pwhash_done done;
	void *user;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_t threads[MAX_THREADS];
	unsigned n_threads;
	bool stop;
	struct job *jobs;
	unsigned cap;
	unsigned pending;
	uint64_t next_ticket;
	uint64_t next_seq;
	uint8_t quick_key[32];
} h = {.lock = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

unsigned cp_pwhash_iterations(const uint8_t hash[CP_PW_HASH_LEN])
{
	return (unsigned)hash[0] << 24 | (unsigned)hash[1] << 16 | (unsigned)hash[2] << 8 | hash[3];
}

static void derive(const char *pw, const uint8_t *salt, unsigned iter, uint8_t out[32])
{
	PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, 16, (int)iter, EVP_sha256(), 32, out);
}

void cp_pwhash_make(const char *pw, unsigned iterations, uint8_t hash[CP_PW_HASH_LEN])
{
	put32(hash, iterations);
	if (RAND_bytes(hash + 4, 16) != 1)
		abort(); /* no salt without randomness; nothing sensible goes on */
	derive(pw, hash + 4, iterations, hash + 20);
}

bool cp_pwhash_verify(const char *pw, const uint8_t hash[CP_PW_HASH_LEN])
{
	unsigned iter = cp_pwhash_iterations(hash);
	uint8_t d[32];
	bool ok;

	/* a record's count is ours, but a damaged one must not make us spin for hours */
	if (iter < 1000 || iter > 10 * CP_PW_ITER)
		return false;
	derive(pw, hash + 4, iter, d);
	ok = CRYPTO_memcmp(d, hash + 20, 32) == 0;
	OPENSSL_cleanse(d, sizeof(d));
	return ok;
}

void cp_pwhash_from_old(const uint8_t old[CP_PW_OLD_LEN], uint8_t hash[CP_PW_HASH_LEN])
{
	put32(hash, CP_PW_ITER_OLD);
	memcpy(hash + 4, old, CP_PW_OLD_LEN);
}

void cp_pwhash_quick(const char *pw, const uint8_t hash[CP_PW_HASH_LEN], uint8_t mac[32])
{
	unsigned len = 32;
	uint8_t buf[16 + CP_PASSWORD_MAX + 1];
	size_t n = strnlen(pw, CP_PASSWORD_MAX);

	memcpy(buf, hash + 4, 16); /* the salt: one room's MAC says nothing of another's */
	memcpy(buf + 16, pw, n);
	HMAC(EVP_sha256(), h.quick_key, sizeof(h.quick_key), buf, 16 + n, mac, &len);
	OPENSSL_cleanse(buf, sizeof(buf));
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&h.lock);
	for (;;) {
		struct job *j = NULL;

		while (!h.stop) {
			for (unsigned i = 0; i < h.cap; i++)
				if (h.jobs[i].state == J_QUEUED && (!j || h.jobs[i].seq < j->seq))
					j = &h.jobs[i];
			if (j)
				break;
			pthread_cond_wait(&h.work, &h.lock);
		}
		if (h.stop)
			break;
		j->state = J_RUNNING;
		pthread_mutex_unlock(&h.lock);
		if (j->make) {
			cp_pwhash_make(j->pw, CP_PW_ITER, j->out);
			j->ok = j->have_hash = true;
		} else {
			j->ok = cp_pwhash_verify(j->pw, j->in);
			/* right, but hashed with fewer iterations than we use now: upgrade */
			if (j->ok && cp_pwhash_iterations(j->in) < CP_PW_ITER) {
				cp_pwhash_make(j->pw, CP_PW_ITER, j->out);
				j->have_hash = true;
			}
		}
		if (j->ok)
			cp_pwhash_quick(j->pw, j->have_hash ? j->out : j->in, j->quick);
		OPENSSL_cleanse(j->pw, sizeof(j->pw));
		pthread_mutex_lock(&h.lock);
		j->state = J_DONE;
	}
	pthread_mutex_unlock(&h.lock);
	return NULL;
}

int cp_pwhash_init(unsigned threads, unsigned queue)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!threads)
		threads = cpus > 1 ? (unsigned)cpus / 2 : 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	h.jobs = calloc(queue, sizeof(*h.jobs));
	if (!h.jobs || RAND_bytes(h.quick_key, sizeof(h.quick_key)) != 1)
		return -1;
	h.cap = queue;
	h.stop = false;
	for (h.n_threads = 0; h.n_threads < threads; h.n_threads++)
		if (pthread_create(&h.threads[h.n_threads], NULL, worker, NULL))
			break;
	if (!h.n_threads)
		return -1;
	FH_INFO("password hashing: %u thread(s), %u jobs queued at most, %u iterations",
		h.n_threads, queue, CP_PW_ITER);
	return 0;
}

void cp_pwhash_fini(void)
{
	pthread_mutex_lock(&h.lock);
	h.stop = true;
	pthread_cond_broadcast(&h.work);
	pthread_mutex_unlock(&h.lock);
	for (unsigned i = 0; i < h.n_threads; i++)
		pthread_join(h.threads[i], NULL);
	h.n_threads = 0;
	if (h.jobs)
		OPENSSL_cleanse(h.jobs, h.cap * sizeof(*h.jobs));
	free(h.jobs);
	h.jobs = NULL;
	h.cap = h.pending = 0;
	OPENSSL_cleanse(h.quick_key, sizeof(h.quick_key));
}

uint64_t cp_pwhash_submit(const char *pw, const uint8_t *hash, cp_pwhash_done done, void *user)
{
	struct job *j = NULL;

	if (!h.n_threads || strlen(pw) > CP_PASSWORD_MAX)
		return 0;
	pthread_mutex_lock(&h.lock);
	for (unsigned i = 0; i < h.cap && !j; i++)
		if (h.jobs[i].state == J_FREE)
			j = &h.jobs[i];
	if (j) {
		memset(j, 0, sizeof(*j));
		j->state = J_QUEUED;
		j->make = !hash;
		if (hash)
			memcpy(j->in, hash, CP_PW_HASH_LEN);
		memcpy(j->pw, pw, strlen(pw) + 1);
		j->done = done;
		j->user = user;
		j->ticket = ++h.next_ticket;
		j->seq = ++h.next_seq;
		h.pending++;
		pthread_cond_signal(&h.work);
	}
	pthread_mutex_unlock(&h.lock);
	return j ? j->ticket : 0;
}

void cp_pwhash_cancel(uint64_t ticket)
{
	pthread_mutex_lock(&h.lock);
	for (unsigned i = 0; i < h.cap; i++) {
		struct job *j = &h.jobs[i];

		if (j->state == J_FREE || j->ticket != ticket)
			continue;
		if (j->state == J_QUEUED) {
			/* not begun: its thread time goes to the next one */
			OPENSSL_cleanse(j, sizeof(*j));
			h.pending--;
		} else {
			j->cancelled = true;
		}
	}
	pthread_mutex_unlock(&h.lock);
}

void cp_pwhash_poll(void)
{
	struct job done[16];
	unsigned n;

	do {
		n = 0;
		pthread_mutex_lock(&h.lock);
		for (unsigned i = 0; i < h.cap && n < 16; i++) {
			if (h.jobs[i].state != J_DONE)
				continue;
			done[n++] = h.jobs[i];
			OPENSSL_cleanse(&h.jobs[i], sizeof(h.jobs[i]));
			h.pending--;
		}
		pthread_mutex_unlock(&h.lock);
		/* callbacks without the lock: they may submit again */
		for (unsigned i = 0; i < n; i++)
			if (!done[i].cancelled && done[i].done)
				done[i].done(done[i].user, done[i].ok,
					     done[i].have_hash ? done[i].out : NULL,
					     done[i].ok ? done[i].quick : NULL);
		OPENSSL_cleanse(done, sizeof(done));
	} while (n == 16);
}

unsigned cp_pwhash_pending(void)
{
	unsigned n;

	pthread_mutex_lock(&h.lock);
	n = h.pending;
	pthread_mutex_unlock(&h.lock);
	return n;
}
