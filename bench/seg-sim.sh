#!/usr/bin/env bash
# seg-sim.sh - the segment store prototype (store/seg/) against the slab
# store, in process (bench/seg-sim.c), on the same keys; prints the table of
# doc/performance.md section 7 with ratios B/A (A: the slab store, B: the
# segment store with FIFO or merge eviction).
#
#   bench/seg-sim.sh [--reps N] [--requests N] [TREE]
#
# TREE: a configured source tree (default .); its store/libmcdstore.a and
# store/libmcdseg.a are built here. Bytes, resident items, hit ratios and
# instruction counts (callgrind, when valgrind is installed) are
# deterministic (the zipf sequence is seeded: the same for every store); ns per get is timed A B B A (x REPS) and is noise on a
# shared machine.
set -euo pipefail
REPS=2 REQUESTS=20000000
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS=$2; shift 2 ;;
        --requests) REQUESTS=$2; shift 2 ;;
        *) break ;;
    esac
done
tree=$(cd "${1:-.}" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/seg-sim.c
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -C "$tree" -s store/libmcdstore.a store/libmcdstore_all.a store/libmcdseg.a >/dev/null
# the libraries may hold LTO objects (configure's -flto): link the same way.
# libmcdstore_all.a: every object with its symbols, the segment engine's too
${CC:-cc} -std=c11 -O2 -flto=auto -DSEG_SIM_ENGINE -I"$tree" -o "$work/sim" "$src" \
    "$tree/store/libmcdstore_all.a" -lpthread -lm
# and the segment store with items packed at their exact size (no 8-byte padding)
${CC:-cc} -std=c11 -O2 -flto=auto -DSEG_ALIGN_SHIFT=0 -I"$tree" -include "$tree/config.h" -o "$work/sim_packed" \
    "$src" "$tree"/store/seg/segment.c "$tree"/store/seg/seg_index.c "$tree"/store/seg/seg_pool.c \
    "$tree"/store/seg/seg_store.c "$tree/store/libmcdstore.a" -lpthread -lm
sim=$work/sim

kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a ? b / a : 0 }'; }

# index sizes: the slab store's hash power as memcached's growth rule
# (1.5 items a bucket) would reach; the segment index's for a load near
# 1 item a slot (7 slots a bucket)
declare -A P_LOAD=([slab]=20 [fifo]=17 [merge]=17 [engine]=17) \
    P_EVICT=([slab]=20 [fifo]=16 [merge]=16 [engine]=16) P_GET=([slab]=17 [fifo]=14 [merge]=14 [engine]=14)
declare -A R
for s in slab fifo merge engine packed:fifo packed:merge; do
    echo "seg-sim: $s load / resident / zipf" >&2
    bin=$sim k=$s
    case $s in packed:*) bin=$work/sim_packed k=${s#packed:} ;; esac
    R[$s.load]=$("$bin" "$k" load -n 1000000 -p "${P_LOAD[$k]}")
    R[$s.res]=$("$bin" "$k" resident -n 1000000 -m 64 -p "${P_EVICT[$k]}")
    R[$s.zipf]=$("$bin" "$k" zipf -n 1000000 -m 64 -r "$REQUESTS" -w $((REQUESTS / 4)) -p "${P_EVICT[$k]}")
done
declare -A NS IR
for op in get set; do
    NS[slab.$op]=0 NS[fifo.$op]=0 NS[engine.$op]=0
    for _ in $(seq "$REPS"); do
        for s in slab fifo engine engine fifo slab; do
            t=$(kv "$("$sim" $s $op -k 100000 -g 2000000 -p "${P_GET[$s]}")" ns_per_op)
            NS[$s.$op]=$(awk -v a="${NS[$s.$op]}" -v b="$t" -v n=$((REPS * 2)) 'BEGIN { print a + b / n }')
        done
    done
    for s in slab fifo engine; do
        IR[$s.$op]=-
        if command -v valgrind >/dev/null; then
            valgrind --tool=callgrind --callgrind-out-file="$work/cg.$s.$op" --toggle-collect="${op}_loop_*" \
                "$sim" $s $op -k 100000 -g 200000 -p "${P_GET[$s]}" >/dev/null 2>&1
            IR[$s.$op]=$(awk '/^summary:/ { printf "%.1f", $2 / 200000 }' "$work/cg.$s.$op")
        fi
    done
done

row() { # label A B_fifo B_merge
    local r4=-
    if [ "$4" != - ]; then r4=$(ratio "$2" "$4"); fi
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" "$4" "$r4"
}
echo "| 16 B keys, 100 B values | A: slab store | B: segments, FIFO | B/A | B: segments, merge | B/A |"
echo "|---|---:|---:|---:|---:|---:|"
row "1M items: bytes per item (item memory + index)" "$(kv "${R[slab.load]}" bytes_per_item)" \
    "$(kv "${R[fifo.load]}" bytes_per_item)" "$(kv "${R[merge.load]}" bytes_per_item)"
row "1M items: RSS per item" "$(kv "${R[slab.load]}" rss_per_item)" \
    "$(kv "${R[fifo.load]}" rss_per_item)" "$(kv "${R[merge.load]}" rss_per_item)"
row "1M items: index bytes" "$(kv "${R[slab.load]}" index)" "$(kv "${R[fifo.load]}" index)" \
    "$(kv "${R[merge.load]}" index)"
row "1M items into 64 MB: resident items" "$(kv "${R[slab.res]}" items)" "$(kv "${R[fifo.res]}" items)" \
    "$(kv "${R[merge.res]}" items)"
row "64 MB, zipf(0.99) cache-aside: hit ratio" "$(kv "${R[slab.zipf]}" hit_ratio)" \
    "$(kv "${R[fifo.zipf]}" hit_ratio)" "$(kv "${R[merge.zipf]}" hit_ratio)"
row "get (hit), instructions (callgrind)" "${IR[slab.get]}" "${IR[fifo.get]}" -
row "get (hit), ns (A B B A x $REPS)" "${NS[slab.get]}" "${NS[fifo.get]}" -
row "set (overwrite), instructions (callgrind)" "${IR[slab.set]}" "${IR[fifo.set]}" -
row "set (overwrite), ns (A B B A x $REPS)" "${NS[slab.set]}" "${NS[fifo.set]}" -
echo
echo "| items packed at their exact size | A: slab store | B: packed, FIFO | B/A | B: packed, merge | B/A |"
echo "|---|---:|---:|---:|---:|---:|"
row "1M items: bytes per item (item memory + index)" "$(kv "${R[slab.load]}" bytes_per_item)" \
    "$(kv "${R[packed:fifo.load]}" bytes_per_item)" "$(kv "${R[packed:merge.load]}" bytes_per_item)"
row "1M items into 64 MB: resident items" "$(kv "${R[slab.res]}" items)" "$(kv "${R[packed:fifo.res]}" items)" \
    "$(kv "${R[packed:merge.res]}" items)"
row "64 MB, zipf(0.99) cache-aside: hit ratio" "$(kv "${R[slab.zipf]}" hit_ratio)" \
    "$(kv "${R[packed:fifo.zipf]}" hit_ratio)" "$(kv "${R[packed:merge.zipf]}" hit_ratio)"
echo
echo "| the engine (store.h's API, merge eviction) | A: slab store | B: segment engine | B/A |"
echo "|---|---:|---:|---:|"
row3() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
row3 "1M items: bytes per item (item memory + index)" "$(kv "${R[slab.load]}" bytes_per_item)" \
    "$(kv "${R[engine.load]}" bytes_per_item)"
row3 "1M items into 64 MB: resident items" "$(kv "${R[slab.res]}" items)" "$(kv "${R[engine.res]}" items)"
row3 "64 MB, zipf(0.99) cache-aside: hit ratio" "$(kv "${R[slab.zipf]}" hit_ratio)" \
    "$(kv "${R[engine.zipf]}" hit_ratio)"
row3 "get (hit), instructions (callgrind)" "${IR[slab.get]}" "${IR[engine.get]}"
row3 "get (hit), ns (A B B A x $REPS)" "${NS[slab.get]}" "${NS[engine.get]}"
row3 "set (overwrite), instructions (callgrind)" "${IR[slab.set]}" "${IR[engine.set]}"
row3 "set (overwrite), ns (A B B A x $REPS)" "${NS[slab.set]}" "${NS[engine.set]}"
