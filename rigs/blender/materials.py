"""MMD materials as Cycles node materials, for the three shading presets.

Every preset is emission-only (no real lights), so renders are noise-free and the samples only
anti-alias edges. All materials read one shared node group (`LIGHT_GROUP`) holding the
ambient and diffuse strengths, the light direction and the point lights' positions: changing
the lighting or the framing per image edits values in that group instead of rebuilding materials.

Presets (the per-material tail; `set_shading` swaps it without reloading images):
- 'phong' (THA1): base * (ambient + diffuse * max(N.L, 0)), L along the view direction.
- 'toon' (MMD look): base * toon-ramp(N.L) * or + sphere map, times (ambient + diffuse).
- 'point' (DMV): base (* or + sphere map) * (ambient + diffuse * sum_i w_i * toon-ramp(N.L_i)),
  L_i from the shading point toward point light i, w_i = share_i * (d0_i / d_i)^falloff (d0_i:
  the light's distance to the framed head centre). Materials without a toon ramp use
  max(N.L_i, 0) instead, as 'phong' does.
base = texture RGB * diffuse RGB; alpha = texture alpha * diffuse alpha (and 0 on the back of
single-sided materials, since Cycles ignores the backface-culling flag). VRM / glTF materials
follow their alphaMode (OPAQUE ignores alpha, MASK cuts at alphaCutoff) and, without a toon
texture, get a toon ramp from their MToon shade colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from thagen.rigs.model import Model

SHADINGS = ("phong", "toon", "point")
LIGHT_GROUP = "thagen_light"
POINT_LIGHT_COUNT = 2  # point lights in the shared group (the 'point' preset's key and fill)
MISSING_COLOR = (1.0, 0.0, 1.0, 1.0)
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


@dataclass
class MaterialSpec:
    """What a material's node tree is built from, kept so the shading can be swapped."""

    material: bpy.types.Material
    diffuse: tuple[float, float, float, float]
    double_sided: bool
    texture: bpy.types.Image | None
    sphere: bpy.types.Image | None
    sphere_mode: int
    toon: bpy.types.Image | None
    alpha_mode: str = "BLEND"  # MMD: texture alpha always blends; VRM / glTF: OPAQUE, MASK or BLEND
    alpha_cutoff: float = 0.5


def _vector_node(nodes, name: str, value: tuple[float, float, float]):
    node = nodes.new("ShaderNodeCombineXYZ")
    node.name = node.label = name
    for i in range(3):
        node.inputs[i].default_value = value[i]
    return node


def light_group() -> bpy.types.ShaderNodeTree:
    """The shared group: outputs ambient, diffuse, N.L, the sphere-map UV and, per point light,
    N.L toward it and its weight.

    Every vector is in world space (the renderer writes the camera's axes in), since Cycles'
    and Blender's "camera space" disagree on the sign of z.
    """
    group = bpy.data.node_groups.get(LIGHT_GROUP)
    if group is not None and all(name in group.interface.items_tree for name in _GROUP_OUTPUTS):
        return group
    if group is None:
        group = bpy.data.node_groups.new(LIGHT_GROUP, "ShaderNodeTree")
        group.use_fake_user = True  # survives orphan purges between characters
    else:  # made by an older thagen in this session: rebuild in place, users keep the group
        group.nodes.clear()
        group.interface.clear()
    _fill_light_group(group)
    return group


_GROUP_OUTPUTS = ("ambient", "diffuse", "ndotl", "sphere_uv") + tuple(
    f"point{i}_{what}" for i in range(POINT_LIGHT_COUNT) for what in ("ndotl", "weight")
)


def _fill_light_group(group: bpy.types.ShaderNodeTree) -> None:
    for name in _GROUP_OUTPUTS:
        kind = "NodeSocketVector" if name == "sphere_uv" else "NodeSocketFloat"
        group.interface.new_socket(name, in_out="OUTPUT", socket_type=kind)
    nodes, links = group.nodes, group.links
    out = nodes.new("NodeGroupOutput")
    for name in ("ambient", "diffuse"):
        value = _value_node(nodes, name, 0.5)
        links.new(value.outputs[0], out.inputs[name])
    # toward the light, the camera's right and up; defaults: a camera at -Y looking along +Y
    light = _vector_node(nodes, "light_dir", (0.0, -1.0, 0.0))
    right = _vector_node(nodes, "camera_right", (1.0, 0.0, 0.0))
    up = _vector_node(nodes, "camera_up", (0.0, 0.0, 1.0))
    geometry = nodes.new("ShaderNodeNewGeometry")
    normal = geometry.outputs["Normal"]  # the deformed (posed) mesh's normal, facing the viewer
    ndotl = _math(nodes, "DOT_PRODUCT", normal, light.outputs[0], vector=True)
    links.new(ndotl, out.inputs["ndotl"])
    u = _math(nodes, "DOT_PRODUCT", normal, right.outputs[0], vector=True)
    v = _math(nodes, "DOT_PRODUCT", normal, up.outputs[0], vector=True)
    uv = nodes.new("ShaderNodeCombineXYZ")
    links.new(u, uv.inputs[0])
    links.new(v, uv.inputs[1])
    sphere = _math(nodes, "MULTIPLY_ADD", uv.outputs[0], (0.5, 0.5, 0.0), vector=True)
    sphere.node.inputs[2].default_value = (0.5, 0.5, 0.0)
    links.new(sphere, out.inputs["sphere_uv"])
    # point lights: weight = share * (d0^2 / d^2)^(falloff / 2), d0 = reference distance
    half_falloff = _math(nodes, "MULTIPLY", _value_node(nodes, "point_falloff", 2.0).outputs[0], 0.5)
    for i in range(POINT_LIGHT_COUNT):
        position = _vector_node(nodes, f"point{i}_position", (0.0, -1.0, 0.0))
        to_light = _math(nodes, "SUBTRACT", position.outputs[0], geometry.outputs["Position"], vector=True)
        direction = _math(nodes, "NORMALIZE", to_light, vector=True)
        links.new(_math(nodes, "DOT_PRODUCT", normal, direction, vector=True), out.inputs[f"point{i}_ndotl"])
        d2 = _math(nodes, "DOT_PRODUCT", to_light, to_light, vector=True)
        d2 = _math(nodes, "MAXIMUM", d2, 1e-8)
        ratio = _math(nodes, "DIVIDE", _value_node(nodes, f"point{i}_reference_d2", 1.0).outputs[0], d2)
        falloff = _math(nodes, "POWER", ratio, half_falloff)
        weight = _math(nodes, "MULTIPLY", falloff, _value_node(nodes, f"point{i}_share", 0.0).outputs[0])
        links.new(weight, out.inputs[f"point{i}_weight"])


def _value_node(nodes, name: str, value: float):
    node = nodes.new("ShaderNodeValue")
    node.name = node.label = name
    node.outputs[0].default_value = value
    return node


def set_light_values(
    ambient: float | None = None,
    diffuse: float | None = None,
    light_dir_camera: tuple[float, float, float] | None = None,
    camera_axes: np.ndarray | None = None,
) -> None:
    """Change the shared lighting values (cheap: no material is rebuilt).

    `light_dir_camera` points toward the light in camera axes (x right, y up, z toward the
    camera); `camera_axes` is the camera's 3x3 world rotation (columns right, up, backward).
    """
    nodes = light_group().nodes
    if ambient is not None:
        nodes["ambient"].outputs[0].default_value = float(ambient)
    if diffuse is not None:
        nodes["diffuse"].outputs[0].default_value = float(diffuse)
    axes = np.eye(3) if camera_axes is None else np.asarray(camera_axes, np.float64)[:3, :3]
    if camera_axes is not None:
        _set_vector(nodes["camera_right"], axes[:, 0])
        _set_vector(nodes["camera_up"], axes[:, 1])
    if light_dir_camera is not None:
        d = axes @ np.asarray(light_dir_camera, np.float64)
        _set_vector(nodes["light_dir"], d / max(float(np.linalg.norm(d)), 1e-12))


def set_point_lights(
    positions: np.ndarray, shares: np.ndarray, reference: np.ndarray, falloff: float = 2.0
) -> None:
    """Place the 'point' preset's lights (world positions, cheap: no material is rebuilt).

    A light's weight is `share * (distance(reference, light) / distance(point, light))**falloff`,
    so a surface at `reference` (the framed head centre) gets exactly `share`; falloff 0 turns
    the distance term off, 2 is the inverse square law.
    """
    positions = np.asarray(positions, np.float64).reshape(-1, 3)
    shares = np.asarray(shares, np.float64).reshape(-1)
    if len(positions) != POINT_LIGHT_COUNT or len(shares) != POINT_LIGHT_COUNT:
        raise ValueError(f"the point preset has {POINT_LIGHT_COUNT} lights, got {len(positions)}")
    nodes = light_group().nodes
    nodes["point_falloff"].outputs[0].default_value = float(falloff)
    reference = np.asarray(reference, np.float64).reshape(3)
    for i, (position, share) in enumerate(zip(positions, shares)):
        _set_vector(nodes[f"point{i}_position"], position)
        d2 = max(float(np.sum((position - reference) ** 2)), 1e-12)
        nodes[f"point{i}_reference_d2"].outputs[0].default_value = d2
        nodes[f"point{i}_share"].outputs[0].default_value = float(share)


def _set_vector(node, value: np.ndarray) -> None:
    for i in range(3):
        node.inputs[i].default_value = float(value[i])


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


def missing_image(name: str = "thagen_missing") -> bpy.types.Image:
    image = bpy.data.images.new(name, 4, 4, alpha=True)
    image.pixels.foreach_set(np.tile(np.asarray(MISSING_COLOR, np.float32), 16))
    image.pack()
    return image


class ImageCache:
    """Loads each texture file once per import and makes placeholders and toon ramps on demand."""

    def __init__(self, model: Model, model_path: Path | None, prefix: str) -> None:
        from thagen.rigs.formats.textures import resolve_texture

        self._resolve = resolve_texture
        self.model = model
        self.model_path = model_path
        self.prefix = prefix
        self.by_path: dict[str, bpy.types.Image] = {}
        self.generated: dict[str, bpy.types.Image] = {}
        self.missing: list[str] = []
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

    def _note_missing(self, stored: str, use: str, material: str) -> None:
        if stored not in self.missing:
            self.missing.append(stored)
        self.warnings.append(f"material {material!r}: {use} texture {stored!r} not found")

    def texture(self, index: int, material: str) -> bpy.types.Image | None:
        """The diffuse texture, or a magenta placeholder when the file is missing."""
        if index < 0:
            return None
        if index >= len(self.model.textures):
            self.warnings.append(f"material {material!r}: texture index {index} out of range")
            return self._placeholder()
        stored = self.model.textures[index]
        image = self._load(stored)
        if image is None:
            self._note_missing(stored, "diffuse", material)
            return self._placeholder()
        return image

    def optional(self, index: int, use: str, material: str) -> bpy.types.Image | None:
        """A sphere or toon texture, or None (the effect is dropped) when missing."""
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
            self.generated[key] = toon_ramp(tuple(float(v) for v in shadow), f"{self.prefix}_{key}")
        return self.generated[key]

    def _placeholder(self) -> bpy.types.Image:
        if "missing" not in self.generated:
            self.generated["missing"] = missing_image(f"{self.prefix}_missing")
        return self.generated["missing"]


def build_materials(model: Model, images: ImageCache, shading: str, prefix: str) -> list[MaterialSpec]:
    """One Blender material per MMD material, in order."""
    if shading not in SHADINGS:
        raise ValueError(f"shading must be one of {SHADINGS}, not {shading!r}")
    specs = []
    for i, mmd in enumerate(model.materials):
        material = bpy.data.materials.new(f"{prefix}_{i:03d}_{mmd.name}"[:63])
        material.use_nodes = True
        material.use_backface_culling = not mmd.double_sided
        material.cycles.emission_sampling = "NONE"  # emissive triangles are not lights: 2.5-4x faster
        if mmd.toon_shared:
            toon = images.shared_toon(mmd.toon_index)
        else:
            toon = images.optional(mmd.toon_index, "toon", mmd.name)
        sphere = None
        if mmd.sphere_mode in (1, 2):
            sphere = images.optional(mmd.sphere_texture, "sphere", mmd.name)
        diffuse = np.clip(np.asarray(mmd.diffuse, np.float64).reshape(-1)[:4], 0.0, None)
        vrm = model.vrm.materials[i] if model.vrm is not None and i < len(model.vrm.materials) else None
        if vrm is not None and toon is None and vrm.shade_color is not None:
            toon = images.mtoon_ramp(i, vrm.shade_color, diffuse[:3])
        spec = MaterialSpec(
            material=material,
            diffuse=(float(diffuse[0]), float(diffuse[1]), float(diffuse[2]), float(min(diffuse[3], 1.0))),
            double_sided=mmd.double_sided,
            texture=images.texture(mmd.texture, mmd.name),
            sphere=sphere,
            sphere_mode=mmd.sphere_mode,
            toon=toon,
        )
        if vrm is not None:
            spec.alpha_mode, spec.alpha_cutoff = vrm.alpha_mode, float(vrm.alpha_cutoff)
        build_tree(spec, shading)
        specs.append(spec)
    return specs


def set_shading(specs: list[MaterialSpec], shading: str) -> None:
    """Rebuild every material's nodes for another preset (images are kept)."""
    if shading not in SHADINGS:
        raise ValueError(f"shading must be one of {SHADINGS}, not {shading!r}")
    for spec in specs:
        build_tree(spec, shading)


def _math(nodes, operation: str, a, b=None, vector: bool = False):
    node = nodes.new("ShaderNodeVectorMath" if vector else "ShaderNodeMath")
    node.operation = operation
    links = node.id_data.links
    for socket, value in ((node.inputs[0], a), (node.inputs[1], b)):
        if value is None:
            continue
        if isinstance(value, bpy.types.NodeSocket):
            links.new(value, socket)
        else:
            socket.default_value = value
    return node.outputs["Vector" if vector and operation != "DOT_PRODUCT" else "Value"]


def _toon_lookup(nodes, image: bpy.types.Image, ndotl):
    """The toon ramp's colour at N.L (vertical ramp: N.L = -1 at the bottom, 1 at the top)."""
    v = _math(nodes, "MULTIPLY_ADD", ndotl, 0.5)
    v.node.inputs[2].default_value = 0.5
    uv = nodes.new("ShaderNodeCombineXYZ")
    uv.inputs[0].default_value = 0.5
    nodes.id_data.links.new(v, uv.inputs[1])
    toon = nodes.new("ShaderNodeTexImage")
    toon.image = image
    toon.extension = "EXTEND"
    nodes.id_data.links.new(uv.outputs[0], toon.inputs["Vector"])
    return toon.outputs["Color"]


def _combine_gray(nodes, value):
    """A float socket as an (x, x, x) vector."""
    combine = nodes.new("ShaderNodeCombineXYZ")
    for i in range(3):
        nodes.id_data.links.new(value, combine.inputs[i])
    return combine.outputs[0]


def build_tree(spec: MaterialSpec, shading: str) -> None:
    """(Re)build one material's node tree for a shading preset."""
    tree = spec.material.node_tree
    nodes, links = tree.nodes, tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    light = nodes.new("ShaderNodeGroup")
    light.node_tree = light_group()
    r, g, b, a = spec.diffuse

    base = None
    alpha = None
    if spec.texture is not None:
        tex = nodes.new("ShaderNodeTexImage")
        tex.image = spec.texture
        base = _math(nodes, "MULTIPLY", tex.outputs["Color"], (r, g, b), vector=True)
        alpha = _math(nodes, "MULTIPLY", tex.outputs["Alpha"], a)
    else:
        rgb = nodes.new("ShaderNodeRGB")
        rgb.outputs[0].default_value = (r, g, b, 1.0)
        base = rgb.outputs[0]
    if spec.alpha_mode == "OPAQUE":  # glTF: alpha is ignored
        alpha, a = None, 1.0
    elif spec.alpha_mode == "MASK":  # glTF: opaque where alpha >= cutoff, else fully transparent
        if alpha is not None:
            alpha = _math(nodes, "GREATER_THAN", alpha, spec.alpha_cutoff - 1e-6)
        else:
            a = 1.0 if a >= spec.alpha_cutoff else 0.0
    if not spec.double_sided:
        geometry = nodes.new("ShaderNodeNewGeometry")
        front = _math(nodes, "SUBTRACT", 1.0, geometry.outputs["Backfacing"])
        alpha = _math(nodes, "MULTIPLY", front, alpha if alpha is not None else a)

    if shading == "phong":
        lit = _math(nodes, "MAXIMUM", light.outputs["ndotl"], 0.0)
        level = _math(nodes, "MULTIPLY_ADD", lit, light.outputs["diffuse"])
        links.new(light.outputs["ambient"], level.node.inputs[2])
        color = _math(nodes, "SCALE", base, None, vector=True)
        links.new(level, color.node.inputs["Scale"])
    else:
        color = base
        if shading == "toon" and spec.toon is not None:
            color = _math(
                nodes, "MULTIPLY", color, _toon_lookup(nodes, spec.toon, light.outputs["ndotl"]), vector=True
            )
        if spec.sphere is not None:
            sphere = nodes.new("ShaderNodeTexImage")
            sphere.image = spec.sphere
            sphere.extension = "EXTEND"
            links.new(light.outputs["sphere_uv"], sphere.inputs["Vector"])
            op = "MULTIPLY" if spec.sphere_mode == 1 else "ADD"
            color = _math(nodes, op, color, sphere.outputs["Color"], vector=True)
        if shading == "toon":
            strength = _math(nodes, "ADD", light.outputs["ambient"], light.outputs["diffuse"])
            color = _math(nodes, "SCALE", color, None, vector=True)
            links.new(strength, color.node.inputs["Scale"])
        else:  # point: ambient + diffuse * the lights' weighted ramps (colours)
            total = None
            for i in range(POINT_LIGHT_COUNT):
                ndotl = light.outputs[f"point{i}_ndotl"]
                if spec.toon is not None:
                    term = _toon_lookup(nodes, spec.toon, ndotl)
                else:
                    term = _combine_gray(nodes, _math(nodes, "MAXIMUM", ndotl, 0.0))
                term = _math(nodes, "SCALE", term, None, vector=True)
                links.new(light.outputs[f"point{i}_weight"], term.node.inputs["Scale"])
                total = term if total is None else _math(nodes, "ADD", total, term, vector=True)
            level = _math(nodes, "SCALE", total, None, vector=True)
            links.new(light.outputs["diffuse"], level.node.inputs["Scale"])
            level = _math(nodes, "ADD", level, None, vector=True)
            links.new(_combine_gray(nodes, light.outputs["ambient"]), level.node.inputs[1])
            color = _math(nodes, "MULTIPLY", color, level, vector=True)

    emission = nodes.new("ShaderNodeEmission")
    links.new(color, emission.inputs["Color"])
    surface = emission.outputs[0]
    if alpha is not None or a < 1.0:
        transparent = nodes.new("ShaderNodeBsdfTransparent")
        mix = nodes.new("ShaderNodeMixShader")
        if alpha is not None:
            links.new(alpha, mix.inputs["Fac"])
        else:
            mix.inputs["Fac"].default_value = a
        links.new(transparent.outputs[0], mix.inputs[1])
        links.new(surface, mix.inputs[2])
        surface = mix.outputs[0]
    links.new(surface, out.inputs["Surface"])
