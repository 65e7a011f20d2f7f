{#- The mirror of network/init.sls, for either plugin: the boot unit that
    restores the bridge's routes, the routes, the CNI configuration, then what
    kube-proxy, kubelet and the plugin left in the kernel (interfaces, pod
    network namespaces, netfilter chains).  The reset runs it after
    kubernetes.clean: while kubelet and the pods run, kube-proxy and kubelet
    make their chains again.  Parameters only, no cluster pillar: any host is
    cleaned alike. #}
{%- from 'network/map.jinja' import network with context %}

include:
  - transport.wipe

network-clean-service-dead-boot:
  service.dead:
    - name: {{ network.boot_service }}
    - enable: False
    {#- A host cleaned already has no such unit; Salt's dry run would call it one to stop. #}
    - onlyif:
      - fun: service.available
        name: {{ network.boot_service }}

network-clean-file-absent-boot:
  file.absent:
    - names:
      - {{ network.systemd_dir }}/{{ network.boot_service }}.service
      - {{ network.boot_script }}
    - require:
      - service: network-clean-service-dead-boot

network-clean-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: network-clean-file-absent-boot

{#- The routes to the other nodes' pods go via the host's own interface, not
    the bridge: they outlive it unless removed one by one. #}
network-clean-cmd-run-pod-routes:
  cmd.run:
    - name: |-
        while read -r cidr gateway; do
          [ -z "$cidr" ] || ip route del "$cidr" via "$gateway" 2>/dev/null || true
        done < {{ network.routes_file }}
    - onlyif: test -f {{ network.routes_file }}

network-clean-file-absent-routes:
  file.absent:
    - name: {{ network.routes_file }}
    - require:
      - cmd: network-clean-cmd-run-pod-routes

network-clean-file-absent-cni:
  file.absent:
    - names:
      - {{ network.bridge_conf }}
      - {{ network.calico_manifest }}
{%- for path in network.clean_files %}
      - {{ path }}
{%- endfor %}

network-clean-saltsphere-netclean-links-absent:
  saltsphere_netclean.links_absent:
    - patterns: {{ ([network.bridge] + network.clean_links) | json }}
    - flush: {{ network.clean_flush_links | json }}
    - require:
      - file: network-clean-file-absent-cni

network-clean-saltsphere-netclean-chains-absent:
  saltsphere_netclean.chains_absent:
    - prefixes: {{ network.clean_chain_prefixes | json }}
    - comments:
      - saltsphere-pod-egress
    - require:
      - saltsphere_netclean: network-clean-saltsphere-netclean-links-absent
