#!/bin/sh
# Managed by saltsphere (salt/network): the bridge network's routes to the
# other nodes' pods and the pods' egress rule, restored at boot.
set -eu
rule="-s {{ pod_subnet }} ! -d {{ pod_subnet }} -m comment --comment saltsphere-pod-egress -j MASQUERADE"
# shellcheck disable=SC2086
iptables -t nat -C POSTROUTING $rule 2>/dev/null || iptables -t nat -A POSTROUTING $rule
[ -r {{ routes_file }} ] || exit 0
while read -r cidr gateway; do
  [ -n "$cidr" ] && ip route replace "$cidr" via "$gateway"
done < {{ routes_file }}
