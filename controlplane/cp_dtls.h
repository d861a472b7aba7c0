/*
 * cp_dtls: DTLS 1.2 server side of DTLS-SRTP (RFC 5763/5764) for every participant, on the
 * control plane's event loop. Records arrive from the worker through the ring region and
 * leave through it; OpenSSL sees a memory BIO to read and a datagram-per-write BIO to write.
 * One ECDSA P-256 certificate per process run.
 */
#ifndef CP_DTLS_H
#define CP_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fh_region.h"

/* Called for each datagram OpenSSL wants sent. */
typedef void (*cp_dtls_send_fn)(void *user, const uint8_t *data, size_t len);

enum cp_dtls_state { CP_DTLS_HANDSHAKE, CP_DTLS_DONE, CP_DTLS_FAILED };

struct cp_dtls;

/* Creates the certificate and the SSL_CTX; 0 or -1. */
int cp_dtls_global_init(void);
void cp_dtls_global_fini(void);
/* "sha-256 AB:CD:..." of this run's certificate, for a=fingerprint. */
const char *cp_dtls_fingerprint(void);

struct cp_dtls *cp_dtls_new(cp_dtls_send_fn send, void *user);
void cp_dtls_free(struct cp_dtls *d);
/* Feeds one received datagram; returns the state afterwards. */
enum cp_dtls_state cp_dtls_input(struct cp_dtls *d, const uint8_t *data, size_t len);
/* Retransmits when a handshake timer expired; returns the state. */
enum cp_dtls_state cp_dtls_tick(struct cp_dtls *d);
enum cp_dtls_state cp_dtls_state(const struct cp_dtls *d);
/* Compares the peer certificate's digest with the SDP fingerprint; true when it matches. */
bool cp_dtls_peer_matches(struct cp_dtls *d, const char *alg, const uint8_t *fp, size_t fp_len);
/* Exports the SRTP keys (RFC 5764 4.2) for the worker, server side. 0 or -1. */
int cp_dtls_srtp_keys(struct cp_dtls *d, struct fh_cmd_keys *k);
/* The last OpenSSL error, for logs (no secrets). */
const char *cp_dtls_error(const struct cp_dtls *d);

#endif
