#!/usr/bin/env bash
# The seed installer's entry point: with no arguments, its menu (All-in-one
# installs this machine, Multi-node the hosts of conf/hosts.ini); with
# arguments, they go to `saltsphere install` unchanged, e.g.
#   ./install.sh --multi-node -i conf/hosts.ini --yes
#   ./install.sh --multi-node -i conf/hosts.ini --dry-run   (what it would change; changes nothing)
#   ./install.sh --add-nodes -i conf/hosts.ini --yes        (hosts of hosts.ini not in the cluster yet join it)
# The exit code is saltsphere install's.
set -euo pipefail

repo=$(cd "$(dirname "$0")" && pwd)
bin=$("$repo/tools/setup")
export PATH="$bin:$PATH"

if [ $# -gt 0 ]; then
  exec saltsphere install "$@"
fi

menu() {
  cat <<'EOF'
################################################
         KubeSphere Installer Menu
################################################
*   1) All-in-one
*   2) Multi-node
*   3) Quit
################################################
https://kubesphere.io/               2018-12-08
################################################
EOF
}

while true; do
  menu
  printf "Please input an option: "
  read -r option || exit 0
  case "$option" in
    1) exec saltsphere install --all-in-one ;;
    # saltsphere asks whether the storage is configured, as the seed did.
    2) exec saltsphere install --multi-node -i "$repo/conf/hosts.ini" ;;
    3) exit 0 ;;
  esac
done
