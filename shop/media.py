"""Where a product image lives: a URL to hand to the chat service, or a packaged file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

DEMO_SCHEME = "demo:"
DEMO_IMAGES = Path(__file__).with_name("demo") / "images"


def resolve_image(image_url: str) -> str | Path | None:
    """An http(s) URL as given, a `demo:<file>` as the packaged file, anything else None.

    None means the image cannot be shown (an unknown scheme, a missing file or
    a name trying to leave the demo folder); callers then show the product
    without a photo rather than fail.
    """
    url = image_url.strip()
    if url.startswith(("https://", "http://")):
        return url
    if url.startswith(DEMO_SCHEME):
        return _demo_image(url[len(DEMO_SCHEME):])
    return None


@lru_cache(maxsize=1024)
def _demo_image(name: str) -> Path | None:
    """The packaged demo file (they never change while the shop runs: remembered, which
    spares resolving the paths for every product card shown)."""
    path = (DEMO_IMAGES / name).resolve()
    if path.parent == DEMO_IMAGES.resolve() and path.is_file():
        return path
    return None
