# Defaults of every key of conf/vars.yml.  The taskbox validates vars.yml
# against this file (a key absent here is unknown; a value must have the type
# of its default) and the ext_pillar serves the merged result under
# saltsphere:config.  Operators who use the states under their own master get
# these defaults from pillar_roots.
saltsphere:
  config:
    # --- versions -------------------------------------------------------
    kube_version: v1.20.2
    etcd_version: 3.4.23
    ks_version: v3.4.1

    # --- network --------------------------------------------------------
    # calico (default) or bridge (CNI bridge + host-local, routes between
    # nodes; needs every node on one L2 segment).
    kube_network_plugin: calico
    kube_service_addresses: 10.233.0.0/18
    kube_pods_subnet: 10.233.64.0/18
    # Size of the pod range given to each node.
    kube_network_node_prefix: 24
    kube_apiserver_port: 6443
    kube_proxy_mode: iptables
    cluster_name: cluster.local

    # --- Kubernetes control plane ----------------------------------------
    # Where the control-plane images are named from (kubeadm's imageRepository).
    kube_image_repository: k8s.gcr.io
    # An external load balancer or virtual IP for the API ("host:port").  Empty:
    # one master is reached directly; several masters are reached through a
    # local load balancer (haproxy) on every Kubernetes host.
    kube_control_plane_endpoint: ""
    # The port of that local load balancer, on 127.0.0.1 of every host.
    kube_apiserver_lb_port: 6444
    # How long a host waits for another one (the API of the first master, its
    # node's pod range) before it fails with a message saying what it waited for.
    kube_wait_seconds: 300
    # kubeadm preflight checks to ignore on every host, by the names kubeadm
    # prints (e.g. SystemVerification, which needs the kernel's config in
    # /proc/config.gz or /boot: absent in containers), or [all].  Empty: every
    # check counts.  ImagePull is added by itself for a bundle without CoreDNS.
    kubeadm_ignore_preflight_errors: []

    # --- kube-proxy (upstream's defaults) --------------------------------
    # kube-proxy raises the kernel's conntrack table to maxPerCore x cores (at
    # least min) and sets the TCP established / close-wait timeouts.  0 (or
    # 0s) leaves the kernel's value alone: only for hosts that cannot write
    # those sysctls (containers, the sandbox).
    kube_proxy_conntrack_max_per_core: 32768
    kube_proxy_conntrack_min: 131072
    kube_proxy_conntrack_tcp_established_timeout: 24h0m0s
    kube_proxy_conntrack_tcp_close_wait_timeout: 1h0m0s
    # kube-proxy's OOM score (-1000..1000): -999 keeps it alive under memory
    # pressure.  Hosts whose root cannot lower scores (no CAP_SYS_RESOURCE)
    # set 0.
    kube_proxy_oom_score_adj: -999

    # --- artifact bundle ---------------------------------------------------
    # The bundle on the taskbox (saltsphere artifact build/fetch) and the port
    # it is served on to the hosts while they install; hosts download each file
    # once, checked by its sha256.
    artifact_bundle: /var/lib/saltsphere/bundle
    artifact_port: 8089

    # --- containerd -------------------------------------------------------
    # The pod sandbox ("pause") image; kubelet 1.20 asks for this one.
    containerd_sandbox_image: k8s.gcr.io/pause:3.2
    # systemd or cgroupfs.  kubelet reads the same key: both must agree.
    containerd_cgroup_driver: systemd
    # true makes the CRI plugin raise the negative oom_score_adj kubelet asks
    # for (critical pods, pod sandboxes) to containerd's own.  Only for hosts
    # whose root lacks CAP_SYS_RESOURCE (user namespaces, nested containers
    # such as the sandbox's), where runc cannot set them and every such pod
    # would fail.  containerd's default: false.
    containerd_restrict_oom_score_adj: false

    # --- container registries ---------------------------------------------
    # Where containerd pulls the images that are not imported from the
    # bundle (containerd's hosts.toml files under /etc/containerd/certs.d,
    # which saltsphere owns: files of its own there are removed).
    # Mirrors of Docker Hub, tried in order before docker.io itself:
    # https://HOST[:PORT], or http://HOST[:PORT] for one without TLS.
    registry_mirrors: []
    # The organisation's registry (HOST[:PORT]), tried before every public
    # registry the cluster's images come from (docker.io, registry.k8s.io,
    # k8s.gcr.io, gcr.io, quay.io, ghcr.io).  It must hold them under the same
    # repository paths: a pull-through cache, or images pushed there.
    private_registry: ""
    # Registries (HOST[:PORT]) spoken to over plain HTTP, without TLS.  Only on
    # a network nobody else can reach: whoever sits on the path chooses what
    # every node runs.
    insecure_registries: []
    # The CA certificate (PEM, on the taskbox; relative to vars.yml) that
    # signed private_registry's certificate, when the hosts do not trust it.
    registry_ca_file: ""

    # --- OS baseline -----------------------------------------------------
    # Run a time daemon (chrony) on every host.  Hosts that share their
    # kernel's clock (containers, the sandbox) must set false.
    os_time_sync: true

    # --- preflight thresholds (the seed's minimums) ----------------------
    preflight_min_cpu_cores: 4
    preflight_min_memory_gb: 8
    preflight_min_disk_gb: 40

    # --- preflight (salt-run saltsphere_preflight.run; changes nothing) ----
    # Commands that must be on every host before the install.
    preflight_required_commands: [ip, modprobe, mount, iptables]
    # Commands the cluster needs that come from the OS's packages: a missing
    # one is a warning with the package command that installs it.
    preflight_installable_commands: [conntrack, socat, ipset, ebtables]
    # Kernel modules that must be loaded, built in or loadable.
    preflight_kernel_modules: [br_netfilter, overlay]
    # name=value the cluster runs with; another value is a warning (a sysctl
    # that does not exist yet appears once its module is loaded).
    preflight_sysctls:
      - net.ipv4.ip_forward=1
      - net.bridge.bridge-nf-call-iptables=1
    # Hosts whose clocks differ by more than this (from each other or from
    # the taskbox, which signs the certificates) fail.
    preflight_max_clock_skew_seconds: 5
    # Seconds to wait for an SSH connection, and for each TCP probe between hosts.
    preflight_ssh_timeout_seconds: 10
    preflight_reach_timeout_seconds: 3

    # --- certificates (saltsphere certs check) ----------------------------
    # A certificate with this many days or fewer left is due: `saltsphere
    # certs check` exits 1.  kubeadm's certificates last a year, so it must
    # stay below 365 (0: only expired ones count).
    certs_warn_days: 30

    # --- etcd backups (saltsphere etcd backup) ----------------------------
    # Snapshots kept in .saltsphere/backups on the taskbox; the oldest beyond
    # this many are removed after each new one (at least 1).
    etcd_backup_keep: 10

    # --- storage: exactly one enabled class must be the default ----------
    # Local volume provisioner (all-in-one only)
    local_volume_provisioner_enabled: false
    local_volume_provisioner_storage_class: local
    local_volume_is_default_class: false

    # NFS server in Kubernetes (for test installs)
    nfs_server_enable: false
    nfs_server_is_default_class: false

    # NFS client (an existing NFS server)
    nfs_client_enable: false
    nfs_client_is_default_class: false
    nfs_server: ""
    nfs_path: ""

    # Ceph RBD
    ceph_rbd_enabled: false
    ceph_rbd_is_default_class: false
    ceph_rbd_storage_class: rbd
    ceph_rbd_monitors: []
    ceph_rbd_admin_id: admin
    ceph_rbd_admin_secret: ""
    ceph_rbd_pool: rbd
    ceph_rbd_user_id: admin
    ceph_rbd_user_secret: ""
    ceph_rbd_fsType: ext4
    ceph_rbd_imageFormat: "1"
    ceph_rbd_imageFeatures: layering

    # GlusterFS (through heketi)
    glusterfs_provisioner_enabled: false
    glusterfs_provisioner_is_default_class: false
    glusterfs_provisioner_storage_class: glusterfs
    glusterfs_provisioner_restauthenabled: true
    glusterfs_provisioner_resturl: ""
    glusterfs_provisioner_clusterid: ""
    glusterfs_provisioner_restuser: admin
    glusterfs_provisioner_secretName: heketi-secret
    glusterfs_provisioner_gidMin: 40000
    glusterfs_provisioner_gidMax: 50000
    glusterfs_provisioner_volumetype: "replicate:2"
    jwt_admin_key: ""

    # QingCloud block storage CSI
    qingcloud_csi_enabled: false
    qingcloud_csi_is_default_class: false
    qingcloud_access_key_id: ""
    qingcloud_secret_access_key: ""
    qingcloud_zone: ""
    qingcloud_host: api.qingcloud.com
    qingcloud_port: 443
    qingcloud_protocol: https
    qingcloud_uri: /iaas
    qingcloud_connection_retries: 3
    qingcloud_connection_timeout: 30
    qingcloud_type: 0
    qingcloud_maxSize: 500
    qingcloud_minSize: 10
    qingcloud_stepSize: 10
    qingcloud_fsType: ext4
    disk_replica: 2

    # QingStor NeonSAN CSI
    neonsan_csi_enabled: false
    neonsan_csi_is_default_class: false
    neonsan_csi_protocol: TCP
    neonsan_server_address: ""
    neonsan_cluster_name: ""
    neonsan_server_pool: kube
    neonsan_server_replicas: 1
    neonsan_server_stepSize: 10
    neonsan_server_fsType: ext4

    # --- KubeSphere -------------------------------------------------------
    ks_console_nodeport: 32130
    # Empty: a password is generated on the taskbox and shown once.
    ks_admin_password: ""
