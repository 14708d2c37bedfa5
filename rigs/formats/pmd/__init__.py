"""PMD 1.0 (MikuMikuDance's first model format): read into the same `Model` as the PMX reader.

Import `read_pmd` and `MAGIC` from here. PMD has no PMX counterpart for much of what a `Model`
holds, so each conversion follows what MMD itself does; the modules, one job each:

- rigs/formats/pmd/reader.py: `read_pmd`, the order of the sections, vertices, faces, morphs,
  the English names and the display frames;
- rigs/formats/pmd/layout.py: the fixed-size record layouts and the cp932 name fields;
- rigs/formats/pmd/materials.py: materials, their texture / sphere / toon names -> textures;
- rigs/formats/pmd/bones.py: bones, IK chains and the bone types -> PMX bone flags;
- rigs/formats/pmd/physics.py: rigid bodies (made absolute) and joints.
"""

from __future__ import annotations

from thagen.rigs.formats.pmd.layout import MAGIC
from thagen.rigs.formats.pmd.reader import read_pmd

__all__ = ["MAGIC", "read_pmd"]
