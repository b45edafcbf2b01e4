/* fuzz_kver.c - libFuzzer target: kernel-version ordering is total and antisymmetric on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

static int sgn(int x) { return (x > 0) - (x < 0); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Split the input into three NUL-terminated strings at the first two 0xff bytes. */
	char *buf = malloc(size + 3);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	char *s[3] = {buf, NULL, NULL};
	int k = 1;
	for (size_t i = 0; i < size && k < 3; i++) {
		if ((unsigned char)buf[i] == 0xff) {
			buf[i] = '\0';
			s[k++] = buf + i + 1;
		}
	}
	for (; k < 3; k++)
		s[k] = buf + size + 1;
	int ab = sgn(kver_cmp(s[0], s[1])), ba = sgn(kver_cmp(s[1], s[0]));
	if (ab != -ba)
		__builtin_trap();
	if (kver_cmp(s[0], s[0]) != 0)
		__builtin_trap();
	int bc = sgn(kver_cmp(s[1], s[2])), ac = sgn(kver_cmp(s[0], s[2]));
	if (ab <= 0 && bc <= 0 && ac > 0) /* transitivity */
		__builtin_trap();
	free(buf);
	return 0;
}
