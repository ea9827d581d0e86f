"""``Accept-Language``: the receipt lines in Chinese for a client that prefers it (SPEC §9)."""

from __future__ import annotations

from services.settlement.engine.receipt import Language


def language_of(header: str | None) -> Language:
    """``zh`` when the most preferred language the header names is Chinese (``zh``,
    ``zh-CN`` …), else ``en`` — the HIS API's historical answer."""
    best: tuple[float, Language] | None = None
    for part in (header or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("zh", "en"):
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0 and (best is None or weight > best[0]):
            best = (weight, "zh" if primary == "zh" else "en")
    return best[1] if best else "en"
