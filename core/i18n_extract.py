"""A Babel extractor: the gettext calls Babel's Python extractor finds, plus error messages.

Every user-facing error is a :class:`core.errors.VormError` subclass whose docstring is its
message, so docstrings of classes that set a ``code`` are messages too. ``babel.cfg`` names
this extractor; ``make i18n`` runs it through ``pybabel extract``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import IO, Any

from babel.messages.extract import extract_python


def _sets_code(node: ast.ClassDef) -> bool:
    for stmt in node.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
            stmt, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
            return True
    return False


def extract_vorm(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple[Any, ...]]:
    yield from extract_python(fileobj, keywords, comment_tags, options)
    fileobj.seek(0)
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and _sets_code(node):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield node.body[0].lineno, "", doc, [f"The message of the error {node.name}."]
