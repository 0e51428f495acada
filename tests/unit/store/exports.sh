#!/bin/sh
# tests/unit/store/exports.sh - fails if store/mcdstore.o, the store as
# server/ links it (store/libmcdstore.a; under LTO it links the objects),
# exports a symbol that store/store.h does not declare (the store's
# internals are local to it: store/local.am), or does not export the API.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
lib=store/mcdstore.o
nm=${NM:-nm}
[ -f "$lib" ] || { echo "exports: $lib not built"; exit 99; }
syms=$("$nm" -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u)
[ -n "$syms" ] || { echo "exports: $lib defines no global symbol"; exit 1; }
status=0
for s in $syms; do
    # declared in the facade: a function, object or type name of store.h
    if ! grep -qE "(^|[^A-Za-z0-9_])$s([^A-Za-z0-9_]|$)" "$top/store/store.h"; then
        echo "exports: $lib exports $s, which store/store.h does not declare"
        status=1
    fi
done
# the API is there, an internal is not
for s in store_setup store_get store_link item_release item_key; do
    echo "$syms" | grep -qx "$s" || { echo "exports: $s (store.h) is not exported"; status=1; }
done
[ $status -eq 0 ] && echo "exports: $(echo "$syms" | wc -l) symbols, all declared in store/store.h"
exit $status
