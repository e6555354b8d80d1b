# Helpers for the image scripts (sourced after ../lib.sh and config.sh).

# debian_mirror: the Debian archive apt on this machine uses (first deb.debian.org-style URI
# ending in /debian in its sources), else config.sh's default.
debian_mirror() {
  local m
  m=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ') || true
  echo "${m:-$DEBIAN_MIRROR}"
}

# Mounts made for a chroot, undone by chroot_umount (and on any exit by the caller's trap).
CHROOT_MOUNTS=()
chroot_mount() {  # chroot_mount ROOTFS: /proc, /dev, /sys, the apt .deb cache, DNS
  local r=$1
  mkdir -p "$IMAGES_CACHE/apt-archives/partial" "$r/var/cache/apt/archives"
  mount -t proc proc "$r/proc" && CHROOT_MOUNTS+=("$r/proc")
  mount --rbind /dev "$r/dev" && mount --make-rslave "$r/dev" && CHROOT_MOUNTS+=("$r/dev")
  mount -t sysfs sysfs "$r/sys" && CHROOT_MOUNTS+=("$r/sys")
  mount --bind "$IMAGES_CACHE/apt-archives" "$r/var/cache/apt/archives" && CHROOT_MOUNTS+=("$r/var/cache/apt/archives")
  cp -L /etc/resolv.conf "$r/etc/resolv.conf"
  # no daemon starts while packages install
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d" && chmod 755 "$r/usr/sbin/policy-rc.d"
}

chroot_umount() {
  local i
  for ((i = ${#CHROOT_MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -R "${CHROOT_MOUNTS[$i]}" 2>/dev/null || umount -lR "${CHROOT_MOUNTS[$i]}" 2>/dev/null || true
  done
  CHROOT_MOUNTS=()
}

# umount_under DIR: undo every mount at or below DIR (deepest first), whoever made it
umount_under() {
  local m
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}

# drop_bundle DIR: unmount what is left below a build directory, then delete it (never
# following a bind mount into a cache)
drop_bundle() {
  [ -n "$1" ] && [ -d "$1" ] || return 0
  umount_under "$1"
  rm -rf --one-file-system "$1"
}

# in_root ROOTFS CMD...: run a command inside the rootfs (apt without prompts, C locale), niced
# (the machine is shared).
in_root() {
  local r=$1; shift
  nice -n 10 chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

# root_tidy ROOTFS: drop what a build leaves behind (apt lists, logs, caches, DNS, policy-rc.d)
# and clamp file times to SOURCE_DATE_EPOCH so layers do not carry the build's clock.
root_tidy() {
  local r=$1
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/log/apt/* "$r"/var/log/dpkg.log "$r"/var/cache/debconf/*-old \
    "$r"/var/cache/ldconfig/aux-cache "$r"/root/.cache "$r"/tmp/* "$r"/var/tmp/* "$r/usr/sbin/policy-rc.d"
  : >"$r/etc/resolv.conf"
  find "$r" -xdev -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} + 2>/dev/null || true
}

# hash_of FILE...: a short content hash of files (the cache keys)
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# log_tail_die LOG MESSAGE: show the end of a log, then fail
log_tail_die() { tail -25 "$1" >&2; die "$2 (full log: $1)"; }

# other_suite_deb SUITE PKG: download one .deb of another Debian suite (trixie, bookworm-backports)
# with apt itself, through a private apt state under the cache (the machine's sources are not
# touched); prints the .deb's path. Nothing is installed on the machine.
other_suite_deb() {
  local suite=$1 pkg=$2 d=$IMAGES_CACHE/apt-$1 mirror a
  mirror=$(debian_mirror)
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$d/sources.list"
  a=(-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o "Dir::Etc::SourceList=$d/sources.list"
    -o Dir::Etc::SourceParts=/dev/null -o APT::Architecture=amd64)
  if ! ls "$d/debs/${pkg}_"*.deb >/dev/null 2>&1; then
    apt-get "${a[@]}" update -q >&2 || die "apt-get update of $suite failed"
    (cd "$d/debs" && apt-get "${a[@]}" download "$pkg" >&2) || die "apt-get download $pkg ($suite) failed"
  fi
  ls "$d/debs/${pkg}_"*.deb | tail -1
}
