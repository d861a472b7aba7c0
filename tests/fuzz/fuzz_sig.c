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
	}
	cp_sig_msg_free(&m);
	return 0;
}
