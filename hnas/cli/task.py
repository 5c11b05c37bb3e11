"""``hnas run TASK.toml``: a search whose ``experiments/optimize.py`` flags are kept in a TOML file.

Each key is a flag without its dashes (``searcher = "regularized_evolution"``, ``log = true``,
``search_space = ["macro.cfg", "SharedCell=cell.cfg"]``, ``plugin = ["my_ops.py"]``); the file is
turned into optimize.py's command line and run by optimize.py's own parser and main, so a task
file accepts exactly the flags the script does. Relative paths are relative to the task file's
folder (the command runs there); running the same file again resumes the run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from hnas.errors import UsageError

__all__ = ["task_argv", "load_optimize_script"]

OPTIMIZE_SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "optimize.py"


def load_optimize_script(path: Path = OPTIMIZE_SCRIPT) -> ModuleType:
    """experiments/optimize.py as a module (its ``build_parser`` and ``main``)."""
    if not path.is_file():
        raise UsageError(f"hnas run needs experiments/optimize.py of an hnas checkout; {path} does not exist")
    spec = importlib.util.spec_from_file_location("hnas_optimize_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scalar(value: Any, where: str) -> str:
    if isinstance(value, (dict, list)):
        raise UsageError(f"{where}: expected a single value, got {value!r}")
    return str(value)


def task_argv(task: dict[str, Any], parser: argparse.ArgumentParser, source: str = "task file") -> list[str]:
    """The command line of ``parser`` that a task file's keys stand for."""
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}
    argv: list[str] = []
    for key, value in task.items():
        action = actions.get(key)
        where = f"{source}: {key}"
        if action is None:
            raise UsageError(f"{source}: unknown key {key!r}; the keys are optimize.py's flags without dashes: "
                             f"{', '.join(sorted(actions))}")
        flag = max(action.option_strings, key=len)
        if action.nargs == 0:  # a switch such as --log
            if not isinstance(value, bool):
                raise UsageError(f"{where}: expected true or false, got {value!r}")
            if value:
                argv.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value if isinstance(value, list) else [value]:
                argv += [flag, _scalar(item, where)]
        elif action.nargs in ("+", "*"):
            argv += [flag, *(_scalar(v, where) for v in (value if isinstance(value, list) else [value]))]
        else:
            argv += [flag, _scalar(value, where)]
    return argv


def read_task(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise UsageError(f"cannot read task file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path}: {error}") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not a TOML file (not UTF-8 text: byte {error.start})") from None


@contextlib.contextmanager
def _working_in(folder: Path) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def _run(args: argparse.Namespace) -> int:
    path = Path(args.task)
    task = read_task(path)
    script = load_optimize_script()
    argv = task_argv(task, script.build_parser(), str(path))
    if args.print:
        print(shlex.join(["python", str(OPTIMIZE_SCRIPT), *argv]) + f"   # in {path.resolve().parent}")
        return 0
    with _working_in(path.resolve().parent):
        return int(script.main(argv))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run", help="run (or resume) the search a TOML task file describes",
        description="Run the search of a TOML file whose keys are experiments/optimize.py's flags without "
        "dashes (plugins included); relative paths are relative to the file; running it again resumes.")
    parser.add_argument("task", metavar="TASK.toml")
    parser.add_argument("--print", action="store_true", help="print the equivalent optimize.py command and stop")
    parser.set_defaults(func=_run)
