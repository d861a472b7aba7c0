/*
 * fh_region: create (funkhaus-dp) and attach (funkhaus-cp) the shared ring region.
 * Runs once at start in each process; nothing here is on the packet path.
 */
#include "fh_region.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct fh_cmd) % 8 == 0, "ring elements are multiples of 8 bytes");
_Static_assert(sizeof(struct fh_evt) % 8 == 0, "ring elements are multiples of 8 bytes");
_Static_assert(sizeof(struct fh_pkt_msg) % 8 == 0, "ring elements are multiples of 8 bytes");
_Static_assert(sizeof(struct fh_port_counters) == 32 + FH_PORT_CTR_MAX * sizeof(uint64_t),
	       "a port's counters are its named fields and its array at once");

static size_t align64(size_t v)
{
	return (v + 63) & ~(size_t)63;
}

struct ring_spec {
	unsigned count;
	unsigned esize;
};

static const struct ring_spec specs[4] = {
	{FH_CMD_RING_SIZE, sizeof(struct fh_cmd)},
	{FH_EVT_RING_SIZE, sizeof(struct fh_evt)},
	{FH_PKT_RING_SIZE, sizeof(struct fh_pkt_msg)},
	{FH_PKT_RING_SIZE, sizeof(struct fh_pkt_msg)},
};

static size_t worker_size(void)
{
	size_t s = 0;

	for (int i = 0; i < 4; i++)
		s += align64((size_t)rte_ring_get_memsize_elem(specs[i].esize, specs[i].count));
	return s + align64(sizeof(struct fh_counters)) + (size_t)FH_MAX_SLOTS * FH_NOTE_SIZE +
	       align64((size_t)FH_MAX_SLOTS * sizeof(struct fh_slot_stat));
}

size_t fh_region_size(unsigned n_workers)
{
	return align64(sizeof(struct fh_region_hdr)) + n_workers * worker_size();
}

int fh_region_create(struct fh_region *r, const char *name, unsigned n_workers,
		     const uint16_t *ports)
{
	int err;

	if (n_workers == 0 || n_workers > FH_MAX_WORKERS)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->size = fh_region_size(n_workers);
	shm_unlink(name); /* a stale region from a crashed run is replaced, never reused */
	r->fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (r->fd < 0)
		return -errno;
	if (ftruncate(r->fd, (off_t)r->size) < 0) {
		err = -errno;
		goto err_unlink;
	}
	r->hdr = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->hdr == MAP_FAILED) {
		err = -errno;
		goto err_unlink;
	}
	r->owner = true;

	struct fh_region_hdr *h = r->hdr;
	size_t off = align64(sizeof(*h));
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	h->abi = FH_REGION_ABI;
	h->table_hash = fh_counters_table_hash();
	h->n_workers = n_workers;
	h->dp_pid = (uint32_t)getpid();
	h->size = r->size;
	h->generation = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	for (unsigned w = 0; w < n_workers; w++) {
		uint64_t *offs[4] = {&h->w[w].cmd_off, &h->w[w].evt_off, &h->w[w].up_off,
				     &h->w[w].down_off};

		for (int i = 0; i < 4; i++) {
			char rname[RTE_RING_NAMESIZE];

			snprintf(rname, sizeof(rname), "fh%u.%d", w, i);
			*offs[i] = off;
			if (rte_ring_init(fh_region_at(r, off), rname, specs[i].count,
					  RING_F_SP_ENQ | RING_F_SC_DEQ) < 0) {
				err = -EINVAL;
				goto err_unmap;
			}
			off += align64(
				(size_t)rte_ring_get_memsize_elem(specs[i].esize, specs[i].count));
		}
		h->w[w].ctr_off = off;
		off += align64(sizeof(struct fh_counters));
		h->w[w].notes_off = off;
		off += (size_t)FH_MAX_SLOTS * FH_NOTE_SIZE;
		h->w[w].stat_off = off;
		off += align64((size_t)FH_MAX_SLOTS * sizeof(struct fh_slot_stat));
		h->w[w].port = ports[w];
		h->w[w].lcore = (uint16_t)(w + 1);
	}
	/* Magic last: an attaching cp never sees a half-built region as valid. */
	__atomic_store_n(&h->magic, FH_REGION_MAGIC, __ATOMIC_RELEASE);
	return 0;

err_unmap:
	munmap(r->hdr, r->size);
err_unlink:
	close(r->fd);
	shm_unlink(name);
	return err;
}

int fh_region_attach(struct fh_region *r, const char *name)
{
	struct stat st;
	int err;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->fd = shm_open(name, O_RDWR, 0);
	if (r->fd < 0)
		return -errno;
	/* One control plane per region: a second one would break single-producer rings. */
	if (flock(r->fd, LOCK_EX | LOCK_NB) < 0) {
		err = -EBUSY;
		goto err_close;
	}
	if (fstat(r->fd, &st) < 0) {
		err = -errno;
		goto err_close;
	}
	if ((size_t)st.st_size < sizeof(struct fh_region_hdr)) {
		err = -EPROTO;
		goto err_close;
	}
	r->size = (size_t)st.st_size;
	r->hdr = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->hdr == MAP_FAILED) {
		err = -errno;
		goto err_close;
	}
	if (__atomic_load_n(&r->hdr->magic, __ATOMIC_ACQUIRE) != FH_REGION_MAGIC ||
	    r->hdr->abi != FH_REGION_ABI || r->hdr->table_hash != fh_counters_table_hash() ||
	    r->hdr->n_workers == 0 || r->hdr->n_workers > FH_MAX_WORKERS ||
	    r->hdr->size != r->size || fh_region_size(r->hdr->n_workers) != r->size) {
		err = -EPROTO;
		goto err_unmap;
	}
	return 0;

err_unmap:
	munmap(r->hdr, r->size);
err_close:
	close(r->fd);
	r->hdr = NULL;
	return err;
}

int fh_region_peek(struct fh_region *r, const char *name)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->fd = shm_open(name, O_RDONLY, 0);
	if (r->fd < 0)
		return -errno;
	if (fstat(r->fd, &st) < 0 || (size_t)st.st_size < sizeof(struct fh_region_hdr)) {
		close(r->fd);
		return -EPROTO;
	}
	r->size = (size_t)st.st_size;
	r->hdr = mmap(NULL, r->size, PROT_READ, MAP_SHARED, r->fd, 0);
	if (r->hdr == MAP_FAILED) {
		close(r->fd);
		r->hdr = NULL;
		return -EPROTO;
	}
	if (r->hdr->magic != FH_REGION_MAGIC || r->hdr->abi != FH_REGION_ABI ||
	    r->hdr->table_hash != fh_counters_table_hash() ||
	    fh_region_size(r->hdr->n_workers) != r->size) {
		fh_region_close(r);
		return -EPROTO;
	}
	return 0;
}

void fh_region_close(struct fh_region *r)
{
	if (!r->hdr)
		return;
	munmap(r->hdr, r->size);
	close(r->fd);
	if (r->owner)
		shm_unlink(r->name);
	r->hdr = NULL;
}
