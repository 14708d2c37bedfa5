"""--backend ray on a real local Ray cluster (started by thagen: `ray.init(num_cpus=2)` with a
private temp dir, or by the test: `ray start --head` on 127.0.0.1, joined with --address): the
output equals a serial run's, a Ray worker killed with SIGKILL in the middle of a character is
replaced and the character retried without leaving a trace in the dataset, and a character
that hangs past --character-timeout has its worker killed and is recorded as failed."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import pytest
from dataset_digest import sample_digests
from farm_common import serial_output, thagen, write_manifest
from ray_cluster import ray_head

from thagen.render.manifest import expand_characters, load_manifest
from thagen.render.output.jsonl import read_jsonl
from thagen.render.run.ray_backend import CHARACTER_TMP

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def needs_ray() -> None:
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'thagen[farm]'; make setup installs it)")


def test_ray_equals_serial_and_survives_a_killed_worker(
    tmp_path: Path, tmp_path_factory, gene_pmx: Path
) -> None:
    serial = serial_output(tmp_path_factory.getbasetemp(), gene_pmx)
    manifest = write_manifest(tmp_path, gene_pmx)
    gene = next(j.id for j in expand_characters(load_manifest(manifest)) if not j.builtin)
    once = tmp_path / "killed-once"
    out = tmp_path / "out"
    before = set(_character_dirs())
    proc = thagen(
        "render", str(manifest), "--out", str(out), "--backend", "ray", "--workers", "2", "--threads", "1",
        "--retries", "2",
        env={"THAGEN_TEST_FAULT": f"die:{gene}:{once}", "RAY_USAGE_STATS_ENABLED": "0"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert once.exists(), "the fault never fired in a Ray worker"
    journal = read_jsonl(out / "journal.jsonl")
    assert sorted(r["id"] for r in journal) == sorted(
        j.id for j in expand_characters(load_manifest(manifest))
    )
    assert read_jsonl(out / "failures.jsonl") == []
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert sample_digests(out) == sample_digests(serial)
    assert (out / "index.json").read_text() == (serial / "index.json").read_text()
    assert (out / "characters" / gene / "contact_sheet.png").exists()  # came back through the object store
    # the killed actor's private OUT was swept by the actor that replaced it
    left = [d for d in set(_character_dirs()) - before if not _alive(d)]
    assert not left, left


def _character_dirs() -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"{CHARACTER_TMP}*-*"))


def _alive(directory: Path) -> bool:
    pid = directory.name[len(CHARACTER_TMP) :].split("-", 1)[0]
    return not pid.isdigit() or Path(f"/proc/{pid}").exists()


def test_ray_hanging_character_is_cancelled_and_recorded(tmp_path: Path, gene_pmx: Path) -> None:
    manifest = write_manifest(tmp_path, gene_pmx, poses=1)
    ids = {("builtin" if j.builtin else "gene"): j.id for j in expand_characters(load_manifest(manifest))}
    out = tmp_path / "out"
    proc = thagen(
        "render", str(manifest), "--out", str(out), "--backend", "ray", "--workers", "2", "--threads", "1",
        "--character-timeout", "20", "--retries", "0",
        env={"THAGEN_TEST_FAULT": f"hang:{ids['builtin']}", "RAY_USAGE_STATS_ENABLED": "0"},
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    (failure,) = read_jsonl(out / "failures.jsonl")
    assert failure["id"] == ids["builtin"] and failure["stage"] == "timeout"
    assert "20 s" in failure["message"]
    assert [r["id"] for r in read_jsonl(out / "journal.jsonl")] == [ids["gene"]]  # the other finished
    assert not list((out / "train").glob(f"{ids['builtin']}-*"))
    assert list((out / "train").glob(f"{ids['gene']}-*"))
    assert not (out / "index.json").exists()


def test_ray_address_of_a_started_cluster_equals_serial(
    tmp_path: Path, tmp_path_factory, gene_pmx: Path
) -> None:
    """`ray start --head` (private temp dir, HOME and token; stopped by pid afterwards), then
    `--backend ray --address 127.0.0.1:PORT` as on a farm."""
    serial = serial_output(tmp_path_factory.getbasetemp(), gene_pmx)
    manifest = write_manifest(tmp_path, gene_pmx)
    out = tmp_path / "out"
    with ray_head(cpus=2) as head:
        proc = thagen(
            "render", str(manifest), "--out", str(out), "--backend", "ray", "--address", head.address,
            "--threads", "1", "--recycle-after", "1",
            env=head.env, timeout=300,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    journal = read_jsonl(out / "journal.jsonl")
    assert len(journal) == 2 and read_jsonl(out / "failures.jsonl") == []
    assert sample_digests(out) == sample_digests(serial)
    assert (out / "index.json").read_text() == (serial / "index.json").read_text()


def test_ray_missing_is_one_line(tmp_path: Path, gene_pmx: Path) -> None:
    """Without ray importable, --backend ray says how to install it (ray hidden from this process)."""
    manifest = write_manifest(tmp_path, gene_pmx)
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "ray.py").write_text("raise ImportError('no ray here')\n")
    proc = thagen(
        "render", str(manifest), "--out", str(tmp_path / "out"), "--backend", "ray",
        env={"PYTHONPATH": str(hide)},
    )  # fmt: skip
    assert proc.returncode != 0
    assert "pip install 'thagen[farm]'" in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "thagen[farm]" in line]) == 1
