"""Seeded fuzzing of the model readers: a corrupt file gives a ModelFormatError or a Model, nothing else.

The mutators aim at what breaks readers: count and length fields (found by tracing a parse)
set huge, negative or off by one; truncation; random byte flips; runs of 0x00 / 0xFF;
inserted bytes. `bench/fuzz_reader.py` runs the same mutators for many more cases.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from test_pmd import tiny_pmd
from test_pmx import random_model

from thagen.errors import ModelFormatError
from thagen.rigs.formats.pmx.reader import pmx_bytes
from thagen.rigs.model import Model
from thagen.rigs.reader import SAFETY_NET_PREFIX, count_fields, read_model_bytes

_SPECIAL = (2**31 - 1, -1, -(2**31), 2**30, 0xFFFF, 0xFF, 0x7FFF, 0, 1)


def _flip(data: bytearray, rng: np.random.Generator, fields: list) -> None:
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(len(data)))
        data[i] = int(rng.integers(256)) if rng.integers(2) else data[i] ^ (1 << int(rng.integers(8)))


def _count(data: bytearray, rng: np.random.Generator, fields: list) -> None:
    if not fields:
        return _flip(data, rng, fields)
    off, size, _name = fields[int(rng.integers(len(fields)))]
    old = int.from_bytes(data[off : off + size], "little", signed=size == 4)
    choice = int(rng.integers(len(_SPECIAL) + 3))
    value = _SPECIAL[choice] if choice < len(_SPECIAL) else old + int(rng.choice([-1, 1, old or 1]))
    data[off : off + size] = struct.pack("<q", value)[:size]


def _truncate(data: bytearray, rng: np.random.Generator, fields: list) -> None:
    del data[int(rng.integers(len(data))) :]


def _header(data: bytearray, rng: np.random.Generator, fields: list) -> None:
    data[int(rng.integers(min(len(data), 20)))] = int(rng.choice([0, 1, 2, 3, 4, 5, 8, 9, 0x7F, 0xFF]))


def _run(data: bytearray, rng: np.random.Generator, fields: list) -> None:
    i = int(rng.integers(len(data)))
    n = int(rng.integers(1, 64))
    data[i : i + n] = bytes([int(rng.choice([0, 0xFF]))]) * len(data[i : i + n])


def _insert(data: bytearray, rng: np.random.Generator, fields: list) -> None:
    i = int(rng.integers(len(data) + 1))
    data[i:i] = rng.integers(0, 256, int(rng.integers(1, 16))).astype(np.uint8).tobytes()


MUTATORS: tuple[Callable[[bytearray, np.random.Generator, list], None], ...] = (
    _count, _count, _count, _flip, _flip, _truncate, _header, _run, _insert,
)  # fmt: skip


def mutate(data: bytes, rng: np.random.Generator, fields: list) -> bytes:
    """One to three mutations of `data`; `fields` from `count_fields(data)`."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        if not out:
            break
        MUTATORS[int(rng.integers(len(MUTATORS)))](out, rng, fields)
    return bytes(out)


def seed_inputs(testdata: Path) -> dict[str, bytes]:
    """The files the fuzzers mutate: Gene PMX and PMD, small written PMX 2.0/2.1 models, a tiny PMD."""
    return {
        "gene.pmx": (testdata / "gene" / "Gene_light.pmx").read_bytes(),
        "gene.pmd": (testdata / "gene" / "Gene_light.pmd").read_bytes(),
        "small21.pmx": pmx_bytes(random_model(1, version=2.1, extra_uv=2, vertices=40, morphs=22)),
        "small20.pmx": pmx_bytes(random_model(2, version=2.0, encoding="utf-8", extra_uv=1, vertices=300)),
        "tiny.pmd": tiny_pmd()[0],
    }


def run_case(data: bytes, name: str) -> tuple[str, object, float]:
    """('ok', Model) / ('error', ModelFormatError) / ('crash', other exception), and seconds taken."""
    start = time.perf_counter()
    try:
        result: object = read_model_bytes(data, name=name)
        kind = "ok"
    except ModelFormatError as exc:
        result, kind = exc, "error"
    except Exception as exc:  # noqa: BLE001 - classifying exactly these is the point
        result, kind = exc, "crash"
    return kind, result, time.perf_counter() - start


CASES = {"gene.pmx": 60, "gene.pmd": 60, "small21.pmx": 120, "small20.pmx": 60, "tiny.pmd": 100}


@pytest.fixture(scope="module")
def seeds(testdata_dir: Path) -> dict[str, bytes]:
    return seed_inputs(testdata_dir)


@pytest.mark.slow
@pytest.mark.parametrize("source", sorted(CASES))
def test_mutated_files_raise_only_model_format_errors(source: str, seeds: dict[str, bytes]) -> None:
    data = seeds[source]
    assert isinstance(read_model_bytes(data), Model)  # the unmutated seed parses
    fields = count_fields(data)
    assert fields, "the trace found no count fields"
    rng = np.random.default_rng(sorted(CASES).index(source))
    kinds = {"ok": 0, "error": 0}
    for case in range(CASES[source]):
        mutated = mutate(data, rng, fields)
        kind, result, seconds = run_case(mutated, f"{source}#{case}")
        assert kind != "crash", f"case {case}: {type(result).__name__}: {result}"
        if kind == "error":
            assert isinstance(result, ModelFormatError)
            assert result.path == f"{source}#{case}"
            # the explicit checks, not the safety net, must catch it: they name the byte
            assert not str(result.detail).startswith(SAFETY_NET_PREFIX), f"case {case}: {result}"
            assert result.offset is not None and 0 <= result.offset <= len(mutated), f"case {case}: {result}"
        kinds[kind] += 1
        assert seconds < 2.0, f"case {case} took {seconds:.2f} s"
    assert kinds["error"] > CASES[source] // 2  # the mutators do hit
