# Shared helpers for tarmac's setup scripts (sourced, not run).
# Every cache lives under $TARMAC_CACHE (default /var/cache/tarmac) so CI can keep it warm.
TARMAC_CACHE=${TARMAC_CACHE:-/var/cache/tarmac}
ZIG_VERSION=${ZIG_VERSION:-0.17.1}
# zig's own cache (musl, compiler_rt per CPU feature set) is costly to rebuild: keep it
# with the other caches so one directory carries a warm machine.
ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$TARMAC_CACHE/zig-cache}
export TARMAC_CACHE ZIG_VERSION ZIG_GLOBAL_CACHE_DIR

say() { echo "${0##*/}: $*" >&2; }
die() { say "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# apt with a wait on the dpkg lock (another apt may be running on a shared machine).
apt_run() {
  local i out
  for i in $(seq 1 120); do
    if out=$(DEBIAN_FRONTEND=noninteractive "$@" 2>&1); then return 0; fi
    if grep -qiE 'could not get lock|unable to acquire|lock-frontend' <<<"$out"; then
      [ "$i" = 1 ] && say "apt/dpkg lock busy; waiting"
      sleep 5; continue
    fi
    printf '%s\n' "$out" >&2; return 1
  done
  die "timed out waiting for the apt/dpkg lock"
}

_TARMAC_APT_UPDATED=0
apt_update_once() {
  [ "$_TARMAC_APT_UPDATED" = 1 ] && return 0
  apt_run apt-get update -q
  _TARMAC_APT_UPDATED=1
}

# apt_need PKG... : install the packages that are not installed yet.
apt_need() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  apt_update_once
  apt_run apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Debian's images ship no deb-src lines; apt-get source needs them. Derive them from the
# machine's own deb entries (so the mirror is whatever this machine is set up with).
ensure_deb_src() {
  local out=/etc/apt/sources.list.d/tarmac-src
  if apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -q '^Sources$'; then return 0; fi
  local f
  : >"$out.sources.tmp"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && [ "$f" != "$out.sources" ] || continue
    sed -n '/^Types:/{s/^Types:.*/Types: deb-src/};p' "$f" >>"$out.sources.tmp"
    echo >>"$out.sources.tmp"
  done
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list >"$out.list"
  fi
  mv "$out.sources.tmp" "$out.sources"
  _TARMAC_APT_UPDATED=0
  apt_update_once
}

zig_path() { echo "$TARMAC_CACHE/zig/$ZIG_VERSION/ziglang/zig"; }

# ensure_zig: install PyPI's official ziglang wheel (pinned) into the cache; print zig's path.
ensure_zig() {
  local dest="$TARMAC_CACHE/zig/$ZIG_VERSION" zig
  zig="$dest/ziglang/zig"
  if [ ! -x "$zig" ]; then
    command -v python3 >/dev/null || apt_need python3 python3-pip
    python3 -m pip --version >/dev/null 2>&1 || apt_need python3-pip
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    say "installing zig $ZIG_VERSION from PyPI (ziglang)"
    python3 -m pip install -q --disable-pip-version-check --no-deps --target "$dest.tmp" \
      "ziglang==$ZIG_VERSION" >&2 || die "pip could not install ziglang==$ZIG_VERSION"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
  fi
  "$zig" version >/dev/null || die "zig at $zig does not run"
  echo "$zig"
}

# ensure_prom_tools: promtool and amtool (tests/integration/alerts) from Debian's
# prometheus and prometheus-alertmanager packages, unpacked under the cache with dpkg -x:
# not installed, so no service starts. Skipped when both binaries are there.
ensure_prom_tools() {
  local d="$TARMAC_CACHE/tools" deb
  [ -x "$d/root/usr/bin/promtool" ] && [ -x "$d/root/usr/bin/amtool" ] && return 0
  say "unpacking promtool and amtool (Debian's prometheus, prometheus-alertmanager)"
  apt_update_once
  rm -rf "$d/debs" && mkdir -p "$d/debs" "$d/root"
  (cd "$d/debs" && apt_run apt-get download prometheus prometheus-alertmanager) ||
    die "apt-get download prometheus prometheus-alertmanager failed"
  for deb in "$d"/debs/*.deb; do dpkg -x "$deb" "$d/root" || die "dpkg -x $deb failed"; done
  [ -x "$d/root/usr/bin/promtool" ] && [ -x "$d/root/usr/bin/amtool" ] ||
    die "no promtool or amtool in $d/root/usr/bin"
}
