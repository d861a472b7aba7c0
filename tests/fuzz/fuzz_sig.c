/* libFuzzer target: signalling message parsing and validation. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cp_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_sig_msg m;

	if (cp_sig_parse((const char *)data, size, &m) == CP_ERR_OK) {
		if (m.type == CP_MSG_JOIN &&
		    (!cp_sig_valid_room(m.room) || !cp_sig_valid_name(m.name)))
			__builtin_trap();
		if (m.type == CP_MSG_OFFER && strlen(m.sdp) != m.sdp_len)
			__builtin_trap();
		/* a room's name shown is its own, and its key's key is the key: links made from
		 * either come to the same room */
		if ((m.type == CP_MSG_JOIN || m.type == CP_MSG_RESUME) && m.room) {
			char n[CP_ROOM_BYTES + 1], k[CP_ROOM_BYTES + 1], k2[CP_ROOM_BYTES + 1];

			if (!cp_roomname_canon(m.room, strlen(m.room), n, k) || strcmp(n, m.room) ||
			    !cp_roomname_canon(k, strlen(k), NULL, k2) || strcmp(k, k2))
				__builtin_trap();
		}
	}
	cp_sig_msg_free(&m);
	return 0;
}
