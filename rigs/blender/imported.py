"""The Blender side of one imported character: posing, morph weights, shading swap and removal.

Bone rotations are given in character axes and applied about the joints in world axes (never
about bone-local axes: MMD rolls differ), combined with the bone-morph parts; `remove` deletes
every data block the import made and purges orphans so import+remove stays flat in memory.
"""

from __future__ import annotations

import bpy
import numpy as np

from thagen.errors import RigError
from thagen.rigs.blender.materials import set_shading
from thagen.rigs.blender.morphs import BonePart
from thagen.rigs.blender.report import ImportReport
from thagen.rigs.blender.shading import MaterialSpec
from thagen.rigs.coordinates import char_rotation_to_blender, matrix_to_quat, quat_to_matrix, slerp_identity


class ImportedModel:
    """The Blender side of one character; poses it and removes every data block it made."""

    def __init__(
        self,
        armature: bpy.types.Object,
        mesh: bpy.types.Object,
        report: ImportReport,
        materials: list[MaterialSpec],
        images: list[bpy.types.Image],
        bone_names: list[str],
        bone_morphs: dict[str, list[tuple[BonePart, float]]],
    ) -> None:
        self.armature = armature
        self.mesh = mesh
        self.report = report
        self.materials = materials
        self.images = images
        self.bone_names = bone_names  # Blender bone name per MMD bone index
        self._bone_alias: dict[str, str] = {}  # MMD bone name -> Blender name (names > 63 bytes differ)
        self._bone_morphs = bone_morphs  # morph name -> [(part, weight factor)]
        self._morph_weights: dict[str, float] = {}
        self._user_rotations: dict[str, np.ndarray] = {}  # bone -> world-axes rotation
        self.shading = ""
        # the never-moving faces as their own plain object (rigs/blender/static_split.py) and
        # each part's mask over the model's built triangles; None when the import did not split
        self.static: bpy.types.Object | None = None
        self.static_faces: np.ndarray | None = None
        self.dynamic_faces: np.ndarray | None = None

    # ----------------------------------------------------------------- morphs
    def shape_key_names(self) -> list[str]:
        keys = self.mesh.data.shape_keys
        return [k.name for k in keys.key_blocks] if keys is not None else []

    def has_morph(self, name: str) -> bool:
        return name in self.report.shape_keys or name in self._bone_morphs or self._key(name) is not None

    def _key(self, name: str) -> bpy.types.ShapeKey | None:
        keys = self.mesh.data.shape_keys
        if keys is None:
            return None
        return keys.key_blocks.get(self.report.shape_keys.get(name, name))

    def set_morph(self, name: str, weight: float) -> None:
        """Set a morph by its MMD name (or shape key name): shape key value and/or bone offsets."""
        key = self._key(name)
        parts = self._bone_morphs.get(name)
        if key is None and parts is None:
            raise RigError(f"{self.mesh.name}: no morph or shape key named {name!r}")
        if key is not None:
            key.value = float(weight)
        if parts is not None:
            self._morph_weights[name] = float(weight)
            for bone in {part[0] for part, _ in parts}:
                self._update_bone(bone)

    # ----------------------------------------------------------------- bones
    def _pose_bone(self, bone_name: str) -> bpy.types.PoseBone:
        pose_bone = self.armature.pose.bones.get(self._bone_alias.get(bone_name, bone_name))
        if pose_bone is None:
            raise RigError(f"{self.armature.name}: no bone named {bone_name!r}")
        return pose_bone

    def set_bone_rotation(self, bone_name: str, r_char: np.ndarray) -> None:
        """Rotate a bone about its joint by a 3x3 rotation in CHARACTER axes (x left, y up, z front).

        Relative to the parent's posed frame; never about bone-local axes (MMD rolls differ).
        """
        bone_name = self._pose_bone(bone_name).name
        self._user_rotations[bone_name] = char_rotation_to_blender(r_char)
        self._update_bone(bone_name)

    def _update_bone(self, bone_name: str) -> None:
        pose_bone = self._pose_bone(bone_name)
        rest = np.array(pose_bone.bone.matrix_local.to_3x3(), np.float64)
        rotation = self._user_rotations.get(bone_name, np.eye(3))
        location = np.zeros(3)
        for morph, weight in self._morph_weights.items():
            if weight == 0.0:
                continue
            for (bone, translation, turn), factor in self._bone_morphs[morph]:
                if bone != bone_name:
                    continue
                w = weight * factor
                location = location + translation * w
                rotation = rotation @ quat_to_matrix(slerp_identity(matrix_to_quat(turn), w))
        # q_local = M_rest^-1 R M_rest: a world-axes rotation as the bone's local rotation.
        pose_bone.rotation_mode = "QUATERNION"
        pose_bone.rotation_quaternion = matrix_to_quat(rest.T @ rotation @ rest)
        pose_bone.location = rest.T @ location

    def reset_pose(self) -> None:
        """Rest pose: every bone and shape key back to zero."""
        self._user_rotations.clear()
        self._morph_weights.clear()
        for pose_bone in self.armature.pose.bones:
            pose_bone.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
            pose_bone.location = (0.0, 0.0, 0.0)
        keys = self.mesh.data.shape_keys
        if keys is not None:
            for key in keys.key_blocks:
                key.value = 0.0

    def set_shading(self, shading: str) -> None:
        if shading != self.shading:
            set_shading(self.materials, shading)
            self.shading = shading

    # ----------------------------------------------------------------- cleanup
    def remove(self) -> None:
        """Delete every data block of this character and purge orphans (import+remove stays flat)."""
        data = bpy.data
        mesh_data = self.mesh.data
        arm_data = self.armature.data
        actions = [
            ob.animation_data.action
            for ob in (self.mesh, self.armature)
            if ob.animation_data is not None and ob.animation_data.action is not None
        ]
        static_data = self.static.data if self.static is not None else None
        if self.static is not None:
            data.objects.remove(self.static)
        data.objects.remove(self.mesh)
        data.objects.remove(self.armature)
        data.meshes.remove(mesh_data)
        if static_data is not None:
            data.meshes.remove(static_data)
        self.static, self.static_faces, self.dynamic_faces = None, None, None
        data.armatures.remove(arm_data)
        for spec in self.materials:
            data.materials.remove(spec.material)
        for image in self.images:
            try:
                data.images.remove(image)
            except ReferenceError:
                pass  # an unused image another character's orphan purge already took
        for action in actions:
            data.actions.remove(action)
        self.materials, self.images = [], []
        data.orphans_purge(do_local_ids=True, do_linked_ids=True, do_recursive=True)
