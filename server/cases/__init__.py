"""The case application service: every door and every reviewer action goes through it."""
from server.cases.service import CaseService, KnowledgeUnavailable

__all__ = ["CaseService", "KnowledgeUnavailable"]
