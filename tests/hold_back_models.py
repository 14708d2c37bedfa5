"""Characters QA holds back, made cheaply and deterministically from the built-in character,
for the hold-back and --redo tests (tests/render/test_hold_back.py, tests/farm/test_redo.py).

- `unsure`: the built-in character with a `source: auto` annotation of confidence 0.3 (the
  estimate written down by `thagen annotate auto`, nobody confirmed it): `framing_unconfirmed`.
  Its points are the built-in estimate's, so once a person accepts them (`source: manual`) the
  re-render has the same pixels and is no longer held back.
- `mute`: the built-in character whose mouth-open morph `あ` moves only hidden vertices at the
  back of the head (the rig accepts it, the mouth-closed QA render changes nothing):
  `mouth_no_change`. A person's annotation fixes its framing; a rig override naming `お`
  (`mute.thagen.yaml`) is what fixes the mouth.

The manifest renders them beside the built-in character itself at 64 px, 2 poses, 1 sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from thagen.render.manifest import expand_characters, load_manifest

SIZE = 64


@dataclass
class Case:
    manifest: Path
    annotations: Path
    models: Path
    ids: dict[str, str]  # "builtin" / "unsure" / "mute" -> character id

    def annotation(self, name: str) -> Path:
        return self.annotations / f"{self.ids[name]}.annotation.yaml"

    def confirm(self, name: str) -> None:
        """What a person accepting the suggestion in `thagen annotate serve` writes."""
        data = yaml.safe_load(self.annotation(name).read_text())
        data.update(source="manual", annotator="test")
        for key in ("confidence", "reasons"):
            data.pop(key, None)
        self.annotation(name).write_text(yaml.safe_dump(data))

    def fix_mouth(self) -> None:
        """A rig override beside the model naming a mouth morph that works."""
        (self.models / "mute.thagen.yaml").write_text(yaml.safe_dump({"roles": {"mouth_open": "お"}}))


def write_models(directory: Path) -> None:
    from PIL import Image

    from thagen.rigs.builtin import builtin_character
    from thagen.rigs.builtin.textures import builtin_textures
    from thagen.rigs.formats.pmx.reader import write_pmx

    directory.mkdir(parents=True, exist_ok=True)
    for name, pixels in builtin_textures().items():
        Image.fromarray(pixels).save(directory / name)
    unsure = builtin_character()
    unsure.comment = "a copy of the built-in character, for the hold-back tests"  # another file
    write_pmx(unsure, directory / "unsure.pmx")
    mute = builtin_character()
    pos = np.asarray(mute.positions, np.float64)
    head = np.nonzero(pos[:, 1] > np.percentile(pos[:, 1], 90))[0]
    back = head[np.argsort(-pos[head, 2])][:200]  # MMD +z is the back of the head
    for morph in mute.morphs:
        if morph.name == "あ":
            morph.indices = back.astype(np.int32)
            offsets = np.zeros((len(back), 3), np.float32)
            offsets[:, 2] = 0.3  # further back: hidden behind the head from the front
            morph.values = offsets
    write_pmx(mute, directory / "mute.pmx")


def _estimate(model_file: Path) -> dict[str, object]:
    from thagen.render.character import adhoc_job
    from thagen.render.framing.estimate import load_framing
    from thagen.rigs.normalize import normalize

    job = adhoc_job(str(model_file), poses=0)
    model = job.load_model()
    framing = load_framing(job, model=model, rig=normalize(model, model_path=job.model_path))
    return {
        "version": 1,
        "head_top": [float(v) for v in framing.head_top],
        "chin": [float(v) for v in framing.chin],
        "center_x": float(framing.center_x),
    }


def make_case(directory: Path, *, shard_size: int = 1000) -> Case:
    models, annotations = directory / "models", directory / "annotations"
    write_models(models)
    annotations.mkdir(parents=True, exist_ok=True)
    data = {
        "version": 1,
        "seed": 3,
        "output": "out",
        "image_size": SIZE,
        "render": {"engine": "cycles", "device": "cpu", "samples": 1},
        "characters": [{"builtin": True}, {"glob": "models/*.pmx"}],
        "splits": {"train": {"ratio": 1, "poses_per_character": 2}},
        "shard_size": shard_size,
        "identity": {"keep_duplicates": True},  # the copies are the built-in character's duplicates
    }
    manifest = directory / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(data))
    jobs = expand_characters(load_manifest(manifest))
    ids = {("builtin" if j.builtin else Path(j.model_path or "").stem): j.id for j in jobs}
    case = Case(manifest, annotations, models, ids)
    points = _estimate(models / "unsure.pmx")
    auto = {**points, "source": "auto", "confidence": 0.3, "reasons": ["test: a doubtful estimate"]}
    case.annotation("unsure").write_text(yaml.safe_dump(auto))
    case.annotation("mute").write_text(yaml.safe_dump({**points, "source": "manual", "annotator": "test"}))
    return case
