"""The layout keeps its promises: one job per folder, the layering, no import cycle, typed seams.

These run what `make lint` runs (import-linter's contracts, the cycle check, ruff, mypy) so CI,
which runs only the test suite, keeps them true too.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FOLDERS = {
    "thagen": "thagen",
    "rigs": "thagen.rigs",
    "render": "thagen.render",
    "annotate": "thagen.annotate",
    "train": "thagen.train",
}


def _lint_tree() -> Path:
    """build/lint: the symlink view `make lint` uses (scripts/lint-tree.sh)."""
    subprocess.run([str(REPO / "scripts" / "lint-tree.sh"), "build/lint"], check=True, cwd=REPO)
    return REPO / "build" / "lint"


def test_every_package_folder_is_installed() -> None:
    """pyproject.toml lists every folder with an __init__.py (a missing one would not install)."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, package in FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            found.add(".".join([package, *rel]))
    assert found == listed


@pytest.mark.parametrize("folder", ["render", "rigs", "train", "annotate"])
def test_top_level_folders_hold_at_most_twelve_loose_modules(folder: str) -> None:
    loose = [p.name for p in (REPO / folder).glob("*.py") if p.name != "__init__.py"]
    assert len(loose) <= 12, f"{folder}/ holds {len(loose)} modules outside subpackages: {sorted(loose)}"


def test_model_suffixes_are_defined_once() -> None:
    """One suffix list (thagen/model_files.py): four copies drifted apart before."""
    pattern = re.compile(r"""\(\s*["']\.pmx["']\s*,\s*["']\.pmd["']""")
    hits = [
        str(p.relative_to(REPO))
        for folder in FOLDERS
        for p in (REPO / folder).rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert hits == ["thagen/model_files.py"]


def test_annotate_lists_vrm_and_glb_models_in_a_folder(tmp_path: Path) -> None:
    """`thagen annotate serve DIR` sees every model kind `thagen render` does."""
    from thagen.annotate.tool.catalog import build_catalog
    from thagen.rigs.builtin import write_builtin_character
    from thagen.rigs.builtin.vrm import builtin_vrm_bytes

    write_builtin_character(tmp_path, name="alice")
    (tmp_path / "bob.vrm").write_bytes(builtin_vrm_bytes("1.0"))
    (tmp_path / "carol.glb").write_bytes(builtin_vrm_bytes("0.x"))
    sources = sorted(Path(str(ch.job.model_path)).name for ch in build_catalog([str(tmp_path)]))
    assert sources == ["alice.pmx", "bob.vrm", "carol.glb"]


def test_import_contracts_and_no_cycles() -> None:
    """import-linter's layers / independence / bpy / torch contracts, and no import cycle at all
    (imports inside functions and under TYPE_CHECKING included)."""
    view = _lint_tree()
    env = {"PYTHONPATH": str(view), "PATH": str(BIN)}
    contracts = subprocess.run(
        [str(BIN / "lint-imports"), str(REPO / "pyproject.toml")],
        cwd=view,
        env=env,
        capture_output=True,
        text=True,
    )
    assert contracts.returncode == 0, contracts.stdout[-4000:] + contracts.stderr[-2000:]
    cycles = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "import_graph.py"), "--check"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert cycles.returncode == 0, cycles.stdout + cycles.stderr
    assert "import cycles (strongly connected groups of modules): 0" in cycles.stdout


def test_ruff_lint_and_format() -> None:
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([str(BIN / "ruff"), *args], cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.slow
def test_type_checker_passes() -> None:
    """mypy over the whole package, configured in pyproject.toml ([tool.mypy])."""
    _lint_tree()
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:]


def test_docs_cite_modules_that_exist() -> None:
    """Every source path the docs cite (`render/run/runner.py`, `rigs/normalize/`) exists."""
    cited = re.compile(r"(?<![\w/.-])((?:rigs|render|annotate|train|thagen|scripts|bench|tests)/[\w/.-]*\w)")
    # docs/layout.md names the old flat modules on purpose (where each one went)
    docs = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "manifests").glob("*.md")]
    docs = [d for d in docs if d.name != "layout.md"]
    docs += [*(REPO / "examples").rglob("*.md")]
    missing = sorted(
        f"{doc.relative_to(REPO)}: {path}"
        for doc in docs
        for path in {m.group(1).rstrip(".") for m in cited.finditer(doc.read_text(encoding="utf-8"))}
        if "*" not in path and "<" not in path and not (REPO / path).exists()
    )
    assert missing == []
