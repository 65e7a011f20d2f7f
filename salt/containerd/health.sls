include:
  - .service

{#- containerd stays up when its CRI plugin fails to load (it logs the error
    and serves everything else), and kubelet can only use it through that
    plugin: fail here, with containerd's reason, rather than at kubeadm. #}
containerd-health-saltsphere-containerd-plugin-loaded:
  saltsphere_containerd.plugin_loaded:
    - name: io.containerd.grpc.v1.cri
    - require:
      - service: containerd-service-service-running
