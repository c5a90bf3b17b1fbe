"""Tumor-specific oncology worksheets, served as FHIR Questionnaires.

The pended card links to the worksheet of the patient's cancer type; the coverage-information
extension names it as `questionnaire`. The biomarker questions come from the knowledge base
(every marker a pathway or drug policy for that cancer type reads), plus a small static floor.
"""
from __future__ import annotations


ID_PREFIX = "oncopath-worksheet-"
GENERAL = "general"

_STATIC_MARKERS = {
    "breast": ("HER2", "ER", "PR"),
    "nsclc": ("EGFR", "ALK", "ROS1", "BRAF", "KRAS", "MET", "RET", "NTRK", "PDL1_TPS"),
    "colorectal": ("KRAS", "NRAS", "BRAF", "MSI", "MMR", "HER2"),
    "melanoma": ("BRAF",),
    "myeloma": (),
    "dlbcl": ("CD20",),
    "pancreatic": ("BRCA", "MSI"),
}
_MARKER_TEXT = {
    "HER2": "HER2 status (IHC 0–3+ and ISH result if IHC 2+)",
    "ER": "Estrogen receptor (% of cells)", "PR": "Progesterone receptor (% of cells)",
    "PDL1_TPS": "PD-L1 tumor proportion score (%)", "PDL1_CPS": "PD-L1 combined positive score",
    "MSI": "Microsatellite instability (MSI-H / MSS)", "MMR": "Mismatch repair (dMMR / pMMR)",
    "TMB": "Tumor mutational burden (mut/Mb)",
}
_RESULTS = ("positive", "negative", "equivocal", "not tested")


def questionnaire_id(cancer_type: str | None) -> str:
    return ID_PREFIX + (cancer_type or GENERAL)


def cancer_type_of(questionnaire_id: str) -> str | None:
    if not questionnaire_id.startswith(ID_PREFIX):
        return None
    return questionnaire_id[len(ID_PREFIX):] or None


def known_cancer_types(knowledge) -> set[str]:
    types = set(_STATIC_MARKERS)
    if knowledge is not None:
        types.update(knowledge.cancer_types)
    return types | {GENERAL}


def markers_for(cancer_type: str, knowledge) -> list[str]:
    markers = list(_STATIC_MARKERS.get(cancer_type, ()))
    if knowledge is not None:
        for pathway in knowledge.pathways_by_cancer.get(cancer_type, ()) or [
                p for p in knowledge.pathways if p.cancer_type == cancer_type]:
            for crit in (*pathway.requires, *pathway.excludes):
                markers.append(crit.marker)
        for ind in _labels(cancer_type, knowledge):
            for crit in (*ind.requires, *ind.requires_any, *ind.excludes):
                markers.append(crit.marker)
    return list(dict.fromkeys(markers))


def _choice(link_id: str, text: str, options: tuple[str, ...], required: bool = True) -> dict:
    return {"linkId": link_id, "text": text, "type": "choice", "required": required,
            "answerOption": [{"valueCoding": {"code": o.replace(" ", "-"), "display": o}} for o in options]}


def _label_needs(cancer_type: str, knowledge, attr: str) -> bool:
    """Some label of this cancer type has the criterion (transplant candidacy, fitness for cisplatin)."""
    return any(getattr(ind, attr) for ind in _labels(cancer_type, knowledge))


def _labels(cancer_type: str, knowledge) -> tuple:
    """The indications naming this cancer type (indexed at load, build_indexes)."""
    return () if knowledge is None else knowledge.labels_by_cancer.get(cancer_type, ())


def attestations_for(cancer_type: str, knowledge) -> list:
    """The label criteria this cancer type's labels ask the clinician to attest, each once."""
    found = {a.key: a for ind in _labels(cancer_type, knowledge) for a in ind.attests}
    if knowledge is not None:
        for p in knowledge.pathways_by_cancer.get(cancer_type, ()):
            found.update((a.key, a) for r in p.regimens for a in r.attests)
    return [found[k] for k in sorted(found)]


def worksheet(cancer_type: str, knowledge, url: str, kb_version: str | None) -> dict:
    name = cancer_type
    if knowledge is not None and cancer_type in knowledge.cancer_types:
        name = knowledge.cancer_types[cancer_type].name
    title = "Oncology regimen worksheet" + ("" if cancer_type == GENERAL else f": {name}")
    markers = markers_for(cancer_type, knowledge) if cancer_type != GENERAL else []
    items = [
        {"linkId": "diagnosis", "text": "Diagnosis", "type": "group", "item": [
            {"linkId": "diagnosis.icd10", "text": "Primary cancer diagnosis (ICD-10-CM)", "type": "string",
             "required": True},
            {"linkId": "diagnosis.stage", "text": "Stage group (AJCC), or 'not staged'", "type": "string",
             "required": True},
            _choice("diagnosis.setting", "Disease setting",
                    ("neoadjuvant", "adjuvant", "metastatic", "maintenance")),
            _choice("diagnosis.line", "Line of therapy", ("1L", "2L", "3L+", "maintenance")),
            {"linkId": "diagnosis.ecog", "text": "ECOG performance status (0–5)", "type": "integer",
             "required": True},
            # "unfit for cisplatin" (EORTC 30986: eGFR and ECOG): asked only where a label needs it
            *([{"linkId": "diagnosis.egfr", "text": "eGFR (mL/min/1.73 m2)", "type": "decimal", "required": False}]
              if _label_needs(cancer_type, knowledge, "cisplatin_unfit") else []),
            # labels for "postmenopausal women" (fulvestrant): asked only where a label needs it
            *([_choice("diagnosis.menopause", "Menopausal status", ("postmenopausal", "premenopausal"),
                       required=False)] if cancer_type == "breast" else []),
        ]},
    ]
    if markers:
        items.append({"linkId": "biomarkers", "text": "Tumor markers", "type": "group", "item": [
            {**_choice(f"biomarkers.{m}", _MARKER_TEXT.get(m, f"{m} result"), _RESULTS),
             "item": [{"linkId": f"biomarkers.{m}.value", "text": "Value, variant or method (optional)",
                       "type": "string"}]}
            for m in markers]})
    items += [
        {"linkId": "regimen", "text": "Regimen", "type": "group", "item": [
            {"linkId": "regimen.start", "text": "Treatment start date (date of service)", "type": "date",
             "required": True},
            {"linkId": "regimen.cycle-length", "text": "Cycle length (days)", "type": "integer"},
            {"linkId": "regimen.cycles", "text": "Planned number of cycles (blank = until progression)",
             "type": "integer"},
            {"linkId": "regimen.prior", "text": "Prior regimens for this cancer", "type": "text"},
        ]},
        # what labels count from the treatment history ("one to three prior lines", platinum-free
        # interval, progression within six months of rituximab): a pend on them can be answered here
        {"linkId": "history", "text": "Treatment history", "type": "group", "item": [
            {"linkId": "history.prior-lines", "text": "Number of prior lines of therapy for this cancer",
             "type": "integer"},
            {"linkId": "history.last-dose-drug",
             "text": "Prior drug the interval is counted from (e.g. carboplatin, rituximab)", "type": "string"},
            {"linkId": "history.last-dose", "text": "Date of its last dose", "type": "date"},
            {"linkId": "history.progression", "text": "Date progression was documented after it", "type": "date"},
            {"linkId": "history.response",
             "text": "Date a complete or partial response to the induction was documented", "type": "date"},
            # asked where a label names transplant candidacy (myeloma, lymphomas): an attestation
            *([_choice("history.transplant", "Autologous stem cell transplant candidacy", ("eligible", "ineligible"),
                       required=False)] if _label_needs(cancer_type, knowledge, "transplant") else []),
        ]},
    ]
    attests = attestations_for(cancer_type, knowledge) if cancer_type != GENERAL else []
    if attests:
        # label criteria no code in the record carries, in the label's words: the clinician attests them
        items.append({"linkId": "attest", "text": "Label criteria (attested by the ordering clinician)",
                      "type": "group", "item": [
                          {"linkId": f"attest.{a.key}", "text": a.question, "type": "boolean", "required": False}
                          for a in attests]})
    items += [
        {"linkId": "supportive", "text": "Growth factors", "type": "group", "item": [
            {"linkId": "supportive.fn-risk-factors",
             "text": "Febrile-neutropenia risk factors (age ≥ 65, prior chemotherapy or radiation, "
                     "bone marrow involvement, recent surgery, liver or renal dysfunction, poor "
                     "performance status, ...)", "type": "text"},
        ]},
        {"linkId": "trial", "text": "Clinical trial (NCT number), if any", "type": "string"},
    ]
    out = {"resourceType": "Questionnaire", "id": questionnaire_id(cancer_type), "url": url,
           "name": "OncopathWorksheet" + "".join(p.capitalize() for p in cancer_type.split("-")),
           "title": title, "status": "active", "subjectType": ["Patient"], "item": items}
    if kb_version:
        out["version"] = kb_version
    return out
