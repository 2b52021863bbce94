"""licensebot: bot."""
