/*
 * fh_stun: STUN parse and build (RFC 8489), MESSAGE-INTEGRITY (HMAC-SHA1, short-term
 * credentials) and FINGERPRINT (CRC-32 xor 0x5354554e). Runs in the dataplane workers for
 * every check a browser sends, and in the test client.
 */
#include "fh_stun.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t fh_crc32(const uint8_t *buf, size_t len)
{
	/* The table is built once; concurrent first callers write identical values. */
	if (!crc_table[1])
		crc_init();
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ buf[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

static void parse_xor_addr(const uint8_t *v, uint16_t len, const uint8_t *hdr,
			   struct fh_stun_msg *m)
{
	if (len < 8)
		return;
	uint8_t fam = v[1];

	memset(&m->xor_mapped, 0, sizeof(m->xor_mapped));
	m->xor_mapped.port = rd16(v + 2) ^ (FH_STUN_MAGIC >> 16);
	if (fam == 1) {
		m->xor_mapped.family = FH_AF_INET;
		for (int i = 0; i < 4; i++)
			m->xor_mapped.ip[i] = v[4 + i] ^ hdr[4 + i];
	} else if (fam == 2 && len >= 20) {
		m->xor_mapped.family = FH_AF_INET6;
		/* IPv6 is xor'd with the cookie followed by the transaction id */
		for (int i = 0; i < 16; i++)
			m->xor_mapped.ip[i] = v[4 + i] ^ hdr[4 + i];
	} else {
		return;
	}
	m->has_xor_mapped = true;
}

int fh_stun_parse(const uint8_t *buf, size_t len, struct fh_stun_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (len < FH_STUN_HDR_LEN)
		return FH_STUN_ERR_SHORT;
	if ((buf[0] & 0xC0) || rd32(buf + 4) != FH_STUN_MAGIC)
		return FH_STUN_ERR_HEADER;
	m->type = rd16(buf);
	m->length = rd16(buf + 2);
	if (m->length & 3)
		return FH_STUN_ERR_HEADER;
	if ((size_t)m->length + FH_STUN_HDR_LEN != len)
		return FH_STUN_ERR_SHORT;
	m->tid = buf + 8;

	size_t off = FH_STUN_HDR_LEN;

	while (off < len) {
		if (len - off < 4)
			return FH_STUN_ERR_ATTR;
		uint16_t at = rd16(buf + off);
		uint16_t al = rd16(buf + off + 2);
		size_t padded = ((size_t)al + 3) & ~(size_t)3;

		if (padded > len - off - 4)
			return FH_STUN_ERR_ATTR;
		const uint8_t *v = buf + off + 4;

		if (m->fp_offset)
			return FH_STUN_ERR_ATTR; /* FINGERPRINT must be the last attribute */
		/* After MESSAGE-INTEGRITY only FINGERPRINT counts; others are ignored. */
		if (m->mi_offset && at != FH_STUN_ATTR_FINGERPRINT) {
			off += 4 + padded;
			continue;
		}
		switch (at) {
		case FH_STUN_ATTR_USERNAME:
			if (al == 0 || al > FH_STUN_MAX_USERNAME)
				return FH_STUN_ERR_ATTR;
			m->username = v;
			m->username_len = al;
			break;
		case FH_STUN_ATTR_MESSAGE_INTEGRITY:
			if (al != 20)
				return FH_STUN_ERR_ATTR;
			m->mi_offset = (uint16_t)off;
			break;
		case FH_STUN_ATTR_FINGERPRINT:
			if (al != 4)
				return FH_STUN_ERR_ATTR;
			m->fp_offset = (uint16_t)off;
			break;
		case FH_STUN_ATTR_PRIORITY:
			if (al != 4)
				return FH_STUN_ERR_ATTR;
			m->priority = rd32(v);
			m->has_priority = true;
			break;
		case FH_STUN_ATTR_USE_CANDIDATE:
			m->use_candidate = true;
			break;
		case FH_STUN_ATTR_ICE_CONTROLLING:
		case FH_STUN_ATTR_ICE_CONTROLLED:
			if (al != 8)
				return FH_STUN_ERR_ATTR;
			m->tiebreaker = (uint64_t)rd32(v) << 32 | rd32(v + 4);
			if (at == FH_STUN_ATTR_ICE_CONTROLLING)
				m->ice_controlling = true;
			else
				m->ice_controlled = true;
			break;
		case FH_STUN_ATTR_XOR_MAPPED_ADDRESS:
			parse_xor_addr(v, al, buf, m);
			break;
		case FH_STUN_ATTR_ERROR_CODE:
			if (al >= 4)
				m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
			break;
		default:
			break;
		}
		off += 4 + padded;
	}
	return FH_STUN_OK;
}

bool fh_stun_check_fingerprint(const uint8_t *buf, size_t len, const struct fh_stun_msg *m)
{
	if (!m->fp_offset || (size_t)m->fp_offset + 8 != len)
		return false;
	uint32_t want = fh_crc32(buf, m->fp_offset) ^ 0x5354554eu;

	return rd32(buf + m->fp_offset + 4) == want;
}

bool fh_stun_check_integrity(const uint8_t *buf, const struct fh_stun_msg *m, const char *key,
			     size_t key_len)
{
	/* HMAC covers everything before MESSAGE-INTEGRITY, with the header's length patched to
	 * end right after it; copy so the caller's buffer stays untouched. */
	uint8_t tmp[FH_STUN_MAX_MSG];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (!m->mi_offset || m->mi_offset > sizeof(tmp))
		return false;
	memcpy(tmp, buf, m->mi_offset);
	wr16(tmp + 2, (uint16_t)(m->mi_offset + 24 - FH_STUN_HDR_LEN));
	if (!HMAC(EVP_sha1(), key, (int)key_len, tmp, m->mi_offset, mac, &mac_len) || mac_len != 20)
		return false;
	return CRYPTO_memcmp(mac, buf + m->mi_offset + 4, 20) == 0;
}

void fh_stun_build_start(struct fh_stun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
			 const uint8_t tid[12])
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->overflow = cap < FH_STUN_HDR_LEN;
	if (b->overflow)
		return;
	wr16(buf, type);
	wr16(buf + 2, 0);
	wr32(buf + 4, FH_STUN_MAGIC);
	memcpy(buf + 8, tid, 12);
	b->len = FH_STUN_HDR_LEN;
}

void fh_stun_build_attr(struct fh_stun_builder *b, uint16_t type, const void *val, uint16_t len)
{
	size_t padded = ((size_t)len + 3) & ~(size_t)3;

	if (b->overflow || b->cap - b->len < 4 + padded) {
		b->overflow = true;
		return;
	}
	uint8_t *p = b->buf + b->len;

	wr16(p, type);
	wr16(p + 2, len);
	if (len)
		memcpy(p + 4, val, len);
	memset(p + 4 + len, 0, padded - len);
	b->len += 4 + padded;
	wr16(b->buf + 2, (uint16_t)(b->len - FH_STUN_HDR_LEN));
}

void fh_stun_build_u32(struct fh_stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t x[4];

	wr32(x, v);
	fh_stun_build_attr(b, type, x, 4);
}

void fh_stun_build_u64(struct fh_stun_builder *b, uint16_t type, uint64_t v)
{
	uint8_t x[8];

	wr32(x, (uint32_t)(v >> 32));
	wr32(x + 4, (uint32_t)v);
	fh_stun_build_attr(b, type, x, 8);
}

void fh_stun_build_xor_addr(struct fh_stun_builder *b, const struct fh_addr *a)
{
	uint8_t v[20];
	uint16_t n = a->family == FH_AF_INET ? 8 : 20;

	if (b->overflow)
		return;
	v[0] = 0;
	v[1] = a->family == FH_AF_INET ? 1 : 2;
	wr16(v + 2, a->port ^ (FH_STUN_MAGIC >> 16));
	for (int i = 0; i < n - 4; i++)
		v[4 + i] = a->ip[i] ^ b->buf[4 + i]; /* cookie, then transaction id */
	fh_stun_build_attr(b, FH_STUN_ATTR_XOR_MAPPED_ADDRESS, v, n);
}

void fh_stun_build_integrity(struct fh_stun_builder *b, const char *key, size_t key_len)
{
	uint8_t zero[20] = {0};
	size_t mi_off = b->len;

	fh_stun_build_attr(b, FH_STUN_ATTR_MESSAGE_INTEGRITY, zero, 20);
	if (b->overflow)
		return;
	unsigned int mac_len = 0;
	uint8_t mac[EVP_MAX_MD_SIZE];

	/* The length field already covers MESSAGE-INTEGRITY, as RFC 8489 wants. */
	if (!HMAC(EVP_sha1(), key, (int)key_len, b->buf, mi_off, mac, &mac_len) || mac_len != 20) {
		b->overflow = true;
		return;
	}
	memcpy(b->buf + mi_off + 4, mac, 20);
}

void fh_stun_build_fingerprint(struct fh_stun_builder *b)
{
	uint8_t zero[4] = {0};
	size_t fp_off = b->len;

	fh_stun_build_attr(b, FH_STUN_ATTR_FINGERPRINT, zero, 4);
	if (b->overflow)
		return;
	wr32(b->buf + fp_off + 4, fh_crc32(b->buf, fp_off) ^ 0x5354554eu);
}

size_t fh_stun_build_end(struct fh_stun_builder *b)
{
	return b->overflow ? 0 : b->len;
}

size_t fh_stun_build_binding_success(uint8_t *buf, size_t cap, const uint8_t tid[12],
				     const struct fh_addr *mapped, const char *key, size_t key_len)
{
	struct fh_stun_builder b;

	fh_stun_build_start(&b, buf, cap, FH_STUN_BINDING_SUCCESS, tid);
	fh_stun_build_xor_addr(&b, mapped);
	fh_stun_build_integrity(&b, key, key_len);
	fh_stun_build_fingerprint(&b);
	return fh_stun_build_end(&b);
}
