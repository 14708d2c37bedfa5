"""Shared fixtures: where the real test models live (tests/data, vendored in the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FORBID_SKIPS = os.environ.get("THAGEN_FORBID_SKIPS") == "1"

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTDATA = REPO_ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def testdata_dir() -> Path:
    if not TESTDATA.is_dir():
        raise FileNotFoundError(
            f"test models not found at {TESTDATA} (the vendored tests/data folder of the repository)"
        )
    return TESTDATA


@pytest.fixture(scope="session")
def gene_pmx(testdata_dir: Path) -> Path:
    return testdata_dir / "gene" / "Gene_light.pmx"


@pytest.fixture(scope="session")
def gene_pmd(testdata_dir: Path) -> Path:
    return testdata_dir / "gene" / "Gene_light.pmd"


@pytest.fixture(scope="session", autouse=True)
def private_hash_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tests (and the thagen processes they start) never touch the user's ~/.cache hash store."""
    import os

    path = tmp_path_factory.mktemp("hash-cache") / "hashes.sqlite"
    os.environ["THAGEN_HASH_CACHE"] = str(path)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """With THAGEN_FORBID_SKIPS=1 (set by .ci/run) a skipped test fails: CI must run the real
    Ray / Slurm / browser tests, and a skip there would hide a missing install step."""
    outcome = yield
    report = outcome.get_result()
    if FORBID_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but THAGEN_FORBID_SKIPS=1 (CI) forbids skips: {reason}"


# `slurm`: a real one-node Slurm cluster for the session (tests/slurm_cluster.py); skips where none can run.
from slurm_cluster import slurm  # noqa: E402, F401
