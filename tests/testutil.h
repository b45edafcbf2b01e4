/* testutil.h - small helpers shared by the unit suites (check_*.c) and the integration suites (it_*.c). */
#ifndef AUTOPXE_TESTUTIL_H
#define AUTOPXE_TESTUTIL_H

#include <jansson.h>
#include <stddef.h>

/* The whole file at path in a new buffer with a NUL after its last byte (text can be used as a string; binary
 * data has *len bytes). The caller frees it. NULL when the file cannot be opened or read. len may be NULL. */
char *tu_slurp(const char *path, size_t *len);

/* The first element of the JSON array arr whose "name" member is the string `name`, or NULL. The reference is
 * borrowed from arr (do not decref it). */
json_t *tu_json_named(json_t *arr, const char *name);

#endif
