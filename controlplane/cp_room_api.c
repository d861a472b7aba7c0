/*
 * cp_room_api: cp_room for the admin API (cp_api): tenants with their load, rooms by tenant id
 * and lower-cased name, participants by pseudonym and role only with what the dataplane sends
 * each (its worker's status of the receiver), and what a moderator can do, done by an admin.
 * Event loop only.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cp_dp.h"
#include "cp_cluster.h"
#include "cp_room_pvt.h"
#include "cp_sig.h"
#include "cp_tenant.h"

static struct cp_room *api_room(const char *tenant, const char *room)
{
	char key[CP_ROOM_BYTES + 1];

	if (!cp_sig_valid_room(room))
		return NULL;
	cp_room_key(room, key);
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next)
		if (!strcmp(r->tenant, tenant) && !strcmp(r->key, key))
			return r;
	return NULL;
}

static struct cp_part *api_part(const char *tenant, const char *room, const char *id)
{
	struct cp_room *r = api_room(tenant, room);

	return r ? cp_room_part_by_id(r->parts, id) : NULL;
}

void cp_room_tenant_load(const char *tenant, unsigned *rooms, unsigned *participants,
			 unsigned *waiting)
{
	*rooms = *participants = *waiting = 0;
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next) {
		if (strcmp(r->tenant, tenant))
			continue;
		(*rooms)++;
		*participants += r->n;
		*waiting += r->n_waiting;
	}
}

static json_t *tenant_json(const struct cp_tenant *t)
{
	json_t *o = cp_tenant_json(t);
	unsigned rooms, parts, waiting;

	cp_room_tenant_load(t->id, &rooms, &parts, &waiting);
	json_object_set_new(o, "active_rooms", json_integer(rooms));
	json_object_set_new(o, "participants", json_integer(parts));
	return o;
}

json_t *cp_room_api_tenants(void)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < cp_room_g.tenants.n; i++)
		json_array_append_new(a, tenant_json(&cp_room_g.tenants.t[i]));
	return a;
}

json_t *cp_room_api_tenant(const char *tenant)
{
	const struct cp_tenant *t = cp_tenant_by_id(&cp_room_g.tenants, tenant);

	return t ? tenant_json(t) : NULL;
}

static json_t *room_json(const struct cp_room *r)
{
	return json_pack("{s:s, s:i, s:i, s:i, s:i, s:b, s:b, s:b}", "name", r->key, "participants",
			 r->n, "waiting", r->n_waiting, "worker", r->worker, "port",
			 cp_dp_worker_port(r->worker), "lobby", r->lobby, "password", r->has_pw,
			 "one_time", r->one_time);
}

json_t *cp_room_api_rooms(const char *tenant)
{
	json_t *a;

	if (!cp_tenant_by_id(&cp_room_g.tenants, tenant))
		return NULL;
	a = json_array();
	for (struct cp_room *r = cp_room_g.rooms; r; r = r->next)
		if (!strcmp(r->tenant, tenant))
			json_array_append_new(a, room_json(r));
	return a;
}

/* 255 in a layer field of the worker's status: none (or, for temporal, all); null here. */
static json_t *layer_json(uint8_t v)
{
	return v == 255 ? json_null() : json_integer(v);
}

/* One stream q receives: its m-line names the source, the worker's status (matched by the
 * SSRC q sees) what q gets of it. */
static json_t *receive_json(const struct cp_mline *ml, const struct fh_slot_stat *st)
{
	const struct fh_out_stat *o = NULL;
	char from[17];

	for (uint32_t i = 0; i < st->n_out; i++)
		if (st->out[i].out_ssrc == ml->out_ssrc) {
			o = &st->out[i];
			break;
		}
	snprintf(from, sizeof(from), "%016llx", (unsigned long long)ml->src);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:i, s:I}", "from", from, "kind",
			 ml->kind == CP_KIND_AUDIO ? "audio" : "video", "source",
			 ml->kind == CP_KIND_AUDIO	? "microphone"
			 : ml->src_pub == CP_PUB_SCREEN ? "screen"
							: "camera",
			 "layer", o ? layer_json(o->spatial) : json_null(), "target",
			 o ? layer_json(o->target) : json_null(), "temporal",
			 o ? layer_json(o->temporal) : json_null(), "layers", o ? o->n_layers : 0,
			 "bitrate_bps", (json_int_t)(o ? o->bitrate : 0));
}

/* What the worker sends q: its estimate of q's link and, per stream q receives, the layer. */
static json_t *downlink_json(const struct cp_part *q)
{
	struct fh_slot_stat st;
	json_t *recv = json_array();

	if (!q->in_dp || q->slot < 0 || !cp_dp_slot_stat(q->worker, (unsigned)q->slot, &st))
		memset(&st, 0, sizeof(st));
	for (unsigned i = 0; i < q->n_ml; i++) {
		const struct cp_mline *ml = &q->ml[i];

		/* the receive slots that carry someone now */
		if (ml->assigned && !ml->dead && ml->src && ml->kind != CP_KIND_OTHER)
			json_array_append_new(recv, receive_json(ml, &st));
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:o}", "estimate_bps", (json_int_t)st.estimate_bps,
			 "target_bps", (json_int_t)st.target_bps, "capacity_bps",
			 (json_int_t)st.capacity_bps, "sent_bps", (json_int_t)st.sent_bps,
			 "receives", recv);
}

json_t *cp_room_api_room(const char *tenant, const char *room)
{
	struct cp_room *r = api_room(tenant, room);
	json_t *o, *list;
	char id[17];

	if (!r)
		return NULL;
	o = room_json(r);
	list = json_array();
	/* people by pseudonym and role only: their names are none of the admin's business */
	for (struct cp_part *q = r->parts; q; q = q->next) {
		cp_room_part_id(q, id);
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:s, s:b, s:b, s:o}", "id", id,
						"pseudonym", q->pseudo, "role",
						q->moderator ? "moderator" : "participant", "media",
						q->media_up, "audio_muted", q->audio_muted,
						"downlink", downlink_json(q)));
	}
	json_object_set_new(o, "participant_list", list);
	json_object_set_new(o, "worker_rx_bps",
			    json_integer((json_int_t)cp_room_g.rx_bps[r->worker]));
	json_object_set_new(o, "worker_tx_bps",
			    json_integer((json_int_t)cp_room_g.tx_bps[r->worker]));
	return o;
}

int cp_room_api_close(const char *tenant, const char *room)
{
	struct cp_room *r = api_room(tenant, room);

	if (!r)
		return -1;
	cp_room_close(r, "admin");
	return 0;
}

int cp_room_api_close_elsewhere(const char *tenant, const char *room)
{
	char key[CP_ROOM_BYTES + 1];

	if (!cp_cluster_enabled())
		return 0;
	cp_room_key(room, key);
	return key[0] ? cp_cluster_close_elsewhere(tenant, key) : 0;
}

int cp_room_api_mute(const char *tenant, const char *room, const char *id)
{
	struct cp_part *q = api_part(tenant, room, id);

	if (!q)
		return -1;
	cp_moderate_mute(q);
	return 0;
}

int cp_room_api_remove(const char *tenant, const char *room, const char *id)
{
	struct cp_part *q = api_part(tenant, room, id);

	if (!q)
		return -1;
	cp_moderate_remove(q, "removed by an admin");
	return 0;
}

int cp_room_api_password(const char *tenant, const char *room, const char *password)
{
	struct cp_room *r = api_room(tenant, room);

	if (!r)
		return -1;
	return cp_moderate_password(r, password) ? -2 : 0;
}

int cp_room_api_lobby(const char *tenant, const char *room, bool on)
{
	struct cp_room *r = api_room(tenant, room);

	if (!r)
		return -1;
	cp_moderate_lobby(r, on);
	return 0;
}
