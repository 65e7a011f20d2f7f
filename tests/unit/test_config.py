"""Loading vars.yml: unknown keys, YAML errors, types, aliases and defaults, each tied to a line and a key."""

import pytest

from saltsphere import cluster, config

from sample_inputs import SEED_HOSTS_INI, SEED_VARS_YML, only


def load(tmp_path, text):
    path = tmp_path / "vars.yml"
    path.write_text(text, encoding="utf-8")
    return config.load(path)


def test_defaults_come_from_the_pillar_catalogue():
    values = config.defaults()
    assert values["kube_service_addresses"] == "10.233.0.0/18"
    assert values["kube_pods_subnet"] == "10.233.64.0/18"
    assert values["nfs_server_enable"] is False
    assert values["ks_console_nodeport"] == 32130
    assert values["ceph_rbd_monitors"] == []
    for sc in config.STORAGE_CLASSES:
        assert sc.enable_key in values and sc.default_key in values
        assert all(key in values for key in sc.required)
    assert config.SECRET_KEYS <= set(values)
    assert set(config.ALIASES.values()) <= set(values)


def test_missing_file_means_every_default(tmp_path):
    conf, problems = config.load(tmp_path / "vars.yml")

    assert list(problems) == []
    assert conf.values == config.defaults()
    assert conf.given == set()


@pytest.mark.parametrize("text", ["", "# only comments\n\n", "---\n"])
def test_empty_file_means_every_default(tmp_path, text):
    conf, problems = load(tmp_path, text)
    assert list(problems) == []
    assert conf.values == config.defaults()


def test_seed_storage_example_loads(tmp_path):
    conf, problems = load(tmp_path, SEED_VARS_YML)

    assert list(problems) == []
    assert conf["nfs_server_enable"] is True and conf["nfs_server_is_default_class"] is True
    assert conf["local_volume_provisioner_enabled"] is False
    assert conf.given == {
        "local_volume_provisioner_enabled", "local_volume_provisioner_storage_class",
        "local_volume_is_default_class", "nfs_server_enable", "nfs_server_is_default_class",
    }
    assert conf.line("nfs_server_enable") == 7
    assert conf["kube_pods_subnet"] == "10.233.64.0/18"


def test_seed_storage_example_validates_with_the_seed_inventory(write_cluster):
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, SEED_VARS_YML))

    assert list(loaded.hosts) == ["master", "node1", "node2"]
    assert loaded.config["nfs_server_is_default_class"] is True
    assert list(loaded.warnings) == []


@pytest.mark.parametrize(
    "key, suggestion",
    [
        ("nfs_server_enabled", "nfs_server_enable"),
        ("kube_pod_subnet", "kube_pods_subnet"),
        ("ceph_rbd_monitor", "ceph_rbd_monitors"),
        ("qy_csi_enable", "qy_csi_enabled"),
    ],
)
def test_unknown_key_suggests_the_closest(tmp_path, key, suggestion):
    conf, problems = load(tmp_path, f"ks_console_nodeport: 32130\n{key}: true\n")

    problem = only(problems, f"unknown key {key}")
    assert problem.key == key and problem.line == 2
    assert problem.fix == f"did you mean {suggestion}?"
    assert key not in conf.values


def test_unknown_key_without_a_close_one(tmp_path):
    _, problems = load(tmp_path, "completely_unrelated_setting: 1\n")
    problem = only(problems, "unknown key completely_unrelated_setting")
    assert problem.fix.startswith("remove it")


@pytest.mark.parametrize("text, kind", [
    ("- nfs_server_enable: true\n- nfs_server_is_default_class: true\n", "list"),
    ("nfs_server_enable\n", "str"),
    ("42\n", "int"),
])
def test_config_must_be_a_mapping(tmp_path, text, kind):
    conf, problems = load(tmp_path, text)

    problem = only(problems, "must be a mapping")
    assert problem.message.endswith(f"found {kind}")
    assert problem.line == 1
    assert "key: value" in problem.fix
    assert conf.values == config.defaults()


@pytest.mark.parametrize("text, line", [
    ("nfs_server_enable: true\n  nfs_server_is_default_class: true\n", 2),
    ("nfs_server_enable: true\nkube_version: [v1.20.2\nks_version: v3\n", 3),
    ("a: 1\nb: 'unterminated\n", 3),
    ("x: 1\n\tkube_version: v1\n", 2),
])
def test_invalid_yaml_names_the_line(tmp_path, text, line):
    _, problems = load(tmp_path, text)

    [problem] = problems
    assert problem.message.startswith("not valid YAML: ")
    assert problem.line == line
    assert "YAML syntax" in problem.fix


def test_duplicate_key(tmp_path):
    text = "nfs_server_enable: true\nnfs_server_is_default_class: true\nnfs_server_enable: false\n"
    conf, problems = load(tmp_path, text)

    problem = only(problems, "is set twice")
    assert problem.message == ("nfs_server_enable is set twice (first on line 1); "
                               "the last one would win silently")
    assert problem.key == "nfs_server_enable" and problem.line == 3
    assert problem.fix == "keep one of them"


@pytest.mark.parametrize(
    "line, key, found, hint",
    [
        ('nfs_server_enable: "true"', "nfs_server_enable", "'true'", "without quotes"),
        ("nfs_server_enable: 1", "nfs_server_enable", "1", "without quotes"),
        ("ks_console_nodeport: abc", "ks_console_nodeport", "'abc'", "e.g. ks_console_nodeport: 32130"),
        ("ks_console_nodeport: 321.5", "ks_console_nodeport", "321.5", "whole number"),
        ("ks_console_nodeport: true", "ks_console_nodeport", "True", "whole number"),
        ("kube_version: [v1.20.2]", "kube_version", "['v1.20.2']", "single value"),
        ("nfs_server: {host: a}", "nfs_server", "{'host': 'a'}", "single value"),
        ("nfs_server: true", "nfs_server", "True", "single value"),
        ("ceph_rbd_monitors: {a: 1}", "ceph_rbd_monitors", "{'a': 1}", "YAML list"),
        ("ceph_rbd_monitors: [[a]]", "ceph_rbd_monitors", "[['a']]", "YAML list"),
    ],
)
def test_wrong_type(tmp_path, line, key, found, hint):
    conf, problems = load(tmp_path, f"# header\n{line}\n")

    problem = only(problems, f"{key} must be")
    assert problem.message.endswith(f"found {found}")
    assert problem.key == key and problem.line == 2
    assert hint in problem.fix
    assert conf[key] == config.defaults()[key]


@pytest.mark.parametrize(
    "line, key, value",
    [
        ("ceph_rbd_imageFormat: 2", "ceph_rbd_imageFormat", "2"),
        ("nfs_server: 10", "nfs_server", "10"),
        ("ks_console_nodeport: '32131'", "ks_console_nodeport", 32131),
        ('preflight_min_cpu_cores: " 10 "', "preflight_min_cpu_cores", 10),
        ("ceph_rbd_monitors: 192.168.0.20:6789", "ceph_rbd_monitors", ["192.168.0.20:6789"]),
        ("ceph_rbd_monitors: [mon1:6789, 6789]", "ceph_rbd_monitors", ["mon1:6789", "6789"]),
        ("nfs_server_enable: yes", "nfs_server_enable", True),
    ],
)
def test_coercion_to_the_default_type(tmp_path, line, key, value):
    conf, problems = load(tmp_path, line + "\n")

    assert list(problems) == []
    assert conf[key] == value and type(conf[key]) is type(value)
    assert conf.line(key) == 1


def test_int_key_given_non_ascii_digits_is_a_problem_not_an_exception(tmp_path):
    _, problems = load(tmp_path, 'ks_console_nodeport: "²"\n')
    assert only(problems, "ks_console_nodeport must be").line == 1


def test_number_given_for_a_string_key_is_not_altered(tmp_path):
    conf, problems = load(tmp_path, "etcd_version: 3.10\n")
    assert conf["etcd_version"] == "3.10" or [p.key for p in problems.errors] == ["etcd_version"]


@pytest.mark.parametrize("alias, canonical", sorted(config.ALIASES.items()))
def test_alias_sets_the_canonical_key(tmp_path, alias, canonical):
    conf, problems = load(tmp_path, f"{alias}: true\n")

    assert list(problems) == []
    assert conf[canonical] is True
    assert alias not in conf.values
    assert conf.line(canonical) == 1 and canonical in conf.given


def test_qy_csi_enabled_alias_validates_like_the_canonical_key(write_cluster):
    vars_text = ("nfs_server_enable: false\nnfs_server_is_default_class: false\n"
                 "qy_csi_enabled: true\nqy_csi_is_default_class: true\n"
                 "qingcloud_access_key_id: AKID\nqingcloud_secret_access_key: SK\nqingcloud_zone: pek3a\n")
    loaded = cluster.load(write_cluster(SEED_HOSTS_INI, vars_text))
    assert loaded.config["qingcloud_csi_enabled"] is True
    assert loaded.config["qingcloud_csi_is_default_class"] is True


def test_alias_and_canonical_both_set(tmp_path):
    conf, problems = load(tmp_path, "qingcloud_csi_enabled: false\nqy_csi_enabled: true\n")

    problem = only(problems, "are the same setting")
    assert problem.message == "qy_csi_enabled and qingcloud_csi_enabled are the same setting"
    assert problem.key == "qy_csi_enabled" and problem.line == 2
    assert problem.fix == "keep only qingcloud_csi_enabled"
    assert conf["qingcloud_csi_enabled"] is False


@pytest.mark.parametrize("key, default", [("nfs_server", "''"), ("nfs_server_enable", "False"),
                                          ("ceph_rbd_monitors", "[]")])
def test_key_with_empty_value(tmp_path, key, default):
    conf, problems = load(tmp_path, f"ks_version: v3.4.1\n{key}:\n")

    problem = only(problems, f"{key} has no value")
    assert problem.key == key and problem.line == 2
    assert problem.fix == f"give it a value or remove the line (default: {default})"


def test_every_problem_of_the_file_is_reported(tmp_path):
    text = ("nfs_server_enabled: true\n"
            "ks_console_nodeport: abc\n"
            "nfs_path:\n"
            "qy_csi_enabled: true\n"
            "qingcloud_csi_enabled: true\n"
            "kube_proxy_mode: [ipvs]\n")
    _, problems = load(tmp_path, text)

    assert sorted((p.line, p.key) for p in problems.errors) == [
        (1, "nfs_server_enabled"), (2, "ks_console_nodeport"), (3, "nfs_path"),
        (4, "qy_csi_enabled"), (6, "kube_proxy_mode"),
    ]


def test_overrides_apply_on_top_of_the_file(tmp_path):
    path = tmp_path / "vars.yml"
    path.write_text(SEED_VARS_YML)
    conf, problems = config.load(path, overrides={"local_volume_provisioner_enabled": True,
                                                  "kube_network_plugin": "bridge"})

    assert list(problems) == []
    assert conf["local_volume_provisioner_enabled"] is True
    assert conf["kube_network_plugin"] == "bridge"


def test_public_view_drops_every_secret(tmp_path):
    text = "".join(f"{key}: secret-{key}\n" for key in sorted(config.SECRET_KEYS))
    conf, problems = load(tmp_path, text)

    assert list(problems) == []
    public = conf.public()
    assert not set(public) & config.SECRET_KEYS
    assert "secret-" not in repr(public)
    assert public["kube_pods_subnet"] == "10.233.64.0/18"


@pytest.mark.parametrize("value, is_set", [
    ("192.168.0.10", True), ("''", False), ("'   '", False), ("SHOULD_BE_REPLACED", False),
    ("' SHOULD_BE_REPLACED '", False),
])
def test_is_set_treats_empty_and_placeholder_values_as_unset(tmp_path, value, is_set):
    conf, problems = load(tmp_path, f"nfs_server: {value}\n")
    assert list(problems) == []
    assert conf.is_set("nfs_server") is is_set


# YAML 1.1 would turn each of these into another value (or type); a secret keeps the text written.
SECRET_SPELLINGS = [
    ("0777", "0777"),        # octal: 511
    ("0o17", "0o17"),
    ("1e3", "1e3"),
    ("1.0e+3", "1.0e+3"),    # float: 1000.0
    ("3.10", "3.10"),        # float: 3.1
    (".inf", ".inf"),
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"),
    ("Yes", "Yes"), ("TRUE", "TRUE"), ("n", "n"),
    ("0x1F", "0x1F"),        # hex: 31
    ("0b101", "0b101"),      # binary: 5
    ("1_000", "1_000"),      # 1000
    ("12:30", "12:30"),      # sexagesimal: 750
    ("190:20:30", "190:20:30"),
    ("-0", "-0"),
    ("2001-12-14", "2001-12-14"),  # a date
    ("null", "null"), ("Null", "Null"), ("NULL", "NULL"), ("~", "~"),
    ("'0777'", "0777"), ('"0x1F"', "0x1F"), ("'yes'", "yes"), ('"a\\tb"', "a\tb"),
    ("pass word", "pass word"),
]


@pytest.mark.parametrize("key", sorted(config.SECRET_KEYS))
@pytest.mark.parametrize("written, value", SECRET_SPELLINGS)
def test_secrets_keep_the_text_written(tmp_path, key, written, value):
    conf, problems = load(tmp_path, f"# header\n{key}: {written}\n")

    assert list(problems) == []
    assert conf[key] == value and type(conf[key]) is str
    assert conf.line(key) == 2 and key in conf.given


@pytest.mark.parametrize("key", sorted(config.SECRET_KEYS))
def test_a_secret_left_empty_is_still_reported(tmp_path, key):
    _, problems = load(tmp_path, f"{key}:\n")
    problem = only(problems, f"{key} has no value")
    assert problem.line == 1


@pytest.mark.parametrize("key", sorted(config.SECRET_KEYS))
def test_a_secret_given_as_a_list_is_still_the_wrong_type(tmp_path, key):
    _, problems = load(tmp_path, f"{key}: [a, b]\n")
    assert only(problems, f"{key} must be a string").line == 1


def test_other_keys_keep_yaml_types(tmp_path):
    conf, problems = load(tmp_path, "nfs_server_enable: yes\nks_console_nodeport: 0x7F22\n")
    assert list(problems) == []
    assert conf["nfs_server_enable"] is True
    assert conf["ks_console_nodeport"] == 32546
