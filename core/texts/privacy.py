"""Texts of the privacy pages (My data, policy, processors, support) and their mails."""

TEXTS: dict[str, dict[str, str]] = {
    # --- errors (Dutch texts for the codes of core.privacy and core.support.tickets) ---
    "error.export_too_soon": {
        "en": "You can request one export per 24 hours. The next one is possible from {when}.",
        "nl": "Je kunt één export per 24 uur aanvragen. De volgende kan vanaf {when}.",
    },
    "error.password_required": {"en": "The password is wrong. Please confirm with your current password.",
                                "nl": "Het wachtwoord klopt niet. Bevestig met je huidige wachtwoord."},
    "error.same_email": {"en": "That is already your email address.", "nl": "Dat is al je e-mailadres."},
    "error.message_incomplete": {"en": "Please fill in a subject and a message.",
                                 "nl": "Vul een onderwerp en een bericht in."},
    "error.privacy_request_needs_login": {
        "en": "Please log in to file a privacy request, so that we know whose data it is about.",
        "nl": "Log in om een privacyverzoek in te dienen, zodat we weten over wiens gegevens het gaat.",
    },
    # --- mails ---
    "privacy.mail.export.subject": {"en": "Your Vorm data export is ready", "nl": "Je Vorm-gegevensexport staat klaar"},
    "privacy.mail.export.body": {
        "en": "Hello {name},\n\nThe export of your data that you asked for is ready. Download it here:\n\n{link}\n\n"
              "The link works for {days} days (until {expires}); after that the file is deleted. You can also "
              "download it from the My data page.\n\nVorm",
        "nl": "Hallo {name},\n\nDe export van je gegevens die je hebt aangevraagd staat klaar. Download hem hier:\n\n"
              "{link}\n\nDe link werkt {days} dagen (tot {expires}); daarna wordt het bestand verwijderd. Je kunt "
              "hem ook downloaden via de pagina Mijn gegevens.\n\nVorm",
    },
    "privacy.mail.email_change.subject": {"en": "Confirm your new email address for Vorm",
                                          "nl": "Bevestig je nieuwe e-mailadres voor Vorm"},
    "privacy.mail.email_change.body": {
        "en": "Hello {name},\n\nPlease confirm that this is your new email address for Vorm by opening this link "
              "within {hours} hours:\n\n{link}\n\nIf you did not ask for this, ignore this email; nothing changes."
              "\n\nVorm",
        "nl": "Hallo {name},\n\nBevestig dat dit je nieuwe e-mailadres voor Vorm is door deze link binnen {hours} "
              "uur te openen:\n\n{link}\n\nHeb jij dit niet gevraagd, negeer deze e-mail dan; er verandert niets."
              "\n\nVorm",
    },
    "privacy.mail.email_changed.subject": {"en": "Your Vorm email address was changed",
                                           "nl": "Je Vorm-e-mailadres is gewijzigd"},
    "privacy.mail.email_changed.body": {
        "en": "Hello {name},\n\nThe email address of your Vorm account was changed to {new}. If that was not you, "
              "contact us at once at {support}.\n\nVorm",
        "nl": "Hallo {name},\n\nHet e-mailadres van je Vorm-account is gewijzigd in {new}. Was jij dat niet, "
              "neem dan meteen contact met ons op via {support}.\n\nVorm",
    },
    "privacy.mail.policy.subject": {"en": "We have updated our privacy policy",
                                    "nl": "We hebben ons privacybeleid bijgewerkt"},
    "privacy.mail.policy.body": {
        "en": "Hello {name},\n\nWe have made a material change to our privacy policy (last updated {date}). "
              "Please read it here:\n\n{link}\n\nYou will see a notice in the app until you confirm you have read "
              "it.\n\nVorm",
        "nl": "Hallo {name},\n\nWe hebben ons privacybeleid op een belangrijk punt gewijzigd (laatst bijgewerkt "
              "{date}). Lees het hier:\n\n{link}\n\nIn de app zie je een melding tot je bevestigt dat je het hebt "
              "gelezen.\n\nVorm",
    },
    # --- privacy policy page ---
    "policy.title": {"en": "Privacy policy", "nl": "Privacybeleid"},
    "policy.last_updated": {"en": "Last updated: {date} (version {version})",
                            "nl": "Laatst bijgewerkt: {date} (versie {version})"},
    "policy.language": {"en": "Language of the policy", "nl": "Taal van het beleid"},
    "policy.dutch_binding": {
        "en": "The Dutch text is the original; this English text is a translation.",
        "nl": "De Nederlandse tekst is het origineel; de Engelse tekst is een vertaling.",
    },
    "policy.cookies.title": {"en": "Cookies", "nl": "Cookies"},
    "policy.cookies.text": {
        "en": "We use only strictly necessary cookies, so we do not ask for consent:\n\n"
              "- **Login cookie**: keeps you logged in. It holds only a signed reference to your session on our "
              "server, which ends when you log out or delete your account.\n"
              "- **Streamlit connection**: the app framework keeps your browser tab connected to the server.\n\n"
              "No analytics, tracking or advertising cookies, and no third-party cookies.",
        "nl": "We gebruiken alleen strikt noodzakelijke cookies, daarom vragen we geen toestemming:\n\n"
              "- **Inlogcookie**: houdt je ingelogd. Hij bevat alleen een ondertekende verwijzing naar je sessie op "
              "onze server, die eindigt als je uitlogt of je account verwijdert.\n"
              "- **Streamlit-verbinding**: het app-framework houdt je browsertabblad verbonden met de server.\n\n"
              "Geen analyse-, tracking- of advertentiecookies, en geen cookies van derden.",
    },
    "policy.history": {"en": "Earlier versions", "nl": "Eerdere versies"},
    "policy.material": {"en": "material change", "nl": "belangrijke wijziging"},
    "policy.minor": {"en": "minor change", "nl": "kleine wijziging"},
    "policy.processors_link": {"en": "Who processes your data: see the processors page.",
                               "nl": "Wie je gegevens verwerkt: zie de pagina verwerkers."},
    # --- processors page ---
    "processors.title": {"en": "Processors", "nl": "Verwerkers"},
    "processors.intro": {
        "en": "We do not sell your personal data. Only these service providers process it for us, under a "
              "processing agreement, and only for what is listed.",
        "nl": "We verkopen je persoonsgegevens niet. Alleen deze dienstverleners verwerken ze voor ons, onder een "
              "verwerkersovereenkomst, en alleen voor wat hier staat.",
    },
    "processors.storage.name": {"en": "Object storage: {backend}", "nl": "Objectopslag: {backend}"},
    "processors.storage.what": {
        "en": "Your uploaded images, generated models and export files, as private objects reachable only "
              "through short-lived signed links.",
        "nl": "Je geüploade afbeeldingen, gegenereerde modellen en exportbestanden, als privé-objecten die alleen "
              "via kortlevende ondertekende links bereikbaar zijn.",
    },
    "processors.storage.local": {"en": "our own servers (no third party)",
                                 "nl": "onze eigen servers (geen derde partij)"},
    "processors.payments.name": {"en": "Payments: Stripe", "nl": "Betalingen: Stripe"},
    "processors.payments.what": {
        "en": "Payment details of premium users. Card data goes to Stripe directly and never reaches us; we keep "
              "only Stripe's customer, subscription and invoice references.",
        "nl": "Betaalgegevens van premium gebruikers. Kaartgegevens gaan rechtstreeks naar Stripe en komen nooit "
              "bij ons; wij bewaren alleen Stripe's klant-, abonnements- en factuurverwijzingen.",
    },
    "processors.mail.name": {"en": "Email delivery: {host}", "nl": "E-mailbezorging: {host}"},
    "processors.mail.what": {
        "en": "Your email address and the content of transactional emails (password reset, export ready, "
              "policy notices).",
        "nl": "Je e-mailadres en de inhoud van transactionele e-mails (wachtwoordherstel, export klaar, "
              "beleidsmeldingen).",
    },
    "processors.mail.none": {"en": "not configured (no emails leave the server)",
                             "nl": "niet ingesteld (er verlaten geen e-mails de server)"},
    "processors.nothing_else": {"en": "Nothing else leaves our servers.",
                                "nl": "Verder verlaat niets onze servers."},
    # --- my data page ---
    "mydata.title": {"en": "My data", "nl": "Mijn gegevens"},
    "mydata.intro": {
        "en": "Everything we hold about you. You can download it, correct it or delete it here yourself.",
        "nl": "Alles wat we over je bewaren. Je kunt het hier zelf downloaden, corrigeren of verwijderen.",
    },
    "mydata.profile": {"en": "Profile", "nl": "Profiel"},
    "mydata.email": {"en": "Email address", "nl": "E-mailadres"},
    "mydata.name": {"en": "Name", "nl": "Naam"},
    "mydata.member_since": {"en": "Member since", "nl": "Lid sinds"},
    "mydata.last_login": {"en": "Last login", "nl": "Laatst ingelogd"},
    "mydata.language": {"en": "Language", "nl": "Taal"},
    "mydata.plan": {"en": "Plan and subscription", "nl": "Abonnement"},
    "mydata.plan_is": {"en": "Your plan: **{plan}**", "nl": "Je abonnement: **{plan}**"},
    "mydata.stripe_customer": {"en": "Stripe customer reference: `{ref}`", "nl": "Stripe-klantverwijzing: `{ref}`"},
    "mydata.no_subscriptions": {"en": "No subscriptions.", "nl": "Geen abonnementen."},
    "mydata.invoices": {"en": "Invoices (references)", "nl": "Facturen (verwijzingen)"},
    "mydata.edit_name": {"en": "Change name", "nl": "Naam wijzigen"},
    "mydata.save_name": {"en": "Save name", "nl": "Naam opslaan"},
    "mydata.name_saved": {"en": "Your name was saved.", "nl": "Je naam is opgeslagen."},
    "mydata.edit_email": {"en": "Change email address", "nl": "E-mailadres wijzigen"},
    "mydata.new_email": {"en": "New email address", "nl": "Nieuw e-mailadres"},
    "mydata.current_password": {"en": "Current password", "nl": "Huidig wachtwoord"},
    "mydata.send_confirmation": {"en": "Send confirmation link", "nl": "Stuur bevestigingslink"},
    "mydata.email_sent": {
        "en": "We sent a confirmation link to {email}. Your address changes when you open it (within 24 hours).",
        "nl": "We hebben een bevestigingslink gestuurd naar {email}. Je adres verandert zodra je die opent "
              "(binnen 24 uur).",
    },
    "mydata.email_confirmed": {"en": "Your email address is now {email}.", "nl": "Je e-mailadres is nu {email}."},
    "mydata.retention": {
        "en": "Free plan: uploads and models are deleted {days} days after creation. Premium: kept while your "
              "subscription runs, and {days} days after it ends.",
        "nl": "Gratis abonnement: uploads en modellen worden {days} dagen na het maken verwijderd. Premium: bewaard "
              "zolang je abonnement loopt, en tot {days} dagen nadat het eindigt.",
    },
    "mydata.uploads": {"en": "Uploads", "nl": "Uploads"},
    "mydata.models": {"en": "Models", "nl": "Modellen"},
    "mydata.no_uploads": {"en": "You have no uploads.", "nl": "Je hebt geen uploads."},
    "mydata.no_models": {"en": "You have no models.", "nl": "Je hebt geen modellen."},
    "mydata.kept": {"en": "kept while your subscription is active", "nl": "bewaard zolang je abonnement loopt"},
    "mydata.purge_on": {"en": "deleted on {date} ({days} days left)", "nl": "verwijderd op {date} (nog {days} dagen)"},
    "mydata.created": {"en": "created {date}", "nl": "gemaakt {date}"},
    "mydata.delete": {"en": "Delete", "nl": "Verwijderen"},
    "mydata.deleted": {"en": "Deleted.", "nl": "Verwijderd."},
    "mydata.access": {"en": "Access log (IP address and browser)", "nl": "Toegangslog (IP-adres en browser)"},
    "mydata.access_note": {
        "en": "Full IP addresses are kept for 30 days, then shortened to their network; entries go after 180 days.",
        "nl": "Volledige IP-adressen bewaren we 30 dagen, daarna alleen het netwerkdeel; na 180 dagen gaan ze weg.",
    },
    "mydata.no_access": {"en": "No entries.", "nl": "Geen vermeldingen."},
    "mydata.acceptances": {"en": "Privacy policy acceptances", "nl": "Akkoord met het privacybeleid"},
    "mydata.no_acceptances": {"en": "None recorded.", "nl": "Niets vastgelegd."},
    "mydata.tickets": {"en": "Support tickets", "nl": "Supporttickets"},
    "mydata.no_tickets": {"en": "No tickets.", "nl": "Geen tickets."},
    "mydata.requests": {"en": "Privacy requests", "nl": "Privacyverzoeken"},
    "mydata.no_requests": {"en": "No privacy requests.", "nl": "Geen privacyverzoeken."},
    "mydata.due": {"en": "answer due by {date}", "nl": "antwoord uiterlijk {date}"},
    "mydata.page": {"en": "Page", "nl": "Pagina"},
    "mydata.page_of": {"en": "{first}–{last} of {total}", "nl": "{first}–{last} van {total}"},
    "mydata.export": {"en": "Download your data", "nl": "Je gegevens downloaden"},
    "mydata.export_intro": {
        "en": "A ZIP with all your data (JSON and CSV), your original uploads and every model. It is ready within "
              "a minute or two; we also email you the link. One export per 24 hours; the link works for 7 days.",
        "nl": "Een ZIP met al je gegevens (JSON en CSV), je originele uploads en al je modellen. Hij staat binnen "
              "een minuut of twee klaar; we mailen je ook de link. Eén export per 24 uur; de link werkt 7 dagen.",
    },
    "mydata.export_request": {"en": "Request export", "nl": "Export aanvragen"},
    "mydata.export_requested": {"en": "Your export was requested. Refresh this page in a minute.",
                                "nl": "Je export is aangevraagd. Ververs deze pagina over een minuut."},
    "mydata.export_pending": {"en": "Your export is being prepared…", "nl": "Je export wordt klaargemaakt…"},
    "mydata.export_refresh": {"en": "Refresh", "nl": "Verversen"},
    "mydata.export_ready": {"en": "Your export is ready (available until {date}).",
                            "nl": "Je export staat klaar (beschikbaar tot {date})."},
    "mydata.export_download": {"en": "Download ZIP", "nl": "ZIP downloaden"},
    "mydata.export_failed": {"en": "Building your export failed. Please request it again.",
                             "nl": "Het maken van je export is mislukt. Vraag hem opnieuw aan."},
    "mydata.export_next": {"en": "Next export possible from {date}.", "nl": "Volgende export mogelijk vanaf {date}."},
    "mydata.danger": {"en": "Delete your account", "nl": "Je account verwijderen"},
    "mydata.danger_intro": {
        "en": "This deletes your account and everything in it for good: profile, uploads, models, logs, tickets, "
              "sessions, and your customer record at Stripe. Only invoice references stay, because bookkeeping law "
              "requires them, without your name or email. This cannot be undone.",
        "nl": "Dit verwijdert je account en alles daarin definitief: profiel, uploads, modellen, logs, tickets, "
              "sessies en je klantgegevens bij Stripe. Alleen factuurverwijzingen blijven, omdat de "
              "boekhoudwet dat eist, zonder je naam of e-mailadres. Dit kan niet ongedaan worden gemaakt.",
    },
    "mydata.danger_confirm": {"en": "I understand that this cannot be undone",
                              "nl": "Ik begrijp dat dit niet ongedaan kan worden"},
    "mydata.delete_account": {"en": "Delete my account", "nl": "Verwijder mijn account"},
    "mydata.account_deleted": {"en": "Your account and all its data have been deleted. Goodbye!",
                               "nl": "Je account en al je gegevens zijn verwijderd. Tot ziens!"},
    "mydata.account_scheduled": {
        "en": "Your account is closed and logged out; the last of its data is being deleted within minutes.",
        "nl": "Je account is gesloten en uitgelogd; de laatste gegevens worden binnen enkele minuten verwijderd.",
    },
    "mydata.support_link": {"en": "Questions or another request? Use the support page.",
                            "nl": "Vragen of een ander verzoek? Gebruik de supportpagina."},
    # --- support page ---
    "support.title": {"en": "Support and contact", "nl": "Support en contact"},
    "support.intro": {
        "en": "Send us a message; we answer by email. Privacy requests are answered within one month at the latest.",
        "nl": "Stuur ons een bericht; we antwoorden per e-mail. Privacyverzoeken beantwoorden we uiterlijk binnen "
              "een maand.",
    },
    "support.topic": {"en": "Topic", "nl": "Onderwerp"},
    "support.topic.question": {"en": "Question", "nl": "Vraag"},
    "support.topic.billing": {"en": "Billing", "nl": "Betaling"},
    "support.topic.bug": {"en": "Something does not work", "nl": "Er werkt iets niet"},
    "support.topic.privacy": {"en": "Privacy request", "nl": "Privacyverzoek"},
    "support.privacy_kind": {"en": "Kind of privacy request", "nl": "Soort privacyverzoek"},
    "support.kind.access": {"en": "Access to my data", "nl": "Inzage in mijn gegevens"},
    "support.kind.correction": {"en": "Correction", "nl": "Correctie"},
    "support.kind.deletion": {"en": "Deletion", "nl": "Verwijdering"},
    "support.kind.objection": {"en": "Objection to processing", "nl": "Bezwaar tegen verwerking"},
    "support.kind.other": {"en": "Other", "nl": "Anders"},
    "support.self_service": {
        "en": "Tip: you can download, correct and delete your data yourself, at once, on the My data page.",
        "nl": "Tip: je kunt je gegevens zelf en meteen downloaden, corrigeren en verwijderen op de pagina "
              "Mijn gegevens.",
    },
    "support.email": {"en": "Your email address", "nl": "Je e-mailadres"},
    "support.subject": {"en": "Subject", "nl": "Onderwerp van je bericht"},
    "support.body": {"en": "Message", "nl": "Bericht"},
    "support.submit": {"en": "Send", "nl": "Versturen"},
    "support.sent": {"en": "Thank you. Your ticket number is #{id}.", "nl": "Dank je. Je ticketnummer is #{id}."},
    "support.sent_privacy": {
        "en": "Thank you. Your privacy request (ticket #{id}) will be answered by {date} at the latest.",
        "nl": "Dank je. Je privacyverzoek (ticket #{id}) wordt uiterlijk {date} beantwoord.",
    },
    "support.login_for_privacy": {
        "en": "Log in to file a privacy request, so we know whose data it is about.",
        "nl": "Log in om een privacyverzoek in te dienen, zodat we weten over wiens gegevens het gaat.",
    },
    "support.direct": {"en": "Or email us at {email}.", "nl": "Of mail ons op {email}."},
}
