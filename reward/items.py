"""What a pack's catalog and axes are made of: :class:`Item` and :class:`Axis` (see :mod:`~prefchat.reward.pack`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Axis", "Item"]


@dataclass(frozen=True)
class Item:
    item_id: str
    title: str
    text: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Axis:
    """A named base: the descriptors most correlated with each end of it."""

    index: int
    name: str
    positive: tuple[str, ...]
    negative: tuple[str, ...]
