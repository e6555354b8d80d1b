# pgbouncer-exporter: prometheus-community's pgbouncer_exporter, the program the stack names
# (quay.io/prometheuscommunity/pgbouncer-exporter, flags --pgBouncer.connectionString and
# --web.listen-address). Bookworm's package of that name is another program (a Python
# exporter configured by a file); trixie packages the Go one (0.10.2), a static-enough
# binary that runs on bookworm. Only its binary is taken from the .deb (the package depends on
# trixie's postgresql-common, which bookworm does not have and the program does not use).
EXPORTER_PKG=prometheus-pgbouncer-exporter
IMAGE_TAG=0.10.2
PACKAGES=(ca-certificates)
IMAGE_USER=65534:65534
IMAGE_ENTRYPOINT=(/usr/bin/pgbouncer_exporter)
RECIPE_INPUTS=()

recipe_before() {
  local deb
  deb=$(other_suite_deb trixie "$EXPORTER_PKG")
  case $deb in *"_1:${IMAGE_TAG}-"* | *"_1%3a${IMAGE_TAG}-"*) ;; *) die "expected $EXPORTER_PKG $IMAGE_TAG, got $deb" ;; esac
  mkdir -p "$1/tmp/exporter"
  dpkg-deb -x "$deb" "$1/tmp/exporter"
  ls -R "$1/tmp/exporter/usr/bin"
}

recipe_after() {
  local bin
  bin=$(ls "$1"/tmp/exporter/usr/bin/* | head -1)
  install -m 0755 "$bin" "$1/usr/bin/pgbouncer_exporter"
  rm -rf "$1/tmp/exporter"
  in_root "$1" /usr/bin/pgbouncer_exporter --version
}
