"""Identity grouping time for a collection of models built from the test models by transformation.

    .venv/bin/python bench/identity.py [--characters 120] [--outfits 8] [--gene 40] [--keep DIR]
                                       [--jobs 1,0]

Writes the collection to a temporary folder: built-in "characters" (each with its own face
drawing, name and head proportions) in several outfits (non-head vertices moved) plus a copy
with JPEG re-encoded textures, and Gene variants (PMD, re-encoded / resized textures, hair
recoloured, outfits, renamed files). Then times, with a fresh signal cache:

- discovery (content hashes of every file, as `thagen render` does),
- cold: every model read, normalized and signed, then grouped, once for each --jobs value
  (signing processes; 1: one by one in this process, as before parallel signing; 0: all cores),
  each with a fresh signal cache,
- warm: signals from the cache, then grouped,

and compares the groups with the truth (which character each file was made from).
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def build(root: Path, characters: int, outfits: int, gene_variants: int) -> dict[Path, str]:
    """Write the collection; return file -> true character."""
    import numpy as np
    from identity_variants import NAMES, OUTFITS, character_atlas, gene_copy, head_mask, move_body
    from PIL import Image

    from thagen.rigs.builtin import ATLAS_NAME, TOON_NAME, builtin_character, builtin_textures
    from thagen.rigs.formats.pmx.reader import write_pmx

    truth: dict[Path, str] = {}
    base = builtin_character()
    head = head_mask(base)
    origin = base.bones[base.bone_index("頭")].position.astype(np.float64)
    toon = Image.fromarray(builtin_textures()[TOON_NAME])
    for c in range(characters):
        folder = root / f"char{c:04d}"
        folder.mkdir(parents=True)
        atlas = Image.fromarray(character_atlas(c))
        atlas.save(folder / ATLAS_NAME)
        toon.save(folder / TOON_NAME)
        jpeg_folder = folder / "jpeg"
        jpeg_folder.mkdir()
        buf = io.BytesIO()
        atlas.convert("RGB").resize((384, 384)).save(buf, "JPEG", quality=70)
        (jpeg_folder / ATLAS_NAME).write_bytes(buf.getvalue())
        toon.save(jpeg_folder / TOON_NAME)
        shaped = copy.deepcopy(base)
        pos = shaped.positions.astype(np.float64)
        pos[head, 0] = origin[0] + (pos[head, 0] - origin[0]) * (1 + 0.06 * (c % 13))
        pos[head, 1] = origin[1] + (pos[head, 1] - origin[1]) * (1 + 0.05 * ((c // 13) % 9))
        pos[head, 2] = origin[2] + (pos[head, 2] - origin[2]) * (1 + 0.05 * (c // 117))
        shaped.positions = pos.astype(np.float32)
        name = NAMES[c % len(NAMES)] + (str(c // len(NAMES)) + "x" if c >= len(NAMES) else "")
        for o in range(outfits):
            model = move_body(copy.deepcopy(shaped), 0.1 * o) if o else copy.deepcopy(shaped)
            model.name = name + OUTFITS[o % len(OUTFITS)]
            path = folder / f"{c:04d}_outfit{o}.pmx"
            write_pmx(model, path)
            truth[path] = f"char{c}"
        jpeg_model = copy.deepcopy(shaped)
        jpeg_model.name = name + " ver2"  # its own bytes: same PMX bytes would be one model by hash
        write_pmx(jpeg_model, jpeg_folder / f"{c:04d}_reencoded.pmx")
        truth[jpeg_folder / f"{c:04d}_reencoded.pmx"] = f"char{c}"
    gene = REPO / "tests" / "data" / "gene" / "Gene_light.pmx"
    kinds = ("jpeg", "hair", "outfit", "renamed")
    for k in range(gene_variants):
        kind = "pmd" if k == 0 else kinds[k % len(kinds)]
        dst = root / f"gene{k:03d}"
        if kind == "pmd":
            dst.mkdir()
            shutil.copytree(gene.parent / "light", dst / "light")
            path = dst / f"Gene_{k}.pmd"
            shutil.copy(gene.with_suffix(".pmd"), path)
        elif kind == "renamed":
            path = gene_copy(
                gene, dst, outfit=0.02 * k, name=f"ジェネ / Gene ver{k}", file_name=f"renamed_{k}.pmx"
            )
        else:
            outfit = 0.05 * k if kind == "outfit" else 0.0
            textures = kind if kind in ("jpeg", "hair") else "same"
            # a name ending in a number (dropped by the name key) makes each file's bytes distinct
            name = f"ジェネ / Gene {k}"
            path = gene_copy(
                gene, dst, textures=textures, outfit=outfit, name=name, file_name=f"gene_{kind}_{k}.pmx"
            )
        truth[path] = "gene"
    return truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--characters", type=int, default=120)
    ap.add_argument("--outfits", type=int, default=7)
    ap.add_argument("--gene", type=int, default=40)
    ap.add_argument("--keep", type=Path, help="build the collection here and keep it")
    ap.add_argument("--jobs", default="1,0", help="signing processes of each cold run (0: all cores)")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="thagen-identity-bench-"))
    os.environ["THAGEN_HASH_CACHE"] = str(root / "cache.sqlite")
    from thagen.render.discovery import characters as chars
    from thagen.render.identity.grouping import group_models
    from thagen.render.identity.plan import ref_signals

    t0 = time.perf_counter()
    truth = build(root / "models", args.characters, args.outfits, args.gene)
    t_build = time.perf_counter() - t0
    print(f"built {len(truth)} model files in {t_build:.1f} s under {root}")

    t0 = time.perf_counter()
    refs = chars.dedupe(r for p in sorted(truth) for r in chars.refs_for_path(p))
    t_discover = time.perf_counter() - t0
    true_of = {r.id: truth[r.path] for r in refs if r.path is not None}

    def run(label: str, jobs: int = 0) -> None:
        t1 = time.perf_counter()
        signals = ref_signals(refs, jobs=jobs)
        t2 = time.perf_counter()
        result = group_models(signals)
        t3 = time.perf_counter()
        n = len(refs)
        print(
            f"{label}: signals {t2 - t1:.2f} s ({1000 * (t2 - t1) / n:.1f} ms/model), grouping {t3 - t2:.3f} s, "
            f"total {t3 - t1:.2f} s for {n} models = {1000 * (t3 - t1) / n:.2f} s per 1,000 models"
        )
        if label.startswith("cold"):
            members: dict[str, set[str]] = {}
            for cid, gid in result.group_of.items():
                members.setdefault(gid, set()).add(true_of[cid])
            merged = [g for g, t in members.items() if len(t) > 1]
            by_truth: dict[str, set[str]] = {}
            for cid, gid in result.group_of.items():
                by_truth.setdefault(true_of[cid], set()).add(gid)
            split = [t for t, g in by_truth.items() if len(g) > 1]
            print(
                f"  {len(result.groups)} groups for {len(by_truth)} true characters; {len(result.duplicate_of)} duplicates; "
                f"groups mixing characters: {len(merged)}; characters split over groups: {len(split)}"
            )
            for t in split[:5]:
                print(f"    split: {t} -> {sorted(by_truth[t])}")
            for g in merged[:5]:
                print(f"    merged: {g} <- {sorted(members[g])}")
                for link in result.groups[g].links:
                    if true_of[link.a] != true_of[link.b]:
                        print(f"      by {link.text()}")

    print(f"discovery (sha256 of {len(refs)} distinct models): {t_discover:.2f} s")
    from thagen.render.identity.sign import default_jobs

    for k, jobs in enumerate(int(j) for j in args.jobs.split(",")):
        os.environ["THAGEN_HASH_CACHE"] = str(root / f"cache-{k}.sqlite")  # a fresh signal cache
        run(f"cold, {jobs or default_jobs()} signing processes", jobs)
    run("warm")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
