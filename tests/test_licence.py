"""Every package Sidekick publishes names Apache-2.0 and ships the same LICENSE text as the root.

Registries read the licence from two places: the manifest's licence field and a LICENSE file in
the package's own root. Both are checked for every package, so neither can drift again.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SPDX = "Apache-2.0"
NPM_PACKAGES = ("sdks/node", "sdks/browser", "sdks/react-native")
PACKAGE_DIRS = ("sdks/python", *NPM_PACKAGES, "sdks/flutter")


def root_licence() -> str:
    return (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")


def test_the_root_licence_is_the_whole_apache_2_0_text():
    text = root_licence()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    # All nine sections, up to the end of the terms: not a stub or a summary.
    for section in range(1, 10):
        assert re.search(rf"^\s*{section}\. ", text, re.MULTILINE), f"section {section} missing"
    assert "END OF TERMS AND CONDITIONS" in text


@pytest.mark.parametrize("package", PACKAGE_DIRS)
def test_each_package_ships_the_root_licence_beside_its_manifest(package):
    licence = REPO_ROOT / package / "LICENSE"
    assert licence.is_file(), f"{package}/LICENSE is missing"
    assert licence.read_text(encoding="utf-8") == root_licence(), f"{package}/LICENSE differs"


def test_the_python_projects_name_apache_2_0():
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert root["project"]["license"] == SPDX
    sdk = tomllib.loads((REPO_ROOT / "sdks/python/pyproject.toml").read_text(encoding="utf-8"))
    assert sdk["project"]["license"] == SPDX
    assert "LICENSE" in sdk["project"]["license-files"]
    manifest = (REPO_ROOT / "sdks/python/MANIFEST.in").read_text(encoding="utf-8").splitlines()
    assert "include LICENSE" in manifest


@pytest.mark.parametrize("package", NPM_PACKAGES)
def test_each_npm_package_names_apache_2_0_and_packs_its_licence(package):
    manifest = json.loads((REPO_ROOT / package / "package.json").read_text(encoding="utf-8"))
    assert manifest["license"] == SPDX
    assert "LICENSE" in manifest["files"]
    lock_path = REPO_ROOT / package / "package-lock.json"
    if lock_path.exists():
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
        recorded = lock["packages"][""].get("license")
        assert recorded in (None, SPDX), f"{package}/package-lock.json records {recorded}"


def test_the_podspecs_name_apache_2_0_and_its_file():
    react_native = (REPO_ROOT / "sdks/react-native/sidekick-react-native.podspec").read_text()
    # It reads the licence from package.json, which the npm test above pins.
    assert 's.license      = { :type => package["license"], :file => "LICENSE" }' in react_native
    flutter = (REPO_ROOT / "sdks/flutter/ios/sidekick_flutter.podspec").read_text()
    assert f':type => "{SPDX}", :file => "../LICENSE"' in flutter
    assert (REPO_ROOT / "sdks/flutter/ios/../LICENSE").is_file()


def test_no_manifest_names_another_licence():
    manifests = [
        REPO_ROOT / "pyproject.toml",
        REPO_ROOT / "sdks/python/pyproject.toml",
        REPO_ROOT / "sdks/flutter/pubspec.yaml",
        *(REPO_ROOT / package / "package.json" for package in NPM_PACKAGES),
    ]
    for manifest in manifests:
        text = manifest.read_text(encoding="utf-8")
        for other in ("MIT", "BSD", "GPL", "ISC", "MPL"):
            assert not re.search(rf"\b{other}\b", text), f"{manifest.name} mentions {other}"
