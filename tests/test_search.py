import random

import pytest
from rapidfuzz import fuzz, process

from shop.catalog.search import (
    MAX_QUERY_CHARS,
    MAX_RESULTS,
    SearchDoc,
    SearchFilters,
    SearchIndex,
)
from shop.catalog.text import fold
from shop.errors import InvalidQuery


def doc(
    pid: int,
    title: str,
    category: str = "",
    options: tuple[str, ...] = (),
    skus: tuple[str, ...] = (),
    price: int | tuple[int, int] = 1000,
    in_stock: bool = True,
) -> SearchDoc:
    low, high = price if isinstance(price, tuple) else (price, price)
    return SearchDoc(pid, title, category, options, skus, low, high, in_stock)


CATALOG = [
    doc(1, "Żółty Sweter Wełniany", "Odzież/Swetry", ("Żółty", "M", "L"), ("SW-ZOL-M",), 12900),
    doc(
        2,
        "Merino Wool Sweater Navy",
        "Clothing/Sweaters",
        ("Navy", "S", "M"),
        ("MER-NAV-S", "MER-NAV-M"),
        (8900, 9900),
    ),
    doc(
        3,
        "Classic Cotton T-Shirt Black",
        "Clothing/T-shirts",
        ("Black", "M", "L"),
        ("TS-BLK-M", "TS-BLK-L"),
        1999,
    ),
    doc(4, "Café Crème Espresso Beans", "Żywność/Kawa", (), ("COF-001",), 1450, in_stock=False),
    doc(
        5,
        "Straße Running Shoes",
        "Shoes/Sneakers",
        ("42", "43"),
        ("RUN-42", "RUN-43"),
        (7900, 8400),
    ),
    doc(6, "Leather Wallet Brown", "Accessories/Bags", ("Brown",), ("WAL-BRN",), 4500),
    doc(
        7,
        "Wireless Headphones",
        "Electronics/Audio",
        ("Black", "White"),
        ("HP-BLK", "HP-WHT"),
        14900,
        in_stock=False,
    ),
    doc(8, "Grey Hooded Sweatshirt", "Clothing/Sweaters", ("Grey", "XL"), ("HD-GRY",), 5900),
    doc(9, "Clothespin Set Bamboo", "Home/Laundry", (), ("CLP-1",), 300),
]


@pytest.fixture
def index() -> SearchIndex:
    return SearchIndex.build(CATALOG)


def ids(index: SearchIndex, query: str, filters: SearchFilters | None = None) -> list[int]:
    return [hit.product_id for hit in index.search(query, filters, page_size=100).hits]


def first(index: SearchIndex, query: str) -> int:
    hits = index.search(query).hits
    assert hits, f"nothing found for {query!r}"
    return hits[0].product_id


def test_build_counts_and_membership(index: SearchIndex) -> None:
    assert len(index) == len(CATALOG)
    assert 7 in index
    assert 99 not in index
    assert "7" not in index


def test_exact_word(index: SearchIndex) -> None:
    assert first(index, "headphones") == 7
    assert first(index, "wallet") == 6


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zolty", 1),
        ("ŻÓŁTY sweter", 1),
        ("welniany", 1),
        ("cafe creme", 4),
        ("CRÈME", 4),
        ("strasse", 5),
        ("straße", 5),
    ],
)
def test_accents_fold_on_both_sides(index: SearchIndex, query: str, expected: int) -> None:
    assert first(index, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("hedphones", 7),  # one deletion
        ("wallst", 6),  # one substitution
        ("walelt", 6),  # one transposition
        ("sweatre", 2),  # transposition at the end
        ("hedphonez", 7),  # two edits in a 9+ letter word
        ("wireles headphnes", 7),
        ("leathr wallet", 6),
    ],
)
def test_typos(index: SearchIndex, query: str, expected: int) -> None:
    assert first(index, query) == expected


def test_two_typos_in_a_short_word_are_not_matched(index: SearchIndex) -> None:
    # "wallet" has 6 letters: one edit is tolerated, two are not.
    assert 6 not in ids(index, "wxllxt")


@pytest.mark.parametrize(("query", "expected"), [("headph", 7), ("wirel", 7), ("espres", 4)])
def test_prefix(index: SearchIndex, query: str, expected: int) -> None:
    assert first(index, query) == expected


def test_prefix_finds_every_word_it_starts(index: SearchIndex) -> None:
    found = ids(index, "swea")
    assert {2, 8} <= set(found)


def test_exact_beats_prefix_beats_fuzzy() -> None:
    index = SearchIndex.build(
        [
            doc(1, "Lamb Figurine Oak"),  # fuzzy: lamp -> lamb
            doc(2, "Lampshade Oak Stand"),  # prefix: lamp -> lampshade
            doc(3, "Lamp Shade Oak"),  # exact
        ]
    )
    assert ids(index, "lamp") == [3, 2, 1]
    scores = [hit.score for hit in index.search("lamp").hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 100 for s in scores)


def test_exact_sku_ranks_first(index: SearchIndex) -> None:
    for query in ("TS-BLK-M", "ts-blk-m", "ts blk m", "TSBLKM"):
        result = index.search(query)
        assert result.hits[0].product_id == 3
        assert result.hits[0].score == 100.0
    # A SKU whose words also appear elsewhere still wins.
    assert first(index, "HP-BLK") == 7


def test_sku_inside_a_longer_query(index: SearchIndex) -> None:
    assert first(index, "do you have WAL-BRN") == 6


def test_sku_prefix(index: SearchIndex) -> None:
    assert first(index, "MER-NAV") == 2


def test_option_and_category_words_match(index: SearchIndex) -> None:
    assert 7 in ids(index, "white")
    assert first(index, "sneakers") == 5


def test_category_filter_includes_subcategories(index: SearchIndex) -> None:
    clothing = SearchFilters(category_path="Clothing")
    assert set(ids(index, "sweater shirt", clothing)) <= {2, 3, 8}
    assert 2 in ids(index, "sweater", clothing)
    assert ids(index, "shirt", SearchFilters(category_path="clothing/T-SHIRTS")) == [3]


def test_category_filter_is_accent_insensitive(index: SearchIndex) -> None:
    assert ids(index, "espresso", SearchFilters(category_path="zywnosc")) == [4]
    assert ids(index, "sweter", SearchFilters(category_path="ODZIEŻ/swetry")) == [1]


def test_category_filter_respects_path_boundaries(index: SearchIndex) -> None:
    # "Cloth" is not a parent of "Clothing/..."; "Clothespin" is in "Home/Laundry".
    assert ids(index, "sweater", SearchFilters(category_path="Cloth")) == []
    assert ids(index, "sweater", SearchFilters(category_path="Electronics")) == []


def test_price_filter_uses_range_overlap(index: SearchIndex) -> None:
    assert 2 in ids(index, "sweater", SearchFilters(min_price=9500, max_price=20000))
    assert 2 not in ids(index, "sweater", SearchFilters(min_price=10000))
    assert 2 in ids(index, "sweater", SearchFilters(max_price=8900))
    assert 2 not in ids(index, "sweater", SearchFilters(max_price=8899))
    cheap = ids(index, "shoes wallet shirt", SearchFilters(max_price=5000))
    assert set(cheap) == {3, 6}


def test_in_stock_filter(index: SearchIndex) -> None:
    assert ids(index, "headphones", SearchFilters(in_stock_only=True)) == []
    assert ids(index, "espresso", SearchFilters(in_stock_only=True)) == []
    assert ids(index, "wallet", SearchFilters(in_stock_only=True)) == [6]


def test_filters_combine(index: SearchIndex) -> None:
    filters = SearchFilters(category_path="clothing", min_price=5000, in_stock_only=True)
    assert set(ids(index, "sweater sweatshirt shirt", filters)) == {2, 8}


def test_filters_apply_to_exact_sku(index: SearchIndex) -> None:
    assert ids(index, "HP-BLK", SearchFilters(in_stock_only=True)) == []


def test_bad_price_range_is_rejected(index: SearchIndex) -> None:
    with pytest.raises(InvalidQuery):
        index.search("sweater", SearchFilters(min_price=10, max_price=5))


def test_pagination_pages_do_not_overlap() -> None:
    index = SearchIndex.build(
        doc(pid, f"Widget {word} Model", price=pid)
        for pid, word in enumerate(
            (f"alpha{i}" if i % 2 else f"beta{i}" for i in range(57)), start=100
        )
    )
    seen: list[int] = []
    for page in range(1, 7):
        result = index.search("widget", page=page, page_size=10)
        assert result.total == 57
        assert result.page == page and result.page_size == 10
        seen += [hit.product_id for hit in result.hits]
    assert len(seen) == 57 == len(set(seen))
    assert index.search("widget", page=7, page_size=10).hits == []
    assert index.search("widget", page=1, page_size=100).total == 57
    whole = [h.product_id for h in index.search("widget", page_size=57).hits]
    assert whole == seen


def test_pages_stay_consistent_past_the_rescoring_window() -> None:
    docs = [doc(pid, f"Gadget {'x' * (pid % 7)} {pid}") for pid in range(1, 1201)]
    index = SearchIndex.build(docs)
    seen: list[int] = []
    for page in range(1, 14):
        seen += [h.product_id for h in index.search("gadget", page=page, page_size=100).hits]
    assert len(seen) == MAX_RESULTS == len(set(seen))
    assert index.search("gadget").total == MAX_RESULTS
    scores = [h.score for p in (3, 4) for h in index.search("gadget", page=p, page_size=100).hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(("page", "size"), [(0, 10), (-1, 10), (1, 0), (1, 101)])
def test_bad_paging_is_rejected(index: SearchIndex, page: int, size: int) -> None:
    with pytest.raises(InvalidQuery):
        index.search("sweater", page=page, page_size=size)


def test_did_you_mean(index: SearchIndex) -> None:
    assert index.search("hedphones").did_you_mean == "headphones"
    assert index.search("wireles hedphones").did_you_mean == "wireless headphones"
    assert index.search("leathr wallet").did_you_mean == "leather wallet"
    assert index.search("headphones").did_you_mean is None
    assert index.search("headph").did_you_mean is None  # a prefix, not a typo
    assert index.search("qqqqqqq").did_you_mean is None  # nothing close


def test_upsert_renames_without_rebuild(index: SearchIndex) -> None:
    index.upsert(doc(7, "Bluetooth Earbuds", "Electronics/Audio", skus=("EB-1",), price=9900))
    assert len(index) == len(CATALOG)
    assert first(index, "earbuds") == 7
    assert first(index, "bluetoth") == 7
    assert 7 not in ids(index, "headphones")
    assert ids(index, "HP-BLK") == [] or first(index, "HP-BLK") != 7
    assert first(index, "EB-1") == 7
    assert ids(index, "earbuds", SearchFilters(max_price=10000)) == [7]


def test_upsert_adds_a_new_product(index: SearchIndex) -> None:
    index.upsert(doc(42, "Quokka Plush Toy", "Toys/Plush", skus=("QK-1",)))
    assert 42 in index and len(index) == len(CATALOG) + 1
    assert first(index, "quoka") == 42
    assert first(index, "QK-1") == 42
    assert ids(index, "plush", SearchFilters(category_path="toys")) == [42]


def test_remove(index: SearchIndex) -> None:
    index.remove(7)
    assert 7 not in index and len(index) == len(CATALOG) - 1
    assert 7 not in ids(index, "headphones wireless")
    assert ids(index, "HP-BLK") == [] or first(index, "HP-BLK") != 7
    index.remove(7)
    index.remove(12345)
    assert len(index) == len(CATALOG) - 1


def test_many_updates_trigger_compaction_and_stay_correct() -> None:
    index = SearchIndex.build(doc(pid, f"Item {pid} Gizmo") for pid in range(200))
    rng = random.Random(3)
    for step in range(6000):
        pid = rng.randrange(200)
        index.upsert(doc(pid, f"Item {pid} Gizmo rev{step}"))
    for pid in range(0, 200, 2):
        index.remove(pid)
    assert len(index) == 100
    assert index.search("gizmo", page_size=100).total == 100
    assert set(ids(index, "gizmo")) == set(range(1, 200, 2))
    assert first(index, "item 37") == 37
    index.upsert(doc(500, "Brand New Gizmo"))
    assert first(index, "brand new") == 500


@pytest.mark.parametrize("query", ["", "   ", "\t\n", "🔥🔥", "!!! --- ...", "❤️ 🛒"])
def test_unsearchable_queries_raise(index: SearchIndex, query: str) -> None:
    with pytest.raises(InvalidQuery) as raised:
        index.search(query)
    assert raised.value.message


def test_very_long_query_is_cut(index: SearchIndex) -> None:
    result = index.search("wireless headphones " * 500)
    assert result.truncated
    assert len(result.query) <= MAX_QUERY_CHARS
    assert not result.query.endswith(" ") and result.query.split()[-1] in ("wireless", "headphones")
    assert result.hits[0].product_id == 7
    one_word = index.search("x" * 10_000)
    assert one_word.truncated and len(one_word.query) == MAX_QUERY_CHARS
    assert not index.search("headphones").truncated


def test_sql_looking_text_is_just_text(index: SearchIndex) -> None:
    result = index.search("'; DROP TABLE products; --")
    assert result.query == "'; DROP TABLE products; --"
    assert len(index) == len(CATALOG)
    assert first(index, "wallet' OR '1'='1") == 6


def test_ties_break_by_product_id_and_repeat() -> None:
    pids = [50, 3, 17, 8, 99, 1]
    index = SearchIndex.build(doc(pid, "Identical Ceramic Mug") for pid in pids)
    result = index.search("ceramic mug")
    assert [h.product_id for h in result.hits] == sorted(pids)
    assert len({h.score for h in result.hits}) == 1
    for _ in range(3):
        assert index.search("ceramic mug") == result


def test_empty_index() -> None:
    index = SearchIndex()
    result = index.search("anything")
    assert result.hits == [] and result.total == 0
    index.upsert(doc(1, "Anything Goes"))
    assert first(index, "anything") == 1


def test_duplicate_ids_in_bulk_build_keep_the_last() -> None:
    index = SearchIndex.build([doc(1, "Old Kettle"), doc(2, "Teapot"), doc(1, "New Toaster")])
    assert len(index) == 2
    assert ids(index, "kettle") == []
    assert first(index, "toaster") == 1


BRANDS = ["Nordvik", "Kalora", "Solberg", "Fenwick", "Istra", "Morello", "Quintex", "Valdoro"]
ADJECTIVES = ["Cozy", "Classic", "Rugged", "Compact", "Premium", "Vintage", "Elegant", "Sturdy"]
NOUNS = [
    "Sweater",
    "Kettle",
    "Backpack",
    "Lantern",
    "Blender",
    "Cardigan",
    "Notebook",
    "Headphones",
    "Tumbler",
    "Sneakers",
    "Blanket",
    "Umbrella",
]
COLOURS = ["Navy", "Charcoal", "Burgundy", "Olive", "Mustard", "Ivory", "Teal", "Crimson"]


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + "x" + word[i:]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + ("q" if word[i] != "q" else "z") + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def test_agrees_with_a_brute_force_wratio_scan() -> None:
    rng = random.Random(7)
    titles = [
        f"{rng.choice(BRANDS)} {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(COLOURS)}"
        for _ in range(300)
    ]
    index = SearchIndex.build(doc(pid, title) for pid, title in enumerate(titles))
    folded = [fold(t) for t in titles]
    agree = source_found = 0
    rounds = 150
    for _ in range(rounds):
        source = rng.randrange(len(titles))
        words = folded[source].split()
        start = rng.randrange(len(words) - 1)
        picked = words[start : start + 2]
        target = rng.randrange(2)
        picked[target] = typo(picked[target], rng)
        query = " ".join(picked)
        hits = index.search(query).hits
        brute = process.extract(query, folded, scorer=fuzz.WRatio, limit=None)
        best_score = brute[0][1]
        if hits and fuzz.WRatio(query, folded[hits[0].product_id]) >= best_score - 1e-6:
            agree += 1
        if any(folded[h.product_id] == folded[source] for h in hits[:10]):
            source_found += 1
    assert agree / rounds >= 0.9
    assert source_found / rounds >= 0.95


def test_repeated_words_do_not_dilute_the_score(index: SearchIndex) -> None:
    once = index.search("wallet").hits[0]
    twice = index.search("wallet wallet WALLET").hits[0]
    assert once.product_id == twice.product_id == 6
    assert twice.score == pytest.approx(once.score, abs=15)
