"""discipline.huggingface.Trial on the real transformers Trainer (CPU, a tiny model).

Skipped where transformers does not import (the README's test command with /usr/bin/python3):
scripts/setup-frameworks.sh makes .venv-hf (Debian's torch, transformers 4.40.2, accelerate
0.29.3), and `.venv-hf/bin/python -m unittest discover -s python/tests -p 'test_huggingface.py'`
runs them.
"""
import os
import tempfile
import unittest

import framework_support
import support
from framework_support import StepRecorder, check_guarantees, schedule_rows
from support import make_spec, read_events

try:
    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import Trainer, TrainerCallback, TrainingArguments
except ImportError:
    transformers = None

needs_transformers = unittest.skipIf(transformers is None, "transformers is not importable here "
                                     "(scripts/setup-frameworks.sh makes .venv-hf)")


class ImportTest(framework_support.ImportTest):
    module, framework, install = "discipline.huggingface", "transformers", "transformers"


if transformers is not None:
    import discipline.huggingface

    class Net(torch.nn.Module):
        """A linear classifier of 8 features into 3 classes, as a transformers model: a dict
        with `loss` (given labels) and `logits`."""

        def __init__(self):
            super().__init__()
            self.hidden = torch.nn.Linear(8, 16)
            self.out = torch.nn.Linear(16, 3)

        def forward(self, x, labels=None):
            logits = self.out(torch.relu(self.hidden(x)))
            result = {"logits": logits}
            if labels is not None:
                result["loss"] = F.cross_entropy(logits, labels)
            return result

    class Data(torch.utils.data.Dataset):
        def __init__(self, n, seed):
            g = torch.Generator().manual_seed(seed)
            self.x = torch.randn(n, 8, generator=g)
            self.y = (self.x[:, 0] > 0).long() + (self.x[:, 1] > 0).long()

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return {"x": self.x[i], "labels": self.y[i]}

    def accuracy(prediction):
        logits, labels = prediction
        return {"accuracy": float((logits.argmax(-1) == labels).mean())}

    class Recorder(TrainerCallback):
        """After the discipline callback: records each real step's rates; `stop_at` creates
        the stop file once that many steps are done."""

        def __init__(self, stop_file=None, stop_at=None):
            self.recorder, self.stop_file, self.stop_at = None, stop_file, stop_at

        def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
            self.recorder = StepRecorder(discipline._frameworks.torch_optimizer(optimizer))

        def on_step_end(self, args, state, control, **kwargs):
            if self.stop_at is not None and len(self.recorder.seen) == self.stop_at:
                open(self.stop_file, "w").close()


@needs_transformers
class TrainerTest(unittest.TestCase):
    def setUp(self):
        torch.set_num_threads(1)
        transformers.logging.set_verbosity_error()
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.addCleanup(self.tmp.cleanup)

    def train(self, environ, callbacks=True, recorder=None, final_test=False, **arguments):
        """Trains Net on 64 samples (per-device batch 4, accumulation 2 unless the spec says
        otherwise); returns (trainer, recorder)."""
        options = dict(output_dir=os.path.join(self.dir, "out"), per_device_train_batch_size=4,
                       gradient_accumulation_steps=2, max_steps=5, learning_rate=0.05, seed=1,
                       weight_decay=0.0, report_to=[], save_strategy="no", logging_strategy="steps",
                       logging_steps=3, evaluation_strategy="steps", eval_steps=1, use_cpu=True,
                       disable_tqdm=True, dataloader_num_workers=0)
        options.update(arguments)
        recorder = recorder or Recorder()
        extra = [discipline.huggingface.Trial(environ=environ)] if callbacks else []
        trainer = Trainer(model_init=Net, args=TrainingArguments(**options), train_dataset=Data(64, 0),
                          eval_dataset=Data(24, 1), compute_metrics=accuracy, callbacks=extra + [recorder])
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)  # quiet
        trainer.train()
        if final_test:
            trainer.evaluate(Data(16, 2), metric_key_prefix="test")
        return trainer, recorder

    def test_follows_the_schedule_per_real_optimizer_step_with_accumulation_2(self):
        env = make_spec(self.dir, steps=6, batch_size=16, weight_decay=0.01)
        trainer, recorder = self.train(env)
        self.assertEqual(trainer.args.per_device_train_batch_size, 8)  # 16 = 8 x accumulation 2
        self.assertEqual(trainer.args.max_steps, 6)
        rows = schedule_rows(6)
        self.assertEqual(len(recorder.recorder.seen), 6)
        for seen, (lr, momentum) in zip(recorder.recorder.seen, rows):
            for group_lr, group_momentum in seen:
                self.assertEqual(group_lr, lr)
                self.assertEqual(group_momentum, momentum)
        optimizer = discipline._frameworks.torch_optimizer(trainer.optimizer)
        decays = sorted({g["weight_decay"] for g in optimizer.param_groups})
        self.assertEqual(decays, [0.0, 0.01])  # the Trainer's no-decay group (biases) stays at 0
        events = read_events(self.dir)
        check_guarantees(self, events, steps=6)
        train = [e for e in events if e["event"] == "train"]
        self.assertEqual([e["samples"] for e in train], [16] * 6)
        self.assertTrue(all(0 < e["loss"] < 5 for e in train))
        self.assertEqual([e for e in events if e["event"] == "val"], [])  # validate_at is empty

    def test_the_reported_loss_is_the_mean_of_the_steps_micro_batches(self):
        env = make_spec(self.dir, steps=3, batch_size=8)
        losses = []

        class Losses(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kwargs):
                model.register_forward_hook(lambda m, i, o: losses.append(float(o["loss"])) if m.training else None)
        trainer = Trainer(model_init=Net, args=TrainingArguments(
            output_dir=os.path.join(self.dir, "out"), per_device_train_batch_size=4, gradient_accumulation_steps=2,
            seed=1, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True),
            train_dataset=Data(64, 0), callbacks=[discipline.huggingface.Trial(environ=env), Losses()])
        trainer.train()
        train = [e for e in read_events(self.dir) if e["event"] == "train"]
        self.assertEqual(len(losses), 6)
        for i, e in enumerate(train):
            self.assertAlmostEqual(e["loss"], (losses[2 * i] + losses[2 * i + 1]) / 2, places=12)

    def test_stops_when_the_stop_file_appears(self):
        env = make_spec(self.dir, steps=20, batch_size=8)
        trainer, recorder = self.train(env, recorder=Recorder(env["DISCIPLINE_STOP"], stop_at=3))
        # the stop file appeared after 3 steps, after discipline's check: seen after the 4th
        self.assertEqual(len(recorder.recorder.seen), 4)
        events = read_events(self.dir)
        check_guarantees(self, events, steps=4)

    def test_validates_at_validate_at_only(self):
        env = make_spec(self.dir, steps=6, batch_size=8, validate_at=[2, 5])
        trainer, _ = self.train(env)  # the Trainer's own evaluation_strategy asks at every step
        events = read_events(self.dir)
        check_guarantees(self, events, steps=6)
        vals = [e for e in events if e["event"] == "val"]
        self.assertEqual([e["step"] for e in vals], [2, 5])
        names = [(e["event"], e["step"]) for e in events[1:-1]]
        self.assertEqual(names.index(("val", 2)), names.index(("train", 1)) + 1)
        self.assertEqual(names.index(("val", 5)), names.index(("train", 4)) + 1)
        for e in vals:
            self.assertTrue(0 < e["loss"] < 5 and 0 <= e["accuracy"] <= 1)
        final = trainer.evaluate()  # the model after step 6: the val at 5 was before it
        self.assertNotEqual(final["eval_loss"], vals[-1]["loss"])

    def test_final_run_reports_the_test_split_then_ends(self):
        env = make_spec(self.dir, steps=4, batch_size=8, validate_at=[4], final=True)
        self.train(env, final_test=True)
        events = read_events(self.dir)
        check_guarantees(self, events, steps=4)
        self.assertEqual([(e["event"], e["step"]) for e in events[-3:-1]], [("val", 4), ("test", 4)])
        self.assertIn("accuracy", events[-2])

    def test_without_discipline_it_does_nothing_bit_for_bit(self):
        plain = {k: v for k, v in os.environ.items() if not k.startswith("DISCIPLINE_")}
        a, _ = self.train(plain, callbacks=True, max_steps=7)
        b, _ = self.train(plain, callbacks=False, max_steps=7)
        for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
            self.assertTrue(torch.equal(x, y), name)
        def losses(trainer):
            return [(h["step"], h.get("loss"), h.get("eval_loss")) for h in trainer.state.log_history]
        self.assertEqual(losses(a), losses(b))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "events.jsonl")))


if __name__ == "__main__":
    unittest.main()
