"""Vocabulary and posting lists of the in-memory search index.

Words get dense ids. Prefix lookup bisects a sorted word list; fuzzy lookup only
looks at words of a close length whose character-set signature differs by few
bits, then confirms with an optimal-string-alignment distance in C. Postings are
a CSR block (sorted once) plus a per-word delta of slots appended since.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA

from shop.catalog.search_store import BoolArray, Growable, Int32Array

UInt8Array = npt.NDArray[np.uint8]
_MAX_CHAR = "\U0010ffff"
# Fuzzy lookup skips shorter words: one edit away from a 3-letter word is too much noise.
_MIN_FUZZY_WORD = 3


def char_signature(word: str) -> int:
    """A 64-bit set of the characters in ``word``; one edit changes at most two bits."""
    sig = 0
    for c in word:
        o = ord(c)
        if 97 <= o <= 122:
            sig |= 1 << (o - 97)
        elif 48 <= o <= 57:
            sig |= 1 << (o - 48 + 26)
        else:
            sig |= 1 << (36 + o % 28)
    return sig


class _Bucket:
    """Words of one length, for fuzzy lookup."""

    __slots__ = ("ids", "signatures", "words")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.ids: list[int] = []
        self.signatures = Growable(np.uint64, 64)


class Vocabulary:
    """Folded words <-> dense ids, with prefix and typo-tolerant lookup."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._words: list[str] = []
        self._sorted: list[str] = []
        self._sorted_ids: list[int] = []
        self._unsorted: list[int] = []
        self._buckets: dict[int, _Bucket] = {}
        self.df = Growable(np.int32)

    def __len__(self) -> int:
        return len(self._words)

    def get(self, word: str) -> int | None:
        """The id of ``word``, or None."""
        return self._ids.get(word)

    def word(self, ident: int) -> str:
        """The word with id ``ident``."""
        return self._words[ident]

    def add(self, word: str) -> int:
        """The id of ``word``, registering it if new."""
        ident = self._ids.get(word)
        if ident is not None:
            return ident
        ident = len(self._words)
        self._ids[word] = ident
        self._words.append(word)
        self._unsorted.append(ident)
        self.df.append(0)
        if len(word) >= _MIN_FUZZY_WORD and not word.isdigit():
            bucket = self._buckets.get(len(word))
            if bucket is None:
                bucket = self._buckets[len(word)] = _Bucket()
            bucket.words.append(word)
            bucket.ids.append(ident)
            bucket.signatures.append(char_signature(word))
        return ident

    def _sort_pending(self) -> None:
        if not self._unsorted:
            return
        if len(self._unsorted) > 64:
            self._sorted = sorted(self._words)
            self._sorted_ids = [self._ids[w] for w in self._sorted]
        else:
            for ident in self._unsorted:
                word = self._words[ident]
                i = bisect_left(self._sorted, word)
                self._sorted.insert(i, word)
                self._sorted_ids.insert(i, ident)
        self._unsorted = []

    def has_prefix(self, prefix: str) -> bool:
        """Whether some word other than ``prefix`` itself starts with ``prefix``."""
        return bool(self.prefixed(prefix, 1))

    def prefixed(self, prefix: str, limit: int) -> list[int]:
        """Ids of the words that extend ``prefix``, the most frequent first, at most ``limit``."""
        self._sort_pending()
        lo = bisect_left(self._sorted, prefix)
        if lo < len(self._sorted) and self._sorted[lo] == prefix:
            lo += 1
        hi = bisect_left(self._sorted, prefix + _MAX_CHAR, lo)
        if lo >= hi:
            return []
        arr = np.asarray(self._sorted_ids[lo:hi], dtype=np.int64)
        df = self.df.data[arr]
        # Words whose every document was removed stay until the next compaction.
        arr, df = arr[df > 0], df[df > 0]
        if len(arr) > limit:
            arr = arr[np.lexsort((arr, -df))[:limit]]
        return [int(i) for i in arr]

    def similar(self, word: str, max_edits: int, limit: int) -> list[tuple[int, int]]:
        """``(id, edits)`` of other words within ``max_edits`` edits (a swap counts as one).

        Closest first, then the most frequent, at most ``limit``.
        """
        if max_edits <= 0 or word.isdigit():
            return []
        signature = np.uint64(char_signature(word))
        found: list[tuple[int, int]] = []
        low = max(_MIN_FUZZY_WORD, len(word) - max_edits)
        for length in range(low, len(word) + max_edits + 1):
            bucket = self._buckets.get(length)
            if bucket is None:
                continue
            differing = np.bitwise_count(bucket.signatures.data ^ signature)
            near = np.flatnonzero(differing <= 2 * max_edits).tolist()
            if not near:
                continue
            candidates = [bucket.words[i] for i in near]
            dist = process.cdist(
                [word], candidates, scorer=OSA.distance, score_cutoff=max_edits, workers=1
            )[0]
            df = self.df.data
            for j in np.flatnonzero(dist <= max_edits).tolist():
                ident = bucket.ids[near[j]]
                if candidates[j] != word and df[ident] > 0:
                    found.append((ident, int(dist[j])))
        df = self.df.data
        found.sort(key=lambda pair: (pair[1], -int(df[pair[0]]), self._words[pair[0]]))
        return found[:limit]


class Postings:
    """Word id -> slots (int32) and field weights (uint8): a CSR base plus a delta."""

    def __init__(self) -> None:
        self._offsets: npt.NDArray[np.int64] = np.zeros(1, dtype=np.int64)
        self._slots: Int32Array = np.empty(0, dtype=np.int32)
        self._weights: UInt8Array = np.empty(0, dtype=np.uint8)
        self._delta: dict[int, list[int]] = {}
        self.delta_size = 0

    @property
    def base_size(self) -> int:
        return len(self._slots)

    def load(self, words: Int32Array, slots: Int32Array, weights: UInt8Array, n_words: int) -> None:
        """Replace the content with the given (word, slot, weight) triples."""
        # One packed int64 sort is much cheaper than an argsort plus three gathers.
        key = words.astype(np.int64) << 36
        key |= slots.astype(np.int64) << 4
        key |= weights.astype(np.int64)
        key.sort()
        # Casting to a narrower integer keeps the low bits, which is the field wanted.
        self._weights = key.astype(np.uint8) & np.uint8(0xF)
        key >>= 4
        self._slots = key.astype(np.int32)
        key >>= 32
        self._offsets = np.searchsorted(key, np.arange(n_words + 1)).astype(np.int64)
        self._delta = {}
        self.delta_size = 0

    def add(self, word: int, slot: int, weight: int) -> None:
        """Append one posting without touching the CSR block."""
        self._delta.setdefault(word, []).append(slot << 4 | weight)
        self.delta_size += 1

    def get(self, word: int) -> tuple[Int32Array, UInt8Array]:
        """The slots (dead ones included) and weights of ``word``."""
        if word + 1 < len(self._offsets):
            lo, hi = int(self._offsets[word]), int(self._offsets[word + 1])
            slots, weights = self._slots[lo:hi], self._weights[lo:hi]
        else:
            slots, weights = self._slots[:0], self._weights[:0]
        extra = self._delta.get(word)
        if extra:
            packed = np.asarray(extra, dtype=np.int64)
            slots = np.concatenate([slots, (packed >> 4).astype(np.int32)])
            weights = np.concatenate([weights, (packed & 0xF).astype(np.uint8)])
        return slots, weights

    def compact(self, alive: BoolArray, remap: Int32Array, n_words: int) -> Int32Array:
        """Merge the delta, drop dead slots, renumber the rest; return document frequencies."""
        counts = np.diff(self._offsets)
        words = [np.repeat(np.arange(len(counts), dtype=np.int32), counts)]
        slots = [self._slots]
        weights = [self._weights]
        for word, packed_list in self._delta.items():
            packed = np.asarray(packed_list, dtype=np.int64)
            words.append(np.full(len(packed), word, dtype=np.int32))
            slots.append((packed >> 4).astype(np.int32))
            weights.append((packed & 0xF).astype(np.uint8))
        all_slots = np.concatenate(slots)
        keep = alive[all_slots]
        kept_words = np.concatenate(words)[keep]
        self.load(kept_words, remap[all_slots[keep]], np.concatenate(weights)[keep], n_words)
        return np.bincount(kept_words, minlength=n_words).astype(np.int32)
