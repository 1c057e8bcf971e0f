#!/bin/sh
# The settings a context takes (core/settings.def) are the ones clgrad.h
# documents and the README's table lists: none missing, none extra.
# Usage: settings_doc.sh SOURCE_DIR
set -eu
src=$1
def=$(sed -n 's/^CLG_SETTING([A-Z_]*, \([a-z_]*\),.*/\1/p' "$src/core/settings.def" | sort)
[ -n "$def" ] || { echo "no settings read from core/settings.def" >&2; exit 1; }
# clgrad.h: the lines " *   name  what" under clg_context_create_with
hdr=$(sed -n '/^ \* As clg_context_create, with settings/,/^CLG_API clg_status clg_context_create_with/p' "$src/include/clgrad.h" |
  sed -n 's/^ \*   \([a-z_][a-z_]*\)  .*/\1/p' | sort)
# README: the rows "| `name` | `CLGRAD_NAME` | ..." of the settings table
readme=$(sed -n 's/^| `\([a-z_]*\)` | `CLGRAD_[A-Z_]*` |.*/\1/p' "$src/README.md" | sort)
status=0
[ "$def" = "$hdr" ] || { echo "clgrad.h lists: $(echo $hdr); core/settings.def: $(echo $def)" >&2; status=1; }
[ "$def" = "$readme" ] || { echo "README lists: $(echo $readme); core/settings.def: $(echo $def)" >&2; status=1; }
# and each README row names the variable its setting overrides
for n in $def; do
  up=$(echo "$n" | tr a-z A-Z)
  grep -q "^| \`$n\` | \`CLGRAD_$up\` |" "$src/README.md" || { echo "README: $n is not beside CLGRAD_$up" >&2; status=1; }
done
[ $status -eq 0 ] && echo "settings: $(echo $def) in core/settings.def, clgrad.h and the README"
exit $status
