#!/bin/sh
# replay-segments.sh - the fuzz corpus replay again, with fuzz_request_path's
# store on the segment engine (MCD_FUZZ_ITEM_STORE=segments), so that
# every input that ever found a bug runs on both engines in `make check`.
# Env: MCD_BUILDDIR (the build tree, where fuzz/replay is).
set -eu
exec env MCD_FUZZ_ITEM_STORE=segments "${MCD_BUILDDIR:-.}/fuzz/replay"
