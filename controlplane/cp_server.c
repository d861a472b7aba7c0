/*
 * cp_server: libwebsockets plumbing of funkhaus-cp. One TLS port serves the web client's
 * static files (a fixed set of file names from the web root; any valid room path gets the
 * client page), /healthz, and WebSocket signalling on /ws. Outgoing messages wait in a
 * per-connection queue until lws says the socket is writable; a client that stops reading
 * is cut off instead of growing the queue without bound.
 */
#include "cp_server.h"
#include "cp_cluster.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "cp_api.h"
#include "cp_dp.h"
#include "cp_limits.h"
#include "cp_room.h"
#include "cp_sig.h"
#include "fh_log.h"

#define CP_QUEUE_MAX_BYTES (4 << 20)
#define CP_CHUNK 4096 /* bytes of a response written per writable callback */

struct cp_msg {
	struct cp_msg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then the text */
};

struct cp_conn {
	struct lws *wsi;
	struct cp_part *part;
	char host[128]; /* the Host header of the upgrade, for the tenant */
	char peer[64];	/* the client's address: rate limits; logged only as its tenant says */
	char path[80];	/* and its path: "/ws" or "/<prefix>/ws" */
	char *rx;
	size_t rx_len;
	bool rx_overflow;
	bool closing;
	struct cp_msg *head, *tail;
	size_t queued;
	bool ws;		 /* a signalling connection (counted), not a plain HTTP request */
	bool ws_counted;	 /* in its source's share of signalling connections */
	struct cp_source *src;	 /* where it comes from, for fair shares */
	struct cp_bucket bucket; /* signalling messages, from the first one on */
	unsigned limited;	 /* messages refused in a row for the rate */
	uint64_t since_ms;	 /* upgraded then: it joins within join_timeout */
	struct cp_conn *prev, *next; /* signalling connections, for the join timeout */
	/* an HTTP response being written: LWS_PRE bytes of headroom, then the body */
	unsigned char *resp;
	size_t resp_len, resp_off;
	/* an admin API request waiting for its body */
	enum cp_http_method method;
	char uri[1024]; /* an API request's: room names in UTF-8 take up to 512 bytes */
	char auth[256];
	char *req;
	size_t req_len;
	bool req_too_big;
};

static struct {
	struct lws_context *ctx;
	struct lws_vhost *admin; /* the admin listener's vhost; NULL: none */
	char web_root[512];
	volatile bool stop;
	void (*tick)(uint64_t);
	lws_sorted_usec_list_t sul;
	unsigned msg_rate;
	struct cp_conn *ws; /* signalling connections, oldest last */
	uint64_t last_sweep_ms;
} s;

/* Marks an accepted connection whose address could not be read: counted in the total only. */
static char no_source;

uint64_t cp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_set_part(struct cp_conn *c, struct cp_part *p)
{
	c->part = p;
	if (!p)
		c->since_ms = cp_now_ms(); /* left: it may join again, within the same bound */
}

static struct cp_part *conn_part(struct cp_conn *c)
{
	return c->part;
}

static void conn_facts(const struct cp_conn *c, struct cp_room_conn_facts *f)
{
	f->host = c->host;
	f->path = c->path;
	f->peer = c->peer;
	f->src = c->src;
}

void cp_conn_send(struct cp_conn *c, char *json)
{
	if (!json)
		return;
	size_t len = strlen(json);

	if (c->closing || !c->wsi || c->queued + len > CP_QUEUE_MAX_BYTES) {
		if (!c->closing && c->wsi) {
			FH_WARN("signalling client too slow; closing its connection");
			cp_conn_close(c);
		}
		free(json);
		return;
	}
	struct cp_msg *m = malloc(sizeof(*m) + LWS_PRE + len);

	if (!m) {
		free(json);
		return;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, json, len);
	free(json);
	if (c->tail)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
	c->queued += len;
	lws_callback_on_writable(c->wsi);
}

void cp_conn_close(struct cp_conn *c)
{
	c->closing = true;
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

const struct cp_room_conn_ops cp_server_conn_ops = {
	.send = cp_conn_send,
	.close = cp_conn_close,
	.set_part = conn_set_part,
	.part = conn_part,
	.facts = conn_facts,
	.now_ms = cp_now_ms,
};

static void conn_free(struct cp_conn *c)
{
	if (c->ws_counted)
		cp_limits_ws_close(c->src);
	c->ws_counted = false;
	if (c->ws) {
		if (c->prev)
			c->prev->next = c->next;
		else if (s.ws == c)
			s.ws = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->prev = c->next = NULL;
	}
	while (c->head) {
		struct cp_msg *m = c->head;

		c->head = m->next;
		free(m);
	}
	c->tail = NULL;
	free(c->rx);
	c->rx = NULL;
	c->wsi = NULL;
}

static const char *mime_of(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (!dot)
		return "application/octet-stream";
	if (!strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (!strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (!strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (!strcmp(dot, ".svg"))
		return "image/svg+xml";
	if (!strcmp(dot, ".png"))
		return "image/png";
	if (!strcmp(dot, ".ico"))
		return "image/x-icon";
	if (!strcmp(dot, ".json"))
		return "application/json";
	return "application/octet-stream";
}

/* "/app.js": one path segment of [a-z0-9._-] with an extension, never "..". */
static bool static_name(const char *uri)
{
	if (uri[0] != '/' || !strchr(uri, '.') || strstr(uri, ".."))
		return false;
	for (const char *p = uri + 1; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '.' &&
		    *p != '_' && *p != '-')
			return false;
	return strlen(uri) < 64;
}

static void http_free(struct cp_conn *c)
{
	free(c->resp);
	c->resp = NULL;
	c->resp_len = c->resp_off = 0;
	free(c->req);
	c->req = NULL;
	c->req_len = 0;
}

/* Sends status, headers and body (written in chunks as the socket takes them). */
static int reply_n(struct lws *wsi, struct cp_conn *c, unsigned status, const char *ctype,
		   const char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
					   *end = hdr + sizeof(hdr) - 1;

	free(c->resp);
	c->resp = malloc(LWS_PRE + len + 1);
	if (!c->resp)
		return -1;
	memcpy(c->resp + LWS_PRE, body, len);
	c->resp_len = len;
	c->resp_off = 0;
	if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end) ||
	    (status == 401 &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
					 (const unsigned char *)"Bearer", 6, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int reply(struct lws *wsi, struct cp_conn *c, unsigned status, const char *ctype,
		 const char *body)
{
	return reply_n(wsi, c, status, ctype, body, strlen(body));
}

static int write_more(struct lws *wsi, struct cp_conn *c)
{
	if (c->resp) {
		size_t n = c->resp_len - c->resp_off;
		bool last = n <= CP_CHUNK;

		if (!last)
			n = CP_CHUNK;
		/* lws_write needs LWS_PRE writable bytes before what it sends */
		unsigned char *at = c->resp + c->resp_off;

		if (n && lws_write(wsi, at + LWS_PRE, n,
				   last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
			return -1;
		c->resp_off += n;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
		http_free(c);
	}
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int api_request(struct lws *wsi, struct cp_conn *c)
{
	struct cp_api_resp r;
	int rc;

	cp_api_handle(c->method, c->uri, c->auth, c->req, c->req_len, c->req_too_big, &r);
	free(c->req);
	c->req = NULL;
	rc = reply(wsi, c, r.status, r.ctype, r.body ? r.body : "");
	free(r.body);
	return rc;
}

/* The admin API, /metrics and /readyz: GET and DELETE at once, the others after their body. */
static int api_begin(struct lws *wsi, struct cp_conn *c, const char *uri)
{
	static const struct {
		enum lws_token_indexes tok;
		enum cp_http_method m;
	} methods[] = {
		{WSI_TOKEN_GET_URI, CP_HTTP_GET},	{WSI_TOKEN_POST_URI, CP_HTTP_POST},
		{WSI_TOKEN_PUT_URI, CP_HTTP_PUT},	{WSI_TOKEN_PATCH_URI, CP_HTTP_PATCH},
		{WSI_TOKEN_DELETE_URI, CP_HTTP_DELETE},
	};
	int found = -1;

	http_free(c);
	c->req_too_big = false;
	for (int i = 0; i < 5; i++)
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
			found = i;
	if (found < 0)
		return reply(wsi, c, 405, "application/json",
			     "{\"error\":{\"status\":405,\"message\":\"method not allowed\"}}");
	if (strlen(uri) >= sizeof(c->uri))
		return reply(wsi, c, 414, "application/json",
			     "{\"error\":{\"status\":414,\"message\":\"URI too long\"}}");
	c->method = methods[found].m;
	snprintf(c->uri, sizeof(c->uri), "%s", uri);
	if (lws_hdr_copy(wsi, c->auth, sizeof(c->auth), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
		c->auth[0] = '\0';
	char cl[24] = "";

	/* without a body (GET, DELETE, or no Content-Length or 0) it is answered now */
	if (c->method == CP_HTTP_GET || c->method == CP_HTTP_DELETE ||
	    lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 || atol(cl) <= 0)
		return api_request(wsi, c);
	return 0; /* LWS_CALLBACK_HTTP_BODY and _COMPLETION follow */
}

static int api_body(struct cp_conn *c, const void *in, size_t len)
{
	if (c->req_too_big || c->req_len + len > CP_API_BODY_MAX) {
		c->req_too_big = true;
		return 0;
	}
	char *n = realloc(c->req, c->req_len + len + 1);

	if (!n)
		return -1;
	c->req = n;
	memcpy(c->req + c->req_len, in, len);
	c->req_len += len;
	c->req[c->req_len] = '\0';
	return 0;
}

static int serve_file(struct lws *wsi, const char *name)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", s.web_root, name);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	int n = lws_serve_http_file(wsi, path, mime_of(path), "cache-control: no-cache\r\n",
				    (int)strlen("cache-control: no-cache\r\n"));

	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

/* "/<prefix>/rest": the length of a tenant path prefix ("/x/"), 0 when uri has none. */
static size_t prefix_len(const char *uri)
{
	size_t n = 1;

	if (uri[0] != '/')
		return 0;
	while (uri[n] &&
	       (islower((unsigned char)uri[n]) || isdigit((unsigned char)uri[n]) || uri[n] == '-'))
		n++;
	return n > 1 && n <= 33 && uri[n] == '/' ? n : 0;
}

static int tenant_info(struct lws *wsi, struct cp_conn *c, const char *uri)
{
	char host[128] = "";
	char *body;

	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) < 0 ||
	    !(body = cp_room_tenant_info(host, uri))) {
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	int rc = reply(wsi, c, HTTP_STATUS_OK, "application/json", body);

	free(body);
	return rc;
}

static int not_found(struct lws *wsi)
{
	lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The client's page with status 404, for a path that is neither a file nor a room: the
 * client says "not found" in the person's language, with the way to the start page. */
static int not_found_page(struct lws *wsi, struct cp_conn *c)
{
	char path[600];
	FILE *f;
	char *body;
	long n;

	snprintf(path, sizeof(path), "%s/index.html", s.web_root);
	f = fopen(path, "rb");
	if (!f)
		return not_found(wsi);
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > 1 << 20 || fseek(f, 0, SEEK_SET) ||
	    !(body = malloc((size_t)n + 1))) {
		fclose(f);
		return not_found(wsi);
	}
	size_t got = fread(body, 1, (size_t)n, f);

	fclose(f);
	int rc = reply_n(wsi, c, HTTP_STATUS_NOT_FOUND, "text/html; charset=utf-8", body, got);

	free(body);
	return rc;
}

/* What a path below "/" (or below a tenant's prefix) gets: a file of the client that is
 * there; 404 for a missing file a page would load; the client's page for a room's path (any
 * room name cp_roomname takes, lws having decoded its percent-encoded UTF-8); and the client's
 * page with 404 for anything else. */
static int page_or_asset(struct lws *wsi, struct cp_conn *c, const char *path)
{
	char file[600];
	struct stat st;

	if (!strcmp(path, "/"))
		return serve_file(wsi, "index.html");
	if (static_name(path)) {
		snprintf(file, sizeof(file), "%s%s", s.web_root, path);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
			return serve_file(wsi, path + 1);
	}
	if (cp_roomname_file_like(path))
		return not_found(wsi); /* no room is named like that */
	if (path[0] == '/' && cp_sig_valid_room(path + 1))
		return serve_file(wsi, "index.html"); /* the room page; the client reads its path */
	return not_found_page(wsi, c);
}

static int http_request(struct lws *wsi, struct cp_conn *c, const char *uri)
{
	size_t pl = prefix_len(uri);

	bool admin_vh = s.admin && lws_get_vhost(wsi) == s.admin;

	/* with an admin listener: the API there, and only the API and health there */
	if (s.admin && !admin_vh && cp_api_owns(uri) && strcmp(uri, "/readyz"))
		return not_found(wsi);
	if (admin_vh && !cp_api_owns(uri) && strcmp(uri, "/healthz") &&
	    strcmp(uri, "/api/v1/openapi.json"))
		return not_found(wsi);
	if (!strcmp(uri, "/api/v1/openapi.json"))
		return serve_file(wsi, "openapi.json");
	if (cp_api_owns(uri))
		return api_begin(wsi, c, uri);

	/* a tenant's pages under its path prefix: the same client, its own tenant.json */
	if (pl) {
		const char *rest = uri + pl;

		if (!strcmp(rest, "/tenant.json"))
			return tenant_info(wsi, c, uri);
		return page_or_asset(wsi, c, rest);
	}
	if (!strcmp(uri, "/tenant.json"))
		return tenant_info(wsi, c, uri);
	if (!strcmp(uri, "/healthz")) {
		char body[256];
		int ready;
		unsigned rooms, parts;

		/* alive whatever the dataplane does; "dataplane" is whether joins are taken now,
		 * the heartbeat's age how long it has been quiet (-1: none attached) */
		cp_room_stats(&ready, &rooms, &parts);
		snprintf(body, sizeof(body),
			 "{\"status\":\"ok\",\"dataplane\":%s,\"dataplane_heartbeat_ms\":%ld,"
			 "\"rooms\":%u,\"participants\":%u}\n",
			 ready ? "true" : "false", cp_dp_heartbeat_age_ms(), rooms, parts);
		return reply(wsi, c, HTTP_STATUS_OK, "application/json", body);
	}
	if (!strcmp(uri, "/index.html"))
		return serve_file(wsi, "index.html");
	return page_or_asset(wsi, c, uri);
}

/* "/t/<tenant id>/ws": where the cluster sends a join for a room this node holds. */
static bool tenant_ws(const char *uri)
{
	size_t l;

	if (strncmp(uri, "/t/", 3))
		return false;
	l = strspn(uri + 3, "abcdefghijklmnopqrstuvwxyz0123456789-");
	return l > 0 && l <= 32 && !strcmp(uri + 3 + l, "/ws");
}

/* Only /ws upgrades, and only from a page of our own origin, of a node of our cluster or of
 * a tenant's host (no cross-site signalling). */
static int filter_ws(struct lws *wsi)
{
	char uri[64], origin[256], host[256];

	if (s.admin && lws_get_vhost(wsi) == s.admin)
		return 1; /* no signalling on the admin listener */
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 ||
	    (strcmp(uri, "/ws") && (!prefix_len(uri) || strcmp(uri + prefix_len(uri), "/ws")) &&
	     !tenant_ws(uri)))
		return 1;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) {
		if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0 ||
		    lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) < 0)
			return 1;
		/* scheme, host and port: every page of ours is served over TLS, so an http://
		 * origin on our host name is someone else's page */
		if ((strncasecmp(origin, "https://", 8) || strcasecmp(origin + 8, host)) &&
		    !cp_cluster_origin_ok(origin) && !cp_room_origin_known(origin))
			return 1;
	}
	return 0;
}

static int rx_message(struct lws *wsi, struct cp_conn *c, const void *in, size_t len)
{
	if (c->closing)
		return 0; /* refused or sent away: what it still says is not heard */
	if (lws_is_first_fragment(wsi)) {
		c->rx_len = 0;
		c->rx_overflow = false;
	}
	if (lws_frame_is_binary(wsi))
		c->rx_overflow = true;
	if (!c->rx_overflow) {
		if (c->rx_len + len > CP_SIG_MAX_MSG) {
			c->rx_overflow = true;
		} else {
			char *n = realloc(c->rx, c->rx_len + len + 1);

			if (!n)
				return -1;
			c->rx = n;
			memcpy(c->rx + c->rx_len, in, len);
			c->rx_len += len;
		}
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	if (!cp_bucket_take(&c->bucket, s.msg_rate, cp_now_ms())) {
		/* from the first message on, joined or not: a socket that keeps going past
		 * the limit after being told is closed */
		cp_limits_count(CP_REFUSE_rate_limited);
		if (++c->limited > 4 * s.msg_rate) {
			FH_INFO("signalling connection closed: it kept sending past the rate "
				"limit");
			cp_conn_close(c);
		} else {
			cp_conn_send(c, cp_sig_error_json(CP_ERR_RATE_LIMITED));
		}
	} else if (c->rx_overflow) {
		c->limited = 0;
		cp_conn_send(c, cp_sig_error_json(CP_ERR_TOO_LARGE));
	} else {
		c->limited = 0;
		c->rx[c->rx_len] = '\0';
		cp_room_message(c, c->rx, c->rx_len);
	}
	c->rx_len = 0;
	/* A large offer's buffer is not kept for the life of the connection. */
	if (c->rx) {
		free(c->rx);
		c->rx = NULL;
	}
	return 0;
}

static int tx_ready(struct lws *wsi, struct cp_conn *c)
{
	struct cp_msg *m = c->head;

	if (!m) {
		if (c->closing) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return 0;
	}
	c->head = m->next;
	if (!c->head)
		c->tail = NULL;
	c->queued -= m->len;
	int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);

	free(m);
	if (n < 0)
		return -1;
	if (c->head || c->closing)
		lws_callback_on_writable(wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct cp_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_request(wsi, c, (const char *)in);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_more(wsi, c);
	case LWS_CALLBACK_HTTP_BODY:
		return api_body(c, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return api_request(wsi, c);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c) /* lws may report a connection that never had its user data */
			http_free(c);
		return 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter_ws(wsi);
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
		/* before TLS: a source past its share, or a server at its cap, costs one
		 * accept and one close, and nothing is left readable on the listener */
		const struct lws_filter_network_conn_args *a = user;

		return a &&
		       !cp_limits_conn_allowed((const struct sockaddr *)&a->cli_addr, a->clilen);
	}
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		struct cp_source *src = NULL;
		int fd = lws_get_socket_fd(wsi);

		if (fd >= 0 && getpeername(fd, (struct sockaddr *)&sa, &sl) == 0)
			src = cp_limits_conn_open((struct sockaddr *)&sa, sl);
		else
			cp_limits_conn_open((struct sockaddr *)&sa, 0);
		lws_set_opaque_user_data(wsi, src ? (void *)src : &no_source);
		return 0;
	}
	case LWS_CALLBACK_WSI_DESTROY: {
		void *o = lws_get_opaque_user_data(wsi);

		if (o) {
			cp_limits_conn_close(o == &no_source ? NULL : o);
			lws_set_opaque_user_data(wsi, NULL);
		}
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof(*c));
		c->wsi = wsi;
		if (lws_hdr_copy(wsi, c->host, sizeof(c->host), WSI_TOKEN_HOST) < 0)
			c->host[0] = '\0';
		if (lws_hdr_copy(wsi, c->path, sizeof(c->path), WSI_TOKEN_GET_URI) < 0)
			c->path[0] = '\0';
		lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
		c->ws = true;
		{
			void *o = lws_get_opaque_user_data(wsi);

			c->src = o == &no_source ? NULL : o;
		}
		if (!cp_limits_ws_open(c->src)) {
			/* told why; the TCP cap stays higher, so the message gets there */
			cp_conn_send(c, cp_sig_error_json(CP_ERR_SOURCE_CONNECTIONS));
			cp_conn_close(c);
		} else {
			c->ws_counted = true;
		}
		c->since_ms = cp_now_ms();
		cp_bucket_init(&c->bucket, s.msg_rate, c->since_ms);
		c->next = s.ws;
		if (s.ws)
			s.ws->prev = c;
		s.ws = c;
		cp_api_count_connection(1);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return rx_message(wsi, c, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return tx_ready(wsi, c);
	case LWS_CALLBACK_CLOSED:
		if (c->ws)
			cp_api_count_connection(-1);
		cp_room_closed(c);
		conn_free(c);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{"funkhaus", callback, sizeof(struct cp_conn), 65536, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}};

static void log_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n'))
		n--;
	fh_log(level == LLL_ERR ? FH_LOG_ERR : FH_LOG_WARN, "lws: %.*s", (int)n, line);
}

static bool v4_literal(const char *a)
{
	struct in_addr x;

	return a && inet_pton(AF_INET, a, &x) == 1;
}

/*
 * Binds port the way lws will (bind an IP literal, or every address on a dual-stack socket) and
 * lets go: 0, or the errno lws would meet. lws reports a failed bind only in a line of its own
 * followed by "Failed to create default vhost", so without this the last word was about the
 * certificate. A bind to an interface name is left to lws.
 */
static int port_probe(const char *bind_addr, uint16_t port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	bool v4 = v4_literal(bind_addr);
	int one = 1, zero = 0, fd, rc = 0;

	if (bind_addr && !v4 && inet_pton(AF_INET6, bind_addr, &a6.sin6_addr) != 1)
		return 0;
	if (v4)
		inet_pton(AF_INET, bind_addr, &a4.sin_addr);
	fd = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && !v4 && !bind_addr && errno == EAFNOSUPPORT) {
		v4 = true; /* no IPv6 here: lws listens on IPv4 */
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return 0; /* nothing to learn; lws will say */
	/* as lws does: a port with connections in TIME_WAIT from the last run is free */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!v4)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (v4 ? bind(fd, (struct sockaddr *)&a4, sizeof(a4))
	       : bind(fd, (struct sockaddr *)&a6, sizeof(a6)))
		rc = errno;
	close(fd);
	return rc;
}

/* Says why port cannot be had and what to do; -1, or 0 when it can. */
static int port_check(const char *what, const char *bind_addr, uint16_t port)
{
	int e = port_probe(bind_addr, port);

	if (!e)
		return 0;
	FH_ERR("%s: cannot listen on %s port %u: %s%s", what,
	       bind_addr ? bind_addr : "every address", port, strerror(e),
	       e == EADDRINUSE	    ? " (another program has it: see ss -ltnp; stop it or choose "
				      "another port)"
	       : e == EACCES	    ? " (a port below 1024 needs CAP_NET_BIND_SERVICE, as the "
				      "systemd unit gives)"
	       : e == EADDRNOTAVAIL ? " (no interface of this host has that address)"
				    : "");
	return -1;
}

int cp_server_init(const struct cp_server_conf *conf)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	snprintf(s.web_root, sizeof(s.web_root), "%s", conf->web_root);
	s.msg_rate = conf->msg_rate ? conf->msg_rate : 20;
	/* Errors only: lws warnings can carry request lines, which we keep out of logs. */
	lws_set_log_level(LLL_ERR, log_emit);
	info.port = conf->port;
	info.iface = conf->bind;
	info.protocols = protocols;
	info.ssl_cert_filepath = conf->cert;
	info.ssl_private_key_filepath = conf->key;
	info.alpn = "http/1.1";
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	/* lws binds an IPv4 address only on an IPv4 socket; on its default dual-stack one it
	 * would listen on every address */
	if (v4_literal(conf->bind))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.timeout_secs = 30;
	if (port_check("[controlplane] port", conf->bind, conf->port) < 0 ||
	    (conf->admin_port &&
	     port_check("[api] listen", conf->admin_bind, conf->admin_port) < 0))
		return -1;
	s.ctx = lws_create_context(&info);
	if (!s.ctx) {
		FH_ERR("cannot start the HTTPS/WSS server on port %u: lws says why above (the "
		       "certificate %s and key %s must be PEM files this user can read)",
		       conf->port, conf->cert, conf->key);
		return -1;
	}
	s.admin = NULL;
	if (conf->admin_port && v4_literal(conf->bind) && conf->admin_bind &&
	    !v4_literal(conf->admin_bind)) {
		/* lws would fall back to listening on every IPv4 address: refuse instead */
		FH_ERR("[api] listen %s: with [controlplane] bind on an IPv4 address the admin "
		       "listener must have one too",
		       conf->admin_bind);
		lws_context_destroy(s.ctx);
		s.ctx = NULL;
		return -1;
	}
	if (conf->admin_port) {
		info.port = conf->admin_port;
		info.iface = conf->admin_bind;
		info.vhost_name = "admin";
		info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
		if (v4_literal(conf->admin_bind))
			info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
		s.admin = lws_create_vhost(s.ctx, &info);
		if (!s.admin) {
			FH_ERR("cannot start the admin listener on %s port %u",
			       conf->admin_bind ? conf->admin_bind : "every address",
			       conf->admin_port);
			lws_context_destroy(s.ctx);
			s.ctx = NULL;
			return -1;
		}
		FH_INFO("admin API and /metrics on %s port %u only", conf->admin_bind,
			conf->admin_port);
	}
	return 0;
}

/* Closes signalling connections that were upgraded and never joined (a participant, or a
 * place in a lobby) within join_timeout: each holds a descriptor and a share of its source. */
static void sweep(uint64_t now)
{
	uint64_t bound = (uint64_t)cp_limits()->join_timeout * 1000;

	if (now - s.last_sweep_ms < 1000)
		return;
	s.last_sweep_ms = now;
	for (struct cp_conn *c = s.ws; c; c = c->next) {
		if (c->part || c->closing || now - c->since_ms < bound)
			continue;
		cp_limits_count(CP_REFUSE_join_timeout);
		cp_conn_send(c, cp_sig_error_json(CP_ERR_JOIN_TIMEOUT));
		cp_conn_close(c);
	}
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	uint64_t now = cp_now_ms();

	cp_limits_tick(now);
	sweep(now);
	s.tick(now);
	lws_sul_schedule(s.ctx, 0, sul, on_tick, 5 * LWS_US_PER_MS);
}

void cp_server_run(void (*tick)(uint64_t now_ms))
{
	s.tick = tick;
	lws_sul_schedule(s.ctx, 0, &s.sul, on_tick, 1);
	while (!s.stop && lws_service(s.ctx, 0) >= 0)
		;
}

void cp_server_stop(void)
{
	s.stop = true;
	if (s.ctx)
		lws_cancel_service(s.ctx);
}

void cp_server_fini(void)
{
	if (s.ctx)
		lws_context_destroy(s.ctx);
	s.ctx = NULL;
}
