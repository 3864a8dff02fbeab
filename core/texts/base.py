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
