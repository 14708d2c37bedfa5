"""Identity groups and duplicates from model signals (render/identity/signals.py).

Candidate pairs come from buckets, never from all pairs: texture hashes are split into four
16-bit bands and looked up with every one-bit change of each band (any two hashes within
TEXTURE_MAX_BITS = 7 bits share a band up to one bit, by pigeonhole), name keys by equality, face
shapes by a grid of three of their numbers. Each candidate is then verified on the whole
signature and becomes a link of a union-find. Many models sharing one exact texture hash or face
shape (a stock texture, a common base head) are chained (each to the bucket's first and previous
member) rather than paired all with all.

A manual group file always wins: models it lists are in its groups, and automatic links never
join two different manual groups. Models it does not list may still join a manual group through
automatic evidence (a new outfit follows its character).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from thagen.render.identity.signals import ModelSignals, TextureHash, dct_correlation, phash_distance

TEXTURE_MAX_BITS = 7
DCT_MIN_CORRELATION = 0.98
COLOUR_MAX_DIFF = 24  # largest mean-colour difference (0..255) of matching textures
GEOMETRY_TOL = 0.01  # face shape numbers (eye-distance units) of the same head mesh
COUNT_TOL = 0.02  # relative difference of moved-vertex counts for the same head mesh
BODY_TOL = 0.005  # bounding box / moments, as a fraction of the model's height, for duplicates
HIST_TOL = 0.01  # L1 distance of the occupancy histograms of duplicates
MESH_COUNT_TOL = 0.0  # duplicates have the same vertex and face counts (the candidate buckets rely on it)
DUPLICATE_WINDOW = 64
SIGNAL_ORDER = ("manual", "texture", "geometry", "name")
_GEOM_DIMS = (1, 2, 7)  # left eye y, left eye z, mouth y


@dataclass(frozen=True)
class Link:
    """Why two models are one character (or duplicates)."""

    a: str
    b: str
    signal: str  # manual, or the automatic signals that hold joined by "+": texture+geometry+name
    detail: str

    def text(self) -> str:
        return f"{self.a} ~ {self.b}: {self.signal} ({self.detail})"


@dataclass(frozen=True)
class Group:
    id: str
    members: tuple[str, ...]
    links: tuple[Link, ...]
    manual: bool = False

    @property
    def signals(self) -> tuple[str, ...]:
        return tuple(s for s in SIGNAL_ORDER if any(s in link.signal.split("+") for link in self.links))


@dataclass(frozen=True)
class ShownParameters:
    """How many parameters of a pose vector each model can show (exact or derived), asked only
    for the members of duplicate sets: of a set, the one showing the most is rendered, so a
    perfect-sync re-release wins over the plain release of the same mesh. `count` takes ids and
    returns id -> count (reading the models is the caller's business: render/identity/shown.py)."""

    vector: str  # "tha2" or "tha3", for the reasons in dataset.yaml and the survey
    count: Callable[[Sequence[str]], Mapping[str, int]]


@dataclass
class IdentityResult:
    groups: dict[str, Group] = field(default_factory=dict)
    group_of: dict[str, str] = field(default_factory=dict)
    duplicate_of: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (kept id, reason)
    problems: dict[str, str] = field(default_factory=dict)  # id -> why it has no signals

    def duplicates(self) -> dict[str, list[tuple[str, str]]]:
        """kept id -> [(duplicate id, reason)]."""
        out: dict[str, list[tuple[str, str]]] = {}
        for dup, (kept, why) in sorted(self.duplicate_of.items()):
            out.setdefault(kept, []).append((dup, why))
        return out


# --------------------------------------------------------------------------- pair tests


def texture_near(a: TextureHash, b: TextureHash) -> int | None:
    """Hamming distance when the two textures are one drawing, else None: hashes within
    TEXTURE_MAX_BITS, or low-frequency coefficients correlated above DCT_MIN_CORRELATION, and
    mean colours within COLOUR_MAX_DIFF everywhere."""
    d = phash_distance(a.phash, b.phash)
    if a.flat or b.flat or (d > TEXTURE_MAX_BITS and dct_correlation(a, b) < DCT_MIN_CORRELATION):
        return None
    if max(abs(x - y) for x, y in zip(a.colours, b.colours)) > COLOUR_MAX_DIFF:
        return None
    return d


def _matches(a: Sequence[TextureHash], b: Sequence[TextureHash]) -> list[str]:
    out = []
    for ta in a:
        best = min(
            ((d, tb) for tb in b if (d := texture_near(ta, tb)) is not None), default=None, key=lambda x: x[0]
        )
        if best is not None:
            out.append(f"{ta.name}~{best[1].name} {best[0]}b")
    return out


def texture_evidence(a: ModelSignals, b: ModelSignals) -> str | None:
    """At least half of the smaller set of detailed face/eye textures match."""
    fa = [t for t in a.face_textures if not t.flat]
    fb = [t for t in b.face_textures if not t.flat]
    if not fa or not fb:
        return None
    small, big = (fa, fb) if len(fa) <= len(fb) else (fb, fa)
    hits = _matches(small, big)
    if len(hits) < max(1, math.ceil(len(small) / 2)):
        return None
    return f"{len(hits)}/{len(small)} face/eye textures: " + ", ".join(hits[:3])


def _counts_close(a: Sequence[int], b: Sequence[int], tol: float) -> bool:
    return all(abs(x - y) <= tol * max(x, y, 1) for x, y in zip(a, b))


def geometry_evidence(a: ModelSignals, b: ModelSignals) -> str | None:
    if not a.face_shape or not b.face_shape or not _counts_close(a.face_counts, b.face_counts, COUNT_TOL):
        return None
    diff = float(np.max(np.abs(np.subtract(a.face_shape, b.face_shape))))
    if diff > GEOMETRY_TOL:
        return None
    return f"eye/mouth vertices {a.face_counts[0]}+{a.face_counts[1]}, largest difference {diff:.4f} eye distances"


def duplicate_evidence(a: ModelSignals, b: ModelSignals) -> str | None:
    """Same mesh (counts, box, moments, occupancy), same face, and every texture matching."""
    if not a.body_shape or len(a.body_shape) != len(b.body_shape):
        return None
    if not _counts_close((a.vertex_count, a.face_count), (b.vertex_count, b.face_count), MESH_COUNT_TOL):
        return None
    if bool(a.face_shape) != bool(b.face_shape) or (a.face_shape and geometry_evidence(a, b) is None):
        return None
    pa, pb = np.asarray(a.body_shape), np.asarray(b.body_shape)
    height = max(pa[4] - pa[1], pb[4] - pb[1], 1e-9)
    if np.max(np.abs(pa[:12] - pb[:12])) > BODY_TOL * height or np.abs(pa[12:] - pb[12:]).sum() > HIST_TOL:
        return None
    ta = [t for t in a.all_textures if not t.flat]
    tb = [t for t in b.all_textures if not t.flat]
    if len(ta) != len(tb) or len(_matches(ta, tb)) != len(ta) or len(_matches(tb, ta)) != len(tb):
        return None
    fmt = " and ".join(sorted({a.format, b.format}))
    return f"same mesh ({a.vertex_count} vertices) and {len(ta)} matching textures, {fmt}"


# --------------------------------------------------------------------------- candidates


def _chain(members: Sequence[int]) -> Iterable[tuple[int, int]]:
    """Each member with the first and the previous one: linear in a bucket's size."""
    for k in range(1, len(members)):
        yield members[0], members[k]
        if k > 1:
            yield members[k - 1], members[k]


def _texture_candidates(sigs: Sequence[ModelSignals]) -> set[tuple[int, int]]:
    exact: dict[int, list[int]] = {}
    for i, s in enumerate(sigs):
        for t in s.face_textures:
            if not t.flat and (not exact.get(t.phash) or exact[t.phash][-1] != i):
                exact.setdefault(t.phash, []).append(i)
    pairs = {p for members in exact.values() for p in _chain(sorted(set(members)))}
    bands: dict[tuple[int, int], list[int]] = {}
    for h in exact:
        for band in range(4):
            bands.setdefault((band, (h >> (16 * band)) & 0xFFFF), []).append(h)
    for h in exact:
        for band in range(4):
            value = (h >> (16 * band)) & 0xFFFF
            for probe in (value, *(value ^ (1 << bit) for bit in range(16))):
                for other in bands.get((band, probe), ()):
                    if other > h and phash_distance(h, other) <= TEXTURE_MAX_BITS:
                        pairs.add((exact[h][0], exact[other][0]))
    return {(min(a, b), max(a, b)) for a, b in pairs if a != b}


def _key_candidates(keys: Sequence[object]) -> set[tuple[int, int]]:
    buckets: dict[object, list[int]] = {}
    for i, k in enumerate(keys):
        if k:
            buckets.setdefault(k, []).append(i)
    return {p for members in buckets.values() for p in _chain(members)}


def _geometry_candidates(sigs: Sequence[ModelSignals]) -> set[tuple[int, int]]:
    pairs = _key_candidates([s.face_shape for s in sigs])  # identical shapes, chained
    first: dict[tuple[float, ...], int] = {}
    for i, s in enumerate(sigs):
        if s.face_shape:
            first.setdefault(s.face_shape, i)
    grid: dict[tuple[int, ...], list[int]] = {}
    for i in first.values():
        cell = tuple(math.floor(sigs[i].face_shape[d] / GEOMETRY_TOL) for d in _GEOM_DIMS)
        grid.setdefault(cell, []).append(i)
    offsets = [(x, y, z) for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1)]
    for cell, members in grid.items():
        for off in offsets:
            for j in grid.get(tuple(c + o for c, o in zip(cell, off)), ()):
                for i in members:
                    if i < j:
                        pairs.add((i, j))
    return pairs


# --------------------------------------------------------------------------- union-find


class _Union:
    def __init__(self, n: int, labels: Sequence[str | None]) -> None:
        self.parent = list(range(n))
        self.label = list(labels)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb or (self.label[ra] and self.label[rb] and self.label[ra] != self.label[rb]):
            return False
        ra, rb = min(ra, rb), max(ra, rb)
        self.parent[rb] = ra
        self.label[ra] = self.label[ra] or self.label[rb]
        return True


def group_models(
    signals: Mapping[str, ModelSignals],
    manual: Mapping[str, str] | None = None,
    prefer: Collection[str] = (),
    shown: ShownParameters | None = None,
) -> IdentityResult:
    """Groups and duplicates of the models (id -> signals); `manual` maps ids to group names;
    of a set of duplicates, one in `prefer` (rendered already) is the one kept, else the one
    `shown` says can show the most parameters (THA2 / THA3), else _keep_order's rule."""
    manual = dict(manual or {})
    ids = sorted(signals)
    sigs = [signals[i] for i in ids]
    index = {cid: k for k, cid in enumerate(ids)}
    uf = _Union(len(ids), [manual.get(cid) for cid in ids])
    links: list[Link] = []
    by_label: dict[str, list[int]] = {}
    for cid, label in manual.items():
        if cid in index:
            by_label.setdefault(label, []).append(index[cid])
    for label, members in sorted(by_label.items()):
        for k in sorted(members)[1:]:
            uf.union(min(members), k)
            links.append(Link(ids[min(members)], ids[k], "manual", f"group {label!r} of the group file"))
    verified: list[tuple[int, int, str, str]] = []
    tests = (
        ("texture", _texture_candidates(sigs), texture_evidence),
        ("geometry", _geometry_candidates(sigs), geometry_evidence),
        ("name", _key_candidates([s.name_key for s in sigs]), None),
    )
    for signal, pairs, test in tests:
        for i, j in sorted(pairs):
            if test is None:
                detail: str | None = f"name key {sigs[i].name_key!r}: {sigs[i].name!r} / {sigs[j].name!r}"
            else:
                detail = test(sigs[i], sigs[j])
            if detail is not None:
                verified.append((i, j, signal, detail))
    by_pair: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for i, j, signal, detail in verified:
        by_pair.setdefault((i, j), []).append((signal, detail))
    # strongest evidence first, so a texture link is recorded rather than a name link
    for (i, j), found in sorted(by_pair.items(), key=lambda kv: (SIGNAL_ORDER.index(kv[1][0][0]), kv[0])):
        if uf.union(i, j):
            links.append(Link(ids[i], ids[j], "+".join(s for s, _ in found), "; ".join(d for _, d in found)))
    result = IdentityResult(problems={cid: s.problem for cid, s in zip(ids, sigs) if s.problem})
    members_of: dict[int, list[int]] = {}
    for k in range(len(ids)):
        members_of.setdefault(uf.find(k), []).append(k)
    for root, members in members_of.items():
        group_label = uf.label[root]
        gid = group_label or ids[min(members)]
        names = {ids[k] for k in members}
        group_links = tuple(link for link in links if link.a in names)
        result.groups[gid] = Group(gid, tuple(ids[k] for k in members), group_links, manual=bool(group_label))
        for k in members:
            result.group_of[ids[k]] = gid
    _find_duplicates(result, ids, sigs, uf, _duplicate_candidates(sigs), set(prefer), shown)
    return result


def _duplicate_candidates(
    sigs: Sequence[ModelSignals], window: int = DUPLICATE_WINDOW
) -> set[tuple[int, int]]:
    """Pairs with the same vertex and face counts; in a bucket sorted by body shape, each model
    with the next `window` ones (all pairs in the usual small bucket, linear in a huge one)."""
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, s in enumerate(sigs):
        if s.body_shape:
            buckets.setdefault((s.vertex_count, s.face_count), []).append(i)
    pairs = set()
    for members in buckets.values():
        members.sort(key=lambda k: sigs[k].body_shape)
        for a, i in enumerate(members):
            for j in members[a + 1 : a + 1 + window]:
                pairs.add((min(i, j), max(i, j)))
    return pairs


def _keep_order(
    cid: str, s: ModelSignals, prefer: Collection[str] = (), shown: Mapping[str, int] | None = None
) -> tuple[bool, int, bool, int, str]:
    """Which of several duplicates is rendered: one rendered already, then the one that can
    show the most parameters of the pose vector (THA2 / THA3 only), then a PMX, then more
    textures, then the id."""
    return (cid not in prefer, -(shown or {}).get(cid, 0), s.format != "pmx", -len(s.all_textures), cid)


def _shown_counts(
    sets: Sequence[Sequence[int]], ids: Sequence[str], prefer: Collection[str], shown: ShownParameters | None
) -> dict[str, int]:
    """Parameter counts of the members of the duplicate sets that have no rendered member (one
    call for all of them, so the caller can read the models in parallel and cache them)."""
    if shown is None:
        return {}
    asked = [ids[k] for members in sets if not any(ids[k] in prefer for k in members) for k in members]
    return dict(shown.count(asked)) if asked else {}


def _find_duplicates(
    result: IdentityResult,
    ids: list[str],
    sigs: list[ModelSignals],
    uf: _Union,
    pairs: set[tuple[int, int]],
    prefer: Collection[str] = (),
    shown: ShownParameters | None = None,
) -> None:
    dup = _Union(len(ids), [None] * len(ids))
    reason: dict[tuple[int, int], str] = {}
    for i, j in sorted(pairs):
        if uf.find(i) != uf.find(j):
            continue
        why = duplicate_evidence(sigs[i], sigs[j])
        if why is not None:
            dup.union(i, j)
            reason[(i, j)] = why
    sets: dict[int, list[int]] = {}
    for k in range(len(ids)):
        sets.setdefault(dup.find(k), []).append(k)
    several = [members for members in sets.values() if len(members) > 1]
    counts = _shown_counts(several, ids, prefer, shown)
    for members in several:
        kept = min(members, key=lambda k: _keep_order(ids[k], sigs[k], prefer, counts))
        for k in members:
            if k == kept:
                continue
            why = reason.get((min(k, kept), max(k, kept))) or next(
                (r for (i, j), r in sorted(reason.items()) if k in (i, j)), "duplicate"
            )
            if shown is not None and ids[kept] in counts and counts[ids[kept]] != counts.get(ids[k], 0):
                why += (
                    f"; the kept one shows {counts[ids[kept]]} {shown.vector} parameters, "
                    f"this one {counts.get(ids[k], 0)}"
                )
            result.duplicate_of[ids[k]] = (ids[kept], why)
