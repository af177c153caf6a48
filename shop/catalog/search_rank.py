"""Ordering of search candidates: a cheap pass picks who gets the costly WRatio.

Candidates arrive with an evidence score (0..1) from the token lookup. The
PRESELECT best by evidence get ``fuzz.ratio`` against the folded query, which
picks the RESCORE_WINDOW that get ``fuzz.WRatio``; their final score blends
WRatio with the evidence. The order is total and does not depend on how many
results are asked for, so pages never overlap.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from shop.catalog.search_store import DocStore, Int32Array

Float32Array = npt.NDArray[np.float32]

RESCORE_WINDOW = 400
"""How many of the best candidates get a WRatio rescoring."""
PRESELECT = 3000
"""How many candidates, by evidence, get a cheap similarity to pick the rescoring window."""
# Mostly WRatio, so results read like a fuzzy title match; evidence keeps exact-match
# documents above fuzzy ones when titles score alike, and counts category and option words.
_WRATIO_SHARE = 0.9
_WINDOW_EVIDENCE = 30.0
# A word matched in the category or options, not the title, still deserves a fair score.
_EVIDENCE_FLOOR = 85.0


def rank(
    docs: DocStore,
    candidates: Int32Array,
    evidence: Float32Array,
    query_text: str,
    needed: int,
) -> tuple[list[int], list[float]]:
    """Product ids and scores (0..100) of the best ``needed`` candidates, best first.

    Ties are broken by product id. Past the rescoring window, candidates follow the
    cheap pass's order and their scores only decrease.
    """
    if needed <= 0 or not len(candidates):
        return [], []
    pids = docs.product_id.data[candidates]
    quantized = np.rint(evidence.astype(np.float64) * 100_000).astype(np.int64)
    # WRatio scores a word found in a long title higher than in a short one.
    key = (quantized << 16) | docs.title_len.data[candidates].astype(np.int64)
    chosen = top_positions(key, pids, PRESELECT)
    titles = docs.titles.data[candidates[chosen]]
    closeness = process.cdist([query_text], titles, scorer=fuzz.ratio, workers=1)[0]
    mixed = closeness.astype(np.float64) + _WINDOW_EVIDENCE * evidence[chosen]
    order = np.lexsort((pids[chosen], -np.rint(mixed * 100).astype(np.int64)))
    window = chosen[order[:RESCORE_WINDOW]]
    ratio = process.cdist(
        [query_text], titles[order[:RESCORE_WINDOW]], scorer=fuzz.WRatio, workers=1
    )[0]
    window_evidence = evidence[window].astype(np.float64)
    blended = _WRATIO_SHARE * ratio.astype(np.float64)
    blended += (100 * (1 - _WRATIO_SHARE)) * window_evidence
    np.maximum(blended, _EVIDENCE_FLOOR * window_evidence, out=blended)
    blended = np.round(blended, 3)
    best_first = np.lexsort((pids[window], -blended))
    window, scores = window[best_first][:needed], blended[best_first]
    out_pids: list[int] = pids[window].tolist()
    out_scores: list[float] = scores[:needed].tolist()
    rest = chosen[order[RESCORE_WINDOW:needed]]
    if len(rest):
        rest_scores = np.minimum(_EVIDENCE_FLOOR * evidence[rest].astype(np.float64), scores[-1])
        out_pids += pids[rest].tolist()
        out_scores += np.round(np.minimum.accumulate(rest_scores), 3).tolist()
    return out_pids, out_scores


def top_positions(
    key: npt.NDArray[np.int64], pids: npt.NDArray[np.int64], count: int
) -> Int32Array:
    """Positions of the ``count`` largest keys (ties: smaller product id), in no order."""
    if count >= len(key):
        return np.arange(len(key), dtype=np.int32)
    kth = np.partition(key, len(key) - count)[len(key) - count]
    above = np.flatnonzero(key > kth)
    at = np.flatnonzero(key == kth)
    at = at[np.argsort(pids[at], kind="stable")][: count - len(above)]
    return np.concatenate([above, at]).astype(np.int32)
