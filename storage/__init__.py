"""licensebot: storage."""
