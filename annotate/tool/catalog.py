"""The characters an annotation session works on, and where each one's files go.

`thagen annotate` takes models, folders, zips, `builtin` or a manifest, and turns them into
the same CharacterJobs `thagen render` uses (same ids, rest pose and lighting), so an
annotation made here is found again by the renderer: beside the model by default, or as
`<id>.annotation.yaml` in an `--annotations` folder (for read-only collections).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thagen.errors import ConfigError
from thagen.model_files import is_archive_file, is_model_file
from thagen.render.framing.annotation_file import ANNOTATION_SUFFIX, annotation_path_for

if TYPE_CHECKING:
    from thagen.render.manifest import CharacterJob

SKIP_SUFFIX = ".skip.yaml"


@dataclass(frozen=True)
class Character:
    """One character of the session: its render job and the two files the tool writes."""

    id: str
    label: str  # the model's file name (or zip member), for people
    job: CharacterJob
    annotation_path: Path
    skip_path: Path

    @property
    def sha256(self) -> str:
        return self.job.sha256


def skip_path_for(annotation_path: Path) -> Path:
    """`<stem>.skip.yaml` next to `<stem>.annotation.yaml` (a skip is never an annotation file,
    so `thagen render` cannot mistake it for one)."""
    name = annotation_path.name
    stem = name[: -len(ANNOTATION_SUFFIX)] if name.endswith(ANNOTATION_SUFFIX) else annotation_path.stem
    return annotation_path.with_name(stem + SKIP_SUFFIX)


def _inside(folder: Path, name: str) -> Path:
    """folder/name, refusing anything that would land outside the folder."""
    from thagen.render.discovery.characters import is_valid_id

    if not is_valid_id(name):
        raise ConfigError(f"{name!r}: not a valid character id")
    path = (folder / f"{name}{ANNOTATION_SUFFIX}").resolve()
    if path.parent != folder.resolve():
        raise ConfigError(f"{name!r}: would leave the annotations folder {folder}")
    return path


def _jobs_for(arg: str, annotations: Path | None) -> list[CharacterJob]:
    from thagen.annotate.front.cache import adhoc_job
    from thagen.render.discovery import characters as chars
    from thagen.render.manifest import expand_characters, load_manifest

    if arg == "builtin":
        return [adhoc_job("builtin", poses=0)]
    path = Path(arg).expanduser()
    if not path.exists():
        raise ConfigError(f"{path}: no such model, folder or manifest")
    if path.suffix.lower() in (".yaml", ".yml"):
        return expand_characters(load_manifest(path), annotations=annotations)
    files = (
        sorted(p for p in path.rglob("*") if (is_model_file(p) or is_archive_file(p)) and p.is_file())
        if path.is_dir()
        else [path]
    )
    jobs = []
    for file in files:
        for ref in chars.refs_for_path(file.resolve()):
            jobs.append(adhoc_job(str(file.resolve()), member=ref.member, poses=0))
    return jobs


def build_catalog(inputs: list[str], annotations: Path | None = None) -> list[Character]:
    """Characters for the command line's MODELS_OR_MANIFEST (duplicates by id dropped)."""
    if annotations is not None:
        annotations = Path(annotations).expanduser().resolve()
        annotations.mkdir(parents=True, exist_ok=True)
    out: dict[str, Character] = {}
    for arg in inputs:
        for job in _jobs_for(arg, annotations):
            if job.id in out:
                continue
            if annotations is not None:
                ann = _inside(annotations, job.id)
            elif job.builtin:
                raise ConfigError("builtin: the built-in character has no folder; pass --annotations DIR")
            elif job.annotation_path is not None:
                ann = Path(job.annotation_path)
            else:
                ann = annotation_path_for(job.model_file(), job.zip_member)
            label = "builtin" if job.builtin else Path(job.zip_member or job.model_file()).name
            out[job.id] = Character(job.id, label, job, ann, skip_path_for(ann))
    if not out:
        raise ConfigError(f"{' '.join(inputs)}: no model found")
    return list(out.values())
