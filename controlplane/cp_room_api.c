/*
 * cp_room_api: cp_room for the admin API (cp_api): tenants with their load, rooms by tenant id
 * and lower-cased name, participants by pseudonym and role only, and what a moderator can do,
 * done by an admin. Event loop only.
 */
#include <string.h>

#include <jansson.h>

#include "cp_dp.h"
#include "cp_room_pvt.h"
#include "cp_sig.h"
#include "cp_tenant.h"

static struct cp_room *api_room(const char *tenant, const char *room)
{
	char key[CP_ROOM_MAX + 1];

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
				      json_pack("{s:s, s:s, s:s, s:b, s:b}", "id", id, "pseudonym",
						q->pseudo, "role",
						q->moderator ? "moderator" : "participant", "media",
						q->media_up, "audio_muted", q->audio_muted));
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
