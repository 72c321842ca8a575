"""What the callback tests (test_huggingface.py, test_lightning.py) share: the protocol's
guarantees on a run's events, a recorder of the rates each real optimizer step used, and the
check that `import discipline` never imports a framework."""
import os
import subprocess
import sys
import unittest

import support


def check_guarantees(test, events, steps=None):
    """Docs/PROTOCOL.md's guarantees: `start` first and once; train steps 0, 1, 2, ... in
    order; val/test steps within the steps done; `end` once, last, with the steps taken."""
    test.assertTrue(events, "no events")
    test.assertEqual(events[0]["event"], "start")
    test.assertEqual([e["event"] for e in events].count("start"), 1)
    test.assertEqual(events[-1]["event"], "end")
    test.assertEqual([e["event"] for e in events].count("end"), 1)
    done = 0
    for e in events[1:-1]:
        if e["event"] == "train":
            test.assertEqual(e["step"], done, "train steps out of order: %r" % events)
            done += 1
        else:
            test.assertIn(e["event"], ("val", "test"))
            test.assertLessEqual(e["step"], done)
            test.assertGreaterEqual(e["step"], 1)
    test.assertEqual(events[-1]["steps"], done)
    if steps is not None:
        test.assertEqual(done, steps)
    times = [e["time"] for e in events]
    test.assertEqual(times, sorted(times))


def schedule_rows(steps):
    """The rows support.make_spec writes by default: (lr, momentum) per step."""
    return [(0.01 * (i + 1), round(0.95 - 0.001 * i, 6)) for i in range(steps)]


class StepRecorder:
    """Wraps a torch optimizer's `step` (outermost) and records, after each real step, every
    group's learning rate and momentum (`momentum` or `betas[0]`): the values the step used."""

    def __init__(self, optimizer):
        self.seen = []
        inner = optimizer.step

        def step(*args, **kwargs):
            result = inner(*args, **kwargs)
            self.seen.append([(g["lr"], g["momentum"] if "momentum" in g else g["betas"][0])
                              for g in optimizer.param_groups])
            return result
        optimizer.step = step


class ImportTest(unittest.TestCase):
    """Runs under any Python, framework or not."""
    module = None     # "discipline.huggingface"
    framework = None  # "transformers"
    install = None    # the name the error must give

    def run_python(self, code):
        env = support.plain_environment()
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)

    def test_import_discipline_never_imports_the_framework(self):
        if self.module is None:
            self.skipTest("base class")
        r = self.run_python("import sys, discipline; assert %r not in sys.modules and 'torch' not in sys.modules, "
                            "sorted(sys.modules)" % self.framework)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_without_the_framework_the_module_names_the_package_to_install(self):
        if self.module is None:
            self.skipTest("base class")
        probe = self.run_python("import %s" % self.framework)
        if probe.returncode == 0:
            self.skipTest("%s is importable here" % self.framework)
        r = self.run_python("import %s" % self.module)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError", r.stderr)
        self.assertIn("pip install %s" % self.install, r.stderr)
