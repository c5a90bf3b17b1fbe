"""Who and what the program reviews: R12 eligibility, R9 dates, R13 providers,
R14 trial drugs, R2 pharmacy benefit, and drugs the knowledge base does not know."""
from __future__ import annotations

from datetime import date

from server.domain.decision import DrugStatus, Reason
from server.domain.order import Code, LineOfBusiness, NetworkStatus, Order, ProviderKind
from server.knowledge.model import HCPCS, NDC, RXNORM

from .context import Case
from .dates import business_days_after
from .resolve import is_oncology
from .trace import Trace

CPT = "http://www.ama-assn.org/go/cpt"
RETRO_LIMIT_BUSINESS_DAYS = 2
PBM = "pharmacy benefit manager"


def date_of_service(order: Order, trace: Trace) -> tuple[date, Reason | None]:
    """R9: the date of service is the treatment start; without one, the request date."""
    if order.treatment_start is not None:
        trace.add("R9", f"date of service {order.treatment_start.isoformat()} (treatment start)")
        return order.treatment_start, None
    day = order.received_at.date()
    trace.add("R9", f"treatment start not reported: date of service taken as the request date {day.isoformat()}")
    return day, Reason("date-of-service-not-reported",
                       "date of service not reported; taken as the request date", "R9")


def program_exclusion(case: Case) -> tuple[Reason, DrugStatus] | None:
    """R12: the member must be in the program and the diagnosis oncology; else why not."""
    order = case.order
    lob = member_line_of_business(order, case)
    if lob not in (LineOfBusiness.MEDICARE_ADVANTAGE, LineOfBusiness.UNKNOWN):
        case.trace.add("R12", f"line of business {lob.value}: member outside the program")
        return (Reason("member-not-in-program",
                       f"{_lob_words(lob)} member: Commercial/Medicaid/dual/FEP members are outside this "
                       "program; contact the health plan", "R12"),
                DrugStatus.REFER_TO_HEALTH_PLAN)
    if lob is LineOfBusiness.UNKNOWN:
        case.notice(Reason("eligibility-not-confirmed",
                           "eligibility not confirmed: line of business unknown; evaluated as a program member",
                           "R12"))
        case.trace.add("R12", "line of business unknown: evaluated as in program (eligibility not confirmed)")
    else:
        case.trace.add("R12", "Medicare Advantage member: in program")
    oncology = is_oncology(order.diagnosis.codes, case.cancer)
    if oncology is False:
        case.trace.add("R12", "no oncology diagnosis (ICD-10-CM C00–D49): not managed by the program")
        return (Reason("diagnosis-not-oncology",
                       "diagnosis is not oncology: only oncology diagnoses are managed by this program", "R12"),
                DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED)
    if oncology is None and order.drugs and all(w.drug is None for w in case.drugs):
        case.trace.add("R12", "no oncology diagnosis and no oncology drug on the request: not managed")
        return (Reason("not-oncology-drug-request",
                       "no oncology diagnosis and no oncology drug on the request: not managed by this program; "
                       "the health plan's own rules apply", "R12"),
                DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED)
    if oncology is None and order.drugs:
        case.pend(Reason("diagnosis-not-classified",
                         "diagnosis not reported or not recognized: an ICD-10-CM oncology diagnosis is needed "
                         "to review the regimen", "R12"))
        case.trace.add("R12", "diagnosis not reported or not recognized: evaluated as in program, pended")
    if not order.drugs:
        case.trace.add("R12", "no drug orders: nothing to review")
        return Reason("no-drug-orders", "no drug orders in the request: nothing to review", "R12"), \
            DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED
    if oncology:
        case.trace.add("R12", "oncology diagnosis: managed by the program")
    return None


def member_line_of_business(order: Order, case: Case) -> LineOfBusiness:
    """R12 reads every Coverage of the member: Medicare Advantage together with Medicaid is a
    dual-eligible member (outside the program), whichever Coverage the request named."""
    lobs = set(order.member.coverages) | {order.member.line_of_business}
    if LineOfBusiness.DUAL_ELIGIBLE in lobs or {LineOfBusiness.MEDICARE_ADVANTAGE, LineOfBusiness.MEDICAID} <= lobs:
        if order.member.line_of_business is not LineOfBusiness.DUAL_ELIGIBLE:
            case.trace.add("R12", "coverages on file: " + ", ".join(sorted(l.value for l in lobs))
                                  + ": Medicare Advantage with Medicaid is dual-eligible")
        return LineOfBusiness.DUAL_ELIGIBLE
    return order.member.line_of_business


def retrospective_check(case: Case) -> None:
    """R9: a start before the request date is accepted up to 2 business days back."""
    received = case.order.received_at.date()
    start = case.date_of_service
    if case.order.treatment_start is None or start >= received:
        return
    late = business_days_after(start, received)
    if late <= RETRO_LIMIT_BUSINESS_DAYS:
        case.notice(Reason("retrospective-request",
                           f"retrospective request: treatment started {start.isoformat()}, {late} business "
                           "day(s) before the request (accepted up to 2)", "R9"))
        case.trace.add("R9", f"retrospective by {late} business day(s): accepted")
    else:
        case.pend(Reason("retrospective-beyond-limit",
                         f"retrospective request beyond 2 business days after treatment start "
                         f"({late} business days since {start.isoformat()})", "R9"))
        case.trace.add("R9", f"retrospective by {late} business days: beyond the limit, pended")


def provider_checks(case: Case) -> None:
    """R13: the ordering provider must be an individual clinician; out of network ⇒ no S-codes."""
    prov = case.order.ordering_provider
    if prov.kind is ProviderKind.ORGANIZATION:
        case.pend(Reason("ordering-provider-not-individual",
                         "ordering provider must be an individual clinician, not a facility", "R13"))
        case.trace.add("R13", "ordering provider is an organization: pended")
    else:
        case.trace.add("R13", f"ordering provider kind {prov.kind.value}")
    if prov.network_status is NetworkStatus.OUT_OF_NETWORK:
        case.notice(Reason("out-of-network",
                           "ordering provider is out of network: benefits may not apply or may be paid at a "
                           "lower rate; not eligible for S-codes", "R13"))
        case.trace.add("R13", "ordering provider out of network: no S-codes")


def trial_drugs(case: Case) -> None:
    """R14: investigational drugs are recorded, not reviewed; the rest of the regimen is."""
    nct = case.order.clinical_trial_nct
    if nct:
        case.trace.add("R14", f"clinical trial participation recorded: {nct}")
    for w in case.drugs:
        if not w.investigational:
            continue
        where = f"in trial {nct}" if nct else "(trial not identified)"
        w.settle(DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED,
                 Reason("investigational-not-reviewed", f"investigational drug {where}: not reviewed", "R14"))
        case.trace.add("R14", f"{w.line.ref} {w.display}: investigational {where}, excluded from review and matching")


def pharmacy_benefit(case: Case) -> None:
    """R2: oral / pharmacy-benefit drugs go to the PBM; they still count for the regimen (R1)."""
    for w in case.drugs:
        if w.drug is None or w.investigational or (w.drug.managed and not w.oral):
            continue
        contact = w.drug.contact or PBM
        form = " ordered as an oral form" if w.drug.managed else ""
        w.settle(DrugStatus.OTHER_IMPACT,
                 Reason("pharmacy-benefit",
                        f"{w.drug.name}{form} is covered under the pharmacy benefit: not reviewed by this program; "
                        f"contact: {contact}", "R2"),
                 contact=contact)
        case.trace.add("R2", f"{w.drug.key}{form}: pharmacy benefit -> Other Impact ({contact})")


def non_drug_services(case: Case) -> None:
    """A procedure (CPT) on the request is not an oncology drug: the program does not review it."""
    for w in case.drugs:
        if w.drug is not None or w.investigational or w.status is not None:
            continue
        cpt = next((c for c in w.line.codes if _is_cpt(c)), None)
        if cpt is None or any(c.system in (RXNORM, NDC) for c in w.line.codes):
            continue
        w.settle(DrugStatus.CLINICAL_REVIEW_NOT_REQUIRED,
                 Reason("not-a-drug", f"CPT {cpt.code} is a procedure, not a drug: outside this oncology drug "
                                      "program; the health plan's own rules apply", "R2"))
        case.trace.add("R2", f"{w.line.ref}: CPT {cpt.code} is not a drug: not reviewed by the program")


def _is_cpt(code: Code) -> bool:
    """CPT codes: five digits, or four digits and F/T/U; sometimes sent under the HCPCS system."""
    if code.system == CPT:
        return True
    value = code.code.strip().upper()
    return code.system == HCPCS and len(value) == 5 and value[:4].isdigit() and (value[4].isdigit() or
                                                                                 value[4] in "FTU")


def unknown_drugs(case: Case) -> None:
    """A drug the knowledge base does not know, on an oncology request, is pended, never guessed and
    never waved through as "no prior authorization needed" (unless it is clearly oral: the PBM's)."""
    for w in case.drugs:
        if w.drug is None and not w.investigational and w.status is None:
            codes = ", ".join(c.code for c in w.line.codes) or "no code"
            if w.oral:
                w.settle(DrugStatus.OTHER_IMPACT,
                         Reason("pharmacy-benefit", f"{w.display} ({codes}) is ordered as an oral form: not in the "
                                                    f"knowledge base; pharmacy benefit, contact: {PBM}", "R2"),
                         contact=PBM)
                case.trace.add("R2", f"{w.line.ref}: not in the knowledge base, oral form -> Other Impact ({PBM})")
                continue
            w.settle(DrugStatus.IN_PROGRESS,
                     Reason("drug-not-recognized",
                            f"{w.display} ({codes}) is not in the knowledge base: ordered for an oncology diagnosis "
                            "and not an oral form, so it is pended for clinical review", "R3"))
            case.trace.add("R3", f"{w.line.ref} ({codes}): not in the knowledge base -> pended")


def _lob_words(lob: LineOfBusiness) -> str:
    return {
        LineOfBusiness.COMMERCIAL_HMO: "Commercial HMO/POS",
        LineOfBusiness.COMMERCIAL_PPO: "Commercial PPO/EPO",
        LineOfBusiness.MEDICAID: "Medicaid",
        LineOfBusiness.DUAL_ELIGIBLE: "Dual-eligible",
        LineOfBusiness.FEP: "Federal Employee Plan",
    }.get(lob, lob.value)
