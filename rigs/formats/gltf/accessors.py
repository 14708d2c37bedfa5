"""glTF accessors decoded into numpy arrays: component types, strides, sparse substitution,
normalized integers, and the element limits that keep a hostile file from sizing allocations.

Kept apart from rigs/formats/gltf/container.py (the document, its buffers and images) because
decoding is the one part with arithmetic on untrusted numbers: every count, offset and stride
is checked against its bufferView before a view is made. An accessor is read with one numpy
view (strided, no per-element Python), then copied, so a result never aliases the file's bytes.
`Gltf.accessor` (container.py) is the entry point; the `Gltf` it works on is described here by
the small `AccessorSource` protocol (container.py imports this module, not the other way).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from thagen.errors import ModelFormatError

MAX_ELEMENTS = 1 << 25  # elements in one accessor (33M: far beyond any avatar)
COMPONENT_DTYPES = {5120: "i1", 5121: "u1", 5122: "<i2", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
TYPE_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
# normalized integers -> float (glTF 2.0, "Animation" / "Meshes" sections)
_NORMALIZE_DIVISOR = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}


class AccessorSource(Protocol):
    """What decoding an accessor uses of a parsed document (`Gltf`, container.py)."""

    def charge(self, nbytes: int, where: str) -> None: ...

    def error(self, message: str, where: str, offset: int | None = None) -> ModelFormatError: ...

    def item(self, key: str, index: object, where: str) -> dict[str, Any]: ...

    def integer(
        self, obj: dict, key: str, where: str, *, default: int | None = None, low: int = 0
    ) -> int: ...

    def view(self, index: int, where: str) -> tuple[bytes, int, int, int | None]: ...


def read_accessor(
    g: AccessorSource,
    index: object,
    where: str,
    *,
    types: tuple[str, ...] | None = None,
    count: int | None = None,
) -> np.ndarray:
    """accessors[index] as an (count, width) array (float32 for floats and normalized ints).

    `count`: the element count the caller needs (checked before anything is allocated).
    """
    expected = count
    acc = g.item("accessors", index, where)
    here = f"accessors[{index}]"
    ctype = acc.get("componentType")
    if isinstance(ctype, bool) or not isinstance(ctype, int) or ctype not in COMPONENT_DTYPES:
        raise g.error(f"unknown componentType {ctype!r}"[:120], f"{here}.componentType")
    kind = acc.get("type")
    if not isinstance(kind, str) or kind not in TYPE_WIDTHS:
        raise g.error(f"unknown type {kind!r}"[:120], f"{here}.type")
    if types is not None and kind not in types:
        raise g.error(f"is {kind}, {where} needs {' or '.join(types)}", f"{here}.type")
    count = g.integer(acc, "count", here, low=1)
    if count > MAX_ELEMENTS:
        raise g.error(f"{count} elements is over the {MAX_ELEMENTS} limit", f"{here}.count")
    if expected is not None and count != expected:
        raise g.error(f"has {count} elements, {where} needs {expected}", f"{here}.count")
    width = TYPE_WIDTHS[kind]
    dtype = np.dtype(COMPONENT_DTYPES[ctype])
    element = dtype.itemsize * width
    cost = count * max(element, 4 * width)  # float32 copies of small ints too
    if "bufferView" in acc:
        data, start, length, stride = g.view(g.integer(acc, "bufferView", here), f"{here}.bufferView")
        offset = g.integer(acc, "byteOffset", here, default=0)
        step = stride or element
        if offset % dtype.itemsize or step % dtype.itemsize:
            raise g.error("byteOffset / byteStride not aligned to the component size", f"{here}.byteOffset")
        if step < element:
            raise g.error(f"byteStride {step} is smaller than an element ({element} bytes)", here)
        need = offset + step * (count - 1) + element
        if need > length:
            raise g.error(f"{count} x {kind} needs {need} bytes, bufferView holds {length}", f"{here}.count")
        g.charge(cost, here)
        raw: np.ndarray = np.ndarray(
            (count, width), dtype, buffer=data, offset=start + offset, strides=(step, dtype.itemsize)
        )
        out = np.array(raw)
    else:
        g.charge(cost, here)
        out = np.zeros((count, width), dtype)
    if "sparse" in acc:
        _apply_sparse(g, acc["sparse"], out, f"{here}.sparse", dtype, width)
    if dtype.kind == "f":
        out = out.astype(np.float32, copy=False)
        if not np.isfinite(out).all():
            raise g.error("holds NaN or infinite values", here)
    elif acc.get("normalized") is True:
        out = (out.astype(np.float32) / np.float32(_NORMALIZE_DIVISOR[ctype])).clip(-1.0, None)
    return out


def _apply_sparse(
    g: AccessorSource, sparse: object, out: np.ndarray, here: str, dtype: np.dtype, width: int
) -> None:
    if not isinstance(sparse, dict):
        raise g.error("must be an object", here)
    count = g.integer(sparse, "count", here, low=1)
    if count > len(out):
        raise g.error(f"{count} sparse values for {len(out)} elements", f"{here}.count")
    idx = sparse.get("indices")
    val = sparse.get("values")
    if not isinstance(idx, dict) or not isinstance(val, dict):
        raise g.error("needs indices and values objects", here)
    ictype = idx.get("componentType")
    if isinstance(ictype, bool) or ictype not in (5121, 5123, 5125):
        raise g.error(f"bad componentType {ictype!r}"[:120], f"{here}.indices.componentType")
    indices = _sparse_block(g, idx, f"{here}.indices", np.dtype(COMPONENT_DTYPES[ictype]), 1, count)
    values = _sparse_block(g, val, f"{here}.values", dtype, width, count)
    indices = indices.ravel().astype(np.int64)
    if indices.size and (indices.max() >= len(out)):
        raise g.error(f"index {int(indices.max())} out of range ({len(out)} elements)", f"{here}.indices")
    out[indices] = values


def _sparse_block(
    g: AccessorSource, obj: dict, here: str, dtype: np.dtype, width: int, count: int
) -> np.ndarray:
    data, start, length, _stride = g.view(g.integer(obj, "bufferView", here), f"{here}.bufferView")
    offset = g.integer(obj, "byteOffset", here, default=0)
    need = offset + count * width * dtype.itemsize
    if need > length:
        raise g.error(f"needs {need} bytes, bufferView holds {length}", here)
    return np.frombuffer(data, dtype, count * width, start + offset).reshape(count, width).copy()
