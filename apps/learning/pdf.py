"""Certificate PDFs through WeasyPrint, which needs Pango from the system (Debian:
libpango-1.0-0, libpangoft2-1.0-0). Without it the site still runs: the download says why
instead of failing."""


class PdfUnavailable(Exception):
    """WeasyPrint cannot load here; the message says what to install."""


def pdf_render(html: str) -> bytes:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PdfUnavailable(
            "Certificates cannot be made into PDF on this server: WeasyPrint could not load "
            f"({first}). Install it with its system libraries (Debian: apt-get install "
            "libpango-1.0-0 libpangoft2-1.0-0), as the README's “Certificates” section says."
        ) from None
    return HTML(string=html).write_pdf()
