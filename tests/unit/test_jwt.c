/*
 * Tokens: HS256, RS256 and ES256 accepted with their own kind of key; the matrix of bad ones
 * (expired, not yet valid, wrong audience, issuer, room, tenant, alg none, HS256 signed with
 * the RS256 public key, tampered, garbage) each rejected with its own error. Keys are made
 * here, at run time.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "cp_jwt.h"
#include "fh_test.h"

static EVP_PKEY *rsa, *ec, *ec_other;
static const uint8_t secret[] = "0123456789abcdef0123456789abcdef-hs256-test";
static const int64_t NOW = 1800000000;

static size_t pem_of(EVP_PKEY *k, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;

	PEM_write_bio_PUBKEY(b, k);
	long n = BIO_get_mem_data(b, &p);

	if (n < 0 || (size_t)n >= cap)
		n = 0;
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	return (size_t)n;
}

/* header.payload.signature; alg "HS256" with key NULL signs with hs/hs_len */
static void make(char *out, size_t cap, const char *alg, const char *payload, EVP_PKEY *key,
		 const uint8_t *hs, size_t hs_len)
{
	char hdr[128], h64[256], p64[2048], s64[1024];
	uint8_t sig[512];
	size_t sl = 0;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	cp_b64url_encode((const uint8_t *)hdr, strlen(hdr), h64, sizeof(h64));
	cp_b64url_encode((const uint8_t *)payload, strlen(payload), p64, sizeof(p64));
	snprintf(out, cap, "%s.%s", h64, p64);
	if (!strcmp(alg, "HS256")) {
		unsigned ml = 0;

		HMAC(EVP_sha256(), hs, (int)hs_len, (const uint8_t *)out, strlen(out), sig, &ml);
		sl = ml;
	} else if (key) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		uint8_t der[512];
		size_t dl = sizeof(der);

		EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key);
		EVP_DigestSign(c, der, &dl, (const uint8_t *)out, strlen(out));
		EVP_MD_CTX_free(c);
		if (EVP_PKEY_is_a(key, "EC")) {
			const uint8_t *p = der;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
			const BIGNUM *r, *s;

			ECDSA_SIG_get0(es, &r, &s);
			BN_bn2binpad(r, sig, 32);
			BN_bn2binpad(s, sig + 32, 32);
			ECDSA_SIG_free(es);
			sl = 64;
		} else {
			memcpy(sig, der, dl);
			sl = dl;
		}
	}
	cp_b64url_encode(sig, sl, s64, sizeof(s64));
	size_t n = strlen(out);

	snprintf(out + n, cap - n, ".%s", s64);
}

static void keys(struct cp_jwt_keys *ks, bool hs, bool rs, bool es)
{
	char pem[4096], err[128];

	memset(ks, 0, sizeof(*ks));
	snprintf(ks->issuer, sizeof(ks->issuer), "https://login.rastatt.example");
	snprintf(ks->audience, sizeof(ks->audience), "funkhaus");
	if (hs)
		CHECK_EQ(cp_jwt_add_secret(ks, secret, sizeof(secret) - 1, err, sizeof(err)), 0);
	if (rs)
		CHECK_EQ(cp_jwt_add_pem(ks, CP_JWT_RS256, pem, pem_of(rsa, pem, sizeof(pem)), err,
					sizeof(err)),
			 0);
	if (es)
		CHECK_EQ(cp_jwt_add_pem(ks, CP_JWT_ES256, pem, pem_of(ec, pem, sizeof(pem)), err,
					sizeof(err)),
			 0);
}

#define PAYLOAD(extra)                                                                            \
	"{\"iss\":\"https://login.rastatt.example\",\"aud\":\"funkhaus\",\"tenant\":\"rastatt\"," \
	"\"exp\":1800000600" extra "}"

static enum cp_jwt_err check(const struct cp_jwt_keys *ks, const char *tok, const char *room,
			     struct cp_jwt_claims *c)
{
	return cp_jwt_verify(ks, tok, "rastatt", room, NOW, c);
}

static void test_good(void)
{
	struct cp_jwt_keys ks;
	struct cp_jwt_claims c;
	char tok[4096];

	keys(&ks, true, true, true);
	make(tok, sizeof(tok), "HS256", PAYLOAD(",\"room\":\"Gemeinderat\",\"moderator\":true"),
	     NULL, secret, sizeof(secret) - 1);
	CHECK_EQ(check(&ks, tok, "gemeinderat", &c), CP_JWT_OK); /* room names ignore case */
	CHECK(c.moderator && !c.room_any);
	make(tok, sizeof(tok), "RS256", PAYLOAD(""), rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "anyroom", &c), CP_JWT_OK);
	CHECK(!c.moderator && c.room_any);
	CHECK_EQ(check(&ks, tok, NULL, &c), CP_JWT_OK); /* may create a room */
	make(tok, sizeof(tok), "ES256", PAYLOAD(",\"room\":\"*\",\"nbf\":1799999000"), ec, NULL, 0);
	CHECK_EQ(check(&ks, tok, "x", &c), CP_JWT_OK);
	/* audience as a list */
	make(tok, sizeof(tok), "ES256",
	     "{\"iss\":\"https://login.rastatt.example\",\"aud\":[\"other\",\"funkhaus\"],"
	     "\"tenant\":\"rastatt\",\"exp\":1800000600}",
	     ec, NULL, 0);
	CHECK_EQ(check(&ks, tok, "x", &c), CP_JWT_OK);
	cp_jwt_keys_free(&ks);
}

static void test_matrix(void)
{
	struct cp_jwt_keys ks, rs_only;
	struct cp_jwt_claims c;
	char tok[8192], pem[4096];

	keys(&ks, true, true, true);
	keys(&rs_only, false, true, false);

	make(tok, sizeof(tok), "RS256",
	     "{\"iss\":\"https://login.rastatt.example\",\"aud\":\"funkhaus\","
	     "\"tenant\":\"rastatt\",\"exp\":1799999000}",
	     rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_EXPIRED);
	make(tok, sizeof(tok), "RS256",
	     "{\"iss\":\"https://"
	     "login.rastatt.example\",\"aud\":\"funkhaus\",\"tenant\":\"rastatt\"}",
	     rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_EXPIRED); /* no exp at all */
	make(tok, sizeof(tok), "RS256", PAYLOAD(",\"nbf\":1800000300"), rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_NOT_YET);
	make(tok, sizeof(tok), "RS256",
	     "{\"iss\":\"https://login.rastatt.example\",\"aud\":\"jitsi\",\"tenant\":\"rastatt\","
	     "\"exp\":1800000600}",
	     rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_AUDIENCE);
	make(tok, sizeof(tok), "RS256",
	     "{\"iss\":\"https://evil.example\",\"aud\":\"funkhaus\",\"tenant\":\"rastatt\","
	     "\"exp\":1800000600}",
	     rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_ISSUER);
	make(tok, sizeof(tok), "RS256", PAYLOAD(",\"room\":\"Gemeinderat\""), rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "Bauausschuss", &c), CP_JWT_ROOM);
	CHECK_EQ(check(&ks, tok, NULL, &c), CP_JWT_ROOM); /* a room token cannot create others */
	CHECK_EQ(cp_jwt_verify(&ks, tok, "philmeet", "Gemeinderat", NOW, &c), CP_JWT_TENANT);
	/* times at the ends of 64 bits: decided, without overflow (UBSan halts on one) */
	make(tok, sizeof(tok), "RS256",
	     "{\"iss\":\"https://login.rastatt.example\",\"aud\":\"funkhaus\","
	     "\"tenant\":\"rastatt\",\"exp\":9223372036854775807,"
	     "\"nbf\":-9223372036854775808}",
	     rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_OK);
	make(tok, sizeof(tok), "RS256",
	     "{\"iss\":\"https://login.rastatt.example\",\"aud\":\"funkhaus\","
	     "\"tenant\":\"rastatt\",\"exp\":-9223372036854775808}",
	     rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_EXPIRED);
	make(tok, sizeof(tok), "RS256", PAYLOAD(",\"nbf\":9223372036854775807"), rsa, NULL, 0);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_NOT_YET);

	/* alg none: no signature at all */
	char h64[64], p64[512];
	const char *none = "{\"alg\":\"none\"}";

	cp_b64url_encode((const uint8_t *)none, strlen(none), h64, sizeof(h64));
	cp_b64url_encode((const uint8_t *)PAYLOAD(""), strlen(PAYLOAD("")), p64, sizeof(p64));
	snprintf(tok, sizeof(tok), "%s.%s.", h64, p64);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_ALG);

	/* HS256 "signed" with the RS256 public key as the secret */
	size_t pl = pem_of(rsa, pem, sizeof(pem));

	make(tok, sizeof(tok), "HS256", PAYLOAD(""), NULL, (const uint8_t *)pem, pl);
	CHECK_EQ(check(&rs_only, tok, "r", &c), CP_JWT_ALG);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_SIGNATURE);

	/* tampered: the payload of one token with the signature of another */
	char a[4096], b[4096];

	make(a, sizeof(a), "ES256", PAYLOAD(""), ec, NULL, 0);
	make(b, sizeof(b), "ES256", PAYLOAD(",\"moderator\":true"), ec, NULL, 0);
	snprintf(tok, sizeof(tok), "%.*s%s", (int)(strrchr(b, '.') - b), b, strrchr(a, '.'));
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_SIGNATURE);
	make(tok, sizeof(tok), "ES256", PAYLOAD(""), ec_other, NULL, 0);
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_SIGNATURE);

	/* garbage */
	const char *bad[] = {"",
			     "abc",
			     "a.b.c",
			     "a.b",
			     "....",
			     "eyJhbGciOiJIUzI1NiJ9.e30",
			     "eyJhbGciOiJIUzI1NiJ9.!!!.abc",
			     "W10.W10.AAAA"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(check(&ks, bad[i], "r", &c), CP_JWT_MALFORMED);
	CHECK_EQ(check(&ks, NULL, "r", &c), CP_JWT_MALFORMED);
	memset(tok, 'A', 5000);
	tok[5000] = '\0';
	CHECK_EQ(check(&ks, tok, "r", &c), CP_JWT_MALFORMED);

	/* every rejection above has its own words */
	for (int e = CP_JWT_MALFORMED; e <= CP_JWT_ROOM; e++)
		for (int f = e + 1; f <= CP_JWT_ROOM; f++)
			CHECK(strcmp(cp_jwt_err_str(e), cp_jwt_err_str(f)) != 0);
	cp_jwt_keys_free(&ks);
	cp_jwt_keys_free(&rs_only);
}

static void test_keys_refused(void)
{
	struct cp_jwt_keys ks = {0};
	char pem[4096], err[128];
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");

	CHECK_EQ(cp_jwt_add_secret(&ks, secret, 16, err, sizeof(err)), -1);
	CHECK_EQ(cp_jwt_add_pem(&ks, CP_JWT_RS256, pem, pem_of(small, pem, sizeof(pem)), err,
				sizeof(err)),
		 -1);
	CHECK_EQ(cp_jwt_add_pem(&ks, CP_JWT_ES256, pem, pem_of(p384, pem, sizeof(pem)), err,
				sizeof(err)),
		 -1);
	CHECK_EQ(cp_jwt_add_pem(&ks, CP_JWT_ES256, pem, pem_of(rsa, pem, sizeof(pem)), err,
				sizeof(err)),
		 -1);
	CHECK_EQ(cp_jwt_add_pem(&ks, CP_JWT_HS256, pem, pem_of(rsa, pem, sizeof(pem)), err,
				sizeof(err)),
		 -1);
	CHECK_EQ(cp_jwt_add_pem(&ks, CP_JWT_RS256, "junk", 4, err, sizeof(err)), -1);
	CHECK_EQ(ks.n, 0);
	EVP_PKEY_free(small);
	EVP_PKEY_free(p384);
}

static void test_b64(void)
{
	uint8_t out[16];
	char enc[32];

	CHECK_EQ(cp_b64url_decode("TWE", 3, out, sizeof(out)), 2);
	CHECK(memcmp(out, "Ma", 2) == 0);
	CHECK_EQ(cp_b64url_decode("TWF", 3, out, sizeof(out)), -1);  /* non-zero spare bits */
	CHECK_EQ(cp_b64url_decode("TWE=", 4, out, sizeof(out)), -1); /* no padding in JWS */
	CHECK_EQ(cp_b64url_decode("T", 1, out, sizeof(out)), -1);
	CHECK_EQ(cp_b64url_encode((const uint8_t *)"\xfb\xff", 2, enc, sizeof(enc)), 3);
	CHECK(!strcmp(enc, "-_8"));
}

/* TURN REST API credentials, checked against
 * printf '1700000000:8f3a9c21' | openssl dgst -sha1 -hmac north-sea-turn-secret -binary | base64 */
static void test_turn(void)
{
	char user[64], pass[64];
	const char *secret = "north-sea-turn-secret";

	CHECK_EQ(cp_turn_credential((const uint8_t *)secret, strlen(secret), 1700000000, "8f3a9c21",
				    user, sizeof(user), pass, sizeof(pass)),
		 0);
	CHECK(!strcmp(user, "1700000000:8f3a9c21"));
	CHECK(!strcmp(pass, "82SugN5qUpfCYfl2se/X4HL0oLw="));
	CHECK_EQ(cp_turn_credential((const uint8_t *)secret, strlen(secret), 1700000000, "8f3a9c21",
				    user, 8, pass, sizeof(pass)),
		 -1);
}

static void setup(void)
{
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(rsa && ec && ec_other);
}

TEST_MAIN(setup, test_b64, test_turn, test_good, test_matrix, test_keys_refused)
