"""Texts of the upload page, its progress display, and the upload and quota errors."""

TEXTS: dict[str, dict[str, str]] = {
    "upload.title": {"en": "New model", "nl": "Nieuw model"},
    "upload.quota": {"en": "You can start {count} more generations today (of {limit}).",
                     "nl": "Je kunt vandaag nog {count} generaties starten (van de {limit})."},
    "upload.modes.title": {"en": "How does it work? The four modes", "nl": "Hoe werkt het? De vier modi"},
    "upload.mode.auto": {"en": "Automatic", "nl": "Automatisch"},
    "upload.mode.inflate": {"en": "Inflate (one photo)", "nl": "Opblazen (één foto)"},
    "upload.mode.relief": {"en": "Relief plate", "nl": "Reliëfplaat"},
    "upload.mode.carve": {"en": "Carve (several views)", "nl": "Uitsnijden (meerdere aanzichten)"},
    "upload.mode.auto.help": {
        "en": "Automatic chooses for you: one image is inflated, several images are carved.",
        "nl": "Automatisch kiest voor je: één afbeelding wordt opgeblazen, meerdere afbeeldingen worden uitgesneden.",
    },
    "upload.mode.inflate.help": {
        "en": "One photo of an object on a plain background. Its outline is blown up into a rounded, "
              "closed shape, coloured from the photo. Best for toys, fruit, logos and flat-ish things.",
        "nl": "Eén foto van een voorwerp op een effen achtergrond. De omtrek wordt opgeblazen tot een ronde, "
              "gesloten vorm, gekleurd naar de foto. Het best voor speelgoed, fruit, logo's en vrij platte dingen.",
    },
    "upload.mode.relief.help": {
        "en": "Any picture becomes a printable plate whose height follows the brightness. Tick lithophane "
              "for a back-lit print where dark areas are thick.",
        "nl": "Elke afbeelding wordt een printbare plaat waarvan de hoogte de helderheid volgt. Kies lithofanie "
              "voor een print met licht erachter, waarbij donkere delen dik zijn.",
    },
    "upload.mode.carve.help": {
        "en": "2 to {max_views} photos taken all around the object on a turntable, at equal steps, from the same "
              "distance and height. The shape is carved from every outline.",
        "nl": "2 tot {max_views} foto's rondom het voorwerp op een draaitafel, in gelijke stappen, vanaf dezelfde "
              "afstand en hoogte. De vorm wordt uit elke omtrek gesneden.",
    },
    "upload.files": {"en": "Your image, or several views of one object",
                     "nl": "Je afbeelding, of meerdere aanzichten van één voorwerp"},
    "upload.files.help": {
        "en": "PNG, JPEG or WebP, up to {mb} MB each; at most {max_views} views on your plan.",
        "nl": "PNG, JPEG of WebP, tot {mb} MB per bestand; hoogstens {max_views} aanzichten met je abonnement.",
    },
    "upload.files.hint": {
        "en": "Tip: one object, a plain background, and some space around it. Camera details and GPS "
              "position are removed before your image is stored.",
        "nl": "Tip: één voorwerp, een effen achtergrond en wat ruimte eromheen. Cameragegevens en GPS-locatie "
              "worden verwijderd voordat je afbeelding wordt opgeslagen.",
    },
    "upload.again": {"en": "Generating “{name}” again from the same images. Change the options below.",
                     "nl": "“{name}” opnieuw maken van dezelfde afbeeldingen. Pas hieronder de opties aan."},
    "upload.preview.title": {"en": "What will be modelled", "nl": "Wat er gemodelleerd wordt"},
    "upload.preview.help": {
        "en": "The object as we found it; the washed-out part is treated as background.",
        "nl": "Het voorwerp zoals wij het vonden; het vervaagde deel geldt als achtergrond.",
    },
    "upload.preview.mask": {"en": "Detected object ({pct}% of the image)",
                            "nl": "Gevonden voorwerp ({pct}% van de afbeelding)"},
    "upload.preview.more": {"en": "…and {count} more views.", "nl": "…en nog {count} aanzichten."},
    "upload.options.title": {"en": "Options", "nl": "Opties"},
    "upload.options.mode": {"en": "Mode", "nl": "Modus"},
    "upload.options.name": {"en": "Name of the model", "nl": "Naam van het model"},
    "upload.options.faces": {"en": "Detail (triangles)", "nl": "Detail (driehoeken)"},
    "upload.options.faces.help": {
        "en": "More triangles keep finer detail but make larger files. 20,000 suits most prints.",
        "nl": "Meer driehoeken bewaren fijner detail maar geven grotere bestanden. 20.000 past bij de meeste prints.",
    },
    "upload.options.size": {"en": "Print size of the longest side (mm, 0 = unscaled)",
                            "nl": "Printgrootte van de langste zijde (mm, 0 = niet geschaald)"},
    "upload.options.size.help": {
        "en": "With a size, the files are in millimetres, ready for a slicer.",
        "nl": "Met een grootte zijn de bestanden in millimeters, klaar voor een slicer.",
    },
    "upload.options.lithophane": {"en": "Lithophane (relief only)", "nl": "Lithofanie (alleen reliëf)"},
    "upload.options.lithophane.help": {
        "en": "Dark areas become thick, so the print shows the picture when lit from behind.",
        "nl": "Donkere delen worden dik, zodat de print de afbeelding toont met licht erachter.",
    },
    "upload.submit": {"en": "Make my 3D model", "nl": "Maak mijn 3D-model"},
    "upload.fix_first": {"en": "Fix the problems above first; then you can start.",
                         "nl": "Los eerst de problemen hierboven op; daarna kun je beginnen."},
    "upload.queued": {"en": "Your model is on its way.", "nl": "Je model is onderweg."},
    "upload.progress.title": {"en": "Making “{name}”", "nl": "Bezig met “{name}”"},
    "upload.progress.queued": {"en": "Waiting in the queue: number {position}.",
                               "nl": "In de wachtrij: nummer {position}."},
    "upload.cancel": {"en": "Cancel", "nl": "Annuleren"},
    "upload.cancelled": {"en": "The generation was cancelled.", "nl": "De generatie is geannuleerd."},
    "upload.done": {"en": "“{name}” is ready.", "nl": "“{name}” is klaar."},
    "upload.open_model": {"en": "Open the model", "nl": "Open het model"},
    "upload.failed": {"en": "The model could not be made: {message}",
                      "nl": "Het model kon niet gemaakt worden: {message}"},
    "upload.failed_unknown": {"en": "an unexpected error. Please try again.",
                              "nl": "een onverwachte fout. Probeer het opnieuw."},
    "upload.start_another": {"en": "Make another model", "nl": "Nog een model maken"},
    "upload.stage.waiting": {"en": "Waiting for a worker", "nl": "Wachten op een verwerker"},
    "upload.stage.queued": {"en": "Waiting for a worker", "nl": "Wachten op een verwerker"},
    "upload.stage.claimed": {"en": "Starting", "nl": "Starten"},
    "upload.stage.started": {"en": "Starting", "nl": "Starten"},
    "upload.stage.loading": {"en": "Reading the images", "nl": "Afbeeldingen lezen"},
    "upload.stage.load": {"en": "Reading the images", "nl": "Afbeeldingen lezen"},
    "upload.stage.mask": {"en": "Finding the object", "nl": "Voorwerp zoeken"},
    "upload.stage.shape": {"en": "Building the shape", "nl": "Vorm opbouwen"},
    "upload.stage.mesh": {"en": "Building the mesh", "nl": "Net opbouwen"},
    "upload.stage.texture": {"en": "Colouring", "nl": "Inkleuren"},
    "upload.stage.export": {"en": "Writing the files", "nl": "Bestanden schrijven"},
    "upload.stage.thumbnails": {"en": "Drawing thumbnails", "nl": "Miniaturen tekenen"},
    "upload.stage.storing": {"en": "Saving", "nl": "Opslaan"},
    "upload.stage.store": {"en": "Saving", "nl": "Opslaan"},
    "upload.stage.done": {"en": "Done", "nl": "Klaar"},
    # --- errors in Dutch ---
    "error.empty_file": {"en": "The file is empty (0 bytes). Choose the image file again.",
                         "nl": "Het bestand is leeg (0 bytes). Kies het afbeeldingsbestand opnieuw; het is "
                               "misschien niet helemaal opgeslagen."},
    "error.unsupported_image_type": {
        "en": "The file is not a supported image: use PNG, JPEG or WebP.",
        "nl": "Het bestand is geen ondersteunde afbeelding (wat de naam ook zegt): gebruik PNG, JPEG of WebP.",
    },
    "error.corrupt_image": {
        "en": "The file is not a readable image (it may be truncated or damaged).",
        "nl": "Het bestand is geen leesbare afbeelding (het is misschien afgebroken of beschadigd). "
              "Exporteer het opnieuw.",
    },
    "error.image_too_large": {
        "en": "The image has too many pixels to process.",
        "nl": "De afbeelding heeft te veel pixels om te verwerken. Verklein haar (bijvoorbeeld tot 4000 pixels "
              "breed) en probeer het opnieuw.",
    },
    "error.no_foreground": {
        "en": "No object was found in the image.",
        "nl": "Er is geen voorwerp gevonden in de afbeelding: gebruik een transparante achtergrond of een effen "
              "achtergrond die verschilt van het voorwerp.",
    },
    "error.foreground_fills_frame": {
        "en": "The object fills the whole frame or the background is not plain.",
        "nl": "Het voorwerp vult het hele beeld of de achtergrond is niet effen: laat ruimte rond het voorwerp op "
              "een effen achtergrond, of gebruik een PNG met transparantie.",
    },
    "error.upload_too_large": {
        "en": "The file is {size_mb:.1f} MB; your plan accepts up to {limit_mb:.0f} MB per image.",
        "nl": "Het bestand is {size_mb:.1f} MB; je abonnement accepteert tot {limit_mb:.0f} MB per afbeelding. "
              "Verklein of comprimeer de afbeelding en probeer het opnieuw.",
    },
    "error.too_many_views_for_plan": {
        "en": "You chose {count} views; your plan allows at most {limit} views per carve.",
        "nl": "Je koos {count} aanzichten; je abonnement staat hoogstens {limit} aanzichten per model toe. "
              "Verwijder er een paar, of neem premium voor tot {premium} aanzichten.",
    },
    "error.too_many_views": {
        "en": "Your plan allows at most {limit} images per model; you gave {given}.",
        "nl": "Je abonnement staat hoogstens {limit} afbeeldingen per model toe; je gaf er {given}. Gebruik er "
              "minder, of neem premium voor tot {premium} aanzichten.",
    },
    "error.daily_quota": {
        "en": "You have used all {limit} generations of your plan for today.",
        "nl": "Je hebt vandaag alle {limit} generaties van je abonnement gebruikt. Probeer het na middernacht "
              "(UTC) opnieuw, of neem premium voor meer.",
    },
    "error.too_many_running": {
        "en": "You already have {limit} generations queued or running.",
        "nl": "Je hebt al {limit} generaties in de wachtrij of in uitvoering. Wacht tot er een klaar is, of "
              "annuleer er een, en probeer het dan opnieuw.",
    },
    "error.no_images": {"en": "Choose at least one image.", "nl": "Kies minstens één afbeelding."},
}
