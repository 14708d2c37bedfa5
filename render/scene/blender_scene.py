"""The render scene: one long-lived Blender scene that renders posed characters to PNG bytes.

Set up once (the engine: Cycles, EEVEE or Workbench, render/scene/engines.py; orthographic
camera, exact colour management), then per image only shape-key values, two bone rotations and
maybe the ambient value change, so Cycles' persistent data is reused. Colour settings keep flat
colours exact: view transform Standard, look None, exposure 0, gamma 1, no dither. Blender's own
stdout/stderr (C level) is captured per import and render (render/scene/capture.py) and handed
to `log` instead of being lost or mixed into the caller's output.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import bpy
import numpy as np

from thagen.errors import RenderError, RigError
from thagen.render.framing.presets import preset_camera
from thagen.render.poses.posing import eye_morph_weights, mmd_to_blender, rotation_matrices
from thagen.render.poses.vector_posing import is_vector_pose, vector_targets
from thagen.render.scene.blender_lighting import apply_lighting
from thagen.render.scene.capture import TMP_PREFIX, capture_output, private_tmp
from thagen.render.scene.capture import sweep_dead as _sweep_dead
from thagen.render.scene.engines import engine_name, set_gl_threads, setup_engine, setup_output
from thagen.render.scene.eyebrow_layer import MeshPart, mesh_parts, render_eyebrow_layer
from thagen.render.scene.material_mask import render_material_mask
from thagen.render.scene.png import strip_png_text
from thagen.render.scene.posed_bones import posed_bones
from thagen.render.scene.studio_light import StudioLight
from thagen.render.scene.view_cull import triangles_in_view
from thagen.rigs.blender.engine_materials import prepare_materials
from thagen.rigs.blender.import_model import import_model
from thagen.rigs.blender.imported import ImportedModel
from thagen.rigs.blender.report import TextureMiss
from thagen.rigs.model import Model

if TYPE_CHECKING:
    from thagen.rigs.normalize import RigReport

__all__ = ["TMP_PREFIX", "BlenderRenderer", "_sweep_dead", "apply_pose", "capture_output"]

CAMERA_DISTANCE = 10.0  # metres in front of the face; orthographic, so only clipping cares
MORPH_ROLES = ("eye_close_left", "eye_close_right", "eye_close_both", "mouth_open")


class BlenderRenderer:
    """One scene, one character at a time, rendering THA1-framed RGBA PNGs."""

    def __init__(
        self,
        *,
        image_size: int = 256,
        engine: str = "cycles",
        device: str = "CPU",
        samples: int = 4,
        threads: int = 0,
        log: Callable[[str], None] | None = None,
        split_static: bool = True,
        adaptive: bool = False,
    ) -> None:
        self.image_size = int(image_size)
        self.blender_version = ""  # set by make_renderer (render/scene/renderer.py)
        self.framing_preset = "tha1"  # render/framing/presets.py; set per character
        self.split_static = bool(split_static)
        self.parts: list[MeshPart] = []  # its mesh objects and their model triangles (eyebrow_layer.py)
        self._culled_for: tuple[float, ...] | None = None  # the camera the import left out triangles for
        self.log = log
        self.warnings: list[str] = []
        self.character: ImportedModel | None = None
        self.rig: RigReport | None = None
        self.preset, self.ambient, self.diffuse = "phong", 0.5, 0.5
        self._head = (np.zeros(3), 1.0)  # framed head centre (world) and height (m)
        self.engine = engine_name(engine)  # cycles, eevee or workbench (render/scene/engines.py)
        if self.engine != "cycles":
            set_gl_threads(threads)
        self._tmp = private_tmp()
        with capture_output(self._tmp) as out:
            bpy.ops.wm.read_factory_settings(use_empty=True)
        self._emit(out.text)
        self.scene = bpy.context.scene
        setup_output(self.scene, self.image_size, os.path.join(self._tmp, "frame.png"), threads)
        setup_engine(
            self.scene, self.engine, samples=samples, device=device, adaptive=adaptive, warn=self.warn
        )
        self._studio = StudioLight(self.scene) if self.engine == "workbench" else None
        if self._studio is not None:
            self._studio.set(self.ambient, self.diffuse)
        self._setup_camera()

    @property
    def static(self) -> bpy.types.Object | None:
        """The character's never-moving faces as their own object (rigs/blender/static_split.py)."""
        return self.character.static if self.character is not None else None

    # ----------------------------------------------------------------- setup
    def _emit(self, text: str) -> None:
        if text and self.log is not None:
            self.log(text)

    def warn(self, message: str) -> None:
        """Record a warning in `warnings` and pass it to the log (blender.log)."""
        self.warnings.append(message)
        self._emit(f"thagen warning: {message}\n")

    def _setup_camera(self) -> None:
        data = bpy.data.cameras.new("thagen_camera")
        data.type = "ORTHO"
        data.clip_start = 0.01
        data.clip_end = 2.0 * CAMERA_DISTANCE + 10.0
        camera = bpy.data.objects.new("thagen_camera", data)
        camera.rotation_euler = (math.pi / 2.0, 0.0, 0.0)  # look along +Y, up +Z
        self.scene.collection.objects.link(camera)
        self.scene.camera = camera
        self.camera = camera

    def set_image_size(self, size: int) -> None:
        """Change the square output size; the framing (rows size/4 and 3*size/4) scales with it."""
        self.image_size = int(size)
        self.scene.render.resolution_x = self.scene.render.resolution_y = self.image_size

    # ----------------------------------------------------------------- character
    def load_character(
        self,
        model: Model,
        rig: RigReport | None,
        model_path: Path | None = None,
        shading: str | None = None,
        *,
        all_morphs: bool = False,
        view: tuple[np.ndarray, np.ndarray, float | None] | None = None,
    ) -> ImportedModel:
        """Import a character (replacing the current one); shading defaults to the current preset.

        Only the morphs the rig's roles drive become shape keys unless `all_morphs`: the others
        would never be set, and each one costs import time and geometry to split. `view` (head
        top, chin, centre x: the arguments of `frame`) frames the camera first and leaves out
        the never-moving triangles it cannot see (render/scene/view_cull.py); the character can
        then not be framed otherwise.
        """
        self._check_preset(shading or self.preset)
        self.unload_character()
        in_view = None
        if view is not None and self.split_static:
            self.frame(*view)
            in_view = self._in_view
        driven = None
        if not all_morphs and rig is not None:
            driven = {name for role in MORPH_ROLES if (name := rig.morph_for(role))}
            if rig.extended is not None:  # THA2 / THA3: every parameter's morph
                driven |= rig.extended.morph_names()
        with capture_output(self._tmp) as out:
            self.character = import_model(
                model,
                rig=rig,
                model_path=model_path,
                shading=shading or self.preset,
                morphs=driven,
                posed_bones=posed_bones(model, rig) if self.split_static else None,
                in_view=in_view,
            )
            if self.character.report.culled_faces:
                self._culled_for = self._camera_state()
            self.parts = mesh_parts(model, self.character)
            if self.engine != "cycles":  # EEVEE's blend mode, Workbench's colours (engine_materials.py)
                made = prepare_materials(self.character.materials, self.engine, self.character.shading)
                self.character.images.extend(made)
        self._emit(out.text)
        self.rig = rig
        if shading is not None:
            self.preset = shading
        return self.character

    def unload_character(self) -> None:
        if self.character is not None:
            with capture_output(self._tmp) as out:
                try:
                    self.character.remove()
                except ReferenceError:  # the scene was reset under us: nothing left to remove
                    pass
            self._emit(out.text)
        self.character, self.rig, self.parts = None, None, []
        self._culled_for = None

    # ----------------------------------------------------------------- camera
    def frame(
        self, head_top_mmd: np.ndarray, chin_mmd: np.ndarray, center_x_mmd: float | None = None
    ) -> None:
        """THA1 framing: head top at row size/4, chin tip at row 3*size/4, centred on the head."""
        top = mmd_to_blender(np.asarray(head_top_mmd, np.float64).reshape(3))
        chin = mmd_to_blender(np.asarray(chin_mmd, np.float64).reshape(3))
        height = float(top[2] - chin[2])
        if not height > 0:
            raise RenderError(f"head top (z={top[2]:.4f} m) must be above the chin (z={chin[2]:.4f} m)")
        x = (
            0.5 * (top[0] + chin[0])
            if center_x_mmd is None
            else float(mmd_to_blender(np.array([center_x_mmd, 0.0, 0.0]))[0])
        )
        z = 0.5 * (top[2] + chin[2])
        self.camera.data.ortho_scale = 2.0 * height
        self.camera.location = (x, -CAMERA_DISTANCE, z)
        preset = self.framing_preset
        if preset != "tha1":  # e.g. THA3's input framing (render/framing/presets.py)
            self.camera.data.ortho_scale, camera_z = preset_camera(preset, height, z)
            self.camera.location = (x, -CAMERA_DISTANCE, camera_z)
        self._head = (np.array([x, 0.5 * (top[1] + chin[1]), z]), height)
        if self._culled_for is not None and self._camera_state() != self._culled_for:
            raise RenderError(
                "the character was imported without the triangles this view can see; load it again for this view"
            )
        bpy.context.view_layer.update()
        if self.preset == "point":
            self.set_lighting(self.preset, self.ambient, self.diffuse)

    def _camera_state(self) -> tuple[float, ...]:
        return (*self.camera.location, float(self.camera.data.ortho_scale))

    def _in_view(self, corners: np.ndarray) -> np.ndarray:
        """(F,) bool: may the camera, as framed, see these (F, 3, 3) triangles (world axes)?"""
        inverse = np.linalg.inv(np.array(self.camera.matrix_basis))  # no parent: = matrix_world
        return triangles_in_view(corners, inverse, self.camera.data.ortho_scale, self.image_size)

    def project(self, points_mmd: np.ndarray) -> np.ndarray:
        """(N, 2) pixel coordinates (column, row; row 0 at the top edge) of MMD points."""
        world = mmd_to_blender(np.asarray(points_mmd, np.float64).reshape(-1, 3))
        inverse = np.linalg.inv(np.array(self.camera.matrix_basis))  # no parent: = matrix_world, but current
        local = (inverse[:3, :3] @ world.T).T + inverse[:3, 3]
        scale = self.camera.data.ortho_scale
        size = self.image_size
        return np.stack(
            [size / 2 + local[:, 0] / scale * size, size / 2 - local[:, 1] / scale * size], axis=1
        )

    # ----------------------------------------------------------------- lighting and pose
    def set_lighting(self, preset: str = "phong", ambient: float = 0.5, diffuse: float = 0.5) -> None:
        """Switch the preset (rebuilds material tails only when it changes) and the light values."""
        self._check_preset(preset)
        apply_lighting(self.scene, self.camera, self.character, preset, ambient, diffuse, *self._head)
        if self._studio is not None:
            self._studio.set(ambient, diffuse)
        self.preset, self.ambient, self.diffuse = preset, float(ambient), float(diffuse)

    def _check_preset(self, preset: str) -> None:
        """Workbench draws `phong` only (its studio light); the others need the node trees."""
        if self.engine == "workbench" and preset != "phong":
            raise RenderError(f"render.engine: workbench does not support lighting.preset: {preset}")

    def set_pose(
        self,
        pose: Mapping[str, float],
        *,
        imported: ImportedModel | None = None,
        rig: RigReport | None = None,
        max_degrees: float = 15.0,
    ) -> None:
        """Drive the eye/mouth shape keys and the head/neck rotations for a THA1 pose dict."""
        imported = imported or self.character
        rig = rig or self.rig
        if imported is None or rig is None:
            raise RenderError("set_pose needs a loaded character and its rig report")
        apply_pose(imported, rig, pose, max_degrees=max_degrees)

    def texture_misses(self) -> list[TextureMiss]:
        """The loaded character's missing texture files, per material (its import report)."""
        return list(self.character.report.texture_misses) if self.character is not None else []

    def render_material_mask(self, colors: Mapping[int, tuple[float, float, float]]) -> bytes:
        """The current pose with material i as flat `colors[i]`, the rest held out (material_mask.py).

        Always a Cycles render: it holds materials out exactly, and this image is only measured."""
        engine = self.scene.render.engine
        self.scene.render.engine = "CYCLES"
        try:
            return render_material_mask(self.character, colors, self.render_png)
        finally:
            self.scene.render.engine = engine

    def render_layer(self, which: str) -> bytes:
        """The current pose as THA3's `eyebrow_layer` or `no_eyebrow` image (eyebrow_layer.py)."""
        return render_eyebrow_layer(self.character, self.parts, self.rig, which, self.render_png)

    def set_region(self, box: tuple[int, int, int, int] | None) -> None:
        """Render only the pixel box (x0, y0, x1, y1; rows from the top, ends exclusive), the
        rest transparent, or the whole image (None). Cycles samples each pixel alike either way
        (render/character/qa_region.py relies on it)."""
        r = self.scene.render
        if box is None:
            r.use_border = False
            return
        size = self.image_size
        x0, y0, x1, y1 = box
        # Blender takes the border as fractions and floors them to pixels: aim at pixel centres
        r.border_min_x, r.border_max_x = (x0 + 0.5) / size, (x1 + 0.5) / size
        r.border_min_y, r.border_max_y = (size - y1 + 0.5) / size, (size - y0 + 0.5) / size
        r.use_crop_to_border = False
        r.use_border = True

    def render_png(self) -> bytes:
        """Render the current state and return the PNG bytes."""
        path = self.scene.render.filepath
        with capture_output(self._tmp) as out:
            try:
                result = bpy.ops.render.render(write_still=True)
            except RuntimeError as exc:
                raise RenderError(f"Blender render failed: {exc}") from exc
        self._emit(out.text)
        if "FINISHED" not in result or not os.path.isfile(path):
            raise RenderError(f"Blender render did not write {path}: {out.text[-500:]}")
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path)
        return strip_png_text(data)

    def close(self) -> None:
        self.unload_character()
        if self._studio is not None:
            self._studio.close()
        for name in os.listdir(self._tmp):
            os.unlink(os.path.join(self._tmp, name))
        os.rmdir(self._tmp)


def apply_pose(
    imported: ImportedModel, rig: RigReport, pose: Mapping[str, float], *, max_degrees: float = 15.0
) -> None:
    """Shape keys via rig.morph_for(role), rotations via posing.rotation_matrices: no rebuild."""
    names = {role: name for role in MORPH_ROLES if (name := rig.morph_for(role))}
    available = list(names)
    for role, weight in eye_morph_weights(pose, available).items():
        imported.set_morph(names[role], weight)
    rotations = rotation_matrices(pose, max_degrees=max_degrees)
    for role in ("head", "neck"):
        bone = rig.bone_for(role)
        if bone is None:
            if np.allclose(rotations[role], np.eye(3)):
                continue
            raise RigError(f"the rig has no {role} bone to rotate")
        imported.set_bone_rotation(bone, rotations[role])
    if rig.extended is not None and is_vector_pose(pose):
        targets = vector_targets(pose, rig.extended)
        for name, weight in targets.morphs.items():
            imported.set_morph(name, weight)
        for bone, rotation in targets.bones.items():
            imported.set_bone_rotation(bone, rotation)
