"""`qaqpa --validate-config`: the demo bundle and the harness-derived configs are valid; a broken
file exits 1 and lists every error as "where: message"."""

import os
import subprocess
import tempfile
import unittest

import harness
import miniyaml


def validate(path):
    p = subprocess.run([harness.gateway_bin(), "--validate-config", path], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


class ValidateConfigTest(unittest.TestCase):
    def test_demo_bundle_is_valid(self):
        rc, out = validate(os.path.join(harness.demo_bundle_dir(), "qaqpa.yaml"))
        self.assertEqual(rc, 0, out)

    def test_derived_test_config_is_valid(self):
        with tempfile.TemporaryDirectory(prefix="qaqpa-it-config-") as tmp:
            bundle = harness.Bundle(os.path.join(tmp, "policies"))
            cfg = harness.derive_gateway_config(bundle.gateway_config(), bundle.dir,
                                                {"workers": 1})
            path = os.path.join(tmp, "qaqpa.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(miniyaml.dumps(cfg))
            rc, out = validate(path)
            self.assertEqual(rc, 0, out)

    def test_every_error_is_listed(self):
        with tempfile.TemporaryDirectory(prefix="qaqpa-it-config-") as tmp:
            bundle = harness.Bundle(os.path.join(tmp, "policies"))
            cfg = harness.derive_gateway_config(
                bundle.gateway_config(), bundle.dir,
                {"no_such_key_for_test": 1, "limits": {"max_body_bytes": "lots"}})
            path = os.path.join(tmp, "qaqpa.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(miniyaml.dumps(cfg))
            rc, out = validate(path)
            self.assertEqual(rc, 1, out)
            self.assertIn("no_such_key_for_test", out)
            self.assertIn("max_body_bytes", out)
            error_lines = [line for line in out.splitlines() if ": " in line]
            self.assertGreaterEqual(len(error_lines), 2, out)

    def test_missing_file(self):
        rc, out = validate("/nonexistent/qaqpa.yaml")
        self.assertEqual(rc, 1, out)


if __name__ == "__main__":
    unittest.main()
