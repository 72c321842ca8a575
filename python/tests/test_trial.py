"""discipline.Trial without PyTorch: the spec, the schedule, the events, validation and stop."""
import argparse
import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import unittest

import support
from support import make_spec, read_events

import discipline
from discipline import SpecError, Trial


class FakeOptimizer:
    """Parameter groups as torch.optim keeps them: a list of dicts."""
    def __init__(self, *groups):
        self.param_groups = [dict(g) for g in groups]


class SpecDirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def trial(self, honours=(), args=None, **spec):
        env = make_spec(self.dir, **spec)
        trial = Trial(honours=honours, args=args, environ=env, exit_on_error=False)
        self.addCleanup(trial.close)
        return trial

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)


class InactiveTest(unittest.TestCase):
    def test_without_spec_every_call_is_a_no_op_returning_the_defaults(self):
        args = argparse.Namespace(batch_size=128, seed=0, dropout=0.5, steps=None)
        trial = Trial(honours=("dropout",), args=args, environ={})
        self.assertFalse(trial.active)
        self.assertEqual(vars(args), dict(batch_size=128, seed=0, dropout=0.5, steps=None))
        self.assertEqual(trial.get("batch_size", 64), 64)
        self.assertEqual(trial.get("save_model", "m.pt"), "m.pt")
        opt = FakeOptimizer({"lr": 0.3, "momentum": 0.9})
        self.assertIsNone(trial.apply_schedule(opt, 0))
        self.assertEqual(opt.param_groups, [{"lr": 0.3, "momentum": 0.9}])
        self.assertTrue(trial.should_validate(100, default=True))
        self.assertFalse(trial.should_validate(100))
        trial.report_train(0, float("nan"), 16)
        trial.report_val(1, 0.5, 0.8); trial.report_test(1, 0.5, 0.8)
        self.assertFalse(trial.should_stop(10 ** 9))
        trial.end()
        with Trial() as t:  # no DISCIPLINE_SPEC in the test's own environment
            self.assertEqual(t.active, "DISCIPLINE_SPEC" in os.environ)

    def test_an_empty_spec_variable_is_inactive(self):
        self.assertFalse(Trial(environ={"DISCIPLINE_SPEC": ""}).active)

    def test_unknown_honours_is_a_programming_error(self):
        with self.assertRaises(ValueError):
            Trial(honours=("mixup",), environ={})

    def test_inactive_calls_are_cheap(self):
        trial, opt = Trial(environ={}), FakeOptimizer({"lr": 0.1})
        t = time.perf_counter()
        for step in range(10000):
            trial.apply_schedule(opt, step); trial.report_train(step, 1.0, 8)
            trial.should_validate(step + 1); trial.should_stop(step + 1)
        self.assertLess((time.perf_counter() - t) / 10000, 20e-6)


class SpecTest(SpecDirTest):
    def test_spec_values_replace_the_scripts_defaults_and_missing_ones_keep_them(self):
        args = argparse.Namespace(batch_size=128, seed=0, weight_decay=5e-4, dropout=0.0, augmentation="flip",
                                  steps=None, final=False, save_model=None, validation_batches=None, max_lr=0.1)
        self.trial(honours=("dropout",), args=args, steps=7, batch_size=32, seed=9, final=True,
                   save_model="out/model.pt", validation_batches=3)
        self.assertEqual((args.batch_size, args.seed, args.weight_decay, args.dropout, args.steps),
                         (32, 9, 0.001, 0.25, 7))
        self.assertEqual(args.augmentation, "flip")  # not honoured: the script's own value stays
        self.assertIs(args.final, True)
        self.assertEqual(args.save_model, os.path.join(self.dir, "out/model.pt"))
        self.assertEqual(args.validation_batches, 3)
        self.assertEqual(args.max_lr, 0.1)  # not a spec field

    def test_get_falls_back_to_the_default_only_for_absent_fields(self):
        trial = self.trial(validation_batches=None)
        self.assertIsNone(trial.get("validation_batches", 5))  # null: all of the split
        self.assertIsNone(trial.get("save_model", "x.pt"))
        self.assertEqual(trial.get("batch_size", 64), 16)
        self.assertEqual(trial.get("no_such_field", 42), 42)
        self.assertEqual(trial.get("kind"), "trial")
        os.remove(os.path.join(self.dir, "spec.json"))
        self.write("spec.json", json.dumps({"protocol": 1, "steps": 2, "schedule": "schedule.csv", "future": 1}))
        self.write("schedule.csv", "step,lr,momentum\n0,0.1,0.9\n1,0.1,0.9\n")
        trial = Trial(environ=support.environment(self.dir), exit_on_error=False)
        self.assertEqual(trial.get("batch_size", 64), 64)
        self.assertFalse(trial.should_validate(1))

    def test_files_default_to_the_spec_directory(self):
        make_spec(self.dir)
        trial = Trial(environ={"DISCIPLINE_SPEC": os.path.join(self.dir, "spec.json")})
        self.assertEqual(trial.events_path, os.path.join(self.dir, "events.jsonl"))
        self.assertEqual(trial.stop_path, os.path.join(self.dir, "stop"))

    def assertSpecError(self, text, *fragments, code=65):
        self.write("spec.json", text)
        with self.assertRaises(SpecError) as caught:
            Trial(environ=support.environment(self.dir), exit_on_error=False)
        message = str(caught.exception)
        for fragment in (os.path.join(self.dir, "spec.json"),) + fragments:
            self.assertIn(fragment, message)
        self.assertEqual(caught.exception.exit_code, code)
        return message

    def test_malformed_specs_name_the_file_and_line(self):
        self.assertSpecError('{\n  "protocol": 1,\n  "steps": 3,,\n}', "line 3", "not valid JSON")
        self.assertSpecError('[1, 2]', "not a JSON object")
        self.assertSpecError('{"steps": 3, "schedule": "s.csv"}', 'no "protocol"')
        self.assertSpecError('{"protocol": 1, "schedule": "s.csv"}', 'no "steps"')
        self.assertSpecError('{\n"protocol": 1,\n"steps": 3,\n"schedule": "s.csv",\n"batch_size": "big"\n}',
                             "line 5", '"batch_size" must be a positive integer, not "big"')
        self.assertSpecError('{"protocol": 1, "steps": 3, "schedule": "s.csv", "dropout": 1.5}', "dropout")
        self.assertSpecError('{"protocol": 1, "steps": 3, "schedule": "s.csv", "validate_at": [0]}', "validate_at")
        self.assertSpecError('{"protocol": 1, "steps": true, "schedule": "s.csv"}', "steps")

    def test_another_protocol_version_is_an_error_naming_the_version(self):
        self.assertSpecError('{\n  "protocol": 2,\n  "kind": "trial"\n}', "line 2", "protocol 2", "protocol 1")
        self.assertSpecError('{"protocol": "1", "steps": 1, "schedule": "s"}', 'protocol "1"')

    def test_a_missing_spec_or_schedule_exits_66(self):
        with self.assertRaises(SpecError) as caught:
            Trial(environ={"DISCIPLINE_SPEC": os.path.join(self.dir, "nope.json")}, exit_on_error=False)
        self.assertEqual(caught.exception.exit_code, 66)
        self.assertIn("nope.json", str(caught.exception))
        make_spec(self.dir, schedule="step,lr,momentum\n")
        os.remove(os.path.join(self.dir, "schedule.csv"))
        with self.assertRaises(SpecError) as caught:
            Trial(environ=support.environment(self.dir), exit_on_error=False)
        self.assertEqual(caught.exception.exit_code, 66)
        self.assertIn("schedule.csv", str(caught.exception))

    def test_unknown_fields_are_named_on_stderr_and_the_spec_still_runs(self):
        env = make_spec(self.dir, warmup=3, weight_decy=0.1)
        run = subprocess.run([sys.executable, "-c", "import discipline; discipline.Trial(); print('trained')"],
                             env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("trained", run.stdout)
        self.assertIn('unknown field "warmup" is ignored', run.stderr)
        self.assertIn('line 18: unknown field "weight_decy" is ignored', run.stderr)
        plain = make_spec(self.dir)  # every field discipline writes is known
        run = subprocess.run([sys.executable, "-c", "import discipline; discipline.Trial()"],
                             env=plain, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.stderr, "")

    def test_a_bad_spec_exits_the_program_with_a_clear_message(self):
        env = make_spec(self.dir, protocol=2)
        run = subprocess.run([sys.executable, "-c", "import discipline; discipline.Trial(); print('trained')"],
                             env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 65)
        self.assertNotIn("trained", run.stdout)
        self.assertIn(os.path.join(self.dir, "spec.json"), run.stderr)
        self.assertIn("protocol 2", run.stderr)
        self.assertNotIn("Traceback", run.stderr)
        self.assertEqual(read_events(self.dir), [])


class ScheduleTest(SpecDirTest):
    def assertScheduleError(self, csv, *fragments, steps=2):
        make_spec(self.dir, steps=steps, schedule=csv)
        with self.assertRaises(SpecError) as caught:
            Trial(environ=support.environment(self.dir), exit_on_error=False)
        for fragment in (os.path.join(self.dir, "schedule.csv"),) + fragments:
            self.assertIn(fragment, str(caught.exception))

    def test_malformed_schedules_name_the_file_and_line(self):
        self.assertScheduleError("step,lr,momentum\n0,0.1,0.9\n1,abc,0.9\n", "line 3", "lr 'abc'")
        self.assertScheduleError("step,lr,momentum\n0,0.1,0.9\n1,0.1\n", "line 3", "2 fields")
        self.assertScheduleError("step,lr,momentum\n0,0.1,0.9\n2,0.1,0.9\n", "line 3", "step 2, expected 1")
        self.assertScheduleError("step,lr,momentum\n0,0.1,0.9\nx,0.1,0.9\n", "line 3", "step 'x'")
        self.assertScheduleError("step,lr,momentum\n0,0.1,nan\n1,0.1,0.9\n", "line 2", "momentum 'nan'")
        self.assertScheduleError("step,lr,momentum\n0,-0.1,0.9\n1,0.1,0.9\n", "line 2", ">= 0")
        self.assertScheduleError("stepp,lr\n0,0.1\n1,0.1\n", "line 1", "header")
        self.assertScheduleError("", "empty")
        self.assertScheduleError("step,lr,momentum\n0,0.1,0.9\n", "1 rows", "steps is 2")

    def test_the_schedule_has_the_swift_sides_header_and_blank_lines_are_skipped(self):
        make_spec(self.dir, steps=2, schedule="step, lr ,momentum\n0,0.5,0.9\n\n1,0.25,0.8\n")
        self.assertEqual(discipline.load_schedule(os.path.join(self.dir, "schedule.csv"), 2), ([0.5, 0.25], [0.9, 0.8]))
        # discipline reads back only what it writes: other orders and a missing momentum are refused
        self.assertScheduleError("lr,momentum,step\n0.5,0.9,0\n0.25,0.8,1\n", "line 1", "step,lr,momentum")
        self.assertScheduleError("step,lr\n0,0.1\n1,0.1\n", "line 1", "step,lr,momentum")

    def test_the_line_rules_are_the_swift_sides(self):
        # CRLF line ends (a file saved on Windows), tabs and spaces around fields, a blank first line
        make_spec(self.dir, steps=2, schedule="\r\nstep ,\tlr ,\tmomentum\r\n0 ,\t0.5 ,\t0.9\r\n\r\n1,0.25,0.8\r\n")
        self.assertEqual(discipline.load_schedule(os.path.join(self.dir, "schedule.csv"), 2), ([0.5, 0.25], [0.9, 0.8]))
        # a lone carriage return ends no line (TrialSpec.read refuses it too)
        self.assertScheduleError("step,lr,momentum\n0,0.1,0.9\r1,0.1,0.9\n", "line 2", "5 fields")

    def test_apply_schedule_sets_every_group(self):
        trial = self.trial(steps=3, schedule="step,lr,momentum\n0,1e-07,0.95\n1,0.002,0.9\n2,0.003,0.85\n")
        sgd = FakeOptimizer({"lr": 1.0, "momentum": 0.0}, {"lr": 2.0, "momentum": 0.5, "weight_decay": 0})
        adam = FakeOptimizer({"lr": 1.0, "betas": (0.9, 0.999)}, {"lr": 1.0, "betas": (0.8, 0.99)})
        plain = FakeOptimizer({"lr": 1.0})
        self.assertEqual(trial.apply_schedule(sgd, 1), (0.002, 0.9))
        trial.apply_schedule(adam, 2); trial.apply_schedule(plain, 0)
        # each group keeps its initial ratio to the peak group's rate (1:2 here)
        self.assertEqual(sgd.param_groups, [{"lr": 0.001, "momentum": 0.9}, {"lr": 0.002, "momentum": 0.9, "weight_decay": 0}])
        self.assertEqual(adam.param_groups, [{"lr": 0.003, "betas": (0.85, 0.999)}, {"lr": 0.003, "betas": (0.85, 0.99)}])
        self.assertEqual(plain.param_groups, [{"lr": 1e-07}])
        with self.assertRaises(IndexError):
            trial.apply_schedule(sgd, 3)


class EventsTest(SpecDirTest):
    def test_events_in_order_with_their_fields(self):
        trial = self.trial(honours=("dropout", "augmentation"), steps=4, validate_at=[2, 4])
        self.assertEqual(read_events(self.dir), [])  # the clock starts with the loop
        opt = FakeOptimizer({"lr": 0.0, "momentum": 0.0})
        for step in range(4):
            trial.apply_schedule(opt, step)
            trial.report_train(step, 2.5 - step, 16)
            if trial.should_validate(step + 1):
                trial.report_val(step + 1, 1.5, 0.75)
            if trial.should_stop(step + 1):
                break
        self.assertEqual(step, 3)
        trial.report_test(4, 1.25, 0.875)
        trial.end()
        trial.end()  # only the first call writes
        events = read_events(self.dir)
        self.assertEqual([e["event"] for e in events],
                         ["start", "train", "train", "val", "train", "train", "val", "test", "end"])
        self.assertEqual(events[0], {"event": "start", "protocol": 1, "honours": ["dropout", "augmentation"],
                                     "optimizer": "FakeOptimizer", "decoupled_weight_decay": False,
                                     "time": events[0]["time"]})
        self.assertLess(events[0]["time"], 0.01)
        self.assertEqual([(e["step"], e["loss"], e["samples"]) for e in events if e["event"] == "train"],
                         [(0, 2.5, 16), (1, 1.5, 16), (2, 0.5, 16), (3, -0.5, 16)])
        self.assertEqual([(e["step"], e["loss"], e["accuracy"]) for e in events if e["event"] == "val"],
                         [(2, 1.5, 0.75), (4, 1.5, 0.75)])
        self.assertEqual({k: events[7][k] for k in ("step", "loss", "accuracy")}, {"step": 4, "loss": 1.25, "accuracy": 0.875})
        self.assertEqual({k: v for k, v in events[-1].items() if k != "time"}, {"event": "end", "steps": 4})
        times = [e["time"] for e in events]
        self.assertEqual(times, sorted(times))
        self.assertEqual(list(events[1]), ["event", "step", "loss", "samples", "time"])

    def test_each_event_is_on_disk_as_soon_as_it_is_reported(self):
        trial = self.trial(steps=3)
        trial.report_train(0, 1.0, 16)
        self.assertEqual([e["event"] for e in read_events(self.dir)], ["start", "train"])
        trial.report_train(1, 0.5, 16)
        self.assertEqual(len(read_events(self.dir)), 3)

    def test_events_are_appended(self):
        self.write("events.jsonl", '{"event": "earlier"}\n')
        trial = self.trial(steps=1)
        trial.end(0)
        self.assertEqual([e["event"] for e in read_events(self.dir)], ["earlier", "start", "end"])

    def test_a_non_finite_loss_is_reported_and_stops(self):
        trial = self.trial(steps=5)
        trial.report_train(0, 1.0, 16)
        self.assertFalse(trial.should_stop(1))
        trial.report_train(1, float("nan"), 16)
        self.assertTrue(trial.should_stop())
        trial.report_train(2, float("inf"), 16)
        trial.end()
        with open(os.path.join(self.dir, "events.jsonl")) as f:
            text = f.read()
        self.assertIn('"loss": NaN', text)
        self.assertIn('"loss": Infinity', text)
        events = read_events(self.dir)
        self.assertTrue(math.isnan(events[2]["loss"]))
        self.assertEqual(events[-1]["steps"], 3)

    def test_a_loss_may_be_anything_float_accepts(self):
        class Scalar:  # like a 0-d tensor
            def __float__(self):
                return 0.25
        trial = self.trial(steps=1)
        trial.report_train(0, Scalar(), 16)
        self.assertEqual(read_events(self.dir)[1]["loss"], 0.25)

    def test_context_manager_writes_end(self):
        with self.trial(steps=2) as trial:
            trial.report_train(0, 1.0, 16)
            trial.report_train(1, 1.0, 16)
        self.assertEqual(read_events(self.dir)[-1]["steps"], 2)

    def test_only_rank_zero_writes(self):
        env = make_spec(self.dir, steps=2)
        env["RANK"] = "1"
        trial = Trial(environ=env)
        trial.report_train(0, 1.0, 16)
        trial.end()
        self.assertEqual(read_events(self.dir), [])


class CadenceAndStopTest(SpecDirTest):
    def test_validation_at_the_listed_step_counts_only(self):
        trial = self.trial(steps=10, validate_at=[3, 7, 10])
        self.assertEqual([k for k in range(0, 12) if trial.should_validate(k, default=True)], [3, 7, 10])
        self.assertFalse(self.trial(steps=10, validate_at=[]).should_validate(10, default=True))

    def test_stop_after_all_steps_or_when_the_stop_file_exists(self):
        trial = self.trial(steps=10)
        self.assertFalse(trial.should_stop(9))
        self.assertTrue(trial.should_stop(10))
        self.assertFalse(trial.should_stop(3))
        open(os.path.join(self.dir, "stop"), "w").close()
        self.assertTrue(trial.should_stop(3))

    def test_a_shortened_schedule_is_read_again(self):
        trial = self.trial(steps=10, validate_at=[5, 10])

        class Optimizer:
            param_groups = [{"lr": 0.0, "momentum": 0.0}]

        trial.apply_schedule(Optimizer, 0)
        time.sleep(0.01)
        spec_path = os.path.join(self.dir, "spec.json")
        with open(spec_path) as f:
            spec = json.load(f)
        spec["steps"], spec["validate_at"] = 4, [4]
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        self.write("schedule.csv", "step,lr,momentum\n0,0.1,0.9\n1,0.2,0.9\n2,0.3,0.9\n3,0.4,0.8\n")
        trial._schedule_checked = 0.0  # as if a second had passed
        self.assertEqual(trial.apply_schedule(Optimizer, 3), (0.4, 0.8))
        self.assertTrue(trial.should_stop(4))
        self.assertTrue(trial.should_validate(4))
        self.assertFalse(trial.should_validate(5))

    def test_a_run_whose_discipline_died_stops(self):
        import subprocess
        dead = subprocess.Popen(["true"])
        dead.wait()
        env = make_spec(self.dir, steps=10)
        env["DISCIPLINE_PID"] = str(dead.pid)
        trial = Trial(environ=env, exit_on_error=False)
        self.addCleanup(trial.close)
        self.assertTrue(trial.should_stop(3))
        env["DISCIPLINE_PID"] = str(os.getpid())
        alive = Trial(environ=env, exit_on_error=False)
        self.addCleanup(alive.close)
        self.assertFalse(alive.should_stop(3))

    def test_checking_the_stop_file_is_cheap(self):
        trial = self.trial(steps=10)
        t = time.perf_counter()
        for _ in range(10000):
            trial.should_stop(1)
        per_call = (time.perf_counter() - t) / 10000
        self.assertLess(per_call, 50e-6)  # about 1-2 us here; a training step takes milliseconds


class NamesTest(SpecDirTest):
    def override(self, args, names=None, env_extra=None, **spec):
        env = make_spec(self.dir, **spec)
        env.update(env_extra or {})
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            trial = Trial(args=args, names=names, environ=env, exit_on_error=False)
        self.addCleanup(trial.close)
        return trial, err.getvalue()

    def start_event(self, trial):
        trial.start()
        return read_events(self.dir)[0]

    def test_names_map_fields_to_the_scripts_attributes(self):
        args = argparse.Namespace(bs=128, wd=0.0, seed=0, num_train_epochs=3)
        trial, err = self.override(args, names={"batch_size": "bs", "weight_decay": "wd", "epochs": "num_train_epochs"},
                                   steps=40, batch_size=32)
        self.assertEqual(vars(args), dict(bs=32, wd=0.001, seed=3, num_train_epochs=400))
        self.assertEqual(err, "")
        self.assertEqual(self.start_event(trial)["ignores"], [])

    def test_every_hyper_parameter_the_script_does_not_take_is_warned_and_ignored(self):
        args = argparse.Namespace(bs=128, epochs=1000)
        trial, err = self.override(args, steps=40)
        self.assertEqual(vars(args), dict(bs=128, epochs=1000))  # epochs already past 10 × the steps
        for name in ("batch_size", "weight_decay", "seed"):
            self.assertIn("does not take the spec's %s" % name, err)
        self.assertIn("names={'batch_size': ATTRIBUTE}", err)
        self.assertEqual(self.start_event(trial)["ignores"], ["batch_size", "seed", "weight_decay"])

    def test_a_field_the_script_reads_itself_is_not_ignored(self):
        trial, err = self.override({"batch_size": 64}, names={"seed": "random_seed"})
        self.assertIn("names maps seed to 'random_seed', which it does not have", err)
        self.assertEqual(trial.get("weight_decay"), 0.001)  # read by hand: taken
        trial.ignore("batch_size")  # a framework callback that knows better
        self.assertEqual(self.start_event(trial)["ignores"], ["seed", "batch_size"])
        with self.assertRaises(ValueError):
            trial.ignore("dropout")

    def test_a_dict_of_arguments_and_unknown_names(self):
        args = {"batch_size": 128, "seed": 1, "weight_decay": 0.5, "dropout": 0.0}
        self.override(args, batch_size=8)
        self.assertEqual(args, {"batch_size": 8, "seed": 3, "weight_decay": 0.001, "dropout": 0.0})
        with self.assertRaises(ValueError):
            self.override(args, names={"lr": "learning_rate"})
        # alone, the script runs as it is: names that only some specs carry are no error
        Trial(environ={}).override(args, names={"lr": "learning_rate"})

    def test_hyperparameters_beyond_the_specs_own_fields(self):
        # a phase added to discipline's recipe tunes them; the spec carries them by name
        args = argparse.Namespace(batch_size=1, seed=0, weight_decay=0.0, smoothing=0.0)
        trial, err = self.override(args, names={"label_smoothing": "smoothing"},
                                   hyperparameters={"label_smoothing": 0.1, "warmup_steps": 20})
        self.assertEqual(args.smoothing, 0.1)
        self.assertIn("does not take the spec's warmup_steps (20)", err)
        self.assertEqual(self.start_event(trial)["ignores"], ["warmup_steps"])
        self.assertEqual(trial.get("warmup_steps"), 20)  # read by hand: taken after all
        self.assertEqual(Trial(environ={}).get("label_smoothing", 0.0), 0.0)

    def test_the_batch_size_is_global_each_rank_takes_its_share(self):
        args = argparse.Namespace(batch_size=1, seed=0, weight_decay=0.0)
        trial, err = self.override(args, env_extra={"WORLD_SIZE": "4"}, batch_size=100)
        self.assertEqual(args.batch_size, 25)
        self.assertEqual(err, "")
        self.assertEqual((trial.get("batch_size"), trial.batch_size_per_rank(), trial.world_size()), (100, 25, 4))
        self.assertEqual(self.start_event(trial)["world_size"], 4)
        args = argparse.Namespace(batch_size=1, seed=0, weight_decay=0.0)
        trial, err = self.override(args, env_extra={"WORLD_SIZE": "3"}, batch_size=100)
        self.assertEqual(args.batch_size, 33)
        self.assertIn("does not divide by the world size 3", err)

    def test_inactive_override_leaves_everything(self):
        args = argparse.Namespace(bs=128, epochs=2)
        Trial(args=args, names={"batch_size": "bs"}, environ={})
        self.assertEqual(vars(args), dict(bs=128, epochs=2))


class MetricsTest(SpecDirTest):
    def test_val_and_test_without_accuracy_and_with_declared_metrics(self):
        env = make_spec(self.dir, steps=2)
        trial = Trial(environ=env, metrics={"mae": "lower", "r2": "higher"}, exit_on_error=False)
        self.addCleanup(trial.close)
        trial.report_train(0, 1.0, 16)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            trial.report_val(1, 0.5, metrics={"mae": 0.25, "r2": float("nan"), "undeclared": 1})
        trial.report_test(1, 0.4, 0.9, metrics={"mae": 0.2})
        trial.report_val(1, 0.5, None)
        trial.end()
        events = read_events(self.dir)
        self.assertEqual(events[0]["metrics"], {"mae": "lower", "r2": "higher"})
        strip = [{k: v for k, v in e.items() if k != "time"} for e in events[2:5]]
        self.assertEqual(strip, [{"event": "val", "step": 1, "loss": 0.5, "metrics": {"mae": 0.25, "r2": None}},
                                 {"event": "test", "step": 1, "loss": 0.4, "accuracy": 0.9, "metrics": {"mae": 0.2}},
                                 {"event": "val", "step": 1, "loss": 0.5}])
        self.assertIn("'undeclared' is not declared", err.getvalue())

    def test_a_direction_is_higher_or_lower(self):
        with self.assertRaises(ValueError):
            Trial(environ={}, metrics={"f1": "up"})
        trial = Trial(environ=make_spec(self.dir, steps=1), exit_on_error=False)
        self.addCleanup(trial.close)
        trial.metrics = {"f1": "better"}
        with self.assertRaises(ValueError):
            trial.start()


if __name__ == "__main__":
    unittest.main()
