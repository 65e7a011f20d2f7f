{#- Pods on the standard CNI bridge with host-local addresses from the node's
    pod range, and a route to every other node's range via that node: no
    daemon, and every node must share one L2 segment. #}
{%- from 'network/map.jinja' import network, cluster, host with context %}
{%- from 'kubernetes/after.jinja' import kubernetes_sls with context %}
{%- set rule = '-s ' ~ cluster.pod_subnet ~ ' ! -d ' ~ cluster.pod_subnet ~ ' -m comment --comment saltsphere-pod-egress -j MASQUERADE' %}

include:
  - {{ kubernetes_sls }}
  - network.bridge_routes

network-bridge-saltsphere-network-cni-bridge:
  saltsphere_network.cni_bridge:
    - name: {{ network.bridge_conf }}
    - node: {{ host.name }}
    - bridge: {{ network.bridge }}
    - wait: {{ cluster.wait_seconds }}
    - require:
      - sls: {{ kubernetes_sls }}
    - require_in:
      - saltsphere_network: network-bridge-routes-saltsphere-network-pod-routes

{#- Pods keep their address towards other pods; traffic leaving the pod range
    leaves with the node's. #}
network-bridge-cmd-run-masquerade:
  cmd.run:
    - name: iptables -t nat -A POSTROUTING {{ rule }}
    - unless: iptables -t nat -C POSTROUTING {{ rule }}

network-bridge-saltsphere-network-node-ready:
  saltsphere_network.node_ready:
    - name: {{ host.name }}
    - wait: {{ cluster.wait_seconds }}
    - require:
      - saltsphere_network: network-bridge-saltsphere-network-cni-bridge

{#- A rebooted node gets its routes and egress rule back before kubelet starts. #}
network-bridge-file-managed-boot-script:
  file.managed:
    - name: {{ network.boot_script }}
    - source: salt://network/files/pod-network.sh
    - template: jinja
    - mode: '0755'
    - context:
        pod_subnet: {{ cluster.pod_subnet }}
        routes_file: {{ network.routes_file }}

network-bridge-file-managed-boot-service:
  file.managed:
    - name: {{ network.systemd_dir }}/{{ network.boot_service }}.service
    - source: salt://network/files/pod-network.service
    - template: jinja
    - context:
        script: {{ network.boot_script }}

network-bridge-cmd-run-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: network-bridge-file-managed-boot-service

network-bridge-service-enabled-boot:
  service.enabled:
    - name: {{ network.boot_service }}
    - require:
      - cmd: network-bridge-cmd-run-daemon-reload
      - file: network-bridge-file-managed-boot-script
