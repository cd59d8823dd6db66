"""Prompt templates: Jinja2 files beside this module, each declaring its own version.

Every template in this folder is `<name>.j2` and starts with a version header:

    {# version: 1 #}

Bump the version whenever the rendered text changes: judge verdicts are cached by
(template name, version), and results record both.

Templates that hold several messages (a judge's system and user messages) put each in a
named block (`{% block system %}...{% endblock %}`); `render_block()` renders one of them.

Rendering uses `StrictUndefined` (a missing variable is an error, not an empty string),
no autoescaping (prompts are plain text), `trim_blocks` + `lstrip_blocks` (a line holding
only a tag or a comment leaves nothing behind) and drops the file's single trailing newline.
Only `jinja2` is imported, and only on first use.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "PROMPTS_DIR",
    "TemplateError",
    "render",
    "render_block",
    "template_blocks",
    "template_names",
    "template_version",
]

PROMPTS_DIR = Path(__file__).resolve().parent

_VERSION_RE = re.compile(r"\A\s*\{#-?\s*version:\s*([^\s#]+)\s*-?#\}")


class TemplateError(ValueError):
    """A prompt template is missing, has no version header, or failed to render."""


def _file_name(name: str) -> str:
    return name if name.endswith(".j2") else f"{name}.j2"


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PROMPTS_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _template(name: str) -> Any:
    import jinja2

    try:
        return _environment().get_template(_file_name(name))
    except jinja2.TemplateNotFound:
        raise TemplateError(
            f"no prompt template {_file_name(name)!r} in {PROMPTS_DIR}; "
            f"available: {', '.join(template_names()) or '(none)'}"
        ) from None


def template_names() -> list[str]:
    """Names (without `.j2`) of the templates in this folder, sorted."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.j2"))


@cache
def template_version(name: str) -> str:
    """The version a template declares in its `{# version: X #}` header."""
    path = PROMPTS_DIR / _file_name(name)
    if not path.is_file():
        raise TemplateError(
            f"no prompt template {path.name!r} in {PROMPTS_DIR}; "
            f"available: {', '.join(template_names()) or '(none)'}"
        )
    match = _VERSION_RE.match(path.read_text(encoding="utf-8"))
    if match is None:
        raise TemplateError(
            f"{path}: line 1 must declare the template's version, e.g. '{{# version: 1 #}}'"
        )
    return match.group(1)


def template_blocks(name: str) -> list[str]:
    """Names of the blocks a template defines (e.g. `['system', 'user']`), in file order."""
    return list(_template(name).blocks)


def render(name: str, /, **variables: Any) -> str:
    """Render a whole template with `variables`; a missing variable raises `TemplateError`."""
    import jinja2

    template_version(name)  # every template must carry a version
    try:
        return _template(name).render(**variables)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"prompt template {_file_name(name)!r}: {exc}") from None


def render_block(name: str, block: str, /, **variables: Any) -> str:
    """Render one named block of a template (e.g. a judge's `system` or `user` message)."""
    import jinja2

    template_version(name)
    template = _template(name)
    if block not in template.blocks:
        raise TemplateError(
            f"prompt template {_file_name(name)!r} has no block {block!r}; "
            f"it defines: {', '.join(template.blocks) or '(none)'}"
        )
    try:
        context = template.new_context(dict(variables))
        return "".join(template.blocks[block](context))
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"prompt template {_file_name(name)!r}, block {block!r}: {exc}") from None
