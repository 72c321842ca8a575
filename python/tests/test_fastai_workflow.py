"""The pure parts of scripts/fastai_workflow.py (the fastai-workflow yardstick of issue #17):
fastai's valley suggestion and fit_one_cycle's schedule. Standard library only; no training."""
import importlib.util
import math
import os
import unittest

import support

_spec = importlib.util.spec_from_file_location("fastai_workflow", os.path.join(support.REPO, "scripts", "fastai_workflow.py"))
fw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fw)


class ValleyTest(unittest.TestCase):
    def test_u_shaped_curve(self):
        # 60 decreasing points, then rising: the longest decreasing run is 0..59 (length 60);
        # fastai's start is end - length = -1, and the pick is -1 + int(60/3) + int(20/2) = 29.
        losses = [2.3 - 0.02 * i for i in range(60)] + [1.12 + 0.1 * i for i in range(25)]
        lrs = [1e-6 * 1.2 ** i for i in range(len(losses))]
        lr, i = fw.valley(lrs, losses)
        self.assertEqual(i, 29)
        self.assertEqual(lr, lrs[29])

    def test_noisy_curve_uses_longest_decreasing_subsequence(self):
        losses = [3, 2, 2.5, 1.5, 1, 4, 0.8]   # longest decreasing: 3, 2, 1.5, 1, 0.8 (ends at 6)
        lr, i = fw.valley([10.0 ** k for k in range(7)], losses)
        self.assertEqual(i, 2)                # start 6 - 5 = 1; 1 + int(5/3) + int(5/6)
        self.assertEqual(lr, 100.0)

    def test_window_drops_first_tenth_last_five_and_nan(self):
        lrs = [fw.lr_find_lr(i) for i in range(100)]
        losses = [1.0] * 100
        w_lrs, w_losses = fw.suggestion_window(lrs, losses)
        self.assertEqual(w_lrs, lrs[10:95])
        losses[50] = float("nan")
        w_lrs, w_losses = fw.suggestion_window(lrs, losses)
        self.assertEqual(w_lrs, lrs[10:50])
        self.assertAlmostEqual(fw.lr_find_lr(0), 1e-7)
        self.assertAlmostEqual(fw.lr_find_lr(100), 10.0)


class OneCycleTest(unittest.TestCase):
    def test_first_peak_last(self):
        lr_max, total = 4e-3, 1000
        lr, mom = fw.one_cycle(0, total, lr_max)
        self.assertAlmostEqual(lr, lr_max / 25, delta=1e-15)
        self.assertAlmostEqual(mom, 0.95)
        lr, mom = fw.one_cycle(250, total, lr_max)   # pct_start 0.25
        self.assertAlmostEqual(lr, lr_max, delta=1e-15)
        self.assertAlmostEqual(mom, 0.85)
        lr, mom = fw.one_cycle(125, total, lr_max)   # half-way up: cosine midpoint
        self.assertAlmostEqual(lr, (lr_max / 25 + lr_max) / 2, delta=1e-15)
        self.assertAlmostEqual(mom, 0.90)
        lr, mom = fw.one_cycle(total - 1, total, lr_max)   # last batch (pos 0.999): just above lr/1e5
        p = (0.999 - 0.25) / 0.75
        self.assertAlmostEqual(lr, lr_max / 1e5 + (lr_max - lr_max / 1e5) * (1 - math.cos(math.pi * (1 - p))) / 2,
                               delta=1e-18)
        self.assertTrue(lr_max / 1e5 < lr < lr_max / 1e4)
        self.assertAlmostEqual(mom, 0.95, places=5)
        lr, mom = fw.one_cycle(total, total, lr_max)   # the schedule's end
        self.assertAlmostEqual(lr, lr_max / 1e5, delta=1e-18)
        self.assertAlmostEqual(mom, 0.95)

    def test_monotone_phases(self):
        lrs = [fw.one_cycle(k, 400, 1e-2)[0] for k in range(400)]
        self.assertEqual(max(range(400), key=lrs.__getitem__), 100)
        self.assertTrue(all(a < b for a, b in zip(lrs[:100], lrs[1:101])))
        self.assertTrue(all(a > b for a, b in zip(lrs[100:], lrs[101:])))

    def test_plan(self):
        self.assertEqual(fw.plan_epochs(1200, 30, 25.0, 0.0), 46)
        self.assertEqual(fw.plan_epochs(1200, 30, 25.0, 0.02), 45)
        self.assertEqual(fw.plan_epochs(90, 80, 25.0, 0.02), 1)
        self.assertTrue(math.isfinite(fw.plan_epochs(90, 10, 1e-3, 0.0)))


if __name__ == "__main__":
    unittest.main()
