"""The one place MJML is compiled to HTML (mjml-python, the Rust MRML port)."""

from mjml import mjml2html


class MJMLError(ValueError):
    """The MJML source did not parse; the message names the template."""


def compile_mjml(source: str, name: str = "<string>") -> str:
    """HTML for an MJML document. Costs well under a millisecond for a full digest,
    so callers compile once per email kind and issue, never once per recipient."""
    try:
        return mjml2html(source, disable_comments=True)
    except ValueError as exc:
        raise MJMLError(f"{name}: {exc}") from exc
