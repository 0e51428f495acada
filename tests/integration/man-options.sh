#!/bin/bash
# man-options.sh - checks that doc/mcd.1 documents exactly the options of
# `mcd -h`, which is generated from server/settings.def: every flag as
# "-x --long-name", every -o key (a boolean one also as no_key) and every
# ignored memcached -o option. Prints what one side has and the other lacks.
#
# Env: MCD_BIN (server binary), srcdir (set by `make check`).
set -u

bin=${MCD_BIN:-server/mcd}
man=${srcdir:-.}/doc/mcd.1
if [ ! -x "$bin" ] || [ ! -r "$man" ]; then
    echo "need $bin and $man" >&2
    exit 99
fi
help=$("$bin" -h) || { echo "$bin -h failed" >&2; exit 1; }

# From -h: "-p, --port=<arg>  ..." lines; then the -o section, whose rows
# start with three spaces ("   key=<arg> help", "   key, no_key help") and
# whose ignored list is words on three-space lines after "Accepted".
from_help() {
    printf '%s\n' "$help" | awk '
        /^-., --/ { sub(/=.*/, "", $2); sub(/,$/, "", $1); print $1, $2; next }
        /^Extended options/ { sec = "x"; next }
        /^Accepted/ { sec = "i"; next }
        sec == "x" && /^   / { k = $1; sub(/=.*/, "", k); sub(/,$/, "", k); print "-o", k;
                                if ($2 ~ /^no_/) print "-o", $2; next }
        sec == "i" && /^   / { for (i = 1; i <= NF; i++) print "-o", $i }'
}

# From the man page, OPTIONS up to SIGNALS: ".BR \-p ", " \-\-port ..." for
# flags; after ".SS Extended", ".BI key= ARG", ".BR key ", " no_key" and
# ".BR key ," rows.
from_man() {
    sed -n '/^\.SH OPTIONS/,/^\.SH SIGNALS/p' "$man" | sed 's/\\-/-/g' | awk '
        /^\.SS Extended/ { ext = 1; next }
        !ext && /^\.BR -. ", " --/ { sub(/=.*/, "", $5); print $2, $5 }
        ext && /^\.B[IR] / { k = $2; sub(/=$/, "", k); print "-o", k;
                              if ($5 ~ /^no_/) print "-o", $5 }'
}

h=$(from_help | sort)
m=$(from_man | sort)
if [ -z "$h" ] || [ "$(printf '%s\n' "$h" | wc -l)" -lt 20 ]; then
    echo "could not read the options of $bin -h" >&2
    exit 1
fi
if [ "$h" != "$m" ]; then
    echo "doc/mcd.1 and mcd -h (server/settings.def) disagree:"
    diff <(printf '%s\n' "$h") <(printf '%s\n' "$m") | sed 's/^</  only in mcd -h:/; s/^>/  only in mcd.1:/'
    exit 1
fi
echo "doc/mcd.1 documents the $(printf '%s\n' "$h" | wc -l) options of mcd -h"
