/* diag.c - diagnostics list used by config, scanner and template compilation. */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

void diag_init(struct diag *d) { memset(d, 0, sizeof *d); }

void diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].msg);
	}
	free(d->items);
	diag_init(d);
}

void diag_add(struct diag *d, enum diag_sev sev, const char *file, int line, int col, const char *fmt, ...)
{
	char raw[1024], clean[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof raw)
		n = sizeof raw - 1;
	/* keep quotes readable in messages: only escape control bytes and non-ASCII */
	size_t o = 0;
	for (int i = 0; i < n && o + 5 < sizeof clean; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(clean + o, sizeof clean - o, "\\x%02x", c);
		else
			clean[o++] = (char)c;
	}
	clean[o] = '\0';
	d->items = xrealloc(d->items, (d->n + 1) * sizeof *d->items);
	struct diag_item *it = &d->items[d->n++];
	it->sev = sev;
	it->file = file ? xstrdup(file) : NULL;
	it->line = line;
	it->col = col;
	it->msg = xstrdup(clean);
	if (sev == DIAG_ERROR)
		d->n_errors++;
}

void diag_format(const struct diag_item *it, char *buf, size_t len)
{
	const char *sev = it->sev == DIAG_ERROR ? "error" : "warning";
	if (it->file && it->line)
		snprintf(buf, len, "%s:%d:%d: %s: %s", it->file, it->line, it->col, sev, it->msg);
	else if (it->file)
		snprintf(buf, len, "%s: %s: %s", it->file, sev, it->msg);
	else
		snprintf(buf, len, "%s: %s", sev, it->msg);
}

void diag_log(const struct diag *d)
{
	char buf[2300];
	for (size_t i = 0; i < d->n; i++) {
		diag_format(&d->items[i], buf, sizeof buf);
		log_msg(d->items[i].sev == DIAG_ERROR ? LOG_ERROR : LOG_WARN, "%s", buf);
	}
}
