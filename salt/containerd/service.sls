{%- from 'containerd/map.jinja' import containerd with context %}

include:
  - .config

containerd-service-service-running:
  service.running:
    - name: {{ containerd.service }}
    - enable: True
    - watch:
      - sls: containerd.config
