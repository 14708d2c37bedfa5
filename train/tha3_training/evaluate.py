"""`thagen train eval RUN` for THA3 runs: every stage and the whole poser on a held-out split.

Per stage the network gets the inputs it trained on (the rendered image of the step before it,
`stages.py`), so each figure measures that network alone; the combiner gets the eyebrow layers
when the split has them, else what the poser would give it (the decomposer's output, or the
rest crop itself). The poser figure is the real chain: rest image + 45 values in, `rot.png` as
the target, like THA1's full-system figure. Every figure stands beside copy-the-input on the same
samples (`thagen.train.core.scoring`); held-out characters are the test split, which thagen's render
fills by identity group, so no character of it was trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from thagen.errors import ConfigError
from thagen.train.core.logs import save_grid
from thagen.train.core.runtime import select_device, to_device
from thagen.train.core.scoring import METRIC_SPACE, Figure, figure_line, heat, write_report
from thagen.train.data import EpochBatches, list_shards
from thagen.train.data.samples import SampleFormat
from thagen.train.data.shard_index import eval_split_dir
from thagen.train.tha3 import EYEBROW_POSE, FACE_POSE, ROTATION_POSE
from thagen.train.tha3_training.geometry import identity_decomposition
from thagen.train.tha3_training.models import Tha3System, load_system
from thagen.train.tha3_training.stages import LAYER_IMAGES


def _stage_figures(system: Tha3System, batch: dict, figures: dict[str, Figure], images: set[str]) -> None:
    """Score each network on its own (teacher-forced) inputs."""
    g, nets, pose = system.geometry, system.networks, batch["pose"]
    brow_box, face_box = g.eyebrow_box, g.face_box
    rest_crop = brow_box.crop(batch["rest"])
    has_layers = all(n in images for n in LAYER_IMAGES)
    decomposer = nets.get("eyebrow_decomposer")
    if decomposer is not None and has_layers:
        out = decomposer(rest_crop)
        layer, background = (brow_box.crop(batch[n]) for n in LAYER_IMAGES)
        figures.setdefault("eyebrow_decomposer.layer", Figure("eyebrow_layer.png")).add(
            out.eyebrow_layer, rest_crop, layer
        )
        figures.setdefault("eyebrow_decomposer.background", Figure("face_no_eyebrow.png")).add(
            out.background, rest_crop, background
        )
    if "eyebrow" in images:
        if has_layers:
            bg, layer = brow_box.crop(batch["face_no_eyebrow"]), brow_box.crop(batch["eyebrow_layer"])
        else:
            d = decomposer(rest_crop) if decomposer is not None else identity_decomposition(rest_crop)
            bg, layer = d.background, d.eyebrow_layer
        combined = nets["eyebrow_combiner"](bg, layer, pose[:, EYEBROW_POSE]).image_no_combine_alpha
        figures.setdefault("eyebrow_combiner", Figure("eyebrow.png")).add(
            combined, rest_crop, brow_box.crop(batch["eyebrow"])
        )
        target_name = str(system.infos["face_morpher"].get("target_image", "expr"))
        if target_name in images:
            source = face_box.crop(batch["eyebrow"])
            morphed = nets["face_morpher"](source, pose[:, FACE_POSE]).image
            figures.setdefault("face_morpher", Figure(f"{target_name}.png")).add(
                morphed, source, face_box.crop(batch[target_name])
            )
    rotation = pose[:, ROTATION_POSE]
    half_expr, half_rot = g.to_half(batch["expr"]), g.to_half(batch["rot"])
    rotated = nets["rotator"](half_expr, rotation)
    figures.setdefault("rotator", Figure("rot.png at half size")).add(rotated.warped, half_expr, half_rot)
    edited = nets["editor"](batch["expr"], g.to_full(rotated.warped), g.to_full(rotated.grid), rotation)
    figures.setdefault("editor", Figure("rot.png")).add(edited.image, batch["expr"], batch["rot"])


@torch.no_grad()
def evaluate_tha3(
    run: Path,
    *,
    split: str = "test",
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    batch_size: int = 8,
    max_samples: int | None = None,
    device: str = "auto",
    num_workers: int = 0,
    echo: Callable[[str], None] = print,
) -> dict:
    """Evaluate a THA3 run folder; writes report.json and comparison.png; returns the report."""
    dev = select_device(device)
    system = load_system(Path(run), dev)
    data_dir, split_dir = eval_split_dir(run, system.config, data_dir, split)
    shards = list_shards(split_dir)
    target_name = str(system.infos["face_morpher"].get("target_image", "expr"))
    wanted = ("rest", "expr", "rot", "eyebrow", target_name, *LAYER_IMAGES)
    images = {n for n in wanted if all(f"{n}.png" in s.members for s in shards)}
    missing = [n for n in ("rest", "expr", "rot") if n not in images]
    if missing:
        raise ConfigError(f"{split_dir}: shards without {', '.join(missing)}.png images")
    fmt = SampleFormat(tuple(n for n in dict.fromkeys(wanted) if n in images), pose="tha3")
    out_dir = Path(out_dir) if out_dir else Path(run) / f"eval-{split}"
    batches = EpochBatches(
        shards, batch_size=batch_size, image_size=system.image_size, seed=0, epoch=0, shuffle=False,
        num_workers=num_workers, sample_format=fmt,
    )  # fmt: skip
    figures: dict[str, Figure] = {}
    poser, poser_face = (
        Figure("rot.png"),
        Figure(f"{target_name}.png" if target_name in images else "expr.png"),
    )
    n = 0
    comparison = None
    for batch in batches:
        if max_samples is not None and n >= max_samples:
            break
        if max_samples is not None and n + len(batch["key"]) > max_samples:
            batch = {k: v[: max_samples - n] for k, v in batch.items() if k not in ("worker", "seq")}
        batch = to_device(batch, dev, False)
        out = system(batch["rest"], batch["pose"])
        poser.add(out.image, batch["rest"], batch["rot"], batch["character"])
        poser_face.add(out.face_morphed, batch["rest"], batch.get(target_name, batch["expr"]))
        _stage_figures(system, batch, figures, images)
        n += len(batch["key"])
        if comparison is None:
            cols = [("rest", batch["rest"]), ("face", out.face_morphed), ("output", out.image),
                    ("rot.png", batch["rot"]), ("|err|x4", heat(out.image, batch["rot"]))]  # fmt: skip
            comparison = save_grid(cols, out_dir / "comparison.png", rows=6)
    if n == 0:
        raise ConfigError(f"{split_dir}: no samples to evaluate")
    report: dict[str, Any] = {
        "system": "tha3",
        "split": split,
        "data_dir": str(data_dir),
        "checkpoints": str(run),
        "image_size": system.image_size,
        "networks": system.specs,
        "decomposer": "trained" if "eyebrow_decomposer" in system.networks else "none (identity)",
        "samples": n,
        "characters": len(poser.per_character),
        "metric_space": METRIC_SPACE,
        "poser": poser.result(),
        "poser_face_morphed": poser_face.result(),
        "stages": {name: f.result() for name, f in figures.items()},
        "per_character": poser.characters(),
        "comparison_image": str(comparison),
    }
    path = write_report(out_dir / "report.json", report)
    report["report_path"] = str(path)
    echo(f"{split}: {n} samples, {report['characters']} characters, THA3 at {system.image_size} px -> {path}")
    echo("  " + figure_line("poser (rest + pose -> frame)", report["poser"]))
    echo("  " + figure_line("poser, after the face morpher", report["poser_face_morphed"]))
    for name, result in report["stages"].items():
        echo("  " + figure_line(f"stage {name}", result))
    if system.image_size != 512:
        echo(f"  (THA3 publishes no figures; these are at {system.image_size} px with the config's widths)")
    return report
