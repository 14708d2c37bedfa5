"""PNG byte hygiene for the renders: identical pixels must give identical bytes.

Apart from the scene (render/scene/blender_scene.py) because it is plain byte work on Blender's
output, with no bpy in it.
"""

from __future__ import annotations

from thagen.errors import RenderError


def strip_png_text(png: bytes) -> bytes:
    """Drop tEXt/zTXt/iTXt chunks: Cycles writes render times there, so identical pixels would
    otherwise give different bytes."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise RenderError("Blender wrote something that is not a PNG")
    out, pos = [png[:8]], 8
    while pos + 8 <= len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind = png[pos + 4 : pos + 8]
        end = pos + 12 + length
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            out.append(png[pos:end])
        pos = end
    return b"".join(out)
