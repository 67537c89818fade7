"""The ABI-signature check passes on the real bindings and fails on deliberately wrong ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.mobile import abi_check

FIXTURES = Path(__file__).parent / "fixtures"
HEADER_TEXT = abi_check.HEADER.read_text()


def test_the_real_bindings_agree_with_the_header() -> None:
    assert abi_check.check_all() == []


def test_the_dart_bindings_cover_every_function() -> None:
    bindings, problems = abi_check.parse_dart(abi_check.DART_BINDINGS.read_text())
    assert problems == []
    header = set(abi_check.parse_header(HEADER_TEXT))
    assert set(bindings) == header - abi_check.PENDING_DART_FUNCTIONS


def test_every_mismatch_in_the_dart_fixture_is_reported() -> None:
    problems = abi_check.check_dart(
        HEADER_TEXT, (FIXTURES / "mismatched_bindings.dart").read_text()
    )
    text = "\n".join(problems)
    assert "sk_flag_new: parameter 3 is Int64, C has `int32_t`" in text
    assert "sk_flag_new: parameter 4 is Uint32, C has `uint64_t`" in text
    assert "sk_store_remove: Dart declares 3 parameters, sidekick.h has 4" in text
    assert "sk_store_is_enabled: parameter 5 is Pointer<Void>, C has `sk_attribute *`" in text
    assert "sk_store_is_enabled: Dart-side return type is bool, Int32 needs int" in text
    assert "sk_store_size: bound in Dart but not declared in sidekick.h" in text
    assert "sk_store_count: declared in sidekick.h but not bound in Dart" in text
    assert "struct sk_evaluation: 4 fields in Dart, 5 in C" in text
    assert "struct sk_attribute: no Dart Struct SkAttribute" in text
    assert "Dart sidekickAbiVersion is 3, SK_ABI_VERSION is 2" in text


def test_a_single_changed_type_in_the_real_bindings_fails() -> None:
    real = abi_check.DART_BINDINGS.read_text()
    changed = real.replace(
        "Uint64 version, Pointer<Pointer<SkFlag>> out",
        "Int64 version, Pointer<Pointer<SkFlag>> out",
        1,
    )
    assert changed != real
    assert abi_check.check_dart(HEADER_TEXT, changed) == [
        "sk_flag_new: parameter 4 is Int64, C has `uint64_t` (expected Uint64)"
    ]


def test_a_changed_struct_field_fails() -> None:
    real = abi_check.DART_BINDINGS.read_text()
    # The first nameLen is sk_attribute's (sk_typed_attribute has one too).
    changed = real.replace(
        "@Size()\n  external int nameLen;", "@Uint32()\n  external int nameLen;", 1
    )
    assert changed != real
    assert abi_check.check_dart(HEADER_TEXT, changed) == [
        "struct sk_attribute: field 1 is Uint32, C has `size_t`"
    ]


def test_jsi_calls_are_checked_by_name_and_arity() -> None:
    problems = abi_check.check_cpp(HEADER_TEXT, (FIXTURES / "mismatched_jsi.cpp").read_text())
    assert problems == [
        "sk_store_remove: called with 3 arguments, sidekick.h declares 4",
        "sk_store_size: called from the JSI code but not declared in sidekick.h",
    ]


def test_the_typescript_abi_version_is_checked() -> None:
    problems = abi_check.check_ts(HEADER_TEXT, (FIXTURES / "mismatched_native.ts").read_text())
    assert problems == ["TypeScript EXPECTED_ABI_VERSION is 7, SK_ABI_VERSION is 2"]


def test_the_command_line_fails_on_the_fixtures() -> None:
    command = [
        sys.executable,
        "-m",
        "tests.mobile.abi_check",
        str(abi_check.HEADER),
        str(FIXTURES / "mismatched_bindings.dart"),
        str(FIXTURES / "mismatched_jsi.cpp"),
        str(FIXTURES / "mismatched_native.ts"),
    ]
    result = subprocess.run(
        command, cwd=abi_check.ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 1
    assert "sk_store_remove" in result.stderr
    passing = subprocess.run(
        [sys.executable, "-m", "tests.mobile.abi_check"],
        cwd=abi_check.ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert passing.returncode == 0, passing.stderr
