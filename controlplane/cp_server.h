/*
 * cp_server: the control plane's one libwebsockets event loop on one TLS port: the static web
 * client, WebSocket signalling on /ws, the admin API (cp_api), /healthz and /readyz. With an
 * admin listener the API and /metrics are served there only (an address the public cannot
 * reach), and the public port answers them 404. A WebSocket connection is a struct cp_conn;
 * cp_room decides what its messages mean,
 * and reaches connections only through cp_server_conn_ops.
 */
#ifndef CP_SERVER_H
#define CP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct cp_conn;
struct cp_room_conn_ops;

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
/* The connection operations cp_room is given at cp_room_init: sending, closing, the
 * participant a connection speaks for and what the upgrade request said. */
extern const struct cp_room_conn_ops cp_server_conn_ops;
uint64_t cp_now_ms(void);

#endif
