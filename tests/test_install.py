"""The install itself: the packages import under the thagen namespace and bpy renders real pixels."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
from PIL import Image


def test_packages_import_under_thagen_namespace(tmp_path) -> None:
    """The architecture's folders install as thagen.*, never as top-level `train` or `render`."""
    for name in ("thagen", "thagen.rigs", "thagen.render", "thagen.annotate", "thagen.train"):
        importlib.import_module(name)
    # run outside the repo so its folders on the current directory cannot be picked up
    probe = "import importlib.util as u; print([n for n in ('rigs','render','train','annotate') if u.find_spec(n)])"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_cli_version() -> None:
    import thagen

    out = subprocess.run(
        [sys.executable, "-m", "thagen", "--version"], capture_output=True, text=True, check=True
    )
    assert thagen.__version__ in out.stdout


def test_bpy_renders_a_cycles_cpu_image(tmp_path) -> None:
    """Proof that the bpy wheel works on this machine: a tiny Cycles CPU render of an emissive plane."""
    import bpy

    assert bpy.app.version[:2] == (4, 5)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 1
    scene.render.resolution_x = scene.render.resolution_y = 32
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = True
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"

    mesh = bpy.data.meshes.new("plane")
    mesh.from_pydata([(-1, 0, -1), (1, 0, -1), (1, 0, 1), (-1, 0, 1)], [], [(0, 1, 2, 3)])
    plane = bpy.data.objects.new("plane", mesh)
    scene.collection.objects.link(plane)
    mat = bpy.data.materials.new("red")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    nodes.clear()
    emission = nodes.new("ShaderNodeEmission")
    emission.inputs["Color"].default_value = (1.0, 0.0, 0.0, 1.0)
    output = nodes.new("ShaderNodeOutputMaterial")
    mat.node_tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])
    mesh.materials.append(mat)

    cam_data = bpy.data.cameras.new("cam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = 4.0  # the plane covers the middle half of the image
    cam = bpy.data.objects.new("cam", cam_data)
    cam.location = (0, -5, 0)
    cam.rotation_euler = (np.pi / 2, 0, 0)
    scene.collection.objects.link(cam)
    scene.camera = cam

    path = tmp_path / "render.png"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)

    pixels = np.asarray(Image.open(path).convert("RGBA"))
    assert pixels.shape == (32, 32, 4)
    centre, corner = pixels[16, 16], pixels[1, 1]
    assert centre[3] == 255 and centre[0] > 200 and centre[1] < 30 and centre[2] < 30
    assert corner[3] == 0  # transparent film outside the plane
