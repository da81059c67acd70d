"""Issue 26, item 2: no path from a local user to root through the backup job. The job runs as root in the
staging directory, which the neo4j user can write, on folders named by predictable timestamps. Each test
plants the link the attack uses (the next run's folder, or a folder on the way to it, pointing at a file or
folder of the planter's choice) and shows root changes no owner and writes nothing there: the link is refused
or removed, never followed. The tests run as root, as the job does; the owner is `daemon` (a user with a group
of the same name, as neo4j has)."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from scripts.neo4j_ops.backup.admin import fresh_dir, own, write_new
from scripts.neo4j_ops.backup.chains import new_chain
from scripts.neo4j_ops.backup.layout import FileEntry
from scripts.neo4j_ops.backup.s3 import download_verified
from scripts.neo4j_ops.backup.staging import scratch_space
from scripts.neo4j_ops.shared.errors import UsageError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root, as the backup job has")

OWNER = "daemon"
STAMP = "20250301T020000Z"


@pytest.fixture
def victim(tmp_path) -> Path:
    """A root-owned file, outside staging, that the planter wants (like /etc/shadow)."""
    path = tmp_path / "etc" / "shadow"
    path.parent.mkdir()
    path.write_text("root:secret\n")
    os.chown(path, 0, 0)
    return path


def run_in(staging: Path) -> SimpleNamespace:
    return SimpleNamespace(opts=SimpleNamespace(staging=staging, database="neo4j", owner=OWNER), stamp=STAMP)


def unchanged(path: Path, text: str = "root:secret\n") -> bool:
    status = os.stat(path)
    return (status.st_uid, status.st_gid) == (0, 0) and path.read_text() == text


def test_a_link_planted_at_the_next_chain_folder_is_refused_and_its_target_keeps_its_owner(tmp_path, victim):
    staging = tmp_path / "backup-staging"
    (staging / "neo4j").mkdir(parents=True)
    (staging / "neo4j" / STAMP).symlink_to(victim)
    with pytest.raises(UsageError, match="exists already"):
        new_chain(run_in(staging))
    assert unchanged(victim)


def test_a_link_planted_on_the_way_to_the_chain_folder_is_not_followed(tmp_path, victim):
    staging = tmp_path / "backup-staging"
    staging.mkdir()
    (staging / "neo4j").symlink_to(victim.parent)  # the database's folder itself, pointing at /etc
    with pytest.raises(UsageError, match="link on the way"):
        new_chain(run_in(staging))
    assert sorted(p.name for p in victim.parent.iterdir()) == ["shadow"] and unchanged(victim)


def test_a_new_chain_folder_is_made_fresh_for_the_owner(tmp_path):
    chain = new_chain(run_in(tmp_path / "backup-staging"))
    assert (os.stat(chain).st_uid, os.stat(chain).st_gid) == (1, 1) and not any(chain.iterdir())


def test_a_link_planted_at_the_check_scratch_space_is_removed_not_followed(tmp_path, victim):
    staging = tmp_path / "backup-staging"
    (staging / "neo4j").mkdir(parents=True)
    (staging / "neo4j" / f"check-{STAMP}").symlink_to(victim.parent)
    scratch = scratch_space(run_in(staging))
    assert scratch.is_dir() and not scratch.is_symlink() and os.stat(scratch).st_uid == 1
    assert unchanged(victim) and os.stat(victim.parent).st_uid == 0


def test_own_refuses_a_link_in_place_of_the_folder_and_changes_links_inside_not_their_targets(tmp_path, victim):
    link = tmp_path / "planted"
    link.symlink_to(victim.parent)
    with pytest.raises(UsageError, match="cannot give"):
        own(link, OWNER)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "to-file").symlink_to(victim)
    (folder / "to-dir").symlink_to(victim.parent)
    own(folder, OWNER)
    assert os.lstat(folder / "sub" / "to-file").st_uid == 1 and os.stat(folder / "sub").st_uid == 1
    assert unchanged(victim) and os.stat(victim.parent).st_uid == 0


def test_root_writes_no_file_through_a_planted_link(tmp_path, victim):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "conf").symlink_to(victim.parent)  # the scratch store's conf folder
    with pytest.raises(UsageError):
        fresh_dir(scratch / "conf", None, under=scratch)
    with pytest.raises(UsageError):
        write_new(scratch / "conf" / "shadow", "server.directories.data=/x\n", under=scratch)
    (scratch / "neo4j.conf").symlink_to(victim)
    with pytest.raises(UsageError):
        write_new(scratch / "neo4j.conf", "server.directories.data=/x\n", under=scratch)
    assert unchanged(victim)


class OneObject:
    """S3 holding one object (head_object / ranged get_object, as download_verified uses them)."""

    def __init__(self, data: bytes):
        self.data = data

    def head_object(self, **_):
        return {"ContentLength": len(self.data), "ETag": '"e"'}

    def get_object(self, **request):
        first, last = (int(n) for n in request["Range"].removeprefix("bytes=").split("-"))
        return {"Body": io.BytesIO(self.data[first:last + 1])}


def test_a_download_does_not_write_through_a_link_planted_at_its_partial_file(tmp_path, victim):
    data = b"a backup artifact"
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "neo4j.dump.part").symlink_to(victim)
    download_verified(OneObject(data), "bucket", "key", artifact / "neo4j.dump",
                      FileEntry("neo4j.dump", len(data), hashlib.sha256(data).hexdigest()), log=lambda _: None)
    assert (artifact / "neo4j.dump").read_bytes() == data and unchanged(victim)


def test_the_restore_drills_server_log_is_not_opened_through_a_planted_link(tmp_path, victim):
    from scripts.neo4j_ops.backup.scratch import ScratchServer

    logs = tmp_path / "neo4j-drill-neo4j-20250301T020000Z" / "logs"
    logs.mkdir(parents=True)
    (logs / "console.log").symlink_to(victim)  # the neo4j user owns the scratch folder while the server runs
    server = ScratchServer(["/bin/echo", "appended by root"], None, tmp_path, logs.parent)
    with pytest.raises(UsageError, match="a link is refused"):
        server.start()
    assert unchanged(victim)
