/* libFuzzer target: STUN parsing and the integrity/fingerprint checks the worker runs. */
#include <stddef.h>
#include <stdint.h>

#include "fh_stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fh_stun_msg m;

	if (fh_stun_parse(data, size, &m) != FH_STUN_OK)
		return 0;
	fh_stun_check_fingerprint(data, size, &m);
	fh_stun_check_integrity(data, &m, "VOkJxbRl1RmTxUk/WvJxBt", 22);
	if (m.username && m.username_len > FH_STUN_MAX_USERNAME)
		__builtin_trap();
	return 0;
}
