"""Expanding a manifest's `characters` entries (paths, globs, zips, builtin) into `CharacterJob`s.

Expansion touches the file system (globs, zips, annotation and override files beside each model),
so it runs when a render is planned, not when the manifest loads: a manifest can be checked on
a machine without the models. Split and pose-count rules are in render/manifest/splits.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from thagen.errors import ArchiveError, ConfigError
from thagen.render.discovery import characters as chars
from thagen.render.identity.plan import job_identity, kept_refs, plan_identity
from thagen.render.manifest.licenses import LicenseExclusion, filter_by_license
from thagen.render.manifest.splits import assign_splits, pose_counts
from thagen.render.manifest.types import CharacterEntry, CharacterJob, Manifest
from thagen.yaml_checks import Checker

# the public module's name, so log filters set before the split into modules keep working
log = logging.getLogger("thagen.render.manifest")


def _refs_for_entry(manifest: Manifest, entry: CharacterEntry) -> list[chars.ModelRef]:
    """The models one entry names. A missing `path` or `zip` is an error naming the entry; a
    glob matching nothing only warns (a folder still being filled must not stop a batch)."""
    c = Checker(manifest.path)
    where = entry.field_path
    if entry.builtin:
        return [chars.builtin_ref(entry.index)]
    try:
        if entry.path is not None:
            p = manifest.resolve(entry.path)
            if not p.is_file():
                raise c.error(f"{where}.path", f"no such file: {p}")
            return chars.refs_for_path(p, entry.index)
        if entry.zip is not None:
            p = manifest.resolve(entry.zip)
            if not p.is_file():
                raise c.error(f"{where}.zip", f"no such file: {p}")
            return chars.refs_for_zip(p, entry.member, entry.index)
        assert entry.glob is not None
        hits = chars.glob_models(entry.glob, manifest.base_dir)
        if not hits:
            log.warning("%s: %s.glob %r matches no model", manifest.path, where, entry.glob)
        refs: list[chars.ModelRef] = []
        for hit in hits:
            refs.extend(chars.refs_for_path(hit, entry.index))
        return refs
    except ArchiveError as exc:
        raise ArchiveError(f"{manifest.path}: {where}: {exc}") from exc


def _named_file(manifest: Manifest, entry: CharacterEntry, key: str) -> Path | None:
    """The entry's own `annotation` / `rig_override` file: named on purpose, so missing is an error."""
    value = getattr(entry, key)
    if value is None:
        return None
    p = manifest.resolve(value)
    if not p.is_file():
        raise Checker(manifest.path).error(f"{entry.field_path}.{key}", f"no such file: {p}")
    return p


def default_annotation_path(ref: chars.ModelRef) -> Path | None:
    """`<stem>.annotation.yaml` beside the model (for a zip member: `<member stem>.annotation.yaml`
    beside the zip), if it exists."""
    if ref.path is None:
        return None
    stem = Path(ref.member).stem if ref.member else ref.path.stem
    candidate = ref.path.parent / f"{stem}.annotation.yaml"
    return candidate if candidate.is_file() else None


def _folder_annotation(folder: Path | None, character_id: str) -> Path | None:
    """`<folder>/<id>.annotation.yaml` (as `thagen annotate --annotations` writes), if it exists."""
    if folder is None:
        return None
    candidate = Path(folder) / f"{character_id}.annotation.yaml"
    return candidate if candidate.is_file() else None


def _default_override_path(ref: chars.ModelRef) -> Path | None:
    """A rig override file found beside the model (rigs/normalize/overrides.py decides the names)."""
    if ref.path is None:
        return None
    from thagen.rigs.normalize.overrides import find_override_file

    return find_override_file(ref.path, ref.member)


def _override_for(manifest: Manifest, ref: chars.ModelRef) -> Path | None:
    """The rig override a model is rendered with: its entry's `rig_override`, else the one
    beside it (the identity plan rigs duplicates with it to count the parameters they show)."""
    named = _named_file(manifest, manifest.characters[ref.entry], "rig_override")
    return named or _default_override_path(ref)


def discover_characters(manifest: Manifest) -> list[chars.ModelRef]:
    """Every model the manifest names, one per distinct file (duplicates dropped with a warning)."""
    refs: list[chars.ModelRef] = []
    for entry in manifest.characters:
        refs.extend(_refs_for_entry(manifest, entry))
    return chars.dedupe(refs)


def expand_characters(
    manifest: Manifest,
    *,
    flagged: Iterable[str] = (),
    annotations: Path | None = None,
    license_excluded: list[LicenseExclusion] | None = None,
) -> list[CharacterJob]:
    """One CharacterJob per character, ordered by split (manifest order) then id.

    `flagged`: ids to leave out before pose totals are spread (when the manifest's
    qa.exclude_flagged is true), for a caller re-planning from an earlier run's QA. `thagen
    render` itself does not drop characters this way: it renders and journals flagged ones and
    moves their shards to OUT/excluded/, so a resume never changes finished characters' poses.
    `annotations`: a folder of `<id>.annotation.yaml` files (replaces the manifest's
    `annotations`); an entry's own `annotation:` wins over it, and it wins over a file beside the model.
    `license_excluded`: filled with the models the manifest's `licenses:` filter leaves out, and
    why (render/manifest/licenses.py); each job carries its model's license record.
    """
    refs = discover_characters(manifest)
    flagged_ids = set(flagged)
    if manifest.qa.exclude_flagged and flagged_ids:
        dropped = [r.id for r in refs if r.id in flagged_ids]
        if dropped:
            log.info("excluding %d QA-flagged characters: %s", len(dropped), ", ".join(dropped))
        refs = [r for r in refs if r.id not in flagged_ids]
    if not refs:
        raise ConfigError(f"{manifest.path}: characters: no model found")
    refs, licenses = filter_by_license(manifest, refs, license_excluded)
    options = manifest.identity
    groups_file = manifest.resolve(options.groups) if options.groups else None
    identity = plan_identity(
        options,
        refs,
        groups_file,
        manifest.output_dir / ".cache",
        pose_vector=manifest.pose_vector,
        override_of=lambda ref: _override_for(manifest, ref),
    )
    all_refs, refs = refs, kept_refs(identity, refs, manifest.identity.keep_duplicates)
    split_of = assign_splits(manifest, refs, identity.group_of)
    counts = pose_counts(manifest, refs, split_of)
    order = {s.name: i for i, s in enumerate(manifest.splits)}
    jobs = []
    for ref in refs:
        entry = manifest.characters[ref.entry]
        lighting = replace(manifest.lighting, **entry.lighting) if entry.lighting else manifest.lighting
        annotation = (
            _named_file(manifest, entry, "annotation")
            or _folder_annotation(annotations or manifest.annotations_dir, ref.id)
            or default_annotation_path(ref)
        )
        override = _named_file(manifest, entry, "rig_override") or _default_override_path(ref)
        jobs.append(
            CharacterJob(
                id=ref.id,
                sha256=ref.sha256,
                model_path=ref.path,
                zip_member=ref.member,
                builtin=ref.builtin,
                override_path=override,
                annotation_path=annotation,
                split=split_of[ref.id],
                pose_count=counts[ref.id],
                lighting=lighting,
                seed=manifest.seed,
                pose_spec=manifest.pose_sampling,
                rest_pose=manifest.rest_pose_for(ref.id),
                image_size=manifest.image_size,
                render=manifest.render,
                shard_size=manifest.shard_size,
                output_dir=manifest.output_dir,
                source=f"{manifest.path}: {entry.field_path} ({ref.describe()})",
                identity=job_identity(identity, all_refs, ref.id, manifest.identity.keep_duplicates),
                pose_vector=manifest.pose_vector,
                required_parameters=manifest.required_parameters,
                vector_motion=dict(manifest.vector_motion),
                images=manifest.images,
                framing_preset=manifest.framing_preset,
                license=licenses.get(ref.id),
            )
        )
    jobs.sort(key=lambda j: (order[j.split], j.id))
    return jobs
