/*
 * fh_curlbody: a libcurl write callback that gathers an HTTP answer into one NUL-terminated
 * buffer (funkhausctl and the API test share it). Header-only, so that using it adds no
 * libcurl dependency to what does not.
 */
#ifndef FH_CURLBODY_H
#define FH_CURLBODY_H

#include <stdlib.h>
#include <string.h>

struct fh_curlbody {
	char *p; /* NUL-terminated; free() it */
	size_t n;
};

/* CURLOPT_WRITEFUNCTION with a struct fh_curlbody as CURLOPT_WRITEDATA; 0 (curl stops) when
 * memory runs out. */
static inline size_t fh_curlbody_collect(char *d, size_t sz, size_t nm, void *u)
{
	struct fh_curlbody *b = u;
	char *p = realloc(b->p, b->n + sz * nm + 1);

	if (!p)
		return 0;
	b->p = p;
	memcpy(b->p + b->n, d, sz * nm);
	b->n += sz * nm;
	b->p[b->n] = '\0';
	return sz * nm;
}

#endif
