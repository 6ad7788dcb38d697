"""SAP's column headings for every field rotomail reads, with where each one was found.

SAP prints a field under one of the labels of its data element: short (10 characters), medium
(20), long (40) or the column heading, in the logon language. The same text heads the column in
every export form of a list (unconverted ``|``-framed list, spreadsheet/ALV, HTML ``.xls``,
UTF-16 "text with tabs"), so one table serves them all; only the framing differs, and
:mod:`rotomail.inputs.tabular` removes it. Headings are matched after
:func:`~rotomail.inputs.tabular.normalize_header` (case, accents, dots, ``Nº``/``No.``).

What this table does not know is the job of the user's column map (``--column
vencimiento="Venc.neto"`` or ``[import.ledger]`` in config.toml), never of a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from rotomail.config import IMPORT_FIELDS

# Where a label was seen. Public sources only; a label without one is not in the table.
SOURCES: dict[str, str] = {
    "ref": "/work/shared/reference/sap-exports.md (FBL5N and KNA1/KNB1/ADR6 headers)",
    "cds-es": "SAP OData metadata of I_AccountReceivable in Spanish (@Common.Label = medium, "
    "@Common.Heading = column heading), found in public code",
    "fbl-en": "public code reading English FBL1N/FBL3N/FBL5N exports (ALV to Excel, "
    "UTF-16LE text with tabs): DocumentNo, Doc. Date, Net due dt, Amount in DC, Crcy, LCurr…",
    "fbl-es": "public code reading Spanish FBL5N account statements (ALV to Excel): "
    "No. Doc., Clase doc., Venc.neto, Importe en MD, Mon.",
    "fbl-pt": "public code reading Portuguese FBL1N/FBL5N/FAGLL03 exports (unconverted list, "
    "Excel): Empresa, Nº documento, Data doc., Vencim.em, VencLíquid, Mont.em MI, MoedI…",
    "issue": "issue 11 and its brief: SAP's short headings Venc.neto, Cl.doc./Cl, Mon.doc.",
    "prior": "rotomail's alias table before issue 11 (kept: files that imported keep importing)",
    "ddic": "SAP data element / field labels as published by SAP table browsers "
    "(BKPF, BSEG, RFOPS, KNA1): BUKRS Company Code, BLART Document Type, WRBTR, DMBTR…",
    "issue21": "issue 21: SAP's clearing labels Doc.comp., Fe.compens., Clrng doc.",
    "issue22": "issue 22: the accounting clerk of the customer master (KNB1-BUSAB): "
    "Encargado, Encargado contab., Accounting clerk, Ejecutivo",
    "issue21-copies": "issue 21 (invoice copies): SAP's assignment field (BSEG-ZUONR), "
    "Asignación / Assignment, where a CFDI's folio or UUID often sits",
    "issue21-disputes": "issue 21 (disputed items): SAP's per-item dunning block "
    "(BSEG-MANSP): Bloqueo reclamación, Bloq.recl., Dunning block",
    "tech": "SAP's technical field name, the heading of SE16/SQVI and many ALV downloads",
}


@dataclass(frozen=True)
class Label:
    table: str  # "ledger" | "customers"
    field: str  # rotomail's field name (see rotomail.config.IMPORT_FIELDS)
    text: str  # the heading as SAP prints it
    language: str  # "es" | "en" | "pt" | "" (technical name, any language)
    length: str  # "short" | "medium" | "long" | "heading" | "technical"
    source: str  # key of SOURCES


def _rows(table: str, field: str, language: str, source: str, **texts: str) -> list[Label]:
    return [Label(table, field, text, language, length, source) for length, text in texts.items()]


_L, _C = "ledger", "customers"

LABELS: tuple[Label, ...] = tuple(
    # ------------------------------------------------------------------ ledger (FBL5N)
    _rows(_L, "sociedad", "es", "cds-es", medium="Sociedad", heading="Soc.")
    + _rows(_L, "sociedad", "en", "ddic", long="Company Code", short="CoCd")
    + _rows(_L, "sociedad", "pt", "fbl-pt", medium="Empresa")
    + _rows(_L, "sociedad", "", "tech", technical="BUKRS")
    + _rows(_L, "cliente", "es", "cds-es", medium="Cliente")
    + _rows(_L, "cliente", "es", "ref", short="Cuenta", long="Deudor")
    + _rows(_L, "cliente", "en", "fbl-en", medium="Customer", short="Account")
    + _rows(_L, "cliente", "pt", "fbl-pt", medium="Cliente")
    + _rows(_L, "cliente", "", "tech", technical="KUNNR")
    + _rows(_L, "documento", "es", "cds-es", medium="Nº documento", heading="Nº doc.")
    + _rows(_L, "documento", "es", "fbl-es", short="No. Doc.")
    + _rows(_L, "documento", "es", "prior", long="Documento")
    + _rows(_L, "documento", "en", "fbl-en", short="DocumentNo")
    + _rows(_L, "documento", "en", "ref", medium="Document Number")
    + _rows(_L, "documento", "en", "prior", heading="Document No.")
    + _rows(_L, "documento", "pt", "fbl-pt", medium="Nº documento", short="Doc.Cont")
    + _rows(_L, "documento", "", "tech", technical="BELNR")
    + _rows(_L, "tipo", "es", "fbl-es", short="Clase doc.")
    + _rows(_L, "tipo", "es", "ref", long="Clase de documento", heading="Clase")
    + _rows(_L, "tipo", "es", "issue", short="Cl.doc.", heading="Cl")
    + _rows(_L, "tipo", "en", "fbl-en", medium="Document Type", heading="Type")
    + _rows(_L, "tipo", "pt", "fbl-pt", heading="Tipo", short="Tp.Doc")
    + _rows(_L, "tipo", "", "tech", technical="BLART")
    + _rows(_L, "referencia", "es", "ref", medium="Referencia")
    + _rows(_L, "referencia", "en", "fbl-en", medium="Reference")
    + _rows(_L, "referencia", "pt", "fbl-pt", medium="Referência")
    + _rows(_L, "referencia", "", "tech", technical="XBLNR")
    + _rows(_L, "fecha_documento", "es", "ref", long="Fecha de documento", short="Fecha doc.")
    + _rows(_L, "fecha_documento", "en", "fbl-en", medium="Document Date", short="Doc. Date")
    + _rows(_L, "fecha_documento", "pt", "fbl-pt", short="Data doc.", medium="Dat.Doc")
    + _rows(_L, "fecha_documento", "", "tech", technical="BLDAT")
    + _rows(_L, "fecha_base", "es", "ref", medium="Base p.plazo pago")
    + _rows(_L, "fecha_base", "es", "prior", short="Fecha base")
    + _rows(_L, "fecha_base", "en", "ref", medium="Baseline Date")
    + _rows(_L, "fecha_base", "", "tech", technical="ZFBDT")
    + _rows(_L, "vencimiento", "es", "cds-es", medium="Vencimiento neto", heading="Venc.neto")
    + _rows(_L, "vencimiento", "es", "prior", short="Vencimiento")
    + _rows(_L, "vencimiento", "en", "fbl-en", medium="Net due date", short="Net Due Dt")
    + _rows(_L, "vencimiento", "en", "prior", long="Due date")
    + _rows(_L, "vencimiento", "pt", "fbl-pt", short="VencLíquid", heading="Vencim.em")
    + _rows(_L, "vencimiento", "pt", "fbl-pt", long="Vencimento")
    + _rows(_L, "vencimiento", "", "tech", technical="FAEDT")
    + _rows(_L, "importe_md", "es", "ref", long="Importe en moneda doc.", short="Importe en MD")
    + _rows(_L, "importe_md", "es", "cds-es", medium="Importe en moneda de transacción")
    + _rows(_L, "importe_md", "es", "prior", heading="Importe")
    + _rows(_L, "importe_md", "en", "fbl-en", medium="Amount in doc. curr.", short="Amount in DC")
    + _rows(_L, "importe_md", "en", "prior", heading="Amount")
    + _rows(_L, "importe_md", "", "tech", technical="WRBTR")
    + _rows(_L, "moneda_md", "es", "ref", long="Moneda del documento", heading="Mon.")
    + _rows(_L, "moneda_md", "es", "cds-es", medium="Moneda transacción")
    + _rows(_L, "moneda_md", "es", "issue", short="Mon.doc.")
    + _rows(_L, "moneda_md", "es", "prior", long="Moneda")
    + _rows(_L, "moneda_md", "en", "fbl-en", medium="Document currency", short="Curr.")
    + _rows(_L, "moneda_md", "en", "fbl-en", heading="Crcy")
    + _rows(_L, "moneda_md", "pt", "fbl-pt", short="Moeda")
    + _rows(_L, "moneda_md", "", "tech", technical="WAERS")
    + _rows(_L, "importe_ml", "es", "ref", long="Importe en moneda local", short="Importe en ML")
    + _rows(_L, "importe_ml", "es", "cds-es", medium="Impte.moneda socied.")
    + _rows(_L, "importe_ml", "en", "fbl-en", long="Amount in local currency")
    + _rows(_L, "importe_ml", "en", "fbl-en", short="Amt in loc.cur.", heading="Local Crcy Amt")
    + _rows(_L, "importe_ml", "en", "fbl-en", medium="Amount in LC")
    + _rows(_L, "importe_ml", "pt", "fbl-pt", medium="Montante em MI", short="Mont.em MI")
    + _rows(_L, "importe_ml", "", "tech", technical="DMBTR")
    + _rows(_L, "moneda_ml", "es", "ref", medium="Moneda local", heading="ML")
    + _rows(_L, "moneda_ml", "es", "cds-es", long="Moneda sociedad")
    + _rows(_L, "moneda_ml", "en", "fbl-en", medium="Local Currency", short="LCurr")
    + _rows(_L, "moneda_ml", "en", "fbl-en", heading="LCu")
    + _rows(_L, "moneda_ml", "pt", "fbl-pt", medium="Moeda interna", short="MoedI")
    + _rows(_L, "moneda_ml", "", "tech", technical="HWAER")
    + _rows(_L, "texto", "es", "ref", medium="Texto")
    + _rows(_L, "texto", "es", "cds-es", long="Texto de posición", heading="Texto partida")
    + _rows(_L, "texto", "en", "fbl-en", medium="Text")
    + _rows(_L, "texto", "pt", "fbl-pt", medium="Texto")
    + _rows(_L, "texto", "", "tech", technical="SGTXT")
    + _rows(_L, "doc_compensacion", "es", "ref", medium="Doc.compensación")
    + _rows(_L, "doc_compensacion", "es", "issue21", short="Doc.comp.")
    + _rows(_L, "doc_compensacion", "en", "ref", medium="Clearing Document")
    + _rows(_L, "doc_compensacion", "en", "issue21", short="Clrng doc.")
    + _rows(_L, "doc_compensacion", "", "tech", technical="AUGBL")
    + _rows(_L, "fecha_compensacion", "es", "ref", medium="Fecha compensación")
    + _rows(_L, "fecha_compensacion", "es", "issue21", short="Fe.compens.")
    + _rows(_L, "fecha_compensacion", "en", "ref", medium="Clearing date")
    + _rows(_L, "fecha_compensacion", "", "tech", technical="AUGDT")
    + _rows(_L, "asignacion", "es", "issue21-copies", medium="Asignación")
    + _rows(_L, "asignacion", "en", "issue21-copies", medium="Assignment")
    + _rows(_L, "asignacion", "", "tech", technical="ZUONR")
    + _rows(_L, "bloqueo", "es", "issue21-disputes", medium="Bloqueo reclamación")
    + _rows(_L, "bloqueo", "es", "issue21-disputes", short="Bloq.recl.")
    + _rows(_L, "bloqueo", "en", "issue21-disputes", medium="Dunning block")
    + _rows(_L, "bloqueo", "", "tech", technical="MANSP")
    # ----------------------------------------------------- customer master (KNA1/KNB1)
    + _rows(_C, "sociedad", "es", "ref", medium="Sociedad")
    + _rows(_C, "sociedad", "es", "cds-es", heading="Soc.")
    + _rows(_C, "sociedad", "en", "ref", long="Company Code")
    + _rows(_C, "sociedad", "en", "ddic", short="CoCd")
    + _rows(_C, "sociedad", "pt", "fbl-pt", medium="Empresa")
    + _rows(_C, "sociedad", "", "tech", technical="BUKRS")
    + _rows(_C, "cliente", "es", "ref", medium="Cliente", short="Cuenta", long="Deudor")
    + _rows(_C, "cliente", "en", "ref", medium="Customer")
    + _rows(_C, "cliente", "pt", "fbl-pt", medium="Cliente")
    + _rows(_C, "cliente", "", "tech", technical="KUNNR")
    + _rows(_C, "nombre", "es", "ref", short="Nombre", medium="Nombre 1")
    + _rows(_C, "nombre", "es", "cds-es", long="Nombre del cliente")
    + _rows(_C, "nombre", "en", "ref", short="Name", medium="Name 1")
    + _rows(_C, "nombre", "pt", "fbl-pt", medium="Nome 1")
    + _rows(_C, "nombre", "", "tech", technical="NAME1")
    + _rows(_C, "nombre2", "es", "prior", medium="Nombre 2")
    + _rows(_C, "nombre2", "en", "prior", medium="Name 2")
    + _rows(_C, "nombre2", "", "tech", technical="NAME2")
    + _rows(_C, "rfc", "es", "ref", short="RFC", long="NIF", medium="Nº ident. fis. 1")
    + _rows(_C, "rfc", "en", "ref", medium="Tax Number 1")
    + _rows(_C, "rfc", "", "tech", technical="STCD1")
    + _rows(_C, "correo", "es", "ref", short="Correo", medium="Correo electrónico")
    + _rows(_C, "correo", "en", "ref", medium="E-Mail Address")
    + _rows(_C, "correo", "", "tech", technical="SMTP_ADDR")
    + _rows(_C, "idioma", "es", "ref", short="Idioma", medium="Clave de idioma")
    + _rows(_C, "idioma", "en", "ref", short="Language")
    + _rows(_C, "idioma", "", "tech", technical="SPRAS")
    + _rows(_C, "ejecutivo", "es", "issue22", short="Encargado", medium="Encargado contab.")
    + _rows(_C, "ejecutivo", "es", "issue22", heading="Ejecutivo")
    + _rows(_C, "ejecutivo", "en", "issue22", medium="Accounting clerk")
    + _rows(_C, "ejecutivo", "", "tech", technical="BUSAB")
)


def aliases(table: str) -> dict[str, tuple[str, ...]]:
    """field -> its headings, in table order, for :func:`~rotomail.inputs.tabular.find_header`."""
    result: dict[str, list[str]] = {}
    for label in LABELS:
        if label.table == table:
            result.setdefault(label.field, []).append(label.text)
    return {field: tuple(texts) for field, texts in result.items()}


def fields(table: str) -> tuple[str, ...]:
    """The fields a user may map for ``table`` (``ledger`` or ``customers``)."""
    return IMPORT_FIELDS[table]
