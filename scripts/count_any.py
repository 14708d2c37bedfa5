"""Count parameters and returns annotated `Any` (bare, or `X | Any`, `Any | None`), per folder.

JSON-shaped containers (`dict[str, Any]`, `list[Any]`) are not counted: that is the honest type
of parsed YAML / JSON. Used for the layout issue's figure: `python scripts/count_any.py [-v]`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

FOLDERS = ("thagen", "rigs", "render", "annotate", "train")


def is_bare_any(node: ast.expr | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Name) and node.id == "Any":
        return True
    if isinstance(node, ast.Attribute) and node.attr == "Any":
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return is_bare_any(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return is_bare_any(node.left) or is_bare_any(node.right)
    return False


def count(root: Path, verbose: bool) -> dict[str, int]:
    totals: dict[str, int] = {}
    for folder in FOLDERS:
        n = 0
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                args += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
                hits = [a.arg for a in args if is_bare_any(a.annotation)]
                if is_bare_any(node.returns):
                    hits.append("return")
                n += len(hits)
                if verbose and hits:
                    print(f"{path.relative_to(root)}:{node.lineno} {node.name}: {', '.join(hits)}")
        totals[folder] = n
    return totals


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "-v"]
    root = Path(args[0]) if args else Path(__file__).resolve().parents[1]
    totals = count(root, "-v" in sys.argv)
    print(" ".join(f"{k}={v}" for k, v in totals.items()), "total", sum(totals.values()))
