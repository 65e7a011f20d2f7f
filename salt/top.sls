# Each host gets the states of its roles.  Roles come from hosts.ini through
# the ext_pillar (saltsphere:host:roles); a host outside the inventory gets
# nothing.
base:
  'I@saltsphere:host:roles:etcd or I@saltsphere:host:roles:kube-master or I@saltsphere:host:roles:kube-node':
    - match: compound
    - os
  'I@saltsphere:host:roles:etcd':
    - match: compound
    - etcd
  'I@saltsphere:host:roles:kube-master or I@saltsphere:host:roles:kube-node':
    - match: compound
    - containerd
    - kubernetes
    - network
    - storage
  'I@saltsphere:kubernetes:role:init':
    - match: compound
    - ks
