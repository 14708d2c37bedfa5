"""The PMX reader's numpy helpers: where variable-size records start, and deferred index checks.

Kept apart from rigs/formats/pmx/reader.py because they are the reader's only non-obvious algorithms
(vectorized record scanning instead of a per-vertex walk), and each reads best on its own.
"""

from __future__ import annotations

import math

import numpy as np

from thagen.rigs.formats.binary import Cursor


class IndexRefs:
    """Cross references, checked once every section's count is known."""

    def __init__(self) -> None:
        # (target, lowest valid value, value, field, byte offset)
        self.scalars: list[tuple[str, int, int, str, int]] = []
        # (target, lowest valid value, (K,) or (K, C) values, field with "[*]", (K,) offsets, bytes per column)
        self.arrays: list[tuple[str, int, np.ndarray, str, np.ndarray, int]] = []

    def add(self, target: str, value: int, field: str, offset: int, low: int = -1) -> None:
        self.scalars.append((target, low, value, field, offset))

    def add_array(
        self, target: str, values: np.ndarray, field: str, offsets: np.ndarray, low: int = 0, column: int = 0
    ) -> None:
        self.arrays.append((target, low, values, field, offsets, column))

    def check(self, cur: Cursor, counts: dict[str, int]) -> None:
        for target, low, value, field, offset in self.scalars:
            if not low <= value < counts[target]:
                raise cur.error(
                    f"{target} index {value} out of range ({counts[target]} {target}s)", field, offset
                )
        for target, low, values, field, offsets, column in self.arrays:
            if values.size == 0:
                continue
            table = values.reshape(len(values), -1)
            bad = (table < low) | (table >= counts[target])
            if bad.any():
                row, col = np.argwhere(bad)[0].tolist()
                raise cur.error(
                    f"{target} index {int(table[row, col])} out of range ({counts[target]} {target}s)",
                    field.replace("[*]", f"[{row}]"),
                    int(offsets[row]) + col * column,
                )


def record_starts(cur: Cursor, start: int, n: int, prefix: int, lut: np.ndarray, what: str) -> np.ndarray:
    """Byte offsets of n variable-size records that begin at `start`.

    Record i's size is lut[byte at record start + prefix] (0 = invalid type byte), so each
    start depends on every earlier type byte. Two vectorized strategies, never a walk over
    the records:
    - runs: assume the next records repeat the current type and check their type bytes
      with one strided slice (windows growing 4x); the first mismatch ends the run. One
      numpy step per run: ideal for generated models (the built-in character has 13 runs).
    - pointer doubling (`_starts_by_doubling`) once runs turn out short (Gene averages
      6 records per run), for the rest of the records.
    """
    u8 = np.frombuffer(cur.data, np.uint8)
    lut8 = lut.astype(np.uint8)
    avail = cur.end - start
    seg_sizes: list[int] = []
    seg_counts: list[int] = []
    pos = done = 0
    tail = np.zeros(0, np.int64)
    while done < n:
        if pos + prefix >= avail or not lut8[u8[start + pos + prefix]]:
            _record_error(cur, start + pos, done, prefix, lut, what)
        if len(seg_sizes) >= 8 and done < 128 * len(seg_sizes):
            tail = _starts_by_doubling(cur, start + pos, n - done, prefix, lut8, what, done) - start
            break
        type_byte = u8[start + pos + prefix]
        size = int(lut8[type_byte])
        run, window = 0, 64
        while done + run < n:
            first = start + prefix + pos + run * size
            cnt = min(window, n - done - run, (cur.end - 1 - first) // size + 1)
            if cnt <= 0:
                break
            same = u8[first : first + (cnt - 1) * size + 1 : size] == type_byte
            if not same.all():
                run += int(np.argmin(same))
                break
            run += cnt
            window *= 4
        seg_sizes.append(size)
        seg_counts.append(run)
        pos += run * size
        done += run
    sizes = np.repeat(np.array(seg_sizes, np.int64), seg_counts)
    head = np.zeros(sizes.size, np.int64)
    np.cumsum(sizes[:-1], out=head[1:])
    if not tail.size:
        last = int(head[-1]) if head.size else 0
        if head.size and last + int(sizes[-1]) > avail:
            _record_error(cur, start + last, n - 1, prefix, lut, what)
    return np.concatenate([head, tail]) + start


def _starts_by_doubling(
    cur: Cursor, start: int, n: int, prefix: int, lut8: np.ndarray, what: str, first_index: int
) -> np.ndarray:
    """`record_starts` by pointer doubling over every possible record start.

    Every byte offset whose would-be type byte is valid is a candidate node, linked to the
    candidate its record would end at (or to an absorbing sentinel). The chain from offset 0
    is followed 2^k records at a time (the link map squared k times): a short Python walk
    over n / 2^k block anchors, then 2^k vectorized steps fill in every block at once.
    A broken chain (bad type byte, truncation) is reported afterwards.
    """
    u8 = np.frombuffer(cur.data, np.uint8)
    avail = cur.end - start
    region = min(avail, n * int(lut8.max()))
    m = max(0, min(region, avail - prefix))  # offsets whose type byte exists
    sizes = lut8[u8[start + prefix : start + prefix + m]]
    cand = np.flatnonzero(sizes != 0)  # cand[0] == 0: the caller checked the first record
    c = cand.size
    idx_t = np.int32 if max(region, c) < 2**31 - 1 else np.int64
    inv = np.full(region + 1, c, idx_t)  # byte offset -> candidate number, c = not a candidate
    inv[cand] = np.arange(c, dtype=idx_t)
    table = np.empty(c + 1, idx_t)
    table[:c] = inv[np.minimum(cand + sizes[cand], region)]
    table[c] = c  # the sentinel absorbs
    del inv
    # 2^k records per block: a few thousand anchors at most (the Python walk) and few squarings
    k = max(0, math.ceil(math.log2(n) / 3), math.ceil(math.log2(n / 8192))) if n > 1 else 0
    jump = table
    for _ in range(k):
        jump = jump[jump]
    block = 1 << k
    n_blocks = -(-n // block)
    anchors = np.empty(n_blocks, idx_t)
    node = 0
    jump_item = jump.item
    for j in range(n_blocks):
        anchors[j] = node
        node = jump_item(node)
    nodes = np.empty((n_blocks, block), idx_t)
    step = anchors
    for s in range(block):
        nodes[:, s] = step
        step = table[step]
    nodes = nodes.reshape(-1)[:n]
    cand_ext = np.append(cand, region)  # the sentinel's "offset" (never used for a valid record)
    rel = cand_ext[nodes]
    bad = np.flatnonzero(nodes == c)
    if bad.size:
        i = int(bad[0])
        prev = int(rel[i - 1])
        _record_error(cur, start + prev + int(sizes[prev]), first_index + i, prefix, lut8, what)
    last = int(rel[-1])
    if last + int(sizes[last]) > avail:
        _record_error(cur, start + last, first_index + n - 1, prefix, lut8, what)
    return rel + start


def _record_error(cur: Cursor, pos: int, i: int, prefix: int, lut: np.ndarray, what: str) -> None:
    if pos + prefix < cur.end and not lut[cur.data[pos + prefix]]:
        raise cur.error(f"unknown type {cur.data[pos + prefix]}", f"{what}[{i}].deform_type", pos + prefix)
    raise cur.error("truncated record", f"{what}[{i}]", pos)
