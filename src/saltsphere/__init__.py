"""saltsphere: Kubernetes and KubeSphere on plain Linux hosts, as a Salt distribution."""

__version__ = "0.1.0"
