/*
 * cp_server: the control plane's one libwebsockets event loop on one TLS port: the static web
 * client, WebSocket signalling on /ws, the admin API (cp_api), /healthz and /readyz. With an
 * admin listener the API and /metrics are served there only (an address the public cannot
 * reach), and the public port answers them 404. A WebSocket connection is a struct cp_conn;
 * cp_room decides what its messages mean.
 */
#ifndef CP_SERVER_H
#define CP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct cp_conn;
struct cp_part;
struct cp_source;

struct cp_server_conf {
	uint16_t port;
	const char *cert;
	const char *key;
	const char *web_root;
	const char *bind;    /* NULL: every address */
	uint16_t admin_port; /* 0: the API on the public port */
	const char *admin_bind;
	unsigned msg_rate; /* signalling messages per second per connection */
};

int cp_server_init(const struct cp_server_conf *c);
/* Runs the loop until cp_server_stop; calls tick about every 10 ms. */
void cp_server_run(void (*tick)(uint64_t now_ms));
void cp_server_stop(void);
void cp_server_fini(void);

/* Queues a text message (takes ownership of json, a malloc'd string). */
void cp_conn_send(struct cp_conn *c, char *json);
/* Closes after what is queued has gone out. */
void cp_conn_close(struct cp_conn *c);
void cp_conn_set_part(struct cp_conn *c, struct cp_part *p);
struct cp_part *cp_conn_part(struct cp_conn *c);
/* The Host header and path of the connection's upgrade request (which tenant it is for). */
const char *cp_conn_host(const struct cp_conn *c);
const char *cp_conn_path(const struct cp_conn *c);
/* The client's IP address, for rate limits only (never logged). */
const char *cp_conn_peer(const struct cp_conn *c);
/* Where it comes from (cp_limits); NULL when its address could not be read. */
struct cp_source *cp_conn_source(const struct cp_conn *c);
uint64_t cp_now_ms(void);

#endif
