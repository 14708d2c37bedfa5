"""Texture images for the materials: loading and caching files, generated stand-ins.

Each texture file is loaded once per import however many materials use it (`ImageCache`);
images embedded in VRM / GLB files are loaded through a temp file and packed. What a model does
not ship is generated: MMD's shared toon01..toon10.bmp as toon ramps and MToon shade colours as
toon ramps. A missing diffuse texture gets no stand-in at all: the material then renders in its
own diffuse colour, as MMD draws it (a magenta placeholder would put a colour into the dataset
that the model never had). Every miss is recorded per material (`TextureMiss`), so QA can say
which files are missing and how much of the head they leave uncoloured
(render/character/texture_qa.py). Kept apart from the node trees (`shading`) because
`set_shading` swaps trees while keeping every image loaded here.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from thagen.rigs.blender.report import TextureMiss
from thagen.rigs.model import Model

# Shadow colours of generated stand-ins for MMD's shared toon01..toon10.bmp (not shipped with
# models and never downloaded): approximations, white on the lit half, this colour in shadow.
SHARED_TOON_SHADOWS = (
    (0.80, 0.80, 0.80),
    (0.96, 0.88, 0.84),
    (0.70, 0.70, 0.70),
    (0.98, 0.86, 0.86),
    (0.92, 0.90, 0.96),
    (0.86, 0.86, 0.86),
    (0.75, 0.72, 0.72),
    (0.94, 0.90, 0.84),
    (0.88, 0.92, 0.96),
    (0.98, 0.94, 0.90),
)


def toon_ramp(shadow: tuple[float, float, float], name: str, size: int = 32) -> bpy.types.Image:
    """A vertical toon ramp: shadow colour at the bottom (N.L = -1), white on the lit top half."""
    image = bpy.data.images.new(name, 4, size, alpha=True)
    t = (np.arange(size) + 0.5) / size  # bottom row first, as Blender stores pixels
    lit = np.clip((t - 0.45) / 0.1, 0.0, 1.0)[:, None]
    rgb = np.asarray(shadow)[None, :] * (1.0 - lit) + lit
    rgba = np.concatenate([rgb, np.ones((size, 1))], axis=1)
    pixels = np.repeat(rgba[:, None, :], 4, axis=1).astype(np.float32)
    image.pixels.foreach_set(pixels.ravel())
    image.pack()  # generated pixels survive a render-time reload
    return image


class ImageCache:
    """Loads each texture file once per import, makes toon ramps on demand, records misses."""

    def __init__(self, model: Model, model_path: Path | None, prefix: str) -> None:
        from thagen.rigs.formats.textures import resolve_texture

        self._resolve = resolve_texture
        self.model = model
        self.model_path = model_path
        self.prefix = prefix
        self.by_path: dict[str, bpy.types.Image] = {}
        self.generated: dict[str, bpy.types.Image] = {}
        self.missing: list[str] = []  # stored names of the files not found, once each
        self.misses: list[TextureMiss] = []  # which material lacks which file, for QA
        self.warnings: list[str] = []

    @property
    def images(self) -> list[bpy.types.Image]:
        return list(self.by_path.values()) + list(self.generated.values())

    def _load(self, stored: str) -> bpy.types.Image | None:
        embedded = self.model.vrm.embedded_images if self.model.vrm is not None else {}
        if stored in embedded:
            return self._load_embedded(stored, embedded[stored])
        if self.model_path is None:
            return None
        path = self._resolve(self.model_path, stored)
        if path is None:
            return None
        key = str(Path(path).resolve())
        if key not in self.by_path:
            try:
                image = bpy.data.images.load(key, check_existing=False)
            except RuntimeError as exc:
                self.warnings.append(f"texture {stored!r} could not be loaded: {exc}")
                return None
            image.colorspace_settings.name = "sRGB"
            image.alpha_mode = "STRAIGHT"
            self.by_path[key] = image
        return self.by_path[key]

    def _load_embedded(self, stored: str, data: bytes) -> bpy.types.Image | None:
        """An image held inside the model file (VRM / GLB): loaded from a temp file, then packed."""
        import os
        import tempfile

        if stored not in self.by_path:
            suffix = ".jpg" if data[:3] == b"\xff\xd8\xff" else ".png"
            fd, tmp = tempfile.mkstemp(prefix="thagen_embedded_", suffix=suffix)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                image = bpy.data.images.load(tmp, check_existing=False)
                image.pack()
            except RuntimeError as exc:
                self.warnings.append(f"embedded texture {stored!r} could not be loaded: {exc}")
                return None
            finally:
                os.unlink(tmp)
            image.name = f"{self.prefix}_{stored.rsplit(':', 1)[-1]}"
            image.colorspace_settings.name = "sRGB"
            image.alpha_mode = "STRAIGHT"
            self.by_path[stored] = image
        return self.by_path[stored]

    def _note_missing(self, stored: str, use: str, material: int, warning: str = "not found") -> None:
        name = self.model.materials[material].name
        if stored not in self.missing:
            self.missing.append(stored)
        self.misses.append(TextureMiss(material, name, stored, use))
        self.warnings.append(f"material {name!r}: {use} texture {stored!r} {warning}")

    def texture(self, index: int, material: int) -> bpy.types.Image | None:
        """Material `material`'s diffuse texture; None when it has none or the file is missing
        (the material then renders in its diffuse colour, as in MMD)."""
        if index < 0:
            return None
        if index >= len(self.model.textures):
            self._note_missing(f"#{index}", "diffuse", material, "index out of range")
            return None
        stored = self.model.textures[index]
        image = self._load(stored)
        if image is None:
            self._note_missing(stored, "diffuse", material)
        return image

    def optional(self, index: int, use: str, material: int) -> bpy.types.Image | None:
        """Material `material`'s sphere or toon texture, or None (the effect is dropped) when missing."""
        if index < 0 or index >= len(self.model.textures):
            return None
        stored = self.model.textures[index]
        image = self._load(stored)
        if image is None:
            self._note_missing(stored, use, material)
        return image

    def shared_toon(self, index: int) -> bpy.types.Image | None:
        """MMD's shared toonNN.bmp: the file next to the model if shipped, else a generated ramp."""
        if not 0 <= index < len(SHARED_TOON_SHADOWS):
            return None
        stored = f"toon{index + 1:02d}.bmp"
        image = self._load(stored)
        if image is not None:
            return image
        if stored not in self.generated:
            self.generated[stored] = toon_ramp(SHARED_TOON_SHADOWS[index], f"{self.prefix}_{stored}")
        return self.generated[stored]

    def mtoon_ramp(self, index: int, shade: np.ndarray, base: np.ndarray) -> bpy.types.Image:
        """A toon ramp from an MToon shade colour: shadow = shade / base colour, per channel."""
        key = f"mtoon_{index}"
        if key not in self.generated:
            shadow = np.clip(
                np.asarray(shade, np.float64) / np.maximum(np.asarray(base, np.float64), 1e-3), 0, 1
            )
            r, g, b = (float(v) for v in shadow[:3])
            self.generated[key] = toon_ramp((r, g, b), f"{self.prefix}_{key}")
        return self.generated[key]
