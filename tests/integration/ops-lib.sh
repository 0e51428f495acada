# ops-lib.sh - helpers for the ops-*.sh tests (sourced, bash): start mcd on
# a free loopback port, talk to it over bash's /dev/tcp, poll conditions
# against deadlines, and kill by PID whatever was started, on any exit.
#
# Tests run from the build directory; $MCD_BIN overrides server/mcd.

MCD=${MCD_BIN:-server/mcd}
case "$MCD" in /*) ;; *) MCD=$PWD/$MCD ;; esac
OPS_SRCDIR=${srcdir:-.}
OPS_PIDS=
OPS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mcd-ops.XXXXXX")
OPS_ROOT_ARGS=()
[ "$(id -u)" = 0 ] && OPS_ROOT_ARGS=(-u root)

ops_cleanup() {
    local p
    for p in $OPS_PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $OPS_PIDS; do
        # a child of ours is reaped by wait; a daemon is polled
        wait "$p" 2>/dev/null
        ops_poll 3 ops_dead "$p" || kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$OPS_TMP"
}
trap ops_cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
skip() {
    echo "SKIP: $*"
    exit 77
}

ops_track() { OPS_PIDS="$OPS_PIDS $1"; }
ops_untrack() { OPS_PIDS=$(echo " $OPS_PIDS " | sed "s/ $1 / /"); }
# Gone, or a zombie (a detached daemon's reaper may be slow or absent).
ops_dead() {
    kill -0 "$1" 2>/dev/null || return 0
    [ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ]
}

# ops_poll SECONDS CMD...: runs CMD until it succeeds (0) or time is up (1).
ops_poll() {
    local deadline=$((SECONDS + $1))
    shift
    while ! "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.05
    done
    return 0
}

# A port nothing listens on right now (the start retries if it was taken).
ops_free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))   # below the ephemeral range
        if ! { exec 3<>"/dev/tcp/127.0.0.1/$p"; } 2>/dev/null; then
            echo "$p"
            return
        fi
        exec 3>&-
    done
}

# ops_request PORT REQUEST [TERMINATOR-REGEX]: sends REQUEST (\r\n added),
# prints reply lines (\r stripped) up to a line matching the terminator
# (default: any line), 2 s per line.
ops_request() {
    local port=$1 req=$2 term=${3:-.} fd line
    { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf '%s\r\n' "$req" >&"$fd"
    while IFS= read -r -t 2 line <&"$fd"; do
        line=${line%$'\r'}
        echo "$line"
        [[ $line =~ $term ]] && break
    done
    exec {fd}>&-
}

# ops_refused PORT: true when nothing accepts on PORT.
ops_refused() { ! { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || { exec 3>&-; return 1; }; }

ops_ready() { ops_request "$1" version | grep -q '^VERSION '; }

# ops_stat PORT NAME [GROUP]: the value of one stat.
ops_stat() {
    ops_request "$1" "stats${3:+ $3}" '^END$' | awk -v n="$2" '$1 == "STAT" && $2 == n { print $3; exit }'
}

# ops_start [ARGS...]: starts mcd in the foreground (a child of this shell)
# on a free port; sets OPS_PORT and OPS_PID. Fails the test if it never
# answers.
ops_start() {
    local try
    for try in 1 2 3 4 5; do
        OPS_PORT=$(ops_free_port)
        "$MCD" -p "$OPS_PORT" -l 127.0.0.1 -U 0 "${OPS_ROOT_ARGS[@]}" "$@" \
            >>"$OPS_TMP/mcd-$OPS_PORT.log" 2>&1 &
        OPS_PID=$!
        ops_track "$OPS_PID"
        if ops_poll 10 ops_ready_or_dead "$OPS_PORT" "$OPS_PID" && ops_ready "$OPS_PORT"; then
            return 0
        fi
        kill -KILL "$OPS_PID" 2>/dev/null
        wait "$OPS_PID" 2>/dev/null
        ops_untrack "$OPS_PID"
    done
    cat "$OPS_TMP"/mcd-*.log >&2
    fail "mcd did not start"
}
ops_ready_or_dead() { ops_ready "$1" || ops_dead "$2"; }

# ops_stop PID: SIGTERM, wait up to 5 s; returns the exit status.
ops_stop() {
    local rc
    kill -TERM "$1" 2>/dev/null
    wait "$1"
    rc=$?
    ops_untrack "$1"
    return $rc
}
