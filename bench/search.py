"""Benchmark of catalog search against a full rapidfuzz scan.

    python bench/search.py --products N [--queries 500] [--seed 1] [--baseline-queries K]

Builds a synthetic catalog of N products, runs typo'd queries through
``SearchIndex`` and through ``rapidfuzz.process.extract(query, titles,
scorer=fuzz.WRatio, limit=10)`` (the baseline: a full scan), and prints
human-readable lines, then one JSON line (see DESIGN.md section 4).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rapidfuzz import fuzz, process

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shop.catalog.search import SearchDoc, SearchIndex

_SYLLABLES_START = (
    "nor kal ver sol bra fen gal hol ist jun kor lum mar nev oda pel qui ros sta tor "
    "ulm val wes yor zan bel cor dan elm fir gro har ivo jar kes"
).split()
_SYLLABLES_END = "vik ora ton ex a is en ia ux ar ford lund berg sen tec ica".split()

ADJECTIVES = """
cozy classic modern vintage rugged sleek compact portable lightweight heavy durable soft
premium deluxe essential everyday urban outdoor indoor slim wide tall mini mega ultra smart
quiet silent powerful gentle bold bright dark warm cool fresh crisp smooth rough fluffy
sturdy elegant casual formal sporty rustic minimalist retro ergonomic adjustable foldable
stackable waterproof breathable insulated thermal reversible wireless rechargeable digital
analog magnetic organic natural recycled handmade artisan heritage signature professional
studio travel family junior senior grand royal noble arctic tropical coastal alpine desert
forest ocean meadow canyon summit harbor island prairie glacier valley sunny stormy misty
dusky golden silver velvet silky crunchy zesty spicy savory sweet tangy mellow rich light
double triple single dual hybrid flexible rigid cushioned padded quilted ribbed knitted
woven braided polished brushed matte glossy textured patterned striped checked dotted
floral geometric abstract tailored relaxed cropped oversized fitted layered seamless
""".split()

NOUNS_BY_CATEGORY = {
    "Clothing/T-shirts": "tshirt tee tank polo henley jersey singlet camisole top tunic",
    "Clothing/Sweaters": "sweater cardigan pullover hoodie sweatshirt fleece jumper vest "
    "turtleneck",
    "Clothing/Jackets": "jacket parka anorak blazer raincoat windbreaker bomber overcoat poncho",
    "Clothing/Trousers": "trousers jeans chinos joggers leggings shorts culottes overalls cargo",
    "Shoes/Sneakers": "sneakers trainers runners slipons plimsolls highttops skate court",
    "Shoes/Boots": "boots chelsea hikers wellingtons brogues loafers sandals slippers clogs mules",
    "Accessories/Bags": "backpack tote satchel duffel wallet purse clutch messenger pouch rucksack",
    "Accessories/Jewelry": "necklace bracelet earrings ring pendant brooch anklet cufflinks locket",
    "Accessories/Headwear": "beanie cap fedora beret bucket visor headband bandana turban",
    "Home/Kitchen": "kettle toaster blender skillet saucepan wok colander grater whisk ladle "
    "spatula teapot",
    "Home/Tableware": "plate bowl mug tumbler goblet platter saucer pitcher carafe ramekin",
    "Home/Bedding": "duvet pillow blanket quilt sheet comforter mattress bedspread throw",
    "Home/Decor": "lamp vase candle mirror clock rug cushion curtain frame planter lantern",
    "Home/Furniture": "chair table sofa stool bench bookshelf dresser wardrobe desk ottoman",
    "Electronics/Audio": "headphones earbuds speaker soundbar amplifier turntable microphone radio",
    "Electronics/Computers": "laptop keyboard mouse monitor webcam router tablet charger dock hub",
    "Electronics/Phones": "smartphone case cable adapter powerbank stylus stand holder mount",
    "Electronics/Cameras": "camera lens tripod drone gimbal flash battery strap filter",
    "Sports/Fitness": "dumbbell kettlebell yoga mat treadmill rower skipping resistance band "
    "foam roller",
    "Sports/Outdoor": "tent sleepingbag hammock compass flashlight headlamp canteen stove "
    "binoculars",
    "Sports/Cycling": "bicycle helmet saddle pedals gloves pump bottle panniers lights lock",
    "Sports/Water": "swimsuit goggles snorkel wetsuit paddle kayak surfboard lifejacket fins",
    "Beauty/Skincare": "serum moisturizer cleanser toner sunscreen mask balm exfoliator cream",
    "Beauty/Hair": "shampoo conditioner brush comb dryer straightener curler pomade clipper",
    "Toys/Games": "puzzle boardgame dominoes chess cards marbles yoyo kite frisbee",
    "Toys/Plush": "teddy bunny dinosaur unicorn puppy kitten panda penguin dragon",
    "Garden/Tools": "shovel rake trowel pruner hose sprinkler wheelbarrow shears hoe",
    "Garden/Plants": "succulent cactus fern orchid bonsai lavender rosemary basil mint ivy",
    "Food/Coffee": "espresso beans grinder filter capsules decaf roast blend cafetiere",
    "Food/Snacks": "granola cookies crackers almonds cashews pretzels chips nougat toffee",
    "Office/Stationery": "notebook planner pen pencil marker stapler binder folder envelope "
    "journal",
    "Pets/Supplies": "collar leash harness kennel feeder scratcher catnip aquarium bed",
}

ATTRIBUTES = """
black white navy red green blue grey charcoal beige cream ivory olive khaki burgundy maroon
teal turquoise coral salmon mustard ochre lavender lilac plum indigo cobalt emerald mint
sage rust copper bronze gold silver pewter graphite midnight sand stone taupe blush rose
cotton linen wool merino cashmere silk denim leather suede canvas nylon polyester bamboo
oak walnut maple teak birch ceramic porcelain glass steel aluminium titanium carbon cork
xs s m l xl xxl small medium large jumbo 32gb 64gb 128gb 256gb 500ml 1l 2l 250g 500g 1kg
""".split()

COLOURS = ATTRIBUTES[:44]
SIZES = ("XS", "S", "M", "L", "XL", "XXL")


def make_brands(rng: random.Random, count: int = 300) -> list[str]:
    brands: set[str] = set()
    while len(brands) < count:
        name = rng.choice(_SYLLABLES_START) + rng.choice(_SYLLABLES_END)
        if rng.random() < 0.3:
            name = rng.choice(_SYLLABLES_START) + name
        brands.add(name.capitalize())
    return sorted(brands)


def _rows(n: int, seed: int) -> Iterator[tuple[str, str, tuple[str, ...], int]]:
    """(title, category, option values, price) of each product, the same for the same seed."""
    rng = random.Random(seed)
    brands = make_brands(rng)
    categories = sorted(NOUNS_BY_CATEGORY)
    nouns = {c: NOUNS_BY_CATEGORY[c].split() for c in categories}
    for _ in range(n):
        category = rng.choice(categories)
        words = [rng.choice(brands), rng.choice(ADJECTIVES).capitalize()]
        if rng.random() < 0.4:
            words.append(rng.choice(ADJECTIVES).capitalize())
        words.append(rng.choice(nouns[category]).capitalize())
        words.append(rng.choice(ATTRIBUTES).capitalize())
        if rng.random() < 0.25:
            words.append(rng.choice(ATTRIBUTES).capitalize())
        if category.startswith(("Clothing", "Shoes")):
            options = (rng.choice(COLOURS).capitalize(), *rng.sample(SIZES, rng.randint(1, 4)))
        else:
            options = tuple(c.capitalize() for c in rng.sample(COLOURS, rng.randint(0, 2)))
        yield " ".join(words), category, options, rng.randint(199, 99_999)


def make_catalog(n: int, seed: int) -> tuple[list[str], Callable[[], Iterator[SearchDoc]]]:
    """The titles (product id = position) and a function generating the documents.

    Documents are generated again on each call rather than kept, so the bench process
    holds only the titles, like a shop process that feeds the index from its database.
    """
    titles = [row[0] for row in _rows(n, seed)]

    def docs() -> Iterator[SearchDoc]:
        for pid, (title, category, options, price) in enumerate(_rows(n, seed)):
            prefix = title[:3].upper()
            skus = tuple(f"{prefix}-{pid:07d}-{o.upper()}" for o in options) or (
                f"{prefix}-{pid:07d}",
            )
            yield SearchDoc(
                product_id=pid,
                title=title,
                category_path=category,
                option_values=options,
                skus=skus,
                min_price=price,
                max_price=price + (pid % 3) * 500,
                in_stock=pid % 7 != 0,
            )

    return titles, docs


def typo(word: str, rng: random.Random) -> str:
    """One random insert, delete, substitute or transpose."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = rng.randrange(len(word))
    kind = rng.choice(("insert", "delete", "substitute", "transpose"))
    if kind == "insert":
        return word[:i] + rng.choice(letters) + word[i:]
    if kind == "delete":
        return word[:i] + word[i + 1 :]
    if kind == "substitute":
        return word[:i] + rng.choice(letters.replace(word[i], "")) + word[i + 1 :]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def make_queries(titles: list[str], count: int, rng: random.Random) -> list[str]:
    """1-3 consecutive words of a random title with one or two typos.

    A word gets at most the number of typos the index promises to tolerate (one for 4-7
    letters, two for 8+, none below 4), so misses measure ranking, not the typo policy.
    Queries are lowercase, as people type in a chat. WRatio is case-sensitive and our
    index is not, so the baseline scans lowercased titles: otherwise a typo on a first
    letter ("Spolyester") would be judged by where the capital lands, not by similarity.
    """
    queries: list[str] = []
    while len(queries) < count:
        words = rng.choice(titles).lower().split()
        length = rng.randint(1, 3)
        start = rng.randrange(len(words) - length + 1)
        chosen = words[start : start + length]
        budget = [0 if len(w) < 4 else 1 if len(w) < 8 else 2 for w in chosen]
        if not any(budget):
            continue
        for _ in range(rng.randint(1, 2)):
            open_ = [i for i, b in enumerate(budget) if b]
            if not open_:
                break
            i = rng.choice(open_)
            chosen[i] = typo(chosen[i], rng)
            budget[i] -= 1
        queries.append(" ".join(chosen))
    return queries


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline-queries",
        type=int,
        default=None,
        help="queries also run through the full-scan baseline (default: all up to 100k "
        "products, 100 above, as a scan costs about a second per query at 1M)",
    )
    args = parser.parse_args()
    n, rng = args.products, random.Random(args.seed)
    baseline_count = args.baseline_queries
    if baseline_count is None:
        baseline_count = args.queries if n <= 100_000 else min(args.queries, 100)
    baseline_count = min(baseline_count, args.queries)

    started = time.perf_counter()
    titles, docs = make_catalog(n, args.seed)
    print(f"catalog: {n} products generated in {time.perf_counter() - started:.1f} s")
    # Turning rows into SearchDoc objects is timed apart and taken out of build_s.
    started = time.perf_counter()
    for _doc in docs():
        pass
    doc_cost = time.perf_counter() - started
    started = time.perf_counter()
    index = SearchIndex.build(docs())
    build_s = max(time.perf_counter() - started - doc_cost, 0.0)
    print(f"index build: {build_s:.2f} s (generating the documents, {doc_cost:.2f} s, excluded)")

    queries = make_queries(titles, args.queries, rng)
    for q in queries[:20]:
        index.search(q)
    ours: list[list[int]] = []
    latencies: list[float] = []
    for q in queries:
        started = time.perf_counter()
        result = index.search(q)
        latencies.append((time.perf_counter() - started) * 1000)
        ours.append([hit.product_id for hit in result.hits])
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
    print(f"ours: {len(queries)} queries, p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms")
    print(f"peak RSS (measured before the baseline runs): {rss_mb:.0f} MB")

    # Same strings, same length: lowercasing changes what is compared, not the scan's cost.
    lowered = [t.lower() for t in titles]
    baseline_latencies: list[float] = []
    recalls: list[float] = []
    for q, our_ids in zip(queries[:baseline_count], ours, strict=False):
        started = time.perf_counter()
        best = process.extract(q, lowered, scorer=fuzz.WRatio, limit=10)
        baseline_latencies.append((time.perf_counter() - started) * 1000)
        threshold = best[-1][1]
        found = sum(1 for pid in our_ids[:10] if fuzz.WRatio(q, lowered[pid]) >= threshold)
        recalls.append(found / 10)
    baseline_p95 = percentile(baseline_latencies, 95)
    recall = sum(recalls) / len(recalls)
    print(
        f"baseline (rapidfuzz full WRatio scan): {baseline_count} of {len(queries)} queries, "
        f"p95 {baseline_p95:.1f} ms"
    )
    print(f"speedup (p95): {baseline_p95 / p95:.0f}x, recall@10: {recall:.3f}")
    for q, our_ids in list(zip(queries, ours, strict=True))[:3]:
        print(f"  {q!r} -> {[titles[i] for i in our_ids[:3]]}")
    print(
        json.dumps(
            {
                "bench": "search",
                "products": n,
                "queries": len(queries),
                "p50_ms": round(p50, 3),
                "p95_ms": round(p95, 3),
                "p99_ms": round(p99, 3),
                "baseline_p95_ms": round(baseline_p95, 1),
                "speedup": round(baseline_p95 / p95, 1),
                "recall_at_10": round(recall, 4),
                "build_s": round(build_s, 2),
                "rss_mb": round(rss_mb, 1),
                "baseline_queries": baseline_count,
                "seed": args.seed,
            }
        )
    )


if __name__ == "__main__":
    main()
