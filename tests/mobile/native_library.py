"""Builds libsidekick with CMake and opens it through ctypes with the Dart bindings' signatures.

Every ctypes prototype here is derived from the dart:ffi typedefs in the Flutter package (parsed
by abi_check), so a Python call goes through exactly the signature the Dart code declares.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.mobile import abi_check

BUILD_DIR = abi_check.ROOT / "build" / "mobile" / "lib"

FFI_TO_CTYPES: dict[str, Any] = {
    "Int8": ctypes.c_int8,
    "Uint8": ctypes.c_uint8,
    "Int16": ctypes.c_int16,
    "Uint16": ctypes.c_uint16,
    "Int32": ctypes.c_int32,
    "Uint32": ctypes.c_uint32,
    "Int64": ctypes.c_int64,
    "Uint64": ctypes.c_uint64,
    "Size": ctypes.c_size_t,
    "Bool": ctypes.c_bool,
    "Double": ctypes.c_double,
    "Float": ctypes.c_float,
    "Void": None,
}
# Byte pointers take Python bytes directly (explicit lengths travel beside them).
BYTE_POINTERS = {"Pointer<Uint8>", "Pointer<Int8>", "Pointer<Char>", "Pointer<Utf8>"}


def build_library() -> Path:
    """Configures and builds libsidekick (warnings are errors); returns the shared library."""
    cmake = shutil.which("cmake")
    if cmake is None:
        raise RuntimeError("cmake is not installed (scripts/install-system-deps.sh installs it)")
    source = abi_check.ROOT / "evalcore"
    configure = [cmake, "-S", str(source), "-B", str(BUILD_DIR), "-DSIDEKICK_WERROR=ON"]
    configure.append("-DCMAKE_BUILD_TYPE=RelWithDebInfo")
    subprocess.run(configure, check=True, capture_output=True, text=True)
    subprocess.run(
        [cmake, "--build", str(BUILD_DIR), "--parallel", str(os.cpu_count() or 2)],
        check=True,
        capture_output=True,
        text=True,
    )
    return BUILD_DIR / "libsidekick.so"


class NativeApi:
    """libsidekick's functions, each with the ctypes prototype of its Dart declaration."""

    def __init__(self, library_path: Path, dart_source: str) -> None:
        self.library = ctypes.CDLL(str(library_path))
        self.structs: dict[str, type[ctypes.Structure]] = {}
        for name, fields in abi_check.parse_dart_structs(dart_source).items():
            struct_fields = [(field, self.ctype(ffi)) for ffi, field in fields]
            self.structs[name] = type(name, (ctypes.Structure,), {"_fields_": struct_fields})
        bindings, problems = abi_check.parse_dart(dart_source)
        if problems:
            raise ValueError("; ".join(problems))
        self.bound = sorted(bindings)
        for symbol, binding in bindings.items():
            function = getattr(self.library, symbol)
            function.restype = self.ctype(binding.native.returns)
            function.argtypes = [self.ctype(p) for p in binding.native.params]
            setattr(self, symbol, function)

    def ctype(self, ffi: str) -> Any:
        if ffi in FFI_TO_CTYPES:
            return FFI_TO_CTYPES[ffi]
        if ffi in BYTE_POINTERS or ffi == "Pointer<Void>":
            return ctypes.c_char_p
        inner = ffi.removeprefix("Pointer<").removesuffix(">")
        if inner != ffi:
            if inner in self.structs:
                return ctypes.POINTER(self.structs[inner])
            if FFI_TO_CTYPES.get(inner) is not None:
                return ctypes.POINTER(FFI_TO_CTYPES[inner])  # an array of scalars
            if inner.startswith("Pointer<"):
                return ctypes.POINTER(ctypes.c_void_p)
            return ctypes.c_void_p  # an opaque handle
        raise ValueError(f"no ctypes equivalent for {ffi}")

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"{name} is not bound by the Dart code")
