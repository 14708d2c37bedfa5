"""Figures of thagen's import graph, and a check that it has no cycle (`make lint` runs it).

Counts every import grimp sees: module level, inside functions and under TYPE_CHECKING, so a
cycle closed by an import inside a function is still a cycle. Run on the symlink view that
scripts/lint-tree.sh makes (the folders install as thagen.* from beside thagen/):

    scripts/lint-tree.sh build/lint && PYTHONPATH=build/lint python scripts/import_graph.py
"""

from __future__ import annotations

import argparse
import collections
import sys

import grimp


def strongly_connected(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def depth(nodes: set[str], edges: dict[str, set[str]]) -> int:
    """The longest import chain, in modules; the modules of a cycle count as one (condensation)."""
    rep = {n: n for n in nodes}
    for component in strongly_connected(nodes, edges):
        for n in component:
            rep[n] = component[0]
    condensed: dict[str, set[str]] = {r: set() for r in rep.values()}
    for src in nodes:
        for dst in edges.get(src, ()):
            if dst in rep and rep[src] != rep[dst]:
                condensed[rep[src]].add(rep[dst])
    memo: dict[str, int] = {}

    def longest(node: str) -> int:
        if node not in memo:
            memo[node] = 1 + max((longest(c) for c in condensed[node]), default=0)
        return memo[node]

    return max((longest(n) for n in condensed), default=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any import cycle exists")
    args = parser.parse_args()
    sys.setrecursionlimit(10000)
    graph = grimp.build_graph("thagen", include_external_packages=False)
    nodes = {m for m in graph.modules if m.startswith("thagen")}
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if i in nodes} for m in nodes}
    print("modules outside subpackages (not counting __init__):")
    for folder in ("thagen", "thagen.rigs", "thagen.render", "thagen.annotate", "thagen.train"):
        loose = [
            m for m in nodes if m.rpartition(".")[0] == folder and not graph.find_children(m) and m != folder
        ]
        subpackages = [m for m in nodes if m.rpartition(".")[0] == folder and graph.find_children(m)]
        print(f"  {folder:16s} {len(loose):3d} modules, {len(subpackages):2d} subpackages")
    for top in ("thagen.rigs", "thagen.render"):
        sub = {n for n in nodes if n == top or n.startswith(top + ".")}
        sub_edges = {n: edges[n] & sub for n in sub}
        n_edges = sum(len(v) for v in sub_edges.values())
        print(f"{top}: {len(sub)} modules, {n_edges} internal import edges, depth {depth(sub, sub_edges)}")
    cycles = strongly_connected(nodes, edges)
    print(f"import cycles (strongly connected groups of modules): {len(cycles)}")
    for c in cycles:
        print("  " + " <-> ".join(c))
    layer = {"thagen": 0, "rigs": 1, "render": 2, "annotate": 3, "train": 3}
    back = collections.Counter()
    for src, targets in edges.items():
        for dst in targets:
            ls = layer.get(src.split(".")[1], 0) if src.count(".") >= 1 else 0
            ld = layer.get(dst.split(".")[1], 0) if dst.count(".") >= 1 else 0
            if src.split(".")[1] in ("cli", "__main__"):
                continue
            if ld > ls:
                back[f"{src} -> {dst}"] += 1
    print(f"imports against the layering (thagen < rigs < render < annotate, train): {len(back)}")
    for edge in sorted(back):
        print("  " + edge)
    return 1 if args.check and cycles else 0


if __name__ == "__main__":
    sys.exit(main())
