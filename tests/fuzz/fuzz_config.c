/* fuzz_config.c - libFuzzer target: YAML config loading from a buffer (errors, never crashes or leaks). */
#include <stdint.h>

#include "config.h"
#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d;
	diag_init(&d);
	struct config *c = NULL;
	int rc = config_load_buffer((const char *)data, size, "fuzz.yaml", &c, &d);
	if ((rc == 0) != (c != NULL))
		__builtin_trap();
	if (rc != 0 && d.n_errors == 0)
		__builtin_trap(); /* every failure must say why */
	config_free(c);
	diag_free(&d);
	return 0;
}
