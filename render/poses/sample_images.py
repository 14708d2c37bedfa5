"""The images rendered per sample: THA1's three, plus any a manifest asks for (`images`).

Every sample always has THA1's three, whose meaning is fixed (the THA1 trainer, QA and the
contact sheet read them):

- ``rest``: the character's reset image (its rest pose; the same in every sample),
- ``expr``: every morph parameter (and, for tha2 / tha3, iris rotation) of the sample, no head,
  neck or body rotation, no breathing,
- ``rot``: the whole sample pose.

`images` adds more, each ``{name, apply}``: the rest pose with the sample's values for the
parameters of the listed groups (`thagen.pose_vectors` GROUPS, or ``all``). Presets:

=============== ==============================================================================
preset          extra images (beyond rest / expr / rot)
=============== ==============================================================================
``tha1``        none (the default: THA1's three)
``tha2_stages`` ``eyebrow``: only the sample's eyebrows (THA2 trains an eyebrow stage first, then
                the eye / mouth / iris morpher, whose target is ``expr``, then THA1's rotator,
                whose target is ``rot``)
``tha3_stages`` ``eyebrow`` as above and ``face``: every morph and iris rotation plus the head and
                neck rotation, the body still and no breathing (thagen's reading of THA3's face
                rotator before its body rotator; the sources do not list THA3's targets); and
                THA3's eyebrow decomposer targets ``eyebrow_layer`` (the eyebrows alone) and
                ``face_no_eyebrow`` (the eyebrows hidden)
=============== ==============================================================================

THA2 rendered 7 ground-truth images per example, but which seven is not stated in what we have;
these presets are thagen's choice, and a list in the manifest can name any other split.

A *layer* image (``layer: eyebrow_layer`` or ``no_eyebrow``) is not a pose: it is the rest
image with the model's eyebrow triangles (rigs/normalize/eyebrows.py) shown alone or hidden
(render/scene/eyebrow_layer.py). The decomposer's input is the rest image, so its targets are
rendered in the rest pose with the rest image's lighting (no per-sample ambient), once per
character, and stored with every sample: the layer composited over the face gives ``rest``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from thagen.pose_vectors import GROUPS, pose_vector_def, with_tha1_view

if TYPE_CHECKING:
    from thagen.yaml_checks import Checker

FIXED_IMAGES = ("rest", "expr", "rot")
LAYERS = ("eyebrow_layer", "no_eyebrow")  # render/scene/eyebrow_layer.py
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ImageSpec:
    """One extra image: its name (the shard member `<key>.<name>.png`) and the groups it applies,
    or the eyebrow layer (LAYERS) it shows of the rest pose."""

    name: str
    apply: tuple[str, ...]
    layer: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.layer is not None:
            return {"name": self.name, "layer": self.layer}
        return {"name": self.name, "apply": list(self.apply)}


PRESETS: dict[str, tuple[ImageSpec, ...]] = {
    "tha1": (),
    "tha2_stages": (ImageSpec("eyebrow", ("eyebrow",)),),
    "tha3_stages": (
        ImageSpec("eyebrow", ("eyebrow",)),
        ImageSpec("face", ("eyebrow", "eye", "iris_morph", "mouth", "iris_rotation", "face_rotation")),
        ImageSpec("eyebrow_layer", (), "eyebrow_layer"),
        ImageSpec("face_no_eyebrow", (), "no_eyebrow"),
    ),
}


def parse_images(c: Checker, data: object) -> tuple[str, tuple[ImageSpec, ...]]:
    """(preset name or "custom", extra images) from the manifest's `images` field."""
    if isinstance(data, str):
        return c.choice(data, "images", PRESETS), PRESETS[data]
    if not isinstance(data, list):
        raise c.error(
            "images",
            f"expected a preset ({', '.join(PRESETS)}) or a list of {{name, apply or layer}}, got {data!r}",
        )
    out: list[ImageSpec] = []
    for i, entry in enumerate(data):
        where = f"images[{i}]"
        d = c.mapping(entry, where, ("name", "apply", "layer"))
        name = c.string(d.get("name"), f"{where}.name")
        if not _NAME.match(name) or name in (*FIXED_IMAGES, "pose") or name in {s.name for s in out}:
            raise c.error(
                f"{where}.name",
                f"{name!r}: lower-case letters, digits and '_', not rest / expr / rot / pose, and unique",
            )
        if "layer" in d:
            if "apply" in d:
                raise c.error(
                    f"{where}.apply", "a layer image is the rest pose: give apply or layer, not both"
                )
            out.append(ImageSpec(name, (), c.choice(d["layer"], f"{where}.layer", LAYERS)))
            continue
        groups = d.get("apply")
        if not isinstance(groups, list) or not groups:
            raise c.error(
                f"{where}.apply", f"expected a non-empty list of groups ({', '.join(GROUPS)} or all)"
            )
        out.append(
            ImageSpec(
                name,
                tuple(c.choice(g, f"{where}.apply[{j}]", (*GROUPS, "all")) for j, g in enumerate(groups)),
            )
        )
    return "custom", tuple(out)


def image_pose(
    spec: ImageSpec, pose: Mapping[str, float], rest: Mapping[str, float], vector: str
) -> dict[str, float]:
    """The rest pose with the sample's values for the spec's groups (THA1 aliases follow)."""
    if "all" in spec.apply:
        return dict(pose)
    vec = pose_vector_def(vector)
    out = dict(rest)
    for p in vec.params:
        if p.group in spec.apply:
            out[p.name] = float(pose.get(p.name, 0.0))
    if "ambient" in pose:
        out["ambient"] = pose["ambient"]
    if vector == "tha1":
        return out
    ambient = out.pop("ambient", None)
    out = with_tha1_view(out)
    return out if ambient is None else {**out, "ambient": ambient}


class LayerShot(Protocol):
    """What `extra_images` renders with: render/character/prepare.py's Shot (a higher layer)."""

    def __call__(self, pose: dict[str, float]) -> bytes: ...

    def layer(self, which: str, pose: dict[str, float]) -> bytes:
        """The rest pose `pose` as eyebrow layer `which` (LAYERS), rendered once per character."""
        ...


class ImagesJob(Protocol):
    """What `extra_images` reads of a job: render/manifest/types.py's CharacterJob (a higher
    layer, so it is described here rather than imported)."""

    @property
    def images(self) -> tuple[ImageSpec, ...]: ...

    @property
    def pose_vector(self) -> str: ...


def extra_images(
    shot: LayerShot,
    job: ImagesJob,
    pose: Mapping[str, float],
    rest: Mapping[str, float],
) -> dict[str, bytes]:
    """Render the job's extra images for one sample (none for THA1's default); layer images are
    the rest pose's, the same for every sample."""
    return {
        s.name: shot(image_pose(s, pose, rest, job.pose_vector))
        if s.layer is None
        else shot.layer(s.layer, dict(rest))
        for s in job.images
    }
