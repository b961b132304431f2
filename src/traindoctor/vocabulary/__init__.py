"""The ground floor: the catalog of codes, the Finding, triage and the Report. No torch here."""
