"""Input checks shared by the `gtpo.core` functions: each raises `ValueError` naming the argument
and the fix. Private: the public functions call them before touching the tensors."""

from __future__ import annotations

import math

import torch


def check_tensor(name: str, value: object, ndim: int) -> torch.Tensor:
    """Return `value` if it is a tensor with `ndim` dimensions, else raise a clear error."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}; wrap it with torch.as_tensor")
    if value.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(value.shape)}")
    return value


def check_float(name: str, value: torch.Tensor) -> None:
    """Raise unless `value` has a floating dtype."""
    if not value.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor, got dtype {value.dtype}; convert it with .float()")


def check_shape(name: str, value: torch.Tensor, shape: tuple[int, ...], like: str) -> None:
    """Raise unless `value.shape == shape` (the shape of the argument called `like`)."""
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(value.shape)} but must match {like} {tuple(shape)}")


def check_group_size(group_size: object, n: int, rows_name: str) -> int:
    """Return `group_size` if it is a positive int dividing `n` (the number of completions)."""
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a positive int, got {group_size!r}")
    if n % group_size:
        raise ValueError(
            f"{rows_name} has {n} rows, not a multiple of group_size={group_size}; groups are consecutive "
            f"rows, so pass whole groups (N = number_of_prompts * group_size)"
        )
    return group_size


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return `value` if it is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value  # type: ignore[return-value]


def check_number(name: str, value: object, *, minimum: float | None = None, strict: bool = False) -> float:
    """Return `value` as a float if it is a finite real number (a 0-d tensor is accepted), at least `minimum`."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a number or a 1-element tensor, got shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        bound = ">" if strict else ">="
        raise ValueError(f"{name} must be {bound} {minimum}, got {value!r}")
    return float(value)


def check_mask(name: str, mask: torch.Tensor, *, prefix: bool) -> torch.Tensor:
    """Return `mask` as bool after checking its values are 0/1 and, if `prefix`, that every row is
    ones followed by zeros (the completion layout: valid tokens first, EOS included, then padding)."""
    if mask.dtype != torch.bool:
        if not ((mask == 0) | (mask == 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1 (1 = valid completion token)")
        mask = mask != 0
    if prefix and mask.shape[-1] > 1 and (mask[:, 1:] & ~mask[:, :-1]).any():
        raise ValueError(
            f"{name} must be left-aligned: each row ones (valid tokens, EOS included) followed by zeros "
            f"(padding); found a 1 after a 0. Right-pad completions before calling."
        )
    return mask
