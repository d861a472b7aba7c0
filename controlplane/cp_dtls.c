/*
 * cp_dtls: OpenSSL DTLS server with memory BIOs. The write side is a small custom BIO that
 * hands every BIO_write to the caller as one datagram, because a plain memory BIO would glue a
 * flight's records together and lose the datagram boundaries DTLS relies on.
 */
#include "cp_dtls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define CP_DTLS_MTU 1200

struct cp_dtls {
	SSL *ssl;
	BIO *rbio;
	BIO *wbio;
	cp_dtls_send_fn send;
	void *user;
	enum cp_dtls_state state;
	char err[160];
};

static SSL_CTX *g_ctx;
static EVP_PKEY *g_key;
static X509 *g_cert;
static BIO_METHOD *g_wmeth;
static char g_fp[8 + 3 * 32 + 1];

static int wbio_write(BIO *b, const char *data, int len)
{
	struct cp_dtls *d = BIO_get_data(b);

	if (len > 0 && d && d->send)
		d->send(d->user, (const uint8_t *)data, (size_t)len);
	return len;
}

static long wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return CP_DTLS_MTU;
	case BIO_CTRL_WPENDING:
	case BIO_CTRL_PENDING:
		return 0;
	default:
		return 0;
	}
}

static int wbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int verify_any(int ok, X509_STORE_CTX *ctx)
{
	/* WebRTC certificates are self-signed; trust comes from the SDP fingerprint, which
	 * cp_dtls_peer_matches checks before any key is used. */
	(void)ok;
	(void)ctx;
	return 1;
}

static int make_cert(void)
{
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	unsigned char serial[8];
	int rc = -1;

	if (!kctx || EVP_PKEY_keygen_init(kctx) <= 0 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1) <= 0 ||
	    EVP_PKEY_keygen(kctx, &g_key) <= 0)
		goto out;
	g_cert = X509_new();
	if (!g_cert)
		goto out;
	X509_set_version(g_cert, 2);
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);

	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(g_cert));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(g_cert), -86400);
	X509_gmtime_adj(X509_getm_notAfter(g_cert), 30L * 86400);
	X509_set_pubkey(g_cert, g_key);
	X509_NAME *name = X509_get_subject_name(g_cert);

	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"funkhaus", -1,
				   -1, 0);
	X509_set_issuer_name(g_cert, name);
	if (!X509_sign(g_cert, g_key, EVP_sha256()))
		goto out;

	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!X509_digest(g_cert, EVP_sha256(), md, &n))
		goto out;
	char *p = g_fp + sprintf(g_fp, "sha-256 ");

	for (unsigned i = 0; i < n; i++)
		p += sprintf(p, i ? ":%02X" : "%02X", md[i]);
	rc = 0;
out:
	EVP_PKEY_CTX_free(kctx);
	return rc;
}

int cp_dtls_global_init(void)
{
	if (make_cert() < 0)
		return -1;
	g_ctx = SSL_CTX_new(DTLS_server_method());
	if (!g_ctx)
		return -1;
	SSL_CTX_set_min_proto_version(g_ctx, DTLS1_2_VERSION);
	if (SSL_CTX_use_certificate(g_ctx, g_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(g_ctx, g_key) != 1 || SSL_CTX_check_private_key(g_ctx) != 1)
		return -1;
	SSL_CTX_set_verify(g_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_any);
	/* Server preference decides: GCM first (about 5x cheaper per packet here). */
	if (SSL_CTX_set_tlsext_use_srtp(g_ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0)
		return -1;
	SSL_CTX_set_cipher_list(g_ctx,
				"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
				"ECDHE-ECDSA-CHACHA20-POLY1305");
	SSL_CTX_set_read_ahead(g_ctx, 1);
	g_wmeth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "funkhaus-dtls-out");
	if (!g_wmeth)
		return -1;
	BIO_meth_set_write(g_wmeth, wbio_write);
	BIO_meth_set_ctrl(g_wmeth, wbio_ctrl);
	BIO_meth_set_create(g_wmeth, wbio_create);
	return 0;
}

void cp_dtls_global_fini(void)
{
	SSL_CTX_free(g_ctx);
	X509_free(g_cert);
	EVP_PKEY_free(g_key);
	BIO_meth_free(g_wmeth);
	g_ctx = NULL;
	g_cert = NULL;
	g_key = NULL;
	g_wmeth = NULL;
}

const char *cp_dtls_fingerprint(void)
{
	return g_fp;
}

struct cp_dtls *cp_dtls_new(cp_dtls_send_fn send, void *user)
{
	struct cp_dtls *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->send = send;
	d->user = user;
	d->ssl = SSL_new(g_ctx);
	d->rbio = BIO_new(BIO_s_mem());
	d->wbio = BIO_new(g_wmeth);
	if (!d->ssl || !d->rbio || !d->wbio) {
		BIO_free(d->rbio);
		BIO_free(d->wbio);
		SSL_free(d->ssl);
		free(d);
		return NULL;
	}
	BIO_set_mem_eof_return(d->rbio, -1);
	BIO_set_data(d->wbio, d);
	SSL_set_bio(d->ssl, d->rbio, d->wbio);
	SSL_set_options(d->ssl, SSL_OP_NO_QUERY_MTU);
	SSL_set_mtu(d->ssl, CP_DTLS_MTU);
	DTLS_set_link_mtu(d->ssl, CP_DTLS_MTU);
	SSL_set_accept_state(d->ssl);
	d->state = CP_DTLS_HANDSHAKE;
	return d;
}

void cp_dtls_free(struct cp_dtls *d)
{
	if (!d)
		return;
	if (d->state == CP_DTLS_DONE)
		SSL_shutdown(d->ssl); /* close_notify, so the browser learns at once */
	SSL_free(d->ssl);
	free(d);
}

static void note_error(struct cp_dtls *d)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, d->err, sizeof(d->err));
	else
		snprintf(d->err, sizeof(d->err), "handshake failed");
	ERR_clear_error();
}

static enum cp_dtls_state step(struct cp_dtls *d)
{
	if (d->state != CP_DTLS_HANDSHAKE)
		return d->state;
	int r = SSL_do_handshake(d->ssl);

	if (r == 1) {
		d->state = CP_DTLS_DONE;
	} else {
		int e = SSL_get_error(d->ssl, r);

		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			note_error(d);
			d->state = CP_DTLS_FAILED;
		}
	}
	return d->state;
}

enum cp_dtls_state cp_dtls_input(struct cp_dtls *d, const uint8_t *data, size_t len)
{
	if (len == 0 || len > FH_PKT_MAX)
		return d->state;
	BIO_write(d->rbio, data, (int)len);
	if (d->state == CP_DTLS_HANDSHAKE)
		return step(d);
	if (d->state == CP_DTLS_DONE) {
		/* After the handshake only alerts matter (close_notify); no application data. */
		char buf[256];
		int r = SSL_read(d->ssl, buf, sizeof(buf));

		if (r <= 0) {
			int e = SSL_get_error(d->ssl, r);

			if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SSL) {
				note_error(d);
				d->state = CP_DTLS_FAILED;
			}
		}
		(void)BIO_reset(d->rbio);
	}
	return d->state;
}

enum cp_dtls_state cp_dtls_tick(struct cp_dtls *d)
{
	if (d->state == CP_DTLS_HANDSHAKE && DTLSv1_handle_timeout(d->ssl) < 0) {
		note_error(d);
		d->state = CP_DTLS_FAILED;
	}
	return d->state;
}

enum cp_dtls_state cp_dtls_state(const struct cp_dtls *d)
{
	return d->state;
}

bool cp_dtls_peer_matches(struct cp_dtls *d, const char *alg, const uint8_t *fp, size_t fp_len)
{
	const EVP_MD *md;
	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	bool ok = false;

	if (!strcasecmp(alg, "sha-256"))
		md = EVP_sha256();
	else if (!strcasecmp(alg, "sha-384"))
		md = EVP_sha384();
	else if (!strcasecmp(alg, "sha-512"))
		md = EVP_sha512();
	else if (!strcasecmp(alg, "sha-1"))
		md = EVP_sha1();
	else
		return false;
	X509 *peer = SSL_get1_peer_certificate(d->ssl);

	if (!peer)
		return false;
	if (X509_digest(peer, md, got, &n) && n == fp_len && CRYPTO_memcmp(got, fp, n) == 0)
		ok = true;
	X509_free(peer);
	return ok;
}

int cp_dtls_srtp_keys(struct cp_dtls *d, struct fh_cmd_keys *k)
{
	SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(d->ssl);
	unsigned char mat[2 * (16 + 14)];
	size_t key = 16, salt;

	if (!prof)
		return -1;
	if (prof->id == SRTP_AEAD_AES_128_GCM) {
		salt = 12;
		k->profile = FH_SRTP_AEAD_AES_128_GCM;
	} else if (prof->id == SRTP_AES128_CM_SHA1_80) {
		salt = 14;
		k->profile = FH_SRTP_AES128_CM_SHA1_80;
	} else {
		return -1;
	}
	if (SSL_export_keying_material(d->ssl, mat, 2 * (key + salt), "EXTRACTOR-dtls_srtp", 19,
				       NULL, 0, 0) != 1)
		return -1;
	/* client key, server key, client salt, server salt; we are the server */
	memcpy(k->rx_key, mat, key);
	memcpy(k->rx_key + key, mat + 2 * key, salt);
	memcpy(k->tx_key, mat + key, key);
	memcpy(k->tx_key + key, mat + 2 * key + salt, salt);
	k->key_len = (uint8_t)(key + salt);
	OPENSSL_cleanse(mat, sizeof(mat));
	return 0;
}

const char *cp_dtls_error(const struct cp_dtls *d)
{
	return d->err[0] ? d->err : "none";
}
