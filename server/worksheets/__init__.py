"""Disease-site worksheets a clinician can fill in: the HTML form of the FHIR Questionnaire,
prefilled from the case, whose submission re-decides the case at once."""
