"""Country names customers type at checkout (English, French, Polish, without accents) and
the ISO code each stands for."""

from __future__ import annotations

import unicodedata

_COUNTRIES = {  # common names in English, French and Polish, without accents
    "AT": "austria|autriche", "BE": "belgium|belgique|belgia",
    "BG": "bulgaria|bulgarie", "HR": "croatia|croatie|chorwacja", "CY": "cyprus|chypre|cypr",
    "CZ": "czechia|czech republic|republique tcheque|tchequie|czechy|cesko",
    "DK": "denmark|danemark|dania", "EE": "estonia|estonie", "FI": "finland|finlande|finlandia",
    "FR": "france|francja", "DE": "germany|allemagne|niemcy|deutschland",
    "GR": "greece|grece|grecja", "HU": "hungary|hongrie|wegry", "IE": "ireland|irlande|irlandia",
    "IT": "italy|italie|wlochy|italia", "LV": "latvia|lettonie|lotwa",
    "LT": "lithuania|lituanie|litwa", "LU": "luxembourg|luksemburg", "MT": "malta|malte",
    "NL": "netherlands|the netherlands|holland|pays-bas|pays bas|holandia|niderlandy",
    "PL": "poland|pologne|polska", "PT": "portugal|portugalia",
    "RO": "romania|roumanie|rumunia", "SK": "slovakia|slovaquie|slowacja",
    "SI": "slovenia|slovenie|slowenia", "ES": "spain|espagne|hiszpania|espana",
    "SE": "sweden|suede|szwecja",
    "GB": "united kingdom|uk|great britain|britain|england|scotland|wales|royaume-uni|"
          "royaume uni|angleterre|wielka brytania|anglia",
    "CH": "switzerland|suisse|szwajcaria", "NO": "norway|norvege|norwegia",
    "IS": "iceland|islande|islandia", "MC": "monaco", "CA": "canada|kanada",
    "US": "united states|usa|united states of america|etats-unis|etats unis|"
          "stany zjednoczone",
    "UA": "ukraine|ukraina", "AU": "australia|australie", "JP": "japan|japon|japonia",
    "MA": "morocco|maroc|maroko",
}
COUNTRY_NAMES = {name: code for code, names in _COUNTRIES.items() for name in names.split("|")}


def country_code(typed: str) -> str:
    """A country name in en/fr/pl mapped to its ISO code; anything else is returned as typed."""
    key = unicodedata.normalize("NFKD", typed.strip().lower().replace("ł", "l"))
    key = " ".join("".join(c for c in key if not unicodedata.combining(c)).split())
    return COUNTRY_NAMES.get(key) or COUNTRY_NAMES.get(key.removeprefix("the "), typed)
