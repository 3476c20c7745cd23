"""The lab hosts' volumes: one name per host and path, refused paths named."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

sys.path.insert(
    0, str(Path(__file__).resolve().parents[2] / "roles" / "lab_hosts" / "filter_plugins")
)

import lab_hosts_filters as lf

HOSTVARS = {
    "cass-dc1-1": {"ansible_host": "10.0.0.11"},
    "backup-1": {"lab_hosts_volumes": ["/var/lib/s3proxy", "/srv/extra.d"]},
}


def test_each_listed_path_is_a_volume_named_after_its_host_and_path():
    got = lf.lab_hosts_volumes(["cass-dc1-1", "backup-1"], HOSTVARS)
    assert got == [
        {
            "host": "backup-1",
            "name": "backup-1-var-lib-s3proxy",
            "path": "/var/lib/s3proxy",
            "mount": "backup-1-var-lib-s3proxy:/var/lib/s3proxy",
        },
        {
            "host": "backup-1",
            "name": "backup-1-srv-extra.d",
            "path": "/srv/extra.d",
            "mount": "backup-1-srv-extra.d:/srv/extra.d",
        },
    ]


def test_hosts_without_volumes_and_unknown_hosts_have_none():
    assert lf.lab_hosts_volumes(["cass-dc1-1", "spare"], HOSTVARS) == []


@pytest.mark.parametrize(
    "bad", ["relative/path", "/", "/var/../etc", "/var/lib/a:b", "/tmp/x y", 3]
)
def test_a_path_that_is_not_an_absolute_directory_is_refused_by_name(bad):
    with pytest.raises(AnsibleFilterError, match="backup-1"):
        lf.lab_hosts_volumes(["backup-1"], {"backup-1": {"lab_hosts_volumes": [bad]}})


def test_a_single_path_instead_of_a_list_is_refused():
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        lf.lab_hosts_volumes(["backup-1"], {"backup-1": {"lab_hosts_volumes": "/var/lib/x"}})
