/*
 * cp_jwt: JWS compact tokens, HS256 / RS256 / ES256 only. See cp_jwt.h.
 */
#include "cp_jwt.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "cp_roomname.h"

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long cp_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64val(in[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* the leftover bits must be zero (one canonical encoding per value) */
	if (bits && (acc & ((1u << bits) - 1)))
		return -1;
	return (long)n;
}

size_t cp_b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			if (n + 1 < cap)
				out[n++] = t[(acc >> bits) & 63];
		}
	}
	if (bits && n + 1 < cap)
		out[n++] = t[(acc << (6 - bits)) & 63];
	if (cap)
		out[n] = '\0';
	return n;
}

int cp_jwt_add_secret(struct cp_jwt_keys *ks, const uint8_t *secret, size_t len, char *err,
		      size_t elen)
{
	if (ks->n == CP_JWT_MAX_KEYS) {
		snprintf(err, elen, "at most %d token keys", CP_JWT_MAX_KEYS);
		return -1;
	}
	if (len < 32 || len > sizeof(ks->k[0].secret)) {
		snprintf(err, elen, "an HS256 secret has 32 to %zu bytes", sizeof(ks->k[0].secret));
		return -1;
	}
	struct cp_jwt_key *k = &ks->k[ks->n++];

	memset(k, 0, sizeof(*k));
	k->alg = CP_JWT_HS256;
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	return 0;
}

int cp_jwt_add_pem(struct cp_jwt_keys *ks, enum cp_jwt_alg alg, const char *pem, size_t len,
		   char *err, size_t elen)
{
	if (ks->n == CP_JWT_MAX_KEYS) {
		snprintf(err, elen, "at most %d token keys", CP_JWT_MAX_KEYS);
		return -1;
	}
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pk = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (!pk) {
		snprintf(err, elen, "not a PEM public key");
		return -1;
	}
	bool ok = false;

	if (alg == CP_JWT_RS256) {
		ok = EVP_PKEY_is_a(pk, "RSA") && EVP_PKEY_get_bits(pk) >= 2048;
		if (!ok)
			snprintf(err, elen, "RS256 needs an RSA key of at least 2048 bits");
	} else if (alg == CP_JWT_ES256) {
		char group[64] = "";
		size_t gl = 0;

		ok = EVP_PKEY_is_a(pk, "EC") &&
		     EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &gl) == 1 &&
		     (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"));
		if (!ok)
			snprintf(err, elen, "ES256 needs a P-256 key");
	} else {
		snprintf(err, elen, "HS256 takes a secret, not a public key");
	}
	if (!ok) {
		EVP_PKEY_free(pk);
		return -1;
	}
	struct cp_jwt_key *k = &ks->k[ks->n++];

	memset(k, 0, sizeof(*k));
	k->alg = alg;
	k->pub = pk;
	return 0;
}

void cp_jwt_keys_free(struct cp_jwt_keys *ks)
{
	for (unsigned i = 0; i < ks->n; i++) {
		EVP_PKEY_free(ks->k[i].pub);
		OPENSSL_cleanse(ks->k[i].secret, sizeof(ks->k[i].secret));
	}
	ks->n = 0;
}

static bool verify_hs(const struct cp_jwt_key *k, const char *data, size_t len, const uint8_t *sig,
		      size_t slen)
{
	uint8_t mac[32];
	unsigned ml = 0;

	if (slen != 32 || !HMAC(EVP_sha256(), k->secret, (int)k->secret_len,
				(const unsigned char *)data, len, mac, &ml))
		return false;
	return ml == 32 && CRYPTO_memcmp(mac, sig, 32) == 0;
}

static bool verify_pk(const struct cp_jwt_key *k, const char *data, size_t len, const uint8_t *sig,
		      size_t slen)
{
	uint8_t der[80];
	const uint8_t *s = sig;
	size_t dl = slen;

	if (k->alg == CP_JWT_ES256) {
		/* JWS carries r || s; OpenSSL verifies DER */
		if (slen != 64)
			return false;
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
		unsigned char *p = der;
		int n = -1;

		if (es && r && ss && ECDSA_SIG_set0(es, r, ss) == 1) {
			r = ss = NULL;
			n = i2d_ECDSA_SIG(es, NULL) <= (int)sizeof(der) ? i2d_ECDSA_SIG(es, &p)
									: -1;
		}
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(es);
		if (n <= 0)
			return false;
		s = der;
		dl = (size_t)n;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pub) == 1 &&
		  EVP_DigestVerify(ctx, s, dl, (const unsigned char *)data, len) == 1;

	EVP_MD_CTX_free(ctx);
	return ok;
}

static json_t *decode_json(const char *p, size_t len)
{
	uint8_t buf[CP_JWT_MAX_LEN];
	long n = cp_b64url_decode(p, len, buf, sizeof(buf));

	if (n <= 0)
		return NULL;
	json_t *o = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);

	if (o && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool aud_has(json_t *aud, const char *want)
{
	if (json_is_string(aud))
		return !strcmp(json_string_value(aud), want);
	if (json_is_array(aud)) {
		size_t i;
		json_t *v;

		json_array_foreach(aud, i, v) if (json_is_string(v) &&
						  !strcmp(json_string_value(v), want)) return true;
	}
	return false;
}

/* Whether the token's room claim names room: both as cp_roomname keys, so a claim written
 * "Bürgersprechstunde" admits the link's "bürgersprechstunde" (NFC or NFD alike). */
static bool same_room(const char *claim, const char *room)
{
	char a[CP_ROOM_BYTES + 1], b[CP_ROOM_BYTES + 1];

	return room && cp_roomname_canon(claim, strlen(claim), NULL, a) &&
	       cp_roomname_canon(room, strlen(room), NULL, b) && !strcmp(a, b);
}

static enum cp_jwt_err claims(const struct cp_jwt_keys *ks, json_t *pl, const char *tenant,
			      const char *room, int64_t now, struct cp_jwt_claims *out)
{
	json_t *exp = json_object_get(pl, "exp"), *nbf = json_object_get(pl, "nbf");
	json_t *iss = json_object_get(pl, "iss"), *aud = json_object_get(pl, "aud");
	json_t *ten = json_object_get(pl, "tenant"), *rm = json_object_get(pl, "room");
	json_t *mod = json_object_get(pl, "moderator");

	/* the leeway goes on our clock, never on the token's numbers: a signed token may carry
	 * any 64-bit value, and adding to it could overflow */
	if (!json_is_integer(exp) || json_integer_value(exp) <= now - CP_JWT_LEEWAY_S)
		return CP_JWT_EXPIRED;
	if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now + CP_JWT_LEEWAY_S))
		return CP_JWT_NOT_YET;
	if (ks->issuer[0] && (!json_is_string(iss) || strcmp(json_string_value(iss), ks->issuer)))
		return CP_JWT_ISSUER;
	if (ks->audience[0] && !aud_has(aud, ks->audience))
		return CP_JWT_AUDIENCE;
	if (!json_is_string(ten) || strcmp(json_string_value(ten), tenant))
		return CP_JWT_TENANT;
	if (rm && !json_is_string(rm))
		return CP_JWT_ROOM;
	bool any = !rm || !strcmp(json_string_value(rm), "*");

	if (!any && !same_room(json_string_value(rm), room))
		return CP_JWT_ROOM;
	out->moderator = json_is_true(mod);
	out->one_time = json_is_true(json_object_get(pl, "one_time"));
	out->room_any = any;
	out->exp = json_integer_value(exp);
	return CP_JWT_OK;
}

enum cp_jwt_err cp_jwt_verify(const struct cp_jwt_keys *ks, const char *token, const char *tenant,
			      const char *room, int64_t now, struct cp_jwt_claims *out)
{
	size_t len = token ? strnlen(token, CP_JWT_MAX_LEN + 1) : 0;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > CP_JWT_MAX_LEN)
		return CP_JWT_MALFORMED;
	const char *d1 = memchr(token, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;

	if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		return CP_JWT_MALFORMED;
	json_t *hdr = decode_json(token, (size_t)(d1 - token));
	json_t *pl = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
	uint8_t sig[512];
	long sl = cp_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), sig, sizeof(sig));
	enum cp_jwt_err rc = CP_JWT_MALFORMED;

	if (!hdr || !pl || sl < 0)
		goto out;
	json_t *alg = json_object_get(hdr, "alg");
	const char *a = json_is_string(alg) ? json_string_value(alg) : "";
	enum cp_jwt_alg want;

	if (!strcmp(a, "HS256"))
		want = CP_JWT_HS256;
	else if (!strcmp(a, "RS256"))
		want = CP_JWT_RS256;
	else if (!strcmp(a, "ES256"))
		want = CP_JWT_ES256;
	else {
		rc = CP_JWT_ALG; /* "none" and everything else */
		goto out;
	}
	/* "crit" extensions we do not know must make the token unusable (RFC 7515 4.1.11) */
	if (json_object_get(hdr, "crit")) {
		rc = CP_JWT_ALG;
		goto out;
	}
	bool have = false, good = false;
	size_t signed_len = (size_t)(d2 - token);

	for (unsigned i = 0; i < ks->n && !good; i++) {
		const struct cp_jwt_key *k = &ks->k[i];

		if (k->alg != want)
			continue;
		have = true;
		good = want == CP_JWT_HS256 ? verify_hs(k, token, signed_len, sig, (size_t)sl)
					    : verify_pk(k, token, signed_len, sig, (size_t)sl);
	}
	if (!have)
		rc = CP_JWT_ALG;
	else if (!good)
		rc = CP_JWT_SIGNATURE;
	else
		rc = claims(ks, pl, tenant, room, now, out);
out:
	json_decref(hdr);
	json_decref(pl);
	OPENSSL_cleanse(sig, sizeof(sig));
	return rc;
}

const char *cp_jwt_err_str(enum cp_jwt_err e)
{
	switch (e) {
	case CP_JWT_OK:
		return "ok";
	case CP_JWT_MALFORMED:
		return "token malformed";
	case CP_JWT_ALG:
		return "token algorithm not accepted";
	case CP_JWT_SIGNATURE:
		return "token signature invalid";
	case CP_JWT_EXPIRED:
		return "token expired";
	case CP_JWT_NOT_YET:
		return "token not valid yet";
	case CP_JWT_ISSUER:
		return "token from another issuer";
	case CP_JWT_AUDIENCE:
		return "token for another audience";
	case CP_JWT_TENANT:
		return "token for another tenant";
	case CP_JWT_ROOM:
		return "token for another room";
	}
	return "token invalid";
}

int cp_turn_credential(const uint8_t *secret, size_t slen, int64_t expiry, const char *user,
		       char *username, size_t ulen, char *password, size_t plen)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned ml = 0;
	int n = snprintf(username, ulen, "%lld:%s", (long long)expiry, user);

	if (n < 0 || (size_t)n >= ulen || plen < 29)
		return -1;
	if (!HMAC(EVP_sha1(), secret, (int)slen, (const uint8_t *)username, (size_t)n, mac, &ml))
		return -1;
	EVP_EncodeBlock((unsigned char *)password, mac, (int)ml); /* 20 bytes: 28 characters */
	return 0;
}
