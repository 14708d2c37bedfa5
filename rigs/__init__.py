"""thagen.rigs: model files into one numpy `Model`, and which bone and morph plays each role.

Lowest layer first (`make lint` checks that each imports only from those below it):

- model.py, vrm_info.py, coordinates.py, flatten.py: the `Model` (plain numpy arrays shared by
  every format), what a VRM adds, coordinate frames, group morphs resolved;
- formats/: PMX (pmx/), PMD, glTF (gltf/) and VRM (vrm/) readers and writers, zips, textures;
- licenses/: the terms a model comes with (VRM meta, comments, readme files), interpreted;
- reader.py: any supported file (or a zip holding one) -> `Model`;
- normalize/: `normalize(model)` -> `RigReport` (roles, names, overrides, THA2/THA3 parameters);
- builtin/: the built-in character, generated in code; blender/: a `Model` as Blender objects
  (the only bpy modules here);
- check.py, inspect.py, survey.py: `thagen rig check`, `thagen inspect`, `thagen rig survey`'s
  engines; cli.py: their command line.
"""
