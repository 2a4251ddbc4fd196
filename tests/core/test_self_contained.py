"""The repository stands alone: no tracked file points at the team's working folder, which the
project's users do not have. The rules live in docs/ instead.

The forbidden spellings are assembled from parts, so this file does not contain them itself and
a plain `git grep` of the repository finds nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()
_SHARED = "shared"
_DOMAIN, _SEED = "domain", "seed"
FORBIDDEN = tuple(p.encode() for p in (
    f"../{_SHARED}", f"/work/{_SHARED}", f"{_SHARED}/spec", f"{_SHARED}/seeds",
    # the team's specification and the manuals it was drawn from, by section
    f"{_DOMAIN} §", f"{_DOMAIN}.md", f"{_SEED} 00"))
# Without git: what a checkout holds besides the tracked files (see .gitignore).
NOT_TRACKED = {".git", ".venv", "instance", "__pycache__", ".pytest_cache", ".ruff_cache",
               "build", "test-results"}


def _tracked_files() -> list[Path]:
    """The files git tracks, or, without git, every file of the tree but the ignored ones."""
    git = shutil.which("git")
    if git is not None:
        done = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
        if done.returncode == 0:
            return [ROOT / name for name in done.stdout.decode().split("\0") if name]
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in NOT_TRACKED and not d.endswith(".egg-info")]
        found += [Path(folder) / f for f in files if not f.endswith(".pyc")]
    return found


def test_no_tracked_file_points_at_the_shared_folder():
    offenders = []
    for path in _tracked_files():
        if path.resolve() == THIS or not path.is_file():
            continue
        content = path.read_bytes()
        if not any(pattern in content for pattern in FORBIDDEN):
            continue
        for number, line in enumerate(content.splitlines(), start=1):
            offenders += [f"{path.relative_to(ROOT)}:{number}: {pattern.decode()}"
                          for pattern in FORBIDDEN if pattern in line]
    assert not offenders, "point at docs/ instead:\n" + "\n".join(offenders)


def test_the_docs_index_is_tracked_and_linked_from_the_readme():
    names = {p.relative_to(ROOT).as_posix() for p in _tracked_files()}
    assert "docs/README.md" in names
    assert "docs/README.md" in (ROOT / "README.md").read_text(encoding="utf-8")
