#!/usr/bin/env bash
# The multi-host test bed: N network namespaces ("hosts"), each with one veth
# pair into one bridge. Everything stays on this machine:
#   - addresses come from 198.18.0.0/15 (RFC 2544 benchmarking range), hosts at
#     198.18.77.11 .. 198.18.77.(10+N), the bridge itself at 198.18.77.1 so the
#     test runner (in the root namespace) can reach the peers' APIs;
#   - the namespaces get NO default route: they can reach each other and the
#     bridge address, nothing else;
#   - the root namespace gets `unreachable 198.18.0.0/15` (metric 4000), so even
#     with the bridge gone no packet for this range follows the default route out.
#
# Usage (as root):
#   netns.sh up N [PREFIX]     create (idempotent: removes PREFIX's old bed first)
#   netns.sh down [PREFIX]     remove PREFIX's namespaces, bridge and FORWARD rule
#   netns.sh run N [PREFIX] -- CMD...   up, run CMD, down on exit (trap), CMD's exit code
#   netns.sh check             exit 0 if namespaces can be made here, else say why
# PREFIX defaults to "cmn" (namespaces cmn-h1.., bridge cmn-br). NETNS_SUBNET (default
# 198.18.77) picks the /24 inside 198.18.0.0/15, so two beds can be up at once.
set -euo pipefail

SUBNET_BASE=${NETNS_SUBNET:-198.18.77}
GUARD_ROUTE=198.18.0.0/15

die() {
  echo "netns.sh: $*" >&2
  exit 1
}

check() {
  [ "$(id -u)" = 0 ] || die "network namespaces need root (running as uid $(id -u))"
  command -v ip >/dev/null || die "'ip' (iproute2) is not installed"
  local probe="cmn-probe-$$"
  ip netns add "$probe" 2>/dev/null || die "cannot create a network namespace ('ip netns add' failed)"
  ip netns del "$probe"
}

down() {
  local prefix=${1:-cmn}
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}-h[0-9]+$" || true); do
    # Kill whatever still runs inside (peers, fake providers) before the namespace goes.
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  # A namespace outlives `ip netns del` while anything still holds it, and so does its veth; delete
  # the root ends directly (that destroys both ends) so the next `up` never meets "File exists".
  local link
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^${prefix}-v[0-9]+$" || true); do
    ip link del "$link" 2>/dev/null || true
  done
  ip link del "${prefix}-br" 2>/dev/null || true
  if command -v iptables >/dev/null; then
    while iptables -D FORWARD -i "${prefix}-br" -o "${prefix}-br" -j ACCEPT 2>/dev/null; do :; done
  fi
}

up() {
  local count=${1:?usage: netns.sh up N [PREFIX]}
  local prefix=${2:-cmn}
  [ "$count" -ge 1 ] && [ "$count" -le 200 ] || die "N must be 1..200"
  check
  down "$prefix"
  # If anything below fails, leave nothing half-made behind.
  BED_PREFIX=$prefix
  trap 'echo "netns.sh: failed: $BASH_COMMAND" >&2; down "$BED_PREFIX"' ERR
  ip route replace unreachable "$GUARD_ROUTE" metric 4000
  ip link add "${prefix}-br" type bridge
  ip addr add "${SUBNET_BASE}.1/24" dev "${prefix}-br"
  ip link set "${prefix}-br" up
  # Bridged frames pass the root FORWARD chain when br_netfilter is loaded: let the bed's own through.
  if command -v iptables >/dev/null; then
    iptables -I FORWARD -i "${prefix}-br" -o "${prefix}-br" -j ACCEPT
  fi
  local index ns
  for index in $(seq 1 "$count"); do
    ns="${prefix}-h${index}"
    ip netns add "$ns"
    ip link add "${prefix}-v${index}" type veth peer name eth0 netns "$ns"
    ip link set "${prefix}-v${index}" master "${prefix}-br" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "${SUBNET_BASE}.$((10 + index))/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  trap - ERR
  echo "netns.sh: $count hosts up: ${prefix}-h1..${prefix}-h${count} at ${SUBNET_BASE}.11..${SUBNET_BASE}.$((10 + count)), bridge ${prefix}-br ${SUBNET_BASE}.1, no default route"
}

run() {
  local count=${1:?usage: netns.sh run N [PREFIX] -- CMD...}
  shift
  local prefix=cmn
  if [ "${1:-}" != "--" ]; then
    prefix=$1
    shift
  fi
  [ "${1:-}" = "--" ] || die "usage: netns.sh run N [PREFIX] -- CMD..."
  shift
  BED_PREFIX=$prefix
  trap 'down "$BED_PREFIX"' EXIT
  trap 'exit 130' INT TERM
  up "$count" "$prefix"
  "$@"
}

command=${1:-}
shift || true
case "$command" in
up) up "$@" ;;
down) down "$@" ;;
run) run "$@" ;;
check) check && echo "netns.sh: namespaces can be made here" ;;
*) die "usage: netns.sh up N [PREFIX] | down [PREFIX] | run N [PREFIX] -- CMD... | check" ;;
esac
