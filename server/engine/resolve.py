"""Resolve what arrived as codes into the knowledge base's drugs and cancer type."""
from __future__ import annotations

from server.domain.decision import DrugStatus, Reason
from server.domain.order import Code, DrugLine, DrugRole
from server.knowledge.codesets import in_neoplasm_chapter, is_icd10cm_neoplasm
from server.knowledge.model import HCPCS, ICD10CM, NDC, RXNORM, SNOMED, CancerType, Drug, DrugCategory, Knowledge

from .context import Case, DrugWork


def resolve_drug(line: DrugLine, kb: Knowledge) -> Drug | None:
    """The drug the line's codes name; None when none is known or two different products are named."""
    drug, _ = resolve_identity(line, kb)
    return drug


def resolve_identity(line: DrugLine, kb: Knowledge) -> tuple[Drug | None, str | None]:
    """Every code is read. When they agree, that drug. When they disagree, the most specific wins:
    a formulation (liposomal irinotecan J9205, nab-paclitaxel J9264) over the shared ingredient's
    code (irinotecan, paclitaxel RxNorm). Two different products ⇒ (None, why): a true conflict."""
    named: list[tuple[Code, Drug]] = []
    for code in line.codes:
        drug = kb.drug_for(code)
        if drug is not None and all(d.key != drug.key for _, d in named):
            named.append((code, drug))
    if not named:
        return None, None
    if len(named) == 1:
        return named[0][1], None
    keys = {d.key for _, d in named}
    specific = [(c, d) for c, d in named if d.formulation_of and d.formulation_of in keys]
    if len(specific) == 1 and len(keys) == 2:
        code, drug = specific[0]
        return drug, (f"codes disagree ({', '.join(f'{_system_name(c.system)} {c.code} -> {d.key}' for c, d in named)}): "
                      f"the formulation-specific {_system_name(code.system)} {code.code} ({drug.key}) wins over the "
                      f"shared ingredient ({drug.formulation_of})")
    return None, ("codes name different products: "
                  + ", ".join(f"{_system_name(c.system)} {c.code} -> {d.key}" for c, d in named))


_TAG_KIND = {RXNORM: "rxnorm", HCPCS: "hcpcs"}


def _named_by_verified_code(line: DrugLine, drug: Drug, kb: Knowledge) -> bool:
    """One of the line's codes names the drug through a verified (V) code: an RxNorm or HCPCS code
    tagged V, or an NDC of the drug's labeler-product (the FDA NDC directory). A drug named only by
    V2 / M codes may match, but its line pends (an unverified fact never authorizes)."""
    tags = kb.code_tags.get(drug.key, {})
    retired = _retired(drug)
    for code in line.codes:
        if kb.drug_for(code) is not drug or (code.system == HCPCS and code.code.upper() in retired):
            continue
        if code.system == NDC or tags.get((_TAG_KIND.get(code.system, ""), code.code), "V") == "V":
            return True
    return False


def _retired(drug: Drug) -> dict[str, str]:
    """The drug's HCPCS codes the current CMS file no longer lists, with where they are absent."""
    return {h.code.upper(): h.retired for h in drug.hcpcs if h.retired}


def resolve_by_product_name(line: DrugLine, kb: Knowledge) -> tuple[Drug, Code] | None:
    """EHRs order RxNorm products (SCD/SBD: "trastuzumab 150 MG Injection [Herceptin]") whose
    codes the knowledge base, keyed by ingredient, does not hold: the product's RxNorm display
    names the drug. Only an RxNorm-coded display counts; free text alone stays unresolved."""
    for code in line.codes:
        if code.system == RXNORM and code.display:
            drug = kb.drug_named_in(code.display)
            if drug is not None:
                return drug, code
    return None


def role_of(line: DrugLine, drug: Drug | None) -> DrugRole:
    if line.role is not DrugRole.UNKNOWN:
        return line.role
    if drug is not None and drug.category is DrugCategory.SUPPORTIVE:
        return DrugRole.SUPPORTIVE
    return DrugRole.THERAPEUTIC


def resolve_drugs(case: Case) -> None:
    for line in case.order.drugs:
        drug, why = resolve_identity(line, case.kb)
        by_name = False
        if why is not None:
            case.trace.add("resolve", f"{line.ref}: {why}")
        if drug is None and why is None and (named := resolve_by_product_name(line, case.kb)) is not None:
            drug, code = named
            by_name = True
            case.trace.add("resolve", f"{line.ref}: RxNorm {code.code} is not in the knowledge base; "
                                      f"its product name {code.display!r} names {drug.key}")
        role = role_of(line, drug)
        if drug is None and case.order.clinical_trial_nct and role is not DrugRole.SUPPORTIVE:
            # An unknown code on a trial order is taken as the trial drug (R14).
            role = DrugRole.INVESTIGATIONAL
        work = DrugWork(line=line, drug=drug, role=role)
        case.drugs.append(work)
        if drug is None and why is not None:
            work.settle(DrugStatus.IN_PROGRESS, Reason("drug-codes-conflict", f"{line.ref}: {why}; pended for review "
                                                                             "of which product is ordered", "R3"))
        elif drug is not None and drug.managed and drug.category is not DrugCategory.SUPPORTIVE and not by_name \
                and not _named_by_verified_code(line, drug, case.kb):
            # a supportive drug rides on its own policy (R6 and its label entries), so only an
            # anticancer drug named by unverified codes alone is held here
            naming = [c for c in line.codes if case.kb.drug_for(c) is drug]
            weak = ", ".join(f"{_system_name(c.system)} {c.code}" for c in naming)
            retired = _retired(drug)
            if naming and all(c.system == HCPCS and c.code.upper() in retired for c in naming):
                where = "; ".join(sorted({retired[c.code.upper()] for c in naming}))
                work.settle(DrugStatus.IN_PROGRESS, Reason(
                    "retired-code", f"{line.ref}: {weak} names {drug.name} but is no longer a current HCPCS code "
                    f"({where}); a reviewer confirms the product and the code it is billed under", "R3"))
            else:
                work.settle(DrugStatus.IN_PROGRESS, Reason(
                    "unverified-knowledge", f"{line.ref}: {weak} names {drug.name} only through a code whose mapping "
                    "was not read in a primary source (RxNorm / the CMS HCPCS file); a reviewer confirms the product "
                    "and its billing unit", "R3"))
        codes = ", ".join(f"{_system_name(c.system)} {c.code}" for c in line.codes) or "no code"
        if drug is None:
            case.trace.add("resolve", f"{line.ref} ({codes}): not in the knowledge base; role {role.value}")
        else:
            case.trace.add("resolve", f"{line.ref} ({codes}) -> {drug.key} [{drug.category.value}, "
                                      f"{drug.benefit.value} benefit]; role {role.value}")


def resolve_cancer(case: Case) -> None:
    dx = case.order.diagnosis
    groups = case.kb.histology_of(dx.histology) or frozenset()
    case.cancer = case.kb.cancer_type_for(tuple(dx.codes) + tuple(dx.histology), groups)
    if case.cancer is not None and not case.cancer.fits_histology(groups):
        ct = case.cancer
        other = sorted(groups & set(ct.histology_excludes))
        why = f"the histology is {', '.join(other)}" if other else \
            f"the histology is not {', '.join(ct.histology)}"
        case.trace.add("resolve", f"diagnosis codes name {ct.key}, but {why}: "
                                  f"not {ct.name}; no cancer type in the knowledge base")
        case.cancer = None
        return
    if case.cancer is not None:
        case.trace.add("resolve", f"cancer type {case.cancer.key} ({case.cancer.name})")
        _unverified_snomed(case, groups)
        _unverified_histology(case, groups)
        unknown = [c.code for c in dx.codes if c.system == ICD10CM and c.code and in_neoplasm_chapter(c.code)
                   and not is_icd10cm_neoplasm(c.code)]
        if unknown:
            # a code the CMS code set does not hold (a typo, a retired or invented code) is not
            # evidence of the diagnosis: the case matches by its family but a clinician confirms it
            case.pend(Reason("diagnosis-code-unknown",
                             f"diagnosis code {', '.join(unknown)} is not an ICD-10-CM code (CMS tabular "
                             "list); the diagnosis is confirmed by a reviewer", "R12"))
            case.trace.add("resolve", f"{', '.join(unknown)}: not in the ICD-10-CM code set -> pended")
    else:
        shown = ", ".join(c.code for c in dx.codes) or "none"
        case.trace.add("resolve", f"diagnosis codes {shown}: no cancer type in the knowledge base")


def _unverified_snomed(case: Case, groups: frozenset[str]) -> None:
    """A SNOMED CT diagnosis code whose cancer-type mapping was not read in a primary source (tag
    V2 / M), or whose concept is broader than the type (melanoma of any site), may name the cancer
    type, but it cannot make the request Authorized: when the other codes alone would not name the
    same type, the case pends for a clinician (R12)."""
    dx, kb = case.order.diagnosis, case.kb
    weak = [c for c in dx.codes if c.system == SNOMED and kb.snomed_tags.get(c.code, "V") != "V"]
    broad = [c for c in dx.codes if c.system == SNOMED and c not in weak and c.code in kb.snomed_broader]
    if not weak and not broad:
        return
    rest = tuple(c for c in dx.codes if c not in weak and c not in broad) + tuple(dx.histology)
    other = kb.cancer_type_for(rest, groups) if rest else None
    if other is not None and other.key == case.cancer.key:
        return
    name = case.cancer.name
    for codes, reason, how, traced in (
            (weak, "unverified-knowledge", f"names {name} through a code mapping not read in a primary source",
             "unverified mapping to"),
            (broad, "diagnosis-code-broader", f"names a broader condition than {name}", "broader than")):
        if codes:
            shown = ", ".join(f"SNOMED {c.code}" + (f" [{kb.snomed_tags[c.code]}]" if c in weak else "")
                              for c in codes)
            case.pend(Reason(reason, f"the diagnosis code {shown} {how}; a clinician confirms the diagnosis", "R12"))
            case.trace.add("resolve", f"{shown}: {traced} {case.cancer.key} -> pended")


def _unverified_histology(case: Case, groups: frozenset[str]) -> None:
    """The cancer type a histology group decided (small cell under C34) through a morphology code
    not read in a primary source: it pends unless the verified codes alone decide the same type."""
    dx, kb = case.order.diagnosis, case.kb
    verified = kb.histology_of(dx.histology, verified_only=True) or frozenset()
    if verified == groups:
        return
    other = kb.cancer_type_for(tuple(dx.codes) + tuple(dx.histology), verified)
    if other is not None and other.key == case.cancer.key and other.fits_histology(verified):
        return
    weak = ", ".join(c.code for c in dx.histology if kb.histology_tags.get((c.system, c.code), "V") != "V")
    case.pend(Reason("unverified-knowledge",
                     f"the histology code {weak} decides {case.cancer.name} through a morphology code not read in "
                     "a primary source; a clinician confirms the histology", "R12"))
    case.trace.add("resolve", f"histology {weak}: unverified mapping decides {case.cancer.key} -> pended")


def is_oncology(codes: tuple[Code, ...], cancer: CancerType | None) -> bool | None:
    """Neoplasm chapter of ICD-10-CM (C00–D49), or a cancer type the knowledge base knows.

    None when it cannot be told: no diagnosis at all, or only codes (e.g. SNOMED) outside
    the knowledge base. Unknown pends; it is not read as "not oncology".
    """
    if cancer is not None:
        return True
    icd = [c.code.upper() for c in codes if c.system == ICD10CM and c.code]
    for head in icd:
        if head[0] == "C":
            return True
        if head[0] == "D" and head[1:3].isdigit() and int(head[1:3]) <= 49:
            return True
    return False if icd else None


_SYSTEM_NAMES = {
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "HCPCS",
    "http://hl7.org/fhir/sid/ndc": "NDC",
}


def _system_name(system: str) -> str:
    return _SYSTEM_NAMES.get(system, system)
