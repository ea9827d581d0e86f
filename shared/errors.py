"""The one refusal type: a stable ``code`` clients switch on and a readable ``message``.

Domain rules, the engine and the service layers raise subclasses of ``CodedError``; each
service's entrypoints map it to HTTP (or a CLI exit) in one place. SPEC §6: a refusal's JSON body
carries ``code`` and ``message`` at its top level.
"""

from __future__ import annotations


class CodedError(Exception):
    """A refusal with a stable ``code`` and a readable ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message

    def to_wire(self) -> dict[str, str]:
        """The refusal as SPEC §6 puts it: ``{"code": ..., "message": ...}``."""
        return {"code": self.code, "message": self.message}
