"""How many parameters of a THA2 / THA3 pose vector a model can show, to choose among duplicates.

Duplicates are one mesh with one set of textures, but not always one set of morphs: a
"perfect-sync" re-release adds dozens of ARKit expressions to the plain model, and can show
THA3 parameters the plain one cannot. Rendering the plain one would throw those away, so of a
set of duplicates the one showing the most parameters (availability exact or derived,
rigs/normalize/availability.py) is rendered. Finding them normalizes each model again with the
pose vector, so it is done only for the members of duplicate sets, with the rig override the
render will use, in worker processes when there are many, and cached (render/identity/cache.py).
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from pathlib import Path

from thagen.render.discovery import characters as chars
from thagen.render.identity import cache as identity_cache
from thagen.render.identity.sign import PARALLEL_MIN, default_jobs

log = logging.getLogger(__name__)

SHOWN_VECTORS = ("tha2", "tha3")  # THA1's six are shown by every usable model: no choice to make
SHOWN_VERSION = 1  # with the names table's digest (a new table can find more)

OverrideOf = Callable[[chars.ModelRef], Path | None]


@functools.cache
def shown_version() -> str:
    """The cache version: this module's rule and the role names table it was counted with."""
    from thagen.rigs.normalize.roles import NAMES_FILE

    digest = hashlib.sha256(NAMES_FILE.read_bytes()).hexdigest()[:16]
    return f"{SHOWN_VERSION}:{digest}"


def count_shown(path: str, member: str | None, override: str | None, pose_vector: str) -> int:
    """Parameters of `pose_vector` the model can show (exact or derived); 0 when it cannot be
    read or rigged (the render would fail it: another duplicate is the better one to keep)."""
    from thagen.rigs.normalize import normalize
    from thagen.rigs.reader import read_model

    try:
        model = read_model(Path(path), member=member)
        report = normalize(
            model,
            overrides=Path(override) if override else None,
            model_path=Path(path),
            discover=False,
            pose_vector=pose_vector,
        )
    except Exception:  # noqa: BLE001 - a broken duplicate shows nothing; the render reports it
        return 0
    if report.extended is None:
        return 0
    return sum(1 for available in report.extended.mask() if available)


def _override(ref: chars.ModelRef, override_of: OverrideOf | None) -> Path | None:
    """The rig override the render will use: the manifest's (override_of), else the one beside it."""
    if override_of is not None:
        return override_of(ref)
    from thagen.rigs.normalize.overrides import find_override_file

    return find_override_file(ref.path, ref.member)


def _cache_key(ref: chars.ModelRef, pose_vector: str, override: Path | None) -> str:
    assert ref.path is not None
    where = identity_cache.location_key(ref.path, ref.member)
    return "\0".join((where, pose_vector, str(override.resolve()) if override else ""))


def shown_counts(
    refs: Sequence[chars.ModelRef],
    pose_vector: str,
    override_of: OverrideOf | None = None,
    jobs: int = 0,
) -> dict[str, int]:
    """id -> parameters of `pose_vector` each model can show: from the cache where still valid,
    else counted (in `jobs` processes when there are PARALLEL_MIN or more, 0: all cores) and stored."""
    out: dict[str, int] = {}
    todo: list[tuple[chars.ModelRef, str, Path | None]] = []
    for ref in refs:
        if ref.builtin or ref.path is None:  # a fresh temp file every process: counted, never cached
            out[ref.id] = count_shown(str(chars.builtin_model_file()), None, None, pose_vector)
            continue
        override = _override(ref, override_of)
        todo.append((ref, _cache_key(ref, pose_vector, override), override))
    version = shown_version()
    stored = identity_cache.lookup_shown([(key, ref.sha256) for ref, key, _ in todo], version)
    fresh = [(ref, key, override) for ref, key, override in todo if key not in stored]
    out.update({ref.id: stored[key] for ref, key, _ in todo if key in stored})
    if not fresh:
        return out
    log.info("identity: counting the %s parameters of %d duplicate models", pose_vector, len(fresh))
    args = [(str(ref.path), ref.member, str(ov) if ov else None, pose_vector) for ref, _, ov in fresh]
    workers = min(jobs or default_jobs(), len(fresh)) if len(fresh) >= PARALLEL_MIN else 1
    if workers == 1:
        counts = [count_shown(*a) for a in args]
    else:
        context = multiprocessing.get_context("spawn")  # the caller may hold threads or Blender
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            counts = list(pool.map(count_shown, *zip(*args)))
    rows = []
    for (ref, key, override), count in zip(fresh, counts):
        out[ref.id] = count
        assert ref.path is not None
        deps = identity_cache.file_deps([ref.path] + ([override] if override else []))
        rows.append((key, ref.sha256, count, deps))
    identity_cache.store_shown(rows, version)
    return out
