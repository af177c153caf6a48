import pytest

from shop.catalog.text import compact_key, fold, hyphen_compounds, split_folded, tokenize


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Żółty", "zolty"),
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("ẞ", "ss"),
        ("Café Crème", "cafe creme"),
        ("ÉCOLE", "ecole"),
        ("Łódź", "lodz"),
        ("Ærø", "aero"),
        ("Œuvre", "oeuvre"),
        ("Đakovo", "dakovo"),
        ("Ħamrun", "hamrun"),
        ("Diyarbakır", "diyarbakir"),
        ("İstanbul", "istanbul"),
        ("Þór", "thor"),
        ("ﬁne", "fine"),
        ("Ñandú", "nandu"),
        ("HeLLo World", "hello world"),
        ("", ""),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_is_idempotent() -> None:
    for text in ("Żółty Straße", "Ærø Þór", "plain"):
        assert fold(fold(text)) == fold(text)


@pytest.mark.parametrize(
    ("raw", "tokens"),
    [
        ("TS-BLK-M", ["ts", "blk", "m"]),
        ("Coffee/Tea_mug!", ["coffee", "tea", "mug"]),
        ("I ❤️ Kraków 2024", ["i", "krakow", "2024"]),
        ("  Żółty   sweter,wełniany ", ["zolty", "sweter", "welniany"]),
        ("128GB (black)", ["128gb", "black"]),
        ("🔥🔥🔥", []),
        ("--- !!! ...", []),
        ("", []),
    ],
)
def test_tokenize(raw: str, tokens: list[str]) -> None:
    assert tokenize(raw) == tokens


def test_split_folded_matches_tokenize() -> None:
    text = "Żółty T-Shirt / 42"
    assert split_folded(fold(text)) == tokenize(text)


def test_compact_key_ignores_case_and_separators() -> None:
    assert compact_key("TS-BLK-M") == "tsblkm"
    assert compact_key("ts blk m") == "tsblkm"
    assert compact_key("Ts_Blk/M") == "tsblkm"
    assert compact_key("---") == ""


def test_hyphen_compounds() -> None:
    assert hyphen_compounds(fold("T-Shirt and X-Ray-Glasses")) == ["tshirt", "xrayglasses"]
    assert hyphen_compounds("no hyphen here") == []
