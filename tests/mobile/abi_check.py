"""Checks that the Dart FFI and React Native JSI bindings declare sidekick.h's ABI exactly.

Run as a script (`python -m tests.mobile.abi_check [HEADER DART_FILE CPP_FILE TS_FILE]`) it prints
every mismatch and exits 1 when there is any. The same parsed declarations drive the ctypes tests,
so the functions exercised from Python are the ones the Dart code binds, with the Dart types.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER = ROOT / "evalcore" / "include" / "sidekick.h"
DART_BINDINGS = ROOT / "sdks" / "flutter" / "lib" / "src" / "bindings.dart"
JSI_SOURCE = ROOT / "sdks" / "react-native" / "cpp" / "SidekickJSI.cpp"
TS_NATIVE = ROOT / "sdks" / "react-native" / "src" / "native.ts"

# ABI functions and structs the Dart bindings may leave undeclared; empty: all of sidekick.h is
# bound. A future ABI addition is listed here until the Dart side binds it.
PENDING_DART_FUNCTIONS: frozenset[str] = frozenset()
PENDING_DART_STRUCTS: frozenset[str] = frozenset()

# C scalar types and the dart:ffi native type each must be declared as.
C_SCALAR_TO_FFI = {
    "int8_t": "Int8",
    "uint8_t": "Uint8",
    "int16_t": "Int16",
    "uint16_t": "Uint16",
    "int32_t": "Int32",
    "uint32_t": "Uint32",
    "int64_t": "Int64",
    "uint64_t": "Uint64",
    "size_t": "Size",
    "bool": "Bool",
    "double": "Double",
    "float": "Float",
    "void": "Void",
}
# What a `T *` may point at on the Dart side: bytes may be typed as any one-byte type.
C_POINTEE_TO_FFI = {
    "char": {"Uint8", "Int8", "Char", "Utf8"},
    "void": {"Void", "Uint8"},
}
# The Dart type a function typedef uses for each native scalar type.
FFI_TO_DART = {
    "Int8": "int",
    "Uint8": "int",
    "Int16": "int",
    "Uint16": "int",
    "Int32": "int",
    "Uint32": "int",
    "Int64": "int",
    "Uint64": "int",
    "Size": "int",
    "Char": "int",
    "Bool": "bool",
    "Double": "double",
    "Float": "double",
    "Void": "void",
}


@dataclass(frozen=True)
class CType:
    """A C type reduced to what the ABI depends on: the base type and the pointer depth."""

    base: str
    pointers: int

    def __str__(self) -> str:
        return self.base + " " + "*" * self.pointers if self.pointers else self.base


@dataclass(frozen=True)
class CFunction:
    name: str
    returns: CType
    params: tuple[CType, ...]


@dataclass(frozen=True)
class FfiSignature:
    """A dart:ffi function type: `Ret Function(P1 a, P2 b)` with each type as written."""

    returns: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class DartBinding:
    symbol: str
    native: FfiSignature
    dart: FfiSignature | None  # None for a bare lookup<NativeFunction<...>>


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _c_type(declaration: str, *, named: bool) -> CType:
    """Parses `const char *name` (named) or `const char *` (a return type)."""
    text = declaration.replace("*", " * ")
    words = [word for word in text.split() if word not in ("const", "struct", "enum")]
    if named and words and words[-1] != "*" and len(words) > 1:
        words = words[:-1]
    pointers = words.count("*")
    base = " ".join(word for word in words if word != "*")
    return CType(base, pointers)


def parse_header(text: str) -> dict[str, CFunction]:
    """Every `SK_API(name) ret name(params);` prototype in sidekick.h, by name."""
    functions: dict[str, CFunction] = {}
    source = _strip_comments(text)
    pattern = re.compile(r"SK_API\((\w+)\)\s*([^;{]*?)\b(\1)\s*\(([^)]*)\)\s*;", re.S)
    for match in pattern.finditer(source):
        name, returns, _, params = match.groups()
        params = params.strip()
        parsed = (
            ()
            if params in ("", "void")
            else tuple(_c_type(p, named=True) for p in params.split(","))
        )
        functions[name] = CFunction(name, _c_type(returns, named=False), parsed)
    return functions


def parse_header_structs(text: str) -> dict[str, list[CType]]:
    """Field types of every `typedef struct sk_x { ... } sk_x;` in the header, in order."""
    structs: dict[str, list[CType]] = {}
    source = _strip_comments(text)
    for match in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", source, re.S):
        fields = [f for f in match.group(2).split(";") if f.strip()]
        structs[match.group(3)] = [_c_type(f, named=True) for f in fields]
    return structs


def header_abi_version(text: str) -> int:
    match = re.search(r"#define\s+SK_ABI_VERSION\s+(\d+)", text)
    if match is None:
        raise ValueError("SK_ABI_VERSION is not defined in the header")
    return int(match.group(1))


def split_top_level(text: str, brackets: str = "<(", closers: str = ">)") -> list[str]:
    """Splits on commas outside the given brackets (Dart generics and parentheses by default)."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in brackets:
            depth += 1
        elif char in closers:
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


def _ffi_type(text: str) -> str:
    """`Pointer<Uint8> name` or `Size` -> the type alone, spaces removed."""
    text = text.strip()
    name = re.match(r"^(.*?)(?:\s+[A-Za-z_]\w*)?$", text, re.S)
    assert name is not None
    return re.sub(r"\s+", "", name.group(1))


def ffi_signature(text: str) -> FfiSignature:
    match = re.fullmatch(r"\s*(.+?)\s+Function\s*\((.*)\)\s*", text, re.S)
    if match is None:
        raise ValueError(f"not a function type: {text.strip()!r}")
    params = tuple(_ffi_type(p) for p in split_top_level(match.group(2)))
    return FfiSignature(_ffi_type(match.group(1)), params)


def parse_dart(text: str) -> tuple[dict[str, DartBinding], list[str]]:
    """The C functions a Dart file binds, with their declared types, and the problems found."""
    source = _strip_comments(text)
    problems: list[str] = []
    typedefs: dict[str, FfiSignature] = {}
    for match in re.finditer(r"typedef\s+(\w+)\s*=\s*(.*?);", source, re.S):
        try:
            typedefs[match.group(1)] = ffi_signature(match.group(2))
        except ValueError as error:
            problems.append(f"typedef {match.group(1)}: {error}")

    bindings: dict[str, DartBinding] = {}

    def add(symbol: str, binding: DartBinding) -> None:
        if symbol in bindings and bindings[symbol].native != binding.native:
            problems.append(f"{symbol}: bound twice with different native types")
        if symbol not in bindings or bindings[symbol].dart is None:
            bindings[symbol] = binding

    def typedef(name: str) -> FfiSignature | None:
        if name not in typedefs:
            problems.append(f"typedef {name} is used but not declared")
            return None
        return typedefs[name]

    lookup_function = r"lookupFunction\s*<\s*(\w+)\s*,\s*(\w+)\s*>\s*\(\s*'(\w+)'"
    for match in re.finditer(lookup_function, source):
        native, dart = typedef(match.group(1)), typedef(match.group(2))
        if native is not None and dart is not None:
            add(match.group(3), DartBinding(match.group(3), native, dart))
    lookup = r"\blookup\s*<\s*NativeFunction\s*<\s*(\w+)\s*>\s*>\s*\(\s*'(\w+)'"
    for match in re.finditer(lookup, source):
        native = typedef(match.group(1))
        if native is not None:
            add(match.group(2), DartBinding(match.group(2), native, None))
    # @Native<Ret Function(...)>(symbol: 'sk_x') external Ret name(...);
    native_pattern = (
        r"@Native\s*<(.*?)>\s*\(\s*(?:symbol\s*:\s*'(\w+)')?[^)]*\)\s*"
        r"external\s+(.*?)\s+(\w+)\s*\((.*?)\)\s*;"
    )
    for match in re.finditer(native_pattern, source, re.S):
        signature, symbol, returns, dart_name, params = match.groups()
        native = typedefs.get(signature.strip()) or ffi_signature(signature)
        dart_params = tuple(_ffi_type(p) for p in split_top_level(params))
        add(
            symbol or dart_name,
            DartBinding(symbol or dart_name, native, FfiSignature(_ffi_type(returns), dart_params)),
        )
    return bindings, problems


def parse_dart_structs(text: str) -> dict[str, list[tuple[str, str]]]:
    """(native type, name) of each field of every `final class X extends Struct`, in order."""
    structs: dict[str, list[tuple[str, str]]] = {}
    source = _strip_comments(text)
    for match in re.finditer(r"class\s+(\w+)\s+extends\s+Struct\s*\{(.*?)\n\}", source, re.S):
        fields: list[tuple[str, str]] = []
        field_pattern = r"(?:@(\w+)\(\)\s*)?external\s+([\w<>\s]+?)\s+(\w+)\s*;"
        for field in re.finditer(field_pattern, match.group(2)):
            annotation, dart_type, name = field.groups()
            fields.append((annotation or re.sub(r"\s+", "", dart_type), name))
        structs[match.group(1)] = fields
    return structs


def _camel(c_name: str) -> str:
    """sk_store -> SkStore: the Dart class that stands for a C struct."""
    return "".join(part.capitalize() for part in c_name.split("_"))


def expected_ffi(c_type: CType) -> set[str]:
    """Every dart:ffi native type that matches c_type."""
    if c_type.pointers == 0:
        scalar = C_SCALAR_TO_FFI.get(c_type.base)
        return {scalar} if scalar else set()  # structs by value are not part of this ABI
    if c_type.pointers > 1:
        inner = expected_ffi(CType(c_type.base, c_type.pointers - 1))
    elif c_type.base in C_POINTEE_TO_FFI:
        inner = C_POINTEE_TO_FFI[c_type.base]
    elif c_type.base in C_SCALAR_TO_FFI:
        inner = {C_SCALAR_TO_FFI[c_type.base]}
    else:
        inner = {_camel(c_type.base)}
    return {f"Pointer<{t}>" for t in inner}


def dart_type_for(ffi: str) -> str:
    """The Dart-side type a lookupFunction typedef must use for a native type."""
    return FFI_TO_DART.get(ffi, ffi)


def check_dart(header_text: str, dart_text: str, *, require_all: bool = True) -> list[str]:
    """Mismatches between the header and the Dart bindings (empty when they agree)."""
    functions = parse_header(header_text)
    bindings, problems = parse_dart(dart_text)
    for symbol, binding in sorted(bindings.items()):
        function = functions.get(symbol)
        if function is None:
            problems.append(f"{symbol}: bound in Dart but not declared in sidekick.h")
            continue
        native = binding.native
        if len(native.params) != len(function.params):
            problems.append(
                f"{symbol}: Dart declares {len(native.params)} parameters, "
                f"sidekick.h has {len(function.params)}"
            )
            continue
        if native.returns not in expected_ffi(function.returns):
            problems.append(
                f"{symbol}: return type {native.returns} does not match C `{function.returns}` "
                f"(expected {' or '.join(sorted(expected_ffi(function.returns)))})"
            )
        for index, (ffi, c_type) in enumerate(zip(native.params, function.params, strict=True)):
            if ffi not in expected_ffi(c_type):
                problems.append(
                    f"{symbol}: parameter {index} is {ffi}, C has `{c_type}` "
                    f"(expected {' or '.join(sorted(expected_ffi(c_type)))})"
                )
        if binding.dart is not None:
            dart = binding.dart
            if len(dart.params) != len(native.params):
                problems.append(f"{symbol}: the Dart typedef's arity differs from the native one")
                continue
            pairs = [(native.returns, dart.returns), *zip(native.params, dart.params, strict=True)]
            for position, (ffi, dart_type) in enumerate(pairs):
                if dart_type != dart_type_for(ffi):
                    where = "return type" if position == 0 else f"parameter {position - 1}"
                    problems.append(
                        f"{symbol}: Dart-side {where} is {dart_type}, {ffi} needs "
                        f"{dart_type_for(ffi)}"
                    )
    if require_all:
        for name in sorted(set(functions) - set(bindings) - PENDING_DART_FUNCTIONS):
            problems.append(f"{name}: declared in sidekick.h but not bound in Dart")

    c_structs = parse_header_structs(header_text)
    dart_structs = parse_dart_structs(dart_text)
    for c_name, c_fields in sorted(c_structs.items()):
        dart_name = _camel(c_name)
        if dart_name not in dart_structs:
            if c_name in PENDING_DART_STRUCTS:
                continue
            problems.append(f"struct {c_name}: no Dart Struct {dart_name}")
            continue
        dart_fields = dart_structs[dart_name]
        if len(dart_fields) != len(c_fields):
            problems.append(
                f"struct {c_name}: {len(dart_fields)} fields in Dart, {len(c_fields)} in C"
            )
            continue
        for index, ((ffi, _), c_type) in enumerate(zip(dart_fields, c_fields, strict=True)):
            if ffi not in expected_ffi(c_type):
                problems.append(f"struct {c_name}: field {index} is {ffi}, C has `{c_type}`")

    version = re.search(r"const\s+int\s+sidekickAbiVersion\s*=\s*(\d+)\s*;", dart_text)
    if version is None:
        problems.append("Dart bindings do not declare sidekickAbiVersion")
    elif int(version.group(1)) != header_abi_version(header_text):
        problems.append(
            f"Dart sidekickAbiVersion is {version.group(1)}, "
            f"SK_ABI_VERSION is {header_abi_version(header_text)}"
        )
    return problems


def cpp_calls(cpp_text: str) -> list[tuple[str, int]]:
    """Every `sk_name(args)` call in C++ source with its argument count."""
    source = _strip_comments(cpp_text)
    source = re.sub(r'"(?:\\.|[^"\\])*"', '""', source)
    calls: list[tuple[str, int]] = []
    for match in re.finditer(r"\b(sk_\w+)\s*\(", source):
        depth = 1
        index = match.end()
        while depth and index < len(source):
            depth += {"(": 1, ")": -1}.get(source[index], 0)
            index += 1
        arguments = source[match.end() : index - 1]
        # C++ arguments hold `->` and `<`, so only (), [] and {} nest here.
        parts = split_top_level(arguments, "([{", ")]}")
        count = len(parts) if arguments.strip() else 0
        calls.append((match.group(1), count))
    return calls


def check_cpp(header_text: str, cpp_text: str) -> list[str]:
    """Calls in the JSI source to functions missing from the header or with the wrong arity.

    The C++ includes sidekick.h itself, so the compiler checks argument types; this catches a
    function that was renamed or removed before the code reaches a compiler with the JSI headers.
    """
    functions = parse_header(header_text)
    problems: list[str] = []
    for name, count in cpp_calls(cpp_text):
        if name not in functions:
            problems.append(f"{name}: called from the JSI code but not declared in sidekick.h")
        elif count != len(functions[name].params):
            problems.append(
                f"{name}: called with {count} arguments, sidekick.h declares "
                f"{len(functions[name].params)}"
            )
    return problems


def check_ts(header_text: str, ts_text: str) -> list[str]:
    """The ABI version the TypeScript expects must be the header's."""
    match = re.search(r"EXPECTED_ABI_VERSION\s*=\s*(\d+)", ts_text)
    expected = header_abi_version(header_text)
    if match is None:
        return ["TypeScript does not declare EXPECTED_ABI_VERSION"]
    if int(match.group(1)) != expected:
        return [
            f"TypeScript EXPECTED_ABI_VERSION is {match.group(1)}, SK_ABI_VERSION is {expected}"
        ]
    return []


def check_all(
    header: Path = HEADER,
    dart: Path = DART_BINDINGS,
    cpp: Path = JSI_SOURCE,
    ts: Path = TS_NATIVE,
) -> list[str]:
    header_text = header.read_text()
    return [
        *(f"{dart.name}: {p}" for p in check_dart(header_text, dart.read_text())),
        *(f"{cpp.name}: {p}" for p in check_cpp(header_text, cpp.read_text())),
        *(f"{ts.name}: {p}" for p in check_ts(header_text, ts.read_text())),
    ]


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv]
    problems = check_all(*paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"ABI check: {len(parse_header(HEADER.read_text()))} functions agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
