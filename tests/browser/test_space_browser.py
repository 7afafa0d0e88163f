"""browser.space: the citizen's digital-space page in real Chromium (docs/space.md, issue #5 item 5).

This module starts a real deployment with tests/integration/harness.py (the gateway and the demo
providers on ephemeral ports, demo mode, the demo identity provider) and runs
space_scenario.mjs, which drives Debian's Chromium through playwright-core and makes the zone
calls the page must show. Environment (ctest sets it, tests/browser/CMakeLists.txt):
  QAQPA_BIN, QAQPA_DEMO_PROVIDER_BIN, QAQPA_SOURCE_DIR   as for the integration tests
  QAQPA_BROWSER_ARTIFACTS                                screenshots, the CSV, the console log
                                                         (written to <that dir>/space/)
Chromium, Node.js or node_modules missing is a failure that says to run ./qaqpa.sh deps: CI
installs them first, so a missing piece is a broken setup, never a reason to skip.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402  (tests/integration, on the path above)
from harness import CITIZENS  # noqa: E402

CHROMIUM = os.environ.get("QAQPA_CHROMIUM", "/usr/bin/chromium")
SCENARIO = os.path.join(HERE, "space_scenario.mjs")
SMOKE = os.path.join(HERE, "smoke.mjs")
SMOKE_TIMEOUT_S = 90
SCENARIO_TIMEOUT_S = 240  # ctest's TIMEOUT is 300; the scenario takes ~20 s on this machine
GATEWAY_OVERRIDES = {"workers": 2, "demo_trust_client_header": True}


def missing_dependencies():
    """What ./qaqpa.sh deps would install and is not there, as readable lines."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if shutil.which("node") is None:
        missing.append("node (Debian packages nodejs npm)")
    if not os.path.isfile(os.path.join(HERE, "node_modules", "playwright-core", "package.json")):
        missing.append(f"{HERE}/node_modules/playwright-core (npm ci --prefix tests/browser)")
    return missing


def require_dependencies(test):
    missing = missing_dependencies()
    if missing:
        test.fail("browser test dependencies missing — run ./qaqpa.sh deps:\n  "
                  + "\n  ".join(missing))


def artifacts_base():
    return os.environ.get("QAQPA_BROWSER_ARTIFACTS") or os.path.join(
        tempfile.gettempdir(), "qaqpa-browser-artifacts")


def run_node(script, env, timeout):
    """Runs `node script`, its output straight to ctest's log (a hang still shows the last
    step), in its own process group so that a timeout also ends the Chromium it started.
    Returns the exit code, None on timeout."""
    sys.stdout.flush()
    proc = subprocess.Popen(["node", script], cwd=HERE, env=env, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def artifacts_dir(name="space"):
    path = os.path.join(artifacts_base(), name)
    shutil.rmtree(path, ignore_errors=True)  # only this run's screenshots remain
    os.makedirs(path)
    return path


class BrowserSmoke(unittest.TestCase):
    """The tooling alone, no gateway: smoke.mjs (Chromium headless, a local page, WebCrypto,
    Kazakh text, a blob download)."""

    def test_chromium_loads_a_local_page(self):
        require_dependencies(self)
        env = dict(os.environ, QAQPA_BROWSER_ARTIFACTS=artifacts_base(), QAQPA_CHROMIUM=CHROMIUM)
        code = run_node(SMOKE, env, SMOKE_TIMEOUT_S)
        self.assertEqual(code, 0, f"smoke.mjs exited with {code} (None: timed out)")


class SpacePageInChromium(unittest.TestCase):
    # replicas > 1: two gateways sharing a redis-server; the zone calls go to replica 0 (A) and
    # the page is served by replica 1 (B), which reads A's events from the shared index (issue
    # #6, docs/space.md "Several replicas"), proofs verified with B's /v1/keys.
    REPLICAS = 1
    NAME = "browser-space"
    ARTIFACTS = "space"

    def test_citizen_page_scenario(self):
        require_dependencies(self)
        artifacts = artifacts_dir(self.ARTIFACTS)
        dep = harness.build_deployment(self.NAME, GATEWAY_OVERRIDES, redis=self.REPLICAS > 1,
                                       replicas=self.REPLICAS)
        try:
            page = dep.replicas[-1]
            for listener in ("state", "external"):
                dep.port(listener)  # a clear failure if the derived config lacks one
            page.port("space")
            env = dict(os.environ)
            env.update({
                "QAQPA_STATE_URL": f"http://127.0.0.1:{dep.port('state')}",
                "QAQPA_EXTERNAL_URL": f"http://127.0.0.1:{dep.port('external')}",
                "QAQPA_SPACE_URL": f"http://127.0.0.1:{page.port('space')}",
                "QAQPA_CITIZEN": f"IIN:{CITIZENS[0]}",
                "QAQPA_OTHER_CITIZEN": f"IIN:{CITIZENS[1]}",
                "QAQPA_BROWSER_ARTIFACTS": artifacts,
                "QAQPA_SHARED_INDEX": "1" if self.REPLICAS > 1 else "0",
                "QAQPA_CHROMIUM": CHROMIUM,
            })
            code = run_node(SCENARIO, env, SCENARIO_TIMEOUT_S)
            what = (f"did not finish within {SCENARIO_TIMEOUT_S} s" if code is None
                    else f"exited with {code}")
            self.assertEqual(code, 0, f"space_scenario.mjs {what}; screenshots and console log "
                                      f"in {artifacts}")
        except BaseException:
            dep.failed = True  # dep.stop() prints the gateway's and providers' logs
            raise
        finally:
            dep.stop()


class SpacePageAcrossReplicas(SpacePageInChromium):
    REPLICAS = 2
    NAME = "browser-space-replicas"
    ARTIFACTS = "space-replicas"


if __name__ == "__main__":
    unittest.main()
