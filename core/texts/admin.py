"""Texts of the admin metrics page."""

TEXTS: dict[str, dict[str, str]] = {
    "admin.title": {"en": "Metrics", "nl": "Statistieken"},
    "admin.users": {"en": "Accounts", "nl": "Accounts"},
    "admin.users.help": {"en": "{free} free, {premium} premium", "nl": "{free} gratis, {premium} premium"},
    "admin.premium": {"en": "Premium accounts", "nl": "Premium-accounts"},
    "admin.models": {"en": "Models", "nl": "Modellen"},
    "admin.uploads": {"en": "Uploads", "nl": "Uploads"},
    "admin.jobs": {"en": "Jobs by status", "nl": "Taken per status"},
    "admin.status": {"en": "Status", "nl": "Status"},
    "admin.count": {"en": "Count", "nl": "Aantal"},
    "admin.last_day": {"en": "{count} jobs in the last 24 hours.", "nl": "{count} taken in de laatste 24 uur."},
    "admin.failures": {"en": "Recent failures", "nl": "Recente mislukkingen"},
    "admin.user": {"en": "User", "nl": "Gebruiker"},
    "admin.code": {"en": "Code", "nl": "Code"},
    "admin.message": {"en": "Message", "nl": "Bericht"},
    "admin.when": {"en": "When", "nl": "Wanneer"},
    "admin.none": {"en": "None.", "nl": "Geen."},
    "admin.workers": {"en": "Workers", "nl": "Verwerkers"},
    "admin.device": {"en": "Device", "nl": "Apparaat"},
    "admin.last_seen": {"en": "Last heartbeat", "nl": "Laatste hartslag"},
    "admin.alive": {"en": "Alive", "nl": "Actief"},
    "admin.no_workers": {
        "en": "No worker has reported in. Start one with `python -m jobs.worker`, or jobs will wait forever.",
        "nl": "Er heeft zich geen verwerker gemeld. Start er een met `python -m jobs.worker`, anders blijven "
              "taken wachten.",
    },
}
