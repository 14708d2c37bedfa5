"""What an import reports: warnings, missing textures, skipped morphs, timings, shape key names.

In its own module because every build step (mesh, morphs, materials) writes into it and the
imported character keeps it, so none of them needs to import another to reach it. No bpy here:
the render QA (render/character/texture_qa.py) reads `TextureMiss` without Blender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextureMiss:
    """One material's texture file that was not found (or not loadable): the material then
    renders without it, and QA decides from the material how bad that is."""

    material: int  # index into Model.materials
    name: str  # the material's name
    file: str  # the texture as the model stores it (`#N` for an index past the texture list)
    use: str  # "diffuse", "sphere" or "toon"

    def to_dict(self) -> dict[str, Any]:
        return {"material": self.material, "name": self.name, "file": self.file, "use": self.use}


@dataclass
class ImportReport:
    warnings: list[str] = field(default_factory=list)
    missing_textures: list[str] = field(default_factory=list)
    texture_misses: list[TextureMiss] = field(default_factory=list)  # per material and use
    unsupported_morphs: list[str] = field(default_factory=list)  # "name (kind)"
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    shape_keys: dict[str, str] = field(default_factory=dict)  # morph name -> shape key name
    dropped_faces: int = 0  # degenerate triangles (a vertex used twice) left out
    culled_faces: int = 0  # never-moving triangles out of the camera's view, not built

    def to_dict(self) -> dict[str, Any]:
        return {
            "warnings": list(self.warnings),
            "missing_textures": list(self.missing_textures),
            "texture_misses": [m.to_dict() for m in self.texture_misses],
            "unsupported_morphs": list(self.unsupported_morphs),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "shape_keys": dict(self.shape_keys),
            "dropped_faces": self.dropped_faces,
            "culled_faces": self.culled_faces,
        }
