"""The package layout: data flows one way (ingest → embeddings/retrieval → answer → evaluation → app) and no two
modules import each other, counting imports at module level and inside functions (read with `ast`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("qa", "embeddings")

# Each module's stage, by its longest matching prefix. A module may import its own stage or earlier ones.
STAGES = {
    "qa.types": 0, "qa.text": 0, "qa.errors": 0, "qa.paths": 0,
    "qa.ingest": 1,
    "embeddings": 2, "qa.retrieval": 2,
    "qa.engine": 3, "qa.answer": 3,
    "qa.evaluation": 4,
    "qa.app": 5, "qa.__main__": 5,
}
# qa.errors gathers every error a user may see (USER_ERRORS) for the interfaces, the encoders' and stores' among them.
ALLOWED = {("qa.errors", "embeddings.errors"), ("qa.errors", "embeddings.stores")}


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def stage(name: str) -> int | None:
    if name == "qa":  # the package itself: its version, nothing else
        return 0
    best = max((p for p in STAGES if name == p or name.startswith(p + ".")), key=len, default=None)
    return STAGES[best] if best else None


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports anywhere in its file (a `from pkg import mod` counts as pkg.mod)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t.split(".")[0] in PACKAGES:
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def test_every_module_has_a_stage():
    assert [m for m in graph() if stage(m) is None] == []


def test_no_import_from_a_later_stage():
    backward = sorted(f"{a} → {b}" for a, deps in graph().items() for b in deps
                      if stage(b) > stage(a) and (a, b) not in ALLOWED
                      and not any(a == x and b.startswith(y) for x, y in ALLOWED))
    assert backward == []


def test_embeddings_imports_nothing_from_qa():
    assert sorted(f"{a} → {b}" for a, deps in graph().items() if a.startswith("embeddings")
                  for b in deps if b.startswith("qa")) == []


def test_no_import_cycles():
    g = graph()
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    # a package's __init__ re-exporting its own modules is not a cycle between modules
    cycles = [c for c in cycles if not (len(c) == 2 and c[1].startswith(c[0] + "."))]
    assert cycles == []


def test_the_walker_sees_backward_and_cyclic_imports(tmp_path, monkeypatch):
    """The checks above can fail: a planted answer → app import and an a ↔ b pair are both found."""
    mods = {"qa.answer.x": "from qa.app.cli import main\n", "qa.app.cli": "def main():\n    import qa.answer.x\n"}
    known = set(mods)
    for name, src in mods.items():
        p = tmp_path / (name.replace(".", "_") + ".py")
        p.write_text(src)
        mods[name] = imports(name, p, known)
    assert mods == {"qa.answer.x": {"qa.app.cli"}, "qa.app.cli": {"qa.answer.x"}}
    assert stage("qa.app.cli") > stage("qa.answer.x")
