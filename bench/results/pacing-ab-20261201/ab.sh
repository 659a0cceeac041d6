#!/bin/bash
cd /work/wt-pace
N=${N:-3}; NODES=${NODES:-20}; HOSTS=${HOSTS:-4}
mkdir -p /tmp/pace-results
for i in $(seq 1 $N); do
  for v in "$@"; do
    echo "=== $v iteration $i load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%T)"
    CLUSTER_NODE_BIN=/tmp/pace-$v/bin/cluster-node.js timeout 600 npm run bench -- formation --nodes $NODES --hosts $HOSTS --runs 1 --timeout-seconds 90 --out /tmp/pace-results/$v 2>&1 | grep -E "^run |handshake timeouts, |Environment"
  done
done
echo DONE
