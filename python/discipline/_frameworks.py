"""What the framework callbacks (`discipline.lightning`, `discipline.huggingface`) share.

A framework decides when the optimizer steps (gradient accumulation, an AMP step skipped on an
overflow), so the callbacks count the steps where they happen: a hook on the torch optimizer
itself sets the schedule's learning rate and momentum just before each real step (after any
learning-rate scheduler of the framework's has stepped) and counts the step after it. The
framework's hooks then report each counted step's loss, ask for validation at `validate_at`
and stop the loop when discipline asks.

Standard library only; torch is touched through the optimizer the framework hands over.
"""
from __future__ import annotations

import atexit
import types
import inspect
import math
import sys
from typing import Any, Dict, Iterable, List, Mapping, Optional

from .trial import Trial


def make_trial(honours: Iterable[str], args: Any, environ: Optional[Mapping[str, str]],
               metrics: Optional[Mapping[str, str]]) -> Trial:
    """The helper's Trial, with `metrics` declared where the helper knows them."""
    if metrics and _accepts(Trial.__init__, "metrics"):
        return Trial(honours=honours, args=args, environ=environ, metrics=dict(metrics))
    trial = Trial(honours=honours, args=args, environ=environ)
    if metrics:
        trial.metrics = dict(metrics)
    return trial

PREFIX = "discipline"


def warn(framework: str, message: str) -> None:
    """One line on standard error, kept in the trial's stderr.txt under discipline."""
    print("%s.%s: %s" % (PREFIX, framework, message), file=sys.stderr, flush=True)


def missing(package: str, install: str, module: str) -> ImportError:
    return ImportError("discipline.%s needs %s, which this Python (%s) cannot import: "
                       "pip install %s" % (module, package, sys.executable, install))


def torch_optimizer(optimizer: Any) -> Any:
    """The torch.optim.Optimizer inside a framework's wrapper (accelerate's
    AcceleratedOptimizer, Lightning's LightningOptimizer, ...): follows `.optimizer` /
    `._optimizer` while the object has no `param_groups` of its own that are its own."""
    seen = set()
    while id(optimizer) not in seen:
        seen.add(id(optimizer))
        inner = getattr(optimizer, "optimizer", None) or getattr(optimizer, "_optimizer", None)
        if inner is None or not hasattr(inner, "param_groups"):
            break
        optimizer = inner
    return optimizer


def set_weight_decay(optimizer: Any, weight_decay: float) -> None:
    """The spec's weight decay on the groups that decay: every group whose weight decay is not
    0 (a group kept at 0 — biases, norms — stays at 0); when all are 0, every group."""
    groups = optimizer.param_groups
    decaying = [g for g in groups if g.get("weight_decay", 0)]
    for group in decaying or groups:
        group["weight_decay"] = weight_decay


def batch_samples(batch: Any) -> Optional[int]:
    """The samples in a batch: the first dimension of its first tensor (a tensor, a tuple or
    list, a dict, or an object with such attributes, like transformers' BatchEncoding)."""
    shape = getattr(batch, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    if isinstance(batch, Mapping):
        items: Iterable[Any] = batch.values()
    elif isinstance(batch, (list, tuple)):
        items = batch
    else:
        return None
    for item in items:
        n = batch_samples(item)
        if n is not None:
            return n
    return None


def _accepts(function: Any, name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


class Driver:
    """One framework run under a `Trial`: the count of real optimizer steps, each step's loss,
    the validation asked for and the `end` event.

    `steps` counts the steps of the first optimizer attached (the one the schedule's rows
    follow); another optimizer gets the same row before each of its steps.
    """

    def __init__(self, trial: Trial, framework: str) -> None:
        self.trial = trial
        self.framework = framework
        self.steps = 0              # real optimizer steps taken
        self.reported = 0           # train events written (steps 0 .. reported-1)
        self.losses: List[float] = []  # the losses of the micro-batches since the last step
        self.samples = 0
        self.world_size = 1
        self.validating: Optional[int] = None  # steps done at the validation asked for
        self.validated = set()                 # steps done already reported as val
        self.ended = False
        self.tested = False
        self._primary: Any = None
        self._attached: Dict[int, Any] = {}
        self._warned = set()
        self._report_accepts_metrics = _accepts(trial.report_val, "metrics")
        self._at_exit = False

    # Warnings and the start event ----------------------------------------------------------

    def warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warn(self.framework, message)

    def ignore(self, name: str, message: str) -> None:
        """A spec field the program does not apply: said on stderr, and listed in the start
        event's `ignores` (protocol additions) — through the helper's `ignore(name)` where it
        has one, else its list of them."""
        self.warn_once("ignore-" + name, message)
        public = getattr(self.trial, "ignore", None)
        if callable(public):
            public(name)
            return
        if getattr(self.trial, "_ignores", None) is None and hasattr(self.trial, "_ignores"):
            self.trial._ignores = []
        ignores = getattr(self.trial, "_ignores", None)
        if isinstance(ignores, list) and name not in ignores:
            ignores.append(name)

    def set_world_size(self, world_size: int) -> None:
        """The processes training together (the framework's count): `train` samples are
        reported across them."""
        self.world_size = max(1, int(world_size or 1))

    def per_device(self, batch_size: int, accumulation: int, what: str) -> int:
        """The per-device batch size that makes `batch_size` samples a step, over
        `accumulation` micro-batches on every device; warns when it does not divide."""
        parts = max(1, accumulation) * self.world_size
        size = max(1, batch_size // parts)
        if size * parts != batch_size:
            self.warn_once("divide", "the spec's batch_size %d does not divide by %d (accumulation %d x "
                           "%d devices): %s %d, %d samples a step" % (batch_size, parts, accumulation,
                                                                   self.world_size, what, size, size * parts))
        return size

    # The optimizer ---------------------------------------------------------------------------

    def attach(self, optimizer: Any) -> Any:
        """Hooks the torch optimizer inside `optimizer`: before each of its steps the schedule's
        row for the steps taken so far; after each step of the first one attached, one more
        step counted. A step that never reaches the optimizer (an AMP step skipped on an
        overflow: GradScaler does not call it) is not counted. Attaching again does nothing."""
        opt = torch_optimizer(optimizer)
        if id(opt) in self._attached:
            return opt
        if self._primary is None:
            self._primary = opt
        if hasattr(opt, "register_step_pre_hook") and hasattr(opt, "register_step_post_hook"):
            handles = (opt.register_step_pre_hook(lambda o, args, kwargs: self._before(o)),
                       opt.register_step_post_hook(lambda o, args, kwargs: self._after(o)))
        else:  # torch < 2.0: wrap the instance's step (keeping what a LR scheduler put on it)
            step = opt.step

            def hooked(optimizer: Any, *args: Any, **kwargs: Any) -> Any:
                self._before(opt)
                result = step(*args, **kwargs)
                self._after(opt)
                return result
            # a bound method, as torch's LR schedulers expect of `optimizer.step` (one made
            # after this wraps it again through its __func__ and __self__)
            if getattr(step, "_with_counter", False):
                hooked._with_counter = True  # type: ignore[attr-defined]
            opt.step = types.MethodType(hooked, opt)
            handles = (step,)
        self._attached[id(opt)] = (opt, handles)
        return opt

    def detach(self) -> None:
        for opt, handles in self._attached.values():
            if len(handles) == 2 and hasattr(handles[0], "remove"):
                for h in handles:
                    h.remove()
            else:
                opt.step = handles[0]
        self._attached.clear()
        self._primary = None

    def _before(self, opt: Any) -> None:
        try:
            self.trial.apply_schedule(opt, self.steps)
        except IndexError:  # a step past the schedule (the stop comes at the next hook)
            pass

    def _after(self, opt: Any) -> None:
        if opt is self._primary:
            self.steps += 1

    # Losses and steps ------------------------------------------------------------------------

    def add(self, loss: Any, samples: Optional[int]) -> None:
        """One micro-batch's mean loss and samples on this device (of the step being taken)."""
        if loss is None:
            return
        self.losses.append(float(loss))
        if samples:
            self.samples += int(samples)

    def flush(self) -> int:
        """Writes a `train` event for every step counted since the last: the mean loss of the
        micro-batches since then and their samples times the devices. Returns the steps done."""
        if self.steps > self.reported:
            if self.losses:
                loss = sum(self.losses) / len(self.losses)
            else:
                self.warn_once("no-loss", "a step without a training loss to report; reporting NaN")
                loss = math.nan
            samples = self.samples * self.world_size
            while self.reported < self.steps:  # one event a step, in order
                self.trial.report_train(self.reported, loss, samples)
                self.reported += 1
            self.losses, self.samples = [], 0
        return self.steps

    # Validation, test, end -------------------------------------------------------------------

    def report(self, kind: str, step: int, loss: Any, accuracy: Any = None,
               metrics: Optional[Dict[str, Any]] = None) -> None:
        """A `val` or `test` event, with `accuracy` and `metrics` when known (protocol
        additions: accuracy optional, metrics) — through the helper's keywords where it has
        them."""
        method = self.trial.report_val if kind == "val" else self.trial.report_test
        if loss is None:
            self.warn_once("no-%s-loss" % kind, "no %s loss to report (log it under the name given "
                           "to the callback)" % ("validation" if kind == "val" else "test"))
            return
        if self._report_accepts_metrics:
            kwargs: Dict[str, Any] = {}
            if metrics:
                kwargs["metrics"] = metrics
            method(step, loss, None if accuracy is None else float(accuracy), **kwargs)
        elif accuracy is not None:
            method(step, loss, accuracy)
        elif self.trial.active:  # a helper that still wants accuracy: the event without it
            self.trial._emit({"event": kind, "step": int(step), "loss": float(loss)})

    def end(self, defer: bool = False) -> None:
        """The `end` event, after the last train event. `defer` (a final run before its test):
        written after the test report, or when the program exits normally."""
        if self.ended or not self.trial.active:
            return
        self.flush()
        if defer and not self.tested:
            if not self._at_exit:
                self._at_exit = True
                atexit.register(self._end_at_exit)
            return
        self.ended = True
        self.trial.end(self.reported)

    def _end_at_exit(self) -> None:
        if self.ended or getattr(sys, "last_value", None) is not None:  # a crash: no end
            return
        self.warn_once("no-test", "the final run ended without a test measurement: evaluate the "
                       "test split after training (see the callback's documentation)")
        try:
            self.ended = True
            self.trial.end(self.reported)
        except OSError:
            pass
