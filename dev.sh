#!/usr/bin/env bash
# dev.sh - set up, build, run or test mcd on a Debian machine.
#
#   ./dev.sh run    install what is missing, build, start server/mcd in the
#                   foreground on 127.0.0.1:11211 (extra args go to mcd)
#   ./dev.sh test   install what is missing, build, run the whole test suite
#   ./dev.sh deps   only install the Debian packages
#
# Package installs use apt-get (as root, or through sudo).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

PACKAGES=(build-essential autoconf automake pkg-config libevent-dev libcriterion-dev
          libmemcached-dev libmemcached-tools memcached python3 strace clang libclang-rt-14-dev
          nutcracker python3-pymemcache libspymemcached-java openjdk-17-jdk-headless systemd
          postgresql libpq-dev python3-psycopg2 php-cli php-memcached php-pgsql
          prometheus libsasl2-dev libsasl2-modules sasl2-bin libssl-dev openssl)
# ops-autodiscovery.sh: node and npm. Debian's nodejs comes without npm (package npm); a
# NodeSource nodejs bundles npm and conflicts with Debian's, so npm only when none is on PATH
PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

deps() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "dev.sh: installing ${missing[*]}" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
    if [ ! -x configure ] || [ configure.ac -nt configure ]; then
        autoreconf -fi >/dev/null
    fi
    if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
        ./configure --enable-werror -q
    fi
    make -j"$(nproc)" >/dev/null
}

summarise() { # prints "N passed, N failed, N skipped" from automake's test-suite.log
    awk '/^# PASS:/ { p = $3 } /^# FAIL:/ { f = $3 } /^# ERROR:/ { e = $3 } /^# SKIP:/ { s = $3 }
         END { printf "%d passed, %d failed, %d skipped\n", p, f + e, s }' "$1"
}

case "${1:-}" in
    deps) deps ;;
    run)
        shift
        deps
        build
        user=()
        [ "$(id -u)" -ne 0 ] || user=(-u nobody)
        exec server/mcd -l 127.0.0.1 -p 11211 "${user[@]}" "$@"
        ;;
    test)
        # the whole suite: the normal build's `make check`, then the same
        # suite under ASan+UBSan, and every integration test and ops script
        # against a ThreadSanitizer build of server/mcd, deadlock detection
        # on, plus the store's concurrency tests in-process under TSan (the
        # ASan build also has the store's invariant asserts on, as a
        # --enable-debug build; tests/sanitizers.sh; MCD_NO_SANITIZERS=1
        # skips them), then `make distcheck` (MCD_NO_DISTCHECK=1 skips it)
        deps
        build
        rc=0
        out=$(mktemp)
        make -j"$(nproc)" check >"$out" 2>&1 || rc=$?
        grep -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR):' "$out" || true
        if [ $rc -ne 0 ]; then
            tail -n 60 "$out"
            for log in $(find tests fuzz -name '*.log' ! -name test-suite.log); do
                grep -qE '^:test-result: (FAIL|ERROR)' "${log%.log}.trs" 2>/dev/null && { echo "==== $log"; tail -n 80 "$log"; }
            done
        fi
        read -r pass fail skip < <(summarise test-suite.log | awk '{ print $1, $3, $5 }')
        if [ "${MCD_NO_SANITIZERS:-0}" != 1 ]; then
            tests/sanitizers.sh all >"$out" 2>&1 || rc=1
            cat "$out"
            pass=$((pass + $(awk '/^# PASS:/ { n += $3 } / passed$/ && /TSan/ { n++ } END { print n + 0 }' "$out")))
            fail=$((fail + $(awk '/^# (FAIL|ERROR):/ { n += $3 } /TSan .* FAILED$/ { n++ } END { print n + 0 }' "$out")))
        fi
        if [ "${MCD_NO_DISTCHECK:-0}" != 1 ]; then
            # the release tarball builds and passes its tests from a read-only tree
            # (segments.sh skipped there: the same programs on the other engine, run
            # above in the plain and sanitizer builds)
            if MCD_SEGMENTS_SKIP=1 make -j"$(nproc)" distcheck >"$out" 2>&1; then
                echo "distcheck: passed"
                pass=$((pass + 1))
            else
                tail -n 40 "$out"
                # the failing tests' own logs, from the tarball's build tree
                for trs in $(find mcd-*/_build -name '*.trs' 2>/dev/null); do
                    grep -qE '^:test-result: (FAIL|ERROR)' "$trs" && { echo "==== ${trs%.trs}.log"; tail -n 80 "${trs%.trs}.log"; }
                done
                echo "distcheck: FAILED"
                fail=$((fail + 1))
                rc=1
            fi
        fi
        rm -f "$out"
        echo "$pass passed, $fail failed, $skip skipped"
        exit $rc
        ;;
    *)
        sed -n '2,10p' "$0" >&2
        exit 2
        ;;
esac
