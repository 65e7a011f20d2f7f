{#- `saltsphere certs renew` on one etcd member (kubesphere.certs_renew takes
    the members one at a time): the taskbox has signed this member's peer,
    server and health-check certificates again from the same etcd CA, and the
    role converges on them as the install does: the files change
    (etcd.config), etcd restarts on them (etcd.service watches its config) and
    the run waits until the member is healthy in the cluster again
    (etcd.health) before the orchestration goes on to the next one. #}
include:
  - etcd
