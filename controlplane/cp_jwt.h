/*
 * cp_jwt: signed tokens (RFC 7519 JWS compact form) that let a tenant's own login service say
 * who may open or moderate a room. Only HS256, RS256 and ES256 are accepted, and only with a
 * key of the matching kind configured for the tenant: "none" never, HS256 never with a public
 * key. exp is required; nbf, iss, aud, tenant and room are checked; the moderator claim is
 * read. Signatures are checked with OpenSSL. Nothing of a token is ever logged.
 */
#ifndef CP_JWT_H
#define CP_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define CP_JWT_MAX_LEN 4096 /* longer tokens are refused unread */
#define CP_JWT_MAX_KEYS 8
#define CP_JWT_LEEWAY_S 30 /* clock difference tolerated on exp and nbf */

enum cp_jwt_alg { CP_JWT_HS256, CP_JWT_RS256, CP_JWT_ES256 };

enum cp_jwt_err {
	CP_JWT_OK,
	CP_JWT_MALFORMED, /* not three base64url parts of JSON */
	CP_JWT_ALG,	  /* algorithm not accepted, or no key of its kind */
	CP_JWT_SIGNATURE, /* no configured key verifies it */
	CP_JWT_EXPIRED,	  /* exp in the past, or missing */
	CP_JWT_NOT_YET,	  /* nbf in the future */
	CP_JWT_ISSUER,	  /* iss is not the tenant's issuer */
	CP_JWT_AUDIENCE,  /* aud does not name the tenant's audience */
	CP_JWT_TENANT,	  /* tenant claim names another tenant */
	CP_JWT_ROOM,	  /* room claim names another room */
};

struct cp_jwt_key {
	enum cp_jwt_alg alg;
	uint8_t secret[128]; /* HS256 */
	size_t secret_len;
	EVP_PKEY *pub; /* RS256: an RSA key; ES256: a P-256 key */
};

struct cp_jwt_keys {
	struct cp_jwt_key k[CP_JWT_MAX_KEYS];
	unsigned n;
	char issuer[128];   /* "" = not checked */
	char audience[128]; /* "" = not checked */
};

struct cp_jwt_claims {
	bool moderator;
	bool room_any; /* no room claim: good for any room, or for creating one */
	bool one_time; /* a room it opens ends with its last participant, record and all */
	int64_t exp;
};

/* Adds an HS256 secret (at least 32 bytes), or a PEM public key for RS256 (RSA, at least 2048
 * bits) or ES256 (P-256). 0, or -1 with the reason in err. */
int cp_jwt_add_secret(struct cp_jwt_keys *ks, const uint8_t *secret, size_t len, char *err,
		      size_t elen);
int cp_jwt_add_pem(struct cp_jwt_keys *ks, enum cp_jwt_alg alg, const char *pem, size_t len,
		   char *err, size_t elen);
void cp_jwt_keys_free(struct cp_jwt_keys *ks);

/* Checks token for tenant and room (room NULL: a token good for any room of the tenant is
 * needed, e.g. to create one) at time now (seconds since the epoch). */
enum cp_jwt_err cp_jwt_verify(const struct cp_jwt_keys *ks, const char *token, const char *tenant,
			      const char *room, int64_t now, struct cp_jwt_claims *out);
const char *cp_jwt_err_str(enum cp_jwt_err e);

/* base64url without padding, as JWS uses it; -1 on a bad character or length. */
long cp_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);
size_t cp_b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* TURN REST API credentials (what coturn's use-auth-secret checks): username
 * "<expiry>:<user>", password base64(HMAC-SHA1(secret, username)). 0, or -1. */
int cp_turn_credential(const uint8_t *secret, size_t slen, int64_t expiry, const char *user,
		       char *username, size_t ulen, char *password, size_t plen);

#endif
