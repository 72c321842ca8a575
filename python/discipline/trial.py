"""The program's side of discipline's trial protocol, version 1 (Docs/PROTOCOL.md).

discipline runs a training program once per *spec* (a directory with `spec.json` and
`schedule.csv`), names the files in the environment (`DISCIPLINE_SPEC`, `DISCIPLINE_EVENTS`,
`DISCIPLINE_STOP`, `DISCIPLINE_DIR`) and reads the events the program appends to
`events.jsonl`. `Trial` does the program's part: it reads and checks the spec and the
schedule, sets every parameter group's learning rate and momentum before each step, writes the
events, and tells the loop when to validate and when to stop.

Without `DISCIPLINE_SPEC` a `Trial` is inactive: every method is a cheap no-op that returns
the script's own defaults, so the same script still trains on its own.

Standard library only; PyTorch is touched only under torch.distributed (imported by the script).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple, TypeVar

_Args = TypeVar("_Args")

PROTOCOL = 1
OPTIONAL = ("dropout", "augmentation")  # hyper-parameters a program may or may not honour
EX_DATAERR, EX_NOINPUT = 65, 66          # exit codes: malformed input, missing input (sysexits.h)

# The spec fields a script takes over from the spec (`Trial.override`), in the spec's names.
SCRIPT_FIELDS = ("batch_size", "seed", "weight_decay", "dropout", "augmentation", "steps",
                 "final", "save_model", "validation_batches")


class SpecError(ValueError):
    """A spec or schedule that cannot be run; the message names the file (and line, if known).

    `exit_code` is 66 when a file is missing or unreadable, 65 when it is malformed or speaks
    another protocol version.
    """

    def __init__(self, message: str, exit_code: int = EX_DATAERR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


# field -> (check of a present value, what the value must be). `None` passes where allowed.
_CHECKS = {
    "kind": (lambda v: isinstance(v, str), "a string"),
    "key": (lambda v: isinstance(v, str), "a string"),
    "batch_size": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "seed": (_is_int, "an integer"),
    "weight_decay": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "dropout": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "augmentation": (lambda v: isinstance(v, str), "a string (none, flip or crop-flip)"),
    "steps": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "schedule": (lambda v: isinstance(v, str) and v != "", "a file name"),
    "validate_at": (lambda v: isinstance(v, list) and all(_is_int(s) and s >= 1 for s in v),
                    "a list of step counts >= 1"),
    "validation_batches": (lambda v: v is None or (_is_int(v) and v > 0), "a positive integer or null"),
    "final": (lambda v: isinstance(v, bool), "true or false"),
    "save_model": (lambda v: v is None or isinstance(v, str), "a path or null"),
    "max_seconds": (lambda v: v is None or (_is_number(v) and v > 0), "a positive number or null"),
}
_REQUIRED = ("protocol", "steps", "schedule")


def _line_of(text: str, key: str) -> Optional[int]:
    """The 1-based line of `text` where `"key"` first appears, or None."""
    needle = '"%s"' % key
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None


def _where(path: str, line: Optional[int]) -> str:
    return "%s line %d" % (path, line) if line else path


def load_spec(path: str) -> Dict[str, Any]:
    """Reads and checks `spec.json`; returns it as a dict.

    Raises SpecError naming the file (and line) when it is missing (exit code 66), is not a
    JSON object, lacks `protocol`, `steps` or `schedule`, has a field of the wrong type, or
    speaks a protocol other than 1. Unknown fields are ignored.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SpecError("cannot read the spec %s: %s" % (path, e.strerror or e), EX_NOINPUT)
    try:
        spec = json.loads(text)
    except ValueError as e:
        raise SpecError("%s: not valid JSON (%s)" % (_where(path, getattr(e, "lineno", None)),
                                                     getattr(e, "msg", e)))
    if not isinstance(spec, dict):
        raise SpecError("%s: the spec is not a JSON object" % path)
    if "protocol" not in spec:
        raise SpecError("%s: the spec has no \"protocol\"" % path)
    version = spec["protocol"]  # checked first: another version may have other fields
    if version != PROTOCOL or not _is_int(version):
        raise SpecError("%s: the spec speaks protocol %s; this program speaks protocol %d only "
                        "(update the discipline package)"
                        % (_where(path, _line_of(text, "protocol")), json.dumps(version), PROTOCOL))
    for key in _REQUIRED:
        if key not in spec:
            raise SpecError("%s: the spec has no \"%s\"" % (path, key))
    for key, (check, what) in _CHECKS.items():
        if key in spec and not check(spec[key]):
            raise SpecError("%s: \"%s\" must be %s, not %s"
                            % (_where(path, _line_of(text, key)), key, what, json.dumps(spec[key])))
    return spec


def load_schedule(path: str, steps: int) -> Tuple[List[float], List[float]]:
    """Reads `schedule.csv` as discipline writes it and reads it back (Docs/PROTOCOL.md): the
    header `step,lr,momentum`, then one row per step with `step` counting from 0. Returns
    (learning rates, momenta).

    Raises SpecError naming the file and line for a missing file (exit code 66), another
    header, a row with other than three fields, a step out of order, a value that is not a
    finite number (or a negative learning rate), or a row count other than `steps`. Blank lines
    are skipped; spaces around a field are not significant.
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise SpecError("cannot read the schedule %s: %s" % (path, e.strerror or e), EX_NOINPUT)
    rows = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not rows:
        raise SpecError("%s: empty, expected the header step,lr,momentum" % path)
    header_line, header = rows[0]
    if [c.strip() for c in header.split(",")] != ["step", "lr", "momentum"]:
        raise SpecError("%s: the header must be step,lr,momentum, not %r"
                        % (_where(path, header_line), header))
    lrs: List[float] = []
    momenta: List[float] = []
    for n, line in rows[1:]:
        fields = [c.strip() for c in line.split(",")]
        if len(fields) != 3:
            raise SpecError("%s: %d fields, expected step,lr,momentum" % (_where(path, n), len(fields)))
        try:
            step = int(fields[0])
        except ValueError:
            raise SpecError("%s: step %r is not an integer" % (_where(path, n), fields[0]))
        if step != len(lrs):
            raise SpecError("%s: step %d, expected %d (one row per step, from 0)" % (_where(path, n), step, len(lrs)))
        values = []
        for name, text in (("lr", fields[1]), ("momentum", fields[2])):
            try:
                v: Optional[float] = float(text)
            except ValueError:
                v = None
            if v is None or not math.isfinite(v) or (name == "lr" and v < 0):
                raise SpecError("%s: %s %r is not a finite number%s"
                                % (_where(path, n), name, text, " >= 0" if name == "lr" else ""))
            values.append(v)
        lrs.append(values[0])
        momenta.append(values[1])
    if len(lrs) != steps:
        raise SpecError("%s: %d rows, but the spec's steps is %d" % (path, len(lrs), steps))
    return lrs, momenta


def _distributed() -> Any:
    """torch.distributed when the script has initialized a process group, else None (cheap:
    never imports torch)."""
    d = sys.modules.get("torch.distributed")
    if d is None or not d.is_available() or not d.is_initialized():
        return None
    return d


class Trial:
    """One run of a spec, or nothing when the script runs on its own.

    `honours`: the optional hyper-parameters (`"dropout"`, `"augmentation"`) the script applies;
    reported in the `start` event, and only those are taken over by `override`.
    `args`: an argparse namespace (or any object) whose attributes named like spec fields
    (`batch_size`, `seed`, `weight_decay`, `dropout`, `augmentation`, `steps`, `final`,
    `save_model`, `validation_batches`) get the spec's values; see `override`.
    `environ`: where to read `DISCIPLINE_*` (default `os.environ`).
    `exit_on_error`: on a bad spec or schedule print the message to standard error and exit
    with its code (65 malformed or another protocol, 66 missing); False raises SpecError.

    Events are written by rank 0 only when torch.distributed is initialized (before that, by
    the process whose `RANK` is 0 or unset). The clock starts, and `start` is written, at the
    first call of `start`, `apply_schedule` or a `report_*`/`end` method, so data loading
    before the loop does not count as training time.
    """

    def __init__(self, honours: Iterable[str] = (), args: Any = None,
                 environ: Optional[Mapping[str, str]] = None, exit_on_error: bool = True) -> None:
        env = os.environ if environ is None else environ
        self.honours = tuple(honours)
        unknown = [h for h in self.honours if h not in OPTIONAL]
        if unknown:
            raise ValueError("honours %r: only %s are optional" % (unknown, ", ".join(OPTIONAL)))
        spec_path = env.get("DISCIPLINE_SPEC") or None
        self.active = spec_path is not None
        self.spec: Dict[str, Any] = {}
        self.dir: Optional[str] = None
        self.events_path: Optional[str] = None
        self.stop_path: Optional[str] = None
        self.schedule_path: Optional[str] = None
        self._lrs: List[float] = []
        self._momenta: List[float] = []
        self._validate_at: FrozenSet[int] = frozenset()
        self._rank_env = env.get("RANK", "0")
        self._writer: Optional[bool] = None  # once known (under torch.distributed: rank 0)
        self._file: Any = None
        self._t0: Optional[float] = None
        self._steps_done = 0     # 1 + the last step reported
        self._nonfinite = False  # a train loss was NaN or infinite
        self._ended = False
        self._flag: Any = None   # the tensor broadcast for the stop decision
        self.train_samples: Optional[int] = None  # the training split's size, for `start`
        pid = env.get("DISCIPLINE_PID", "")
        self._parent_pid = int(pid) if pid.isdigit() else None  # discipline, while it lives
        self._parent_checked = 0.0
        self._schedule_checked = 0.0
        self._schedule_mtime: Optional[int] = None  # schedule.csv's, to see it rewritten
        if not self.active:
            return
        try:
            self.spec = load_spec(spec_path)
            self.dir = env.get("DISCIPLINE_DIR") or os.path.dirname(os.path.abspath(spec_path))
            self.events_path = env.get("DISCIPLINE_EVENTS") or os.path.join(self.dir, "events.jsonl")
            self.stop_path = env.get("DISCIPLINE_STOP") or os.path.join(self.dir, "stop")
            self.schedule_path = os.path.join(self.dir, self.spec["schedule"])
            self._lrs, self._momenta = load_schedule(self.schedule_path, self.spec["steps"])
            self._spec_path = spec_path
            self._schedule_mtime = os.stat(self.schedule_path).st_mtime_ns
        except SpecError as e:
            if not exit_on_error:
                raise
            print("discipline: %s" % e, file=sys.stderr, flush=True)
            raise SystemExit(e.exit_code)
        self._validate_at = frozenset(self.spec.get("validate_at") or ())
        if args is not None:
            self.override(args)

    # The spec's values -----------------------------------------------------------------------

    def get(self, name: str, default: Any = None) -> Any:
        """The spec's `name`, or `default` when inactive or the spec lacks it. A present
        `null` is returned as None (`validation_batches: null` means all of the split).
        `save_model` comes back as a path joined to the spec's directory."""
        if name not in self.spec:
            return default
        value = self.spec[name]
        if name == "save_model" and value is not None:
            value = os.path.join(self.dir, value)
        return value

    def override(self, args: _Args) -> _Args:
        """Sets each attribute of `args` named like a field of SCRIPT_FIELDS to the spec's value
        where the spec has it (`dropout`/`augmentation` only if honoured); others keep the
        script's defaults. Returns `args`. Inactive: returns `args` untouched."""
        for name in SCRIPT_FIELDS:
            if name in OPTIONAL and name not in self.honours:
                continue
            if name in self.spec and hasattr(args, name):
                setattr(args, name, self.get(name))
        return args

    # The schedule ----------------------------------------------------------------------------

    def apply_schedule(self, optimizer: Any, step: int) -> Optional[Tuple[float, float]]:
        """Before step `step` (0-based): sets `lr` of every parameter group of `optimizer` to the
        schedule's, and its momentum: `momentum` where the group has it (SGD, RMSprop), else
        `betas[0]` (Adam, AdamW, NAdam; `betas[1]` kept). Returns (lr, momentum); None when
        inactive. Raises IndexError past the schedule.
        A learning-rate scheduler the script keeps is overridden, as long as it steps after
        `optimizer.step()`, before this call."""
        if not self.active:
            return None
        if self._t0 is None:
            self.start()
        self._reload_if_replanned()
        if not 0 <= step < len(self._lrs):
            raise IndexError("step %d is outside %s's %d rows" % (step, self.schedule_path, len(self._lrs)))
        lr = self._lrs[step]
        momentum = self._momenta[step]
        for group in optimizer.param_groups:
            group["lr"] = lr
            if "momentum" in group:
                group["momentum"] = momentum
            elif "betas" in group:
                group["betas"] = (momentum,) + tuple(group["betas"][1:])
        return lr, momentum

    # When to validate and stop ---------------------------------------------------------------

    def should_validate(self, steps_done: int, default: bool = False) -> bool:
        """Whether to measure the validation loss after `steps_done` steps (1-based: after the
        140th step is 140): true when `validate_at` lists it. Inactive: `default`."""
        if not self.active:
            return default
        return steps_done in self._validate_at

    def should_stop(self, steps_done: Optional[int] = None) -> bool:
        """Whether to end the loop after `steps_done` steps (default: 1 + the last step
        reported): the stop file exists, all of the spec's `steps` are done, or a reported train
        loss was not finite. Under torch.distributed rank 0 decides and broadcasts its decision,
        so every rank must call this at the same steps. Inactive: False."""
        if not self.active:
            return False
        if steps_done is None:
            steps_done = self._steps_done
        stop = self._nonfinite or steps_done >= self.spec["steps"]
        if not stop and self._is_writer():
            stop = os.path.exists(self.stop_path) or self._discipline_gone()
        d = _distributed()
        if d is not None and d.get_world_size() > 1:
            stop = self._broadcast(d, stop)
        return stop

    def _reload_if_replanned(self) -> None:
        """discipline may shorten a running final run by rewriting spec.json, then
        schedule.csv (Docs/PROTOCOL.md): once a second, a changed schedule.csv is read again,
        with the spec's new `steps` and `validate_at`."""
        now = time.monotonic()
        if now - self._schedule_checked < 1.0:
            return
        self._schedule_checked = now
        try:
            mtime = os.stat(str(self.schedule_path)).st_mtime_ns
        except OSError:
            return
        if mtime == self._schedule_mtime:
            return
        spec = load_spec(self._spec_path)
        lrs, momenta = load_schedule(str(self.schedule_path), spec["steps"])
        self.spec, self._lrs, self._momenta = spec, lrs, momenta
        self._validate_at = frozenset(spec.get("validate_at") or ())
        self._schedule_mtime = mtime

    def _discipline_gone(self) -> bool:
        """Whether the discipline that started this run has died (killed with SIGKILL, its
        trials to be resumed): checked at most once a second, so an orphaned run stops soon
        instead of training on for nobody."""
        if self._parent_pid is None:
            return False
        now = time.monotonic()
        if now - self._parent_checked < 1.0:
            return False
        self._parent_checked = now
        try:
            os.kill(self._parent_pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False

    def _broadcast(self, d: Any, flag: bool) -> bool:
        import torch  # the script has it: torch.distributed is initialized
        if self._flag is None:
            device = "cpu"
            if d.get_backend() == "nccl":
                device = torch.device("cuda", torch.cuda.current_device())
            self._flag = torch.zeros(1, dtype=torch.int32, device=device)
        self._flag.fill_(1 if flag else 0)
        d.broadcast(self._flag, src=0)
        return bool(self._flag.item())

    # Events ----------------------------------------------------------------------------------

    def start(self, train_samples: Optional[int] = None) -> None:
        """Starts the clock and writes the `start` event (protocol, honours, and the size of
        the training split when given or set as `train_samples`: discipline reads epoch
        lengths from it). Called by the first apply_schedule or report; calling it again
        does nothing."""
        if not self.active or self._t0 is not None:
            return
        self._t0 = time.monotonic()
        event: Dict[str, Any] = {"event": "start", "protocol": PROTOCOL, "honours": list(self.honours)}
        samples = train_samples if train_samples is not None else self.train_samples
        if samples is not None:
            event["train_samples"] = int(samples)
        self._emit(event)

    def report_train(self, step: int, loss: Any, samples: int) -> None:
        """After step `step` (0-based): its batch's mean loss (a number or a 0-d tensor; NaN and
        infinities are written as JSON NaN/Infinity and make `should_stop` true) and the
        samples in the batch (under torch.distributed only rank 0's call is written: pass
        the samples of the whole step if the spec's batch size is meant across ranks)."""
        if not self.active:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self._nonfinite = True
        self._steps_done = max(self._steps_done, int(step) + 1)
        self._emit({"event": "train", "step": int(step), "loss": loss, "samples": int(samples)})

    def report_val(self, step: int, loss: Any, accuracy: Any) -> None:
        """The validation loss and accuracy (0-1) after `step` steps done."""
        if self.active:
            self._emit({"event": "val", "step": int(step), "loss": float(loss), "accuracy": float(accuracy)})

    def report_test(self, step: int, loss: Any, accuracy: Any) -> None:
        """The test loss and accuracy (0-1) after the final run's `step` steps."""
        if self.active:
            self._emit({"event": "test", "step": int(step), "loss": float(loss), "accuracy": float(accuracy)})

    def end(self, steps: Optional[int] = None) -> None:
        """Writes the `end` event with `steps` taken (default: 1 + the last step reported) and
        closes the events file. Only the first call writes."""
        if not self.active or self._ended:
            return
        self._emit({"event": "end", "steps": self._steps_done if steps is None else int(steps)})
        self._ended = True
        self.close()

    def close(self) -> None:
        """Closes the events file without writing `end` (a later event reopens it)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Trial":
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        """`with Trial(...) as trial:` writes `end` when the block ends without an exception
        (an exception only closes the file: the program failed)."""
        if kind is None:
            self.end()
        self.close()

    def _is_writer(self) -> bool:
        """Whether this process writes events: rank 0 of torch.distributed, else RANK 0 or unset."""
        if self._writer is None:
            d = _distributed()
            if d is None:
                return self._rank_env == "0"
            self._writer = d.get_rank() == 0
        return self._writer

    def _emit(self, event: Dict[str, Any]) -> None:
        """Appends `event` plus `time` as one JSON line; line-buffered, so each event reaches
        the file with one write as it happens."""
        if self._t0 is None:
            self.start()
        if not self._is_writer():
            return
        event["time"] = round(time.monotonic() - self._t0, 6)
        if self._file is None:
            self._file = open(self.events_path, "a", buffering=1, encoding="utf-8")
        self._file.write(json.dumps(event) + "\n")
