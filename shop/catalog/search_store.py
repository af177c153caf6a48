"""Per-document columns, categories and SKUs of the in-memory search index.

Documents live in numbered slots. Replacing or removing a product only marks its
slot dead; :meth:`DocStore.compact` renumbers the live slots now and then.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import Any

import numpy as np
import numpy.typing as npt

from shop.catalog.text import fold

Int32Array = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]


class Growable:
    """A numpy array that grows by doubling, so appending one value is amortized O(1)."""

    def __init__(self, dtype: npt.DTypeLike, capacity: int = 1024) -> None:
        self._a: npt.NDArray[Any] = np.zeros(max(capacity, 16), dtype=dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def data(self) -> npt.NDArray[Any]:
        """A view of the filled part (valid until the next append)."""
        return self._a[: self._n]

    def _reserve(self, n: int) -> None:
        if n > len(self._a):
            bigger = np.zeros(max(n, 2 * len(self._a)), dtype=self._a.dtype)
            bigger[: self._n] = self._a[: self._n]
            self._a = bigger

    def append(self, value: Any) -> None:
        """Add one value at the end."""
        self._reserve(self._n + 1)
        self._a[self._n] = value
        self._n += 1

    def extend(self, values: npt.ArrayLike) -> None:
        """Add many values at the end."""
        arr = np.asarray(values, dtype=self._a.dtype)
        self._reserve(self._n + len(arr))
        self._a[self._n : self._n + len(arr)] = arr
        self._n += len(arr)

    def set(self, index: int, value: Any) -> None:
        """Overwrite one filled position."""
        self._a[index] = value

    def replace(self, values: npt.ArrayLike) -> None:
        """Drop the content and keep ``values`` instead."""
        self._n = 0
        self.extend(values)


def normalize_category(path: str) -> str:
    """Fold a category path and tidy its separators.

    ``" Clothing / T-Shirts"`` becomes ``"clothing/t-shirts"``.
    """
    parts = (fold(p).strip() for p in path.split("/"))
    return "/".join(p for p in parts if p)


class CategoryTable:
    """Category paths numbered densely; id 0 is "no category"."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {"": 0}
        self._raw_ids: dict[str, int] = {}
        self._paths: list[str] = [""]
        self._cache: dict[str, BoolArray] = {}

    def id_for(self, path: str) -> int:
        """The id of ``path``, registering it if new."""
        cid = self._raw_ids.get(path)
        if cid is not None:
            return cid
        key = normalize_category(path)
        cid = self._ids.get(key)
        if len(self._raw_ids) > 100_000:
            self._raw_ids.clear()
        if cid is None:
            cid = len(self._paths)
            self._ids[key] = cid
            self._paths.append(key)
            self._cache.clear()
        self._raw_ids[path] = cid
        return cid

    def matching(self, path: str) -> BoolArray | None:
        """A mask over category ids: ``path`` and its subcategories; ``None`` for no filter."""
        key = normalize_category(path)
        if not key:
            return None
        mask = self._cache.get(key)
        if mask is None:
            below = key + "/"
            mask = np.fromiter(
                (p == key or p.startswith(below) for p in self._paths),
                dtype=np.bool_,
                count=len(self._paths),
            )
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = mask
        return mask


class BulkColumns:
    """Document columns gathered in compact arrays during a bulk build."""

    def __init__(self) -> None:
        self.product_id = array("q")
        self.min_price = array("q")
        self.max_price = array("q")
        self.in_stock = array("b")
        self.category = array("i")
        self.alive = array("b")
        self.titles: list[str] = []
        self.slot_of: dict[int, int] = {}

    def append(
        self,
        product_id: int,
        min_price: int,
        max_price: int,
        in_stock: bool,
        category: int,
        title: str,
    ) -> int:
        """Add one document; an earlier one with the same product id becomes dead."""
        slot = len(self.titles)
        earlier = self.slot_of.get(product_id)
        if earlier is not None:
            self.alive[earlier] = 0
        self.slot_of[product_id] = slot
        self.product_id.append(product_id)
        self.min_price.append(min_price)
        self.max_price.append(max_price)
        self.in_stock.append(in_stock)
        self.category.append(category)
        self.alive.append(1)
        self.titles.append(title)
        return slot


class DocStore:
    """Slot columns used for filtering and rescoring, plus the product id -> slot map."""

    def __init__(self) -> None:
        self.product_id = Growable(np.int64)
        self.min_price = Growable(np.int64)
        self.max_price = Growable(np.int64)
        self.in_stock = Growable(np.bool_)
        self.category = Growable(np.int32)
        self.alive = Growable(np.bool_)
        self.title_len = Growable(np.uint16)
        # An object array: fancy indexing picks candidate titles faster than a list comprehension.
        self.titles = Growable(np.object_)
        self.slot_of: dict[int, int] = {}
        self.dead = 0

    def __len__(self) -> int:
        return len(self.titles)

    def append(
        self,
        product_id: int,
        min_price: int,
        max_price: int,
        in_stock: bool,
        category: int,
        title: str,
    ) -> int:
        """Store one document in a new slot (killing the product's old slot) and return it."""
        self.kill(product_id)
        slot = len(self.titles)
        self.product_id.append(product_id)
        self.min_price.append(min_price)
        self.max_price.append(max_price)
        self.in_stock.append(in_stock)
        self.category.append(category)
        self.alive.append(True)
        self.title_len.append(min(len(title), 65535))
        self.titles.append(title)
        self.slot_of[product_id] = slot
        return slot

    def load(self, columns: BulkColumns) -> None:
        """Replace the content with documents gathered by a bulk build."""
        self.product_id.replace(np.frombuffer(columns.product_id, dtype=np.int64))
        self.min_price.replace(np.frombuffer(columns.min_price, dtype=np.int64))
        self.max_price.replace(np.frombuffer(columns.max_price, dtype=np.int64))
        self.in_stock.replace(np.frombuffer(columns.in_stock, dtype=np.int8).astype(np.bool_))
        self.category.replace(np.frombuffer(columns.category, dtype=np.int32))
        alive = np.frombuffer(columns.alive, dtype=np.int8).astype(np.bool_)
        self.alive.replace(alive)
        titles = np.empty(len(columns.titles), dtype=np.object_)
        titles[:] = columns.titles
        titles[~alive] = ""
        self.titles.replace(titles)
        self.title_len.replace(np.minimum([len(t) for t in columns.titles], 65535))
        self.slot_of = columns.slot_of
        self.dead = len(alive) - int(alive.sum())

    def kill(self, product_id: int) -> bool:
        """Mark the product's slot dead; False when the product is not stored."""
        slot = self.slot_of.pop(product_id, None)
        if slot is None:
            return False
        self.alive.set(slot, False)
        self.titles.set(slot, "")
        self.dead += 1
        return True

    def compact(self) -> tuple[BoolArray, Int32Array]:
        """Drop dead slots; return the old alive mask and the old -> new slot map."""
        alive = self.alive.data.copy()
        remap = (np.cumsum(alive, dtype=np.int64) - 1).astype(np.int32)
        for column in (
            self.product_id,
            self.min_price,
            self.max_price,
            self.in_stock,
            self.category,
            self.alive,
            self.title_len,
            self.titles,
        ):
            column.replace(column.data[alive])
        pids = self.product_id.data.tolist()
        self.slot_of = dict(zip(pids, range(len(pids)), strict=True))
        self.dead = 0
        return alive, remap


class SkuIndex:
    """Exact and prefix lookup of SKU keys: a sorted byte array plus a small sorted delta."""

    def __init__(self) -> None:
        self._keys: npt.NDArray[np.bytes_] = np.empty(0, dtype="S1")
        self._slots: Int32Array = np.empty(0, dtype=np.int32)
        self._delta_keys: list[str] = []
        self._delta_slots: list[int] = []

    @property
    def delta_size(self) -> int:
        return len(self._delta_keys)

    def load(self, keys: list[bytes], slots: Int32Array) -> None:
        """Replace the content with ``keys[i]`` (UTF-8) -> ``slots[i]`` pairs."""
        if keys:
            arr = np.array(keys, dtype=np.bytes_)
            order = np.argsort(arr, kind="stable")
            self._keys = arr[order]
            self._slots = np.asarray(slots, dtype=np.int32)[order]
        else:
            self._keys = np.empty(0, dtype="S1")
            self._slots = np.empty(0, dtype=np.int32)
        self._delta_keys = []
        self._delta_slots = []

    def add(self, key: str, slot: int) -> None:
        """Add one pair without re-sorting the base array."""
        i = bisect_left(self._delta_keys, key)
        self._delta_keys.insert(i, key)
        self._delta_slots.insert(i, slot)

    def lookup(self, key: str, prefix: bool, limit: int) -> list[int]:
        """Slots whose key equals ``key`` (or starts with it), at most ``limit``, dead included."""
        if not key:
            return []
        raw = key.encode()
        found: list[int] = []
        width = self._keys.dtype.itemsize
        if len(raw) <= width:
            # A needle of the haystack's own dtype: a wider one would make numpy cast the array.
            needle = np.array(raw, dtype=self._keys.dtype)
            lo = int(np.searchsorted(self._keys, needle, side="left"))
            if prefix and len(raw) < width:
                needle = np.array(raw + b"\xff", dtype=self._keys.dtype)
            hi = int(np.searchsorted(self._keys, needle, side="right"))
            found = self._slots[lo : min(hi, lo + limit)].tolist()
        dlo = bisect_left(self._delta_keys, key)
        for i in range(dlo, len(self._delta_keys)):
            k = self._delta_keys[i]
            if len(found) >= limit or not (k.startswith(key) if prefix else k == key):
                break
            found.append(self._delta_slots[i])
        return found

    def compact(self, alive: BoolArray, remap: Int32Array) -> None:
        """Merge the delta, drop dead slots and renumber the rest."""
        keys: list[bytes] = self._keys.tolist() + [k.encode() for k in self._delta_keys]
        slots = np.concatenate([self._slots, np.asarray(self._delta_slots, dtype=np.int32)])
        keep = alive[slots]
        kept_keys = [k for k, ok in zip(keys, keep.tolist(), strict=True) if ok]
        self.load(kept_keys, remap[slots[keep]])
