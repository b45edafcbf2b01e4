/* fuzz_tftp.c - libFuzzer target: TFTP request/packet parsing and option negotiation. */
#include <stdint.h>
#include <string.h>

#include "tftp_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tftp_request rq;
	if (tftp_parse_request(data, size, &rq) == 0) {
		if (rq.file_len == 0 || memchr(rq.file, '\0', rq.file_len) != NULL)
			__builtin_trap();
		struct tftp_limits lim = {.max_blksize = 1468, .mtu_blksize = 1468, .max_window = 64};
		struct tftp_params p;
		tftp_negotiate(&rq.opt, &lim, 123456, &p);
		if (p.blksize < 8 || p.blksize > 1468 || p.windowsize < 1 || p.windowsize > 64)
			__builtin_trap();
		uint8_t oack[1024];
		tftp_build_oack(&p, oack, sizeof oack);
	}
	struct tftp_packet pk;
	if (tftp_parse_packet(data, size, &pk) == 0 && pk.data && pk.data + pk.data_len > data + size)
		__builtin_trap();
	return 0;
}
