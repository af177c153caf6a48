"""The WhatsApp adapter's own words (list buttons, paging, catalog orders) in English, French
and Polish.

Everything a flow says comes from the gettext catalogs; these few texts only exist because of
WhatsApp's limits. They live here, beside the code that needs them, so the adapter does not
edit the shared catalogs (move them there with `make i18n` when convenient).
"""

from __future__ import annotations

from typing import Any

from bot.i18n import DEFAULT_LANGUAGE

TEXTS: dict[str, dict[str, str]] = {
    "choose": {"en": "Choose", "fr": "Choisir", "pl": "Wybierz"},
    "choose_body": {"en": "Choose an option:", "fr": "Choisissez une option :",
                    "pl": "Wybierz opcję:"},
    "more": {"en": "More ›", "fr": "Plus ›", "pl": "Więcej ›"},
    "more_desc": {"en": "Choices {first}–{last} of {count}",
                  "fr": "Choix {first} à {last} sur {count}",
                  "pl": "Opcje {first}–{last} z {count}"},
    "first": {"en": "‹ First choices", "fr": "‹ Premiers choix", "pl": "‹ Pierwsze opcje"},
    "page_body": {"en": "More choices ({page}/{pages}):",
                  "fr": "Autres choix ({page}/{pages}) :",
                  "pl": "Więcej opcji ({page}/{pages}):"},
    "numbers": {"en": "Tap a choice, or type its number.",
                "fr": "Touchez un choix, ou tapez son numéro.",
                "pl": "Dotknij opcji lub wpisz jej numer."},
    "order_added": {"en": "From your order, added to the cart: {items}.",
                    "fr": "De votre commande, ajouté au panier : {items}.",
                    "pl": "Z Twojego zamówienia dodano do koszyka: {items}."},
    "order_unknown": {"en": "Not sold here (any more): {skus}.",
                      "fr": "Plus vendu ici : {skus}.",
                      "pl": "Nie sprzedajemy (już) tutaj: {skus}."},
    "order_sold_out": {"en": "Sold out or not enough in stock: {items}.",
                       "fr": "Épuisé ou stock insuffisant : {items}.",
                       "pl": "Wyprzedane lub za mało w magazynie: {items}."},
    "order_nothing": {"en": "Nothing from that order could be added to your cart.",
                      "fr": "Rien de cette commande n'a pu être ajouté au panier.",
                      "pl": "Nic z tego zamówienia nie mogło trafić do koszyka."},
    "catalog_body": {"en": "{category}: tap a product to see it and add it to your cart.",
                     "fr": "{category} : touchez un produit pour le voir et l'ajouter au "
                           "panier.",
                     "pl": "{category}: dotknij produktu, aby go zobaczyć i dodać do koszyka."},
}


def text(key: str, language: str, **values: Any) -> str:
    """The text in `language` (English when missing), filled in."""
    forms = TEXTS[key]
    found = forms.get(language) or forms[DEFAULT_LANGUAGE]
    return found.format(**values) if values else found
