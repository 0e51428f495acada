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
          libmemcached-dev libmemcached-tools memcached python3 strace
          nutcracker python3-pymemcache libspymemcached-java openjdk-17-jdk-headless systemd)

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

summarise() { # prints "N passed, N failed" from automake's test-suite.log
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
        deps
        build
        rc=0
        make -j"$(nproc)" check >/tmp/mcd-check.$$ 2>&1 || rc=$?
        grep -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR):' /tmp/mcd-check.$$ || true
        if [ $rc -ne 0 ]; then
            tail -n 60 /tmp/mcd-check.$$
            for log in $(find tests -name '*.log' ! -name test-suite.log); do
                grep -qE '^(FAIL|ERROR)' "${log%.log}.trs" 2>/dev/null && { echo "==== $log"; tail -n 80 "$log"; }
            done
        fi
        rm -f /tmp/mcd-check.$$
        [ -f test-suite.log ] && summarise test-suite.log
        exit $rc
        ;;
    *)
        sed -n '2,10p' "$0" >&2
        exit 2
        ;;
esac
