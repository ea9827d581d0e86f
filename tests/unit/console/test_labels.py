"""One table of labels: every key the consoles use is there, in English and in Chinese."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from shared.console.labels import LABELS, translate

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [
    *ROOT.glob("shared/console/**/*.html"),
    *ROOT.glob("services/*/entrypoints/console/**/*.html"),
    *ROOT.glob("services/*/entrypoints/console/*.py"),
    ROOT / "services/settlement/entrypoints/statement_files.py",
]
LITERAL = re.compile(
    r"""["']((?:nav|note|col|card|chart|h|hint|text|form|login|page|fund|band|table|console|field|sheet|category|identity|source|carry|status|relay|role)\.[a-z_]+)["']"""
)


def used_keys() -> set[str]:
    keys = set()
    for path in SOURCES:
        keys |= {k for k in LITERAL.findall(path.read_text()) if not k.endswith(".html")}
    return keys


def test_every_key_used_is_in_the_table():
    assert SOURCES and used_keys()
    assert sorted(used_keys() - LABELS.keys()) == []


def test_both_languages_name_the_same_placeholders():
    for key, (en, zh) in LABELS.items():
        names = {f for _, f, _, _ in string.Formatter().parse(en) if f}
        assert names == {f for _, f, _, _ in string.Formatter().parse(zh) if f}, key
        assert en and zh, key


def test_translate_fills_placeholders_and_shows_unknown_keys_as_they_are():
    assert (
        translate("zh", "table.page_of", page=1, pages=2, total="3") == "第 1 页，共 2 页（3 行）"
    )
    assert translate("en", "nav.funds") == "Fund payouts"
    assert translate("en", "no.such.key") == "no.such.key"


def test_every_value_shown_through_a_composed_key_has_its_label():
    from services.enrollment.domain.staff import Role, Source
    from services.settlement.entrypoints.statement_files import LINES, SUMMARY
    from shared.events import Category, Identity

    composed = {
        *(f"identity.{i.value}" for i in Identity),
        *(f"category.{c.value}" for c in Category),
        *(f"source.{s.value}" for s in Source),
        *(f"role.{r.value}" for r in Role),
        *(f"carry.{s}" for s in ("draft", "submitted", "frozen")),
        *(f"status.{s}" for s in ("open", "resolved", "all")),
        *(f"field.{name}" for name in (*SUMMARY, *LINES)),
    }
    assert sorted(composed - LABELS.keys()) == []
