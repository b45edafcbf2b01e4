/* diag.h - collected diagnostics (errors and warnings with file:line:col) from config/scan/templates. */
#ifndef AUTOPXE_DIAG_H
#define AUTOPXE_DIAG_H

#include <stddef.h>

enum diag_sev { DIAG_ERROR, DIAG_WARNING };

struct diag_item {
	enum diag_sev sev;
	char *file; /* may be NULL */
	int line;   /* 1-based, 0 when unknown */
	int col;    /* 1-based, 0 when unknown */
	char *msg;  /* already sanitised, no trailing newline */
};

struct diag {
	struct diag_item *items;
	size_t n;
	size_t n_errors;
};

void diag_init(struct diag *d);
void diag_free(struct diag *d);
/* Append an item; the message is formatted and sanitised of control bytes. */
void diag_add(struct diag *d, enum diag_sev sev, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Render one item as "file:line:col: error: msg" into buf. */
void diag_format(const struct diag_item *it, char *buf, size_t len);
/* Log every item through log.h (errors at LOG_ERROR, warnings at LOG_WARN). */
void diag_log(const struct diag *d);

#endif
