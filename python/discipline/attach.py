"""The PyTorch side of `Trial.attach` and `Trial.hold_out` (discipline/trial.py): a trial
attached to a script's own loop through its optimizer's `step`.

The script keeps its shape (epochs over DataLoaders, gradient accumulation, GradScaler, DDP,
a StepLR it steps itself): the instance's `optimizer.step` is wrapped so that

- before each step actually taken, the schedule's row of the steps taken so far is applied
  (a step that GradScaler skips never calls `optimizer.step()`, and accumulation micro-batches
  do not call it, so neither advances the schedule);
- after it, the step's `train` event is written with the losses recorded since the previous
  step (`Trial.criterion` records them; `Trial.record_loss` is the per-batch alternative), the
  helper validates at `validate_at`, and when the run is over it ends it: the final run's
  `test` event, the model saved where `save_model` asks, `end`, and SystemExit(0).

Imported by `Trial.attach`/`Trial.hold_out` only: PyTorch is needed here, not in trial.py.
"""
from __future__ import annotations

import atexit
import os
import random
import sys
import types
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
from torch.utils.data import DataLoader, Subset


def split(dataset: Any, fraction: float, seed: int) -> Tuple[Any, Any]:
    """(training, validation) Subsets of `dataset`: `fraction` of it held out by a fixed shuffle
    of `seed` (the same in every process and every run), each side in the dataset's order."""
    if not 0 < fraction < 1:
        raise ValueError("hold_out's fraction must be in (0, 1), not %r" % (fraction,))
    n = len(dataset)
    held = min(n - 1, max(1, int(round(n * fraction)))) if n > 1 else 0
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return Subset(dataset, sorted(order[held:])), Subset(dataset, sorted(order[:held]))


def unwrap(model: Any) -> Any:
    """The module inside DistributedDataParallel or DataParallel (evaluated and saved alone:
    no collectives, the plain state_dict keys)."""
    wrappers = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
    return model.module if isinstance(model, wrappers) else model


def _to(value: Any, device: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(_to(v, device) for v in value)
    return value


class Attachment:
    """The state of one attached optimizer: steps taken, the losses and samples recorded since
    the last step, and what the helper measures with (model, loss, evaluate, the splits)."""

    def __init__(self, trial: Any, optimizer: Any, model: Any, loss: Optional[Callable],
                 evaluate: Optional[Callable], validation: Any, test: Any,
                 eval_batch_size: Optional[int]) -> None:
        self.trial = trial
        self.optimizer = optimizer
        self.model = model
        self.loss = getattr(loss, "_discipline_original", loss)
        self.evaluate = evaluate
        self.validation = validation
        self.test = test
        self.eval_batch_size = eval_batch_size
        self.taken = 0              # optimizer steps taken
        self.losses: List[Any] = []  # recorded since the last step (detached tensors or floats)
        self.samples = 0            # of the losses recorded since the last step
        self.last_forward: Optional[int] = None  # the batch of the model's last training forward
        self.awaiting = False       # a step taken before its loss was recorded
        self.failed = False         # the script raised: no end at exit
        self.finishing = False
        self._refuse_what_cannot_be_measured()
        self._wrap_step()
        if model is not None and hasattr(model, "register_forward_pre_hook"):
            model.register_forward_pre_hook(self._count_forward)
        previous = sys.excepthook

        def excepthook(kind: Any, value: Any, traceback: Any) -> None:
            self.failed = True
            previous(kind, value, traceback)

        sys.excepthook = excepthook
        atexit.register(self._at_exit)

    def _refuse_what_cannot_be_measured(self) -> None:
        spec = self.trial.spec
        wants = []
        if spec.get("validate_at"):
            wants.append("validation at steps %s" % ", ".join(map(str, sorted(spec["validate_at"])[:5])))
        if spec.get("final"):
            wants.append("a test event")
        missing = []
        if wants and self.model is None:
            missing.append("the model: trial.attach(optimizer, model)")
        if wants and self.loss is None and self.evaluate is None:
            missing.append("a loss function: F.cross_entropy = trial.criterion(F.cross_entropy), "
                           "or attach(..., loss=fn) or attach(..., evaluate=fn)")
        if spec.get("validate_at") and self.validation is None:
            missing.append("a validation split: train_set = trial.hold_out(train_set, test=test_set), "
                           "or attach(..., validation=dataset)")
        if spec.get("final") and self.test is None:
            missing.append("the test set: trial.hold_out(train_set, test=test_set), or attach(..., test=dataset)")
        if missing:
            raise ValueError("discipline: the spec %s asks for %s, which the helper measures; it needs %s"
                             % (self.trial._spec_path, " and ".join(wants), "; ".join(missing)))

    def _wrap_step(self) -> None:
        original = self.optimizer.step
        attachment = self

        def step(optimizer: Any, *args: Any, **kwargs: Any) -> Any:
            attachment.before_step()
            result = original(*args, **kwargs)
            attachment.after_step()
            return result

        # a bound method, as torch's LR schedulers expect of `optimizer.step` (they wrap it
        # again through its __func__); one they wrapped already stays marked as counted
        if getattr(original, "_with_counter", False):
            step._with_counter = True  # type: ignore[attr-defined]
        self.optimizer.step = types.MethodType(step, self.optimizer)

    def _count_forward(self, module: Any, inputs: Tuple[Any, ...]) -> None:
        if module.training and torch.is_grad_enabled() and inputs:
            shape = getattr(inputs[0], "shape", None)
            if shape:
                self.last_forward = int(shape[0])

    # The step's two sides ----------------------------------------------------------------------

    def before_step(self) -> None:
        if self.awaiting:
            raise RuntimeError("discipline: optimizer step %d was taken without a training loss: wrap the "
                               "loss function (F.cross_entropy = trial.criterion(F.cross_entropy)) or call "
                               "trial.record_loss(loss) every batch" % (self.taken - 1))
        self.trial.apply_schedule(self.optimizer, self.taken)

    def after_step(self) -> None:
        self.taken += 1
        if self.losses:
            self.complete_step()
        else:
            self.awaiting = True

    def record(self, loss: Any, samples: Optional[int], target_samples: Optional[int]) -> None:
        """One batch's loss; its samples: `samples` if given, else the first dimension of the
        model's last training input since the previous loss (a language model's criterion sees
        flattened tokens, the model the sequences), else the criterion target's, else the
        spec's batch size per rank."""
        self.losses.append(loss.detach() if hasattr(loss, "detach") else float(loss))
        if samples is None:
            samples = self.last_forward if self.last_forward is not None else target_samples
        self.last_forward = None
        self.samples += int(samples) if samples else self.trial.batch_size_per_rank(default=0)
        if self.awaiting:
            self.awaiting = False
            self.complete_step()

    def complete_step(self) -> None:
        """The step's train event (the mean of its recorded losses, its samples across ranks),
        then validation at `validate_at`, then the end when the run is over."""
        trial, done = self.trial, self.taken
        total = self.losses[0]
        for value in self.losses[1:]:
            total = total + value
        loss = float(total) / len(self.losses)
        samples = self.samples or trial.batch_size_per_rank(default=0) or 1
        self.losses, self.samples = [], 0
        trial.report_train(done - 1, loss, samples * trial.world_size())
        if trial.should_validate(done) and trial._is_writer():
            trial.report_val(done, *self.measure(self.validation, trial.spec.get("validation_batches")))
        if trial.should_stop(done):
            self.finish(exit=True)

    # Measuring and ending ----------------------------------------------------------------------

    def measure(self, dataset: Any, batches: Optional[int]) -> Tuple[float, Optional[float], Dict[str, Any]]:
        """(loss, accuracy or None, metrics) of the model on `dataset` (its first `batches`
        batches of the spec's batch size, or all of it), in eval mode without gradients; the
        training's random state and the model's mode are left as they were."""
        spec_batch = self.trial.spec.get("batch_size") or 64
        if batches is not None:
            dataset = Subset(dataset, range(min(len(dataset), batches * spec_batch)))
        loader = DataLoader(dataset, batch_size=self.eval_batch_size or spec_batch, shuffle=False,
                            generator=torch.Generator())
        model = unwrap(self.model)
        state = torch.get_rng_state()
        training = model.training
        model.eval()
        try:
            with torch.no_grad():
                result = self.evaluate(model, loader) if self.evaluate is not None else self._evaluate(model, loader)
        finally:
            model.train(training)
            torch.set_rng_state(state)
        if isinstance(result, Mapping):
            values = dict(result)
            if "loss" not in values:
                raise ValueError("discipline: evaluate returned %r without a \"loss\"" % (sorted(values),))
            loss, accuracy = values.pop("loss"), values.pop("accuracy", None)
            return float(loss), accuracy, values
        if isinstance(result, (tuple, list)):
            return float(result[0]), (result[1] if len(result) > 1 else None), {}
        return float(result), None, {}

    def _evaluate(self, model: Any, loader: Any) -> Dict[str, Any]:
        """The mean of `loss(model(x), y)` over the batches (weighted by their sizes) and, when
        the outputs are class scores for integer targets, the accuracy."""
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        total, correct, n, classes = 0.0, 0, 0, True
        for batch in loader:
            if not isinstance(batch, (list, tuple)) or len(batch) < 2:
                raise TypeError("discipline: the validation batches are not (inputs, targets) pairs: "
                                "pass attach(..., evaluate=fn), fn(model, loader) -> loss or dict")
            x, y = _to(batch[0], device), _to(batch[1], device)
            out = model(x)
            count = len(y)
            total += float(self.loss(out, y)) * count
            if (classes and isinstance(out, torch.Tensor) and out.ndim == 2 and isinstance(y, torch.Tensor)
                    and y.ndim == 1 and not y.is_floating_point() and out.shape[0] == count):
                correct += int((out.argmax(1) == y).sum())
            else:
                classes = False
            n += count
        if n == 0:
            raise ValueError("discipline: the split to measure is empty")
        return {"loss": total / n, "accuracy": correct / n if classes else None}

    def finish(self, exit: bool) -> None:
        """Ends the run: the final run's test event, the model saved (rank 0), `end`; then
        SystemExit(0) from inside optimizer.step() when `exit`."""
        if self.finishing:
            return
        self.finishing = True
        trial = self.trial
        done = trial._steps_done
        if trial._is_writer():
            if trial.spec.get("final") and not trial._nonfinite and self.test is not None and self.model is not None:
                trial.report_test(done, *self.measure(self.test, None))
            path = trial.get("save_model")
            if path and self.model is not None:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                torch.save(unwrap(self.model).state_dict(), path)
        trial.end()
        if exit:
            if trial._is_writer():
                print("discipline: the run is over after %d steps: ended it (exit 0)" % done,
                      file=sys.stderr, flush=True)
            raise SystemExit(0)

    def _at_exit(self) -> None:
        """The script's loop ended before the run did (its epochs ran out): end it there, as
        if the stop had come; nothing when the script failed."""
        if self.failed or self.finishing or self.trial._ended:
            return
        self.trial._warn("the script's loop ended after %d of the spec's %d steps (raise its epochs, "
                         "or let override() raise them)" % (self.trial._steps_done, self.trial.spec["steps"]))
        self.finish(exit=False)
