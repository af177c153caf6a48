"""Where a product image lives: a URL to hand to the chat service, or a packaged file."""

from __future__ import annotations

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
        name = url[len(DEMO_SCHEME):]
        path = (DEMO_IMAGES / name).resolve()
        if path.parent == DEMO_IMAGES.resolve() and path.is_file():
            return path
    return None
