"""Seeded fuzzing of the VRM / glTF reader: a mutated file gives a ModelFormatError or a Model.

Mutators aim at what a glTF reader trusts: JSON values replaced by hostile ones (huge, negative,
wrong type, out-of-range indices, deep nesting), keys deleted, GLB header and chunk lengths that
lie, byte flips in the JSON text and the BIN chunk, truncation. `bench/fuzz_reader.py` runs the
same mutators for many more cases (with the PMX / PMD ones).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from glb_chunks import join_glb, split_glb
from test_reader_fuzz import run_case

from thagen.errors import ModelFormatError
from thagen.rigs.builtin import builtin_character
from thagen.rigs.builtin.vrm import BUILTIN_HUMANOID, BUILTIN_PRESETS
from thagen.rigs.formats.vrm.writer import vrm_bytes
from thagen.rigs.reader import SAFETY_NET_PREFIX, read_model_bytes

_HOSTILE: tuple[Any, ...] = (
    -1, 0, 1, 2, 3, 4, 5123, 5126, 2**31, 2**32 + 1, 2**53, 2**63, -(2**31), 1e308, -1e308, 0.5,
    "", "x", "VEC4", "SCALAR", "../x.bin", "/etc/passwd", "data:;base64,AAAA", None, True, [], {}, [0, 0],
    [0] * 17, {"a": 1}, [[[[[]]]]],
)  # fmt: skip


def _paths(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON tree, iteratively."""
    out: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            out.append((node, key))
            if isinstance(value, (dict, list)):
                stack.append(value)
    return out


def _json_value(doc: Any, binary: bytes, rng: np.random.Generator) -> tuple[Any, bytes]:
    paths = _paths(doc)
    for _ in range(int(rng.integers(1, 4))):
        container, key = paths[int(rng.integers(len(paths)))]
        old = container[key]
        choice = int(rng.integers(len(_HOSTILE) + 2))
        if choice == len(_HOSTILE) and isinstance(old, int) and not isinstance(old, bool):
            container[key] = old + int(rng.choice([-1, 1, old or 1, 10**6]))
        elif choice == len(_HOSTILE) + 1:
            container[key] = json.loads(json.dumps(_HOSTILE[int(rng.integers(len(_HOSTILE)))]))
        else:
            container[key] = json.loads(json.dumps(_HOSTILE[choice % len(_HOSTILE)]))
    return doc, binary


def _json_delete(doc: Any, binary: bytes, rng: np.random.Generator) -> tuple[Any, bytes]:
    dicts = [(c, k) for c, k in _paths(doc) if isinstance(c, dict)]
    container, key = dicts[int(rng.integers(len(dicts)))]
    del container[key]
    return doc, binary


def _whole_doc(doc: Any, binary: bytes, rng: np.random.Generator) -> tuple[Any, bytes]:
    return [doc, None, "doc", 7][int(rng.integers(4))], binary


def _bin_flip(doc: Any, binary: bytes, rng: np.random.Generator) -> tuple[Any, bytes]:
    data = bytearray(binary)
    for _ in range(int(rng.integers(1, 32))):
        data[int(rng.integers(len(data)))] = int(rng.integers(256))
    return doc, bytes(data)


_STRUCTURED: tuple[Callable[[Any, bytes, np.random.Generator], tuple[Any, bytes]], ...] = (
    _json_value, _json_value, _json_value, _json_value, _json_delete, _json_delete, _whole_doc, _bin_flip,
)  # fmt: skip


def _raw(data: bytes, rng: np.random.Generator) -> bytes:
    """Byte-level mutations of the whole GLB: lengths, flips, truncation."""
    out = bytearray(data)
    kind = int(rng.integers(4))
    if kind == 0:  # a header or chunk length
        n_json = struct.unpack_from("<I", data, 12)[0]
        at = int(rng.choice([8, 12, 20 + n_json]))
        out[at : at + 4] = struct.pack(
            "<I", int(rng.choice([0, 1, 3, 2**31, 2**32 - 1, len(data), len(data) + 4]))
        )
    elif kind == 1:
        for _ in range(int(rng.integers(1, 9))):
            out[int(rng.integers(min(len(out), 20 + struct.unpack_from("<I", data, 12)[0])))] = int(
                rng.integers(256)
            )
    elif kind == 2:
        del out[int(rng.integers(len(out))) :]
    else:
        at = int(rng.integers(len(out)))
        out[at:at] = bytes(int(rng.integers(256)) for _ in range(int(rng.integers(1, 9))))
    return bytes(out)


def mutate_vrm(data: bytes, rng: np.random.Generator) -> bytes:
    """One structured (JSON-aware) or raw mutation of a GLB `data` thagen wrote."""
    if rng.random() < 0.25:
        return _raw(data, rng)
    doc, binary = split_glb(data)
    doc, binary = _STRUCTURED[int(rng.integers(len(_STRUCTURED)))](doc, binary, rng)
    return join_glb(doc, binary)


def seed_vrm_inputs() -> dict[str, bytes]:
    """The VRM files fuzzers mutate: the built-in as 0.x and 1.0 (no images, so cases stay fast)."""
    model = builtin_character()
    options = {"presets": BUILTIN_PRESETS, "humanoid": BUILTIN_HUMANOID, "binary": frozenset({"あ"})}
    return {f"builtin{v[0]}.vrm": vrm_bytes(model, v, **options) for v in ("0.x", "1.0")}


CASES = {"builtin0.vrm": 200, "builtin1.vrm": 200}


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    return seed_vrm_inputs()


@pytest.mark.slow
@pytest.mark.parametrize("source", sorted(CASES))
def test_mutated_vrm_raise_only_model_format_errors(source: str, seeds: dict[str, bytes]) -> None:
    data = seeds[source]
    assert read_model_bytes(data).vrm is not None  # the unmutated seed parses
    rng = np.random.default_rng(sorted(CASES).index(source))
    kinds = {"ok": 0, "error": 0}
    for case in range(CASES[source]):
        mutated = mutate_vrm(data, rng)
        kind, result, seconds = run_case(mutated, f"{source}#{case}")
        assert kind != "crash", f"case {case}: {type(result).__name__}: {result}"
        if kind == "error":
            assert isinstance(result, ModelFormatError)
            assert result.path == f"{source}#{case}"
            assert "\n" not in str(result)
            # the explicit checks, not the safety net, must catch it: they name the field
            assert not str(result.detail).startswith(SAFETY_NET_PREFIX), f"case {case}: {result}"
            assert result.field, f"case {case}: {result}"
        kinds[kind] += 1
        assert seconds < 2.0, f"case {case} took {seconds:.2f} s"
    assert kinds["error"] > CASES[source] // 3  # the mutators do hit
