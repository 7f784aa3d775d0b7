"""The package's layering (setup.cfg's import-linter contracts): each layer imports only from those below it,
built-in objectives are independent, and no import cycle exists at any depth."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import REPO


@pytest.mark.skipif(shutil.which("lint-imports") is None,
                    reason="import-linter is not installed (pip install -e '.[test]')")
def test_import_contracts_are_kept():
    result = subprocess.run(["lint-imports", "--config", str(REPO / "setup.cfg")], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 kept, 0 broken" in result.stdout
