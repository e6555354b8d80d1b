# runc helpers for check (sourced): bundles from the OCI layout, containers started in the
# background with their PIDs recorded in $RUN/pids, stopped by those PIDs.

image_ref() {  # image_ref NAME TAG: the layout's tag of the current build of NAME:TAG
  umoci ls --layout "$LAYOUT" | grep "^$1_$2_" | tail -1 | grep . || die "no image $1:$2 in $LAYOUT"
}

# bundle ID NAME TAG [runc-bundle.py options]: unpack the image into $RUN/ID and adjust it
bundle() {
  local id=$1 name=$2 tag=$3; shift 3
  umoci unpack --image "$LAYOUT:$(image_ref "$name" "$tag")" "$RUN/$id" >/dev/null
  "$HERE/runc-bundle.py" "$RUN/$id/config.json" "$@"
}

configure() { local id=$1; shift; "$HERE/runc-bundle.py" "$RUN/$id/config.json" "$@"; }

start() {  # start ID: run the container in the background, log in $RUN/ID.log
  local id=$1 pid
  runc --root "$STATE" run -d --pid-file "$RUN/$id.pid" -b "$RUN/$id" "$id" >"$RUN/$id.log" 2>&1 </dev/null ||
    { tail -20 "$RUN/$id.log" >&2; die "runc could not start $id (bundle $RUN/$id)"; }
  pid=$(cat "$RUN/$id.pid")
  echo "$id $pid $(awk '{print $22}' "/proc/$pid/stat")" >>"$RUN/pids"
  STARTED+=("$id")
}

run_once() {  # run_once ID: run the container in the foreground; its output on stdout
  runc --root "$STATE" run -b "$RUN/$1" "$1-$RANDOM" </dev/null
}

exec_in() { local id=$1; shift; runc --root "$STATE" exec "$id" "$@"; }

wait_for() {  # wait_for SECONDS CMD...: retry until it succeeds
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.5; done
}

stop_pid() {  # stop_pid ID PID START: TERM, then KILL after 10 s, only if it is still that process
  local id=$1 pid=$2 st=$3 i
  for sig in TERM KILL; do
    [ "$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" = "$st" ] || break
    kill -"$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  done
  runc --root "$STATE" delete -f "$id" >/dev/null 2>&1 || true
}

stop_all() {
  [ -f "$RUN/pids" ] || return 0
  local id pid st
  tac "$RUN/pids" | while read -r id pid st; do stop_pid "$id" "$pid" "$st"; done
  rm -f "$RUN/pids"
}
stop_all_recorded() { [ -d "$RUN" ] && stop_all || true; }
