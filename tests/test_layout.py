"""The floor plan: the SR library, the studio around it, the labs beside it; imports run one way only."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What each part may not import, lazily inside a function or not (the entry point ``python -m sr_core`` forwards
# to the studio's CLI: the one exception, and only in ``sr_core/__main__.py``).
FORBIDDEN = {
    "sr_core": ("studio", "labs", "app", "gradio", "gradio_client"),
    "labs": ("studio", "app", "gradio", "gradio_client"),
    "studio": ("app",),
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, top-level or inside functions."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def violations(part: str) -> list[str]:
    found = []
    for path in sorted((ROOT / part).rglob("*.py")):
        if path == ROOT / "sr_core" / "__main__.py":
            continue
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN[part]:
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_each_part_imports_only_what_lies_below_it(part):
    assert violations(part) == []


def test_python_m_sr_core_is_the_one_place_the_library_names_the_studio():
    assert imported_modules(ROOT / "sr_core" / "__main__.py") == {"sys", "studio.cli"}


def test_the_checker_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "lazy.py"
    source.write_text("def handler():\n    from studio.services import compare\n    import gradio as gr\n")
    assert imported_modules(source) == {"studio.services", "gradio"}
