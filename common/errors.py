"""Input errors: data or settings a bundle cannot use, reported as one line that names the file or setting."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

__all__ = [
    "BundleError",
    "BundleInputError",
    "NonFiniteLossError",
    "input_error_in",
    "report_input_errors_briefly",
    "check_exclusive",
    "check_settings",
]


class BundleError(Exception):
    """An error whose message says all a user needs (the file or setting, the problem, what stays valid)."""


class BundleInputError(BundleError, ValueError):
    """Data or a setting that a bundle cannot use; the message names the file (or the setting) and the problem.

    The readers' own errors (``IdxFormatError``, ``DriveFormatError``, ``LGGFormatError``, ``Task03FormatError``)
    derive from it.
    """


class NonFiniteLossError(BundleError, FloatingPointError):
    """Training produced a NaN or infinite loss; the message says when and which checkpoint is still good."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def input_error_in(error: BaseException) -> BaseException | None:
    """The first :class:`BundleError` or ``FileNotFoundError`` in ``error``'s chain of causes (MONAI wraps
    what a component raises in ``RuntimeError: Failed to instantiate ...``), or None."""
    for item in _chain(error):
        if isinstance(item, (BundleError, FileNotFoundError)):
            return item
    return None


def _brief_excepthook(kind, error, tb, fallback=sys.__excepthook__):
    found = input_error_in(error) if isinstance(error, Exception) else None
    if found is None:
        fallback(kind, error, tb)
        return
    message = str(found) if isinstance(found, BundleError) or not found.filename else None
    if message is None:  # an OSError from a library: say which file, without its traceback
        message = f"{found.filename}: {found.strerror or 'not found'}."
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


def report_input_errors_briefly() -> None:
    """Make an uncaught input error (or any :class:`BundleError`, such as a NaN loss) print ``error: <message>`` on
    one line instead of a traceback (the process still exits with status 1); any other error keeps its full
    traceback. Configs call it first in ``run`` (MONAI puts a bundle's folder on ``sys.path`` only there)."""
    if getattr(sys.excepthook, "__wrapped__", None) is not _brief_excepthook:
        previous = sys.excepthook

        def hook(kind, error, tb):
            _brief_excepthook(kind, error, tb, fallback=previous)

        hook.__wrapped__ = _brief_excepthook
        sys.excepthook = hook


def check_settings(**settings: tuple[Any, type | tuple[type, ...]]) -> None:
    """Raise :class:`BundleInputError` naming the first setting whose value is not of its expected type(s), e.g.
    ``check_settings(epochs=(@epochs, int))``; ``bool`` is not accepted where ``int`` or ``float`` is expected."""
    for name, (value, expected) in settings.items():
        kinds = expected if isinstance(expected, tuple) else (expected,)
        wrong = isinstance(value, bool) and bool not in kinds
        if wrong or not isinstance(value, kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise BundleInputError(f"--{name}: expected {wanted}, got {value!r} ({type(value).__name__}).")


def check_exclusive(**switches: bool) -> None:
    """Raise :class:`BundleInputError` when more than one of ``switches`` is on, naming them, e.g.
    ``check_exclusive(resume=@resume, finetune=@finetune)``: resuming goes on with a run's weights, optimizer, schedule
    and epoch; fine-tuning starts a new run from weights only."""
    on = [name for name, value in switches.items() if value]
    if len(on) > 1:
        raise BundleInputError(f"{' and '.join('--' + name for name in on)} exclude each other: choose one.")
