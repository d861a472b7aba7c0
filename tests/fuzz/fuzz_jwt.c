/* libFuzzer target: token verification on untrusted strings (split, base64url, JSON, claims,
 * HS256 and ES256 checks). Nothing random may ever be accepted. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/pem.h>

#include "cp_jwt.h"

static struct cp_jwt_keys ks;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t secret[] = "fuzz-secret-fuzz-secret-fuzz-secret!";
	char err[128], pem[1024];
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *b = BIO_new(BIO_s_mem());
	char *p;

	(void)argc, (void)argv;
	PEM_write_bio_PUBKEY(b, ec);
	long n = BIO_get_mem_data(b, &p);

	memcpy(pem, p, (size_t)n);
	if (cp_jwt_add_secret(&ks, secret, sizeof(secret) - 1, err, sizeof(err)) < 0 ||
	    cp_jwt_add_pem(&ks, CP_JWT_ES256, pem, (size_t)n, err, sizeof(err)) < 0)
		__builtin_trap();
	BIO_free(b);
	EVP_PKEY_free(ec);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char tok[CP_JWT_MAX_LEN + 2];
	struct cp_jwt_claims c;

	if (size > CP_JWT_MAX_LEN + 1)
		return 0;
	memcpy(tok, data, size);
	tok[size] = '\0';
	if (cp_jwt_verify(&ks, tok, "t", "room", 1800000000, &c) == CP_JWT_OK)
		__builtin_trap(); /* a forged signature */
	return 0;
}
