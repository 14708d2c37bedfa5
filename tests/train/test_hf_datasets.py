"""The shards load where people load datasets: Hugging Face `datasets`' webdataset builder.

A published thagen dataset is read by strangers with `load_dataset("webdataset", ...)`, not with
thagen's trainer; this checks that the shard layout (`<character>/<index>.rest.png`, ...,
`.pose.json`) gives one row per sample with decodable images and a parsed pose. The loader runs
in a child process with HF_DATASETS_OFFLINE=1 and HF_HOME, the cache and XDG folders inside
tmp_path, so nothing is downloaded and nothing is written outside the test's folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thagen.render.output.shards import POSE_NAMES, iter_shard
from thagen.train.data.synthetic import make_dataset

pytest.importorskip("datasets")

LOADER = """
import json, sys
from datasets import load_dataset

tars, cache = json.loads(sys.argv[1]), sys.argv[2]
ds = load_dataset("webdataset", data_files={"train": tars}, split="train", cache_dir=cache)
first = ds[0]
image = first["rest.png"]
print(json.dumps({
    "rows": ds.num_rows,
    "columns": sorted(ds.column_names),
    "keys": sorted(ds["__key__"]),
    "image": [image.size[0], image.size[1], image.mode],
    "expr_mode": first["expr.png"].mode,
    "pose": first["pose.json"],
    "key": first["__key__"],
}))
"""


def test_shards_load_with_hugging_face_datasets(tmp_path: Path) -> None:
    out = make_dataset(tmp_path / "out", size=16, characters={"train": 2}, per_character=5, per_shard=3)
    tars = sorted(str(p) for p in (out / "train").glob("*.tar"))
    assert len(tars) == 4  # 2 characters x (3 + 2 samples)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
    }
    result = subprocess.run(
        [sys.executable, "-c", LOADER, json.dumps(tars), str(tmp_path / "hf-cache")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["rows"] == 10
    assert got["columns"] == ["__key__", "__url__", "expr.png", "pose.json", "rest.png", "rot.png"]
    ours = sorted(str(s["__key__"]) for tar in tars for s in iter_shard(Path(tar)))
    assert got["keys"] == ours  # one row per sample, keyed `<character>/<index>` as in thagen
    assert got["image"] == [16, 16, "RGBA"] and got["expr_mode"] == "RGBA"
    pose = got["pose"]
    assert sorted(pose["pose"]) == sorted(POSE_NAMES) and pose["character"] == got["key"].split("/")[0]
    assert all(-1.0 <= pose["pose"][name] <= 1.0 for name in POSE_NAMES)
    written = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*")}
    assert written <= {"out", "home", "hf", "hf-cache", "xdg"}
