"""Texts of the frame, login and registration, and account mails."""

TEXTS: dict[str, dict[str, str]] = {
    # --- frame ---
    "app.title": {"en": "Vorm: images into 3D models", "nl": "Vorm: van afbeelding naar 3D-model"},
    "app.language": {"en": "Language", "nl": "Taal"},
    "app.logout": {"en": "Log out", "nl": "Uitloggen"},
    "app.signed_in_as": {"en": "Signed in as {email}", "nl": "Ingelogd als {email}"},
    "app.plan": {"en": "Plan: {plan}", "nl": "Abonnement: {plan}"},
    "app.session_ended": {"en": "Your session has ended. Please log in again.",
                          "nl": "Je sessie is beëindigd. Log opnieuw in."},
    "app.cookie_notice": {
        "en": "We use only strictly necessary cookies: one to keep you logged in and Streamlit's own "
              "connection cookie. No tracking or advertising cookies.",
        "nl": "We gebruiken alleen strikt noodzakelijke cookies: één om je ingelogd te houden en de eigen "
              "verbindingscookie van Streamlit. Geen tracking- of advertentiecookies.",
    },
    "app.login_required": {"en": "Please log in to see this page.", "nl": "Log in om deze pagina te zien."},
    "app.forbidden": {"en": "You are not allowed to see this page.", "nl": "Je hebt geen toegang tot deze pagina."},
    "app.db_down": {
        "en": "Vorm cannot reach its database right now, so nothing can be shown. Try again in a minute. ({message})",
        "nl": "Vorm kan de database nu niet bereiken, dus er kan niets getoond worden. Probeer het over een minuut "
              "opnieuw. ({message})",
    },
    "app.plan_free": {"en": "free", "nl": "gratis"},
    "app.plan_premium": {"en": "premium", "nl": "premium"},
    "app.quota_left": {"en": "Generations left today: {count}", "nl": "Generaties over vandaag: {count}"},
    "app.logged_out": {"en": "You are logged out.", "nl": "Je bent uitgelogd."},
    "app.email_confirmed": {"en": "Your new email address is confirmed.",
                            "nl": "Je nieuwe e-mailadres is bevestigd."},
    "app.policy_changed": {
        "en": "Our privacy policy has changed. Please read what is new.",
        "nl": "Ons privacybeleid is gewijzigd. Lees wat er nieuw is.",
    },
    "app.policy_read": {"en": "Read the privacy policy", "nl": "Lees het privacybeleid"},
    "app.policy_ack": {"en": "I have read it", "nl": "Gelezen"},
    # --- navigation ---
    "nav.login": {"en": "Log in", "nl": "Inloggen"},
    "nav.register": {"en": "Create an account", "nl": "Account aanmaken"},
    "nav.upload": {"en": "New model", "nl": "Nieuw model"},
    "nav.library": {"en": "My models", "nl": "Mijn modellen"},
    "nav.model": {"en": "Model", "nl": "Model"},
    "nav.my_data": {"en": "My data", "nl": "Mijn gegevens"},
    "nav.support": {"en": "Support", "nl": "Ondersteuning"},
    "nav.privacy": {"en": "Privacy policy", "nl": "Privacybeleid"},
    "nav.processors": {"en": "Who processes your data", "nl": "Wie je gegevens verwerkt"},
    "nav.admin": {"en": "Metrics", "nl": "Statistieken"},
    "nav.section.create": {"en": "Create", "nl": "Maken"},
    "nav.section.account": {"en": "Account", "nl": "Account"},
    "nav.section.help": {"en": "Help and privacy", "nl": "Hulp en privacy"},
    "nav.section.operations": {"en": "Operations", "nl": "Beheer"},
    "app.error": {"en": "Something went wrong: {message}", "nl": "Er ging iets mis: {message}"},
    # --- login ---
    "login.title": {"en": "Log in", "nl": "Inloggen"},
    "login.email": {"en": "Email address", "nl": "E-mailadres"},
    "login.password": {"en": "Password", "nl": "Wachtwoord"},
    "login.submit": {"en": "Log in", "nl": "Inloggen"},
    "login.forgot": {"en": "Forgot your password?", "nl": "Wachtwoord vergeten?"},
    "login.reset_submit": {"en": "Send reset link", "nl": "Stuur herstellink"},
    "login.reset_sent": {
        "en": "If an account exists for that address, we have emailed a link to reset the password.",
        "nl": "Als er een account met dat adres bestaat, hebben we een link gemaild om het wachtwoord te herstellen.",
    },
    "login.new_password": {"en": "New password", "nl": "Nieuw wachtwoord"},
    "login.reset_done": {"en": "Your password was changed. You can log in now.",
                         "nl": "Je wachtwoord is gewijzigd. Je kunt nu inloggen."},
    "register.title": {"en": "Create an account", "nl": "Account aanmaken"},
    "register.name": {"en": "Name", "nl": "Naam"},
    "register.password_rule": {"en": "At least 10 characters, with letters and digits.",
                               "nl": "Minstens 10 tekens, met letters en cijfers."},
    "register.accept": {"en": "I accept the privacy policy (version {version})",
                        "nl": "Ik ga akkoord met het privacybeleid (versie {version})"},
    "register.submit": {"en": "Create account", "nl": "Account aanmaken"},
    "register.done": {"en": "Welcome! Your account is ready.", "nl": "Welkom! Je account is klaar."},
    "login.intro": {"en": "Turn a photo of an object into a 3D model you can spin, download and print.",
                    "nl": "Maak van een foto van een voorwerp een 3D-model dat je kunt draaien, downloaden en "
                          "printen."},
    "login.no_account": {"en": "No account yet? Create one", "nl": "Nog geen account? Maak er een aan"},
    "reset.title": {"en": "Choose a new password", "nl": "Kies een nieuw wachtwoord"},
    "reset.submit": {"en": "Save the new password", "nl": "Nieuw wachtwoord opslaan"},
    "register.intro": {"en": "Free: 5 models a day. Your images stay private.",
                       "nl": "Gratis: 5 modellen per dag. Je afbeeldingen blijven privé."},
    "register.read_policy": {"en": "Read the privacy policy", "nl": "Lees het privacybeleid"},
    "register.have_account": {"en": "Already have an account? Log in", "nl": "Heb je al een account? Log in"},
    # --- errors shown in Dutch (English uses each error's own message) ---
    "error.wrong_credentials": {"en": "The email address or password is wrong.",
                                "nl": "Het e-mailadres of wachtwoord klopt niet."},
    "error.account_locked": {
        "en": "Too many failed logins: this account is locked for a while. Try again later.",
        "nl": "Te vaak een verkeerd wachtwoord: dit account is een tijdje geblokkeerd. Probeer het later opnieuw.",
    },
    "error.session_invalid": {"en": "Your session has ended. Please log in again.",
                              "nl": "Je sessie is beëindigd. Log opnieuw in."},
    "error.token_invalid": {"en": "This link is invalid or has expired.",
                            "nl": "Deze link is ongeldig of verlopen."},
    "error.invalid_email": {"en": "That does not look like an email address.",
                            "nl": "Dat lijkt geen e-mailadres."},
    "error.weak_password": {
        "en": "The password is too weak: use at least 10 characters with letters and digits.",
        "nl": "Het wachtwoord is te zwak: gebruik minstens 10 tekens met letters en cijfers.",
    },
    "error.duplicate_email": {"en": "An account with this email address already exists.",
                              "nl": "Er bestaat al een account met dit e-mailadres."},
    "error.not_found": {"en": "Not found.", "nl": "Niet gevonden."},
    "error.forbidden": {"en": "You are not allowed to do that.", "nl": "Dat mag je niet doen."},
    # --- mail ---
    "mail.reset.subject": {"en": "Reset your Vorm password", "nl": "Herstel je Vorm-wachtwoord"},
    "mail.reset.body": {
        "en": "Hello {name},\n\nSomeone (hopefully you) asked to reset your Vorm password. Open this link within "
              "{minutes} minutes to choose a new one:\n\n{link}\n\nIf it was not you, ignore this email; "
              "your password stays as it is.\n\nVorm",
        "nl": "Hallo {name},\n\nIemand (hopelijk jij) heeft gevraagd je Vorm-wachtwoord te herstellen. Open deze "
              "link binnen {minutes} minuten om een nieuw wachtwoord te kiezen:\n\n{link}\n\nWas jij het niet, "
              "negeer deze e-mail dan; je wachtwoord blijft zoals het is.\n\nVorm",
    },
}
