#!/bin/sh
# gen-builtin.sh - regenerate src/templates_builtin.c from templates/*.tmpl (check_render keeps them equal)
set -e
cd "$(dirname "$0")/.."
{
printf '/* templates_builtin.c - the default menu templates compiled into the binary (copies of templates/). */\n'
printf '/* Regenerate with the command in templates/README.md; check_render keeps them byte-identical. */\n'
printf '#include "render.h"\n\n'
printf 'const struct menu_template_src menu_templates_builtin[] = {\n'
for f in templates/*.tmpl; do
	printf '    {"%s",\n' "$(basename "$f")"
	awk 'function esc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\?/, "\\?", s); gsub(/\t/, "\\t", s); return s }
	{ line = $0; while (length(line) > 90) { printf "     \"%s\"\n", esc(substr(line, 1, 90)); line = substr(line, 91) }
	  printf "     \"%s\\n\"\n", esc(line) }' "$f"
	printf '    },\n'
done
printf '};\n\nconst size_t menu_templates_builtin_n = sizeof menu_templates_builtin / sizeof menu_templates_builtin[0];\n'
} > src/templates_builtin.c
