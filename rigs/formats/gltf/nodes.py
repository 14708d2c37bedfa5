"""The glTF node tree: parents (cycles, shared and out-of-range children refused) and world matrices.

Everything is vectorized over nodes (pointer jumping for cycles, one pass per tree depth for
world matrices), so a hostile file with 100,000 nodes costs milliseconds, not recursion.
"""

from __future__ import annotations

import numpy as np

from thagen.rigs.formats.gltf.container import MAX_COORDINATE, MAX_NODES, Gltf


def node_parents(g: Gltf) -> np.ndarray:
    """Parent node of every node (-1 for roots); children out of range, shared or cyclic fail."""
    nodes = g.array("nodes")
    if len(nodes) > MAX_NODES:
        raise g.error(f"{len(nodes)} nodes is over the {MAX_NODES} limit", "nodes")
    parents = np.full(len(nodes), -1, np.int64)
    for i in range(len(nodes)):
        node = g.item("nodes", i, f"nodes[{i}]")
        children = node.get("children", [])
        if not isinstance(children, list):
            raise g.error("must be an array", f"nodes[{i}].children")
        for j, child in enumerate(children):
            g.item("nodes", child, f"nodes[{i}].children[{j}]")
            if parents[child] >= 0 or child == i:
                raise g.error(f"node {child} has more than one parent", f"nodes[{i}].children[{j}]")
            parents[child] = i
    on_cycle = _nodes_on_cycles(parents)
    if on_cycle.size:
        raise g.error("the node tree has a cycle", f"nodes[{int(on_cycle[0])}].children")
    return parents


def local_matrix(g: Gltf, index: int) -> np.ndarray:
    """4x4 local transform of nodes[index] (matrix, or translation / rotation / scale)."""
    node = g.item("nodes", index, f"nodes[{index}]")
    here = f"nodes[{index}]"
    if "matrix" in node:
        m = g.numbers(node["matrix"], 16, f"{here}.matrix")
        return m.reshape(4, 4).T  # column-major in the file
    t = g.numbers(node.get("translation", [0, 0, 0]), 3, f"{here}.translation")
    q = g.numbers(node.get("rotation", [0, 0, 0, 1]), 4, f"{here}.rotation")
    s = g.numbers(node.get("scale", [1, 1, 1]), 3, f"{here}.scale")
    norm = float(np.linalg.norm(q))
    if norm < 1e-6:
        raise g.error("is not a unit quaternion", f"{here}.rotation")
    x, y, z, w = q / norm
    r = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    m = np.eye(4)
    m[:3, :3] = r * s[None, :]
    m[:3, 3] = t
    return m


def world_matrices(g: Gltf, parents: np.ndarray) -> np.ndarray:
    """(n, 4, 4) world transform of every node (parents before children, no recursion)."""
    n = len(parents)
    local = np.stack([local_matrix(g, i) for i in range(n)]) if n else np.zeros((0, 4, 4))
    world = np.full((n, 4, 4), np.nan)
    depth = _depths(parents)
    for d in range(int(depth.max()) + 1 if n else 0):
        level = np.flatnonzero(depth == d)
        roots = level[parents[level] < 0]
        world[roots] = local[roots]
        kids = level[parents[level] >= 0]
        world[kids] = world[parents[kids]] @ local[kids]
    bad = ~np.all(np.isfinite(world) & (np.abs(world) < MAX_COORDINATE), axis=(1, 2))
    if bad.any():
        raise g.error(
            "the node's world transform is not finite or too large", f"nodes[{int(np.argmax(bad))}]"
        )
    return world


def _nodes_on_cycles(parents: np.ndarray) -> np.ndarray:
    """Nodes whose parent chain never reaches a root (vectorized pointer jumping)."""
    n = len(parents)
    if n == 0:
        return np.zeros(0, np.int64)
    jump = np.where(parents >= 0, parents, np.arange(n))  # roots point at themselves
    for _ in range(int(np.ceil(np.log2(n))) + 1):
        jump = jump[jump]
    return np.flatnonzero(parents[jump] >= 0)


def _depths(parents: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(parents), np.int64)
    current = parents.copy()
    while np.any(current >= 0):
        depth += current >= 0
        current = np.where(current >= 0, parents[np.maximum(current, 0)], -1)
    return depth
