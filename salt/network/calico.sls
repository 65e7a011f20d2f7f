{#- Calico needs its images (calico/node, calico/cni, calico/kube-controllers)
    in the bundle; a bundle built from Debian's sources cannot carry them. #}
{%- set bundle = salt['pillar.get']('saltsphere:bundle', {}) %}
{{- raise("kube_network_plugin is calico, but this release installs calico only from a bundle that holds its images, and " ~ (bundle.get('url', 'the bundle')) ~ " has none; set kube_network_plugin: bridge in vars.yml (every node on one L2 segment)") }}
