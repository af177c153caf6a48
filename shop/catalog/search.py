"""Typo-tolerant product search over an in-memory index.

A query is answered in three steps, none of which scans the whole catalog:

1. each query token is looked up in the vocabulary: exactly, as a prefix of longer
   words, and within 1 edit (tokens of 4-7 characters) or 2 edits (8+);
2. the posting lists of those words are accumulated with numpy into an evidence
   score per document (exact > prefix > fuzzy, title > category and options);
   filters are applied to the candidates only;
3. the best few hundred candidates are rescored with ``rapidfuzz.fuzz.WRatio`` on
   their folded title, blended with the evidence.

An exact SKU (compared case-, accent- and separator-insensitively) ranks its
product first. The index is not thread-safe: it reuses scratch arrays between
queries, so share it across threads only behind a lock.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shop.catalog.search_rank import rank
from shop.catalog.search_store import (
    BulkColumns,
    CategoryTable,
    DocStore,
    Int32Array,
    SkuIndex,
)
from shop.catalog.search_vocab import Postings, UInt8Array, Vocabulary
from shop.catalog.text import compact_key, fold, hyphen_compounds, split_folded
from shop.errors import InputReason, InvalidQuery

Float32Array = npt.NDArray[np.float32]

MAX_QUERY_CHARS = 200
MAX_PAGE_SIZE = 100
MAX_RESULTS = 1000
"""``total`` is capped here and pages past it are empty."""
MAX_QUERY_TOKENS = 12
PREFIX_EXPANSIONS = 50
FUZZY_EXPANSIONS = 30
SKU_PREFIX_MATCHES = 50

_TITLE_WEIGHT = 10
_OTHER_WEIGHT = 7
_EXACT = 1.0
_PREFIX = 0.75
_FUZZY = (1.0, 0.6, 0.45)
_SKU_PREFIX = 0.8
_MIN_SKU_PREFIX = 4
_COMPACT_MIN_DEAD = 4096
_COMPACT_MIN_DELTA = 200_000


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """What the index knows about one product."""

    product_id: int
    title: str
    category_path: str
    option_values: tuple[str, ...]
    skus: tuple[str, ...]
    min_price: int
    max_price: int
    in_stock: bool


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on results; prices in minor units."""

    category_path: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock_only: bool = False


@dataclass(frozen=True)
class SearchHit:
    product_id: int
    score: float


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[SearchHit]
    total: int
    page: int
    page_size: int
    did_you_mean: str | None
    truncated: bool


def max_edits(length: int) -> int:
    """How many typos a query token of ``length`` characters may contain."""
    if length < 4:
        return 0
    return 1 if length < 8 else 2


def cut_query(query: str) -> tuple[str, bool]:
    """The query stripped and cut to MAX_QUERY_CHARS, at a word boundary when there is one."""
    text = query.strip()
    if len(text) <= MAX_QUERY_CHARS:
        return text, False
    head = text[: MAX_QUERY_CHARS + 1]
    space = head.rfind(" ")
    cut = head[:space] if space > MAX_QUERY_CHARS // 2 else head[:MAX_QUERY_CHARS]
    return cut.rstrip(), True


def _unique(slots: Int32Array, stamp: Int32Array) -> Int32Array:
    """Distinct values of ``slots`` in O(n), without sorting.

    Whichever duplicate wins the scatter, exactly one position per value reads its own index back.
    """
    positions = np.arange(len(slots), dtype=np.int32)
    stamp[slots] = positions
    first: Int32Array = slots[stamp[slots] == positions]
    return first


class SearchIndex:
    """In-memory, typo-tolerant search over products, updated one product at a time."""

    def __init__(self) -> None:
        self._vocab = Vocabulary()
        self._postings = Postings()
        self._docs = DocStore()
        self._skus = SkuIndex()
        self._categories = CategoryTable()
        self._option_tokens: dict[str, list[str]] = {}
        self._acc: Float32Array = np.zeros(0, dtype=np.float32)
        self._best: Float32Array = np.zeros(0, dtype=np.float32)
        self._stamp: Int32Array = np.zeros(0, dtype=np.int32)

    @classmethod
    def build(cls, docs: Iterable[SearchDoc]) -> SearchIndex:
        """Index ``docs`` in bulk; a product id seen twice keeps its last document."""
        index = cls()
        columns = BulkColumns()
        words, slots, weights = array("i"), array("i"), array("B")
        sku_keys: list[bytes] = []
        sku_slots = array("i")
        for doc in docs:
            title, terms = index._terms(doc)
            slot = columns.append(
                doc.product_id,
                doc.min_price,
                doc.max_price,
                doc.in_stock,
                index._categories.id_for(doc.category_path),
                title,
            )
            for word, weight in terms.items():
                words.append(index._vocab.add(word))
                slots.append(slot)
                weights.append(weight)
            for sku in doc.skus:
                key = compact_key(sku)
                if key:
                    sku_keys.append(key.encode())
                    sku_slots.append(slot)
        index._docs.load(columns)
        word_arr = np.frombuffer(words, dtype=np.int32) if words else np.zeros(0, np.int32)
        slot_arr = np.frombuffer(slots, dtype=np.int32) if slots else np.zeros(0, np.int32)
        weight_arr = np.frombuffer(weights, dtype=np.uint8) if weights else np.zeros(0, np.uint8)
        index._postings.load(word_arr, slot_arr, weight_arr, len(index._vocab))
        index._vocab.df.replace(np.bincount(word_arr, minlength=len(index._vocab)))
        index._skus.load(
            sku_keys,
            np.frombuffer(sku_slots, dtype=np.int32) if sku_slots else np.zeros(0, np.int32),
        )
        if index._docs.dead:
            index._compact()
        return index

    def upsert(self, doc: SearchDoc) -> None:
        """Add a product or replace its previous document, without a rebuild."""
        title, terms = self._terms(doc)
        slot = self._docs.append(
            doc.product_id,
            doc.min_price,
            doc.max_price,
            doc.in_stock,
            self._categories.id_for(doc.category_path),
            title,
        )
        df = self._vocab.df
        for word, weight in terms.items():
            ident = self._vocab.add(word)
            self._postings.add(ident, slot, weight)
            df.data[ident] += 1
        for sku in doc.skus:
            key = compact_key(sku)
            if key:
                self._skus.add(key, slot)
        self._maybe_compact()

    def remove(self, product_id: int) -> None:
        """Forget a product; nothing happens if it is not indexed."""
        if self._docs.kill(product_id):
            self._maybe_compact()

    def __len__(self) -> int:
        return len(self._docs.slot_of)

    def __contains__(self, product_id: object) -> bool:
        return isinstance(product_id, int) and product_id in self._docs.slot_of

    def _terms(self, doc: SearchDoc) -> tuple[str, dict[str, int]]:
        """The folded title kept for rescoring, and each indexed word with its field weight."""
        folded = fold(doc.title)
        title_tokens = split_folded(folded)
        terms = dict.fromkeys(title_tokens, _TITLE_WEIGHT)
        for compound in hyphen_compounds(folded):
            terms[compound] = _TITLE_WEIGHT
        for text in (doc.category_path, *doc.option_values):
            for token in self._cached_tokens(text):
                terms.setdefault(token, _OTHER_WEIGHT)
        return " ".join(title_tokens), terms

    def _cached_tokens(self, text: str) -> list[str]:
        # Categories and option values repeat across products; tokenize each once.
        tokens = self._option_tokens.get(text)
        if tokens is None:
            folded = fold(text)
            tokens = split_folded(folded) + hyphen_compounds(folded)
            if len(self._option_tokens) > 100_000:
                self._option_tokens.clear()
            self._option_tokens[text] = tokens
        return tokens

    def _maybe_compact(self) -> None:
        docs, postings = self._docs, self._postings
        if docs.dead > max(_COMPACT_MIN_DEAD, len(docs) // 4) or postings.delta_size > max(
            _COMPACT_MIN_DELTA, postings.base_size // 4
        ):
            self._compact()

    def _compact(self) -> None:
        alive, remap = self._docs.compact()
        self._vocab.df.replace(self._postings.compact(alive, remap, len(self._vocab)))
        self._skus.compact(alive, remap)

    def _scratch(self) -> tuple[Float32Array, Float32Array, Int32Array]:
        n = len(self._docs)
        if len(self._acc) < n:
            size = max(n + n // 4, 1024)
            self._acc = np.zeros(size, dtype=np.float32)
            self._best = np.zeros(size, dtype=np.float32)
            self._stamp = np.zeros(size, dtype=np.int32)
        return self._acc, self._best, self._stamp

    def search(
        self,
        query: str,
        filters: SearchFilters | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> SearchResult:
        """Products matching ``query``, best first, one page of them.

        Raises InvalidQuery for an empty query, one without letters or digits, a bad
        page or page size, or a price filter whose minimum is above its maximum.
        """
        if page < 1:
            raise InvalidQuery("page must be 1 or more", field="page",
                               reason=InputReason.OUT_OF_RANGE, minimum=1)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidQuery(f"page_size must be between 1 and {MAX_PAGE_SIZE}",
                               field="page_size", reason=InputReason.OUT_OF_RANGE, minimum=1,
                               maximum=MAX_PAGE_SIZE)
        filters = filters or SearchFilters()
        if (
            filters.min_price is not None
            and filters.max_price is not None
            and filters.min_price > filters.max_price
        ):
            raise InvalidQuery("min_price must not be above max_price", field="price",
                               reason=InputReason.OUT_OF_RANGE)
        text, truncated = cut_query(query)
        if not text:
            raise InvalidQuery("the search query is empty", field="query",
                               reason=InputReason.REQUIRED)
        tokens = split_folded(fold(text))
        if not tokens:
            raise InvalidQuery("the search query has no letters or digits to search for",
                               field="query", reason=InputReason.FORMAT)

        corrections: dict[str, str] = {}
        candidates, evidence = self._collect(tokens, text, corrections)
        exact_sku = self._exact_sku_slots(text)
        candidates, evidence, exact_sku = self._apply_filters(
            candidates, evidence, exact_sku, filters
        )
        total = min(len(candidates) + len(exact_sku), MAX_RESULTS)
        start = (page - 1) * page_size
        end = min(start + page_size, total)
        hits: list[SearchHit] = []
        if start < end:
            pids, scores = rank(
                self._docs, candidates, evidence, " ".join(tokens), end - len(exact_sku)
            )
            ranked = [SearchHit(pid, 100.0) for pid in exact_sku]
            ranked += [SearchHit(p, s) for p, s in zip(pids, scores, strict=True)]
            hits = ranked[start:end]
        did_you_mean = None
        if corrections:
            did_you_mean = " ".join(corrections.get(t, t) for t in tokens)
        return SearchResult(text, hits, total, page, page_size, did_you_mean, truncated)

    def _expand(self, token: str, corrections: dict[str, str]) -> list[tuple[int, float]]:
        """Vocabulary words matching ``token`` with the evidence each match is worth."""
        vocab = self._vocab
        df = vocab.df.data
        found: dict[int, float] = {}
        ident = vocab.get(token)
        known = ident is not None and df[ident] > 0
        if ident is not None:
            found[ident] = _EXACT
        prefixed = vocab.prefixed(token, PREFIX_EXPANSIONS) if len(token) >= 2 else []
        for other in prefixed:
            found[other] = _PREFIX
        similar = vocab.similar(token, max_edits(len(token)), FUZZY_EXPANSIONS)
        for other, edits in similar:
            found.setdefault(other, _FUZZY[edits])
        if not known and similar:
            corrections[token] = vocab.word(similar[0][0])
        return list(found.items())

    def _collect(
        self, tokens: list[str], text: str, corrections: dict[str, str]
    ) -> tuple[Int32Array, Float32Array]:
        """Candidate slots (dead ones included) and their evidence in 0..1."""
        acc, best, stamp = self._scratch()
        groups: list[list[tuple[Int32Array, Float32Array]]] = []
        distinct = list(dict.fromkeys(tokens))[:MAX_QUERY_TOKENS]
        for token in distinct:
            group = []
            for ident, level in self._expand(token, corrections):
                slots, weights = self._postings.get(ident)
                if len(slots):
                    group.append((slots, self._values(weights, level)))
            groups.append(group)
        key = compact_key(text)
        if len(key) >= _MIN_SKU_PREFIX:
            sku_slots = self._skus.lookup(key, True, SKU_PREFIX_MATCHES)
            if sku_slots:
                slots = _unique(np.asarray(sku_slots, dtype=np.int32), stamp)
                groups.append([(slots, np.full(len(slots), _SKU_PREFIX, dtype=np.float32))])
        touched: list[Int32Array] = []
        for group in groups:
            if not group:
                continue
            for slots, values in group:
                current = best[slots]
                np.maximum(current, values, out=current)
                best[slots] = current
            union = group[0][0]
            if len(group) > 1:
                union = _unique(np.concatenate([slots for slots, _ in group]), stamp)
            # A query token counts once per document: its best matching word.
            acc[union] += best[union]
            best[union] = 0
            touched.append(union)
        if not touched:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        candidates = touched[0] if len(touched) == 1 else _unique(np.concatenate(touched), stamp)
        evidence = acc[candidates]
        acc[candidates] = 0
        evidence /= np.float32(len(distinct))
        np.minimum(evidence, np.float32(1.0), out=evidence)
        return candidates, evidence

    @staticmethod
    def _values(weights: UInt8Array, level: float) -> Float32Array:
        values: Float32Array = weights.astype(np.float32)
        values *= np.float32(level / _TITLE_WEIGHT)
        return values

    def _exact_sku_slots(self, text: str) -> list[int]:
        keys = {compact_key(text), *(compact_key(chunk) for chunk in text.split())}
        found: set[int] = set()
        for key in keys:
            found.update(self._skus.lookup(key, False, SKU_PREFIX_MATCHES))
        return sorted(found)

    def _apply_filters(
        self,
        candidates: Int32Array,
        evidence: Float32Array,
        exact_sku: list[int],
        filters: SearchFilters,
    ) -> tuple[Int32Array, Float32Array, list[int]]:
        """Keep live documents passing ``filters``; exact-SKU ones move to a product id list."""
        docs = self._docs
        sku_slots = np.asarray(exact_sku, dtype=np.int32)
        masks = []
        for slots in (candidates, sku_slots):
            keep = docs.alive.data[slots]
            if filters.in_stock_only:
                keep &= docs.in_stock.data[slots]
            if filters.min_price is not None:
                keep &= docs.max_price.data[slots] >= filters.min_price
            if filters.max_price is not None:
                keep &= docs.min_price.data[slots] <= filters.max_price
            if filters.category_path is not None:
                allowed = self._categories.matching(filters.category_path)
                if allowed is not None:
                    keep &= allowed[docs.category.data[slots]]
            masks.append(keep)
        sku_slots = sku_slots[masks[1]]
        keep = masks[0]
        if len(sku_slots):
            keep &= ~np.isin(candidates, sku_slots)
        sku_pids = sorted(int(p) for p in docs.product_id.data[sku_slots])
        return candidates[keep], evidence[keep], sku_pids
