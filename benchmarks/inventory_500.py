"""Time `saltsphere check`, the roster and the ext_pillar on a generated 500-host inventory.

Run: python benchmarks/inventory_500.py [--hosts N]
Prints one line per measured step; the goal is the whole under 3 s.
"""

import argparse
import os
import sys
import tempfile
import time

import salt.config
import salt.loader

from saltsphere import cli, paths


def write_cluster(directory, count):
    masters, etcd = ["master1", "master2", "master3"], ["master1", "master2", "master3"]
    lines = ["[all]"]
    for index in range(count):
        name = masters[index] if index < 3 else f"node{index - 2}"
        ip = f"192.168.{index // 250}.{index % 250 + 1}"
        lines.append(f"{name} ansible_host={ip} ip={ip} ansible_ssh_pass=bench-secret")
    lines += ["", "[kube-master]", *masters, "", "[etcd]", *etcd, "", "[kube-node]"]
    lines += [f"node{i}" for i in range(1, count - 2)]
    lines += ["", "[k8s-cluster:children]", "kube-master", "kube-node", ""]
    with open(os.path.join(directory, "hosts.ini"), "w") as handle:
        handle.write("\n".join(lines))
    with open(os.path.join(directory, "vars.yml"), "w") as handle:
        # /16 pods split in /24s holds 256 nodes: widen it for the large inventory.
        handle.write("nfs_server_enable: true\nnfs_server_is_default_class: true\n"
                     "kube_pods_subnet: 10.232.0.0/14\nkube_service_addresses: 10.236.0.0/18\n")


def timed(label, func):
    start = time.perf_counter()
    result = func()
    print(f"{label:<40} {time.perf_counter() - start:7.3f} s")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        write_cluster(directory, args.hosts)
        hosts_ini = os.path.join(directory, "hosts.ini")
        total = time.perf_counter()
        with open(os.devnull, "w") as devnull:
            saved, sys.stdout = sys.stdout, devnull
            try:
                code = timed_check = None
                start = time.perf_counter()
                code = cli.main(["check", "-i", hosts_ini])
                timed_check = time.perf_counter() - start
            finally:
                sys.stdout = saved
        print(f"{'saltsphere check (' + str(args.hosts) + ' hosts)':<40} {timed_check:7.3f} s  exit {code}")

        opts = salt.config.master_config(str(paths.project_root() / "etc" / "salt" / "master"))
        opts.update(roster_file=hosts_ini, extension_modules=str(paths.project_root() / "extension_modules"))
        utils = salt.loader.utils(opts)
        rosters = salt.loader.roster(opts, runner={}, utils=utils)
        targets = timed("roster targets('*')", lambda: rosters["saltsphere.targets"]("*", "glob"))
        pillars = salt.loader.pillars(opts, {})
        ext = pillars["saltsphere"]
        timed(f"ext_pillar for all {len(targets)} hosts", lambda: [ext(name, {}) for name in targets])
        print(f"{'total':<40} {time.perf_counter() - total:7.3f} s  (goal < 3 s)")


if __name__ == "__main__":
    main()
