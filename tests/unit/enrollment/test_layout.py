"""The enrollment service's shape: short modules and functions, a pure domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SERVICE = Path(__file__).resolve().parents[3] / "services" / "enrollment"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
IMPURE = ("sqlalchemy", "fastapi", "aiokafka", "asyncpg", "services.enrollment.adapters")


def _modules() -> list[Path]:
    return [p for p in SERVICE.rglob("*.py") if "migrations" not in p.relative_to(SERVICE).parts]


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(SERVICE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_60_lines():
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(SERVICE)}:{node.name}"] = lines
    assert long == {}


def test_the_domain_imports_no_database_web_or_broker():
    found = {}
    for path in (SERVICE / "domain").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad = [n for n in names if n.startswith(IMPURE)]
            if bad:
                found[path.name] = bad
    assert found == {}
