"""Official code sets the engine checks request codes against.

ICD-10-CM chapter 2 (Neoplasms, C00-D49) comes from the CMS tabular list as shipped by
simple-icd-10-cm, extracted to data/codes/icd10cm-neoplasms.txt by
scripts/gen_icd10cm_neoplasms.py (importing the package parses the whole list: seconds per
worker; the file is 2k lines). tests/test_icd10_codes.py checks the file against the package."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

NEOPLASMS_FILE = Path(__file__).resolve().parent / "data" / "codes" / "icd10cm-neoplasms.txt"


@lru_cache(maxsize=1)
def icd10cm_neoplasm_codes() -> frozenset[str]:
    lines = NEOPLASMS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def in_neoplasm_chapter(code: str) -> bool:
    """C00-D49 by its form (the chapter), whether or not the code exists."""
    code = code.upper()
    return code[:1] == "C" or (code[:1] == "D" and code[1:3].isdigit() and int(code[1:3]) <= 49)


def is_icd10cm_neoplasm(code: str) -> bool:
    return code.upper() in icd10cm_neoplasm_codes()
