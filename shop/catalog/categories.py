"""Category paths (`Clothing/T-shirts`): normalising them and getting or creating them.

A category is identified by its full path; creating `Clothing/T-shirts` also
creates `Clothing` when it is missing, so the tree never has holes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shop.catalog.models import Category
from shop.errors import InputReason, InvalidInput

MAX_NAME = 120
MAX_PATH = 500


def normalize_category_path(raw: str) -> str:
    """`" Clothing / T-shirts/ "` → `"Clothing/T-shirts"`; empty segments are dropped."""
    return "/".join(part.strip() for part in raw.split("/") if part.strip())


def category_path_problem(path: str) -> str | None:
    """Why a normalised path cannot be stored, or None when it can."""
    if len(path) > MAX_PATH:
        return f"category path is {len(path)} characters long (at most {MAX_PATH})"
    for name in path.split("/"):
        if len(name) > MAX_NAME:
            return f'category name "{name[:40]}…" is longer than {MAX_NAME} characters'
    return None


def _prefixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


async def ensure_category_paths(session: AsyncSession, paths: Iterable[str]) -> dict[str, int]:
    """Get or create every category path (and its parents); map each path to its id.

    Paths are normalised first; the returned mapping is keyed by the normalised
    path and also holds the parents. Runs inside the caller's transaction.
    """
    wanted: set[str] = set()
    for raw in paths:
        path = normalize_category_path(raw)
        if not path:
            continue
        problem = category_path_problem(path)
        if problem:
            raise InvalidInput(problem, field="category", reason=InputReason.FORMAT,
                               value=path)
        wanted.update(_prefixes(path))
    if not wanted:
        return {}
    ids: dict[str, int] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        query = select(Category.path, Category.id).where(Category.path.in_(chunk))
        rows = await session.execute(query)
        ids.update({path: ident for path, ident in rows.tuples()})
    next_position: dict[int | None, int] = {}
    # Parents sort before their children, so a parent's id is known when needed.
    for path in sorted(wanted - ids.keys(), key=lambda p: (p.count("/"), p)):
        parent_path, _, name = path.rpartition("/")
        parent_id = ids[parent_path] if parent_path else None
        if parent_id not in next_position:
            highest = await session.scalar(
                select(func.max(Category.position)).where(
                    Category.parent_id.is_(None) if parent_id is None
                    else Category.parent_id == parent_id
                )
            )
            next_position[parent_id] = -1 if highest is None else highest
        next_position[parent_id] += 1
        ids[path] = await _create(session, name, path, parent_id, next_position[parent_id])
    return ids


async def _create(
    session: AsyncSession, name: str, path: str, parent_id: int | None, position: int
) -> int:
    category = Category(name=name, path=path, parent_id=parent_id, position=position)
    try:
        # A savepoint, so losing a race with another writer does not spoil the caller's
        # transaction: the other writer's row is then simply used.
        async with session.begin_nested():
            session.add(category)
        return category.id
    except IntegrityError:
        existing = await session.scalar(select(Category.id).where(Category.path == path))
        if existing is None:
            raise
        return existing


async def ensure_category_path(session: AsyncSession, path: str) -> Category:
    """Get or create one category by path (`Clothing/T-shirts`), creating its parents too."""
    normalised = normalize_category_path(path)
    if not normalised:
        raise InvalidInput("a category path needs at least one name", field="category",
                           reason=InputReason.REQUIRED)
    ids = await ensure_category_paths(session, [normalised])
    category = await session.get(Category, ids[normalised])
    assert category is not None  # created or found just above, in this transaction
    return category
