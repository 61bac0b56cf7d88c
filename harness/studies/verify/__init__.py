"""`dbarena verify`: do the engines give the same answers to the same calls on the same data?

`study.py` loads one seeded dataset into each engine and runs the same calls; `normal.py`
makes the answers comparable and says when two agree (the tolerances and thresholds are
documented there).
"""

from harness.studies.verify.normal import FLOAT_ABS_TOL, FLOAT_REL_TOL, SEARCH_OVERLAP
from harness.studies.verify.study import AGREE, DIFFER, NA, Verdict, verify

__all__ = ["AGREE", "DIFFER", "FLOAT_ABS_TOL", "FLOAT_REL_TOL", "NA", "SEARCH_OVERLAP", "Verdict", "verify"]
