"""`npm install ./sdks/node` and `npm install ./sdks/browser`, from a clean copy of the repository
into an empty project, give packages whose README snippet (offline `FlagStore`) runs in Node.

The packages build on install (`prepare` compiles the TypeScript, and the wasm core for the
browser package; `install` compiles the Node addon). The devDependencies come from the registry,
as on a new user's machine. npm runs with the user's config minus any `nodedir`, so no Node
headers found through the developer's own ~/.npmrc can make the install pass, and with node-gyp's
header directory pointed at an empty folder, which must stay empty: nothing may download headers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

import evalcore
from tests.sdk_packaging.clean_copy import clean_copy

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed"),
]

FLAG = {"key": "dark_mode", "is_enabled": True, "rollout_percentage": 50, "rules": []}

# sdks/node/README.md, offline section, in both module systems.
NODE_REQUIRE = """
const { FlagStore } = require('@sidekick-flags/node');
const store = new FlagStore();
store.upsert(FLAG);
console.log(JSON.stringify({
  enabled: store.isEnabled('dark_mode', 'user-42'),
  evaluation: store.evaluate('dark_mode', 'user-42'),
}));
"""
NODE_IMPORT = NODE_REQUIRE.replace(
    "const { FlagStore } = require('@sidekick-flags/node');",
    "import { FlagStore } from '@sidekick-flags/node';",
)

# docs/browser.md, offline section: in Node the wasm is read from the package's export.
BROWSER_IMPORT = """
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { FlagStore, loadCore } from '@sidekick-flags/browser';
const wasm = fileURLToPath(import.meta.resolve('@sidekick-flags/browser/sidekick.wasm'));
await loadCore(await readFile(wasm));
const store = new FlagStore();
store.upsert(FLAG);
console.log(JSON.stringify({
  enabled: store.isEnabled('dark_mode', 'user-42'),
  evaluation: store.evaluate('dark_mode', 'user-42'),
}));
"""


def npm_environment(scratch: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.lower().startswith("npm_")}
    # The user's npm config minus `nodedir`: a registry or proxy set there still applies, but
    # nothing may depend on Node headers found through it.
    user_config = Path.home() / ".npmrc"
    lines = user_config.read_text().splitlines() if user_config.is_file() else []
    config = scratch / "npmrc-without-nodedir"
    config.write_text(
        "".join(f"{line}\n" for line in lines if not line.strip().startswith("nodedir"))
    )
    env["npm_config_userconfig"] = str(config)
    env["npm_config_devdir"] = str(scratch / "node-gyp-headers")
    env["npm_config_audit"] = "false"
    env["npm_config_fund"] = "false"
    return env


def install_into_empty_project(package: Path, scratch: Path) -> Path:
    project = scratch / "app"
    project.mkdir()
    (project / "package.json").write_text(
        json.dumps({"name": "newcomer-app", "version": "1.0.0", "private": True})
    )
    done = subprocess.run(
        ["npm", "install", "--foreground-scripts", "--loglevel=error", str(package)],
        cwd=project,
        env=npm_environment(scratch),
        capture_output=True,
        text=True,
        timeout=800,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert not (scratch / "node-gyp-headers").exists(), "something downloaded Node headers"
    return project


def run_snippet(project: Path, name: str, snippet: str) -> dict:
    script = project / name
    script.write_text(f"const FLAG = {json.dumps(FLAG)};\n" + textwrap.dedent(snippet))
    done = subprocess.run(
        ["node", str(script)], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def assert_same_answer_as_the_core(answer: dict) -> None:
    expected = evalcore.FlagStore()
    expected.upsert({**FLAG, "version": 0})
    evaluation = expected.evaluate("dark_mode", "user-42")
    assert answer["enabled"] is evaluation.enabled
    assert answer["evaluation"]["reason"] == "ROLLOUT"
    assert answer["evaluation"]["bucket"] == evaluation.bucket


def test_the_node_package_installs_from_a_clean_copy_and_runs_its_readme(tmp_path):
    repository = clean_copy(
        tmp_path / "repository", "evalcore", "sdks/node", "sdks/shared-ts", "scripts"
    )
    project = install_into_empty_project(repository / "sdks" / "node", tmp_path)
    assert_same_answer_as_the_core(run_snippet(project, "offline.cjs", NODE_REQUIRE))
    assert_same_answer_as_the_core(run_snippet(project, "offline.mjs", NODE_IMPORT))


def test_the_browser_package_installs_from_a_clean_copy_and_runs_its_readme(tmp_path):
    repository = clean_copy(
        tmp_path / "repository", "evalcore", "sdks/browser", "sdks/shared-ts", "scripts"
    )
    project = install_into_empty_project(repository / "sdks" / "browser", tmp_path)
    assert_same_answer_as_the_core(run_snippet(project, "offline.mjs", BROWSER_IMPORT))
