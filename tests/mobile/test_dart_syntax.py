"""The Flutter package parses as Dart and its imports resolve (no Dart SDK installs here).

A tree-sitter Dart grammar stands in for the analyzer: it cannot check types, but it catches a
syntax error, an unterminated string or a missing brace before anyone reaches a Flutter toolchain.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_dart

from tests.mobile import abi_check

PACKAGE = abi_check.ROOT / "sdks" / "flutter"
LIB_FILES = sorted((PACKAGE / "lib").rglob("*.dart"))
DART_FILES = LIB_FILES + sorted((PACKAGE / "test").rglob("*.dart"))
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_dart.language()))
# package: imports the pubspec declares, plus the SDK's own dart: libraries.
DECLARED_PACKAGES = {"ffi", "flutter", "flutter_test", "sidekick_flutter"}


def syntax_errors(source: bytes) -> list[str]:
    """Every ERROR or MISSING node of the parse, as `line:column text`."""
    problems: list[str] = []
    pending = [PARSER.parse(source).root_node]
    while pending:
        node = pending.pop()
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            text = (node.text or b"").decode(errors="replace")[:40]
            problems.append(f"{row + 1}:{column + 1} {node.type} {text!r}")
        pending.extend(node.children)
    return problems


def test_the_grammar_rejects_broken_dart() -> None:
    assert syntax_errors(b"final class A { void f( { }") != []
    assert syntax_errors(b"final class A { void f() { print('x); } }") != []
    assert syntax_errors(b"sealed class A {}\nfinal class B extends A { const B(); }") == []


def test_the_declared_dependencies_are_the_ones_imported() -> None:
    pubspec = (PACKAGE / "pubspec.yaml").read_text()
    assert re.search(r"^name: sidekick_flutter$", pubspec, re.M)
    for dependency in ("ffi", "flutter", "flutter_test"):
        assert re.search(rf"^  {dependency}:", pubspec, re.M), dependency


@pytest.mark.parametrize("path", DART_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_dart_file_parses_and_imports_resolve(path: Path) -> None:
    source = path.read_bytes()
    assert syntax_errors(source) == []
    for target in re.findall(rb"^(?:import|export)\s+'([^']+)'", source, re.M):
        uri = target.decode()
        if uri.startswith("dart:"):
            continue
        if uri.startswith("package:"):
            assert uri.split("/")[0].removeprefix("package:") in DECLARED_PACKAGES, uri
            continue
        assert (path.parent / uri).is_file(), f"{path.name} imports missing {uri}"


def test_every_binding_the_store_calls_exists() -> None:
    """A renamed binding field or status constant shows up here, not on a developer's device."""
    bindings = (PACKAGE / "lib" / "src" / "bindings.dart").read_text()
    store = (PACKAGE / "lib" / "src" / "flag_store.dart").read_text()
    fields = set(re.findall(r"^  final \w+ (\w+);", bindings, re.M))
    fields |= set(re.findall(r"^  final Pointer<[^;]+> (\w+);", bindings, re.M))
    used = set(re.findall(r"\b_native\.(\w+)", store))
    assert used, "the store calls no binding"
    assert used <= fields, used - fields
    constants = set(re.findall(r"static const int (\w+) =", bindings))
    statuses = set(re.findall(r"\bSk(?:Status|StoreMode)\.(\w+)", store))
    assert statuses <= constants, statuses - constants


def test_every_binding_call_passes_as_many_arguments_as_its_typedef() -> None:
    """Dart arity errors at the FFI boundary, caught without the analyzer."""
    bindings = (PACKAGE / "lib" / "src" / "bindings.dart").read_text()
    typedefs = dict(re.findall(r"typedef\s+(\w+)\s*=\s*(.*?);", bindings, re.S))
    field_types = {
        field: type_name
        for type_name, field in re.findall(r"^  final (_\w+) (\w+);", bindings, re.M)
    }
    checked = 0
    for source_path in LIB_FILES:
        source = source_path.read_text()
        for field, count in dart_calls(source, r"_native\.(\w+)\s*\("):
            signature = abi_check.ffi_signature(typedefs[field_types[field]])
            assert count == len(signature.params), f"{source_path.name}: _native.{field}"
            checked += 1
    assert checked >= 15


def dart_calls(source: str, pattern: str) -> list[tuple[str, int]]:
    """(name, argument count) of every call matching pattern, which ends at the open paren."""
    calls: list[tuple[str, int]] = []
    for match in re.finditer(pattern, source):
        depth, index = 1, match.end()
        while depth and index < len(source):
            depth += {"(": 1, ")": -1}.get(source[index], 0)
            index += 1
        arguments = source[match.end() : index - 1]
        parts = [p for p in abi_check.split_top_level(arguments, "([{", ")]}") if p.strip()]
        calls.append((match.group(1), len(parts)))
    return calls
