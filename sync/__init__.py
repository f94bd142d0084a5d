"""The county-to-kiosk contract: content model, validation and atomic install. No Flask here."""
