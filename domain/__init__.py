"""licensebot: domain."""
