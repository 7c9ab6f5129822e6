"""Your own code, named in a recipe or on the command line: ``module:name`` or ``path/to/file.py:name``.

    load_object(spec, option) -> the object        a reward, a grader, an answer extractor
    load_module(where, option) -> module           'module.name' or a .py file path
    task_name(spec, option="task") -> str          'custom', or 'my_tasks.py:sums' (imports, then 'sums')
    is_spec(text) -> bool                          text has the form of either spec

A file path is anything whose part before the last ':' ends in ``.py`` or starts with ``./``,
``../``, ``/`` or ``~``: relative paths are read from the current working directory. The file is
executed as a module once per process (the resolved path is the key; a second name for the same file
gets the same module), with no ``PYTHONPATH`` and no installation: it is registered in
`sys.modules` under ``gtpo_user.<stem>_<hash of the path>``, so its functions pickle by reference within
the process and in forked children. Every process of a multi-process run (``accelerate launch``) reads
the recipe and loads the file itself. A ``module:name`` spec is imported with `importlib` (the module
must be importable: installed, or on ``PYTHONPATH``).

Errors are ValueErrors that name the option, the spec and the fix (a missing file, a missing name,
an exception while executing the file with its line).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

_MODULE_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")  # module:name
_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")  # a function name, or a task name after ':'
_LOADED: dict[Path, ModuleType] = {}  # resolved file path -> its module, loaded once per process


def is_file_path(where: str) -> bool:
    """True when `where` (the part before ':') names a Python file rather than a module."""
    return where.endswith(".py") or where.startswith(("./", "../", "/", "~", ".\\", "..\\"))


def is_spec(text: str) -> bool:
    """True for 'module:name' or 'path/file.py:name' (the form only; nothing is loaded)."""
    if not isinstance(text, str):
        return False
    where, colon, name = text.rpartition(":")
    if not colon or not where or not _NAME.match(name):
        return False
    return is_file_path(where) or bool(_MODULE_SPEC.match(text))


def _load_file(path: Path, option: str, spec: str) -> ModuleType:
    resolved = path.expanduser().resolve()
    if resolved in _LOADED:
        return _LOADED[resolved]
    if not resolved.is_file():
        raise ValueError(f"{option}: {spec!r}: no file {resolved} (a relative path is read from the working "
                         f"directory, {Path.cwd()})")  # fmt: skip
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", resolved.stem)
    name = f"gtpo_user.{stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise ValueError(f"{option}: {spec!r}: {resolved} cannot be loaded as a Python file (name it *.py)")
    module = importlib.util.module_from_spec(module_spec)
    if "gtpo_user" not in sys.modules:
        package = ModuleType("gtpo_user")
        package.__path__ = []  # a namespace for the loaded files; nothing is imported from it by path
        sys.modules["gtpo_user"] = package
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == resolved]
        line = f" at line {frames[-1].lineno}" if frames else ""
        if isinstance(err, SyntaxError) and err.lineno:
            line = f" at line {err.lineno}"
        raise ValueError(f"{option}: {spec!r}: {resolved}{line} raised {type(err).__name__}: {err}") from err
    _LOADED[resolved] = module
    return module


def load_module(where: str, option: str, spec: str | None = None) -> ModuleType:
    """The module `where` names: a .py file path (loaded once per process) or an importable module."""
    spec = spec or where
    if is_file_path(where):
        return _load_file(Path(where), option, spec)
    try:
        return importlib.import_module(where)
    except ImportError as err:
        raise ValueError(
            f"{option}: cannot import {where!r} for {spec!r} ({type(err).__name__}: {err}); give a file path "
            f"such as './{where.replace('.', '/')}.py:NAME', or make the module importable (installed or on PYTHONPATH)"
        ) from err


def load_object(spec: str, option: str) -> Any:
    """The object `spec` ('module:name' or 'path.py:name') names; ValueError naming `option` otherwise."""
    where, colon, name = spec.rpartition(":")
    if not colon or not where or not name:
        raise ValueError(f"{option}: {spec!r}: give 'path/to/file.py:function' or 'module:function'")
    module = load_module(where, option, spec)
    try:
        return getattr(module, name)
    except AttributeError:
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise ValueError(f"{option}: {spec!r}: {where} defines no {name!r} (it has: {', '.join(public) or 'nothing'})"
                         ) from None  # fmt: skip


def task_name(spec: str, option: str = "task") -> str:
    """A task name as given: a registered name is returned as it is; 'file.py:name' or 'module:name'
    loads the file or module (which registers its task on import) and returns 'name'."""
    from gtpo.tasks import task_names

    if ":" not in spec:
        if spec not in task_names():
            raise ValueError(f"{option}: unknown task {spec!r}; choose one of: {', '.join(task_names())}, or name "
                             f"a task registered in your own file as './my_tasks.py:{spec}'")  # fmt: skip
        return spec
    where, _, name = spec.rpartition(":")
    load_module(where, option, spec)

    if name not in task_names():
        raise ValueError(f"{option}: {spec!r}: {where} registers no task {name!r} "
                         f"(registered: {', '.join(task_names())})")  # fmt: skip
    return name
