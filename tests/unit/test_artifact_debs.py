"""The bundle's apt repository: apt's records, the dependency closure, the index and Release files."""

import hashlib

import pytest

from saltsphere.artifacts import ArtifactError
from saltsphere.artifacts import debs

APT_CACHE_SHOW = """\
Package: nfs-common
Source: nfs-utils
Version: 1:2.6.2-4+deb12u1
Installed-Size: 1111
Maintainer: Debian kernel team <debian-kernel@lists.debian.org>
Architecture: amd64
Replaces: nfs-client
Provides: nfs-client
Depends: libc6 (>= 2.34), libnfsidmap1 (= 1:2.6.2-4+deb12u1), rpcbind, adduser, python3
Pre-Depends: init-system-helpers (>= 1.54~)
Suggests: open-iscsi, watchdog
Conflicts: nfs-client
Description: NFS support files common to client and server
Description-md5: c2f5fd5a7d525f1cc35fbb49cc8628fd
Homepage: https://linux-nfs.org/
Tag: admin::filesystem, implemented-in::c, interface::commandline,
 interface::daemon, network::client, network::server, protocol::nfs,
 role::program
Section: net
Priority: optional
Filename: pool/main/n/nfs-utils/nfs-common_2.6.2-4+deb12u1_amd64.deb
Size: 259632
MD5sum: bc02f02cbcb8f01b6e65ff59e7d78b1a
SHA256: 8ae6f0db37efdbefbf5f201d085d057596b0464232c8de78e57a278bcf2bf0ee

Package: libnfsidmap1
Source: nfs-utils
Version: 1:2.6.2-4+deb12u1
Architecture: i386
Depends: libc6 (>= 2.34), libldap-2.5-0 (>= 2.5.4)
Priority: optional
Filename: pool/main/n/nfs-utils/libnfsidmap1_2.6.2-4+deb12u1_i386.deb
Size: 55012
SHA256: 0f2b0b6a2f4b7ab3c4e0a0d4b7f4b1e2c8f5b1a2d3c4e5f60718293a4b5c6d7e

Package: libnfsidmap1
Source: nfs-utils
Version: 1:2.6.2-4+deb12u1
Installed-Size: 276
Architecture: amd64
Provides: libnfsidmap-regex, libnfsidmap2
Depends: libc6 (>= 2.34), libldap-2.5-0 (>= 2.5.4)
Description: NFS idmapping library
Multi-Arch: same
Section: libs
Priority: optional
Filename: pool/main/n/nfs-utils/libnfsidmap1_2.6.2-4+deb12u1_amd64.deb
Size: 54896
SHA256: ac06d355b1effb7786313eacc762963457354caad6bce60d2053a90581c21e3b

Package: mawk
Version: 1.3.4.20200120-3.1
Architecture: amd64
Provides: awk
Depends: libc6 (>= 2.29)
Priority: required
Filename: pool/main/m/mawk/mawk_1.3.4.20200120-3.1_amd64.deb
Size: 119544
SHA256: 2f8b7c6e7ee2a1f1c2f6b2a8c0f4d4d7b3a4a8d1bbd6a8f0a2d6e1f0c9b8a7d6
"""


def record(name, depends="", pre_depends="", provides="", priority="optional", essential="", version="1.0-1"):
    fields = {"Package": name, "Version": version, "Architecture": "amd64", "Priority": priority}
    for key, value in (("Depends", depends), ("Pre-Depends", pre_depends), ("Provides", provides),
                       ("Essential", essential)):
        if value:
            fields[key] = value
    return fields


def closure(records, packages, base=()):
    return debs.dependency_closure(packages, debs.index({r["Package"]: r for r in records}), base)


# --- apt's records -----------------------------------------------------------------------------------------

def test_parse_reads_every_stanza_in_field_order():
    records = debs.parse_apt_cache_show(APT_CACHE_SHOW)
    assert list(records) == ["nfs-common", "libnfsidmap1", "mawk"]
    nfs = records["nfs-common"]
    assert list(nfs)[:6] == ["Package", "Source", "Version", "Installed-Size", "Maintainer", "Architecture"]
    assert nfs["Version"] == "1:2.6.2-4+deb12u1"
    assert nfs["Pre-Depends"] == "init-system-helpers (>= 1.54~)"
    assert nfs["Tag"] == ("admin::filesystem, implemented-in::c, interface::commandline,\n"
                          "interface::daemon, network::client, network::server, protocol::nfs,\n"
                          "role::program")
    assert nfs["SHA256"] == "8ae6f0db37efdbefbf5f201d085d057596b0464232c8de78e57a278bcf2bf0ee"
    assert records["mawk"] == {
        "Package": "mawk", "Version": "1.3.4.20200120-3.1", "Architecture": "amd64", "Provides": "awk",
        "Depends": "libc6 (>= 2.29)", "Priority": "required",
        "Filename": "pool/main/m/mawk/mawk_1.3.4.20200120-3.1_amd64.deb", "Size": "119544",
        "SHA256": "2f8b7c6e7ee2a1f1c2f6b2a8c0f4d4d7b3a4a8d1bbd6a8f0a2d6e1f0c9b8a7d6",
    }


def test_parse_keeps_the_first_record_of_a_name_unless_told_the_architectures():
    assert debs.parse_apt_cache_show(APT_CACHE_SHOW)["libnfsidmap1"]["Architecture"] == "i386"
    native = debs.parse_apt_cache_show(APT_CACHE_SHOW, architectures=("amd64", "all"))
    assert native["libnfsidmap1"]["Architecture"] == "amd64"
    assert native["libnfsidmap1"]["Size"] == "54896"


def test_parse_keeps_only_the_fields_asked_for():
    records = debs.parse_apt_cache_show(APT_CACHE_SHOW, fields=("Depends", "Priority"))
    assert records["nfs-common"] == {
        "Package": "nfs-common", "Architecture": "amd64", "Priority": "optional",
        "Depends": "libc6 (>= 2.34), libnfsidmap1 (= 1:2.6.2-4+deb12u1), rpcbind, adduser, python3",
    }


def test_parse_of_empty_output_is_empty():
    assert debs.parse_apt_cache_show("") == {}
    assert debs.parse_apt_cache_show("\n\n") == {}


@pytest.mark.parametrize("text, message", [
    ("Package: a\nnot a field\n", "not 'Field: value'"),
    (" continued\nPackage: a\n", "continuation line outside any field"),
    ("Version: 1\n", "without a Package field"),
])
def test_parse_rejects_what_is_not_apt_output(text, message):
    with pytest.raises(ArtifactError, match=message):
        debs.parse_apt_cache_show(text)


def test_relations_drop_versions_and_architecture_qualifiers():
    assert debs.relations("libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any (>= 3.11~), "
                          "libfoo1:amd64,perl:native") == [
        ["libc6"], ["debconf", "debconf-2.0"], ["python3"], ["libfoo1"], ["perl"],
    ]
    assert debs.relations("") == []


def test_relations_reject_what_they_cannot_read():
    with pytest.raises(ArtifactError, match="cannot read the package relation"):
        debs.relations("libc6 (>= 2.34, broken")


# --- the closure -------------------------------------------------------------------------------------------

def test_closure_follows_depends_and_pre_depends_but_not_recommends():
    records = [
        dict(record("etcd-server", depends="adduser, libc6 (>= 2.34)", pre_depends="init-system-helpers (>= 1.54~)"),
             Recommends="etcd-client", Suggests="etcd-docs"),
        record("adduser", depends="passwd"),
        record("libc6"), record("init-system-helpers"), record("passwd"),
        record("etcd-client"), record("etcd-docs"),
    ]
    assert closure(records, ["etcd-server"]) == ["adduser", "etcd-server", "init-system-helpers", "libc6", "passwd"]


def test_closure_takes_the_first_alternative_apt_knows():
    records = [
        record("ca-certificates", depends="openssl (>= 1.1.1), debconf-not-here | debconf (>= 0.5) | debconf-2.0"),
        record("openssl"), record("debconf"), record("cdebconf", provides="debconf-2.0"),
    ]
    assert closure(records, ["ca-certificates"]) == ["ca-certificates", "debconf", "openssl"]


def test_closure_prefers_an_alternative_already_taken():
    records = [
        record("tool", depends="mta-one | mta-two"),
        record("mta-one"), record("mta-two"),
    ]
    assert closure(records, ["mta-two", "tool"]) == ["mta-two", "tool"]


def test_closure_resolves_a_virtual_package_through_provides():
    records = [
        record("chrony", depends="mail-transport-agent"),
        record("postfix", provides="mail-transport-agent, default-mta"),
    ]
    assert closure(records, ["chrony"]) == ["chrony", "postfix"]


def test_closure_prefers_a_provider_already_taken():
    records = [
        record("mailer", depends="mail-transport-agent"),
        record("exim4-daemon-light", provides="mail-transport-agent"),
        record("postfix", provides="mail-transport-agent (= 3.7)"),
    ]
    assert closure(records, ["mailer"]) == ["exim4-daemon-light", "mailer"]
    assert closure(records, ["postfix", "mailer"]) == ["mailer", "postfix"]


def test_closure_reads_architecture_qualifiers():
    records = [
        record("salt-helper", depends="python3:any (>= 3.11~), libfoo1:amd64"),
        record("python3"), record("libfoo1"),
    ]
    assert closure(records, ["salt-helper"]) == ["libfoo1", "python3", "salt-helper"]


def test_closure_survives_dependency_cycles():
    records = [
        record("python3", depends="python3.11, libpython3-stdlib"),
        record("python3.11", depends="python3"),
        record("libpython3-stdlib", depends="python3.11 | python3"),
    ]
    assert closure(records, ["python3"]) == ["libpython3-stdlib", "python3", "python3.11"]


def test_closure_leaves_out_essential_and_required_packages_and_what_they_need():
    records = [
        record("haproxy", depends="libc6, adduser, dpkg (>= 1.17)"),
        record("adduser", depends="passwd", priority="important"),
        record("passwd", depends="libpam0g", priority="required"),
        record("dpkg", depends="tar", essential="yes", priority="required"),
        record("tar", essential="yes", priority="required"),
        record("libpam0g"), record("libc6"),
    ]
    assert closure(records, ["haproxy"]) == ["adduser", "haproxy", "libc6"]


def test_closure_leaves_out_what_the_base_packages_depend_on():
    records = [
        record("socat", depends="libc6 (>= 2.34), libssl3 (>= 3.0.0)"),
        record("dpkg", depends="libc6, tar", essential="yes", priority="required"),
        record("tar", essential="yes", priority="required"),
        record("libc6"), record("libssl3"),
    ]
    assert closure(records, ["socat"], base=["dpkg", "tar"]) == ["libssl3", "socat"]


def test_closure_keeps_a_required_package_asked_for_by_name():
    records = [
        record("iptables", depends="libc6"),
        record("apt", depends="libc6, libapt-pkg6.0", priority="required"),
        record("libc6"), record("libapt-pkg6.0", depends="libc6"),
    ]
    assert closure(records, ["apt", "iptables"], base=["apt"]) == ["apt", "iptables"]


def test_closure_is_sorted_and_lists_a_package_once():
    records = [record("b", depends="a"), record("a")]
    assert closure(records, ["b", "a", "b"]) == ["a", "b"]


def test_closure_names_a_missing_dependency_and_who_needs_it():
    records = [record("etcd-server", depends="adduser, libetcd-gone (>= 3) | libetcd-old", version="3.4.23-4+b4"),
               record("adduser")]
    with pytest.raises(ArtifactError) as caught:
        closure(records, ["etcd-server"])
    message = str(caught.value)
    assert "'libetcd-gone' or 'libetcd-old'" in message
    assert "etcd-server 3.4.23-4+b4 needs (Depends: adduser, libetcd-gone (>= 3) | libetcd-old)" in message
    assert "apt-get update" in message


def test_closure_names_a_missing_package_asked_for():
    with pytest.raises(ArtifactError, match="no package 'containred', which is asked for by name"):
        closure([record("containerd")], ["containerd", "containred"])


def test_minbase_is_what_debootstrap_starts_from():
    records = {r["Package"]: r for r in [
        record("dpkg", essential="yes", priority="required"), record("passwd", priority="required"),
        record("adduser", priority="important"), record("usr-is-merged"), record("libc6"),
    ]}
    assert debs.minbase(records) == ["dpkg", "passwd", "usr-is-merged"]
    del records["usr-is-merged"]
    assert debs.minbase(records) == ["dpkg", "passwd"]


def test_merged_usr_keeps_usrmerge_out_of_the_base():
    records = [
        record("init-system-helpers", depends="usrmerge | usr-is-merged", priority="required"),
        record("usrmerge", depends="perl"), record("perl"), record("usr-is-merged"),
        record("tool", depends="perl"),
    ]
    lookup_records = {r["Package"]: r for r in records}
    assert closure(records, ["tool"], base=debs.minbase(lookup_records)) == ["perl", "tool"]


# --- the repository ----------------------------------------------------------------------------------------

def test_stale_files_are_what_the_new_build_does_not_hold():
    present = ["Packages", "Packages.gz", "Release", "runc_1.1.5+ds1-1_amd64.deb", "runc_1.1.5+ds1-1+deb12u1_amd64.deb",
               ".socat_1.7.4.4-2_amd64.deb.tmp", "socat_1.7.4.4-2_amd64.deb"]
    wanted = ["runc_1.1.5+ds1-1+deb12u1_amd64.deb", "socat_1.7.4.4-2_amd64.deb", "Packages", "Packages.gz",
              "Release"]
    assert debs.stale_files(present, wanted) == [".socat_1.7.4.4-2_amd64.deb.tmp", "runc_1.1.5+ds1-1_amd64.deb"]
    assert debs.stale_files(wanted, wanted) == []
    assert debs.stale_files([], wanted) == []


def test_file_names_keep_the_epoch_only_where_apt_does():
    nfs = debs.parse_apt_cache_show(APT_CACHE_SHOW)["nfs-common"]
    assert debs.deb_name(nfs) == "nfs-common_2.6.2-4+deb12u1_amd64.deb"
    assert debs.download_name(nfs) == "nfs-common_1%3a2.6.2-4+deb12u1_amd64.deb"


def test_packages_index_points_at_the_flat_directory_and_reads_back():
    records = debs.parse_apt_cache_show(APT_CACHE_SHOW, architectures=("amd64", "all"))
    text = debs.packages_index([records["nfs-common"], records["mawk"], records["libnfsidmap1"]])
    assert [line for line in text.splitlines() if line.startswith("Package:")] == [
        "Package: libnfsidmap1", "Package: mawk", "Package: nfs-common",
    ]
    assert "Filename: ./nfs-common_2.6.2-4+deb12u1_amd64.deb\n" in text
    assert "Tag: admin::filesystem, implemented-in::c, interface::commandline,\n interface::daemon," in text
    again = debs.parse_apt_cache_show(text)
    for name, original in records.items():
        assert again[name] == dict(original, Filename=f"./{debs.deb_name(original)}")


def test_packages_index_does_not_depend_on_the_order_given():
    records = list(debs.parse_apt_cache_show(APT_CACHE_SHOW, architectures=("amd64",)).values())
    assert debs.packages_index(records) == debs.packages_index(reversed(records))


def test_release_lists_the_index_files_with_their_hashes():
    text = debs.release_text({"Packages.gz": b"zipped", "Packages": b"plain"}, "Thu, 27 Nov 2025 10:00:00 GMT")
    assert text == (
        "Origin: saltsphere\nLabel: saltsphere\nDate: Thu, 27 Nov 2025 10:00:00 GMT\nSHA256:\n"
        f" {_sha256(b'plain')} 5 Packages\n"
        f" {_sha256(b'zipped')} 6 Packages.gz\n"
    )


def test_release_keeps_its_date_until_the_index_changes():
    files = {"Packages": b"plain", "Packages.gz": b"zipped"}
    first = debs.release_text(files, "Thu, 27 Nov 2025 10:00:00 GMT")
    assert debs.release_text(files, "Fri, 28 Nov 2025 10:00:00 GMT", previous=first) == first
    changed = debs.release_text({**files, "Packages": b"plain, more"}, "Fri, 28 Nov 2025 10:00:00 GMT",
                                previous=first)
    assert "Date: Fri, 28 Nov 2025 10:00:00 GMT" in changed
    assert f" {_sha256(b'plain, more')} 11 Packages" in changed


def _sha256(data):
    return hashlib.sha256(data).hexdigest()
