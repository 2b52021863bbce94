"""The declarative base, bound to the metadata that carries the constraint naming convention."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from storage.database import metadata

__all__ = ["Base"]


class Base(DeclarativeBase):
    metadata = metadata
