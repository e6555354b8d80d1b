# Sourced by the integration scripts and the real-node tier: the counters and the checks
# every script reports with. Each check prints one line, "ok   - WHAT" or "FAIL - WHAT";
# a script ends with its own "N passed, M failed" line and exits non-zero on a failure.
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; }
# expect WHAT CMD...: ok when CMD succeeds
expect() { local what=$1; shift; if "$@"; then ok "$what"; else no "$what"; fi; }
# has TEXT IN: IN contains TEXT as it is; lacks RE IN: no line of IN matches the ERE RE
has() { grep -qF -- "$1" <<<"$2"; }
lacks() { ! grep -qE -- "$1" <<<"$2"; }

# A git server over ssh, as a user would run one: Debian's sshd on 127.0.0.1:$2 as this
# user, host key $3, accepting the public keys in $4; its files under $1. Sets
# SSHD_PID (stop it with sshd_stop). git's upload-pack serves any repository path.
sshd_start() { # sshd_start DIR PORT HOST_KEY AUTHORIZED_KEYS
  local d=$1
  mkdir -p "$d"
  cat >"$d/config" <<CONF
Port $2
ListenAddress 127.0.0.1
HostKey $3
PidFile $d/pid
AuthorizedKeysFile $4
AllowUsers $(id -un)
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
CONF
  # as root, sshd separates privileges into /run/sshd; create it only when it is missing
  [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ] && mkdir -m 0755 /run/sshd
  /usr/sbin/sshd -D -e -f "$d/config" 2>"$d/log" &
  SSHD_PID=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0; sleep 0.1; done
  echo "sshd did not listen on 127.0.0.1:$2" >&2; return 1
}
sshd_stop() { if [ -n "${SSHD_PID:-}" ]; then kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; SSHD_PID=; fi; }
# a free TCP port on 127.0.0.1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
