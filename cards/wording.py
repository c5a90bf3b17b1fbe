"""Clinical words for what the engine decided: a Decision's reasons and deviations as
sentences an oncologist can act on at the moment of signing.

The engine's texts are written for the trace ("trastuzumab requires HER2 positive; reported
HER2 negative — or — …"). This layer keys on `Reason.code` and `Deviation.kind`, reads the
structure those texts have today, and when a text does not have the expected shape it falls
back to a cleaned-up version of it (internal keys, resource ids and rule numbers removed,
complete sentence). So a change of words in the engine degrades to plainer words here, never
to machine output.

A `Finding` is one thing the clinician must know: `text` (a sentence for the detail), `short`
(a phrase for a summary), `send` (what to send or do, None when nothing can be sent) and
`rank` (lower is more important). Findings about the same fact are merged (HER2 missing for
trastuzumab and for pertuzumab is one finding naming both drugs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from server.domain.decision import Decision, Deviation, DeviationKind, Reason, Severity

# Markers by the program's key -> words (the rest: PDL1 -> PD-L1, "_" -> " ").
MARKER_WORDS = {"PDL1_TPS": "PD-L1 TPS", "PDL1_CPS": "PD-L1 CPS", "MSI": "MSI", "MMR": "mismatch repair",
                "TMB": "tumor mutational burden", "ER": "ER", "PR": "PR", "HER2": "HER2"}
MARKER_REPORT = {"HER2": "the HER2 report (IHC, and ISH if IHC 2+)",
                 "ER": "the ER/PR report", "PR": "the ER/PR report",
                 "PDL1_TPS": "the PD-L1 report (tumor proportion score)",
                 "PDL1_CPS": "the PD-L1 report (combined positive score)"}
_TOPIC_SEND = {"stage": "the stage (AJCC stage group)", "setting": "the disease setting (e.g. metastatic, adjuvant)",
               "line of therapy": "the line of therapy and prior regimens", "ecog": "the ECOG performance status",
               "number of prior lines": "the number of prior lines of therapy",
               "progression after the last dose": "the date progression was documented after the last dose",
               "response": "the response to the induction (complete or partial remission) and its date",
               "menopausal status": "the menopausal status (postmenopausal or premenopausal)",
               "transplant candidacy": "whether the patient is a candidate for autologous stem cell transplant",
               "egfr": "the eGFR (mL/min/1.73 m2) and the ECOG performance status",
               "worksheet attestation": "the program worksheet, with its yes / no attestation answered"}
_RESOURCE_ID = re.compile(r"\b(?:MedicationRequest|ServiceRequest|DeviceRequest|NutritionOrder|Coverage|Patient|"
                          r"Practitioner|PractitionerRole|Organization|Condition|Observation|Claim|item)/[\w.\-]+")
_INTERNAL_KEY = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
_RULE = re.compile(r"\s*\((?:R\d+(?:[,/ ]+R\d+)*)\)")
_OR = " — or — "
_KINDS = {k.value: k for k in DeviationKind}
_DEVIATION_CODES = frozenset(_KINDS)
MAX_REASONS = 2                  # the one or two that matter; the reviewer sees them all


@dataclass
class Finding:
    text: str
    short: str
    send: str | None = None
    rank: int = 50
    key: str = ""
    who: list[str] = field(default_factory=list)   # drugs or regimens it concerns (merged findings)


# --- small words -------------------------------------------------------------------------

def marker_words(key: str) -> str:
    return MARKER_WORDS.get(key) or key.replace("PDL1", "PD-L1").replace("_", " ")


def drug_words(key: str | None, kb) -> str:
    """A drug's name for the middle of a sentence ("trastuzumab", "ado-trastuzumab emtansine")."""
    if not key:
        return "a drug on the order"
    drug = getattr(kb, "drugs", {}).get(key) if kb is not None else None
    name = drug.name if drug is not None else key
    return name[0].lower() + name[1:] if len(name) > 1 and name[1:2].islower() else name


def join_words(items: list[str]) -> str:
    items = list(dict.fromkeys(i for i in items if i))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def sentence(text: str) -> str:
    text = " ".join(text.split()).strip(" ;:,")
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def clean(text: str, kb=None) -> str:
    """Engine words -> clinician words: no rule numbers, internal keys, resource ids or
    alternatives glued with '— or —' (the first is kept); drug keys become names."""
    t = text.split(_OR)[0]
    t = _RULE.sub("", t)
    t = _RESOURCE_ID.sub("an order", t)
    t = t.replace(">=", "≥").replace("<=", "≤")
    t = _INTERNAL_KEY.sub(lambda m: marker_words(m.group()), t)
    if kb is not None and "-" in t:
        pattern = _hyphenated_keys(kb)
        if pattern is not None:
            t = pattern.sub(lambda m: drug_words(m.group(), kb), t)
    t = re.sub(r";\s*review$", "", t.strip())
    return t


_KEY_PATTERNS: dict[int, tuple[object, re.Pattern | None]] = {}


def _hyphenated_keys(kb) -> re.Pattern | None:
    """One regex for the knowledge base's hyphenated drug keys ('ado-trastuzumab-emtansine'),
    built once per knowledge base (the hot path never rebuilds it)."""
    known = _KEY_PATTERNS.get(id(kb))
    if known is None or known[0] is not kb:
        keys = sorted((k for k in getattr(kb, "drugs", {}) if "-" in k), key=len, reverse=True)
        pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, keys)) + r")(?![\w-])") if keys else None
        known = _KEY_PATTERNS[id(kb)] = (kb, pattern)
    return known[1]


def words(text: str, kb=None) -> str:
    return sentence(clean(text, kb))


def _need(required: str) -> str:
    """'HER2 positive' -> 'a HER2-positive result'; 'PD-L1 CPS ≥ 10' stays; setting/line in words."""
    r = clean(required).strip()
    r = r.replace("/", " or ")
    if r.startswith("after "):            # after_drugs: "after durvalumab"
        return f"{r[len('after '):]} given before (in the record's completed treatment)"
    if r.startswith("not after "):        # not_after_drugs: "not after pembrolizumab or nivolumab"
        return f"no prior {r[len('not after '):]}"
    m = re.fullmatch(r"([\w\- ]+?) positive ([≥≤] [\d.]+ ?%?)", r)
    if m:
        return f"{m.group(1)} {m.group(2)}"          # 'PD-L1 CPS ≥ 10'
    m = re.fullmatch(r"(not )?([\w\- ]+?) (positive|negative)", r)
    if m and not m.group(2).startswith(("setting", "line")):
        name = m.group(2)
        article = "no " if m.group(1) else ("an " if name[:1] in "AEFILMNORSX" and name.split()[0].isupper()
                                            or name[:1].lower() in "aeiou" else "a ")
        return f"{article}{name}-{m.group(3)} result"
    if r.startswith("given with "):
        partner = r[len("given with "):]
        return f"{'' if partner.startswith(('a ', 'an ')) else 'a '}{partner} alongside it"
    if r == "as monotherapy":
        return "no other anticancer drug alongside it (monotherapy)"
    if r.startswith("not with curative-intent"):
        return "no curative-intent chemotherapy alongside it (ESA limitation of use)"
    m = re.fullmatch(r"setting (.+)", r)
    if m:
        return f"the {m.group(1)} setting"
    m = re.fullmatch(r"line (.+)", r)
    if m:
        return f"line of therapy {m.group(1)}"
    return r


def _reported(reported: str) -> str:
    r = clean(reported).strip()
    return r[len("reported "):] if r.startswith("reported ") else r


def _verb(who: list[str], singular: str, plural: str) -> str:
    return plural if len(who) > 1 else singular


# --- parsing the engine's texts ----------------------------------------------------------

# How the engine's policy checks word what the record shows (server/engine/policy.py `_words`):
# "reported …", or a phrase of its own for partner drugs, restrictions, prior therapy, histology.
_REPORTED_OPENINGS = ("reported ", "no ", "with ", "combined", "alone", "ordered", "prior", "line ", "diagnosis",
                      "histology", "stage", "bone", "multiple", "regimen not evaluated")


def _pairs(problems: str) -> list[tuple[str, str]] | None:
    """'HER2 positive; reported HER2 negative; setting metastatic; setting not reported' ->
    [(required, reported), ...]; None when the text is not in that shape."""
    parts = [p.strip() for p in problems.split("; ") if p.strip()]
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(parts):
        if i + 1 < len(parts) and (parts[i + 1].startswith(_REPORTED_OPENINGS) or "not reported" in parts[i + 1]):
            out.append((parts[i], parts[i + 1]))
            i += 2
        elif "not reported" in parts[i] and out:
            out.append((out[-1][0], parts[i]))
            i += 1
        else:
            return None
    return out or None


def _topic_of(required: str, reported: str) -> str:
    m = re.match(r"(.+?) not reported", reported)
    if m:
        return m.group(1).strip()
    return required.split()[0] if required else "result"


def _policy_findings(reason: Reason, drug_key: str | None, kb) -> list[Finding] | None:
    m = re.match(r"^([\w\-]+) requires (.+)$", reason.text)
    if not m:
        return None
    drug = drug_words(drug_key or m.group(1), kb)
    # each alternative may end with the indication it comes from, "(indication trastuzumab-breast-her2)":
    # the reviewer's trace keeps it; a clinician does not need it
    alternatives = [_pairs(re.sub(r"\s*\(indication [\w\-]+\)\s*$", "", a)) for a in m.group(2).split(_OR)]
    if any(a is None for a in alternatives) or not alternatives:
        return None
    # The indication this patient is closest to: one whose setting and line fit, then the fewest gaps.
    # (a request for another line is not close: "after prior therapy" on a first-line order counts
    # like a line mismatch)
    pairs = min(alternatives, key=lambda a: (sum(1 for req, rep in a if req.startswith(("setting", "line", "after prior"))
                                                 and "not reported" not in rep), len(a)))
    out = []
    for required, reported in pairs:
        if "not reported" in reported:
            out.append(_missing(_topic_of(required, reported), required, drug))
        else:
            out.append(_mismatch(required, reported, drug))
    return out


def _missing(topic: str, required: str, who: str) -> Finding:
    key = topic.lower()
    words_topic = marker_words(topic) if topic.isupper() or "_" in topic else topic
    send = MARKER_REPORT.get(topic) or _TOPIC_SEND.get(key) or (
        "the dates of the prior treatment (completed medication records)"
        if key.startswith(("prior ", "date of the last")) else f"the {words_topic} result")
    return Finding(text="", short=f"{words_topic} not in the record", send=send, rank=10,
                   key=f"missing:{key}:{_need(required)}", who=[who])


def _mismatch(required: str, reported: str, who: str) -> Finding:
    first = required.split()[0] if required.split() else "test"
    if required.endswith("attested on the worksheet"):
        send = "a corrected worksheet, if its answer was wrong"
    elif first in ("setting", "line"):
        send = "the disease setting and line of therapy, if the record is wrong"
    elif first in ("given", "as", "not", "bone", "prior", "diagnosis", "histology", "stage", "the"):
        send = "the full regimen and the clinical rationale, if the record is incomplete"
    elif first == "after":
        send = "the prior treatment (completed medication records), if the record is incomplete"
    elif first == "progression":
        send = "the treatment history (last dose dates, documented progression), if the record is incomplete"
    elif first == "a" and "response" in required:
        send = "the response assessment after the induction, if the record is incomplete"
    elif first == "at":
        send = "the number of prior lines of therapy, if the record is wrong"
    else:
        send = f"a current {marker_words(first)} report if the one on record is out of date"
    return Finding(text="", short=f"{_reported(reported)} in the record", rank=5, send=send,
                   key=f"mismatch:{_need(required)}:{_reported(reported)}", who=[who])


def _render(f: Finding) -> Finding:
    """Merged findings get their sentence once every drug is known."""
    kind, _, rest = f.key.partition(":")
    who = join_words(f.who)
    if kind in ("missing", "missing-regimen"):
        topic, _, need = rest.partition(":")
        words_topic = f.short.removesuffix(" not in the record")
        f.text = sentence(f"{words_topic} is not in the record; {who} {_verb(f.who, 'needs', 'need')} {need}")
    elif kind == "mismatch":
        need, _, reported = rest.partition(":")
        f.text = sentence(f"{who} {_verb(f.who, 'requires', 'require')} {need}; the record shows {reported}")
        f.short = f"{who} {_verb(f.who, 'requires', 'require')} {need}; record shows {reported}"
    elif kind == "schedule":
        f.text = sentence(f"{who}: {f.text}" if who else f.text)
    return f


def reason_findings(reason: Reason, drug_key: str | None, kb, cancer: str) -> list[Finding]:
    code = reason.code
    if code in _KINDS:     # a deviation that pends the case, carried as a reason too: same words
        return deviation_findings(Deviation(_KINDS[code], Severity.PEND, reason.text, drug_key=drug_key), kb, cancer)
    if code in ("policy-criteria-unknown", "policy-criteria-not-met"):
        found = _policy_findings(reason, drug_key, kb)
        if found:
            return found
    drug = drug_words(drug_key, kb) if drug_key else None
    if code == "policy-not-indicated":
        return [Finding(sentence(f"{drug or 'This drug'} has no covered indication for {cancer} in the plan's "
                                 "medical policy"), f"{drug or 'drug'} not indicated for {cancer} in policy",
                        "the clinical rationale and supporting literature for this use", 15, f"not-indicated:{drug}")]
    if code == "no-medical-policy":
        return [Finding(sentence(f"{drug or 'This drug'} has no medical policy on file; a reviewer checks it "
                                 "against the literature"), f"no medical policy for {drug or 'a drug'}",
                        "the clinical rationale for this drug", 30, f"no-policy:{drug}")]
    if code == "drug-not-recognized":
        named = re.match(r"^(.+?) \(([^)]*)\) is not in the knowledge base", reason.text)
        if named and named.group(1) and not named.group(1).startswith(("MedicationRequest/", "item/")):
            what = f"{named.group(1)} ({named.group(2)})"
            return [Finding(sentence(f"{what} is not on this program's drug list yet; a clinical reviewer checks it"),
                            f"{what} is not on the program's drug list", "the drug's indication and dosing",
                            20, f"not-listed:{what}")]
        return [Finding("A drug on the order could not be identified from its code.", "a drug code was not recognized",
                        "the drug name with its NDC or HCPCS code", 20, "not-recognized")]
    coded = re.match(r"^the (diagnosis|histology) code (.+?) (?:names|decides) ", reason.text)
    if code in ("unverified-knowledge", "diagnosis-code-broader") and coded:
        # a code of the record, not a drug's policy, is what the reviewer confirms
        what = coded.group(2).replace(" [V2]", "").replace(" [M]", "")
        how = (f"names a broader condition than {cancer}" if code == "diagnosis-code-broader"
               else f"is mapped to {cancer} without a verified source")
        return [Finding(sentence(f"The {coded.group(1)} code {what} {how}, so a clinical reviewer confirms the "
                                 f"{coded.group(1)}"), f"{coded.group(1)} code {what} to confirm",
                        "the ICD-10-CM diagnosis code" if coded.group(1) == "diagnosis" else
                        "the pathology report's histology", 9, f"coded:{what}")]
    if code == "unverified-knowledge":
        return [Finding(sentence(f"The plan's policy for {drug or 'this drug'} in this use is not yet verified "
                                 "against its label, so a clinical reviewer confirms it"),
                        f"{drug or 'a drug'}: policy awaiting verification", None, 40, f"unverified:{drug}")]
    if code == "retired-code":
        named = re.search(r": (HCPCS \S+(?:, HCPCS \S+)*) names", reason.text)
        what = named.group(1) if named else "The billing code"
        return [Finding(sentence(f"{what} is no longer a current HCPCS code; a reviewer confirms the product and "
                                 "the code it is billed under"), f"{what}: retired billing code",
                        "the current HCPCS code (or NDC) of the product given", 20, f"retired:{what}")]
    if code == "supportive-only":
        prior = re.search(r"Order ID (\S+) \((on file|not found on file)\)", reason.text)
        tail = ""
        if prior:
            tail = f" (Order ID {prior.group(1)} is {'on file' if prior.group(2) == 'on file' else 'not on file'})"
        return [Finding(sentence("A supportive drug ordered on its own is reviewed against the patient's current "
                                 "regimen" + tail), "supportive drug ordered without its regimen",
                        "the current chemotherapy regimen or its Order ID", 20, "supportive-only")]
    if code == "diagnosis-not-classified":
        return [Finding("No oncology diagnosis (ICD-10-CM) came with the order.", "no oncology diagnosis on the order",
                        "the cancer diagnosis (ICD-10-CM code)", 8, "diagnosis")]
    if code == "retrospective-beyond-limit":
        return [Finding(words(reason.text), "treatment started over 2 business days before the request",
                        "why the request comes after the treatment start", 25, "retro")]
    if code == "ordering-provider-not-individual":
        return [Finding("The ordering provider must be a clinician, not a facility.", "ordering provider is a facility",
                        "the ordering clinician's name and NPI", 25, "provider")]
    if code == "duplicate-order":
        m = re.search(r"Order ID ([^)\s]+)\):\s*(.+?) with overlapping dates", reason.text)
        text = sentence(f"A request for {m.group(2)} with overlapping dates is on file (Order ID {m.group(1)})") \
            if m else words(reason.text, kb)
        return [Finding(text, "a similar request is on file",
                        "whether this order replaces or adds to the one on file", 12, "duplicate")]
    text = words(reason.text, kb)
    return [Finding(text, clean(reason.text, kb), None, 60, f"other:{text}")]


def deviation_findings(dev: Deviation, kb, cancer: str) -> list[Finding]:
    kind = dev.kind
    if kind is DeviationKind.CUSTOM_TREATMENT_PLAN:
        m = re.search(r"combination \(([^)]*)\)", dev.text)
        combo = " + ".join(drug_words(k.strip(), kb) for k in m.group(1).split(",")) if m else "This combination"
        return [Finding(sentence(f"{combo} is not a pathway regimen for {cancer} (custom treatment plan)"),
                        "not a pathway regimen (custom treatment plan)",
                        "the clinical rationale for this combination", 30, "custom")]
    if kind in (DeviationKind.MISSING_BIOMARKER, DeviationKind.MISSING_STAGE, DeviationKind.MISSING_SETTING,
                DeviationKind.MISSING_LINE, DeviationKind.MISSING_ECOG, DeviationKind.MISSING_ATTESTATION):
        m = re.match(r"^(.+?)(?: status)? required for (.+) \(([^()]*)\): (.+)$", dev.text)
        if m:
            topic, regimen, required, _reported = m.groups()
            f = _missing(topic.strip(), required, regimen)
            f.key = "missing-regimen:" + f.key.split(":", 1)[1]   # a drug's finding on the same topic wins
            return [f]
    if kind in (DeviationKind.CYCLE_LENGTH, DeviationKind.CYCLE_COUNT, DeviationKind.ADMINISTRATION_DAYS,
                DeviationKind.FREQUENCY):
        body = _without_key(dev.text, dev.drug_key)
        body = re.sub(r"\bD(\d[\d,]*)", lambda x: "day " + x.group(1).replace(",", ", "), body)
        body = re.sub(r"\b(\d+) d\b", r"\1 days", body)
        body = re.sub(r"differs? from pathway\b", "ordered; the pathway regimen has", body)
        body = body[0].lower() + body[1:] if body[1:2].islower() else body
        return [Finding(clean(body, kb), "schedule differs from the pathway regimen",
                        "the reason for the schedule change", 35, f"schedule:{dev.kind.value}:{body}",
                        who=[drug_words(dev.drug_key, kb)] if dev.drug_key else [])]
    if kind is DeviationKind.FN_RISK:
        body = _without_key(dev.text, dev.drug_key)
        drug = drug_words(dev.drug_key, kb) if dev.drug_key else "The growth factor"
        return [Finding(sentence(f"{drug}: {clean(body, kb)}"), "growth factor not indicated for this regimen's FN risk",
                        "the patient's febrile-neutropenia risk factors", 40, f"fn:{dev.drug_key}")]
    if kind is DeviationKind.BIOMARKER_MISMATCH:
        return [Finding(off_pathway_why(dev, kb) or words(dev.text, kb), "biomarker does not fit the pathway", None, 45,
                        f"bm:{dev.text}")]
    text = words(dev.text, kb)
    return [Finding(text, clean(dev.text, kb), None, 55, f"dev:{text}")]


def _without_key(text: str, key: str | None) -> str:
    """'pegfilgrastim: growth factor …' -> 'growth factor …' (the drug is named by the caller)."""
    return text[len(key) + 2:] if key and text.startswith(f"{key}: ") else text


def merge(findings: list[Finding]) -> list[Finding]:
    by_key: dict[str, Finding] = {}
    for f in findings:
        if f.key in by_key:
            known = by_key[f.key]
            known.who += [w for w in f.who if w not in known.who]
            known.rank = min(known.rank, f.rank)
        else:
            by_key[f.key] = f
    # A missing marker reported once for the drugs and once for the regimen: one finding.
    out: list[Finding] = []
    seen_topics: dict[str, Finding] = {}
    for f in sorted(by_key.values(), key=lambda f: f.key.startswith("missing-regimen:")):
        if f.key.startswith(("missing:", "missing-regimen:")):
            topic = f.key.split(":")[1]
            if topic == "worksheet attestation":
                topic = f.key.split(":", 1)[1]      # each label criterion is its own question
            if topic in seen_topics:
                continue
            seen_topics[topic] = f
        out.append(_render(f))
    return sorted(out, key=lambda f: f.rank)


def pend_findings(decision: Decision, kb, cancer: str, *, skip_codes: frozenset[str] = frozenset()) -> list[Finding]:
    """Every reason the case is pended, in clinical words, most important first, merged."""
    found: list[Finding] = []
    for d in decision.drugs:
        if d.status.value != "In Progress":
            continue
        for r in d.reasons:
            # a deviation copied onto every pended drug is read once, from the deviation
            if r.code not in skip_codes and r.code != "policy-met" and r.code not in _DEVIATION_CODES:
                found += reason_findings(r, d.drug_key, kb, cancer)
    for r in decision.pend_reasons:
        if r.code not in skip_codes and not any(r in d.reasons for d in decision.drugs):
            found += reason_findings(r, None, kb, cancer)
    for dev in decision.deviations:
        if dev.severity is Severity.PEND and dev.kind.value not in skip_codes:
            found += deviation_findings(dev, kb, cancer)
    return merge(found)


def off_pathway_why(dev: Deviation, kb=None, regimen: str | None = None) -> str | None:
    """'ER positive; pathway Triple-negative … requires ER negative' ->
    'Carboplatin + paclitaxel is on pathway for triple-negative …, which requires an ER-negative
    result; the record shows ER positive.'"""
    m = re.match(r"^(.+?); pathway (.+) requires (.+)$", dev.text)
    if not m:
        return None
    reported, pathway, required = (clean(x, kb) for x in m.groups())
    pathway = pathway[0].lower() + pathway[1:] if pathway[1:2].islower() else pathway
    return sentence(f"{regimen or 'This regimen'} is on pathway only for {pathway}, which requires "
                    f"{_need(required)}; the record shows {_reported(reported)}")


def off_pathway_regimen(decision: Decision) -> str | None:
    """The regimen named by the engine's off-pathway notice ("X is not on pathway for …")."""
    for n in decision.notices:
        if n.code == "off-pathway":
            m = re.match(r"^(.+?) is not on pathway", n.text)
            if m:
                return m.group(1)
    return decision.pathway.regimen_name if decision.pathway else None


def urgent(decision: Decision) -> bool | None:
    for step in decision.trace:
        if step.rule == "R10":
            return step.text.startswith("urgent")
    return None
