"""Line of therapy: CodeX treatment-line-cs codes, on an extension or a LineOfTherapyObservation."""
from __future__ import annotations

from server.domain.order import LineOfTherapy

from mappings.fhir import codings, extensions, table


def line_of_therapy_from_extensions(resource) -> LineOfTherapy:
    lot = table("clinical")["line_of_therapy"]
    for ext in extensions(resource, lot["extensions"]):
        found = line_of_therapy_from_concept(ext.valueCodeableConcept)
        if found is not LineOfTherapy.UNKNOWN:
            return found
    return LineOfTherapy.UNKNOWN


def line_of_therapy_from_concept(concept) -> LineOfTherapy:
    lot = table("clinical")["line_of_therapy"]
    for c in codings(concept):
        if c.system in lot["code_systems"] and c.code in lot["codes"]:
            return LineOfTherapy(lot["codes"][c.code])
    return LineOfTherapy.UNKNOWN
