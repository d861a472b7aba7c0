/*
 * fh_stun: STUN (RFC 8489) wire format for ICE-lite (RFC 8445) connectivity checks.
 * Pure functions over byte buffers: the dataplane worker parses and answers Binding requests
 * with them, the test client and the bench build requests with them, the fuzzer feeds them
 * garbage. Nothing here touches a socket or allocates.
 */
#ifndef FH_STUN_H
#define FH_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fh_addr.h"

#define FH_STUN_HDR_LEN 20
#define FH_STUN_MAGIC 0x2112A442u
#define FH_STUN_BINDING_REQUEST 0x0001
#define FH_STUN_BINDING_SUCCESS 0x0101
#define FH_STUN_BINDING_ERROR 0x0111
#define FH_STUN_BINDING_INDICATION 0x0011

#define FH_STUN_ATTR_USERNAME 0x0006
#define FH_STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define FH_STUN_ATTR_ERROR_CODE 0x0009
#define FH_STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define FH_STUN_ATTR_PRIORITY 0x0024
#define FH_STUN_ATTR_USE_CANDIDATE 0x0025
#define FH_STUN_ATTR_SOFTWARE 0x8022
#define FH_STUN_ATTR_FINGERPRINT 0x8028
#define FH_STUN_ATTR_ICE_CONTROLLED 0x8029
#define FH_STUN_ATTR_ICE_CONTROLLING 0x802A

#define FH_STUN_MAX_USERNAME 128
#define FH_STUN_MAX_MSG 1500

/* Why a message was refused; each maps to a drop counter in the dataplane. */
enum fh_stun_err {
	FH_STUN_OK = 0,
	FH_STUN_ERR_SHORT = -1,	 /* shorter than a header, or length field beyond the buffer */
	FH_STUN_ERR_HEADER = -2, /* top bits, magic cookie or length alignment wrong */
	FH_STUN_ERR_ATTR = -3,	 /* an attribute runs past the end or has a bad size */
	FH_STUN_ERR_FINGERPRINT = -4,
	FH_STUN_ERR_INTEGRITY = -5,
};

struct fh_stun_msg {
	uint16_t type;
	uint16_t length;    /* body length from the header */
	const uint8_t *tid; /* 12 bytes inside the parsed buffer */
	const uint8_t *username;
	uint16_t username_len;
	uint16_t mi_offset; /* offset of the MESSAGE-INTEGRITY attribute header, 0 if absent */
	uint16_t fp_offset; /* offset of the FINGERPRINT attribute header, 0 if absent */
	uint32_t priority;
	uint64_t tiebreaker;
	bool has_priority;
	bool use_candidate;
	bool ice_controlling;
	bool ice_controlled;
	bool has_xor_mapped;
	struct fh_addr xor_mapped;
	uint16_t error_code; /* 0 when no ERROR-CODE attribute */
};

/* Cheap test for the demultiplexer: first byte 0..3 and a plausible header (RFC 7983). */
static inline bool fh_stun_looks_like(const uint8_t *buf, size_t len)
{
	return len >= FH_STUN_HDR_LEN && buf[0] < 4 && buf[4] == 0x21 && buf[5] == 0x12 &&
	       buf[6] == 0xA4 && buf[7] == 0x42;
}

/* Parses the header and walks the attributes. Checks structure only, not integrity. */
int fh_stun_parse(const uint8_t *buf, size_t len, struct fh_stun_msg *m);
/* True when FINGERPRINT is present, last, and matches. */
bool fh_stun_check_fingerprint(const uint8_t *buf, size_t len, const struct fh_stun_msg *m);
/* True when MESSAGE-INTEGRITY is present and matches HMAC-SHA1 with the short-term key. */
bool fh_stun_check_integrity(const uint8_t *buf, const struct fh_stun_msg *m, const char *key,
			     size_t key_len);
uint32_t fh_crc32(const uint8_t *buf, size_t len);

/*
 * Message builder: start, add attributes, finish with integrity and fingerprint.
 * Functions return the new length or 0 when the buffer is too small.
 */
struct fh_stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void fh_stun_build_start(struct fh_stun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
			 const uint8_t tid[12]);
void fh_stun_build_attr(struct fh_stun_builder *b, uint16_t type, const void *val, uint16_t len);
void fh_stun_build_u32(struct fh_stun_builder *b, uint16_t type, uint32_t v);
void fh_stun_build_u64(struct fh_stun_builder *b, uint16_t type, uint64_t v);
void fh_stun_build_xor_addr(struct fh_stun_builder *b, const struct fh_addr *a);
void fh_stun_build_integrity(struct fh_stun_builder *b, const char *key, size_t key_len);
void fh_stun_build_fingerprint(struct fh_stun_builder *b);
/* Returns the message length, or 0 when anything did not fit. */
size_t fh_stun_build_end(struct fh_stun_builder *b);

/* The whole ICE-lite answer to a checked Binding request. */
size_t fh_stun_build_binding_success(uint8_t *buf, size_t cap, const uint8_t tid[12],
				     const struct fh_addr *mapped, const char *key, size_t key_len);

#endif
