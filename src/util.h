/* util.h - small shared helpers: growable byte buffer, bounded number parsing, log-safe strings. */
#ifndef AUTOPXE_UTIL_H
#define AUTOPXE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer, always NUL-terminated when data != NULL.
 * Zero-initialise (SBUF_INIT) or call sbuf_init(); release with sbuf_free(). */
typedef struct sbuf {
	char *data;
	size_t len;
	size_t cap;
} sbuf;
#define SBUF_INIT {NULL, 0, 0}

void sbuf_init(sbuf *b);
/* Ensure room for `extra` more bytes plus NUL. 0 or -ENOMEM. */
int sbuf_reserve(sbuf *b, size_t extra);
int sbuf_append(sbuf *b, const void *p, size_t n);
int sbuf_puts(sbuf *b, const char *s);
int sbuf_putc(sbuf *b, char c);
int sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sbuf_vprintf(sbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void sbuf_reset(sbuf *b);
void sbuf_free(sbuf *b);
/* Return the buffer (caller frees with free()) and reset b. Never NULL unless OOM. */
char *sbuf_steal(sbuf *b);

/* Parse a decimal unsigned integer, whole string, min <= v <= max.
 * 0 or -EINVAL (syntax) / -ERANGE (bounds). */
int parse_uint(const char *s, unsigned long long min, unsigned long long max, unsigned long long *out);

/* Copy `in` (len bytes, may hold any byte) into out (size outsz, always terminated),
 * escaping control bytes, backslash, non-ASCII and quotes as \xNN so that logs stay one line.
 * Truncates with "..." when out is too small. Returns out. */
char *sanitize(const void *in, size_t len, char *out, size_t outsz);

/* strdup that aborts on OOM (only for start-up/config paths, never for request paths). */
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t sz);

/* Monotonic clock in milliseconds / microseconds. */
uint64_t now_ms(void);
uint64_t now_us(void);

/* 64-bit FNV-1a of n bytes, continuing from h (start with FNV1A_INIT): for hash-table slots, not for security. */
#define FNV1A_INIT 1469598103934665603ULL
uint64_t fnv1a(uint64_t h, const void *p, size_t n);

/* Value of a hex digit (either case), or -1. */
int hex_value(char c);

/* Make room for element n in a realloc'd array of elsz-byte elements (capacity doubles from 8).
 * 0 or -ENOMEM (arr untouched). */
int array_grow(void **arr, size_t *cap, size_t n, size_t elsz);

/* mkdir -p: create path and its missing parents with mode (existing ones are left as they are).
 * 0, -ENAMETOOLONG or -errno. */
int mkdir_p(const char *path, unsigned mode);

/* True when s ends with suffix. */
int str_ends_with(const char *s, const char *suffix);
int str_starts_with(const char *s, const char *prefix);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
