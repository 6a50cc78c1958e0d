"""The local mode's stand-ins: a Panther receiver that keeps the real contract, with fault injection."""

from e2p.local.faults import FaultKind, FaultPlan, FaultSpecError
from e2p.local.panther import LocalPanther
from e2p.local.tls import local_tls

__all__ = ["FaultKind", "FaultPlan", "FaultSpecError", "LocalPanther", "local_tls"]
