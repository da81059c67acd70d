"""The vendored setting lists are the shared ones as copied: each file's sha256 is the one VENDORED.md records.

(Before, this compared them with ../shared/neo4j-settings/ and was skipped wherever that folder is not beside the
clone, as in CI: a test must not depend on a path outside the repository.)
"""
import hashlib
import re

from tests.support.neo4j_settings import SETTINGS_DIR

RECORDED = re.compile(r"^\| `(?P<file>[^`]+)` \| `(?P<sha256>[0-9a-f]{64})` \|$", re.M)


def test_each_vendored_setting_list_is_the_copy_whose_sha256_vendored_md_records():
    recorded = {m["file"]: m["sha256"] for m in RECORDED.finditer((SETTINGS_DIR / "VENDORED.md").read_text())}
    assert sorted(recorded) == ["2025.json", "4.4.json", "5.json"]
    for name, sha256 in recorded.items():
        assert hashlib.sha256((SETTINGS_DIR / name).read_bytes()).hexdigest() == sha256, name
