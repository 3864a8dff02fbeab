"""Texts of the "My models" page."""

TEXTS: dict[str, dict[str, str]] = {
    "library.title": {"en": "My models", "nl": "Mijn modellen"},
    "library.search": {"en": "Search by name", "nl": "Zoeken op naam"},
    "library.search.placeholder": {"en": "e.g. teapot", "nl": "bijv. theepot"},
    "library.count": {"en": "{total} models · page {page} of {pages}",
                      "nl": "{total} modellen · pagina {page} van {pages}"},
    "library.page": {"en": "Page {page} of {pages}", "nl": "Pagina {page} van {pages}"},
    "library.prev": {"en": "Previous", "nl": "Vorige"},
    "library.next": {"en": "Next", "nl": "Volgende"},
    "library.open": {"en": "Open", "nl": "Openen"},
    "library.rename": {"en": "Rename", "nl": "Hernoemen"},
    "library.rename.label": {"en": "New name", "nl": "Nieuwe naam"},
    "library.rename.save": {"en": "Save", "nl": "Opslaan"},
    "library.delete": {"en": "Delete", "nl": "Verwijderen"},
    "library.delete.confirm": {
        "en": "Delete “{name}” with all its files? This cannot be undone.",
        "nl": "“{name}” met al zijn bestanden verwijderen? Dit kan niet ongedaan worden gemaakt.",
    },
    "library.delete.yes": {"en": "Yes, delete it", "nl": "Ja, verwijderen"},
    "library.delete.no": {"en": "Keep it", "nl": "Bewaren"},
    "library.deleted": {"en": "“{name}” was deleted.", "nl": "“{name}” is verwijderd."},
    "library.days_left": {"en": "Kept for {days} more days (free plan)",
                          "nl": "Nog {days} dagen bewaard (gratis abonnement)"},
    "library.jobs": {"en": "In progress and recent problems ({count})", "nl": "Bezig en recente problemen ({count})"},
    "library.status.queued": {"en": "waiting", "nl": "wacht"},
    "library.status.running": {"en": "in progress", "nl": "bezig"},
    "library.status.succeeded": {"en": "ready", "nl": "klaar"},
    "library.status.failed": {"en": "failed", "nl": "mislukt"},
    "library.status.cancelled": {"en": "cancelled", "nl": "geannuleerd"},
    "library.no_match": {"en": "No model has “{search}” in its name.",
                         "nl": "Geen model heeft “{search}” in zijn naam."},
    "library.empty.title": {"en": "Nothing here yet", "nl": "Hier staat nog niets"},
    "library.empty.body": {
        "en": "Upload a photo of an object on a plain background and Vorm turns it into a 3D model in about a minute.",
        "nl": "Upload een foto van een voorwerp op een effen achtergrond en Vorm maakt er in ongeveer een minuut "
              "een 3D-model van.",
    },
    "library.empty.cta": {"en": "Make your first model", "nl": "Maak je eerste model"},
    "error.format_not_in_plan": {
        "en": "The {fmt} format is not part of your plan.",
        "nl": "Het formaat {fmt} hoort niet bij je abonnement. Je abonnement bevat: {allowed}. Neem premium voor "
              "alle formaten.",
    },
}
