"""The pairing tables: each Kubernetes minor's calico release against calico's published support matrix."""

import pytest

from saltsphere import calico, releases


def test_every_supported_minor_has_a_calico_release():
    assert sorted(releases.CALICO) == releases.supported_minors()


def _series(version) -> str:
    return ".".join(version.split(".")[:2])


def _newest_tested(minor) -> str:
    return max((series for series, tested in releases.CALICO_TESTED.items() if minor in tested),
               key=lambda series: tuple(int(part) for part in series[1:].split(".")))


@pytest.mark.parametrize("minor, version", sorted(releases.CALICO.items()))
def test_each_pairing_is_the_newest_release_tested_against_its_minor(minor, version):
    if minor in releases.CALICO_EXCEPTIONS:
        return
    assert minor in releases.CALICO_TESTED[_series(version)], f"calico {version} is not tested against {minor}"
    assert _series(version) == _newest_tested(minor)


def test_kubernetes_1_20_keeps_the_release_whose_objects_are_built():
    assert releases.CALICO_EXCEPTIONS == {(1, 20)}
    assert releases.CALICO[(1, 20)] in calico.RENDERED
    # The matrix would choose a newer one; only the objects hold 1.20 back.
    assert _newest_tested((1, 20)) == "v3.21"
    assert (1, 20) not in releases.CALICO_TESTED["v3.17"]


@pytest.mark.parametrize("kube_version, expected", [
    ("v1.20.2", "v3.17.6"), ("v1.20.15", "v3.17.6"), ("1.20.0", "v3.17.6"), ("v1.28.4", "v3.28.2"),
    ("v1.19.16", None), ("v1.33.0", None), ("latest", None), ("", None),
])
def test_each_kubernetes_release_has_its_minors_calico(kube_version, expected):
    assert releases.calico_version(kube_version) == expected


@pytest.mark.parametrize("minor, coredns", [
    ((1, 20), "1.7.0"), ((1, 21), "v1.8.0"), ((1, 22), "v1.8.4"), ((1, 23), "v1.8.6"), ((1, 24), "v1.8.6"),
    ((1, 25), "v1.9.3"), ((1, 26), "v1.9.3"), ((1, 27), "v1.10.1"), ((1, 28), "v1.10.1"), ((1, 29), "v1.11.1"),
])
def test_coredns_is_kubeadms(minor, coredns):
    assert releases.VERSION_TABLE[minor].coredns == coredns
