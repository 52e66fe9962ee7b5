"""Compiled values and conditions behave exactly like the Jinja templates they come from."""

from __future__ import annotations

import pytest
from conftest import REPO
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from engine.mapping import shortcuts
from engine.mapping.base import MappingError
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert, mapping_names

VARIABLES = {"value": "Hansen", "let": {"id": "42"}, "index": 2, "items": ["a", "b"]}
TEMPLATES = [
    "{{ value }}",
    "Organization/{{ let.id }}",
    "{{ value[:1] ~ '.' }}{{ value | upper }}",
    "{{ 'yes' if value == 'Hansen' and not index > 3 else 'no' }}",
    "{{ index + 1 }} {{ index * 2 }} {{ items | join(',') }} {{ items | length }}",
    "{{ uuid_for('patient', value) }}",
    "{{ value.split('n')[0] }}",
    "{{ value in ('Hansen', 'Jensen') }} {{ 1 < index <= 2 }}",
    "{{ none }}",
    "{% if value %}{{ value }}{% endif %}",  # a statement: rendered by Jinja itself
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_compiled_and_jinja_render_the_same(template, monkeypatch):
    compiled = shortcuts.compile_value(template)(dict(VARIABLES))
    monkeypatch.setattr(shortcuts, "COMPILE", False)
    assert compiled == shortcuts.compile_value(template)(dict(VARIABLES))


def test_the_sandbox_rules_hold():
    with pytest.raises(SecurityError):
        shortcuts.compile_value("{{ value.__class__ }}")(dict(VARIABLES))
    with pytest.raises(UndefinedError):
        shortcuts.compile_value("{{ nothing }}")(dict(VARIABLES))
    with pytest.raises(UndefinedError):
        shortcuts.compile_value("{{ let.missing }}")(dict(VARIABLES))


@pytest.mark.parametrize("name", mapping_names(REPO / "mappings"))
def test_every_mapping_gives_the_same_output_compiled_or_not(name, monkeypatch):
    inputs = sorted((REPO / "mappings" / name / "tests").glob("*.input.*"))
    compiled = load_mapping(REPO / "mappings", name)
    monkeypatch.setattr(shortcuts, "COMPILE", False)
    rendered = load_mapping(REPO / "mappings", name)
    for source in inputs:
        raw = source.read_bytes()
        try:
            expected = convert(rendered, raw)
        except MappingError as exc:
            with pytest.raises(MappingError):
                convert(compiled, raw)
            assert str(exc)
            continue
        assert convert(compiled, raw) == expected, source.name
