#!/usr/bin/env python3
"""Generate the demo catalog shipped in the repository.

Writes ``shop/demo/catalog.csv`` (native catalog format, DESIGN.md section 4) and one
320x320 PNG per product in ``shop/demo/images/<handle>.png``.

Deterministic, standard library only (PNGs are written by hand with ``zlib`` + ``struct``),
no network.  Usage::

    python scripts/make_demo_catalog.py            # (re)write the files, then verify them
    python scripts/make_demo_catalog.py --check    # exit 1 if the files on disk are stale
"""

from __future__ import annotations

import argparse
import colorsys
import csv
import io
import math
import struct
import sys
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "shop" / "demo"
CSV_PATH = DEMO_DIR / "catalog.csv"
IMAGES_DIR = DEMO_DIR / "images"

HEADER = [
    "handle",
    "title",
    "description",
    "category",
    "option1_name",
    "option1_value",
    "option2_name",
    "option2_value",
    "sku",
    "price",
    "currency",
    "stock",
    "low_stock_threshold",
    "weight_grams",
    "image_url",
    "digital",
]
CURRENCY = "EUR"
IMAGE_SIZE = 320
DIGITAL_STOCK = 9999

SIZES = ("S", "M", "L", "XL")
# Clothing weight by size, relative to M.
SIZE_WEIGHT = {"S": Decimal("0.9"), "M": Decimal("1"), "L": Decimal("1.1"), "XL": Decimal("1.2")}

Option = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class Product:
    handle: str
    title: str
    description: str
    category: str
    sku: str  # SKU prefix; option codes are appended
    price: str  # base price, major units
    weight: int  # grams (for Size options: the weight of an M)
    option1: Option | None = None
    option2: Option | None = None
    price_delta: dict[str, str] = field(default_factory=dict)  # option value -> added price
    weight_delta: dict[str, int] = field(default_factory=dict)  # option value -> added grams
    threshold: int = 5
    digital: bool = False


def size(*colours: str) -> tuple[Option, Option]:
    return ("Size", SIZES), ("Colour", colours)


def colour(*colours: str) -> Option:
    return ("Colour", colours)


# fmt: off
PRODUCTS: list[Product] = [
    # --- Clothing -----------------------------------------------------------------------
    Product("classic-tee", "Classic Organic Cotton Tee",
            "Our everyday crew-neck in heavyweight organic cotton. Pre-shrunk, so it keeps its "
            "fit wash after wash.",
            "Clothing/T-shirts", "TEE-CLS", "24.90", 180,
            *size("Black", "White", "Navy")),
    Product("breton-striped-tee", "Breton Striped Tee",
            "A classic sailor stripe in soft slub cotton with a relaxed boat neck.",
            "Clothing/T-shirts", "TEE-BRT", "34.90", 210,
            *size("Navy Stripe", "Red Stripe")),
    Product("linen-v-neck-tee", "Linen V-Neck Tee",
            "Light, breathable European linen for hot days. Gets softer every time you wash it.",
            "Clothing/T-shirts", "TEE-LIN", "39.00", 150,
            *size("Sand", "Olive")),
    Product("mountain-line-tee", "Mountain Line Graphic Tee",
            "A single-line mountain range screen-printed with water-based inks on organic cotton.",
            "Clothing/T-shirts", "TEE-MTN", "27.50", 185,
            *size("Heather Grey", "Forest Green")),
    Product("waffle-long-sleeve", "Waffle Knit Long Sleeve",
            "A textured waffle-knit long sleeve that works on its own or as a warm base layer.",
            "Clothing/T-shirts", "TEE-WAF", "32.00", 240,
            *size("Oat", "Charcoal")),
    Product("everyday-hoodie", "Everyday Pullover Hoodie",
            "Brushed-back fleece, a roomy kangaroo pocket and a lined hood. The one you will "
            "reach for every morning.",
            "Clothing/Hoodies", "HOD-EVD", "59.90", 620,
            *size("Black", "Heather Grey", "Forest Green"), price_delta={"XL": "3.00"}),
    Product("heavyweight-zip-hoodie", "Heavyweight Zip Hoodie",
            "A 450 gsm cotton zip hoodie with a two-way metal zip and ribbed cuffs.",
            "Clothing/Hoodies", "HOD-ZIP", "69.00", 720,
            *size("Navy", "Charcoal"), price_delta={"XL": "3.00"}),
    Product("sherpa-lined-hoodie", "Sherpa-Lined Hoodie",
            "Fully lined with cosy sherpa fleece for cold evenings by the fire.",
            "Clothing/Hoodies", "HOD-SHP", "79.00", 850,
            *size("Sand", "Charcoal"), price_delta={"XL": "3.00"}),
    Product("merino-hiking-socks", "Merino Hiking Socks",
            "Cushioned merino wool socks that stay warm when wet and don't hold on to odours.",
            "Clothing/Socks", "SCK-MER", "16.90", 90,
            ("Size", ("36-39", "40-43", "44-46")), weight_delta={"44-46": 10}),
    Product("rainbow-stripe-socks", "Rainbow Stripe Socks (3-pack)",
            "Three pairs of cheerful combed-cotton socks in rainbow stripes.",
            "Clothing/Socks", "SCK-RBW", "19.50", 150,
            ("Size", ("36-39", "40-43", "44-46")), weight_delta={"44-46": 15}),
    # --- Accessories --------------------------------------------------------------------
    Product("waxed-canvas-tote", "Waxed Canvas Tote",
            "A sturdy waxed-canvas tote with leather handles and an inside zip pocket.",
            "Accessories/Bags", "BAG-TOT", "45.00", 520,
            colour("Olive", "Tan")),
    Product("roll-top-backpack", "Roll-Top Backpack 20 L",
            "A weatherproof roll-top backpack with a padded laptop sleeve and reflective details.",
            "Accessories/Bags", "BAG-RLT", "89.00", 890,
            colour("Black", "Ochre"), threshold=3),
    Product("leather-card-wallet", "Leather Card Wallet",
            "A slim vegetable-tanned leather wallet for six cards and a few folded notes.",
            "Accessories/Bags", "BAG-WAL", "29.00", 45,
            colour("Cognac", "Black")),
    Product("cotton-market-net-bag", "Cotton Market Net Bag",
            "A stretchy organic cotton net bag that folds into your pocket. Goodbye, plastic bags.",
            "Accessories/Bags", "BAG-NET", "12.50", 80),
    Product("zolta-chusta-scarf", "Żółta Chusta Scarf",
            "A mustard-yellow wool-blend scarf woven by a small family mill in Łódź, Poland. "
            "'Żółta chusta' simply means 'yellow scarf'.",
            "Accessories/Scarves", "ACC-ZLT", "38.00", 160),
    Product("ribbed-merino-beanie", "Ribbed Merino Beanie",
            "A soft ribbed beanie in fine merino wool that doesn't itch.",
            "Accessories/Hats", "ACC-BNE", "24.00", 85,
            colour("Charcoal", "Mustard", "Sky Blue")),
    Product("six-panel-canvas-cap", "Six-Panel Canvas Cap",
            "A washed cotton canvas cap with an adjustable brass buckle.",
            "Accessories/Hats", "ACC-CAP", "22.00", 95,
            colour("Navy", "Sand")),
    # --- Home ---------------------------------------------------------------------------
    Product("cafe-creme-mug", "Café Crème Mug",
            "A generous 350 ml stoneware mug with a glossy cream glaze, made for slow mornings. "
            "Dishwasher and microwave safe.",
            "Home/Kitchen", "HOM-MUG", "14.90", 380,
            colour("Cream", "Sage")),
    Product("crepe-pan", "Crêpe Pan",
            "A French carbon-steel crêpe pan with low sides for easy flipping. Season it once "
            "and it lasts for decades.",
            "Home/Kitchen", "HOM-CRP", "42.00", 1150,
            ("Size", ("24 cm", "28 cm")), price_delta={"28 cm": "8.00"},
            weight_delta={"28 cm": 300}),
    Product("smorgas-oak-board", "Smörgås Oak Cutting Board",
            "A solid oak board for bread, cheese and everything in between, finished with "
            "food-safe oil.",
            "Home/Kitchen", "HOM-BRD", "36.00", 1300),
    Product("cast-iron-skillet", "Cast Iron Skillet 26 cm",
            "A pre-seasoned cast iron skillet that goes from the hob to the oven to the table.",
            "Home/Kitchen", "HOM-SKL", "49.00", 2600, threshold=3),
    Product("linen-tea-towels", "Linen Tea Towels (set of 2)",
            "Absorbent, quick-drying stonewashed linen tea towels with a hanging loop.",
            "Home/Kitchen", "HOM-TWL", "18.00", 160,
            colour("Natural", "Blue Check")),
    Product("stoneware-pasta-bowls", "Stoneware Pasta Bowls (set of 4)",
            "Wide, shallow reactive-glaze bowls for pasta, salads and ramen.",
            "Home/Kitchen", "HOM-BWL", "54.00", 2400, threshold=3),
    Product("fig-cedar-soy-candle", "Fig & Cedar Soy Candle",
            "A hand-poured soy wax candle with notes of ripe fig and cedarwood; about 45 hours "
            "of burn time.",
            "Home/Decor", "HOM-CND", "22.00", 420),
    Product("herringbone-wool-throw", "Herringbone Wool Throw",
            "A heavy lambswool throw in a classic herringbone weave, 130 × 180 cm.",
            "Home/Decor", "HOM-THR", "89.00", 1400,
            colour("Grey", "Rust"), threshold=3),
    Product("speckled-bud-vase", "Speckled Ceramic Bud Vase",
            "A small wheel-thrown vase in speckled clay for a single stem or dried flowers.",
            "Home/Decor", "HOM-VAS", "19.50", 300),
    Product("linen-cushion-cover", "Linen Cushion Cover 45 × 45 cm",
            "A stonewashed linen cushion cover with a hidden zip. Insert not included.",
            "Home/Decor", "HOM-CSH", "26.00", 200,
            colour("Oat", "Terracotta", "Sage")),
    # --- Books --------------------------------------------------------------------------
    Product("pride-and-prejudice", "Pride and Prejudice (Clothbound Classic)",
            "Jane Austen's sparkling comedy of manners in a gift-worthy clothbound edition.",
            "Books", "BK-PRP", "19.90", 520, threshold=3),
    Product("slow-coffee-handbook", "The Slow Coffee Handbook",
            "Everything you need to brew café-quality coffee at home, from grinding to pour-over "
            "technique.",
            "Books", "BK-SCH", "24.00", 480,
            ("Format", ("Paperback", "Hardcover")), price_delta={"Hardcover": "10.00"},
            weight_delta={"Hardcover": 250}, threshold=3),
    Product("hidden-trails-alps", "Hidden Trails of the Alps",
            "Fifty lesser-known day hikes across five countries, with maps, photos and "
            "mountain-hut tips.",
            "Books", "BK-ALP", "32.00", 900, threshold=3),
    Product("sourdough-at-home", "Sourdough at Home",
            "A patient, step-by-step guide to your first starter, your first loaf and your "
            "hundredth.",
            "Books", "BK-SRD", "27.50", 750, threshold=3),
    Product("moby-dick-pocket", "Moby-Dick (Pocket Edition)",
            "Herman Melville's great whale of a novel in a compact paperback that fits a coat "
            "pocket.",
            "Books", "BK-MBD", "9.90", 310, threshold=3),
    Product("european-birds-guide", "Pocket Field Guide to European Birds",
            "Over 400 species with illustrations, range maps and song descriptions.",
            "Books", "BK-BRD", "18.50", 400, threshold=3),
    # --- Digital ------------------------------------------------------------------------
    Product("les-miserables-ebook", "Les Misérables (e-book)",
            "Victor Hugo's epic of justice and redemption, unabridged, in EPUB and PDF.",
            "Digital/E-books", "DIG-EBK-LMS", "2.99", 0, digital=True),
    Product("slow-coffee-handbook-ebook", "The Slow Coffee Handbook (e-book)",
            "The complete home-brewing guide as an EPUB, delivered instantly.",
            "Digital/E-books", "DIG-EBK-SCH", "11.99", 0, digital=True),
    Product("sourdough-at-home-ebook", "Sourdough at Home (e-book)",
            "The step-by-step sourdough guide as an EPUB, with printable baking schedules.",
            "Digital/E-books", "DIG-EBK-SRD", "12.99", 0, digital=True),
    Product("gift-card", "Chatshop Gift Card",
            "A digital gift card delivered straight to the chat. Valid for two years on "
            "everything in the shop.",
            "Digital/Gift cards", "DIG-GFT", "25.00", 0,
            ("Amount", ("€25", "€50", "€100")), price_delta={"€50": "25.00", "€100": "75.00"},
            digital=True),
    Product("printable-weekly-planner", "Printable Weekly Planner",
            "A minimalist undated weekly planner as a printable PDF: 52 weeks, habit tracker "
            "and notes pages.",
            "Digital/Printables", "DIG-PLN", "6.50", 0,
            ("Paper size", ("A4", "US Letter")), digital=True),
    Product("printable-recipe-cards", "Printable Recipe Cards",
            "Twenty beautifully laid-out recipe card templates to print at home.",
            "Digital/Printables", "DIG-RCP", "4.00", 0, digital=True),
    Product("late-night-lofi-album", "Late Night Lo-Fi (Digital Album)",
            "Twelve mellow instrumental tracks for focus and rainy evenings, from an independent "
            "Berlin producer.",
            "Digital/Music", "DIG-ALB", "9.00", 0,
            ("Format", ("MP3", "FLAC")), price_delta={"FLAC": "2.00"}, digital=True),
    # --- Stationery ---------------------------------------------------------------------
    Product("dot-grid-notebook", "Dot Grid Notebook A5",
            "A lay-flat A5 notebook with 192 numbered pages of 100 gsm fountain-pen-friendly "
            "paper.",
            "Stationery", "STA-DOT", "16.50", 320,
            colour("Black", "Forest", "Terracotta")),
    Product("brass-ballpoint-pen", "Brass Ballpoint Pen",
            "A solid brass pen that develops a warm patina over the years. Takes standard "
            "refills.",
            "Stationery", "STA-PEN", "34.00", 40, threshold=3),
    Product("everyday-fountain-pen", "Everyday Fountain Pen",
            "A reliable steel-nib fountain pen with a converter and five ink cartridges.",
            "Stationery", "STA-FTP", "28.00", 30,
            ("Nib", ("Fine", "Medium"))),
    Product("washi-tape-set", "Washi Tape Set (6 rolls)",
            "Six rolls of Japanese paper tape in muted earthy tones for journaling and "
            "wrapping.",
            "Stationery", "STA-WSH", "9.90", 90),
    Product("cork-desk-pad", "Cork Desk Pad",
            "A natural cork desk mat, 60 × 30 cm, kind to your wrists and to the planet.",
            "Stationery", "STA-CRK", "21.00", 450),
    Product("watercolour-postcards", "Watercolour Postcard Set (12)",
            "Twelve watercolour postcards of coastal towns, printed on recycled card.",
            "Stationery", "STA-PST", "12.00", 120),
    Product("kraft-envelopes", "Recycled Kraft Envelopes (25)",
            "Twenty-five C6 kraft envelopes made from 100% recycled paper.",
            "Stationery", "STA-ENV", "7.50", 250),
    # --- Coffee & Tea -------------------------------------------------------------------
    Product("ethiopia-yirgacheffe", "Ethiopia Yirgacheffe Coffee",
            "A washed single origin with bright notes of jasmine, bergamot and lemon. Roasted "
            "light for filter.",
            "Coffee & Tea", "COF-ETH", "13.50", 270,
            ("Weight", ("250 g", "1 kg")), ("Grind", ("Whole bean", "Filter")),
            price_delta={"1 kg": "32.50"}, weight_delta={"1 kg": 780}, threshold=10),
    Product("house-espresso-blend", "House Espresso Blend",
            "Our chocolatey, nutty everyday espresso: Brazil and Guatemala, roasted medium-dark.",
            "Coffee & Tea", "COF-ESP", "11.90", 270,
            ("Weight", ("250 g", "1 kg")), ("Grind", ("Whole bean", "Espresso")),
            price_delta={"1 kg": "28.00"}, weight_delta={"1 kg": 780}, threshold=10),
    Product("colombia-decaf", "Colombia Decaf Coffee",
            "Sugar-cane decaffeinated Colombian beans with notes of caramel and red apple.",
            "Coffee & Tea", "COF-DCF", "12.50", 270,
            ("Weight", ("250 g", "1 kg")), ("Grind", ("Whole bean", "Filter")),
            price_delta={"1 kg": "30.00"}, weight_delta={"1 kg": 780}, threshold=10),
    Product("japanese-sencha", "Japanese Sencha Green Tea",
            "A grassy, sweet first-flush sencha from Shizuoka in a 100 g resealable tin.",
            "Coffee & Tea", "TEA-SEN", "9.80", 160, threshold=10),
    Product("rooibos-creme-vanille", "Rooibos Crème Vanille",
            "Caffeine-free South African rooibos with vanilla pieces; creamy and naturally sweet.",
            "Coffee & Tea", "TEA-RBV", "7.90", 110,
            ("Weight", ("100 g", "250 g")), price_delta={"250 g": "8.00"},
            weight_delta={"250 g": 160}, threshold=10),
    Product("earl-grey-lavender", "Earl Grey Lavender",
            "Ceylon black tea with bergamot oil and a touch of French lavender.",
            "Coffee & Tea", "TEA-EGL", "8.50", 110, threshold=10),
    Product("ceramic-pour-over-dripper", "Ceramic Pour-Over Dripper",
            "A porcelain cone dripper with spiral ribs for an even extraction. Fits size 02 "
            "filters.",
            "Coffee & Tea", "COF-DRP", "27.00", 420,
            colour("White", "Black")),
    # --- Outdoor ------------------------------------------------------------------------
    Product("insulated-steel-bottle", "Insulated Steel Bottle 750 ml",
            "Double-walled stainless steel keeps drinks cold for 24 hours or hot for 12.",
            "Outdoor", "OUT-BTL", "29.90", 380,
            colour("Moss", "Slate", "Sunset")),
    Product("enamel-camping-mug", "Enamel Camping Mug",
            "A classic enamel mug for coffee at the campsite; light, tough and fire-safe.",
            "Outdoor", "OUT-MUG", "12.00", 210,
            colour("White", "Blue Speckle")),
    Product("ultralight-tent", "Ultralight Two-Person Tent",
            "A freestanding 1.65 kg tent with two doors and two vestibules, pitched in minutes.",
            "Outdoor", "OUT-TNT", "249.00", 1650, threshold=2),
    Product("packable-rain-jacket", "Packable Rain Jacket",
            "A waterproof, breathable 2.5-layer shell that packs into its own chest pocket.",
            "Outdoor", "OUT-RJK", "119.00", 290,
            *size("Yellow", "Navy"), threshold=3),
    Product("rechargeable-headlamp", "Rechargeable Headlamp 400 lm",
            "A USB-C rechargeable headlamp with red night mode and a lock-out switch.",
            "Outdoor", "OUT-HDL", "39.00", 95),
    Product("parachute-nylon-hammock", "Parachute Nylon Hammock",
            "A roomy ripstop hammock with tree straps included; packs down to grapefruit size.",
            "Outdoor", "OUT-HMK", "44.00", 650,
            colour("Forest", "Orange")),
]
# fmt: on

# SKU fragments for option values; anything not listed is folded to ASCII alphanumerics.
# fmt: off
CODES = {
    "Black": "BLK", "White": "WHT", "Navy": "NVY", "Navy Stripe": "NVY", "Red Stripe": "RED",
    "Sand": "SND", "Olive": "OLV", "Heather Grey": "GRY", "Forest Green": "GRN", "Oat": "OAT",
    "Charcoal": "CHR", "Tan": "TAN", "Ochre": "OCH", "Cognac": "COG", "Mustard": "MST",
    "Sky Blue": "SKY", "Cream": "CRM", "Sage": "SGE", "Natural": "NAT", "Blue Check": "BCK",
    "Grey": "GRY", "Rust": "RST", "Terracotta": "TRC", "Forest": "FOR", "Moss": "MOS",
    "Slate": "SLT", "Sunset": "SUN", "Blue Speckle": "BSP", "Yellow": "YEL", "Orange": "ORG",
    "Paperback": "PB", "Hardcover": "HC", "US Letter": "LTR", "Fine": "F", "Medium": "M",
    "Whole bean": "WB", "Filter": "FLT", "Espresso": "ESP",
}
# fmt: on

# Explicit stock levels, so the demo shows sold-out and low-stock variants.
STOCK_OVERRIDES = {
    # sold out
    "TEE-BRT-RED-S": 0,
    "HOD-EVD-GRN-XL": 0,
    "HOM-THR-RST": 0,
    "COF-ETH-1KG-FLT": 0,
    "OUT-RJK-YEL-XL": 0,
    # at or below the low-stock threshold
    "TEE-CLS-BLK-M": 5,
    "HOD-ZIP-NVY-S": 3,
    "ACC-ZLT": 2,
    "HOM-CRP-28CM": 4,
    "STA-PEN": 1,
    "COF-ESP-1KG-ESP": 6,
    "OUT-TNT": 2,
    "BK-ALP": 3,
}


def option_code(value: str) -> str:
    if value in CODES:
        return CODES[value]
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.upper() if ch.isalnum())


def default_stock(sku: str, threshold: int) -> int:
    """A stable pseudo-random stock level comfortably above the threshold."""
    low = threshold + 4
    return low + zlib.crc32(sku.encode()) % (121 - low)


def variants(p: Product) -> Iterator[tuple[tuple[str, str], tuple[str, str]]]:
    o1 = [(p.option1[0], v) for v in p.option1[1]] if p.option1 else [("", "")]
    o2 = [(p.option2[0], v) for v in p.option2[1]] if p.option2 else [("", "")]
    for a in o1:
        for b in o2:
            yield a, b


def catalog_rows() -> list[list[str]]:
    rows: list[list[str]] = []
    for p in PRODUCTS:
        for (n1, v1), (n2, v2) in variants(p):
            values = [v for v in (v1, v2) if v]
            # Colour before size in SKUs, as in TEE-CLS-BLK-M.
            codes = [option_code(v) for v in (reversed(values) if n2 == "Colour" else values)]
            sku = "-".join([p.sku, *codes])
            price = Decimal(p.price) + sum(
                (Decimal(p.price_delta.get(v, "0")) for v in values), Decimal(0)
            )
            if p.digital:
                weight, stock, threshold = 0, DIGITAL_STOCK, 0
            else:
                grams = Decimal(p.weight)
                if n1 == "Size" and v1 in SIZE_WEIGHT:
                    grams *= SIZE_WEIGHT[v1]
                extra = sum(p.weight_delta.get(v, 0) for v in values)
                weight = int(grams.to_integral_value()) + extra
                threshold = p.threshold
                stock = STOCK_OVERRIDES.get(sku, default_stock(sku, threshold))
            rows.append([
                p.handle, p.title, p.description, p.category,
                n1, v1, n2, v2,
                sku, f"{price.quantize(Decimal('0.01'))}", CURRENCY,
                str(stock), str(threshold), str(weight),
                f"demo:{p.handle}.png", "true" if p.digital else "false",
            ])  # fmt: skip
    unknown = set(STOCK_OVERRIDES) - {row[8] for row in rows}
    assert not unknown, f"STOCK_OVERRIDES names unknown SKUs: {sorted(unknown)}"
    return rows


def render_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


# --- images ---------------------------------------------------------------------------------

CATEGORY_HUES = {
    "Clothing": 210,
    "Accessories": 330,
    "Home": 140,
    "Books": 0,
    "Digital": 265,
    "Stationery": 50,
    "Coffee & Tea": 28,
    "Outdoor": 175,
}

Mask = Callable[[float, float], bool]


def _shapes(r: float, seed: int) -> list[Mask]:
    """Shape tests on coordinates relative to the image centre (y grows downwards)."""
    phase = (seed % 360) * math.pi / 180
    lobes = 3 + seed % 3
    corner = r * 0.3

    def circle(x: float, y: float) -> bool:
        return x * x + y * y <= r * r

    def rounded_square(x: float, y: float) -> bool:
        s = r * 0.88
        dx, dy = max(abs(x) - (s - corner), 0.0), max(abs(y) - (s - corner), 0.0)
        return abs(x) <= s and abs(y) <= s and dx * dx + dy * dy <= corner * corner

    def blob(x: float, y: float) -> bool:
        d = math.hypot(x, y)
        return d <= r * (1 + 0.13 * math.sin(lobes * math.atan2(y, x) + phase))

    def stripes(x: float, y: float) -> bool:
        s = r * 0.92
        return abs(x) <= s and abs(y) <= s and int((x + y + 2 * r) // (r / 3.5)) % 2 == 0

    def diamond(x: float, y: float) -> bool:
        return abs(x) + abs(y) <= r * 1.2

    def ring(x: float, y: float) -> bool:
        d2 = x * x + y * y
        return (r * 0.62) ** 2 <= d2 <= r * r or d2 <= (r * 0.25) ** 2

    def triangle(x: float, y: float) -> bool:
        top, bottom = -r * 1.05, r * 0.8
        if not top <= y <= bottom:
            return False
        return abs(x) <= (y - top) / (bottom - top) * r * 1.1

    def plus(x: float, y: float) -> bool:
        arm = r * 0.34
        return (abs(x) <= arm and abs(y) <= r) or (abs(y) <= arm and abs(x) <= r)

    def bars(x: float, y: float) -> bool:
        s = r * 0.95
        return abs(x) <= s and abs(y) <= s and int((y + s) // (s / 2.5)) % 2 == 0

    return [circle, rounded_square, blob, stripes, diamond, ring, triangle, plus, bars]


def _rgb(h: float, lightness: float, saturation: float) -> bytes:
    r, g, b = colorsys.hls_to_rgb((h % 360) / 360, lightness, saturation)
    return bytes(round(c * 255) for c in (r, g, b))


def render_image(index: int, p: Product) -> bytes:
    top, _, sub = p.category.partition("/")
    seed = zlib.crc32(p.handle.encode())
    hue = CATEGORY_HUES[top] + (zlib.crc32(sub.encode()) % 21 - 10 if sub else 0)
    background = _rgb(hue, 0.88, 0.55)
    foreground = _rgb(hue + seed % 25 - 12, 0.40 + (seed >> 8) % 12 / 100, 0.45)
    radius = 78 + (seed >> 16) % 34
    shapes = _shapes(radius, seed)
    inside = shapes[index % len(shapes)]

    half = IMAGE_SIZE / 2
    raw = bytearray()
    for py in range(IMAGE_SIZE):
        raw.append(0)  # filter type 0 (None)
        y = py + 0.5 - half
        for px in range(IMAGE_SIZE):
            raw += foreground if inside(px + 0.5 - half, y) else background
    return encode_png(IMAGE_SIZE, IMAGE_SIZE, bytes(raw))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, raw: bytes) -> bytes:
    """An 8-bit RGB PNG from already-filtered scanlines."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def check_png(data: bytes) -> tuple[int, int]:
    """Parse a PNG written by encode_png; raise ValueError if anything is off."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("bad signature")
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in {kind!r}")
        chunks.append((kind, body))
        pos += 12 + length
    kinds = [k for k, _ in chunks]
    if kinds[0] != b"IHDR" or kinds[-1] != b"IEND" or b"IDAT" not in kinds:
        raise ValueError(f"bad chunk order {kinds}")
    width, height, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if (depth, ctype, comp, filt, interlace) != (8, 2, 0, 0, 0):
        raise ValueError("not 8-bit RGB, non-interlaced")
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    stride = 1 + width * 3
    if len(raw) != height * stride:
        raise ValueError(f"IDAT decompresses to {len(raw)} bytes, expected {height * stride}")
    if any(raw[i * stride] > 4 for i in range(height)):
        raise ValueError("bad filter type")
    return width, height


# --- main -----------------------------------------------------------------------------------


def build() -> dict[Path, bytes]:
    files = {CSV_PATH: render_csv(catalog_rows())}
    for i, p in enumerate(PRODUCTS):
        files[IMAGES_DIR / f"{p.handle}.png"] = render_image(i, p)
    return files


def verify() -> list[str]:
    """Check the files on disk; returns a summary (raises AssertionError on a problem)."""
    text = CSV_PATH.read_bytes()
    assert not text.startswith(b"\xef\xbb\xbf"), "BOM"
    assert b"\r" not in text, "CR in CSV"
    with CSV_PATH.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == HEADER, reader.fieldnames
        rows = list(reader)
    skus = [r["sku"] for r in rows]
    assert len(skus) == len(set(skus)), "duplicate SKU"
    assert all(s == s.upper() and s.isascii() for s in skus)
    shared = ("title", "description", "category", "option1_name", "option2_name", "image_url",
              "digital")  # fmt: skip
    products: dict[str, dict[str, str]] = {}
    for r in rows:
        first = products.setdefault(r["handle"], r)
        assert all(first[k] == r[k] for k in shared), f"inconsistent product {r['handle']}"
        Decimal(r["price"])  # parses
        assert r["price"].count(".") == 1 and len(r["price"].split(".")[1]) == 2
        assert r["currency"] == CURRENCY and r["digital"] in ("true", "false")
        assert int(r["stock"]) >= 0 and int(r["weight_grams"]) >= 0
        assert int(r["low_stock_threshold"]) >= 0
        image = IMAGES_DIR / r["image_url"].removeprefix("demo:")
        assert r["image_url"].startswith("demo:") and image.is_file(), r["image_url"]
    for png in sorted(IMAGES_DIR.glob("*.png")):
        assert check_png(png.read_bytes()) == (IMAGE_SIZE, IMAGE_SIZE), png
        assert png.stat().st_size < 8192, f"{png.name} is {png.stat().st_size} bytes"
    categories = {r["category"] for r in products.values()}
    physical = [r for r in rows if r["digital"] == "false"]
    total = sum(f.stat().st_size for f in DEMO_DIR.rglob("*") if f.is_file())
    return [
        f"products: {len(products)}, variants: {len(rows)}",
        f"categories: {len(categories)} ({len({c.split('/')[0] for c in categories})} top-level)",
        f"digital products: {sum(r['digital'] == 'true' for r in products.values())}",
        f"sold out: {sum(int(r['stock']) == 0 for r in physical)}, low stock: "
        f"{sum(0 < int(r['stock']) <= int(r['low_stock_threshold']) for r in physical)}",
        f"images: {len(list(IMAGES_DIR.glob('*.png')))}, shop/demo total: {total} bytes",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the files are current")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        stale = [p for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
        extra = set(IMAGES_DIR.glob("*.png")) - set(files)
        for path in sorted(stale) + sorted(extra):
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale or extra else 0
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    for old in IMAGES_DIR.glob("*.png"):
        if old not in files:
            old.unlink()
    for path, data in files.items():
        path.write_bytes(data)
    for line in verify():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
