# The steps of one image (sourced by build): load its recipe, build it if its tag is not in
# the layout yet, push it. A recipe (recipes/NAME.sh) sets IMAGE_TAG, PACKAGES, IMAGE_USER,
# IMAGE_ENV, IMAGE_ENTRYPOINT, IMAGE_CMD, IMAGE_WORKDIR, RECIPE_INPUTS (files its key covers)
# and may define recipe_before ROOTFS (before apt) and recipe_after ROOTFS (after apt).

load_recipe() {  # load_recipe NAME TAG
  IMAGE_NAME=$1 IMAGE_TAG=$2 PACKAGES=() IMAGE_USER=0:0 IMAGE_ENV=() IMAGE_ENTRYPOINT=() IMAGE_CMD=()
  IMAGE_WORKDIR=/ RECIPE_INPUTS=() IMAGE_STOPSIGNAL=
  recipe_before() { :; }
  recipe_after() { :; }
  . "$HERE/recipes/$1.sh"
}

recipe_key() {  # everything the image depends on, hashed
  (echo "$1 $IMAGE_NAME $IMAGE_TAG"; cat "$HERE/recipes/$IMAGE_NAME.sh" "$HERE/build-steps.sh" "$HERE/lib-images.sh" \
    "$HERE/config.sh" "${RECIPE_INPUTS[@]}") | sha256sum | cut -c1-16
}

# step LOG FUNCTION ARGS...: run a recipe function with errexit in force (a function called
# on the left of || would run without it), its output in LOG; fail with the log's tail
step() {
  local log=$1 rc; shift
  set +e
  (set -e; "$@") >>"$log" 2>&1
  rc=$?
  set -e
  [ "$rc" = 0 ] || log_tail_die "$log" "$IMAGE_NAME:$IMAGE_TAG: $1 failed (exit $rc)"
}

# make_layer BASE REF LOG: unpack the base, run the recipe in a chroot, repack as REF
make_layer() {
  local base=$1 ref=$2 log=$3 root
  BUNDLE=$(mktemp -d "$IMAGES_CACHE/bundle.XXXXXX")
  umoci unpack --image "$LAYOUT:$base" "$BUNDLE/b" >>"$log" 2>&1
  root=$BUNDLE/b/rootfs
  chroot_mount "$root"
  step "$log" recipe_before "$root"
  if [ ${#PACKAGES[@]} -gt 0 ]; then
    in_root "$root" apt-get update -q >>"$log" 2>&1 || log_tail_die "$log" "$IMAGE_NAME: apt-get update failed in the chroot"
    in_root "$root" apt-get install -y -q "${PACKAGES[@]}" >>"$log" 2>&1 ||
      log_tail_die "$log" "$IMAGE_NAME: apt-get install ${PACKAGES[*]} failed"
  fi
  step "$log" recipe_after "$root"
  chroot_umount
  umount_under "$root"
  root_tidy "$root"
  umoci repack --image "$LAYOUT:$ref" --history.created "$(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ)" \
    --history.created_by "scripts/images/recipes/$IMAGE_NAME.sh" "$BUNDLE/b" >>"$log" 2>&1 ||
    log_tail_die "$log" "$IMAGE_NAME: umoci repack failed"
  drop_bundle "$BUNDLE"; BUNDLE=
}

set_config() {  # set_config REF: user, env, entrypoint, cmd, workdir, fixed creation time
  local args=() e
  args+=(--config.user "$IMAGE_USER" --config.workingdir "$IMAGE_WORKDIR")
  for e in "${IMAGE_ENV[@]}"; do args+=(--config.env "$e"); done
  args+=(--clear config.entrypoint --clear config.cmd)
  for e in "${IMAGE_ENTRYPOINT[@]}"; do args+=(--config.entrypoint "$e"); done
  for e in "${IMAGE_CMD[@]}"; do args+=(--config.cmd "$e"); done
  [ -z "$IMAGE_STOPSIGNAL" ] || args+=(--config.stopsignal "$IMAGE_STOPSIGNAL")
  umoci config --image "$LAYOUT:$1" --created "$(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ)" --no-history "${args[@]}"
}

# push REF: copy to the registry unless this exact build was pushed to this registry storage
push() {
  local ref=$1 dest="$TARMAC_REGISTRY/$IMAGE_NAME:$IMAGE_TAG" stamp t0
  stamp=$TARMAC_CACHE/registry/pushed/$IMAGE_NAME/$IMAGE_TAG
  if [ "${TARMAC_IMAGES_NO_PUSH:-0}" = 1 ]; then return 0; fi
  curl -fs -o /dev/null --max-time 2 "http://$TARMAC_REGISTRY/v2/" ||
    { say "registry $TARMAC_REGISTRY is not up: $dest not pushed (scripts/images/registry up)"; return 0; }
  if [ "$(cat "$stamp" 2>/dev/null)" = "$ref" ] && curl -fs -o /dev/null -I \
      -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$TARMAC_REGISTRY/v2/$IMAGE_NAME/manifests/$IMAGE_TAG"; then
    say "$dest: already pushed"; return 0
  fi
  t0=$(now)
  skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:$ref" "docker://$dest" >>"$LOGS/$IMAGE_NAME-$IMAGE_TAG.log" 2>&1 ||
    log_tail_die "$LOGS/$IMAGE_NAME-$IMAGE_TAG.log" "pushing $dest failed"
  mkdir -p "$(dirname "$stamp")" && echo "$ref" >"$stamp"
  say "$dest: pushed in $(since "$t0")s"
}

build_one() {  # build_one BASE_REF NAME TAG
  local base=$1 ref key log t0
  load_recipe "$2" "$3"
  key=$(recipe_key "$base")
  ref=${IMAGE_NAME}_${IMAGE_TAG}_$key
  log=$LOGS/$IMAGE_NAME-$IMAGE_TAG.log
  # (no grep -q: it would quit early, umoci would die of SIGPIPE, and pipefail says "absent")
  if umoci ls --layout "$LAYOUT" | grep -x "$ref" >/dev/null; then
    say "$IMAGE_NAME:$IMAGE_TAG: cached ($ref)"
  else
    t0=$(now)
    say "$IMAGE_NAME:$IMAGE_TAG: building (log: $log)"
    : >"$log"
    make_layer "$base" "$ref" "$log"
    set_config "$ref"
    prune_tags "${IMAGE_NAME}_${IMAGE_TAG}_" "$ref"
    say "$IMAGE_NAME:$IMAGE_TAG: built in $(since "$t0")s, layer $(layer_size "$ref")"
  fi
  push "$ref"
}

layer_size() {  # compressed size of the image's own (last) layer
  local m
  m=$(skopeo inspect --raw "oci:$LAYOUT:$1")
  python3 -c 'import json,sys; l=json.loads(sys.argv[1])["layers"]; print("%.1f MB (image %.1f MB compressed)" % (l[-1]["size"]/1e6, sum(x["size"] for x in l)/1e6))' "$m"
}

prune_tags() {  # prune_tags PREFIX KEEP: drop older builds of one image from the layout
  local t old
  old=$(umoci ls --layout "$LAYOUT" | grep "^$1" | grep -vx "$2") || return 0
  for t in $old; do umoci rm --image "$LAYOUT:$t"; done
  umoci gc --layout "$LAYOUT"
}
