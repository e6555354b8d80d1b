# redis: Debian bookworm's redis-server and redis-cli (7.0) with sh. The stack runs it as
# uid/gid 999 with its own command (sh -c "exec redis-server --requirepass ... --dir /data",
# bundle/templates/31-redis.yaml); the image's default command is a plain redis-server.
IMAGE_TAG=7.0
PACKAGES=(redis-server redis-tools)
IMAGE_USER=999:999
IMAGE_WORKDIR=/data
IMAGE_CMD=(redis-server --dir /data)

recipe_before() {  # the redis user gets uid/gid 999 (as in the upstream image) before apt adds it
  in_root "$1" groupadd -r -g 999 redis
  in_root "$1" useradd -r -u 999 -g 999 -d /var/lib/redis -s /usr/sbin/nologin redis
}

recipe_after() {
  install -d -o 999 -g 999 -m 0755 "$1/data"
}
