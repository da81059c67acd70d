import filecmp

import pytest

from tests.conftest import ROOT
from tests.support.neo4j_settings import SETTINGS_DIR

SHARED = ROOT.parent / "shared" / "neo4j-settings"


@pytest.mark.skipif(not SHARED.is_dir(), reason="the workplace's shared/ folder is not beside this clone")
def test_vendored_setting_lists_equal_the_shared_ones():
    for name in ("4.4.json", "5.json", "2025.json"):
        assert filecmp.cmp(SETTINGS_DIR / name, SHARED / name, shallow=False), name
