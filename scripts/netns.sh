#!/usr/bin/env bash
# Private network namespaces for trying cluster-node by hand: mDNS packets stay inside
# them and never reach a real network. Needs unshare, nsenter and ip (util-linux,
# iproute2); no root needed where unprivileged user namespaces are allowed.
#
#   scripts/netns.sh start            one private host: loopback with multicast on
#   scripts/netns.sh start --hosts 3  a virtual LAN: hosts h1..h3 (10.77.0.1-3) on a bridge
#   scripts/netns.sh run [--host hN] CMD...   run a command inside (any terminal)
#   scripts/netns.sh link hN down|up  unplug / plug host hN's cable
#   scripts/netns.sh stop             remove the namespaces (stop the nodes inside first)
set -euo pipefail
STATE=${CLUSTER_NODE_NETNS_STATE:-${TMPDIR:-/tmp}/cluster-node-netns.pid}

holder() {
  [ -s "$STATE" ] || { echo "no namespace running: scripts/netns.sh start" >&2; exit 1; }
  local pid; pid=$(cat "$STATE")
  kill -0 "$pid" 2>/dev/null || { echo "namespace holder $pid is gone: scripts/netns.sh start" >&2; exit 1; }
  echo "$pid"
}

setup_script() {
  local hosts=$1
  if [ "$hosts" -eq 0 ]; then
    echo 'ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo'
    return
  fi
  echo 'mount -t tmpfs none /run; mkdir -p /run/netns; ip link set lo up; ip link add br0 type bridge; ip link set br0 up'
  for i in $(seq 1 "$hosts"); do
    echo "ip netns add h$i; ip link add v$i type veth peer name eth0 netns h$i; ip link set v$i master br0 up"
    echo "ip netns exec h$i ip link set lo up; ip netns exec h$i ip addr add 10.77.0.$i/24 dev eth0"
    echo "ip netns exec h$i ip link set eth0 up; ip netns exec h$i ip route add 224.0.0.0/4 dev eth0"
  done
}

case "${1:-}" in
  start)
    hosts=0
    if [ "${2:-}" = "--hosts" ]; then hosts=${3:?--hosts needs a number}; fi
    if [ -s "$STATE" ] && kill -0 "$(cat "$STATE")" 2>/dev/null; then echo "already running (pid $(cat "$STATE")); scripts/netns.sh stop first" >&2; exit 1; fi
    ready=$(mktemp)
    # shellcheck disable=SC2016
    unshare -rnm --fork sh -c "set -e; $(setup_script "$hosts" | paste -sd';'); echo \$\$ > '$ready'; exec sleep infinity" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 100); do [ -s "$ready" ] && break; sleep 0.05; done
    [ -s "$ready" ] || { echo "could not create the namespace (are user namespaces allowed?)" >&2; exit 1; }
    cat "$ready" > "$STATE"; rm -f "$ready"
    if [ "$hosts" -eq 0 ]; then echo "private host ready: scripts/netns.sh run npx cluster-node --sname NAME --cookie foo"
    else echo "virtual LAN of $hosts hosts ready: scripts/netns.sh run --host h1 npx cluster-node --sname NAME --cookie foo"; fi
    ;;
  run)
    shift
    pid=$(holder)
    if [ "${1:-}" = "--host" ]; then
      host=${2:?--host needs a host name like h1}; shift 2
      exec nsenter -t "$pid" -U -n -m --preserve-credentials --wd="$PWD" ip netns exec "$host" "$@"
    fi
    exec nsenter -t "$pid" -U -n -m --preserve-credentials --wd="$PWD" "$@"
    ;;
  link)
    pid=$(holder)
    host=${2:?link needs a host like h2}; state=${3:?link needs up or down}
    nsenter -t "$pid" -U -n -m --preserve-credentials ip link set "v${host#h}" "$state"
    ;;
  stop)
    if [ -s "$STATE" ]; then kill "$(cat "$STATE")" 2>/dev/null || true; rm -f "$STATE"; fi
    echo stopped
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
