"""The options of a recipe command (`gtpo train`, `gtpo sft`), described once and cached, so that `--help`
and an unknown option are answered without importing torch, transformers or trl.

A command's parser is built from its dataclasses (TRL's `HfArgumentParser`), which takes seconds: the
dataclasses live in modules that import torch. `describe(parser, groups)` turns that parser into plain
data (every option's flags, type, default, choices and help, in the command's help sections); the
description is written as JSON to `CACHE_DIR` (`$XDG_CACHE_HOME/gtpo/cli`, default `~/.cache/gtpo/cli`),
under a key made of the package's source files and the installed trl / transformers / Python versions,
so any change to a field or a library gives a new description. `gtpo.cli` reads it before importing
the command (`gtpo.cli.answer_early`): `--help`, `--help-all`, an unknown option, an unknown recipe key
and a malformed recipe are answered from it; anything else goes on to the command, which parses for real.
The first call after an install or an edit builds the description (as slow as before) and writes it;
a cache folder that cannot be written only means every call takes the slow path.

`--help` lists the recipe's own sections and GTPO's fields; the fields every TRL / transformers
training config has are listed by `--help-all` (the same format, after them).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HELP_FLAGS = ("-h", "--help")
HELP_ALL = "--help-all"
KEY_PACKAGES = ("trl", "transformers")  # their versions are part of the cache key


@dataclass(frozen=True)
class Group:
    """One help section: a title and the fields (dataclass field names) it lists."""

    title: str
    fields: tuple[str, ...]
    extended: bool = False  # True: listed by --help-all only


class OptionError(ValueError):
    """An unknown option or recipe key; the message names it, a close match and `--help`."""


def unknown_key(key: str, known: Iterable[str], prog: str) -> OptionError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; see `{prog} --help` for the fields"
    return OptionError(f"unknown recipe key {key!r}{hint}")


def unknown_option(name: str, known: Iterable[str], prog: str) -> OptionError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean --{close[0]}?" if close else f"; see `{prog} --help` for the fields"
    return OptionError(f"unknown option --{name}{hint}")


def check_names(recipe_keys: Iterable[str], argv: Iterable[str], fields: list[str], flags: set[str], prog: str) -> None:
    """Raise `OptionError` for the first recipe key that is not a field, then the first `--option` of
    `argv` that is not a flag of the command (the value after an option is not checked)."""
    for key in recipe_keys:
        if key != "env" and key not in fields:
            raise unknown_key(key, fields, prog)
    for arg in argv:
        if arg.startswith("--") and arg.split("=", 1)[0] not in flags | {HELP_ALL}:
            raise unknown_option(arg[2:].split("=", 1)[0], fields, prog)


def _metavar(action: argparse.Action) -> str | None:
    if action.nargs == 0:
        return None
    if action.choices:
        return None
    name = getattr(action.type, "__name__", "")
    return {"int": "INT", "float": "FLOAT", "str": "STR", "string_to_bool": "BOOL"}.get(name, action.dest.upper())


def describe(parser: argparse.ArgumentParser, groups: list[Group], usage: str) -> dict[str, Any]:
    """A JSON-ready description of `parser`'s options, in `groups` (an option in none of them is listed in a
    last section, "other options")."""
    dests = {action.dest for action in parser._actions if not isinstance(action, argparse._HelpAction)}
    placed = {name for group in groups for name in group.fields}
    if dests - placed:  # a field of a dataclass the sections do not name is still listed
        groups = [*groups, Group("other options", tuple(sorted(dests - placed)))]
    where = {name: at for at, group in enumerate(groups) for name in group.fields}
    listed: list[list[dict[str, Any]]] = [[] for _ in groups]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        listed[where[action.dest]].append({
            "flags": list(action.option_strings),
            "dest": action.dest,
            "help": action.help,
            "default": None if action.default is None else str(action.default),
            "choices": None if action.choices is None else [str(c) for c in action.choices],
            "nargs": action.nargs,
            "metavar": _metavar(action),
        })  # fmt: skip
    return {
        "prog": parser.prog,
        "usage": usage,
        "fields": sorted({action.dest for action in parser._actions if action.dest != "help"}),
        "flags": sorted({flag for action in parser._actions for flag in action.option_strings}),
        "groups": [{"title": g.title, "extended": g.extended, "options": opts} for g, opts in zip(groups, listed, strict=True)],
    }


def format_help(description: dict[str, Any], *, full: bool) -> str:
    """The help text of a described command: its sections (all of them with `full`), argparse's format."""
    helper = argparse.ArgumentParser(
        prog=description["prog"], usage=description["usage"], add_help=False,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    helper.add_argument("-h", "--help", action="store_true", default=argparse.SUPPRESS,
                        help="show this help (the recipe's sections and the command's own fields)")
    helper.add_argument(HELP_ALL, action="store_true", default=argparse.SUPPRESS,
                        help="also list the training fields inherited from TRL and transformers")  # fmt: skip
    hidden = 0
    for at, group in enumerate(description["groups"]):
        if group["extended"] and not full:
            hidden += len({option["dest"] for option in group["options"]})
            continue
        section = helper.add_argument_group(group["title"])
        for n, option in enumerate(group["options"]):
            common = {"dest": f"_{at}_{n}", "help": option["help"]}
            if option["nargs"] == 0:
                section.add_argument(*option["flags"], action="store_true", **common)
            else:
                section.add_argument(*option["flags"], nargs=option["nargs"], default=option["default"],
                                     choices=option["choices"], metavar=option["metavar"], **common)  # fmt: skip
    text = helper.format_help()
    if hidden:
        text += (f"\n{hidden} more fields, inherited from TRL and transformers (output_dir, learning_rate,\n"
                 f"max_steps, per_device_train_batch_size, logging_steps, save_steps, seed, report_to, ...):\n"
                 f"`{description['prog']} --help-all` lists them.\n")  # fmt: skip
    return text


def print_text(text: str) -> None:
    """`text` on stdout, as `print` would."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- the cache


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gtpo" / "cli"


def cache_key(prog: str) -> str:
    """sha256 of `prog`, every source file of the gtpo package and the versions of Python, trl, transformers."""
    digest = hashlib.sha256(f"{prog}\n{sys.version}\n".encode())
    for name in KEY_PACKAGES:
        try:
            digest.update(f"{name}=={metadata.version(name)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} missing\n".encode())
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _cache_file(prog: str) -> Path:
    return cache_dir() / f"{prog.replace(' ', '-')}-{cache_key(prog)[:20]}.json"


def load_cached(prog: str) -> dict[str, Any] | None:
    """The cached description of `prog` for this source and these libraries, or None."""
    try:
        return json.loads(_cache_file(prog).read_text())
    except (OSError, ValueError):
        return None


def store(description: dict[str, Any]) -> None:
    """Write `description` to the cache (atomically), removing the command's older descriptions. A cache
    folder that cannot be written is left alone: the command then always parses the slow way."""
    from gtpo.run.io import write_text_atomic

    prog = description["prog"]
    target = _cache_file(prog)
    try:
        if not target.is_file():
            write_text_atomic(target, json.dumps(description))
        for old in target.parent.glob(f"{prog.replace(' ', '-')}-*.json"):
            if old != target:
                old.unlink(missing_ok=True)
    except OSError:
        pass


def help_request(argv: list[str]) -> str | None:
    """'all' for --help-all, 'short' for -h/--help (anywhere on the command line, or no argument), else None."""
    if HELP_ALL in argv:
        return "all"
    if not argv or any(arg in HELP_FLAGS for arg in argv):
        return "short"
    return None
