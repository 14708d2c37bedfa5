"""How closely EEVEE, Workbench and Cycles' cheaper settings agree with Cycles at 16 spp.

    .venv/bin/python bench/engines.py                    # builtin + Gene, phong/toon/point, 256 px, 3 poses
    .venv/bin/python bench/engines.py --sweep            # + EEVEE TAA samples x filter, Workbench AA
    .venv/bin/python bench/engines.py --models builtin --presets phong --poses 1 --size 64

For every model and lighting preset, the reference is Cycles at 16 spp (the `phong` preset is
emission-only, so 16 spp is a clean anti-aliased edge and noise-free inside) over THA1's reset
image and the same seeded poses (expression-only and expression + rotation images). Each
candidate renders the same images; the table gives, for the reset image and for the mean over
the pose images, the mean absolute error per channel (R/G/B premultiplied by alpha, A; 8-bit
steps), the share of pixels with a channel off by more than 8/255, and the IoU of the opaque
masks (render/scene/agreement.py), and the seconds per image of the candidate's warm renders.
Candidates: Cycles 4 spp (thagen's default) and with adaptive sampling, EEVEE with thagen's
defaults, Workbench (phong only). `--sweep` adds EEVEE's TAA samples x film filter sizes and
every Workbench anti-aliasing setting, on phong, to pick the defaults (docs/rendering.md
"Engines"). The machine's OpenGL (llvmpipe = Mesa on the CPU) is printed first.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
GENE = REPO / "tests" / "data" / "gene" / "Gene_light.pmx"
REFERENCE_SAMPLES = 16


@dataclass
class Candidate:
    label: str
    engine: str
    samples: int
    adaptive: bool = False
    adaptive_min: int | None = None  # Cycles' adaptive_min_samples; None: thagen's
    filter_size: float | None = None  # EEVEE film filter (px); None: thagen's
    workbench_aa: str | None = None  # Workbench render_aa; None: thagen's mapping of samples
    blended: bool = False  # EEVEE materials BLENDED instead of thagen's DITHERED
    presets: tuple[str, ...] = ("phong", "toon", "point")


@dataclass
class Rendered:
    images: list[np.ndarray]
    first_s: float
    warm_s: list[float] = field(default_factory=list)


def model_arg(name: str) -> str:
    return str(GENE) if name == "gene" else name


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


class Scenes:
    """Reads each model once; renders its reset + pose images with one candidate's settings."""

    def __init__(self, size: int, poses: int) -> None:
        self.size, self.poses = size, poses
        self._cache: dict[str, tuple] = {}

    def _load(self, name: str) -> tuple:
        from thagen.render.character import RunSettings, adhoc_job, framing_for, load_model, rig_for

        if name not in self._cache:
            job = adhoc_job(model_arg(name), poses=self.poses, size=self.size)
            settings = RunSettings(image_size=self.size)
            model, path = load_model(job, settings)
            rig = rig_for(model, job, path)
            self._cache[name] = (job, model, path, rig, framing_for(model, rig, job))
        return self._cache[name]

    def render(self, name: str, preset: str, cand: Candidate) -> Rendered:
        import bpy

        from thagen.render.character import expression_only
        from thagen.render.scene.blender_scene import BlenderRenderer

        job, model, path, rig, framing = self._load(name)
        r = BlenderRenderer(
            image_size=self.size, engine=cand.engine, samples=cand.samples, adaptive=cand.adaptive
        )
        try:
            if cand.adaptive_min is not None:
                r.scene.cycles.adaptive_min_samples = cand.adaptive_min
            if cand.filter_size is not None:
                r.scene.render.filter_size = cand.filter_size
            if cand.workbench_aa is not None:
                r.scene.display.render_aa = cand.workbench_aa
            r.load_character(model, rig, path, preset)
            if cand.blended:
                for spec in r.character.materials if r.character is not None else []:
                    spec.material.surface_render_method = "BLENDED"
            r.frame(framing.head_top, framing.chin, framing.center_x)
            r.set_lighting(preset, 0.5, 0.5)
            poses = [dict(job.rest_pose)] + [p for pose in job.poses() for p in (expression_only(pose), pose)]
            out = Rendered([], 0.0)
            for i, pose in enumerate(poses):
                r.set_pose(pose)
                t0 = time.perf_counter()
                out.images.append(decode(r.render_png()))
                dt = time.perf_counter() - t0
                if i == 0:
                    out.first_s = dt
                else:
                    out.warm_s.append(dt)
            return out
        finally:
            r.close()
            bpy.ops.wm.read_factory_settings(use_empty=True)


def compare(images: list[np.ndarray], reference: list[np.ndarray]) -> tuple:
    from thagen.render.scene.agreement import agreement, mean_agreement

    figures = [agreement(a, b) for a, b in zip(images, reference, strict=True)]
    return figures[0], mean_agreement(figures[1:])


def save_sheet(folder: Path, stem: str, images: list[np.ndarray], reference: list[np.ndarray]) -> None:
    """Rows of reference | candidate (over grey) | 8x the largest premultiplied channel difference."""

    def over_grey(x: np.ndarray) -> np.ndarray:
        alpha = x[..., 3:4].astype(np.float64) / 255.0
        return x[..., :3] * alpha + 128.0 * (1.0 - alpha)

    def premultiplied(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        return np.concatenate([x[..., :3] * x[..., 3:4] / 255.0, x[..., 3:4]], axis=2)

    rows = []
    for got, ref in zip(images, reference):
        diff = np.abs(premultiplied(got) - premultiplied(ref)).max(axis=2)
        diff3 = np.repeat(np.clip(8.0 * diff, 0, 255)[..., None], 3, axis=2)
        rows.append(np.concatenate([over_grey(ref), over_grey(got), diff3], axis=1))
    folder.mkdir(parents=True, exist_ok=True)
    name = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in stem)
    Image.fromarray(np.concatenate(rows, axis=0).astype(np.uint8)).save(folder / f"{name}.png")


def candidates(sweep: bool) -> list[Candidate]:
    from thagen.render.manifest.types import DEFAULT_SAMPLES

    out = [
        Candidate("cycles 4 spp", "cycles", 4),
        Candidate("cycles 8 spp", "cycles", 8),
        Candidate("cycles adaptive, max 8", "cycles", 8, adaptive=True),
        Candidate("cycles adaptive, max 16", "cycles", 16, adaptive=True),
        Candidate(f"eevee {DEFAULT_SAMPLES['eevee']} TAA", "eevee", DEFAULT_SAMPLES["eevee"]),
        Candidate(
            f"workbench {DEFAULT_SAMPLES['workbench']} AA",
            "workbench",
            DEFAULT_SAMPLES["workbench"],
            presets=("phong",),
        ),
    ]
    if sweep:
        for most, least in ((4, 1), (4, 2), (8, 2), (16, 2), (16, 4)):
            out.append(
                Candidate(
                    f"cycles adaptive, {least}..{most}", "cycles", most, True, least, presets=("phong",)
                )
            )
        for taa in (1, 4, 8, 16, 32):
            for width in (1.0, 1.5, 2.0):
                label = f"eevee {taa} TAA, filter {width}"
                out.append(Candidate(label, "eevee", taa, filter_size=width, presets=("phong",)))
        out.append(Candidate("eevee 16 TAA, blended", "eevee", 16, blended=True, presets=("phong",)))
        for aa in ("OFF", "FXAA", "5", "8", "11", "16", "32"):
            out.append(Candidate(f"workbench AA {aa}", "workbench", 8, workbench_aa=aa, presets=("phong",)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="builtin,gene", help="comma list: builtin, gene or model paths")
    ap.add_argument("--presets", default="phong,toon,point")
    ap.add_argument(
        "--poses", type=int, default=3, help="pose samples (2 images each) besides the reset image"
    )
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--sweep", action="store_true", help="EEVEE TAA x filter and Workbench AA sweeps (phong)")
    ap.add_argument("--save", type=Path, help="write reference | candidate | 8x difference PNGs here")
    ap.add_argument("--only", default="", help="comma list of label prefixes to run (e.g. 'eevee,workbench')")
    args = ap.parse_args()

    from thagen.render.scene.gl_probe import probe_gl

    probe = probe_gl()
    gl = f"{probe.renderer} ({probe.device_type})" if probe.ok else f"none: {probe.detail}"
    import bpy

    print(
        f"Blender {bpy.app.version_string}; OpenGL: {gl}; {args.size} px; reference Cycles "
        f"{REFERENCE_SAMPLES} spp; reset image + {args.poses} poses x 2 images"
    )
    from thagen.render.scene.agreement import THRESHOLDS

    limits = THRESHOLDS.get(args.size)
    if limits is not None:
        print(
            f"thresholds at {args.size} px: MAE <= {limits.mae}, off <= {100 * limits.off:.0f}%, IoU >= {limits.iou}"
        )
    print(
        "| model | preset | candidate | reset: MAE R/G/B/A, off >8, IoU | poses (mean; IoU min) | within | s/image (first) |"
    )
    print("|---|---|---|---|---|---|---|")
    scenes = Scenes(args.size, args.poses)
    only = [x for x in args.only.split(",") if x]
    chosen: Callable[[Candidate], bool] = lambda c: not only or any(c.label.startswith(o) for o in only)  # noqa: E731
    for name in args.models.split(","):
        for preset in args.presets.split(","):
            reference = scenes.render(name, preset, Candidate("reference", "cycles", REFERENCE_SAMPLES))
            warm = float(np.median(reference.warm_s)) if reference.warm_s else float("nan")
            print(
                f"| {name} | {preset} | reference: cycles {REFERENCE_SAMPLES} spp | - | - | - | "
                f"{warm:.2f} ({reference.first_s:.1f}) |"
            )
            for cand in candidates(args.sweep):
                if preset not in cand.presets or not chosen(cand):
                    continue
                got = scenes.render(name, preset, cand)
                reset, poses = compare(got.images, reference.images)
                if args.save is not None:
                    save_sheet(
                        args.save, f"{Path(name).stem}-{preset}-{cand.label}", got.images, reference.images
                    )
                warm = float(np.median(got.warm_s)) if got.warm_s else float("nan")
                verdict = (
                    "-"
                    if limits is None
                    else "yes"
                    if reset.within(limits) and poses.within(limits)
                    else "NO"
                )
                print(
                    f"| {name} | {preset} | {cand.label} | {reset.row()} | {poses.row()} | {verdict} | "
                    f"{warm:.2f} ({got.first_s:.1f}) |"
                )
                sys.stdout.flush()


if __name__ == "__main__":
    main()
